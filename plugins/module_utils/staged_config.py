# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A daemon's configuration file changed one step of a rollover at a time.

What routerhad_auth and keepalived_auth share: the file is replaced atomically with
its mode kept (0600 for a new one: it holds passwords), the first change of a
rollover keeps the previous file beside it for ``restore``, the last step removes
that copy, and a scheduled step waits for the agreed time before its reload;
``run_step`` is that whole flow, given the daemon-specific parts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

BACKUP_SUFFIX = ".rollover-backup"

#: The options every step module takes besides its daemon's own.
STEP_OPTIONS = {
    "type": {
        "type": "str",
        "choices": ["plaintext-password", "ah", "none"],
        "default": "plaintext-password",
    },
    "password": {"type": "str", "no_log": True},
    "at": {"type": "float"},
    "final": {"type": "bool", "default": False},
}
STEP_REQUIRED_IF = [("type", "plaintext-password", ["password"]), ("type", "ah", ["password"])]


def read_text(path):
    """The file as written (line ends kept)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def temporary_beside(path, text):
    """A new file in ``path``'s directory holding ``text`` with ``path``'s mode; its name."""
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o600
    fd, temporary = tempfile.mkstemp(
        prefix=".routerha-", dir=os.path.dirname(os.path.abspath(path))
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def replace(path, text):
    """Replace ``path`` with ``text`` atomically: a reader sees the old file or the new."""
    os.replace(temporary_beside(path, text), path)


def keep_backup(path):
    """Keep the file as it was before the rollover's first change (later steps keep that one)."""
    if not os.path.exists(path + BACKUP_SUFFIX):
        shutil.copy2(path, path + BACKUP_SUFFIX)


def has_backup(path):
    return os.path.exists(path + BACKUP_SUFFIX)


def restore_backup(path):
    os.replace(path + BACKUP_SUFFIX, path)


def forget_backup(path):
    if has_backup(path):
        os.unlink(path + BACKUP_SUFFIX)


def wait_until(at):
    """Sleep until ``at`` (seconds since the epoch; None: do not wait); how many
    seconds late this was already (0.0 when on time)."""
    if not at:
        return 0.0
    ahead = at - time.time()
    if ahead > 0:
        time.sleep(ahead)
        return 0.0
    return round(-ahead, 3)


def run_step(module, path, text, *, rewrite, describe, reload, status, errors=(), validate=None):
    """One rollover step on one member, as every step module runs it; exits the module.

    ``text``: the file as read. ``rewrite(text)``: the text this step writes (None
    or the same text: nothing to change). ``validate(new)``: fails the module if
    the new file could not run, before it replaces the old one. ``describe(text)``:
    where the member stands (after a restore: the restored file). ``reload(undo)``:
    reload the daemon, at the agreed time; ``undo()`` puts the previous file back
    if the daemon refuses. ``status()``: the daemon's live status. ``errors``:
    exceptions that mean the file or the request is wrong; the module then fails
    naming the file.
    """
    p = module.params
    previous = text
    result = {"changed": False}
    try:
        if p["operation"] == "restore":
            if has_backup(path):
                result["changed"] = True
                if not module.check_mode:
                    restore_backup(path)
                    text = read_text(path)
        else:
            new = rewrite(text)
            if new is not None and new != text:
                result["changed"] = True
                if not module.check_mode:
                    if validate is not None:
                        validate(new)
                    keep_backup(path)
                    replace(path, new)
                text = new
        standing = describe(text)
    except (OSError, *errors) as exc:
        module.fail_json(msg=f"{path}: {exc}")
    if result["changed"] and not module.check_mode:
        result["late"] = wait_until(p["at"])
        result["reload"] = reload(lambda: replace(path, previous))
    if p["final"] and not module.check_mode:
        forget_backup(path)
    result["standing"] = standing
    result["status"] = status()
    module.exit_json(**result)
