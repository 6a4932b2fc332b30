#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/startup-faults.py - whatever goes wrong before the first worker runs is
reported at once, names the app file and the place, and is classified for
systemd: exit 100 (permanent, do not restart) for a configuration or a
module that can never work.

Each case runs `actorsd --check app.json` and plain `actorsd app.json`
(except where --check rightly has nothing to check) with a hard time
bound, and for the plain start checks that no process is left behind:
  - modules that crash (constructor or init), exit (0 or 3) or hang while
    loading (module_timeout_ms bounds the hang);
  - a module path and an app file that are FIFOs (never opened for a wait);
  - state_dir that is a file, a control_socket whose directory does not
    exist or that is a regular file (which must survive), an endpoint that
    cannot be bound, a dead-letter file that is a FIFO, a CURVE key file
    that is a FIFO, CURVE key files that are a FIFO, not Z85 or not one
    pair, and a behaviour whose state (1 TiB) no worker can hold.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from actorsd_harness import (Tap, ACTORSD, TOP_BUILDDIR, EXIT_PERMANENT, children,
                             leftovers_after, wait_for)

HOSTILE = os.environ.get("HOSTILE_SO") or os.path.join(TOP_BUILDDIR, "t", "mod", ".libs",
                                                       "hostile.so")
BOUND = 20   # seconds any single actorsd run may take

tap = Tap(timeout=240)


def app(**kw):
    a = {"node": "n", "state_dir": "st", "max_restarts": 3, "period_ms": 1000,
         "groups": [{"name": "g1", "module": HOSTILE,
                     "actors": [{"name": "a1", "behaviour": "calm"}]}]}
    a.update(kw)
    return a



def run(args, cwd, env=None):
    e = dict(os.environ)
    e.pop("ACTORS_TEST_HOSTILE", None)
    e.update(env or {})
    t0 = time.monotonic()
    try:
        r = subprocess.run([ACTORSD] + args, cwd=cwd, capture_output=True, text=True,
                           timeout=BOUND, stdin=subprocess.DEVNULL, env=e)
        return r.returncode, r.stderr.strip(), time.monotonic() - t0
    except subprocess.TimeoutExpired as ex:
        err = ex.stderr.decode() if isinstance(ex.stderr, bytes) else (ex.stderr or "")
        return None, "HUNG for %d s; stderr: %s" % (BOUND, err.strip()), BOUND


def check_case(label, d, want, env=None, modes=(["--check"], []), path="app.json"):
    """Runs each mode; exit 100, every string of want in stderr, nothing left."""
    for mode in modes:
        rc, msg, secs = run(mode + [path], d, env)
        what = "%s: actorsd %s" % (label, " ".join(mode + [path]))
        good = rc == EXIT_PERMANENT and all(w in msg for w in want)
        tap.ok(good, "%s -> exit %s in %.1f s, %r" % (what, rc, secs, msg[-300:]))
        if not good:
            tap.diag("expected exit 100 and %r" % (want,))
        if not mode:
            tap.is_(leftovers_after(5), [], "%s: plain actorsd left no process behind" % label)


