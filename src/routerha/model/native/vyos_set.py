"""VyOS / EdgeOS ``set`` command lines, and the one interpretation of VyOS paths.

Accepted input, one command per line:

* ``set PATH... [VALUE]`` with values bare, ``'single'`` or ``"double"`` quoted (as
  ``show configuration commands`` prints them); ``#`` starts a comment;
* ``edit PATH...`` (later ``set`` lines are relative to it), ``exit`` (back to the
  level before the last ``edit``), ``top``; ``commit``, ``save`` and ``configure``
  are skipped. ``delete`` is an error: a delete needs the configuration it applies to.
  An unquoted ``set``, ``delete``, ``edit`` or ``commit`` inside a line about
  interfaces, high-availability or conntrack-sync is taken for two commands run
  together (as copied from a web page or book) and refused.

Paths read (everything else, ``firewall``, ``nat``, ``system``..., is skipped):

* VyOS 1.4+ ``high-availability vrrp group NAME ...``, ``sync-group NAME ...``,
  ``global-parameters (version|garp ...)`` and ``high-availability disable``; VyOS
  1.2/1.3's ``virtual-address`` / ``virtual-address-excluded`` are read as
  ``address`` / ``excluded-address``;
* VyOS 1.1 / EdgeOS ``interfaces TYPE NAME [vif N | vif-s N [vif-c M]] vrrp
  vrrp-group VRID ...``: the group is named ``NAME-VRID`` (``eth0.100-1`` with a vif)
  and ``sync-group X`` on it makes it a member of sync group X;
* ``service conntrack-sync ...`` (1.1 to 1.4 forms);
* ``interfaces ... address X``: not part of the model, returned by
  :func:`interface_addresses`.

Mapping onto the model (docs/configuration.md): VyOS names with dashes as underscores,
and besides: 1.1 ``preempt true|false`` is ``preempt``, 1.4 ``no-preempt`` is
``preempt: false``; 1.1 ``run-transition-scripts master|backup|fault`` is
``transition_script`` (the value whole, arguments included); ``authentication type``
keeps VyOS's names (``plaintext-password``, ``ah``); ``global-parameters version``
sets the version of the IPv4 groups, ``global-parameters garp X`` every group's
``garp`` X the group does not set; ``high-availability disable`` disables every
group; conntrack-sync ``startup-resync`` absent means ``startup_resync: false``
(VyOS writes ``StartupResync off`` then, unlike the model's default), and every
conntrack-sync is unauthenticated (``authentication: {type: none}``: conntrackd has
no authentication),
``accept-protocol tcp,udp`` (Vyatta's comma list) is two protocols and
``ignore-address ipv4 X`` is ``ignore-address X``. Accepted and left out, having no
place in the model and no effect on the peers: ``vrrp snmp``, ``global-parameters
startup-delay``, conntrack-sync ``disable-syslog``. Refused, the model being unable to
say them: a second conntrack-sync interface or ``listen-address``,
``failover-mechanism cluster``. VyOS 1.4's ``address A interface Y`` (an address on
another interface than its group's) is ``{"address": A, "interface": Y}``.

Unknown nodes under VRRP or conntrack-sync are errors; every error names its line.
config_boot flattens the curly-brace form into the same paths and uses
:func:`interpret`, so both syntaxes mean the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..vrrp import Config
from .common import (
    Draft,
    Keys,
    NativeParseError,
    SemanticProblem,
    Statement,
    boolean,
    integer,
    is_ipv6_text,
    number,
    place_address,
    text_value,
)

#: Node kinds of the schema tables below.
ONE = "one"  # exactly one value
MULTI = "multi"  # one value per line, collected in a list
FLAG = "flag"  # valueless
IGNORE = "ignore"  # known, outside the model, without effect on it
REFUSE = "refuse"  # known, but the model cannot say it
CUSTOM = "custom"  # a method of the interpreter


@dataclass(frozen=True)
class Node:
    """How one VyOS node maps onto the model.

    ``key`` is the model key below the current base (``("authentication",
    "password")``), ``convert`` turns the value text into model data, ``value`` is
    what a valueless node stores, ``handler`` names an interpreter method for CUSTOM.
    """

    kind: str
    key: Keys = ()
    convert: Callable[[str], Any] = text_value
    value: Any = True
    handler: str = ""
    why: str = ""


Schema = dict[Keys, Node]

_HEALTH_CHECK: Schema = {
    ("health-check", "failure-count"): Node(ONE, ("health_check", "failure_count"), integer),
    ("health-check", "interval"): Node(ONE, ("health_check", "interval"), integer),
    ("health-check", "ping"): Node(ONE, ("health_check", "ping")),
    ("health-check", "script"): Node(ONE, ("health_check", "script")),
}

_TRANSITION_SCRIPT: Schema = {
    ("transition-script", state): Node(ONE, ("transition_script", state))
    for state in ("master", "backup", "fault", "stop")
}

_GARP_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "interval": ("interval", number),
    "master-delay": ("master_delay", integer),
    "master-refresh": ("master_refresh", integer),
    "master-refresh-repeat": ("master_refresh_repeat", integer),
    "master-repeat": ("master_repeat", integer),
}

#: Nodes common to a VRRP group in every VyOS version.
_GROUP_COMMON: Schema = {
    ("advertise-interval",): Node(ONE, ("advertise_interval",), number),
    ("authentication", "password"): Node(ONE, ("authentication", "password")),
    ("authentication", "type"): Node(ONE, ("authentication", "type")),
    ("description",): Node(ONE, ("description",)),
    ("disable",): Node(FLAG, ("disable",), value=True),
    ("hello-source-address",): Node(ONE, ("hello_source_address",)),
    ("peer-address",): Node(MULTI, ("peer_address",)),
    ("preempt-delay",): Node(ONE, ("preempt_delay",), integer),
    ("priority",): Node(ONE, ("priority",), integer),
    ("rfc3768-compatibility",): Node(FLAG, ("rfc3768_compatibility",), value=True),
}

#: VyOS 1.2+ ``high-availability vrrp group NAME``.
GROUP_SCHEMA: Schema = {
    **_GROUP_COMMON,
    **_HEALTH_CHECK,
    **_TRANSITION_SCRIPT,
    ("interface",): Node(ONE, ("interface",)),
    ("vrid",): Node(ONE, ("vrid",), integer),
    ("address",): Node(CUSTOM, ("address",), handler="_address"),
    ("excluded-address",): Node(CUSTOM, ("excluded_address",), handler="_address"),
    # VyOS 1.2/1.3 names of the same nodes.
    ("virtual-address",): Node(CUSTOM, ("address",), handler="_address"),
    ("virtual-address-excluded",): Node(CUSTOM, ("excluded_address",), handler="_address"),
    ("no-preempt",): Node(FLAG, ("preempt",), value=False),
    ("track", "exclude-vrrp-interface"): Node(
        FLAG, ("track", "exclude_vrrp_interface"), value=True
    ),
    ("track", "interface"): Node(MULTI, ("track", "interface")),
    **{
        ("garp", node): Node(ONE, ("garp", key), convert)
        for node, (key, convert) in _GARP_KEYS.items()
    },
}

#: VyOS 1.1 / EdgeOS ``interfaces TYPE NAME vrrp vrrp-group VRID``.
LEGACY_GROUP_SCHEMA: Schema = {
    **_GROUP_COMMON,
    ("health-check", "failure-count"): _HEALTH_CHECK[("health-check", "failure-count")],
    ("health-check", "interval"): _HEALTH_CHECK[("health-check", "interval")],
    ("health-check", "script"): _HEALTH_CHECK[("health-check", "script")],
    ("virtual-address",): Node(MULTI, ("address",)),
    ("preempt",): Node(ONE, ("preempt",), boolean),
    ("sync-group",): Node(CUSTOM, handler="_legacy_sync_group"),
    **{
        ("run-transition-scripts", state): Node(ONE, ("transition_script", state))
        for state in ("master", "backup", "fault")
    },
}

#: ``high-availability vrrp sync-group NAME``.
SYNC_GROUP_SCHEMA: Schema = {
    ("member",): Node(MULTI, ("member",)),
    **_HEALTH_CHECK,
    **_TRANSITION_SCRIPT,
}

#: ``high-availability vrrp global-parameters``.
GLOBAL_SCHEMA: Schema = {
    ("version",): Node(CUSTOM, handler="_global_version"),
    ("startup-delay",): Node(IGNORE),
    **{("garp", node): Node(CUSTOM, (node,), handler="_global_garp") for node in _GARP_KEYS},
}

#: ``service conntrack-sync``; ``ignore-address ipv4 X`` is the form before 1.4.
CONNTRACK_SCHEMA: Schema = {
    ("accept-protocol",): Node(CUSTOM, ("accept_protocol",), handler="_comma_list"),
    ("disable-external-cache",): Node(FLAG, ("disable_external_cache",), value=True),
    ("disable-syslog",): Node(IGNORE),
    ("event-listen-queue-size",): Node(ONE, ("event_listen_queue_size",), integer),
    ("expect-sync",): Node(CUSTOM, ("expect_sync",), handler="_comma_list"),
    ("failover-mechanism", "vrrp", "sync-group"): Node(ONE, ("failover_mechanism", "sync_group")),
    ("failover-mechanism", "cluster"): Node(
        REFUSE, why="routerha follows a VRRP sync group, not a clustering group"
    ),
    ("ignore-address",): Node(MULTI, ("ignore_address",)),
    ("ignore-address", "ipv4"): Node(MULTI, ("ignore_address",)),
    ("interface",): Node(CUSTOM, handler="_conntrack_interface"),
    ("listen-address",): Node(CUSTOM, ("listen_address",), handler="_single_of_multi"),
    ("mcast-group",): Node(ONE, ("mcast_group",)),
    ("startup-resync",): Node(FLAG, ("startup_resync",), value=True),
    ("sync-queue-size",): Node(ONE, ("sync_queue_size",), integer),
}

_VIF_NODES = ("vif", "vif-s", "vif-c")
#: Unquoted words that begin a command: a second one on a line is two commands run
#: together (as in a copy from a web page), not a value.
_COMMAND_WORDS = frozenset({"set", "delete", "edit", "commit"})
_SKIPPED_COMMANDS = frozenset({"commit", "save", "configure", "commit-confirm", "confirm"})


def _is_prefix(words: tuple[str, ...], schema: Schema) -> bool:
    """Whether ``words`` name a container node of ``schema`` (a proper prefix)."""
    size = len(words)
    return any(len(key) > size and key[:size] == words for key in schema)


def split_interface(words: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """``TYPE NAME [vif N | vif-s N [vif-c M]] REST`` -> (``NAME[.N[.M]]``, REST)."""
    if len(words) < 2:
        return None
    ifname = words[1]
    i = 2
    while i < len(words) and words[i] in _VIF_NODES:
        if i + 1 >= len(words):
            return None
        ifname = f"{ifname}.{words[i + 1]}"
        i += 2
    return ifname, words[i:]


def _relevant(path: list[str]) -> bool:
    """Paths this module reads (the others are skipped without a look)."""
    return path[:1] in (["interfaces"], ["high-availability"]) or path[:2] == [
        "service",
        "conntrack-sync",
    ]


class Interpreter:
    """Reads statements (full VyOS paths) into a Draft for load_config."""

    def __init__(self, source: str) -> None:
        self.draft = Draft(source)
        self.styles: dict[str, str] = {}
        self.global_version: tuple[Any, int, str] | None = None
        self.global_garp: dict[str, tuple[Any, int, str]] = {}
        self.disable: Statement | None = None
        self.conntrack: Statement | None = None
        #: ``address A interface Y``: (the address list's keys, A, Y, where), applied
        #: once every address is read (config.boot gives A before its interface).
        self.address_interfaces: list[tuple[Keys, str, str, Statement]] = []

    # Entry points

    def run(
        self, statements: list[Statement], semantic: list[SemanticProblem] | None = None
    ) -> Config:
        for statement in statements:
            self.statement(statement)
        self.finish()
        return self.draft.build(semantic)

    def statement(self, st: Statement) -> None:
        words = st.words
        if not words:
            return
        if words[0] == "high-availability":
            self._high_availability(st, words[1:])
        elif words[0] == "interfaces":
            self._interfaces(st, words[1:])
        elif words[:2] == ("service", "conntrack-sync"):
            if self.conntrack is None:
                self.conntrack = st
                self.draft.node(("conntrack_sync",))
                self.draft.note(("conntrack_sync",), st.line, st.text)
            self.apply(st, CONNTRACK_SCHEMA, ("conntrack_sync",), words[2:], words[:2])

    def finish(self) -> None:
        """Settings that reach across nodes: global defaults, ``disable``, checks."""
        draft = self.draft
        groups = draft.get(("vrrp", "groups"), {})
        for name, group in groups.items():
            base = ("vrrp", "groups", name)
            if self.global_version is not None and "version" not in group:
                value, line, text = self.global_version
                if not any(is_ipv6_text(a) for a in group.get("address", [])):
                    draft.set((*base, "version"), value, line, text)
            for key, (value, line, text) in self.global_garp.items():
                if not draft.has((*base, "garp", key)):
                    draft.set((*base, "garp", key), value, line, text)
            if self.disable is not None:
                draft.set((*base, "disable"), True, self.disable.line, self.disable.text)
        for keys, address, ifname, st in self.address_interfaces:
            place_address(draft, keys, address, ifname, st.line, st.text)
        if self.conntrack is not None and not draft.has(("conntrack_sync", "startup_resync")):
            # VyOS writes "StartupResync off" unless startup-resync is configured.
            draft.set(
                ("conntrack_sync", "startup_resync"),
                False,
                self.conntrack.line,
                self.conntrack.text,
            )
        if self.conntrack is not None:
            # VyOS's conntrack-sync (conntrackd) has no authentication: say so, as the
            # model wants it said (pair_check warns about an unauthenticated link).
            draft.set(
                ("conntrack_sync", "authentication", "type"),
                "none",
                self.conntrack.line,
                self.conntrack.text,
            )

    # Tree walking

    def apply(
        self,
        st: Statement,
        schema: Schema,
        base: Keys,
        rest: tuple[str, ...],
        where: tuple[str, ...],
    ) -> None:
        """Apply the words ``rest`` found under the node ``where`` (model keys ``base``)."""
        if not rest:
            return
        for size in range(len(rest), 0, -1):
            node = schema.get(rest[:size])
            if node is not None:
                break
        else:
            if _is_prefix(rest, schema):
                return
            known = 0
            while known < len(rest) and _is_prefix(rest[: known + 1], schema):
                known += 1
            level = (*where, *rest[:known])
            choices = sorted({key[known] for key in schema if key[:known] == rest[:known]})
            self.draft.error(
                st.line,
                f"unknown node {rest[known]!r} under '{' '.join(level)}' "
                f"(known: {', '.join(choices)}) in {st.text!r}",
            )
            return
        path = rest[:size]
        values = rest[size:]
        label = " ".join(path)
        if node.kind == IGNORE:
            return
        if node.kind == REFUSE:
            self.draft.error(st.line, f"'{label}' is not supported: {node.why}")
            return
        if node.kind == CUSTOM:
            getattr(self, node.handler)(st, node, base, values, (*where, *path))
            return
        if node.kind == FLAG:
            if values:
                self.draft.error(st.line, f"'{label}' takes no value, got {' '.join(values)!r}")
            else:
                self.draft.set((*base, *node.key), node.value, st.line, st.text)
            return
        if not values:
            if not _is_prefix(path, schema):
                self.draft.error(st.line, f"'{label}' needs a value")
            return
        if len(values) > 1:
            self.draft.error(
                st.line, f"'{label}' takes one value, got {len(values)}: {' '.join(values)!r}"
            )
            return
        value = node.convert(values[0])
        if node.kind == MULTI:
            self.draft.append((*base, *node.key), value, st.line, st.text)
        else:
            self.draft.set((*base, *node.key), value, st.line, st.text)

    def _one_value(self, st: Statement, values: tuple[str, ...], label: str) -> str | None:
        if len(values) == 1:
            return values[0]
        if not values:
            self.draft.error(st.line, f"'{label}' needs a value")
        else:
            self.draft.error(
                st.line, f"'{label}' takes one value, got {len(values)}: {' '.join(values)!r}"
            )
        return None

    # high-availability

    def _high_availability(self, st: Statement, rest: tuple[str, ...]) -> None:
        if not rest:
            return
        if rest[0] == "disable":
            if len(rest) > 1:
                self.draft.error(st.line, "'high-availability disable' takes no value")
            else:
                self.disable = st
        elif rest[0] == "vrrp":
            self._vrrp(st, rest[1:])
        # virtual-server (load balancing) and the rest are outside VRRP.

    def _vrrp(self, st: Statement, rest: tuple[str, ...]) -> None:
        where = ("high-availability", "vrrp")
        if not rest:
            return
        head = rest[0]
        if head in ("group", "sync-group"):
            if len(rest) < 2:
                self.draft.error(st.line, f"'{' '.join((*where, head))}' needs a name")
                return
            name = rest[1]
            if head == "group":
                base = ("vrrp", "groups", name)
                if not self._claim(st, name, "high-availability vrrp group"):
                    return
                self.draft.node(base)
                self.draft.note(base, st.line, st.text)
                self.apply(st, GROUP_SCHEMA, base, rest[2:], (*where, head, name))
            else:
                base = ("vrrp", "sync_groups", name)
                self.draft.node(base)
                self.draft.note(base, st.line, st.text)
                self.apply(st, SYNC_GROUP_SCHEMA, base, rest[2:], (*where, head, name))
        elif head == "global-parameters":
            self.apply(st, GLOBAL_SCHEMA, (), rest[1:], (*where, head))
        elif head == "snmp":
            if len(rest) > 1:
                self.draft.error(st.line, "'snmp' takes no value")
        else:
            self.draft.error(
                st.line,
                f"unknown node {head!r} under 'high-availability vrrp' "
                f"(known: global-parameters, group, snmp, sync-group) in {st.text!r}",
            )

    def _claim(self, st: Statement, name: str, style: str) -> bool:
        """One group name, one syntax: ``eth0-1`` cannot be both kinds of group."""
        other = self.styles.setdefault(name, style)
        if other != style:
            self.draft.error(
                st.line, f"group {name!r} is configured both as '{other}' and as '{style}'"
            )
            return False
        return True

    # interfaces (VyOS 1.1 / EdgeOS)

    def _interfaces(self, st: Statement, rest: tuple[str, ...]) -> None:
        split = split_interface(rest)
        if split is None:
            return
        ifname, tail = split
        if not tail:
            return
        if tail[0] == "vrrp":
            self._legacy_vrrp(
                st, ifname, tail[1:], ("interfaces", *rest[: len(rest) - len(tail) + 1])
            )
        elif "vrrp-group" in tail:
            self.draft.error(
                st.line,
                "'vrrp-group' at an unexpected place: expected 'interfaces TYPE NAME "
                f"[vif N] vrrp vrrp-group VRID ...' in {st.text!r}",
            )

    def _legacy_vrrp(
        self, st: Statement, ifname: str, rest: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        if not rest:
            return
        if rest[0] != "vrrp-group":
            self.draft.error(
                st.line,
                f"unknown node {rest[0]!r} under '{' '.join(where)}' (known: vrrp-group) "
                f"in {st.text!r}",
            )
            return
        if len(rest) < 2:
            self.draft.error(st.line, "'vrrp-group' needs a group number (the VRID)")
            return
        vrid = rest[1]
        name = f"{ifname}-{vrid}"
        if not self._claim(st, name, "interfaces ... vrrp vrrp-group"):
            return
        base = ("vrrp", "groups", name)
        if not self.draft.has(base):
            self.draft.set((*base, "interface"), ifname, st.line, st.text)
            self.draft.set((*base, "vrid"), integer(vrid), st.line, st.text)
        self.apply(st, LEGACY_GROUP_SCHEMA, base, rest[2:], (*where, "vrrp-group", vrid))

    # Custom nodes

    def _address(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        """``address X [interface Y]`` (VyOS 1.4 tag node), also 1.2/1.3's names."""
        label = " ".join(where)
        if not values:
            return  # the tag node named without an address: nothing yet
        address = values[0]
        self.draft.append((*base, *node.key), address, st.line, st.text)
        extra = values[1:]
        if not extra:
            return
        if extra[0] != "interface":
            self.draft.error(
                st.line,
                f"unknown node {extra[0]!r} under '{label} {address}' (known: interface)",
            )
            return
        ifname = self._one_value(st, extra[1:], f"{label} {address} interface")
        if ifname is not None:
            self.address_interfaces.append(((*base, *node.key), address, ifname, st))

    def _legacy_sync_group(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        """VyOS 1.1 ``vrrp-group N sync-group X``: membership of sync group X."""
        name = self._one_value(st, values, " ".join(where))
        if name is not None:
            self.draft.append(("vrrp", "sync_groups", name, "member"), base[-1], st.line, st.text)

    def _global_version(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        value = self._one_value(st, values, " ".join(where))
        if value is not None:
            self.global_version = (integer(value), st.line, st.text)

    def _global_garp(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        value = self._one_value(st, values, " ".join(where))
        if value is not None:
            key, convert = _GARP_KEYS[node.key[0]]
            self.global_garp[key] = (convert(value), st.line, st.text)

    def _comma_list(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        """A multi node that Vyatta wrote as one comma-separated value (``tcp,udp``)."""
        value = self._one_value(st, values, " ".join(where))
        if value is not None:
            for item in value.split(","):
                self.draft.append((*base, *node.key), item.strip(), st.line, st.text)

    def _single_of_multi(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        """A VyOS multi node the model holds one of (``listen-address``)."""
        value = self._one_value(st, values, " ".join(where))
        if value is None:
            return
        keys = (*base, *node.key)
        present = self.draft.get(keys)
        if present is not None and present != value:
            self.draft.error(
                st.line,
                f"a second '{' '.join(where)}' ({value}, after {present}): routerha's model "
                "holds one",
            )
            return
        self.draft.set(keys, value, st.line, st.text)

    def _conntrack_interface(
        self, st: Statement, node: Node, base: Keys, values: tuple[str, ...], where: tuple[str, ...]
    ) -> None:
        """``interface NAME`` (a leaf before 1.4) or ``interface NAME (peer X|port N)``."""
        label = " ".join(where)
        if not values:
            self.draft.error(st.line, f"'{label}' needs an interface name")
            return
        name = values[0]
        present = self.draft.get((*base, "interface"))
        if present is not None and present != name:
            self.draft.error(
                st.line,
                f"conntrack-sync over a second interface ({name}, after {present}): routerha "
                "syncs over one link",
            )
            return
        self.draft.set((*base, "interface"), name, st.line, st.text)
        extra = values[1:]
        if not extra:
            return
        if extra[0] == "peer":
            peer = self._one_value(st, extra[1:], f"{label} {name} peer")
            if peer is not None:
                self.draft.set((*base, "peer"), peer, st.line, st.text)
        elif extra[0] == "port":
            port = self._one_value(st, extra[1:], f"{label} {name} port")
            if port is not None:
                self.draft.set((*base, "port"), integer(port), st.line, st.text)
        else:
            self.draft.error(
                st.line, f"unknown node {extra[0]!r} under '{label} {name}' (known: peer, port)"
            )


def interpret(
    statements: list[Statement],
    source: str,
    errors: list[tuple[int, str]],
    semantic: list[SemanticProblem] | None = None,
) -> Config:
    """Build the model from full VyOS paths; ``errors`` are syntax errors found earlier,
    reported together with the interpretation's. ``semantic``: see Draft.build."""
    interpreter = Interpreter(source)
    for line, message in errors:
        interpreter.draft.error(line, message)
    return interpreter.run(statements, semantic)


def collect_addresses(statements: list[Statement]) -> dict[str, list[str]]:
    """``interfaces TYPE NAME [vif N] address X`` values per interface, as written."""
    out: dict[str, list[str]] = {}
    for st in statements:
        if st.words[:1] != ("interfaces",):
            continue
        split = split_interface(st.words[1:])
        if split is None:
            continue
        ifname, tail = split
        if len(tail) == 2 and tail[0] == "address":
            addresses = out.setdefault(ifname, [])
            if tail[1] not in addresses:
                addresses.append(tail[1])
    return out


# Set lines


def _words(line: str, lineno: int, errors: list[tuple[int, str]]) -> list[tuple[str, bool]] | None:
    """Split a command line like a shell: quotes group, ``#`` at a word start comments."""
    out: list[tuple[str, bool]] = []
    i, size = 0, len(line)
    while i < size:
        if line[i].isspace():
            i += 1
            continue
        if line[i] == "#":
            break
        chars: list[str] = []
        quoted = False
        while i < size and not line[i].isspace():
            char = line[i]
            if char in "'\"":
                quoted = True
                end = i + 1
                while end < size and line[end] != char:
                    if char == '"' and line[end] == "\\" and end + 1 < size:
                        end += 1
                    chars.append(line[end])
                    end += 1
                if end >= size:
                    errors.append((lineno, f"unterminated {char} quote"))
                    return None
                i = end + 1
            elif char == "\\" and i + 1 < size:
                chars.append(line[i + 1])
                i += 2
            else:
                chars.append(char)
                i += 1
        out.append(("".join(chars), quoted))
    return out


def read_set_lines(text: str) -> tuple[list[Statement], list[tuple[int, str]]]:
    """Set lines to full-path statements, resolving ``edit``; and the syntax errors."""
    statements: list[Statement] = []
    errors: list[tuple[int, str]] = []
    level: list[str] = []
    previous: list[list[str]] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        words = _words(line, lineno, errors)
        if not words:
            continue
        command, quoted = words[0]
        args = words[1:]
        if quoted:
            errors.append((lineno, f"a command cannot be quoted: {command!r}"))
            continue
        path = [*level, *(word for word, _line in args)]
        if command in ("set", "edit") and _relevant(path):
            joined = [word for word, quoted in args if not quoted and word in _COMMAND_WORDS]
            if joined:
                errors.append(
                    (
                        lineno,
                        f"{joined[0]!r} inside this {command!r} line: one command per line "
                        f"(were two commands run together?) in {line!r}",
                    )
                )
                continue
        if command == "set":
            if not args:
                errors.append((lineno, "'set' needs a path"))
                continue
            statements.append(Statement(tuple(path), lineno, line))
        elif command == "edit":
            if not args:
                errors.append((lineno, "'edit' needs a path"))
                continue
            previous.append(level)
            level = path
        elif command == "exit":
            level = previous.pop() if previous else []
        elif command == "top":
            level, previous = [], []
        elif command == "delete":
            errors.append(
                (
                    lineno,
                    "'delete' is not supported: give the configuration as set lines only "
                    "(a delete depends on the configuration it is applied to)",
                )
            )
        elif command not in _SKIPPED_COMMANDS:
            errors.append((lineno, f"unknown command {command!r} (expected set, edit, exit, top)"))
    return statements, errors


def parse_set_lines(
    text: str, source: str = "<string>", semantic: list[SemanticProblem] | None = None
) -> Config:
    """Parse VyOS/EdgeOS ``set`` lines (see the module docstring) into the model.

    Raises NativeParseError naming ``source``, the line number and what is wrong.
    With a ``semantic`` list, semantic problems (a long password, VRRPv3 with
    authentication, mixed families, a reused VRID) are appended to it, each with its
    line, and the model is built anyway: for checks that report them.
    """
    statements, errors = read_set_lines(text)
    return interpret(statements, source, errors, semantic)


def interface_addresses(text: str, source: str = "<string>") -> dict[str, list[str]]:
    """The ``interfaces ... address X`` values of set lines per interface name, in
    order (``dhcp`` and the like included as written); vif ``N`` gives ``eth0.N``."""
    statements, errors = read_set_lines(text)
    if errors:
        raise NativeParseError(source, list(errors))
    return collect_addresses(statements)
