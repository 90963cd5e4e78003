"""The sync protocol delivers the latest state of every entry over a lossy link."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routerha.ctsync.protocol import (
    SEQ_MOD,
    Apply,
    BulkReceived,
    Op,
    PeerRestarted,
    ResyncRequested,
    Send,
    SyncError,
    SyncProtocol,
)


class Link:
    """Two protocol ends, a virtual clock, loss and reordering-free delay."""

    def __init__(self, loss=0.0, seed=0, jitter=0.0, duplicate=0.0, buffer=None, **options):
        self.rng = random.Random(seed)
        #: Datagrams that may wait for each end (its socket buffer); more are dropped.
        self.buffer = buffer
        self.most_waiting = 0
        self.loss = loss
        self.jitter = jitter
        self.duplicate = duplicate
        self.now = 0.0
        # Sessions from the seeded generator, not the global one: a run is repeatable
        # (the sessions decide where sequence numbers wrap round).
        self.ends = {
            name: SyncProtocol(first_sequence=self.rng.getrandbits(32), **options)
            for name in ("a", "b")
        }
        self.external = {"a": {}, "b": {}}
        self.events = {"a": [], "b": []}
        self.in_flight = []  # (arrival, to, datagram)

    def other(self, name):
        return "b" if name == "a" else "a"

    def handle(self, name, actions):
        for action in actions:
            if isinstance(action, Send):
                copies = 2 if self.rng.random() < self.duplicate else 1
                waiting = sum(1 for m in self.in_flight if m[1] == self.other(name))
                self.most_waiting = max(self.most_waiting, waiting + 1)
                if self.buffer is not None and waiting >= self.buffer:
                    continue  # the receiver's socket buffer is full
                for _ in range(copies):
                    if self.rng.random() >= self.loss:
                        arrival = self.now + 0.001 + self.rng.random() * self.jitter
                        self.in_flight.append((arrival, self.other(name), action.datagram))
            elif isinstance(action, Apply):
                cache = self.external[name]
                if action.op is Op.UPDATE:
                    cache[action.key] = action.state
                else:
                    cache.pop(action.key, None)
            else:
                self.events[name].append(action)

    def run(self, until):
        while self.now < until:
            self.now = round(self.now + 0.001, 6)
            arrived = [m for m in self.in_flight if m[0] <= self.now]
            self.in_flight = [m for m in self.in_flight if m[0] > self.now]
            for _, to, datagram in arrived:
                self.handle(to, self.ends[to].receive(datagram, self.now))
            for name, end in self.ends.items():
                if end.deadline() <= self.now:
                    self.handle(name, end.tick(self.now))


def drive(link, changes, seed):
    """Apply random updates/destroys at a, flushing as a daemon would."""
    rng = random.Random(seed)
    truth = {}
    a = link.ends["a"]
    link.handle("a", a.start(link.now))
    link.handle("b", link.ends["b"].start(link.now))
    for _ in range(changes):
        key = f"k{rng.randrange(300)}".encode()
        if rng.random() < 0.2 and key in truth:
            a.destroy(key)
            del truth[key]
        else:
            state = rng.randbytes(rng.randrange(1, 60))
            a.update(key, state)
            truth[key] = state
        if rng.random() < 0.3:
            link.handle("a", a.flush(link.now))
            link.run(link.now + 0.002)
    link.handle("a", a.flush(link.now))
    return truth


@pytest.mark.parametrize("loss", [0.0, 0.2, 0.5])
@pytest.mark.parametrize("seed", range(4))
def test_latest_state_of_every_entry_arrives_despite_loss(loss, seed):
    link = Link(loss=loss, seed=seed)
    truth = drive(link, 3000, seed)
    link.run(link.now + 10)
    assert link.external["b"] == truth
    # ...and the resend queue drains once everything is acknowledged.
    assert not link.ends["a"].unacked


def test_sequence_numbers_wrap_round_without_loss_of_state():
    # Both sessions start just before 2**32: the sequence numbers wrap mid-run.
    link = Link(loss=0.2, seed=11)
    for name in ("a", "b"):
        link.ends[name] = SyncProtocol(first_sequence=SEQ_MOD - 40)
    truth = drive(link, 3000, 11)
    link.run(link.now + 10)
    assert link.ends["a"].next_seq < 40_000  # it did wrap
    assert link.external["b"] == truth
    assert not link.ends["a"].unacked


@pytest.mark.parametrize("seed", range(3))
def test_reordering_and_duplicates_do_not_confuse_it(seed):
    link = Link(loss=0.2, seed=seed, jitter=0.02, duplicate=0.1)
    truth = drive(link, 3000, seed)
    link.run(link.now + 10)
    assert link.external["b"] == truth
    assert not link.ends["a"].unacked


def test_a_restarted_sender_is_recognised_by_its_new_session():
    link = Link(loss=0.0)
    drive(link, 200, 3)
    link.run(link.now + 2)
    link.ends["a"] = SyncProtocol(first_sequence=777)
    link.handle("a", link.ends["a"].start(link.now))
    link.run(link.now + 1)
    assert sum(isinstance(e, PeerRestarted) for e in link.events["b"]) == 2
    assert link.ends["b"].expected == 777


@pytest.mark.parametrize("hello", [True, False], ids=["hello", "hello-lost"])
@pytest.mark.parametrize("restart_at", [1000, 2_000_000], ids=["behind", "ahead"])
def test_a_restarted_peers_states_are_applied_whatever_its_new_sequence_numbers(restart_at, hello):
    # A new session starts at a random sequence number: behind the old session's
    # numbers in about half of real restarts. What the old session applied must not
    # make the new session's states look stale (the per-entry record is reset).
    receiver = SyncProtocol(first_sequence=5)
    old = SyncProtocol(first_sequence=1_000_000)
    receiver.receive(sends(old.start(0.0, resync=False))[0].datagram, 0.0)
    for i in range(3):
        old.update(b"k", b"old-%d" % i)
        for send in sends(old.flush(0.1 * i)):
            receiver.receive(send.datagram, 0.1 * i)
    restarted = SyncProtocol(first_sequence=restart_at)
    started = sends(restarted.start(1.0, resync=False))
    if hello:
        receiver.receive(started[0].datagram, 1.0)
    restarted.update(b"k", b"new")
    applied = [
        action
        for send in sends(restarted.flush(1.0))
        for action in receiver.receive(send.datagram, 1.0)
        if isinstance(action, Apply)
    ]
    assert applied == [Apply(Op.UPDATE, b"k", b"new")]
    assert receiver.stats["stale"] == 0


def test_nothing_is_resent_on_a_clean_link():
    link = Link(loss=0.0)
    drive(link, 2000, 1)
    link.run(link.now + 3)
    stats = link.ends["a"].stats
    assert stats["resent"] == 0 and stats["nacks_received"] == 0
    assert stats["acks_received"] > 0


def test_lost_tail_is_found_by_alive():
    link = Link(loss=0.0)
    link.handle("a", link.ends["a"].start(0.0))
    link.handle("b", link.ends["b"].start(0.0))
    link.run(0.01)
    a = link.ends["a"]
    a.update(b"k", b"v1")
    a.flush(link.now)  # dropped on the floor: never handed to the link
    link.run(link.now + 3)
    assert link.external["b"] == {b"k": b"v1"}
    assert link.ends["b"].stats["gaps"] == 1


def test_hello_and_resync_request_reach_the_peer():
    link = Link()
    link.handle("a", link.ends["a"].start(0.0))
    link.run(0.01)
    assert any(isinstance(e, PeerRestarted) for e in link.events["b"])
    assert any(isinstance(e, ResyncRequested) for e in link.events["b"])


@pytest.mark.parametrize("loss", [0.0, 0.3])
def test_bulk_sync_completes_only_when_every_message_arrived(loss):
    link = Link(loss=loss, seed=7)
    link.handle("b", link.ends["b"].start(0.0))
    link.run(0.01)
    entries = [(f"e{i}".encode(), bytes(40)) for i in range(5000)]
    link.handle("a", link.ends["a"].bulk(entries, link.now))
    link.run(link.now + 10)
    assert len(link.external["b"]) == 5000
    assert any(isinstance(e, BulkReceived) for e in link.events["b"])


def test_messages_respect_the_payload_size():
    end = SyncProtocol(payload_size=500, first_sequence=1)
    for i in range(100):
        end.update(f"key{i}".encode(), bytes(50))
    sends = [a for a in end.flush(0.0) if isinstance(a, Send)]
    assert len(sends) > 1 and all(len(s.datagram) <= 500 for s in sends)


def bulk_into_a_small_buffer(window: int, seconds: float, burst: int = 32) -> Link:
    """100,000 entries bulk-synced to a peer whose socket buffer holds 200 datagrams."""
    link = Link(buffer=200, window=window, burst=burst)
    link.handle("b", link.ends["b"].start(0.0))
    link.run(0.01)
    entries = [(i.to_bytes(40, "big"), bytes(40)) for i in range(100_000)]
    link.handle("a", link.ends["a"].bulk(entries, link.now))
    link.run(link.now + seconds)
    return link


def test_a_bulk_sync_paces_itself_to_the_window():
    # The window keeps the burst inside the buffer: everything arrives, nothing resent.
    link = bulk_into_a_small_buffer(window=128, seconds=5)
    assert len(link.external["b"]) == 100_000
    assert any(isinstance(e, BulkReceived) for e in link.events["b"])
    assert link.most_waiting <= 128
    assert link.ends["a"].stats["resent"] == 0
    assert not link.ends["a"].unacked and not link.ends["a"].pending


def test_without_a_window_the_same_bulk_overruns_the_buffer():
    # The counterpart of the test above: what the window prevents.
    link = bulk_into_a_small_buffer(window=1_000_000, seconds=0.005, burst=1_000_000)
    assert link.most_waiting > 200 and len(link.external["b"]) < 100_000


def test_changes_wait_while_the_window_is_shut_and_flow_when_it_opens():
    link = Link(window=2, payload_size=200)
    link.handle("a", link.ends["a"].start(0.0))
    link.handle("b", link.ends["b"].start(0.0))
    link.run(0.01)
    a = link.ends["a"]
    for i in range(100):
        a.update(f"key{i}".encode(), bytes(30))
    sends = [x for x in a.flush(link.now) if isinstance(x, Send)]
    assert len(sends) == 2 and a.pending  # two messages in flight, the rest waits
    link.handle("a", sends)
    link.run(link.now + 1)
    assert len(link.external["b"]) == 100 and not a.pending


def test_unbounded_backlog_turns_into_a_bulk_sync():
    end = SyncProtocol(max_unacked=100, window=1, first_sequence=1)
    for i in range(50):
        end.update(f"key{i}".encode(), b"x")
    end.flush(0.0)  # the one message the window allows; the peer never answers
    for i in range(150):
        end.update(f"more{i}".encode(), b"x")
    assert any(isinstance(a, ResyncRequested) for a in end.flush(1.0))
    assert not end.unacked and len(end.pending) == 0


def test_a_bulk_sync_larger_than_the_backlog_limit_is_not_dropped():
    end = SyncProtocol(max_unacked=100, window=1, first_sequence=1)
    end.bulk([(f"e{i}".encode(), b"x") for i in range(1000)], 0.0)
    end.update(b"late", b"x")
    assert not any(isinstance(a, ResyncRequested) for a in end.flush(1.0))
    assert end.bulk_source is not None  # still under way, read as the window opens


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_raises_only_sync_error_and_changes_nothing(data):
    end = SyncProtocol(first_sequence=1)
    before = (end.expected, set(end.missing))
    try:
        end.receive(data, 0.0)
    except SyncError:
        assert (end.expected, set(end.missing)) == before


def test_the_per_entry_sequence_record_stays_bounded_and_protects_the_latest_states():
    # Many entries changing within one window (a large table's bulk sync, or a flood
    # of keys): the record keeps about ``max_unacked`` of them, the latest.
    end = SyncProtocol(max_unacked=100, first_sequence=1)
    peer = SyncProtocol(first_sequence=5000, window=10**6, payload_size=300)
    for n in range(2000):
        peer.update(n.to_bytes(4, "big"), b"state")
    sends = []
    while peer.pending:  # a flush sends a few dozen messages a turn
        sends += [a.datagram for a in peer.flush(0.0) if isinstance(a, Send)]
    for datagram in sends:
        end.receive(datagram, 0.0)
        assert len(end.applied) <= end.max_unacked + 30  # a message's records at most
    assert (1999).to_bytes(4, "big") in end.applied
    # A late duplicate of the last message changes nothing.
    assert not [a for a in end.receive(sends[-1], 0.0) if isinstance(a, Apply)]


# A hostile peer: requests cost the sender a bounded multiple, records are checked -------


def protocol(rng, **options):
    """An end whose session comes from the test's seeded generator (tests/ctsync/conftest.py)."""
    return SyncProtocol(first_sequence=rng.getrandbits(32), **options)


