"""The fleet generator (lab/sites.py) the rollout benchmark builds its labs with: a
topology lab/containers.py accepts, one cluster per site in the inventory, and the
planner's view of it (the cluster_plan role on localhost, no containers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import containers, sites

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def test_fleet_topology_loads(tmp_path):
    topo = containers.load(sites.write(6, tmp_path, "rhz", "172.31.240.0/24"))
    assert len(topo.containers) == 12
    assert topo.groups()["site_06"] == ["s06-r1", "s06-r2"]
    addresses = [a for c in topo.containers.values() for i in c.interfaces for a in i.addresses]
    assert len(addresses) == len(set(addresses))  # no two interfaces share an address


@pytest.mark.parametrize("count", [0, sites.MAX_SITES + 1])
def test_fleet_size_is_bounded(tmp_path, count):
    with pytest.raises(ValueError, match="sites must be"):
        sites.write(count, tmp_path)


def test_every_site_plans_as_its_own_cluster(tmp_path):
    inventory = sites.write(3, tmp_path, "rhz", "172.31.240.0/24").parent / "inventory"
    # The containers' connection data stands in for the lab's own lab.yml: local.
    hosts = {
        sites.router_name(i, r): {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
        }
        for i in range(1, 4)
        for r in sites.ROUTERS
    }
    groups = {
        sites.site_name(i): {"hosts": {sites.router_name(i, r): None for r in sites.ROUTERS}}
        for i in range(1, 4)
    }
    (inventory / "lab.yml").write_text(
        yaml.safe_dump({"all": {"hosts": hosts, "children": groups}})
    )
    play = tmp_path / "plan.yml"
    play.write_text(
        yaml.safe_dump([{
            "name": "Plan", "hosts": "routerha", "gather_facts": False,
            "roles": [{"role": "routerha.cluster.cluster_plan"}],
            "tasks": [{"name": "Show", "ansible.builtin.debug": {"msg": "MASTERS {{ cluster_plan_data.plan.masters }}"}}],
        }])
    )  # fmt: skip
    done = subprocess.run(
        [str(PLAYBOOK), "-i", str(inventory), str(play)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for index in range(1, 4):
        assert f"MASTERS {{'LAN': '{sites.router_name(index, 'r1')}'}}" in done.stdout, done.stdout[
            -4000:
        ]
