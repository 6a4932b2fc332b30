#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-stream.py - 20 reloads with new code under a stream, nothing lost.

Two sources (group "prod") stream Seq{sender, seq} to the sink of group
"cons" until the test halts them, so every reload happens during the
stream.  The module of "cons" (t/mod/reloadmod.c) is "rebuilt" before each
reload:
a copy with another version string in it, renamed over the module path
as an install would.  After each actorsctl reload the sink answers with
the new version, its worker is new, the producers' worker is untouched,
and the sink's counters went on across the restart (import_state ran: a
sink without its state would count the next Seq as a gap).  At the end:
every envelope arrived once, in per-sender order (lost = dup = 0).  A
spawned actor's state is handed over too, and one of a behaviour without
hooks starts from init.  SIGHUP does the same as actorsctl reload.  The
group has a hot standby: the one that takes over after a crash at the
end runs the last reloaded code.
"""
import os
import re
import signal
import shutil

from actorsd_harness import (Tap, Node, group, actor, wait_for, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
TAG = b"RELOADMOD-VERSION=v00000000000"
RELOADS = 20

tap = Tap(timeout=300)


def build(node, version):
    """A 'new build' of the module: other bytes, another version string,
    renamed into place (a new inode, as make install does)."""
    with open(RELOADMOD, "rb") as f:
        data = f.read()
    assert data.count(TAG) == 1, "the version tag is in reloadmod.so once"
    new = b"RELOADMOD-VERSION=v%011d" % version
    tmp = node.path("cons.so.tmp")
    with open(tmp, "wb") as f:
        f.write(data.replace(TAG, new))
    os.rename(tmp, node.path("cons.so"))
    return "v%011d" % version


def stats(node):
    a = node.ask("sink", "GetStats", {})
    if not a.get("ok"):
        raise ValueError("GetStats failed: %r" % (a,))
    return a["message"]


def ping(node, name):
    a = node.ask(name, "Ping", {"count": 0})
    if not a.get("ok"):
        raise ValueError("Ping to %s failed: %r" % (name, a))
    return a["message"]["count"]


with tap:
    app = {
        "groups": [
            {"name": "prod", "module": RELOADMOD, "ring_bytes": 65536, "max_msg_bytes": 1024,
             "actors": [actor("p0", "source", {"id": 0}), actor("p1", "source", {"id": 1})]},
            {"name": "cons", "module": "cons.so", "ring_bytes": 65536, "max_msg_bytes": 1024,
             "actors": [actor("sink", "sink")], "hot_standby": True},
        ],
    }
    node = Node(tap, app, name="rls")
    build(node, 0)
    st = node.start()
    prod_pid = node.group("prod", st)["pid"]

    # spawned actors: one with handoff hooks, one without
    rc, out, err = node.ctl("spawn", "cons", "tally", "t1")
    tap.is_(rc, 0, "spawn of a tally actor in cons")
    rc, out, err = node.ctl("spawn", "cons", "nohand", "t2")
    tap.is_(rc, 0, "spawn of an actor without handoff hooks")
    for i in range(3):
        ping(node, "t1")
        ping(node, "t2")

    all_ok = True
    grew = 0
    for k in range(1, RELOADS + 1):
        want = build(node, k)
        before = stats(node)
        old_pid = node.group("cons")["pid"]
        if k == RELOADS // 2:
            # SIGHUP: the same reload, outcome in the log
            done_before = node.status()["reload"]["done"]
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: node.status()["reload"]["done"] > done_before, 60,
                     "the SIGHUP reload to finish")
            rc, out = 0, "SIGHUP"
        else:
            rc, out, err = node.ctl("reload", timeout=120)
        s = stats(node)
        st = node.status()
        cons = node.group("cons", st)
        ok = (rc == 0 and s["version"] == want and s["imports"] == k and
              cons["pid"] != old_pid and cons["state"] == "ready" and
              node.group("prod", st)["pid"] == prod_pid and s["lost"] == 0 and
              s["dup"] == 0 and s["total"] >= before["total"])
        if s["total"] > before["total"]:
            grew += 1
        if not ok:
            all_ok = False
            tap.diag("reload %d: rc %s out %r stats %r cons %r" % (k, rc, out, s, cons))
    tap.ok(all_ok, "%d reloads: each answered 0, new version running in a new worker, "
           "producers untouched, state imported (imports counts every reload)" % RELOADS)
    tap.is_(grew, RELOADS, "the stream went on across every reload")

    sent = 0
    for p in ("p0", "p1"):
        a = node.ask(p, "Halt", {})
        tap.ok(a.get("ok") and a["type"] == "Sent", "%s halted (%r)" % (p, a.get("message")))
        sent += a["message"]["count"]
    s = wait_for(lambda: (lambda x: x if x["total"] >= sent else None)(stats(node)),
                 240, "the whole stream to arrive")
    tap.is_(s["total"], sent, "every envelope sent arrived once (%d)" % sent)
    tap.is_(s["lost"], 0, "no gap in any sender's sequence: nothing lost")
    tap.is_(s["dup"], 0, "no duplicate, per-sender order kept")
    tap.is_(ping(node, "t1"), 4, "the spawned tally kept its count across %d reloads" % RELOADS)
    tap.is_(ping(node, "t2"), 1, "the spawned actor without hooks started from init")

    st = node.status()
    r = st["reload"]
    tap.is_(r["done"], RELOADS, "status: %d reloads done" % RELOADS)
    tap.is_(r["handoffs"], RELOADS, "status: %d handoffs" % RELOADS)
    tap.is_(r["handoffs_failed"], 0, "status: no failed handoff")
    tap.is_(r["refused"] + r["failed"], 0, "status: nothing refused or failed")
    tap.diag("reload_gap: longest STOP-to-READY of a group %.1f ms (last %.1f ms)"
             % (r["gap_max_us"] / 1000.0, r["gap_last_us"] / 1000.0))
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    tap.ok("SIGHUP received: reloading" in log, "the log says SIGHUP started a reload")
    tap.is_(len(re.findall(r"reload: exported the state of 2 actors", log)), RELOADS,
            "every old worker exported its 2 actors with hooks")
    # no module copies pile up beyond what runs
    copies = [f for f in os.listdir(os.path.join(node.state_dir, "reload"))
              if f.endswith(".so")]
    tap.is_(len(copies), 1, "one module copy left in STATE_DIR/reload, the running one")

    # the hot standby was forked again with the new code at each reload
    st = node.wait_group("cons", lambda g, st: g["standby_pid"], 30, "a standby for cons")
    cons = node.group("cons", st)
    os.kill(cons["pid"], signal.SIGKILL)
    st = node.wait_group("cons", lambda g, st: g["pid"] == cons["standby_pid"] and
                         g["state"] == "ready", 30, "the standby to take over")
    tap.is_(stats(node)["version"], "v%011d" % RELOADS,
            "after a crash, the hot standby that took over runs the reloaded code")
    tap.is_(node.terminate(), 0, "clean stop")
