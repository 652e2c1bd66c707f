#!/usr/bin/env python3
"""`make bench`: performance of the Album API against its peers and the ceiling.

Runs everything in one go against a fresh, in-memory local DynamoDB
(dynalite) on loopback, through the functions' x86_64 release bootstraps
(built by `scripts/bench.sh` with cargo lambda) under AWS's Lambda Runtime
Interface Emulator (RIE):

1. copy throughput at 5,000 images: ours (the duplicate_album bootstrap) vs a
   boto3 `batch_writer()` copy vs the emulator's ceiling (pre-built 25-item
   BatchWriteItem calls, `examples/bench_ceiling.rs`, best concurrency);
2. scaling: the same three at 100, 1,000, 5,000 and 20,000 images;
3. cold start: the RIE's INIT duration of every function and of a hello-world
   `lambda_runtime` binary, fresh RIE process per start;
4. memory: the duplicate function's VmHWM after copying 20,000 images;
5. warm latency of the seed's 5-image duplicate (p50, p99);
6. zipped bootstrap sizes (x86_64 built here; arm64 from `make build` if any);
7. a production projection from a real seeded item's size;
8. production physics: the same functions with `albumctl partition-sim`
   (DynamoDB's per-partition limits) between them and dynalite: its
   self-test, 10,000- to 100,000-image duplicates (a 202's job driven to
   done through the worker function) at AWS's limits and at a scaled-down
   limit, and the read units of an album's first page;
9. into one album: the webhook's upload notifications from 16 concurrent
   senders (`examples/bench_webhook.rs`) straight to dynalite and through
   the partition simulator at the scaled limit, and imports by URL
   (`examples/bench_imports.rs`: POST /api/v1/imports, a loopback
   Cloudinary, the webhook), each count checked exact.

Prints a table, writes bench/results.json and bench/copy-time.png; logs of
every process go to bench/out/ (git-ignored). Every process it starts runs in
its own process group and is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import hmac
import http.client
import io
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from fresh_event import fresh_event  # noqa: E402  (the events' tokens, re-signed now)
OUT = ROOT / "bench" / "out"
# scripts/bench.sh builds there; BENCH_LAMBDA_DIR points elsewhere (e.g. to
# compare two commits built alike)
LAMBDA_DIR = Path(os.environ.get("BENCH_LAMBDA_DIR", ROOT / "target" / "bench-lambda"))
ORG = "a89b5b70-d820-4911-8c6d-25ab6181e9be"  # the events' token: user 9ed26283-... of this org
USER = "9ed26283-3299-4a05-b9d6-e34278fbd416"
CONTRACT_ALBUM = "00100000123BB44"  # events/duplicate-album.json's source, 5 images

TARGETS = {
    "ours_over_ceiling": 0.8,  # at least
    "ours_over_boto3": 1.5,  # at least
    "scaling_20k_over_5k": 4.4,  # at most
    "cold_start_ms": 10.0,  # at most (every function's median INIT)
    "peak_rss_mb": 64.0,  # at most
}


def log(*a: object) -> None:
    print("[bench]", *a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# processes


class Procs:
    """Every process the harness starts, each in its own process group."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen] = []

    def start(self, argv: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        f = open(log_path, "wb")
        try:
            p = subprocess.Popen(
                argv,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        except BaseException:
            f.close()
            raise
        p._bench_log = f  # type: ignore[attr-defined]
        self.live.append(p)
        return p

    def stop(self, p: subprocess.Popen, grace: float = 3.0) -> None:
        if p.poll() is None:
            _killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                _killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        # Whatever the leader left in its group (the RIE's runtime process).
        _killpg(p.pid, signal.SIGKILL)
        p._bench_log.close()  # type: ignore[attr-defined]
        if p in self.live:
            self.live.remove(p)

    def stop_all(self) -> None:
        for p in reversed(list(self.live)):
            try:
                self.stop(p)
            except Exception as e:  # keep stopping the others
                log(f"could not stop pid {p.pid}: {e}")


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port: int, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def proc_stat_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 when gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    f = raw.rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        if int(raw.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d.name))
    return kids


# --------------------------------------------------------------------------
# the template and the environment


def template_functions() -> list[dict]:
    """Logical id, binary, timeout and memory of every function with a BuildProperties.Binary."""
    fns, cur = [], None
    glob_timeout, glob_memory = 30, 128
    in_globals = False
    for line in (ROOT / "template.yaml").read_text().splitlines():
        if re.match(r"^\S", line):
            in_globals = line.startswith("Globals:")
            cur = None
            continue
        if in_globals:
            m = re.match(r"^\s+(Timeout|MemorySize):\s*(\d+)", line)
            if m:
                if m.group(1) == "Timeout":
                    glob_timeout = int(m.group(2))
                else:
                    glob_memory = int(m.group(2))
            continue
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            cur = {"logical_id": m.group(1)}
            fns.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^\s+Binary:\s*(\S+)", line)
        if m:
            cur["binary"] = m.group(1)
        m = re.match(r"^      (Timeout|MemorySize):\s*(\d+)", line)
        if m:
            cur[m.group(1).lower()] = int(m.group(2))
    out = []
    for f in fns:
        if "binary" in f:
            f.setdefault("timeout", glob_timeout)
            f.setdefault("memorysize", glob_memory)
            out.append(f)
    return out


def local_params() -> dict:
    return json.loads((ROOT / "env.local.json").read_text())["Parameters"]


def base_env(endpoint: str) -> dict:
    """What a local tool needs: env.local.json's values, the bench DynamoDB, no real AWS."""
    env = {k: str(v) for k, v in local_params().items()}
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        PATH="/usr/local/bin:/usr/bin:/bin",
        LANG="C.UTF-8",
    )
    return env


def function_env(endpoint: str, fn: dict) -> dict:
    """A function's environment as Lambda would give it (template settings, JSON logs)."""
    env = base_env(endpoint)
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=fn["logical_id"],
        AWS_LAMBDA_FUNCTION_TIMEOUT=str(fn.get("timeout", 30)),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(fn.get("memorysize", 128)),
        AWS_LAMBDA_LOG_FORMAT="JSON",
        AWS_LAMBDA_LOG_LEVEL="INFO",
    )
    return env


def rie_path() -> Path:
    arch = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    import samcli  # aws-sam-cli ships the emulator

    p = Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}"
    p.chmod(0o755)
    return p


# --------------------------------------------------------------------------
# the Lambda Runtime Interface Emulator

INIT_RE = re.compile(r"INIT REPORT\([^)]*?durationMs: ([0-9.]+)")
INIT_DURATION_RE = re.compile(r"Init Duration: ([0-9.]+) ms")


class Rie:
    """One RIE process running one bootstrap, on two free loopback ports."""

    def __init__(self, procs: Procs, exe: Path, env: dict, log_path: Path, name: str) -> None:
        self.procs, self.name, self.log_path, self.exe = procs, name, log_path, exe
        self.port, self.api_port = free_ports(2)
        self.proc = procs.start(
            [
                str(RIE),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{self.api_port}",
                str(exe),
            ],
            log_path,
            env,
        )
        self.conn: http.client.HTTPConnection | None = None
        wait_port(self.port, self.proc, 15, f"RIE for {name}")

    def invoke(self, payload: bytes, timeout: float = 120.0) -> tuple[float, dict]:
        """Posts one event; returns (seconds, the function's answer)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                t0 = time.perf_counter()
                self.conn.request(
                    "POST",
                    "/2015-03-31/functions/function/invocations",
                    body=payload,
                    headers={"Content-Type": "application/json"},
                )
                resp = self.conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - t0
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        if resp.status != 200:
            raise RuntimeError(f"{self.name}: RIE answered {resp.status}: {body[:300]!r}")
        return elapsed, json.loads(body) if body.strip() else {}

    def runtime_pid(self) -> int | None:
        kids = children_of(self.proc.pid)
        return kids[0] if kids else None

    def log_text(self) -> str:
        self.proc._bench_log.flush()  # type: ignore[attr-defined]
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        runtime = self.runtime_pid()  # the RIE puts it in a process group of its own
        self.procs.stop(self.proc)
        if runtime is not None:
            try:  # normally the RIE has killed it already; make sure, if it is still ours
                if Path(f"/proc/{runtime}/cmdline").read_bytes().split(b"\0")[0] == str(self.exe).encode():
                    os.kill(runtime, signal.SIGKILL)
            except (OSError, IndexError):
                pass


def rie_init_ms(text: str) -> float | None:
    m = INIT_RE.search(text) or INIT_DURATION_RE.search(text)
    return float(m.group(1)) if m else None


# --------------------------------------------------------------------------
# the duplicate event and the copies

BASE_EVENT = json.loads((ROOT / "events" / "duplicate-album.json").read_text())
WORKER_EVENT = json.loads((ROOT / "events" / "duplication-worker.json").read_text())


def signed_webhook_event() -> bytes:
    """events/cloudinary-notification.json with a notification token and a
    Cloudinary signature made now with env.local.json's secrets (the file's
    own are long expired), for the contract's album."""
    import base64
    import hashlib
    import hmac
    from urllib.parse import quote

    params = local_params()
    now = int(time.time())

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"user_id": USER, "album_id": CONTRACT_ALBUM, "organization_id": ORG,
                             "exp": now + 3600, "iat": now, "aud": "cloudinary-notification"}).encode())
    sig = hmac.new(params["JWT_SECRET"].encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    token = f"{header}.{claims}.{b64(sig)}"
    event = json.loads((ROOT / "events" / "cloudinary-notification.json").read_text())
    event["rawQueryString"] = f"token={quote(token)}"
    event["queryStringParameters"] = {"token": token}
    api_secret = params["CLOUDINARY_URL"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    body = event["body"].encode()
    event["headers"]["x-cld-timestamp"] = str(now)
    event["headers"]["x-cld-signature"] = hashlib.sha1(body + str(now).encode() + api_secret.encode()).hexdigest()
    return json.dumps(event).encode()


def fresh(event: dict) -> dict:
    """`event` with its API token signed now (the API refuses the samples'
    tokens, valid until 2100, as too long-lived)."""
    params = local_params()
    return fresh_event(event, params["JWT_SECRET"], params["CLOUDINARY_URL"])


def event_bytes(path: Path) -> bytes:
    """A sample event of events/, its API token signed now."""
    return json.dumps(fresh(json.loads(path.read_text()))).encode()


def duplicate_event(source: str, destination: str) -> bytes:
    e = fresh(copy.deepcopy(BASE_EVENT))
    path = f"/api/v1/albums/{source}/duplicate"
    e["rawPath"] = path
    e["requestContext"]["http"]["path"] = path
    e["requestContext"]["requestId"] = uuid.uuid4().hex[:16]
    e["pathParameters"]["id"] = source
    e["body"] = f"destination_id={destination}"
    return json.dumps(e).encode()


def update_album_event(source: str, new_id: str, merge: bool) -> bytes:
    e = fresh(json.loads((ROOT / "events" / "update-album.json").read_text()))
    path = f"/api/v1/albums/{source}"
    e["rawPath"] = path
    e["requestContext"]["http"]["path"] = path
    e["requestContext"]["requestId"] = uuid.uuid4().hex[:16]
    e["pathParameters"]["id"] = source
    e["body"] = f"album%5Bpublic_id%5D={new_id}" + ("&merge=true" if merge else "")
    e.setdefault("headers", {})["content-type"] = "application/x-www-form-urlencoded"
    return json.dumps(e).encode()


def count_range(client, album: str, prefix: str) -> int:
    """Items of album `album`'s partitions whose sort key starts with `prefix`."""
    total = 0
    for pk in shard_pks(client, album):
        start = None
        while True:
            kw = {"ExclusiveStartKey": start} if start else {}
            out = client.query(
                TableName=TABLE,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": prefix}},
                Select="COUNT",
                ConsistentRead=True,
                **kw,
            )
            total += out["Count"]
            start = out.get("LastEvaluatedKey")
            if not start:
                break
    return total


def git_commit() -> str:
    """The commit measured (`+dirty` when the tree has changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def log_one_album(what: str, r: dict) -> None:
    if "error" in r:
        log(f"{what}: FAILED: {r['error']}")
        return
    rate = r.get("recorded_per_s", r.get("per_s", 0.0))
    log(f"{what}: {rate:.0f}/s recorded in {r['seconds']:.1f} s; statuses {r['statuses']};"
        f" fallbacks {r['count_fallbacks']}, recounts {r['recounts']}; exact {r['exact']}")


def fresh_destination() -> str:
    return str(uuid.uuid4())  # the length of a destination the API would pick itself


def check_duplicate(answer: dict, destination: str, images: int) -> None:
    status = answer.get("statusCode")
    if status != 200:
        raise RuntimeError(f"duplicate answered {status}, not 200: {str(answer.get('body'))[:300]}")
    body = json.loads(answer["body"])
    if body.get("id") != destination or body.get("images_count") != images:
        raise RuntimeError(
            f"duplicate answered id={body.get('id')} images_count={body.get('images_count')},"
            f" expected {destination} / {images}"
        )


def album_of(n: int) -> str:
    return f"bench_src_{n}"


def boto3_copy(table, source: str, destination: str) -> int:
    """What a Python user would write: paginated Query, batch_writer() puts."""
    from boto3.dynamodb.conditions import Key

    new_pk = f"A#{destination}"
    kwargs = {"KeyConditionExpression": Key("pk").eq(f"A#{source}") & Key("sk").begins_with("I#")}
    n = 0
    with table.batch_writer() as batch:
        for _ in range(100_000):  # pages; bounded
            page = table.query(**kwargs)
            for item in page["Items"]:
                prefix = item["sk"].rsplit("#", 1)[0]
                new_id = str(uuid.uuid4())
                batch.put_item(Item={"pk": new_pk, "sk": f"{prefix}#{new_id}", "iid": new_id, "d": item["d"]})
                n += 1
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return n


def shard_pks(client, album: str) -> list[str]:
    """The partitions of album `album`'s images: `A#<album>`, and
    `A#<album>#<k>` for k ≥ 1 when it has shards (decision 0012)."""
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": f"A#{album}"}, "sk": {"S": "A"}},
                           ConsistentRead=True).get("Item", {})
    shards = int(item.get("shards", {}).get("N", "1"))
    return [f"A#{album}"] + [f"A#{album}#{k}" for k in range(1, shards)]


def count_images(client, album: str) -> int:
    total = 0
    for pk in shard_pks(client, album):
        kwargs = {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :i)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":i": {"S": "I#"}},
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        for _ in range(100_000):
            out = client.query(**kwargs)
            total += out["Count"]
            if "LastEvaluatedKey" not in out:
                break
            kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
        else:
            raise RuntimeError("count did not end")
    return total


# --------------------------------------------------------------------------
# statistics


def summary(samples: list[float]) -> dict:
    s = sorted(samples)
    return {
        "samples": samples,
        "median": statistics.median(s) if s else None,
        "min": s[0] if s else None,
        "max": s[-1] if s else None,
    }


def cold_answer(r, payload: bytes, what: str) -> tuple[float, float | None]:
    """The first invocation of the fresh runtime `r` (stopped after): its
    time in seconds and the INIT its report line gives (ms; None without
    one). Anything but a 200 fails the run, naming `what`."""
    try:
        secs, answer = r.invoke(payload, timeout=60)
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"{what} answered {answer}")
        ms = init_report_ms(r)
    finally:
        r.stop()
    return secs, ms


def init_report_ms(r) -> float | None:
    """The INIT of runtime `r`'s report line (ms), waiting up to a second
    for it (it may trail the answer); None without one."""
    for _ in range(100):
        ms = rie_init_ms(r.log_text())
        if ms is not None:
            return ms
        time.sleep(0.01)
    return None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(samples)
    k = max(1, math.ceil(p / 100 * len(s)))
    return s[k - 1]


def zipped_size(path: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return len(buf.getvalue())


def item_size(item: dict) -> int:
    """DynamoDB's item size: UTF-8 attribute names plus values (a number
    counted as its digits, an upper bound)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict) -> int:
    (kind, v), = value.items()
    if kind in ("S", "N"):
        return len(v.encode())
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS"):
        return sum(len(e.encode()) for e in v)
    if kind == "BS":
        return sum(len(e) for e in v)
    if kind == "M":  # 3 bytes, plus 1 per element
        return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in v.items())
    if kind == "L":
        return 3 + sum(value_size(e) + 1 for e in v)
    raise ValueError(f"unexpected attribute type {kind}")


