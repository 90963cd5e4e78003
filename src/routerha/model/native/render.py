"""The data model rendered to a router's own CLI: VyOS and EdgeOS ``set`` lines.

The reverse of :mod:`vyos_set`: what is rendered here parses back (``parse_set_lines``)
to an equal Config (for ``vyatta``, equal but for the group names, which that syntax
does not have). Three syntaxes:

==============  ===================================================================
``vyos``        VyOS 1.4+: ``high-availability vrrp group NAME ... address X``,
                ``sync-group NAME``, ``service conntrack-sync``
``vyos-1.2``    VyOS 1.2/1.3: the same tree with ``virtual-address`` and
                ``virtual-address-excluded``; conntrack-sync in its older form
                (``accept-protocol 'tcp,udp'``, ``ignore-address ipv4 X``)
``vyatta``      VyOS 1.1 and EdgeOS: ``interfaces TYPE NAME [vif N] vrrp vrrp-group
                VRID ...``, sync groups only as ``sync-group X`` on their members
==============  ===================================================================

Rules (docs/native-syntax.md has the whole mapping):

* every field that differs from the model's default is rendered; one at its default
  is left out, which the parser and the router both read as that default;
* a field the syntax cannot say, or a value outside what the router's CLI accepts
  (the constraints of vyos-1x's interface definitions and of vyatta-vrrp's
  templates), raises RenderError naming every such field: nothing is dropped
  silently, since the router would then run something else than the model says;
* lines come as ``show configuration commands`` prints them: leaf values in single
  quotes, tag node names bare, a tag node alone only when nothing is below it. That
  keeps the converge planning (``converge.py``) comparing like with like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..conntrack_sync import DEFAULT_MCAST_GROUP, DEFAULT_PORT, EXPECT_HELPERS, ConntrackSync
from ..errors import ConfigError
from ..vrrp import (
    PASSWORD_OCTETS,
    Config,
    Garp,
    HealthCheck,
    SyncGroup,
    TransitionScripts,
    VrrpGroup,
)

SYNTAXES = ("vyos", "vyos-1.2", "vyatta")

Path = tuple[str, ...]

HA_VRRP: Path = ("high-availability", "vrrp")
CONNTRACK: Path = ("service", "conntrack-sync")
GLOBAL: Path = (*HA_VRRP, "global-parameters")


class RenderError(ConfigError, ValueError):
    """The model says something the target syntax cannot.

    ``problems`` pairs where (``group LAN``, ``sync group CG-1``, ``conntrack_sync``,
    ``interface tun0``) with why, the field and the syntax named in it; ``str()``
    reads ``group LAN: vyatta (VyOS 1.1/EdgeOS) syntax has no VRRPv3 ...``.
    """

    def __init__(self, syntax: str, problems: list[tuple[str, str]]) -> None:
        self.syntax = syntax
        super().__init__(problems)


@dataclass(frozen=True)
class Dialect:
    """What one syntax can say, and in which words."""

    name: str
    label: str
    legacy: bool  # groups under interfaces, no names
    address: str  # the node of the virtual addresses
    address_tag: bool  # a tag node (printed bare) rather than a multi leaf
    excluded: str | None  # the node of excluded addresses, if any
    excluded_tag: bool
    #: ``address A interface Y``: an address on another interface (VyOS 1.4+).
    address_interface: bool
    version3: bool  # VRRPv3 and IPv6
    track: bool
    garp: bool
    #: VyOS 1.4 fills every garp option with its default once one is set, and the
    #: default of master-refresh is 5 there (keepalived's, the model's, is 0).
    garp_fills_refresh: bool
    stop_script: bool
    health_ping: bool
    sync_health: bool
    sync_scripts: bool
    multi_peer: bool
    description_max: int | None
    ct_protocols: tuple[str, ...]
    ct_protocol_list: bool  # accept-protocol one value per line (else 'tcp,udp')
    ct_ignore: Path  # the node of ignore addresses
    ct_ipv6_ignore: bool
    ct_unicast: bool  # interface NAME peer X and listen-address (else interface a leaf)
    ct_port: bool
    ct_external_cache: bool
    ct_startup_resync: bool


DIALECTS = {
    "vyos": Dialect(
        name="vyos",
        label="vyos (VyOS 1.4+)",
        legacy=False,
        address="address",
        address_tag=True,
        excluded="excluded-address",
        excluded_tag=True,
        address_interface=True,
        version3=True,
        track=True,
        garp=True,
        garp_fills_refresh=True,
        stop_script=True,
        health_ping=True,
        sync_health=True,
        sync_scripts=True,
        multi_peer=True,
        description_max=255,
        ct_protocols=("tcp", "udp", "icmp", "icmp6", "sctp", "dccp"),
        ct_protocol_list=True,
        ct_ignore=("ignore-address",),
        ct_ipv6_ignore=True,
        ct_unicast=True,
        ct_port=True,
        ct_external_cache=True,
        ct_startup_resync=True,
    ),
    "vyos-1.2": Dialect(
        name="vyos-1.2",
        label="vyos-1.2 (VyOS 1.2/1.3)",
        legacy=False,
        address="virtual-address",
        address_tag=True,
        excluded="virtual-address-excluded",
        excluded_tag=False,
        address_interface=False,
        version3=True,
        track=True,
        garp=True,
        garp_fills_refresh=False,  # 1.3 merges the group defaults without garp's
        stop_script=True,
        health_ping=False,
        sync_health=False,
        sync_scripts=True,
        multi_peer=True,
        description_max=None,
        ct_protocols=("tcp", "udp", "icmp", "sctp"),
        ct_protocol_list=False,
        ct_ignore=("ignore-address", "ipv4"),
        ct_ipv6_ignore=False,
        ct_unicast=True,
        ct_port=False,
        ct_external_cache=True,
        ct_startup_resync=False,
    ),
    "vyatta": Dialect(
        name="vyatta",
        label="vyatta (VyOS 1.1/EdgeOS)",
        legacy=True,
        address="virtual-address",
        address_tag=False,
        excluded=None,
        excluded_tag=False,
        address_interface=False,
        version3=False,
        track=False,
        garp=False,
        garp_fills_refresh=False,
        stop_script=False,
        health_ping=False,
        sync_health=False,
        sync_scripts=False,
        multi_peer=False,
        description_max=None,
        ct_protocols=("tcp", "udp", "icmp", "sctp"),
        ct_protocol_list=False,
        ct_ignore=("ignore-address", "ipv4"),
        ct_ipv6_ignore=False,
        ct_unicast=False,
        ct_port=False,
        ct_external_cache=False,
        ct_startup_resync=False,
    ),
}

#: vyatta-vrrp's help: "up to 20 per group" (one VRRPv2 advertisement's worth).
VYATTA_MAX_ADDRESSES = 20
#: VyOS 1.4's garp master-refresh default, filled in once any garp option is set.
VYOS_GARP_REFRESH_DEFAULT = 5

# Interface name prefixes of VyOS 1.1 / EdgeOS and the ``interfaces`` node of each.
_INTERFACE_TYPES = {
    "eth": "ethernet",
    "bond": "bonding",
    "br": "bridge",
    "peth": "pseudo-ethernet",
    "switch": "switch",
    "wlan": "wireless",
}
_INTERFACE = re.compile(r"(eth|bond|br|peth|switch|wlan)([0-9]+)(?:\.([0-9]+)(?:\.([0-9]+))?)?\Z")
# Words printed without quotes; anything else is quoted.
_BARE = re.compile(r"[A-Za-z0-9_.:/@+=,%-]+\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def dialect(syntax: str) -> Dialect:
    """The Dialect of ``syntax``; ValueError for a name outside SYNTAXES."""
    try:
        return DIALECTS[syntax]
    except KeyError:
        raise ValueError(f"unknown syntax {syntax!r}; expected one of {SYNTAXES}") from None


# Lines and their text


@dataclass(frozen=True)
class Line:
    """One ``set`` line: the node path (tag names included) and a leaf's value."""

    path: Path
    value: str | None = None

    @property
    def words(self) -> Path:
        return self.path if self.value is None else (*self.path, self.value)


