"""The rollout as AWX and AAP run it: ansible-runner on a private data directory.

The directory is laid out as AWX builds it for a job (env/, inventory/, project/):
the inventory, and what a machine credential and a job template add as AWX passes
them (env/ssh_key, loaded into ssh-agent by the runner; the login user and
``--become`` on the command line in env/cmdline; env/envvars; env/extravars). The
project's playbook imports ``routerha.cluster.rollout`` by its collection name,
since an AWX job template runs a playbook file of its project. The collection is
installed from the built tarball into the directory's collections path, the way an
execution environment holds it, and ansible-runner runs in a cached virtual
environment that has only the declared controller requirements (requirements.txt)
besides ansible-core and ansible-runner: nothing from this checkout's .venv.

The routers are the ``default`` container lab under this test's own prefix and
management subnet, reached over OpenSSH as the non-root admin user with sudo. A
second job with AWX's job tags ``config,verify`` then runs on the deployed lab."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import containers
from tests.lab.container_lab import isolated_topology, lab_inventory

from .conftest import ROOT

pytestmark = [pytest.mark.root, pytest.mark.slow]

RUNNER = "ansible-runner==2.4.3"
#: The ansible-core the runner's environment has: the pinned one (molecule default
#: runs the newest, 2.21, over the same connection).
ANSIBLE_CORE = "2.19"
ROUTERS = ("r1", "r2")
#: The planned master of every group of molecule/default's inventory: r1 has
#: routerha_preference 1, and LAN and WAN are one sync group.
PLANNED_MASTERS = {"LAN": "r1", "WAN": "r1"}
#: Connection settings a machine credential gives in AWX, not the inventory.
CREDENTIAL_VARS = ("ansible_user", "ansible_ssh_private_key_file", "ansible_become")


@pytest.fixture(scope="module")
def runner_venv() -> Path:
    made = subprocess.run(
        [str(ROOT / "scripts/ansible-venv"), ANSIBLE_CORE, RUNNER],
        capture_output=True, text=True, check=False, timeout=1200,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    venv = Path(made.stdout.strip())
    installed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    names = {p["name"].lower() for p in json.loads(installed)}
    # Only the declared requirements, what they pull in, and the runner: no
    # netaddr, no molecule, nothing this checkout's .venv has for its tests.
    assert {"ansible-core", "pyroute2", "ansible-runner"} <= names
    assert not names & {"netaddr", "molecule", "ansible-lint", "pytest"}, names
    return venv


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Iterator[containers.Topology]:
    yield from isolated_topology(
        tmp_path_factory, "default.yml", "rx1-runner", "rx1", "172.31.241.0/24"
    )


def _private_data_dir(base: Path, lab: dict[str, Any], venv: Path) -> Path:
    """AWX's layout for one job, with the collection installed from its tarball."""
    pdd = base / "job"
    for sub in ("env", "inventory", "project"):
        (pdd / sub).mkdir(parents=True)
    built = base / "built"
    galaxy = str(venv / "bin/ansible-galaxy")
    # Away from the checkout's ansible.cfg, whose collections path holds the checkout.
    subprocess.run(
        [galaxy, "collection", "build", "--output-path", str(built), str(ROOT)],
        capture_output=True, text=True, check=True, timeout=300, cwd=base,
    )  # fmt: skip
    (tarball,) = built.glob("routerha-cluster-*.tar.gz")
    collections = pdd / "requirements_collections"
    subprocess.run(
        [galaxy, "collection", "install", "--force", "-p", str(collections), str(tarball)],
        capture_output=True, text=True, check=True, timeout=300, cwd=base,
    )  # fmt: skip

    # The inventory: molecule default's cluster, and the lab's hosts as an AWX
    # inventory has them (address, connection and host-key settings), the user,
    # key and become being the credential's.
    shutil.copytree(ROOT / "molecule/default/inventory", pdd / "inventory", dirs_exist_ok=True)
    hosts = {
        name: {k: v for k, v in variables.items() if k not in CREDENTIAL_VARS}
        for name, variables in lab["all"]["hosts"].items()
        if name in ROUTERS
    }
    for variables in hosts.values():
        # The credential's key is in ssh-agent, not a file ssh could name.
        variables["ansible_ssh_common_args"] = variables["ansible_ssh_common_args"].replace(
            " -o IdentitiesOnly=yes", ""
        )
    children = {"lab_pair": {"hosts": dict.fromkeys(ROUTERS)}}
    (pdd / "inventory/lab.yml").write_text(
        yaml.safe_dump({"all": {"hosts": hosts, "children": children}})
    )

    first = lab["all"]["hosts"][ROUTERS[0]]
    key = Path(first["ansible_ssh_private_key_file"]).read_text()
    (pdd / "env/ssh_key").write_text(key)
    (pdd / "env/cmdline").write_text(f"-u {first['ansible_user']} --become --become-method sudo")
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    (pdd / "env/envvars").write_text(yaml.safe_dump(envvars))
    # A job template's extra variables: a survey's password for the LAN group (VRRPv2: 8 octets at most).
    (pdd / "env/extravars").write_text(yaml.safe_dump({"lab_lan_password": "Runn3rJb"}))
    (pdd / "env/settings").write_text(yaml.safe_dump({"job_timeout": 900, "idle_timeout": 600}))
    (pdd / "project/rollout.yml").write_text(
        "---\n- name: Roll the cluster out\n  ansible.builtin.import_playbook: routerha.cluster.rollout\n"
    )
    return pdd


