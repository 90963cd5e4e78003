"""routerha.cluster.auth_rollover across a routerhad member and a keepalived member
in the namespace lab: r1 runs routerhad (master, priority 200), r2 keepalived
(backup, priority 100), VRRPv2 with a password, adverts every second.

keepalived holds one key per instance, so the change is scheduled: both commit at
one agreed time (routerhad reloads, keepalived gets SIGHUP). The daemons themselves
confirm that nothing moved: routerhad's counters, keepalived's notify FIFO (it stays
BACKUP) and keepalived's own JSON dump (adverts received, none refused).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from lab.netlab import Keepalived, keepalived_instance
from tests.daemon_lab.routerhad_lab import KeepalivedReport, group

VIP_CIDR = "10.9.0.100/24"
OLD, NEW = "OLDPASS1", "NEWPASS2"
ROUTERHACTL = Path(sys.executable).with_name("routerhactl")
AUTH = {"PASS": "plaintext-password", "AH": "ah"}

pytestmark = [pytest.mark.root, pytest.mark.slow]


def pair(lab, fleet, auth="PASS") -> Keepalived:
    for host, address in (("r1", "10.9.0.1/24"), ("r2", "10.9.0.2/24")):
        lab.add_host(host, address)
    fleet.routerhad(
        "r1",
        {
            "LAN": group(
                VIP_CIDR,
                priority=200,
                version=2,
                interval=1,
                authentication={"type": AUTH[auth], "password": OLD},
            )
        },
    )
    fleet.wait_states({"r1": "MASTER"}, timeout=10)
    ka = Keepalived(
        lab,
        "r2",
        keepalived_instance(
            "LAN",
            vrid=1,
            priority=100,
            addresses=[VIP_CIDR],
            version=2,
            advert_int=1,
            auth_type=auth,
            auth_pass=OLD,
        ),
    )
    fleet.add(KeepalivedReport(ka))
    ka.start()
    ka.wait_state("LAN", "BACKUP", timeout=5)
    # Running and hearing r1: its JSON dump counts r1's adverts.
    fleet.wait(lambda: ka_stats(ka)["advert_rcvd"] >= 2, "keepalived hears no advert", timeout=5)
    return ka


def ka_stats(ka: Keepalived) -> dict:
    """keepalived's own counters for LAN (its JSON dump, written on a signal)."""
    path = Path("/tmp/keepalived.json")
    path.unlink(missing_ok=True)
    os.kill(int((ka.dir / "keepalived.pid").read_text()), 36)  # keepalived --signum=JSON
    deadline = time.monotonic() + 5
    while True:
        try:
            dump = json.loads(path.read_text())
            break
        except (OSError, ValueError):
            assert time.monotonic() < deadline, "no JSON dump from keepalived"
            time.sleep(0.05)
    path.unlink()
    return next(e["stats"] for e in dump if e["data"]["iname"] == "LAN")


def inventory(tmp_path, fleet, ka) -> str:
    r1 = fleet["r1"]
    lines = [
        "[routers]",
        f"r1 ansible_connection=local ansible_python_interpreter={sys.executable} "
        f"member_type=routerhad routerhad_config={r1.conf} routerhad_control={r1.sock}",
        f"r2 ansible_connection=local ansible_python_interpreter={sys.executable} "
        f"member_type=keepalived keepalived_config={ka.conf} "
        f"keepalived_pidfile={ka.dir / 'keepalived.pid'}",
    ]
    path = tmp_path / "lab.ini"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def rollover_task(**args) -> dict:
    return {
        "routerha.cluster.auth_rollover": {
            "group": "LAN",
            "member_type": "{{ member_type }}",
            "config": "{{ routerhad_config | default(omit) }}",
            "control": "{{ routerhad_control | default(omit) }}",
            "routerhactl": str(ROUTERHACTL),
            "keepalived_config": "{{ keepalived_config | default(omit) }}",
            "keepalived_pidfile": "{{ keepalived_pidfile | default(omit) }}",
            "settle": 2.5,
            "lead": 2.0,
            **args,
        },
        "register": "rollover",
    }


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    a, b = before.split("\n"), after.split("\n")
    assert len(a) == len(b)
    pairs = [(x, y) for x, y in zip(a, b) if x != y]
    return [x.strip() for x, y in pairs], [y.strip() for x, y in pairs]


