//! What the webhook's benches share (`bench_webhook`, `bench_imports`):
//! the functions' counters read through a recorder, one app per sender
//! (each with its own SDK client), the album they fill, the signed
//! upload notifications, and the senders that deliver them through the
//! webhook's handler in-process, re-delivering a 5xx as Cloudinary does.

use std::cmp::Ordering as Order;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use album_api::album::{Album, AlbumKey};
use album_api::cloudinary::sign_string;
use album_api::config::Config;
use album_api::deadline::Budgets;
use album_api::handlers::cloudinary_notification::handle;
use album_api::secret::Secret;
use album_api::service::{App, now};
use album_api::store::Store;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::{Map, Value, json};

/// A lock, poisoned or not (a panicked sender fails the run anyway).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The functions' counters, by name (dimensions summed), as this process
/// recorded them.
#[derive(Default)]
pub struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    /// Installs a recorder of them as the process's: once, at the start.
    pub fn install() -> Result<&'static Counters, String> {
        let counters: &'static Counters = Box::leak(Box::default());
        metrics::set_global_recorder(Counting(counters)).map_err(|e| e.to_string())?;
        Ok(counters)
    }

    /// Counter `name`'s total so far.
    pub fn get(&self, name: &str) -> u64 {
        lock(&self.0)
            .get(name)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The count protocol's counters and the webhook's accepted
    /// notifications, as a report's fields.
    pub fn report(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (field, name) in [
            ("count_fallbacks", album_api::metrics::COUNT_FALLBACKS),
            ("recounts", album_api::metrics::RECOUNTS),
            ("recounts_joined", album_api::metrics::RECOUNTS_JOINED),
            ("recount_passes", album_api::metrics::RECOUNT_PASSES),
            ("webhook_accepted", album_api::metrics::WEBHOOK_ACCEPTED),
        ] {
            m.insert(field.into(), json!(self.get(name)));
        }
        m
    }
}

struct Counting(&'static Counters);

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut map = lock(&self.0.0);
        Counter::from_arc(map.entry(key.name().to_string()).or_default().clone())
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// The `p`th percentile of `samples` (nearest rank; 0 when empty).
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[i]
}

/// This process's CPU time so far (user + system), in seconds.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// `n` apps, each with a client of its own (its connections, and its
/// retry partition `<name>-<i>`: the SDK's retry token bucket is per
/// partition, shared by every client of a process that names none), as
/// concurrent Lambda instances each have theirs; their DynamoDB calls go
/// to `via` when given (e.g. `albumctl partition-sim`).
pub fn apps(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    budgets: Budgets,
    table: &str,
    n: usize,
    name: &str,
    via: Option<&str>,
) -> Vec<App> {
    (0..n.max(1))
        .map(|i| {
            let mut conf = aws_sdk_dynamodb::config::Builder::from(sdk)
                .retry_partition(RetryPartition::new(format!("{name}-{i}")));
            if let Some(via) = via {
                conf = conf.endpoint_url(via);
            }
            let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf.build()), table)
                .with_budgets(budgets);
            App::new(config.clone(), store)
        })
        .collect()
}

/// Creates album `id` of `org`, empty, with `shards` image partitions;
/// an error if it exists already.
pub async fn create_album(store: &Store, org: &str, id: &str, shards: u32) -> Result<(), String> {
    let (_, created) = store
        .create_or_get_album(&Album {
            id: id.to_string(),
            organization_id: org.to_string(),
            images_count: 0,
            views_count: 0,
            created_at: album_api::service::now_rfc3339(),
            shards: shards.max(1),
        })
        .await
        .map_err(|e| e.to_string())?;
    if created {
        Ok(())
    } else {
        Err(format!("album {id} exists already: give a new one"))
    }
}

/// The shape of `events/cloudinary-notification.json`: an HTTP API event
/// whose body is a real upload notification.
const EVENT: &str = include_str!("../../events/cloudinary-notification.json");

