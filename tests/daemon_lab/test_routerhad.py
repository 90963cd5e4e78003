"""routerhad in network namespaces: elections, failover, preemption, clean stops,
IPv6, unicast, virtual MACs, tracking, reloads, hostile packets and scripts.

Two routers r1 and r2 and a client cl on one segment (``lan``); VRRPv3 at 0.1 s
unless a case needs otherwise. Every wait reports every daemon's log on failure.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from lab.netlab import Capture, Lab, in_netns, vrrp_send_socket
from routerha.model.load import load_config
from routerha.vrrp import ipv4
from routerha.vrrp.send import Sender

from .routerhad_lab import Fleet, group, has_address, neighbours, pings

pytestmark = [pytest.mark.root]

R1, R2, CL = "10.9.0.1", "10.9.0.2", "10.9.0.25"
R1_V6, R2_V6, CL_V6 = "fd00::1", "fd00::2", "fd00::25"
VIP, VIP_CIDR = "10.9.0.100", "10.9.0.100/24"
VIP6, VIP6_CIDR = "fd00::100", "fd00::100/64"
MCAST = ipaddress.IPv4Address("224.0.0.18")
ATTACKER = "10.9.0.66"


def topology(lab: Lab) -> None:
    """r1, r2 and the client cl on segment lan, each with an IPv4 and an IPv6 address."""
    for host, v4, v6 in (("r1", R1, R1_V6), ("r2", R2, R2_V6), ("cl", CL, CL_V6)):
        lab.add_host(host, f"{v4}/24", f"{v6}/64")


def elect(lab: Lab, fleet: Fleet, **settings) -> None:
    """r1 (200) and r2 (100) with one group LAN; wait until r1 is master.

    Without preemption whoever is master first stays so: r1 starts alone then.
    """
    topology(lab)
    fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=200, **settings)})
    if settings.get("preempt") is False:
        fleet.wait_states({"r1": "MASTER"})
    fleet.routerhad("r2", {"LAN": group(VIP_CIDR, priority=100, **settings)})
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})


def packet_group(**settings):
    """A routerha VrrpGroup by its config keys, to build packets with ``Sender``."""
    data = {"interface": "eth0", "vrid": 1, "address": [VIP_CIDR], **settings}
    return load_config({"vrrp": {"groups": {"G": data}}}).groups["G"]


def client_reaches(lab: Lab, fleet: Fleet, address: str, via: str, timeout: float = 5.0) -> None:
    """The client pings ``address`` and its neighbour entry is ``via``'s MAC."""
    fleet.wait(lambda: pings(lab, "cl", address), f"client pings {address}", timeout=timeout)
    mac = lab.interface(via).mac
    fleet.wait(
        lambda: neighbours(lab, "cl").get(address) == mac,
        f"client's neighbour entry for {address} is {via}'s {mac}: {neighbours(lab, 'cl')}",
        timeout=timeout,
    )


# 1. Election ---------------------------------------------------------------------------


def test_two_routers_elect_the_higher_priority_and_the_client_pings_the_vip(lab, fleet):
    elect(lab, fleet)
    r1, r2 = fleet["r1"], fleet["r2"]
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 0.5)  # exactly one master, and it stays
    assert has_address(lab, "r1", VIP_CIDR), fleet.report()
    assert not has_address(lab, "r2", VIP_CIDR), fleet.report()
    # The real routerhactl tells the same.
    backup = r2.ctl_status()["groups"][0]
    assert backup["state"] == "BACKUP", fleet.report()
    assert backup["master_address"] == R1, fleet.report()
    assert backup["counters"]["adverts_received"] > 0, fleet.report()
    master = r1.ctl_status()["groups"][0]
    assert master["state"] == "MASTER" and master["effective_priority"] == 200
    assert master["counters"]["adverts_sent"] > 0, fleet.report()
    client_reaches(lab, fleet, VIP, via="r1")


# 2. Failover ---------------------------------------------------------------------------


def test_cutting_the_masters_link_makes_the_backup_master_and_the_client_follows(lab, fleet):
    elect(lab, fleet)
    client_reaches(lab, fleet, VIP, via="r1")
    lab.cut("r1")
    fleet.wait_states({"r2": "MASTER"}, timeout=3)
    # r1 saw its carrier go: FAULT, its address gone.
    fleet.wait_states({"r1": "FAULT"}, timeout=3)
    assert not has_address(lab, "r1", VIP_CIDR), fleet.report()
    assert has_address(lab, "r2", VIP_CIDR), fleet.report()
    client_reaches(lab, fleet, VIP, via="r2")


