#!/usr/bin/env bash
# Runs functions under the Lambda Runtime Interface Emulator with
# CloudWatch's JSON log format (AWS_LAMBDA_LOG_FORMAT=JSON) and checks what
# they print: every line of the function is JSON with Powertools' top-level
# keys (level, timestamp, service, function_name, function_memory_size),
# lines logged while handling an event carry the invocation's keys
# (cold_start, function_request_id, function_arn, correlation_id: API
# Gateway's request id or the Scheduler run's execution id; album_id where
# the invocation read an album, job_id where it ran a job), LOG_LEVEL
# drops what it must and LOG_SAMPLE_RATE=1 logs DEBUG anyway, and no
# secret or token ever appears (the JWT secret, the Cloudinary secret, the
# caller's token, in its header or in the embeddable URL's query string,
# the notification token, the webhook signature); then
# validates the metric lines they wrote against the EMF specification and
# the ColdStart counts (scripts/check-emf.py), and the X-Ray subsegments
# and annotations of a traced duplicate and scheduled run
# (scripts/check-xray.py).
# Run through scripts/with-dynalite.sh (make test does).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ENDPOINT_URL_DYNAMODB:?run me through scripts/with-dynalite.sh}"
scripts/demo-data.sh >/dev/null 2>&1
export AWS_LAMBDA_LOG_FORMAT=JSON
# The binaries make test's build made (scripts/invoke.sh), not a rebuild
# with the features of a plain `cargo build`.
export PROFILE=test
mkdir -p .local/logs
rm -f .local/logs/*.log
rm -f .local/*.signed.json
run() { # <function> <event> <level> [sample rate]
  LOG_LEVEL=$3 LOG_SAMPLE_RATE=${4:-0} RIE_LOG=".local/logs/$1-$(basename "$2" .json)-$3${4:+-sampled}.log" \
    scripts/invoke.sh "$1" "$2" >/dev/null
}
# Both levels at once (each invocation has its own ports and log).
pids=()
for level in INFO DEBUG; do
  (
    run DuplicateAlbumFunction events/duplicate-album.json "$level"
    run GetAlbumFunction events/get-album.json "$level"
    run CloudinaryNotificationFunction events/cloudinary-notification.json "$level"
    run ListImagesFunction events/list-images.json "$level"
    run EmbedImageFunction events/embed-image.json "$level"
    run ScheduledDuplicateFunction events/scheduled-duplicate.json "$level"
  ) &
  pids+=($!)
done
# WARN drops the INFO and DEBUG lines, unless the invocation is sampled
# (LOG_SAMPLE_RATE=1 samples every one).
(
  run GetAlbumFunction events/get-album.json WARN
  run GetAlbumFunction events/get-album.json WARN 1
) &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done
# An event API Gateway never sends but `sam local invoke` or a direct Invoke
# can: lambda_http cannot turn it into a request. The function must answer
# the API's JSON 400 and log the panic it caught as a JSON line.
python3 - <<'PY'
import json
e = json.load(open("events/get-album.json"))
e["rawQueryString"] = 'a="<{ }>"'
json.dump(e, open(".local/unreadable-event.json", "w"))
PY
LOG_LEVEL=INFO RIE_LOG=.local/logs/GetAlbumFunction-unreadable-event-INFO.log \
  scripts/invoke.sh GetAlbumFunction .local/unreadable-event.json >.local/unreadable-answer.json
python3 - <<'PY'
import json, sys
answer = json.load(open(".local/unreadable-answer.json"))
body = json.loads(answer.get("body") or "{}")
code = body.get("error", {}).get("code")
print(f"unreadable event: statusCode {answer.get('statusCode')}, error {code}")
if answer.get("statusCode") != 400 or code != "bad_request":
    sys.exit(f"expected the JSON 400, got {answer}")
log = open(".local/logs/GetAlbumFunction-unreadable-event-INFO.log").read()
if '"panic"' not in log:
    sys.exit("the caught panic was not logged as a JSON line")
PY
python3 - <<'PY'
import glob, json, os, re, sys
env = json.load(open("env.local.json"))["Parameters"]
secrets = {
    "JWT_SECRET": env["JWT_SECRET"],
    "NOTIFICATION_SECRET": env["NOTIFICATION_SECRET"],
    "Cloudinary API secret": env["CLOUDINARY_URL"].split(":", 2)[2].rsplit("@", 1)[0],
}
for f in glob.glob("events/*.json") + glob.glob(".local/*.signed.json"):
    text = open(f).read()
    for tok in re.findall(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", text):
        secrets[f"token in {f}"] = tok
    for sig in re.findall(r'"x-cld-signature": "([0-9a-f]{40})"', text):
        secrets[f"signature in {f}"] = sig
bad = 0
checked = lines_with_id = 0
# The keys Powertools' logger puts on every line, and on every line of an
# invocation (xray_trace_id needs Lambda's trace header, which the emulator
# does not send: scripts/check-xray.py checks it).
EVERY_LINE = ["level", "timestamp", "service", "function_name", "function_memory_size"]
INVOCATION = ["cold_start", "function_request_id", "function_arn", "correlation_id"]
def event_of(path):
    name = re.sub(r"^[A-Za-z]+Function-|-(INFO|DEBUG|WARN)(-sampled)?\.log$", "", os.path.basename(path))
    return json.load(open(f"events/{name}.json")) if os.path.exists(f"events/{name}.json") else {}
def expected_correlation_id(event):
    return (event.get("requestContext") or {}).get("requestId") or event.get("execution_id") or event.get("id")
def expected_album(event):
    return (event.get("pathParameters") or {}).get("id") or event.get("source_album_id")
levels = {}  # log file -> the levels of its application lines
albums = {}  # log file -> the album_id values of its lines
jobs = {}  # log file -> the job_id values of its lines
for path in sorted(glob.glob(".local/logs/*.log")):
    event = event_of(path)
    levels[path] = set()
    albums[path] = set()
    jobs[path] = set()
    for line in open(path):
        line = line.rstrip("\n")
        for name, value in secrets.items():
            if value and value in line:
                print(f"{path}: {name} appears in the logs: {line[:160]}")
                bad += 1
        if not line.startswith("{"):
            if "panicked" in line:
                print(f"{path}: a panic printed as plain text: {line[:160]}")
                bad += 1
            continue  # the emulator's own lines (START/END/REPORT, [INFO] (rapid))
        try:
            rec = json.loads(line)
        except ValueError:
            print(f"{path}: not JSON: {line[:160]}")
            bad += 1
            continue
        checked += 1
        if "_aws" in rec:
            continue  # an EMF document (scripts/check-emf.py)
        missing = [k for k in EVERY_LINE if k not in rec]
        if missing or rec.get("service") != "album-api" or not path.split("/")[-1].startswith(str(rec.get("function_name"))):
            print(f"{path}: line without {missing or 'its service and function name'}: {line[:200]}")
            bad += 1
        levels[path].add(rec.get("level"))
        if "album_id" in rec:
            albums[path].add(rec["album_id"])
        if "job_id" in rec:
            jobs[path].add(rec["job_id"])
        if "function_request_id" in rec:
            lines_with_id += 1
            missing = [k for k in INVOCATION if k not in rec]
            if missing:
                print(f"{path}: an invocation's line without {missing}: {line[:200]}")
                bad += 1
            # One invocation per emulator run: each is a cold start.
            if rec.get("cold_start") is not True:
                print(f"{path}: the only invocation of a process is no cold start: {line[:200]}")
                bad += 1
            want = expected_correlation_id(event)
            if want and rec.get("correlation_id") != want:
                print(f"{path}: correlation_id {rec.get('correlation_id')!r}, expected {want!r}")
                bad += 1
        elif rec.get("target", "").startswith("album_api") and rec.get("message") != "panic":
            print(f"{path}: application line without request id: {line[:160]}")
            bad += 1
# What LOG_LEVEL and LOG_SAMPLE_RATE let through.
for path, seen in sorted(levels.items()):
    if path.endswith("-WARN.log") and seen - {"WARN", "ERROR"}:
        print(f"{path}: LOG_LEVEL=WARN let {sorted(seen - {'WARN', 'ERROR'})} lines through")
        bad += 1
    if path.endswith("-sampled.log") and "DEBUG" not in seen:
        print(f"{path}: LOG_SAMPLE_RATE=1 logged no DEBUG line (saw {sorted(seen)})")
        bad += 1
    if path.endswith("-DEBUG.log") and "DEBUG" not in seen:
        print(f"{path}: LOG_LEVEL=DEBUG logged no DEBUG line")
        bad += 1
# A scheduled run's lines name its job (one: the run's).
for path in sorted(jobs):
    if "ScheduledDuplicateFunction" in path and len(jobs[path]) != 1:
        print(f"{path}: job_id {sorted(jobs[path])}, expected the run's job")
        bad += 1
# The album an invocation read is on its lines, once it has read it.
for path in sorted(albums):
    want = expected_album(event_of(path))
    if want and ("-DEBUG" in path or "-sampled" in path) and albums[path] != {want}:
        print(f"{path}: album_id {sorted(albums[path])}, expected {want!r}")
        bad += 1
if checked == 0:
    print("no JSON log lines captured")
    bad += 1
print(f"logs: {checked} JSON lines from {len(glob.glob('.local/logs/*.log'))} invocations, "
      f"{lines_with_id} with the request id, {len(secrets)} secrets/tokens searched, {bad} problems")
sys.exit(1 if bad else 0)
PY
# The metrics those invocations wrote (CloudWatch Embedded Metric Format).
.venv/bin/python scripts/check-emf.py
# The X-Ray subsegments of a duplicate's DynamoDB calls.
python3 scripts/check-xray.py
