"""A VyOS 1.2 router's config.boot and the same router's configuration after the
upgrade to 1.4, as ``show configuration commands`` prints it, load into equal models.

The pair (tests/native/fixtures/vyos12_to_14/) is the two-router NAT gateway with
conntrack-sync in one sync group, written out whole (firewall, NAT, system...), with
the VRRP settings real VyOS routers use: AH authentication, rfc3768-compatibility, a
hello source, a health check, transition scripts, an IPv6 group, an excluded address.
The 1.4 form names the WAN address's own interface (``address A interface eth0``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from routerha.model.consistency import check_members, load_member
from routerha.model.native import detect_kind, interface_addresses, parse_native

PAIR = Path(__file__).parent / "fixtures" / "vyos12_to_14"


def read(name: str) -> str:
    return (PAIR / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("router", ["r1", "r2"])
def test_the_12_config_boot_and_the_14_set_lines_are_one_model(router):
    boot, lines = read(f"{router}.config.boot"), read(f"{router}.set")
    assert (detect_kind(boot), detect_kind(lines)) == ("config-boot", "vyos-set")
    old = parse_native(boot, source=f"{router}.config.boot")
    new = parse_native(lines, source=f"{router}.set")
    assert old == new
    assert set(new.groups) == {"LAN", "LAN6", "WAN"}
    assert new.sync_groups["MAIN-GW"].member == ("WAN", "LAN")
    assert new.conntrack_sync is not None
    assert new.conntrack_sync.accept_protocol == ("tcp", "udp", "icmp")
    assert interface_addresses(boot) == interface_addresses(lines)


def test_the_pair_is_consistent_whichever_form_each_router_is_in():
    r1_old = load_member(read("r1.config.boot"), source="r1")
    r2_new = load_member(read("r2.set"), source="r2")
    report = check_members({"r1": r1_old, "r2": r2_new})
    assert [(f.code, f.message) for f in report if f.severity == "error"] == []


def test_values_that_differ_from_the_defaults_are_read():
    config = parse_native(read("r1.set"))
    lan, wan, lan6 = config.groups["LAN"], config.groups["WAN"], config.groups["LAN6"]
    assert (lan.priority, lan.advertise_interval, lan.preempt_delay) == (200, 2, 20)
    assert lan.rfc3768_compatibility and lan.health_check is not None
    assert lan.transition_script.master == "/config/scripts/vrrp-master.sh"
    assert wan.authentication is not None and wan.authentication.type.value == "ah"
    assert wan.address_interface == ()  # its own interface, named: nothing more
    assert [str(a) for a in wan.excluded_address] == ["10.10.0.104/24"]
    assert (lan6.version, lan6.ipv6) == (3, True)
