#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ops-sdnotify.py - what systemd sees of a node.

READY=1 only once every group is up, preceded and followed by STATUS=
lines that say how many groups are up and how many restarts there were;
WATCHDOG=1 pings when $WATCHDOG_USEC is set; a group that fails
permanently at start means no READY=1 and exit 100; SIGHUP reloads the
app file, which did not change: the node keeps running, its workers
untouched.
"""
import os
import signal
import re
import socket

from actorsd_harness import Tap, Node, group, actor, wait_for

tap = Tap(timeout=90)


def notify_socket(node):
    path = node.path("notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    tap.cleanups.append(s.close)
    node.env["NOTIFY_SOCKET"] = path
    return s


def recv_until(s, pred):
    """Every notification up to and including the first that pred accepts."""
    got = []
    while True:
        m = s.recv(4096).decode(errors="replace")
        got.append(m)
        if pred(m):
            return got


def log_text(node):
    with open(node.log_path, errors="replace") as f:
        return f.read()


with tap:
    # ---- READY=1 after STATUS=, every group up; WATCHDOG=1 ---------------------------
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 10, "period_ms": 5000,
                      "groups": [group(g, [actor("a_" + g, "pid")])
                                 for g in ("alpha", "beta", "gamma")]},
                name="sdn", env={"WATCHDOG_USEC": "400000"})
    ns = notify_socket(node)
    node.start(wait_ready=False)
    got = recv_until(ns, lambda m: m == "READY=1")
    status = [m for m in got if m.startswith("STATUS=")]
    tap.ok(len(status) >= 1 and "0/3 groups up" in status[0],
           "STATUS= before READY=1 says no group is up yet (%r)" % status[:1])
    tap.ok(status and status[-1].startswith("STATUS=3/3 groups up"),
           "the last STATUS= before READY=1 says 3/3 groups up (%r)" % status[-1:])
    st = node.status()
    tap.is_([g["state"] for g in st["groups"]], ["ready"] * 3,
            "every group was ready when READY=1 came")
    got = recv_until(ns, lambda m: m == "WATCHDOG=1")
    tap.ok(got[-1] == "WATCHDOG=1", "WATCHDOG=1 with WATCHDOG_USEC set")
    tap.ok("pinging every 200 ms" in log_text(node), "the watchdog ping is at half the period")

    # ---- a restart shows in STATUS= ---------------------------------------------------
    rc, out, err = node.ctl("send", "a_beta", "Crash", '{"how":"segv"}')
    tap.is_(rc, 0, "crash beta")
    # The Crash is redelivered after each restart and kills beta again until it
    # is quarantined (3 deaths), so the loop may see beta up for a moment only
    # between two restarts: wait for all groups up with at least one restart.
    got = recv_until(ns, lambda m: re.match(r"STATUS=3/3 groups up, [1-9]\d* restarts$", m))
    tap.ok(any("beta" in m for m in got if m.startswith("STATUS=")),
           "STATUS= named beta while it was down (%r)" % [m for m in got if "beta" in m][:1])

    # ---- SIGHUP: a reload; the app file did not change, so nothing restarts ----------
    # beta is stable once its Crash went to the dead letters: compare pids then.
    wait_for(lambda: "dead letter #1" in log_text(node), 20, "the Crash in the dead letters")
    pids = node.worker_pids(node.wait_ready())
    node.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP received" in log_text(node), 10, "the SIGHUP log line")
    wait_for(lambda: "reload done: 0 groups restarted" in log_text(node), 30,
             "the SIGHUP reload to finish")
    tap.ok(node.running(), "SIGHUP: actorsd still runs")
    st = node.status()
    tap.is_(st["state"], "running", "SIGHUP: the node still says running")
    tap.is_(node.worker_pids(st), pids, "SIGHUP: the workers are untouched")
    tap.is_(node.terminate(), 0, "then SIGTERM: exit 0")

    # ---- a group fails permanently at start: no READY=1, exit 100 ---------------------
    # The producer's init fails without its "to" argument: its worker exits 100.
    node = Node(tap, {"strategy": "one_for_one",
                      "groups": [group("good", [actor("a_good", "pid")]),
                                 group("bad", [actor("a_bad", "producer", {})]),
                                 group("late", [actor("a_late", "pid")])]},
                name="sdnfail")
    ns = notify_socket(node)
    node.start(wait_ready=False)
    tap.is_(node.wait_exit(30), 100, "a group failed at start: actorsd exits 100")
    ns.settimeout(0)
    msgs = []
    try:
        while True:
            msgs.append(ns.recv(4096).decode(errors="replace"))
    except BlockingIOError:
        pass
    tap.ok("READY=1" not in msgs, "a group failed at start: no READY=1 (%r)" % msgs)
    tap.ok("group 'bad' failed permanently at start" in log_text(node),
           "the log names the group that failed")
