"""Health checks: a script (exit 0 is healthy) or a ping, every ``interval`` seconds.

``failure_count`` failures in a row make the check failed; one success makes it
healthy again. Each check runs as its own task and never blocks the loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from routerha.model.vrrp import HealthCheck

from .scripts import run_script

log = logging.getLogger("routerhad")


class CheckRunner:
    def __init__(self, name: str, check: HealthCheck, changed: Callable[[bool], None]) -> None:
        self.name = name
        self.check = check
        self.changed = changed
        self.failed = False
        self.failures = 0
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def argv(self) -> tuple[str, ...]:
        if self.check.script is not None:
            return (self.check.script,)
        return ("ping", "-n", "-q", "-c", "1", "-W", "1", str(self.check.ping))

    async def _loop(self) -> None:
        # A check may take at most its interval; a hung one counts as failed.
        timeout = max(1.0, float(self.check.interval))
        while True:
            code = await run_script(self.argv(), timeout, quiet=True)
            self.record(code == 0)
            await asyncio.sleep(self.check.interval)

    def record(self, healthy: bool) -> None:
        self.failures = 0 if healthy else self.failures + 1
        failed = self.failures >= self.check.failure_count
        if failed != self.failed:
            self.failed = failed
            log.warning("health check of %s %s", self.name, "failed" if failed else "recovered")
            self.changed(failed)
