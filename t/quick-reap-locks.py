#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/quick-reap-locks.py - quick_reap (on by default) does not hand a dead
worker's file locks to its replacement.

With quick_reap a worker's death is handled before its address space is
torn down (its holder does that a moment later, at idle priority).  A file
the worker had mapped stays open until then, and so does a flock() or OFD
lock taken on it: a replacement that takes the lock at once would find it
held.  Before it lets the holder go, the supervisor looks at what the dead
worker's address space maps (supervisor/group.c): if a file is mapped
shared, the death is handled only after the teardown (status:
teardown_waits).

Each group's actor (testmod's locker) takes a lock on its own file without
waiting, maps the file, and dirties 64 MiB so that its teardown takes
milliseconds, long after a replacement would have started.  Each worker is
SIGKILLed once; its replacement (or standby) must get the lock.  A worker
that mapped its file shared (flock(), OFD lock, with and without a hot
standby) is restarted after the teardown; one that mapped no file is
restarted at once: without a lock, with a flock() or a POSIX lock (both
went when its descriptors closed).  A group with quick_reap false has no
holder and waits for nothing.  A worker killed while it waits at the gate
for its predecessor's teardown (1 GiB) does not open the gate for the
next one.  Then actorsd itself is SIGKILLed and started
again: every new worker gets its lock.
"""
import os
import signal

from actorsd_harness import Tap, Node, group, actor

MB = 64
CASES = (  # group, lock, map the file, extra group settings, teardown waits expected
    ("fl", "flock", 1, {}, 1),
    ("ofd", "ofd", 1, {}, 1),
    ("sb", "flock", 1, {"hot_standby": True}, 1),
    ("none", "none", 0, {}, 0),
    ("flfd", "flock", 0, {}, 0),
    ("px", "posix", 0, {}, 0),
    ("off", "flock", 1, {"quick_reap": False}, 0),
)

tap = Tap(timeout=90)
with tap:
    node = Node(tap, {"max_restarts": 50, "period_ms": 10000, "groups": []}, name="qrlock")
    node.app["groups"] = [
        group(g, [actor("a_" + g, "locker", {"path": node.path("file-" + g), "lock": lock,
                                             "map": mapped, "mb": MB})], **kw)
        for g, lock, mapped, kw, _ in CASES]
    st = node.start()
    for g, lock, _, _, _ in CASES:
        tap.is_(node.ask("a_" + g, "Ping", {"count": 0}).get("message"), {"count": 1},
                "%s: the first worker got its %s lock" % (g, lock))

    st = node.wait_group("sb", lambda x, st: x["standby_pid"], 20, "sb's standby")
    for g, lock, mapped, kw, waits in CASES:
        old = node.group(g)
        os.kill(old["pid"], signal.SIGKILL)
        st = node.wait_group(g, lambda x, st: x["pid"] not in (None, old["pid"]) and
                             x["state"] == "ready", 20, "%s's restart" % g)
        new = node.group(g, st)
        if kw.get("hot_standby"):
            tap.is_(new["takeovers"], old["takeovers"] + 1, "%s: the standby took over" % g)
        tap.is_(node.ask("a_" + g, "Ping", {"count": 0}).get("message"), {"count": 1},
                "%s: the replacement got the %s lock its dead predecessor held" % (g, lock))
        tap.is_(new["teardown_waits"] - old["teardown_waits"], waits,
                "%s: %s for the dead worker's teardown" %
                (g, "the restart waited" if waits else "no wait"))

    # A worker killed at the gate (it waits for its predecessor's long
    # teardown: 1 GiB) must not open it for the next one.  (Its init, which
    # dirties that GiB, takes longer than the default heartbeat timeout.)
    node.app["groups"].append(
        group("big", [actor("a_big", "locker", {"path": node.path("file-big"), "lock": "flock",
                                                "mb": 1024})], heartbeat_timeout_ms=30000))
    node.terminate()
    st = node.start(timeout=60)
    old = node.group("big", st)
    os.kill(old["pid"], signal.SIGKILL)
    st = node.wait_group("big", lambda x, st: x["pid"] not in (None, old["pid"]), 20,
                         "big's next worker")
    b = node.group("big", st)
    os.kill(b["pid"], signal.SIGKILL)
    st = node.wait_group("big", lambda x, st: x["pid"] not in (None, old["pid"], b["pid"]) and
                         x["state"] == "ready", 60, "big's third worker")
    c = node.group("big", st)
    tap.is_(node.ask("a_big", "Ping", {"count": 0}).get("message"), {"count": 1},
            "big: a worker killed at the gate did not open it: the third got the lock")
    tap.is_((c["restarts"] - old["restarts"], c["teardown_waits"] - old["teardown_waits"]),
            (2, 1), "big: two restarts, one wait (the second worker mapped nothing yet)")

    # actorsd SIGKILLed: its workers die with it; their holders fall to
    # another parent and tear down at once (no supervisor will look), and
    # the next actorsd kills what still maps the region anyway: its
    # workers get the locks.
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    st = node.start()
    tap.ok(st.get("recovered"), "actorsd SIGKILLed and started again: the region is adopted")
    for g, lock, _, _, _ in CASES:
        tap.is_(node.ask("a_" + g, "Ping", {"count": 0}).get("message"), {"count": 1},
                "%s: after actorsd's SIGKILL the new worker got its %s lock" % (g, lock))
    tap.is_(node.terminate(), 0, "SIGTERM: actorsd exits 0")
