"""routerha.cluster.vyatta_config run by ansible-playbook against this machine, whose
vyatta-cfg-cmd-wrapper and vyatta-op-cmd-wrapper are the appliance fakes
(lab/appliance/) with their state under a temporary directory: what it reports
before a commit (check mode), splitting changes above all."""

from __future__ import annotations

import grp
import os
import sys
from pathlib import Path

import pytest

from lab.appliance import fake_op, fake_wrapper
from tests.lab.test_appliance_wrapper import make_root

from .conftest import ROOT

LAN = {"interface": "eth1", "vrid": 40, "address": ["10.40.1.254/24"], "priority": 200}
AUTH = {"type": "plaintext-password", "password": "Edge0s12"}


def config(**lan) -> dict:
    return {
        "vrrp": {
            "groups": {
                "LAN": {**LAN, "authentication": AUTH, **lan},
                "OFFICE": {"interface": "eth1.100", "vrid": 41, "address": ["10.40.100.254/24"]},
            }
        }
    }


@pytest.fixture
def router(tmp_path: Path) -> dict[str, str]:
    """The fakes' launchers and state (EdgeOS syntax); the module's options for them."""
    root = make_root(tmp_path, syntax="vyatta")
    paths = {}
    for name, fake in (("cfg", fake_wrapper), ("op", fake_op)):
        launcher = tmp_path / f"{name}-wrapper"
        # exec: the wrapper's parent is then the session's shell, as on the router.
        launcher.write_text(
            "#!/bin/sh\n"
            f"VYATTA_FAKE_ROOT={root} VYATTA_FAKE_GROUP_CHECK=0 "
            f'PYTHONPATH={ROOT} exec {sys.executable} {fake.__file__} "$@"\n'
        )
        launcher.chmod(0o755)
        paths[name] = str(launcher)
    return {
        "syntax": "vyatta",
        "cfg_wrapper": paths["cfg"],
        "op_wrapper": paths["op"],
        # sg to one's own primary group needs no password, whoever runs the tests.
        "config_group": grp.getgrgid(os.getgid()).gr_name,
        "state_file": str(tmp_path / "native-applied.json"),
        "confirm_minutes": 0,
        "running": str(root / "var/lib/vyatta-fake/running.set"),
    }


def apply(playbook, router, data, check=False):
    options = {k: v for k, v in router.items() if k != "running"}
    task = {"routerha.cluster.vyatta_config": {**options, "config": data}, "register": "result"}
    if check:
        task["check_mode"] = True
    run = playbook([task], register=["result"])
    assert run.rc == 0, run.output
    return run.results["result"], run.output


def test_a_first_configuration_splits_nothing(playbook, router):
    result, _output = apply(playbook, router, config(), check=True)
    assert result["changed"] and result["splitting"] == []
    result, _output = apply(playbook, router, config())
    assert result["changed"] and result["splitting"] == []
    assert "vrrp-group 40 virtual-address '10.40.1.254/24'" in Path(router["running"]).read_text()
    again, _output = apply(playbook, router, config(), check=True)
    assert not again["changed"] and again["splitting"] == []


def test_changes_the_members_must_make_together_are_named_before_the_commit(playbook, router):
    apply(playbook, router, config())
    before = Path(router["running"]).read_text()

    # An added virtual address and a new password: each member would drop the others'.
    wanted = config(
        address=["10.40.1.254/24", "10.40.1.253/24"],
        authentication={**AUTH, "password": "N3wPass1"},
    )
    result, output = apply(playbook, router, wanted, check=True)
    assert result["changed"]
    assert sorted((s["group"], s["code"]) for s in result["splitting"]) == [
        ("LAN", "address-mismatch"),
        ("LAN", "password-mismatch"),
    ]
    assert "10.40.1.253" in next(
        s["message"] for s in result["splitting"] if s["code"] == "address-mismatch"
    )
    assert "N3wPass1" not in output and "Edge0s12" not in output
    assert Path(router["running"]).read_text() == before  # check mode commits nothing

    # A priority is each router's own: no need to change together.
    result, _output = apply(playbook, router, config(priority=150), check=True)
    assert result["changed"] and result["splitting"] == []


def test_a_task_that_would_become_is_refused_and_changes_nothing(playbook, router):
    """The platforms' configuration sessions run as the admin user: a task (or play)
    with become would run them through sudo, so the module refuses it."""
    running = Path(router["running"])
    before = running.read_text() if running.exists() else None
    options = {k: v for k, v in router.items() if k != "running"}
    task = {
        "routerha.cluster.vyatta_config": {**options, "config": config()},
        "become": True,
        "register": "result",
        "ignore_errors": True,
    }
    run = playbook([task], register=["result"])
    assert run.results["result"]["failed"], run.output
    assert "set become: false" in run.results["result"]["msg"]
    assert (running.read_text() if running.exists() else None) == before


def test_a_router_late_for_the_agreed_moment_fails_and_commits_nothing(playbook, router):
    """commit_at already 5 s past when the router reaches it (its worker started
    late): the commit would fall 5 s after the other members', splitting the group,
    so the task fails saying how late, and the running configuration is unchanged."""
    apply(playbook, router, config())
    before = Path(router["running"]).read_text()
    options = {k: v for k, v in router.items() if k != "running"}
    task = {
        "routerha.cluster.vyatta_config": {
            **options,
            "config": config(authentication={**AUTH, "password": "N3wPass1"}),
            "commit_at": "{{ lookup('ansible.builtin.pipe', 'date +%s') | int - 5 }}",
        },
        "register": "result",
        "ignore_errors": True,
    }
    run = playbook([task], register=["result"])
    result = run.results["result"]
    assert result["failed"], run.output
    assert result["msg"].startswith("vyatta_config: the scheduled commit: late by "), result["msg"]
    assert "late by" in result["msg"] and "nothing was committed" in result["msg"]
    late = float(result["msg"].split("late by ", 1)[1].split()[0])
    assert 5 <= late < 30, result["msg"]
    assert Path(router["running"]).read_text() == before
