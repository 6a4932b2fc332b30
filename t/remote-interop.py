#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-interop.py - our C actors and Python peers speak the actor
family's JSON protocol (shared/PROTOCOL.md, DESIGN.md section 7) both ways.

 a. Python ping (examples/remote/peer_ping.py) -> C pong under actorsd:
    1,000 round trips, every count checked by the pinger.
 b. C ping (examples/remote "ping" behaviour, target "pong@py" from the app
    file's peers) -> Python pong (peer_pong.py --check): 1,000 round trips,
    every count checked by the Python side, and the node exits 0 when ping
    calls act_shutdown.  b2: the same C ping against the C pong of (a) on
    another node, target given as name + endpoint.
 c. Two Python pingers with the same actor name on two endpoints, against
    one C pong at once: each gets exactly its own counts back.
 d. Unknown actor, an actor that is not "remote", an unknown type, a type
    the actor has no handler for, undecodable payloads: each answered with
    a Reject of exactly {message_type, reason, rejected_by} with the right
    values, addressed to the sender; then a valid Ping still gets its Pong.
 e. A Reject sent to our node reaches the actor it names (a recorder that
    echoes what it decoded; pong's log line) and is never answered with a
    Reject; a C ping whose Ping is rejected by the remote side stops and
    the node exits 0.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor  # noqa: E402
from zmq_peer import (Peer, REMOTE_SO, REMOTEMOD_SO, REMOTE_EXAMPLES,  # noqa: E402
                      need_zmq, python_for_scripts, reject_fields, wait_log)

need_zmq(REMOTE_SO, REMOTEMOD_SO)
ROUNDS = 1000
PY = python_for_scripts()
PEER_PING = os.path.join(REMOTE_EXAMPLES, "peer_ping.py")
PEER_PONG = os.path.join(REMOTE_EXAMPLES, "peer_pong.py")


def run(tap, args, timeout=40):
    r = subprocess.run([PY] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode:
        tap.diag("%s exited %d:\n%s%s" % (os.path.basename(args[0]), r.returncode,
                                          r.stdout, r.stderr))
    return r


# The gateway re-prints "message" with cJSON, which rounds numbers to 15
# significant digits when that looks "close enough" (9007199254740991 goes
# out as 9007199254740990, and 2^53 as an in-range 9007199254740990): see
# the report on supervisor/gateway.c.  Checks that hit it are TAP TODO
# until that is fixed; automake then reports them as XPASS, a reminder to
# drop this.
GATEWAY_NUMBERS_TODO = "gateway re-prints message numbers inexactly (cJSON %1.15g)"


def todo(tap, cond, name, why):
    """A TAP TODO check: reported, never a failure of the script."""
    tap.n += 1
    print("%sok %d - %s # TODO %s" % ("" if cond else "not ", tap.n, name, why), flush=True)
    return bool(cond)


def ping_node(tap, name, ping_args, peers=None):
    """A node whose only actor is a C ping (it shuts the node down when done)."""
    app = {"endpoint": "tcp://127.0.0.1:*",
           "groups": [{"name": "ping", "module": REMOTE_SO, "restart": "temporary",
                       "actors": [actor("ping", "ping", ping_args, remote=True)]}]}
    if peers:
        app["peers"] = peers
    return Node(tap, app, name=name)


tap = Tap(timeout=55)
with tap:
    t0 = time.monotonic()
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [
            {"name": "pongs", "module": REMOTE_SO, "actors": [
                actor("pong", "pong", remote=True),
                actor("hidden", "pong"),          # not reachable from the network
            ]},
            {"name": "rec", "module": REMOTEMOD_SO, "actors": [
                actor("recorder", "recorder", remote=True),
            ]},
        ],
    }, name="interop")
    st = node.start()
    ep = st["gateway"]["advertise"]
    tap.ok(ep.startswith("tcp://127.0.0.1:") and not ep.endswith(":*"),
           "the node advertises the port it bound: %s" % ep)

    # ---- a. Python ping -> C pong
    r = run(tap, [PEER_PING, "--connect", ep, "--rounds", str(ROUNDS), "--quiet"])
    tap.is_(r.returncode, 0, "a: peer_ping.py exits 0 against the C pong")
    tap.ok(("%d of %d round trips" % (ROUNDS, ROUNDS)) in r.stdout,
           "a: %d round trips, every Pong carried the Ping's count" % ROUNDS)

    # ---- b. C ping -> Python pong (peers form: "pong@py")
    pong = subprocess.Popen([PY, PEER_PONG, "--bind", "tcp://127.0.0.1:*", "--rounds",
                             str(ROUNDS), "--check", "--idle-timeout", "20"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    tap.cleanups.append(lambda: pong.poll() is None and pong.kill())
    first = pong.stdout.readline()      # "pong: pong listening at tcp://..."
    py_ep = first.split()[-1] if "listening at" in first else None
    tap.ok(py_ep and py_ep.startswith("tcp://127.0.0.1:"), "b: Python pong is at %s" % py_ep)
    pn = ping_node(tap, "cping", {"to": "pong@py", "rounds": ROUNDS, "timeout_ms": 10000},
                   peers={"py": py_ep})
    pn.start(wait_ready=False)
    tap.is_(pn.wait_exit(30), 0, "b: the node exits 0 after ping's act_shutdown")
    out = pong.communicate(timeout=20)[0]
    tap.is_(pong.returncode, 0, "b: Python pong saw Pings 1..%d in order (exit 0)" % ROUNDS)
    tap.ok(("answered %d Pings" % ROUNDS) in out, "b: Python pong answered %d Pings" % ROUNDS)
    tap.ok(wait_log(pn, "ping: %d round trips with pong@py in " % ROUNDS, 5),
           "b: ping logged its summary of %d round trips" % ROUNDS)

    # ---- b2. C ping -> C pong on another node (name + endpoint form)
    pn2 = ping_node(tap, "cping2", {"to": "pong", "endpoint": ep, "rounds": ROUNDS})
    pn2.start(wait_ready=False)
    tap.is_(pn2.wait_exit(30), 0, "b2: C ping -> C pong across nodes, node exits 0")
    tap.ok(wait_log(pn2, "ping: %d round trips with pong at %s in " % (ROUNDS, ep), 5),
           "b2: ping logged %d round trips" % ROUNDS)

    # ---- c. two Python pingers, same actor name, two endpoints, one C pong
    procs = [subprocess.Popen([PY, PEER_PING, "--connect", ep, "--rounds", str(ROUNDS),
                               "--first", str(first_count), "--quiet"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for first_count in (1, 1000001)]
    for p in procs:
        tap.cleanups.append(lambda p=p: p.poll() is None and p.kill())
    outs = [p.communicate(timeout=40)[0] for p in procs]
    for p, o, rng in zip(procs, outs, ("1..1000", "1000001..1001000")):
        if p.returncode:
            tap.diag(o)
        tap.ok(p.returncode == 0 and ("%d of %d" % (ROUNDS, ROUNDS)) in o,
               "c: concurrent pinger with counts %s got exactly its own Pongs" % rng)

    # ---- d. Rejects
    peer = Peer("tester")
    tap.cleanups.append(peer.close)

    n_rejects = 0

    def rejected(receiver, mtype, message, want_reason, want_by, what, known_bug=None):
        global n_rejects
        peer.send(ep, receiver, mtype, message)
        env = peer.recv(10)
        m = reject_fields(env)
        name = "d: %s: a Reject with exactly three fields" % what
        if known_bug and m is None:
            todo(tap, False, name, known_bug)
            tap.diag("got %r" % (env,))
            return
        if not tap.ok(m is not None, name):
            tap.diag("got %r" % (env,))
            return
        n_rejects += 1
        tap.is_((env["receiver"], env["sender_actor"], env["sender_endpoint"]),
                ("tester", None, ep), "d: %s: addressed to the sender, anonymous"
                " (sender_actor null, as the family sends Rejects), from %s" % (what, ep))
        reason_ok = m["reason"] == want_reason
        tap.ok(m["message_type"] == mtype and m["rejected_by"] == want_by and reason_ok,
               "d: %s: message_type %r, rejected_by %r, reason %r"
               % (what, m["message_type"], m["rejected_by"], m["reason"]))

    rejected("nobody", "Ping", {"count": 1}, "Actor 'nobody' not found", "nobody",
             "unknown actor")
    rejected("hidden", "Ping", {"count": 1}, "Actor 'hidden' not found", "hidden",
             "actor without remote:true")
    rejected("pong", "Pang", {"count": 1}, "Unknown message type 'Pang'", "pong",
             "unknown type")
    rejected("pong", "Query", {}, "Actor 'pong' has no handler for 'Query'", "pong",
             "type without a handler")
    rejected("pong", "Ping", {"count": "one"},
             "Cannot decode 'Ping': field 'count': expected an integer", "pong",
             "count is a string")
    rejected("pong", "Ping", {}, "Cannot decode 'Ping': field 'count': missing", "pong",
             "count is missing")
    rejected("pong", "Ping", {"count": 1.5},
             "Cannot decode 'Ping': field 'count': expected an integer", "pong",
             "count is 1.5")
    rejected("pong", "Ping", {"count": 2 ** 53},
             "Cannot decode 'Ping': field 'count': integer out of range", "pong",
             "count is 2^53 (beyond an exact int64 from JSON)")

    rejected("pong", "Timeout", {"id": 1},
             "Message type 'Timeout' cannot be sent from outside the node", "pong",
             "a built-in Timeout from the network")
    rejected("pong", "Start", {},
             "Message type 'Start' cannot be sent from outside the node", "pong",
             "a built-in Start from the network")
    rejected("pong", "Down", {"actor": "ping", "reason": "crashed: signal 9"},
             "Message type 'Down' cannot be sent from outside the node", "pong",
             "a forged Down from the network")
    rejected("pong", "Ping", {"count": 1e300},
             "Cannot decode 'Ping': field 'count': integer out of range", "pong",
             "count is 1e300")

    peer.send(ep, "pong", "Ping", {"count": 12345})
    env = peer.recv(10)
    tap.is_(env and (env["message_type"], env["message"], env["receiver"], env["sender_actor"]),
            ("Pong", {"count": 12345}, "tester", "pong"),
            "d: after the Rejects a valid Ping still gets its Pong")
    peer.send(ep, "pong", "Ping", {"count": 2 ** 53 - 1})
    env = peer.recv(10)
    got = env and env["message"]["count"]
    tap.ok(got == 2 ** 53 - 1, "d: Ping 2^53-1 comes back exact (got %r)" % got)
    tap.is_(peer.drain(0.2), [], "d: nothing else was sent to us")

    # ---- e. Rejects sent to the node
    rej = {"message_type": "Ping", "reason": "Actor 'pong' not found \u00e9", "rejected_by": "pong"}
    peer.send(ep, "recorder", "Reject", rej, sender="pong")
    env = peer.recv(10)
    tap.is_(env and (env["message_type"], env["receiver"]), ("Recorded", "pong"),
            "e: the recorder actor got the Reject and answered its sender")
    tap.is_(env and env["message"], dict(rej, n=1), "e: it decoded exactly the Reject's fields")
    # A remote name may be 255 bytes (PROTOCOL.md): the C actor gets all of it.
    long_by = "r" * 200 + "\u00e9" * 27 + "x"
    assert len(long_by.encode()) == 255
    peer.send(ep, "recorder", "Reject", dict(rej, rejected_by=long_by), sender="pong")
    env = peer.recv(10)
    tap.is_(env and env["message"], dict(rej, rejected_by=long_by, n=2),
            "e: a 255-byte rejected_by reaches the C actor in full")

    # A Reject for an actor that does not exist, or that fails to decode,
    # is never answered with a Reject: the next thing we receive is the
    # answer to a later Query (the node's replies to us travel in order).
    peer.send(ep, "nobody", "Reject", rej)
    peer.send(ep, "recorder", "Reject", {"message_type": "Ping"})   # undecodable
    peer.send(ep, "recorder", "Query", {})
    env = peer.recv(10)
    tap.is_(env and (env["message_type"], env["message"]["n"]), ("Recorded", 2),
            "e: no Reject answers a Reject (unknown actor, undecodable); count still 2")

    peer.send(ep, "pong", "Reject", {"message_type": "Pong", "reason": "gone fishing",
                                     "rejected_by": "tester"})
    tap.ok(wait_log(node, "pong: our Pong was rejected by 'tester': gone fishing"),
           "e: the pong actor received the Reject (its log line)")

    # A C ping whose Ping the remote side rejects: it logs and stops the node.
    fake = Peer("fake_pong")
    tap.cleanups.append(fake.close)
    pn3 = ping_node(tap, "cping3", {"to": "pong", "endpoint": fake.me, "rounds": 5})
    pn3.start(wait_ready=False)
    env = fake.recv(15)
    tap.is_(env and (env["receiver"], env["message_type"], env["message"]),
            ("pong", "Ping", {"count": 1}), "e: the C ping sent Ping 1 to the Python side")
    if env:
        fake.send(env["sender_endpoint"], env["sender_actor"], "Reject",
                  {"message_type": "Ping", "reason": "Actor 'pong' not found",
                   "rejected_by": "pong"}, sender="pong")
    tap.is_(pn3.wait_exit(15), 0, "e: the ping's node exits 0 after the Reject")
    tap.ok(wait_log(pn3, "ping: our Ping was rejected by 'pong': Actor 'pong' not found", 5),
           "e: ping logged the Reject's reason")

    # ---- counters
    g = node.status()["gateway"]
    tap.is_((g["unknown_receiver"], g["malformed_total"], g["rejects_received"]), (3, 0, 5),
            "status: unknown_receiver 3, malformed 0, rejects_received 5")
    tap.is_(g["rejects_sent"], n_rejects,
            "status: rejects_sent %d (one per Reject we received)" % n_rejects)
    tap.ok(node.running(), "actorsd is still running")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
