"""Authentication of the conntrack sync link, sans-IO: what a datagram must prove
before ``SyncProtocol`` may see it.

Every datagram on the link is either a *handshake* message or a *sealed* one: a
``SyncProtocol`` datagram as it is, followed by a trailer::

    inner datagram | session (8) | key id (1) | counter (8) | MAC (16)

The MAC is HMAC-SHA256, cut to 128 bits (as IPsec's HMAC-SHA-256-128), over every
octet before it: the inner header and body and the trailer's fields. It is keyed
with a *session key*, ``HMAC(key, "routerha sync session" | challenge)``, so that a
datagram is only valid in the session it was sent in. A datagram whose trailer
is wrong in any way is dropped, and counted by reason, before the inner protocol
parses a single octet of it.

Freshness belongs to the receiver. Each direction of the link has its own
session, and the receiving end chooses it::

    sender  -- REQUEST(q) --------------------------->  receiver
    sender  <------------- CHALLENGE(echo q, c) ------  receiver
    sender  -- DATA... sealed in session c, counters 1, 2, ... -->

``q`` and ``c`` are 16 random octets, new for every handshake; both messages carry
a MAC under the key itself (a handshake key derived from it). The sender takes
only a challenge that echoes its outstanding request (an old CHALLENGE replayed
at it is refused), and the receiver accepts a sealed datagram only in its current
session or in a challenge it issued and nobody has used yet; the first valid
datagram in such a challenge makes it the current session and retires the
previous one for good. Within a session a sliding window of counters refuses any
datagram seen before.

Why this shape: nothing is kept on disk, yet a captured datagram is never taken
again. After the *receiver* restarts, it knows only challenges it made since, and
an old session is no longer one of them. After the *sender* restarts, it must ask
for a new challenge, and the old session ends when the new one starts; before
that, the old session's window still holds every counter it saw. An attacker who
replays an old handshake gets at most a new challenge it cannot use. Because each
direction is chosen by its receiver, two routers that start at the same moment
need no tie-break, and a sealed datagram reflected back at its sender fails there
(it is in the peer's session, not in one its sender issued).

A REQUEST also names the sessions its sender takes (its current one and the
newest it issued): when this side's sending session is not among them, the peer
lost it (it restarted), and this side renews its sending session too, holding
what it sends meanwhile (up to ``HOLD_LIMIT`` datagrams) until the new challenge
arrives, so a peer's restart costs no datagram. Sending waits in the same way
until the first handshake is done.

Bounded work for forged or replayed handshakes: a message without a valid MAC
costs one HMAC and gets no answer; valid ones are answered at most ``ANSWER_RATE``
times a second (``ANSWER_BURST`` at once), the same request nonce at most every
``REPEAT_GAP`` seconds, and a REQUEST is padded to the size of its answer, so no
answer is larger than what provoked it. At most ``MAX_PENDING`` unused challenges
are kept, each for ``CHALLENGE_LIFETIME`` seconds.

Keys: one sending key and any number of accepted ones, each with a key id (1..255)
sent in every message, so a key changes like the VRRP password: every member first
accepts the new key, then sends with it, then forgets the old one, and no session
is renewed on the way (the session key is derived per key id from the same
challenge).
"""

from __future__ import annotations

import hmac
import os
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from routerha.ctsync.protocol import HEADER, MAGIC

MAC_SIZE = 16
NONCE_SIZE = 16
SESSION_ID_SIZE = 8
TRAILER = struct.Struct(f"!{SESSION_ID_SIZE}sBQ")  # session id, key id, counter
TRAILER_SIZE = TRAILER.size + MAC_SIZE

#: The handshake's header: magic, version (2: an authentication handshake), kind, key id.
HANDSHAKE = struct.Struct("!2sBBB")
HANDSHAKE_MAGIC = MAGIC
HANDSHAKE_VERSION = 2
#: Kinds apart from the inner protocol's (1..6), so a filter on the type octet tells them.
REQUEST, CHALLENGE = 16, 17
#: Both handshake messages are this long: a REQUEST is padded to its answer's size.
HANDSHAKE_SIZE = HANDSHAKE.size + 2 * NONCE_SIZE + MAC_SIZE

#: Sliding replay window, in counters.
WINDOW = 1024
#: Unused challenges kept (the newest ones) and for how long.
MAX_PENDING = 32
CHALLENGE_LIFETIME = 30.0
#: Handshake answers: a token bucket.
ANSWER_RATE = 10.0
ANSWER_BURST = 5.0
#: The same request nonce is answered at most this often (its sender retries slower).
REPEAT_GAP = 0.25
#: An unanswered REQUEST is sent again after this many seconds.
REQUEST_RETRY = 0.5
#: Datagrams held while no sending session is established.
HOLD_LIMIT = 512

