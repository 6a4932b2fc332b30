#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-spare-name.py - a reload that adds a group (into a spare
participant) declaring an actor with the name of a removed group's static
actor is refused by the check, and changes nothing.

cons (static t0) is removed; a reload then adds sp, which declares t0.
A removed group's static actors keep their names (and ids) for its
add-back.  Before, the check let the file through, sp was added, its t0
could not be created, and the reload failed saying "done so far: none"
(found by an outside attack).  Now the check refuses it, naming cons;
sp with another name is added; cons comes back with its t0.
"""
import copy
import os

from actorsd_harness import (Tap, Node, actor, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {"spare_groups": 1, "groups": [
        {"name": "prod", "module": RELOADMOD, "actors": [actor("w1", "watcher")]},
        {"name": "cons", "module": RELOADMOD, "actors": [actor("t0", "tally")]},
    ]}, name="rlsn")
    full = copy.deepcopy(node.app)
    node.start()
    small = copy.deepcopy(full)
    small["groups"] = [g for g in small["groups"] if g["name"] != "cons"]
    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-cons" in out, "cons removed (%r)" % (out.strip() or err.strip()))

    withsp = copy.deepcopy(small)
    withsp["groups"].append({"name": "sp", "module": RELOADMOD, "actors": [actor("t0", "tally")]})
    rc, out, err = node.reload(withsp)
    text = (out + err).strip()
    tap.ok(rc != 0 and "nothing changed" in text and "'t0'" in text and "'cons'" in text,
           "a reload adding sp with an actor t0 is refused by the check, naming cons (%r)" % text)
    names = [g["name"] for g in node.status()["groups"]]
    tap.ok("sp" not in names, "sp was not added (%r)" % names)

    withsp["groups"][-1]["actors"] = [actor("t9", "tally")]
    rc, out, err = node.reload(withsp)
    tap.ok(rc == 0 and "+sp" in out, "sp declaring t9 is added (%r)" % (out.strip() or err.strip()))
    tap.is_(node.ask_ok("t9", "Ping", {"count": 0}), {"count": 1}, "its t9 answers")
    back = copy.deepcopy(full)
    back["groups"].append(withsp["groups"][-1])
    rc, out, err = node.reload(back)
    tap.ok(rc == 0 and "+cons" in out, "cons added back (%r)" % (out.strip() or err.strip()))
    tap.is_(node.ask_ok("t0", "Ping", {"count": 0}), {"count": 1}, "t0 is cons's again")
    tap.is_(node.terminate(), 0, "clean stop")
