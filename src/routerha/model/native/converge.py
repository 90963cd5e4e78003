"""The commands that make a router's native configuration say what the model says.

A native backend (the ``vyatta_config`` action) reads ``show configuration
commands``, and applies the planned ``delete`` and ``set`` lines through
``vyatta-cfg-cmd-wrapper`` in one commit. Only what routerha's configuration owns is
touched (owned_paths): its groups' and sync groups' subtrees, ``service
conntrack-sync`` when it has conntrack sync, and in the VyOS syntaxes the few global
nodes that would change its groups (``high-availability disable``,
``global-parameters version`` and ``garp``). Besides, native groups on the same
interface, VRID and address family as a desired group but under another path
(another name, or the other syntax) conflict with it: both would run on the wire,
so the plan deletes them.

Lines are compared as words (quotes do not matter) with addresses compared as
addresses (``10.0.0.2`` is ``10.0.0.2/32``). A current line the desired
configuration lacks is deleted by the shortest prefix of its path, within the owned
subtree, that holds no desired line; a single-valued leaf is overwritten by its
``set`` instead, and a leaf at the value the router assumes anyway (Vyatta writes
``advertise-interval 1`` and ``preempt true`` into every group) is left as it is.
So a router that already matches gets no command at all, and the plan is minimal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Union

from ..conntrack_sync import DEFAULT_MCAST_GROUP, DEFAULT_PORT, ConntrackSync
from ..vrrp import Config, Garp, HealthCheck, VrrpGroup
from .common import NativeParseError, Statement, number
from .render import (
    CONNTRACK,
    GLOBAL,
    HA_VRRP,
    Line,
    Path,
    RenderError,
    command,
    dialect,
    group_path,
    render_lines,
    sync_group_path,
)
from .vyos_set import (
    CONNTRACK_SCHEMA,
    FLAG,
    GLOBAL_SCHEMA,
    GROUP_SCHEMA,
    LEGACY_GROUP_SCHEMA,
    ONE,
    SYNC_GROUP_SCHEMA,
    Schema,
    interpret,
    read_set_lines,
    split_interface,
)

GROUP_CONFLICT = "vrrp-group"
CONNTRACK_CONFLICT = "conntrack-sync"
HA_DISABLE: Path = ("high-availability", "disable")


@dataclass(frozen=True)
class Conflict:
    """Native configuration that would run beside (or instead of) the desired one.

    ``kind`` is ``"vrrp-group"`` or ``"conntrack-sync"``; ``path`` the native subtree;
    ``group`` the native group's name as the parser gives it (``eth1-10`` for VyOS 1.1)
    or, for conntrack-sync, the sync group it follows; ``desired`` the desired group
    it collides with.
    """

    kind: str
    path: Path
    interface: str | None
    vrid: int | None
    group: str | None
    desired: str | None = None

    def __str__(self) -> str:
        where = " ".join(self.path)
        if self.kind == CONNTRACK_CONFLICT:
            link = f" over {self.interface}" if self.interface else ""
            return (
                f"native conntrack-sync{link} ('{where}') is replaced by the configuration's "
                "conntrack_sync"
            )
        return (
            f"native VRRP group {self.group!r} ('{where}') runs on {self.interface} with "
            f"VRID {self.vrid}, as the configuration's group {self.desired!r} does"
        )


# Reading the running configuration


#: The running configuration: ``show configuration commands`` text, or the same
#: already read by :func:`read_running` (a caller asking several questions of one
#: configuration reads it once).
Running = Union[str, Sequence[Statement]]


def read_running(text: str, source: str = "<running>") -> list[Statement]:
    """``show configuration commands`` output as statements; NativeParseError naming
    the lines it cannot read."""
    statements, errors = read_set_lines(text)
    if errors:
        raise NativeParseError(source, list(errors))
    return statements


def _statements(running: Running, source: str) -> list[Statement]:
    return read_running(running, source) if isinstance(running, str) else list(running)


def _read(running: Running, source: str, syntax: str | None) -> list[Statement]:
    """The statements of ``running``, once ``syntax`` (None: routerhad's) is known."""
    if syntax is not None:
        dialect(syntax)  # ValueError for an unknown syntax
    return _statements(running, source)


def _prefixes(keys: Iterable[Path]) -> set[Path]:
    """Every path that holds one of ``keys`` (the keys included)."""
    return {key[:size] for key in keys for size in range(1, len(key) + 1)}


class _Located(NamedTuple):
    """Where a statement about a group sits: the group's name as the parser names it,
    its subtree, whether it is the VyOS 1.1 form, its interface there, the rest."""

    name: str
    path: Path
    legacy: bool
    interface: str | None
    rest: Path


def _locate(words: Path) -> _Located | None:
    if words[:3] == (*HA_VRRP, "group") and len(words) >= 4:
        return _Located(words[3], words[:4], False, None, words[4:])
    if words[:1] != ("interfaces",):
        return None
    split = split_interface(words[1:])
    if split is None:
        return None
    ifname, tail = split
    if len(tail) < 3 or tail[:2] != ("vrrp", "vrrp-group"):
        return None
    end = len(words) - len(tail) + 3
    return _Located(f"{ifname}-{tail[2]}", words[:end], True, ifname, tail[3:])


@dataclass
class _Native:
    """A native group as far as the conflict check needs it (read from its words
    alone, so that a group the model cannot hold does not hide the others)."""

    name: str
    path: Path
    legacy: bool
    interface: str | None = None
    vrid: int | None = None
    family: int | None = None
    sync_group: str | None = None  # VyOS 1.1 membership

    def note(self, rest: Path) -> None:
        if len(rest) < 2:
            return
        node, value = rest[0], rest[1]
        if node == "interface" and not self.legacy:
            self.interface = value
        elif node == "vrid" and not self.legacy and value.isdigit():
            self.vrid = int(value)
        elif node in ("address", "virtual-address") and self.family is None:
            self.family = 6 if ":" in value else 4
        elif node == "sync-group" and self.legacy:
            self.sync_group = value


def _native_groups(statements: list[Statement]) -> dict[str, _Native]:
    out: dict[str, _Native] = {}
    for st in statements:
        found = _locate(st.words)
        if found is None:
            continue
        group = out.get(found.name)
        if group is None:
            group = out[found.name] = _Native(found.name, found.path, found.legacy)
            if found.legacy:
                group.interface = found.interface
                group.vrid = int(found.path[-1]) if found.path[-1].isdigit() else None
        if group.path == found.path:  # a name in both syntaxes is the parser's error
            group.note(found.rest)
    return out


def _sync_members(statements: list[Statement]) -> dict[str, list[str]]:
    """VyOS 1.2+ ``sync-group NAME member X`` lists, in order."""
    out: dict[str, list[str]] = {}
    for st in statements:
        words = st.words
        if words[:3] == (*HA_VRRP, "sync-group") and len(words) >= 4:
            members = out.setdefault(words[3], [])
            if words[4:5] == ("member",) and len(words) == 6:
                members.append(words[5])
    return out


def _native_conntrack(statements: list[Statement]) -> Conflict | None:
    lines = [st.words[2:] for st in statements if st.words[:2] == CONNTRACK]
    if not lines:
        return None
    interface = next(
        (rest[1] for rest in lines if rest[:1] == ("interface",) and len(rest) > 1), None
    )
    followed = next(
        (
            rest[3]
            for rest in lines
            if rest[:3] == ("failover-mechanism", "vrrp", "sync-group") and len(rest) == 4
        ),
        None,
    )
    return Conflict(CONNTRACK_CONFLICT, CONNTRACK, interface, None, followed)


# Ownership and conflicts


def owned_paths(config: Config, syntax: str) -> list[Path]:
    """The subtrees ``config`` owns on a router of ``syntax``: every group's and sync
    group's, ``service conntrack-sync`` when it has conntrack sync and, in the VyOS
    syntaxes, ``high-availability disable`` and ``global-parameters version``/``garp``,
    which would change its groups. RenderError for an interface the vyatta syntax
    cannot place."""
    d = dialect(syntax)
    paths = sorted(group_path(g, syntax) for g in config.groups.values())
    if not d.legacy:
        paths += [p for p in (sync_group_path(n, syntax) for n in sorted(config.sync_groups)) if p]
        if config.groups:
            paths += [HA_DISABLE, (*GLOBAL, "garp"), (*GLOBAL, "version")]
    if config.conntrack_sync is not None:
        paths.append(CONNTRACK)
    return paths


def _own_group_paths(desired: Config, syntax: str | None) -> set[Path]:
    """Where ``syntax`` puts the desired groups (none at all for routerhad: None)."""
    if syntax is None:
        return set()
    paths = set()
    for group in desired.groups.values():
        try:
            paths.add(group_path(group, syntax))
        except RenderError:
            continue  # not renderable there: nothing on the router can be ours
    return paths


def _covered(native: _Native, desired: Config) -> VrrpGroup | None:
    """The desired group on the native group's interface, VRID and family."""
    for name in sorted(desired.groups):
        group = desired.groups[name]
        if (group.interface, group.vrid) != (native.interface, native.vrid):
            continue
        if native.family is None or not group.address or group.address[0].version == native.family:
            return group
    return None


def _conflicts(statements: list[Statement], desired: Config, syntax: str | None) -> list[Conflict]:
    ours = _own_group_paths(desired, syntax)
    out = []
    for native in _native_groups(statements).values():
        if native.path in ours:
            continue
        group = _covered(native, desired)
        if group is not None:
            out.append(
                Conflict(
                    GROUP_CONFLICT,
                    native.path,
                    native.interface,
                    native.vrid,
                    native.name,
                    group.name,
                )
            )
    if desired.conntrack_sync is not None:
        conntrack = _native_conntrack(statements)
        if conntrack is not None:
            out.append(conntrack)
    return out


def conflicts(
    current_text: Running, desired: Config, source: str = "<running>", syntax: str | None = "vyos"
) -> list[Conflict]:
    """Native groups in ``current_text`` (set lines, any syntax) on the interface,
    VRID and address family of a desired group but under another path than ``syntax``
    gives that group (another name, or the other syntax), and a native ``service
    conntrack-sync`` when ``desired`` has conntrack sync.

    ``syntax=None`` (routerhad, which uses no CLI subtree) counts every native group on
    a desired group's slot. Raises NativeParseError for unreadable set lines.
    """
    return _conflicts(_read(current_text, source, syntax), desired, syntax)


# Comparing lines


def _canon(word: str) -> str:
    """Addresses as addresses: ``10.0.0.2`` and ``10.0.0.2/32`` are one value."""
    if "." in word or ":" in word:
        try:
            return str(ipaddress.ip_interface(word))
        except ValueError:
            return word
    return word


def _key(words: Path) -> Path:
    return tuple(_canon(word) for word in words)


class _Wanted:
    """The desired lines, indexed for the questions the plan asks."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines
        self.keys = {_key(line.words) for line in lines}
        #: Every path that holds a desired line (the lines included).
        self.prefixes = _prefixes(self.keys)
        #: Leaf nodes given a value (whose current value a set overwrites).
        self.leaves = {_key(line.path) for line in lines if line.value is not None}


#: Schemas by the kind of subtree, to tell single-valued leaves from multi ones.
_SCHEMAS: dict[str, Schema] = {
    "group": GROUP_SCHEMA,
    "legacy": LEGACY_GROUP_SCHEMA,
    "sync": SYNC_GROUP_SCHEMA,
    "global": GLOBAL_SCHEMA,
    "conntrack": CONNTRACK_SCHEMA,
}
#: Single-valued leaves the parser reads through custom handlers.
_SINGLE_EXTRA = frozenset(
    {
        ("global", ("version",)),
        *(("global", key) for key in GLOBAL_SCHEMA if key[:1] == ("garp",)),
        ("legacy", ("sync-group",)),
        ("conntrack", ("interface", "*", "peer")),
        ("conntrack", ("interface", "*", "port")),
    }
)
#: Values the router assumes when the leaf is absent, as the parser does too: such a
#: line is left alone when the desired configuration does not mention the leaf. They
#: are the model's own defaults (compared as numbers: "1" is 1.0), read from it so the
#: two cannot drift apart; VyOS 1.1's ``preempt true`` is its own spelling.
_GROUP_DEFAULTS: dict[Path, str] = {
    ("advertise-interval",): str(VrrpGroup.advertise_interval),
    ("priority",): str(VrrpGroup.priority),
    ("preempt-delay",): str(VrrpGroup.preempt_delay),
}
_CHECK_DEFAULTS: dict[Path, str] = {
    ("health-check", "interval"): str(HealthCheck.interval),
    ("health-check", "failure-count"): str(HealthCheck.failure_count),
}
_DEFAULTS: dict[str, dict[Path, str]] = {
    "group": {
        **_GROUP_DEFAULTS,
        **_CHECK_DEFAULTS,
        ("garp", "interval"): str(Garp.interval),
        ("garp", "master-delay"): str(Garp.master_delay),
        ("garp", "master-repeat"): str(Garp.master_repeat),
        ("garp", "master-refresh-repeat"): str(Garp.master_refresh_repeat),
    },
    "legacy": {**_GROUP_DEFAULTS, ("preempt",): "true", **_CHECK_DEFAULTS},
    "sync": dict(_CHECK_DEFAULTS),
    "conntrack": {
        ("mcast-group",): str(DEFAULT_MCAST_GROUP),
        ("event-listen-queue-size",): str(ConntrackSync.event_listen_queue_size),
        ("sync-queue-size",): str(ConntrackSync.sync_queue_size),
        ("interface", "*", "port"): str(DEFAULT_PORT),
    },
}


def _subtree(words: Path) -> tuple[str, Path] | None:
    """The kind of subtree a line is in, and its words below the subtree's root (a
    conntrack-sync interface name written ``*``, as the tables above have it)."""
    located = _locate(words)
    if located is not None:
        return ("legacy" if located.legacy else "group"), located.rest
    if words[:3] == (*HA_VRRP, "sync-group") and len(words) >= 4:
        return "sync", words[4:]
    if words[:3] == GLOBAL:
        return "global", words[3:]
    if words[:2] == CONNTRACK:
        rest = words[2:]
        if rest[:1] == ("interface",) and len(rest) > 2:
            rest = ("interface", "*", *rest[2:])
        return "conntrack", rest
    return None


def _leaf(words: Path) -> tuple[str, Path] | None:
    """(subtree kind, path below it) of a line whose last word may be a value:
    one at least two words below a subtree routerha reads; None otherwise."""
    found = _subtree(words)
    if found is None or len(found[1]) < 2:
        return None
    return found


def _value_kind(words: Path) -> str | None:
    """The schema kind of the leaf whose value the line's last word would be (ONE for
    the single-valued leaves the schemas leave out); None when it is no leaf value."""
    found = _leaf(words)
    if found is None:
        return None
    kind, rest = found
    if (kind, rest[:-1]) in _SINGLE_EXTRA:
        return ONE
    node = _SCHEMAS[kind].get(rest[:-1])
    return node.kind if node is not None else None


def _single_valued(words: Path) -> bool:
    """Whether the line's last word is the value of a leaf that holds one value."""
    return _value_kind(words) == ONE


