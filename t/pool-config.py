#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-config.py - bad pool settings in an app file are refused by
`actorsd --check` (and plain actorsd) with exit 100 and a message naming
the place; good ones pass.
"""
import json
import os
import shutil
import subprocess
import tempfile

from actorsd_harness import Tap, ACTORSD, EXIT_PERMANENT
from pool_common import POOLMOD

tap = Tap(timeout=120)


def app(groups):
    return {"node": "n", "state_dir": "st", "groups": groups}


def grp(name="w", **kw):
    g = {"name": name, "module": POOLMOD, "actors": [{"name": name + "a", "behaviour": "echo"}]}
    g.update(kw)
    return g


CASES = [
    ("pool 0", app([grp(pool=0)]), ["$.groups[0].pool", "1..64", "got 0"]),
    ("pool over the limit", app([grp(pool=65)]), ["$.groups[0].pool", "1..64", "got 65"]),
    ("pool not an integer", app([grp(pool="3")]), ["$.groups[0].pool"]),
    ("unknown routing", app([grp(pool=2, routing="random")]),
     ["$.groups[0].routing", "round_robin", "least_loaded", "key_hash"]),
    ("key_hash without key", app([grp(pool=2, routing="key_hash")]),
     ["$.groups[0].routing", "key_hash", "needs \"key\""]),
    ("key without key_hash", app([grp(pool=2, key="id")]),
     ["$.groups[0].key", "only used with routing \"key_hash\""]),
    ("routing without pool", app([grp(routing="least_loaded")]),
     ["$.groups[0].routing", "add \"pool\""]),
    # Members are named NAME#k, and no app-file name may hold a '#'.
    ("member name taken", app([grp("w", pool=2), grp("w#1")]),
     ["$.groups[1].name", "bad character '#'"]),
    ("too many groups with pools", app([grp("g%d" % i, pool=64) for i in range(4)]),
     ["$.groups", "256", "at most 255"]),
    ("name too long for a pool", app([grp("x" * 62, pool=2)]),
     ["$.groups[0].name", "too long for a pool"]),
]


def run(args, cwd):
    return subprocess.run([ACTORSD] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


with tap:
    tmp = tempfile.mkdtemp(prefix="actorsd-poolcfg-")
    tap.cleanups.append(lambda: tap.keep_dirs or shutil.rmtree(tmp, True))
    for label, content, want in CASES:
        d = os.path.join(tmp, label.replace(" ", "-"))
        os.mkdir(d)
        with open(os.path.join(d, "app.json"), "w") as f:
            json.dump(content, f)
        for mode in (["--check"], []):
            r = run(mode + ["app.json"], d)
            msg = r.stderr.strip()
            good = r.returncode == EXIT_PERMANENT and all(w in msg for w in want)
            tap.ok(good, "%s: actorsd %s -> exit %d, %r" % (label, " ".join(mode),
                                                          r.returncode, msg[:240]))
            if not good:
                tap.diag("expected exit 100 and %r" % (want,))

    d = os.path.join(tmp, "good")
    os.mkdir(d)
    with open(os.path.join(d, "app.json"), "w") as f:
        json.dump(app([grp("a", pool=64), grp("b", pool=3, routing="key_hash", key="key"),
                       grp("c", pool=1, routing="least_loaded"), grp("d")]), f)
    r = run(["--check", "app.json"], d)
    tap.ok(r.returncode == 0 and "OK" in r.stdout,
           "good pools: --check exits 0 (%r)" % (r.stdout.strip() + r.stderr.strip()))
