"""Judging a fleet from routerhactl status --json (plugin_utils/cluster_status.py)."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import ROOT, local_inventory


@pytest.fixture
def status(collection_module):
    return collection_module("plugin_utils.cluster_status")


def group(name, state, source, master=None, priority=100, master_priority=0, preempt=True):
    return {
        "name": name, "interface": "eth1", "vrid": 10, "state": state, "priority": priority,
        "effective_priority": priority, "master_address": master, "master_priority": master_priority,
        "source_address": source, "preempt": preempt, "last_transition": 1.0, "faults": [],
        "counters": {"transitions": 1},
    }  # fmt: skip


CLUSTERS = {"r1": "pair", "r2": "pair"}


def test_one_master_seen_by_the_backup_is_healthy(status):
    health = status.fleet_health(
        {
            "r1": {"groups": [group("LAN", "MASTER", "10.1.1.1", priority=200)]},
            "r2": {"groups": [group("LAN", "BACKUP", "10.1.1.2", master="10.1.1.1")]},
        },
        CLUSTERS,
        {"pair": {"LAN": "r1"}},
    )
    assert health["healthy"], health["problems"]
    assert health["groups"][0]["master"] == "r1"
    table = status.fleet_table(health)
    assert table[0].split() == [
        "Cluster",
        "Group",
        "Interface",
        "VRID",
        "Router",
        "State",
        "Priority",
        "Master",
    ]
    assert table[1].split()[4:6] == ["r1", "MASTER"]
    assert table[-1] == "every group has one master, seen by all"


def test_two_masters_a_fault_a_blind_backup_and_a_silent_router(status):
    health = status.fleet_health(
        {
            "r1": {"groups": [group("LAN", "MASTER", "10.1.1.1"), group("WAN", "FAULT", "x")]},
            "r2": {"groups": [group("LAN", "MASTER", "10.1.1.2"), group("WAN", "MASTER", "y")]},
            "r3": {"error": "cannot reach routerhad"},
            "r4": {"groups": [group("WAN", "BACKUP", "z", master="w")]},
        },
        {**CLUSTERS, "r3": "pair", "r4": "pair"},
    )
    assert not health["healthy"]
    assert "pair/LAN: 2 masters (r1, r2); one expected" in health["problems"]
    assert "pair/WAN: r1 is FAULT" in health["problems"]
    assert "pair/WAN: r4 sees master w, not r2 (y)" in health["problems"]
    assert "pair: r3: no status (cannot reach routerhad)" in health["problems"]
    assert status.fleet_table(health)[-1].startswith("PROBLEM ")


def test_the_planned_master_is_checked_when_asked(status):
    statuses = {
        "r1": {"groups": [group("LAN", "BACKUP", "10.1.1.1", master="10.1.1.2")]},
        "r2": {"groups": [group("LAN", "MASTER", "10.1.1.2")]},
    }
    assert status.fleet_health(statuses, CLUSTERS)["healthy"]
    health = status.fleet_health(statuses, CLUSTERS, {"pair": {"LAN": "r1"}})
    assert health["problems"] == ["pair/LAN: master is r2, planned r1"]


def test_registered_loop_results_are_read(status):
    results = [
        {"item": "r1", "rc": 0, "stdout": json.dumps({"groups": [group("LAN", "MASTER", "a")]})},
        {"item": "r2", "rc": 1, "stdout": "", "stderr": "routerhactl: cannot reach routerhad"},
        {"item": "r3", "rc": 0, "stdout": "garbage"},
    ]
    statuses = status.statuses_of(results)
    assert statuses["r1"]["groups"][0]["state"] == "MASTER"
    assert statuses["r2"] == {"error": "routerhactl: cannot reach routerhad"}
    assert statuses["r3"] == {"error": "routerhactl printed no JSON"}


@pytest.mark.parametrize(
    ("groups", "moving"),
    [
        ([group("LAN", "MASTER", "a")], []),
        ([group("LAN", "BACKUP", "b", master="a", priority=100, master_priority=200)], []),
        ([group("LAN", "BACKUP", "b", master=None)], ["LAN"]),  # has heard no master yet
        ([group("LAN", "INIT", "b")], ["LAN"]),
        # will preempt the lower-priority master it hears
        ([group("LAN", "BACKUP", "b", master="a", priority=200, master_priority=100)], ["LAN"]),
        (
            [
                group(
                    "LAN",
                    "BACKUP",
                    "b",
                    master="a",
                    priority=200,
                    master_priority=100,
                    preempt=False,
                )
            ],
            [],
        ),
    ],
)
def test_unsettled(status, groups, moving):
    assert status.unsettled({"groups": groups}) == moving


def test_unsettled_without_a_status(status):
    assert status.unsettled({"error": "x"}) == ["(no status)"]


def test_the_filters_through_ansible(playbook):
    statuses = {
        "r1": {"groups": [group("LAN", "MASTER", "10.1.1.1")]},
        "r2": {
            "groups": [group("LAN", "BACKUP", "10.1.1.2", master="10.1.1.1", master_priority=200)]
        },
    }
    run = playbook(
        [
            {
                "ansible.builtin.set_fact": {
                    "table": "{{ statuses | routerha.cluster.fleet_health(clusters) | routerha.cluster.fleet_table }}",
                    "moving": "{{ statuses.r2 | to_json | routerha.cluster.unsettled }}",
                },
                "vars": {"statuses": statuses, "clusters": CLUSTERS},
            }
        ],
        register=["table", "moving"],
    )
    assert run.rc == 0, run.output
    assert run.results["table"][-1] == "every group has one master, seen by all"
    assert run.results["moving"] == []


def test_a_drill_stops_one_router_per_cluster(status):
    rows = [
        {"cluster": "b", "group": "LAN-1", "master": "b1"},
        {"cluster": "b", "group": "LAN-2", "master": "b2"},
        {"cluster": "a", "group": "LAN", "master": "a1"},
        {"cluster": "a", "group": "WAN", "master": "a1"},
        {"cluster": "c", "group": "X", "master": None},
    ]
    assert [(r["cluster"], r["group"]) for r in status.drill_choice(rows)] == [
        ("b", "LAN-1"), ("a", "LAN"), ("a", "WAN"),
    ]  # fmt: skip
    assert [r["group"] for r in status.drill_choice(rows, ["LAN-2", "WAN"])] == ["LAN-2", "WAN"]


def test_the_drill_report(status):
    before = [{"cluster": "p", "group": "LAN", "master": "r1"}]
    after = {"groups": [{"cluster": "p", "group": "LAN", "master": "r2",
                         "members": {"r2": {"last_transition": 100.4254}}}]}  # fmt: skip
    back = {"groups": [{"cluster": "p", "group": "LAN", "master": "r1",
                        "members": {"r1": {"last_transition": 203.5}}}]}  # fmt: skip

    def stats(**values):
        return {"rc": 0, "stdout": json.dumps({"stats": values})}

    registered = {
        "r1": {"drill_stopped": {"stdout": "100.0"}, "drill_started": {"stdout": "200.0"}},
        "r2": {
            "drill_ct_before": stats(commits=1, committed=10, commit_failed=0, external_cache=74),
            "drill_ct_after": stats(
                commits=2, committed=84, commit_failed=0, last_commit_seconds=0.014
            ),
        },
    }
    report = status.drill_report(before, after, back, registered)
    assert report[0]["takeover_ms"] == 425.4
    assert report[0]["conntrack"]["committed"] == 74
    assert report[0]["restore_s"] == 3.5
    assert status.drill_lines(report) == [
        "p/LAN: r1 stopped; r2 took over in 425.4 ms; conntrack: 1 commit(s), 74 entries "
        "(external cache 74) in 0.014 s, 0 failed; restored: r1 master again after 3.5 s"
    ]
    nobody = status.drill_report(before, {"groups": []}, None, registered)
    assert nobody[0]["new_master"] is None
    assert status.drill_lines(nobody) == ["p/LAN: r1 stopped; NO TAKEOVER"]


def scripted_routers(tmp_path, replies, clusters=None):
    """An inventory of local hosts, each with a ``routerhactl`` under its own
    platform_prefix that prints its next scripted status (the last one again once
    the script has run out) and counts how often it was asked."""
    hosts = {}
    for host, statuses in replies.items():
        prefix = tmp_path / host
        (prefix / "bin").mkdir(parents=True)
        for number, status in enumerate(statuses, 1):
            (prefix / f"reply-{number}.json").write_text(json.dumps(status))
        script = prefix / "bin" / "routerhactl"
        script.write_text(
            "#!/bin/sh\n"
            f'cd "{prefix}"\n'
            "asked=$(( $(cat asked 2>/dev/null || echo 0) + 1 )); echo $asked > asked\n"
            f"[ -e reply-$asked.json ] && cat reply-$asked.json || cat reply-{len(statuses)}.json\n"
        )
        script.chmod(0o755)
        hosts[host] = {
            "platform_prefix": prefix,
            "routerha_cluster": (clusters or {}).get(host, "pair"),
        }
    return local_inventory(tmp_path / "inventory.ini", hosts)


def asked(tmp_path, host):
    return int((tmp_path / host / "asked").read_text())


HEALTH_CHECK = {
    "ansible.builtin.include_tasks": str(ROOT / "playbooks" / "tasks" / "fleet_health.yml"),
    "vars": {"routerha_health_hosts": "{{ ansible_play_hosts }}", "routerha_health_timeout": 0},
}
MASTER = {"groups": [group("LAN", "MASTER", "10.1.1.1", priority=200)]}
BACKUP_OF_R1 = {
    "groups": [group("LAN", "BACKUP", "10.1.1.2", master="10.1.1.1", master_priority=200)]
}
STALE_MASTER = {"groups": [group("LAN", "MASTER", "10.1.1.2")]}


def test_a_router_read_before_it_moved_is_read_again(playbook, tmp_path):
    # r2 is read first, while it still masters; r1 preempts it a moment later and
    # is read as master too. The second round sees r2 as r1's backup.
    inventory = scripted_routers(tmp_path, {"r2": [STALE_MASTER, BACKUP_OF_R1], "r1": [MASTER]})
    run = playbook([HEALTH_CHECK], register=["routerha_health"], inventory=inventory, hosts="all")
    assert run.rc == 0, run.output
    assert run.results["routerha_health"]["healthy"]
    assert "2 masters (r1, r2)" not in json.dumps(run.results["routerha_health"])
    assert asked(tmp_path, "r2") == 2


def test_a_lasting_disagreement_fails_after_the_last_round(playbook, tmp_path):
    inventory = scripted_routers(tmp_path, {"r1": [MASTER], "r2": [STALE_MASTER]})
    run = playbook([HEALTH_CHECK], inventory=inventory, hosts="all")
    assert run.rc != 0
    assert "pair/LAN: 2 masters (r1, r2); one expected" in run.output
    assert asked(tmp_path, "r1") == asked(tmp_path, "r2") == 3


def test_an_unhealthy_cluster_fails_its_own_routers_only(playbook, tmp_path):
    # pair has two masters; other is healthy: only pair's routers fail, and each
    # router was read once per round (3 rounds for pair's disagreement).
    other_master = {"groups": [group("LAN", "MASTER", "10.2.1.1", priority=200)]}
    other_backup = {
        "groups": [group("LAN", "BACKUP", "10.2.1.2", master="10.2.1.1", master_priority=200)]
    }
    replies = {"r1": [MASTER], "r2": [STALE_MASTER], "o1": [other_master], "o2": [other_backup]}
    clusters = {"o1": "other", "o2": "other"}
    inventory = scripted_routers(tmp_path, replies, clusters)
    after = {"ansible.builtin.set_fact": {"went_on": True}}
    run = playbook([HEALTH_CHECK, after], register=["went_on"], inventory=inventory, hosts="all")
    assert run.rc != 0
    assert re.search(r"fatal: \[r1\]: FAILED.*\n?.*pair: LAN: 2 masters", run.output), run.output
    assert "fatal: [r2]" in run.output
    assert "fatal: [o1]" not in run.output and "fatal: [o2]" not in run.output
    assert run.results["went_on"] is True  # the dump ran on a router of the healthy cluster
    assert [asked(tmp_path, host) for host in ("r1", "r2", "o1", "o2")] == [3, 3, 3, 3]


def test_members_outside_the_play_are_read_through_the_controller(playbook, tmp_path):
    # --limit r1: its peer r2 is still read (delegated), and the pair judged whole.
    inventory = scripted_routers(tmp_path, {"r1": [MASTER], "r2": [BACKUP_OF_R1]})
    check = {
        **HEALTH_CHECK,
        "vars": {"routerha_health_hosts": ["r1", "r2"], "routerha_health_timeout": 0},
    }
    run = playbook([check], register=["routerha_health"], inventory=inventory, hosts="r1")
    assert run.rc == 0, run.output
    health = run.results["routerha_health"]
    assert health["healthy"], health["problems"]
    assert set(health["groups"][0]["members"]) == {"r1", "r2"}
    assert health["unhealthy"] == {}
    assert asked(tmp_path, "r2") == 1
