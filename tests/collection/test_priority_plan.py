"""routerha.cluster.priority_plan: module and filter through ansible-playbook, and the
planner they both call (module_utils plan_for_inventory) directly, without Ansible."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from plugins.module_utils.model.errors import ConfigError  # noqa: E402
from plugins.module_utils.priority_plan import plan_for_inventory  # noqa: E402

SEED_000 = {
    "members": [
        {"name": "RT-1", "addresses": {"lan": ["10.1.1.1/24"]}},
        {"name": "RT-2", "addresses": {"lan": ["10.1.1.2/24"]}},
    ],
    "groups": [
        {"name": "G1", "segment": "lan", "vrid": 1, "address": ["10.1.1.5/24"]},
        {"name": "G2", "segment": "lan", "vrid": 2, "address": ["10.1.1.6/24"]},
    ],
}


def task(args: dict, register: str = "plan", **extra) -> dict:
    return {"routerha.cluster.priority_plan": args, "register": register, **extra}


@pytest.mark.matrix
def test_seed_000_load_sharing_through_the_module(playbook):
    run = playbook(
        [task({**SEED_000, "strategy": "load_share", "base": 120, "step": 50})],
        register=["plan"],
    )
    assert run.rc == 0, run.output
    plan = run.results["plan"]
    assert plan["changed"] is False
    assert plan["hosts"]["RT-1"]["G1"] == {
        "vrid": 1,
        "priority": 120,
        "preempt": True,
        "preempt_delay": 0,
    }
    assert plan["hosts"]["RT-1"]["G2"]["priority"] == 70
    assert plan["hosts"]["RT-2"]["G1"]["priority"] == 70
    assert plan["hosts"]["RT-2"]["G2"]["priority"] == 120
    assert plan["masters"] == {"G1": "RT-1", "G2": "RT-2"}


@pytest.mark.matrix
def test_check_mode_returns_the_same_plan(playbook):
    args = {**SEED_000, "strategy": "load_share"}
    normal = playbook([task(args)], register=["plan"])
    checked = playbook([task(args)], register=["plan"], check=True)
    assert checked.rc == 0, checked.output
    for key in ("hosts", "masters", "vrids", "owners", "notes"):
        assert checked.results["plan"][key] == normal.results["plan"][key]


@pytest.mark.matrix
def test_filter_gives_what_the_module_gives(playbook):
    members = {m["name"]: m["addresses"] for m in SEED_000["members"]}
    groups = {g["name"]: {k: v for k, v in g.items() if k != "name"} for g in SEED_000["groups"]}
    run = playbook(
        [
            task({**SEED_000, "strategy": "load_share"}),
            {
                "ansible.builtin.set_fact": {
                    "filtered": "{{ members | routerha.cluster.priority_plan(vrrp_groups, strategy='load_share') }}"
                },
                "vars": {"members": members, "vrrp_groups": groups},
            },
        ],
        register=["plan", "filtered"],
    )
    assert run.rc == 0, run.output
    for key in ("hosts", "masters", "vrids"):
        assert run.results["filtered"][key] == run.results["plan"][key]


@pytest.mark.parametrize("count", [2, 3, 4])
def test_symmetric_sync_group_has_one_master_on_both_segments(playbook, count):
    members = {
        f"r{i}": {"lan": [f"10.1.1.{i}/24"], "wan": [f"198.51.100.{i}/24"]}
        for i in range(1, count + 1)
    }
    groups = {
        "LAN": {"segment": "lan", "address": ["10.1.1.254/24"], "sync_group": "CG"},
        "WAN": {"segment": "wan", "address": ["198.51.100.254/24"], "sync_group": "CG"},
    }
    run = playbook(
        [task({"members": members, "groups": groups, "preference": [f"r{count}"], "step": 20})],
        register=["plan"],
    )
    assert run.rc == 0, run.output
    plan = run.results["plan"]
    assert plan["masters"] == {"LAN": f"r{count}", "WAN": f"r{count}"}
    for group in ("LAN", "WAN"):
        priorities = [plan["hosts"][h][group]["priority"] for h in members]
        assert len(set(priorities)) == count
        assert all(1 <= p <= 254 for p in priorities)
    # the same priority on both segments: the sync group never splits
    for host in members:
        assert plan["hosts"][host]["LAN"]["priority"] == plan["hosts"][host]["WAN"]["priority"]


def test_address_owner_gets_255(playbook):
    members = {"r1": {"lan": ["10.1.1.1/24"]}, "r2": {"lan": ["10.1.1.2/24"]}}
    groups = {"GW": {"segment": "lan", "address": ["10.1.1.2/24"]}}
    run = playbook([task({"members": members, "groups": groups})], register=["plan"])
    assert run.rc == 0, run.output
    plan = run.results["plan"]
    assert plan["hosts"]["r2"]["GW"]["priority"] == 255
    assert plan["owners"] == {"GW": "r2"}
    assert plan["masters"] == {"GW": "r2"}
    assert plan["notes"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"base": 240, "step": 240}, "base 240 and step 240"),
        ({"preference": ["RT-9"]}, "RT-9 not among the members"),
        ({"preempt_delay": 5000}, "preempt_delay"),
        (
            {"groups": [{"name": "G1", "segment": "lan", "address": ["10.1.1.500/24"]}]},
            "groups.G1.address[0]",
        ),
        (
            {
                "groups": [
                    {"name": "G1", "segment": "lan", "address": ["10.1.1.5/24", "2001:db8::5/64"]}
                ]
            },
            "mixes IPv4 and IPv6",
        ),
        ({"strategy": "round_robin"}, "value of strategy must be one of"),
    ],
)
def test_bad_input_fails_naming_what_is_wrong(playbook, args, named):
    run = playbook([task({**SEED_000, **args})], register=["plan"])
    assert run.rc != 0
    assert named in run.output


# The module's planner without Ansible (plan_for_inventory, what module and filter call).

THREE = [{"name": f"r{i}", "addresses": {"lan": [f"10.1.1.{i}/24"]}} for i in (1, 2, 3)]
THREE_GROUPS = [
    {"name": f"G{i}", "segment": "lan", "vrid": i, "address": [f"10.1.1.{100 + i}/24"]}
    for i in (1, 2, 3)
]


def test_load_share_of_three_orders_each_groups_backups_by_rotation():
    # Each group's backups follow its master in the preference order, wrapping round:
    # every member is first backup of exactly one group, so when one fails its group
    # goes to the member after it, not to one that already masters another group.
    result = plan_for_inventory(THREE, THREE_GROUPS, strategy="load_share", base=200, step=50)
    assert result["masters"] == {"G1": "r1", "G2": "r2", "G3": "r3"}
    priorities = {
        group: [result["hosts"][h][group]["priority"] for h in ("r1", "r2", "r3")]
        for group in ("G1", "G2", "G3")
    }
    assert priorities == {"G1": [200, 150, 100], "G2": [100, 200, 150], "G3": [150, 100, 200]}
    # A preference order rotates the same way.
    again = plan_for_inventory(THREE, THREE_GROUPS, strategy="load_share", preference=["r3"])
    assert again["masters"] == {"G1": "r3", "G2": "r1", "G3": "r2"}
    assert [again["hosts"][h]["G1"]["priority"] for h in ("r3", "r1", "r2")] == [200, 150, 100]
    assert [again["hosts"][h]["G2"]["priority"] for h in ("r1", "r2", "r3")] == [200, 150, 100]


def test_base_is_at_most_254_as_255_belongs_to_the_address_owner():
    # RFC 5798 section 5.2.4: 255 says "I own the addresses". A planned master at 255
    # would claim addresses it does not own, and tie with the real owner.
    groups = THREE_GROUPS[:1]
    top = plan_for_inventory(THREE, groups, base=254, step=50)
    assert [top["hosts"][h]["G1"]["priority"] for h in ("r1", "r2", "r3")] == [254, 204, 154]
    with pytest.raises(ConfigError) as caught:
        plan_for_inventory(THREE, groups, base=255, step=50)
    assert dict(caught.value.problems)["base"] == (
        "base 255 and step 50 for 3 members leave 1..254 (lowest 155)"
    )
