#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-routing.py - pools route by their policy, and answers find their way.

  - round_robin: one sender's Jobs spread over 3 members within +-1 each;
  - least_loaded: every Job handled once, by more than one member;
  - asks into a pool (from an actor and from actorsctl) are answered by a
    member, and the answers reach the asker;
  - asks from a pool's members to an ordinary actor: each answer reaches
    the member that asked (none times out);
  - status shows the members (pid, state, restarts, ring depth) and the
    pools; a spawn into a pool is refused (-EOPNOTSUPP).
"""
import collections

from actorsd_harness import Tap, Node, actor, wait_for
from pool_common import pgroup, read_log, ends

N_RR = 300
N_LL = 200
N_ASK = 60

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {"strategy": "one_for_one", "max_restarts": 10}, name="proute")
    rr_log, ll_log, ask_log, back_log = (node.path(x) for x in
                                         ("rr.log", "ll.log", "ask.log", "back.log"))
    node.app["groups"] = [
        pgroup("rr", [actor("rrw", "pworker", {"log": rr_log})], pool=3),
        pgroup("ll", [actor("llw", "pworker", {"log": ll_log, "work_us": 200})], pool=3,
               routing="least_loaded"),
        pgroup("echoes", [actor("echo", "echo")]),
        pgroup("back", [actor("backw", "asker", {"log": back_log, "to": "echo",
                                                 "count": N_ASK})], pool=2),
        pgroup("drv", [actor("d1", "driver", {"log": rr_log, "to": "rrw", "keys": 1,
                                              "per_key": N_RR}),
                       actor("d2", "driver", {"log": ll_log, "to": "llw", "keys": 4,
                                              "per_key": N_LL // 4}),
                       actor("a1", "asker", {"log": ask_log, "to": "rrw", "count": N_ASK})]),
    ]
    st = node.start()

    # ---- status --------------------------------------------------------------------
    names = [g["name"] for g in st["groups"]]
    tap.is_(names, ["rr#0", "rr#1", "rr#2", "ll#0", "ll#1", "ll#2", "echoes", "back#0",
                    "back#1", "drv"], "status: a pool's members are groups NAME#k, in place")
    m = node.group("rr#1", st)
    tap.ok(m["pool"] == "rr" and m["member"] == 1 and m["pid"] and m["state"] == "ready"
           and "ring_depth" in m and m["restarts"] == 0,
           "status: member rr#1 has pool, member, pid, state, restarts, ring depth")
    tap.ok(node.group("echoes", st)["pool"] is None, "status: a plain group has pool null")
    pools = {p["name"]: p for p in st.get("pools", [])}
    tap.is_(sorted(pools), ["back", "ll", "rr"], "status: pools lists the three pools")
    tap.ok(pools.get("ll", {}).get("routing") == "least_loaded" and
           pools["ll"]["members"] == 3 and pools["ll"]["ready"] == 3,
           "status: pool ll: least_loaded, 3 members, 3 ready")
    rc, out, err = node.ctl("status")
    tap.ok(rc == 0 and "rr#2" in out and "pool rr" in out,
           "actorsctl status (text) lists members and the pool line")

    # ---- round robin fairness ------------------------------------------------------
    wait_for(lambda: len(ends(rr_log)) >= N_RR + N_ASK * 0, 30, "the round-robin Jobs")
    done = [e for e in ends(rr_log)]
    per = collections.Counter(e[0] for e in done)
    tap.is_(sorted(e[3] for e in done), list(range(N_RR)), "round_robin: every Job once")
    tap.ok(len(per) == 3 and max(per.values()) - min(per.values()) <= 1,
           "round_robin: per member %s, within +-1 of %d" % (dict(per), N_RR // 3))

    # ---- least loaded --------------------------------------------------------------
    wait_for(lambda: len(ends(ll_log)) >= N_LL, 30, "the least-loaded Jobs")
    done = ends(ll_log)
    got = sorted((e[2], e[3]) for e in done)
    tap.is_(got, sorted(("k%d" % k, s) for k in range(4) for s in range(N_LL // 4)),
            "least_loaded: every Job once")
    per = collections.Counter(e[0] for e in done)
    tap.ok(len(per) >= 2, "least_loaded: spread over %d members %s" % (len(per), dict(per)))

    # ---- asks into the pool ----------------------------------------------------------
    def answers(path):
        return [w for w in read_log(path) if w[0] in ("A", "T", "X")]
    wait_for(lambda: len(answers(ask_log)) >= N_ASK, 30, "the asker's answers")
    a = answers(ask_log)
    tap.ok(all(w[0] == "A" for w in a) and
           sorted(int(w[2]) for w in a) == list(range(N_ASK)),
           "ask into a pool: %d answers, no timeout" % len(a))
    tap.ok(all(int(w[3]) // 100 == int(w[2]) for w in a),
           "ask into a pool: each answer is for its request")
    tap.is_(sorted(set(int(w[3]) % 100 for w in a)), [0, 1, 2],
            "ask into a pool: answered by all three members (round robin)")
    r = node.ask("rrw", "Ping", {"count": 7})
    tap.ok(r.get("ok") and r.get("message", {}).get("count", 0) // 100 == 7,
           "actorsctl ask into a pool answered: %r" % (r.get("message"),))
    seen = set()
    for i in range(6):
        r = node.ask("rrw", "Ping", {"count": i})
        seen.add(r.get("message", {}).get("count", -1) % 100)
    tap.is_(sorted(seen), [0, 1, 2], "actorsctl asks: the supervisor round-robins too")

    # ---- asks out of the pool: answers go back to the asking member ------------------
    wait_for(lambda: len(answers(back_log)) >= 2 * N_ASK, 30, "the pool askers' answers")
    a = answers(back_log)
    by_member = collections.Counter(int(w[1]) for w in a if w[0] == "A")
    tap.ok(all(w[0] == "A" for w in a) and by_member == {0: N_ASK, 1: N_ASK},
           "asks from pool members: every answer reached its asker %s" % dict(by_member))

    # ---- spawning into a pool ----------------------------------------------------------
    rc, j, err = node.ctl_json("spawn", "rr", "echo")
    tap.ok(rc != 0 and j and j.get("ok") is False and "supported" in j.get("error", ""),
           "actorsctl spawn into a pool: refused (%s)" % (j or {}).get("error"))
    st = node.status()
    tap.ok(all(g["restarts"] == 0 for g in st["groups"]), "no member crashed or restarted")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
