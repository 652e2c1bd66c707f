//! The HTTP side of the functions: a request served within its deadline
//! ([`answer`]), read ([`request`]), paged ([`paging`]), its caller
//! ([`caller`]) and its answer ([`reply`]).

use std::future::Future;
use std::time::Duration;

use lambda_http::{Body, Request, RequestExt, Response};

use crate::deadline;
use crate::error::ApiError;

pub mod caller;
pub mod paging;
pub mod reply;
pub mod request;

pub use caller::Caller;
pub use paging::{PageRequest, Paging, page_params};
pub use reply::{
    RETRY_AFTER_SECONDS, Reply, RequestCtx, STATIC_HEADERS, finish, respond, respond_error,
};
pub use request::{
    MAX_BODY_BYTES, Params, body_bytes, header, params, path_id, path_item_id, path_param,
};

/// How long past its deadline a handler may run before its answer is
/// forced: every DynamoDB call already ends at the deadline, so this only
/// catches a step that forgot to (the answer is still a 503, not a Lambda
/// timeout).
pub const BACKSTOP: Duration = Duration::from_millis(250);

/// Serves one request inside its deadline: `budget` from now, or Lambda's
/// deadline less [`deadline::ANSWER_MARGIN`] when that comes first. Every
/// DynamoDB call `serve` makes ends by then ([`deadline::scope`]); a request
/// that runs out of time answers 503 with `Retry-After`. The answer carries
/// the contract's headers whatever happened.
pub async fn answer<F>(req: &Request, budget: Duration, serve: F) -> Response<Body>
where
    F: Future<Output = Result<Reply, ApiError>>,
{
    let ctx = RequestCtx::of(req);
    let lambda = req
        .lambda_context_ref()
        .filter(|c| c.deadline > 0)
        .map(|c| c.deadline());
    let until = deadline::of_invocation(ctx.started, budget, lambda, deadline::ANSWER_MARGIN);
    // Boxed: a handler's future is large (a whole copy in the duplicate's
    // case), and moving it by value through the wrappers overflowed the
    // stack of debug builds.
    let outcome = tokio::time::timeout_at(
        (until + BACKSTOP).into(),
        deadline::scope(Some(until), Box::pin(serve)),
    )
    .await
    .unwrap_or_else(|_| {
        Err(ApiError::Unavailable(
            "the request ran out of time before its deadline".into(),
        ))
    });
    finish(&ctx, outcome)
}

/// A request to `uri` with `content_type` and `body` (empty: none), its
/// query string parsed as API Gateway does: what the unit tests read.
#[cfg(test)]
pub(crate) fn test_request(uri: &str, content_type: Option<&str>, body: &str) -> Request {
    let mut b = lambda_http::http::Request::builder()
        .method("POST")
        .uri(uri);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body.into())
    };
    let r = b.body(body).unwrap();
    let pairs: Vec<(String, String)> = r
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap())
        .unwrap_or_default();
    let mut query: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (k, v) in pairs {
        query.entry(k).or_default().push(v);
    }
    r.with_query_string_parameters(query)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn a_request_that_runs_out_of_time_answers_503() {
        let r = test_request("/x", None, "");
        let started = Instant::now();
        let resp = answer(&r, Duration::from_millis(50), async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(Reply::new(200, "{}".into()))
        })
        .await;
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
