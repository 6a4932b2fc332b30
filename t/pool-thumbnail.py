#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-thumbnail.py - the thumbnail example (examples/thumbnail): a pool of
4 parsers keeps serving while crafted inputs crash its members.

The example's app file, with the module from the build tree, a smaller
load (3000 images, one in 300 crafted to segfault the parser) and its
state in a temporary directory.  Then: every other image became a
thumbnail exactly once, spread over all four members; each crafted image
crashed its member max_redeliveries (2) times and went to the dead
letters; only members restarted; the collector reports a throughput.
"""
import json
import os

from actorsd_harness import Tap, Node, TOP_BUILDDIR, TOP_SRCDIR, wait_for

COUNT = 3000
EVERY = 300
POISONS = COUNT // EVERY

tap = Tap(timeout=120)

with tap:
    with open(os.path.join(TOP_SRCDIR, "examples", "thumbnail", "thumbnail.json")) as f:
        app = json.load(f)
    so = os.path.join(TOP_BUILDDIR, "examples", "thumbnail", ".libs", "thumbnail.so")
    app.pop("state_dir")
    for g in app["groups"]:
        g["module"] = so
        for a in g["actors"]:
            if a["behaviour"] == "loadgen":
                a["args"].update(count=COUNT, poison_every=EVERY)
    node = Node(tap, app, name="thumb")
    st = node.start()
    tap.is_([g["name"] for g in st["groups"]],
            ["sink", "thumbs#0", "thumbs#1", "thumbs#2", "thumbs#3", "load"],
            "the pool runs as four members")

    def stats():
        r = node.ask("collector", "Stats", {"unused": 0})
        return r.get("message") if r.get("ok") else None
    s = wait_for(lambda: (lambda x: x if x and x["done"] + x["refused"] >= COUNT - POISONS
                          else None)(stats()), 90, "the thumbnails")
    tap.diag("thumbnails: %d in %d ms = %.0f/s while members crashed; per member %s"
             % (s["done"], s["elapsed_ms"], s["per_second"], s["by_member"]))
    tap.ok(s["done"] == COUNT - POISONS and s["refused"] == 0 and s["duplicates"] == 0,
           "every image but the crafted ones became a thumbnail exactly once (%r)"
           % ({k: s[k] for k in ("done", "refused", "duplicates")},))
    tap.ok(len(s["by_member"]) == 4 and all(x > 0 for x in s["by_member"]),
           "all four members made thumbnails %s" % s["by_member"])
    tap.ok(s["per_second"] > 0, "the collector reports a throughput (%.0f/s)" % s["per_second"])

    st = node.wait_group("load", lambda g, st: st["dead_letters"] >= POISONS, 30,
                         "the crafted images in the dead letters")
    tap.is_(st["dead_letters"], POISONS, "each crafted image went to the dead letters")
    rs = {g["name"]: g["restarts"] for g in st["groups"]}
    tap.ok(rs["sink"] == 0 and rs["load"] == 0 and
           sum(v for k, v in rs.items() if k.startswith("thumbs#")) == 2 * POISONS,
           "only members restarted, twice per crafted image: %s" % rs)
    tap.ok(all(c["group"].startswith("thumbs#") and c["signal"] == 11 and
               c["handling_type"] == "Image" for c in st["crashes"]),
           "the crash records: members, SIGSEGV, while handling an Image")
    rc, j, err = node.ctl_json("dead-letters")
    tap.ok(rc == 0 and len(j.get("dead_letters", [])) == POISONS and
           all(d["receiver"] == "thumb" and "!" in d["payload"]["data"][:8]
               for d in j["dead_letters"]),
           "dead-letters lists the crafted (palette) images for 'thumb'")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
