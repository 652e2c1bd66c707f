#!/usr/bin/env bash
# Creates .venv with the Python tools of the project (aws-sam-cli, which
# brings the Lambda Runtime Interface Emulator) unless already there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/sam ] || ! cmp -s requirements-dev.txt .venv/.requirements 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt .venv/.requirements
fi
