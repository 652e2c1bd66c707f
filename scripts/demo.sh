#!/usr/bin/env bash
# The demo: seeds the contract's album (5 images) in the local DynamoDB and
# duplicates it through the real Lambda runtime emulator with
# events/duplicate-album.json, printing the function's answer.
# Run through scripts/with-dynalite.sh (make demo does).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/demo-data.sh
echo "== POST /api/v1/albums/00100000123BB44/duplicate (destination_id=new_id) through the Lambda Runtime Interface Emulator" >&2
answer=$(scripts/invoke.sh DuplicateAlbumFunction events/duplicate-album.json)
python3 - "$answer" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
print(f"HTTP {a.get('statusCode')}")
for k, v in a.get("headers", {}).items():
    print(f"{k}: {v}")
print()
body = a.get("body") or ""
try:
    print(json.dumps(json.loads(body), indent=2))
except ValueError:
    print(body)
sys.exit(0 if a.get("statusCode") == 200 else 1)
PY
