"""The protocol-level built-in lab (make demo) elects, fails over and preempts."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo" / "simulated_pair.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("simulated_pair", DEMO)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_demo_elects_fails_over_within_master_down_interval_and_preempts():
    out = io.StringIO()
    segment = load_demo().run(out)
    moves = [(t, name, what) for t, name, what in segment.log if "-> MASTER" in what]
    assert [name for _, name, _ in moves] == ["RT-1", "RT-2", "RT-1"]
    # RT-2's takeover: the last advert from RT-1 arrived before t=10; the takeover
    # comes one Master_Down_Interval (3 s + skew 156/256 s) after it, at most.
    takeover = moves[1][0]
    assert 10.0 < takeover <= 10.0 + 3 + 156 / 256
    assert segment.masters() == ["RT-1"]
    assert not any("dropped" in what for _, _, what in segment.log)
    assert "RT-2 became MASTER" in out.getvalue()


def test_demo_wire_carries_ah_that_a_wrong_password_rejects():
    demo = load_demo()
    honest = demo.make_router("RT-1", "10.1.1.1", 200)
    datagram = honest.sender.ipv4_datagram(200, demo.MCAST_V4)
    intruder = demo.load_config(
        {
            "vrrp": {
                "groups": {
                    "LAN": {**demo.GROUP, "authentication": {"type": "ah", "password": "guess"}}
                }
            }
        }
    ).groups["LAN"]
    from routerha.vrrp.drops import DropReason, PacketError
    from routerha.vrrp.receive import Receiver

    with pytest.raises(PacketError) as caught:
        Receiver([intruder]).receive_ipv4(datagram)
    assert caught.value.reason is DropReason.AUTH_DATA
