"""Netlink message framing (RFC 3549): headers, attributes, error answers.

One definition of ``struct nlmsghdr`` and ``struct nlattr`` for every netlink
user in routerha (rtnetlink in the daemon, nfnetlink in the conntrack sync).
Parsing is bounded by what the kernel handed over: a length that runs past the
buffer, or one shorter than a header, ends the walk instead of raising.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

#: struct nlmsghdr: length, type, flags, sequence number, port id.
HEADER = struct.Struct("=IHHII")
#: struct nlmsgerr, after the header: the negative errno (0: an acknowledgement).
ERRNO = struct.Struct("=i")
#: struct nlattr: length, type.
ATTR = struct.Struct("=HH")

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

NLA_F_NESTED = 0x8000
#: The attribute type without the nested and byte-order flags.
NLA_TYPE_MASK = 0x3FFF


def align(length: int) -> int:
    return (length + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 octets."""
    length = ATTR.size + len(payload)
    return ATTR.pack(length, kind) + payload + b"\0" * (align(length) - length)


def nested(kind: int, *children: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(children))


def message(kind: int, flags: int, sequence: int, body: bytes) -> bytes:
    """One netlink message (the port id is left to the kernel)."""
    return HEADER.pack(HEADER.size + len(body), kind, flags, sequence, 0) + body


def messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, sequence, payload) of each whole message in one datagram."""
    offset = 0
    while offset + HEADER.size <= len(data):
        length, kind, flags, sequence, _port = HEADER.unpack_from(data, offset)
        if length < HEADER.size or offset + length > len(data):
            return
        yield kind, flags, sequence, data[offset + HEADER.size : offset + length]
        offset += align(length)


def attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """The attributes from ``offset`` on, by type (the last one of a type wins)."""
    found: dict[int, bytes] = {}
    while offset + ATTR.size <= len(data):
        length, kind = ATTR.unpack_from(data, offset)
        if length < ATTR.size or offset + length > len(data):
            break
        found[kind & NLA_TYPE_MASK] = data[offset + ATTR.size : offset + length]
        offset += align(length)
    return found


def error_code(payload: bytes) -> int:
    """The errno of an NLMSG_ERROR (or NLMSG_DONE) payload: 0 for an acknowledgement
    (or a dump that ended well); EIO for one too short to say."""
    if len(payload) < ERRNO.size:
        return errno.EIO
    return -ERRNO.unpack_from(payload)[0]


def cstring(value: bytes) -> str:
    """A NUL-terminated attribute as text."""
    return value.split(b"\0", 1)[0].decode(errors="replace")
