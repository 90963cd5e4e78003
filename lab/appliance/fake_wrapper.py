"""The lab's stand-in for VyOS / EdgeOS ``/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper``.

Not the real thing: a bookkeeping copy of the configuration commands, for testing
Ansible roles against appliance-like containers (lab/appliance/layout.py installs it
as /usr/lib/routerha-appliance/fake_wrapper.py behind a launcher at the real path).
Nothing is applied to the system: the running configuration is a file.

::

    sg vyattacfg -c '
      W=/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper
      $W begin
      $W set high-availability vrrp group LAN vrid 10
      $W commit            # or: commit-confirm MINUTES, then confirm
      $W save
      $W end'

Ops: ``begin``, ``set WORDS``, ``delete WORDS``, ``commit``, ``commit-confirm [N]``
(default 10), ``confirm``, ``save [FILE]``, ``discard``, ``end``, ``show [PATH]``
(the working copy as set lines); any other op fails. The caller must be in group
``vyattacfg`` (its process groups, looked up by GID). A session belongs to the
calling shell (the wrapper's parent process, as with the real wrapper), so one
script runs begin..end; a session whose process is gone is dropped. Every op but
``begin``, ``confirm`` and ``save`` (which saves the running configuration) needs the
session. Failures print their message on standard output, as VyOS does, and exit 1:
``set`` a schema error then ``Set failed``; ``delete`` of a path (or path and value)
the working copy lacks ``Nothing to delete ...`` then ``Delete failed``; ``commit``
with nothing changed says ``No configuration changes to commit`` and succeeds.

``set`` replaces a single-value leaf's value and adds to a multi-value leaf; values
print single-quoted, tag values bare (``group LAN``, and VyOS 1.4's ``address
10.30.1.254/24``). Where the schema describes a path, its node kinds decide that;
elsewhere the platform's conventions (``Kinds``). ``delete`` removes the subtree and
the nodes it leaves empty, up to a tag value. ``commit`` makes the working copy the
running configuration (no merge with another session's commit since ``begin``).
``commit-confirm`` refuses while one is pending; ``confirm`` without one fails with
``No confirmation required``.

State, under ``VYATTA_FAKE_ROOT`` (default ``/``; tests point it at a directory):

* ``etc/vyatta-fake.conf``: JSON ``{"syntax": "vyos"|"vyatta", "platform": ...}``;
  the syntax picks the schema (lab/appliance/vyatta_schema.py) ``set`` and
  ``delete`` are checked with, on the subtrees it covers (VRRP and conntrack-sync);
  other paths are taken unchecked;
* ``var/lib/vyatta-fake/running.set``: the running configuration as set lines in
  canonical order (values single-quoted, as ``show configuration commands`` prints
  them);
* ``var/lib/vyatta-fake/sessions/<ppid>/``: a session's working copy;
* ``var/lib/vyatta-fake/commit-confirm.json`` and ``.previous.set``: a pending
  commit-confirm and the configuration it rolls back to;
* ``var/log/vyatta-fake/sessions.jsonl``: one JSON object per call (``time``,
  ``ppid``, ``pid``, ``uid``, ``op``, ``words``, ``status``, ``error``), plus the
  ``rollback`` of an unconfirmed commit-confirm;
* ``config/config.boot``: what ``save`` writes, in the curly-brace format.

Environment for tests (honoured only when ``VYATTA_FAKE_ROOT`` is not ``/``):
``VYATTA_FAKE_GROUP_CHECK=0`` skips the group check, ``VYATTA_FAKE_GROUP`` names
another group to require. ``VYATTA_FAKE_SECONDS_PER_MINUTE`` (default 60) shortens
commit-confirm's minutes. A commit-confirm's rollback is a transient systemd timer
(``systemd-run --on-active``) when systemd is PID 1 and we are root, else a detached
process; unlike the real platforms (which reboot into the saved configuration) it
restores the running configuration of before the commit.

Internal entries: ``--rollback TOKEN [--after SECONDS]`` (the scheduled rollback) and
``--load-config-boot`` (the boot stand-in: config/config.boot becomes the running
configuration).

Standard library only (it runs on the appliance's own Python 3).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

try:  # imported as lab.appliance.fake_wrapper (tests) or run as a script beside it
    from . import vyatta_schema
except ImportError:
    import vyatta_schema  # type: ignore[no-redef]

Words = tuple[str, ...]

SYNTAXES = ("vyos", "vyatta")
DEFAULT_CONF = {"syntax": "vyos", "platform": "vyos-1.4"}
GROUP = "vyattacfg"
DEFAULT_CONFIRM_MINUTES = 10
NO_CHANGES = "No configuration changes to commit"
NOTHING_TO_DELETE = "Nothing to delete (the specified node does not exist)"


class WrapperError(Exception):
    """An op failed; the message is what the wrapper prints (exit status 1)."""


# Where things are -----------------------------------------------------------------


class Paths:
    """The fake's files under a root directory."""

    def __init__(self, root: str | Path | None = None) -> None:
        if root is None:
            root = os.environ.get("VYATTA_FAKE_ROOT") or "/"
        self.root = Path(root)
        state = self.root / "var/lib/vyatta-fake"
        self.state = state
        self.running = state / "running.set"
        self.sessions = state / "sessions"
        self.lock = state / "lock"
        self.pending = state / "commit-confirm.json"
        self.previous = state / "commit-confirm.previous.set"
        self.log = self.root / "var/log/vyatta-fake/sessions.jsonl"
        self.conf = self.root / "etc/vyatta-fake.conf"
        self.config_boot = self.root / "config/config.boot"

    @property
    def test_mode(self) -> bool:
        return self.root.resolve() != Path("/")

    def under_root(self, path: str) -> Path:
        """An absolute path of the appliance, under our root."""
        return self.root / path.lstrip("/")


