#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervisor-kill-refuse.py - a region actorsd must not adopt (issue 10).

After a SIGKILL of actorsd in the middle of a stream, the next actorsd
refuses the region it finds, exits 100 with a reason, and keeps the old
region aside (renamed region.refused-TIMESTAMP), never discarding it, when:
  - a group's ring_bytes changed in the app file;
  - a group was added (the group list differs);
  - the region header was corrupted (checksum), or its magic;
  - a used ring's header was damaged, or its bit in the touched bitmap
    cleared (layout 8: it would be read as a ring never used);
and it refuses to start a second supervisor on a region whose actorsd is
alive (exit 100, the region left alone, the first node unharmed).  With
the app file as it was, the next start makes a new region; a clean stop
removes it and leaves the refused ones.
"""
import glob
import json
import os
import signal
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # never write into the source tree
from actorsd_harness import Tap, Node, wait_for, ACTORSD
from sk_stream import stream_groups, group, actor


def kill_mid_stream(node, what):
    node.start(timeout=30)
    log = node.path("consumer.log")
    size = os.path.getsize(log) if os.path.exists(log) else 0
    wait_for(lambda: os.path.exists(log) and os.path.getsize(log) > size + 10000, 30,
             "the stream to run (%s)" % what)
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()


def refused(tap, node, change, what, why):
    """Starts actorsd on the changed app; checks exit 100, the reason, the aside file."""
    saved = json.loads(json.dumps(node.app))
    change(node.app)
    rc, text, aside = node.start_refused()
    tap.is_(rc, 100, "%s: actorsd exits 100" % what)
    tap.ok("refusing the region" in text and why in text,
           "%s: the log says why (%r)" % (what, why))
    tap.ok(len(aside) == 1 and not os.path.exists(node.path("run", "region")),
           "%s: the old region was moved aside (%s), not discarded" %
           (what, ", ".join(os.path.basename(a) for a in aside)))
    node.app = saved
    return aside


def corrupt(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


tap = Tap(timeout=120)
with tap:
    node = Node(tap, {"max_restarts": 100, "period_ms": 1000}, name="skre")
    # Each start resumes the producers where the last left off (their state
    # files): enough for six rounds however far each runs before its kill.
    node.app["groups"] = stream_groups(node, 4000000)
    region = node.path("run", "region")

    kill_mid_stream(node, "ring size")
    size = os.path.getsize(region)

    def bigger_ring(app):
        app["groups"][0]["ring_bytes"] = 524288
    aside = refused(tap, node, bigger_ring, "changed ring_bytes", "ring_bytes 262144 there")
    tap.is_(os.path.getsize(list(aside)[0]), size, "the region kept aside is whole")

    # The same app again: nothing to adopt (the old one is aside), a new region.
    kill_mid_stream(node, "group added")

    def one_more(app):
        app["groups"].append(group("extra", [actor("idle", "sk_relay", {"to": "sink"})]))
    refused(tap, node, one_more, "a group added", "it has 3 groups, the app file 4")

    kill_mid_stream(node, "corrupt header")
    # act__region.n_types: nothing but the header checksum can tell.
    corrupt(region, 40, b"\x77\x77\x00\x00")
    refused(tap, node, lambda app: None, "corrupt header", "header checksum mismatch")

    # A ring's header (first group -> supervisor, which carried its READY)
    # damaged: refused at the adoption, not adopted and then failed at
    # every start (exit 111).  A ring never used is never read (layout 8's
    # touched bitmap), so the ring damaged must be one that carried
    # something.
    kill_mid_stream(node, "damaged ring")
    with open(region, "rb") as f:
        head = f.read(64)
    n_parts = struct.unpack_from("<I", head, 32)[0]
    rings_off = struct.unpack_from("<Q", head, 56)[0]
    with open(region, "rb") as f:
        f.seek(rings_off + (1 * n_parts + 0) * 16)
        ring_off = struct.unpack("<Q", f.read(8))[0]
    for off in (ring_off, ring_off + 14):
        with open(region, "r+b") as f:
            f.seek(off)
            b = f.read(8)
            f.seek(off)
            f.write(bytes(x ^ 0x5A for x in b))
    refused(tap, node, lambda app: None, "damaged ring", "is damaged")

    # The touched bitmap scribbled on: the bit of a ring that carried
    # something (relay -> cons, mid-stream) cleared.  Adopted, that ring
    # would be read as never used: its records lost, its consumer reading
    # from position 0, its producer writing over them.
    kill_mid_stream(node, "touched bit cleared")
    with open(region, "r+b") as f:
        head = f.read(72)
        n_parts = struct.unpack_from("<I", head, 32)[0]
        touched_off = struct.unpack_from("<Q", head, 64)[0]
        bit = 2 * n_parts + 1   # relay (2) -> cons (1)
        f.seek(touched_off + bit // 64 * 8)
        word = struct.unpack("<Q", f.read(8))[0]
        tap.ok(word & (1 << bit % 64), "touched bit cleared: relay -> cons was marked touched")
        f.seek(touched_off + bit // 64 * 8)
        f.write(struct.pack("<Q", word & ~(1 << bit % 64)))
    refused(tap, node, lambda app: None, "touched bit cleared",
            "relay -> cons is damaged (it holds positions, but its bit in the touched bitmap "
            "is clear)")

    kill_mid_stream(node, "bad magic")
    corrupt(region, 0, b"NOTAREGN")
    refused(tap, node, lambda app: None, "bad magic", "bad magic")

    # A second actorsd for a node whose supervisor is alive.
    st = node.start(timeout=30)
    tap.ok(not st.get("recovered"), "after the refusals, a new region")
    second = dict(node.app, control_socket=node.path("second.sock"))
    with open(node.path("second.json"), "w") as f:
        json.dump(second, f)
    with open(node.path("second.log"), "wb") as out:
        rc = subprocess.run([ACTORSD, node.path("second.json")], stdout=out,
                            stderr=subprocess.STDOUT, cwd=node.dir, timeout=30,
                            env=node.env).returncode
    with open(node.path("second.log"), errors="replace") as f:
        text = f.read()
    tap.is_(rc, 100, "a second actorsd on a live node's region exits 100")
    tap.ok("belongs to a running actorsd" in text, "and says the region is in use")
    tap.ok(os.path.exists(region) and node.status()["state"] == "running",
           "the running node and its region are untouched")
    tap.is_(node.terminate(), 0, "clean stop")
    tap.ok(not os.path.exists(region), "a clean stop removes the region")
    tap.is_(len(glob.glob(node.path("run", "region.refused-*"))), 6,
            "the 6 refused regions are all kept")
