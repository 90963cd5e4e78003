"""Build the data model from plain data (parsed JSON, role variables).

Every problem is collected with the key path it concerns (``vrrp.groups.LAN.vrid``)
and raised together as one ConfigError, so an operator fixes a file in one pass.
Unknown keys are errors: a misspelt ``preempt_dealy`` must not silently do nothing.

Problems are of two kinds. *Structural* ones (a wrong type, an unknown or missing
key, a number out of range) leave no value to build a group from. *Semantic* ones
(a password over 8 octets, authentication with VRRPv3, IPv4 and IPv6 mixed in one
group, a VRID used twice on one link and family) describe a configuration that can
be built as written but must not run. The daemon refuses both (``load_config``);
the consistency checks of several routers (``load_config_lenient``) build the model
anyway, with the offending values kept in it, and report the semantic problems as
findings next to the differences between the routers.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any, Callable, TypeVar

from .conntrack_sync import (
    DEFAULT_MCAST_GROUP,
    DEFAULT_PORT,
    EXPECT_HELPERS,
    MIN_KEY_OCTETS,
    PROTOCOLS,
    ConntrackSync,
    SyncAuthentication,
    SyncAuthType,
    SyncKey,
)
from .errors import ConfigError
from .vrrp import (
    MAX_WEIGHT,
    OWNER_PRIORITY,
    PASSWORD_OCTETS,
    AddressInterface,
    Authentication,
    AuthType,
    Config,
    Garp,
    HealthCheck,
    SyncGroup,
    Track,
    TrackedInterface,
    TransitionScripts,
    VrrpGroup,
)

T = TypeVar("T")

#: VRRPv3's advertisement interval is a 12-bit count of centiseconds.
V3_MAX_INTERVAL_CS = 4095
#: Beyond this transition scripts and health checks are pointless, and typos likely.
MAX_CHECK_INTERVAL = 86400


class _Problems:
    """Collects (path, reason) pairs while a tree is read.

    ``semantic`` marks a problem whose value is still put into the model as written
    (see the module docstring), so that a lenient load can build the Config anyway.
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.kinds: list[bool] = []  # semantic or not, one per item

    def add(self, path: str, why: str, *, semantic: bool = False) -> None:
        self.items.append((path, why))
        self.kinds.append(semantic)

    @property
    def semantic(self) -> list[tuple[str, str]]:
        return [item for item, semantic in zip(self.items, self.kinds) if semantic]

    @property
    def structural(self) -> list[tuple[str, str]]:
        """The problems that leave the model without a value to build from."""
        return [item for item, semantic in zip(self.items, self.kinds) if not semantic]


class _Node:
    """A mapping being read, with its path; records unknown keys and type errors."""

    def __init__(self, data: Any, path: str, problems: _Problems) -> None:
        self.path = path
        self.problems = problems
        if data is None:
            data = {}
        if not isinstance(data, dict):
            problems.add(path, f"must be a mapping, not {type(data).__name__}")
            data = {}
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: Any = None) -> Any:
        self.seen.add(name)
        return self.data.get(name, default)

    def child(self, name: str) -> _Node:
        return _Node(self.get(name), self.key(name), self.problems)

    def finish(self) -> None:
        for name in sorted(set(self.data) - self.seen):
            self.problems.add(self.key(name), "unknown key")

    # Typed readers: each returns the default (and records why) when the value is bad.

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.add(self.key(name), f"must be true or false, not {value!r}")
            return default
        return value

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.add(self.key(name), f"must be a whole number, not {value!r}")
            return default
        if not low <= value <= high:
            self.problems.add(self.key(name), f"{value} is outside {low}..{high}")
            return default
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            self.problems.add(self.key(name), f"must be a number, not {value!r}")
            return default
        if not low <= value <= high:
            self.problems.add(self.key(name), f"{value} is outside {low}..{high}")
            return default
        return float(value)

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, default)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            self.problems.add(self.key(name), f"must be a non-empty string, not {value!r}")
            return default
        return value

    def listing(self, name: str) -> list[Any]:
        value = self.get(name, [])
        if value is None:
            return []
        if isinstance(value, (str, dict)) or not isinstance(value, list):
            self.problems.add(self.key(name), f"must be a list, not {type(value).__name__}")
            return []
        return value

    def parsed_list(self, name: str, parse: Callable[[Any], T], what: str) -> tuple[T, ...]:
        out = []
        for i, item in enumerate(self.listing(name)):
            try:
                out.append(parse(item))
            except (TypeError, ValueError):
                self.problems.add(f"{self.key(name)}[{i}]", f"{item!r} is not {what}")
        return tuple(out)

    def address(self, name: str) -> Any | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            self.problems.add(self.key(name), f"{value!r} is not an IP address")
            return None


