"""`make demo` (demo/cluster.py) runs to its end on router containers: the rollout,
the status table and the failover drill."""

from __future__ import annotations

import pytest

from lab import containers

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_make_demo_rolls_out_and_drills(capfd):
    usable, why = containers.available()
    if not usable:
        pytest.skip(f"podman containers with systemd: {why}")
    from demo import cluster

    try:
        assert cluster.main() == 0
    finally:
        containers.destroy(cluster.TOPOLOGY)
    out = capfd.readouterr().out
    for step in ("== 1/4", "== 2/4", "== 3/4", "== 4/4", "Done in"):
        assert step in out
    # The playbooks' own output: the fleet table and the drill's result.
    assert "every group has one master, seen by all" in out
    assert "r2 took over in" in out
    assert "r1 master again" in out
