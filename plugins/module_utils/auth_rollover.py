# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A group's password or authentication type, changed across its members without a
transition: the plan, the operations on each member's routerhad configuration, and
the checks between the steps.

Staged (the type stays, the password changes), RFC 3768 routers accepting a second
key while the change goes round:

1. ``accept``: every member also accepts the new password;
2. ``send``: the backups send with it, then the master (a backup's key is only seen
   once it is master, so the master, whose key every backup now accepts, goes last);
3. ``drop``: every member forgets the old password.

Scheduled (the type changes, or a member cannot hold two keys, as keepalived): every member
commits the new authentication at one agreed time, the approach of the source
documents' scheduler; the master-down interval (3 adverts and a skew) covers the
spread of the commits.

Between steps every member's ``routerhactl status --json`` must show: the state it
had at the start, no new transition, exactly one master, each backup seeing that
master (and receiving its adverts), and no advert dropped for its authentication.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .model.errors import ConfigError
from .model.load import load_config

OPERATIONS = ("status", "accept", "send", "drop", "set", "restore")
TYPES = ("plaintext-password", "ah", "none")
#: Drop reasons (routerha.vrrp.drops.DropReason values) that mean a key mismatch.
AUTH_DROPS = ("auth_type", "auth_data", "auth_replay")


def _group_node(data: Any, group: str) -> dict[str, Any]:
    try:
        node = data["vrrp"]["groups"][group]
    except (KeyError, TypeError):
        raise ConfigError(
            [(f"vrrp.groups.{group}", "no such group in the configuration")]
        ) from None
    if not isinstance(node, dict):
        raise ConfigError([(f"vrrp.groups.{group}", "must be a mapping")])
    return node


def describe(data: Any, group: str, new_type: str, new_password: str | None) -> dict[str, Any]:
    """Where a member stands, without a secret: its type, whether it sends or accepts
    the new password, how many extra keys it accepts."""
    auth = _group_node(data, group).get("authentication") or {}
    current_type = auth.get("type", "none")
    password = auth.get("password")
    accept = list(auth.get("accept") or [])
    return {
        "type": current_type,
        "sends_new": current_type == new_type and (new_type == "none" or password == new_password),
        "accepts_new": new_password is not None
        and (new_password in accept or password == new_password),
        "accept_count": len(accept),
    }