def _interface(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if not isinstance(value, str):
        raise TypeError(value)
    return ipaddress.ip_interface(value)


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(value, str):
        raise TypeError(value)
    return ipaddress.ip_address(value)


def _password(node: _Node, name: str) -> str | None:
    value = node.string(name)
    if value is not None and len(value.encode()) > PASSWORD_OCTETS:
        # Semantic: the long password stays in the model, for pair checks to compare.
        node.problems.add(
            node.key(name),
            f"is {len(value.encode())} octets; VRRPv2 carries at most {PASSWORD_OCTETS} "
            "(it would be truncated, and routers that truncate differently would flap)",
            semantic=True,
        )
    return value


def _authentication(node: _Node) -> Authentication | None:
    if not node.data:
        node.finish()
        return None
    kind = node.string("type")
    password = _password(node, "password")
    accept = []
    for i, item in enumerate(node.listing("accept")):
        if not isinstance(item, str) or not item:
            node.problems.add(f"{node.key('accept')}[{i}]", "must be a non-empty string")
        else:
            if len(item.encode()) > PASSWORD_OCTETS:
                # Semantic: kept, so that a rollover check still sees the password.
                node.problems.add(
                    f"{node.key('accept')}[{i}]",
                    f"is {len(item.encode())} octets; VRRPv2 carries at most "
                    f"{PASSWORD_OCTETS} (it would be truncated)",
                    semantic=True,
                )
            accept.append(item)
    node.finish()
    try:
        auth_type = AuthType(kind)
    except ValueError:
        node.problems.add(node.key("type"), "must be 'plaintext-password' or 'ah'")
        return None
    if password is None:
        node.problems.add(node.key("password"), "is required with authentication")
        return None
    return Authentication(type=auth_type, password=password, accept=tuple(accept))


def _weight(node: _Node) -> int | None:
    """A tracking weight in keepalived's range; 0 is keepalived's "no weight" (FAULT)."""
    return node.integer("weight", None, -MAX_WEIGHT, MAX_WEIGHT) or None


def _addresses(
    node: _Node, name: str, interface: str | None
) -> tuple[tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...], list[AddressInterface]]:
    """``address`` / ``excluded_address``: each entry ``"A[/len]"`` or ``{"address":
    "A[/len]", "interface": "Y"}`` (VyOS's ``address A interface Y``). An interface
    equal to the group's own says nothing more and is not kept."""
    out = []
    placed: list[AddressInterface] = []
    for i, item in enumerate(node.listing(name)):
        path = f"{node.key(name)}[{i}]"
        other = None
        value = item
        if isinstance(item, dict):
            entry = _Node(item, path, node.problems)
            value = entry.get("address")
            other = entry.string("interface")
            entry.finish()
            if value is None:
                node.problems.add(path, "needs an address")
                continue
        try:
            address = _interface(value)
        except (TypeError, ValueError):
            node.problems.add(path, f"{value!r} is not an IP address with optional /prefix")
            continue
        out.append(address)
        if other is not None and other != interface:
            placed.append(AddressInterface(address=address, interface=other))
    return tuple(out), placed


def _track(node: _Node) -> Track:
    tracked = []
    for i, item in enumerate(node.listing("interface")):
        path = f"{node.key('interface')}[{i}]"
        if isinstance(item, str):
            tracked.append(TrackedInterface(name=item))
            continue
        entry = _Node(item, path, node.problems)
        name = entry.string("name")
        weight = _weight(entry)
        entry.finish()
        if name is None:
            node.problems.add(path, "needs a name")
        else:
            tracked.append(TrackedInterface(name=name, weight=weight))
    exclude = node.boolean("exclude_vrrp_interface", False)
    node.finish()
    return Track(interface=tuple(tracked), exclude_vrrp_interface=exclude)


def _health_check(node: _Node) -> HealthCheck | None:
    if not node.data:
        node.finish()
        return None
    check = HealthCheck(
        script=node.string("script"),
        ping=node.address("ping"),
        interval=node.integer("interval", 60, 1, MAX_CHECK_INTERVAL),
        failure_count=node.integer("failure_count", 3, 1, 1000),
        weight=_weight(node),
    )
    node.finish()
    if (check.script is None) == (check.ping is None):
        node.problems.add(node.path, "needs exactly one of script or ping")
    return check


