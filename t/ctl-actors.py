#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ctl-actors.py - `actorsctl actors`: every actor of the node, static and
spawned, with its ref, group, parent, behaviour, restart type, counters,
mailbox and monitors, read from the shared region by the supervisor.

The module t/mod/obsmod.c makes the figures known in advance: "slow"
spins a given number of ms per Ping (a lower bound for its handling-time
histogram), "spawner" spawns and monitors "kid" actors and sends each one
Ping.  A slow handler with two envelopes queued behind it shows them in
its mailbox; after a restart the permanent kids are listed again.
"""
import json
import os
import socket

from actorsd_harness import Tap, Node, TOP_BUILDDIR, actor, group, wait_for

OBSMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "obsmod.so")
SPIN_MS = 3
B0_NS = 1024          # first bucket bound (layout.h ACT__STATS_B0_SHIFT)
DYN_BASE = 0x40000000

tap = Tap(timeout=90)


def by_name(ans):
    return {a["name"]: a for a in ans["actors"]}


def raw_request(node, req):
    """Sends one request and leaves the answer unread (the caller closes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(node.sock)
    s.sendall(json.dumps(req).encode() + b"\n")
    return s


with tap:
    node = Node(tap, {"groups": [group("work", [actor("slow", "slow"),
                                                actor("spawner", "spawner")],
                                       module=OBSMOD, heartbeat_timeout_ms=30000),
                                 group("other", [actor("echo1", "echo")])]},
                name="actors",
                env={"ACTORS_STATS_SAMPLE": "1"})  # time every envelope
    node.start()

    # ---- static actors: counters and the handling-time histogram ----------------
    for _ in range(2):
        r = node.ask("slow", "Ping", {"count": SPIN_MS})
        tap.is_(r.get("message"), {"count": SPIN_MS}, "slow answers after spinning")
    node.ask("echo1", "Ping", {"count": 7})
    rc, ans, err = node.ctl_json("actors")
    tap.ok(rc == 0 and ans and ans.get("ok"), "actors --json: exit 0, ok (%r)" % err)
    tap.is_(ans.get("schema_version"), 1, "the answer has schema_version 1")
    acts = by_name(ans)
    tap.is_(sorted(acts), ["echo1", "slow", "spawner"], "the three static actors are listed")
    slow = acts["slow"]
    tap.is_((slow["group"], slow["behaviour"], slow["restart"], slow["spawned"], slow["parent"],
             slow["id"], slow["gen"]),
            ("work", "slow", "permanent", False, None, 0, 0),
            "slow: group, behaviour, restart type, not spawned, no parent, ref 0/0")
    tap.is_(slow["handled"], 2, "slow handled two envelopes")
    tap.is_(acts["echo1"]["handled"], 1, "echo1 (another group) handled one")
    hist = slow["handling_hist"]
    tap.is_(sum(hist), 2, "slow's histogram holds two observations")
    # Buckets whose bound is under SPIN_MS cannot hold a handler that spun longer.
    under = [c for i, c in enumerate(hist) if (B0_NS << i) < SPIN_MS * 1000000]
    tap.is_(sum(under), 0, "no observation below %d ms" % SPIN_MS)
    tap.ok(slow["handling_ns_sum"] >= 2 * SPIN_MS * 1000000,
           "handling time sum >= 2 x %d ms (%d ns)" % (SPIN_MS, slow["handling_ns_sum"]))
    tap.is_(sum(a["handled"] for a in ans["actors"] if a["group"] == "work"),
            node.group("work")["handled"], "the actors' handled add up to their group's")

    # ---- spawned actors ---------------------------------------------------------
    r = node.ask("spawner", "Ping", {"count": 3})
    tap.is_(r.get("message"), {"count": 3}, "spawner spawned three kids")

    def kids_handled():
        a = by_name(node.request({"cmd": "actors"}))
        ks = [a.get("kid%d" % i) for i in range(3)]
        # The handled count is bumped by the handler; the ring's consumed
        # position only at the end of the worker's batch, so the mailbox
        # (a snapshot of the rings) may show the Ping a moment longer.
        return a if all(k and k["handled"] == 1 and k["mailbox"] == 0 for k in ks) else None
    acts = wait_for(kids_handled, 20, "the kids to handle their Ping, their mailboxes empty")
    kid = acts["kid1"]
    tap.is_((kid["group"], kid["behaviour"], kid["parent"], kid["spawned"], kid["restart"],
             kid["monitors"], kid["mailbox"]),
            ("work", "kid", "spawner", True, "permanent", 1, 0),
            "kid1: group, behaviour, parent, spawned, restart type, one monitor, empty mailbox")
    tap.ok(kid["id"] >= DYN_BASE and kid["gen"] >= 1, "kid1's ref is a spawn slot's (%d/%d)"
           % (kid["id"], kid["gen"]))
    tap.is_(len({acts["kid%d" % i]["id"] for i in range(3)}), 3, "the kids have distinct refs")

    rc, out, err = node.ctl("actors")
    lines = out.splitlines()
    tap.ok(rc == 0 and lines and lines[0].split()[:3] == ["NAME", "REF", "GROUP"],
           "actorsctl actors: a header line (%r)" % (lines[:1],))
    row = [l.split() for l in lines if l.startswith("kid2 ")]
    tap.ok(row and row[0][2:6] == ["work", "spawner", "kid", "permanent"],
           "kid2's row names its group, parent, behaviour and restart type (%r)" % row)
    tap.is_(len(lines), 1 + 6, "one row per actor")

    # ---- mailbox: envelopes waiting behind a slow handler -----------------------
    socks = [raw_request(node, {"cmd": "ask", "actor": "slow", "type": "Ping",
                                "message": {"count": 1000}, "timeout_ms": 20000})]
    for i in range(2):
        socks.append(raw_request(node, {"cmd": "send", "actor": "slow", "type": "Ping",
                                        "message": {"count": 0}, "timeout_ms": 20000}))

    def queued():
        a = by_name(node.request({"cmd": "actors"}))["slow"]
        return a if a["mailbox"] == 3 else None
    a = wait_for(queued, 10, "slow's mailbox to hold its three envelopes")
    tap.is_(a["mailbox"], 3, "mailbox: the envelope in the handler and the two behind it")
    for s in socks:
        s.recv(4096)
        s.close()
    a = wait_for(lambda: (lambda x: x if x["mailbox"] == 0 and x["handled"] == 5 else None)(
        by_name(node.request({"cmd": "actors"}))["slow"]), 20, "slow's mailbox to drain")
    tap.is_((a["mailbox"], a["handled"]), (0, 5), "drained: mailbox 0, five handled")
    mh = a["mailbox_hist"]
    tap.is_(sum(mh), 5, "the time-in-mailbox histogram holds one observation per envelope")
    # The two sends waited behind a 1000 ms handler that began just before them.
    long_waits = sum(c for i, c in enumerate(mh) if i > 0 and (B0_NS << (i - 1)) >= 1 << 26)
    tap.ok(long_waits >= 2, "two envelopes waited over 67 ms in the mailbox (%d did)" % long_waits)
    tap.ok(a["mailbox_ns_sum"] >= 2 * (1 << 26), "their wait is in the sum (%d ns)"
           % a["mailbox_ns_sum"])

    # ---- a restart re-creates the permanent kids --------------------------------
    rc, out, err = node.ctl("restart", "work")
    tap.is_(rc, 0, "restart work: exit 0 (%s)" % err.strip())
    acts = by_name(node.request({"cmd": "actors"}))
    tap.ok(all("kid%d" % i in acts for i in range(3)), "the kids are listed after the restart")
    tap.is_((acts["kid0"]["restarts"], acts["slow"]["restarts"], acts["echo1"]["restarts"]),
            (1, 1, 0), "restarts: one for the group's actors, none for the other group's")

    rc, out, err = node.ctl("actors", "extra")
    tap.is_(rc, 2, "actors with an argument: usage error")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
