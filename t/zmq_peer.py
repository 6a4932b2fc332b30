# SPDX-License-Identifier: MIT
"""
t/zmq_peer.py - the network side of the remote gateway tests: a stand-in
for a Python member of the actor family (shared/PROTOCOL.md), plus the
paths and checks those tests share.

A Peer binds one PULL socket on 127.0.0.1 at a port the kernel picks (so
tests never race for fixed ports), keeps one PUSH socket per endpoint it
sends to, and reads envelopes back with a deadline.  Tests wait for
replies, never sleep.

    need_zmq()                       # prints the TAP skip and exits if no pyzmq
    p = Peer("tester")
    p.send(node_ep, "pong", "Ping", {"count": 1})
    env = p.recv(5)                  # dict, or None after 5 s
    p.close()

Module paths come from $top_builddir like actorsd_harness.py's.
"""
import json
import os
import sys
import time

from actorsd_harness import TOP_BUILDDIR, TOP_SRCDIR

REMOTE_SO = os.path.join(TOP_BUILDDIR, "examples", "remote", ".libs", "remote.so")
KVSTORE_SO = os.path.join(TOP_BUILDDIR, "examples", "kvstore", ".libs", "kvstore.so")
REMOTEMOD_SO = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "remotemod.so")
REMOTE_EXAMPLES = os.path.join(TOP_SRCDIR, "examples", "remote")
KVSTORE_EXAMPLES = os.path.join(TOP_SRCDIR, "examples", "kvstore")

zmq = None


def need_zmq(*modules):
    """
    Imports zmq (into this module's `zmq`) or prints the TAP skip and exits.
    PYTHON_ZMQ set but empty means configure found no python3 with zmq.
    Also skips when one of the given module paths is not built.
    """
    global zmq
    if "PYTHON_ZMQ" in os.environ and not os.environ["PYTHON_ZMQ"]:
        print("1..0 # SKIP no python3 with zmq", flush=True)
        sys.exit(0)
    try:
        import zmq as z
    except ImportError:
        print("1..0 # SKIP no python3 with zmq", flush=True)
        sys.exit(0)
    zmq = z
    for m in modules:
        if not os.path.exists(m):
            print("1..0 # SKIP %s not built" % m, flush=True)
            sys.exit(0)
    return z


# How long a send may wait for its socket to take the frame.
SEND_TIMEOUT = 10


def send_frame(sock, frame, timeout=SEND_TIMEOUT):
    """
    Sends frame on a PUSH socket without ever blocking for good: a PUSH
    send blocks while no connection can take the frame (every pipe at its
    high-water mark, or none up yet, e.g. a handshake still running on a
    loaded machine, or one that failed and is being retried).  Tries
    without blocking, then waits for the socket to become writable, until
    timeout s have passed.  True if the frame was queued, False if the
    time ran out (the caller's checks then see it was not delivered).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.send(frame, zmq.NOBLOCK)
            return True
        except zmq.Again:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        # Writable again is an event: wait for it, bounded; a spurious
        # wake-up just tries again.
        sock.poll(max(1, int(min(left, 1.0) * 1000)), zmq.POLLOUT)


def python_for_scripts():
    """The interpreter that runs example scripts: the one running us."""
    return os.environ.get("PYTHON_ZMQ") or sys.executable


class Peer:
    """One actor name on the network side, with its own PULL endpoint."""

    def __init__(self, name="tester", ctx=None):
        self.ctx = ctx or zmq.Context.instance()
        self.name = name
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        self.pull.bind("tcp://127.0.0.1:*")
        self.me = self.pull.getsockopt_string(zmq.LAST_ENDPOINT)
        self.pushes = {}

    def push(self, endpoint):
        s = self.pushes.get(endpoint)
        if s is None:
            s = self.ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 1000)
            s.connect(endpoint)
            self.pushes[endpoint] = s
        return s

    def send_raw(self, endpoint, frame, timeout=SEND_TIMEOUT):
        """Sends one frame (see send_frame()): True if queued in time."""
        return send_frame(self.push(endpoint), frame, timeout)

    def send(self, endpoint, receiver, mtype, message, sender=None, **extra):
        """An envelope from us (sender_actor = sender or our name); as send_raw()."""
        env = {
            "sender_actor": sender or self.name,
            "sender_endpoint": self.me,
            "receiver": receiver,
            "message_type": mtype,
            "message": message,
        }
        env.update(extra)
        return self.send_raw(endpoint, json.dumps(env).encode())

    def recv(self, timeout):
        """The next envelope as a dict, or None if none came within timeout s."""
        if not self.pull.poll(timeout * 1000):
            return None
        return json.loads(self.pull.recv())

    def recv_raw(self, timeout):
        if not self.pull.poll(timeout * 1000):
            return None
        return self.pull.recv()

    def drain(self, quiet_s):
        """Every envelope that arrives until none came for quiet_s seconds."""
        out = []
        while True:
            e = self.recv(quiet_s)
            if e is None:
                return out
            out.append(e)

    def close(self):
        for s in self.pushes.values():
            s.close()
        self.pull.close()


def reject_fields(env):
    """The Reject's message if env is a well-formed Reject, else None."""
    if not isinstance(env, dict) or env.get("message_type") != "Reject":
        return None
    m = env.get("message")
    if not isinstance(m, dict) or set(m) != {"message_type", "reason", "rejected_by"}:
        return None
    return m


def wait_log(node, text, timeout=10):
    """Waits until actorsd's log (stdout+stderr of the node) contains text."""
    deadline = time.monotonic() + timeout
    while True:
        with open(node.log_path, errors="replace") as f:
            if text in f.read():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
