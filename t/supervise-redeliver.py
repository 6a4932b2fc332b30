#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-redeliver.py - only deaths an envelope can have caused count
toward max_redeliveries (issue 11.8).

With the default max_redeliveries of 3, an envelope whose worker is killed
from outside (SIGKILL, as an operator or the OOM killer would) five times
while it handles it must still be delivered, flagged as a redelivery each
time, and never become a dead letter.  A handler that segfaults still
becomes a dead letter after max_redeliveries deaths.

Crash{"how":"stallN"} (t/mod/testmod.c, consumer) logs "stall R" and blocks
while act_redelivered() R < N, then replies Pong{count = R}.
"""
import os
import signal
import threading

from actorsd_harness import Tap, Node, group, actor, wait_for, wait_gone

KILLS = 5

tap = Tap(timeout=90)
with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 30, "period_ms": 60000,
                      "backoff": {"initial_ms": 1, "factor": 1.0, "max_ms": 1,
                                  "reset_after_ms": 60000},
                      "groups": [
                          group("k", [actor("a_k", "consumer", {"log": "LOG"})],
                                heartbeat_ms=100, heartbeat_timeout_ms=600000),
                      ]}, name="redeliver")
    log = node.path("k.log")
    node.app["groups"][0]["actors"][0]["args"]["log"] = log
    node.start()

    def stalls():
        try:
            with open(log) as f:
                return [l.split()[1] for l in f if l.startswith("stall ")]
        except OSError:
            return []

    answer = {}

    def ask():
        answer["a"] = node.ask("a_k", "Crash", {"how": "stall%d" % KILLS}, timeout_ms=60000)

    t = threading.Thread(target=ask, daemon=True)
    t.start()
    killed = []
    for i in range(KILLS):
        # The handler announced its start (redelivered i) and blocks: kill it there.
        wait_for(lambda: len(stalls()) == i + 1, 20, "start %d of the envelope" % (i + 1))
        pid = node.wait_group("k", lambda g, st: g["pid"] is not None and g["pid"] not in killed,
                              20, "worker %d" % (i + 1))["groups"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        wait_gone([pid], 10)
    t.join(60)
    a = answer.get("a") or {}
    tap.ok(a.get("ok") and a.get("message") == {"count": KILLS},
           "SIGKILLed %d times while handling it: the envelope is delivered, "
           "act_redelivered() %d (%r)" % (KILLS, KILLS, a))
    tap.is_(stalls(), [str(i) for i in range(KILLS + 1)],
            "each start is flagged as a redelivery: 0..%d" % KILLS)
    st = node.status()
    g = node.group("k", st)
    tap.is_((g["dead_letters"], st["dead_letters"]), (0, 0), "no dead letter")
    tap.is_(g["restarts"], KILLS, "status: k restarted %d times" % KILLS)
    tap.ok(g["redelivered"] >= KILLS, "status: redelivered %d >= %d" % (g["redelivered"], KILLS))
    with open(node.log_path) as f:
        forgiven = sum("without counting toward max_redeliveries" in l for l in f)
    tap.is_(forgiven, KILLS, "the log says %d times that the death did not count" % KILLS)

    # A handler that faults is still poison after max_redeliveries deaths.
    r = node.send("a_k", "Crash", {"how": "segv"})
    tap.ok(r.get("ok"), "send Crash segv: ok")
    st = node.wait_group("k", lambda g, st: g["dead_letters"] >= 1 and g["state"] == "ready",
                         30, "the segfaulting envelope parked")
    g = node.group("k", st)
    tap.is_((g["dead_letters"], g["restarts"]), (1, KILLS + 3),
            "segfaults: a dead letter after 3 deaths")
    rc, dl, err = node.ctl_json("dead-letters")
    entries = (dl or {}).get("dead_letters") or []
    e = entries[-1] if entries else {}
    tap.ok(e.get("type") == "Crash" and e.get("redeliveries") == 3 and
           "max_redeliveries 3" in (e.get("reason") or ""),
           "dead letter: Crash, 3 redeliveries (%r)" % (e,))
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