# 3. Preemption -------------------------------------------------------------------------


def test_returning_higher_priority_router_preempts(lab, fleet):
    elect(lab, fleet)
    lab.cut("r1")
    fleet.wait_states({"r1": "FAULT", "r2": "MASTER"}, timeout=3)
    lab.restore("r1")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=3)
    assert has_address(lab, "r1", VIP_CIDR) and not has_address(lab, "r2", VIP_CIDR)
    client_reaches(lab, fleet, VIP, via="r1")


def test_preempt_delay_holds_off_preemption_for_its_seconds(lab, fleet):
    elect(lab, fleet, preempt_delay=2)
    lab.cut("r1")
    fleet.wait_states({"r1": "FAULT", "r2": "MASTER"}, timeout=3)
    lab.restore("r1")
    back = time.monotonic()
    fleet.wait_states({"r1": "BACKUP"}, timeout=2)
    time.sleep(max(0.0, back + 1.0 - time.monotonic()))
    # About 1 s after its return: r1 accepts r2 as master.
    assert fleet.states() == {"r1": "BACKUP", "r2": "MASTER"}, fleet.report()
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=4)
    took = time.monotonic() - back
    # 2 s of delay, then the next advert of r2 is ignored and Master_Down_Interval runs.
    assert 1.8 <= took <= 3.5, f"preempted {took:.2f} s after the return\n{fleet.report()}"


def test_preempt_false_keeps_the_returning_router_backup(lab, fleet):
    elect(lab, fleet, preempt=False)
    lab.cut("r1")
    fleet.wait_states({"r1": "FAULT", "r2": "MASTER"}, timeout=3)
    lab.restore("r1")
    fleet.wait_states({"r1": "BACKUP", "r2": "MASTER"}, timeout=3)
    fleet.hold({"r1": "BACKUP", "r2": "MASTER"}, 1.5)  # 15 advert intervals
    assert fleet["r1"].group()["master_address"] == R2, fleet.report()


# 4. Clean stop -------------------------------------------------------------------------


def test_sigterm_on_the_master_hands_over_after_skew_time_and_removes_the_vip(lab, fleet):
    interval = 0.5
    elect(lab, fleet, interval=interval)
    r1, r2 = fleet["r1"], fleet["r2"]
    master_down = 3 * interval + (256 - 100) * interval / 256  # r2's: 1.805 s
    skew = (256 - 100) * interval / 256  # 0.305 s
    sent = time.time()
    r1.process.signal(signal.SIGTERM)
    took = fleet.wait_states({"r2": "MASTER"}, timeout=master_down + 2)
    became = r2.group()["last_transition"] - sent
    assert became < master_down / 2, (
        f"r2 became master {became:.3f} s after SIGTERM (seen after {took:.3f} s); "
        f"Skew_Time {skew:.3f} s, Master_Down_Interval {master_down:.3f} s\n{fleet.report()}"
    )
    assert r1.process.popen.wait(5) == 0, fleet.report()
    assert not has_address(lab, "r1", VIP_CIDR), fleet.report()
    assert has_address(lab, "r2", VIP_CIDR), fleet.report()
    client_reaches(lab, fleet, VIP, via="r2")


# 5. IPv6 -------------------------------------------------------------------------------


def test_ipv6_group_elects_and_fails_over(lab, fleet):
    topology(lab)
    fleet.routerhad("r1", {"LAN6": group(VIP6_CIDR, priority=200)})
    fleet.routerhad("r2", {"LAN6": group(VIP6_CIDR, priority=100)})
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, "LAN6")
    # IPv6 adverts come from the link-local address (RFC 5798 section 5.1.2.1).
    r1_link_local = str(lab.link_local("r1"))
    fleet.wait_master("r2", r1_link_local, "LAN6")
    assert has_address(lab, "r1", VIP6_CIDR) and not has_address(lab, "r2", VIP6_CIDR)
    client_reaches(lab, fleet, VIP6, via="r1")
    lab.cut("r1")
    fleet.wait_states({"r2": "MASTER"}, "LAN6", timeout=3)
    assert has_address(lab, "r2", VIP6_CIDR), fleet.report()
    # The unsolicited Neighbor Advertisement (override flag) moves the client over.
    client_reaches(lab, fleet, VIP6, via="r2")


