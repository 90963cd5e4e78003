"""The conntrack sync protocol, sans-IO: reliable delivery of the latest state of each entry.

Like conntrackd's FTFW mode, and like the VRRP machine here: no sockets, no timers
inside. ``SyncProtocol`` is fed local changes, received datagrams and the clock;
it returns actions (datagrams to send, entries to apply to the external cache,
a timer deadline, a peer's requests).

Entries are opaque here: a key (the entry's identity: zone and original tuple)
and a state (its encoded attributes), or a deletion. Only the latest state of an
entry matters, which makes recovery simple:

- Every DATA message has a sequence number. The receiver acknowledges in-order
  messages in windows (an ACK every ``ack_every`` messages, and at least every
  ``ack_delay`` seconds while some are unacknowledged).
  Acknowledgements are cumulative: up to the first missing message.
- A gap makes the receiver send a NACK for the missing range at once (and again
  every ``nack_retry`` while something is missing); it still applies what it
  received, because every message carries complete states.
- The sender keeps, per unacknowledged entry, only its latest state (the resend
  queue). A NACKed message is sent again under its own sequence number, rebuilt
  from the latest state of the entries it carried that no later message carries;
  one whose entries all moved on goes out empty, which fills the gap just the same.
- An ALIVE at most ``alive_interval`` apart carries the sender's last sequence
  number, so the loss of the last messages before a silence is found too.
- Every message names its sender's session: the first sequence number that
  sender instance used. A new session (a restarted peer, also announced by
  HELLO) resets the receiver's expectations to it, so even the loss of a peer's
  very first messages is noticed and repaired. A
  RESYNC asks the peer for its whole internal cache (a bulk sync), which it
  sends as ordinary DATA ending in a BULK_END record, delivered as reliably as
  the entries: the receiver reports the bulk complete once nothing before that
  record is missing. A gap too wide to NACK, given up for a new bulk sync, makes
  the end of the bulk under way complete nothing: only a bulk whose every message
  arrived (or was resent) completes.
- Flow control: at most ``window`` DATA messages are unacknowledged at a time;
  the rest waits in the pending queue (latest state per entry) until ACKs open
  the window. A bulk sync of a large table therefore paces itself to the
  peer instead of overrunning the link's and the peer's socket buffers.
- A backlog over ``max_unacked`` entries while the window is shut (the peer is
  gone) is dropped and replaced by a bulk sync, and a gap over ``max_gap``
  messages makes the receiver ask for one: memory stays bounded when the peer
  is gone for a long time.

Whatever arrives is hostile until checked, the peer's own datagrams included,
and a request must not cost the sender more than a bounded multiple of what it
received (every refusal counted by reason in ``dropped``):

- Datagrams over ``MAX_DATAGRAM`` octets, records over ``MAX_KEY`` / ``MAX_STATE``
  octets and DATA with more than ``MAX_RECORDS`` records are malformed. Each record
  then passes ``admit`` (the caller's judgement of its content: it decodes, the
  filters accept it) or is left out before it changes anything.
- A bulk sync is fed lazily from the caller's iterable, a window at a time, so
  starting one costs nothing until the peer acknowledges; ``flush`` sends at most
  ``burst`` messages a call and asks (``deadline``) to be called again at once for
  the rest, so the caller's loop (the VRRP timers) runs in between.
- RESYNC requests: one starts a bulk sync at most every ``bulk_interval`` seconds;
  any number arriving meanwhile, or during a bulk sync, merge into one more bulk
  sync at the next allowed time.
- NACKs: only messages sent and not yet acknowledged are sent again, each at
  most once per ``nack_retry``, and at most ``window`` messages per ``nack_retry``
  in all (a budget refilled with time); a NACK for what was never sent is ignored.
- Deletions are confirmed with the owner: a DESTROY received is held for
  ``confirm_hold`` seconds while a QUERY asks the peer whether it still holds the
  entry. A peer that does answers with the entry's current state (``Confirm``),
  which cancels the deletion; silence lets it through. So a forged deletion of a
  live entry (its keys learnt from a sniffed bulk sync) changes nothing, whoever
  sends it, as long as the peer itself can answer. QUERYs are answered within the
  resend budget.
"""

from __future__ import annotations

import enum
import random
import struct
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Callable, Optional, Union