/// The sample notification, as each delivery is made of it.
pub struct Notifications {
    event: Value,
    body: Value,
    secret: Secret,
}

impl Notifications {
    /// The sample, signed with `app`'s Cloudinary secret.
    pub fn new(app: &App) -> Result<Self, String> {
        let event: Value = serde_json::from_str(EVENT).map_err(|e| e.to_string())?;
        let body = serde_json::from_str(event["body"].as_str().unwrap_or("{}"))
            .map_err(|e| e.to_string())?;
        let secret = app
            .config
            .cloudinary()
            .map_err(|e| e.to_string())?
            .api_secret
            .clone();
        Ok(Self {
            event,
            body,
            secret,
        })
    }

    /// The raw body of the upload of asset `asset_id` as `public_id` into
    /// `album` (its tag), made at `created` (Unix seconds).
    pub fn upload_body(
        &self,
        album: &str,
        public_id: &str,
        asset_id: &str,
        created: i64,
        filename: &str,
    ) -> String {
        let mut body = self.body.clone();
        let stamp = time::OffsetDateTime::from_unix_timestamp(created)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        body["asset_id"] = Value::from(asset_id);
        body["public_id"] = Value::from(public_id);
        body["version"] = Value::from(created);
        body["created_at"] = Value::from(stamp.clone());
        body["timestamp"] = Value::from(stamp);
        body["tags"] = json!([album]);
        body["original_filename"] = Value::from(filename);
        body["secure_url"] = Value::from(format!(
            "https://res.cloudinary.com/sadaasdasd/image/authenticated/s--abcdefgh--/v{created}/{public_id}.jpg"
        ));
        body.to_string()
    }

    /// One delivery of `body` to the notification URL whose query string
    /// is `query` (its token, an import's id), signed now as Cloudinary
    /// signs it: the API Gateway event.
    pub fn delivery(&self, query: &[(String, String)], body: &str) -> String {
        let ts = now().to_string();
        let signature = sign_string(&format!("{body}{ts}"), &self.secret);
        let mut e = self.event.clone();
        e["rawQueryString"] = Value::from(serde_urlencoded::to_string(query).unwrap_or_default());
        e["queryStringParameters"] = query
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect::<Map<_, _>>()
            .into();
        e["headers"]["x-cld-timestamp"] = Value::from(ts);
        e["headers"]["x-cld-signature"] = Value::from(signature);
        e["body"] = Value::from(body);
        e.to_string()
    }
}

/// Delivers `note` once through the webhook's handler: the status (599
/// when the handler failed).
async fn deliver_once(app: &App, notifications: &Notifications, note: &Note) -> u16 {
    let event = notifications.delivery(&note.query, &note.body);
    let req = lambda_http::request::from_str(&event).expect("a valid API Gateway event");
    match handle(app, req).await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 599,
    }
}

/// One notification to deliver.
#[derive(Clone)]
pub struct Note {
    /// Its number (the run's own).
    pub n: usize,
    /// The query string of its notification URL.
    pub query: Vec<(String, String)>,
    /// Its raw body.
    pub body: String,
    /// When it became due (its recording's latency counts from here).
    pub first: Instant,
}

/// What a [`Source`] has for a sender.
pub enum Next {
    /// A fresh notification.
    Note(Note),
    /// None now; maybe later.
    #[allow(
        dead_code,
        reason = "each example compiles this module; bench_webhook's source never waits"
    )]
    Wait,
    /// None, ever again.
    Done,
}

/// Where the senders take fresh notifications from.
pub trait Source: Send + Sync {
    /// The next fresh notification, if any.
    fn next(&self) -> Next;
}

/// A notification waiting to be delivered again, soonest first.
struct Due {
    at: Instant,
    attempt: u32,
    note: Note,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> Order {
        other.at.cmp(&self.at)
    }
}

