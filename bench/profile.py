#!/usr/bin/env python3
"""Where the duplicate function's own CPU goes while it copies (not part of
`make bench`: slow). Runs the x86_64 release duplicate_album bootstrap under
`valgrind --tool=callgrind` inside the RIE, against a fresh dynalite with a
seeded album, zeroes the counters after a warm-up invocation, copies the album
once, dumps, and prints instructions per image and the top symbols
(`callgrind_annotate`; the bootstrap is stripped, so its own code shows as
addresses, while libc's symbols are named).

    .venv/bin/python bench/profile.py [--images 5000]

Output: bench/out/callgrind.out.* and bench/out/callgrind-annotate.txt.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no bench/__pycache__
import run  # noqa: E402  (the harness: processes, RIE, dynalite, seeding)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    a = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            print(f"{tool} is not installed (apt-get install valgrind)", file=sys.stderr)
            return 2
    run.RIE = run.rie_path()
    out = run.OUT
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("callgrind.out.*"):
        old.unlink()
    wrapper = out / "callgrind-bootstrap.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec valgrind --tool=callgrind --callgrind-out-file={out}/callgrind.out.%p "
        f"{run.LAMBDA_DIR / 'duplicate_album' / 'bootstrap'}\n"
    )
    wrapper.chmod(0o755)
    args = argparse.Namespace(dynalite_heap_mb=4096)
    procs = run.Procs()
    bench = run.Bench(args, procs)
    try:
        with bench.fresh_dynalite("profile", [a.images]):
            r = bench.rie("duplicate_album", "profile", exe=wrapper)
            try:
                r.invoke(run.event_bytes(run.ROOT / "events" / "duplicate-album.json"), timeout=300)
                pid = None
                for _ in range(100):  # valgrind execs the bootstrap in place: the RIE's child
                    pid = r.runtime_pid()
                    if pid:
                        break
                    time.sleep(0.05)
                subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True, timeout=60)
                dest = run.fresh_destination()
                t0 = time.perf_counter()
                _, answer = r.invoke(run.duplicate_event(run.album_of(a.images), dest), timeout=600)
                secs = time.perf_counter() - t0
                run.check_duplicate(answer, dest, a.images)
                subprocess.run(["callgrind_control", "-d", "copy", str(pid)], check=True, capture_output=True, timeout=60)
                time.sleep(1)
            finally:
                r.stop()
    finally:
        procs.stop_all()
    dumps = sorted(out.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
    dump = next((d for d in dumps if "copy" in d.read_text(errors="replace")[:2000]), dumps[-1])
    ann = subprocess.run(["callgrind_annotate", str(dump)], capture_output=True, text=True, timeout=300).stdout
    (out / "callgrind-annotate.txt").write_text(ann)
    total = None
    for line in ann.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            break
    result = {
        "images": a.images,
        "seconds_under_valgrind": round(secs, 2),
        "instructions": total,
        "instructions_per_image": round(total / a.images) if total else None,
        "dump": str(dump.relative_to(run.ROOT)),
    }
    print(json.dumps(result, indent=2))
    print("\n".join(ann.splitlines()[:60]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
