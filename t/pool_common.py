# SPDX-License-Identifier: MIT
"""
t/pool_common.py - helpers shared by the t/pool-*.py tests: the pool test
module's path, groups using it, and the parser of its O_APPEND log.
"""
import os

from actorsd_harness import TOP_BUILDDIR

POOLMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "poolmod.so")


def pgroup(name, actors, **kw):
    """An app-file group using t/mod/poolmod.so."""
    g = {"name": name, "module": POOLMOD, "actors": actors}
    g.update(kw)
    return g


def read_log(path):
    """The complete lines of the log, split into words."""
    try:
        with open(path) as f:
            return [ln.split() for ln in f if ln.endswith("\n")]
    except FileNotFoundError:
        return []


def ends(path):
    """(member, pid, key, seq, redelivered) of every finished Job, in log order."""
    return [(int(w[1]), int(w[2]), w[3], int(w[4]), int(w[5]))
            for w in read_log(path) if w[0] == "E"]


def check_exclusive(lines):
    """
    Walks the log in order: a Job of a key may start only while no Job of
    that key is running in another member (one that started and neither
    ended nor died: a start by the same member after a death is the
    redelivery).  Returns a list of violations (empty when all is well).
    """
    running = {}
    bad = []
    for w in lines:
        if w[0] not in ("S", "E"):
            continue
        member, key = int(w[1]), w[3]
        if w[0] == "S":
            if key in running and running[key] != member:
                bad.append("key %s started in member %d while running in member %d"
                           % (key, member, running[key]))
            running[key] = member
        else:
            running.pop(key, None)
    return bad
