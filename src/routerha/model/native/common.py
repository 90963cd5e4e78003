"""What the native-configuration parsers share.

Every parser turns its syntax into the plain data ``load_config`` takes (keys as in
docs/configuration.md) through a :class:`Draft`, which remembers the source line each
key came from. ``Draft.build`` runs ``load_config``, so the model validates once for
every syntax, and maps each problem's key path back to the line that set it.

A parser given a ``semantic`` list builds the model even when it has semantic
problems (a long password, VRRPv3 with authentication...: see ``routerha.model.load``)
and appends them to the list, each with its line, for the consistency checks to
report; structural problems still raise. A line that sets a password is never quoted
in a message: only its number is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..load import load_config, load_config_lenient
from ..vrrp import Config

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z")


class NativeParseError(ConfigError):
    """A native configuration is malformed, or does not make a valid model.

    ``problems`` (as in ConfigError) pairs ``"SOURCE:LINE"`` with what is wrong, so
    ``str(error)`` reads ``r1.conf:12: ...; r1.conf:15: ...``. ``located`` holds the
    same as ``(line, message)`` with ``line`` None when no line can be named.
    """

    def __init__(self, source: str, located: list[tuple[int | None, str]]) -> None:
        self.source = source
        self.located = list(located)
        super().__init__([(where(source, line), why) for line, why in self.located])

    @property
    def lines(self) -> list[int]:
        """The line numbers named, in the order of the problems."""
        return [line for line, _message in self.located if line is not None]

    @property
    def line(self) -> int | None:
        """The first line named, if any."""
        return self.lines[0] if self.lines else None


def where(source: str, line: int | None) -> str:
    """``source:line``, or the bare source when no line is known."""
    return source if line is None else f"{source}:{line}"


@dataclass(frozen=True)
class Statement:
    """One configuration path with its value words, and where it was written.

    VyOS set lines and config.boot both come down to these: ``words`` is the full path
    from the root (``interfaces ethernet eth0 vrrp vrrp-group 1 priority 200``).
    """

    words: tuple[str, ...]
    line: int
    text: str


@dataclass(frozen=True)
class SemanticProblem:
    """A semantic problem of a leniently built model, and the line that caused it."""

    path: str  # the model key path, as load_config names it
    why: str
    source: str
    line: int | None

    @property
    def where(self) -> str:
        """``source:line`` (the bare source when no line is known)."""
        return where(self.source, self.line)

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.why}"


Keys = tuple[str, ...]

#: Keys whose values are secrets: the lines setting them are never quoted.
_SECRET_KEYS = frozenset({"password", "accept"})


def key_path(keys: Keys) -> str:
    """The dotted key path load_config uses in its problems (``vrrp.groups.G.vrid``)."""
    return ".".join(keys)


class Draft:
    """Plain data for load_config under construction, with the line of every key."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.data: dict[str, Any] = {}
        self.lines: dict[str, int] = {}
        self.texts: dict[int, str] = {}
        self.errors: list[tuple[int | None, str]] = []
        #: Lines that set a password: their text must not reach a message.
        self.secret_lines: set[int] = set()

    def error(self, line: int | None, message: str) -> None:
        """Record a problem found while reading (reported before the model is built)."""
        self.errors.append((line, message))

    def _mark_secret(self, keys: Keys, line: int) -> None:
        if keys and keys[-1] in _SECRET_KEYS and "authentication" in keys:
            self.secret_lines.add(line)

    def note(self, keys: Keys, line: int, text: str = "") -> None:
        """Remember ``line`` for ``keys`` and its parents, unless they already have one."""
        self._mark_secret(keys, line)
        for end in range(1, len(keys) + 1):
            self.lines.setdefault(key_path(keys[:end]), line)
        if text:
            self.texts.setdefault(line, text)

    def node(self, keys: Keys) -> dict[str, Any]:
        """The mapping at ``keys``, created (with its parents) when missing."""
        here = self.data
        for key in keys:
            child = here.get(key)
            if not isinstance(child, dict):
                child = here[key] = {}
            here = child
        return here

    def get(self, keys: Keys, default: Any = None) -> Any:
        """The value at ``keys``, or ``default``."""
        here: Any = self.data
        for key in keys:
            if not isinstance(here, dict) or key not in here:
                return default
            here = here[key]
        return here

    def has(self, keys: Keys) -> bool:
        marker = object()
        return self.get(keys, marker) is not marker

    def set(self, keys: Keys, value: Any, line: int, text: str = "") -> None:
        """Set a single value; a later setting replaces an earlier one, as in VyOS."""
        self.node(keys[:-1])[keys[-1]] = value
        self._mark_secret(keys, line)
        self.note(keys[:-1], line, text)
        self.lines[key_path(keys)] = line
        if text:
            self.texts.setdefault(line, text)

    def append(self, keys: Keys, value: Any, line: int, text: str = "") -> int:
        """Add to a list of values (each value once); returns its index."""
        parent = self.node(keys[:-1])
        values = parent.setdefault(keys[-1], [])
        if value in values:
            return values.index(value)
        values.append(value)
        self.note(keys, line, text)
        self.lines[f"{key_path(keys)}[{len(values) - 1}]"] = line
        return len(values) - 1

    def line_for(self, path: str) -> int | None:
        """The line that set ``path`` or, failing that, its nearest parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            if path.endswith("]") and "[" in path:
                path = path[: path.rindex("[")]
                continue
            if "." not in path:
                return None
            path = path[: path.rindex(".")]
        return None

    def build(self, semantic: list[SemanticProblem] | None = None) -> Config:
        """Validate with load_config; every problem is raised naming its line.

        With a ``semantic`` list, a model whose problems are all semantic is built
        anyway (load_config_lenient) and its problems are appended to the list.
        """
        if self.errors:
            raise NativeParseError(self.source, self.errors)
        try:
            if semantic is None:
                return load_config(self.data)
            config, found = load_config_lenient(self.data)
        except ConfigError as exc:
            located: list[tuple[int | None, str]] = []
            for path, why in exc.problems:
                line = self.line_for(path)
                message = f"{path}: {why}"
                if line is not None and self.texts.get(line) and line not in self.secret_lines:
                    message += f" (line: {self.texts[line]!r})"
                located.append((line, message))
            raise NativeParseError(self.source, located) from exc
        semantic.extend(
            SemanticProblem(path, why, self.source, self.line_for(path)) for path, why in found
        )
        return config


def integer(text: str) -> Any:
    """A whole number when ``text`` is one; else the text, for the model to refuse."""
    return int(text) if _INTEGER.match(text) else text


def number(text: str) -> Any:
    """A whole or decimal number when ``text`` is one; else the text."""
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        return float(text)
    return text


def boolean(text: str) -> Any:
    """``true``/``false`` as VyOS 1.1 writes them; else the text."""
    return {"true": True, "false": False}.get(text, text)


def text_value(text: str) -> Any:
    return text


def is_ipv6_text(value: Any) -> bool:
    """Whether an address as written is IPv6 (decides the VRRP version default)."""
    return isinstance(value, str) and ":" in value


def place_address(
    draft: Draft, keys: Keys, address: str, interface: str, line: int, text: str
) -> None:
    """Put ``address`` of the list at ``keys`` (a group's ``address`` or
    ``excluded_address``) on ``interface``: its entry becomes ``{"address",
    "interface"}``, the form load_config reads (VyOS ``address A interface Y``,
    keepalived ``A dev Y``). The address must be in the list already."""
    values = draft.get(keys, [])
    for index, entry in enumerate(values):
        written = entry["address"] if isinstance(entry, dict) else entry
        if written == address:
            values[index] = {"address": address, "interface": interface}
            draft.lines[f"{key_path(keys)}[{index}].interface"] = line
            draft.texts.setdefault(line, text)
            return
