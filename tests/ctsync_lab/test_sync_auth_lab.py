"""Attacks on the authenticated sync link, from a third host on the sync segment.

The "junk" host (192.168.9.99) forges what the project's own encoders make: a HELLO
and a DATA carrying an ESTABLISHED TCP entry from the outside server to a port of
the inside client, plain and with a made-up authentication trailer, to the group
and to each router (in unicast mode from the peer's spoofed address); and it
replays authenticated datagrams it sniffed on the link after the receiver and
after the sender restarted. Nothing may reach the master's kernel table or the
backup's external cache, the outside host must not get through the forward
chain (``ct state established accept; policy drop``), and every datagram must be
counted by the reason it was dropped.

A control run on the explicitly unauthenticated link shows the same forgery
landing in the backup's external cache: the attack is real, the layer stops it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from typing import Any

import pytest

from lab.sync_forge import (
    KeyedPeer,
    established_tcp,
    forged_hello_and_data,
    send_spoofed,
    with_fake_trailer,
)
from routerha.ctsync.auth import HANDSHAKE_SIZE

from .topology import (
    CLIENT,
    GROUPS,
    SERVER,
    SYNC_KEY,
    SYNC_PORT,
    UNAUTHENTICATED,
    HaPair,
    Sessions,
)

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(120)]

MCAST_GROUP = "225.0.0.50"
R1, R2, JUNK = "192.168.9.1", "192.168.9.2", "192.168.9.99"
#: The inside port the outsider wants to reach, and the source port it uses.
INSIDE_PORT, OUTSIDE_PORT = 8022, 40022


def forged() -> list[bytes]:
    """HELLO + DATA with the ESTABLISHED entry SERVER:40022 -> CLIENT:8022, plain."""
    return forged_hello_and_data([established_tcp(SERVER, OUTSIDE_PORT, CLIENT, INSIDE_PORT)])


def kernel_has_forgery(pair: HaPair, host: str) -> list[str]:
    out = pair.lab.run(
        host, "conntrack", "-L", "-p", "tcp", "--dport", str(INSIDE_PORT), check=False
    ).stdout
    return [line for line in out.splitlines() if f"src={SERVER}" in line]


def cache_has_forgery(pair: HaPair, host: str) -> list[dict[str, Any]]:
    return [
        e
        for e in pair.cache(host, "external")
        if e.get("src") == SERVER and e.get("dport") == INSIDE_PORT
    ]


def drops(pair: HaPair, host: str) -> dict[str, int]:
    stats = pair.stats(host)
    assert stats is not None, pair.report()
    return dict(stats["authentication"]["drops"])


def increase(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def outsider_connects(pair: HaPair) -> bool:
    """Whether SERVER reaches CLIENT:INSIDE_PORT from OUTSIDE_PORT through the master."""
    lab = pair.lab
    listener = lab.socket("cl", socket.AF_INET, socket.SOCK_STREAM)
    client = lab.socket("srv", socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((CLIENT, INSIDE_PORT))
        listener.listen(1)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        client.bind((SERVER, OUTSIDE_PORT))
        client.settimeout(1.5)
        try:
            client.connect((CLIENT, INSIDE_PORT))
        except OSError:
            return False
        return True
    finally:
        client.close()
        listener.close()


def route_outside_in(pair: HaPair) -> None:
    """The outside server routes the inside network through the WAN VIP (the forward
    chain, not routing, must be what stops it)."""
    pair.lab.ip("srv", "route", "add", "10.1.1.0/24", "via", "198.51.100.12")


def assert_nothing_got_in(pair: HaPair) -> None:
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert not kernel_has_forgery(pair, "r1"), (
            f"r1's kernel: {kernel_has_forgery(pair, 'r1')}\n{pair.report()}"
        )
        assert not cache_has_forgery(pair, "r2"), (
            f"r2's external cache: {cache_has_forgery(pair, 'r2')}\n{pair.report()}"
        )
        time.sleep(0.1)
    assert not outsider_connects(pair), f"the outside host got in\n{pair.report()}"


def test_forged_hello_and_data_on_the_multicast_link_change_nothing_and_are_counted(lab):
    pair = HaPair(lab, junk=True)
    pair.start()
    for host in ("r1", "r2"):
        wait_linked(pair, host)
    route_outside_in(pair)
    assert not outsider_connects(pair), "the forward chain lets the outsider in by itself"
    before = {h: drops(pair, h) for h in ("r1", "r2")}
    plain = forged()
    trailed = [with_fake_trailer(d) for d in plain]
    unknown_key = [with_fake_trailer(d, key_id=77) for d in plain]
    sock = lab.socket("junk", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(JUNK))
        for destination in (MCAST_GROUP, R1, R2):
            for datagram in plain + trailed + unknown_key:
                sock.sendto(datagram, (destination, SYNC_PORT))
    finally:
        sock.close()
    expected = {"unauthenticated": 4, "stale_session": 4, "unknown_key": 4}  # 2 each way
    for host in ("r1", "r2"):
        pair.wait(
            lambda h=host: increase(drops(pair, h), before[h]) == expected,
            lambda h=host: f"{h} counted {increase(drops(pair, h), before[h])}",
        )
    assert_nothing_got_in(pair)
    assert "dropped a datagram from 192.168.9.99" in pair["r2"].log(), pair.report()


def test_forgery_with_the_peers_address_spoofed_on_a_unicast_link_changes_nothing(lab):
    pair = HaPair(lab, junk=True, unicast=True)
    pair.start()
    for host in ("r1", "r2"):
        wait_linked(pair, host)
    route_outside_in(pair)
    before = {h: drops(pair, h) for h in ("r1", "r2")}
    foreign_before = {h: pair.stats(h)["foreign"] for h in ("r1", "r2")}
    raw = lab.socket("junk", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        plain = forged()
        payloads = plain + [with_fake_trailer(d) for d in plain]
        send_spoofed(raw, R1, R2, payloads)  # "r1" to r2
        send_spoofed(raw, R2, R1, payloads)  # "r2" to r1
    finally:
        raw.close()
    expected = {"unauthenticated": 2, "stale_session": 2}
    for host in ("r1", "r2"):
        pair.wait(
            lambda h=host: increase(drops(pair, h), before[h]) == expected,
            lambda h=host: f"{h} counted {increase(drops(pair, h), before[h])}",
        )
        # They passed the source check (spoofed), so the layer is what stopped them.
        assert pair.stats(host)["foreign"] == foreign_before[host]
    assert_nothing_got_in(pair)


class Sniffer:
    """Every datagram r1 sends on the sync link, as the junk host hears it."""

    def __init__(self, pair: HaPair) -> None:
        self.sock = pair.lab.socket("junk", socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("", SYNC_PORT))
        mreq = struct.pack(
            "=4s4si", socket.inet_aton(MCAST_GROUP), bytes(4), pair.lab.ifindex("junk", "eth0")
        )
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        self.sock.settimeout(0.1)
        self.captured: list[bytes] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            with contextlib.suppress(TimeoutError, OSError):
                datagram, (source, _) = self.sock.recvfrom(65535)
                if source == R1:
                    self.captured.append(datagram)

    def stop(self) -> list[bytes]:
        self.running = False
        self.thread.join()
        self.sock.close()
        return list(self.captured)


def insert_outside_entry(pair: HaPair, host: str) -> None:
    pair.lab.run(
        host, "conntrack", "-I", "-p", "tcp", "-s", SERVER, "-d", CLIENT,
        "--sport", str(OUTSIDE_PORT), "--dport", str(INSIDE_PORT), "--state", "ESTABLISHED",
        "-t", "600", "-u", "SEEN_REPLY,ASSURED",
    )  # fmt: skip


def delete_outside_entry(pair: HaPair, host: str) -> None:
    pair.lab.run(
        host, "conntrack", "-D", "-p", "tcp", "--sport", str(OUTSIDE_PORT),
        "--dport", str(INSIDE_PORT), check=False,
    )  # fmt: skip


def replay(pair: HaPair, datagrams: list[bytes], host_address: str) -> None:
    sock = pair.lab.socket("junk", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for datagram in datagrams:
            sock.sendto(datagram, (host_address, SYNC_PORT))
            time.sleep(0.001)
    finally:
        sock.close()


def wait_linked(pair: HaPair, host: str) -> None:
    """``host`` sends and receives in an authenticated session, and has its bulk sync."""

    def linked() -> bool:
        stats = pair.stats(host)
        auth = stats["authentication"] if stats else {}
        return bool(
            stats
            and stats["bulk_complete"]
            and auth["send_state"] == "established"
            and auth["receive_session"]
        )

    pair.wait(linked, lambda: f"{host}: {pair.stats(host)}", timeout=15)


@pytest.mark.parametrize("restarted", ["receiver", "sender"])
def test_sniffed_authenticated_datagrams_replayed_after_a_restart_are_dropped(lab, restarted):
    pair = HaPair(lab, junk=True)
    pair.start()
    sniffer = Sniffer(pair)
    try:
        # r1 has the outsider's entry (its own, say a session that has since ended)...
        insert_outside_entry(pair, "r1")
        pair.wait(lambda: cache_has_forgery(pair, "r2"), "the entry never reached r2")
        # ...which ends: r2 forgets it.
        delete_outside_entry(pair, "r1")
        pair.wait(lambda: not cache_has_forgery(pair, "r2"), "r2 kept the deleted entry")
    finally:
        captured = sniffer.stop()
    sealed = [d for d in captured if len(d) != HANDSHAKE_SIZE]
    assert any(d[3] == 1 for d in sealed), "no DATA captured"
    if restarted == "receiver":
        pair["r2"].stop()
        pair["r2"].start()
    else:
        pair["r1"].stop()
        pair["r1"].start()  # r2 takes over meanwhile; r1 preempts back after its bulk
        pair.wait_group_states({"r1": "MASTER", "r2": "BACKUP"}, timeout=20)
    for host in ("r1", "r2"):
        wait_linked(pair, host)
    time.sleep(0.3)
    stats = pair.stats("r2")
    before, opened = drops(pair, "r2"), stats["authentication"]["opened"]
    replay(pair, captured, R2)
    pair.wait(
        lambda: sum(increase(drops(pair, "r2"), before).values()) >= len(sealed),
        lambda: f"r2 counted {increase(drops(pair, 'r2'), before)} of {len(sealed)} replayed",
    )
    counted = increase(drops(pair, "r2"), before)
    assert counted.get("stale_session", 0) >= len(sealed), f"{counted}\n{pair.report()}"
    assert pair.stats("r2")["authentication"]["opened"] - opened < len(sealed)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert not cache_has_forgery(pair, "r2"), pair.report()
        assert not kernel_has_forgery(pair, "r2"), pair.report()
        time.sleep(0.1)
    for name in GROUPS:
        assert pair["r1"].state(name) == "MASTER", pair.report()


def test_a_hostile_key_holder_completes_the_handshake_with_lab_sync_forge(lab):
    """lab.sync_forge.KeyedPeer works against a live router (for the tests that attack
    the protocol behind the authentication): the DATA it sends is taken."""
    pair = HaPair(lab, junk=True)
    pair.start()
    sock = lab.socket("junk", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", SYNC_PORT))
        mreq = struct.pack(
            "=4s4si", socket.inet_aton(MCAST_GROUP), bytes(4), lab.ifindex("junk", "eth0")
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        peer = KeyedPeer(sock, (R2, SYNC_PORT), 1, SYNC_KEY.encode())
        peer.handshake()
        peer.send(forged())
    finally:
        sock.close()
    pair.wait(lambda: cache_has_forgery(pair, "r2"), "the keyed peer's entry was not taken")


def test_control_the_same_forgery_lands_on_an_unauthenticated_link(lab):
    pair = HaPair(lab, junk=True, ctsync=UNAUTHENTICATED)
    pair.start()
    sock = lab.socket("junk", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for datagram in forged():
            sock.sendto(datagram, (R2, SYNC_PORT))
    finally:
        sock.close()
    pair.wait(lambda: cache_has_forgery(pair, "r2"), "the forgery did not land")
    assert pair.stats("r2")["authentication"] == {"type": "none"}


def set_sync_auth(pair: HaPair, host: str, auth: dict[str, Any]) -> None:
    """Rewrite ``host``'s conntrack_sync.authentication and reload it (routerhactl)."""
    daemon = pair[host]
    config = json.loads(daemon.conf.read_text())
    config["conntrack_sync"]["authentication"] = auth
    daemon.write_config(json.dumps(config, indent=2))
    done = daemon.ctl("reload", "--json")
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\n{pair.report()}"


