"""routerha.cluster.routerhad_bundle: the daemon and its pinned pyroute2 in one
reproducible archive, built on the controller."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import tomllib

from tests.collection.conftest import ROOT


@pytest.fixture
def bundle(collection_module):
    return collection_module("plugin_utils.bundle")


def test_the_pin_is_pyprojects(bundle):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"pyroute2=={bundle.PYROUTE2_VERSION}" in pyproject["project"]["dependencies"]


def test_two_builds_give_the_same_bytes_and_the_second_builds_nothing(bundle, tmp_path):
    first = bundle.build(str(tmp_path / "a"))
    again = bundle.build(str(tmp_path / "a"))
    other = bundle.build(str(tmp_path / "b"))
    assert first["built"] and not again["built"]
    assert Path(first["path"]).read_bytes() == Path(other["path"]).read_bytes()
    assert first["name"] == f"routerha-{first['version']}-{first['digest'][:16]}"
    with tarfile.open(first["path"]) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("BUNDLE.json"))
        assert {m.uid for m in archive.getmembers()} == {0}
    assert manifest == {
        "routerha": first["version"],
        "pyroute2": "0.9.7",
        "digest": first["digest"],
    }
    assert "lib/routerha/daemon/main.py" in names
    assert "lib/pyroute2/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.endswith(("/RECORD", "/INSTALLER"))]


def router_python(minor: str) -> str:
    """The Python 3.``minor`` a router might run (pyenv's, where this machine has it)."""
    found = sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3"))
    if found:
        return str(found[-1])
    if sys.version_info[:2] == (3, int(minor)):
        return sys.executable
    pytest.skip(f"no Python 3.{minor} on this machine (pyenv's versions hold the router matrix)")


@pytest.mark.parametrize("minor", ["9", "10", "11", "12", "13"])
def test_the_bundle_runs_with_nothing_but_python(bundle, tmp_path, minor):
    """Unpacked and run with -I (no site-packages from the user, no PYTHONPATH), as the
    launchers run it, on every router Python of the support matrix (3.9 to 3.13):
    routerhad checks a configuration with the bundled pyroute2."""
    built = bundle.build(str(tmp_path / "cache"))
    dest = tmp_path / "release"
    dest.mkdir()
    with tarfile.open(built["path"]) as archive:
        archive.extractall(dest)
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(
            {
                "vrrp": {
                    "groups": {"G": {"interface": "eth0", "vrid": 1, "address": ["10.0.0.1/24"]}}
                }
            }
        )
    )
    code = (
        f"import sys; sys.path.insert(0, {str(dest / 'lib')!r}); import pyroute2; "
        "assert pyroute2.__file__.startswith(sys.path[0]), pyroute2.__file__; "
        "from routerha.daemon.main import main; sys.exit(main())"
    )
    run = subprocess.run(
        [router_python(minor), "-I", "-c", code, "--check-config", "--config", str(config)],
        capture_output=True, text=True, check=False, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "configuration OK" in run.stdout


def test_another_pyroute2_version_is_refused(bundle, tmp_path):
    site = tmp_path / "site"
    (site / "pyroute2").mkdir(parents=True)
    (site / "pyroute2" / "__init__.py").write_text("")
    (site / "pyroute2-0.7.1.dist-info").mkdir()
    with pytest.raises(
        bundle.BundleError, match=r"pyroute2 0\.7\.1; routerhad is pinned to 0\.9\.7"
    ):
        bundle.build(str(tmp_path / "out"), pyroute2_path=str(site))
    with pytest.raises(bundle.BundleError, match="holds no pyroute2"):
        bundle.build(str(tmp_path / "out"), pyroute2_path=str(tmp_path))
    assert not (tmp_path / "out").exists()


def test_the_action_reports_the_bundle_and_changes_nothing(playbook, tmp_path):
    run = playbook(
        [{"routerha.cluster.routerhad_bundle": {"dest": str(tmp_path / "b")}, "register": "b"}],
        register=["b"],
    )
    assert run.rc == 0, run.output
    result = run.results["b"]
    assert result["changed"] is False and result["built"] is True
    assert Path(result["path"]).is_file()
    assert result["pyroute2_version"] == "0.9.7"


def test_manifest_is_first_and_directories_precede_files(bundle, tmp_path):
    built = bundle.build(str(tmp_path))
    with tarfile.open(fileobj=io.BytesIO(Path(built["path"]).read_bytes())) as archive:
        members = archive.getmembers()
    assert members[0].name == "BUNDLE.json"
    seen: set[str] = set()
    for member in members[1:]:
        parent = member.name.rsplit("/", 1)[0]
        assert parent in seen or "/" not in member.name
        if member.isdir():
            seen.add(member.name)