def sends(actions):
    return [a for a in actions if isinstance(a, Send)]


def table(count):
    return [(i.to_bytes(40, "big"), bytes(40)) for i in range(count)]


def test_a_resync_flood_starts_one_bulk_sync_and_merges_the_rest(rng):
    master, peer = protocol(rng), protocol(rng)
    resync = sends(peer.request_resync(0.0))[0].datagram
    assert master.receive(resync, 0.0) == [ResyncRequested()]
    out = sends(master.bulk(table(20_000), 0.0))
    for i in range(249):
        out += sends(master.receive(resync, 0.001 * i))
    # Nobody acknowledges: one burst of the window went out, nothing more.
    assert len(out) <= master.burst
    assert master.stats["resyncs_received"] == 250 and master.stats["resyncs_merged"] == 249
    # The peer listened since the bulk sync began: no second one is owed.
    assert master.bulk_due is None


def test_resyncs_after_a_bulk_sync_wait_for_the_interval_and_merge_into_one(rng):
    master, peer = protocol(rng, bulk_interval=2.0), protocol(rng)
    resync = sends(peer.request_resync(0.0))[0].datagram
    master.receive(resync, 0.0)
    master.bulk(table(10), 0.0)  # small: sent at once, bulk sync over
    answers = [a for i in range(100) for a in master.receive(resync, 0.5 + i * 0.001)]
    assert not any(isinstance(a, ResyncRequested) for a in answers)
    assert master.deadline() <= 2.0
    later = master.tick(2.0) + master.tick(2.5)
    assert sum(isinstance(a, ResyncRequested) for a in later) == 1


