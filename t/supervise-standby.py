#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-standby.py - a hot standby takes over a dead worker.

A group with hot_standby keeps a forked, idle spare.  When its worker is
SIGKILLed the spare is woken in its place (status: takeovers 1, the new pid
is the old standby_pid), a new spare is made, and the actor answers from
the new worker.  A dead spare is replaced; an operator restart and a stop
still work with a spare around, and after the restart the spare watches
the new worker (its pidfd) and takes over when that one is killed.
"""
import os
import signal

from actorsd_harness import Tap, Node, group, actor, wait_for, wait_gone

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 5, "period_ms": 5000,
                      "groups": [
                          group("s", [actor("a_s", "pid")], hot_standby=True),
                      ]}, name="standby")
    node.start()
    st = node.wait_group("s", lambda g, st: g["standby_pid"] is not None and
                         g["state"] == "ready", 20, "a standby")
    g = node.group("s", st)
    pid, spare = g["pid"], g["standby_pid"]
    tap.ok(pid != spare, "worker %d and standby %d are two processes" % (pid, spare))

    os.kill(pid, signal.SIGKILL)
    st = node.wait_group("s", lambda g, st: g["pid"] not in (None, pid) and
                         g["state"] == "ready", 20, "the takeover")
    g = node.group("s", st)
    tap.is_((g["pid"], g["takeovers"], g["restarts"]), (spare, 1, 1),
            "the standby took over: pid, takeovers 1, restarts 1")
    a = node.ask("a_s", "Ping", {"count": 0})
    tap.is_(a.get("message"), {"count": spare}, "a_s answers from the former standby")
    tap.is_(wait_gone([pid], 5), [], "the killed worker is gone")

    st = node.wait_group("s", lambda g, st: g["standby_pid"] not in (None, spare), 20,
                         "a new standby")
    spare2 = node.group("s", st)["standby_pid"]
    os.kill(spare2, signal.SIGKILL)
    st = node.wait_group("s", lambda g, st: g["standby_pid"] not in (None, spare2), 20,
                         "a dead standby replaced")
    g = node.group("s", st)
    tap.is_((g["pid"], g["restarts"]), (spare, 1), "a standby's death is no restart")

    rc, out, err = node.ctl("restart", "s")
    tap.is_(rc, 0, "actorsctl restart s: exit 0 (%s)" % (err.strip() or out.strip()))
    g = node.group("s")
    tap.ok(g["state"] == "ready" and g["pid"] not in (None, spare),
           "after the restart: ready with a new worker (%s, %r)" % (g["state"], g["pid"]))

    def watched_by(standby):
        """The pids the standby holds a pidfd on (from /proc fdinfo)."""
        pids = set()
        d = "/proc/%d/fdinfo" % standby
        for fd in os.listdir(d):
            try:
                with open(os.path.join(d, fd)) as f:
                    for line in f:
                        if line.startswith("Pid:"):
                            pids.add(int(line.split()[1]))
            except OSError:
                pass
        return pids

    # The standby watched the old primary, which the restart stopped; it
    # watches the new one (its death wakes it with the supervisor).
    g = node.group("s")
    new_pid, sb = g["pid"], g["standby_pid"]
    try:
        wait_for(lambda: new_pid in watched_by(sb), 10, "the standby to watch the new worker")
        ok = True
    except Exception:
        ok = False
    tap.ok(ok, "after the restart the standby watches the new worker's pidfd (%r)" %
           (watched_by(sb) if sb else None))
    os.kill(new_pid, signal.SIGKILL)
    st = node.wait_group("s", lambda g, st: g["pid"] not in (None, new_pid) and
                         g["state"] == "ready", 20, "the second takeover")
    g = node.group("s", st)
    tap.is_((g["pid"], g["takeovers"]), (sb, 2), "and takes over when it is killed")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
