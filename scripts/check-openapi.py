#!/usr/bin/env python3
"""Checks openapi.yaml against the OpenAPI 3.1 specification, template.yaml and the contract.

Usage: .venv/bin/python scripts/check-openapi.py [--spec F] [--template F] [--seed F]

1. openapi.yaml is a valid OpenAPI 3.1 document (openapi-spec-validator).
2. Every API event route of template.yaml (an `HttpApi` or `Api` event of an
   `AWS::Serverless::Function`) has an operation in openapi.yaml (ERROR when
   missing), and the function's binary (Metadata.BuildProperties.Binary) is
   the operation's operationId. Operations with no route in the template yet
   are only WARNINGs: the template grows one function at a time.
3. The property names of the `Album` and `Image` schemas (and of the objects
   nested in them) are, in order, the keys of the contract's response body
   tests/it/fixtures/seed-duplicate-response.json (Image: its first thumbnail),
   and that body validates against the `Album` schema.

Prints one summary line on success; ERROR/WARNING lines on stderr. Exits 1 on
any error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

ROOT = Path(__file__).resolve().parent.parent
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ROUTE_EVENT_TYPES = ("HttpApi", "Api")

# (schema name, path of the matching object in the seed body)
SEED_SHAPES: list[tuple[str, tuple[Any, ...]]] = [
    ("Album", ()),
    ("UploadForm", ("upload_form",)),
    ("UploadFormParams", ("upload_form", "params")),
    ("Image", ("thumbnails", 0)),
    ("ExternalUrls", ("thumbnails", 0, "external_urls")),
    ("ImageThumbnails", ("thumbnails", 0, "thumbnails")),
]


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)
        print(f"ERROR: {msg}", file=sys.stderr)

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)
        print(f"WARNING: {msg}", file=sys.stderr)


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation short-form tags (`!Ref`,
    `!Sub`, `!GetAtt`, `!If`, …) as the plain value they are applied to."""


def _cfn_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


CloudFormationLoader.add_multi_constructor("!", _cfn_tag)


def route_key(method: str, path: str) -> tuple[str, str]:
    """(METHOD, path) with path parameters' names erased and no trailing slash."""
    path = re.sub(r"\{[^}]*\}", "{}", path.strip())
    if len(path) > 1:
        path = path.rstrip("/")
    return method.strip().upper(), path


def load_spec(path: Path, report: Report) -> dict | None:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        report.error(f"{path.name}: cannot read: {e}")
        return None
    if not isinstance(spec, dict):
        report.error(f"{path.name}: not a YAML mapping")
        return None
    return spec


def check_valid_31(spec: dict, path: Path, report: Report) -> None:
    version = str(spec.get("openapi", ""))
    if not re.fullmatch(r"3\.1\.\d+", version):
        report.error(f"{path.name}: `openapi` is {version!r}, expected 3.1.x")
        return
    dangling = sorted(set(dangling_refs(spec)))
    for ref, where in dangling:
        report.error(f"{path.name}: {where}: $ref {ref} points nowhere")
    if dangling:
        return  # the validator would stop at the first one with a traceback
    validator = OpenAPIV31SpecValidator(spec, base_uri=path.resolve().as_uri())
    try:
        for err in validator.iter_errors():
            where = "/".join(str(p) for p in getattr(err, "absolute_path", []) or [])
            report.error(f"{path.name}: {where or '(root)'}: {shorten(str(getattr(err, 'message', err)))}")
    except Exception as e:  # a resolver failure is a defect of the document too
        detail = getattr(e, "ref", None) or str(e)[:300]
        report.error(f"{path.name}: not valid OpenAPI 3.1: {type(e).__name__}: {detail}")


def dangling_refs(node: Any, where: str = "#") -> list[tuple[str, str]]:
    """Local `$ref`s (`#/…`) of the document that resolve to nothing."""
    out: list[tuple[str, str]] = []
    root = node

    def resolve(ref: str) -> bool:
        cur: Any = root
        for token in ref[2:].split("/") if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(cur, dict) and token in cur:
                cur = cur[token]
            elif isinstance(cur, list) and token.isdigit() and int(token) < len(cur):
                cur = cur[int(token)]
            else:
                return False
        return True

    def walk(n: Any, at: str) -> None:
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str) and ref.startswith("#") and not resolve(ref):
                out.append((ref, at))
            for k, v in n.items():
                walk(v, f"{at}/{str(k).replace('~', '~0').replace('/', '~1')}")
        elif isinstance(n, list):
            for i, v in enumerate(n):
                walk(v, f"{at}/{i}")

    walk(node, where)
    return out


def spec_operations(spec: dict, name: str, report: Report) -> dict[tuple[str, str], dict]:
    """{(METHOD, normalized path): {"path", "operationId"}} of the spec."""
    ops: dict[tuple[str, str], dict] = {}
    seen_ids: dict[str, str] = {}
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            label = f"{method.upper()} {path}"
            op_id = op.get("operationId")
            if not op_id:
                report.error(f"{name}: {label} has no operationId")
            elif op_id in seen_ids:
                report.error(f"{name}: operationId {op_id} used by {seen_ids[op_id]} and {label}")
            else:
                seen_ids[op_id] = label
            ops[route_key(method, path)] = {"path": path, "operationId": op_id}
    return ops


