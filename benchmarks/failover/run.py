"""Failover benchmark: routerhad and keepalived side by side in one namespace lab.

::

    python -m benchmarks.failover.run [--quick] [--soak-seconds N] [--out FILE]

Run as root from the repository root (``make bench-failover``). One lab: a switch
(a Linux bridge), routers r1 (priority 200) and r2 (priority 100) and a client,
all on 10.9.0.0/24; the virtual address is 10.9.0.100/24. No virtual MAC, no
authentication, the same timers for both implementations; each starts as BACKUP
and r1 wins the election. Three parts:

1. Data-plane outage. The client probe (``probe.py``, one process in the client
   namespace) sends an ICMP echo request to the virtual address every 1 ms. Just
   after the client hears an advert of the master r1, r1's bridge port is cut
   (``lab.cut("r1")``: the worst case, the backup's Master_Down_Timer runs its full
   length). The outage is the largest gap between consecutive echo replies in the
   window around the cut. VRRPv2 at 1 s, VRRPv3 at 100 ms and at 10 ms; each N times
   per implementation, alternating, each time with freshly started daemons. The
   probe also records the adverts and ARP packets the client sees, which splits
   the outage into detection (old master's last advert to new master's first) and
   restoration (new master's first advert to the first echo reply).
2. CPU and memory: 10 groups at 10 ms (VRRPv3) on r1 (master) and r2 (backup),
   measured over 60 s from /proc/PID/stat (utime + stime) and /proc/PID/status
   (VmRSS, VmHWM); for keepalived its VRRP child process (the pid file of ``-r``).
3. Soak: one group at 10 ms for 600 s with a CPU hog (a busy loop pinned to the
   last core): the transitions of both daemons after the initial election (for
   routerhad ``status`` counters.transitions, for keepalived its notify FIFO) must
   stay 0; the client records every advert, so the largest advert gap shows how
   close the backup came to a spurious takeover.

Results: a Markdown report on stdout and in ``--out`` (default
benchmarks/failover/results.md), raw numbers in results.json next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lab.netlab import (
    IPPROTO_VRRP,
    Capture,
    Keepalived,
    Lab,
    LabError,
    LabProcess,
    keepalived_instance,
    netns_available,
    poll,
)

HERE = Path(__file__).resolve().parent
PROBE = HERE / "probe.py"
DEFAULT_OUT = HERE / "results.md"

R1_ADDR, R2_ADDR, CLIENT_ADDR = "10.9.0.1/24", "10.9.0.2/24", "10.9.0.25/24"
R1_IP, R2_IP = "10.9.0.1", "10.9.0.2"
MASTER_PRIORITY, BACKUP_PRIORITY = 200, 100
#: Targets from the issue.
TOLERANCE = 0.20
RSS_LIMIT_MB = 20.0
#: routerhad's CPU at most this many times keepalived's, 10 groups at 10 ms.
CPU_RATIO_LIMIT = {"master": 1.5, "backup": 3.0}
#: The probe's resolution: one echo request every 1 ms. Medians closer than this
#: are a tie, not a win or a loss.
RESOLUTION = 0.001
CLK_TCK = os.sysconf("SC_CLK_TCK")


def vip(vrid: int) -> str:
    return f"10.9.0.{99 + vrid}/24"


def vip_ip(vrid: int) -> str:
    return vip(vrid).split("/")[0]


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    version: int
    interval: float

    def skew(self, priority: int = BACKUP_PRIORITY) -> float:
        """RFC 3768 / RFC 5798 Skew_Time of the backup."""
        if self.version == 2:
            return (256 - priority) / 256
        return (256 - priority) * self.interval / 256

    def formula(self, priority: int = BACKUP_PRIORITY) -> float:
        """Master_Down_Interval: 3 x interval + Skew_Time."""
        return 3 * self.interval + self.skew(priority)


SETTINGS = [
    Setting("v2-1s", "VRRPv2 1 s", 2, 1.0),
    Setting("v3-100ms", "VRRPv3 100 ms", 3, 0.1),
    Setting("v3-10ms", "VRRPv3 10 ms", 3, 0.01),
]


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# The two implementations ------------------------------------------------------------


class Pair:
    """r1 (priority 200) and r2 (priority 100) running ``groups`` groups (VRIDs 1..n)."""

    name: ClassVar[str] = ""
    hosts = ("r1", "r2")
    _serial: ClassVar[int] = 0

    def __init__(self, lab: Lab, version: int, interval: float, groups: int = 1) -> None:
        self.lab = lab
        self.version = version
        self.interval = interval
        self.vrids = list(range(1, groups + 1))
        Pair._serial += 1
        self.serial = Pair._serial

    def priority(self, host: str) -> int:
        return MASTER_PRIORITY if host == "r1" else BACKUP_PRIORITY

    def start(self) -> None:
        """r1 first, alone, until it is master; then r2, until it is backup.

        So r2 has never been master when r1 is cut: the takeover measured is the
        first of r2's life, as for a backup in service since the pair started.
        """
        self.start_host("r1")
        self.wait_state("r1", "MASTER", 30.0, interval=0.02)
        self.start_host("r2")
        self.wait_elected(30.0)

    def start_host(self, host: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def states(self, host: str) -> dict[int, str | None]:
        """VRID -> state (MASTER, BACKUP, FAULT, ...; None while unknown)."""
        raise NotImplementedError

    def transitions(self, host: str) -> int:
        """State changes of ``host`` so far, all groups together."""
        raise NotImplementedError

    def pid(self, host: str) -> int:
        """The process doing the VRRP work on ``host``."""
        raise NotImplementedError

    def extra_pids(self, host: str) -> dict[str, int]:
        """Other processes of the implementation on ``host`` (reported, not judged)."""
        return {}

    def alive(self) -> bool:
        raise NotImplementedError

    def log_tail(self, host: str, lines: int = 40) -> list[str]:
        """The end of ``host``'s daemon log (kept in the results when something went wrong)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.lab.describe(40)

    def elected(self) -> bool:
        if not self.alive():
            raise AssertionError(f"{self.name} exited\n{self.describe()}")
        r1, r2 = self.states("r1"), self.states("r2")
        return all(r1.get(v) == "MASTER" and r2.get(v) == "BACKUP" for v in self.vrids)

    def wait_elected(self, timeout: float) -> float:
        start = time.monotonic()
        poll(
            self.elected,
            timeout,
            interval=0.02,
            message=lambda: (
                f"{self.name}: no election: r1 {self.states('r1')} r2 {self.states('r2')}\n"
                f"{self.describe()}"
            ),
        )
        return time.monotonic() - start

    def wait_state(self, host: str, state: str, timeout: float, *, interval: float) -> float:
        """Wait until every group of ``host`` is in ``state``.

        Asking routerhad costs it a little work on its loop (keepalived's notify
        FIFO costs it nothing): while a failover is measured, ask seldom.
        """
        start = time.monotonic()
        poll(
            lambda: all(self.states(host).get(v) == state for v in self.vrids),
            timeout,
            interval=interval,
            message=lambda: f"{self.name}: {host} not {state}: {self.states(host)}",
        )
        return time.monotonic() - start


