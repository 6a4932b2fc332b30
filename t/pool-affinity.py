#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-affinity.py - key_hash keeps each key on one member, in order,
even while members crash.

Two drivers (in two groups) stream Jobs of 8 keys each into a key_hash pool
of 3 members.  One Job kills its member twice (SIGSEGV; the second death
puts the member in backoff for a while), and the test SIGKILLs another
member mid-stream.  The members log the start and end of every Job to one
O_APPEND file.  Then: every Job ended exactly once; all Jobs of a key were
handled by one member; a key's Jobs from one sender ended in sequence
order; no key ever ran in two members at once; the keys of one sender
spread over the members; a Job sent as JSON by actorsctl goes to the
member of its key too; the dead members were restarted alone.
"""
import collections
import os
import signal

from actorsd_harness import Tap, Node, actor, wait_for
from pool_common import pgroup, read_log, ends, check_exclusive

KEYS = 8
PER_KEY = 60

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {"strategy": "one_for_all", "max_restarts": 20, "period_ms": 10000,
                      "backoff": {"initial_ms": 300, "factor": 2.0, "max_ms": 1000,
                                  "reset_after_ms": 60000}}, name="paff")
    log = node.path("jobs.log")
    node.app["groups"] = [
        pgroup("kh", [actor("khw", "pworker", {"log": log, "work_us": 300,
                                               "poison_key": "a3", "poison_seq": 20,
                                               "poison_times": 2})],
               pool=3, routing="key_hash", key="key", max_redeliveries=3),
        pgroup("drv1", [actor("d1", "driver", {"log": log, "to": "khw", "keys": KEYS,
                                               "per_key": PER_KEY, "prefix": "a"})]),
        pgroup("drv2", [actor("d2", "driver", {"log": log, "to": "khw", "keys": KEYS,
                                               "per_key": PER_KEY, "prefix": "b"})]),
    ]
    st = node.start()
    pools = {p["name"]: p for p in st.get("pools", [])}
    tap.ok(pools.get("kh", {}).get("routing") == "key_hash" and pools["kh"]["key"] == "key",
           "status: pool kh routes by key_hash on 'key'")

    # Kill a member that is not the poison's, mid-stream, from outside.
    def member_of(key):
        for w in read_log(log):
            if w[0] == "S" and w[3] == key:
                return int(w[1])
        return None
    wait_for(lambda: member_of("a3") is not None and len(ends(log)) > 50, 30,
             "the stream to be under way")
    victim = (member_of("a3") + 1) % 3
    pid = node.group("kh#%d" % victim)["pid"]
    os.kill(pid, signal.SIGKILL)
    tap.diag("SIGKILLed member %d (pid %d); key a3 is on member %d"
             % (victim, pid, member_of("a3")))

    total = 2 * KEYS * PER_KEY
    wait_for(lambda: len(ends(log)) >= total, 60, "all %d Jobs to end" % total)
    lines = read_log(log)
    done = ends(log)
    got = collections.Counter((e[2], e[3]) for e in done)
    want = collections.Counter(("%s%d" % (p, k), s) for p in "ab" for k in range(KEYS)
                               for s in range(PER_KEY))
    tap.ok(got == want, "every Job ended exactly once (%d)" % len(done))

    members = collections.defaultdict(set)
    for w in lines:
        if w[0] in ("S", "E"):
            members[w[3]].add(int(w[1]))
    tap.ok(all(len(m) == 1 for m in members.values()),
           "each key was handled by one member only: %s"
           % {k: sorted(m) for k, m in sorted(members.items()) if len(m) != 1})
    order_ok = True
    for key in want:
        seqs = [e[3] for e in done if e[2] == key[0]]
        order_ok &= seqs == sorted(seqs)
    tap.ok(order_ok, "each key's Jobs ended in sequence order")
    bad = check_exclusive(lines)
    tap.ok(not bad, "no key ran in two members at once %s" % bad[:3])
    spread = collections.Counter(next(iter(members["a%d" % k])) for k in range(KEYS))
    tap.ok(len(spread) >= 2, "the keys of one sender spread over members %s" % dict(spread))
    redel = [e for e in done if e[2] == "a3" and e[3] == 20]
    tap.ok(len(redel) == 1 and redel[0][4] == 2,
           "the poison Job ended once, on its third delivery (%r)" % (redel,))

    # A Job sent as JSON by a client goes where the key's Jobs went.
    home = next(iter(members["b5"]))
    rc, out, err = node.ctl("send", "khw", "Job", '{"key": "b5", "seq": 1000}')
    tap.is_(rc, 0, "actorsctl send Job{b5} accepted (%s)" % err.strip())
    wait_for(lambda: any(e[2] == "b5" and e[3] == 1000 for e in ends(log)), 10,
             "the JSON Job to end")
    tap.is_([e[0] for e in ends(log) if e[2] == "b5" and e[3] == 1000], [home],
            "the JSON Job ran on member %d, like the key's C Jobs" % home)

    st = node.wait_ready()
    rs = {g["name"]: g["restarts"] for g in st["groups"]}
    poisoned = "kh#%d" % member_of("a3")
    tap.ok(rs[poisoned] == 2 and rs["kh#%d" % victim] == 1 and
           rs["drv1"] == 0 and rs["drv2"] == 0 and sum(rs.values()) == 3,
           "only the dead members restarted, one_for_all notwithstanding: %s" % rs)
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
