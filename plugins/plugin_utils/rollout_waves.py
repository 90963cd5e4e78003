# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The order of a fleet rollout (playbooks/rollout.yml): every cluster in waves of
one router, all clusters side by side, and what became of each cluster.

A wave is one router of each cluster: the backups first, the planned masters of
the fewest groups next, the master of the most groups last, so a cluster keeps a
master that runs the old configuration until its last wave. A cluster whose members
must change together is deployed in wave 0, all members at once. The fleet takes
as many waves as its largest cluster has members, however many clusters it has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def rollout_waves(
    members: Sequence[str], masters: Mapping[str, str], together: bool = False
) -> dict[str, int]:
    """member -> its wave (0, 1, ...) within its cluster. ``members``: the cluster's
    routers in this rollout, in inventory order (the tie-break); ``masters``: the
    plan's group -> planned master (the plan covers every member, even those a
    ``--limit`` leaves out, so the priorities and this order stay the same)."""
    if together:
        return {member: 0 for member in members}
    mastered = {member: 0 for member in members}
    for master in masters.values():
        if master in mastered:
            mastered[master] += 1
    ordered = sorted(members, key=lambda member: (mastered[member], members.index(member)))
    return {member: wave for wave, member in enumerate(ordered)}


def rollout_summary(routers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each cluster's outcome from what the rollout recorded per router:
    ``routers``: host -> {cluster, wave, done (deployed), error (why it failed),
    masters (the plan's group -> planned master)}.

    A cluster is ``failed`` when one of its routers failed (its members not yet
    deployed were left as they were), ``deployed`` when every member was deployed,
    else ``incomplete`` (the rollout ended before its turn came)."""
    clusters: dict[str, dict[str, Any]] = {}
    for host in sorted(routers, key=lambda h: (routers[h].get("wave") or 0, h)):
        facts = routers[host]
        cluster = clusters.setdefault(
            str(facts.get("cluster")),
            {"deployed": [], "failed": {}, "untouched": [], "planned_masters": {}},
        )
        cluster["planned_masters"].update(facts.get("masters") or {})
        if facts.get("done"):
            cluster["deployed"].append(host)
        if facts.get("error"):
            cluster["failed"][host] = str(facts["error"])
        elif not facts.get("done"):
            cluster["untouched"].append(host)
    lines = []
    for name, cluster in sorted(clusters.items()):
        cluster["state"] = (
            "failed" if cluster["failed"] else "incomplete" if cluster["untouched"] else "deployed"
        )
        parts = [f"deployed {', '.join(cluster['deployed']) or 'none'}"]
        parts += [f"FAILED {host}: {why}" for host, why in cluster["failed"].items()]
        if cluster["untouched"]:
            parts.append(f"untouched {', '.join(cluster['untouched'])}")
        cluster["line"] = f"{name}: {cluster['state']} - {'; '.join(parts)}"
        lines.append(cluster["line"])
    failed = sorted(name for name, c in clusters.items() if c["state"] != "deployed")
    return {"clusters": clusters, "failed": failed, "lines": lines}
