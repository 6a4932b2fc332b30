#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/remote-malformed.py - the gateway survives, counts and answers every
malformed frame (PROTOCOL.md "What the peers do with bad input", DESIGN.md
section 7: hard limits, Reject when addressable, a counter always).

A node with small limits (frames 4096 bytes, depth 8, strings 200 bytes,
16 members per object) gets a corpus of malformed and undeliverable frames
over one connection: not UTF-8, not JSON, truncated, too deep, too big,
not an object, missing and mistyped envelope fields, \\u0000 in names,
strings and numbers beyond the limits, numbers out of range for the C
field, names that do not exist, types the actor does not know.  Each entry
says which gateway counter it must bump and whether it must be answered
with a Reject (exactly {message_type, reason, rejected_by}, addressed to
the sender named in the frame, anonymous: "sender_actor" null).  A frame
whose sender fields were read whole before the problem (bad JSON, invalid
UTF-8 or too deep later in the frame, a NaN from Python's json, a frame
over the limit) is addressable too.  Then: a valid Ping still gets its Pong;
`actorsctl status --json` counters add up exactly to what was sent; every
expected Reject came and no other; a frame beyond twice the limit (which
ZeroMQ refuses by dropping the connection) does not hurt the node either.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for  # noqa: E402
from zmq_peer import Peer, REMOTE_SO, need_zmq, reject_fields, send_frame, wait_log  # noqa: E402

zmq = need_zmq(REMOTE_SO)

MAX_FRAME, MAX_DEPTH, MAX_STRING, MAX_FIELDS = 4096, 8, 200, 16
WIRE_CLASSES = ("too_big", "not_utf8", "bad_json", "too_deep", "not_object",
                "missing_field", "bad_field", "too_long", "too_many_fields")

# ---- the corpus -------------------------------------------------------------------
# Each entry: (label, build(sender, me) -> bytes, class, reject)
#   class   a wire class above, "unknown" (unknown_receiver), "undeliverable"
#           (the ring refused it), or "worker" (delivered; the worker
#           refuses the type or payload)
#   reject  None (no Reject may come), or (message_type, rejected_by,
#           reason prefix) of the Reject that must come back

corpus = []


def add(label, klass, reject, build):
    corpus.append((label, build, klass, reject))


def env(sender, me, **kw):
    """An envelope dict from `sender` at `me`; kw overrides or adds fields."""
    e = {"sender_actor": sender, "sender_endpoint": me, "receiver": "pong",
         "message_type": "Ping", "message": {"count": 1}}
    for k, v in kw.items():
        if v is DROP:
            e.pop(k, None)
        else:
            e[k] = v
    return e


DROP = object()


def j(sender, me, **kw):
    return json.dumps(env(sender, me, **kw)).encode()


def mal(prefix_detail=""):
    return "Malformed envelope: " + prefix_detail


LONG = "x" * (MAX_STRING + 1)

# too_big: over max_frame (but under the 2x ZeroMQ cut-off)
add("envelope of max+1 bytes", "too_big", ("Ping", "pong", mal("frame of ")),
    lambda s, me: j(s, me, message={"count": 1, "pad": "p" * (
        MAX_FRAME + 1 - len(j(s, me, message={"count": 1, "pad": ""})))}))
add("frame of 6000 spaces", "too_big", None, lambda s, me: b" " * 6000)
add("frame of 8000 bytes", "too_big", ("Ping", "pong", mal("frame of ")),
    lambda s, me: j(s, me, message={"count": 1, "pad": "p" * 7800}))
# not_utf8
add("0xFF 0xFE before an object", "not_utf8", None, lambda s, me: b"\xff\xfe{}")
add("overlong NUL in a string", "not_utf8", ("", "", mal("invalid UTF-8")),
    lambda s, me: j(s, me, receiver="po@ng").replace(b"@", b"\xc0\x80"))
