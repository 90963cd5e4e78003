# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a failover drill moves and in which batches (playbooks/failover_drill.yml),
and its results per cluster for AWX (set_stats).

The operator names clusters, routers (their clusters) and optionally groups;
nothing named means every cluster of the play. Clusters are drilled ``batch`` at a
time, so a drill never stops the masters of a whole fleet at once. A name that is
not in the play fails before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class SelectionError(ValueError):
    """A name of the selection that the play does not have."""


def _names(value: Any, what: str) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise SelectionError(f"{what} must be a list of names, not {value!r}")
    return list(value)


def drill_batches(
    hosts: Sequence[str],
    cluster_of: Mapping[str, str],
    groups_of: Mapping[str, Sequence[str]],
    clusters: Any = None,
    routers: Any = None,
    groups: Any = None,
    batch: Any = 1,
) -> list[dict[str, Any]]:
    """The batches of the drill, in the play's order: each ``clusters`` and the
    ``hosts`` (of the play) in them.

    ``hosts``: the play's routers; ``cluster_of``: router -> its cluster;
    ``groups_of``: router -> its VRRP group names. ``clusters``, ``routers``,
    ``groups``: the operator's selection (None: not given).
    """
    clusters, routers, groups = (
        _names(clusters, "drill_clusters"),
        _names(routers, "drill_routers"),
        _names(groups, "drill_groups"),
    )
    try:
        size = int(batch)
    except (TypeError, ValueError):
        size = 0
    if size < 1:
        raise SelectionError(
            f"drill_batch must be a whole number of clusters, 1 or more, not {batch!r}"
        )
    known = list(dict.fromkeys(cluster_of[h] for h in hosts))
    unknown_clusters = [c for c in clusters or [] if c not in known]
    unknown_routers = [r for r in routers or [] if r not in hosts]
    problems = []
    if unknown_clusters:
        problems.append(
            f"drill_clusters: {', '.join(unknown_clusters)} is not a cluster of this play "
            f"(its clusters: {', '.join(known) or 'none'})"
        )
    if unknown_routers:
        problems.append(
            f"drill_routers: {', '.join(unknown_routers)} is not a router of this play "
            "(an inventory router on routerhad, within --limit)"
        )
    if problems:
        raise SelectionError("; ".join(problems))
    if clusters is None and routers is None:
        chosen = known
    else:
        named = set(clusters or []) | {cluster_of[r] for r in routers or []}
        chosen = [c for c in known if c in named]
    group_names = {
        c: {g for h in hosts if cluster_of[h] == c for g in groups_of.get(h) or ()} for c in chosen
    }
    if groups is not None:
        everywhere = set().union(*group_names.values()) if group_names else set()
        missing = [g for g in groups if g not in everywhere]
        if missing:
            raise SelectionError(
                f"drill_groups: {', '.join(missing)} is not a group of the clusters drilled "
                f"({', '.join(chosen)})"
            )
        named_clusters = set(clusters or []) | {cluster_of[r] for r in routers or []}
        without = [c for c in chosen if not group_names[c] & set(groups)]
        if without and named_clusters & set(without):
            raise SelectionError(
                f"drill_groups: {', '.join(sorted(named_clusters & set(without)))} "
                f"has none of {', '.join(groups)}"
            )
        chosen = [c for c in chosen if c not in without]
    return [
        {
            "clusters": chosen[start : start + size],
            "hosts": [h for h in hosts if cluster_of[h] in chosen[start : start + size]],
        }
        for start in range(0, len(chosen), size)
    ]


def drill_stats(report: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The drill's report (drill_report entries) per cluster, for set_stats: the
    router stopped, whether every group was taken over (and restored), and per
    group its new master, takeover time, restored master and time."""
    out: dict[str, dict[str, Any]] = {}
    for entry in report:
        cluster = out.setdefault(
            entry["cluster"],
            {"stopped": entry["stopped"], "taken_over": True, "groups": {}},
        )
        group = {
            key: entry[key]
            for key in ("new_master", "takeover_ms", "restored_master", "restore_s", "conntrack")
            if key in entry
        }
        cluster["groups"][entry["group"]] = group
        cluster["taken_over"] = cluster["taken_over"] and bool(entry.get("new_master"))
        if "restored_master" in entry:
            back = entry["restored_master"] == entry["stopped"]
            cluster["restored"] = cluster.get("restored", True) and back
    return out
