# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What kind of router a host is, read from the output of the platform role's probe
(roles/platform/files/probe.sh), and how routerha deploys to it: the backend, the
configuration syntax, where files persist.

The probe is plain POSIX shell, run with ``ansible.builtin.raw``: it must work where
Ansible cannot run Python (EdgeOS, VyOS before 1.4). It prints sections headed
``== NAME``; :func:`identify` reads them. Controller-side only.

=================  ==========  =========  ===============  ===========================
platform           family      syntax     Python           backend (auto)
=================  ==========  =========  ===============  ===========================
Debian, Ubuntu...  linux       none       >= 3.9           routerhad (/opt/routerha)
VyOS 1.4+          vyos        vyos       3.11             routerhad (/config/routerha)
VyOS 1.2, 1.3      vyos        vyos-1.2   3.5 / 3.7        native
VyOS 1.1           vyos        vyatta     2.7              native
EdgeOS 1.x, 2.x    edgeos      vyatta     2.7 / 3.5        native
=================  ==========  =========  ===============  ===========================
"""

from __future__ import annotations

import contextlib
import json
import re

#: routerhad's floor (pyproject.toml requires-python).
MIN_PYTHON = (3, 9)
BACKENDS = ("auto", "routerhad", "native")
#: Where everything routerhad needs lives: VyOS replaces all but /config on an
#: image upgrade, so there the installation and its configuration live in /config.
PREFIX = {"linux": "/opt/routerha", "vyos": "/config/routerha"}
CONFIG_PATH = {"linux": "/etc/routerha/routerhad.json", "vyos": "/config/routerha/routerhad.json"}
HELPER_FILE = {
    "linux": "/etc/routerha/conntrack-helpers.nft",
    "vyos": "/config/routerha/conntrack-helpers.nft",
}
#: The boot hook that puts back what an image upgrade removed (units, links, sysctls).
BOOT_HOOK = {"vyos": "/config/scripts/vyos-postconfig-bootup.script"}

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class PlatformError(ValueError):
    """The host cannot be deployed to as asked; the message says why and what to do."""


def sections(output: str) -> dict[str, list[str]]:
    """PROBE's output as section name -> its non-empty lines."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in output.replace("\r", "").split("\n"):
        line = raw.strip()
        if line.startswith("== "):
            current = line[3:].strip()
            out.setdefault(current, [])
        elif line and current is not None:
            out[current].append(line)
    return out


def _os_release(lines: list[str]) -> dict[str, str]:
    values = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return values


def _version_tuple(text: str) -> tuple[int, ...] | None:
    found = _VERSION.search(text or "")
    if not found:
        return None
    return tuple(int(part) for part in found.groups() if part is not None)


def _python(lines: list[str]) -> tuple[str | None, str | None]:
    """The best interpreter PROBE found: (path, version), newest first."""
    best: tuple[tuple[int, ...], str, str] | None = None
    for line in lines:
        path, _sep, rest = line.partition(" ")
        version = _version_tuple(rest)
        if version is None:
            continue
        if best is None or version > best[0]:
            best = (version, path, ".".join(str(v) for v in version))
    return (best[1], best[2]) if best else (None, None)


def _family_and_version(found: dict[str, list[str]]) -> tuple[str, str, str]:
    """(family, version, description) of the host."""
    release = _os_release(found.get("os-release", []))
    vyos_json = " ".join(found.get("vyos-version", []))
    if release.get("ID") == "vyos" or vyos_json:
        version = release.get("VERSION_ID", "")
        if vyos_json:
            with contextlib.suppress(ValueError, AttributeError):
                version = str(json.loads(vyos_json).get("version", version))
        return "vyos", version, f"VyOS {version}".strip()
    edgeos = " ".join(found.get("edgeos-version", []))
    if edgeos.startswith("v") and _version_tuple(edgeos) and found.get("wrapper"):
        return "edgeos", _edgeos_version(edgeos), f"EdgeOS {edgeos}"
    vyatta = " ".join(found.get("vyatta-version", []))
    if vyatta and found.get("wrapper"):
        # VyOS 1.1 - 1.3 keep "Version: VyOS 1.3.8" (or 1.1.8, 999...) here.
        version = vyatta.split("VyOS", 1)[-1].strip() if "VyOS" in vyatta else vyatta
        return "vyos", version, f"VyOS {version}".strip()
    name = release.get("PRETTY_NAME") or release.get("NAME") or "Linux"
    return "linux", release.get("VERSION_ID", ""), name


