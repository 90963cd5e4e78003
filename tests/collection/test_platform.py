"""Platform detection (plugins/plugin_utils/platform.py): the probe's output of each
platform read into its family, syntax and backend; backends it cannot carry refused
with the reason. The probe itself runs in tests/lab (containers) and molecule."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def plat(collection_module):
    """The collection's platform module, imported as Ansible imports it."""
    return collection_module("plugin_utils.platform")


PROBE = Path(__file__).resolve().parents[2] / "roles" / "platform" / "files" / "probe.sh"

DEBIAN = """== os-release
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
== vyos-version
== vyatta-version
== edgeos-version
== wrapper
== systemd
present
== python
/usr/bin/python3 3.11.2
== end
"""
VYOS_14 = """== os-release
PRETTY_NAME="VyOS 1.4.0 (sagitta)"
NAME="VyOS"
VERSION_ID="1.4.0"
ID=vyos
== vyos-version
{"version": "1.4.0", "built_by": "autobuild@vyos.net", "release_train": "sagitta"}
== vyatta-version
== edgeos-version
== wrapper
present
== systemd
present
== python
/usr/bin/python3 3.11.2
== end
"""
VYOS_13 = """== os-release
PRETTY_NAME="Debian GNU/Linux 10 (buster)"
ID=debian
VERSION_ID="10"
== vyos-version
== vyatta-version
Version:      VyOS 1.3.8
== edgeos-version
== wrapper
present
== systemd
present
== python
/usr/bin/python3 3.7.3
== end
"""
VYOS_11 = """== os-release
== vyos-version
== vyatta-version
Version :    VyOS 1.1.8
== edgeos-version
== wrapper
present
== systemd
== python
/usr/bin/python Python 2.7.3
== end
"""
EDGEOS_2 = """== os-release
PRETTY_NAME="Debian GNU/Linux 9 (stretch)"
NAME="Debian GNU/Linux"
VERSION_ID="9"
ID=debian
== vyos-version
== vyatta-version
== edgeos-version
v2.0.9-hotfix.7.5622731.230615.0857
== wrapper
present
== systemd
present
== python
/usr/bin/python3 Python 3.5.3
/usr/bin/python 2.7.13
== end
"""


@pytest.mark.parametrize(
    ("output", "family", "version", "syntax", "backend", "prefix"),
    [
        (DEBIAN, "linux", "12", None, "routerhad", "/opt/routerha"),
        (VYOS_14, "vyos", "1.4.0", "vyos", "routerhad", "/config/routerha"),
        (VYOS_13, "vyos", "1.3.8", "vyos-1.2", "native", "/config/routerha"),
        (VYOS_11, "vyos", "1.1.8", "vyatta", "native", "/config/routerha"),
        (EDGEOS_2, "edgeos", "2.0.9-hotfix.7", "vyatta", "native", "/opt/routerha"),
    ],
    ids=["debian-12", "vyos-1.4", "vyos-1.3", "vyos-1.1", "edgeos-2"],
)
def test_each_platform_is_recognised(plat, output, family, version, syntax, backend, prefix):
    found = plat.identify(output)
    assert (found["family"], found["version"], found["syntax"]) == (family, version, syntax)
    assert (found["backend"], found["prefix"]) == (backend, prefix)
    assert found["modules"] is (backend == "routerhad")


def test_vyos_14_gets_a_boot_hook_and_files_under_config(plat):
    found = plat.identify(VYOS_14)
    assert found["boot_hook"] == "/config/scripts/vyos-postconfig-bootup.script"
    assert found["config_path"].startswith("/config/")
    assert found["helper_file"].startswith("/config/")
    assert plat.identify(VYOS_14, "native")["boot_hook"] is None


def test_the_newest_python_found_counts(plat):
    found = plat.identify(EDGEOS_2)
    assert (found["python"], found["python_version"]) == ("/usr/bin/python3", "3.5.3")


def test_vyos_14_can_keep_its_native_vrrp(plat):
    assert plat.identify(VYOS_14, "native")["backend"] == "native"


def test_routerhad_on_edgeos_is_refused_with_the_reason(plat):
    with pytest.raises(
        plat.PlatformError, match=r"EdgeOS .*Python 3\.5\.3, routerhad needs >= 3\.9; use native"
    ):
        plat.identify(EDGEOS_2, "routerhad")


def test_routerhad_on_vyos_13_is_refused_even_with_a_new_python(plat):
    newer = VYOS_13.replace("3.7.3", "3.9.2")
    with pytest.raises(plat.PlatformError, match="cannot persist"):
        plat.identify(newer, "routerhad")


def test_native_on_debian_is_refused(plat):
    with pytest.raises(plat.PlatformError, match="native needs a VyOS or EdgeOS router"):
        plat.identify(DEBIAN, "native")


def test_a_host_without_python_or_wrapper_cannot_be_deployed(plat):
    bare = DEBIAN.replace("/usr/bin/python3 3.11.2\n", "")
    with pytest.raises(
        plat.PlatformError, match=r"found none\) and there is no vyatta-cfg-cmd-wrapper"
    ):
        plat.identify(bare)


def test_a_cut_off_probe_is_an_error(plat):
    with pytest.raises(plat.PlatformError, match="did not finish"):
        plat.identify(DEBIAN.replace("== end\n", ""))


def test_an_unknown_backend_is_refused(plat):
    with pytest.raises(plat.PlatformError, match="routerha_backend is 'keepalived'"):
        plat.identify(DEBIAN, "keepalived")


def test_the_probe_runs_in_posix_sh_here(plat):
    """The probe on this (Debian) machine: dash, no Python involved in reading it."""
    run = subprocess.run(["sh", str(PROBE)], capture_output=True, text=True, check=True)
    found = plat.sections(run.stdout)
    assert "end" in found and found["python"]
    assert plat.identify(run.stdout)["family"] == "linux"
