#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
bench/bench-reload.py - reload_gap: the longest time a group handled
nothing while a reload restarted it with new code, under a stream.

Two sources stream Seq to a sink (both t/mod/reloadmod.so)
that notes the longest time between two Seq it handled; that time is part
of the state it hands over on a reload, so the gap across a restart is
measured by the actor itself, from its last envelope in the old worker to
its first in the new one.  First a run without reloads (the baseline: the
longest gap a busy stream has anyway), then one with RELOADS reloads
during the stream; each run streams for at least STREAM_SECONDS (3).  Also printed: the supervisor's own figure (a group's
STOP to its new READY, status reload.gap_max_us) and the loss check.

    make bench-reload            # or: top_builddir=. python3 bench/bench-reload.py
    RELOADS=20 STREAM_SECONDS=5 python3 bench/bench-reload.py

Needs t/mod/reloadmod.la built (make check or make bench-reload builds
it).  Figures depend on the machine; on a shared machine the baseline
is noisy too.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "t"))
os.environ.setdefault("top_builddir", os.path.join(HERE, ".."))

from actorsd_harness import Tap, Node, actor, wait_for, TOP_BUILDDIR  # noqa: E402

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
TAG = b"RELOADMOD-VERSION=v00000000000"
SECONDS = float(os.environ.get("STREAM_SECONDS") or 3)
RELOADS = int(os.environ.get("RELOADS") or 10)


def build(node, version):
    with open(RELOADMOD, "rb") as f:
        data = f.read()
    tmp = node.path("cons.so.tmp")
    with open(tmp, "wb") as f:
        f.write(data.replace(TAG, b"RELOADMOD-VERSION=v%011d" % version))
    os.rename(tmp, node.path("cons.so"))


def stats(node):
    a = node.ask("sink", "GetStats", {})
    if not a.get("ok"):
        raise RuntimeError("GetStats failed: %r" % (a,))
    return a["message"]


def run(tap, reloads):
    app = {"groups": [
        {"name": "prod", "module": RELOADMOD,
         "actors": [actor("p0", "source", {"id": 0}), actor("p1", "source", {"id": 1})]},
        {"name": "cons", "module": "cons.so", "actors": [actor("sink", "sink")]},
    ]}
    node = Node(tap, app, name="bre")
    build(node, 0)
    node.start()
    t0 = time.monotonic()
    done = 0
    for k in range(1, reloads + 1):
        build(node, k)
        rc, out, err = node.ctl("reload", timeout=120)
        if rc != 0:
            raise RuntimeError("reload %d failed: %s" % (k, err.strip()))
        done += 1
    while time.monotonic() - t0 < SECONDS:
        time.sleep(0.1)
    sent = sum(node.ask(p, "Halt", {})["message"]["count"] for p in ("p0", "p1"))
    s = wait_for(lambda: (lambda x: x if x["total"] >= sent else None)(stats(node)),
                 600, "the stream to end")
    s["sent"] = sent
    secs = time.monotonic() - t0
    r = node.status()["reload"]
    node.terminate()
    return s, r, done, secs


tap = Tap(timeout=1200)
with tap:
    base, _, _, bsecs = run(tap, 0)
    s, r, done, secs = run(tap, RELOADS)
    print("# stream: %d Seq in %.1f s with %d reloads during it (baseline: %d in %.1f s)"
          % (s["sent"], secs, done, base["sent"], bsecs))
    print("reload_gap: %.2f ms  (longest time the sink handled nothing, measured by the actor; "
          "no-reload baseline %.2f ms)" % (s["max_gap_us"] / 1000.0, base["max_gap_us"] / 1000.0))
    print("reload_stop_to_ready: %.2f ms max, %.2f ms last  (supervisor: STOP sent to new "
          "worker READY)" % (r["gap_max_us"] / 1000.0, r["gap_last_us"] / 1000.0))
    print("# lost %d, duplicates %d, state imports %d"
          % (s["lost"], s["dup"], s["imports"]))
    tap.ok(s["lost"] == 0 and s["dup"] == 0 and s["imports"] == done and
           s["total"] == s["sent"],
           "nothing lost or duplicated, state imported at every reload")
