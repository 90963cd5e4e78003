"""routerhad's command line without a network: --check-config names what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys


def routerhad(*args):
    return subprocess.run(
        [sys.executable, "-m", "routerha.daemon", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_check_config_accepts_a_good_file(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(
        json.dumps(
            {
                "vrrp": {
                    "groups": {"LAN": {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]}}
                }
            }
        )
    )
    done = routerhad("--check-config", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stdout


def test_check_config_names_the_offending_key(tmp_path):
    path = tmp_path / "bad.json"
    group = {
        "interface": "eth0",
        "vrid": 1,
        "address": ["10.1.1.5/24"],
        "authentication": {"type": "ah", "password": "TOOLONGPW"},
    }
    path.write_text(json.dumps({"vrrp": {"groups": {"LAN": group}}}))
    done = routerhad("--check-config", "--config", str(path))
    assert done.returncode != 0
    assert "vrrp.groups.LAN.authentication.password" in done.stderr


def test_check_config_reports_json_syntax_with_its_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"vrrp":\n  {"groups": }\n}')
    done = routerhad("--check-config", "--config", str(path))
    assert done.returncode != 0
    assert "line 2" in done.stderr


def synced_config(authentication=None):
    config = {
        "vrrp": {
            "groups": {"LAN": {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]}},
            "sync_groups": {"CG": {"member": ["LAN"]}},
        },
        "conntrack_sync": {"interface": "eth2", "failover_mechanism": {"sync_group": "CG"}},
    }
    if authentication is not None:
        config["conntrack_sync"]["authentication"] = authentication
    return config


def test_check_config_refuses_conntrack_sync_without_authentication(tmp_path):
    path = tmp_path / "open.json"
    path.write_text(json.dumps(synced_config()))
    done = routerhad("--check-config", "--config", str(path))
    assert done.returncode != 0
    assert "conntrack_sync.authentication: is required" in done.stderr
    assert "type none" in done.stderr


def test_check_config_takes_a_sync_key_or_the_explicit_opt_out_and_never_shows_the_key(
    tmp_path,
):
    key = "cli-sync-key-0123456789"
    for auth in ({"type": "hmac-sha256", "key_id": 1, "key": key}, {"type": "none"}):
        path = tmp_path / "synced.json"
        path.write_text(json.dumps(synced_config(auth)))
        done = routerhad("--check-config", "--config", str(path))
        assert done.returncode == 0, done.stderr
        assert key not in done.stdout + done.stderr
    path.write_text(json.dumps(synced_config({"type": "hmac-sha256", "key_id": 1, "key": "short"})))
    done = routerhad("--check-config", "--config", str(path))
    assert done.returncode != 0
    assert "conntrack_sync.authentication.key: is 5 octets" in done.stderr
    assert "short" not in done.stderr.replace("is 5 octets", "")


def test_routerhads_process_keeps_ssl_and_pyroute2_out_and_lets_the_conntrack_sync_in(
    tmp_path,
) -> None:
    """The routerhad command (routerha.daemon.__main__) loads neither ssl nor pyroute2
    for VRRP groups; pyroute2, which the conntrack sync needs, imports ssl, so a
    router with conntrack sync must still get both."""
    config = tmp_path / "routerhad.json"
    config.write_text(
        json.dumps({"vrrp": {"groups": {"LAN": {"interface": "eth0", "vrid": 1,
                                                "address": ["10.0.0.1/24"]}}}})
    )  # fmt: skip
    code = (
        "import atexit, sys\n"
        "def report():\n"
        "    print('ssl', sys.modules.get('ssl', 'absent'), 'pyroute2' in sys.modules)\n"
        "    from routerha.daemon.service import import_conntrack_sync\n"
        "    print(*(c.__name__ for c in import_conntrack_sync()))\n"
        "atexit.register(report)\n"
        "import routerha.daemon.__main__ as entry\n"
        f"sys.argv = ['routerhad', '--check-config', '--config', {str(config)!r}]\n"
        "sys.exit(entry.main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "configuration OK" in lines[0]
    assert lines[1] == "ssl None False"
    assert lines[2] == "ConntrackTable ConntrackSyncService SyncLink"
