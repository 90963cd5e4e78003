"""Split-brain heal benchmark: routerhad and keepalived side by side in one lab.

::

    python -m benchmarks.heal.run [--reps N] [--interval S] [--out FILE]

Run as root from the repository root (``make bench-heal``). Each run builds a
fresh namespace lab: routers r1 (priority 200) and r2 (priority 100), a client cl
and an outsider x on one bridge, VRRPv3, no authentication, no virtual MAC, the
virtual address 10.9.0.100/24. The client pings the virtual address every 1 ms
(``lab.probe.Probe``). Two cases, each ``--reps`` times per implementation,
alternating:

- **heal**: VRRP is dropped on the switch (an nft bridge rule on protocol 112)
  while the client reaches both routers; r2 becomes master too and its gratuitous
  ARPs take the client. Then the rule goes. The figure is the client's largest
  gap between echo replies from the heal until 6 s later (silence up to the end
  counts): how long the client stays on the loser's MAC.
- **forged**: x sends one priority-0 advert, as from r1, in a frame to r2's MAC
  only, just after one of r1's adverts (so r2's Skew_Time runs out before r1's
  next advert). r2 takes over and poisons the client's ARP; the figure is the
  client's largest gap from the forged advert until 6 s later.

The goal: under 3 advert intervals every time. Results: a Markdown report on
stdout and in ``--out`` (default benchmarks/heal/results.md), raw numbers in
results.json next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import platform
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.netlab import Capture, Keepalived, Lab, keepalived_instance, netns_available, poll
from lab.probe import Probe
from routerha.ctl.client import request
from routerha.model import load_config
from routerha.vrrp import ipv4
from routerha.vrrp.send import Sender

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.md"
R1, R2, CL, X = "10.9.0.1", "10.9.0.2", "10.9.0.25", "10.9.0.66"
VIP, VIP_CIDR = "10.9.0.100", "10.9.0.100/24"
MCAST = ipaddress.IPv4Address("224.0.0.18")
PRIORITY = {"r1": 200, "r2": 100}
#: Seconds the client is watched after the event.
WATCH = 6.0


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class RouterhadPair:
    name = "routerhad"

    def __init__(self, lab: Lab, interval: float) -> None:
        self.lab = lab
        self.interval = interval
        self.socks: dict[str, Path] = {}

    def start(self) -> None:
        for host, priority in PRIORITY.items():
            base = self.lab.dir / f"routerhad-{host}"
            conf = base.with_suffix(".json")
            group = {
                "interface": "eth0",
                "vrid": 1,
                "version": 3,
                "priority": priority,
                "advertise_interval": self.interval,
                "address": [VIP_CIDR],
            }
            conf.write_text(json.dumps({"vrrp": {"groups": {"G": group}}}))
            self.socks[host] = base.with_suffix(".sock")
            self.lab.popen(
                host,
                sys.executable, "-m", "routerha.daemon",
                "--config", str(conf),
                "--control", str(self.socks[host]),
                "--pidfile", str(base.with_suffix(".pid")),
                "--state-dir", str(self.lab.dir / f"state-{host}"),
                log_name=f"routerhad-{host}.log",
            )  # fmt: skip
            if host == "r1":  # r1 first: it wins without waiting for preemption
                poll(lambda: self.state("r1") == "MASTER", 10, message="r1 not MASTER")

    def state(self, host: str) -> str | None:
        try:
            return request(str(self.socks[host]), "status", timeout=2.0)["groups"][0]["state"]
        except (OSError, ValueError, KeyError, IndexError):
            return None

    def transitions(self, host: str) -> int:
        answer = request(str(self.socks[host]), "status", timeout=2.0)
        return int(answer["groups"][0]["counters"]["transitions"])


class KeepalivedPair:
    name = "keepalived"

    def __init__(self, lab: Lab, interval: float) -> None:
        self.lab = lab
        self.interval = interval
        self.daemons: dict[str, Keepalived] = {}

    def start(self) -> None:
        for host, priority in PRIORITY.items():
            config = keepalived_instance(
                "VI_1",
                vrid=1,
                priority=priority,
                addresses=[VIP_CIDR],
                version=3,
                advert_int=self.interval,
            )
            self.daemons[host] = Keepalived(self.lab, host, config).start()
            if host == "r1":
                self.daemons[host].wait_state("VI_1", "MASTER", 10)

    def state(self, host: str) -> str | None:
        return self.daemons[host].state("VI_1")

    def transitions(self, host: str) -> int:
        return len(self.daemons[host].states("VI_1"))


IMPLEMENTATIONS = {"routerhad": RouterhadPair, "keepalived": KeepalivedPair}


def partition(lab: Lab) -> None:
    rules = (
        "add table bridge vrrpcut\n"
        "add chain bridge vrrpcut cut { type filter hook forward priority 0; }\n"
        "add rule bridge vrrpcut cut ip protocol 112 drop\n"
    )
    lab.run(Lab.SWITCH, "nft", "-f", "-", input=rules)


def heal(lab: Lab) -> None:
    lab.run(Lab.SWITCH, "nft", "delete", "table", "bridge", "vrrpcut")


def neighbour(lab: Lab) -> str | None:
    out = lab.ip("cl", "neigh", "show", VIP).stdout.split()
    return out[out.index("lladdr") + 1].lower() if "lladdr" in out else None


def mac(lab: Lab, host: str) -> bytes:
    return bytes.fromhex(lab.interface(host).mac.replace(":", ""))


def forged_priority_0(lab: Lab) -> None:
    data = {"interface": "eth0", "vrid": 1, "version": 3, "address": [VIP_CIDR]}
    group = load_config({"vrrp": {"groups": {"G": data}}}).groups["G"]
    source = ipaddress.IPv4Address(R1)
    datagram = ipv4.build(
        source, MCAST, Sender(group, source).message(0, MCAST), identification=4242
    )
    frame = mac(lab, "r2") + mac(lab, "x") + struct.pack("!H", 0x0800) + datagram
    with contextlib.closing(lab.socket("x", socket.AF_PACKET, socket.SOCK_RAW, 0)) as sock:
        sock.sendto(frame, ("eth0", 0))


def one_run(impl: str, case: str, interval: float) -> dict[str, Any]:
    with Lab() as lab:
        for host, address in (("r1", R1), ("r2", R2), ("cl", CL), ("x", X)):
            lab.add_host(host, f"{address}/24")
        pair = IMPLEMENTATIONS[impl](lab, interval)
        pair.start()
        poll(lambda: pair.state("r2") == "BACKUP", 10, message=f"{impl}: r2 not BACKUP")
        poll(
            lambda: lab.run("cl", "ping", "-n", "-c1", "-W0.5", VIP, check=False).returncode == 0,
            10,
            message="the client does not reach the VIP",
        )
        result: dict[str, Any] = {"impl": impl, "case": case}
        sock = lab.socket("cl", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        with Probe(sock, VIP) as probe:
            time.sleep(0.3)
            if case == "heal":
                partition(lab)
                poll(lambda: pair.state("r2") == "MASTER", 5, message=f"{impl}: no split brain")
                r2_mac = lab.interface("r2").mac
                with contextlib.suppress(AssertionError):
                    poll(lambda: neighbour(lab) == r2_mac, 2.0)
                result["client_on_loser"] = neighbour(lab) == r2_mac
                time.sleep(0.3)
                event = time.monotonic()
                heal(lab)
            else:
                before = pair.transitions("r2")
                result["attempts"] = 0
                with Capture(lab, "x") as adverts:
                    # Sent too late after r1's advert (a loaded machine), r1's next
                    # one comes first and r2 stays BACKUP: the attacker tries again.
                    while pair.transitions("r2") == before and result["attempts"] < 5:
                        adverts.collect(10_000, 0)  # stale ones: r1's next is wanted
                        adverts.collect(1, 2, match=lambda d: str(d.src) == R1)
                        event = time.monotonic()
                        forged_priority_0(lab)
                        result["attempts"] += 1
                        time.sleep(2 * interval)
                result["backup_took_over"] = pair.transitions("r2") > before
            time.sleep(0.5)
            # Whether the client is back on the winner's MAC by then (the winner's
            # second gratuitous burst, garp.master_delay after its election, may
            # repair it later in the window and shorten a gap that was not fixed).
            result["client_on_winner_at_0.5s"] = neighbour(lab) == lab.interface("r1").mac
            time.sleep(WATCH - 0.5)
            end = time.monotonic()
            result["gap"] = probe.largest_gap(after=event, until=end)
            result["gap_starts_after_event"] = gap_start(probe.replies, event, end) - event
        result["final"] = {h: pair.state(h) for h in PRIORITY}
        return result


def gap_start(replies: list[float], after: float, until: float) -> float:
    """Where the largest gap (as ``Probe.largest_gap`` finds it) begins: a gap that
    begins well after the event is noise (a stalled probe thread), not the heal."""
    times = sorted(replies)
    start = max((i for i, t in enumerate(times) if t <= after), default=0)
    window = [*times[start:], until]
    pairs = list(zip(window, window[1:]))
    return max(pairs, key=lambda p: p[1] - p[0])[0] if pairs else after


def summary(gaps: list[float], interval: float) -> dict[str, Any]:
    return {
        "runs": len(gaps),
        "min": min(gaps),
        "median": statistics.median(gaps),
        "max": max(gaps),
        "under_3_intervals": sum(g < 3 * interval for g in gaps),
    }


def report(results: list[dict[str, Any]], interval: float, started: str) -> str:
    lines = [
        "# Split-brain heal benchmark: routerhad vs keepalived",
        "",
        f"Run {started} on {platform.node()} ({platform.machine()}, Linux "
        f"{platform.release()}); VRRPv3 at {interval * 1000:.0f} ms, priorities 200/100, "
        f"keepalived {keepalived_version()}. Client gap in ms (largest time without an echo "
        f"reply in the {WATCH:.0f} s after the event). Goal: under 3 intervals "
        f"({3 * interval * 1000:.0f} ms).",
        "",
        "| case | implementation | runs | min | median | max | under 3 intervals | every run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in ("heal", "forged"):
        for impl in IMPLEMENTATIONS:
            gaps = [r["gap"] for r in results if r["case"] == case and r["impl"] == impl]
            if not gaps:
                continue
            s = summary(gaps, interval)
            every = ", ".join(f"{g * 1000:.0f}" for g in gaps)
            lines.append(
                f"| {case} | {impl} | {s['runs']} | {s['min'] * 1000:.1f} | "
                f"{s['median'] * 1000:.1f} | {s['max'] * 1000:.1f} | "
                f"{s['under_3_intervals']} of {s['runs']} | {every} |"
            )
    lines.append("")
    return "\n".join(lines)


def keepalived_version() -> str:
    with contextlib.suppress(OSError):
        done = subprocess.run(
            ["keepalived", "--version"], check=False, capture_output=True, text=True
        )
        text = (done.stderr or done.stdout).split()
        if len(text) > 1:
            return text[1]
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.heal.run")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--cases", default="heal,forged")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    usable, reason = netns_available()
    if not usable:
        print(f"benchmarks.heal: {reason}", file=sys.stderr)
        return 2
    started = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    results = []
    for case in args.cases.split(","):
        for rep in range(args.reps):
            for impl in IMPLEMENTATIONS:
                result = one_run(impl, case, args.interval)
                log(f"{case} {rep + 1}/{args.reps} {impl}: gap {result['gap'] * 1000:.1f} ms")
                results.append(result)
    text = report(results, args.interval, started)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_name("results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
