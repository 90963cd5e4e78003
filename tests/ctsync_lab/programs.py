"""The traffic programs the conntrack sync lab tests run in the client and server hosts.

Each is a small standalone script (run with this interpreter, ``-u``); the test
writes it into the lab directory. ``SESSION_CLIENT`` keeps many TCP sessions
busy and writes their state to a JSON file the test reads; ``ECHO_SERVER``
answers them.
"""

from __future__ import annotations

ECHO_SERVER = r'''
"""Echo every byte back, on any number of connections (one selector loop).

Prints "listening", then "ERROR <peer> <exception>" for a connection that fails
(a reset, say) and "closed <peer>" for one the client ends.
"""
import selectors, socket, sys

host, port = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen(1024)
server.setblocking(False)
selector = selectors.DefaultSelector()
selector.register(server, selectors.EVENT_READ, None)
print("listening", flush=True)


class Connection:
    def __init__(self, sock, peer):
        self.sock, self.peer, self.out = sock, peer, bytearray()

    def flush(self):
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            del self.out[:sent]
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        selector.modify(self.sock, wanted, self)


def drop(conn, why):
    print(why, conn.peer, flush=True)
    selector.unregister(conn.sock)
    conn.sock.close()


while True:
    for key, mask in selector.select():
        if key.data is None:
            try:
                sock, peer = server.accept()
            except BlockingIOError:
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(sock, selectors.EVENT_READ, Connection(sock, peer))
            continue
        conn = key.data
        try:
            if mask & selectors.EVENT_READ:
                data = conn.sock.recv(65536)
                if not data:
                    drop(conn, "closed")
                    continue
                conn.out += data
            conn.flush()
        except BlockingIOError:
            pass
        except OSError as exc:
            drop(conn, f"ERROR {exc!r}")
'''

SESSION_CLIENT = r'''
"""COUNT long-lived TCP sessions to HOST:PORT, each sending CHUNK octets every
INTERVAL seconds and reading the echoes, in one selector loop.

Every 0.1 s (and at the end) it replaces STATUS (JSON) with, per session:
octets sent, octets echoed, when the last echo came (time.monotonic(), the same
clock in every process of the machine), the longest gap between two echoes so
far, and the error that ended it (None while it is alive: a reset shows here as
ConnectionResetError, an end by the peer as "EOF"). Stops when STOP exists.
"""
import json, os, selectors, socket, sys, time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
status_path, stop_path = sys.argv[4], sys.argv[5]
INTERVAL, CHUNK, SLOTS = 0.05, 64, 10


class Session:
    def __init__(self, index, sock):
        self.index, self.sock = index, sock
        self.out = bytearray()
        self.sent = self.echoed = 0
        self.last_echo = None
        self.max_gap = 0.0
        self.error = None
        self.writing = False


selector = selectors.DefaultSelector()
sessions = []
for index in range(count):
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    session = Session(index, sock)
    sessions.append(session)
    selector.register(sock, selectors.EVENT_READ, session)
print("connected", count, flush=True)


def fail(session, why):
    session.error = why
    selector.unregister(session.sock)
    session.sock.close()
    print("ERROR session", session.index, why, flush=True)


def flush(session):
    try:
        sent = session.sock.send(session.out)
    except BlockingIOError:
        sent = 0
    except OSError as exc:
        fail(session, repr(exc))
        return
    del session.out[:sent]
    writing = bool(session.out)
    if writing != session.writing:
        session.writing = writing
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
        selector.modify(session.sock, mask, session)


def write_status(now):
    data = {
        "now": now,
        "sessions": [
            [s.sent, s.echoed, s.last_echo, s.max_gap, s.error] for s in sessions
        ],
    }
    with open(status_path + ".tmp", "w") as handle:
        json.dump(data, handle)
    os.replace(status_path + ".tmp", status_path)


tick = 0
next_tick = next_status = time.monotonic()
payload = b"routerha-ctsync!" * (CHUNK // 16)
while not os.path.exists(stop_path):
    now = time.monotonic()
    if now >= next_tick:
        # One slot of sessions per tick: each session every INTERVAL, spread out.
        for session in sessions[tick % SLOTS :: SLOTS]:
            if session.error is None:
                session.out += payload
                session.sent += len(payload)
                flush(session)
        tick += 1
        next_tick += INTERVAL / SLOTS
        if next_tick < now:
            next_tick = now + INTERVAL / SLOTS
    if now >= next_status:
        write_status(now)
        next_status = now + 0.1
    for key, mask in selector.select(max(0.0, min(next_tick, next_status) - time.monotonic())):
        session = key.data
        if session.error is not None:
            continue
        if mask & selectors.EVENT_WRITE:
            flush(session)
        if mask & selectors.EVENT_READ and session.error is None:
            try:
                data = session.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as exc:
                fail(session, repr(exc))
                continue
            if not data:
                fail(session, "EOF")
                continue
            arrived = time.monotonic()
            if session.last_echo is not None:
                session.max_gap = max(session.max_gap, arrived - session.last_echo)
            session.last_echo = arrived
            session.echoed += len(data)
write_status(time.monotonic())
print("stopped", flush=True)
'''
