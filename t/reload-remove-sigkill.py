#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-remove-sigkill.py - actorsd SIGKILLed while a reload's removal
of a group is still draining: the next actorsd, started with a file that
lists the group, runs it again without the actors spawned into it.

N tallies are spawned into "cons"; its burster is held in a 5 s handler
(it creates a mark file when it is in it), so the removal waits for it.
actorsd is SIGKILLed as soon as the removal is announced, before the
removed worker stopped and the supervisor freed the spawned actors'
records.  Before, the next actorsd re-created all N (found by an outside
attack); the docs say the actors spawned into a removed group do not
come back.
"""
import copy
import os
import signal

from actorsd_harness import (Tap, Node, actor, leftovers_after, wait_for, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
N = 50

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {"groups": [
        {"name": "prod", "module": RELOADMOD, "actors": [actor("w0", "watcher"),
                                                         actor("sink", "sink")]},
        {"name": "cons", "module": RELOADMOD, "shutdown_ms": 20000,
         "heartbeat_timeout_ms": 30000, "actors": [actor("t0", "tally")]},
    ]}, name="rlrk")
    mark = node.path("mark")
    node.app["groups"][1]["actors"].append(
        actor("bur", "burster", {"mark": mark, "pause_ms": 5000}))
    full = copy.deepcopy(node.app)
    node.start()
    small = copy.deepcopy(full)
    small["groups"] = [g for g in small["groups"] if g["name"] != "cons"]

    bad = sum(not node.request({"cmd": "spawn", "group": "cons", "behaviour": "tally",
                                "name": "m%d" % i}).get("ok") for i in range(N))
    tap.is_(bad, 0, "%d tallies spawned into cons" % N)
    tap.ok(node.send("bur", "Ping", {"count": 1}).get("ok"), "bur is sent a Ping")
    wait_for(lambda: os.path.exists(mark), 10, "bur in its 5 s handler")
    node.rewrite_app(small)
    node.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "removed by a reload: it handles" in node.log_text(), 10,
             "the removal announced")
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    tap.ok("records of its" not in node.log_text(),
           "actorsd SIGKILLed while cons drained, before its records were freed")
    leftovers_after(5)

    node.app = copy.deepcopy(full)
    os.unlink(mark)
    st = node.start(timeout=30)
    tap.is_({g["name"]: g["state"] for g in st["groups"]}, {"prod": "ready", "cons": "ready"},
            "a new actorsd with the file that lists cons runs it again")
    back = sum(node.ask("m%d" % i, "Ping", {"count": 0}).get("ok", False) for i in range(N))
    tap.is_(back, 0, "none of the %d spawned actors came back" % N)
    tap.is_(node.ask_ok("t0", "Ping", {"count": 0}), {"count": 1}, "its static t0 is back")
    r = node.request({"cmd": "spawn", "group": "cons", "behaviour": "tally", "name": "m0"})
    tap.ok(r.get("ok"), "the name m0 is free again (%r)" % (r,))
    tap.is_(node.terminate(), 0, "clean stop")
