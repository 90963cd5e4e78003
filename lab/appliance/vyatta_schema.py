"""Check VyOS / Vyatta ``set`` and ``delete`` commands against the routers' own CLI schema.

Why: routerha renders VRRP and conntrack-sync configuration for VyOS 1.4+
(``high-availability ...``, ``service conntrack-sync ...``) and for VyOS 1.1 / EdgeOS
(``interfaces TYPE NAME [vif N] vrrp ...``). A misspelt node, a value out of range or a
malformed address would otherwise only show up on a real router, at ``set`` or commit
time. This module reads the schema those routers use (copied as data into ``schema/``
beside this file, see its README.md) and checks each command against it, offline.

What: ``load(syntax)`` gives a :class:`Schema`; ``Schema.validate_set(words)`` checks the
words after ``set`` (the path, then the value if the leaf takes one) and
``Schema.validate_delete(words)`` a path to delete (value optional); both raise
:class:`SchemaError`, whose message names the offending word or value and the constraint.
``Schema.covers(words)`` tells whether a path lies under a subtree the schema describes;
validating a path it does not cover is an error too (nothing would have been checked).
Words are already split and unquoted (``shlex.split`` of the line, minus ``set``).
``Schema.walk()`` lists every :class:`SchemaNode` (kind, ``multi``, ``valueless``, the
checks skipped offline). One line cannot tell whether a leaf that is not ``multi`` is set
twice: that is a property of a whole configuration, for the caller to check with ``multi``.

Two syntaxes (``SYNTAXES``):

``vyos``: the interface-definition XML of vyos-1x (``schema/vyos-1x/*.xml.in``, whose
``#include <include/...>`` lines are expanded from ``schema/vyos-1x/include/``). ``node``
is a container, ``tagNode`` takes a name word (checked by its constraint) then children,
``leafNode`` takes one value unless ``<valueless/>``; ``<multi/>`` marks leaves that may be
set repeatedly. A ``<constraint>`` passes when any one of its ``<regex>`` / ``<validator>``
children passes (a ``<constraintGroup>`` when all of its children do), as VyOS's
validate-value does. A node carrying an ``owner`` script is a subtree the schema covers
(``high-availability``, ``service conntrack-sync``); its ancestors only place it.
``completionHelp``, ``valueHelp`` and ``defaultValue`` are not constraints.
Regexes are matched against the whole value (VyOS pastes ``^`` and ``$`` around the text,
which leaves the ends of a top-level ``a|b`` unanchored; a full match is the evident
intent). Validators, as the router's scripts (ipaddrcheck, the numeric and file-path
programs of vyos-utils) define them:

- ``numeric``: ``--range A-B`` (several: any one), ``--positive``, ``--non-negative``,
  ``--float``, ``--allow-range``, ``--require-range``, ``--not-range``, ``--not-value``,
  ``--relative``; integers unless ``--float``.
- ``ipv4`` / ``ipv6``: an address with or without prefix length; ``ipv4-address`` /
  ``ipv6-address`` / ``ip-address``: a single address, no prefix; ``ipv4-prefix`` /
  ``ipv6-prefix`` / ``ip-prefix``: a network address with its length;
  ``ipv4-host`` / ``ipv6-host`` / ``ip-host``: address/length that is not the network
  address (any address of a /31, /32, /127, /128); ``ipv4-multicast``: a single address
  in 224.0.0.0/4; ``ipv6-link-local``: an IPv6 address (optional prefix, optional
  %zone) in fe80::/10. IPv4 in dotted quads without leading zeros, IPv6 without embedded
  IPv4, as ipaddrcheck reads them.
- ``script``, and ``file-path`` without ``--lookup-path``: the router checks that the file
  exists (and is executable); offline only its form is checked: a non-empty absolute
  path (for ``script`` the first shell word; arguments may follow), under
  ``--parent-dir`` when that is given with ``--strict``.
- ``file-path --lookup-path DIR``: the value names an entry of DIR on the router; offline:
  a single path component, and for ``/sys/class/net`` a valid Linux interface name
  (1-15 characters, no ``/``, ``:`` or white space). VyOS 1.4 pairs it with the
  interface-name regex, so any plausible interface name passes, as on a router that has it.
- ``interface-name``: a valid Linux interface name, as above.
- any other name, or a ``numeric`` option not listed above, is accepted (conservative:
  no false rejections) and recorded in ``UNKNOWN_VALIDATORS`` as ``name`` or
  ``name --option`` so a test can list them. The schema data shipped in ``schema/`` uses
  only validators named above (numeric, ip-address, ip-host, ipv4, ipv6, ipv4-address,
  ipv4-multicast, script, file-path), so the set stays empty for it.

``vyatta``: the ``node.def`` templates of vyatta-vrrp (``schema/vyatta-vrrp/vrrp``),
mounted where VyOS 1.1's generator mounts them (``interfaces ethernet|bonding NAME
[vif N | vif-s N [vif-c M]] vrrp``) and, for EdgeOS, under ``bridge``, ``pseudo-ethernet``,
``switch`` and ``wireless`` (``[vif N]``). NAME must look like an interface of its type
(eth0, bond0, br0, peth0, switch0, wlan0) and N, M be in 1-4094. In a template ``tag:``
makes a tag node (children in ``node.tag/``), ``multi:`` a leaf set repeatedly, ``type:``
(``u32``, ``txt``, ``ipv4``, ``ipv4net``, ``ipv6``, ``ipv6net``, ``bool``, ``macaddr``; two
types as ``a,b``) the value's type as the Vyatta lexer reads it; a node with neither type
nor children is a valueless flag. Every ``syntax:expression:`` must hold; its grammar is
Vyatta's: ``$VAR(@) <op> value`` (``== != < > <= >=``), ``$VAR(@) in "a", "b"``,
``pattern $VAR(@) "POSIX ERE"`` (searched, so anchors come from the pattern), ``exec "..."``,
with ``&&``, ``||``, ``!``, parentheses, ``; "message"``, and lines continued by a
backslash or simply by not starting a new field. ``exec`` needs the router, so it is
skipped: it counts as unknown, and an expression that is unknown overall passes (what
can be checked still is: ``false && exec`` fails). So does any ``$VAR(...)`` other than
``$VAR(@)`` and a backquoted command. ``commit:expression:`` lines are about commit time
and ignored. Skipped checks are listed on each node (``SchemaNode.skipped``).
There is no VyOS 1.1 / EdgeOS schema for ``service conntrack-sync`` in ``schema/``, so
``vyatta`` does not cover it.

Standard library only and Python 3.9-compatible: it also runs with a Debian container's
``/usr/bin/python3``, outside the project's virtual environment.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Callable, NamedTuple, Union

SYNTAXES = ("vyos", "vyatta")
"""``vyos``: VyOS 1.4+ XML schema; ``vyatta``: VyOS 1.1 / EdgeOS node.def templates."""

DEFAULT_ROOT = Path(__file__).resolve().parent / "schema"
"""The directory holding ``vyos-1x/`` and ``vyatta-vrrp/``."""

UNKNOWN_VALIDATORS: set[str] = set()
"""Validator names (and unknown options of known ones) met while loading: accepted."""

NODE = "node"
TAG = "tag"
LEAF = "leaf"


class SchemaError(ValueError):
    """A command the schema rejects; the message names the word and the constraint."""


# ---------------------------------------------------------------------------------------
# Value checks shared by both syntaxes


class _Check:
    """A constraint on one value (a leaf's value or a tag node's name)."""

    def failure(self, value: str) -> str | None:
        """None when ``value`` passes, else why not (``"is not in 1-255"``)."""
        raise NotImplementedError


class _Item:
    """One alternative of an XML constraint: a regex or a validator."""

    description = ""

    def test(self, value: str) -> bool:
        """Whether ``value`` passes this alternative."""
        raise NotImplementedError

    def wanted(self, value: str) -> str:
        """What this alternative wants, said for a ``value`` it refused."""
        return self.description


class _Regex(_Item):
    """``<regex>``: the whole value must match (Python ``re``, as PCRE reads these)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.regex = re.compile(f"(?:{pattern})")
        self.description = f"a match of /{pattern}/"

    def test(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None


class _Predicate(_Item):
    """A validator implemented here as a function of the value."""

    def __init__(self, func: Callable[[str], bool], description: str) -> None:
        self.func = func
        self.description = description

    def test(self, value: str) -> bool:
        return self.func(value)


class _Unknown(_Item):
    """A validator this module does not know: accepted (recorded at load)."""

    def __init__(self, name: str) -> None:
        self.description = f"accepted by validator {name} (not checked here)"

    def test(self, value: str) -> bool:
        return True


class _XmlConstraint(_Check):
    """``<constraint>`` (any child passes) and ``<constraintGroup>`` (all children pass)."""

    def __init__(self, items: list[_Item], groups: list[list[_Item]], message: str) -> None:
        self.items = items
        self.groups = groups
        self.message = message

    def failure(self, value: str) -> str | None:
        if any(item.test(value) for item in self.items):
            return None
        if any(all(item.test(value) for item in group) for group in self.groups):
            return None
        wanted = [item.wanted(value) for item in self.items]
        wanted += [" and ".join(item.wanted(value) for item in group) for group in self.groups]
        reason = "is not " + " or ".join(wanted)
        return f"{reason} ({self.message})" if self.message else reason


class _RangeCheck(_Check):
    """A decimal integer in ``low``-``high`` (VLAN IDs of the Vyatta mount points)."""

    def __init__(self, low: int, high: int, what: str) -> None:
        self.low, self.high, self.what = low, high, what

    def failure(self, value: str) -> str | None:
        if re.fullmatch("[0-9]+", value) and self.low <= int(value) <= self.high:
            return None
        return f"is not {self.what} in {self.low}-{self.high}"


class _PatternCheck(_Check):
    """The whole value matches ``pattern`` (interface names of the Vyatta mount points)."""

    def __init__(self, pattern: str, what: str) -> None:
        self.regex = re.compile(pattern)
        self.what = what

    def failure(self, value: str) -> str | None:
        return None if self.regex.fullmatch(value) else f"is not {self.what}"


# ---------------------------------------------------------------------------------------
# Addresses as ipaddrcheck (VyOS 1.4) reads them

_V4 = r"(?:(?:[1-9][0-9]{0,2}|0)\.){3}(?:[1-9][0-9]{0,2}|0)"
_V4_FORM = re.compile(rf"(?P<addr>{_V4})(?:/(?P<len>[1-9][0-9]*|0))?")
_V6_FORM = re.compile(r"(?P<addr>[0-9A-Fa-f:]+)(?:/(?P<len>[0-9]{1,3}))?")
_IPV4_MULTICAST = ipaddress.ip_network("224.0.0.0/4")
_IPV6_LINK_LOCAL = ipaddress.ip_network("fe80::/10")

_Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class _Ip(NamedTuple):
    """An address as written: the address and its prefix length (None if absent)."""

    address: _Address
    length: int | None

    @property
    def version(self) -> int:
        """4 or 6."""
        return self.address.version

    def is_network(self) -> bool:
        """The address is its network's address (length given)."""
        if self.length is None:
            return False
        network = ipaddress.ip_network((self.address, self.length), strict=False)
        return self.address == network.network_address

    def is_host(self) -> bool:
        """Length given, and not the network address unless the network is a /31 or /32
        (IPv6: /127, /128), as ipaddrcheck's --is-ipv4-host / --is-ipv6-host."""
        if self.length is None:
            return False
        return not self.is_network() or self.length >= self.address.max_prefixlen - 1


def _parse_ip(value: str) -> _Ip | None:
    """The address in ``value`` (single or address/length), or None if malformed."""
    match = _V4_FORM.fullmatch(value)
    address: _Address | None = None
    if match:
        if all(int(octet) <= 255 for octet in match.group("addr").split(".")):
            address = ipaddress.IPv4Address(match.group("addr"))
    else:
        match = _V6_FORM.fullmatch(value)
        if match:
            try:
                address = ipaddress.IPv6Address(match.group("addr"))
            except ValueError:
                address = None
    if address is None or match is None:
        return None
    length = match.group("len")
    if length is not None and int(length) > address.max_prefixlen:
        return None
    return _Ip(address, None if length is None else int(length))


def _ip_validator(test: Callable[[_Ip], bool]) -> Callable[[str], bool]:
    """A validator that parses the value first (malformed: fails)."""

    def check(value: str) -> bool:
        parsed = _parse_ip(value)
        return parsed is not None and test(parsed)

    return check


def _ipv6_link_local(value: str) -> bool:
    """An IPv6 address in fe80::/10, prefix length and %zone allowed."""
    try:
        interface = ipaddress.ip_interface(value.split("%", 1)[0])
    except ValueError:
        return False
    return interface.version == 6 and interface.ip in _IPV6_LINK_LOCAL


_IP_VALIDATORS: dict[str, tuple[Callable[[str], bool], str]] = {
    "ipv4": (_ip_validator(lambda ip: ip.version == 4), "an IPv4 address or prefix"),
    "ipv6": (_ip_validator(lambda ip: ip.version == 6), "an IPv6 address or prefix"),
    "ipv4-address": (
        _ip_validator(lambda ip: ip.version == 4 and ip.length is None),
        "an IPv4 address",
    ),
    "ipv6-address": (
        _ip_validator(lambda ip: ip.version == 6 and ip.length is None),
        "an IPv6 address",
    ),
    "ip-address": (_ip_validator(lambda ip: ip.length is None), "an IP address"),
    "ipv4-prefix": (
        _ip_validator(lambda ip: ip.version == 4 and ip.is_network()),
        "an IPv4 prefix (network address/length)",
    ),
    "ipv6-prefix": (
        _ip_validator(lambda ip: ip.version == 6 and ip.is_network()),
        "an IPv6 prefix (network address/length)",
    ),
    "ip-prefix": (_ip_validator(_Ip.is_network), "an IP prefix (network address/length)"),
    "ipv4-host": (
        _ip_validator(lambda ip: ip.version == 4 and ip.is_host()),
        "an IPv4 host address/length (not the network address)",
    ),
    "ipv6-host": (
        _ip_validator(lambda ip: ip.version == 6 and ip.is_host()),
        "an IPv6 host address/length (not the network address)",
    ),
    "ip-host": (
        _ip_validator(_Ip.is_host),
        "an IP host address/length (not the network address)",
    ),
    "ipv4-multicast": (
        _ip_validator(lambda ip: ip.length is None and ip.address in _IPV4_MULTICAST),
        "an IPv4 multicast address (224.0.0.0/4)",
    ),
    "ipv6-link-local": (_ipv6_link_local, "an IPv6 link-local address (fe80::/10)"),
}


# ---------------------------------------------------------------------------------------
# numeric, script, file-path, interface-name

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_NUMBER_RANGE = re.compile(r"[0-9]+-[0-9]+")
_BOUNDS = re.compile(r"\s*(-?[0-9]+(?:\.[0-9]+)?)\s*-\s*(-?[0-9]+(?:\.[0-9]+)?)\s*")


class _Numeric(_Item):
    """vyos-utils' ``numeric`` validator, from its options."""

    def __init__(self, args: list[str]) -> None:
        self.flags: set[str] = set()
        self.ranges: list[tuple[Decimal, Decimal]] = []
        self.not_ranges: list[tuple[Decimal, Decimal]] = []
        self.not_values: list[Decimal] = []
        self.range_texts: list[str] = []
        self._options(args)
        self.description = self._describe()

    def _options(self, args: list[str]) -> None:
        """Read the command line of the validator."""
        flags = ("--positive", "--non-negative", "--float", "--allow-range", "--relative")
        queue = list(args)
        while queue:
            arg = queue.pop(0)
            if arg in flags:
                self.flags.add(arg)
            elif arg == "--require-range":
                self.flags.update(("--require-range", "--allow-range"))
            elif arg in ("--range", "--not-range", "--not-value") and queue:
                text = queue.pop(0)
                if arg == "--not-value":
                    self.not_values.append(Decimal(text))
                    continue
                bounds = _BOUNDS.fullmatch(text)
                if not bounds or ("." in text and "--float" not in args):
                    raise ValueError(f"numeric validator: malformed range {text!r}")
                pair = (Decimal(bounds.group(1)), Decimal(bounds.group(2)))
                (self.ranges if arg == "--range" else self.not_ranges).append(pair)
                if arg == "--range":
                    self.range_texts.append(text)
            else:
                UNKNOWN_VALIDATORS.add(f"numeric {arg}")
                self.flags.add("unknown")

    def _describe(self) -> str:
        """``an integer in 1-255``, ``a positive integer``, ``a number in 0.000-1000``."""
        ranges = " or ".join(self.range_texts)
        words = []
        if "--positive" in self.flags:
            words.append("positive")
        if "--non-negative" in self.flags:
            words.append("non-negative")
        noun = "number" if "--float" in self.flags else "integer"
        article = "an" if not words and noun == "integer" else "a"
        text = " ".join([article, *words, noun])
        if ranges:
            text += f" in {ranges}"
        if "--allow-range" in self.flags:
            text += " (or a range A-B of them)"
        return text

    def wanted(self, value: str) -> str:
        """``in 1-255`` for a number of the right kind out of range, else the whole
        description (``an integer in 1-255``)."""
        plain = not self.flags & {"--positive", "--non-negative", "--allow-range", "unknown"}
        if plain and self.range_texts and self._number(value) is not None:
            return "in " + " or ".join(self.range_texts)
        return self.description

    def _number(self, text: str) -> Decimal | None:
        """The number in ``text``; None if malformed or a fraction without --float."""
        if not _NUMBER.fullmatch(text):
            return None
        if "." in text and "--float" not in self.flags:
            return None
        return Decimal(text)

    def _single_ok(self, number: Decimal) -> bool:
        """The checks that apply to one number."""
        if "--non-negative" in self.flags and number < 0:
            return False
        if "--positive" in self.flags and number <= 0:
            return False
        return number not in self.not_values

    def test(self, value: str) -> bool:
        if "unknown" in self.flags:
            return True  # an option this module does not know: accepted, recorded
        text = value
        if "--relative" in self.flags:
            if not re.fullmatch("[+-][0-9]+", text):
                return False
            text = text[1:]
        if _NUMBER_RANGE.fullmatch(text):
            if "--allow-range" not in self.flags or self.not_values:
                return False
            ends = [self._number(part) for part in text.split("-")]
            if any(end is None for end in ends) or self.flags & {"--positive", "--non-negative"}:
                return False
            numbers = [end for end in ends if end is not None]
        else:
            number = self._number(text)
            if number is None or "--require-range" in self.flags or not self._single_ok(number):
                return False
            numbers = [number]
        for number in numbers:
            if self.ranges and not any(low <= number <= high for low, high in self.ranges):
                return False
            if any(low <= number <= high for low, high in self.not_ranges):
                return False
        return True


def _absolute_path(value: str) -> bool:
    """A non-empty absolute path that could name a file."""
    return value.startswith("/") and value != "/" and "\0" not in value


def _script(value: str) -> bool:
    """``script``: the first shell word is an absolute path (arguments may follow)."""
    try:
        words = shlex.split(value)
    except ValueError:
        return False
    return bool(words) and _absolute_path(words[0])


def _linux_interface_name(value: str) -> bool:
    """What the kernel accepts as a network device name (dev_valid_name)."""
    if not 0 < len(value.encode()) < 16 or value in (".", ".."):
        return False
    return not any(char in {"/", ":"} or char.isspace() for char in value)


def _file_path(args: list[str]) -> _Item:
    """vyos-utils' ``file-path`` validator: only the form of the path can be checked."""
    lookup: str | None = None
    parent: str | None = None
    strict = False
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        if arg == "--lookup-path" and queue:
            lookup = queue.pop(0)
        elif arg == "--parent-dir" and queue:
            parent = queue.pop(0)
        elif arg == "--strict":
            strict = True
        elif arg not in ("--file", "--directory"):
            UNKNOWN_VALIDATORS.add(f"file-path {arg}")
    if lookup is not None and lookup.rstrip("/") == "/sys/class/net":
        return _Predicate(_linux_interface_name, "a Linux interface name")
    if lookup is not None:

        def entry(value: str) -> bool:
            return bool(value) and "/" not in value and value not in (".", "..")

        return _Predicate(entry, f"an entry name of {lookup}")
    if parent is not None and strict:
        base = parent.rstrip("/") + "/"

        def under(value: str) -> bool:
            return _absolute_path(value) and value.startswith(base)

        return _Predicate(under, f"an absolute path under {parent}")
    return _Predicate(_absolute_path, "an absolute file path")


def _validator(name: str, argument: str) -> _Item:
    """The check for ``<validator name=... argument=...>`` (options may be in the name)."""
    words = shlex.split(name) + shlex.split(argument)
    if not words:
        raise ValueError("validator without a name")
    kind, args = words[0], words[1:]
    if kind == "numeric":
        return _Numeric(args)
    if kind in _IP_VALIDATORS:
        func, description = _IP_VALIDATORS[kind]
        return _Predicate(func, description)
    if kind == "script":
        return _Predicate(_script, "an absolute path to a script (arguments may follow)")
    if kind == "file-path":
        return _file_path(args)
    if kind == "interface-name":
        return _Predicate(_linux_interface_name, "a Linux interface name")
    UNKNOWN_VALIDATORS.add(kind)
    return _Unknown(kind)


# ---------------------------------------------------------------------------------------
# The tree


class SchemaNode:
    """One node of a schema: a container (``node``), a tag node (``tag``: takes a name
    word, then children) or a leaf (``leaf``: takes one value unless ``valueless``)."""

    __slots__ = (
        "check",
        "children",
        "help_text",
        "kind",
        "multi",
        "name",
        "owned",
        "skipped",
        "valueless",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        *,
        help_text: str = "",
        multi: bool = False,
        valueless: bool = False,
        check: _Check | None = None,
        owned: bool = False,
        skipped: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.kind = kind
        self.help_text = help_text
        self.multi = multi
        self.check = check
        self.owned = owned
        self.skipped = skipped
        self.valueless = valueless
        self.children: dict[str, SchemaNode] = {}
        if valueless and kind != LEAF:
            raise ValueError(f"{name}: only a leaf can be valueless")

    def __repr__(self) -> str:
        return f"SchemaNode({self.name!r}, {self.kind!r})"


class Schema:
    """The commands one syntax accepts: a tree of :class:`SchemaNode` whose ``owned``
    nodes are the subtrees the schema describes."""

    def __init__(self, syntax: str, root: SchemaNode, covered: str) -> None:
        self.syntax = syntax
        self.root = root
        self._covered = covered

    def covers(self, words: Sequence[str]) -> bool:
        """Whether the path in ``words`` lies under a subtree the schema describes (the
        words are read by position only: values are not checked)."""
        node = self.root
        index = 0
        while index < len(words):
            child = node.children.get(words[index])
            if child is None:
                return False
            if child.owned:
                return True
            index += 2 if child.kind == TAG else 1
            node = child
        return False

    def validate_set(self, words: Sequence[str]) -> None:
        """Check the words after ``set``: the path, then the value if the leaf takes one.
        A container or a named tag node may end the path (it is created empty)."""
        self._validate(words, deleting=False)

    def validate_delete(self, words: Sequence[str]) -> None:
        """Check the words after ``delete``: a path the schema knows; a leaf's value and a
        tag node's name may be left out, and are checked when given."""
        self._validate(words, deleting=True)

    def walk(self) -> Iterator[tuple[tuple[str, ...], SchemaNode]]:
        """Every node below the root, depth first in name order, with its path (a tag
        node's name shown as ``<name>``). A subtree mounted in several places (the
        ``vyatta`` vrrp node) is walked at each of them."""

        def below(
            node: SchemaNode, path: tuple[str, ...]
        ) -> Iterator[tuple[tuple[str, ...], SchemaNode]]:
            for name in sorted(node.children):
                child = node.children[name]
                yield (*path, name), child
                inner = (*path, name, f"<{name}>") if child.kind == TAG else (*path, name)
                yield from below(child, inner)

        return below(self.root, ())

    def _validate(self, words: Sequence[str], *, deleting: bool) -> None:
        """Walk ``words`` down the tree, checking names, values and their presence."""
        if not self.covers(words):
            shown = " ".join(words) or "(empty path)"
            raise SchemaError(
                f"{shown}: not under a subtree the {self.syntax} schema describes ({self._covered})"
            )
        node = self.root
        path: list[str] = []
        index = 0
        while index < len(words):
            word = words[index]
            child = node.children.get(word)
            if child is None:
                known = ", ".join(sorted(node.children))
                raise SchemaError(f"{' '.join(path)}: unknown node '{word}' (known: {known})")
            path.append(word)
            index += 1
            node = child
            if child.kind == LEAF:
                _check_leaf(child, path, words[index:], deleting=deleting)
                return
            if child.kind == TAG:
                if index == len(words):
                    if deleting:
                        return
                    raise SchemaError(f"{' '.join(path)}: tag node '{word}' needs a name")
                _check_value(child, path, words[index])
                path.append(words[index])
                index += 1


def _check_value(node: SchemaNode, path: list[str], value: str) -> None:
    """Raise if the node's constraint rejects ``value``."""
    if node.check is None:
        return
    reason = node.check.failure(value)
    if reason is not None:
        raise SchemaError(f"{' '.join(path)}: '{value}' {reason}")


def _check_leaf(node: SchemaNode, path: list[str], rest: Sequence[str], *, deleting: bool) -> None:
    """The words after a leaf's name: none for a valueless leaf, else one value."""
    label = " ".join(path)
    if node.valueless:
        if rest:
            raise SchemaError(
                f"{label}: '{node.name}' is valueless, it takes no value (got '{rest[0]}')"
            )
        return
    if not rest:
        if deleting:
            return
        raise SchemaError(f"{label}: '{node.name}' needs a value")
    if len(rest) > 1:
        raise SchemaError(
            f"{label} {rest[0]}: unexpected '{rest[1]}' after the value of '{node.name}'"
        )
    _check_value(node, path, rest[0])


def _merge(parent: SchemaNode, child: SchemaNode) -> None:
    """Add ``child`` under ``parent``; a node defined in two files gets both children."""
    present = parent.children.get(child.name)
    if present is None:
        parent.children[child.name] = child
        return
    if present.kind != child.kind:
        raise ValueError(f"{child.name}: defined both as {present.kind} and as {child.kind}")
    present.owned = present.owned or child.owned
    for grandchild in child.children.values():
        _merge(present, grandchild)


# ---------------------------------------------------------------------------------------
# VyOS 1.4+: interface-definition XML

_INCLUDE = re.compile(r"^[ \t]*#include[ \t]+<([^>]+)>[ \t]*$", re.MULTILINE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _expand_includes(path: Path, base: Path, seen: tuple[Path, ...] = ()) -> str:
    """The text of ``path`` with its ``#include <include/...>`` lines replaced by the
    files they name (relative to ``base``), recursively."""
    if path in seen:
        raise ValueError(f"{path}: #include cycle")
    text = path.read_text(encoding="utf-8")

    def include(match: re.Match[str]) -> str:
        target = base / match.group(1)
        if not target.is_file():
            raise ValueError(f"{path}: #include <{match.group(1)}>: no such file under {base}")
        return _XML_DECLARATION.sub("", _expand_includes(target, base, (*seen, path)))

    return _INCLUDE.sub(include, text)


def _xml_text(element: ET.Element | None) -> str:
    """An element's text, stripped ('' if absent)."""
    return "" if element is None or element.text is None else element.text.strip()


def _xml_items(element: ET.Element, where: str) -> list[_Item]:
    """The regexes and validators inside a ``<constraint>`` or ``<constraintGroup>``."""
    items: list[_Item] = []
    for child in element:
        if child.tag == "regex":
            pattern = _xml_text(child)
            try:
                items.append(_Regex(pattern))
            except re.error as error:
                raise ValueError(f"{where}: regex {pattern!r}: {error}") from error
        elif child.tag == "validator":
            items.append(_validator(child.get("name", ""), child.get("argument", "")))
        else:
            raise ValueError(f"{where}: unknown constraint element <{child.tag}>")
    return items


def _xml_check(properties: ET.Element | None, where: str) -> _Check | None:
    """The constraint of a leaf value or tag name, None if it has none."""
    if properties is None:
        return None
    constraint = properties.find("constraint")
    items = [] if constraint is None else _xml_items(constraint, where)
    groups = [_xml_items(group, where) for group in properties.findall("constraintGroup")]
    if not items and not groups:
        return None
    message = _xml_text(properties.find("constraintErrorMessage"))
    return _XmlConstraint(items, groups, message)


def _xml_node(element: ET.Element, where: str) -> SchemaNode:
    """The SchemaNode for a ``node``, ``tagNode`` or ``leafNode`` element."""
    kinds = {"node": NODE, "tagNode": TAG, "leafNode": LEAF}
    if element.tag not in kinds:
        raise ValueError(f"{where}: unexpected element <{element.tag}>")
    name = element.get("name", "")
    if not name:
        raise ValueError(f"{where}: <{element.tag}> without a name")
    here = f"{where} {name}".strip()
    kind = kinds[element.tag]
    properties = element.find("properties")
    valueless = kind == LEAF and properties is not None and properties.find("valueless") is not None
    node = SchemaNode(
        name,
        kind,
        help_text=_xml_text(None if properties is None else properties.find("help")),
        multi=properties is not None and properties.find("multi") is not None,
        valueless=valueless,
        check=None if kind == NODE or valueless else _xml_check(properties, here),
        owned=element.get("owner") is not None,
    )
    children = element.find("children")
    if children is not None:
        if kind == LEAF:
            raise ValueError(f"{here}: a leafNode with children")
        for child in children:
            _merge(node, _xml_node(child, here))
    return node


def _load_vyos(directory: Path) -> Schema:
    """The ``vyos`` schema from the ``*.xml.in`` files of ``directory``."""
    if not directory.is_dir():
        raise FileNotFoundError(f"no VyOS schema directory {directory}")
    files = sorted(directory.glob("*.xml.in"))
    if not files:
        raise ValueError(f"{directory}: no *.xml.in interface definitions")
    root = SchemaNode("", NODE)
    for path in files:
        try:
            document = ET.fromstring(_expand_includes(path, directory))
        except ET.ParseError as error:
            raise ValueError(f"{path}: {error}") from error
        if document.tag != "interfaceDefinition":
            raise ValueError(f"{path}: root element <{document.tag}>")
        for element in document:
            _merge(root, _xml_node(element, ""))
    return Schema("vyos", root, _owned_paths(root))


def _owned_paths(root: SchemaNode) -> str:
    """The topmost owned subtrees, for messages: ``high-availability ..., ...``."""
    found: list[str] = []

    def descend(node: SchemaNode, path: tuple[str, ...]) -> None:
        for name, child in sorted(node.children.items()):
            here = (*path, name, f"<{name}>") if child.kind == TAG else (*path, name)
            if child.owned:
                found.append(" ".join((*path, name)) + " ...")
            else:
                descend(child, here)

    descend(root, ())
    return ", ".join(found)


# ---------------------------------------------------------------------------------------
# VyOS 1.1 / EdgeOS: node.def templates

# Value types as Vyatta's value lexer (cli_val.l) reads them.
_VY_BYTE = r"(?:25[0-5]|2[0-4][0-9]|[01][0-9][0-9]|[0-9]{1,2})"
_VY_IPV4 = rf"{_VY_BYTE}(?:\.{_VY_BYTE}){{3}}"


def _rfc3986_ipv6() -> str:
    """The IPv6address rule of RFC 3986 (which Vyatta's lexer follows) as a regex."""
    h16 = "[0-9A-Fa-f]{1,4}"
    pair = f"(?:{h16}:)"
    ls32 = f"(?:{h16}:{h16}|{_VY_IPV4})"
    forms = [f"{pair}{{6}}{ls32}", f"::{pair}{{5}}{ls32}"]
    forms += [f"(?:{pair}{{0,{n}}}{h16})?::{pair}{{{4 - n}}}{ls32}" for n in range(4)]
    forms += [
        f"(?:{pair}{{0,4}}{h16})?::{ls32}",
        f"(?:{pair}{{0,5}}{h16})?::{h16}",
        f"(?:{pair}{{0,6}}{h16})?::",
    ]
    return "(?:" + "|".join(forms) + ")"


_VY_IPV6 = _rfc3986_ipv6()
_VY_TYPES: dict[str, tuple[re.Pattern[str], str]] = {
    "txt": (re.compile(r".*", re.DOTALL), "text"),
    "u32": (re.compile(r"[0-9]+"), "an integer in 0-4294967295 (type u32)"),
    "ipv4": (re.compile(_VY_IPV4), "an IPv4 address (type ipv4)"),
    "ipv4net": (
        re.compile(rf"{_VY_IPV4}/(?:3[012]|[12][0-9]|[0-9])"),
        "an IPv4 address/length (type ipv4net)",
    ),
    "ipv6": (re.compile(_VY_IPV6), "an IPv6 address (type ipv6)"),
    "ipv6net": (
        re.compile(rf"{_VY_IPV6}/(?:12[0-8]|1[01][0-9]|[0-9][0-9]?)"),
        "an IPv6 address/length (type ipv6net)",
    ),
    "bool": (re.compile(r"true|false"), "true or false (type bool)"),
    "macaddr": (
        re.compile(r"[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5}"),
        "a MAC address (type macaddr)",
    ),
}
_U32_MAX = 4294967295


def _vy_type_ok(vtype: str, value: str) -> bool:
    """Whether ``value`` reads as one value of the Vyatta type ``vtype``."""
    if not _VY_TYPES[vtype][0].fullmatch(value):
        return False
    return vtype != "u32" or int(value) <= _U32_MAX


# POSIX ERE (regcomp REG_EXTENDED, as ``pattern`` uses) to Python re.
_POSIX_CLASSES = {
    "alpha": "A-Za-z",
    "digit": "0-9",
    "alnum": "0-9A-Za-z",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "xdigit": "0-9A-Fa-f",
    "punct": "".join("\\" + char for char in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
}


def _posix_bracket(pattern: str, start: int) -> tuple[int, str]:
    """The bracket expression at ``pattern[start] == '['``: where it ends, in Python."""
    index = start + 1
    parts = ["["]
    if pattern.startswith("^", index):
        parts.append("^")
        index += 1
    if pattern.startswith("]", index):
        parts.append(r"\]")
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        if pattern.startswith("[:", index):
            end = pattern.find(":]", index + 2)
            name = pattern[index + 2 : end] if end >= 0 else ""
            if name not in _POSIX_CLASSES:
                raise ValueError(f"POSIX regex {pattern!r}: unknown class [:{name}:]")
            parts.append(_POSIX_CLASSES[name])
            index = end + 2
        elif pattern.startswith(("[=", "[."), index):
            end = pattern.find(pattern[index + 1] + "]", index + 2)
            if end < 0:
                raise ValueError(
                    f"POSIX regex {pattern!r}: unterminated {pattern[index : index + 2]}"
                )
            parts.append(re.escape(pattern[index + 2 : end]))
            index = end + 2
        else:
            char = pattern[index]
            parts.append("\\" + char if char in "\\[&|~" else char)
            index += 1
    if index >= len(pattern):
        raise ValueError(f"POSIX regex {pattern!r}: unterminated bracket expression")
    parts.append("]")
    return index + 1, "".join(parts)


def _posix_ere(pattern: str) -> re.Pattern[str]:
    """Compile a POSIX extended regex with Python's ``re`` (classes and ``$`` translated)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index : index + 2])
            index += 2
        elif char == "[":
            index, text = _posix_bracket(pattern, index)
            out.append(text)
        else:
            out.append(r"\Z" if char == "$" else char)
            index += 1
    try:
        return re.compile("".join(out))
    except re.error as error:
        raise ValueError(f"POSIX regex {pattern!r}: {error}") from error


# syntax:expression, as Vyatta's template lexer (cli_def.l) and grammar (cli_parse.y) read it.


class _Token(NamedTuple):
    """One token: kind is str, xstr (backquoted), var, value, op or cond."""

    kind: str
    text: str
    vtype: str = ""


_EXPR_OPS = ("==", "!=", "<=", ">=", "||", "&&", "<", ">", "=", "!", "(", ")", ";", ",")
_CONDITIONS = frozenset({"==", "!=", "<=", ">=", "<", ">", "in"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_VAR = re.compile(r"\$VAR\([^)]+\)")
_WORD = re.compile(r"[^\s()\",;!=<>&|`]+")
_VALUE_TYPES = ("u32", "ipv4", "ipv4net", "ipv6", "ipv6net", "bool", "macaddr")


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The quoted string at ``text[start]`` (its escapes resolved) and where it ends."""
    delimiter = text[start]
    out: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following != "\n":
                out.append(_ESCAPES.get(following, following))
            index += 2
        elif char == delimiter:
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1
    return "".join(out), index


def _value_token(word: str, where: str) -> _Token:
    """A bare word of an expression: an operator word or a typed value."""
    if word in ("pattern", "exec"):
        return _Token("op", word)
    if word == "in":
        return _Token("cond", word)
    if word == "PARENT":
        return _Token("value", word, "priority")
    for vtype in _VALUE_TYPES:
        if _VY_TYPES[vtype][0].fullmatch(word):
            return _Token("value", word, vtype)
    raise ValueError(f"{where}: syntax error in expression at {word!r}")


def _tokens(text: str, where: str) -> list[_Token]:
    """The tokens of one syntax:expression (newlines and ``\\``-newlines are blanks)."""
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace() or text.startswith("\\\n", index):
            index += 2 if char == "\\" else 1
        elif char in '"`':
            string, index = _read_string(text, index)
            tokens.append(_Token("str" if char == '"' else "xstr", string))
        elif text.startswith("$VAR(", index):
            match = _VAR.match(text, index)
            if match is None:
                raise ValueError(f"{where}: unterminated $VAR( in expression")
            tokens.append(_Token("var", match.group()))
            index = match.end()
        else:
            operator = next((op for op in _EXPR_OPS if text.startswith(op, index)), None)
            if operator is not None:
                kind = "cond" if operator in _CONDITIONS else "op"
                tokens.append(_Token(kind, operator))
                index += len(operator)
                continue
            match = _WORD.match(text, index)
            if match is None:
                raise ValueError(f"{where}: syntax error in expression at {text[index:]!r}")
            tokens.append(_value_token(match.group(), where))
            index = match.end()
    return tokens


class _Context:
    """What an expression is evaluated against: the value, its type, messages of the
    ``; "message"`` parts that failed."""

    def __init__(self, value: str, vtype: str) -> None:
        self.value = value
        self.vtype = vtype
        self.messages: list[str] = []


class _Expr:
    """A node of a syntax expression. ``evaluate`` is three-valued: True, False, or
    None when it cannot be known here (``exec``, other nodes' values)."""

    precedence = 9

    def evaluate(self, context: _Context) -> bool | None:
        """The expression's value for the context's value."""
        raise NotImplementedError

    def render(self) -> str:
        """The expression as text, for messages."""
        raise NotImplementedError

    def unknowns(self) -> list[str]:
        """The parts that cannot be checked offline (rendered)."""
        return []

    def wrapped(self, outer: int) -> str:
        """``render()``, in parentheses if it binds less tightly than ``outer``."""
        return f"({self.render()})" if self.precedence < outer else self.render()


class _Operand:
    """A comparison operand: ``$VAR(...)``, a backquoted command or literal values."""

    def __init__(self, kind: str, values: list[_Token]) -> None:
        self.kind = kind
        self.values = values

    def resolve(self, context: _Context) -> list[tuple[str, str]] | None:
        """(type, text) of each value; None if unknown here."""
        if self.kind == "var":
            return [(context.vtype, context.value)] if self.values[0].text == "$VAR(@)" else None
        if self.kind == "xstr":
            return None
        return [
            ("txt" if token.kind == "str" else token.vtype, token.text) for token in self.values
        ]

    def render(self) -> str:
        """The operand as written."""
        if self.kind == "var":
            return self.values[0].text
        if self.kind == "xstr":
            return f"`{self.values[0].text}`"
        return ", ".join(f'"{t.text}"' if t.kind == "str" else t.text for t in self.values)

    def unknown(self) -> bool:
        """Whether the operand needs the router (another node's value, a command)."""
        return self.kind == "xstr" or (self.kind == "var" and self.values[0].text != "$VAR(@)")


def _sort_key(vtype: str, text: str) -> int | tuple[int, ...] | bytes:
    """How Vyatta orders two values of one type (val_cmp)."""
    if vtype == "u32":
        return int(text)
    if vtype in ("ipv4", "ipv4net"):
        return tuple(int(part) for part in re.split(r"[./]", text))
    if vtype in ("ipv6", "ipv6net"):
        address, _, length = text.partition("/")
        try:
            return (int(ipaddress.IPv6Address(address)), int(length or 0))
        except ValueError:
            return text.encode()
    if vtype == "macaddr":
        return tuple(int(part, 16) for part in text.split(":"))
    return text.encode()


def _holds(
    condition: str, left: int | tuple[int, ...] | bytes, right: int | tuple[int, ...] | bytes
) -> bool:
    """``left <condition> right``."""
    order = (left > right) - (left < right)  # type: ignore[operator]
    allowed = {
        "==": (0,),
        "in": (0,),
        "!=": (-1, 1),
        "<": (-1,),
        ">": (1,),
        "<=": (-1, 0),
        ">=": (0, 1),
    }
    return order in allowed[condition]


class _Compare(_Expr):
    """``left <cond> right``; ``in`` holds when any right value equals the left one."""

    def __init__(self, left: _Operand, condition: str, right: _Operand) -> None:
        self.left, self.condition, self.right = left, condition, right

    def evaluate(self, context: _Context) -> bool | None:
        left = self.left.resolve(context)
        right = self.right.resolve(context)
        if left is None or right is None:
            return None
        if left[0][0] != right[0][0]:
            return False  # Vyatta: "Different types in comparison"
        for left_type, left_text in left:
            results = [
                _holds(
                    self.condition,
                    _sort_key(left_type, left_text),
                    _sort_key(right_type, right_text),
                )
                for right_type, right_text in right
                if right_type == left_type
            ]
            if not results:
                return False
            if not (any(results) if self.condition == "in" else all(results)):
                return False
        return True

    def render(self) -> str:
        return f"{self.left.render()} {self.condition} {self.right.render()}"

    def unknowns(self) -> list[str]:
        return [self.render()] if self.left.unknown() or self.right.unknown() else []


class _Pattern(_Expr):
    """``pattern $VAR(@) "regex"``: the POSIX regex is found in the value."""

    def __init__(self, variable: str, pattern: str) -> None:
        self.variable = variable
        self.pattern = pattern
        self.regex = _posix_ere(pattern)

    def evaluate(self, context: _Context) -> bool | None:
        if self.variable != "$VAR(@)":
            return None
        return self.regex.search(context.value) is not None

    def render(self) -> str:
        return f'pattern {self.variable} "{self.pattern}"'

    def unknowns(self) -> list[str]:
        return [] if self.variable == "$VAR(@)" else [self.render()]


class _Unknowable(_Expr):
    """``exec "command"`` or ``$VAR(x) = value``: needs the router, so unknown here."""

    def __init__(self, text: str) -> None:
        self.text = text

    def evaluate(self, context: _Context) -> bool | None:
        return None

    def render(self) -> str:
        return self.text

    def unknowns(self) -> list[str]:
        return [self.text]


class _Not(_Expr):
    """``!expr``."""

    precedence = 8

    def __init__(self, operand: _Expr) -> None:
        self.operand = operand

    def evaluate(self, context: _Context) -> bool | None:
        result = self.operand.evaluate(context)
        return None if result is None else not result

    def render(self) -> str:
        return "!" + self.operand.wrapped(9)

    def unknowns(self) -> list[str]:
        return self.operand.unknowns()


class _Logical(_Expr):
    """``a && b`` or ``a || b``, evaluated left first and short-circuited as Vyatta does."""

    def __init__(self, operator: str, left: _Expr, right: _Expr) -> None:
        self.operator = operator
        self.left, self.right = left, right
        self.precedence = 7 if operator == "&&" else 6

    def evaluate(self, context: _Context) -> bool | None:
        decisive = self.operator == "||"  # the value that settles the result
        left = self.left.evaluate(context)
        if left is decisive:
            return decisive
        right = self.right.evaluate(context)
        if right is decisive:
            return decisive
        return None if left is None or right is None else not decisive

    def render(self) -> str:
        return f"{self.left.wrapped(self.precedence)} {self.operator} {self.right.wrapped(self.precedence + 1)}"

    def unknowns(self) -> list[str]:
        return self.left.unknowns() + self.right.unknowns()


class _Message(_Expr):
    """``expr; "message"``: the message is what the user sees when expr fails."""

    def __init__(self, operand: _Expr, message: str) -> None:
        self.operand = operand
        self.message = " ".join(message.split())
        self.precedence = operand.precedence

    def evaluate(self, context: _Context) -> bool | None:
        result = self.operand.evaluate(context)
        if result is False:
            context.messages.append(self.message)
        return result

    def render(self) -> str:
        return self.operand.render()

    def unknowns(self) -> list[str]:
        return self.operand.unknowns()


class _Parser:
    """Recursive descent over the tokens, with cli_parse.y's precedences: ``;`` lowest,
    then ``||``, ``&&``, ``!``, ``,`` and the comparisons."""

    def __init__(self, tokens: list[_Token], where: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.where = where

    def parse(self) -> _Expr:
        """The whole expression."""
        expression = self._message()
        if self.index != len(self.tokens):
            self._fail()
        return expression

    def _fail(self) -> None:
        """Raise a syntax error at the current token."""
        shown = self.tokens[self.index].text if self.index < len(self.tokens) else "the end"
        raise ValueError(f"{self.where}: syntax error in expression at {shown!r}")

    def _peek(self, kind: str, text: str | None = None) -> bool:
        """Whether the next token is of ``kind`` (and ``text``)."""
        if self.index >= len(self.tokens):
            return False
        token = self.tokens[self.index]
        return token.kind == kind and (text is None or token.text == text)

    def _take(self, kind: str, text: str | None = None) -> _Token:
        """The next token, which must be of ``kind`` (and ``text``)."""
        if not self._peek(kind, text):
            self._fail()
        self.index += 1
        return self.tokens[self.index - 1]

    def _message(self) -> _Expr:
        expression = self._or()
        while self._peek("op", ";"):
            self.index += 1
            expression = _Message(expression, self._take("str").text)
        return expression

    def _or(self) -> _Expr:
        expression = self._and()
        while self._peek("op", "||"):
            self.index += 1
            expression = _Logical("||", expression, self._and())
        return expression

    def _and(self) -> _Expr:
        expression = self._not()
        while self._peek("op", "&&"):
            self.index += 1
            expression = _Logical("&&", expression, self._not())
        return expression

    def _not(self) -> _Expr:
        if self._peek("op", "!"):
            self.index += 1
            return _Not(self._not())
        return self._primary()

    def _primary(self) -> _Expr:
        if self._peek("op", "("):
            self.index += 1
            expression = self._message()
            self._take("op", ")")
            return expression
        if self._peek("op", "pattern"):
            self.index += 1
            variable = self._take("var").text
            return _Pattern(variable, self._take("str").text)
        if self._peek("op", "exec"):
            self.index += 1
            return _Unknowable('exec "' + " ".join(self._take("str").text.split()) + '"')
        if (
            self._peek("var")
            and self.index + 1 < len(self.tokens)
            and self.tokens[self.index + 1].text == "="
        ):
            variable = self._take("var").text
            self.index += 1
            return _Unknowable(f"{variable} = {self._operand().render()}")
        left = self._operand()
        condition = self._take("cond").text
        return _Compare(left, condition, self._operand())

    def _operand(self) -> _Operand:
        if self._peek("var") or self._peek("xstr"):
            token = self.tokens[self.index]
            self.index += 1
            return _Operand(token.kind, [token])
        values = [self._literal()]
        while self._peek("op", ","):
            self.index += 1
            values.append(self._literal())
        return _Operand("values", values)

    def _literal(self) -> _Token:
        if self._peek("str") or self._peek("value"):
            self.index += 1
            return self.tokens[self.index - 1]
        self._fail()
        raise AssertionError  # not reached: _fail raises


def _parse_expression(text: str, where: str) -> _Expr:
    """A ``syntax:expression:`` body as an expression tree."""
    return _Parser(_tokens(text, where), where).parse()


class _NodeDefCheck(_Check):
    """A node.def value: its type(s), then every syntax expression."""

    def __init__(self, types: tuple[str, ...], type_help: str, expressions: list[_Expr]) -> None:
        self.types = types
        self.type_help = type_help
        self.expressions = expressions

    def failure(self, value: str) -> str | None:
        vtype = next((t for t in self.types if _vy_type_ok(t, value)), None)
        if vtype is None:
            reason = "is not " + " or ".join(_VY_TYPES[t][1] for t in self.types)
            return f"{reason} ({self.type_help})" if self.type_help else reason
        for expression in self.expressions:
            context = _Context(value, vtype)
            if expression.evaluate(context) is False:
                reason = f"fails syntax:expression {expression.render()}"
                return f"{reason} ({'; '.join(context.messages)})" if context.messages else reason
        return None


_REG_FIELDS = frozenset({"default", "tag", "type", "multi", "priority"})
_ACT_FIELDS = frozenset(
    {
        "help",
        "syntax",
        "commit",
        "delete",
        "update",
        "activate",
        "create",
        "begin",
        "end",
        "enumeration",
        "comp_help",
        "allowed",
        "val_help",
    }
)
_FIELD = re.compile(r"(?P<name>[a-z_]+)(?P<expression>:expression)?:[ \t]*(?P<rest>.*)")
_TYPE_FIELD = re.compile(
    r"(?P<first>[a-z0-9]+)\s*(?:,\s*(?P<second>[a-z0-9]+))?\s*(?:;\s*\"(?P<help>.*)\")?\s*",
    re.DOTALL,
)


class _Field(NamedTuple):
    """One field of a node.def: ``name:`` or ``name:expression:`` and its text."""

    name: str
    expression: bool
    text: str


def _read_nodedef(path: Path) -> list[_Field]:
    """The fields of a node.def. A field runs until a line that starts another field or a
    ``#`` comment, as in Vyatta's lexer; ``\\``-newlines stay in the text."""
    fields: list[_Field] = []
    current: list[str] | None = None
    head: tuple[str, bool] = ("", False)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _FIELD.fullmatch(line)
        starts = match is not None and (
            match.group("name") in _ACT_FIELDS
            or (match.group("name") in _REG_FIELDS and not match.group("expression"))
        )
        if starts or line.startswith("#"):
            if current is not None:
                fields.append(_Field(head[0], head[1], "\n".join(current)))
            current = None
            if match is not None and starts:
                head = (match.group("name"), bool(match.group("expression")))
                current = [match.group("rest")]
        elif current is not None and head[0] in _ACT_FIELDS:
            current.append(line)
        elif line.strip():
            raise ValueError(f"{path}:{number}: unexpected line {line!r}")
    if current is not None:
        fields.append(_Field(head[0], head[1], "\n".join(current)))
    return fields


def _type_field(text: str, where: str) -> tuple[tuple[str, ...], str]:
    """``type: u32``, ``type: ipv4,ipv6``, ``type: txt; "help"``: the types and the help."""
    match = _TYPE_FIELD.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{where}: malformed type {text!r}")
    types = tuple(t for t in (match.group("first"), match.group("second")) if t)
    for vtype in types:
        if vtype not in _VY_TYPES:
            raise ValueError(f"{where}: unknown type {vtype!r}")
    return types, match.group("help") or ""


def _child_dirs(directory: Path) -> list[Path]:
    """The subdirectories that hold a node.def (a node's children)."""
    if not directory.is_dir():
        return []
    return sorted(
        sub
        for sub in directory.iterdir()
        if sub.name != "node.tag" and (sub / "node.def").is_file()
    )


def _nodedef_node(directory: Path, where: str) -> SchemaNode:
    """The SchemaNode of ``directory/node.def`` and, recursively, its children."""
    name = directory.name
    here = f"{where} {name}".strip()
    is_tag = multi = False
    types: tuple[str, ...] = ()
    type_help = help_text = ""
    expressions: list[_Expr] = []
    skipped: list[str] = []
    for field in _read_nodedef(directory / "node.def"):
        if field.name == "tag":
            is_tag = True
        elif field.name == "multi":
            multi = True
        elif field.name == "type":
            types, type_help = _type_field(field.text, here)
        elif field.name == "help" and not field.expression:
            help_text = field.text.strip().splitlines()[0] if field.text.strip() else ""
        elif field.name == "syntax":
            if not field.expression:
                raise ValueError(f"{here}: 'syntax:' without ':expression:'")
            expression = _parse_expression(field.text, here)
            expressions.append(expression)
            skipped += [
                f"syntax:expression {part} (needs the router)" for part in expression.unknowns()
            ]
        elif field.name == "commit":
            skipped.append("commit:expression " + " ".join(field.text.split()) + " (commit time)")
    children = _child_dirs(directory / "node.tag" if is_tag else directory)
    if is_tag:
        kind = TAG
        types = types or ("txt",)
    elif children:
        kind = NODE
        if types:
            raise ValueError(f"{here}: a typed node with children that is not a tag node")
    else:
        kind = LEAF
    valueless = kind == LEAF and not types
    if expressions and (kind == NODE or valueless):
        skipped += [
            f"syntax:expression {e.render()} (on a node without a value)" for e in expressions
        ]
    node = SchemaNode(
        name,
        kind,
        help_text=help_text,
        multi=multi,
        valueless=valueless,
        check=_NodeDefCheck(types, type_help, expressions) if types else None,
        skipped=tuple(skipped),
    )
    for child in children:
        node.children[child.name] = _nodedef_node(child, here)
    return node


# Where VyOS 1.1 (gen-interface-templates.pl of vyatta-vrrp) and EdgeOS mount ``vrrp``:
# interface type -> (name prefix, whether it has vif-s / vif-c).
_VYATTA_MOUNTS = {
    "ethernet": ("eth", True),
    "bonding": ("bond", True),
    "bridge": ("br", False),
    "pseudo-ethernet": ("peth", False),
    "switch": ("switch", False),
    "wireless": ("wlan", False),
}


def _load_vyatta(directory: Path) -> Schema:
    """The ``vyatta`` schema: ``directory/vrrp`` mounted under the interfaces."""
    if not (directory / "vrrp" / "node.def").is_file():
        raise FileNotFoundError(f"no vrrp/node.def under {directory}")
    vrrp = _nodedef_node(directory / "vrrp", "")
    vrrp.owned = True
    vlan = _RangeCheck(1, 4094, "a VLAN ID")
    interfaces = SchemaNode("interfaces", NODE)
    for type_name, (prefix, qinq) in _VYATTA_MOUNTS.items():
        article = "an" if type_name[0] in "aeiou" else "a"
        what = f"{article} {type_name} interface name ({prefix}0, {prefix}1, ...)"
        interface = SchemaNode(type_name, TAG, check=_PatternCheck(f"{prefix}[0-9]+", what))
        interface.children["vrrp"] = vrrp
        vif = SchemaNode("vif", TAG, check=vlan)
        vif.children["vrrp"] = vrrp
        interface.children["vif"] = vif
        if qinq:
            vif_s = SchemaNode("vif-s", TAG, check=vlan)
            vif_c = SchemaNode("vif-c", TAG, check=vlan)
            vif_c.children["vrrp"] = vrrp
            vif_s.children.update({"vrrp": vrrp, "vif-c": vif_c})
            interface.children["vif-s"] = vif_s
        interfaces.children[type_name] = interface
    root = SchemaNode("", NODE)
    root.children["interfaces"] = interfaces
    covered = "interfaces TYPE NAME [vif N | vif-s N [vif-c M]] vrrp ..."
    return Schema("vyatta", root, covered)


# ---------------------------------------------------------------------------------------
# Loading


def load(syntax: str, root: Path | None = None) -> Schema:
    """The schema of ``syntax`` (one of ``SYNTAXES``) read from ``root`` (default
    ``DEFAULT_ROOT``); read once, then cached. Raises ValueError on an unknown syntax and
    on schema data this module cannot read."""
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}: expected one of {', '.join(SYNTAXES)}")
    return _load(syntax, (DEFAULT_ROOT if root is None else Path(root)).resolve())


@functools.cache
def _load(syntax: str, root: Path) -> Schema:
    """``load`` after its arguments are checked (the cache is keyed on them)."""
    if syntax == "vyos":
        return _load_vyos(root / "vyos-1x")
    return _load_vyatta(root / "vyatta-vrrp")