def read_conf(paths: Paths) -> dict[str, Any]:
    try:
        conf = json.loads(paths.conf.read_text())
    except FileNotFoundError:
        return dict(DEFAULT_CONF)
    except ValueError as exc:
        raise WrapperError(f"{paths.conf}: not JSON: {exc}") from None
    if conf.get("syntax") not in SYNTAXES:
        raise WrapperError(f"{paths.conf}: syntax must be one of {SYNTAXES}")
    return conf


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(paths: Paths) -> Iterator[None]:
    """One wrapper call (or rollback) at a time."""
    paths.state.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The configuration tree -----------------------------------------------------------


class Node:
    """A configuration node; ``value`` marks a leaf's value (``priority '200'``'s
    ``200``), as opposed to a node name or a tag value (``group LAN``'s ``LAN``)."""

    __slots__ = ("children", "value")

    def __init__(self, value: bool = False) -> None:
        self.children: dict[str, Node] = {}
        self.value = value

    def get(self, words: Sequence[str]) -> Node | None:
        node: Node | None = self
        for word in words:
            node = node.children.get(word) if node is not None else None
        return node

    def copy(self) -> Node:
        twin = Node(self.value)
        twin.children = {name: child.copy() for name, child in self.children.items()}
        return twin

    def leaves(self, prefix: Words = ()) -> Iterator[tuple[Words, bool]]:
        """(full path, whether its last word is a value), in canonical order."""
        for name, child in ordered(self):
            path = (*prefix, name)
            if child.children:
                yield from child.leaves(path)
            else:
                yield path, child.value


