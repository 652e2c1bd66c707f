//! Crashes of the hundred-image requests: the real `move_images` and
//! `delete_images` binaries under AWS's Lambda Runtime Interface Emulator
//! (as [`super::crash_recovery`] runs `duplicate_album`), killed with
//! SIGKILL, emulator and all, in the middle of a request naming 100
//! images; then started again and sent the same request, as a client or
//! API Gateway retry would.
//!
//! A move sends 100 of a source album's 104 images (some tagged, with one
//! tag or two) to three albums, one created by the move: the retry answers
//! 200 with the 100 ids, and every image is in exactly one album (its
//! destination, or the source for the four not named), every count exact,
//! every tag association with its image once, no move claim or delete
//! intent left. A bulk delete deletes 100 images of two albums: the retry
//! answers 200 with the ids still in their album at the kill, and every
//! one of the 100 is in no album and in the trash once, with its album and
//! tag associations; the counts are exact, nothing is left pending.
//!
//! Kill points: half the kills as soon as a random share (1–80 %) of the
//! images has been moved or deleted; on dynalite the other half after a
//! random share (20–80 %) of an uncrashed run's duration, as the last
//! polled kill estimated it (the time to its first images, then the pace
//! it saw), or as the last retry of a whole request took. On moto,
//! whose slower, load-bound runs made timed kills land outside the request
//! too often, every kill is polled and the requests name 20 images
//! ([`scale`]). A bulk delete, which costs more an image, is killed fewer
//! times than a move. Each trial has a table of its own: what it checks
//! (the trash, the claims and intents left) is its own. Prints `image move
//! crash trials=3 exact=3 …` and `bulk delete crash …` (`-- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::calls::{self, Format, Payload, album_image_ids};
use crate::support::rie::{Function, http_answer, rie_path};
use crate::support::security::Endpoint;
use crate::support::tagging::{assert_associations_exactly, create_tag, tag_images};
use crate::support::*;
use album_api::App;
use album_api::store::Store;
use album_api::store::trash::TrashedImage;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Images of the source albums the requests do not name: they stay.
const STAYING: usize = 4;

/// How the trials run on the emulator at hand.
#[derive(Clone, Copy)]
struct Scale {
    /// The images one request names.
    named: usize,
    /// Kills, each followed by the same request sent again.
    trials: u32,
    /// Whether every other kill is timed rather than polled.
    timed: bool,
    /// How often a polled kill counts the images: each look is a few
    /// Queries the emulator serves beside the function's.
    poll: Duration,
}

/// On dynalite, requests of 100 images (their maximum, `MAX_MOVES` and
/// `MAX_BULK_DELETE`), the second kill timed. moto's server answers
/// several times more slowly (a 100-image move took 10–20 s there on a
/// loaded machine, near the request's 25 s budget; 30 images, 4 s): 20
/// images, every kill polled, less often. `trials` kills, each followed by
/// the same request sent again.
fn scale(trials: u32) -> Scale {
    if emulator_is_moto() {
        Scale {
            named: 20,
            trials,
            timed: false,
            poll: Duration::from_millis(100),
        }
    } else {
        Scale {
            named: 100,
            trials,
            timed: true,
            poll: Duration::from_millis(40),
        }
    }
}

/// A trial's own table, with the seed's organization and user, an app over
/// it (for tagging), a store straight to it and two tags.
struct Table {
    env: TestEnv,
    store: Store,
    tags: [String; 2],
    token: String,
}

impl Table {
    async fn new(name: &str) -> Table {
        let env = TestEnv::new(name).await;
        let store = env.direct_store().await;
        let token = env.token(USER, None);
        let mut ids = Vec::new();
        for tag in ["crash-a", "crash-b"] {
            let tag = create_tag(&env.app, &token, tag).await;
            ids.push(tag["id"].as_str().expect("a tag id").to_string());
        }
        let tags = [ids[0].clone(), ids[1].clone()];
        Table {
            env,
            store,
            tags,
            token,
        }
    }

    fn app(&self) -> &App {
        &self.env.app
    }

    /// Tags images `ids` (every fourth with the first tag, every fifth
    /// with the second): the `(image id, tag id)` pairs made.
    async fn tag(&self, ids: &[String]) -> BTreeSet<(String, String)> {
        let mut pairs = BTreeSet::new();
        for (tag, every) in self.tags.iter().zip([4, 5]) {
            let chosen: Vec<&str> = ids.iter().step_by(every).map(String::as_str).collect();
            for chunk in chosen.chunks(50) {
                tag_images(self.app(), &self.token, tag, chunk).await;
            }
            pairs.extend(chosen.iter().map(|i| (i.to_string(), tag.clone())));
        }
        pairs
    }

