"""Rate-limited log lines about dropped sync datagrams, and how routerhactl shows the
authentication counters."""

from __future__ import annotations

import logging

from routerha.ctl.main import conntrack_text
from routerha.daemon.droplog import DropLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_reason_per_interval_with_the_count_of_the_rest(caplog):
    clock = Clock()
    drops = DropLog(logging.getLogger("test.droplog"), clock, interval=10.0)
    with caplog.at_level(logging.WARNING, logger="test.droplog"):
        for _ in range(1000):
            drops.dropped("bad_mac", "192.0.2.9")
        drops.dropped("replayed", "192.0.2.9")
        clock.now = 10.0
        drops.dropped("bad_mac", "192.0.2.9")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "sync link: dropped a datagram from 192.0.2.9: bad mac",
        "sync link: dropped a datagram from 192.0.2.9: replayed",
        "sync link: dropped a datagram from 192.0.2.9: bad mac (and 999 more since the last "
        "such line)",
    ]


def test_conntrack_stats_text_writes_nested_counters_as_dotted_keys():
    text = conntrack_text(
        {
            "stats": {
                "external_cache": 3,
                "authentication": {"type": "hmac-sha256", "drops": {"bad_mac": 2}},
            }
        }
    )
    assert text.splitlines() == [
        "external_cache: 3",
        "authentication.type: hmac-sha256",
        "authentication.drops.bad_mac: 2",
    ]
