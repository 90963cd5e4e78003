"""A network-namespace lab: hosts on Linux bridges, all on this machine, as root.

::

    with Lab() as lab:
        lab.add_host("r1", "10.9.0.1/24")             # namespace rh<pid>-<n>-r1, eth0 on "lan"
        lab.add_host("r2", "10.9.0.2/24", "fd00:9::2/64")
        lab.add_host("r1", "10.8.0.1/24", segment="wan", ifname="eth1")  # a second segment
        lab.run("r1", "ping", "-c1", "10.9.0.2")    # CompletedProcess, raises LabError on failure
        proc = lab.popen("r2", "some-daemon", "-f", "x.conf")  # LabProcess, log in lab.dir
        lab.cut("r1")                                # r1's bridge port(s) down: r1 vanishes
        lab.restore("r1")
        sock = lab.socket("r2", socket.AF_INET, socket.SOCK_RAW, 112)  # a socket in r2

Every name carries the pid of the process that made it (``rh<pid>-<n>-``), so
parallel runs never collide and leftovers of a killed run are recognised and removed
(``cleanup_stale``) by the next one. Teardown (leaving the ``with``, ``close()``, or
at exit) stops every process the lab started, kills whatever else still runs in its
namespaces, deletes the namespaces (which deletes their veths and bridges) and the
lab directory; it never raises, so it never hides the test's own failure.

Topology: one "switch" namespace holds a bridge per segment (``br-<segment>``,
multicast snooping off, STP off, IPv6 off so it adds no noise); each host interface
is one end of a veth pair whose other end is a port of that bridge. Hosts get
``lo`` up, IPv6 duplicate address detection off (addresses usable at once) and
deterministic MAC addresses ``02:72:68:00:HH:II`` (so link-local addresses are too).

Helpers for the VRRP tests: ``capture``/``Capture`` (raw socket in a namespace),
``vrrp_send_socket`` (raw sockets to send hand-made adverts), ``Periodic`` (call a
function every interval in a thread) and ``keepalived``/``Keepalived`` (a real peer
whose state is read from its notify FIFO).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ipaddress
import itertools
import os
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
#: Not exported by Python's socket module before 3.12 (linux/in.h).
IP_PKTINFO = 8
IPPROTO_VRRP = 112
IPPROTO_AH = 51
VRRP_GROUP_V4 = "224.0.0.18"
VRRP_GROUP_V6 = "ff02::12"

_NAME_RE = re.compile(r"^rh(\d+)-\d+-")
_LAB_COUNTER = itertools.count(1)
_STALE_CLEANED = False


class LabError(RuntimeError):
    """A lab command failed; the message carries the command and its output."""


def poll(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.02,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Call ``predicate`` until it returns something truthy; return that.

    Raises AssertionError with ``message`` (a string or a function making one, so a
    log can be read at the moment of failure) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout} s: {text}")
        time.sleep(interval)


# Entering a namespace from a thread ------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
    elif _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def in_netns(namespace: str, function: Callable[[], T]) -> T:
    """Run ``function`` in a fresh thread that has entered network namespace ``namespace``.

    The network namespace is per thread in Linux, so the rest of the process stays
    where it is. Sockets made by ``function`` stay in ``namespace`` for their whole
    life and may be used from any thread afterwards.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                target = os.open(NETNS_DIR / namespace, os.O_RDONLY)
                try:
                    _setns(target)
                    try:
                        result["value"] = function()
                    finally:
                        _setns(home)  # the thread ends anyway; be tidy
                finally:
                    os.close(target)
            finally:
                os.close(home)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


# Processes -------------------------------------------------------------------------


@dataclass
class LabProcess:
    """A process started in a namespace; its stdout and stderr go to ``log_path``."""

    host: str
    args: list[str]
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal(self, signum: int) -> None:
        """Signal the process group (the process and whatever it forked).

        Only while the process is unreaped, so its pid (the group id) is surely ours.
        """
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 3.0) -> int | None:
        """SIGTERM the group, wait up to ``timeout`` s, then SIGKILL it. The exit code.

        Children that outlive it are killed with the namespace at teardown.
        """
        self.signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.popen.wait(timeout)
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.popen.wait(5.0)
        return None


# The lab ---------------------------------------------------------------------------


@dataclass
class Interface:
    host: str
    name: str
    segment: str
    port: str  # the bridge port in the switch namespace
    mac: str
    addresses: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = field(default_factory=list)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ns_pids(namespace: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split() if p.isdigit()]


