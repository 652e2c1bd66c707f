//! The simulator's own paths under `/__sim/`: its accounting over HTTP,
//! for a bench or a person to read (`stats`) or clear (`reset`).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response, StatusCode};

use super::exchange::Sim;
use crate::proxy::{Reply, plain};

/// `/__sim/stats` and `/__sim/reset`.
pub(super) fn answer(sim: &Sim, method: &Method, path: &str, query: Option<&str>) -> Reply {
    match (method, path) {
        (&Method::GET, "stats") => {
            let top = query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|kv| kv.strip_prefix("top="))
                .and_then(|n| n.parse().ok());
            let stats = sim.ledger().stats(top);
            let body = serde_json::to_vec(&stats).unwrap_or_default();
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        (&Method::POST, "reset") => {
            sim.ledger().reset();
            plain(StatusCode::OK, "reset\n".into())
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "GET /__sim/stats[?top=N] or POST /__sim/reset\n".into(),
        ),
    }
}
