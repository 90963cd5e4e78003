"""The service's timers (Service._schedule and _fire): a deadline moved later keeps
the loop timer already armed, which wakes and arms itself again; the machine is
told a timer expired once, at its last deadline, never before it."""

from __future__ import annotations

import asyncio
import types
from typing import Any

from routerha.daemon.service import TIMER_SLACK, Service
from routerha.vrrp.events import Timer, TimerExpired


def run(scenario: Any) -> tuple[list[tuple[TimerExpired, float]], Any]:
    """Run ``scenario(service, runtime)``; what the machine was fed, and the runtime."""

    async def main() -> tuple[list[tuple[TimerExpired, float]], Any]:
        service = Service()
        fired: list[tuple[TimerExpired, float]] = []
        service._feed = lambda runtime, event, now: fired.append((event, now))  # type: ignore[method-assign]
        runtime = types.SimpleNamespace(handles={}, deadlines={})
        try:
            await scenario(service, runtime)
        finally:
            service.addresses.close()
            service.netlink.close()
        return fired, runtime

    return asyncio.run(main())


def test_a_deadline_moved_later_keeps_one_loop_timer_and_fires_once_at_the_last() -> None:
    loop_timers: list[int] = []

    async def scenario(service: Service, runtime: Any) -> None:
        start = service.loop.time()
        for step in range(10):
            # An advert every 5 ms pushes the Master_Down_Timer to 30 ms from now.
            service._schedule(runtime, Timer.MASTER_DOWN, service.loop.time() + 0.03)
            loop_timers.append(id(runtime.handles[Timer.MASTER_DOWN]))
            await asyncio.sleep(0.005)
            assert service.loop.time() - start < 0.2, step
        runtime.last = runtime.deadlines[Timer.MASTER_DOWN]
        await asyncio.sleep(0.06)
        assert not runtime.handles and not runtime.deadlines

    fired, runtime = run(scenario)
    assert fired == [(TimerExpired(Timer.MASTER_DOWN), fired[0][1])]
    assert fired[0][1] >= runtime.last
    # Fewer loop timers than deadlines: most adverts only wrote the new deadline.
    assert len(set(loop_timers)) < 5


def test_the_machine_is_told_the_deadline_never_a_moment_before_it() -> None:
    async def scenario(service: Service, runtime: Any) -> None:
        runtime.at = service.loop.time() + 0.02
        service._schedule(runtime, Timer.ADVER, runtime.at)
        await asyncio.sleep(0.04)

    fired, runtime = run(scenario)
    assert len(fired) == 1
    assert fired[0][1] >= runtime.at


def test_a_deadline_moved_earlier_replaces_the_loop_timer() -> None:
    async def scenario(service: Service, runtime: Any) -> None:
        now = service.loop.time()
        service._schedule(runtime, Timer.MASTER_DOWN, now + 10.0)
        first = runtime.handles[Timer.MASTER_DOWN]
        # A priority-0 advert: take over after Skew_Time only.
        service._schedule(runtime, Timer.MASTER_DOWN, now + 0.01)
        assert first.cancelled()
        assert runtime.handles[Timer.MASTER_DOWN].when() == now + 0.01 - TIMER_SLACK
        await asyncio.sleep(0.03)

    fired, _runtime = run(scenario)
    assert [event for event, _now in fired] == [TimerExpired(Timer.MASTER_DOWN)]


def test_a_cancelled_timer_never_fires_even_after_its_deadline_moved() -> None:
    async def scenario(service: Service, runtime: Any) -> None:
        now = service.loop.time()
        service._schedule(runtime, Timer.MASTER_DOWN, now + 0.01)
        service._schedule(runtime, Timer.MASTER_DOWN, now + 0.02)
        service._cancel(runtime, Timer.MASTER_DOWN)
        await asyncio.sleep(0.04)
        assert not runtime.handles and not runtime.deadlines

    assert run(scenario)[0] == []
