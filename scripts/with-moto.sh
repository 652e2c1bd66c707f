#!/usr/bin/env bash
# Runs a command against a fresh, in-memory moto server (a second DynamoDB
# implementation, PyPI `moto[server]`, pinned in requirements-dev.txt) on a
# free loopback port, and stops it afterwards, whatever the command's
# outcome. Like scripts/with-dynalite.sh: the command sees
# AWS_ENDPOINT_URL_DYNAMODB and dummy credentials, so nothing can reach a
# real AWS account; DYNAMODB_EMULATOR=moto lets tests that must adapt to the
# slower server (or to one of its documented gaps) tell which one they face.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/moto_server ] && cmp -s requirements-dev.txt .venv/.requirements-dev 2>/dev/null \
  || scripts/venv.sh >&2
[ -x .venv/bin/moto_server ] || { echo "moto_server missing from .venv (see requirements-dev.txt)" >&2; exit 1; }
mkdir -p .local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A log per server: make test runs two at once.
server_log=.local/moto-test-$port.log
# moto_server's own entry point, with two changes:
# - without werkzeug's line per request: at tens of thousands of requests a
#   suite, writing them (under a lock every request thread takes) was a
#   tenth of the server's CPU, and the server is the critical path of make
#   test. Errors are still logged.
# - one single-item write at a time. moto serves each request on a thread
#   of its own and takes no lock between a conditional write's check and
#   its write, so two conditional updates of one item could both pass
#   (seen: two of five concurrent renames of one album answered 200, two
#   duplicates racing for the day's last images both passed). DynamoDB
#   serializes the writes to an item; a lock around PutItem, UpdateItem and
#   DeleteItem (the conditional ones) gives moto the same guarantee. Reads
#   and batch writes stay outside it: locking every request made the small
#   ones wait behind large Queries, and racing callers ran out of time.
.venv/bin/python -c 'import logging, sys, threading
from moto.server import main
from moto.dynamodb.responses import DynamoHandler
logging.getLogger("werkzeug").setLevel(logging.WARNING)
one_at_a_time = threading.Lock()
call_action = DynamoHandler.call_action
def serialized(self):
    if self._get_action() not in ("PutItem", "UpdateItem", "DeleteItem"):
        return call_action(self)
    with one_at_a_time:
        return call_action(self)
DynamoHandler.call_action = serialized
sys.exit(main())' -H 127.0.0.1 -p "$port" >"$server_log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
ready=
for _ in $(seq 1 300); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$server_log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ready" ] || { echo "moto_server did not start on port $port" >&2; cat "$server_log" >&2; exit 1; }
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export DYNAMODB_EMULATOR=moto
"$@"
