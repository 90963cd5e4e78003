"""The model rendered to VyOS / EdgeOS set lines: what is rendered parses back to the
same model, and what a syntax cannot say is refused, never dropped."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
from pathlib import Path

import pytest

from routerha.model import Authentication, AuthType, Config, TrackedInterface
from routerha.model.conntrack_sync import SyncAuthentication, SyncAuthType
from routerha.model.errors import ConfigError
from routerha.model.native import NativeParseError, parse_native, parse_set_lines
from routerha.model.native.converge import converge_commands
from routerha.model.native.render import (
    SYNTAXES,
    RenderError,
    interface_path,
    quote,
    render_set_lines,
)
from tests.native.builders import config, group, renamed, schema_checked

FIXTURES = Path(__file__).parent / "fixtures"


#: Everything VyOS 1.4 can say, at values other than the defaults.
VYOS_ONLY = config(
    {
        "LAN": group(
            "eth1",
            10,
            "10.0.0.2/24",
            "10.0.0.3/24",
            {"address": "203.0.113.3/24", "interface": "eth4"},
            priority=200,
            advertise_interval=2,
            preempt=False,
            preempt_delay=30,
            authentication={"type": "plaintext-password", "password": "secret1"},
            rfc3768_compatibility=True,
            peer_address=["192.168.0.254", "192.168.0.253"],
            hello_source_address="192.168.0.252",
            track={"interface": ["eth2", "eth3"], "exclude_vrrp_interface": True},
            health_check={"ping": "192.0.2.1", "interval": 5, "failure_count": 2},
            transition_script={
                "master": "/config/scripts/vrrp.sh master --notify",
                "backup": "/config/scripts/backup.sh",
                "fault": "/config/scripts/fault.sh",
                "stop": "/config/scripts/stop.sh",
            },
            garp={"interval": 0.25, "master_delay": 10, "master_refresh": 30},
            excluded_address=[
                "2001:db8:1::1/64",
                {"address": "2001:db8:5::1/64", "interface": "eth5"},
            ],
            description="the LAN's gateway",
            disable=True,
        ),
        "LAN6": group("eth1", 10, "2001:db8:1::254/64", advertise_interval=3),
        "WAN": group(
            "bond0.100",
            20,
            "198.51.100.12/24",
            authentication={"type": "ah", "password": "YOGHURT"},
            health_check={"script": "/config/scripts/check-uplink"},
        ),
    },
    {
        "CG-1": {
            "member": ["LAN", "WAN"],
            "health_check": {"ping": "2001:db8::1", "interval": 10},
            "transition_script": {"master": "/config/scripts/sync.sh", "stop": "/x/stop"},
        },
        "EMPTY": {"member": []},
    },
    {
        "interface": "eth2",
        "failover_mechanism": {"sync_group": "CG-1"},
        "authentication": {"type": "none"},  # conntrackd has no sync authentication
        "peer": "10.10.10.3",
        "port": 3781,
        "listen_address": "10.10.10.2",
        "accept_protocol": ["tcp", "udp", "icmp6"],
        "ignore_address": ["192.168.0.0/24", "2001:db8::/32", "10.1.1.1"],
        "expect_sync": ["all"],
        "disable_external_cache": True,
        "startup_resync": True,
        "event_listen_queue_size": 16,
        "sync_queue_size": 2,
    },
)

#: VyOS 1.3 (vyos-1.2 syntax) can say all but ping checks, sync group checks,
#: icmp6, IPv6 ignore addresses, another port and startup-resync.
VYOS_12 = config(
    {
        "LAN": group(
            "eth1",
            10,
            "10.0.0.2/24",
            version=3,
            priority=254,
            preempt=False,
            track={"interface": ["eth2"]},
            health_check={"script": "/config/scripts/check", "failure_count": 5},
            transition_script={"stop": "/config/scripts/stop.sh"},
            garp={"master_repeat": 3},  # master_refresh stays 0: fine on 1.3
            excluded_address=["10.0.1.1/24", "2001:db8:2::1/64"],
            peer_address=["192.168.0.254", "192.168.0.253"],
        ),
        "DMZ": group("br0", 30, "203.0.113.1/28", version=3, advertise_interval=5),
        "V6": group("eth0.10.20", 40, "2001:db8:3::1/64", priority=90),
    },
    {"CG-1": {"member": ["DMZ", "LAN"], "transition_script": {"backup": "/b.sh"}}},
    {
        "interface": "eth2",
        "failover_mechanism": {"sync_group": "CG-1"},
        "authentication": {"type": "none"},  # conntrackd has no sync authentication
        "peer": "10.10.10.3",
        "listen_address": "10.10.10.2",
        "accept_protocol": ["udp", "sctp", "tcp"],
        "ignore_address": ["192.168.0.0/24"],
        "expect_sync": ["sip", "ftp"],
        "disable_external_cache": True,
        "startup_resync": False,
    },
)

#: VyOS 1.1 / EdgeOS: IPv4 VRRPv2, groups on any interface kind, multicast sync.
VYATTA = config(
    {
        "LAN": group(
            "eth0",
            10,
            "10.0.0.2/24",
            "10.0.0.3",
            priority=200,
            advertise_interval=3,
            preempt=False,
            preempt_delay=20,
            authentication={"type": "plaintext-password", "password": "8charsOK"},
            rfc3768_compatibility=True,
            peer_address=["192.168.0.254"],
            hello_source_address="192.168.0.253",
            health_check={"script": "/config/scripts/check", "interval": 5, "failure_count": 2},
            transition_script={
                "master": "/config/scripts/master.sh eth0 10",
                "backup": "/config/scripts/backup.sh",
                "fault": "/config/scripts/fault.sh",
            },
            description="it's the LAN",
        ),
        "VIF": group(
            "eth1.100", 20, "198.51.100.12/24", authentication={"type": "ah", "password": "YOGHURT"}
        ),
        "BOND": group("bond1", 30, "192.0.2.1/24", disable=True),
        "BRIDGE": group("br0", 40, "192.0.2.129/25", priority=1),
        "QINQ": group("eth0.10.20", 50, "203.0.113.1/24"),
        "SWITCH": group("switch0", 60, "203.0.113.129/25"),
        "PETH": group("peth0", 70, "198.18.0.1/24"),
        "WLAN": group("wlan0", 80, "198.18.1.1/24"),
    },
    {"CG-1": {"member": ["LAN", "VIF"]}, "CG-2": {"member": ["BOND"]}},
    {
        "interface": "eth2",
        "failover_mechanism": {"sync_group": "CG-1"},
        "authentication": {"type": "none"},  # conntrackd has no sync authentication
        "mcast_group": "239.22.6.1",
        "accept_protocol": ["tcp", "udp", "icmp"],
        "ignore_address": ["192.168.0.0/24", "10.1.1.1"],
        "expect_sync": ["ftp", "h323"],
        "startup_resync": False,
        "event_listen_queue_size": 32,
        "sync_queue_size": 4,
    },
)


def comparable(config: Config) -> tuple:
    """Sync group members as sets: the vyatta syntax lists them in group order."""
    return (
        config.groups,
        {
            n: (frozenset(s.member), dataclasses.replace(s, member=()))
            for n, s in config.sync_groups.items()
        },
        config.conntrack_sync,
    )


def round_trip(config: Config, syntax: str) -> Config:
    return parse_set_lines("\n".join(render_set_lines(config, syntax)), f"rendered-{syntax}")


# Round trips


@pytest.mark.parametrize(
    ("name", "syntaxes"),
    [
        ("VYOS_ONLY", ["vyos"]),
        ("VYOS_12", ["vyos-1.2"]),  # on 1.4, garp master_refresh 0 cannot be said
        ("VYATTA", ["vyos", "vyos-1.2", "vyatta"]),
    ],
)
def test_round_trip(name, syntaxes):
    original = globals()[name]
    for syntax in syntaxes:
        back = round_trip(original, syntax)
        if syntax == "vyatta":
            assert comparable(back) == comparable(renamed(original))
        else:
            assert back == original, syntax


def test_the_varied_configs_are_not_defaults():
    # The round trips prove something only when the values are not all defaults.
    lan = VYOS_ONLY.groups["LAN"]
    assert lan.garp.master_refresh == 30
    assert lan.garp.interval == 0.25
    assert lan.track.interface == (TrackedInterface("eth2"), TrackedInterface("eth3"))
    assert VYOS_ONLY.conntrack_sync is not None
    assert VYOS_ONLY.conntrack_sync.startup_resync is True
    assert VYOS_12.groups["LAN"].version == 3
    assert len(render_set_lines(VYATTA, "vyatta")) > 40


def test_lines_look_like_show_configuration_commands():
    lines = render_set_lines(VYOS_ONLY, "vyos")
    assert "set high-availability vrrp group LAN priority '200'" in lines
    assert "set high-availability vrrp group LAN address 10.0.0.2/24" in lines  # tag: bare
    assert "set high-availability vrrp group LAN no-preempt" in lines
    assert 'set high-availability vrrp group LAN description "the LAN\'s gateway"' in lines
    assert (
        "set high-availability vrrp group LAN transition-script master "
        "'/config/scripts/vrrp.sh master --notify'" in lines
    )
    assert "set high-availability vrrp sync-group EMPTY" in lines
    assert "set service conntrack-sync interface eth2 peer '10.10.10.3'" in lines
    assert "set service conntrack-sync interface eth2" not in lines  # has children
    assert "set service conntrack-sync expect-sync 'all'" in lines
    assert "set service conntrack-sync ignore-address '10.1.1.1/32'" in lines
    assert "set service conntrack-sync startup-resync" in lines
    assert "set service conntrack-sync accept-protocol 'icmp6'" in lines
    # Defaults are left out: the LAN6 group has no priority line.
    assert not any(
        line.startswith("set high-availability vrrp group LAN6 priority") for line in lines
    )


def test_an_address_on_another_interface_is_said_by_vyos_14_only():
    lines = render_set_lines(VYOS_ONLY, "vyos")
    assert "set high-availability vrrp group LAN address 203.0.113.3/24 interface 'eth4'" in lines
    assert "set high-availability vrrp group LAN address 203.0.113.3/24" not in lines
    assert (
        "set high-availability vrrp group LAN excluded-address 2001:db8:5::1/64 interface 'eth5'"
        in lines
    )
    placed = config({"LAN": group("eth1", 10, {"address": "10.0.0.9/24", "interface": "eth4"})})
    for syntax in ("vyos-1.2", "vyatta"):
        with pytest.raises(RenderError) as caught:
            render_set_lines(placed, syntax)
        assert "10.0.0.9/24 on eth4 (address_interface) cannot be said" in str(caught.value)


def test_old_forms():
    lines = render_set_lines(VYOS_12, "vyos-1.2")
    assert "set high-availability vrrp global-parameters version '3'" in lines
    assert "set high-availability vrrp group LAN virtual-address 10.0.0.2/24" in lines
    assert "set high-availability vrrp group LAN virtual-address-excluded '10.0.1.1/24'" in lines
    assert "set service conntrack-sync accept-protocol 'udp,sctp,tcp'" in lines
    assert "set service conntrack-sync ignore-address ipv4 '192.168.0.0/24'" in lines
    assert "set service conntrack-sync listen-address '10.10.10.2'" in lines
    vyatta = render_set_lines(VYATTA, "vyatta")
    assert "set interfaces ethernet eth0 vrrp vrrp-group 10 preempt 'false'" in vyatta
    assert "set interfaces ethernet eth0 vrrp vrrp-group 10 sync-group 'CG-1'" in vyatta
    assert (
        "set interfaces ethernet eth0 vif-s 10 vif-c 20 vrrp vrrp-group 50 virtual-address '203.0.113.1/24'"
        in vyatta
    )
    assert (
        "set interfaces switch switch0 vrrp vrrp-group 60 virtual-address '203.0.113.129/25'"
        in vyatta
    )
    assert (
        "set interfaces ethernet eth0 vrrp vrrp-group 10 run-transition-scripts master "
        "'/config/scripts/master.sh eth0 10'" in vyatta
    )
    assert "set service conntrack-sync interface 'eth2'" in vyatta
    assert not any("high-availability" in line for line in vyatta)


def test_vyos_startup_resync_false_is_left_out_and_reads_back_false():
    # Absent startup-resync means "StartupResync off" on VyOS: false needs no line.
    lines = render_set_lines(VYATTA, "vyos")
    assert not any("startup-resync" in line for line in lines)
    assert round_trip(VYATTA, "vyos").conntrack_sync.startup_resync is False


def test_order_is_deterministic():
    backwards = Config(
        groups=dict(reversed(list(VYATTA.groups.items()))),
        sync_groups=dict(reversed(list(VYATTA.sync_groups.items()))),
        conntrack_sync=VYATTA.conntrack_sync,
    )
    for syntax in SYNTAXES:
        assert render_set_lines(backwards, syntax) == render_set_lines(VYATTA, syntax)


def test_quoting_survives_the_parser():
    odd = config(
        {
            "LAN": group(
                "eth0",
                1,
                "10.0.0.1/24",
                description="""it's "quoted" $HOME `x` \\ # not a comment""",
                transition_script={"master": "/config/scripts/a b 'c'"},
            )
        }
    )
    assert quote("plain") == "'plain'"
    for syntax in SYNTAXES:
        assert comparable(round_trip(odd, syntax)) == comparable(
            renamed(odd) if syntax == "vyatta" else odd
        )


