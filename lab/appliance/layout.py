"""Turn a booted routerha-node container into a VyOS 1.4 or EdgeOS 2.x look-alike.

Run inside the container as root, with the image's own Python (lab/containers.py
copies lab/appliance/ in and runs it for a container with ``appliance:``)::

    python3 layout.py vyos-1.4 --spec '{"hostname": "v1", "interfaces": [...]}'

``--spec``: the host name and the interfaces (``name``, ``mac``, ``addresses``) the
initial configuration holds, and ``authorized_keys`` (public keys) for the admin user.
``--root DIR`` lays the files out under DIR instead of ``/`` and leaves users, groups
and systemd alone (for tests on the host).

Both kinds get: group ``vyattacfg``; the platform's admin user (``vyos``, ``ubnt``), in
that group, with the spec's keys and sudo without a password, as on the platforms
(whose configuration sessions run as that user, not through sudo); the fake's state
directories (/var/lib/vyatta-fake, /var/log/vyatta-fake) writable by the group; the
fake wrappers (fake_wrapper.py, fake_op.py, vyatta_schema.py and its schema/ data)
in /usr/lib/routerha-appliance/ behind launchers at
/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper and /opt/vyatta/bin/vyatta-op-cmd-wrapper,
which run /usr/lib/routerha-appliance/python3;
/config (root:vyattacfg, setgid) with config.boot (the interfaces' addresses and the
host name; kept if it exists, as /config survives upgrades) and scripts/; the fake's
running configuration loaded from it; /bin/vbash -> bash; a stand-in boot unit named
like the platform's own (vyos-router.service, vyatta-router.service): enabled, after
the network, a oneshot that loads /config/config.boot as the running configuration
and runs the user's hooks, again at every ``systemctl start`` (how a test simulates the
boot after an image upgrade: remove what lives outside /config, start the unit).

``vyos-1.4``: /etc/os-release of VyOS 1.4.0 (sagitta), /usr/share/vyos/version.json,
/config/scripts/vyos-preconfig-bootup.script and vyos-postconfig-bootup.script with
VyOS's default headers (run before and after the configuration is loaded).
``edgeos-2``: /etc/os-release of Debian 9 (stretch), /etc/version, and
/config/scripts/post-config.d/ (its executables run at boot, in name order); the
container's Python is moved to /usr/lib/routerha-appliance/python3 and
/usr/bin/python3 (and python3.5) answers ``--version`` with ``Python 3.5.3`` and
refuses anything else, so Ansible's Python modules fail as on EdgeOS.

Standard library only; idempotent.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

try:  # imported as lab.appliance.layout (tests) or run as a script beside the fakes
    from . import fake_wrapper
except ImportError:
    import fake_wrapper  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
INSTALL = "usr/lib/routerha-appliance"
PYTHON = f"/{INSTALL}/python3"
FILES = ("fake_wrapper.py", "fake_op.py", "vyatta_schema.py")
SCHEMA_DIR = "schema"
GROUP = fake_wrapper.GROUP
CFG_WRAPPER = "opt/vyatta/sbin/vyatta-cfg-cmd-wrapper"
OP_WRAPPER = "opt/vyatta/bin/vyatta-op-cmd-wrapper"

VYOS_VERSION = "1.4.0"
EDGEOS_VERSION = "v2.0.9-hotfix.7.5622731.230615.0857"
EDGEOS_PYTHON = "3.5.3"


class Kind:
    def __init__(
        self, name: str, syntax: str, version: str, unit: str, platform: str, admin: str
    ) -> None:
        self.name = name
        self.syntax = syntax
        self.version = version
        self.unit = unit
        self.platform = platform
        self.admin = admin  # the platform's default login, an admin in group vyattacfg


KINDS = {
    "vyos-1.4": Kind("vyos-1.4", "vyos", VYOS_VERSION, "vyos-router.service", "VyOS", "vyos"),
    "edgeos-2": Kind(
        "edgeos-2", "vyatta", EDGEOS_VERSION, "vyatta-router.service", "EdgeOS", "ubnt"
    ),
}
#: The fake's state, written by every session's user: group vyattacfg, setgid, as the
#: platforms keep their configuration tree (the boot's root-run load included).
STATE_DIRS = ("var/lib/vyatta-fake", "var/log/vyatta-fake")

VYOS_OS_RELEASE = f"""\
# routerha lab stand-in (lab/appliance/layout.py): a Debian 12 container laid out as VyOS.
PRETTY_NAME="VyOS {VYOS_VERSION} (sagitta)"
NAME="VyOS"
VERSION_ID="{VYOS_VERSION}"
VERSION="{VYOS_VERSION} (sagitta)"
VERSION_CODENAME=sagitta
ID=vyos
BUILD_ID="routerha-lab"
HOME_URL="https://vyos.io"
SUPPORT_URL="https://support.vyos.io"
BUG_REPORT_URL="https://vyos.dev"
DOCUMENTATION_URL="https://docs.vyos.io/en/sagitta"
"""

DEBIAN9_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 9 (stretch)"
NAME="Debian GNU/Linux"
VERSION_ID="9"
VERSION="9 (stretch)"
VERSION_CODENAME=stretch
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

VYOS_VERSION_JSON = {
    "version": VYOS_VERSION,
    "flavor": "generic",
    "built_by": "routerha lab (a stand-in, not a VyOS build)",
    "built_on": "Mon 01 Jan 2024 00:00 UTC",
    "build_uuid": "00000000-0000-0000-0000-000000000000",
    "build_git": "routerha-lab",
    "build_branch": "sagitta",
    "release_train": "sagitta",
    "lts_build": True,
    "architecture": "amd64",
    "bugtracker_url": "https://vyos.dev",
    "documentation_url": "https://docs.vyos.io/en/sagitta",
}

VYOS_PRECONFIG = """\
#!/bin/sh
# This script is executed at boot time before VyOS configuration is applied.
# Any modifications required to work around unfixed bugs or use
# services not available through the VyOS CLI system can be placed here.
"""

VYOS_POSTCONFIG = """\
#!/bin/sh
# This script is executed at boot time after VyOS configuration is fully applied.
# Any modifications required to work around unfixed bugs
# or use services not available through the VyOS CLI system can be placed here.
"""

LAUNCHER = """\
#!/bin/sh
# routerha lab stand-in for {platform}'s {name} ({target}).
# exec: the caller stays the Python process's parent, which names the session.
exec {python} -E -s /{install}/{target} "$@"
"""

PYTHON_SHIM = f"""\
#!/bin/sh
# routerha lab stand-in: EdgeOS 2.x has Python {EDGEOS_PYTHON}, which Ansible's modules
# cannot use. This container's real interpreter is {PYTHON}, for the fake
# configuration wrappers only (lab/appliance/layout.py).
case "$*" in
    --version|-V) echo "Python {EDGEOS_PYTHON}"; exit 0 ;;
