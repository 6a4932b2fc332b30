#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/region-truncated.py - a region file truncated under a running node
stops actorsd with one clear log line and exit 111, never a silent SIGBUS.

A region in runtime_dir is a plain file (only a memfd can be sealed
against shrinking).  The test truncates it to one page while the node
runs, idle and then under traffic, and asserts: actorsd exits 111 (a
temporary failure: systemd restarts it) within a few seconds, its log
names the file, says it was truncated and how much is left, and where
the rest was kept (region.refused-TIMESTAMP, one page, as recover.c
keeps a refused region); no worker, zygote or prefork is left; the next
start makes a new, whole region and runs (no exit-100 refusal of what is
left in between).  A SIGBUS from outside (kill -BUS) is not the region's:
actorsd still dies of it, as before.
"""
import glob
import os
import signal
import time

from actorsd_harness import Tap, Node, group, actor, wait_for, leftovers_after

tap = Tap(timeout=120)


def truncate_and_stop(node, what, traffic):
    st = node.start()
    pids = node.worker_pids(st)
    node.note_pids(st)
    region = node.path("run", "region")
    size = os.path.getsize(region)
    before = set(glob.glob(node.path("run", "region.refused-*")))
    log_at = os.path.getsize(node.log_path)
    os.truncate(region, 4096)
    t0 = time.monotonic()
    if traffic:
        # Keep the supervisor and the workers busy on the rings meanwhile.
        for _ in range(20):
            if not node.running():
                break
            try:
                node.send("e0", "Ping", {"count": 1})
            except (OSError, ValueError):
                break
    try:
        rc = node.wait_exit(10)
    except Exception:
        rc = None
    took = time.monotonic() - t0
    tap.is_(rc, 111, "%s: actorsd exits 111 (took %.2f s)" % (what, took))
    tap.ok(took < 10, "%s: within a bounded time" % what)
    node.log.flush()
    with open(node.log_path, errors="replace") as f:
        f.seek(log_at)
        text = f.read()
    line = [ln for ln in text.splitlines() if "was truncated under the running node" in ln]
    tap.ok(len(line) == 1 and ("the region file %s was truncated" % region) in line[0]
           and ("4096 of its %d bytes left" % size) in line[0] and "exit 111" in line[0],
           "%s: one log line names the file and says what is left" % what)
    tap.diag(line[0] if line else text[-2000:])
    aside = sorted(set(glob.glob(node.path("run", "region.refused-*"))) - before)
    tap.ok(len(aside) == 1 and os.path.getsize(aside[0]) == 4096 and
           not os.path.exists(region) and line and ("kept as %s" % aside[0]) in line[0],
           "%s: what is left kept aside (%s), named in the line"
           % (what, [os.path.basename(a) for a in aside]))
    left = leftovers_after(5)
    tap.ok(not left and all(not os.path.exists("/proc/%d" % p) for p in pids),
           "%s: no worker left (%s)" % (what, left))
    st = node.start()
    tap.ok(st and all(g["state"] == "ready" for g in st["groups"]),
           "%s: the next start runs" % what)
    tap.ok(os.path.getsize(region) == size, "%s: in a new, whole region" % what)
    tap.is_(node.ask_ok("e0", "Ping", {"count": 7}).get("count"), 7,
            "%s: and answers" % what)
    node.terminate()


with tap:
    node = Node(tap, {"groups": [group("alpha", [actor("a_alpha", "pid")]),
                                 group("beta", [actor("e0", "echo")])]},
                name="rtrunc")
    truncate_and_stop(node, "idle", traffic=False)
    truncate_and_stop(node, "busy", traffic=True)

    # A SIGBUS that no access to the region caused: the default action.
    node.start()
    log_at = os.path.getsize(node.log_path)
    node.proc.send_signal(signal.SIGBUS)
    tap.is_(node.wait_exit(10), -signal.SIGBUS, "kill -BUS: actorsd dies of it as before")
    tap.ok("truncated" not in node.log_text()[log_at:] and
           os.path.getsize(node.path("run", "region")) > 4096,
           "kill -BUS: not taken for a truncation, the region left in place")