class RouterhadPair(Pair):
    name = "routerhad"

    def __init__(self, lab: Lab, version: int, interval: float, groups: int = 1) -> None:
        super().__init__(lab, version, interval, groups)
        self.processes: dict[str, LabProcess] = {}
        self.paths: dict[str, dict[str, Path]] = {}

    def config(self, host: str) -> dict[str, Any]:
        groups = {
            f"G{vrid}": {
                "interface": "eth0",
                "vrid": vrid,
                "version": self.version,
                "priority": self.priority(host),
                "advertise_interval": self.interval,
                "address": [vip(vrid)],
            }
            for vrid in self.vrids
        }
        return {"vrrp": {"groups": groups}}

    def start_host(self, host: str) -> None:
        base = self.lab.dir / f"routerhad-{self.serial}-{host}"
        paths = {
            "conf": base.with_suffix(".json"),
            "sock": base.with_suffix(".sock"),
            "pid": base.with_suffix(".pid"),
        }
        paths["conf"].write_text(json.dumps(self.config(host), indent=2))
        self.paths[host] = paths
        self.processes[host] = self.lab.popen(
            host,
            sys.executable,
            "-m", "routerha.daemon",
            "--config", str(paths["conf"]),
            "--control", str(paths["sock"]),
            "--pidfile", str(paths["pid"]),
            log_name=f"routerhad-{self.serial}-{host}.log",
        )  # fmt: skip

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()

    def alive(self) -> bool:
        return all(p.alive() for p in self.processes.values())

    def log_tail(self, host: str, lines: int = 40) -> list[str]:
        return self.processes[host].log().splitlines()[-lines:]

    def status(self, host: str) -> list[dict[str, Any]] | None:
        """``routerhactl status --json`` (the same request on the control socket)."""
        from routerha.ctl.client import request  # noqa: PLC0415 - the venv's routerha

        try:
            return request(str(self.paths[host]["sock"]), "status", timeout=2.0)["groups"]
        except (OSError, ValueError, KeyError):
            return None

    def states(self, host: str) -> dict[int, str | None]:
        groups = self.status(host) or []
        found = {g["vrid"]: g["state"] for g in groups}
        return {v: found.get(v) for v in self.vrids}

    def transitions(self, host: str) -> int:
        groups = self.status(host)
        if groups is None:
            raise RuntimeError(f"routerhad on {host} does not answer")
        return sum(g["counters"]["transitions"] for g in groups)

    def counters(self, host: str) -> dict[str, int]:
        total: dict[str, int] = {}
        for g in self.status(host) or []:
            for key, value in g["counters"].items():
                if isinstance(value, int):
                    total[key] = total.get(key, 0) + value
        return total

    def pid(self, host: str) -> int:
        # `ip netns exec` execs Python: the Popen pid is the daemon; the pid file agrees.
        return self.processes[host].pid


class KeepalivedPair(Pair):
    name = "keepalived"

    def __init__(self, lab: Lab, version: int, interval: float, groups: int = 1) -> None:
        super().__init__(lab, version, interval, groups)
        self.daemons: dict[str, Keepalived] = {}

    def config(self, host: str) -> str:
        return "".join(
            keepalived_instance(
                f"VI_{vrid}",
                vrid=vrid,
                priority=self.priority(host),
                addresses=[vip(vrid)],
                version=self.version,
                advert_int=self.interval,
                state="BACKUP",
            )
            for vrid in self.vrids
        )

    def start_host(self, host: str) -> None:
        daemon = Keepalived(
            self.lab, host, self.config(host), name=f"keepalived-{self.serial}-{host}"
        )
        self.daemons[host] = daemon.start()

    def stop(self) -> None:
        for daemon in self.daemons.values():
            daemon.stop()

    def alive(self) -> bool:
        return all(d.process is not None and d.process.alive() for d in self.daemons.values())

    def log_tail(self, host: str, lines: int = 40) -> list[str]:
        return self.daemons[host].log().splitlines()[-lines:]

    def states(self, host: str) -> dict[int, str | None]:
        daemon = self.daemons[host]
        return {v: daemon.state(f"VI_{v}") for v in self.vrids}

    def transitions(self, host: str) -> int:
        daemon = self.daemons[host]
        return sum(len(daemon.states(f"VI_{v}")) for v in self.vrids)

    def _pidfile(self, host: str, name: str) -> int:
        path = self.daemons[host].dir / name
        text = poll(lambda: path.exists() and path.read_text().strip(), 10.0, message=f"{path}")
        return int(text)

    def pid(self, host: str) -> int:
        """keepalived forks; its VRRP child writes the ``-r`` pid file."""
        return self._pidfile(host, "vrrp.pid")

    def extra_pids(self, host: str) -> dict[str, int]:
        return {"parent": self._pidfile(host, "keepalived.pid")}


IMPLEMENTATIONS: dict[str, type[Pair]] = {"routerhad": RouterhadPair, "keepalived": KeepalivedPair}


