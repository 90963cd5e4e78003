"""Small builders of model configurations for the render and converge tests."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable

from lab.appliance import vyatta_schema
from routerha.model import Config, load_config


def group(interface: str, vrid: int, *address: str, **settings) -> dict:
    return {"interface": interface, "vrid": vrid, "address": list(address), **settings}


def config(groups: dict, sync_groups: dict | None = None, conntrack: dict | None = None) -> Config:
    data: dict = {"vrrp": {"groups": groups, "sync_groups": sync_groups or {}}}
    if conntrack is not None:
        data["conntrack_sync"] = conntrack
    return load_config(data)


def renamed(config: Config) -> Config:
    """Groups named as the vyatta syntax names them (IFACE-VRID), the same otherwise."""
    names = {name: f"{g.interface}-{g.vrid}" for name, g in config.groups.items()}
    return Config(
        groups={names[n]: dataclasses.replace(g, name=names[n]) for n, g in config.groups.items()},
        sync_groups={
            n: dataclasses.replace(s, member=tuple(names[m] for m in s.member))
            for n, s in config.sync_groups.items()
        },
        conntrack_sync=config.conntrack_sync,
    )


def schema_checked(syntax: str, lines: Iterable[str]) -> int:
    """Check the ``set`` and ``delete`` command lines against the router's schema for
    ``syntax`` where it covers their paths; how many lines it checked."""
    schema = vyatta_schema.load(syntax)
    checked = 0
    for line in lines:
        verb, *words = shlex.split(line)
        if schema.covers(words):  # the vyatta schema leaves conntrack-sync out
            (schema.validate_delete if verb == "delete" else schema.validate_set)(words)
            checked += 1
    return checked
