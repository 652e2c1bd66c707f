//! A request as the API Gateway HTTP API (2.0) event Lambda would receive.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::template::Route;

/// Largest body the dev server accepts (API Gateway's limit).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The API Gateway HTTP API (2.0) event of `req` on `route`: the event
/// Lambda would receive. `Err` is the status of a request that has none
/// (an unreadable body, or one over API Gateway's limit).
pub(super) async fn to_event(
    route: &Route,
    params: &[(String, String)],
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Result<Value, u16> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.map_err(|_| 400u16)?.to_bytes();
    if bytes.len() > MAX_BODY {
        return Err(413);
    }
    let (body, b64) = match std::str::from_utf8(&bytes) {
        Ok(t) => (t.to_string(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&bytes),
            true,
        ),
    };
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let query =
        joined(serde_urlencoded::from_str::<Vec<(String, String)>>(&raw_query).unwrap_or_default());
    let headers = joined(parts.headers.iter().map(|(k, v)| {
        (
            k.as_str().to_ascii_lowercase(),
            String::from_utf8_lossy(v.as_bytes()).to_string(),
        )
    }));
    let route_key = format!("{} {}", route.method, route.path);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": request_context(&parts, &route_key, peer),
        "isBase64Encoded": b64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !params.is_empty() {
        let params = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())));
        event["pathParameters"] = Value::Object(params.collect());
    }
    if !bytes.is_empty() {
        event["body"] = Value::from(body);
    }
    Ok(event)
}

/// Values of a repeated name joined with commas, as API Gateway's 2.0
/// payload joins repeated headers and query parameters.
fn joined(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        out.entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

/// The event's `requestContext`, as API Gateway fills it.
fn request_context(
    parts: &hyper::http::request::Parts,
    route_key: &str,
    peer: SocketAddr,
) -> Value {
    let header = |name: &str| parts.headers.get(name).and_then(|h| h.to_str().ok());
    json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": header("host").unwrap_or("localhost"),
        "domainPrefix": "local",
        "http": {
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": peer.ip().to_string(),
            "userAgent": header("user-agent").unwrap_or(""),
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route_key,
        "stage": "$default",
        "timeEpoch": time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
    })
}