/// The senders: each takes a re-delivery that is due, else a fresh
/// notification, and delivers it through the webhook's handler with its
/// own app. A delivery answered 5xx is delivered again after
/// `redeliver` × the attempts so far (Cloudinary re-delivers what is not
/// answered 2xx), while its sender goes on with the next one, so they
/// keep one delivery each in flight; after `max_deliveries` it is given
/// up. They stop when the source is done and every notification taken
/// is settled (recorded or given up).
pub struct Senders {
    redeliver: Duration,
    max_deliveries: u32,
    taken: AtomicUsize,
    settled: AtomicUsize,
    again: Mutex<BinaryHeap<Due>>,
    attempts_ms: Mutex<Vec<f64>>,
    recorded: Mutex<Vec<(usize, Instant, f64)>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    redelivered: AtomicU64,
    given_up: AtomicU64,
    given_up_notes: Mutex<Vec<Note>>,
    last_error: Mutex<Option<String>>,
}

impl Senders {
    /// Senders that re-deliver after `redeliver` × the attempts, at most
    /// `max_deliveries` times.
    pub fn new(redeliver: Duration, max_deliveries: u32) -> Arc<Self> {
        Arc::new(Self {
            redeliver,
            max_deliveries,
            taken: AtomicUsize::new(0),
            settled: AtomicUsize::new(0),
            again: Mutex::new(BinaryHeap::new()),
            attempts_ms: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
            statuses: Mutex::new(BTreeMap::new()),
            redelivered: AtomicU64::new(0),
            given_up: AtomicU64::new(0),
            given_up_notes: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
        })
    }