def apply_operation(
    data: Any, group: str, operation: str, new_type: str, new_password: str | None
) -> dict[str, Any]:
    """``data`` (a routerhad configuration) after ``operation`` on ``group``'s
    authentication; validated by the data model. Raises ConfigError."""
    out = copy.deepcopy(data)
    node = _group_node(out, group)
    auth = node.get("authentication") or {}
    path = f"vrrp.groups.{group}.authentication"
    if operation == "set":
        if new_type == "none":
            node.pop("authentication", None)
        else:
            node["authentication"] = {"type": new_type, "password": new_password}
    elif operation in ("accept", "send", "drop"):
        if auth.get("type", "none") != new_type or new_type == "none":
            raise ConfigError(
                [
                    (
                        path,
                        f"a staged change keeps the type; this member has {auth.get('type', 'none')!r}",
                    )
                ]
            )
        old = auth["password"]
        accept = [a for a in auth.get("accept") or [] if a not in (old, new_password)]
        if operation == "accept":
            auth["accept"] = [*accept, new_password] if new_password != old else accept
        elif operation == "send":
            auth["password"] = new_password
            auth["accept"] = [old, *accept] if old != new_password else accept
        else:
            auth["accept"] = []
        node["authentication"] = auth
    else:
        raise ConfigError([("operation", f"{operation!r} changes nothing in the configuration")])
    load_config(out)  # raises, naming the key, when the result could not run
    return out


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def plan(
    members: Sequence[str],
    standings: Mapping[str, Mapping[str, Any]],
    statuses: Mapping[str, Mapping[str, Any]],
    new_type: str,
    mode: str = "auto",
    member_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The steps that take every member to the new authentication.

    ``standings``: describe() per member; ``statuses``: the group's status per member.
    Returns ``{"mode", "master", "steps": [{"name", "operation", "members"}]}``; no
    steps when every member already sends the new key and accepts no other.
    ``member_types``: each member's daemon (default routerhad); a keepalived member
    holds one key only, so the change is scheduled (ValueError for mode staged).
    """
    single_key = [m for m in members if (member_types or {}).get(m, "routerhad") != "routerhad"]
    if single_key and mode == "staged":
        raise ValueError(
            "mode staged needs every member to hold two keys; "
            + ", ".join(f"{m} runs {member_types[m]}" for m in single_key)
            + " (use mode scheduled or auto)"
        )
    master = next((m for m in members if statuses[m].get("state") == "MASTER"), None)
    backups = [m for m in members if m != master]
    done = all(s["sends_new"] and s["accept_count"] == 0 for s in standings.values())
    if mode == "auto":
        same_type = all(s["type"] == new_type for s in standings.values())
        mode = "staged" if same_type and new_type != "none" and not single_key else "scheduled"
    if done:
        return {"mode": mode, "master": master, "steps": []}
    if mode == "scheduled":
        steps = [
            {"name": "commit at the agreed time", "operation": "set", "members": list(members)}
        ]
    else:
        steps = [
            {"name": "accept the new key", "operation": "accept", "members": list(members)},
            {"name": "backups send the new key", "operation": "send", "members": backups},
            {
                "name": "master sends the new key",
                "operation": "send",
                "members": [master] if master else [],
            },
            {"name": "forget the old key", "operation": "drop", "members": list(members)},
        ]
        steps = [s for s in steps if s["members"]]
    return {"mode": mode, "master": master, "steps": steps}


def health(
    members: Sequence[str],
    baseline: Mapping[str, Mapping[str, Any]],
    before: Mapping[str, Mapping[str, Any]],
    now: Mapping[str, Mapping[str, Any]],
    first: bool = False,
) -> list[str]:
    """What is wrong with the group now, compared with the start (``baseline``) and
    the previous check (``before``); empty when it is intact. ``first``: the check
    before anything changes, with nothing earlier to count adverts against."""
    problems: list[str] = []
    masters = [m for m in members if now[m].get("state") == "MASTER"]
    if len(masters) != 1:
        problems.append(f"{len(masters)} masters ({', '.join(masters) or 'none'}); one expected")
    for member in members:
        status, start, previous = now[member], baseline[member], before[member]
        if status.get("state") != start.get("state"):
            problems.append(f"{member} is {status.get('state')}, was {start.get('state')}")
        moved = _counter(status, "transitions") - _counter(start, "transitions")
        if moved:
            problems.append(f"{member} made {moved} transition(s)")
        dropped = auth_drops(previous, status)
        if dropped:
            problems.append(f"{member} dropped {dropped} advert(s) for their authentication")
        if len(masters) == 1 and member != masters[0]:
            master_address = now[masters[0]].get("source_address")
            if status.get("master_address") != master_address:
                problems.append(
                    f"{member} sees master {status.get('master_address')}, not {masters[0]} ({master_address})"
                )
            if not first and _counter(status, "adverts_received") <= _counter(
                previous, "adverts_received"
            ):
                problems.append(f"{member} received no advert from the master since the last check")
    return problems


def auth_drops(before: Mapping[str, Any], now: Mapping[str, Any]) -> int:
    """Adverts one member dropped for their authentication between two of its statuses."""
    return sum(_drops(now, reason) - _drops(before, reason) for reason in AUTH_DROPS)


def transitions(
    members: Sequence[str],
    baseline: Mapping[str, Mapping[str, Any]],
    now: Mapping[str, Mapping[str, Any]],
) -> int:
    return sum(
        max(0, _counter(now[m], "transitions") - _counter(baseline[m], "transitions"))
        for m in members
    )


def _counter(status: Mapping[str, Any], name: str) -> int:
    return int((status.get("counters") or {}).get(name) or 0)


def _drops(status: Mapping[str, Any], reason: str) -> int:
    return int(((status.get("counters") or {}).get("drops") or {}).get(reason) or 0)
