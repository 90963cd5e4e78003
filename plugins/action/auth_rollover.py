# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""routerha.cluster.auth_rollover: a group's authentication changed across its
members, step by step, checked between the steps.

The task runs on every member at once (one worker process per host, as Ansible runs
any task); the workers meet at a barrier on the controller after each step, so each
sees every member's result and status and all of them take the same decision. The
steps themselves are routerha.cluster.routerhad_auth on each routerhad member and
routerha.cluster.keepalived_auth on each keepalived member (``member_type``), over the
member's own connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time

from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.routerha.cluster.plugins.module_utils.auth_rollover import (
    auth_drops,
    health,
    plan,
    transitions,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.together import forks_cover

ARGUMENT_SPEC = {
    "group": {"type": "str", "required": True},
    "password": {"type": "str", "no_log": True},
    "type": {
        "type": "str",
        "choices": ["plaintext-password", "ah", "none"],
        "default": "plaintext-password",
    },
    "mode": {"type": "str", "choices": ["auto", "staged", "scheduled"], "default": "auto"},
    "members": {"type": "list", "elements": "str"},
    "settle": {"type": "float", "default": 3.0},
    "lead": {"type": "float", "default": 5.0},
    "timeout": {"type": "float", "default": 120.0},
    "config": {"type": "path", "default": "/etc/routerha/routerhad.json"},
    "control": {"type": "path", "default": "/run/routerha/routerhad.sock"},
    "routerhactl": {"type": "path", "default": "routerhactl"},
    "member_type": {
        "type": "str",
        "choices": ["routerhad", "keepalived"],
        "default": "routerhad",
    },
    "instance": {"type": "str"},
    "keepalived_config": {"type": "path", "default": "/etc/keepalived/keepalived.conf"},
    "keepalived_pidfile": {"type": "path", "default": "/run/keepalived.pid"},
}
#: A scheduled commit is agreed at least this many times the slowest member's status
#: read ahead: a step runs the same module over the same connection, so on a loaded
#: controller or a slow link every member still starts it before the agreed time.
LEAD_MARGIN = 3.0
MEMBER_MODULES = {
    "routerhad": "routerha.cluster.routerhad_auth",
    "keepalived": "routerha.cluster.keepalived_auth",
}


class Barrier:
    """Members' workers exchange one JSON document per step through files on the
    controller; ``exchange`` returns when every member has written its own."""

    def __init__(self, directory, me, members, timeout):
        self.directory, self.me, self.members, self.timeout = directory, me, members, timeout
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _path(self, tag, member):
        return os.path.join(self.directory, f"{tag}.{member}.json")

    def exchange(self, tag, payload):
        mine = self._path(tag, self.me)
        with open(mine + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(mine + ".tmp", mine)
        deadline = time.monotonic() + self.timeout
        while True:
            missing = [m for m in self.members if not os.path.exists(self._path(tag, m))]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise AnsibleActionFail(
                    f"auth_rollover: {', '.join(missing)} did not reach step {tag!r} within {self.timeout:.0f} s "
                    "(every member must run the task in the same batch: no serial, forks >= members)"
                )
            time.sleep(0.05)
        out = {}
        for member in self.members:
            with open(self._path(tag, member), encoding="utf-8") as handle:
                out[member] = json.load(handle)
        return out


def _slim(result):
    """What the other members need of a step's result (nothing secret)."""
    keep = ("failed", "msg", "changed", "standing", "status", "reload", "late", "took")
    return {k: result.get(k) for k in keep if k in result}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            required_if=[
                ("type", "plaintext-password", ["password"]),
                ("type", "ah", ["password"]),
            ],
        )
        me = task_vars["inventory_hostname"]
        members = list(args["members"] or task_vars.get("ansible_play_batch") or [me])
        if me not in members:
            return {**result, "skipped": True, "msg": f"{me} is not a member of {args['group']}"}
        # The members wait for each other at every step: the forks must start them
        # all at once (plugin_utils/together.py, as the playbooks check it). Only
        # this group's members are known here; rotate_auth.yml checks every
        # cluster of the batch before its first change.
        cover = forks_cover(
            list(task_vars.get("ansible_play_batch") or members),
            [members],
            (context.CLIARGS or {}).get("forks"),
            what=f"auth_rollover: the members of {args['group']}",
        )
        if not cover["ok"]:
            raise AnsibleActionFail(cover["msg"])
        barrier = Barrier(
            os.path.join(
                tempfile.gettempdir(), f"routerha-auth-rollover-{self._task._uuid}-{args['group']}"
            ),
            me,
            members,
            args["timeout"],
        )
        self.me, self.members, self.args, self.task_vars, self.barrier = (
            me,
            members,
            args,
            task_vars,
            barrier,
        )
        try:
            return {**result, **self._rollover()}
        finally:
            self._cleanup()

    # -- one member's steps -------------------------------------------------------

    def _member(self, operation, **extra):
        a = self.args
        if a["member_type"] == "keepalived":
            module_args = {
                "instance": a["instance"] or a["group"],
                "config": a["keepalived_config"],
                "pidfile": a["keepalived_pidfile"],
            }
        else:
            module_args = {
                "group": a["group"],
                "config": a["config"],
                "control": a["control"],
                "routerhactl": a["routerhactl"],
            }
        module_args.update({"operation": operation, "type": a["type"], **extra})
        if a["password"] is not None:
            module_args["password"] = a["password"]
        return self._execute_module(
            module_name=MEMBER_MODULES[a["member_type"]],
            module_args=module_args,
            task_vars=self.task_vars,
        )

    def _status_round(self, tag):
        started = time.monotonic()
        read = self._member("status")
        mine = {**_slim(read), "member_type": self.args["member_type"]}
        mine["took"] = time.monotonic() - started
        everyone = self.barrier.exchange(tag, mine)
        self.member_types = {m: r.get("member_type", "routerhad") for m, r in everyone.items()}
        self.slowest = max(r["took"] for r in everyone.values())
        failed = {
            m: r.get("msg")
            for m, r in everyone.items()
            if r.get("failed") or r.get("status") is None
        }
        if failed:
            detail = "; ".join(
                f"{m}: {msg or self.member_types[m] + ' does not run the group'}"
                for m, msg in failed.items()
            )
            raise _Stop(f"cannot read the group's status: {detail}")
        return {m: r["status"] for m, r in everyone.items()}, {
            m: r["standing"] for m, r in everyone.items()
        }

    # -- the whole change -----------------------------------------------------------

    def _rollover(self):
        a, members = self.args, self.members
        try:
            baseline, standings = self._status_round("status")
        except _Stop as stop:
            return {"failed": True, "msg": str(stop), "phases": [], "transitions": 0}
        problems = health(members, baseline, baseline, baseline, first=True)
        try:
            the_plan = plan(members, standings, baseline, a["type"], a["mode"], self.member_types)
        except ValueError as exc:
            return {"failed": True, "msg": str(exc), "phases": [], "transitions": 0}
        report = {
            "mode": the_plan["mode"],
            "master": the_plan["master"],
            "plan": [
                {"name": s["name"], "operation": s["operation"], "members": s["members"]}
                for s in the_plan["steps"]
            ],
            "phases": [],
            "transitions": 0,
            "changed": bool(the_plan["steps"]),
        }
        if problems:
            return {
                **report,
                "changed": False,
                "failed": True,
                "msg": "the group is not intact; nothing changed: " + "; ".join(problems),
            }
        if self._task.check_mode or not the_plan["steps"]:
            return report
        before = baseline
        last = len(the_plan["steps"]) - 1
        for index, step in enumerate(the_plan["steps"]):
            extra = {"final": index == last}
            lead = None
            if step["operation"] == "set":
                lead = max(a["lead"], LEAD_MARGIN * self.slowest)
                proposals = self.barrier.exchange(f"agree-{index}", {"at": time.time() + lead})
                extra["at"] = max(p["at"] for p in proposals.values())
            applied = self.barrier.exchange(
                f"apply-{index}",
                _slim(self._member(step["operation"], **extra))
                if self.me in step["members"]
                else {"skipped": True},
            )
            phase = {
                "name": step["name"],
                "operation": step["operation"],
                "members": step["members"],
            }
            if lead is not None:
                # How far each member's reload came after the agreed time (0: on time).
                phase["lead"] = round(lead, 2)
                phase["late"] = {
                    m: r.get("late") for m, r in applied.items() if not r.get("skipped")
                }
            report["phases"].append(phase)
            failed = {m: r.get("msg") for m, r in applied.items() if r.get("failed")}
            if failed:
                phase["problems"] = [f"{m}: {msg}" for m, msg in failed.items()]
                return self._abort(report, phase["problems"])
            try:
                if lead is not None:
                    # Between the first member's reload and the last one's, an advert
                    # sent with the new keys can reach a member still on the old (a
                    # spread of milliseconds against an advert a second, so rarely):
                    # counted and reported, not a problem while no member moved. From
                    # here on, with every member switched, not one may be dropped.
                    switched, _standings = self._status_round(f"switched-{index}")
                    phase["switch_drops"] = {m: auth_drops(before[m], switched[m]) for m in members}
                    before = switched
                time.sleep(a["settle"])
                now, _standings = self._status_round(f"check-{index}")
            except _Stop as stop:
                phase["problems"] = [str(stop)]
                return self._abort(report, phase["problems"])
            phase["transitions"] = transitions(members, baseline, now)
            phase["states"] = {m: now[m].get("state") for m in members}
            phase["problems"] = health(members, baseline, before, now)
            report["transitions"] = phase["transitions"]
            if phase["problems"]:
                return self._abort(report, phase["problems"])
            before = now
        return report

    def _abort(self, report, problems):
        """Put every member back as it was: the master first (every backup still
        accepts the old key it returns to), then the backups."""
        master = report["master"]
        restored = {}
        for tag, turn in (
            ("restore-master", [master]),
            ("restore-backups", [m for m in self.members if m != master]),
        ):
            mine = (
                _slim(self._member("restore", final=True)) if self.me in turn else {"skipped": True}
            )
            for member, r in self.barrier.exchange(tag, mine).items():
                if not r.get("skipped"):
                    restored[member] = (
                        "failed: " + str(r.get("msg")) if r.get("failed") else "restored"
                    )
        return {
            **report,
            "failed": True,
            "msg": "stopped and restored the previous authentication: " + "; ".join(problems),
            "restored": restored,
        }

    def _cleanup(self):
        # The last member out removes the barrier's files (a member that never
        # arrives leaves them in the temporary directory, named after the task).
        done = os.path.join(self.barrier.directory, f"done.{self.me}")
        open(done, "w").close()
        if all(
            os.path.exists(os.path.join(self.barrier.directory, f"done.{m}")) for m in self.members
        ):
            for name in os.listdir(self.barrier.directory):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.barrier.directory, name))
            with contextlib.suppress(OSError):
                os.rmdir(self.barrier.directory)


class _Stop(Exception):
    pass
