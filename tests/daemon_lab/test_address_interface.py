"""Addresses on another interface than the group's (VyOS ``address A interface Y``,
keepalived ``virtual_ipaddress { A dev Y }``), and keepalived's positive weights.

Two routers r1 and r2 on ``lan`` (eth0, where the group runs) and on ``wan``
(eth1, where some of its addresses live), a client on each segment. The address on
eth1 belongs to the master only, moves with it, and is announced on eth1 with
eth1's own MAC address.
"""

from __future__ import annotations

import pytest

from lab.netlab import Lab

from .routerhad_lab import Fleet, config, group, host_addresses, neighbours, pings

pytestmark = [pytest.mark.root]

R1, R2, CL = "10.9.0.1", "10.9.0.2", "10.9.0.25"
VIP_CIDR = "10.9.0.100/24"
WAN_VIP, WAN_VIP_CIDR = "10.8.0.100", "10.8.0.100/24"
WAN_V6_CIDR = "fd08::100/64"


def topology(lab: Lab) -> None:
    for host, address in (("r1", R1), ("r2", R2), ("cl", CL)):
        lab.add_host(host, f"{address}/24")
    lab.add_host("r1", "10.8.0.1/24", segment="wan", ifname="eth1")
    lab.add_host("r2", "10.8.0.2/24", segment="wan", ifname="eth1")
    lab.add_host("cw", "10.8.0.25/24", segment="wan")


def placed_group(priority: int) -> dict:
    return group(
        VIP_CIDR,
        {"address": WAN_VIP_CIDR, "interface": "eth1"},
        priority=priority,
        excluded_address=[{"address": WAN_V6_CIDR, "interface": "eth1"}],
    )


def holds(lab: Lab, host: str) -> dict[str, set[str]]:
    """Which of the group's addresses ``host`` has, by interface."""
    mine = {VIP_CIDR, WAN_VIP_CIDR, WAN_V6_CIDR}
    return {
        ifname: set(found) & mine
        for ifname, found in host_addresses(lab, host).items()
        if set(found) & mine
    }


MASTER_HOLDS = {"eth0": {VIP_CIDR}, "eth1": {WAN_VIP_CIDR, WAN_V6_CIDR}}


def wan_client_reaches(lab: Lab, fleet: Fleet, via: str) -> None:
    """The wan client pings the address and has ``via``'s eth1 MAC for it."""
    mac = lab.interface(via, "eth1").mac
    fleet.wait(lambda: pings(lab, "cw", WAN_VIP), f"wan client pings {WAN_VIP}")
    fleet.wait(
        lambda: neighbours(lab, "cw").get(WAN_VIP) == mac,
        lambda: f"wan client's entry for {WAN_VIP} is {via}'s eth1 {mac}: {neighbours(lab, 'cw')}",
    )


def test_address_on_another_interface_is_the_masters_only_and_moves_on_failover(lab, fleet):
    topology(lab)
    fleet.routerhad("r1", {"LAN": placed_group(200)})
    fleet.routerhad("r2", {"LAN": placed_group(100)})
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    fleet.wait(lambda: holds(lab, "r1") == MASTER_HOLDS, lambda: f"r1 holds {holds(lab, 'r1')}")
    assert holds(lab, "r2") == {}, fleet.report()
    status = fleet["r1"].group()
    assert status["address_interface"] == {WAN_VIP_CIDR: "eth1", WAN_V6_CIDR: "eth1"}
    wan_client_reaches(lab, fleet, "r1")

    # r1 loses its group's link: FAULT, the eth1 addresses go with the group to r2,
    # whose gratuitous ARP on eth1 moves the wan client over.
    lab.cut("r1", "eth0")
    fleet.wait_states({"r1": "FAULT", "r2": "MASTER"})
    fleet.wait(lambda: holds(lab, "r2") == MASTER_HOLDS, lambda: f"r2 holds {holds(lab, 'r2')}")
    fleet.wait(lambda: holds(lab, "r1") == {}, lambda: f"r1 still holds {holds(lab, 'r1')}")
    wan_client_reaches(lab, fleet, "r2")

    # Back: r1 preempts, r2 gives the addresses up (BACKUP holds none).
    lab.restore("r1", "eth0")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    fleet.wait(lambda: holds(lab, "r2") == {}, lambda: f"r2 still holds {holds(lab, 'r2')}")
    fleet.wait(lambda: holds(lab, "r1") == MASTER_HOLDS, lambda: f"r1 holds {holds(lab, 'r1')}")
    wan_client_reaches(lab, fleet, "r1")

    # The link of the address's interface is tracked (as keepalived tracks a "dev"):
    # r1 cannot hold the address without eth1, so the group goes to r2.
    lab.cut("r1", "eth1")
    fleet.wait_states({"r1": "FAULT", "r2": "MASTER"})
    assert fleet["r1"].group()["faults"] == ["link eth1"], fleet.report()
    fleet.wait(lambda: holds(lab, "r2") == MASTER_HOLDS, lambda: f"r2 holds {holds(lab, 'r2')}")
    lab.restore("r1", "eth1")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    fleet.wait(lambda: holds(lab, "r1") == MASTER_HOLDS, lambda: f"r1 holds {holds(lab, 'r1')}")

    # Both advertise every address of the group, wherever it lives: no mismatch.
    assert fleet["r2"].counters()["address_mismatch"] == 0, fleet.report()
    assert fleet["r1"].counters()["address_mismatch"] == 0, fleet.report()

    # A reload that puts the address back on the group's interface moves it there.
    r1 = fleet["r1"]
    plain = group(VIP_CIDR, WAN_VIP_CIDR, priority=200)
    r1.write_config(config({"LAN": plain}))
    done = r1.ctl("reload")
    assert done.returncode == 0, f"{done.stderr}\n{fleet.report()}"
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    fleet.wait(
        lambda: holds(lab, "r1") == {"eth0": {VIP_CIDR, WAN_VIP_CIDR}},
        lambda: f"r1 holds {holds(lab, 'r1')} after the reload",
    )

    # A clean stop removes what the group installed.
    r1.write_config(config({"LAN": placed_group(200)}))
    assert r1.ctl("reload").returncode == 0, fleet.report()
    fleet.wait(lambda: holds(lab, "r1") == MASTER_HOLDS, lambda: f"r1 holds {holds(lab, 'r1')}")
    assert r1.stop() == 0, fleet.report()
    assert holds(lab, "r1") == {}, fleet.report()


def test_positive_weight_raises_the_priority_while_the_tracked_link_is_up(lab, fleet):
    """keepalived's meaning: ``weight 60`` counts while eth1 is up. r2 (150) beats r1
    (170) only while its eth1 is up (210); without it r1 wins."""
    topology(lab)
    track = {"interface": [{"name": "eth1", "weight": 60}]}
    fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=170)})
    fleet.routerhad("r2", {"LAN": group(VIP_CIDR, priority=150, track=track)})
    fleet.wait_states({"r1": "BACKUP", "r2": "MASTER"})
    r2 = fleet["r2"].group()
    assert (r2["priority"], r2["effective_priority"]) == (150, 210), fleet.report()
    lab.cut("r2", "eth1")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    r2 = fleet["r2"].group()
    assert r2["effective_priority"] == 150 and r2["faults"] == [], fleet.report()
    lab.restore("r2", "eth1")
    fleet.wait_states({"r1": "BACKUP", "r2": "MASTER"})
    assert fleet["r2"].group()["effective_priority"] == 210, fleet.report()
