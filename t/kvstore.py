#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/kvstore.py - the kvstore example actor (examples/kvstore) end to end:
its Python client over the JSON protocol against actorsd.

Values of every JSON kind round-trip; overwrite and Del report whether the
key existed; 2,000 keys grow the hash table and come back; keys with a ttl
are removed by the periodic sweep (status of the store shows it without
the key being touched), never before their ttl, and a Get never returns an
expired value even when the sweep has not run yet (a second store whose
sweep period is an hour); bad ttls get an Error reply, a Set without ttl a
Reject.  Expiry is awaited by polling with a deadline, never by sleeping.
The command-line client works too.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import KVSTORE_SO, KVSTORE_EXAMPLES, need_zmq, python_for_scripts  # noqa: E402

need_zmq(KVSTORE_SO)
sys.path.insert(0, KVSTORE_EXAMPLES)
from kv_client import KvClient, KvError  # noqa: E402

# See t/remote-interop.py: the gateway re-prints numbers with cJSON's
# 15-digit shortcut.  TAP TODO until supervisor/gateway.c is fixed.
GATEWAY_NUMBERS_TODO = "gateway re-prints message numbers inexactly (cJSON %1.15g)"


def todo(tap, cond, name, why):
    tap.n += 1
    print("%sok %d - %s # TODO %s" % ("" if cond else "not ", tap.n, name, why), flush=True)


def raises(fn):
    try:
        fn()
    except KvError as e:
        return str(e)
    return None