_SESSION_LABEL = b"routerha sync session"
_HANDSHAKE_LABEL = b"routerha sync handshake"

#: Reasons a received datagram is dropped (the keys of ``SyncAuth.drops``).
DROP_REASONS = (
    "unauthenticated",  # no trailer: a plain or foreign datagram
    "oversized",  # longer than any datagram of ours
    "unknown_key",  # a key id this side does not accept
    "bad_mac",  # the MAC does not verify
    "replayed",  # a counter seen before, or behind the window
    "stale_session",  # a session this side did not issue or has retired
    "no_session",  # sealed, but this side has issued no session yet (before the handshake)
    "unexpected_challenge",  # a CHALLENGE that answers no outstanding REQUEST
    "rate_limited",  # a valid REQUEST left unanswered (answer rate, or repeated too soon)
)


@dataclass(frozen=True)
class Keys:
    """The key sent with (``send_id``) and every key accepted, by key id."""

    send_id: int
    keys: Mapping[int, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.send_id not in self.keys:
            raise ValueError(f"the sending key id {self.send_id} is not among the keys")
        for key_id, key in self.keys.items():
            if not 1 <= key_id <= 255 or not key:
                raise ValueError(f"key id {key_id}: ids are 1..255 and keys non-empty")


@dataclass
class Received:
    """What one received datagram gave: the inner datagram to pass on (or None), the
    datagrams to send in answer, and why it was dropped (or None)."""

    inner: bytes | None = None
    send: list[bytes] = field(default_factory=list)
    dropped: str | None = None


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")[:MAC_SIZE]  # one call into OpenSSL


def _derive(key: bytes, label: bytes, nonce: bytes = b"") -> bytes:
    return hmac.digest(key, label + nonce, "sha256")


class _Window:
    """Counters seen in one receiving session: the highest, and a bitmap behind it."""

    def __init__(self) -> None:
        self.top = 0
        self.seen = 0  # bit i: counter top - i was seen

    def fresh(self, counter: int) -> bool:
        if counter > self.top:
            return True
        behind = self.top - counter
        return counter > 0 and behind < WINDOW and not (self.seen >> behind) & 1

    def mark(self, counter: int) -> None:
        if counter > self.top:
            self.seen = ((self.seen << (counter - self.top)) | 1) & ((1 << WINDOW) - 1)
            self.top = counter
        else:
            self.seen |= 1 << (self.top - counter)


class _Session:
    """A receiving session: the challenge it was issued for, and its session keys."""

    def __init__(self, challenge: bytes, issued: float) -> None:
        self.challenge = challenge
        self.issued = issued
        self.window = _Window()
        self._keys: dict[tuple[int, bytes], bytes] = {}

    def key(self, key_id: int, key: bytes) -> bytes:
        cached = self._keys.get((key_id, key))
        if cached is None:
            cached = self._keys[(key_id, key)] = _derive(key, _SESSION_LABEL, self.challenge)
        return cached


class SyncAuth:
    """The authentication layer of one router's end of the sync link.

    Feed it what ``SyncProtocol`` sends (``seal``), what arrives (``receive``) and the
    clock (``tick`` at ``deadline()``); send what it returns.
    """

    def __init__(
        self,
        keys: Keys,
        *,
        max_inner: int = 1400,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.keys = keys
        self.max_inner = max_inner
        self.random = random
        # Sending side: the session the peer issued us, and the request outstanding.
        self.send_session: bytes | None = None  # the challenge
        self.send_counter = 0
        self._send_keys: dict[tuple[int, bytes], bytes] = {}
        self.request_nonce: bytes | None = None
        self.request_at: float | None = None  # when to send the REQUEST again
        self.held: list[bytes] = []
        # Receiving side.
        self.current: _Session | None = None
        self.pending: OrderedDict[bytes, _Session] = OrderedDict()  # by session id
        self.tokens = ANSWER_BURST
        self.tokens_at: float | None = None
        self.answered: OrderedDict[bytes, float] = OrderedDict()  # request nonce -> when
        self.drops: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.counters: dict[str, int] = {
            "sealed": 0, "opened": 0, "requests_sent": 0, "challenges_sent": 0,
            "send_sessions": 0, "receive_sessions": 0, "held_dropped": 0,
        }  # fmt: skip

    # Keys ---------------------------------------------------------------------------

    def set_keys(self, keys: Keys) -> None:
        """New keys, sessions kept: the session keys are derived per key id."""
        self.keys = keys
        self._send_keys.clear()

    def _handshake_key(self, key: bytes) -> bytes:
        return _derive(key, _HANDSHAKE_LABEL)

    # Sending ------------------------------------------------------------------------

    def start(self, now: float) -> list[bytes]:
        """Ask the peer for a sending session."""
        return self._request(now)

    def _request(self, now: float) -> list[bytes]:
        self.request_nonce = self.random(NONCE_SIZE)
        return self._send_request(now)

    def _send_request(self, now: float) -> list[bytes]:
        assert self.request_nonce is not None
        self.request_at = now + REQUEST_RETRY
        self.counters["requests_sent"] += 1
        # The sessions we take from the peer now: a peer whose sending session is not
        # one of them (we restarted) renews it. They also make the REQUEST as long as
        # its answer.
        current = self.current.challenge[:SESSION_ID_SIZE] if self.current else bytes(8)
        newest = next(reversed(self.pending), bytes(SESSION_ID_SIZE))
        return [self._handshake(REQUEST, self.request_nonce + current + newest)]

    def _handshake(self, kind: int, body: bytes) -> bytes:
        key_id = self.keys.send_id
        head = HANDSHAKE.pack(HANDSHAKE_MAGIC, HANDSHAKE_VERSION, kind, key_id) + body
        return head + _mac(self._handshake_key(self.keys.keys[key_id]), head)

    def seal(self, datagram: bytes, now: float) -> list[bytes]:
        """The inner datagram, sealed; held (nothing returned) while no session is
        established, and sent when one is."""
        if self.send_session is None or self.request_nonce is not None:
            self.held.append(datagram)
            if len(self.held) > HOLD_LIMIT:
                del self.held[0]
                self.counters["held_dropped"] += 1
            return []
        return [self._seal(datagram)]

    def _seal(self, datagram: bytes) -> bytes:
        assert self.send_session is not None
        self.send_counter += 1
        key_id = self.keys.send_id
        key = self.keys.keys[key_id]
        session_key = self._send_keys.get((key_id, key))
        if session_key is None:
            session_key = _derive(key, _SESSION_LABEL, self.send_session)
            self._send_keys[(key_id, key)] = session_key
        head = datagram + TRAILER.pack(
            self.send_session[:SESSION_ID_SIZE], key_id, self.send_counter
        )
        self.counters["sealed"] += 1
        return head + _mac(session_key, head)

    # Receiving ----------------------------------------------------------------------

    def receive(self, datagram: bytes, now: float) -> Received:
        if len(datagram) > max(self.max_inner + TRAILER_SIZE, HANDSHAKE_SIZE):
            return self._drop("oversized")
        if (
            len(datagram) == HANDSHAKE_SIZE
            and datagram[:2] == HANDSHAKE_MAGIC
            and datagram[2] == HANDSHAKE_VERSION
        ):
            return self._receive_handshake(datagram, now)
        return self._open(datagram, now)

    def _drop(self, reason: str) -> Received:
        self.drops[reason] += 1
        return Received(dropped=reason)

    def _key(self, key_id: int) -> bytes | None:
        return self.keys.keys.get(key_id)

    def _open(self, datagram: bytes, now: float) -> Received:
        body_end = len(datagram) - TRAILER_SIZE
        if body_end < HEADER.size or datagram[:2] != MAGIC:
            return self._drop("unauthenticated")
        declared = HEADER.unpack_from(datagram)[-1]
        if HEADER.size + declared != body_end:
            # Not one of ours with a trailer (a plain SyncProtocol datagram, say).
            return self._drop("unauthenticated")
        session_id, key_id, counter = TRAILER.unpack_from(datagram, body_end)
        key = self._key(key_id)
        if key is None:
            return self._drop("unknown_key")
        session = self._session(session_id, now)
        if session is None:
            if self.current is None and not self.pending:
                return self._drop("no_session")
            return self._drop("stale_session")
        mac = datagram[-MAC_SIZE:]
        if not hmac.compare_digest(mac, _mac(session.key(key_id, key), datagram[:-MAC_SIZE])):
            return self._drop("bad_mac")
        if not session.window.fresh(counter):
            return self._drop("replayed")
        session.window.mark(counter)
        if session is not self.current:
            # The first datagram of a new session: the old one is over for good.
            self.pending.pop(session_id, None)
            self.current = session
            self.counters["receive_sessions"] += 1
        self.counters["opened"] += 1
        return Received(inner=datagram[:body_end])

    def _session(self, session_id: bytes, now: float) -> _Session | None:
        if self.current is not None and self.current.challenge[:SESSION_ID_SIZE] == session_id:
            return self.current
        self._expire(now)
        return self.pending.get(session_id)

    def _expire(self, now: float) -> None:
        for session_id, session in list(self.pending.items()):
            if now - session.issued > CHALLENGE_LIFETIME:
                del self.pending[session_id]

    def _receive_handshake(self, datagram: bytes, now: float) -> Received:
        kind, key_id = datagram[3], datagram[4]
        key = self._key(key_id)
        if key is None:
            return self._drop("unknown_key")
        mac = datagram[-MAC_SIZE:]
        if not hmac.compare_digest(mac, _mac(self._handshake_key(key), datagram[:-MAC_SIZE])):
            return self._drop("bad_mac")
        first = datagram[HANDSHAKE.size : HANDSHAKE.size + NONCE_SIZE]
        second = datagram[HANDSHAKE.size + NONCE_SIZE : HANDSHAKE.size + 2 * NONCE_SIZE]
        if kind == REQUEST:
            return self._answer(first, (second[:SESSION_ID_SIZE], second[SESSION_ID_SIZE:]), now)
        if kind == CHALLENGE:
            return self._challenged(first, second)
        return self._drop("unauthenticated")

    def _answer(self, request: bytes, accepted: tuple[bytes, bytes], now: float) -> Received:
        """A valid REQUEST: issue a challenge, within the answer rate; and renew our
        sending session if the peer no longer takes it (it restarted)."""
        last = self.answered.get(request)
        if (last is not None and now - last < REPEAT_GAP) or not self._token(now):
            return self._drop("rate_limited")
        self.answered[request] = now
        self.answered.move_to_end(request)
        while len(self.answered) > 4 * MAX_PENDING:
            self.answered.popitem(last=False)
        challenge = self.random(NONCE_SIZE)
        self._expire(now)
        self.pending[challenge[:SESSION_ID_SIZE]] = _Session(challenge, now)
        while len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)
        self.counters["challenges_sent"] += 1
        out = [self._handshake(CHALLENGE, request + challenge)]
        ours = self.send_session[:SESSION_ID_SIZE] if self.send_session else None
        if ours is not None and ours not in accepted and self.request_nonce is None:
            out += self._request(now)  # what we send is held until the peer answers
        return Received(send=out)

    def _token(self, now: float) -> bool:
        if self.tokens_at is not None:
            self.tokens = min(ANSWER_BURST, self.tokens + (now - self.tokens_at) * ANSWER_RATE)
        self.tokens_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _challenged(self, echo: bytes, challenge: bytes) -> Received:
        if self.request_nonce is None or not hmac.compare_digest(echo, self.request_nonce):
            return self._drop("unexpected_challenge")
        self.request_nonce = None
        self.request_at = None
        self.send_session = challenge
        self.send_counter = 0
        self._send_keys.clear()
        self.counters["send_sessions"] += 1
        held, self.held = self.held, []
        return Received(send=[self._seal(d) for d in held])

    # Time ---------------------------------------------------------------------------

    def deadline(self) -> float:
        return self.request_at if self.request_at is not None else float("inf")

    def tick(self, now: float) -> list[bytes]:
        if self.request_at is not None and now >= self.request_at:
            return self._send_request(now)
        return []

    # Status -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The handshake state and counters: key ids and session ids, never a key."""
        if self.send_session is None:
            send_state = "handshake"
        else:
            send_state = "established" if self.request_nonce is None else "renewing"
        send_id = self.send_session[:SESSION_ID_SIZE] if self.send_session else None
        receive_id = self.current.challenge[:SESSION_ID_SIZE] if self.current else None
        return {
            "send_state": send_state,
            "send_session": send_id.hex() if send_id else None,
            "receive_session": receive_id.hex() if receive_id else None,
            "pending_challenges": len(self.pending),
            "held": len(self.held),
            "send_key_id": self.keys.send_id,
            "accepted_key_ids": sorted(self.keys.keys),
            "drops": dict(self.drops),
            **self.counters,
        }


def keys_from(send: tuple[int, bytes], accept: Iterable[tuple[int, bytes]]) -> Keys:
    """``Keys`` of a sending (id, key) and accepted ones (an accepted id equal to the
    sending one must carry the same key: the caller's model checks that)."""
    keys = dict(accept)
    keys[send[0]] = send[1]
    return Keys(send_id=send[0], keys=keys)
