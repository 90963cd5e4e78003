"""Sync-flood benchmark: the master's largest advert gap while a host floods the sync link.

::

    python -m benchmarks.syncflood.run [--runs N] [--before-src DIR] [--out FILE]

Run as root from the repository root. One lab: r1 (priority 200) and r2 (priority
100) and a client on a LAN bridge (10.9.0.0/24, virtual address 10.9.0.100/24,
VRRPv3 at 100 ms, no authentication), and a sync bridge (192.168.9.0/24) where a
third host, "junk", sends forged sync datagrams (``lab.sync_forge``). r1 holds
20,000 established SNAT entries in its conntrack table before routerhad starts,
so r2 receives a bulk sync of 20,000 entries, as in the floods this measures:

- idle: no flood;
- RESYNC flood: 250 RESYNC requests as fast as the junk host sends them (about
  50 ms);
- NACK flood: 30 NACKs for everything r1 sent in its session (up to 4,000
  messages), 1.5 ms apart.

For each, the client records every advert of r1 from 1 s before the flood to 4 s
after it: the largest gap between two is how close r2 came to a takeover (its
Master_Down_Interval is 360 ms). Also the VRRP transitions of both routers during
that time and the DATA messages r1 sent on the sync link (heard by the junk host).
The same is measured for keepalived at the same interval in the same lab with the
same floods (keepalived has no sync protocol: its column is what a VRRP daemon on
this machine shows while the same traffic crosses it), and with ``--before-src``
for a second routerhad source tree (the code before the flood limits).

Results: a Markdown table on stdout and in ``--out`` (default
benchmarks/syncflood/results.md), raw numbers in results.json next to it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lab.netlab import Keepalived, Lab, keepalived_instance, netns_available, poll
from lab.sync_forge import (
    ATTACK_SYNC,
    FORGED_SESSION,
    AdvertWatch,
    SyncSniffer,
    fill_table,
    forge_datagram,
    made_up_entry,
    range_body,
    send_as_peer,
)
from routerha.ctl.client import request
from routerha.ctsync.protocol import Kind

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.md"
INTERVAL = 0.1
MASTER_DOWN = 3 * INTERVAL + (256 - 100) / 256 * INTERVAL
TABLE = 20_000
VIP = "10.9.0.100/24"
R1_LAN, R1_SYNC = "10.9.0.1", "192.168.9.1"
FLOODS = ("idle", "resync", "nack")
RULESET = """\
table inet filter {
    chain forwarding {
        type filter hook forward priority filter; policy accept;
        ct state established counter accept
    }
}
"""


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def build(lab: Lab) -> None:
    for name, n in (("r1", 1), ("r2", 2)):
        lab.add_host(name, f"10.9.0.{n}/24")
        lab.add_host(name, f"192.168.9.{n}/24", segment="sync", ifname="eth1")
        lab.run(name, "nft", "-f", "-", input=RULESET)
    lab.add_host("cl", "10.9.0.25/24")
    lab.add_host("junk", "192.168.9.99/24", segment="sync")


class Routerhad:
    """The pair under routerhad, with conntrack sync on eth1 (from ``src`` if given)."""

    def __init__(self, lab: Lab, label: str, src: Path | None) -> None:
        self.lab, self.label = lab, label
        # The code before the sync link's authentication knows no such setting.
        self.sync_settings = ATTACK_SYNC if src is None else {}
        self.env = dict(os.environ)
        if src is not None:
            self.env["PYTHONPATH"] = f"{src}{os.pathsep}{self.env.get('PYTHONPATH', '')}"
        self.socks: dict[str, Path] = {}
        self.processes: list[Any] = []

    def start(self) -> None:
        for host in ("r1", "r2"):
            config = {
                "vrrp": {
                    "groups": {
                        "LAN": {
                            "interface": "eth0", "vrid": 1, "version": 3,
                            "priority": 200 if host == "r1" else 100,
                            "advertise_interval": INTERVAL, "address": [VIP],
                        }
                    },
                    "sync_groups": {"CG": {"member": ["LAN"]}},
                },
                "conntrack_sync": {
                    "interface": "eth1", "failover_mechanism": {"sync_group": "CG"},
                    **self.sync_settings,
                },
            }  # fmt: skip
            path = self.lab.dir / f"{self.label}-{host}.json"
            path.write_text(json.dumps(config))
            self.socks[host] = self.lab.dir / f"{self.label}-{host}.sock"
            self.processes.append(
                self.lab.popen(
                    host, sys.executable, "-m", "routerha.daemon", "--config", str(path),
                    "--control", str(self.socks[host]),
                    "--pidfile", str(self.lab.dir / f"{self.label}-{host}.pid"),
                    log_name=f"{self.label}-{host}.log", env=self.env,
                )
            )  # fmt: skip
            wanted = "MASTER" if host == "r1" else "BACKUP"
            poll(lambda h=host, w=wanted: self.state(h) == w, 30, message=f"{host} not {wanted}")
        poll(
            lambda: (self.conntrack("r2") or {}).get("external_cache", 0) >= TABLE,
            120,
            message=lambda: f"r2 never had r1's table: {self.conntrack('r2')}",
        )

    def status(self, host: str) -> dict[str, Any] | None:
        try:
            return request(str(self.socks[host]), "status", timeout=5.0)
        except (OSError, ValueError):
            return None

    def state(self, host: str) -> str | None:
        status = self.status(host)
        return status["groups"][0]["state"] if status and status.get("groups") else None

    def transitions(self) -> int:
        return sum(
            (self.status(h) or {"groups": [{"counters": {"transitions": -1}}]})["groups"][0][
                "counters"
            ]["transitions"]
            for h in ("r1", "r2")
        )

    def conntrack(self, host: str) -> dict[str, Any] | None:
        try:
            answer = request(str(self.socks[host]), "conntrack", timeout=5.0, what="stats")
        except (OSError, ValueError):
            return None
        return answer.get("stats")

    def stop(self) -> None:
        for process in self.processes:
            process.stop(5.0)


class KeepalivedPair:
    """The pair under keepalived at the same interval (nothing listens on the sync port)."""

    def __init__(self, lab: Lab, label: str) -> None:
        self.lab, self.label = lab, label
        self.daemons: dict[str, Keepalived] = {}

    def start(self) -> None:
        for host in ("r1", "r2"):
            text = keepalived_instance(
                "VI_1", vrid=1, priority=200 if host == "r1" else 100, addresses=[VIP],
                version=3, advert_int=INTERVAL,
            )  # fmt: skip
            self.daemons[host] = Keepalived(
                self.lab, host, text, name=f"{self.label}-{host}"
            ).start()
            wanted = "MASTER" if host == "r1" else "BACKUP"
            self.daemons[host].wait_state("VI_1", wanted, 30)

    def transitions(self) -> int:
        return sum(len(d.states("VI_1")) for d in self.daemons.values())

    def stop(self) -> None:
        for daemon in self.daemons.values():
            daemon.stop()


def flood(lab: Lab, kind: str, sniffer: SyncSniffer) -> None:
    if kind == "resync":
        send_as_peer(lab, [forge_datagram(Kind.RESYNC, FORGED_SESSION, 0)] * 250)
    elif kind == "nack":
        session, last = sniffer.latest(R1_SYNC) or (FORGED_SESSION, 4000)
        first = session if (last - session) % 2**32 < 4000 else (last - 4000) % 2**32
        nack = forge_datagram(Kind.NACK, session, 0, range_body(first, last))
        send_as_peer(lab, [nack] * 30, pause=0.0015)


def measure(lab: Lab, pair: Any, kind: str, sniffer: SyncSniffer) -> dict[str, Any]:
    watch = AdvertWatch(lab, "cl", R1_LAN)
    try:
        time.sleep(1.0)
        start = watch.mark()
        before = pair.transitions()
        heard = len(sniffer.drain())
        flood(lab, kind, sniffer)
        time.sleep(4.0)
        gap = watch.largest_gap(since=start)
    finally:
        watch.stop()
    time.sleep(2.0)  # what the flood started is over before the next one
    return {
        "gap_ms": round(gap * 1000, 1),
        "transitions": pair.transitions() - before,
        "sync_data_sent": sniffer.count(R1_SYNC, Kind.DATA, since=heard),
    }


def run_once(label: str, kind_of: str, src: Path | None) -> dict[str, dict[str, Any]]:
    with Lab() as lab:
        build(lab)
        if kind_of == "routerhad":
            assert fill_table(lab, "r1", (made_up_entry(i, nat="10.9.0.100") for i in range(TABLE)))
            pair: Any = Routerhad(lab, label, src)
        else:
            pair = KeepalivedPair(lab, label)
        sniffer = SyncSniffer(lab)
        try:
            pair.start()
            # A bulk sync the sniffer hears: the session and sequence numbers a NACK names.
            send_as_peer(lab, [forge_datagram(Kind.RESYNC, FORGED_SESSION, 0)])
            time.sleep(4.0)
            return {kind: measure(lab, pair, kind, sniffer) for kind in FLOODS}
        finally:
            sniffer.close()
            pair.stop()


def report(results: dict[str, list[dict[str, dict[str, Any]]]]) -> str:
    lines = [
        "| flood | implementation | largest advert gap of r1, ms (median / max of runs) "
        "| VRRP transitions | DATA messages r1 sent |",
        "|---|---|---|---|---|",
    ]
    for kind in FLOODS:
        for label, runs in results.items():
            gaps = [r[kind]["gap_ms"] for r in runs]
            transitions = sum(r[kind]["transitions"] for r in runs)
            sent = [r[kind]["sync_data_sent"] for r in runs]
            data = "-" if label == "keepalived" else f"{max(sent)}"
            lines.append(
                f"| {kind} | {label} | {statistics.median(gaps):.0f} / {max(gaps):.0f} "
                f"| {transitions} | {data} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before-src", type=Path, help="a routerha src/ tree to compare with")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    available, why = netns_available()
    if not available:
        print(f"needs network namespaces: {why}", file=sys.stderr)
        return 2
    plan: list[tuple[str, str, Path | None]] = [("routerhad", "routerhad", None)]
    if args.before_src:
        plan.append(("routerhad-before", "routerhad", args.before_src.resolve()))
    plan.append(("keepalived", "keepalived", None))
    results: dict[str, list[dict[str, dict[str, Any]]]] = {label: [] for label, _, _ in plan}
    for run in range(args.runs):
        for label, kind_of, src in plan:  # alternating, fresh daemons each run
            log(f"run {run + 1}/{args.runs}: {label}")
            results[label].append(run_once(label, kind_of, src))
    text = (
        f"# Sync floods: the master's largest advert gap\n\nVRRPv3 at {INTERVAL * 1000:.0f} ms "
        f"(r2's Master_Down_Interval {MASTER_DOWN * 1000:.0f} ms), r1 holding {TABLE} "
        f"entries, {args.runs} runs each, {datetime.date.today()}.\n\n{report(results)}\n"
    )
    print(text)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