tap = Tap(timeout=55)
with tap:
    t0 = time.monotonic()
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "store", "module": KVSTORE_SO, "actors": [
            actor("kvstore", "kvstore", {"sweep_ms": 20}, remote=True),
            actor("lazy", "kvstore", {"sweep_ms": 3600000}, remote=True),
        ]}],
    }, name="kv")
    ep = node.start()["gateway"]["advertise"]
    kv = KvClient(ep, timeout=10)
    tap.cleanups.append(kv.close)

    # ---- values
    values = [0, -42, 2 ** 31, "text", "\u00e9\u4e2d\U0001f600", "", True, False, None,
              [1, "two", [3]], {"a": {"b": [1, 2, {"c": None}]}}, 1.5, -0.25]
    for i, v in enumerate(values):
        kv.set("k%d" % i, v)
    got = [kv.get("k%d" % i) for i in range(len(values))]
    tap.is_(got, [(True, v) for v in values], "Set then Get: %d values of every JSON kind "
            "come back" % len(values))
    tap.is_(kv.get("nope"), (False, None), "Get of a missing key: found false, value null")
    tap.is_(kv.set("k0", "new"), True, "Set of an existing key says it existed")
    tap.is_(kv.get("k0"), (True, "new"), "... and the new value replaced the old")
    tap.is_(kv.set("", {"empty": "key"}), False, "the empty string is a key too")
    tap.is_(kv.get(""), (True, {"empty": "key"}), "... and comes back")

    exact = [0.1 + 0.2, 2 ** 53 - 1, 1e-300, 123456789.12345678]
    for i, v in enumerate(exact):
        kv.set("x%d" % i, v)
    got = [kv.get("x%d" % i)[1] for i in range(len(exact))]
    tap.ok(got == exact, "numbers come back exact: %r" % (got,))

    # ---- deletion
    tap.is_(kv.delete("k1"), True, "Del of an existing key says it existed")
    tap.is_(kv.get("k1"), (False, None), "... and the key is gone")
    tap.is_(kv.delete("k1"), False, "Del of a missing key says so")
    st = kv.stats()
    n_keys = len(values) + 1 + len(exact) - 1
    tap.is_(st["keys"], n_keys, "Stats: %d keys" % n_keys)

    # ---- many keys: the table grows
    for i in range(2000):
        kv.set("many/%d" % i, i)
    got = [kv.get("many/%d" % i) for i in range(2000)]
    tap.ok(got == [(True, i) for i in range(2000)], "2,000 keys stored and read back")
    tap.ok(all(kv.delete("many/%d" % i) for i in range(0, 2000, 2)), "1,000 of them deleted")
    tap.is_(kv.stats()["keys"], n_keys + 1000, "Stats: %d keys left" % (n_keys + 1000))
    tap.is_([kv.get("many/%d" % i)[0] for i in range(6)], [False, True] * 3,
            "the deleted ones are gone, the others are there")

    # ---- expiry by the periodic sweep
    before = kv.stats()
    ttl = 0.3
    t_set = time.monotonic()
    kv.set("short", "lived", ttl=ttl)
    kv.set("forever", "here", ttl=0)
    kv.set("long", "lived", ttl=3600)
    tap.is_(kv.stats()["keys"], before["keys"] + 3, "three keys with ttl 0.3 s, 0 and 1 h")
    # Watch the store's own count; the key itself is not touched, so only
    # the timer-driven sweep can remove it.
    st = wait_for(lambda: (lambda s: s if s["expired"] > before["expired"] else None)(kv.stats()),
                  10, "the sweep to expire 'short'")
    waited = time.monotonic() - t_set
    tap.is_((st["keys"], st["expired"]), (before["keys"] + 2, before["expired"] + 1),
            "the sweep removed exactly the expired key (keys and expired in Stats)")
    tap.ok(waited >= ttl, "not before its ttl (%.3f s >= %.1f s)" % (waited, ttl))
    tap.is_([kv.get(k) for k in ("short", "forever", "long")],
            [(False, None), (True, "here"), (True, "lived")],
            "Get: the expired key is gone, ttl 0 and ttl 1 h are still there")
    tap.is_(kv.set("long", "renewed", ttl=None), True, "Set with ttl null overwrites a ttl key")

    # ---- a Get never returns an expired value (store whose sweep never runs)
    lazy = KvClient(ep, store="lazy", name="lazy_client", timeout=10)
    tap.cleanups.append(lazy.close)
    t_set = time.monotonic()
    lazy.set("soon", 1, ttl=0.2)
    seen = []

    def expired_on_get():
        seen.append(time.monotonic() - t_set)
        return lazy.get("soon") == (False, None)
    wait_for(expired_on_get, 10, "Get to stop returning 'soon'")
    waited = time.monotonic() - t_set
    tap.ok(waited >= 0.2, "Get stops finding a ttl 0.2 s key after %.3f s, not before" % waited)
    st = lazy.stats()
    tap.is_((st["keys"], st["expired"]), (0, 1),
            "the lazy store's Get removed it (its sweep never ran)")

    # ---- bad requests
    e = raises(lambda: kv.set("bad", 1, ttl=-1))
    tap.ok(e and "ttl must be 0..1e9 seconds" in e, "a negative ttl gets an Error: %s" % e)
    e = raises(lambda: kv.request("Set", {"key": "bad", "value": 1, "ttl": "soon"}, "Ok"))
    tap.ok(e and "ttl must be null or a number" in e, "a string ttl gets an Error: %s" % e)
    e = raises(lambda: kv.request("Set", {"key": "bad", "value": 1}, "Ok"))
    tap.ok(e and "rejected by kvstore" in e and "field 'ttl': missing" in e,
           "a Set without ttl gets a Reject: %s" % e)
    e = raises(lambda: kv.request("Get", {"key": 5}, "Value"))
    tap.ok(e and "field 'key': expected a string" in e, "a numeric key gets a Reject: %s" % e)
    tap.is_(kv.get("bad"), (False, None), "none of them stored anything")

    # ---- the command-line client
    cli = [python_for_scripts(), os.path.join(KVSTORE_EXAMPLES, "kv_client.py"), "--connect", ep]

    def run(*args):
        r = subprocess.run(cli + list(args), capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout.strip()
    tap.is_(run("set", "cli", '{"n": 1}', "--ttl", "60"),
            (0, '{"op": "Set", "key": "cli", "found": false}'), "kv_client.py set")
    tap.is_(run("get", "cli"), (0, '{"key": "cli", "value": {"n": 1}, "found": true}'),
            "kv_client.py get")
    tap.is_(run("del", "cli"), (0, '{"op": "Del", "key": "cli", "found": true}'),
            "kv_client.py del")
    tap.is_(run("get", "cli")[0], 1, "kv_client.py get of a missing key exits 1")

    tap.is_(node.group("store")["restarts"], 0, "the store never restarted")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
