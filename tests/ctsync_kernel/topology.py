"""A NAT router pair in a namespace lab, and the small programs that make traffic.

::

    cl (10.0.1.2, fd00:1::2) --lan-- ra / rb --wan-- sv (10.0.2.2, fd00:2::2)

``ra`` and ``rb`` have the same addresses (10.0.1.1 / 10.0.2.1, fd00:1::1 /
fd00:2::1) and, once ``rb`` is built, the same MAC addresses: like a VRRP pair
with virtual MACs, switching from one to the other needs nothing from the client
or the server. ``rb`` starts cut off. Both masquerade what leaves on the wan side,
drop what conntrack calls invalid, admit new connections only from the lan side
(marked 42), and can put everything in a conntrack zone and give FTP control
connections the ftp helper. ``nf_conntrack_tcp_loose`` is 0, so a router
without the entry does not pick up a connection in the middle.

``conntrack_host`` is the minimal alternative: one namespace with conntrack in use.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from lab.netlab import Lab, LabProcess, poll

CLIENT4, SERVER4, NAT4 = "10.0.1.2", "10.0.2.2", "10.0.2.1"
CLIENT6, SERVER6, NAT6 = "fd00:1::2", "fd00:2::2", "fd00:2::1"
MARK = 42

RULESET = """\
table inet ha {{
    ct helper ftp-standard {{
        type "ftp" protocol tcp
        l3proto ip
    }}
    chain c_raw {{
        type filter hook prerouting priority raw; policy accept;
        {zone}
    }}
    chain c_pre {{
        type filter hook prerouting priority filter; policy accept;
        iifname "eth0" tcp dport 21 ct helper set "ftp-standard"
    }}
    chain c_fwd {{
        type filter hook forward priority filter; policy drop;
        ct state invalid counter drop
        ct state established,related counter accept
        iifname "eth0" ct state new ct mark set {mark} counter accept
    }}
    chain c_post {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "eth1" masquerade
    }}
}}
"""


def build_router(lab: Lab, name: str, zone: int | None) -> None:
    lab.add_host(name, "10.0.1.1/24", "fd00:1::1/64")
    lab.add_host(name, "10.0.2.1/24", "fd00:2::1/64", segment="wan", ifname="eth1")
    lab.sysctl(name, "net.ipv4.ip_forward", "1")
    lab.sysctl(name, "net.ipv6.conf.all.forwarding", "1")
    zone_rule = f"ct zone set {zone}" if zone else ""
    lab.run(name, "nft", "-f", "-", input=RULESET.format(zone=zone_rule, mark=MARK))
    # After the ruleset: the sysctl exists once conntrack is in use in the namespace.
    lab.sysctl(name, "net.netfilter.nf_conntrack_tcp_loose", "0")


def conntrack_host(lab: Lab, name: str) -> None:
    """A bare namespace whose conntrack is in use (conntrack starts with the first rule)."""
    lab.add_host(name, "10.9.0.1/24")
    rule = "add table inet t; add chain inet t c { type filter hook prerouting priority 0; ct state new counter; }"
    lab.run(name, "nft", rule)


class Pair:
    """The topology above; ``switch()`` moves the traffic from ra to rb."""

    def __init__(self, lab: Lab, *, zone: int | None = None, backup: bool = True) -> None:
        self.lab = lab
        lab.add_host("cl", f"{CLIENT4}/24", f"{CLIENT6}/64")
        lab.add_host("sv", f"{SERVER4}/24", f"{SERVER6}/64", segment="wan")
        build_router(lab, "ra", zone)
        if backup:
            build_router(lab, "rb", zone)
            lab.cut("rb")
            lab.sysctl("rb", "net.ipv6.conf.all.keep_addr_on_down", "1")
            for ifname in ("eth0", "eth1"):  # rb takes over ra's MAC addresses
                mac = lab.interface("ra", ifname).mac
                lab.ip("rb", "link", "set", ifname, "down")
                lab.ip("rb", "link", "set", ifname, "address", mac)
                lab.ip("rb", "link", "set", ifname, "up")
        lab.ip("cl", "route", "add", "default", "via", "10.0.1.1")
        lab.ip("cl", "-6", "route", "add", "default", "via", "fd00:1::1")
        lab.ip("sv", "route", "add", "default", "via", "10.0.2.1")
        lab.ip("sv", "-6", "route", "add", "default", "via", "fd00:2::1")
        self.scripts = lab.dir / "scripts"
        self.scripts.mkdir()
        for name, text in SCRIPTS.items():
            (self.scripts / name).write_text(text)

    def switch(self) -> None:
        """ra disappears, rb appears (with ra's addresses and MACs)."""
        self.lab.cut("ra")
        self.lab.restore("rb")

    def python(self, host: str, script: str, *args: str) -> LabProcess:
        return self.lab.popen(host, sys.executable, "-u", str(self.scripts / script), *args)

    def conntrack(self, host: str, *args: str) -> str:
        return self.lab.run(host, "conntrack", *args).stdout

    def invalid_drops(self, host: str) -> int:
        out = self.lab.run(host, "nft", "list", "chain", "inet", "ha", "c_fwd").stdout
        found = re.search(r"ct state invalid counter packets (\d+)", out)
        return int(found.group(1)) if found else -1


def received(process: LabProcess) -> int:
    """The last byte count a stream client reported."""
    counts = re.findall(r"^bytes (\d+)$", process.log(), re.MULTILINE)
    return int(counts[-1]) if counts else 0


def wait_received(process: LabProcess, at_least: int, timeout: float) -> int:
    def enough() -> int:
        if "ERROR" in process.log():
            raise AssertionError(f"stream client failed:\n{process.log()[-2000:]}")
        count = received(process)
        return count if count >= at_least else 0

    return poll(
        enough,
        timeout,
        message=lambda: f"received {received(process)} < {at_least}\n{process.log()[-2000:]}",
    )


def wait_line(process: LabProcess, pattern: str, timeout: float = 5.0) -> re.Match[str]:
    return poll(
        lambda: re.search(pattern, process.log(), re.MULTILINE),
        timeout,
        message=lambda: f"{process.args} never printed {pattern!r}:\n{process.log()}",
    )


def touch(path: Path) -> None:
    path.write_text("go\n")


def settle(seconds: float) -> None:
    time.sleep(seconds)


STREAM_SERVER = r'''
"""Accept connections; send each an endless stream (64 KiB every 5 ms)."""
import socket, sys, threading, time

host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
server = socket.socket(family)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen(8)
print("listening", flush=True)


def stream(conn):
    chunk = b"x" * 65536
    try:
        while True:
            conn.sendall(chunk)
            time.sleep(0.005)
    except OSError as exc:
        print("server: connection ended:", repr(exc), flush=True)


while True:
    conn, peer = server.accept()
    print("accepted", peer, flush=True)
    threading.Thread(target=stream, args=(conn,), daemon=True).start()
'''

STREAM_CLIENT = r'''
"""Connect and read forever; print "bytes N" now and then, "ERROR ..." if it ends."""
import socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
conn = socket.create_connection((host, port), timeout=10)
print("connected", conn.getsockname(), flush=True)
total, last = 0, 0.0
try:
    while True:
        data = conn.recv(1 << 18)
        if not data:
            raise ConnectionError("closed by the server")
        total += len(data)
        now = time.monotonic()
        if now - last > 0.05:
            print("bytes", total, flush=True)
            last = now
except Exception as exc:
    print("bytes", total, flush=True)
    print("ERROR", repr(exc), flush=True)
'''

ECHO_SERVER = r'''
"""Answer each connection's first message with itself, then close."""
import socket, sys

host, port = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen(64)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(conn.recv(100))
    conn.close()
'''

FTP_SERVER = r'''
"""A passive-only FTP server: enough for a helper to see PASV and a data connection."""
import socket, sys, threading

HOST = sys.argv[1]
DATA = b"hello through passive ftp\n" * 4000


def session(conn):
    replies = conn.makefile("rb")
    send = lambda text: conn.sendall(text.encode() + b"\r\n")
    send("220 routerha test ftpd")
    passive = None
    for line in replies:
        command, _, _ = line.decode().strip().partition(" ")
        command = command.upper()
        if command == "USER":
            send("331 password please")
        elif command == "PASS":
            send("230 logged in")
        elif command == "TYPE":
            send("200 type set")
        elif command == "PASV":
            passive = socket.socket()
            passive.bind((HOST, 0))
            passive.listen(1)
            port = passive.getsockname()[1]
            address = HOST.replace(".", ",")
            send(f"227 Entering Passive Mode ({address},{port >> 8},{port & 255})")
        elif command == "RETR" and passive is not None:
            passive.settimeout(10)
            try:
                data, _ = passive.accept()
            except socket.timeout:
                send("425 no data connection")
                continue
            send("150 sending")
            data.sendall(DATA)
            data.close()
            passive.close()
            send("226 done")
        elif command == "QUIT":
            send("221 bye")
            break
        else:
            send("502 not implemented")
    conn.close()


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, 21))
server.listen(5)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    threading.Thread(target=session, args=(conn,), daemon=True).start()
'''

FTP_CLIENT = r'''
"""Log in, PASV, print the data port; open the data connection once GO_FILE exists."""
import os, re, socket, sys, time

host, go_file = sys.argv[1], sys.argv[2]
control = socket.create_connection((host, 21), timeout=10)
replies = control.makefile("rb")


def reply():
    line = replies.readline().decode().strip()
    print("<", line, flush=True)
    return line


def command(text):
    control.sendall(text.encode() + b"\r\n")
    return reply()


reply()
command("USER anonymous")
command("PASS routerha")
command("TYPE I")
numbers = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", command("PASV")).groups()
port = int(numbers[4]) * 256 + int(numbers[5])
print("PASV", port, flush=True)
deadline = time.monotonic() + 30
while not os.path.exists(go_file):
    if time.monotonic() > deadline:
        sys.exit("no go")
    time.sleep(0.02)
data = socket.create_connection((host, port), timeout=10)
print("data connected", data.getsockname(), flush=True)
command("RETR file")
total = 0
while True:
    chunk = data.recv(65536)
    if not chunk:
        break
    total += len(chunk)
print(reply(), flush=True)
print("GOT", total, flush=True)
'''

SCRIPTS = {
    "stream_server.py": STREAM_SERVER,
    "stream_client.py": STREAM_CLIENT,
    "echo_server.py": ECHO_SERVER,
    "ftp_server.py": FTP_SERVER,
    "ftp_client.py": FTP_CLIENT,
}
