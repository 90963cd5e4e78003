"""The configuration-session scripts of routerha.cluster.vyatta_config
(plugins/plugin_utils/vyatta_session.py), run by a real sh against a recording
stand-in for vyatta-cfg-cmd-wrapper; the fake appliance's own wrapper is exercised
in tests/lab and the appliance molecule scenario."""

from __future__ import annotations

import subprocess
import time

import pytest

RECORDER = """#!/bin/sh
# Records each call with the PID of the shell that made it (the session's key).
printf '%s %s\\n' "$PPID" "$*" >> "{log}"
case "$1" in {fail}) echo "Set failed: bad value" ; exit 1 ;; esac
exit 0
"""


@pytest.fixture
def session(collection_module):
    return collection_module("plugin_utils.vyatta_session")


def recorder(tmp_path, fail="__never__"):
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(RECORDER.format(log=log, fail=fail))
    wrapper.chmod(0o755)
    return wrapper, log


def calls(log):
    return [line.split(" ", 1) for line in log.read_text().splitlines()]


def test_a_session_runs_in_one_shell_with_every_word_intact(session, tmp_path):
    wrapper, log = recorder(tmp_path)
    script = session.session_script(
        str(wrapper),
        [
            "delete high-availability vrrp group OLD",
            "set high-availability vrrp group LAN description 'two words'",
            "set high-availability vrrp group LAN authentication password 'it''s'",
        ],
        commit="commit-confirm 5",
        save=True,
    )
    run = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, check=False)
    assert session.outcome(run.stdout, run.stderr) == (True, "")
    made = calls(log)
    assert {pid for pid, _words in made} == {made[0][0]}  # one parent: one session
    assert [words for _pid, words in made] == [
        "begin",
        "delete high-availability vrrp group OLD",
        "set high-availability vrrp group LAN description two words",
        "set high-availability vrrp group LAN authentication password its",
        "commit-confirm 5",
        "save",
        "end",
    ]


def test_a_failing_step_discards_and_ends_the_session_and_names_the_step(session, tmp_path):
    wrapper, log = recorder(tmp_path, fail="set")
    script = session.session_script(
        str(wrapper), ["set high-availability vrrp group LAN authentication password secret"]
    )
    run = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, check=False)
    ok, step = session.outcome(run.stdout, run.stderr)
    assert not ok and run.returncode == 1
    assert step == "set high-availability vrrp group LAN authentication password ********"
    assert [words for _pid, words in calls(log)] == [
        "begin",
        "set high-availability vrrp group LAN authentication password secret",
        "discard",
        "end",
    ]


def test_a_scheduled_session_waits_for_its_moment(session, tmp_path):
    wrapper, log = recorder(tmp_path)
    script = session.session_script(str(wrapper), ["set system host-name r1"])
    at = time.time() + 1.5
    run = subprocess.run(
        ["sh", "-s"], input=session.at_moment(script, at), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    done = time.time()
    assert session.outcome(run.stdout, run.stderr) == (True, "")
    assert at <= done < at + 2
    assert [words for _pid, words in calls(log)][1] == "set system host-name r1"


def test_a_member_late_for_its_moment_fails_and_never_opens_a_session(session, tmp_path):
    # Its worker started 3 s after the moment (too few forks): committing now
    # would split the group for 3 s, so it must not commit at all.
    wrapper, log = recorder(tmp_path)
    script = session.session_script(str(wrapper), ["set system host-name r1"])
    at = time.time() - 3
    run = subprocess.run(
        ["sh", "-s"], input=session.at_moment(script, at), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    ok, step = session.outcome(run.stdout, run.stderr)
    assert not ok and run.returncode == 1
    late = float(step.split("late by ", 1)[1].split()[0])
    assert 3 <= late < 5, step
    assert f"{at:.3f}" in step and "not committed" in step
    assert not log.exists()


def test_a_member_a_moment_late_within_the_tolerance_still_commits(session, tmp_path):
    wrapper, log = recorder(tmp_path)
    script = session.session_script(str(wrapper), ["set system host-name r1"])
    run = subprocess.run(
        ["sh", "-s"], input=session.at_moment(script, time.time() - 0.1, tolerance=2),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert session.outcome(run.stdout, run.stderr) == (True, "")
    assert [words for _pid, words in calls(log)][1] == "set system host-name r1"


def test_passwords_are_masked_consistently_within_one_masker(session):
    masker = session.Masker()
    lines = [
        "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication password 'Secret12'",
        "set high-availability vrrp group LAN authentication password Secret12",
        "set high-availability vrrp group WAN authentication password Other123",
        "set high-availability vrrp group LAN priority 200",
    ]
    masked = masker.lines(lines)
    assert not any("Secret12" in line or "Other123" in line for line in masked)
    assert masked[0].split()[-1] == masked[1].split()[-1] != masked[2].split()[-1]
    assert masked[3] == lines[3]
    assert session.Masker().line(lines[1]) != masked[1]  # keyed afresh
