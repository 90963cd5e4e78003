"""Netlink messages encoded from templates: pyroute2's layout, reused per shape.

pyroute2 encodes a ctnetlink create message in about 0.35 ms (pure Python,
an object per attribute), which makes a takeover commit of 100,000 entries
take half a minute. But the messages routerhad writes come in few *shapes*:
the same attribute tree (names and nesting) with other values. So the first
message of each shape is encoded by pyroute2 with ``ct_msg`` / ``exp_msg``, and
the encoded tree tells where each leaf value sits and how pyroute2 packed it
(its ``fields`` struct format, or an IP address); later messages of that shape
are a copy of those bytes with their values packed in place, about 40 times
faster. This is not a second codec: the layout, the attribute types and the
padding all come from pyroute2's classes, and a shape is used only after
re-packing its own first message reproduced pyroute2's bytes exactly (otherwise
that shape is always left to pyroute2).

Strings other than addresses (a helper name) change a message's length, so
their values are part of the shape. Those come from the peer, so each shape
keeps at most ``MAX_TEMPLATES_PER_SHAPE`` of them: a peer that sends a new
helper name with every entry gets pyroute2's encoding, not one more template
each (5,000 such entries held 22 MB of templates before the limit).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

from pyroute2.netlink import nla_slot, nlmsg_base

#: Where the flags and the sequence number sit in a netlink header.
FLAGS_OFFSET = 6
SEQ_OFFSET = 8
_FLAGS = struct.Struct("=H")
_SEQ = struct.Struct("=I")

#: How a leaf is packed: a struct, or an address of this many octets (inet_pton).
Packer = Union[struct.Struct, int]
#: A leaf that is part of the shape (its value is in the template already).
_IN_SHAPE = None
#: A shape not seen yet (None in the table: a shape pyroute2 always encodes).
_UNSEEN = object()
#: Templates kept per shape (one per helper name, say: a handful in real tables).
MAX_TEMPLATES_PER_SHAPE = 64


@dataclass(frozen=True)
class _Template:
    data: bytes
    #: (offset, packer) of each leaf outside the shape, in attribute order.
    leaves: tuple[tuple[int, Packer], ...]


@dataclass(frozen=True)
class _Compiled:
    """What a tree of attribute names compiles to: which leaves are part of the shape."""

    #: Index (in attribute order) of each leaf whose value is part of the shape.
    shaped: tuple[int, ...]
    #: One template per combination of those values.
    templates: dict[tuple[Any, ...], _Template]


def _flatten(attrs: list, names: list[Any], values: list[Any]) -> bool:
    """The tree of ``attrs`` names (nesting included) and its leaf values in order.

    False for values a template cannot represent (a dict that is not nested
    attributes or a single ``value``).
    """
    for cell in attrs:
        name, value = cell[0], cell[1]
        if len(cell) > 2:
            return False  # explicit NLA flags: leave to pyroute2
        if isinstance(value, dict):
            if "attrs" in value and len(value) == 1:
                names.append((name, len(value["attrs"])))
                if not _flatten(value["attrs"], names, values):
                    return False
                continue
            if set(value) != {"value"}:
                return False
            value = value["value"]
        names.append(name)
        values.append(value)
    return True


def _leaves(msg: nlmsg_base, out: list[tuple[str, nlmsg_base]]) -> None:
    """The encoded leaf NLAs of ``msg`` in attribute order."""
    for slot in msg["attrs"]:
        if not isinstance(slot, nla_slot):
            continue  # a name pyroute2 does not know: it encoded nothing for it
        name, nla = slot.cell
        if nla.nla_map:
            _leaves(nla, out)
        else:
            out.append((name, nla))


def _packer(nla: nlmsg_base, value: Any) -> Packer | None:
    """How pyroute2 packed this leaf, or None if it is not fixed-size (part of the shape)."""
    size = nla.length - 4
    fields = nla.fields
    if len(fields) != 1 or fields[0][0] != "value":
        return _IN_SHAPE
    fmt = fields[0][1]
    if fmt == "s":
        if isinstance(value, str) and type(nla).__name__ in ("ip4addr", "ip6addr"):
            return size if size in (4, 16) else _IN_SHAPE
        return _IN_SHAPE
    try:
        packer = struct.Struct(fmt)
    except struct.error:
        return _IN_SHAPE
    return packer if packer.size == size else _IN_SHAPE


def _pack(data: bytearray, offset: int, packer: Packer, value: Any) -> None:
    if isinstance(packer, int):
        family = socket.AF_INET if packer == 4 else socket.AF_INET6
        data[offset : offset + packer] = socket.inet_pton(family, value)
    elif isinstance(value, tuple):
        packer.pack_into(data, offset, *value)
    else:
        packer.pack_into(data, offset, value)


def _encode_pyroute2(
    kind: type[nlmsg_base], family: int, mtype: int, flags: int, seq: int, attrs: list
) -> nlmsg_base:
    msg = kind()
    msg["nfgen_family"] = family
    msg["attrs"] = list(attrs)  # pyroute2 replaces the cells of the list it encodes
    header = msg["header"]
    header["type"] = mtype
    header["flags"] = flags
    header["sequence_number"] = seq
    header["pid"] = 0
    msg.encode()
    return msg


class Templates:
    """Encode messages of one class (``ct_msg``, ``exp_msg``); safe to use from threads."""

    def __init__(self, kind: type[nlmsg_base]) -> None:
        self.kind = kind
        self._compiled: dict[tuple[Any, ...], _Compiled | None] = {}  # None: unfit
        self._lock = threading.Lock()
        #: Messages encoded from a template, and by pyroute2 (first of a shape, or unfit).
        self.hits = 0
        self.misses = 0

    def encode(self, family: int, mtype: int, flags: int, seq: int, attrs: list) -> bytes:
        """The message's bytes, exactly as pyroute2 would encode them."""
        names: list[Any] = [family, mtype]
        values: list[Any] = []
        if _flatten(attrs, names, values):
            shape = tuple(names)
            compiled = self._compiled.get(shape, _UNSEEN)
            if compiled is None:
                return self._pyroute2(family, mtype, flags, seq, attrs)
            if isinstance(compiled, _Compiled):
                key = tuple(values[i] for i in compiled.shaped)
                template = compiled.templates.get(key)
                if template is not None:
                    self.hits += 1
                    return _fill(template, values, compiled.shaped, flags, seq)
            return self._learn(shape, values, family, mtype, flags, seq, attrs)
        return self._pyroute2(family, mtype, flags, seq, attrs)

    def _pyroute2(self, family: int, mtype: int, flags: int, seq: int, attrs: list) -> bytes:
        self.misses += 1
        return bytes(_encode_pyroute2(self.kind, family, mtype, flags, seq, attrs).data)

    def _learn(
        self,
        shape: tuple[Any, ...],
        values: list[Any],
        family: int,
        mtype: int,
        flags: int,
        seq: int,
        attrs: list,
    ) -> bytes:
        """Encode with pyroute2 and keep the layout as this shape's template, if it holds."""
        self.misses += 1
        msg = _encode_pyroute2(self.kind, family, mtype, flags, seq, attrs)
        data = bytes(msg.data)
        leaves: list[tuple[str, nlmsg_base]] = []
        _leaves(msg, leaves)
        if len(leaves) != len(values):  # pyroute2 left out a name it does not know
            with self._lock:
                self._compiled[shape] = None
            return data
        packers = [_packer(nla, value) for (_name, nla), value in zip(leaves, values)]
        shaped = tuple(i for i, p in enumerate(packers) if p is _IN_SHAPE)
        template = _Template(
            data,
            tuple(
                (nla.offset + 4, packer)
                for (_name, nla), packer in zip(leaves, packers)
                if packer is not None
            ),
        )
        # Trust the template only if it reproduces pyroute2's own bytes.
        try:
            faithful = _fill(template, values, shaped, flags, seq) == data
        except (struct.error, OSError, TypeError, ValueError):
            faithful = False
        with self._lock:
            compiled = self._compiled.get(shape)
            if not faithful:
                self._compiled[shape] = None
            else:
                if compiled is None:
                    compiled = self._compiled[shape] = _Compiled(shaped, {})
                full = len(compiled.templates) >= MAX_TEMPLATES_PER_SHAPE
                if compiled.shaped == shaped and not full:
                    compiled.templates[tuple(values[i] for i in shaped)] = template
        return data