add("UTF-8 encoded surrogate", "not_utf8", ("", "", mal("invalid UTF-8")),
    lambda s, me: j(s, me, receiver="po@ng").replace(b"@", b"\xed\xa0\x80"))
add("truncated multibyte sequence", "not_utf8", None, lambda s, me: b'{"a":"\xe2\x82"}')
add("Latin-1 byte in the receiver", "not_utf8", ("", "", mal("invalid UTF-8")),
    lambda s, me: j(s, me, receiver="p@ng").replace(b"@", b"\xe9"))
add("0xF5 lead byte", "not_utf8", None, lambda s, me: b'{"a":"\xf5\x80\x80\x80"}')
# bad_json
add("empty frame", "bad_json", None, lambda s, me: b"")
add("a lone brace", "bad_json", None, lambda s, me: b"{")
add("envelope cut in half", "bad_json", None, lambda s, me: j(s, me)[:40])
add("envelope missing its last brace", "bad_json", ("Ping", "pong", mal("truncated JSON")), lambda s, me: j(s, me)[:-1])
add("single quotes", "bad_json", None,
    lambda s, me: j(s, me).replace(b'"', b"'"))
add("trailing comma", "bad_json", ("Ping", "pong", mal()), lambda s, me: j(s, me)[:-1] + b',}')
add("two objects", "bad_json", ("Ping", "pong", mal("trailing data")), lambda s, me: j(s, me) + b" {}")
add("byte order mark", "bad_json", None, lambda s, me: b"\xef\xbb\xbf" + j(s, me))
add("NaN", "bad_json", ("Ping", "pong", mal('NaN is not a JSON number (field "count"')), lambda s, me: j(s, me).replace(b'"count": 1', b'"count": NaN'))
add("Infinity", "bad_json", ("Ping", "pong", mal('-Infinity is not a JSON number (field "count"')),
    lambda s, me: j(s, me).replace(b'"count": 1', b'"count": -Infinity'))
# NaN before the sender fields (message first, as some peers order it):
# still answered, the scan reads on past the word for the senders.
add("NaN before the sender fields", "bad_json", ("Ping", "pong", mal('NaN is not a JSON number (field "count"')),
    lambda s, me: json.dumps({"message": {"count": 1}, "receiver": "pong", "message_type": "Ping",
                              "sender_actor": s, "sender_endpoint": me}).encode()
    .replace(b'"count": 1', b'"count": NaN'))
add("lone surrogate escape", "bad_json", ("", "", mal()),
    lambda s, me: j(s, me, receiver="po@ng").replace(b"@", b"\\ud800"))
add("raw control character in a string", "bad_json", ("", "", mal()),
    lambda s, me: j(s, me, receiver="po@ng").replace(b"@", b"\x01"))
add("bad escape", "bad_json", ("", "", mal()), lambda s, me: j(s, me, receiver="po@ng").replace(b"@", b"\\x"))
add("leading zero", "bad_json", ("Ping", "pong", mal()), lambda s, me: j(s, me).replace(b'"count": 1', b'"count": 01'))
add("a comment", "bad_json", None, lambda s, me: b"// hi\n" + j(s, me))
add("NUL byte after the object", "bad_json", ("Ping", "pong", mal("trailing data")), lambda s, me: j(s, me) + b"\x00")
add("minus without digits", "bad_json", ("Ping", "pong", mal()),
    lambda s, me: j(s, me).replace(b'"count": 1', b'"count": -'))
add("unquoted key", "bad_json", ("", "", mal()), lambda s, me: j(s, me).replace(b'"receiver"', b"receiver"))
# too_deep (the envelope is depth 1)
add("arrays nested 9 deep", "too_deep", None, lambda s, me: b"[" * 9 + b"]" * 9)
add("message nested 8 more levels", "too_deep", ("Ping", "pong", mal("nesting deeper")),
    lambda s, me: j(s, me, message={"count": 1, "n": [[[[[[[1]]]]]]]}))