esac
echo "$0: Python {EDGEOS_PYTHON} (EdgeOS 2.x): too old for Ansible modules; this stand-in runs nothing" >&2
exit 1
"""

BOOT_HEAD = f"""\
#!/bin/sh
# routerha lab stand-in for the platform's boot (lab/appliance/layout.py): the saved
# configuration becomes the running one, then the user's hooks run (as root, not in
# group {GROUP}: a hook that configures calls sg {GROUP} itself, as on the router).
# Nothing is applied to the system: the fake only keeps the configuration.
# A failing hook is reported and the boot goes on, as on the router.
set -u
hook() {{
    if [ -f "$1" ] && [ -x "$1" ]; then
        echo "running $1"
        "$1" || echo "$1 failed (exit status $?)" >&2
    fi
}}
"""
LOAD = f"{PYTHON} -E -s /{INSTALL}/fake_wrapper.py --load-config-boot || exit 1\n"
VYOS_BOOT = (
    BOOT_HEAD
    + "hook /config/scripts/vyos-preconfig-bootup.script\n"
    + LOAD
    + "hook /config/scripts/vyos-postconfig-bootup.script\n"
)
EDGEOS_BOOT = (
    BOOT_HEAD
    + LOAD
    + 'for script in /config/scripts/post-config.d/*; do hook "$script"; done\nexit 0\n'
)

UNIT = """\
# routerha lab stand-in for {platform}'s {unit} (lab/appliance/layout.py): at boot,
# after the network, loads /config/config.boot as the fake's running configuration and
# runs {hooks}. A oneshot that does not stay active: `systemctl start` runs it again
# (the boot after an image upgrade, once what lives outside /config is gone).
[Unit]
Description={platform} router configuration (routerha lab stand-in)
After=network.target
Wants=network.target

