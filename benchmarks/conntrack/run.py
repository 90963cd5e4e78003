"""Conntrack-sync benchmark: routerhad (conntrack_sync) vs conntrackd (FTFW) + keepalived.

::

    python -m benchmarks.conntrack.run [--quick] [--n N] [--out FILE]

Run as root from the repository root. Each implementation gets the topology of
``tests/ctsync_lab/topology.py`` (cl -- r1/r2 -- srv, SNAT + stateful firewall,
sync link eth2 192.168.9.0/24, VRRPv3 0.1 s adverts, LAN+WAN in one sync group).
For conntrackd the routerhad daemons are never started; instead keepalived runs the
VRRP groups (vrrp_sync_group with notify_master/notify_backup scripts in the style
of conntrackd's primary-backup.sh) and conntrackd runs FTFW over multicast
225.0.0.50:3780 on eth2. Two labs per implementation:

A. latency (part 2), rate (part 3), then 200 sessions and a cut of r1 (part 1);
B. fill r1's table with N UDP flows, backup RSS, cut r1, commit time (part 4).

UDP flows come from one client socket per 60,000 flows, one datagram to each
destination port (every datagram a new conntrack entry); the routers' UDP timeout
is raised to 600 s so nothing expires during a run. "Created" times are the
client's send times (time.monotonic); "seen" times come from polling the backup's
external cache as fast as it answers (routerhad: the control socket request that
``routerhactl conntrack external-cache --json`` makes; conntrackd: ``conntrackd -e``);
the poll period is reported as the resolution.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lab.netlab import Keepalived, Lab, keepalived_instance, netns_available, poll
from tests.ctsync_lab.topology import CLIENT, LAN_VIP, SERVER, WAN_VIP, HaPair, Sessions

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.md"
PRIORITY = {"r1": 200, "r2": 100}

FLOWS = r'''
"""Send one UDP datagram to HOST:BASE+i for i < COUNT at RATE/s (0: as fast as
possible), from one socket per 60,000 flows; write the send times to OUT (JSON)."""
import json, socket, sys, time
host, base, count, rate, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
socks, times = [], []
start = time.monotonic()
for i in range(count):
    if i % 60000 == 0:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 0)); socks.append(s)
    if rate:
        due = start + i / rate
        while True:
            now = time.monotonic()
            if now >= due:
                break
            time.sleep(min(due - now, 0.002))
    t = time.monotonic()
    try:
        socks[-1].sendto(b"x", (host, base + i % 60000))
    except OSError:
        pass
    times.append(t)
json.dump({"times": times, "start": start, "end": time.monotonic()}, open(out, "w"))
print("done", count, flush=True)
'''


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# Implementations -------------------------------------------------------------------


class RouterhadImpl:
    name = "routerhad"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.pair = HaPair(lab)

    def start(self) -> None:
        self.pair.start()

    def backup_pid(self) -> int:
        return self.pair["r2"].process.pid

    def external_udp_dports(self) -> set[int]:
        return {
            e["dport"]
            for e in self.pair.cache("r2", "external")
            if e.get("protocol") == "udp" and e.get("src") == CLIENT and e.get("dst") == SERVER
        }

    def external_count(self) -> int:
        stats = self.pair.stats("r2")
        return stats["external_cache"] if stats else -1

    def ready_wait(self, timeout: float) -> float:
        """Seconds until the backup has prepared every external entry's create message."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            stats = self.pair.stats("r2") or {}
            if stats.get("prepared", -1) >= stats.get("external_cache", 0):
                break
            time.sleep(0.1)
        return time.monotonic() - t0

    def sessions_synced(self, sessions: Sessions) -> int:
        return len(sessions.synced("r2"))

    def wait_master(self, timeout: float) -> None:
        self.pair.wait_group_states({"r2": "MASTER"}, timeout=timeout)

    def commit(self, timeout: float) -> dict[str, Any] | None:
        found = (
            poll(lambda: self.pair.commits("r2"), timeout, message="no commit")
            if timeout
            else self.pair.commits("r2")
        )
        if not found:
            return None
        entries, _kept, failed, seconds = found[-1]
        notes = [ln for ln in self.pair["r2"].log().splitlines() if "conntrack sync:" in ln]
        return {"entries": entries, "failed": failed, "seconds": seconds, "log": notes[-4:]}


