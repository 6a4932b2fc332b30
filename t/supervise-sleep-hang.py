#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-sleep-hang.py - a stopped worker that had announced sleep is
still found hung once work waits for it (issue 11.1).

An idle worker blocks on its doorbell with its `sleeping` flag set and
sends no heartbeats; that must never get it killed, even stopped.  But a
worker that is SIGSTOPped while asleep and then receives an envelope never
wakes: the supervisor must see "asleep with work pending and no heartbeat"
for longer than heartbeat_timeout_ms, kill it as hung and restart it, and
the envelope must be handled by the next worker.
"""
import os
import signal
import time

from actorsd_harness import Tap, Node, group, actor, wait_for, wait_gone

TIMEOUT_MS = 1500  # generous: a loaded CI machine must not starve a worker this long


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def same_worker_for(node, name, pid, seconds):
    """True if group `name` keeps worker pid, unrestarted, for `seconds`
    (an absence can only be shown over a window)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        g = node.group(name)
        if g["pid"] != pid or g["restarts"] != 0:
            return False
        time.sleep(0.05)
    return True


tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 5, "period_ms": 5000,
                      "groups": [
                          group("anchor", [actor("a_anchor", "pid")]),
                          group("s", [actor("a_s", "pid")], spin_us=0,
                                heartbeat_ms=100, heartbeat_timeout_ms=TIMEOUT_MS),
                      ]}, name="sleephang")
    st = node.start()
    pid = node.pids(st)["s"]
    a = node.ask("a_s", "Ping", {"count": 0})
    tap.is_(a.get("message"), {"count": pid}, "a_s answers with its pid")

    # Asleep: blocked in the kernel on its doorbell (state S), no heartbeats.
    wait_for(lambda: proc_state(pid) == "S", 10, "the worker to sleep")
    tap.ok(same_worker_for(node, "s", pid, 2.0 * TIMEOUT_MS / 1000),
           "an idle sleeping worker is not killed (2 x heartbeat timeout)")

    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: proc_state(pid) == "T", 10, "the worker to be stopped")
    tap.ok(same_worker_for(node, "s", pid, 2.0 * TIMEOUT_MS / 1000),
           "a stopped sleeping worker with no work waiting is not killed")

    t0 = time.monotonic()
    a = node.ask("a_s", "Ping", {"count": 1}, timeout_ms=10000)
    took = time.monotonic() - t0
    st = node.status()
    g = node.group("s", st)
    tap.ok(a.get("ok") and a.get("message") == {"count": g["pid"]} and g["pid"] != pid,
           "the envelope sent to the stopped worker is answered by its successor (%r)" % (a,))
    tap.ok(took < 10 * TIMEOUT_MS / 1000,
           "answered %.2f s after the send (heartbeat timeout %.1f s)" % (took, TIMEOUT_MS / 1000))
    tap.is_(g["restarts"], 1, "status: s restarts 1")
    crashes = [c for c in st["crashes"] if c["group"] == "s"]
    c = crashes[0] if crashes else {}
    tap.is_((len(crashes), c.get("pid"), c.get("hung"), c.get("signal")),
            (1, pid, True, 9), "one crash record: the old pid, hung, SIGKILL")
    tap.ok((g["last_death"] or "").startswith("hung, killed by signal 9"),
           "status: last_death %r" % g["last_death"])
    tap.is_(wait_gone([pid], 5), [], "the stopped worker is gone")
    tap.is_(g["dead_letters"], 0, "no dead letter")

    new = g["pid"]
    wait_for(lambda: proc_state(new) == "S", 10, "the new worker to sleep")
    end = time.monotonic() + 2.0 * TIMEOUT_MS / 1000
    while time.monotonic() < end and node.group("s")["pid"] == new:
        time.sleep(0.05)
    g = node.group("s")
    tap.is_((g["pid"], g["restarts"]), (new, 1), "the new worker, idle and asleep, is kept")
    tap.is_(node.group("anchor")["pid"], node.pids(st)["anchor"], "the anchor group was untouched")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