# Seed fixtures: each parses, renders in its own syntax and parses back the same

UNPARSEABLE = {
    "seed000_authentication.set",  # commands run together on one line
    "seed000_rt1_priority.set",
    "seed000_rt2_sync_group.set",
    "seed000_rfc3768.set",  # a group without an address
    "seed000_expect_sync.set",  # conntrack-sync without an interface
}
FIXTURE_FILES = sorted(
    [p for p in FIXTURES.glob("seed*") if p.suffix in (".set", ".boot")]
    + [p for p in (FIXTURES / "same_router").iterdir() if p.suffix in (".set", ".boot")]
)


def own_syntax(text: str) -> str:
    if "vrrp-group" in text:
        return "vyatta"
    return "vyos-1.2" if "virtual-address" in text else "vyos"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture_round_trip(path):
    text = path.read_text(encoding="utf-8")
    if path.name in UNPARSEABLE:
        with pytest.raises(NativeParseError):
            parse_native(text, source=path.name)
        return
    original = parse_native(text, source=path.name)
    syntax = own_syntax(text)
    back = round_trip(original, syntax)
    assert back == original
    assert render_set_lines(back, syntax) == render_set_lines(original, syntax)


def test_fixtures_cover_every_syntax_with_groups():
    seen = set()
    for path in FIXTURE_FILES:
        text = path.read_text(encoding="utf-8")
        if path.name not in UNPARSEABLE and parse_native(text).groups:
            seen.add(own_syntax(text))
    assert seen == {"vyos", "vyatta"}
    assert any(p.name.startswith("seed003") for p in FIXTURE_FILES)


