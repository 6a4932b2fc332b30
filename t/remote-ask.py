#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-ask.py - act_ask() to a remote actor (issue 13, remote ask), with
no new field on the wire: against a Python peer of the family and against
a second C node.

Node A runs "asker" (t/mod/askmod.c): each AskTo from the test makes it
ask Ping{count} of a remote actor and send back Result{tag, status, type,
count, reason}.  Node B runs "ponger", which answers Ping with Pong.

Python peer:
 a. the Ping leaves with sender_actor "asker~ask-<n>.<16 hex>" (a name of
    its own per ask) and A's endpoint; the peer answers that name like any
    sender and the ask completes with status 0 and the Pong's count;
 b. twenty asks in flight answered in reverse order each complete with
    their own count; every name differs;
 c. an ask nobody answers completes with -ETIMEDOUT; the peer's answer
    after that is a late reply: counted (asks.late, dead letters), not
    delivered, not rejected;
 d. the family's anonymous Reject (sender_actor null, sent to the ask's
    name) completes the ask with ACT_EREJECTED and its reason;
 e. a forged ask name is a late reply too, never delivered;
 f. an ask to an endpoint the gateway cannot use completes at once with
    ACT_EREJECTED and our gateway's reason.
C node B:
 g. asks to B's ponger complete with its Pong;
 h. an ask to an actor B does not have completes with ACT_EREJECTED
    "Actor 'nobody' not found" (B's gateway);
 i. an ask B's ponger leaves unanswered times out; a ponger answering
    twice: the second Pong is a late reply on A.
Status of A: gateway.asks counts sent, replied, rejected, expired, late.
"""
import errno
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, TOP_BUILDDIR, wait_for  # noqa: E402
from zmq_peer import Peer, need_zmq, reject_fields  # noqa: E402

ASKMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "askmod.so")
need_zmq(ASKMOD)

ETIMEDOUT = -errno.ETIMEDOUT
EREJECTED = -errno.ECONNREFUSED
NAME_RE = re.compile(r"^asker~ask-[1-9][0-9]*\.[0-9a-f]{16}$")

tap = Tap(timeout=120)
with tap:
    t0 = time.monotonic()
    boss = Peer("boss")          # sends AskTo, gets Results
    tap.cleanups.append(boss.close)
    pong = Peer("pong")          # the family's Python peer being asked
    tap.cleanups.append(pong.close)
    a = Node(tap, {"endpoint": "tcp://127.0.0.1:*",
                   "groups": [{"name": "ask", "module": ASKMOD,
                               "actors": [actor("asker", "asker", remote=True)]}]},
             name="askA")
    b = Node(tap, {"endpoint": "tcp://127.0.0.1:*",
                   "groups": [{"name": "pong", "module": ASKMOD,
                               "actors": [actor("ponger", "ponger", remote=True)]}]},
             name="askB")
    a.start()
    b.start()
    a_ep = a.status()["gateway"]["advertise"]
    b_ep = b.status()["gateway"]["advertise"]

    def ask(tag, to, ep, count, timeout_ms=5000):
        boss.send(a_ep, "asker", "AskTo", {"tag": tag, "to": to, "endpoint": ep,
                                           "count": count, "timeout_ms": timeout_ms})

    def results(n, timeout=15):
        """n Result messages, by tag."""
        out = {}
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            e = boss.recv(max(0.05, deadline - time.monotonic()))
            if e and e.get("message_type") == "Result":
                out[e["message"]["tag"]] = e["message"]
        return out

    def asks():
        return a.status()["gateway"]["asks"]

    # a. one ask, one answer
    ask(1, "pong", pong.me, 7)
    ping = pong.recv(10)
    name = ping and ping["sender_actor"]
    tap.ok(ping and ping["receiver"] == "pong" and ping["message_type"] == "Ping" and
           ping["message"] == {"count": 7}, "the Python peer got Ping 7 (got %r)" % (ping,))
    tap.ok(name and NAME_RE.match(name), "sender_actor is the ask's own name: %r" % (name,))
    tap.is_(ping and ping["sender_endpoint"], a_ep, "sender_endpoint is A's endpoint")
    tap.is_(sorted(ping) if ping else None,
            ["message", "message_type", "receiver", "sender_actor", "sender_endpoint"],
            "no new field on the wire")
    pong.send(ping["sender_endpoint"], name, "Pong", {"count": 7})
    r = results(1).get(1)
    tap.is_(r and (r["status"], r["type"], r["count"]), (0, "Pong", 7),
            "the ask completed with status 0 and Pong 7")

    # b. twenty in flight, answered in reverse order
    for i in range(20):
        ask(100 + i, "pong", pong.me, 1000 + i)
    pings = []
    while len(pings) < 20:
        e = pong.recv(10)
        if e is None:
            break
        pings.append(e)
    names = set(p["sender_actor"] for p in pings)
    tap.is_(len(names), 20, "twenty asks in flight have twenty names")
    for p in reversed(pings):
        pong.send(p["sender_endpoint"], p["sender_actor"], "Pong", p["message"])
    rs = results(20)
    tap.is_(sorted((t, r["status"], r["count"]) for t, r in rs.items()),
            [(100 + i, 0, 1000 + i) for i in range(20)],
            "answered in reverse order, each ask got its own Pong")
    st = asks()
    tap.is_((st["outstanding"], st["sent"], st["replied"]), (0, 21, 21),
            "status: 21 sent, 21 replied, none outstanding")

    # c. timeout, then a late reply
    ask(2, "pong", pong.me, 2, timeout_ms=200)
    ping = pong.recv(10)
    r = results(1).get(2)
    tap.is_(r and (r["status"], r["type"]), (ETIMEDOUT, ""),
            "an ask nobody answers completes with -ETIMEDOUT")
    wait_for(lambda: asks()["expired"] == 1, 10, "the timed-out name to be retired")
    tap.is_(asks()["outstanding"], 0, "the timed-out name was retired (expired 1)")
    dl0 = a.status()["dead_letters"]
    pong.send(ping["sender_endpoint"], ping["sender_actor"], "Pong", {"count": 2})
    wait_for(lambda: asks()["late"] == 1, 10, "the late reply to be counted")
    tap.ok(True, "the late reply is counted: asks.late 1")
    tap.ok(a.status()["dead_letters"] > dl0, "... and as a dead letter")
    tap.is_(pong.drain(0.3), [], "the late reply is not rejected")
    tap.is_(results(1, 0.3), {}, "... and not delivered")

    # d. the family's anonymous Reject, sent to the ask's name
    def reject(ping, reason, endpoint):
        """A Reject as the family sends it: sender_actor null; Python fills
        sender_endpoint with its own, C++ and Rust send null there too."""
        pong.send_raw(ping["sender_endpoint"], json.dumps({
            "sender_actor": None, "sender_endpoint": endpoint,
            "receiver": ping["sender_actor"], "message_type": "Reject",
            "message": {"message_type": "Ping", "reason": reason,
                        "rejected_by": ping["receiver"]}}).encode())

    ask(3, "nobody", pong.me, 3)
    ping = pong.recv(10)
    reject(ping, "Actor 'nobody' not found", pong.me)
    r = results(1).get(3)
    tap.is_(r and (r["status"], r["type"], r["reason"]),
            (EREJECTED, "Reject", "Actor 'nobody' not found"),
            "a Reject (Python style) completes the ask with ACT_EREJECTED and its reason")
    ask(4, "nobody", pong.me, 4)
    ping = pong.recv(10)
    reject(ping, "gone", None)
    r = results(1).get(4)
    tap.is_(r and (r["status"], r["reason"]), (EREJECTED, "gone"),
            "a Reject with both sender fields null (C++/Rust style) completes it too")
    tap.is_(pong.drain(0.2), [], "a Reject is never answered")

    # e. a forged name
    late0 = asks()["late"]
    pong.send(a_ep, "asker~ask-999999.0123456789abcdef", "Pong", {"count": 9})
    wait_for(lambda: asks()["late"] == late0 + 1, 10, "the forged reply to be counted")
    tap.ok(True, "a forged ask name is counted as late")
    tap.is_(results(1, 0.3), {}, "... and never delivered")

    # f. an endpoint the gateway cannot use: the ask fails at once, with a
    #    Reject from our own gateway that says why
    ask(5, "pong", "bogus://x", 5)
    r = results(1).get(5)
    tap.is_(r and (r["status"], r["type"], r["reason"]),
            (EREJECTED, "Reject", "Cannot send to 'pong' at bogus://x: invalid argument"),
            "an ask to an unusable endpoint completes at once with ACT_EREJECTED")
    tap.is_(asks()["failed"], 1, "status: asks.failed 1")

    # g. a C node answers
    for i in range(5):
        ask(200 + i, "ponger", b_ep, 200 + i)
    rs = results(5)
    tap.is_(sorted((t, r["status"], r["type"], r["count"]) for t, r in rs.items()),
            [(200 + i, 0, "Pong", 200 + i) for i in range(5)],
            "five asks to the C node's ponger completed with its Pongs")

    # h. Rejects from the C node: its gateway, and its worker
    ask(6, "nobody", b_ep, 6)
    r = results(1).get(6)
    tap.is_(r and (r["status"], r["reason"]), (EREJECTED, "Actor 'nobody' not found"),
            "an ask to an actor B lacks: ACT_EREJECTED from B's gateway")

    # i. B's ponger ignores negative counts; answers 1000000 twice
    ask(7, "ponger", b_ep, -1, timeout_ms=300)
    r = results(1).get(7)
    tap.is_(r and r["status"], ETIMEDOUT, "an ask B leaves unanswered times out")
    late0 = asks()["late"]
    ask(8, "ponger", b_ep, 1000000)
    r = results(1).get(8)
    tap.is_(r and (r["status"], r["count"]), (0, 1000000), "B's first Pong completes the ask")
    wait_for(lambda: asks()["late"] == late0 + 1, 10, "B's second Pong to be counted late")
    tap.ok(True, "B's second Pong is a late reply on A")
    tap.is_(results(1, 0.3), {}, "... never delivered")

    st = asks()
    tap.diag("A asks: %r" % (st,))
    tap.is_((st["outstanding"], st["held"], st["dropped"]), (0, 0, 0),
            "nothing outstanding, held or dropped at the end")
    tap.ok(a.running() and b.running(), "both nodes still run")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