def _takes_value(words: Path) -> bool:
    """Whether the last word is a value (quoted when printed) rather than a node."""
    return _value_kind(words) not in (None, FLAG)


def _at_default(words: Path) -> bool:
    found = _leaf(words)
    if found is None:
        return False
    kind, rest = found
    default = _DEFAULTS.get(kind, {}).get(rest[:-1])
    return default is not None and number(rest[-1]) == number(default)


# Planning


def _bound(key: Path, scope: list[Path]) -> int | None:
    """The length of the most specific scope path holding ``key``, if any."""
    sizes = [len(path) for path in scope if key[: len(path)] == _key(path)]
    return max(sizes) if sizes else None


def _kept(words: Path, key: Path, wanted: _Wanted) -> bool:
    """A current line that stays although no desired line says it exactly."""
    if _single_valued(words) and key[:-1] in wanted.leaves:
        return True  # the desired value's set overwrites it
    # The router's own default, where the desired configuration is silent: deleting it
    # changes nothing (and Vyatta would write it back).
    return _at_default(words) and key[:-1] not in wanted.prefixes and key[:-2] in wanted.prefixes


def _deletes(statements: list[Statement], wanted: _Wanted, scope: list[Path]) -> list[Path]:
    out = []
    for st in statements:
        key = _key(st.words)
        bound = _bound(key, scope)
        if bound is None or key in wanted.keys or _kept(st.words, key, wanted):
            continue
        for size in range(bound, len(key) + 1):
            if key[:size] not in wanted.prefixes:
                out.append(st.words[:size])
                break
    return out


