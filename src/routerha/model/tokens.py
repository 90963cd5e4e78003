"""How a secret is shown where it must not be read: a keyed digest of it.

A password or key in a diff, a result or a finding is shown as the HMAC-SHA256
of its value under a key the run draws afresh: within a run, the same secret
shows as the same token and a changed one as another, and nothing outside the
run can tell what it was.
"""

from __future__ import annotations

import hashlib
import hmac


def keyed_digest(key: bytes, value: str, length: int) -> str:
    """The first ``length`` hex digits of HMAC-SHA256(``key``, ``value``)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]
