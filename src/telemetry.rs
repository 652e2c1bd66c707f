//! What the functions log and trace about each invocation: the JSON log keys, the log level and DEBUG sampling, cold starts, X-Ray annotations.
//!
//! Every function logs through `tracing`; [`install`] sets up the one
//! subscriber that writes its JSON lines, at the level of AWS Lambda
//! Powertools' logger (decision 0010): each line carries, at the top level,
//! `level`, `timestamp`, `message`, `service`, `function_name`,
//! `function_memory_size` (and `sampling_rate` when sampling is on), and
//! each line logged while handling an event also carries the keys of
//! [`Invocation`]'s span: `cold_start`, `function_request_id`,
//! `function_arn`, `correlation_id`, `xray_trace_id`, and `album_id` /
//! `job_id` once the invocation knows them ([`annotate_album`],
//! [`annotate_job`]). The keys are span fields flattened by
//! `json-subscriber`, not formatted by hand, so a handler's own fields sit
//! beside them.
//!
//! The level is `LOG_LEVEL` (the template's `LogLevel`), validated at init;
//! `LOG_SAMPLE_RATE` is the fraction of invocations logged at DEBUG
//! whatever the level, as Powertools' `POWERTOOLS_LOGGER_SAMPLE_RATE`
//! does: the function filters, so Lambda's own filter
//! (`ApplicationLogLevel`) lets DEBUG through (template.yaml says why).
//!
//! An invocation's first call is a cold start unless provisioned
//! concurrency made it ahead of any request: the `cold_start` key, the
//! `ColdStart` metric ([`crate::metrics::cold_start`]) and the trace's
//! `ColdStart` annotation say so. With active tracing, each sampled
//! invocation sends one subsegment, `## handler`, to the X-Ray daemon,
//! annotated with `ColdStart`, `Service`, `album_id` and `job_id`: X-Ray
//! indexes annotations, so a trace can be found by album or job.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tracing::field::Empty;
use tracing::level_filters::LevelFilter;
use tracing::{Instrument, Level, Span};
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};
use xray_lite::{Annotation, Client, DaemonClient, SegmentId, Subsegment, TraceId};

/// The variable holding the log level (the template's `LogLevel`).
pub const LOG_LEVEL_VAR: &str = "LOG_LEVEL";
/// The variable holding the fraction of invocations logged at DEBUG.
pub const SAMPLE_RATE_VAR: &str = "LOG_SAMPLE_RATE";
/// The variable naming the service (the `service` key and dimension).
pub const SERVICE_VAR: &str = "SERVICE_NAME";
/// The service's name when [`SERVICE_VAR`] is unset.
pub const DEFAULT_SERVICE: &str = "album-api";

/// How this process logs, read from its environment once at init.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// Lines below this level are dropped (unless the invocation is sampled).
    pub level: LevelFilter,
    /// The fraction of invocations logged at DEBUG, 0 to 1.
    pub sample_rate: f64,
    /// The `service` key.
    pub service: String,
    /// The `function_name` key (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// The `function_memory_size` key, in MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub function_memory_size: Option<u64>,
}

impl LogSettings {
    /// The settings `var` gives (the process environment in a function):
    /// a `LOG_LEVEL` or `LOG_SAMPLE_RATE` that is set but invalid is an
    /// error, so a typo in a parameter fails the deployment's first
    /// invocation instead of silently logging at another level. Without
    /// `LOG_LEVEL`, Lambda's `AWS_LAMBDA_LOG_LEVEL` or a plain `RUST_LOG`
    /// level counts (the local tools set those), else INFO.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let level = match var(LOG_LEVEL_VAR).filter(|v| !v.is_empty()) {
            Some(v) => parse_level(&v).ok_or_else(|| {
                format!("{LOG_LEVEL_VAR} is no log level (DEBUG, INFO, WARN, ERROR)")
            })?,
            None => var("AWS_LAMBDA_LOG_LEVEL")
                .or_else(|| var("RUST_LOG"))
                .and_then(|v| parse_level(&v))
                .unwrap_or(LevelFilter::INFO),
        };
        let sample_rate = match var(SAMPLE_RATE_VAR).filter(|v| !v.is_empty()) {
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{SAMPLE_RATE_VAR} is no fraction from 0 to 1"))?,
            None => 0.0,
        };
        Ok(Self {
            level,
            sample_rate,
            service: var(SERVICE_VAR)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_SERVICE.into()),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into()),
            function_memory_size: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .and_then(|v| v.parse().ok()),
        })
    }

    /// [`Self::from_vars`] over the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|k| std::env::var(k).ok())
    }
}

