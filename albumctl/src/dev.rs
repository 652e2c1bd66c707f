//! The local dev server (`albumctl serve`, `make dev`): the whole API on one
//! port, with the template's routes.
//!
//! Each request becomes the API Gateway HTTP API (2.0) event Lambda would
//! receive, goes through the function's real handler, and the handler's
//! response goes back as HTTP. Jobs handed off by a 202 are driven to
//! completion in the background, as the table's stream would in AWS.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::template::{Route, http_routes};
use album_api::App;
use album_api::handlers::*;
use album_api::jobs::{SliceOutcome, run_slice};

/// Largest body the dev server accepts (API Gateway's limit).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Serves the API on `addr` until Ctrl-C.
pub async fn serve(
    app: App,
    addr: SocketAddr,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let routes = Arc::new(http_routes()?);
    let app = Arc::new(app);
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "Album API listening on http://{addr} ({} routes)",
        routes.len()
    );
    for r in routes.iter() {
        eprintln!("  {:<6} {:<40} -> {}", r.method, r.path, r.function);
    }
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("stopping");
                return Ok(());
            }
        };
        let (app, routes) = (app.clone(), routes.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let (app, routes) = (app.clone(), routes.clone());
                async move { Ok::<_, Infallible>(dispatch(&app, &routes, req, peer).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn plain(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn dispatch(
    app: &Arc<App>,
    routes: &[Route],
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let Some((route, params)) = routes
        .iter()
        .find_map(|r| r.matches(&method, &path).map(|p| (r, p)))
    else {
        eprintln!("{method} {path} -> 404 (no route)");
        return plain(404, json!({"message": "Not Found"}));
    };
    let Some(handler) = http_handler(&route.binary) else {
        return plain(
            500,
            json!({"message": format!("no handler for {}", route.binary)}),
        );
    };
    let event = match to_event(route, &params, req, peer).await {
        Ok(e) => e,
        Err(status) => return plain(status, json!({"message": "Request Entity Too Large"})),
    };
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => return plain(400, json!({"message": format!("bad request: {e}")})),
    };
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = uuid::Uuid::new_v4().to_string();
    ctx.deadline = album_api::jobs::epoch_ms(SystemTime::now() + Duration::from_secs(29));
    let request = request.with_lambda_context(ctx);
    let response = match handler(app, request).await {
        Ok(r) => r,
        Err(e) => return plain(502, json!({"message": format!("function error: {e}")})),
    };
    let status = response.status().as_u16();
    eprintln!(
        "{method} {path} -> {status} in {:.1} ms ({})",
        started.elapsed().as_secs_f64() * 1000.0,
        route.function
    );
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    if status == 202
        && let Ok(job) = serde_json::from_slice::<Value>(&bytes)
        && let Some(id) = job["job_id"].as_str()
    {
        drive_in_background(app.clone(), id.to_string());
    }
    let mut out = hyper::Response::new(Full::new(bytes));
    *out.status_mut() = parts.status;
    *out.headers_mut() = parts.headers;
    out
}

/// Drives a 202's job in the background, as the table's stream and the
/// worker do in AWS ([`drive_job`]).
fn drive_in_background(app: Arc<App>, id: String) {
    tokio::spawn(async move {
        let retries = crate::template::stream_retry_attempts().unwrap_or(5);
        let ended = drive_job(&app, &id, retries, Duration::from_secs(1)).await;
        eprintln!("job {id}: {ended:?}");
    });
}

/// How driving a job ended.
#[derive(Debug)]
pub enum Driven {
    /// Done, failed for good, or finished by someone else: the last slice's outcome.
    Ended(Box<SliceOutcome>),
    /// A slice failed `deliveries` times in a row: in AWS the record would
    /// go to the dead-letter queue (`albumctl dlq redrive` resumes it).
    GivenUp {
        /// Deliveries of the failing hand-off.
        deliveries: u32,
        /// The last failure.
        error: String,
    },
}

/// What the table's stream and the worker do in AWS: runs slices of job
/// `id` until it ends. A failed slice is run again, as the stream delivers
/// the same record again, after `backoff` doubling per failure, up to
/// `retries` times; a hand-off resets the count, as a new record would.
pub async fn drive_job(app: &App, id: &str, retries: u32, backoff: Duration) -> Driven {
    let owner = format!("dev-{}", uuid::Uuid::new_v4());
    let mut failures = 0;
    loop {
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let slice =
            album_api::jobs::within_invocation(app, deadline, run_slice(app, id, deadline, &owner));
        match slice.await {
            Ok(SliceOutcome::Paused(_)) => failures = 0,
            // Its holder lives and goes on with it; look again soon.
            Ok(SliceOutcome::Busy(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
            Ok(outcome) => return Driven::Ended(Box::new(outcome)),
            Err(e) => {
                failures += 1;
                if failures > retries {
                    return Driven::GivenUp {
                        deliveries: failures,
                        error: e.to_string(),
                    };
                }
                eprintln!(
                    "job {id}: slice failed ({e}); delivered again ({failures} of {retries})"
                );
                tokio::time::sleep(backoff * 2u32.pow(failures.min(5) - 1)).await;
            }
        }
    }
}

async fn to_event(
    route: &Route,
    params: &[(String, String)],
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Result<Value, u16> {
    let (parts, body) = req.into_parts();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &parts.headers {
        let v = String::from_utf8_lossy(v.as_bytes()).to_string();
        headers
            .entry(k.as_str().to_ascii_lowercase())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
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
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in
        serde_urlencoded::from_str::<Vec<(String, String)>>(&raw_query).unwrap_or_default()
    {
        query
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let path = parts.uri.path().to_string();
    let route_key = format!("{} {}", route.method, route.path);
    let now = time::OffsetDateTime::now_utc();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or(""),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "isBase64Encoded": b64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !params.is_empty() {
        event["pathParameters"] = Value::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
        );
    }
    if !bytes.is_empty() {
        event["body"] = Value::from(body);
    }
    Ok(event)
}

/// The boxed future of an HTTP handler.
type HttpFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, lambda_http::Error>> + Send + 'a>>;

/// The HTTP handler of a binary, by its name (as in the template's
/// `BuildProperties.Binary`): what the local dev server dispatches to.
fn http_handler(binary: &str) -> Option<for<'a> fn(&'a App, Request) -> HttpFuture<'a>> {
    macro_rules! h {
        ($m:ident) => {{
            fn f(app: &App, req: Request) -> HttpFuture<'_> {
                Box::pin($m::handle(app, req))
            }
            Some(f as for<'a> fn(&'a App, Request) -> HttpFuture<'a>)
        }};
    }
    match binary {
        "duplicate_album" => h!(duplicate_album),
        "create_album" => h!(create_album),
        "get_album" => h!(get_album),
        "list_albums" => h!(list_albums),
        "list_images" => h!(list_images),
        "delete_image" => h!(delete_image),
        "cloudinary_notification" => h!(cloudinary_notification),
        "get_duplication" => h!(get_duplication),
        "update_album" => h!(update_album),
        "create_tag" => h!(create_tag),
        "list_tags" => h!(list_tags),
        "tag_images" => h!(tag_images),
        "list_tag_images" => h!(list_tag_images),
        "delete_tag_image" => h!(delete_tag_image),
        _ => None,
    }
}
