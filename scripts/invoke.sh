#!/usr/bin/env bash
# Usage: scripts/invoke.sh <LogicalId> <event.json>
#
# What `sam local invoke` does, without Docker: runs the function's binary
# under AWS's Lambda Runtime Interface Emulator (the one aws-sam-cli ships and
# uses in its containers), posts the event to it, and prints the function's
# answer on stdout (the emulator's own log goes to $RIE_LOG, by default
# .local/rie.log).
#
# The function's environment comes from env.local.json (the file
# `sam local invoke --env-vars` takes), except AWS_ENDPOINT_URL_DYNAMODB,
# and CLOUDINARY_API_URL, which keep the caller's values when set (the local
# DynamoDB of `make`, the Cloudinary stand-in of `make demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
fn=${1:?usage: scripts/invoke.sh <LogicalId> <event.json>}
event=${2:?usage: scripts/invoke.sh <LogicalId> <event.json>}
# release: the artifact that ships (make invoke); dev: a quick debug build;
# test: the debug binaries of the test build (`cargo test --workspace
# --tests --no-run`, which builds every binary with the features the tests
# unify), so checks after `make test`'s build link nothing again.
profile=${PROFILE:-dev}
[ -f "$event" ] || { echo "no such event file: $event" >&2; exit 2; }

# The binary behind the logical id, from the template's BuildProperties.
bin=$(awk -v fn="  $fn:" '
  $0 == fn { inside = 1; next }
  inside && /^  [^ ]/ { exit }
  inside && $1 == "Binary:" { print $2; exit }' template.yaml)
[ -n "$bin" ] || { echo "no function $fn with a Binary in template.yaml" >&2; exit 2; }

if [ "$profile" = release ]; then
  # What ships: the release bootstrap, built by cargo lambda as sam build
  # does, for this machine's architecture (the emulator runs natively).
  scripts/venv.sh build >&2
  case "$(uname -m)" in x86_64) arch_flag=--x86-64 ;; *) arch_flag=--arm64 ;; esac
  PATH="$PWD/.venv/bin:$PATH" cargo lambda build --quiet --release "$arch_flag" --bin "$bin" >&2
  exe="target/lambda/$bin/bootstrap"
elif [ "$profile" = test ]; then
  cargo test --quiet --workspace --tests --no-run
  exe="target/debug/$bin"
else
  cargo build --quiet --bin "$bin"
  exe="target/debug/$bin"
fi

rie=$(scripts/rie-path.sh)
mkdir -p .local
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
api_port=$(free_port)

# Environment: env.local.json's Parameters, then the function's own section.
eval "$(python3 - "$fn" <<'PY'
import json, shlex, sys, os
fn = sys.argv[1]
env = json.load(open("env.local.json"))
merged = dict(env.get("Parameters", {}))
merged.update(env.get(fn, {}))
for k, v in merged.items():
    if k in ("AWS_ENDPOINT_URL_DYNAMODB", "CLOUDINARY_API_URL") and os.environ.get(k):
        continue
    print(f"export {k}={shlex.quote(str(v))}")
PY
)"
export AWS_LAMBDA_FUNCTION_NAME="$fn"

# A sample event's API token (valid until 2100: the API refuses tokens
# valid for more than TOKEN_MAX_LIFETIME_SECONDS), in its Authorization
# header or its `token` query parameter, and a Cloudinary webhook's signed
# timestamp (stale after two hours): re-signed with the local secrets, as
# a client or Cloudinary would at the moment of the call.
if grep -qiE '"(authorization|x-cld-signature|token)"' "$event"; then
  fresh=.local/$(basename "$event" .json).$$.signed.json
  python3 scripts/fresh_event.py "$event" "$fresh"
  event=$fresh
fi

# Both of the emulator's ports are chosen free, so invocations can run side by side.
rie_log=${RIE_LOG:-.local/rie.log}
"$rie" --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "127.0.0.1:$api_port" "$exe" >"$rie_log" 2>&1 &
rie_pid=$!
trap 'kill "$rie_pid" 2>/dev/null || true; wait "$rie_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$rie_pid" 2>/dev/null || { cat "$rie_log" >&2; exit 1; }
  sleep 0.05
done
curl -sS --fail-with-body -X POST \
  "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" \
  -H 'Content-Type: application/json' --data-binary "@$event"
echo