def template_routes(path: Path, report: Report) -> list[dict]:
    """The API event routes of template.yaml's serverless functions."""
    try:
        template = yaml.load(path.read_text(encoding="utf-8"), Loader=CloudFormationLoader)
    except (OSError, yaml.YAMLError) as e:
        report.error(f"{path.name}: cannot read: {e}")
        return []
    routes = []
    resources = (template or {}).get("Resources") or {}
    for logical_id, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = (((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary"))
        events = ((res.get("Properties") or {}).get("Events")) or {}
        for event_id, event in events.items():
            if not isinstance(event, dict) or event.get("Type") not in ROUTE_EVENT_TYPES:
                continue
            props = event.get("Properties") or {}
            method, route = props.get("Method"), props.get("Path")
            where = f"{path.name}: {logical_id}.Events.{event_id}"
            if not isinstance(method, str) or not isinstance(route, str):
                report.error(f"{where}: an API event needs a literal Method and Path")
                continue
            routes.append(
                {"where": where, "method": method, "path": route, "binary": binary}
            )
    return routes


def cross_check(ops: dict, routes: list[dict], name: str, report: Report) -> int:
    """Template routes vs operations; returns how many template routes are covered."""
    covered = 0
    routed: set[tuple[str, str]] = set()
    for r in routes:
        method = r["method"].upper()
        if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD"):
            keys = [k for k in ops if k[1] == route_key("GET", r["path"])[1]]
        else:
            keys = [route_key(method, r["path"])] if route_key(method, r["path"]) in ops else []
        if not keys:
            report.error(f"{r['where']}: {method} {r['path']} has no operation in {name}")
            continue
        covered += 1
        routed.update(keys)
        for k in keys:
            op_id = ops[k]["operationId"]
            if r["binary"] and op_id and r["binary"] != op_id:
                report.error(
                    f"{r['where']}: binary {r['binary']} serves {k[0]} {ops[k]['path']}, "
                    f"whose operationId is {op_id}"
                )
    for k, op in sorted(ops.items(), key=lambda kv: (kv[1]["path"], kv[0][0])):
        if k not in routed:
            report.warning(
                f"{name}: {k[0]} {op['path']} ({op['operationId']}) has no route in the template yet"
            )
    return covered


def shorten(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dig(value: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        value = value[p]
    return value


def check_seed_shapes(spec: dict, spec_name: str, seed_path: Path, report: Report) -> None:
    try:
        seed = json.loads(seed_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        report.error(f"{seed_path.name}: cannot read: {e}")
        return
    schemas = (spec.get("components") or {}).get("schemas") or {}
    for name, where in SEED_SHAPES:
        label = "seed body" + "".join(f"[{p!r}]" for p in where)
        try:
            expected = list(dig(seed, where).keys())
        except (KeyError, IndexError, TypeError, AttributeError):
            report.error(f"{seed_path.name}: {label} is not an object")
            continue
        schema = schemas.get(name)
        if not isinstance(schema, dict):
            report.error(f"{spec_name}: components/schemas/{name} is missing")
            continue
        actual = list((schema.get("properties") or {}).keys())
        if actual != expected:
            missing = [k for k in expected if k not in actual]
            extra = [k for k in actual if k not in expected]
            detail = []
            if missing:
                detail.append(f"missing {missing}")
            if extra:
                detail.append(f"not in the seed {extra}")
            if not missing and not extra:
                detail.append(f"order differs: seed {expected}")
            report.error(f"{spec_name}: {name}'s properties differ from {label}'s keys: {'; '.join(detail)}")
        required = schema.get("required") or []
        if sorted(required) != sorted(expected):
            report.error(f"{spec_name}: {name}.required is not exactly the seed's keys")

    # The seed body itself must validate against the Album schema.
    try:
        from openapi_schema_validator import OAS31Validator
    except ImportError:
        report.warning("openapi_schema_validator not importable: seed body not validated against Album")
        return
    root = {"$ref": "#/components/schemas/Album", "components": spec.get("components") or {}}
    for err in OAS31Validator(root).iter_errors(seed):
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        report.error(f"{seed_path.name}: {where}: does not match the Album schema: {shorten(err.message)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=ROOT / "openapi.yaml")
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument("--seed", type=Path, default=ROOT / "tests/it/fixtures/seed-duplicate-response.json")
    args = ap.parse_args()

    report = Report()
    spec = load_spec(args.spec, report)
    covered = n_ops = n_routes = 0
    if spec is not None:
        check_valid_31(spec, args.spec, report)
        ops = spec_operations(spec, args.spec.name, report)
        n_ops = len(ops)
        routes = template_routes(args.template, report)
        n_routes = len(routes)
        covered = cross_check(ops, routes, args.spec.name, report)
        check_seed_shapes(spec, args.spec.name, args.seed, report)

    name = args.spec.name
    if report.errors:
        print(f"{name}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
        return 1
    print(
        f"{name}: valid OpenAPI 3.1, {n_ops} operations, "
        f"{covered}/{n_routes} template routes covered"
        + (f", {len(report.warnings)} operation(s) not yet in the template" if report.warnings else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