# /proc ------------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` (all its threads), in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def major_faults(pid: int) -> int:
    """Page faults of ``pid`` that had to read from disk (a real-time process stalls
    on them like any other: code pages evicted from the page cache come back so)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[9])  # field 12 of proc(5)


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, Threads from /proc/PID/status (MB and counts)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) / 1024
        elif key == "Threads":
            out[key] = int(value)
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) / 1024
    return out


def sched_of(pid: int) -> str:
    try:
        policy = os.sched_getscheduler(pid)
        priority = os.sched_getparam(pid).sched_priority
    except OSError as error:
        return f"unknown ({error})"
    names = {
        os.SCHED_OTHER: "SCHED_OTHER",
        os.SCHED_FIFO: "SCHED_FIFO",
        os.SCHED_RR: "SCHED_RR",
        getattr(os, "SCHED_BATCH", -1): "SCHED_BATCH",
        getattr(os, "SCHED_IDLE", -2): "SCHED_IDLE",
    }
    name = names.get(policy, str(policy))
    return f"{name} {priority}" if priority else name


def system_ticks() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of the whole machine from /proc/stat.

    Steal is time the hypervisor ran something else while this machine wanted to
    run: on a virtual machine every process stalls then, real-time or not.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    steal = values[7] if len(values) > 7 else 0
    return sum(values) - idle - steal, sum(values), steal


class SystemLoad:
    """How busy the whole machine was between ``__init__`` and ``done()`` (other
    work on a shared machine shows here)."""

    def __init__(self) -> None:
        self.start = system_ticks()
        self.loadavg = Path("/proc/loadavg").read_text().split()[0]

    def done(self) -> dict[str, Any]:
        busy, total, steal = system_ticks()
        d_busy, d_total = busy - self.start[0], total - self.start[1]
        cores = os.cpu_count() or 1
        return {
            "busy_cores": round(cores * d_busy / d_total, 2) if d_total else None,
            "steal_seconds": round((steal - self.start[2]) / CLK_TCK, 2),
            "loadavg_1min_at_start": float(self.loadavg),
        }


# The client probe -------------------------------------------------------------------


class Probe:
    """``probe.py`` running in the client namespace (see its docstring)."""

    _serial = 0

    def __init__(
        self, lab: Lab, *, target: str | None, vrrp: bool = True, arp: bool = True
    ) -> None:
        Probe._serial += 1
        base = lab.dir / f"probe-{Probe._serial}"
        self.out = base.with_suffix(".json")
        self.ready = base.with_suffix(".ready")
        args = ["--out", str(self.out), "--ready", str(self.ready)]
        if target:
            args += ["--target", target, "--interval", "0.001"]
        if vrrp:
            args.append("--vrrp")
        if arp:
            args.append("--arp")
        self.process = lab.popen(
            "cl", sys.executable, str(PROBE), *args, log_name=f"probe-{Probe._serial}.log"
        )

    def wait_ready(self, timeout: float = 10.0) -> None:
        poll(
            self.ready.exists,
            timeout,
            message=lambda: f"probe not ready; log:\n{self.process.log()}",
        )

    def finish(self) -> dict[str, Any]:
        self.process.signal(signal.SIGTERM)
        try:
            self.process.popen.wait(20)
        except subprocess.TimeoutExpired:
            self.process.stop()
        if not self.out.exists():
            raise RuntimeError(f"probe wrote no result; log:\n{self.process.log()}")
        data = json.loads(self.out.read_text())
        self.out.unlink()
        return data

    def stop(self) -> None:
        self.process.stop()


# 1. Data-plane outage -------------------------------------------------------------


def cut_after_advert(lab: Lab, timeout: float) -> tuple[float, float, float | None]:
    """Cut r1 just after the client hears one of its adverts.

    Returns (monotonic time before the cut, after it, when that advert arrived).
    """
    heard: float | None = None
    with Capture(lab, "cl", IPPROTO_VRRP) as capture:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            datagram = capture.receive(deadline - time.monotonic())
            if datagram is not None and str(datagram.src) == R1_IP:
                heard = datagram.time
                break
        t0 = time.monotonic()
        lab.cut("r1")
        t1 = time.monotonic()
    return t0, t1, heard


def largest_gap(times: list[float], since: float) -> tuple[float, float, float] | None:
    """(gap, start, end) of the largest gap between consecutive ``times`` >= ``since``."""
    window = [t for t in times if t >= since]
    best = None
    for a, b in zip(window, window[1:]):
        if best is None or b - a > best[0]:
            best = (b - a, a, b)
    return best


def send_index(sends: list[float], reply: list[Any]) -> int | None:
    """The index in ``sends`` of the request ``reply`` answers (its sequence number
    is the index modulo 65536): the latest one sent before the reply came."""
    t, seq = reply[0], reply[2]
    best = None
    for i in range(seq, len(sends), 65536):
        if sends[i] <= t:
            best = i
    return best


def analyse_failover(
    data: dict[str, Any], t0: float, t1: float, r2_mac: str, vrid: int = 1
) -> dict[str, Any]:
    """Outage and its parts from one probe record (times in seconds, monotonic)."""
    replies = data["replies"]
    reply_t = [r[0] for r in replies]
    reply_k = [r[1] if r[1] is not None else r[0] for r in replies]
    result: dict[str, Any] = {"cut_at": t0, "cut_took": t1 - t0, "replies": len(replies)}
    gap = largest_gap(reply_t, t0 - 0.2)
    if gap is None or gap[2] < t0:
        result["error"] = "no echo reply after the cut"
        return result
    result["outage"] = gap[0]
    result["gap_started_after_cut"] = gap[1] - t0
    kgap = largest_gap(reply_k, t0 - 0.2)
    result["outage_kernel_ts"] = kgap[0] if kgap else None
    before = largest_gap([t for t in reply_t if t < t0], t0 - 1.0)
    result["largest_gap_before_cut"] = before[0] if before else None
    sends = [t for t in data["sends"] if t >= t0 - 0.2]
    send_gap = largest_gap(sends, t0 - 0.2)
    result["largest_send_gap"] = send_gap[0] if send_gap else None
    result["lost"] = sum(1 for t in data["sends"] if gap[1] < t < gap[2] - 0.0005)
    # The resolution at the two edges of the gap: how far apart the last answered
    # request and the first lost one were sent, and the last lost one and the first
    # answered one (1 ms unless the probe itself stalled there).
    i_last = send_index(data["sends"], replies[reply_t.index(gap[1])])
    i_first = send_index(data["sends"], replies[reply_t.index(gap[2])])
    sends_all = data["sends"]
    if i_last is not None and i_last + 1 < len(sends_all):
        result["edge_start_resolution"] = sends_all[i_last + 1] - sends_all[i_last]
    if i_first is not None and i_first >= 1:
        result["edge_end_resolution"] = sends_all[i_first] - sends_all[i_first - 1]
    # The gap in kernel receive times: the last reply before the cut took effect and
    # the first one after the new master answered.
    last_before = reply_k[reply_t.index(gap[1])]
    first_after = reply_k[reply_t.index(gap[2])]
    # Where the time went: adverts and gratuitous ARPs the client saw.
    adverts = [a for a in data["vrrp"] if a[3] == vrid and a[4] > 0]
    old = [a[1] or a[0] for a in adverts if a[2] == R1_IP and (a[1] or a[0]) <= last_before]
    new = [a[1] or a[0] for a in adverts if a[2] == R2_IP and (a[1] or a[0]) > last_before]
    garps = [
        g[1] or g[0]
        for g in data["arp"]
        if g[4] == vip_ip(vrid) and g[3] == r2_mac and (g[1] or g[0]) > last_before
    ]
    if old:
        # The cut took effect this long after r1's last advert (the last echo reply
        # before the gap marks it, to within the probe's 1 ms).
        result["phase"] = last_before - old[-1]
        result["from_last_advert"] = first_after - old[-1]
    if old and new:
        result["detection"] = new[0] - old[-1]
    if new:
        result["restoration"] = first_after - new[0]
    if new and garps:
        result["garp_after_advert"] = garps[0] - new[0]
        result["reply_after_garp"] = first_after - garps[0]
    return result


def restore(lab: Lab, host: str, timeout: float = 3.0) -> None:
    """``lab.restore``, retried: right after ``ip link set PORT up`` the port's
    operational state is not yet UP (the kernel's linkwatch sets it a little later),
    and until then the bridge refuses ``bridge link set ... state 3`` with "Network
    is down" (br_set_port_state: ENETDOWN). Both commands are idempotent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lab.restore(host)
            return
        except LabError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def reset_lab(lab: Lab) -> None:
    """After a repetition: r1 back on the switch, no virtual address, no neighbours."""
    restore(lab, "r1")
    for host in ("r1", "r2"):
        for address in lab.addresses(host):
            if address.startswith("10.9.0.") and address not in (R1_ADDR, R2_ADDR):
                lab.ip(host, "addr", "del", address, "dev", "eth0", check=False)
    for host in ("cl", "r1", "r2"):
        lab.ip(host, "neigh", "flush", "all", check=False)


def failover_once(lab: Lab, impl: type[Pair], setting: Setting) -> dict[str, Any]:
    pair = impl(lab, setting.version, setting.interval)
    probe: Probe | None = None
    load = SystemLoad()
    try:
        pair.start()
        sched = {host: sched_of(pair.pid(host)) for host in pair.hosts}
        time.sleep(max(0.5, 3 * setting.interval))
        probe = Probe(lab, target=vip_ip(1))
        probe.wait_ready()
        sched["probe"] = sched_of(probe.process.pid)
        time.sleep(0.5)  # a baseline before the cut
        t0, t1, _heard = cut_after_advert(lab, 3 * setting.interval + 1.0)
        time.sleep(setting.formula())
        pair.wait_state("r2", "MASTER", 3 * setting.formula() + 5.0, interval=0.05)
        time.sleep(max(0.5, 10 * setting.interval))  # replies flowing again
        data = probe.finish()
        probe = None
    finally:
        if probe is not None:
            probe.stop()
        pair.stop()
        reset_lab(lab)
    result = analyse_failover(data, t0, t1, lab.interface("r2").mac)
    result["system"] = load.done()
    result["sched"] = sched
    return result


def summarise(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "n": len(values),
    }


def run_failover(lab: Lab, settings: list[Setting], reps: int) -> list[dict[str, Any]]:
    out = []
    for setting in settings:
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in IMPLEMENTATIONS}
        for rep in range(reps):
            order = list(IMPLEMENTATIONS) if rep % 2 == 0 else list(reversed(IMPLEMENTATIONS))
            for name in order:
                result = failover_once(lab, IMPLEMENTATIONS[name], setting)
                runs[name].append(result)
                shown = (
                    f"{result['outage'] * 1000:.1f} ms"
                    if "outage" in result
                    else result.get("error")
                )
                log(f"{setting.label} {name} #{rep + 1}: outage {shown}")
        entry: dict[str, Any] = {
            "setting": setting.key,
            "label": setting.label,
            "version": setting.version,
            "interval": setting.interval,
            "skew": setting.skew(),
            "formula": setting.formula(),
            "runs": runs,
            "summary": {},
        }
        for name, results in runs.items():
            entry["summary"][name] = {
                key: summarise([r[key] for r in results if r.get(key) is not None])
                for key in (
                    "outage",
                    "outage_kernel_ts",
                    "phase",
                    "detection",
                    "restoration",
                    "garp_after_advert",
                    "reply_after_garp",
                    "from_last_advert",
                    "largest_send_gap",
                    "edge_start_resolution",
                    "edge_end_resolution",
                    "largest_gap_before_cut",
                )
            }
            entry["summary"][name]["errors"] = [r["error"] for r in results if "error" in r]
        out.append(entry)
    return out


