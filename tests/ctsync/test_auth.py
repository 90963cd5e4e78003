"""The sync link's authentication layer (routerha.ctsync.auth), sans-IO."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routerha.ctsync import auth
from routerha.ctsync.auth import HANDSHAKE_SIZE, Keys, SyncAuth
from routerha.ctsync.protocol import Apply, Send, SyncProtocol

KEY = b"k" * 32
NEW_KEY = b"n" * 32


def keys(send_id: int = 1, **extra: bytes) -> Keys:
    table = {1: KEY, 2: NEW_KEY}
    chosen = {i: table[i] for i in {send_id, *(int(k[1:]) for k in extra)}}
    return Keys(send_id=send_id, keys=chosen)


def layer(rng: random.Random, chosen: Keys | None = None) -> SyncAuth:
    """A layer whose nonces come from the test's seeded generator (tests/ctsync/conftest.py)."""
    return SyncAuth(chosen or keys(), random=rng.randbytes)


class Link:
    """Two layers wired back to back; ``captured`` keeps every datagram that crossed."""

    def __init__(
        self, rng: random.Random, a: SyncAuth | None = None, b: SyncAuth | None = None
    ) -> None:
        self.rng = rng
        self.ends = {"a": a or layer(rng), "b": b or layer(rng)}
        self.inbox: dict[str, list[bytes]] = {"a": [], "b": []}  # inner datagrams received
        self.captured: dict[str, list[bytes]] = {"a": [], "b": []}  # sent by each end
        self.now = 0.0

    def other(self, end: str) -> str:
        return "b" if end == "a" else "a"

    def deliver(self, sender: str, datagrams: list[bytes]) -> None:
        """Deliver, and the answers back, until the link is quiet."""
        queue = [(sender, d) for d in datagrams]
        while queue:
            source, datagram = queue.pop(0)
            self.captured[source].append(datagram)
            target = self.other(source)
            got = self.ends[target].receive(datagram, self.now)
            if got.inner is not None:
                self.inbox[target].append(got.inner)
            queue += [(target, d) for d in got.send]

    def start(self) -> None:
        for end in ("a", "b"):
            self.deliver(end, self.ends[end].start(self.now))

    def send(self, end: str, inner: bytes) -> None:
        self.deliver(end, self.ends[end].seal(inner, self.now))

    def restart(self, end: str, replacement: SyncAuth | None = None) -> None:
        self.ends[end] = replacement or layer(self.rng)
        self.deliver(end, self.ends[end].start(self.now))


def inner(n: int) -> bytes:
    """A well-formed SyncProtocol datagram (an ALIVE), different for each ``n``."""
    protocol = SyncProtocol(first_sequence=n)
    protocol.start(0.0, resync=False)
    return protocol.tick(5.0)[-1].datagram


def test_round_trip_both_ways(rng):
    link = Link(rng)
    link.start()
    link.send("a", inner(1))
    link.send("b", inner(2))
    assert link.inbox == {"b": [inner(1)], "a": [inner(2)]}
    status = link.ends["a"].status()
    assert status["send_state"] == "established" and status["receive_session"]
    assert sum(status["drops"].values()) == 0


def test_what_is_sent_before_the_handshake_is_held_and_then_delivered(rng):
    link = Link(rng)
    a, b = link.ends["a"], link.ends["b"]
    held = [a.seal(inner(n), 0.0) for n in range(3)]
    assert held == [[], [], []]
    link.deliver("a", a.start(0.0))  # a's REQUEST, b's CHALLENGE
    assert link.inbox["b"] == [inner(0), inner(1), inner(2)]
    link.deliver("b", b.seal(inner(9), 0.0))
    assert link.inbox["a"] == []  # b has not asked for a session yet
    link.deliver("b", b.start(0.0))
    assert link.inbox["a"] == [inner(9)]


def test_every_flipped_octet_is_dropped_and_counted(rng):
    link = Link(rng)
    link.start()
    link.send("a", inner(1))
    sealed = link.captured["a"][-1]
    b = link.ends["b"]
    before = dict(b.drops)
    for i in range(len(sealed)):
        for bit in (0x01, 0x80):
            forged = bytearray(sealed)
            forged[i] ^= bit
            assert b.receive(bytes(forged), 1.0).inner is None, f"octet {i} bit {bit:#x}"
    dropped = sum(b.drops.values()) - sum(before.values())
    assert dropped == 2 * len(sealed)
    assert b.counters["opened"] == 1


