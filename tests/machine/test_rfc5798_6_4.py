"""One test per transition of RFC 5798 section 6.4.1 to 6.4.3, named after it.

A fake clock: every event carries ``now`` explicitly; deadlines are read from the
ScheduleTimer actions the machine returns.
"""

from __future__ import annotations

import ipaddress

import pytest

from routerha.vrrp.events import (
    AddAddresses,
    AdvertReceived,
    CancelTimer,
    RemoveAddresses,
    SendAdvert,
    SendGratuitous,
    Shutdown,
    Startup,
    State,
    Timer,
    TimerExpired,
)
from tests.machine.helpers import (
    LOCAL,
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


def backup(**settings):
    m = started(**settings)
    assert m.state is State.BACKUP
    return m


def master(**settings):
    return as_master(**settings)


def advert(source, priority, interval_cs=100):
    return AdvertReceived(source, priority, interval_cs)


# 6.4.1 Initialize ---------------------------------------------------------------


def test_6_4_1_startup_address_owner_sends_advert_garp_and_becomes_master():
    m = machine(priority=255)
    actions = m.handle(Startup(), 10.0)
    assert transitions(actions) == [("INIT", "MASTER")]
    assert sent_priorities(actions) == [255]
    assert of(actions, AddAddresses)
    assert [g.count for g in of(actions, SendGratuitous)] == [5]
    assert deadline(actions, Timer.ADVER) == pytest.approx(11.0)


def test_6_4_1_startup_non_owner_becomes_backup_with_master_down_timer():
    m = machine(version=3, priority=100, advertise_interval=0.5)
    actions = m.handle(Startup(), 10.0)
    assert transitions(actions) == [("INIT", "BACKUP")]
    assert m.master_adver_interval == 0.5  # Master_Adver_Interval = Advertisement_Interval
    # Master_Down_Interval = 3 * 0.5 + (256 - 100) * 0.5 / 256
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(10.0 + 1.5 + 156 * 0.5 / 256)
    assert not sent_priorities(actions)
    assert not of(actions, AddAddresses)


# 6.4.2 Backup -------------------------------------------------------------------


def test_6_4_2_backup_shutdown_cancels_master_down_timer_and_initializes():
    m = backup()
    actions = m.handle(Shutdown(), 1.0)
    assert transitions(actions) == [("BACKUP", "INIT")]
    assert [c.timer for c in of(actions, CancelTimer)] == [Timer.MASTER_DOWN]
    assert not sent_priorities(actions)


def test_6_4_2_backup_master_down_timer_fires_sends_advert_garp_and_becomes_master():
    m = backup(priority=150)
    actions = m.handle(TimerExpired(Timer.MASTER_DOWN), 3.5)
    assert transitions(actions) == [("BACKUP", "MASTER")]
    assert sent_priorities(actions) == [150]
    assert of(actions, AddAddresses) and of(actions, SendGratuitous)
    assert deadline(actions, Timer.ADVER) == pytest.approx(4.5)
    # The Transition comes first: the I/O layer commits synced state before addresses.
    assert actions.index(of(actions, AddAddresses)[0]) > 0


def test_6_4_2_backup_priority_zero_sets_master_down_timer_to_skew_time():
    m = backup(version=3, priority=100, advertise_interval=1)
    actions = m.handle(advert(PEER_HIGHER, 0), 5.0)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(5.0 + 156 / 256)
    assert m.state is State.BACKUP


def test_6_4_2_backup_higher_priority_resets_master_down_timer_and_learns_interval():
    m = backup(version=3, priority=100, advertise_interval=1)
    actions = m.handle(advert(PEER_HIGHER, 200, interval_cs=20), 5.0)
    assert m.master_adver_interval == pytest.approx(0.2)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(5.0 + 3 * 0.2 + 156 * 0.2 / 256)
    assert m.master_address == PEER_HIGHER


def test_6_4_2_backup_equal_priority_resets_master_down_timer():
    m = backup(priority=100)
    actions = m.handle(advert(PEER_LOWER, 100), 2.0)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(2.0 + 3 + 156 / 256)


def test_6_4_2_backup_preempt_false_accepts_lower_priority_master():
    m = backup(priority=200, preempt=False)
    actions = m.handle(advert(PEER_LOWER, 100), 2.0)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(2.0 + 3 + 56 / 256)
    assert m.master_address == PEER_LOWER


def test_6_4_2_backup_preempt_true_discards_lower_priority_and_takes_over():
    m = backup(priority=200)
    down_at = m.timers[Timer.MASTER_DOWN]
    assert m.handle(advert(PEER_LOWER, 100), 1.0) == []  # discarded: timer not reset
    assert m.timers[Timer.MASTER_DOWN] == down_at
    actions = m.handle(TimerExpired(Timer.MASTER_DOWN), down_at)
    assert transitions(actions) == [("BACKUP", "MASTER")]


# 6.4.3 Master -------------------------------------------------------------------


def test_6_4_3_master_shutdown_sends_priority_zero_removes_addresses_and_initializes():
    m = master()
    actions = m.handle(Shutdown(), 9.0)
    assert sent_priorities(actions) == [0]
    assert of(actions, RemoveAddresses)
    assert Timer.ADVER in [c.timer for c in of(actions, CancelTimer)]
    assert transitions(actions) == [("MASTER", "INIT")]


def test_6_4_3_master_adver_timer_fires_sends_advert_and_rearms():
    m = master(priority=100)
    at = m.timers[Timer.ADVER]
    actions = m.handle(TimerExpired(Timer.ADVER), at)
    assert sent_priorities(actions) == [100]
    assert deadline(actions, Timer.ADVER) == pytest.approx(at + 1.0)
    assert m.state is State.MASTER


def test_6_4_3_master_priority_zero_received_sends_advert_and_resets_adver_timer():
    m = master(priority=100)
    actions = m.handle(advert(PEER_HIGHER, 0), 7.25)
    assert sent_priorities(actions) == [100]
    assert deadline(actions, Timer.ADVER) == pytest.approx(8.25)
    assert m.state is State.MASTER


def test_6_4_3_master_higher_priority_received_becomes_backup():
    m = master(version=3, priority=100)
    actions = m.handle(advert(PEER_LOWER, 101, interval_cs=50), 8.0)
    assert transitions(actions) == [("MASTER", "BACKUP")]
    assert of(actions, RemoveAddresses)
    assert Timer.ADVER in [c.timer for c in of(actions, CancelTimer)]
    assert m.master_adver_interval == pytest.approx(0.5)
    assert deadline(actions, Timer.MASTER_DOWN) == pytest.approx(8.0 + 1.5 + 156 * 0.5 / 256)


def test_6_4_3_master_equal_priority_higher_address_received_becomes_backup():
    m = master(priority=100)
    actions = m.handle(advert(PEER_HIGHER, 100), 8.0)
    assert transitions(actions) == [("MASTER", "BACKUP")]


def _reannounced(actions) -> bool:
    """Beyond the RFC's discard: our advert and a gratuitous burst, nothing else."""
    return [type(a) for a in actions] == [SendAdvert, SendGratuitous]


def test_6_4_3_master_equal_priority_lower_address_received_is_discarded():
    m = master(priority=100)
    timers = dict(m.timers)
    assert _reannounced(m.handle(advert(PEER_LOWER, 100), 8.0))
    assert m.state is State.MASTER
    assert m.timers == timers  # discarded: no timer moved


def test_6_4_3_master_lower_priority_received_is_discarded():
    m = master(priority=100)
    timers = dict(m.timers)
    actions = m.handle(advert(PEER_HIGHER, 99), 8.0)
    assert _reannounced(actions)
    assert sent_priorities(actions) == [100]
    assert of(actions, SendGratuitous)[0].count == m.group.garp.master_repeat
    assert m.state is State.MASTER
    assert m.timers == timers


def test_master_reannounces_to_a_lower_master_twice_then_once_per_interval():
    # A flood of lower adverts (forged, or a peer after a partition) costs two adverts
    # and bursts, then one per Advertisement_Interval.
    m = master(priority=100, advertise_interval=1)
    assert _reannounced(m.handle(advert(PEER_HIGHER, 99), 8.0))
    assert _reannounced(m.handle(advert(PEER_HIGHER, 99), 8.001))
    flood = [m.handle(advert(PEER_HIGHER, 99), 8.002 + n * 0.01) for n in range(300)]
    answered = [n for n, actions in enumerate(flood) if actions]
    assert all(_reannounced(flood[n]) for n in answered)
    # 3 s of flood: one per interval once the two in a row are spent.
    assert len(answered) == 2, answered


def test_master_reannounces_again_at_once_after_a_new_mastership():
    m = master(priority=100, advertise_interval=1)
    m.handle(advert(PEER_HIGHER, 99), 8.0)
    m.handle(advert(PEER_HIGHER, 99), 8.0)
    m.handle(advert(PEER_HIGHER, 200), 8.1)  # yields
    m.handle(TimerExpired(Timer.MASTER_DOWN), m.timers[Timer.MASTER_DOWN])
    assert m.state is State.MASTER
    assert _reannounced(m.handle(advert(PEER_HIGHER, 99), m.timers[Timer.ADVER] - 0.5))


# Timers per version -------------------------------------------------------------


def test_vrrpv2_master_down_interval_uses_own_interval_and_one_second_skew():
    m = backup(version=2, priority=200, advertise_interval=2)
    m.handle(advert(PEER_HIGHER, 250, interval_cs=200), 0.0)
    assert m.skew_time == pytest.approx(56 / 256)
    assert m.master_down_interval == pytest.approx(6 + 56 / 256)


def test_vrrpv3_skew_scales_with_master_adver_interval():
    m = backup(version=3, priority=200, advertise_interval=0.01)
    assert m.skew_time == pytest.approx(56 * 0.01 / 256)
    assert m.master_down_interval == pytest.approx(0.03 + 56 * 0.01 / 256)


def test_ipv6_group_defaults_to_version_3():
    m = machine(address=["fe80::5/64"], primary=ipaddress.ip_address("fe80::1"))
    assert m.group.version == 3


def test_primary_address_of_the_other_family_is_refused():
    with pytest.raises(ValueError, match="family"):
        machine(address=["fe80::5/64"], primary=LOCAL)
