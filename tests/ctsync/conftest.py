"""Every random choice in these tests comes from a seeded generator, so a run repeats.

A ``SyncProtocol``'s session (its first sequence number) decides where sequence
numbers wrap round and whether a restarted peer's numbers fall behind the old ones;
a ``SyncAuth``'s nonces decide its sessions. Left to their defaults they come from
the unseeded global ``random`` and ``os.urandom``, and a failure might never
happen again. Tests pass ``first_sequence`` and ``random`` explicitly, drawn from
``rng`` (or their own ``random.Random(seed)``); ``_only_seeded_randomness`` makes
the defaults fail, so a test that forgets cannot pass.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

import pytest

from routerha.ctsync import protocol
from routerha.ctsync.auth import SyncAuth


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """This test's generator, seeded from its id: the same draws on every run,
    whichever other tests run before it."""
    return random.Random(zlib.crc32(request.node.nodeid.encode()))


class _Unseeded:
    """Stands in for the global ``random`` where the protocol draws a session."""

    def getrandbits(self, bits: int) -> int:
        raise AssertionError("unseeded session: pass first_sequence=rng.getrandbits(32)")


def _unseeded_bytes(size: int) -> bytes:
    raise AssertionError("unseeded nonce: pass SyncAuth(..., random=rng.randbytes)")


@pytest.fixture(autouse=True)
def _only_seeded_randomness(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(protocol, "random", _Unseeded())
    # SyncAuth's default source is bound when the class is defined: replace the default.
    defaults = SyncAuth.__init__.__kwdefaults__
    assert defaults is not None and "random" in defaults
    monkeypatch.setitem(defaults, "random", _unseeded_bytes)
    yield
