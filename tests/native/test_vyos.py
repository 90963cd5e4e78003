"""VyOS set lines and config.boot: the details of the one interpretation."""

from __future__ import annotations

import ipaddress

import pytest

from routerha.model import TrackedInterface
from routerha.model.native import (
    NativeParseError,
    interface_addresses,
    parse_config_boot,
    parse_set_lines,
)
from routerha.model.native.config_boot import flatten
from routerha.model.native.vyos_set import read_set_lines

LAN = """\
set high-availability vrrp group LAN interface 'eth0'
set high-availability vrrp group LAN vrid '10'
set high-availability vrrp group LAN address '10.0.0.2/24'
"""


def test_quotes_escapes_and_comments():
    text = (
        "# a comment line\n"
        "set high-availability vrrp group LAN description 'it'\\''s the LAN'  # trailing\n"
        'set high-availability vrrp group LAN transition-script master "/config/scripts/a b"\n'
        "set high-availability vrrp group LAN authentication password 'p#ss'\n"
        "set high-availability vrrp group LAN authentication type plaintext-password\n"
    )
    group = parse_set_lines(LAN + text).groups["LAN"]
    assert group.description == "it's the LAN"
    assert group.transition_script.master == "/config/scripts/a b"
    assert group.authentication is not None
    assert group.authentication.password == "p#ss"


def test_edit_exit_top():
    text = """\
edit high-availability vrrp
edit group LAN
set interface eth0
set vrid 10
set address 10.0.0.2/24
exit
set group WAN interface eth1
top
set high-availability vrrp group WAN vrid 20
edit high-availability vrrp group WAN
set address 198.51.100.12/24
commit
save
exit
exit
"""
    config = parse_set_lines(text)
    assert (config.groups["LAN"].interface, config.groups["LAN"].vrid) == ("eth0", 10)
    assert (config.groups["WAN"].interface, config.groups["WAN"].vrid) == ("eth1", 20)
    statements, errors = read_set_lines(text)
    assert errors == []
    assert [s.line for s in statements] == [3, 4, 5, 7, 9, 11]


def test_vyos_13_names_are_read():
    text = """\
set high-availability vrrp group LAN interface eth0
set high-availability vrrp group LAN vrid 10
set high-availability vrrp group LAN virtual-address 10.0.0.2/24
set high-availability vrrp group LAN virtual-address-excluded 2001:db8::2/64
"""
    group = parse_set_lines(text).groups["LAN"]
    assert group.address == (ipaddress.ip_interface("10.0.0.2/24"),)
    assert group.excluded_address == (ipaddress.ip_interface("2001:db8::2/64"),)


def test_address_on_the_group_interface_is_accepted():
    text = LAN + "set high-availability vrrp group LAN address '10.0.0.3/24' interface 'eth0'\n"
    assert len(parse_set_lines(text).groups["LAN"].address) == 2


def test_address_on_another_interface_is_read():
    text = LAN + (
        "set high-availability vrrp group LAN address '203.0.113.7/24' interface 'eth1'\n"
        "set high-availability vrrp group LAN excluded-address 'fd00::7/64' interface 'eth2'\n"
    )
    group = parse_set_lines(text).groups["LAN"]
    assert [str(a) for a in group.address] == ["10.0.0.2/24", "203.0.113.7/24"]
    assert group.interface_of(group.address[1]) == "eth1"
    assert group.interface_of(group.excluded_address[0]) == "eth2"
    boot = """\
high-availability {
    vrrp {
        group LAN {
            address 10.0.0.2/24 {
            }
            address 203.0.113.7/24 {
                interface eth1
            }
            excluded-address fd00::7/64 {
                interface eth2
            }
            interface eth0
            vrid 10
        }
    }
}
"""
    assert parse_config_boot(boot).groups["LAN"] == group


def test_address_interface_error_names_its_line():
    text = LAN + "set high-availability vrrp group LAN address '203.0.113.7/24' interface\n"
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(text, "r1.conf")
    assert caught.value.lines == [4]


def test_high_availability_disable_disables_every_group():
    text = LAN + "set high-availability disable\n"
    assert parse_set_lines(text).groups["LAN"].disable is True
    assert parse_set_lines(LAN).groups["LAN"].disable is False


def test_known_nodes_outside_the_model_are_accepted():
    text = LAN + (
        "set high-availability vrrp snmp\n"
        "set high-availability vrrp global-parameters startup-delay 30\n"
        "set high-availability virtual-server WEB port 80\n"
    )
    assert parse_set_lines(text).groups["LAN"].priority == 100


def test_global_version_applies_to_ipv4_groups_only():
    text = LAN + (
        "set high-availability vrrp global-parameters version 3\n"
        "set high-availability vrrp group V6 interface eth0\n"
        "set high-availability vrrp group V6 vrid 10\n"
        "set high-availability vrrp group V6 address 2001:db8::1/64\n"
    )
    config = parse_set_lines(text)
    assert config.groups["LAN"].version == 3
    assert config.groups["V6"].version == 3
    text = LAN + "set high-availability vrrp global-parameters version 2\n"
    assert parse_set_lines(text).groups["LAN"].version == 2