def _kill_netns(namespace: str) -> None:
    """SIGKILL every process left in ``namespace`` (by pid), then delete it."""
    for _ in range(50):
        pids = [p for p in _ns_pids(namespace) if p != os.getpid()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def cleanup_stale() -> list[str]:
    """Remove what earlier lab runs left behind when their process died.

    Only names of this harness's form (``rh<pid>-<n>-...``) whose pid is dead are
    touched: their namespaces (leftover processes in them are killed by pid) and
    their lab directories. Returns the namespaces removed.
    """
    removed = []
    if NETNS_DIR.is_dir():
        for entry in sorted(NETNS_DIR.iterdir()):
            match = _NAME_RE.match(entry.name)
            if match and not _pid_alive(int(match.group(1))):
                _kill_netns(entry.name)
                removed.append(entry.name)
    for entry in Path(tempfile.gettempdir()).glob("rh*-lab-*"):
        match = _NAME_RE.match(entry.name)
        if match and entry.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
    return removed


def netns_available() -> tuple[bool, str]:
    """Whether this machine can run the lab, and why not."""
    if os.geteuid() != 0:
        return False, "network-namespace lab tests need root"
    if shutil.which("ip") is None:
        return False, "iproute2 (`ip`) is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return False, f"`ip netns` is unavailable: {probe.stderr.strip()}"
    return True, ""


class Lab:
    """Namespaces, bridges and processes, all removed on ``close()``. See the module doc."""

    SWITCH = "sw"

    def __init__(self, *, keep_dir: bool | None = None) -> None:
        self.prefix = f"rh{os.getpid()}-{next(_LAB_COUNTER)}-"
        self.dir = Path(tempfile.mkdtemp(prefix=self.prefix + "lab-"))
        #: Keep the directory (configs, logs) after close: RH_LAB_KEEP=1 in the environment.
        self.keep_dir = os.environ.get("RH_LAB_KEEP") == "1" if keep_dir is None else keep_dir
        self.hosts: dict[str, list[Interface]] = {}
        self.segments: set[str] = set()
        self.processes: list[LabProcess] = []
        self._namespaces: list[str] = []
        self._switch_ready = False
        self._closed = False
        self._cleanups: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        atexit.register(self.close)

    # Context manager

    def __enter__(self) -> Lab:
        global _STALE_CLEANED  # noqa: PLW0603 - once per process
        if not _STALE_CLEANED:
            _STALE_CLEANED = True
            cleanup_stale()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def on_close(self, function: Callable[[], object]) -> None:
        """Call ``function`` at teardown, after the processes stopped (errors ignored)."""
        self._cleanups.append(function)

    # Names

    def ns(self, host: str) -> str:
        """The namespace name of ``host`` (``Lab.SWITCH`` is the switch)."""
        return self.prefix + host

    # Building

    def _create_namespace(self, name: str) -> None:
        namespace = self.ns(name)
        _ip("netns", "add", namespace)
        self._namespaces.append(namespace)
        _ip("-n", namespace, "link", "set", "lo", "up")

    def _ensure_switch(self) -> None:
        if self._switch_ready:
            return
        self._create_namespace(self.SWITCH)
        self.sysctl(self.SWITCH, "net.ipv6.conf.all.disable_ipv6", "1")
        self.sysctl(self.SWITCH, "net.ipv6.conf.default.disable_ipv6", "1")
        self._switch_ready = True

    def _ensure_segment(self, segment: str) -> str:
        bridge = f"br-{segment}"
        if len(bridge) > 15 or not re.fullmatch(r"[A-Za-z0-9_]+", segment):
            raise ValueError(f"segment name {segment!r}: letters, digits, _; at most 12")
        self._ensure_switch()
        if segment not in self.segments:
            sw = self.ns(self.SWITCH)
            _ip("-n", sw, "link", "add", bridge, "type", "bridge", "stp_state", "0")
            _ip("-n", sw, "link", "set", bridge, "type", "bridge", "mcast_snooping", "0")
            _ip("-n", sw, "link", "set", bridge, "up")
            self.segments.add(segment)
        return bridge

    def add_host(
        self, name: str, *addresses: str, segment: str = "lan", ifname: str = "eth0"
    ) -> Interface:
        """Create host ``name`` (once) and connect ``ifname`` to ``segment`` with ``addresses``.

        Call again with another ``ifname`` and ``segment`` for a second interface.
        """
        if name == self.SWITCH or not re.fullmatch(r"[A-Za-z0-9_]{1,12}", name):
            raise ValueError(f"host name {name!r}: 1-12 letters, digits, _; not {self.SWITCH!r}")
        bridge = self._ensure_segment(segment)
        if name not in self.hosts:
            self._create_namespace(name)
            self.hosts[name] = []
            for scope in ("all", "default"):
                self.sysctl(name, f"net.ipv6.conf.{scope}.accept_dad", "0")
                self.sysctl(name, f"net.ipv6.conf.{scope}.dad_transmits", "0")
        if any(i.name == ifname for i in self.hosts[name]):
            raise ValueError(f"{name} already has {ifname}")
        host_index = list(self.hosts).index(name) + 1
        if_index = len(self.hosts[name])
        port = f"{name}.{ifname}"
        if len(port) > 15:
            port = f"p{host_index}.{if_index}"
        mac = f"02:72:68:00:{host_index:02x}:{if_index:02x}"
        sw, namespace = self.ns(self.SWITCH), self.ns(name)
        _ip(
            "-n",
            sw,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            namespace,
        )
        _ip("-n", sw, "link", "set", port, "master", bridge, "up")
        _ip("-n", namespace, "link", "set", ifname, "address", mac, "up")
        interface = Interface(name, ifname, segment, port, mac)
        self.hosts[name].append(interface)
        for address in addresses:
            self.add_address(name, address, ifname=ifname)
        return interface

    def add_address(self, host: str, address: str, *, ifname: str = "eth0") -> None:
        parsed = ipaddress.ip_interface(address)
        extra = ["nodad"] if parsed.version == 6 else []
        _ip("-n", self.ns(host), "addr", "add", str(parsed), "dev", ifname, *extra)
        self.interface(host, ifname).addresses.append(parsed)

    def interface(self, host: str, ifname: str = "eth0") -> Interface:
        for interface in self.hosts[host]:
            if interface.name == ifname:
                return interface
        raise KeyError(f"{host} has no {ifname}")

    def sysctl(self, host: str, key: str, value: str) -> None:
        """Set a sysctl of ``host``'s namespace (net.* keys are per namespace)."""
        path = Path("/proc/sys") / key.replace(".", "/")
        in_netns(self.ns(host), lambda: path.write_text(f"{value}\n"))

    # Inspecting

    def ifindex(self, host: str, ifname: str = "eth0") -> int:
        return in_netns(self.ns(host), lambda: socket.if_nametoindex(ifname))

    def link_local(
        self, host: str, ifname: str = "eth0", timeout: float = 3.0
    ) -> ipaddress.IPv6Address:
        """The IPv6 link-local address of ``ifname`` (waits until the kernel made it)."""

        def find() -> ipaddress.IPv6Address | None:
            out = self.ip(host, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link").stdout
            found = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", out)
            return ipaddress.IPv6Address(found.group(1)) if found else None

        return poll(find, timeout, message=f"{host} {ifname} has no link-local address")

    def addresses(self, host: str, ifname: str = "eth0") -> list[str]:
        """The addresses on ``ifname`` now, as ``a.b.c.d/len`` strings (VIPs included)."""
        out = self.ip(host, "-o", "addr", "show", "dev", ifname).stdout
        return re.findall(r"inet6? (\S+)", out)

    # Running things

    def ip(self, host: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``ip -n NS ARGS`` (faster than ``run(host, "ip", ...)``)."""
        return _ip("-n", self.ns(host), *args, check=check)

    def run(
        self,
        host: str,
        *cmd: str,
        check: bool = True,
        timeout: float = 30.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``cmd`` in ``host`` to completion; text output. LabError if it fails."""
        args = ["ip", "netns", "exec", self.ns(host), *cmd]
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout, input=input, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{host}: {shlex.join(cmd)} timed out after {timeout} s") from exc
        if check and done.returncode != 0:
            raise LabError(
                f"{host}: {shlex.join(cmd)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def popen(self, host: str, *cmd: str, log_name: str | None = None, **kwargs: Any) -> LabProcess:
        """Start ``cmd`` in ``host`` in its own process group; stdout+stderr to a log file.

        The lab stops it at teardown (SIGTERM, then SIGKILL); ``LabProcess.stop`` does
        so earlier. Extra keyword arguments go to ``subprocess.Popen``.
        """
        with self._lock:
            number = len(self.processes) + 1
        name = log_name or f"{host}-{Path(cmd[0]).name}-{number}.log"
        log_path = self.dir / name
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(host), *cmd],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,
            )
        process = LabProcess(host, list(cmd), popen, log_path)
        with self._lock:
            self.processes.append(process)
        return process

    def socket(self, host: str, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket living in ``host``'s namespace (the caller closes it)."""
        return in_netns(self.ns(host), lambda: socket.socket(family, kind, proto))

    # Failures

    def _ports(self, host: str, ifname: str | None) -> list[str]:
        return [i.port for i in self.hosts[host] if ifname is None or i.name == ifname]

    def cut(self, host: str, ifname: str | None = None, *, keep_carrier: bool = False) -> None:
        """Disconnect ``host`` (or only its ``ifname``) from its segment(s).

        By default the bridge port goes down: the others see a power cut and the host
        sees its link (carrier) go down. With ``keep_carrier`` the port stays up but
        stops forwarding (bridge port state disabled): the host sees nothing, only
        silence (a broken switch, a partition).
        """
        for port in self._ports(host, ifname):
            if keep_carrier:
                _run(
                    ["bridge", "-n", self.ns(self.SWITCH), "link", "set", "dev", port, "state", "0"]
                )
            else:
                self.ip(self.SWITCH, "link", "set", port, "down")

    def restore(self, host: str, ifname: str | None = None) -> None:
        """Undo ``cut``: the port up and forwarding again."""
        for port in self._ports(host, ifname):
            self.ip(self.SWITCH, "link", "set", port, "up")
            _run(["bridge", "-n", self.ns(self.SWITCH), "link", "set", "dev", port, "state", "3"])

    # Diagnostics and teardown

    def describe(self, log_lines: int = 60) -> str:
        """Addresses of every host and the tail of every process log, for failure reports."""
        parts = []
        for host in self.hosts:
            out = self.ip(host, "-br", "addr", check=False).stdout
            parts.append(f"--- {host} ({self.ns(host)})\n{out.rstrip()}")
        for process in self.processes:
            state = "running" if process.alive() else f"exited {process.popen.returncode}"
            tail = "\n".join(process.log().splitlines()[-log_lines:])
            parts.append(f"--- {process.host}: {shlex.join(process.args)} ({state})\n{tail}")
        return "\n".join(parts)

    def close(self) -> None:
        """Stop every process, delete every namespace and the lab directory. Never raises."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        for process in self.processes:  # all asked at once, so their shutdowns overlap
            if process.alive():
                process.signal(signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.stop(max(0.0, deadline - time.monotonic()))
        for function in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                function()
        for namespace in reversed(self._namespaces):
            with contextlib.suppress(Exception):
                _kill_netns(namespace)
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise LabError(f"{shlex.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", *args], check=check)


# Raw sockets for VRRP ----------------------------------------------------------------


@dataclass(frozen=True)
class Datagram:
    """One packet from a raw socket.

    ``data`` is what the socket delivered: for IPv4 the whole datagram, IP header
    (and AH) included; for IPv6 only the payload (the VRRP message), with source,
    destination and hop limit taken from the ancillary data.
    """

    data: bytes
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    hop_limit: int
    ifindex: int
    time: float


class Capture:
    """A raw socket in ``host`` receiving IP protocol ``proto`` on ``ifname``.

    It listens from construction on, so make it before whatever should be captured.
    Joins ``groups`` on the interface (default: the VRRP group of the family for
    protocols 112 and 51). Use as a context manager or ``close()`` it.
    """

    def __init__(
        self,
        lab: Lab,
        host: str,
        proto: int = IPPROTO_VRRP,
        *,
        family: int = socket.AF_INET,
        ifname: str = "eth0",
        groups: tuple[str, ...] | None = None,
    ) -> None:
        if groups is None:
            vrrp = proto in (IPPROTO_VRRP, IPPROTO_AH)
            groups = (
                ((VRRP_GROUP_V6 if family == socket.AF_INET6 else VRRP_GROUP_V4),) if vrrp else ()
            )
        self.family = family
        self.ifindex = lab.ifindex(host, ifname)
        self.sock = lab.socket(host, family, socket.SOCK_RAW, proto)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            if family == socket.AF_INET6:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                for group in groups:
                    mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack(
                        "@I", self.ifindex
                    )
                    self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
            else:
                self.sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                for group in groups:
                    mreqn = struct.pack("@4s4si", socket.inet_aton(group), bytes(4), self.ifindex)
                    self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def receive(self, timeout: float) -> Datagram | None:
        """The next datagram, or None after ``timeout`` seconds."""
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None
        data, ancillary, _flags, address = self.sock.recvmsg(65535, 256)
        now = time.monotonic()
        if self.family == socket.AF_INET6:
            hop_limit, ifindex, dst = -1, 0, ipaddress.IPv6Address(0)
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT:
                    hop_limit = struct.unpack("@i", value[:4])[0]
                elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                    dst = ipaddress.IPv6Address(value[:16])
                    ifindex = struct.unpack("@I", value[16:20])[0]
            src = ipaddress.IPv6Address(address[0].split("%")[0])
            return Datagram(data, src, dst, hop_limit, ifindex, now)
        ifindex = 0
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                ifindex = struct.unpack("@i", value[:4])[0]
        return Datagram(
            data,
            ipaddress.IPv4Address(data[12:16]),
            ipaddress.IPv4Address(data[16:20]),
            data[8],
            ifindex,
            now,
        )

    def collect(
        self,
        count: int,
        timeout: float,
        *,
        match: Callable[[Datagram], bool] | None = None,
    ) -> list[Datagram]:
        """Up to ``count`` datagrams (those ``match`` accepts) within ``timeout`` s.

        Returns fewer when time runs out: assert on the length, with a log.
        """
        found: list[Datagram] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            datagram = self.receive(deadline - time.monotonic())
            if datagram is None:
                break
            if match is None or match(datagram):
                found.append(datagram)
        return found


def capture(
    lab: Lab,
    host: str,
    proto: int = IPPROTO_VRRP,
    count: int = 1,
    timeout: float = 5.0,
    *,
    family: int = socket.AF_INET,
    ifname: str = "eth0",
    match: Callable[[Datagram], bool] | None = None,
) -> list[Datagram]:
    """Open a ``Capture``, collect up to ``count`` datagrams within ``timeout`` s, close it."""
    with Capture(lab, host, proto, family=family, ifname=ifname) as cap:
        return cap.collect(count, timeout, match=match)


def vrrp_send_socket(lab: Lab, host: str, family: int, ifname: str = "eth0") -> socket.socket:
    """A raw socket in ``host`` that sends on ``ifname`` with TTL / hop limit 255.

    IPv4: ``IPPROTO_RAW`` with ``IP_HDRINCL``, so the caller writes the whole datagram
    (header and AH included) and sends it with ``sendto(data, (dst, 0))``.
    IPv6: protocol 112, bound to the interface's link-local address; the caller sends
    the VRRP message with ``sendto(message, ("ff02::12", 0, 0, ifindex))``.
    """
    ifindex = lab.ifindex(host, ifname)
    if family == socket.AF_INET6:
        source = lab.link_local(host, ifname)
        sock = lab.socket(host, socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            sock.bind((str(source), 0, 0, ifindex))
        except BaseException:
            sock.close()
            raise
        return sock
    sock = lab.socket(host, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        sock.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_MULTICAST_IF,
            struct.pack("@4s4si", bytes(4), bytes(4), ifindex),
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    except BaseException:
        sock.close()
        raise
    return sock


class Periodic:
    """Call ``function`` now and then every ``interval`` seconds in a thread, until stopped.

    Exceptions end the thread and are re-raised by ``stop()``. ``calls`` counts the
    calls made. A context manager.
    """

    def __init__(self, interval: float, function: Callable[[], object]) -> None:
        self.interval = interval
        self.function = function
        self.calls = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="periodic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_time = time.monotonic()
        try:
            while not self._stop.is_set():
                self.function()
                self.calls += 1
                next_time += self.interval
                self._stop.wait(max(0.0, next_time - time.monotonic()))
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def __enter__(self) -> Periodic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# keepalived ------------------------------------------------------------------------


class Keepalived:
    """keepalived in a lab host, with its own config, pid files and log.

    Its state is read from its notify FIFO (``global_defs { notify_fifo ... }`` is
    added to the configuration given): keepalived writes one ordered line per
    transition, ``INSTANCE "VI_1" MASTER 200``, which ``state``/``wait_state`` read.
    """

    def __init__(self, lab: Lab, host: str, config_text: str, *, name: str | None = None) -> None:
        if shutil.which("keepalived") is None:
            raise LabError("keepalived is not installed (apt-get install keepalived)")
        self.lab = lab
        self.host = host
        self.name = name or f"keepalived-{host}"
        self.dir = lab.dir / self.name
        self.dir.mkdir()
        self.fifo = self.dir / "notify.fifo"
        os.mkfifo(self.fifo, 0o600)
        # Read-write: we are a writer too, so the FIFO never reports end-of-file and
        # keepalived's open for writing never fails for want of a reader.
        self._fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        self._partial = b""
        self.events: list[tuple[str, str, str]] = []  # (INSTANCE|GROUP, name, state)
        self.conf = self.dir / "keepalived.conf"
        self.conf.write_text(f"global_defs {{\n    notify_fifo {self.fifo}\n}}\n\n{config_text}")
        self.process: LabProcess | None = None
        lab.on_close(self._close_fifo)

    def start(self) -> Keepalived:
        d = self.dir
        self.process = self.lab.popen(
            self.host,
            "keepalived",
            "-n",  # foreground
            "-l",  # log to the console (our log file)
            "-D",  # detailed
            "-G",  # no syslog
            "-f", str(self.conf),
            "-p", str(d / "keepalived.pid"),
            "-r", str(d / "vrrp.pid"),
            "-c", str(d / "checkers.pid"),
            log_name=f"{self.name}.log",
        )  # fmt: skip
        return self

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def _drain(self) -> None:
        while self._fd >= 0:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                words = shlex.split(line.decode(errors="replace"))
                if len(words) >= 3:
                    self.events.append((words[0], words[1], words[2]))

    #: What keepalived's notify FIFO reports as states; it also reports events
    #: such as MASTER_RX_LOWER_PRI (a master heard a lower priority), which are not.
    STATES = frozenset({"BACKUP", "MASTER", "FAULT", "STOP"})

    def states(self, instance: str) -> list[str]:
        """Every state ``instance`` entered so far, in order (BACKUP, MASTER, FAULT, STOP)."""
        self._drain()
        return [
            state
            for kind, name, state in self.events
            if kind == "INSTANCE" and name == instance and state in self.STATES
        ]

    def state(self, instance: str) -> str | None:
        """The state ``instance`` is in now, None before its first transition."""
        states = self.states(instance)
        return states[-1] if states else None

    def report(self, instance: str | None = None) -> str:
        """State history and log, for an assertion message."""
        history = self.states(instance) if instance else self.events
        status = "running" if self.process and self.process.alive() else "not running"
        return f"{self.name} ({status}) history {history}\n--- log:\n{self.log()}"

    def wait_state(self, instance: str, state: str, timeout: float = 5.0) -> float:
        """Wait until ``instance`` is in ``state``; return the seconds it took."""
        start = time.monotonic()

        def reached() -> bool:
            if self.process is not None and not self.process.alive():
                raise AssertionError(
                    f"keepalived exited while waiting for {state}\n{self.report()}"
                )
            return self.state(instance) == state

        poll(reached, timeout, message=lambda: f"{instance} not {state}\n{self.report(instance)}")
        return time.monotonic() - start

    def wait_log(self, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        """Wait until the log matches the regular expression ``pattern``."""
        return poll(
            lambda: re.search(pattern, self.log()),
            timeout,
            message=lambda: f"log never matched {pattern!r}\n{self.report()}",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def _close_fifo(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def keepalived(lab: Lab, host: str, config_text: str, *, name: str | None = None) -> Keepalived:
    """Start keepalived in ``host`` with ``config_text`` (vrrp_instance blocks and so on)."""
    return Keepalived(lab, host, config_text, name=name).start()


def keepalived_instance(
    name: str,
    *,
    vrid: int,
    priority: int,
    addresses: list[str],
    interface: str = "eth0",
    version: int = 2,
    advert_int: float = 1,
    auth_type: str | None = None,
    auth_pass: str | None = None,
    state: str = "BACKUP",
    extra: str = "",
) -> str:
    """One keepalived ``vrrp_instance`` block (``auth_type`` PASS or AH, VRRPv2 only)."""
    auth = ""
    if auth_type is not None:
        auth = f"    authentication {{\n        auth_type {auth_type}\n        auth_pass {auth_pass}\n    }}\n"
    vips = "".join(f"        {a}\n" for a in addresses)
    return (
        f"vrrp_instance {name} {{\n"
        f"    state {state}\n"
        f"    interface {interface}\n"
        f"    virtual_router_id {vrid}\n"
        f"    version {version}\n"
        f"    priority {priority}\n"
        f"    advert_int {advert_int:g}\n"
        f"{auth}"
        f"    virtual_ipaddress {{\n{vips}    }}\n"
        f"{extra}"
        f"}}\n"
    )
