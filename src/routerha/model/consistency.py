"""Consistency of one VRRP setup across its routers: the logic of ``pair_check``.

Each router (a *member*) is read into the one data model, whatever it runs (routerhad
JSON, VyOS / EdgeOS set lines or config.boot, keepalived.conf: :func:`load_member`),
and :func:`check_members` compares them. A configuration that every router accepts
on its own can still fail as a whole: two passwords, two intervals or two equal
priorities make VRRP elect two masters or flap, and nothing on either router says
so. Single-router problems that the daemon refuses outright (a password over 8
octets, authentication with VRRPv3, IPv4 and IPv6 in one group, a VRID used twice on
one link) are reported here too, as findings next to the rest, from the lenient load
(``routerha.model.load.load_config_lenient``).

Groups are matched across members as VRRP sees them, by (interface, address family,
VRID): the group *names* are local (VyOS 1.1 ``eth0-10``, keepalived ``VI_1``). A
group left unmatched is then matched by its virtual addresses, which is how a VRID
or interface name that differs between the members is found. Findings name a group
as its first member (in the order given) names it, and the other names in the
message where they differ. Their order is deterministic: by group, code, path.

Passwords never appear in a finding. Where two passwords must be told apart a
fingerprint is shown: HMAC-SHA256 of the password, keyed with a random key drawn for
each call of :func:`check_members` (``secrets.token_bytes``), cut to 8 hex digits.
An unkeyed hash of a VRRPv2 password (at most 8 octets) could be reversed by trying
every candidate; with a per-call key it cannot, and fingerprints are comparable
within one report, which is all a report needs.

Every finding has a stable ``code`` (see CODES) with a fixed severity: ``error``
for what breaks the election or the traffic, ``warning`` for what is risky or
unfinished but works.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ConfigError
from .ip import IPInterface
from .load import load_config_lenient
from .native import KINDS, NativeParseError, SemanticProblem, detect_kind, parse_native
from .native import interface_addresses as native_interface_addresses
from .tokens import keyed_digest
from .vrrp import OWNER_PRIORITY, Config, VrrpGroup

ERROR = "error"
WARNING = "warning"

#: Every finding code, its severity and what it means.
CODES: dict[str, tuple[str, str]] = {
    # The members of a group disagree.
    "auth-type-mismatch": (ERROR, "authentication type differs (or is absent on some)"),
    "password-mismatch": (ERROR, "a member does not accept another's password"),
    "password-rollover": (WARNING, "passwords differ but every member accepts the others'"),
    "rfc3768-mismatch": (ERROR, "rfc3768_compatibility differs"),
    "version-mismatch": (ERROR, "VRRP version differs"),
    "advertise-interval-mismatch": (ERROR, "advertisement interval differs"),
    "vrid-mismatch": (ERROR, "same virtual addresses, different VRID"),
    "address-mismatch": (ERROR, "the virtual address sets differ"),
    "sync-group-mismatch": (ERROR, "the group is synced with different groups"),
    "sync-master-conflict": (ERROR, "a sync group's groups prefer different masters"),
    "priority-equal": (ERROR, "members share a priority: the IP address decides"),
    "owner-duplicate": (ERROR, "more than one member has priority 255"),
    "owner-address-not-virtual": (ERROR, "priority 255 without owning a virtual address"),
    "owner-priority": (ERROR, "a member owns a virtual address without priority 255"),
    "group-single": (WARNING, "the group is on one member only: no redundancy"),
    "group-missing": (WARNING, "the group is missing on some members"),
    "group-disabled": (WARNING, "the group is disabled on some members"),
    "preempt-delay-without-preempt": (WARNING, "preempt_delay set, but no member preempts"),
    # Inside one member's sync group.
    "sync-priority-differs": (WARNING, "a sync group's groups have different priorities"),
    "sync-preempt-delay-differs": (WARNING, "a sync group's groups differ in preempt_delay"),
    "sync-preempt-differs": (WARNING, "a sync group's groups differ in preempt"),
    # The conntrack sync link (members with conntrack_sync).
    "sync-unauthenticated": (WARNING, "the conntrack sync link runs without authentication"),
    "sync-key-mismatch": (ERROR, "a member does not accept another's conntrack sync key"),
    "sync-key-rollover": (WARNING, "sync keys differ but every member accepts the others'"),
    # One member's semantic problems (refused by the daemon).
    "sync-auth-missing": (ERROR, "conntrack_sync without authentication (nor type none)"),
    "sync-key-too-short": (ERROR, "a conntrack sync key under 16 octets"),
    "password-too-long": (ERROR, "a password over 8 octets, truncated on the wire"),
    "auth-with-v3": (ERROR, "authentication configured with VRRPv3"),
    "mixed-families": (ERROR, "IPv4 and IPv6 virtual addresses in one group"),
    "vrid-reused": (ERROR, "a VRID used twice on one interface and address family"),
    "semantic-problem": (ERROR, "another problem that stops a router from running this"),
}

#: The kinds load_member reads; "routerha" is routerhad's JSON model.
MEMBER_KINDS = ("auto", "routerha", *KINDS)

_SYNC_LOOP = (
    "VyOS's documentation warns that groups of one sync group set to a different "
    "priority or preempt delay result in an endless transition loop"
)

#: Semantic problems by the tail of their key path, with what to do about them.
_SEMANTIC: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"\Aconntrack_sync\.authentication\Z"),
        "sync-auth-missing",
        "give conntrack_sync.authentication the same key on every member (type "
        "hmac-sha256, key_id, key), or type none to run the sync link unauthenticated",
    ),
    (
        re.compile(r"\Aconntrack_sync\.authentication\.(key|accept\[\d+\]\.key)\Z"),
        "sync-key-too-short",
        "use a random key of 16 octets or more (32 characters, say) on every member",
    ),
    (
        re.compile(r"\.authentication\.(password|accept\[\d+\])\Z"),
        "password-too-long",
        "use a password of at most 8 octets on every member: VRRPv2 carries 8 and the "
        "rest is cut off, not always the same way",
    ),
    (
        re.compile(r"\.authentication\Z"),
        "auth-with-v3",
        "remove the authentication, or use VRRP version 2 on every member (VRRPv3 has no "
        "authentication, RFC 5798 section 9)",
    ),
    (
        re.compile(r"\.address\Z"),
        "mixed-families",
        "use one group per address family (IPv6 with VRRPv3), or move the other family "
        "to excluded_address",
    ),
    (
        re.compile(r"\.vrid\Z"),
        "vrid-reused",
        "give each group on this interface and address family its own VRID (the VRID "
        "is part of the virtual MAC 00-00-5E-00-01-VRID)",
    ),
)


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or risky) in a set of routers' VRRP configurations."""

    severity: str  # ERROR or WARNING
    code: str  # a key of CODES
    group: str | None  # the VRRP group, as its first member names it; None: member-wide
    path: str  # the model key path concerned, e.g. "vrrp.groups.LAN.priority"
    members: tuple[str, ...]  # the members concerned
    message: str  # what is wrong, with the values (a password only as a fingerprint)
    fix: str  # what to do

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result (JSON-serialisable)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "group": self.group,
            "path": self.path,
            "members": list(self.members),
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Member:
    """One router's configuration as read for the checks.

    ``semantic``: (key path, why) pairs of the lenient load, the why naming the line
    where one is known. ``interface_addresses``: the router's own addresses per
    interface, where its configuration gives them (VyOS does, keepalived and
    routerhad JSON do not); they show who owns a virtual address.
    """

    config: Config
    semantic: tuple[tuple[str, str], ...] = ()
    interface_addresses: Mapping[str, tuple[IPInterface, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    kind: str = "routerha"


def load_member(
    data: str | Mapping[str, Any],
    kind: str = "auto",
    source: str = "<member>",
    config_id: str | None = None,
) -> Member:
    """Read one router's configuration for :func:`check_members`.

    ``data`` is native text (``kind`` one of KINDS), routerhad's model as a mapping or
    JSON text (``kind="routerha"``), and ``kind="auto"`` tells them apart (a mapping
    or text starting with ``{`` is the model). Semantic problems do not raise: they
    come back in ``Member.semantic``. ``config_id`` names the router for keepalived's
    conditional lines (``@ID ...``, keepalived's -i); without one they are left out
    and reported in ``Member.warnings``. Raises NativeParseError (a ConfigError) naming
    ``source`` and, where there is one, the line; ValueError for an unknown kind.
    """
    if kind not in MEMBER_KINDS:
        raise ValueError(f"unknown configuration kind {kind!r}; expected one of {MEMBER_KINDS}")
    if kind == "auto":
        if not isinstance(data, str) or data.lstrip().startswith("{"):
            kind = "routerha"
        else:
            try:
                kind = detect_kind(data)
            except NativeParseError as exc:
                raise NativeParseError(source, exc.located) from None
    if kind == "routerha":
        return _load_model(data, source)
    if not isinstance(data, str):
        raise ValueError(f"a {kind} configuration is text, not {type(data).__name__}")
    found: list[SemanticProblem] = []
    warnings: list[str] = []
    config = parse_native(data, kind, source, warnings, found, config_id)
    addresses: dict[str, tuple[IPInterface, ...]] = {}
    for ifname, values in native_interface_addresses(data, kind, source).items():
        parsed = []
        for value in values:
            try:
                parsed.append(ipaddress.ip_interface(value))
            except ValueError:
                continue  # "dhcp" and the like: no address known
        addresses[ifname] = tuple(parsed)
    return Member(
        config=config,
        semantic=tuple((p.path, f"{p.why} ({p.where})") for p in found),
        interface_addresses=addresses,
        warnings=tuple(warnings),
        kind=kind,
    )


def _load_model(data: str | Mapping[str, Any], source: str) -> Member:
    """routerhad's JSON model, as text or as already parsed data."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise NativeParseError(
                source, [(exc.lineno, f"is not JSON: column {exc.colno}: {exc.msg}")]
            ) from exc
    try:
        config, found = load_config_lenient(dict(data) if isinstance(data, Mapping) else data)
    except ConfigError as exc:
        located: list[tuple[int | None, str]] = [
            (None, f"{path}: {why}" if path else why) for path, why in exc.problems
        ]
        raise NativeParseError(source, located) from exc
    return Member(config=config, semantic=tuple(found), kind="routerha")


# Matching groups across members


@dataclass
class GroupCluster:
    """One virtual router: the group of each member that takes part in it."""

    groups: dict[str, VrrpGroup] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return next(iter(self.groups.values())).name

    @property
    def family(self) -> int:
        return _family(next(iter(self.groups.values())))

    def ips(self) -> set[Any]:
        return {ip for group in self.groups.values() for ip in group.advertised_addresses}

    def label(self) -> str:
        """The name, with the other members' names where they differ."""
        others = [f"{g.name} on {m}" for m, g in self.groups.items() if g.name != self.name]
        return f"{self.name} ({', '.join(others)})" if others else self.name

    def path(self, key: str) -> str:
        return f"vrrp.groups.{self.name}.{key}"


def _family(group: VrrpGroup) -> int:
    return group.address[0].version if group.address else 0


def _key(group: VrrpGroup) -> tuple[str, int, int]:
    return (group.interface, _family(group), group.vrid)


def match_groups(configs: Mapping[str, Config]) -> list[GroupCluster]:
    """Put each member's groups into clusters, exact (interface, family, VRID) first,
    then by shared virtual addresses (a VRID or interface name that differs)."""
    clusters: list[GroupCluster] = []
    for member, config in configs.items():
        pending = []
        for group in config.groups.values():
            for cluster in clusters:
                if member not in cluster.groups and any(
                    _key(g) == _key(group) for g in cluster.groups.values()
                ):
                    cluster.groups[member] = group
                    break
            else:
                pending.append(group)
        for group in pending:
            best: GroupCluster | None = None
            best_overlap = 0
            ips = set(group.advertised_addresses)
            for cluster in clusters:
                if member in cluster.groups or cluster.family != _family(group):
                    continue
                overlap = len(ips & cluster.ips())
                if overlap > best_overlap:
                    best, best_overlap = cluster, overlap
            if best is None:
                clusters.append(GroupCluster({member: group}))
            else:
                best.groups[member] = group
    return clusters


# The checks


class _Report:
    """Findings under construction, and the fingerprints of one report."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.findings: list[Finding] = []

    def add(
        self,
        code: str,
        group: str | None,
        path: str,
        members: Sequence[str],
        message: str,
        fix: str,
    ) -> None:
        severity = CODES[code][0]
        self.findings.append(Finding(severity, code, group, path, tuple(members), message, fix))

    def fingerprint(self, password: str) -> str:
        return f"fingerprint {keyed_digest(self.key, password, 8)}"


def check_members(
    members: Mapping[str, Config | Member],
    *,
    semantic: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    interface_addresses: Mapping[str, Mapping[str, Sequence[IPInterface]]] | None = None,
    fingerprint_key: bytes | None = None,
) -> list[Finding]:
    """Compare the VRRP configurations of ``members`` (name -> Config or Member).

    ``semantic`` adds (key path, why) problems of a member's lenient load (a Member
    brings its own), ``interface_addresses`` a member's own addresses per interface
    (likewise). ``fingerprint_key`` fixes the password fingerprint key, for tests
    only: by default every call draws its own (see the module docstring). Returns
    the findings sorted by group, code and path; an empty list means consistent.
    """
    configs: dict[str, Config] = {}
    problems: dict[str, list[tuple[str, str]]] = {}
    addresses: dict[str, dict[str, tuple[IPInterface, ...]]] = {}
    for name, value in members.items():
        if isinstance(value, Member):
            configs[name] = value.config
            problems[name] = list(value.semantic)
            addresses[name] = dict(value.interface_addresses)
        else:
            configs[name] = value
            problems[name] = []
            addresses[name] = {}
        problems[name].extend((semantic or {}).get(name, ()))
        for ifname, found in (interface_addresses or {}).get(name, {}).items():
            addresses[name][ifname] = tuple(found)
    report = _Report(fingerprint_key if fingerprint_key is not None else secrets.token_bytes(32))
    clusters = match_groups(configs)
    cluster_of = {
        (member, group.name): index
        for index, cluster in enumerate(clusters)
        for member, group in cluster.groups.items()
    }
    for index, cluster in enumerate(clusters):
        _check_presence(report, cluster, list(configs))
        _check_preempt_delay(report, cluster)
        _check_owners(report, cluster, addresses)
        if len(cluster.groups) < 2:
            continue
        _check_settings(report, cluster)
        _check_disabled(report, cluster)
        _check_authentication(report, cluster)
        _check_addresses(report, cluster)
        _check_priorities(report, cluster)
        _check_sync_membership(report, index, clusters, configs, cluster_of)
    _check_sync_groups(report, configs, clusters, cluster_of)
    _check_sync_keys(report, configs)
    _map_semantic(report, problems, clusters, cluster_of)
    return sorted(
        report.findings, key=lambda f: (f.group or "", f.code, f.path, f.members, f.message)
    )


#: What a router's planned configuration may not change on its own: the members of
#: its groups, changed one after another, would each drop the others'
#: advertisements meanwhile and all become master.
SPLITTING = frozenset(
    {
        "auth-type-mismatch",
        "password-mismatch",
        "version-mismatch",
        "advertise-interval-mismatch",
        "address-mismatch",
        "vrid-mismatch",
    }
)


def splitting_changes(running: Config, planned: Config) -> list[Finding]:
    """The changes from ``running`` to ``planned`` (one router's configurations)
    that its group's members must make together, not one at a time: the findings
    of ``check_members`` between the two, as if they were two members of the group,
    that split a group. A finding names the planned group (the running one may be
    named otherwise, as the vyatta syntax's ``eth1-40``)."""
    findings = check_members({"planned": planned, "running": running})
    return [f for f in findings if f.code in SPLITTING]


def splitting_report(running: Config | None, planned: Config) -> list[dict[str, Any]]:
    """``splitting_changes`` as the modules return them (group, code, message); none
    without a running configuration to compare with (a first deploy)."""
    if running is None:
        return []
    return [
        {"group": f.group, "code": f.code, "message": f.message}
        for f in splitting_changes(running, planned)
    ]


def _values(cluster: GroupCluster, get: Callable[[VrrpGroup], Any]) -> dict[str, Any]:
    return {member: get(group) for member, group in cluster.groups.items()}


def _listing(values: Mapping[str, Any], show: Callable[[Any], str] = str) -> str:
    return ", ".join(f"{member} {show(value)}" for member, value in values.items())


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _check_presence(report: _Report, cluster: GroupCluster, names: list[str]) -> None:
    """A group some members lack: those members back nothing up."""
    missing = [name for name in names if name not in cluster.groups]
    if not missing:
        return
    present = list(cluster.groups)
    group = next(iter(cluster.groups.values()))
    where = f"VRID {group.vrid} on {group.interface} (IPv{cluster.family})"
    if len(present) == 1:
        report.add(
            "group-single",
            cluster.name,
            f"vrrp.groups.{cluster.name}",
            present,
            f"{cluster.label()} ({where}) is configured on {present[0]} only: no "
            f"redundancy; {', '.join(missing)} has no group with its VRID or addresses",
            f"configure the group on {', '.join(missing)} too, or remove it from "
            f"{present[0]} if it needs no backup",
        )
    else:
        report.add(
            "group-missing",
            cluster.name,
            f"vrrp.groups.{cluster.name}",
            [*present, *missing],
            f"{cluster.label()} ({where}) is on {', '.join(present)} but not on "
            f"{', '.join(missing)}",
            f"configure the group on {', '.join(missing)} too, if they are meant to back it up",
        )


def _check_preempt_delay(report: _Report, cluster: GroupCluster) -> None:
    if any(g.preempt for g in cluster.groups.values()):
        return
    delays = {m: g.preempt_delay for m, g in cluster.groups.items() if g.preempt_delay}
    if delays:
        report.add(
            "preempt-delay-without-preempt",
            cluster.name,
            cluster.path("preempt_delay"),
            list(delays),
            f"{cluster.label()}: preempt_delay is set ({_listing(delays, _seconds)}) but no "
            "member preempts, so it never applies",
            "remove preempt_delay, or enable preempt on the member that should take over",
        )


def _check_settings(report: _Report, cluster: GroupCluster) -> None:
    """Settings every member must share for the advertisements to be accepted."""
    label = cluster.label()
    checks: tuple[tuple[str, str, str, Callable[[VrrpGroup], Any], Callable[[Any], str]], ...] = (
        ("version-mismatch", "version", "VRRP version", lambda g: g.version, lambda v: f"v{v}"),
        (
            "advertise-interval-mismatch",
            "advertise_interval",
            "advertisement interval",
            lambda g: g.advertise_interval,
            _seconds,
        ),
        (
            "rfc3768-mismatch",
            "rfc3768_compatibility",
            "rfc3768_compatibility",
            lambda g: g.rfc3768_compatibility,
            lambda v: "on" if v else "off",
        ),
        ("vrid-mismatch", "vrid", "VRID", lambda g: g.vrid, str),
    )
    if all(g.version == 2 for g in cluster.groups.values()):
        interval_why = (
            "VRRPv2 drops advertisements whose interval is not its own (RFC 3768 section "
            "7.1), so each member sees no master and all become master"
        )
    else:
        interval_why = (
            "a VRRPv3 backup follows the master's interval, so how fast a failure is "
            "noticed depends on which member happens to be master"
        )
    why = {
        "version-mismatch": "a router drops advertisements of the other version, so each "
        "side sees no master and both become master",
        "advertise-interval-mismatch": interval_why,
        "rfc3768-mismatch": "one member answers for the virtual address with the virtual "
        "MAC 00-00-5E-00-01-VRID (on a macvlan interface), another with its own MAC, so "
        "ARP caches and rules naming the interface must change at every takeover",
        "vrid-mismatch": "the VRID identifies the virtual router: with different ones the "
        "members run separate virtual routers for the same addresses, both master",
    }
    for code, key, what, get, show in checks:
        values = _values(cluster, get)
        if len(set(values.values())) > 1:
            report.add(
                code,
                cluster.name,
                cluster.path(key),
                list(values),
                f"{label}: {what} differs ({_listing(values, show)}): {why[code]}",
                f"set the same {key} on every member",
            )


def _check_disabled(report: _Report, cluster: GroupCluster) -> None:
    disabled = [m for m, g in cluster.groups.items() if g.disable]
    if disabled and len(disabled) < len(cluster.groups):
        report.add(
            "group-disabled",
            cluster.name,
            cluster.path("disable"),
            disabled,
            f"{cluster.label()} is disabled on {', '.join(disabled)}: while it is, the "
            "other members have no backup from it",
            f"enable the group on {', '.join(disabled)} once the maintenance is over",
        )


def _check_authentication(report: _Report, cluster: GroupCluster) -> None:
    label = cluster.label()
    auths = _values(cluster, lambda g: g.authentication)
    types = {m: a.type.value if a else "none" for m, a in auths.items()}
    if len(set(types.values())) > 1:
        report.add(
            "auth-type-mismatch",
            cluster.name,
            cluster.path("authentication.type"),
            list(types),
            f"{label}: authentication differs ({_listing(types)}): each member drops the "
            "others' advertisements, so all become master",
            "configure the same authentication type and password on every member",
        )
        return
    if any(a is None for a in auths.values()):
        return
    sending = {m: a.password for m, a in auths.items() if a is not None}
    if len(set(sending.values())) < 2:
        return
    rejected = [
        f"{receiver} does not accept {sender}'s"
        for receiver, auth in auths.items()
        for sender, password in sending.items()
        if auth is not None and password not in auth.receive_passwords
    ]
    shown = _listing(sending, report.fingerprint)
    if rejected:
        report.add(
            "password-mismatch",
            cluster.name,
            cluster.path("authentication.password"),
            list(sending),
            f"{label}: the members send different passwords ({shown}) and "
            f"{'; '.join(rejected)}: a member that drops the master's advertisements "
            "becomes master too",
            "set the same password on every member; to change it without a flap, first "
            "add the new one to accept everywhere, then send it, then drop the old one",
        )
    else:
        report.add(
            "password-rollover",
            cluster.name,
            cluster.path("authentication.password"),
            list(sending),
            f"{label}: the members send different passwords ({shown}) but each accepts "
            "the others' (a password rollover in progress)",
            "finish the rollover: send the new password on every member, then remove the "
            "old one from accept",
        )


def _check_addresses(report: _Report, cluster: GroupCluster) -> None:
    values = _values(cluster, lambda g: frozenset(g.advertised_addresses))
    if len(set(values.values())) > 1:
        report.add(
            "address-mismatch",
            cluster.name,
            cluster.path("address"),
            list(values),
            f"{cluster.label()}: the virtual addresses differ "
            f"({_listing(values, lambda v: ', '.join(str(a) for a in sorted(v)))}): a "
            "takeover moves other addresses than the master held",
            "configure the same virtual addresses on every member",
        )
        return
    placed = _values(
        cluster,
        lambda g: frozenset(
            (a, g.interface_of(a)) for a in g.address + g.excluded_address if g.interface_of(a)
        ),
    )
    if len(set(placed.values())) > 1:
        report.add(
            "address-mismatch",
            cluster.name,
            cluster.path("address"),
            list(placed),
            f"{cluster.label()}: the addresses are installed on different interfaces "
            f"({_listing(placed, _placement)}): a takeover moves an address to another "
            "interface than the master held it on",
            "give every member the same interface for each address (address A interface Y, "
            "keepalived's A dev Y)",
        )


def _placement(placed: frozenset[tuple[Any, str]]) -> str:
    if not placed:
        return "all on the group's interface"
    return ", ".join(f"{a} on {ifname}" for a, ifname in sorted(placed, key=_placed_order))


def _placed_order(item: tuple[Any, str]) -> tuple[int, Any, str]:
    return (item[0].version, item[0], item[1])


def _check_priorities(report: _Report, cluster: GroupCluster) -> None:
    by_priority: dict[int, list[str]] = {}
    for member, group in cluster.groups.items():
        by_priority.setdefault(group.priority, []).append(member)
    for priority, sharing in sorted(by_priority.items()):
        if len(sharing) < 2:
            continue
        names = " and ".join(sharing)
        if priority == OWNER_PRIORITY:
            report.add(
                "owner-duplicate",
                cluster.name,
                cluster.path("priority"),
                sharing,
                f"{cluster.label()}: {names} have priority 255 each, so each claims to own the "
                "virtual address (only one router can) and acts as master at once",
                "keep priority 255 only on the router whose own interface address is the "
                "virtual address; give the others 1-254",
            )
        else:
            report.add(
                "priority-equal",
                cluster.name,
                cluster.path("priority"),
                sharing,
                f"{cluster.label()}: {names} have the same priority {priority}: the election "
                "falls back to the highest primary IP address, not the configuration",
                "give each member a different priority, the intended master the highest",
            )


def _address_order(address: Any) -> tuple[int, Any]:
    return (address.version, address)


def _check_owners(
    report: _Report, cluster: GroupCluster, addresses: Mapping[str, Mapping[str, tuple[Any, ...]]]
) -> None:
    """Priority 255 belongs to the router that owns the virtual address (RFC 3768
    section 5.3.4, RFC 5798 section 5.2.4); checked where the interface addresses are
    known."""
    for member, group in cluster.groups.items():
        own = addresses.get(member, {}).get(group.interface)
        if not own:
            continue
        mine = {iface.ip for iface in own}
        # A dual-stack interface holds both families, which do not compare.
        owned = sorted(mine & set(group.advertised_addresses), key=_address_order)
        shown = ", ".join(str(a) for a in sorted(mine, key=_address_order))
        if group.address_owner and not owned:
            report.add(
                "owner-address-not-virtual",
                cluster.name,
                cluster.path("priority"),
                [member],
                f"{cluster.label()}: {member} has priority 255 (address owner) but none of "
                f"its addresses on {group.interface} ({shown}) is a virtual address",
                "give the member a priority of 1-254; 255 is for the router that owns the "
                "virtual address",
            )
        elif owned and not group.address_owner:
            report.add(
                "owner-priority",
                cluster.name,
                cluster.path("priority"),
                [member],
                f"{cluster.label()}: {member}'s own address {owned[0]} on {group.interface} "
                f"is a virtual address, so it is the address owner, but its priority is "
                f"{group.priority}, not 255",
                "give the address owner priority 255, or use a virtual address that is no "
                "router's own",
            )


def _sync_partners(
    config: Config, group: VrrpGroup, member: str, cluster_of: Mapping[tuple[str, str], int]
) -> tuple[str | None, frozenset[int]]:
    """The sync group of ``group`` on ``member`` and the clusters synced with it."""
    sync_group = config.sync_group_of(group.name)
    if sync_group is None:
        return None, frozenset()
    partners = {
        cluster_of[(member, name)]
        for name in sync_group.member
        if name != group.name and (member, name) in cluster_of
    }
    return sync_group.name, frozenset(partners)


def _check_sync_membership(
    report: _Report,
    index: int,
    clusters: list[GroupCluster],
    configs: Mapping[str, Config],
    cluster_of: Mapping[tuple[str, str], int],
) -> None:
    """A group synced with other groups on one member than on another: compared by the
    groups (matched across members), not by the sync group's name."""
    cluster = clusters[index]
    shared = {i for i, c in enumerate(clusters) if set(cluster.groups) <= set(c.groups)}
    seen: dict[str, tuple[str | None, frozenset[int]]] = {}
    for member, group in cluster.groups.items():
        name, partners = _sync_partners(configs[member], group, member, cluster_of)
        seen[member] = (name, partners & shared)
    if len({partners for _name, partners in seen.values()}) < 2:
        return

    def show(entry: tuple[str | None, frozenset[int]]) -> str:
        name, partners = entry
        if not partners:
            return "in no sync group with the others' groups" if name else "in no sync group"
        others = ", ".join(sorted(clusters[i].name for i in partners))
        return f"in sync group {name} with {others}"

    sync_name = next((name for name, _partners in seen.values() if name is not None), "")
    report.add(
        "sync-group-mismatch",
        cluster.name,
        f"vrrp.sync_groups.{sync_name}.member",
        list(seen),
        f"{cluster.label()}: the members sync it with different groups "
        f"({'; '.join(f'{m} {show(e)}' for m, e in seen.items())}): after a failure the "
        "members disagree on which groups move together, and forward and return traffic "
        "can take different routers",
        "put the same groups into one sync group on every member",
    )


def _check_sync_groups(
    report: _Report,
    configs: Mapping[str, Config],
    clusters: list[GroupCluster],
    cluster_of: Mapping[tuple[str, str], int],
) -> None:
    """Inside each member's sync groups; and whether a sync group's groups would be
    mastered by one router (they move together, so they must agree)."""
    conflicts: dict[frozenset[int], list[tuple[str, str]]] = {}
    for member, config in configs.items():
        for sync_group in config.sync_groups.values():
            groups = [config.groups[n] for n in sync_group.member if n in config.groups]
            if len(groups) < 2:
                continue
            path = f"vrrp.sync_groups.{sync_group.name}"
            where = f"on {member}, sync group {sync_group.name}"
            for code, key, get, show in (
                ("sync-priority-differs", "priority", lambda g: g.priority, str),
                (
                    "sync-preempt-delay-differs",
                    "preempt_delay",
                    lambda g: g.preempt_delay,
                    _seconds,
                ),
                ("sync-preempt-differs", "preempt", lambda g: g.preempt, str),
            ):
                values = {g.name: get(g) for g in groups}
                if len(set(values.values())) < 2:
                    continue
                if code == "sync-preempt-differs":
                    why = (
                        "some groups take the master role back and others do not, so the "
                        "sync group is pulled both ways after a recovery"
                    )
                else:
                    why = _SYNC_LOOP
                report.add(
                    code,
                    None,
                    path,
                    [member],
                    f"{where}: its groups differ in {key} ({_listing(values, show)}); {why}",
                    f"set the same {key} on every group of the sync group",
                )
            ids = frozenset(cluster_of[(member, g.name)] for g in groups)
            conflicts.setdefault(ids, []).append((member, sync_group.name))
    for ids, owners in conflicts.items():
        masters: dict[int, str] = {}
        for i in sorted(ids):
            cluster = clusters[i]
            if len(cluster.groups) < 2:
                continue
            top = max(g.priority for g in cluster.groups.values())
            winners = [m for m, g in cluster.groups.items() if g.priority == top]
            if len(winners) == 1:
                masters[i] = winners[0]
        if len(set(masters.values())) < 2:
            continue
        names = sorted({name for _member, name in owners})
        involved = [m for m in configs if any(m in clusters[i].groups for i in masters)]
        shown = ", ".join(f"{clusters[i].name} by {m}" for i, m in masters.items())
        report.add(
            "sync-master-conflict",
            None,
            f"vrrp.sync_groups.{owners[0][1]}",
            involved,
            f"sync group {' / '.join(names)}: its groups prefer different masters ({shown}); "
            "a sync group moves all its groups together, so the members keep taking it "
            f"from each other ({_SYNC_LOOP})",
            "give one member the highest priority in every group of the sync group; for "
            "load sharing, put the groups into different sync groups",
        )


def _check_sync_keys(report: _Report, configs: Mapping[str, Config]) -> None:
    """The conntrack sync link: unauthenticated members, and keys a member sends that
    another does not accept (it drops every datagram: nothing is synced). Keys are
    shown as key ids and fingerprints only."""
    auths = {
        m: c.conntrack_sync.authentication
        for m, c in configs.items()
        if c.conntrack_sync is not None
    }
    path = "conntrack_sync.authentication"
    open_link = [m for m, a in auths.items() if a is not None and not a.enabled]
    if open_link:
        report.add(
            "sync-unauthenticated",
            None,
            path,
            open_link,
            f"on {', '.join(open_link)}: the conntrack sync link is unauthenticated "
            "(authentication type none): whoever can send to it writes into the connection "
            "table and the peer's cache",
            "give every member the same key (conntrack_sync.authentication: type "
            "hmac-sha256, key_id, key), or keep the sync link on a cable nobody else reaches",
        )
    keyed = {m: a for m, a in auths.items() if a is not None and a.enabled}
    if len(auths) < 2 or not keyed:
        return
    sending = {m: (a.key_id, a.key) for m, a in keyed.items()}
    rejected = [
        f"{receiver} does not accept {sender}'s"
        for receiver, auth in auths.items()
        for sender, (key_id, key) in sending.items()
        if receiver != sender
        and (
            auth is None
            or not auth.enabled
            or all((k.key_id, k.key) != (key_id, key) for k in auth.receive_keys)
        )
    ]
    shown = ", ".join(
        f"{m} key id {key_id} ({report.fingerprint(f'{key_id}:{key}')})"
        for m, (key_id, key) in sending.items()
    )
    if rejected:
        report.add(
            "sync-key-mismatch",
            None,
            path,
            list(auths),
            f"the members' conntrack sync keys ({shown}) do not match: "
            f"{'; '.join(rejected)}, and drops its datagrams (nothing is synced)",
            "give every member the same key; to change it without a loss, first add the new "
            "one to accept everywhere, then send it, then drop the old one",
        )
    elif len(set(sending.values())) > 1:
        report.add(
            "sync-key-rollover",
            None,
            path,
            list(sending),
            f"the members send different conntrack sync keys ({shown}) but each accepts "
            "the others' (a key change in progress)",
            "finish the change: send the new key on every member, then remove the old one "
            "from accept",
        )


def _map_semantic(
    report: _Report,
    problems: Mapping[str, Sequence[tuple[str, str]]],
    clusters: list[GroupCluster],
    cluster_of: Mapping[tuple[str, str], int],
) -> None:
    """A member's semantic problems as findings, under the group's report name."""
    for member, items in problems.items():
        for path, why in items:
            group = _group_of(path, member, clusters, cluster_of)
            code, fix = "semantic-problem", "correct the value: the router refuses it"
            for pattern, known, known_fix in _SEMANTIC:
                if pattern.search(path):
                    code, fix = known, known_fix
                    break
            report.add(code, group, path, [member], f"on {member}: {path}: {why}", fix)


def _group_of(
    path: str,
    member: str,
    clusters: list[GroupCluster],
    cluster_of: Mapping[tuple[str, str], int],
) -> str | None:
    """The report name of the group a member's key path is in (names may hold dots)."""
    best: tuple[int, str] | None = None
    for (owner, name), index in cluster_of.items():
        prefix = f"vrrp.groups.{name}"
        inside = path == prefix or path.startswith(prefix + ".")
        if owner == member and inside and (best is None or len(name) > best[0]):
            best = (len(name), clusters[index].name)
    return best[1] if best else None
