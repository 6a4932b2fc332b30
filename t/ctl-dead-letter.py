#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ctl-dead-letter.py - actorsctl send/ask whose message becomes a dead
letter: the ask hears it at once.

A message that kills its group's worker max_redeliveries times is moved to
the dead letters.  An `actorsctl ask` of it used to wait out its whole
timeout ("no reply within"); now it exits 1 with code dead_letter naming
the stored entry.  A send is answered once the worker took the envelope,
as before (its handler ran); the group serves on.
"""
import json

from actorsd_harness import Tap, Node, group, actor, wait_for

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {"groups": [group("h", [actor("e", "echo")], max_redeliveries=2)],
                      "max_restarts": 50, "period_ms": 1000},
                name="ctldl")
    node.start()
    rc, out, err = node.ctl("--json", "ask", "e", "Crash", '{"how": "segv"}', "--timeout", "60",
                            timeout=90)
    a = json.loads(out) if out.strip() else {}
    tap.is_(rc, 1, "an ask that kills its worker every time exits 1")
    tap.is_(a.get("code"), "dead_letter", "with code dead_letter, not a timeout (%r)" % (out.strip() or err.strip()))
    tap.ok("dead letter #" in out, "naming the stored dead letter (%r)" % out.strip())

    rc, out, err = node.ctl("send", "e", "Crash", '{"how": "segv"}', timeout=90)
    tap.is_(rc, 0, "a send of the same is answered when its worker took it, as any send "
            "(%r)" % err.strip())

    a = node.ask("e", "Ping", {"count": 3})
    tap.is_(a.get("message"), {"count": 3}, "the group serves on")
    rc, out, err = node.ctl("--json", "dead-letters")
    wait_for(lambda: node.ctl("--json", "dead-letters")[1].count("Crash") >= 2, 30,
             "the sent one to become a dead letter too")
    rc, out, err = node.ctl("--json", "dead-letters")
    tap.ok(rc == 0 and out.count("Crash") >= 2, "both are in the dead letters")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