# 6. Unicast peers ----------------------------------------------------------------------

NO_MULTICAST_VRRP = """
table bridge rhlab {
    chain forward {
        type filter hook forward priority 0; policy accept;
        ip daddr 224.0.0.18 ip protocol vrrp counter drop
    }
}
"""


def multicast_vrrp_dropped(lab: Lab) -> int:
    """Packets the switch's multicast VRRP rule dropped so far."""
    out = lab.run(Lab.SWITCH, "nft", "list", "chain", "bridge", "rhlab", "forward").stdout
    match = re.search(r"counter packets (\d+)", out)
    assert match, out
    return int(match.group(1))


def test_unicast_peers_elect_and_fail_over_with_multicast_blocked(lab, fleet):
    topology(lab)
    # The switch drops every multicast VRRP advert: only unicast gets through.
    lab.run(Lab.SWITCH, "nft", "-f", "-", input=NO_MULTICAST_VRRP)
    with Capture(lab, "r2", groups=()) as capture:
        fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=200, peer_address=[R2])})
        fleet.routerhad("r2", {"LAN": group(VIP_CIDR, priority=100, peer_address=[R1])})
        fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
        heard = capture.collect(5, 2.0, match=lambda d: str(d.src) == R1)
    assert len(heard) == 5, f"r2 heard {heard}\n{fleet.report()}"
    assert {str(d.dst) for d in heard} == {R2}, fleet.report()
    assert all(d.hop_limit == 255 for d in heard), heard
    fleet.wait_master("r2", R1)
    assert multicast_vrrp_dropped(lab) == 0, "routerhad sent multicast adverts"
    client_reaches(lab, fleet, VIP, via="r1")
    lab.cut("r1")
    fleet.wait_states({"r2": "MASTER"}, timeout=3)
    client_reaches(lab, fleet, VIP, via="r2")
    lab.restore("r1")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=3)
    assert multicast_vrrp_dropped(lab) == 0, "routerhad sent multicast adverts"
    drops = fleet["r2"].counters()["drops"]
    assert not drops, f"r2 dropped {drops}\n{fleet.report()}"
    # The rule does block multicast VRRP (so the zeros above mean something); a flooded
    # frame is counted once per port it would have left by.
    with vrrp_send_socket(lab, "cl", socket.AF_INET) as sock:
        advert = Sender(packet_group(vrid=1, version=3), ipaddress.IPv4Address(CL))
        sock.sendto(advert.ipv4_datagram(0, MCAST), (str(MCAST), 0))
    fleet.wait(
        lambda: multicast_vrrp_dropped(lab) >= 1,
        lambda: f"the switch dropped {multicast_vrrp_dropped(lab)} multicast adverts",
    )


def test_unicast_group_ignores_multicast_adverts_from_strangers(lab, fleet):
    # docs/configuration.md: peer_address means "unicast peers instead of multicast";
    # receive.py: unicast peers "must be configured peers". A host that is not a peer
    # must not take the group over by multicasting.
    topology(lab)
    lab.add_host("x", f"{ATTACKER}/24")
    fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=200, peer_address=[R2])})
    fleet.routerhad("r2", {"LAN": group(VIP_CIDR, priority=100, peer_address=[R1])})
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    stranger = Sender(packet_group(vrid=1, version=3), ipaddress.IPv4Address(ATTACKER))
    with vrrp_send_socket(lab, "x", socket.AF_INET) as sock:
        for _ in range(5):
            sock.sendto(stranger.ipv4_datagram(254, MCAST), (str(MCAST), 0))
            time.sleep(0.02)
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 0.3)
    assert fleet["r1"].group()["master_address"] == R1, fleet.report()


# 7. Virtual MACs -----------------------------------------------------------------------

VIP_A, VIP_B = "10.9.0.101", "10.9.0.102"
VMAC_A, VMAC_B = "00:00:5e:00:01:01", "00:00:5e:00:01:02"


def switch_port_of(lab: Lab, mac: str) -> str | None:
    """The bridge port the switch has learnt ``mac`` on."""
    out = lab.run(Lab.SWITCH, "bridge", "fdb", "show", "br", "br-lan").stdout
    match = re.search(rf"^{mac} dev (\S+)", out, re.MULTILINE)
    return match.group(1) if match else None


