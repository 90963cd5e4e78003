"""Scale curve: routerhad and keepalived with 1 to 100 groups, side by side.

For each advert interval and number of groups, each implementation runs the pair
of ``run.py`` (r1 master, r2 backup, VRRPv3, the same timers) for ``--seconds``
after its election: CPU % and VmRSS of master and backup, the largest gap
between the master's adverts of one group (how close a backup came to a spurious
takeover), and the transitions after the election, which must stay 0.

Run as root from the repository root (about 10 minutes with the defaults)::

    .venv/bin/python -m benchmarks.failover.scale
    .venv/bin/python -m benchmarks.failover.scale --groups 1,10 --intervals 0.1 --seconds 10
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from lab.netlab import Lab, netns_available

from .run import (
    IMPLEMENTATIONS,
    Setting,
    code_identity,
    log,
    measure_resources,
    ms,
    pair_lab,
    run_header,
)

DEFAULT_OUT = Path(__file__).with_name("scale.md")


def run_scale(
    lab: Lab, groups: list[int], intervals: list[float], seconds: float
) -> list[dict[str, Any]]:
    points = []
    for interval in intervals:
        setting = Setting(f"v3-{interval}", f"VRRPv3 {interval * 1000:.0f} ms", 3, interval)
        for count in groups:
            point: dict[str, Any] = {"groups": count, "interval": interval}
            for name, impl in IMPLEMENTATIONS.items():
                result = point[name] = measure_resources(lab, impl, setting, count, seconds)
                gaps = result["advert_gaps"]
                log(
                    f"scale {name} {count} groups at {interval * 1000:.0f} ms: master "
                    f"{result['r1']['cpu_percent']:.2f}% backup {result['r2']['cpu_percent']:.2f}% "
                    f"RSS {result['r1']['VmRSS']:.1f}/{result['r2']['VmRSS']:.1f} MB, "
                    f"largest gap {ms(gaps.get('max'))} ms, "
                    f"transitions {result['transitions_after_election']}"
                )
            points.append(point)
    return points


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Scale curve: routerhad vs keepalived",
        "",
        f"Run {results['started']} - {results['finished']} on {results['machine']['nproc']} CPUs; "
        f"{results['seconds']:.0f} s per point after the election; VRRPv3, r1 master "
        "(priority 200), r2 backup (100). CPU % of one core (utime + stime); keepalived: its "
        "VRRP child. Largest gap: between consecutive adverts of one group from the master, "
        "at the client, against the backup's Master_Down_Interval.",
        "",
        f"Command: `{results['command']}`",
        "",
        "| interval | groups | implementation | master CPU % | backup CPU % "
        "| master / backup VmRSS MB | largest advert gap ms (Master_Down_Interval) "
        "| transitions after election |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for point in results["points"]:
        interval = point["interval"]
        master_down = 3 * interval + (256 - 100) * interval / 256
        for name in IMPLEMENTATIONS:
            r = point.get(name)
            if not r:
                continue
            spurious = sum(r["transitions_after_election"].values())
            lines.append(
                f"| {interval * 1000:.0f} ms | {point['groups']} | {name} "
                f"| {r['r1']['cpu_percent']:.2f} | {r['r2']['cpu_percent']:.2f} "
                f"| {r['r1']['VmRSS']:.1f} / {r['r2']['VmRSS']:.1f} "
                f"| {ms(r['advert_gaps'].get('max'))} ({ms(master_down)}) | {spurious} |"
            )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.failover.scale")
    parser.add_argument("--groups", default="1,10,50,100", help="group counts, comma-separated")
    parser.add_argument(
        "--intervals", default="1,0.1", help="advert intervals in seconds, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement per point")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="Markdown report")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    usable, why = netns_available()
    if not usable:
        print(f"benchmark: {why}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        **run_header("benchmarks.failover.scale", argv),
        "seconds": args.seconds,
    }
    groups = [int(g) for g in args.groups.split(",")]
    intervals = [float(i) for i in args.intervals.split(",")]
    with pair_lab() as lab:
        results["points"] = run_scale(lab, groups, intervals, args.seconds)
    results["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    results["code"]["end"] = code_identity()
    report = render(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