[Service]
Type=oneshot
ExecStart=/{install}/boot

[Install]
WantedBy=multi-user.target
"""


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def _symlink(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def initial_config(kind: Kind, spec: dict[str, Any]) -> str:
    """config.boot of a new router: its interfaces with their addresses, its name."""
    schema = fake_wrapper.load_schema(kind.syntax)
    kinds = fake_wrapper.Kinds(kind.syntax, schema)
    tree = fake_wrapper.Node()

    def put(*words: str) -> None:
        fake_wrapper.config_set(tree, tuple(words), kinds)

    for interface in spec.get("interfaces", []):
        name = str(interface["name"])
        for address in interface.get("addresses", []):
            put("interfaces", "ethernet", name, "address", str(address))
        if kind.syntax == "vyos":
            if interface.get("mac"):
                put("interfaces", "ethernet", name, "hw-id", str(interface["mac"]))
        else:
            put("interfaces", "ethernet", name, "duplex", "auto")
            put("interfaces", "ethernet", name, "speed", "auto")
    put("interfaces", "loopback", "lo")
    put("service", "ssh", "port", "22")
    put("system", "host-name", str(spec.get("hostname", "vyos")))
    conf = {"syntax": kind.syntax, "version": kind.version}
    return fake_wrapper.render_curly(tree, kinds) + fake_wrapper.boot_footer(conf)


def _python(kind: Kind, root: Path) -> None:
    """vyos: /usr/lib/routerha-appliance/python3 is /usr/bin/python3. edgeos: the real
    interpreter moves there and /usr/bin/python3 becomes the Python 3.5 shim."""
    private = root / INSTALL / "python3"
    public = root / "usr/bin/python3"
    if kind.syntax == "vyos":
        _symlink(private, "/usr/bin/python3")
        return
    if not (private.is_file() and not private.is_symlink()):
        if root.resolve() != Path("/") and not public.exists():
            _write(public, PYTHON_SHIM, 0o755)  # a test's root: no interpreter to move
            return
        real = public.resolve()
        if not real.is_file() or root.resolve() not in real.parents:
            raise SystemExit(f"layout: no Python interpreter at {public} to move")
        if private.is_symlink():
            private.unlink()
        shutil.move(str(real), str(private))
        if real != public and (real.exists() or real.is_symlink()):
            real.unlink()
    _write(public, PYTHON_SHIM, 0o755)
    _symlink(root / f"usr/bin/python{EDGEOS_PYTHON[:3]}", "python3")


def _system(root: Path, *argv: str) -> None:
    if root.resolve() == Path("/"):
        subprocess.run(list(argv), check=True)


def _install(kind: Kind, root: Path) -> None:
    """The fakes, their launchers at the platform's paths, Python, vbash, the group."""
    install = root / INSTALL
    install.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(HERE / name, install / name)
    shutil.rmtree(install / SCHEMA_DIR, ignore_errors=True)
    shutil.copytree(HERE / SCHEMA_DIR, install / SCHEMA_DIR)
    if root.resolve() == Path("/"):
        try:
            grp.getgrnam(GROUP)
        except KeyError:
            _system(root, "groupadd", "--system", GROUP)
    _python(kind, root)
    for path, target in ((CFG_WRAPPER, "fake_wrapper.py"), (OP_WRAPPER, "fake_op.py")):
        name = Path(path).name
        launcher = LAUNCHER.format(
            platform=kind.platform, name=name, target=target, python=PYTHON, install=INSTALL
        )
        _write(root / path, launcher, 0o755)
    _symlink(root / "bin/vbash", "bash")