def _transition_scripts(node: _Node) -> TransitionScripts:
    scripts = TransitionScripts(
        master=node.string("master"),
        backup=node.string("backup"),
        fault=node.string("fault"),
        stop=node.string("stop"),
    )
    node.finish()
    return scripts


def _garp(node: _Node) -> Garp:
    garp = Garp(
        interval=node.number("interval", 0.0, 0.0, 1000.0),
        master_delay=node.integer("master_delay", 5, 0, 1000),
        master_repeat=node.integer("master_repeat", 5, 1, 255),
        master_refresh=node.integer("master_refresh", 0, 0, 255),
        master_refresh_repeat=node.integer("master_refresh_repeat", 1, 1, 255),
    )
    node.finish()
    return garp


def _interval(node: _Node, version: int) -> float:
    """VRRPv2 counts whole seconds (1..255); VRRPv3 centiseconds (0.01..40.95 s)."""
    path = node.key("advertise_interval")
    value = node.number("advertise_interval", 1.0, 0.0, 255.0)
    if version == 2:
        if value < 1 or value != int(value):
            node.problems.add(path, f"{value} s: VRRPv2 needs whole seconds from 1 to 255")
            return 1.0
        return value
    centiseconds = value * 100
    if abs(centiseconds - round(centiseconds)) > 1e-6:
        node.problems.add(path, f"{value} s: VRRPv3 counts in steps of 0.01 s")
        return 1.0
    if not 1 <= round(centiseconds) <= V3_MAX_INTERVAL_CS:
        node.problems.add(path, f"{value} s: VRRPv3 allows 0.01 to 40.95 s")
        return 1.0
    return value


def _group(name: str, node: _Node) -> VrrpGroup | None:
    interface = node.string("interface")
    if interface is None:
        node.problems.add(node.key("interface"), "is required")
    vrid = node.integer("vrid", None, 1, 255)
    if vrid is None and "vrid" not in node.data:
        node.problems.add(node.key("vrid"), "is required")
    addresses, placed = _addresses(node, "address", interface)
    excluded, placed_excluded = _addresses(node, "excluded_address", interface)
    if not addresses and node.data.get("address") is None:
        node.problems.add(node.key("address"), "is required: at least one virtual address")
    families = {a.version for a in addresses}
    if len(families) > 1:
        # Semantic: the addresses are kept as written (the first one's family counts).
        node.problems.add(
            node.key("address"),
            "mixes IPv4 and IPv6; use one group per family (or excluded_address)",
            semantic=True,
        )
    ipv6 = families == {6}
    version = node.integer("version", 3 if ipv6 else 2, 2, 3)
    if ipv6 and version == 2:
        node.problems.add(node.key("version"), "VRRPv2 is IPv4 only; IPv6 needs version 3")
    auth = _authentication(node.child("authentication"))
    if auth is not None and version == 3:
        # Semantic: the authentication stays in the model, for pair checks to compare.
        node.problems.add(
            node.key("authentication"),
            "VRRPv3 has no authentication (RFC 5798 section 9)",
            semantic=True,
        )
    peers = node.parsed_list("peer_address", _ip, "an IP address")
    hello = node.address("hello_source_address")
    for what, found in (
        ("peer_address", peers),
        ("hello_source_address", (hello,) if hello else ()),
    ):
        if families and any(a.version not in families for a in found):
            node.problems.add(node.key(what), "must be of the group's address family")
    group = VrrpGroup(
        name=name,
        interface=interface or "",
        vrid=vrid or 0,
        address=addresses,
        version=version,
        priority=node.integer("priority", 100, 1, OWNER_PRIORITY),
        advertise_interval=_interval(node, version),
        preempt=node.boolean("preempt", True),
        preempt_delay=node.integer("preempt_delay", 0, 0, 1000),
        authentication=auth,
        rfc3768_compatibility=node.boolean("rfc3768_compatibility", False),
        peer_address=peers,
        hello_source_address=hello,
        track=_track(node.child("track")),
        health_check=_health_check(node.child("health_check")),
        transition_script=_transition_scripts(node.child("transition_script")),
        garp=_garp(node.child("garp")),
        excluded_address=excluded,
        address_interface=(*placed, *placed_excluded),
        description=node.string("description"),
        disable=node.boolean("disable", False),
    )
    node.finish()
    return group


