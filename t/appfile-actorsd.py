#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/appfile-actorsd.py - bad app files are refused by actorsd itself.

Each bad file goes through `actorsd --check FILE` and plain `actorsd FILE`:
both must exit 100 (ACT_EXIT_PERMANENT) with one message that names the
file and the place (line:col for JSON syntax, a JSON path otherwise), and
plain actorsd must leave no process behind.  A good file passes --check.
"""
import json
import os
import shutil
import subprocess
import tempfile

from actorsd_harness import Tap, ACTORSD, TESTMOD, EXIT_PERMANENT, leftovers_after

tap = Tap(timeout=100)


def find_plain_library():
    """A shared library that surely has no actors_module_init()."""
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
              "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib"):
        for name in ("libm.so.6", "libdl.so.2", "librt.so.1", "libutil.so.1"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                return p
    return None


def app(**kw):
    """A good app file as a dict; keyword arguments replace top-level keys."""
    a = {"node": "n", "state_dir": "st", "strategy": "one_for_one",
         "max_restarts": 3, "period_ms": 1000,
         "groups": [
             {"name": "g1", "module": TESTMOD, "ring_bytes": 262144,
              "heartbeat_ms": 100, "heartbeat_timeout_ms": 1000,
              "actors": [{"name": "e1", "behaviour": "echo"},
                         {"name": "p1", "behaviour": "pid"}]},
             {"name": "g2", "module": TESTMOD,
              "actors": [{"name": "e2", "behaviour": "echo", "args": {"x": [1, 2]}}]},
         ]}
    a.update(kw)
    return a


def with_group(i, **kw):
    a = app()
    a["groups"][i].update(kw)
    return a


def with_actor(g, i, **kw):
    a = app()
    a["groups"][g]["actors"][i].update(kw)
    return a


libm = find_plain_library()

# (label, file content (str) or dict, expected message substrings)
CASES = [
    ("syntax error", '{\n  "node": "n",,\n  "groups": []\n}\n',
     ["app.json:2:15:", "syntax error"]),
    ("trailing comma", '{"node": "n",\n "groups": [],\n}\n', ["app.json:2:14:", "comma"]),
    ("unknown top-level key", app(colour="blue"), ["app.json: $:", "unknown key 'colour'"]),
    ("unknown group key", with_group(1, size=3), ["app.json: $.groups[1]:", "unknown key 'size'"]),
    ("wrong type", app(max_restarts="3"), ["app.json: $.max_restarts"]),
    ("integer with a fraction", app(period_ms=1000.5), ["app.json: $.period_ms"]),
    ("missing node", {k: v for k, v in app().items() if k != "node"}, ["app.json: $:", "missing required key 'node'"]),
    ("missing module file", with_group(0, module="no/such/module.so"),
     ["app.json: $.groups[0].module", "module.so"]),
    ("module without actors_module_init", with_group(1, module=libm),
     ["app.json: $.groups[1].module", "actors_module_init"]),
    ("unknown behaviour", with_actor(1, 0, behaviour="nope"),
     ["app.json: $.groups[1].actors[0].behaviour", "nope"]),
    ("duplicate actor name", with_actor(1, 0, name="e1"),
     ["app.json: $.groups[1].actors[0].name", "e1"]),
    ("duplicate group name", with_group(1, name="g1"), ["app.json: $.groups[1].name"]),
    ("ring_bytes not a power of two", with_group(0, ring_bytes=100000),
     ["app.json: $.groups[0].ring_bytes"]),
    ("max_msg_bytes too big", with_group(0, max_msg_bytes=131072),
     ["app.json: $.groups[0].max_msg_bytes"]),
    ("bad strategy", app(strategy="one_for_some"), ["app.json: $.strategy"]),
    ("bad restart type", with_group(0, restart="sometimes"), ["app.json: $.groups[0].restart"]),
    ("empty groups", app(groups=[]), ["app.json: $.groups"]),
    ("group without actors", with_group(1, actors=[]), ["app.json: $.groups[1].actors"]),
    ("heartbeat_timeout <= heartbeat", with_group(0, heartbeat_timeout_ms=100),
     ["app.json: $.groups[0].heartbeat_timeout_ms"]),
    ("duplicate key", '{"node": "n", "node": "m", "groups": []}',
     ["app.json: $", "duplicate key 'node'"]),
]



def run(args, cwd):
    return subprocess.run([ACTORSD] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


with tap:
    tap.ok(libm is not None, "found a plain shared library: %s" % libm)
    tmp = tempfile.mkdtemp(prefix="actorsd-appfile-")
    tap.cleanups.append(lambda: tap.keep_dirs or shutil.rmtree(tmp, True))
    for label, content, want in CASES:
        d = os.path.join(tmp, label.replace(" ", "-").replace("<=", "le"))
        os.mkdir(d)
        path = os.path.join(d, "app.json")
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=1))
        for mode in (["--check"], []):
            r = run(mode + ["app.json"], d)
            what = "%s: actorsd %s" % (label, " ".join(mode + ["app.json"]))
            msg = r.stderr.strip()
            good = r.returncode == EXIT_PERMANENT and all(w in msg for w in want)
            tap.ok(good, "%s -> exit %d, %r" % (what, r.returncode, msg[:200]))
            if not good:
                tap.diag("expected exit 100 and %r" % (want,))
            if not mode:
                tap.is_(leftovers_after(5), [], "%s: plain actorsd left no process behind" % label)
        tap.ok(not os.path.exists(os.path.join(d, "st", "actorsd.sock")),
               "%s: no control socket left" % label)

    # A missing file is refused the same way.
    r = run(["--check", "absent.json"], tmp)
    tap.ok(r.returncode == EXIT_PERMANENT and "absent.json" in r.stderr,
           "missing app file -> exit 100 naming it (%r)" % r.stderr.strip())

    # The good file passes.
    d = os.path.join(tmp, "good")
    os.mkdir(d)
    with open(os.path.join(d, "app.json"), "w") as f:
        json.dump(app(), f)
    r = run(["--check", "app.json"], d)
    tap.ok(r.returncode == 0 and "OK (2 groups, 3 actors)" in r.stdout,
           "good file: --check exits 0 (%r)" % (r.stdout.strip() + r.stderr.strip()))
    tap.ok(not os.path.exists(os.path.join(d, "st")), "--check touched no state directory")
