# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The options of a rollover step module that do not depend on the daemon
(plugins/module_utils/staged_config.py holds their code)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  at:
    description:
      - Seconds since the epoch at which to reload, for a change all members commit at one agreed time.
        The file is written at once; the reload, which makes it take effect, waits until then.
    type: float
  final:
    description: This is the last step of a rollover; the copy of the file kept by its first change is removed after it.
    type: bool
    default: false
"""
