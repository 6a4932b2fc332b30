#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ops-logs.py - what an operator sees of a node's processes and logs.

act_log() lines land in the node's stream tagged with node, group, actor
and pid, with control characters escaped; lines carry a UTC timestamp
unless stderr is journald's stream ($JOURNAL_STREAM); ACTORS_LOG_FORMAT=json
makes each line one JSON object.  Workers show in ps as
"actorsd: NODE/GROUP", the zygote as "actorsd: NODE/zygote".
"""
import json
import os
import re

from actorsd_harness import TESTMOD, Tap, Node, group, actor, wait_for, children

tap = Tap(timeout=60)
OPSMOD = os.path.join(os.path.dirname(TESTMOD), "opsmod.so")
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def logger_node(name, env=None):
    g = group("lg", [actor("lo", "logger")])
    g["module"] = OPSMOD
    return Node(tap, {"groups": [g]}, name=name, env=env)


def lines(node):
    with open(node.log_path, errors="replace") as f:
        return f.read().splitlines()


def read(path):
    with open(path, "rb") as f:
        return f.read()


with tap:
    # ---- text: act_log(), timestamps, process titles ------------------------------------
    node = logger_node("logs")
    st = node.start()
    wpid = node.worker_pids(st)[0]
    tap.is_(node.ask("lo", "Ping", {"count": 7}).get("message"), {"count": 7}, "lo answers")
    line = wait_for(lambda: [ln for ln in lines(node) if "ping 7" in ln], 10, "the act_log line")[0]
    m = re.match(r"^<4>(%s) logs/lg\[(\d+)\]: warning: lo: ping 7\\x0a<3>forged$" % TS, line)
    tap.ok(m and int(m.group(2)) == wpid,
           "act_log: <4>, a timestamp, node/group[worker pid], level, actor, escaped text (%r)"
           % line)
    tap.ok(not any(ln.startswith("<3>forged") for ln in lines(node)),
           "a line break in the text does not start a line")
    tap.ok(not any("debug 7" in ln for ln in lines(node)), "debug is below the default level")
    tap.ok(all(re.match(r"^<\d>%s " % TS, ln) for ln in lines(node) if ln),
           "every line carries a timestamp when stderr is not journald")

    cmd = read("/proc/%d/cmdline" % wpid)
    tap.ok(cmd.startswith(b"actorsd: logs/lg\0"), "worker cmdline: actorsd: logs/lg (%r)" % cmd[:40])
    tap.is_(read("/proc/%d/comm" % wpid), b"logs/lg\n", "worker comm: logs/lg")
    # Besides the worker: the zygote, and the prefork once it was made
    # (1 ms after the last start) and retitled.
    def titles():
        t = sorted(read("/proc/%d/cmdline" % p).rstrip(b"\0")
                   for p in children(node.proc.pid) if p != wpid)
        return t if len(t) == 2 and t[1] == b"actorsd: logs/zygote" else None
    try:
        others = wait_for(titles, 10, "the zygote and the prefork")
    except Exception:
        others = [read("/proc/%d/cmdline" % p)[:40] for p in children(node.proc.pid) if p != wpid]
    tap.ok(others and others[1] == b"actorsd: logs/zygote",
           "the zygote: actorsd: logs/zygote (%r)" % (others,))
    tap.ok(others and others[0] == b"actorsd: logs/prefork",
           "the worker forked ahead: actorsd: logs/prefork (%r)" % (others,))
    tap.ok(read("/proc/%d/cmdline" % node.proc.pid).startswith(b"/") or
           b"actorsd" in read("/proc/%d/cmdline" % node.proc.pid),
           "the supervisor keeps its own command line")
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")

    # ---- JSON lines ------------------------------------------------------------------
    node = logger_node("logsj", env={"ACTORS_LOG_FORMAT": "json"})
    st = node.start()
    wpid = node.worker_pids(st)[0]
    node.ask("lo", "Ping", {"count": 3})
    wait_for(lambda: any("ping 3" in ln for ln in lines(node)), 10, "the act_log line")
    objs, bad = [], []
    for ln in lines(node):
        try:
            objs.append(json.loads(ln))
        except ValueError:
            bad.append(ln)
    tap.ok(objs and not bad, "json: every line is one JSON object (%r)" % bad[:2])
    tap.ok(all(re.match("^%s$" % TS, o.get("ts", "")) and "level" in o and "pid" in o
               for o in objs), "json: every object has ts, level and pid")
    mine = [o for o in objs if o.get("actor") == "lo"]
    tap.ok(mine and mine[0].get("node") == "logsj" and mine[0].get("group") == "lg" and
           mine[0].get("pid") == wpid and mine[0].get("level") == "warning" and
           mine[0].get("msg") == "ping 3\n<3>forged",
           "json: the act_log line has node, group, actor, pid, level, msg (%r)" % mine[:1])
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")

    # ---- under journald: no timestamp ---------------------------------------------------
    node = logger_node("logsjd")
    open(node.log_path, "ab").close()
    s = os.stat(node.log_path)
    node.env["JOURNAL_STREAM"] = "%d:%d" % (s.st_dev, s.st_ino)
    node.start()
    node.ask("lo", "Ping", {"count": 5})
    line = wait_for(lambda: [ln for ln in lines(node) if "ping 5" in ln], 10, "the act_log line")[0]
    tap.ok(re.match(r"^<4>logsjd/lg\[\d+\]: warning: lo: ping 5", line),
           "under journald: no timestamp (journald stamps lines) (%r)" % line)
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")
