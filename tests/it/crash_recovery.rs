//! Crashes: the real `duplicate_album` binary under AWS's Lambda Runtime
//! Interface Emulator (the one `aws-sam-cli` ships, as `make invoke` uses),
//! killed with SIGKILL, emulator and all, at a random point of a 3,000-image
//! copy; then started again and sent the same request, as a client or API
//! Gateway retry would. The retry must answer 200 with `images_count` 3000
//! and leave exactly 3,000 images in the destination.
//!
//! Kill points: half the trials after a random share (20–80 %) of an
//! uncrashed run's measured duration, half as soon as the destination holds
//! a random number of items (so the kill surely lands inside the copy).
//! Prints `crash trials=10 exact=10 …` (`-- --nocapture`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The album killed mid-copy, and the kills: on dynalite. moto's server
/// copies several times slower, so its run kills a smaller album fewer
/// times ([`scale`]): the same kill points (before, inside and after the
/// copy), in about half the time.
const IMAGES: u64 = 3000;
const TRIALS: u32 = 10;

/// (images, trials) on the emulator at hand.
fn scale() -> (u64, u32) {
    if emulator_is_moto() {
        (2000, 4)
    } else {
        (IMAGES, TRIALS)
    }
}
/// The function's logical id in `template.yaml`.
const FUNCTION: &str = "DuplicateAlbumFunction";

/// The emulator binary: `.venv`'s aws-sam-cli copy, installed by
/// `scripts/rie-path.sh` (which `make test`'s `deps` runs) when missing.
fn rie_path() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "arm64",
        other => panic!("no Lambda Runtime Interface Emulator for architecture {other}"),
    };
    let name = format!("aws-lambda-rie-{arch}");
    let in_venv = std::fs::read_dir(root.join(".venv/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| {
            d.path()
                .join("site-packages/samcli/local/rapid")
                .join(&name)
        })
        .find(|p| p.is_file());
    let path = in_venv.unwrap_or_else(|| {
        let out = Command::new(root.join("scripts/rie-path.sh"))
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/rie-path.sh: {e}"));
        assert!(
            out.status.success(),
            "scripts/rie-path.sh failed ({}): the Lambda Runtime Interface Emulator ships in \
             aws-sam-cli; run `make deps` to install .venv",
            out.status
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    });
    assert!(
        path.is_file(),
        "the Lambda Runtime Interface Emulator is missing ({}): run `make deps`",
        path.display()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    if mode & 0o111 == 0 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o755)).unwrap();
    }
    path
}

/// Two distinct loopback ports nobody listens on right now.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Process ids of `pid`'s descendants (children first), from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| {
            let child: u32 = d.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(d.path().join("stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parens.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, ppid))
        })
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, ppid) in &parents {
            if ppid == p && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

/// Whether process `pid` has the executable `exe`.
fn runs(pid: u32, exe: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p.file_name() == exe.file_name())
}

/// The function under the emulator, on its own loopback ports. Dropping it
/// kills both (a failed assertion leaves nothing running).
struct Function {
    rie: Child,
    port: u16,
    exe: PathBuf,
    killed: bool,
}