def test_two_vrids_with_virtual_macs_share_the_load_and_fail_over_together(lab, fleet):
    topology(lab)
    for host, a, b in (("r1", 200, 100), ("r2", 100, 200)):
        fleet.routerhad(
            host,
            {
                "A": group(f"{VIP_A}/24", vrid=1, priority=a, rfc3768_compatibility=True),
                "B": group(f"{VIP_B}/24", vrid=2, priority=b, rfc3768_compatibility=True),
            },
        )
    owners = {"A": "r1", "B": "r2"}

    def serves(host_of: dict[str, str]) -> None:
        """The client reaches each VIP at its virtual MAC, which the switch has
        learnt on the port of the router that is master for it."""
        for name, vip, vmac in (("A", VIP_A, VMAC_A), ("B", VIP_B, VMAC_B)):
            other = {"r1": "r2", "r2": "r1"}[host_of[name]]
            wanted = {host_of[name]: "MASTER"}
            if other not in cut:
                wanted[other] = "BACKUP"
            fleet.wait_states(wanted, name, timeout=3)
            fleet.wait(lambda vip=vip: pings(lab, "cl", vip), f"client pings {vip}")
            assert neighbours(lab, "cl").get(vip) == vmac, f"{neighbours(lab, 'cl')}"
            port = lab.interface(host_of[name]).port
            fleet.wait(
                lambda vmac=vmac, port=port: switch_port_of(lab, vmac) == port,
                lambda vmac=vmac: f"switch has {vmac} on {switch_port_of(lab, vmac)}",
            )

    cut: set[str] = set()
    serves(owners)
    for host in ("r1", "r2"):
        links = lab.ip(host, "-o", "link", "show").stdout
        assert re.search(rf"eth0v1v4@eth0: .* link/ether {VMAC_A}", links), links
        assert re.search(rf"eth0v2v4@eth0: .* link/ether {VMAC_B}", links), links
    lab.cut("r1")
    cut.add("r1")
    serves({"A": "r2", "B": "r2"})
    assert has_address(lab, "r2", f"{VIP_A}/24") and has_address(lab, "r2", f"{VIP_B}/24")
    lab.restore("r1")
    cut.clear()
    serves(owners)


# 8. Tracking ---------------------------------------------------------------------------


def test_tracked_uplink_down_lowers_priority_by_its_weight_and_hands_over(lab, fleet):
    topology(lab)
    lab.add_host("r1", "10.8.0.1/24", segment="wan", ifname="eth1")
    lab.add_host("r2", "10.8.0.2/24", segment="wan", ifname="eth1")
    track = {"interface": [{"name": "eth1", "weight": -50}]}
    fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=200, track=track)})
    fleet.routerhad("r2", {"LAN": group(VIP_CIDR, priority=180)})
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})
    assert fleet["r1"].group()["effective_priority"] == 200, fleet.report()
    lab.cut("r1", "eth1")
    fleet.wait_states({"r1": "BACKUP", "r2": "MASTER"}, timeout=3)
    r1 = fleet["r1"].group()
    assert r1["effective_priority"] == 150 and r1["priority"] == 200, fleet.report()
    assert r1["master_address"] == R2 and r1["faults"] == [], fleet.report()
    client_reaches(lab, fleet, VIP, via="r2")
    lab.restore("r1", "eth1")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=3)
    assert fleet["r1"].group()["effective_priority"] == 200, fleet.report()
    client_reaches(lab, fleet, VIP, via="r1")


# 9. Reload -----------------------------------------------------------------------------


