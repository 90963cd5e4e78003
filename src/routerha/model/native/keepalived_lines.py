"""keepalived's line-level rewrites, applied before its block syntax is read.

keepalived reads its configuration line by line and, before a line's words count,
may drop or rewrite it: conditional lines (``@ID ...`` kept only where keepalived's
config id, ``-i ID``, is ID; ``@^ID ...`` only where it is not) and parameters
(``$NAME=VALUE`` defines, ``$NAME`` and ``${NAME}`` use). :func:`preprocess` does
the same, in the same order (a substituted line may be a conditional one again), so
one file shared by several routers reads as each of them reads it.
"""

from __future__ import annotations

import re

from .common import NativeParseError

#: keepalived's parameters: ``$NAME=VALUE`` defines, ``$NAME`` (then a blank or the
#: line's end) and ``${NAME}`` use.
_DEFINITION = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=\s|\Z)")
_COMMENT = re.compile(r"(?:^|\s)[#!].*\Z")
#: Rounds of substitution (and re-evaluated conditions) one line may take.
_MAX_SUBSTITUTIONS = 64
#: Characters a line may grow to by substitution.
_MAX_LINE = 65536


def conditional(line: str, config_id: str | None) -> tuple[str | None, str | None]:
    """keepalived's conditional line ``@ID rest`` / ``@^ID rest`` (keepalived -i ID).

    Returns (the line to read, or None when it is left out; the condition as
    written, or None for an ordinary line). ``@ID`` keeps ``rest`` where the config
    id is ID, ``@^ID`` where it is not; a condition without ``rest`` leaves nothing.
    Without a ``config_id`` no condition can be evaluated: every conditional line is
    left out (the caller reports it).
    """
    if not line.startswith("@"):
        return line, None
    words = line.split(None, 1)
    condition = words[0]
    if len(words) < 2 or config_id is None:
        return None, condition
    negated = condition.startswith("@^")
    name = condition[2:] if negated else condition[1:]
    return (words[1] if (name == config_id) != negated else None), condition


def _condition_warning(source: str, lineno: int, condition: str) -> str:
    wanted = f"not {condition[2:]}" if condition.startswith("@^") else condition[1:]
    return (
        f"{source}:{lineno}: conditional line ({condition}: only where keepalived's config "
        f"id (-i) is {wanted}) left out: no router id was given to evaluate it"
    )


def preprocess(
    text: str,
    source: str = "<string>",
    config_id: str | None = None,
    warnings: list[str] | None = None,
) -> list[tuple[int, str]]:
    """The lines keepalived reads, numbered as written, after its two line-level
    rewrites, in its order (a substitution may yield a conditional line again):

    * conditional lines (``@ID ...``, ``@^ID ...``), evaluated for ``config_id`` as
      keepalived -i does; without one they are left out, each with a warning (in
      ``warnings``) naming its line and its condition;
    * parameters: ``$NAME=VALUE`` defines (or redefines) NAME from that line on, and
      ``$NAME`` followed by a blank or the line's end, or ``${NAME}`` anywhere, is
      replaced by its value at use, again and again while defined ones are left.
      Undefined ones stay as written. Multi-line definitions (a value ending in
      ``\\``) and ``~SEQ``/``~LST`` repetitions are refused (NativeParseError).
    """
    params: dict[str, str] = {}
    out: list[tuple[int, str]] = []
    for lineno, original in enumerate(text.split("\n"), start=1):
        line: str | None = original.strip()
        for _round in range(_MAX_SUBSTITUTIONS):
            assert line is not None
            line, condition = conditional(line, config_id)
            if condition is not None and config_id is None and warnings is not None:
                warnings.append(_condition_warning(source, lineno, condition))
            if line is None:
                break
            definition = _DEFINITION.match(line)
            if definition is not None:
                value = _COMMENT.sub("", definition.group(2)).strip()
                if value.endswith("\\"):
                    raise NativeParseError(
                        source,
                        [(lineno, f"${definition.group(1)}: multi-line parameter definitions "
                                  "are not supported: define it on one line")],
                    )  # fmt: skip
                params[definition.group(1)] = value
                line = None
                break
            if line.startswith(("~SEQ", "~LST")):
                raise NativeParseError(
                    source, [(lineno, f"keepalived's {line[:4]} repetition is not supported")]
                )
            replaced = _REFERENCE.sub(
                lambda m: params.get(m.group(1) or m.group(2), m.group(0)), line
            )
            if replaced == line:
                break
            if len(replaced) > _MAX_LINE:
                # Parameters that double each other grow a line exponentially.
                raise NativeParseError(
                    source,
                    [(lineno, f"parameter substitution makes the line longer than {_MAX_LINE}")],
                )
            line = replaced.strip()
        else:
            raise NativeParseError(
                source,
                [(lineno, "parameter substitution does not end (a parameter in its own value?)")],
            )
        if line:
            out.append((lineno, line))
    return out
