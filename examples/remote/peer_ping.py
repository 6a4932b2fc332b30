#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
peer_ping.py - a Python "ping" peer for the actors family's JSON protocol.

It plays what a Python member of the family does (shared/PROTOCOL.md), with
nothing but pyzmq: it binds a PULL socket for its replies, connects a PUSH
socket to the node that hosts the pong actor, and sends
Ping{count} envelopes one at a time, each naming itself as sender_actor and
its PULL socket as sender_endpoint.  Every reply must be a Pong with the
count of the Ping in flight, addressed to us.

    peer_ping.py --connect tcp://127.0.0.1:5551 [--to pong] [--rounds 1000]
                 [--first 1] [--name ping] [--bind tcp://127.0.0.1:*]
                 [--timeout 10] [--quiet]

Exit status: 0 when every round trip came back right, 1 on a wrong reply or
a timeout, 2 when the pong side answered with a Reject (printed).
"""
import argparse
import json
import sys
import time

import zmq


def normalize(endpoint):
    """A bind address as a peer connects to it (PROTOCOL.md, Transport)."""
    for wild in ("tcp://*:", "tcp://0.0.0.0:"):
        if endpoint.startswith(wild):
            return "tcp://localhost:" + endpoint[len(wild):]
    return endpoint


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connect", required=True, help="endpoint of the pong's node")
    ap.add_argument("--to", default="pong", help="name of the pong actor [pong]")
    ap.add_argument("--name", default="ping", help="our actor name [ping]")
    ap.add_argument("--bind", default="tcp://127.0.0.1:*",
                    help="where we receive replies [tcp://127.0.0.1:*]")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--first", type=int, default=1, help="count of the first Ping [1]")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for each Pong [10]")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind(a.bind)
    me = normalize(pull.getsockopt_string(zmq.LAST_ENDPOINT))
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 2000)
    push.connect(normalize(a.connect))
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)

    status = 0
    t0 = time.monotonic()
    done = 0
    for count in range(a.first, a.first + a.rounds):
        env = {
            "sender_actor": a.name,
            "sender_endpoint": me,
            "receiver": a.to,
            "message_type": "Ping",
            "message": {"count": count},
        }
        push.send(json.dumps(env).encode())
        if not poller.poll(a.timeout * 1000):
            print("ping: no reply to Ping %d within %.1f s" % (count, a.timeout))
            status = 1
            break
        reply = json.loads(pull.recv())
        if reply.get("message_type") == "Reject":
            r = reply.get("message", {})
            print("ping: Ping %d rejected by %r: %s" % (count, r.get("rejected_by"),
                                                        r.get("reason")))
            status = 2
            break
        want = {"receiver": a.name, "message_type": "Pong", "message": {"count": count}}
        got = {k: reply.get(k) for k in want}
        if got != want:
            print("ping: wrong reply to Ping %d: %s" % (count, json.dumps(reply)))
            status = 1
            break
        done += 1
        if not a.quiet and count % 100 == 0:
            print("ping: round trip %d" % count)
    el = time.monotonic() - t0
    print("ping: %d of %d round trips with %s at %s in %.3f s (%.1f us each)"
          % (done, a.rounds, a.to, a.connect, el, el / max(done, 1) * 1e6))
    pull.close(0)
    push.close()
    ctx.term()
    return status


if __name__ == "__main__":
    sys.exit(main())
