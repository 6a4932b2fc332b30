#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-logs.py - no remote peer can forge a log line (issue 11, item 12).

Under journald a line that starts with "<3>" has error priority, so a
name holding a newline and "<3>" would start a fake error line.  Each of
these reaches a log line with peer-controlled text in it:
 a. a receiver that does not exist (the gateway's "unknown actor" line);
 b. a malformed frame whose sender_actor and sender_endpoint were read
    (the gateway's "malformed frame" line names them);
 c. a Reject to the example pong whose rejected_by and reason are
    hostile (examples/remote's own log line).
Each must give exactly one log line holding the marker, with the newline
and the backslash written as \\x0a and \\x5c, and no line may start with
the forged prefix.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, reject_fields  # noqa: E402

need_zmq(REMOTE_SO)
FORGED = "\n<3>actorsd[1]: error: FORGED-%s \\ done"


def lines_with(node, marker):
    with open(node.log_path, errors="replace") as f:
        return [ln for ln in f.read().split("\n") if marker in ln]


tap = Tap(timeout=60)
with tap:
    t0 = time.monotonic()
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "groups": [{"name": "pongs", "module": REMOTE_SO,
                    "actors": [actor("pong", "pong", remote=True)]}],
    }, name="logs")
    st = node.start()
    ep = st["gateway"]["advertise"]
    peer = Peer("tester")
    tap.cleanups.append(peer.close)

    def check(label, marker, n=1):
        tap.ok(wait_for(lambda: lines_with(node, marker), 10, "the %s log line" % label),
               "%s: logged" % label)
        got = lines_with(node, marker)
        if n:
            tap.is_(len(got), n, "%s: exactly %d line(s) hold the marker" % (label, n))
        else:
            tap.ok(len(got) >= 1, "%s: %d line(s) hold the marker" % (label, len(got)))
        tap.ok(got and all("\\x0a<3>actorsd[1]: error: " + marker in ln and
                           "\\x5c done" in ln for ln in got),
               "%s: the newline and the backslash are escaped: %r" % (label, got[:1]))
        tap.ok(not any(ln.startswith("<3>actorsd[1]") for ln in lines_with(node, "")),
               "%s: no line starts with the forged prefix" % label)

    # a. unknown receiver
    peer.send(ep, "ghost" + FORGED % "A", "Ping", {"count": 1})
    env = peer.recv(10)
    tap.ok(reject_fields(env) is not None, "a: the unknown receiver got its Reject")
    check("a (unknown receiver)", "FORGED-A")

    # b. malformed frame with hostile sender fields read before the error
    frame = ('{"sender_actor": %s, "sender_endpoint": %s, "receiver": "pong", '
             '"message_type": "Ping", "message": {"count": NaN}}'
             % (json.dumps("s" + FORGED % "B"), json.dumps("tcp://x" + FORGED % "C")))
    peer.send_raw(ep, frame.encode())
    check("b (malformed frame, sender_actor)", "FORGED-B")
    # (more than once: the Reject to that endpoint cannot be sent, which is
    # logged too, each line on its own)
    check("b (malformed frame, sender_endpoint)", "FORGED-C", None)

    # c. the example pong logs the Rejects it gets
    peer.send(ep, "pong", "Reject", {"message_type": "Pong",
                                     "reason": "gone" + FORGED % "E",
                                     "rejected_by": "r" + FORGED % "D"})
    check("c (example pong, rejected_by)", "FORGED-D")
    tap.ok(node.running(), "actorsd is still running")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
