#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
bench/bench-spares.py - what the app file's "spare_groups" costs.

For each count of spare participants (argv, default 0 4 16 64), starts
actorsd on a node of two groups (t/mod/reloadmod.so: two sources
streaming to a sink) with its region in /dev/shm, lets it stream for
STREAM_SECONDS (2), and prints one line: the region's size (address
space), the pages of it allocated (the file's blocks on tmpfs), the
supervisor's VmRSS, the part of the region resident in the supervisor,
and how many Seq the sink handled (the stream is not the point: a sanity
check that the node works).

    make bench-spares            # or: top_builddir=. python3 bench/bench-spares.py 0 4 16
"""
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "t"))
os.environ.setdefault("top_builddir", os.path.join(HERE, ".."))

from actorsd_harness import Tap, Node, actor, TOP_BUILDDIR  # noqa: E402

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
SECONDS = float(os.environ.get("STREAM_SECONDS") or 2)


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def region_rss_kb(pid, path):
    """Rss of the supervisor's mappings of the region file."""
    total, inside = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and all(c in "0123456789abcdef-" for c in head[0]):
                # made as region.new, then renamed: the mapping keeps the first name
                inside = os.path.dirname(path) + "/region" in line
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total


tap = Tap(timeout=600)
with tap:
    counts = [int(a) for a in sys.argv[1:]] or [0, 4, 16, 64]
    for spares in counts:
        run = "/dev/shm/bench-spares-%d-%d" % (os.getpid(), spares)
        app = {"spare_groups": spares, "runtime_dir": run, "groups": [
            {"name": "prod", "module": RELOADMOD,
             "actors": [actor("p0", "source", {"id": 0}), actor("p1", "source", {"id": 1})]},
            {"name": "cons", "module": RELOADMOD, "actors": [actor("sink", "sink")]}]}
        node = Node(tap, app, name="bsp")
        node.start()
        time.sleep(SECONDS)
        region = os.path.join(run, "region")
        st = os.stat(region)
        total = node.ask("sink", "GetStats", {})["message"]["total"]
        pid = node.proc.pid
        print("spare_groups=%d region_mib=%.1f region_allocated_mib=%.1f supervisor_rss_kb=%d "
              "region_rss_kb=%d sink_handled=%d"
              % (spares, st.st_size / 1048576.0, st.st_blocks * 512 / 1048576.0,
                 vm_rss_kb(pid), region_rss_kb(pid, region), total), flush=True)
        tap.is_(node.terminate(), 0, "spare_groups %d: clean stop" % spares)
        shutil.rmtree(run, ignore_errors=True)
