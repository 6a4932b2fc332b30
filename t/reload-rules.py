#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-rules.py - what actorsctl reload applies, refuses, and says.

An unchanged file restarts nothing.  A file that fails the check (syntax,
a module that is no module, a behaviour the module lacks) or changes what
needs a node restart (ring sizes, adding a group the node did not start
with, reordering groups, the static actors) changes nothing - also when it
removes a group (t/reload-groups.py has removals that apply): actorsctl exits 1 with the reason, the
log says it, the workers keep their pids, the "refused" counter counts it.
A module that hangs while the check loads it is refused after
module_timeout_ms, and the node answers status meanwhile (the check runs
beside the loop).  A settings change restarts that group alone; a policy
change restarts nothing.  An actor whose export_state fails starts from init while the
others keep their state; a worker that crashes while exporting hands
nothing over (counted) and its group still comes back.
"""
import copy
import json
import os
import shutil
import subprocess
import time

from actorsd_harness import (Tap, Node, group, actor, wait_for, TOP_BUILDDIR, ACTORSCTL)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
TAG = b"RELOADMOD-VERSION=v00000000000"

tap = Tap(timeout=180)


def build(node, version):
    with open(RELOADMOD, "rb") as f:
        data = f.read()
    tmp = node.path("cons.so.tmp")
    with open(tmp, "wb") as f:
        f.write(data.replace(TAG, b"RELOADMOD-VERSION=v%011d" % version))
    os.rename(tmp, node.path("cons.so"))


def ping(node, name):
    a = node.ask(name, "Ping", {"count": 0})
    assert a.get("ok"), a
    return a["message"]["count"]


with tap:
    base = {
        "groups": [
            group("a", [actor("pa", "pid")]),
            {"name": "b", "module": "cons.so", "actors": [actor("sink", "sink")]},
        ],
    }
    # hostile.so hangs in actors_module_init() (only the reload's check loads it)
    node = Node(tap, base, name="rlr", env={"ACTORS_TEST_HOSTILE": "init-hang"})
    build(node, 0)
    st = node.start()
    pids = node.pids(st)

    def refused(app, what, want_in_err, n_refused):
        if isinstance(app, str):
            with open(node.app_path, "w") as f:
                f.write(app)
        else:
            node.rewrite_app(app)
        rc, out, err = node.ctl("reload")
        tap.is_(rc, 1, "%s: actorsctl reload exits 1" % what)
        tap.ok("nothing changed" in err and want_in_err in err,
               "%s: it says why (%r)" % (what, err.strip()))
        st = node.status()
        tap.is_(node.pids(st), pids, "%s: every worker keeps its pid" % what)
        tap.is_(st["reload"]["refused"], n_refused, "%s: counted as refused" % what)

    # ---- nothing changed: nothing restarts ----------------------------------------------
    rc, out, err = node.ctl("reload")
    tap.is_(rc, 0, "unchanged file: reload exits 0")
    tap.ok("0 groups restarted" in out, "unchanged file: it says so (%r)" % out.strip())
    tap.is_(node.pids(), pids, "unchanged file: no worker restarted")

    # ---- refusals: nothing changes ------------------------------------------------------------
    refused('{"node": "rlr", ', "a syntax error", "syntax error", 1)
    bad = copy.deepcopy(node.app)
    with open(node.path("notamodule.so"), "w") as f:
        f.write("not an ELF file\n")
    bad["groups"][1]["module"] = "notamodule.so"
    refused(bad, "a module that is no shared object", "$.groups[1].module", 2)
    bad = copy.deepcopy(node.app)
    bad["groups"][1]["actors"][0]["behaviour"] = "nosuch"
    refused(bad, "a behaviour the module lacks", "no behaviour 'nosuch'", 3)
    bad = copy.deepcopy(node.app)
    bad["groups"][0]["ring_bytes"] = 524288
    refused(bad, "a ring size change", "ring_bytes changed: needs a node restart", 4)
    bad = copy.deepcopy(node.app)
    bad["groups"].append(group("c", [actor("pc", "pid")]))
    refused(bad, "a new group", "'c' is new and no spare participant is free", 5)
    bad = copy.deepcopy(node.app)
    del bad["groups"][0]
    bad["groups"][0]["module"] = "notamodule.so"
    refused(bad, "a removed group with a check that fails", "$.groups[0].module", 6)
    bad = copy.deepcopy(node.app)
    bad["groups"].reverse()
    refused(bad, "groups in another order", "reordering groups", 7)
    bad = copy.deepcopy(node.app)
    bad["groups"][0]["actors"].append(actor("pa2", "pid"))
    refused(bad, "a new static actor", "added static actors", 8)
    tap.ok(node.log_text().count("reload refused, nothing changed:") == 8,
           "the log has one line per refused reload")

    # ---- a module that hangs while the check loads it: the node keeps answering -------------
    bad = copy.deepcopy(node.app)
    bad["module_timeout_ms"] = 1500
    bad["groups"][1]["module"] = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "hostile.so")
    bad["groups"][1]["actors"] = [actor("sink", "echo")]
    node.rewrite_app(bad)
    t0 = time.monotonic()
    ctl = subprocess.Popen([ACTORSCTL, "-s", node.sock, "reload"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=node.env)
    tap.cleanups.append(lambda: ctl.poll() is None and ctl.kill())
    worst = 0.0
    while ctl.poll() is None and time.monotonic() - t0 < 30:
        t = time.monotonic()
        node.status()
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.05)
    out, err = ctl.communicate(timeout=30)
    tap.is_(ctl.returncode, 1, "a module that hangs in its init: reload exits 1")
    tap.ok("hung" in err and "nothing changed" in err, "it says the module hung (%r)" % err.strip())
    tap.ok(time.monotonic() - t0 >= 1.4, "the check ran for module_timeout_ms")
    tap.ok(worst < 1.0, "status answered during the check (slowest %.0f ms)" % (worst * 1000))
    tap.is_(node.pids(), pids, "a hanging module: every worker keeps its pid")
    tap.is_(node.status()["reload"]["refused"], 9, "a hanging module: counted as refused")
    node.rewrite_app(node.app)

    # ---- a settings change restarts that group alone; the policy restarts nothing -------------
    new = copy.deepcopy(node.app)
    new["groups"][0]["heartbeat_ms"] = 50
    new["strategy"] = "one_for_all"
    node.rewrite_app(new)
    rc, out, err = node.ctl("reload")
    st = node.status()
    tap.ok(rc == 0 and "1 group restarted" in out and ": a;" in out,
           "a heartbeat change: group a restarted (%r)" % out.strip())
    tap.ok(node.pids(st)["a"] != pids["a"] and node.pids(st)["b"] == pids["b"],
           "a heartbeat change: only a's worker is new")
    tap.is_(st["strategy"], "one_for_all", "the new strategy applies without a restart")
    pids = node.pids(st)

    # ---- export fails for one actor; a worker dies while exporting ----------------------------
    for name, beh in (("t1", "tally"), ("bx", "badexp")):
        rc, out, err = node.ctl("spawn", "b", beh, name)
        tap.is_(rc, 0, "spawn %s (%s)" % (name, beh))
        ping(node, name)
        ping(node, name)
    build(node, 1)
    rc, out, err = node.ctl("reload")
    tap.is_(rc, 0, "reload with an actor whose export fails")
    tap.is_(ping(node, "t1"), 3, "the actor with a working export kept its state")
    tap.is_(ping(node, "bx"), 1, "the actor whose export failed starts from init")
    tap.ok("export_state failed" in node.log_text(), "the log names the failed export")

    rc, out, err = node.ctl("spawn", "b", "crashexp", "cx")
    tap.is_(rc, 0, "spawn an actor whose export crashes its worker")
    failed_before = node.status()["reload"]["handoffs_failed"]
    build(node, 2)
    rc, out, err = node.ctl("reload")
    st = node.status()
    tap.is_(rc, 0, "reload when the old worker crashes while exporting: still done")
    tap.is_(st["reload"]["handoffs_failed"], failed_before + 1,
            "the lost handoff is counted")
    tap.is_(node.group("b", st)["state"], "ready", "the group came back with its new code")
    tap.is_(ping(node, "t1"), 1, "its actors start from init")
    tap.ok("handed no state over" in node.log_text(), "the log says no state was handed over")
    tap.is_(node.pids(st)["a"], pids["a"], "the other group was not touched")
    tap.is_(node.terminate(), 0, "clean stop")
