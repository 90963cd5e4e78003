"""The client side of the failover benchmark: one process inside the client namespace.

::

    ip netns exec CLIENT python probe.py --out FILE --ready FILE [--target VIP]
        [--interval 0.001] [--vrrp] [--arp] [--ifname eth0]

Standard library only, so it runs with any Python. Until SIGTERM or SIGINT it

- sends an ICMP echo request to ``--target`` every ``--interval`` seconds (raw
  ICMP socket, identifier = pid) and records every echo reply to it;
- with ``--vrrp``, records every VRRP advertisement heard on ``--ifname``
  (224.0.0.18): who sent it, for which VRID, with which priority;
- with ``--arp``, records every ARP packet that arrives (gratuitous ARPs of a new
  master among them).

One thread and one ``select`` loop do all of it: nothing waits for a lock
(Python's GIL hands over only every 5 ms between busy threads). Every receive
carries two times: ``time.monotonic()`` when the loop read it (the clock of the
orchestrator, which stamps its ``cut`` with it) and the kernel's receive
timestamp (SO_TIMESTAMPNS, moved onto the monotonic clock), which a slow loop
cannot delay. The sends are recorded as well, so the orchestrator can check that
the sender itself never paused (the probe's resolution is the interval, 1 ms). It
runs at SCHED_FIFO priority 20 (``--rt-priority``), above routerhad's SCHED_RR 10:
otherwise a daemon's own work at the moment of failover (routerhad runs real-time)
would delay the probe and be counted as outage. It sleeps in ``select`` between
packets and uses a few per cent of one core.

On exit it writes one JSON object to ``--out``: ``sends`` [t], ``replies``
[[t, kernel_t, seq]], ``vrrp`` [[t, kernel_t, src, vrid, priority]], ``arp``
[[t, kernel_t, op, sender_mac, sender_ip]]. ``--ready`` is created once the
probe runs (with ``--target``: once the first reply came back).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

IPPROTO_VRRP = 112
VRRP_GROUP = "224.0.0.18"
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
#: Linux's SCM_TIMESTAMPNS equals SO_TIMESTAMPNS.
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
IP_MULTICAST_ALL = 49
ANCILLARY = 64


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    payload = struct.pack("!d", time.monotonic()) + bytes(48)
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload


class Clock:
    """Moves kernel timestamps (CLOCK_REALTIME) onto the monotonic clock."""

    def __init__(self) -> None:
        samples = []
        for _ in range(5):
            a = time.monotonic()
            r = time.time()
            b = time.monotonic()
            samples.append((b - a, r - (a + b) / 2))
        self.offset = min(samples)[1]

    def kernel_time(self, ancillary: list[tuple[int, int, bytes]]) -> float | None:
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack("@qq", value[:16])
                return seconds + nanoseconds / 1e9 - self.offset
        return None


def open_icmp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setblocking(False)
    return sock


def open_vrrp(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    ifindex = socket.if_nametoindex(ifname)
    mreqn = struct.pack("@4s4si", socket.inet_aton(VRRP_GROUP), bytes(4), ifindex)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    sock.setblocking(False)
    return sock


def open_arp(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((ifname, ETH_P_ARP))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setblocking(False)
    return sock


class Recorder:
    """The sockets, the schedule of the echo requests and what came back."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stop = False
        self.clock = Clock()
        self.ident = os.getpid() & 0xFFFF
        self.sends: list[float] = []
        self.records: dict[str, list[list[Any]]] = {"icmp": [], "vrrp": [], "arp": []}
        self.icmp = open_icmp() if args.target else None
        self.socks: dict[int, tuple[socket.socket, str]] = {}
        if self.icmp is not None:
            self.socks[self.icmp.fileno()] = (self.icmp, "icmp")
        if args.vrrp:
            sock = open_vrrp(args.ifname)
            self.socks[sock.fileno()] = (sock, "vrrp")
        if args.arp:
            sock = open_arp(args.ifname)
            self.socks[sock.fileno()] = (sock, "arp")
        self.ready = False
        if self.icmp is None:
            self.mark_ready()

    def mark_ready(self) -> None:
        Path(self.args.ready).touch()
        self.ready = True

    def run(self) -> None:
        seq = 0
        interval = self.args.interval
        next_send = time.monotonic()
        while not self.stop:
            now = time.monotonic()
            if self.icmp is not None and now >= next_send:
                # No route for a moment is fine: the gap shows in the replies.
                with contextlib.suppress(OSError):
                    self.icmp.sendto(echo_request(self.ident, seq & 0xFFFF), (self.args.target, 0))
                self.sends.append(now)
                seq += 1
                # On schedule, but never a burst to catch up after a stall.
                next_send = max(next_send + interval, now)
            timeout = max(0.0, next_send - time.monotonic()) if self.icmp is not None else 0.1
            try:
                readable, _, _ = select.select(list(self.socks), [], [], timeout)
            except InterruptedError:
                continue
            for fd in readable:
                self.drain(*self.socks[fd])

    def drain(self, sock: socket.socket, kind: str) -> None:
        while True:
            try:
                data, ancillary, _flags, address = sock.recvmsg(65535, ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            t = time.monotonic()
            kt = self.clock.kernel_time(ancillary)
            if kind == "arp":
                if address[2] == PACKET_OUTGOING or len(data) < 42:
                    continue
                op = struct.unpack("!H", data[20:22])[0]
                sender_ip = socket.inet_ntoa(data[28:32])
                self.records["arp"].append([t, kt, op, data[22:28].hex(":"), sender_ip])
                continue
            ihl = (data[0] & 0x0F) * 4
            if kind == "vrrp":
                if len(data) >= ihl + 4:
                    src = socket.inet_ntoa(data[12:16])
                    self.records["vrrp"].append([t, kt, src, data[ihl + 1], data[ihl + 2]])
                continue
            if len(data) < ihl + 8:
                continue
            icmp_type, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if icmp_type == 0 and rid == self.ident:
                self.records["icmp"].append([t, kt, rseq])
                if not self.ready:
                    self.mark_ready()

    def write(self) -> None:
        result = {
            "ident": self.ident,
            "interval": self.args.interval,
            "target": self.args.target,
            "sends": self.sends,
            "replies": self.records["icmp"],
            "vrrp": self.records["vrrp"],
            "arp": self.records["arp"],
        }
        tmp = self.args.out + ".tmp"
        with open(tmp, "w", encoding="ascii") as handle:
            json.dump(result, handle)
        os.replace(tmp, self.args.out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--target")
    parser.add_argument("--interval", type=float, default=0.001)
    parser.add_argument("--vrrp", action="store_true")
    parser.add_argument("--arp", action="store_true")
    parser.add_argument("--ifname", default="eth0")
    parser.add_argument(
        "--rt-priority",
        type=int,
        default=20,
        help="SCHED_FIFO priority (0: stay SCHED_OTHER); above routerhad's 10, so the "
        "daemons under test never delay the probe's own sends and reads",
    )
    args = parser.parse_args(argv)
    if args.rt_priority:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt_priority))
        except OSError as error:
            print(f"probe: no real-time priority: {error}", file=sys.stderr)
    # The records are many small lists: a garbage collection walking them would stall
    # the sender for milliseconds. Nothing here makes reference cycles.
    gc.disable()
    recorder = Recorder(args)

    def on_signal(_signum: int, _frame: object) -> None:
        recorder.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    recorder.run()
    recorder.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
