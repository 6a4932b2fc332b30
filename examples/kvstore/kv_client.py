#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
kv_client.py - a small client for the kvstore actor, over the actors
family's JSON protocol (shared/PROTOCOL.md) with nothing but pyzmq.

As a program:

    kv_client.py --connect tcp://127.0.0.1:5560 set KEY JSON_VALUE [--ttl SECONDS]
    kv_client.py --connect tcp://127.0.0.1:5560 get KEY
    kv_client.py --connect tcp://127.0.0.1:5560 del KEY
    kv_client.py --connect tcp://127.0.0.1:5560 stats

prints the reply's message as JSON; exit status 0, 1 when get/del found no
such key, 2 on an error (a Reject, an Error reply, no reply in time).

As a module:

    with KvClient("tcp://127.0.0.1:5560") as kv:
        kv.set("a", {"x": 1}, ttl=0.5)    # -> True if "a" existed
        found, value = kv.get("a")
        kv.delete("a")                     # -> True if "a" existed
        kv.stats()                         # -> {"keys": ..., "expired": ...}

Requests are answered in order (one sender, one actor: FIFO), so each call
sends one envelope and waits for the one reply.
"""
import argparse
import json
import sys

import zmq


class KvError(Exception):
    """The store refused a request (Reject or Error), or did not answer."""


def normalize(endpoint):
    for wild in ("tcp://*:", "tcp://0.0.0.0:"):
        if endpoint.startswith(wild):
            return "tcp://localhost:" + endpoint[len(wild):]
    return endpoint


class KvClient:
    def __init__(self, endpoint, store="kvstore", name="kv_client",
                 bind="tcp://127.0.0.1:*", timeout=5.0, ctx=None):
        self.ctx = ctx or zmq.Context.instance()
        self.store = store
        self.name = name
        self.timeout = timeout
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.bind(bind)
        self.me = normalize(self.pull.getsockopt_string(zmq.LAST_ENDPOINT))
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 1000)
        self.push.connect(normalize(endpoint))

    def close(self):
        self.pull.close(0)
        self.push.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, mtype, message, want):
        """Sends one request; returns the message of the reply of type want."""
        self.push.send(json.dumps({
            "sender_actor": self.name,
            "sender_endpoint": self.me,
            "receiver": self.store,
            "message_type": mtype,
            "message": message,
        }).encode())
        if not self.pull.poll(self.timeout * 1000):
            raise KvError("no reply to %s within %.1f s" % (mtype, self.timeout))
        reply = json.loads(self.pull.recv())
        rtype, rmsg = reply.get("message_type"), reply.get("message") or {}
        if rtype == "Reject":
            raise KvError("%s rejected by %s: %s" % (rmsg.get("message_type"),
                                                     rmsg.get("rejected_by"),
                                                     rmsg.get("reason")))
        if rtype == "Error":
            raise KvError("%s %r: %s" % (mtype, rmsg.get("key"), rmsg.get("reason")))
        if rtype != want:
            raise KvError("expected %s, got %s" % (want, json.dumps(reply)))
        return rmsg

    def set(self, key, value, ttl=None):
        """Stores value (any JSON value); ttl in seconds or None.  True if key existed."""
        return self.request("Set", {"key": key, "value": value, "ttl": ttl}, "Ok")["found"]

    def get(self, key):
        """(found, value)"""
        r = self.request("Get", {"key": key}, "Value")
        return r["found"], r["value"]

    def delete(self, key):
        """True if key existed."""
        return self.request("Del", {"key": key}, "Ok")["found"]

    def stats(self):
        return self.request("Stats", {}, "KvStats")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connect", required=True, help="endpoint of the store's node")
    ap.add_argument("--store", default="kvstore", help="name of the store actor [kvstore]")
    ap.add_argument("--timeout", type=float, default=5.0)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("set")
    p.add_argument("key")
    p.add_argument("value", help="a JSON value, e.g. 42 or '\"text\"'")
    p.add_argument("--ttl", type=float, default=None, help="seconds")
    sub.add_parser("get").add_argument("key")
    sub.add_parser("del").add_argument("key")
    sub.add_parser("stats")
    a = ap.parse_args(argv)

    try:
        with KvClient(a.connect, store=a.store, timeout=a.timeout) as kv:
            if a.cmd == "set":
                r = kv.request("Set", {"key": a.key, "value": json.loads(a.value),
                                       "ttl": a.ttl}, "Ok")
            elif a.cmd == "get":
                r = kv.request("Get", {"key": a.key}, "Value")
            elif a.cmd == "del":
                r = kv.request("Del", {"key": a.key}, "Ok")
            else:
                r = kv.stats()
    except (KvError, ValueError) as e:
        print("kv_client: %s" % e, file=sys.stderr)
        return 2
    print(json.dumps(r))
    return 0 if r.get("found", True) or a.cmd == "set" else 1


if __name__ == "__main__":
    sys.exit(main())
