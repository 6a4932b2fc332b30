#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/stop-leftover.py - envelopes that no worker will handle are not dropped
silently when the node stops.

A stopping group handles what is in its rings before its actors get
Shutdown; what is left at the end waits for a group that was not running.
Here (1) group "c", temporary, exits 0 on a Crash message and is not
restarted, while group "p" goes on sending to it until its ring is full:
at SIGTERM actorsd exits 0, names the group and the bytes it drops, and its
last line says the node stopped with envelopes not handled.  (2) Group "c"
fails its init (exit 100) while "p", started after it, sends it 50
envelopes: the node stops at start with exit 100, and the log says they
stay in the region, which is kept for the next start.  (3) A node whose
rings are empty at the stop says none of it.
"""
import re

from actorsd_harness import Tap, Node, group, actor


def left_lines(log, grp):
    m = re.search(r"(\d+) bytes of envelopes for group '%s' were never handled \(the group was "
                  r"not running at the stop\): ([a-z ,]+)" % grp, log)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


tap = Tap(timeout=60)
with tap:
    # ---- (1) a group done, its ring filled after it: a clean stop drops it -------------
    node = Node(tap, {"groups": [group("c", [actor("c", "consumer")], restart="temporary"),
                                 group("p", [actor("p", "producer",
                                                   {"to": "c", "count": 1 << 40})])]},
                name="leftover")
    node.start()
    node.send("c", "Crash", {"how": "exit0"})
    st = node.wait_group("c", lambda g, st: g["state"] == "done", 20, "c to be done")
    st = node.wait_group("c", lambda g, st: g["ring_depth"] > 0 and
                         g["ring_depth"] == node.group("c")["ring_depth"], 20,
                         "envelopes waiting for c")
    tap.ok(node.group("c", st)["ring_depth"] > 0,
           "envelopes wait in the rings of the done group c (%d bytes)"
           % node.group("c", st)["ring_depth"])
    tap.is_(node.terminate(), 0, "SIGTERM: actorsd exits 0")
    log = node.log_text()
    n, what = left_lines(log, "c")
    tap.ok(n and n > 0, "the log names group c and the bytes it drops (%s)" % n)
    tap.is_(what, "they are dropped with the node", "and says they are dropped")
    tap.ok(re.search(r"node 'leftover' stopped \(exit 0\) with %s bytes of envelopes not handled"
                     % n, log) is not None, "the last line says so too")
    tap.ok("'p' were never handled" not in log, "nothing is said of group p, whose rings were empty")

    # ---- (2) the node stops at start: the region keeps them ----------------------------
    node2 = Node(tap, {"groups": [group("c", [actor("c", "producer")]),  # no "to": init fails
                                  group("p", [actor("p", "producer",
                                                    {"to": "c", "count": 50})])]},
                 name="leftover2")
    node2.start(wait_ready=False)
    tap.is_(node2.wait_exit(), 100, "a group failing at start stops the node: exit 100")
    log = node2.log_text()
    n, what = left_lines(log, "c")
    tap.ok(n and n > 0, "the log names group c and its %s bytes" % n)
    tap.is_(what, "they stay in the region, for the next start", "which the region keeps")
    tap.ok("region kept for the next start" in log, "and the region is kept")

    # ---- (3) nothing left: nothing said ------------------------------------------------
    quiet = Node(tap, {"groups": [group("e", [actor("e", "echo")])]}, name="leftover0")
    quiet.start()
    tap.is_(quiet.terminate(), 0, "a node with empty rings exits 0")
    log = quiet.log_text()
    tap.ok("never handled" not in log and "not handled" not in log,
           "and says nothing about envelopes")
