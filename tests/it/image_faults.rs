//! Every kind of DynamoDB fault, one at a time, against the requests of
//! single images through their real handlers, the app's DynamoDB client
//! behind the fault proxy: a move of some thirty images of one album to
//! three albums (`POST /api/v1/images/move`; one album created by the
//! move), a bulk delete of some thirty images of two albums
//! (`DELETE /api/v1/images`), and restores from the trash
//! (`DELETE /api/v1/trashed_images/{image_id}`), half of the images
//! tagged, some twice. Kinds: `UnprocessedItems` (the tag images'
//! batch writes), throttling, 500s, connection resets and answers slower
//! than the SDK's attempt timeout.
//!
//! Each request must end one of two ways: a 200, exact; or a clear 503
//! (`unavailable`, with `Retry-After`) after which the same request sent
//! again ends exact: re-sent with the faults still on (moderate runs, up
//! to three sendings in all), then with faults off. Exact: every image in
//! exactly one album (its destination, or its source if not named; after
//! a delete in no album and in the trash once, with its album and tags;
//! after a restore back in its album once and out of the trash), every
//! count equal to its album's image items, every tag association with its
//! image once, no move claim (`M#`) or delete intent (`D#`) left, and the
//! answer naming the images the request moved or deleted. After a 503 no
//! image is lost (in its source or its destination; in its album or the
//! trash). A 200 that is not exact, another 5xx, or any other answer fails
//! the test.
//!
//! Two runs per test (one on moto, either kind by turns): a moderate one
//! (every operation faulted at rates the retries mostly absorb, the first
//! call of each operation for sure), then a harsh one (the writes faulted
//! harder, with two attempts per call: a 503 part-way, then the re-send
//! with faults off). Each test prints a summary line (`-- --nocapture`),
//! e.g. `fault=throttle op=move runs=2 exact=2 first_try=1 after_503=1
//! injected=75`; for restores a run is one image's restore.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use album_api::App;
use album_api::store::{RetryPolicy, Store, tuned};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_sdk_dynamodb::types::AttributeValue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::support::calls::{self, Format, Payload, Resp, album_image_ids, call};
use crate::support::fault_proxy::{FaultConfig, FaultProxy, FaultStats};
use crate::support::security::Endpoint;
use crate::support::tagging::{assert_associations_exactly, create_tag, tag_images};
use crate::support::*;

/// Images of a source album a move or a bulk delete does not name.
const STAYING: usize = 4;
/// Images of the restores' album that were never deleted.
const KEPT: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unprocessed,
    Throttle,
    ServerError,
    Reset,
    Delay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Move,
    Delete,
    Restore,
}

/// How hard one run is faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    /// Every operation faulted at a rate the retries mostly absorb; a 503
    /// is re-sent with the faults still on.
    Moderate,
    /// The writes faulted harder, two attempts per call: a 503 part-way
    /// is the usual end of the first sending, re-sent with faults off.
    Harsh,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Unprocessed => "unprocessed_items",
            Kind::Throttle => "throttle",
            Kind::ServerError => "server_error_500",
            Kind::Reset => "connection_reset",
            Kind::Delay => "delay_past_sdk_timeout",
        }
    }

    fn config(self, severity: Severity, seed: u64) -> FaultConfig {
        let harsh = severity == Severity::Harsh;
        let rate = |moderate: f64, hard: f64| if harsh { hard } else { moderate };
        let mut cfg = FaultConfig {
            seed,
            // The first call of each operation faulted whatever the dice
            // say: every operation's retry path runs for sure.
            first_of_each_op: true,
            ..FaultConfig::default()
        };
        match self {
            Kind::Unprocessed => cfg.unprocessed_rate = rate(0.4, 0.7),
            Kind::Throttle => cfg.throttle_rate = rate(0.08, 0.15),
            Kind::ServerError => cfg.server_error_rate = rate(0.08, 0.15),
            Kind::Reset => cfg.reset_rate = rate(0.05, 0.12),
            Kind::Delay => {
                // Each delay costs a whole attempt timeout: fewer.
                cfg.delay_rate = rate(0.03, 0.1);
                cfg.delay = attempt_timeout() * 2;
            }
        }
        if harsh {
            // The writes only: a failure then leaves a request part-way
            // (claimed, placed, trashed, not yet deleted…) for the re-send.
            cfg = cfg.only(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]);
        }
        cfg
    }

    /// Faults of this kind the proxy injected.
    fn injected(self, stats: &FaultStats) -> u64 {
        match self {
            Kind::Unprocessed => stats.unprocessed_calls,
            Kind::Throttle => stats.throttled,
            Kind::ServerError => stats.server_errors,
            Kind::Reset => stats.resets,
            Kind::Delay => stats.delayed,
        }
    }
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Move => "move",
            Op::Delete => "delete",
            Op::Restore => "restore",
        }
    }

    /// The images one run names: a move's or a bulk delete's, or the
    /// images restored one by one. moto's single server, which the whole
    /// moto suite waits on, answers several times more slowly: fewer.
    fn images(self) -> usize {
        match (self, emulator_is_moto()) {
            (Op::Move | Op::Delete, false) => 30,
            (Op::Move | Op::Delete, true) => 10,
            (Op::Restore, false) => 6,
            (Op::Restore, true) => 3,
        }
    }
}

