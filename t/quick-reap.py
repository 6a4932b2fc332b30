#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/quick-reap.py - quick_reap (on by default; ACTORS_QUICK_REAP=1 or 0 for every
group): a worker's death is seen before its address space is torn down.

With the variable set, each worker makes a holder (src/worker.c): a child
titled actors-mmhold that shares the worker's address space and only
sleeps, so the worker's exit is not the last user of that address space,
and its pidfd fires without waiting for the teardown.  The holder dies
with its worker (parent-death signal) and tears it down then.  Here: every
worker has exactly one holder, which shares its memory; deaths by SIGKILL,
SIGSEGV and exit(111) are seen with their exact cause and restarted, the
dead worker's holder goes, the new worker has its own; a hot standby takes
over as before; a killed holder costs the worker nothing and its death is
still seen (it stays a zombie of its worker until then); SIGTERM leaves
no process behind.  The app file's quick_reap false takes the holder
from its group only, through restarts by the prefork too (which makes one
ahead when any group has it; a group without it kills and reaps it).
ACTORS_QUICK_REAP=0 leaves every group without one.  (File locks a dead
worker may still hold through its holder: t/quick-reap-locks.py.)
"""
import os
import signal

from actorsd_harness import (Tap, Node, group, actor, children, leftovers_after, wait_for,
                             wait_gone)


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def state(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return None


def holders(pid):
    return [c for c in children(pid) if comm(c) == "actors-mmhold"]


def maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def fds(pid):
    return os.listdir("/proc/%d/fd" % pid)


def check_holder(tap, pid, what):
    """The one holder of worker pid, checked; None if there is not one."""
    h = holders(pid)
    tap.is_(len(h), 1, "%s (pid %d) has one holder" % (what, pid))
    if len(h) != 1:
        return None
    tap.ok(maps(h[0]) == maps(pid), "%s's holder %d shares its address space" % (what, h[0]))
    tap.is_(fds(h[0]), [], "%s's holder keeps no descriptor open" % what)
    return h[0]


tap = Tap(timeout=90)
with tap:
    app = {"strategy": "one_for_one", "max_restarts": 20, "period_ms": 10000,
           "groups": [group("g", [actor("a", "echo")], max_redeliveries=1),
                      group("p", [actor("b", "pid")]),
                      group("s", [actor("c", "pid")], hot_standby=True)]}
    node = Node(tap, app, name="qreap", env={"ACTORS_QUICK_REAP": "1"})
    st = node.start()

    for name in ("g", "p"):
        check_holder(tap, node.group(name, st)["pid"], "group %s's worker" % name)

    # ---- deaths, each seen with its cause -----------------------------------------
    for how, sig, cause in (("kill", signal.SIGKILL, "killed by signal 9"),
                            ("segv", None, "killed by signal 11"),
                            ("exit111", None, "exited with code 111")):
        old = node.group("g")
        h = holders(old["pid"])
        if sig:
            os.kill(old["pid"], sig)
        else:
            node.send("a", "Crash", {"how": how})
        st = node.wait_group("g", lambda g, st: g["pid"] not in (None, old["pid"]) and
                             g["state"] == "ready", 20, "the restart after %s" % how)
        g = node.group("g", st)
        # (max_redeliveries 1: the replacement dead-letters the fatal Crash.)
        tap.is_(g["restarts"], old["restarts"] + 1, "%s: one restart" % how)
        tap.ok(g["last_death"].startswith(cause), "%s: status says %r (%r)" %
               (how, cause, g["last_death"]))
        tap.is_(wait_gone(h, 10), [], "%s: the dead worker's holder is gone" % how)
        check_holder(tap, g["pid"], "%s: the new worker" % how)
        tap.is_(node.ask("a", "Ping", {"count": 7}).get("message"), {"count": 7},
                "%s: the new worker answers" % how)

    # ---- a hot standby ------------------------------------------------------------
    st = node.wait_group("s", lambda g, st: g["standby_pid"], 20, "a standby")
    old = node.group("s", st)
    spare = old["standby_pid"]
    h = holders(old["pid"])
    os.kill(old["pid"], signal.SIGKILL)
    st = node.wait_group("s", lambda g, st: g["pid"] == spare and g["state"] == "ready", 20,
                         "the standby's takeover")
    tap.is_(node.group("s", st)["takeovers"], old["takeovers"] + 1, "the standby took over")
    tap.is_(node.ask("c", "Ping", {"count": 0}).get("message"), {"count": spare},
            "the actor answers from the former standby")
    tap.is_(wait_gone(h, 10), [], "the dead worker's holder is gone")
    check_holder(tap, spare, "the former standby")

    # ---- a killed holder ----------------------------------------------------------
    w = node.group("p")["pid"]
    h = holders(w)
    for x in h:
        os.kill(x, signal.SIGKILL)
    # Its worker does not reap it: a zombie until the worker exits.
    tap.ok(wait_for(lambda: all(state(x) in (None, "Z") for x in h), 10, "the holder's death"),
           "a holder SIGKILLed from outside is dead")
    tap.is_(node.ask("b", "Ping", {"count": 0}).get("message"), {"count": w},
            "its worker goes on answering")
    os.kill(w, signal.SIGKILL)
    st = node.wait_group("p", lambda g, st: g["pid"] not in (None, w) and
                         g["state"] == "ready", 20, "the restart of a worker without holder")
    tap.ok(node.group("p", st)["last_death"].startswith("killed by signal 9"),
           "its death is still seen (by the teardown's end)")

    st = node.status()
    owners = [g["pid"] for g in st["groups"] if g["pid"]] + \
        [g["standby_pid"] for g in st["groups"] if g["standby_pid"]] + \
        ([st["prefork"]["pid"]] if st["prefork"]["pid"] else [])
    hs = [h for w in owners for h in holders(w)]
    tap.ok(len(hs) >= 4, "before the stop: %d holders (workers, standby, prefork)" % len(hs))
    tap.is_(node.terminate(), 0, "SIGTERM: actorsd exits 0")
    # Not reaped by us: actorsd waited for them before it exited.
    tap.is_([h for h in hs if os.path.exists("/proc/%d" % h)], [],
            "every holder was gone when actorsd exited")
    tap.is_(leftovers_after(10), [], "no process left behind, holders included")

    # ---- per group, in the app file -----------------------------------------------
    node3 = Node(tap, {"max_restarts": 20, "period_ms": 10000,
                       "groups": [group("q", [actor("a", "echo")]),
                                  group("n", [actor("b", "echo")], quick_reap=False)]},
                 name="qreap1")
    st = node3.start()
    check_holder(tap, node3.group("q", st)["pid"], "quick_reap group q's worker")
    tap.is_(holders(node3.group("n", st)["pid"]), [], "group n with quick_reap false has no holder")
    for name in ("n", "q", "n"):  # restarts go through the prefork, made with a holder
        st = node3.wait_group(name, lambda g, st: st["prefork"]["pid"], 20, "a prefork")
        pf = st["prefork"]["pid"]
        # Shown once forked; it makes its holder as it prepares (on a busy
        # machine that can come later).
        wait_for(lambda: holders(pf), 10, "the prefork's holder")
        check_holder(tap, pf, "the prefork")
        old = node3.group(name)["pid"]
        os.kill(old, signal.SIGKILL)
        st = node3.wait_group(name, lambda g, st: g["pid"] not in (None, old) and
                              g["state"] == "ready", 20, "the restart of %s" % name)
        new = node3.group(name, st)["pid"]
        tap.is_(new, pf, "%s restarted in the prefork" % name)
        if name == "q":
            check_holder(tap, new, "q's replacement")
        else:
            # It killed the prefork's holder, and reaps it when it first sleeps.
            tap.ok(wait_for(lambda: not holders(new), 10, "n's holder to go"),
                   "n's replacement killed and reaped the prefork's holder")
    tap.is_(node3.terminate(), 0, "actorsd exits 0")
    tap.is_(leftovers_after(10), [], "no process left behind")

    # ---- ACTORS_QUICK_REAP=0 turns it off for every group --------------------------
    node2 = Node(tap, {"groups": [group("g", [actor("a", "echo")], quick_reap=True),
                                  group("h", [actor("b", "echo")])]},
                 name="qreap0", env={"ACTORS_QUICK_REAP": "0"})
    st = node2.start()
    tap.is_([holders(node2.group(x, st)["pid"]) for x in ("g", "h")], [[], []],
            "ACTORS_QUICK_REAP=0: no holder, whatever the app file says")
    st = node2.wait_group("g", lambda g, st: st["prefork"]["pid"], 20, "a prefork")
    pf = st["prefork"]["pid"]
    tap.is_(holders(pf), [], "ACTORS_QUICK_REAP=0: the prefork has none either")
    tap.is_(node2.terminate(), 0, "and actorsd exits 0")
