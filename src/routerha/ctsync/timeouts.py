"""The kernel's own conntrack timeouts: the most a peer's entry may be given.

A peer's entry says how long it still has to live. Written into the kernel as
it stands, a peer could keep an entry (a pinhole through a stateful firewall)
alive for years: the kernel takes CTA_TIMEOUT as given. The kernel itself never
gives an entry more than its timeout for the entry's protocol and state (the
``nf_conntrack_*timeout*`` sysctls of the network namespace), so neither does a
commit. They are read once, when routerhad starts.
"""

from __future__ import annotations

from pathlib import Path

from routerha.ctsync.entry import (
    IPPROTO_DCCP,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPS_SEEN_REPLY,
    Entry,
)

SYSCTLS = Path("/proc/sys/net/netfilter")
IPPROTO_GRE = 47

#: TCP conntrack states (enum tcp_conntrack) -> the sysctl naming their timeout.
TCP_STATES = {
    0: "established",  # NONE: not a state the kernel keeps an entry in for long
    1: "syn_sent",
    2: "syn_recv",
    3: "established",
    4: "fin_wait",
    5: "close_wait",
    6: "last_ack",
    7: "time_wait",
    8: "close",
    9: "syn_sent",  # SYN_SENT2 (simultaneous open) runs on the SYN_SENT timeout
}
#: The longest an expectation lives in the kernel's helpers (ftp's policy: 5 minutes).
MAX_EXPECTATION_TIMEOUT = 300


class KernelTimeouts:
    """``nf_conntrack_<name>`` timeout sysctls by name (e.g. ``tcp_timeout_established``)."""

    def __init__(self, values: dict[str, int]) -> None:
        self.values = values

    @classmethod
    def read(cls, directory: Path = SYSCTLS) -> KernelTimeouts:
        """This network namespace's timeouts; none if they cannot be read (no conntrack)."""
        values = {}
        try:
            paths = list(directory.glob("nf_conntrack_*timeout*"))
        except OSError:
            paths = []
        for path in paths:
            try:
                values[path.name.removeprefix("nf_conntrack_")] = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return cls(values)

    def limit(self, entry: Entry) -> int | None:
        """The kernel's timeout for an entry of this protocol and state (None: unknown)."""
        proto = entry.original.proto
        replied = bool(entry.status & IPS_SEEN_REPLY)
        if proto == IPPROTO_TCP:
            state = entry.tcp.state if entry.tcp is not None else 3
            return self.values.get(f"tcp_timeout_{TCP_STATES.get(state, 'established')}")
        if proto == IPPROTO_UDP:
            return self.values.get("udp_timeout_stream" if replied else "udp_timeout")
        if proto == IPPROTO_ICMP:
            return self.values.get("icmp_timeout")
        if proto == IPPROTO_ICMPV6:
            return self.values.get("icmpv6_timeout")
        if proto == IPPROTO_GRE:
            return self.values.get("gre_timeout_stream" if replied else "gre_timeout")
        if proto in (IPPROTO_SCTP, IPPROTO_DCCP):
            # The sync state carries no SCTP/DCCP state: the longest of that protocol's.
            prefix = "sctp_timeout_" if proto == IPPROTO_SCTP else "dccp_timeout_"
            found = [v for k, v in self.values.items() if k.startswith(prefix)]
            return max(found) if found else self.values.get("generic_timeout")
        return self.values.get("generic_timeout")

    def commit_timeout(self, entry: Entry, floor: int) -> int:
        """The timeout a committed entry gets: at least ``floor`` (the first packets after a
        takeover must find it), at most the kernel's own for its state."""
        timeout = max(entry.timeout, floor)
        limit = self.limit(entry)
        return timeout if limit is None else min(timeout, limit)
