"""The data model: VyOS-shaped keys, VyOS defaults, and errors that name the key."""

from __future__ import annotations

import ipaddress

import pytest

from routerha.errors import ConfigError
from routerha.model import AuthType, load_config
from routerha.model.load import load_config_lenient


def groups(**lan):
    base = {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]}
    return {"vrrp": {"groups": {"LAN": {**base, **lan}}}}


def problems(data):
    with pytest.raises(ConfigError) as caught:
        load_config(data)
    return dict(caught.value.problems)


def test_issue_example_loads_with_every_key():
    config = load_config(
        {
            "vrrp": {
                "groups": {
                    "LAN": {
                        "interface": "eth0",
                        "vrid": 1,
                        "version": 2,
                        "priority": 200,
                        "advertise_interval": 1,
                        "address": ["10.1.1.5/24"],
                        "preempt": True,
                        "preempt_delay": 0,
                        "authentication": {
                            "type": "plaintext-password",
                            "password": "YOGHURT",
                            "accept": [],
                        },
                        "rfc3768_compatibility": False,
                        "peer_address": [],
                        "hello_source_address": None,
                        "track": {"interface": [{"name": "eth1", "weight": -50}]},
                        "health_check": {
                            "script": "/usr/local/bin/check-uplink",
                            "interval": 5,
                            "failure_count": 3,
                        },
                        "transition_script": {
                            "master": None,
                            "backup": None,
                            "fault": None,
                            "stop": None,
                        },
                        "garp": {"master_delay": 5, "master_repeat": 5, "master_refresh": 0},
                    },
                    "WAN": {"interface": "eth1", "vrid": 7, "address": ["198.51.100.12/24"]},
                },
                "sync_groups": {"CG-1": {"member": ["LAN", "WAN"]}},
            }
        }
    )
    lan = config.groups["LAN"]
    assert lan.authentication.type is AuthType.PLAINTEXT
    assert lan.track.interface[0].weight == -50
    assert lan.health_check.interval == 5
    assert config.sync_group_of("WAN").name == "CG-1"


def test_vyos_defaults():
    lan = load_config(groups()).groups["LAN"]
    assert (lan.priority, lan.advertise_interval, lan.version, lan.preempt) == (100, 1.0, 2, True)
    v6 = load_config(groups(address=["2001:db8::1/64"])).groups["LAN"]
    assert v6.version == 3


def test_password_is_never_in_repr():
    lan = load_config(groups(authentication={"type": "ah", "password": "YOGHURT"})).groups["LAN"]
    assert "YOGHURT" not in repr(lan)


@pytest.mark.parametrize(
    ("settings", "path", "words"),
    [
        (
            {"version": 3, "authentication": {"type": "ah", "password": "x"}},
            "vrrp.groups.LAN.authentication",
            "VRRPv3",
        ),
        ({"address": ["10.1.1.5/24", "2001:db8::5/64"]}, "vrrp.groups.LAN.address", "mixes"),
        (
            {"authentication": {"type": "plaintext-password", "password": "NINECHARS"}},
            "vrrp.groups.LAN.authentication.password",
            "8",
        ),
        ({"advertise_interval": 0.5}, "vrrp.groups.LAN.advertise_interval", "whole seconds"),
        ({"version": 3, "advertise_interval": 0.005}, "vrrp.groups.LAN.advertise_interval", "0.01"),
        ({"vrid": 0}, "vrrp.groups.LAN.vrid", "1..255"),
        ({"priority": 256}, "vrrp.groups.LAN.priority", "1..255"),
        ({"preempt_dealy": 5}, "vrrp.groups.LAN.preempt_dealy", "unknown key"),
        (
            {"authentication": {"type": "md5", "password": "x"}},
            "vrrp.groups.LAN.authentication.type",
            "ah",
        ),
        ({"address": ["10.1.1.500/24"]}, "vrrp.groups.LAN.address[0]", "not an IP"),
        ({"peer_address": ["2001:db8::2"]}, "vrrp.groups.LAN.peer_address", "family"),
        ({"preempt": "yes"}, "vrrp.groups.LAN.preempt", "true or false"),
    ],
)
def test_what_cannot_work_is_refused_with_the_key_named(settings, path, words):
    found = problems(groups(**settings))
    assert path in found, found
    assert words in found[path]


