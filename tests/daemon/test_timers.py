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


def test_timers_expire_in_deadline_order() -> None:
    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        start = loop.time()
        timers.schedule("b", start + 0.02)
        timers.schedule("a", start + 0.01)
        timers.schedule("c", start + 0.03)
        await asyncio.sleep(0.05)

    fired, _timers = run(scenario)
    assert [key for key, _at, _now in fired] == ["a", "b", "c"]


def test_an_adver_timer_rearmed_from_its_expiry_runs_on_time_each_period() -> None:
    ticks: list[tuple[float, float]] = []

    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        def expired(key: Hashable, at: float) -> None:
            ticks.append((at, loop.time()))
            if len(ticks) < 20:
                timers.schedule(key, at + 0.01)

        timers.expired = expired
        timers.schedule("adver", loop.time() + 0.01)
        await asyncio.sleep(0.3)

    run(scenario)
    assert len(ticks) == 20
    assert all(abs(b - a - 0.01) < 1e-9 for (a, _), (b, _) in zip(ticks, ticks[1:]))
    # Each ran no earlier than its deadline less the slack.
    assert all(now >= at - SLACK - 1e-6 for at, now in ticks)


def test_a_callback_that_raises_stops_neither_the_others_nor_later_timers() -> None:
    seen: list[Hashable] = []

    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        def expired(key: Hashable, at: float) -> None:
            seen.append(key)
            if key == "bad":
                raise RuntimeError("a broken group")

        timers.expired = expired
        now = loop.time()
        timers.schedule("bad", now + 0.01)
        timers.schedule("good", now + 0.01)
        await asyncio.sleep(0.02)
        timers.schedule("later", loop.time() + 0.01)
        await asyncio.sleep(0.03)

    run(scenario)
    assert seen == ["bad", "good", "later"]


def test_a_timer_cancelled_by_an_earlier_callback_of_the_same_wakeup_does_not_fire() -> None:
    seen: list[Hashable] = []

    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        def expired(key: Hashable, at: float) -> None:
            seen.append(key)
            if key == "first":
                timers.cancel("second")
                timers.schedule("third", at + 10.0)  # moved far: must not fire now

        timers.expired = expired
        now = loop.time()
        timers.schedule("first", now + 0.010)
        timers.schedule("second", now + 0.0105)
        timers.schedule("third", now + 0.011)
        await asyncio.sleep(0.03)

    run(scenario)
    assert seen == ["first"]


def test_cancel_then_schedule_again_fires_once_at_the_new_deadline() -> None:
    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        timers.start = now = loop.time()  # type: ignore[attr-defined]
        timers.schedule("down", now + 0.01)
        timers.cancel("down")
        timers.schedule("down", now + 0.03)
        timers.schedule("down", now + 0.02)  # earlier again
        await asyncio.sleep(0.05)

    fired, timers = run(scenario)
    assert [(key, at) for key, at, _now in fired] == [("down", timers.start + 0.02)]  # type: ignore[attr-defined]


def test_deadlines_moved_back_and_forth_by_hostile_adverts_keep_the_heap_bounded() -> None:
    """A priority-0 advert (take over after Skew_Time: the deadline moves close)
    followed by one of the longest interval (it moves far): each round leaves a
    superseded entry that would wait in the heap for minutes."""
    sizes: list[int] = []

    async def scenario(timers: Timers, loop: asyncio.AbstractEventLoop) -> None:
        for round_ in range(300):
            now = loop.time()
            timers.schedule("down", now + 0.0005)
            # Each far deadline a little earlier than the last: the superseded ones
            # are never the heap's first entry, which a wake-up tidies away anyway.
            timers.schedule("down", now + 100.0 - round_ * 0.01)
            await asyncio.sleep(0.001)
            sizes.append(len(timers._heap))

    fired, _timers = run(scenario)
    assert fired == []
    assert max(sizes) <= 2 + 64 + 2