/// Runs per test: a moderate one, then a harsh one. On moto, whose
/// single server the whole moto suite waits on, one: moderate or harsh
/// by turns over the tests (both ways are run for every test on dynalite).
fn runs() -> u64 {
    if emulator_is_moto() { 1 } else { 2 }
}

/// How hard run `index` of the test of `kind` and `op` is faulted.
fn severity(kind: Kind, op: Op, index: u64) -> Severity {
    let harsh = if emulator_is_moto() {
        (kind as u64 + op as u64) % 2 == 1
    } else {
        index == 1
    };
    if harsh {
        Severity::Harsh
    } else {
        Severity::Moderate
    }
}

/// The SDK attempt timeout of the delay runs' client (production has
/// seconds, far too long for a test); injected delays are twice as long.
/// The calls here are single items or a few tag images: moto's need less
/// room than the 25-item batches of a copy, but more than dynalite's.
fn attempt_timeout() -> Duration {
    if emulator_is_moto() {
        Duration::from_millis(1000)
    } else {
        Duration::from_millis(250)
    }
}

/// The crate's own retries (tag images' batches, refused recounts).
fn policy(severity: Severity) -> RetryPolicy {
    match severity {
        Severity::Moderate => RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(100),
        },
        Severity::Harsh => RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(2),
            cap: Duration::from_millis(20),
        },
    }
}

/// How many sendings of one request meet the faults (the rest: none).
fn faulted_sendings(severity: Severity) -> usize {
    match severity {
        Severity::Moderate => 3,
        Severity::Harsh => 1,
    }
}

/// A client like production's ([`tuned`]) through `endpoint`: for the
/// delay runs with [`attempt_timeout`], for harsh runs with two attempts a
/// call, and with a retry partition of its own, so that the faults here
/// cannot drain the retry tokens of the other tests' clients.
async fn faulted_client(
    endpoint: &str,
    kind: Kind,
    severity: Severity,
    partition: String,
) -> Client {
    let budgets = test_budgets();
    let sdk = tuned(
        aws_config::defaults(aws_config::BehaviorVersion::latest()),
        &budgets,
    )
    .region("us-east-1")
    .credentials_provider(Credentials::new("test", "test", None, None, "test"))
    .load()
    .await;
    let mut conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .retry_partition(RetryPartition::new(partition));
    if kind == Kind::Delay {
        conf = conf.timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(attempt_timeout())
                .build(),
        );
    }
    if severity == Severity::Harsh {
        conf = conf.retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(200)),
        );
    }
    Client::from_conf(conf.build())
}

/// A test's table: the app under faults, a store and an app straight to
/// the emulator (setup and checks), a token and two tags.
struct Fixture {
    env: TestEnv,
    direct: Store,
    setup: App,
    token: String,
    tags: [String; 2],
}

impl Fixture {
    async fn new(tag: &str) -> Fixture {
        let env = TestEnv::new(tag).await;
        let direct = env.direct_store().await;
        let setup = App::new(config(&env.table), direct.clone());
        let token = env.token(USER, None);
        let mut ids = Vec::new();
        for name in ["faults-a", "faults-b"] {
            let tag = create_tag(&setup, &token, name).await;
            ids.push(tag["id"].as_str().expect("a tag id").to_string());
        }
        let tags = [ids[0].clone(), ids[1].clone()];
        Fixture {
            env,
            direct,
            setup,
            token,
            tags,
        }
    }

