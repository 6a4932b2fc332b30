#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-prefork.py - a worker forked ahead of time starts the next group.

Once the node is quiet, actorsd keeps one "prefork": a child forked from
the zygote and adopted ahead, titled "actorsd: NODE/prefork", that waits
for a group (supervisor/spawn.h).  Here: status names it; a SIGKILLed
worker is replaced by exactly that process (the restart was one send, no
fork) and a new prefork is made; its actor answers; a prefork killed
while it waits is replaced (a second later) and counts as no restart; an operator restart
uses it too; SIGTERM leaves no process behind; with ACTORS_PREFORK=0
there is none and restarts fork as before.  (The zero-loss scenarios,
t/supervise-kill.py and t/supervise-redeliver.py, restart through the
prefork as well.)
"""
import os
import signal

from actorsd_harness import Tap, Node, group, actor, children, wait_for, wait_gone


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().rstrip(b"\0")


def prefork(node, not_pid=None):
    """Waits for a prefork other than not_pid in status; returns status."""
    return wait_for(lambda: (lambda st: st if st["prefork"]["pid"] not in (None, not_pid)
                             else None)(node.status()), 20, "a prefork")


tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 10, "period_ms": 5000,
                      "groups": [group("g", [actor("a", "pid")]),
                                 group("h", [actor("b", "echo")])]}, name="pref")
    node.start()
    st = prefork(node)
    pf = st["prefork"]["pid"]
    made = st["prefork"]["made"]
    tap.ok(pf in children(node.proc.pid), "the prefork %d is actorsd's child" % pf)
    # Shown once forked from the zygote, it titles itself as it prepares
    # (on a busy machine that can come a little later).
    wait_for(lambda: cmdline(pf) != b"actorsd: pref/zygote", 10, "the prefork's title")
    tap.is_(cmdline(pf), b"actorsd: pref/prefork", "it is titled actorsd: pref/prefork")
    tap.is_(st["prefork"]["used"], 0, "no start used it yet")

    # ---- a crash: the prefork becomes the new worker ------------------------------------
    old = node.group("g", st)["pid"]
    os.kill(old, signal.SIGKILL)
    st = node.wait_group("g", lambda g, st: g["pid"] not in (None, old) and
                         g["state"] == "ready", 20, "the restart")
    g = node.group("g", st)
    tap.is_((g["pid"], g["restarts"]), (pf, 1), "the prefork took the crashed group: pid %d" % pf)
    tap.is_(node.ask("a", "Ping", {"count": 0}).get("message"), {"count": pf},
            "the actor answers from the former prefork")
    tap.is_(cmdline(pf), b"actorsd: pref/g", "and is titled for its group now")
    st = prefork(node, pf)
    tap.is_((st["prefork"]["made"], st["prefork"]["used"]), (made + 1, 1),
            "a new prefork %d was made, one used" % st["prefork"]["pid"])
    tap.is_(wait_gone([old], 5), [], "the killed worker is gone")

    # ---- a dead prefork is replaced, and is no restart -------------------------------------
    pf2 = st["prefork"]["pid"]
    os.kill(pf2, signal.SIGKILL)
    st = prefork(node, pf2)
    tap.ok(st["prefork"]["pid"] != pf2, "a killed prefork is replaced (%d -> %d)"
           % (pf2, st["prefork"]["pid"]))
    tap.is_((st["restarts"], [x["state"] for x in st["groups"]]), (1, ["ready", "ready"]),
            "its death is no restart; the groups stay ready")
    tap.is_(wait_gone([pf2], 5), [], "the killed prefork was reaped")
    # An operator restart goes through the prefork too.
    pf3 = st["prefork"]["pid"]
    rc, out, err = node.ctl("restart", "h")
    st = node.status()
    tap.is_((rc, node.group("h", st)["pid"]), (0, pf3),
            "actorsctl restart h: the prefork %d runs it" % pf3)
    tap.is_(node.ask("b", "Ping", {"count": 5}).get("message"), {"count": 5}, "b answers")

    # ---- SIGTERM: nothing left, the prefork included ---------------------------------------
    st = prefork(node, pf3)
    everyone = node.worker_pids(st) + [st["prefork"]["pid"]]
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
    tap.is_(wait_gone(everyone, 10), [], "no worker and no prefork left")

    # ---- ACTORS_PREFORK=0: forks on demand -----------------------------------------------
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 10, "period_ms": 5000,
                      "groups": [group("g", [actor("a", "pid")])]}, name="nopref",
                env={"ACTORS_PREFORK": "0"})
    st = node.start()
    old = node.group("g", st)["pid"]
    os.kill(old, signal.SIGKILL)
    st = node.wait_group("g", lambda g, st: g["pid"] not in (None, old) and
                         g["state"] == "ready", 20, "the restart")
    new = node.group("g", st)["pid"]
    tap.is_(node.ask("a", "Ping", {"count": 0}).get("message"), {"count": new},
            "ACTORS_PREFORK=0: the group restarts (forked on demand)")
    st = node.status()
    tap.is_((st["prefork"]["pid"], st["prefork"]["made"]), (None, 0), "and no prefork is made")
    others = [p for p in children(node.proc.pid) if p != new]
    tap.is_([cmdline(p) for p in others], [b"actorsd: nopref/zygote"],
            "actorsd's only other child is the zygote")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
