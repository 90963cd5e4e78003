# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One keepalived ``vrrp_instance``'s authentication, for routerha.cluster.keepalived_auth:
the instance's ``authentication { auth_type PASS|AH; auth_pass X }`` block read and
rewritten in the text of keepalived.conf (every other line kept byte for byte), and
keepalived's JSON dump (``keepalived --signum=JSON``) and data dump (``--signum=DATA``)
mapped to the status shape ``routerhactl status --json`` has, for the checks of
module_utils/auth_rollover.py.

keepalived cannot hold two keys for an instance, so only ``set`` (at an agreed time)
changes it; there is no accept/send/drop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model.errors import ConfigError
from .model.native.common import NativeParseError
from .model.native.keepalived import parse_keepalived
from .model.native.keepalived import tokens as keepalived_tokens

#: routerha's authentication types and keepalived's ``auth_type`` words.
AUTH_TYPES = {"plaintext-password": "PASS", "ah": "AH"}
_FROM_KEEPALIVED = {v: k for k, v in AUTH_TYPES.items()}
#: keepalived's instance states (vrrp.h: VRRP_STATE_*), as the JSON dump numbers them.
STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "DELETED", 98: "STOP"}
#: Characters an ``auth_pass`` written by this module may not hold: keepalived's
#: word separators, quotes and comment starts.
_UNSAFE = set(" \t\r\n\"'#!{}\\")


class RewriteError(ValueError):
    """The file's instance block cannot be rewritten line by line."""


def _line_tokens(line: str) -> list[str]:
    """Words and braces of one line, read by the model's keepalived tokenizer (the
    rewrite must see the file exactly as the parser that checks it does)."""
    try:
        return [text for _kind, text in keepalived_tokens(line, 0, "keepalived.conf")]
    except NativeParseError as exc:
        raise RewriteError(exc.located[0][1]) from None


def _scan(lines: Sequence[str]) -> list[tuple[int, list[str]]]:
    """(brace depth at the line's start, tokens) per line."""
    depth, out = 0, []
    for line in lines:
        tokens = _line_tokens(line)
        out.append((depth, tokens))
        depth += tokens.count("{") - tokens.count("}")
    return out


def _instance_span(lines: Sequence[str], instance: str) -> tuple[int, int]:
    """Index of the ``vrrp_instance NAME`` line and of the line closing it."""
    scanned = _scan(lines)
    for index, (depth, tokens) in enumerate(scanned):
        if depth == 0 and tokens[:2] == ["vrrp_instance", instance]:
            level = 0
            for end in range(index, len(scanned)):
                for token in scanned[end][1]:
                    if token == "{":
                        level += 1
                    elif token == "}":
                        level -= 1
                        if level == 0:
                            if end == index:
                                raise RewriteError(
                                    f"vrrp_instance {instance} is on one line; cannot rewrite it"
                                )
                            if scanned[end][1] != ["}"]:
                                raise RewriteError(
                                    f"the line closing vrrp_instance {instance} holds more than '}}'"
                                )
                            return index, end
            raise RewriteError(f"vrrp_instance {instance} is never closed")
    raise RewriteError(f"no vrrp_instance {instance} in the file")


def _auth_span(lines: Sequence[str], start: int, end: int) -> tuple[int, int] | None:
    """First and last line of the instance's ``authentication`` block, or None."""
    scanned = _scan(lines)
    base = scanned[start][0] + 1
    for index in range(start + 1, end):
        depth, tokens = scanned[index]
        if depth == base and tokens[:1] == ["authentication"]:
            level = 0
            for last in range(index, end):
                for position, token in enumerate(scanned[last][1]):
                    if token == "{":
                        level += 1
                    elif token == "}":
                        level -= 1
                        if level == 0:
                            if position != len(scanned[last][1]) - 1:
                                raise RewriteError(
                                    "the authentication block shares its closing line with other statements"
                                )
                            return index, last
            raise RewriteError("the authentication block is never closed")
    return None


def read_auth(text: str, instance: str) -> dict[str, Any]:
    """``{"type": routerha type or "none", "password": auth_pass or None}`` of the
    instance (the password stays with the caller; never return it)."""
    lines = text.split("\n")
    start, end = _instance_span(lines, instance)
    span = _auth_span(lines, start, end)
    if span is None:
        return {"type": "none", "password": None}
    words = [t for line in lines[span[0] : span[1] + 1] for t in _line_tokens(line)]
    values = {}
    for keyword in ("auth_type", "auth_pass"):
        if keyword in words and words.index(keyword) + 1 < len(words):
            values[keyword] = words[words.index(keyword) + 1]
    kind = values.get("auth_type")
    return {
        "type": _FROM_KEEPALIVED.get(kind, kind) if kind else "none",
        "password": values.get("auth_pass"),
    }


def describe(text: str, instance: str, new_type: str, new_password: str | None) -> dict[str, Any]:
    """Where the member stands, as auth_rollover.describe: no secret; keepalived
    holds one key, so it accepts the new one only when it sends it."""
    current = read_auth(text, instance)
    sends = current["type"] == new_type and (
        new_type == "none" or current["password"] == new_password
    )
    return {
        "type": current["type"],
        "sends_new": sends,
        "accepts_new": new_password is not None and current["password"] == new_password,
        "accept_count": 0,
    }