    /// Seeds album `id` with `n` images: their ids.
    async fn seed(&self, id: &str, n: usize) -> Vec<String> {
        seed_album(&self.direct, id, ORG, n as u64)
            .await
            .into_iter()
            .map(|i| i.id)
            .collect()
    }

    /// Tags images `ids` (every third with the first tag, every fourth
    /// with the second, the first of them with both): the `(image id, tag
    /// id)` pairs made.
    async fn tag(&self, ids: &[String]) -> BTreeSet<(String, String)> {
        let mut pairs = BTreeSet::new();
        for (tag, every) in self.tags.iter().zip([3, 4]) {
            let chosen: Vec<&str> = ids.iter().step_by(every).map(String::as_str).collect();
            if chosen.is_empty() {
                continue;
            }
            tag_images(&self.setup, &self.token, tag, &chosen).await;
            pairs.extend(chosen.iter().map(|i| (i.to_string(), tag.clone())));
        }
        pairs
    }

    fn auth(&self) -> String {
        bearer(&self.token)
    }
}

/// One run: its kind, severity and seed, a proxy of its own and the two
/// stores the app switches between (under faults, and calm: production's
/// client and retries, for the sendings with faults off).
struct Run {
    kind: Kind,
    op: Op,
    severity: Severity,
    seed: u64,
    index: u64,
    proxy: FaultProxy,
    faulted: Store,
    calm: Store,
}

impl Run {
    async fn new(fx: &Fixture, kind: Kind, op: Op, index: u64) -> Run {
        let severity = severity(kind, op, index);
        let seed = 1000 * (kind as u64 + 1) + 100 * (op as u64) + index;
        let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
        let partition = format!("image-faults-{}-{}-{seed}", kind.name(), op.name());
        let client = faulted_client(&proxy.endpoint(), kind, severity, partition).await;
        let faulted = Store::new(client, &fx.env.table)
            .with_budgets(test_budgets())
            .with_retry_policy(policy(severity));
        let calm = Store::new(client_for(&proxy.endpoint()).await, &fx.env.table)
            .with_budgets(test_budgets());
        Run {
            kind,
            op,
            severity,
            seed,
            index,
            proxy,
            faulted,
            calm,
        }
    }

    fn what(&self) -> String {
        format!(
            "fault={} op={} run={} seed={} {:?}",
            self.kind.name(),
            self.op.name(),
            self.index,
            self.seed,
            self.severity
        )
    }

    /// Sends `event` to `ep` until it answers anything but a 503: the
    /// first [`faulted_sendings`] under this run's faults (seeded with
    /// `seed`), the rest with faults off. `again` runs before each
    /// sending after a 503 (what it checks of a request cut off, what it
    /// reads of the state the sending starts from); its last value is
    /// returned (`None`: sent once) with the last answer and every status
    /// answered. Every 503 must be a clear one.
    async fn send<R>(
        &self,
        fx: &Fixture,
        ep: Endpoint,
        event: &Value,
        seed: u64,
        what: &str,
        mut again: impl AsyncFnMut() -> R,
    ) -> (Resp, Option<R>, Vec<u16>) {
        let mut app = fx.env.app.clone();
        app.store = self.faulted.clone();
        self.proxy.set_config(self.kind.config(self.severity, seed));
        let faulted = faulted_sendings(self.severity);
        let mut statuses = Vec::new();
        let mut read = None;
        loop {
            if !statuses.is_empty() {
                read = Some(again().await);
            }
            let r = call(&app, ep, event).await;
            statuses.push(r.status);
            if r.status != 503 {
                self.proxy.set_config(FaultConfig::none());
                return (r, read, statuses);
            }
            assert_eq!(
                r.json["error"]["code"], "unavailable",
                "{what}: a 503 that is not a clear one: {}",
                r.text
            );
            assert!(
                r.header("retry-after").is_some(),
                "{what}: a 503 without Retry-After: {}",
                r.text
            );
            assert!(
                statuses.len() < faulted + 3,
                "{what}: still 503 after {statuses:?}: {}",
                r.text
            );
            eprintln!(
                "{what}: 503 ({}); sent again{}",
                r.json["error"]["message"],
                if statuses.len() >= faulted {
                    " with faults off"
                } else {
                    ""
                }
            );
            if statuses.len() == faulted {
                self.proxy.set_config(FaultConfig::none());
                app.store = self.calm.clone();
            }
        }
    }
}