def _natural(word: str) -> tuple[tuple[int, int, str], ...]:
    """eth2 before eth10, 9 before 10."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", word)
        if part
    )


def ordered(node: Node) -> list[tuple[str, Node]]:
    """Nodes sorted naturally, then values in the order they were set (as VyOS keeps a
    multi-value leaf's values)."""
    names = sorted((item for item in node.children.items() if not item[1].value), key=_key)
    values = [item for item in node.children.items() if item[1].value]
    return names + values


def _key(item: tuple[str, Node]) -> tuple[tuple[int, int, str], ...]:
    return _natural(item[0])


# Node kinds -----------------------------------------------------------------------

#: Outside the schema's subtrees: tag nodes under ``interfaces`` (every interface
#: type is one: ``interfaces ethernet eth0``) and elsewhere.
_INTERFACE_TAGS = frozenset({"vif", "vif-s", "vif-c", "vrrp-group"})
_GENERIC_TAGS = frozenset(
    {
        "route",
        "route6",
        "next-hop",
        "interface-route",
        "interface-route6",
        "user",
        "shared-network-name",
        "subnet",
        "static-mapping",
        "rule",
    }
)
#: Multi-value leaves outside the schema's subtrees; ``vyatta``'s conntrack-sync
#: (not in its schema) has ``ignore-address ipv4|ipv6 X``.
_GENERIC_MULTI = frozenset(
    {"address", "name-server", "domain-search", "listen-address", "virtual-address"}
)
_MULTI = {"vyos": _GENERIC_MULTI, "vyatta": _GENERIC_MULTI | {"ipv4", "ipv6"}}
#: Valueless leaves outside the schema's subtrees, by name.
_VALUELESS = frozenset({"disable", "disable-syslog", "disable-external-cache", "startup-resync"})

_TAG_VALUE, _VALUE = "tag value", "value"


class Kinds:
    """What the words of a path are: tag nodes, tag values, leaves, multi-value leaves.

    Needed to keep the configuration as VyOS does (``set`` replaces a single-value
    leaf's value and adds to a multi-value one) and to print it (values quoted, tag
    values bare; ``tag VALUE {`` in config.boot). On the subtrees the schema describes
    its node kinds decide (``Schema.root``: vyatta_schema's ``SchemaNode`` tree);
    elsewhere the platform's conventions above do.
    """

    def __init__(self, syntax: str, schema: Any = None) -> None:
        self.syntax = syntax
        self.multi = _MULTI[syntax]
        self.schema_root = getattr(schema, "root", None)

    def _shape(self, path: Words) -> list[tuple[str, Any]] | None:
        """(role, schema node) per word of ``path`` as the schema places it: a node
        kind (``node``, ``tag``, ``leaf``), a tag value or a value; None when the
        schema does not know the path."""
        node = self.schema_root
        if node is None:
            return None
        roles: list[tuple[str, Any]] = []
        index = 0
        while index < len(path):
            if node.kind == vyatta_schema.LEAF:
                if node.valueless or index != len(path) - 1:
                    return None
                roles.append((_VALUE, node))
                break
            child = node.children.get(path[index])
            if child is None:
                return None
            roles.append((child.kind, child))
            index += 1
            node = child
            if child.kind == vyatta_schema.TAG and index < len(path):
                roles.append((_TAG_VALUE, child))
                index += 1
        return roles

    def is_tag(self, path: Words) -> bool:
        """Whether the node at ``path`` is a tag node (its children are tag values)."""
        shape = self._shape(path)
        if shape is not None:
            return shape[-1][0] == vyatta_schema.TAG
        if len(path) < 2 or self.is_tag_value(path):
            return False
        name, parent = path[-1], path[:-1]
        if path[0] == "interfaces":
            return len(path) == 2 or name in _INTERFACE_TAGS
        if self.syntax == "vyos" and parent == ("service", "conntrack-sync"):
            return name == "interface"
        return name in _GENERIC_TAGS

    def is_tag_value(self, path: Words) -> bool:
        shape = self._shape(path)
        if shape is not None:
            return shape[-1][0] == _TAG_VALUE
        return len(path) >= 3 and self.is_tag(path[:-1])

    def is_multi(self, path: Words) -> bool:
        """Whether the leaf at ``path`` takes several values."""
        shape = self._shape(path)
        if shape is not None:
            role, node = shape[-1]
            return role == vyatta_schema.LEAF and bool(node.multi)
        return path[-1] in self.multi

    def last_is_value(self, tree: Node, words: Words) -> bool:
        """Whether the last of ``set``'s words is a value (else a node name)."""
        shape = self._shape(words)
        if shape is not None:
            return shape[-1][0] == _VALUE
        if len(words) < 3:
            return False
        parent = words[:-1]
        if self.is_tag(parent) or self.is_tag_value(parent) or parent[-1] in _VALUELESS:
            return False
        existing = tree.get(parent)
        if existing is not None and existing.children:
            return any(child.value for child in existing.children.values())
        return words[-1] not in _VALUELESS


# Set lines ------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+=,%-]+$")


def _dquote(word: str) -> str:
    """``word`` in double quotes, its backslashes and double quotes escaped."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_value(word: str) -> str:
    """As ``show configuration commands`` prints a value."""
    if "'" not in word:
        return f"'{word}'"
    return _dquote(word)


def quote_word(word: str) -> str:
    """A node name or tag value: bare unless it needs quotes."""
    if _PLAIN.match(word):
        return word
    return _dquote(word)


def set_line(path: Words, value: bool) -> str:
    words = [quote_word(w) for w in path[:-1]]
    last = quote_value(path[-1]) if value else quote_word(path[-1])
    return " ".join(["set", *words, last])


def render_set_lines(tree: Node) -> str:
    return "".join(set_line(path, value) + "\n" for path, value in tree.leaves())


def split_words(line: str) -> list[tuple[str, bool]]:
    """A command line's words, and whether each was quoted ('...' literal, "..." with
    backslash escapes, backslash escapes outside quotes)."""
    out: list[tuple[str, bool]] = []
    i, size = 0, len(line)
    while i < size:
        if line[i].isspace():
            i += 1
            continue
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
                    raise ValueError(f"unterminated {char} quote in {line!r}")
                i = end + 1
            elif char == "\\" and i + 1 < size:
                chars.append(line[i + 1])
                i += 2
            else:
                chars.append(char)
                i += 1
        out.append(("".join(chars), quoted))
    return out


def parse_set_lines(text: str) -> Node:
    """Set lines (as written by render_set_lines) into a tree; a quoted last word is
    a value. ``#`` lines and blank lines are skipped."""
    tree = Node()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            words = split_words(line)
        except ValueError as exc:
            raise WrapperError(f"line {number}: {exc}") from None
        if words[0] != ("set", False) or len(words) < 2:
            raise WrapperError(f"line {number}: not a set line: {line!r}")
        _add(tree, tuple(w for w, _ in words[1:]), value=words[-1][1])
    return tree


