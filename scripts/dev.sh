#!/usr/bin/env bash
# make dev: the whole API at http://127.0.0.1:9000 with the template's routes,
# against a local DynamoDB whose data persists in .local/dynamodb (git-ignored)
# across restarts. Seeds a demo organization, user and album on first start,
# prints a dev token and a curl line. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV_ADDR=${DEV_ADDR:-127.0.0.1:9000}
DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
[ -f node_modules/dynalite/cli.js ] || npm install --no-audit --no-fund --silent
mkdir -p .local/dynamodb

if (exec 3<>"/dev/tcp/127.0.0.1/$DYNAMODB_PORT") 2>/dev/null; then
  echo "port $DYNAMODB_PORT is busy (another make dev?); set DYNAMODB_PORT" >&2
  exit 1
fi
node node_modules/dynalite/cli.js --host 127.0.0.1 --port "$DYNAMODB_PORT" --path .local/dynamodb/data \
  --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >.local/dynalite-dev.log 2>&1 &
dynalite_pid=$!
cleanup() { kill "$dynalite_pid" 2>/dev/null || true; wait "$dynalite_pid" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$DYNAMODB_PORT") 2>/dev/null && break
  kill -0 "$dynalite_pid" 2>/dev/null || { cat .local/dynalite-dev.log >&2; exit 1; }
  sleep 0.1
done

eval "$(python3 -c '
import json, shlex
for k, v in json.load(open("env.local.json"))["Parameters"].items():
    print(f"export {k}={shlex.quote(v)}")')"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export PUBLIC_API_URL="http://$DEV_ADDR"
export AWS_EC2_METADATA_DISABLED=true

ORG=a89b5b70-d820-4911-8c6d-25ab6181e9be
USER_ID=9ed26283-3299-4a05-b9d6-e34278fbd416
cargo build --quiet -p albumctl
ctl=target/debug/albumctl
$ctl create-table
$ctl create-org --id "$ORG" --name "Demo organization" 2>/dev/null
$ctl create-user --id "$USER_ID" --org "$ORG" 2>/dev/null
$ctl seed --album 00100000123BB44 --org "$ORG" --images 5 --if-new
token=$($ctl token --user "$USER_ID" --ttl 86400)
cat <<MSG

Dev token (user $USER_ID, 24 h):
  $token

Try:
  curl -s -X POST http://$DEV_ADDR/api/v1/albums/00100000123BB44/duplicate \\
    -H 'Authorization: Token token="$token"' -d destination_id=new_id

Data persists in .local/dynamodb; Ctrl-C stops the API and the local DynamoDB.
MSG
$ctl serve --addr "$DEV_ADDR"