def rollover(lab, fleet, playbook, tmp_path, start, **task):
    ka = pair(lab, fleet, auth=start)
    r1 = fleet["r1"]
    before = r1.group("LAN")["counters"]
    ka_before = ka_stats(ka)
    conf = ka.conf.read_text()
    run = playbook(
        [rollover_task(**task)],
        register=["hostvars.r1.rollover", "hostvars.r2.rollover"],
        inventory=inventory(tmp_path, fleet, ka),
        hosts="routers",
    )
    assert run.rc == 0, f"{run.output}\n{fleet.report()}"
    report = run.results["hostvars.r1.rollover"]
    assert report == run.results["hostvars.r2.rollover"] | {"changed": report["changed"]}
    assert report["mode"] == "scheduled"
    assert report["master"] == "r1"
    assert [(p["operation"], p["members"]) for p in report["phases"]] == [("set", ["r1", "r2"])]
    assert report["transitions"] == 0
    assert all(p["transitions"] == 0 and not p["problems"] for p in report["phases"])
    assert report["phases"][0]["states"] == {"r1": "MASTER", "r2": "BACKUP"}
    assert NEW not in run.output and OLD not in run.output
    # The daemons agree: routerhad counts no transition; keepalived stayed BACKUP
    # (its notify FIFO has its first state only), heard r1 since, and refused only
    # what the rollover reported as dropped while the members switched (an advert
    # of r1's that crossed keepalived's reload), nothing after.
    fleet.hold({"r1": "MASTER"}, 3.0)
    after = r1.group("LAN")["counters"]
    assert after["transitions"] == before["transitions"], fleet.report()
    assert ka.states("LAN") == ["BACKUP"], fleet.report()
    ka_after = ka_stats(ka)
    assert ka_after["become_master"] == ka_before["become_master"] == 0
    assert ka_after["advert_rcvd"] >= ka_before["advert_rcvd"] + 3, (ka_before, ka_after)
    refused = sum(
        ka_after[c] - ka_before[c]
        for c in ("auth_failure", "invalid_authtype", "authtype_mismatch")
    )
    assert refused == report["phases"][0]["switch_drops"]["r2"], (ka_after, fleet.report())
    drops = after.get("drops", {})
    assert not any(drops.get(r) for r in ("auth_data", "auth_type", "auth_replay")), drops
    assert ka.log().count("Reload complete") == 1, fleet.report()  # the SIGHUP at the agreed time
    # keepalived logs each password it refuses; only the counted switch drops may be there.
    assert ka.log().count("invalid passwd") <= refused, fleet.report()
    return report, conf, ka


def test_password_change_with_a_keepalived_member_is_scheduled_and_makes_no_transition(
    lab, fleet, playbook, tmp_path
):
    _report, conf, ka = rollover(lab, fleet, playbook, tmp_path, "PASS", password=NEW)
    # Only the auth_pass line changed in keepalived.conf.
    assert changed_lines(conf, ka.conf.read_text()) == ([f"auth_pass {OLD}"], [f"auth_pass {NEW}"])
    assert json.loads(fleet["r1"].conf.read_text())["vrrp"]["groups"]["LAN"]["authentication"] == {
        "type": "plaintext-password",
        "password": NEW,
    }
    for path in (fleet["r1"].conf, ka.conf):
        assert not Path(f"{path}.rollover-backup").exists()
    assert not Path("/tmp/keepalived.json").exists() and not Path("/tmp/keepalived.data").exists()

    # Again: nothing to do.
    again = playbook(
        [rollover_task(password=NEW)],
        register=["rollover"],
        inventory=inventory(tmp_path, fleet, ka),
        hosts="routers",
    )
    assert again.rc == 0, again.output
    assert again.results["rollover"]["changed"] is False
    assert again.results["rollover"]["plan"] == []


def test_change_to_ah_with_a_keepalived_member_makes_no_transition(lab, fleet, playbook, tmp_path):
    _report, conf, ka = rollover(lab, fleet, playbook, tmp_path, "PASS", password=NEW, type="ah")
    assert changed_lines(conf, ka.conf.read_text()) == (
        ["auth_type PASS", f"auth_pass {OLD}"],
        ["auth_type AH", f"auth_pass {NEW}"],
    )
    assert json.loads(fleet["r1"].conf.read_text())["vrrp"]["groups"]["LAN"]["authentication"] == {
        "type": "ah",
        "password": NEW,
    }


def test_mode_staged_with_a_keepalived_member_is_refused_before_anything_changes(
    lab, fleet, playbook, tmp_path
):
    ka = pair(lab, fleet)
    files = (fleet["r1"].conf.read_text(), ka.conf.read_text())
    run = playbook(
        [rollover_task(password=NEW, mode="staged")],
        register=["rollover"],
        inventory=inventory(tmp_path, fleet, ka),
        hosts="routers",
    )
    assert run.rc != 0
    assert "r2 runs keepalived" in run.output, run.output
    assert (fleet["r1"].conf.read_text(), ka.conf.read_text()) == files