/// A level name as Powertools and Lambda spell them (any case; `WARNING`
/// and `FATAL`/`CRITICAL` too, which some tools write).
fn parse_level(v: &str) -> Option<LevelFilter> {
    Some(match v.trim().to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARN" | "WARNING" => LevelFilter::WARN,
        "ERROR" | "FATAL" | "CRITICAL" => LevelFilter::ERROR,
        _ => return None,
    })
}

/// What the process keeps between invocations.
struct Process {
    settings: LogSettings,
    /// The X-Ray daemon, when the function runs with active tracing.
    daemon: Option<DaemonClient>,
}

static PROCESS: OnceLock<Process> = OnceLock::new();
/// Whether the invocation in progress logs at DEBUG (sampled). Lambda
/// runs one invocation at a time per process, so one flag serves.
static DEBUG_SAMPLED: AtomicBool = AtomicBool::new(false);
/// Whether the next invocation is the process's first.
static FIRST: AtomicBool = AtomicBool::new(true);

/// Installs the JSON log subscriber with `settings` (first call only) and
/// opens the X-Ray daemon's socket when Lambda gives its address. Called
/// once at init, before anything logs.
pub fn install(settings: LogSettings) {
    if PROCESS.get().is_some() {
        return;
    }
    let installed = tracing_subscriber::registry()
        .with(json_lines(&settings, std::io::stdout))
        .try_init()
        .is_ok();
    let daemon = std::env::var(crate::store::xray::DAEMON_ADDRESS_VAR)
        .ok()
        .and_then(|_| DaemonClient::from_lambda_env().ok());
    let _ = PROCESS.set(Process { settings, daemon });
    if !installed {
        tracing::debug!("a subscriber was already installed; its format stands");
    }
}

/// The layer that writes each line as one JSON object to `writer`, with
/// the keys `settings` gives every line and the fields of the spans it was
/// logged in (the invocation's), at `settings.level` or DEBUG in a sampled
/// invocation.
fn json_lines<W>(settings: &LogSettings, writer: W) -> impl Layer<Registry> + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut layer = json_subscriber::JsonLayer::<Registry>::new(writer);
    layer
        .with_level("level")
        .with_timer("timestamp", tracing_subscriber::fmt::time::SystemTime)
        .with_target("target")
        .with_flattened_event()
        .with_top_level_flattened_span_list();
    layer.add_static_field("service", Value::from(settings.service.clone()));
    layer.add_static_field("function_name", Value::from(settings.function_name.clone()));
    if let Some(mb) = settings.function_memory_size {
        layer.add_static_field("function_memory_size", Value::from(mb));
    }
    if settings.sample_rate > 0.0 {
        layer.add_static_field("sampling_rate", Value::from(settings.sample_rate));
    }
    let base = settings.level;
    let hint = if settings.sample_rate > 0.0 {
        base.max(LevelFilter::DEBUG)
    } else {
        base
    };
    let filter = DynFilterFn::new(move |meta, _| {
        *meta.level() <= base
            || (*meta.level() <= Level::DEBUG && DEBUG_SAMPLED.load(Ordering::Relaxed))
    })
    .with_max_level_hint(hint);
    layer.with_filter(filter)
}