def test_group_garp_overrides_the_global_one():
    text = LAN + (
        "set high-availability vrrp global-parameters garp master-repeat 2\n"
        "set high-availability vrrp global-parameters garp master-delay 3\n"
        "set high-availability vrrp group LAN garp master-repeat 4\n"
    )
    garp = parse_set_lines(text).groups["LAN"].garp
    assert (garp.master_repeat, garp.master_delay) == (4, 3)


def test_track_interfaces_and_sync_group_scripts():
    text = LAN + (
        "set high-availability vrrp group LAN track interface eth1\n"
        "set high-availability vrrp group LAN track interface eth2\n"
        "set high-availability vrrp group LAN health-check ping 10.0.0.254\n"
        "set high-availability vrrp sync-group S member LAN\n"
        "set high-availability vrrp sync-group S transition-script master /config/scripts/m\n"
        "set high-availability vrrp sync-group S health-check script /config/scripts/c\n"
    )
    config = parse_set_lines(text)
    group = config.groups["LAN"]
    assert group.track.interface == (TrackedInterface("eth1"), TrackedInterface("eth2"))
    assert group.health_check is not None
    assert group.health_check.ping == ipaddress.ip_address("10.0.0.254")
    sync = config.sync_groups["S"]
    assert sync.transition_script.master == "/config/scripts/m"
    assert sync.health_check is not None
    assert sync.health_check.script == "/config/scripts/c"


def test_legacy_preempt_and_vif_names():
    text = """\
set interfaces bonding bond0 vif 20 vrrp vrrp-group 5 virtual-address 10.20.0.1/24
set interfaces bonding bond0 vif 20 vrrp vrrp-group 5 preempt false
set interfaces ethernet eth1 vif-s 100 vif-c 200 vrrp vrrp-group 6 virtual-address 10.30.0.1
set interfaces ethernet eth1 vif-s 100 vif-c 200 address 10.30.0.2/24
set interfaces ethernet eth2 address dhcp
"""
    config = parse_set_lines(text)
    assert config.groups["bond0.20-5"].interface == "bond0.20"
    assert config.groups["bond0.20-5"].preempt is False
    assert config.groups["eth1.100.200-6"].vrid == 6
    assert interface_addresses(text) == {"eth1.100.200": ["10.30.0.2/24"], "eth2": ["dhcp"]}


def test_legacy_preempt_needs_true_or_false():
    text = "set interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address 10.0.0.1\n"
    text += "set interfaces ethernet eth0 vrrp vrrp-group 1 preempt yes\n"
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(text)
    assert caught.value.lines == [2]
    assert "must be true or false, not 'yes'" in str(caught.value)


def test_conntrack_sync_unicast_peer_port_listen_address_startup_resync():
    text = LAN + (
        "set high-availability vrrp sync-group S member LAN\n"
        "set service conntrack-sync interface eth2 peer 10.10.10.3\n"
        "set service conntrack-sync interface eth2 port 3781\n"
        "set service conntrack-sync listen-address 10.10.10.2\n"
        "set service conntrack-sync failover-mechanism vrrp sync-group S\n"
        "set service conntrack-sync startup-resync\n"
        "set service conntrack-sync disable-external-cache\n"
        "set service conntrack-sync disable-syslog\n"
        "set service conntrack-sync event-listen-queue-size 16\n"
        "set service conntrack-sync sync-queue-size 2\n"
    )
    sync = parse_set_lines(text).conntrack_sync
    assert sync is not None
    assert sync.peer == ipaddress.ip_address("10.10.10.3")
    assert sync.port == 3781
    assert sync.listen_address == ipaddress.ip_address("10.10.10.2")
    assert sync.startup_resync is True
    assert sync.disable_external_cache is True
    assert (sync.event_listen_queue_size, sync.sync_queue_size) == (16, 2)


def test_second_listen_address_is_refused():
    text = (
        "set service conntrack-sync listen-address 10.10.10.2\n"
        "set service conntrack-sync listen-address 10.10.10.4\n"
    )
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(text)
    assert caught.value.lines == [2]


def test_config_boot_flattens_to_set_paths():
    text = """\
interfaces {
    ethernet eth0 {
        description "uplink { not a brace }"
        vrrp { vrrp-group 1 { virtual-address 10.0.0.1/24 } }
    }
}
"""
    statements = flatten(text)
    assert [(" ".join(s.words), s.line) for s in statements] == [
        ("interfaces", 1),
        ("interfaces ethernet eth0", 2),
        ("interfaces ethernet eth0 description uplink { not a brace }", 3),
        ("interfaces ethernet eth0 vrrp", 4),
        ("interfaces ethernet eth0 vrrp vrrp-group 1", 4),
        ("interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address 10.0.0.1/24", 4),
    ]
    assert parse_config_boot(text).groups["eth0-1"].address == (
        ipaddress.ip_interface("10.0.0.1/24"),
    )


def test_config_boot_and_set_lines_agree_on_an_error():
    boot = """\
high-availability {
    vrrp {
        group LAN {
            interface eth0
            vrid 10
            address 10.0.0.2/24 {
            }
            advertise-interval 0.5
        }
    }
}
"""
    with pytest.raises(NativeParseError) as caught:
        parse_config_boot(boot, "boot")
    assert caught.value.lines == [8]
    assert "VRRPv2 needs whole seconds" in str(caught.value)
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(LAN + "set high-availability vrrp group LAN advertise-interval 0.5")
    assert caught.value.lines == [4]
