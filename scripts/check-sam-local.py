#!/usr/bin/env python3
"""What `sam local invoke` and `sam local start-api` give each function, computed by SAM CLI itself.

Usage: .venv/bin/python scripts/check-sam-local.py [--template F] [--env-vars F] [--verbose]

SAM CLI gives a function's container the variables the template declares
for that function, each replaced by the `--env-vars` file's value of the
same name (samconfig.toml passes env.local.json); a variable of the file
that the template does not declare never reaches the container. So a
local run gets the local key and the local DynamoDB only if the template
declares JWT_SECRET, CLOUDINARY_URL and AWS_ENDPOINT_URL_DYNAMODB (as
`AWS::NoValue`: absent in AWS, where scripts/rehearse-deploy.py checks
that no function has them).

This check runs SAM CLI's own code from .venv, without Docker: the stack
and function providers `sam local` builds from the template, its API
provider (the routes `start-api` serves), and its LocalLambdaRunner's
`_make_env_vars(...).resolve()`, the very environment it hands to the
container. With a clean shell environment and no AWS credentials, so the
result depends on the template and the env file alone. It asserts:

1. samconfig.toml passes the env file to `sam local invoke` and
   `sam local start-api`, and maps host.docker.internal (the env file's
   DynamoDB host) to the host, which Linux's Docker Engine does not do
   by itself.
2. `start-api` routes every HttpApi event of the template to its function.
3. Every function's container gets, with the env file's value:
   TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB and PUBLIC_API_URL; JWT_SECRET
   (at least 32 bytes) when its binary needs user tokens, CLOUDINARY_URL
   when it needs Cloudinary and NOTIFICATION_SECRET (at least 32 bytes)
   when it signs or verifies notification tokens (the `Needs` its `main`
   in src/bin/ declares); JOB_TTL_DAYS and TRASH_RETENTION_DAYS when the function declares them.

Prints one line per function (variable names, never values); exits 1 on
any failed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import tomllib
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

STARTED = time.monotonic()
ROOT = Path(__file__).resolve().parent.parent

# Offline before SAM CLI is imported: no telemetry, no credentials lookup
# beyond this process (the instance metadata service least of all).
os.environ.update({"SAM_CLI_TELEMETRY": "0", "AWS_EC2_METADATA_DISABLED": "true"})

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner  # noqa: E402
from samcli.lib.providers.api_provider import ApiProvider  # noqa: E402
from samcli.lib.providers.sam_function_provider import SamFunctionProvider  # noqa: E402
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider  # noqa: E402

# What each `album_api::Needs` of a binary's main reads at init (src/secret_source.rs).
NEEDS = {
    "NONE": (),
    "JWT": ("JWT_SECRET",),
    "JWT_AND_CLOUDINARY": ("JWT_SECRET", "CLOUDINARY_URL"),
    "ALBUMS": ("JWT_SECRET", "CLOUDINARY_URL", "NOTIFICATION_SECRET"),
    "WEBHOOK": ("CLOUDINARY_URL", "NOTIFICATION_SECRET"),
}
# Every function reads these (src/config.rs, the SDK's endpoint).
EVERY_FUNCTION = ("TABLE_NAME", "AWS_ENDPOINT_URL_DYNAMODB", "PUBLIC_API_URL")
# SAM CLI sets these itself, from its own credentials and region.
SET_BY_SAM = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
SECRETS = ("JWT_SECRET", "CLOUDINARY_URL", "NOTIFICATION_SECRET")


class Checks:
    def __init__(self, verbose: bool) -> None:
        self.failed: list[str] = []
        self.passed = 0
        self.verbose = verbose

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
            if self.verbose:
                print(f"  ok   {what}")
        else:
            self.failed.append(what)
            print(f"  FAIL {what}", file=sys.stderr)
        return ok


def needs_of(binary: str) -> str | None:
    main = ROOT / "src" / "bin" / f"{binary}.rs"
    if not main.is_file():
        return None
    found = set(re.findall(r"Needs::([A-Z_]+)", main.read_text()))
    return found.pop() if len(found) == 1 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default="template.yaml")
    ap.add_argument("--env-vars", default="env.local.json")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    os.chdir(ROOT)
    c = Checks(args.verbose)

    samconfig = tomllib.loads(Path("samconfig.toml").read_text())["default"]
    for command in ("local_invoke", "local_start_api"):
        given = samconfig.get(command, {}).get("parameters", {}).get("env_vars")
        c.check(given == args.env_vars, f"samconfig.toml: sam {command.replace('_', ' ')} gets --env-vars {args.env_vars} (got {given})")

    env_file = json.loads(Path(args.env_vars).read_text())
    local = env_file.get("Parameters", {})
    host = urlsplit(str(local.get("AWS_ENDPOINT_URL_DYNAMODB", ""))).hostname
    if host == "host.docker.internal":  # Docker Desktop's name; Linux's Docker Engine needs it mapped
        for command in ("local_invoke", "local_start_api"):
            hosts = samconfig.get(command, {}).get("parameters", {}).get("add_host", [])
            c.check(f"{host}:host-gateway" in hosts, f"samconfig.toml: sam {command.replace('_', ' ')} maps {host} to the host (add_host, got {hosts})")
    for name in (*EVERY_FUNCTION, *SECRETS):
        c.check(bool(str(local.get(name, "")).strip()), f"{args.env_vars}: Parameters.{name} is set")

    stacks, _ = SamLocalStackProvider.get_stacks(args.template)
    functions = {f.name: f for f in SamFunctionProvider(stacks).get_all()}
    c.check(bool(functions), f"SAM CLI finds the template's functions ({len(functions)})")

    # 2. The routes start-api serves, against the template's HttpApi events.
    template_routes = set()
    for resource in stacks[0].resources.values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                p = event["Properties"]
                template_routes.add((p["Method"].upper(), p["Path"]))
    served = {}
    for route in ApiProvider(stacks).api.routes:
        for method in route.methods:
            if method != "OPTIONS":
                served[(method, route.path)] = route.function_name
    c.check(set(served) == template_routes, f"start-api serves the template's {len(template_routes)} HttpApi routes (missing {sorted(template_routes - set(served))}, extra {sorted(set(served) - template_routes)})")
    http_functions = set(served.values())
    for lid, f in functions.items():
        events = (f.events or {}).values()
        routes = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events if e.get("Type") == "HttpApi"}
        for r in sorted(routes):
            c.check(served.get(r) == lid, f"start-api: {r[0]} {r[1]} invokes {lid} (got {served.get(r)})")

    # 3. The container's environment, as SAM CLI computes it.
    runner = LocalLambdaRunner(
        local_runtime=None,
        function_provider=SamFunctionProvider(stacks),
        cwd=str(ROOT),
        real_path=str(ROOT),
        env_vars_values=env_file,
    )
    runner.get_aws_creds = lambda: {}  # SAM CLI's defaults; never this machine's credentials
    applied: set[str] = set()
    print(f"check-sam-local: sam local invoke / start-api --env-vars {args.env_vars}, per function:")
    for lid in sorted(functions, key=lambda n: (n not in http_functions, n)):
        f = functions[lid]
        binary = ((f.metadata or {}).get("BuildProperties") or {}).get("Binary", "")
        needs = needs_of(binary)
        if not c.check(needs in NEEDS, f"{lid}: src/bin/{binary}.rs declares one album_api::Needs (got {needs})"):
            continue
        with mock.patch.dict(os.environ, clear=True):  # no shell value may stand in for the file's
            env = runner._make_env_vars(f).resolve()
        declared = set((f.environment or {}).get("Variables", {}))
        wanted = list(EVERY_FUNCTION) + list(NEEDS[needs]) + [n for n in ("JOB_TTL_DAYS", "TRASH_RETENTION_DAYS") if n in declared]
        got = []
        for name in wanted:
            value = env.get(name, None)
            if value is None:
                why = "missing: SAM CLI applies --env-vars only to a variable the template declares"
            elif value != str(local.get(name)):
                why = "not the env file's value" if name not in SECRETS else "not the env file's value (values not shown)"
            elif name in ("JWT_SECRET", "NOTIFICATION_SECRET") and len(value.encode()) < 32:
                why = "shorter than 32 bytes"
            else:
                why = ""
                got.append(name)
            c.check(not why, f"{lid}: {name} {why or 'from ' + args.env_vars}")
        applied.update(n for n in local if n in env and env[n] == str(local[n]))
        kind = "http " if lid in http_functions else "event"
        print(f"  {lid:32} {kind} Needs::{needs:19} {' '.join(got)}")

    unused = sorted(set(local) - applied)
    c.check(set(unused) <= set(SET_BY_SAM), f"every variable of {args.env_vars} reaches some function (unused: {unused})")
    by_sam = [n for n in unused if n in SET_BY_SAM]
    if by_sam:
        print(f"  (not declared, so not applied: {', '.join(by_sam)}; SAM CLI sets them from its own credentials)")

    if c.failed:
        print(f"check-sam-local: {len(c.failed)} of {len(c.failed) + c.passed} checks FAILED", file=sys.stderr)
        return 1
    print(f"check-sam-local: {c.passed} checks passed, {len(functions)} functions ({time.monotonic() - STARTED:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
