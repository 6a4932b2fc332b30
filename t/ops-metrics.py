#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ops-metrics.py - `actorsctl metrics` and the counters of status --json.

The metrics text is parsed by a real OpenMetrics parser (Debian's
python3-prometheus-client; the test skips without it) and must agree with
status --json taken while the node is idle.  status --json carries a
schema_version, and its three dead-letter counts say what each counts:
the node's records, the sum of the groups' counters, the store.
"""
import sys

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("1..0 # SKIP python3-prometheus-client (prometheus_client) is not installed")
    sys.exit(0)

from actorsd_harness import Tap, Node, group, actor

tap = Tap(timeout=60)

with tap:
    node = Node(tap, {"groups": [group(g, [actor("a_" + g, "pid")])
                                 for g in ("alpha", "beta")]}, name="metrics")
    node.start()
    for i in range(3):
        node.ask("a_alpha", "Ping", {"count": i})
    rc, out, err = node.ctl("send", "a_beta", "Pnig", '{"count":1}')
    tap.is_(rc, 1, "a misspelled type is rejected (a dead letter)")

    # ---- status --json ---------------------------------------------------------------
    rc, st, err = node.ctl_json("status")
    tap.is_(rc, 0, "status --json: exit 0")
    tap.is_(st.get("schema_version"), 1, "status --json has schema_version 1")
    dl = node.request({"cmd": "dead_letters"})
    tap.is_(st.get("dead_letters_in_groups"), sum(g["dead_letters"] for g in st["groups"]),
            "dead_letters_in_groups is the sum of the groups' dead_letters")
    tap.is_(st.get("dead_letters_stored"), dl.get("total"),
            "dead_letters_stored is the store's total")
    tap.is_(st.get("dead_letters"), 1, "dead_letters: the one the node recorded in this run")

    # ---- metrics -----------------------------------------------------------------------
    rc, text, err = node.ctl("metrics")
    tap.ok(rc == 0 and not err, "actorsctl metrics: exit 0, nothing on stderr (%r)" % err)
    tap.ok(text.endswith("# EOF\n"), "the text ends with # EOF")
    try:
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        parsed = True
    except Exception as e:  # the parser's ValueError and friends
        tap.diag("parse error: %s" % e)
        tap.diag(text)
        fams, parsed = {}, False
    tap.ok(parsed, "the OpenMetrics parser accepts the text (%d families)" % len(fams))

    def value(fam, name, **labels):
        for s in fams[fam].samples if fam in fams else []:
            if s.name == name and s.labels == labels:
                return s.value
        return None

    st = node.status()
    for g in st["groups"]:
        gl = {"group": g["name"]}
        got = (value("actors_group_handled", "actors_group_handled_total", **gl),
               value("actors_group_refused", "actors_group_refused_total", **gl),
               value("actors_group_redelivered", "actors_group_redelivered_total", **gl),
               value("actors_group_dead_letters", "actors_group_dead_letters_total", **gl),
               value("actors_group_restarts", "actors_group_restarts_total", **gl),
               value("actors_group_ring_depth", "actors_group_ring_depth", **gl),
               value("actors_group_ring_hwm", "actors_group_ring_hwm", **gl),
               value("actors_group_ring_capacity_bytes", "actors_group_ring_capacity_bytes", **gl),
               value("actors_group_up", "actors_group_up", **gl))
        want = (g["handled"], g["refused"], g["redelivered"], g["dead_letters"], g["restarts"],
                g["ring_depth"], g["ring_hwm"], g["ring_capacity"], 1)
        tap.is_(got, want, "group %s: metrics agree with status" % g["name"])
    tap.ok(value("actors_group_handled", "actors_group_handled_total", group="alpha") >= 3,
           "alpha handled the three asks")
    tap.is_(value("actors_node_dead_letters", "actors_node_dead_letters_total"),
            st["dead_letters"], "node dead letters agree with status")
    tap.is_(value("actors_dead_letters_stored", "actors_dead_letters_stored"),
            st["dead_letters_stored"], "stored dead letters agree with status")
    tap.is_(fams["actors_node_restarts"].type if "actors_node_restarts" in fams else None,
            "counter", "restarts is a counter")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