# What a syntax cannot say


def refused(config: Config, syntax: str) -> RenderError:
    with pytest.raises(RenderError) as caught:
        render_set_lines(config, syntax)
    return caught.value


def replace_group(config: Config, name: str, **changes) -> Config:
    groups = dict(config.groups)
    groups[name] = dataclasses.replace(groups[name], **changes)
    return dataclasses.replace(config, groups=groups)


def replace_conntrack(config: Config, **changes) -> Config:
    assert config.conntrack_sync is not None
    return dataclasses.replace(
        config, conntrack_sync=dataclasses.replace(config.conntrack_sync, **changes)
    )


def test_vrrpv3_in_vyatta():
    error = refused(config({"lan": group("eth1", 1, "10.0.0.1/24", version=3)}), "vyatta")
    assert str(error).startswith("group lan: vyatta (VyOS 1.1/EdgeOS) syntax has no VRRPv3")
    assert error.syntax == "vyatta"
    assert isinstance(error, ConfigError)
    assert isinstance(error, ValueError)
    v6 = refused(config({"lan6": group("eth1", 1, "2001:db8::1/64")}), "vyatta")
    assert "group lan6" in str(v6)
    assert "no IPv6" in str(v6)


def test_nine_character_password():
    nine = Authentication(AuthType.PLAINTEXT, "ninechars")
    long = replace_group(VYATTA, "LAN", authentication=nine)
    for syntax in SYNTAXES:
        error = refused(long, syntax)
        assert "group LAN" in str(error)
        assert "up to 8 characters (8 octets), not 9 characters" in str(error)
        assert "ninechars" not in str(error)  # passwords never reach a message
    wide = replace_group(VYATTA, "LAN", authentication=Authentication(AuthType.AH, "pässwörd"))
    assert "not 10 octets" in str(refused(wide, "vyos"))
    control = replace_group(VYATTA, "LAN", authentication=Authentication(AuthType.AH, "a\tb"))
    error = refused(control, "vyos")
    assert "authentication password: the password holds a control character" in str(error)
    assert "a\\tb" not in str(error)
    blank = replace_group(VYATTA, "LAN", authentication=Authentication(AuthType.AH, "a b"))
    assert "without blanks" in str(refused(blank, "vyatta"))
    assert "password 'a b'" in "\n".join(render_set_lines(blank, "vyos"))


