# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""routerha.cluster.vyatta_config: a router's native VRRP and conntrack-sync
configuration (VyOS, EdgeOS) made to say what the data model says, in one commit.

Everything is decided on the controller; the router only runs POSIX sh (the
configuration is read with ``vyatta-op-cmd-wrapper``, changed with
``vyatta-cfg-cmd-wrapper``), so this works on EdgeOS and old VyOS, whose Python
Ansible cannot use. Documentation: plugins/modules/vyatta_config.py.
"""

from __future__ import annotations

import json
import shlex

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.routerha.cluster.plugins.module_utils.model.consistency import (
    splitting_report,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.dump import dump_config
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.model.load import load_config
from ansible_collections.routerha.cluster.plugins.module_utils.model.native.common import (
    NativeParseError,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.native.converge import (
    conflicts,
    converge_commands,
    native_part,
    owned_paths,
    read_running,
    removal_commands,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.native.render import (
    RenderError,
    render_set_lines,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.native.vyos_set import (
    interpret,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.vyatta_session import (
    Masker,
    at_moment,
    command_label,
    outcome,
    run_in_group,
    session_script,
)

ARGUMENT_SPEC = {
    "config": {"type": "raw", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "syntax": {"type": "str", "choices": ["vyos", "vyos-1.2", "vyatta"], "required": True},
    "confirm_minutes": {"type": "int", "default": 10},
    "commit_at": {"type": "float"},
    "save": {"type": "bool", "default": True},
    "cfg_wrapper": {"type": "path", "default": "/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper"},
    "op_wrapper": {"type": "path", "default": "/opt/vyatta/bin/vyatta-op-cmd-wrapper"},
    "config_group": {"type": "str", "default": "vyattacfg"},
    "state_file": {"type": "path", "default": "/config/routerha/native-applied.json"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["confirm_minutes"] < 0:
            raise AnsibleActionFail(
                "vyatta_config: confirm_minutes must be 0 (plain commit) or more"
            )
        if self._play_context.become:
            raise AnsibleActionFail(
                "vyatta_config: the task would run through become (sudo), and the platform's "
                "configuration sessions must not: set become: false on it and connect as the "
                "admin user (in group vyattacfg: VyOS's vyos, EdgeOS's ubnt)"
            )
        self.args, self.masker = args, Masker()
        desired = self._desired()
        text = self._read_config()
        self.previous = self._read_previous() if args["state"] == "present" else None
        own_syntax = args["syntax"] if args["state"] == "present" else None
        try:
            current = read_running(text)  # read once, asked below several times
            commands = self._commands(current, desired)
            found = conflicts(current, desired, syntax=own_syntax)
        except (RenderError, NativeParseError) as exc:
            raise AnsibleActionFail(f"vyatta_config: {exc}") from exc
        result.update(
            changed=bool(commands),
            commands=self.masker.lines(commands),
            conflicts=[str(conflict) for conflict in found],
            syntax=args["syntax"],
            state=args["state"],
            splitting=self._splitting(current, desired) if args["state"] == "present" else [],
        )
        if args["state"] == "absent" and found:
            result["native_config"] = self._native_config(current, desired)
        if self._task.diff:
            result["diff"] = self._diff(text, current, desired)
        if not commands or self._task.check_mode:
            return result
        return {**result, **self._apply(commands, desired)}

    # -- what should change --------------------------------------------------------

    def _desired(self):
        config = self.args["config"]
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError as exc:
                raise AnsibleActionFail(f"vyatta_config: config is not JSON: {exc}") from exc
        self.desired_data = config
        try:
            return load_config(config)
        except ConfigError as exc:
            raise AnsibleActionFail(f"vyatta_config: config: {exc}") from exc

    def _commands(self, current, desired):
        if self.args["state"] == "absent":
            return removal_commands(current, desired)
        return converge_commands(current, desired, self.args["syntax"], previous=self.previous)

    def _splitting(self, current, desired):
        """The changes from the running groups to the desired ones that the group's
        members must make together (consistency.splitting_changes), as
        routerhad_config reports them; none when the running configuration does not
        make a model (a first deploy fixes that, one router at a time)."""
        try:
            running = interpret(current, "<running>", [], semantic=[])
        except (ConfigError, NativeParseError):
            running = None
        return splitting_report(running, desired)

    def _native_config(self, current, desired):
        """The native part that would go, as routerhad's configuration (passwords
        masked): what a migration would carry over, to compare with the inventory."""
        try:
            return self.masker.config(dump_config(native_part(current, desired)))
        except (ConfigError, NativeParseError) as exc:
            return {"unreadable": str(exc)}

    def _read_previous(self):
        """The configuration this module applied last (state_file), so that what it
        owned and the inventory dropped is deleted too; None when there is none."""
        run = self._run(f"cat {shlex.quote(self.args['state_file'])}")
        if run.get("rc") != 0:
            return None
        try:
            return load_config(json.loads(run.get("stdout", "")))
        except (ValueError, ConfigError):
            return None  # unreadable or of another version: own the desired subtrees only

    def _remember(self):
        """Keep what was applied (it holds the passwords: mode 0600 under /config)."""
        path = shlex.quote(self.args["state_file"])
        text = json.dumps(self.desired_data, sort_keys=True)
        self._shell(
            f"umask 077; mkdir -p $(dirname {path}) && cat > {path}.tmp <<'ROUTERHA_EOF'\n{text}\nROUTERHA_EOF\n"
            f"mv {path}.tmp {path}",
            "keeping the applied configuration",
        )

    def _diff(self, text, current, desired):
        """Before and after as set lines, the owned subtrees only, passwords masked."""
        owned = owned_paths(desired, self.args["syntax"])
        lines = text.splitlines()
        before = [
            lines[st.line - 1]
            for st in current
            if any(st.words[: len(path)] == tuple(path) for path in owned)
        ]
        after = (
            [] if self.args["state"] == "absent" else render_set_lines(desired, self.args["syntax"])
        )
        return {
            "before": "\n".join(self.masker.lines(sorted(before))) + "\n",
            "after": "\n".join(self.masker.lines(sorted(after))) + "\n",
            "before_header": "running configuration",
            "after_header": "routerha",
        }

    # -- the router -------------------------------------------------------------------

    def _run(self, command):
        """``command`` as the raw module runs it: to the login shell as it is. (With
        Ansible's default executable, `&& sleep 0` would be appended after the last
        line, which ends a here-document.) Never through become (run refuses it)."""
        return self._low_level_execute_command(command, sudoable=False, executable=False)

    def _shell(self, command, what):
        run = self._run(command)
        if run.get("rc") != 0:
            detail = (run.get("stderr") or run.get("stdout") or "").strip()[-2000:]
            raise AnsibleActionFail(f"vyatta_config: {what} failed (rc {run.get('rc')}): {detail}")
        return run

    def _read_config(self):
        wrapper = self.args["op_wrapper"]
        run = self._shell(f"{wrapper} show configuration commands", "reading the configuration")
        return run.get("stdout", "")

    def _session(self, commands, commit, save, what, at=None):
        """One configuration session in one sh under the config group; with ``at``,
        it first waits on the router until that moment (each member's worker runs
        it at once, so all members commit in the same second)."""
        script = session_script(self.args["cfg_wrapper"], commands, commit=commit, save=save)
        if at is not None:
            script = at_moment(script, at)
        run = self._run(run_in_group(script, self.args["config_group"]))
        ok, step = outcome(run.get("stdout", ""), run.get("stderr", ""))
        if not ok:
            detail = (run.get("stdout", "") + run.get("stderr", "")).strip()[-2000:]
            raise AnsibleActionFail(
                f"vyatta_config: {what}: {step or 'the session did not finish'}; "
                f"nothing was committed. {self.masker.line(detail)}"
            )

    def _apply(self, commands, desired):
        a = self.args
        minutes = a["confirm_minutes"]
        commit = f"commit-confirm {minutes}" if minutes else "commit"
        out = {"confirm_minutes": minutes}
        # Saved only once confirmed: on VyOS 1.1-1.3 and EdgeOS a missed confirm
        # rolls back by rebooting into the saved configuration.
        self._session(
            commands, commit, save=not minutes and a["save"],
            what="the scheduled commit" if a["commit_at"] is not None else "the commit",
            at=a["commit_at"],
        )  # fmt: skip
        if a["commit_at"] is not None:
            out["committed_at"] = a["commit_at"]
        after = self._read_config()
        left = self._commands(after, desired)
        if left:
            raise AnsibleActionFail(
                "vyatta_config: after the commit the router still differs in "
                f"{len(left)} commands ({', '.join(command_label(c) for c in left[:5])}); "
                + (
                    f"not confirmed: it rolls back within {minutes} minutes"
                    if minutes
                    else "the commit is kept"
                )
            )
        if minutes:
            self._session([], "confirm", save=a["save"], what="confirming the commit")
        if a["state"] == "present":
            self._remember()
        out["confirmed"] = bool(minutes)
        out["saved"] = a["save"]
        return out
