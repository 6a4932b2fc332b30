#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-keyless.py - a key_hash pool's message without a usable key goes
to member 0, always, and is counted and logged; it is never spread round
robin (which would let two members handle keyless messages at once).

  - pool "nk" routes on a field its Job type lacks ("user"): a driver's
    Jobs (C structs) all go to member 0;
  - pool "kh" routes on "key": Pings asked by actorsctl (JSON without a
    "key") are all answered by member 0; a Job whose key is an array is
    counted too (then rejected by the decoder); Jobs with string keys
    still go to their keys' members;
  - the counts show in status (pools[].keyless), actorsctl actors and the
    metrics (actors_actor_keyless); the log names the pool and the key once.
"""
import collections

from actorsd_harness import Tap, Node, actor, wait_for
from pool_common import pgroup, ends

N = 30
N_ASK = 12

tap = Tap(timeout=90)

with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 10}, name="pkeyless")
    nk_log, kh_log = node.path("nk.log"), node.path("kh.log")
    node.app["groups"] = [
        pgroup("nk", [actor("nkw", "pworker", {"log": nk_log})], pool=3,
               routing="key_hash", key="user"),
        pgroup("kh", [actor("khw", "pworker", {"log": kh_log})], pool=3,
               routing="key_hash", key="key"),
        pgroup("drv", [actor("d1", "driver", {"log": nk_log, "to": "nkw", "keys": 3,
                                              "per_key": N // 3})]),
    ]
    node.start()

    # ---- C structs from a worker, the pool's key field missing from the type -------
    wait_for(lambda: len(ends(nk_log)) >= N, 30, "the driver's Jobs")
    per = collections.Counter(e[0] for e in ends(nk_log))
    tap.is_(dict(per), {0: N}, "no key field in the type: every Job went to member 0")

    # ---- JSON from actorsctl: a type without the key field -----------------------------
    # pworker answers Ping{count} with count * 100 + its member.
    members = collections.Counter()
    for i in range(N_ASK):
        r = node.ask("khw", "Ping", {"count": i})
        members[r.get("message", {}).get("count", -1) % 100] += 1
    tap.is_(dict(members), {0: N_ASK}, "Ping (no 'key' field) asked %d times: member 0 "
            "answered all" % N_ASK)
    # A Job whose key is not a string cannot be decoded (Reject), but it was
    # routed without a key all the same: counted.
    r = node.send("khw", "Job", {"key": [1], "seq": 1})
    tap.ok(not r.get("ok") and "field 'key'" in r.get("error", ""),
           "a Job with an array key is rejected by the decoder: %s" % r.get("error"))
    # A string key still picks by its hash: find one that is not member 0's.
    for i in range(40):
        node.send("khw", "Job", {"key": "s%d" % i, "seq": 100 + i})
    wait_for(lambda: len(ends(kh_log)) >= 40, 30, "the keyed JSON Jobs")
    keyed = set(e[0] for e in ends(kh_log) if e[3] >= 100)
    tap.ok(len(keyed) > 1, "string keys still spread over the members: %s" % sorted(keyed))

    # ---- counted and logged ------------------------------------------------------------
    pools = {p["name"]: p for p in node.status().get("pools", [])}
    tap.is_((pools["nk"].get("keyless"), pools["kh"].get("keyless")), (N, N_ASK + 1),
            "status: pools[].keyless counts the keyless sends")
    rc, j, err = node.ctl_json("actors")
    acts = {a["name"]: a for a in (j or {}).get("actors", [])}
    tap.is_((acts.get("nkw", {}).get("keyless"), acts.get("khw", {}).get("keyless"),
             acts.get("d1", {}).get("keyless")), (N, N_ASK + 1, 0),
            "actorsctl actors: keyless per actor")
    rc, out, err = node.ctl("metrics")
    tap.ok(rc == 0 and 'actors_actor_keyless_total{group="nk#0",actor="nkw"} %d\n' % N in out,
           "metrics: actors_actor_keyless of nkw is %d" % N)
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    tap.ok("pool 'nk' routes by key_hash on 'user', but a 'Job' message has no such field"
           in log, "the worker's log line names the pool, its key and the type")
    tap.is_(log.count("pool 'kh' routes by key_hash on 'key'"), 1,
            "the supervisor logs pool kh's keyless sends once")
    tap.ok(all(g["restarts"] == 0 for g in node.status()["groups"]), "nothing restarted")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
