"""``fleet``: the routerhad daemons a test starts, whose logs every wait reports.
(``lab`` comes from tests/conftest.py.)"""

from __future__ import annotations

import pytest

from .routerhad_lab import Fleet


@pytest.fixture
def fleet(lab):
    return Fleet(lab)
