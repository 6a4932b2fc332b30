#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/adopt-gone.py - a group done or failed stays so when a new actorsd adopts
the region, and its sends stay refused, until an operator restarts it.

Groups "prod" (t/mod/reloadmod.c caller c0), "tmp" (tally t0, restart
temporary) and "perm" (t/mod/testmod.c echo e0, permanent).  tmp's worker
is SIGKILLed (done); e0 is sent Crash exit100 (failed).  Then actorsd is
SIGKILLed and started again on the same runtime directory: it adopts the
region, keeps tmp done and perm failed (starting perm would redeliver the
Crash and fail again before the node is ready, which stopped the whole node
with exit 100), and runs prod.  c0's sends to t0 and e0 are still refused.
`actorsctl upgrade` (an adoption too) keeps them so; `actorsctl restart tmp`
runs tmp, which takes sends again; `actorsctl restart perm` runs perm, the
redelivered Crash fails it again, and the node runs on.

A node whose only group failed stops itself (exit 100); a start adopts
the region and, every group having been done or failed, runs them all
again.  The redelivered Crash fails it each time and counts (the region
keeps the count: the death was the group's own, not the last actorsd's),
so the third start finds it a dead letter and runs.
"""
import errno
import os
import signal

from actorsd_harness import Tap, Node, actor, wait_for, TOP_BUILDDIR, TESTMOD

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=90)

with tap:
    node = Node(tap, {
        "max_restarts": 20,
        "groups": [
            {"name": "prod", "module": RELOADMOD, "actors": [actor("c0", "caller")]},
            {"name": "tmp", "module": RELOADMOD, "restart": "temporary",
             "actors": [actor("t0", "tally")]},
            {"name": "perm", "module": TESTMOD, "actors": [actor("e0", "echo")]},
        ],
    }, name="agone")
    node.start()
    ask = node.ask_ok
    ok = {"count": 1, "refused": 0}
    refused = {"count": 0, "refused": -errno.ESHUTDOWN}   # ACT_ESTOPPED

    def state(g):
        return node.group(g)["state"]

    os.kill(node.group("tmp")["pid"], signal.SIGKILL)
    wait_for(lambda: state("tmp") == "done", 10, "tmp to be done")
    node.send("e0", "Crash", {"how": "exit100"})
    wait_for(lambda: state("perm") == "failed", 10, "perm to be failed")
    tap.is_([ask("c0", "Call", {"name": n}) for n in ("t0", "e0")], [refused, refused],
            "tmp done, perm failed: c0's sends to t0 and e0 are refused")

    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    st = node.start(wait_ready=False)
    st = wait_for(lambda: (lambda s: s if s.get("state") == "running" else None)(
        node.status()), 20, "the adopting node to run")
    st = node.wait_ready(20, groups=["prod"])
    tap.ok(st.get("recovered") and st.get("epoch") == 2,
           "SIGKILL of actorsd, started again: the region is adopted (epoch %r)"
           % st.get("epoch"))
    tap.is_([node.group(g, st)["state"] for g in ("prod", "tmp", "perm")],
            ["ready", "done", "failed"], "prod runs, tmp stays done, perm stays failed")
    tap.ok(node.running(), "actorsd runs (it did not exit 100 for perm)")
    log = node.log_text()
    tap.ok("group 'perm' was failed under the last supervisor: it stays so" in log and
           "group 'tmp' was done under the last supervisor: it stays so" in log,
           "the log says both stay so")
    tap.is_([ask("c0", "Call", {"name": n}) for n in ("t0", "e0")], [refused, refused],
            "c0's sends to t0 and e0 are still refused")
    tap.ok(node.group("tmp")["refused_gone"] >= 2 and node.group("perm")["refused_gone"] >= 2,
           "counted as refused_gone (%r, %r)" % (node.group("tmp")["refused_gone"],
                                                node.group("perm")["refused_gone"]))

    rc, out, err = node.ctl("upgrade")
    st = wait_for(lambda: (lambda s: s if s.get("epoch") == 3 and s.get("state") == "running"
                           else None)(node.status()), 20, "the upgraded node")
    st = node.wait_ready(20, groups=["prod"])
    tap.is_([node.group(g, st)["state"] for g in ("prod", "tmp", "perm")],
            ["ready", "done", "failed"], "actorsctl upgrade adopts it the same way")

    rc, out, err = node.ctl("restart", "tmp")
    tap.is_(rc, 0, "actorsctl restart tmp (%r)" % (err.strip() or out.strip()))
    node.wait_ready(10, groups=["tmp"])
    tap.is_(ask("c0", "Call", {"name": "t0"}), ok, "tmp runs again and takes c0's send")
    p = wait_for(lambda: (lambda m: m if m["count"] >= 2 else None)(
        ask("t0", "Ping", {"count": 0})), 10, "c0's Ping handled by t0")
    tap.ok(p["count"] >= 2, "t0 handled it (Pong %r)" % p)

    node.ctl("restart", "perm")
    wait_for(lambda: node.group("perm")["restarts"] >= 1 and state("perm") == "failed", 10,
             "perm to fail again on the redelivered Crash")
    tap.ok(node.running() and state("prod") == "ready",
           "actorsctl restart perm: the redelivered Crash fails it again, the node runs on")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")

    # ---- every group failed: the node stopped itself, a start runs them again ------------
    solo = Node(tap, {"groups": [{"name": "f1", "module": TESTMOD,
                                  "actors": [actor("e1", "echo")]}]}, name="agone1")
    solo.start()
    solo.send("e1", "Crash", {"how": "exit100"})
    tap.is_(solo.wait_exit(10), 100, "its only group exits 100: the node stops itself (100)")
    codes = []
    for _ in range(2):
        solo.start(wait_ready=False)
        codes.append(solo.wait_exit(10))
    log = solo.log_text()
    tap.ok(codes == [100, 100] and log.count("as every group was: it runs again") == 2,
           "the next starts run f1 again, which the redelivered Crash fails (%r)" % codes)
    st = solo.start()
    tap.ok("envelope to 'e1' killed the group 3 times: moved to dead letters" in
           solo.log_text() and solo.group("f1", st)["state"] == "ready",
           "the third time the Crash is a dead letter, and the node runs")
    tap.is_(solo.terminate(), 0, "SIGTERM: exit 0")