def test_v3_interval_bounds_are_those_of_its_12_bit_centisecond_field():
    # 4095 cs is the largest interval a VRRPv3 advertisement can carry (RFC 5798
    # section 5.2.7); 40.96 s would wrap round to 0 on the wire.
    for seconds, centiseconds in ((0.01, 1), (40.95, 4095)):
        lan = load_config(groups(version=3, advertise_interval=seconds)).groups["LAN"]
        assert lan.advertise_interval_cs == centiseconds
    for seconds in (40.96, 41):
        found = problems(groups(version=3, advertise_interval=seconds))
        assert "0.01 to 40.95 s" in found["vrrp.groups.LAN.advertise_interval"]


def test_required_keys_are_named():
    found = problems({"vrrp": {"groups": {"LAN": {}}}})
    assert {"vrrp.groups.LAN.interface", "vrrp.groups.LAN.vrid", "vrrp.groups.LAN.address"} <= set(
        found
    )


def test_vrid_used_twice_on_one_interface_and_family_is_refused():
    data = groups()
    data["vrrp"]["groups"]["GUEST"] = {"interface": "eth0", "vrid": 1, "address": ["10.1.2.5/24"]}
    assert "already used" in problems(data)["vrrp.groups.GUEST.vrid"]
    # The same VRID for IPv6 on the same link is another virtual router.
    data["vrrp"]["groups"]["GUEST"]["address"] = ["2001:db8::5/64"]
    assert load_config(data).groups["GUEST"].vrid == 1


def test_sync_group_members_must_exist_and_be_unique():
    data = groups()
    data["vrrp"]["sync_groups"] = {"A": {"member": ["LAN", "NOPE"]}, "B": {"member": ["LAN"]}}
    found = problems(data)
    assert "not a configured group" in found["vrrp.sync_groups.A.member[1]"]
    assert "already in sync group" in found["vrrp.sync_groups.B.member[0]"]


def test_all_problems_are_reported_at_once():
    found = problems(groups(vrid=300, priority=0, advertise_interval="fast"))
    assert len(found) == 3


def test_address_without_prefix_is_a_host_address():
    lan = load_config(groups(address=["10.1.1.5"])).groups["LAN"]
    assert lan.address[0] == ipaddress.ip_interface("10.1.1.5/32")


def with_sync(**conntrack):
    data = groups()
    data["vrrp"]["sync_groups"] = {"CG-1": {"member": ["LAN"]}}
    data["conntrack_sync"] = {
        "interface": "eth2",
        "failover_mechanism": {"sync_group": "CG-1"},
        "authentication": {"type": "hmac-sha256", "key_id": 1, "key": SYNC_KEY},
        **conntrack,
    }
    return data


SYNC_KEY = "sync-key-0123456789abcdef"
NEW_SYNC_KEY = "sync-key-fedcba9876543210"


def test_conntrack_sync_defaults_are_vyos_ones():
    sync = load_config(with_sync()).conntrack_sync
    assert str(sync.mcast_group) == "225.0.0.50" and sync.port == 3780
    assert sync.peer is None and sync.startup_resync and not sync.disable_external_cache


def test_conntrack_sync_expect_all_means_every_helper():
    sync = load_config(with_sync(expect_sync=["all"])).conntrack_sync
    assert sync.expect_sync == ("ftp", "sip", "h323", "nfs", "sqlnet")


