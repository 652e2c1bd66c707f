#!/usr/bin/env bash
# Runs functions under the Lambda Runtime Interface Emulator with
# CloudWatch's JSON log format (AWS_LAMBDA_LOG_FORMAT=JSON) and checks what
# they print: every line of the function is JSON, lines logged while
# handling an event carry its request id, and no secret or token ever
# appears (the JWT secret, the Cloudinary secret, the caller's token, the
# notification token, the webhook signature); then validates the metric
# lines they wrote against the EMF specification (scripts/check-emf.py),
# and the X-Ray subsegments of a traced duplicate (scripts/check-xray.py).
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
run() { # <function> <event> <level>
  AWS_LAMBDA_LOG_LEVEL=$3 RIE_LOG=".local/logs/$1-$(basename "$2" .json)-$3.log" \
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
    run ScheduledDuplicateFunction events/scheduled-duplicate.json "$level"
  ) &
  pids+=($!)
done
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
AWS_LAMBDA_LOG_LEVEL=INFO RIE_LOG=.local/logs/GetAlbumFunction-unreadable-event-INFO.log \
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
import glob, json, re, sys
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
for path in sorted(glob.glob(".local/logs/*.log")):
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
        spans = json.dumps(rec.get("span", {})) + json.dumps(rec.get("spans", []))
        if "requestId" in spans:
            lines_with_id += 1
        elif rec.get("target", "").startswith("album_api"):
            print(f"{path}: application line without request id: {line[:160]}")
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