    /// Seeds album `id` with `n` images: their ids.
    async fn seed_album(&self, id: &str, n: usize) -> Vec<String> {
        seed_album(&self.store, id, ORG, n as u64)
            .await
            .into_iter()
            .map(|i| i.id)
            .collect()
    }
}

/// The Lambda function of one binary under the emulator.
struct Harness {
    rie: PathBuf,
    exe: PathBuf,
    /// Its logical id in `template.yaml`.
    function: &'static str,
    log: PathBuf,
}

/// Where a kill is aimed.
enum Aim {
    /// After `share` of an uncrashed run's length, `baseline`.
    After { baseline: Duration, share: f64 },
    /// Once this many images are done.
    AtImages(u64),
}

impl Aim {
    /// After a random 20–80 % of `timed` when given, else at a random
    /// 1–80 % of the `named` images.
    fn random(timed: Option<Duration>, named: usize, rng: &mut StdRng) -> Aim {
        match timed {
            Some(baseline) => Aim::After {
                baseline,
                share: rng.random_range(0.2..0.8),
            },
            None => Aim::AtImages(rng.random_range(1..=(named as u64 * 8 / 10))),
        }
    }
}

/// Where a kill landed.
struct Kill {
    /// Where it was aimed.
    aimed: String,
    /// Whether the answer had come.
    answered: bool,
    /// Whether the function was still running.
    function_ran: bool,
    /// A polled kill's estimate of how long the request runs uncrashed:
    /// the time its first images took (cold start and reads before the
    /// first write included), then the rest at the pace seen since.
    estimate: Option<Duration>,
}

impl Harness {
    fn new(exe: &str, function: &'static str, name: &str) -> Harness {
        // One log per emulator: `make test` runs the suite on both at once.
        let emulator = if emulator_is_moto() {
            "moto"
        } else {
            "dynalite"
        };
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("crash_recovery_images-{name}-rie-{emulator}.log"));
        let _ = std::fs::remove_file(&log);
        Harness {
            rie: rie_path(),
            exe: PathBuf::from(exe),
            function,
            log,
        }
    }

    fn start(&self, table: &Table) -> Function {
        Function::start(
            &self.rie,
            &self.exe,
            self.function,
            &table.env.table,
            &self.log,
        )
    }

    /// Sends `event` to a fresh function and waits for its answer: status,
    /// JSON body and how long the invocation took (cold start included).
    async fn answer(&self, table: &Table, event: &Value, what: &str) -> (u64, Value, Duration) {
        let mut f = self.start(table);
        let started = Instant::now();
        let answer =
            tokio::time::timeout(Duration::from_secs(240), Function::invoke(f.port, event))
                .await
                .unwrap_or_else(|_| panic!("{what}: no answer in 240 s (log: {})", self.log()))
                .unwrap_or_else(|e| panic!("{what}: {e} (log: {})", self.log()));
        let took = started.elapsed();
        f.kill();
        let (status, body) = http_answer(&answer);
        (status, body, took)
    }

    /// Sends `event` to a fresh function again while it answers 503, as a
    /// client honouring Retry-After would (a loaded machine can stretch a
    /// request past its budget), before `check` (which reads what the
    /// sending will answer) and at most 3 times: the last answer, what
    /// `check` read before it, and how long it took.
    async fn answer_past_503<C, Fut, R>(
        &self,
        table: &Table,
        event: &Value,
        what: &str,
        mut check: C,
    ) -> (u64, Value, R, Duration)
    where
        C: FnMut() -> Fut,
        Fut: Future<Output = R>,
    {
        let mut sent = 0;
        loop {
            sent += 1;
            let before = check().await;
            let (status, body, took) = self.answer(table, event, what).await;
            if status != 503 || sent == 3 {
                return (status, body, before, took);
            }
            eprintln!(
                "{what}: 503 after {} ms ({body}); sent again",
                took.as_millis()
            );
        }
    }

    /// Sends `event` to a fresh function and kills it (SIGKILL) where
    /// `aim` says: after a time, or once `progress` (the images moved or
    /// deleted so far) reaches a number of them.
    async fn kill_mid_way<F, Fut>(
        &self,
        table: &Table,
        event: &Value,
        Scale { named, poll, .. }: Scale,
        aim: Aim,
        what: &str,
        mut progress: F,
    ) -> Kill
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = u64>,
    {
        let mut f = self.start(table);
        let port = f.port;
        let started = Instant::now();
        let mut estimate = None;
        let call = tokio::spawn({
            let event = event.clone();
            async move { Function::invoke(port, &event).await }
        });
        let aimed = if let Aim::After { baseline, share } = aim {
            let at = baseline.mul_f64(share);
            tokio::time::sleep(at).await;
            format!(
                "after {} ms ({:.0} % of {} ms)",
                at.as_millis(),
                share * 100.0,
                baseline.as_millis()
            )
        } else {
            let Aim::AtImages(target) = aim else {
                unreachable!()
            };
            let mut first: Option<(Duration, u64)> = None;
            loop {
                let done = progress().await;
                if done > 0 {
                    let (at, so_far) = *first.get_or_insert((started.elapsed(), done));
                    let pace = (done - so_far) as f64;
                    if done >= target {
                        // A pace seen over a tenth of the images at least.
                        estimate = (pace >= named as f64 / 10.0).then(|| {
                            let per_image = (started.elapsed() - at).as_secs_f64() / pace;
                            at + Duration::from_secs_f64(per_image * (named as u64 - so_far) as f64)
                        });
                        break;
                    }
                }
                assert!(
                    !call.is_finished(),
                    "{what}: the request ended before {target} images (log: {})",
                    self.log()
                );
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "{what}: never reached {target} images (log: {})",
                    self.log()
                );
                tokio::time::sleep(poll).await;
            }
            format!("at >= {target} images")
        };
        let answered = call.is_finished();
        let function_ran = f.kill();
        call.abort();
        let _ = call.await;
        Kill {
            aimed,
            answered,
            function_ran,
            estimate,
        }
    }

    fn log(&self) -> String {
        self.log.display().to_string()
    }
}