def test_reload_keeps_unchanged_groups_restarts_changed_ones_and_refuses_bad_files(lab, fleet):
    topology(lab)
    for host, priority in (("r1", 200), ("r2", 100)):
        fleet.routerhad(
            host,
            {
                "LAN": group(VIP_CIDR, vrid=1, priority=priority),
                "OTHER": group(f"{VIP_B}/24", vrid=2, priority=priority),
            },
        )
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, "LAN")
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, "OTHER")
    r1, r2 = fleet["r1"], fleet["r2"]
    before = {host: fleet[host].group("LAN") for host in ("r1", "r2")}
    other_before = r1.group("OTHER")

    # r2's file is unchanged: everything is kept.
    done = r2.ctl("reload")
    assert done.returncode == 0, f"{done.stderr}\n{fleet.report()}"
    assert done.stdout.strip() == "reloaded: kept LAN, OTHER; rekeyed -; started -; stopped -", (
        done.stdout
    )
    # r1 changes OTHER only: OTHER restarts, LAN stays.
    r1.write_config(config_with(r1, OTHER={"priority": 150}))
    done = r1.ctl("reload")
    assert done.returncode == 0, f"{done.stderr}\n{fleet.report()}"
    assert done.stdout.strip() == "reloaded: kept LAN; rekeyed -; started OTHER; stopped OTHER", (
        done.stdout
    )
    fleet.wait(
        lambda: (
            (r1.group("OTHER") or {}).get("last_transition", 0) > other_before["last_transition"]
        ),
        "OTHER restarted on r1",
    )
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, "OTHER")
    assert r1.group("OTHER")["effective_priority"] == 150, fleet.report()
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 0.5, "LAN")
    for host in ("r1", "r2"):
        now = fleet[host].group("LAN")
        assert now["counters"]["transitions"] == before[host]["counters"]["transitions"], (
            f"{host}: LAN made a transition on reload\n{fleet.report()}"
        )
        assert now["last_transition"] == before[host]["last_transition"], fleet.report()

    # A file that does not validate is refused as a whole; nothing changes.
    good = r1.conf.read_text()
    steady = r1.status()
    for bad in (
        config_with(r1, LAN={"priority": 50, "preempt_dealy": 1}),
        good[: len(good) // 2],  # not JSON
    ):
        r1.write_config(bad)
        done = r1.ctl("reload")
        assert done.returncode != 0, (
            f"reload of a bad file succeeded: {done.stdout}\n{fleet.report()}"
        )
        assert "config error" in done.stderr, done.stderr
        now = r1.status()
        assert now == {**steady, "groups": now["groups"]}, now
        for old, new in zip(steady["groups"], now["groups"]):
            assert new["state"] == old["state"], fleet.report()
            assert new["effective_priority"] == old["effective_priority"], fleet.report()
            assert new["counters"]["transitions"] == old["counters"]["transitions"], fleet.report()
            assert new["last_transition"] == old["last_transition"], fleet.report()
    assert r1.alive(), fleet.report()


def config_with(daemon, add: dict | None = None, **changes: dict) -> str:
    """``daemon``'s config file with some keys of some groups changed, and groups added."""
    data = json.loads(daemon.conf.read_text())
    for name, settings in changes.items():
        data["vrrp"]["groups"][name].update(settings)
    data["vrrp"]["groups"].update(add or {})
    return json.dumps(data, indent=2)


def test_reload_refused_for_a_missing_interface_leaves_the_running_groups_alone(lab, fleet):
    # docs/routerhad.md: a config that "cannot run (a missing interface), is refused
    # and the running one stays".
    topology(lab)
    for host, priority in (("r1", 200), ("r2", 100)):
        fleet.routerhad(
            host,
            {
                "LAN": group(VIP_CIDR, vrid=1, priority=priority),
                "OTHER": group(f"{VIP_B}/24", vrid=2, priority=priority),
            },
        )
    for name in ("LAN", "OTHER"):
        fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, name)
    r1 = fleet["r1"]
    before = r1.status()
    # OTHER changes and a new group names an interface r1 does not have.
    r1.write_config(
        config_with(
            r1,
            add={"NEW": group("10.7.0.100/24", vrid=3, interface="eth9")},
            OTHER={"priority": 150},
        )
    )
    done = r1.ctl("reload")
    assert done.returncode != 0 and "eth9" in done.stderr, f"{done}\n{fleet.report()}"
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 0.5, "OTHER")
    after = r1.status()
    assert [g["name"] for g in after["groups"]] == [g["name"] for g in before["groups"]]
    for old, new in zip(before["groups"], after["groups"]):
        assert new["priority"] == old["priority"], fleet.report()
        assert new["last_transition"] == old["last_transition"], fleet.report()
    assert has_address(lab, "r1", f"{VIP_B}/24"), fleet.report()


ARP_KEYS = ("arp_ignore", "arp_filter", "arp_announce")


