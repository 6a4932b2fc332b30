#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/peer-watch-end.py - a monitor of a remote actor (a watch on its peer,
kept by actorsd) ends with its watcher, without a Down:

 a. the asker monitors pong@P (P: a Python peer of the family): one watch;
 b. it monitors again and its worker aborts right after (the watch record
    is in the ring, maybe unread, when the worker dies): the restarted
    worker's asker monitors once more (the envelope comes again), and
    only that watch is left; the two of the dead worker are dropped;
 c. it monitors again and stops itself: its watches are dropped;
 d. P goes away for longer than peer_down_ms: no Down reaches anyone (a
    stopped asker's Downs would be dead letters), none is counted;
 e. a second asker monitors the gone P and demonitors in the same handler:
    actorsd sends the Down at once (it reads the watch first), and the
    worker drops it: the monitor was removed before it arrived;
 f. act_demonitor() of a monitor that is no longer there: -ENOENT.
Before this was fixed the watches of dead watchers stayed in actorsd's
table (4096 at most) until their peer went down, then fired into the
new worker or the dead letters.
"""
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for, TOP_BUILDDIR  # noqa: E402
from zmq_peer import Peer, need_zmq, send_frame  # noqa: E402
import errno  # noqa: E402
import json  # noqa: E402

ASKMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "askmod.so")
zmq = need_zmq(ASKMOD)
DOWN_MS = 300

tap = Tap(timeout=90)
with tap:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ep_a = "tcp://127.0.0.1:%d" % port
    boss = Peer("boss")
    tap.cleanups.append(boss.close)
    p = Peer("pong")
    tap.cleanups.append(p.close)

    a = Node(tap, {}, name="pwe")
    a.app.update({"endpoint": ep_a,
                  "peers": {"P": {"endpoint": p.me, "peer_down_ms": DOWN_MS}},
                  "groups": [{"name": "ask", "module": ASKMOD,
                              "actors": [actor("asker", "asker", remote=True),
                                         actor("asker2", "asker", remote=True)]}]})
    a.start()
    to_a = boss.push(ep_a)

    def watch(tag, count=0, who="asker"):
        send_frame(to_a, json.dumps({
            "sender_actor": "boss", "sender_endpoint": boss.me, "receiver": who,
            "message_type": "WatchTo",
            "message": {"tag": tag, "to": "pong", "endpoint": p.me, "count": count,
                        "timeout_ms": 1000}}).encode())

    def result(tag, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = boss.recv(max(0.02, deadline - time.monotonic()))
            if e and e.get("message_type") == "Result" and e["message"]["tag"] == tag:
                return e["message"]
        return None

    def gw():
        return a.status()["gateway"]

    # a. one watch
    watch(1)
    r = result(1)
    tap.is_(r and (r["status"], r["type"]), (0, "Monitor"), "the asker monitors pong@P")
    g = gw()
    tap.is_((g["peer_watches"], g.get("peer_watches_dropped")), (1, 0), "one watch, none dropped")

    # b. monitor, then the worker dies; the envelope comes again
    pid0 = a.group("ask")["pid"]
    watch(2, -2)
    r = result(2)
    tap.is_(r and (r["status"], r["type"]), (0, "Monitor"),
            "after the abort, the new worker's asker monitored again")
    tap.ok(a.group("ask")["pid"] != pid0, "... in a new worker")
    g = gw()
    tap.is_((g["peer_watches"], g.get("peer_watches_dropped")), (1, 2),
            "only the new worker's watch is left; the dead worker's two were dropped")

    # c. monitor, then the asker stops
    watch(3, -3)
    r = result(3)
    tap.is_(r and (r["status"], r["type"]), (0, "Monitor"), "the asker monitored and stops")
    wait_for(lambda: gw()["peer_watches"] == 0, 10, "the stopped asker's watches to go")
    g = gw()
    tap.is_((g["peer_watches"], g.get("peer_watches_dropped")), (0, 4),
            "a stopped watcher's watches are dropped (both of them)")

    # d. P goes away: nobody is owed a Down
    dl0 = a.status()["dead_letters"]
    p.close()
    tap.is_(result(-1, DOWN_MS / 1000.0 * 4), None, "no Down once P is gone")
    g = gw()
    tap.is_(g["peer_downs"], 0, "peer_downs 0")
    tap.is_(a.status()["dead_letters"], dl0, "no dead letter")

    # e. a Down that crosses act_demonitor()
    watch(5, -4, who="asker2")
    r = result(5)
    tap.is_(r and (r["status"], r["type"]), (0, "Demonitor"),
            "asker2 monitored the gone P and demonitored at once")
    wait_for(lambda: gw()["peer_downs"] == 1, 10, "actorsd to send that watch's Down")
    tap.is_(result(-1, 1.0), None, "the Down that crossed act_demonitor() is not delivered")
    tap.is_(a.status()["dead_letters"], dl0, "... nor made a dead letter")

    # f. demonitor again
    watch(6, -1, who="asker2")
    r = result(6)
    tap.is_(r and (r["status"], r["type"]), (-errno.ENOENT, "Demonitor"),
            "act_demonitor() of a removed remote monitor: -ENOENT")
    tap.ok(a.running(), "actorsd runs")
