#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-stranger-memory.py - large replies for endpoints that never answer
do not pile up in the supervisor's memory.

ZeroMQ bounds its queue for a peer in frames (10,000), not bytes.  A
forged sender_endpoint costs nothing: an outside attack sent small Gets to
the kvstore example naming addresses that never answer, and the 60 KB
replies took actorsd from 11 MB to 1.5 GB (stop 35).  Now, while a peer
has not completed a handshake, the gateway hands ZeroMQ at most 16 MiB
for it and 64 MiB for all such peers together, ZeroMQ's share and its own
queues' both; the rest waits in the ring and is dropped once the peer is
stalled.  Here 4000 Gets for a 60 KB value name four endpoints nobody
binds: 240 MB of replies.  At most 64 MiB of them may be handed to
ZeroMQ (the supervisor's private memory grew by 227 MiB before, 66 MiB
now: printed, not checked), and a live peer is still answered.
"""
import os
import json

from actorsd_harness import free_port, Tap, Node, group, actor, wait_for
from zmq_peer import Peer, KVSTORE_SO, need_zmq, send_frame

zmq = need_zmq(KVSTORE_SO)
N = 4000
VALUE = "v" * 60000



def rss_anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("RssAnon:"):
                return int(ln.split()[1])
    return -1


tap = Tap(timeout=120)
with tap:
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [group("store", [actor("kvstore", "kvstore", {"sweep_ms": 1000},
                                         remote=True)],
                         module=KVSTORE_SO)],
    }, name="stranger-mem")
    st = node.start()
    ep = st["gateway"]["advertise"]
    live = Peer("live")
    tap.cleanups.append(live.close)
    live.send(ep, "kvstore", "Set", {"key": "big", "value": VALUE, "ttl": None})
    env = live.recv(10)
    tap.is_(env and env["message_type"], "Ok", "the 60 KB value is stored")
    live.send(ep, "kvstore", "Get", {"key": "big"})
    env = live.recv(10)
    tap.ok(env and env["message"].get("found") and len(env["message"]["value"]) == len(VALUE),
           "a live peer gets it")
    before = rss_anon_kib(node.proc.pid)

    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(ep)
    tap.cleanups.append(push.close)
    gone = ["tcp://127.0.0.1:%d" % free_port() for _ in range(4)]
    for i in range(N):
        send_frame(push, json.dumps({"sender_actor": "x", "sender_endpoint": gone[i % 4],
                                     "receiver": "kvstore", "message_type": "Get",
                                     "message": {"key": "big"}}).encode())

    # Once the store has handled every Get, a live peer's Stats comes back
    # (after the stalled peers let the ring go).
    def handled():
        live.send(ep, "kvstore", "Stats", {})
        e = live.recv(10)
        return e if e and e["message_type"] == "KvStats" and e["message"]["gets"] >= N + 1 \
            else None
    e = wait_for(handled, 60, "the store to handle every Get")
    tap.ok(e is not None, "a live peer is answered after the flood (gets %d)"
           % e["message"]["gets"])
    grew = rss_anon_kib(node.proc.pid) - before
    g = node.status()["gateway"]
    held = [p for p in g["peers"] if p["endpoint"] in gone]
    # What was handed to ZeroMQ for them (frames of a bit more than the
    # value each), not the memory itself: a sanitizer's build keeps freed
    # memory aside, and the figure is printed only.
    handed = sum(p["sent"] for p in held) * len(VALUE)
    tap.ok(handed <= (64 << 20) + len(VALUE),
           "at most 64 MiB of the %d MB of replies were handed to ZeroMQ for endpoints that "
           "never answer (%d MB)" % (N * len(VALUE) // 1000000, handed // 1000000))
    tap.diag("the supervisor's private memory grew by %d MiB" % (grew // 1024))
    tap.ok(sum(p["dropped_stalled"] for p in held) > 0,
           "the rest was dropped once those peers stalled (%d)"
           % sum(p["dropped_stalled"] for p in held))
