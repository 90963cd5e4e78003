"""Log lines that a peer or a local client can trigger are rate-limited.

A datagram dropped, a control connection refused, an error the event loop reports
for a socket: each may come thousands of times a second from whoever sends them.
``Throttle`` (a logging filter on the daemon's handler, so it covers every logger,
asyncio's included) lets ``burst`` lines of one kind (logger, level, message
template) through, then one per ``per_seconds``; the next line that passes says how
many of its kind were suppressed meanwhile. Memory is bounded too: at most
``max_kinds`` kinds are tracked (message templates are the program's, not the
peer's, but a formatted message used as a template would grow without bound).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Callable


class Throttle(logging.Filter):
    def __init__(
        self,
        *,
        burst: int = 10,
        per_seconds: float = 1.0,
        max_kinds: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.per_seconds = per_seconds
        self.max_kinds = max_kinds
        self.clock = clock
        #: kind -> [tokens, last refill time, suppressed since the last line]
        self._kinds: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()
        #: Lines suppressed in all (for tests and status).
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg)[:200])
        now = self.clock()
        state = self._kinds.get(kind)
        if state is None:
            state = [float(self.burst), now, 0.0]
            self._kinds[kind] = state
            if len(self._kinds) > self.max_kinds:
                self._kinds.popitem(last=False)
        else:
            self._kinds.move_to_end(kind)
            state[0] = min(float(self.burst), state[0] + (now - state[1]) / self.per_seconds)
            state[1] = now
        if state[0] < 1:
            state[2] += 1
            self.suppressed += 1
            return False
        state[0] -= 1
        if state[2]:
            record.msg = f"{record.msg} [{int(state[2])} more like this suppressed]"
            state[2] = 0
        return True


def install(handler: logging.Handler) -> Throttle:
    throttle = Throttle()
    handler.addFilter(throttle)
    return throttle
