"""Appliance look-alikes in the container lab (lab/topologies/appliance.yml): VyOS 1.4
and EdgeOS 2.x hosts laid out by lab/appliance/layout.py.

The topology is brought up once for the module under its own prefix and management
subnet (``rhp``, 172.31.248.0/24), so a developer's own ``appliance`` lab is left
alone; it takes a few seconds once the base image exists.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from lab import containers
from routerha.model.native.config_boot import parse_config_boot
from tests.lab.container_lab import ansible, ansible_ping, isolated_topology, lab_inventory

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(600)]

PREFIX = "rhp"
CFG = "/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper"
OP = "/opt/vyatta/bin/vyatta-op-cmd-wrapper"


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    yield from isolated_topology(
        tmp_path_factory, "appliance.yml", "pytest-appliance", PREFIX, "172.31.248.0/24"
    )


@pytest.fixture(scope="module")
def inventory(topology, tmp_path_factory):
    return lab_inventory(topology, tmp_path_factory)


def run(topology, host: str, *argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return containers.exec(topology, host, *argv, **kwargs)


def configure(topology, host: str, commands: str) -> subprocess.CompletedProcess[str]:
    """A configuration script as a role runs it: one shell, in group vyattacfg."""
    return run(topology, host, "sg", "vyattacfg", "-c", f"W={CFG}\n{commands}")


def test_the_platforms_tell_who_they_are(topology, inventory):
    vyos = run(topology, "v1", "cat", "/etc/os-release").stdout
    assert 'NAME="VyOS"' in vyos and "ID=vyos" in vyos and 'VERSION_ID="1.4.0"' in vyos
    version = json.loads(run(topology, "v1", "cat", "/usr/share/vyos/version.json").stdout)
    assert version["version"] == "1.4.0"
    assert "VyOS 1.4.0" in run(topology, "v1", OP, "show", "version").stdout
    edge = run(topology, "e1", "cat", "/etc/os-release").stdout
    assert "ID=debian" in edge and 'VERSION_ID="9"' in edge and "stretch" in edge
    assert run(topology, "e1", "cat", "/etc/version").stdout.startswith("v2.0.9-hotfix")
    assert "v2.0.9-hotfix.7" in run(topology, "e1", OP, "show", "version").stdout
    for host in ("v1", "e1"):
        assert run(topology, host, "readlink", "/bin/vbash").stdout.strip() == "bash"
        boot = run(topology, host, "cat", "/config/config.boot").stdout
        assert f"host-name {host}" in boot
    assert containers.status(topology).healthy
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    assert hosts["v1"]["lab_appliance"] == "vyos-1.4"
    assert hosts["v1"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert hosts["e1"]["lab_appliance"] == "edgeos-2"
    assert "ansible_python_interpreter" not in hosts["e1"]
    assert "lab_appliance" not in hosts["client-v"]


def test_the_wrapper_configures_under_sg_vyattacfg(topology, inventory):
    refused = run(topology, "v1", CFG, "begin")
    assert refused.returncode == 1 and "not a member of group vyattacfg" in refused.stdout
    vyos = configure(
        topology,
        "v1",
        "$W begin && "
        "$W set high-availability vrrp group LAN vrid 10 && "
        "$W set high-availability vrrp group LAN interface eth1 && "
        "$W set high-availability vrrp group LAN address 10.30.1.254/24 && "
        "$W commit && $W save && $W end",
    )
    assert vyos.returncode == 0, vyos.stdout + vyos.stderr
    commands = run(topology, "v1", OP, "show", "configuration", "commands").stdout
    assert "set high-availability vrrp group LAN vrid '10'\n" in commands
    assert "set interfaces ethernet eth1 address '10.30.1.1/24'\n" in commands
    saved = parse_config_boot(run(topology, "v1", "cat", "/config/config.boot").stdout)
    assert saved.groups["LAN"].vrid == 10
    edge = configure(
        topology,
        "e1",
        "$W begin && "
        "$W set interfaces ethernet eth1 vrrp vrrp-group 20 virtual-address 10.40.1.254/24 && "
        "$W commit && $W save && $W end",
    )
    assert edge.returncode == 0, edge.stdout + edge.stderr
    saved = parse_config_boot(run(topology, "e1", "cat", "/config/config.boot").stdout)
    assert saved.groups["eth1-20"].vrid == 20
    bad = configure(topology, "e1", "$W begin; $W set interfaces ethernet eth1 vrrp vrrp-group 0")
    assert bad.returncode == 1 and "Set failed" in bad.stdout
    log = run(topology, "e1", "cat", "/var/log/vyatta-fake/sessions.jsonl").stdout
    entries = [json.loads(line) for line in log.splitlines()]
    ops = ["begin", "set", "commit", "save", "end", "begin", "set"]
    assert [(e["op"], e["status"]) for e in entries[-7:]] == [(op, 0) for op in ops[:-1]] + [
        ("set", 1)
    ]
    assert entries[-1]["words"][-1] == "0" and "Set failed" in entries[-1]["error"]


def test_the_platforms_admins_log_in_and_configure_without_become(topology, inventory):
    """Ansible logs in as vyos / ubnt (in group vyattacfg), as on the platforms, and
    their configuration sessions need no sudo; VyOS's login may become root."""
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    assert (hosts["v1"]["ansible_user"], hosts["v1"]["ansible_become"]) == ("vyos", True)
    assert (hosts["e1"]["ansible_user"], hosts["e1"]["ansible_become"]) == ("ubnt", False)
    for host, user in (("v1", "vyos"), ("e1", "ubnt")):
        who = ansible(inventory, host, "-e", "ansible_become=false", "-m", "raw", "-a", "id -Gn")
        assert who.returncode == 0, who.stdout + who.stderr
        assert who.stdout.splitlines()[1].split()[:1] == [user] and "vyattacfg" in who.stdout
        session = (
            f"sg vyattacfg -c 'W={CFG}; $W begin && "
            f"$W set system host-name by-{user} && $W commit && $W end'"
        )
        done = ansible(inventory, host, "-e", "ansible_become=false", "-m", "raw", "-a", session)
        assert done.returncode == 0, done.stdout + done.stderr
        commands = run(topology, host, OP, "show", "configuration", "commands").stdout
        assert f"set system host-name 'by-{user}'" in commands
        entry = json.loads(
            run(topology, host, "tail", "-1", "/var/log/vyatta-fake/sessions.jsonl").stdout
        )
        assert entry["op"] == "end" and entry["uid"] != 0
        restore = configure(
            topology, host, f"$W begin && $W set system host-name {host} && $W commit && $W end"
        )
        assert restore.returncode == 0, restore.stdout
    root = ansible(inventory, "v1", "-m", "command", "-a", "id -u")
    assert root.stdout.splitlines()[-1] == "0", root.stdout + root.stderr


