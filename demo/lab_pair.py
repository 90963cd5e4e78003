"""`make demo`: two routerhad in a namespace lab, an election, a failover, a preemption.

The classic three-host VRRP lab on this machine: routers RT-1 (10.1.1.1, priority 200) and
RT-2 (10.1.1.2, priority 100) and a client CL-1 (10.1.1.25) on one bridge, each in
its own network namespace. The routers share the gateway 10.1.1.5 as VRID 1,
VRRPv3 with 100 ms adverts. The client pings the gateway every millisecond while
RT-1's link is cut; the longest silence is the outage a user would have seen.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab.netlab import Lab, LabProcess, netns_available, poll
from lab.probe import Probe

ROUTERS = {"rt1": ("10.1.1.1/24", 200), "rt2": ("10.1.1.2/24", 100)}
VIP = "10.1.1.5"
INTERVAL = 0.1
NAMES = {"rt1": "RT-1", "rt2": "RT-2", "cl1": "CL-1"}


def say(text: str = "") -> None:
    print(text, flush=True)


def start_router(lab: Lab, host: str, priority: int) -> LabProcess:
    config = {
        "vrrp": {
            "groups": {
                "LAN": {
                    "interface": "eth0",
                    "vrid": 1,
                    "version": 3,
                    "priority": priority,
                    "advertise_interval": INTERVAL,
                    "address": [f"{VIP}/24"],
                }
            }
        }
    }
    path = Path(lab.dir) / f"{host}.json"
    path.write_text(json.dumps(config, indent=2))
    return lab.popen(
        host,
        sys.executable,
        "-m",
        "routerha.daemon",
        "--config",
        str(path),
        "--control",
        control(lab, host),
        "--pidfile",
        str(Path(lab.dir) / f"{host}.pid"),
        log_name=f"routerhad-{host}",
    )


def control(lab: Lab, host: str) -> str:
    return str(Path(lab.dir) / f"{host}.sock")


def routerhactl(lab: Lab, host: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "routerha.ctl.main", "--control", control(lab, host), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else ""


def state(lab: Lab, host: str) -> str | None:
    out = routerhactl(lab, host, "status", "--json")
    return json.loads(out)["groups"][0]["state"] if out else None


def show(lab: Lab, *hosts: str) -> None:
    for host in hosts:
        say(f"{NAMES[host]}$ routerhactl status")
        say(routerhactl(lab, host, "status").rstrip() or "(not running)")
        say()


def main() -> int:
    usable, why = netns_available()
    if not usable:
        say(f"make demo needs root and network namespaces: {why}")
        return 1
    with Lab() as lab:
        say(
            "Building the lab: RT-1, RT-2 and the client CL-1 on one bridge, each in a network namespace."
        )
        for host, (address, _) in ROUTERS.items():
            lab.add_host(host, address)
        lab.add_host("cl1", "10.1.1.25/24")
        lab.run("cl1", "ip", "route", "add", "default", "via", VIP)

        say(
            f"Starting routerhad on both routers: VRID 1, gateway {VIP}, VRRPv3, {INTERVAL * 1000:.0f} ms adverts,"
        )
        say("RT-1 priority 200, RT-2 priority 100.\n")
        procs = {host: start_router(lab, host, prio) for host, (_, prio) in ROUTERS.items()}
        poll(
            lambda: state(lab, "rt1") == "MASTER" and state(lab, "rt2") == "BACKUP",
            15,
            message="election",
        )
        say("Election done:\n")
        show(lab, "rt1", "rt2")

        sock = lab.socket("cl1", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        skew = (256 - 100) * INTERVAL / 256
        with Probe(sock, VIP) as probe:
            poll(lambda: len(probe.replies) > 200, 10, message="client replies")
            say("CL-1 pings the gateway every millisecond. Cutting RT-1's link now.")
            cut_at, cut_wall = time.monotonic(), time.time()
            lab.cut("rt1")
            poll(lambda: state(lab, "rt2") == "MASTER", 10, message="takeover")
            time.sleep(0.5)
            probe.stop()
            outage = probe.largest_gap(after=cut_at)
        took = json.loads(routerhactl(lab, "rt2", "status", "--json"))["groups"][0][
            "last_transition"
        ]
        say(f"RT-2 became MASTER {1000 * (took - cut_wall):.0f} ms after the cut.")
        say(
            f"CL-1's longest wait for a reply: {outage * 1000:.1f} ms "
            f"(Master_Down_Interval = 3 x {INTERVAL * 1000:.0f} ms + Skew_Time {skew * 1000:.1f} ms "
            f"= {(3 * INTERVAL + skew) * 1000:.1f} ms); {probe.sent} probes sent, {len(probe.replies)} answered.\n"
        )
        show(lab, "rt2")

        say("RT-1's link comes back: with the higher priority it preempts.")
        lab.restore("rt1")
        poll(
            lambda: state(lab, "rt1") == "MASTER" and state(lab, "rt2") == "BACKUP",
            15,
            message="preemption",
        )
        show(lab, "rt1", "rt2")

        say(
            "Stopping RT-1 cleanly (SIGTERM): it sends priority 0, RT-2 takes over after Skew_Time."
        )
        procs["rt1"].stop()
        poll(lambda: state(lab, "rt2") == "MASTER", 5, message="takeover after priority 0")
        show(lab, "rt2")
        say("The lab is torn down now. `make test` runs this and much more as tests.")
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("make demo needs root (network namespaces, raw sockets).", file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
