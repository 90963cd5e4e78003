"""Shared set-up for the container-lab tests: a topology brought up under its own
name, prefix and management subnet, and an ``ansible -m ping`` run against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab import containers

ANSIBLE = Path(sys.executable).with_name("ansible")


def isolated_topology(
    tmp_path_factory, file: str, name: str, prefix: str, management: str
) -> Iterator[containers.Topology]:
    """Yield lab/topologies/``file`` renamed to ``name`` with its own ``prefix`` and
    ``management`` subnet, destroyed before (whatever an interrupted run left) and
    after; skip when containers are not usable here."""
    usable, reason = containers.available()
    if not usable:
        pytest.skip(reason)
    spec = yaml.safe_load((containers.TOPOLOGIES / file).read_text())
    spec.update(name=name, prefix=prefix, management=management)
    path = tmp_path_factory.mktemp(Path(file).stem) / f"{name}.yml"
    path.write_text(yaml.safe_dump(spec))
    topo = containers.load(path)
    containers.destroy(topo)  # whatever an interrupted run left
    yield topo
    containers.destroy(topo)


def ansible_ping(inventory: Path, pattern: str) -> subprocess.CompletedProcess[str]:
    """``ansible -m ping`` on the hosts ``pattern`` names, with no host-key setting
    from the environment (the inventory's own must do)."""
    return ansible(inventory, pattern, "-m", "ansible.builtin.ping")


def ansible(inventory: Path, pattern: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ansible`` ad hoc on the hosts ``pattern`` names, with no host-key or become
    setting from the environment (the inventory's own must do)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if "HOST_KEY_CHECKING" not in k and not k.startswith("ANSIBLE_BECOME")
    }
    return subprocess.run(
        [str(ANSIBLE), "-i", str(inventory), pattern, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "ANSIBLE_DEPRECATION_WARNINGS": "False"},
    )


def lab_inventory(topology: containers.Topology, tmp_path_factory) -> Path:
    """Bring ``topology`` up, writing its Ansible inventory to a temporary hosts.yml."""
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    assert containers.create(topology, inventory=path) == path
    return path
