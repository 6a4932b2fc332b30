#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/control-send.py - `actorsctl send` checks its message like `ask` does.

A send the receiver accepts exits 0 and leaves no dead letter.  A send
with a misspelled type, a field of the wrong type, a missing field or an
unknown actor exits 1 with the reason; the node logs each rejection (at
most 10 lines per 10 s, then a count) and keeps the rejected message as a
dead letter with the reason and the payload.  A dead letter replayed
through the same path is checked again.
"""
import json
import time

from actorsd_harness import Tap, Node, group, actor, wait_for

tap = Tap(timeout=90)


def dead_letters(node):
    a = node.request({"cmd": "dead_letters"})
    return a.get("dead_letters", []), a.get("total")


def log_lines(node, needle):
    with open(node.log_path, errors="replace") as f:
        return [l for l in f if needle in l]


with tap:
    node = Node(tap, {"groups": [group("g", [actor("e", "echo")])]}, name="send")
    node.start()

    # ---- accepted -------------------------------------------------------------------
    rc, out, err = node.ctl("send", "e", "Ping", '{"count":1}')
    tap.ok(rc == 0 and not out and not err, "a good send: exit 0, silent (%d %r)" % (rc, err))
    dl, total = dead_letters(node)
    tap.is_(total, 0, "a good send leaves no dead letter")
    a = node.send("e", "Ping", {"count": 2})
    tap.is_(a, {"ok": True}, "protocol: a good send answers {\"ok\":true}")

    # ---- names: the node's own, 1..63 bytes; actorsctl refuses longer ones itself
    rc, out, err = node.ctl("send", "e", "P" * 64, '{"count":1}')
    tap.ok(rc == 2 and "1..63 bytes" in err,
           "a 64-byte type name: usage error naming the limit (%d %r)" % (rc, err.strip()))
    rc, out, err = node.ctl("--help")
    tap.ok(rc == 0 and "1..63 bytes" in out, "the help states the name limit")

    # ---- rejected: each kind of bad input -------------------------------------------
    cases = [
        ("misspelled type", "Pnig", '{"count":1}', "Unknown message type 'Pnig'"),
        ("field of the wrong type", "Ping", '{"count":"one"}', "field 'count'"),
        ("a float for an integer", "Ping", '{"count":1.5}', "count"),
        ("built-in type from outside", "Start", '{}', "cannot be sent from outside"),
    ]
    for i, (what, type_, msg, reason) in enumerate(cases):
        rc, out, err = node.ctl("send", "e", type_, msg)
        tap.ok(rc == 1 and reason in err and "rejected" in err,
               "%s: exit 1 with the reason (%d %r)" % (what, rc, err.strip()))
        dl, total = dead_letters(node)
        last = dl[-1] if dl else {}
        tap.ok(total == i + 1 and last.get("type") == type_ and last.get("receiver") == "e" and
               reason in last.get("reason", "") and last.get("payload") == json.loads(msg) and
               last.get("from_outside") is True,
               "%s: kept as dead letter #%s with the reason and payload (%r)"
               % (what, last.get("id"), last))
        tap.ok(any(reason in l and "rejected" in l for l in log_lines(node, "rejected")),
               "%s: the node logs the rejection" % what)

    rc, out, err = node.ctl("send", "nobody", "Ping", '{"count":1}')
    tap.ok(rc == 1 and "not found" in err, "unknown actor: exit 1, not found (%r)" % err.strip())

    # ---- the same over the protocol --------------------------------------------------
    a = node.send("e", "Pnig", {"count": 1})
    tap.ok(a.get("ok") is False and a.get("code") == "rejected" and
           "Unknown message type 'Pnig'" in a.get("error", ""),
           "protocol: a rejected send answers ok:false, code rejected (%r)" % (a,))

    # ---- replay goes through the same check ------------------------------------------
    dl, total = dead_letters(node)
    rc, out, err = node.ctl("dead-letters", "replay", dl[0]["id"])
    tap.ok(rc == 1 and "Unknown message type 'Pnig'" in err,
           "replaying a rejected dead letter is rejected again (%d %r)" % (rc, err.strip()))
    dl2, total2 = dead_letters(node)
    tap.is_(total2, total + 1, "the replay's rejection is a new dead letter")

    # ---- rate-limited log -------------------------------------------------------------
    before = len(log_lines(node, "from actorsctl rejected"))
    n_bad = 30
    t0 = time.monotonic()
    rcs = [node.send("e", "Bad%d" % k, {"count": k}).get("code") for k in range(n_bad)]
    took = time.monotonic() - t0
    tap.is_(rcs, ["rejected"] * n_bad, "%d bad sends all rejected" % n_bad)
    dl, total3 = dead_letters(node)
    tap.is_(total3, total2 + n_bad, "all %d kept as dead letters" % n_bad)
    logged = len(log_lines(node, "from actorsctl rejected")) - before
    if took < 9:
        tap.ok(logged <= 10, "the log is rate-limited: %d of %d logged" % (logged, n_bad))
    else:
        tap.ok(True, "# SKIP the bad sends took %.1f s, longer than a log window" % took)

    # ---- the worker is unharmed --------------------------------------------------------
    a = node.ask("e", "Ping", {"count": 7})
    tap.is_(a.get("message"), {"count": 7}, "the receiver still answers")
    tap.is_(node.terminate(), 0, "the node stops cleanly")
    tap.ok(wait_for(lambda: log_lines(node, "were not logged"), 5, "the suppressed count"),
           "the suppressed rejections are counted in the log")

    # ---- a receiver that is busy: queued, and still checked later ---------------------
    node = Node(tap, {"groups": [group("h", [actor("e", "echo")], max_redeliveries=1,
                                       heartbeat_ms=100, heartbeat_timeout_ms=800)]},
                name="send-busy")
    node.start()
    t0 = time.monotonic()
    rc, out, err = node.ctl("send", "e", "Crash", '{"how":"hang"}')
    took = time.monotonic() - t0
    tap.ok(rc == 0 and took < 3, "a send whose handler hangs: exit 0 in %.2f s (%r)"
           % (took, err.strip()))
    a = node.request({"cmd": "send", "actor": "e", "type": "Pnig", "message": {"count": 1},
                      "timeout_ms": 100})
    tap.is_(a, {"ok": True, "queued": True},
            "a send behind the hung handler: queued after timeout_ms")
    def pnig():
        dl, total = dead_letters(node)
        return [d for d in dl if d.get("type") == "Pnig"]
    late = wait_for(pnig, 20, "the queued bad send to be rejected")
    tap.ok(late and "Unknown message type 'Pnig'" in late[0].get("reason", "") and
           late[0].get("payload") == {"count": 1},
           "rejected after the restart: kept as a dead letter with the reason (%r)" % late)
    tap.ok(wait_for(lambda: log_lines(node, "send of Pnig"), 5, "the log line"),
           "... and logged")
    tap.is_(node.terminate(), 0, "the second node stops cleanly")