CONNTRACKD_CONF = """\
Sync {{
    Mode FTFW {{
        ResendQueueSize 262144
    }}
    Multicast {{
        IPv4_address 225.0.0.50
        Group 3780
        IPv4_interface {sync}
        Interface eth2
        SndSocketBuffer 24985600
        RcvSocketBuffer 24985600
        Checksum on
    }}
}}
General {{
    HashSize 65536
    HashLimit 4000000
    LogFile {logfile}
    Syslog off
    LockFile {lock}
    UNIX {{
        Path {sock}
    }}
    NetlinkBufferSize 2097152
    NetlinkBufferSizeMaxGrowth 134217728
    Filter From Userspace {{
        Protocol Accept {{
            TCP
            UDP
        }}
        Address Ignore {{
            IPv4_address 127.0.0.1
            IPv4_address 192.168.9.1
            IPv4_address 192.168.9.2
        }}
    }}
}}
"""

MASTER_SH = """#!/bin/sh
# primary-backup.sh style: becoming MASTER
t() {{ date +%s.%N; }}
echo "master-start $(t)" >> {log}
conntrackd -C {conf} -c
echo "commit-end $(t) rc=$?" >> {log}
conntrackd -C {conf} -f
conntrackd -C {conf} -R
conntrackd -C {conf} -B
echo "master-done $(t)" >> {log}
"""

BACKUP_SH = """#!/bin/sh
# primary-backup.sh style: becoming BACKUP
echo "backup-start $(date +%s.%N)" >> {log}
conntrackd -C {conf} -n
echo "backup-done $(date +%s.%N) rc=$?" >> {log}
"""

ENTRY_RE = re.compile(r"^(\w+)\s+\d+\s+.*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)", re.M)


