#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-stall.py - a peer that takes no frame does not hold its group's
other envelopes for good.

Our pong answers a flood of Pings whose sender_endpoint nobody listens on
(a gone peer, or a forged frame).  The replies fill ZeroMQ's queue for
that endpoint (SNDHWM 10000), then the gateway's own queue for it (4096),
then wait at the head of pong's ring to the supervisor, and everything
behind them waits too.  Before, that was for good: a live peer's Pong and
an actorsctl ask of pong never came (an outside attack, stop 34).  Now a
peer whose queue stays full for its peer_down_ms (3000 by default; 250 ms
for one that never shook hands, as here) with no frame taken is stalled: what comes for it is dropped, counted per peer
(dropped_stalled) and as dead letters, and the live peer gets its Pong.
When the endpoint is bound at last, it gets every reply that was not
dropped, in order, and the peer is not stalled any more.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import free_port, Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, send_frame  # noqa: E402

zmq = need_zmq(REMOTE_SO)
N = 16000   # more than ZeroMQ's queue (10000) and the gateway's (4096) hold



tap = Tap(timeout=120)
with tap:
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "pongs", "module": REMOTE_SO, "ring_bytes": 16777216,
                    "actors": [actor("pong", "pong", remote=True)]}],
    }, name="stall")
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

    def peer(ep_):
        for p in node.status()["gateway"]["peers"]:
            if p["endpoint"] == ep_:
                return p
        return None
    tap.ok(wait_for(lambda: (peer(gone) or {}).get("queued") == 4096, 30,
                    "the gateway's queue for the missing peer to fill"),
           "the gateway's queue for the missing peer is full (4096)")
    t0 = time.monotonic()

    # Behind the replies that wait for room: a live peer's Ping.
    live = Peer("live")
    tap.cleanups.append(live.close)
    live.send(ep, "pong", "Ping", {"count": 7})
    env = live.recv(20)
    waited = time.monotonic() - t0
    tap.is_(env and (env["message_type"], env["message"]), ("Pong", {"count": 7}),
            "a live peer gets its Pong once the missing one is stalled (%.1f s after its "
            "queue filled)" % waited)
    a = node.ask("pong", "Ping", {"count": 9}, timeout_ms=10000)
    tap.ok(a.get("ok") and a["message"] == {"count": 9},
           "an actorsctl ask of pong is answered too (%r)" % (a,))

    p = peer(gone)
    g = node.status()["gateway"]
    tap.ok(p["stalled"] and p["dropped_stalled"] > 0 and
           g["dropped_stalled"] == p["dropped_stalled"],
           "status: the peer is stalled, %d envelopes for it dropped (gateway total %d)"
           % (p["dropped_stalled"], g["dropped_stalled"]))
    tap.ok("took no frame for 250 ms" in node.log_text(),
           "the log says it was stalled after 250 ms, a stranger's limit (peer_down_ms "
           "applies to peers that shook hands)")
    tap.ok(p["refused"] <= 2, "its refusals count the times its queue filled, not the "
           "retries (refused %d)" % p["refused"])
    tap.ok(node.status().get("dead_letters", 0) >= p["dropped_stalled"],
           "the dropped envelopes are dead letters (%r >= %d)"
           % (node.status().get("dead_letters"), p["dropped_stalled"]))

    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind(gone)
    tap.cleanups.append(pull.close)
    got = []
    while pull.poll(5000):
        got.append(json.loads(pull.recv())["message"]["count"])
    dropped = peer(gone)["dropped_stalled"]
    tap.is_(len(got) + dropped, N,
            "the peer that came back got every reply not dropped (%d + %d dropped)"
            % (len(got), dropped))
    tap.ok(got == sorted(got) and len(set(got)) == len(got) and got[:1] == [1],
           "in order, from the first, none duplicated")
    tap.ok(wait_for(lambda: not peer(gone)["stalled"] and peer(gone)["queued"] == 0, 10,
                    "the peer to take frames again"),
           "it is not stalled any more and its queue drained")
