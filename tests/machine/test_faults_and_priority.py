"""What the RFC leaves open, done as keepalived and VyOS do: FAULT, effective
priority, preempt_delay, the address owner and stale timers."""

from __future__ import annotations

import pytest

from routerha.vrrp.events import (
    AdvertReceived,
    FaultCleared,
    FaultRaised,
    PriorityChanged,
    RemoveAddresses,
    Shutdown,
    Startup,
    State,
    Timer,
    TimerExpired,
    interface_down,
    interface_up,
)
from tests.machine.helpers import (
    PEER_HIGHER,
    PEER_LOWER,
    as_master,
    deadline,
    machine,
    of,
    sent_priorities,
    started,
    transitions,
)


def test_link_down_as_master_sends_priority_zero_and_goes_fault():
    m = as_master()
    actions = m.handle(interface_down(), 5.0)
    assert transitions(actions) == [("MASTER", "FAULT")]
    assert sent_priorities(actions) == [0]
    assert of(actions, RemoveAddresses)
    assert m.timers == {}


def test_link_up_after_fault_starts_again_as_backup():
    m = as_master()
    m.handle(interface_down(), 5.0)
    actions = m.handle(interface_up(), 6.0)
    assert transitions(actions) == [("FAULT", "BACKUP")]
    assert Timer.MASTER_DOWN in m.timers


def test_fault_stays_until_every_reason_is_cleared():
    m = started()
    m.handle(FaultRaised("link"), 1.0)
    m.handle(FaultRaised("health-check"), 1.5)
    assert m.handle(FaultCleared("link"), 2.0) == []
    assert m.state is State.FAULT
    assert transitions(m.handle(FaultCleared("health-check"), 3.0)) == [("FAULT", "BACKUP")]


def test_fault_before_startup_starts_in_fault():
    m = machine()
    assert m.handle(interface_down(), 0.0) == []
    assert transitions(m.handle(Startup(), 1.0)) == [("INIT", "FAULT")]


def test_adverts_are_ignored_in_fault_and_init():
    m = machine()
    assert m.handle(AdvertReceived(PEER_HIGHER, 200, 100), 0.0) == []
    m.handle(Startup(), 0.0)
    m.handle(interface_down(), 1.0)
    assert m.handle(AdvertReceived(PEER_HIGHER, 200, 100), 2.0) == []


def test_priority_drop_as_master_is_advertised_at_once():
    m = as_master(priority=200)
    actions = m.handle(PriorityChanged(150), 5.0)
    assert sent_priorities(actions) == [150]
    assert deadline(actions, Timer.ADVER) == pytest.approx(6.0)
    # ...and a backup at 180 now preempts: the advert at 150 is discarded by it.
    peer = started(priority=180)
    assert peer.handle(AdvertReceived(PEER_LOWER, 150, 100), 5.0) == []


def test_effective_priority_is_kept_within_1_and_254():
    m = started(priority=100)
    m.handle(PriorityChanged(300), 1.0)
    assert m.priority == 254
    m.handle(PriorityChanged(-50), 2.0)
    assert m.priority == 1


def test_address_owner_ignores_tracking_weights():
    m = started(priority=255)
    assert m.handle(PriorityChanged(200), 1.0) == []
    assert m.priority == 255


def test_preempt_delay_accepts_lower_priority_master_until_it_has_passed():
    m = started(priority=200, preempt_delay=30)
    # Within 30 s of startup the lower-priority master is accepted...
    actions = m.handle(AdvertReceived(PEER_LOWER, 100, 100), 10.0)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(13.0 + 56 / 256)
    # ...after it, its adverts are discarded and this router takes over.
    assert m.handle(AdvertReceived(PEER_LOWER, 100, 100), 30.5) == []
    at = m.timers[Timer.MASTER_DOWN]
    assert transitions(m.handle(TimerExpired(Timer.MASTER_DOWN), at)) == [("BACKUP", "MASTER")]


def test_preempt_delay_restarts_when_leaving_fault():
    m = started(priority=200, preempt_delay=10)
    m.handle(interface_down(), 50.0)
    m.handle(interface_up(), 60.0)
    assert m.handle(AdvertReceived(PEER_LOWER, 100, 100), 65.0) != []  # accepted
    assert m.handle(AdvertReceived(PEER_LOWER, 100, 100), 70.5) == []  # preempting


def test_cancelled_timer_firing_late_does_nothing():
    m = as_master()
    m.handle(AdvertReceived(PEER_HIGHER, 254, 100), 5.0)
    assert m.state is State.BACKUP
    assert m.handle(TimerExpired(Timer.ADVER), 5.5) == []


def test_garp_second_burst_and_refresh_while_master():
    m = as_master(garp={"master_delay": 5, "master_repeat": 3, "master_refresh": 60})
    start = m.timers[Timer.GARP_DELAY] - 5
    burst = m.handle(TimerExpired(Timer.GARP_DELAY), start + 5)
    assert [a.count for a in burst if hasattr(a, "count")] == [3]
    refresh = m.handle(TimerExpired(Timer.GARP_REFRESH), start + 60)
    assert deadline(refresh, Timer.GARP_REFRESH) == pytest.approx(start + 120)


def test_shutdown_twice_is_harmless():
    m = as_master()
    m.handle(Shutdown(), 1.0)
    assert m.handle(Shutdown(), 2.0) == []


def test_held_preemption_accepts_a_lower_master_until_released():
    from routerha.vrrp.events import PreemptionHeld

    m = started(priority=200)
    m.handle(PreemptionHeld(True), 0.0)
    actions = m.handle(AdvertReceived(PEER_LOWER, 100, 100), 1.0)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(4.0 + 56 / 256)
    m.handle(PreemptionHeld(False), 2.0)
    assert m.handle(AdvertReceived(PEER_LOWER, 100, 100), 3.0) == []  # preempting again