def _removed_groups(deletes: list[Path]) -> set[str]:
    """The VyOS 1.2+ groups a list of deletes removes whole."""
    return {path[3] for path in deletes if len(path) == 4 and path[:3] == (*HA_VRRP, "group")}


def _sync_cleanup(statements: list[Statement], removed: set[str], scope: list[Path]) -> list[Path]:
    """Membership of removed groups in sync groups outside ``scope``: VyOS refuses a
    commit whose sync group names a missing group. A sync group all of whose members
    go goes too."""
    out: list[Path] = []
    for name, members in _sync_members(statements).items():
        path = (*HA_VRRP, "sync-group", name)
        going = [member for member in members if member in removed]
        if not going or _bound(_key(path), scope) is not None:
            continue
        if len(going) == len(members):
            out.append(path)
        else:
            out.extend((*path, "member", member) for member in going)
    return out


def _outermost(paths: list[Path]) -> list[Path]:
    """Each path once, and none below another (deleting that one deletes it too)."""
    keys = {_key(path) for path in paths}
    out, seen = [], set()
    for path in paths:
        key = _key(path)
        if key in seen or any(key[:size] in keys for size in range(1, len(key))):
            continue
        seen.add(key)
        out.append(path)
    return out


def _delete_commands(paths: list[Path], statements: list[Statement]) -> list[str]:
    lines = {_key(st.words) for st in statements}
    out = []
    for path in _outermost(paths):
        if _key(path) in lines and _takes_value(path):
            out.append(command("delete", path[:-1], path[-1]))
        else:
            out.append(command("delete", path))
    return out