@pytest.mark.parametrize(
    ("syntax", "change", "expected"),
    [
        ("vyos", {"advertise_interval": 0.5, "version": 3}, "whole seconds 1..255, not 0.5"),
        ("vyatta", {"description": "two\nlines"}, "control character"),
        ("vyos", {"description": "x" * 256}, "up to 255 characters, not 256"),
        (
            "vyatta",
            {"excluded_address": (ipaddress.ip_interface("10.9.9.9/24"),)},
            "no excluded addresses",
        ),
        (
            "vyatta",
            {"address": tuple(ipaddress.ip_interface(f"10.0.0.{i}") for i in range(1, 22))},
            "up to 20",
        ),
        (
            "vyatta",
            {"peer_address": (ipaddress.ip_address("10.0.0.8"), ipaddress.ip_address("10.0.0.9"))},
            "one peer-address, not 2",
        ),
        ("vyatta", {"interface": "tun0"}, "interface tun0"),
        (
            "vyos",
            {
                "track": dataclasses.replace(
                    VYATTA.groups["LAN"].track, interface=(TrackedInterface("eth5", -20),)
                )
            },
            "without a weight",
        ),
        (
            "vyatta",
            {"track": dataclasses.replace(VYATTA.groups["LAN"].track, exclude_vrrp_interface=True)},
            "no interface tracking",
        ),
    ],
)
def test_group_fields_out_of_reach(syntax, change, expected):
    error = refused(replace_group(VYATTA, "LAN", **change), syntax)
    assert str(error).startswith("group LAN: ")
    assert expected in str(error)


