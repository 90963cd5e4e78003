"""The AH sequence numbers of one group (VRRPv2 authentication type 2), sans-IO.

Two rules, and what the I/O layer must persist to keep them across restarts:

- **Sent numbers never repeat.** Sending continues above everything sent or
  accepted (as keepalived does: a backup that takes over continues above the old
  master's numbers, so peers that keep one counter, keepalived among them, accept
  it). Across restarts a *reservation* covers it: the persisted mark is always at
  least ``BLOCK // 2`` above the last number sent, and a restarted router starts
  above the mark. A crash can lose at most the unwritten part of a block, never a
  number. Writes come once per ``BLOCK // 2`` adverts (at 1 s, every 8.5 minutes).
- **Accepted numbers only go up, per source.** A restarted router keeps the floor
  of each source, so adverts captured before the restart are replays. While it
  runs, a source must also send above what this router has sent (keepalived's
  single counter): after a takeover numbers do not go back either.

Why not time-based numbers (seconds since an epoch): a router that boots with a
wrong clock (no battery-backed clock, NTP not yet synchronised) would send numbers
its peers refuse, or accept replays; the persisted mark needs no clock.

The floors are per source, not one counter as in keepalived, so that a restarted
backup accepts a live master whose numbers stayed below the reservation the backup
made for its own sending. A peer whose numbers restarted from zero (its state lost,
or a keepalived, which keeps none) is refused until it has heard this router's
adverts, whose numbers it then continues above: after a simultaneous restart both
may be master for about one Master_Down_Interval.
"""

from __future__ import annotations

from collections.abc import Mapping

LIMIT = 0xFFFFFFFF
#: Numbers reserved per write of the persisted state.
BLOCK = 1024
#: Floors kept: senders are authenticated (the ICV is checked first), so only
#: key holders add one; the oldest floors go beyond this.
MAX_SOURCES = 32


class AhSequence:
    LIMIT = LIMIT

    def __init__(self, value: int = 0, accepted: Mapping[str, int] | None = None) -> None:
        #: The highest number sent or accepted: the next advert carries value + 1.
        self.value = value
        #: The highest number sent since this object exists (this run of the daemon).
        self.sent = 0
        #: Per source address (text): the highest number accepted from it.
        self.accepted: dict[str, int] = dict(accepted or {})
        #: Sends are covered by the persisted state up to here; None while the
        #: sequence is not persisted (tests, or no state directory).
        self.reserved: int | None = None
        #: Something the persisted state does not hold yet (a floor moved, or a
        #: new reservation is due).
        self.dirty = False

    @classmethod
    def restored(cls, reserved: int, accepted: Mapping[str, int]) -> AhSequence:
        """After a restart: any number up to the persisted reservation may have been
        sent already, so sending continues above it."""
        sequence = cls(min(reserved, LIMIT - 1), accepted)
        sequence.reserved = sequence.value
        sequence.dirty = True  # a new reservation, written before the first send
        return sequence

    def next(self) -> int:
        # On exhaustion start again; the peers adopt the new number from the first
        # packet they accept (after a takeover at worst). 2^32 adverts take 136 years.
        self.value = self.value + 1 if self.value < LIMIT else 1
        self.sent = self.value
        if self.reserved is not None and self.value + BLOCK // 2 > self.reserved:
            self.dirty = True
        return self.value

    def accept(self, source: str, sequence: int) -> bool:
        """Whether ``sequence`` from ``source`` is new; if so it becomes its floor."""
        if sequence <= self.floor(source):
            return False
        self.accepted[source] = sequence
        if len(self.accepted) > MAX_SOURCES:
            del self.accepted[min(self.accepted, key=self.accepted.__getitem__)]
        self.value = max(self.value, sequence)
        self.dirty = True
        return True

    def floor(self, source: str) -> int:
        """A source must send above what it sent before and above what this router
        sent in this run (so numbers do not go back after a takeover either)."""
        return max(self.accepted.get(source, 0), self.sent)

    def snapshot(self) -> tuple[int, dict[str, int]]:
        """What to persist now: a reservation BLOCK above the last number sent (or
        the current one, if still far enough ahead) and the floors. Call
        ``persisted`` with the reservation once it is on disk."""
        reserved = self.reserved or 0
        if self.value + BLOCK // 2 > reserved:
            reserved = min(self.value + BLOCK, LIMIT)
        return reserved, dict(self.accepted)

    def persisted(self, reserved: int) -> None:
        self.reserved = max(self.reserved or 0, reserved)