def _edgeos_version(text: str) -> str:
    """``v2.0.9-hotfix.7.5622731.230615.0857`` -> ``2.0.9-hotfix.7``."""
    head = text.lstrip("v")
    match = re.match(r"\d+\.\d+\.\d+(?:-[a-z]+\.\d+)?", head)
    return match.group(0) if match else head.split(".", 3)[0]


def _syntax(family: str, version: tuple[int, ...] | None) -> str | None:
    """The CLI syntax of the platform's VRRP configuration (SYNTAXES of the renderer)."""
    if family == "edgeos":
        return "vyatta"
    if family == "vyos":
        if version is None or version >= (1, 4):
            return "vyos"  # rolling releases (1.5-rolling-2024...) and unknown: newest
        return "vyos-1.2" if version >= (1, 2) else "vyatta"
    return None


def identify(output: str, backend: str = "auto") -> dict[str, object]:
    """What PROBE's ``output`` says about the host, and how to deploy to it.

    ``backend``: ``auto`` (routerhad where the platform can carry it, else native),
    ``routerhad`` or ``native``. Raises PlatformError when the asked backend cannot
    run there, saying why and what would.
    """
    if backend not in BACKENDS:
        raise PlatformError(
            f"routerha_backend is {backend!r}; expected one of {', '.join(BACKENDS)}"
        )
    found = sections(output)
    if "end" not in found:
        raise PlatformError(
            "the platform probe did not finish: no '== end' line in its output:\n" + output[-500:]
        )
    family, version, description = _family_and_version(found)
    python, python_version = _python(found.get("python", []))
    version_tuple = _version_tuple(version)
    syntax = _syntax(family, version_tuple)
    python_ok = python_version is not None and _version_tuple(python_version) >= MIN_PYTHON
    has_wrapper = bool(found.get("wrapper"))
    # routerhad on an appliance only where its files can persist: VyOS 1.4+.
    routerhad_ok = python_ok and (family == "linux" or syntax == "vyos")
    native_ok = family in ("vyos", "edgeos") and has_wrapper and syntax is not None
    floor = ".".join(str(v) for v in MIN_PYTHON)
    if backend == "auto":
        chosen = "routerhad" if routerhad_ok else "native" if native_ok else None
        if chosen is None:
            raise PlatformError(
                f"{description}: routerhad needs Python >= {floor} "
                f"(found {python_version or 'none'}) and there is no vyatta-cfg-cmd-wrapper "
                "for the native backend"
            )
    elif backend == "routerhad" and not routerhad_ok:
        why = (
            f"it has Python {python_version or 'none'}, routerhad needs >= {floor}"
            if not python_ok
            else "routerhad cannot persist across its image upgrades (VyOS 1.4 or later can)"
        )
        raise PlatformError(
            f"{description}: routerha_backend routerhad is not possible: {why}; use native"
        )
    elif backend == "native" and not native_ok:
        raise PlatformError(
            f"{description}: routerha_backend native needs a VyOS or EdgeOS router "
            "(/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper); use routerhad"
        )
    else:
        chosen = backend
    persistent = "vyos" if family == "vyos" else "linux"
    return {
        "family": family,
        "version": version,
        "description": description,
        "syntax": syntax,
        "python": python,
        "python_version": python_version,
        "modules": python_ok,  # can Ansible run Python modules there
        "systemd": bool(found.get("systemd")),
        "backend": chosen,
        "prefix": PREFIX[persistent],
        "config_path": CONFIG_PATH[persistent],
        "helper_file": HELPER_FILE[persistent],
        "boot_hook": BOOT_HOOK.get(family) if chosen == "routerhad" else None,
    }
