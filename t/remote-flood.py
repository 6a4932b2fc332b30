#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-flood.py - a flood of forged sender_endpoints cannot cut off a
peer that answers (issue 11, item 9).

A legitimate Python peer does one round trip with the C pong, so that the
gateway has a connected socket to it.  Then 10,000 Pings arrive, each
naming a different sender_endpoint on a loopback port where nobody
listens (each one a socket the pong's reply would need), interleaved with
100 more round trips of the legitimate peer, every tenth after a burst of
forged ones larger than the peer table.  Every one of its Pongs must
arrive, in order; the gateway's peer table stays bounded, the legitimate
peer stays in it, and the replies it could not send to the forged
endpoints are counted (peers_refused, peers_evicted, dropped_evicted), not
silently lost.  Before the fix the forged endpoints evicted the peer's
socket and new sockets failed (EMFILE) while evicted ones lingered.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, send_frame  # noqa: E402

zmq = need_zmq(REMOTE_SO)
N_FORGED = 10000
N_ROUNDS = 100

tap = Tap(timeout=110)
with tap:
    t0 = time.monotonic()
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "pongs", "module": REMOTE_SO, "ring_bytes": 4194304,
                    "actors": [actor("pong", "pong", remote=True)]}],
    }, name="flood")
    st = node.start()
    ep = st["gateway"]["advertise"]

    legit = Peer("legit")
    tap.cleanups.append(legit.close)
    legit.send(ep, "pong", "Ping", {"count": 0})
    env = legit.recv(10)
    tap.is_(env and (env["message_type"], env["message"]), ("Pong", {"count": 0}),
            "the legitimate peer's first round trip")

    def legit_peer():
        for p in node.status()["gateway"]["peers"]:
            if p["endpoint"] == legit.me:
                return p
        return None
    tap.ok(wait_for(lambda: (legit_peer() or {}).get("connected", "no such field"), 10,
                    "the gateway to see the handshake with the legitimate peer"),
           "the gateway knows the legitimate peer as connected")

    # Ports on loopback where nobody listens: every connect is refused.
    flood = legit.ctx.socket(zmq.PUSH)
    flood.setsockopt(zmq.LINGER, 0)
    flood.setsockopt(zmq.SNDHWM, 0)
    flood.connect(ep)
    tap.cleanups.append(flood.close)
    # Every tenth round opens with a burst larger than the peer table, so
    # that the legitimate peer is the least recently used one then.
    def burst(r):
        return 550 if r % 10 == 1 else 50
    assert sum(burst(r) for r in range(1, N_ROUNDS + 1)) == N_FORGED
    got, lost = [], []
    i = 0
    for r in range(1, N_ROUNDS + 1):
        for k in range(burst(r)):
            forged = "tcp://127.0.0.1:%d" % (1024 + i % 3000) if i % 2 else \
                     "tcp://127.0.0.%d:%d" % (2 + i // 3000 % 200, 1024 + i % 3000)
            send_frame(flood, json.dumps({"sender_actor": "x%d" % i, "sender_endpoint": forged,
                                          "receiver": "pong", "message_type": "Ping",
                                          "message": {"count": -1 - i}}).encode())
            i += 1
        legit.send(ep, "pong", "Ping", {"count": r})
        env = legit.recv(5)
        while env is not None and env["message"].get("count") != r:
            got.append(env["message"].get("count"))
            env = legit.recv(5)
        if env is None:
            lost.append(r)
            if len(lost) >= 3:
                break
        else:
            got.append(r)
    tap.is_(lost, [], "every one of the %d Pongs to the legitimate peer arrived during the "
            "flood of %d forged endpoints" % (N_ROUNDS, N_FORGED))
    tap.is_(got, list(range(1, N_ROUNDS + 1)), "in order, none duplicated")

    g = node.status()["gateway"]
    tap.ok(len(g["peers"]) <= 256, "the peer table stayed bounded (%d)" % len(g["peers"]))
    p = legit_peer()
    tap.ok(p is not None and p.get("connected") is True and p["sent"] == N_ROUNDS + 1,
           "the legitimate peer kept its socket: %r" % (p,))
    tap.diag("gateway: peers_refused %d, peers_evicted %d, dropped_evicted %d, strangers %d, "
             "send_errors %d" % (g.get("peers_refused", -1), g["peers_evicted"],
                                 g["dropped_evicted"], g.get("strangers", -1), g["send_errors"]))
    tap.ok(0 <= g.get("strangers", -1) <= 64,
           "strangers stayed within their 64 slots (%d)" % g.get("strangers", -1))

    # Every reply to a forged endpoint is accounted for: refused before a
    # socket was made (peers_refused, each a dead letter), lost with an
    # evicted stranger (dropped_evicted), or still held by a stranger.
    def accounted():
        g = node.status()["gateway"]
        held = sum(x["sent"] + x["queued"] for x in g["peers"] if x["endpoint"] != legit.me)
        return g.get("peers_refused", 0) + g["dropped_evicted"] + held
    try:
        wait_for(lambda: accounted() == N_FORGED, 20, "every forged reply to be counted")
    except Exception:
        pass
    tap.ok(accounted() == N_FORGED,
           "each of the %d replies to a forged endpoint is counted (%d)"
           % (N_FORGED, accounted()))
    tap.ok(node.running(), "actorsd is still running")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
