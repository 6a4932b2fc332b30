#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/control-path.py - what actorsd does with the path of its control socket.

control_socket naming a regular file: actorsd refuses to start (exit 100,
naming the app file and the path) and the file is left alone.  A stale
socket file (nobody listens) is replaced.  A second actorsd on the app
file of a running node refuses at once (exit 100), and so it does when the
first node is frozen (SIGSTOP) with its listen backlog full, where a
blocking connect would hang, or has an endpoint (whose port is busy then:
before, that start exited 111, a temporary failure).  A node leaves a socket file that is no
longer its own in place when it stops.
"""
import errno
import json
import os
import signal
import socket
import subprocess
import time

from actorsd_harness import free_port, ACTORSD, Tap, Node, group, actor, wait_for, Timeout

tap = Tap(timeout=120)


def app(**kw):
    a = {"groups": [group("g", [actor("e", "echo")])]}
    a.update(kw)
    return a


def run_actorsd(node, timeout=10):
    """Runs a second actorsd on node's app file; (exit code or None if it hung, output)."""
    p = subprocess.Popen([ACTORSD, node.app_path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=node.dir,
                         env=node.env, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return None, out.decode(errors="replace")


def fill_backlog(path, limit=200):
    """Connects to path until the listener's backlog is full; returns the sockets."""
    socks = []
    for _ in range(limit):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
        except BlockingIOError:
            s.close()
            return socks, True
        socks.append(s)
    return socks, False


with tap:
    # ---- a regular file at the path ---------------------------------------------------
    node = Node(tap, app(control_socket="precious.txt"), name="path-file")
    with open(node.sock, "w") as f:
        f.write("precious\n")
    t0 = time.monotonic()
    node.start(wait_ready=False)
    try:
        rc = node.wait_exit(10)
    except Timeout:
        rc = None
    took = time.monotonic() - t0
    tap.is_(rc, 100, "control_socket is a regular file: exit 100 (permanent)")
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    tap.ok(node.app_path in log and node.sock in log and "not a socket" in log,
           "the message names the app file and the path: %r" % log.strip()[-300:])
    try:
        with open(node.sock) as f:
            kept = f.read()
    except OSError as e:
        kept = repr(e)
    tap.is_(kept, "precious\n", "the regular file is left alone")
    tap.ok(took < 5, "refused in %.2f s" % took)

    # ---- a stale socket file is replaced ----------------------------------------------
    node = Node(tap, app(control_socket="ctl.sock"), name="path-stale")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(node.sock)
    s.close()  # the file stays, nobody listens
    node.start()
    tap.ok(node.status().get("ok"), "a stale socket file is replaced and served")

    # ---- a second actorsd while the first runs ---------------------------------------
    t0 = time.monotonic()
    rc, out = run_actorsd(node)
    tap.is_(rc, 100, "a second actorsd on a running node's app file: exit 100")
    tap.ok(node.app_path in out and "in use" in out,
           "it says the socket is in use, naming the app file: %r" % out.strip()[-300:])
    tap.ok(node.status().get("ok"), "the first node still answers")

    # ---- ... and while the first is frozen with a full backlog -------------------------
    os.kill(node.proc.pid, signal.SIGSTOP)
    try:
        socks, full = fill_backlog(node.sock)
        tap.ok(full, "the frozen node's backlog is full after %d connections" % len(socks))
        t0 = time.monotonic()
        rc, out = run_actorsd(node, timeout=10)
        took = time.monotonic() - t0
        tap.is_(rc, 100, "a second actorsd vs a frozen node: exit 100 (not a hang)")
        tap.ok(node.app_path in out and "in use" in out,
               "it says the socket is in use: %r" % out.strip()[-300:])
        tap.ok(took < 5, "refused in %.2f s" % took)
        for s in socks:
            s.close()
    finally:
        os.kill(node.proc.pid, signal.SIGCONT)
    tap.ok(wait_for(lambda: node.status().get("ok"), 10, "the thawed node"),
           "the first node answers again after SIGCONT")
    tap.ok(os.path.exists(node.sock), "its socket file is still there")

    # ---- ... and so with an endpoint: the port is busy too, but the node is live -------
    node_ep = Node(tap, app(endpoint="tcp://127.0.0.1:%d" % free_port()), name="path-ep")
    node_ep.start()
    os.kill(node_ep.proc.pid, signal.SIGSTOP)
    try:
        rc, out = run_actorsd(node_ep, timeout=10)
    finally:
        os.kill(node_ep.proc.pid, signal.SIGCONT)
    tap.is_(rc, 100, "a second actorsd vs a frozen node with an endpoint: exit 100, not the "
            "busy port's 111 (%r)" % out.strip()[-200:])
    tap.ok("in use" in out, "it says the control socket is in use")
    # The same node with another control socket: its region is the live one's.
    other = dict(node_ep.app, control_socket="other.sock")
    other_path = node_ep.path("other.json")
    with open(other_path, "w") as f:
        json.dump(other, f)
    os.kill(node_ep.proc.pid, signal.SIGSTOP)
    try:
        p = subprocess.run([ACTORSD, other_path], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, cwd=node_ep.dir, env=node_ep.env, timeout=10)
    finally:
        os.kill(node_ep.proc.pid, signal.SIGCONT)
    tap.ok(p.returncode == 100 and "belongs to a running actorsd" in p.stderr,
           "with another control socket, the live node's region refuses it: exit 100, not the "
           "busy port's 111 (%d %r)" % (p.returncode, p.stderr.strip()[-200:]))
    tap.is_(node_ep.terminate(), 0, "that node stops cleanly")

    # ---- a node only removes its own socket file -------------------------------------
    os.unlink(node.sock)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(node.sock)
    other.listen(1)
    tap.is_(node.terminate(), 0, "the node stops cleanly")
    tap.ok(os.path.exists(node.sock),
           "a socket file bound by someone else since is not removed at exit")
    other.close()
