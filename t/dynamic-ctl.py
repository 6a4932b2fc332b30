#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/dynamic-ctl.py - actors at run time from the command line:
`actorsctl spawn GROUP BEHAVIOUR [NAME] [ARGS_JSON]` creates one (the
behaviour comes from the group's module), `send`/`ask` reach it by name,
`actorsctl stop ACTOR` stops it; bad requests get clear errors and exit
codes, and the node keeps running.
"""
from actorsd_harness import Tap, Node, group, actor, wait_for

tap = Tap(timeout=90)

with tap:
    node = Node(tap, {"groups": [group("g", [actor("e", "echo")]),
                                 group("s", [actor("p", "pid")])]}, name="dynctl")
    node.start()

    rc, out, err = node.ctl("spawn", "s", "echo", "sess1")
    tap.ok(rc == 0 and out.strip() == "sess1", "spawn with a name: exit 0, prints it (%d %r %r)"
           % (rc, out, err))
    rc, out, err = node.ctl("ask", "sess1", "Ping", '{"count":5}')
    tap.ok(rc == 0 and out.startswith("Pong") and '"count":5' in out,
           "ask reaches the spawned actor by name (%d %r %r)" % (rc, out, err))
    rc, out, err = node.ctl("send", "sess1", "Ping", '{"count":6}')
    tap.ok(rc == 0, "send reaches it too (%d %r)" % (rc, err))

    rc, out, err = node.ctl("spawn", "g", "echo", "sess1")
    tap.ok(rc == 1 and "exists" in err, "the same name again, in another group: exit 1, exists "
           "(%d %r)" % (rc, err))
    rc, out, err = node.ctl("spawn", "g", "echo", "e")
    tap.ok(rc == 1 and "exists" in err, "a declared actor's name: exit 1 (%d %r)" % (rc, err))
    rc, out, err = node.ctl("spawn", "nogroup", "echo")
    tap.ok(rc == 1 and "not_found" in err, "unknown group: exit 1, not_found (%d %r)" % (rc, err))
    rc, out, err = node.ctl("spawn", "g", "nosuch", "nb")
    tap.ok(rc == 1 and "unknown behaviour 'nosuch' in group 'g'" in err,
           "unknown behaviour: exit 1, named with its group (%d %r)" % (rc, err))
    rc, out, err = node.ctl("ask", "nb", "Ping", '{"count":1}')
    tap.ok(rc == 1 and "not_found" in err, "and nothing was created (%d %r)" % (rc, err))
    rc, out, err = node.ctl("spawn", "g", "echo", "nb")
    tap.ok(rc == 0, "its name is still free (%d %r)" % (rc, err))
    # forged requests: a name that is not a string, a NUL escape, args too long
    r = node.request({"cmd": "spawn", "group": "g", "behaviour": "echo", "name": 5})
    tap.ok(not r.get("ok") and r.get("code") == "usage" and "string" in r.get("error", ""),
           "a name that is not a string: usage error, nothing spawned (%r)" % r)
    r = node.request({"cmd": "spawn", "group": "g", "behaviour": "echo", "name": "nu\u0000l"})
    tap.ok(not r.get("ok") and "NUL" in r.get("error", ""), "a NUL in the name: refused, "
           "not cut short (%r)" % r)
    rc, out, err = node.ctl("ask", "nu", "Ping", '{"count":1}')
    tap.ok(rc == 1, "no actor 'nu' was made of it (%d)" % rc)
    r = node.request({"cmd": "spawn", "group": "g", "behaviour": "echo", "name": "oa",
                      "args": {"k": [1, 2]}})
    tap.ok(r.get("ok") is True and r.get("name") == "oa", "args as a JSON value, not text: "
           "taken as that JSON (%r)" % r)
    rc, out, err = node.ctl("spawn", "g", "echo", "big", '{"a":"' + "x" * 5000 + '"}')
    tap.ok(rc == 1 and "more than 743" in err, "args too long: exit 1, the limit named (%d %r)"
           % (rc, err))
    for nm in ("x/y", "x y", "caf\u00e9"):
        rc, out, err = node.ctl("spawn", "g", "echo", nm)
        tap.ok(rc == 0 and out.strip() == nm, "a name with '/', a space or UTF-8 is a name "
               "like any (%r: %d %r)" % (nm, rc, err))
        node.ctl("stop", nm)
    for nm in ("x@y", "topic:x", "r~ask-1.0000000000000001"):
        rc, out, err = node.ctl("spawn", "g", "echo", nm)
        tap.ok(rc == 1 and not out.strip() and "must not" in err, "a name the wire or act_lookup() reads as "
               "something else is refused (%r: %d %r)" % (nm, rc, err))
    rc, out, err = node.ctl("spawn", "g", "echo", "x", "{bad")
    tap.ok(rc == 2 and "ARGS_JSON" in err, "args that are not JSON: usage error (%d %r)"
           % (rc, err))
    rc, out, err = node.ctl("spawn", "g")
    tap.ok(rc == 2, "spawn without a behaviour: usage error (%d)" % rc)

    rc, out, err = node.ctl("spawn", "g", "echo")
    anon = out.strip()
    tap.ok(rc == 0 and anon.startswith("$1."), "an anonymous spawn prints its generated name "
           "(%d %r)" % (rc, out))

    rc, out, err = node.ctl("stop", "e")
    tap.ok(rc == 1 and "declared" in err, "stop of a declared actor: exit 1 (%d %r)" % (rc, err))
    rc, out, err = node.ctl("stop", "nobody")
    tap.ok(rc == 1 and "not_found" in err, "stop of an unknown actor: exit 1 (%d %r)" % (rc, err))
    rc, out, err = node.ctl("stop", "sess1")
    tap.ok(rc == 0, "stop of the spawned actor: exit 0 (%d %r)" % (rc, err))
    wait_for(lambda: node.ctl("ask", "sess1", "Ping", '{"count":1}')[0] != 0, 10,
             "sess1 to be gone")
    rc, out, err = node.ctl("ask", "sess1", "Ping", '{"count":1}')
    tap.ok(rc == 1 and "not_found" in err, "after stop it is not found (%d %r)" % (rc, err))
    rc, out, err = node.ctl("spawn", "g", "echo", "sess1")
    tap.ok(rc == 0, "its name is free again (%d %r)" % (rc, err))
    rc, out, err = node.ctl("ask", "sess1", "Ping", '{"count":7}')
    tap.ok(rc == 0 and '"count":7' in out, "and the new one answers (%d %r)" % (rc, out))

    st = node.status()
    tap.ok(all(g.get("state") == "ready" and g.get("restarts", 0) == 0
               for g in st.get("groups", [])), "every group still runs, never restarted")
    tap.is_(node.terminate(), 0, "the node stops cleanly")
