# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Whether a play's forks let the members that must act together run at once.

Members act together when each one's task waits for the others: auth_rollover's
workers meet at a barrier after every step, vyatta_config's ``commit_at`` waits on the
router for one agreed moment. Such a task holds its worker until every member of its
set has started it. Ansible's linear and free strategies queue a task's hosts in
the batch's order and start a host only once a worker is free; with too few forks a
member starts only after the others gave up (the barrier's timeout) or committed
(a late commit splits the group). Checked before anything changes, the play refuses
with the number of forks that would do.

Used by the ``routerha.cluster.forks_cover`` filter (the deploy role's together
path, rotate_auth.yml) and by the auth_rollover action, so all of them judge alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _fits(order: Sequence[str], sets: Sequence[Sequence[str]], forks: int) -> bool:
    """Hosts started in ``order`` with ``forks`` workers: a host outside every set
    finishes at once, a member once every member of its set has started."""
    set_of = {host: index for index, members in enumerate(sets) for host in members}
    started: set[str] = set()
    running: list[str] = []
    queued = 0
    while queued < len(order) or running:
        while len(running) < forks and queued < len(order):
            running.append(order[queued])
            started.add(order[queued])
            queued += 1
        done = [
            host
            for host in running
            if host not in set_of or all(m in started for m in sets[set_of[host]])
        ]
        if not done:
            return False
        running = [host for host in running if host not in done]
    return True


def forks_needed(order: Sequence[str], sets: Sequence[Sequence[str]]) -> int:
    """The fewest forks with which every set's members all run at once, the hosts
    queued in ``order``. At most ``len(order)``: then every host runs at once."""
    sets = [[m for m in members if m in order] for members in sets]
    least = max((len(members) for members in sets), default=1)
    for forks in range(max(least, 1), len(order) + 1):
        if _fits(order, sets, forks):
            return forks
    return max(len(order), 1)


def forks_cover(
    order: Sequence[str],
    sets: Sequence[Sequence[str]],
    forks: int | None,
    what: str = "the members of a cluster",
) -> dict[str, Any]:
    """``ok``, ``needed``, ``forks`` and, when not ok, ``msg`` with the fix.

    ``order``: the hosts the task runs on, in the batch's order (ansible_play_batch);
    ``sets``: the host lists whose members must run at once; ``forks``: the run's
    (ansible_forks); None when unknown, then only the batch is checked.
    """
    order = list(order)
    missing = sorted({m for members in sets for m in members if m not in order})
    if missing:
        return {
            "ok": False,
            "needed": None,
            "forks": forks,
            "msg": (
                f"{what} must act together, but {', '.join(missing)} "
                "is not in this batch of the play: run it without serial (and without "
                "AWX job slicing), every member of a cluster in the same play"
            ),
        }
    needed = forks_needed(order, sets)
    if forks is None or int(forks) >= needed:
        return {"ok": True, "needed": needed, "forks": forks, "msg": ""}
    largest = max(sets, key=len, default=[])
    return {
        "ok": False,
        "needed": needed,
        "forks": int(forks),
        "msg": (
            f"{what} must act together ({len(largest)} at once: {', '.join(largest)}), "
            f"and with {forks} forks some would start only after the others: run with "
            f"--forks {needed} or more (AWX: the job template's forks). Nothing was changed."
        ),
    }
