#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/dynamic-remote.py - remote peers address spawned actors by name.

An actor spawned (actorsctl spawn) from a behaviour that says remote: true
("recho" of the test module, which only the workers' zygote knows) takes a
peer's Ping and answers with a Pong; one spawned from a behaviour that does
not ("echo") looks to the network exactly like an actor that does not
exist; after `actorsctl stop`, so does the remote one.
"""
import os
import sys

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, group, actor, wait_for  # noqa: E402
from zmq_peer import Peer, need_zmq, reject_fields  # noqa: E402

need_zmq()

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"endpoint": "tcp://127.0.0.1:*",
                      "groups": [group("g", [actor("e", "echo")]),
                                 group("s", [actor("p", "pid")])]}, name="dynremote")
    st = node.start()
    ep = st["gateway"]["advertise"]
    peer = Peer("tester")
    tap.cleanups.append(peer.close)

    rc, out, err = node.ctl("spawn", "s", "recho", "rsess")
    tap.ok(rc == 0, "spawned a remote-reachable actor (%d %r)" % (rc, err))
    rc, out, err = node.ctl("spawn", "s", "echo", "lsess")
    tap.ok(rc == 0, "and a local-only one (%d %r)" % (rc, err))

    peer.send(ep, "rsess", "Ping", {"count": 41})
    env = peer.recv(10)
    tap.ok(env is not None and env.get("message_type") == "Pong" and
           env.get("message") == {"count": 41} and env.get("sender_actor") == "rsess",
           "a peer's Ping reached the spawned remote actor by name, Pong came back (%r)" % (env,))

    peer.send(ep, "lsess", "Ping", {"count": 1})
    m = reject_fields(peer.recv(10))
    tap.ok(m is not None and m["reason"] == "Actor 'lsess' not found",
           "a spawned actor whose behaviour is not remote is not reachable (%r)" % (m,))

    rc, out, err = node.ctl("stop", "rsess")
    tap.ok(rc == 0, "stopped it (%d %r)" % (rc, err))
    wait_for(lambda: node.ctl("ask", "rsess", "Ping", '{"count":1}')[0] != 0, 10,
             "rsess to be gone")
    peer.send(ep, "rsess", "Ping", {"count": 2})
    m = reject_fields(peer.recv(10))
    tap.ok(m is not None and m["reason"] == "Actor 'rsess' not found",
           "after its stop the peer is told it is not found (%r)" % (m,))
    tap.is_(node.terminate(), 0, "the node stops cleanly")
