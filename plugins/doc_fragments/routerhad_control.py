# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The options of a module that edits a running routerhad's configuration and asks
it to reload: where its file, its control socket and routerhactl are."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  config:
    description: routerhad's configuration file.
    type: path
    default: /etc/routerha/routerhad.json
  control:
    description: routerhad's control socket.
    type: path
    default: /run/routerha/routerhad.sock
  routerhactl:
    description: The routerhactl program.
    type: path
    default: routerhactl
requirements:
  - routerhad with C(routerhactl) on the target (role routerha.cluster.routerhad_install)
  - Python 3.9 or later on the target
"""
