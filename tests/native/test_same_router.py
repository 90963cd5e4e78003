"""One router written in every syntax parses to the same model (names aside)."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from routerha.model import AuthType, HealthCheck, TransitionScripts
from routerha.model.native import (
    detect_kind,
    interface_addresses,
    parse_config_boot,
    parse_keepalived,
    parse_native,
    parse_set_lines,
)

SAME = Path(__file__).parent / "fixtures" / "same_router"
FILES = ("vyos14.set", "vyos11.set", "vyos11.config.boot", "vyos14.config.boot", "keepalived.conf")
KINDS = {
    "vyos14.set": "vyos-set",
    "vyos11.set": "vyos-set",
    "vyos11.config.boot": "config-boot",
    "vyos14.config.boot": "config-boot",
    "keepalived.conf": "keepalived",
}


def parse(name: str):
    return parse_native((SAME / name).read_text(encoding="utf-8"), source=name)


def normalised(config):
    """Groups keyed by (interface, VRID) without their names; sync groups as sets of
    those keys, likewise without names."""
    key = {name: (g.interface, g.vrid) for name, g in config.groups.items()}
    groups = {key[name]: dataclasses.replace(g, name="") for name, g in config.groups.items()}
    sync_groups = {
        frozenset(key[m] for m in s.member): dataclasses.replace(s, name="", member=())
        for s in config.sync_groups.values()
    }
    return groups, sync_groups


@pytest.mark.parametrize("name", FILES)
def test_kind_is_detected(name):
    assert detect_kind((SAME / name).read_text(encoding="utf-8")) == KINDS[name]


def test_the_reference_parse():
    groups, sync_groups = normalised(parse("vyos14.set"))
    lan = groups[("eth0", 10)]
    assert lan.address == (
        ipaddress.ip_interface("10.0.0.2/24"),
        ipaddress.ip_interface("10.0.0.3/24"),
    )
    assert (lan.priority, lan.advertise_interval, lan.preempt) == (200, 2, False)
    assert lan.authentication is not None
    assert lan.authentication.type is AuthType.PLAINTEXT
    assert lan.authentication.password == "secret1"
    assert lan.rfc3768_compatibility is True
    assert lan.hello_source_address == ipaddress.ip_address("192.168.0.253")
    assert lan.peer_address == (ipaddress.ip_address("192.168.0.254"),)
    assert lan.transition_script == TransitionScripts(
        master="/config/scripts/vrrp-master.sh",
        backup="/config/scripts/vrrp-backup.sh",
        fault="/config/scripts/vrrp-fault.sh",
    )
    wan = groups[("eth1.100", 20)]
    assert (wan.priority, wan.preempt, wan.preempt_delay) == (150, True, 20)
    assert wan.authentication is not None
    assert wan.authentication.type is AuthType.AH
    assert wan.health_check == HealthCheck(
        script="/config/scripts/check-uplink", interval=5, failure_count=3
    )
    assert list(sync_groups) == [frozenset({("eth0", 10), ("eth1.100", 20)})]


@pytest.mark.parametrize("name", FILES[1:])
def test_every_syntax_gives_the_same_groups(name):
    assert normalised(parse(name)) == normalised(parse("vyos14.set"))


@pytest.mark.parametrize("name", FILES[1:4])
def test_every_vyos_syntax_gives_the_same_conntrack_sync(name):
    reference = parse("vyos14.set").conntrack_sync
    assert reference is not None
    assert reference.accept_protocol == ("tcp", "udp")
    assert reference.expect_sync == ("ftp", "sip")
    assert reference.ignore_address == (ipaddress.ip_network("192.168.0.0/24"),)
    assert parse(name).conntrack_sync == reference


@pytest.mark.parametrize("name", FILES[:4])
def test_every_vyos_syntax_gives_the_same_interface_addresses(name):
    text = (SAME / name).read_text(encoding="utf-8")
    assert interface_addresses(text) == {
        "eth0": ["192.168.0.253/24"],
        "eth1.100": ["198.51.100.2/24"],
        "eth2": ["10.10.10.2/24"],
    }


def test_keepalived_reads_without_warnings():
    _, warnings = parse_keepalived((SAME / "keepalived.conf").read_text(encoding="utf-8"))
    assert warnings == []


# VyOS 1.4 nodes VyOS 1.1 lacks: tracking, stop scripts, excluded addresses, garp,
# global VRRP version and garp interval.

V14_SET = """\
set high-availability vrrp global-parameters version '3'
set high-availability vrrp global-parameters garp interval '0.5'
set high-availability vrrp group V3 interface 'eth3'
set high-availability vrrp group V3 vrid '30'
set high-availability vrrp group V3 address '10.3.0.1/24'
set high-availability vrrp group V3 excluded-address '2001:db8:3::1/64'
set high-availability vrrp group V3 advertise-interval '1'
set high-availability vrrp group V3 track interface 'eth4'
set high-availability vrrp group V3 track exclude-vrrp-interface
set high-availability vrrp group V3 transition-script stop '/config/scripts/vrrp-stop.sh'
set high-availability vrrp group V3 garp master-delay '1'
set high-availability vrrp group V3 garp master-repeat '3'
set high-availability vrrp group V3 garp master-refresh '60'
set high-availability vrrp group V3 garp master-refresh-repeat '2'
set high-availability vrrp group V6 interface 'eth3'
set high-availability vrrp group V6 vrid '30'
set high-availability vrrp group V6 address '2001:db8:3::1/64'
"""

V14_BOOT = """\
high-availability {
    vrrp {
        global-parameters {
            garp {
                interval 0.5
            }
            version 3
        }
        group V3 {
            address 10.3.0.1/24 {
            }
            advertise-interval 1
            excluded-address 2001:db8:3::1/64 {
            }
            garp {
                master-delay 1
                master-refresh 60
                master-refresh-repeat 2
                master-repeat 3
            }
            interface eth3
            track {
                exclude-vrrp-interface
                interface eth4
            }
            transition-script {
                stop /config/scripts/vrrp-stop.sh
            }
            vrid 30
        }
        group V6 {
            address 2001:db8:3::1/64 {
            }
            interface eth3
            vrid 30
        }
    }
}
"""

V14_KEEPALIVED = """\
global_defs {
    vrrp_version 3
    vrrp_garp_interval 0.5
}
vrrp_instance V3 {
    interface eth3
    virtual_router_id 30
    advert_int 1
    virtual_ipaddress {
        10.3.0.1/24
    }
    virtual_ipaddress_excluded {
        2001:db8:3::1/64
    }
    track_interface {
        eth4
    }
    dont_track_primary
    notify_stop /config/scripts/vrrp-stop.sh
    garp_master_delay 1
    garp_master_repeat 3
    garp_master_refresh 60
    garp_master_refresh_repeat 2
}
vrrp_instance V6 {
    interface eth3
    virtual_router_id 30
    virtual_ipaddress {
        2001:db8:3::1/64
    }
}
"""


def test_vyos14_extras_agree_in_three_syntaxes():
    from_set = parse_set_lines(V14_SET, "set")
    v3 = from_set.groups["V3"]
    assert v3.version == 3
    assert from_set.groups["V6"].version == 3
    assert v3.excluded_address == (ipaddress.ip_interface("2001:db8:3::1/64"),)
    assert [t.name for t in v3.track.interface] == ["eth4"]
    assert v3.track.exclude_vrrp_interface is True
    assert v3.transition_script.stop == "/config/scripts/vrrp-stop.sh"
    assert (v3.garp.interval, v3.garp.master_delay, v3.garp.master_repeat) == (0.5, 1, 3)
    assert (v3.garp.master_refresh, v3.garp.master_refresh_repeat) == (60, 2)
    assert parse_config_boot(V14_BOOT, "boot") == from_set
    config, warnings = parse_keepalived(V14_KEEPALIVED, "keepalived.conf")
    assert warnings == []
    assert config == from_set
