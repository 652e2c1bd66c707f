//! lambda_http glue: ids from paths, parameters from bodies and query
//! strings, and the response headers of the contract.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::deadline;
use crate::error::ApiError;

/// Largest request body an endpoint reads (API Gateway's own limit is 10 MB;
/// none of ours needs more than a few KB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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

/// `limit` (1..=100, default 50) and `cursor` query parameters.
pub fn page_params(params: &Params) -> Result<(usize, Option<String>), ApiError> {
    let limit = match params.value("limit") {
        None | Some(Value::Null) => 50,
        Some(Value::String(s)) => s.trim().parse::<usize>().map_err(|_| bad_limit())?,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(bad_limit)? as usize,
        Some(_) => return Err(bad_limit()),
    };
    if !(1..=100).contains(&limit) {
        return Err(bad_limit());
    }
    let cursor = match params.value("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::BadRequest("invalid cursor".into())),
    };
    Ok((limit, cursor))
}

fn flag_error(name: &str) -> ApiError {
    ApiError::Unprocessable(format!("{name} must be true, false, 1 or 0"))
}

fn bad_limit() -> ApiError {
    ApiError::BadRequest("limit must be an integer from 1 to 100".into())
}

/// The JSON error response of `err`; server errors are logged with the request id.
pub fn respond_error(ctx: &RequestCtx, err: &ApiError) -> Response<Body> {
    if err.status() >= 500 {
        tracing::error!(request_id = %ctx.request_id, error = %err, "request failed");
    } else {
        tracing::info!(request_id = %ctx.request_id, status = err.status(), error = %err, "request refused");
    }
    let mut resp = respond(ctx, err.status(), err.body().to_string(), None);
    if err.status() == 503 {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    resp
}

/// A header's value as text, if present and readable.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The path parameter `name` as API Gateway gave it, or else the segment
/// after `after` in the raw path (events without path parameters, a REST
/// stage prefix or a base-path mapping in front).
pub fn path_param(req: &Request, name: &str, after: &str) -> Option<String> {
    if let Some(v) = req.path_parameters_ref().and_then(|p| p.first(name)) {
        return Some(v.to_string());
    }
    let path = req.uri().path().to_string();
    let raw = req.raw_http_path().to_string();
    for p in [path, raw] {
        let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        if let Some(i) = segs.iter().position(|s| *s == after)
            && let Some(v) = segs.get(i + 1)
        {
            return Some((*v).to_string());
        }
    }
    None
}

/// The raw body bytes, refusing oversized ones.
pub fn body_bytes(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "request body larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Request parameters from the query string and the body (form-encoded as
/// in the contract, or a JSON object); the body wins over the query string.
#[derive(Clone, Debug, Default)]
pub struct Params(HashMap<String, Value>);

impl Params {
    /// A string parameter: `None` when absent (or JSON `null`), a 422 when
    /// present with another JSON type.
    pub fn str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::Unprocessable(format!("{name} must be a string"))),
        }
    }

    /// A yes/no parameter: absent (or `null`) is `false`; `true`/`1` and
    /// `false`/`0` as text (form) or JSON booleans and numbers; anything
    /// else is a 422.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" | "" => Ok(false),
                _ => Err(flag_error(name)),
            },
            Some(_) => Err(flag_error(name)),
        }
    }

    /// A list of strings: a form's repeated `name[]=…` (or one `name=…`),
    /// or a JSON array of strings; `None` when absent, a 422 for any other
    /// shape.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let bad = || ApiError::Unprocessable(format!("{name} must be a list of strings"));
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// A raw parameter value (numbers stay numbers when sent as JSON).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

