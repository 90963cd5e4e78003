"""The built-in lab at protocol level: two routers on one simulated segment.

Every advertisement is really encoded (IPv4 header, AH, VRRP), carried as bytes,
and passed through the receive checks of the other router before its state machine
sees it; only the wire and the clock are simulated (a virtual clock, so the run
is instant and repeatable). The namespace lab with the routerhad daemon grows
out of this once the Linux I/O layer exists.

Scenario (the classic three-host VRRP lab): RT-1 (10.1.1.1, priority 200) and RT-2 (10.1.1.2,
priority 100) share 10.1.1.5 as VRID 1, VRRPv2 with AH authentication. RT-1
loses power at t=10 s, RT-2 takes over; RT-1 returns at t=20 s and preempts.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import sys
from dataclasses import dataclass, field
from typing import Callable, TextIO

from routerha.errors import RouterhaError
from routerha.model import load_config
from routerha.vrrp.constants import MCAST_V4
from routerha.vrrp.events import (
    CancelTimer,
    Event,
    ScheduleTimer,
    SendAdvert,
    Startup,
    State,
    Timer,
    TimerExpired,
    Transition,
)
from routerha.vrrp.machine import VrrpMachine
from routerha.vrrp.receive import AhSequence, Receiver
from routerha.vrrp.send import Sender

GROUP = {
    "interface": "eth0",
    "vrid": 1,
    "address": ["10.1.1.5/24"],
    "authentication": {"type": "ah", "password": "YOGHURT"},
}


@dataclass
class Router:
    name: str
    address: ipaddress.IPv4Address
    priority: int
    machine: VrrpMachine
    sender: Sender
    receiver: Receiver
    powered: bool = True
    timers: dict = field(default_factory=dict)


def make_router(name: str, address: str, priority: int) -> Router:
    config = load_config({"vrrp": {"groups": {"LAN": {**GROUP, "priority": priority}}}})
    group = config.groups["LAN"]
    source = ipaddress.IPv4Address(address)
    sequence = AhSequence()
    return Router(
        name=name,
        address=source,
        priority=priority,
        machine=VrrpMachine(group, source),
        sender=Sender(group, source, sequence=sequence),
        receiver=Receiver([group], local_addresses=(source,), sequences={"LAN": sequence}),
    )


class Segment:
    """A virtual clock and one broadcast domain; the I/O layer a daemon would be."""

    def __init__(self, routers: list[Router]) -> None:
        self.routers = routers
        self.now = 0.0
        self.queue: list = []
        self.order = itertools.count()
        self.log: list[tuple[float, str, str]] = []
        self.wire_packets = 0

    def at(self, when: float, call: Callable[..., None], *args: object) -> None:
        heapq.heappush(self.queue, (when, next(self.order), call, args))

    def feed(self, router: Router, event: Event) -> None:
        if router.powered:
            self.carry_out(router, router.machine.handle(event, self.now))

    def carry_out(self, router: Router, actions: list) -> None:
        for action in actions:
            if isinstance(action, SendAdvert):
                datagram = router.sender.ipv4_datagram(action.priority, MCAST_V4)
                self.wire_packets += 1
                for other in self.routers:
                    if other is not router and other.powered:
                        # 1 ms on the wire, then the peer's receive checks.
                        self.at(self.now + 0.001, self.deliver, other, datagram)
            elif isinstance(action, ScheduleTimer):
                token = next(self.order)
                router.timers[action.timer] = token
                self.at(action.at, self.fire, router, action.timer, token)
            elif isinstance(action, CancelTimer):
                router.timers.pop(action.timer, None)
            elif isinstance(action, Transition):
                self.log.append(
                    (
                        self.now,
                        router.name,
                        f"{action.old.value} -> {action.new.value}: {action.reason}",
                    )
                )

    def deliver(self, router: Router, datagram: bytes) -> None:
        if not router.powered:
            return
        try:
            received = router.receiver.receive_ipv4(datagram)
        except RouterhaError as drop:
            self.log.append((self.now, router.name, f"dropped: {drop}"))
            return
        self.feed(router, received.event)

    def fire(self, router: Router, timer: Timer, token: int) -> None:
        if router.timers.get(timer) == token:
            del router.timers[timer]
            self.feed(router, TimerExpired(timer))

    def power(self, router: Router, on: bool) -> None:
        self.log.append((self.now, router.name, "power on" if on else "power cut"))
        router.powered = on
        router.timers.clear()
        if on:
            # A rebooted router starts from nothing: new machine, AH sequence at 0.
            fresh = make_router(router.name, str(router.address), router.priority)
            router.__dict__.update(vars(fresh))
            self.feed(router, Startup())

    def run_until(self, end: float) -> None:
        while self.queue and self.queue[0][0] <= end:
            self.now, _, call, args = heapq.heappop(self.queue)
            call(*args)
        self.now = end

    def masters(self) -> list[str]:
        return [r.name for r in self.routers if r.powered and r.machine.state is State.MASTER]


def show_vrrp(segment: Segment) -> str:
    """The table VyOS users know from ``show vrrp``."""
    lines = [f"{'Router':8}{'Interface':11}{'Group':7}{'State':8}{'Priority':10}Master"]
    for r in segment.routers:
        m = r.machine
        state = m.state.value if r.powered else "(off)"
        master = str(m.master_address or "-")
        lines.append(
            f"{r.name:8}{m.group.interface:11}{m.group.vrid:<7}{state:8}{m.priority:<10}{master}"
        )
    return "\n".join(lines)


def run(out: TextIO = sys.stdout) -> Segment:
    rt1 = make_router("RT-1", "10.1.1.1", 200)
    rt2 = make_router("RT-2", "10.1.1.2", 100)
    segment = Segment([rt1, rt2])
    say = lambda text="": print(text, file=out)  # noqa: E731

    say("routerha built-in lab (protocol level): RT-1 (prio 200) and RT-2 (prio 100), VRID 1,")
    say("virtual address 10.1.1.5, VRRPv2 with AH authentication, 1 s adverts.\n")
    segment.feed(rt1, Startup())
    segment.feed(rt2, Startup())
    segment.run_until(10.0)
    say("t=10.0 s, after the election:")
    say(show_vrrp(segment) + "\n")

    segment.at(10.0, segment.power, rt1, False)
    segment.run_until(20.0)
    takeover = next(
        t for t, name, what in segment.log if name == "RT-2" and "-> MASTER" in what and t >= 10
    )
    mdi = rt2.machine.master_down_interval
    say(f"RT-1 lost power at t=10.0 s; RT-2 became MASTER at t={takeover:.3f} s")
    say(
        f"(Master_Down_Interval = 3 x 1 s + Skew_Time {rt2.machine.skew_time:.3f} s = {mdi:.3f} s)\n"
    )
    say(show_vrrp(segment) + "\n")

    segment.at(20.0, segment.power, rt1, True)
    segment.run_until(30.0)
    say("RT-1 powered on again at t=20.0 s and preempted:")
    say(show_vrrp(segment) + "\n")

    say("Transitions:")
    for when, name, what in segment.log:
        say(f"  {when:8.3f} s  {name}  {what}")
    say(
        f"\n{segment.wire_packets} advertisements on the wire, each checked (TTL, checksum, AH ICV,"
    )
    say(f"sequence number) by its receiver. Masters now: {', '.join(segment.masters())}.")
    return segment


if __name__ == "__main__":
    run()