def test_fields_no_syntax_says():
    lan = VYOS_ONLY.groups["LAN"]
    accept = Authentication(AuthType.PLAINTEXT, "new", accept=("old",))
    weighted = dataclasses.replace(lan.health_check, weight=-10)
    error = refused(
        replace_group(VYOS_ONLY, "LAN", authentication=accept, health_check=weighted), "vyos"
    )
    assert [where for where, _why in error.problems] == ["group LAN", "group LAN"]
    assert "authentication.accept" in str(error)
    assert "health-check weight" in str(error)
    assert "'old'" not in str(error)


def test_versions_and_garp():
    mixed = config(
        {"A": group("eth0", 1, "10.0.0.1/24"), "B": group("eth0", 2, "10.0.0.2/24", version=3)}
    )
    error = refused(mixed, "vyos")
    assert str(error).startswith(
        "group B: vyos (VyOS 1.4+) syntax sets the VRRP version of all IPv4 groups"
    )
    assert "2 in A" in str(error)
    refresh0 = config({"A": group("eth0", 1, "10.0.0.1/24", garp={"master_delay": 10})})
    assert "master-refresh" in str(refused(refresh0, "vyos"))
    assert round_trip(refresh0, "vyos-1.2") == refresh0  # VyOS 1.3 keeps keepalived's 0
    delay0 = config(
        {"A": group("eth0", 1, "10.0.0.1/24", garp={"master_delay": 0, "master_refresh": 5})}
    )
    assert "master-delay from 1 s, not 0" in str(refused(delay0, "vyos"))
    assert "no gratuitous ARP settings" in str(refused(refresh0, "vyatta"))


