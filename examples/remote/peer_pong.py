#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
peer_pong.py - a Python "pong" peer for the actors family's JSON protocol.

It plays what a Python member of the family does (shared/PROTOCOL.md), with
nothing but pyzmq: it binds one PULL socket at its endpoint and answers each
Ping{count} addressed to its actor name with Pong{count}, sent to the Ping's
sender_actor at sender_endpoint through one cached PUSH socket per endpoint.
An envelope for another actor or of another type gets a Reject back (when
it names its sender), as the protocol says; a Reject is never answered.

    peer_pong.py --bind tcp://127.0.0.1:5552 [--name pong]
                 [--rounds N] [--check] [--idle-timeout S]

With --rounds it exits after answering N Pings; with --check the Pings must
carry the counts 1, 2, ... N in order.  --idle-timeout gives up when no
envelope came for S seconds.  Exit status: 0, or 1 (a check failed, a
malformed envelope, or the idle timeout).
"""
import argparse
import json
import sys

import zmq


def normalize(endpoint):
    """A bind address as a peer connects to it (PROTOCOL.md, Transport)."""
    for wild in ("tcp://*:", "tcp://0.0.0.0:"):
        if endpoint.startswith(wild):
            return "tcp://localhost:" + endpoint[len(wild):]
    return endpoint


class Pong:
    def __init__(self, ctx, name):
        self.ctx = ctx
        self.name = name
        self.me = None
        self.pushes = {}     # endpoint -> PUSH socket

    def send(self, endpoint, env):
        ep = normalize(endpoint)
        s = self.pushes.get(ep)
        if s is None:
            s = self.ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 2000)
            s.connect(ep)
            self.pushes[ep] = s
        s.send(json.dumps(env).encode())

    def reject(self, env, reason):
        """A Reject back to the sender of env, if it can be answered."""
        if env.get("message_type") == "Reject":
            return
        actor, endpoint = env.get("sender_actor"), env.get("sender_endpoint")
        if not actor or not endpoint:
            return
        self.send(endpoint, {
            "sender_actor": None,           # Rejects are anonymous in the family
            "sender_endpoint": self.me,
            "receiver": actor,
            "message_type": "Reject",
            "message": {"message_type": env.get("message_type"), "reason": reason,
                        "rejected_by": env.get("receiver")},
        })

    def close(self):
        for s in self.pushes.values():
            s.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bind", required=True, help="our endpoint, e.g. tcp://127.0.0.1:5552")
    ap.add_argument("--name", default="pong", help="our actor name [pong]")
    ap.add_argument("--rounds", type=int, default=0, help="exit after N Pings [never]")
    ap.add_argument("--check", action="store_true", help="Pings must count 1, 2, ... N")
    ap.add_argument("--idle-timeout", type=float, default=0, help="seconds [forever]")
    a = ap.parse_args(argv)

    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind(a.bind)
    pong = Pong(ctx, a.name)
    pong.me = normalize(pull.getsockopt_string(zmq.LAST_ENDPOINT))
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    print("pong: %s listening at %s" % (a.name, pong.me), flush=True)

    status = 0
    pings = 0
    while not a.rounds or pings < a.rounds:
        if not poller.poll(a.idle_timeout * 1000 if a.idle_timeout else None):
            print("pong: nothing for %.1f s after %d Pings; giving up" % (a.idle_timeout, pings))
            status = 1
            break
        frame = pull.recv()
        try:
            env = json.loads(frame)
            receiver, mtype, msg = env["receiver"], env["message_type"], env["message"]
        except (ValueError, KeyError, TypeError):
            print("pong: malformed envelope ignored: %r" % frame[:200])
            status = 1
            continue
        if receiver != a.name:
            pong.reject(env, "Actor '%s' not found" % receiver)
            continue
        if mtype == "Reject":
            print("pong: our %s was rejected by %s: %s" % (
                msg.get("message_type"), msg.get("rejected_by"), msg.get("reason")))
            continue
        if mtype != "Ping":
            pong.reject(env, "Unknown message type '%s'" % mtype)
            continue
        count = msg.get("count") if isinstance(msg, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            pong.reject(env, "Cannot decode 'Ping': field 'count' is not an integer")
            continue
        pings += 1
        if a.check and count != pings:
            print("pong: Ping %d arrived as Ping number %d" % (count, pings))
            status = 1
        if env.get("sender_actor") and env.get("sender_endpoint"):
            pong.send(env["sender_endpoint"], {
                "sender_actor": a.name,
                "sender_endpoint": pong.me,
                "receiver": env["sender_actor"],
                "message_type": "Pong",
                "message": {"count": count},
            })
    print("pong: answered %d Pings" % pings, flush=True)
    pong.close()
    pull.close(0)
    ctx.term()
    return status


if __name__ == "__main__":
    sys.exit(main())
