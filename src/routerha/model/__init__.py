"""The one data model of routerha.

Shaped after VyOS 1.4's ``high-availability vrrp`` and ``service conntrack-sync``
trees, with dashes written as underscores. The daemon's config file, the Ansible
role variables and the native configurations parsed by the checks all load into
these classes; nothing else describes a VRRP group.
"""

from .load import load_config
from .vrrp import (
    AddressInterface,
    Authentication,
    AuthType,
    Config,
    Garp,
    HealthCheck,
    SyncGroup,
    Track,
    TrackedInterface,
    TransitionScripts,
    VrrpGroup,
)

__all__ = [
    "AddressInterface",
    "AuthType",
    "Authentication",
    "Config",
    "Garp",
    "HealthCheck",
    "SyncGroup",
    "Track",
    "TrackedInterface",
    "TransitionScripts",
    "VrrpGroup",
    "load_config",
]
