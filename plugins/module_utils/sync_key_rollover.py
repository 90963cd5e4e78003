# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The conntrack sync key, changed across the members without losing a datagram:
the operations on a member's routerhad configuration and the check after each.

Every member first accepts the new key (``accept``), then sends with it, still
accepting the old one (``send``), then forgets the old one (``drop``). Unlike a VRRP
password, the order of the members inside a step does not matter: once every member
accepts both keys, any of them may send either. routerhad swaps the keys on reload
under the running sync (no new session), so after each step every member's
``routerhactl conntrack stats`` must show its sessions established both ways and no
datagram dropped for its key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .model.errors import ConfigError
from .model.load import load_config

OPERATIONS = ("status", "accept", "send", "drop", "restore")
#: Drop reasons (routerha.ctsync.auth) that mean a key mismatch.
KEY_DROPS = ("unknown_key", "bad_mac")
PATH = "conntrack_sync.authentication"


def _auth(data: Any) -> dict[str, Any]:
    try:
        auth = data["conntrack_sync"]["authentication"]
    except (KeyError, TypeError):
        raise ConfigError([(PATH, "no conntrack sync key in the configuration")]) from None
    if not isinstance(auth, dict) or auth.get("type") != "hmac-sha256":
        raise ConfigError([(PATH, "the sync link has no key (type hmac-sha256) to change")])
    return auth


def _accepted(auth: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(item) for item in auth.get("accept") or [] if isinstance(item, Mapping)]


def describe(data: Any, key_id: int, key: str) -> dict[str, Any]:
    """Where a member stands against the new key, without a secret."""
    auth = _auth(data)
    accept = _accepted(auth)
    sends_new = auth.get("key_id") == key_id and auth.get("key") == key
    return {
        "key_id": auth.get("key_id"),
        "accepted_key_ids": sorted({a.get("key_id") for a in accept} - {None}),
        "sends_new": sends_new,
        "accepts_new": sends_new or {"key_id": key_id, "key": key} in accept,
        "accept_count": len(accept),
    }


def apply_operation(data: Any, operation: str, key_id: int, key: str) -> dict[str, Any]:
    """``data`` after ``operation`` towards the new key; validated by the data model
    (raises ConfigError naming the key)."""
    out = copy.deepcopy(data)
    auth = _auth(out)
    new = {"key_id": key_id, "key": key}
    old = {"key_id": auth.get("key_id"), "key": auth.get("key")}
    if old["key_id"] == key_id and old["key"] != key:
        raise ConfigError(
            [(f"{PATH}.key_id", f"the new key needs another key id than the one in use ({key_id})")]
        )
    others = [a for a in _accepted(auth) if a not in (old, new)]
    if operation == "accept":
        auth["accept"] = [*others, new] if new != old else others
    elif operation == "send":
        auth["key_id"], auth["key"] = key_id, key
        auth["accept"] = [old, *others] if old != new else others
    elif operation == "drop":
        auth.pop("accept", None)
    else:
        raise ConfigError([("operation", f"{operation!r} changes nothing in the configuration")])
    load_config(out)  # raises, naming the key, when the result could not run
    return out


def problems(since: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with a member's sync link now (``routerhactl conntrack stats``'s
    ``authentication``), compared with ``since`` (the same before the step)."""
    if not now:
        return ["routerhad shows no conntrack sync (is it running with conntrack_sync?)"]
    out = []
    if now.get("type") != "hmac-sha256":
        out.append("the sync link is not authenticated")
        return out
    if now.get("send_state") != "established":
        out.append(f"its sending session is {now.get('send_state')}, not established")
    if not now.get("receive_session"):
        out.append("it has no receiving session")
    drops_now, drops_then = now.get("drops") or {}, (since or {}).get("drops") or {}
    for reason in KEY_DROPS:
        grown = int(drops_now.get(reason) or 0) - int(drops_then.get(reason) or 0)
        if since is not None and grown > 0:
            out.append(f"it dropped {grown} datagram(s) for their key ({reason})")
    return out
