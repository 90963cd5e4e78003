#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: routerhad_config
short_description: Write routerhad's configuration file, validated, never replacing a good one with a bad one
version_added: 0.1.0
description:
  - Writes the routerhad configuration (the routerha data model, see the collection's C(docs/configuration.md)) to
    O(path), mode C(0600) (it holds passwords), atomically.
  - The configuration is loaded through the data model first, so every problem is reported naming its key
    (C(vrrp.groups.LAN.advertise_interval)); then the new file is written beside the old one and checked with
    C(routerhad --check-config) (O(routerhad)), the very program that will read it. Only then does it replace the
    running configuration. A configuration that fails either check changes nothing.
  - The file is written in one canonical form (JSON, keys sorted). A file whose content loads into the same
    configuration is left alone and reports no change, whatever order or form it is written in (as
    M(routerha.cluster.routerhad_auth) leaves it after a password rollover, say).
  - With O(reload=true) a changed file is applied at once with C(routerhactl reload) when routerhad runs (its
    O(control) socket exists), and unchanged groups keep their state. When routerhad refuses the new configuration (an
    interface missing on the router, say), the previous file is put back, so the file on disk is again the one
    routerhad runs, and the module fails with routerhad's reason. Without O(reload), the result's C(changed) says
    whether a reload is due.
  - Passwords never appear in the result or the diff. The diff shows each one as C(<secret HMAC>), keyed afresh on
    every run, so it tells a changed password from an unchanged one within one diff only.
requirements:
  - routerhad on the target for C(routerhad --check-config) (role routerha.cluster.routerhad_install)
  - Python 3.9 or later on the target
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  config:
    description:
      - The configuration, a dict as in the file (or its JSON text).
    type: raw
    required: true
  path:
    description: The configuration file.
    type: path
    default: /etc/routerha/routerhad.json
  routerhad:
    description:
      - The routerhad program that checks the new file (C(--check-config)). The file is not written when it is
        missing, except in check mode.
    type: path
    default: /opt/routerha/bin/routerhad
  backup:
    description: Keep the replaced file beside the new one, with a time stamp in its name.
    type: bool
    default: false
  reload:
    description:
      - Apply a changed file to the running routerhad (C(routerhactl reload)), and put the previous file back if
        routerhad refuses it. Nothing is asked when routerhad is not running (no O(control) socket); it reads the
        file when it starts.
    type: bool
    default: false
  control:
    description: routerhad's control socket, for O(reload).
    type: path
    default: /run/routerha/routerhad.sock
  routerhactl:
    description: The routerhactl program, for O(reload). By default the one beside O(routerhad).
    type: path
seealso:
  - module: routerha.cluster.pair_check
  - module: routerha.cluster.routerhad_auth
"""

EXAMPLES = r"""
- name: Write this router's configuration
  routerha.cluster.routerhad_config:
    config: "{{ cluster_plan_data.configs[inventory_hostname] }}"
  register: written

- name: Write it and apply it at once; a configuration routerhad refuses is taken back
  routerha.cluster.routerhad_config:
    config: "{{ cluster_plan_data.configs[inventory_hostname] }}"
    reload: true
"""

RETURN = r"""
path:
  description: The configuration file.
  returned: always
  type: str
  sample: /etc/routerha/routerhad.json
groups:
  description: The configuration's groups, each with its interface, VRID, priority and sync group.
  returned: success
  type: dict
  sample: {LAN: {interface: eth1, vrid: 10, priority: 200, sync_group: SG}}
conntrack_sync:
  description: Whether the configuration has conntrack sync.
  returned: success
  type: bool
splitting:
  description:
    - The changes from the file as it is to the new configuration that the group's members must make together, not one
      router after another, since meanwhile each would drop the others' advertisements and all become master
      (authentication, version, advertisement interval, virtual addresses, VRID; as M(routerha.cluster.pair_check)
      names them). The playbook C(rollout.yml) deploys such a cluster on all its members at once.
  returned: success
  type: list
  elements: dict
  sample:
    - group: WAN
      code: address-mismatch
      message: "WAN: the virtual addresses differ (planned 198.51.100.253, 198.51.100.254, running 198.51.100.254): ..."
reloaded:
  description:
    - What the reload did to each group (C(routerhactl reload --json)); null when routerhad was not running.
  returned: when O(reload=true) and the file changed
  type: dict
  sample: {kept: [WAN], rekeyed: [], started: [LAN], stopped: [LAN]}
backup_file:
  description: The replaced file's copy.
  returned: when O(backup=true) and the file changed
  type: str
problems:
  description: Each problem with the configuration, as C(key path, why).
  returned: when the configuration does not load
  type: list
  elements: list
"""

import json
import os
import secrets

from ansible_collections.routerha.cluster.plugins.module_utils.masking import (
    MaskingModule,
    mask_config_passwords,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.consistency import (
    splitting_report,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.model.load import load_config
from ansible_collections.routerha.cluster.plugins.module_utils.pair_check import (
    conservative_secrets,
    passwords,
)
from ansible_collections.routerha.cluster.plugins.module_utils.routerhactl import (
    ask,
    routerhactl_beside,
)
from ansible_collections.routerha.cluster.plugins.module_utils.staged_config import (
    read_text,
    replace,
    temporary_beside,
)

MODE = 0o600


def render(config):
    """The file's one canonical form."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def masked(text, key):
    """``text`` (a configuration file) with every password replaced by an HMAC token."""
    try:
        data = json.loads(text)
    except ValueError:
        return "(not JSON: not shown, it may hold passwords)\n"

    mask_config_passwords(data, key)
    return render(data)


def loaded(text):
    """The configuration ``text`` (the file as it is) holds, or None."""
    try:
        return load_config(json.loads(text)) if text else None
    except (ValueError, ConfigError):
        return None


def summary(config):
    out = {}
    for name, g in config.groups.items():
        sync_group = config.sync_group_of(name)
        out[name] = {
            "interface": g.interface,
            "vrid": g.vrid,
            "priority": g.priority,
            "sync_group": sync_group.name if sync_group else None,
        }
    return out


def reload(module, path, before):
    """What routerhad's reload of the new file did (None: routerhad is not running).
    A refused reload leaves routerhad on its previous configuration; the previous
    file goes back with it, so that a restart does not run what was refused."""
    control = module.params["control"]
    if not os.path.exists(control):
        return None

    def undo():
        if before:
            replace(path, before)
        else:
            os.unlink(path)

    routerhactl = module.params["routerhactl"] or routerhactl_beside(module.params["routerhad"])
    kept = "put back as it was" if before else "removed (there was none before)"
    return ask(
        module, routerhactl, control, "reload", "--json", undo=undo,
        explain=f"; routerhad runs its previous configuration, and {path} is {kept}",
    )  # fmt: skip


def main():
    module = MaskingModule(
        argument_spec={
            "config": {"type": "raw", "required": True},
            "path": {"type": "path", "default": "/etc/routerha/routerhad.json"},
            "routerhad": {"type": "path", "default": "/opt/routerha/bin/routerhad"},
            "backup": {"type": "bool", "default": False},
            "reload": {"type": "bool", "default": False},
            "control": {"type": "path", "default": "/run/routerha/routerhad.sock"},
            "routerhactl": {"type": "path"},
        },
        supports_check_mode=True,
        conservative=lambda params: conservative_secrets({"config": params.get("config")}),
    )
    path = module.params["path"]
    data = module.params["config"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            module.fail_json(msg=f"config: not JSON: {exc}")
    try:
        config = load_config(data)
    except ConfigError as exc:
        module.fail_json(
            msg="config does not load: " + "; ".join(f"{p}: {why}" for p, why in exc.problems),
            problems=[list(p) for p in exc.problems],
            path=path,
        )
    module.mask(passwords(config))
    text = render(data)
    before = read_text(path) if os.path.exists(path) else ""
    running = loaded(before)
    mode_right = os.path.exists(path) and (os.stat(path).st_mode & 0o7777) == MODE
    # A file written otherwise (by routerhad_auth during a rollover, say) that loads
    # into the same model is left as it is: routerhad would run it the same way.
    same = before == text or running == config
    changed = not same or not mode_right
    result = {
        "changed": changed,
        "path": path,
        "groups": summary(config),
        "conntrack_sync": config.conntrack_sync is not None,
        "splitting": splitting_report(running, config),
    }
    if module._diff and not same:
        key = secrets.token_bytes(16)
        result["diff"] = {
            "before": masked(before, key) if before else "",
            "after": masked(text, key),
            "before_header": path,
            "after_header": path,
        }
    if not changed or module.check_mode:
        module.exit_json(**result)
    if same:
        os.chmod(path, MODE)
        module.exit_json(**result)

    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    routerhad = module.params["routerhad"]
    if not os.path.exists(routerhad):
        module.fail_json(
            msg=f"{routerhad} is missing: install routerhad first (routerha.cluster.routerhad_install)",
            path=path,
        )
    temporary = temporary_beside(path, text)
    try:
        os.chmod(temporary, MODE)
        rc, out, err = module.run_command([routerhad, "--check-config", "--config", temporary])
        if rc != 0:
            module.fail_json(
                msg=f"routerhad --check-config refused the new configuration; {path} is unchanged: "
                + (err or out).strip().replace(temporary, path),
                path=path,
            )
        if module.params["backup"] and before:
            result["backup_file"] = module.backup_local(path)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    if module.params["reload"]:
        result["reloaded"] = reload(module, path, before)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
