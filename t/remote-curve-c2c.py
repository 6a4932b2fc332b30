#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-curve-c2c.py - CURVE both ways between two C nodes (issue 13).

Keys come from `actorsctl keygen` (secret file mode 0600).  Node B serves
only CURVE clients on its allow-list (A's public key); node A names B in
"peers" with B's "server_key", and B names A with "server_key_file" but a
wrong endpoint: the endpoint A advertises is tied to A's key.  Then:
 a. A's asker asks ponger@B (act_ref_remote(.., "@B")): the Ping leaves on
    a CURVE socket with A's keypair, B's ZAP lets A in, and B's Pong goes
    back to A's advertised endpoint on a CURVE socket too (A's gateway
    counts that handshake: auth_allowed); the ask completes;
 b. both nodes show the other as a peer: curve true, state "up";
 c. node C knows B by a wrong server key: its ask times out, C counts the
    failed handshakes (handshakes_failed_out, per peer), and B counts them
    on its side (handshakes_failed_in); B never sees a frame from C;
 d. startup refuses what can never work, with a clear error and exit 100:
    a secret key file readable by others, a peer's server_key_file that
    is missing, a server_key without the node's own keypair, a key that
    is not Z85.
"""
import errno
import json
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import (free_port, Tap, Node, actor, wait_for, TOP_BUILDDIR,  # noqa: E402
                             ACTORSD, ACTORSCTL)
from zmq_peer import Peer, need_zmq, send_frame  # noqa: E402

ASKMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "askmod.so")
zmq = need_zmq(ASKMOD)
if not zmq.has("curve"):
    print("1..0 # SKIP libzmq without CURVE", flush=True)
    sys.exit(0)

ETIMEDOUT = -errno.ETIMEDOUT



def keygen(tap, d):
    r = subprocess.run([ACTORSCTL, "keygen", d], capture_output=True, text=True, timeout=30)
    tap.is_(r.returncode, 0, "actorsctl keygen %s (%s)" % (os.path.basename(d),
                                                           r.stderr.strip()))
    with open(os.path.join(d, "curve.public")) as f:
        pub = f.read().strip()
    with open(os.path.join(d, "curve.secret")) as f:
        sec = f.read().strip()
    return pub, sec


def node_app(port, peers, allow=None):
    curve = {"secret_key_file": "curve.secret", "public_key_file": "curve.public"}
    if allow:
        curve["allow"] = allow
    return {"endpoint": "tcp://127.0.0.1:%d" % port, "curve": curve, "peers": peers}


tap = Tap(timeout=120)
with tap:
    t0 = time.monotonic()
    pa, pb, pc = free_port(), free_port(), free_port()
    ep_a, ep_b = "tcp://127.0.0.1:%d" % pa, "tcp://127.0.0.1:%d" % pb
    boss = Peer("boss")
    tap.cleanups.append(boss.close)

    a = Node(tap, {}, name="curveA")
    b = Node(tap, {}, name="curveB")
    c = Node(tap, {}, name="curveC")
    a_pub, a_sec = keygen(tap, a.dir)
    b_pub, _ = keygen(tap, b.dir)
    c_pub, _ = keygen(tap, c.dir)
    mode = os.stat(os.path.join(a.dir, "curve.secret")).st_mode & 0o777
    tap.is_(oct(mode), oct(0o600), "keygen wrote the secret key with mode 0600")
    r = subprocess.run([ACTORSCTL, "keygen", a.dir], capture_output=True, text=True, timeout=30)
    tap.ok(r.returncode == 1 and "never overwrites" in r.stderr,
           "keygen never overwrites a key (%r)" % r.stderr.strip())

    asker = [{"name": "ask", "module": ASKMOD, "actors": [actor("asker", "asker", remote=True)]}]
    a.app.update(node_app(pa, {"B": {"endpoint": ep_b, "server_key": b_pub}}), groups=asker)
    # B knows A by key; the endpoint it has for A is not where A is (a
    # TEST-NET address): B learns A's endpoint from A's CURVE key.
    b.app.update(node_app(pb, {"A": {"endpoint": "tcp://192.0.2.1:9",
                                     "server_key_file": os.path.join(a.dir, "curve.public")}},
                          allow=[a_pub]),
                 groups=[{"name": "pong", "module": ASKMOD,
                          "actors": [actor("ponger", "ponger", remote=True)]}])
    wrong_pub, _ = zmq.curve_keypair()
    c.app.update(node_app(pc, {"B": {"endpoint": ep_b, "server_key": wrong_pub.decode()}}),
                 groups=asker)
    a.start()
    b.start()
    c.start()

    # The boss is a CURVE client of A and C (they serve any client that
    # knows their key); their Results come back to its plain PULL socket.
    cpub, csec = zmq.curve_keypair()

    def curve_push(server_pub):
        s = boss.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_secretkey = csec
        s.curve_publickey = cpub
        s.curve_serverkey = server_pub.encode()
        tap.cleanups.append(s.close)
        return s

    to_a, to_c = curve_push(a_pub), curve_push(c_pub)
    to_a.connect(ep_a)
    to_c.connect("tcp://127.0.0.1:%d" % pc)

    def ask(sock, tag, to, ep, count, timeout_ms=5000):
        send_frame(sock, json.dumps({
            "sender_actor": "boss", "sender_endpoint": boss.me, "receiver": "asker",
            "message_type": "AskTo",
            "message": {"tag": tag, "to": to, "endpoint": ep, "count": count,
                        "timeout_ms": timeout_ms}}).encode())

    def result(tag, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = boss.recv(max(0.05, deadline - time.monotonic()))
            if e and e.get("message_type") == "Result" and e["message"]["tag"] == tag:
                return e["message"]
        return None

    # a. A asks ponger@B over CURVE, and B's Pong comes back over CURVE
    ask(to_a, 1, "ponger", "@B", 42)
    r = result(1)
    tap.is_(r and (r["status"], r["type"], r["count"]), (0, "Pong", 42),
            "A's ask of ponger@B over CURVE completed with Pong 42")
    gb = b.status()["gateway"]
    tap.ok(gb["auth_allowed"] >= 1 and gb["auth_denied"] == 0,
           "B let A's key in (auth_allowed %d)" % gb["auth_allowed"])
    ga = a.status()["gateway"]
    tap.ok(ga["auth_allowed"] >= 2,
           "A let B's reply socket in over CURVE too (auth_allowed %d: the boss and B)"
           % ga["auth_allowed"])

    # b. each shows the other as a CURVE peer, up
    def peer(node, ep):
        for p in node.status()["gateway"]["peers"]:
            if p["endpoint"] == ep:
                return p
        return None

    pa_b = wait_for(lambda: (lambda p: p if p and p["state"] == "up" else None)(peer(a, ep_b)),
                    10, "A to see B up")
    tap.ok(pa_b["curve"] and pa_b["configured"] and pa_b["handshakes"] >= 1 and
           pa_b["handshakes_failed"] == 0 and pa_b["last_up_ms_ago"] >= 0,
           "A's status: peer B curve, up, handshakes %d (%r)" % (pa_b["handshakes"], pa_b))
    pb_a = wait_for(lambda: (lambda p: p if p and p["state"] == "up" else None)(peer(b, ep_a)),
                    10, "B to see A up")
    tap.ok(pb_a["curve"] and pb_a["sent"] >= 1,
           "B's status: its replies to A go over CURVE, to the endpoint A's key advertised")

    # c. a wrong server key: refused, counted on both sides
    frames_b = b.status()["gateway"]["frames_in"]
    ask(to_c, 2, "ponger", "@B", 7, timeout_ms=1000)
    r = result(2)
    tap.is_(r and r["status"], ETIMEDOUT, "C's ask with a wrong key for B times out")
    pc_b = wait_for(lambda: (lambda p: p if p and p["handshakes_failed"] >= 1 else None)(
        peer(c, ep_b)), 10, "C to count a failed handshake")
    tap.ok(pc_b["state"] != "up" and c.status()["gateway"]["handshakes_failed_out"] >= 1,
           "C counts failed handshakes with B (%d), B is not up for it" %
           pc_b["handshakes_failed"])
    wait_for(lambda: b.status()["gateway"]["handshakes_failed_in"] >= 1, 10,
             "B to count the refused handshake")
    tap.ok(True, "B counts the refused handshakes (handshakes_failed_in %d)" %
           b.status()["gateway"]["handshakes_failed_in"])
    tap.is_(b.status()["gateway"]["frames_in"], frames_b, "B never saw a frame from C")

    # d. startup refuses keys that can never work
    def check(label, app, files, want):
        d = os.path.join(c.dir, label)
        os.mkdir(d)
        for name, (text, mode) in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text + "\n")
            os.chmod(os.path.join(d, name), mode)
        app = dict(app, node="chk", state_dir="st",
                   groups=[{"name": "g", "module": ASKMOD, "actors": [actor("x", "ponger")]}])
        with open(os.path.join(d, "app.json"), "w") as f:
            json.dump(app, f)
        r = subprocess.run([ACTORSD, "--check", "app.json"], cwd=d, capture_output=True,
                           text=True, timeout=30)
        tap.ok(r.returncode == 100 and all(w in r.stderr for w in want),
               "%s: exit 100 naming %r (got %d: %r)" % (label, want, r.returncode,
                                                        r.stderr.strip()))

    keys = {"curve.secret": (a_sec, 0o644), "curve.public": (a_pub, 0o644)}
    check("secret-readable", node_app(free_port(), {}), keys,
          ["$.curve.secret_key_file", "chmod 600"])
    keys["curve.secret"] = (a_sec, 0o600)
    check("peer-key-missing", node_app(free_port(), {"B": {"endpoint": ep_b,
                                                          "server_key_file": "nope.pub"}}),
          keys, ["$.peers.B.server_key_file", "nope.pub", "No such file"])
    check("peer-key-no-keypair", {"endpoint": "tcp://127.0.0.1:%d" % free_port(),
                                  "peers": {"B": {"endpoint": ep_b, "server_key": b_pub}}},
          {}, ["peers", "keypair"])
    check("peer-key-not-z85", node_app(free_port(), {"B": {"endpoint": ep_b,
                                                          "server_key": "~" * 40}}),
          keys, ["server_key", "Z85"])
    tap.ok(a.running() and b.running() and c.running(), "all three nodes still run")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