def _check_vrid_reuse(groups: dict[str, VrrpGroup], problems: _Problems) -> None:
    """A VRID names one virtual router per link and family (it is in the virtual MAC)."""
    owners: dict[tuple[str, int, int], str] = {}
    for name, group in groups.items():
        if not group.address or not group.vrid:
            continue
        slot = (group.interface, group.address[0].version, group.vrid)
        if slot in owners:
            # Semantic: both groups are kept; each is a valid group on its own.
            problems.add(
                f"vrrp.groups.{name}.vrid",
                f"VRID {group.vrid} is already used by group {owners[slot]!r} on "
                f"{group.interface} (IPv{slot[1]})",
                semantic=True,
            )
        else:
            owners[slot] = name


def _sync_groups(node: _Node, groups: dict[str, VrrpGroup]) -> dict[str, SyncGroup]:
    out: dict[str, SyncGroup] = {}
    member_of: dict[str, str] = {}
    for name in node.data:
        entry = node.child(name)
        members = []
        for i, member in enumerate(entry.listing("member")):
            path = f"{entry.key('member')}[{i}]"
            if member not in groups:
                node.problems.add(path, f"{member!r} is not a configured group")
            elif member in member_of:
                node.problems.add(
                    path, f"{member!r} is already in sync group {member_of[member]!r}"
                )
            else:
                member_of[member] = name
                members.append(member)
        out[name] = SyncGroup(
            name=name,
            member=tuple(members),
            health_check=_health_check(entry.child("health_check")),
            transition_script=_transition_scripts(entry.child("transition_script")),
        )
        entry.finish()
    node.finish()
    return out


def _networks(node: _Node, name: str) -> tuple[Any, ...]:
    return node.parsed_list(
        name,
        lambda v: ipaddress.ip_network(v, strict=False) if isinstance(v, str) else _fail(v),
        "an address or prefix",
    )


def _fail(value: Any) -> Any:
    raise TypeError(value)


