"""Fuzzing of every layer that reads bytes off the sync link.

Each target below is fed the same kind of stream: valid datagrams of a sync peer
(``fuzzing.Peer``: real DATA carrying real entry and expectation states, and
control messages) and, mostly, mutations of them and arbitrary octets
(``fuzzing.Mutator``). A target may only answer with SyncError (a drop, counted)
or with a valid result; any other exception fails the test, naming the seed,
the datagram's number and its octets. ``SyncProtocol.receive`` is fed one long
stream through one receiver, so its state across datagrams is fuzzed too:

- a malformed datagram raises SyncError, counts it, and changes nothing else;
- an accepted one yields only valid actions: entries applied only from its own
  records and at most one per record, datagrams to send that parse and fit the
  payload size, no entry of ours queued that was not queued before;
- bounded work: the actions per datagram stay under a bound set by the
  protocol's limits (``send_bound``), its per-datagram state stays bounded
  (missing sequence numbers, per-entry sequence record), and the largest time
  one datagram took is printed (``pytest -s``).

Counts: ROUTERHA_FUZZ_EXAMPLES datagrams per target (3000 by default, as
tests/wire/test_properties.py uses the same variable), from ROUTERHA_FUZZ_SEED
(14 by default); e.g. outside CI::

    ROUTERHA_FUZZ_EXAMPLES=100000 pytest -s tests/ctsync/test_fuzz.py

The authentication layer (``SyncAuth.receive``), which reads every datagram first,
is fed the same stream sealed by a peer that completed the handshake with it,
plus replays of sealed datagrams and of the peer's handshake: a datagram it passes
on must be one the peer sealed, passed on once; a drop counts one reason and
changes nothing else; an answer is never larger than what provoked it.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from routerha.ctsync import auth
from routerha.ctsync import entry as ct
from routerha.ctsync import expectation as cx
from routerha.ctsync.kernel import (
    PORT_PROTOCOLS,
    READER,
    TEMPLATES,
    _encode,
    _family,
    entry_from_msg,
    expectation_attrs,
    expectation_from_msg,
    prepare,
)
from routerha.ctsync.nfct import CT_NEW, EXP_NEW, exp_msg
from routerha.ctsync.protocol import (
    HEADER,
    RECORD,
    SEQ_MOD,
    Apply,
    BulkReceived,
    Confirm,
    Kind,
    Op,
    PeerRestarted,
    ResyncRequested,
    Send,
    SyncError,
    SyncProtocol,
    parse,
    records,
)
from routerha.ctsync.templates import MAX_TEMPLATES_PER_SHAPE
from routerha.daemon.conntrack import MIN_COMMIT_TIMEOUT, describe, describe_expectation

from .fuzzing import Mutator, Peer

COUNT = int(os.environ.get("ROUTERHA_FUZZ_EXAMPLES", "3000"))
SEED = int(os.environ.get("ROUTERHA_FUZZ_SEED", "14"))
#: Of every ten datagrams, how many are valid ones of the peer (the rest are mutated).
VALID_SHARE = 0.3


class Sealing:
    """A peer's authentication layer that completed the handshake with ``receiver``:
    what it seals, and what the receiver must pass on (each once)."""

    def __init__(self, rng: random.Random) -> None:
        keys = auth.keys_from((1, b"fuzzing-sync-key-0123"), [(2, b"fuzzing-sync-key-next")])
        self.sender = auth.SyncAuth(keys, random=rng.randbytes)
        self.receiver = auth.SyncAuth(keys, random=rng.randbytes)
        self.handshake = self.sender.start(0.0)
        answer = self.receiver.receive(self.handshake[0], 0.0)
        assert answer.send and self.sender.receive(answer.send[0], 0.0).dropped is None
        self.sealed: set[bytes] = set()
        self.delivered: set[bytes] = set()

    def seal(self, inner: bytes) -> bytes:
        (datagram,) = self.sender.seal(inner, 0.0)
        self.sealed.add(datagram)
        return datagram


class Run:
    """One seeded stream and the receiver it is fed to."""

    def __init__(self, seed: int, sealed: bool = False) -> None:
        self.rng = random.Random(seed)
        #: With ``sealed``, valid datagrams go out sealed (the authentication target).
        self.sealing = Sealing(self.rng) if sealed else None
        self.peer = Peer(self.rng)
        # Small limits, so that their paths (resync on a large gap, forgetting old
        # sequence numbers, a shut window) are reached within a few thousand datagrams.
        self.receiver = SyncProtocol(
            first_sequence=self.rng.getrandbits(32), max_unacked=2000, max_gap=256, window=16
        )
        self.peer.their_first = self.peer.their_next = self.receiver.session
        self.mutator = Mutator(self.rng, lambda: [self.peer.session, self.receiver.session])
        self.now = 0.0
        client, server = ipaddress.IPv4Address("10.9.0.1"), ipaddress.IPv4Address("10.9.0.2")
        self.local = [
            ct.Entry(ct.Tuple(client, server, 17, n, 53), ct.Tuple(server, client, 17, 53, n))
            for n in range(1024, 1074)
        ]
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.slowest = (0.0, "")
        #: The most datagrams one received datagram made the receiver send.
        self.most_sends = 0

    def stream(self, count: int) -> Iterator[tuple[str, bytes]]:
        """(label, datagram): ``count`` datagrams, valid ones and mutations of recent ones."""
        valid = self.peer.datagrams()
        recent: collections.deque[bytes] = collections.deque(maxlen=32)
        for _ in range(count):
            if self.rng.random() < VALID_SHARE or not recent:
                datagram = next(valid)
                if self.sealing is not None:
                    datagram = self.sealing.seal(datagram)
                recent.append(datagram)
                yield "valid", datagram
            elif self.sealing is not None and self.rng.random() < 0.1:
                # A replay as it was captured: a sealed datagram, or the peer's REQUEST.
                yield "replay", self.rng.choice([*recent, *self.sealing.handshake])
            else:
                yield self.mutator.mutate(self.rng.choice(recent))

    def local_traffic(self) -> None:
        """What the receiving router sends meanwhile (so ACKs and NACKs find messages)."""
        p = self.receiver
        for item in self.rng.sample(self.local, self.rng.randrange(1, 10)):
            p.update(item.key, item.state())
        p.flush(self.now)
        self.peer.their_next = p.next_seq


# Targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    #: Feeds one datagram; the outcome, for the statistics (a drop raises SyncError).
    feed: Callable[[Run, bytes], str]
    #: The stream as the authentication layer receives it: sealed.
    sealed: bool = False


def feed_parse(run: Run, datagram: bytes) -> str:
    kind, session, sequence, body = parse(datagram)
    assert isinstance(kind, Kind)
    assert 0 <= session < SEQ_MOD and 0 <= sequence < SEQ_MOD
    assert body == datagram[HEADER.size :]
    return kind.name


def feed_records(run: Run, datagram: bytes) -> str:
    # Any octets as a body: the header's checks must not be what protects records().
    body = datagram[HEADER.size :]
    parsed = records(body)
    assert sum(RECORD.size + len(k) + len(s) for _, k, s in parsed) == len(body)
    assert all(isinstance(op, Op) and key for op, key, _ in parsed)
    assert len(parsed) <= len(body) // (RECORD.size + 1)
    return "records" if parsed else "empty"


def framed_records(datagram: bytes) -> list[tuple[Op, bytes, bytes]]:
    """The records a receiver would take from ``datagram`` (SyncError if it would not)."""
    kind, _, _, body = parse(datagram)
    return records(body) if kind is Kind.DATA else []


def feed_entry_decode(run: Run, datagram: bytes) -> str:
    outcome = "no entries"
    for _, key, state in framed_records(datagram):
        try:
            decoded = ct.decode(key, state)
        except SyncError:
            outcome = "refused"
            continue
        assert decoded.key == key
        assert ct.decode(decoded.key, decoded.state()) == decoded
        describe(decoded)  # what routerhactl shows of it
        outcome = "decoded"
    return outcome


def feed_expectation_decode(run: Run, datagram: bytes) -> str:
    outcome = "no expectations"
    for _, key, state in framed_records(datagram):
        try:
            decoded = cx.decode(key, state)
        except SyncError:
            outcome = "refused"
            continue
        assert decoded.key == key
        assert cx.decode(decoded.key, decoded.state()) == decoded
        describe_expectation(decoded)
        outcome = "decoded"
    return outcome


def as_kernel_sees(t: ct.Tuple) -> ct.Tuple:
    """A tuple as the kernel keeps it: ports only for protocols that have them."""
    if t.proto in PORT_PROTOCOLS or t.proto in (ct.IPPROTO_ICMP, ct.IPPROTO_ICMPV6):
        return t
    return dataclasses.replace(t, sport=0, dport=0)


def feed_kernel_prepare(run: Run, datagram: bytes) -> str:
    """What a backup does with a received state: the create message a takeover sends
    (entries: ``prepare``; expectations: the EXP_NEW that ``commit_expectations`` sends)."""
    outcome = "nothing to prepare"
    for op, key, state in framed_records(datagram):
        if op is not Op.UPDATE:
            continue
        if cx.is_expectation_key(key):
            try:
                expected = cx.decode(key, state)
            except SyncError:
                outcome = "refused"
                continue
            family = _family(expected.expected.src)
            message = _encode(exp_msg, family, EXP_NEW, 0, 0, expectation_attrs(expected))
            (read,) = READER.messages(message)
            assert read.type == EXP_NEW
            back = expectation_from_msg(read.attrs)
            assert back is not None and back.expected == as_kernel_sees(expected.expected)
            outcome = "prepared"
            continue
        try:
            prepared = prepare(key, state, MIN_COMMIT_TIMEOUT)
        except SyncError:
            outcome = "refused"
            continue
        assert prepared.key == key and prepared.state == state
        (read,) = READER.messages(prepared.message)
        assert read.type == CT_NEW
        back = entry_from_msg(read.attrs)
        assert back is not None and back.original == as_kernel_sees(prepared.entry().original)
        outcome = "prepared"
    for templates in TEMPLATES.values():  # what the peer's states leave behind
        for compiled in templates._compiled.values():
            assert compiled is None or len(compiled.templates) <= MAX_TEMPLATES_PER_SHAPE
    return outcome


ACTIONS = (Send, Apply, ResyncRequested, PeerRestarted, BulkReceived, Confirm)


def snapshot(p: SyncProtocol) -> dict[str, object]:
    """Everything a datagram could change in a receiver."""
    return {name: _copied(value) for name, value in vars(p).items()}


def _copied(value: object) -> object:
    if isinstance(value, dict):
        return {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
    if isinstance(value, set):
        return set(value)
    return value


def send_bound(p: SyncProtocol, kind: Kind, body: bytes) -> int:
    """The most datagrams one received datagram may make ``p`` send.

    A NACK is answered message by message within the resend budget (one window of
    messages per ``nack_retry``; a larger range asks for a bulk sync instead); an
    ACK opens the window (at most ``window`` new messages); anything else costs an
    ACK, a NACK, a QUERY and a RESYNC.
    """
    return 4 + p.window + (p.window if kind is Kind.NACK else 0)


def feed_receive(run: Run, datagram: bytes) -> str:
    p = run.receiver
    rng = run.rng
    if rng.random() < 0.05:
        run.local_traffic()
    run.now += rng.choice((0.0, 0.001, 0.01, 0.3))
    if rng.random() < 0.2:
        for action in p.tick(run.now):
            assert isinstance(action, ACTIONS)
    before = snapshot(p)
    queued = set(p.pending) | set(p.unacked)
    try:
        actions = p.receive(datagram, run.now)
    except SyncError as error:
        after = snapshot(p)
        assert after.pop("stats")["malformed"] == before.pop("stats")["malformed"] + 1
        assert after == before, "a malformed datagram changed the receiver"
        return f"dropped: {re.sub(r'[0-9]+', 'N', str(error))}"
    kind, _, _, body = parse(datagram)  # accepted: it must be well-formed
    carried = framed_records(datagram)
    allowed = {(op, key, state) for op, key, state in carried if op is not Op.BULK_END}
    applied = [a for a in actions if isinstance(a, Apply)]
    assert len(applied) <= len(carried)
    assert all((a.op, a.key, a.state) in allowed for a in applied), "applied what was not sent"
    assert all(isinstance(a, ACTIONS) for a in actions)
    sends = [a.datagram for a in actions if isinstance(a, Send)]
    for sent in sends:
        assert len(sent) <= p.payload_size
        sent_kind, session, _, sent_body = parse(sent)
        assert session == p.session
        if sent_kind is Kind.DATA:
            records(sent_body)
    assert len(sends) <= send_bound(p, kind, body), f"{len(sends)} datagrams for one {kind.name}"
    assert set(p.pending) | set(p.unacked) <= queued, "a peer's datagram queued entries of ours"
    assert len(p.missing) <= p.max_gap
    assert len(p.applied) <= 2 * p.max_unacked + len(carried)
    run.outcomes[f"sends {min(len(sends), 4)}{'+' if len(sends) >= 4 else ''}"] += 1
    run.most_sends = max(run.most_sends, len(sends))
    return f"accepted {kind.name}"


def feed_auth(run: Run, datagram: bytes) -> str:
    sealing = run.sealing
    assert sealing is not None
    layer = sealing.receiver
    before = (dict(layer.drops), layer.counters["opened"], layer.current, dict(layer.pending))
    got = layer.receive(datagram, run.now)
    for answer in got.send:
        assert len(answer) <= len(datagram), "an answer larger than what provoked it"
    assert len(got.send) <= 1
    if got.dropped is not None:
        drops = dict(before[0])
        drops[got.dropped] += 1
        assert layer.drops == drops, "a drop counted something else too"
        assert (layer.counters["opened"], layer.current) == before[1:3], "a drop changed state"
        return f"dropped: {got.dropped}"
    if got.inner is None:
        return "handshake answered" if got.send else "handshake taken"
    assert datagram in sealing.sealed, "passed on what the peer never sealed"
    assert datagram not in sealing.delivered, "passed on the same datagram twice"
    sealing.delivered.add(datagram)
    assert datagram.startswith(got.inner)
    return "delivered"


#: Every layer that reads sync-link octets.
TARGETS = [
    Target("protocol.parse", feed_parse),
    Target("protocol.records", feed_records),
    Target("entry.decode", feed_entry_decode),
    Target("expectation.decode", feed_expectation_decode),
    Target("kernel.prepare", feed_kernel_prepare),
    Target("SyncProtocol.receive", feed_receive),
    Target("SyncAuth.receive", feed_auth, sealed=True),
]

#: Outcomes each target must reach within the default count: the stream gets through
#: to the deep checks and to the refusals alike (the test can fail for want of it).
MUST_REACH = {
    "protocol.parse": ("DATA", "ACK", "NACK", "dropped"),
    "protocol.records": ("records", "dropped"),
    "entry.decode": ("decoded", "refused"),
    "expectation.decode": ("decoded", "refused"),
    "kernel.prepare": ("prepared", "refused"),
    "SyncProtocol.receive": ("accepted DATA", "accepted NACK", "dropped"),
    "SyncAuth.receive": (
        "delivered",
        "dropped: bad_mac",
        "dropped: replayed",
        "dropped: unauthenticated",
        "dropped: unknown_key",
        "dropped: rate_limited",
    ),
}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_fuzz_sync_link_reader_refuses_only_with_sync_error(target):
    run = Run(SEED, sealed=target.sealed)
    started = time.perf_counter()
    mutations: collections.Counter[str] = collections.Counter()
    for number, (label, datagram) in enumerate(run.stream(COUNT)):
        mutations[label.split("+")[0]] += 1
        fed = time.perf_counter()
        try:
            outcome = target.feed(run, datagram)
        except SyncError:
            outcome = "dropped"
        except Exception as error:
            raise AssertionError(
                f"{target.name}, seed {SEED}, datagram {number} ({label}): {error!r}\n"
                f"{datagram.hex()}"
            ) from error
        took = time.perf_counter() - fed
        if took > run.slowest[0]:
            run.slowest = (took, f"{label} {datagram[:24].hex()}")
        run.outcomes[outcome] += 1
    took = time.perf_counter() - started
    print(
        f"MEASURED fuzz {target.name}: {COUNT} datagrams (seed {SEED}) in {took:.1f} s; "
        f"mutations {dict(mutations)}; outcomes {dict(sorted(run.outcomes.items()))}; "
        f"slowest datagram {run.slowest[0] * 1000:.2f} ms ({run.slowest[1]}...)"
        + (f"; most sent for one datagram {run.most_sends}" if run.most_sends else "")
    )
    for wanted in MUST_REACH[target.name]:
        assert any(o.startswith(wanted) for o in run.outcomes), (
            f"{target.name} never reached {wanted!r}: {dict(run.outcomes)}"
        )