from routerha.errors import RouterhaError

MAGIC = b"RH"
VERSION = 1
HEADER = struct.Struct("!2sBBIIH")  # magic, version, type, session, sequence, body length
RECORD = struct.Struct("!BHH")  # op, key length, state length
RANGE = struct.Struct("!II")
SEQ_MOD = 1 << 32
#: The largest datagram accepted: a jumbo frame (a sender packs to ``payload_size``).
MAX_DATAGRAM = 9216
#: The largest key and state of a record (entries and expectations are far smaller).
MAX_KEY = 64
MAX_STATE = 512
#: Records in one DATA message at most (a full message of real entries holds about 30).
MAX_RECORDS = 256
#: Keys of a QUERY whose answer costs as much of the resend budget as one message.
QUERY_KEYS_PER_RESEND = 32

#: The caller's judgement of a received record: None to accept it, else the reason
#: it is refused (counted in ``SyncProtocol.dropped``).
Admit = Callable[["Op", bytes, bytes], Optional[str]]


class SyncError(RouterhaError):
    """A sync datagram is malformed. It is dropped and counted; nothing else happens."""


class Kind(enum.IntEnum):
    DATA = 1
    ACK = 2  # body: first and last sequence number acknowledged
    NACK = 3  # body: first and last sequence number missing
    ALIVE = 4  # sequence: the last DATA sequence number sent
    HELLO = 5  # sequence: the first DATA sequence number that will follow
    RESYNC = 6  # please send your whole internal cache
    QUERY = 7  # body: records naming keys: do you still hold these? (send their states)


class Op(enum.IntEnum):
    UPDATE = 1
    DESTROY = 2
    BULK_END = 3  # not an entry: the end of a bulk sync


BULK_END_KEY = b"\0bulk-end"


# Actions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    datagram: bytes


@dataclass(frozen=True)
class Apply:
    """Store (UPDATE) or forget (DESTROY) an entry in the external cache."""

    op: Op
    key: bytes
    state: bytes


@dataclass(frozen=True)
class ResyncRequested:
    """The peer asked for a bulk sync: feed the internal cache to ``bulk()``."""


@dataclass(frozen=True)
class PeerRestarted:
    """The peer said HELLO: it started (again) with an empty cache."""


@dataclass(frozen=True)
class BulkReceived:
    """A bulk sync from the peer is complete (the startup gate of a new router)."""


@dataclass(frozen=True)
class Confirm:
    """The peer doubts deletions: ``update()`` each of these keys still in the internal
    cache (its current state), so the peer keeps it."""

    keys: tuple[bytes, ...]


Action = Union[Send, Apply, ResyncRequested, PeerRestarted, BulkReceived, Confirm]


def _after(a: int, b: int) -> bool:
    """Serial number arithmetic (RFC 1982): whether ``a`` comes after ``b``."""
    return 0 < (a - b) % SEQ_MOD < SEQ_MOD // 2


def parse(datagram: bytes) -> tuple[Kind, int, int, bytes]:
    """(kind, session, sequence, body) of a datagram; SyncError if it is not one of ours."""
    if len(datagram) < HEADER.size:
        raise SyncError(f"{len(datagram)} octets is shorter than a header")
    if len(datagram) > MAX_DATAGRAM:
        raise SyncError(f"{len(datagram)} octets is longer than {MAX_DATAGRAM}")
    magic, version, kind, session, sequence, length = HEADER.unpack_from(datagram)
    if magic != MAGIC or version != VERSION:
        raise SyncError("not a routerha sync message (magic or version)")
    if len(datagram) != HEADER.size + length:
        raise SyncError(f"body length {length} but {len(datagram) - HEADER.size} octets follow")
    try:
        return Kind(kind), session, sequence, datagram[HEADER.size :]
    except ValueError:
        raise SyncError(f"unknown message type {kind}") from None


