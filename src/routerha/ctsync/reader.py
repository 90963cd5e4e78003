"""Reading ctnetlink messages quickly, with pyroute2's own schema.

pyroute2 decodes a conntrack message in about 0.2 ms (an object per attribute,
lazily), which is too slow for a busy table: events arrive faster than that
and overrun the socket, and a dump of 100,000 entries takes 20 s. ``Reader``
walks the attribute chain itself, but knows nothing of ctnetlink on its own:
attribute names, nesting and value types come from the pyroute2 classes
(``ct_msg``, ``exp_msg`` of nfct.py), and each value is decoded the way that
class decodes it (its struct format, an address, a string). What it cannot
decode like pyroute2 (a class with a decoder of its own, such as counters'
``hex``) it leaves as ``Undecoded``; nothing routerhad reads is of that kind, and
tests/ctsync_kernel/test_reader.py compares it with pyroute2 message by message.

A decoded message is nested dicts: attribute name -> value, or -> dict for a
nested attribute; the last of repeated attributes wins, as in kernel.py's
reading of pyroute2 messages.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

from pyroute2.netlink import nla, nla_base, nlmsg_base

from routerha import nlmsg

_NFGENMSG_SIZE = 4
_NLA = nlmsg.ATTR
_TYPE_MASK = nlmsg.NLA_TYPE_MASK


@dataclass(frozen=True)
class Undecoded:
    """The raw value of an attribute whose pyroute2 class decodes in its own way."""

    data: bytes


@dataclass(frozen=True)
class Message:
    type: int
    flags: int
    seq: int
    pid: int
    #: The errno of an NLMSG_ERROR (0: an acknowledgement); None for other messages.
    error: int | None
    #: The attributes (nested dicts), for messages of the subsystems the reader knows.
    attrs: dict[str, Any] | None


#: A value decoder: (data, offset, length) -> value.
Decoder = Callable[[bytes, int, int], Any]
#: A schema: NLA type -> (name, value decoder or nested schema).
Schema = dict[int, tuple[str, Any]]


def _entries(cls: type) -> list[tuple[int, str, str]]:
    out = []
    for index, item in enumerate(cls.nla_map):
        if len(item) == 3:
            out.append((int(item[0]), str(item[1]), str(item[2])))
        else:
            out.append((index, str(item[0]), str(item[1])))
    return out


def _struct_decoder(fmt: str) -> Decoder:
    packer = struct.Struct(fmt)

    def decode(data: bytes, offset: int, length: int) -> Any:
        if length < packer.size:
            return Undecoded(bytes(data[offset : offset + length]))
        values = packer.unpack_from(data, offset)
        return values[0] if len(values) == 1 else values

    return decode


def _address_decoder(family: int) -> Decoder:
    def decode(data: bytes, offset: int, length: int) -> Any:
        raw = bytes(data[offset : offset + length])
        try:
            return socket.inet_ntop(family, raw)
        except ValueError:
            return Undecoded(raw)

    return decode


def _string_decoder(zero_terminated: bool) -> Decoder:
    def decode(data: bytes, offset: int, length: int) -> Any:
        raw = bytes(data[offset : offset + length])
        if zero_terminated:
            raw = raw.strip(b"\0")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw

    return decode


def _none(data: bytes, offset: int, length: int) -> Any:
    return None


def _undecoded(data: bytes, offset: int, length: int) -> Any:
    return Undecoded(bytes(data[offset : offset + length]))


_GENERIC_DECODE = (nla_base.decode, nla.decode)


def _value_decoder(klass: type) -> Decoder:
    """How pyroute2's ``klass`` decodes its value, for the classes a conntrack message uses."""
    name = klass.__name__
    if name in ("ip4addr", "ip6addr"):
        return _address_decoder(socket.AF_INET if name == "ip4addr" else socket.AF_INET6)
    if name == "none":
        return _none
    if name in ("string", "asciiz"):
        return _string_decoder(name == "asciiz")
    fields = getattr(klass, "fields", ())
    # pyroute2's generic decoding (``nla.decode`` only drops the header afterwards).
    plain = klass.decode in _GENERIC_DECODE and klass.ft_decode is nla_base.ft_decode
    if plain and len(fields) == 1 and fields[0][0] == "value" and fields[0][1] != "s":
        try:
            return _struct_decoder(fields[0][1])
        except struct.error:
            return _undecoded
    return _undecoded


def schema_of(cls: type, seen: dict[type, Schema] | None = None) -> Schema:
    """The schema pyroute2's class ``cls`` (an nlmsg or a nested nla) decodes with.

    ``seen``: schemas made already, by class (nested classes are shared).
    """
    seen = {} if seen is None else seen
    if cls in seen:
        return seen[cls]
    schema: Schema = {}
    seen[cls] = schema
    for number, name, kind in _entries(cls):
        klass = getattr(cls, kind, None)
        if not isinstance(klass, type):
            schema[number] = (name, _undecoded)
        elif getattr(klass, "nla_map", None) and not getattr(klass, "fields", ()):
            schema[number] = (name, schema_of(klass, seen))
        else:
            schema[number] = (name, _value_decoder(klass))
    return schema


def decode_attrs(schema: Schema, data: bytes, offset: int, end: int) -> dict[str, Any]:
    """The attribute chain from ``offset`` to ``end`` as nested dicts."""
    out: dict[str, Any] = {}
    while offset + 4 <= end:
        length, kind = _NLA.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            break  # malformed: pyroute2 would stop here too
        known = schema.get(kind & _TYPE_MASK)
        if known is not None:
            name, how = known
            if isinstance(how, dict):
                out[name] = decode_attrs(how, data, offset + 4, offset + length)
            else:
                out[name] = how(data, offset + 4, length - 4)
        offset += (length + 3) & ~3
    return out


class Reader:
    """Splits netlink datagrams into messages and decodes the attributes of known types.

    ``kinds``: netlink message type -> pyroute2 message class (nfgenmsg-based).
    """

    def __init__(self, kinds: dict[int, type[nlmsg_base]]) -> None:
        seen: dict[type, Schema] = {}
        self.schemas = {t: schema_of(c, seen) for t, c in kinds.items()}

    def messages(self, data: bytes) -> Iterator[Message]:
        offset = 0
        while offset + nlmsg.HEADER.size <= len(data):
            length, mtype, flags, seq, pid = nlmsg.HEADER.unpack_from(data, offset)
            if length < nlmsg.HEADER.size or offset + length > len(data):
                return  # truncated: the rest of the datagram is unusable
            body = offset + nlmsg.HEADER.size
            error = None
            attrs = None
            if mtype == nlmsg.NLMSG_ERROR:
                error = (
                    -nlmsg.ERRNO.unpack_from(data, body)[0]
                    if length >= nlmsg.HEADER.size + 4
                    else 0
                )
            elif mtype != nlmsg.NLMSG_DONE:
                schema = self.schemas.get(mtype)
                if schema is not None:
                    attrs = decode_attrs(schema, data, body + _NFGENMSG_SIZE, offset + length)
            yield Message(mtype, flags, seq, pid, error, attrs)
            offset += (length + 3) & ~3
