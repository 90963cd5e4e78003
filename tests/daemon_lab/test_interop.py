"""routerhad against real peers in network namespaces: keepalived (VRRPv2 without
authentication, with a password, with AH; VRRPv3) and FRR's vrrpd (VRRPv3), each
side taking turns as master; and tshark reading a capture of routerhad's adverts.

routerhad runs in r1, the peer in r2, on segment lan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from lab.netlab import Keepalived, Lab, keepalived_instance

from .routerhad_lab import Fleet, Frr, KeepalivedReport, config, group, has_address

pytestmark = [pytest.mark.root, pytest.mark.interop]

R1, R2 = "10.9.0.1", "10.9.0.2"
VIP_CIDR = "10.9.0.100/24"
PASSWORD = "YOGHURT"
INSTANCE = "VI_1"
VRID = 51


def pair(lab: Lab) -> None:
    lab.add_host("r1", f"{R1}/24", "fd00::1/64")
    lab.add_host("r2", f"{R2}/24", "fd00::2/64")


# 12. keepalived ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    version: int
    interval: float
    auth: str | None = None  # keepalived's auth_type: PASS or AH

    def routerhad(self, priority: int) -> str:
        settings = {}
        if self.auth is not None:
            kind = {"PASS": "plaintext-password", "AH": "ah"}[self.auth]
            settings["authentication"] = {"type": kind, "password": PASSWORD}
        return config(
            {
                "LAN": group(
                    VIP_CIDR,
                    vrid=VRID,
                    priority=priority,
                    version=self.version,
                    interval=self.interval,
                    **settings,
                )
            }
        )

    def keepalived(self, priority: int) -> str:
        return keepalived_instance(
            INSTANCE,
            vrid=VRID,
            priority=priority,
            addresses=[VIP_CIDR],
            version=self.version,
            advert_int=self.interval,
            auth_type=self.auth,
            auth_pass=PASSWORD if self.auth else None,
        )

    def master_down(self, priority: int) -> float:
        return 3 * self.interval + (256 - priority) * self.interval / 256


KEEPALIVED_CASES = [
    Case("v2-none", 2, 1.0),
    Case("v2-pass", 2, 1.0, auth="PASS"),
    Case("v2-ah", 2, 1.0, auth="AH"),
    Case("v3-ipv4", 3, 0.1),
]


def keepalived_reaches(
    fleet: Fleet, keepalived: Keepalived, state: str, since: int, timeout: float
):
    """Wait for keepalived to enter ``state`` after its ``since``-th transition."""
    fleet.wait(
        lambda: keepalived.states(INSTANCE)[since:][-1:] == [state],
        lambda: f"keepalived not {state} after transition {since}: {keepalived.states(INSTANCE)}",
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "case",
    # VRRPv2 counts whole seconds: each of its cases takes about 18 s.
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.slow] * (c.version == 2))
        for c in KEEPALIVED_CASES
    ],
)
def test_routerhad_and_keepalived_take_turns_as_master(lab, fleet, case):
    pair(lab)
    # Startup: both wait Master_Down_Interval; then a margin for process start.
    elect = case.master_down(100) + 3
    # A clean stop (priority 0): the backup takes over after Skew_Time.
    handover = case.interval + 2

    # routerhad 200, keepalived 100.
    rh = fleet.routerhad("r1", {}, start=False)
    rh.write_config(case.routerhad(200))
    rh.start()
    ka = Keepalived(lab, "r2", case.keepalived(100), name="keepalived-100")
    fleet.add(KeepalivedReport(ka))
    ka.start()
    fleet.wait_states({"r1": "MASTER"}, timeout=elect)
    keepalived_reaches(fleet, ka, "BACKUP", 0, timeout=elect)
    assert has_address(lab, "r1", VIP_CIDR) and not has_address(lab, "r2", VIP_CIDR)
    seen = len(ka.states(INSTANCE))
    assert rh.stop() == 0, fleet.report()
    keepalived_reaches(fleet, ka, "MASTER", seen, timeout=handover)
    assert has_address(lab, "r2", VIP_CIDR), fleet.report()
    seen = len(ka.states(INSTANCE))
    rh.start()  # returns with the higher priority: preempts
    fleet.wait_states({"r1": "MASTER"}, timeout=elect)
    keepalived_reaches(fleet, ka, "BACKUP", seen, timeout=handover)
    assert rh.group()["counters"]["drops"] == {}, fleet.report()
    ka.stop()
    assert rh.stop() == 0, fleet.report()

    # The other way round: keepalived 200, routerhad 100.
    rh.write_config(case.routerhad(100))
    ka = Keepalived(lab, "r2", case.keepalived(200), name="keepalived-200")
    fleet.add(KeepalivedReport(ka))
    ka.start()
    rh.start()
    keepalived_reaches(fleet, ka, "MASTER", 0, timeout=elect)
    fleet.wait_states({"r1": "BACKUP"}, timeout=elect)
    fleet.wait_master("r1", R2)
    fleet.hold({"r1": "BACKUP"}, 2 * case.interval)
    # With AH, routerhad kept the floor of r2's address across its restarts, and this
    # keepalived, new, began counting at 1: its first adverts look like replays until
    # routerhad's adverts lift its counter (at most one Master_Down_Interval).
    settled = rh.group()["counters"]["drops"]
    assert set(settled) <= {"auth_replay"}, fleet.report()
    assert settled.get("auth_replay", 0) <= case.master_down(100) / case.interval + 2
    ka.stop()  # keepalived sends priority 0
    fleet.wait_states({"r1": "MASTER"}, timeout=handover)
    assert has_address(lab, "r1", VIP_CIDR), fleet.report()
    # It returns with the higher priority and preempts. (A new Keepalived: restarting
    # one would start its log file anew, losing the first run's.)
    ka = Keepalived(lab, "r2", case.keepalived(200), name="keepalived-200-again")
    fleet.add(KeepalivedReport(ka))
    ka.start()
    keepalived_reaches(fleet, ka, "MASTER", 0, timeout=elect)
    fleet.wait_states({"r1": "BACKUP"}, timeout=handover)
    assert not has_address(lab, "r1", VIP_CIDR), fleet.report()
    assert rh.group()["counters"]["drops"] == settled, fleet.report()


# 13. FRR vrrpd -------------------------------------------------------------------------

FRR_VRID = 1
FRR_VRRPD_CONF = f"""\
interface eth0
 vrrp {FRR_VRID} version 3
 vrrp {FRR_VRID} priority 150
 vrrp {FRR_VRID} advertisement-interval 100
 vrrp {FRR_VRID} ip 10.9.0.100
