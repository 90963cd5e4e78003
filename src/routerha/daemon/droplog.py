"""Log lines about dropped datagrams, at most one per reason every few seconds.

A flood of forged datagrams must not become a flood of log lines (a full disk is
an outage of its own): the first drop of a reason is logged at once, later ones
are counted and summed up in the next line that reason gets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

#: Seconds between two lines about one reason.
INTERVAL = 10.0


class DropLog:
    def __init__(
        self, log: logging.Logger, clock: Callable[[], float], interval: float = INTERVAL
    ) -> None:
        self.log = log
        self.clock = clock
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def dropped(self, reason: str, source: str) -> None:
        now = self.clock()
        last = self._last.get(reason)
        if last is not None and now - last < self.interval:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return
        self._last[reason] = now
        more = self._suppressed.pop(reason, 0)
        self.log.warning(
            "sync link: dropped a datagram from %s: %s%s",
            source,
            reason.replace("_", " "),
            f" (and {more} more since the last such line)" if more else "",
        )