def test_a_restarted_peer_gets_a_whole_bulk_sync_even_if_one_was_under_way(rng):
    master = protocol(rng, bulk_interval=2.0)
    old = protocol(rng)
    master.receive(sends(old.start(0.0))[0].datagram, 0.0)
    master.bulk(table(20_000), 0.0)  # under way for the old peer
    restarted = protocol(rng)
    for action in sends(restarted.start(1.0)):
        master.receive(action.datagram, 1.0)
    assert master.bulk_due == 2.0  # a new bulk sync once the running one is over


def nack(first, last, session):
    from routerha.ctsync.protocol import HEADER, MAGIC, RANGE, VERSION, Kind

    body = RANGE.pack(first, last)
    return HEADER.pack(MAGIC, VERSION, Kind.NACK, session, 0, len(body)) + body


def test_a_nack_for_what_was_never_sent_is_ignored_and_counted():
    master = SyncProtocol(first_sequence=1000)
    master.update(b"k", b"v")
    master.flush(0.0)  # sequence 1000
    assert sends(master.receive(nack(1001, 1500, 7), 0.1)) == []
    assert sends(master.receive(nack(10, 20, 7), 0.1)) == []
    assert master.dropped["nack_unsent"] == 2
    assert len(sends(master.receive(nack(1000, 1000, 7), 0.1))) == 1