def run_job(pdd: Path, venv: Path, ident: str) -> dict[str, Any]:
    """``ansible-runner run`` on ``pdd``'s rollout.yml as job ``ident``: its exit
    status, output and artifacts directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    started = time.monotonic()
    run = subprocess.run(
        [str(venv / "bin/ansible-runner"), "run", str(pdd), "-p", "rollout.yml", "--ident", ident],
        capture_output=True, text=True, check=False, timeout=1200, env=env, cwd=pdd,
    )  # fmt: skip
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    (ROOT / "tests/output").mkdir(exist_ok=True)
    (ROOT / f"tests/output/ansible-runner-{ident}.log").write_text(
        f"{out}\n{ident}: {took:.0f} s\n"
    )
    print(f"ansible-runner job {ident}: {took:.0f} s")
    return {"rc": run.returncode, "out": out, "artifacts": pdd / "artifacts" / ident}


@pytest.fixture(scope="module")
def private_data_dir(runner_venv, topology, tmp_path_factory) -> Path:
    started = time.monotonic()
    inventory = lab_inventory(topology, tmp_path_factory)
    print(f"lab up in {time.monotonic() - started:.0f} s")
    lab = yaml.safe_load(inventory.read_text())
    return _private_data_dir(tmp_path_factory.mktemp("awx"), lab, runner_venv)


@pytest.fixture(scope="module")
def job(runner_venv, private_data_dir) -> dict[str, Any]:
    """The rollout run once by ansible-runner on the new lab."""
    return run_job(private_data_dir, runner_venv, "rollout")


def events(artifacts: Path) -> list[dict[str, Any]]:
    found = sorted(
        (artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-")[0])
    )
    return [json.loads(p.read_text()) for p in found]


def test_the_job_succeeds(job):
    artifacts = job["artifacts"]
    assert job["rc"] == 0, job["out"][-6000:]
    assert (artifacts / "status").read_text() == "successful"
    assert (artifacts / "rc").read_text() == "0"
    stdout = (artifacts / "stdout").read_text()
    assert "PLAY RECAP" in stdout
    # The machine credential's key went through ssh-agent, its user and become on
    # ansible-playbook's command line, as AWX passes them.
    command = " ".join(json.loads((artifacts / "command").read_text())["command"])
    assert command.startswith("ssh-agent") and "ssh-add" in command, command
    assert "-u routerha-admin --become --become-method sudo" in command, command


def test_the_events_show_every_router_deployed_without_failure(job):
    found = events(job["artifacts"])
    assert found, "no job events"
    kinds = {e["event"] for e in found}
    assert {"playbook_on_start", "playbook_on_stats"} <= kinds
    failed = [
        e["event_data"].get("task")
        for e in found
        if e["event"] in ("runner_on_failed", "runner_on_unreachable")
        and not e["event_data"].get("ignore_errors")
    ]
    assert not failed, failed
    (stats,) = [e["event_data"] for e in found if e["event"] == "playbook_on_stats"]
    assert not stats["failures"] and not stats["dark"], stats
    for router in ROUTERS:
        assert router in stats["ok"] and router in stats["changed"], stats
        ok = [
            e["event_data"]
            for e in found
            if e["event"] == "runner_on_ok" and e["event_data"].get("host") == router
        ]
        deployed = {data["task"] for data in ok}
        # The roles ran from the installed tarball, not from this checkout.
        paths = {data["task_path"] for data in ok if "/roles/" in data.get("task_path", "")}
        assert paths and all("/requirements_collections/" in p for p in paths), paths
        assert "Point current at the release" in deployed, sorted(deployed)
        assert "Write routerhad's configuration and apply it" in deployed, sorted(deployed)
    ran = {e["event_data"]["task"] for e in found if e["event"] == "runner_on_ok"}
    # The final check judged the fleet against the plan, and the report went out.
    assert {"Judge the fleet", "Show each cluster's outcome"} <= ran, sorted(ran)
    # The report per cluster reaches AWX as the job's artifacts (set_stats).
    report = stats["artifact_data"]["routerha_rollout"]
    assert report["failed"] == [], report
    assert report["clusters"]["lab_pair"]["state"] == "deployed", report


def test_every_group_has_its_planned_master(job, topology):
    assert job["rc"] == 0, "the job failed: see test_the_job_succeeds"
    for router in ROUTERS:
        shown = containers.exec(
            topology, router, "/opt/routerha/bin/routerhactl", "status", "--json", check=True
        )
        groups = {g["name"]: g["state"] for g in json.loads(shown.stdout)["groups"]}
        assert set(groups) == set(PLANNED_MASTERS), groups
        for group, master in PLANNED_MASTERS.items():
            assert groups[group] == ("MASTER" if router == master else "BACKUP"), (router, groups)


def test_a_job_with_tags_configures_and_verifies_and_changes_nothing(
    job, runner_venv, private_data_dir
):
    """A second job with AWX's job tags ``config,verify``: the plan, the configuration
    and the checks run, the installation does not, and nothing changes."""
    assert job["rc"] == 0, "the rollout failed: see test_the_job_succeeds"
    cmdline = private_data_dir / "env/cmdline"
    cmdline.write_text(cmdline.read_text() + " --tags config,verify")
    tagged = run_job(private_data_dir, runner_venv, "tagged")
    assert tagged["rc"] == 0, tagged["out"][-6000:]
    found = events(tagged["artifacts"])
    ran = {e["event_data"]["task"] for e in found if e["event"] == "runner_on_ok"}
    assert "Write routerhad's configuration and apply it" in ran, sorted(ran)
    assert "Judge the fleet" in ran, sorted(ran)
    assert "Plan the cluster and write every member's configuration" in ran, sorted(ran)
    assert not ran & {
        "Ship the bundle",
        "Point current at the release",
        "Read the current kernel settings",
    }
    (stats,) = [e["event_data"] for e in found if e["event"] == "playbook_on_stats"]
    assert not stats["failures"] and not stats["changed"], stats
