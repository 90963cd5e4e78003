"""`make demo` (the namespace lab) runs to its end and shows the failover."""

from __future__ import annotations

import re

import pytest

from lab.netlab import netns_available

pytestmark = pytest.mark.root


def test_make_demo_elects_fails_over_measures_and_preempts(capsys):
    usable, why = netns_available()
    if not usable:
        pytest.skip(f"network namespaces: {why}")
    from demo import lab_pair

    assert lab_pair.main() == 0
    out = capsys.readouterr().out
    assert "Election done" in out
    outage = float(re.search(r"longest wait for a reply: ([\d.]+) ms", out).group(1))
    # 3 x 100 ms + Skew_Time: the client must have heard the gateway again soon after.
    assert 0 < outage < 1000, out
    assert out.count("MASTER") >= 4