def arp_settings(lab: Lab, host: str, ifname: str) -> dict[str, str]:
    """The ARP sysctls routerhad changes on the interface below a virtual MAC."""

    def read() -> dict[str, str]:
        base = Path(f"/proc/sys/net/ipv4/conf/{ifname}")
        return {k: (base / k).read_text().strip() for k in ARP_KEYS}

    return in_netns(lab.ns(host), read)


def test_refused_reload_leaves_no_virtual_mac_interface_or_arp_settings_behind(lab, fleet):
    lab.add_host("r1", f"{R1}/24")
    lab.add_host("r1", segment="wan", ifname="eth1")  # no IPv4 address to send from
    arp_before = arp_settings(lab, "r1", "eth1")
    r1 = fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=200)})
    fleet.wait_states({"r1": "MASTER"})
    wan = group("10.8.0.100/24", vrid=5, interface="eth1", rfc3768_compatibility=True)
    r1.write_config(config_with(r1, add={"WAN": wan}))
    done = r1.ctl("reload")
    assert done.returncode != 0 and "no IPv4 address" in done.stderr, f"{done}\n{fleet.report()}"
    assert [g["name"] for g in r1.status()["groups"]] == ["LAN"], fleet.report()
    links = lab.ip("r1", "-br", "link", "show").stdout
    assert "eth1v5v4" not in links, f"the refused group's macvlan stayed:\n{links}"
    assert arp_settings(lab, "r1", "eth1") == arp_before, "eth1's ARP settings stayed changed"


def test_reload_failing_on_the_host_still_answers_routerhactl(lab, fleet):
    lab.add_host("r1", f"{R1}/24")
    lab.add_host("r1", segment="wan", ifname="eth1")
    lab.sysctl("r1", "net.ipv6.conf.eth1.disable_ipv6", "1")  # no link-local address
    r1 = fleet.routerhad("r1", {"LAN": group(VIP_CIDR, priority=200)})
    fleet.wait_states({"r1": "MASTER"})
    wan6 = group("fd08::100/64", vrid=5, interface="eth1", rfc3768_compatibility=True)
    r1.write_config(config_with(r1, add={"WAN6": wan6}))
    done = r1.ctl("reload")
    # Refused like any reload that cannot run: one line from routerhactl, exit 1.
    assert done.returncode == 1, f"{done}\n{fleet.report()}"
    assert done.stderr.startswith("routerhactl: ") and "Traceback" not in done.stderr, (
        f"routerhactl got no answer:\n{done.stderr}\n{fleet.report()}"
    )
    assert "Task exception was never retrieved" not in r1.log(), fleet.report()
    assert r1.alive() and r1.state() == "MASTER", fleet.report()


# 10. Hostile packets -------------------------------------------------------------------


