"""Every armed timer of the service's state machines, on one loop timer.

A backup's Master_Down_Timer moves later with every advert it receives: with ten
groups at 10 ms, a thousand times a second. Here a move later only writes the new
deadline down. The deadlines wait in one heap that may hold stale entries (a
deadline that has moved on since); the loop is woken for the earliest entry, and
a wake-up first moves stale entries to their current deadlines, so that the next
wake-up is for the earliest deadline that really expires. A backup hearing its
master is woken by its adverts, and by its timers a few times per
Master_Down_Interval for all groups together, never once per advert.

The loop timer wakes ``slack`` seconds early (epoll counts whole milliseconds, so
it would otherwise wake up to 1 ms late); a timer whose deadline is less than
``slack`` away then counts as expired, and its callback is told the deadline, not
the earlier time it ran.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Hashable
from typing import Callable

log = logging.getLogger("routerhad")

#: Superseded heap entries tolerated beyond twice the armed timers before a rebuild.
COMPACT_SLACK = 64


class Timers:
    """Deadlines by key; ``expired(key, deadline)`` is called when one passes."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        expired: Callable[[Hashable, float], None],
        slack: float,
    ) -> None:
        self.loop = loop
        self.expired = expired
        self.slack = slack
        #: key -> its deadline (only armed timers are here).
        self.deadlines: dict[Hashable, float] = {}
        #: (time, tie-breaker, key): a key's earliest entry is its live one.
        self._heap: list[tuple[float, int, Hashable]] = []
        #: key -> the time of its live heap entry (at or before its deadline).
        self._queued: dict[Hashable, float] = {}
        self._order = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = float("inf")
        #: Loop wake-ups so far (the tests count them).
        self.wakeups = 0

    def schedule(self, key: Hashable, at: float) -> None:
        self.deadlines[key] = at
        queued = self._queued.get(key)
        if queued is not None and queued <= at:
            return  # moved later: the live entry finds the new deadline when it is due
        self._push(key, at)
        if len(self._heap) > 2 * len(self.deadlines) + COMPACT_SLACK:
            # Entries superseded by earlier ones wait in the heap until due; deadlines
            # moved back and forth (hostile adverts can do that) must not pile them up.
            self._compact()
        if at < self._armed_for:
            self._arm(at)

    def cancel(self, key: Hashable) -> None:
        # Its heap entry stays until due, then finds no deadline and is dropped.
        self.deadlines.pop(key, None)

    def armed(self, key: Hashable) -> bool:
        return key in self.deadlines

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._armed_for = float("inf")
        self.deadlines.clear()
        self._heap.clear()
        self._queued.clear()

    def _compact(self) -> None:
        """One live entry per armed timer, at its deadline."""
        self._heap = [(at, next(self._order), key) for key, at in self.deadlines.items()]
        heapq.heapify(self._heap)
        self._queued = {key: at for at, _order, key in self._heap}
        if self._heap:
            self._arm(self._heap[0][0])

    def _push(self, key: Hashable, at: float) -> None:
        self._queued[key] = at
        heapq.heappush(self._heap, (at, next(self._order), key))

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_for = at
        self._handle = self.loop.call_at(at - self.slack, self._wake)

    def _wake(self) -> None:
        self._handle = None
        self._armed_for = float("inf")
        self.wakeups += 1
        now = self.loop.time()
        due: list[tuple[Hashable, float]] = []
        heap = self._heap
        while heap and heap[0][0] - self.slack <= now:
            at, _order, key = heapq.heappop(heap)
            if self._queued.get(key) != at:
                continue  # superseded by an earlier entry for the same key
            del self._queued[key]
            deadline = self.deadlines.get(key)
            if deadline is None:
                continue  # cancelled
            if deadline - self.slack > now:
                self._push(key, deadline)  # moved later meanwhile
                continue
            due.append((key, deadline))
        try:
            for key, deadline in due:
                if self.deadlines.get(key) != deadline:
                    continue  # cancelled or moved by an earlier timer's callback
                del self.deadlines[key]
                try:
                    # May schedule again (the Adver_Timer re-arms itself).
                    self.expired(key, deadline)
                except Exception:  # one group's failure must not stop the others' timers
                    log.exception("timer %s: its expiry failed", key)
        finally:
            self._settle()

    def _settle(self) -> None:
        """Move stale entries off the top, then wake for the earliest real deadline."""
        heap = self._heap
        while heap:
            at, _order, key = heap[0]
            if self._queued.get(key) != at:
                heapq.heappop(heap)
                continue
            deadline = self.deadlines.get(key)
            if deadline is None:
                heapq.heappop(heap)
                del self._queued[key]
                continue
            if deadline != at:
                heapq.heappop(heap)
                self._push(key, deadline)
                continue
            break
        if heap and heap[0][0] < self._armed_for:
            self._arm(heap[0][0])