/// The span of one invocation: its fields are the invocation's log keys.
/// ERROR level, so the span (and so the keys) is kept whatever LOG_LEVEL
/// drops: a WARN line must still name its request.
fn invocation_span(
    cold_start: bool,
    context: &lambda_runtime::Context,
    correlation_id: &str,
    xray_trace_id: Option<&str>,
) -> Span {
    tracing::span!(
        Level::ERROR,
        "invocation",
        cold_start,
        function_request_id = %context.request_id,
        function_arn = %context.invoked_function_arn,
        correlation_id,
        xray_trace_id,
        album_id = Empty,
        job_id = Empty,
    )
}

/// The album and job ids an invocation learned, in the order it learned
/// them, each once.
#[derive(Debug, Default)]
struct Ids {
    albums: Vec<String>,
    jobs: Vec<String>,
}

/// The most ids of one kind an invocation annotates (a worker's batch
/// names a few jobs; a trace document must fit in one UDP datagram).
const MAX_IDS: usize = 20;

/// One invocation's telemetry: the span whose fields become the log keys,
/// and what its trace subsegment will be annotated with.
#[derive(Debug)]
pub struct Invocation {
    span: Span,
    ids: Mutex<Ids>,
    cold_start: bool,
    /// Whether this invocation logs at DEBUG whatever the level.
    sampled: bool,
    /// The subsegment to send at the end, when traced and sampled.
    subsegment: Mutex<Option<Subsegment>>,
}

tokio::task_local! {
    static CURRENT: Arc<Invocation>;
}

impl Invocation {
    /// Opens the telemetry of the invocation `context` describes:
    /// decides whether it logs at DEBUG (sampling), whether it is a cold
    /// start (counted by the `ColdStart` metric), and opens its span with
    /// `correlation_id` (or `Empty` until [`record_correlation_id`]).
    pub fn start(context: &lambda_runtime::Context, correlation_id: Option<&str>) -> Arc<Self> {
        let settings = PROCESS.get().map(|p| &p.settings);
        let rate = settings.map_or(0.0, |s| s.sample_rate);
        let sampled = rate > 0.0 && rand::random::<f64>() < rate;
        DEBUG_SAMPLED.store(sampled, Ordering::Relaxed);
        let cold_start = FIRST.swap(false, Ordering::Relaxed)
            && std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref()
                != Ok("provisioned-concurrency");
        if cold_start {
            crate::metrics::cold_start(settings.map_or(DEFAULT_SERVICE, |s| &s.service));
        }
        let header = context
            .xray_trace_id
            .clone()
            .or_else(|| std::env::var(crate::store::xray::TRACE_HEADER_VAR).ok());
        let root = header.as_deref().and_then(|h| header_part(h, "Root"));
        let correlation_id = correlation_id.unwrap_or(&context.request_id);
        let span = invocation_span(cold_start, context, correlation_id, root);
        let subsegment = header
            .as_deref()
            .filter(|_| PROCESS.get().is_some_and(|p| p.daemon.is_some()))
            .and_then(handler_subsegment);
        Arc::new(Self {
            span,
            ids: Mutex::new(Ids::default()),
            cold_start,
            sampled,
            subsegment: Mutex::new(subsegment),
        })
    }

    /// Whether this invocation is the process's cold start.
    pub fn cold_start(&self) -> bool {
        self.cold_start
    }

    /// Runs `work` as this invocation: its lines carry the span's keys and
    /// [`annotate_album`] / [`annotate_job`] reach this invocation.
    pub async fn run<F: Future>(self: &Arc<Self>, work: F) -> F::Output {
        CURRENT
            .scope(self.clone(), work.instrument(self.span.clone()))
            .await
    }

