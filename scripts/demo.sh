#!/usr/bin/env bash
# The demo: seeds the contract's album (5 images) in the local DynamoDB and
# duplicates it through the real Lambda runtime emulator with
# events/duplicate-album.json, printing the function's answer; then asks
# for the embeddable URL of one of its images (events/embed-image.json, the
# token in ?token=) and prints where it redirects; then imports an image by
# URL (events/create-import.json) with Cloudinary's upload API played by
# scripts/cloudinary-stand-in.py on loopback, delivers the stand-in's
# notification to the webhook and shows the import recorded.
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

echo "== POST /api/v1/imports (url=https://example.org/image123.jpg) through the Lambda Runtime Interface Emulator, Cloudinary's upload API played on loopback" >&2
stand_in=.local/demo-cloudinary
rm -rf "$stand_in" && mkdir -p "$stand_in"
CLOUDINARY_URL=$(python3 -c 'import json; print(json.load(open("env.local.json"))["Parameters"]["CLOUDINARY_URL"])') \
  python3 scripts/cloudinary-stand-in.py "$stand_in/port" "$stand_in" &
stand_in_pid=$!
trap 'kill "$stand_in_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -f "$stand_in/port" ] && break; sleep 0.05; done
export CLOUDINARY_API_URL="http://127.0.0.1:$(cat "$stand_in/port")"
answer=$(scripts/invoke.sh CreateImportFunction events/create-import.json)
import_id=$(python3 - "$answer" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
body = json.loads(a.get("body") or "{}")
print(f"HTTP {a.get('statusCode')}", file=sys.stderr)
print(json.dumps(body, indent=2), file=sys.stderr)
if a.get("statusCode") != 200 or body.get("image_id") is not None:
    sys.exit(1)
print(body["id"])
PY
)
notification="$stand_in/notification-1.json"
[ -f "$notification" ] || { echo "the stand-in took no upload" >&2; exit 1; }
echo "== POST /api/v1/cloudinary?token=…&import=$import_id (the upload's notification, as Cloudinary posts it) through the Lambda Runtime Interface Emulator" >&2
answer=$(scripts/invoke.sh CloudinaryNotificationFunction "$notification")
python3 - "$answer" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
print(f"HTTP {a.get('statusCode')}" + (" (a new image recorded)" if a.get("statusCode") == 201 else ""))
sys.exit(0 if a.get("statusCode") in (200, 201) else 1)
PY
echo "== GET /api/v1/imports/$import_id through the Lambda Runtime Interface Emulator" >&2
python3 - "$import_id" <<'PY' > "$stand_in/get-import.json"
import json, sys
e = json.load(open("events/get-import.json"))
old = e["pathParameters"]["id"]
e = json.loads(json.dumps(e).replace(old, sys.argv[1]))
print(json.dumps(e))
PY
answer=$(scripts/invoke.sh GetImportFunction "$stand_in/get-import.json")
python3 - "$answer" <<'PY'
import json, sys
a = json.loads(sys.argv[1])
body = json.loads(a.get("body") or "{}")
print(f"HTTP {a.get('statusCode')}")
print(json.dumps(body, indent=2))
print(f"import {body.get('id')} recorded as image {body.get('image_id')}")
sys.exit(0 if a.get("statusCode") == 200 and body.get("image_id") else 1)
PY