/// Reads the parameters of `req` (see [`Params`]); 400 on an unreadable body.
pub fn params(req: &Request) -> Result<Params, ApiError> {
    let mut out: HashMap<String, Value> = HashMap::new();
    if let Some(q) = req.query_string_parameters_ref() {
        for (k, v) in q.iter() {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    let body = body_bytes(req)?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Params(out));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::BadRequest("body is not UTF-8 text".into()));
    }
    let content_type = header(req, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if content_type.starts_with("application/json")
        || (!content_type.contains("form") && looks_json)
    {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::BadRequest("body is not valid JSON".into()))?;
        let Value::Object(map) = v else {
            return Err(ApiError::BadRequest("JSON body must be an object".into()));
        };
        out.extend(map);
    } else if content_type.is_empty()
        || content_type.starts_with("application/x-www-form-urlencoded")
    {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::BadRequest("body is not valid form data".into()))?;
        for (k, v) in pairs {
            // `name[]=a&name[]=b`: a list under `name`.
            if let Some(list) = k.strip_suffix("[]") {
                match out
                    .entry(list.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(items) => items.push(Value::String(v)),
                    other => *other = Value::Array(vec![Value::String(v)]),
                }
                continue;
            }
            out.insert(k, Value::String(v));
        }
    } else {
        return Err(ApiError::BadRequest(
            "unsupported content type; send application/x-www-form-urlencoded or application/json"
                .into(),
        ));
    }
    Ok(Params(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn req(uri: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut b = HttpRequest::builder().method("POST").uri(uri);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let body = if body.is_empty() {
            Body::Empty
        } else {
            Body::Text(body.into())
        };
        let r = b.body(body).unwrap();
        let query: HashMap<String, String> = r
            .uri()
            .query()
            .map(|q| serde_urlencoded::from_str(q).unwrap())
            .unwrap_or_default();
        r.with_query_string_parameters(query)
    }

    fn ctx() -> RequestCtx {
        RequestCtx::new(Instant::now(), Some("req-1"))
    }

    #[test]
    fn a_form_body_wins_over_the_query_string() {
        let p = params(&req(
            "/x?destination_id=from_query&other=q",
            Some("application/x-www-form-urlencoded"),
            "destination_id=from_body",
        ))
        .unwrap();
        assert_eq!(p.str("destination_id").unwrap(), Some("from_body"));
        assert_eq!(p.str("other").unwrap(), Some("q"));
        assert_eq!(p.str("absent").unwrap(), None);
    }

    #[test]
    fn a_json_body_keeps_its_types_and_a_wrong_type_is_422() {
        let p = params(&req(
            "/x",
            Some("application/json"),
            r#"{"limit": 7, "destination_id": 3}"#,
        ))
        .unwrap();
        assert_eq!(p.value("limit"), Some(&Value::from(7)));
        assert!(matches!(
            p.str("destination_id"),
            Err(ApiError::Unprocessable(_))
        ));
        // No content type, but it looks like JSON.
        let p = params(&req("/x", None, r#" {"destination_id":"d"}"#)).unwrap();
        assert_eq!(p.str("destination_id").unwrap(), Some("d"));
    }

    #[test]
    fn lists_and_flags_read_from_forms_and_json() {
        let p = params(&req(
            "/x",
            Some("application/x-www-form-urlencoded"),
            "image_ids[]=a&image_ids[]=b&tags=1&merge=false",
        ))
        .unwrap();
        assert_eq!(
            p.strings("image_ids").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(p.flag("tags").unwrap());
        assert!(!p.flag("merge").unwrap());
        assert!(!p.flag("absent").unwrap());
        let p = params(&req(
            "/x",
            Some("application/json"),
            r#"{"image_ids":["a",3],"tags":"yes","merge":true}"#,
        ))
        .unwrap();
        assert!(matches!(
            p.strings("image_ids"),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(p.flag("tags"), Err(ApiError::Unprocessable(_))));
        assert!(p.flag("merge").unwrap());
    }

    #[test]
    fn unreadable_bodies_are_400_and_oversized_ones_413() {
        for (ct, body) in [
            (Some("application/json"), "{not json"),
            (Some("application/json"), "[1,2]"),
            (Some("text/plain"), "a=b"),
        ] {
            assert!(
                matches!(params(&req("/x", ct, body)), Err(ApiError::BadRequest(_))),
                "{ct:?} {body}"
            );
        }
        let binary = HttpRequest::builder()
            .uri("/x")
            .body(Body::Binary(vec![0xff, 0xfe, b'a']))
            .unwrap();
        assert!(matches!(params(&binary), Err(ApiError::BadRequest(_))));
        let big = "a".repeat(MAX_BODY_BYTES + 1);
        assert!(matches!(
            params(&req("/x", Some("application/x-www-form-urlencoded"), &big)),
            Err(ApiError::PayloadTooLarge(_))
        ));
        // Whitespace only: the query string alone.
        let p = params(&req("/x?a=1", Some("application/json"), "  \n")).unwrap();
        assert_eq!(p.str("a").unwrap(), Some("1"));
    }

    #[test]
    fn page_parameters_default_and_refuse_out_of_range() {
        let none = params(&req("/x", None, "")).unwrap();
        assert_eq!(page_params(&none).unwrap(), (50, None));
        let ok = params(&req("/x?limit=%2010%20&cursor=abc", None, "")).unwrap();
        assert_eq!(page_params(&ok).unwrap(), (10, Some("abc".into())));
        let empty_cursor = params(&req("/x?cursor=", None, "")).unwrap();
        assert_eq!(page_params(&empty_cursor).unwrap(), (50, None));
        let json = params(&req("/x", Some("application/json"), r#"{"limit":100}"#)).unwrap();
        assert_eq!(page_params(&json).unwrap().0, 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            let p = params(&req(&format!("/x?limit={bad}"), None, "")).unwrap();
            assert!(
                matches!(page_params(&p), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        let p = params(&req("/x", Some("application/json"), r#"{"cursor":5}"#)).unwrap();
        assert!(matches!(page_params(&p), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn path_parameters_come_from_api_gateway_or_the_raw_path() {
        let given = req("/whatever", None, "")
            .with_path_parameters(HashMap::from([("id".to_string(), "alb1".to_string())]));
        assert_eq!(path_param(&given, "id", "albums").as_deref(), Some("alb1"));
        let raw = req("/Prod/api/v1/albums/alb2/duplicate", None, "");
        assert_eq!(path_param(&raw, "id", "albums").as_deref(), Some("alb2"));
        let none = req("/api/v1/albums", None, "");
        assert_eq!(path_param(&none, "id", "albums"), None);
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

    #[tokio::test]
    async fn a_request_that_runs_out_of_time_answers_503() {
        let r = req("/x", None, "");
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
