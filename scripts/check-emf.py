#!/usr/bin/env python3
"""Validates the CloudWatch Embedded Metric Format lines of real invocations.

Reads what scripts/check-logs.sh collected in .local/logs/ (functions run
under the Lambda Runtime Interface Emulator with the JSON log format) and
checks every line that carries "_aws":
  * against scripts/emf-schema.json (the specification's document structure);
  * what a schema cannot say: every metric name and dimension key names a
    root member, metric values are numbers or arrays of at most 100 numbers,
    dimension values are strings;
  * the project's own rules: namespace AlbumApi, every dimension set holds
    `function` (the function's name), the invocation's request id rides along;
and that the metrics the alarms and the dashboard read were emitted
(DuplicateDuration and ImagesCopied by the duplicate, Answers by every HTTP
function, WebhookAccepted by the webhook, JobSlices by a scheduled run),
and ColdStart, dimensioned by function and service as Powertools' is,
exactly once by each process (every log here is one process's first and
only invocation).
Before that it proves it can fail: broken documents must be refused.
"""
import glob
import json
import re
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA = json.loads(Path(__file__).with_name("emf-schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
NAMESPACE = "AlbumApi"


def problems(doc):
    """Everything wrong with one EMF document (empty when valid)."""
    out = [f"schema: {e.message} at /{'/'.join(map(str, e.absolute_path))}"
           for e in VALIDATOR.iter_errors(doc)]
    if out:
        return out
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        if directive["Namespace"] != NAMESPACE:
            out.append(f"namespace {directive['Namespace']!r} is not {NAMESPACE}")
        for dims in directive["Dimensions"]:
            if "function" not in dims:
                out.append(f"dimension set {dims} lacks 'function'")
            for key in dims:
                if not isinstance(doc.get(key), str):
                    out.append(f"dimension {key!r} has no string member at the root")
        for metric in directive["Metrics"]:
            value = doc.get(metric["Name"])
            numbers = value if isinstance(value, list) else [value]
            if not numbers or len(numbers) > 100 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
                out.append(f"metric {metric['Name']!r}: {value!r} is not a number "
                           "or an array of 1 to 100 numbers")
    if not isinstance(doc.get("RequestId"), str):
        out.append("no RequestId property")
    return out


def self_test():
    good = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": NAMESPACE,
            "Dimensions": [["function"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
            "function": "f", "M": 1, "RequestId": "r"}
    assert problems(good) == [], problems(good)
    broken = [
        lambda d: d["_aws"].pop("Timestamp"),
        lambda d: d["_aws"].__setitem__("Timestamp", "now"),
        lambda d: d.pop("M"),
        lambda d: d.__setitem__("M", "1"),
        lambda d: d.__setitem__("M", list(range(101))),
        lambda d: d.pop("function"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("Unit", "Images"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0].__setitem__("Dimensions", []),
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].extend(list("abcdefghi")),
        lambda d: d["_aws"]["CloudWatchMetrics"][0].__setitem__("Namespace", "Other"),
    ]
    for i, breaks in enumerate(broken):
        doc = json.loads(json.dumps(good))
        breaks(doc)
        assert problems(doc), f"broken document {i} was accepted: {doc}"


def main():
    self_test()
    seen = {}  # (function, metric, frozenset of extra dimensions) -> count
    bad = 0
    docs = 0
    sample = None
    cold_starts = {}  # log file -> ColdStart documents
    for path in sorted(glob.glob(".local/logs/*.log")):
        text = Path(path).read_text()
        cold_starts[path] = 0
        request_ids = set(re.findall(r"START RequestId: ([0-9a-f-]+)", text))
        for line in text.splitlines():
            if '"_aws"' not in line:
                continue
            docs += 1
            try:
                doc = json.loads(line)
            except ValueError:
                print(f"{path}: an EMF line that is not JSON: {line[:160]}")
                bad += 1
                continue
            found = problems(doc)
            if request_ids and doc.get("RequestId") not in request_ids:
                found.append(f"RequestId {doc.get('RequestId')!r} is no invocation of this log")
            for p in found:
                print(f"{path}: {p}: {line[:200]}")
            bad += len(found)
            if found:
                continue
            for directive in doc["_aws"]["CloudWatchMetrics"]:
                for dims in directive["Dimensions"]:
                    extra = frozenset((k, doc[k]) for k in dims if k != "function")
                    for metric in directive["Metrics"]:
                        key = (doc["function"], metric["Name"], extra)
                        seen[key] = seen.get(key, 0) + 1
                        if metric["Name"] == "DuplicateDuration" and sample is None:
                            sample = line
                        if metric["Name"] == "ColdStart":
                            cold_starts[path] += 1
                            if doc["ColdStart"] != 1 or dict(extra) != {"service": "album-api"}:
                                print(f"{path}: ColdStart is not 1 by function and service: {line[:200]}")
                                bad += 1
    expected = [
        ("DuplicateAlbumFunction", "DuplicateDuration", frozenset()),
        ("DuplicateAlbumFunction", "ImagesCopied", frozenset()),
        ("DuplicateAlbumFunction", "Answers", frozenset({("status_class", "2xx")})),
        ("GetAlbumFunction", "Answers", frozenset({("status_class", "2xx")})),
        ("GetAlbumFunction", "Answers", frozenset({("status_class", "4xx")})),
        ("ListImagesFunction", "Answers", frozenset({("status_class", "2xx")})),
        ("CloudinaryNotificationFunction", "WebhookAccepted", frozenset()),
        ("CloudinaryNotificationFunction", "Answers", frozenset({("status_class", "2xx")})),
        ("ScheduledDuplicateFunction", "DuplicateDuration", frozenset()),
        ("ScheduledDuplicateFunction", "JobSlices", frozenset()),
    ]
    for function in ["DuplicateAlbumFunction", "GetAlbumFunction", "ListImagesFunction",
                     "CloudinaryNotificationFunction", "ScheduledDuplicateFunction"]:
        expected.append((function, "ColdStart", frozenset({("service", "album-api")})))
    for path, count in sorted(cold_starts.items()):
        if count != 1:
            print(f"{path}: {count} ColdStart datapoints from one process's only invocation, not 1")
            bad += 1
    for key in expected:
        if key not in seen:
            print(f"missing: {key[1]} {dict(key[2]) or ''} from {key[0]}")
            bad += 1
    if sample:
        print("an EMF line of a real duplicate:")
        print("  " + sample)
    names = sorted({(f, m) for f, m, _ in seen})
    print(f"EMF: {docs} documents from {len({f for f, _ in names})} functions, "
          f"{len(names)} function/metric pairs, validated against scripts/emf-schema.json: "
          + ("valid" if bad == 0 else f"{bad} problems"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
