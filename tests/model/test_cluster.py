"""A cluster as the inventory declares it -> each member's configuration (model/cluster.py)."""

from __future__ import annotations

import copy

import pytest

from routerha.model import load_config
from routerha.model.cluster import cluster_configs
from routerha.model.errors import ConfigError

SETTINGS = {
    "segments": {"lan": "eth1", "wan": "eth2", "sync": "eth3"},
    "groups": {
        "LAN": {
            "segment": "lan",
            "vrid": 10,
            "address": ["10.1.1.254/24"],
            "authentication": {"type": "plaintext-password", "password": "s3cret"},
        },
        "WAN": {"segment": "wan", "address": ["198.51.100.254/24"]},
    },
    "sync_groups": {"GW": {"member": ["LAN", "WAN"]}},
    "conntrack_sync": {
        "segment": "sync",
        "peer": "auto",
        "failover_mechanism": {"sync_group": "GW"},
        "authentication": {"type": "hmac-sha256", "key_id": 1, "key": "sync-key-0123456789"},
    },
}
MEMBERS = {
    "r2": {
        "addresses": {"lan": ["10.1.1.2/24"], "wan": ["198.51.100.2/24"], "sync": ["10.0.99.2/24"]}
    },
    "r1": {
        "addresses": {"lan": ["10.1.1.1/24"], "wan": ["198.51.100.1/24"], "sync": ["10.0.99.1/24"]},
        "preference": 1,
    },
}


def problems(settings=SETTINGS, members=MEMBERS) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as raised:
        cluster_configs(settings, members)
    return raised.value.problems


def test_a_symmetric_pair_gets_one_master_and_loadable_configs():
    result = cluster_configs(SETTINGS, MEMBERS)
    assert result["preference"] == ["r1", "r2"]
    assert result["plan"]["masters"] == {"LAN": "r1", "WAN": "r1"}
    r1, r2 = result["configs"]["r1"], result["configs"]["r2"]
    assert r1["vrrp"]["groups"]["LAN"]["priority"] == 200
    assert r2["vrrp"]["groups"]["LAN"]["priority"] == 150
    assert r1["vrrp"]["groups"]["LAN"]["interface"] == "eth1"
    assert r1["vrrp"]["groups"]["WAN"]["vrid"] == 1  # assigned: the lowest free on wan
    assert r1["conntrack_sync"] == {
        "interface": "eth3",
        "peer": "10.0.99.2",
        "failover_mechanism": {"sync_group": "GW"},
        "authentication": {"type": "hmac-sha256", "key_id": 1, "key": "sync-key-0123456789"},
    }
    assert r2["conntrack_sync"]["peer"] == "10.0.99.1"
    for config in (r1, r2):
        load_config(config)  # what routerhad will read
    assert result["interface_addresses"]["r2"] == {
        "eth1": ["10.1.1.2/24"],
        "eth2": ["198.51.100.2/24"],
        "eth3": ["10.0.99.2/24"],
    }
    assert result["summary"][0] == "LAN: VRID 10 on lan, master r1 (r1 200, r2 150)"


def test_the_input_is_not_changed_and_the_result_is_stable():
    settings, members = copy.deepcopy(SETTINGS), copy.deepcopy(MEMBERS)
    first = cluster_configs(settings, members)
    assert settings == SETTINGS and members == MEMBERS
    assert cluster_configs(settings, members) == first


def test_host_vars_override_interface_and_group_settings():
    members = copy.deepcopy(MEMBERS)
    members["r2"]["interfaces"] = {"lan": "ens3"}
    members["r2"]["group_settings"] = {"LAN": {"track": {"interface": ["eth9"]}}}
    configs = cluster_configs(SETTINGS, members)["configs"]
    assert configs["r2"]["vrrp"]["groups"]["LAN"]["interface"] == "ens3"
    assert configs["r2"]["vrrp"]["groups"]["LAN"]["track"] == {"interface": ["eth9"]}
    assert "track" not in configs["r1"]["vrrp"]["groups"]["LAN"]


