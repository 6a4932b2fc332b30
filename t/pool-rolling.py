#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-rolling.py - `actorsctl restart POOL` restarts the members one at a
time while traffic flows, and loses nothing.

A driver streams Jobs into a round_robin pool of 3.  While it does, the
test runs `actorsctl restart rw` and samples status meanwhile: at no time
are two members down, the command answers once the last member is back,
every member restarted once with a new pid, and every Job ended exactly
once.  `actorsctl restart rw#1` still restarts that one member only, and
a member stopped by the operator counts no crash.
"""
import threading
import time

from actorsd_harness import Tap, Node, actor, wait_for
from pool_common import pgroup, ends

TOTAL = 40000

tap = Tap(timeout=180)

with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 10}, name="proll")
    log = node.path("jobs.log")
    node.app["groups"] = [
        pgroup("rw", [actor("rww", "pworker", {"log": log, "work_us": 100})], pool=3,
               shutdown_ms=5000, ring_bytes=16384, max_msg_bytes=1024),
        pgroup("drv", [actor("d1", "driver", {"log": log, "to": "rww", "keys": 1,
                                              "per_key": TOTAL})]),
    ]
    st = node.start()
    before = {g["name"]: g["pid"] for g in st["groups"]}
    wait_for(lambda: len(ends(log)) >= 200, 30, "the stream to be under way")

    low = {"ready": 3, "samples": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                s = node.status()
            except OSError:
                continue
            ready = sum(1 for g in s["groups"] if g["pool"] == "rw" and g["state"] == "ready")
            low["ready"] = min(low["ready"], ready)
            low["samples"] += 1
            time.sleep(0.002)
    t = threading.Thread(target=sample)
    t.start()
    rc, out, err = node.ctl("restart", "rw", timeout=120)
    n_at_done = len(ends(log))
    stop.set()
    t.join()
    tap.is_(rc, 0, "actorsctl restart rw: exit 0 (%s%s)" % (out.strip(), err.strip()))
    tap.ok(n_at_done < TOTAL, "the stream was still flowing when it finished (%d of %d Jobs "
           "done)" % (n_at_done, TOTAL))
    tap.ok(low["ready"] >= 2, "never more than one member down (lowest ready: %d in %d "
           "samples)" % (low["ready"], low["samples"]))
    st = node.status()
    ms = [node.group("rw#%d" % k, st) for k in range(3)]
    tap.ok(all(m["restarts"] == 1 and m["pid"] and m["pid"] != before[m["name"]]
               and m["state"] == "ready" for m in ms),
           "each member restarted once, with a new pid: %s"
           % [(m["name"], m["restarts"], m["state"]) for m in ms])
    tap.is_(st["crashes"], [], "a rolling restart is no crash")

    wait_for(lambda: len(ends(log)) >= TOTAL, 120, "all Jobs to end")
    seqs = sorted(e[3] for e in ends(log))
    tap.ok(seqs == list(range(TOTAL)), "every Job ended exactly once (%d lines, %d distinct)"
           % (len(seqs), len(set(seqs))))

    rc, out, err = node.ctl("restart", "rw#1")
    st = node.wait_ready()
    rs = [node.group("rw#%d" % k, st)["restarts"] for k in range(3)]
    tap.ok(rc == 0 and rs == [1, 2, 1], "actorsctl restart rw#1 restarts that member only %r"
           % rs)
    rc, j, err = node.ctl_json("restart", "nosuch")
    tap.ok(rc != 0 and j and j.get("code") == "not_found", "restart of an unknown name: "
           "not_found")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
