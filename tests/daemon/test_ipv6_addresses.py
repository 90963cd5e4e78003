"""The IPv6 addresses of received adverts (daemon/sockets.py): parsed once per
distinct address, and bounded however many forged sources arrive."""

from __future__ import annotations

import ipaddress

from routerha.daemon import sockets


def test_forged_sources_cannot_grow_the_address_cache_past_its_limit() -> None:
    cache = sockets._AddressCache()
    for n in range(10 * cache.LIMIT):
        assert cache[f"fe80::{n:x}"] == ipaddress.IPv6Address(f"fe80::{n:x}")
        assert len(cache) <= cache.LIMIT


def test_a_known_address_is_the_same_object_and_text_and_octets_agree() -> None:
    cache = sockets._AddressCache()
    first = cache["fe80::2"]
    assert cache["fe80::2"] is first
    assert cache[first.packed] == first
