#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-monitors.py - monitors of a removed group's actors hear that it
stopped, once.

Groups "prod" (watcher w0), "cons" (tally t0, watcher w1) and "other"
(tally o1), all t/mod/reloadmod.c.  w0 monitors t0 (a static actor of
cons) and kid2 (an actor w1 spawned into cons); w1 monitors o1.  Then:
  - a reload removes cons: w0 gets Down "group stopped" for both t0 and
    kid2 (before the fix, the static actor's monitor never fired: its
    monitors live in the worker, which stopped without a word);
  - kid3, which w1 (in cons) spawned into "other", is stopped with its
    parent's group: w2 (in prod) gets its Down "stopped" (before, it
    lived on with a parent that never came back);
  - o1, watched from the removed group, lives on and nobody hears of it;
    a new act_monitor of t0 fails at the call and is counted
    (refused_removed) like a send;
  - cons added back: its static actors are back, the spawned kid2 is not
    (before, it came back to life after its Down, and kept its name);
  - cons removed again: w0, which monitored t0 again,
    gets one Down more - none repeated from the first removal; kid4,
    spawned into "other" by the added-back w1, stops with it;
  - group "bk" (tally t9, shutdown brutal_kill) removed by a reload is
    killed at once, its worker says nothing: w0's monitor of t9 still
    gets one Down "group stopped" (made in prod, told by the supervisor),
    and the children in "other" of its actors (bkid of the spawned bw,
    bkid2 of the static w9) are stopped: the supervisor tells "other"
    (before, they lived on).
