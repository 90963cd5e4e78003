"""Native router configurations read into routerha's one data model.

VyOS / EdgeOS set lines, config.boot files and keepalived.conf files describe the same
VRRP groups in their own words; these parsers turn each into the plain data
``load_config`` takes and let the model validate it, so consistency checks compare
routers whatever they run. Every error is a NativeParseError (a ConfigError) naming
the source, the line and what is wrong.

======================  ==========================================================
kind                    parser
======================  ==========================================================
``"vyos-set"``          :func:`vyos_set.parse_set_lines` (VyOS 1.1-1.4+, EdgeOS)
``"config-boot"``       :func:`config_boot.parse_config_boot` (same tree, braces)
``"keepalived"``        :func:`keepalived.parse_keepalived` (returns warnings too)
======================  ==========================================================
"""

from __future__ import annotations

import re

from ..vrrp import Config
from . import config_boot, keepalived, vyos_set
from .common import NativeParseError, SemanticProblem
from .config_boot import parse_config_boot
from .keepalived import parse_keepalived
from .vyos_set import parse_set_lines

KINDS = ("vyos-set", "config-boot", "keepalived")

_SET_COMMANDS = frozenset({"set", "edit", "delete", "exit", "top", "commit", "save", "configure"})
_KEEPALIVED_ROOTS = frozenset(
    {
        "global_defs",
        "vrrp_instance",
        "vrrp_sync_group",
        "vrrp_script",
        "vrrp_track_process",
        "virtual_server",
        "virtual_server_group",
        "static_ipaddress",
        "static_routes",
        "static_rules",
        "track_group",
        "garp_group",
        "linkbeat_interfaces",
        "include",
        "net_namespace",
        "bfd_instance",
    }
)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def detect_kind(text: str) -> str:
    """Which of KINDS ``text`` is, judged by its first meaningful line.

    Set lines begin with a command (``set``, ``edit``...); keepalived.conf with one of
    its root keywords (``global_defs``, ``vrrp_instance``...), an underscored word, a
    conditional line (``@ID ...``) or a parameter (``$NAME=...``);
    config.boot with a node opening a block (``interfaces {``). Raises
    NativeParseError when none fits.
    """
    for number, raw in enumerate(_BLOCK_COMMENT.sub(_keep_newlines, text).split("\n"), 1):
        line = raw.strip()
        if not line or line[0] in "#!" or line.startswith("//"):
            continue
        if line.startswith(("@", "$")):
            return "keepalived"  # a conditional line or a parameter: keepalived only
        first = line.split()[0].strip("{")
        if first in _SET_COMMANDS:
            return "vyos-set"
        if first in _KEEPALIVED_ROOTS or "_" in first:
            return "keepalived"
        if line.endswith("{"):
            return "config-boot"
        raise NativeParseError(
            "<string>",
            [(number, f"cannot tell the configuration kind from {line!r}; give one of {KINDS}")],
        )
    raise NativeParseError("<string>", [(None, "the configuration is empty")])


def _detect(text: str, source: str) -> str:
    """detect_kind, its errors naming ``source``."""
    try:
        return detect_kind(text)
    except NativeParseError as exc:
        raise NativeParseError(source, exc.located) from None


def _keep_newlines(match: re.Match[str]) -> str:
    return "\n" * match.group(0).count("\n")


def parse_native(
    text: str,
    kind: str | None = None,
    source: str = "<string>",
    warnings: list[str] | None = None,
    semantic: list[SemanticProblem] | None = None,
    config_id: str | None = None,
) -> Config:
    """Parse a native configuration of ``kind`` (one of KINDS; None: detect it).

    keepalived's warnings (keywords the model has no place for, conditional lines
    left out) are appended to ``warnings`` when a list is given. With a ``semantic``
    list, the model is built despite semantic problems, which are appended to it
    (see ``vyos_set.parse_set_lines``). ``config_id``: the router a keepalived.conf
    is read for (keepalived's -i; see ``keepalived.parse_keepalived``). Raises
    NativeParseError.
    """
    if kind is None:
        kind = _detect(text, source)
    if kind == "vyos-set":
        return parse_set_lines(text, source, semantic)
    if kind == "config-boot":
        return parse_config_boot(text, source, semantic)
    if kind == "keepalived":
        config, found = parse_keepalived(text, source, semantic, config_id)
        if warnings is not None:
            warnings.extend(found)
        return config
    raise ValueError(f"unknown configuration kind {kind!r}; expected one of {KINDS}")


def interface_addresses(
    text: str, kind: str | None = None, source: str = "<string>"
) -> dict[str, list[str]]:
    """The interface addresses a VyOS configuration sets, per interface name.

    keepalived.conf configures no interface addresses: the result is empty.
    """
    if kind is None:
        kind = _detect(text, source)
    if kind == "vyos-set":
        return vyos_set.interface_addresses(text, source)
    if kind == "config-boot":
        return config_boot.interface_addresses(text, source)
    if kind == "keepalived":
        keepalived.read_blocks(text, source)  # still refuse malformed text
        return {}
    raise ValueError(f"unknown configuration kind {kind!r}; expected one of {KINDS}")


__all__ = [
    "KINDS",
    "NativeParseError",
    "SemanticProblem",
    "detect_kind",
    "interface_addresses",
    "parse_config_boot",
    "parse_keepalived",
    "parse_native",
    "parse_set_lines",
]
