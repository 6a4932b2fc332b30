#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
"""
t/remote-backpressure.py - a peer that is gone does not stall the others.

Our pong answers many Pings whose sender_endpoint nobody listens on: the
replies fill ZeroMQ's queue for that peer (SNDHWM) and then the gateway's
own bounded queue, which status shows per peer.  Meanwhile a live peer
still gets its Pong at once (no head-of-line blocking of the group's
outbound ring), and when the missing peer finally binds its endpoint every
queued reply reaches it, in order, none lost or duplicated.
"""
import json
import os
import socket
import sys

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq  # noqa: E402

zmq = need_zmq(REMOTE_SO)
N = 14000   # more than the gateway's PUSH socket holds (SNDHWM 10000)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


tap = Tap(timeout=60)
with tap:
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "pongs", "module": REMOTE_SO, "ring_bytes": 4194304,
                    "actors": [actor("pong", "pong", remote=True)]}],
    }, name="backpressure")
    st = node.start()
    ep = st["gateway"]["advertise"]

    gone = "tcp://127.0.0.1:%d" % free_port()   # nobody binds this (yet)
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(ep)
    tap.cleanups.append(push.close)
    for i in range(1, N + 1):
        push.send(json.dumps({"sender_actor": "late", "sender_endpoint": gone,
                              "receiver": "pong", "message_type": "Ping",
                              "message": {"count": i}}).encode())

    def queued():
        for p in node.status()["gateway"]["peers"]:
            if p["endpoint"] == gone:
                return p["queued"]
        return 0
    tap.ok(wait_for(lambda: queued() > 0, 20, "replies to queue for the missing peer"),
           "status shows replies queued for the missing peer (%d)" % queued())

    live = Peer("live")
    tap.cleanups.append(live.close)
    live.send(ep, "pong", "Ping", {"count": 7})
    env = live.recv(5)
    tap.is_(env and (env["message_type"], env["message"]), ("Pong", {"count": 7}),
            "a live peer still gets its Pong while the other is gone")
    g = node.status()["gateway"]
    tap.ok(g["send_errors"] == 0 and g["dropped_evicted"] == 0,
           "nothing was dropped (send_errors %d, dropped_evicted %d)"
           % (g["send_errors"], g["dropped_evicted"]))

    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind(gone)
    tap.cleanups.append(pull.close)
    got = []
    while len(got) < N and pull.poll(10000):
        got.append(json.loads(pull.recv())["message"]["count"])
    tap.is_(len(got), N, "the peer that came back got every reply")
    tap.ok(got == list(range(1, N + 1)), "in order, none lost or duplicated")
    tap.ok(wait_for(lambda: queued() == 0, 10, "the queue to empty"),
           "its queue in status drained to 0")
