#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-replies.py - a local actor (not "remote": true) gets the replies
to its own remote sends, and nobody else reaches it (issue 11, item 15).

A C ping (examples/remote "ping" behaviour) that is not marked remote
sends Ping 1 to a Python pong.  While that Ping is in flight:
 - a stranger (another endpoint, which ping never sent to) sends a Pong to
   "ping": it gets the Reject "Actor 'ping' not found", exactly as for an
   actor that does not exist, and ping does not see it (its next Ping
   still carries count 2 only after the real Pong);
 - the Python pong answers every Ping; ping completes its three round
   trips and shuts the node down with exit 0, and the gateway counted the
   replies it let through as reply_routed.
Before the fix, ping's first Pong was refused as "Actor 'ping' not found".
"""
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, reject_fields, wait_log  # noqa: E402

need_zmq(REMOTE_SO)
ROUNDS = 3

tap = Tap(timeout=60)
with tap:
    t0 = time.monotonic()
    pong = Peer("pong")
    tap.cleanups.append(pong.close)
    stranger = Peer("stranger")
    tap.cleanups.append(stranger.close)
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "ping", "module": REMOTE_SO, "restart": "temporary",
                    "actors": [actor("ping", "ping", {"to": "pong", "endpoint": pong.me,
                                                      "rounds": ROUNDS})]}],
    }, name="replies")
    node.start(wait_ready=False)

    env = pong.recv(15)
    tap.is_(env and (env["receiver"], env["message_type"], env["message"],
                     env["sender_actor"]),
            ("pong", "Ping", {"count": 1}, "ping"), "ping (not remote) sent Ping 1 to the peer")
    ep = env and env["sender_endpoint"]

    # A stranger cannot reach ping: answered as for an actor that does not exist.
    stranger.send(ep, "ping", "Pong", {"count": 1})
    rej = stranger.recv(10)
    m = reject_fields(rej)
    tap.ok(m is not None and m["reason"] == "Actor 'ping' not found" and
           m["rejected_by"] == "ping" and rej["sender_actor"] is None,
           "a stranger's Pong to ping is rejected: Actor 'ping' not found (got %r)" % (rej,))
    tap.is_(pong.drain(0.2), [], "ping did not take the stranger's Pong for its own")

    # The peer ping sent to can answer it, every round.
    counts = []
    while env is not None and env.get("message_type") == "Ping":
        c = env["message"]["count"]
        counts.append(c)
        if c == ROUNDS:
            st = node.status()["gateway"]
            tap.is_(st["reply_routed"], ROUNDS - 1,
                    "status: reply_routed %d before the last Pong" % (ROUNDS - 1))
        pong.send(env["sender_endpoint"], env["sender_actor"], "Pong", {"count": c})
        if c == ROUNDS:
            break
        env = pong.recv(10)
    tap.is_(counts, list(range(1, ROUNDS + 1)),
            "the peer's Pongs reached ping: Pings 1..%d came in turn" % ROUNDS)
    tap.is_(node.wait_exit(15), 0, "ping finished its rounds and the node exits 0")
    tap.ok(wait_log(node, "ping: %d round trips with pong" % ROUNDS, 5),
           "ping logged its %d round trips" % ROUNDS)
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
