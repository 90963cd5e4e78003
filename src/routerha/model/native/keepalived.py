"""keepalived.conf: VRRP instances, sync groups and the scripts they track.

Accepted input: keepalived's block syntax (``keyword [values] {`` ... ``}``, braces
may also sit on a line of their own or hold a one-line list), values bare or
``"double quoted"``, comments from ``#`` or ``!`` at a word start to the line end.
Before that, each line goes through keepalived's own rewrites (:func:`preprocess`):
conditional lines ``@ID ...`` / ``@^ID ...`` are kept or dropped for a config id
(keepalived -i; without one they are left out with a warning each), and parameters
``$NAME=VALUE`` are substituted where ``$NAME`` / ``${NAME}`` is used
(:mod:`keepalived_lines`).

Read into the model:

* ``vrrp_instance NAME``: the group NAME. ``state``, ``interface``,
  ``virtual_router_id``, ``priority``, ``advert_int``, ``authentication { auth_type
  PASS|AH; auth_pass X }``, ``virtual_ipaddress`` / ``virtual_ipaddress_excluded``
  (``ADDR[/len] [dev IF] [brd X] [scope S] [label L] ...``: ``dev`` another than
  the instance's interface is ``address_interface``; the other options only shape
  how the kernel holds the address and are warned about), ``nopreempt`` /
  ``preempt``, ``preempt_delay``, ``version``, ``use_vmac [NAME]``
  (rfc3768-compatibility), ``unicast_src_ip`` / ``mcast_src_ip`` (hello source),
  ``unicast_peer { ... }``, ``track_interface { IF [weight N] }``,
  ``dont_track_primary``, ``track_script { NAME [weight N] }`` (one, as the health
  check), ``notify_master`` / ``_backup`` / ``_fault`` / ``_stop``,
  ``garp_master_delay`` / ``_repeat`` / ``_refresh`` / ``_refresh_repeat``,
  ``native_ipv6``;
* ``vrrp_sync_group NAME { group { A B } notify_* track_script
  sync_group_tracking_weight }``;
* ``vrrp_script NAME { script; interval; fall; weight }`` for the health checks;
* ``global_defs { vrrp_version; vrrp_garp_* }`` as defaults.

keepalived's own rules are applied: ``state MASTER`` without ``priority`` means
priority 255 (otherwise ``state`` is only a start hint), and ``state MASTER`` clears
``nopreempt`` and ``preempt_delay``, as does priority 255 ``nopreempt``. Weights mean
what they mean to keepalived, which is the model's meaning: positive added while the
interface is up or the script succeeds, negative while down or failing, 0 FAULT; a
member of a sync group without ``sync_group_tracking_weight`` tracks its interfaces
unweighted and ignores weighted scripts, and the address owner ignores both (each
with a warning).

Keywords the model has no place for are returned as warnings, not errors: keepalived
has hundreds (``track_file``, ``track_process`` and ``track_bfd`` among them, which
move the priority: their warnings say so). Errors (NativeParseError, naming the
line): malformed syntax (unbalanced braces, unclosed quotes), ``include`` (not
followed: this reads text, not a file system), an undefined ``$NAME`` as a keyword,
multi-line parameter definitions, ``~SEQ``/``~LST``, bad values, and what the model
cannot say: ``weight ... reverse``, more than one tracked script per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..vrrp import Config
from .common import (
    Draft,
    Keys,
    NativeParseError,
    SemanticProblem,
    integer,
    is_ipv6_text,
    key_path,
    number,
    place_address,
)
from .keepalived_lines import preprocess

_AUTH_TYPES = {"PASS": "plaintext-password", "AH": "ah"}

#: Instance keywords taking one value: model key and conversion.
_VALUES: dict[str, tuple[Keys, Callable[[str], Any]]] = {
    "interface": (("interface",), str),
    "virtual_router_id": (("vrid",), integer),
    "priority": (("priority",), integer),
    "advert_int": (("advertise_interval",), number),
    "preempt_delay": (("preempt_delay",), number),
    "version": (("version",), integer),
    "unicast_src_ip": (("hello_source_address",), str),
    "mcast_src_ip": (("hello_source_address",), str),
    "garp_master_delay": (("garp", "master_delay"), integer),
    "garp_master_repeat": (("garp", "master_repeat"), integer),
    "garp_master_refresh": (("garp", "master_refresh"), integer),
    "garp_master_refresh_repeat": (("garp", "master_refresh_repeat"), integer),
}

#: keepalived's address options that take a value, and the valueless ones.
_ADDRESS_VALUED = frozenset({"dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft"})
_ADDRESS_FLAGS = frozenset(
    {"home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac"}
)

#: keepalived's trackers the model cannot hold (it has interfaces and one script).
_OTHER_TRACKERS = frozenset({"track_file", "track_process", "track_bfd", "track_src_ip"})

_NOTIFY = {f"notify_{state}": state for state in ("master", "backup", "fault", "stop")}

#: ``global_defs`` keywords that set instance defaults.
_GLOBAL_GARP: dict[str, tuple[str, Callable[[str], Any]]] = {
    "vrrp_garp_master_delay": ("master_delay", integer),
    "vrrp_garp_master_repeat": ("master_repeat", integer),
    "vrrp_garp_master_refresh": ("master_refresh", integer),
    "vrrp_garp_master_refresh_repeat": ("master_refresh_repeat", integer),
    "vrrp_garp_interval": ("interval", number),
}


@dataclass
class Block:
    """One keepalived statement: its words, line, and children when it has a block."""

    words: list[str]
    line: int
    text: str
    children: list[Block] | None = None

    @property
    def keyword(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def args(self) -> list[str]:
        return self.words[1:]


def tokens(line: str, lineno: int, source: str) -> list[tuple[str, str]]:
    """(kind, text) pairs of one line, as keepalived reads it: kind is "word", "{" or "}"."""
    out: list[tuple[str, str]] = []
    i, size = 0, len(line)
    while i < size:
        char = line[i]
        if char.isspace():
            i += 1
        elif char in "#!":
            break
        elif char in "{}":
            out.append((char, char))
            i += 1
        elif char == '"':
            chars: list[str] = []
            i += 1
            while i < size and line[i] != '"':
                if line[i] == "\\" and i + 1 < size:
                    i += 1
                chars.append(line[i])
                i += 1
            if i >= size:
                raise NativeParseError(source, [(lineno, "unterminated '\"' quote")])
            out.append(("word", "".join(chars)))
            i += 1
        else:
            start = i
            while i < size and not line[i].isspace() and line[i] not in '{}"':
                i += 1
            out.append(("word", line[start:i]))
    return out


def read_blocks(
    text: str,
    source: str = "<string>",
    config_id: str | None = None,
    warnings: list[str] | None = None,
) -> list[Block]:
    """The statement tree of a keepalived.conf (its lines as
    :func:`keepalived_lines.preprocess` gives them). Raises NativeParseError on unbalanced braces (naming the unclosed ``{`` or
    the stray ``}``) and unclosed quotes."""
    root: list[Block] = []
    current = root
    stack: list[tuple[Block, list[Block]]] = []
    for lineno, raw in preprocess(text, source, config_id, warnings):
        stripped = raw
        words: list[str] = []
        for kind, token in tokens(raw, lineno, source):
            if kind == "word":
                words.append(token)
                continue
            if kind == "{":
                if words:
                    owner = Block(words, lineno, stripped, [])
                    current.append(owner)
                elif current and current[-1].children is None and current[-1].line < lineno:
                    owner = current[-1]  # "{" on a line of its own
                    owner.children = []
                else:
                    raise NativeParseError(source, [(lineno, "'{' without a keyword before it")])
                stack.append((owner, current))
                current = owner.children  # type: ignore[assignment]
            else:
                if words:
                    current.append(Block(words, lineno, stripped))
                if not stack:
                    raise NativeParseError(
                        source, [(lineno, "unbalanced '}': it closes no open '{'")]
                    )
                _owner, current = stack.pop()
            words = []
        if words:
            current.append(Block(words, lineno, stripped))
    if stack:
        owner, _children = stack[-1]
        raise NativeParseError(
            source,
            [(owner.line, f"unbalanced braces: the '{{' of {owner.text!r} is never closed")],
        )
    return root


@dataclass
class _Script:
    """A ``vrrp_script`` definition."""

    block: Block
    #: Model key -> (value, the line's statement).
    values: dict[str, tuple[Any, Block]] = field(default_factory=dict)
    weight: Block | None = None


@dataclass
class _Instance:
    name: str
    block: Block
    state: str | None = None
    nopreempt: Block | None = None
    track_scripts: list[Block] = field(default_factory=list)
    #: Addresses given with ``dev``: (their list's keys, address, interface, entry).
    dev: list[tuple[Keys, str, str, Block]] = field(default_factory=list)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.draft = Draft(source)
        self.warnings: list[str] = []
        self.scripts: dict[str, _Script] = {}
        self.version: tuple[Any, Block] | None = None
        self.garp: dict[str, tuple[Any, Block]] = {}
        self.instances: list[_Instance] = []
        self.sync_scripts: list[tuple[Keys, str, Block]] = []
        #: Instance -> (its vrrp_sync_group, whether that sets sync_group_tracking_weight).
        self.sync_member: dict[str, tuple[str, bool]] = {}

    def warn(self, block: Block, message: str) -> None:
        self.warnings.append(f"{self.source}:{block.line}: {message}")

    def error(self, block: Block, message: str) -> None:
        self.draft.error(block.line, message)

    # Checks on the shape of a statement

    def one(self, block: Block) -> str | None:
        """The single value of ``block``; records an error when it has not one."""
        if block.children is not None:
            self.error(block, f"{block.keyword} takes a value, not a {{ }} block")
        elif len(block.args) != 1:
            self.error(
                block, f"{block.keyword} takes one value, got {len(block.args)} in {block.text!r}"
            )
        else:
            return block.args[0]
        return None

    def items(self, block: Block, named: bool = False) -> list[Block]:
        """The entries of a ``keyword [NAME] { ... }`` block."""
        if block.children is None:
            self.error(block, f"{block.keyword} needs a {{ }} block")
            return []
        if block.args and not named:
            self.error(block, f"{block.keyword} takes no value before its block")
        return block.children

    def forbid_special(self, blocks: list[Block]) -> None:
        """``include`` and an undefined ``$NAME`` as a keyword: what the file says
        cannot be known (definitions and ``@`` conditions are applied by keepalived_lines)."""
        for block in blocks:
            keyword = block.keyword
            if keyword == "include":
                self.error(
                    block,
                    f"include {' '.join(block.args)} is not followed: give the included "
                    "configuration inline",
                )
            elif keyword.startswith("$"):
                self.error(
                    block, f"{keyword}: no parameter of that name is defined before this line"
                )
            if block.children:
                self.forbid_special(block.children)

    # The file

    def run(self, blocks: list[Block], semantic: list[SemanticProblem] | None = None) -> Config:
        self.forbid_special(blocks)
        for block in blocks:
            if block.keyword == "global_defs":
                self.global_defs(block)
            elif block.keyword == "vrrp_script":
                self.vrrp_script(block)
        for block in blocks:
            if block.keyword == "vrrp_instance":
                self.instance(block)
            elif block.keyword == "vrrp_sync_group":
                self.sync_group(block)
        for instance in self.instances:
            self.finish_instance(instance)
        for keys, name, block in self.sync_scripts:
            self.health_check(keys, [(name, block)])
        return self.draft.build(semantic)

    def global_defs(self, block: Block) -> None:
        for item in self.items(block):
            if item.keyword == "vrrp_version":
                value = self.one(item)
                if value is not None:
                    self.version = (integer(value), item)
            elif item.keyword in _GLOBAL_GARP:
                value = self.one(item)
                if value is not None:
                    key, convert = _GLOBAL_GARP[item.keyword]
                    self.garp[key] = (convert(value), item)
            elif item.keyword.startswith("vrrp_"):
                self.warn(item, f"global_defs {item.keyword} is not part of routerha's model")

    def vrrp_script(self, block: Block) -> None:
        if len(block.args) != 1:
            self.error(block, "vrrp_script needs one name")
            return
        script = _Script(block)
        for item in self.items(block, named=True):
            if item.keyword == "script":
                if not item.args:
                    self.error(item, "script needs a command")
                else:
                    script.values["script"] = (" ".join(item.args), item)
            elif item.keyword in ("interval", "fall"):
                value = self.one(item)
                if value is not None:
                    key = "interval" if item.keyword == "interval" else "failure_count"
                    script.values[key] = (integer(value), item)
            elif item.keyword == "weight":
                script.weight = item  # checked where the script is tracked
            elif item.keyword == "rise" and item.args == ["1"]:
                pass  # keepalived's default
            else:
                self.warn(
                    item, f"vrrp_script {block.args[0]}: {item.keyword} is not part of the model"
                )
        self.scripts[block.args[0]] = script

    def weight(self, block: Block, args: list[str]) -> int | None:
        """A tracking weight with keepalived's meaning, which is the model's: positive
        counts while up/succeeding, negative while down/failing, 0 means FAULT. The
        range (-253..253) is the model's to check. ``reverse`` turns the direction
        round, which the model cannot say."""
        if len(args) == 2 and args[1] == "noreverse":
            args = args[:1]  # keepalived's default direction
        if len(args) == 2 and args[1] == "reverse":
            self.error(
                block,
                "weight ... reverse (a positive weight subtracted while up, a negative one "
                "added while down) cannot be said in routerha's model",
            )
            return None
        if len(args) != 1:
            self.error(block, f"weight takes one value in {block.text!r}")
            return None
        value = integer(args[0])
        if not isinstance(value, int):
            self.error(block, f"weight {args[0]!r} is not a whole number")
            return None
        return value

    # Instances

    def instance(self, block: Block) -> None:
        if len(block.args) != 1:
            self.error(block, "vrrp_instance needs one name")
            return
        name = block.args[0]
        base = ("vrrp", "groups", name)
        if self.draft.has(base):
            self.error(block, f"vrrp_instance {name} is defined twice")
            return
        self.draft.node(base)
        self.draft.note(base, block.line, block.text)
        instance = _Instance(name, block)
        self.instances.append(instance)
        for item in self.items(block, named=True):
            self.instance_item(instance, base, item)

    def instance_item(self, instance: _Instance, base: Keys, item: Block) -> None:
        keyword = item.keyword
        draft = self.draft
        if keyword in _VALUES:
            value = self.one(item)
            if value is not None:
                keys, convert = _VALUES[keyword]
                draft.set((*base, *keys), convert(value), item.line, item.text)
        elif keyword in _NOTIFY:
            if item.children is not None or not item.args:
                self.error(item, f"{keyword} needs a script")
            else:
                draft.set(
                    (*base, "transition_script", _NOTIFY[keyword]),
                    " ".join(item.args),
                    item.line,
                    item.text,
                )
        elif keyword == "state":
            value = self.one(item)
            if value in ("MASTER", "BACKUP"):
                if instance.state != "MASTER":  # keepalived ignores BACKUP after MASTER
                    instance.state = value
            elif value is not None:
                self.warn(item, f"state {value!r} is neither MASTER nor BACKUP (BACKUP assumed)")
        elif keyword in ("nopreempt", "preempt", "dont_track_primary", "native_ipv6"):
            if item.args or item.children is not None:
                self.error(item, f"{keyword} takes no value")
            elif keyword == "dont_track_primary":
                draft.set((*base, "track", "exclude_vrrp_interface"), True, item.line, item.text)
            elif keyword != "native_ipv6":  # the addresses tell the family
                draft.set((*base, "preempt"), keyword == "preempt", item.line, item.text)
                instance.nopreempt = item if keyword == "nopreempt" else None
        elif keyword == "use_vmac":
            if len(item.args) > 1 or item.children is not None:
                self.error(item, "use_vmac takes at most an interface name")
            else:
                draft.set((*base, "rfc3768_compatibility"), True, item.line, item.text)
        elif keyword == "authentication":
            self.authentication(base, item)
        elif keyword in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
            key = "address" if keyword == "virtual_ipaddress" else "excluded_address"
            for entry in self.items(item):
                self.address(instance, (*base, key), entry)
        elif keyword == "unicast_peer":
            for entry in self.items(item):
                draft.append((*base, "peer_address"), entry.words[0], entry.line, entry.text)
                if entry.args:
                    self.warn(
                        entry,
                        f"unicast_peer {entry.words[0]}: {' '.join(entry.args)} is not part of "
                        "the model (the peer is read without it)",
                    )
        elif keyword == "track_interface":
            for entry in self.items(item):
                self.track_interface(base, entry)
        elif keyword == "track_script":
            instance.track_scripts.extend(self.items(item))
        elif keyword in _OTHER_TRACKERS:
            self.warn(
                item,
                f"vrrp_instance {instance.name}: {keyword}: keepalived moves the priority (or "
                "goes FAULT) with it, routerha's model has no place for it: this router's "
                "priority and faults are read without it",
            )
        else:
            self.warn(item, f"vrrp_instance {instance.name}: {keyword} is not part of the model")

    def authentication(self, base: Keys, block: Block) -> None:
        for item in self.items(block):
            value = self.one(item) if item.keyword in ("auth_type", "auth_pass") else None
            if item.keyword == "auth_type":
                if value is not None and value not in _AUTH_TYPES:
                    self.error(item, f"auth_type {value!r}: keepalived knows PASS and AH")
                elif value is not None:
                    self.draft.set(
                        (*base, "authentication", "type"), _AUTH_TYPES[value], item.line, item.text
                    )
            elif item.keyword == "auth_pass":
                if value is not None:
                    self.draft.set(
                        (*base, "authentication", "password"), value, item.line, item.text
                    )
            else:
                self.warn(item, f"authentication {item.keyword} is not part of the model")

    def address(self, instance: _Instance, keys: Keys, entry: Block) -> None:
        """``ADDR[/len] [dev IF] [brd X] [scope S] [label L] ...`` as keepalived reads
        it: the address, on ``dev`` when given (placed once the instance is read); the
        options that only shape how the kernel holds it are warned about."""
        if entry.children is not None:
            self.error(entry, "an address entry takes no { } block")
            return
        address = entry.words[0]
        options = entry.args
        dev: str | None = None
        i = 0
        while i < len(options):
            option = options[i]
            if option in _ADDRESS_VALUED:
                if i + 1 >= len(options):
                    self.error(entry, f"address {address}: {option} needs a value")
                    return
                value = options[i + 1]
                if option == "dev":
                    if dev is not None:
                        self.error(entry, f"address {address}: dev is given twice")
                        return
                    dev = value
                else:
                    self.warn(
                        entry,
                        f"address {address}: {option} {value} is not part of routerha's model "
                        "(routerhad installs the address without it)",
                    )
                i += 2
                continue
            if option == "no_track":
                self.warn(
                    entry,
                    f"address {address}: no_track is not part of routerha's model (routerhad "
                    "goes FAULT while the interface of an address on another interface is "
                    "down, as keepalived does without no_track)",
                )
            elif option in _ADDRESS_FLAGS:
                self.warn(
                    entry,
                    f"address {address}: {option} is not part of routerha's model "
                    "(routerhad installs the address without it)",
                )
            else:
                # keepalived: "Unknown configuration entry ... for ip address - ignoring".
                self.warn(
                    entry,
                    f"address {address}: unknown option {option!r} ignored, as keepalived does",
                )
            i += 1
        self.draft.append(keys, address, entry.line, entry.text)
        if dev is not None:
            instance.dev.append((keys, address, dev, entry))

    def track_interface(self, base: Keys, entry: Block) -> None:
        name, rest = entry.words[0], entry.args
        if not rest:
            self.draft.append((*base, "track", "interface"), name, entry.line, entry.text)
            return
        if rest[0] != "weight":
            self.error(entry, f"track_interface {name}: unknown option {rest[0]!r}")
            return
        weight = self.weight(entry, rest[1:])
        if weight is None:
            return
        value: Any = {"name": name, "weight": weight} if weight else name
        index = self.draft.append((*base, "track", "interface"), value, entry.line, entry.text)
        self.draft.note((*base, "track", f"interface[{index}]", "weight"), entry.line)

    def finish_instance(self, instance: _Instance) -> None:
        draft = self.draft
        base = ("vrrp", "groups", instance.name)
        block = instance.block
        if not draft.has((*base, "priority")):
            draft.set((*base, "priority"), 255 if instance.state == "MASTER" else 100, block.line)
        priority = draft.get((*base, "priority"))
        if instance.nopreempt is not None and (instance.state == "MASTER" or priority == 255):
            why = "state MASTER" if instance.state == "MASTER" else "priority 255"
            self.warn(
                instance.nopreempt, f"nopreempt has no effect with {why} (keepalived clears it)"
            )
            draft.set((*base, "preempt"), True, instance.nopreempt.line)
        if instance.state == "MASTER" and draft.get((*base, "preempt_delay")):
            line = draft.lines.get(f"{'.'.join(base)}.preempt_delay", block.line)
            self.warnings.append(
                f"{self.source}:{line}: preempt_delay has no effect with state MASTER "
                "(keepalived clears it)"
            )
            draft.set((*base, "preempt_delay"), 0, line)
        if draft.get((*base, "preempt")) is False and draft.get((*base, "preempt_delay")):
            line = draft.lines.get(f"{'.'.join(base)}.preempt_delay", block.line)
            self.warnings.append(
                f"{self.source}:{line}: preempt_delay has no effect with nopreempt "
                "(keepalived resets it)"
            )
            draft.set((*base, "preempt_delay"), 0, line)
        addresses = draft.get((*base, "address"), [])
        if not draft.has((*base, "version")) and self.version is not None:
            value, item = self.version
            if not any(is_ipv6_text(a) for a in addresses):
                draft.set((*base, "version"), value, item.line, item.text)
        for key, (value, item) in self.garp.items():
            if not draft.has((*base, "garp", key)):
                draft.set((*base, "garp", key), value, item.line, item.text)
        for keys, address, dev, entry in instance.dev:
            place_address(draft, keys, address, dev, entry.line, entry.text)
        if instance.track_scripts:
            self.health_check(base, [(entry.words[0], entry) for entry in instance.track_scripts])
        self.unweigh(instance, base)

    def unweigh(self, instance: _Instance, base: Keys) -> None:
        """keepalived's own rules for weights it will not use: a member of a sync group
        (without ``sync_group_tracking_weight``) tracks interfaces unweighted (FAULT)
        and ignores weighted scripts; the address owner ignores both."""
        draft = self.draft
        sync = self.sync_member.get(instance.name)
        owner = draft.get((*base, "priority")) == 255
        if owner:
            why = "the address owner (priority 255)"
        elif sync is not None and not sync[1]:
            why = f"a member of vrrp_sync_group {sync[0]} without sync_group_tracking_weight"
        else:
            return
        tracked = draft.get((*base, "track", "interface"), [])
        for index, entry in enumerate(list(tracked)):
            if not isinstance(entry, dict):
                continue
            line = draft.lines.get(f"{key_path((*base, 'track', 'interface'))}[{index}]")
            what = "ignores" if owner else "tracks without its weight (FAULT when down)"
            self.warnings.append(
                f"{self.source}:{line}: track_interface {entry['name']} weight "
                f"{entry['weight']}: keepalived {what} a weighted interface of {why}"
            )
            tracked[index] = None if owner else entry["name"]
        if tracked:
            tracked[:] = [entry for entry in tracked if entry is not None]
        check = draft.get((*base, "health_check"))
        if isinstance(check, dict) and check.get("weight"):
            line = draft.lines.get(key_path((*base, "health_check")))
            self.warnings.append(
                f"{self.source}:{line}: track_script with weight {check['weight']}: keepalived "
                f"ignores a weighted script of {why}"
            )
            del draft.node(base)["health_check"]

    def health_check(self, base: Keys, tracked: list[tuple[str, Block]]) -> None:
        """``track_script`` as the group's (or sync group's) one health check."""
        if len(tracked) > 1:
            self.error(
                tracked[1][1],
                f"{len(tracked)} tracked scripts: routerha's model has one health check per group",
            )
            return
        name, entry = tracked[0]
        script = self.scripts.get(name)
        if script is None:
            self.error(entry, f"track_script {name}: no vrrp_script {name} is defined")
            return
        if "script" not in script.values:
            self.error(script.block, f"vrrp_script {name} has no script")
            return
        # keepalived's defaults: every second, one failure.
        check: dict[str, tuple[Any, Block]] = {
            "interval": (1, script.block),
            "failure_count": (1, script.block),
            **script.values,
        }
        weight: int | None = 0
        weight_block = script.block
        if len(entry.words) > 1:
            if entry.words[1] != "weight":
                self.error(entry, f"track_script {name}: unknown option {entry.words[1]!r}")
                return
            weight, weight_block = self.weight(entry, entry.words[2:]), entry
        elif script.weight is not None:
            weight, weight_block = self.weight(script.weight, script.weight.args), script.weight
        if weight is None:
            return
        if weight:
            check["weight"] = (weight, weight_block)
        keys = (*base, "health_check")
        self.draft.note(keys, entry.line, entry.text)
        for key, (value, item) in check.items():
            self.draft.set((*keys, key), value, item.line, item.text)

    # Sync groups

    def sync_group(self, block: Block) -> None:
        if len(block.args) != 1:
            self.error(block, "vrrp_sync_group needs one name")
            return
        name = block.args[0]
        base = ("vrrp", "sync_groups", name)
        self.draft.node(base)
        self.draft.note(base, block.line, block.text)
        self.draft.node(base)["member"] = []
        items = self.items(block, named=True)
        weighted = any(item.keyword == "sync_group_tracking_weight" for item in items)
        for item in items:
            if item.keyword == "group":
                for entry in self.items(item):
                    for member in entry.words:
                        self.draft.append((*base, "member"), member, entry.line, entry.text)
                        self.sync_member.setdefault(member, (name, weighted))
            elif item.keyword == "sync_group_tracking_weight":
                if item.args or item.children is not None:
                    self.error(item, "sync_group_tracking_weight takes no value")
            elif item.keyword in _NOTIFY:
                if item.children is not None or not item.args:
                    self.error(item, f"{item.keyword} needs a script")
                else:
                    self.draft.set(
                        (*base, "transition_script", _NOTIFY[item.keyword]),
                        " ".join(item.args),
                        item.line,
                        item.text,
                    )
            elif item.keyword == "track_script":
                entries = self.items(item)
                if len(entries) > 1:
                    self.error(entries[1], "routerha's model has one health check per sync group")
                elif entries:
                    self.sync_scripts.append((base, entries[0].words[0], entries[0]))
            else:
                self.warn(item, f"vrrp_sync_group {name}: {item.keyword} is not part of the model")


def parse_keepalived(
    text: str,
    source: str = "<string>",
    semantic: list[SemanticProblem] | None = None,
    config_id: str | None = None,
) -> tuple[Config, list[str]]:
    """Parse a keepalived.conf (see the module docstring) into the model.

    Returns the Config and warnings (``source:line: ...``) for keywords the model has
    no place for. Raises NativeParseError naming ``source``, the line number and what
    is wrong. ``semantic``: as in vyos_set.parse_set_lines. ``config_id``: the router
    the file is read for, as keepalived's -i (its conditional lines ``@ID`` are
    evaluated for it; without one they are left out, with a warning each).
    """
    reader = _Reader(source)
    blocks = read_blocks(text, source, config_id, reader.warnings)
    config = reader.run(blocks, semantic)
    return config, reader.warnings