!
"""
FRR_MACVLAN = "vrrp4-2-1"


def frr_macvlan(lab: Lab, host: str) -> None:
    """What FRR's vrrpd needs (its docs): a macvlan with the virtual MAC carrying the VIP."""
    lab.ip(host, "link", "add", FRR_MACVLAN, "link", "eth0", "type", "macvlan", "mode", "bridge")
    lab.ip(host, "link", "set", "dev", FRR_MACVLAN, "address", f"00:00:5e:00:01:{FRR_VRID:02x}")
    lab.ip(host, "addr", "add", VIP_CIDR, "dev", FRR_MACVLAN)
    lab.ip(host, "link", "set", "dev", FRR_MACVLAN, "up")


def frr_became_master(frr: Frr) -> int:
    """How often the running vrrpd went Backup -> Master (its log)."""
    return len(re.findall(r"\[IPv4\] Backup -> Master", frr.vrrpd_runs[-1].log()))


@pytest.mark.parametrize("vmac", [False, True], ids=["base-mac", "rfc3768"])
def test_routerhad_and_frr_vrrpd_take_turns_as_master(lab, fleet, vmac):
    pair(lab)
    frr_macvlan(lab, "r2")
    frr = Frr(lab, "r2", FRR_VRRPD_CONF)
    fleet.add(frr)
    frr.start()
    fleet.wait(lambda: frr.state() == "Master", "FRR master on its own", timeout=10)

    def routerhad_config(priority: int) -> str:
        return config(
            {"LAN": group(VIP_CIDR, vrid=FRR_VRID, priority=priority, rfc3768_compatibility=vmac)}
        )

    def states(rh_state: str, frr_state: str, timeout: float = 5.0) -> None:
        fleet.wait(
            lambda: rh.state() == rh_state and frr.state() == frr_state,
            lambda: f"wanted routerhad {rh_state}, FRR {frr_state}: {rh.state()}, {frr.state()}",
            timeout=timeout,
        )

    # routerhad 200 preempts FRR 150, and FRR stays backup.
    rh = fleet.routerhad("r1", {}, start=False)
    rh.write_config(routerhad_config(200))
    rh.start()
    states("MASTER", "Backup")
    flips = frr_became_master(frr)
    fleet.hold({"r1": "MASTER"}, 1.0)
    assert frr.state() == "Backup" and frr_became_master(frr) == flips, fleet.report()
    assert has_address(lab, "r1", VIP_CIDR), fleet.report()
    # routerhad stops (priority 0): FRR takes over; routerhad returns and preempts.
    assert rh.stop() == 0, fleet.report()
    states(None, "Master", timeout=2)
    rh.start()
    states("MASTER", "Backup")

    # routerhad drops to 100 (a reload restarts the group): FRR 150 is master.
    rh.write_config(routerhad_config(100))
    done = rh.ctl("reload")
    assert done.returncode == 0, f"{done.stderr}\n{fleet.report()}"
    states("BACKUP", "Master")
    fleet.wait_master("r1", R2)
    fleet.hold({"r1": "BACKUP"}, 1.0)
    # vrrpd stops: routerhad takes over; vrrpd returns and preempts.
    frr.stop_vrrpd()
    fleet.wait_states({"r1": "MASTER"}, timeout=2)
    assert has_address(lab, "r1", VIP_CIDR), fleet.report()
    frr.start_vrrpd()
    states("BACKUP", "Master", timeout=10)
    assert not has_address(lab, "r1", VIP_CIDR), fleet.report()
    assert rh.group()["counters"]["drops"] == {}, fleet.report()


