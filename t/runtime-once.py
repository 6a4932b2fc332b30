#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/runtime-once.py - one runtime per process.

actorsd links libactors.so like the group modules it loads, so a worker
maps exactly one libactors and actorsd itself defines none of the act_*
API (a statically linked copy would show up as its own definitions).
"""
import os
import subprocess

from actorsd_harness import ACTORSD, Tap, Node, group, actor


def mapped(pid, needle):
    """Distinct files mapped by pid whose name contains needle."""
    paths = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and needle in os.path.basename(parts[5].strip()):
                paths.add(os.path.realpath(parts[5].strip()))
    return sorted(paths)


tap = Tap(timeout=60)
with tap:
    nm = subprocess.run(["nm", "-D", "--defined-only", ACTORSD], capture_output=True, text=True)
    if nm.returncode == 0:
        own = [l.split()[-1] for l in nm.stdout.splitlines()
               if l.split() and l.split()[-1].startswith("act_")]
        tap.is_(own, [], "actorsd defines no act_* function of its own")
    else:
        tap.ok(True, "actorsd: nm unavailable (%s)" % nm.stderr.strip(), todo="no nm")
    node = Node(tap, {"groups": [group("alpha", [actor("a_alpha", "pid")])]}, name="once")
    node.start()
    workers = node.worker_pids()
    tap.is_(len(workers), 1, "one worker is running")
    libs = mapped(workers[0], "libactors")
    tap.is_(len(libs), 1, "the worker maps one libactors: %s" % libs)
    tap.is_(mapped(node.proc.pid, "libactors"), libs, "actorsd maps the same one")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
