"""The members that act together (auth_rollover's barrier, the native routers' agreed
moment) need forks that start them at once (plugin_utils/together.py): the fewest
such forks, and the playbooks' refusal, before any change, when the run has fewer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ANSIBLE_PLAYBOOK, ROOT, local_inventory, playbook_env


@pytest.fixture
def together(collection_module):
    return collection_module("plugin_utils.together")


@pytest.mark.parametrize(
    ("order", "sets", "needed"),
    [
        # Each cluster's members next to each other: the largest cluster.
        ("aAbBcC", ["aA", "bB", "cC"], 2),
        ("aAbBBc", ["aA", "bBB", "c"], 3),
        # Interleaved, a1 b1 c1 a2 ...: the first cluster completes only once its
        # second member has a fork, after the first member of every other cluster.
        ("abcABC", ["aA", "bB", "cC"], 4),
        # One moment for every native router: all of them.
        ("abcd", ["abcd"], 4),
        # Hosts outside every set finish at once and need no fork of their own.
        ("xaybz", ["ab"], 2),
        ("", [], 1),
    ],
)
def test_the_fewest_forks_that_start_every_set_at_once(together, order, sets, needed):
    sets = [list(s) for s in sets]
    assert together.forks_needed(list(order), sets) == needed
    assert together.forks_cover(list(order), sets, needed)["ok"]
    if needed > 1 and sets:
        short = together.forks_cover(list(order), sets, needed - 1)
        assert not short["ok"]
        assert f"run with --forks {needed} or more" in short["msg"]


def test_a_member_outside_the_batch_is_refused_whatever_the_forks(together):
    cover = together.forks_cover(["r1"], [["r1", "r2"]], 50, what="the members of site1")
    assert not cover["ok"]
    assert "r2 is not in this batch" in cover["msg"]
    assert "the members of site1" in cover["msg"]


def test_unknown_forks_check_only_the_batch(together):
    assert together.forks_cover(["r1", "r2"], [["r1", "r2"]], None)["ok"]


def test_the_filter_reads_the_forks_of_the_run(playbook, tmp_path):
    inventory = local_inventory(tmp_path / "hosts.ini", {"r1": {}, "r2": {}, "r3": {}}, "site1")
    task = {
        "name": "judge",
        "ansible.builtin.set_fact": {
            # No forks given: the filter reads the run's own (--forks 2).
            "cover": "{{ ansible_play_batch | routerha.cluster.forks_cover([ansible_play_batch]) }}",
            "given": "{{ ansible_play_batch | routerha.cluster.forks_cover("
            "[ansible_play_batch], ansible_forks) }}",
        },
        "run_once": True,
    }
    run = playbook(
        [task], register=["cover", "given"], inventory=inventory, hosts="all",
        extra_args=["--forks", "2"],
    )  # fmt: skip
    assert run.rc == 0, run.output
    for name in ("cover", "given"):
        assert run.results[name]["forks"] == 2
        assert run.results[name]["needed"] == 3
        assert not run.results[name]["ok"]


def recap(output: str) -> dict[str, dict[str, int]]:
    """The play recap: host -> its counters."""
    out = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
    return out


def run_playbook(path: Path, inventory: str, collections_path: Path, tmp_path: Path, *args):
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", inventory, str(path), *args],
        capture_output=True, text=True, env=playbook_env(collections_path, tmp_path),
        timeout=600, check=False,
    )  # fmt: skip


def cluster_inventory(tmp_path: Path, **extra) -> str:
    """Two sites of two local routers each."""
    hosts = {
        name: {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "routerha_cluster": site,
            **extra,
        }
        for name, site in (("a1", "site_a"), ("b1", "site_b"), ("a2", "site_a"), ("b2", "site_b"))
    }
    sites = {
        site: {"hosts": {h: None for h, v in hosts.items() if v["routerha_cluster"] == site}}
        for site in ("site_a", "site_b")
    }
    data = {"all": {"hosts": hosts, "children": {"routerha": {"children": sites}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps(data))
    return str(path)


def rotate_auth(collections_path: Path, tmp_path: Path, forks: int):
    """rotate_auth.yml on the two local sites of cluster_inventory with ``--forks``."""
    return run_playbook(
        ROOT / "playbooks" / "rotate_auth.yml", cluster_inventory(tmp_path), collections_path,
        tmp_path, "--forks", str(forks),
    )  # fmt: skip


@pytest.mark.matrix
def test_rotate_auth_refuses_too_few_forks_before_any_change(collections_path, tmp_path):
    """This machine's probe says Debian: routerhad routers. With --forks 1 the
    check play refuses, naming the fix, and no task changed anything; the
    rollover's task never ran."""
    run = rotate_auth(collections_path, tmp_path, forks=1)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    # The play's order is the sites' (a1 a2 b1 b2): the largest site.
    assert "run with --forks 2 or more" in output, output
    assert "the members of a cluster must act together" in output
    assert "Change each group's authentication on all its members" not in output
    counters = recap(output)
    assert set(counters) == {"a1", "a2", "b1", "b2"}, output
    assert all(c["changed"] == 0 for c in counters.values()), output


