#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-hostile.py - what a reload that removes or adds groups says to an
operator who gets it wrong.

Groups "prod" and "cons" (t/mod/reloadmod.c; no actor is named
"sink"), two spare participants.  Then:
  - hostile app files for a reload: a module that is missing, one that is
    no shared object, one that crashes in its init (t/mod/hostile.c,
    ACTORS_TEST_HOSTILE=init-segv in the node's environment, so the
    check's child inherits it), spare_groups negative, a string, huge or
    changed: each is refused, names the problem, changes nothing and is
    counted (reload.refused);
  - "cons" removed: actorsctl send, ask and spawn to it exit 1 and say
    that a reload removed the group (not just "receiver stopped"), and
    each is counted as refused_removed;
  - a new group whose declared actor fails its init ("source" looks up
    "sink", which the node lacks): the reload must not say it worked:
    it exits 1 naming the actor, reload.failed counts it; the actor that
    did start answers, and a reload without the group removes it and frees
    its spare participant;
  - new groups in both spares (one of them the removed group's): status
    shows them from zero, not with the last tenant's handled, restarts
    and last death.
"""
import copy
import json
import os

from actorsd_harness import (Tap, Node, actor, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
HOSTILE = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "hostile.so")

tap = Tap(timeout=120)


with tap:
    node = Node(tap, {
        "spare_groups": 2,
        "groups": [
            {"name": "prod", "module": RELOADMOD, "actors": [actor("c0", "caller")]},
            {"name": "cons", "module": RELOADMOD, "actors": [actor("t0", "tally")]},
        ],
    }, name="rlh", env={"ACTORS_TEST_HOSTILE": "init-segv"})
    full = copy.deepcopy(node.app)
    node.start()

    # ---- hostile files: refused, nothing changed, counted -----------------------------
    with open(node.path("notso.so"), "w") as f:
        f.write("not an ELF file\n")

    def with_new(module, behaviour="tally"):
        a = copy.deepcopy(full)
        a["groups"].append({"name": "x", "module": module,
                            "actors": [actor("x1", behaviour)]})
        return a

    def with_spares(v):
        a = copy.deepcopy(full)
        a["spare_groups"] = v
        return a

    cases = [
        (with_new(node.path("missing.so")), "cannot open module", "a missing module"),
        (with_new(node.path("notso.so")), "cannot load module", "a module that is no .so"),
        (with_new(HOSTILE, "calm"), "killed by signal 11", "a module that crashes in init"),
        (with_spares(-1), "expected an integer in 0..254, got -1", "spare_groups -1"),
        (with_spares("2"), "got string '2'", "spare_groups \"2\""),
        (with_spares(100000), "got 100000", "spare_groups 100000"),
        (with_spares(3), "$.spare_groups changed: needs a node restart", "spare_groups changed"),
    ]
    pids = node.pids()
    refused0 = node.status()["reload"]["refused"]
    for app, says, what in cases:
        rc, out, err = node.reload(app)
        tap.ok(rc == 1 and "nothing changed" in err and says in err,
               "reload with %s: refused, says why (%r)" % (what, err.strip()))
    st = node.status()
    tap.is_(st["reload"]["refused"], refused0 + len(cases), "each one counted as refused")
    tap.is_(node.pids(st), pids, "nothing changed: same groups, same workers")
    tap.is_(st["reload"]["spare_groups_free"], 2, "both spares still free")

    # ---- a removed group: the operator hears that a reload removed it -----------------
    small = copy.deepcopy(full)
    del small["groups"][1]
    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-cons" in out, "cons removed (%r)" % (out.strip() or err.strip()))
    rc, out, err = node.ctl("send", "t0", "Ping", '{"count": 0}')
    tap.ok(rc == 1 and "its group 'cons' was removed by a reload" in err and "(removed)" in err,
           "actorsctl send to its actor: exit 1, says the group was removed (%r)" % err.strip())
    rc, out, err = node.ctl("ask", "t0", "Ping", '{"count": 0}')
    tap.ok(rc == 1 and "its group 'cons' was removed by a reload" in err,
           "actorsctl ask: the same (%r)" % err.strip())
    rc, out, err = node.ctl("spawn", "cons", "tally", "t5")
    tap.ok(rc == 1 and "cannot spawn 'tally' into 'cons': a reload removed it" in err,
           "actorsctl spawn into it: exit 1, says a reload removed it (%r)" % err.strip())
    tap.is_(node.group("cons")["refused_removed"], 3, "the send, the ask and the spawn "
            "counted as refused_removed")

    # ---- a new group whose declared actor fails its init -------------------------------
    failed0 = node.status()["reload"]["failed"]
    bad = copy.deepcopy(small)
    bad["groups"].append({"name": "bad", "module": RELOADMOD,
                          "actors": [actor("src9", "source", {"id": 3}), actor("t1", "tally")]})
    rc, out, err = node.reload(bad)
    tap.ok(rc == 1 and "group 'bad' is up but its actor 'src9' did not start" in err,
           "a new group whose actor fails init: the reload fails and names it (%r)"
           % (out.strip() or err.strip()))
    st = node.status()
    tap.is_(st["reload"]["failed"], failed0 + 1, "counted as reload.failed")
    tap.is_(node.group("bad", st)["state"], "ready", "the group itself runs")
    a = node.ask("t1", "Ping", {"count": 0})
    tap.ok(a.get("ok") and a["message"]["count"] == 1, "its other actor answers (%r)" % a)
    a = node.ask("src9", "GetStats", {})
    tap.is_(a.get("code"), "not_found", "the failed one is not there")
    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-bad" in out, "a reload without it removes it (%r)"
           % (out.strip() or err.strip()))
    tap.is_(node.status()["reload"]["spare_groups_free"], 2, "and frees its spare")

    # ---- a new tenant of a used spare starts from zero ----------------------------------
    tap.ok(node.group("bad")["handled"] >= 1 and node.group("bad")["last_death"],
           "the removed group 'bad' handled a Ping and has a last death")
    fresh = copy.deepcopy(small)
    for nm in ("f1", "f2"):  # both spares: one of them is the one 'bad' had
        fresh["groups"].append({"name": nm, "module": RELOADMOD, "actors": [actor(nm + "a", "tally")]})
    rc, out, err = node.reload(fresh)
    tap.ok(rc == 0 and "+f1" in out and "+f2" in out, "two new groups take both spares (%r)"
           % (out.strip() or err.strip()))
    st = node.status()
    for nm in ("f1", "f2"):
        g = node.group(nm, st)
        tap.is_((g["handled"], g["restarts"], g["last_death"], g["dead_letters"]),
                (0, 0, None, 0), "%s starts with its own counters, not its participant's "
                "last tenant's" % nm)