add("2000 open brackets", "too_deep", None, lambda s, me: b"[" * 2000)
# not_object
add("an array", "not_object", None, lambda s, me: b"[]")
add("a string", "not_object", None, lambda s, me: b'"hello"')
add("a number", "not_object", None, lambda s, me: b"42")
add("null", "not_object", None, lambda s, me: b"null")
add("true", "not_object", None, lambda s, me: b" true ")
add("the envelope in an array", "not_object", None, lambda s, me: b"[" + j(s, me) + b"]")
# missing_field: senders readable -> Reject
add("no receiver", "missing_field", ("Ping", "", mal('missing field "receiver"')),
    lambda s, me: j(s, me, receiver=DROP))
add("no message_type", "missing_field", ("", "pong", mal('missing field "message_type"')),
    lambda s, me: j(s, me, message_type=DROP))
add("no message", "missing_field", ("Ping", "pong", mal('missing field "message"')),
    lambda s, me: j(s, me, message=DROP))
add("empty object", "missing_field", None, lambda s, me: b"{}")
add("no receiver, no sender_endpoint", "missing_field", None,
    lambda s, me: j(s, me, receiver=DROP, sender_endpoint=DROP))
# bad_field
add("receiver is a number", "bad_field", ("Ping", "", mal('field "receiver" is not a string')),
    lambda s, me: j(s, me, receiver=7))
add("message_type is null", "bad_field", ("", "pong", mal('field "message_type" is not a string')),
    lambda s, me: j(s, me, message_type=None))
add("message is an array", "bad_field", ("Ping", "pong", mal('field "message" is not an object')),
    lambda s, me: j(s, me, message=[1]))
add("message is a string", "bad_field", ("Ping", "pong", mal('field "message" is not an object')),
    lambda s, me: j(s, me, message="{}"))
add("receiver is empty", "bad_field", ("Ping", "", mal('field "receiver" is empty')),
    lambda s, me: j(s, me, receiver=""))
add("receiver twice", "bad_field", ("Ping", "", mal('duplicate field "receiver"')),
    lambda s, me: j(s, me)[:-1] + b', "receiver": "pong"}')
add("another key twice", "bad_field", ("Ping", "pong", mal("duplicate key in the envelope")),
    lambda s, me: j(s, me, x=1)[:-1] + b', "x": 2}')
add("sender_actor is a number", "bad_field", None, lambda s, me: j(s, me, sender_actor=5))
add("sender_endpoint is an object", "bad_field", None, lambda s, me: j(s, me, sender_endpoint={}))
add("\\u0000 in the receiver", "bad_field", None, lambda s, me: j(s, me, receiver="po\u0000ng"))
add("\\u0000 in a top-level key", "bad_field", None, lambda s, me: j(s, me, **{"x\u0000": 1}))
add("\\u0000 deep in the message", "bad_field",
    ("Ping", "pong", mal("\\u0000 in a string is not supported")),
    lambda s, me: j(s, me, message={"count": 1, "note": "a\u0000b"}))
add("a Reject with a numeric receiver", "bad_field", None,
    lambda s, me: j(s, me, receiver=1, message_type="Reject"))
# too_long
add("receiver of 201 bytes", "too_long", ("Ping", "", mal("string longer than 200 bytes")),
    lambda s, me: j(s, me, receiver=LONG))
add("key of 201 bytes in the message", "too_long", ("Ping", "pong", mal("key longer than 200")),
    lambda s, me: j(s, me, message={"count": 1, LONG: 1}))
add("sender_actor of 201 bytes", "too_long", None, lambda s, me: j(s, me, sender_actor=LONG))
add("number of 64 digits", "too_long", ("Ping", "pong", mal("number longer")),
    lambda s, me: j(s, me).replace(b'"count": 1', b'"count": ' + b"9" * 64))
