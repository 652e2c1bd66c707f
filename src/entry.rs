//! Where a Lambda event becomes an HTTP request, before any handler runs.
//!
//! `lambda_http::run` turns the event into an `http::Request` with
//! `expect("failed to build request")`: an event whose `rawQueryString` holds
//! characters a URI cannot, whose `host` header is not a host, or whose body
//! claims `isBase64Encoded` but is not base64 panics there, and the caller
//! gets a Lambda-level error instead of an HTTP answer. API Gateway itself
//! never sends such events, but `sam local invoke`, a direct `Invoke` and
//! any other event source can. [`serve`] runs the same conversion (through
//! `lambda_http`'s own adapter, so well-formed events are handled exactly as
//! `lambda_http::run` would) but catches that panic, and answers an event
//! that is no API Gateway event at all, with the API's JSON 400.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

// The 400 below catches a panic: a build that aborts on panic (cargo lambda
// makes release builds so unless the manifest says otherwise) would answer
// such an event with a Runtime.ExitError instead. Refuse to build it.
#[cfg(not(panic = "unwind"))]
compile_error!(
    "the functions must be built with panic = \"unwind\" (see [profile.release] in Cargo.toml): src/entry.rs catches lambda_http's panics"
);
use std::time::Instant;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, Request, Response, Service, service_fn};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::{RequestCtx, respond_error};

/// What an HTTP function answers: the proxy response `lambda_http` built
/// from the handler's, or the 400 of an event that is no HTTP request.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer<R> {
    /// The handler's response, as API Gateway expects it.
    Handled(R),
    /// The 400 of an unreadable event (see [`serve`]).
    Unreadable(Value),
}

