"""The AH sequence numbers kept across restarts, in the state directory.

One JSON file, ``ah-sequence.json``, holds for each AH group (by interface and
VRID, its identity on the wire) the reservation for sending and the floor of each
source (``routerha.vrrp.ahsequence`` says why both). It is written whole to a
temporary file, fsynced, renamed over the old one and the directory fsynced: a
crash leaves the old file or the new one, never a mix. Writes run in a worker
thread, at most one per ``MIN_GAP`` seconds (a backup's floors move with every
advert); the reservation a restarted group needs is written before it sends.

The directory is created mode 0700 and locked (``routerhad.lock``) so that two
daemons never share it. Nothing here is created until a group uses AH.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from typing import Any

from routerha.errors import RouterhaError
from routerha.model.vrrp import AuthType, VrrpGroup
from routerha.vrrp.ahsequence import LIMIT, AhSequence

log = logging.getLogger("routerhad")

DEFAULT_STATE_DIR = "/var/lib/routerhad"
STATE_FILE = "ah-sequence.json"
LOCK_FILE = "routerhad.lock"
FORMAT = 1
#: Seconds between writes while floors keep moving.
MIN_GAP = 1.0


class StateError(RouterhaError):
    """The state directory or file cannot be used."""


def uses_ah(group: VrrpGroup) -> bool:
    auth = group.authentication
    return group.version == 2 and auth is not None and auth.type is AuthType.AH


def state_key(group: VrrpGroup) -> str:
    return f"{group.interface}/{group.vrid}"


class AhStateKeeper:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, STATE_FILE)
        self.sequences: dict[str, AhSequence] = {}
        self._saved: dict[str, Any] = {}
        self._lock_fd: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.write_errors = 0

    async def open(self) -> None:
        """Create and lock the directory, read the file (in a worker thread)."""
        loop = asyncio.get_running_loop()
        self._saved = await loop.run_in_executor(None, self._open)
        self._task = loop.create_task(self._writer())

    def _open(self) -> dict[str, Any]:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            info = os.lstat(self.directory)
        except OSError as error:
            raise StateError(f"state directory {self.directory}: {error.strerror}") from error
        if not os.path.isdir(self.directory) or os.path.islink(self.directory):
            raise StateError(f"state directory {self.directory} is not a directory")
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise StateError(
                f"state directory {self.directory} must be owned by this user and writable "
                "by nobody else"
            )
        fd = os.open(
            os.path.join(self.directory, LOCK_FILE),
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            raise StateError(
                f"state directory {self.directory} is in use by another routerhad"
            ) from error
        self._lock_fd = fd
        return _read(self.path)

    def sequence(self, group: VrrpGroup) -> AhSequence:
        """The group's sequence, restored from the file (above its reservation)."""
        key = state_key(group)
        if key not in self.sequences:
            saved = self._saved.get(key)
            if saved is None:
                sequence = AhSequence()
                sequence.reserved = 0
                sequence.dirty = True
            else:
                sequence = AhSequence.restored(saved["reserved"], saved["accepted"])
            self.sequences[key] = sequence
        return self.sequences[key]

    def forget(self, keys: set[str]) -> None:
        """Stop writing the sequences of groups that are gone (their lines stay)."""
        for key in [k for k in self.sequences if k not in keys]:
            self._saved[key] = _entry(*self.sequences.pop(key).snapshot())

    def note(self, sequence: AhSequence) -> None:
        """Called after a send or an accepted advert: wake the writer if needed."""
        if sequence.dirty and not self._wake.is_set():
            self._wake.set()

    async def flush(self) -> None:
        """Write now and wait for it (before a restored group's first send). The
        snapshot is taken here, on the loop; only the file work runs in a thread."""
        snapshots = {}
        for key, sequence in self.sequences.items():
            sequence.dirty = False
            snapshots[key] = sequence.snapshot()
        data = dict(self._saved)
        data.update({key: _entry(*snap) for key, snap in snapshots.items()})
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, _write, self.path, {"format": FORMAT, "groups": data})
        except OSError as error:
            self.write_errors += 1
            for sequence in self.sequences.values():
                sequence.dirty = True
            if self.write_errors in (1, 10, 100) or self.write_errors % 1000 == 0:
                log.error(
                    "%s: cannot write AH sequence state (%d failures so far): %s",
                    self.path,
                    self.write_errors,
                    error.strerror,
                )
            return
        self._saved = data
        for key, (reserved, _accepted) in snapshots.items():
            sequence = self.sequences.get(key)
            if sequence is not None:
                sequence.persisted(reserved)

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(MIN_GAP)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await self.flush()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _entry(reserved: int, accepted: dict[str, int]) -> dict[str, Any]:
    return {"reserved": reserved, "accepted": accepted}


def _read(path: str) -> dict[str, Any]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StateError(f"{path}: cannot be read: {error.strerror}") from error
    with os.fdopen(fd, encoding="utf-8") as handle:
        text = handle.read(1 << 20)
    try:
        data = json.loads(text)
        groups = data["groups"]
        if data.get("format") != FORMAT or not isinstance(groups, dict):
            raise ValueError("unknown format")
        return {key: _valid(entry) for key, entry in groups.items()}
    except (ValueError, KeyError, TypeError) as error:
        raise StateError(
            f"{path} is damaged ({error}); remove it to start the AH sequence numbers "
            "afresh (peers then refuse this router's adverts until they hear it as master)"
        ) from error


def _valid(entry: Any) -> dict[str, Any]:
    reserved = entry["reserved"]
    accepted = entry["accepted"]
    if not isinstance(reserved, int) or not 0 <= reserved <= LIMIT:
        raise ValueError(f"reservation {reserved!r}")
    if not isinstance(accepted, dict) or not all(
        isinstance(v, int) and 0 <= v <= LIMIT for v in accepted.values()
    ):
        raise ValueError("floors")
    return _entry(reserved, {str(k): v for k, v in accepted.items()})


def _write(path: str, data: dict[str, Any]) -> None:
    directory = os.path.dirname(path)
    temporary = f"{path}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temporary, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
