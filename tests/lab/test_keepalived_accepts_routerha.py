"""keepalived 2.2.7 accepts the advertisements routerha's codec builds.

keepalived is master on r1 (priority 200). On r2 a ``ScriptedRouter`` (routerha's
``Sender`` on raw sockets, IP_HDRINCL for IPv4) advertises priority 250 every
interval: keepalived must yield (MASTER -> BACKUP). One priority-0 advert then makes
it take over at once (RFC 5798 section 6.4.2: Skew_Time instead of
Master_Down_Interval). With a wrong password keepalived must log the rejection and
stay MASTER, which shows it really checks what it accepts.
"""

from __future__ import annotations

import time

import pytest

from lab.netlab import Keepalived, keepalived
from tests.lab.vrrp_lab import (
    BY_ID,
    CASES,
    INSTANCE,
    UNICAST_CASES,
    Case,
    ScriptedRouter,
    keepalived_config,
    routerha_group,
    two_routers,
)

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.timeout(60)]

#: keepalived's log lines for the rejections (keepalived/vrrp/vrrp.c).
REJECTED = {
    "PASS": r"\(VI_1\) received an invalid passwd!",
    "AH": r"\(VI_1\) IPSEC-AH : invalid IPSEC HMAC-MD5 value",
}


def keepalived_master(lab, case: Case) -> Keepalived:
    two_routers(lab)
    ka = keepalived(lab, "r1", keepalived_config(case, priority=200))
    ka.wait_state(INSTANCE, "MASTER", timeout=case.master_down(200) + 3)
    return ka


def stays(ka: Keepalived, state: str, seconds: float) -> None:
    """Assert ``INSTANCE`` remains in ``state`` for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert ka.state(INSTANCE) == state, f"left {state}\n{ka.report(INSTANCE)}"
        time.sleep(0.02)


YIELD_CASES = [*CASES, *UNICAST_CASES]


@pytest.mark.parametrize("case", YIELD_CASES, ids=[c.id for c in YIELD_CASES])
def test_keepalived_yields_to_routerha_and_takes_over_on_priority_0(lab, case):
    ka = keepalived_master(lab, case)
    with ScriptedRouter(lab, "r2", routerha_group(case)) as peer:
        # As a routerha backup would: hear the master first (for AH, its sequence
        # number, which ours must exceed), then preempt it.
        heard = peer.hear(timeout=2 * case.interval + 1)
        assert heard.event.priority == 200
        peer.start(priority=250)
        ka.wait_state(INSTANCE, "BACKUP", timeout=2 * case.interval + 2)
        if case.version == 3:
            # Held down by the stream of adverts beyond its Master_Down_Interval
            # (cheap at 0.1 s; at VRRPv2's 1 s the priority-0 step below suffices).
            stays(ka, "BACKUP", case.master_down(200) * 2)

        peer.stop(resign=True)
        resigned = time.monotonic()
        ka.wait_log(r"\(VI_1\) Backup received priority 0 advertisement", timeout=2)
        ka.wait_state(INSTANCE, "MASTER", timeout=2)
        took = time.monotonic() - resigned

    # Skew_Time, not Master_Down_Interval: the priority-0 advert was what counted.
    assert took < case.master_down(200), f"took {took:.2f} s\n{ka.report(INSTANCE)}"
    assert ka.states(INSTANCE) == ["BACKUP", "MASTER", "BACKUP", "MASTER"], ka.report(INSTANCE)
    assert peer.sent >= 2


def test_keepalived_takes_over_when_routerha_falls_silent(lab):
    case = BY_ID["v3-ipv4"]
    ka = keepalived_master(lab, case)
    with ScriptedRouter(lab, "r2", routerha_group(case)) as peer:
        peer.start(priority=250)
        ka.wait_state(INSTANCE, "BACKUP", timeout=2)
        peer.stop()
        silent = time.monotonic()
        ka.wait_state(INSTANCE, "MASTER", timeout=2)
    took = time.monotonic() - silent
    # Master_Down_Interval after the last advert (0.1 s at most before the silence).
    assert case.master_down(200) - case.interval - 0.05 < took < case.master_down(200) + 0.5, (
        f"took {took:.2f} s\n{ka.report(INSTANCE)}"
    )


@pytest.mark.parametrize("case", [BY_ID["v2-pass"], BY_ID["v2-ah"]], ids=["v2-pass", "v2-ah"])
def test_keepalived_rejects_routerha_with_wrong_password(lab, case):
    ka = keepalived_master(lab, case)
    with ScriptedRouter(lab, "r2", routerha_group(case, password="WRONGPW")) as peer:
        peer.sender.sequence.value = 1000  # AH: so a replay is not why it is refused
        peer.start(priority=250)
        # Two rejections in a row, and no transition in between or after.
        ka.wait_log(f"(?s){REJECTED[case.auth]}.*{REJECTED[case.auth]}", timeout=4)
    assert ka.states(INSTANCE) == ["BACKUP", "MASTER"], ka.report(INSTANCE)
