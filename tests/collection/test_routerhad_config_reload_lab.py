"""routerha.cluster.routerhad_config with reload=true against a real routerhad.

routerhad runs in a network namespace of the lab; its configuration file and
control socket are files, which the module (ansible-playbook on localhost) reaches
as it does on the router. The module checks a configuration with ``routerhad
--check-config`` (the model: an interface name is just a name) and routerhad
refuses at reload what cannot run where it runs (an interface it does not have):
the file must then go back to what routerhad runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.daemon_lab.routerhad_lab import config, group

pytestmark = [pytest.mark.root]

BIN = Path(sys.executable).parent
VIP = "10.9.0.100/24"


@pytest.fixture
def router(lab, fleet):
    lab.add_host("r1", "10.9.0.1/24")
    daemon = fleet.routerhad("r1", {"LAN": group(VIP, priority=200, interval=1)})
    fleet.wait_states({"r1": "MASTER"}, timeout=10)
    return daemon


def write_and_reload(daemon, text) -> dict:
    return {
        "routerha.cluster.routerhad_config": {
            "config": text, "path": str(daemon.conf), "routerhad": str(BIN / "routerhad"),
            "reload": True, "control": str(daemon.sock),
        },
        "register": "written",
        "ignore_errors": True,
    }  # fmt: skip


def test_a_change_is_applied_at_once(router, fleet, playbook):
    changed = config(
        {
            "LAN": group(VIP, priority=200, interval=1),
            "WAN": group("10.9.1.100/24", vrid=2, interval=1),
        }
    )
    run = playbook([write_and_reload(router, changed)], register=["written"])
    assert run.rc == 0, run.output
    written = run.results["written"]
    assert written["changed"] is True
    assert written["reloaded"] == {
        "kept": ["LAN"],
        "rekeyed": [],
        "started": ["WAN"],
        "stopped": [],
    }
    assert [g["name"] for g in router.ctl_status()["groups"]] == ["LAN", "WAN"], fleet.report()
    again = playbook([write_and_reload(router, changed)], register=["written"])
    assert again.results["written"]["changed"] is False
    assert "reloaded" not in again.results["written"]


def test_a_configuration_routerhad_refuses_is_taken_back(router, fleet, playbook):
    before = router.conf.read_text()
    running = router.status()
    refused = config(
        {
            "LAN": group(VIP, priority=150, interval=1),
            "NEW": group("10.7.0.100/24", vrid=3, interface="eth9", interval=1),
        }
    )
    run = playbook([write_and_reload(router, refused)], register=["written"])
    written = run.results["written"]
    assert written["failed"] is True, run.output
    assert "eth9" in written["msg"]
    assert "routerhad runs its previous configuration" in written["msg"]
    assert f"{router.conf} is put back as it was" in written["msg"]
    assert router.conf.read_text() == before
    after = router.status()
    assert after["groups"][0]["priority"] == running["groups"][0]["priority"] == 200
    assert after["groups"][0]["last_transition"] == running["groups"][0]["last_transition"]
    # routerhad restarted now runs what the file says, the configuration it ran.
    router.stop()
    router.start()
    fleet.wait_states({"r1": "MASTER"}, timeout=10)
    assert [g["name"] for g in router.ctl_status()["groups"]] == ["LAN"]


def test_nothing_is_asked_while_routerhad_is_not_running(router, playbook):
    router.stop()
    router.sock.unlink(missing_ok=True)
    changed = config({"LAN": group(VIP, priority=150, interval=1)})
    run = playbook([write_and_reload(router, changed)], register=["written"])
    assert run.rc == 0, run.output
    assert run.results["written"]["reloaded"] is None
    assert json.loads(router.conf.read_text())["vrrp"]["groups"]["LAN"]["priority"] == 150