def quote(word: str) -> str:
    """Single quotes as VyOS prints values; double quotes (with backslashes) when the
    word itself holds a single quote, which a single-quoted word cannot."""
    if "'" not in word:
        return f"'{word}'"
    escaped = re.sub(r'(["\\$`])', r"\\\1", word)
    return f'"{escaped}"'


def bare(word: str) -> str:
    """A node or tag name as printed: bare when that is unambiguous, else quoted."""
    return word if _BARE.match(word) else quote(word)


def command(verb: str, path: Path, value: str | None = None) -> str:
    """``set``/``delete`` with the path's words bare and the value quoted."""
    text = " ".join((verb, *(bare(word) for word in path)))
    return text if value is None else f"{text} {quote(value)}"


def render_set_lines(config: Config, syntax: str) -> list[str]:
    """``set`` lines saying ``config`` in ``syntax`` (one of SYNTAXES), in a fixed
    order. Raises RenderError naming every field the syntax cannot say."""
    return [command("set", line.path, line.value) for line in render_lines(config, syntax)]


def render_lines(config: Config, syntax: str) -> list[Line]:
    """The lines of render_set_lines, as paths and values (for the converge planning)."""
    renderer = _Renderer(dialect(syntax))
    renderer.config(config)
    if renderer.problems:
        raise RenderError(syntax, renderer.problems)
    return renderer.lines