def make_dir(tmp, label, content=None):
    d = os.path.join(tmp, label)
    os.mkdir(d)
    if content is not None:
        with open(os.path.join(d, "app.json"), "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=1))
    return d


with tap:
    tap.ok(os.path.exists(HOSTILE), "hostile test module built: %s" % HOSTILE)
    tmp = tempfile.mkdtemp(prefix="actorsd-startup-", dir="/tmp")
    tap.cleanups.append(lambda: tap.keep_dirs or shutil.rmtree(tmp, True))
    mod = "$.groups[0].module"

    # The module itself is fine when nothing is injected.
    d = make_dir(tmp, "calm", app())
    rc, msg, _ = run(["--check", "app.json"], d)
    tap.ok(rc == 0, "the hostile module passes --check when calm (exit %s, %r)" % (rc, msg))

    # ---- 11.5: a module that crashes or exits while it loads ----------------------
    for fault, want in (("ctor-segv", ["signal 11", "constructor"]),
                        ("init-segv", ["signal 11", "actors_module_init()"]),
                        ("init-exit0", ["exit(0)", "actors_module_init()"]),
                        ("init-exit3", ["exit(3)", "actors_module_init()"])):
        d = make_dir(tmp, fault, app())
        check_case("module " + fault, d, ["app.json", mod, "hostile.so"] + want,
                   env={"ACTORS_TEST_HOSTILE": fault})

    # ---- 11.4: waits at startup have deadlines -----------------------------------
    d = make_dir(tmp, "init-hang", app(module_timeout_ms=1000))
    check_case("module init-hang", d, ["app.json", mod, "hostile.so",
                                       "hung in actors_module_init()",
                                       "not done within 1000 ms"],
               env={"ACTORS_TEST_HOSTILE": "init-hang"})

    # The default deadline (10 s, documented in actorsd(8)) applies without
    # the key: one --check run is enough to see it.
    d = make_dir(tmp, "init-hang-default", app())
    check_case("module init-hang, default deadline", d,
               ["app.json", mod, "hostile.so", "hung in actors_module_init()",
                "not done within 10000 ms"],
               env={"ACTORS_TEST_HOSTILE": "init-hang"}, modes=(["--check"],))

    d = make_dir(tmp, "fifo-module")
    os.mkfifo(os.path.join(d, "mod.so"))
    with open(os.path.join(d, "app.json"), "w") as f:
        a = app()
        a["groups"][0]["module"] = "mod.so"
        json.dump(a, f)
    check_case("module path is a FIFO", d, ["app.json", mod, "mod.so", "FIFO"])

    d = make_dir(tmp, "fifo-app")
    os.mkfifo(os.path.join(d, "app.json"))
    check_case("app file is a FIFO", d, ["app.json", "FIFO"])

    # A stop signal while a module hangs in its init stops actorsd at once
    # (the default deadline is 10 s), and takes the zygote along.
    d = make_dir(tmp, "hang-sigterm", app())
    e = dict(os.environ, ACTORS_TEST_HOSTILE="init-hang")
    t0 = time.monotonic()
    p = subprocess.Popen([ACTORSD, "app.json"], cwd=d, env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The zygote exists: actorsd waits for the modules to load.
        wait_for(lambda: children(p.pid), 5, "actorsd to fork its zygote")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=BOUND)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    secs = time.monotonic() - t0
    tap.ok(rc in (0, -signal.SIGTERM) and secs < 8,
           "SIGTERM while a module init hangs: actorsd ends in %.1f s (rc %s, %r)"
           % (secs, rc, p.stderr.read().decode().strip()[-200:]))
    p.stderr.close()
    tap.is_(leftovers_after(5), [], "SIGTERM while a module init hangs: no process left behind")

    # ---- 11.6: configuration no restart can fix --------------------------------------
    d = make_dir(tmp, "state-file", app())
    open(os.path.join(d, "st"), "w").close()
    check_case("state_dir is a file", d, ["app.json", "$.state_dir", "not a directory"])

    d = make_dir(tmp, "ctl-nodir", app(control_socket="no/such/dir/ctl.sock"))
    check_case("control_socket directory missing", d, ["app.json", "$.control_socket",
                                                       "no/such/dir"])

    d = make_dir(tmp, "ctl-file", app(control_socket="ctl.sock"))
    with open(os.path.join(d, "ctl.sock"), "w") as f:
        f.write("precious\n")
    check_case("control_socket is a regular file", d, ["app.json", "$.control_socket",
                                                       "not a socket"])
    with open(os.path.join(d, "ctl.sock")) as f:
        tap.is_(f.read(), "precious\n", "control_socket: the regular file is untouched")

    d = make_dir(tmp, "endpoint", app(endpoint="tcp://999.1.1.1:1"))
    check_case("unusable endpoint", d, ["app.json", "$.endpoint", "999.1.1.1"])

    d = make_dir(tmp, "ipc-nodir", app(endpoint="ipc://" + tmp + "/no/such/dir/n.ipc"))
    check_case("ipc endpoint in a missing directory", d, ["app.json", "$.endpoint",
                                                          "no/such/dir"])

    d = make_dir(tmp, "dl-fifo", app())
    os.mkdir(os.path.join(d, "st"))
    os.mkfifo(os.path.join(d, "st", "dead-letters.jsonl"))
    check_case("dead-letter file is a FIFO", d, ["app.json", "$.state_dir", "FIFO"])

    d = make_dir(tmp, "key-fifo")
    os.mkfifo(os.path.join(d, "server.key"))
    with open(os.path.join(d, "server.pub"), "w") as f:
        f.write("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n")
    with open(os.path.join(d, "app.json"), "w") as f:
        json.dump(app(endpoint="tcp://127.0.0.1:*",
                      curve={"secret_key_file": "server.key",
                             "public_key_file": "server.pub"}), f)
    check_case("CURVE key file is a FIFO", d, ["app.json", "$.curve.secret_key_file",
                                               "not a regular file"])

    # CURVE key files that can never work: a key pair that does not match
    # (every handshake would fail, silently) and a key that is not Z85.
    # Keys from the zmq_curve(7) example.
    server_pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    server_sec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
    client_pub = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

    def curve_dir(label, sec, pub):
        d = make_dir(tmp, label.replace(" ", "-"))
        for name, key in (("server.key", sec), ("server.pub", pub)):
            with open(os.path.join(d, name), "w") as f:
                f.write(key + "\n")
            os.chmod(os.path.join(d, name), 0o600)  # a secret key must be private
        with open(os.path.join(d, "app.json"), "w") as f:
            json.dump(app(endpoint="tcp://127.0.0.1:*",
                          curve={"secret_key_file": "server.key",
                                 "public_key_file": "server.pub"}), f)
        return d

    check_case("CURVE keys of two pairs", curve_dir("two-pairs", server_sec, client_pub),
               ["app.json", "$.curve.public_key_file", "not the public key"])
    check_case("CURVE key not Z85", curve_dir("not-z85", "~" * 40, server_pub),
               ["app.json", "$.curve.secret_key_file", "not a Z85 key"])
    rc, msg, _ = run(["--check", "app.json"], curve_dir("curve-good", server_sec, server_pub))
    tap.ok(rc == 0, "a matching CURVE key pair passes --check (exit %s, %r)" % (rc, msg))

    a = app()
    a["groups"][0]["actors"][0]["behaviour"] = "huge"
    d = make_dir(tmp, "huge-state", a)
    check_case("behaviour with a 1 TiB state", d,
               ["app.json", "$.groups[0].actors[0].behaviour", "huge", "1099511627776"])
    tap.ok(not os.path.exists(os.path.join(d, "st", "dead-letters.jsonl")),
           "1 TiB state: refused before the node opened its state")
