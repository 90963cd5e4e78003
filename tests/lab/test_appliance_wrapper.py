"""The appliance fakes (lab/appliance/) on the host, no root: the configuration wrapper
run as a CLI by a shell script (so a session really belongs to its parent shell),
with ``VYATTA_FAKE_ROOT`` at a temporary directory; the op wrapper; layout.py under a
test root."""

from __future__ import annotations

import grp
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab import containers
from lab.appliance import fake_op, fake_wrapper, layout
from lab.netlab import poll
from routerha.model.native.config_boot import interface_addresses, parse_config_boot
from routerha.model.native.vyos_set import parse_set_lines

HERE = Path(fake_wrapper.__file__).resolve().parent
WRAPPER = HERE / "fake_wrapper.py"
OP = HERE / "fake_op.py"

LAN_GROUP = [
    "set high-availability vrrp group LAN vrid 10",
    "set high-availability vrrp group LAN interface eth1",
    "set high-availability vrrp group LAN address 10.30.1.254/24",
    "set high-availability vrrp group LAN priority 200",
]


def make_root(tmp_path: Path, syntax: str = "vyos") -> Path:
    root = tmp_path / "appliance"
    (root / "etc").mkdir(parents=True)
    platform = "vyos-1.4" if syntax == "vyos" else "edgeos-2"
    conf = {"syntax": syntax, "platform": platform, "version": "1.4.0"}
    (root / "etc/vyatta-fake.conf").write_text(json.dumps(conf))
    return root


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VYATTA_FAKE_")}
    env.update({"VYATTA_FAKE_ROOT": str(root), "VYATTA_FAKE_GROUP_CHECK": "0", **extra})
    return env


