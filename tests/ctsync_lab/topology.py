"""Two routerhad routers with conntrack sync in front of a stateful SNAT firewall.

::

    cl 10.1.1.25 --lan-- r1 / r2 --wan-- srv 198.51.100.25
                         |     |
                         +sync-+  (eth2, 192.168.9.0/24; "junk" joins it in some tests)

r1 (priority 200) and r2 (priority 100) run routerhad with VRRPv3 groups LAN
(eth0, 10.1.1.5) and WAN (eth1, 198.51.100.12, also the SNAT address) in sync
group CG, 0.1 s adverts, and conntrack sync on eth2 bound to CG, authenticated
with ``SYNC_KEY`` unless a test asks for the unauthenticated link; multicast, or
unicast to the other router with ``unicast``. The firewall
forwards only what conntrack knows (``nf_conntrack_tcp_loose`` 0: a router
without the entry never picks a connection up in the middle, so a session that
survives a takeover survived because its entry was synced) and gives FTP control
connections the ftp helper. The client's default route is the LAN VIP.

The daemons are ``Routerhad`` objects of ``tests/daemon_lab/routerhad_lab.py`` in
a ``Fleet``, so every wait reports both routers' logs.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from lab.netlab import Lab, LabProcess, poll
from routerha.ctl.client import request
from tests.daemon_lab.routerhad_lab import Fleet, Routerhad, group

from .programs import ECHO_SERVER, SESSION_CLIENT

LAN_VIP, WAN_VIP = "10.1.1.5", "198.51.100.12"
CLIENT, SERVER = "10.1.1.25", "198.51.100.25"
SYNC_PORT = 3780
ECHO_PORT = 5001
PRIORITY = {"r1": 200, "r2": 100}
GROUPS = ("LAN", "WAN")
TCP_ESTABLISHED = 3
#: The sync link's key (both routers); tests of the unauthenticated link override it.
SYNC_KEY = "lab-sync-key-0123456789abcdef"
SYNC_AUTH = {"type": "hmac-sha256", "key_id": 1, "key": SYNC_KEY}
UNAUTHENTICATED = {"authentication": {"type": "none"}}

RULESET = """\
table ip nat {
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr 10.1.1.0/24 oifname "eth1" snat to 198.51.100.12
    }
}
table inet filter {
    ct helper ftp-standard {
        type "ftp" protocol tcp
        l3proto ip
    }
    chain pre {
        type filter hook prerouting priority filter; policy accept;
        iifname "eth0" tcp dport 21 ct helper set "ftp-standard"
    }
    chain forwarding {
        type filter hook forward priority filter; policy drop;
        ct state invalid counter drop
        ct state established counter accept
        ct state related counter accept
        iifname "eth0" ct state new counter accept
    }
}
"""

#: Counts TCP resets in and out of an end host (no conntrack: no ct expressions).
RST_WATCH = """\
table inet watch {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp flags & rst == rst counter
    }
    chain output {
        type filter hook output priority filter; policy accept;
        tcp flags & rst == rst counter
    }
}
"""

#: Loss on a router's sync link, as ``tc qdisc ... netem loss`` would make it (this
#: kernel has no netem: CONFIG_NET_SCH_NETEM is off): every frame leaving eth2, with
#: the DATA messages (type 1, the fourth octet of the payload) counted apart.
LOSS = """\
table netdev loss {{
    chain egress {{
        type filter hook egress device "eth2" priority filter; policy accept;
        meta mark set numgen random mod 100
        meta mark < {percent} udp dport 3780 @th,88,8 1 counter drop
        meta mark < {percent} counter drop
    }}
}}
"""

COMMITTED = re.compile(r"committed (\d+) entries \((\d+) live kept, (\d+) failed\) in ([\d.]+) s")


class HaPair:
    """The topology above (built at construction); ``start()`` starts the daemons."""

    def __init__(
        self,
        lab: Lab,
        *,
        sync_loss: int = 0,
        ctsync: dict[str, Any] | None = None,
        junk: bool = False,
        unicast: bool = False,
    ) -> None:
        self.lab = lab
        self.fleet = Fleet(lab)
        self.processes: list[LabProcess] = []
        for name, n in (("r1", 1), ("r2", 2)):
            lab.add_host(name, f"10.1.1.{n}/24")
            lab.add_host(name, f"198.51.100.{n}/24", segment="wan", ifname="eth1")
            lab.add_host(name, f"192.168.9.{n}/24", segment="sync", ifname="eth2")
            lab.sysctl(name, "net.ipv4.ip_forward", "1")
            lab.run(name, "nft", "-f", "-", input=RULESET)
            lab.sysctl(name, "net.netfilter.nf_conntrack_tcp_loose", "0")
            if sync_loss:
                lab.run(name, "nft", "-f", "-", input=LOSS.format(percent=sync_loss))
            settings = {
                "interface": "eth2",
                "failover_mechanism": {"sync_group": "CG"},
                "authentication": SYNC_AUTH,
                **({"peer": f"192.168.9.{3 - n}"} if unicast else {}),
                **(ctsync or {}),
            }
            text = json.dumps(
                {
                    "vrrp": {
                        "groups": {
                            "LAN": group(f"{LAN_VIP}/24", vrid=1, priority=PRIORITY[name]),
                            "WAN": group(
                                f"{WAN_VIP}/24", vrid=2, priority=PRIORITY[name], interface="eth1"
                            ),
                        },
                        "sync_groups": {"CG": {"member": list(GROUPS)}},
                    },
                    "conntrack_sync": settings,
                },
                indent=2,
            )
            daemon = Routerhad(lab, name, text)
            self.fleet.add(daemon)
            self.fleet.by_host[name] = daemon
        lab.add_host("cl", f"{CLIENT}/24")
        lab.ip("cl", "route", "add", "default", "via", LAN_VIP)
        lab.add_host("srv", f"{SERVER}/24", segment="wan")
        for host in ("cl", "srv"):
            lab.run(host, "nft", "-f", "-", input=RST_WATCH)
        if junk:
            lab.add_host("junk", "192.168.9.99/24", segment="sync")
        self.scripts = lab.dir / "scripts"
        self.scripts.mkdir()

    # Daemons ---------------------------------------------------------------------------

    def __getitem__(self, host: str) -> Routerhad:
        return self.fleet[host]

    def start(self) -> None:
        """r1 first, MASTER of both groups; then r2, BACKUP, with r1 as its master and
        conntrack sync running on both."""
        self["r1"].start()
        self.wait_group_states({"r1": "MASTER"}, timeout=10)
        self["r2"].start()
        self.wait_group_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=10)
        for name in GROUPS:
            self.fleet.wait_master("r2", "198.51.100.1" if name == "WAN" else "10.1.1.1", name)
        for host in ("r1", "r2"):
            self.fleet.wait(lambda h=host: self.stats(h), f"{host}: no conntrack stats")

    def wait_group_states(self, wanted: dict[str, str], timeout: float = 5.0) -> float:
        """Both groups of each host in the wanted state; the seconds it took."""
        started = time.monotonic()
        for name in GROUPS:
            self.fleet.wait_states(
                wanted, name, timeout=max(0.1, timeout - (time.monotonic() - started))
            )
        return time.monotonic() - started

    def report(self) -> str:
        """Both daemons' logs and the traffic programs' output, for assertion messages."""
        return f"{self.fleet.report()}\n{self.report_programs()}"

    def wait(self, predicate: Any, what: Any, timeout: float = 5.0) -> Any:
        """``poll`` whose failure message carries ``report()``; fails early if a daemon died."""
        return self.fleet.wait(
            predicate,
            lambda: f"{what() if callable(what) else what}\n{self.report_programs()}",
            timeout,
        )

    def report_programs(self) -> str:
        parts = []
        for process in self.processes:
            state = "running" if process.alive() else f"exited {process.popen.returncode}"
            parts.append(
                f"=== {process.host}: {Path(process.args[2]).name} ({state})\n"
                + "\n".join(process.log().splitlines()[-40:])
            )
        return "\n".join(parts)

    # Conntrack views (the requests ``routerhactl conntrack ... --json`` makes) -------

    def conntrack(self, host: str, what: str) -> dict[str, Any] | None:
        daemon = self[host]
        if not daemon.alive() or not daemon.sock.exists():
            return None
        try:
            answer = request(str(daemon.sock), "conntrack", timeout=5.0, what=what)
        except (OSError, ValueError):
            return None
        return None if "error" in answer else answer

    def stats(self, host: str) -> dict[str, Any] | None:
        answer = self.conntrack(host, "stats")
        return answer["stats"] if answer else None

    def cache(self, host: str, which: str) -> list[dict[str, Any]]:
        answer = self.conntrack(host, f"{which}-cache")
        return answer["entries"] if answer else []

    def ctl_cache(self, host: str, which: str) -> list[dict[str, Any]]:
        """The same through the real ``routerhactl conntrack ...-cache --json``."""
        done = self[host].ctl("conntrack", f"{which}-cache", "--json")
        assert done.returncode == 0, f"routerhactl: {done.stderr}\n{self.report()}"
        return json.loads(done.stdout)["entries"]

    def commits(self, host: str) -> list[tuple[int, int, int, float]]:
        """(entries, kept, failed, seconds) of every commit ``host``'s logs report."""
        return [
            (int(a), int(b), int(c), float(d)) for a, b, c, d in COMMITTED.findall(self[host].log())
        ]

    # Traffic -------------------------------------------------------------------------

    def python(self, host: str, name: str, source: str, *args: str) -> LabProcess:
        path = self.scripts / name
        if not path.exists():
            path.write_text(source)
        process = self.lab.popen(host, sys.executable, "-u", str(path), *args)
        self.processes.append(process)
        return process

    def nft_counter(self, host: str, family: str, table: str, chain: str, pattern: str) -> int:
        """The packet counter of the rule of ``chain`` whose text matches ``pattern``."""
        out = self.lab.run(host, "nft", "list", "chain", family, table, chain).stdout
        found = re.search(pattern + r".*?counter packets (\d+)", out)
        assert found, f"{host}: no rule {pattern!r} in {chain}:\n{out}"
        return int(found.group(1))

    def resets(self) -> dict[str, int]:
        """TCP RSTs seen entering or leaving the client and the server."""
        out = {}
        for host in ("cl", "srv"):
            for chain in ("input", "output"):
                listing = self.lab.run(host, "nft", "list", "chain", "inet", "watch", chain).stdout
                found = re.search(r"counter packets (\d+)", listing)
                out[f"{host} {chain}"] = int(found.group(1)) if found else -1
        return out