"""
import copy
import errno
import json
import os

from actorsd_harness import (Tap, Node, actor, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=120)


with tap:
    node = Node(tap, {
        "groups": [
            {"name": "prod", "module": RELOADMOD,
             "actors": [actor("w0", "watcher"), actor("w2", "watcher")]},
            {"name": "cons", "module": RELOADMOD,
             "actors": [actor("t0", "tally"), actor("w1", "watcher")]},
            {"name": "other", "module": RELOADMOD, "actors": [actor("o1", "tally")]},
            {"name": "bk", "module": RELOADMOD, "shutdown_ms": "brutal_kill",
             "actors": [actor("t9", "tally"), actor("w9", "watcher")]},
        ],
    }, name="rlm")
    full = copy.deepcopy(node.app)
    node.start()
    small = copy.deepcopy(full)
    del small["groups"][1]

    ask = node.ask_ok

    def downs():
        return ask("w0", "GetDowns", {})

    def wait_downs(n):
        return node.wait_downs(n, "%d Downs at w0" % n)

    ok = {"count": 1, "refused": 0}
    tap.is_(ask("w1", "SpawnIn", {"name": "cons/kid2"}), ok, "w1 spawns kid2 into cons")
    tap.is_(ask("w0", "Watch", {"name": "t0"}), ok, "w0 monitors t0, cons's static actor")
    tap.is_(ask("w0", "Watch", {"name": "kid2"}), ok, "w0 monitors kid2, spawned in cons")
    tap.is_(ask("w1", "Watch", {"name": "o1"}), ok, "w1 (in cons) monitors o1")
    tap.is_(ask("w1", "SpawnIn", {"name": "other/kid3"}), ok, "w1 spawns kid3 into other")
    tap.is_(ask("w2", "Watch", {"name": "kid3"}), ok, "w2 monitors kid3")

    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-cons" in out, "a reload removes cons (%r)" % (out.strip() or err.strip()))
    d = wait_downs(2)
    tap.is_(d["count"], 2, "w0 got two Downs (%r)" % d["last"])
    tap.ok("t0: group stopped" in d["last"],
           "one says the static actor t0 stopped with its group (%r)" % d["last"])
    tap.ok("kid2: group stopped" in d["last"], "one says kid2 did (%r)" % d["last"])
    d2 = node.wait_downs(1, "1 Down at w2", who="w2")
    tap.is_((d2["count"], d2["last"]), (1, "kid3: stopped"),
            "kid3, spawned into other by w1 of the removed cons, stopped with its parent")
    tap.is_(ask("o1", "Ping", {"count": 0}), {"count": 1},
            "o1, monitored from the removed group, lives on")
    rr = node.group("cons")["refused_removed"]
    tap.is_(ask("w0", "Watch", {"name": "t0"}), {"count": 0, "refused": -errno.ESHUTDOWN},
            "act_monitor of the removed t0 fails at the call with ACT_ESTOPPED")
    tap.is_(node.group("cons")["refused_removed"], rr + 1, "counted as refused_removed")

    rc, out, err = node.reload(full)
    tap.ok(rc == 0 and "+cons" in out, "cons added back (%r)" % (out.strip() or err.strip()))
    tap.is_(ask("w0", "Watch", {"name": "t0"}), ok, "w0 monitors the added-back t0")
    tap.is_(ask("w0", "Watch", {"name": "kid2"}), {"count": 0, "refused": -errno.ENOENT},
            "kid2, stopped with the removed cons (w0 got its Down), is not back with it")
    tap.ok("records of its 1 spawned actors are freed" in node.log_text(),
           "the log says the removal freed kid2's record")
    tap.is_(ask("w1", "SpawnIn", {"name": "cons/kid2"}), ok,
            "its name is free: the added-back w1 spawns a new kid2 into cons")
    tap.is_(ask("w1", "SpawnIn", {"name": "other/kid4"}), ok,
            "the added-back w1 spawns kid4 into other")
    tap.is_(ask("w2", "Watch", {"name": "kid4"}), ok, "w2 monitors kid4")
    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-cons" in out, "cons removed again")
    d = wait_downs(3)
    tap.is_(d["count"], 3, "one Down more, none repeated from the first removal (%r)"
            % d["last"])
    tap.ok(d["last"].endswith("; t0: group stopped"), "it is t0's (%r)" % d["last"])
    d2 = node.wait_downs(2, "2 Downs at w2", who="w2")
    tap.is_((d2["count"], d2["last"]), (2, "kid3: stopped; kid4: stopped"),
            "the second removal stops kid4 too (before, the re-added worker waited for a "
            "record it had read before the first removal, and was killed at shutdown_ms)")

    tap.is_(ask("w0", "Watch", {"name": "t9"}), ok, "w0 monitors t9 of bk (brutal_kill)")
    r = node.request({"cmd": "spawn", "group": "bk", "behaviour": "watcher", "name": "bw"})
    tap.ok(r.get("ok"), "bw spawned into bk (%r)" % (r,))
    tap.is_(ask("bw", "SpawnIn", {"name": "other/bkid"}), ok, "bw spawns bkid into other")
    tap.is_(ask("w9", "SpawnIn", {"name": "other/bkid2"}), ok,
            "w9, bk's static actor, spawns bkid2 into other")
    tap.is_(ask("w2", "Watch", {"name": "bkid"}), ok, "w2 monitors bkid")
    tap.is_(ask("w2", "Watch", {"name": "bkid2"}), ok, "w2 monitors bkid2")
    no_bk = copy.deepcopy(small)
    no_bk["groups"] = [g for g in no_bk["groups"] if g["name"] != "bk"]
    rc, out, err = node.reload(no_bk)
    tap.ok(rc == 0 and "-bk" in out, "a reload removes bk (%r)" % (out.strip() or err.strip()))
    d = wait_downs(4)
    tap.is_(d["count"], 4, "w0 got one Down for t9 (%r)" % d["last"])
    tap.ok(d["last"].endswith("; t9: group stopped"), "it says t9's group stopped")
    d2 = node.wait_downs(4, "4 Downs at w2", who="w2")
    tap.is_((d2["count"], sorted(d2["last"].split("; ")[2:])),
            (4, ["bkid2: stopped", "bkid: stopped"]),
            "bk's killed worker told nobody: the supervisor stopped the children of its "
            "spawned bw and static w9 in other (%r)" % d2["last"])
    tap.is_(node.status()["dead_letters"], 0, "no Down became a dead letter")
