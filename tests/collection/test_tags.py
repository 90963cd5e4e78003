"""The operator tags (docs/playbooks.md): ``install``, ``config``, ``conntrack`` and
``verify`` select their part of the rollout, and the planning runs under any of them
(``always``). Read from ``ansible-playbook --list-tasks``/``--list-tags``, nothing runs:
a tag that disappears from a role or a playbook fails here.

``--list-tasks`` shows a dynamic include (the deploy role's include_role and
include_tasks) as one task; the roles' own tasks are listed by importing each role."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import ANSIBLE_PLAYBOOK

pytestmark = pytest.mark.matrix

OPERATOR_TAGS = ("install", "config", "conntrack", "verify")
#: A task of the rollout's plan that every tag must still run.
PLANNING = (
    "routerha.cluster.platform : Probe the router's platform",
    "routerha.cluster.cluster_plan : Plan the cluster and write every member's configuration",
    "routerha.cluster.cluster_plan : Check that the members of every group agree (pair_check), once per cluster",
    "Find the changes that this router's group members must make together",
)
PER_ROUTER_CHECK = "Wait for the cluster to settle, then check it"
FINAL_CHECK = "Check the whole fleet"
NATIVE = "routerha.cluster.deploy : Configure the platform's own VRRP and conntrack-sync"
#: What each tag selects in the rollout, and what it must leave out.
ROLLOUT = {
    "install": ({PER_ROUTER_CHECK}, {FINAL_CHECK, NATIVE}),
    "config": ({PER_ROUTER_CHECK, NATIVE}, {FINAL_CHECK}),
    "conntrack": ({PER_ROUTER_CHECK, NATIVE}, {FINAL_CHECK}),
    "verify": ({PER_ROUTER_CHECK, FINAL_CHECK}, {NATIVE}),
}
#: The tag every task of a role carries.
ROLES = {
    "routerhad_install": "install",
    "routerhad_config": "config",
    "conntrack_sync_host": "conntrack",
    "platform": "always",
    "cluster_plan": "always",
}
#: The deploy role's routerhad backend (tasks/routerhad.yml): task -> its tags.
DEPLOY_ROUTERHAD = {
    "Look for the platform's own VRRP on the same interfaces and VRIDs": {"install", "config"},
    "Refuse to run beside it": {"install", "config"},
    "Install routerhad": {"install"},
    "Prepare the kernel for conntrack sync": {"conntrack"},
    "Survive image upgrades": {"install"},
    "Delete the platform's own VRRP that routerhad takes over": {"config"},
    "Write routerhad's configuration and run it": {"config"},
}
TASK_LINE = re.compile(r"^ {6}(?P<name>.+?)\tTAGS: \[(?P<tags>[^\]]*)\]$")


def listing(
    collections_path: Path, tmp_path: Path, playbook: str, *args: str
) -> dict[str, set[str]]:
    """Task name -> tags, as ``ansible-playbook --list-tasks`` shows them (a name
    listed in several plays gets the union)."""
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), playbook, "--list-tasks", *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections_path), "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tasks: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        found = TASK_LINE.match(line)
        if found:
            tags = {t.strip() for t in found["tags"].split(",") if t.strip()}
            tasks.setdefault(found["name"], set()).update(tags)
    return tasks


def test_the_rollout_lists_the_operator_tags(collections_path, tmp_path):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "routerha.cluster.rollout", "--list-tags"],
        capture_output=True, text=True, timeout=300, check=True, cwd=tmp_path,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections_path)},
    )  # fmt: skip
    listed = {
        tag.strip()
        for line in re.findall(r"TASK TAGS: \[([^\]]*)\]", done.stdout)
        for tag in line.split(",")
    }
    assert {"always", *OPERATOR_TAGS} <= listed, done.stdout


@pytest.mark.parametrize("tag", OPERATOR_TAGS)
def test_a_tag_selects_its_part_of_the_rollout_and_the_plan(collections_path, tmp_path, tag):
    tasks = listing(collections_path, tmp_path, "routerha.cluster.rollout", "--tags", tag)
    wanted, unwanted = ROLLOUT[tag]
    assert set(PLANNING) <= set(tasks), sorted(tasks)
    assert wanted <= set(tasks), sorted(tasks)
    assert not unwanted & set(tasks), sorted(tasks)


def test_every_task_of_a_role_carries_its_tag(collections_path, tmp_path):
    plays = [
        f"- name: {role}\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - name: {role}\n      ansible.builtin.import_role:\n        name: routerha.cluster.{role}\n"
        for role in ROLES
    ]
    book = tmp_path / "roles.yml"
    book.write_text("---\n" + "".join(plays))
    tasks = listing(collections_path, tmp_path, str(book))
    for role, tag in ROLES.items():
        own = {
            name: tags
            for name, tags in tasks.items()
            if name.startswith(f"routerha.cluster.{role} : ") and "Validating arguments" not in name
        }
        assert own, f"no task of {role} listed"
        untagged = sorted(name for name, tags in own.items() if tag not in tags)
        assert not untagged, f"{role}: without the tag {tag}: {untagged}"
    # Each role's tasks are selected by their tag and by no other operator tag.
    for tag in OPERATOR_TAGS:
        selected = set(listing(collections_path, tmp_path, str(book), "--tags", tag))
        for role, own_tag in ROLES.items():
            own = {n for n in tasks if n.startswith(f"routerha.cluster.{role} : ")}
            if own_tag == tag:
                assert own <= selected, (role, tag, sorted(own - selected))
            elif own_tag != "always":
                own -= {n for n in own if "Validating arguments" in n}
                assert not own & selected, (role, tag, sorted(own & selected))


def test_the_deploy_roles_steps_carry_their_tags(collections_path, tmp_path):
    book = tmp_path / "deploy.yml"
    book.write_text(
        "---\n- name: deploy\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: deploy\n      ansible.builtin.import_role:\n"
        "        name: routerha.cluster.deploy\n        tasks_from: routerhad\n"
    )
    tasks = listing(collections_path, tmp_path, str(book))
    shown = {
        name.removeprefix("routerha.cluster.deploy : "): tags
        for name, tags in tasks.items()
        if "Validating arguments" not in name
    }
    assert shown == DEPLOY_ROUTERHAD
