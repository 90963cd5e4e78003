# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Asking a running routerhad through its control program, routerhactl.

What routerhad_config and routerhad_auth share: routerhactl exits non-zero with
routerhad's reason when routerhad refuses (a reload whose configuration cannot run,
say); the running configuration then stays, so the file that was just written must
go back too (``undo``) before the module fails.
"""

from __future__ import annotations

import json
import os

# The options of a module that edits a running routerhad's configuration and asks it
# to reload (documented by the doc fragment routerha.cluster.routerhad_control).
CONTROL_OPTIONS = {
    "config": {"type": "path", "default": "/etc/routerha/routerhad.json"},
    "control": {"type": "path", "default": "/run/routerha/routerhad.sock"},
    "routerhactl": {"type": "path", "default": "routerhactl"},
}


def routerhactl_beside(routerhad):
    """The routerhactl installed next to the routerhad program ``routerhad``."""
    return os.path.join(os.path.dirname(routerhad), "routerhactl")


def ask(module, routerhactl, control, *args, undo=None, explain=""):
    """``routerhactl --control control *args``'s JSON answer; on failure runs
    ``undo`` (if given) and fails the module with routerhad's reason and
    ``explain`` (what that failure left behind)."""
    command = [routerhactl, "--control", control, *args]
    rc, out, err = module.run_command(command)
    if rc != 0:
        if undo is not None:
            undo()
        reason = err.strip() or out.strip()
        module.fail_json(msg=f"{' '.join(command)} failed ({rc}): {reason}{explain}")
    try:
        return json.loads(out) if out.strip() else {}
    except ValueError:
        return {"output": out.strip()}