def test_a_nack_flood_resends_each_message_once_per_retry_within_a_window_budget():
    master = SyncProtocol(first_sequence=0, window=128, nack_retry=0.2)
    for i in range(128 * 40):
        master.update(i.to_bytes(8, "big"), bytes(30))
    for _ in range(8):
        master.flush(0.0)
    assert len(master.sent) == 128
    resent = 0
    for i in range(30):  # 30 NACKs for everything in 50 ms
        resent += len(sends(master.receive(nack(0, 127, 7), 0.01 + i * 0.0017)))
    assert resent <= 128
    assert master.dropped["resend_too_soon"] > 0
    # ... and over a long flood, at most a window per nack_retry.
    resent = sum(len(sends(master.receive(nack(0, 127, 7), 1.0 + i * 0.01))) for i in range(100))
    assert resent <= 128 * (1.0 / 0.2 + 1)


def test_a_wide_nack_asks_for_a_bulk_sync_under_the_same_limit():
    master = SyncProtocol(first_sequence=0, max_gap=64)
    master.bulk(table(10), 0.0)
    first = master.receive(nack(0, 1000, 7), 0.1)
    again = master.receive(nack(0, 1000, 7), 0.2)
    assert first == [] and again == []  # a bulk sync began at 0.0: merged
    assert master.dropped["nack_too_wide"] == 2


