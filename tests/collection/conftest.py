"""Run the collection's modules and filters the way users do: ansible-playbook on
localhost, with this checkout as ``ansible_collections/routerha/cluster``."""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The ansible-playbook the tests run: this Python's, or that of the virtual
#: environment ROUTERHA_ANSIBLE_VENV names (make test's ansible-core matrix).
ANSIBLE_PLAYBOOK = (
    Path(os.environ["ROUTERHA_ANSIBLE_VENV"], "bin")
    if os.environ.get("ROUTERHA_ANSIBLE_VENV")
    else Path(sys.executable).parent
) / "ansible-playbook"


@functools.lru_cache(maxsize=1)
def ansible_version() -> tuple[int, int]:
    """(major, minor) of the ansible-core that ANSIBLE_PLAYBOOK runs."""
    shown = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--version"], capture_output=True, text=True, check=True
    ).stdout
    major, minor = re.search(r"core (\d+)\.(\d+)", shown).groups()
    return int(major), int(minor)


@dataclass
class PlaybookRun:
    rc: int
    output: str
    #: name -> registered result of every task that said ``register: name``.
    results: dict[str, Any]


def local_inventory(path: Path, hosts: dict[str, dict[str, Any]], group: str | None = None) -> str:
    """Write an INI inventory of ``hosts`` (name -> host variables) on the local
    connection with this Python, under ``group`` if given; its path."""
    lines = [f"[{group}]"] if group else []
    for host, variables in hosts.items():
        settings = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            **variables,
        }
        lines.append(" ".join([host, *(f"{k}={v}" for k, v in settings.items())]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def playbook_env(collections_path: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of an ``ansible-playbook`` run on the collection under test,
    its temporary files and Ansible's home kept in ``tmp_path``."""
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("collections")
    namespace = base / "ansible_collections" / "routerha"
    namespace.mkdir(parents=True)
    (namespace / "cluster").symlink_to(ROOT)
    return base


@pytest.fixture
def collection_module(collections_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``collection_module(dotted)``: the collection's ``plugins.<dotted>`` module,
    imported as Ansible imports it (from ansible_collections.routerha.cluster)."""
    monkeypatch.syspath_prepend(str(collections_path))

    def load(dotted: str) -> ModuleType:
        return importlib.import_module(f"ansible_collections.routerha.cluster.plugins.{dotted}")

    return load


@pytest.fixture
def playbook(collections_path: Path, tmp_path: Path):
    """``playbook(tasks, register=[...], check=False, hosts=..., extra_args=[...])``.

    Runs ``tasks`` (a list of task dicts, written as JSON, which is YAML) on
    localhost and returns every registered result named in ``register``: a last
    task writes them to a file, whatever failed before (``ignore_errors`` is up to
    the caller's tasks; a play that fails stops before the dump, and ``results``
    is then empty).
    """

    def run(
        tasks: list[dict[str, Any]],
        register: list[str] = (),
        check: bool = False,
        inventory: str | None = None,
        hosts: str = "localhost",
        extra_args: list[str] = (),
        env: dict[str, str] | None = None,
    ) -> PlaybookRun:
        dump = tmp_path / "results.json"
        collected = "{" + ", ".join(f"'{n}': {n} | default(None)" for n in register) + "}"
        play = [
            {
                "name": "test",
                "hosts": hosts,
                "gather_facts": False,
                "tasks": [
                    *tasks,
                    {
                        "name": "dump the registered results",
                        "ansible.builtin.copy": {
                            "content": "{{ " + collected + " | to_json }}",
                            "dest": str(dump),
                            "mode": "0600",
                        },
                        "delegate_to": "localhost",
                        "run_once": True,
                        "check_mode": False,
                    },
                ],
            }
        ]
        book = tmp_path / "play.yml"
        book.write_text(json.dumps(play, indent=1))
        if inventory is None:
            inventory_file = tmp_path / "inventory.ini"
            inventory_file.write_text(
                f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
            )
            inventory = str(inventory_file)
        command = [str(ANSIBLE_PLAYBOOK), "-i", inventory, str(book), *extra_args]
        if check:
            command.append("--check")
        environment = {**playbook_env(collections_path, tmp_path), **(env or {})}
        proc = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=600, check=False
        )
        results = json.loads(dump.read_text()) if dump.exists() else {}
        return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, results)

    return run
