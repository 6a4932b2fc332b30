#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervisor-kill-upgrade.py - actorsd re-executes itself during a stream
(actorsctl upgrade, SIGUSR2), losing nothing (issue 10).

The producer -> relay -> consumer stream of t/supervisor-kill-mod.c runs
UP_COUNT (default 300,000) envelopes while actorsd is upgraded UPGRADES (4)
times, alternately by `actorsctl upgrade` and by SIGUSR2.  Each time: the
pid stays (execve), a status request sent right behind the upgrade is
answered on the same control socket path (the listening socket crosses
exec, so a client connecting meanwhile waits in its queue), status says
recovered with the next epoch, the old workers were replaced, and a
remote peer's Ping to the node's fixed ZeroMQ endpoint gets its Pong
from the new process.  At the end: 0 lost, duplicates only where flagged,
per-sender order kept.
"""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import free_port, Tap, Node, actor, wait_for, TESTMOD  # noqa: E402
from sk_stream import Log, stream_groups, check_log, group, SENDERS  # noqa: E402
from zmq_peer import Peer, need_zmq  # noqa: E402

need_zmq()
COUNT = int(os.environ.get("UP_COUNT", "300000"))
UPGRADES = int(os.environ.get("UPGRADES", "4"))



def ping(peer, ep, count):
    """A Ping to the node's endpoint until a Pong{count} comes back."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        peer.send(ep, "echo", "Ping", {"count": count})
        env = peer.recv(2)
        while env is not None:
            if env.get("message_type") == "Pong" and env["message"].get("count") == count:
                return True
            env = peer.recv(0.2)
    return False


tap = Tap(timeout=120)
with tap:
    ep = "tcp://127.0.0.1:%d" % free_port()
    node = Node(tap, {"endpoint": ep, "max_restarts": 100, "period_ms": 1000}, name="skup")
    node.app["groups"] = stream_groups(node, COUNT) + [
        {"name": "echo", "module": TESTMOD, "actors": [actor("echo", "echo", remote=True)]}]
    per = COUNT // len(SENDERS)
    lg = Log(node.path("consumer.log"))
    peer = Peer("tester")

    st = node.start(timeout=30)
    pid = node.proc.pid
    tap.ok(ping(peer, ep, 1), "a remote Ping is answered before any upgrade")
    ok_pid = ok_status = ok_epoch = ok_workers = ok_ping = 0
    for k in range(UPGRADES):
        target = (k + 1) * COUNT // (UPGRADES + 2)
        wait_for(lambda: lg.read() >= target, 60, "the consumer to log %d seqs" % target)
        old = set(node.worker_pids())
        if k % 2 == 0:
            rc, out, err = node.ctl("upgrade")
            if rc:
                tap.diag("actorsctl upgrade: %d %s %s" % (rc, out, err))
        else:
            os.kill(pid, signal.SIGUSR2)
        # Right behind the upgrade: answered, by the old process or the new.
        try:
            ok_status += bool(node.request({"cmd": "status"}, timeout=20).get("ok"))
        except OSError as e:
            tap.diag("status right after upgrade %d: %r" % (k + 1, e))
        st = wait_for(lambda: (lambda s: s if s.get("epoch") == k + 2 else None)(node.status()),
                      20, "the upgraded node (epoch %d)" % (k + 2))
        ok_epoch += bool(st.get("recovered"))
        ok_pid += node.proc.pid == pid and node.proc.poll() is None
        st = node.wait_ready(30)
        ok_workers += not (set(node.worker_pids(st)) & old)
        ok_ping += ping(peer, ep, 100 + k)
    tap.is_(ok_pid, UPGRADES, "%d upgrades: actorsd kept its pid (execve)" % UPGRADES)
    tap.is_(ok_status, UPGRADES, "the control socket answered right behind every upgrade")
    tap.is_(ok_epoch, UPGRADES, "each new process adopted the region (recovered, next epoch)")
    tap.is_(ok_workers, UPGRADES, "each time the old workers were replaced")
    tap.is_(ok_ping, UPGRADES, "the ZeroMQ endpoint answered after every upgrade")

    wait_for(lambda: lg.read() >= per * len(SENDERS), 90, "the whole stream in the log")
    lg.read()
    tap.diag("%d lines, %d duplicates, %d flagged" % (lg.lines, lg.dups, lg.flagged))
    check_log(tap, "%d upgrades" % UPGRADES, lg, per)
    peer.close()
    tap.is_(node.terminate(), 0, "clean stop after the upgrades")
    tap.ok(not os.path.exists(node.path("run", "region")), "and the region is removed")