/// One kind of request killed mid-way: its seeding, its progress, what a
/// kill may leave and what the request sent again must leave.
trait Trial: Sized {
    /// What the request does to an image ("move", "delete").
    const VERB: &'static str;
    /// How many times it is killed.
    const TRIALS: u32;

    /// Seeds `table` for the trial and builds its request naming `named`
    /// images.
    async fn seed(table: &Table, named: usize, rng: &mut StdRng) -> Self;

    fn event(&self) -> &Value;

    /// Images moved or deleted so far, as a poll sees them.
    async fn progress(&self, store: &Store) -> u64;

    /// After a kill: asserts no image is lost; returns how many are done
    /// (in their destination, or out of their album) and how many are
    /// still to do (in their source, or in their album).
    async fn after_kill(&self, store: &Store, what: &str) -> (usize, usize);

    /// Sends the request to a fresh function ([`Harness::answer_past_503`])
    /// and asserts its answer and everything it must leave. Returns how
    /// long the last sending took.
    async fn send_to_completion(&self, h: &Harness, table: &Table, what: &str) -> Duration;
}

/// Runs the trials of `T` on the binary `exe` (function `function`): each
/// in a fresh table, killed mid-way, then sent again to completion.
async fn crash_trials<T: Trial>(exe: &str, function: &'static str) {
    let h = Harness::new(exe, function, T::VERB);
    let seed: u64 = rand::rng().random();
    let mut rng = StdRng::seed_from_u64(seed);
    let scale = scale(T::TRIALS);
    let Scale {
        named,
        trials,
        timed,
        ..
    } = scale;
    // An uncrashed run's length, as the last polled kill estimates it.
    let mut baseline: Option<Duration> = None;
    let mut outcomes: BTreeMap<&str, u32> = BTreeMap::new();
    let (mut exact, mut mid_way) = (0, 0);
    let mut at_kill = Vec::new();
    for trial in 0..trials {
        let table = Table::new(&format!("{}-crash-{trial}", T::VERB)).await;
        let t = T::seed(&table, named, &mut rng).await;
        let what = format!("{} trial {trial} (seed {seed})", T::VERB);
        let timed_at = baseline.filter(|_| timed && trial % 2 == 1);
        let store = &table.store;
        let kill = h
            .kill_mid_way(
                &table,
                t.event(),
                scale,
                Aim::random(timed_at, named, &mut rng),
                &what,
                || t.progress(store),
            )
            .await;
        let what = format!("{what}, killed {}", kill.aimed);
        let (done, to_do) = t.after_kill(store, &what).await;
        let when = if kill.answered || !kill.function_ran {
            "after the answer"
        } else if done == 0 {
            "before the first image"
        } else if to_do > 0 {
            mid_way += 1;
            "mid-way"
        } else {
            "after the last image, before the answer"
        };
        *outcomes.entry(when).or_default() += 1;
        at_kill.push((done, to_do));
        let what = format!("{what} ({when})");
        eprintln!("{what}: {done} images done, {to_do} to do; sent again");
        if when == "mid-way" && kill.estimate.is_some() {
            baseline = kill.estimate;
        }

        let took = t.send_to_completion(&h, &table, &what).await;
        if done == 0 {
            baseline = Some(took);
        }
        exact += 1;
    }
    eprintln!(
        "{} crash trials={trials} images={named} exact={exact} killed_mid_way={mid_way} \
         outcomes={outcomes:?} done_and_to_do_at_kill={at_kill:?} uncrashed_ms_estimate={:?} \
         seed={seed}",
        if T::VERB == "move" {
            "image move"
        } else {
            "bulk delete"
        },
        baseline.map(|b| b.as_millis()),
    );
    assert_eq!(exact, trials);
    assert!(
        mid_way >= trials / 2,
        "most kills must land mid-way ({mid_way} of {trials}, seed {seed})"
    );
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
        out.extend(
            page.items()
                .iter()
                .map(|i| i["sk"].as_s().expect("sk").clone()),
        );
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

/// Asserts no move claim and no delete intent is left: a request that
/// answered 200 ended every one it began.
async fn assert_nothing_pending(store: &Store, what: &str) {
    for prefix in ["M#", "D#"] {
        let left = org_sort_keys(store, prefix).await;
        assert!(left.is_empty(), "{what}: left behind {left:?}");
    }
}

/// The image items `albums` hold together (counted at once).
async fn images_in(store: &Store, albums: &[String]) -> u64 {
    let counts = albums
        .iter()
        .map(|a| async move { store.count_images(&key(a)).await.expect("a count") });
    futures_util::future::join_all(counts)
        .await
        .into_iter()
        .sum()
}

/// The image ids each of `albums` holds (its partitions' items).
async fn held(store: &Store, albums: &[String]) -> BTreeMap<String, BTreeSet<String>> {
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
    let albums: Vec<String> = end.keys().cloned().collect();
    let now = held(store, &albums).await;
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

fn ids_of(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("an array of ids: {body}"))
        .iter()
        .map(|v| v.as_str().expect("an id").to_string())
        .collect()
}

// ---------------------------------------------------------------- moves

/// A move of images from a source album to three others.
struct MoveTrial {
    event: Value,
    source: String,
    /// The destinations, the last one created by the move.
    destinations: Vec<String>,
    /// The images moved, in the request's order, and where each goes.
    moved: Vec<(String, String)>,
    /// The images the destinations held before.
    already: u64,
    /// Album → the image ids it must end with.
    end: BTreeMap<String, BTreeSet<String>>,
    /// Every tag association made, as `(image id, tag id)`.
    pairs: BTreeSet<(String, String)>,
}

impl MoveTrial {
    fn ids(&self) -> Vec<String> {
        self.moved.iter().map(|(id, _)| id.clone()).collect()
    }
}

impl Trial for MoveTrial {
    const VERB: &'static str = "move";
    const TRIALS: u32 = 3;

    /// The source's first `named` images, each to a random one of three
    /// albums: two holding images already, one the move creates.
    async fn seed(table: &Table, named: usize, rng: &mut StdRng) -> Self {
        let source = "src".to_string();
        let destinations: Vec<String> = ["kept", "kept2", "new"].map(String::from).to_vec();
        let ids = table.seed_album(&source, named + STAYING).await;
        let mut pairs = table.tag(&ids).await;
        let mut end: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        end.insert(source.clone(), ids[named..].iter().cloned().collect());
        let mut already = 0;
        for (d, n) in destinations.iter().zip([3, 1, 0]) {
            let before = if n > 0 {
                table.seed_album(d, n).await
            } else {
                Vec::new()
            };
            pairs.extend(table.tag(&before).await);
            already += n as u64;
            end.insert(d.clone(), before.into_iter().collect());
        }
        let moved: Vec<(String, String)> = ids[..named]
            .iter()
            .map(|id| {
                let to = &destinations[rng.random_range(0..destinations.len())];
                (id.clone(), to.clone())
            })
            .collect();
        for (id, to) in &moved {
            end.get_mut(to).unwrap().insert(id.clone());
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
            Some(&bearer(&table.token)),
            None,
            &[],
            Some(&Payload::form(&form)),
            Format::Http,
        );
        MoveTrial {
            event,
            source,
            destinations,
            moved,
            already,
            end,
            pairs,
        }
    }

    fn event(&self) -> &Value {
        &self.event
    }

    /// Images in the destinations now, beyond those there before.
    async fn progress(&self, store: &Store) -> u64 {
        images_in(store, &self.destinations)
            .await
            .saturating_sub(self.already)
    }

    /// Every moved image is in its source or its destination (or both,
    /// mid-move), in no other album: how many are in their destination,
    /// how many still in the source.
    async fn after_kill(&self, store: &Store, what: &str) -> (usize, usize) {
        let albums: Vec<String> = self.end.keys().cloned().collect();
        let now = held(store, &albums).await;
        let (mut arrived, mut left) = (0, 0);
        for (id, to) in &self.moved {
            let in_albums: Vec<&String> = now
                .iter()
                .filter(|(_, ids)| ids.contains(id))
                .map(|(a, _)| a)
                .collect();
            let in_source = in_albums.contains(&&self.source);
            let in_destination = in_albums.contains(&to);
            assert!(
                (in_source || in_destination) && in_albums.len() <= 2,
                "{what}: image {id} (to {to}) is in {in_albums:?}"
            );
            arrived += usize::from(in_destination);
            left += usize::from(in_source);
        }
        (arrived, left)
    }

    /// 200 with every id, in order (those moved before the kill are found
    /// in their destination); then every image in exactly its album, as
    /// the partitions and the index both say, every count and tag
    /// association exact, nothing pending.
    async fn send_to_completion(&self, h: &Harness, table: &Table, what: &str) -> Duration {
        let (status, body, (), took) = h
            .answer_past_503(table, &self.event, what, || async {})
            .await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(ids_of(&body), self.ids(), "{what}: the ids answered");
        let store = &table.store;
        assert_albums_exact(store, &self.end, &self.pairs, what).await;
        let found: Vec<(&String, &String, Vec<String>)> =
            futures_util::stream::iter(self.moved.iter())
                .map(|(id, to)| async move {
                    let copies = store.find_image_copies(ORG, id).await.unwrap();
                    (id, to, copies.into_iter().map(|k| k.album.id).collect())
                })
                .buffer_unordered(8)
                .collect()
                .await;
        for (id, to, albums) in found {
            assert_eq!(
                albums,
                std::slice::from_ref(to),
                "{what}: the copies of {id}"
            );
        }
        assert_nothing_pending(store, what).await;
        took
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_move_killed_mid_way_leaves_each_image_in_one_album_once_sent_again() {
    crash_trials::<MoveTrial>(env!("CARGO_BIN_EXE_move_images"), "MoveImagesFunction").await;
}

// ---------------------------------------------------------------- bulk deletes

/// A bulk delete of images of two albums.
struct DeleteTrial {
    event: Value,
    /// The two albums and the images each must end with.
    end: BTreeMap<String, BTreeSet<String>>,
    /// The images deleted, in the request's order, with their album.
    deleted: Vec<(String, String)>,
    /// Every tag association made.
    pairs: BTreeSet<(String, String)>,
}

impl DeleteTrial {
    /// Every image named is in its album or in the trash (or both,
    /// mid-delete). Returns those still in their album, in the request's
    /// order: what a sending now deletes and answers with.
    async fn still_there(&self, store: &Store, what: &str) -> Vec<String> {
        let albums: Vec<String> = self.end.keys().cloned().collect();
        let now = held(store, &albums).await;
        let trash: BTreeSet<String> = org_sort_keys(store, "X#")
            .await
            .into_iter()
            .map(|sk| sk[2..].to_string())
            .collect();
        let mut left = Vec::new();
        for (id, album) in &self.deleted {
            let there = now[album].contains(id);
            assert!(
                there || trash.contains(id),
                "{what}: image {id} is neither in {album} nor in the trash"
            );
            if there {
                left.push(id.clone());
            }
        }
        left
    }
}

impl Trial for DeleteTrial {
    const VERB: &'static str = "delete";
    const TRIALS: u32 = 2;

    /// Two albums, `x` with three fifths of the images named and four
    /// more that stay, `y` with the other two fifths; the request names
    /// them alternately, one of each album's.
    async fn seed(table: &Table, named: usize, _: &mut StdRng) -> Self {
        let (x, y) = ("x".to_string(), "y".to_string());
        let in_y = named * 2 / 5;
        let of_x = table.seed_album(&x, named - in_y + STAYING).await;
        let of_y = table.seed_album(&y, in_y).await;
        let mut pairs = table.tag(&of_x).await;
        pairs.extend(table.tag(&of_y).await);
        let mut deleted = Vec::new();
        for i in 0..of_x.len() {
            if let Some(id) = of_x.get(i + STAYING) {
                deleted.push((id.clone(), x.clone()));
            }
            if let Some(id) = of_y.get(i) {
                deleted.push((id.clone(), y.clone()));
            }
        }
        assert_eq!(deleted.len(), named);
        let mut end = BTreeMap::new();
        end.insert(x, of_x[..STAYING].iter().cloned().collect());
        end.insert(y, BTreeSet::new());
        let form: Vec<(&str, &str)> = deleted
            .iter()
            .map(|(id, _)| ("image_ids[]", id.as_str()))
            .collect();
        let event = calls::api_event(
            Endpoint::DeleteImages,
            Some(&bearer(&table.token)),
            None,
            &[],
            Some(&Payload::form(&form)),
            Format::Http,
        );
        DeleteTrial {
            event,
            end,
            deleted,
            pairs,
        }
    }

    fn event(&self) -> &Value {
        &self.event
    }

    /// Images gone from the two albums so far.
    async fn progress(&self, store: &Store) -> u64 {
        let albums: Vec<String> = self.end.keys().cloned().collect();
        let seeded = (self.deleted.len() + STAYING) as u64;
        seeded.saturating_sub(images_in(store, &albums).await)
    }

    async fn after_kill(&self, store: &Store, what: &str) -> (usize, usize) {
        let left = self.still_there(store, what).await.len();
        (self.deleted.len() - left, left)
    }

    /// 200 with the ids still in their album when it was sent (those the
    /// killed sending deleted are missing now, as after any delete); then
    /// the images named in no album, each in the trash once with its album
    /// and tag associations (what a restore puts back), the rest, the
    /// counts and the tag associations exact, nothing pending.
    async fn send_to_completion(&self, h: &Harness, table: &Table, what: &str) -> Duration {
        let store = &table.store;
        let (status, body, left, took) = h
            .answer_past_503(table, &self.event, what, || self.still_there(store, what))
            .await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(ids_of(&body), left, "{what}: the ids answered");
        assert_albums_exact(store, &self.end, &self.pairs, what).await;
        let trash: Vec<String> = org_sort_keys(store, "X#")
            .await
            .into_iter()
            .map(|sk| sk[2..].to_string())
            .collect();
        let named: BTreeSet<String> = self.deleted.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(
            trash.iter().cloned().collect::<BTreeSet<_>>(),
            named,
            "{what}: the trash holds the images deleted"
        );
        assert_eq!(trash.len(), named.len(), "{what}: each once");
        let at = album_api::service::now() as u64;
        let kept: Vec<(&String, &String, Option<TrashedImage>)> = futures_util::stream::iter(
            self.deleted.iter(),
        )
        .map(|(id, album)| async move { (id, album, store.trashed(ORG, id, at).await.unwrap()) })
        .buffer_unordered(8)
        .collect()
        .await;
        for (id, album, trashed) in kept {
            let t = trashed.unwrap_or_else(|| panic!("{what}: {id} is not in the trash"));
            assert_eq!(
                &t.album_id, album,
                "{what}: the album {id} was deleted from"
            );
            let mut tags: Vec<String> = t.tags.iter().map(|s| s.tag_id.clone()).collect();
            tags.sort();
            let expected: Vec<String> = self
                .pairs
                .iter()
                .filter(|(image, _)| image == id)
                .map(|(_, tag)| tag.clone())
                .collect();
            assert_eq!(
                tags, expected,
                "{what}: the tag associations the trash keeps of {id}"
            );
        }
        assert_nothing_pending(store, what).await;
        took
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_delete_killed_mid_way_trashes_each_image_once_with_exact_counts_once_sent_again() {
    crash_trials::<DeleteTrial>(env!("CARGO_BIN_EXE_delete_images"), "DeleteImagesFunction").await;
}
