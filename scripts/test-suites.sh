#!/usr/bin/env bash
# Usage: scripts/test-suites.sh   (make test)
#
# The test build once, then the suite against dynalite (unit tests of both
# packages too) and against moto's server at the same time: each emulator
# is single-threaded, so on two cores the two runs overlap instead of
# queueing. moto's run is the longer: once dynalite's has ended, the log
# check (scripts/check-logs.sh: real invocations under the runtime
# emulator, their JSON lines, metrics and traces, against a dynalite of its
# own), the OpenAPI check, the deploy rehearsal and the sam local check run
# in the time moto's still takes. Each run's output is printed
# whole when it ends; the script fails if any did.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
cargo test --workspace --tests --no-run --quiet
echo "[suites] test build: $((SECONDS - started)) s"
mkdir -p .local
scripts/with-dynalite.sh cargo test --workspace --tests >.local/test-dynalite.log 2>&1 &
dynalite=$!
# Three test threads against moto: much of its run is waiting (budgets
# running out under injected faults), which overlaps (four overloaded this
# machine: timing-bound tests then failed).
scripts/with-moto.sh cargo test --test it -- --test-threads=3 >.local/test-moto.log 2>&1 &
moto=$!
rc_dynalite=0; wait "$dynalite" || rc_dynalite=$?
echo "== against dynalite (exit $rc_dynalite, $((SECONDS - started)) s since the build began)"; cat .local/test-dynalite.log
rc_logs=0; scripts/with-dynalite.sh scripts/check-logs.sh >.local/check-logs.log 2>&1 || rc_logs=$?
echo "== the log check (exit $rc_logs, $((SECONDS - started)) s)"; cat .local/check-logs.log
# The template and spec checks (Python, about 25 s) in the time moto's
# run still takes: moto's run is the critical path of the whole CI.
rc_checks=0
for check in check-openapi rehearse-deploy check-sam-local; do
  rc=0; .venv/bin/python "scripts/$check.py" >".local/$check.log" 2>&1 || rc=$?
  echo "== scripts/$check.py (exit $rc, $((SECONDS - started)) s)"; tail -3 ".local/$check.log"
  [ "$rc" = 0 ] || rc_checks=$rc
done
rc_moto=0; wait "$moto" || rc_moto=$?
echo "== against moto (exit $rc_moto, $((SECONDS - started)) s)"; cat .local/test-moto.log
[ "$rc_dynalite" = 0 ] && [ "$rc_logs" = 0 ] && [ "$rc_checks" = 0 ] && [ "$rc_moto" = 0 ]
