//! X-Ray subsegments of the table's SDK calls, when the function runs with active tracing.
//!
//! Lambda records a segment per invocation; what happens inside it is only
//! seen if the function reports subsegments to the X-Ray daemon Lambda runs
//! beside it (UDP, `AWS_XRAY_DAEMON_ADDRESS`). The AWS SDK for Rust does not
//! report them itself, so the table's client carries [`XrayInterceptor`]:
//! every attempt of every DynamoDB call becomes a subsegment of the
//! invocation's trace (`_X_AMZN_TRACE_ID`, which `lambda_runtime` sets per
//! invocation), named `DynamoDB`, namespace `aws`, with the operation, the
//! HTTP status and the AWS request id. Nothing is sent when the invocation
//! is not sampled (`Sampled=0`) or outside Lambda (no daemon address).
//! Sending is a non-blocking UDP datagram (the daemon's protocol): it cannot
//! slow or fail a call.

use std::sync::Mutex;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_types::request_id::RequestId;
use xray_lite::{AwsNamespace, Context, DaemonClient, SubsegmentContext, SubsegmentSession};

/// The variable Lambda sets when the function has active tracing.
pub const DAEMON_ADDRESS_VAR: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// The variable `lambda_runtime` sets to the current invocation's trace header.
pub const TRACE_HEADER_VAR: &str = "_X_AMZN_TRACE_ID";

/// Reports each attempt of the client's calls as an X-Ray subsegment.
#[derive(Debug)]
pub struct XrayInterceptor {
    daemon: DaemonClient,
}

/// The subsegment of the attempt in flight, kept in the attempt's config
/// bag so concurrent calls on one client never mix theirs up.
#[derive(Debug)]
struct Attempt(Mutex<Option<SubsegmentSession<DaemonClient, AwsNamespace>>>);

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
}

impl XrayInterceptor {
    /// The interceptor when this process runs with active tracing (the
    /// daemon's address is set), else `None`.
    pub fn from_env() -> Option<Self> {
        std::env::var(DAEMON_ADDRESS_VAR).ok()?;
        match DaemonClient::from_lambda_env() {
            Ok(daemon) => Some(Self { daemon }),
            Err(e) => {
                tracing::warn!(error = %e, "X-Ray daemon address unusable; no subsegments");
                None
            }
        }
    }
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let sampled = std::env::var(TRACE_HEADER_VAR).is_ok_and(|h| !h.contains("Sampled=0"));
        if !sampled {
            return Ok(());
        }
        let Ok(trace) = SubsegmentContext::from_lambda_env(self.daemon.clone()) else {
            return Ok(());
        };
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_string();
        // X-Ray's service map knows AWS services by these names.
        let session = trace.enter_subsegment(AwsNamespace::new("DynamoDB", operation));
        cfg.interceptor_state()
            .store_put(Attempt(Mutex::new(Some(session))));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(attempt) = cfg.load::<Attempt>() else {
            return Ok(());
        };
        let taken = attempt.0.lock().ok().and_then(|mut s| s.take());
        if let Some(mut session) = taken {
            if let (Some(namespace), Some(response)) = (session.namespace_mut(), context.response())
            {
                namespace.response_status(response.status().as_u16());
                if let Some(id) = response.request_id() {
                    namespace.request_id(id);
                }
            }
            // Dropping the session sends the finished subsegment.
            drop(session);
        }
        Ok(())
    }
}
