"""routerha: VRRP (RFC 3768 / RFC 5798) and conntrack state sync for router pairs."""

__version__ = "0.1.0"