def records(body: bytes) -> list[tuple[Op, bytes, bytes]]:
    """The (op, key, state) records of a DATA body."""
    out = []
    offset = 0
    while offset < len(body):
        if offset + RECORD.size > len(body):
            raise SyncError("truncated record header")
        if len(out) == MAX_RECORDS:
            raise SyncError(f"more than {MAX_RECORDS} records")
        op, key_len, state_len = RECORD.unpack_from(body, offset)
        if key_len > MAX_KEY or state_len > MAX_STATE:
            raise SyncError(f"record of {key_len}+{state_len} octets is too large")
        offset += RECORD.size
        end = offset + key_len + state_len
        if end > len(body) or not key_len:
            raise SyncError("record overruns the message")
        try:
            out.append((Op(op), body[offset : offset + key_len], body[offset + key_len : end]))
        except ValueError:
            raise SyncError(f"unknown record op {op}") from None
        offset = end
    return out


def _range(body: bytes) -> tuple[int, int]:
    if len(body) != RANGE.size:
        raise SyncError("ACK/NACK body is not a sequence range")
    first, last = RANGE.unpack(body)
    if (last - first) % SEQ_MOD >= SEQ_MOD // 2:
        raise SyncError("sequence range runs backwards")
    return first, last


def _seq_range(first: int, last: int) -> Iterable[int]:
    count = (last - first) % SEQ_MOD + 1
    return ((first + i) % SEQ_MOD for i in range(count))


