# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``routerha.cluster.forks_cover`` filter (plugins.plugin_utils.together.py)."""

from __future__ import annotations

from ansible import context
from ansible.errors import AnsibleFilterError
from ansible_collections.routerha.cluster.plugins.plugin_utils.together import (
    forks_cover as judge,
)


def forks_cover(batch, sets, forks=None, what="the members of a cluster"):
    """``batch``: ansible_play_batch; ``sets``: lists of hosts that act together."""
    if not isinstance(batch, list) or not all(isinstance(s, list) for s in sets or []):
        raise AnsibleFilterError("forks_cover: expects a list of hosts and a list of host lists")
    if forks is None:
        # ansible_forks is set by ansible-playbook; elsewhere the run's options tell.
        forks = (context.CLIARGS or {}).get("forks")
    try:
        forks = None if forks is None else int(forks)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"forks_cover: forks is not a number: {forks!r}") from exc
    return judge([str(h) for h in batch], [[str(h) for h in s] for s in sets or []], forks, what)


class FilterModule:
    def filters(self):
        return {"forks_cover": forks_cover}