def test_a_replayed_datagram_is_dropped(rng):
    link = Link(rng)
    link.start()
    for n in range(5):
        link.send("a", inner(n))
    b = link.ends["b"]
    for datagram in link.captured["a"]:
        assert b.receive(datagram, 1.0).inner is None
    assert b.drops["replayed"] == 5
    assert link.inbox["b"] == [inner(n) for n in range(5)]


def test_counters_out_of_order_inside_the_window_are_taken_once(rng):
    a, b = layer(rng), layer(rng)
    link = Link(rng, a, b)
    link.start()
    sealed = [a.seal(inner(n), 0.0)[0] for n in range(10)]
    for datagram in reversed(sealed):
        assert b.receive(datagram, 0.0).inner is not None
    assert all(b.receive(d, 0.0).dropped == "replayed" for d in sealed)


def test_a_counter_behind_the_window_is_dropped(rng):
    a, b = layer(rng), layer(rng)
    Link(rng, a, b).start()
    old = a.seal(inner(0), 0.0)[0]
    for n in range(auth.WINDOW + 1):
        b.receive(a.seal(inner(n), 0.0)[0], 0.0)
    assert b.receive(old, 0.0).dropped == "replayed"


@pytest.mark.parametrize("restarted", ["receiver", "sender"])
def test_sniffed_datagrams_are_refused_after_a_restart(restarted, rng):
    link = Link(rng)
    link.start()
    for n in range(3):
        link.send("a", inner(n))
    sniffed = list(link.captured["a"])  # the handshake messages too
    link.restart("b" if restarted == "receiver" else "a")
    link.send("a", inner(7))
    assert link.inbox["b"][-1] == inner(7)
    b = link.ends["b"]
    opened = b.counters["opened"]
    for datagram in sniffed:
        got = b.receive(datagram, link.now)
        assert got.inner is None
    assert b.counters["opened"] == opened
    assert b.drops["stale_session"] >= 3  # the old session is over either way
    # The sniffed REQUESTs got challenges at most; nobody can use them.
    assert b.current is not None and b.current.challenge[:8] == link.ends["a"].send_session[:8]


def test_an_old_handshake_replayed_after_a_sender_restart_does_not_reopen_its_session(rng):
    link = Link(rng)
    link.start()
    link.send("a", inner(1))
    old_traffic = list(link.captured["a"])
    old_challenges = list(link.captured["b"])
    link.restart("a")
    link.send("a", inner(2))
    a_old = layer(rng)  # the attacker has no key state; it replays
    b = link.ends["b"]
    for datagram in old_traffic + old_challenges:
        got = b.receive(datagram, link.now + 1)
        assert got.inner is None
        for answer in got.send:
            assert len(answer) <= len(datagram)
    assert a_old.send_session is None
    assert link.inbox["b"] == [inner(1), inner(2)]


def test_a_peer_restart_renews_this_sides_session_without_loss(rng):
    link = Link(rng)
    link.start()
    first = link.ends["b"].send_session
    link.restart("a")
    assert link.ends["b"].send_session != first
    link.send("b", inner(3))
    assert link.inbox["a"] == [inner(3)]


def test_unknown_key_id_is_dropped_before_any_mac(rng):
    link = Link(rng)
    link.start()
    stranger = layer(rng, Keys(send_id=9, keys={9: KEY}))
    stranger.send_session = link.ends["a"].send_session  # even in the live session
    forged = stranger._seal(inner(1))
    b = link.ends["b"]
    assert b.receive(forged, 0.0).dropped == "unknown_key"
    assert b.receive(stranger.start(0.0)[0], 0.0).dropped == "unknown_key"