/// What a test's runs came to.
#[derive(Default)]
struct Tally {
    runs: u64,
    exact: u64,
    first_try: u64,
    after_503: u64,
    injected: u64,
}

impl Tally {
    /// Records one request ended exact after `statuses`.
    fn exact(&mut self, statuses: &[u16]) {
        self.runs += 1;
        self.exact += 1;
        if statuses.len() == 1 {
            self.first_try += 1;
        } else {
            self.after_503 += 1;
        }
    }
}

async fn exercise(kind: Kind, op: Op) {
    let short = kind.name().split('_').next().unwrap_or("f");
    let fx = Fixture::new(&format!("if-{short}-{}", op.name())).await;
    let mut tally = Tally::default();
    let started = Instant::now();
    for index in 0..runs() {
        let run = Run::new(&fx, kind, op, index).await;
        let run_started = Instant::now();
        match op {
            Op::Move => move_run(&fx, &run, &mut tally).await,
            Op::Delete => delete_run(&fx, &run, &mut tally).await,
            Op::Restore => restore_run(&fx, &run, &mut tally).await,
        }
        let stats = run.proxy.stats();
        let injected = kind.injected(&stats);
        eprintln!(
            "{}: done in {:?}; injected {injected} ({:?}); {} calls",
            run.what(),
            run_started.elapsed(),
            stats.faults_by_op,
            stats.dynamodb_calls
        );
        assert!(injected > 0, "{}: no fault injected: {stats:?}", run.what());
        tally.injected += injected;
    }
    eprintln!(
        "fault={} op={} runs={} exact={} first_try={} after_503={} injected={} in {:?}",
        kind.name(),
        op.name(),
        tally.runs,
        tally.exact,
        tally.first_try,
        tally.after_503,
        tally.injected,
        started.elapsed()
    );
    assert_eq!(tally.exact, tally.runs);
    assert!(tally.injected > 0, "no run injected a fault");
}

// ---------------------------------------------------------------- checks

/// The sort keys of organization [`ORG`]'s partition that begin with
/// `prefix` (`X#` trashed images, `M#` move claims, `D#` delete intents).
async fn org_sort_keys(store: &Store, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(album_api::store::keys::org_pk(ORG)),
            )
            .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Query");
        // A trash item a restore marked restored (`ra`) is no longer in
        // the trash: it stays a day for the restore's retry to find.
        out.extend(
            page.items()
                .iter()
                .filter(|i| !i.contains_key("ra"))
                .map(|i| i["sk"].as_s().expect("sk").clone()),
        );
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

/// Asserts no move claim and no delete intent is left.
async fn assert_nothing_pending(store: &Store, what: &str) {
    for prefix in ["M#", "D#"] {
        let left = org_sort_keys(store, prefix).await;
        assert!(left.is_empty(), "{what}: left behind {left:?}");
    }
}

/// The ids of the images in the trash.
async fn trash_ids(store: &Store) -> BTreeSet<String> {
    org_sort_keys(store, "X#")
        .await
        .into_iter()
        .map(|sk| sk[2..].to_string())
        .collect()
}

/// The image ids each of `albums` holds (its partitions' items; an image
/// stored twice in one album fails the test).
async fn held<'a>(
    store: &Store,
    albums: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for a in albums {
        out.insert(a.clone(), album_image_ids(store, a).await);
    }
    out
}

/// Asserts each album of `end` holds exactly the images it names, with
/// its count and its tag associations (those of `pairs` of its images)
/// exact.
async fn assert_albums_exact(
    store: &Store,
    end: &BTreeMap<String, BTreeSet<String>>,
    pairs: &BTreeSet<(String, String)>,
    what: &str,
) {
    let now = held(store, end.keys()).await;
    for (album, expected) in end {
        let got = &now[album];
        let missing: Vec<_> = expected.difference(got).collect();
        let extra: Vec<_> = got.difference(expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{what}: {album} misses {missing:?}, holds besides {extra:?}"
        );
        assert_album_exact(store, album, expected.len() as u64, what).await;
        let pairs: BTreeSet<(String, String)> = pairs
            .iter()
            .filter(|(image, _)| expected.contains(image))
            .cloned()
            .collect();
        assert_associations_exactly(store, album, &pairs, what).await;
    }
}

