//! How fast the webhook records uploads into one album, for `make bench`:
//! creates one album, then delivers `--uploads` signed Cloudinary upload
//! notifications (distinct assets) through the webhook's handler
//! (`handlers::cloudinary_notification`, in-process, as the tests call
//! handlers) from `--senders` concurrent senders, and checks that the
//! album's `images_count` equals its image items, exactly.
//!
//! A delivery answered 5xx is delivered again after `--redeliver-ms` ×
//! the attempt (Cloudinary re-delivers what is not answered 2xx), while
//! its sender goes on with the next notification, so the senders keep
//! `--senders` deliveries in flight, each sender with its own SDK client
//! (as each Lambda instance has its own). The store's own counters (the
//! functions' metrics, `CountFallbacks`, `Recounts`, `RecountPasses`) are
//! read through a recorder installed here.
//!
//! The handler's DynamoDB calls go to `--via` (e.g. `albumctl
//! partition-sim` in front of the emulator) or to `AWS_ENDPOINT_URL_DYNAMODB`;
//! the album's creation and the final check always go to the latter.
//! One line of JSON on stdout:
//! `{"uploads", "senders", "shards", "seconds", "per_s", "deliveries",
//! "statuses", "redelivered", "attempt_p50_ms", "attempt_p99_ms",
//! "recorded_p50_ms", "recorded_p99_ms", "count_fallbacks", "recounts",
//! "recount_passes", "images_count", "image_items", "exact", "all_recorded", ...}`.
//!
//! ```sh
//! TABLE_NAME=albums-local AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
//! NOTIFICATION_SECRET=… CLOUDINARY_URL=cloudinary://key:secret@cloud \
//!   bench_webhook --org <organization> --user <user> --uploads 2000 --senders 16 [--via http://127.0.0.1:8001]
//! ```

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use album_api::album::{Album, AlbumKey};
use album_api::cloudinary::sign_string;
use album_api::handlers::cloudinary_notification::handle;
use album_api::service::{App, now};
use album_api::store::Store;
use album_api::{Needs, auth};
use aws_sdk_dynamodb::config::retry::RetryPartition;
use clap::Parser;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Upload notifications into one album through the webhook's handler")]
struct Args {
    /// The album's organization (it must exist, as `albumctl create-org` makes it).
    #[arg(long)]
    org: String,
    /// The user the upload form was made for (it must exist).
    #[arg(long)]
    user: String,
    /// Notifications, each of its own asset.
    #[arg(long, default_value_t = 2000)]
    uploads: usize,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Partitions of the album's images (decision 0012; 1 as `POST /albums` makes it).
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// Album id (default: a new UUID).
    #[arg(long)]
    album: Option<String>,
    /// Where the handler's DynamoDB calls go (default: AWS_ENDPOINT_URL_DYNAMODB).
    #[arg(long)]
    via: Option<String>,
    /// Pause before a re-delivery, times the attempts so far.
    #[arg(long, default_value_t = 250)]
    redeliver_ms: u64,
    /// Deliveries of one notification before it is given up.
    #[arg(long, default_value_t = 20)]
    max_deliveries: u32,
    /// Stop taking new notifications after this many seconds (0: never):
    /// those already sent are still delivered until recorded.
    #[arg(long, default_value_t = 0.0)]
    duration: f64,
    /// Longest the whole run may take, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Table (default: TABLE_NAME).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
}

/// The functions' counters, by name (dimensions summed), as this process
/// recorded them.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn get(&self, name: &str) -> u64 {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

