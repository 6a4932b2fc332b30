#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-backpressure.py - a peer that is gone does not stall the others.

Our pong answers many Pings whose sender_endpoint nobody listens on: the
replies fill ZeroMQ's queue for that peer (SNDHWM) and then the gateway's
own bounded queue, which status shows per peer.  Meanwhile a live peer
still gets its Pong at once (no head-of-line blocking of the group's
outbound ring), and when the missing peer finally binds its endpoint every
queued reply reaches it, in order, none lost or duplicated.

Inbound: an actor whose worker is stuck stops draining its (small) ring;
envelopes for it beyond the ring are held briefly and then rejected ("not
keeping up"), so that another group's actor keeps getting its traffic
through the same gateway.
"""
import json
import os
import sys

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import free_port, Tap, Node, actor, wait_for, TESTMOD  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, send_frame  # noqa: E402

zmq = need_zmq(REMOTE_SO)
N = 14000   # more than the gateway's PUSH socket holds (SNDHWM 10000)



tap = Tap(timeout=100)
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
        send_frame(push, json.dumps({"sender_actor": "late", "sender_endpoint": gone,
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

    # ---- inbound: a stuck receiver does not stall the gateway ----------------------
    node2 = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [
            {"name": "stuck", "module": TESTMOD, "ring_bytes": 4096, "max_msg_bytes": 1024,
             "heartbeat_ms": 100, "heartbeat_timeout_ms": 60000,
             "actors": [actor("slow", "echo", remote=True)]},
            {"name": "fine", "module": TESTMOD,
             "actors": [actor("quick", "echo", remote=True)]},
        ],
    }, name="inbound")
    st2 = node2.start()
    ep2 = st2["gateway"]["advertise"]
    p2 = Peer("tester2")
    tap.cleanups.append(p2.close)
    p2.send(ep2, "slow", "Crash", {"how": "hang"})     # its worker now spins forever
    for i in range(200):
        p2.send(ep2, "slow", "Ping", {"count": i})
    p2.send(ep2, "quick", "Ping", {"count": 4242})
    answers = []
    deadline = 20
    while True:
        e = p2.recv(deadline)
        if e is None:
            break
        answers.append(e)
        if e.get("message_type") == "Pong" and e["message"].get("count") == 4242:
            break
        deadline = 20
    tap.ok(any(e.get("message_type") == "Pong" and e["message"].get("count") == 4242
               for e in answers),
           "an actor in another group still got its Ping through the gateway")
    rej = [e for e in answers if e.get("message_type") == "Reject"
           and "not keeping up" in e["message"].get("reason", "")]
    tap.ok(len(rej) > 0, "envelopes for the stuck actor beyond its ring were rejected "
           "('not keeping up'): %d" % len(rej))
    g2 = node2.status()["gateway"]
    tap.ok(g2["rejected_full"] == len(rej) or g2["rejected_full"] >= len(rej),
           "counted: rejected_full %d" % g2["rejected_full"])