# 2. CPU and memory ------------------------------------------------------------------


def run_resources(lab: Lab, seconds: float, groups: int = 10) -> dict[str, Any]:
    setting = Setting("v3-10ms", "VRRPv3 10 ms", 3, 0.01)
    out: dict[str, Any] = {"groups": groups, "seconds": seconds, "interval": setting.interval}
    for name, impl in IMPLEMENTATIONS.items():
        result = out[name] = measure_resources(lab, impl, setting, groups, seconds)
        log(
            f"resources {name}: master {result['r1']['cpu_percent']:.1f}% CPU "
            f"{result['r1']['VmRSS']:.1f} MB RSS; backup {result['r2']['cpu_percent']:.1f}% "
            f"{result['r2']['VmRSS']:.1f} MB"
        )
    return out


def measure_resources(
    lab: Lab, impl: type[Pair], setting: Setting, groups: int, seconds: float
) -> dict[str, Any]:
    """CPU, memory, the master's advert gaps and the transitions of one pair running
    ``groups`` groups at ``setting`` for ``seconds``, after its election."""
    pair = impl(lab, setting.version, setting.interval, groups)
    probe: Probe | None = None
    try:
        pair.start()
        time.sleep(2.0)  # past start-up and the first gratuitous ARP bursts
        pids = {host: pair.pid(host) for host in pair.hosts}
        probe = Probe(lab, target=None, vrrp=True, arp=False)
        probe.wait_ready()
        load = SystemLoad()
        counters0 = (
            {h: pair.counters(h) for h in pair.hosts} if isinstance(pair, RouterhadPair) else {}
        )
        transitions0 = {h: pair.transitions(h) for h in pair.hosts}
        start_ticks = {h: cpu_ticks(p) for h, p in pids.items()}
        start = time.monotonic()
        peak_rss = dict.fromkeys(pids, 0.0)
        while time.monotonic() - start < seconds:
            time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - start))))
            for host, pid in pids.items():
                peak_rss[host] = max(peak_rss[host], proc_status(pid)["VmRSS"])
        elapsed = time.monotonic() - start
        end_ticks = {h: cpu_ticks(p) for h, p in pids.items()}
        data = probe.finish()
        probe = None
        if not pair.elected():
            raise AssertionError(f"{impl.name}: the election changed during the measurement")
        result: dict[str, Any] = {
            "system": load.done(),
            "groups": groups,
            "interval": setting.interval,
            "seconds": elapsed,
            "transitions_after_election": {
                h: pair.transitions(h) - transitions0[h] for h in pair.hosts
            },
        }
        for host, pid in pids.items():
            used = (end_ticks[host] - start_ticks[host]) / CLK_TCK
            entry: dict[str, Any] = {
                "role": "master" if host == "r1" else "backup",
                "pid": pid,
                "cpu_percent": 100 * used / elapsed,
                "peak_VmRSS": peak_rss[host],
                "sched": sched_of(pid),
                **proc_status(pid),
            }
            entry["others"] = {
                label: {"pid": other, **proc_status(other), "cpu_ticks": cpu_ticks(other)}
                for label, other in pair.extra_pids(host).items()
            }
            result[host] = entry
        result["advert_gaps"] = advert_gaps(data, R1_IP, pair.vrids, setting.interval)
        mean_gap = result["advert_gaps"].get("mean")
        result["adverts_per_second_from_master"] = groups / mean_gap if mean_gap else 0.0
        if counters0:
            result["counters_delta"] = {
                h: {
                    k: v - counters0[h].get(k, 0)
                    for k, v in pair.counters(h).items()
                    if k != "transitions"
                }
                for h in pair.hosts
            }
        return result
    finally:
        if probe is not None:
            probe.stop()
        pair.stop()
        reset_lab(lab)