def set_auth(text: str, instance: str, new_type: str, new_password: str | None) -> str:
    """``text`` with the instance's authentication block replaced by ``new_type`` and
    ``new_password`` (added, changed, or removed for ``none``); every other line is
    kept byte for byte. Raises RewriteError, or ConfigError when keepalived's
    parser (the shared model) rejects the result."""
    if new_type not in ("none", *AUTH_TYPES):
        raise RewriteError(f"type {new_type!r}: keepalived knows PASS and AH")
    if new_type != "none":
        if not new_password or _UNSAFE & set(new_password):
            raise RewriteError(
                "the password must be a non-empty word without blanks, quotes, '#', '!', braces or backslashes"
            )
        if len(new_password.encode()) > 8:
            raise RewriteError("the password is longer than 8 octets (keepalived truncates it)")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split("\n")
    start, end = _instance_span(lines, instance)
    span = _auth_span(lines, start, end)
    if span is not None:
        reference = lines[span[0]]
    else:
        body = [lines[i] for i in range(start + 1, end) if lines[i].strip()]
        reference = body[0] if body else "    "
    indent = _indent(reference)
    inner = indent + (indent[len(_indent(lines[start])) :] or "    ")
    if span is not None and span[1] > span[0] + 1:
        inner = _indent(lines[span[0] + 1]) or inner  # the block's own inner indentation
    cr = "\r" if newline == "\r\n" else ""
    block = []
    if new_type != "none":
        block = [
            f"{indent}authentication {{{cr}",
            f"{inner}auth_type {AUTH_TYPES[new_type]}{cr}",
            f"{inner}auth_pass {new_password}{cr}",
            f"{indent}}}{cr}",
        ]
    if span is not None:
        out = [*lines[: span[0]], *block, *lines[span[1] + 1 :]]
    else:
        out = [*lines[:end], *block, *lines[end:]]
    result = "\n".join(out)
    check(result, instance, new_type, new_password)
    return result


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def check(text: str, instance: str, new_type: str, new_password: str | None) -> None:
    """Parse ``text`` with the project's keepalived parser (the shared model) and make
    sure the instance has the wanted authentication. Raises ConfigError."""
    config, _warnings = parse_keepalived(text, "keepalived.conf")
    group = config.groups.get(instance)
    if group is None:
        raise ConfigError([(f"vrrp_instance {instance}", "missing after the change")])
    auth = group.authentication
    got = getattr(getattr(auth, "type", None), "value", None) if auth else None
    if (got or "none") != new_type or (
        new_type != "none" and getattr(auth, "password", None) != new_password
    ):
        raise ConfigError(
            [(f"vrrp_instance {instance}", "the rewritten authentication does not read back")]
        )


def data_dump_addresses(text: str, instance: str) -> dict[str, str | None]:
    """``Master router`` and ``Using src_ip`` of the instance in keepalived's data
    dump (``--signum=DATA``, /tmp/keepalived.data). Nothing else is read from it
    (it also holds the password)."""
    found: dict[str, str | None] = {"master_address": None, "source_address": None}
    inside = False
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("VRRP Instance = ") or line.startswith("------<"):
            inside = line == f"VRRP Instance = {instance}"
            continue
        if not inside or " = " not in line:
            continue
        key, _sep, value = line.partition(" = ")
        if key == "Master router":
            found["master_address"] = value.split()[0] if value.strip() else None
        elif key == "Using src_ip":
            found["source_address"] = value.split()[0] if value.strip() else None
    return found


def status_from_dump(
    dump: Sequence[Mapping[str, Any]],
    instance: str,
    addresses: Mapping[str, str | None] | None = None,
) -> dict[str, Any] | None:
    """The instance's entry of keepalived's JSON dump (/tmp/keepalived.json) in the
    shape of ``routerhactl status --json``'s group entry, without ``auth_data``;
    None when the dump has no such instance. ``addresses``: data_dump_addresses().

    ``counters.transitions`` counts become_master + release_master (keepalived
    counts no other transition); ``drops`` maps auth_failure to auth_data and
    invalid_authtype + authtype_mismatch to auth_type.
    """
    for entry in dump:
        data, stats = entry.get("data") or {}, entry.get("stats") or {}
        if data.get("iname") != instance:
            continue
        state = data.get("state")
        reasons = {
            "auth_data": stats.get("auth_failure", 0),
            "auth_type": stats.get("invalid_authtype", 0) + stats.get("authtype_mismatch", 0),
            "length": stats.get("packet_len_err", 0),
            "interval": stats.get("advert_interval_err", 0),
            "ttl": stats.get("ip_ttl_err", 0),
            "type": stats.get("invalid_type_rcvd", 0),
            "address_list": stats.get("addr_list_err", 0),
        }
        addresses = addresses or {}
        return {
            "name": instance,
            "interface": data.get("ifp_ifname"),
            "vrid": data.get("vrid"),
            "version": data.get("version"),
            "state": STATES.get(state, str(state)),
            "priority": data.get("base_priority"),
            "effective_priority": data.get("effective_priority"),
            "master_address": addresses.get("master_address"),
            "master_priority": data.get("master_priority"),
            "source_address": addresses.get("source_address"),
            "last_transition": data.get("last_transition"),
            "authentication": _FROM_KEEPALIVED.get(
                {1: "PASS", 2: "AH"}.get(data.get("auth_type"), ""), "none"
            ),
            "counters": {
                "adverts_sent": stats.get("advert_sent", 0),
                "adverts_received": stats.get("advert_rcvd", 0),
                "transitions": stats.get("become_master", 0) + stats.get("release_master", 0),
                "priority_zero_received": stats.get("pri_zero_rcvd", 0),
                "priority_zero_sent": stats.get("pri_zero_sent", 0),
                "drops": {k: v for k, v in reasons.items() if v},
            },
        }
    return None
