"""Small builders of model configurations for the render and converge tests."""

from __future__ import annotations

from routerha.model import Config, load_config


def group(interface: str, vrid: int, *address: str, **settings) -> dict:
    return {"interface": interface, "vrid": vrid, "address": list(address), **settings}


def config(groups: dict, sync_groups: dict | None = None, conntrack: dict | None = None) -> Config:
    data: dict = {"vrrp": {"groups": groups, "sync_groups": sync_groups or {}}}
    if conntrack is not None:
        data["conntrack_sync"] = conntrack
    return load_config(data)