def advert_gaps(
    data: dict[str, Any], source: str, vrids: list[int], interval: float
) -> dict[str, Any]:
    """Per VRID, the gaps between consecutive adverts of ``source`` (kernel time)."""
    timed: list[tuple[float, float, int]] = []
    for vrid in vrids:
        times = [a[1] or a[0] for a in data["vrrp"] if a[2] == source and a[3] == vrid and a[4]]
        timed += [(b - a, a, vrid) for a, b in zip(times, times[1:])]
    if not timed:
        return {}
    worst = sorted(timed, reverse=True)[:5]
    gaps = sorted(g for g, _, _ in timed)
    master_down = 3 * interval + (256 - BACKUP_PRIORITY) * interval / 256
    return {
        "count": len(gaps),
        "mean": statistics.fmean(gaps),
        "p50": gaps[len(gaps) // 2],
        "p99": gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))],
        "p999": gaps[min(len(gaps) - 1, int(len(gaps) * 0.999))],
        "max": gaps[-1],
        "over_2x_interval": sum(1 for g in gaps if g > 2 * interval),
        "over_master_down": sum(1 for g in gaps if g > master_down),
        #: The five largest: (gap, monotonic time it began, VRID).
        "worst": [[g, t, v] for g, t, v in worst],
    }


# 3. Soak ----------------------------------------------------------------------------

HOG = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"


def start_hogs(cpus: list[int]) -> list[subprocess.Popen]:
    """A busy loop pinned to each of ``cpus`` (outside the lab: it sends nothing)."""
    return [
        subprocess.Popen([sys.executable, "-c", HOG, str(cpu)], stdin=subprocess.DEVNULL)
        for cpu in cpus
    ]


