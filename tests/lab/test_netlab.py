"""The lab harness itself: connectivity, multicast, cuts, raw sockets, teardown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.netlab import (
    NETNS_DIR,
    Capture,
    Lab,
    Periodic,
    cleanup_stale,
    poll,
    vrrp_send_socket,
)

pytestmark = [pytest.mark.root]

ROOT = Path(__file__).resolve().parents[2]


def pair(lab: Lab) -> None:
    lab.add_host("a", "10.7.0.1/24", "fd00:7::1/64")
    lab.add_host("b", "10.7.0.2/24", "fd00:7::2/64")


def reachable(lab: Lab, host: str, address: str) -> bool:
    return lab.run(host, "ping", "-c1", "-W1", "-i0.2", address, check=False).returncode == 0


def test_hosts_reach_each_other_over_ipv4_and_ipv6(lab):
    pair(lab)
    assert reachable(lab, "a", "10.7.0.2")
    assert reachable(lab, "a", "fd00:7::2")
    assert lab.link_local("a") != lab.link_local("b")
    assert "10.7.0.1/24" in lab.addresses("a")


def test_names_carry_the_pid(lab):
    pair(lab)
    assert lab.ns("a").startswith(f"rh{os.getpid()}-")
    assert (NETNS_DIR / lab.ns("a")).exists()


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def test_vrrp_multicast_crosses_the_bridge(lab, family):
    pair(lab)
    payload = (
        bytes.fromhex("3101c8010064") + bytes(2) + bytes(16 if family == socket.AF_INET6 else 4)
    )
    sock = vrrp_send_socket(lab, "a", family)
    with sock, Capture(lab, "b", family=family) as cap:
        if family == socket.AF_INET6:
            sock.sendto(payload, ("ff02::12", 0, 0, lab.ifindex("a")))
        else:
            header = bytes.fromhex("45c0") + (20 + len(payload)).to_bytes(2, "big")
            header += bytes.fromhex("00010000ff700000") + socket.inet_aton("10.7.0.1")
            header += socket.inet_aton("224.0.0.18")
            sock.sendto(header + payload, ("224.0.0.18", 0))
        got = cap.collect(1, 2.0)
    assert len(got) == 1
    datagram = got[0]
    assert datagram.hop_limit == 255
    assert datagram.ifindex == lab.ifindex("b")
    if family == socket.AF_INET6:
        assert datagram.src == lab.link_local("a")
        assert str(datagram.dst) == "ff02::12"
        assert datagram.data == payload
    else:
        assert str(datagram.src) == "10.7.0.1"
        assert str(datagram.dst) == "224.0.0.18"
        assert datagram.data[20:] == payload


@pytest.mark.parametrize("keep_carrier", [False, True], ids=["link-down", "silent"])
def test_cut_and_restore(lab, keep_carrier):
    pair(lab)
    lab.cut("a", keep_carrier=keep_carrier)
    assert not reachable(lab, "b", "10.7.0.1")
    carrier = "LOWER_UP" in lab.ip("a", "link", "show", "eth0").stdout
    assert carrier is keep_carrier
    lab.restore("a")
    poll(lambda: reachable(lab, "b", "10.7.0.1"), 5, message="no connectivity after restore")


def test_second_segment(lab):
    pair(lab)
    lab.add_host("a", "10.8.0.1/24", segment="wan", ifname="eth1")
    lab.add_host("c", "10.8.0.3/24", segment="wan")
    assert reachable(lab, "c", "10.8.0.1")
    assert not reachable(lab, "c", "10.7.0.2")  # no routing between segments
    lab.cut("a", "eth1")
    assert not reachable(lab, "c", "10.8.0.1")
    assert reachable(lab, "b", "10.7.0.1")


def test_popen_log_and_stop(lab):
    pair(lab)
    proc = lab.popen("a", "sh", "-c", "echo started; ip -o link show eth0; exec sleep 60")
    poll(lambda: "eth0" in proc.log(), 5, message=proc.log)
    assert proc.alive()
    assert proc.stop() == -signal.SIGTERM
    assert not proc.alive()


def test_periodic_reraises():
    def fail():
        raise ValueError("boom")

    periodic = Periodic(0.01, fail)
    time.sleep(0.05)
    with pytest.raises(ValueError, match="boom"):
        periodic.stop()


def test_teardown_after_a_failure_removes_everything(lab):
    with pytest.raises(RuntimeError), Lab() as inner:
        pair(inner)
        proc = inner.popen("a", "sleep", "60")
        names = [inner.ns("a"), inner.ns("b"), inner.ns(Lab.SWITCH)]
        lab_dir = inner.dir
        raise RuntimeError("a test failed")
    assert proc.popen.returncode is not None
    assert not any((NETNS_DIR / name).exists() for name in names)
    assert not lab_dir.exists()


def test_leftovers_of_a_killed_run_are_removed(lab):
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\n"
            "from lab.netlab import Lab\n"
            "lab = Lab()\n"
            "lab.add_host('a', '10.7.0.1/24')\n"
            "proc = lab.popen('a', 'sleep', '60')\n"
            "print(lab.prefix, proc.pid, lab.dir, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    prefix, pid, lab_dir = child.stdout.split()
    assert (NETNS_DIR / f"{prefix}a").exists(), child.stderr
    removed = cleanup_stale()
    assert f"{prefix}a" in removed
    assert not (NETNS_DIR / f"{prefix}a").exists()
    assert not Path(lab_dir).exists()
    poll(lambda: not Path(f"/proc/{pid}").exists(), 5, message=f"sleep {pid} survived")
