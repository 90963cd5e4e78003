"""The pid file, created so that nothing planted at its path is written through.

The file is opened with O_CREAT | O_EXCL | O_NOFOLLOW: a symbolic link at the path
(to /etc/shadow, say) is refused, never followed, and its target is untouched. A
file left by a dead routerhad is replaced: it must be a regular file holding one
pid of no running process; anything else is refused with what was found. The
directory, when routerhad creates it, is mode 0700.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from routerha.errors import RouterhaError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PidFileError(RouterhaError):
    """The pid file cannot be created safely."""


class PidFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self.created = False

    def create(self) -> None:
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        for _attempt in range(2):
            try:
                fd = os.open(self.path, _FLAGS, 0o644)
            except FileExistsError:
                self._remove_stale()
                continue
            except OSError as error:
                raise PidFileError(f"pid file {self.path}: {error.strerror}") from error
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(f"{os.getpid()}\n")
            self.created = True
            return
        raise PidFileError(f"pid file {self.path}: another process keeps creating it")

    def _remove_stale(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise PidFileError(f"pid file {self.path} is a symbolic link: refused, left as it is")
        if not stat.S_ISREG(info.st_mode):
            raise PidFileError(f"pid file {self.path} exists and is not a regular file")
        pid = _read_pid(self.path)
        if pid is None:
            raise PidFileError(f"pid file {self.path} exists and holds no pid: remove it")
        if pid != os.getpid() and _alive(pid):
            raise PidFileError(f"pid file {self.path}: routerhad already runs as pid {pid}")
        os.unlink(self.path)  # a dead process's: stale

    def remove(self) -> None:
        """Remove the file if it is still ours."""
        if self.created and _read_pid(self.path) == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.created = False


def _read_pid(path: str) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        text = handle.read(32)
    try:
        pid = int(text.strip())
    except ValueError:
        return None
    return pid if pid > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True
