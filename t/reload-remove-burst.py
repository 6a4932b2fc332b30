#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-remove-burst.py - a group removed by a reload handles every
envelope a sender had committed to it before the removal, including those
the sender had not published yet.

Within one handler a sender publishes its ring's tail in steps (the first
send, then every 16 KiB, the rest when the handler returns), so for a while
its later records are committed but not visible to the consumer.  Here
"burster" (group prod, t/mod/reloadmod.c) sends 50 Seqs to "sink" (group
cons) in one handler and then stays in it for 1.5 s; while it stays there
a reload removes cons.  actorsd(8): a removed group's worker "handles what
is already in its rings".  Its drain must wait for the burster's records:
cons handles all 50, and the reload reports no bytes left in its rings.
"""
import copy
import os

from actorsd_harness import Tap, Node, actor, wait_for, TOP_BUILDDIR

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
COUNT = 50

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"groups": []}, name="rrb")
    mark = node.path("burst.done")
    node.app["groups"] = [
        {"name": "prod", "module": RELOADMOD, "heartbeat_timeout_ms": 30000,
         "actors": [actor("b0", "burster", {"mark": mark, "pause_ms": 1500})]},
        {"name": "cons", "module": RELOADMOD, "actors": [actor("sink", "sink")]},
    ]
    node.start()
    a = node.send("b0", "Ping", {"count": COUNT})
    tap.ok(a.get("ok"), "the burst is asked for (%r)" % a)
    wait_for(lambda: os.path.exists(mark), 20, "the burster to have sent its Seqs")
    with open(mark) as f:
        tap.is_(int(f.read().strip() or 0), COUNT, "the burster's %d sends were accepted" % COUNT)

    small = copy.deepcopy(node.app)
    small["groups"] = [g for g in small["groups"] if g["name"] != "cons"]
    node.rewrite_app(small)
    rc, out, err = node.ctl("reload", timeout=60)
    tap.is_(rc, 0, "the reload without cons answers 0 (%r)" % (out.strip() or err.strip()))
    cons = node.group("cons")
    tap.is_((cons["state"], cons["handled"]), ("removed", COUNT),
            "cons was removed after it handled all %d Seqs, the unpublished ones too" % COUNT)
    tap.ok("in its rings" not in node.log_text(),
           "the reload left nothing in cons's rings (no 'removed with N bytes' warning)")
    tap.is_(node.terminate(), 0, "SIGTERM: actorsd exits 0")
    tap.ok("never handled" not in node.log_text(),
           "and at the stop no envelope for cons was left unhandled")
