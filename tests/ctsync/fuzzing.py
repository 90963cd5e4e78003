"""Seeded generation of sync-link datagrams, valid and mutated, for tests/ctsync/test_fuzz.py.

A ``Peer`` is a real ``SyncProtocol`` sender whose DATA messages carry real entry
and expectation states (IPv4 and IPv6; TCP, UDP, ICMP, others; with and without
NAT and helpers), plus the control messages a peer sends (ACK, NACK, ALIVE,
HELLO, RESYNC). ``Mutator`` breaks them the way a bad link or an attacker would:

- octets: bit flips, changed, inserted and deleted octets, truncation, extension;
- the header: magic, version, type, session, sequence, and the body length field;
- records: op, key length, state length, key and state octets (the entry's
  family, lengths, helper length, NAT flag...), records dropped, repeated or
  appended; ACK/NACK ranges (backwards, huge, wrong length);

most of them with the length fields fixed up again afterwards so the mutation
reaches the layers behind the framing. Every random choice comes from one
``random.Random(seed)``: a run is repeatable from its seed.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterator

from routerha.ctsync.entry import IPS_ASSURED, IPS_EXPECTED, IPS_SEEN_REPLY, Entry, TcpInfo, Tuple
from routerha.ctsync.expectation import Expectation, ExpectationNat
from routerha.ctsync.protocol import (
    HEADER,
    MAGIC,
    RANGE,
    RECORD,
    SEQ_MOD,
    VERSION,
    Kind,
    Op,
    Send,
    SyncError,
    SyncProtocol,
    parse,
    records,
)

HELPERS = ("ftp", "sip", "h323", "tftp", "irc")
PROTOCOLS = (6, 6, 6, 17, 17, 1, 58, 132, 47, 0, 255)


def address(rng: random.Random, family: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if family == 4:
        pool = ("10.1.1.25", "198.51.100.25", "198.51.100.12", "0.0.0.0", "255.255.255.255")
        if rng.random() < 0.7:
            return ipaddress.IPv4Address(rng.choice(pool))
        return ipaddress.IPv4Address(rng.getrandbits(32))
    if rng.random() < 0.7:
        return ipaddress.IPv6Address(
            rng.choice(("2001:db8::25", "2001:db8:1::25", "fe80::1", "::"))
        )
    return ipaddress.IPv6Address(rng.getrandbits(128))


def port(rng: random.Random) -> int:
    return rng.choice((0, 21, 80, 5001, 65535, rng.randrange(65536)))


def entry(rng: random.Random) -> Entry:
    """Any entry a router could sync (and some no kernel would hold)."""
    family = rng.choice((4, 4, 6))
    proto = rng.choice(PROTOCOLS)
    original = Tuple(address(rng, family), address(rng, family), proto, port(rng), port(rng))
    reply = original.reversed()
    if rng.random() < 0.4:  # SNAT or DNAT
        reply = Tuple(reply.src, address(rng, family), proto, reply.sport, port(rng))
    tcp = None
    if proto == 6 or rng.random() < 0.1:
        tcp = TcpInfo(*(rng.choice((0, 3, 7, 255, rng.randrange(256))) for _ in range(5)))
    status = rng.choice((IPS_SEEN_REPLY | IPS_ASSURED, IPS_EXPECTED, 0, rng.getrandbits(32)))
    return Entry(
        original,
        reply,
        zone=rng.choice((0, 0, 1, 65535)),
        status=status,
        timeout=rng.choice((0, 60, 431999, 2**32 - 1)),
        mark=rng.choice((0, 7, 2**32 - 1)),
        tcp=tcp,
        helper=rng.choice((None, None, *HELPERS)),
    )


def expectation(rng: random.Random) -> Expectation:
    family = rng.choice((4, 6))
    master = Tuple(address(rng, family), address(rng, family), 6, port(rng), 21)
    expected = Tuple(address(rng, family), address(rng, family), rng.choice((6, 17)), 0, port(rng))
    mask = Tuple(address(rng, family), address(rng, family), expected.proto, 0, 0xFFFF)
    nat = None
    if rng.random() < 0.5:
        # The kernel's saved address and port as the source; the rest is zero.
        zero = ipaddress.IPv4Address(0) if family == 4 else ipaddress.IPv6Address(0)
        saved = Tuple(address(rng, family), zero, master.proto, port(rng), 0)
        nat = ExpectationNat(rng.choice((0, 1, 255)), saved)
    return Expectation(
        master,
        expected,
        mask,
        zone=rng.choice((0, 3)),
        timeout=rng.choice((0, 300)),
        helper=rng.choice((None, *HELPERS)),
        flags=rng.choice((0, 1)),
        expect_class=rng.choice((0, 1)),
        nat=nat,
        fn=rng.choice((None, "nat-follow-master")),
    )


def message(kind: int, session: int, sequence: int, body: bytes = b"") -> bytes:
    return (
        HEADER.pack(MAGIC, VERSION, kind, session % SEQ_MOD, sequence % SEQ_MOD, len(body)) + body
    )


def record(op: int, key: bytes, state: bytes) -> bytes:
    return RECORD.pack(op, len(key), len(state)) + key + state


class Peer:
    """A sync peer's valid traffic: real DATA from a real ``SyncProtocol``, control messages.

    ``acked`` is told which of the receiver's own sequence numbers exist, so the
    ACKs and NACKs it makes are about messages the receiver really sent.
    """

    def __init__(self, rng: random.Random, keys: int = 200) -> None:
        self.rng = rng
        self.protocol = SyncProtocol(first_sequence=rng.getrandbits(32), window=10**9)
        self.items = [entry(rng) for _ in range(keys)] + [
            expectation(rng) for _ in range(keys // 4)
        ]
        #: The receiver's sent sequence numbers (its session, its next), for ACK/NACK.
        self.their_first = 0
        self.their_next = 0

    @property
    def session(self) -> int:
        return self.protocol.session

    def datagrams(self) -> Iterator[bytes]:
        """An endless stream of what a peer sends, in sending order."""
        rng = self.rng
        while True:
            choice = rng.random()
            if choice < 0.55:
                yield from self._data()
            elif choice < 0.6:
                entries = [(i.key, i.state()) for i in rng.sample(self.items, rng.randrange(1, 40))]
                yield from self._sends(self.protocol.bulk(entries, 0.0))
            elif choice < 0.72:
                last = self._their(rng.randrange(0, 40))
                yield message(Kind.ACK, self.session, 0, RANGE.pack(last, last))
            elif choice < 0.8:
                first = self._their(rng.randrange(0, 40))
                last = (first + rng.choice((0, 1, 5, 60))) % SEQ_MOD
                yield message(Kind.NACK, self.session, 0, RANGE.pack(first, last))
            elif choice < 0.92:
                yield message(Kind.ALIVE, self.session, self.protocol.next_seq - 1)
            elif choice < 0.96:
                yield message(Kind.HELLO, self.session, self.protocol.next_seq)
            else:
                yield message(Kind.RESYNC, self.session, 0)

    def _their(self, back: int) -> int:
        span = (self.their_next - self.their_first) % SEQ_MOD
        return (self.their_next - 1 - min(back, span)) % SEQ_MOD

    def _data(self) -> Iterator[bytes]:
        rng = self.rng
        for _ in range(rng.randrange(1, 30)):
            item = rng.choice(self.items)
            if rng.random() < 0.15:
                self.protocol.destroy(item.key)
            else:
                self.protocol.update(item.key, item.state())
        yield from self._sends(self.protocol.flush(0.0))

    @staticmethod
    def _sends(actions: list) -> Iterator[bytes]:
        for action in actions:
            if isinstance(action, Send):
                yield action.datagram


#: Same-length changes weigh most: they get past the length checks to the deeper ones.
OCTET_MUTATIONS = ("flip",) * 4 + ("set",) * 4 + ("insert", "delete", "truncate", "extend")


class Mutator:
    def __init__(self, rng: random.Random, sessions: Callable[[], list[int]]) -> None:
        self.rng = rng
        #: Session numbers worth using (the peer's, the receiver's): a forger knows them.
        self.sessions = sessions
        self.kinds = [
            self.octets, self.octets, self.header, self.length_field, self.records,
            self.records, self.records, self.ranges, self.arbitrary,
        ]  # fmt: skip

    def mutate(self, datagram: bytes) -> tuple[str, bytes]:
        """(what was done, the mutated datagram): one to three mutations in a row."""
        names = []
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            mutation = self.rng.choice(self.kinds)
            names.append(mutation.__name__)
            datagram = mutation(datagram)
        return "+".join(names), datagram

    def number(self, near: int, bits: int = 32) -> int:
        """A value a mutation puts in a field: near the old one, an edge, or anything."""
        rng = self.rng
        top = (1 << bits) - 1
        choice = rng.random()
        if choice < 0.4:
            return (near + rng.choice((-2, -1, 1, 2, 3, 100, -100, 1 << (bits - 1)))) & top
        if choice < 0.6:
            return rng.choice((0, 1, top, top - 1, 1 << (bits - 1)))
        return rng.getrandbits(bits)

    # Mutations ------------------------------------------------------------------------

    def octets(self, datagram: bytes) -> bytes:
        rng = self.rng
        data = bytearray(datagram)
        op = rng.choice(OCTET_MUTATIONS)
        if op == "extend" or not data:
            data += rng.randbytes(rng.randrange(1, 40))
            return bytes(data)
        at = rng.randrange(len(data))
        if op == "flip":
            data[at] ^= 1 << rng.randrange(8)
        elif op == "set":
            data[at] = rng.randrange(256)
        elif op == "insert":
            data[at:at] = rng.randbytes(rng.randrange(1, 16))
        elif op == "delete":
            del data[at : at + rng.randrange(1, 16)]
        else:
            del data[at:]
        return bytes(data)

    def header(self, datagram: bytes) -> bytes:
        """One header field changed; the body and its length stay."""
        if len(datagram) < HEADER.size:
            return self.octets(datagram)
        rng = self.rng
        fields = list(HEADER.unpack_from(datagram))
        which = rng.randrange(5)
        if which == 0:
            fields[0] = rng.choice((b"HR", b"\0\0", b"RH", rng.randbytes(2)))
        elif which == 1:
            fields[1] = self.number(fields[1], 8)
        elif which == 2:
            fields[2] = rng.choice((*Kind, 0, 7, self.number(fields[2], 8)))
        elif which == 3:
            known = self.sessions()
            fields[3] = (
                rng.choice(known) if known and rng.random() < 0.5 else self.number(fields[3])
            )
        else:
            fields[4] = self.number(fields[4])
        return HEADER.pack(*fields) + datagram[HEADER.size :]

    def length_field(self, datagram: bytes) -> bytes:
        if len(datagram) < HEADER.size:
            return self.octets(datagram)
        fields = list(HEADER.unpack_from(datagram))
        fields[5] = self.number(fields[5], 16)
        return HEADER.pack(*fields) + datagram[HEADER.size :]

    def records(self, datagram: bytes) -> bytes:
        """Records changed inside a well-framed DATA message (lengths fixed up or not)."""
        rng = self.rng
        try:
            kind, session, sequence, body = parse(datagram)
            parsed = records(body)
        except SyncError:
            return self.octets(datagram)
        if kind is not Kind.DATA:
            parsed = []
        raw = [[int(op), key, state] for op, key, state in parsed]
        change = rng.randrange(8)
        if change == 0 or not raw:  # one more record, of any make
            op = rng.choice((*Op, 0, 4, rng.randrange(256)))
            raw.append(
                [
                    op,
                    rng.randbytes(rng.choice((0, 1, 16, 40, 80))),
                    rng.randbytes(rng.randrange(60)),
                ]
            )
        elif change == 1:
            raw[rng.randrange(len(raw))][0] = rng.choice((*Op, 0, 4, rng.randrange(256)))
        elif change in (2, 3):
            target = raw[rng.randrange(len(raw))]
            part = rng.choice((1, 2))
            target[part] = self.octets(target[part])
        elif change == 4:  # a repeated record (and so a repeated key)
            raw.insert(rng.randrange(len(raw) + 1), list(rng.choice(raw)))
        elif change == 5:
            del raw[rng.randrange(len(raw))]
        elif change == 6:  # many small records: the most a datagram can carry
            raw += [[Op.UPDATE, rng.randbytes(1), b""] for _ in range(rng.randrange(1, 300))]
        else:
            target = raw[rng.randrange(len(raw))]
            target[2] = target[2] + rng.randbytes(rng.randrange(1, 300))
        body = b"".join(record(op, key, state) for op, key, state in raw)
        if raw and rng.random() < 0.25:  # a length field in one record that lies
            at = rng.randrange(len(raw))
            offset = sum(RECORD.size + len(k) + len(s) for _, k, s in raw[:at])
            op, key_len, state_len = RECORD.unpack_from(body, offset)
            if rng.random() < 0.5:
                key_len = self.number(key_len, 16)
            else:
                state_len = self.number(state_len, 16)
            body = (
                body[:offset] + RECORD.pack(op, key_len, state_len) + body[offset + RECORD.size :]
            )
        return message(Kind.DATA, session, sequence, body)

    def ranges(self, datagram: bytes) -> bytes:
        """An ACK or NACK with another range: backwards, huge, short, long."""
        rng = self.rng
        session = rng.choice(self.sessions() or [0])
        first = self.number(rng.getrandbits(32))
        choice = rng.randrange(4)
        if choice == 0:
            body = RANGE.pack(first, (first - rng.randrange(1, 10)) % SEQ_MOD)
        elif choice == 1:
            body = RANGE.pack(first, (first + rng.choice((4095, 4096, 1 << 20, 1 << 31))) % SEQ_MOD)
        elif choice == 2:
            body = RANGE.pack(first, first)[: rng.randrange(8)]
        else:
            body = RANGE.pack(first, first) + rng.randbytes(rng.randrange(1, 8))
        return message(rng.choice((Kind.ACK, Kind.NACK)), session, 0, body)

    def arbitrary(self, datagram: bytes) -> bytes:
        rng = self.rng
        if rng.random() < 0.5:
            return rng.randbytes(rng.randrange(0, 1500))
        # A good header before arbitrary octets gets further.
        body = rng.randbytes(rng.randrange(0, 1400))
        return message(
            rng.choice(list(Kind)), rng.choice(self.sessions() or [0]), self.number(0), body
        )
