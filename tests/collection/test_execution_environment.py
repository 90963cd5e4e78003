"""Execution environments: what ansible-builder takes from the collection as it ships.

The collection's declared controller requirements (meta/execution-environment.yml,
requirements.txt, bindep.txt) are what ``ansible-builder introspect`` finds in the
installed tarball, and the execution-environment definition docs/execution-environments.md
gives users is accepted by ``ansible-builder create`` with that tarball. ansible-builder
runs from its own cached environment (scripts/ansible-venv)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

pytestmark = pytest.mark.slow

BUILDER = "ansible-builder==3.2.0"


@pytest.fixture(scope="module")
def builder_venv() -> Path:
    made = subprocess.run(
        [str(ROOT / "scripts/ansible-venv"), "2.19", BUILDER],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    return Path(made.stdout.strip())


@pytest.fixture(scope="module")
def tarball(builder_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built")
    subprocess.run(
        [str(builder_venv / "bin/ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("routerha-cluster-*.tar.gz")
    return built


def test_introspection_of_the_installed_tarball_finds_the_declared_requirements(
    builder_venv, tarball, tmp_path
):
    collections = tmp_path / "collections"
    # --force, and away from the checkout's ansible.cfg: its collections path already
    # holds routerha.cluster (the checkout itself), and ansible-galaxy would skip it.
    subprocess.run(
        [str(builder_venv / "bin/ansible-galaxy"), "collection", "install", "--force", "-p", str(collections), str(tarball)],
        capture_output=True, text=True, check=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert (collections / "ansible_collections/routerha/cluster/requirements.txt").is_file()
    shown = subprocess.run(
        [str(builder_venv / "bin/ansible-builder"), "introspect", "--sanitize", str(collections)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    found = yaml.safe_load(shown)
    python = [line.split("#")[0].strip() for line in found["python"]]
    system = [line.split("#")[0].strip() for line in found["system"]]
    pin = (ROOT / "requirements.txt").read_text()
    assert python == [line for line in pin.splitlines() if line and not line.startswith("#")]
    assert python == ["pyroute2==0.9.7"]
    assert "openssh-client [platform:dpkg]" in system


def test_ansible_builder_accepts_the_documented_definition(builder_venv, tarball, tmp_path):
    text = (ROOT / "docs/execution-environments.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(---\nversion: 3\n.*?)```", text, re.S)
    assert block, "docs/execution-environments.md has no ansible-builder 3 definition"
    definition = yaml.safe_load(block.group(1))
    collections = definition["dependencies"]["galaxy"]["collections"]
    assert collections == [{"name": "routerha.cluster"}]
    # The collection as it ships, in place of Galaxy's copy.
    collections[0] = {"name": str(tarball), "type": "file"}
    path = tmp_path / "execution-environment.yml"
    path.write_text(yaml.safe_dump(definition))
    made = subprocess.run(
        [str(builder_venv / "bin/ansible-builder"), "create", "-f", str(path), "--context", str(tmp_path / "context")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    containerfile = (tmp_path / "context/Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile  # the collection's requirements go into the image
    requirements = yaml.safe_load((tmp_path / "context/_build/requirements.yml").read_text())
    assert requirements["collections"][0]["name"].endswith(tarball.name)
