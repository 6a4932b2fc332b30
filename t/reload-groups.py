#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-groups.py - a reload removes a group during a stream and adds it
back; what can not be applied is refused with nothing changed.

Two sources (group "prod") stream Seq{sender, seq} to "sink" (group
"cons", t/mod/reloadmod.c); "recorder" (group "prod") keeps the Stats the
sink sends from its Shutdown handler.  Then:
  - a reload whose file lacks "cons": the reload answers 0, cons drains
    and stops: every Seq the sources had sent (their Sent.count, which
    stops growing) was handled (the group's handled counter, the sink's
    own total in the Stats of its Shutdown, in order: lost = dup = 0);
    later sends fail at the call (ACT_ESTOPPED: the sources count
    refusals) and in status (refused_removed), status shows "removed",
    actorsctl send and restart to it fail and say why;
  - a reload that would also add a group the node did not start with, or
    whose check fails, changes nothing;
  - the file with "cons" again: the reload adds it back (new worker,
    READY), the sources' retries go through, and the stream goes on;
  - SIGKILL of the added-back worker: it restarts, nothing lost;
  - at the end every Seq the sources had accepted was handled exactly
    once by one of cons's workers (handled == sum of Sent.count), and the
    refusals the sources counted are the ones status counted;
  - node restart (SIGKILL of actorsd) after a removal: a new actorsd with
    the smaller app file refuses the region clearly (exit 100, it names
    the group count), and with the full file adopts it and runs cons.
