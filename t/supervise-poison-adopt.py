#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-poison-adopt.py - a restart of actorsd between a poison
envelope's deaths does not take one of them back.

The consumer crashes (SIGSEGV) on seq == POISON; max_redeliveries is 3
and the restart backoff 1.5 s (the first restart is at once).  After the
first deaths, while the group waits out its backoff, actorsd is SIGKILLed and started again: the new
one adopts the region and restarts the group at once.  The envelope must
go to the dead letters after 3 deaths in all, as without the restart.
Before, the adopting supervisor forgave the last start of the envelope
(as for a worker its own death had killed), though the last supervisor
had seen that worker die of the envelope and counted it: every restart
of actorsd between two deaths allowed one more (an outside attack, stop
34: 4 deaths with one restart, 5 with two).
"""
import os
import signal

from actorsd_harness import Tap, Node, group, actor, wait_for

POISON = 5

tap = Tap(timeout=90)


def deaths(node):
    return node.log_text().count("killed by signal 11")


def read_log(path):
    try:
        with open(path) as f:
            return [tuple(int(x) for x in ln.split()) for ln in f if ln.endswith("\n")]
    except FileNotFoundError:
        return []


with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 100, "period_ms": 1000,
                      "backoff": {"initial_ms": 1500, "factor": 1.0, "max_ms": 1500,
                                  "reset_after_ms": 60000}}, name="poison-adopt")
    log = node.path("consumer.log")
    node.app["groups"] = [
        group("cons", [actor("sink", "consumer", {"log": log, "poison": POISON})],
              max_redeliveries=3),
    ]
    node.start()
    for i in range(10):
        rc, out, err = node.ctl("send", "sink", "Seq", '{"sender": 1, "seq": %d}' % i)
        if i < POISON:
            tap.is_(rc, 0, "Seq %d sent" % i)
        if i == POISON:
            break
    st = node.wait_group("cons", lambda g, st: g["state"] == "backoff", 20,
                         "the poison's deaths, then the backoff")
    before = deaths(node)
    tap.ok(1 <= before < 3, "the poison killed the group %d times, and it waits out its "
           "backoff" % before)
    os.kill(node.proc.pid, signal.SIGKILL)
    node.proc.wait()
    node.start(timeout=30)
    tap.ok(node.status().get("recovered"), "the new actorsd adopted the region")
    for i in range(POISON + 1, 10):
        rc, out, err = node.ctl("send", "sink", "Seq", '{"sender": 1, "seq": %d}' % i)
    wait_for(lambda: len(read_log(log)) >= 9, 30, "the consumer to log every seq but the poison")
    tap.is_(deaths(node), 3, "the poison killed its group 3 times in all (max_redeliveries), "
            "%d of them before actorsd's restart" % before)
    rc, a, err = node.ctl_json("dead-letters")
    dls = (a or {}).get("dead_letters") or []
    tap.ok(len(dls) == 1 and dls[0].get("payload") == {"sender": 1, "seq": POISON} and
           dls[0].get("redeliveries") == 3,
           "it is the one dead letter, redeliveries 3 (%r)" % ([(d.get("payload"),
                                                                  d.get("redeliveries"))
                                                                 for d in dls],))
    tap.is_([s for (_, s, r) in read_log(log)], [s for s in range(10) if s != POISON],
            "every other seq was handled once, in order")
