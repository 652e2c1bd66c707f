#!/usr/bin/env bash
# Runs a command against a fresh, in-memory local DynamoDB (dynalite) on a
# free loopback port, and stops it afterwards, whatever the command's outcome.
# The command sees AWS_ENDPOINT_URL_DYNAMODB (the AWS SDKs' own variable) and
# dummy credentials, so nothing can reach a real AWS account.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/dynalite/cli.js ] || npm install --no-audit --no-fund --silent
mkdir -p .local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node node_modules/dynalite/cli.js --host 127.0.0.1 --port "$port" \
  --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >.local/dynalite-test.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat .local/dynalite-test.log >&2; exit 1; }
  sleep 0.1
done
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
"$@"