# 14. tshark ----------------------------------------------------------------------------

TSHARK = "/usr/bin/tshark"


def test_tshark_decodes_captured_adverts_without_warnings(lab, fleet):
    pair(lab)
    ah = {"type": "ah", "password": PASSWORD}
    for host, priority in (("r1", 200), ("r2", 100)):
        fleet.routerhad(
            host,
            {
                "AH": group(
                    "10.9.0.101/24", vrid=1, priority=priority, version=2, interval=1,
                    authentication=ah,
                ),
                "V3": group("10.9.0.102/24", vrid=2, priority=priority),
                "V6": group("fd00::102/64", vrid=2, priority=priority),
            },
        )  # fmt: skip
    for name in ("AH", "V3", "V6"):
        fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, name, timeout=6)
    pcap = lab.dir / "adverts.pcapng"
    lab.run("r2", TSHARK, "-i", "eth0", "-a", "duration:2", "-w", str(pcap), timeout=30)

    expert = lab.run("r2", TSHARK, "-r", str(pcap), "-q", "-z", "expert").stdout
    # tshark 4.0 heads the sections "Errors (n)", "Warns (n)", "Notes (n)", "Chats (n)".
    assert not re.search(r"^(Errors|Warns|Warnings) \(", expert, re.MULTILINE), expert
    fields = lab.run(
        "r2", TSHARK, "-r", str(pcap), "-Y", "vrrp",
        "-T", "fields", "-E", "separator=,",
        "-e", "ip.src", "-e", "ipv6.src", "-e", "ah.spi", "-e", "vrrp.version",
        "-e", "vrrp.virt_rtr_id", "-e", "vrrp.prio", "-e", "vrrp.checksum.status",
    ).stdout  # fmt: skip
    rows = [line.split(",") for line in fields.splitlines()]
    link_local = str(lab.link_local("r1"))
    seen = {tuple(row) for row in rows}
    assert seen == {
        (R1, "", "0x0a090001", "2", "1", "200", "1"),
        (R1, "", "", "3", "2", "200", "1"),
        ("", link_local, "", "3", "2", "200", "1"),
    }, f"{fields}\n{fleet.report()}"
    # Two seconds: two VRRPv2 adverts at 1 s, about twenty of each VRRPv3 group at 0.1 s.
    count = {key: sum(1 for row in rows if tuple(row) == key) for key in seen}
    assert min(count.values()) >= 2 and max(count.values()) >= 15, count


