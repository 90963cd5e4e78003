"""The README's inventory, as a user would copy it, plans with the cluster_plan role
(pair_check included) on the ansible-core running the test: make test runs this file
under every ansible-core of the support matrix (docs/testing.md)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import ANSIBLE_PLAYBOOK, ROOT


def secret(name: str) -> str:
    """A value for the vault variable ``name``: a VRRP password is 8 octets at most, a
    sync key long."""
    return "Hx7-" + ("k" * 28 if "sync" in name or "key" in name else "q2Zp")


def readme_inventory(directory: Path) -> Path:
    """The README's group_vars and host_vars for r1 as files, and r2 like r1 on the
    next addresses; the vault variables it names get values."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# group_vars/site1\.yml.*?)```", text, re.S)
    assert block, "README.md has no inventory block starting with '# group_vars/site1.yml'"
    group_text, _, host_text = block.group(1).partition("# host_vars/r1.yml")
    assert host_text, "README.md's inventory block has no '# host_vars/r1.yml' part"
    (directory / "group_vars").mkdir(parents=True)
    (directory / "host_vars").mkdir()
    (directory / "group_vars/site1.yml").write_text(group_text)
    (directory / "host_vars/r1.yml").write_text(host_text.split("\n", 1)[1])
    r1 = yaml.safe_load(host_text.split("\n", 1)[1])
    r2 = {
        "routerha_preference": r1["routerha_preference"] + 1,
        "routerha_addresses": {
            segment: [re.sub(r"\.1/", ".2/", address) for address in addresses]
            for segment, addresses in r1["routerha_addresses"].items()
        },
    }
    (directory / "host_vars/r2.yml").write_text(yaml.safe_dump(r2))
    secrets = {name: secret(name) for name in set(re.findall(r"vault_\w+", text))}
    (directory / "group_vars/all.yml").write_text(yaml.safe_dump(secrets))
    local = "ansible_connection=local ansible_python_interpreter=" + __import__("sys").executable
    (directory / "hosts.ini").write_text(f"[site1]\nr1 {local}\nr2 {local}\n")
    return directory


@pytest.mark.matrix
def test_the_readme_inventory_plans_one_master_per_group(playbook, tmp_path):
    inventory = readme_inventory(tmp_path / "inventory")
    run = playbook(
        [
            {
                "name": "plan",
                "ansible.builtin.include_role": {"name": "routerha.cluster.cluster_plan"},
            },
            {
                "name": "what each router got",
                "ansible.builtin.set_fact": {
                    "planned": "{{ cluster_plan_node_config.vrrp.groups | dict2items"
                    " | items2dict(value_name='value') }}"
                },
                "no_log": True,
            },
            {
                "name": "collect",
                "ansible.builtin.set_fact": {
                    "priorities": "{{ dict(groups['site1'] | zip(groups['site1']"
                    " | map('extract', hostvars, ['planned', 'LAN', 'priority']))) }}",
                    "preempt": "{{ planned.LAN.preempt }}",
                },
                "register": "priorities",
            },
        ],
        register=["priorities"],
        hosts="site1",
        inventory=str(inventory / "hosts.ini"),
    )
    assert run.rc == 0, run.output[-3000:]
    facts = run.results["priorities"]["ansible_facts"]
    assert facts["priorities"] == {"r1": 200, "r2": 150}
    assert facts["preempt"] in (True, "True")
    # No password in what the play printed.
    assert secret("vault_lan") not in run.output


@pytest.mark.matrix
def test_the_playbooks_run_by_their_collection_names(collections_path, tmp_path):
    """``ansible-playbook routerha.cluster.rollout`` (and the others), as the README shows."""
    names = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml"))
    inventory = readme_inventory(tmp_path / "inventory")
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory / "hosts.ini"), "--syntax-check"]
        + [f"routerha.cluster.{name}" for name in names],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
             "ANSIBLE_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert {"rollout", "status", "failover_drill", "rotate_auth"} <= set(names)
