# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shell scripts that drive a VyOS / EdgeOS configuration session, and the masking of
the passwords in what is shown of it. Controller-side; the scripts are POSIX sh, so
they run on routers where Ansible cannot run Python.

A session belongs to the shell that opened it: ``vyatta-cfg-cmd-wrapper`` finds it by
its parent's PID, so ``begin`` ... ``end`` must run in one shell, started under the
``vyattacfg`` group (``sg vyattacfg``; VyOS refuses configuration sessions run
through sudo as root, since they leave root-owned files in the config tree).
"""

from __future__ import annotations

import os
import re
import shlex

from ansible_collections.routerha.cluster.plugins.module_utils.masking import (
    mask_config_passwords,
    secret_token,
)

#: The marker lines the scripts print, read back by :func:`outcome`.
DONE = "routerha: done"
FAILED = "routerha: failed:"
_PASSWORD_LINE = re.compile(r"^((?:set|delete)\s.*\bpassword\s+)(\S+)\s*$")


def quote_command(command: str) -> str:
    """A ``set ...`` / ``delete ...`` line as shell words for the wrapper.

    The line is split as VyOS's own parser splits it (single-quoted values keep
    their spaces); every word is quoted again for sh.
    """
    return " ".join(shlex.quote(word) for word in shlex.split(command))


def session_script(
    wrapper: str,
    commands: list[str],
    *,
    commit: str = "commit",
    save: bool = False,
) -> str:
    """begin, the commands, ``commit`` (``commit``, ``commit-confirm N`` or
    ``confirm``), optionally ``save``, end. Any failing step discards the session's
    changes, ends it and exits non-zero, printing FAILED and the step."""
    w = shlex.quote(wrapper)
    lines = [
        "set -u",
        f"W={w}",
        'fail() { echo "' + FAILED + ' $1" >&2; "$W" discard >/dev/null 2>&1; '
        '"$W" end >/dev/null 2>&1; exit 1; }',
        '"$W" begin || fail begin',
    ]
    for command in commands:
        words = quote_command(command)
        lines.append(f'"$W" {words} || fail {shlex.quote(command_label(command))}')
    lines.append(f'"$W" {commit} || fail {shlex.quote(commit)}')
    if save:
        lines.append('"$W" save || fail save')
    lines += ['"$W" end || fail end', f'echo "{DONE}"']
    return "\n".join(lines) + "\n"


def run_in_group(script: str, group: str) -> str:
    """A command line that runs ``script`` in one sh under ``group`` (sg), the
    script passed on standard input so no file is left behind."""
    marker = "ROUTERHA_SESSION_EOF"
    return f"sg {shlex.quote(group)} -c 'sh -s' <<'{marker}'\n{script}{marker}\n"


#: Seconds a member may reach the agreed moment late and still commit: its commit
#: then still falls in the others' second. Later, the group would be split for as
#: long as it is late, so it must not commit at all.
LATE_TOLERANCE = 0.5


def at_moment(script: str, at: float, tolerance: float = LATE_TOLERANCE) -> str:
    """``script``, first waiting on the router until the wall-clock time ``at``
    (seconds since the epoch, the router's clock). It runs in the foreground: each
    member's worker holds its connection until its commit is done, so nothing is
    left behind on the router (a detached job may die with the SSH session).

    A member that reaches the moment more than ``tolerance`` seconds late (its
    worker started late: too few forks, a slow connection) does not run the script:
    it prints FAILED with how late it was and exits non-zero, and nothing changes."""
    wait = (
        f'now=$(date +%s.%N); delay=$(awk -v a={at:.3f} -v n="$now" '
        "'BEGIN { printf \"%.3f\", a - n }')\n"
        f"if awk -v d=\"$delay\" 'BEGIN {{ exit !(d < -{tolerance:.3f}) }}'; then\n"
        f'  echo "{FAILED} late by ${{delay#-}} s for the moment {at:.3f}, '
        f'more than the {tolerance:g} s allowed: not committed" >&2; exit 1\n'
        "fi\n"
        'awk -v d="$delay" \'BEGIN { exit !(d > 0) }\' && sleep "$delay"'
    )
    return f"{wait}\n{script}"


def command_label(command: str) -> str:
    """The command as shown in errors and results: its password, if any, hidden."""
    return _PASSWORD_LINE.sub(r"\1********", command)


class Masker:
    """Shows each password as ``<secret HMAC>`` (masking.secret_token), keyed afresh
    per instance: within one result a changed password can be told from an
    unchanged one, and nothing of it can be recovered."""

    def __init__(self) -> None:
        self._key = os.urandom(16)

    def token(self, value: str) -> str:
        return secret_token(value, self._key)

    def config(self, data: dict) -> dict:
        """A configuration's plain data with its passwords as tokens (in place)."""
        return mask_config_passwords(data, self._key)

    def line(self, command: str) -> str:
        match = _PASSWORD_LINE.match(command)
        if not match:
            return command
        value = shlex.split(match.group(2))[0] if match.group(2) else ""
        return match.group(1) + self.token(value)

    def lines(self, commands: list[str]) -> list[str]:
        return [self.line(command) for command in commands]


def outcome(stdout: str, stderr: str) -> tuple[bool, str]:
    """(succeeded, the failing step or '') of a session script's output."""
    for line in (stderr or "").splitlines():
        if line.startswith(FAILED):
            return False, line[len(FAILED) :].strip()
    return DONE in (stdout or ""), ""
