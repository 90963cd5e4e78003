"""The operator tags (docs/playbooks.md): ``install``, ``config``, ``conntrack`` and
``verify`` select their part of the rollout, and the planning runs under any of them
(``always``). Read from ``ansible-playbook --list-tasks``/``--list-tags``, nothing runs:
a tag that disappears from a role or a playbook fails here.

``--list-tasks`` shows a dynamic include (the deploy role's include_role and
include_tasks) as one task; the roles' own tasks are listed by importing each role,
in plays after the rollout's in one playbook: five listings in all (untagged, and one
per operator tag), since this runs under every ansible-core of the matrix."""

from __future__ import annotations

import functools
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
#: The check after each wave (tasks/rollout_wave.yml, which the rollout includes).
PER_ROUTER_CHECK = "Wait for them to settle, then check them"
FINAL_CHECK = "Check the whole fleet"
NATIVE = "routerha.cluster.deploy : Configure the platform's own VRRP and conntrack-sync"
#: What each tag selects in the rollout, and what it must leave out.
ROLLOUT = {
    "install": ({PER_ROUTER_CHECK}, {FINAL_CHECK}),
    "config": ({PER_ROUTER_CHECK}, {FINAL_CHECK}),
    "conntrack": ({PER_ROUTER_CHECK}, {FINAL_CHECK}),
    "verify": ({PER_ROUTER_CHECK, FINAL_CHECK}, set()),
}
#: The deploy role's own steps (tasks/main.yml; the rollout includes the role).
DEPLOY_MAIN = {
    "Know the platform": {"always"},
    "Check that the forks start every router that commits at the agreed moment at once": {"always"},
    "Deploy routerhad": {"always"},
    NATIVE.removeprefix("routerha.cluster.deploy : "): {"config", "conntrack"},
    "Tell whether this router's groups may have moved": {"always"},
}
#: The tag every task of a role carries ("role:file" - a task file the role includes
#: only when it has work to do, which --list-tasks does not show in the role).
ROLES = {
    "routerhad_install": "install",
    "routerhad_install:install": "install",
    "routerhad_config": "config",
    "conntrack_sync_host": "conntrack",
    "conntrack_sync_host:sync": "conntrack",
    "conntrack_sync_host:helpers": "conntrack",
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
PLAY_LINE = re.compile(r"^  play #\d+ \([^)]*\): (?P<play>.+?)\tTAGS: ")
TASK_LINE = re.compile(r"^ {6}(?P<name>.+?)\tTAGS: \[(?P<tags>[^\]]*)\]$")
#: The plays after the rollout's: each role imported (and the deploy role's routerhad steps),
#: and the rollout's wave (listed as part of the rollout).
DEPLOY_PLAY = "deploy tasks/routerhad.yml"
DEPLOY_MAIN_PLAY = "deploy tasks/main.yml"
WAVE_PLAY = "rollout tasks/rollout_wave.yml"
Listing = dict[tuple[str, str], set[str]]


def _book(directory: Path, collections_path: Path) -> Path:
    plays = ["- name: The rollout\n  ansible.builtin.import_playbook: routerha.cluster.rollout\n"]
    wave = (
        collections_path / "ansible_collections/routerha/cluster/playbooks/tasks/rollout_wave.yml"
    )
    plays.append(
        f"- name: {WAVE_PLAY}\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - name: {WAVE_PLAY}\n      ansible.builtin.import_tasks: {wave}\n"
    )
    imports = {
        role: f"name: routerha.cluster.{role.partition(':')[0]}"
        + (f"\n        tasks_from: {role.partition(':')[2]}" if ":" in role else "")
        for role in ROLES
    }
    imports[DEPLOY_PLAY] = "name: routerha.cluster.deploy\n        tasks_from: routerhad"
    imports[DEPLOY_MAIN_PLAY] = "name: routerha.cluster.deploy"
    for play, spec in imports.items():
        plays.append(
            f"- name: {play}\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
            f"    - name: {play}\n      ansible.builtin.import_role:\n        {spec}\n"
        )
    book = directory / "tags.yml"
    book.write_text("---\n" + "".join(plays))
    return book


@pytest.fixture(scope="module")
def list_tasks(collections_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """``list_tasks(tag)``: (play, task) -> tags as ``ansible-playbook --list-tasks
    [--tags tag]`` shows them for the rollout and the roles; ``list_tasks.tags``: what
    ``--list-tags`` shows."""
    directory = tmp_path_factory.mktemp("tags")
    book = _book(directory, collections_path)
    inventory = directory / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    found_tags: set[str] = set()

    @functools.cache
    def run(tag: str | None = None) -> Listing:
        extra = ["--tags", tag] if tag else ["--list-tags"]
        done = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(book), "--list-tasks", *extra],
            capture_output=True, text=True, timeout=300, check=False, cwd=directory,
            env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections_path), "ANSIBLE_NOCOLOR": "1"},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        tasks: Listing = {}
        play = ""
        for line in done.stdout.splitlines():
            if found := PLAY_LINE.match(line):
                play = found["play"]
            elif found := TASK_LINE.match(line):
                tags = {t.strip() for t in found["tags"].split(",") if t.strip()}
                tasks.setdefault((play, found["name"]), set()).update(tags)
            elif not tag and "TASK TAGS: [" in line:
                listed = line.split("TASK TAGS: [")[1].rstrip("]")
                found_tags.update(t.strip() for t in listed.split(","))
        return tasks

    run.tags = found_tags
    run()
    return run


