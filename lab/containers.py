"""Router hosts in podman containers with systemd inside, managed by Ansible over SSH.

::

    python -m lab.containers create default [--inventory PATH]   # up (or already up), writes inventory
    python -m lab.containers status default                      # exit 0 healthy, 1 half-made, 3 absent
    python -m lab.containers destroy default                     # safe when nothing exists
    python -m lab.containers image [--rebuild]                   # the base image (built when missing)

    from lab import containers
    inventory = containers.create("default")        # Path of the Ansible inventory
    containers.exec("default", "r1", "ping", "-c1", "10.1.1.2")  # CompletedProcess
    containers.cut("default", "r1", "lan")          # r1's bridge port on lan down
    containers.restore("default", "r1", "lan")
    containers.destroy("default")

A topology (``lab/topologies/<name>.yml``, or a path) names a prefix, a management
subnet, L2 segments and containers, each with its interfaces (``eth1``... on a
segment, with addresses) and routes; a router may be an ``appliance`` (below). Each
container boots systemd from the image
``localhost/routerha-node:bookworm-admin`` (Debian minbase + systemd, sshd, sudo,
python3, iproute2, nftables, conntrack; debootstrapped from the host's apt mirror
and imported once, no registry needed), so Ansible finds a host as it would find a
production router: an admin user (``routerha-admin``) that logs in over SSH with a
key and escalates with sudo, Python 3, systemd. sshd refuses root. The image's tag
names what it holds: an image cached by an older lab (root logins) is never used.

The inventory reaches every host with ``ansible.builtin.ssh`` (OpenSSH) as its admin
user, with the lab's key; Linux routers get ``ansible_become: true`` (sudo), clients
none. Host keys are checked: each container makes its own at first boot, and the lab
reads them from inside the container (not over the network) into ``known_hosts``
beside the inventory, which the inventory's ssh options point at. SSH multiplexing
(ControlPersist) sockets live in a directory named after those keys, so a new
container at an old address never meets an old connection.

Networking is plumbed here, not by podman (containers run with ``--network none``):
a "switch" network namespace ``<prefix>-sw`` holds one Linux bridge per segment
(``br-<segment>``, multicast snooping and STP off, so VRRP's 224.0.0.18 and ff02::12
cross at once) plus ``br-mgmt``; every container interface is a veth whose switch end
is the bridge port ``<container>-<ifname>`` (``cut``/``restore`` set it down/up). The
host reaches the management segment through the veth ``<prefix>-mgmt`` (the last
address of the management subnet); containers get eth0 there, addresses from the
first one up in the order listed. Keeping the bridges out of the host namespace keeps
them out of the host's firewall, ``bridge-nf-call-iptables`` and conntrack.

The veths are added between ``podman init`` and ``podman start``: interfaces exist
before systemd boots, as on a real machine. ``/proc/sys/net`` is made writable inside
(runc mounts ``/proc/sys`` read-only; ``net.*`` is per network namespace, so the
Ansible roles can set sysctls as in production, while ``kernel.*`` stays read-only).
Routers start with ``net.ipv4.ip_forward=1`` and ``net.netfilter.nf_conntrack_events=1``.

A router with ``appliance: vyos-1.4`` or ``appliance: edgeos-2`` (lab/topologies/
appliance.yml) is, once booted, laid out like that platform for the roles that deploy
to it: lab/appliance/ is copied in (``podman cp``) and its layout.py run inside (os-release
and version files, /config with config.boot and the boot hooks, fake configuration
wrappers under /opt/vyatta, a stand-in boot unit; on edgeos-2 a Python that says 3.5
and runs nothing). It is not VyOS or EdgeOS: the fake wrappers only keep the
configuration (lab/appliance/fake_wrapper.py). The inventory gives such hosts
``lab_appliance: KIND`` and, for edgeos-2, no ``ansible_python_interpreter`` (Ansible's
Python modules fail there, as on EdgeOS). Ansible logs in there as the platform's
admin user (``vyos``, ``ubnt``; in group ``vyattacfg``, with sudo), whose
configuration sessions run without become, as on the platforms. VyOS hosts get
``ansible_become: true`` (routerhad's installation needs root; the roles' configuration
sessions say ``become: false``); EdgeOS hosts, on the platform's own VRRP only, none.
Status checks the layout is in place.

Every podman call runs as root with ``--runtime runc --cgroup-manager cgroupfs`` and
``CONTAINERS_CONF=lab/containers.conf``: crun refuses these machines' hybrid cgroups,
and they lack CAP_SYS_RESOURCE for podman's default ulimits. The state
directory (``ROUTERHA_LAB_STATE``, default ``/var/lib/routerha-lab``) holds the SSH
key pair, the image build's scratch directory while it runs, per topology its
inventory, known_hosts and SSH multiplexing directory (``cp-<hash of the host keys>``),
and the locks that serialise concurrent calls.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from lab.appliance import layout

HERE = Path(__file__).resolve().parent
APPLIANCE_DIR = HERE / "appliance"
#: ``appliance:`` kinds (lab/appliance/layout.py); edgeos-2 (the vyatta syntax) hides
#: Python from Ansible.
APPLIANCES = tuple(layout.KINDS)
NO_PYTHON_APPLIANCES = tuple(name for name, kind in layout.KINDS.items() if kind.syntax == "vyatta")
#: Inside an appliance container: what layout.py installs, and where it is staged.
APPLIANCE_HOME = "/" + layout.INSTALL
APPLIANCE_WRAPPER = "/" + layout.CFG_WRAPPER
APPLIANCE_STAGING = "/var/tmp/routerha-appliance"
TOPOLOGIES = HERE / "topologies"
CONTAINERS_CONF = HERE / "containers.conf"
#: The tag says what the image holds beyond Debian: a new one whenever that changes,
#: so that an image cached by an older lab is not taken for this one.
IMAGE = "localhost/routerha-node:bookworm-admin"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: What debootstrap installs (minbase) into the image. No pip, no pyroute2: the
#: Ansible roles ship the daemon.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "openssh-server",
    "python3",
    "iproute2",
    "dbus",
    "nftables",
    "conntrack",
    "iputils-ping",
    "procps",
    "tar",
    "gzip",
    "ca-certificates",
    "sudo",
)
#: The Linux hosts' login: an admin user with the lab's key, escalating with sudo.
ADMIN = "routerha-admin"
ADMIN_UID = 1000
#: Units that only add noise (or try to reach the network) in a lab container.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
)
HOST_KEYS = (
    ("ed25519", "/etc/ssh/ssh_host_ed25519_key"),
    ("ecdsa", "/etc/ssh/ssh_host_ecdsa_key"),
)
PODMAN = ("podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs")
LABEL = "routerha-lab"
ROUTER_SYSCTLS = ("net.ipv4.ip_forward=1", "net.netfilter.nf_conntrack_events=1")
CAPABILITIES = "NET_ADMIN,NET_RAW,SYS_NICE"
MGMT_IFNAME = "eth0"
MGMT_SEGMENT = "mgmt"
IFNAMSIZ = 15
BOOT_TIMEOUT = 90.0
CONNECTION = "ansible.builtin.ssh"
PYTHON = "/usr/bin/python3"

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_AVAILABLE: tuple[bool, str] | None = None

Address = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class LabError(RuntimeError):
    """A lab step failed; the message says which and carries the command's output."""