def test_python_on_edgeos_says_3_5_and_runs_nothing(topology, inventory):
    version = run(topology, "e1", "python3", "--version")
    assert (version.returncode, version.stdout) == (0, "Python 3.5.3\n")
    refused = run(topology, "e1", "python3", "-c", "print(1)")
    assert refused.returncode == 1 and "3.5" in refused.stderr and refused.stdout == ""
    assert run(topology, "e1", "sh", "-c", "command -v python3.11").returncode != 0
    assert run(topology, "v1", "python3", "-c", "print(1)").stdout == "1\n"
    result = ansible_ping(inventory, "v1:e1")
    assert "v1 | SUCCESS" in result.stdout, result.stdout
    assert "e1 | FAILED" in result.stdout and "Python 3.5.3" in result.stdout, result.stdout


def test_the_boot_unit_loads_the_saved_config_and_runs_the_hooks(topology, inventory):
    hook = '#!/bin/sh\necho "$(cat /proc/uptime)" >> /run/hook-ran\n'
    write = 'cat > "$1" && chmod 755 "$1"'
    for host, path, unit in (
        ("v2", "/config/scripts/vyos-postconfig-bootup.script", "vyos-router.service"),
        ("e2", "/config/scripts/post-config.d/10-mark.sh", "vyatta-router.service"),
    ):
        assert run(topology, host, "sh", "-c", write, "sh", path, input=hook).returncode == 0
        # Committed, not saved: a boot goes back to config.boot.
        changed = configure(
            topology, host, "$W begin && $W set system host-name unsaved && $W commit && $W end"
        )
        assert changed.returncode == 0, changed.stdout
        started = run(topology, host, "systemctl", "start", unit)
        assert started.returncode == 0, started.stderr
        assert len(run(topology, host, "cat", "/run/hook-ran").stdout.splitlines()) == 1
        commands = run(topology, host, OP, "show", "configuration", "commands").stdout
        assert f"set system host-name '{host}'\n" in commands
        run(topology, host, "rm", "-f", "/run/hook-ran")
        enabled = run(topology, host, "systemctl", "is-enabled", unit).stdout.strip()
        assert enabled == "enabled"


def test_status_sees_a_missing_layout(topology, inventory):
    launcher = run(topology, "v2", "cat", CFG).stdout
    run(topology, "v2", "rm", CFG, check=True)
    try:
        node = containers.status(topology).nodes["v2"]
        assert any("not laid out as a vyos-1.4 appliance" in p for p in node.problems)
    finally:
        write = f"cat > {CFG} && chmod 755 {CFG}"
        run(topology, "v2", "sh", "-c", write, input=launcher, check=True)
    assert containers.status(topology).healthy


def test_destroy_leaves_nothing(topology, inventory):
    containers.destroy(topology)
    names = containers.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert [n for n in names if n.startswith(f"{PREFIX}-")] == []