def _fill(
    template: _Template, values: list[Any], shaped: tuple[int, ...], flags: int, seq: int
) -> bytes:
    data = bytearray(template.data)
    _FLAGS.pack_into(data, FLAGS_OFFSET, flags)
    _SEQ.pack_into(data, SEQ_OFFSET, seq)
    leaves = iter(template.leaves)
    for index, value in enumerate(values):
        if shaped and index in shaped:
            continue
        offset, packer = next(leaves)
        _pack(data, offset, packer, value)
    return bytes(data)


def restamp(message: bytes, add_flags: int, seq: int) -> bytes:
    """A prepared message with more flags and its sequence number."""
    data = bytearray(message)
    (flags,) = _FLAGS.unpack_from(data, FLAGS_OFFSET)
    _FLAGS.pack_into(data, FLAGS_OFFSET, flags | add_flags)
    _SEQ.pack_into(data, SEQ_OFFSET, seq)
    return bytes(data)


#: Flags and sequence number, next to each other in struct nlmsghdr.
_FLAGS_SEQ = struct.Struct("=HI")


def restamp_all(messages: Sequence[bytes], add_flags: int, seqs: range, last_flags: int) -> bytes:
    """Prepared messages, one after another, each with ``add_flags`` and its sequence
    number from ``seqs``; the last one also with ``last_flags``.

    What ``restamp`` does to each, in one buffer: a takeover sends 100,000 of them.
    """
    data = bytearray(b"".join(messages))
    offset = 0
    for message, seq in zip(messages, seqs):
        at = offset + FLAGS_OFFSET
        _FLAGS_SEQ.pack_into(data, at, _FLAGS.unpack_from(data, at)[0] | add_flags, seq)
        offset += len(message)
    if messages:
        at = offset - len(messages[-1]) + FLAGS_OFFSET
        _FLAGS.pack_into(data, at, _FLAGS.unpack_from(data, at)[0] | last_flags)
    return bytes(data)
