#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-readd-remove.py - a group removed, added back and removed again
stops at once the second time, and stops its actors' children then.

Groups "prod" (watchers w0, w3), "cons" (tally t0, watcher w1) and "other"
(tally o1), all t/mod/reloadmod.c.  w0 monitors t0, so prod's ring into
cons holds a record cons's first worker read.  A reload removes cons and
another adds it back: the new worker resumes that ring where the first
one left it.  Its w1 spawns k0 into other, w3 monitors k0, and a reload
removes cons again.  Before, the removed worker's drain compared the
ring's tail with a read position that a new worker starts at 0, not with
what was handled: it waited for that old record until shutdown_ms, was
killed with SIGTERM, and k0 lived on (found by an outside attack).
"""
import copy
import os

from actorsd_harness import (Tap, Node, actor, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {
        "groups": [
            {"name": "prod", "module": RELOADMOD,
             "actors": [actor("w0", "watcher"), actor("w3", "watcher")]},
            {"name": "cons", "module": RELOADMOD,
             "actors": [actor("t0", "tally"), actor("w1", "watcher")]},
            {"name": "other", "module": RELOADMOD, "actors": [actor("o1", "tally")]},
        ],
    }, name="rlrr")
    full = copy.deepcopy(node.app)
    node.start()
    small = copy.deepcopy(full)
    small["groups"] = [g for g in small["groups"] if g["name"] != "cons"]
    ok = {"count": 1, "refused": 0}

    tap.is_(node.ask_ok("w0", "Watch", {"name": "t0"}), ok, "w0 (prod) monitors t0 (cons)")
    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-cons" in out, "a reload removes cons (%r)" % (out.strip() or err.strip()))
    rc, out, err = node.reload(full)
    tap.ok(rc == 0 and "+cons" in out, "a reload adds it back (%r)" % (out.strip() or err.strip()))
    tap.is_(node.ask_ok("w1", "SpawnIn", {"name": "other/k0"}), ok,
            "the added-back w1 spawns k0 into other")
    tap.is_(node.ask_ok("w3", "Watch", {"name": "k0"}), ok, "w3 monitors k0")
    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-cons" in out, "a reload removes cons again (%r)"
           % (out.strip() or err.strip()))
    d = node.wait_downs(1, "k0's Down at w3", who="w3")
    tap.is_((d["count"], d["last"]), (1, "k0: stopped"), "k0 stopped with its parent's group")
    death = node.group("cons").get("last_death") or ""
    tap.ok("signal" not in death, "cons's worker stopped by itself, not killed (%r)" % death)
    log = node.log_text()
    tap.ok("did not stop in time" not in log, "no 'did not stop in time' in the log")
