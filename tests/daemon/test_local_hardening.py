"""routerhad's local surface without a network: the pid file, the control socket's
mode, the config permission warning, the log throttle and the AH state file."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import sys

import pytest

from routerha.daemon import ahstate, control
from routerha.daemon.ahstate import AhStateKeeper, StateError
from routerha.daemon.logthrottle import Throttle
from routerha.daemon.pidfile import PidFile, PidFileError
from routerha.model import load_config
from routerha.vrrp.ahsequence import BLOCK, AhSequence

GROUP = {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]}
AH_GROUP = {**GROUP, "version": 2, "authentication": {"type": "ah", "password": "secret"}}


def routerhad(*args):
    return subprocess.run(
        [sys.executable, "-m", "routerha.daemon", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def write_config(path, group, mode):
    path.write_text(json.dumps({"vrrp": {"groups": {"LAN": group}}}))
    path.chmod(mode)
    return path


# Pid file ---------------------------------------------------------------------------


def test_a_planted_symlink_at_the_pid_file_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "shadow"
    target.write_text("root:secret\n")
    target.chmod(0o600)
    link = tmp_path / "routerhad.pid"
    link.symlink_to(target)
    config = write_config(tmp_path / "c.json", GROUP, 0o600)
    done = routerhad("--config", str(config), "--pidfile", str(link), "--control", "x.sock")
    assert done.returncode == 1
    assert "symbolic link" in done.stderr
    assert target.read_text() == "root:secret\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert link.is_symlink()


def test_pid_file_is_created_exclusively_and_removed_only_if_ours(tmp_path):
    path = tmp_path / "run" / "routerhad.pid"
    pidfile = PidFile(str(path))
    pidfile.create()
    assert path.read_text() == f"{os.getpid()}\n"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # a run directory it made
    path.write_text("1\n")  # replaced behind its back: not ours any more
    pidfile.remove()
    assert path.exists()


def test_a_stale_pid_file_is_replaced_and_a_live_one_refused(tmp_path):
    path = tmp_path / "routerhad.pid"
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(f"{dead.pid}\n")
    PidFile(str(path)).create()
    assert path.read_text() == f"{os.getpid()}\n"

    with subprocess.Popen(["sleep", "30"]) as alive:
        try:
            path.write_text(f"{alive.pid}\n")
            with pytest.raises(PidFileError, match=f"already runs as pid {alive.pid}"):
                PidFile(str(path)).create()
        finally:
            alive.kill()
    path.write_text("garbage")
    with pytest.raises(PidFileError, match="holds no pid"):
        PidFile(str(path)).create()


# Control socket ---------------------------------------------------------------------


def test_control_socket_is_0600_and_the_umask_is_left_alone(tmp_path):
    old = os.umask(0o002)
    try:
        sock = control.bind(str(tmp_path / "ctl.sock"))
        try:
            assert os.umask(0o002) == 0o002  # unchanged by bind
            info = os.lstat(tmp_path / "ctl.sock")
            assert stat.S_ISSOCK(info.st_mode)
            assert stat.S_IMODE(info.st_mode) == 0o600
            assert [p.name for p in tmp_path.iterdir()] == ["ctl.sock"]  # no leftover
        finally:
            sock.close()
    finally:
        os.umask(old)


def test_control_socket_path_holding_a_file_is_refused(tmp_path):
    path = tmp_path / "ctl.sock"
    path.write_text("not a socket")
    with pytest.raises(control.ControlError, match="not a socket"):
        control.bind(str(path))
    assert path.read_text() == "not a socket"


def test_idle_clients_are_evicted_so_a_request_gets_an_answer(tmp_path):
    path = str(tmp_path / "ctl.sock")

    async def scenario():
        async def handle(request):
            return {"ok": request["command"]}

        server = control.ControlServer(handle)
        listener = await control.serve(path, server)
        idle = []
        for _ in range(3 * control.MAX_CONNECTIONS):
            idle.append(await asyncio.open_unix_connection(path))
        await asyncio.sleep(0.2)
        assert server.active <= control.MAX_CONNECTIONS + 1
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b'{"command": "status"}\n')
        answer = await asyncio.wait_for(reader.readline(), 5)
        for _r, w in idle:
            w.close()
        writer.close()
        listener.close()
        return json.loads(answer), server.counters

    answer, counters = asyncio.run(scenario())
    assert answer == {"ok": "status"}
    assert counters["evicted"] >= 2 * control.MAX_CONNECTIONS


# Config permissions -----------------------------------------------------------------


def test_a_config_with_passwords_readable_by_others_draws_a_warning(tmp_path):
    config = write_config(tmp_path / "c.json", AH_GROUP, 0o644)
    done = routerhad("--check-config", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "holds the password of group LAN" in done.stderr
    assert "chmod 600" in done.stderr
    assert "secret" not in done.stderr

    config.chmod(0o600)
    assert "chmod" not in routerhad("--check-config", "--config", str(config)).stderr
    plain = write_config(tmp_path / "plain.json", GROUP, 0o644)
    assert "chmod" not in routerhad("--check-config", "--config", str(plain)).stderr


# Log throttle -----------------------------------------------------------------------


def test_log_lines_of_one_kind_are_rate_limited_and_the_suppressed_counted():
    now = [0.0]
    throttle = Throttle(burst=5, per_seconds=1.0, clock=lambda: now[0])

    def record():
        return logging.LogRecord("routerhad", logging.DEBUG, "", 0, "dropped: %s", ("x",), None)

    passed = [throttle.filter(record()) for _ in range(10_000)]
    assert sum(passed) == 5
    assert throttle.suppressed == 9_995
    now[0] = 1.0
    line = record()
    assert throttle.filter(line)
    assert "9995 more like this suppressed" in line.getMessage()
    other = logging.LogRecord("routerhad", logging.INFO, "", 0, "another kind", (), None)
    assert throttle.filter(other)


# AH sequence numbers kept across restarts --------------------------------------------


def ah_group(vrid=1):
    data = {**AH_GROUP, "vrid": vrid}
    return load_config({"vrrp": {"groups": {"LAN": data}}}).groups["LAN"]


def keeper_run(directory, body):
    async def scenario():
        keeper = AhStateKeeper(str(directory))
        await keeper.open()
        try:
            return body(keeper)
        finally:
            await keeper.close()

    return asyncio.run(scenario())


def test_sent_numbers_never_repeat_across_restarts(tmp_path):
    sent: list[int] = []

    def run(keeper):
        sequence = keeper.sequence(ah_group())
        sent.extend(sequence.next() for _ in range(3))

    for _ in range(3):
        keeper_run(tmp_path, run)
    assert sent == sorted(set(sent)), sent
    assert sent[3] > sent[2] and sent[6] > sent[5]


def test_a_crash_cannot_reuse_a_number_the_reservation_covers(tmp_path):
    async def crashed():
        keeper = AhStateKeeper(str(tmp_path / "state"))
        await keeper.open()
        sequence = keeper.sequence(ah_group())
        await keeper.flush()  # what apply does before the first send
        numbers = [sequence.next() for _ in range(BLOCK // 4)]
        keeper._task.cancel()  # a crash: no final write, the lock goes with the process
        os.close(keeper._lock_fd)
        return numbers

    numbers = asyncio.run(crashed())
    directory = tmp_path / "state"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    after = keeper_run(directory, lambda k: k.sequence(ah_group()).next())
    assert after > max(numbers)


def test_accepted_floors_survive_a_restart_per_source(tmp_path):
    def first(keeper):
        sequence = keeper.sequence(ah_group())
        assert sequence.accept("10.0.0.2", 500)

    def second(keeper):
        sequence = keeper.sequence(ah_group())
        return (
            sequence.accept("10.0.0.2", 500),  # a replay of what was seen
            sequence.accept("10.0.0.3", 7),  # another source: its own floor
            sequence.accept("10.0.0.2", 501),
        )

    keeper_run(tmp_path, first)
    assert keeper_run(tmp_path, second) == (False, True, True)


def test_a_damaged_state_file_is_refused_with_its_name(tmp_path):
    (tmp_path / ahstate.STATE_FILE).write_text('{"format": 1, "groups": {"eth0/1": {"reserved": -4')
    with pytest.raises(StateError, match=r"ah-sequence\.json is damaged"):
        keeper_run(tmp_path, lambda k: None)


def test_two_daemons_cannot_share_a_state_directory(tmp_path):
    async def scenario():
        first = AhStateKeeper(str(tmp_path))
        await first.open()
        try:
            with pytest.raises(StateError, match="in use by another routerhad"):
                await AhStateKeeper(str(tmp_path)).open()
        finally:
            await first.close()

    asyncio.run(scenario())


def test_a_restarted_receiver_accepts_a_live_master_below_its_own_reservation():
    # The backup restarted (its sending reservation jumped) while the master went on:
    # the master's next advert is above what the backup accepted from it, not above
    # the backup's reservation, and must be accepted.
    restored = AhSequence.restored(reserved=10_000, accepted={"10.0.0.1": 40})
    assert not restored.accept("10.0.0.1", 40)
    assert restored.accept("10.0.0.1", 41)
    assert restored.next() > 10_000