    /// Runs one sender per app until done, or fails after `timeout`.
    pub async fn run(
        self: &Arc<Self>,
        apps: &[App],
        notifications: Arc<Notifications>,
        source: Arc<dyn Source>,
        timeout: Duration,
    ) -> Result<(), String> {
        let mut tasks = tokio::task::JoinSet::new();
        for app in apps {
            let (me, app) = (self.clone(), app.clone());
            let (notifications, source) = (notifications.clone(), source.clone());
            tasks.spawn(async move { me.sender(app, notifications, source).await });
        }
        let all = async {
            while let Some(done) = tasks.join_next().await {
                done.map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(timeout, all)
            .await
            .map_err(|_| format!("not done within {} s", timeout.as_secs()))?
    }

    async fn sender(&self, app: App, notifications: Arc<Notifications>, source: Arc<dyn Source>) {
        loop {
            let due = {
                let mut again = lock(&self.again);
                match again.peek() {
                    Some(d) if d.at <= Instant::now() => again.pop().map(|d| (d.note, d.attempt)),
                    _ => None,
                }
            };
            let job = match due {
                Some(job) => Some(job),
                None => match source.next() {
                    Next::Note(note) => {
                        self.taken.fetch_add(1, Ordering::SeqCst);
                        Some((note, 0))
                    }
                    Next::Wait => None,
                    Next::Done => {
                        let taken = self.taken.load(Ordering::SeqCst);
                        if self.settled.load(Ordering::SeqCst) >= taken {
                            return;
                        }
                        None
                    }
                },
            };
            let Some((note, attempt)) = job else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            self.deliver(&app, &notifications, note, attempt + 1).await;
        }
    }

    async fn deliver(&self, app: &App, notifications: &Notifications, note: Note, attempt: u32) {
        let t = Instant::now();
        let status = deliver_once(app, notifications, &note).await;
        lock(&self.attempts_ms).push(t.elapsed().as_secs_f64() * 1000.0);
        *lock(&self.statuses).entry(status).or_default() += 1;
        if (200..300).contains(&status) {
            let ms = note.first.elapsed().as_secs_f64() * 1000.0;
            lock(&self.recorded).push((note.n, Instant::now(), ms));
            self.settled.fetch_add(1, Ordering::SeqCst);
        } else if status >= 500 && attempt < self.max_deliveries {
            self.redelivered.fetch_add(1, Ordering::Relaxed);
            let at = Instant::now() + self.redeliver * attempt;
            lock(&self.again).push(Due { at, attempt, note });
        } else {
            self.given_up.fetch_add(1, Ordering::Relaxed);
            *lock(&self.last_error) = Some(format!(
                "notification {}: {status} after {attempt} deliveries",
                note.n
            ));
            lock(&self.given_up_notes).push(note);
            self.settled.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Delivers the first notification given up once more, after the
    /// load (as a late re-delivery would come): its status, if one was
    /// given up. Not counted in [`Senders::report`].
    pub async fn late_redelivery(&self, app: &App, notifications: &Notifications) -> Option<u16> {
        let note = lock(&self.given_up_notes).first().cloned()?;
        Some(deliver_once(app, notifications, &note).await)
    }

    /// After the load: when notifications were given up, the first one
    /// delivered again a second later through `app` (as a late
    /// re-delivery would come), and album `key`'s count read again from
    /// `direct`: `late_redelivery` (its status, or null when none was
    /// given up), `images_count_late`, `image_items_late`, `exact_late`.
    pub async fn late_check(
        &self,
        app: &App,
        notifications: &Notifications,
        direct: &Store,
        key: &AlbumKey,
    ) -> Result<Map<String, Value>, String> {
        let late = if lock(&self.given_up_notes).is_empty() {
            None
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.late_redelivery(app, notifications).await
        };
        let stored = direct
            .get_album(key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the album is gone")?;
        let items = direct.count_images(key).await.map_err(|e| e.to_string())?;
        let mut m = Map::new();
        m.insert("late_redelivery".into(), json!(late));
        m.insert("images_count_late".into(), json!(stored.images_count));
        m.insert("image_items_late".into(), json!(items));
        m.insert("exact_late".into(), json!(stored.images_count == items));
        Ok(m)
    }

    /// Notifications taken (re-deliveries not counted again).
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::SeqCst)
    }

    /// Each notification answered 2xx: its number, when, and the
    /// milliseconds from its `first`.
    pub fn recorded(&self) -> Vec<(usize, Instant, f64)> {
        lock(&self.recorded).clone()
    }

    /// The deliveries' figures, as a report's fields: `deliveries`,
    /// `statuses`, `redelivered`, `given_up`, `last_error`,
    /// `attempt_p50_ms`, `attempt_p99_ms`, `recorded`,
    /// `recorded_p50_ms`, `recorded_p99_ms` (from each one's `first`).
    pub fn report(&self) -> Map<String, Value> {
        let mut attempts = lock(&self.attempts_ms).clone();
        let mut recorded: Vec<f64> = lock(&self.recorded).iter().map(|r| r.2).collect();
        let statuses: Map<String, Value> = lock(&self.statuses)
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let mut m = Map::new();
        m.insert("deliveries".into(), json!(attempts.len()));
        m.insert("statuses".into(), Value::Object(statuses));
        m.insert(
            "redelivered".into(),
            json!(self.redelivered.load(Ordering::Relaxed)),
        );
        m.insert(
            "given_up".into(),
            json!(self.given_up.load(Ordering::Relaxed)),
        );
        m.insert("last_error".into(), json!(*lock(&self.last_error)));
        m.insert(
            "attempt_p50_ms".into(),
            json!(percentile(&mut attempts, 50.0)),
        );
        m.insert(
            "attempt_p99_ms".into(),
            json!(percentile(&mut attempts, 99.0)),
        );
        m.insert("recorded".into(), json!(recorded.len()));
        m.insert(
            "recorded_p50_ms".into(),
            json!(percentile(&mut recorded, 50.0)),
        );
        m.insert(
            "recorded_p99_ms".into(),
            json!(percentile(&mut recorded, 99.0)),
        );
        m
    }
}
