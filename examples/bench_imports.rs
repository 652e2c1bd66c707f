//! How fast imports by URL into one album are answered and recorded, for
//! `make bench`: creates one album, then sends `--imports` imports
//! (`POST /api/v1/imports`, each of its own URL, with an
//! `Idempotency-Key`) through the handler (`handlers::create_import`,
//! in-process, as the tests call handlers) from `--clients` concurrent
//! clients, each with its own SDK client. Cloudinary's upload API is a
//! loopback stand-in served here: it checks each upload's signature,
//! answers `{"status":"pending"}` as Cloudinary answers an asynchronous
//! upload, and queues the upload's notification to its `notification_url`
//! (the import's token and id), which `--senders` concurrent senders
//! deliver through the webhook's handler, re-delivering a 5xx as
//! Cloudinary does (`bench_common`).
//!
//! A client retries an import answered 5xx with the same key (at most
//! `--post-attempts` sendings), as a careful integrator would. Once every
//! notification is settled, every import is read back through
//! `GET /api/v1/imports/{id}` (its handler, straight to the emulator): each
//! must be `done` with its own image, the album must hold one image per
//! import and its `images_count` must say so.
//!
//! The handlers' DynamoDB calls go to `--via` (e.g. `albumctl
//! partition-sim` in front of the emulator) or to
//! `AWS_ENDPOINT_URL_DYNAMODB`; the album's creation and the final checks
//! always go to the latter. One line of JSON on stdout:
//! `{"imports", "clients", "senders", "post_per_s", "post_p50_ms",
//! "post_p99_ms", "recorded_per_s", "import_recorded_p50_ms",
//! "import_recorded_p99_ms", "deliveries", "statuses", "redelivered",
//! "count_fallbacks", "recounts", "images_count", "image_items", "exact",
//! "imports_done", "distinct_images", "recorded_once", ...}`.
//!
//! ```sh
//! TABLE_NAME=albums-local AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
//! JWT_SECRET=… NOTIFICATION_SECRET=… CLOUDINARY_URL=cloudinary://key:secret@cloud \
//! PUBLIC_API_URL=http://127.0.0.1:9000 \
//!   bench_imports --org <organization> --user <user> --imports 1000 --clients 16 --senders 16 [--via http://127.0.0.1:8001]
//! ```

mod bench_common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use album_api::album::AlbumKey;
use album_api::cloudinary::sign_params;
use album_api::handlers::{create_import, get_import};
use album_api::secret::Secret;
use album_api::service::{App, now};
use album_api::store::Store;
use album_api::{Needs, auth};
use bench_common::{Counters, Next, Note, Notifications, Senders, Source, cpu_seconds, lock};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

#[derive(Parser)]
#[command(
    about = "Imports by URL into one album, through their handler, a Cloudinary stand-in and the webhook's handler"
)]
struct Args {
    /// The album's organization (it must exist, as `albumctl create-org` makes it).
    #[arg(long)]
    org: String,
    /// The user who imports (it must exist, in that organization).
    #[arg(long)]
    user: String,
    /// Imports, each of its own URL.
    #[arg(long, default_value_t = 1000)]
    imports: usize,
    /// Imports asked for at once.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Notification deliveries in flight at once.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Partitions of the album's images (decision 0012; 1 as `POST /albums` makes it).
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// Album id (default: a new UUID).
    #[arg(long)]
    album: Option<String>,
    /// Where the handlers' DynamoDB calls go (default: AWS_ENDPOINT_URL_DYNAMODB).
    #[arg(long)]
    via: Option<String>,
    /// Sendings of one import before it is given up (5xx answers are retried).
    #[arg(long, default_value_t = 10)]
    post_attempts: u32,
    /// Pause before an import is sent again, times the sendings so far.
    #[arg(long, default_value_t = 100)]
    post_retry_ms: u64,
    /// Pause before a notification's re-delivery, times the attempts so far.
    #[arg(long, default_value_t = 250)]
    redeliver_ms: u64,
    /// Deliveries of one notification before it is given up.
    #[arg(long, default_value_t = 20)]
    max_deliveries: u32,
    /// Longest the whole run may take, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Table (default: TABLE_NAME).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
}

/// A minimal Cloudinary upload API on loopback: takes a signed
/// asynchronous upload, answers it pending, and queues its notification
/// for the senders (its [`Source`]).
struct StandIn {
    notifications: Arc<Notifications>,
    cloud_name: String,
    api_key: String,
    api_secret: Secret,
    queue: Mutex<VecDeque<Note>>,
    /// No upload will come any more.
    closed: AtomicBool,
    taken: AtomicU64,
    refused: AtomicU64,
    /// The public ids asked for (an import asked twice is one asset).
    public_ids: Mutex<BTreeSet<String>>,
}

