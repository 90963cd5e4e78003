"""The container lab (lab/containers.py): systemd router hosts Ansible reaches over SSH.

The default topology's layout (r1, r2 and a client on lan, r1 and r2 on wan and
sync) is brought up once for the module under its own prefix and management subnet
(``rht``, 172.31.249.0/24), so a developer's own ``default`` lab is left alone.
Building the base image on a new machine adds about 70 s to the first test.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from lab import containers
from lab.netlab import poll
from tests.lab.container_lab import (
    ANSIBLE,
    ansible,
    ansible_ping,
    isolated_topology,
    lab_inventory,
)

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(600)]

PREFIX = "rht"
R1_LAN, R2_LAN = "10.1.1.1", "10.1.1.2"
R2 = {"lan": R2_LAN, "lan6": "fd00:1:1::2", "wan": "198.51.100.2", "sync": "10.0.99.2"}

#: Receives one IP protocol 112 (VRRP) datagram sent to 224.0.0.18 on eth1; prints
#: its source and TTL (the IPv4 header comes with it on a raw socket).
RECEIVE = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton("224.0.0.18") + socket.inet_aton(sys.argv[1]))
s.settimeout(10)
data, (source, _) = s.recvfrom(2048)
print(source, data[8])
"""
#: Sends a VRRPv3 advertisement (VRID 51, priority 100, 1 s, VIP 10.1.1.254) to
#: 224.0.0.18 with TTL 255 from the given address, as a VRRP router would.
SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
advert = bytes([0x31, 51, 100, 1, 0x00, 100, 0, 0]) + socket.inet_aton("10.1.1.254")
s.sendto(advert, ("224.0.0.18", 0))
"""


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    yield from isolated_topology(
        tmp_path_factory, "default.yml", "pytest-default", PREFIX, "172.31.249.0/24"
    )


@pytest.fixture(scope="module")
def inventory(topology, tmp_path_factory):
    started = time.monotonic()
    path = lab_inventory(topology, tmp_path_factory)
    print(f"create took {time.monotonic() - started:.1f} s")
    return path


def pings(topology, source: str, address: str) -> bool:
    return containers.exec(topology, source, "ping", "-c1", "-W1", address).returncode == 0


def test_routers_run_systemd_and_start_with_forwarding(topology, inventory):
    for name in ("r1", "r2", "client"):
        state = containers.exec(topology, name, "systemctl", "is-system-running")
        assert state.stdout.strip() == "running", containers.status(topology).describe()
    for name in ("r1", "r2"):
        result = containers.exec(
            topology,
            name,
            "sysctl",
            "-n",
            "net.ipv4.ip_forward",
            "net.netfilter.nf_conntrack_events",
        )
        assert result.stdout.split() == ["1", "1"]
        # /proc/sys/net is writable, as on a router; the rest of /proc/sys is not.
        write = containers.exec(topology, name, "sysctl", "-w", "net.ipv4.conf.eth1.rp_filter=1")
        assert write.returncode == 0, write.stderr
        same = f"kernel.pid_max={Path('/proc/sys/kernel/pid_max').read_text().strip()}"
        assert containers.exec(topology, name, "sysctl", "-w", same).returncode != 0
    assert (
        containers.exec(topology, "client", "sysctl", "-n", "net.ipv4.ip_forward").stdout == "0\n"
    )
    route = containers.exec(topology, "client", "ip", "route", "show", "default")
    assert route.stdout.split()[:3] == ["default", "via", "10.1.1.254"]
    assert containers.status(topology).healthy


def test_ansible_reaches_every_host_over_ssh(inventory):
    text = inventory.read_text()
    assert "ansible_connection: ansible.builtin.ssh" in text
    assert "paramiko" not in text
    # No host-key setting from the environment: the inventory's own must do.
    result = ansible_ping(inventory, "all")
    assert result.returncode == 0, result.stdout + result.stderr
    for host in ("r1", "r2", "client"):
        assert f"{host} | SUCCESS" in result.stdout, result.stdout
    assert result.stdout.count("pong") == 3, result.stdout
    graph = subprocess.run(
        [str(ANSIBLE.with_name("ansible-inventory")), "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    groups = json.loads(graph.stdout)
    assert groups["routers"]["hosts"] == ["r1", "r2"]
    assert groups["clients"]["hosts"] == ["client"]
    assert groups["lab_pair"]["hosts"] == ["r1", "r2"]


def test_the_admin_logs_in_and_becomes_root_root_cannot_log_in(topology, inventory):
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    for name in ("r1", "r2", "client"):
        assert hosts[name]["ansible_user"] == containers.ADMIN
    assert hosts["r1"]["ansible_become"] is True and hosts["client"]["ansible_become"] is False
    who = ansible(inventory, "r1:client", "-m", "ansible.builtin.command", "-a", "id -un")
    assert who.returncode == 0, who.stdout + who.stderr
    assert re.search(r"^r1 \| CHANGED \| rc=0 >>\nroot$", who.stdout, re.M), who.stdout
    assert re.search(rf"^client \| CHANGED \| rc=0 >>\n{containers.ADMIN}$", who.stdout, re.M)
    plain = ansible(inventory, "r1", "-e", "ansible_become=false", "-a", "id -un")
    assert plain.stdout.splitlines()[-1] == containers.ADMIN, plain.stdout + plain.stderr
    # sshd refuses root, with the lab's key too.
    r1 = hosts["r1"]
    ssh = [
        "ssh", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes", *r1["ansible_ssh_common_args"].split(),
        "-i", r1["ansible_ssh_private_key_file"],
    ]  # fmt: skip

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ssh, *argv], capture_output=True, text=True, timeout=30, check=False
        )

    root = run(f"root@{r1['ansible_host']}", "true")
    assert root.returncode == 255 and "Permission denied" in root.stderr, root.stderr
    admin = run(f"{containers.ADMIN}@{r1['ansible_host']}", "sudo", "-n", "id", "-u")
    assert admin.stdout.strip() == "0", admin.stderr


def test_host_keys_are_checked(topology, inventory, tmp_path):
    """The inventory's known_hosts holds each container's own keys: r1 answering with
    another key (r2's, as a stranger at r1's address would) is refused."""
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    known = Path(re.search(r"UserKnownHostsFile=(\S+)", hosts["r1"]["ansible_ssh_common_args"])[1])
    r1, r2 = hosts["r1"]["ansible_host"], hosts["r2"]["ansible_host"]
    lines = known.read_text().splitlines()
    assert {line.split()[0] for line in lines} == {r1, r2, hosts["client"]["ansible_host"]}
    forged = tmp_path / "known_hosts"
    forged.write_text(
        "".join(f"{r1} {line.split(' ', 1)[1]}\n" for line in lines if line.startswith(f"{r2} "))
    )
    text = inventory.read_text().replace(str(known), str(forged))
    # Its own multiplexing sockets: an open connection would skip the host key check.
    text = re.sub(
        r"ansible_control_path_dir: .*", f'ansible_control_path_dir: "{tmp_path}/cp"', text
    )
    stranger = tmp_path / "inventory.yml"
    stranger.write_text(text)
    refused = ansible_ping(stranger, "r1")
    assert refused.returncode != 0
    assert "UNREACHABLE" in refused.stdout and "Host key verification failed" in refused.stdout, (
        refused.stdout
    )
    assert ansible_ping(inventory, "r1").returncode == 0


def test_r1_reaches_r2_on_every_segment(topology, inventory):
    for segment, address in R2.items():
        assert pings(topology, "r1", address), f"r1 cannot ping r2 on {segment} ({address})"


def test_vrrp_multicast_crosses_the_lan_bridge(topology, inventory):
    def receive() -> subprocess.CompletedProcess[str]:
        return containers.exec(topology, "r2", "python3", "-c", RECEIVE, R2_LAN, timeout=30)

    with ThreadPoolExecutor(1) as pool:
        received = pool.submit(receive)
        for _ in range(50):  # until the receiver has joined the group and got one
            containers.exec(topology, "r1", "python3", "-c", SEND, R1_LAN, check=True)
            if received.done():
                break
            time.sleep(0.2)
        result = received.result()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [R1_LAN, "255"]


def test_a_cut_port_takes_r1_off_the_lan_only(topology, inventory):
    containers.cut(topology, "r1", "lan")
    try:
        assert not pings(topology, "r2", R1_LAN)
        assert pings(topology, "r2", "198.51.100.1")
        assert containers.status(topology).cut_ports == ["r1-eth1"]
    finally:
        containers.restore(topology, "r1", "lan")
    poll(
        lambda: pings(topology, "r2", R1_LAN),
        10,
        message="r2 cannot reach r1 on lan after the restore",
    )


def test_create_again_finds_it_up(topology, inventory, capsys):
    started = time.monotonic()
    containers.create(topology)
    assert "already up and healthy" in capsys.readouterr().out
    assert time.monotonic() - started < 10


def test_destroy_leaves_nothing(topology, inventory):
    containers.destroy(topology)
    names = containers.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert [n for n in names if n.startswith(f"{PREFIX}-")] == []
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, check=True).stdout)
    assert [link["ifname"] for link in links if link["ifname"].startswith(f"{PREFIX}-")] == []
    assert not Path(f"/run/netns/{PREFIX}-sw").exists()
    assert not (containers.state_dir() / topology.name / "inventory.yml").exists()
    assert not containers.status(topology).exists
    containers.destroy(topology)  # nothing there: still fine
