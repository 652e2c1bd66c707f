#!/usr/bin/env python3
"""A stand-in for Cloudinary's upload API on loopback, for `make demo`:
no demo call may reach the internet.

It takes `POST /v1_1/<cloud>/image/upload` as an import sends it (an
asynchronous upload of a remote URL), checks its signature with the API
secret of CLOUDINARY_URL as Cloudinary does (401 otherwise), answers
`{"status": "pending", ...}`, and writes the notification Cloudinary
would post to the upload's `notification_url` as an API Gateway event for
the webhook (events/cloudinary-notification.json with the upload's query,
public id, album tag and file name) to `<out dir>/notification-<n>.json`.
The caller delivers it (scripts/invoke.sh signs its x-cld headers at the
moment of the call, as Cloudinary signs each delivery).

Usage: scripts/cloudinary-stand-in.py <port file> <out dir>, with
CLOUDINARY_URL in the environment; it writes the port it listens on to
<port file> and serves until killed.
"""
import hashlib
import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY, SECRET, CLOUD = None, None, None
TEMPLATE = json.load(open(os.path.join(os.path.dirname(__file__), "..", "events", "cloudinary-notification.json")))
OUT = None
TAKEN = 0


def signature(fields: dict) -> str:
    """Cloudinary's upload signature: the signed fields sorted, `k=v` joined by `&`, then the secret (SHA-1)."""
    signed = sorted((k, v) for k, v in fields.items()
                    if k not in ("file", "api_key", "signature", "resource_type", "cloud_name") and v != "")
    return hashlib.sha1(("&".join(f"{k}={v}" for k, v in signed) + SECRET).encode()).hexdigest()


def notification_event(fields: dict) -> dict:
    """The webhook event of the notification of upload `fields`."""
    now = int(time.time())
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    public_id = fields["public_id"]
    body = json.loads(TEMPLATE["body"])
    body.update(
        asset_id=hashlib.sha1(public_id.encode()).hexdigest()[:32],
        public_id=public_id, version=now, created_at=stamp, timestamp=stamp,
        tags=[fields.get("tags", "")], original_filename=fields.get("filename_override", "upload"),
        url=f"http://res.cloudinary.com/{CLOUD}/image/authenticated/s--demo0000--/v{now}/{public_id}.jpg",
        secure_url=f"https://res.cloudinary.com/{CLOUD}/image/authenticated/s--demo0000--/v{now}/{public_id}.jpg",
    )
    query = urllib.parse.urlsplit(fields["notification_url"]).query
    event = json.loads(json.dumps(TEMPLATE))
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(urllib.parse.parse_qsl(query))
    event["body"] = json.dumps(body)
    return event


class Upload(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        global TAKEN
        raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        fields = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        if self.path != f"/v1_1/{CLOUD}/image/upload":
            return self.reply(404, {"error": {"message": "not found"}})
        if fields.get("api_key") != KEY or fields.get("signature") != signature(fields):
            return self.reply(401, {"error": {"message": "Invalid Signature"}})
        TAKEN += 1
        path = os.path.join(OUT, f"notification-{TAKEN}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(notification_event(fields), f)
        os.rename(path + ".tmp", path)
        print(f"cloudinary stand-in: upload of {fields.get('file')} as {fields['public_id']}, "
              f"signature checked; notification for {urllib.parse.urlsplit(fields['notification_url']).path}",
              file=sys.stderr)
        self.reply(200, {"status": "pending", "public_id": fields["public_id"]})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # the demo prints its own lines
        pass


def main() -> None:
    global KEY, SECRET, CLOUD, OUT
    port_file, OUT = sys.argv[1], sys.argv[2]
    creds = os.environ["CLOUDINARY_URL"].split("://", 1)[1]
    userinfo, CLOUD = creds.rsplit("@", 1)
    KEY, SECRET = userinfo.split(":", 1)
    os.makedirs(OUT, exist_ok=True)
    server = HTTPServer(("127.0.0.1", 0), Upload)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