/// The tag ids of `pairs` of image `id`, sorted.
fn tags_of(pairs: &BTreeSet<(String, String)>, id: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(image, _)| image == id)
        .map(|(_, tag)| tag.clone())
        .collect()
}

fn ids_of(r: &Resp) -> Vec<String> {
    r.array()
        .iter()
        .map(|v| v.as_str().expect("an id").to_string())
        .collect()
}

// ---------------------------------------------------------------- moves

/// A move of [`Op::images`] images of a source album to three albums (two
/// holding images already, tagged too; one the move creates), the other
/// [`STAYING`] images left where they are.
async fn move_run(fx: &Fixture, run: &Run, tally: &mut Tally) {
    let what = run.what();
    let n = Op::Move.images();
    let i = run.index;
    let source = format!("src-{i}");
    let destinations = [
        format!("kept-{i}"),
        format!("kept2-{i}"),
        format!("new-{i}"),
    ];
    let ids = fx.seed(&source, n + STAYING).await;
    let mut pairs = fx.tag(&ids).await;
    let mut end: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    end.insert(source.clone(), ids[n..].iter().cloned().collect());
    for (d, before) in destinations.iter().zip([2, 1, 0]) {
        let before = if before > 0 {
            fx.seed(d, before).await
        } else {
            Vec::new()
        };
        pairs.extend(fx.tag(&before).await);
        end.insert(d.clone(), before.into_iter().collect());
    }
    // Each destination gets some: the first three one each.
    let mut rng = StdRng::seed_from_u64(run.seed);
    let moved: Vec<(String, String)> = ids[..n]
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let to = if k < 3 { k } else { rng.random_range(0..3) };
            (id.clone(), destinations[to].clone())
        })
        .collect();
    for (id, to) in &moved {
        end.get_mut(to).expect("a destination").insert(id.clone());
    }
    let keys: Vec<String> = moved
        .iter()
        .map(|(id, _)| format!("move_operations[{id}]"))
        .collect();
    let form: Vec<(&str, &str)> = keys
        .iter()
        .zip(&moved)
        .map(|(k, (_, to))| (k.as_str(), to.as_str()))
        .collect();
    let event = calls::api_event(
        Endpoint::MoveImages,
        Some(&fx.auth()),
        None,
        &[],
        Some(&Payload::form(&form)),
        Format::Http,
    );
    let albums: Vec<String> = end.keys().cloned().collect();
    // Before a sending again: no image lost or in a third album (in its
    // source, its destination, or both mid-move); the staying ones home.
    let sent = Instant::now();
    let (r, _, statuses) = run
        .send(
            fx,
            Endpoint::MoveImages,
            &event,
            run.seed,
            &what,
            async || {
                let now = held(&fx.direct, &albums).await;
                for (id, to) in &moved {
                    let in_albums: Vec<&String> = now
                        .iter()
                        .filter(|(_, ids)| ids.contains(id))
                        .map(|(a, _)| a)
                        .collect();
                    assert!(
                        !in_albums.is_empty()
                            && in_albums.iter().all(|a| **a == source || *a == to),
                        "{what}: image {id} (to {to}) is in {in_albums:?}"
                    );
                }
                for id in &ids[n..] {
                    assert!(now[&source].contains(id), "{what}: {id} left its album");
                }
            },
        )
        .await;
    assert_eq!(r.status, 200, "{what}: {statuses:?} {}", r.text);
    let all: Vec<String> = moved.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids_of(&r), all, "{what}: the ids answered");
    assert_albums_exact(&fx.direct, &end, &pairs, &what).await;
    assert_nothing_pending(&fx.direct, &what).await;
    eprintln!("{what}: {statuses:?} in {:?}, exact", sent.elapsed());
    tally.exact(&statuses);
}

// ---------------------------------------------------------------- bulk deletes

