#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-closefds.py - a worker whose file descriptors a handler closed
exits and is restarted, rather than spin unseen.

Crash{"how":"closefds"} closes every fd from 3 on and returns: the
worker's doorbell (an eventfd), its io_uring and its doorbells to the
other groups are gone, but its heartbeat goes on.  Before, every wait on
the doorbell returned at once and the worker spun at full speed for good,
with no log line and no restart (an outside attack, stop 34).  Now the
failed wait is logged and the worker exits 111: the group restarts and
answers from its new worker.
"""
import time

from actorsd_harness import Tap, Node, group, actor, wait_gone

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"groups": [
        group("anchor", [actor("a_anchor", "pid")]),
        group("h", [actor("a_h", "pid")]),
    ]}, name="closefds")
    st = node.start()
    before = node.pids(st)
    a = node.ask("a_h", "Ping", {"count": 0})
    tap.is_(a.get("message"), {"count": before["h"]}, "before: a_h answers with its pid")

    rc, out, err = node.ctl("send", "a_h", "Crash", '{"how":"closefds"}')
    tap.is_(rc, 0, "actorsctl send a_h Crash closefds: exit 0")
    st = node.wait_group("h", lambda g, st: g["pid"] not in (None, before["h"]) and
                         g["state"] == "ready", 20, "the group whose fds were closed restarted")
    h = node.group("h", st)
    tap.is_(h["restarts"], 1, "status: h restarted once")
    tap.ok("111" in (h["last_death"] or ""), "status: last_death %r" % h["last_death"])
    tap.is_(wait_gone([before["h"]], 5), [], "the old worker is gone, not spinning")
    tap.ok("cannot wait on the group's doorbell" in node.log_text(),
           "the log says why the worker exited")
    a = node.ask("a_h", "Ping", {"count": 1})
    tap.ok(a.get("ok") and a.get("message") == {"count": h["pid"]},
           "after: a_h answers from the new worker (%r)" % (a,))
    tap.is_(node.group("anchor", node.status())["pid"], before["anchor"],
            "the anchor group was untouched")
