#!/usr/bin/env bash
# Usage: scripts/check-artifacts.sh <arm64|x86_64>
# Checks every bootstrap sam build produced: the expected CPU architecture,
# and no glibc symbol newer than 2.34 (what Amazon Linux 2023, the
# provided.al2023 runtime, has). Prints each bootstrap's `file` line, its
# highest GLIBC symbol version and its zipped size.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-arm64}
case "$arch" in
  arm64) want="ARM aarch64" ;;
  x86_64) want="x86-64" ;;
  *) echo "unknown architecture $arch" >&2; exit 2 ;;
esac
shopt -s nullglob
boots=(.aws-sam/build/*/bootstrap)
[ ${#boots[@]} -gt 0 ] || { echo "no .aws-sam/build/*/bootstrap: run make build" >&2; exit 1; }
fail=0
printf '%-34s %-8s %-12s %s\n' FUNCTION GLIBC ZIPPED FILE
for b in "${boots[@]}"; do
  fn=$(basename "$(dirname "$b")")
  line=$(file -b "$b")
  glibc=$(objdump -T "$b" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  zipped=$(python3 -c '
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))' "$b")
  printf '%-34s %-8s %-12s %s\n' "$fn" "${glibc:-none}" "$(numfmt --to=iec "$zipped")" "$line"
  if [[ "$line" != *"$want"* ]]; then echo "  ^ not $arch" >&2; fail=1; fi
  if [ -n "$glibc" ] && [ "$(printf '%s\n2.34\n' "$glibc" | sort -V | tail -1)" != "2.34" ]; then
    echo "  ^ needs glibc $glibc > 2.34" >&2; fail=1
  fi
done
exit $fail
