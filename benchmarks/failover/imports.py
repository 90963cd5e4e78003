"""What each import costs routerhad: resident memory and time, step by step.

Each row is a fresh interpreter (the router's: Debian's python3, site-packages
left out as the launcher's ``-I`` does) that imports everything of the rows
above it, then the row's modules, and reports VmRSS and the time the row's
imports took (median of ``--runs``). Reference rows (marked) are measured on top
of the daemon's own imports but are not part of a VRRP-only router's process.

    .venv/bin/python -m benchmarks.failover.imports [--python /usr/bin/python3] [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
#: Where pyroute2 is (the routers get it in the bundle; here the venv has it).
PYROUTE2 = Path(importlib.util.find_spec("pyroute2").origin).parents[1]  # type: ignore[arg-type,union-attr]

#: (label, statements). Statements run in order, after those of earlier steps.
STEPS: list[tuple[str, str]] = [
    ("the interpreter", "pass"),
    ("ssl kept out (routerha.daemon.__main__)", "sys.modules.setdefault('ssl', None)"),
    ("asyncio", "import asyncio"),
    (
        "logging, argparse, json, ipaddress, dataclasses, ctypes",
        "import logging, argparse, json, ipaddress, dataclasses, ctypes",
    ),
    ("routerha.model (the configuration)", "import routerha.model"),
    (
        "routerha.vrrp (state machine, receive checks, adverts)",
        "import routerha.vrrp.machine, routerha.vrrp.receive, routerha.vrrp.send",
    ),
    ("routerha.daemon (all routerhad loads for VRRP groups)", "import routerha.daemon.main"),
    (
        "start-up's freed memory given back (malloc_trim)",
        "import gc; gc.collect(); ctypes.CDLL(None).malloc_trim(0)",
    ),
]
#: Measured on top of every step above, one at a time.
REFERENCES: list[tuple[str, str]] = [
    ("reference: ssl, had asyncio loaded it", "del sys.modules['ssl']; import ssl"),
    ("reference: hmac and OpenSSL (an authenticated group)", "import hmac"),
    (
        "reference: the conntrack sync (pyroute2, ssl)",
        "from routerha.daemon.service import import_conntrack_sync; import_conntrack_sync()",
    ),
]

PROBE = """
import sys, time
sys.path.insert(0, {src!r})
sys.path.append({pyroute2!r})
{before}
t = time.perf_counter()
{step}
elapsed = time.perf_counter() - t
rss = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')][0]
print(rss, elapsed)
"""


def measure(python: str, before: list[str], step: str, runs: int) -> tuple[float, float]:
    """(VmRSS MB, seconds) after ``before`` and ``step``; medians of ``runs``."""
    rss, seconds = [], []
    for _run in range(runs):
        code = PROBE.format(
            src=str(SRC), pyroute2=str(PYROUTE2), before="\n".join(before), step=step
        )
        out = subprocess.run(
            [python, "-s", "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
        rss.append(int(out[0]) / 1024)
        seconds.append(float(out[1]))
    return statistics.median(rss), statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.failover.imports")
    parser.add_argument("--python", default="/usr/bin/python3", help="the router's Python")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    version = subprocess.run(
        [args.python, "-c", "import sys; print(sys.version.split()[0])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    rows = []
    before: list[str] = []
    previous = 0.0
    for label, step in STEPS:
        rss, seconds = measure(args.python, before, step, args.runs)
        rows.append({"step": label, "rss_mb": rss, "added_mb": rss - previous, "ms": seconds * 1e3})
        previous = rss
        before.append(step)
    for label, step in REFERENCES:
        rss, seconds = measure(args.python, before, step, args.runs)
        rows.append({"step": label, "rss_mb": rss, "added_mb": rss - previous, "ms": seconds * 1e3})
    if args.json:
        print(json.dumps({"python": version, "rows": rows}, indent=1))
        return 0
    print(f"Python {version} ({args.python} -s), median of {args.runs} interpreters per row.\n")
    print("| step | VmRSS MB | added MB | import ms |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['step']} | {row['rss_mb']:.1f} | {row['added_mb']:+.1f} | {row['ms']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