def converge_commands(
    current_text: Running,
    desired: Config,
    syntax: str,
    previous: Config | None = None,
    source: str = "<running>",
) -> list[str]:
    """``delete`` then ``set`` lines that turn the owned subtrees of ``current_text``
    (``show configuration commands``), and the conflicting native groups, into
    ``desired`` rendered in ``syntax``; empty when the router already matches.

    ``previous``, the configuration applied before, makes its subtrees owned too, so
    that a group or sync group it had and ``desired`` dropped is deleted (without it
    such a group cannot be told from a native one, and is left alone). Raises
    RenderError and NativeParseError.
    """
    lines = render_lines(desired, syntax)
    statements = _statements(current_text, source)
    scope = owned_paths(desired, syntax)
    if previous is not None:
        scope += owned_paths(previous, syntax)
    scope += [c.path for c in _conflicts(statements, desired, syntax) if c.kind == GROUP_CONFLICT]
    wanted = _Wanted(lines)
    deletes = _deletes(statements, wanted, scope)
    deletes += _sync_cleanup(statements, _removed_groups(deletes), scope)
    # A desired tag node that exists with children below it is there already.
    present = _prefixes(_key(st.words) for st in statements)
    sets = [
        command("set", line.path, line.value) for line in lines if _key(line.words) not in present
    ]
    return _delete_commands(deletes, statements) + sets


