//! A function's real binary under AWS's Lambda Runtime Interface Emulator
//! (the one `aws-sam-cli` ships, as `make invoke` uses), on its own loopback
//! ports, invoked like `sam local invoke` and killed with SIGKILL (emulator
//! and function) wherever it is: the crash tests' harness.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::{
    CLOUDINARY_URL, JWT_SECRET, NOTIFICATION_SECRET, PUBLIC_API_URL, budget_env, emulator_endpoint,
};

/// The emulator binary: `.venv`'s aws-sam-cli copy, installed by
/// `scripts/rie-path.sh` (which `make test`'s `deps` runs) when missing.
pub fn rie_path() -> PathBuf {
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
pub fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Process ids of `pid`'s descendants (children first), from `/proc`.
pub fn descendants(pid: u32) -> Vec<u32> {
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
pub fn runs(pid: u32, exe: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p.file_name() == exe.file_name())
}

/// The function under the emulator, on its own loopback ports. Dropping it
/// kills both (a failed assertion leaves nothing running).
pub struct Function {
    rie: Child,
    /// The emulator's invocation port.
    pub port: u16,
    exe: PathBuf,
    killed: bool,
}

impl Function {
    /// Starts binary `exe` (function `function`, its logical id in
    /// `template.yaml`) under the emulator `rie` against `table`, appending
    /// both one's output to `log`.
    pub fn start(rie: &Path, exe: &Path, function: &str, table: &str, log: &Path) -> Function {
        let exe = exe.to_path_buf();
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
            .env("NOTIFICATION_SECRET", NOTIFICATION_SECRET)
            .env("CLOUDINARY_URL", CLOUDINARY_URL)
            .env("PUBLIC_API_URL", PUBLIC_API_URL)
            .env("AWS_ENDPOINT_URL_DYNAMODB", emulator_endpoint())
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
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
    pub fn kill(&mut self) -> bool {
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
    pub async fn invoke(port: u16, event: &Value) -> Result<Value, String> {
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
pub fn http_answer(answer: &Value) -> (u64, Value) {
    let status = answer["statusCode"].as_u64().unwrap_or(0);
    let body = answer["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}
