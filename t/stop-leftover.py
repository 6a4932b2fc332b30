#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/stop-leftover.py - envelopes that no worker will handle are not dropped
silently when the node stops.

A stopping group handles what is in its rings before its actors get
Shutdown; what is left at the end waits for a group that was not running.
Here (1) group "c", temporary, takes 10 Pings from "p"'s caller while its
worker is stopped (SIGSTOP), then is killed: it is done, not restarted,
and later sends to it are refused.  At SIGTERM actorsd exits 0, names the
group and the bytes it drops, and its last line says the node stopped with
envelopes not handled.  (2) Group "c"
fails its init (exit 100): "p", started after it, is refused its 50 sends
at the call (c is failed: nothing would read them), and nothing is left.
(3) Group "c"'s worker is stopped (SIGSTOP), takes 20 Pings from "p"'s
caller, then is killed with max_restarts 0: the node gives up (exit 112)
and the log says the 20 envelopes stay in the region, which is kept for
the next start.  (4) A node whose rings are empty at the stop says none
of it.
"""
import errno
import os
import re
import signal

from actorsd_harness import Tap, Node, group, actor, TOP_BUILDDIR

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")


def left_lines(log, grp):
    m = re.search(r"(\d+) bytes of envelopes for group '%s' were never handled \(the group was "
                  r"not running at the stop\): ([a-z ,]+)" % grp, log)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def stalled_node(app, name, n):
    """A node of group c (echo) and p (caller c0), c's worker stopped
    (SIGSTOP) and sent n Pings by c0, then killed (SIGKILL)."""
    app["groups"] = [group("c", [actor("c", "echo")], **app.pop("c", {})),
                     {"name": "p", "module": RELOADMOD, "actors": [actor("c0", "caller")]}]
    node = Node(tap, app, name=name)
    node.start()
    pid = node.group("c")["pid"]
    os.kill(pid, signal.SIGSTOP)
    sent = [node.ask_ok("c0", "Call", {"name": "c"}) for _ in range(n)]
    tap.is_(sent, [{"count": 1, "refused": 0}] * n,
            "%s: %d Pings to c, its worker stopped, are taken" % (name, n))
    os.kill(pid, signal.SIGKILL)
    return node


tap = Tap(timeout=60)
with tap:
    # ---- (1) a group done with envelopes in its ring: a clean stop drops them ---------
    node = stalled_node({"c": {"restart": "temporary"}}, "leftover", 10)
    st = node.wait_group("c", lambda g, st: g["state"] == "done", 20, "c to be done")
    tap.ok(node.group("c", st)["ring_depth"] > 0,
           "they wait in the rings of the done group c (%d bytes)"
           % node.group("c", st)["ring_depth"])
    tap.is_(node.ask_ok("c0", "Call", {"name": "c"}), {"count": 0, "refused": -errno.ESHUTDOWN},
            "a send to c now is refused at the call (ACT_ESTOPPED)")
    tap.is_(node.terminate(), 0, "SIGTERM: actorsd exits 0")
    log = node.log_text()
    n, what = left_lines(log, "c")
    tap.ok(n and n > 0, "the log names group c and the bytes it drops (%s)" % n)
    tap.is_(what, "they are dropped with the node", "and says they are dropped")
    tap.ok(re.search(r"node 'leftover' stopped \(exit 0\) with %s bytes of envelopes not handled"
                     % n, log) is not None, "the last line says so too")
    tap.ok("'p' were never handled" not in log, "nothing is said of group p, whose rings were empty")

    # ---- (2) a group failed at start: sends to it are refused, nothing is left ------------
    node2 = Node(tap, {"groups": [group("c", [actor("c", "producer")]),  # no "to": init fails
                                  group("p", [actor("p", "producer",
                                                    {"to": "c", "count": 50})])]},
                 name="leftover2")
    node2.start(wait_ready=False)
    tap.is_(node2.wait_exit(), 100, "a group failing at start stops the node: exit 100")
    log = node2.log_text()
    tap.ok("never handled" not in log and "not handled" not in log,
           "p's sends to the failed group were refused: nothing left, nothing said")

    # ---- (3) the node gives up on a group: the region keeps what waits for it ---------
    node3 = stalled_node({"max_restarts": 0, "period_ms": 60000}, "leftover3", 20)
    tap.is_(node3.wait_exit(), 112, "its worker killed, max_restarts 0: the node gives up (112)")
    log = node3.log_text()
    n, what = left_lines(log, "c")
    tap.ok(n and n > 0, "the log names group c and its %s bytes" % n)
    tap.is_(what, "they stay in the region, for the next start", "which the region keeps")
    tap.ok("region kept for the next start" in log, "and the region is kept")

    # ---- (4) nothing left: nothing said ------------------------------------------------
    quiet = Node(tap, {"groups": [group("e", [actor("e", "echo")])]}, name="leftover0")
    quiet.start()
    tap.is_(quiet.terminate(), 0, "a node with empty rings exits 0")
    log = quiet.log_text()
    tap.ok("never handled" not in log and "not handled" not in log,
           "and says nothing about envelopes")
