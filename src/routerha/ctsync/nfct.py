"""pyroute2's ctnetlink message classes, completed where they fall short.

pyroute2 0.9.7's ``nfct_msg`` is close to the kernel's policy (``ct_nla_policy``
in net/netfilter/nf_conntrack_netlink.c) but not quite, and it has no
expectation messages at all. Rather than a second codec, these classes extend
pyroute2's own:

- ``CTA_HELP`` is a nested attribute ``{CTA_HELP_NAME, CTA_HELP_INFO}``;
  pyroute2 maps it to a string, so a helper cannot be set on a new entry
  (EINVAL) and a dumped one decodes as garbage.
- ``CTA_TUPLE_ZONE`` (a directional zone inside a tuple) is missing, and so
  are ``CTA_TIMESTAMP_EVENT`` and the padding attributes of counters and
  timestamps (harmless, but they decode as UNKNOWN).
- Expectations (subsystem ``NFNL_SUBSYS_CTNETLINK_EXP``) get ``exp_msg``.

``CtSocket`` is pyroute2's asyncio ctnetlink socket with these classes
registered for both subsystems, so replies and events decode with them. The
lower-case class names follow pyroute2's (``nfct_msg``, ``ifinfmsg``).
"""

from __future__ import annotations

import socket
from typing import Any, TypeVar

from pyroute2.netlink import NLA_F_NESTED, nla
from pyroute2.netlink.nfnetlink import (
    NFNL_SUBSYS_CTNETLINK,
    NFNL_SUBSYS_CTNETLINK_EXP,
    nfgen_msg,
)
from pyroute2.netlink.nfnetlink.nfctsocket import (
    IPCTNL_MSG_CT_DELETE,
    IPCTNL_MSG_CT_GET,
    IPCTNL_MSG_CT_GET_CTRZERO,
    IPCTNL_MSG_CT_GET_DYING,
    IPCTNL_MSG_CT_GET_UNCONFIRMED,
    IPCTNL_MSG_CT_NEW,
    AsyncNFCTSocket,
    nfct_msg,
)

# Expectation message types (include/uapi/linux/netfilter/nfnetlink_conntrack.h).
IPCTNL_MSG_EXP_NEW = 0
IPCTNL_MSG_EXP_GET = 1
IPCTNL_MSG_EXP_DELETE = 2

#: Full netlink message types: subsystem in the high byte.
CT_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW
CT_GET = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET
CT_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE
EXP_NEW = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW
EXP_GET = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_GET
EXP_DELETE = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_DELETE

# Expectation flags (include/uapi/linux/netfilter/nf_conntrack_common.h).
NF_CT_EXPECT_PERMANENT = 0x1
NF_CT_EXPECT_INACTIVE = 0x2
NF_CT_EXPECT_USERSPACE = 0x4

C = TypeVar("C", bound=type)


def _fresh(cls: C) -> C:
    """Make pyroute2 compile ``cls``'s own ``nla_map``.

    ``nlmsg_base`` caches the compiled map behind a name-mangled class flag that
    subclasses inherit: once the parent was instantiated, a subclass would
    silently reuse the parent's compiled map and ignore its own ``nla_map``.
    """
    cls._nlmsg_base__compiled_nla = False  # type: ignore[attr-defined]
    return cls


def _replace(nla_map: tuple[tuple[str, str], ...], **changes: str) -> tuple[tuple[str, str], ...]:
    """``nla_map`` with some types replaced; names not in it are appended in order."""
    out = tuple((name, changes.pop(name, kind)) for name, kind in nla_map)
    return out + tuple(changes.items())


