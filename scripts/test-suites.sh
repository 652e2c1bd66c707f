#!/usr/bin/env bash
# Usage: scripts/test-suites.sh   (make test)
#
# One build, then the suites. The build is also clippy's check: cargo runs
# clippy-driver (clippy's rustc) on the workspace's own crates, which lints
# them (-D warnings) and compiles them, so the dependencies are compiled
# once instead of checked for clippy and then compiled for the tests (on a
# 2-core machine that check was ~100 s of a fresh clone's CI). The targets
# are clippy --all-targets' (every binary and example too) but for the
# binaries' cfg(test) variant, which holds no code: they are thin mains
# with `test = false`. The template and spec checks (Python, ~20 s of CPU,
# mostly waiting on one core) run beside the build, niced, in the time a
# single-threaded step of the build leaves a core free.
#
# Then the suite against dynalite (unit tests of both packages too) and
# against moto's server at the same time: each emulator is single-threaded,
# so on two cores the two runs overlap instead of queueing. moto's run is
# the longer (the critical path of the whole CI): once dynalite's has
# ended, the log check (scripts/check-logs.sh: real invocations under the
# runtime emulator, their JSON lines, metrics and traces, against a
# dynalite of its own) runs in the time moto's still takes. Each run's
# output is printed whole when it ends; the script fails if any did. Each
# step prints its wall time and the CPU time of what it ran, which a
# loaded machine changes much less than the wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local
started=$SECONDS
# CPU=the CPU seconds (user + system) of this script's children that have
# ended. Called directly, not in $(...): a subshell's `times` starts at 0.
cpu() {
  times >.local/.times
  CPU=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } printf "%.0f", s }' .local/.times)
}

checks() {
  local rc=0 one
  run_check() { # <name> <command...>
    local name=$1 r=0; shift
    "$@" >".local/$name.log" 2>&1 || r=$?
    echo "== $name (exit $r)"; tail -3 ".local/$name.log"
    [ "$r" = 0 ] || rc=$r
  }
  export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
  run_check sam-validate .venv/bin/sam validate --lint
  run_check cfn-lint .venv/bin/cfn-lint template.yaml
  for one in check-openapi rehearse-deploy check-sam-local; do
    run_check "$one" .venv/bin/python "scripts/$one.py"
  done
  return "$rc"
}
nice -n 10 bash -c "$(declare -f checks); checks" >.local/checks.log 2>&1 &
checks_pid=$!

clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
[ -x "$clippy_driver" ] || { echo "clippy-driver missing from the toolchain (rustup component add clippy)" >&2; exit 1; }
# Exported: every cargo call below (the suites', scripts/invoke.sh's) then
# finds this build fresh; cargo keeps these artifacts apart from a plain
# build's, so neither rebuilds the other.
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver" CLIPPY_ARGS=-Dwarnings
cargo build --workspace --bins --examples --quiet
cargo test --workspace --tests --no-run --quiet
cpu; echo "[suites] test build, clippy -D warnings included: $((SECONDS - started)) s, $CPU s of CPU"
rc_checks=0; wait "$checks_pid" || rc_checks=$?
echo "[suites] template and spec checks (exit $rc_checks, $((SECONDS - started)) s)"; cat .local/checks.log

cpu; build_cpu=$CPU
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
rc_moto=0; wait "$moto" || rc_moto=$?
echo "== against moto (exit $rc_moto, $((SECONDS - started)) s)"; cat .local/test-moto.log
cpu; echo "[suites] suites: $((SECONDS - started)) s since the build began, $((CPU - build_cpu)) s of CPU (the emulators' included)"
[ "$rc_checks" = 0 ] && [ "$rc_dynalite" = 0 ] && [ "$rc_logs" = 0 ] && [ "$rc_moto" = 0 ]
