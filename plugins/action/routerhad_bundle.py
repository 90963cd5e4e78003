# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""routerha.cluster.routerhad_bundle: build the routerhad bundle on the controller
(plugins.plugin_utils.bundle.py); nothing runs on the target."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.routerha.cluster.plugins.plugin_utils.bundle import BundleError, build

ARGUMENT_SPEC = {
    "dest": {"type": "path", "default": "~/.cache/routerha/bundles"},
    "pyroute2_path": {"type": "path"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            built = build(os.path.expanduser(args["dest"]), pyroute2_path=args["pyroute2_path"])
        except (BundleError, OSError) as exc:
            raise AnsibleActionFail(f"routerhad_bundle: {exc}") from exc
        # A bundle is a cache on the controller: building one changes no host.
        return {**result, **built, "changed": False}
