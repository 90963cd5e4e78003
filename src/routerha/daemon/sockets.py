"""Raw VRRP sockets on Linux: IPv4 (protocol 112, and 51 for AH) and IPv6.

IPv4 adverts carry a header routerhad writes itself (IP_HDRINCL) because the AH
ICV covers it. Each socket is bound to one interface (SO_BINDTODEVICE) and joins
224.0.0.18 / ff02::12 on that interface only; multicast loopback is off so a
router does not hear itself.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from routerha.vrrp.constants import IPPROTO_VRRP, MCAST_V4, MCAST_V6, VRRP_TTL

# Not all are exported by the socket module on every Python.
IP_MULTICAST_ALL = 49
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
#: Kernel receive timestamps (struct timespec, CLOCK_REALTIME) on every datagram.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("=qq")
_HOP_LIMIT = struct.Struct("=i")
_IFINDEX = struct.Struct("=I")
RECV_BUFFER = 1 << 20
_CMSG_SPACE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20) + socket.CMSG_SPACE(_TIMESPEC.size)


def _bind_device(sock: socket.socket, interface: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode())


def _timestamp(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's receive time (Unix time) from the ancillary data, if any."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            return seconds + nanoseconds / 1e9
    return None


def recv_ipv4(sock: socket.socket) -> tuple[bytes, float | None]:
    """(datagram, kernel receive time) of one IPv4 datagram."""
    data, ancillary, _flags, _address = sock.recvmsg(65535, _CMSG_SPACE)
    return data, _timestamp(ancillary)


def open_ipv4_receiver(interface: str, ifindex: int, protocol: int) -> socket.socket:
    """A non-blocking socket receiving VRRP (112) or AH (51) datagrams on ``interface``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
    try:
        _bind_device(sock, interface)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # Without this Linux delivers groups joined on any socket to every raw socket.
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        mreq = struct.pack("=4s4si", MCAST_V4.packed, b"\0\0\0\0", ifindex)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def open_ipv4_sender(interface: str, ifindex: int) -> socket.socket:
    """A socket sending whole IPv4 datagrams (IP_HDRINCL) out of ``interface``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        _bind_device(sock, interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        mreqn = struct.pack("=4s4si", b"\0\0\0\0", b"\0\0\0\0", ifindex)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def open_ipv6(interface: str, ifindex: int) -> socket.socket:
    """One socket sending and receiving VRRP over IPv6 on ``interface``."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
    try:
        _bind_device(sock, interface)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        mreq = MCAST_V6.packed + struct.pack("=I", ifindex)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _AddressCache(dict):  # type: ignore[type-arg]
    """IPv6Address objects by their text or octets, so that the same few sources and
    destinations of a steady advert stream are not parsed again for every datagram.
    Bounded: forged sources may fill it, and then it starts over."""

    LIMIT = 256

    def __missing__(self, key: str | bytes) -> ipaddress.IPv6Address:
        if len(self) >= self.LIMIT:
            self.clear()
        value = self[key] = ipaddress.IPv6Address(key)
        return value


_ADDRESSES = _AddressCache()


def recv_ipv6(
    sock: socket.socket,
) -> tuple[bytes, ipaddress.IPv6Address, ipaddress.IPv6Address, int, float | None]:
    """(message, source, destination, hop limit, kernel receive time) of one datagram."""
    data, ancillary, _flags, address = sock.recvmsg(65535, _CMSG_SPACE)
    hop_limit = -1
    dst = MCAST_V6
    for level, kind, value in ancillary:
        if level == socket.IPPROTO_IPV6 and kind == IPV6_HOPLIMIT and len(value) >= 4:
            hop_limit = _HOP_LIMIT.unpack_from(value)[0]
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(value) >= 16:
            dst = _ADDRESSES[value[:16]]
    src = _ADDRESSES[address[0].split("%", 1)[0]]
    return data, src, dst, hop_limit, _timestamp(ancillary)


def send_ipv6(
    sock: socket.socket,
    message: bytes,
    src: ipaddress.IPv4Address | ipaddress.IPv6Address,
    dst: str,
    ifindex: int,
) -> None:
    """Send from ``src`` exactly: the checksum covers it, so the kernel must not pick."""
    pktinfo = src.packed + _IFINDEX.pack(ifindex)
    sock.sendmsg([message], [(socket.IPPROTO_IPV6, IPV6_PKTINFO, pktinfo)], 0, (dst, 0, 0, ifindex))