@pytest.mark.parametrize(
    ("settings", "path", "words"),
    [
        (
            {"failover_mechanism": {"sync_group": "NOPE"}},
            "conntrack_sync.failover_mechanism.sync_group",
            "not a configured",
        ),
        ({"failover_mechanism": {}}, "conntrack_sync.failover_mechanism.sync_group", "required"),
        ({"peer": "192.0.2.2", "mcast_group": "239.1.1.1"}, "conntrack_sync.peer", "not both"),
        ({"mcast_group": "10.0.0.1"}, "conntrack_sync.mcast_group", "multicast"),
        ({"expect_sync": ["all", "ftp"]}, "conntrack_sync.expect_sync", "alone"),
        ({"expect_sync": ["tftp"]}, "conntrack_sync.expect_sync[0]", "not one of"),
        ({"accept_protocol": ["gre"]}, "conntrack_sync.accept_protocol[0]", "not one of"),
        (
            {"ignore_address": ["10.0.0.0/33"]},
            "conntrack_sync.ignore_address[0]",
            "address or prefix",
        ),
        ({"port": 0}, "conntrack_sync.port", "1..65535"),
        ({"mcast-group": "239.1.1.1"}, "conntrack_sync.mcast-group", "unknown key"),
        ({"authentication": None}, "conntrack_sync.authentication", "type none"),
        ({"authentication": {}}, "conntrack_sync.authentication", "is required"),
        (
            {"authentication": {"type": "md5", "key_id": 1, "key": SYNC_KEY}},
            "conntrack_sync.authentication.type",
            "'hmac-sha256' or 'none'",
        ),
        (
            {"authentication": {"type": "hmac-sha256", "key": SYNC_KEY}},
            "conntrack_sync.authentication.key_id",
            "required",
        ),
        (
            {"authentication": {"type": "hmac-sha256", "key_id": 0, "key": SYNC_KEY}},
            "conntrack_sync.authentication.key_id",
            "1..255",
        ),
        (
            {"authentication": {"type": "hmac-sha256", "key_id": 1}},
            "conntrack_sync.authentication.key",
            "required",
        ),
        (
            {"authentication": {"type": "hmac-sha256", "key_id": 1, "key": "short"}},
            "conntrack_sync.authentication.key",
            "at least 16",
        ),
        (
            {"authentication": {"type": "none", "key": SYNC_KEY}},
            "conntrack_sync.authentication.key",
            "not taken with type none",
        ),
        (
            {
                "authentication": {
                    "type": "hmac-sha256",
                    "key_id": 1,
                    "key": SYNC_KEY,
                    "accept": [{"key_id": 1, "key": NEW_SYNC_KEY}],
                }
            },
            "conntrack_sync.authentication.accept[0].key_id",
            "twice with different keys",
        ),
        (
            {
                "authentication": {
                    "type": "hmac-sha256",
                    "key_id": 1,
                    "key": SYNC_KEY,
                    "accept": [{"key_id": 2, "key": NEW_SYNC_KEY, "keyid": 3}],
                }
            },
            "conntrack_sync.authentication.accept[0].keyid",
            "unknown key",
        ),
    ],
)
def test_conntrack_sync_mistakes_are_named(settings, path, words):
    found = problems(with_sync(**settings))
    assert path in found, found
    assert words in found[path]


def test_conntrack_sync_keys_load_with_staged_ones_and_never_show():
    sync = load_config(
        with_sync(
            authentication={
                "type": "hmac-sha256",
                "key_id": 2,
                "key": NEW_SYNC_KEY,
                "accept": [{"key_id": 1, "key": SYNC_KEY}, {"key_id": 2, "key": NEW_SYNC_KEY}],
            }
        )
    ).conntrack_sync
    auth = sync.authentication
    assert auth.enabled and auth.key_id == 2
    assert [(k.key_id, k.key) for k in auth.receive_keys] == [(2, NEW_SYNC_KEY), (1, SYNC_KEY)]
    assert SYNC_KEY not in repr(sync) and NEW_SYNC_KEY not in repr(sync)
    assert "key_id=2" in repr(sync)