class Sessions:
    """``count`` busy TCP sessions from cl to srv through the routers (SESSION_CLIENT)."""

    def __init__(self, pair: HaPair, count: int, port: int = ECHO_PORT) -> None:
        self.pair = pair
        self.count = count
        self.port = port
        lab = pair.lab
        self.status_path = lab.dir / f"sessions-{port}.json"
        self.stop_path = lab.dir / f"sessions-{port}.stop"
        self.server = pair.python("srv", "echo_server.py", ECHO_SERVER, SERVER, str(port))
        poll(
            lambda: "listening" in self.server.log(),
            5,
            message=lambda: f"echo server not listening:\n{self.server.log()}",
        )
        self.client = pair.python(
            "cl",
            "session_client.py",
            SESSION_CLIENT,
            SERVER,
            str(port),
            str(count),
            str(self.status_path),
            str(self.stop_path),
        )
        pair.wait(
            lambda: self.status() is not None,
            f"{count} sessions never connected",
            timeout=20,
        )

    def status(self) -> dict[str, Any] | None:
        if not self.client.alive() and "Traceback" in self.client.log():
            raise AssertionError(f"session client failed:\n{self.client.log()}")
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def snapshot(self) -> dict[str, Any]:
        status = self.status()
        assert status is not None, f"no session status\n{self.pair.report()}"
        return status

    def stop(self) -> None:
        self.stop_path.write_text("stop\n")
        poll(lambda: not self.client.alive(), 5, message="session client did not stop")

    def synced(self, host: str) -> list[dict[str, Any]]:
        """This traffic's established, SNATed entries in ``host``'s external cache."""
        return [
            e
            for e in self.pair.cache(host, "external")
            if e.get("protocol") == "tcp"
            and not e.get("expectation")
            and e["src"] == CLIENT
            and e["dst"] == SERVER
            and e["dport"] == self.port
            and e["tcp_state"] == TCP_ESTABLISHED
            and e["reply_dst"] == WAN_VIP
        ]

    def wait_synced(self, host: str, timeout: float = 20.0) -> float:
        """Until ``host``'s external cache holds every session; the seconds it took."""
        started = time.monotonic()
        self.pair.wait(
            lambda: len(self.synced(host)) == self.count,
            lambda: (
                f"{host}'s external cache holds {len(self.synced(host))} of {self.count} "
                f"sessions; stats {self.pair.stats(host)}"
            ),
            timeout=timeout,
        )
        return time.monotonic() - started

    def problems(
        self,
        since: dict[str, Any] | None = None,
        *,
        max_gap: float = 2.0,
        min_echoed: int = 0,
        fresh: float | None = None,
    ) -> list[str]:
        """What is wrong with the sessions now: an error (a reset, an end); an echo gap
        over ``max_gap`` s at any time so far (now included); fewer than ``min_echoed``
        octets echoed since the snapshot ``since``; no echo in the last ``fresh`` s."""
        status = self.snapshot()
        now = status["now"]
        out = []
        for index, (sent, echoed, last, longest, error) in enumerate(status["sessions"]):
            if error is not None:
                out.append(f"session {index}: {error}")
                continue
            if last is None:
                out.append(f"session {index}: never echoed (sent {sent})")
                continue
            gap = max(longest, now - last)
            if gap > max_gap:
                out.append(f"session {index}: stalled {gap:.2f} s")
            if fresh is not None and now - last > fresh:
                out.append(f"session {index}: nothing echoed for {now - last:.2f} s")
            before = since["sessions"][index][1] if since else 0
            if echoed - before < min_echoed:
                out.append(f"session {index}: only {echoed - before} octets echoed since")
        return out

    def gaps(self) -> list[float]:
        status = self.snapshot()
        now = status["now"]
        return [
            max(gap, now - last) if last is not None else float("inf")
            for _, _, last, gap, _ in status["sessions"]
        ]
