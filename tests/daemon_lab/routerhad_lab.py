"""routerhad on top of the namespace lab (``lab.netlab``): start, watch, reload, stop.

``Fleet`` collects every daemon a test starts (routerhad, keepalived, FRR) so that
each wait can put all their logs into its failure message::

    fleet.routerhad("r1", {"LAN": group("10.9.0.100/24", priority=200)})
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})

Status is read over the control socket, the same request ``routerhactl status
--json`` makes (``Routerhad.status``: in process, so polls are cheap and timing
is precise; ``Routerhad.ctl`` runs the real ``routerhactl``). Namespaces share the
file system, so the control sockets are reachable from the test process as they are.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from lab.netlab import Keepalived, Lab, LabProcess, poll
from routerha.ctl.client import request

T = TypeVar("T")

DAEMON = (sys.executable, "-m", "routerha.daemon")
CTL = (sys.executable, "-m", "routerha.ctl.main")
GROUP = "LAN"


def group(
    *address: str,
    vrid: int = 1,
    priority: int = 100,
    version: int = 3,
    interval: float = 0.1,
    interface: str = "eth0",
    **settings: Any,
) -> dict[str, Any]:
    """One ``vrrp.groups.NAME`` entry; ``settings`` are further config keys."""
    data: dict[str, Any] = {
        "interface": interface,
        "vrid": vrid,
        "version": version,
        "priority": priority,
        "advertise_interval": interval,
        "address": list(address),
    }
    data.update(settings)
    return data


def config(groups: dict[str, dict[str, Any]], sync_groups: dict[str, Any] | None = None) -> str:
    """The routerhad config file text for ``groups``."""
    vrrp: dict[str, Any] = {"groups": groups}
    if sync_groups:
        vrrp["sync_groups"] = sync_groups
    return json.dumps({"vrrp": vrrp}, indent=2)


class Reporting(Protocol):
    name: str

    def report(self) -> str: ...


class Routerhad:
    """One routerhad in a lab host with its own config, control socket and pid file.

    Every start gets its own log file; ``log()`` joins them.
    """

    def __init__(self, lab: Lab, host: str, text: str, *, name: str | None = None) -> None:
        self.lab = lab
        self.host = host
        self.name = name or f"routerhad-{host}"
        self.conf = lab.dir / f"{self.name}.json"
        self.sock = lab.dir / f"{self.name}.sock"
        self.pidfile = lab.dir / f"{self.name}.pid"
        #: AH sequence numbers kept across restarts (``--state-dir``).
        self.state_dir = lab.dir / f"{self.name}-state"
        self.write_config(text)
        self.runs: list[LabProcess] = []

    # Running

    @property
    def process(self) -> LabProcess | None:
        return self.runs[-1] if self.runs else None

    def start(self, *extra: str) -> Routerhad:
        if self.process is not None and self.process.alive():
            raise RuntimeError(f"{self.name} is already running")
        self.sock.unlink(missing_ok=True)
        self.runs.append(
            self.lab.popen(
                self.host,
                *DAEMON,
                "--config", str(self.conf),
                "--control", str(self.sock),
                "--pidfile", str(self.pidfile),
                "--state-dir", str(self.state_dir),
                *extra,
                log_name=f"{self.name}-{len(self.runs) + 1}.log",
            )
        )  # fmt: skip
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (a clean stop: priority 0, addresses removed); the exit code."""
        return self.process.stop(timeout) if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def write_config(self, text: str) -> None:
        self.conf.write_text(text)
        self.conf.chmod(0o600)  # it may hold passwords: routerhad warns otherwise

    # Reading

    def status(self) -> dict[str, Any] | None:
        """``routerhactl status --json`` as data; None while the daemon does not answer."""
        if not self.sock.exists():
            return None
        try:
            answer = request(str(self.sock), "status", timeout=2.0)
        except (OSError, ValueError):
            return None
        return None if "error" in answer else answer

    def group(self, name: str = GROUP) -> dict[str, Any] | None:
        found = self.status()
        if found is None:
            return None
        for entry in found["groups"]:
            if entry["name"] == name:
                return entry
        return None

    def state(self, name: str = GROUP) -> str | None:
        entry = self.group(name)
        return entry["state"] if entry else None

    def counters(self, name: str = GROUP) -> dict[str, Any]:
        entry = self.group(name)
        assert entry is not None, f"{self.name} has no group {name}\n{self.report()}"
        return entry["counters"]

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        """Run the real ``routerhactl --control SOCK ARGS`` (no namespace needed)."""
        return subprocess.run(
            [*CTL, "--control", str(self.sock), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def ctl_status(self) -> dict[str, Any]:
        done = self.ctl("status", "--json")
        assert done.returncode == 0, f"routerhactl status: {done.stderr}\n{self.report()}"
        return json.loads(done.stdout)

    def log(self) -> str:
        return "".join(f"--- run {n}\n{p.log()}" for n, p in enumerate(self.runs, 1))

    def report(self) -> str:
        state = "running" if self.alive() else "not running"
        return f"=== {self.name} in {self.host} ({state})\n{self.log()}"


class Frr:
    """FRR's zebra and vrrpd in a lab host, each with its own state directory.

    FRR 8.4 refuses ``-u root`` unless root is in its vty group (frrvty), so the
    daemons drop to the ``frr`` user (keeping the capabilities they need); their
    directory is outside the lab directory (mode 0700, root's) and owned by frr.
    """

    ZEBRA = "/usr/lib/frr/zebra"
    VRRPD = "/usr/lib/frr/vrrpd"

    def __init__(self, lab: Lab, host: str, vrrpd_conf: str, *, name: str | None = None) -> None:
        self.lab = lab
        self.host = host
        self.name = name or f"frr-{host}"
        # Named like the lab's directory, so that a killed run's leftovers are found.
        self.dir = Path(tempfile.mkdtemp(prefix=f"{lab.prefix}lab-{self.name}-"))
        lab.on_close(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        shutil.chown(self.dir, "frr", "frr")
        (self.dir / "zebra.conf").write_text(f"hostname {host}\n")
        (self.dir / "vrrpd.conf").write_text(vrrpd_conf)
        for path in self.dir.iterdir():
            shutil.chown(path, "frr", "frr")
        self.zebra: LabProcess | None = None
        self.vrrpd_runs: list[LabProcess] = []

    def _daemon(self, binary: str, daemon: str, log_name: str) -> LabProcess:
        d = self.dir
        return self.lab.popen(
            self.host,
            binary,
            "-u", "frr", "-g", "frr",
            "--vty_socket", str(d),
            "-i", str(d / f"{daemon}.pid"),
            "-z", str(d / "zserv.api"),
            "-f", str(d / f"{daemon}.conf"),
            "-P", "0",  # no TCP vty
            "--log", "stdout",
            "--log-level", "info",
            log_name=log_name,
        )  # fmt: skip

    def start(self) -> Frr:
        self.zebra = self._daemon(self.ZEBRA, "zebra", f"{self.name}-zebra.log")
        poll(
            lambda: (self.dir / "zserv.api").exists() or not self.zebra.alive(),
            10,
            message=lambda: f"zebra made no socket\n{self.report()}",
        )
        assert self.zebra.alive(), f"zebra exited\n{self.report()}"
        return self.start_vrrpd()

    def start_vrrpd(self) -> Frr:
        run = len(self.vrrpd_runs) + 1
        self.vrrpd_runs.append(self._daemon(self.VRRPD, "vrrpd", f"{self.name}-vrrpd-{run}.log"))
        return self

    def stop_vrrpd(self) -> int | None:
        return self.vrrpd_runs[-1].stop() if self.vrrpd_runs else None

    def vtysh(self, command: str) -> subprocess.CompletedProcess:
        return self.lab.run(
            self.host, "vtysh", "--vty_socket", str(self.dir), "-c", command, check=False
        )

    def show_vrrp(self) -> list[dict[str, Any]]:
        done = self.vtysh("show vrrp json")
        if done.returncode != 0 or not done.stdout.strip():
            return []
        try:
            return json.loads(done.stdout)
        except ValueError:
            return []

    def state(self, vrid: int = 1, family: str = "v4") -> str | None:
        """Master, Backup, Initialize (FRR's names), None while vrrpd does not answer."""
        if not self.vrrpd_runs or not self.vrrpd_runs[-1].alive():
            return None
        for entry in self.show_vrrp():
            if entry.get("vrid") == vrid:
                return entry[family]["status"]
        return None

    def report(self) -> str:
        parts = [f"=== {self.name} in {self.host} (dir {self.dir})"]
        if self.zebra is not None:
            parts.append(f"--- zebra ({'running' if self.zebra.alive() else 'exited'})")
            parts.append(self.zebra.log()[-4000:])
        for n, run in enumerate(self.vrrpd_runs, 1):
            parts.append(f"--- vrrpd run {n} ({'running' if run.alive() else 'exited'})")
            parts.append(run.log()[-6000:])
        if self.vrrpd_runs and self.vrrpd_runs[-1].alive():
            parts.append(f"--- show vrrp\n{self.vtysh('show vrrp').stdout}")
        return "\n".join(parts)


class KeepalivedReport:
    """Adapts lab's ``Keepalived`` to the fleet's reports."""

    def __init__(self, keepalived: Keepalived) -> None:
        self.keepalived = keepalived
        self.name = keepalived.name

    def report(self) -> str:
        return f"=== {self.keepalived.report()}"


class Fleet:
    """The daemons of one test, for waits whose failure shows every log."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.members: list[Reporting] = []
        self.by_host: dict[str, Routerhad] = {}

    def routerhad(
        self,
        host: str,
        groups: dict[str, dict[str, Any]],
        *,
        sync_groups: dict[str, Any] | None = None,
        start: bool = True,
    ) -> Routerhad:
        daemon = Routerhad(self.lab, host, config(groups, sync_groups))
        self.members.append(daemon)
        self.by_host[host] = daemon
        return daemon.start() if start else daemon

    def __getitem__(self, host: str) -> Routerhad:
        return self.by_host[host]

    def add(self, member: Reporting) -> None:
        self.members.append(member)

    def report(self) -> str:
        return "\n".join(m.report() for m in self.members)

    def wait(
        self, predicate: Callable[[], T], what: str | Callable[[], str], timeout: float = 5.0
    ) -> T:
        """``poll`` whose failure message (``what``, or what it returns then) carries
        every daemon's log."""

        def describe() -> str:
            return what() if callable(what) else what

        def check() -> T:
            for member in self.members:
                if (
                    isinstance(member, Routerhad)
                    and member.runs
                    and not member.alive()
                    and member.process.popen.returncode not in (0, -15)
                ):
                    raise AssertionError(f"{member.name} died: {describe()}\n{self.report()}")
            return predicate()

        return poll(check, timeout, message=lambda: f"{describe()}\n{self.report()}")

    def states(self, group_name: str = GROUP) -> dict[str, str | None]:
        return {host: d.state(group_name) for host, d in self.by_host.items()}

    def wait_states(
        self, wanted: dict[str, str], group_name: str = GROUP, timeout: float = 5.0
    ) -> float:
        """Wait until each host's routerhad has ``group_name`` in the wanted state;
        return the seconds it took."""
        start = time.monotonic()
        last: dict[str, str | None] = {}

        def reached() -> bool:
            last.clear()
            last.update({h: self.by_host[h].state(group_name) for h in wanted})
            return last == wanted

        self.wait(
            reached, lambda: f"{group_name}: wanted {wanted}, last seen {last}", timeout=timeout
        )
        return time.monotonic() - start

    def wait_master(
        self, host: str, address: str, group_name: str = GROUP, timeout: float = 3.0
    ) -> None:
        """Wait until ``host``'s routerhad names ``address`` as the master of the group
        (a backup that has just started knows no master until the first advert)."""
        daemon = self.by_host[host]
        self.wait(
            lambda: (daemon.group(group_name) or {}).get("master_address") == address,
            lambda: f"{host}: {group_name}'s master is not {address}: {daemon.group(group_name)}",
            timeout=timeout,
        )

    def hold(self, wanted: dict[str, str], seconds: float, group_name: str = GROUP) -> None:
        """Assert that the states stay as wanted for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = {h: self.by_host[h].state(group_name) for h in wanted}
            assert now == wanted, (
                f"{group_name}: wanted {wanted} to hold, saw {now}\n{self.report()}"
            )
            time.sleep(0.05)


# Host inspection ---------------------------------------------------------------------


def host_addresses(lab: Lab, host: str) -> dict[str, list[str]]:
    """Every address of ``host`` by interface (``10.9.0.100/24``), VIPs included."""
    out = lab.ip(host, "-o", "addr", "show").stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        match = re.match(r"\d+:\s+(\S+?)(?:@\S+)?\s+inet6?\s+(\S+)", line)
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def has_address(lab: Lab, host: str, address: str) -> bool:
    return any(address in addresses for addresses in host_addresses(lab, host).values())


def pings(lab: Lab, host: str, address: str, wait: float = 0.5) -> bool:
    """One ICMP echo from ``host`` to ``address`` answered within ``wait`` seconds."""
    done = lab.run(host, "ping", "-n", "-c1", f"-W{wait}", address, check=False)
    return done.returncode == 0


def neighbours(lab: Lab, host: str) -> dict[str, str]:
    """``ip neigh`` of ``host``: address -> link-layer address (entries with one)."""
    out = lab.ip(host, "neigh", "show").stdout
    return {
        m.group(1): m.group(2).lower()
        for m in re.finditer(r"^(\S+) dev \S+ lladdr (\S+)", out, re.MULTILINE)
    }