add("string of 101 two-byte characters", "too_long",
    ("Ping", "pong", mal("string longer than 200 bytes")),
    lambda s, me: json.dumps(env(s, me, message={"count": 1, "t": "\u00e9" * 101}),
                             ensure_ascii=False).encode())
# too_many_fields
add("envelope with 17 members", "too_many_fields",
    ("Ping", "pong", mal("envelope with 17 members")),
    lambda s, me: j(s, me, **{"x%d" % k: k for k in range(12)}))
add("message with 17 members", "too_many_fields",
    ("Ping", "pong", mal("object with more than 16 members")),
    lambda s, me: j(s, me, message={"k%d" % k: k for k in range(17)}))
add("deep object with 17 members", "too_many_fields",
    ("Ping", "pong", mal("object with more than 16 members")),
    lambda s, me: j(s, me, message={"count": 1, "d": [{"k%d" % k: k for k in range(17)}]}))
# unknown_receiver: names that do not exist (or are not remote)
add("receiver ghost", "unknown", ("Ping", "ghost", "Actor 'ghost' not found"),
    lambda s, me: j(s, me, receiver="ghost"))
add("receiver PONG", "unknown", ("Ping", "PONG", "Actor 'PONG' not found"),
    lambda s, me: j(s, me, receiver="PONG"))
add("receiver 'pong '", "unknown", ("Ping", "pong ", "Actor 'pong ' not found"),
    lambda s, me: j(s, me, receiver="pong "))
add("receiver hidden (not remote)", "unknown", ("Ping", "hidden", "Actor 'hidden' not found"),
    lambda s, me: j(s, me, receiver="hidden"))
add("receiver p\u00f6ng", "unknown", ("Ping", "p\u00f6ng", "Actor 'p\u00f6ng' not found"),
    lambda s, me: j(s, me, receiver="p\u00f6ng"))
add("receiver of 200 bytes", "unknown", ("Ping", "y" * 200, "Actor '" + "y" * 200),
    lambda s, me: j(s, me, receiver="y" * 200))
add("receiver ghost, anonymous", "unknown", None,
    lambda s, me: j(s, me, receiver="ghost", sender_actor=None, sender_endpoint=None))
add("receiver ghost, sender_endpoint not an endpoint", "unknown", None,
    lambda s, me: j(s, me, receiver="ghost", sender_endpoint="not an endpoint"))
add("a Reject for ghost", "unknown", None,
    lambda s, me: j(s, me, receiver="ghost", message_type="Reject",
                    message={"message_type": "Ping", "reason": "x", "rejected_by": "y"}))
# undeliverable: the envelope is fine, the node cannot carry its names
add("message_type with a newline", "undeliverable",
    ("Pi\nng", "pong", "Cannot deliver to 'pong'"),
    lambda s, me: j(s, me, message_type="Pi\nng"))
add("message_type of 100 bytes", "undeliverable",
    ("T" * 100, "pong", "Cannot deliver to 'pong'"),
    lambda s, me: j(s, me, message_type="T" * 100))
# worker: pong decodes and refuses
for label, count, why in (("1e300", 1e300, "integer out of range"),
                          ("-1e20", -1e20, "integer out of range"),
                          ("2^53+2", 2 ** 53 + 2, "integer out of range"),
                          ("true", True, "expected an integer"),
                          ("null", None, "expected an integer"),
                          ("[1]", [1], "expected an integer"),
                          ("a string", "1", "expected an integer"),
                          ("0.5", 0.5, "expected an integer")):
    add("count %s" % label, "worker",
        ("Ping", "pong", "Cannot decode 'Ping': field 'count': " + why),
        lambda s, me, c=count: j(s, me, message={"count": c}))
add("Ping without count", "worker", ("Ping", "pong", "Cannot decode 'Ping': field 'count': missing"),
    lambda s, me: j(s, me, message={}))