def test_vyos_12_limits():
    lan = VYOS_ONLY.groups["LAN"]
    ping = replace_group(VYOS_12, "LAN", health_check=lan.health_check)
    assert "no ping health check" in str(refused(ping, "vyos-1.2"))
    sync = dataclasses.replace(VYOS_12, sync_groups={"CG-1": VYOS_ONLY.sync_groups["CG-1"]})
    sync = dataclasses.replace(
        sync,
        sync_groups={"CG-1": dataclasses.replace(sync.sync_groups["CG-1"], member=("DMZ", "LAN"))},
    )
    assert "sync group CG-1: vyos-1.2 (VyOS 1.2/1.3) syntax has no health check" in str(
        refused(sync, "vyos-1.2")
    )


@pytest.mark.parametrize(
    ("syntax", "change", "expected"),
    [
        ("vyatta", {"startup_resync": True}, "has no startup-resync"),
        ("vyos-1.2", {"startup_resync": True}, "has no startup-resync"),
        ("vyos-1.2", {"port": 4000}, "always uses port 3780, not 4000"),
        ("vyatta", {"accept_protocol": ("tcp", "icmp6")}, "not icmp6"),
        (
            "vyos-1.2",
            {"ignore_address": (ipaddress.ip_network("2001:db8::/32"),)},
            "IPv4 addresses only",
        ),
        ("vyatta", {"peer": ipaddress.ip_address("10.0.0.9")}, "multicast only"),
        ("vyatta", {"disable_external_cache": True}, "no disable-external-cache"),
        ("vyos", {"peer": ipaddress.ip_address("2001:db8::9")}, "IPv4 peer only"),
        ("vyos", {"peer": ipaddress.ip_address("10.0.0.9")}, "not both (mcast_group 239.22.6.1)"),
        (
            "vyos",
            {"listen_address": ipaddress.ip_address("10.10.10.2")},
            "only with a unicast peer",
        ),
    ],
)
def test_conntrack_out_of_reach(syntax, change, expected):
    error = refused(replace_conntrack(VYATTA, **change), syntax)
    assert str(error).startswith("conntrack_sync: ")
    assert expected in str(error)


def test_sync_groups_in_vyatta():
    empty = dataclasses.replace(
        VYATTA, sync_groups={**VYATTA.sync_groups, "EMPTY": VYOS_ONLY.sync_groups["EMPTY"]}
    )
    assert (
        "sync group EMPTY: vyatta (VyOS 1.1/EdgeOS) syntax knows a sync group only through its members"
        in str(refused(empty, "vyatta"))
    )
    scripted = dataclasses.replace(
        VYATTA,
        sync_groups={
            **VYATTA.sync_groups,
            "CG-2": dataclasses.replace(
                VYATTA.sync_groups["CG-2"],
                transition_script=VYOS_ONLY.sync_groups["CG-1"].transition_script,
            ),
        },
    )
    assert "no transition scripts for sync groups" in str(refused(scripted, "vyatta"))
    stop = replace_group(VYATTA, "LAN", transition_script=VYOS_ONLY.groups["LAN"].transition_script)
    assert "runs no script on stop" in str(refused(stop, "vyatta"))


