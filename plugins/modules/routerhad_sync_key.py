#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: routerhad_sync_key
short_description: One step of a conntrack sync key change on a routerhad router
version_added: 0.1.0
description:
  - Reads or changes the key of the conntrack sync link (C(conntrack_sync.authentication)) in a routerhad
    configuration file, asks routerhad to reload, and checks the sync link afterwards through
    C(routerhactl conntrack stats --json).
  - routerhad swaps the keys of a running sync link on reload (no new session, no datagram lost), so a key
    changes without a loss when every member runs each step before any runs the next - V(accept), V(send),
    V(drop) - as C(playbooks/rotate_auth.yml) does (Ansible's linear strategy finishes a task on every host
    before the next one starts).
  - After the step the member's sync link must have its sessions established both ways and must not have
    dropped a datagram for its key (C(unknown_key), C(bad_mac)) since O(since); the module fails otherwise.
  - The new configuration is validated by the routerha data model before it replaces the file. The first change
    keeps the previous file beside it (C(.rollover-backup)) for O(operation=restore).
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
  operation:
    description:
      - V(status) changes nothing and reports where the member stands against the new key.
      - V(accept) also accepts the new key; V(send) sends with it and keeps accepting the previous one;
        V(drop) forgets every key but the one sent.
      - V(restore) puts back the configuration kept by the first change, and reloads.
    type: str
    choices: [status, accept, send, drop, restore]
    default: status
  key_id:
    description: The new key's id (1..255), other than the id of the key in use.
    type: int
    required: true
  key:
    description: The new key (16 octets or more).
    type: str
    required: true
  since:
    description: The RV(status) this member returned before the step; the drops for a key are counted from it.
    type: dict
  settle:
    description: Seconds to wait after the reload before the sync link is checked.
    type: float
    default: 2.0
notes:
  - Keys are never returned; RV(standing) and RV(status) show key ids only.
seealso:
  - module: routerha.cluster.routerhad_auth
"""

EXAMPLES = r"""
- name: Where does this router stand against the new sync key?
  routerha.cluster.routerhad_sync_key:
    key_id: 2
    key: "{{ vault_routerha_sync_key }}"
  register: sync_before

- name: Also accept the new key (every member, before any sends it)
  routerha.cluster.routerhad_sync_key:
    operation: accept
    key_id: 2
    key: "{{ vault_routerha_sync_key }}"
    since: "{{ sync_before.status }}"
"""

RETURN = r"""
standing:
  description: The member against the new key, after the operation.
  returned: success
  type: dict
  sample: {key_id: 1, accepted_key_ids: [2], sends_new: false, accepts_new: true, accept_count: 1}
status:
  description: The C(authentication) part of C(routerhactl conntrack stats --json) after the operation.
  returned: success
  type: dict
  sample: {type: hmac-sha256, send_state: established, send_key_id: 1, accepted_key_ids: [1, 2], drops: {bad_mac: 0}}
reload:
  description: What routerhad's reload reported.
  returned: when reloaded
  type: dict
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.routerhactl import (
    CONTROL_OPTIONS,
    ask,
)
from ansible_collections.routerha.cluster.plugins.module_utils.staged_config import (
    read_text,
    run_step,
)
from ansible_collections.routerha.cluster.plugins.module_utils.sync_key_rollover import (
    OPERATIONS,
    apply_operation,
    describe,
    problems,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "operation": {"type": "str", "choices": list(OPERATIONS), "default": "status"},
            "key_id": {"type": "int", "required": True},
            "key": {"type": "str", "required": True, "no_log": True},
            "since": {"type": "dict"},
            "settle": {"type": "float", "default": 2.0},
            "at": {"type": "float"},
            "final": {"type": "bool", "default": False},
            **CONTROL_OPTIONS,
        },
        supports_check_mode=True,
    )
    p = module.params
    path = p["config"]
    try:
        text = read_text(path)
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read {path}: {exc}")

    def ctl(*args, undo=None):
        return ask(module, p["routerhactl"], p["control"], *args, undo=undo)

    def rewrite(_text):
        if p["operation"] == "status":
            return None
        new = apply_operation(data, p["operation"], p["key_id"], p["key"])
        return None if new == data else json.dumps(new, indent=2) + "\n"

    def reload(undo):
        answer = ctl("reload", "--json", undo=undo)
        time.sleep(p["settle"])
        return answer

    def sync_status():
        if not os.path.exists(p["control"]):
            return None
        stats = ctl("conntrack", "stats", "--json").get("stats") or {}
        now = stats.get("authentication")
        found = problems(p["since"], now)
        if found and not module.check_mode:
            module.fail_json(
                msg=f"the sync link after {p['operation']}: " + "; ".join(found), status=now
            )
        return now

    run_step(
        module,
        path,
        text,
        rewrite=rewrite,
        # The text as the step leaves it (a restore: the file restored).
        describe=lambda new_text: describe(json.loads(new_text), p["key_id"], p["key"]),
        reload=reload,
        status=sync_status,
        errors=(ConfigError, ValueError),
    )


if __name__ == "__main__":
    main()