add("unknown type Pang", "worker", ("Pang", "pong", "Unknown message type 'Pang'"),
    lambda s, me: j(s, me, message_type="Pang"))
add("type Pong, no handler", "worker", ("Pong", "pong", "Actor 'pong' has no handler for 'Pong'"),
    lambda s, me: j(s, me, message_type="Pong"))
add("a Reject that does not decode", "worker", None,
    lambda s, me: j(s, me, message_type="Reject", message={"reason": 1}))

tap = Tap(timeout=55)
with tap:
    t0 = time.monotonic()
    node = Node(tap, {
        "endpoint": "tcp://127.0.0.1:*",
        "limits": {"max_frame_bytes": MAX_FRAME, "max_depth": MAX_DEPTH,
                   "max_string_bytes": MAX_STRING, "max_fields": MAX_FIELDS},
        "groups": [{"name": "pongs", "module": REMOTE_SO, "actors": [
            actor("pong", "pong", remote=True), actor("hidden", "pong")]}],
    }, name="malformed")
    st = node.start()
    ep = st["gateway"]["advertise"]
    tap.ok(len(corpus) >= 50, "a corpus of %d malformed frames" % len(corpus))

    peer = Peer("tester")
    tap.cleanups.append(peer.close)
    frames = []
    for i, (label, build, klass, rej) in enumerate(corpus):
        f = build("m%02d" % i, peer.me)
        frames.append(f)
        if klass in WIRE_CLASSES and klass != "too_big":
            assert len(f) <= MAX_FRAME, label
    # A frame of exactly max_frame_bytes is still fine.
    edge = j("tester", peer.me, message={"count": 4096, "pad": ""})
    edge = edge[:-2] + b" " * (MAX_FRAME - len(edge)) + edge[-2:]
    assert len(edge) == MAX_FRAME

    for f in frames:
        peer.send_raw(ep, f)
    peer.send_raw(ep, edge)
    # The node answers one sender in order, so once the Pong to the Ping
    # sent last is here, every Reject it will ever send us is here too.
    peer.send(ep, "pong", "Ping", {"count": 7})
    got = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        e = peer.recv(max(0.0, deadline - time.monotonic()))
        if e is None:
            break
        got.append(e)
        if e.get("message_type") == "Pong" and e["message"] == {"count": 7}:
            break
    pongs = [e["message"]["count"] for e in got if e.get("message_type") == "Pong"]
    tap.is_(pongs, [4096, 7], "the frame of exactly %d bytes and a valid Ping after the corpus "
            "both got their Pong" % MAX_FRAME)

    # ---- Rejects: exactly the expected ones, each right
    rejects = {}
    strays = []
    for e in got:
        m = reject_fields(e)
        if m is not None and e["receiver"] not in rejects:
            rejects[e["receiver"]] = (e, m)
        elif e.get("message_type") != "Pong":
            strays.append(e)
    tap.is_(strays, [], "nothing but Pongs and well-formed Rejects came back, one per sender")
    want_names = {"m%02d" % i for i, c in enumerate(corpus) if c[3]}
    tap.is_(sorted(set(rejects) - want_names), [], "no Reject for a frame that must not get one")
    bad = []
    for i, (label, build, klass, rej) in enumerate(corpus):
        if not rej:
            continue
        name = "m%02d" % i
        if name not in rejects:
            bad.append("%s: no Reject" % label)
            continue
        e, m = rejects[name]
        mt, by, reason = rej
        if (m["message_type"], m["rejected_by"]) != (mt, by) or \
                not m["reason"].startswith(reason) or e["sender_endpoint"] != ep or \
                e["sender_actor"] is not None:
            bad.append("%s: %r" % (label, e))
    tap.is_(bad, [], "each of the %d addressable frames got its anonymous Reject with the "
            "right message_type, rejected_by and reason" % len(want_names))

    # ---- counters (actorsctl status --json) add up exactly
    rc, st, err = node.ctl_json("status")
    tap.is_(rc, 0, "actorsctl --json status exits 0")
    g = st["gateway"]
    n_class = {k: sum(1 for c in corpus if c[2] == k) for k in
               WIRE_CLASSES + ("unknown", "undeliverable", "worker")}
    want_malformed = {k: n_class[k] for k in WIRE_CLASSES}
    tap.is_({k: g["malformed"].get(k) for k in WIRE_CLASSES}, want_malformed,
            "malformed counters per class: %s" % json.dumps(want_malformed))
    tap.is_(g["malformed_total"], sum(want_malformed.values()),
            "malformed_total %d" % sum(want_malformed.values()))
    tap.is_(g["frames_in"], len(corpus) + 2,
            "frames_in %d: the corpus, the edge frame and the Ping" % (len(corpus) + 2))
    tap.is_(g["unknown_receiver"], n_class["unknown"], "unknown_receiver %d" % n_class["unknown"])
    tap.is_(g["undeliverable"], n_class["undeliverable"],
            "undeliverable %d" % n_class["undeliverable"])
    tap.is_(g["rejects_sent"], len(want_names), "rejects_sent %d" % len(want_names))
    n_reject_frames = sum(1 for f, c in zip(frames, corpus) if c[2] not in WIRE_CLASSES and
                          json.loads(f).get("message_type") == "Reject")
    tap.is_(g["rejects_received"], n_reject_frames,
            "rejects_received %d (well-formed envelopes of type Reject)" % n_reject_frames)
    tap.is_(sum(n_class.values()), len(corpus), "every corpus entry has a class")

    # ---- beyond twice the limit ZeroMQ drops the connection
    import zmq.utils.monitor
    mon_push = peer.ctx.socket(zmq.PUSH)
    tap.cleanups.append(mon_push.close)
    mon = mon_push.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
    c0 = node.status()["gateway"]["connections"]
    mon_push.connect(ep)
    # The node learns a peer's address from the accepted socket (ZeroMQ's
    # monitor gives its fd).  A frame that makes ZeroMQ drop the connection
    # at once can close that fd before the node reads the accept - then it
    # logs "an unknown peer" - so let the node see the accept first.
    wait_for(lambda: node.status()["gateway"]["connections"] > c0, 10,
             "the node to see the connection accepted")
    send_frame(mon_push, b"{" + b" " * (4 * MAX_FRAME) + b"}")
    events = []

    def disconnected():
        while mon.poll(0):
            ev = zmq.utils.monitor.recv_monitor_message(mon)
            events.append(ev["event"])
        return zmq.EVENT_DISCONNECTED in events
    wait_for(disconnected, 10, "the node to drop the connection of an oversized frame")
    mon_push.disable_monitor()
    mon.close()
    tap.ok(zmq.EVENT_DISCONNECTED in events, "a frame of 4x the limit makes the node drop "
           "that connection")
    peer.send(ep, "pong", "Ping", {"count": 8})
    e = peer.recv(10)
    tap.is_(e and (e["message_type"], e["message"]), ("Pong", {"count": 8}),
            "a valid Ping afterwards still gets its Pong")
    g2 = node.status()["gateway"]
    tap.is_((g2["frames_in"], g2["malformed_total"]), (g["frames_in"] + 1, g["malformed_total"]),
            "the dropped frame was never counted as received")
    tap.ok(wait_for(lambda: node.status()["gateway"]["disconnects"] > g["disconnects"], 10,
                    "the disconnect to be counted"),
           "but the dropped connection is counted (disconnects %d -> %d)"
           % (g["disconnects"], node.status()["gateway"]["disconnects"]))
    tap.ok(wait_log(node, "gateway: connection from 127.0.0.1:"),
           "and logged with the peer's address")
    tap.ok(node.running(), "actorsd is still alive")
    tap.is_(node.group("pongs")["restarts"], 0, "the pong group never restarted")
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