def _add(tree: Node, path: Words, *, value: bool, multi: bool = True) -> None:
    """Add ``path``; with ``value``, its last word is a value of the leaf above it,
    which keeps its other values only when ``multi``."""
    node = tree
    for word in path[:-1]:
        child = node.children.get(word)
        if child is None:
            child = node.children[word] = Node()
        child.value = False
        node = child
    last = path[-1]
    if value:
        if any(not c.value for c in node.children.values()):
            raise WrapperError(f"{' '.join(path[:-1])} is a node with children, not a leaf")
        if not multi:
            node.children = {}
        node.children.setdefault(last, Node(value=True))
    else:
        if node.children.get(last) is not None and node.children[last].value:
            raise WrapperError(f"{last!r} is a value of {' '.join(path[:-1])}, not a node")
        node.children.setdefault(last, Node())


def config_set(tree: Node, words: Words, kinds: Kinds) -> None:
    value = kinds.last_is_value(tree, words)
    _add(tree, words, value=value, multi=value and kinds.is_multi(words[:-1]))


def config_delete(tree: Node, words: Words, kinds: Kinds) -> None:
    """Remove the subtree at ``words`` (a node, a leaf, or a leaf and one value), and
    the nodes left empty above it up to a tag value (``interfaces ethernet eth1`` or
    ``vrrp group LAN`` stays when its last child goes)."""
    chain = [tree]
    for word in words:
        child = chain[-1].children.get(word)
        if child is None:
            raise WrapperError(NOTHING_TO_DELETE)
        chain.append(child)
    del chain[-2].children[words[-1]]
    depth = len(words) - 1
    while depth > 0 and not chain[depth].children:
        if kinds.is_tag_value(words[:depth]):
            break
        del chain[depth - 1].children[words[depth - 1]]
        depth -= 1


# The curly-brace form (config.boot) -------------------------------------------------

_SPECIAL = re.compile(r"[\s{}\"'\\;#*]|^$|^//")


def _curly_value(word: str) -> str:
    if _SPECIAL.search(word):
        return _dquote(word)
    return word


def render_curly(tree: Node, kinds: Kinds) -> str:
    """The tree as config.boot holds it: ``name {`` nodes, ``tag VALUE {`` tag nodes,
    ``key value`` leaves (a multi-value leaf once per value), four spaces a level."""
    out: list[str] = []

    def walk(node: Node, path: Words, depth: int) -> None:
        pad = "    " * depth
        for name, child in ordered(node):
            here = (*path, name)
            word = _curly_value(name)
            values = [v for v, c in ordered(child) if c.value]
            if depth > 0 and kinds.is_tag(here):
                for tag_value, tagged in ordered(child):
                    out.append(f"{pad}{word} {_curly_value(tag_value)} {{")
                    walk(tagged, (*here, tag_value), depth + 1)
                    out.append(f"{pad}}}")
            elif values and len(values) == len(child.children) and depth > 0:
                out.extend(f"{pad}{word} {_curly_value(v)}" for v in values)
            elif not child.children and depth > 0:
                out.append(f"{pad}{word}")
            else:
                out.append(f"{pad}{word} {{")
                walk(child, here, depth + 1)
                out.append(f"{pad}}}")

    walk(tree, (), 0)
    return "".join(line + "\n" for line in out)


