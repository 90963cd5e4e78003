"""routerhad: the command line, signals, pid file, systemd readiness."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import os
import resource
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from routerha import __version__
from routerha.ctl.client import DEFAULT_CONTROL, RUN_DIR
from routerha.errors import ConfigError, RouterhaError
from routerha.model import Config, load_config

from . import control, logthrottle
from .ahstate import DEFAULT_STATE_DIR
from .pidfile import PidFile, PidFileError
from .service import Service

DEFAULT_PIDFILE = f"{RUN_DIR}/routerhad.pid"
#: Below the kernel's own threads (50) and above every ordinary process.
REALTIME_PRIORITY = 10

log = logging.getLogger("routerhad")


def read_config(path: str) -> Config:
    """Load and validate a config file; ConfigError names the key at fault."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = json.load(handle)
    except OSError as error:
        raise ConfigError([(path, f"cannot be read: {error.strerror}")]) from error
    except json.JSONDecodeError as error:
        raise ConfigError(
            [(path, f"is not JSON: line {error.lineno} column {error.colno}: {error.msg}")]
        ) from error
    config = load_config(data)
    secrets = holds_secrets(config)
    if secrets and mode & 0o044:
        log.warning(
            "%s holds %s and is readable by %s (mode %04o): chmod 600 it",
            path,
            secrets,
            "group and others" if mode & 0o044 == 0o044 else "group" if mode & 0o040 else "others",
            mode & 0o7777,
        )
    return config


def holds_secrets(config: Config) -> str | None:
    """What secret the configuration holds (for the permission warning), if any."""
    for name, group in config.groups.items():
        if group.authentication is not None:
            return f"the password of group {name}"
    sync = config.conntrack_sync
    if sync is not None and sync.authentication is not None and sync.authentication.enabled:
        return "the conntrack sync key"
    return None


def raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: sockets, netlink, scripts and control
    clients share it, and the soft default (1,024) is small for a router."""
    with contextlib.suppress(OSError, ValueError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) about readiness; silent when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())


PR_SET_TIMERSLACK = 29


def precise_sleep() -> None:
    """Let sleeps end on time: the kernel may otherwise let a normal thread's timer
    expire up to 50 us late (its timer slack), and the loop's wait for its next
    timer is such a sleep. A no-op where prctl is missing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def release_freed_memory() -> None:
    """Give the memory freed since start-up back to the kernel: glibc keeps what a
    program frees for later, and start-up frees much (compiling the model's
    dataclasses, parsing the configuration): about 1.5 MB, 7 % of the daemon's
    resident memory. A no-op on a libc without malloc_trim."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def steady_loop(realtime: bool) -> None:
    """Keep 10 ms timers on time on a busy machine.

    Real-time round-robin scheduling puts the daemon ahead of ordinary work on the
    same core (keepalived's vrrp_rt_priority); freezing the objects that exist after
    start-up and raising the collector's threshold keeps garbage collection pauses
    out of the hot path (the steady state allocates little).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50000, 50, 100)
    release_freed_memory()
    precise_sleep()
    if not realtime:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
    except (OSError, AttributeError) as error:
        log.warning("real-time scheduling not available (%s); timers may slip under load", error)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="routerhad", description="VRRP router daemon (RFC 3768, RFC 5798)"
    )
    parser.add_argument("--config", required=True, help="JSON config file")
    parser.add_argument(
        "--control", default=DEFAULT_CONTROL, help=f"control socket (default {DEFAULT_CONTROL})"
    )
    parser.add_argument(
        "--pidfile", default=DEFAULT_PIDFILE, help=f"pid file (default {DEFAULT_PIDFILE})"
    )
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help="where state kept across restarts lives (AH sequence numbers), created mode "
        f"0700 when first needed (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--check-config", action="store_true", help="validate the config and exit")
    parser.add_argument(
        "--no-realtime",
        action="store_true",
        help="do not ask for real-time scheduling (SCHED_RR) for the timer loop",
    )
    parser.add_argument("--version", action="version", version=f"routerhad {__version__}")
    return parser.parse_args(argv)


def ordinary_scheduling() -> None:
    """Run the calling thread at normal priority (SCHED_OTHER).

    A worker thread (conntrack dumps, parsing, encoding) would otherwise inherit
    the loop's SCHED_RR: busy real-time workers then hold the CPUs in 100 ms
    round-robin slices, and the loop thread, needing the CPU back for a 10 ms
    timer, waits behind them (the false takeover this caused under a 100,000
    entry table is why)."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


async def run(
    config: Config, config_path: str, control_path: str, realtime: bool, state_dir: str
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(thread_name_prefix="routerhad-worker", initializer=ordinary_scheduling)
    )
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    service = Service(state_dir)
    await service.apply(config)
    reloading = asyncio.Lock()

    async def reload() -> dict[str, Any]:
        async with reloading:
            try:
                new = read_config(config_path)
                applied = await service.apply(new)
                release_freed_memory()
                return {"reloaded": applied}
            except ConfigError as error:
                log.error("reload refused, the running configuration stays: %s", error)
                return {"error": f"config error: {error}"}
            except (RouterhaError, OSError) as error:
                log.error("reload failed, the running configuration stays: %s", error)
                return {"error": str(error)}

    def conntrack(what: object) -> dict[str, Any]:
        if service.ctsync is None:
            return {"error": "conntrack sync is not configured"}
        if what == "stats":
            return {"stats": service.ctsync.stats()}
        if what in ("internal-cache", "external-cache"):
            return {"entries": service.ctsync.cache(str(what).split("-", maxsplit=1)[0])}
        return {"error": f"unknown conntrack view {what!r}"}

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        if command == "status":
            return {**service.status(), "control": dict(control_server.counters)}
        if command == "reload":
            return await reload()
        if command == "conntrack":
            return conntrack(request.get("what"))
        return {"error": f"unknown command {command!r}"}

    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
    control_server = control.ControlServer(handle)
    server = await control.serve(control_path, control_server)
    steady_loop(realtime)
    sd_notify("READY=1")
    log.info("routerhad %s running %d groups", __version__, len(service.groups))
    try:
        await stopping.wait()
    finally:
        sd_notify("STOPPING=1")
        server.close()
        await service.stop()
        if os.path.exists(control_path):
            os.unlink(control_path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="routerhad: %(levelname)s %(message)s",
    )
    for handler in logging.getLogger().handlers:
        logthrottle.install(handler)
    # pyroute2 (the conntrack sync's netlink) logs every message at debug level:
    # keep it to its warnings.
    logging.getLogger("pyroute2").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        config = read_config(args.config)
    except ConfigError as error:
        for path, why in error.problems:
            print(f"routerhad: config error: {path}: {why}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"routerhad: {args.config}: {len(config.groups)} groups, configuration OK")
        return 0
    raise_fd_limit()
    pidfile = PidFile(args.pidfile)
    try:
        pidfile.create()
    except PidFileError as error:
        print(f"routerhad: {error}", file=sys.stderr)
        return 1
    try:
        asyncio.run(run(config, args.config, args.control, not args.no_realtime, args.state_dir))
    except (RouterhaError, OSError) as error:
        print(f"routerhad: {error}", file=sys.stderr)
        return 1
    finally:
        pidfile.remove()
    return 0


if __name__ == "__main__":
    # ``python -m routerha.daemon.main`` still runs the daemon (with ssl loaded):
    # ``python -m routerha.daemon`` is the way that keeps it out.
    sys.exit(main())
