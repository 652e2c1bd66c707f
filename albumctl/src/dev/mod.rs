//! The local dev server (`albumctl serve`, `make dev`): the whole API on one
//! port, with the template's routes.
//!
//! Each request becomes the API Gateway HTTP API (2.0) event Lambda would
//! receive, goes through the function's real handler, and the handler's
//! response goes back as HTTP. Jobs handed off by a 202 are driven to
//! completion in the background, as the table's stream would in AWS.

mod event;
mod handlers;
mod jobs;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::template::{Route, http_routes};
use album_api::App;
use event::to_event;
use handlers::{HttpHandler, http_handler};
use jobs::drive_in_background;
pub use jobs::{Driven, drive_job};

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
        let message = format!("no handler for {}", route.binary);
        return plain(500, json!({ "message": message }));
    };
    let event = match to_event(route, &params, req, peer).await {
        Ok(e) => e,
        Err(status) => return plain(status, json!({"message": "Request Entity Too Large"})),
    };
    let response = match invoke(app, handler, &event).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    eprintln!(
        "{method} {path} -> {} in {:.1} ms ({})",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
        route.function
    );
    to_http(app, response)
}

/// Runs `handler` on `event` as Lambda would: the request `lambda_http`
/// builds from it, with a context of API Gateway's 29 s.
async fn invoke(
    app: &App,
    handler: HttpHandler,
    event: &Value,
) -> Result<Response<Body>, hyper::Response<Full<Bytes>>> {
    let request = lambda_http::request::from_str(&event.to_string())
        .map_err(|e| plain(400, json!({"message": format!("bad request: {e}")})))?;
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = uuid::Uuid::new_v4().to_string();
    ctx.deadline = album_api::deadline::epoch_ms(SystemTime::now() + Duration::from_secs(29));
    handler(app, request.with_lambda_context(ctx))
        .await
        .map_err(|e| plain(502, json!({"message": format!("function error: {e}")})))
}

/// The handler's response as HTTP; a 202's job is driven in the background.
fn to_http(app: &Arc<App>, response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    if parts.status.as_u16() == 202
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