def test_another_key_under_a_known_id_fails_the_mac(rng):
    link = Link(rng)
    link.start()
    wrong = layer(rng, Keys(send_id=1, keys={1: b"w" * 32}))
    assert link.ends["b"].receive(wrong.start(0.0)[0], 0.0).dropped == "bad_mac"
    wrong.send_session = link.ends["a"].send_session
    assert link.ends["b"].receive(wrong._seal(inner(1)), 0.0).dropped == "bad_mac"


def test_plain_and_garbage_datagrams_are_unauthenticated_and_oversized_ones_too_big(rng):
    link = Link(rng)
    link.start()
    b = link.ends["b"]
    assert b.receive(inner(1), 0.0).dropped == "unauthenticated"
    assert b.receive(b"", 0.0).dropped == "unauthenticated"
    assert b.receive(b"x" * 100, 0.0).dropped == "unauthenticated"
    assert b.receive(b"x" * 2000, 0.0).dropped == "oversized"
    assert link.inbox["b"] == []


def test_sealed_datagrams_before_any_handshake_are_dropped(rng):
    a = layer(rng)
    a.send_session = b"s" * 16
    b = layer(rng)
    assert b.receive(a._seal(inner(1)), 0.0).dropped == "no_session"


def test_a_challenge_answering_no_request_is_refused(rng):
    link = Link(rng)
    link.start()
    challenge = link.captured["b"][0]
    assert len(challenge) == HANDSHAKE_SIZE
    a = link.ends["a"]
    session = a.send_session
    assert a.receive(challenge, 1.0).dropped == "unexpected_challenge"
    assert a.send_session == session


def test_a_staged_key_change_loses_nothing_and_keeps_the_sessions(rng):
    link = Link(rng)
    link.start()
    a, b = link.ends["a"], link.ends["b"]
    sessions = (a.send_session, b.send_session)
    sent = itertools.count()

    def traffic():
        for end in ("a", "b"):
            link.send(end, inner(next(sent)))

    traffic()
    for each in (a, b):  # 1. every member accepts the new key
        each.set_keys(keys(1, k2=NEW_KEY))
        traffic()
    for each in (a, b):  # 2. then sends with it
        each.set_keys(keys(2, k1=KEY))
        traffic()
    for each in (a, b):  # 3. then forgets the old one
        each.set_keys(keys(2))
        traffic()
    assert len(link.inbox["a"]) + len(link.inbox["b"]) == next(sent)
    assert (a.send_session, b.send_session) == sessions
    assert sum(a.drops.values()) + sum(b.drops.values()) == 0
    # The old key is refused now.
    old = layer(rng)
    assert b.receive(old.start(0.0)[0], 0.0).dropped == "unknown_key"


def test_a_key_sent_before_the_peer_accepts_it_is_dropped_as_unknown(rng):
    link = Link(rng)
    link.start()
    link.ends["a"].set_keys(keys(2, k1=KEY))
    link.send("a", inner(1))
    assert link.inbox["b"] == []
    assert link.ends["b"].drops["unknown_key"] == 1


def test_forged_handshakes_get_no_answer_and_replayed_ones_a_bounded_number(rng):
    link = Link(rng)
    link.start()
    link.send("a", inner(4))  # the first datagram settles the session (HELLO does, live)
    b = link.ends["b"]
    forged = bytearray(link.captured["a"][0])
    forged[5] ^= 1
    for i in range(1000):
        assert b.receive(bytes(forged), i * 0.001).send == []
    assert b.drops["bad_mac"] == 1000
    # Valid REQUESTs (replayed, or a hostile key holder): 10 s of a flood.
    requester = layer(rng)
    requests = [requester._request(0.0)[0] for _ in range(50)]
    answers = 0
    for i in range(10_000):
        got = b.receive(requests[i % len(requests)], i * 0.001)
        answers += sum(1 for d in got.send if len(d) == HANDSHAKE_SIZE)
        assert all(len(d) <= len(requests[0]) for d in got.send)
    assert answers <= auth.ANSWER_BURST + 10 * auth.ANSWER_RATE + 1
    assert b.drops["rate_limited"] >= 10_000 - answers - 50
    assert len(b.pending) <= auth.MAX_PENDING
    # The live session survived the flood.
    link.now = 10.0
    link.send("a", inner(5))
    assert link.inbox["b"] == [inner(4), inner(5)]


