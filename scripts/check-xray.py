#!/usr/bin/env python3
"""Checks the X-Ray subsegments of a real duplicate.

Runs the DuplicateAlbumFunction binary as Lambda runs a function with active
tracing: against a Runtime API served here (the Lambda Runtime Interface
Emulator sends no trace header, Lambda does: `Lambda-Runtime-Trace-Id`),
with AWS_XRAY_DAEMON_ADDRESS naming a UDP socket of this script (standing in
for the X-Ray daemon Lambda runs beside the function), for two invocations
of the real API Gateway event: one sampled, one not. Every DynamoDB
call of the duplicate must arrive as a subsegment of that trace (daemon
header line, then the document): name DynamoDB, namespace aws, the
operation, parent = the header's Parent, start and end times, the HTTP
status and the AWS request id. The invocation's own subsegment, `## handler`,
must come too, annotated as Powertools' tracer does (ColdStart, Service)
and with the album the duplicate read (album_id), so a trace can be found
by album; its log lines must carry the trace's id (xray_trace_id). Then the
same invocation with Sampled=0 must send nothing, and a third, sampled
again, is a warm start: ColdStart false in its annotation and its logs,
and the process's ColdStart metric written once. Last, a scheduled run's
subsegment must carry its job_id and source album. Run through
scripts/with-dynalite.sh (scripts/check-logs.sh does).
"""
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fresh_event import fresh_event

FUNCTION = "DuplicateAlbumFunction"
BINARY = "duplicate_album"
EVENT = "events/duplicate-album.json"
SCHEDULED_EVENT = "events/scheduled-duplicate.json"
# The function's stdout (its JSON lines and EMF documents), outside
# .local/logs/: those are one invocation per process, this is three.
LOG = ".local/xray-function.log"


class RuntimeApi(ThreadingHTTPServer):
    """Lambda's Runtime API for one function process: hands out the queued
    events with the headers Lambda sends (request id, deadline, function
    ARN, the X-Ray trace header) and collects the answers."""

    def __init__(self, function=FUNCTION):
        super().__init__(("127.0.0.1", 0), Handler)
        self.function = function
        self.events = queue.Queue()
        self.answers = queue.Queue()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        request_id, trace, body = self.server.events.get()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 29_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         f"arn:aws:lambda:us-east-1:123456789012:function:{self.server.function}")
        self.send_header("Lambda-Runtime-Trace-Id", trace)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.answers.put((self.path, data))


def function_env(api, daemon_port):
    env = json.load(open("env.local.json"))
    merged = dict(env.get("Parameters", {}))
    merged.update(env.get(api.function, {}))
    out = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "AWS_ENDPOINT_URL"))}
    out.update({k: str(v) for k, v in merged.items() if not (k == "AWS_ENDPOINT_URL_DYNAMODB" and k in out)})
    out.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": api.function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "LOG_LEVEL": "INFO",
    })
    return out


def invoke(api, trace, event_path=EVENT):
    request_id = f"xray-{random.getrandbits(32):08x}"
    params = json.load(open("env.local.json"))["Parameters"]
    # The sample's token is valid until 2100, which the API refuses: sent
    # re-signed, as a client sends a fresh one.
    event = fresh_event(json.load(open(event_path)), params["JWT_SECRET"], params["CLOUDINARY_URL"])
    api.events.put((request_id, trace, json.dumps(event).encode()))
    path, data = api.answers.get(timeout=60)
    if not path.endswith(f"/{request_id}/response"):
        raise SystemExit(f"the function reported {path}: {data[:300]!r}")
    return json.loads(data)


def receive(sock, quiet_for=1.0):
    docs = []
    sock.settimeout(quiet_for)
    while True:
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            return docs
        head, _, body = data.decode().partition("\n")
        if json.loads(head) != {"format": "json", "version": 1}:
            raise SystemExit(f"not the daemon protocol's header: {head}")
        docs.append(json.loads(body))


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    # The test build's binary (as scripts/invoke.sh PROFILE=test uses).
    subprocess.run(["cargo", "test", "--quiet", "--workspace", "--tests", "--no-run"], check=True)
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    log = open(LOG, "w")
    fn = subprocess.Popen([f"target/debug/{BINARY}"], env=function_env(api, sock.getsockname()[1]),
                          stdout=log)
    try:
        failed = check(api, sock)
    finally:
        fn.kill()
        fn.wait()
        log.close()
        api.shutdown()
    return check_job(sock) or failed


