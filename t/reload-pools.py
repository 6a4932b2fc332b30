#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-pools.py - a reload in a node whose pool sits before other groups.

A pool's members are groups of their own in the node, inserted at the
pool's place ("p#0", "p#1", then the file's next group), so the node's
groups and the file's are not one for one.  A reload must still restart
exactly the groups whose settings changed: a change to the group after
the pool restarts that group alone (it once restarted the pool's second
member with the other group's module, which died until the restart
intensity stopped the node), and a change to the pool restarts its
members alone.  The node keeps running and every group answers.
"""
import json

from actorsd_harness import Tap, Node, group, actor

tap = Tap(timeout=120)


def pids(node):
    return {g["name"]: g["pid"] for g in node.status()["groups"]}


def reload_with(node, change):
    app = json.load(open(node.app_path))
    change(app)
    return node.reload(app)


with tap:
    p = group("p", [actor("pa", "pid")])
    p["pool"] = 2
    node = Node(tap, {"groups": [p, group("b", [actor("pb", "pid")]),
                                 group("c", [actor("pc", "pid")])]}, name="rlp")
    node.start()
    before = pids(node)
    tap.is_(sorted(before), ["b", "c", "p#0", "p#1"], "the node runs p#0, p#1, b, c")

    def b_heartbeat(app):
        app["groups"][1]["heartbeat_ms"] = 77
    rc, out, err = reload_with(node, b_heartbeat)
    tap.is_(rc, 0, "a settings change of b (after the pool) reloads: %s%s" % (out.strip(),
                                                                             err.strip()))
    after = pids(node)
    tap.is_(sorted(k for k in before if before[k] != after.get(k)), ["b"],
            "b alone was restarted, not the pool's member in b's place")
    for name in ("pa", "pb", "pc"):
        a = node.ask(name, "Ping", {"count": 1})
        tap.ok(a.get("ok"), "%s answers after the reload" % name)

    before = after

    def p_heartbeat(app):
        app["groups"][0]["heartbeat_ms"] = 66
    rc, out, err = reload_with(node, p_heartbeat)
    tap.is_(rc, 0, "a settings change of the pool reloads: %s%s" % (out.strip(), err.strip()))
    after = pids(node)
    tap.is_(sorted(k for k in before if before[k] != after.get(k)), ["p#0", "p#1"],
            "the pool's two members were restarted, b and c were not")
    st = node.status()
    tap.ok(all(g["state"] == "ready" for g in st["groups"]),
           "every group is ready: %s" % [(g["name"], g["state"]) for g in st["groups"]])
    a = node.ask("pa", "Ping", {"count": 2})
    tap.ok(a.get("ok"), "the pool's actor answers after its reload")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
