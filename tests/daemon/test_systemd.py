"""routerhad under systemd: readiness (Type=notify), and a clean exit on SIGTERM."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest

from lab.netlab import poll

pytestmark = pytest.mark.root


def test_ready_notification_then_clean_stop_removes_what_it_made(lab, tmp_path):
    lab.add_host("r1", "10.7.0.1/24")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(15)
    config = tmp_path / "r1.json"
    group = {
        "interface": "eth0",
        "vrid": 9,
        "priority": 255,
        "address": ["10.7.0.9/24"],
        "rfc3768_compatibility": True,
    }
    config.write_text(json.dumps({"vrrp": {"groups": {"LAN": group}}}))
    pidfile, control = tmp_path / "r1.pid", tmp_path / "r1.sock"
    proc = lab.popen(
        "r1",
        "env",
        f"NOTIFY_SOCKET={tmp_path / 'notify'}",
        sys.executable,
        "-m",
        "routerha.daemon",
        "--config",
        str(config),
        "--control",
        str(control),
        "--pidfile",
        str(pidfile),
    )
    assert notify.recv(64) == b"READY=1", proc.log()
    assert pidfile.read_text().strip().isdigit()
    # The address owner is master at once, on its macvlan with the virtual MAC.
    poll(
        lambda: "10.7.0.9/24" in lab.run("r1", "ip", "addr", "show", "eth0v9v4").stdout,
        5,
        message="VIP",
    )
    assert "00:00:5e:00:01:09" in lab.run("r1", "ip", "link", "show", "eth0v9v4").stdout
    assert proc.stop(timeout=10) == 0, proc.log()
    assert notify.recv(64) == b"STOPPING=1"
    assert not pidfile.exists() and not control.exists()
    assert lab.run("r1", "ip", "link", "show", "eth0v9v4", check=False).returncode != 0, (
        "macvlan left behind"
    )
    assert "10.7.0.9" not in lab.run("r1", "ip", "addr").stdout
    assert os.path.exists(tmp_path / "notify")
