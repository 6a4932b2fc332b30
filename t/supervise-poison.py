#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-poison.py - a poison message cannot crash-loop its group.

A producer streams Seq{7, 0..COUNT-1} to a consumer that crashes (SIGSEGV)
on seq == POISON.  After max_redeliveries (3) crashes the envelope is in
the dead-letter store (actorsctl dead-letters, STATE_DIR/dead-letters.jsonl)
and the consumer handles everything after it.  Replaying it crashes the
group three more times and parks it again.  Then the node is restarted on
the same state directory with the poison disarmed: the stored dead letters
are still listed, and replaying the first one now delivers it.
"""
import json
import os

from actorsd_harness import Tap, Node, group, actor, wait_for

COUNT = 3000
POISON = 1234
SENDER = 7

tap = Tap(timeout=60)


def read_log(path):
    try:
        with open(path) as f:
            return [tuple(int(x) for x in ln.split()) for ln in f if ln.endswith("\n")]
    except FileNotFoundError:
        return []


def read_store(node):
    try:
        with open(os.path.join(node.state_dir, "dead-letters.jsonl")) as f:
            return [json.loads(ln) for ln in f]
    except FileNotFoundError:
        return []


def dead_letters(node):
    rc, a, err = node.ctl_json("dead-letters")
    tap.ok(rc == 0 and a and a.get("ok") is True,
           "actorsctl --json dead-letters: exit 0 and ok (%s)" % err.strip())
    return (a or {}).get("dead_letters") or []


with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 100, "period_ms": 1000,
                      "backoff": {"initial_ms": 1, "factor": 2.0, "max_ms": 10,
                                  "reset_after_ms": 1000}}, name="poison")
    log = node.path("consumer.log")
    cons_args = {"log": log, "poison": POISON}
    node.app["groups"] = [
        group("cons", [actor("sink", "consumer", cons_args)], max_redeliveries=3),
        group("prod", [actor("p1", "producer", {"to": "sink", "id": SENDER, "count": COUNT,
                                                "state": node.path("p1.state")})]),
    ]
    node.start()

    # ---- the stream goes on past the poison ----------------------------------------
    want = [(SENDER, s, 0) for s in range(COUNT) if s != POISON]
    wait_for(lambda: len(read_log(log)) >= len(want), 30, "the consumer to log %d seqs"
             % len(want))
    st = node.wait_group("cons", lambda g, st: st["dead_letters"] >= 1 and
                         g["state"] == "ready", 10, "the dead letter")
    got = read_log(log)
    tap.ok(got == want, "log: every seq but the poison, once, in order, none redelivered "
           "(%d lines)" % len(got))
    cons = node.group("cons", st)
    tap.is_((cons["restarts"], cons["dead_letters"], st["dead_letters"]), (3, 1, 1),
            "status: cons restarted 3 times, 1 dead letter (group and node)")
    cr = [(c["group"], c["signal"], c["handling_from"]) for c in st["crashes"]]
    tap.is_(cr, [("cons", 11, "p1")] * 3,
            "status: 3 crash records: cons, SIGSEGV, handling a message from p1")
    tap.is_([c["handling_type"] for c in st["crashes"]], ["Seq"] * 3,
            "status: the crash records name the type Seq")
    tap.ok("from p1" in (cons["last_death"] or ""),
           "status: last_death names the sender p1 (%r)" % cons["last_death"])
    tap.ok(cons["redelivered"] >= 3, "status: redelivered %d >= 3" % cons["redelivered"])

    # ---- killed between messages: the crash record names no message --------------------
    os.kill(cons["pid"], 9)
    st = node.wait_group("cons", lambda g, st: g["restarts"] >= 4 and g["state"] == "ready",
                         10, "cons back after a SIGKILL")
    killed = [c for c in st["crashes"] if c["group"] == "cons" and c["signal"] == 9]
    tap.is_([(c["handling_type"], c["handling_from"]) for c in killed], [(None, None)],
            "status: the idle worker's SIGKILL is recorded handling nothing, from nobody "
            "(not p1, whose Seq it handled last)")

    dls = dead_letters(node)
    tap.is_(len(dls), 1, "dead-letters lists one entry")
    d = dls[0] if dls else {}
    tap.is_((d.get("type"), d.get("receiver"), d.get("group"), d.get("sender")),
            ("Seq", "sink", "cons", "p1"), "dead letter: type Seq, receiver sink, group cons, "
            "sender p1")
    tap.is_(d.get("payload"), {"sender": SENDER, "seq": POISON},
            "dead letter: payload {sender, seq} of the poison")
    tap.ok("3 times" in (d.get("reason") or "") and d.get("redeliveries") == 3,
           "dead letter: reason %r, redeliveries %r" % (d.get("reason"), d.get("redeliveries")))
    store = read_store(node)
    tap.is_(store, dls, "STATE_DIR/dead-letters.jsonl holds the same entry")
    rc, out, err = node.ctl("dead-letters")
    tap.ok(rc == 0 and "Seq" in out and "sink" in out,
           "actorsctl dead-letters (text): exit 0, names Seq and sink")
    first_id = d.get("id")

    # ---- replay: the poison kills the group again and is parked again ----------------
    rc, out, err = node.ctl("dead-letters", "replay", first_id)
    tap.is_(rc, 0, "actorsctl dead-letters replay %s: exit 0 (%s)" % (first_id, err.strip()))
    st = node.wait_group("cons", lambda g, st: st["dead_letters"] >= 2 and
                         g["state"] == "ready", 20, "the replayed poison to be parked again")
    cons = node.group("cons", st)
    tap.is_(cons["restarts"], 7, "replay: the poison crashed the group 3 more times")
    dls = dead_letters(node)
    tap.is_([x.get("id") for x in dls], [first_id, first_id + 1], "replay: a second dead letter")
    d2 = dls[-1] if dls else {}
    tap.is_((d2.get("type"), d2.get("receiver"), d2.get("payload")),
            ("Seq", "sink", {"sender": SENDER, "seq": POISON}),
            "replay: same type, receiver and payload")
    tap.is_(read_store(node), dls, "replay: the store file has both entries")
    rc, a, err = node.ctl_json("dead-letters", "replay", 999)
    tap.ok(rc == 1 and a and a.get("ok") is False and a.get("code") == "not_found",
           "replay of an unknown id: exit 1, code not_found (%r)" % (a,))
    a = node.ask("sink", "Ping", {"count": 5})
    tap.is_(a.get("message"), {"count": 5}, "the consumer still answers Ping")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")

    # ---- same state dir, poison disarmed: the store survives, replay delivers ---------
    cons_args["poison"] = -1
    node.start()
    dls = dead_letters(node)
    tap.is_([x.get("id") for x in dls], [first_id, first_id + 1],
            "after a node restart: both dead letters are still listed")
    rc, out, err = node.ctl("dead-letters", "replay", first_id)
    tap.is_(rc, 0, "replay #%s into a consumer without poison: exit 0" % first_id)
    wait_for(lambda: len(read_log(log)) >= len(want) + 1, 10, "the replayed seq in the log")
    tap.is_(read_log(log)[len(want):], [(SENDER, POISON, 0)],
            "the replayed Seq was handled once, as a fresh message")
    st = node.status()
    tap.is_((node.group("cons", st)["restarts"], st["dead_letters"]), (0, 0),
            "no crash and no new dead letter this time")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
