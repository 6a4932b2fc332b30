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
left in between).  The same when the file is cut to one page and grown
back to its size at once, between two looks of the loop (its size is
whole, but every page past the cut reads zero): the line says it was
truncated and grown back, or overwritten, and the whole file is kept
aside; in the runtime directory of the tests and in one on tmpfs
(/dev/shm), where the kernel keeps the file's times differently.  A chmod
of the file (its ctime moves, its contents do not) does not stop the
node.  A SIGBUS from outside (kill -BUS) is not the region's: actorsd
still dies of it, as before.
"""
import glob
import os
import signal
import tempfile
import time

from actorsd_harness import Tap, Node, group, actor, wait_for, leftovers_after

tap = Tap(timeout=120)


def run_dir(node):
    return os.path.join(node.dir, node.app["runtime_dir"])


def truncate_and_stop(node, what, traffic, regrow=False, cut=None):
    st = node.start()
    pids = node.worker_pids(st)
    node.note_pids(st)
    region = os.path.join(run_dir(node), "region")
    size = os.path.getsize(region)
    before = set(glob.glob(os.path.join(run_dir(node), "region.refused-*")))
    log_at = os.path.getsize(node.log_path)
    cut_to = 4096 if cut is None else cut(size)
    os.truncate(region, cut_to)
    regrown = False
    if regrow:
        # Back to its size before the loop's next look (a turn, ~0.5 s
        # when idle): the size alone no longer tells.  A node that
        # touched a cut page first (SIGBUS) may have moved it aside.
        try:
            os.truncate(region, size)
            regrown = True
        except FileNotFoundError:
            pass
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
    cut_says = ("was truncated under the running node", "%d of its %d bytes left" % (cut_to, size))
    if regrow:
        # Seen grown back, or - when the node touched a cut page before
        # the file grew again (a SIGBUS) - seen cut: both are right.  The
        # file kept aside is the same file: whole again either way.
        ways = [("was truncated and grown back, or overwritten, under the running node",
                 "it has its %d bytes" % size), cut_says]
        left = size if regrown else cut_to
    else:
        ways, left = [cut_says], cut_to
    line = [ln for ln in text.splitlines() if any(w[0] in ln for w in ways)]
    tap.ok(len(line) == 1 and ("the region file %s was truncated" % region) in line[0]
           and any(w[0] in line[0] and w[1] in line[0] for w in ways) and
           "exit 111" in line[0] and text.count("the region file ") == 1,
           "%s: one log line names the file and says what is left" % what)
    tap.diag(line[0] if line else text[-2000:])
    aside = sorted(set(glob.glob(os.path.join(run_dir(node), "region.refused-*"))) - before)
    tap.ok(len(aside) == 1 and os.path.getsize(aside[0]) == left and
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

    truncate_and_stop(node, "grown back", traffic=False, regrow=True)
    # Cut past the header: the statistics header in the last page tells.
    truncate_and_stop(node, "grown back from half", traffic=False, regrow=True,
                      cut=lambda size: size // 2 // 4096 * 4096)

    # A chmod moves the file's ctime, as a truncation does: the guard
    # looks, finds the region as it was, and the node goes on.
    st = node.start()
    region = node.path("run", "region")
    before = set(glob.glob(node.path("run", "region.refused-*")))
    log_at = os.path.getsize(node.log_path)
    os.chmod(region, 0o400)
    time.sleep(0.3)
    os.chmod(region, 0o600)
    time.sleep(1.5)
    tap.ok(node.running(), "chmod: the node still runs")
    tap.is_(node.ask_ok("e0", "Ping", {"count": 3}).get("count"), 3, "chmod: and answers")
    tap.ok("the region file" not in node.log_text()[log_at:] and os.path.exists(region) and
           set(glob.glob(node.path("run", "region.refused-*"))) == before,
           "chmod: nothing said, nothing kept aside")
    node.terminate()

    # On tmpfs, where a runtime_dir should be: the kernel moves the ctime
    # there on every first write to a page through a mapping, not on
    # later ones, and on a truncation.
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        shm_dir = tempfile.mkdtemp(prefix="actorsd-rtrunc-", dir="/dev/shm")
        tnode = Node(tap, {"groups": [group("alpha", [actor("a_alpha", "pid")]),
                                      group("beta", [actor("e0", "echo")])],
                           "runtime_dir": shm_dir}, name="rtrunc-shm")
        try:
            truncate_and_stop(tnode, "grown back on tmpfs", traffic=False, regrow=True)
            truncate_and_stop(tnode, "grown back on tmpfs, busy", traffic=True, regrow=True)
        finally:
            for f in glob.glob(os.path.join(shm_dir, "*")):
                os.unlink(f)
            os.rmdir(shm_dir)
    else:
        tap.diag("no writable /dev/shm: the tmpfs cases are not run")

    # A SIGBUS that no access to the region caused: the default action.
    node.start()
    log_at = os.path.getsize(node.log_path)
    node.proc.send_signal(signal.SIGBUS)
    tap.is_(node.wait_exit(10), -signal.SIGBUS, "kill -BUS: actorsd dies of it as before")
    tap.ok("truncated" not in node.log_text()[log_at:] and
           os.path.getsize(node.path("run", "region")) > 4096,
           "kill -BUS: not taken for a truncation, the region left in place")