@pytest.mark.matrix
def test_rotate_auth_with_enough_forks_passes_the_check(collections_path, tmp_path):
    # It then goes on and fails later (no routerhad here): the check itself passed.
    run = rotate_auth(collections_path, tmp_path, forks=3)
    output = run.stdout + run.stderr
    assert "run with --forks" not in output, output
    assert "Change each group's authentication on all its members" in output


@pytest.mark.matrix
def test_the_native_together_path_refuses_too_few_forks_before_any_change(
    collections_path, tmp_path
):
    """The deploy role with deploy_commit_together on two native routers and
    --forks 1: refused before the clocks are even read, nothing committed."""
    inventory = cluster_inventory(
        tmp_path,
        platform_router={"backend": "native", "syntax": "vyatta", "family": "edgeos"},
    )
    book = tmp_path / "deploy.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "name": "deploy together",
                    "hosts": "site_a",
                    "gather_facts": False,
                    "roles": [
                        {
                            "role": "routerha.cluster.deploy",
                            "deploy_commit_together": True,
                            "deploy_config": {"vrrp": {"groups": {}}},
                        }
                    ],
                }
            ]
        )
    )
    run = run_playbook(book, inventory, collections_path, tmp_path, "--forks", "1")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "the routers on the native backend that commit at one moment" in output, output
    assert "run with --forks 2 or more" in output
    assert "Read the router's clock" not in output
    assert "Commit the configuration" not in output
    assert all(c["changed"] == 0 for c in recap(output).values()), output


@pytest.mark.matrix
def test_auth_rollover_refuses_too_few_forks_before_its_first_step(playbook, tmp_path):
    """The action checks the same way, from the play's batch (x, not a member,
    skips at once and holds no fork): refused before it reads anything."""
    inventory = local_inventory(tmp_path / "hosts.ini", {"r1": {}, "x": {}, "r2": {}}, "routers")
    task = {
        "routerha.cluster.auth_rollover": {
            "group": "LAN",
            "password": "NEWPASS2",
            "members": ["r1", "r2"],
            "config": str(tmp_path / "missing.json"),
            "routerhactl": str(tmp_path / "no-routerhactl"),
        },
        "register": "rollover",
        "ignore_errors": True,
    }
    run = playbook(
        [task], register=["rollover"], inventory=inventory, hosts="routers",
        extra_args=["--forks", "1"],
    )  # fmt: skip
    result = run.results["rollover"]
    assert result["failed"], run.output
    assert "auth_rollover: the members of LAN must act together" in result["msg"]
    assert "run with --forks 2 or more" in result["msg"]
    assert "cannot read" not in run.output
    assert "NEWPASS2" not in run.output
