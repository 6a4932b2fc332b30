#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-strategy.py - OTP strategies, restart types, exit 100 and
restart intensity, seen from outside through worker pids.

Every group runs one `pid` actor (answers Ping with its worker's pid) and
has max_redeliveries 1, so that one Crash message crashes its group exactly
once (the restarted worker parks it as a dead letter).
"""

from actorsd_harness import (Tap, Node, group, actor, gone, wait_gone, EXIT_INTENSITY)

tap = Tap(timeout=100)


def pid_groups(names, **kw):
    return [group(n, [actor("a_" + n, "pid")], max_redeliveries=1, **kw) for n in names]


def crash(node, name, how):
    """Crashes group name through actorsctl send; checks actorsctl said ok."""
    rc, out, err = node.ctl("send", "a_" + name, "Crash", '{"how":"%s"}' % how)
    tap.is_(rc, 0, "actorsctl send a_%s Crash %s: exit 0" % (name, how))
    return rc


def check_asks(node, names, st, label):
    """Each named actor answers Ping with the pid status shows for its group."""
    want = {n: node.group(n, st)["pid"] for n in names}
    got = {n: (node.ask("a_" + n, "Ping", {"count": 0}).get("message") or {}).get("count")
           for n in names}
    tap.is_(got, want, "%s: ask Ping answers with the pids status shows" % label)


def settled(node, restarts, dead_letters):
    """Waits until the node counted `restarts` restart events, parked
    `dead_letters` Crash messages and every live group is ready."""
    def pred(g, st):
        return (st["restarts"] >= restarts and st["dead_letters"] >= dead_letters and
                all(x["state"] in ("ready", "done", "failed") for x in st["groups"]))
    return node.wait_group(node.app["groups"][0]["name"], pred, 20,
                           "%d restart(s) and %d dead letter(s)" % (restarts, dead_letters))


with tap:
    # ---- strategies: crash the middle group ------------------------------------
    expect = {
        "one_for_one": {"g2"},
        "one_for_all": {"g1", "g2", "g3"},
        "rest_for_one": {"g2", "g3"},
    }
    for strat, changed_want in expect.items():
        node = Node(tap, {"strategy": strat, "max_restarts": 10, "period_ms": 5000,
                          "groups": pid_groups(["g1", "g2", "g3"])}, name=strat)
        st = node.start()
        before = node.pids(st)
        check_asks(node, before, st, strat + " before")
        rc, out, err = node.ctl("ask", "a_g2", "Ping", '{"count":1}')
        tap.ok(rc == 0 and out.strip() == 'Pong {"count":%d}' % before["g2"],
               "%s: actorsctl ask a_g2 Ping prints Pong with its pid (%r)" % (strat, out.strip()))
        crash(node, "g2", "segv")
        st = settled(node, 1, 1)
        after = node.pids(st)
        changed = {g for g in before if after[g] != before[g]}
        tap.is_(changed, changed_want, "%s: groups with new pids after g2 crashed" % strat)
        tap.ok(all(after[g] for g in after), "%s: every group has a pid again" % strat)
        tap.is_({g["name"]: g["restarts"] for g in st["groups"]},
                {g: int(g in changed_want) for g in before},
                "%s: per-group restart counts" % strat)
        tap.is_(st["restarts"], 1, "%s: one restart event" % strat)
        cr = [(c["group"], c["signal"], c["handling_type"]) for c in st["crashes"]]
        tap.is_(cr, [("g2", 11, "Crash")], "%s: one crash record: g2, SIGSEGV, handling Crash"
                % strat)
        check_asks(node, before, st, strat + " after")
        tap.is_(wait_gone([before[g] for g in changed_want], 5), [],
                "%s: the replaced workers are gone" % strat)
        tap.is_(node.terminate(), 0, "%s: SIGTERM -> exit 0" % strat)

    # ---- restart types ---------------------------------------------------------
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 20, "period_ms": 5000,
                      "groups": pid_groups(["anchor"]) +
                      pid_groups(["perm"], restart="permanent") +
                      pid_groups(["trans"], restart="transient") +
                      pid_groups(["temp"], restart="temporary")}, name="types")
    st = node.start()
    p0 = node.pids(st)
    restarts, dls = 0, 0

    # permanent: restarted after exit 0 and after a crash
    for how in ("exit0", "segv"):
        old = node.pids()["perm"]
        crash(node, "perm", how)
        restarts += 1
        dls += 1
        st = settled(node, restarts, dls)
        new = node.group("perm", st)
        tap.ok(new["pid"] not in (None, old) and new["state"] == "ready",
               "permanent: restarted after %s (pid %s -> %s)" % (how, old, new["pid"]))
    tap.is_(node.group("perm", st)["restarts"], 2, "permanent: restarts 2")

    # transient: stays down after exit 0 ...
    old = node.pids()["trans"]
    crash(node, "trans", "exit0")
    st = node.wait_group("trans", lambda g, st: g["state"] == "done", 10, "trans done")
    check_asks(node, ["anchor"], st, "transient exit0")  # a round trip through the loop
    g = node.group("trans")
    tap.ok(g["state"] == "done" and g["pid"] is None and g["restarts"] == 0,
           "transient: not restarted after exit 0 (state %s, pid %s)" % (g["state"], g["pid"]))
    tap.ok(wait_gone([old], 5) == [], "transient: its worker is gone")
    # ... until the operator restarts it by hand (the Crash still in its
    # ring is parked: it killed the group once, max_redeliveries 1) ...
    rc, out, err = node.ctl("restart", "trans")
    tap.is_(rc, 0, "actorsctl restart trans: exit 0 (%s)" % (out.strip() or err.strip()))
    dls += 1
    st = settled(node, restarts, dls)
    g = node.group("trans", st)
    tap.ok(g["state"] == "ready" and g["pid"] not in (None, old),
           "transient: manual restart gives a new worker (pid %s)" % g["pid"])
    # ... and is restarted after an abnormal exit.
    old = g["pid"]
    crash(node, "trans", "segv")
    restarts += 1
    dls += 1
    st = settled(node, restarts, dls)
    g = node.group("trans", st)
    tap.ok(g["state"] == "ready" and g["pid"] not in (None, old),
           "transient: restarted after SIGSEGV (pid %s -> %s)" % (old, g["pid"]))

    # temporary: never restarted, neither after a crash nor after exit 0
    for how in ("segv", "exit0"):
        old = node.pids()["temp"]
        crash(node, "temp", how)
        st = node.wait_group("temp", lambda g, st: g["state"] == "done", 10, "temp done")
        check_asks(node, ["anchor"], st, "temporary " + how)
        g = node.group("temp")
        tap.ok(g["state"] == "done" and g["pid"] is None,
               "temporary: not restarted after %s (state %s)" % (how, g["state"]))
        tap.is_(wait_gone([old], 5), [], "temporary: its worker is gone")
        if how == "segv":
            rc, out, err = node.ctl("restart", "temp")
            tap.is_(rc, 0, "actorsctl restart temp: exit 0")
            dls += 1
            st = settled(node, restarts, dls)
    st = node.status()
    tap.is_(st["restarts"], restarts, "automatic restart events: %d" % restarts)
    tap.is_(node.group("anchor", st)["pid"], p0["anchor"], "the anchor group never restarted")
    tap.is_(node.terminate(), 0, "types: SIGTERM -> exit 0")

    # ---- one_for_all takes a temporary sibling down for good -----------------------
    node = Node(tap, {"strategy": "one_for_all", "max_restarts": 10, "period_ms": 5000,
                      "groups": pid_groups(["a", "b"]) +
                      pid_groups(["t"], restart="temporary")}, name="ofa")
    st = node.start()
    before = node.pids(st)
    crash(node, "b", "segv")
    st = settled(node, 1, 1)
    st = node.wait_group("t", lambda g, st: g["state"] == "done", 10, "t done")
    after = node.pids(st)
    tap.ok(after["a"] not in (None, before["a"]) and after["b"] not in (None, before["b"]),
           "one_for_all: a and b restarted (%s -> %s)" % (before, after))
    g = node.group("t", st)
    tap.ok(g["state"] == "done" and g["pid"] is None and g["restarts"] == 0,
           "one_for_all: temporary sibling stopped and not restarted (state %s)" % g["state"])
    tap.is_(wait_gone([before["t"]], 5), [], "one_for_all: the temporary worker is gone")
    check_asks(node, ["a", "b"], st, "one_for_all")
    tap.is_(node.terminate(), 0, "one_for_all: SIGTERM -> exit 0")

    # ---- exit 100: failed, not restarted, the node keeps running --------------------
    node = Node(tap, {"max_restarts": 10, "period_ms": 5000,
                      "groups": pid_groups(["x", "y"])}, name="exit100")
    st = node.start()
    before = node.pids(st)
    rc, out, err = node.ctl("status")
    tap.is_(rc, 0, "exit100: actorsctl status exits 0 while all is well")
    crash(node, "y", "exit100")
    st = node.wait_group("y", lambda g, st: g["state"] == "failed", 10, "y failed")
    check_asks(node, ["x"], st, "exit100")
    st = node.status()
    y = node.group("y", st)
    tap.ok(y["state"] == "failed" and y["failed"] is True and y["pid"] is None and
           y["restarts"] == 0, "exit100: y failed, not restarted (%r)" % (y,))
    tap.is_(st["restarts"], 0, "exit100: no restart event")
    tap.is_(node.group("x", st)["pid"], before["x"], "exit100: x kept its worker")
    cr = [(c["group"], c["exit_code"], c["signal"]) for c in st["crashes"]]
    tap.is_(cr, [("y", 100, None)], "exit100: crash record with exit code 100")
    tap.ok(node.running(), "exit100: actorsd keeps running")
    rc, out, err = node.ctl("status")
    tap.is_(rc, 1, "exit100: actorsctl status exits 1 (the node reports a problem)")
    rc, a, err = node.ctl_json("status")
    tap.ok(rc == 1 and a and a["problem"] is True, "exit100: status --json has problem true")
    tap.is_(node.terminate(), 0, "exit100: SIGTERM -> exit 0")

    # ---- restart intensity exceeded: exit 112, no worker survives -------------------
    node = Node(tap, {"max_restarts": 1, "period_ms": 5000,
                      "groups": pid_groups(["i1", "i2", "i3"])}, name="intensity")
    st = node.start()
    crash(node, "i2", "segv")
    st = settled(node, 1, 1)
    tap.ok(node.running(), "intensity: the first crash is within max_restarts 1")
    node.note_pids(st)
    tap.ok(len(node.zygotes) >= 1, "intensity: found the zygote (%s)" % sorted(node.zygotes))
    crash(node, "i2", "segv")
    rc = node.wait_exit(20)
    tap.is_(rc, EXIT_INTENSITY, "intensity: second crash in 5 s -> actorsd exits 112")
    pids = sorted(node.seen_pids | node.zygotes)
    tap.is_(wait_gone(pids, 5), [], "intensity: none of the %d processes seen survives" % len(pids))
    tap.ok(all(gone(p) for p in pids), "intensity: kill(pid, 0) fails for every recorded pid")
    rc, out, err = node.ctl("status")
    tap.is_(rc, 3, "intensity: actorsctl status then exits 3 (unreachable)")
