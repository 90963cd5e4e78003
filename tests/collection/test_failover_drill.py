"""playbooks/failover_drill.yml on local routers: the selection (clusters, routers,
groups), the batches, the per-cluster results published with set_stats, and a batch
that fails. Each router's routerhactl is a script that answers as routerhad would;
``systemctl`` is a stand-in (first on PATH) that counts the routers stopped at once.
The selection's rules themselves: plugin_utils/drill_plan.py, tested below."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ANSIBLE_PLAYBOOK, ROOT


@pytest.fixture
def plan(collection_module):
    return collection_module("plugin_utils.drill_plan")


HOSTS = ["a1", "a2", "b1", "b2", "c1", "c2"]
CLUSTER_OF = {h: f"site_{h[0]}" for h in HOSTS}
GROUPS_OF = {h: ["LAN", "WAN"] if h[0] == "a" else ["LAN"] for h in HOSTS}


def batches(plan, **selection):
    return [b["clusters"] for b in plan.drill_batches(HOSTS, CLUSTER_OF, GROUPS_OF, **selection)]


def test_every_cluster_one_at_a_time_by_default(plan):
    assert batches(plan) == [["site_a"], ["site_b"], ["site_c"]]
    assert batches(plan, batch=2) == [["site_a", "site_b"], ["site_c"]]
    assert plan.drill_batches(HOSTS, CLUSTER_OF, GROUPS_OF, batch="2")[0]["hosts"] == [
        "a1", "a2", "b1", "b2",
    ]  # fmt: skip


def test_clusters_and_routers_name_what_to_drill_in_the_plays_order(plan):
    assert batches(plan, clusters=["site_c", "site_a"]) == [["site_a"], ["site_c"]]
    assert batches(plan, routers=["b2"]) == [["site_b"]]
    assert batches(plan, clusters="site_c", routers=["a1", "a2"], batch=5) == [["site_a", "site_c"]]


def test_groups_keep_the_clusters_that_have_them(plan):
    assert batches(plan, groups=["WAN"]) == [["site_a"]]


@pytest.mark.parametrize(
    ("selection", "named"),
    [
        (
            {"clusters": ["site_a", "site_x"]},
            "drill_clusters: site_x is not a cluster of this play",
        ),
        ({"routers": ["z9"]}, "drill_routers: z9 is not a router of this play"),
        ({"groups": ["DMZ"]}, "drill_groups: DMZ is not a group of the clusters drilled"),
        ({"clusters": ["site_b"], "groups": ["LAN"]}, None),
        (
            {"clusters": ["site_b"], "groups": ["LAN", "WAN"]},
            "WAN is not a group of the clusters drilled",
        ),
        ({"clusters": ["site_b", "site_a"], "groups": ["WAN"]}, "site_b has none of WAN"),
        ({"batch": 0}, "drill_batch must be a whole number of clusters, 1 or more"),
        ({"batch": "two"}, "drill_batch must be"),
        ({"clusters": {"site_a": 1}}, "drill_clusters must be a list of names"),
    ],
)
def test_a_name_the_play_does_not_have_is_refused(plan, selection, named):
    if named is None:
        assert batches(plan, **selection) == [["site_b"]]
        return
    with pytest.raises(plan.SelectionError, match=re.escape(named)):
        batches(plan, **selection)


def test_the_stats_per_cluster(plan):
    report = [
        {"cluster": "p", "group": "LAN", "stopped": "r1", "new_master": "r2",
         "takeover_ms": 4.1, "restored_master": "r1", "restore_s": 3.2, "line": "x"},
        {"cluster": "p", "group": "WAN", "stopped": "r1", "new_master": "r2",
         "takeover_ms": 4.3, "restored_master": "r2", "line": "y"},
        {"cluster": "q", "group": "LAN", "stopped": "s1", "new_master": None,
         "takeover_ms": None, "line": "z"},
    ]  # fmt: skip
    stats = plan.drill_stats(report)
    assert stats["p"] == {
        "stopped": "r1",
        "taken_over": True,
        "restored": False,
        "groups": {
            "LAN": {
                "new_master": "r2",
                "takeover_ms": 4.1,
                "restored_master": "r1",
                "restore_s": 3.2,
            },
            "WAN": {"new_master": "r2", "takeover_ms": 4.3, "restored_master": "r2"},
        },
    }
    assert stats["q"]["taken_over"] is False and "restored" not in stats["q"]


# -- the playbook on local routers ---------------------------------------------------

ROUTERHACTL = """#!/bin/sh
# {host}: a master always, a backup that masters while a master is stopped, or a
# backup that never takes over ({role}).
stopped=$(cat "{state}/stopped" 2>/dev/null || echo 0)
case "{role}" in
  master) cat "{prefix}/master.json" ;;
  backup) if [ "$stopped" -gt 0 ]; then cat "{prefix}/master.json"; else cat "{prefix}/backup.json"; fi ;;
  *) cat "{prefix}/backup.json" ;;