"""
import copy
import errno
import json
import os
import signal
import time

from actorsd_harness import (Tap, Node, actor, wait_for, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=240)


def sent(node):
    """(accepted, refused) summed over both sources, without halting them."""
    acc = ref = 0
    for p in ("p0", "p1"):
        a = node.ask(p, "GetStats", {})
        if not a.get("ok"):
            raise ValueError("GetStats to %s: %r" % (p, a))
        acc += a["message"]["count"]
        ref += a["message"]["refused"]
    return acc, ref


def handled(node, st=None):
    return node.group("cons", st)["handled"]


def status_below(node, group):
    """The line `actorsctl status` prints under group's row if it is
    indented (last death, removed by a reload), else None."""
    lines = node.ctl("status")[1].splitlines()
    at = [i for i, ln in enumerate(lines) if ln.startswith(group + " ")]
    if at and at[0] + 1 < len(lines) and lines[at[0] + 1].startswith("    "):
        return lines[at[0] + 1]
    return None


with tap:
    full = {
        "spare_groups": 2,
        "max_restarts": 10,
        "groups": [
            {"name": "prod", "module": RELOADMOD, "ring_bytes": 65536, "max_msg_bytes": 1024,
             "actors": [actor("p0", "source", {"id": 0}), actor("p1", "source", {"id": 1}),
                        actor("recorder", "recorder"), actor("c0", "caller")]},
            {"name": "cons", "module": RELOADMOD, "ring_bytes": 65536, "max_msg_bytes": 1024,
             "actors": [actor("sink", "sink")]},
        ],
    }
    node = Node(tap, full, name="rlg")
    full = copy.deepcopy(node.app)  # with the harness's node, state_dir, runtime_dir
    st = node.start()
    prod_pid = node.group("prod", st)["pid"]
    wait_for(lambda: handled(node) > 10000, 60, "the stream to flow")

    # ---- remove cons during the stream ---------------------------------------------------
    small = copy.deepcopy(node.app)
    del small["groups"][1]
    node.rewrite_app(small)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.is_(rc, 0, "a reload without 'cons' answers 0 (%r)" % (out.strip() or err.strip()))
    tap.ok("1 removed" in out and "-cons" in out, "it says cons was removed (%r)" % out.strip())
    st = node.status()
    cons = node.group("cons", st)
    tap.is_(cons["state"], "removed", "status: cons is removed")
    tap.ok(cons["removed"] and cons["pid"] is None, "status: removed, no worker")
    tap.ok(isinstance(cons.get("removed_at_ms"), (int, float)) and
           abs(cons["removed_at_ms"] / 1000.0 - time.time()) < 120,
           "status --json: when it was removed (removed_at_ms %r)" % cons.get("removed_at_ms"))
    rc, out, err = node.ctl("status")
    below = status_below(node, "cons") or ""
    tap.ok(below.startswith("    removed by a reload at ") and "last death" not in out,
           "actorsctl status says cons was removed and when, not a death (%r)" % below)
    tap.is_(node.group("prod", st)["pid"], prod_pid, "prod's worker is untouched")
    # the sources keep trying: their refusals grow, their accepted count does not
    acc1, ref1 = sent(node)
    st = wait_for(lambda: (lambda s: s if node.group("cons", s)["refused_removed"] > 0 else None)(
        node.status()), 30, "refusals to be counted")
    acc2, ref2 = wait_for(lambda: (lambda x: x if x[1] > ref1 else None)(sent(node)), 30,
                          "the sources to see refusals")
    tap.is_(acc2, acc1, "after the removal no send is accepted (%d)" % acc1)
    h1 = handled(node)
    tap.is_(h1, acc1, "every Seq accepted before the removal was handled by cons (%d)" % h1)
    rec = node.ask("recorder", "GetStats", {})["message"]
    tap.is_(rec["imports"], 1, "the sink's Shutdown ran once and reported")
    tap.is_(rec["total"], acc1, "the sink's own count at its Shutdown is every Seq sent")
    tap.is_((rec["lost"], rec["dup"]), (0, 0), "in per-sender order, none lost or twice")

    # sends from outside and operator restarts fail and say why
    a = node.send("sink", "Seq", {"sender": 7, "seq": 0})
    tap.ok(not a.get("ok") and a.get("code") == "removed" and
           "was removed by a reload" in a.get("error", ""),
           "actorsctl send to the removed group's actor fails (%r)" % a)
    rc, out, err = node.ctl("restart", "cons")
    tap.ok(rc != 0 and "a reload removed it" in err,
           "actorsctl restart of a removed group fails and says why (%r)" % err.strip())
    tap.is_(node.group("cons")["state"], "removed", "and it stays removed")

    # ---- refused: a new group, a failed check ------------------------------------------------
    refused0 = node.status()["reload"]["refused"]
    bad = copy.deepcopy(full)
    for nm in ("x1", "x2", "x3"):
        bad["groups"].append({"name": nm, "module": RELOADMOD, "actors": [actor(nm + "a", "tally")]})
    node.rewrite_app(bad)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 1 and "nothing changed" in err and "'x3' is new and no spare participant is "
           "free (the node started with 2" in err,
           "cons back and three new groups, two spares: refused (%r)" % err.strip())
    bad = copy.deepcopy(full)
    bad["groups"][1]["actors"][0]["behaviour"] = "nosuch"
    node.rewrite_app(bad)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 1 and "nothing changed" in err and "nosuch" in err,
           "adding cons back with a check that fails is refused (%r)" % err.strip())
    st = node.status()
    tap.is_(node.group("cons", st)["state"], "removed", "after both: cons is still removed")
    tap.is_(st["reload"]["refused"], refused0 + 2, "both counted as refused")

    # ---- add cons back ---------------------------------------------------------------------------
    node.rewrite_app(full)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.is_(rc, 0, "the full file again: reload answers 0 (%r)" % (out.strip() or err.strip()))
    tap.ok("1 added" in out and "+cons" in out, "it says cons was added (%r)" % out.strip())
    st = node.status()
    cons = node.group("cons", st)
    tap.ok(cons["state"] == "ready" and cons["pid"] and not cons["removed"],
           "status: cons is ready again in a new worker (%r)" % cons["state"])
    tap.ok(cons["removed_at_ms"] is None and "removed by a reload" not in node.ctl("status")[1],
           "added back: no longer shown as removed")
    # Its last worker's stop was the removal's, not a death.
    tap.is_(cons["last_death"], None, "status --json: added back, no last death from the removal")
    tap.is_(status_below(node, "cons"), None,
            "actorsctl status: added back, no line under cons (no last death from the removal)")
    wait_for(lambda: handled(node) > h1 + 10000, 60, "the stream to flow into cons again")
    tap.ok(True, "the sources' retries went through: cons handles the stream again")
    a = node.ask("sink", "GetStats", {})
    tap.ok(a.get("ok") and a["message"]["dup"] == 0,
           "the new sink answers, nothing twice (%r)" % a.get("message"))

    # ---- the added-back worker crashes ------------------------------------------------------------
    old = node.group("cons")
    os.kill(old["pid"], signal.SIGKILL)
    node.wait_group("cons", lambda g, s: g["pid"] and g["pid"] != old["pid"] and
                    g["state"] == "ready", 30, "cons to restart after SIGKILL")
    h2 = handled(node)
    wait_for(lambda: handled(node) > h2 + 10000, 60, "the stream to flow after the crash")
    tap.is_(node.group("cons")["restarts"], old["restarts"] + 1, "the crash was one restart")
    # ... while a death after the addition is one.
    death = node.group("cons")["last_death"]
    tap.ok(death and death.startswith("killed by signal 9"),
           "status --json: the crash is its last death (%r)" % death)
    below = status_below(node, "cons")
    tap.ok(below and below.startswith("    last death: killed by signal 9"),
           "actorsctl status: the crash is its last death (%r)" % below)

    # ---- the end: nothing lost -------------------------------------------------------------------
    total = refused = 0
    for p in ("p0", "p1"):
        a = node.ask(p, "Halt", {})
        total += a["message"]["count"]
        refused += a["message"]["refused"]
    st = wait_for(lambda: (lambda s: s if handled(node, s) >= total else None)(node.status()),
                  60, "the whole stream to be handled")
    cons = node.group("cons", st)
    # A SIGKILL between a handler's end and the commit of its read position
    # hands that envelope to the next worker again (flagged redelivered):
    # at least once across a crash, as documented.
    # handled counts the one GetStats the test asked the new sink too.
    tap.ok(cons["handled"] - cons["redelivered"] <= total + 1 <= cons["handled"] and
           cons["redelivered"] <= 1,
           "every Seq accepted over the whole run was handled (%d; handled %d, redelivered %d:"
           " across removal, addition and a crash)" % (total, cons["handled"],
                                                       cons["redelivered"]))
    tap.is_(cons["refused_removed"], refused + 1,
            "status counted every refusal the sources saw (%d) and actorsctl's send" % refused)
    tap.ok(refused > 0, "there were refusals")

    # ---- a group the node did not start with: into a spare participant ------------------------
    def call(name, group=None):
        """c0 (group prod) looks name up and sends it a Ping; with group, waits
        until that group handled it (c0's ring to it and actorsctl's are two
        rings: no order between them)."""
        h = node.group(group)["handled"] if group else 0
        a = node.ask("c0", "Call", {"name": name})
        assert a.get("ok"), a
        if group and a["message"]["count"]:
            wait_for(lambda: node.group(group)["handled"] > h, 10, "%s to get the Ping" % name)
        return a["message"]

    def ping(name):
        a = node.ask(name, "Ping", {"count": 0})
        return a["message"]["count"] if a.get("ok") else a

    st = node.status()
    tap.is_(len(st["groups"]), 2, "status: unused spare participants are not shown")
    tap.is_((st["reload"]["spare_groups"], st["reload"]["spare_groups_free"]), (2, 2),
            "status: 2 spare participants, both free")
    more = copy.deepcopy(full)
    more["groups"].append({"name": "extra", "module": RELOADMOD,
                           "actors": [actor("t9", "tally"), actor("t10", "tally")]})
    node.rewrite_app(more)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "1 added" in out and "+extra" in out,
           "a reload adds group 'extra' (%r)" % (out.strip() or err.strip()))
    st = node.status()
    ex = node.group("extra", st)
    tap.ok(ex["state"] == "ready" and ex["pid"], "status: extra is ready in its own worker")
    tap.is_(st["reload"]["spare_groups_free"], 1, "status: one spare participant left")
    tap.is_(call("t9", "extra"), {"count": 1, "refused": 0},
            "an old group's actor finds extra's t9 by name (act_lookup) and sends to it")
    tap.is_(ping("t9"), 2, "t9 handled that Ping and answers the next (Pong 2)")
    tap.is_(ping("t10"), 1, "extra's second actor answers too")
    old = ex
    os.kill(old["pid"], signal.SIGKILL)
    st = node.wait_group("extra", lambda g, s: g["pid"] and g["pid"] != old["pid"] and
                         g["state"] == "ready", 30, "extra to restart after SIGKILL")
    tap.is_(node.group("extra", st)["restarts"], 1, "SIGKILL of extra's worker: one restart")
    tap.is_(call("t9", "extra"), {"count": 1, "refused": 0},
            "t9 is reachable by name after the restart")
    tap.is_(ping("t9"), 2, "and handled the Ping sent after the restart (state from init)")

    # new settings for it: a restart on its rings, its actors still found by name
    before = node.group("extra")["pid"]
    more["groups"][2]["heartbeat_ms"] = 200
    node.rewrite_app(more)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "1 group restarted" in out and "extra" in out,
           "a settings change restarts the added group with them (%r)" % out.strip())
    st = node.status()
    tap.ok(node.group("extra", st)["pid"] != before and
           node.group("extra", st)["state"] == "ready", "extra runs in a new worker")
    tap.is_(call("t9", "extra"), {"count": 1, "refused": 0},
            "t9 is found by name after the reload restart")

    # too many: one spare left, two new groups asked for
    pids = node.pids()
    bad = copy.deepcopy(more)
    for nm in ("x1", "x2"):
        bad["groups"].append({"name": nm, "module": RELOADMOD, "actors": [actor(nm + "a", "tally")]})
    node.rewrite_app(bad)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 1 and "nothing changed" in err and "'x2' is new and no spare participant is free"
           in err, "two more groups than spares: refused (%r)" % err.strip())
    tap.is_(node.pids(), pids, "nothing changed: same groups, same workers")
    bad = copy.deepcopy(more)
    bad["groups"].append({"name": "~spare-2", "module": RELOADMOD,
                          "actors": [actor("y1", "tally")]})
    node.rewrite_app(bad)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 1 and "nothing changed" in err and "bad character '~'" in err,
           "a new group named like a spare: refused, '~' is no group name's (%r)" % err.strip())

    # remove it: its actors' names are gone, the slot is reused by another group
    a = node.ask("c0", "Keep", {"name": "t9"})
    tap.is_(a["message"], {"count": 1, "refused": 0}, "c0 keeps a ref to t9")
    node.rewrite_app(full)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "-extra" in out, "a reload removes extra (%r)" % out.strip())
    tap.is_(node.group("extra")["state"], "removed", "status: extra is removed")
    r = call("t9")
    tap.ok(r["count"] == 0 and r["refused"] == -2,
           "t9's name is gone: act_lookup fails with -ENOENT (%r)" % r)
    r = node.ask("c0", "Poke", {})["message"]
    tap.ok(r["count"] == 0 and r["refused"] == -errno.ESHUTDOWN,
           "a send on the kept ref fails at the call with ACT_ESTOPPED (%r)" % r)
    other = copy.deepcopy(full)
    other["groups"].append({"name": "other", "module": RELOADMOD,
                            "actors": [actor("t11", "tally")]})
    node.rewrite_app(other)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "+other" in out, "another new group takes the freed spare (%r)"
           % (out.strip() or err.strip()))
    names = [g["name"] for g in node.status()["groups"]]
    tap.is_(names, ["prod", "cons", "other", "~spare-2"] if "~spare-2" in names else
            ["prod", "cons", "other"], "status: extra's participant is other's now")
    tap.is_(call("t11", "other"), {"count": 1, "refused": 0}, "other's actor is reached by name")
    tap.is_(ping("t11"), 2, "and answers")
    # the ref c0 kept names t9's slot with t9's generation: it never reaches t11
    dl = node.group("other")["dead_letters"]
    r = node.ask("c0", "Poke", {})["message"]
    if r["count"]:
        wait_for(lambda: node.group("other")["dead_letters"] > dl, 10, "the stale Ping's fate")
    tap.is_(ping("t11"), 3, "a send on t9's old ref did not reach the participant's new tenant "
            "(%r: refused at the call, or a dead letter of the receiver)" % r)
    node.rewrite_app(full)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.ok(rc == 0 and "-other" in out, "other removed again")

    # ---- node restart after a removal ---------------------------------------------------------
    # The file lists cons again: the new actorsd adopts the region and runs it.
    node.rewrite_app(small)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.is_(rc, 0, "cons removed again")
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    node.app = full
    st = node.start(timeout=30)
    cons = node.group("cons", st)
    tap.ok(cons["state"] == "ready" and not cons["removed"],
           "SIGKILL of actorsd, the full file: the region is adopted and cons runs again")
    tap.ok("was removed by a reload of the last supervisor" in node.log_text(),
           "the log says the file brought it back")
    # The file does not list it: the region is refused, clearly.
    node.rewrite_app(small)
    rc, out, err = node.ctl("reload", timeout=120)
    tap.is_(rc, 0, "cons removed once more")
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    node.app = small
    node.start(wait_ready=False)
    code = node.wait_exit(30)
    log = node.log_text()
    tap.is_(code, 100, "SIGKILL of actorsd, the smaller file: the region is refused (exit 100)")
    tap.ok("it has 4 groups, the app file 3; removed by a reload (list them in the app file "
           "again to adopt the region): 'cons';" in log,
           "it says why: the region keeps the removed group's slot, and which group")