/// A bulk delete of [`Op::images`] images of two albums, named alternately:
/// `x` holds three fifths of them and [`STAYING`] more, `y` the rest.
async fn delete_run(fx: &Fixture, run: &Run, tally: &mut Tally) {
    let what = run.what();
    let n = Op::Delete.images();
    let i = run.index;
    let (x, y) = (format!("x-{i}"), format!("y-{i}"));
    let in_y = n * 2 / 5;
    let of_x = fx.seed(&x, n - in_y + STAYING).await;
    let of_y = fx.seed(&y, in_y).await;
    let mut pairs = fx.tag(&of_x).await;
    pairs.extend(fx.tag(&of_y).await);
    let mut deleted: Vec<(String, String)> = Vec::new();
    for k in 0..of_x.len() {
        if let Some(id) = of_x.get(k + STAYING) {
            deleted.push((id.clone(), x.clone()));
        }
        if let Some(id) = of_y.get(k) {
            deleted.push((id.clone(), y.clone()));
        }
    }
    assert_eq!(deleted.len(), n);
    let mut end = BTreeMap::new();
    end.insert(x.clone(), of_x[..STAYING].iter().cloned().collect());
    end.insert(y.clone(), BTreeSet::new());
    let form: Vec<(&str, &str)> = deleted
        .iter()
        .map(|(id, _)| ("image_ids[]", id.as_str()))
        .collect();
    let event = calls::api_event(
        Endpoint::DeleteImages,
        Some(&fx.auth()),
        None,
        &[],
        Some(&Payload::form(&form)),
        Format::Http,
    );
    let albums: Vec<String> = end.keys().cloned().collect();
    // Before a sending again: every image named in its album or in the
    // trash (or both, mid-delete); those still in their album, in the
    // request's order, are what the sending deletes and answers with (the
    // first sending: all of them).
    let sent = Instant::now();
    let (r, left, statuses) = run
        .send(
            fx,
            Endpoint::DeleteImages,
            &event,
            run.seed,
            &what,
            async || {
                let now = held(&fx.direct, &albums).await;
                let trash = trash_ids(&fx.direct).await;
                let mut left = Vec::new();
                for (id, album) in &deleted {
                    let there = now[album].contains(id);
                    assert!(
                        there || trash.contains(id),
                        "{what}: image {id} is neither in {album} nor in the trash"
                    );
                    if there {
                        left.push(id.clone());
                    }
                }
                for id in &of_x[..STAYING] {
                    assert!(now[&x].contains(id), "{what}: {id} left its album");
                }
                left
            },
        )
        .await;
    assert_eq!(r.status, 200, "{what}: {statuses:?} {}", r.text);
    let left = left.unwrap_or_else(|| deleted.iter().map(|(id, _)| id.clone()).collect());
    assert_eq!(ids_of(&r), left, "{what}: the ids answered");
    assert_albums_exact(&fx.direct, &end, &pairs, &what).await;
    // Each in the trash once (one item an image), with its album and tags.
    let trash = trash_ids(&fx.direct).await;
    let now = album_api::service::now() as u64;
    for (id, album) in &deleted {
        assert!(trash.contains(id), "{what}: {id} is not in the trash");
        let t = fx
            .direct
            .trashed(ORG, id, now)
            .await
            .expect("GetItem")
            .unwrap_or_else(|| panic!("{what}: {id} is not in the trash"));
        assert_eq!(
            &t.album_id, album,
            "{what}: the album {id} was deleted from"
        );
        let mut tags: Vec<String> = t.tags.iter().map(|s| s.tag_id.clone()).collect();
        tags.sort();
        assert_eq!(tags, tags_of(&pairs, id), "{what}: the tags kept of {id}");
    }
    assert_nothing_pending(&fx.direct, &what).await;
    eprintln!("{what}: {statuses:?} in {:?}, exact", sent.elapsed());
    tally.exact(&statuses);
}

// ---------------------------------------------------------------- restores

