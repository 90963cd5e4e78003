# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Inventory-shaped input for the priority planner (src/routerha/model/plan.py).

The module and the filter take members and groups as Ansible users write them,
lists of dicts with a ``name`` (or mappings keyed by name, as the data model keys
``vrrp.groups``); this turns either into what ``plan()`` reads, so both
entry points compute the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model.errors import ConfigError
from .model.plan import plan


def _by_name(value: Any, what: str, payload: str | None) -> dict[str, Any]:
    """``[{name: X, ...}]`` or ``{X: {...}}`` -> ``{X: {...}}`` (``payload`` picks one key)."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, (list, tuple)):
        raise ConfigError([(what, "must be a list of dicts with a name, or a dict keyed by name")])
    out: dict[str, Any] = {}
    problems = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            problems.append((f"{what}[{i}]", "must be a dict with a name"))
            continue
        if item["name"] in out:
            problems.append((f"{what}[{i}].name", f"{item['name']!r} is given twice"))
            continue
        if payload is None:
            out[item["name"]] = {k: v for k, v in item.items() if k != "name" and v is not None}
        else:
            out[item["name"]] = item.get(payload)
    if problems:
        raise ConfigError(problems)
    return out


def plan_for_inventory(
    members: Any,
    groups: Any,
    strategy: str = "symmetric",
    preference: Any = (),
    base: int = 200,
    step: int = 50,
    preempt: bool = True,
    preempt_delay: int = 0,
) -> dict[str, Any]:
    """The plan as plain data: ``hosts`` (host -> group -> vrid, priority, preempt,
    preempt_delay), ``masters``, ``vrids``, ``owners`` and ``notes``.

    Raises ConfigError naming each key that cannot be planned.
    """
    member_map = _by_name(members, "members", "addresses")
    group_map = _by_name(groups, "groups", None)
    result = plan(
        member_map,
        group_map,
        strategy=strategy,
        preference=list(preference or ()),
        base=base,
        step=step,
        preempt=preempt,
        preempt_delay=preempt_delay,
    )
    return result.as_dict(sorted(member_map))
