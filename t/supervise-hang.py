#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-hang.py - a hung worker is found by its heartbeat and restarted.

Crash{"how":"hang"} makes a handler spin forever without returning to the
worker loop, so the heartbeat in shared memory stops.  With heartbeat_ms
100 and heartbeat_timeout_ms 800 the supervisor must kill the worker
(SIGKILL, recorded as hung) and start a new one, which then answers asks.  A heartbeat written over with 0 is
reported as such, not as one missing since boot.
"""
import os
import struct
import time

from actorsd_harness import Tap, Node, group, actor, wait_gone

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 5, "period_ms": 5000,
                      "groups": [
                          group("anchor", [actor("a_anchor", "pid")]),
                          group("h", [actor("a_h", "pid")], max_redeliveries=1,
                                heartbeat_ms=100, heartbeat_timeout_ms=800),
                      ]}, name="hang")
    st = node.start()
    before = node.pids(st)
    a = node.ask("a_h", "Ping", {"count": 0})
    tap.is_(a.get("message"), {"count": before["h"]}, "before: a_h answers with its pid")

    t0 = time.monotonic()
    rc, out, err = node.ctl("send", "a_h", "Crash", '{"how":"hang"}')
    tap.is_(rc, 0, "actorsctl send a_h Crash hang: exit 0")
    # The hung worker cannot answer, and the supervisor needs about 800 ms to
    # notice: this ask times out.
    rc, out, err = node.ctl("ask", "a_h", "Ping", '{"count":1}', "--timeout", "0.2")
    tap.ok(rc == 1 and "no reply" in err,
           "an ask to the hung actor times out: exit 1 (%s)" % err.strip())

    st = node.wait_group("h", lambda g, st: g["pid"] not in (None, before["h"]) and
                         g["state"] == "ready", 20, "the hung group restarted")
    took = time.monotonic() - t0
    tap.ok(took < 10, "restarted %.2f s after the hang (heartbeat timeout 0.8 s)" % took)
    h = node.group("h", st)
    tap.is_(h["restarts"], 1, "status: h restarts 1")
    crashes = [c for c in st["crashes"] if c["group"] == "h"]
    tap.is_(len(crashes), 1, "status: one crash record for h")
    c = crashes[0] if crashes else {}
    tap.is_((c.get("pid"), c.get("hung"), c.get("signal"), c.get("handling_type")),
            (before["h"], True, 9, "Crash"),
            "crash record: old pid, hung true, SIGKILL, handling Crash")
    tap.ok((h["last_death"] or "").startswith("hung, killed by signal 9"),
           "status: last_death %r" % h["last_death"])
    tap.is_(wait_gone([before["h"]], 5), [], "the hung worker is gone")

    a = node.ask("a_h", "Ping", {"count": 2})
    tap.ok(a.get("ok") and a.get("message") == {"count": h["pid"]},
           "after: a_h answers from the new worker (%r)" % (a,))
    rc, out, err = node.ctl("ask", "a_h", "Ping", '{"count":3}')
    tap.is_((rc, out.strip()), (0, 'Pong {"count":%d}' % h["pid"]),
            "after: actorsctl ask works too")
    st = node.wait_group("h", lambda g, st: st["dead_letters"] >= 1, 10,
                         "the hanging Crash parked")
    st = node.status()
    tap.is_(node.group("anchor", st)["pid"], before["anchor"], "the anchor group was untouched")
    tap.is_(node.group("h", st)["pid"], h["pid"], "no second hang: h kept its new worker")

    # A heartbeat that reads 0 (its control block written over, as by a
    # region file cut and grown back): no worker writes 0, so the line
    # must not claim "no heartbeat for" the time since boot.
    log_at = os.path.getsize(node.log_path)
    rc, out, err = node.ctl("send", "a_h", "Crash", '{"how":"hang"}')
    time.sleep(0.3)  # in the spinning handler: no more beats
    with open(node.path("run", "region"), "r+b") as f:
        part_bytes, parts_off = struct.unpack("<IQ", f.read(56)[44:56])
        os.pwrite(f.fileno(), bytes(8), parts_off + 2 * part_bytes + 192)  # h's heartbeat_ns
    node.wait_group("h", lambda g, st: g["pid"] != h["pid"] and g["state"] == "ready", 20,
                    "the hung group restarted again")
    text = node.log_text()[log_at:]
    tap.ok("'h' (pid %d) is hung: its heartbeat in the region reads 0" % h["pid"] in text and
           "'h' (pid %d) is hung: no heartbeat" % h["pid"] not in text,
           "a zeroed heartbeat is said to read 0, not to be days old")
    tap.ok(node.running() and "the region file" not in text,
           "and the write(2) to the region file alone does not stop the node")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