def test_gaps_are_nacked_until_their_sum_passes_max_gap_then_a_bulk_sync_is_asked():
    from routerha.ctsync.protocol import Kind, parse

    sender = SyncProtocol(first_sequence=0, window=100)
    datagrams = []
    for i in range(15):
        sender.update(b"k%d" % i, b"v")
        datagrams += [send.datagram for send in sends(sender.flush(0.0))]
    receiver = SyncProtocol(first_sequence=0, max_gap=10)

    def kinds(seq):
        return [parse(send.datagram)[0] for send in sends(receiver.receive(datagrams[seq], 0.0))]

    assert kinds(0) == []
    # Two gaps of 5: each is NACKed, 10 missing in all (the cap is not passed).
    assert kinds(6) == [Kind.NACK] and kinds(12) == [Kind.NACK]
    assert len(receiver.missing) == 10
    # One more missing message passes the cumulative cap, though that gap alone is 1.
    assert kinds(14) == [Kind.RESYNC]
    assert not receiver.missing and receiver.resync_at is not None


def test_an_ack_for_what_was_never_sent_keeps_the_resend_queue():
    from routerha.ctsync.protocol import HEADER, MAGIC, RANGE, VERSION, Kind

    master = SyncProtocol(first_sequence=50)
    master.update(b"k", b"v")
    master.flush(0.0)
    body = RANGE.pack(900, 900)
    master.receive(HEADER.pack(MAGIC, VERSION, Kind.ACK, 7, 0, len(body)) + body, 0.1)
    assert master.unacked and master.dropped["ack_unsent"] == 1


def test_refused_records_change_nothing_but_are_counted_by_reason(rng):
    reasons = {b"bad": "bad_entry", b"far": "filtered"}
    receiver = protocol(rng, admit=lambda op, key, state: reasons.get(key))
    sender = protocol(rng)
    receiver.receive(sends(sender.start(0.0))[0].datagram, 0.0)
    for key in (b"bad", b"good", b"far"):
        sender.update(key, b"state")
    applied = []
    for datagram in sends(sender.flush(0.0)):
        applied += [a for a in receiver.receive(datagram.datagram, 0.0) if isinstance(a, Apply)]
    assert [a.key for a in applied] == [b"good"]
    assert receiver.dropped == {"bad_entry": 1, "filtered": 1}
    assert receiver.applied.keys() == {b"good"}


