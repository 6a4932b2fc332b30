#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervisor-kill.py - the supervisor dies, nothing is lost (issue 10).

Three groups, producer -> relay -> consumer (t/supervisor-kill-mod.c),
stream SK_COUNT (default 1,000,000) envelopes from two senders while the
test SIGKILLs actorsd SK_KILLS (10) times at random points of the stream
and starts it again each time, as systemd would:
  (a) the region kept as a file in the runtime directory;
  (b) the region kept in an fd store: this test plays systemd (a
      NOTIFY_SOCKET datagram server keeping FDSTORE fds, then
      LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID for the next actorsd), with
      "runtime_dir": "" so that no file exists.
Each run: every seq of every sender in the consumer's log (0 lost), a
duplicate only where flagged (redelivered, or re-sent by a producer that
could not know whether its predecessor sent it), first occurrences in
order per sender; status says recovered with the epoch and what it took
over; a clean stop removes the region.
"""
import os
import random
import signal
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
from actorsd_harness import Tap, Node, wait_for, seed_random
from sk_stream import SENDERS, FdStore, Log, stream_groups, check_log

# ACT_KILL_N: the sanitizer pass of .ci/run streams less.
COUNT = int(os.environ.get("SK_COUNT", os.environ.get("ACT_KILL_N", "1000000")))
KILLS = int(os.environ.get("SK_KILLS", "10"))


def run(tap, mode):
    per = COUNT // len(SENDERS)
    total = per * len(SENDERS)
    app = {"strategy": "one_for_one", "max_restarts": 100, "period_ms": 1000,
           "backoff": {"initial_ms": 1, "factor": 2.0, "max_ms": 20, "reset_after_ms": 50}}
    if mode == "fdstore":
        app["runtime_dir"] = ""
    node = Node(tap, app, name="sk" + mode[:2])
    log = node.path("consumer.log")
    # The consumer a little slower than the stream (1 us per envelope,
    # about a second more per mode): whatever the machine's load, the
    # kills land with a backlog in the rings.
    node.app["groups"] = stream_groups(node, COUNT, spin_ns=1000)
    store = FdStore(node.path("notify")) if mode == "fdstore" else None
    start = (lambda: store.start(node)) if store else (lambda: node.start(timeout=30))
    region = node.path("run", "region")
    lg = Log(log)

    t0 = time.monotonic()
    st = start()
    tap.ok(not st.get("recovered"), "%s: first start makes a new region" % mode)
    if mode == "file":
        tap.ok(os.path.exists(region), "file: the region is %s" % region)
    else:
        store.pump()
        tap.ok("region" in store.fds and not os.path.exists(region),
               "fdstore: the region is in the fd store (FDSTORE=1, FDNAME=region), no file")

    points = sorted(random.randint(total // 40, total * 9 // 10) for _ in range(KILLS))
    epochs, took, recovered = [], 0, 0
    for k, target in enumerate(points):
        wait_for(lambda: (store and store.pump()) or lg.read() >= target, 60,
                 "the consumer to log %d seqs" % target)
        # A random moment between two log reads, not only right after one.
        time.sleep(random.random() * 0.02)
        pid = node.proc.pid
        os.kill(pid, signal.SIGKILL)
        node.proc.wait()
        st = start()
        recovered += bool(st.get("recovered"))
        epochs.append(st.get("epoch"))
        took += st.get("taken_over", 0)
    tap.is_(recovered, KILLS, "%s: every one of %d restarts recovered the region" % (mode, KILLS))
    tap.is_(epochs, list(range(2, KILLS + 2)), "%s: the epoch goes up by one per adoption" % mode)
    tap.is_(st.get("previous_epoch"), KILLS, "%s: status shows the previous epoch" % mode)
    tap.ok(took > 0, "%s: %d envelopes were in the rings at the adoptions" % (mode, took))

    wait_for(lambda: (store and store.pump()) or lg.read() >= total, 120,
             "all %d seqs in the consumer's log" % total)
    elapsed = time.monotonic() - t0
    lg.read()
    tap.diag("%s: %d lines, %d duplicates, %d flagged, %d taken over, %.1f s" %
             (mode, lg.lines, lg.dups, lg.flagged, took, elapsed))
    check_log(tap, "%s, %d supervisor kills" % (mode, KILLS), lg, per)
    st = node.status()
    tap.is_(st["dead_letters"], 0, "%s: no dead letters" % mode)

    if store:
        node.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: store.pump() or node.proc.poll() is not None, 20, "actorsd to exit")
        tap.is_(node.proc.returncode, 0, "%s: actorsd stops cleanly on SIGTERM" % mode)
    else:
        tap.is_(node.terminate(), 0, "%s: actorsd stops cleanly on SIGTERM" % mode)
    if store:
        store.pump()
        tap.ok("region" not in store.fds and store.removed >= 1,
               "fdstore: a clean stop removed the region from the store (FDSTOREREMOVE=1)")
        for fd in store.fds.values():
            os.close(fd)
    else:
        tap.ok(not os.path.exists(region), "file: a clean stop removed the region file")


tap = Tap(timeout=int(os.environ.get("SK_TIMEOUT", "170")))
with tap:
    seed_random(tap)
    for mode in os.environ.get("SK_MODES", "file fdstore").split():
        run(tap, mode)