    /// Ends the invocation: sends its subsegment, annotated, to the X-Ray
    /// daemon (one UDP datagram; a failed send loses the trace, never the
    /// answer), marked as a fault when the invocation `failed`.
    pub fn finish(&self, failed: bool) {
        if self.sampled {
            // Said at the end, when an HTTP invocation's line can carry
            // its correlation id (known once the event is read).
            self.span
                .in_scope(|| tracing::debug!("this invocation was logged at DEBUG (sampled)"));
        }
        let Some(mut sub) = self.subsegment.lock().ok().and_then(|mut s| s.take()) else {
            return;
        };
        let Some(daemon) = PROCESS.get().and_then(|p| p.daemon.as_ref()) else {
            return;
        };
        let service = PROCESS
            .get()
            .map_or(DEFAULT_SERVICE, |p| p.settings.service.as_str());
        let ids = self.ids.lock().map(|i| (i.albums.clone(), i.jobs.clone()));
        let (albums, jobs) = ids.unwrap_or_default();
        annotate(&mut sub, self.cold_start, service, &albums, &jobs);
        sub.fault = failed;
        sub.end();
        if let Err(e) = daemon.send(&sub) {
            tracing::debug!(error = %e, "the handler subsegment was not sent");
        }
    }

    fn learn(&self, album: Option<&str>, job: Option<&str>) {
        let Ok(mut ids) = self.ids.lock() else {
            return;
        };
        if let Some(a) = album {
            if ids.albums.is_empty() {
                self.span.record("album_id", a);
            }
            if ids.albums.len() < MAX_IDS && !ids.albums.iter().any(|x| x == a) {
                ids.albums.push(a.to_string());
            }
        }
        if let Some(j) = job {
            if ids.jobs.is_empty() {
                self.span.record("job_id", j);
            }
            if ids.jobs.len() < MAX_IDS && !ids.jobs.iter().any(|x| x == j) {
                ids.jobs.push(j.to_string());
            }
        }
    }
}

/// Annotates the handler's subsegment `sub` as Powertools' tracer does
/// (`ColdStart`, `Service`) and with the first of `albums` and `jobs`;
/// each other id (a worker's batch names several jobs) annotates a
/// subsegment of its own nested in it, so a search by any of them finds
/// the trace.
fn annotate(
    sub: &mut Subsegment,
    cold_start: bool,
    service: &str,
    albums: &[String],
    jobs: &[String],
) {
    let mut annotations = HashMap::from([
        ("ColdStart".to_string(), Annotation::Bool(cold_start)),
        (
            "Service".to_string(),
            Annotation::String(service.to_string()),
        ),
    ]);
    if let Some(a) = albums.first() {
        annotations.insert("album_id".into(), Annotation::String(a.clone()));
    }
    if let Some(j) = jobs.first() {
        annotations.insert("job_id".into(), Annotation::String(j.clone()));
    }
    sub.annotations = Some(annotations);
    let Some(trace) = sub.trace_id.clone() else {
        return;
    };
    let others = albums
        .iter()
        .skip(1)
        .map(|a| ("album_id", a))
        .chain(jobs.iter().skip(1).map(|j| ("job_id", j)));
    for (key, id) in others {
        // Nested documents inherit the trace; only a subsegment sent on
        // its own names it.
        let mut child = Subsegment::begin(trace.clone(), None, format!("## {key}"));
        child.trace_id = None;
        child.annotations = Some(HashMap::from([(
            key.to_string(),
            Annotation::String(id.clone()),
        )]));
        child.end();
        sub.subsegments.push(child);
    }
}

/// Records that the invocation in progress works on album `id`: the first
/// album becomes its `album_id` log key and trace annotation, and every
/// album it names is searchable in its trace. Outside an invocation (tests,
/// the dev server) it does nothing.
pub fn annotate_album(id: &str) {
    let _ = CURRENT.try_with(|inv| inv.learn(Some(id), None));
}

/// [`annotate_album`] for a duplication or move job: the `job_id` key and
/// annotation.
pub fn annotate_job(id: &str) {
    let _ = CURRENT.try_with(|inv| inv.learn(None, Some(id)));
}

