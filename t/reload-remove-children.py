#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-remove-children.py - a group removed by a reload stops its
actors' children in other groups, also when there are more of them than
the ring to their group takes at once.

N watchers are spawned into "cons"; each spawns a child pc<i> into
"prod", whose rings hold 1024 records; w0 (prod) monitors every child.
A reload removes cons: its worker tells prod to stop each parent's
children, N words, and must wait for prod to make room for the rest.
Before, it sent what fitted and dropped the others at its end with an
error line: an outside attack left 1648 of 6000 children running.
Then the same for "bk" (brutal_kill): its worker is killed at the
removal, and the supervisor tells prod, its words waiting for room.
"""
import copy
import os

from actorsd_harness import (Tap, Node, actor, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
N = 1500

tap = Tap(timeout=150)

with tap:
    node = Node(tap, {"groups": [
        {"name": "prod", "module": RELOADMOD, "ring_bytes": 65536, "max_msg_bytes": 16384,
         "actors": [actor("w0", "watcher")]},
        {"name": "cons", "module": RELOADMOD, "actors": [actor("t0", "tally")]},
        {"name": "bk", "module": RELOADMOD, "shutdown_ms": "brutal_kill",
         "actors": [actor("t9", "tally")]},
    ]}, name="rlrc")
    full = copy.deepcopy(node.app)
    node.start()
    small = copy.deepcopy(full)
    small["groups"] = [g for g in small["groups"] if g["name"] != "cons"]
    ok = {"count": 1, "refused": 0}

    bad = 0
    for i in range(N):
        r = node.request({"cmd": "spawn", "group": "cons", "behaviour": "watcher",
                          "name": "cw%d" % i})
        bad += not r.get("ok")
    tap.is_(bad, 0, "%d watchers spawned into cons" % N)
    bad = sum(node.ask_ok("cw%d" % i, "SpawnIn", {"name": "prod/pc%d" % i}) != ok
              for i in range(N))
    tap.is_(bad, 0, "each spawned a child pc<i> into prod")
    bad = sum(node.ask_ok("w0", "Watch", {"name": "pc%d" % i}) != ok for i in range(N))
    tap.is_(bad, 0, "w0 monitors every pc<i>")

    rc, out, err = node.reload(small, timeout=120)
    tap.ok(rc == 0 and "-cons" in out, "a reload removes cons (%r)" % (out.strip() or err.strip()))
    d = node.wait_downs(N, "%d Downs at w0" % N)
    tap.is_(d["count"], N, "every child in prod stopped with its parent: %d Downs of %d"
            % (d["count"], N))
    tap.is_(sum(node.ask("pc%d" % i, "Ping", {"count": 0}).get("ok", False) for i in range(N)),
            0, "none of them answers any more")
    log = node.log_text()
    tap.ok("not told to stop" not in log, "no 'not told to stop' in the log")
    tap.ok("did not stop in time" not in log, "cons's worker stopped in time")

    # bk (brutal_kill) is killed at its removal, its worker tells nobody:
    # the supervisor's words, more than its ring to prod takes at once,
    # wait for room (before, the rest were dropped with a warning).
    NB = 1200
    bad = 0
    for i in range(NB):
        r = node.request({"cmd": "spawn", "group": "bk", "behaviour": "watcher",
                          "name": "bw%d" % i})
        bad += not r.get("ok")
    bad += sum(node.ask_ok("bw%d" % i, "SpawnIn", {"name": "prod/pb%d" % i}) != ok
               for i in range(NB))
    bad += sum(node.ask_ok("w0", "Watch", {"name": "pb%d" % i}) != ok for i in range(NB))
    tap.is_(bad, 0, "%d watchers in bk, each with a child pb<i> in prod that w0 monitors" % NB)
    nobk = copy.deepcopy(small)
    nobk["groups"] = [g for g in nobk["groups"] if g["name"] != "bk"]
    rc, out, err = node.reload(nobk, timeout=120)
    tap.ok(rc == 0 and "-bk" in out, "a reload removes bk (%r)" % (out.strip() or err.strip()))
    # The supervisor's words take at most half its ring to prod: asks
    # from actorsctl still get in while they drain.
    d = node.wait_downs(N + NB, "%d Downs at w0" % (N + NB))
    tap.is_(d["count"], N + NB, "every child of bk's actors stopped: %d Downs more of %d"
            % (d["count"] - N, NB))
    log = node.log_text()
    tap.ok("wait for room" in log and "not told to stop" not in log,
           "the supervisor's words waited for room, none was dropped")
    tap.is_(node.terminate(), 0, "clean stop")
