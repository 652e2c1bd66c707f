//! The answer to a request: a handler's [`Reply`] or error, with the
//! contract's headers.

use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::error::ApiError;

/// Headers every response carries, as in the contract.
pub const STATIC_HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-cache, no-store"),
    ("pragma", "no-cache"),
    ("expires", "Fri, 01 Jan 1990 00:00:00 GMT"),
    ("content-type", "application/json; charset=utf-8"),
    ("vary", "Accept-Encoding"),
    (
        "p3p",
        "CP=\"NOI ADM DEV PSAi COM NAV OUR OTRo STP IND DEM\"",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"),
    ("x-download-options", "noopen"),
    ("x-permitted-cross-domain-policies", "none"),
    (
        "referrer-policy",
        "origin-when-cross-origin, strict-origin-when-cross-origin",
    ),
];

/// What a 503 tells the client to wait before retrying (`Retry-After`,
/// seconds): long enough for a throttled partition or a brief DynamoDB
/// brownout to pass, short enough for an interactive client (decision 0006).
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Per-request facts the response needs: when it started and its id.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// When handling started (for `X-Runtime`).
    pub started: Instant,
    /// The Lambda request id (also on every log line), sent as `X-Request-Id`.
    pub request_id: String,
}

impl RequestCtx {
    /// Starts the clock for `req`.
    pub fn of(req: &Request) -> Self {
        Self::new(
            Instant::now(),
            req.lambda_context_ref().map(|c| c.request_id.as_str()),
        )
    }

    /// A request that started at `started`, with Lambda's request id (a
    /// fresh one outside Lambda, where it is missing or empty).
    pub fn new(started: Instant, request_id: Option<&str>) -> Self {
        let request_id = request_id
            .filter(|id| !id.is_empty())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        Self {
            started,
            request_id,
        }
    }
}

/// A response with the contract's headers; `x_token` on success.
pub fn respond(
    ctx: &RequestCtx,
    status: u16,
    body: String,
    x_token: Option<&str>,
) -> Response<Body> {
    let len = body.len();
    let mut resp = Response::new(if status == 204 {
        Body::Empty
    } else {
        Body::Text(body)
    });
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    for (k, v) in STATIC_HEADERS {
        h.insert(*k, HeaderValue::from_static(v));
    }
    if let Some(t) = x_token.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("x-token", t);
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        h.insert("x-request-id", v);
    }
    let runtime = format!("{:.6}", ctx.started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&runtime) {
        h.insert("x-runtime", v);
    }
    if status != 204 {
        h.insert("content-length", HeaderValue::from(len));
    }
    if len == 0 {
        h.remove("content-type");
    }
    resp
}

/// A successful answer, before the contract's headers are added.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (empty for 201/204 without content).
    pub body: String,
    /// The refreshed caller token (`X-token`), on authenticated endpoints.
    pub x_token: Option<String>,
    /// Endpoint-specific headers (`X-Next-Cursor`, `Location`).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply with `status` and `body`.
    pub fn new(status: u16, body: String) -> Self {
        Self {
            status,
            body,
            x_token: None,
            headers: Vec::new(),
        }
    }
    /// A reply with `status` and `value` as its JSON body.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Self, ApiError> {
        serde_json::to_string(value)
            .map(|body| Self::new(status, body))
            .map_err(|e| ApiError::Internal(format!("response JSON: {e}")))
    }
    /// Adds `X-token`.
    pub fn token(mut self, token: String) -> Self {
        self.x_token = Some(token);
        self
    }
    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Turns a handler's outcome into the HTTP response.
pub fn finish(ctx: &RequestCtx, outcome: Result<Reply, ApiError>) -> Response<Body> {
    let response = match outcome {
        Ok(reply) => {
            let mut resp = respond(ctx, reply.status, reply.body, reply.x_token.as_deref());
            for (k, v) in reply.headers {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    resp.headers_mut().insert(k, v);
                }
            }
            resp
        }
        Err(e) => respond_error(ctx, &e),
    };
    crate::metrics::answered(response.status().as_u16());
    response
}

/// The JSON error response of `err`; server errors are logged with the request id.
pub fn respond_error(ctx: &RequestCtx, err: &ApiError) -> Response<Body> {
    if err.status() >= 500 {
        tracing::error!(request_id = %ctx.request_id, error = %err, "request failed");
    } else {
        tracing::info!(request_id = %ctx.request_id, status = err.status(), error = %err, "request refused");
    }
    let mut resp = respond(ctx, err.status(), err.body().to_string(), None);
    if let Some(seconds) = err.retry_after() {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    if let Some(m) = err.x_message() {
        resp.headers_mut()
            .insert("x-message", HeaderValue::from_static(m));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestCtx {
        RequestCtx::new(Instant::now(), Some("req-1"))
    }

    #[test]
    fn every_answer_carries_the_contracts_headers() {
        let r = respond(&ctx(), 200, "{\"a\":1}".into(), Some("tok"));
        for (k, v) in STATIC_HEADERS {
            assert_eq!(r.headers()[*k], *v, "{k}");
        }
        assert_eq!(r.headers()["x-token"], "tok");
        assert_eq!(r.headers()["x-request-id"], "req-1");
        assert_eq!(r.headers()["content-length"], "7");
        assert!(r.headers().contains_key("x-runtime"));
        // 204: no body, no content type, no length.
        let r = respond(&ctx(), 204, String::new(), None);
        assert!(matches!(r.body(), Body::Empty));
        assert!(!r.headers().contains_key("content-type"));
        assert!(!r.headers().contains_key("content-length"));
    }

    #[test]
    fn a_503_says_when_to_retry_and_other_errors_do_not() {
        let r = respond_error(&ctx(), &ApiError::Unavailable("throttled".into()));
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.headers()["retry-after"],
            RETRY_AFTER_SECONDS.to_string().as_str()
        );
        let Body::Text(body) = r.body() else {
            panic!("a body")
        };
        assert!(
            body.contains("\"unavailable\"") && !body.contains("throttled"),
            "{body}"
        );
        let r = respond_error(&ctx(), &ApiError::NotFound("x".into()));
        assert!(!r.headers().contains_key("retry-after"));
        assert!(!r.headers().contains_key("x-token"));
    }
}