/// Records the invocation's correlation id once the event is read (API
/// Gateway's request id, which the HTTP functions only know after parsing
/// the event).
pub fn record_correlation_id(id: &str) {
    let _ = CURRENT.try_with(|inv| {
        inv.span.record("correlation_id", id);
    });
}

/// The correlation id of a non-HTTP event: an EventBridge event's `id`, a
/// Scheduler run's `execution_id`, or the first stream (or queue) record's
/// `eventID` (`messageId`); `None` for anything else (the request id then
/// stands in).
pub fn event_correlation_id(event: &Value) -> Option<&str> {
    let first = event.get("Records").and_then(|r| r.get(0));
    event
        .get("id")
        .or_else(|| event.get("execution_id"))
        .or_else(|| first.and_then(|r| r.get("eventID").or_else(|| r.get("messageId"))))
        .and_then(Value::as_str)
}

/// One `key=value` part of an X-Ray trace header.
fn header_part<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == key).then_some(v)
    })
}

/// The handler's subsegment, begun now, child of the invocation's segment
/// the trace header names; `None` when the header is unusable or the
/// invocation is not sampled (X-Ray would drop what is sent).
fn handler_subsegment(header: &str) -> Option<Subsegment> {
    if header_part(header, "Sampled") != Some("1") {
        return None;
    }
    let trace: TraceId = serde_json::from_value(header_part(header, "Root")?.into()).ok()?;
    let parent: SegmentId = serde_json::from_value(header_part(header, "Parent")?.into()).ok()?;
    Some(Subsegment::begin(trace, Some(parent), "## handler"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<LogSettings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogSettings::from_vars(|k| vars.get(k).cloned())
    }

    #[test]
    fn the_log_level_parameter_wins_over_lambdas_and_bad_values_fail_init() {
        let s = settings(&[("LOG_LEVEL", "warn"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).unwrap();
        assert_eq!(s.level, LevelFilter::WARN);
        assert_eq!(s.sample_rate, 0.0);
        assert_eq!(s.service, DEFAULT_SERVICE);
        let s = settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).unwrap();
        assert_eq!(s.level, LevelFilter::DEBUG);
        assert_eq!(settings(&[]).unwrap().level, LevelFilter::INFO);
        // RUST_LOG directives are no level: INFO, not an error.
        let s = settings(&[("RUST_LOG", "album_api=debug")]).unwrap();
        assert_eq!(s.level, LevelFilter::INFO);
        let e = settings(&[("LOG_LEVEL", "LOUD")]).unwrap_err();
        assert!(e.contains("LOG_LEVEL"), "{e}");
    }

    #[test]
    fn the_sample_rate_is_a_fraction_from_zero_to_one() {
        let s = settings(&[("LOG_SAMPLE_RATE", "0.1"), ("SERVICE_NAME", "albums")]).unwrap();
        assert_eq!(s.sample_rate, 0.1);
        assert_eq!(s.service, "albums");
        for bad in ["1.5", "-0.1", "ten", "NaN"] {
            let e = settings(&[("LOG_SAMPLE_RATE", bad)]).unwrap_err();
            assert!(e.contains("LOG_SAMPLE_RATE"), "{bad}: {e}");
        }
    }

    /// A writer into a buffer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_carry_the_keys_at_the_top_level_and_sampling_lets_debug_through() {
        let settings = LogSettings {
            level: LevelFilter::WARN,
            sample_rate: 0.5,
            service: "svc".into(),
            function_name: "GetAlbumFunction".into(),
            function_memory_size: Some(256),
        };
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber =
            tracing_subscriber::registry().with(json_lines(&settings, move || writer.clone()));
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-1".into();
        context.invoked_function_arn = "arn:aws:lambda:eu-west-1:1:function:f:live".into();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("outside any invocation");
            let span = invocation_span(true, &context, "apigw-1", Some("1-abc-def"));
            span.in_scope(|| {
                tracing::info!("below the level: dropped");
                tracing::debug!("not sampled: dropped");
                tracing::warn!(job = "j-1", "kept");
            });
            span.record("album_id", "alb-1");
            DEBUG_SAMPLED.store(true, Ordering::Relaxed);
            span.in_scope(|| tracing::debug!("sampled: kept"));
            DEBUG_SAMPLED.store(false, Ordering::Relaxed);
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let messages: Vec<&str> = lines
            .iter()
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            ["outside any invocation", "kept", "sampled: kept"],
            "{text}"
        );
        for line in &lines {
            assert_eq!(line["service"], "svc", "{line}");
            assert_eq!(line["function_name"], "GetAlbumFunction", "{line}");
            assert_eq!(line["function_memory_size"], 256, "{line}");
            assert_eq!(line["sampling_rate"], 0.5, "{line}");
            assert!(line["timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
        }
        assert!(
            lines[0].get("function_request_id").is_none(),
            "{}",
            lines[0]
        );
        let kept = &lines[1];
        assert_eq!(kept["level"], "WARN");
        assert_eq!(kept["cold_start"], true);
        assert_eq!(kept["function_request_id"], "req-1");
        assert_eq!(
            kept["function_arn"],
            "arn:aws:lambda:eu-west-1:1:function:f:live"
        );
        assert_eq!(kept["correlation_id"], "apigw-1");
        assert_eq!(kept["xray_trace_id"], "1-abc-def");
        assert_eq!(kept["job"], "j-1");
        assert!(kept.get("album_id").is_none(), "{kept}");
        assert_eq!(lines[2]["level"], "DEBUG");
        assert_eq!(lines[2]["album_id"], "alb-1");
    }

    #[test]
    fn a_batch_of_jobs_annotates_one_subsegment_per_job() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let mut sub = handler_subsegment(header).unwrap();
        let jobs = ["j-1", "j-2", "j-3"].map(String::from);
        annotate(&mut sub, false, "svc", &["a-1".into()], &jobs);
        sub.end();
        let doc = serde_json::to_value(&sub).unwrap();
        assert_eq!(doc["annotations"]["ColdStart"], false, "{doc}");
        assert_eq!(doc["annotations"]["Service"], "svc");
        assert_eq!(doc["annotations"]["album_id"], "a-1");
        assert_eq!(doc["annotations"]["job_id"], "j-1");
        let nested: Vec<&Value> = doc["subsegments"].as_array().unwrap().iter().collect();
        let ids: Vec<&Value> = nested.iter().map(|d| &d["annotations"]["job_id"]).collect();
        assert_eq!(ids, ["j-2", "j-3"], "{doc}");
        for d in nested {
            assert_eq!(d["name"], "## job_id");
            assert!(
                d.get("trace_id").is_none() && d.get("end_time").is_some(),
                "{d}"
            );
        }
    }

    #[test]
    fn correlation_ids_come_from_eventbridge_scheduler_and_stream_events() {
        let eventbridge = serde_json::json!({"id": "eb-1", "detail": {}});
        assert_eq!(event_correlation_id(&eventbridge), Some("eb-1"));
        let scheduler = serde_json::json!({"source_album_id": "a", "execution_id": "ex-1"});
        assert_eq!(event_correlation_id(&scheduler), Some("ex-1"));
        let stream = serde_json::json!({"Records": [{"eventID": "s-1"}, {"eventID": "s-2"}]});
        assert_eq!(event_correlation_id(&stream), Some("s-1"));
        assert_eq!(event_correlation_id(&serde_json::json!({"x": 1})), None);
    }

    #[test]
    fn only_sampled_trace_headers_get_a_handler_subsegment() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let header = format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(header_part(&header, "Root"), Some(root));
        let sub = handler_subsegment(&header).expect("a sampled header");
        let doc = serde_json::to_value(&sub).unwrap();
        assert_eq!(doc["trace_id"], root);
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["name"], "## handler");
        assert!(handler_subsegment(&header.replace("Sampled=1", "Sampled=0")).is_none());
        assert!(handler_subsegment("garbage").is_none());
    }
}
