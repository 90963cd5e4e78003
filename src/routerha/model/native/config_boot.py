"""VyOS / Vyatta / EdgeOS ``config.boot``: the curly-brace form of the same tree.

Accepted input: nodes ``name [value] {`` ... ``}``, leaves ``name [value]`` one per
line (a leaf may also follow ``{`` or precede ``}`` on the same line), values bare or
``"double quoted"`` (backslash escapes), comments ``/* ... */`` (also over several
lines) and ``//`` to the end of the line where a word would start.

The tree is flattened into full paths, ``interfaces ethernet eth0 vrrp vrrp-group 1
priority 200`` as a set line would give it, and read by vyos_set's interpreter: one
interpretation for both syntaxes, so everything said there holds here (VyOS 1.1 /
EdgeOS ``interfaces ... vrrp``, VyOS 1.2+ ``high-availability vrrp``, ``service
conntrack-sync``; other top-level nodes skipped). Unbalanced braces are errors naming
the line of the unclosed ``{`` or of the stray ``}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..vrrp import Config
from .common import NativeParseError, SemanticProblem, Statement
from .vyos_set import collect_addresses, interpret

_OPEN, _CLOSE, _WORD, _END = "{", "}", "word", "end"


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int


def _indent(lines: list[str], number: int) -> int:
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    return len(line) - len(line.lstrip(" \t"))


def _tokens(text: str, source: str) -> list[_Token]:
    """Words, braces and line ends; comments dropped."""
    out: list[_Token] = []
    i, size, line = 0, len(text), 1
    while i < size:
        char = text[i]
        if char == "\n":
            out.append(_Token(_END, "", line))
            line += 1
            i += 1
        elif char.isspace():
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise NativeParseError(source, [(line, "comment '/*' is never closed")])
            for _newline in range(text.count("\n", i, end)):
                out.append(_Token(_END, "", line))
                line += 1
            i = end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = size if end < 0 else end
        elif char in "{}":
            out.append(_Token(char, char, line))
            i += 1
        elif char == '"':
            start_line = line
            chars: list[str] = []
            i += 1
            while i < size and text[i] != '"':
                if text[i] == "\\" and i + 1 < size:
                    i += 1
                if text[i] == "\n":
                    line += 1
                chars.append(text[i])
                i += 1
            if i >= size:
                raise NativeParseError(source, [(start_line, "quoted value: '\"' is never closed")])
            out.append(_Token(_WORD, "".join(chars), start_line))
            i += 1
        else:
            start = i
            while i < size and not text[i].isspace() and text[i] not in '{}"':
                i += 1
            out.append(_Token(_WORD, text[start:i], line))
    return out


def flatten(text: str, source: str = "<string>") -> list[Statement]:
    """The config.boot tree as full-path statements: one per leaf and one per node
    (so that a node given without children, ``vrrp-group 1 { }``, still exists).

    Raises NativeParseError on unbalanced braces or unclosed quotes and comments.
    """
    lines = text.split("\n")
    statements: list[Statement] = []
    stack: list[tuple[tuple[str, ...], int]] = []
    prefix: tuple[str, ...] = ()
    words: list[str] = []
    first = 0

    def emit(path: tuple[str, ...], number: int) -> None:
        statements.append(Statement(path, number, lines[number - 1].strip()))

    closes: list[tuple[int, int]] = []

    def mismatch(after: int) -> int | None:
        """The first '}' below line ``after`` indented unlike the '{' it closes."""
        for number, opened in closes:
            if number > after and _indent(lines, number) != _indent(lines, opened):
                return number
        return None

    for token in _tokens(text, source):
        if token.kind == _WORD:
            if not words:
                first = token.line
            words.append(token.text)
            continue
        if words:
            emit((*prefix, *words), first)
        if token.kind == _OPEN:
            if not words:
                raise NativeParseError(source, [(token.line, "'{' without a node name before it")])
            stack.append((prefix, first))
            prefix = (*prefix, *words)
        elif token.kind == _CLOSE:
            if not stack:
                raise NativeParseError(
                    source, [(token.line, "unbalanced '}': it closes no open '{'")]
                )
            prefix, opened = stack.pop()
            closes.append((token.line, opened))
        words = []
    if words:
        emit((*prefix, *words), first)
    if stack:
        _name, opened = stack[-1]
        located: list[tuple[int | None, str]] = [
            (
                opened,
                f"unbalanced braces: the '{{' of {lines[opened - 1].strip()!r} is never closed",
            )
        ]
        hint = mismatch(opened)
        if hint is not None:
            located.append((hint, "a '}' is probably missing near here (indentation)"))
        raise NativeParseError(source, located)
    return statements


def parse_config_boot(
    text: str, source: str = "<string>", semantic: list[SemanticProblem] | None = None
) -> Config:
    """Parse a VyOS / Vyatta / EdgeOS config.boot into the model.

    Raises NativeParseError naming ``source``, the line number and what is wrong.
    ``semantic``: as in vyos_set.parse_set_lines.
    """
    return interpret(flatten(text, source), source, [], semantic)


def interface_addresses(text: str, source: str = "<string>") -> dict[str, list[str]]:
    """The ``interfaces TYPE NAME [vif N] { address X }`` values per interface name,
    in order, as written (``dhcp`` included); vif ``N`` gives ``NAME.N``."""
    return collect_addresses(flatten(text, source))
