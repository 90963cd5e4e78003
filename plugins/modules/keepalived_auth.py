#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: keepalived_auth
short_description: One step of a VRRP group's authentication change on a keepalived router
version_added: 0.1.0
description:
  - Reads or changes the C(authentication) block of one C(vrrp_instance) in keepalived.conf, has
    keepalived reload, and returns the instance's status in the shape C(routerhactl status --json)
    gives a routerhad group (state, master address, counters, adverts dropped for their authentication).
  - keepalived holds one key per instance, so a change is a V(set) that every member of the group
    commits at one agreed time (O(at)); M(routerha.cluster.auth_rollover) runs it across the members
    and checks the group between the steps. Use that module for a rollover, this one for a single router.
  - Only the lines of the instance's C(authentication) block change (it is added, rewritten or
    removed); every other line of the file stays byte for byte. The result is parsed by routerha's
    keepalived parser and tested with C(keepalived --config-test) before it replaces the file
    (atomically, with the file's mode); the first change keeps the previous file beside it
    (C(.rollover-backup)) for O(operation=restore).
  - The status comes from keepalived's own dumps, which it writes on a signal; C(keepalived --signum=JSON)
    and C(--signum=DATA) tell their numbers. The JSON dump (C(keepalived.json), keepalived built with
    JSON support, as Debian's is) gives the state and counters, the data dump (C(keepalived.data)) the
    master's and the instance's own address. Both files also hold the password, so they are removed once read.
requirements:
  - keepalived 2.x built with JSON support (Debian's is) on the target
  - Python 3.9 or later on the target
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
  - routerha.cluster.rollover_step
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  instance:
    description: The C(vrrp_instance) name in keepalived.conf.
    type: str
    required: true
  operation:
    description:
      - V(status) changes nothing and reports where the member stands against O(type) and O(password).
      - V(set) replaces the instance's authentication with O(type) and O(password) and reloads keepalived
        (at O(at) when given).
      - V(restore) puts back the file kept by the first change, and reloads.
    type: str
    choices: [status, set, restore]
    default: status
  type:
    description:
      - The authentication type to reach; V(plaintext-password) is keepalived's C(auth_type PASS),
        V(ah) its C(auth_type AH); V(none) removes the C(authentication) block.
    type: str
    choices: [plaintext-password, ah, none]
    default: plaintext-password
  password:
    description:
      - The password to reach (C(auth_pass)), at most 8 octets, one word without quotes, C(#), C(!),
        braces or backslashes. Required unless O(type=none).
    type: str
  config:
    description: keepalived's configuration file (no C(include); the instance's block must not be on one line).
    type: path
    default: /etc/keepalived/keepalived.conf
  pidfile:
    description: keepalived's main pid file; the reload is C(SIGHUP) to that process, and the dumps are asked of it.
    type: path
    default: /run/keepalived.pid
  reload_command:
    description: A command that reloads keepalived instead of C(SIGHUP) to the pid in O(pidfile), such as C(systemctl reload keepalived).
    type: str
  keepalived:
    description: The keepalived program, for C(--config-test) and C(--signum).
    type: path
    default: keepalived
  dump_dir:
    description: Where keepalived writes its dumps (its temporary directory).
    type: path
    default: /tmp
notes:
  - Passwords are never returned; C(standing) says whether the member sends the new one.
  - keepalived's reload re-reads the whole file, and an instance keeps its state through it (keepalived
    does not write the states to its notify FIFO on a reload, unless C(fifo_write_vrrp_states_on_reload)).
  - One keepalived per host; the dumps' file names are fixed by keepalived.
seealso:
  - module: routerha.cluster.auth_rollover
  - module: routerha.cluster.routerhad_auth
"""

EXAMPLES = r"""
- name: Where does this router stand against the new password?
  routerha.cluster.keepalived_auth:
    instance: VI_LAN
    password: "{{ vault_vrrp_password }}"
  register: standing

- name: Switch to AH at an agreed time
  routerha.cluster.keepalived_auth:
    instance: VI_LAN
    operation: set
    type: ah
    password: "{{ vault_vrrp_password }}"
    at: "{{ agreed_time }}"
"""

RETURN = r"""
standing:
  description: The member against the new authentication, after the operation.
  returned: success
  type: dict
  sample: {type: plaintext-password, sends_new: false, accepts_new: false, accept_count: 0}
status:
  description:
    - The instance's status from keepalived's dumps, in the shape of a routerhad group's C(routerhactl status --json)
      entry (none when O(pidfile) names no keepalived).
    - C(counters.transitions) counts keepalived's become_master and release_master; C(counters.drops.auth_data)
      its auth_failure, C(auth_type) its invalid_authtype and authtype_mismatch.
  returned: success
  type: dict
  sample: {name: VI_LAN, state: BACKUP, master_address: 10.1.1.1, counters: {transitions: 0, adverts_received: 12, drops: {}}}
reload:
  description: How keepalived was reloaded.
  returned: when reloaded
  type: dict
  sample: {signal: HUP, pid: 1234}
"""

import contextlib
import json
import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.routerha.cluster.plugins.module_utils.keepalived_auth import (
    RewriteError,
    data_dump_addresses,
    describe,
    set_auth,
    status_from_dump,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.staged_config import (
    STEP_OPTIONS,
    STEP_REQUIRED_IF,
    read_text,
    run_step,
    temporary_beside,
)


def _read(module, path):
    try:
        return read_text(path)
    except OSError as exc:
        module.fail_json(msg=f"cannot read {path}: {exc}")


def _config_test(module, path, text):
    """``keepalived --config-test`` of ``text`` (a file beside ``path``)."""
    candidate = temporary_beside(path, text)
    try:
        rc, out, err = module.run_command(
            [module.params["keepalived"], "--config-test", "-f", candidate]
        )
    finally:
        os.unlink(candidate)
    if rc != 0:
        detail = (err.strip() or out.strip()).replace(candidate, path)
        module.fail_json(msg=f"keepalived --config-test refuses the new {path} ({rc}): {detail}")


def _pid(module):
    try:
        with open(module.params["pidfile"], encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _reload(module, undo):
    p = module.params
    if p["reload_command"]:
        rc, out, err = module.run_command(p["reload_command"])
        if rc != 0:
            undo()
            module.fail_json(
                msg=f"{p['reload_command']} failed ({rc}): {err.strip() or out.strip()}"
            )
        return {"command": p["reload_command"]}
    pid = _pid(module)
    if pid is None:
        undo()
        module.fail_json(msg=f"cannot read keepalived's pid from {p['pidfile']}")
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        undo()
        module.fail_json(msg=f"cannot signal keepalived (pid {pid}): {exc}")
    return {"signal": "HUP", "pid": pid}


def _signum(module, name):
    rc, out, err = module.run_command([module.params["keepalived"], f"--signum={name}"])
    try:
        number = int(out.strip())
    except ValueError:
        number = -1
    if rc != 0 or number <= 0:
        module.fail_json(
            msg=f"keepalived --signum={name} gives no signal ({rc}): {err.strip() or out.strip()}"
            + (" (keepalived built without JSON support)" if name == "JSON" else "")
        )
    return number


def _unlink(*paths):
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _status(module):
    """The instance's status from keepalived's JSON and data dumps (None when
    keepalived does not run)."""
    p = module.params
    pid = _pid(module)
    if pid is None:
        return None
    json_path = os.path.join(p["dump_dir"], "keepalived.json")
    data_path = os.path.join(p["dump_dir"], "keepalived.data")
    json_signal, data_signal = _signum(module, "JSON"), _signum(module, "DATA")
    _unlink(json_path, data_path)
    try:
        # keepalived handles pending signals lowest number first: DATA (SIGUSR1) is
        # written before JSON (a real-time signal), so a whole JSON dump means both.
        os.kill(pid, data_signal)
        os.kill(pid, json_signal)
    except OSError as exc:
        module.fail_json(msg=f"cannot signal keepalived (pid {pid}): {exc}")
    deadline = time.monotonic() + 5.0
    dump = None
    while dump is None:
        try:
            with open(json_path, encoding="utf-8") as handle:
                dump = json.load(handle)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                _unlink(json_path, data_path)
                module.fail_json(
                    msg=f"keepalived (pid {pid}) wrote no JSON dump to {json_path} within 5 s"
                )
            time.sleep(0.05)
    addresses = {}
    while time.monotonic() < deadline:
        try:
            with open(data_path, encoding="utf-8", errors="replace") as handle:
                addresses = data_dump_addresses(handle.read(), p["instance"])
        except OSError:
            addresses = {}
        if addresses.get("source_address"):
            break
        time.sleep(0.05)
    _unlink(json_path, data_path)  # both hold the password
    return status_from_dump(dump, p["instance"], addresses)


def main():
    module = AnsibleModule(
        argument_spec={
            "instance": {"type": "str", "required": True},
            "operation": {
                "type": "str",
                "choices": ["status", "set", "restore"],
                "default": "status",
            },
            **STEP_OPTIONS,
            "config": {"type": "path", "default": "/etc/keepalived/keepalived.conf"},
            "pidfile": {"type": "path", "default": "/run/keepalived.pid"},
            "reload_command": {"type": "str"},
            "keepalived": {"type": "path", "default": "keepalived"},
            "dump_dir": {"type": "path", "default": "/tmp"},
        },
        required_if=STEP_REQUIRED_IF,
        supports_check_mode=True,
    )
    p = module.params
    path = p["config"]
    run_step(
        module,
        path,
        _read(module, path),
        rewrite=lambda text: (
            set_auth(text, p["instance"], p["type"], p["password"])
            if p["operation"] == "set"
            else None
        ),
        validate=lambda new: _config_test(module, path, new),
        describe=lambda text: describe(text, p["instance"], p["type"], p["password"]),
        reload=lambda undo: _reload(module, undo=undo),
        status=lambda: _status(module),
        errors=(RewriteError, ConfigError),
    )


if __name__ == "__main__":
    main()