class ConntrackdImpl:
    name = "conntrackd+keepalived"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.pair = HaPair(lab)  # topology only: its routerhad daemons are never started
        self.conf: dict[str, Path] = {}
        self.notify_log: dict[str, Path] = {}
        self.procs: dict[str, Any] = {}
        self.keepalived: dict[str, Keepalived] = {}
        for n, host in enumerate(("r1", "r2"), 1):
            d = lab.dir / f"ctd-{host}"
            d.mkdir()
            conf = d / "conntrackd.conf"
            conf.write_text(
                CONNTRACKD_CONF.format(
                    sync=f"192.168.9.{n}",
                    logfile=d / "conntrackd.log",
                    lock=d / "lock",
                    sock=d / "ctl.sock",
                )
            )
            self.conf[host] = conf
            self.notify_log[host] = d / "notify.log"
            for state, text in (("master", MASTER_SH), ("backup", BACKUP_SH)):
                script = d / f"{state}.sh"
                script.write_text(text.format(log=d / "notify.log", conf=conf))
                script.chmod(0o755)

    def ctd(self, host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self.lab.run(
            host, "conntrackd", "-C", str(self.conf[host]), *args, check=False, timeout=timeout
        )

    def start_host(self, host: str) -> None:
        self.procs[host] = self.lab.popen(
            host, "conntrackd", "-C", str(self.conf[host]), log_name=f"conntrackd-{host}.log"
        )
        poll(lambda: self.ctd(host, "-s").returncode == 0, 10, message=f"conntrackd {host} not up")
        d = self.conf[host].parent
        extra = ""
        instances = "".join(
            keepalived_instance(
                name,
                vrid=vrid,
                priority=PRIORITY[host],
                addresses=[addr],
                interface=ifname,
                version=3,
                advert_int=0.1,
            )
            for name, vrid, addr, ifname in (
                ("LAN", 1, f"{LAN_VIP}/24", "eth0"),
                ("WAN", 2, f"{WAN_VIP}/24", "eth1"),
            )
        )
        text = (
            "vrrp_sync_group CG {\n    group {\n        LAN\n        WAN\n    }\n"
            f'    notify_master "{d / "master.sh"}"\n    notify_backup "{d / "backup.sh"}"\n}}\n'
            + instances
            + extra
        )
        self.keepalived[host] = Keepalived(self.lab, host, text).start()

    def start(self) -> None:
        self.start_host("r1")
        self.keepalived["r1"].wait_state("LAN", "MASTER", timeout=15)
        self.start_host("r2")
        self.keepalived["r2"].wait_state("LAN", "BACKUP", timeout=15)
        time.sleep(1.0)

    def backup_pid(self) -> int:
        return self.procs["r2"].pid

    def external(self) -> list[tuple[str, str, str, int, int]]:
        out = self.ctd("r2", "-e").stdout
        return [(p, s, d, int(sp), int(dp)) for p, s, d, sp, dp in ENTRY_RE.findall(out)]

    def external_udp_dports(self) -> set[int]:
        return {
            dp for p, s, d, sp, dp in self.external() if p == "udp" and s == CLIENT and d == SERVER
        }

    def external_count(self) -> int:
        return len(self.ctd("r2", "-e").stdout.splitlines())

    def ready_wait(self, timeout: float) -> float:
        return 0.0  # conntrackd encodes at commit time: nothing to wait for

    def sessions_synced(self, sessions: Sessions) -> int:
        out = self.ctd("r2", "-e").stdout
        return sum(
            1
            for line in out.splitlines()
            if line.startswith("tcp")
            and "ESTABLISHED" in line
            and f"dport={sessions.port} " in line
        )

    def wait_master(self, timeout: float) -> None:
        self.keepalived["r2"].wait_state("LAN", "MASTER", timeout=timeout)

    def commit(self, timeout: float) -> dict[str, Any] | None:
        path = self.notify_log["r2"]

        def done() -> re.Match | None:
            text = path.read_text() if path.exists() else ""
            return re.search(r"master-start ([\d.]+)\ncommit-end ([\d.]+) rc=(\d+)", text)

        found = poll(done, timeout, message="no conntrackd commit") if timeout else done()
        if not found:
            return None
        return {
            "entries": None,
            "failed": int(found.group(3)),
            "seconds": float(found.group(2)) - float(found.group(1)),
        }


IMPLS = (RouterhadImpl, ConntrackdImpl)


# Parts --------------------------------------------------------------------------------


def setup(impl: Any) -> None:
    lab = impl.lab
    for host in ("r1", "r2"):
        lab.sysctl(host, "net.netfilter.nf_conntrack_udp_timeout", "600")
    impl.start()


def send_flows(impl: Any, base: int, count: int, rate: float, tag: str) -> dict[str, Any]:
    out = impl.lab.dir / f"flows-{tag}.json"
    proc = impl.pair.python(
        "cl", "flows.py", FLOWS, SERVER, str(base), str(count), str(rate), str(out)
    )
    poll(
        lambda: not proc.alive(),
        count / (rate or 20000) + 60,
        message=f"flows {tag} did not finish",
    )
    return json.loads(out.read_text())


def part_latency(impl: Any, count: int, rate: float) -> dict[str, Any]:
    base = 2000
    seen: dict[int, float] = {}
    polls: list[float] = []
    stop = threading.Event()

    def watcher() -> None:
        while not stop.is_set():
            dports = impl.external_udp_dports()
            now = time.monotonic()
            polls.append(now)
            for p in dports:
                if base <= p < base + count and p not in seen:
                    seen[p] = now

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    flows = send_flows(impl, base, count, rate, "latency")
    poll(lambda: len(seen) >= count, 10, message="") if True else None
    stop.set()
    thread.join(10)
    lat = sorted(seen[base + i] - t for i, t in enumerate(flows["times"]) if base + i in seen)
    periods = [b - a for a, b in zip(polls, polls[1:])]
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {
        "flows": count,
        "rate": rate,
        "seen": len(seen),
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": (lat[-1] * 1000 if lat else None),
        "poll_period_ms_median": statistics.median(periods) * 1000 if periods else None,
    }


def part_rate(impl: Any, rates: list[int], seconds: float) -> list[dict[str, Any]]:
    out = []
    for step, rate in enumerate(rates):
        base = 10000 + step * 12000
        count = int(rate * seconds)
        flows = send_flows(impl, base, count, rate, f"rate{rate}")
        achieved = count / max(1e-9, flows["end"] - flows["start"])
        # Settle: until the count stops growing (3 s) or 15 s.
        last, stable_since, t0 = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - t0 < 15:
            n = sum(1 for p in impl.external_udp_dports() if base <= p < base + count)
            if n != last:
                last, stable_since = n, time.monotonic()
            if n >= count or time.monotonic() - stable_since > 3:
                break
            time.sleep(0.3)
        master = impl.lab.run(
            "r1", "conntrack", "-L", "-p", "udp", "-d", SERVER, check=False
        ).stdout
        in_master = sum(
            1 for m in re.findall(r"dport=(\d+)", master)[::2] if base <= int(m) < base + count
        )
        out.append(
            {
                "rate": rate,
                "achieved_rate": achieved,
                "created": count,
                "in_master_kernel": in_master,
                "in_peer_external": last,
            }
        )
        log(f"  {impl.name} rate {rate}/s: {last}/{count} in peer (master kernel {in_master})")
    return out


def part_sessions(impl: Any, count: int) -> dict[str, Any]:
    lab = impl.lab
    lab.run("r1", "conntrack", "-D", "-p", "udp", check=False)
    time.sleep(3)
    sessions = Sessions(impl.pair, count)
    try:
        poll(lambda: impl.sessions_synced(sessions) >= count, 30, message="sessions not synced")
        synced = count
    except Exception:
        synced = impl.sessions_synced(sessions)
    time.sleep(1.0)
    cut = time.monotonic()
    lab.cut("r1")
    takeover = None
    try:
        impl.wait_master(10)
        takeover = time.monotonic() - cut
    except Exception:
        pass
    time.sleep(6.0)
    status = sessions.snapshot()
    now = status["now"]
    alive = 0
    reasons: dict[str, int] = {}
    for _sent, _echoed, last, gap, error in status["sessions"]:
        if error is not None:
            why = "reset/error"
        elif last is None or last < cut:
            why = "no echo after cut"
        elif max(gap, now - last) > 2.0:
            why = "stalled > 2 s"
        else:
            alive += 1
            continue
        reasons[why] = reasons.get(why, 0) + 1
    gaps = [g for g in sessions.gaps() if g != float("inf")]
    commit = impl.commit(0)
    return {
        "sessions": count,
        "synced_before_cut": synced,
        "survived": alive,
        "failures": reasons,
        "takeover_s": takeover,
        "max_gap_s": max(gaps) if gaps else None,
        "resets": impl.pair.resets(),
        "commit": commit,
    }


def part_commit(impl: Any, n: int) -> dict[str, Any]:
    base_rss = rss_kb(impl.backup_pid())
    t0 = time.monotonic()
    send_flows(impl, 1024, n, 0, "fill")
    fill_s = time.monotonic() - t0
    last, stable_since, t0 = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < 120:
        c = impl.external_count()
        if c != last:
            last, stable_since = c, time.monotonic()
        if c >= n or time.monotonic() - stable_since > 5:
            break
        time.sleep(0.5)
    sync_s = time.monotonic() - t0
    ready_s = impl.ready_wait(60)
    time.sleep(1)
    rss = rss_kb(impl.backup_pid())
    master_count = impl.lab.run("r1", "conntrack", "-C", check=False).stdout.strip()
    cut = time.monotonic()
    impl.lab.cut("r1")
    commit = None
    try:
        commit = impl.commit(180)
    except Exception as exc:
        log(f"  {impl.name}: no commit seen: {exc}")
    kernel = impl.lab.run("r2", "conntrack", "-C", check=False).stdout.strip()
    return {
        "n": n,
        "fill_s": fill_s,
        "master_kernel": master_count,
        "peer_external": last,
        "sync_wait_s": sync_s,
        "ready_wait_s": ready_s,
        "rss_base_kb": base_rss,
        "rss_kb": rss,
        "rss_per_100k_mb": ((rss - base_rss) / 1024 * 100000 / last) if last > 0 else None,
        "commit": commit,
        "commit_wall_s": time.monotonic() - cut,
        "backup_kernel_after": kernel,
    }


def run_impl(cls: Any, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"name": cls.name}
    with Lab() as lab:
        impl = cls(lab)
        log(f"{cls.name}: lab A (latency, rate, sessions)")
        setup(impl)
        for key, fn in (
            ("latency", lambda: part_latency(impl, args.lat_flows, args.lat_rate)),
            ("rate", lambda: part_rate(impl, args.rates, args.step_seconds)),
            ("sessions", lambda: part_sessions(impl, 200)),
        ):
            try:
                result[key] = fn()
                log(f"  {cls.name} {key}: {json.dumps(result[key])[:400]}")
            except Exception as exc:
                result[key] = {"error": repr(exc)[:2000]}
                log(f"  {cls.name} {key} FAILED: {exc!r}"[:2000])
    with Lab() as lab:
        impl = cls(lab)
        log(f"{cls.name}: lab B (commit of {args.n})")
        try:
            setup(impl)
            result["commit"] = part_commit(impl, args.n)
            log(f"  {cls.name} commit: {json.dumps(result['commit'])}")
        except Exception as exc:
            result["commit"] = {"error": repr(exc)[:2000]}
            log(f"  {cls.name} commit FAILED: {exc!r}"[:2000])
    return result


# Report -------------------------------------------------------------------------------


def f(value: Any, fmt: str = "{:.1f}") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        return fmt.format(value)
    return str(value)


def rate_cell(part: dict[str, Any]) -> str:
    """One cell of the flow-rate rows: entries that reached the peer, flows created, rate."""
    return f"{part['in_peer_external']} / {part['created']} ({part['achieved_rate']:.0f}/s)"


def render(results: dict[str, Any]) -> str:
    impls = results["impls"]
    head = "| | " + " | ".join(r["name"] for r in impls) + " |\n|---|" + "---|" * len(impls)
    rows = [head]

    def row(label: str, get: Any) -> None:
        cells = []
        for r in impls:
            try:
                cells.append(get(r))
            except Exception:
                cells.append("error")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "1. sessions surviving failover (of 200)",
        lambda r: f"**{r['sessions']['survived']}**" if "survived" in r["sessions"] else "error",
    )
    row("   synced to backup before the cut", lambda r: str(r["sessions"]["synced_before_cut"]))
    row(
        "   failures",
        lambda r: ", ".join(f"{k}: {v}" for k, v in r["sessions"]["failures"].items()) or "none",
    )
    row("   takeover (cut to backup MASTER), s", lambda r: f(r["sessions"]["takeover_s"], "{:.2f}"))
    row("   longest echo gap, s", lambda r: f(r["sessions"]["max_gap_s"], "{:.2f}"))
    row("   TCP resets (cl/srv)", lambda r: str(sum(r["sessions"]["resets"].values())))
    row(
        "2. event-to-peer latency p50 / p99, ms",
        lambda r: f"{f(r['latency']['p50_ms'])} / {f(r['latency']['p99_ms'])}",
    )
    row("   flows seen / created", lambda r: f"{r['latency']['seen']} / {r['latency']['flows']}")
    row(
        "   resolution (median poll period), ms", lambda r: f(r["latency"]["poll_period_ms_median"])
    )
    for i, rate in enumerate(results["args"]["rates"]):
        row(
            f"3. {rate} new UDP flows/s: in peer / created (achieved rate)",
            lambda r, i=i: rate_cell(r["rate"][i]),
        )
    row(
        f"4. entries in peer's external cache (filled {results['args']['n']})",
        lambda r: str(r["commit"]["peer_external"]),
    )
    row(
        "   sync of the filled table, s / then commit messages prepared, s",
        lambda r: f"{r['commit']['sync_wait_s']:.1f} / {r['commit'].get('ready_wait_s', 0):.1f}",
    )
    row(
        "   commit time, s",
        lambda r: (
            f(r["commit"]["commit"]["seconds"], "{:.2f}")
            if r["commit"].get("commit")
            else "no commit seen"
        ),
    )
    row(
        "   entries committed (as logged)",
        lambda r: f((r["commit"].get("commit") or {}).get("entries"), "{}"),
    )
    row("   backup kernel table after takeover", lambda r: str(r["commit"]["backup_kernel_after"]))
    row("   backup RSS per 100,000 cached entries, MB", lambda r: f(r["commit"]["rss_per_100k_mb"]))
    out = [
        f"# Conntrack sync benchmark ({'quick' if results['args']['quick'] else 'full'})",
        "",
        f"{results['started']}, {results['machine']}, commit {results['commit_id']}",
        "",
        *rows,
        "",
        "Method: see benchmarks/conntrack/README.md. Latency: "
        f"{results['args']['lat_flows']} UDP flows at {results['args']['lat_rate']:g}/s, client send time "
        "to first appearance in a poll of the backup's external cache (error up to one poll period). "
        f"Rate steps: {results['args']['step_seconds']:g} s each.",
        "",
    ]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--n", type=int, help="entries for the commit test (100000; quick 10000)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--only", choices=["routerhad", "conntrackd"], help="one implementation")
    a = p.parse_args(argv)
    a.n = a.n or (10000 if a.quick else 100000)
    a.lat_flows, a.lat_rate = (200, 50.0) if a.quick else (500, 100.0)
    a.rates = [200, 500, 1000, 2000]
    a.step_seconds = 2.0 if a.quick else 5.0
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ok, why = netns_available()
    if not ok:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    commit_id = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "src"], capture_output=True, text=True, check=False
    ).stdout.strip()
    results: dict[str, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, kernel {os.uname().release}",
        "commit_id": commit_id + ("+dirty src" if dirty else ""),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "impls": [],
    }
    for cls in IMPLS:
        if args.only and not cls.name.startswith(args.only):
            continue
        results["impls"].append(run_impl(cls, args))
    text = render(results)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
