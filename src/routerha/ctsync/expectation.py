"""A conntrack expectation as routerha syncs it, and its compact encoding on the sync link.

An expectation is what a helper (ftp, sip, ...) leaves in the kernel so that a
connection it announced (the FTP data connection) is admitted as RELATED and
NATed like its master. A backup that takes over an FTP session in the middle
needs both the master entry (with its helper) and the pending expectation.

What the kernel needs to recreate one (``ctnetlink_create_expect``): the master's
original tuple and zone (the master must exist there, with a helper), the
expected tuple and its mask, and optionally the helper name, flags, class and
the NAT binding the data connection follows (``CTA_EXPECT_NAT``: a direction and
the saved address and port; with ``fn == "nat-follow-master"`` it is required).

Encoding (network byte order), a key and a state, in the style of ``entry.py``:

- key: the marker ``E`` (so an expectation's key never equals an entry's key,
  whose first byte is the family 4 or 6), family (4|6), protocol, zone (16
  bits), the expected tuple (source, destination, source port, destination port);
- state: the master's protocol and original tuple, the mask (addresses and
  ports), timeout, flags and class (32 bits each), NAT (present flag,
  direction, the saved tuple: the master's protocol), the helper name and the
  expectation function name (each length-prefixed).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from routerha.ctsync.entry import Tuple
from routerha.ctsync.protocol import SyncError

#: First byte of every expectation key.
KEY_MARKER = ord("E")

_KEY = struct.Struct("!BBBH")
_PORTS = struct.Struct("!HH")
_FIXED = struct.Struct("!IIIBB")  # timeout, flags, class, NAT present, NAT direction


@dataclass(frozen=True)
class ExpectationNat:
    """The binding a NATed expected connection follows (``CTA_EXPECT_NAT``).

    ``tuple`` holds the kernel's ``saved_addr`` as its source and ``saved_proto``
    (the port) as its source port; destination and destination port are zero.
    """

    dir: int
    tuple: Tuple


@dataclass(frozen=True)
class Expectation:
    #: The master conntrack's original tuple; with ``zone`` it finds the master.
    master: Tuple
    #: The connection expected, and which of its fields must match (the mask).
    expected: Tuple
    mask: Tuple
    zone: int = 0
    #: Seconds left to live.
    timeout: int = 0
    helper: str | None = None
    flags: int = 0
    expect_class: int = 0
    nat: ExpectationNat | None = None
    #: The kernel function run on the expected connection ("nat-follow-master").
    fn: str | None = None

    @property
    def family(self) -> int:
        return self.expected.src.version

    @property
    def key(self) -> bytes:
        """The expectation's identity: zone and expected tuple (the kernel allows one per tuple)."""
        return (
            _KEY.pack(KEY_MARKER, self.family, self.expected.proto, self.zone)
            + self.expected.pack()
        )

    def state(self) -> bytes:
        nat = self.nat
        if nat is not None:
            nat_part = _FIXED.pack(self.timeout, self.flags, self.expect_class, 1, nat.dir)
            nat_tuple = nat.tuple.pack()
        else:
            nat_part = _FIXED.pack(self.timeout, self.flags, self.expect_class, 0, 0)
            size = 4 if self.family == 4 else 16
            nat_tuple = bytes(2 * size + _PORTS.size)
        return (
            bytes([self.master.proto])
            + self.master.pack()
            + self.mask.pack()
            + nat_part
            + nat_tuple
            + _name(self.helper)
            + _name(self.fn)
        )


def is_expectation_key(key: bytes) -> bool:
    """Whether ``key`` is an expectation's (not an entry's)."""
    return key[:1] == bytes([KEY_MARKER])


def decode(key: bytes, state: bytes) -> Expectation:
    """The expectation behind a key and a state; SyncError if they are malformed."""
    if len(key) < _KEY.size:
        raise SyncError("expectation key too short")
    marker, family, proto, zone = _KEY.unpack_from(key)
    if marker != KEY_MARKER:
        raise SyncError("not an expectation key")
    if family not in (4, 6):
        raise SyncError(f"expectation family {family}")
    size = 4 if family == 4 else 16
    tuple_size = 2 * size + _PORTS.size
    if len(key) != _KEY.size + tuple_size:
        raise SyncError("expectation key length does not match its family")
    expected = Tuple.unpack(key, _KEY.size, size, proto)
    fixed = 1 + 3 * tuple_size + _FIXED.size
    if len(state) < fixed + 2:
        raise SyncError("expectation state too short")
    master_proto = state[0]
    master = Tuple.unpack(state, 1, size, master_proto)
    mask = Tuple.unpack(state, 1 + tuple_size, size, proto)
    offset = 1 + 2 * tuple_size
    timeout, flags, expect_class, has_nat, nat_dir = _FIXED.unpack_from(state, offset)
    offset += _FIXED.size
    nat_tuple = Tuple.unpack(state, offset, size, master_proto)
    if has_nat not in (0, 1):
        raise SyncError("expectation NAT flag is not 0 or 1")
    nat = ExpectationNat(nat_dir, nat_tuple) if has_nat else None
    offset += tuple_size
    helper, offset = _read_name(state, offset)
    fn, offset = _read_name(state, offset)
    if offset != len(state):
        raise SyncError("expectation state length does not match")
    return Expectation(master, expected, mask, zone, timeout, helper, flags, expect_class, nat, fn)


def _name(value: str | None) -> bytes:
    data = (value or "").encode("ascii")
    if len(data) > 255:
        raise ValueError(f"name too long: {value!r}")
    return bytes([len(data)]) + data


def _read_name(data: bytes, offset: int) -> tuple[str | None, int]:
    if offset >= len(data):
        raise SyncError("expectation state truncated")
    length = data[offset]
    end = offset + 1 + length
    if end > len(data):
        raise SyncError("expectation state truncated")
    try:
        return data[offset + 1 : end].decode("ascii") or None, end
    except UnicodeDecodeError:
        raise SyncError("name is not ASCII") from None