def test_oversized_records_and_datagrams_are_malformed(rng):
    from routerha.ctsync.protocol import HEADER, MAGIC, MAX_DATAGRAM, RECORD, VERSION, Kind

    def data(body):
        return HEADER.pack(MAGIC, VERSION, Kind.DATA, 1, 1, len(body)) + body

    end = protocol(rng)
    for datagram in (
        data(RECORD.pack(Op.UPDATE, 65, 0) + bytes(65)),
        data(RECORD.pack(Op.UPDATE, 8, 513) + bytes(521)),
        data(b"".join(RECORD.pack(Op.UPDATE, 1, 0) + b"k" for _ in range(257))),
        data(bytes(MAX_DATAGRAM)),
    ):
        with pytest.raises(SyncError):
            end.receive(datagram, 0.0)
    assert end.stats["malformed"] == 4 and end.peer_session is None


def test_a_large_flush_goes_in_bursts_and_asks_to_go_on_at_once(rng):
    end = protocol(rng, burst=4, window=128)
    end.bulk(table(5000), 0.0)
    assert end.stats["sent"] == 4 and end.deadline() == 0.0
    end.tick(0.0)
    assert end.stats["sent"] == 8


def test_a_forged_deletion_is_held_and_cancelled_by_the_owner_who_still_holds_the_entry(rng):
    from routerha.ctsync.protocol import HEADER, MAGIC, RECORD, VERSION, Confirm, Kind

    owner, backup = protocol(rng), protocol(rng, confirm_hold=1.0)
    internal = {b"k1": b"s1", b"k2": b"s2"}
    for datagram in sends(owner.start(0.0, resync=False)):
        backup.receive(datagram.datagram, 0.0)
    for key, state in internal.items():
        owner.update(key, state)
    cache = {}
    for datagram in sends(owner.flush(0.0)):
        for a in backup.receive(datagram.datagram, 0.0):
            if isinstance(a, Apply):
                cache[a.key] = a.state
    # A forger deletes both, in a session of its own.
    body = b"".join(RECORD.pack(Op.DESTROY, 2, 0) + k for k in internal)
    forged = HEADER.pack(MAGIC, VERSION, Kind.DATA, 99, 5, len(body)) + body
    answer = backup.receive(forged, 0.1)
    assert not [a for a in answer if isinstance(a, Apply)]
    queries = sends(answer)
    assert queries and backup.stats["queries_sent"] == 1
    # The owner still holds both: it sends their states again.
    confirm = [a for q in queries for a in owner.receive(q.datagram, 0.11)]
    assert confirm == [Confirm((b"k1", b"k2"))]
    for key in confirm[0].keys:
        owner.update(key, internal[key])
    for datagram in sends(owner.flush(0.12)):
        backup.receive(datagram.datagram, 0.12)
    assert backup.stats["destroys_contradicted"] == 2
    assert not [a for a in backup.tick(5.0) if isinstance(a, Apply)]


def test_a_deletion_nobody_contradicts_goes_through_after_the_hold(rng):
    owner, backup = protocol(rng), protocol(rng, confirm_hold=1.0)
    for datagram in sends(owner.start(0.0, resync=False)):
        backup.receive(datagram.datagram, 0.0)
    owner.update(b"k", b"s")
    for datagram in sends(owner.flush(0.0)):
        backup.receive(datagram.datagram, 0.0)
    owner.destroy(b"k")
    for datagram in sends(owner.flush(0.5)):
        assert not [a for a in backup.receive(datagram.datagram, 0.5) if isinstance(a, Apply)]
    assert backup.deadline() <= 1.5
    assert [a for a in backup.tick(1.5) if isinstance(a, Apply)] == [Apply(Op.DESTROY, b"k", b"")]


def test_requests_in_another_session_do_not_reset_what_the_receiver_expects(rng):
    receiver, sender = protocol(rng), protocol(rng)
    for datagram in sends(sender.start(0.0, resync=False)):
        receiver.receive(datagram.datagram, 0.0)
    sender.update(b"k", b"s")
    for datagram in sends(sender.flush(0.0)):
        receiver.receive(datagram.datagram, 0.0)
    expected, session = receiver.expected, receiver.peer_session
    forger = protocol(rng)
    for action in [*forger.request_resync(0.1), forger._nack(1, 2, 0.1)]:
        answer = receiver.receive(action.datagram, 0.1)
        assert not any(isinstance(a, PeerRestarted) for a in answer)
    assert (receiver.expected, receiver.peer_session) == (expected, session)