impl Source for StandIn {
    fn next(&self) -> Next {
        match lock(&self.queue).pop_front() {
            Some(note) => Next::Note(note),
            None if self.closed.load(Ordering::SeqCst) => Next::Done,
            None => Next::Wait,
        }
    }
}

impl StandIn {
    /// Serves `listener` until the process ends.
    fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = self.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let me = me.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let (status, answer) = me.upload(&path, &body);
                            let resp = hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(answer.to_string())))
                                .unwrap_or_default();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    }

    /// One upload call: checked as Cloudinary checks it, its notification
    /// queued, answered pending.
    fn upload(&self, path: &str, body: &[u8]) -> (u16, Value) {
        if path != format!("/v1_1/{}/image/upload", self.cloud_name) {
            return (404, json!({"error": {"message": "not found"}}));
        }
        let fields: BTreeMap<String, String> =
            serde_urlencoded::from_bytes(body).unwrap_or_default();
        let signed: Vec<(&str, String)> = fields
            .iter()
            .filter(|(k, _)| !["file", "api_key", "signature"].contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
        let good = field("signature") == sign_params(&signed, &self.api_secret)
            && field("api_key") == self.api_key
            && field("async") == "true";
        if !good {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return (401, json!({"error": {"message": "Invalid Signature"}}));
        }
        let taken = self.taken.fetch_add(1, Ordering::SeqCst) as usize;
        let public_id = field("public_id");
        lock(&self.public_ids).insert(public_id.to_string());
        // One asset per public id, as Cloudinary overwrites one.
        let asset_id = hex::encode(&Sha1::digest(public_id.as_bytes())[..16]);
        let filename = fields
            .get("filename_override")
            .map_or(public_id, String::as_str);
        let query = field("notification_url")
            .split_once('?')
            .map(|(_, q)| serde_urlencoded::from_str(q).unwrap_or_default())
            .unwrap_or_default();
        // The bench's URLs end in /<import number>.jpg.
        let n = field("file")
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".jpg"))
            .and_then(|f| f.parse().ok())
            .unwrap_or(taken);
        let body =
            self.notifications
                .upload_body(field("tags"), public_id, &asset_id, now(), filename);
        lock(&self.queue).push_back(Note {
            n,
            query,
            body,
            first: Instant::now(),
        });
        (200, json!({"status": "pending", "public_id": public_id}))
    }
}

/// The shapes of `events/create-import.json` and `events/get-import.json`.
const CREATE_EVENT: &str = include_str!("../events/create-import.json");
const GET_EVENT: &str = include_str!("../events/get-import.json");

/// What the clients share: the next import to send, and what came of each.
struct Posts {
    next: AtomicUsize,
    started: Mutex<Vec<Option<Instant>>>,
    ids: Mutex<Vec<Option<String>>>,
    answered_at: Mutex<Vec<Instant>>,
    attempts_ms: Mutex<Vec<f64>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    retried: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Import `n`'s request: its URL, file name and metadata as SharinPix's
/// form sends them, with its `Idempotency-Key`.
fn import_event(template: &Value, authorization: &str, album: &str, n: usize) -> String {
    let mut e = template.clone();
    e["headers"]["authorization"] = Value::from(authorization);
    e["headers"]["idempotency-key"] = Value::from(format!("{album}-{n}"));
    e["body"] = Value::from(
        serde_urlencoded::to_string([
            ("album_id", album.to_string()),
            ("url", format!("https://example.org/bench/{n}.jpg")),
            ("filename", format!("bench-{n}.jpg")),
            ("metadata[attachmentId]", format!("bench-{n}")),
        ])
        .unwrap_or_default(),
    );
    e.to_string()
}

/// One client: sends imports until none is left, each again on a 5xx.
async fn client(
    app: App,
    posts: Arc<Posts>,
    template: Arc<Value>,
    auth: Arc<String>,
    album: Arc<String>,
    args: Arc<Args>,
) {
    loop {
        let n = posts.next.fetch_add(1, Ordering::SeqCst);
        if n >= args.imports {
            return;
        }
        lock(&posts.started)[n] = Some(Instant::now());
        let event = import_event(&template, &auth, &album, n);
        for attempt in 1..=args.post_attempts {
            let req = lambda_http::request::from_str(&event).expect("a valid API Gateway event");
            let t = Instant::now();
            let (status, body) = match create_import::handle(&app, req).await {
                Ok(resp) => (resp.status().as_u16(), resp.into_body().to_vec()),
                Err(e) => (599, e.to_string().into_bytes()),
            };
            lock(&posts.attempts_ms).push(t.elapsed().as_secs_f64() * 1000.0);
            *lock(&posts.statuses).entry(status).or_default() += 1;
            if status == 200 {
                let id = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string));
                lock(&posts.ids)[n] = id;
                lock(&posts.answered_at).push(Instant::now());
                break;
            }
            let why = format!("import {n}: {status} {}", String::from_utf8_lossy(&body));
            if status >= 500 && attempt < args.post_attempts {
                posts.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(args.post_retry_ms) * attempt).await;
                continue;
            }
            posts.failed.fetch_add(1, Ordering::Relaxed);
            *lock(&posts.last_error) = Some(why);
            break;
        }
    }
}