def test_an_address_on_another_segment_lands_on_each_members_interface_there():
    settings = copy.deepcopy(SETTINGS)
    settings["groups"]["LAN"]["address"] = [
        "10.1.1.254/24",
        {"address": "198.51.100.253/24", "segment": "wan"},
        {"address": "192.0.2.1/24", "interface": "dummy0"},
    ]
    settings["groups"]["LAN"]["excluded_address"] = [{"address": "fd00::1/64", "segment": "wan"}]
    members = copy.deepcopy(MEMBERS)
    members["r2"]["interfaces"] = {"wan": "ens4"}
    configs = cluster_configs(settings, members)["configs"]
    for host, wan in (("r1", "eth2"), ("r2", "ens4")):
        group = configs[host]["vrrp"]["groups"]["LAN"]
        assert group["address"] == [
            "10.1.1.254/24",
            {"address": "198.51.100.253/24", "interface": wan},
            {"address": "192.0.2.1/24", "interface": "dummy0"},
        ]
        assert group["excluded_address"] == [{"address": "fd00::1/64", "interface": wan}]
        lan = load_config(configs[host]).groups["LAN"]
        assert lan.interface_of(lan.address[1]) == wan


def test_load_share_alternates_masters_on_a_segment():
    settings = {
        "segments": {"lan": "eth1"},
        "strategy": "load_share",
        "groups": {
            "LAN-1": {"segment": "lan", "address": ["10.20.1.254/24"], "version": 3},
            "LAN-2": {"segment": "lan", "address": ["10.20.1.253/24"], "version": 3},
        },
    }
    members = {
        "b1": {"addresses": {"lan": ["10.20.1.1/24"]}},
        "b2": {"addresses": {"lan": ["10.20.1.2/24"]}},
    }
    result = cluster_configs(settings, members)
    assert result["plan"]["masters"] == {"LAN-1": "b1", "LAN-2": "b2"}
    assert "conntrack_sync" not in result["configs"]["b1"]


def test_a_group_may_name_its_interface_instead_of_a_segment():
    settings = {"groups": {"G": {"interface": "eth0", "vrid": 5, "address": ["10.0.0.9/24"]}}}
    members = {"a": {"addresses": {"eth0": ["10.0.0.1/24"]}}, "b": {}}
    configs = cluster_configs(settings, members)["configs"]
    assert configs["b"]["vrrp"]["groups"]["G"]["interface"] == "eth0"


def test_planned_keys_and_unknown_segments_are_refused_by_name():
    settings = copy.deepcopy(SETTINGS)
    settings["groups"]["LAN"]["priority"] = 250
    del settings["groups"]["WAN"]["segment"]
    found = dict(problems(settings))
    assert "priority plan" in found["groups.LAN.priority"]
    assert "required" in found["groups.WAN.segment"]


def test_model_errors_name_the_member_and_the_key():
    settings = copy.deepcopy(SETTINGS)
    settings["groups"]["LAN"]["authentication"]["password"] = "much-too-long"
    found = problems(settings)
    assert any(p.startswith("r1: vrrp.groups.LAN.authentication.password") for p, _ in found)
    assert all("much-too-long" not in why for _, why in found)


def test_member_problems_name_the_host_variable():
    members = copy.deepcopy(MEMBERS)
    members["r2"]["addresses"]["lan"] = ["10.1.1.500/24"]
    members["r1"]["preference"] = "first"
    members["r1"]["group_settings"] = {"NOPE": {}}
    found = dict(problems(members=members))
    assert "members.r1.preference" in found
    assert "members.r1.group_settings.NOPE" in found
    members["r1"]["preference"] = 1
    members["r1"]["group_settings"] = {}
    found = dict(problems(members=members))
    assert "not an IP address" in found["members.r2.addresses.lan[0]"]


def test_peer_auto_needs_a_pair():
    members = {**copy.deepcopy(MEMBERS), "r3": {"addresses": {"sync": ["10.0.99.3/24"]}}}
    found = dict(problems(members=members))
    assert "exactly two members" in found["conntrack_sync.peer"]


def test_a_cluster_without_groups_or_members_is_refused():
    assert dict(problems({"groups": {}}, MEMBERS))["groups"]
    assert dict(problems(SETTINGS, {}))["members"]