def rollout_tasks(listing: Listing) -> set[str]:
    own = {*ROLES, DEPLOY_PLAY, DEPLOY_MAIN_PLAY}
    return {task for play, task in listing if play not in own}


def role_tasks(listing: Listing, play: str) -> dict[str, set[str]]:
    deploy = play in (DEPLOY_PLAY, DEPLOY_MAIN_PLAY)
    prefix = f"routerha.cluster.{'deploy' if deploy else play.partition(':')[0]} : "
    return {
        task.removeprefix(prefix): tags
        for (where, task), tags in listing.items()
        if where == play and "Validating arguments" not in task
    }


def test_the_rollout_lists_the_operator_tags(list_tasks):
    rollout = {tag for (play, _), tags in list_tasks().items() if play not in ROLES for tag in tags}
    assert {"always", *OPERATOR_TAGS} <= rollout
    assert {"always", *OPERATOR_TAGS} <= list_tasks.tags


@pytest.mark.parametrize("tag", OPERATOR_TAGS)
def test_a_tag_selects_its_part_of_the_rollout_and_the_plan(list_tasks, tag):
    tasks = rollout_tasks(list_tasks(tag))
    wanted, unwanted = ROLLOUT[tag]
    assert set(PLANNING) <= tasks, sorted(tasks)
    assert wanted <= tasks, sorted(tasks)
    assert not unwanted & tasks, sorted(tasks)


def test_every_task_of_a_role_carries_its_tag(list_tasks):
    for role, tag in ROLES.items():
        own = role_tasks(list_tasks(), role)
        assert own, f"no task of {role} listed"
        untagged = sorted(name for name, tags in own.items() if tag not in tags)
        assert not untagged, f"{role}: without the tag {tag}: {untagged}"
        # Selected by its tag, and by no other operator tag.
        for other in OPERATOR_TAGS:
            selected = set(role_tasks(list_tasks(other), role))
            if tag in (other, "always"):
                assert selected == set(own), (role, other, sorted(set(own) - selected))
            else:
                assert not selected, (role, other, sorted(selected))


def test_the_deploy_roles_steps_carry_their_tags(list_tasks):
    assert role_tasks(list_tasks(), DEPLOY_PLAY) == DEPLOY_ROUTERHAD
    assert role_tasks(list_tasks(), DEPLOY_MAIN_PLAY) == DEPLOY_MAIN