def test_garbage_and_hostile_adverts_change_nothing_and_are_counted(lab, fleet):
    topology(lab)
    lab.add_host("x", f"{ATTACKER}/24")
    pass_auth = {"type": "plaintext-password", "password": "secret1"}
    ah_auth = {"type": "ah", "password": "secret2"}
    for host, priority in (("r1", 200), ("r2", 100)):
        fleet.routerhad(
            host,
            {
                "PASS": group(
                    f"{VIP_A}/24", vrid=10, priority=priority, version=2, interval=1,
                    authentication=pass_auth,
                ),
                "AH": group(
                    f"{VIP_B}/24", vrid=11, priority=priority, version=2, interval=1,
                    authentication=ah_auth,
                ),
            },
        )  # fmt: skip
    for name in ("PASS", "AH"):
        fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, name, timeout=6)
    before = {(h, n): fleet[h].group(n) for h in ("r1", "r2") for n in ("PASS", "AH")}

    source = ipaddress.IPv4Address(ATTACKER)
    right_pass = Sender(
        packet_group(vrid=10, address=[f"{VIP_A}/24"], authentication=pass_auth), source
    )
    wrong_pass = Sender(
        packet_group(
            vrid=10, address=[f"{VIP_A}/24"], authentication={**pass_auth, "password": "wrong"}
        ),
        source,
    )
    wrong_ah = Sender(
        packet_group(
            vrid=11, address=[f"{VIP_B}/24"], authentication={**ah_auth, "password": "wrong"}
        ),
        source,
    )
    # The sequence number a real peer would have to beat: the AH check comes first.
    wrong_ah.sequence.value = 0xFFFFFF00
    rng = random.Random(1)
    n = 5
    packets: dict[str, list[bytes]] = {
        # Random octets behind a good IPv4 header (protocol 112).
        "garbage": [
            ipv4.build(source, MCAST, rng.randbytes(rng.randrange(1, 60)), identification=i + 1)
            for i in range(n)
        ],
        # A good advert of the highest priority, but TTL 64: it crossed a router.
        "ttl": [
            ipv4.build(source, MCAST, right_pass.message(255, MCAST), identification=i + 1, ttl=64)
            for i in range(n)
        ],
        # The wrong password, priority 255.
        "auth_data (password)": [wrong_pass.ipv4_datagram(255, MCAST) for _ in range(n)],
        # AH with priority 255 and an ICV made with the wrong key.
        "auth_data (AH)": [wrong_ah.ipv4_datagram(255, MCAST) for _ in range(n)],
    }
    with vrrp_send_socket(lab, "x", socket.AF_INET) as sock:
        for batch in packets.values():
            for datagram in batch:
                sock.sendto(datagram, (str(MCAST), 0))
                time.sleep(0.01)
    total = sum(len(batch) for batch in packets.values())

    def grown(host: str, name: str) -> dict[str, int]:
        """Drops counted on ``host``'s group ``name`` since the packets went out."""
        old = before[(host, name)]["counters"]["drops"]
        now = fleet[host].counters(name)["drops"]
        return {k: v - old.get(k, 0) for k, v in now.items() if v != old.get(k, 0)}

    fleet.wait(
        lambda: all(sum(grown(h, "PASS").values()) >= total for h in ("r1", "r2")),
        lambda: f"{total} drops not counted: { {h: grown(h, 'PASS') for h in ('r1', 'r2')} }",
        timeout=3,
    )
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 0.5, "PASS")
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 0.1, "AH")
    for (host, name), old in before.items():
        now = fleet[host].group(name)
        assert now["state"] == old["state"], fleet.report()
        assert now["counters"]["transitions"] == old["counters"]["transitions"], fleet.report()
        # A drop names no group for certain: it is counted on every group of the port.
        drops = grown(host, name)
        assert drops.get("ttl") == n, f"{host} {name}: {drops}"
        assert drops.get("auth_data") == 2 * n, f"{host} {name}: {drops}"
        assert sum(drops.values()) == total, f"{host} {name}: {drops}"
    assert all(fleet[h].alive() for h in ("r1", "r2")), fleet.report()


# 11. Transition scripts ----------------------------------------------------------------


def test_transition_scripts_get_instance_group_and_state(lab, fleet):
    topology(lab)
    outputs = {}
    for host, priority in (("r1", 200), ("r2", 100)):
        out = lab.dir / f"{host}-transitions.txt"
        script = lab.dir / f"{host}-notify.sh"
        script.write_text(f'#!/bin/sh\necho "$@" >> {out}\n')
        script.chmod(0o755)
        outputs[host] = out
        scripts = {state: str(script) for state in ("master", "backup", "fault", "stop")}
        fleet.routerhad(
            host, {"LAN": group(VIP_CIDR, priority=priority, transition_script=scripts)}
        )
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"})

    def lines(host: str) -> list[str]:
        return outputs[host].read_text().splitlines() if outputs[host].exists() else []

    # Each router's script sees every state it passed through, in order; which one
    # started first decides whether the backup was briefly master before the election.
    fleet.wait(
        lambda: lines("r1")[-1:] == ["INSTANCE LAN MASTER"],
        lambda: f"r1's script saw {lines('r1')}",
    )
    fleet.wait(lambda: lines("r2")[-1:] == ["INSTANCE LAN BACKUP"], lambda: f"r2 saw {lines('r2')}")
    for host in ("r1", "r2"):
        seen = lines(host)
        assert seen[0] == "INSTANCE LAN BACKUP", seen  # everyone starts as backup
        assert all(a != b for a, b in zip(seen, seen[1:])), seen  # one line per transition
        assert set(seen) <= {"INSTANCE LAN BACKUP", "INSTANCE LAN MASTER"}, seen
    assert fleet["r2"].stop() == 0, fleet.report()
    assert lines("r2")[-2:] == ["INSTANCE LAN BACKUP", "INSTANCE LAN STOP"], fleet.report()
