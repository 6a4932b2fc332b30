#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-adopt.py - a node whose reload added a group survives the death
of actorsd (issue 10).

The node starts with group "prod" and two spare participants; a reload
adds group "x" (the sk_consumer "sink" of t/supervisor-kill-mod.c, which
logs every SkSeq it handles) into a spare.  Two producers spawned into
prod (an old group: they find "sink" by name) stream into x, and the test
sends more SkSeq to sink through the control socket (actorsctl's send).
Then, in both places a region is kept (a file in the runtime directory;
systemd's fd store, played by sk_stream.FdStore):
  - SIGKILL of actorsd mid-stream, started again with the reload's app
    file (x listed): the region is adopted (recovered), x runs again in
    its spare participant, its actors come back from their spawn records
    (each name once: no duplicate spawn), the producers, re-created in
    prod, find sink by name again;
  - SIGKILL, started with the file from before the reload (x not listed):
    refused with exit 100, saying to list x, and the region stays where
    it is (not moved aside): the reload's file then adopts it;
  - SIGKILL, started with a file that gives x other ring sizes than the
    spares have: exit 100 before the region is touched;
  - SIGKILL, started with a file that adds yet another group: refused in
    place the same way; the reload's file adopts it;
  - at the end every SkSeq accepted (each producer's whole count, every
    send the control socket accepted) is in sink's log: 0 lost, a
    duplicate only where flagged (redelivered, or re-sent by a producer);
  - actorsctl upgrade (execve, the region handed over, the same file)
    adopts it the same way;
  - a later reload removes x from the adopted node, and after one more
    SIGKILL the old file adopts the region (x's spare is free again).
"""
import copy
import json
import os
import signal
import sys

sys.dont_write_bytecode = True   # never write into the source tree
from actorsd_harness import Tap, Node, actor, wait_for
from sk_stream import SENDERS, MOD, FdStore, Log, check_log, group

PER = int(os.environ.get("RA_PER", "30000"))
CTL = 3   # the sender id of the SkSeq sent through the control socket


def run(tap, mode):
    app = {"spare_groups": 2, "max_restarts": 100, "period_ms": 1000,
           "backoff": {"initial_ms": 1, "factor": 2.0, "max_ms": 20, "reset_after_ms": 50}}
    if mode == "fdstore":
        app["runtime_dir"] = ""
    node = Node(tap, app, name="ra" + mode[:2])
    node.app["groups"] = [group("prod", [actor("idle", "sk_consumer",
                                               {"log": node.path("idle.log")})])]
    old = copy.deepcopy(node.app)
    new = copy.deepcopy(old)
    new["groups"].append(group("x", [actor("sink", "sk_consumer",
                                           {"log": node.path("consumer.log"),
                                            "delay_us": 20})],
                               max_redeliveries=1000))
    store = FdStore(node.path("notify")) if mode == "fdstore" else None
    rundir = node.path("run")
    region = os.path.join(rundir, "region")

    def start(file, wait=True):
        node.app = file
        if store:
            if wait:
                return store.start(node)
            # FdStore.start waits for ready: start without it
            return store_start_nowait()
        return node.start(timeout=30) if wait else node.start(wait_ready=False)

    def store_start_nowait():
        try:
            store.start(node)
        except Exception:   # exits 100: no status ever
            pass

    def kill():
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()
        if store:
            store.pump()

    def aside():
        """Regions moved aside: files in the runtime directory, fd store names."""
        files = [f for f in os.listdir(rundir) if f.startswith("region.refused")] \
            if os.path.isdir(rundir) else []
        names = [k for k in store.fds if k != "region"] if store else []
        return files + names

    st = start(old)
    tap.ok(not st.get("recovered"), "%s: first start makes a new region" % mode)
    node.app = new
    node.write_app()
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "+x" in out, "%s: a reload adds group x into a spare participant (%r)"
           % (mode, (out.strip() or err.strip())))
    for s in SENDERS:
        rc, out, err = node.ctl("spawn", "prod", "sk_producer", "p%d" % s,
                                json.dumps({"to": "sink", "id": s, "count": PER,
                                            "state": node.path("p%d.state" % s)}))
        tap.is_(rc, 0, "%s: producer p%d spawned into prod, streaming to x's sink (%r)"
                % (mode, s, err.strip()))
    lg = Log(node.path("consumer.log"))
    lg.seen[CTL] = set()
    lg.last_first[CTL] = -1
    accepted = []

    def ctl_sends(n):
        k0 = len(accepted) and accepted[-1] + 1
        for k in range(k0, k0 + n):
            a = node.send("sink", "SkSeq", {"sender": CTL, "redo": 0, "seq": k})
            if a.get("ok"):
                accepted.append(k)

    def pump():
        if store:
            store.pump()
        return lg.read()

    total = PER * len(SENDERS)
    ctl_sends(50)
    took = []

    def kill_at(fraction, what):
        wait_for(lambda: pump() >= total * fraction // 5, 60, what)
        kill()
        seen = pump()
        tap.ok(seen < total, "%s: SIGKILL of actorsd mid-stream (%d of %d in sink's log)"
               % (mode, seen, total + len(accepted)))

    # ---- SIGKILL mid-stream, the reload's file: adopted --------------------------------------
    kill_at(1, "a fifth of the stream in sink's log")
    st = start(new)
    took.append(st.get("taken_over", 0))
    tap.ok(st.get("recovered") and st.get("epoch") == 2,
           "%s: SIGKILL of actorsd mid-stream, the reload's app file: the region is adopted "
           "(epoch %r, %r envelopes taken over)" % (mode, st.get("epoch"), st.get("taken_over")))
    x = node.group("x", st)
    tap.ok(x["state"] == "ready" and x["pid"] and not x["removed"],
           "%s: x runs again, in its own worker" % mode)
    tap.is_([g["name"] for g in st["groups"]], ["prod", "x"],
            "%s: status shows prod and x, the unused spare hidden" % mode)
    tap.is_(st["reload"]["spare_groups_free"], 1, "%s: one spare participant is free" % mode)
    tap.ok("group 'x' was added by a reload of the last supervisor: it runs again in its "
           "spare participant" in node.log_text(), "%s: the log says so" % mode)
    rc, a, err = node.ctl_json("actors")
    names = sorted(e.get("name") for e in (a or {}).get("actors", []) if e.get("name"))
    tap.is_([n for n in names if n in ("sink", "p1", "p2")], ["p1", "p2", "sink"],
            "%s: sink and the producers came back from their spawn records, once each" % mode)
    ctl_sends(50)

    # ---- the file from before the reload: refused in place ----------------------------------
    kill_at(2, "two fifths of the stream in sink's log")
    start(old, wait=False)
    code = node.wait_exit(30)
    log = node.log_text()
    tap.is_(code, 100, "%s: SIGKILL, the file without x: refused (exit 100)" % mode)
    tap.ok("group 2 is 'x' there, '~spare-1' in the app file (a group a reload added: list it "
           "in the app file, as the reload's file did, to adopt the region)" in log,
           "%s: it says which group to list" % mode)
    tap.ok("The region stays where it is" in log, "%s: and that the region stays" % mode)
    if store:
        store.pump()
        tap.ok("region" in store.fds and not aside(),
               "fdstore: the region is still in the store as 'region', nothing moved aside")
    else:
        tap.ok(os.path.exists(region) and not aside(),
               "file: the region file is still there, nothing moved aside")
    st = start(new)
    took.append(st.get("taken_over", 0))
    tap.ok(st.get("recovered") and st.get("epoch") == 3 and
           node.group("x", st)["state"] == "ready",
           "%s: then the reload's file adopts it (epoch %r)" % (mode, st.get("epoch")))

    # ---- x with other ring sizes than a spare's: refused, the region untouched ---------------
    wider = copy.deepcopy(new)
    wider["groups"][1]["ring_bytes"] = 4 * 1048576
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    start(wider, wait=False)
    code = node.wait_exit(30)
    tap.ok(code == 100 and "group 'x' was added by a reload into a spare participant of the "
           "region left in place (ring_bytes" in node.log_text() and not aside(),
           "%s: SIGKILL, x with other ring_bytes: exit 100, says why, nothing moved aside" % mode)
    st = start(new)
    took.append(st.get("taken_over", 0))
    tap.ok(st.get("recovered") and st.get("epoch") == 4,
           "%s: the reload's file adopts it (epoch %r)" % (mode, st.get("epoch")))

    # ---- a file that adds yet another group: refused in place --------------------------------
    ctl_sends(25)
    newer = copy.deepcopy(new)
    newer["groups"].append(group("y", [actor("ysink", "sk_consumer",
                                             {"log": node.path("y.log")})]))
    kill_at(3, "three fifths of the stream in sink's log")
    start(newer, wait=False)
    code = node.wait_exit(30)
    log = node.log_text()
    tap.is_(code, 100, "%s: SIGKILL, a file with another new group y: refused (exit 100)" % mode)
    tap.ok("it has 3 groups, the app file 4" in log and log.count("The region stays where it is")
           == 2, "%s: it says why, and the region stays" % mode)
    tap.ok(not aside(), "%s: nothing moved aside" % mode)
    st = start(new)
    took.append(st.get("taken_over", 0))
    tap.ok(st.get("recovered") and st.get("epoch") == 5,
           "%s: the reload's file adopts it again (epoch %r)" % (mode, st.get("epoch")))
    ctl_sends(25)
    tap.ok(sum(took) > 0, "%s: envelopes were in the rings at the adoptions (%r)" % (mode, took))

    # ---- the whole stream: nothing lost -----------------------------------------------------
    wait_for(lambda: pump() >= 0 and all(len(lg.seen[s]) >= PER for s in SENDERS), 120,
             "the whole stream in sink's log")
    wait_for(lambda: pump() >= 0 and set(accepted) <= lg.seen[CTL], 30,
             "the control socket's sends in sink's log")
    lg.read()
    tap.diag("%s: %d lines, %d duplicates, %d flagged, %d sent by the control socket" %
             (mode, lg.lines, lg.dups, lg.flagged, len(accepted)))
    check_log(tap, "%s, 3 adoptions and 2 refusals" % mode, lg, PER)
    tap.is_(sorted(set(accepted) - lg.seen[CTL]), [],
            "%s: every SkSeq the control socket accepted (%d) was handled" % (mode, len(accepted)))
    tap.ok(len(accepted) >= 140, "%s: the control socket's sends were accepted (%d of 150)"
           % (mode, len(accepted)))
    st = node.status()
    tap.is_(st["dead_letters"], 0, "%s: no dead letters" % mode)

    # ---- an upgrade re-executes actorsd, which reads the same file: adopted ------------------
    pid = node.proc.pid
    rc, out, err = node.ctl("upgrade")
    st = wait_for(lambda: (lambda t: t if t.get("epoch") == 6 else None)(node.status()), 20,
                  "the upgraded node")
    st = node.wait_ready(20)
    tap.ok(node.proc.pid == pid and node.proc.poll() is None and
           node.group("x", st)["state"] == "ready",
           "%s: actorsctl upgrade: the same pid adopts the region, x runs again (%r)"
           % (mode, err.strip()))
    ctl_sends(5)
    wait_for(lambda: pump() >= 0 and set(accepted) <= lg.seen[CTL], 30,
             "the sends after the upgrade in sink's log")
    tap.is_(len(accepted), 155, "%s: and sink handles what is sent to it" % mode)

    # ---- a later reload removes x ----------------------------------------------------------
    node.app = old
    node.write_app()
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "-x" in out, "%s: after the adoptions, a reload removes x (%r)"
           % (mode, (out.strip() or err.strip())))
    st = node.status()
    tap.ok(node.group("x", st)["state"] == "removed" and st["reload"]["spare_groups_free"] == 2,
           "%s: x is removed, both spares free" % mode)
    a = node.send("sink", "SkSeq", {"sender": CTL, "redo": 0, "seq": 10 ** 6})
    tap.ok(not a.get("ok"), "%s: sink is gone with it (%r)" % (mode, a.get("error")))
    kill()
    st = start(old)
    tap.ok(st.get("recovered") and [g["name"] for g in st["groups"]] == ["prod"],
           "%s: SIGKILL, the file without x: adopted, x's spare free again" % mode)
    if store:
        node.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: store.pump() or node.proc.poll() is not None, 20, "actorsd to exit")
        tap.is_(node.proc.returncode, 0, "%s: actorsd stops cleanly" % mode)
        for fd in store.fds.values():
            os.close(fd)
    else:
        tap.is_(node.terminate(), 0, "%s: actorsd stops cleanly" % mode)


tap = Tap(timeout=int(os.environ.get("RA_TIMEOUT", "200")))
with tap:
    for mode in os.environ.get("RA_MODES", "file fdstore").split():
        run(tap, mode)