def say(message: str) -> None:
    """Progress for the person or playbook running the lab."""
    print(f"lab: {message}", flush=True)


# The topology ---------------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    name: str  # inside the container: eth1, eth2, ...
    segment: str
    addresses: tuple[Address, ...]
    mac: str


@dataclass(frozen=True)
class Route:
    to: str  # "default" or a prefix
    via: str


@dataclass(frozen=True)
class Container:
    name: str  # the hostname and the inventory name
    kind: str  # "router" or "client"
    groups: tuple[str, ...]
    interfaces: tuple[Interface, ...]  # eth0 (management) first
    routes: tuple[Route, ...]
    appliance: str | None = None  # one of APPLIANCES: laid out like VyOS / EdgeOS

    @property
    def mgmt(self) -> ipaddress.IPv4Interface:
        address = self.interfaces[0].addresses[0]
        assert isinstance(address, ipaddress.IPv4Interface)
        return address


@dataclass(frozen=True)
class Topology:
    name: str
    prefix: str
    management: ipaddress.IPv4Network
    segments: dict[str, tuple[Network, ...]]
    containers: dict[str, Container]
    path: Path

    @property
    def switch(self) -> str:
        """The network namespace holding the bridges."""
        return f"{self.prefix}-sw"

    @property
    def host_link(self) -> str:
        """The host's veth onto the management bridge."""
        return f"{self.prefix}-mgmt"

    @property
    def host_address(self) -> ipaddress.IPv4Interface:
        last = self.management.broadcast_address - 1
        return ipaddress.IPv4Interface(f"{last}/{self.management.prefixlen}")

    def container_name(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @staticmethod
    def bridge(segment: str) -> str:
        return f"br-{segment}"

    @staticmethod
    def port(container: str, ifname: str) -> str:
        """The switch end of a container interface's veth."""
        return f"{container}-{ifname}"

    def node(self, name: str) -> Container:
        try:
            return self.containers[name]
        except KeyError:
            known = ", ".join(self.containers)
            raise LabError(f"{self.name}: no container {name!r} (it has {known})") from None

    def groups(self) -> dict[str, list[str]]:
        """Inventory groups: routers, clients, then the topology's own, in order."""
        result: dict[str, list[str]] = {"routers": [], "clients": []}
        for container in self.containers.values():
            result["routers" if container.kind == "router" else "clients"].append(container.name)
            for group in container.groups:
                result.setdefault(group, []).append(container.name)
        return result


def topology_path(topology: str | Path) -> Path:
    """``default`` -> lab/topologies/default.yml; a path stays a path."""
    text = str(topology)
    if os.sep in text or text.endswith((".yml", ".yaml", ".json")):
        return Path(text)
    return TOPOLOGIES / f"{text}.yml"


def _parse(path: Path) -> Any:
    text = path.read_text()
    try:
        import yaml  # noqa: PLC0415 - PyYAML comes with ansible-core in the venv; only needed here
    except ImportError:
        try:
            return json.loads(text)
        except ValueError:
            raise LabError(
                f"{path}: reading YAML needs PyYAML; run the venv's python "
                "(.venv/bin/python -m lab.containers)"
            ) from None
    return yaml.safe_load(text)


def _mac(prefix: str, container_index: int, interface_index: int) -> str:
    """Locally administered, stable per topology, container and interface."""
    tag = zlib.crc32(prefix.encode()) & 0xFF
    return f"02:72:6c:{tag:02x}:{container_index:02x}:{interface_index:02x}"


class _Loader:
    """Reads one topology file, with errors that name the file and the place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str] = {}

    def fail(self, message: str) -> LabError:
        return LabError(f"{self.path}: {message}")

    def need(self, mapping: Any, key: str, context: str) -> Any:
        if not isinstance(mapping, dict) or key not in mapping:
            raise self.fail(f"{context} needs {key!r}")
        return mapping[key]

    def topology(self, data: Any) -> Topology:
        name = str(self.need(data, "name", "the topology"))
        prefix = str(self.need(data, "prefix", "the topology"))
        if not _PREFIX_RE.match(prefix):
            raise self.fail(f"prefix {prefix!r} must be 1-8 lower-case letters and digits")
        try:
            management = ipaddress.IPv4Network(str(self.need(data, "management", "the topology")))
        except ValueError as exc:
            raise self.fail(f"management: {exc}") from None
        segments: dict[str, tuple[Network, ...]] = {}
        for segment, subnets in (self.need(data, "segments", "the topology") or {}).items():
            if segment == MGMT_SEGMENT or not _NAME_RE.match(str(segment)):
                raise self.fail(f"segment name {segment!r} is reserved or not of [a-z0-9-]")
            try:
                segments[str(segment)] = tuple(ipaddress.ip_network(str(s)) for s in subnets or [])
            except ValueError as exc:
                raise self.fail(f"segment {segment}: {exc}") from None
        entries = self.need(data, "containers", "the topology") or {}
        if len(entries) > management.num_addresses - 3:
            raise self.fail(f"management {management} is too small for {len(entries)} containers")
        hosts = iter(management.hosts())
        containers: dict[str, Container] = {}
        for index, (key, spec) in enumerate(entries.items(), start=1):
            mgmt = ipaddress.IPv4Interface(f"{next(hosts)}/{management.prefixlen}")
            containers[str(key)] = self.container(str(key), spec, index, prefix, mgmt, segments)
        topo = Topology(name, prefix, management, segments, containers, self.path)
        names = [topo.host_link, *(topo.bridge(s) for s in [MGMT_SEGMENT, *segments])]
        names += [topo.port(c.name, i.name) for c in containers.values() for i in c.interfaces]
        too_long = [n for n in names if len(n) > IFNAMSIZ]
        if too_long:
            raise self.fail(f"names longer than {IFNAMSIZ} characters: {', '.join(too_long)}")
        return topo

    def container(
        self,
        name: str,
        spec: Any,
        index: int,
        prefix: str,
        mgmt: ipaddress.IPv4Interface,
        segments: dict[str, tuple[Network, ...]],
    ) -> Container:
        context = f"container {name}"
        if not _NAME_RE.match(name):
            raise self.fail(f"{context}: name must be of [a-z0-9-], starting with a letter")
        kind = str(self.need(spec, "kind", context))
        if kind not in {"router", "client"}:
            raise self.fail(f"{context}: kind must be router or client, not {kind!r}")
        interfaces = [Interface(MGMT_IFNAME, MGMT_SEGMENT, (mgmt,), _mac(prefix, index, 0))]
        specs = (self.need(spec, "interfaces", context) or {}).items()
        for position, (key, ispec) in enumerate(specs, start=1):
            ifname = str(key)
            where = f"{context} {ifname}"
            if ifname == MGMT_IFNAME or not re.match(r"^[a-z][a-z0-9]*$", ifname):
                raise self.fail(f"{where}: the name is reserved or invalid")
            segment = str(self.need(ispec, "segment", where))
            if segment not in segments:
                raise self.fail(f"{where}: unknown segment {segment!r}")
            addresses = tuple(
                self.address(text, where, name, segments[segment])
                for text in ispec.get("addresses") or []
            )
            mac = _mac(prefix, index, position)
            interfaces.append(Interface(ifname, segment, addresses, mac))
        routes = tuple(
            Route(str(self.need(r, "to", f"{context} route")), str(self.need(r, "via", context)))
            for r in spec.get("routes") or []
        )
        groups = tuple(str(g) for g in spec.get("groups") or [])
        appliance = spec.get("appliance")
        if appliance is not None:
            appliance = str(appliance)
            if appliance not in APPLIANCES:
                raise self.fail(
                    f"{context}: appliance must be one of {', '.join(APPLIANCES)}, "
                    f"not {appliance!r}"
                )
            if kind != "router":
                raise self.fail(f"{context}: only a router can be an appliance ({appliance})")
        return Container(name, kind, groups, tuple(interfaces), routes, appliance)

    def address(self, text: Any, where: str, owner: str, subnets: tuple[Network, ...]) -> Address:
        try:
            address = ipaddress.ip_interface(str(text))
        except ValueError as exc:
            raise self.fail(f"{where}: {exc}") from None
        if subnets and address.network not in subnets:
            raise self.fail(f"{where}: {address} is not in the segment's {subnets}")
        if address.ip in self.seen:
            raise self.fail(f"{where}: {address.ip} is also {self.seen[address.ip]}'s")
        self.seen[address.ip] = owner
        return address


def load(topology: str | Path | Topology) -> Topology:
    """Read and check a topology file (see lab/topologies/default.yml)."""
    if isinstance(topology, Topology):
        return topology
    path = topology_path(topology)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TOPOLOGIES.glob("*.yml")))
        raise LabError(f"no topology {topology!r} ({path} is not a file; known: {known})")
    return _Loader(path).topology(_parse(path))


# Running things -------------------------------------------------------------------


def _run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(argv),
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except FileNotFoundError:
        raise LabError(f"{argv[0]} is not installed (scripts/install-system-packages)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"timed out after {timeout} s: {' '.join(argv)}") from None
    if check and result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-2000:]
        raise LabError(f"failed ({result.returncode}): {' '.join(argv)}\n{output}")
    return result


def _podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(
    *args: str, check: bool = True, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run podman with the lab's runtime, cgroup manager and containers.conf."""
    return _run([*PODMAN, *args], check=check, input=input, timeout=timeout, env=_podman_env())


def _ip_batch(commands: list[str], *, netns: str | None = None, pid: int | None = None) -> None:
    """Run ``ip`` commands in one process: in named namespace ``netns``, in the network
    namespace of process ``pid``, or on the host."""
    if not commands:
        return
    if pid is not None:
        argv = ["nsenter", "-t", str(pid), "-n", "ip", "-batch", "-"]
    elif netns is not None:
        argv = ["ip", "-n", netns, "-batch", "-"]
    else:
        argv = ["ip", "-batch", "-"]
    _run(argv, input="\n".join(commands) + "\n")


def _links(netns: str | None = None) -> list[dict[str, Any]]:
    argv = ["ip", "-j", "link", "show"] if netns is None else ["ip", "-n", netns, "-j", "link"]
    result = _run(argv, check=False)
    if result.returncode != 0:
        return []
    return json.loads(result.stdout or "[]")


def _netns_exists(name: str) -> bool:
    return (Path("/run/netns") / name).exists()


def _state_path() -> Path:
    return Path(os.environ.get("ROUTERHA_LAB_STATE", "/var/lib/routerha-lab"))


def state_dir() -> Path:
    path = _state_path()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    """Serialise lab operations on ``name`` across processes."""
    with (state_dir() / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Can this machine run it? ---------------------------------------------------------


def available() -> tuple[bool, str]:
    """Whether podman containers with systemd can run here, and the reason when not.

    Root, the tools (podman, runc, nsenter, ip, ssh-keygen; debootstrap while the
    image is missing) and a trivial container (``/usr/bin/true`` from a minimal
    root file system, in systemd mode) that starts and exits 0. Cached per process.
    """
    global _AVAILABLE  # noqa: PLW0603 - one probe per process
    if _AVAILABLE is None:
        _AVAILABLE = _probe()
    return _AVAILABLE


def _probe() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "podman containers with systemd need root"
    tools = ["podman", "runc", "nsenter", "ip", "ssh-keygen", "mount"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return False, f"not installed: {', '.join(missing)} (scripts/install-system-packages)"
    if not image_exists() and shutil.which("debootstrap") is None:
        return False, f"{IMAGE} is missing and debootstrap (to build it) is not installed"
    true = Path("/usr/bin/true")
    with tempfile.TemporaryDirectory(prefix="routerha-probe-") as tmp:
        root = Path(tmp)
        ldd = _run(["ldd", str(true)], check=False).stdout
        for path in [true, *(Path(p) for p in re.findall(r"(/\S+)", ldd))]:
            target = root / path.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        result = podman(
            *("run", "--rm", "--network", "none", "--systemd=always"),
            *("--rootfs", str(root), str(true)),
            check=False,
            timeout=60,
        )
    if result.returncode != 0:
        return False, f"a trivial podman container fails to run: {result.stderr.strip()[-500:]}"
    return True, ""


# The image ------------------------------------------------------------------------


def image_exists() -> bool:
    return podman("image", "exists", IMAGE, check=False).returncode == 0


def mirror() -> str:
    """The Debian mirror apt uses on this machine (``ROUTERHA_LAB_MIRROR`` overrides)."""
    if os.environ.get("ROUTERHA_LAB_MIRROR"):
        return os.environ["ROUTERHA_LAB_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith(("#", " ")):
                    fields[key.strip().lower()] = value.strip()
            enabled = fields.get("enabled", "yes").lower() != "no"
            if (
                enabled
                and "deb" in fields.get("types", "").split()
                and SUITE in fields.get("suites", "").split()
                and fields.get("uris")
            ):
                return fields["uris"].split()[0]
    lists = [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]
    for path in lists:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    return DEFAULT_MIRROR


def _mounts_under(root: Path) -> list[str]:
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            point = line.split()[1].replace("\\040", " ")
            if point == str(root) or point.startswith(f"{root}/"):
                found.append(point)
    return found


def _remove_tree(root: Path) -> None:
    """Delete a build directory, never through a mount debootstrap left in it."""
    for point in sorted(_mounts_under(root), reverse=True):
        _run(["umount", "-l", point], check=False)
    left = _mounts_under(root)
    if left:
        raise LabError(f"not removing {root}: still mounted: {', '.join(left)}")
    shutil.rmtree(root, ignore_errors=True)


def _prepare_rootfs(root: Path) -> None:
    """Make the debootstrapped tree a lab node: an admin user with sudo, sshd for keys
    and not for root, unique host keys and machine id per container, quiet units,
    small."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"):
        for path in root.glob(pattern):
            path.unlink()
    # Host keys are made at each container's first boot, not shared by all; ed25519 and
    # ECDSA only (RSA's 3 s of key generation would be most of a container's boot).
    for path in (root / "etc/ssh").glob("ssh_host_*"):
        path.unlink()
    keygen = "".join(
        f"ExecStartPre=/bin/sh -c 'test -e {key} || exec ssh-keygen -q -t {kind} -N \"\" -f {key}'\n"
        for kind, key in HOST_KEYS
    )
    dropin = root / "etc/systemd/system/ssh.service.d/routerha-lab.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(f"[Service]\nExecStartPre=\n{keygen}ExecStartPre=/usr/sbin/sshd -t\n")
    host_keys = "".join(f"HostKey {key}\n" for _, key in HOST_KEYS)
    (root / "etc/ssh/sshd_config.d/routerha-lab.conf").write_text(
        f"{host_keys}PermitRootLogin no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUseDNS no\n"
    )
    # The admin: no password (``*``: none valid, yet not a locked account), a key put
    # in at each container's creation, sudo without a password (a lab has no one to
    # type it; production sets its own policy).
    useradd = ["useradd", "--root", str(root), "--uid", str(ADMIN_UID), "--user-group"]
    _run([*useradd, "--create-home", "--shell", "/bin/bash", "--password", "*", ADMIN])
    ssh_dir = root / "home" / ADMIN / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    os.chown(ssh_dir, ADMIN_UID, ADMIN_UID)
    sudoers = root / "etc/sudoers.d" / ADMIN
    sudoers.write_text(f"{ADMIN} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    # pam_env reads it at every login (and logs its absence).
    (root / "etc/default/locale").touch()
    # Empty machine-id: systemd makes one per container (from podman's container_uuid).
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
        dbus_id.symlink_to("/etc/machine-id")
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("/dev/null")
    for wants in (root / "etc/systemd/system").glob("*.wants"):
        for unit in MASKED_UNITS:
            with contextlib.suppress(FileNotFoundError):
                (wants / unit).unlink()
    (root / "etc/routerha-lab-image").write_text(
        f"{IMAGE}: debootstrap --variant=minbase {SUITE} from {mirror()}, "
        f"built {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
        f"packages: {' '.join(PACKAGES)}\nadmin: {ADMIN} (uid {ADMIN_UID}, sudo)\n"
    )


def _prune_images() -> None:
    """Remove the lab's untagged images (replaced by a rebuild) that no container uses."""
    podman("image", "prune", "--force", f"--filter=label={LABEL}.image", check=False)


def build_image(*, rebuild: bool = False) -> bool:
    """Make ``IMAGE`` unless it exists (or ``rebuild``). Returns whether it built."""
    with _lock("image"):
        if image_exists() and not rebuild:
            return False
        if shutil.which("debootstrap") is None:
            raise LabError("debootstrap is not installed (scripts/install-system-packages)")
        source = mirror()
        say(f"building the base image {IMAGE} from {source} (about 70 s, once)...")
        started = time.monotonic()
        for stale in state_dir().glob("image-build-*"):  # of a build that was killed
            _remove_tree(stale)
        work = Path(tempfile.mkdtemp(prefix="image-build-", dir=state_dir()))
        try:
            root = work / "rootfs"
            log = work / "debootstrap.log"
            with log.open("w") as out:
                done = subprocess.run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={','.join(PACKAGES)}",
                        SUITE,
                        str(root),
                        source,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                    timeout=1800,
                )
            if done.returncode != 0:
                tail = "\n".join(log.read_text().splitlines()[-20:])
                raise LabError(f"debootstrap failed ({done.returncode}):\n{tail}")
            say(f"debootstrap done in {time.monotonic() - started:.0f} s; importing...")
            _prepare_rootfs(root)
            tar = subprocess.Popen(
                [
                    "tar",
                    "--numeric-owner",
                    "--xattrs",
                    "--xattrs-include=*",
                    "-C",
                    str(root),
                    "-c",
                    ".",
                ],
                stdout=subprocess.PIPE,
            )
            try:
                imported = subprocess.run(
                    [
                        *PODMAN,
                        "import",
                        "--change",
                        'CMD ["/sbin/init"]',
                        "--change",
                        f"LABEL {LABEL}.image={SUITE}",
                        "-",
                        IMAGE,
                    ],
                    stdin=tar.stdout,
                    capture_output=True,
                    text=True,
                    env=_podman_env(),
                    check=False,
                    timeout=600,
                )
            finally:
                assert tar.stdout is not None
                tar.stdout.close()
                tar.wait()
            if imported.returncode != 0 or tar.returncode != 0:
                raise LabError(f"podman import failed: {imported.stderr.strip()[-1000:]}")
        finally:
            _remove_tree(work)
        _prune_images()  # the old one, unless containers still use it
        say(f"built {IMAGE} in {time.monotonic() - started:.0f} s")
        return True


# SSH key --------------------------------------------------------------------------


def ensure_key() -> Path:
    """The lab's ed25519 key pair (made once); returns the private key's path."""
    key = state_dir() / "id_ed25519"
    if not key.exists() or not key.with_suffix(".pub").exists():
        key.unlink(missing_ok=True)
        key.with_suffix(".pub").unlink(missing_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "routerha-lab", "-f", str(key)])
    return key


def _public_key(key: Path) -> str:
    return key.with_suffix(".pub").read_text().strip()


# Status ---------------------------------------------------------------------------


@dataclass
class NodeStatus:
    name: str
    container: str = "missing"  # podman's state: running, exited, created, ... or missing
    system: str = ""  # systemctl is-system-running
    failed_units: list[str] = field(default_factory=list)
    ssh: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class LabStatus:
    topology: Topology
    nodes: dict[str, NodeStatus]
    problems: list[str]
    cut_ports: list[str]
    exists: bool  # anything of it exists

    @property
    def healthy(self) -> bool:
        return not self.problems and all(not n.problems for n in self.nodes.values())

    def describe(self) -> str:
        topo = self.topology
        head = "healthy" if self.healthy else ("half-made" if self.exists else "absent")
        lines = [
            f"{topo.name} ({topo.path}): {head}; prefix {topo.prefix}, management "
            f"{topo.management} (host {topo.host_link} {topo.host_address.ip})"
        ]
        for node in self.nodes.values():
            container = topo.containers[node.name]
            ssh = "ssh ok" if node.ssh else "ssh -"
            appliance = f" ({container.appliance})" if container.appliance else ""
            lines.append(
                f"  {node.name:<10} {container.kind:<7} {container.mgmt.ip!s:<15} "
                f"{node.container:<8} systemd {node.system or '-':<12} {ssh}{appliance}"
            )
            if node.failed_units:
                lines.append(f"    failed units: {', '.join(node.failed_units)}")
            lines.extend(f"    problem: {p}" for p in node.problems)
        lines.extend(f"  problem: {p}" for p in self.problems)
        if self.cut_ports:
            lines.append(f"  cut (port down): {', '.join(self.cut_ports)}")
        return "\n".join(lines)


def _containers(topo: Topology) -> dict[str, dict[str, Any]]:
    """podman's view of the topology's containers (by label or by name), by name."""
    found: dict[str, dict[str, Any]] = {}
    for filters in ([f"label={LABEL}.prefix={topo.prefix}"], [f"name=^{topo.prefix}-"]):
        args = [arg for f in filters for arg in ("--filter", f)]
        out = podman("ps", "-a", *args, "--format", "json").stdout
        for entry in json.loads(out or "[]"):
            for name in entry.get("Names") or []:
                found[name] = entry
    return found


def _ssh_banner(address: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as conn:
            conn.settimeout(timeout)
            if not conn.recv(64).startswith(b"SSH-"):
                return False
            conn.sendall(b"SSH-2.0-routerha-lab-probe\r\n")
            return True
    except OSError:
        return False


def login_user(container: Container) -> str:
    """Whom Ansible logs in as: the platform's admin on an appliance, else ours."""
    return layout.KINDS[container.appliance].admin if container.appliance else ADMIN


def becomes(container: Container) -> bool:
    """Whether Ansible escalates (sudo) there: on Linux routers and VyOS (routerhad's
    installation needs root); not on EdgeOS, where routerha only drives the platform's
    configuration sessions, which must not run through sudo; not on clients, whose
    tests (ping) need no root."""
    return container.kind == "router" and container.appliance not in NO_PYTHON_APPLIANCES


def _system_state(pid: int, user: str = ADMIN) -> tuple[str, list[str], str, str]:
    """(is-system-running, failed units, ``user``'s authorized_keys, appliance) of the
    running container whose init is ``pid``: nsenter into its mount and PID namespaces
    (systemctl there sees its own PID 1), 20 times cheaper than ``podman exec`` while
    polling a boot. ``appliance``: the kind layout.py made it, if its wrapper is in place."""
    script = (
        "systemctl is-system-running; echo ---; "
        "systemctl --failed --plain --no-legend | cut -d' ' -f1; echo ---; "
        f"home=$(getent passwd {user} | cut -d: -f6); "
        'test -n "$home" && cat "$home/.ssh/authorized_keys" 2>/dev/null; echo ---; '
        f"test -x {APPLIANCE_WRAPPER} && cat {APPLIANCE_HOME}/kind 2>/dev/null"
    )
    argv = ["nsenter", "-t", str(pid), "-m", "-p", "sh", "-c", script]
    out = _run(argv, check=False, timeout=30).stdout
    parts = [*out.split("---\n"), "", "", "", ""]
    return parts[0].strip(), parts[1].split(), parts[2].strip(), parts[3].strip()


def _check_node(topo: Topology, node: NodeStatus, pid: int, public_key: str) -> None:
    container = topo.containers[node.name]
    user = login_user(container)
    node.system, node.failed_units, keys, appliance = _system_state(pid, user)
    if node.system not in {"running", "degraded"}:
        node.problems.append(f"systemd is {node.system or 'unreachable'}")
    if public_key not in keys.splitlines():
        node.problems.append(f"the lab's SSH key is not in {user}'s authorized_keys")
    if container.appliance and appliance != container.appliance:
        node.problems.append(
            f"not laid out as a {container.appliance} appliance "
            f"({APPLIANCE_WRAPPER} or {APPLIANCE_HOME}/kind missing)"
        )
    out = _run(["nsenter", "-t", str(pid), "-n", "ip", "-j", "addr"], check=False).stdout
    have = {
        (link["ifname"], f"{a['local']}/{a['prefixlen']}")
        for link in json.loads(out or "[]")
        for a in link.get("addr_info", [])
    }
    for interface in container.interfaces:
        for address in interface.addresses:
            if (interface.name, address.with_prefixlen) not in have:
                node.problems.append(f"{interface.name} lacks {address}")
    node.ssh = _ssh_banner(str(container.mgmt.ip))
    if not node.ssh:
        node.problems.append(f"no SSH banner from {container.mgmt.ip}:22")


def status(topology: str | Path | Topology) -> LabStatus:
    """What of the topology exists and whether it is whole and healthy."""
    topo = load(topology)
    problems: list[str] = []
    cut: list[str] = []
    found = _containers(topo)
    nodes = {name: NodeStatus(name) for name in topo.containers}
    expected = {topo.container_name(n) for n in topo.containers}
    strays = sorted(set(found) - expected)
    if strays:
        problems.append(f"containers not in the topology: {', '.join(strays)}")
    switch = _netns_exists(topo.switch)
    host_links = [
        link["ifname"] for link in _links() if link["ifname"].startswith(f"{topo.prefix}-")
    ]
    exists = bool(found or switch or host_links)
    if not exists:
        return LabStatus(topo, nodes, ["nothing exists"], cut, exists=False)

    if not switch:
        problems.append(f"no switch namespace {topo.switch}")
    links = {link["ifname"]: link for link in _links(topo.switch)} if switch else {}
    for segment in [MGMT_SEGMENT, *topo.segments]:
        if switch and topo.bridge(segment) not in links:
            problems.append(f"no bridge {topo.bridge(segment)}")
    expected_ports = {"host": MGMT_SEGMENT}
    for container in topo.containers.values():
        for interface in container.interfaces:
            expected_ports[topo.port(container.name, interface.name)] = interface.segment
    for port, segment in expected_ports.items():
        link = links.get(port)
        if switch and link is None:
            problems.append(f"no bridge port {port}")
        elif link is not None and link.get("master") != topo.bridge(segment):
            problems.append(f"port {port} is not on {topo.bridge(segment)}")
        elif link is not None and "UP" not in link.get("flags", []):
            cut.append(port)
    addresses = _run(["ip", "-j", "addr", "show", "dev", topo.host_link], check=False)
    host = {
        f"{a['local']}/{a['prefixlen']}"
        for link in json.loads(addresses.stdout or "[]")
        for a in link.get("addr_info", [])
    }
    if topo.host_address.with_prefixlen not in host:
        problems.append(f"the host lacks {topo.host_address} on {topo.host_link}")

    key = state_dir() / "id_ed25519.pub"
    public_key = key.read_text().strip() if key.exists() else "(no key)"
    checks = []
    for name, node in nodes.items():
        entry = found.get(topo.container_name(name))
        if entry is None:
            node.problems.append("no container")
            continue
        node.container = str(entry.get("State", "unknown"))
        if node.container != "running":
            node.problems.append(f"container is {node.container}")
            continue
        checks.append((node, int(entry.get("Pid") or 0)))
    with ThreadPoolExecutor(max_workers=max(1, len(checks))) as pool:
        for done in [pool.submit(_check_node, topo, n, pid, public_key) for n, pid in checks]:
            done.result()
    return LabStatus(topo, nodes, problems, cut, exists=True)


# Create and destroy ---------------------------------------------------------------


def _check_management_free(topo: Topology) -> None:
    """Refuse a management subnet the host already routes through another device."""
    routes = json.loads(_run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst in {"default", ""} or route.get("dev") == topo.host_link:
            continue
        with contextlib.suppress(ValueError):
            if ipaddress.ip_network(dst, strict=False).overlaps(topo.management):
                raise LabError(
                    f"{topo.name}: management {topo.management} overlaps the host's route "
                    f"{dst} via {route.get('dev')}; choose another in {topo.path}"
                )


def _create_args(topo: Topology, container: Container) -> list[str]:
    args = [
        "create",
        "--pull=never",
        f"--name={topo.container_name(container.name)}",
        f"--hostname={container.name}",
        "--systemd=always",
        "--network=none",
        f"--cap-add={CAPABILITIES}",
        f"--label={LABEL}.topology={topo.name}",
        f"--label={LABEL}.prefix={topo.prefix}",
    ]
    if container.kind == "router":
        args += [f"--sysctl={s}" for s in ROUTER_SYSCTLS]
    return [*args, IMAGE, "/sbin/init"]


def _inside_commands(container: Container) -> list[str]:
    commands = ["link set lo up"]
    for interface in container.interfaces:
        commands.append(f"link set {interface.name} up")
        for address in interface.addresses:
            nodad = " nodad" if address.version == 6 else ""
            commands.append(f"addr add {address.with_prefixlen} dev {interface.name}{nodad}")
    commands += [f"route add {r.to} via {r.via}" for r in container.routes]
    return commands


def _prepare_container(pid: int, public_key: str) -> None:
    """In the initialised (not yet started) container's mount namespace: a writable
    /proc/sys/net and the admin's authorized_keys (an appliance's own admin gets the key
    when it is laid out)."""
    keys = f"/home/{ADMIN}/.ssh/authorized_keys"
    script = (
        "set -e; mount --bind /proc/sys/net /proc/sys/net; "
        "mount -o remount,bind,rw /proc/sys/net; "
        f"umask 077; cat > {keys}; chown {ADMIN_UID}:{ADMIN_UID} {keys}"
    )
    _run(["nsenter", "-t", str(pid), "-m", "-n", "sh", "-c", script], input=public_key + "\n")


def _wait_node(topo: Topology, name: str, pid: int, deadline: float) -> tuple[str, list[str]]:
    """Wait for systemd to finish booting and sshd to answer; (state, failed units)."""
    state, failed = "", []
    while True:
        state, failed, _, _ = _system_state(pid)
        if state in {"running", "degraded"}:
            break
        if time.monotonic() > deadline:
            raise LabError(f"{name}: systemd still {state or 'unreachable'} after boot timeout")
        time.sleep(0.1)
    address = str(topo.containers[name].mgmt.ip)
    while not _ssh_banner(address):
        if time.monotonic() > deadline:
            raise LabError(f"{name}: no SSH banner from {address}:22 (systemd {state})")
        time.sleep(0.1)
    return state, failed


def _lay_out_appliance(topo: Topology, container: Container, public_key: str) -> None:
    """Copy lab/appliance/ into the booted container and run its layout.py there (with
    the interpreter layout.py leaves for the fakes if it ran before, else python3); the
    platform's admin user gets the lab's key."""
    assert container.appliance is not None
    name = topo.container_name(container.name)
    podman("exec", name, "rm", "-rf", APPLIANCE_STAGING)
    podman("cp", str(APPLIANCE_DIR), f"{name}:{APPLIANCE_STAGING}")
    spec = {
        "hostname": container.name,
        "interfaces": [
            {"name": i.name, "mac": i.mac, "addresses": [a.with_prefixlen for a in i.addresses]}
            for i in container.interfaces
        ],
        "authorized_keys": [public_key],
    }
    script = (
        f'py={APPLIANCE_HOME}/python3; [ -x "$py" ] || py=python3; '
        f'"$py" {APPLIANCE_STAGING}/layout.py "$1" --spec "$2" && rm -rf {APPLIANCE_STAGING}'
    )
    podman("exec", name, "sh", "-c", script, "sh", container.appliance, json.dumps(spec))


def _lay_out_appliances(topo: Topology, public_key: str) -> bool:
    """Lay out the topology's appliances, in parallel; whether it has any."""
    appliances = [c for c in topo.containers.values() if c.appliance]
    if appliances:
        with ThreadPoolExecutor(max_workers=len(appliances)) as pool:
            jobs = [pool.submit(_lay_out_appliance, topo, c, public_key) for c in appliances]
            for done in jobs:
                done.result()
    return bool(appliances)


def _build(topo: Topology, key: Path) -> None:
    timings: list[str] = []
    started = mark = time.monotonic()

    def lap(what: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings.append(f"{what} {now - mark:.1f} s")
        mark = now

    _check_management_free(topo)
    # The switch: a bridge per segment, IPv6 off in its namespace (no noise).
    _run(["ip", "netns", "add", topo.switch])
    for scope in ("all", "default"):
        sysctl = f"net.ipv6.conf.{scope}.disable_ipv6=1"
        _run(["ip", "netns", "exec", topo.switch, "sysctl", "-qw", sysctl], check=False)
    commands = ["link set lo up"]
    for segment in [MGMT_SEGMENT, *topo.segments]:
        bridge = topo.bridge(segment)
        commands += [
            f"link add {bridge} type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
            f"link set {bridge} up",
        ]
    _ip_batch(commands, netns=topo.switch)
    # The host's way onto the management segment.
    peer = ["peer", "name", "host", "netns", topo.switch]
    _run(["ip", "link", "add", topo.host_link, "type", "veth", *peer])
    with contextlib.suppress(FileNotFoundError):  # no IPv6 on this host at all
        Path(f"/proc/sys/net/ipv6/conf/{topo.host_link}/disable_ipv6").write_text("1")
    _ip_batch(
        [
            f"addr add {topo.host_address.with_prefixlen} dev {topo.host_link}",
            f"link set {topo.host_link} up",
        ]
    )
    _ip_batch([f"link set host master {topo.bridge(MGMT_SEGMENT)} up"], netns=topo.switch)
    lap("switch")

    names = [topo.container_name(n) for n in topo.containers]
    for container in topo.containers.values():
        podman(*_create_args(topo, container))
    podman("init", *names)
    out = podman("inspect", "-f", "{{.Name}} {{.State.Pid}}", *names).stdout
    pids = {name: int(pid) for name, pid in (line.split() for line in out.splitlines())}
    lap("podman create+init")

    public_key = _public_key(key)
    ports: list[str] = []
    for container in topo.containers.values():
        pid = pids[topo.container_name(container.name)]
        _prepare_container(pid, public_key)
        for interface in container.interfaces:
            port = topo.port(container.name, interface.name)
            ports += [
                f"link add {port} type veth peer name {interface.name} "
                f"address {interface.mac} netns {pid}",
                f"link set {port} master {topo.bridge(interface.segment)} up",
            ]
    _ip_batch(ports, netns=topo.switch)
    for container in topo.containers.values():
        _ip_batch(_inside_commands(container), pid=pids[topo.container_name(container.name)])
    lap("plumbing")

    podman("start", *names)
    deadline = time.monotonic() + BOOT_TIMEOUT
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        jobs = {
            n: pool.submit(_wait_node, topo, n, pids[topo.container_name(n)], deadline)
            for n in topo.containers
        }
        states = {n: job.result() for n, job in jobs.items()}
    lap("boot")
    if _lay_out_appliances(topo, public_key):
        lap("appliances")
    for name, (state, failed) in states.items():
        if state == "degraded":
            say(f"{name}: systemd degraded; failed units: {', '.join(failed) or '?'}")
    say(
        f"{topo.name}: {len(names)} containers up in {time.monotonic() - started:.1f} s "
        f"({', '.join(timings)})"
    )


def create(topology: str | Path | Topology, *, inventory: str | Path | None = None) -> Path:
    """Bring the topology up (unless it is up and healthy); return its inventory's path.

    A half-made topology (a container missing or stopped, a link gone, systemd or
    sshd not answering) is torn down and made again. The inventory is always written
    to the state directory, and to ``inventory`` too when given (then that path is
    returned).
    """
    topo = load(topology)
    usable, reason = available()
    if not usable:
        raise LabError(f"cannot run containers here: {reason}")
    with _lock(topo.name):
        build_image()
        key = ensure_key()
        current = status(topo)
        if current.healthy:
            say(f"{topo.name}: already up and healthy; nothing to do")
        else:
            if current.exists:
                say(f"{topo.name}: half-made ({_summary(current)}); tearing down and recreating")
                _destroy(topo)
            say(f"{topo.name}: creating {len(topo.containers)} containers ({topo.path})")
            try:
                _build(topo, key)
            except BaseException:
                say(f"{topo.name}: creation failed; tearing down what was made")
                _destroy(topo)
                raise
        return write_inventory(topo, key, inventory)


def _summary(current: LabStatus) -> str:
    problems = current.problems + [
        f"{n.name}: {p}" for n in current.nodes.values() for p in n.problems
    ]
    return "; ".join(problems[:4]) + (" ..." if len(problems) > 4 else "")


def _destroy(topo: Topology) -> None:
    names = sorted(set(_containers(topo)) | {topo.container_name(n) for n in topo.containers})
    podman("rm", "--force", "--ignore", "--time", "0", *names, timeout=300)
    _prune_images()
    if _netns_exists(topo.switch):
        _run(["ip", "netns", "del", topo.switch])
    for link in _links():
        if link["ifname"].startswith(f"{topo.prefix}-"):
            _run(["ip", "link", "del", link["ifname"]], check=False)


def destroy(topology: str | Path | Topology) -> None:
    """Remove the topology's containers, switch namespace, links and inventory."""
    topo = load(topology)
    if os.geteuid() != 0:
        raise LabError("destroying the container lab needs root")
    with _lock(topo.name):
        _destroy(topo)
        own = state_dir() / topo.name
        for made in ("inventory.yml", "known_hosts"):
            (own / made).unlink(missing_ok=True)
        for control in own.glob("cp*"):
            shutil.rmtree(control, ignore_errors=True)
        with contextlib.suppress(OSError):
            own.rmdir()
    say(f"{topo.name}: destroyed")


# Using it -------------------------------------------------------------------------


def _set_ports(topology: str | Path | Topology, container: str, segment: str, state: str) -> None:
    topo = load(topology)
    node = topo.node(container)
    wanted = MGMT_SEGMENT if segment in {"mgmt", "management"} else segment
    ports = [topo.port(node.name, i.name) for i in node.interfaces if i.segment == wanted]
    if not ports:
        on = sorted({i.segment for i in node.interfaces})
        raise LabError(f"{topo.name}: {container} is not on {segment!r} (it is on {on})")
    _ip_batch([f"link set {port} {state}" for port in ports], netns=topo.switch)


def cut(topology: str | Path | Topology, container: str, segment: str) -> None:
    """Set ``container``'s bridge port(s) on ``segment`` down: it vanishes from it."""
    _set_ports(topology, container, segment, "down")


def restore(topology: str | Path | Topology, container: str, segment: str) -> None:
    """Undo ``cut``."""
    _set_ports(topology, container, segment, "up")


def exec(
    topology: str | Path | Topology,
    container: str,
    *argv: str,
    check: bool = False,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``container`` (``podman exec``); raise LabError if ``check`` and it
    fails."""
    topo = load(topology)
    name = topo.container_name(topo.node(container).name)
    return podman("exec", "-i", name, *argv, check=check, input=input, timeout=timeout)


# The inventory --------------------------------------------------------------------


def cpu_seconds(topology: str | Path | Topology) -> float:
    """The CPU time the topology's containers have used so far, in seconds, from their
    cgroups (cgroup v1's cpuacct where the machine mounts it, else cgroup v2): what a
    benchmark subtracts to tell the routers' share of a run from the controller's."""
    topo = load(topology)
    names = [topo.container_name(name) for name in topo.containers]
    done = podman("inspect", "--format", "{{.State.CgroupPath}}", *names, check=False)
    total = 0.0
    for path in done.stdout.split():
        v1 = Path("/sys/fs/cgroup/cpuacct") / path.lstrip("/") / "cpuacct.usage"
        if v1.is_file():
            total += int(v1.read_text()) / 1e9
            continue
        for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
            stat = root / path.lstrip("/") / "cpu.stat"
            if stat.is_file():
                fields = dict(line.split() for line in stat.read_text().splitlines())
                total += int(fields["usage_usec"]) / 1e6
                break
    return total


def _host_keys(topo: Topology) -> str:
    """known_hosts lines for the topology's containers: the keys each made at its first
    boot, read from inside it (nsenter), never from the network."""
    found = _containers(topo)
    files = [f"{path}.pub" for _, path in HOST_KEYS]
    lines = []
    for name, container in topo.containers.items():
        entry = found.get(topo.container_name(name))
        pid = int((entry or {}).get("Pid") or 0)
        if not pid:
            raise LabError(f"{name}: not running; its host keys cannot be read")
        out = _run(["nsenter", "-t", str(pid), "-m", "cat", *files]).stdout
        keys = [line.split()[:2] for line in out.splitlines() if len(line.split()) >= 2]
        if not keys:
            raise LabError(f"{name}: no SSH host keys in {', '.join(files)}")
        lines += [f"{container.mgmt.ip} {kind} {key}" for kind, key in keys]
    return "\n".join(lines) + "\n"


def render_inventory(
    topology: str | Path | Topology,
    key: Path,
    known_hosts: Path | None = None,
    control_dir: Path | None = None,
) -> str:
    """An Ansible YAML inventory with the hosts' connection data (and an appliance's
    ``lab_appliance`` kind): OpenSSH as the host's admin user with ``key``, host keys
    checked against ``known_hosts`` (default: beside the lab's own inventory), SSH
    multiplexing sockets in ``control_dir``; sudo where ``becomes``.

    Every setting is a host variable, none in ``all``'s vars: Ansible's implicit
    localhost takes those, and ``delegate_to: localhost`` would then go over SSH."""
    topo = load(topology)
    own = _state_path() / topo.name  # only named here: nothing is written
    known_hosts = known_hosts or own / "known_hosts"
    control_dir = control_dir or own / "cp"
    # ServerAlive: a router that dies mid-run (power loss, a killed container) fails
    # its task within 15 s instead of hanging on the multiplexed connection until
    # TCP gives up, minutes later; docs/playbooks.md recommends the same to operators.
    ssh_args = (
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
        " -o ServerAliveInterval=5 -o ServerAliveCountMax=3"
    )

    def q(value: str) -> str:
        return json.dumps(value)  # a YAML double-quoted scalar

    lines = [
        f"# The {topo.name} container lab's hosts (lab/containers.py, {topo.path.name}):",
        "# connection data (and an appliance's kind). The lab writes the host keys each",
        "# container made to known_hosts, which ssh checks (a new container, new keys).",
        "all:",
        "  hosts:",
    ]
    for container in topo.containers.values():
        lines += [
            f"    {container.name}:",
            f"      ansible_host: {q(str(container.mgmt.ip))}",
            f"      ansible_connection: {CONNECTION}",
            f"      ansible_user: {q(login_user(container))}",
            f"      ansible_ssh_private_key_file: {q(str(key))}",
            f"      ansible_ssh_common_args: {q(ssh_args)}",
            "      ansible_ssh_host_key_checking: true",
            f"      ansible_control_path_dir: {q(str(control_dir))}",
            "      ansible_ssh_pipelining: true",
            f"      ansible_become: {'true' if becomes(container) else 'false'}",
        ]
        if container.appliance not in NO_PYTHON_APPLIANCES:
            lines.append(f"      ansible_python_interpreter: {PYTHON}")
        if container.appliance:
            lines.append(f"      lab_appliance: {q(container.appliance)}")
    lines.append("  children:")
    for group, members in topo.groups().items():
        lines.append(f"    {group}:")
        if members:
            lines.append("      hosts:")
            lines += [f"        {member}:" for member in members]
    return "\n".join(lines) + "\n"


def write_inventory(
    topology: str | Path | Topology, key: Path, path: str | Path | None = None
) -> Path:
    """The running topology's host keys into known_hosts, and its inventory (to the state
    directory, and to ``path`` too when given). The SSH multiplexing directory is named
    after the host keys: connections that an earlier container at the same address left
    open (ControlPersist) are never reused."""
    topo = load(topology)
    own = state_dir() / topo.name
    own.mkdir(parents=True, exist_ok=True)
    known = _host_keys(topo)
    known_hosts = own / "known_hosts"
    known_hosts.write_text(known)
    control_dir = own / f"cp-{zlib.crc32(known.encode()):08x}"
    for stale in own.glob("cp-*"):
        if stale != control_dir:
            shutil.rmtree(stale, ignore_errors=True)
    text = render_inventory(topo, key, known_hosts, control_dir)
    targets = [own / "inventory.yml"] if path is None else [own / "inventory.yml", Path(path)]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    say(f"{topo.name}: inventory {targets[-1]}")
    return targets[-1]


# CLI ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.containers",
        description="Router hosts in podman containers with systemd, for Ansible over SSH.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="bring a topology up (idempotent)")
    make.add_argument(
        "topology", help="a name in lab/topologies (default, multisite, appliance) or a path"
    )
    make.add_argument("--inventory", type=Path, help="also write the Ansible inventory here")
    for verb, text in (("destroy", "remove a topology"), ("status", "show a topology")):
        commands.add_parser(verb, help=text).add_argument("topology")
    image = commands.add_parser("image", help=f"build {IMAGE} when missing")
    image.add_argument("--rebuild", action="store_true", help="build it even if it exists")
    args = parser.parse_args(argv)

    try:
        if args.command == "create":
            started = time.monotonic()
            path = create(args.topology, inventory=args.inventory)
            say(f"done in {time.monotonic() - started:.1f} s; inventory: {path}")
        elif args.command == "destroy":
            destroy(args.topology)
        elif args.command == "status":
            current = status(args.topology)
            print(current.describe())
            return 0 if current.healthy else (1 if current.exists else 3)
        else:
            if not build_image(rebuild=args.rebuild):
                say(f"{IMAGE} exists (--rebuild to build it again)")
            print(podman("images", IMAGE).stdout, end="")
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
