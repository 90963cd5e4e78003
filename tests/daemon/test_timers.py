"""The service's timers (routerha.daemon.timers): deadlines on one loop timer.

A deadline moved later is only written down; the loop wakes for the earliest
deadline that really expires, and each timer expires once, at its last deadline,
never before it (less the slack the loop wakes early by)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

from routerha.daemon.timers import Timers

SLACK = 0.0015


def run(scenario: Any) -> tuple[list[tuple[Hashable, float, float]], Timers]:
    """Run ``scenario(timers, loop)``: (key, deadline, loop time) of each expiry."""

    async def main() -> tuple[list[tuple[Hashable, float, float]], Timers]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[Hashable, float, float]] = []
        timers = Timers(loop, lambda key, at: fired.append((key, at, loop.time())), SLACK)
        try:
            await scenario(timers, loop)
        finally:
            timers.close()
        return fired, timers

    return asyncio.run(main())


def test_deadlines_moved_later_by_adverts_wake_the_loop_a_few_times_not_per_advert() -> None:
    """Ten Master_Down_Timers of 30 ms, each pushed on every 5 ms for 0.5 s, the
    groups' adverts 0.5 ms apart: 1,000 moves, and none expires."""

    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        start = loop.time()
        for tick in range(1000):
            await asyncio.sleep(max(0.0, start + tick * 0.0005 - loop.time()))
            timers.schedule(("G", tick % 10), loop.time() + 0.03)

    fired, timers = run(scenario)
    assert fired == []
    # One wake-up per moved deadline would be about 160 (ten timers every 30 ms).
    assert timers.wakeups < 40


def test_a_timer_expires_once_at_its_last_deadline() -> None:
    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        for _step in range(5):
            timers.schedule("down", loop.time() + 0.02)
            await asyncio.sleep(0.005)
        timers.last = timers.deadlines["down"]  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)
        assert not timers.armed("down")

    fired, timers = run(scenario)
    assert [(key, at) for key, at, _now in fired] == [("down", timers.last)]  # type: ignore[attr-defined]
    assert fired[0][2] >= timers.last - SLACK  # type: ignore[attr-defined]


def test_a_deadline_moved_earlier_expires_at_the_earlier_time() -> None:
    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        start = loop.time()
        timers.schedule("down", start + 10.0)
        # A priority-0 advert: take over after Skew_Time only.
        timers.schedule("down", start + 0.01)
        await asyncio.sleep(0.05)
        assert loop.time() - start < 1.0

    fired, _timers = run(scenario)
    assert [key for key, _at, _now in fired] == ["down"]


def test_a_cancelled_timer_never_expires_even_after_it_moved() -> None:
    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        timers.schedule("down", loop.time() + 0.01)
        timers.schedule("down", loop.time() + 0.02)
        timers.cancel("down")
        await asyncio.sleep(0.04)

    assert run(scenario)[0] == []


def test_timers_expire_in_deadline_order_and_may_rearm_themselves() -> None:
    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        start = loop.time()
        timers.schedule("b", start + 0.02)
        timers.schedule("a", start + 0.01)
        timers.schedule("c", start + 0.03)
        await asyncio.sleep(0.05)

    fired, _timers = run(scenario)
    assert [key for key, _at, _now in fired] == ["a", "b", "c"]


def test_an_adver_timer_rearmed_from_its_expiry_keeps_its_period() -> None:
    ticks: list[float] = []

    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        def expired(key: Hashable, at: float) -> None:
            ticks.append(at)
            if len(ticks) < 20:
                timers.schedule(key, at + 0.01)

        timers.expired = expired
        timers.schedule("adver", loop.time() + 0.01)
        await asyncio.sleep(0.3)

    run(scenario)
    assert len(ticks) == 20
    assert all(abs(b - a - 0.01) < 1e-9 for a, b in zip(ticks, ticks[1:]))
