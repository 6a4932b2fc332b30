#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-kill.py - consumer death loses nothing (DESIGN.md section 8).

A producer group (two producer actors, senders 1 and 2) streams 1,000,000
Seq messages to a consumer group whose consumer logs one line "sender seq
redelivered" per completed handler.  Meanwhile the test SIGKILLs the
consumer's worker at least 12 times at random points of the stream (its
pid read from status each time).  At the end: every seq of every sender is
in the log (zero loss), a seq appears twice only when the later copy is
flagged redelivered (and it is the message that was in flight), the first
occurrences per sender are strictly increasing (FIFO), and status counts
the restarts.
"""
import os
import random
import signal
import sys
import time

from actorsd_harness import Tap, Node, group, actor, wait_for, seed_random

PER_SENDER = 500000
SENDERS = (1, 2)
TOTAL = PER_SENDER * len(SENDERS)
KILLS = 12

tap = Tap(timeout=85)
with tap:
    seed_random(tap)
    node = Node(tap, {
        "strategy": "one_for_one",
        "max_restarts": 100, "period_ms": 1000,
        "backoff": {"initial_ms": 1, "factor": 2.0, "max_ms": 20, "reset_after_ms": 50},
    }, name="kill")
    log = node.path("consumer.log")
    states = [node.path("p%d.state" % s) for s in SENDERS]
    node.app["groups"] = [
        # Start order: the consumer exists before anything is produced.
        group("cons", [actor("sink", "consumer", {"log": log})],
              ring_bytes=1048576, max_redeliveries=1000),
        group("prod", [actor("p%d" % s, "producer",
                             {"to": "sink", "id": s, "count": PER_SENDER, "state": path})
                       for s, path in zip(SENDERS, states)]),
    ]

    def produced():
        n = 0
        for p in states:
            try:
                with open(p, "rb") as f:
                    n += int.from_bytes(f.read(8), sys.byteorder)
            except OSError:
                pass
        return n

    t0 = time.monotonic()
    node.start()
    st = node.status()
    prod_pid = node.group("prod", st)["pid"]

    # ---- kill the consumer at random points of the stream
    points = sorted(random.randint(TOTAL // 50, TOTAL * 9 // 10) for _ in range(KILLS))
    kills = 0
    for target in points:
        def kill_point():
            g = node.group("cons")
            if g["state"] != "ready" or not g["pid"]:
                return None
            # Once the stream is over, the remaining kills hit an idle consumer.
            if g["handled"] >= target or (produced() >= TOTAL and g["ring_depth"] == 0):
                return g
            return None
        g = wait_for(kill_point, 30, "the consumer to handle %d messages" % target)
        old = g["pid"]
        os.kill(old, signal.SIGKILL)
        kills += 1
        node.wait_group("cons", lambda g, st: g["pid"] not in (None, old) and
                        g["state"] == "ready", 10, "consumer restarted after kill %d" % kills)
    tap.ok(kills >= 10, "killed the consumer %d times (handled at last kill: %d of %d)"
           % (kills, g["handled"], TOTAL))

    # ---- wait for the whole stream, reading the log as it grows
    seen = {s: set() for s in SENDERS}
    last_first = {s: -1 for s in SENDERS}
    order_ok = True
    bad_dups = []
    dups = 0
    flagged = 0
    lines = 0
    pos = 0
    partial = b""
    torn = []

    def consume():
        global pos, partial, lines, dups, flagged, order_ok
        with open(log, "rb") as f:
            f.seek(pos)
            data = f.read()
        pos += len(data)
        data = partial + data
        cut = data.rfind(b"\n") + 1
        partial = data[cut:]
        for ln in data[:cut].splitlines():
            # A SIGKILL can cut the consumer's write() where it crosses a
            # page boundary; the envelope then comes back (flagged) and its
            # whole line follows the torn prefix on the same line.  The
            # last three fields are that whole line.
            fields = ln.split()
            if len(fields) != 3:
                # The prefix may end inside a number, glued to the whole
                # line's sender (one digit: SENDERS are 1 and 2).
                torn.append(ln)
                fields = [fields[-3][-1:]] + fields[-2:]
            sender, seq, red = (int(x) for x in fields)
            lines += 1
            if red:
                flagged += 1
            if seq in seen[sender]:
                dups += 1
                # Only the envelope in flight at the kill comes back, and it
                # is the newest one handled from its sender.
                if not red or seq != last_first[sender]:
                    bad_dups.append((sender, seq, red))
                continue
            seen[sender].add(seq)
            if seq <= last_first[sender]:
                order_ok = False
            last_first[sender] = seq
        return sum(len(v) for v in seen.values()) >= TOTAL

    wait_for(consume, 60, "all %d seqs in the consumer's log" % TOTAL)
    elapsed = time.monotonic() - t0
    if torn:
        tap.diag("lines torn by a kill inside the consumer's write(): %r" % torn[:3])
    tap.diag("%d lines, %d duplicates, %d flagged redelivered, %.1f s" %
             (lines, dups, flagged, elapsed))

    missing = [(s, q) for s in SENDERS for q in range(PER_SENDER) if q not in seen[s]]
    tap.is_(missing[:10], [], "zero loss: every seq of every sender is in the log")
    tap.is_(bad_dups[:10], [], "every duplicate is a later copy flagged redelivered (in flight)")
    tap.ok(dups <= kills, "at most one duplicate per kill (%d <= %d)" % (dups, kills))
    tap.ok(order_ok, "per-sender order: first occurrences strictly increasing")
    tap.is_(partial, b"", "no torn line in the log")

    st = node.status()
    cons = node.group("cons", st)
    tap.ok(cons["restarts"] >= kills, "status: group cons restarts %d >= %d"
           % (cons["restarts"], kills))
    tap.ok(st["restarts"] >= kills, "status: node restarts %d >= %d" % (st["restarts"], kills))
    tap.ok(cons["redelivered"] >= flagged, "status: redelivered %d >= %d flagged lines"
           % (cons["redelivered"], flagged))
    tap.is_((cons["dead_letters"], st["dead_letters"]), (0, 0), "no dead letters")
    tap.is_(node.group("prod", st)["pid"], prod_pid, "the producer was never restarted")
    sig9 = [c for c in st["crashes"] if c["group"] == "cons" and c["signal"] == 9]
    tap.ok(len(sig9) >= min(kills, 32), "crash records show %d SIGKILLs of cons" % len(sig9))
    tap.is_(node.terminate(), 0, "actorsd stops cleanly (exit 0) on SIGTERM")
