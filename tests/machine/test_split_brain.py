"""Beyond RFC 5798: a split brain heals with the winner re-announcing itself, whichever
master hears the other first."""

from __future__ import annotations

from routerha.vrrp.events import (
    AdvertReceived,
    RemoveAddresses,
    SendAdvert,
    SendGratuitous,
    Startup,
    State,
    Timer,
    TimerExpired,
)
from routerha.vrrp.machine import VrrpMachine
from tests.machine.helpers import LOCAL, PEER_HIGHER, group, of, transitions


def masters() -> tuple[VrrpMachine, VrrpMachine]:
    """r1 (200, LOCAL) and r2 (100, PEER_HIGHER), both MASTER: a partition."""
    r1 = VrrpMachine(group(priority=200, version=3, advertise_interval=0.1), LOCAL)
    r2 = VrrpMachine(group(priority=100, version=3, advertise_interval=0.1), PEER_HIGHER)
    for m in (r1, r2):
        m.handle(Startup(), 0.0)
        m.handle(TimerExpired(Timer.MASTER_DOWN), m.timers[Timer.MASTER_DOWN])
        assert m.state is State.MASTER
    return r1, r2


def deliver(actions, source, to: VrrpMachine, now: float):
    """The adverts among ``actions`` arrive at ``to``; its actions."""
    out = []
    for send in of(actions, SendAdvert):
        out += to.handle(AdvertReceived(source, send.priority, 10), now)
    return out


def test_the_winner_hears_the_loser_first_and_re_announces():
    r1, r2 = masters()
    heard = deliver([SendAdvert("LAN", 100)], PEER_HIGHER, r1, 5.0)
    assert of(heard, SendGratuitous) and r1.state is State.MASTER
    yielded = deliver(heard, LOCAL, r2, 5.0)
    assert transitions(yielded) == [("MASTER", "BACKUP")]


def test_the_loser_hears_the_winner_first_and_its_last_advert_makes_it_re_announce():
    # The race that left the client on the loser's MAC: r2 yields before r1 heard it.
    r1, r2 = masters()
    yielded = deliver([SendAdvert("LAN", 200)], LOCAL, r2, 5.0)
    assert transitions(yielded) == [("MASTER", "BACKUP")]
    # Its last advert (own priority) leaves first: before the transition (which takes
    # a virtual MAC interface down) and before its addresses go.
    assert isinstance(yielded[0], SendAdvert)
    kinds = [type(a) for a in yielded if isinstance(a, (SendAdvert, RemoveAddresses))]
    assert kinds == [SendAdvert, RemoveAddresses]
    assert [a.priority for a in of(yielded, SendAdvert)] == [100]
    heard = deliver(yielded, PEER_HIGHER, r1, 5.0)
    assert of(heard, SendGratuitous), heard
    assert r1.state is State.MASTER
    # r2, now Backup, takes r1's answer as its master's advert: nothing more is sent.
    assert not of(deliver(heard, LOCAL, r2, 5.0), SendAdvert)
    assert r2.state is State.BACKUP and r2.master_address == LOCAL


def test_a_member_following_its_sync_group_to_backup_sends_a_last_advert_too():
    _r1, r2 = masters()
    actions = r2.follow(State.BACKUP, 5.0, "sync group")
    assert [a.priority for a in of(actions, SendAdvert)] == [100]
    assert r2.state is State.BACKUP
