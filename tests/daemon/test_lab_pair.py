"""Two routerhad in network namespaces joined by a bridge, and a client.

An election, a failover when the master's link is cut, the client reaching the
virtual address throughout, and a clean stop that removes the address.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is not installed"),
]

PREFIX = f"rhd{os.getpid() % 100000}"
HOSTS = {"r1": "10.1.1.1/24", "r2": "10.1.1.2/24", "cl": "10.1.1.25/24"}


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


def ns(host):
    return f"{PREFIX}-{host}"


@pytest.fixture
def lab(tmp_path):
    names = [ns("sw"), *(ns(h) for h in HOSTS)]
    procs = []
    try:
        for name in names:
            sh("ip", "netns", "add", name)
        sh("ip", "-n", ns("sw"), "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns("sw"), "link", "set", "br0", "up")
        for host, address in HOSTS.items():
            sh(
                "ip",
                "link",
                "add",
                "eth0",
                "netns",
                ns(host),
                "type",
                "veth",
                "peer",
                "name",
                f"p-{host}",
                "netns",
                ns("sw"),
            )
            sh("ip", "-n", ns("sw"), "link", "set", f"p-{host}", "master", "br0", "up")
            sh("ip", "-n", ns(host), "link", "set", "lo", "up")
            sh("ip", "-n", ns(host), "link", "set", "eth0", "up")
            sh("ip", "-n", ns(host), "addr", "add", address, "dev", "eth0")
        yield {"dir": tmp_path, "procs": procs}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for name in names:
            sh("ip", "netns", "del", name, check=False)


def start(lab, host, priority):
    group = {
        "interface": "eth0",
        "vrid": 1,
        "version": 3,
        "advertise_interval": 0.1,
        "priority": priority,
        "address": ["10.1.1.5/24"],
    }
    conf = lab["dir"] / f"{host}.json"
    conf.write_text(json.dumps({"vrrp": {"groups": {"LAN": group}}}))
    log = open(lab["dir"] / f"{host}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns(host),
            sys.executable,
            "-m",
            "routerha.daemon.main",
            "--config",
            str(conf),
            "--control",
            str(lab["dir"] / f"{host}.sock"),
            "--pidfile",
            str(lab["dir"] / f"{host}.pid"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    lab["procs"].append(proc)
    return proc


def status(lab, host):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "routerha.ctl.main",
            "--control",
            str(lab["dir"] / f"{host}.sock"),
            "status",
            "--json",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)["groups"][0]


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def state(lab, host):
    found = status(lab, host)
    return found and found["state"]


def has_vip(host):
    return "10.1.1.5/24" in sh("ip", "-n", ns(host), "addr", "show", "eth0").stdout


def client_reaches_vip():
    return (
        sh(
            "ip", "netns", "exec", ns("cl"), "ping", "-c", "1", "-W", "1", "10.1.1.5", check=False
        ).returncode
        == 0
    )


def logs(lab):
    return "\n".join(
        (lab["dir"] / f"{h}.log").read_text()
        for h in ("r1", "r2")
        if (lab["dir"] / f"{h}.log").exists()
    )


@pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) is not installed")
def test_election_failover_preemption_and_clean_stop(lab):
    r1 = start(lab, "r1", 200)
    start(lab, "r2", 100)
    wait_for(lambda: state(lab, "r1") == "MASTER" and state(lab, "r2") == "BACKUP", what="election")
    assert has_vip("r1") and not has_vip("r2"), logs(lab)
    assert wait_for(client_reaches_vip, what="client reaches the virtual address")
    # Cut the master's link at the switch: the backup takes over.
    sh("ip", "-n", ns("sw"), "link", "set", "p-r1", "down")
    wait_for(lambda: state(lab, "r2") == "MASTER", timeout=5, what="takeover")
    assert wait_for(client_reaches_vip, what="client reaches the virtual address after takeover")
    # The link returns: r1 (priority 200) preempts.
    sh("ip", "-n", ns("sw"), "link", "set", "p-r1", "up")
    wait_for(
        lambda: state(lab, "r1") == "MASTER" and state(lab, "r2") == "BACKUP", what="preemption"
    )
    counters = status(lab, "r2")["counters"]
    assert counters["adverts_received"] > 0 and counters["transitions"] >= 3
    # A clean stop: priority 0, address removed, r2 takes over at once (Skew_Time).
    r1.terminate()
    assert r1.wait(timeout=10) == 0, logs(lab)
    assert not has_vip("r1")
    wait_for(lambda: state(lab, "r2") == "MASTER", timeout=2, what="takeover after priority 0")