def stop_hogs(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        if hog.poll() is None:
            hog.kill()
        hog.wait(10)


def run_soak(lab: Lab, impl: type[Pair], seconds: float, hog_cpus: list[int]) -> dict[str, Any]:
    setting = Setting("v3-10ms", "VRRPv3 10 ms", 3, 0.01)
    pair = impl(lab, setting.version, setting.interval)
    probe: Probe | None = None
    hogs: list[subprocess.Popen] = []
    try:
        pair.start()
        time.sleep(1.0)
        base = {h: pair.transitions(h) for h in pair.hosts}
        pids = {h: pair.pid(h) for h in pair.hosts}
        ticks0 = {h: cpu_ticks(p) for h, p in pids.items()}
        probe = Probe(lab, target=None, vrrp=True, arp=False)
        probe.wait_ready()
        hogs = start_hogs(hog_cpus)
        load = SystemLoad()
        start = time.monotonic()
        samples = []
        not_elected = 0
        faults0 = {h: major_faults(p) for h, p in pids.items()}
        faults_before = dict(faults0)
        while time.monotonic() - start < seconds:
            window = SystemLoad()
            time.sleep(min(5.0, max(0.0, seconds - (time.monotonic() - start))))
            if not pair.alive():
                raise AssertionError(f"{pair.name} exited during the soak\n{pair.describe()}")
            now = {h: pair.transitions(h) - base[h] for h in pair.hosts}
            elected = pair.elected()
            not_elected += not elected
            faults = {h: major_faults(p) for h, p in pids.items()}
            samples.append(
                {
                    "t": round(time.monotonic() - start, 1),
                    "transitions": now,
                    "elected": elected,
                    "major_faults": {h: faults[h] - faults_before[h] for h in pids},
                    **window.done(),
                }
            )
            faults_before = faults
        elapsed = time.monotonic() - start
        system = load.done()
        stop_hogs(hogs)
        hogs = []
        data = probe.finish()
        probe = None
        ticks1 = {h: cpu_ticks(p) for h, p in pids.items()}
        delta = {h: pair.transitions(h) - base[h] for h in pair.hosts}
        result = {
            "seconds": elapsed,
            "hog_cpus": hog_cpus,
            "transitions_after_election": delta,
            "samples_not_elected": not_elected,
            "samples": samples,
            "cpu_percent": {
                h: 100 * (ticks1[h] - ticks0[h]) / CLK_TCK / elapsed for h in pair.hosts
            },
            "sched": {h: sched_of(p) for h, p in pids.items()},
            "major_faults": {h: major_faults(p) - faults0[h] for h, p in pids.items()},
            "advert_gaps": advert_gaps(data, R1_IP, pair.vrids, setting.interval),
            "adverts_from_backup": sum(1 for a in data["vrrp"] if a[2] == R2_IP and a[4] > 0),
            "system": system,
        }
        result["started_at"] = start
        if any(delta.values()):
            result["logs"] = {h: pair.log_tail(h) for h in pair.hosts}
        log(
            f"soak {pair.name}: transitions {delta}, largest advert gap "
            f"{result['advert_gaps'].get('max', 0) * 1000:.1f} ms"
        )
        return result
    finally:
        stop_hogs(hogs)
        if probe is not None:
            probe.stop()
        pair.stop()
        reset_lab(lab)


# Report -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = found.group(1) if found else ""
    keepalived = subprocess.run(
        ["keepalived", "--version"], capture_output=True, text=True, check=False
    )
    version_line = (keepalived.stderr or keepalived.stdout).splitlines()
    from routerha import __version__  # noqa: PLC0415

    return {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu_model": model,
        "python": platform.python_version(),
        "keepalived": version_line[0] if version_line else "unknown",
        "routerha": __version__,
        "hostname": socket.gethostname(),
    }


def code_identity() -> dict[str, Any]:
    """Which routerha the daemons run: the package path, a hash of its sources and,
    in a git checkout, the commit and the uncommitted changes. Daemons start fresh
    for every run, so a tree edited during the benchmark would mix versions: the
    identity is taken at the start and at the end."""
    import hashlib  # noqa: PLC0415

    import routerha  # noqa: PLC0415

    package = Path(routerha.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    out: dict[str, Any] = {"package": str(package), "sha256": digest.hexdigest()[:16]}

    def git(*args: str) -> str | None:
        done = subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.rstrip() if done.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    if head:
        out["git_head"] = head
        out["uncommitted"] = (git("status", "--porcelain", "--", ".") or "").splitlines()
    return out


def ms(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 1000:.{digits}f}"


def triple(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "-"
    return f"{ms(summary['min'])} / **{ms(summary['median'])}** / {ms(summary['max'])}"


def yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def compare(routerhad: float, keepalived: float) -> str:
    """routerhad's median against keepalived's, at the probe's resolution."""
    if routerhad <= keepalived:
        return "yes"
    if routerhad - keepalived < RESOLUTION:
        return "tie (< 1 ms apart)"
    return "**no**"


def judge(results: dict[str, Any]) -> list[tuple[str, bool | str | None, str]]:
    """(target, met, numbers) for each target of the issue."""
    targets: list[tuple[str, bool | str | None, str]] = []
    for entry in results.get("failover", []):
        rh = entry["summary"]["routerhad"]["outage"]
        ka = entry["summary"]["keepalived"]["outage"]
        if rh and ka:
            rh_adv = med(entry["summary"]["routerhad"], "from_last_advert")
            ka_adv = med(entry["summary"]["keepalived"], "from_last_advert")
            targets.append(
                (
                    f"{entry['label']}: routerhad's outage at or below keepalived's (medians)",
                    compare(rh["median"], ka["median"]),
                    f"{ms(rh['median'])} ms vs {ms(ka['median'])} ms; from the last advert "
                    f"{ms(rh_adv)} ms vs {ms(ka_adv)} ms",
                )
            )
        if rh:
            formula = entry["formula"]
            ratio = rh["median"] / formula
            targets.append(
                (
                    f"{entry['label']}: routerhad within 20% of 3 x interval + skew "
                    f"({ms(formula)} ms)",
                    abs(ratio - 1) <= TOLERANCE,
                    f"median {ms(rh['median'])} ms = {ratio:.2f} x formula "
                    f"(max {ms(rh['max'])} ms = {rh['max'] / formula:.2f} x)",
                )
            )
    soak = results.get("soak", {}).get("routerhad")
    if soak:
        spurious = sum(soak["transitions_after_election"].values())
        targets.append(
            (
                "soak: no spurious transition (routerhad)",
                spurious == 0,
                f"{spurious} transitions in {soak['seconds']:.0f} s "
                f"(r1 {soak['transitions_after_election']['r1']}, "
                f"r2 {soak['transitions_after_election']['r2']})",
            )
        )
    res = results.get("resources", {}).get("routerhad")
    if res:
        worst = max(res[h]["VmHWM"] for h in ("r1", "r2"))
        targets.append(
            (
                f"RSS at most {RSS_LIMIT_MB:.0f} MB (routerhad, 10 groups at 10 ms)",
                worst <= RSS_LIMIT_MB,
                f"VmRSS master {res['r1']['VmRSS']:.1f} MB, backup {res['r2']['VmRSS']:.1f} MB; "
                f"VmHWM up to {worst:.1f} MB",
            )
        )
    ka = results.get("resources", {}).get("keepalived")
    if res and ka:
        for host, role in (("r1", "master"), ("r2", "backup")):
            ratio = res[host]["cpu_percent"] / max(ka[host]["cpu_percent"], 1e-9)
            targets.append(
                (
                    f"{role} CPU at most {CPU_RATIO_LIMIT[role]} x keepalived's "
                    "(10 groups at 10 ms)",
                    ratio <= CPU_RATIO_LIMIT[role],
                    f"{res[host]['cpu_percent']:.2f} % vs {ka[host]['cpu_percent']:.2f} % "
                    f"= {ratio:.2f} x",
                )
            )
    return targets


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Failover benchmark: routerhad vs keepalived",
        "",
        f"Run {results['started']} - {results['finished']} on {m['nproc']} CPUs "
        f"({m['cpu_model']}), kernel {m['kernel']}, Python {m['python']}, "
        f"routerha {m['routerha']}, {m['keepalived']}.",
        f"Command: `{results['command']}`",
        "",
    ]
    code = results.get("code", {})
    start, end = code.get("start", {}), code.get("end", {})
    if start:
        where = f"routerha from `{start['package']}`, sources sha256 {start['sha256']}"
        if start.get("git_head"):
            dirty = len(start.get("uncommitted", []))
            where += f", git {start['git_head']}" + (
                f" with {dirty} uncommitted change(s) under it" if dirty else ", clean"
            )
        lines += [where + ".", ""]
        if end and end.get("sha256") != start.get("sha256"):
            lines += [
                f"**Warning: the routerha sources changed during the run** (sha256 "
                f"{start['sha256']} -> {end['sha256']}, git {end.get('git_head')}): "
                "later runs used other code than earlier ones.",
                "",
            ]
    if results.get("failover"):
        lines += render_failover(results["failover"])
    if results.get("resources"):
        lines += render_resources(results["resources"])
    if results.get("soak"):
        lines += render_soak(results["soak"])
    lines += ["## Targets", "", "| target | met | numbers |", "|---|---|---|"]
    for target, met, numbers in judge(results):
        shown = met if isinstance(met, str) else "-" if met is None else yes(met)
        lines.append(f"| {target} | {shown} | {numbers} |")
    lines += [
        "",
        "How busy the machine was besides the benchmark (busy cores from /proc/stat, per "
        "run) is in results.json under `system`.",
    ]
    return "\n".join(lines) + "\n"


def med(summary: dict[str, Any], key: str) -> float | None:
    return summary[key]["median"] if summary.get(key) else None


def render_failover(failover: list[dict[str, Any]]) -> list[str]:
    first = failover[0]["summary"]["routerhad"]["outage"]
    lines = [
        "## 1. Data-plane outage (largest gap between echo replies, ms)",
        "",
        "The client pings the virtual address every 1 ms (the probe's resolution is 1 ms); "
        "r1's bridge port is cut just after an advert of r1; "
        f"{first['n'] if first else '?'} runs per implementation, alternating, fresh "
        "daemons each run. min / **median** / max.",
        "",
        "| setting | 3 x interval + skew | routerhad | keepalived "
        "| routerhad / keepalived (medians) | routerhad <= keepalived "
        "| routerhad within 20% of formula |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in failover:
        rh = entry["summary"]["routerhad"]["outage"]
        ka = entry["summary"]["keepalived"]["outage"]
        ratio = f"{rh['median'] / ka['median']:.2f}" if rh and ka else "-"
        le = compare(rh["median"], ka["median"]) if rh and ka else "-"
        within = (
            f"{yes(abs(rh['median'] / entry['formula'] - 1) <= TOLERANCE)} "
            f"({rh['median'] / entry['formula']:.2f} x)"
            if rh
            else "-"
        )
        lines.append(
            f"| {entry['label']} | {ms(entry['formula'])} | {triple(rh)} | {triple(ka)} "
            f"| {ratio} | {le} | {within} |"
        )
    lines += [
        "",
        "Where the time goes (medians, ms), from the adverts, gratuitous ARPs and replies "
        "the client saw (kernel receive timestamps): *phase* = how long after r1's last "
        "advert the cut took effect (it takes `ip` a few ms, so this varies and the outage "
        "with it); *from last advert* = r1's last advert to the first echo reply after the "
        "cut, the outage without that phase; *detection* = r1's last advert to r2's first "
        "(the Master_Down_Timer: ideally exactly 3 x interval + skew); *restoration* = "
        "r2's first advert to the first echo reply; *GARP* = r2's first advert to its "
        "first gratuitous ARP; *edge resolution* = the largest spacing of the probe's own "
        "requests at either edge of the gap (1 ms unless the probe stalled).",
        "",
        "| setting | implementation | phase | from last advert | detection "
        "| detection - formula | restoration | GARP | edge resolution (max) | failed runs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in failover:
        for name in IMPLEMENTATIONS:
            s = entry["summary"][name]
            detection = med(s, "detection")
            slip = detection - entry["formula"] if detection is not None else None
            edges = [
                s[k]["max"] for k in ("edge_start_resolution", "edge_end_resolution") if s.get(k)
            ]
            lines.append(
                f"| {entry['label']} | {name} | {ms(med(s, 'phase'))} "
                f"| {ms(med(s, 'from_last_advert'))} | {ms(detection)} | {ms(slip)} "
                f"| {ms(med(s, 'restoration'))} | {ms(med(s, 'garp_after_advert'))} "
                f"| {ms(max(edges) if edges else None)} | {len(s['errors'])} |"
            )
    lines.append("")
    return lines


def render_resources(res: dict[str, Any]) -> list[str]:
    lines = [
        f"## 2. CPU and memory: {res['groups']} groups at "
        f"{res['interval'] * 1000:.0f} ms (VRRPv3), {res['seconds']:.0f} s",
        "",
        "CPU % of one core from utime + stime; memory from /proc/PID/status "
        "(keepalived: its VRRP child process). Advert gaps: between consecutive adverts "
        "of one group from the master, at the client.",
        "",
        "| implementation | role | CPU % | VmRSS MB | VmHWM MB | RssAnon MB | Pss MB "
        "| threads | scheduling | adverts/s from master | advert gap median / max ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in IMPLEMENTATIONS:
        r = res.get(name)
        if not r:
            continue
        for host in ("r1", "r2"):
            e = r[host]
            rate = gaps = ""
            if host == "r1":
                rate = f"{r['adverts_per_second_from_master']:.0f}"
                g = r.get("advert_gaps") or {}
                gaps = f"{ms(g.get('p50'), 2)} / {ms(g.get('max'))}"
            lines.append(
                f"| {name} | {e['role']} | {e['cpu_percent']:.2f} | {e['VmRSS']:.1f} "
                f"| {e['VmHWM']:.1f} | {e.get('RssAnon', 0):.1f} | {e.get('Pss', 0):.1f} "
                f"| {e.get('Threads', 0):.0f} | {e['sched']} | {rate} | {gaps} |"
            )
    ka = res.get("keepalived")
    parent = ka["r1"]["others"].get("parent") if ka else None
    if parent:
        lines += [
            "",
            f"keepalived's parent process (not counted above): VmRSS {parent['VmRSS']:.1f} MB, "
            f"Pss {parent.get('Pss', 0):.1f} MB.",
        ]
    lines.append("")
    return lines


def render_soak(soak: dict[str, Any]) -> list[str]:
    lines = [
        "## 3. Soak: one group at 10 ms (VRRPv3), a CPU hog busy",
        "",
        "Transitions after the initial election (routerhad: `status` counters.transitions; "
        "keepalived: its notify FIFO). Advert gaps: between consecutive adverts of the "
        "master at the client; the backup takes over after a gap above "
        "Master_Down_Interval (36.1 ms).",
        "",
        "| implementation | seconds | hog on CPU | transitions r1, r2 | master CPU % "
        "| advert gap median ms | p99.9 ms | max ms | gaps > 2 x interval "
        "| gaps > Master_Down_Interval | scheduling | machine busy cores / steal s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in IMPLEMENTATIONS:
        s = soak.get(name)
        if not s:
            continue
        if "skipped" in s:
            lines.append(f"| {name} | skipped: {s['skipped']} | | | | | | | | | | |")
            continue
        t = s["transitions_after_election"]
        g = s["advert_gaps"]
        lines.append(
            f"| {name} | {s['seconds']:.0f} | {','.join(map(str, s['hog_cpus']))} "
            f"| {t['r1']}, {t['r2']} | {s['cpu_percent']['r1']:.2f} | {ms(g.get('p50'), 2)} "
            f"| {ms(g.get('p999'))} | {ms(g.get('max'))} | {g.get('over_2x_interval', '-')} "
            f"| {g.get('over_master_down', '-')} | {s['sched']['r1']} "
            f"| {s['system']['busy_cores']} / {s['system'].get('steal_seconds', '-')} |"
        )
    lines.append("")
    return lines


# Main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.failover.run",
        description="Failover benchmark: routerhad vs keepalived (root, network namespaces).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 runs per setting, 20 s CPU, 60 s soak"
    )
    parser.add_argument("--reps", type=int, help="runs per setting and implementation (5)")
    parser.add_argument("--cpu-seconds", type=float, help="CPU/RSS measurement (60 s)")
    parser.add_argument("--soak-seconds", type=float, help="soak duration (600 s)")
    parser.add_argument(
        "--keepalived-soak",
        choices=["yes", "no"],
        help="soak keepalived as well (default: yes, no with --quick)",
    )
    parser.add_argument(
        "--routerhad-soak",
        choices=["yes", "no"],
        default="yes",
        help="soak routerhad (default: yes)",
    )
    parser.add_argument(
        "--hog-cpus",
        help="CPUs to keep busy during the soak, comma-separated (default: the last one)",
    )
    parser.add_argument(
        "--only",
        default="failover,resources,soak",
        help="parts to run, comma-separated: failover, resources, soak",
    )
    parser.add_argument(
        "--settings",
        default=",".join(s.key for s in SETTINGS),
        help="failover settings: " + ", ".join(s.key for s in SETTINGS),
    )
    parser.add_argument(
        "--out", help=f"Markdown report; results.json goes next to it (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="measure nothing: print the report of an earlier results.json (and write --out)",
    )
    args = parser.parse_args(argv)
    args.reps = args.reps or (2 if args.quick else 5)
    args.cpu_seconds = args.cpu_seconds or (20.0 if args.quick else 60.0)
    args.soak_seconds = args.soak_seconds or (60.0 if args.quick else 600.0)
    if args.keepalived_soak is None:
        args.keepalived_soak = "no" if args.quick else "yes"
    cpus = os.cpu_count() or 1
    args.hog_cpus = [int(c) for c in args.hog_cpus.split(",")] if args.hog_cpus else [cpus - 1]
    return args


def run_header(program: str, argv: list[str] | None) -> dict[str, Any]:
    """When, by which command, on which machine and code a run started."""
    return {
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([f"python -m {program}", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(),
        "code": {"start": code_identity()},
    }


@contextlib.contextmanager
def pair_lab() -> Iterator[Lab]:
    """The lab of r1, r2 and the client; its files kept (and named) if the run fails."""
    with Lab() as lab:
        lab.add_host("r1", R1_ADDR)
        lab.add_host("r2", R2_ADDR)
        lab.add_host("cl", CLIENT_ADDR)
        try:
            yield lab
        except BaseException:
            lab.keep_dir = True
            log(f"failed; lab files kept in {lab.dir}")
            raise


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        report = render(json.loads(Path(args.render).read_text()))
        if args.out:
            Path(args.out).write_text(report)
        print(report)
        return 0
    usable, why = netns_available()
    if not usable:
        print(f"benchmark: {why}", file=sys.stderr)
        return 2
    parts = set(args.only.split(","))
    settings = [s for s in SETTINGS if s.key in args.settings.split(",")]
    out = Path(args.out or DEFAULT_OUT)
    results: dict[str, Any] = {
        **run_header("benchmarks.failover.run", argv),
        "options": {
            "reps": args.reps,
            "cpu_seconds": args.cpu_seconds,
            "soak_seconds": args.soak_seconds,
            "keepalived_soak": args.keepalived_soak,
            "hog_cpus": args.hog_cpus,
            "backup_priority": BACKUP_PRIORITY,
            "master_priority": MASTER_PRIORITY,
        },
    }
    with pair_lab() as lab:
        if "failover" in parts:
            results["failover"] = run_failover(lab, settings, args.reps)
        if "resources" in parts:
            results["resources"] = run_resources(lab, args.cpu_seconds)
        if "soak" in parts:
            results["soak"] = {}
            if args.routerhad_soak == "yes":
                results["soak"]["routerhad"] = run_soak(
                    lab, RouterhadPair, args.soak_seconds, args.hog_cpus
                )
            if args.keepalived_soak == "yes":
                results["soak"]["keepalived"] = run_soak(
                    lab, KeepalivedPair, args.soak_seconds, args.hog_cpus
                )
            else:
                results["soak"]["keepalived"] = {"skipped": "--quick (or --keepalived-soak no)"}
    results["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    results["code"]["end"] = code_identity()
    report = render(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    out.with_name("results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(report)
    log(f"written: {out} and {out.with_name('results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