impl Function {
    fn start(rie: &Path, table: &str, log: &Path) -> Function {
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_duplicate_album"));
        let (port, runtime_api) = free_ports();
        let log_path = log;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(rie)
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{runtime_api}"))
            .arg(&exe)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // The function's environment, as `crate::support::config` configures the app.
            .env("TABLE_NAME", table)
            .env("JWT_SECRET", JWT_SECRET)
            .env("CLOUDINARY_URL", CLOUDINARY_URL)
            .env("PUBLIC_API_URL", PUBLIC_API_URL)
            .env("AWS_ENDPOINT_URL_DYNAMODB", emulator_endpoint())
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "300")
            .env("RUST_LOG", "info")
            // The tests' budgets (production's, scaled against moto).
            .envs(budget_env())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", rie.display()));
        let mut function = Function {
            rie: child,
            port,
            exe,
            killed: false,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if started.elapsed() > Duration::from_secs(20)
                || function.rie.try_wait().is_ok_and(|s| s.is_some())
            {
                function.kill();
                panic!(
                    "the emulator did not listen on {addr} (log: {})",
                    log_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        function
    }

    /// SIGKILL to the function and the emulator: no clean-up runs, in-flight
    /// writes are cut wherever they are. Returns whether the function
    /// process was running.
    fn kill(&mut self) -> bool {
        if self.killed {
            return false;
        }
        self.killed = true;
        let mut pids = descendants(self.rie.id());
        let function_ran = pids.iter().any(|&p| runs(p, &self.exe));
        pids.push(self.rie.id());
        // Some may be gone already (an exit status is fine either way).
        let _ = Command::new("kill")
            .arg("-9")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        // The emulator is ours to reap; the function, its child, is
        // re-parented and reaped when the emulator dies.
        let _ = self.rie.wait();
        function_ran
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Function {
    /// Posts `event` like `sam local invoke`: the function's answer.
    async fn invoke(port: u16, event: &Value) -> Result<Value, String> {
        let client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let req = hyper::Request::post(format!(
            "http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        ))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(event.to_string())))
        .unwrap();
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice(&body)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&body)))
    }
}

/// Status and JSON body of an API Gateway (HTTP API) answer.
fn http_answer(answer: &Value) -> (u64, Value) {
    let status = answer["statusCode"].as_u64().unwrap_or(0);
    let body = answer["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// Runs the request to the end under a fresh emulator; asserts it answers
/// 200 with the full count. Returns how long the invocation took.
async fn run_to_completion(
    rie: &Path,
    table: &str,
    log: &Path,
    event: &Value,
    what: &str,
    images: u64,
) -> Duration {
    let mut f = Function::start(rie, table, log);
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(240), Function::invoke(f.port, event))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 240 s (log: {})", log.display()))
        .unwrap_or_else(|e| panic!("{what}: {e} (log: {})", log.display()));
    let took = started.elapsed();
    f.kill();
    let (status, body) = http_answer(&answer);
    assert_eq!(status, 200, "{what}: {answer}");
    assert_eq!(body["images_count"], images, "{what}: {body}");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_killed_mid_copy_is_exact_after_a_retry() {
    let rie = rie_path();
    let env = TestEnv::new("crash").await;
    let direct = env.direct_store().await;
    let (images, trials) = scale();
    seed_album(&direct, SOURCE, ORG, images).await;
    let token = bearer(&env.token(USER, None));
    // One log per emulator: `make test` runs the suite on both at once.
    let emulator = if emulator_is_moto() {
        "moto"
    } else {
        "dynalite"
    };
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("crash_recovery-rie-{emulator}.log"));
    let _ = std::fs::remove_file(&log);
    let event_for = |destination: &str| {
        duplicate_event(
            "duplicate-album.json",
            Some(&token),
            SOURCE,
            Some(&format!("destination_id={destination}")),
        )
    };

    // An uncrashed run: the baseline for kill times (from the request to
    // the answer; the function's cold start included, as in every trial).
    let mut baseline = run_to_completion(
        &rie,
        &env.table,
        &log,
        &event_for("uncrashed"),
        "uncrashed",
        images,
    )
    .await;
    assert_album_exact(&direct, "uncrashed", images, "uncrashed").await;

    let seed: u64 = rand::rng().random();
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut exact, mut mid_copy, mut before_recount, mut after_answer) = (0, 0, 0, 0);
    let mut before_copy = 0;
    let mut kills = Vec::new();
    for trial in 0..trials {
        let destination = format!("crash-{trial}");
        let event = event_for(&destination);
        let mut f = Function::start(&rie, &env.table, &log);
        let port = f.port;
        let call = tokio::spawn({
            let event = event.clone();
            async move { Function::invoke(port, &event).await }
        });
        let kill_point = if trial % 2 == 0 {
            let share = rng.random_range(0.2..0.8);
            let at = baseline.mul_f64(share);
            tokio::time::sleep(at).await;
            format!("after {} ms ({:.0} %)", at.as_millis(), share * 100.0)
        } else {
            // Up to 80 %: the destination is polled, and the copy runs on
            // while a count is taken.
            let target = rng.random_range(100..images * 8 / 10);
            let waiting = Instant::now();
            while direct.count_images(&destination).await.unwrap() < target {
                assert!(
                    !call.is_finished(),
                    "trial {trial}: the request ended before {target} items"
                );
                assert!(
                    waiting.elapsed() < Duration::from_secs(120),
                    "trial {trial}: never reached {target} items"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            format!("at >= {target} items")
        };
        let answered = call.is_finished();
        let function_ran = f.kill();
        call.abort();
        let _ = call.await;
        let left = direct.count_images(&destination).await.unwrap();
        let count_left = direct
            .get_album(&destination)
            .await
            .unwrap()
            .map(|a| a.images_count);
        let when = if answered || !function_ran {
            after_answer += 1;
            "after the answer"
        } else if left == 0 {
            before_copy += 1;
            "before the first write"
        } else if left < images {
            mid_copy += 1;
            "mid-copy"
        } else {
            before_recount += 1;
            "after the copy, before the answer"
        };
        let what = format!("trial {trial} (seed {seed}, killed {kill_point}, {when})");
        eprintln!("{what}: left {left} items, images_count {count_left:?}; retrying");
        kills.push(left);

        // A retry rewrites every copy: an uncrashed run's length, the
        // baseline of the next trial (the first run was a colder one).
        baseline = run_to_completion(&rie, &env.table, &log, &event, &what, images).await;
        assert_album_exact(&direct, &destination, images, &what).await;
        exact += 1;
    }
    eprintln!(
        "crash trials={trials} images={images} exact={exact} killed_mid_copy={mid_copy} \
         killed_before_copy={before_copy} killed_after_copy_before_answer={before_recount} killed_after_answer={after_answer} \
         items_at_kill={kills:?} last_uncrashed_ms={} seed={seed}",
        baseline.as_millis()
    );
    assert_eq!(exact, trials);
    assert!(
        mid_copy >= trials / 2,
        "most kills must land inside the copy ({mid_copy} of {trials})"
    );
}
