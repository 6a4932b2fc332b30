#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-gone.py - a frame for an actor whose group will not run again is
refused with a Reject, not left in a ring nobody reads.

Group "tmp" (restart temporary) hosts the remote actor pong; "live" hosts
pong2.  A peer's Ping to pong is answered; then tmp's worker is SIGKILLed,
so the group is done.  The next Ping to pong gets a Reject naming pong
(counted as undeliverable), while pong2 still answers: the gateway serves
on.  Before, the frame went into tmp's ring and was lost with the node.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, reject_fields  # noqa: E402

need_zmq(REMOTE_SO)

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "tmp", "module": REMOTE_SO, "restart": "temporary",
                    "actors": [actor("pong", "pong", remote=True)]},
                   {"name": "live", "module": REMOTE_SO,
                    "actors": [actor("pong2", "pong", remote=True)]}],
    }, name="rgone")
    st = node.start()
    ep = st["gateway"]["advertise"]
    peer = Peer("tester")
    tap.cleanups.append(peer.close)

    peer.send(ep, "pong", "Ping", {"count": 1})
    env = peer.recv(10)
    tap.ok(env and env.get("message_type") == "Pong", "pong answers while tmp lives (%r)" % env)

    os.kill(node.group("tmp")["pid"], signal.SIGKILL)
    wait_for(lambda: node.group("tmp")["state"] == "done", 10, "tmp to be done")
    before = node.status()["gateway"].get("undeliverable", 0)
    peer.send(ep, "pong", "Ping", {"count": 2})
    env = peer.recv(10)
    r = reject_fields(env)
    tap.ok(r is not None and "pong" in r["reason"],
           "a Ping to pong of the done group gets a Reject (%r)" % env)
    tap.is_(node.status()["gateway"].get("undeliverable", 0), before + 1,
            "counted as undeliverable")
    peer.send(ep, "pong2", "Ping", {"count": 3})
    env = peer.recv(10)
    tap.ok(env and env.get("message_type") == "Pong", "pong2 still answers (%r)" % env)
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
