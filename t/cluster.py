#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/cluster.py - three nodes on one machine (issue 13, "a cluster that is
tested"): C nodes A and B under actorsd, CURVE between them both ways, and
P, a Python peer of the family written with pyzmq (a CURVE client of the
C nodes' endpoints, as any family member given their public keys).

 a. actors ask across nodes: A asks ponger@B (CURVE) and P's pong; P
    asks B's ponger;
 b. A monitors ponger@B and pong@P: no Down while both are up;
 c. B is SIGKILLed with its workers: A's monitor of ponger@B fires
    Down{ponger, "peer unreachable"} from ponger (within peer_down_ms
    500 and the loop's 50 ms), A's asks to B time out cleanly, A and P
    keep working (asks to P still complete, P's monitor stays quiet);
 d. a new monitor of ponger@B while B is down gets Down at once;
 e. B restarts on the same endpoint: A's asks to it complete again, a new
    monitor stays quiet, act_demonitor() of it succeeds;
 f. status: A shows B as a CURVE peer, up again, with sends counted.
"""
import errno
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import (free_port, Tap, Node, actor, wait_for, children, wait_gone,  # noqa: E402
                             TOP_BUILDDIR, ACTORSCTL)
from zmq_peer import Peer, need_zmq, send_frame  # noqa: E402

ASKMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "askmod.so")
zmq = need_zmq(ASKMOD)
if not zmq.has("curve"):
    print("1..0 # SKIP libzmq without CURVE", flush=True)
    sys.exit(0)

ETIMEDOUT = -errno.ETIMEDOUT
DOWN_MS = 500



def keygen(d):
    subprocess.run([ACTORSCTL, "keygen", d], check=True, capture_output=True, timeout=30)
    with open(os.path.join(d, "curve.public")) as f:
        return f.read().strip()


tap = Tap(timeout=150)
with tap:
    t0 = time.monotonic()
    pa, pb = free_port(), free_port()
    ep_a, ep_b = "tcp://127.0.0.1:%d" % pa, "tcp://127.0.0.1:%d" % pb
    boss = Peer("boss")       # drives A's asker, reads its Results
    tap.cleanups.append(boss.close)
    p = Peer("pong")          # the Python node P: answers Ping, asks B
    tap.cleanups.append(p.close)

    a = Node(tap, {}, name="clA")
    b = Node(tap, {}, name="clB")
    a_pub, b_pub = keygen(a.dir), keygen(b.dir)
    keys = {"secret_key_file": "curve.secret", "public_key_file": "curve.public"}
    a.app.update({"endpoint": ep_a, "curve": keys,
                  "peers": {"B": {"endpoint": ep_b, "server_key": b_pub, "peer_down_ms": DOWN_MS},
                            "P": {"endpoint": p.me, "peer_down_ms": DOWN_MS}},
                  "groups": [{"name": "ask", "module": ASKMOD,
                              "actors": [actor("asker", "asker", remote=True)]}]})
    b.app.update({"endpoint": ep_b, "curve": keys,
                  "peers": {"A": {"endpoint": ep_a,
                                  "server_key_file": os.path.join(a.dir, "curve.public")}},
                  "groups": [{"name": "pong", "module": ASKMOD,
                              "actors": [actor("ponger", "ponger", remote=True)]}]})
    a.start()
    b.start()

    # Family members reach a CURVE node as CURVE clients.
    cpub, csec = zmq.curve_keypair()

    def curve_push(server_pub, ep):
        s = boss.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_secretkey, s.curve_publickey = csec, cpub
        s.curve_serverkey = server_pub.encode()
        s.connect(ep)
        tap.cleanups.append(s.close)
        return s

    boss_to_a = curve_push(a_pub, ep_a)
    p_to_a = curve_push(a_pub, ep_a)
    p_to_b = curve_push(b_pub, ep_b)

    def frame(sender, sender_ep, receiver, mtype, msg):
        return json.dumps({"sender_actor": sender, "sender_endpoint": sender_ep,
                           "receiver": receiver, "message_type": mtype,
                           "message": msg}).encode()

    def command(mtype, tag, to, ep, count=0, timeout_ms=5000):
        send_frame(boss_to_a, frame("boss", boss.me, "asker", mtype,
                                    {"tag": tag, "to": to, "endpoint": ep, "count": count,
                                     "timeout_ms": timeout_ms}))

    pending = []

    def result(tag, timeout=15):
        """The Result with this tag (Downs have tag -1); others are kept."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(pending):
                if m["tag"] == tag:
                    return pending.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            e = boss.recv(max(0.02, left))
            if e and e.get("message_type") == "Result":
                pending.append(e["message"])

    def serve_p(quiet=0.05):
        """P answers every Ping it holds (as the family does)."""
        n = 0
        while True:
            e = p.recv(quiet)
            if e is None:
                return n
            if e["message_type"] == "Ping":
                send_frame(p_to_a, frame("pong", p.me, e["sender_actor"], "Pong", e["message"]))
                n += 1
            elif e["message_type"] == "Pong":
                pending.append({"tag": "p", "count": e["message"]["count"],
                                "from": e["sender_actor"]})

    def ask_b(tag, count, timeout_ms=3000):
        command("AskTo", tag, "ponger", "@B", count, timeout_ms)
        return result(tag)

    def ask_p(tag, count):
        command("AskTo", tag, "pong", p.me, count)
        serve_p(2)
        return result(tag)

    # a. asks across nodes
    r = ask_b(1, 11)
    tap.is_(r and (r["status"], r["count"]), (0, 11), "A asked ponger@B over CURVE: Pong 11")
    r = ask_p(2, 22)
    tap.is_(r and (r["status"], r["count"]), (0, 22), "A asked the Python node's pong: Pong 22")
    send_frame(p_to_b, frame("pyasker", p.me, "ponger", "Ping", {"count": 33}))
    e = p.recv(10)
    tap.ok(e and e["message_type"] == "Pong" and e["message"] == {"count": 33} and
           e["receiver"] == "pyasker", "the Python node asked B's ponger: Pong 33")

    # b. monitors, quiet while everyone is up
    command("WatchTo", 3, "ponger", ep_b)
    r = result(3)
    tap.is_(r and (r["status"], r["type"]), (0, "Monitor"), "A monitors ponger@B")
    command("WatchTo", 4, "pong", p.me)
    r = result(4)
    tap.is_(r and (r["status"], r["type"]), (0, "Monitor"), "A monitors pong@P")
    tap.is_(result(-1, 1.0), None, "no Down while B and P are up")

    # c. B dies hard
    pids = set(children(b.proc.pid)) | set(b.worker_pids())
    t_kill = time.monotonic()
    b.proc.kill()
    b.proc.wait()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    wait_gone(list(pids), 10)
    r = result(-1, 10)
    took = time.monotonic() - t_kill
    tap.is_(r and r["reason"], "ponger|peer unreachable|ponger",
            "Down{ponger, peer unreachable} from ponger after B was killed")
    tap.ok(r and took >= DOWN_MS / 1000.0 * 0.9,
           "... not before peer_down_ms (%.2f s after the kill)" % took)
    r = ask_b(5, 55, timeout_ms=400)
    tap.is_(r and r["status"], ETIMEDOUT, "an ask of ponger@B while B is down times out")
    r = ask_p(6, 66)
    tap.is_(r and (r["status"], r["count"]), (0, 66), "A and P keep working: Pong 66")
    tap.is_(result(-1, 0.3), None, "P's monitor stays quiet")

    # d. monitoring a peer that is gone: Down at once
    t1 = time.monotonic()
    command("WatchTo", 7, "ponger", ep_b)
    r = result(7)
    tap.is_(r and r["status"], 0, "a new monitor of ponger@B is accepted")
    r = result(-1, 5)
    tap.ok(r and r["reason"] == "ponger|peer unreachable|ponger" and
           time.monotonic() - t1 < DOWN_MS / 1000.0,
           "... and gets Down at once (%.2f s)" % (time.monotonic() - t1))

    # e. B comes back on the same endpoint
    b.start()
    ok = None
    for i in range(40):
        r = ask_b(100 + i, 100 + i, timeout_ms=500)
        if r and r["status"] == 0:
            ok = r
            break
    tap.ok(ok is not None, "after B restarted, A's asks to ponger@B complete again")
    command("WatchTo", 8, "ponger", ep_b)
    r = result(8)
    tap.is_(r and r["status"], 0, "a new monitor of ponger@B")
    tap.is_(result(-1, 1.0), None, "... stays quiet while B is up")
    command("WatchTo", 9, "ponger", ep_b, count=-1)
    r = result(9)
    tap.is_(r and (r["status"], r["type"]), (0, "Demonitor"), "act_demonitor() of it: 0")

    # f. A's view of its peers
    peers = {q["endpoint"]: q for q in a.status()["gateway"]["peers"]}
    qb = peers.get(ep_b)
    tap.ok(qb and qb["curve"] and qb["state"] == "up" and qb["sent"] >= 3 and
           qb["handshakes"] >= 2, "status: B is a CURVE peer, up, handshakes %s, sent %s" %
           (qb and qb["handshakes"], qb and qb["sent"]))
    g = a.status()["gateway"]
    tap.ok(g["peer_downs"] >= 2 and g["peer_watches"] in (0, 1),
           "status: peer_downs %d, peer_watches %d" % (g["peer_downs"], g["peer_watches"]))
    tap.ok(a.running() and b.running(), "A and B run")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
