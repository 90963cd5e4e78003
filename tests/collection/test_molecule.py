"""The molecule scenarios on real hosts: podman containers with systemd inside,
reached over OpenSSH as a non-root admin user with sudo (lab/containers.py). create,
converge (playbooks/rollout.yml), idempotence, verify, destroy: molecule fails the run
if any step fails, the second converge included when it changes anything.

``multisite`` and ``appliance`` run on this venv's ansible-core; ``default`` runs on
both ends of the support matrix instead: the newest ansible-core (2.21, which has no
paramiko connection any more) and the floor (2.17), each in the cached venv of
scripts/ansible-venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import containers

ROOT = Path(__file__).resolve().parents[2]
MOLECULE = Path(sys.executable).with_name("molecule")
NEWEST = "2.21"
FLOOR = "2.17"
#: molecule for an ansible-core where the pinned one refuses it: molecule 26.8 and
#: later exclude ansible-core 2.17 (end of life upstream, with an ansible-galaxy
#: advisory it will not get a fix for), so 2.17 runs the last molecule that accepts it.
MOLECULE_FOR = {FLOOR: "molecule==26.6.0"}
#: scripts/ansible-venv's exit status when no Python 3.12+ exists for 2.20 and later.
NO_PYTHON = 3

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def podman_lab():
    usable, why = containers.available()
    if not usable:
        pytest.skip(f"podman containers with systemd: {why}")


def pinned(package: str) -> str:
    """``package==VERSION`` as requirements-dev.txt pins it."""
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == package:
            return line.strip()
    raise AssertionError(f"requirements-dev.txt does not pin {package}")


def molecule_for(version: str | None) -> Path:
    """This venv's molecule, or the one in the cached venv of ansible-core ``version``
    (skipping when no Python for it exists here)."""
    if version is None:
        return MOLECULE
    made = subprocess.run(
        [str(ROOT / "scripts" / "ansible-venv"), version, MOLECULE_FOR.get(version, pinned("molecule"))],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    if made.returncode == NO_PYTHON:
        pytest.skip(made.stderr.strip())
    assert made.returncode == 0, made.stderr[-3000:]
    return Path(made.stdout.strip()) / "bin" / "molecule"


@pytest.mark.parametrize(
    ("scenario", "version"),
    [("default", FLOOR), ("default", NEWEST), ("multisite", None), ("appliance", None)],
    ids=[f"default-ansible-{FLOOR}", f"default-ansible-{NEWEST}", "multisite", "appliance"],
)
def test_scenario(podman_lab, scenario, version):
    molecule = molecule_for(version)
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "PATH": f"{molecule.parent}:{os.environ['PATH']}",
    }
    started = time.monotonic()
    run = subprocess.run(
        [str(molecule), "test", "-s", scenario],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    name = f"molecule-{scenario}" + (f"-ansible-{version}" if version else "")
    (ROOT / "tests" / "output").mkdir(exist_ok=True)
    (ROOT / "tests" / "output" / f"{name}.log").write_text(f"{out}\n{name}: {took:.0f} s\n")
    print(f"{name}: {took:.0f} s")
    assert run.returncode == 0, out[-6000:]
    # The idempotence step ran and found nothing to change.
    assert re.search(r"idempotence: Executed: Successful", out), out[-3000:]
    assert "PROBLEM" not in out
    if version is not None:  # it was that ansible-core that ran the playbooks
        assert f"ansible-core {version}." in ansible_version(molecule), out[-3000:]


def ansible_version(molecule: Path) -> str:
    ansible = molecule.with_name("ansible")
    done = subprocess.run([str(ansible), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[0].replace("ansible [core ", "ansible-core ")
