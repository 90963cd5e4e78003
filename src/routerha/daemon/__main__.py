"""routerhad's process: ``python -m routerha.daemon`` and the ``routerhad`` command.

The process is set up here, before the daemon's modules are imported: routerhad
speaks no TLS, and asyncio imports ssl whenever it can, which alone is a fifth of
the daemon's memory.
"""

from __future__ import annotations

import sys


def main() -> int:
    # An ImportError for ssl, which asyncio expects on Pythons built without it.
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    from routerha.daemon.main import main as run_daemon  # noqa: PLC0415 - after the line above

    return run_daemon()


if __name__ == "__main__":
    sys.exit(main())
