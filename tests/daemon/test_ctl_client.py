"""routerhactl against a control socket, without routerhad: it asks and prints, and
it starts without the daemon's code (the playbooks run it many times per router)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading


def test_routerhactl_imports_neither_the_daemon_nor_pyroute2():
    probe = (
        "import sys, routerha.ctl.main; "
        "print(sorted(m for m in sys.modules if m.startswith(('pyroute2', 'routerha.daemon', 'asyncio'))))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert done.stdout.strip() == "[]"


def serve_once(path: str, answer: dict) -> tuple[threading.Thread, list[dict]]:
    """A control socket that answers one request with ``answer``: its thread, and the
    requests it got."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got: list[dict] = []

    def run() -> None:
        connection, _ = server.accept()
        with connection, server:
            got.append(json.loads(connection.makefile().readline()))
            connection.sendall(json.dumps(answer).encode() + b"\n")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def test_status_json_is_what_the_socket_answered(tmp_path):
    path = str(tmp_path / "routerhad.sock")
    answer = {"groups": [], "sync_groups": []}
    server, got = serve_once(path, answer)
    done = subprocess.run(
        [sys.executable, "-m", "routerha.ctl.main", "--control", path, "status", "--json"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    server.join(10)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == answer
    assert got == [{"command": "status"}]


def test_nobody_listening_is_an_error_that_names_the_socket(tmp_path):
    path = str(tmp_path / "absent.sock")
    done = subprocess.run(
        [sys.executable, "-m", "routerha.ctl.main", "--control", path, "status"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    assert path in done.stderr
