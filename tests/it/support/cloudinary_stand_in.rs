//! A local stand-in for Cloudinary's upload API, on loopback: it takes an
//! import's upload (`POST /v1_1/<cloud>/image/upload`), checks its
//! signature as Cloudinary does, answers `{"status":"pending"}`, then
//! delivers the upload's notification to its `notification_url` as
//! Cloudinary and API Gateway would: a body signed with the account's
//! secret, sent through the webhook handler with the URL's query string,
//! [`DELIVERERS`] deliveries at a time, as Cloudinary posts notifications
//! side by side (how fast the webhook takes 16 concurrent senders into one
//! album is `make bench`'s question). Never the internet.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use album_api::App;
use album_api::cloudinary::sign_params;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::net::TcpListener;

use super::request;
use super::security::{Endpoint, set_query, signed_webhook_event, upload_notification};

/// Notifications the stand-in delivers at once.
pub const DELIVERERS: usize = 8;

/// What the stand-in does with the uploads it takes.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// URLs containing this answer an error notification (the file could
    /// not be fetched).
    pub unreachable: Option<String>,
    /// Every n-th upload's notification is delivered twice, at once, as
    /// Cloudinary re-delivers.
    pub redeliver_every: Option<u64>,
    /// Takes uploads and delivers nothing (a test that compares the
    /// table before and after each request).
    pub silent: bool,
    /// Each upload is taken as two of its asset (a retried import that
    /// asked again): its notification and, at once, one a minute later,
    /// as Cloudinary's overwrite of the same `public_id` sends.
    pub uploaded_twice: bool,
}

/// Counters of what the stand-in did.
#[derive(Debug, Default)]
pub struct Counts {
    /// Uploads taken (signature valid).
    pub taken: AtomicU64,
    /// Uploads refused (signature invalid).
    pub refused: AtomicU64,
    /// Notifications delivered (and answered 2xx).
    pub delivered: AtomicU64,
    /// Deliveries under way.
    pub in_flight: AtomicU64,
}

/// The running stand-in.
pub struct StandIn {
    addr: SocketAddr,
    /// What it did.
    pub counts: Arc<Counts>,
}

impl StandIn {
    /// Starts it for `app` (whose Cloudinary account signs and verifies).
    pub async fn start(app: App, behaviour: Behaviour) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let (deliveries, mut queue) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let (delivering_app, delivering_counts) = (app.clone(), counts.clone());
        tokio::spawn(async move {
            let slots = Arc::new(tokio::sync::Semaphore::new(DELIVERERS));
            while let Some((target, body)) = queue.recv().await {
                let slot = slots.clone().acquire_owned().await.unwrap();
                let (app, counts) = (delivering_app.clone(), delivering_counts.clone());
                tokio::spawn(async move {
                    deliver(&app, &counts, &target, &body).await;
                    drop(slot);
                });
            }
        });
        let shared = Arc::new((app, behaviour, counts.clone(), deliveries));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            Ok::<_, Infallible>(upload(
                                &shared.0, &shared.1, &shared.2, &shared.3, &path, &body,
                            ))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        StandIn { addr, counts }
    }

    /// Its base URL (what `CLOUDINARY_API_URL` names).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until every delivery it started has been answered.
    pub async fn settle(&self) {
        while self.counts.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

fn reply(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Takes one upload: checks it, answers, and starts its delivery.
fn upload(
    app: &App,
    behaviour: &Behaviour,
    counts: &Arc<Counts>,
    deliveries: &tokio::sync::mpsc::UnboundedSender<(String, String)>,
    path: &str,
    body: &[u8],
) -> hyper::Response<Full<Bytes>> {
    let cfg = app.config.cloudinary().unwrap();
    if path != format!("/v1_1/{}/image/upload", cfg.cloud_name) {
        return reply(404, json!({"error": {"message": "not found"}}));
    }
    let fields: BTreeMap<String, String> = serde_urlencoded::from_bytes(body).unwrap();
    let signed: Vec<(&str, String)> = fields
        .iter()
        .filter(|(k, _)| !["file", "api_key", "signature", "resource_type"].contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let good = fields.get("signature") == Some(&sign_params(&signed, &cfg.api_secret))
        && fields.get("api_key") == Some(&cfg.api_key)
        && fields.get("async").map(String::as_str) == Some("true");
    if !good {
        counts.refused.fetch_add(1, Ordering::SeqCst);
        return reply(401, json!({"error": {"message": "Invalid Signature"}}));
    }
    let n = counts.taken.fetch_add(1, Ordering::SeqCst) + 1;
    let times = match behaviour.redeliver_every {
        Some(every) if n.is_multiple_of(every) => 2,
        _ => 1,
    };
    let first = notification(&fields, behaviour, 0);
    let target = fields["notification_url"].clone();
    for _ in 0..if behaviour.silent { 0 } else { times } {
        counts.in_flight.fetch_add(1, Ordering::SeqCst);
        deliveries_queue(deliveries, &target, &first);
    }
    if behaviour.uploaded_twice {
        counts.in_flight.fetch_add(1, Ordering::SeqCst);
        deliveries_queue(deliveries, &target, &notification(&fields, behaviour, 60));
    }
    reply(
        200,
        json!({"status": "pending", "public_id": fields["public_id"]}),
    )
}

fn deliveries_queue(
    queue: &tokio::sync::mpsc::UnboundedSender<(String, String)>,
    target: &str,
    body: &str,
) {
    queue.send((target.to_string(), body.to_string())).unwrap();
}

/// Delivers `body` to `target` (the notification URL) through the webhook
/// handler, again until it is taken (at most 10 times), as Cloudinary does.
async fn deliver(app: &App, counts: &Counts, target: &str, body: &str) {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let token = pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str());
    let mut event = signed_webhook_event(token, body);
    set_query(&mut event, &refs);
    for _ in 0..10 {
        let resp = Endpoint::Webhook.call(app, request(&event)).await.unwrap();
        if resp.status().is_success() {
            counts.delivered.fetch_add(1, Ordering::SeqCst);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    counts.in_flight.fetch_sub(1, Ordering::SeqCst);
}

/// The notification Cloudinary would post for upload `fields`, uploaded
/// `later` seconds after the first upload of its asset.
fn notification(fields: &BTreeMap<String, String>, behaviour: &Behaviour, later: i64) -> String {
    let url = &fields["file"];
    if behaviour
        .unreachable
        .as_deref()
        .is_some_and(|u| url.contains(u))
    {
        return json!({
            "notification_type": "error",
            "error": {"message": format!("Resource not found - {url}")},
            "public_id": fields["public_id"],
        })
        .to_string();
    }
    let album = &fields["tags"];
    let public_id = &fields["public_id"];
    // One asset per public id, as Cloudinary overwrites one.
    let mut h = Sha1::new();
    h.update(public_id.as_bytes());
    let n = u64::from_be_bytes(h.finalize()[..8].try_into().unwrap()) >> 1;
    let (_, body) = upload_notification(album, n, album_api::service::now() - 5 + later);
    let mut v: Value = serde_json::from_str(&body).unwrap();
    if let Some(f) = fields.get("filename_override") {
        v["original_filename"] = Value::from(f.clone());
    }
    v.to_string()
}
