"""The shared rollover-step helpers (plugins/module_utils/staged_config.py)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def staged(collection_module):
    return collection_module("module_utils.staged_config")


def test_waiting_for_the_agreed_time_is_on_time(staged):
    at = time.time() + 0.2
    assert staged.wait_until(at) == 0.0
    assert time.time() >= at


def test_a_step_that_starts_after_the_agreed_time_says_how_late(staged):
    late = staged.wait_until(time.time() - 1.5)
    assert 1.5 <= late < 10


def test_no_agreed_time_is_no_wait(staged):
    assert staged.wait_until(None) == 0.0
