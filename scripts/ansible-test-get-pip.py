"""Stand-in for the pip bootstrap script ansible-test downloads (get-pip.py).

ansible-test builds a virtual environment per sanity test and bootstraps pip in it
with a script fetched from a host this workplace cannot reach; it looks in its cache
first (~/.ansible/test/cache/get_pip_<version>.py), where `make sanity` puts this
file. Like get-pip.py it runs ``pip install --upgrade --force-reinstall ARGS``
(ARGS carry the pip version ansible-test wants); the pip that does it comes from the
wheel Debian's python3-pip-whl ships, instead of one embedded in the script.
"""

from __future__ import annotations

import glob
import sys


def main() -> int:
    wheels = sorted(glob.glob("/usr/share/python-wheels/pip-*.whl"))
    if not wheels:
        print("no pip wheel in /usr/share/python-wheels (install python3-pip-whl)", file=sys.stderr)
        return 1
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # noqa: PLC0415 - from the wheel above

    # get-pip.py's own flags: it would otherwise add setuptools and wheel; this never does.
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    return pip_main(["install", "--upgrade", "--force-reinstall", *args])


if __name__ == "__main__":
    sys.exit(main())
