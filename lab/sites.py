"""A fleet of N sites for the container lab: the topology (for lab/containers.py) and
the Ansible inventory that declares one cluster per site.

Each site is a router pair with a LAN (one VRRP group, the site's gateway) and a
dedicated sync link (conntrack sync, HMAC-keyed); no clients, so a fleet of many
sites stays cheap. Site ``i`` (1-based) is the cluster ``site_NN``, its routers
``sNN-r1`` (planned master, symmetric strategy) and ``sNN-r2``; its LAN is
10.(100+i).1.0/24 with the gateway .254, its sync link 10.(100+i).2.0/24.

::

    python -m lab.sites write N DIR [--prefix P] [--management CIDR]

writes DIR/topology.yml and DIR/inventory/ (hosts.yml, group_vars/); bring the lab up
with ``python -m lab.containers create DIR/topology.yml --inventory DIR/inventory/lab.yml``
and run ``ansible-playbook -i DIR/inventory routerha.cluster.rollout``.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

#: Sites fit in the second octet range 101..254 and one management /24.
MAX_SITES = 120
ROUTERS = ("r1", "r2")
#: The lab prefix and management subnet of a fleet, unless told otherwise.
PREFIX, MANAGEMENT = "rhs", "172.31.247.0/24"


def site_name(index: int) -> str:
    return f"site_{index:02d}"


def router_name(index: int, router: str) -> str:
    return f"s{index:02d}-{router}"


def topology(sites: int, prefix: str, management: str) -> dict[str, Any]:
    """The lab/containers.py topology of ``sites`` router pairs."""
    if not 1 <= sites <= MAX_SITES:
        raise ValueError(f"sites must be 1 to {MAX_SITES}, not {sites}")
    ipaddress.IPv4Network(management)  # a clear error before any container exists
    segments: dict[str, list[str]] = {}
    containers: dict[str, Any] = {}
    for index in range(1, sites + 1):
        octet = 100 + index
        segments[f"s{index:02d}-lan"] = [f"10.{octet}.1.0/24"]
        segments[f"s{index:02d}-sync"] = [f"10.{octet}.2.0/24"]
        for host, router in enumerate(ROUTERS, start=1):
            containers[router_name(index, router)] = {
                "kind": "router",
                "groups": [site_name(index)],
                "interfaces": {
                    "eth1": {
                        "segment": f"s{index:02d}-lan",
                        "addresses": [f"10.{octet}.1.{host}/24"],
                    },
                    "eth2": {
                        "segment": f"s{index:02d}-sync",
                        "addresses": [f"10.{octet}.2.{host}/24"],
                    },
                },
            }
    return {
        "name": f"sites{sites}",
        "prefix": prefix,
        "management": management,
        "segments": segments,
        "containers": containers,
    }


def cluster_vars(index: int) -> dict[str, Any]:
    """One site's cluster: the LAN gateway, conntrack sync on the sync link."""
    octet = 100 + index
    return {
        "routerha_cluster": site_name(index),
        "routerha_strategy": "symmetric",
        "routerha_groups": {
            "LAN": {
                "segment": "lan",
                "vrid": 10,
                "address": [f"10.{octet}.1.254/24"],
                "advertise_interval": 1,
            }
        },
        "routerha_sync_groups": {"GW": {"member": ["LAN"]}},
        "routerha_conntrack_sync": {
            "segment": "sync",
            "peer": "auto",
            "failover_mechanism": {"sync_group": "GW"},
            "authentication": {
                "type": "hmac-sha256",
                "key_id": 1,
                "key": f"site-{index:02d}-lab-sync-key-0123456789",
            },
        },
    }


def router_vars(index: int, host: int) -> dict[str, Any]:
    octet = 100 + index
    return {
        "routerha_preference": host,
        "routerha_addresses": {
            "lan": [f"10.{octet}.1.{host}/24"],
            "sync": [f"10.{octet}.2.{host}/24"],
        },
    }


def write(sites: int, directory: Path, prefix: str = PREFIX, management: str = MANAGEMENT) -> Path:
    """Write ``directory``/topology.yml and ``directory``/inventory/; return the topology's path."""
    spec = topology(sites, prefix, management)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "topology.yml"
    path.write_text(
        "# A fleet of router pairs (lab/sites.py).\n" + yaml.safe_dump(spec, sort_keys=False)
    )
    inventory = directory / "inventory"
    for sub in ("group_vars", "host_vars"):
        (inventory / sub).mkdir(parents=True, exist_ok=True)
    hosts = {
        "all": {
            "children": {"routerha": {"children": {site_name(i): {} for i in range(1, sites + 1)}}}
        }
    }
    (inventory / "hosts.yml").write_text("---\n" + yaml.safe_dump(hosts, sort_keys=False))
    (inventory / "group_vars" / "routerha.yml").write_text(
        "---\n" + yaml.safe_dump({"routerha_segments": {"lan": "eth1", "sync": "eth2"}})
    )
    for index in range(1, sites + 1):
        (inventory / "group_vars" / f"{site_name(index)}.yml").write_text(
            "---\n" + yaml.safe_dump(cluster_vars(index), sort_keys=False)
        )
        for host, router in enumerate(ROUTERS, start=1):
            (inventory / "host_vars" / f"{router_name(index, router)}.yml").write_text(
                "---\n" + yaml.safe_dump(router_vars(index, host), sort_keys=False)
            )
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.sites", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("write", help="write a fleet's topology and inventory")
    make.add_argument("sites", type=int)
    make.add_argument("directory", type=Path)
    make.add_argument("--prefix", default=PREFIX)
    make.add_argument("--management", default=MANAGEMENT)
    args = parser.parse_args(argv)
    try:
        path = write(args.sites, args.directory, args.prefix, args.management)
    except ValueError as error:
        parser.error(str(error))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
