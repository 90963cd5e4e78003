"""The lab's stand-in for VyOS / EdgeOS ``/opt/vyatta/bin/vyatta-op-cmd-wrapper``.

Answers three operational commands from the fake's files (lab/appliance/
fake_wrapper.py; same ``VYATTA_FAKE_ROOT``, default ``/``):

* ``show configuration commands``: the running configuration as set lines, values
  single-quoted, as VyOS prints them;
* ``show configuration``: the running configuration in the curly-brace form;
* ``show version``: from /usr/share/vyos/version.json (VyOS) or /etc/version
  (EdgeOS), as the platform lays it out.

Anything else: "Invalid command", exit status 1. No group check (operational
commands need none). Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence

try:  # imported as lab.appliance.fake_op (tests) or run as a script beside it
    from . import fake_wrapper
except ImportError:
    import fake_wrapper  # type: ignore[no-redef]

#: /etc/version of EdgeOS: v2.0.9-hotfix.7.5622731.230615.0857
_EDGEOS_VERSION = re.compile(
    r"^(?P<version>v[0-9][^.]*(?:\.[0-9]+)*(?:-[a-z]+\.[0-9]+)?)\.(?P<build>[0-9]+)\."
    r"(?P<date>[0-9]{6})\.(?P<time>[0-9]{4})$"
)


class OpError(Exception):
    """What the op wrapper prints before exiting 1."""


def show_version(paths: fake_wrapper.Paths, conf: dict[str, object]) -> str:
    if conf.get("syntax") == "vyatta":
        return _edgeos_version(paths)
    return _vyos_version(paths)


def _vyos_version(paths: fake_wrapper.Paths) -> str:
    path = paths.under_root("/usr/share/vyos/version.json")
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OpError(f"cannot read {path}: {exc}") from None
    rows = [
        ("Version", f"VyOS {info.get('version', '?')}"),
        ("Release train", info.get("release_train", "")),
        ("Release flavor", info.get("flavor", "")),
        None,
        ("Built by", info.get("built_by", "")),
        ("Built on", info.get("built_on", "")),
        ("Build UUID", info.get("build_uuid", "")),
        ("Build commit ID", info.get("build_git", "")),
        None,
        ("Architecture", info.get("architecture", "")),
        ("Boot via", "installed image"),
        ("System type", "routerha lab container (a stand-in, not VyOS)"),
    ]
    return "".join("\n" if row is None else f"{row[0] + ':':<18}{row[1]}\n" for row in rows)


def _edgeos_version(paths: fake_wrapper.Paths) -> str:
    path = paths.under_root("/etc/version")
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise OpError(f"cannot read {path}: {exc}") from None
    match = _EDGEOS_VERSION.match(text)
    if match is None:
        version, build, built = text, "?", "?"
    else:
        version, build = match["version"], match["build"]
        date, hhmm = match["date"], match["time"]
        built = f"{date[2:4]}/{date[4:6]}/{date[0:2]} {hhmm[:2]}:{hhmm[2:]}"
    rows = [
        ("Version", version),
        ("Build ID", build),
        ("Build on", built),
        ("Copyright", "2012-2023 Ubiquiti, Inc."),
        ("HW model", "routerha lab container (a stand-in, not EdgeOS)"),
        ("HW S/N", "000000000000"),
    ]
    return "".join(f"{name + ':':<14}{value}\n" for name, value in rows)


def run(words: Sequence[str], paths: fake_wrapper.Paths | None = None) -> str:
    """The output of the op command ``words``; raises OpError."""
    paths = paths or fake_wrapper.Paths()
    command = tuple(words)
    try:
        conf = fake_wrapper.read_conf(paths)
        if command == ("show", "configuration", "commands"):
            return fake_wrapper.render_set_lines(fake_wrapper.read_running(paths))
        if command == ("show", "configuration"):
            kinds = fake_wrapper.Kinds(conf["syntax"], fake_wrapper.load_schema(conf["syntax"]))
            return fake_wrapper.render_curly(fake_wrapper.read_running(paths), kinds)
        if command == ("show", "version"):
            return show_version(paths, conf)
    except fake_wrapper.WrapperError as exc:
        raise OpError(str(exc)) from None
    raise OpError(f"Invalid command: {' '.join(command) or '(none)'}")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        sys.stdout.write(run(words))
    except OpError as exc:
        print(f"\n  {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