def test_a_staged_key_change_by_reload_keeps_the_sync_session_and_loses_nothing(lab):
    new_key = "lab-sync-key-fedcba9876543210"
    old = {"key_id": 1, "key": SYNC_KEY}
    new = {"key_id": 2, "key": new_key}
    pair = HaPair(lab)
    pair.start()
    for host in ("r1", "r2"):
        wait_linked(pair, host)
    sessions = {h: pair.stats(h)["authentication"] for h in ("r1", "r2")}
    steps = [
        {"type": "hmac-sha256", **old, "accept": [new]},  # 1. accept the new key
        {"type": "hmac-sha256", **new, "accept": [old]},  # 2. send it
        {"type": "hmac-sha256", **new},  # 3. forget the old one
    ]
    port = 6000
    for step in steps:
        for host in ("r1", "r2"):
            set_sync_auth(pair, host, step)
            # Traffic between the two reloads: each side sends and receives meanwhile.
            port += 1
            Sessions(pair, 3, port=port).wait_synced("r2", timeout=5)
    for host in ("r1", "r2"):
        stats = pair.stats(host)
        auth = stats["authentication"]
        assert auth["send_key_id"] == 2 and auth["accepted_key_ids"] == [2], auth
        assert sum(auth["drops"].values()) == 0, f"{host}: {auth}\n{pair.report()}"
        # The same sessions both ways: no new handshake, the sync did not restart.
        for name in ("send_session", "receive_session"):
            assert auth[name] == sessions[host][name], f"{host} {name}: {auth}"
        assert pair[host].log().count("conntrack sync on eth2") == 1, pair.report()
        assert SYNC_KEY not in pair[host].log() and new_key not in pair[host].log()
        shown = pair[host].ctl("conntrack", "stats")
        assert "authentication.drops.bad_mac: 0" in shown.stdout, shown.stdout
        assert SYNC_KEY not in shown.stdout and new_key not in shown.stdout
    # The old key is no longer accepted: a peer still sending it is dropped.
    sock = lab.socket("r1", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stale = KeyedPeer(sock, (R2, SYNC_PORT), 1, SYNC_KEY.encode())
        with contextlib.suppress(TimeoutError):
            stale.handshake(timeout=0.3)
    finally:
        sock.close()
    pair.wait(
        lambda: drops(pair, "r2")["unknown_key"] >= 1,
        lambda: f"r2 counted {drops(pair, 'r2')}",
    )