class LosesARun(Link):
    """A link that loses a's DATA messages number ``first`` to ``last`` (counted from 0),
    and an ``a`` that answers every request for a bulk sync with ``table``; records the
    size of b's external cache each time b reports a bulk sync complete."""

    def __init__(self, first, last, table, **options):
        super().__init__(**options)
        self.lose = range(first, last + 1)
        self.data_sent = 0
        self.table = table
        self.complete_with = []

    def handle(self, name, actions):
        from routerha.ctsync.protocol import Kind, parse

        kept = []
        for action in actions:
            if name == "a" and isinstance(action, Send) and parse(action.datagram)[0] is Kind.DATA:
                self.data_sent += 1
                if self.data_sent - 1 in self.lose:
                    continue
            if name == "b" and isinstance(action, BulkReceived):
                self.complete_with.append(len(self.external["b"]))
            kept.append(action)
        super().handle(name, kept)
        if name == "a" and any(isinstance(a, ResyncRequested) for a in actions):
            super().handle("a", self.ends["a"].bulk(self.table, self.now))


def test_a_bulk_sync_that_lost_more_than_max_gap_is_not_taken_for_complete():
    # Too much of the bulk is lost to NACK it piece by piece: the receiver gives the
    # gap up and asks for a new bulk sync. The end of the bulk it lost part of must
    # not count as complete (a restarted router would take over with entries
    # missing); the bulk sync asked for completes it.
    entries = table(5000)
    link = LosesARun(20, 60, entries, max_gap=16, seed=3)
    link.handle("b", link.ends["b"].start(0.0))
    link.run(link.now + 30)
    assert link.complete_with, "no bulk sync was ever reported complete"
    assert link.complete_with == [5000] * len(link.complete_with)
    assert len(link.external["b"]) == 5000
    assert link.ends["b"].stats["resync_requests"] >= 2
    assert link.ends["b"].stats["bulks_incomplete"] >= 1


def test_a_bulk_end_spliced_in_after_a_gap_was_given_up_completes_nothing(rng):
    # A sender (the peer, or whoever holds its session) that answers the receiver's
    # give-up with a bare BULK_END at once, in the next sequence number: the receiver
    # must not take its cache for whole; only a bulk sync sent after it completes.
    from routerha.ctsync.protocol import BULK_END_KEY, HEADER, MAGIC, RECORD, VERSION, Kind

    session = rng.getrandbits(32)
    receiver = protocol(rng, max_gap=4)

    def data(seq, records):
        body = b"".join(RECORD.pack(op, len(k), len(v)) + k + v for op, k, v in records)
        return HEADER.pack(MAGIC, VERSION, Kind.DATA, session, seq % SEQ_MOD, len(body)) + body

    receiver.receive(data(session, [(Op.UPDATE, b"k0", b"v")]), 0.0)
    # Ten messages never came: too many to NACK, a new bulk sync is asked for.
    asked = receiver.receive(data(session + 11, [(Op.UPDATE, b"k11", b"v")]), 0.1)
    assert any(isinstance(a, Send) for a in asked) and receiver.resync_at is not None
    spliced = receiver.receive(data(session + 12, [(Op.BULK_END, BULK_END_KEY, b"")]), 0.2)
    assert not any(isinstance(a, BulkReceived) for a in spliced)
    assert receiver.stats["bulks_incomplete"] == 1 and receiver.resync_at is not None
    # The bulk sync asked for: its end, with nothing missing before it, completes.
    done = receiver.receive(
        data(session + 13, [(Op.UPDATE, b"k0", b"w"), (Op.BULK_END, BULK_END_KEY, b"")]), 0.3
    )
    assert any(isinstance(a, BulkReceived) for a in done) and receiver.resync_at is None
