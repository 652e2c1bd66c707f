#!/usr/bin/env bash
# Prints the path of AWS's Lambda Runtime Interface Emulator for this
# machine's architecture, installing aws-sam-cli (which ships it) into .venv
# on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh >&2
case "$(uname -m)" in
  x86_64) arch=x86_64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
rie=$(.venv/bin/python -c 'import samcli, os; print(os.path.join(os.path.dirname(samcli.__file__), "local", "rapid"))')/aws-lambda-rie-$arch
chmod +x "$rie"
echo "$rie"
