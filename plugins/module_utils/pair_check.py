# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The options of routerha.cluster.pair_check to findings, and the findings to a
module result. The checks themselves are the model's (src/routerha/model/consistency.py):
this reads each member as ``load_member`` does, passes what the options add (the
interface addresses, the codes to leave out) and words the outcome.

It also tells the module which strings to mask (``AnsibleModule.no_log_values``):
the passwords of every group of every member that was read, in each spelling the
input or a log line may give them; and, for a member that could not be read, a
conservative guess (:func:`conservative_secrets`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .model.consistency import (
    CODES,
    ERROR,
    MEMBER_KINDS,
    WARNING,
    Finding,
    Member,
    check_members,
    load_member,
    match_groups,  # the grouping check_members uses; it names the groups as the findings do
)
from .model.errors import ConfigError
from .model.native import NativeParseError
from .model.vrrp import Config

#: The kinds ``config`` takes: the data model, as data or JSON text.
MODEL_KINDS = ("auto", "routerha")


@dataclasses.dataclass
class Loaded:
    """The members as read: those that could be, what was wrong with the rest, and
    the strings the module must mask."""

    members: dict[str, Member] = dataclasses.field(default_factory=dict)
    problems: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    secrets: set[str] = dataclasses.field(default_factory=set)
    given: int = 0  # members given
    unread: int = 0  # of them, those that could not be read

    def problem(self, member: str | None, line: int | None, problem: str) -> None:
        self.problems.append({"member": member, "line": line, "problem": problem})

    def message(self) -> str:
        """One line per problem, each naming the member (and the line, where known)."""
        if self.given:
            head = f"cannot read {self.unread} of {_count(self.given, 'member')}:"
        else:
            head = "nothing to check:"
        return "\n".join([head, *(_where(p) for p in self.problems)])


def _where(problem: Mapping[str, Any]) -> str:
    member, line, text = problem["member"], problem["line"], problem["problem"]
    if member is None:
        return text
    return f"{member}:{line}: {text}" if line is not None else f"{member}: {text}"


def load_members(options: Sequence[Mapping[str, Any]]) -> Loaded:
    """Read every member of the ``members`` option; collect every problem at once."""
    loaded = Loaded()
    if not options:
        loaded.problem(None, None, "members: give at least one member")
        return loaded
    seen: set[str] = set()
    for index, option in enumerate(options):
        where = f"members[{index}]"
        name = option.get("name")
        config, native = option.get("config"), option.get("native")
        kind = option.get("kind") or "auto"
        read = False
        if not name:
            loaded.problem(None, None, f"{where}.name: must be a non-empty string")
        elif name in seen:
            loaded.problem(None, None, f"{where}.name: {name!r} is given twice")
        elif (config is None) == (native is None):
            both = "both are given" if config is not None else "neither is given"
            loaded.problem(name, None, f"give exactly one of config and native ({both})")
        elif config is not None and kind not in MODEL_KINDS:
            loaded.problem(
                name,
                None,
                f"kind {kind} is a native configuration: give it as native; config takes "
                "the routerha data model (a dict or its JSON text)",
            )
        else:
            read = _load_one(
                loaded,
                name,
                config,
                native,
                kind,
                option.get("interface_addresses"),
                option.get("config_id"),
            )
        if name:
            seen.add(name)
        if not read:
            loaded.unread += 1
            loaded.secrets |= conservative_secrets(option)
    loaded.given = len(options)
    return loaded


def _load_one(
    loaded: Loaded,
    name: str,
    config: Any,
    native: Any,
    kind: str,
    addresses: Any,
    config_id: str | None = None,
) -> bool:
    """Read one member into ``loaded``; False when it cannot be read. ``config_id``
    evaluates keepalived's conditional lines (``@ID ...``) as keepalived -i ID does;
    keepalived's own default is the first label of the host name, so the member's
    name (its inventory hostname) up to its first dot stands in when none is given."""
    if kind not in MEMBER_KINDS:  # the argument spec's choices keep this from happening
        loaded.problem(name, None, f"kind must be one of {', '.join(MEMBER_KINDS)}")
        return False
    try:
        if config is not None:
            member = load_member(config, "routerha", name)
        else:
            member = load_member(native, kind, name, config_id or name.split(".", maxsplit=1)[0])
    except NativeParseError as exc:
        for line, why in exc.located:
            loaded.problem(name, line, why)
        return False
    except (ConfigError, ValueError) as exc:
        loaded.problem(name, None, str(exc))
        return False
    given, problems = _interface_addresses(addresses)
    for problem in problems:
        loaded.problem(name, None, f"interface_addresses{problem}")
    if given:
        merged = {**member.interface_addresses, **given}
        member = dataclasses.replace(member, interface_addresses=merged)
    loaded.members[name] = member
    loaded.secrets |= passwords(member.config)
    return not problems


def _interface_addresses(value: Any) -> tuple[dict[str, tuple[Any, ...]], list[str]]:
    """``{eth0: [10.1.1.2/24], eth1: 10.1.2.2/24}`` -> parsed addresses, and problems
    (each a key path below ``interface_addresses``, then what is wrong)."""
    if not value:
        return {}, []
    if not isinstance(value, Mapping):
        return {}, [": must map interface names to lists of addresses"]
    out: dict[str, tuple[Any, ...]] = {}
    problems: list[str] = []
    for ifname, items in value.items():
        listed = [items] if isinstance(items, str) else items
        if not isinstance(listed, (list, tuple)):
            problems.append(f".{ifname}: must be an address or a list of addresses")
            continue
        parsed = []
        for i, item in enumerate(listed):
            try:
                parsed.append(ipaddress.ip_interface(item))
            except (TypeError, ValueError):
                problems.append(f".{ifname}[{i}]: {item!r} is not an address (with a prefix)")
        out[str(ifname)] = tuple(parsed)
    return out, problems


# What to mask


def passwords(config: Config) -> set[str]:
    """Every password of ``config`` (sent or accepted, every group) and every key of
    its conntrack sync link, in every spelling of :func:`spellings`."""
    found: set[str] = set()
    for group in config.groups.values():
        if group.authentication is not None:
            for password in group.authentication.receive_passwords:
                found |= spellings(password)
    sync = config.conntrack_sync
    if sync is not None and sync.authentication is not None:
        for key in sync.authentication.receive_keys:
            found |= spellings(key.key)
    return found


def spellings(secret: str) -> set[str]:
    """``secret`` as the input or a log line may spell it: as is; escaped as in a
    double-quoted value (config.boot, keepalived.conf, VyOS) or a JSON string; with a
    backslash before blanks and quotes (an unquoted VyOS value); and each of these
    as Python's ``repr`` writes it (the module's syslog line renders its arguments
    so), with and without escaped single quotes."""
    if not secret:
        return set()
    written = {
        secret,
        secret.replace("\\", "\\\\").replace('"', '\\"'),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        re.sub(r"([\s'\"\\#])", r"\\\1", secret),
    }
    forms = set(written)
    for form in written:
        shown = repr(form)[1:-1]
        forms |= {shown, shown.replace("\\'", "'"), re.sub(r"(?<!\\)'", "\\'", shown)}
    return {form for form in forms if form}


#: Where native text or JSON text sets a password: the keyword, then one value.
_SECRET_WORD = re.compile(
    r"""(?:^|[\s{;])(?:password|auth_pass)\s+("(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|(?:[^\s\\]|\\.)+)""",
    re.MULTILINE,
)
_SECRET_JSON = re.compile(
    r'"(?:password|auth_pass|accept|key)"\s*:\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^\s,}\]]+)'
)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SECRET_KEYS = frozenset({"password", "accept", "auth_pass", "authentication", "key"})
#: Under a secret key, what is no secret: the authentication type, a sync key's id.
_NOT_SECRET = frozenset({"type", "key_id"})


def conservative_secrets(option: Any) -> set[str]:
    """What to mask of a member that could not be read, so its passwords are unknown.

    Nothing of the model can tell them, so this errs on the side of masking: the
    whole ``config`` / ``native`` text (its entry in ``invocation.module_args`` then
    reads VALUE_SPECIFIED_IN_NO_LOG_PARAMETER); the value after each ``password`` or
    ``auth_pass`` keyword and each JSON ``password`` / ``accept`` value in a text; and
    in a dict every value under an ``authentication``, ``password``, ``accept`` or
    ``auth_pass`` key but the authentication type, whatever its type (a YAML
    ``password: 12345678`` is a number, and the model's error quotes it) but a
    sync key's ``key_id``. It does not
    mask every string of the member: that would mask interface and group names in
    the very message that says what is wrong with it.
    """
    whole: set[str] = set()
    found: set[str] = set()
    if isinstance(option, Mapping):
        values = [option.get("config"), option.get("native")]
    else:
        values = [option]
    for value in values:
        if isinstance(value, str):
            whole |= {value, repr(value)[1:-1]}
            found |= _secrets_in_text(value)
        elif isinstance(value, (Mapping, list, tuple)):
            found |= _secrets_in_data(value, False)
    return whole | {form for secret in found for form in spellings(secret)}


def _secrets_in_text(text: str) -> set[str]:
    found: set[str] = set()
    for match in _SECRET_WORD.finditer(text):
        token = match.group(1)
        found |= {token, _unquote(token)}
    for match in _SECRET_JSON.finditer(text):
        value = match.group(1)
        if value[0] not in '"[':
            found.add(value)  # a number, say
        for string in _JSON_STRING.findall(value):
            found.add(string[1:-1])
            with contextlib.suppress(ValueError):
                found.add(json.loads(string))
    with contextlib.suppress(ValueError):  # JSON text of the model, but not a valid one
        found |= _secrets_in_data(json.loads(text), False)
    return found


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == "'":
        return token[1:-1]
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return re.sub(r"\\(.)", r"\1", token.strip("'\""))


def _secrets_in_data(data: Any, secret: bool) -> set[str]:
    """The values under a secret key (the authentication type aside), as strings."""
    found: set[str] = set()
    if isinstance(data, Mapping):
        for key, value in data.items():
            if secret and key in _NOT_SECRET:
                continue
            found |= _secrets_in_data(value, secret or key in _SECRET_KEYS)
    elif isinstance(data, (list, tuple)):
        for item in data:
            found |= _secrets_in_data(item, secret)
    elif secret and data is not None and not isinstance(data, bool):
        found.add(str(data))
    return found


def conservative_secrets_of_options(members: Any) -> set[str]:
    """:func:`conservative_secrets` of every member of a ``members`` value as given,
    before it was validated (an option of the wrong type fails the module there)."""
    if isinstance(members, (list, tuple)):
        return {s for option in members for s in conservative_secrets(option)}
    return conservative_secrets(members)


# The checks and the result


def check(
    members: Mapping[str, Member], ignore: Sequence[str] = (), fail_on_warnings: bool = False
) -> tuple[bool, dict[str, Any]]:
    """Run the checks; returns whether the task fails, and the module result."""
    every = check_members(members)
    left_out = set(ignore)
    findings = [f for f in every if f.code not in left_out]
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    failed = errors > 0 or (fail_on_warnings and warnings > 0)
    result = {
        "findings": [f.as_dict() for f in findings],
        "error_count": errors,
        "warning_count": warnings,
        "ignored_count": len(every) - len(findings),
        "groups": group_summary(members, findings),
        "members": {
            name: {
                "kind": member.kind,
                "groups": sorted(member.config.groups),
                "notes": list(member.warnings),
            }
            for name, member in members.items()
        },
    }
    result["msg"] = message(list(members), findings, result, failed and not errors)
    return failed, result


def group_summary(
    members: Mapping[str, Member], findings: Sequence[Finding]
) -> dict[str, dict[str, Any]]:
    """Per group, as the findings name it: which group of each member it is, who
    lacks it, its virtual addresses, the preferred master and the worst finding."""
    worst: dict[str, str] = {}
    for finding in findings:
        if finding.group is not None and worst.get(finding.group) != ERROR:
            worst[finding.group] = finding.severity
    summary: dict[str, dict[str, Any]] = {}
    for cluster in match_groups({name: member.config for name, member in members.items()}):
        key = cluster.name
        if key in summary:  # two unmatched groups of one name, on different members
            key = f"{key} ({next(iter(cluster.groups))})"
        running = {m: g.priority for m, g in cluster.groups.items() if not g.disable}
        top = max(running.values(), default=None)
        leaders = [m for m, priority in running.items() if priority == top]
        summary[key] = {
            "members": {
                member: {
                    "name": group.name,
                    "interface": group.interface,
                    "vrid": group.vrid,
                    "priority": group.priority,
                    "disabled": group.disable,
                }
                for member, group in cluster.groups.items()
            },
            "missing": [m for m in members if m not in cluster.groups],
            "address": [str(ip) for ip in sorted(cluster.ips())],
            "preferred_master": leaders[0] if len(leaders) == 1 else None,
            "status": worst.get(cluster.name, "ok"),
        }
    return summary


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def message(
    names: Sequence[str],
    findings: Sequence[Finding],
    result: Mapping[str, Any],
    warnings_failed: bool = False,
) -> str:
    """A first line with the counts, then one line per finding: severity, group,
    key path, members, message."""
    scope = f"{_count(len(result['groups']), 'group')} on {', '.join(names)}"
    ignored = f" ({result['ignored_count']} ignored)" if result["ignored_count"] else ""
    if not findings:
        return f"consistent: {scope}, no findings{ignored}"
    head = (
        f"{_count(result['error_count'], 'error')}, "
        f"{_count(result['warning_count'], 'warning')}{ignored} in {scope}"
    )
    if warnings_failed:
        head += " (fail_on_warnings)"
    lines = [
        f"{f.severity} {f.group or '-'} {f.path} [{', '.join(f.members)}]: {f.message}"
        for f in findings
    ]
    return "\n".join([head, *lines])


__all__ = [
    "CODES",
    "MODEL_KINDS",
    "Loaded",
    "check",
    "conservative_secrets",
    "conservative_secrets_of_options",
    "group_summary",
    "load_members",
    "message",
    "passwords",
    "spellings",
]