@_fresh
class ct_msg(nfct_msg):
    """A conntrack message (``IPCTNL_MSG_CT_*``) as the 6.x kernel defines it."""

    nla_map = _replace(
        nfct_msg.nla_map,
        CTA_HELP="cta_help",
        CTA_COUNTERS_ORIG="cta_counters",
        CTA_COUNTERS_REPLY="cta_counters",
        CTA_TIMESTAMP="cta_timestamp",
        CTA_TIMESTAMP_EVENT="be64",  # 27, kernels >= 6.10, in events only
    )

    @_fresh
    class cta_tuple(nfct_msg.cta_tuple):
        nla_map = (*nfct_msg.cta_tuple.nla_map, ("CTA_TUPLE_ZONE", "be16"))

    @_fresh
    class cta_help(nla):
        nla_flags = NLA_F_NESTED
        nla_map = (
            ("CTA_HELP_UNSPEC", "none"),
            ("CTA_HELP_NAME", "asciiz"),
            ("CTA_HELP_INFO", "hex"),
        )

    @_fresh
    class cta_counters(nfct_msg.cta_counters):
        nla_map = (*nfct_msg.cta_counters.nla_map, ("CTA_COUNTERS_PAD", "hex"))

    @_fresh
    class cta_timestamp(nfct_msg.cta_timestamp):
        nla_map = (*nfct_msg.cta_timestamp.nla_map, ("CTA_TIMESTAMP_PAD", "hex"))


@_fresh
class exp_msg(nfgen_msg):
    """An expectation message (``IPCTNL_MSG_EXP_*``, subsystem 2)."""

    prefix = "CTA_EXPECT_"
    nla_map = (
        ("CTA_EXPECT_UNSPEC", "none"),
        ("CTA_EXPECT_MASTER", "cta_tuple"),
        ("CTA_EXPECT_TUPLE", "cta_tuple"),
        ("CTA_EXPECT_MASK", "cta_tuple"),
        ("CTA_EXPECT_TIMEOUT", "be32"),
        ("CTA_EXPECT_ID", "be32"),
        ("CTA_EXPECT_HELP_NAME", "asciiz"),
        ("CTA_EXPECT_ZONE", "be16"),
        ("CTA_EXPECT_FLAGS", "be32"),
        ("CTA_EXPECT_CLASS", "be32"),
        ("CTA_EXPECT_NAT", "cta_expect_nat"),
        ("CTA_EXPECT_FN", "asciiz"),
    )
    cta_tuple = ct_msg.cta_tuple

    @_fresh
    class cta_expect_nat(nla):
        nla_flags = NLA_F_NESTED
        nla_map = (
            ("CTA_EXPECT_NAT_UNSPEC", "none"),
            ("CTA_EXPECT_NAT_DIR", "be32"),
            ("CTA_EXPECT_NAT_TUPLE", "cta_tuple"),
        )
        cta_tuple = ct_msg.cta_tuple


class CtSocket(AsyncNFCTSocket):
    """pyroute2's asyncio ctnetlink socket decoding with ``ct_msg`` and ``exp_msg``.

    ``nfgen_family`` defaults to AF_UNSPEC: dumps and flushes then cover both
    address families; requests about one entry set their own family.
    """

    def __init__(self, nfgen_family: int = socket.AF_UNSPEC, **kwargs: Any) -> None:
        super().__init__(nfgen_family, **kwargs)
        ct = NFNL_SUBSYS_CTNETLINK << 8
        exp = NFNL_SUBSYS_CTNETLINK_EXP << 8
        self.register_policy(
            {
                ct | kind: ct_msg
                for kind in (
                    IPCTNL_MSG_CT_NEW,
                    IPCTNL_MSG_CT_GET,
                    IPCTNL_MSG_CT_DELETE,
                    IPCTNL_MSG_CT_GET_CTRZERO,
                    IPCTNL_MSG_CT_GET_DYING,
                    IPCTNL_MSG_CT_GET_UNCONFIRMED,
                )
            }
        )
        self.register_policy(
            {
                exp | kind: exp_msg
                for kind in (IPCTNL_MSG_EXP_NEW, IPCTNL_MSG_EXP_GET, IPCTNL_MSG_EXP_DELETE)
            }
        )
