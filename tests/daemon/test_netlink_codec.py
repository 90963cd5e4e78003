"""rtnetlink messages as routerhad writes and reads them (routerha.nlmsg and
routerha.daemon.netlink), checked against the kernel where that needs no root:
a dump of this network namespace's links and addresses."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket

import pytest

from routerha import nlmsg
from routerha.daemon import netlink


def test_messages_stop_at_a_length_that_runs_past_the_datagram() -> None:
    one = nlmsg.message(netlink.RTM_NEWLINK, 0, 7, b"\0" * 16)
    cut = nlmsg.message(netlink.RTM_NEWLINK, 0, 8, b"\0" * 16)[:-4]
    assert [m[2] for m in nlmsg.messages(one + cut)] == [7]


def test_messages_stop_at_a_length_shorter_than_a_header() -> None:
    bogus = nlmsg.HEADER.pack(3, netlink.RTM_NEWLINK, 0, 1, 0) + b"\0" * 32
    assert list(nlmsg.messages(bogus)) == []


def test_attributes_that_run_past_the_message_are_left_out() -> None:
    good = nlmsg.attr(netlink.IFLA_IFNAME, b"eth0\0")
    overlong = nlmsg.ATTR.pack(200, netlink.IFLA_ADDRESS) + b"\0" * 6
    assert nlmsg.attrs(good + overlong) == {netlink.IFLA_IFNAME: b"eth0\0"}


def test_nested_attribute_types_lose_their_flag() -> None:
    found = nlmsg.attrs(nlmsg.nested(netlink.IFLA_LINKINFO, nlmsg.attr(1, b"macvlan\0")))
    assert set(found) == {netlink.IFLA_LINKINFO}


def link_payload(index: int, name: bytes, flags: int, operstate: int | None) -> bytes:
    body = netlink.IFINFOMSG.pack(0, 1, index, flags, 0)
    body += nlmsg.attr(netlink.IFLA_IFNAME, name + b"\0")
    body += nlmsg.attr(netlink.IFLA_ADDRESS, bytes.fromhex("02000000aa01"))
    if operstate is not None:
        body += nlmsg.attr(netlink.IFLA_OPERSTATE, bytes([operstate]))
    return body


@pytest.mark.parametrize(
    ("flags", "operstate", "up"),
    [(1, 6, True), (1, 0, True), (1, 2, False), (0, 6, False), (1, None, False)],
)
def test_a_link_is_up_when_administratively_up_and_operationally_up_or_unknown_not_unsaid(
    flags: int, operstate: int | None, up: bool
) -> None:
    link = netlink.parse_link(link_payload(4, b"eth1", flags, operstate))
    assert link == netlink.Link(4, "eth1", bytes.fromhex("02000000aa01"), up)


def test_a_link_message_without_a_name_or_cut_short_is_no_link() -> None:
    assert netlink.parse_link(netlink.IFINFOMSG.pack(0, 1, 4, 1, 0)) is None
    assert netlink.parse_link(b"\0" * 8) is None


def test_an_address_request_names_the_address_twice_with_its_prefix() -> None:
    iface = ipaddress.ip_interface("192.0.2.10/24")
    request = netlink.address_request(netlink.RTM_NEWADDR, 5, iface)
    ((kind, flags, _seq, payload),) = nlmsg.messages(request)
    assert kind == netlink.RTM_NEWADDR
    assert flags & nlmsg.NLM_F_CREATE and flags & nlmsg.NLM_F_EXCL and flags & nlmsg.NLM_F_ACK
    assert netlink.parse_address(payload) == (5, iface)
    attrs = nlmsg.attrs(payload, netlink.IFADDRMSG.size)
    assert attrs[netlink.IFA_LOCAL] == attrs[netlink.IFA_ADDRESS] == iface.ip.packed


def test_an_ipv6_address_request_skips_dad_when_asked() -> None:
    iface = ipaddress.ip_interface("2001:db8::5/64")
    payload = netlink.address_body(3, iface, nodad=True)
    assert netlink.IFADDRMSG.unpack_from(payload)[2] == netlink.IFA_F_NODAD
    assert netlink.parse_address(payload) == (3, iface)


def test_a_point_to_point_address_is_the_local_one_not_the_peer() -> None:
    body = netlink.IFADDRMSG.pack(socket.AF_INET, 32, 0, 0, 9)
    body += nlmsg.attr(netlink.IFA_ADDRESS, bytes([10, 0, 0, 2]))  # the peer
    body += nlmsg.attr(netlink.IFA_LOCAL, bytes([10, 0, 0, 1]))
    assert netlink.parse_address(body) == (9, ipaddress.ip_interface("10.0.0.1/32"))


def test_an_address_of_the_wrong_size_for_its_family_is_left_out() -> None:
    body = netlink.IFADDRMSG.pack(socket.AF_INET, 24, 0, 0, 9)
    body += nlmsg.attr(netlink.IFA_LOCAL, bytes(16))
    assert netlink.parse_address(body) is None


def test_the_kernel_answers_link_and_address_requests_as_parsed() -> None:
    """Loopback, in whatever namespace the tests run: index 1, up, 127.0.0.1/8."""

    async def ask() -> tuple[object, object, object, list[object]]:
        nl = netlink.Netlink()
        try:
            lo = await nl.link("lo")
            missing = await nl.link("no-such-link0")
            addresses = await nl.addresses(1, socket.AF_INET)
            links = await nl.links()
            return lo, missing, addresses, links
        finally:
            nl.close()

    lo, missing, addresses, links = asyncio.run(ask())
    assert lo == netlink.Link(1, "lo", bytes(6), True)
    assert missing is None
    assert ipaddress.ip_interface("127.0.0.1/8") in addresses  # type: ignore[operator]
    assert lo in links  # type: ignore[operator]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing links needs root (CAP_NET_ADMIN)")
def test_a_missing_link_is_ignored_by_a_delete_and_refused_by_a_change() -> None:
    async def change_a_missing_link() -> None:
        nl = netlink.Netlink()
        try:
            await nl.delete_link(0x7FFFFFFF)  # ENODEV: already gone, as wanted
            with pytest.raises(OSError) as caught:
                await nl.set_protodown(0x7FFFFFFF, True)
            assert caught.value.errno == errno.ENODEV
        finally:
            nl.close()

    asyncio.run(change_a_missing_link())


def test_the_macvlan_request_nests_its_kind_and_mode_as_iproute2_does() -> None:
    """``ip link add NAME link PARENT address MAC type macvlan mode bridge``, byte for
    byte in its attributes (the kernel reads IFLA_LINKINFO's kind before its data)."""
    sent: list[tuple[int, int, bytes]] = []

    async def capture() -> None:
        nl = netlink.Netlink()
        try:

            async def request(kind: int, flags: int, body: bytes, **_kw: object) -> list:
                sent.append((kind, flags, body))
                return []

            nl._request = request  # type: ignore[method-assign]
            await nl.add_macvlan("eth0v10v4", 3, "00:00:5e:00:01:0a")
        finally:
            nl.close()

    asyncio.run(capture())
    ((kind, flags, body),) = sent
    assert kind == netlink.RTM_NEWLINK and flags == nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
    attrs = nlmsg.attrs(body, netlink.IFINFOMSG.size)
    assert attrs[netlink.IFLA_IFNAME] == b"eth0v10v4\0"
    assert attrs[netlink.IFLA_LINK] == (3).to_bytes(4, "little")
    assert attrs[netlink.IFLA_ADDRESS] == bytes.fromhex("00005e00010a")
    info = nlmsg.attrs(attrs[netlink.IFLA_LINKINFO])
    assert info[netlink.IFLA_INFO_KIND] == b"macvlan\0"
    data = nlmsg.attrs(info[netlink.IFLA_INFO_DATA])
    assert data[netlink.IFLA_MACVLAN_MODE] == netlink.MACVLAN_MODE_BRIDGE.to_bytes(4, "little")
    # Nested attributes say so (NLA_F_NESTED), as iproute2 sends them.
    offset, raw_types = netlink.IFINFOMSG.size, {}
    while offset < len(body):
        length, raw = nlmsg.ATTR.unpack_from(body, offset)
        raw_types[raw & nlmsg.NLA_TYPE_MASK] = raw
        offset += nlmsg.align(length)
    assert raw_types[netlink.IFLA_LINKINFO] & nlmsg.NLA_F_NESTED
    assert not raw_types[netlink.IFLA_IFNAME] & nlmsg.NLA_F_NESTED
