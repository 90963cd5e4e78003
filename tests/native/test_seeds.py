"""The configurations of the source documents parse into the model."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from routerha.model import AuthType
from routerha.model.conntrack_sync import EXPECT_HELPERS
from routerha.model.native import (
    NativeParseError,
    detect_kind,
    interface_addresses,
    parse_config_boot,
    parse_native,
    parse_set_lines,
)

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def ip(text: str):
    return ipaddress.ip_interface(text)


# Seed 002: VyOS 1.1 set lines, rfc3768-compatibility, sync-group "total"


def test_seed002_groups_and_sync_group():
    config = parse_set_lines(read("seed002_router_a.set"), "seed002")
    assert set(config.groups) == {"eth0-10", "eth1-20"}
    outside = config.groups["eth0-10"]
    assert outside.interface == "eth0"
    assert outside.vrid == 10
    assert outside.address == (ip("10.0.0.2/32"),)
    assert outside.advertise_interval == 2
    assert outside.hello_source_address == ipaddress.ip_address("192.168.0.253")
    assert outside.preempt is True
    assert outside.preempt_delay == 20
    assert outside.priority == 200
    assert outside.rfc3768_compatibility is True
    assert outside.version == 2
    inside = config.groups["eth1-20"]
    assert inside.address == (ip("192.168.1.254/24"),)
    assert inside.description == "internal gateway"
    assert config.sync_groups["total"].member == ("eth0-10", "eth1-20")
    assert config.conntrack_sync is None


def test_seed002_interface_addresses_and_kind():
    text = read("seed002_router_a.set")
    assert detect_kind(text) == "vyos-set"
    assert interface_addresses(text) == {"eth0": ["192.168.0.253/24"], "eth1": ["192.168.1.253/24"]}


# Seed 003: two routers' config.boot, groups 1 and 2 in MAIN-GW, conntrack-sync


@pytest.mark.parametrize(
    ("name", "priority", "addresses"),
    [
        (
            "seed003_r1.config.boot",
            200,
            {"eth0": ["10.10.0.102/24"], "eth1": ["10.10.10.2/24"], "eth2": ["192.168.100.2/24"]},
        ),
        (
            "seed003_r2.config.boot",
            100,
            {"eth0": ["10.10.0.103/24"], "eth1": ["10.10.10.3/24"], "eth2": ["192.168.100.3/24"]},
        ),
    ],
)
def test_seed003_router(name, priority, addresses):
    text = read(name)
    assert detect_kind(text) == "config-boot"
    config = parse_config_boot(text, name)
    assert set(config.groups) == {"eth0-1", "eth2-2"}
    wan, lan = config.groups["eth0-1"], config.groups["eth2-2"]
    assert (wan.interface, wan.vrid, wan.address) == ("eth0", 1, (ip("10.10.0.101"),))
    assert (lan.interface, lan.vrid, lan.address) == ("eth2", 2, (ip("192.168.100.1"),))
    for group in (wan, lan):
        assert group.priority == priority
        assert group.advertise_interval == 1
        assert group.preempt is True
        assert group.authentication is None
    assert set(config.sync_groups) == {"MAIN-GW"}
    assert set(config.sync_groups["MAIN-GW"].member) == {"eth0-1", "eth2-2"}
    assert config.sync_group_of("eth0-1") is config.sync_group_of("eth2-2")
    sync = config.conntrack_sync
    assert sync is not None
    assert sync.interface == "eth1"
    assert sync.sync_group == "MAIN-GW"
    assert sync.peer is None
    assert sync.mcast_group == ipaddress.ip_address("225.0.0.50")  # VyOS's default
    assert sync.startup_resync is False  # VyOS: off unless startup-resync is set
    assert interface_addresses(text, "config-boot") == addresses


def test_seed003_routers_differ_only_in_priority():
    r1 = parse_config_boot(read("seed003_r1.config.boot"), "r1")
    r2 = parse_config_boot(read("seed003_r2.config.boot"), "r2")
    for name, group in r1.groups.items():
        assert group != r2.groups[name]
        assert group.__class__(**{**vars(group), "priority": 100}) == r2.groups[name]
    assert r1.sync_groups == r2.sync_groups
    assert r1.conntrack_sync == r2.conntrack_sync


# Seed 000: the book chapter (edit context, load sharing, run-together lines)


def test_seed000_edit_context_groups():
    config = parse_set_lines(read("seed000_rt1_groups.set"), "rt1")
    assert {name: g.address for name, g in config.groups.items()} == {
        "eth0-1": (ip("10.1.1.5"),),
        "eth4-7": (ip("198.51.100.12"),),
    }
    assert all(g.priority == 100 for g in config.groups.values())


def test_seed000_load_sharing_priorities():
    rt1 = parse_set_lines(read("seed000_rt1_load_sharing.set"), "rt1")
    rt2 = parse_set_lines(read("seed000_rt2_load_sharing.set"), "rt2")
    assert {n: (g.priority, g.address) for n, g in rt1.groups.items()} == {
        "eth0-1": (120, (ip("10.1.1.5"),)),
        "eth0-2": (70, (ip("10.1.1.6"),)),
    }
    assert {n: g.priority for n, g in rt2.groups.items()} == {"eth0-1": 70, "eth0-2": 120}


def test_seed000_commands_run_together_are_refused_with_their_line():
    for name in ("seed000_rt2_sync_group.set", "seed000_authentication.set"):
        with pytest.raises(NativeParseError) as caught:
            parse_set_lines(read(name), name)
        assert caught.value.lines == [1]
        assert f"{name}:1" in str(caught.value)
        assert "one command per line" in str(caught.value)


def test_seed000_rt2_with_sync_group_and_conntrack_sync():
    # RT-2's WAN port is eth1 (the book: "identical but for the WAN adapter's name").
    groups = read("seed000_rt1_groups.set").replace("eth4", "eth1")
    sync_line = read("seed000_rt2_sync_group.set").replace(" set ", "\nset ")
    text = "\n".join(
        [groups, read("seed000_rt2_firewall_nat.set"), sync_line, read("seed000_expect_sync.set")]
    )
    config = parse_set_lines(text, "rt2")
    assert set(config.groups) == {"eth0-1", "eth1-7"}
    assert config.sync_groups["CG-1"].member == ("eth0-1", "eth1-7")
    sync = config.conntrack_sync
    assert sync is not None
    assert (sync.interface, sync.sync_group) == ("eth2", "CG-1")
    assert sync.mcast_group == ipaddress.ip_address("239.22.6.1")
    assert sync.expect_sync == EXPECT_HELPERS  # "all"


def test_seed000_stray_set_in_path_is_refused():
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(read("seed000_rt1_priority.set"), "book")
    assert caught.value.lines == [1]
    corrected = read("seed000_rt1_priority.set").replace("ethernet set ", "ethernet ")
    text = read("seed000_rt1_groups.set") + corrected
    assert parse_set_lines(text).groups["eth0-1"].priority == 200


def test_seed000_ah_authentication_and_rfc3768():
    edit, *sets = read("seed000_authentication.set").strip().split(" set ")
    text = "\n".join(
        [
            read("seed000_rt1_groups.set"),
            edit,
            *(f"set {line}" for line in sets),
            "top",
            read("seed000_rfc3768.set"),
        ]
    )
    group = parse_native(text, source="rt1").groups["eth0-1"]
    assert group.authentication is not None
    assert group.authentication.type is AuthType.AH
    assert group.authentication.password == "YOGHURT"
    assert group.rfc3768_compatibility is True


def test_seed000_rfc3768_line_alone_lacks_an_address():
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(read("seed000_rfc3768.set"), "book")
    assert caught.value.lines == [1]
    assert "vrrp.groups.eth0-1.address: is required" in str(caught.value)


def test_seed000_firewall_and_nat_alone_hold_no_vrrp():
    config = parse_set_lines(read("seed000_rt2_firewall_nat.set"))
    assert config.groups == {}
    assert config.conntrack_sync is None
