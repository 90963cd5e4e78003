# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The state of every VRRP group across a fleet, from each router's
``routerhactl status --json``: who is master, who sees whom, and what is wrong.

The playbooks gather the statuses (rollout.yml between its steps, status.yml for
its table, failover_drill.yml before and after); this judges them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

#: States in which a member takes part in the election.
RUNNING_STATES = ("MASTER", "BACKUP")


def statuses_of(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """host -> status from the registered results of ``routerhactl status --json``
    run in a loop over the hosts (``item`` is the host)."""
    out: dict[str, Any] = {}
    for result in results:
        host = str(result.get("item"))
        if result.get("rc") == 0:
            try:
                out[host] = json.loads(result.get("stdout") or "")
                continue
            except ValueError:
                out[host] = {"error": "routerhactl printed no JSON"}
                continue
        why = (result.get("stderr") or result.get("msg") or "").strip()
        out[host] = {"error": why or f"routerhactl exit {result.get('rc')}"}
    return out


def fleet_health(
    statuses: Mapping[str, Any],
    clusters: Mapping[str, str],
    planned: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """``statuses``: host -> its status (``{"groups": [...]}``), or ``{"error": why}``
    when it could not be read. ``clusters``: host -> its cluster's name.
    ``planned``: cluster -> group -> the planned master, to check that too.

    A group is healthy when exactly one member is MASTER and every other member is
    BACKUP and sees that master's address (and, with ``planned``, the master is the
    planned one). A member whose routerhad does not answer is reported; the group
    is judged by the members that do. ``unhealthy``: cluster -> its problems, so
    a playbook can stop those clusters alone.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    problems: list[str] = []
    unhealthy: dict[str, list[str]] = {}
    for host in sorted(statuses):
        status = statuses[host] or {}
        cluster = clusters.get(host, "")
        if "groups" not in status:
            why = f"{host}: no status ({status.get('error', 'no answer')})"
            problems.append(f"{cluster}: {why}")
            unhealthy.setdefault(cluster, []).append(why)
            continue
        for group in status["groups"]:
            row = rows.setdefault(
                (cluster, group["name"]),
                {
                    "cluster": cluster,
                    "group": group["name"],
                    "interface": group.get("interface"),
                    "vrid": group.get("vrid"),
                    "members": {},
                    "problems": [],
                },
            )
            row["members"][host] = {
                "state": group.get("state"),
                "priority": group.get("effective_priority", group.get("priority")),
                "master_address": group.get("master_address"),
                "source_address": group.get("source_address"),
                "last_transition": group.get("last_transition"),
                "transitions": (group.get("counters") or {}).get("transitions", 0),
                "faults": group.get("faults") or [],
            }
    for row in rows.values():
        members = row["members"]
        masters = sorted(h for h, m in members.items() if m["state"] == "MASTER")
        row["master"] = masters[0] if len(masters) == 1 else None
        if len(masters) != 1:
            row["problems"].append(
                f"{len(masters)} masters ({', '.join(masters) or 'none'}); one expected"
            )
        for host, member in sorted(members.items()):
            if member["state"] not in RUNNING_STATES:
                faults = f" ({', '.join(map(str, member['faults']))})" if member["faults"] else ""
                row["problems"].append(f"{host} is {member['state']}{faults}")
            elif row["master"] and host != row["master"]:
                seen = member["master_address"]
                expected = members[row["master"]]["source_address"]
                if seen != expected:
                    row["problems"].append(
                        f"{host} sees master {seen}, not {row['master']} ({expected})"
                    )
        want = ((planned or {}).get(row["cluster"]) or {}).get(row["group"])
        if want and row["master"] and row["master"] != want:
            row["problems"].append(f"master is {row['master']}, planned {want}")
        problems += [f"{row['cluster']}/{row['group']}: {p}" for p in row["problems"]]
        if row["problems"]:
            unhealthy.setdefault(row["cluster"], []).extend(
                f"{row['group']}: {p}" for p in row["problems"]
            )
    ordered = [rows[k] for k in sorted(rows)]
    return {
        "groups": ordered,
        "problems": problems,
        "healthy": not problems,
        "unhealthy": unhealthy,
    }


def fleet_table(health: Mapping[str, Any]) -> list[str]:
    """One line per group and member, as ``show vrrp`` lists them, then the problems."""
    lines = [("Cluster", "Group", "Interface", "VRID", "Router", "State", "Priority", "Master")]
    for row in health["groups"]:
        for host, member in sorted(
            row["members"].items(), key=lambda item: item[1]["state"] != "MASTER"
        ):
            lines.append(
                (
                    row["cluster"],
                    row["group"],
                    str(row["interface"]),
                    str(row["vrid"]),
                    host,
                    str(member["state"]),
                    str(member["priority"]),
                    row["master"] or "-",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    out += [f"PROBLEM {p}" for p in health["problems"]] or [
        "every group has one master, seen by all"
    ]
    return out


def unsettled(status: Any) -> list[str]:
    """The groups of one router's status that are still moving: not MASTER or
    BACKUP, a backup that has heard no master yet, or one that will preempt the
    master it hears (it has the higher priority and preempts). Empty when the
    router has settled."""
    if not isinstance(status, Mapping) or "groups" not in status:
        return ["(no status)"]
    out = []
    for group in status["groups"]:
        state = group.get("state")
        if state == "MASTER":
            continue
        heard = state == "BACKUP" and group.get("master_address")
        will_preempt = group.get("preempt") and (group.get("effective_priority") or 0) > (
            group.get("master_priority") or 0
        )
        if not heard or will_preempt:
            out.append(group["name"])
    return out


def _group_row(health: Mapping[str, Any] | None, cluster: str, group: str) -> Mapping[str, Any]:
    for row in (health or {}).get("groups", ()):
        if row["cluster"] == cluster and row["group"] == group:
            return row
    return {}


def _stats(registered: Any) -> dict[str, Any] | None:
    """``routerhactl conntrack stats --json`` as registered, or None."""
    if not isinstance(registered, Mapping) or registered.get("rc") != 0:
        return None
    try:
        return dict(json.loads(registered.get("stdout") or "")["stats"])
    except (ValueError, KeyError, TypeError):
        return None


def drill_report(
    before: Sequence[Mapping[str, Any]],
    takeover: Mapping[str, Any],
    restored: Mapping[str, Any] | None,
    registered: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One entry per drilled group: who was stopped, who took over and how fast,
    what the new master committed of the conntrack table, and whether the old master
    came back.

    ``before``, ``takeover``, ``restored``: fleet_health rows/results before the
    stop, after the takeover and after the restore (None: not restored).
    ``registered``: host -> its registered results ``drill_stopped`` and
    ``drill_started`` (``date +%s.%N`` printed just before systemctl ran) and
    ``drill_ct_before`` / ``drill_ct_after`` (conntrack stats).
    """
    out = []
    for row in before:
        old = row["master"]
        after = _group_row(takeover, row["cluster"], row["group"])
        new = after.get("master")
        stopped = float((registered.get(old, {}).get("drill_stopped") or {}).get("stdout") or 0)
        entry: dict[str, Any] = {
            "cluster": row["cluster"],
            "group": row["group"],
            "stopped": old,
            "new_master": new,
            "takeover_ms": None,
        }
        if new and stopped:
            moved = after["members"][new].get("last_transition") or 0
            entry["takeover_ms"] = round((moved - stopped) * 1000, 1)
        ct_before = _stats(registered.get(new, {}).get("drill_ct_before")) if new else None
        ct_after = _stats(registered.get(new, {}).get("drill_ct_after")) if new else None
        if ct_before is not None and ct_after is not None:
            entry["conntrack"] = {
                "commits": ct_after.get("commits", 0) - ct_before.get("commits", 0),
                "committed": ct_after.get("committed", 0) - ct_before.get("committed", 0),
                "failed": ct_after.get("commit_failed", 0) - ct_before.get("commit_failed", 0),
                "seconds": ct_after.get("last_commit_seconds"),
                "external_cache_before": ct_before.get("external_cache"),
            }
        if restored is not None:
            back = _group_row(restored, row["cluster"], row["group"])
            started = float((registered.get(old, {}).get("drill_started") or {}).get("stdout") or 0)
            entry["restored_master"] = back.get("master")
            if back.get("master") == old and started:
                moved = back["members"][old].get("last_transition") or 0
                entry["restore_s"] = round(moved - started, 2)
        out.append(entry)
    return out


def drill_lines(report: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for e in report:
        line = f"{e['cluster']}/{e['group']}: {e['stopped']} stopped; "
        line += (
            f"{e['new_master']} took over in {e['takeover_ms']} ms"
            if e["new_master"]
            else "NO TAKEOVER"
        )
        if "conntrack" in e:
            ct = e["conntrack"]
            line += (
                f"; conntrack: {ct['commits']} commit(s), {ct['committed']} entries "
                f"(external cache {ct['external_cache_before']}) in {ct['seconds']} s, "
                f"{ct['failed']} failed"
            )
        if "restored_master" in e:
            line += f"; restored: {e['restored_master'] or 'no master'} master"
            if "restore_s" in e:
                line += f" again after {e['restore_s']} s"
        lines.append(line)
    return lines


def drill_choice(
    groups: Sequence[Mapping[str, Any]], wanted: Sequence[str] | None = None
) -> list[Mapping[str, Any]]:
    """The fleet_health rows a drill moves: of the ``wanted`` groups (default all),
    per cluster those mastered by the master of the first one. One router per
    cluster is stopped, never all of them: with load sharing each router masters
    some group, and stopping every master would leave nobody to take over."""
    chosen: list[Mapping[str, Any]] = []
    victim: dict[str, str] = {}
    for row in groups:
        if wanted is not None and row["group"] not in wanted:
            continue
        if not row.get("master"):
            continue
        if victim.setdefault(row["cluster"], row["master"]) == row["master"]:
            chosen.append(row)
    return chosen
