"""The VRRP protocol core: wire format and state machine, with no I/O inside.

- ``packet``: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) advertisements, IPv4 and IPv6.
- ``ipv4``: the IPv4 header and IPsec AH (HMAC-MD5-96) around a VRRPv2 advertisement.
- ``receive``: the receive checks of RFC 3768 / RFC 5798 section 7.1, each drop named.
- ``machine``: the Initialize / Backup / Master state machine of section 6.4.
- ``syncgroup``: members that change state together.
"""
