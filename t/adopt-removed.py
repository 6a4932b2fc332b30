#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/adopt-removed.py - adopting a region after reloads that removed a
static group and a group that lived in a spare participant.

spare_groups 2; a reload adds n1 and n2 (into the spares); a second
reload removes b (static) and n2; actorsd is SIGKILLed.  The next start
with the last reload's file (a, n1) is refused (exit 100): b's slot is in
the region, so the message asks to list 'b' again, and must not ask for
'n2', whose spare is free again (listing it could never adopt).  A start
with a, b, n1 adopts the region and runs all three.
(Found by an outside attack: the message named n2 too.)
"""
import copy
import os
import signal

from actorsd_harness import Tap, Node, group, actor, leftovers_after

tap = Tap(timeout=90)
with tap:
    node = Node(tap, {"spare_groups": 2, "groups": [group("a", [actor("a0", "echo")]),
                                                    group("b", [actor("b0", "echo")])]},
                name="adrm")
    node.start()
    withn = copy.deepcopy(node.app)
    withn["groups"] += [group("n1", [actor("n10", "echo")]), group("n2", [actor("n20", "echo")])]
    r = node.reload(withn)
    tap.is_(r[0], 0, "reload adds n1 and n2 (%s)" % r[2].strip())
    last = copy.deepcopy(withn)
    last["groups"] = [g for g in withn["groups"] if g["name"] in ("a", "n1")]
    r = node.reload(last)
    tap.is_(r[0], 0, "reload removes b and n2 (%s)" % r[2].strip())
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    leftovers_after(3)

    at = os.path.getsize(node.log_path)
    node.app = last
    node.start(wait_ready=False)
    rc = node.wait_exit(20)
    node.log.flush()
    text = node.log_text()[at:]
    tap.is_(rc, 100, "a start with the last reload's file (a, n1) is refused: exit 100")
    tap.ok("'b'" in text and "'n2'" not in text,
           "the refusal asks to list b again, not n2: %r" %
           [ln for ln in text.splitlines() if "refusing" in ln][-1:])

    node.app = dict(copy.deepcopy(withn),
                    groups=[g for g in withn["groups"] if g["name"] != "n2"])
    st = node.start()
    names = {g["name"]: g["state"] for g in st["groups"]}
    tap.ok(names.get("a") == "ready" and names.get("n1") == "ready",
           "a start listing a, b, n1 adopts the region: a and n1 run (%r)" % (names,))
    tap.is_(names.get("b"), "ready", "b, listed again, runs again")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