def _curly_tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, text, line): kind "word", "{", "}" or "end" (of a line)."""
    i, size, line = 0, len(text), 1
    while i < size:
        char = text[i]
        if char == "\n":
            yield "end", "", line
            line += 1
            i += 1
        elif char.isspace():
            i += 1
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                raise WrapperError(f"line {line}: '/*' is never closed")
            line += text.count("\n", i, close)
            i = close + 2
        elif text.startswith("//", i):
            close = text.find("\n", i)
            i = size if close < 0 else close
        elif char in "{}":
            yield char, char, line
            i += 1
        elif char == '"':
            start = line
            chars: list[str] = []
            i += 1
            while i < size and text[i] != '"':
                if text[i] == "\\" and i + 1 < size:
                    i += 1
                line += text[i] == "\n"
                chars.append(text[i])
                i += 1
            if i >= size:
                raise WrapperError(f"line {start}: '\"' is never closed")
            yield "word", "".join(chars), start
            i += 1
        else:
            start_i = i
            while i < size and not text[i].isspace() and text[i] not in '{}"':
                i += 1
            yield "word", text[start_i:i], line


def parse_curly(text: str) -> Node:
    """config.boot into a tree: ``a b {`` opens nodes, ``key value`` is a leaf and its
    value, a lone word a valueless leaf (or an empty node)."""
    tree = Node()
    stack: list[Words] = []
    prefix: Words = ()
    words: list[str] = []
    for kind, word, line in _curly_tokens(text + "\n"):
        if kind == "word":
            words.append(word)
            continue
        if kind == "{":
            if not words:
                raise WrapperError(f"line {line}: '{{' without a node name")
            stack.append(prefix)
            prefix = (*prefix, *words)
            _add(tree, prefix, value=False)
        elif words:
            path = (*prefix, *words)
            _add(tree, path, value=len(words) >= 2)
        if kind == "}":
            if not stack:
                raise WrapperError(f"line {line}: '}}' closes nothing")
            prefix = stack.pop()
        words = []
    if stack:
        raise WrapperError(f"unbalanced braces: {' '.join(prefix)} is never closed")
    return tree


def boot_footer(conf: dict[str, Any]) -> str:
    """The version footer the platform writes under a saved config.boot."""
    release = conf.get("version", "")
    if conf.get("syntax") == "vyatta":
        return (
            "\n/* Warning: Do not remove the following line. */\n"
            '/* === vyatta-config-version: "config-management@1:conntrack@1:'
            'firewall@5:nat@3:system@5:vrrp@1" === */\n'
            f"/* Release version: {release} */\n"
        )
    return (
        "// Warning: Do not remove the following line.\n"
        '// vyos-config-version: "conntrack-sync@2:interfaces@32:system@27:vrrp@4"\n'
        f"// Release version: {release}\n"
    )


# Store: the running configuration and the sessions ---------------------------------


def read_running(paths: Paths) -> Node:
    try:
        return parse_set_lines(paths.running.read_text())
    except FileNotFoundError:
        return Node()


def write_running(paths: Paths, tree: Node) -> None:
    _write_atomic(paths.running, render_set_lines(tree))


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


class Session:
    """The configuration session of one calling process."""

    def __init__(self, paths: Paths, ppid: int) -> None:
        self.paths = paths
        self.ppid = ppid
        self.dir = paths.sessions / str(ppid)
        self.meta = self.dir / "session.json"
        self.working = self.dir / "working.set"

    def exists(self) -> bool:
        """Open and still its process's (a session left by a dead shell is dropped)."""
        try:
            meta = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            if self.dir.exists():
                shutil.rmtree(self.dir, ignore_errors=True)
            return False
        if meta.get("start") != _start_time(self.ppid):
            shutil.rmtree(self.dir, ignore_errors=True)
            return False
        return True

    def open(self, running: Node) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.working, render_set_lines(running))
        meta = {"ppid": self.ppid, "start": _start_time(self.ppid), "began": _now()}
        _write_atomic(self.meta, json.dumps(meta) + "\n")

    def read(self) -> Node:
        return parse_set_lines(self.working.read_text())

    def write(self, tree: Node) -> None:
        _write_atomic(self.working, render_set_lines(tree))

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def drop_stale_sessions(paths: Paths) -> None:
    if paths.sessions.is_dir():
        for entry in paths.sessions.iterdir():
            if entry.name.isdigit():
                Session(paths, int(entry.name)).exists()