# Paths


def interface_path(name: str) -> Path:
    """The ``interfaces`` path of an interface name, as VyOS 1.1 / EdgeOS nest it:
    ``eth1`` -> ``interfaces ethernet eth1``, ``eth1.100`` -> ``... vif 100``,
    ``eth0.10.20`` -> ``... vif-s 10 vif-c 20``. RenderError for other names."""
    match = _INTERFACE.match(name)
    if match is None:
        raise RenderError(
            "vyatta",
            [
                (
                    f"interface {name}",
                    "the vyatta (VyOS 1.1/EdgeOS) syntax puts a group under its interface's "
                    "node, known for names beginning with "
                    f"{', '.join(sorted(_INTERFACE_TYPES))} (then a number, optionally .VLAN "
                    "or .SVLAN.CVLAN)",
                )
            ],
        )
    prefix, number, outer, inner = match.groups()
    path: Path = ("interfaces", _INTERFACE_TYPES[prefix], f"{prefix}{number}")
    if inner is not None:
        return (*path, "vif-s", outer, "vif-c", inner)
    if outer is not None:
        return (*path, "vif", outer)
    return path


def group_path(group: VrrpGroup, syntax: str) -> Path:
    """The subtree of one group: ``high-availability vrrp group NAME`` or, in the
    vyatta syntax, ``interfaces ... vrrp vrrp-group VRID``."""
    if dialect(syntax).legacy:
        return (*interface_path(group.interface), "vrrp", "vrrp-group", str(group.vrid))
    return (*HA_VRRP, "group", group.name)


def sync_group_path(name: str, syntax: str) -> Path | None:
    """The subtree of a sync group; None in the vyatta syntax, which has none (a
    member says ``sync-group NAME`` inside its own subtree)."""
    return None if dialect(syntax).legacy else (*HA_VRRP, "sync-group", name)


# Values


