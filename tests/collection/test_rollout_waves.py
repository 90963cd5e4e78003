"""The rollout's waves and its report per cluster (plugin_utils/rollout_waves.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def waves(collection_module):
    return collection_module("plugin_utils.rollout_waves")


def test_backups_first_then_the_masters_of_the_fewest_groups(waves):
    # r3 masters two groups, r1 one, r2 none: r2, r1, r3 whatever the inventory order.
    masters = {"LAN": "r3", "WAN": "r3", "DMZ": "r1"}
    assert waves.rollout_waves(["r1", "r2", "r3"], masters) == {"r2": 0, "r1": 1, "r3": 2}


def test_the_inventory_order_breaks_ties(waves):
    # Load sharing: each router masters one group.
    assert waves.rollout_waves(["b1", "b2"], {"LAN-1": "b1", "LAN-2": "b2"}) == {"b1": 0, "b2": 1}
    assert waves.rollout_waves(["b2", "b1"], {"LAN-1": "b1", "LAN-2": "b2"}) == {"b2": 0, "b1": 1}


def test_a_limit_keeps_the_order_of_the_members_left(waves):
    # The plan still names a1 master (it covers the whole cluster); a2 is left out.
    assert waves.rollout_waves(["a1", "a3"], {"LAN": "a1"}) == {"a3": 0, "a1": 1}


def test_a_cluster_that_changes_together_is_one_wave(waves):
    assert waves.rollout_waves(["a1", "a2"], {"LAN": "a1"}, together=True) == {"a1": 0, "a2": 0}


def test_the_fleet_takes_as_many_waves_as_its_largest_cluster(waves):
    clusters = {f"site{n}": [f"s{n}r1", f"s{n}r2"] for n in range(100)}
    clusters["big"] = ["b1", "b2", "b3"]
    every = {}
    for members in clusters.values():
        every.update(waves.rollout_waves(members, {"LAN": members[0]}))
    assert max(every.values()) + 1 == 3


def router(cluster, wave, done=False, error=None, masters=None):
    return {"cluster": cluster, "wave": wave, "done": done, "error": error, "masters": masters}


def test_a_failed_cluster_is_reported_with_its_reason_and_untouched_members(waves):
    summary = waves.rollout_summary(
        {
            "a1": router("site_a", 1, masters={"LAN": "a1"}),
            "a2": router("site_a", 0, error="Write routerhad's configuration: eth9 missing"),
            "b1": router("site_b", 0, done=True, masters={"LAN-1": "b1", "LAN-2": "b2"}),
            "b2": router("site_b", 1, done=True),
        }
    )
    site_a, site_b = summary["clusters"]["site_a"], summary["clusters"]["site_b"]
    assert site_a["state"] == "failed"
    assert site_a["failed"] == {"a2": "Write routerhad's configuration: eth9 missing"}
    assert site_a["untouched"] == ["a1"] and site_a["deployed"] == []
    assert site_a["planned_masters"] == {"LAN": "a1"}
    assert site_b["state"] == "deployed" and site_b["deployed"] == ["b1", "b2"]
    assert summary["failed"] == ["site_a"]
    assert site_b["line"] == "site_b: deployed - deployed b1, b2"
    assert summary["lines"] == [
        "site_a: failed - deployed none; FAILED a2: Write routerhad's configuration: eth9 missing; "
        "untouched a1",
        "site_b: deployed - deployed b1, b2",
    ]


def test_a_cluster_whose_turn_never_came_is_incomplete(waves):
    summary = waves.rollout_summary({"c1": router("c", 0, done=True), "c2": router("c", 1)})
    assert summary["clusters"]["c"]["state"] == "incomplete"
    assert summary["failed"] == ["c"]
