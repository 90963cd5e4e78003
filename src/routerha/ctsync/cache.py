"""The external cache: the peer's entries, at most as many as the kernel table holds.

The peer cannot have more connections than a kernel table holds
(``nf_conntrack_max``), so more than that in the external cache is junk; it
would only cost memory and, on a takeover, a table full of it. A new key beyond
the bound is refused and counted; a key already held is still updated.
"""

from __future__ import annotations


class ExternalCache(dict[bytes, bytes]):
    """key -> state, holding at most ``limit`` keys; ``refused`` new keys beyond it."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.refused = 0

    def store(self, key: bytes, state: bytes) -> bool:
        """Hold ``state`` for ``key``; False (counted) if that would pass the bound."""
        if key not in self and len(self) >= self.limit:
            self.refused += 1
            return False
        self[key] = state
        return True
