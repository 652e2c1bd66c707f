#!/usr/bin/env bash
# Usage: scripts/bench.sh [bench/run.py options]   (make bench)
#
# Performance of the Album API against its peers and the ceiling, in one go
# on this machine: installs what it needs (dynalite, .venv with aws-sam-cli's
# Lambda Runtime Interface Emulator, boto3, cargo-lambda, matplotlib), builds
# the functions' x86_64 release bootstraps with cargo lambda (as `sam build`
# does), plus albumctl, the hello-world baseline and the probes (ceiling,
# quota, webhook, imports), then runs bench/run.py: a fresh in-memory dynalite on
# loopback, every measurement, a table on stdout, bench/results.json,
# bench/copy-time.png.
# See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/dynalite/cli.js ] || npm install --no-audit --no-fund --silent
scripts/venv.sh build
[ "$(uname -m)" = x86_64 ] || { echo "make bench measures x86_64 bootstraps; this machine is $(uname -m)" >&2; exit 2; }

export PATH="$PWD/.venv/bin:$PATH"
bins=$(awk '$1 == "Binary:" { printf "--bin %s ", $2 }' template.yaml)
[ -n "$bins" ] || { echo "no BuildProperties.Binary in template.yaml" >&2; exit 2; }
echo "[bench] building x86_64 release bootstraps (cargo lambda)..." >&2
start=$(date +%s)
# Into a directory of its own (target/bench-lambda/<bin>/bootstrap): sam build
# and make invoke write target/lambda, maybe for another architecture, maybe
# while this runs. Binaries and examples in two calls: cargo lambda refuses
# --bin and --example together.
# shellcheck disable=SC2086
cargo lambda build --quiet --release --x86-64 --lambda-dir target/bench-lambda $bins >&2
# albumctl (seeding) runs here, not in Lambda: a plain release build.
cargo build --quiet --release -p albumctl >&2
mkdir -p target/bench-lambda/albumctl && cp target/release/albumctl target/bench-lambda/albumctl/bootstrap
cargo lambda build --quiet --release --x86-64 --lambda-dir target/bench-lambda --example hello_lambda --example bench_ceiling --example bench_quota --example bench_webhook --example bench_imports >&2
echo "[bench] built in $(($(date +%s) - start)) s" >&2

exec .venv/bin/python bench/run.py "$@"