def _admin(kind: Kind, spec: dict[str, Any], root: Path) -> None:
    """The platform's admin user (in group vyattacfg, sudo), with the spec's keys; the
    fake's state, group vyattacfg and setgid, so that its sessions can write it."""
    state_dirs = [root / path for path in STATE_DIRS]
    for path in state_dirs:
        path.mkdir(parents=True, exist_ok=True)
    if root.resolve() != Path("/"):
        return
    gid = grp.getgrnam(GROUP).gr_gid
    for top in state_dirs:
        for path in [top, *top.rglob("*")]:
            os.lchown(path, -1, gid)
            if not path.is_symlink():
                path.chmod(0o2775 if path.is_dir() else 0o664)
    try:
        pwd.getpwnam(kind.admin)
    except KeyError:
        _system(
            root,
            *("useradd", "--create-home", "--shell", "/bin/vbash", "--password", "*"),
            *("--groups", GROUP, kind.admin),
        )
    sudoers = root / "etc/sudoers.d" / kind.admin
    _write(sudoers, f"{kind.admin} ALL=(ALL:ALL) NOPASSWD: ALL\n", 0o440)
    user = pwd.getpwnam(kind.admin)
    ssh_dir = Path(user.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    _write(keys, "".join(f"{key.strip()}\n" for key in spec.get("authorized_keys", [])), 0o600)
    for path in (ssh_dir, keys):
        os.chown(path, user.pw_uid, user.pw_gid)


def _config(kind: Kind, spec: dict[str, Any], root: Path) -> None:
    """/config: config.boot and the hook scripts, unless there (they survive upgrades)."""
    config = root / "config"
    scripts = config / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    boot = config / "config.boot"
    if not boot.exists():
        _write(boot, initial_config(kind, spec), 0o660)
    if kind.syntax == "vyos":
        for name, text in (
            ("vyos-preconfig-bootup.script", VYOS_PRECONFIG),
            ("vyos-postconfig-bootup.script", VYOS_POSTCONFIG),
        ):
            if not (scripts / name).exists():
                _write(scripts / name, text, 0o755)
    else:
        (scripts / "post-config.d").mkdir(exist_ok=True)
    if root.resolve() == Path("/"):
        gid = grp.getgrnam(GROUP).gr_gid
        for path in [config, *config.rglob("*")]:
            os.lchown(path, -1, gid)
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o2775)


def _release(kind: Kind, root: Path) -> None:
    """What tells the platform and its version, and the fake's own configuration."""
    conf = {"syntax": kind.syntax, "platform": kind.name, "version": kind.version}
    _write(root / "etc/vyatta-fake.conf", json.dumps(conf, indent=2) + "\n")
    if kind.syntax == "vyos":
        _write(root / "usr/lib/os-release", VYOS_OS_RELEASE)
        _write(root / "etc/os-release", VYOS_OS_RELEASE)
        _write(root / "usr/share/vyos/version.json", json.dumps(VYOS_VERSION_JSON, indent=2) + "\n")
    else:
        _write(root / "usr/lib/os-release", DEBIAN9_OS_RELEASE)
        _write(root / "etc/os-release", DEBIAN9_OS_RELEASE)
        _write(root / "etc/debian_version", "9.13\n")
        _write(root / "etc/version", EDGEOS_VERSION + "\n")


def _boot_unit(kind: Kind, root: Path) -> None:
    """The stand-in boot unit and its script, enabled."""
    install = root / INSTALL
    _write(install / "boot", VYOS_BOOT if kind.syntax == "vyos" else EDGEOS_BOOT, 0o755)
    hooks = (
        "/config/scripts/vyos-preconfig-bootup.script (before) and "
        "vyos-postconfig-bootup.script (after)"
        if kind.syntax == "vyos"
        else "the executables in /config/scripts/post-config.d"
    )
    unit = UNIT.format(platform=kind.platform, unit=kind.unit, hooks=hooks, install=INSTALL)
    _write(root / "usr/lib/systemd/system" / kind.unit, unit)
    _symlink(
        root / "etc/systemd/system/multi-user.target.wants" / kind.unit,
        f"/usr/lib/systemd/system/{kind.unit}",
    )


def build(kind_name: str, spec: dict[str, Any], root: Path = Path("/")) -> None:
    """Lay the appliance out under ``root``; ``kind`` file last (status looks for it)."""
    kind = KINDS[kind_name]
    _install(kind, root)
    _admin(kind, spec, root)
    _config(kind, spec, root)
    _release(kind, root)
    _boot_unit(kind, root)
    if root.resolve() == Path("/"):  # its first run loads config.boot as the running config
        _system(root, "systemctl", "daemon-reload")
        _system(root, "systemctl", "start", kind.unit)
    else:
        fake_wrapper.load_config_boot(fake_wrapper.Paths(root))
    _write(root / INSTALL / "kind", kind.name + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--spec", default="{}", help="JSON: hostname, interfaces")
    parser.add_argument("--root", type=Path, default=Path("/"))
    args = parser.parse_args(argv)
    try:
        spec = json.loads(args.spec)
    except ValueError as exc:
        parser.error(f"--spec is not JSON: {exc}")
    build(args.kind, spec, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