def test_conntrack_sync_explicitly_unauthenticated():
    sync = load_config(with_sync(authentication={"type": "none"})).conntrack_sync
    assert not sync.authentication.enabled and sync.authentication.receive_keys == ()


def test_a_conntrack_sync_without_authentication_is_built_leniently_and_refused_strictly():
    data = with_sync()
    del data["conntrack_sync"]["authentication"]
    config, found = load_config_lenient(data)
    assert config.conntrack_sync.authentication is None
    assert [path for path, _ in found] == ["conntrack_sync.authentication"]
    with pytest.raises(ConfigError, match=r"conntrack_sync\.authentication: is required"):
        load_config(data)


def test_a_wrongly_typed_sync_key_is_not_quoted():
    found = problems(with_sync(authentication={"type": "hmac-sha256", "key_id": 1, "key": True}))
    assert found["conntrack_sync.authentication.key"] == "is required: a string"


def test_an_address_may_live_on_another_interface():
    config = load_config(
        groups(
            address=["10.1.1.5/24", {"address": "192.0.2.5/24", "interface": "eth2"}],
            excluded_address=[{"address": "fd00::5/64", "interface": "eth3"}],
        )
    )
    lan = config.groups["LAN"]
    assert lan.address == (
        ipaddress.ip_interface("10.1.1.5/24"),
        ipaddress.ip_interface("192.0.2.5/24"),
    )
    # Advertised like any other address; installed on eth2.
    assert lan.advertised_addresses[1] == ipaddress.ip_address("192.0.2.5")
    assert lan.interface_of(lan.address[0]) is None
    assert lan.interface_of(lan.address[1]) == "eth2"
    assert lan.interface_of(lan.excluded_address[0]) == "eth3"
    assert lan.other_interfaces == ("eth2", "eth3")


def test_the_groups_own_interface_named_for_an_address_says_nothing_more():
    named = load_config(groups(address=[{"address": "10.1.1.5/24", "interface": "eth0"}]))
    assert named == load_config(groups())


@pytest.mark.parametrize(
    ("entry", "path", "words"),
    [
        ({"interface": "eth2"}, "vrrp.groups.LAN.address[0]", "needs an address"),
        ({"address": "10.1.1.5/24", "interface": ""}, "vrrp.groups.LAN.address[0].interface",
         "non-empty string"),
        ({"address": "10.1.1.5/24", "dev": "eth2"}, "vrrp.groups.LAN.address[0].dev",
         "unknown key"),
        ({"address": "nonsense", "interface": "eth2"}, "vrrp.groups.LAN.address[0]",
         "is not an IP address"),
    ],
)  # fmt: skip
def test_address_entry_mistakes_are_named(entry, path, words):
    found = problems(groups(address=[entry]))
    assert words in found[path], found


@pytest.mark.parametrize(
    ("weight", "loaded"), [(253, 253), (-253, -253), (1, 1), (0, None), (None, None)]
)
def test_weights_have_keepalived_s_range_and_0_means_none(weight, loaded):
    entry = {"name": "eth1"} if weight is None else {"name": "eth1", "weight": weight}
    check = {"script": "/bin/true"} if weight is None else {"script": "/bin/true", "weight": weight}
    lan = load_config(groups(track={"interface": [entry]}, health_check=check)).groups["LAN"]
    assert lan.track.interface[0].weight == loaded
    assert lan.health_check.weight == loaded


@pytest.mark.parametrize("weight", [254, -254, 1000])
def test_weights_outside_keepalived_s_range_are_refused(weight):
    found = problems(groups(track={"interface": [{"name": "eth1", "weight": weight}]}))
    assert "outside -253..253" in found["vrrp.groups.LAN.track.interface[0].weight"]
    found = problems(groups(health_check={"script": "/bin/true", "weight": weight}))
    assert "outside -253..253" in found["vrrp.groups.LAN.health_check.weight"]
