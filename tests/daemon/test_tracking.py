"""The group's health from links and checks: keepalived's meaning of weights."""

from __future__ import annotations

import pytest

from routerha.daemon.netlink import Link
from routerha.daemon.tracking import evaluate
from routerha.model import HealthCheck, load_config


def lan(**settings):
    data = {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"], "priority": 100}
    return load_config({"vrrp": {"groups": {"LAN": {**data, **settings}}}}).groups["LAN"]


def links(**up):
    out = {"eth0": Link(index=1, name="eth0", mac=b"\0" * 6, up=True)}
    for n, (name, state) in enumerate(up.items(), 2):
        out[name] = Link(index=n, name=name, mac=b"\0" * 6, up=state)
    return out


@pytest.mark.parametrize(
    ("weight", "up", "priority", "faults"),
    [
        (None, True, 100, set()),
        (None, False, 100, {"link eth1"}),
        (20, True, 120, set()),  # positive: added while up
        (20, False, 100, set()),
        (-20, True, 100, set()),
        (-20, False, 80, set()),  # negative: added while down
    ],
)
def test_tracked_interface_weights(weight, up, priority, faults):
    entry = {"name": "eth1"} if weight is None else {"name": "eth1", "weight": weight}
    health = evaluate(lan(track={"interface": [entry]}), links(eth1=up))
    assert (health.priority, set(health.faults)) == (priority, faults)


def test_a_tracked_interface_that_does_not_exist_is_down():
    group = lan(
        track={"interface": [{"name": "eth9", "weight": 30}, {"name": "eth8", "weight": -5}]}
    )
    assert evaluate(group, links()).priority == 95


@pytest.mark.parametrize(
    ("weight", "failed", "priority", "faults"),
    [
        (None, False, 100, set()),
        (None, True, 100, {"health-check"}),
        (50, False, 150, set()),  # positive: added while the check succeeds
        (50, True, 100, set()),
        (-50, False, 100, set()),
        (-50, True, 50, set()),  # negative: added while it fails
    ],
)
def test_health_check_weights(weight, failed, priority, faults):
    check = (
        {"script": "/bin/check"} if weight is None else {"script": "/bin/check", "weight": weight}
    )
    health = evaluate(lan(health_check=check), links(), check_failed=failed)
    assert (health.priority, set(health.faults)) == (priority, faults)


def test_weights_add_up_and_the_machine_is_left_to_clamp():
    group = lan(
        priority=200,
        track={"interface": [{"name": "eth1", "weight": 40}, {"name": "eth2", "weight": 30}]},
        health_check={"script": "/bin/check", "weight": 10},
    )
    # 200 + 40 + 30 + 10 = 280: VrrpMachine keeps the effective priority at 254.
    assert evaluate(group, links(eth1=True, eth2=True)).priority == 280


def test_a_weighted_sync_group_check_moves_the_priority_instead_of_faulting():
    weighted = HealthCheck(script="/bin/check", weight=25)
    group = lan()
    healthy = evaluate(group, links(), sync_check=weighted)
    failed = evaluate(group, links(), sync_check_failed="SG", sync_check=weighted)
    assert (healthy.priority, healthy.faults) == (125, frozenset())
    assert (failed.priority, failed.faults) == (100, frozenset())
    plain = evaluate(group, links(), sync_check_failed="SG", sync_check=HealthCheck(script="/x"))
    assert plain.faults == {"health-check of sync group SG"}


def test_the_interface_of_an_address_elsewhere_is_tracked_as_keepalived_does():
    placed = {"address": ["10.1.1.5/24", {"address": "192.0.2.5/24", "interface": "eth2"}]}
    group = lan(**placed, track={"exclude_vrrp_interface": True})
    assert evaluate(group, links(eth2=True)).faults == frozenset()
    assert evaluate(group, links(eth2=False)).faults == {"link eth2"}
    assert evaluate(group, links()).faults == {"link eth2"}  # missing: down
