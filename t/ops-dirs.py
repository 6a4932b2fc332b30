#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ops-dirs.py - the directories systemd gives a unit, and finding the node.

actorsd takes $STATE_DIRECTORY as its state_dir and
$RUNTIME_DIRECTORY/control.sock as its control socket when the app file
names neither; an app file that names them wins.  actorsctl finds the
node without -s through $RUNTIME_DIRECTORY, and says where it looked when
it finds nothing.
"""
import os
import subprocess
import tempfile

from actorsd_harness import ACTORSCTL, Tap, Node, group, actor

tap = Tap(timeout=60)


def ctl(args, env, cwd):
    r = subprocess.run([ACTORSCTL] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30, env=env, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


with tap:
    # ---- defaults from systemd's directories ----------------------------------------
    node = Node(tap, {"groups": [group("g", [actor("a", "pid")])]}, name="dirs")
    del node.app["state_dir"]
    state, run = node.path("state"), node.path("run")
    os.mkdir(run, 0o700)  # systemd creates RuntimeDirectory= before ExecStart=
    node.env["STATE_DIRECTORY"] = state
    node.env["RUNTIME_DIRECTORY"] = run + ":" + node.path("other")
    node.sock = os.path.join(run, "control.sock")
    node.state_dir = state
    node.start()
    tap.ok(os.path.exists(node.sock), "control socket at $RUNTIME_DIRECTORY/control.sock")
    tap.ok(os.path.isdir(state), "state_dir is $STATE_DIRECTORY (created)")
    tap.ok(not os.path.exists(node.path("actorsd.sock")),
           "no socket where the app file's directory default would be")
    rc, out, err = node.ctl("send", "a", "Pnig", "{}")
    tap.ok(os.listdir(state) != [], "the dead-letter store is in $STATE_DIRECTORY (%r)"
           % os.listdir(state))

    # actorsctl without -s, run as the unit would run it (ExecReload=, a shell).
    env = dict(os.environ, RUNTIME_DIRECTORY=run)
    env.pop("ACTORS_SOCKET", None)
    empty = tempfile.mkdtemp(prefix="actorsctl-")
    tap.cleanups.append(lambda: os.rmdir(empty))
    rc, out, err = ctl(["status"], env, empty)
    tap.ok(rc == 0 and "dirs" in out, "actorsctl finds the node through $RUNTIME_DIRECTORY "
           "(%d %r)" % (rc, err.strip()))

    # Nothing anywhere: exit 3, naming every place it looked.
    env = dict(os.environ)
    for k in ("RUNTIME_DIRECTORY", "ACTORS_SOCKET"):
        env.pop(k, None)
    rc, out, err = ctl(["status"], env, empty)
    tap.ok(rc == 3 and "looked at" in err and "./actorsd.sock" in err,
           "no socket found: exit 3, says where it looked (%d %r)" % (rc, err.strip()))
    rc, out, err = ctl(["-n", "nosuchnode", "status"], env, empty)
    tap.ok(rc == 3 and "/run/actors/nosuchnode/control.sock" in err,
           "-n NODE: looks in /run/actors/NODE (%d %r)" % (rc, err.strip()))
    env["RUNTIME_DIRECTORY"] = node.path("nowhere")
    rc, out, err = ctl(["status"], env, empty)
    tap.ok(rc == 3 and node.path("nowhere", "control.sock") in err,
           "the message names $RUNTIME_DIRECTORY/control.sock (%r)" % err.strip())
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")

    # ---- the app file's own keys win -----------------------------------------------
    node = Node(tap, {"groups": [group("g", [actor("a", "pid")])],
                      "control_socket": "ctl.sock"}, name="dirsapp")
    run2 = node.path("run")
    os.mkdir(run2, 0o700)
    node.env["STATE_DIRECTORY"] = node.path("sysstate")
    node.env["RUNTIME_DIRECTORY"] = run2
    node.start()
    tap.ok(os.path.exists(node.path("ctl.sock")) and
           not os.path.exists(os.path.join(run2, "control.sock")),
           "an app file's control_socket wins over $RUNTIME_DIRECTORY")
    tap.ok(os.path.isdir(node.path("st")) and not os.path.exists(node.path("sysstate")),
           "an app file's state_dir wins over $STATE_DIRECTORY")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
