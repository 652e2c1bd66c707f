#!/usr/bin/env python3
"""Re-signs what goes stale in a sample event of events/, as a client or
Cloudinary would at the moment of the call:

- its API token (the `authorization` header, or the `token` query
  parameter of an embeddable URL): the API refuses a token whose `exp` lies
  more than TOKEN_MAX_LIFETIME_SECONDS (24 h) ahead, and the samples'
  tokens, valid until 2100, are exactly that. The same claims are signed
  again with JWT_SECRET, `iat` now and `exp` an hour ahead (a query token
  with an audience, the webhook's notification token, is left alone);
- a Cloudinary webhook's `x-cld-timestamp` and `x-cld-signature` (refused
  after 2 h), with the API secret of CLOUDINARY_URL; the body is kept.

Usage: scripts/fresh_event.py <in.json> <out.json>, with JWT_SECRET and
CLOUDINARY_URL in the environment (scripts/invoke.sh exports
env.local.json's). scripts/check-xray.py imports `fresh_event`.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    """The claims of `token`, unverified."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def fresh_token(token: str, jwt_secret: str, now: int) -> str:
    """`token`'s claims, HS256-signed with `jwt_secret`, issued now for an hour."""
    claims = claims_of(token)
    claims.pop("auth_time", None)
    claims.update(iat=now, exp=now + 3600)
    signing_input = f"{_b64(json.dumps({'typ': 'JWT', 'alg': 'HS256'}).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = hmac.new(jwt_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def fresh_event(event: dict, jwt_secret: str, cloudinary_url: str, now: int | None = None) -> dict:
    """`event` with its API token and webhook signature made at `now`."""
    now = int(time.time()) if now is None else now
    headers = event.get("headers") or {}

    def renewed(auth: str) -> str:
        if auth.startswith('Token token="') and auth.endswith('"'):
            return f'Token token="{fresh_token(auth[13:-1], jwt_secret, now)}"'
        if auth.startswith("Bearer "):
            return f"Bearer {fresh_token(auth[7:], jwt_secret, now)}"
        return auth

    if headers.get("authorization"):
        headers["authorization"] = renewed(headers["authorization"])
    multi = event.get("multiValueHeaders") or {}
    if multi.get("authorization"):
        multi["authorization"] = [renewed(a) for a in multi["authorization"]]
    query = event.get("queryStringParameters") or {}
    token = query.get("token")
    if token and "aud" not in claims_of(token):
        fresh = fresh_token(token, jwt_secret, now)
        query["token"] = fresh
        multi_query = event.get("multiValueQueryStringParameters") or {}
        if multi_query.get("token"):
            multi_query["token"] = [fresh if v == token else v for v in multi_query["token"]]
        if event.get("rawQueryString"):
            event["rawQueryString"] = event["rawQueryString"].replace(token, fresh)
    if "x-cld-signature" in headers:
        secret = cloudinary_url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
        body = (event.get("body") or "").encode()
        headers["x-cld-timestamp"] = str(now)
        headers["x-cld-signature"] = hashlib.sha1(body + str(now).encode() + secret.encode()).hexdigest()
    return event


if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    event = fresh_event(json.load(open(source)), os.environ["JWT_SECRET"], os.environ["CLOUDINARY_URL"])
    json.dump(event, open(target, "w"))
