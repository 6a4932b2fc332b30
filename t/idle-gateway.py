#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/idle-gateway.py - a node with a ZeroMQ endpoint and nothing connected
is as quiet as one without (issue 14): actorsd used to tick every 50 ms
for its gateway (60 wake-ups in 3 s); now its sockets wake it.  After the
quiet window, a frame for an unknown actor still gets its Reject at once.
(Remote asks in flight, watched peers and pinned peers keep the tick:
t/remote-ask.py, t/cluster.py.)
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, group, actor, switches  # noqa: E402
from zmq_peer import Peer, need_zmq, reject_fields  # noqa: E402

need_zmq()
WINDOW = 3.0
tap = Tap(timeout=60)


with tap:
    peer = Peer("idlepeer")
    tap.cleanups.append(peer.close)
    node = Node(tap, {"endpoint": "tcp://127.0.0.1:*",
                      "groups": [group("solo", [actor("s0", "echo")])]}, name="idlegw")
    st = node.start()
    ep = st["gateway"]["advertise"]
    sup = node.proc.pid
    time.sleep(0.5)  # a measuring window, after the status request's own wake
    before = switches(sup)
    time.sleep(WINDOW)
    woke = switches(sup) - before
    tap.diag("actorsd (with an endpoint) woke %d times in %.1f s" % (woke, WINDOW))
    tap.ok(woke <= 4 * WINDOW, "actorsd with an endpoint, nothing connected: %d wake-ups in "
           "%.0f s (at most %d; the gateway's 50 ms tick made 60)" % (woke, WINDOW, 4 * WINDOW))

    peer.send(ep, "ghost", "Ping", {"count": 1})
    m = reject_fields(peer.recv(10))
    tap.ok(m is not None and m["reason"] == "Actor 'ghost' not found",
           "the idle gateway still answers a frame at once: %r" % (m,))
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
