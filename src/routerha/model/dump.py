"""The model back to the plain data ``load_config`` reads: the inverse of load.py.

Used where a configuration found on a router (a native one parsed by
``routerha.model.native``) is to be shown or written as routerhad's own, for
instance when VyOS's own VRRP is migrated to routerhad. Only what differs from a
default is written, except each group's ``version`` (its default depends on the
address family), so the output reads like a hand-written file;
``load_config(dump_config(c)) == c`` for every valid ``c``.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from typing import Any

from .conntrack_sync import ConntrackSync
from .vrrp import Config, SyncGroup, Track, VrrpGroup

_ADDRESS_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


def _plain(value: Any) -> Any:
    """A model value as JSON data: addresses as text, enums by value, tuples as lists."""
    if isinstance(value, _ADDRESS_TYPES):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Track):
        return _track(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    return value


def _fields(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a dataclass that differ from their defaults, as plain data."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        if field.name in skip:
            continue
        value = getattr(obj, field.name)
        if field.default is not dataclasses.MISSING and value == field.default:
            continue
        if field.default_factory is not dataclasses.MISSING and value == field.default_factory():
            continue
        plain = _plain(value)
        if plain in ({}, []) and field.default is not dataclasses.MISSING:
            continue
        out[field.name] = plain
    return out


def _track(track: Track) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if track.interface:
        out["interface"] = [
            item.name if item.weight is None else {"name": item.name, "weight": item.weight}
            for item in track.interface
        ]
    if track.exclude_vrrp_interface:
        out["exclude_vrrp_interface"] = True
    return out


def _addresses(group: VrrpGroup, addresses: tuple[Any, ...]) -> list[Any]:
    """Addresses as text, those on another interface as ``{"address", "interface"}``."""
    out: list[Any] = []
    for address in addresses:
        other = group.interface_of(address)
        out.append(str(address) if other is None else {"address": str(address), "interface": other})
    return out


def _group(group: VrrpGroup) -> dict[str, Any]:
    out = _fields(group, skip=("name", "address_interface"))
    out["version"] = group.version
    for name in ("interface", "vrid"):
        out[name] = _plain(getattr(group, name))
    out["address"] = _addresses(group, group.address)
    if group.excluded_address:
        out["excluded_address"] = _addresses(group, group.excluded_address)
    return out


def _sync_group(sync_group: SyncGroup) -> dict[str, Any]:
    out = _fields(sync_group, skip=("name",))
    out["member"] = list(sync_group.member)
    return out


def _conntrack_sync(sync: ConntrackSync) -> dict[str, Any]:
    out = _fields(sync, skip=("sync_group",))
    out["interface"] = sync.interface
    out["failover_mechanism"] = {"sync_group": sync.sync_group}
    return out


def dump_config(config: Config) -> dict[str, Any]:
    """``config`` as the plain data of a routerhad configuration file."""
    out: dict[str, Any] = {
        "vrrp": {"groups": {name: _group(group) for name, group in config.groups.items()}}
    }
    if config.sync_groups:
        out["vrrp"]["sync_groups"] = {
            name: _sync_group(sync_group) for name, sync_group in config.sync_groups.items()
        }
    if config.conntrack_sync is not None:
        out["conntrack_sync"] = _conntrack_sync(config.conntrack_sync)
    return out
