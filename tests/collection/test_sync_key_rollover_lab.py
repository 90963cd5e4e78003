"""The conntrack sync key changed on a running routerhad pair by the playbook's task
file (playbooks/tasks/rotate_sync_key.yml, routerha.cluster.routerhad_sync_key).

The members are inventory hosts on the local connection: routerhad runs in a
network namespace, but its configuration file and control socket are files, which
the module reaches as it would on the router itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.ctsync_lab.topology import SYNC_KEY, HaPair, Sessions

from .conftest import local_inventory

ROOT = Path(__file__).resolve().parents[2]
ROUTERHACTL = Path(sys.executable).with_name("routerhactl")
NEW_KEY = "rotated-sync-key-0123456789abcdef"

pytestmark = [pytest.mark.root, pytest.mark.slow]


def rotate(playbook, pair: HaPair, tmp_path: Path, key_id: int, key: str, **extra):
    members = {
        host: {"routerhad_config": pair[host].conf, "routerhad_control": pair[host].sock}
        for host in ("r1", "r2")
    }
    inventory = local_inventory(tmp_path / "lab.ini", members, group="routers")
    task = {
        "ansible.builtin.include_tasks": str(ROOT / "playbooks" / "tasks" / "rotate_sync_key.yml"),
        "vars": {
            "rotate_sync_key_id": key_id,
            "rotate_sync_key": key,
            "rotate_sync_config": "{{ routerhad_config }}",
            "rotate_sync_control": "{{ routerhad_control }}",
            "rotate_sync_routerhactl": str(ROUTERHACTL),
        },
    }
    names = [f"hostvars.{h}.rotate_sync_{s}" for h in ("r1", "r2") for s in ("status", "dropped")]
    return playbook([task], register=names, inventory=inventory, hosts="routers", **extra)


def authentication(pair: HaPair, host: str) -> dict:
    return json.loads(pair[host].conf.read_text())["conntrack_sync"]["authentication"]


def test_the_sync_key_rotates_on_both_members_without_a_loss(lab, playbook, tmp_path):
    pair = HaPair(lab)
    pair.start()
    Sessions(pair, 3).wait_synced("r2")
    before = {h: pair.stats(h)["authentication"] for h in ("r1", "r2")}
    run = rotate(playbook, pair, tmp_path, 2, NEW_KEY)
    assert run.rc == 0, f"{run.output}\n{pair.report()}"
    assert NEW_KEY not in run.output and SYNC_KEY not in run.output
    for host in ("r1", "r2"):
        assert authentication(pair, host) == {"type": "hmac-sha256", "key_id": 2, "key": NEW_KEY}
        assert not Path(f"{pair[host].conf}.rollover-backup").exists()
        now = pair.stats(host)["authentication"]
        assert (now["send_key_id"], now["accepted_key_ids"]) == (2, [2]), now
        assert sum(now["drops"].values()) == 0, now
        for name in ("send_session", "receive_session"):
            assert now[name] == before[host][name], f"{host} {name} renewed: {now}"
        dropped = run.results[f"hostvars.{host}.rotate_sync_dropped"]
        assert dropped["standing"]["sends_new"] and dropped["standing"]["accept_count"] == 0
    # The link still carries new sessions.
    Sessions(pair, 3, port=6100).wait_synced("r2")

    # Again: every member already sends the key and accepts no other; nothing runs.
    again = rotate(playbook, pair, tmp_path, 2, NEW_KEY)
    assert again.rc == 0, again.output
    assert again.results["hostvars.r1.rotate_sync_dropped"].get("skipped") is True


def test_a_new_key_under_the_id_in_use_is_refused_and_changes_nothing(lab, playbook, tmp_path):
    pair = HaPair(lab)
    pair.start()
    files = {h: pair[h].conf.read_text() for h in ("r1", "r2")}
    run = rotate(playbook, pair, tmp_path, 1, NEW_KEY)
    assert run.rc != 0
    assert "needs another key id than the one in use (1)" in run.output
    assert NEW_KEY not in run.output and SYNC_KEY not in run.output
    for host in ("r1", "r2"):
        assert pair[host].conf.read_text() == files[host]