/// [`Op::images`] images of an album deleted (faults off) and restored one
/// by one under faults, each checked as it ends: back in its album once,
/// with its tags, out of the trash, the count exact.
async fn restore_run(fx: &Fixture, run: &Run, tally: &mut Tally) {
    let what = run.what();
    let m = Op::Restore.images();
    let album = format!("r-{}", run.index);
    let ids = fx.seed(&album, m + KEPT).await;
    let pairs = fx.tag(&ids).await;
    let restored = &ids[..m];
    let refs: Vec<&str> = restored.iter().map(String::as_str).collect();
    let form: Vec<(&str, &str)> = refs.iter().map(|id| ("image_ids[]", *id)).collect();
    let bulk = calls::api_event(
        Endpoint::DeleteImages,
        Some(&fx.auth()),
        None,
        &[],
        Some(&Payload::form(&form)),
        Format::Http,
    );
    let r = calls::call_retrying_503(&fx.setup, Endpoint::DeleteImages, &bulk, 5).await;
    assert_eq!(r.status, 200, "{what}: deleting into the trash: {}", r.text);
    assert_eq!(ids_of(&r), restored, "{what}: deleted into the trash");
    assert_album_exact(&fx.direct, &album, KEPT as u64, &what).await;
    let albums = [album.clone()];
    for (k, id) in restored.iter().enumerate() {
        let what = format!("{what} image {k}");
        let event = Endpoint::RestoreTrashedImage.event(Some(&fx.auth()), Some(id));
        let seed = run.seed * 100 + k as u64;
        // Before a sending again: in its album or in the trash (or both,
        // mid-restore).
        let sent = Instant::now();
        let (r, _, statuses) = run
            .send(
                fx,
                Endpoint::RestoreTrashedImage,
                &event,
                seed,
                &what,
                async || {
                    let now = held(&fx.direct, &albums).await;
                    let trashed = trash_ids(&fx.direct).await.contains(id);
                    assert!(
                        now[&album].contains(id) || trashed,
                        "{what}: neither in {album} nor in the trash"
                    );
                },
            )
            .await;
        match r.status {
            200 => {
                assert_eq!(r.json["id"], id.as_str(), "{what}: {}", r.text);
                assert_eq!(r.json["album_id"], album.as_str(), "{what}: {}", r.text);
            }
            other => panic!("{what}: {statuses:?}: {other} {}", r.text),
        }
        let now = held(&fx.direct, &albums).await;
        assert!(now[&album].contains(id), "{what}: not back in {album}");
        assert!(
            !trash_ids(&fx.direct).await.contains(id),
            "{what}: still in the trash"
        );
        let back = (KEPT + k + 1) as u64;
        assert_album_exact(&fx.direct, &album, back, &what).await;
        let expected: BTreeSet<(String, String)> = pairs
            .iter()
            .filter(|(image, _)| now[&album].contains(image))
            .cloned()
            .collect();
        assert_associations_exactly(&fx.direct, &album, &expected, &what).await;
        eprintln!("{what}: {statuses:?} in {:?}, exact", sent.elapsed());
        tally.exact(&statuses);
    }
    let end = BTreeMap::from([(album.clone(), ids.iter().cloned().collect())]);
    assert_albums_exact(&fx.direct, &end, &pairs, &what).await;
    assert_nothing_pending(&fx.direct, &what).await;
}

// ---------------------------------------------------------------- tests

macro_rules! fault_tests {
    ($($name:ident: $kind:expr, $op:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            exercise($kind, $op).await;
        }
    )*};
}

fault_tests! {
    move_under_unprocessed_items_ends_exact: Kind::Unprocessed, Op::Move;
    move_under_throttling_ends_exact: Kind::Throttle, Op::Move;
    move_under_server_errors_ends_exact: Kind::ServerError, Op::Move;
    move_under_connection_resets_ends_exact: Kind::Reset, Op::Move;
    move_under_answers_slower_than_the_sdk_timeout_ends_exact: Kind::Delay, Op::Move;
    bulk_delete_under_unprocessed_items_ends_exact: Kind::Unprocessed, Op::Delete;
    bulk_delete_under_throttling_ends_exact: Kind::Throttle, Op::Delete;
    bulk_delete_under_server_errors_ends_exact: Kind::ServerError, Op::Delete;
    bulk_delete_under_connection_resets_ends_exact: Kind::Reset, Op::Delete;
    bulk_delete_under_answers_slower_than_the_sdk_timeout_ends_exact: Kind::Delay, Op::Delete;
    restore_under_unprocessed_items_ends_exact: Kind::Unprocessed, Op::Restore;
    restore_under_throttling_ends_exact: Kind::Throttle, Op::Restore;
    restore_under_server_errors_ends_exact: Kind::ServerError, Op::Restore;
    restore_under_connection_resets_ends_exact: Kind::Reset, Op::Restore;
    restore_under_answers_slower_than_the_sdk_timeout_ends_exact: Kind::Delay, Op::Restore;
}
