"""Transition scripts: run without blocking the loop, in order per group, time-limited.

Called as keepalived calls notify scripts, so existing scripts keep working:
``PROGRAM INSTANCE NAME STATE`` for a group and ``PROGRAM GROUP NAME STATE`` for a
sync group, STATE one of MASTER, BACKUP, FAULT, STOP.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("routerhad")

#: A script still running after this many seconds is killed.
SCRIPT_TIMEOUT = 30.0


class ScriptQueue:
    """Runs one owner's scripts one after another, so they see states in order."""

    def __init__(self, timeout: float = SCRIPT_TIMEOUT) -> None:
        self.timeout = timeout
        self.queue: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
        self.task: asyncio.Task | None = None

    def submit(self, *argv: str) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._work())
        self.queue.put_nowait(argv)

    async def _work(self) -> None:
        while not self.queue.empty():
            await run_script(self.queue.get_nowait(), self.timeout)

    async def drain(self) -> None:
        if self.task is not None:
            await self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def run_script(argv: tuple[str, ...], timeout: float, quiet: bool = False) -> int | None:
    """Run ``argv``; its output goes to the log. Returns the exit code, None if killed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as error:
        log.error("script %s: %s", argv[0], error)
        return None
    try:
        output, _stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        log.error("script %s: killed after %.0f s", " ".join(argv), timeout)
        return None
    text = output.decode(errors="replace").strip()
    if proc.returncode == 0:
        level = logging.DEBUG if quiet else logging.INFO
    else:
        level = logging.WARNING
    log.log(
        level, "script %s: exit %s%s", " ".join(argv), proc.returncode, f": {text}" if text else ""
    )
    return proc.returncode