def _choices(node: _Node, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(node.listing(name)):
        if item not in allowed:
            node.problems.add(
                f"{node.key(name)}[{i}]", f"{item!r} is not one of {', '.join(allowed)}"
            )
        elif item not in out:
            out.append(item)
    return tuple(out)


def _sync_key(node: _Node, key_id_name: str = "key_id") -> SyncKey | None:
    """One (key id, key) of the sync link; a short key is semantic (kept, for pair
    checks to compare), the rest structural."""
    key_id = node.integer(key_id_name, None, 1, 255)
    if key_id is None and node.data.get(key_id_name) is None:
        node.problems.add(node.key(key_id_name), "is required: 1..255, sent with every datagram")
    key = node.get("key")
    if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
        # Never quoted: a key given with a wrong type is still a key.
        node.problems.add(node.key("key"), "is required: a string")
        return None
    key = str(key)
    if len(key.encode()) < MIN_KEY_OCTETS:
        node.problems.add(
            node.key("key"),
            f"is {len(key.encode())} octets; a sync key has at least {MIN_KEY_OCTETS} "
            "(a random string, say 32 characters)",
            semantic=True,
        )
    return SyncKey(key_id, key) if key_id is not None else None


def _sync_authentication(node: _Node) -> SyncAuthentication | None:
    """``conntrack_sync.authentication``: ``{type: hmac-sha256, key_id, key, accept:
    [{key_id, key}]}``, or ``{type: none}`` to run the link unauthenticated."""
    if node.data.get("type") is None and not node.data:
        node.finish()
        # Semantic: the link is built as written (unauthenticated), for pair checks to
        # warn about; routerhad refuses it.
        node.problems.add(
            node.path,
            "is required: give the sync link a key (type hmac-sha256, key_id, key), or "
            "type none to run it unauthenticated (anyone on the sync link can then write "
            "into the connection table)",
            semantic=True,
        )
        return None
    kind = node.string("type")
    try:
        auth_type = SyncAuthType(kind)
    except ValueError:
        node.problems.add(node.key("type"), "must be 'hmac-sha256' or 'none'")
        for name in ("key_id", "key", "accept"):
            node.get(name)  # read: no "unknown key" noise besides the wrong type
        node.finish()
        return None
    if auth_type is SyncAuthType.NONE:
        for name in ("key_id", "key", "accept"):
            if node.data.get(name) is not None:
                node.problems.add(node.key(name), "is not taken with type none")
                node.get(name)
        node.finish()
        return SyncAuthentication(type=auth_type)
    sending = _sync_key(node)
    accepted: list[SyncKey] = []
    for i, item in enumerate(node.listing("accept")):
        entry = _Node(item, f"{node.key('accept')}[{i}]", node.problems)
        key = _sync_key(entry)
        entry.finish()
        if key is None:
            continue
        clash = [k for k in (sending, *accepted) if k and k.key_id == key.key_id]
        if any(k.key != key.key for k in clash):
            node.problems.add(
                entry.key("key_id"),
                f"key id {key.key_id} is given twice with different keys",
            )
        elif not clash:
            accepted.append(key)
    node.finish()
    if sending is None:
        return None
    return SyncAuthentication(
        type=auth_type, key_id=sending.key_id, key=sending.key, accept=tuple(accepted)
    )


def _conntrack_sync(node: _Node, sync_groups: dict[str, SyncGroup]) -> ConntrackSync | None:
    """VyOS ``service conntrack-sync``; the keys are checked like the VRRP ones."""
    if not node.data:
        node.finish()
        return None
    interface = node.string("interface")
    if interface is None:
        node.problems.add(node.key("interface"), "is required: the dedicated sync link")
    mechanism = node.child("failover_mechanism")
    sync_group = mechanism.string("sync_group")
    mechanism.finish()
    if sync_group is None:
        node.problems.add(
            mechanism.key("sync_group"), "is required: the VRRP sync group that owns the sessions"
        )
    elif sync_group not in sync_groups:
        node.problems.add(
            mechanism.key("sync_group"), f"{sync_group!r} is not a configured sync group"
        )
    peer = node.address("peer")
    mcast = node.address("mcast_group")
    if peer is not None and mcast is not None:
        node.problems.add(
            node.key("peer"), "give peer (unicast) or mcast_group (multicast), not both"
        )
    if mcast is not None and not (mcast.version == 4 and mcast.is_multicast):
        node.problems.add(node.key("mcast_group"), f"{mcast} is not an IPv4 multicast group")
        mcast = None
    expect = _choices(node, "expect_sync", (*EXPECT_HELPERS, "all"))
    if "all" in expect:
        if len(expect) > 1:
            node.problems.add(node.key("expect_sync"), "'all' stands alone")
        expect = EXPECT_HELPERS
    sync = ConntrackSync(
        interface=interface or "",
        sync_group=sync_group or "",
        peer=peer,
        mcast_group=mcast or DEFAULT_MCAST_GROUP,
        port=node.integer("port", DEFAULT_PORT, 1, 65535),
        listen_address=node.address("listen_address"),
        accept_protocol=_choices(node, "accept_protocol", PROTOCOLS),
        ignore_address=_networks(node, "ignore_address"),
        expect_sync=expect,
        disable_external_cache=node.boolean("disable_external_cache", False),
        startup_resync=node.boolean("startup_resync", True),
        event_listen_queue_size=node.integer("event_listen_queue_size", 8, 1, 1024),
        sync_queue_size=node.integer("sync_queue_size", 1, 1, 1024),
        authentication=_sync_authentication(node.child("authentication")),
    )
    node.finish()
    return sync


def load_config(data: Any) -> Config:
    """Validate plain data (a parsed routerhad JSON file) and build the model.

    Raises ConfigError naming every offending key; returns a Config otherwise.
    """
    config, problems = _load(data)
    if problems.items:
        raise ConfigError(problems.items)
    return config


def load_config_lenient(data: Any) -> tuple[Config, list[tuple[str, str]]]:
    """Like load_config, but a configuration with only semantic problems is built.

    Returns the Config, offending values included, and its semantic problems as
    (key path, why) pairs. Raises ConfigError, naming every problem (the semantic
    ones too, so that one pass fixes the file), when any problem is structural.
    Not for running a router: for checks that report what is wrong with one.
    """
    config, problems = _load(data)
    if problems.structural:
        raise ConfigError(problems.items)
    return config, list(problems.semantic)


def _load(data: Any) -> tuple[Config, _Problems]:
    """Read ``data`` into a Config, collecting every problem instead of raising."""
    problems = _Problems()
    root = _Node(data, "", problems)
    vrrp = root.child("vrrp")
    groups_node = vrrp.child("groups")
    groups: dict[str, VrrpGroup] = {}
    for name in groups_node.data:
        group = _group(name, groups_node.child(name))
        if group is not None:
            groups[name] = group
    groups_node.finish()
    _check_vrid_reuse(groups, problems)
    sync_groups = _sync_groups(vrrp.child("sync_groups"), groups)
    vrrp.finish()
    conntrack_sync = _conntrack_sync(root.child("conntrack_sync"), sync_groups)
    root.finish()
    config = Config(groups=groups, sync_groups=sync_groups, conntrack_sync=conntrack_sync)
    return config, problems