/// Handles one invocation of an HTTP function: `event` is the payload
/// Lambda delivered, unparsed; the answer serializes to the proxy response
/// API Gateway expects (`statusCode`, `headers`, `body`, …; the same shape
/// for REST 1.0 and HTTP 2.0 payloads). The payload is parsed once, straight
/// into `lambda_http`'s event types, and the response is handed back as
/// `lambda_http` built it: no intermediate JSON trees on the hot path. An
/// event that cannot be read as an HTTP request is a 400 with the API's
/// error body; nothing else changes.
pub async fn serve<H, Fut>(
    handler: H,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Answer<impl Serialize + Send>, Error>
where
    H: FnMut(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send,
{
    let started = Instant::now();
    let LambdaEvent { payload, context } = event;
    let request = match serde_json::from_str::<LambdaRequest>(payload.get()) {
        Ok(request) => request,
        Err(e) => {
            tracing::info!(error = %e, "the event is no API Gateway HTTP event");
            let ctx = RequestCtx::new(started, Some(&context.request_id));
            return Ok(Answer::Unreadable(bad_event(
                &ctx,
                "the event is not an API Gateway HTTP event",
            )));
        }
    };
    crate::telemetry::record_correlation_id(
        correlation_id(&request).unwrap_or(&context.request_id),
    );
    let request_id = context.request_id.clone();
    let mut adapter = Adapter::from(service_fn(handler));
    let call = catch_unwind(AssertUnwindSafe(|| {
        adapter.call(LambdaEvent::new(request, context))
    }));
    match call {
        Ok(response) => Ok(Answer::Handled(response.await?)),
        Err(_) => {
            tracing::info!("the event could not be turned into an HTTP request");
            let ctx = RequestCtx::new(started, Some(&request_id));
            Ok(Answer::Unreadable(bad_event(
                &ctx,
                "the event could not be read as an HTTP request (path, query string, headers or base64 body)",
            )))
        }
    }
}

/// API Gateway's id of the request (`requestContext.requestId`, the id its
/// access log and the caller's `apigw-requestid` header show): the
/// correlation id of the invocation's log lines.
fn correlation_id(request: &LambdaRequest) -> Option<&str> {
    match request {
        LambdaRequest::ApiGatewayV1(r) => r.request_context.request_id.as_deref(),
        LambdaRequest::ApiGatewayV2(r) => r.request_context.request_id.as_deref(),
        _ => None,
    }
}

/// The proxy response of a 400 for an unreadable event: the contract's
/// headers and the error body of every other 400, built by the same
/// [`crate::http::respond_error`] the handlers answer with.
fn bad_event(ctx: &RequestCtx, message: &str) -> Value {
    let response = respond_error(ctx, &ApiError::BadRequest(message.into()));
    crate::metrics::answered(400);
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), Value::from(v.to_str().ok()?))))
        .collect();
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        _ => String::new(),
    };
    serde_json::json!({
        "statusCode": 400,
        "headers": headers,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// Logs a panic as one JSON error line through `tracing` (CloudWatch reads
/// it with the request's other lines) instead of the default hook's plain
/// text on stderr. Installed by every function's `main`.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "panic");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::STATIC_HEADERS;
    use lambda_runtime::Context;

    /// A handler that echoes what it was given: it proves a well-formed
    /// event reaches the handler as the request lambda_http would build.
    async fn echo(req: Request) -> Result<Response<Body>, Error> {
        let text = format!("{} {}", req.method(), req.uri());
        Ok(Response::builder()
            .status(201)
            .header("content-type", "text/plain")
            .body(Body::from(text))?)
    }

    fn event(name: &str) -> Value {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    async fn run(payload: Value) -> Value {
        let mut context = Context::default();
        context.request_id = "req-1".into();
        let raw = RawValue::from_string(payload.to_string()).unwrap();
        let answer = serve(echo, LambdaEvent::new(raw, context)).await.unwrap();
        serde_json::to_value(answer).unwrap()
    }

    fn assert_bad_event(out: &Value) {
        assert_eq!(out["statusCode"], 400, "{out}");
        assert_eq!(out["isBase64Encoded"], false);
        let headers = out["headers"].as_object().unwrap();
        for (k, v) in STATIC_HEADERS {
            assert_eq!(headers[*k], *v, "{k}");
        }
        assert_eq!(headers["x-request-id"], "req-1");
        assert!(headers.contains_key("x-runtime"));
        assert!(!headers.contains_key("x-token"));
        let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
        assert_eq!(
            headers["content-length"],
            out["body"].as_str().unwrap().len().to_string()
        );
    }

    #[tokio::test]
    async fn well_formed_events_reach_the_handler_in_both_payload_formats() {
        let out = run(event("get-album.json")).await;
        assert_eq!(out["statusCode"], 201, "{out}");
        let body = out["body"].as_str().unwrap();
        assert!(body.starts_with("GET "), "{body}");
        assert!(body.contains("/api/v1/albums/"), "{body}");
        let out = run(event("duplicate-album-rest.json")).await;
        assert_eq!(out["statusCode"], 201, "{out}");
        assert!(out["body"].as_str().unwrap().starts_with("POST "), "{out}");
        // REST (1.0) answers carry multiValueHeaders; HTTP API (2.0) ones cookies.
        assert!(out.get("multiValueHeaders").is_some(), "{out}");
    }

    #[tokio::test]
    async fn events_that_are_no_api_gateway_event_are_a_json_400() {
        for payload in [
            serde_json::json!({}),
            serde_json::json!([1, 2]),
            serde_json::json!("text"),
            serde_json::json!({"version": "2.0", "rawPath": 7}),
            event("scheduled-duplicate.json"),
        ] {
            assert_bad_event(&run(payload).await);
        }
    }

    #[tokio::test]
    async fn events_lambda_http_cannot_turn_into_a_request_are_a_json_400_not_a_panic() {
        let mut bad_query = event("get-album.json");
        bad_query["rawQueryString"] = "a=\"<{ }>\"".into();
        // REST (1.0) requests take their authority from the `host` header.
        let mut bad_host = event("duplicate-album-rest.json");
        bad_host["headers"]["host"] = "exa mple.com/".into();
        bad_host["multiValueHeaders"]["host"] = serde_json::json!(["exa mple.com/"]);
        let mut bad_base64 = event("get-album.json");
        bad_base64["body"] = "%%% not base64 %%%".into();
        bad_base64["isBase64Encoded"] = true.into();
        for payload in [bad_query, bad_host, bad_base64] {
            // lambda_http alone panics on each of these.
            let text = payload.to_string();
            let alone = catch_unwind(|| lambda_http::request::from_str(&text));
            assert!(alone.is_err(), "lambda_http read {text}");
            assert_bad_event(&run(payload).await);
        }
    }
}
