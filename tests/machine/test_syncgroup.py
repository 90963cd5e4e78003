"""Sync groups: members are MASTER, BACKUP or FAULT together (seed 000's cure for
asymmetric routing through a stateful firewall)."""

from __future__ import annotations

import ipaddress

from routerha.model import load_config
from routerha.vrrp.events import (
    AdvertReceived,
    FaultCleared,
    Startup,
    State,
    Timer,
    TimerExpired,
    interface_down,
    interface_up,
)
from routerha.vrrp.machine import VrrpMachine
from routerha.vrrp.syncgroup import SyncGroupCoordinator
from tests.machine.helpers import transitions

LAN_PEER = ipaddress.ip_address("10.1.1.2")
WAN_PEER = ipaddress.ip_address("198.51.100.2")


def pair(priority=100, **settings):
    config = load_config(
        {
            "vrrp": {
                "groups": {
                    "LAN": {
                        "interface": "eth0",
                        "vrid": 1,
                        "address": ["10.1.1.5/24"],
                        "priority": priority,
                        **settings,
                    },
                    "WAN": {
                        "interface": "eth1",
                        "vrid": 7,
                        "address": ["198.51.100.12/24"],
                        "priority": priority,
                        **settings,
                    },
                },
                "sync_groups": {"CG-1": {"member": ["LAN", "WAN"]}},
            }
        }
    )
    lan = VrrpMachine(config.groups["LAN"], ipaddress.ip_address("10.1.1.1"))
    wan = VrrpMachine(config.groups["WAN"], ipaddress.ip_address("198.51.100.1"))
    SyncGroupCoordinator("CG-1", [lan, wan])
    lan.handle(Startup(), 0.0)
    wan.handle(Startup(), 0.0)
    return lan, wan


def expire(m, now=None):
    return m.handle(
        TimerExpired(Timer.MASTER_DOWN), now if now is not None else m.timers[Timer.MASTER_DOWN]
    )


def test_a_member_waits_for_the_others_before_becoming_master():
    lan, wan = pair()
    # The WAN peer is silent but the LAN master is alive: stay backup everywhere.
    lan.handle(AdvertReceived(LAN_PEER, 200, 100), 1.0)
    actions = expire(wan)
    assert transitions(actions) == []
    assert wan.state is State.BACKUP and wan.wants_master
    assert Timer.MASTER_DOWN in wan.timers  # re-armed: asks again later
    assert lan.state is State.BACKUP


def test_all_members_go_master_together_when_all_timers_ran_out():
    lan, wan = pair()
    expire(wan)
    actions = expire(lan)
    assert lan.state is State.MASTER and wan.state is State.MASTER
    assert sorted(t[1] for t in transitions(actions)) == ["MASTER", "MASTER"]


def test_a_member_yielding_to_a_better_master_takes_the_others_to_backup():
    lan, wan = pair()
    expire(wan)
    expire(lan)
    actions = lan.handle(AdvertReceived(LAN_PEER, 250, 100), 5.0)
    assert lan.state is State.BACKUP and wan.state is State.BACKUP
    assert ("MASTER", "BACKUP") in transitions(actions)


def test_preempting_router_takes_every_member_once_all_discard_the_lower_master():
    lan, wan = pair(priority=200)
    # The old master (priority 100) still advertises on both links: both discard.
    assert lan.handle(AdvertReceived(LAN_PEER, 100, 100), 1.0) == []
    assert wan.handle(AdvertReceived(WAN_PEER, 100, 100), 1.0) == []
    expire(lan)
    assert lan.state is State.BACKUP
    expire(wan)
    assert lan.state is State.MASTER and wan.state is State.MASTER


def test_fault_of_one_member_faults_the_group_and_recovery_lifts_it():
    lan, wan = pair()
    expire(wan)
    expire(lan)
    actions = wan.handle(interface_down(), 5.0)
    assert lan.state is State.FAULT and wan.state is State.FAULT
    assert ("MASTER", "FAULT") in transitions(actions)
    actions = wan.handle(interface_up(), 6.0)
    assert lan.state is State.BACKUP and wan.state is State.BACKUP


def test_group_fault_on_a_member_is_not_cleared_by_an_unrelated_reason():
    lan, wan = pair()
    wan.handle(interface_down(), 1.0)
    assert lan.handle(FaultCleared("link"), 2.0) == []
    assert lan.state is State.FAULT


def test_without_a_sync_group_members_are_independent():
    config = load_config(
        {
            "vrrp": {
                "groups": {
                    "LAN": {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]},
                    "WAN": {"interface": "eth1", "vrid": 7, "address": ["198.51.100.12/24"]},
                }
            }
        }
    )
    lan = VrrpMachine(config.groups["LAN"], ipaddress.ip_address("10.1.1.1"))
    wan = VrrpMachine(config.groups["WAN"], ipaddress.ip_address("198.51.100.1"))
    lan.handle(Startup(), 0.0)
    wan.handle(Startup(), 0.0)
    expire(wan)
    assert wan.state is State.MASTER and lan.state is State.BACKUP
