"""Priority planning: symmetric and load sharing, owners, VRIDs, determinism."""

from __future__ import annotations

import pytest

from routerha.errors import ConfigError
from routerha.model.plan import plan

SEED_000_MEMBERS = {
    "RT-1": {"lan": ["10.1.1.1/24"], "wan": ["198.51.100.1/24"]},
    "RT-2": {"lan": ["10.1.1.2/24"], "wan": ["198.51.100.2/24"]},
}


def test_seed_000_load_sharing_gives_rt1_120_70_and_rt2_70_120():
    groups = {
        "G1": {"segment": "lan", "vrid": 1, "address": ["10.1.1.5/24"]},
        "G2": {"segment": "lan", "vrid": 2, "address": ["10.1.1.6/24"]},
    }
    result = plan(
        SEED_000_MEMBERS,
        groups,
        strategy="load_share",
        preference=["RT-1", "RT-2"],
        base=120,
        step=50,
    )
    assert result.for_host("RT-1") == {
        "G1": {"vrid": 1, "priority": 120, "preempt": True, "preempt_delay": 0},
        "G2": {"vrid": 2, "priority": 70, "preempt": True, "preempt_delay": 0},
    }
    assert result.for_host("RT-2")["G1"]["priority"] == 70
    assert result.for_host("RT-2")["G2"]["priority"] == 120


def test_symmetric_one_master_for_every_group_of_a_sync_group_on_every_segment():
    groups = {
        "LAN": {"segment": "lan", "vrid": 1, "address": ["10.1.1.5/24"], "sync_group": "CG-1"},
        "WAN": {"segment": "wan", "vrid": 7, "address": ["198.51.100.12/24"], "sync_group": "CG-1"},
    }
    result = plan(SEED_000_MEMBERS, groups, strategy="symmetric", preference=["RT-2", "RT-1"])
    assert {g.master for g in result.groups.values()} == {"RT-2"}
    assert (
        result.for_host("RT-2")["LAN"]["priority"]
        == result.for_host("RT-2")["WAN"]["priority"]
        == 200
    )
    assert result.for_host("RT-1")["WAN"]["priority"] == 150


def test_load_share_keeps_a_sync_group_together_across_segments():
    groups = {
        "LAN-A": {"segment": "lan", "address": ["10.1.1.5/24"], "sync_group": "A"},
        "WAN-A": {"segment": "wan", "address": ["198.51.100.12/24"], "sync_group": "A"},
        "LAN-B": {"segment": "lan", "address": ["10.1.1.6/24"], "sync_group": "B"},
        "WAN-B": {"segment": "wan", "address": ["198.51.100.13/24"], "sync_group": "B"},
    }
    result = plan(SEED_000_MEMBERS, groups, strategy="load_share")
    masters = {n: g.master for n, g in result.groups.items()}
    assert masters["LAN-A"] == masters["WAN-A"] != masters["LAN-B"] == masters["WAN-B"]


@pytest.mark.parametrize("count", [2, 3, 4])
def test_no_equal_priorities_with_more_members(count):
    members = {f"r{i}": {"lan": [f"10.0.0.{i + 1}/24"]} for i in range(count)}
    groups = {
        f"G{i}": {"segment": "lan", "address": [f"10.0.0.{100 + i}/24"]} for i in range(count)
    }
    for strategy in ("symmetric", "load_share"):
        result = plan(members, groups, strategy=strategy, base=200, step=40)
        for group in result.groups.values():
            values = list(group.priorities.values())
            assert len(set(values)) == count and all(1 <= v <= 254 for v in values)
        if strategy == "load_share":
            assert sorted(g.master for g in result.groups.values()) == sorted(members)


def test_address_owner_gets_255_and_is_noted_when_not_the_preferred_master():
    members = {"RT-1": {"lan": ["10.1.1.1/24"]}, "RT-2": {"lan": ["10.1.1.5/24"]}}
    groups = {"LAN": {"segment": "lan", "address": ["10.1.1.5/24"]}}
    result = plan(members, groups, preference=["RT-1", "RT-2"])
    assert result.groups["LAN"].priorities["RT-2"] == 255
    assert result.groups["LAN"].master == "RT-2"
    assert "owns 10.1.1.5/24" in result.notes[0]


def test_vrids_are_assigned_lowest_free_per_segment_and_family():
    groups = {
        "A": {"segment": "lan", "vrid": 1, "address": ["10.1.1.5/24"]},
        "B": {"segment": "lan", "address": ["10.1.1.6/24"]},
        "C": {"segment": "lan", "address": ["2001:db8::5/64"]},
        "D": {"segment": "wan", "address": ["198.51.100.12/24"]},
    }
    vrids = {n: g.vrid for n, g in plan(SEED_000_MEMBERS, groups).groups.items()}
    assert vrids == {"A": 1, "B": 2, "C": 1, "D": 1}


def test_plan_is_deterministic_whatever_the_input_order():
    groups = {
        "B": {"segment": "lan", "address": ["10.1.1.6/24"]},
        "A": {"segment": "lan", "address": ["10.1.1.5/24"]},
    }
    first = plan(SEED_000_MEMBERS, groups, strategy="load_share").as_dict(["RT-1", "RT-2"])
    again = plan(
        dict(reversed(list(SEED_000_MEMBERS.items()))),
        dict(reversed(list(groups.items()))),
        strategy="load_share",
    )
    assert again.as_dict(["RT-1", "RT-2"]) == first


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"strategy": "round_robin"}, "strategy"),
        ({"preference": ["RT-9"]}, "preference"),
        ({"base": 100, "step": 60}, "base"),
        ({"base": "200"}, "base"),
        ({"step": True}, "step"),
        ({"preempt_delay": 1.5}, "preempt_delay"),
    ],
)
def test_what_cannot_be_planned_is_named(kwargs, path):
    groups = {"A": {"segment": "lan", "address": ["10.1.1.5/24"]}}
    members = {**SEED_000_MEMBERS, "RT-3": {"lan": ["10.1.1.3/24"]}}
    with pytest.raises(ConfigError) as caught:
        plan(members, groups, **kwargs)
    assert path in dict(caught.value.problems)


def test_vrid_given_twice_on_a_segment_is_refused():
    groups = {
        "A": {"segment": "lan", "vrid": 3, "address": ["10.1.1.5/24"]},
        "B": {"segment": "lan", "vrid": 3, "address": ["10.1.1.6/24"]},
    }
    with pytest.raises(ConfigError, match="VRID 3"):
        plan(SEED_000_MEMBERS, groups)