def removal_commands(
    current_text: Running, desired: Config, source: str = "<running>", syntax: str | None = None
) -> list[str]:
    """The deletes that remove the native configuration conflicting with ``desired``:
    the conflicting groups' subtrees, their membership in sync groups (the sync group
    whole when all its members go), and ``service conntrack-sync`` when ``desired`` has
    conntrack sync. Empty when nothing conflicts.

    With the default ``syntax=None`` every native group on a desired group's slot
    conflicts, whatever its path: how routerhad takes over from the router's own VRRP.
    """
    statements = _read(current_text, source, syntax)
    found = _conflicts(statements, desired, syntax)
    paths = [c.path for c in found if c.kind == GROUP_CONFLICT]
    paths += _sync_cleanup(statements, _removed_groups(paths), [])
    paths += [c.path for c in found if c.kind == CONNTRACK_CONFLICT]
    return _delete_commands(paths, statements)


def native_part(
    current_text: Running, desired: Config, source: str = "<running>", syntax: str | None = None
) -> Config:
    """The native configuration removal_commands would remove, parsed into the model
    (for a migration: it becomes routerhad's configuration, or is compared with the
    inventory). Sync groups keep only the conflicting members; with a conflicting
    conntrack-sync, the sync group it follows comes along with all its members, since
    the model's conntrack_sync names one. Raises NativeParseError, naming the lines of
    ``current_text``, when that part does not make a valid model."""
    statements = _read(current_text, source, syntax)
    found = _conflicts(statements, desired, syntax)
    natives = _native_groups(statements)
    names = {c.group for c in found if c.kind == GROUP_CONFLICT and c.group}
    members = _sync_members(statements)
    conntrack = next((c for c in found if c.kind == CONNTRACK_CONFLICT), None)
    followed = conntrack.group if conntrack is not None else None
    if followed is not None:
        names |= set(members.get(followed, ())) & set(natives)
        names |= {name for name, native in natives.items() if native.sync_group == followed}
    part = _Part(
        paths=[natives[name].path for name in names],
        names=names,
        sync_groups={s for s, ms in members.items() if s == followed or set(ms) & names},
        modern=any(not natives[name].legacy for name in names),
        conntrack=conntrack is not None,
    )
    return interpret([st for st in statements if part.holds(st.words)], source, [])


@dataclass(frozen=True)
class _Part:
    """Which statements native_part keeps."""

    paths: list[Path]
    names: set[str]
    sync_groups: set[str]
    modern: bool  # VyOS 1.2+ groups: their global settings come along
    conntrack: bool

    def holds(self, words: Path) -> bool:
        if any(words[: len(path)] == path for path in self.paths):
            return True
        if words[:3] == (*HA_VRRP, "sync-group") and len(words) >= 4:
            if words[3] not in self.sync_groups:
                return False
            return words[4:5] != ("member",) or (len(words) > 5 and words[5] in self.names)
        if words[:3] == GLOBAL or words[:2] == HA_DISABLE:
            return self.modern
        return self.conntrack and words[:2] == CONNTRACK