# 12b. keepalived with an address on another interface (virtual_ipaddress ... dev) -----

WAN_VIP_CIDR = "10.8.0.100/24"


def test_address_on_another_interface_interoperates_with_keepalived_dev(lab, fleet):
    """keepalived advertises a ``dev`` address with the others: routerhad's
    ``address_interface`` does the same, so neither side sees an address mismatch,
    and the address lives on eth1 of whichever is master. keepalived's file and
    routerhad's configuration check as one virtual router."""
    from routerha.model.consistency import check_members, load_member

    pair(lab)
    lab.add_host("r1", "10.8.0.1/24", segment="wan", ifname="eth1")
    lab.add_host("r2", "10.8.0.2/24", segment="wan", ifname="eth1")
    placed = {"address": WAN_VIP_CIDR, "interface": "eth1"}
    routerhad_text = config(
        {"LAN": group(VIP_CIDR, placed, vrid=VRID, priority=200, version=3, interval=0.1)}
    )
    keepalived_text = keepalived_instance(
        INSTANCE,
        vrid=VRID,
        priority=100,
        addresses=[VIP_CIDR, f"{WAN_VIP_CIDR} dev eth1"],
        version=3,
        advert_int=0.1,
    )
    findings = check_members(
        {
            "r1": load_member(routerhad_text, source="r1"),
            "r2": load_member(keepalived_text, source="r2"),
        }
    )
    assert [f.code for f in findings if f.code.startswith("address")] == []

    rh = fleet.routerhad("r1", {}, start=False)
    rh.write_config(routerhad_text)
    rh.start()
    ka = Keepalived(lab, "r2", keepalived_text, name="keepalived-dev")
    fleet.add(KeepalivedReport(ka))
    ka.start()
    fleet.wait_states({"r1": "MASTER"}, timeout=5)
    keepalived_reaches(fleet, ka, "BACKUP", 0, timeout=5)
    fleet.wait(
        lambda: WAN_VIP_CIDR in lab.addresses("r1", "eth1"), "routerhad's eth1 has the address"
    )
    assert not has_address(lab, "r2", WAN_VIP_CIDR), fleet.report()
    seen = len(ka.states(INSTANCE))
    assert rh.stop() == 0, fleet.report()
    keepalived_reaches(fleet, ka, "MASTER", seen, timeout=3)
    fleet.wait(
        lambda: WAN_VIP_CIDR in lab.addresses("r2", "eth1"), "keepalived's eth1 has the address"
    )
    seen = len(ka.states(INSTANCE))
    rh.start()
    fleet.wait_states({"r1": "MASTER"}, timeout=5)
    keepalived_reaches(fleet, ka, "BACKUP", seen, timeout=3)
    status = rh.group()
    assert status["counters"]["address_mismatch"] == 0, fleet.report()
    assert status["counters"]["drops"] == {}, fleet.report()
    # keepalived checks the addresses of what it receives against its own.
    mismatch = r"VIPs but received|ip number count|ip address associated"
    assert not re.search(mismatch, ka.log()), ka.log()
