#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/crash-record-spawned.py - a crash record names a spawned sender.

The consumer "sink" crashes its group (SIGSEGV) on seq POISON.  A producer
spawned by `actorsctl spawn` as "p2" streams to it: the group crashes
max_redeliveries (3) times on the poison, and each crash record in
`actorsctl status` says it was handling a Seq from p2 (a static sender is
t/supervise-poison.py's).  Before, a spawned sender was not named at all.
"""
import json

from actorsd_harness import Tap, Node, group, actor, wait_for

POISON = 5
COUNT = 20

tap = Tap(timeout=60)

with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 100, "period_ms": 1000,
                      "backoff": {"initial_ms": 1, "factor": 2.0, "max_ms": 10,
                                  "reset_after_ms": 1000}}, name="crashrec")
    node.app["groups"] = [
        group("cons", [actor("sink", "consumer", {"log": node.path("c.log"),
                                                  "poison": POISON})], max_redeliveries=3),
        group("prod", [actor("idle", "echo")]),
    ]
    node.start()
    rc, out, err = node.ctl("spawn", "prod", "producer", "p2",
                            json.dumps({"to": "sink", "id": 9, "count": COUNT}))
    tap.is_(rc, 0, "actorsctl spawn prod producer p2: exit 0 (%s)" % err.strip())
    st = node.wait_group("cons", lambda g, st: st["dead_letters"] >= 1 and
                         g["state"] == "ready", 20, "the poison to be parked")
    cr = [(c["group"], c["signal"], c["handling_type"], c["handling_from"])
          for c in st["crashes"]]
    tap.is_(cr, [("cons", 11, "Seq", "p2")] * 3,
            "status: 3 crash records: cons, SIGSEGV, handling a Seq from the spawned p2")
    tap.ok("from p2" in (node.group("cons", st)["last_death"] or ""),
           "status: last_death names the sender p2 (%r)"
           % node.group("cons", st)["last_death"])
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
