#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: routerhad_bundle
short_description: Build the routerhad bundle (the daemon and its pinned pyroute2) on the controller
version_added: 0.1.0
description:
  - Packs the routerhad daemon and C(routerhactl) (this collection's C(src/routerha)) with exactly the pyroute2 version
    routerhad is pinned to into one archive on the controller. The role C(routerha.cluster.routerhad_install) copies it
    to the routers and unpacks it into a release directory, so a router needs Python 3.9 or later and nothing from a
    package index.
  - The archive is reproducible (the same sources give the same bytes) and named after a digest of its content, so
    an unchanged collection gives an unchanged bundle and the routers have nothing to do.
  - pyroute2 comes from the controller's own Python unless O(pyroute2_path) names another copy; a version other than
    the pinned one is refused.
  - Runs on the controller only (an action plugin); nothing is done on the target, whatever host the task runs for.
requirements:
  - pyroute2 0.9.7 in the controller's Python (the collection's C(requirements.txt)), or O(pyroute2_path)
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Builds the bundle in check mode too; it changes no host.
  diff_mode:
    support: none
options:
  dest:
    description: Directory on the controller for the bundles (a cache; old bundles may be removed at will).
    type: path
    default: ~/.cache/routerha/bundles
  pyroute2_path:
    description:
      - A directory holding C(pyroute2/) and its C(pyroute2-VERSION.dist-info/) (a site-packages directory or an
        unpacked wheel). Default is the pyroute2 the controller's Python imports.
    type: path
notes:
  - C(changed) is always false. Building the bundle changes no host.
seealso:
  - module: routerha.cluster.pair_check
"""

EXAMPLES = r"""
- name: Build the bundle once
  routerha.cluster.routerhad_bundle:
  run_once: true
  register: routerhad_bundle

- name: Ship it
  ansible.builtin.copy:
    src: "{{ routerhad_bundle.path }}"
    dest: "/opt/routerha/bundles/{{ routerhad_bundle.name }}.tar.gz"
    mode: "0644"
"""

RETURN = r"""
path:
  description: The bundle on the controller.
  returned: success
  type: str
  sample: /root/.cache/routerha/bundles/routerha-0.1.0-3f2a9c0d51e4b7a8.tar.gz
name:
  description: The bundle's name, also the name of its release directory on the routers.
  returned: success
  type: str
  sample: routerha-0.1.0-3f2a9c0d51e4b7a8
digest:
  description: SHA-256 of the bundle's content (names and bytes of its files).
  returned: success
  type: str
version:
  description: routerha's version.
  returned: success
  type: str
  sample: 0.1.0
pyroute2_version:
  description: The pyroute2 version in the bundle.
  returned: success
  type: str
  sample: 0.9.7
built:
  description: Whether this run built the archive (false when an identical one was in O(dest) already).
  returned: success
  type: bool
"""