def check_job(sock):
    """A scheduled run's trace is found by its job and its source album:
    the `## handler` subsegment of ScheduledDuplicateFunction carries both."""
    api = RuntimeApi("ScheduledDuplicateFunction")
    threading.Thread(target=api.serve_forever, daemon=True).start()
    fn = subprocess.Popen(["target/debug/scheduled_duplicate"],
                          env=function_env(api, sock.getsockname()[1]), stdout=subprocess.DEVNULL)
    try:
        root = f"1-{int(time.time()):08x}-{random.getrandbits(96):024x}"
        parent = f"{random.getrandbits(64):016x}"
        answer = invoke(api, f"Root={root};Parent={parent};Sampled=1", SCHEDULED_EVENT)
        handlers = [d for d in receive(sock) if d.get("name") == "## handler"]
    finally:
        fn.kill()
        fn.wait()
        api.shutdown()
    problems = handler_problems(handlers, root, parent, cold=True)
    notes = handlers[0].get("annotations", {}) if handlers else {}
    source = json.load(open(SCHEDULED_EVENT))["source_album_id"]
    if notes.get("job_id") != answer.get("job_id") or notes.get("album_id") != source:
        problems.append(f"the scheduled run's handler subsegment is not annotated with job_id "
                        f"{answer.get('job_id')} and album_id {source}: {notes}")
    for p in problems:
        print(f"x-ray: {p}")
    print(f"x-ray: a scheduled run's handler subsegment: {json.dumps(notes)}; "
          + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


def handler_problems(handlers, root, parent, cold):
    """What is wrong with an invocation's `## handler` subsegments."""
    if len(handlers) != 1:
        return [f"{len(handlers)} handler subsegments, not 1"]
    d = handlers[0]
    out = []
    if d.get("trace_id") != root or d.get("parent_id") != parent:
        out.append(f"the handler subsegment is not in the invocation's trace: {d}")
    notes = d.get("annotations", {})
    if notes.get("ColdStart") is not cold or notes.get("Service") != "album-api":
        out.append(f"the handler subsegment's annotations are not ColdStart={cold}, Service: {notes}")
    if not d.get("start_time") or d.get("end_time", 0) < d["start_time"]:
        out.append(f"the handler subsegment's times are out of order: {d}")
    return out


def log_problems(cold_root, warm_root):
    """The process's log: its lines name their trace and whether they are
    a cold start, and it counted one ColdStart in three invocations."""
    out = []
    lines = [json.loads(l) for l in open(LOG) if l.startswith("{")]
    by_trace = {}
    for rec in lines:
        if "function_request_id" in rec:
            by_trace.setdefault(rec.get("xray_trace_id"), []).append(rec)
    for root, cold in [(cold_root, True), (warm_root, False)]:
        recs = by_trace.get(root, [])
        if not recs:
            out.append(f"no log line carries xray_trace_id {root} (saw {sorted(map(str, by_trace))})")
        for rec in recs:
            if rec.get("cold_start") is not cold:
                out.append(f"a line of the {'cold' if cold else 'warm'} invocation says cold_start "
                           f"{rec.get('cold_start')}: {json.dumps(rec)[:200]}")
    cold_starts = [rec for rec in lines if "ColdStart" in rec and "_aws" in rec]
    if len(cold_starts) != 1:
        out.append(f"{len(cold_starts)} ColdStart metrics in three invocations of one process, not 1")
    return out


def check(api, sock):
    root = f"1-{int(time.time()):08x}-{random.getrandbits(96):024x}"
    parent = f"{random.getrandbits(64):016x}"
    answer = invoke(api, f"Root={root};Parent={parent};Sampled=1")
    docs = receive(sock)
    problems = []
    if answer.get("statusCode") != 200:
        problems.append(f"the duplicate answered {answer.get('statusCode')}")
    finished = [d for d in docs if "end_time" in d and not d.get("in_progress")]
    handlers = [d for d in finished if d.get("name") == "## handler"]
    done = [d for d in finished if d.get("name") != "## handler"]
    problems += handler_problems(handlers, root, parent, cold=True)
    album = json.load(open(EVENT))["pathParameters"]["id"]
    if handlers and handlers[0].get("annotations", {}).get("album_id") != album:
        problems.append(f"the handler subsegment is not annotated with album_id {album}: {handlers[0]}")
    ops = sorted({d.get("aws", {}).get("operation") for d in done})
    for d in done:
        what = f"subsegment {d.get('aws', {}).get('operation')}: {json.dumps(d)[:200]}"
        if d.get("trace_id") != root or d.get("parent_id") != parent:
            problems.append(f"not in the invocation's trace: {what}")
        if d.get("type") != "subsegment" or d.get("name") != "DynamoDB" or d.get("namespace") != "aws":
            problems.append(f"not an AWS subsegment of DynamoDB: {what}")
        if not d.get("start_time") or d["end_time"] < d["start_time"]:
            problems.append(f"times out of order: {what}")
        if d.get("http", {}).get("response", {}).get("status") != 200:
            problems.append(f"no HTTP status 200: {what}")
        if not d.get("aws", {}).get("request_id"):
            problems.append(f"no AWS request id: {what}")
    for op in ["BatchWriteItem", "GetItem", "Query"]:
        if op not in ops:
            problems.append(f"no subsegment for {op} (saw {ops})")
    # A root of its own: one that only changed the cold root's last digit
    # to 0 was the cold root itself once in 16 runs, and the unsampled
    # (warm) invocation's lines then counted as the cold one's.
    unsampled_root = f"1-{int(time.time()):08x}-{random.getrandbits(96):024x}"
    invoke(api, f"Root={unsampled_root};Parent={parent};Sampled=0")
    unsampled = receive(sock)
    if unsampled:
        problems.append(f"{len(unsampled)} documents sent for an unsampled invocation")
    warm_root = f"1-{int(time.time()):08x}-{random.getrandbits(96):024x}"
    invoke(api, f"Root={warm_root};Parent={parent};Sampled=1")
    warm = [d for d in receive(sock) if d.get("name") == "## handler"]
    problems += handler_problems(warm, warm_root, parent, cold=False)
    problems += log_problems(root, warm_root)
    for p in problems:
        print(f"x-ray: {p}")
    print(f"x-ray: a sampled duplicate sent {len(docs)} documents, {len(done)} finished "
          f"DynamoDB subsegments ({', '.join(ops)}), {len(handlers)} annotated handler subsegment "
          f"({json.dumps(handlers[0].get('annotations') if handlers else None)}); unsampled: {len(unsampled)}; "
          f"warm: ColdStart {warm[0].get('annotations', {}).get('ColdStart') if warm else None}; "
          + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