def _number(value: float) -> str:
    """A number as the CLI takes it: whole numbers without a decimal point."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


class _Renderer:
    """Collects the lines of one Config, and every problem on the way."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.lines: list[Line] = []
        self.problems: list[tuple[str, str]] = []

    def problem(self, where: str, why: str) -> None:
        self.problems.append((where, why))

    def cannot(self, where: str, what: str, hint: str = "") -> None:
        """The syntax has no way to say ``what`` (a field, with its value)."""
        self.problem(where, f"{self.d.label} syntax {what}" + (f"; {hint}" if hint else ""))

    def add(self, path: Path, value: str | None = None, where: str = "") -> None:
        if value is not None and not self.value_ok(where, path, value):
            return
        self.lines.append(Line(path, value))

    def value_ok(self, where: str, path: Path, value: str) -> bool:
        """A value fits on one command line: no newline or other control character."""
        if _CONTROL.search(value):
            # A password is named by its node only: it must not reach a message.
            shown = "the password" if path[-1] == "password" else repr(value)
            self.problem(
                where,
                f"{' '.join(path[-2:])}: {shown} holds a control character (a line break?), "
                "which a configuration command cannot carry",
            )
            return False
        return True

    def name_ok(self, where: str, name: str) -> bool:
        """Names that become nodes of the tree: no blanks, quotes or control characters."""
        if not name or re.search(r"[\s'\"\x00-\x1f\x7f]", name):
            self.problem(
                where,
                f"the name {name!r} cannot be a configuration node "
                "(blanks, quotes and control characters are not allowed)",
            )
            return False
        return True

    # The whole configuration

    def config(self, config: Config) -> None:
        if self.d.legacy:
            self.legacy_groups(config)
        else:
            self.global_version(config)
            for name in sorted(config.groups):
                group = config.groups[name]
                if self.name_ok(f"group {name}", name):
                    self.group(group, group_path(group, self.d.name))
            for name in sorted(config.sync_groups):
                self.sync_group(config.sync_groups[name])
        if config.conntrack_sync is not None:
            _ConntrackRenderer(self).render(config.conntrack_sync)

    def global_version(self, config: Config) -> None:
        """VyOS 1.3+ sets the version of IPv4 groups once, for all of them
        (``global-parameters version``); IPv6 groups always run VRRPv3."""
        ipv4 = {name: g.version for name, g in config.groups.items() if g.address and not g.ipv6}
        versions = set(ipv4.values())
        if len(versions) > 1:
            for name in sorted(ipv4):
                if ipv4[name] == 3:
                    v2 = ", ".join(sorted(n for n, v in ipv4.items() if v == 2))
                    self.cannot(
                        f"group {name}",
                        "sets the VRRP version of all IPv4 groups at once (global-parameters "
                        f"version): version 3 here but 2 in {v2}",
                        "give every IPv4 group the same version",
                    )
        elif versions == {3}:
            self.add((*GLOBAL, "version"), "3")

    def legacy_groups(self, config: Config) -> None:
        member_of = {m: s.name for s in config.sync_groups.values() for m in s.member}
        paths: dict[Path, str] = {}
        placed = []
        for name, group in sorted(config.groups.items()):
            try:
                path = group_path(group, self.d.name)
            except RenderError as exc:
                self.problems.extend(
                    (f"group {name}", f"{where}: {why}") for where, why in exc.problems
                )
                continue
            if path in paths:
                self.cannot(
                    f"group {name}",
                    f"names a group by its interface and VRID: {group.interface} VRID "
                    f"{group.vrid} is group {paths[path]!r} already",
                )
                continue
            paths[path] = name
            placed.append((_path_order(path), path, group))
        for _order, path, group in sorted(placed, key=lambda item: item[0]):
            self.group(group, path)
            if group.name in member_of:
                self.add((*path, "sync-group"), member_of[group.name], f"group {group.name}")
        for name in sorted(config.sync_groups):
            self.legacy_sync_group(config.sync_groups[name])

    # Groups

    def group(self, g: VrrpGroup, base: Path) -> None:
        where = f"group {g.name}"
        if not self.d.version3 and (g.version == 3 or g.ipv6):
            self.cannot(
                where,
                f"has no VRRPv3 (version {g.version}) and no IPv6",
                "use the vyos or vyos-1.2 syntax, or routerhad",
            )
            return
        if not self.d.legacy:
            self.add((*base, "interface"), g.interface, where)
            self.add((*base, "vrid"), str(g.vrid), where)
        self.addresses(g, base, where)
        if g.priority != 100:
            self.add((*base, "priority"), str(g.priority), where)
        self.interval(g, base, where)
        self.preempt(g, base, where)
        self.authentication(g, base, where)
        if g.rfc3768_compatibility:
            self.add((*base, "rfc3768-compatibility"))
        self.peers(g, base, where)
        if g.hello_source_address is not None:
            self.add((*base, "hello-source-address"), str(g.hello_source_address), where)
        self.track(g, base, where)
        if g.health_check is not None:
            self.health_check(g.health_check, (*base, "health-check"), where, self.d.health_ping)
        self.scripts(g.transition_script, base, where, group=True)
        self.garp(g.garp, (*base, "garp"), where)
        self.description(g, base, where)
        if g.disable:
            self.add((*base, "disable"))

    def addresses(self, g: VrrpGroup, base: Path, where: str) -> None:
        if self.d.legacy and len(g.address) > VYATTA_MAX_ADDRESSES:
            self.cannot(
                where,
                f"takes up to {VYATTA_MAX_ADDRESSES} virtual addresses per "
                f"group, not {len(g.address)}",
            )
        for address in g.address:
            self.address(g, (*base, self.d.address), address, self.d.address_tag, where)
        if not g.excluded_address:
            return
        if self.d.excluded is None:
            self.cannot(where, "has no excluded addresses (excluded_address)")
            return
        for address in g.excluded_address:
            self.address(g, (*base, self.d.excluded), address, self.d.excluded_tag, where)

    def address(self, g: VrrpGroup, path: Path, address: Any, tag: bool, where: str) -> None:
        """One address; on another interface ``address A interface Y`` (the tag alone
        is not printed then: something is below it)."""
        other = g.interface_of(address)
        if other is None:
            self.tag_or_leaf(path, str(address), tag, where)
        elif not self.d.address_interface:
            self.cannot(
                where,
                f"puts every address on the group's interface: {address} on {other} "
                "(address_interface) cannot be said",
                "use the vyos (1.4+) syntax, or routerhad",
            )
        elif self.name_ok(where, other):
            self.add((*path, str(address), "interface"), other, where)

    def tag_or_leaf(self, path: Path, value: str, tag: bool, where: str) -> None:
        if tag:
            self.add((*path, value))
        else:
            self.add(path, value, where)

    def interval(self, g: VrrpGroup, base: Path, where: str) -> None:
        value = g.advertise_interval
        if value == 1:
            return
        if not float(value).is_integer() or not 1 <= value <= 255:
            self.cannot(
                where,
                f"takes advertise-interval in whole seconds 1..255, not {value}",
                "sub-second VRRPv3 intervals need routerhad or keepalived",
            )
            return
        self.add((*base, "advertise-interval"), _number(value), where)

    def preempt(self, g: VrrpGroup, base: Path, where: str) -> None:
        if not g.preempt:
            if self.d.legacy:
                self.add((*base, "preempt"), "false", where)
            else:
                self.add((*base, "no-preempt"))
        if g.preempt_delay:
            self.add((*base, "preempt-delay"), str(g.preempt_delay), where)

    def authentication(self, g: VrrpGroup, base: Path, where: str) -> None:
        auth = g.authentication
        if auth is None:
            return
        if any(p != auth.password for p in auth.accept):
            self.cannot(
                where,
                "has one password per group: authentication.accept (passwords "
                "accepted besides the sending one) cannot be said",
                "finish the password change first",
            )
        password = auth.password
        size = len(password.encode())
        if size > PASSWORD_OCTETS:
            # The CLI counts characters, the wire octets: both must fit.
            over = (
                f"{len(password)} characters"
                if len(password) > PASSWORD_OCTETS
                else f"{size} octets"
            )
            self.cannot(
                where,
                f"takes an authentication password of up to {PASSWORD_OCTETS} characters "
                f"({PASSWORD_OCTETS} octets), not {over}",
            )
            return
        if self.d.legacy and re.search(r"\s", password):
            self.cannot(where, "takes an authentication password without blanks")
            return
        self.add((*base, "authentication", "password"), password, where)
        self.add((*base, "authentication", "type"), auth.type.value, where)

    def peers(self, g: VrrpGroup, base: Path, where: str) -> None:
        if len(g.peer_address) > 1 and not self.d.multi_peer:
            self.cannot(where, f"takes one peer-address, not {len(g.peer_address)}")
            return
        for peer in g.peer_address:
            self.add((*base, "peer-address"), str(peer), where)

    def track(self, g: VrrpGroup, base: Path, where: str) -> None:
        track = g.track
        if not track.interface and not track.exclude_vrrp_interface:
            return
        if not self.d.track:
            self.cannot(where, "has no interface tracking (track)")
            return
        for tracked in track.interface:
            if tracked.weight is not None:
                self.cannot(
                    where,
                    f"tracks interfaces without a weight (track.interface "
                    f"{tracked.name} weight {tracked.weight})",
                )
            elif self.name_ok(where, tracked.name):
                self.add((*base, "track", "interface"), tracked.name, where)
        if track.exclude_vrrp_interface:
            self.add((*base, "track", "exclude-vrrp-interface"))

    def health_check(self, check: HealthCheck, base: Path, where: str, ping: bool) -> None:
        if check.weight is not None:
            self.cannot(where, f"has no health-check weight (health_check.weight {check.weight})")
        if check.ping is not None:
            if not ping:
                self.cannot(where, f"has no ping health check (health_check.ping {check.ping})")
            else:
                self.add((*base, "ping"), str(check.ping), where)
        if check.script is not None:
            self.add((*base, "script"), check.script, where)
        if check.interval != 60:
            self.add((*base, "interval"), str(check.interval), where)
        if check.failure_count != 3:
            self.add((*base, "failure-count"), str(check.failure_count), where)

    def scripts(self, scripts: TransitionScripts, base: Path, where: str, group: bool) -> None:
        node = "run-transition-scripts" if self.d.legacy else "transition-script"
        for state in ("master", "backup", "fault", "stop"):
            program = getattr(scripts, state)
            if program is None:
                continue
            if state == "stop" and not self.d.stop_script:
                self.cannot(where, f"runs no script on stop (transition_script.stop {program!r})")
            elif not group and not self.d.sync_scripts:
                self.cannot(where, "has no transition scripts for sync groups")
            else:
                self.add((*base, node, state), program, where)

    def garp(self, garp: Garp, base: Path, where: str) -> None:
        if garp == Garp():
            return
        if not self.d.garp:
            self.cannot(where, "has no gratuitous ARP settings (garp)")
            return
        if self.d.garp_fills_refresh and garp.master_refresh == 0:
            self.cannot(
                where,
                "fills every garp option once one is set, master-refresh with "
                f"{VYOS_GARP_REFRESH_DEFAULT}, and cannot say 0 (no refresh): garp.master_refresh 0 "
                "with other garp settings cannot be said",
                "set garp.master_refresh, or leave garp at its defaults",
            )
            return
        defaults = Garp()
        if garp.interval != defaults.interval:
            self.garp_interval(garp.interval, base, where)
        if garp.master_delay == 0:
            # The model's range starts at 0, VyOS's at 1.
            self.cannot(where, "takes garp master-delay from 1 s, not 0")
        for key in ("master_delay", "master_repeat", "master_refresh", "master_refresh_repeat"):
            value = getattr(garp, key)
            if value and value != getattr(defaults, key):
                self.add((*base, key.replace("_", "-")), str(value), where)

    def garp_interval(self, value: float, base: Path, where: str) -> None:
        text = _number(value)
        if float(text) != value:
            self.cannot(where, f"takes garp interval in microseconds at most, not {value}")
            return
        self.add((*base, "interval"), text, where)

    def description(self, g: VrrpGroup, base: Path, where: str) -> None:
        if g.description is None:
            return
        limit = self.d.description_max
        if limit is not None and len(g.description) > limit:
            self.cannot(
                where, f"takes a description of up to {limit} characters, not {len(g.description)}"
            )
            return
        self.add((*base, "description"), g.description, where)

    # Sync groups

    def sync_group(self, s: SyncGroup) -> None:
        where = f"sync group {s.name}"
        if not self.name_ok(where, s.name):
            return
        base = (*HA_VRRP, "sync-group", s.name)
        before = len(self.lines)
        for member in s.member:
            self.add((*base, "member"), member, where)
        if s.health_check is not None:
            if not self.d.sync_health:
                self.cannot(where, "has no health check for sync groups (health_check)")
            else:
                self.health_check(s.health_check, (*base, "health-check"), where, ping=True)
        self.scripts(s.transition_script, base, where, group=False)
        if len(self.lines) == before:
            self.add(base)  # an empty sync group: the tag node alone

    def legacy_sync_group(self, s: SyncGroup) -> None:
        """Only membership exists in the vyatta syntax, written on the members."""
        where = f"sync group {s.name}"
        if not s.member:
            self.cannot(
                where,
                "knows a sync group only through its members: one without members cannot be said",
            )
        self.name_ok(where, s.name)
        if s.health_check is not None:
            self.cannot(where, "has no health check for sync groups (health_check)")
        if s.transition_script != TransitionScripts():
            self.cannot(where, "has no transition scripts for sync groups")