struct Counting(&'static Counters);

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut map = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        Counter::from_arc(map.entry(key.name().to_string()).or_default().clone())
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// The shape of `events/cloudinary-notification.json`: an HTTP API event
/// whose body is a real upload notification.
const EVENT: &str = include_str!("../events/cloudinary-notification.json");

/// Notification `n`'s raw body: the sample's, with its own asset.
fn notification_body(template: &Value, album: &str, n: usize, created: i64) -> String {
    let mut body = template.clone();
    let public_id = format!("albums/{album}/upload-{n}");
    let stamp = time::OffsetDateTime::from_unix_timestamp(created)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    body["asset_id"] = Value::from(format!("{:032x}", 0xbe7c_0000_0000_u64 + n as u64));
    body["public_id"] = Value::from(public_id.clone());
    body["version"] = Value::from(created);
    body["created_at"] = Value::from(stamp.clone());
    body["timestamp"] = Value::from(stamp);
    body["tags"] = json!([album]);
    body["original_filename"] = Value::from(format!("upload-{n}"));
    body["secure_url"] = Value::from(format!(
        "https://res.cloudinary.com/sadaasdasd/image/authenticated/s--abcdefgh--/v{created}/{public_id}.jpg"
    ));
    body.to_string()
}

/// One delivery of `body` with the notification token, signed now as
/// Cloudinary signs it.
fn delivery(
    template: &Value,
    token: &str,
    body: &str,
    api_secret: &album_api::secret::Secret,
) -> String {
    let ts = now().to_string();
    let signature = sign_string(&format!("{body}{ts}"), api_secret);
    let mut e = template.clone();
    e["rawQueryString"] = Value::from(format!("token={token}"));
    e["queryStringParameters"] = json!({ "token": token });
    e["headers"]["x-cld-timestamp"] = Value::from(ts);
    e["headers"]["x-cld-signature"] = Value::from(signature);
    e["body"] = Value::from(body);
    e.to_string()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[i]
}

/// A notification waiting to be delivered again, soonest first.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due(std::cmp::Reverse<Instant>, usize, u32, Instant);

/// What the senders share.
struct Run {
    started: Instant,
    taken: Mutex<usize>,
    again: Mutex<BinaryHeap<Due>>,
    settled: AtomicUsize,
    attempts_ms: Mutex<Vec<f64>>,
    recorded_ms: Mutex<Vec<f64>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    redelivered: AtomicU64,
    given_up: AtomicU64,
    last_error: Mutex<Option<String>>,
}

async fn sender(
    run: Arc<Run>,
    app: App,
    template: Arc<(Value, Value)>,
    token: Arc<String>,
    args: Arc<Args>,
    album: Arc<String>,
    created: i64,
) {
    let secret = app
        .config
        .cloudinary()
        .expect("CLOUDINARY_URL")
        .api_secret
        .clone();
    loop {
        // Fresh notifications are taken until `--uploads` or `--duration`;
        // the run ends when every one taken is settled (recorded or given
        // up), re-deliveries included.
        let time_up = args.duration > 0.0 && run.started.elapsed().as_secs_f64() >= args.duration;
        let taken = *run.taken.lock().unwrap_or_else(|p| p.into_inner());
        if (time_up || taken >= args.uploads) && run.settled.load(Ordering::SeqCst) >= taken {
            return;
        }
        // A re-delivery that is due, else the next fresh notification, else
        // wait for the soonest re-delivery.
        let job = {
            let mut again = run.again.lock().unwrap_or_else(|p| p.into_inner());
            match again.peek() {
                Some(d) if d.0.0 <= Instant::now() => again.pop().map(|d| (d.1, d.2, d.3)),
                _ => None,
            }
        };
        let job = job.or_else(|| {
            let mut taken = run.taken.lock().unwrap_or_else(|p| p.into_inner());
            (!time_up && *taken < args.uploads).then(|| {
                *taken += 1;
                (*taken - 1, 0, Instant::now())
            })
        });
        let Some((n, attempt, first)) = job else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let body = notification_body(&template.1, &album, n, created);
        let event = delivery(&template.0, &token, &body, &secret);
        let req = lambda_http::request::from_str(&event).expect("a valid API Gateway event");
        let t = Instant::now();
        let status = match handle(&app, req).await {
            Ok(resp) => resp.status().as_u16(),
            Err(_) => 599,
        };
        let took = t.elapsed().as_secs_f64() * 1000.0;
        run.attempts_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(took);
        *run.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status)
            .or_default() += 1;
        let attempt = attempt + 1;
        if (200..300).contains(&status) {
            let ms = first.elapsed().as_secs_f64() * 1000.0;
            run.recorded_ms
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(ms);
            run.settled.fetch_add(1, Ordering::SeqCst);
        } else if status >= 500 && attempt < args.max_deliveries {
            run.redelivered.fetch_add(1, Ordering::Relaxed);
            let due =
                Instant::now() + Duration::from_millis(args.redeliver_ms * u64::from(attempt));
            run.again
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Due(std::cmp::Reverse(due), n, attempt, first));
        } else {
            run.given_up.fetch_add(1, Ordering::Relaxed);
            *run.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                "notification {n}: {status} after {attempt} deliveries"
            ));
            run.settled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(Args::parse());
    let counters: &'static Counters = Box::leak(Box::default());
    metrics::set_global_recorder(Counting(counters)).map_err(|e| e.to_string())?;

    let budgets = album_api::deadline::Budgets::from_env()?;
    let sdk = album_api::store::sdk_config_from_env(&budgets).await;
    // Creation and the final check: straight to the emulator.
    let direct = Store::new(aws_sdk_dynamodb::Client::new(&sdk), &args.table).with_budgets(budgets);
    let config = album_api::config::Config::from_env(Needs::WEBHOOK).map_err(|e| e.to_string())?;
    // One app per sender, each with a client of its own (its connections,
    // and its retry partition: the SDK's retry token bucket is per
    // partition, shared by every client of a process that names none), as
    // concurrent Lambda instances each have theirs.
    let apps: Vec<App> = (0..args.senders.max(1))
        .map(|i| {
            let mut conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .retry_partition(RetryPartition::new(format!("sender-{i}")));
            if let Some(via) = &args.via {
                conf = conf.endpoint_url(via);
            }
            let store = Store::new(
                aws_sdk_dynamodb::Client::from_conf(conf.build()),
                &args.table,
            )
            .with_budgets(budgets);
            App::new(config.clone(), store)
        })
        .collect();
    let app = &apps[0];

    let album_id = args
        .album
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let key = AlbumKey::new(&args.org, &album_id);
    let created_at = album_api::service::now_rfc3339();
    let (_, created) = direct
        .create_or_get_album(&Album {
            id: album_id.clone(),
            organization_id: args.org.clone(),
            images_count: 0,
            views_count: 0,
            created_at,
            shards: args.shards.max(1),
        })
        .await
        .map_err(|e| e.to_string())?;
    if !created {
        return Err(format!("album {album_id} exists already: give a new one"));
    }
    let t0 = now();
    let keys = app.config.notification_keys().map_err(|e| e.to_string())?;
    let token = auth::issue_notification_token(
        &args.user,
        &album_id,
        &args.org,
        keys.signing(t0),
        t0,
        3600,
    )
    .map_err(|e| e.to_string())?;
    let event: Value = serde_json::from_str(EVENT).map_err(|e| e.to_string())?;
    let body: Value =
        serde_json::from_str(event["body"].as_str().unwrap_or("{}")).map_err(|e| e.to_string())?;
    let template = Arc::new((event, body));
    let token = Arc::new(token);
    let album = Arc::new(album_id.clone());

    let run = Arc::new(Run {
        started: Instant::now(),
        taken: Mutex::new(0),
        again: Mutex::new(BinaryHeap::new()),
        settled: AtomicUsize::new(0),
        attempts_ms: Mutex::new(Vec::new()),
        recorded_ms: Mutex::new(Vec::new()),
        statuses: Mutex::new(BTreeMap::new()),
        redelivered: AtomicU64::new(0),
        given_up: AtomicU64::new(0),
        last_error: Mutex::new(None),
    });
    let cpu0 = cpu_seconds();
    let started = run.started;
    let mut tasks = tokio::task::JoinSet::new();
    for app in &apps {
        tasks.spawn(sender(
            run.clone(),
            app.clone(),
            template.clone(),
            token.clone(),
            args.clone(),
            album.clone(),
            t0,
        ));
    }
    let all = async {
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(Duration::from_secs(args.timeout), all)
        .await
        .map_err(|_| format!("not done within {} s", args.timeout))??;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;

    let stored = direct
        .get_album(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the album is gone")?;
    let items = direct.count_images(&key).await.map_err(|e| e.to_string())?;
    let mut attempts =
        std::mem::take(&mut *run.attempts_ms.lock().unwrap_or_else(|p| p.into_inner()));
    let mut recorded =
        std::mem::take(&mut *run.recorded_ms.lock().unwrap_or_else(|p| p.into_inner()));
    let statuses = run
        .statuses
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let recorded_n = recorded.len();
    let line = json!({
        "album": album_id,
        "uploads": args.uploads,
        "sent": *run.taken.lock().unwrap_or_else(|p| p.into_inner()),
        "senders": args.senders,
        "shards": args.shards.max(1),
        "via": args.via,
        "seconds": seconds,
        "per_s": recorded_n as f64 / seconds,
        "deliveries": attempts.len(),
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "redelivered": run.redelivered.load(Ordering::Relaxed),
        "given_up": run.given_up.load(Ordering::Relaxed),
        "last_error": *run.last_error.lock().unwrap_or_else(|p| p.into_inner()),
        "attempt_p50_ms": percentile(&mut attempts, 50.0),
        "attempt_p99_ms": percentile(&mut attempts, 99.0),
        "recorded_p50_ms": percentile(&mut recorded, 50.0),
        "recorded_p99_ms": percentile(&mut recorded, 99.0),
        "recorded": recorded_n,
        "count_fallbacks": counters.get(album_api::metrics::COUNT_FALLBACKS),
        "recounts": counters.get(album_api::metrics::RECOUNTS),
        "recount_passes": counters.get(album_api::metrics::RECOUNT_PASSES),
        "webhook_accepted": counters.get(album_api::metrics::WEBHOOK_ACCEPTED),
        "client_cpu_s": cpu,
        "images_count": stored.images_count,
        "image_items": items,
        // The count says what the album holds...
        "exact": stored.images_count == items,
        // ...and it holds every notification recorded.
        "all_recorded": items == recorded_n as u64,
    });
    println!("{line}");
    Ok(())
}