/// Reads import `id` back through `GET /api/v1/imports/{id}`: its image,
/// when it is done.
async fn recorded_image(
    app: &App,
    template: &Value,
    authorization: &str,
    id: &str,
) -> Option<String> {
    let mut e = template.clone();
    let path = format!("/api/v1/imports/{id}");
    e["rawPath"] = Value::from(path.clone());
    e["requestContext"]["http"]["path"] = Value::from(path);
    e["pathParameters"]["id"] = Value::from(id);
    e["headers"]["authorization"] = Value::from(authorization);
    let req = lambda_http::request::from_str(&e.to_string()).ok()?;
    let resp = get_import::handle(app, req).await.ok()?;
    if resp.status() != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(resp.body()).ok()?;
    (v["status"] == "done").then(|| v["image_id"].as_str().map(str::to_string))?
}

fn ms_percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    (
        bench_common::percentile(&mut samples, 50.0),
        bench_common::percentile(&mut samples, 99.0),
    )
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(Args::parse());
    let counters = Counters::install()?;

    let budgets = album_api::deadline::Budgets::from_env()?;
    let sdk = album_api::store::sdk_config_from_env(&budgets).await;
    let direct = Store::new(aws_sdk_dynamodb::Client::new(&sdk), &args.table).with_budgets(budgets);
    let mut config =
        album_api::config::Config::from_env(Needs::ALBUMS).map_err(|e| e.to_string())?;

    // Cloudinary's upload API: the stand-in, on a loopback port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    config.cloudinary_api_url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let direct_app = App::new(config.clone(), direct.clone());
    let cloudinary = config.cloudinary().map_err(|e| e.to_string())?.clone();
    let notifications = Arc::new(Notifications::new(&direct_app)?);
    let stand_in = Arc::new(StandIn {
        notifications: notifications.clone(),
        cloud_name: cloudinary.cloud_name.clone(),
        api_key: cloudinary.api_key.clone(),
        api_secret: cloudinary.api_secret.clone(),
        queue: Mutex::new(VecDeque::new()),
        closed: AtomicBool::new(false),
        taken: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        public_ids: Mutex::new(BTreeSet::new()),
    });
    stand_in.clone().serve(listener);

    let via = args.via.as_deref();
    let clients = bench_common::apps(
        &sdk,
        &config,
        budgets,
        &args.table,
        args.clients,
        "client",
        via,
    );
    let senders_apps: Arc<[App]> = bench_common::apps(
        &sdk,
        &config,
        budgets,
        &args.table,
        args.senders,
        "sender",
        via,
    )
    .into();

    let album_id = args
        .album
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let key = AlbumKey::new(&args.org, &album_id);
    bench_common::create_album(&direct, &args.org, &album_id, args.shards).await?;
    let t0 = now();
    let jwt = config.jwt_keys().map_err(|e| e.to_string())?;
    let token = auth::issue_user_token(&args.user, None, jwt.signing(t0), t0, 3600)
        .map_err(|e| e.to_string())?;
    let authorization = Arc::new(format!("Token token=\"{token}\""));
    let create_template: Arc<Value> =
        Arc::new(serde_json::from_str(CREATE_EVENT).map_err(|e| e.to_string())?);
    let get_template: Value = serde_json::from_str(GET_EVENT).map_err(|e| e.to_string())?;

    let posts = Arc::new(Posts {
        next: AtomicUsize::new(0),
        started: Mutex::new(vec![None; args.imports]),
        ids: Mutex::new(vec![None; args.imports]),
        answered_at: Mutex::new(Vec::new()),
        attempts_ms: Mutex::new(Vec::new()),
        statuses: Mutex::new(BTreeMap::new()),
        retried: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        last_error: Mutex::new(None),
    });
    let senders = Senders::new(
        Duration::from_millis(args.redeliver_ms),
        args.max_deliveries,
    );
    let timeout = Duration::from_secs(args.timeout);

    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let delivering = {
        let (senders, notifications, source) =
            (senders.clone(), notifications.clone(), stand_in.clone());
        let senders_apps = senders_apps.clone();
        tokio::spawn(async move {
            senders
                .run(&senders_apps, notifications, source, timeout)
                .await
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for app in clients {
        tasks.spawn(client(
            app,
            posts.clone(),
            create_template.clone(),
            authorization.clone(),
            Arc::new(album_id.clone()),
            args.clone(),
        ));
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())?;
    }
    // Every import was answered: no upload comes any more.
    stand_in.closed.store(true, Ordering::SeqCst);
    delivering.await.map_err(|e| e.to_string())??;
    let cpu = cpu_seconds() - cpu0;

    // What the imports' clients saw.
    let answered = lock(&posts.answered_at).clone();
    let post_seconds = answered
        .iter()
        .max()
        .map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    let (post_p50, post_p99) = ms_percentiles(lock(&posts.attempts_ms).clone());
    // When each import was recorded: its notification's first 2xx.
    let mut recorded_at: BTreeMap<usize, Instant> = BTreeMap::new();
    for (n, at, _) in senders.recorded() {
        let first = recorded_at.entry(n).or_insert(at);
        *first = (*first).min(at);
    }
    let seconds = recorded_at
        .values()
        .max()
        .map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    let started_at = lock(&posts.started).clone();
    let latencies: Vec<f64> = recorded_at
        .iter()
        .filter_map(|(n, at)| {
            let s = (*started_at.get(*n)?)?;
            Some(at.duration_since(s).as_secs_f64() * 1000.0)
        })
        .collect();
    let (recorded_p50, recorded_p99) = ms_percentiles(latencies);

    // What the table says: each import done with its own image, the count exact.
    let ids: Vec<String> = lock(&posts.ids).iter().flatten().cloned().collect();
    let mut images = Vec::new();
    for chunk in ids.chunks(16) {
        let reads = chunk
            .iter()
            .map(|id| recorded_image(&direct_app, &get_template, &authorization, id));
        images.extend(futures_util::future::join_all(reads).await);
    }
    let done = images.iter().filter(|i| i.is_some()).count();
    let distinct: BTreeSet<&String> = images.iter().flatten().collect();
    let stored = direct
        .get_album(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the album is gone")?;
    let items = direct.count_images(&key).await.map_err(|e| e.to_string())?;
    let n = args.imports;
    let asked = lock(&stand_in.public_ids).len();

    let mut line = json!({
        "album": album_id,
        "imports": n,
        "clients": args.clients,
        "senders": args.senders,
        "shards": args.shards.max(1),
        "via": args.via,
        "seconds": seconds,
        "post_seconds": post_seconds,
        "post_answered": answered.len(),
        "post_per_s": answered.len() as f64 / post_seconds.max(1e-9),
        "post_p50_ms": post_p50,
        "post_p99_ms": post_p99,
        "post_attempts": lock(&posts.attempts_ms).len(),
        "post_statuses": lock(&posts.statuses).iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "post_retried": posts.retried.load(Ordering::Relaxed),
        "post_failed": posts.failed.load(Ordering::Relaxed),
        "post_last_error": *lock(&posts.last_error),
        "uploads_asked": stand_in.taken.load(Ordering::SeqCst),
        "uploads_refused": stand_in.refused.load(Ordering::SeqCst),
        "imports_asked": asked,
        "notifications": senders.taken(),
        "recorded_imports": recorded_at.len(),
        "recorded_per_s": recorded_at.len() as f64 / seconds.max(1e-9),
        "import_recorded_p50_ms": recorded_p50,
        "import_recorded_p99_ms": recorded_p99,
    });
    let fields = line.as_object_mut().ok_or("not an object")?;
    fields.extend(senders.report());
    fields.extend(counters.report());
    fields.extend([
        ("client_cpu_s".to_string(), json!(cpu)),
        ("images_count".to_string(), json!(stored.images_count)),
        ("image_items".to_string(), json!(items)),
        ("exact".to_string(), json!(stored.images_count == items)),
        ("imports_done".to_string(), json!(done)),
        ("distinct_images".to_string(), json!(distinct.len())),
        // No import made two images: at most one image per import
        // Cloudinary was asked for, and one of its own per import done.
        (
            "none_twice".to_string(),
            json!(items <= asked as u64 && distinct.len() == done),
        ),
        // Every import answered, done with an image of its own, and the
        // album holds exactly those.
        (
            "recorded_once".to_string(),
            json!(done == n && distinct.len() == n && items == n as u64),
        ),
    ]);
    fields.extend(
        senders
            .late_check(&senders_apps[0], &notifications, &direct, &key)
            .await?,
    );
    println!("{}", Value::Object(fields.clone()));
    Ok(())
}
