"""routerha.cluster.routerhad_config through ansible-playbook on localhost."""

from __future__ import annotations

import json
import re
import stat
import sys
from pathlib import Path

import pytest

ROUTERHAD = str(Path(sys.executable).with_name("routerhad"))
PASSWORD = "Qx7zk9"
CONFIG = {
    "vrrp": {
        "groups": {
            "LAN": {
                "interface": "eth1",
                "vrid": 10,
                "priority": 200,
                "address": ["10.1.1.254/24"],
                "authentication": {"type": "plaintext-password", "password": PASSWORD},
            }
        }
    }
}


def write(path: Path, config=None, routerhad=ROUTERHAD, **extra) -> dict:
    return {
        "routerha.cluster.routerhad_config": {
            "config": config or CONFIG, "path": str(path), "routerhad": routerhad, **extra,
        },
        "register": "written",
        "ignore_errors": True,
    }  # fmt: skip


@pytest.mark.matrix
def test_writes_0600_once_then_reports_no_change(playbook, tmp_path):
    path = tmp_path / "etc" / "routerhad.json"
    run = playbook([write(path)], register=["written"])
    assert run.rc == 0, run.output
    assert run.results["written"]["changed"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == CONFIG
    assert run.results["written"]["groups"] == {
        "LAN": {"interface": "eth1", "vrid": 10, "priority": 200, "sync_group": None}
    }
    again = playbook([write(path)], register=["written"])
    assert again.results["written"]["changed"] is False
    assert PASSWORD not in run.output + again.output


def test_same_model_in_another_form_is_left_alone_a_wrong_mode_is_fixed(playbook, tmp_path):
    path = tmp_path / "routerhad.json"
    config = json.loads(json.dumps(CONFIG))
    config["vrrp"]["groups"]["LAN"]["authentication"]["accept"] = []  # as a rollover leaves it
    path.write_text(json.dumps(config))  # one line, keys unsorted
    path.chmod(0o600)
    run = playbook([write(path)], register=["written"])
    assert run.results["written"]["changed"] is False, run.output
    assert path.read_text() == json.dumps(config)
    path.chmod(0o644)
    run = playbook([write(path)], register=["written"])
    assert run.results["written"]["changed"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.matrix
def test_check_and_diff_mode_show_the_change_with_passwords_masked(playbook, tmp_path):
    path = tmp_path / "routerhad.json"
    playbook([write(path)])
    changed = json.loads(json.dumps(CONFIG))
    changed["vrrp"]["groups"]["LAN"]["priority"] = 150
    changed["vrrp"]["groups"]["LAN"]["authentication"]["password"] = "N3wpass"
    before = path.read_text()
    run = playbook([write(path, changed)], register=["written"], check=True, extra_args=["--diff"])
    assert run.rc == 0, run.output
    assert run.results["written"]["changed"] is True
    assert path.read_text() == before  # check mode wrote nothing
    assert re.search(r'^- +"priority": 200,$', run.output, re.M)
    assert re.search(r'^\+ +"priority": 150,$', run.output, re.M)
    assert '"password": "<secret ' in run.output
    assert PASSWORD not in run.output and "N3wpass" not in run.output


def test_sync_keys_are_masked_in_the_diff_and_a_key_change_shows_as_a_changed_token(
    playbook, tmp_path
):
    keys = ["old-sync-key-0123456789", "new-sync-key-0123456789"]
    config = json.loads(json.dumps(CONFIG))
    config["vrrp"]["sync_groups"] = {"GW": {"member": ["LAN"]}}
    config["conntrack_sync"] = {
        "interface": "eth3",
        "failover_mechanism": {"sync_group": "GW"},
        "authentication": {"type": "hmac-sha256", "key_id": 1, "key": keys[0]},
    }
    path = tmp_path / "routerhad.json"
    first = playbook([write(path, config)], register=["written"])
    assert first.results["written"]["changed"] is True, first.output
    staged = json.loads(json.dumps(config))
    staged["conntrack_sync"]["authentication"]["accept"] = [{"key_id": 2, "key": keys[1]}]
    run = playbook([write(path, staged)], register=["written"], check=True, extra_args=["--diff"])
    assert run.rc == 0, run.output
    assert run.results["written"]["changed"] is True
    assert '"key": "<secret ' in run.output and '"key_id": 2' in run.output
    for key in keys:
        assert key not in run.output + first.output
        assert key not in json.dumps(run.results)


def test_a_config_the_model_refuses_changes_nothing(playbook, tmp_path):
    path = tmp_path / "routerhad.json"
    playbook([write(path)])
    before = path.read_text()
    bad = json.loads(json.dumps(CONFIG))
    bad["vrrp"]["groups"]["LAN"]["vrid"] = 300
    bad["vrrp"]["groups"]["LAN"]["authentication"]["password"] = "far-too-long-pw"
    run = playbook([write(path, bad)], register=["written"])
    result = run.results["written"]
    assert result["failed"] is True
    assert "vrrp.groups.LAN.vrid" in result["msg"]
    assert "vrrp.groups.LAN.authentication.password" in result["msg"]
    assert "far-too-long-pw" not in run.output
    assert path.read_text() == before


@pytest.mark.matrix
def test_a_config_routerhad_refuses_changes_nothing(playbook, tmp_path):
    path = tmp_path / "routerhad.json"
    playbook([write(path)])
    before = path.read_text()
    refuse = tmp_path / "routerhad"
    refuse.write_text(
        "#!/bin/sh\necho 'routerhad: config error: vrrp.groups.LAN: no' >&2\nexit 2\n"
    )
    refuse.chmod(0o755)
    changed = json.loads(json.dumps(CONFIG))
    changed["vrrp"]["groups"]["LAN"]["priority"] = 150
    run = playbook([write(path, changed, routerhad=str(refuse))], register=["written"])
    result = run.results["written"]
    assert result["failed"] is True
    assert "refused the new configuration" in result["msg"]
    assert "vrrp.groups.LAN: no" in result["msg"]
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".routerha-")] == []


def test_missing_routerhad_is_named(playbook, tmp_path):
    run = playbook(
        [write(tmp_path / "c.json", routerhad="/nonexistent/routerhad")], register=["written"]
    )
    assert "install routerhad first" in run.results["written"]["msg"]
    assert not (tmp_path / "c.json").exists()


def test_changes_the_members_must_make_together_are_named(playbook, tmp_path):
    path = tmp_path / "routerhad.json"
    playbook([write(path)])
    more = json.loads(json.dumps(CONFIG))
    more["vrrp"]["groups"]["LAN"]["address"].append("10.1.1.253/24")
    run = playbook([write(path, more)], register=["written"], check=True)
    splitting = run.results["written"]["splitting"]
    assert [(s["group"], s["code"]) for s in splitting] == [("LAN", "address-mismatch")]
    assert "10.1.1.253" in splitting[0]["message"]
    priority = json.loads(json.dumps(CONFIG))
    priority["vrrp"]["groups"]["LAN"]["priority"] = 150
    run = playbook([write(path, priority)], register=["written"], check=True)
    assert run.results["written"]["changed"] is True
    assert run.results["written"]["splitting"] == []
