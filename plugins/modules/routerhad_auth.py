#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: routerhad_auth
short_description: One step of a VRRP group's authentication change on a routerhad router
version_added: 0.1.0
description:
  - Reads or changes the authentication of one VRRP group in a routerhad configuration file, asks
    routerhad to reload, and returns the group's status as C(routerhactl status --json) shows it.
  - routerhad applies a change of keys to a running group without restarting it, so no step causes
    a transition by itself.
  - The steps of M(routerha.cluster.auth_rollover), which runs them across a group's members in the
    order that keeps the group intact; use that module for a rollover, this one for a single router.
  - The new configuration is validated by the routerha data model before it replaces the file; a
    configuration that could not run is never written. The first change of a rollover keeps the
    previous file beside it (C(.rollover-backup)) for O(operation=restore).
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
  - routerha.cluster.rollover_step
  - routerha.cluster.routerhad_control
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  group:
    description: The VRRP group's name in the routerhad configuration.
    type: str
    required: true
  operation:
    description:
      - V(status) changes nothing and reports where the member stands against O(type) and O(password).
      - V(accept) also accepts O(password) on receive; V(send) sends with O(password) and keeps
        accepting the previous one; V(drop) forgets every key but the one sent.
      - V(set) replaces the authentication with O(type) and O(password) (a scheduled commit, with O(at)).
      - V(restore) puts back the configuration kept by the first change, and reloads.
    type: str
    choices: [status, accept, send, drop, set, restore]
    default: status
  type:
    description: The authentication type to reach; V(none) removes authentication (only with V(set)).
    type: str
    choices: [plaintext-password, ah, none]
    default: plaintext-password
  password:
    description: The password to reach (at most 8 octets, RFC 3768). Required unless O(type=none).
    type: str
notes:
  - Passwords are never returned; C(standing) says whether the member sends and accepts the new one.
seealso:
  - module: routerha.cluster.auth_rollover
"""

EXAMPLES = r"""
- name: Where does this router stand against the new password?
  routerha.cluster.routerhad_auth:
    group: LAN
    password: "{{ vault_vrrp_password }}"
  register: standing

- name: Also accept the new password (first step of a staged change)
  routerha.cluster.routerhad_auth:
    group: LAN
    operation: accept
    password: "{{ vault_vrrp_password }}"
"""

RETURN = r"""
standing:
  description: The member against the new authentication, after the operation.
  returned: success
  type: dict
  sample: {type: plaintext-password, sends_new: false, accepts_new: true, accept_count: 1}
status:
  description: The group's entry of C(routerhactl status --json) after the operation (none in check mode when nothing could be asked).
  returned: success
  type: dict
  sample: {name: LAN, state: BACKUP, master_address: 10.1.1.1, counters: {transitions: 1}}
reload:
  description: What routerhad's reload reported (groups kept, rekeyed, started, stopped).
  returned: when reloaded
  type: dict
  sample: {kept: [WAN], rekeyed: [LAN], started: [], stopped: []}
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.routerha.cluster.plugins.module_utils.auth_rollover import (
    apply_operation,
    describe,
    dumps,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.routerhactl import (
    CONTROL_OPTIONS,
    ask,
)
from ansible_collections.routerha.cluster.plugins.module_utils.staged_config import (
    STEP_OPTIONS,
    STEP_REQUIRED_IF,
    read_text,
    run_step,
)


def _read(module, path):
    """The file's text and the JSON it holds."""
    try:
        text = read_text(path)
        return text, json.loads(text)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read {path}: {exc}")


def _ctl(module, *args, undo=None):
    return ask(module, module.params["routerhactl"], module.params["control"], *args, undo=undo)


def _status(module):
    groups = _ctl(module, "status", "--json").get("groups", [])
    return next((g for g in groups if g.get("name") == module.params["group"]), None)


def main():
    module = AnsibleModule(
        argument_spec={
            "group": {"type": "str", "required": True},
            "operation": {
                "type": "str",
                "choices": ["status", "accept", "send", "drop", "set", "restore"],
                "default": "status",
            },
            **STEP_OPTIONS,
            **CONTROL_OPTIONS,
        },
        required_if=STEP_REQUIRED_IF,
        supports_check_mode=True,
    )
    p = module.params
    path = p["config"]
    # run_step hands rewrite and describe the text read here; they use its parse.
    text, data = _read(module, path)

    def rewrite(_text):
        if p["operation"] == "status":
            return None
        new = apply_operation(data, p["group"], p["operation"], p["type"], p["password"])
        return None if new == data else dumps(new)

    run_step(
        module,
        path,
        text,
        rewrite=rewrite,
        describe=lambda _text: describe(data, p["group"], p["type"], p["password"]),
        # routerhactl exits non-zero with routerhad's reason when it refuses the
        # reload; the running configuration then stays, and so must the file.
        reload=lambda undo: _ctl(module, "reload", "--json", undo=undo),
        status=lambda: _status(module) if os.path.exists(p["control"]) else None,
        errors=(ConfigError, ValueError),
    )


if __name__ == "__main__":
    main()
