#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/monitor-gone.py - act_monitor of an actor whose group is gone for good
answers at once with Down "noproc".

Groups "prod" (watcher w0) and "tmp" (tally t0, restart temporary), both
t/mod/reloadmod.c.  tmp's worker is SIGKILLed: a temporary group is not
restarted, so no process will read its rings again.  A monitor of t0 taken
after that used to go into tmp's ring and never be answered (the docs
promise "noproc" for an actor already gone); now the watcher's own group
answers it at once.  A monitor of an actor of a live group still waits
for that actor's end (none comes here).

tmp has a hot standby, killed when tmp is done (a new one comes with
`actorsctl restart tmp`).  A monitor of t0 taken while tmp lived was kept in tmp's worker and died
with it: now the supervisor tells the other groups that tmp is gone for
good, and w0 gets one Down "t0: crashed: signal 9" from its own group; w1,
which took and then dropped (act_demonitor) such a monitor, gets none.
Group "perm" (t/mod/testmod.c echo e0, restart permanent) exits 100: it is
failed, not restarted, and w0's monitor of e0 ends the same way.

Sends to a group gone for good are refused at the call: caller c0's
act_send() to t0 (tmp done) and to e0 (perm failed) returns ACT_ESTOPPED,
counted as the group's refused_gone, as is `actorsctl send` (answered
"stopped").  `actorsctl restart tmp` takes sends again: c0's Ping reaches
the new t0.