def script(root: Path, *commands: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """One shell runs ``commands`` (wrapper ops, shell-quoted), each as a child of it,
    as a role's script would; every call's output ends with ``[rc=N]``."""
    lines = [
        'echo "[shell=$$]"',
        f'W() {{ "{sys.executable}" "{WRAPPER}" "$@"; echo "[rc=$?]"; }}',
        *(f"W {command}" for command in commands),
    ]
    return subprocess.run(
        ["bash", "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        env=env_for(root, **extra),
        timeout=60,
        check=True,
    )


def calls(result: subprocess.CompletedProcess[str]) -> list[tuple[str, int]]:
    """(output, exit status) of each call of ``script``."""
    body = result.stdout.split("\n", 1)[1]  # after [shell=PID]
    parts = re.split(r"\[rc=(\d+)\]\n", body)
    return [(parts[i], int(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]


def statuses(result: subprocess.CompletedProcess[str]) -> list[int]:
    return [status for _output, status in calls(result)]


def running(root: Path) -> str:
    return (root / "var/lib/vyatta-fake/running.set").read_text()


def log(root: Path) -> list[dict]:
    return fake_wrapper.read_log(fake_wrapper.Paths(root))


def test_a_session_commits_and_saves_what_routerha_parses_back(tmp_path):
    root = make_root(tmp_path)
    result = script(
        root,
        "begin",
        "set interfaces ethernet eth1 address 10.30.1.1/24",
        "set interfaces ethernet eth1 address fd00:30:1::1/64",
        "set interfaces ethernet eth1 description 'LAN side'",
        "set system host-name v1",
        *LAN_GROUP,
        "set high-availability vrrp group LAN priority 150",  # a single value: replaced
        "set high-availability vrrp group LAN no-preempt",
        "set service conntrack-sync interface eth2 peer 10.0.103.2",
        "set service conntrack-sync accept-protocol tcp",
        "set service conntrack-sync accept-protocol udp",
        "set service conntrack-sync failover-mechanism vrrp sync-group SYNC",
        "set high-availability vrrp sync-group SYNC member LAN",
        "commit",
        "commit",
        "save",
        "end",
    )
    assert set(statuses(result)) == {0}, result.stdout
    assert "No configuration changes to commit" in result.stdout  # the second commit
    assert "Saving configuration to '/config/config.boot'" in result.stdout

    boot = (root / "config/config.boot").read_text()
    config = parse_config_boot(boot, "config.boot")
    group = config.groups["LAN"]
    assert (group.vrid, group.interface, group.priority, group.preempt) == (10, "eth1", 150, False)
    assert [str(a) for a in group.address] == ["10.30.1.254/24"]
    assert config.sync_groups["SYNC"].member == ("LAN",)
    assert config.conntrack_sync.interface == "eth2"
    assert config.conntrack_sync.accept_protocol == ("tcp", "udp")
    assert interface_addresses(boot) == {"eth1": ["10.30.1.1/24", "fd00:30:1::1/64"]}
    # VyOS 1.4's shapes: tag nodes open a block, leaves are "key value", multi repeated.
    assert "        group LAN {\n" in boot
    assert "            address 10.30.1.254/24 {\n" in boot
    assert '        description "LAN side"\n' in boot
    assert boot.count("accept-protocol") == 2
    assert "// vyos-config-version:" in boot

    # The running config: set lines as `show configuration commands` prints them.
    text = running(root)
    assert "set high-availability vrrp group LAN priority '150'\n" in text
    assert "priority '200'" not in text
    assert "set high-availability vrrp group LAN no-preempt\n" in text
    assert "set high-availability vrrp group LAN address 10.30.1.254/24\n" in text
    assert parse_set_lines(text, "running.set") == config
    shown = fake_op.run(["show", "configuration", "commands"], fake_wrapper.Paths(root))
    assert shown == text
    assert not (root / "var/lib/vyatta-fake/sessions").exists() or not any(
        (root / "var/lib/vyatta-fake/sessions").iterdir()
    )


def test_a_value_the_schema_rejects_fails_and_leaves_the_working_copy(tmp_path):
    root = make_root(tmp_path)
    result = script(
        root,
        "begin",
        *LAN_GROUP,
        "show",
        "set high-availability vrrp group LAN vrid 300",
        "set high-availability vrrp group LAN bogus 1",
        "set service conntrack-sync interface eth2 port 70000",
        "show",
        "set system anything-goes here",  # outside the schema's subtrees: unchecked
    )
    outputs = calls(result)
    assert statuses(result) == [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0], result.stdout
    before, after = outputs[5][0], outputs[9][0]
    assert before == after and "vrid '10'" in before
    failures = [output for output, status in outputs if status]
    assert "'300'" in failures[0] and "1-255" in failures[0]  # the value and the rule
    assert failures[0].endswith("\n\nSet failed\n")
    assert "bogus" in failures[1] and "Set failed" in failures[1]
    assert "70000" in failures[2]
    errors = [entry["error"] for entry in log(root) if entry["status"]]
    assert len(errors) == 3 and all(e.endswith("Set failed") for e in errors)


def test_delete_must_match_the_configuration(tmp_path):
    root = make_root(tmp_path)
    result = script(
        root,
        "begin",
        *LAN_GROUP,
        "set interfaces ethernet eth1 address 10.30.1.1/24",
        "set interfaces ethernet eth1 address 10.30.1.9/24",
        "commit",
        "delete high-availability vrrp group WAN",
        "delete interfaces ethernet eth1 address 10.99.0.1/24",
        "delete high-availability vrrp group LAN bogus",
        "delete interfaces ethernet eth1 address 10.30.1.9/24",
        "delete high-availability vrrp group LAN",
        "show",
    )
    assert statuses(result) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0], result.stdout
    assert result.stdout.count("Nothing to delete") == 2
    assert "bogus" in calls(result)[10][0]  # the schema checks delete paths too
    shown = calls(result)[-1][0]
    # Only that value went; the group's subtree went and nothing is left empty above it.
    assert shown == "set interfaces ethernet eth1 address '10.30.1.1/24'\n"


def test_commit_needs_a_session_of_the_same_shell(tmp_path):
    root = make_root(tmp_path)
    alone = script(root, "commit", "set system host-name x", "end")
    assert statuses(alone) == [1, 1, 1]
    assert "no configuration session for process" in alone.stdout
    opened = script(root, "begin", "begin", "set system host-name x")  # exits without end
    assert statuses(opened) == [0, 1, 0]
    assert "already open" in opened.stdout
    # Another shell has no session; the one left by the dead shell is dropped.
    other = script(root, "commit", "begin", "show", "end")
    assert statuses(other) == [1, 0, 0, 0]
    assert "host-name" not in other.stdout
    assert [p.name for p in (root / "var/lib/vyatta-fake/sessions").iterdir()] == []


def test_only_members_of_the_group_may_configure(tmp_path):
    root = make_root(tmp_path)
    mine = grp.getgrgid(os.getegid()).gr_name
    ours = {os.getegid(), os.getgid(), *os.getgroups()}
    foreign = next((g.gr_name for g in grp.getgrall() if g.gr_gid not in ours), None)

    def begin(**extra: str) -> subprocess.CompletedProcess[str]:
        env = {"VYATTA_FAKE_GROUP_CHECK": "1", **extra}
        return script(root, "begin", "end", **env)

    missing = begin(VYATTA_FAKE_GROUP="routerha-no-such-group")
    assert statuses(missing) == [1, 1]
    assert "group routerha-no-such-group does not exist" in missing.stdout
    if foreign is not None:
        refused = begin(VYATTA_FAKE_GROUP=foreign)
        assert statuses(refused) == [1, 1]
        assert f"not a member of group {foreign}" in refused.stdout
        assert f"sg {foreign} -c" in refused.stdout
    assert statuses(begin(VYATTA_FAKE_GROUP=mine)) == [0, 0]
    # By default the group is vyattacfg, looked up by GID.
    default = begin()
    try:
        member = grp.getgrnam("vyattacfg").gr_gid in ours
    except KeyError:
        member = False
    assert statuses(default) == ([0, 0] if member else [1, 1])
    refusals = [e for e in log(root) if e["status"] and e["op"] == "begin"]
    assert all("group" in e["error"] for e in refusals)


def test_an_unconfirmed_commit_confirm_rolls_back(tmp_path):
    root = make_root(tmp_path)
    script(root, "begin", "set system host-name before", "commit", "end")
    result = script(
        root,
        "begin",
        "set system host-name after",
        "commit-confirm 1",
        "end",
        VYATTA_FAKE_SECONDS_PER_MINUTE="0.5",
    )
    assert statuses(result) == [0, 0, 0, 0], result.stdout
    assert "rolled back in 1 minute(s) unless confirmed" in result.stdout
    assert "host-name 'after'" in running(root)
    poll(
        lambda: "host-name 'before'" in running(root),
        15.0,
        interval=0.1,
        message=lambda: running(root),
    )
    assert not (root / "var/lib/vyatta-fake/commit-confirm.json").exists()
    assert [e["op"] for e in log(root)][-1] == "rollback"
    assert statuses(script(root, "confirm")) == [1]  # nothing pending any more


def test_a_confirmed_commit_confirm_stays(tmp_path):
    root = make_root(tmp_path)
    script(root, "begin", "set system host-name before", "commit", "end")
    result = script(
        root,
        "begin",
        "set system host-name after",
        "commit-confirm 1",
        "commit-confirm 1",
        "confirm",
        "confirm",
        "end",
        VYATTA_FAKE_SECONDS_PER_MINUTE="0.5",
    )
    assert statuses(result) == [0, 0, 0, 1, 0, 1, 0], result.stdout
    assert "is pending" in result.stdout and "No confirmation required" in result.stdout
    pending = [e for e in log(root) if e["op"] == "commit-confirm" and e["status"] == 0]
    assert len(pending) == 1
    time.sleep(1.5)  # three times the shortened minute
    assert "host-name 'after'" in running(root)
    assert "rollback" not in [e["op"] for e in log(root)]


def test_the_log_records_every_call(tmp_path):
    root = make_root(tmp_path)
    result = script(
        root,
        "begin",
        "set system host-name 'a b'",
        "delete system domain-name",
        "frobnicate now",
        "discard",
        "end",
    )
    shell = int(result.stdout.split("[shell=")[1].split("]")[0])
    entries = log(root)
    assert [(e["op"], e["words"], e["status"]) for e in entries] == [
        ("begin", [], 0),
        ("set", ["system", "host-name", "a b"], 0),
        ("delete", ["system", "domain-name"], 1),
        ("frobnicate", ["now"], 1),
        ("discard", [], 0),
        ("end", [], 0),
    ]
    assert {e["ppid"] for e in entries} == {shell}
    assert entries[2]["error"].startswith("Nothing to delete")
    assert entries[3]["error"].startswith("Invalid command: frobnicate")
    assert all(e["error"] is None for e in entries if e["status"] == 0)
    assert all(e["time"].endswith("Z") and e["uid"] == os.getuid() for e in entries)


def test_vyatta_syntax_interfaces_vrrp(tmp_path):
    root = make_root(tmp_path, "vyatta")
    base = "set interfaces ethernet eth1 vrrp vrrp-group 10"
    result = script(
        root,
        "begin",
        "set interfaces ethernet eth1 address 10.40.1.1/24",
        f"{base} virtual-address 10.40.1.254/24",
        f"{base} priority 200",
        f"{base} sync-group SYNC",
        f"{base} rfc3768-compatibility",
        "set interfaces ethernet eth1 vrrp vrrp-group 300 priority 200",
        "set service conntrack-sync interface eth2",  # no EdgeOS schema for it: unchecked
        "set service conntrack-sync failover-mechanism vrrp sync-group SYNC",
        "commit",
        "save",
        "end",
    )
    assert statuses(result) == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], result.stdout
    boot = (root / "config/config.boot").read_text()
    config = parse_config_boot(boot, "config.boot")
    group = config.groups["eth1-10"]
    assert (group.vrid, group.priority, group.rfc3768_compatibility) == (10, 200, True)
    assert [str(a) for a in group.address] == ["10.40.1.254/24"]
    assert "            vrrp-group 10 {\n" in boot
    assert "vyatta-config-version" in boot
    assert "set interfaces ethernet eth1 vrrp vrrp-group 10 priority '200'\n" in running(root)
    assert "set service conntrack-sync interface 'eth2'\n" in running(root)
    assert config.conntrack_sync.interface == "eth2"


def test_the_op_wrapper(tmp_path):
    root = make_root(tmp_path)
    script(root, "begin", *LAN_GROUP, "commit", "end")
    env = env_for(root)

    def op(*words: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(OP), *words]
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)

    commands = op("show", "configuration", "commands")
    assert commands.returncode == 0
    assert "set high-availability vrrp group LAN vrid '10'\n" in commands.stdout
    curly = op("show", "configuration")
    assert curly.returncode == 0
    assert parse_config_boot(curly.stdout).groups["LAN"].priority == 200
    invalid = op("show", "interfaces", "bogus")
    assert invalid.returncode == 1 and "Invalid command" in invalid.stdout


def test_in_process_calls(tmp_path, monkeypatch):
    root = make_root(tmp_path)
    paths = fake_wrapper.Paths(root)
    me = os.getpid()  # a live process stands for the calling shell
    monkeypatch.setenv("VYATTA_FAKE_GROUP_CHECK", "0")
    assert fake_wrapper.call("begin", paths=paths, ppid=me) == (0, "")
    assert fake_wrapper.call("set", ["system", "host-name", "x"], paths=paths, ppid=me)[0] == 0
    assert fake_wrapper.call("show", paths=paths, ppid=me) == (0, "set system host-name 'x'\n")
    assert fake_wrapper.call("end", paths=paths, ppid=me)[0] == 0
    assert [e["ppid"] for e in log(root)] == [os.getppid()] * 4  # the log names the caller


@pytest.mark.parametrize("kind", sorted(layout.KINDS))
def test_layout_under_a_test_root(tmp_path, kind):
    root = tmp_path / "rootfs"
    spec = {
        "hostname": "r9",
        "interfaces": [
            {"name": "eth0", "mac": "02:00:00:00:00:01", "addresses": ["172.31.252.9/24"]},
            {"name": "eth1", "mac": "02:00:00:00:00:02", "addresses": ["10.30.1.9/24"]},
        ],
    }
    layout.build(kind, spec, root)
    layout.build(kind, spec, root)  # idempotent
    boot = (root / "config/config.boot").read_text()
    assert interface_addresses(boot) == {"eth0": ["172.31.252.9/24"], "eth1": ["10.30.1.9/24"]}
    assert parse_config_boot(boot).groups == {}
    assert "set system host-name 'r9'\n" in running(root)
    for launcher in (
        "opt/vyatta/sbin/vyatta-cfg-cmd-wrapper",
        "opt/vyatta/bin/vyatta-op-cmd-wrapper",
    ):
        text = (root / launcher).read_text()
        assert text.startswith("#!/bin/sh") and "exec /usr/lib/routerha-appliance/python3" in text
    assert (root / "usr/lib/routerha-appliance/kind").read_text() == f"{kind}\n"
    assert os.readlink(root / "bin/vbash") == "bash"
    os_release = (root / "etc/os-release").read_text()
    unit_dir = root / "etc/systemd/system/multi-user.target.wants"
    if kind == "vyos-1.4":
        assert 'NAME="VyOS"' in os_release and 'VERSION_ID="1.4.0"' in os_release
        version = json.loads((root / "usr/share/vyos/version.json").read_text())
        assert version["version"] == "1.4.0"
        post = (root / "config/scripts/vyos-postconfig-bootup.script").read_text()
        assert "executed at boot time after VyOS configuration is fully applied" in post
        assert (unit_dir / "vyos-router.service").is_symlink()
    else:
        assert "ID=debian" in os_release and 'VERSION_ID="9"' in os_release
        assert (root / "etc/version").read_text().startswith("v2.0.9")
        assert (root / "config/scripts/post-config.d").is_dir()
        assert (unit_dir / "vyatta-router.service").is_symlink()
        shim = root / "usr/bin/python3"
        answer = subprocess.run(
            [str(shim), "--version"], capture_output=True, text=True, check=False
        )
        assert answer.stdout == "Python 3.5.3\n"
        refused = subprocess.run(
            [str(shim), "-c", "1"], capture_output=True, text=True, check=False
        )
        assert refused.returncode == 1 and "3.5" in refused.stderr


def test_topologies_name_appliances_and_the_inventory_follows(tmp_path):
    topo = containers.load("appliance")
    kinds = {name: c.appliance for name, c in topo.containers.items()}
    assert kinds == {
        "v1": "vyos-1.4",
        "v2": "vyos-1.4",
        "e1": "edgeos-2",
        "e2": "edgeos-2",
        "client-v": None,
    }
    assert topo.groups()["vyos_pair"] == ["v1", "v2"]
    assert topo.groups()["edge_pair"] == ["e1", "e2"]
    hosts = yaml.safe_load(containers.render_inventory(topo, tmp_path / "key"))["all"]["hosts"]
    assert hosts["v1"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert hosts["v1"]["lab_appliance"] == "vyos-1.4"
    assert "ansible_python_interpreter" not in hosts["e2"]
    assert hosts["e2"]["lab_appliance"] == "edgeos-2"
    assert "lab_appliance" not in hosts["client-v"]
    # The platforms' admins log in; only VyOS (routerhad) escalates; OpenSSH everywhere.
    logins = {name: (h["ansible_user"], h["ansible_become"]) for name, h in hosts.items()}
    assert logins == {
        "v1": ("vyos", True),
        "v2": ("vyos", True),
        "e1": ("ubnt", False),
        "e2": ("ubnt", False),
        "client-v": (containers.ADMIN, False),
    }
    assert {h["ansible_connection"] for h in hosts.values()} == {"ansible.builtin.ssh"}
    for name in ("default", "multisite"):  # unchanged
        assert all(c.appliance is None for c in containers.load(name).containers.values())

    text = (containers.TOPOLOGIES / "appliance.yml").read_text()
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("appliance: vyos-1.4", "appliance: vyos-1.3", 1))
    message = "container v1: appliance must be one of vyos-1.4, edgeos-2, not 'vyos-1.3'"
    with pytest.raises(containers.LabError, match=re.escape(message)):
        containers.load(bad)
    client = tmp_path / "client.yml"
    client.write_text(text.replace("kind: client", "kind: client\n    appliance: edgeos-2"))
    with pytest.raises(containers.LabError, match="only a router can be an appliance"):
        containers.load(client)