class SyncProtocol:
    def __init__(
        self,
        *,
        payload_size: int = 1400,
        alive_interval: float = 1.0,
        ack_every: int = 32,
        ack_delay: float = 0.05,
        nack_retry: float = 0.2,
        max_unacked: int = 200_000,
        max_gap: int = 4096,
        window: int = 128,
        resync_retry: float = 1.0,
        bulk_interval: float = 2.0,
        confirm_hold: float = 1.0,
        burst: int = 32,
        admit: Admit | None = None,
        first_sequence: int | None = None,
    ) -> None:
        self.payload_size = payload_size
        self.alive_interval = alive_interval
        self.ack_every = ack_every
        self.ack_delay = ack_delay
        self.nack_retry = nack_retry
        self.max_unacked = max_unacked
        self.max_gap = max_gap
        self.window = window
        self.resync_retry = resync_retry
        self.bulk_interval = bulk_interval
        self.confirm_hold = confirm_hold
        self.burst = burst
        self.admit = admit
        #: When to repeat an unanswered RESYNC request (None: none outstanding).
        self.resync_at: float | None = None
        # Sending side.
        # A random start, as TCP's initial sequence number: a restarted peer is a new
        # session even when it restarts within the same second.
        if first_sequence is None:
            first_sequence = random.getrandbits(32)
        self.next_seq = first_sequence % SEQ_MOD
        self.session = self.next_seq
        self.pending: OrderedDict[bytes, tuple[Op, bytes]] = OrderedDict()
        #: The resend queue: latest (op, state, sequence) of every unacknowledged entry.
        self.unacked: OrderedDict[bytes, tuple[Op, bytes, int]] = OrderedDict()
        #: Which keys each unacknowledged message carried.
        self.sent: OrderedDict[int, list[bytes]] = OrderedDict()
        self.last_sent_at = float("-inf")
        self.need_bulk = False
        self.started = False
        #: The bulk sync being sent (read as the window opens), and an entry read
        #: from it that did not fit the last message.
        self.bulk_source: Iterator[tuple[bytes, bytes]] | None = None
        self._bulk_next: tuple[bytes, bytes] | None = None
        self.bulk_started_at = float("-inf")
        #: The peer session listening when the bulk sync began (a restarted peer
        #: missed its beginning).
        self.bulk_for: int | None = None
        #: When the bulk sync that merged RESYNCs asked for may start (None: none asked).
        self.bulk_due: float | None = None
        #: When ``flush`` must run again for what one burst left (None: nothing left).
        self.flush_at: float | None = None
        #: When each unacknowledged message was last sent again, and the resend budget.
        self.resent_at: dict[int, float] = {}
        self.resend_tokens = float(window)
        self.resend_tokens_at = float("-inf")
        # Receiving side.
        self.peer_session: int | None = None
        self.expected: int | None = None
        self.unacked_received = 0
        self.first_unacked_at: float | None = None
        self.missing: set[int] = set()
        self.nack_at: float | None = None
        self.bulk_ending = False
        #: A gap was given up (too much lost to NACK, a new bulk sync asked for) before
        #: the end of the bulk sync under way arrived: that end, the next BULK_END,
        #: closes a bulk with entries missing and completes nothing. (If it was itself
        #: lost, the bulk asked for ends unheeded too, and the request's retry brings
        #: another: a delay, never a cache taken for whole that is not.)
        self.bulk_lost = False
        self.acked_upto: int | None = None
        #: The sequence number of the message each entry's current state came in:
        #: a late or duplicated older message must not bring an older state back.
        #: In the order the states were applied, the oldest first.
        self.applied: OrderedDict[bytes, int] = OrderedDict()
        #: Deletions waiting for the peer's confirmation: key -> when they go through.
        self.doubted: OrderedDict[bytes, float] = OrderedDict()
        self.stats: dict[str, int] = {
            "sent": 0, "received": 0, "resent": 0, "acks": 0, "nacks_sent": 0,
            "nacks_received": 0, "gaps": 0, "malformed": 0, "bulk_sent": 0, "acks_received": 0,
            "stale": 0, "resync_requests": 0, "resyncs_received": 0, "resyncs_merged": 0,
            "queries_sent": 0, "queries_received": 0, "destroys_contradicted": 0,
            "bulks_incomplete": 0,
        }  # fmt: skip
        #: What was refused, by reason (records the caller did not admit, NACKs for
        #: what was never sent, resends over the budget, ...).
        self.dropped: dict[str, int] = {}

    # Local changes ------------------------------------------------------------------

    def start(self, now: float, resync: bool = True) -> list[Action]:
        """HELLO (the peer forgets what it expected of us), then our RESYNC request."""
        self.started = True
        actions: list[Action] = [self._control(Kind.HELLO, self.next_seq, now)]
        return actions + (self.request_resync(now) if resync else [])

    def request_resync(self, now: float) -> list[Action]:
        """Ask the peer for its whole internal cache, again every ``resync_retry``
        seconds until its bulk sync is complete (the request may be lost)."""
        self.resync_at = now + self.resync_retry
        self.stats["resync_requests"] += 1
        return [self._control(Kind.RESYNC, 0, now)]

    def update(self, key: bytes, state: bytes) -> None:
        self.pending[key] = (Op.UPDATE, state)
        self.pending.move_to_end(key)

    def destroy(self, key: bytes) -> None:
        self.pending[key] = (Op.DESTROY, b"")
        self.pending.move_to_end(key)

    def flush(self, now: float) -> list[Action]:
        """Pack what is pending, then the bulk sync, into DATA messages of at most
        ``payload_size`` octets: as many as the window allows, at most ``burst`` now
        (the rest at ``deadline``, at once); what does not fit goes as ACKs open it."""
        actions: list[Action] = []
        self.flush_at = None
        if self._backlog_overflows():
            # The peer has been gone too long: forget, and send everything when it is back.
            self.pending.clear()
            self.unacked.clear()
            self.sent.clear()
            self.resent_at.clear()
            self.need_bulk = True
        if self.need_bulk:
            actions.append(ResyncRequested())
            self.need_bulk = False
        limit = self.payload_size - HEADER.size
        messages = 0
        while self._has_data() and len(self.sent) < self.window:
            if messages == self.burst:
                self.flush_at = now  # the caller's loop runs first, then the rest
                break
            batch: list[tuple[bytes, Op, bytes]] = []
            size = 0
            while True:
                item = self._next_record()
                if item is None:
                    break
                key, _op, state = item
                length = RECORD.size + len(key) + len(state)
                if batch and size + length > limit:
                    self._put_back(item)
                    break
                self._taken(item)
                batch.append(item)
                size += length
            actions.append(self._data(batch, now))
            messages += 1
        return actions

    def _has_data(self) -> bool:
        return bool(self.pending) or self.bulk_source is not None

    def _next_record(self) -> tuple[bytes, Op, bytes] | None:
        """The next record to send: pending changes first, then the bulk sync."""
        if self.pending:
            key, (op, state) = self.pending.popitem(last=False)
            return key, op, state
        if self.bulk_source is None:
            return None
        if self._bulk_next is not None:
            key, state = self._bulk_next
            self._bulk_next = None
            return key, Op.UPDATE, state
        for key, state in self.bulk_source:
            self._bulk_next = (key, state)  # taken back by _taken unless it did not fit
            return key, Op.UPDATE, state
        self.bulk_source = None
        self.pending[BULK_END_KEY] = (Op.BULK_END, b"")
        return self._next_record()

    def _taken(self, item: tuple[bytes, Op, bytes]) -> None:
        """``item`` (from ``_next_record``) went into a message."""
        if self._bulk_next is not None and self._bulk_next[0] == item[0] and not self.pending:
            self._bulk_next = None

    def _put_back(self, item: tuple[bytes, Op, bytes]) -> None:
        """``item`` (from ``_next_record``) did not fit: it goes first next time."""
        key, op, state = item
        if self._bulk_next is not None and self._bulk_next[0] == key and not self.pending:
            return  # from the bulk sync: still waiting in _bulk_next
        self.pending[key] = (op, state)
        self.pending.move_to_end(key, last=False)

    def _backlog_overflows(self) -> bool:
        """A shut window and more waiting than ``max_unacked`` (not a bulk sync in progress,
        which is as large as the table and paced by the window on purpose)."""
        return (
            len(self.sent) >= self.window
            and len(self.pending) + len(self.unacked) > self.max_unacked
            and self.bulk_source is None
            and BULK_END_KEY not in self.pending
        )

    def bulk(self, entries: Iterable[tuple[bytes, bytes]], now: float) -> list[Action]:
        """Send every given (key, state), then a BULK_END record.

        ``entries`` is read as the window opens, not now: a generator that looks
        each key up when asked sends the states current at that time. A bulk sync
        already under way is replaced (this one covers it)."""
        self.stats["bulk_sent"] += 1
        self.bulk_source = iter(entries)
        self._bulk_next = None
        self.pending.pop(BULK_END_KEY, None)
        self.bulk_started_at = now
        self.bulk_for = self.peer_session
        return self.flush(now)

    def _bulk_running(self) -> bool:
        """Whether a bulk sync is still being sent (its end marker not yet out)."""
        return self.bulk_source is not None or BULK_END_KEY in self.pending

    def _resync_asked(self, now: float) -> list[Action]:
        """The peer wants a bulk sync: at once if none started within ``bulk_interval``
        and none is under way; otherwise one more, merged, at the next allowed time."""
        allowed = self.bulk_started_at + self.bulk_interval
        if self._bulk_running() and self.bulk_for == self.peer_session:
            # The peer has listened since this bulk sync began: it gets all of it.
            self.stats["resyncs_merged"] += 1
            return []
        if self.bulk_due is not None or self._bulk_running() or now < allowed:
            self.stats["resyncs_merged"] += 1
            self.bulk_due = max(allowed, now) if self.bulk_due is None else self.bulk_due
            return []
        self.bulk_started_at = now  # also when the caller's bulk() comes a little later
        self.bulk_for = self.peer_session
        return [ResyncRequested()]

    def _data(self, batch: list[tuple[bytes, Op, bytes]], now: float) -> Send:
        seq = self.next_seq
        self.next_seq = (seq + 1) % SEQ_MOD
        body = b"".join(
            RECORD.pack(op, len(key), len(state)) + key + state for key, op, state in batch
        )
        keys = []
        for key, op, state in batch:
            self.unacked[key] = (op, state, seq)
            self.unacked.move_to_end(key)
            keys.append(key)
        self.sent[seq] = keys
        self.stats["sent"] += 1
        self.last_sent_at = now
        return Send(self._header(Kind.DATA, seq, body))

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _control(self, kind: Kind, sequence: int, now: float, body: bytes = b"") -> Send:
        if kind in (Kind.ALIVE, Kind.HELLO):
            self.last_sent_at = now
        return Send(self._header(kind, sequence, body))

    def _header(self, kind: Kind, sequence: int, body: bytes) -> bytes:
        return HEADER.pack(MAGIC, VERSION, kind, self.session, sequence % SEQ_MOD, len(body)) + body

    # Received -------------------------------------------------------------------

    def receive(self, datagram: bytes, now: float) -> list[Action]:
        """One datagram from the peer. Malformed ones raise SyncError and change nothing."""
        try:
            kind, session, seq, body = parse(datagram)
            # All checked before any change.
            parsed = records(body) if kind in (Kind.DATA, Kind.QUERY) else []
            if kind in (Kind.ACK, Kind.NACK):
                _range(body)
        except SyncError:
            self.stats["malformed"] += 1
            raise
        actions: list[Action] = []
        if session != self.peer_session and kind in (Kind.DATA, Kind.ALIVE, Kind.HELLO):
            # A peer we did not know, or one that restarted: expect its session's start.
            # (Only the messages of its DATA stream say so: a request in another session,
            # a forged one say, answered as any, must not reset what we expect.)
            restarted = self.peer_session is not None
            self.peer_session = session
            self.expected = session
            self.missing.clear()
            self.applied.clear()
            self.unacked_received = 0
            self.first_unacked_at = None
            self.bulk_ending = False
            self.bulk_lost = False
            if restarted or kind is Kind.HELLO:
                actions.append(PeerRestarted())
        return actions + self._dispatch(kind, seq, body, parsed, now)

    def _dispatch(
        self, kind: Kind, seq: int, body: bytes, parsed: list, now: float
    ) -> list[Action]:
        if kind is Kind.DATA:
            return self._receive_data(seq, parsed, now)
        if kind is Kind.ACK:
            self._acked(_range(body)[1])
            return self.flush(now) if self._has_data() else []  # the window opened
        if kind is Kind.NACK:
            return self._nacked(*_range(body), now)
        if kind is Kind.ALIVE:
            # Answered with an ACK: the last one may have been lost, and the peer
            # keeps its resend queue until it hears one.
            return [*self._sequence_seen((seq + 1) % SEQ_MOD, now), self._ack(now)]
        if kind is Kind.HELLO:
            return []
        if kind is Kind.QUERY:
            return self._queried(parsed, now)
        self.stats["resyncs_received"] += 1  # RESYNC
        return self._resync_asked(now)

    def _receive_data(
        self, seq: int, parsed: list[tuple[Op, bytes, bytes]], now: float
    ) -> list[Action]:
        self.stats["received"] += 1
        if self.resync_at is not None:
            # The peer is sending: a bulk sync under way needs no second request yet.
            self.resync_at = max(self.resync_at, now + self.resync_retry)
        actions: list[Action] = []
        queried: list[bytes] = []
        for op, key, state in parsed:
            if op is Op.BULK_END:
                if self.bulk_lost:
                    self.bulk_lost = False
                    self.stats["bulks_incomplete"] += 1
                else:
                    self.bulk_ending = True  # complete once nothing before it is missing
                continue
            refused = self.admit(op, key, state) if self.admit is not None else None
            if refused is not None:
                self._drop(refused)
                continue
            last = self.applied.get(key)
            if last is not None and not _after(seq, last):
                self.stats["stale"] += 1
                continue  # this state is older than the one we have
            self.applied[key] = seq
            self.applied.move_to_end(key)
            if op is Op.DESTROY:
                if self._doubt(key, now):
                    queried.append(key)
                    continue
            elif self.doubted.pop(key, None) is not None:
                self.stats["destroys_contradicted"] += 1  # the peer says it lives
            actions.append(Apply(op, key, state))
        if queried:
            actions += self._query(queried, now)
        self._forget_old_sequences(2 * len(parsed) + 1)
        if self.expected is not None and not _after((seq + 1) % SEQ_MOD, self.expected):
            self.missing.discard(seq)  # a resend, or a duplicate
        else:
            actions += self._sequence_seen(seq, now)
            self.expected = (seq + 1) % SEQ_MOD
        self.unacked_received += 1
        if self.first_unacked_at is None:
            self.first_unacked_at = now
        if self.unacked_received >= self.ack_every:
            actions.append(self._ack(now))
        return actions + self._bulk_done()

    def _doubt(self, key: bytes, now: float) -> bool:
        """Hold a deletion until ``confirm_hold`` has passed (False: too many held)."""
        if len(self.doubted) >= self.max_unacked and key not in self.doubted:
            self._drop("doubts_full")  # deleted at once: memory stays bounded
            return False
        self.doubted.pop(key, None)
        self.doubted[key] = now + self.confirm_hold
        return True

    def _query(self, keys: list[bytes], now: float) -> list[Action]:
        """Ask the peer whether it still holds ``keys`` (QUERYs of at most a payload)."""
        out: list[Action] = []
        limit = self.payload_size - HEADER.size
        body = b""
        for key in keys:
            record = RECORD.pack(Op.DESTROY, len(key), 0) + key
            if body and len(body) + len(record) > limit:
                out.append(self._control(Kind.QUERY, 0, now, body))
                body = b""
            body += record
        out.append(self._control(Kind.QUERY, 0, now, body))
        self.stats["queries_sent"] += len(out)
        return out

    def _queried(self, parsed: list[tuple[Op, bytes, bytes]], now: float) -> list[Action]:
        """The peer doubts deletions: the caller re-sends what it still holds (within
        the resend budget: a QUERY costs about as much as a resend)."""
        self.stats["queries_received"] += 1
        self._refill_resends(now)
        # About what resending messages of that many records would cost.
        cost = max(1.0, len(parsed) / QUERY_KEYS_PER_RESEND)
        if self.resend_tokens < cost:
            self._drop("query_budget")
            return []
        self.resend_tokens -= cost
        return [Confirm(tuple(key for _op, key, _state in parsed))]

    def _confirmed_deletions(self, now: float) -> list[Action]:
        out: list[Action] = []
        while self.doubted:
            key, at = next(iter(self.doubted.items()))
            if at > now:
                break
            del self.doubted[key]
            out.append(Apply(Op.DESTROY, key, b""))
        return out

    def _forget_old_sequences(self, budget: int) -> None:
        """Bound the per-entry record to the ``max_unacked`` states applied last (a
        late duplicate is a message still in flight, far newer than those), the
        oldest going first: at most ``budget`` of them per message, so a message costs
        in proportion to its size. (Forgetting by age in a pass over the whole record
        cost 0.37 s of the loop VRRP runs in, per message, once 400,000 entries had
        changed within the window: a table that large, or a peer's flood of keys.)
        """
        applied = self.applied
        while len(applied) > self.max_unacked and budget > 0:
            applied.popitem(last=False)
            budget -= 1

    def _sequence_seen(self, following: int, now: float) -> list[Action]:
        """The peer has sent everything before ``following``: NACK what never came."""
        if self.expected is None:
            self.expected = following
            return []
        gap = (following - self.expected) % SEQ_MOD
        if gap == 0 or gap >= SEQ_MOD // 2:
            return []
        first, last = self.expected, (following - 1) % SEQ_MOD
        self.expected = following
        self.stats["gaps"] += 1
        if gap > self.max_gap or len(self.missing) + gap > self.max_gap:
            # Too much lost to ask for piece by piece: ask for everything instead. The
            # bulk sync under way (if any) is not whole: its end completes nothing.
            self.missing.clear()
            self.bulk_lost = not self.bulk_ending
            self.bulk_ending = False
            return self.request_resync(now)
        self.missing.update(_seq_range(first, last))
        return [self._nack(first, last, now)]

    def _bulk_done(self) -> list[Action]:
        if self.bulk_ending and not self.missing:
            self.bulk_ending = False
            self.resync_at = None
            return [BulkReceived()]
        return []

    def _nack(self, first: int, last: int, now: float) -> Send:
        self.stats["nacks_sent"] += 1
        self.nack_at = now + self.nack_retry
        return self._control(Kind.NACK, 0, now, RANGE.pack(first, last))

    def _ack(self, now: float) -> Send:
        """Acknowledge everything before the first missing message."""
        self.unacked_received = 0
        self.first_unacked_at = None
        if self.missing:
            base = self.expected or 0
            first_missing = min(self.missing, key=lambda s: (s - base) % SEQ_MOD)
            last = (first_missing - 1) % SEQ_MOD
        else:
            last = ((self.expected or 0) - 1) % SEQ_MOD
        self.stats["acks"] += 1
        self.acked_upto = last
        return self._control(Kind.ACK, 0, now, RANGE.pack(last, last))

    def _acked(self, last: int) -> None:
        self.stats["acks_received"] += 1
        if last != (self.session - 1) % SEQ_MOD and not self._was_sent(last):
            self._drop("ack_unsent")  # would empty the resend queue of what never went
            return
        for seq in list(self.sent):
            if seq != last and not _after(last, seq):
                break  # self.sent is in sending order
            self.resent_at.pop(seq, None)
            for key in self.sent.pop(seq):
                entry = self.unacked.get(key)
                if entry is not None and (entry[2] == last or _after(last, entry[2])):
                    del self.unacked[key]

    def _nacked(self, first: int, last: int, now: float) -> list[Action]:
        """Send each missing message again, under its own number, with current states.

        Only messages sent and not acknowledged: each at most once per ``nack_retry``,
        within the resend budget. One of them whose entries were dropped (a backlog
        overflow) goes out empty, which fills the gap just the same."""
        self.stats["nacks_received"] += 1
        if (last - first) % SEQ_MOD >= self.max_gap:
            self._drop("nack_too_wide")
            return self._resync_asked(now)
        if not (self._was_sent(first) and self._was_sent(last)):
            self._drop("nack_unsent")  # not of this session, or not sent yet
            return []
        self._refill_resends(now)
        if len(self.resent_at) > 2 * self.max_gap:  # fills of messages no longer kept
            self.resent_at = {q: t for q, t in self.resent_at.items() if q in self.sent}
        actions: list[Action] = []
        limit = self.payload_size - HEADER.size
        for seq in _seq_range(first, last):
            if self.resend_tokens < 1:
                self._drop("resend_budget")
                break
            if now < self.resent_at.get(seq, float("-inf")) + self.nack_retry:
                self._drop("resend_too_soon")
                continue
            self.resent_at[seq] = now
            self.resend_tokens -= 1
            body = b""
            for key in self.sent.get(seq, ()):
                entry = self.unacked.get(key)
                if entry is None or entry[2] != seq:
                    continue  # acknowledged, or carried by a later message
                record = RECORD.pack(entry[0], len(key), len(entry[1])) + key + entry[1]
                if len(body) + len(record) > limit:
                    self.pending[key] = (entry[0], entry[1])  # goes out in a new message
                    continue
                body += record
                self.stats["resent"] += 1
            actions.append(self._control(Kind.DATA, seq, now, body))
        return actions + self.flush(now)

    def _was_sent(self, seq: int) -> bool:
        """Whether this session has sent DATA number ``seq``."""
        return (seq - self.session) % SEQ_MOD < (self.next_seq - self.session) % SEQ_MOD

    def _refill_resends(self, now: float) -> None:
        """``window`` resends per ``nack_retry`` at most, however many NACKs arrive."""
        rate = self.window / self.nack_retry
        elapsed = now - self.resend_tokens_at
        self.resend_tokens = min(float(self.window), self.resend_tokens + elapsed * rate)
        self.resend_tokens_at = now

    # Time -------------------------------------------------------------------------

    def deadline(self) -> float:
        """When ``tick`` must run next."""
        times = [self.last_sent_at + self._alive_gap()]
        if self.first_unacked_at is not None:
            times.append(self.first_unacked_at + self.ack_delay)
        if self.nack_at is not None and self.missing:
            times.append(self.nack_at)
        if self.resync_at is not None:
            times.append(self.resync_at)
        if self.flush_at is not None:
            times.append(self.flush_at)
        if self.doubted:
            times.append(next(iter(self.doubted.values())))
        if self.bulk_due is not None and not self._bulk_running():
            times.append(self.bulk_due)
        return min(times)

    def _alive_gap(self) -> float:
        # With entries awaiting an ACK, ask sooner: the answer empties the resend queue.
        return min(self.alive_interval, self.nack_retry) if self.unacked else self.alive_interval

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.first_unacked_at is not None and now >= self.first_unacked_at + self.ack_delay:
            actions.append(self._ack(now))
        if self.missing and self.nack_at is not None and now >= self.nack_at:
            base = self.expected or 0
            order = sorted(self.missing, key=lambda s: (s - base) % SEQ_MOD)
            actions.append(self._nack(order[0], order[-1], now))
        if self.resync_at is not None and now >= self.resync_at:
            actions += self.request_resync(now)
        if self.flush_at is not None and now >= self.flush_at:
            actions += self.flush(now)
        actions += self._confirmed_deletions(now)
        if self.bulk_due is not None and now >= self.bulk_due and not self._bulk_running():
            # The RESYNCs merged meanwhile: one bulk sync answers them all.
            self.bulk_due = None
            self.bulk_started_at = now
            self.bulk_for = self.peer_session
            actions.append(ResyncRequested())
        if self.started and now >= self.last_sent_at + self._alive_gap():
            actions.append(self._control(Kind.ALIVE, (self.next_seq - 1) % SEQ_MOD, now))
        return actions