class _ConntrackRenderer:
    """``service conntrack-sync``: its form changed more than the VRRP tree did."""

    def __init__(self, renderer: _Renderer) -> None:
        self.r = renderer
        self.d = renderer.d
        self.where = "conntrack_sync"

    def cannot(self, what: str, hint: str = "") -> None:
        self.r.cannot(self.where, what, hint)

    def add(self, path: Path, value: str | None = None) -> None:
        self.r.add((*CONNTRACK, *path), value, self.where)

    def render(self, c: ConntrackSync) -> None:
        if c.authentication is not None and c.authentication.enabled:
            self.cannot(
                "has no authenticated sync link: conntrackd's sync messages carry no MAC "
                "(authentication)",
                "run routerhad's conntrack sync on this router, or set "
                "conntrack_sync.authentication to {type: none} and keep the sync link private",
            )
        self.protocols(c)
        if c.disable_external_cache:
            if self.d.ct_external_cache:
                self.add(("disable-external-cache",))
            else:
                self.cannot("has no disable-external-cache")
        if c.event_listen_queue_size != 8:
            self.add(("event-listen-queue-size",), str(c.event_listen_queue_size))
        self.expect(c)
        self.add(("failover-mechanism", "vrrp", "sync-group"), c.sync_group)
        self.ignore(c)
        self.interface(c)
        if c.mcast_group != DEFAULT_MCAST_GROUP:
            if c.peer is not None:
                self.cannot(
                    f"syncs to a peer or a multicast group, not both (mcast_group {c.mcast_group})"
                )
            else:
                self.add(("mcast-group",), str(c.mcast_group))
        if c.startup_resync:
            if self.d.ct_startup_resync:
                self.add(("startup-resync",))
            else:
                self.cannot(
                    "has no startup-resync: conntrackd runs without it (StartupResync off)",
                    "set conntrack_sync.startup_resync to false for this router",
                )
        if c.sync_queue_size != 1:
            self.add(("sync-queue-size",), str(c.sync_queue_size))

    def protocols(self, c: ConntrackSync) -> None:
        unknown = [p for p in c.accept_protocol if p not in self.d.ct_protocols]
        if unknown:
            self.cannot(
                f"accepts the protocols {', '.join(self.d.ct_protocols)} only, not "
                f"{', '.join(unknown)} (accept_protocol)"
            )
            return
        if not c.accept_protocol:
            return
        if self.d.ct_protocol_list:
            for protocol in c.accept_protocol:
                self.add(("accept-protocol",), protocol)
        else:
            self.add(("accept-protocol",), ",".join(c.accept_protocol))

    def expect(self, c: ConntrackSync) -> None:
        if c.expect_sync == EXPECT_HELPERS:
            self.add(("expect-sync",), "all")
            return
        for helper in c.expect_sync:
            self.add(("expect-sync",), helper)

    def ignore(self, c: ConntrackSync) -> None:
        for network in c.ignore_address:
            if network.version == 6 and not self.d.ct_ipv6_ignore:
                self.cannot(f"ignores IPv4 addresses only, not {network} (ignore_address)")
            else:
                self.add(self.d.ct_ignore, str(network))

    def interface(self, c: ConntrackSync) -> None:
        if not self.r.name_ok(self.where, c.interface):
            return
        if c.port != DEFAULT_PORT and not self.d.ct_port:
            self.cannot(f"always uses port {DEFAULT_PORT}, not {c.port}")
        if c.listen_address is not None and c.peer is None:
            self.cannot(
                f"uses listen-address only with a unicast peer (listen_address "
                f"{c.listen_address} without peer)"
            )
        if not self.d.ct_unicast:
            if c.peer is not None or c.listen_address is not None:
                self.cannot("has no unicast sync (peer, listen_address): multicast only")
            self.add(("interface",), c.interface)
            return
        below: list[tuple[Path, str]] = []
        if c.peer is not None:
            if c.peer.version != 4:
                self.cannot(f"takes an IPv4 peer only, not {c.peer}")
            else:
                below.append((("peer",), str(c.peer)))
        if c.port != DEFAULT_PORT and self.d.ct_port:
            below.append((("port",), str(c.port)))
        if not below:
            self.add(("interface", c.interface))
        for path, value in below:
            self.add(("interface", c.interface, *path), value)
        self.listen(c)

    def listen(self, c: ConntrackSync) -> None:
        address = c.listen_address
        if address is None or c.peer is None:
            return
        if address.version != 4:
            self.cannot(f"takes an IPv4 listen-address only, not {address}")
            return
        self.add(("listen-address",), str(address))


def _path_order(path: Path) -> tuple[tuple[int, str], ...]:
    """Sort key of a path: numbers (VLANs, VRIDs) by value, words by text."""
    return tuple((int(word), "") if word.isdigit() else (-1, word) for word in path)
