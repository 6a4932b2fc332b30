#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/stats-hwm.py - a group's ring high-water mark is never shown below its
ring depth, and never goes down.

A slow actor (each Job takes 100 ms) gets 20 Jobs from a driver in
another group at once, then 4 from actorsctl, so that its rings fill faster
than it drains them: its producers refresh a ring's mark only once in 32 commits,
and a mark is per ring while the depth sums the group's rings, so before
the fix status showed a mark far below the depth.  Checked while the
backlog is there (status --json, the text status, the metrics) and after
it drained (the mark stays).
"""
import re

from actorsd_harness import Tap, Node, actor, wait_for
from pool_common import pgroup, ends

N = 20

tap = Tap(timeout=90)

with tap:
    node = Node(tap, {"strategy": "one_for_one"}, name="hwm")
    log = node.path("jobs.log")
    node.app["groups"] = [
        pgroup("slow", [actor("sw", "pworker", {"log": log, "work_us": 100000})],
               heartbeat_timeout_ms=60000),
        pgroup("drv", [actor("d1", "driver", {"log": log, "to": "sw", "keys": 1,
                                              "per_key": N, "prefix": "d"})]),
    ]
    node.start()

    def check(when):
        g = node.group("slow")
        tap.diag("%s: ring_depth %d, ring_hwm %d, ended %d"
                 % (when, g["ring_depth"], g["ring_hwm"], len(ends(log))))
        tap.ok(g["ring_hwm"] >= g["ring_depth"],
               "%s: status --json: ring_hwm %d >= ring_depth %d"
               % (when, g["ring_hwm"], g["ring_depth"]))
        return g

    # The driver sent its N Jobs at once: they wait in one ring, whose
    # producer set its mark at the first and skipped the next 31.
    g = check("driver's backlog")
    tap.ok(g["ring_depth"] > 0, "a backlog waits in slow's rings (%d bytes)" % g["ring_depth"])
    rc, out, err = node.ctl("metrics")
    m = {k: float(v) for k, v in re.findall(
        r'^actors_group_ring_(depth|hwm)\{group="slow"\} (\S+)$', out, re.M)}
    tap.ok(rc == 0 and "hwm" in m and m["hwm"] >= m.get("depth", 0),
           "metrics: actors_group_ring_hwm >= actors_group_ring_depth %s" % m)
    rc, out, err = node.ctl("status")
    row = [ln for ln in out.splitlines() if ln.lstrip().startswith("slow")]
    tap.diag("status: %r" % row)
    for i in range(4):
        r = node.send("sw", "Job", {"key": "c", "seq": i})
        if not r.get("ok"):
            tap.ok(False, "send Job %d: %r" % (i, r))
    check("after actorsctl's sends")
    seen = g["ring_hwm"]

    wait_for(lambda: len(ends(log)) >= N + 4, 30, "the backlog to drain")
    g = node.group("slow")
    tap.ok(g["ring_depth"] == 0 and g["ring_hwm"] >= seen,
           "drained: depth 0, the mark stays at %d (>= %d)" % (g["ring_hwm"], seen))
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
