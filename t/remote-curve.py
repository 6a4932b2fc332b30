#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-curve.py - CURVE on the node's endpoint (DESIGN.md section 7:
"optional CURVE encryption/authentication configured in the app file").

The app file names the server's key files (made here with
zmq.curve_keypair()) and an allow-list of client public keys.  Then:
 - a client with an allowed key gets its Pongs (the handshake succeeds and
   status counts auth_allowed);
 - a client whose key is not on the list gets nothing: its handshake fails
   with an authentication error (its own socket monitor says so), status
   counts auth_denied, frames_in does not move and no Pong comes;
 - a client without CURVE gets nothing either (its handshake fails);
 - without "allow", any client that knows the server key is served.
Only inbound traffic is CURVE: the gateway's outbound PUSH sockets are
plain, so every client here receives its replies on a plain PULL socket.
"""
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq  # noqa: E402

zmq = need_zmq(REMOTE_SO)
import zmq.utils.monitor  # noqa: E402

if not zmq.has("curve"):
    print("1..0 # SKIP libzmq without CURVE", flush=True)
    sys.exit(0)

HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH |
                    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                    zmq.EVENT_DISCONNECTED)
FAILED = (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
          zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


class Client(Peer):
    """A Peer whose PUSH to the node is a CURVE client (keys) or plain (None)."""

    def __init__(self, name, endpoint, server_public=None, keys=None):
        super().__init__(name)
        s = self.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 0)
        if server_public:
            s.curve_serverkey = server_public
            s.curve_publickey, s.curve_secretkey = keys
        self.mon = s.get_monitor_socket(HANDSHAKE_EVENTS)
        s.connect(endpoint)
        self.pushes[endpoint] = s
        self.events = []

    def handshake(self, timeout=10):
        """The first handshake outcome of the connection (an EVENT_ constant)."""
        def outcome():
            while self.mon.poll(0):
                self.events.append(zmq.utils.monitor.recv_monitor_message(self.mon)["event"])
            for e in self.events:
                if e == zmq.EVENT_HANDSHAKE_SUCCEEDED or e in FAILED:
                    return e
            return None
        return wait_for(outcome, timeout, "a handshake outcome")

    def close(self):
        for s in self.pushes.values():
            s.disable_monitor()
        self.mon.close()
        super().close()


def keyfile(path, key):
    with open(path, "wb") as f:
        f.write(key + b"\n")
    os.chmod(path, 0o600)


def curve_node(tap, name, allow):
    server_pub, server_sec = zmq.curve_keypair()
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "curve": dict({"secret_key_file": "server.key", "public_key_file": "server.pub"},
                      **({"allow": [k.decode() for k in allow]} if allow else {})),
        "groups": [{"name": "pongs", "module": REMOTE_SO,
                    "actors": [actor("pong", "pong", remote=True)]}],
    }, name=name)
    keyfile(node.path("server.key"), server_sec)
    keyfile(node.path("server.pub"), server_pub)
    st = node.start()
    return node, st["gateway"]["advertise"], server_pub


def pongs(tap, c, ep, counts):
    for n in counts:
        c.send(ep, "pong", "Ping", {"count": n})
    got = []
    for _ in counts:
        e = c.recv(10)
        if e is None:
            break
        got.append(e["message"].get("count") if e.get("message_type") == "Pong" else e)
    return got


tap = Tap(timeout=55)
with tap:
    t0 = time.monotonic()
    good_keys = zmq.curve_keypair()
    bad_keys = zmq.curve_keypair()
    node, ep, server_pub = curve_node(tap, "curve", [good_keys[0]])

    good = Client("good", ep, server_pub, good_keys)
    tap.cleanups.append(good.close)
    tap.is_(pongs(tap, good, ep, range(1, 101)), list(range(1, 101)),
            "an allowed CURVE client gets its 100 Pongs (on a plain PULL socket)")
    tap.is_(good.handshake(), zmq.EVENT_HANDSHAKE_SUCCEEDED, "its handshake succeeded")
    g = node.status()["gateway"]
    tap.is_((g["auth_allowed"], g["auth_denied"], g["frames_in"]), (1, 0, 100),
            "status: auth_allowed 1, auth_denied 0, frames_in 100")

    # A key the allow-list does not have: the ZAP handler says no.
    bad = Client("bad", ep, server_pub, bad_keys)
    tap.cleanups.append(bad.close)
    bad.send(ep, "pong", "Ping", {"count": 1})
    tap.is_(bad.handshake(), zmq.EVENT_HANDSHAKE_FAILED_AUTH,
            "a client with a key not on the allow-list fails authentication")
    st = wait_for(lambda: (lambda g: g if g["auth_denied"] >= 1 else None)(
        node.status()["gateway"]), 10, "auth_denied to count the refused client")
    tap.ok(st["auth_denied"] >= 1 and st["frames_in"] == 100,
           "status: auth_denied went up (%d; the client keeps retrying), frames_in still 100"
           % st["auth_denied"])

    # A client without CURVE: the mechanisms do not match.
    plain = Client("plain", ep)
    tap.cleanups.append(plain.close)
    plain.send(ep, "pong", "Ping", {"count": 2})
    tap.ok(plain.handshake() in FAILED, "a client without CURVE fails its handshake")

    # Neither got through.  The allowed client's Ping, sent last, is
    # answered only after everything that reached the node before it.
    tap.is_(pongs(tap, good, ep, [101]), [101], "the allowed client is still served")
    tap.is_(bad.recv(0.2), None, "the refused client got no reply")
    tap.is_(plain.recv(0.2), None, "the plain client got no reply")
    g = node.status()["gateway"]
    tap.is_(g["frames_in"], 101, "status: frames_in 101 (nothing from the refused clients)")
    tap.ok(node.running(), "actorsd is still running")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")

    # Without an allow-list, any client that knows the server key.
    node2, ep2, server_pub2 = curve_node(tap, "curve-any", None)
    anyone = Client("anyone", ep2, server_pub2, zmq.curve_keypair())
    tap.cleanups.append(anyone.close)
    tap.is_(pongs(tap, anyone, ep2, [1, 2, 3]), [1, 2, 3],
            "without \"allow\", any CURVE client with the server key is served")
    plain2 = Client("plain2", ep2)
    tap.cleanups.append(plain2.close)
    plain2.send(ep2, "pong", "Ping", {"count": 9})
    tap.ok(plain2.handshake() in FAILED, "... but still not a client without CURVE")
    tap.is_(node2.terminate(), 0, "the second node stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
