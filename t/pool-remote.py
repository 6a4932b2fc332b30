#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-remote.py - envelopes from remote peers to a pool's actor are routed
by the pool's policy, and the members' replies reach the peer.

A peer sends 30 Pings over the JSON protocol to a round_robin pool of 3
whose actor is remote; the Pongs (count * 100 + member) come back from all
three members, one per Ping, 10 each.  A key_hash pool gets Jobs of one key
from the peer: they all run in one member, in order.
"""
import collections
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from pool_common import POOLMOD, pgroup, ends  # noqa: E402
from zmq_peer import Peer, need_zmq  # noqa: E402

need_zmq(POOLMOD)
N = 30

tap = Tap(timeout=60)
with tap:
    peer = Peer("tester")
    tap.cleanups.append(peer.close)
    node = Node(tap, {"endpoint": "tcp://127.0.0.1:*"}, name="premote")
    log = node.path("jobs.log")
    node.app["groups"] = [
        pgroup("rr", [actor("rrw", "pworker", {"log": log}, remote=True)], pool=3),
        pgroup("kh", [actor("khw", "pworker", {"log": log, "work_us": 100}, remote=True)],
               pool=3, routing="key_hash", key="key"),
    ]
    st = node.start()
    ep = st["gateway"]["advertise"]
    sent = [peer.send(ep, "rrw", "Ping", {"count": i}) for i in range(N)]
    tap.ok(all(sent), "%d Pings sent to the pool's actor" % N)
    got = []
    while len(got) < N:
        e = peer.recv(10)
        if e is None:
            break
        got.append(e)
    counts = sorted(e["message"]["count"] for e in got if e.get("message_type") == "Pong")
    tap.is_([c // 100 for c in counts], list(range(N)), "a Pong for every Ping")
    per = collections.Counter(c % 100 for c in counts)
    tap.is_(dict(per), {0: N // 3, 1: N // 3, 2: N // 3},
            "the gateway's envelopes went round robin over the members")
    tap.ok(all(e.get("sender_actor") == "rrw" for e in got), "the replies come from 'rrw'")

    for s in range(N):
        peer.send(ep, "khw", "Job", {"key": "only", "seq": s})
    wait_for(lambda: len([e for e in ends(log) if e[2] == "only"]) >= N, 20, "the Jobs")
    jobs = [e for e in ends(log) if e[2] == "only"]
    tap.ok(len({e[0] for e in jobs}) == 1 and [e[3] for e in jobs] == list(range(N)),
           "key_hash from a peer: one member, in order")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
