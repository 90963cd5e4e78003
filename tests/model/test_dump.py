"""dump_config is load_config's inverse: every configuration the tests' fixtures and
the seed documents hold survives the round trip, and the output holds no defaults."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from routerha.model.dump import dump_config
from routerha.model.load import load_config
from routerha.model.native import NativeParseError, parse_native
from routerha.model.vrrp import Config

FIXTURES = Path(__file__).resolve().parents[1] / "native" / "fixtures"

FULL = {
    "vrrp": {
        "groups": {
            "LAN": {
                "interface": "eth1",
                "vrid": 10,
                "address": ["10.1.1.254/24", "10.1.1.253/24"],
                "priority": 200,
                "advertise_interval": 2,
                "preempt": False,
                "preempt_delay": 30,
                "authentication": {"type": "ah", "password": "s3cret", "accept": ["old"]},
                "rfc3768_compatibility": True,
                "peer_address": ["10.1.1.2"],
                "hello_source_address": "10.1.1.1",
                "track": {"interface": ["eth2", {"name": "eth3", "weight": -20}],
                          "exclude_vrrp_interface": True},
                "health_check": {"ping": "10.1.1.53", "interval": 5, "failure_count": 2, "weight": -30},
                "transition_script": {"master": "/config/scripts/m.sh", "stop": "/bin/true"},
                "garp": {"interval": 0.5, "master_refresh": 60},
                "excluded_address": ["192.0.2.1/32", {"address": "fd00:9::1/64", "interface": "eth4"}],
                "description": "the LAN",
                "disable": True,
            },
            "LAN6": {"interface": "eth1", "vrid": 11, "advertise_interval": 0.5,
                     "address": ["fd00::254/64", {"address": "fd00:2::254/64", "interface": "eth2"}]},
        },
        "sync_groups": {"GW": {"member": ["LAN", "LAN6"],
                               "health_check": {"script": "/bin/check", "interval": 10}}},
    },
    "conntrack_sync": {
        "interface": "eth3",
        "failover_mechanism": {"sync_group": "GW"},
        "peer": "10.0.99.2",
        "accept_protocol": ["tcp", "udp"],
        "ignore_address": ["10.0.99.0/24"],
        "expect_sync": ["ftp", "sip"],
        "disable_external_cache": True,
        "startup_resync": False,
        "event_listen_queue_size": 16,
        "authentication": {"type": "hmac-sha256", "key_id": 2, "key": "sync-key-fedcba9876543210",
                           "accept": [{"key_id": 1, "key": "sync-key-0123456789abcdef"}]},
    },
}  # fmt: skip


def test_a_full_configuration_round_trips():
    config = load_config(FULL)
    assert load_config(dump_config(config)) == config


def test_defaults_are_left_out():
    dumped = dump_config(load_config({"vrrp": {"groups": {"G": {
        "interface": "eth0", "vrid": 1, "address": ["10.0.0.1/24"]}}}}))  # fmt: skip
    assert dumped == {
        "vrrp": {"groups": {"G": {"interface": "eth0", "vrid": 1, "address": ["10.0.0.1/24"], "version": 2}}}
    }  # fmt: skip


def _parsed_fixtures() -> dict[str, Config]:
    """Every fixture that parses into a valid model (some seed excerpts are
    deliberately incomplete: tests/native checks that those are refused)."""
    out = {}
    for path in sorted([*FIXTURES.glob("*.set"), *FIXTURES.glob("*.boot"),
                        *(FIXTURES / "same_router").iterdir(),
                        *(FIXTURES / "vyos12_to_14").iterdir()]):  # fmt: skip
        if path.suffix not in (".set", ".boot"):
            continue
        with contextlib.suppress(NativeParseError):
            out[path.name] = parse_native(path.read_text(), source=path.name)
    return out


PARSED = _parsed_fixtures()


def test_most_fixtures_take_part():
    assert len(PARSED) >= 8


@pytest.mark.parametrize("fixture", sorted(PARSED))
def test_every_seed_configuration_round_trips(fixture):
    config = PARSED[fixture]
    assert load_config(dump_config(config)) == config


def test_an_address_on_another_interface_is_dumped_with_it():
    dumped = dump_config(load_config(FULL))["vrrp"]["groups"]
    assert dumped["LAN6"]["address"] == [
        "fd00::254/64",
        {"address": "fd00:2::254/64", "interface": "eth2"},
    ]
    assert dumped["LAN"]["excluded_address"][1] == {"address": "fd00:9::1/64", "interface": "eth4"}
    assert "address_interface" not in dumped["LAN"]