# Commit-confirm ---------------------------------------------------------------------


def _seconds_per_minute() -> float:
    text = os.environ.get("VYATTA_FAKE_SECONDS_PER_MINUTE", "60")
    try:
        seconds = float(text)
    except ValueError:
        raise WrapperError(f"VYATTA_FAKE_SECONDS_PER_MINUTE={text!r} is not a number") from None
    if seconds <= 0:
        raise WrapperError("VYATTA_FAKE_SECONDS_PER_MINUTE must be positive")
    return seconds


def _systemd_is_init() -> bool:
    try:
        return Path("/proc/1/comm").read_text().strip() == "systemd"
    except OSError:
        return False


def read_pending(paths: Paths) -> dict[str, Any] | None:
    try:
        return json.loads(paths.pending.read_text())
    except (OSError, ValueError):
        return None


def schedule_rollback(paths: Paths, previous: Node, minutes: int) -> dict[str, Any]:
    """Keep ``previous`` and arrange for it to become the running configuration again
    after ``minutes`` unless confirmed."""
    seconds = minutes * _seconds_per_minute()
    token = secrets.token_hex(6)
    _write_atomic(paths.previous, render_set_lines(previous))
    pending: dict[str, Any] = {
        "token": token,
        "minutes": minutes,
        "deadline": time.time() + seconds,
        "scheduled": _now(),
    }
    script = str(Path(__file__).resolve())
    python = sys.executable or "python3"
    env = {"VYATTA_FAKE_ROOT": str(paths.root)}
    if _systemd_is_init() and os.geteuid() == 0 and shutil.which("systemd-run"):
        unit = f"vyatta-fake-rollback-{token}"
        argv = [
            "systemd-run",
            "--quiet",
            f"--unit={unit}",
            f"--on-active={seconds:.3f}s",
            "--timer-property=AccuracySec=100ms",
            *(f"--setenv={k}={v}" for k, v in env.items()),
            python,
            "-E",
            "-s",
            script,
            "--rollback",
            token,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise WrapperError(f"commit-confirm: systemd-run failed: {done.stderr.strip()}")
        pending.update(scheduler="systemd", unit=unit)
    else:
        child = subprocess.Popen(
            [python, "-E", "-s", script, "--rollback", token, "--after", f"{seconds:.3f}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **env},
        )
        pending.update(scheduler="process", pid=child.pid)
    _write_atomic(paths.pending, json.dumps(pending) + "\n")
    return pending


def cancel_rollback(paths: Paths, pending: dict[str, Any]) -> None:
    paths.pending.unlink(missing_ok=True)
    paths.previous.unlink(missing_ok=True)
    if pending.get("scheduler") == "systemd":
        for suffix in ("timer", "service"):
            subprocess.run(
                ["systemctl", "stop", f"{pending['unit']}.{suffix}"],
                capture_output=True,
                check=False,
            )
    elif pending.get("pid"):
        pid = int(pending["pid"])
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if pending["token"].encode() in cmdline:  # still our sleeping rollback
                os.kill(pid, 15)


def rollback(paths: Paths, token: str) -> bool:
    """The scheduled rollback: restore the configuration of before the commit-confirm
    ``token``, unless it was confirmed. Returns whether it rolled back."""
    with locked(paths):
        pending = read_pending(paths)
        if pending is None or pending.get("token") != token:
            return False
        previous = paths.previous.read_text() if paths.previous.exists() else ""
        write_running(paths, parse_set_lines(previous))
        paths.pending.unlink(missing_ok=True)
        paths.previous.unlink(missing_ok=True)
        log_call(paths, "rollback", [token], 0, None)
        return True


# The log ----------------------------------------------------------------------------


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def log_call(paths: Paths, op: str, words: Sequence[str], status: int, error: str | None) -> None:
    record = {
        "time": _now(),
        "ppid": os.getppid(),
        "pid": os.getpid(),
        "uid": os.getuid(),
        "op": op,
        "words": list(words),
        "status": status,
        "error": error,
    }
    with contextlib.suppress(OSError):
        paths.log.parent.mkdir(parents=True, exist_ok=True)
        with paths.log.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def read_log(paths: Paths) -> list[dict[str, Any]]:
    if not paths.log.exists():
        return []
    return [json.loads(line) for line in paths.log.read_text().splitlines() if line.strip()]


# The group check ----------------------------------------------------------------------


def check_group(paths: Paths) -> None:
    """Refuse unless the process is in group vyattacfg (by its GID)."""
    name = GROUP
    if paths.test_mode:
        if os.environ.get("VYATTA_FAKE_GROUP_CHECK") == "0":
            return
        name = os.environ.get("VYATTA_FAKE_GROUP") or GROUP
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        raise WrapperError(f"group {name} does not exist: configuration needs it") from None
    if gid not in {os.getegid(), os.getgid(), *os.getgroups()}:
        raise WrapperError(
            f"not a member of group {name}: configuration commands need it "
            f"(run them with `sg {name} -c '...'`)"
        )


def load_schema(syntax: str) -> Any:
    """The schema of ``syntax`` (from the schema/ directory beside vyatta_schema.py)."""
    try:
        return vyatta_schema.load(syntax)
    except (OSError, ValueError) as exc:
        raise WrapperError(f"cannot read the {syntax} configuration schema: {exc}") from None


# The ops ------------------------------------------------------------------------------


class Wrapper:
    """The wrapper's ops for the calling process ``ppid``; each returns its output or
    raises WrapperError."""

    OPS = (
        "begin",
        "set",
        "delete",
        "commit",
        "commit-confirm",
        "confirm",
        "save",
        "discard",
        "end",
        "show",
    )

    def __init__(self, paths: Paths, ppid: int, schema: Any = None) -> None:
        self.paths = paths
        self.conf = read_conf(paths)
        self.session = Session(paths, ppid)
        self._schema = schema
        self._kinds: Kinds | None = None

    @property
    def schema(self) -> Any:
        if self._schema is None:
            self._schema = load_schema(self.conf["syntax"])
        return self._schema

    @property
    def kinds(self) -> Kinds:
        if self._kinds is None:
            self._kinds = Kinds(self.conf["syntax"], self.schema)
        return self._kinds

    def run(self, op: str, words: Words) -> str:
        if op not in self.OPS:
            raise WrapperError(f"Invalid command: {op} (expected one of {', '.join(self.OPS)})")
        method = getattr(self, "op_" + op.replace("-", "_"))
        return method(words)

    def _need_session(self) -> Session:
        if not self.session.exists():
            raise WrapperError(
                f"no configuration session for process {self.session.ppid}: run 'begin' first "
                "(from the same shell)"
            )
        return self.session

    def op_begin(self, words: Words) -> str:
        drop_stale_sessions(self.paths)
        if self.session.exists():
            raise WrapperError(
                f"a configuration session is already open for process {self.session.ppid}"
            )
        self.session.open(read_running(self.paths))
        return ""

    def op_set(self, words: Words) -> str:
        return self._edit(words, "Set", vyatta_schema.Schema.validate_set, config_set)

    def op_delete(self, words: Words) -> str:
        return self._edit(words, "Delete", vyatta_schema.Schema.validate_delete, config_delete)

    def _edit(
        self,
        words: Words,
        what: str,
        validate: Callable[[vyatta_schema.Schema, Words], None],
        edit: Callable[[Node, Words, Kinds], None],
    ) -> str:
        """Set or delete (``what``) a path in the working copy: ``validate`` it (a Schema
        method) where the schema covers it, then ``edit`` the tree."""
        session = self._need_session()
        if not words:
            raise WrapperError(f"{what} failed: no configuration path given")
        try:
            if self.schema.covers(words):
                validate(self.schema, words)
        except vyatta_schema.SchemaError as exc:
            raise WrapperError(f"{exc}\n\n{what} failed") from None
        tree = session.read()
        try:
            edit(tree, words, self.kinds)
        except WrapperError as exc:
            raise WrapperError(f"{exc}\n\n{what} failed") from None
        session.write(tree)
        return ""

    def _commit(self) -> tuple[Node, bool]:
        """Apply the working copy; (the previous running configuration, changed)."""
        session = self._need_session()
        working = session.read()
        running = read_running(self.paths)
        changed = render_set_lines(working) != render_set_lines(running)
        if changed:
            write_running(self.paths, working)
        return running, changed

    def op_commit(self, words: Words) -> str:
        if words and words[0] != "comment":
            raise WrapperError(f"commit: unexpected {' '.join(words)!r}")
        _previous, changed = self._commit()
        return "" if changed else NO_CHANGES + "\n"

    def op_commit_confirm(self, words: Words) -> str:
        minutes = DEFAULT_CONFIRM_MINUTES
        if words:
            if not words[0].isdigit() or int(words[0]) < 1:
                raise WrapperError(
                    f"commit-confirm: minutes must be a positive integer, not {words[0]!r}"
                )
            minutes = int(words[0])
        if read_pending(self.paths) is not None:
            raise WrapperError("commit-confirm: a commit-confirm is pending: 'confirm' it first")
        previous, changed = self._commit()
        schedule_rollback(self.paths, previous, minutes)
        head = "" if changed else NO_CHANGES + "\n"
        return (
            f"{head}commit confirm: the configuration will be rolled back in {minutes} "
            "minute(s) unless confirmed\n"
        )

    def op_confirm(self, words: Words) -> str:
        pending = read_pending(self.paths)
        if pending is None:
            raise WrapperError("No confirmation required")
        cancel_rollback(self.paths, pending)
        return ""

    def op_save(self, words: Words) -> str:
        if len(words) > 1:
            raise WrapperError(f"save: one file at most, not {' '.join(words)!r}")
        target = self.paths.under_root(words[0]) if words else self.paths.config_boot
        text = render_curly(read_running(self.paths), self.kinds) + boot_footer(self.conf)
        _write_atomic(target, text)
        with contextlib.suppress(KeyError, OSError):
            if not self.paths.test_mode:
                os.chown(target, -1, grp.getgrnam(GROUP).gr_gid)
                target.chmod(0o660)
        shown = words[0] if words else "/config/config.boot"
        return f"Saving configuration to '{shown}'...\nDone\n"

    def op_discard(self, words: Words) -> str:
        session = self._need_session()
        session.write(read_running(self.paths))
        return ""

    def op_end(self, words: Words) -> str:
        self._need_session().close()
        return ""

    def op_show(self, words: Words) -> str:
        tree = self._need_session().read()
        if words:
            sub = tree.get(words)
            if sub is None:
                raise WrapperError(
                    f"Configuration under specified path is empty: {' '.join(words)}"
                )
            return "".join(set_line((*words, *path), value) + "\n" for path, value in sub.leaves())
        return render_set_lines(tree)


def call(
    op: str,
    words: Sequence[str] = (),
    *,
    paths: Paths | None = None,
    ppid: int | None = None,
    schema: Any = None,
) -> tuple[int, str]:
    """One wrapper call in-process: (exit status, output). Checks the group, takes the
    lock and logs the call as the CLI does."""
    paths = paths or Paths()
    ppid = os.getppid() if ppid is None else ppid
    status, output, error = 0, "", None
    try:
        check_group(paths)
        with locked(paths):
            output = Wrapper(paths, ppid, schema).run(op, tuple(words))
    except WrapperError as exc:
        status, error = 1, str(exc)
        output = error + "\n"
    except Exception as exc:  # a bug of the fake: logged, then shown whole
        log_call(paths, op, list(words), 2, f"internal error: {exc!r}")
        raise
    log_call(paths, op, list(words), status, error)
    return status, output


def load_config_boot(paths: Paths) -> None:
    """The boot stand-in: config/config.boot (if any) becomes the running config."""
    with locked(paths):
        text = paths.config_boot.read_text() if paths.config_boot.exists() else ""
        write_running(paths, parse_curly(text))
        log_call(paths, "load-config-boot", [str(paths.config_boot)], 0, None)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # The state is shared by the group's members (the platform's admin users, root at
    # boot): what one creates, the others write.
    os.umask(0o002)
    paths = Paths()
    if args[:1] == ["--rollback"] and len(args) in (2, 4):
        if len(args) == 4 and args[2] == "--after":
            time.sleep(float(args[3]))
        rollback(paths, args[1])
        return 0
    if args == ["--load-config-boot"]:
        try:
            load_config_boot(paths)
        except WrapperError as exc:
            print(f"{paths.config_boot}: {exc}", file=sys.stderr)
            return 1
        return 0
    if not args:
        print("usage: vyatta-cfg-cmd-wrapper OP [WORDS...]", file=sys.stderr)
        return 1
    status, output = call(args[0], args[1:], paths=paths)
    sys.stdout.write(output)
    return status


if __name__ == "__main__":
    sys.exit(main())
