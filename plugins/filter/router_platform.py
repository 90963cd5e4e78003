# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``routerha.cluster.router_platform`` filter: the platform role's probe output
read into what the router is and how routerha deploys to it
(plugins/plugin_utils/platform.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.routerha.cluster.plugins.plugin_utils.platform import (
    PlatformError,
    identify,
)


def router_platform(output, backend="auto"):
    if not isinstance(output, str):
        raise AnsibleFilterError("router_platform: give it the probe's standard output (a string)")
    try:
        return identify(output, backend)
    except PlatformError as exc:
        raise AnsibleFilterError(f"router_platform: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"router_platform": router_platform}
