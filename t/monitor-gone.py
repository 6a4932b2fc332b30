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
"""
import os
import signal

from actorsd_harness import Tap, Node, actor, wait_for, Timeout, TOP_BUILDDIR

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=60)

with tap:
    node = Node(tap, {
        "groups": [
            {"name": "prod", "module": RELOADMOD, "actors": [actor("w0", "watcher")]},
            {"name": "tmp", "module": RELOADMOD, "restart": "temporary",
             "actors": [actor("t0", "tally")]},
            {"name": "live", "module": RELOADMOD, "actors": [actor("l0", "tally")]},
        ],
    }, name="mgone")
    node.start()

    def ask(who, t, m):
        a = node.ask(who, t, m)
        assert a.get("ok"), (who, t, a)
        return a["message"]

    def downs():
        return ask("w0", "GetDowns", {})

    ok = {"count": 1, "refused": 0}
    tap.is_(ask("w0", "Watch", {"name": "l0"}), ok, "w0 monitors l0 (a live group)")
    pid = node.group("tmp")["pid"]
    os.kill(pid, signal.SIGKILL)
    st = wait_for(lambda: (lambda g: g if g["state"] not in ("ready", "starting") and
                           not g.get("pid") else None)(node.group("tmp")), 10,
                  "the temporary group tmp to stay down")
    tap.ok(st["state"] in ("failed", "done", "dead"),
           "tmp is down for good after SIGKILL (state %s)" % st["state"])
    tap.is_(ask("w0", "Watch", {"name": "t0"}), ok, "w0 monitors t0 of the dead group")
    try:
        d = wait_for(lambda: (lambda d: d if d["count"] >= 1 else None)(downs()), 10,
                     "a Down at w0")
    except Timeout:
        d = downs()
    tap.is_(d["count"], 1, "w0 got one Down (%r)" % d["last"])
    tap.is_(d["last"], "t0: noproc", "it says t0 is gone: noproc")
    tap.is_(downs()["count"], 1, "and none for l0, which lives")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
