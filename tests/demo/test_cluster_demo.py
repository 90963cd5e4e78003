"""`make demo` (demo/cluster.py) runs to its end on router containers: the rollout,
the status table and the failover drill."""

from __future__ import annotations

import re

import pytest

from lab import containers

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_make_demo_rolls_out_and_drills(capsys):
    usable, why = containers.available()
    if not usable:
        pytest.skip(f"podman containers with systemd: {why}")
    from demo import cluster

    try:
        assert cluster.main() == 0
    finally:
        containers.destroy(cluster.TOPOLOGY)
    out = capsys.readouterr().out
    for step in ("== 1/4", "== 2/4", "== 3/4", "== 4/4", "Done in"):
        assert step in out
