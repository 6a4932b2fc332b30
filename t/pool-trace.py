#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-trace.py - "trace": true on a pool traces its members.

A pool of 2 named p becomes groups p#0 and p#1; the app file's switch names
the pool, and every member must log its handled messages, while the other
group, not traced, logs none.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, group, actor, wait_for  # noqa: E402


def log_text(node):
    with open(node.log_path, errors="replace") as f:
        return f.read()


tap = Tap(timeout=60)
with tap:
    g = group("p", [actor("x", "pid")])
    g["pool"] = 2
    g["trace"] = True
    node = Node(tap, {"groups": [group("a", [actor("y", "pid")]), g]}, name="ptr")
    node.start(timeout=30)
    for i in range(4):   # round robin: two to each member
        rc, out, err = node.ctl("send", "x", "Ping", '{"count":%d}' % i)
        tap.is_(rc, 0, "send %d to the pool's actor" % i)
    rc, out, err = node.ctl("send", "y", "Ping", '{"count":9}')
    tap.is_(rc, 0, "send to the untraced group's actor")
    wait_for(lambda: log_text(node).count("trace: actor=x type=Ping") >= 4, 20,
             "four trace lines of the pool's actor")
    text = log_text(node)
    # A worker's log lines are tagged NODE/GROUP[PID].
    members = {line.split("ptr/", 1)[1].split("[", 1)[0]
               for line in text.splitlines()
               if "trace: actor=x type=Ping" in line and "ptr/" in line}
    tap.is_(sorted(members), ["p#0", "p#1"], "both members traced (%r)" % sorted(members))
    tap.ok("trace: actor=y" not in text, "the untraced group logs no trace line")
    tap.is_(node.terminate(), 0, "clean stop")