def test_two_groups_on_one_slot_in_vyatta():
    # The model lets a lenient load keep a reused VRID; the vyatta path cannot.
    twice = dataclasses.replace(
        VYATTA,
        groups={**VYATTA.groups, "AGAIN": dataclasses.replace(VYATTA.groups["BOND"], name="AGAIN")},
    )
    assert "bond1 VRID 30 is group 'AGAIN' already" in str(refused(twice, "vyatta"))


def test_every_problem_is_reported_at_once():
    bad = copy.deepcopy(VYOS_ONLY)
    error = refused(bad, "vyatta")
    wheres = {where for where, _why in error.problems}
    assert {
        "group LAN",
        "group LAN6",
        "sync group CG-1",
        "sync group EMPTY",
        "conntrack_sync",
    } <= wheres
    assert len(error.problems) >= 10


def test_unknown_syntax():
    with pytest.raises(ValueError, match=r"unknown syntax 'vyos-1\.5'"):
        render_set_lines(VYATTA, "vyos-1.5")


# Interface paths


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("eth1", ("interfaces", "ethernet", "eth1")),
        ("eth1.100", ("interfaces", "ethernet", "eth1", "vif", "100")),
        ("eth0.10.20", ("interfaces", "ethernet", "eth0", "vif-s", "10", "vif-c", "20")),
        ("bond0", ("interfaces", "bonding", "bond0")),
        ("bond0.5", ("interfaces", "bonding", "bond0", "vif", "5")),
        ("br0", ("interfaces", "bridge", "br0")),
        ("peth0", ("interfaces", "pseudo-ethernet", "peth0")),
        ("switch0", ("interfaces", "switch", "switch0")),
        ("wlan0", ("interfaces", "wireless", "wlan0")),
    ],
)
def test_interface_path(name, path):
    assert interface_path(name) == path


@pytest.mark.parametrize(
    "name", ["tun0", "lo", "eth", "eth0.", "eth0.1.2.3", "ethX", "vtun0", "eth0 "]
)
def test_interface_path_refuses(name):
    with pytest.raises(RenderError) as caught:
        interface_path(name)
    assert str(caught.value).startswith(f"interface {name}: ")
    assert "bond, br, eth, peth, switch, wlan" in str(caught.value)


# The routers' own schema (vyos-1x's interface definitions, vyatta-vrrp's templates)


@pytest.mark.parametrize(
    ("name", "syntax"), [("VYOS_ONLY", "vyos"), ("VYATTA", "vyos"), ("VYATTA", "vyatta")]
)
def test_rendered_lines_pass_the_routers_schema(name, syntax):
    checked = schema_checked(syntax, render_set_lines(globals()[name], syntax))
    assert checked > 20


@pytest.mark.parametrize("syntax", ["vyos", "vyatta"])
def test_converge_deletes_pass_the_routers_schema(syntax):
    """A group dropped from the configuration is deleted with a path the router knows."""
    before = "\n".join(render_set_lines(VYATTA, syntax))
    fewer = dataclasses.replace(
        VYATTA, groups={k: v for k, v in list(VYATTA.groups.items())[1:]}, sync_groups={},
        conntrack_sync=None,
    )  # fmt: skip
    commands = converge_commands(before, fewer, syntax, previous=VYATTA)
    deletes = [c for c in commands if c.startswith("delete ")]
    assert deletes
    schema_checked(syntax, deletes)


def test_an_authenticated_sync_link_cannot_be_rendered_for_conntrackd():
    keyed = replace_conntrack(
        VYOS_ONLY,
        authentication=SyncAuthentication(
            type=SyncAuthType.HMAC_SHA256, key_id=1, key="sync-key-0123456789abcdef"
        ),
    )
    for syntax in SYNTAXES:
        error = refused(keyed, syntax)
        assert "authenticated sync link" in str(error)
        assert "sync-key" not in str(error)