A monitor of a static actor of a group that restarts ends with its worker
(whose watch died with it): live's worker SIGKILLed gives w0 a Down "l0:
crashed: signal 9", `actorsctl restart live` one "l0: group restarted";
each monitor ends once, 1100 of them too (more than the watcher's ring
takes at once).
"""
import errno
import os
import signal

from actorsd_harness import Tap, Node, actor, wait_for, TOP_BUILDDIR, TESTMOD

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=60)

with tap:
    node = Node(tap, {"max_restarts": 20,
        "groups": [
            {"name": "prod", "module": RELOADMOD,
             "actors": [actor("w0", "watcher"), actor("w1", "watcher"),
                        actor("c0", "caller")]},
            {"name": "tmp", "module": RELOADMOD, "restart": "temporary", "hot_standby": True,
             "actors": [actor("t0", "tally")]},
            {"name": "live", "module": RELOADMOD, "actors": [actor("l0", "tally")]},
            {"name": "perm", "module": TESTMOD, "actors": [actor("e0", "echo")]},
        ],
    }, name="mgone")
    node.start()

    ask = node.ask_ok

    def downs(who="w0"):
        return ask(who, "GetDowns", {})

    def downs_at_least(n, what):
        return node.wait_downs(n, what)

    ok = {"count": 1, "refused": 0}
    refused = {"count": 0, "refused": -errno.ESHUTDOWN}   # ACT_ESTOPPED
    tap.is_(ask("c0", "Call", {"name": "t0"}), ok, "c0's send to t0 while tmp lives is taken")
    tap.is_(ask("w0", "Watch", {"name": "l0"}), ok, "w0 monitors l0 (a live group)")
    tap.is_(ask("w0", "Watch", {"name": "t0"}), ok, "w0 monitors t0 while tmp lives")
    tap.is_(ask("w1", "Watch", {"name": "t0"}), ok, "w1 monitors t0 while tmp lives")
    tap.is_(ask("w1", "Unwatch", {}), ok, "w1 demonitors it")
    spare = node.wait_group("tmp", lambda g, st: g["standby_pid"], 20,
                            "tmp's hot standby")["groups"]
    spare = [g for g in spare if g["name"] == "tmp"][0]["standby_pid"]
    pid = node.group("tmp")["pid"]
    os.kill(pid, signal.SIGKILL)
    st = wait_for(lambda: (lambda g: g if g["state"] not in ("ready", "starting") and
                           not g.get("pid") else None)(node.group("tmp")), 10,
                  "the temporary group tmp to stay down")
    tap.ok(st["state"] in ("failed", "done", "dead"),
           "tmp is down for good after SIGKILL (state %s)" % st["state"])
    tap.ok(st["standby_pid"] is None and not os.path.exists("/proc/%d" % spare),
           "its hot standby (pid %d) is gone with it" % spare)
    d = downs_at_least(1, "the Down of t0 at w0")
    tap.is_(d["count"], 1, "w0 got one Down for its monitor of t0 (%r)" % d["last"])
    tap.is_(d["last"], "t0: crashed: signal 9", "it says how t0's worker ended")
    tap.is_(ask("w0", "Watch", {"name": "t0"}), ok, "w0 monitors t0 of the dead group")
    d = downs_at_least(2, "a second Down at w0")
    tap.is_(d["count"], 2, "w0 got one more Down (%r)" % d["last"])
    tap.is_(d["last"], "t0: crashed: signal 9; t0: noproc", "it says t0 is gone: noproc")
    tap.is_(downs("w1")["count"], 0, "w1, which demonitored, got no Down")

    tap.is_(ask("c0", "Call", {"name": "t0"}), refused,
            "c0's send to t0 of the done group: refused at the call (ACT_ESTOPPED)")
    a = node.send("t0", "Ping", {"count": 0})
    tap.ok(not a.get("ok") and a.get("code") == "stopped",
           "actorsctl send to t0: refused, 'stopped' (%r)" % a.get("error"))
    tap.is_(node.group("tmp")["refused_gone"], 2, "both refusals counted as tmp's refused_gone")

    tap.is_(ask("w0", "Watch", {"name": "e0"}), ok, "w0 monitors e0 of group perm")
    node.send("e0", "Crash", {"how": "exit100"})
    st = wait_for(lambda: (lambda g: g if g["state"] == "failed" else None)(node.group("perm")),
                  10, "perm to be failed after exit 100")
    tap.is_(st["state"], "failed", "perm exited 100: failed, not restarted")
    d = downs_at_least(3, "the Down of e0 at w0")
    tap.is_(d["count"], 3, "w0 got one Down for e0 (%r)" % d["last"])
    tap.ok(d["last"].endswith("; e0: crashed: exit 100"), "it says e0's worker exited 100")
    tap.is_(downs()["count"], 3, "and none for l0, which lives")
    tap.is_(ask("c0", "Call", {"name": "e0"}), refused,
            "c0's send to e0 of the failed group: refused at the call")
    tap.is_(node.group("perm")["refused_gone"], 1, "counted as perm's refused_gone")
    tap.is_(ask("c0", "Call", {"name": "l0"}), ok, "c0's send to l0 of a live group is taken")
    tap.is_(node.group("live")["refused_gone"], 0, "live refused nothing")

    # A group that restarts: its worker's watches died with it, so w0's
    # monitor of l0 (taken at the start) ends, saying how; one taken after
    # the restart lives on in the new worker, until its end.
    pid = node.group("live")["pid"]
    os.kill(pid, signal.SIGKILL)
    d = downs_at_least(4, "the Down of l0 at w0 after live's crash")
    tap.is_(d["count"], 4, "live crashed and restarts: w0 got one Down for l0 (%r)" % d["last"])
    tap.ok(d["last"].endswith("; l0: crashed: signal 9"), "it says l0's worker was killed")
    node.wait_ready(10, groups=["live"])
    tap.is_(ask("w0", "Watch", {"name": "l0"}), ok, "w0 monitors l0 of the new worker")
    rc, out, err = node.ctl("restart", "live")
    tap.is_(rc, 0, "actorsctl restart live (%r)" % (err.strip() or out.strip()))
    d = downs_at_least(5, "the Down of l0 at w0 after live's restart")
    tap.is_(d["count"], 5, "w0 got one Down for it (%r)" % d["last"])
    tap.ok(d["last"].endswith("; l0: group restarted"), "it says l0's group restarted")
    node.wait_ready(10, groups=["live"])
    tap.is_(ask("w0", "Watch", {"name": "l0"}), ok, "w0 monitors l0 again")
    os.kill(node.group("live")["pid"], signal.SIGKILL)
    d = downs_at_least(6, "the Down of l0 at w0 after live's second crash")
    tap.is_(d["count"], 6, "the next crash ends that monitor, once (%r)" % d["last"])
    node.wait_ready(10, groups=["live"])

    rc, out, err = node.ctl("restart", "tmp")
    tap.is_(rc, 0, "actorsctl restart tmp (%r)" % (err.strip() or out.strip()))
    node.wait_ready(10, groups=["tmp"])
    tap.is_(ask("c0", "Call", {"name": "t0"}), ok, "after the restart, c0's send to t0 is taken")
    st = node.wait_group("tmp", lambda g, st: g["standby_pid"], 20, "a new standby for tmp")
    tap.ok(node.group("tmp", st)["standby_pid"] not in (None, spare),
           "tmp has a new hot standby")
    p = wait_for(lambda: (lambda m: m if m["count"] >= 2 else None)(
        ask("t0", "Ping", {"count": 0})), 10, "c0's Ping handled by the new t0")
    tap.ok(p["count"] >= 2, "the new t0 handled it (Pong %r)" % p)
    tap.is_(node.group("tmp")["refused_gone"], 2, "nothing more refused")
    tap.is_(downs()["count"], 6, "w0 got no Down for a monitor it no longer held")

    # More monitors than the watcher's own ring takes Downs at once: the
    # rest wait for room, none is lost.
    many = 1100
    for _ in range(many):
        ask("w1", "Watch", {"name": "l0"})
    dl = node.group("prod")["dead_letters"]
    os.kill(node.group("live")["pid"], signal.SIGKILL)
    d = node.wait_downs(many, "w1's %d Downs" % many, who="w1")
    tap.is_(d["count"], many, "w1's %d monitors of l0 each got their Down" % many)
    tap.is_(node.group("prod")["dead_letters"] - dl, 0, "none became a dead letter")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