# --------------------------------------------------------------------------
# the benchmark


class Brownout:
    """A stand-in DynamoDB endpoint in a regional brownout: every call is
    answered 400 ThrottlingException at once, as DynamoDB answers it."""

    BODY = json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": "Rate of requests exceeds the allowed throughput.",
    }).encode()

    def __init__(self) -> None:
        import http.server
        import threading

        body = self.BODY
        self.calls = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.calls += 1
                self.send_response(400)
                self.send_header("content-type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-errortype", "ThrottlingException")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Bench:
    def __init__(self, args: argparse.Namespace, procs: Procs) -> None:
        self.args, self.procs = args, procs
        self.functions = template_functions()
        self.results: dict = {}
        self.logs = OUT / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # -- set-up ------------------------------------------------------------

    def start_dynalite(self, tag: str) -> None:
        (port,) = free_ports(1)
        self.dynalite = self.procs.start(
            [
                "node",
                f"--max-old-space-size={self.args.dynalite_heap_mb}",
                "node_modules/dynalite/cli.js",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--createTableMs",
                "0",
                "--deleteTableMs",
                "0",
                "--updateTableMs",
                "0",
            ],
            self.logs / f"dynalite-{tag}.log",
        )
        wait_port(port, self.dynalite, 20, "dynalite")
        self.endpoint = f"http://127.0.0.1:{port}"
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        self.ddb = session.client("dynamodb", endpoint_url=self.endpoint)
        self.ddb_table = session.resource("dynamodb", endpoint_url=self.endpoint).Table(TABLE)

    @contextlib.contextmanager
    def fresh_dynalite(self, tag: str, albums: list[int]):
        """A new, empty, in-memory dynalite with the table, the events' organization,
        user and 5-image album, and one seeded album of each size in `albums`.
        A fresh one per round keeps the server's heap (and so its speed) the same
        for every round."""
        self.start_dynalite(tag)
        try:
            self.seed(albums)
            yield
        finally:
            self.procs.stop(self.dynalite)

    def albumctl(self, *argv: str, timeout: float = 300) -> str:
        exe = LAMBDA_DIR / "albumctl" / "bootstrap"
        r = subprocess.run(
            [str(exe), *argv],
            env=base_env(self.endpoint),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise RuntimeError(f"albumctl {' '.join(argv)}: {r.stderr.strip()}")
        return r.stdout

    def seed(self, albums: list[int]) -> None:
        t0 = time.monotonic()
        self.albumctl("create-table")
        self.albumctl("create-org", "--id", ORG, "--name", "Bench organization")
        self.albumctl("create-user", "--id", USER, "--org", ORG)
        self.albumctl("seed", "--album", CONTRACT_ALBUM, "--org", ORG, "--images", "5")
        for n in sorted(set(albums)):
            self.albumctl("seed", "--album", album_of(n), "--org", ORG, "--images", str(n))
            got = count_images(self.ddb, album_of(n))
            if got != n:
                raise RuntimeError(f"seeded {album_of(n)} holds {got} images, not {n}")
        self.results.setdefault("seed_seconds", []).append(round(time.monotonic() - t0, 2))

    def fn(self, binary: str) -> dict:
        return next(f for f in self.functions if f["binary"] == binary)

    def rie(self, binary: str, tag: str, exe: Path | None = None, fn: dict | None = None) -> Rie:
        fn = fn or self.fn(binary)
        exe = exe or LAMBDA_DIR / binary / "bootstrap"
        return Rie(self.procs, exe, function_env(self.endpoint, fn), self.logs / f"rie-{tag}.log", binary)

    def dynalite_cpu(self) -> float:
        return proc_stat_cpu(self.dynalite.pid)

    # -- measurements ------------------------------------------------------

    def ours(self, rie: Rie, n: int) -> dict:
        dest = fresh_destination()
        pid = rie.runtime_pid()
        c0, d0 = proc_stat_cpu(pid) if pid else 0.0, self.dynalite_cpu()
        secs, answer = rie.invoke(duplicate_event(album_of(n), dest), timeout=120)
        c1, d1 = proc_stat_cpu(pid) if pid else 0.0, self.dynalite_cpu()
        check_duplicate(answer, dest, n)
        return {"seconds": secs, "client_cpu_s": c1 - c0, "dynalite_cpu_s": d1 - d0}

    def boto3(self, n: int) -> dict:
        dest = fresh_destination()
        c0, d0 = time.process_time(), self.dynalite_cpu()
        t0 = time.perf_counter()
        written = boto3_copy(self.ddb_table, album_of(n), dest)
        secs = time.perf_counter() - t0
        c1, d1 = time.process_time(), self.dynalite_cpu()
        if written != n:
            raise RuntimeError(f"boto3 copy wrote {written} of {n}")
        return {"seconds": secs, "client_cpu_s": c1 - c0, "dynalite_cpu_s": d1 - d0}

    def server_read_work(self, n: int) -> dict:
        """The server's CPU for what a copy reads besides its writes: one
        consistent Query pass over the source (sk, d) and one COUNT pass
        (the recount reads the destination the same way)."""
        kw = {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :i)",
            "ExpressionAttributeValues": {":pk": {"S": f"A#{album_of(n)}"}, ":i": {"S": "I#"}},
            "ConsistentRead": True,
        }
        out = {}
        for name, extra in (("read_cpu_s", {"ProjectionExpression": "sk, d"}), ("count_cpu_s", {"Select": "COUNT"})):
            d0, got, start = self.dynalite_cpu(), 0, None
            for _ in range(100_000):
                page = self.ddb.query(**kw, **extra, **({"ExclusiveStartKey": start} if start else {}))
                got += page["Count"]
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            out[name] = self.dynalite_cpu() - d0
            if got != n:
                raise RuntimeError(f"read pass saw {got} of {n}")
        return out

    def ceiling(self, n: int, concurrency: list[int], repeats: int) -> list[dict]:
        exe = LAMBDA_DIR / "bench_ceiling" / "bootstrap"
        env = base_env(self.endpoint)
        env["TABLE_NAME"] = TABLE
        r = subprocess.run(
            [
                str(exe),
                "--server-pid",
                str(self.dynalite.pid),
                "--source",
                album_of(n),
                "--org",
                ORG,
                "--items",
                str(n),
                "--concurrency",
                ",".join(map(str, concurrency)),
                "--repeats",
                str(repeats),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise RuntimeError(f"bench_ceiling: {r.stderr.strip()[-500:]}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]

    def phase_sizes(self) -> None:
        out: dict = {"x86_64": {}, "arm64": {}}
        for binary in [f["binary"] for f in self.functions] + ["hello_lambda"]:
            p = LAMBDA_DIR / binary / "bootstrap"
            out["x86_64"][binary] = {"bytes": p.stat().st_size, "zipped": zipped_size(p)}
        for p in sorted((ROOT / ".aws-sam" / "build").glob("*/bootstrap")):
            out["arm64"][p.parent.name] = {"bytes": p.stat().st_size, "zipped": zipped_size(p)}
        if not out["arm64"]:
            out["arm64_note"] = "no .aws-sam/build/*/bootstrap (run make build for the arm64 sizes)"
        self.results["size"] = out

    def phase_projection(self) -> None:
        out = self.ddb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :i)",
            ExpressionAttributeValues={":pk": {"S": f"A#{ORG}/{CONTRACT_ALBUM}"}, ":i": {"S": "I#"}},
            Limit=1,
        )
        item = out["Items"][0]
        # A copy writes exactly this shape: the same d, keys of a UUID destination.
        dest = fresh_destination()
        copy_item = {
            "pk": {"S": f"A#{ORG}/{dest}"},
            "sk": {"S": item["sk"]["S"].rsplit("#", 1)[0] + "#" + str(uuid.uuid4())},
            "iid": {"S": str(uuid.uuid4())},
            "d": item["d"],
        }
        size = item_size(copy_item)
        wcu_table = math.ceil(size / 1024)
        # by_image is KEYS_ONLY: its entry is the index key plus the table keys.
        gsi_entry = sum(
            len(k.encode()) + len(copy_item[k]["S"].encode()) for k in ("iid", "pk", "sk")
        )
        wcu_gsi = math.ceil(gsi_entry / 1024)
        rate = 1000 / wcu_table  # one partition (the destination album): 1,000 WCU/s
        budget = 20.0  # App::sync_copy_budget
        # Reads: strongly consistent, 1 RCU per 4 KB read (a Query sums its items);
        # one partition serves at most 3,000 RCU/s. The source is read while the
        # copy writes (overlapped); the recount reads the destination afterwards.
        rcu_per_image = size / 4096
        recount_s = lambda n: n * rcu_per_image / 3000  # noqa: E731
        albums = {}
        for n in (1_000, 10_000, 100_000):
            t = n / rate + recount_s(n)
            if t <= budget:
                albums[str(n)] = {
                    "copy_seconds": round(t, 1),
                    "answer": 200,
                    "note": f"200 after ~{t:.1f} s: copied inline (< {budget:.0f} s budget, < 29 s API Gateway), recount included",
                }
            else:
                copied = int(budget * rate)
                albums[str(n)] = {
                    "copy_seconds": round(t, 1),
                    "answer": 202,
                    "inline_copied": copied,
                    "note": (
                        f"202 + job after {budget:.0f} s with ~{copied:,} copied; the worker finishes "
                        f"the remaining {n - copied:,} in ~{(n - copied) / rate + recount_s(n):.0f} s more (recount included)"
                        f" (done ~{t:.0f} s after the request, plus stream hand-off latency)"
                    ),
                }
        self.results["projection"] = {
            "source": f"a seeded image of album {CONTRACT_ALBUM} (albumctl seed), copied to a UUID destination",
            "item_bytes": size,
            "item_attributes": {k: len(k) + len(v["S"].encode()) for k, v in copy_item.items()},
            "d_bytes": len(item["d"]["S"].encode()),
            "wcu_per_item_table": wcu_table,
            "gsi_by_image_entry_bytes": gsi_entry,
            "wcu_per_item_gsi": wcu_gsi,
            "wcu_per_image_copy": wcu_table + wcu_gsi,
            "partition_limit_wcu_per_s": 1000,
            "projected_images_per_s": rate,
            "rcu_per_image_read": rcu_per_image,
            "recount_seconds_per_1000_images": recount_s(1000),
            "sync_copy_budget_s": budget,
            "albums": albums,
        }

    def phase_cold_start(self) -> None:
        out: dict = {}
        plan = [(f["binary"], f) for f in self.functions]
        plan.append(("hello_lambda", {"logical_id": "HelloLambda", "binary": "hello_lambda", "timeout": 30, "memorysize": 256}))
        for binary, fn in plan:
            event_file = ROOT / "events" / (binary.replace("_", "-") + ".json")
            payload = event_bytes(event_file) if event_file.exists() else b"{}"
            samples, statuses = [], []
            for i in range(self.args.cold_starts):
                r = self.rie(binary, f"cold-{binary}", fn=fn)
                try:
                    _, answer = r.invoke(payload, timeout=60)
                    statuses.append(answer.get("statusCode", "event") if isinstance(answer, dict) else "event")
                    ms = init_report_ms(r)
                finally:
                    r.stop()
                if ms is None:
                    raise RuntimeError(f"no INIT REPORT for {binary} in {r.log_path}")
                samples.append(ms)
            out[binary] = {**summary(samples), "answers": sorted(set(map(str, statuses)))}
            log(f"cold start {binary}: median {out[binary]['median']:.2f} ms")
            if binary == "update_album":
                # Its event renames the contract album away: the phases
                # after it duplicate that album again.
                self.albumctl("seed", "--album", CONTRACT_ALBUM, "--org", ORG, "--images", "5")
        self.results["cold_start"] = out
        # What the SDK's TLS set-up costs: the same bootstrap with the root
        # store that rustls-native-certs reads (SSL_CERT_FILE / SSL_CERT_DIR)
        # laid out differently. "one root": a single certificate, so init
        # parses next to nothing. "bundle only": the system bundle without
        # the hashed directory beside it; Debian's /etc/ssl/certs holds the
        # bundle *and* every certificate again as a file, which the default
        # reads both of, while Lambda's provided.al2023 keeps one bundle
        # (/etc/pki/tls/certs), so this is the closer stand-in for Lambda.
        fn = self.fn("duplicate_album")
        experiments = {}
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        roots = sorted(Path("/etc/ssl/certs").glob("*.pem"))
        layouts = []
        if roots:
            one = OUT / "one-root"
            one.mkdir(parents=True, exist_ok=True)
            (one / "root.pem").write_bytes(roots[0].read_bytes())
            layouts.append(("duplicate_album_one_root_certificate", one / "root.pem", one,
                            "SSL_CERT_FILE = one root certificate, SSL_CERT_DIR = a directory without others"))
        if bundle.exists():
            empty = OUT / "no-certs"
            empty.mkdir(parents=True, exist_ok=True)
            layouts.append(("duplicate_album_bundle_only", bundle, empty,
                            "SSL_CERT_FILE = the system bundle, SSL_CERT_DIR = an empty directory (one bundle, as on provided.al2023)"))
        for name, cert_file, cert_dir, note in layouts:
            env = function_env(self.endpoint, fn)
            env.update(SSL_CERT_FILE=str(cert_file), SSL_CERT_DIR=str(cert_dir))
            samples = self.duplicate_cold_starts(env, name)
            if samples:
                experiments[name] = {
                    **summary(samples),
                    "note": note,
                    "system_roots": f"{len(list(Path('/etc/ssl/certs').iterdir()))} entries in /etc/ssl/certs",
                }
                log(f"cold start {name}: median {experiments[name]['median']:.2f} ms")
        secrets = self.secrets_init(fn, bundle if bundle.exists() else None)
        experiments.update(secrets)
        if experiments:
            self.results["cold_start_experiments"] = experiments

    def duplicate_cold_starts(self, env: dict, name: str) -> list[float]:
        """INIT of --cold-starts fresh starts of duplicate_album with `env`,
        each answering the contract's duplicate with a 200."""
        samples = []
        for _ in range(self.args.cold_starts):
            r = Rie(self.procs, LAMBDA_DIR / "duplicate_album" / "bootstrap", env, self.logs / f"rie-cold-{name}.log", "duplicate_album")
            _, ms = cold_answer(r, event_bytes(ROOT / "events" / "duplicate-album.json"), f"{name}: the duplicate")
            if ms is not None:
                samples.append(ms)
        return samples

    def secrets_init(self, fn: dict, bundle: Path | None) -> dict:
        """What reading the secrets from Secrets Manager adds to INIT
        (decision 0009): duplicate_album's cold start with JWT_SECRET and
        CLOUDINARY_URL in its environment (local runs) against the same with
        only their ARNs, read from moto's Secrets Manager on loopback (two
        GetSecretValue calls at init, as in AWS but without the network's
        round trips). Both with the one-bundle certificate layout."""
        import boto3

        port = free_ports(1)[0]
        moto = self.procs.start([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                self.logs / "moto-secrets.log", dict(os.environ))
        wait_port(port, moto, 30, "moto_server")
        endpoint = f"http://127.0.0.1:{port}"
        params = local_params()
        sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
        arns = {var: sm.create_secret(Name=f"bench-{var.lower()}", SecretString=str(params[var]))["ARN"]
                for var in ("JWT_SECRET", "CLOUDINARY_URL", "NOTIFICATION_SECRET")}
        out = {}
        for name, from_manager in (("duplicate_album_secrets_in_env", False),
                                   ("duplicate_album_secrets_from_secrets_manager", True)):
            env = function_env(self.endpoint, fn)
            if bundle is not None:
                empty = OUT / "no-certs"
                empty.mkdir(parents=True, exist_ok=True)
                env.update(SSL_CERT_FILE=str(bundle), SSL_CERT_DIR=str(empty))
            if from_manager:
                for var, arn in arns.items():
                    env.pop(var, None)
                    env[{"CLOUDINARY_URL": "CLOUDINARY_URL_SECRET_ARN"}.get(var, f"{var}_ARN")] = arn
                env.update(AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint, AWS_ACCESS_KEY_ID="local",
                           AWS_SECRET_ACCESS_KEY="local", AWS_REGION="us-east-1")
            samples = self.duplicate_cold_starts(env, name)
            out[name] = {**summary(samples), "note": "GetSecretValue x3 at init (moto on loopback)" if from_manager
                         else "JWT_SECRET, CLOUDINARY_URL and NOTIFICATION_SECRET in the environment"}
            log(f"cold start {name}: median {out[name]['median']:.2f} ms")
        self.procs.stop(moto)
        return out

    def phase_brownout(self) -> None:
        """Per HTTP function: the healthy warm latency (its own event against
        dynalite) and the time to its 503 when every DynamoDB call is
        throttled (decision 0006), each the median of --brownout-repeats warm
        invocations."""
        out: dict = {}
        brownout = Brownout()
        try:
            for fn in self.functions:
                binary = fn["binary"]
                event_file = ROOT / "events" / (binary.replace("_", "-") + ".json")
                payload = event_bytes(event_file) if event_file.exists() else b"{}"
                if b'"requestContext"' not in payload:
                    continue  # an event function: no HTTP answer to time
                if binary == "cloudinary_notification":
                    payload = signed_webhook_event()
                row: dict = {}
                kinds = [("healthy", self.endpoint), ("brownout", brownout.endpoint)]
                for label, endpoint in [k for k in kinds if k[0] in self.args.brownout_kinds]:
                    env = function_env(endpoint, fn)
                    r = Rie(self.procs, LAMBDA_DIR / binary / "bootstrap", env, self.logs / f"rie-{label}-{binary}.log", binary)
                    try:
                        r.invoke(payload, timeout=60)  # the cold start, not counted
                        samples, statuses, retry_after = [], set(), set()
                        for _ in range(self.args.brownout_repeats):
                            secs, answer = r.invoke(payload, timeout=60)
                            samples.append(secs * 1000)
                            statuses.add(answer.get("statusCode"))
                            headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
                            retry_after.add(headers.get("retry-after"))
                    finally:
                        r.stop()
                    row[label] = {"median_ms": statistics.median(samples), "max_ms": max(samples),
                                  "statuses": sorted(map(str, statuses)), "retry_after": sorted(map(str, retry_after))}
                    if label == "brownout" and statuses != {503}:
                        raise RuntimeError(f"{binary} under a brownout answered {statuses}, not 503")
                out[binary] = row
                log(f"brownout {binary}: {json.dumps(row)}")
        finally:
            brownout.stop()
        self.results["brownout"] = {"repeats": self.args.brownout_repeats, "functions": out,
                                    "throttled_calls_answered": brownout.calls}

    def phase_warm_latency(self) -> None:
        payload = event_bytes(ROOT / "events" / "duplicate-album.json")
        r = self.rie("duplicate_album", "warm")
        try:
            for _ in range(10):  # warm-up, not counted
                _, answer = r.invoke(payload)
            samples = []
            for _ in range(self.args.warm):
                secs, answer = r.invoke(payload)
                if answer.get("statusCode") != 200:
                    raise RuntimeError(f"warm duplicate answered {answer.get('statusCode')}")
                samples.append(secs * 1000)
        finally:
            r.stop()
        body = json.loads(answer["body"])
        self.results["warm_latency"] = {
            "event": "events/duplicate-album.json",
            "images": body.get("images_count"),
            "invocations": len(samples),
            "p50_ms": percentile(samples, 50),
            "p99_ms": percentile(samples, 99),
            "mean_ms": statistics.fmean(samples),
            "min_ms": min(samples),
            "max_ms": max(samples),
        }
        log(f"warm p50 {percentile(samples, 50):.2f} ms, p99 {percentile(samples, 99):.2f} ms")

    def phase_quota(self) -> None:
        """The quota check's cost on a duplicate (decision 0015): warm
        latency of the admission, one conditional UpdateItem of the
        organization's usage item, beside a GetItem of the same item, timed
        in a release probe (examples/bench_quota.rs) against this dynalite."""
        exe = LAMBDA_DIR / "bench_quota" / "bootstrap"
        env = base_env(self.endpoint)
        r = subprocess.run([str(exe), "--org", ORG, "--repeats", "500"], env=env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"bench_quota: {r.stderr.strip()[-500:]}")
        self.results["quota_check"] = json.loads(r.stdout.strip().splitlines()[-1])
        q = self.results["quota_check"]
        log(f"quota check warm p50 {q['admit_p50_ms']:.2f} ms (p99 {q['admit_p99_ms']:.2f}); GetItem p50 {q['get_p50_ms']:.2f} ms")

    def phase_integrator(self) -> None:
        """What an integrator's token (`iss`: an organization API secret,
        looked up in the table once, then cached) costs against a user
        token (the operator's key, read at init): GET album's warm p50 with
        each, and cold starts whose first request carries each (INIT, and
        the first answer, which makes the secret's lookup)."""
        created = self.albumctl("secrets", "create", "--org", ORG)
        fields = dict(line.split(": ", 1) for line in created.strip().splitlines())
        now = int(time.time())
        claims = {"iss": fields["id"], "iat": now, "exp": now + 3600}
        signing_input = f"{b64url(json.dumps({'typ': 'JWT', 'alg': 'HS256'}).encode())}.{b64url(json.dumps(claims).encode())}"
        sig = hmac.new(fields["secret"].encode(), signing_input.encode(), hashlib.sha256).digest()
        iss_token = f"{signing_input}.{b64url(sig)}"
        user_event = fresh(json.loads((ROOT / "events" / "get-album.json").read_text()))
        iss_event = copy.deepcopy(user_event)
        iss_event["headers"]["authorization"] = f"Bearer {iss_token}"
        events = {"user": json.dumps(user_event).encode(), "iss": json.dumps(iss_event).encode()}
        out: dict = {"warm_p50_ms": {}, "cold": {}}
        r = self.rie("get_album", "integrator-warm")
        try:
            for kind, payload in events.items():
                samples = []
                for i in range(10 + self.args.warm):
                    secs, answer = r.invoke(payload)
                    if answer.get("statusCode") != 200:
                        raise RuntimeError(f"get_album with a {kind} token answered {answer.get('statusCode')}")
                    if i >= 10:  # the first ten warm up
                        samples.append(secs * 1000)
                out["warm_p50_ms"][kind] = percentile(samples, 50)
        finally:
            r.stop()
        for kind, payload in events.items():
            inits, firsts = [], []
            for _ in range(self.args.cold_starts):
                r = self.rie("get_album", f"integrator-cold-{kind}")
                secs, ms = cold_answer(r, payload, f"cold get_album with a {kind} token")
                inits.append(ms)
                firsts.append(secs * 1000)
            out["cold"][kind] = {"init_ms": summary([x for x in inits if x is not None]), "first_answer_ms": summary(firsts)}
        out["warm_p50_difference_ms"] = out["warm_p50_ms"]["iss"] - out["warm_p50_ms"]["user"]
        self.results["integrator"] = out
        log(f"get_album warm p50: iss token {out['warm_p50_ms']['iss']:.2f} ms, user token {out['warm_p50_ms']['user']:.2f} ms "
            f"(iss - user {out['warm_p50_difference_ms']:+.2f} ms, target: at most +1 ms); cold with an iss token: INIT "
            f"{out['cold']['iss']['init_ms']['median']:.2f} ms, first answer {out['cold']['iss']['first_answer_ms']['median']:.2f} ms "
            f"(user token: {out['cold']['user']['init_ms']['median']:.2f} / {out['cold']['user']['first_answer_ms']['median']:.2f} ms)")

    def phase_copies(self) -> None:
        a = self.args
        # 1. the ceiling's best concurrency, at the throughput size (a server of its own)
        with self.fresh_dynalite("sweep", [a.images]):
            sweep_runs = self.ceiling(a.images, a.ceiling_concurrency, a.sweep_repeats)
        sweep = {}
        for c in a.ceiling_concurrency:
            rates = [r["items_per_s"] for r in sweep_runs if r["concurrency"] == c]
            cpu = [r["client_cpu_s"] / r["seconds"] for r in sweep_runs if r["concurrency"] == c]
            srv = [r["server_cpu_s"] / r["seconds"] for r in sweep_runs if r["concurrency"] == c and r.get("server_cpu_s") is not None]
            sweep[str(c)] = {
                "items_per_s": summary(rates),
                "client_cpu_fraction": statistics.median(cpu),
                "dynalite_cpu_fraction": statistics.median(srv) if srv else None,
            }
        best = max(a.ceiling_concurrency, key=lambda c: sweep[str(c)]["items_per_s"]["median"])
        log(f"ceiling sweep: best concurrency {best} ({sweep[str(best)]['items_per_s']['median']:.0f} items/s)")

        # 2. ours, boto3 and the ceiling at every size. Each round on a fresh
        # server; sizes ascending in even rounds, descending in odd ones; the
        # order of the three rotating.
        sizes = sorted(set(a.sizes) | {a.images})
        kinds = ["ours", "boto3", "ceiling"]
        runs: dict = {str(n): {k: [] for k in kinds} for n in sizes}
        reads: list[dict] = []
        for rep in range(a.repeats):
            with self.fresh_dynalite(f"round-{rep}", sizes):
                r = self.rie("duplicate_album", f"copies-{rep}")
                try:
                    _, warm = r.invoke(event_bytes(ROOT / "events" / "duplicate-album.json"))
                    if warm.get("statusCode") != 200:
                        raise RuntimeError(f"warm-up duplicate answered {warm.get('statusCode')}")
                    for n in sizes if rep % 2 == 0 else sizes[::-1]:
                        order = kinds[rep % 3 :] + kinds[: rep % 3]
                        for kind in order:
                            if kind == "ours":
                                m = self.ours(r, n)
                            elif kind == "boto3":
                                m = self.boto3(n)
                            else:
                                c = self.ceiling(n, [best], 1)[0]
                                m = {
                                    "seconds": c["seconds"],
                                    "client_cpu_s": c["client_cpu_s"],
                                    "dynalite_cpu_s": c.get("server_cpu_s"),
                                }
                            m["images_per_s"] = n / m["seconds"]
                            runs[str(n)][kind].append(m)
                        if n == max(sizes):
                            reads.append(self.server_read_work(n))
                        log(
                            f"round {rep + 1}/{a.repeats} n={n}: "
                            + ", ".join(f"{k} {runs[str(n)][k][-1]['seconds']:.2f} s" for k in kinds)
                        )
                finally:
                    r.stop()

        per_size = {}
        for n in sizes:
            per_size[str(n)] = {}
            for kind in kinds:
                ms = runs[str(n)][kind]
                secs = summary([m["seconds"] for m in ms])
                med_rate = n / secs["median"]
                per_size[str(n)][kind] = {
                    "seconds": secs,
                    "images_per_s": med_rate,
                    "ms_per_image": secs["median"] * 1000 / n,
                    "client_cpu_fraction": statistics.median(m["client_cpu_s"] / m["seconds"] for m in ms),
                    "dynalite_cpu_ms_per_image": statistics.median(
                        m["dynalite_cpu_s"] * 1000 / n for m in ms if m.get("dynalite_cpu_s") is not None
                    )
                    if any(m.get("dynalite_cpu_s") is not None for m in ms)
                    else None,
                    "dynalite_cpu_fraction": statistics.median(
                        m["dynalite_cpu_s"] / m["seconds"] for m in ms if m.get("dynalite_cpu_s") is not None
                    )
                    if any(m.get("dynalite_cpu_s") is not None for m in ms)
                    else None,
                }
        t = per_size[str(a.images)]
        self.results["copy_throughput"] = {
            "images": a.images,
            "ours_images_per_s": t["ours"]["images_per_s"],
            "boto3_images_per_s": t["boto3"]["images_per_s"],
            "ceiling_images_per_s": t["ceiling"]["images_per_s"],
            "ceiling_concurrency": best,
            "ceiling_sweep": sweep,
            "ours_over_ceiling": t["ours"]["images_per_s"] / t["ceiling"]["images_per_s"],
            "ours_over_boto3": t["ours"]["images_per_s"] / t["boto3"]["images_per_s"],
            "ours_copy_concurrency": int(os.environ.get("COPY_CONCURRENCY", "8")),
        }
        big, mid = max(sizes), a.images
        n_big = max(sizes)
        read_ms = statistics.median(r["read_cpu_s"] for r in reads) * 1000 / n_big
        count_ms = statistics.median(r["count_cpu_s"] for r in reads) * 1000 / n_big
        write_ms = per_size[str(a.images)]["ceiling"]["dynalite_cpu_ms_per_image"]
        ours_ms = per_size[str(a.images)]["ours"]["dynalite_cpu_ms_per_image"]
        self.results["server_work"] = {
            "note": "dynalite CPU ms per image (single-threaded node: the server is the bottleneck)",
            "measured_on_images": n_big,
            "read_pass_ms_per_image": read_ms,
            "count_pass_ms_per_image": count_ms,
            "ceiling_write_ms_per_image": write_ms,
            "ours_total_ms_per_image": ours_ms,
            # Ours copies into a new album, so it settles the count from its
            # own tally (decision 0003): writes + the source read, no recount.
            "server_bound_ours_over_ceiling": write_ms / (write_ms + read_ms) if write_ms else None,
            "server_bound_with_recount": write_ms / (write_ms + read_ms + count_ms) if write_ms else None,
            "samples": reads,
        }
        # Paired: each round's big copy against the same round's mid-size one,
        # then the median over rounds. Both ran on the same server within
        # the same minute, so a machine that is slower in one round than in
        # another (this is a shared VM) does not skew the ratio, as it can
        # when the two medians come from different rounds.
        def paired(k: str) -> float:
            bigs = per_size[str(big)][k]["seconds"]["samples"]
            mids = per_size[str(mid)][k]["seconds"]["samples"]
            return statistics.median(b / m for b, m in zip(bigs, mids))

        ratio = {k: paired(k) for k in kinds}
        of_medians = {k: per_size[str(big)][k]["seconds"]["median"] / per_size[str(mid)][k]["seconds"]["median"] for k in kinds}
        self.results["scaling"] = {
            "sizes": per_size,
            "ratio_name": f"time({big}) / time({mid})",
            "ratio_method": "median over rounds of each round's time(big) / time(mid)",
            "ratio": ratio["ours"],
            "ratio_boto3": ratio["boto3"],
            "ratio_ceiling": ratio["ceiling"],
            "ratio_of_medians": of_medians,
            "ideal_ratio": big / mid,
        }

    def phase_family(self) -> None:
        """The rest of the duplicate family ([P10]): a duplicate with
        `tags=true` (every image tagged twice) beside the same album's plain
        duplicate, and a merge and a rename of `--images` images, each
        through its function under the emulator, each on a fresh album."""
        a = self.args
        n, k = a.images, 2
        tagged = f"bench_tagged_{n}"
        runs: dict = {"plain": [], "tags": [], "merge": [], "rename": []}
        with self.fresh_dynalite("family", []):
            self.albumctl("seed", "--album", tagged, "--org", ORG, "--images", str(n),
                          *[x for i in range(k) for x in ("--tag", f"bench-{i}")])
            if count_range(self.ddb, tagged, "G#") != n * k:
                raise RuntimeError(f"seeded {tagged} lacks its {n * k} tag associations")
            dup = self.rie("duplicate_album", "family-duplicate")
            upd = self.rie("update_album", "family-update")
            try:
                for rep in range(a.family_repeats):
                    for kind in (("plain", "tags") if rep % 2 == 0 else ("tags", "plain")):
                        dest = fresh_destination()
                        ev = json.loads(duplicate_event(tagged, dest))
                        if kind == "tags":
                            ev["body"] += "&tags=true"
                        secs, answer = dup.invoke(json.dumps(ev).encode(), timeout=120)
                        check_duplicate(answer, dest, n)
                        assocs = count_range(self.ddb, dest, "G#")
                        if assocs != (n * k if kind == "tags" else 0):
                            raise RuntimeError(f"{kind} duplicate left {assocs} tag associations")
                        runs[kind].append(secs)
                    # A merge of n images into an album of 10, and a rename of n.
                    src, dst = f"bench_merge_src_{rep}", f"bench_merge_dst_{rep}"
                    self.albumctl("seed", "--album", src, "--org", ORG, "--images", str(n))
                    self.albumctl("seed", "--album", dst, "--org", ORG, "--images", "10")
                    secs, answer = upd.invoke(update_album_event(src, dst, True), timeout=120)
                    body = json.loads(answer.get("body") or "{}")
                    if answer.get("statusCode") != 200 or body.get("images_count") != n + 10:
                        raise RuntimeError(f"merge answered {answer.get('statusCode')}: {str(answer.get('body'))[:300]}")
                    if count_range(self.ddb, src, "I#") + count_range(self.ddb, src, "G#") != 0:
                        raise RuntimeError("the merged album's partition is not empty")
                    runs["merge"].append(secs)
                    renamed = f"bench_renamed_{rep}"
                    secs, answer = upd.invoke(update_album_event(dst, renamed, False), timeout=120)
                    body = json.loads(answer.get("body") or "{}")
                    if answer.get("statusCode") != 200 or body.get("images_count") != n + 10:
                        raise RuntimeError(f"rename answered {answer.get('statusCode')}: {str(answer.get('body'))[:300]}")
                    runs["rename"].append(secs)
                    log(f"family round {rep + 1}/{a.family_repeats}: duplicate {runs['plain'][-1]:.2f} s,"
                        f" tags=true {runs['tags'][-1]:.2f} s, merge {runs['merge'][-1]:.2f} s, rename {runs['rename'][-1]:.2f} s")
            finally:
                dup.stop()
                upd.stop()
        plain, tags = summary(runs["plain"]), summary(runs["tags"])
        self.results["family"] = {
            "images": n,
            "tags_per_image": k,
            "duplicate_seconds": plain,
            "duplicate_tags_seconds": tags,
            "tags_over_plain": tags["median"] / plain["median"],
            "items_per_image_with_tags": 1 + k,
            "merge_seconds": summary(runs["merge"]),
            "merge_into_images": 10,
            "rename_seconds": summary(runs["rename"]),
            "note": "a move writes and deletes every item (2 writes per image); tags=true writes 1 + tags items per image",
        }

    def phase_concurrency_sensitivity(self) -> None:
        """Ours at several COPY_CONCURRENCY values (informational): a fresh RIE per
        value and round, rounds interleaved, one server of its own."""
        if not self.args.ours_concurrency:
            return
        n = self.args.images
        samples: dict = {c: [] for c in self.args.ours_concurrency}
        with self.fresh_dynalite("sensitivity", [n]):
            for rep in range(self.args.sensitivity_repeats):
                for c in self.args.ours_concurrency:
                    env_fn = function_env(self.endpoint, self.fn("duplicate_album"))
                    env_fn["COPY_CONCURRENCY"] = str(c)
                    rie = Rie(self.procs, LAMBDA_DIR / "duplicate_album" / "bootstrap", env_fn,
                              self.logs / f"rie-concurrency-{c}.log", "duplicate_album")
                    try:
                        rie.invoke(event_bytes(ROOT / "events" / "duplicate-album.json"))
                        samples[c].append(self.ours(rie, n)["seconds"])
                    finally:
                        rie.stop()
        out = {str(c): {"seconds": summary(v), "images_per_s": n / statistics.median(v)} for c, v in samples.items()}
        log("COPY_CONCURRENCY: " + ", ".join(f"{c}: {v['images_per_s']:.0f}/s" for c, v in out.items()))
        self.results["ours_concurrency_sensitivity"] = {"images": n, "runs": out}

    # -- production physics (the partition simulator) ----------------------

    def start_sim(self, wcu: float, rcu: float, tag: str) -> tuple[subprocess.Popen, str]:
        """`albumctl partition-sim` between the functions and this dynalite."""
        (port,) = free_ports(1)
        proc = self.procs.start(
            [str(LAMBDA_DIR / "albumctl" / "bootstrap"), "partition-sim", "--upstream", self.endpoint,
             "--listen", f"127.0.0.1:{port}", "--wcu-per-partition", f"{wcu:g}", "--rcu-per-partition", f"{rcu:g}"],
            self.logs / f"partition-sim-{tag}.log",
            base_env(self.endpoint),
        )
        wait_port(port, proc, 15, "partition-sim")
        return proc, f"http://127.0.0.1:{port}"

    @staticmethod
    def sim_call(endpoint: str, method: str, path: str) -> dict:
        conn = http.client.HTTPConnection(endpoint.split("//", 1)[1], timeout=60)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"partition-sim {method} {path}: {resp.status} {body[:200]!r}")
            return json.loads(body) if path.startswith("/__sim/stats") else {}
        finally:
            conn.close()

    def sim_load(self, endpoint: str, keys: int) -> dict:
        """The simulator's self-test load: 1 KB items into `keys` keys."""
        a = self.args
        exe = LAMBDA_DIR / "albumctl" / "bootstrap"
        r = subprocess.run(
            [str(exe), "partition-sim-load", "--endpoint", endpoint, "--table", TABLE, "--keys", str(keys),
             "--item-bytes", "1024", "--warmup", str(a.sim_selftest_warmup), "--seconds", str(a.sim_selftest_seconds),
             "--prefix", f"S#selftest-{uuid.uuid4().hex[:8]}"],
            env=base_env(self.endpoint), cwd=ROOT, capture_output=True, text=True,
            timeout=60 + a.sim_selftest_warmup + a.sim_selftest_seconds, stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise RuntimeError(f"partition-sim-load: {r.stderr.strip()[-500:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def drive_job(self, worker: Rie, job_id: str, n: int, t0: float, dest: str) -> dict:
        """Delivers the job's stream record to the worker function, as the
        table's stream would (tests/it/jobs.rs), until the job is done. A
        slice that fails is delivered again, as the stream retries it (it
        resumes from the job's last checkpoint). Gives up, and says so, when
        20 deliveries in a row saved no progress (in AWS the stream gives up
        after 5 and the record goes to the dead-letter queue) or after
        --physics-job-timeout. Returns what happened."""
        out = {"slices": 0, "failed_slices": 0, "done": False, "errors": {}, "all_copied_after_s": None}
        stuck, last_copied, counted_at = 0, -1, 0.0
        event = None  # a record whose slice failed, delivered again
        deadline = time.monotonic() + self.args.physics_job_timeout
        while True:
            item = self.ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"J#{job_id}"}, "sk": {"S": "J"}},
                                     ConsistentRead=True).get("Item")
            if item is None:
                raise RuntimeError(f"job {job_id} is gone")
            copied = int(item.get("images_copied", {}).get("N", "0"))
            # When every image is in the destination, whatever the job's last
            # checkpoint says (a slice that fails after copying saves nothing):
            # counted straight from dynalite between slices, at most every 10 s.
            if out["all_copied_after_s"] is None and time.monotonic() - counted_at >= 10:
                counted_at = time.monotonic()
                if count_images(self.ddb, dest) >= n:
                    out["all_copied_after_s"] = time.perf_counter() - t0
            status = item["status"]["S"]
            if status == "done":
                out["done"] = True
                if out["all_copied_after_s"] is None:
                    out["all_copied_after_s"] = time.perf_counter() - t0
                return out
            if status != "running":
                raise RuntimeError(f"job {job_id} ended {status}: {item.get('error', item)}")
            if time.monotonic() >= deadline:
                out["gave_up"] = f"not done within {self.args.physics_job_timeout:g} s"
                return out
            if event is None:
                if "handoff" not in item:
                    time.sleep(0.1)  # not handed off yet
                    continue
                event = copy.deepcopy(WORKER_EVENT)
                event["Records"][0]["dynamodb"]["NewImage"] = item
                event["Records"][0]["dynamodb"]["Keys"] = {"pk": item["pk"], "sk": item["sk"]}
            stuck = stuck + 1 if copied <= last_copied else 0
            last_copied = max(last_copied, copied)
            if stuck >= 20:
                out["gave_up"] = f"20 deliveries in a row saved no progress ({copied:,} of {n:,} copied)"
                return out
            out["slices"] += 1
            try:
                _, answer = worker.invoke(json.dumps(event).encode(), timeout=1000)
            except (RuntimeError, OSError) as e:
                answer = {"errorMessage": str(e)}
            if isinstance(answer, dict) and answer.get("batchItemFailures") == []:
                event = None  # the next hand-off's record comes from the table
            else:
                out["failed_slices"] += 1  # the stream delivers the same record again
                message = str(answer.get("errorMessage", answer) if isinstance(answer, dict) else answer)
                kind = re.sub(r"\d+", "N", message.split(":")[0] if "unprocessed" in message else message[:60])
                out["errors"][kind] = out["errors"].get(kind, 0) + 1
                log(f"job {job_id}: slice {out['slices']} failed ({message[:100]}); delivered again")

    def physics_duplicate(self, dup: Rie, worker: Rie, sim: str, n: int, wcu: float) -> dict:
        self.sim_call(sim, "POST", "/__sim/reset")
        dest = fresh_destination()
        t0 = time.perf_counter()
        answer_s, answer = dup.invoke(duplicate_event(album_of(n), dest), timeout=120)
        status = answer.get("statusCode")
        body = json.loads(answer.get("body") or "{}")
        row: dict = {"images": n, "status": status, "answer_seconds": answer_s, "done": True, "destination": dest}
        if status == 202:
            row["inline_copied"] = body.get("images_copied")
            row["job_id"] = body.get("job_id")
            row.update(self.drive_job(worker, body["job_id"], n, t0, dest))
        elif status == 200:
            check_duplicate(answer, dest, n)
        else:
            raise RuntimeError(f"duplicate of {n:,} under the simulator answered {status}: {str(answer.get('body'))[:300]}")
        row["seconds"] = time.perf_counter() - t0
        got = count_images(self.ddb, dest)
        row["images_in_destination"] = got
        if row["done"] and got != n:
            raise RuntimeError(f"duplicate of {n:,} left {got:,} images in {dest}")
        stats = self.sim_call(sim, "GET", "/__sim/stats?top=3")
        dest_parts = [p for p in stats["partitions"] if p["index"] is None
                      and (p["key"] == f"A#{dest}" or p["key"].startswith(f"A#{dest}#"))]
        copy_s = row["seconds"] if row["done"] else row.get("all_copied_after_s")
        row.update(
            copy_seconds=copy_s,
            images_per_s=n / copy_s if copy_s else None,
            multiple_of_partition_limit=n / copy_s / wcu if copy_s else None,
            destination_partitions=len(dest_parts),
            destination_partition_wcu=sum(p["wcu"] for p in dest_parts) if dest_parts else None,
            destination_busiest_partition_wcu=max((p["wcu"] for p in dest_parts), default=None),
            sim_totals=stats["totals"],
            sim_operations=stats["operations"],
            hottest=stats["partitions"][:3],
        )
        throttled = {op: v["throttled"] for op, v in stats["operations"].items() if v["throttled"]}
        log(f"physics {wcu:g} WCU/s, {n:,} images: {status} after {answer_s:.1f} s, "
            + (f"done in {row['seconds']:.1f} s" if row["done"] else f"NOT done ({row.get('gave_up')}; all copied after {copy_s})")
            + (f" ({row['images_per_s']:.0f} images/s = {row['multiple_of_partition_limit']:.2f}x the partition limit)" if copy_s else "")
            + f"; throttled calls {throttled}, {stats['totals']['deferred']} items sent back"
            + (f"; {row['failed_slices']} of {row['slices']} slices failed: {row['errors']}" if status == 202 else ""))
        return row

    def physics_listing(self, sim: str, album: str) -> dict:
        """Read units of `list_images`' first page (50) of an album."""
        r = Rie(self.procs, LAMBDA_DIR / "list_images" / "bootstrap", function_env(sim, self.fn("list_images")),
                self.logs / "rie-physics-list-images.log", "list_images")
        try:
            event = fresh(json.loads((ROOT / "events" / "list-images.json").read_text()))
            path = f"/api/v1/albums/{album}/images"
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
            event["pathParameters"]["id"] = album
            event["rawQueryString"] = "limit=50"
            event["queryStringParameters"] = {"limit": "50"}
            payload = json.dumps(event).encode()
            r.invoke(payload, timeout=60)  # the cold start, not counted
            self.sim_call(sim, "POST", "/__sim/reset")
            _, answer = r.invoke(payload, timeout=60)
        finally:
            r.stop()
        if answer.get("statusCode") != 200 or len(json.loads(answer["body"])) != 50:
            raise RuntimeError(f"list_images answered {answer.get('statusCode')}: {str(answer.get('body'))[:200]}")
        stats = self.sim_call(sim, "GET", "/__sim/stats")
        album_parts = [p for p in stats["partitions"] if p["index"] is None
                       and (p["key"] == f"A#{album}" or p["key"].startswith(f"A#{album}#"))]
        query = stats["operations"].get("Query", {})
        return {
            "album": album,
            "limit": 50,
            "rcu_total": stats["totals"]["rcu"],
            "rcu_album_partition": sum(p["rcu"] for p in album_parts),
            "album_partitions_read": len(album_parts),
            "rcu_query": query.get("rcu"),
            "items_read_by_query": query.get("items_read"),
            "by_operation": stats["operations"],
            "partitions": stats["partitions"],
        }

    def phase_physics(self) -> None:
        """Production physics ([P11]): the partition simulator's self-test,
        then duplicates of large albums through the functions with the
        simulator between them and a fresh dynalite, at AWS's per-partition
        limits and at a scaled-down limit where the partition, not the
        emulator, binds; and the read units of an album's first page."""
        a = self.args
        sizes = sorted(set(a.physics_sizes))
        scaled = (a.sim_wcu, a.sim_wcu * 3)  # RCU scaled by the same factor as WCU (1,000 → 3,000)
        out: dict = {"sizes": sizes, "scaled_limits": {"wcu": scaled[0], "rcu": scaled[1]},
                     "aws_limits": {"wcu": 1000, "rcu": 3000}, "selftest": [], "runs": {}}
        # 1. the self-test: 1 KB items into one key and into two, at the
        # scaled limit, at AWS's, and with no limit (what the emulator takes).
        with self.fresh_dynalite("physics-selftest", []):
            for label, wcu in (("scaled", scaled[0]), ("aws", 1000.0), ("unlimited", 1e9)):
                proc, sim = self.start_sim(wcu, wcu * 3, f"selftest-{label}")
                try:
                    for keys in (1, 2):
                        try:
                            rep = self.sim_load(sim, keys)
                        except RuntimeError as e:  # a load that broke says nothing of the limit
                            log(f"self-test {label}, {keys} key(s) failed: {e}")
                            out.setdefault("selftest_errors", []).append(f"{label}/{keys}: {e}")
                            continue
                        rep.update(label=label, wcu_limit=wcu,
                                   multiple_of_limit=rep["items_per_s"] / wcu if label != "unlimited" else None)
                        out["selftest"].append(rep)
                        log(f"self-test {label} ({wcu:g} WCU/s), {keys} key(s): {rep['items_per_s']:.0f} items/s"
                            f" ({rep['per_key_in_window']} in {rep['window_s']:g} s)")
                finally:
                    self.procs.stop(proc)
        # 2. the duplicates, and the first page's read units, on a fresh
        # server per limit (its heap, so its speed, the same for both).
        for label, (wcu, rcu) in (("aws", (1000.0, 3000.0)), ("scaled", scaled)):
            with self.fresh_dynalite(f"physics-{label}", sizes):
                proc, sim = self.start_sim(wcu, rcu, label)
                dup = worker = None
                try:
                    if label == "aws":
                        out["listing"] = self.physics_listing(sim, album_of(sizes[0]))
                        log(f"list_images first page: {out['listing']['rcu_total']:g} RCU"
                            f" (its Query {out['listing']['rcu_query']:g})")
                    dup = Rie(self.procs, LAMBDA_DIR / "duplicate_album" / "bootstrap",
                              function_env(sim, self.fn("duplicate_album")), self.logs / f"rie-physics-dup-{label}.log",
                              "duplicate_album")
                    worker = Rie(self.procs, LAMBDA_DIR / "duplication_worker" / "bootstrap",
                                 function_env(sim, self.fn("duplication_worker")),
                                 self.logs / f"rie-physics-worker-{label}.log", "duplication_worker")
                    _, warm = dup.invoke(event_bytes(ROOT / "events" / "duplicate-album.json"))
                    if warm.get("statusCode") != 200:
                        raise RuntimeError(f"warm-up duplicate answered {warm.get('statusCode')}")
                    out["runs"][label] = {"wcu": wcu, "rcu": rcu,
                                          "duplicates": [self.physics_duplicate(dup, worker, sim, n, wcu) for n in sizes]}
                    if label == "aws":
                        # The same first page of the smallest duplicate's
                        # destination: spread over shards (decision 0012).
                        first = out["runs"][label]["duplicates"][0]
                        out["listing_sharded"] = self.physics_listing(sim, first["destination"])
                        log(f"list_images first page of a sharded copy ({out['listing_sharded']['album_partitions_read']}"
                            f" partitions read): {out['listing_sharded']['rcu_total']:g} RCU"
                            f" (its Queries {out['listing_sharded']['rcu_query']:g})")
                finally:
                    for r in (dup, worker):
                        if r is not None:
                            r.stop()
                    self.procs.stop(proc)
        # 3. the projection of the scaled runs to AWS's limits: the same
        # multiple of a 1,000 WCU/s partition.
        budget = 20.0  # App::sync_copy_budget
        for row in out["runs"].get("scaled", {}).get("duplicates", []):
            if not row["multiple_of_partition_limit"]:
                continue
            rate = row["multiple_of_partition_limit"] * 1000
            t = row["images"] / rate
            row["projected_aws"] = {"images_per_s": rate, "seconds": t, "answer": 200 if t <= budget else 202}
        self.results["physics"] = out

    def physics_table(self) -> list[str]:
        """The before/after rows of BENCHMARKS.md ("Past one partition"), with this run's figures."""
        p = self.results["physics"]
        rows: list[tuple[str, str]] = []
        lim = {"scaled": p["scaled_limits"]["wcu"], "aws": 1000}
        for t in p["selftest"]:
            what = f"self-test, 1 KB items, {'one key' if t['keys'] == 1 else 'two keys'}"
            if t["label"] == "unlimited":
                rows.append((f"{what}, no limit (the emulator)", f"{t['items_per_s']:.0f} items/s"))
            else:
                rows.append((f"{what}, {lim[t['label']]:,.0f} WCU/s", f"{t['items_per_s']:.0f} items/s ({t['multiple_of_limit']:.2f}x the limit)"))
        for label in ("aws", "scaled"):
            run = p["runs"].get(label)
            if not run:
                continue
            for d in run["duplicates"]:
                if d["status"] == 200:
                    cell = f"200 after {d['seconds']:.1f} s"
                else:
                    cell = f"202 after {d['answer_seconds']:.1f} s ({d['inline_copied']:,} copied)"
                    if d["done"]:
                        cell += f", done after {d['seconds']:.1f} s"
                    elif d.get("all_copied_after_s"):
                        cell += f", all copied after {d['all_copied_after_s']:.1f} s but NOT done ({d['gave_up']})"
                    else:
                        cell += f", NOT done ({d['gave_up']})"
                    if d["failed_slices"]:
                        cell += f"; {d['failed_slices']} of {d['slices']} worker slices failed"
                if d["images_per_s"]:
                    cell += f"; {d['images_per_s']:.0f} images/s = {d['multiple_of_partition_limit']:.2f}x"
                if d.get("projected_aws"):
                    pa = d["projected_aws"]
                    cell += f"; at 1,000 WCU/s: {pa['seconds']:.1f} s ({pa['answer']})"
                rows.append((f"duplicate {d['images']:,} at {run['wcu']:,.0f} WCU/s", cell))
        if "listing" in p:
            li = p["listing"]
            rows.append((f"list_images, first page (50 of {p['sizes'][0]:,}), read units",
                         f"{li['rcu_query']:g} RCU (the page's Query), {li['rcu_total']:g} in all"))
        if "listing_sharded" in p:
            ls = p["listing_sharded"]
            ratio = ls["rcu_query"] / p["listing"]["rcu_query"] if p.get("listing", {}).get("rcu_query") else None
            rows.append((f"list_images, first page (50 of a sharded {p['sizes'][0]:,}), read units",
                         f"{ls['rcu_query']:g} RCU (the shards' Queries, {ls['album_partitions_read']} partitions),"
                         f" {ls['rcu_total']:g} in all" + (f"; {ratio:.2f}x the one-partition page" if ratio else "")))
        width = max(len(r[0]) for r in rows)
        return [f"  {k:{width}}  {v}" for k, v in rows]

    # -- into one album: the webhook and imports by URL --------------------

    def probe(self, name: str, argv: list[str], tag: str) -> dict:
        """Runs probe `name` (examples/<name>.rs) against this dynalite; its
        JSON line, or {"error": ...} when it failed or ran out of time."""
        exe = LAMBDA_DIR / name / "bootstrap"
        timeout = self.args.one_album_timeout
        log_path = self.logs / f"{tag}.log"
        try:
            with open(log_path, "wb") as err:
                r = subprocess.run(
                    [str(exe), *argv, "--org", ORG, "--user", USER, "--timeout", f"{timeout:.0f}"],
                    env=base_env(self.endpoint), cwd=ROOT, stdout=subprocess.PIPE, stderr=err,
                    text=True, timeout=timeout + 60, stdin=subprocess.DEVNULL, start_new_session=True,
                )
        except subprocess.TimeoutExpired:
            return {"error": f"no answer within {timeout + 60:.0f} s"}
        lines = r.stdout.strip().splitlines()
        if r.returncode != 0 or not lines:
            tail = log_path.read_text(errors="replace").strip()[-400:]
            return {"error": f"exit {r.returncode}: {tail}"}
        return json.loads(lines[-1])

    def one_album_sim(self, name: str, argv: list[str], tag: str) -> dict:
        """`name` with its handlers' DynamoDB calls through `albumctl
        partition-sim` at the scaled limit, with what the simulator saw:
        the album's partition (its item, and its images at one shard), the
        organization's and the user's, and the calls it refused."""
        wcu = self.args.sim_wcu
        proc, sim = self.start_sim(wcu, wcu * 3, tag)
        try:
            row = self.probe(name, [*argv, "--via", sim], tag)
            stats = self.sim_call(sim, "GET", "/__sim/stats")
        finally:
            self.procs.stop(proc)
        if "error" in row:
            return row

        def part(key: str) -> dict:
            p = next((p for p in stats["partitions"] if p["index"] is None and p["key"] == key), None)
            return {k: p[k] for k in ("wcu", "rcu", "throttled", "deferred")} if p else {}

        album = part(f"A#{ORG}/{row['album']}")
        seconds = row["seconds"]
        recorded = row.get("recorded_imports", row.get("recorded", 0))
        row["sim"] = {
            "wcu_limit": wcu,
            "rcu_limit": wcu * 3,
            "album_partition": album,
            "org_partition": part(f"O#{ORG}"),
            "user_partition": part(f"U#{USER}"),
            "album_wcu_per_s": album.get("wcu", 0) / seconds if seconds else None,
            "album_share_of_limit": album.get("wcu", 0) / seconds / wcu if seconds else None,
            "album_rcu_per_s": album.get("rcu", 0) / seconds if seconds else None,
            "album_wcu_per_recorded": album.get("wcu", 0) / recorded if recorded else None,
            "throttled": stats["totals"]["throttled"],
            "throttled_by_operation": {op: v["throttled"] for op, v in stats["operations"].items() if v["throttled"]},
            "totals": stats["totals"],
            "operations": stats["operations"],
            "hottest": stats["partitions"][:5],
        }
        return row

    def image_item_units(self, album: str) -> dict:
        """The write units of one image item the webhook recorded in `album`
        (and of its by_image entry), from the table."""
        out = self.ddb.query(
            TableName=TABLE, KeyConditionExpression="pk = :pk AND begins_with(sk, :i)",
            ExpressionAttributeValues={":pk": {"S": f"A#{ORG}/{album}"}, ":i": {"S": "I#"}}, Limit=1,
        )
        item = out["Items"][0]
        size = item_size(item)
        gsi = sum(len(k.encode()) + len(item[k]["S"].encode()) for k in ("iid", "pk", "sk") if k in item)
        return {"image_item_bytes": size, "image_item_wcu": math.ceil(size / 1024),
                "by_image_entry_bytes": gsi, "by_image_entry_wcu": math.ceil(gsi / 1024)}

    def phase_webhook(self) -> None:
        """Uploads into one album through the webhook (examples/bench_webhook.rs):
        `--one-album-senders` concurrent senders, straight to dynalite, then
        through the partition simulator at the scaled limit, where the album
        item's partition binds."""
        a = self.args
        argv = ["--uploads", str(a.webhook_uploads), "--senders", str(a.one_album_senders)]
        out: dict = {"uploads": a.webhook_uploads, "senders": a.one_album_senders, "commit": git_commit(),
                     "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with self.fresh_dynalite("webhook", []):
            out["straight"] = self.probe("bench_webhook", argv, "webhook-straight")
            if "album" in out["straight"]:
                out["units"] = self.image_item_units(out["straight"]["album"])
            log_one_album("webhook, straight", out["straight"])
        with self.fresh_dynalite("webhook-sim", []):
            out["sim"] = self.one_album_sim("bench_webhook", argv, "webhook-sim")
            log_one_album(f"webhook, partition-sim {a.sim_wcu:g} WCU/s", out["sim"])
        units = out.get("units")
        if units:
            # On AWS: the album item takes two writes a notification (the
            # seq bump and the guarded increment), at one shard the image
            # item's put and its uncounted mark's removal (1 WCU) too; one
            # partition key takes 1,000 WCU/s.
            per_album = 2
            per_one_shard = per_album + units["image_item_wcu"] + 1
            out["aws"] = {"wcu_limit": 1000, "album_item_wcu_per_notification": per_album,
                          "album_partition_wcu_per_notification_one_shard": per_one_shard,
                          "ceiling_one_shard_per_s": 1000 / per_one_shard,
                          "ceiling_album_item_per_s": 1000 / per_album}
        self.results["webhook"] = out

    def phase_imports(self) -> None:
        """Imports by URL into one album (examples/bench_imports.rs): the
        POSTs through their handler, a loopback Cloudinary, the webhook's
        senders; straight to dynalite, then through the partition simulator."""
        a = self.args
        argv = ["--imports", str(a.imports), "--clients", str(a.one_album_senders),
                "--senders", str(a.one_album_senders)]
        out: dict = {"imports": a.imports, "clients": a.one_album_senders, "senders": a.one_album_senders,
                     "commit": git_commit(), "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with self.fresh_dynalite("imports", []):
            out["straight"] = self.probe("bench_imports", argv, "imports-straight")
            log_one_album("imports, straight", out["straight"])
        with self.fresh_dynalite("imports-sim", []):
            out["sim"] = self.one_album_sim("bench_imports", argv, "imports-sim")
            log_one_album(f"imports, partition-sim {a.sim_wcu:g} WCU/s", out["sim"])
        self.results["imports"] = out

    def one_album_table(self) -> list[str]:
        """The rows of BENCHMARKS.md's "Into one album" section."""
        rows: list[tuple[str, str]] = []
        lim = self.args.sim_wcu

        def delivery(r: dict) -> str:
            st = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
            out = (f"deliveries {r['deliveries']:,} ({st}), re-delivered {r['redelivered']}, given up {r['given_up']};"
                   f" count fallbacks {r['count_fallbacks']}, recounts {r['recounts']} ({r['recount_passes']} passes);"
                   f" images_count {r['images_count']:,}, items {r['image_items']:,}: {'exact' if r['exact'] else 'NOT EXACT'}")
            if r.get("late_redelivery") is not None:
                out += (f"; one given up delivered again 1 s after: {r['late_redelivery']}, then images_count"
                        f" {r['images_count_late']:,}, items {r['image_items_late']:,}: {'exact' if r['exact_late'] else 'NOT EXACT'}")
            return out

        def sim(r: dict) -> str:
            s = r["sim"]
            ap = s["album_partition"]
            return (f"album partition {s['album_wcu_per_s']:.0f} WCU/s = {s['album_share_of_limit']:.2f}x the limit"
                    f" ({s['album_wcu_per_recorded']:.2f} WCU a recorded one, {s['album_rcu_per_s']:.0f} RCU/s),"
                    f" {ap.get('throttled', 0)} of its calls throttled; {s['throttled']} throttled in all {s['throttled_by_operation']}")

        w = self.results.get("webhook")
        if w:
            for label, key in (("straight to dynalite", "straight"), (f"partition-sim, {lim:g} WCU/s", "sim")):
                r = w.get(key, {})
                what = f"webhook, {w['uploads']:,} uploads, {w['senders']} senders, {label}"
                if "error" in r or not r:
                    rows.append((what, f"FAILED: {r.get('error', 'not run')}"))
                    continue
                rows.append((what, f"{r['per_s']:.0f} notifications/s ({r['seconds']:.1f} s);"
                             f" delivery p50 {r['attempt_p50_ms']:.1f} ms, p99 {r['attempt_p99_ms']:.1f} ms;"
                             f" recorded p50 {r['recorded_p50_ms']:.0f} ms, p99 {r['recorded_p99_ms']:.0f} ms"))
                rows.append(("", delivery(r)))
                if key == "sim":
                    rows.append(("", sim(r)))
            if "aws" in w:
                x, u = w["aws"], w["units"]
                rows.append(("on AWS (1,000 WCU/s a partition key)",
                             f"the album item: {x['album_item_wcu_per_notification']} WCU a notification → ≤ {x['ceiling_album_item_per_s']:.0f}/s;"
                             f" at one shard its images too ({u['image_item_bytes']} B = {u['image_item_wcu']} WCU each, 1 more to unmark it)"
                             f" → ≤ {x['ceiling_one_shard_per_s']:.0f}/s"))
        im = self.results.get("imports")
        if im:
            for label, key in (("straight to dynalite", "straight"), (f"partition-sim, {lim:g} WCU/s", "sim")):
                r = im.get(key, {})
                what = f"imports, {im['imports']:,}, {im['clients']} clients, {im['senders']} senders, {label}"
                if "error" in r or not r:
                    rows.append((what, f"FAILED: {r.get('error', 'not run')}"))
                    continue
                pst = ", ".join(f"{k}: {v}" for k, v in r["post_statuses"].items())
                rows.append((what, f"POST {r['post_per_s']:.0f}/s ({r['post_seconds']:.1f} s), p50 {r['post_p50_ms']:.1f} ms,"
                             f" p99 {r['post_p99_ms']:.1f} ms ({pst}; retried {r['post_retried']}, failed {r['post_failed']})"))
                rows.append(("", f"recorded {r['recorded_per_s']:.0f}/s ({r['recorded_imports']:,} in {r['seconds']:.1f} s),"
                             f" POST to done p50 {r['import_recorded_p50_ms']:.0f} ms, p99 {r['import_recorded_p99_ms']:.0f} ms;"
                             f" {r['imports_done']:,} done with {r['distinct_images']:,} distinct images, {r['image_items']:,} in the album:"
                             f" {'each recorded once' if r['recorded_once'] else 'none twice' if r['none_twice'] else 'SOME TWICE'}"))
                rows.append(("", delivery(r)))
                if key == "sim":
                    s = r["sim"]
                    rows.append(("", sim(r)))
                    op = s["org_partition"]
                    rows.append(("", f"the organization's partition (the import items): {op.get('wcu', 0) / r['seconds']:.0f} WCU/s"
                                 f" ({op.get('wcu', 0) / max(1, r['imports']):.2f} WCU an import), {op.get('throttled', 0)} throttled"))
        if not rows:
            return []
        width = max(len(r[0]) for r in rows)
        return [f"  {k:{width}}  {v}" for k, v in rows]

    def phase_memory(self) -> None:
        n = max(self.args.sizes)
        peaks, bases = [], []
        with self.fresh_dynalite("memory", [n]):
            self._memory(n, peaks, bases)
        self.results["memory"] = {
            "images": n,
            "peak_rss_mb": summary(peaks),
            "after_5_image_duplicate_mb": summary(bases),
        }
        log(f"peak RSS copying {n}: {statistics.median(peaks):.1f} MB")

    def _memory(self, n: int, peaks: list, bases: list) -> None:
        for i in range(self.args.memory_repeats):
            r = self.rie("duplicate_album", f"memory-{i}")
            try:
                r.invoke(event_bytes(ROOT / "events" / "duplicate-album.json"))
                pid = r.runtime_pid()
                if pid is None:
                    raise RuntimeError("no bootstrap process under the RIE")
                bases.append(proc_status_kb(pid, "VmHWM") / 1024)
                self.ours(r, n)
                peaks.append(proc_status_kb(pid, "VmHWM") / 1024)
            finally:
                r.stop()

    def project_cpu(self) -> None:
        """Whether a 256 MB Lambda's CPU share keeps up with one partition's rate:
        the bootstrap's measured CPU per copied image times the projected rate."""
        p, sizes = self.results.get("projection"), self.results.get("scaling", {}).get("sizes")
        if not p or not sizes:
            return
        n = self.args.images
        ours = sizes[str(n)]["ours"]
        cpu_per_image = ours["client_cpu_fraction"] * ours["seconds"]["median"] / n
        memory = self.fn("duplicate_album")["memorysize"]
        share = memory / 1769  # Lambda: one vCPU at 1,769 MB, proportional below
        need = cpu_per_image * p["projected_images_per_s"]
        p["bootstrap_cpu_ms_per_image"] = cpu_per_image * 1000
        p["vcpu_needed_at_projected_rate"] = need
        p["vcpu_share_of_function"] = share
        p["function_memory_mb"] = memory

    # -- report ------------------------------------------------------------

    def verdicts(self) -> list[dict]:
        r = self.results
        rows = []

        def add(name: str, value: float | None, target: float, higher_is_better: bool, unit: str) -> None:
            met = None if value is None else (value >= target if higher_is_better else value <= target)
            rows.append({"metric": name, "value": value, "target": ("≥ " if higher_is_better else "≤ ") + f"{target:g}{unit}", "met": met})

        if "copy_throughput" in r:
            add("ours / ceiling", r["copy_throughput"]["ours_over_ceiling"], TARGETS["ours_over_ceiling"], True, "")
            add("ours / boto3", r["copy_throughput"]["ours_over_boto3"], TARGETS["ours_over_boto3"], True, "")
        if "scaling" in r:
            add(r["scaling"]["ratio_name"], r["scaling"]["ratio"], TARGETS["scaling_20k_over_5k"], False, "")
        if "cold_start" in r:
            worst = max((v["median"], k) for k, v in r["cold_start"].items() if k != "hello_lambda")
            add(f"cold start, slowest function ({worst[1]})", worst[0], TARGETS["cold_start_ms"], False, " ms")
        if "memory" in r:
            add(f"peak RSS copying {r['memory']['images']:,}", r["memory"]["peak_rss_mb"]["median"], TARGETS["peak_rss_mb"], False, " MB")
        return rows

    def table(self) -> str:
        r = self.results
        lines = []
        w = lines.append
        if "copy_throughput" in r:
            t = r["copy_throughput"]
            s = r["scaling"]["sizes"][str(t["images"])]
            w(f"Copy throughput, {t['images']:,} images (median of {self.args.repeats})")
            w(f"  {'':26} {'images/s':>10} {'seconds':>9} {'client CPU':>11} {'dynalite CPU':>13}")
            for kind, label in (("ours", "ours (duplicate_album)"), ("boto3", "boto3 batch_writer"), ("ceiling", f"ceiling (c={t['ceiling_concurrency']})")):
                k = s[kind]
                dyn = "" if k["dynalite_cpu_fraction"] is None else f"{k['dynalite_cpu_fraction']:.2f}"
                w(f"  {label:26} {k['images_per_s']:10.0f} {k['seconds']['median']:9.2f} {k['client_cpu_fraction']:11.2f} {dyn:>13}")
            w(f"  ours/ceiling {t['ours_over_ceiling']:.2f} (target ≥ 0.8)   ours/boto3 {t['ours_over_boto3']:.2f} (target ≥ 1.5)")
            sw = r.get("server_work")
            if sw and sw["ceiling_write_ms_per_image"]:
                w(f"  dynalite CPU per image: writes {sw['ceiling_write_ms_per_image']:.3f} ms (ceiling), + source read {sw['read_pass_ms_per_image']:.3f};"
                  f" ours {sw['ours_total_ms_per_image']:.3f} ms → server-bound ours/ceiling ≈ {sw['server_bound_ours_over_ceiling']:.2f}"
                  f" (a recount, {sw['count_pass_ms_per_image']:.3f} more, is skipped for a new album)")
            sweep = ", ".join(f"c={c}: {v['items_per_s']['median']:.0f}" for c, v in t["ceiling_sweep"].items())
            w(f"  ceiling sweep (items/s): {sweep}")
            w("")
            w("Scaling (median seconds; ms per image)")
            w(f"  {'images':>8} {'ours':>16} {'boto3':>16} {'ceiling':>16}")
            for n, v in r["scaling"]["sizes"].items():
                cells = [f"{v[k]['seconds']['median']:7.2f} ({v[k]['ms_per_image']:.3f})" for k in ("ours", "boto3", "ceiling")]
                w(f"  {int(n):8,} " + " ".join(f"{c:>16}" for c in cells))
            sc = r["scaling"]
            w(f"  {sc['ratio_name']} = {sc['ratio']:.2f} (median of the rounds' ratios; ideal {sc['ideal_ratio']:.1f}, target ≤ 4.4); boto3 {sc['ratio_boto3']:.2f}, ceiling {sc['ratio_ceiling']:.2f}")
            om = sc.get("ratio_of_medians")
            if om:
                w(f"  ratio of the medians instead: ours {om['ours']:.2f}, boto3 {om['boto3']:.2f}, ceiling {om['ceiling']:.2f}")
            w("")
        if "physics" in r:
            p = r["physics"]
            w(f"Past one partition: under the partition simulator (albumctl partition-sim; scaled limit {p['scaled_limits']['wcu']:g} WCU/s,"
              f" {p['scaled_limits']['rcu']:g} RCU/s per partition key; AWS's 1,000 and 3,000)")
            lines.extend(self.physics_table())
            w("")
        one_album = self.one_album_table()
        if one_album:
            commits = sorted({r[k]["commit"] for k in ("webhook", "imports") if k in r})
            w(f"Into one album: the webhook's uploads and imports by URL (commit {', '.join(commits)};"
              f" partition-sim's scaled limit {self.args.sim_wcu:g} WCU/s, {self.args.sim_wcu * 3:g} RCU/s a partition key)")
            lines.extend(one_album)
            w("")
        if "family" in r:
            f = r["family"]
            n = f["images"]
            w(f"The duplicate family, {n:,} images (median of {len(f['duplicate_seconds']['samples'])})")
            w(f"  {'duplicate':34} {f['duplicate_seconds']['median']:7.2f} s  {n / f['duplicate_seconds']['median']:6.0f} images/s")
            w(f"  {'duplicate tags=true (' + str(f['tags_per_image']) + ' tags/image)':34} {f['duplicate_tags_seconds']['median']:7.2f} s  {n / f['duplicate_tags_seconds']['median']:6.0f} images/s"
              f"  ({f['tags_over_plain']:.2f}x the time for {f['items_per_image_with_tags']}x the items)")
            w(f"  {'merge into an album of ' + str(f['merge_into_images']):34} {f['merge_seconds']['median']:7.2f} s  {n / f['merge_seconds']['median']:6.0f} images/s (a write and a delete each)")
            w(f"  {'rename':34} {f['rename_seconds']['median']:7.2f} s  {(n + f['merge_into_images']) / f['rename_seconds']['median']:6.0f} images/s")
            w("")
        if "ours_concurrency_sensitivity" in r:
            v = r["ours_concurrency_sensitivity"]["runs"]
            w("Ours by COPY_CONCURRENCY (images/s): " + ", ".join(f"{c}: {x['images_per_s']:.0f}" for c, x in v.items()))
            w("")
        if "cold_start" in r:
            w(f"Cold start, RIE INIT duration (median of {self.args.cold_starts} fresh starts, ms)")
            for k, v in r["cold_start"].items():
                w(f"  {k:26} {v['median']:7.2f}   (min {v['min']:.2f}, max {v['max']:.2f})")
            x = r.get("cold_start_experiments", {}).get("duplicate_album_bundle_only")
            if x:
                w(f"  {'duplicate_album, bundle':26} {x['median']:7.2f}   (SSL_CERT_FILE: the CA bundle alone, SSL_CERT_DIR empty: one bundle as on provided.al2023)")
            x = r.get("cold_start_experiments", {}).get("duplicate_album_one_root_certificate")
            if x:
                w(f"  {'duplicate_album, 1 root':26} {x['median']:7.2f}   (SSL_CERT_FILE: one root; the rest is the CA store's parsing)")
            ex = r.get("cold_start_experiments", {})
            a, b = ex.get("duplicate_album_secrets_in_env"), ex.get("duplicate_album_secrets_from_secrets_manager")
            if a and b:
                w(f"  {'secrets in the env':26} {a['median']:7.2f}   (duplicate_album, bundle; JWT_SECRET, CLOUDINARY_URL set)")
                w(f"  {'secrets from Secrets Mgr':26} {b['median']:7.2f}   (the same with only the ARNs: GetSecretValue x2 against moto on loopback; +{b['median'] - a['median']:.2f} ms)")
            w("")
        if "memory" in r:
            m = r["memory"]
            w(f"Memory: duplicate_album VmHWM after copying {m['images']:,}: {m['peak_rss_mb']['median']:.1f} MB (after a 5-image duplicate: {m['after_5_image_duplicate_mb']['median']:.1f} MB)")
        if "warm_latency" in r:
            wl = r["warm_latency"]
            w(f"Warm latency, 5-image duplicate x{wl['invocations']}: p50 {wl['p50_ms']:.2f} ms, p99 {wl['p99_ms']:.2f} ms")
            w("")
        if "brownout" in r:
            b = r["brownout"]
            w(f"Under a brownout (every DynamoDB call throttled): time to the 503, beside the healthy warm latency (median of {b['repeats']}, ms)")
            w(f"  {'function':26} {'healthy':>9} {'status':>7} {'503 after':>10} {'Retry-After':>12}")
            for k, v in b["functions"].items():
                h, o = v.get("healthy"), v.get("brownout")
                hs = f"{h['median_ms']:9.2f} {'/'.join(h['statuses']):>7}" if h else f"{'':9} {'':>7}"
                os_ = f"{o['median_ms']:10.2f} {'/'.join(o['retry_after']):>12}" if o else ""
                w(f"  {k:26} {hs} {os_}")
            w("")
        if "size" in r:
            w("Zipped bootstrap (deflate 9), KiB:   x86_64    arm64")
            arm = r["size"]["arm64"]
            by_bin = {f["binary"]: f["logical_id"] for f in self.functions}
            for b, v in r["size"]["x86_64"].items():
                a = arm.get(by_bin.get(b, ""), {}).get("zipped")
                w(f"  {b:28} {v['zipped'] / 1024:8.0f} {'' if a is None else f'{a / 1024:8.0f}'}")
            w("")
        if "projection" in r:
            p = r["projection"]
            w(f"Production projection: image item {p['item_bytes']} B → {p['wcu_per_item_table']} WCU + {p['wcu_per_item_gsi']} WCU (by_image) per copy;"
              f" one album partition 1,000 WCU/s → ~{p['projected_images_per_s']:.0f} images/s")
            for n, v in p["albums"].items():
                w(f"  {int(n):>7,} images: {v['note']}")
            if "vcpu_needed_at_projected_rate" in p:
                w(f"  CPU: the bootstrap spent {p['bootstrap_cpu_ms_per_image'] * 1000:.0f} µs per copied image here → {p['vcpu_needed_at_projected_rate']:.3f} vCPU at"
                  f" {p['projected_images_per_s']:.0f} images/s; a {p['function_memory_mb']} MB function has ~{p['vcpu_share_of_function']:.3f} vCPU")
            w("")
        if self.verdicts():
            w("Targets")
        for v in self.verdicts():
            val = "n/a" if v["value"] is None else f"{v['value']:.2f}"
            w(f"  {v['metric']:44} {val:>8}  {v['target']:>10}  {'met' if v['met'] else 'MISSED'}")
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        sizes = self.results["scaling"]["sizes"]
        ns = [int(n) for n in sizes]
        fig, ax = plt.subplots(figsize=(7.5, 5))
        styles = {"ours": ("ours: duplicate_album bootstrap (RIE)", "o-", "C0"),
                  "boto3": ("boto3 Table.batch_writer()", "s-", "C1"),
                  "ceiling": (f"ceiling: pre-built BatchWriteItem, c={self.results['copy_throughput']['ceiling_concurrency']}", "^--", "C2")}
        for kind, (label, fmt, color) in styles.items():
            med = [sizes[str(n)][kind]["seconds"]["median"] for n in ns]
            lo = [m - sizes[str(n)][kind]["seconds"]["min"] for m, n in zip(med, ns)]
            hi = [sizes[str(n)][kind]["seconds"]["max"] - m for m, n in zip(med, ns)]
            ax.errorbar(ns, med, yerr=[lo, hi], fmt=fmt, color=color, label=label, capsize=3)
        proj = self.results.get("projection")
        if proj:
            xs = [min(ns), max(ns)]
            ax.plot(xs, [x / proj["projected_images_per_s"] for x in xs], ":", color="grey",
                    label=f"AWS projection: one partition, {proj['projected_images_per_s']:.0f} images/s")
        ax.axhline(20.0, color="red", alpha=0.4, lw=1, label="20 s: inline copy budget (then 202 + job)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("album size (images)")
        ax.set_ylabel("copy time (s), median; bars: min–max")
        ax.set_title("Album copy time on local DynamoDB (dynalite), x86_64")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def machine_info() -> dict:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name"))
    except (OSError, StopIteration):
        pass

    def version(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except Exception:
            return "?"

    import boto3

    dyn = json.loads((ROOT / "node_modules" / "dynalite" / "package.json").read_text())["version"]
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "rustc": version(["rustc", "--version"]),
        "node": version(["node", "--version"]),
        "dynalite": dyn,
        "python": platform.python_version(),
        "boto3": boto3.__version__,
    }


DOC_START, DOC_END = "<!-- bench:latest -->", "<!-- /bench:latest -->"
DEFAULT_RESULTS = ROOT / "bench" / "results.json"


def update_doc(doc: Path, results: dict, table: str) -> None:
    """Replaces BENCHMARKS.md's latest-figures block with this run's table."""
    text = doc.read_text()
    if DOC_START not in text or DOC_END not in text:
        return
    m = results["machine"]
    head = (
        f"Run of {results['generated_at']} on {m['cpus']} vCPUs ({m['cpu']}), load average"
        f" {m['loadavg_at_start'][0]:.1f} at the start, {m['loadavg_at_end'][0]:.1f} at the end;"
        f" {results['wall_seconds']:.0f} s; rustc {m['rustc'].split()[1] if len(m['rustc'].split()) > 1 else m['rustc']},"
        f" node {m['node']}, dynalite {m['dynalite']}, boto3 {m['boto3']}."
    )
    before, rest = text.split(DOC_START, 1)
    _, after = rest.split(DOC_END, 1)
    doc.write_text(f"{before}{DOC_START}\n{head}\n\n```text\n{table}\n```\n{DOC_END}{after}")


TABLE = local_params()["TABLE_NAME"]
PHASES = ["sizes", "cold", "warm", "brownout", "integrator", "quota", "copies", "family", "sensitivity", "memory",
          "physics", "webhook", "imports"]
RIE = Path()


def main() -> int:
    global RIE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000, help="throughput album size")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[100, 1000, 5000, 20000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ceiling-concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16])
    ap.add_argument("--sweep-repeats", type=int, default=3)
    ap.add_argument("--ours-concurrency", type=lambda s: [int(x) for x in s.split(",") if x], default=[1, 2, 4, 8, 16, 32],
                    help="COPY_CONCURRENCY values tried (informational; '' to skip)")
    ap.add_argument("--sensitivity-repeats", type=int, default=3)
    ap.add_argument("--cold-starts", type=int, default=10)
    ap.add_argument("--warm", type=int, default=200)
    ap.add_argument("--brownout-repeats", type=int, default=5)
    ap.add_argument("--brownout-kinds", type=lambda s: s.split(","), default=["healthy", "brownout"],
                    help="healthy,brownout: which of the two the brownout phase measures (e.g. healthy alone for an older build)")
    ap.add_argument("--memory-repeats", type=int, default=3)
    ap.add_argument("--family-repeats", type=int, default=3)
    ap.add_argument("--sim-wcu", type=float, default=200.0,
                    help="the physics phase's scaled per-partition write limit (WCU/s); reads get 3x (AWS: 1,000 and 3,000)")
    ap.add_argument("--physics-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 20_000, 100_000],
                    help="album sizes the physics phase duplicates")
    ap.add_argument("--sim-selftest-seconds", type=float, default=5.0, help="measured window of each self-test load")
    ap.add_argument("--sim-selftest-warmup", type=float, default=1.0, help="load before the window (spends the burst)")
    ap.add_argument("--physics-job-timeout", type=float, default=1800.0, help="longest a 202's job may take to be done")
    ap.add_argument("--dynalite-heap-mb", type=int, default=6144)
    ap.add_argument("--webhook-uploads", type=int, default=1000, help="notifications the webhook phase delivers into one album")
    ap.add_argument("--imports", type=int, default=1000, help="imports the imports phase sends into one album")
    ap.add_argument("--one-album-senders", type=int, default=16,
                    help="the webhook and imports phases' concurrent senders (and import clients)")
    ap.add_argument("--one-album-timeout", type=float, default=900.0, help="longest one webhook or imports run may take (s)")
    ap.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    ap.add_argument("--merge", action="store_true",
                    help="put this run's sections into the results file beside the ones there (e.g. --phases webhook,imports),"
                         " and leave BENCHMARKS.md's latest figures as they are")
    ap.add_argument("--no-doc", action="store_true", help="leave BENCHMARKS.md's latest figures as they are")
    ap.add_argument("--plot", type=Path, default=ROOT / "bench" / "copy-time.png")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    unknown = phases - set(PHASES)
    if unknown:
        print(f"unknown phases: {', '.join(sorted(unknown))} (of {','.join(PHASES)})", file=sys.stderr)
        return 2
    # The webhook and imports phases run their probes in-process, not the functions.
    functions = phases - {"webhook", "imports"}

    extra = ["albumctl"] + (["hello_lambda"] if "cold" in phases else []) \
        + (["bench_ceiling"] if phases & {"copies", "sensitivity"} else []) \
        + (["bench_quota"] if "quota" in phases else []) \
        + (["bench_webhook"] if "webhook" in phases else []) \
        + (["bench_imports"] if "imports" in phases else [])
    missing = [b for b in ([f["binary"] for f in template_functions()] if functions else []) + extra
               if not (LAMBDA_DIR / b / "bootstrap").exists()]
    if missing:
        print(f"missing bootstraps in target/bench-lambda: {', '.join(missing)} (run scripts/bench.sh)", file=sys.stderr)
        return 2
    want = {"x86_64": 0x3E, "aarch64": 0xB7}.get(platform.machine())
    foreign = [p.parent.name for p in LAMBDA_DIR.glob("*/bootstrap")
               if int.from_bytes(p.read_bytes()[18:20], "little") != want]
    if foreign:
        print(f"bootstraps not built for {platform.machine()}: {', '.join(foreign)} (run scripts/bench.sh)", file=sys.stderr)
        return 2
    RIE = rie_path()

    def on_term(signum, _frame):
        log(f"stopped by signal {signum}; stopping what it started")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    procs = Procs()
    bench = Bench(args, procs)
    started = time.monotonic()
    bench.results["generated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    bench.results["machine"] = machine_info()
    bench.results["config"] = {k: v if not isinstance(v, Path) else os.path.relpath(v, ROOT) for k, v in vars(args).items()}
    bench.results["commit"] = git_commit()
    try:
        if "sizes" in phases:
            bench.phase_sizes()
        if functions:
            with bench.fresh_dynalite("functions", []):
                bench.phase_projection()
                if "cold" in phases:
                    bench.phase_cold_start()
                if "warm" in phases:
                    bench.phase_warm_latency()
                if "brownout" in phases:
                    bench.phase_brownout()
                if "integrator" in phases:
                    bench.phase_integrator()
                if "quota" in phases:
                    bench.phase_quota()
        if "copies" in phases:
            bench.phase_copies()
        if "family" in phases:
            bench.phase_family()
        if "sensitivity" in phases:
            bench.phase_concurrency_sensitivity()
        if "memory" in phases:
            bench.phase_memory()
        if "physics" in phases:
            bench.phase_physics()
        if "webhook" in phases:
            bench.phase_webhook()
        if "imports" in phases:
            bench.phase_imports()
    finally:
        procs.stop_all()
    bench.project_cpu()
    bench.results["machine"]["loadavg_at_end"] = os.getloadavg()
    bench.results["wall_seconds"] = round(time.monotonic() - started, 1)
    bench.results["targets"] = bench.verdicts()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    written = bench.results
    if args.merge and args.results.exists():
        # This run's sections beside the file's, each saying when and on
        # which commit it was measured; the file's own run stays its header.
        written = json.loads(args.results.read_text())
        meta = {"generated_at", "machine", "config", "commit", "wall_seconds", "targets", "seed_seconds"}
        for k, v in bench.results.items():
            if k not in meta:
                written[k] = v
        written.setdefault("merged_runs", []).append(
            {k: bench.results[k] for k in ("generated_at", "commit", "wall_seconds", "machine", "config")})
    args.results.write_text(json.dumps(written, indent=2) + "\n")
    if "scaling" in bench.results:
        bench.plot(args.plot)
    table = bench.table()
    print(table)
    doc = ROOT / "BENCHMARKS.md"
    if not args.no_doc and not args.merge and args.results == DEFAULT_RESULTS and doc.exists():
        update_doc(doc, bench.results, table)
    print(f"\n{os.path.relpath(args.results, ROOT)}" + (f", {os.path.relpath(args.plot, ROOT)}" if "scaling" in bench.results else "")
          + f"; {bench.results['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