def test_an_unanswered_request_is_sent_again(rng):
    a = layer(rng)
    first = a.start(0.0)
    assert a.deadline() == auth.REQUEST_RETRY
    again = a.tick(auth.REQUEST_RETRY)
    assert again == first  # the same nonce: the peer does not take it for a restart


def test_keys_never_show_in_status_or_repr(rng):
    both = layer(rng, keys(1, k2=NEW_KEY))
    shown = repr(both.keys) + repr(both.status())
    assert "kkkk" not in shown and "nnnn" not in shown


class Router:
    """A SyncProtocol over a SyncAuth, with a table and an external cache."""

    def __init__(self, rng: random.Random, table: dict[bytes, bytes] | None = None) -> None:
        self.protocol = SyncProtocol(first_sequence=rng.getrandbits(32))
        self.layer = layer(rng)
        self.table = table or {}
        self.external: dict[bytes, bytes] = {}


def exchange(routers: dict[str, Router], wire: list[tuple[str, bytes]], now: float) -> None:
    """Carry datagrams (to the named router) until the link is quiet."""
    while wire:
        target, datagram = wire.pop(0)
        router, peer = routers[target], "b" if target == "a" else "a"
        got = router.layer.receive(datagram, now)
        wire += [(peer, d) for d in got.send]
        if got.inner is None:
            continue
        actions = router.protocol.receive(got.inner, now)
        while actions:
            action = actions.pop(0)
            if isinstance(action, Send):
                wire += [(peer, d) for d in router.layer.seal(action.datagram, now)]
            elif isinstance(action, Apply):
                router.external[action.key] = action.state
            elif action.__class__.__name__ == "ResyncRequested":
                actions += router.protocol.bulk(router.table.items(), now)


def begin(routers: dict[str, Router], name: str, now: float) -> None:
    peer = "b" if name == "a" else "a"
    router = routers[name]
    wire = [(peer, d) for d in router.layer.start(now)]
    for action in router.protocol.start(now):
        wire += [(peer, d) for d in router.layer.seal(action.datagram, now)]
    exchange(routers, wire, now)


def test_the_sync_protocol_runs_on_top_and_resyncs_after_a_restart(rng):
    """Two SyncProtocols over the layer: the table arrives; a restarted peer (HELLO,
    RESYNC, held until its handshake is done) gets it again."""
    table = {b"key-%d" % i: b"state" for i in range(100)}
    routers = {"a": Router(rng, table), "b": Router(rng)}
    begin(routers, "a", 0.0)
    begin(routers, "b", 0.0)
    assert routers["b"].external == table
    routers["b"] = Router(rng)
    # (A bulk sync starts at most every 2 s: the restarts come later than that.)
    begin(routers, "b", 3.0)
    assert routers["b"].external == table
    assert sum(routers["a"].layer.drops.values()) == 0
    routers["a"] = Router(rng, table)  # and the other one restarts
    begin(routers, "a", 6.0)
    assert routers["b"].external == table


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 255), st.binary(max_size=4)),
        max_size=6,
    ),
    st.integers(0, 5),
)
def test_mutated_datagrams_never_deliver_anything_new(mutations, which):
    """Whatever is done to captured datagrams, the receiver delivers only inner
    datagrams that were sealed, each at most once, and never raises."""
    rng = random.Random(0)  # the nonces are not what the examples vary
    link = Link(rng)
    link.start()
    originals = [inner(n) for n in range(6)]
    for datagram in originals:
        link.send("a", datagram)
    b = link.ends["b"]
    captured = link.captured["a"] + link.captured["b"]
    base = bytearray(captured[which % len(captured)])
    for position, value, insert in mutations:
        if base and position < len(base):
            base[position] = value
        base[position:position] = insert
    got = b.receive(bytes(base), 2.0)
    if got.inner is not None:
        assert got.inner in originals
    assert link.inbox["b"] == originals


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1600))
def test_arbitrary_octets_are_dropped(data):
    rng = random.Random(0)  # the nonces are not what the examples vary
    link = Link(rng)
    link.start()
    got = link.ends["b"].receive(data, 1.0)
    assert got.inner is None and got.dropped in auth.DROP_REASONS
