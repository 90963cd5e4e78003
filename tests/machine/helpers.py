"""Builders for state-machine tests: groups from plain data, and action filters."""

from __future__ import annotations

import ipaddress

from routerha.model import load_config
from routerha.vrrp.events import (
    ScheduleTimer,
    SendAdvert,
    Startup,
    State,
    Timer,
    TimerExpired,
    Transition,
)
from routerha.vrrp.machine import VrrpMachine

LOCAL = ipaddress.ip_address("10.1.1.1")
PEER_HIGHER = ipaddress.ip_address("10.1.1.2")
PEER_LOWER = ipaddress.ip_address("10.1.1.0")


def group(name: str = "LAN", **settings):
    data = {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"], **settings}
    return load_config({"vrrp": {"groups": {name: data}}}).groups[name]


def machine(name: str = "LAN", primary=LOCAL, **settings) -> VrrpMachine:
    return VrrpMachine(group(name, **settings), primary)


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def transitions(actions):
    return [(t.old.value, t.new.value) for t in of(actions, Transition)]


def deadline(actions, timer: Timer) -> float:
    (scheduled,) = [a for a in of(actions, ScheduleTimer) if a.timer is timer]
    return scheduled.at


def sent_priorities(actions):
    return [a.priority for a in of(actions, SendAdvert)]


def started(**settings) -> VrrpMachine:
    """A machine after Startup at t=0: BACKUP (or MASTER for the address owner)."""
    m = machine(**settings)
    m.handle(Startup(), 0.0)
    return m


def as_master(**settings) -> VrrpMachine:
    """A machine that became MASTER when its Master_Down_Timer ran out."""
    m = started(**settings)
    m.handle(TimerExpired(Timer.MASTER_DOWN), m.timers[Timer.MASTER_DOWN])
    assert m.state is State.MASTER
    return m
