"""routerha.cluster.auth_rollover against real routerhad pairs in the namespace lab.

The members are inventory hosts on the local connection: routerhad runs in a
network namespace, but its configuration file and control socket are files, which
the module reaches as it would on the router itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.daemon_lab.routerhad_lab import group

from .conftest import local_inventory

VIP_CIDR = "10.9.0.100/24"
OLD, NEW = "OLDPASS1", "NEWPASS2"
ROUTERHACTL = Path(sys.executable).with_name("routerhactl")

pytestmark = [pytest.mark.root, pytest.mark.slow]


def pair(lab, fleet, auth_type="plaintext-password", version=2, extra_member=False):
    for host, address in (("r1", "10.9.0.1/24"), ("r2", "10.9.0.2/24"), ("cl", "10.9.0.25/24")):
        lab.add_host(host, address)
    auth = {"type": auth_type, "password": OLD}
    for host, priority in (("r1", 200), ("r2", 100)):
        fleet.routerhad(
            host,
            {
                "LAN": group(
                    VIP_CIDR, priority=priority, version=version, interval=1, authentication=auth
                )
            },
        )
    fleet.wait_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=10)


def inventory(tmp_path, fleet, hosts=("r1", "r2")) -> str:
    members = {
        host: {"routerhad_config": fleet[host].conf, "routerhad_control": fleet[host].sock}
        for host in hosts
    }
    return local_inventory(tmp_path / "lab.ini", members, group="routers")


def rollover_task(**args) -> dict:
    return {
        "routerha.cluster.auth_rollover": {
            "group": "LAN",
            "config": "{{ routerhad_config }}",
            "control": "{{ routerhad_control }}",
            "routerhactl": str(ROUTERHACTL),
            "settle": 2.5,
            **args,
        },
        "register": "rollover",
    }


def authentication(fleet, host) -> dict:
    return json.loads(fleet[host].conf.read_text())["vrrp"]["groups"]["LAN"].get("authentication")


def transitions(fleet, host) -> int:
    return fleet[host].group("LAN")["counters"]["transitions"]


def test_staged_password_change_makes_no_transition(lab, fleet, playbook, tmp_path):
    pair(lab, fleet)
    before = {h: transitions(fleet, h) for h in ("r1", "r2")}
    run = playbook(
        [rollover_task(password=NEW)],
        register=["hostvars.r1.rollover", "hostvars.r2.rollover"],
        inventory=inventory(tmp_path, fleet),
        hosts="routers",
    )
    assert run.rc == 0, f"{run.output}\n{fleet.report()}"
    report = run.results["hostvars.r1.rollover"]
    assert report == run.results["hostvars.r2.rollover"] | {"changed": report["changed"]}
    assert report["mode"] == "staged"
    assert report["master"] == "r1"
    assert [(p["operation"], p["members"]) for p in report["phases"]] == [
        ("accept", ["r1", "r2"]),
        ("send", ["r2"]),
        ("send", ["r1"]),
        ("drop", ["r1", "r2"]),
    ]
    assert report["transitions"] == 0
    assert all(p["transitions"] == 0 and not p["problems"] for p in report["phases"])
    assert NEW not in run.output and OLD not in run.output
    # The daemons agree: no transition, and both send the new key and accept no other.
    for host in ("r1", "r2"):
        assert transitions(fleet, host) == before[host], fleet.report()
        assert authentication(fleet, host) == {
            "type": "plaintext-password",
            "password": NEW,
            "accept": [],
        }
        assert not Path(f"{fleet[host].conf}.rollover-backup").exists()
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 3.0)
    assert fleet["r2"].group("LAN")["counters"]["drops"].get("auth_data", 0) == 0

    # Again: nothing left to do, nothing changes.
    again = playbook(
        [rollover_task(password=NEW)],
        register=["rollover"],
        inventory=inventory(tmp_path, fleet),
        hosts="routers",
    )
    assert again.rc == 0, again.output
    assert again.results["rollover"]["changed"] is False
    assert again.results["rollover"]["plan"] == []


def test_check_mode_returns_the_plan_and_changes_nothing(lab, fleet, playbook, tmp_path):
    pair(lab, fleet)
    files = {h: fleet[h].conf.read_text() for h in ("r1", "r2")}
    run = playbook(
        [rollover_task(password=NEW)],
        register=["rollover"],
        inventory=inventory(tmp_path, fleet),
        hosts="routers",
        check=True,
    )
    assert run.rc == 0, run.output
    report = run.results["rollover"]
    assert report["changed"] is True
    assert [s["operation"] for s in report["plan"]] == ["accept", "send", "send", "drop"]
    assert report["phases"] == []
    assert {h: fleet[h].conf.read_text() for h in ("r1", "r2")} == files


def test_scheduled_type_change_to_ah_makes_no_transition(lab, fleet, playbook, tmp_path):
    pair(lab, fleet)
    before = {h: transitions(fleet, h) for h in ("r1", "r2")}
    run = playbook(
        [rollover_task(password=NEW, type="ah", lead=2.0)],
        register=["rollover"],
        inventory=inventory(tmp_path, fleet),
        hosts="routers",
    )
    assert run.rc == 0, f"{run.output}\n{fleet.report()}"
    report = run.results["rollover"]
    assert report["mode"] == "scheduled"
    assert [p["operation"] for p in report["phases"]] == ["set"]
    assert report["transitions"] == 0
    phase = report["phases"][0]
    assert phase["lead"] >= 2.0  # the floor asked for, stretched for a slow member
    assert sorted(phase["late"]) == ["r1", "r2"], phase
    for host in ("r1", "r2"):
        assert transitions(fleet, host) == before[host], fleet.report()
        assert authentication(fleet, host) == {"type": "ah", "password": NEW}
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 3.0)


def test_adverts_dropped_while_the_members_switch_are_reported_not_fatal(
    lab, fleet, playbook, tmp_path
):
    # The master r1 reloads 1.5 s after r2 (its routerhactl sleeps first): r2
    # already checks AH when r1's last plain adverts arrive, and drops them (r1's
    # AH adverts would not even reach a plain r2's VRRP socket: AH is another IP
    # protocol). 1.5 s is less than the master-down interval (3.6 s), so nobody
    # moves; once both have switched, every advert is accepted again.
    pair(lab, fleet)
    before = {h: transitions(fleet, h) for h in ("r1", "r2")}
    wrapper = tmp_path / "routerhactl-r1"
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *reload*) sleep 1.5;; esac\nexec {ROUTERHACTL} "$@"\n'
    )
    wrapper.chmod(0o755)
    task = rollover_task(password=NEW, type="ah", lead=2.0)
    task["routerha.cluster.auth_rollover"]["routerhactl"] = (
        f"{{{{ '{wrapper}' if inventory_hostname == 'r1' else '{ROUTERHACTL}' }}}}"
    )
    run = playbook(
        [task], register=["rollover"], inventory=inventory(tmp_path, fleet), hosts="routers"
    )
    assert run.rc == 0, f"{run.output}\n{fleet.report()}"
    phase = run.results["rollover"]["phases"][0]
    assert phase["switch_drops"]["r2"] >= 1, phase
    assert phase["switch_drops"]["r1"] == 0, phase
    assert phase["problems"] == [] and phase["transitions"] == 0, phase
    for host in ("r1", "r2"):
        assert transitions(fleet, host) == before[host], fleet.report()
        assert authentication(fleet, host) == {"type": "ah", "password": NEW}


def test_a_member_without_the_group_stops_it_before_anything_changes(
    lab, fleet, playbook, tmp_path
):
    pair(lab, fleet)
    fleet.routerhad("cl", {"OTHER": group("10.9.0.200/24", vrid=9, version=2, interval=1)})
    files = {h: fleet[h].conf.read_text() for h in ("r1", "r2")}
    run = playbook(
        [rollover_task(password=NEW)],
        register=["rollover"],
        inventory=inventory(tmp_path, fleet, hosts=("r1", "r2", "cl")),
        hosts="routers",
    )
    assert run.rc != 0
    assert "cl: " in run.output and "no such group" in run.output, run.output
    assert {h: fleet[h].conf.read_text() for h in ("r1", "r2")} == files


def test_a_step_that_fails_stops_the_rollover_and_restores_every_member(
    lab, fleet, playbook, tmp_path
):
    pair(lab, fleet)
    files = {h: fleet[h].conf.read_text() for h in ("r1", "r2")}
    before = {h: transitions(fleet, h) for h in ("r1", "r2")}
    # r2's routerhactl refuses its second reload (the "send" step), as a daemon
    # refuses a configuration it cannot run; every later call works again.
    count = tmp_path / "reloads"
    wrapper = tmp_path / "routerhactl-r2"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *reload*) n=$(($(cat {count} 2>/dev/null || echo 0) + 1)); echo $n > {count};'
        ' [ "$n" = 2 ] && { echo "routerhactl: refused for the test" >&2; exit 1; };; esac\n'
        f'exec {ROUTERHACTL} "$@"\n'
    )
    wrapper.chmod(0o755)
    task = rollover_task(password=NEW)
    task["routerha.cluster.auth_rollover"]["routerhactl"] = (
        f"{{{{ '{wrapper}' if inventory_hostname == 'r2' else '{ROUTERHACTL}' }}}}"
    )
    run = playbook(
        [task], register=["rollover"], inventory=inventory(tmp_path, fleet), hosts="routers"
    )
    assert run.rc != 0
    assert "stopped and restored" in run.output and "refused for the test" in run.output
    assert {h: fleet[h].conf.read_text() for h in ("r1", "r2")} == files
    for host in ("r1", "r2"):
        assert not Path(f"{fleet[host].conf}.rollover-backup").exists()
    fleet.hold({"r1": "MASTER", "r2": "BACKUP"}, 3.0)
    assert {h: transitions(fleet, h) for h in ("r1", "r2")} == before, fleet.report()