esac
"""
SYSTEMCTL = """#!/bin/sh
# Counts the routers stopped at once; logs each call with the count after it.
exec 9>"{state}/lock"; flock 9
n=$(cat "{state}/stopped" 2>/dev/null || echo 0)
case "$1" in stop) n=$((n + 1)) ;; start) n=$((n - 1)) ;; esac
echo "$n" > "{state}/stopped"
echo "$1 $2 $n" >> "{state}/log"
"""


def status(state: str, own: str, master: str, priority: int) -> dict:
    return {
        "groups": [
            {
                "name": "LAN",
                "interface": "eth1",
                "vrid": 10,
                "state": state,
                "priority": priority,
                "effective_priority": priority,
                "master_address": None if state == "MASTER" else master,
                "master_priority": 0 if state == "MASTER" else 200,
                "source_address": own,
                "preempt": True,
                "last_transition": 1.0,
                "faults": [],
                "counters": {"transitions": 1},
            }
        ]
    }


def lab(tmp_path: Path, stuck: str = "") -> tuple[str, Path, Path]:
    """Sites a, b, c of two local routers each (x1 planned master); the site named
    ``stuck`` has a backup that never takes over. Inventory, state dir, PATH dir."""
    state = tmp_path / "state"
    state.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "systemctl").write_text(SYSTEMCTL.format(state=state))
    (bindir / "systemctl").chmod(0o755)
    sites: dict = {}
    for number, site in enumerate("abc", 1):
        hosts = {}
        for index in (1, 2):
            host = f"{site}{index}"
            prefix = tmp_path / host
            (prefix / "bin").mkdir(parents=True)
            own, master = f"10.{number}.1.{index}", f"10.{number}.1.1"
            (prefix / "master.json").write_text(
                json.dumps(status("MASTER", own, master, 250 - 50 * index))
            )
            (prefix / "backup.json").write_text(
                json.dumps(status("BACKUP", own, master, 250 - 50 * index))
            )
            role = "master" if index == 1 else ("stuck" if site == stuck else "backup")
            script = prefix / "bin" / "routerhactl"
            script.write_text(ROUTERHACTL.format(host=host, role=role, state=state, prefix=prefix))
            script.chmod(0o755)
            hosts[host] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "routerhad_install_prefix": str(prefix),
                "routerha_preference": index,
                "routerha_addresses": {"lan": [f"{own}/24"]},
            }
        sites[f"site_{site}"] = {
            "hosts": hosts,
            "vars": {
                "routerha_cluster": f"site_{site}",
                "routerha_segments": {"lan": "eth1"},
                "routerha_groups": {
                    "LAN": {"segment": "lan", "vrid": 10, "address": [f"10.{number}.1.254/24"]}
                },
            },
        }
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"routerha": {"children": sites}}}}))
    return str(inventory), state, bindir


def drill(collections_path, tmp_path, bindir, inventory, extra=None):
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_SHOW_CUSTOM_STATS": "1",
        "ROUTERHA_HEALTH_TIMEOUT": "0",
    }
    command = [
        str(ANSIBLE_PLAYBOOK), "-i", inventory, str(ROOT / "playbooks" / "failover_drill.yml"),
        "--forks", "6", "-e", json.dumps({"routerha_health_timeout": 0, **(extra or {})}),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return run.returncode, run.stdout + run.stderr


def custom_stats(output: str) -> dict:
    """The set_stats data of the run, as the play recap shows it."""
    at = output.index("RUN:", output.index("CUSTOM STATS"))
    start = output.index("{", at)
    return json.JSONDecoder().raw_decode(output[start:])[0]


def log(state: Path) -> list[list[str]]:
    path = state / "log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_every_cluster_is_drilled_one_at_a_time(collections_path, tmp_path):
    inventory, state, bindir = lab(tmp_path)
    rc, output = drill(collections_path, tmp_path, bindir, inventory)
    assert rc == 0, output
    calls = log(state)
    assert [c[0] for c in calls] == ["stop", "start"] * 3, calls
    assert max(int(c[2]) for c in calls) == 1  # never two sites down at once
    for site in "abc":
        assert f"site_{site}/LAN: {site}1 stopped; {site}2 took over in" in output
    stats = custom_stats(output)["routerha_drill"]
    assert sorted(stats) == ["site_a", "site_b", "site_c"]
    assert stats["site_b"]["stopped"] == "b1"
    assert stats["site_b"]["taken_over"] and stats["site_b"]["restored"]
    assert stats["site_b"]["groups"]["LAN"]["new_master"] == "b2"
    assert stats["site_b"]["groups"]["LAN"]["restored_master"] == "b1"


def test_named_clusters_and_routers_in_batches_of_two(collections_path, tmp_path):
    inventory, state, bindir = lab(tmp_path)
    rc, output = drill(
        collections_path, tmp_path, bindir, inventory,
        {"drill_clusters": ["site_c"], "drill_routers": ["a2"], "drill_batch": 2},
    )  # fmt: skip
    assert rc == 0, output
    calls = log(state)
    assert sorted(c[0] for c in calls) == ["start", "start", "stop", "stop"]
    assert max(int(c[2]) for c in calls) == 2  # site_a and site_c together
    stats = custom_stats(output)["routerha_drill"]
    assert sorted(stats) == ["site_a", "site_c"]
    assert "site_b/LAN" not in output


def test_an_unknown_name_fails_before_anything_changes(collections_path, tmp_path):
    inventory, state, bindir = lab(tmp_path)
    rc, output = drill(
        collections_path, tmp_path, bindir, inventory,
        {"drill_clusters": ["site_a", "site_x"], "drill_routers": ["zz9"]},
    )  # fmt: skip
    assert rc != 0
    assert "drill_clusters: site_x is not a cluster of this play" in output, output
    assert "drill_routers: zz9 is not a router of this play" in output
    assert log(state) == []
    assert "Check the clusters before the drill" not in output


def test_a_cluster_that_does_not_take_over_is_restored_and_stops_the_drill(
    collections_path, tmp_path
):
    inventory, state, bindir = lab(tmp_path, stuck="b")
    rc, output = drill(collections_path, tmp_path, bindir, inventory)
    assert rc != 0
    # site_a drilled, site_b's master stopped and started again, site_c untouched.
    assert [c[:2] for c in log(state)] == [
        ["stop", "routerhad"], ["start", "routerhad"], ["stop", "routerhad"], ["start", "routerhad"],
    ], output  # fmt: skip
    assert "the drill of site_b failed after stopping b1 (started again)" in output, output
    assert "the later batches were not drilled" in output
    assert "site_c/LAN" not in output
    stats = custom_stats(output)
    assert sorted(stats["routerha_drill"]) == ["site_a"]
    assert stats["routerha_drill_failed"]["clusters"] == ["site_b"]
    assert stats["routerha_drill_failed"]["stopped"] == ["b1"]
