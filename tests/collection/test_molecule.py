"""The molecule scenarios on real hosts: podman containers with systemd inside,
reached over SSH (lab/containers.py). create, converge (playbooks/rollout.yml),
idempotence, verify, destroy: molecule fails the run if any step fails, the
second converge included when it changes anything."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab import containers

ROOT = Path(__file__).resolve().parents[2]
MOLECULE = Path(sys.executable).with_name("molecule")

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def podman_lab():
    usable, why = containers.available()
    if not usable:
        pytest.skip(f"podman containers with systemd: {why}")


@pytest.mark.parametrize("scenario", ["default", "multisite", "appliance"])
def test_scenario(podman_lab, scenario):
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "PATH": f"{MOLECULE.parent}:{os.environ['PATH']}",
    }
    run = subprocess.run(
        [str(MOLECULE), "test", "-s", scenario],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    out = run.stdout + run.stderr
    (ROOT / "tests" / "output").mkdir(exist_ok=True)
    (ROOT / "tests" / "output" / f"molecule-{scenario}.log").write_text(out)
    assert run.returncode == 0, out[-6000:]
    # The idempotence step ran and found nothing to change.
    assert re.search(r"idempotence: Executed: Successful", out), out[-3000:]
    assert "PROBLEM" not in out
