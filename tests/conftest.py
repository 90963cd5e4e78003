"""Fixtures shared by routerha's tests.

``lab``: a fresh network-namespace lab per test, torn down after it. Skipped, with
the reason, only where namespaces cannot work (not root, no ``ip netns``). On
failure the lab's addresses and process log tails are printed (the captured
teardown output of the report) and its directory (configs, whole logs) is kept
until the next run. Module-scoped fixtures that build their own ``Lab`` call
``require_netns()`` first.
"""

from __future__ import annotations

import pytest

from lab.netlab import Lab, netns_available


def require_netns() -> None:
    usable, reason = netns_available()
    if not usable:
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def lab(request):
    require_netns()
    with Lab() as the_lab:
        yield the_lab
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            the_lab.keep_dir = True  # configs and full logs; the next run removes it
            print(f"lab {the_lab.prefix} at failure (files in {the_lab.dir}):")
            print(the_lab.describe())


@pytest.fixture
def fleet(lab):
    """The routerhad (keepalived, FRR) daemons a test starts, whose logs every wait
    reports (tests/daemon_lab/routerhad_lab.py)."""
    from tests.daemon_lab.routerhad_lab import Fleet

    return Fleet(lab)
