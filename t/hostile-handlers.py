#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/hostile-handlers.py - what a handler does to its worker process does not
leave a worker spinning or a second copy of it on the group's rings.

Crash{"how":"closefds"} closes every fd from 3 on and returns: the
worker's doorbell (an eventfd), its io_uring and its doorbells to the
other groups are gone, but its heartbeat goes on.  Before, every wait on
the doorbell returned at once and the worker spun at full speed for good,
with no log line and no restart (an outside attack, stop 34).  Now the
failed wait is logged and the worker exits 111: the group restarts and
answers from its new worker.

Crash{"how":"forkcont"} forks, and both processes return from the
handler.  Before, the child ran the worker's loop on the same rings, and
handled envelopes a second time (the same attack).  Now the child exits
at once, saying why, and the worker goes on alone.  A child made by a raw
clone() runs no fork hooks: it exits at its first heartbeat, or before it sleeps
(until then it may handle envelopes too: not prevented).  A handler
that puts /dev/null in place of the worker's fds ends the worker as a
closed fd does.
"""
import os
import time

from actorsd_harness import Tap, Node, group, actor, wait_gone, wait_for, Timeout

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"max_restarts": 10, "period_ms": 5000, "groups": [
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

    # ---- a handler that puts /dev/null where the worker's fds were --------
    pid2 = h["pid"]
    rc, out, err = node.ctl("send", "a_h", "Crash", '{"how":"nullfds"}')
    tap.is_(rc, 0, "actorsctl send a_h Crash nullfds: exit 0")
    st = node.wait_group("h", lambda g, st: g["pid"] not in (None, pid2) and
                         g["state"] == "ready", 20, "the group whose fds became /dev/null")
    h = node.group("h", st)
    tap.ok(h["restarts"] == 2 and "no count" in node.log_text(),
           "a doorbell that reads as /dev/null ends the worker too, logged (restarts %d)"
           % h["restarts"])

    # ---- a handler that forks and returns in both processes ----------------
    def live_children(pid):
        kids = set()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st_ = f.read()
            except OSError:
                continue
            fields = st_[st_.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[1]) == pid:
                kids.add(int(d))
        return kids

    wpid = h["pid"]
    kids_before = live_children(wpid)
    log_at = len(node.log_text())
    rc, out, err = node.ctl("send", "a_h", "Crash", '{"how":"forkcont"}')
    tap.is_(rc, 0, "actorsctl send a_h Crash forkcont: exit 0")
    try:
        wait_for(lambda: "copied the worker process" in node.log_text()[log_at:],
                 10, "the forked copy to say it exits")
        said = True
    except Timeout:
        said = False
    tap.ok(said, "the log says the handler's child returned into the worker and exits")
    try:
        wait_for(lambda: live_children(wpid) == kids_before, 10,
                 "the forked copy to be gone")
        gone = True
    except Timeout:
        gone = False
    tap.ok(gone, "no process of the fork is left running (children of the worker: %r, "
           "before %r)" % (sorted(live_children(wpid)), sorted(kids_before)))
    pids = set()
    for i in range(20):
        a = node.ask("a_h", "Ping", {"count": i})
        pids.add(a.get("message", {}).get("count"))
    st = node.status()
    tap.ok(pids == {wpid} and node.group("h", st)["pid"] == wpid and
           node.group("h", st)["restarts"] == 2,
           "20 asks are answered by the worker alone, which goes on (answered by %r, "
           "worker %d)" % (sorted(pids), wpid))

    # ---- the same with a raw clone(), which runs no fork hooks --------------
    log_at = len(node.log_text())
    rc, out, err = node.ctl("send", "a_h", "Crash", '{"how":"clonecont"}')
    tap.is_(rc, 0, "actorsctl send a_h Crash clonecont: exit 0")
    for i in range(5):  # wakes the copy if it sleeps on the doorbell
        node.ask("a_h", "Ping", {"count": i})
    try:
        wait_for(lambda: "copied the worker process" in node.log_text()[log_at:] and
                 live_children(wpid) == kids_before, 10, "the cloned copy to exit")
        gone = True
    except Timeout:
        gone = False
    tap.ok(gone, "a copy made by a raw clone() exits before it sleeps or at its first heartbeat (children of the "
           "worker: %r, before %r)" % (sorted(live_children(wpid)), sorted(kids_before)))
    st = node.status()
    tap.ok(node.group("h", st)["pid"] == wpid, "the worker goes on")
