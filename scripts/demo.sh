#!/usr/bin/env bash
# The demo: seeds the contract's album (5 images) in the local DynamoDB and
# duplicates it through the real Lambda runtime emulator with
# events/duplicate-album.json, printing the function's answer; then asks
# for the embeddable URL of one of its images (events/embed-image.json, the
# token in ?token=) and prints where it redirects.
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
echo "== GET /images/858f43ca-265e-5aed-8541-ff97ca3ddc40?token=…&width=201&height=202&crop=fit (the embeddable URL) through the Lambda Runtime Interface Emulator" >&2
answer=$(scripts/invoke.sh EmbedImageFunction events/embed-image.json)
python3 - "$answer" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
location = (a.get("headers") or {}).get("location")
print(f"HTTP {a.get('statusCode')}")
print(f"embeddable URL of image 858f43ca-265e-5aed-8541-ff97ca3ddc40: {location}")
sys.exit(0 if a.get("statusCode") == 302 and location else 1)
PY
