#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/region-not-file.py - what sits at the runtime directory's region path
but is not a regular file is refused like a bad region: exit 100 (do not
restart), a message that names the path and what it is, and the thing
kept aside (renamed region.refused-TIMESTAMP) as it was: never followed,
never deleted.  Then the next start makes a new region.

Cases: a directory (with a file in it), a symlink to a file elsewhere
(which must stay untouched), a dangling symlink, a FIFO.  Then, after a
SIGKILL, a region file that others may open (mode 0666, 0640) or that
another user owns: whoever else can write it could put envelopes in its
rings; refused and kept aside the same way, never adopted.
"""
import os
import signal

from actorsd_harness import Tap, Node, group, actor

tap = Tap(timeout=120)


def start_refused(node, what, kind):
    rc, text, aside = node.start_refused()
    tap.is_(rc, 100, "%s: actorsd exits 100" % what)
    tap.ok("refusing the region found in %s: it is %s" % (node.path("run", "region"), kind)
           in text, "%s: the log names the path and says it is %s" % (what, kind))
    tap.ok(len(aside) == 1 and not os.path.lexists(node.path("run", "region")),
           "%s: moved aside as %s" % (what, [os.path.basename(a) for a in aside]))
    return aside[0] if aside else node.path("nothing")


with tap:
    node = Node(tap, {"groups": [group("alpha", [actor("a_alpha", "pid")])]},
                name="regnf")
    run = node.path("run")
    os.makedirs(run)
    region = os.path.join(run, "region")

    # ---- a directory --------------------------------------------------------------------
    os.mkdir(region)
    with open(os.path.join(region, "keep"), "w") as f:
        f.write("mine\n")
    a = start_refused(node, "a directory", "a directory")
    tap.ok(os.path.isdir(a) and open(os.path.join(a, "keep")).read() == "mine\n",
           "a directory: kept with its contents")

    # ---- a symlink to a file elsewhere: never followed -------------------------------------
    precious = node.path("precious")
    with open(precious, "wb") as f:
        f.write(b"do not touch\n")
    os.symlink(precious, region)
    a = start_refused(node, "a symlink", "a symbolic link")
    tap.ok(os.path.islink(a) and os.readlink(a) == precious,
           "a symlink: the link itself kept aside, still pointing where it did")
    with open(precious, "rb") as f:
        tap.is_(f.read(), b"do not touch\n", "a symlink: its target untouched")

    # ---- a dangling symlink: not followed to create a region there -------------------------
    target = node.path("elsewhere")
    os.symlink(target, region)
    a = start_refused(node, "a dangling symlink", "a symbolic link")
    tap.ok(os.path.islink(a) and not os.path.lexists(target),
           "a dangling symlink: kept, nothing created at its target")

    # ---- a FIFO: refused without being opened (an open could block) -----------------------
    os.mkfifo(region, 0o600)
    a = start_refused(node, "a FIFO", "a FIFO")
    tap.ok(os.path.exists(a) and not os.path.isfile(a), "a FIFO: kept aside")

    # ---- the next start makes its region -------------------------------------------------
    st = node.start()
    tap.ok(st and node.group("alpha", st)["state"] == "ready",
           "the next start makes a new region and runs")
    tap.ok(os.path.isfile(region), "a regular region file is there")
    tap.is_(os.stat(region).st_mode & 0o7777, 0o600, "made with mode 0600")

    # ---- a region others may open: refused (whoever can write it writes the rings) ---------
    def kill_and(change, what, why):
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()
        change()
        rc, text, aside = node.start_refused()
        tap.is_(rc, 100, "%s: actorsd exits 100" % what)
        tap.ok("refusing the region found in %s: %s" % (region, why) in text,
               "%s: the log says why (%r)" % (what, why))
        tap.ok(len(aside) == 1 and not os.path.lexists(region),
               "%s: moved aside, not adopted" % what)
        st = node.start()
        tap.ok(st and not st.get("recovered"), "%s: the next start makes a new region" % what)

    kill_and(lambda: os.chmod(region, 0o666), "mode 0666",
             "the file is owned by uid %d with mode 0666" % os.geteuid())
    kill_and(lambda: os.chmod(region, 0o640), "mode 0640",
             "the file is owned by uid %d with mode 0640" % os.geteuid())
    if os.geteuid() == 0:
        kill_and(lambda: os.chown(region, 65534, -1), "owned by another user",
                 "the file is owned by uid 65534 with mode 0600")
    else:
        tap.ok(True, "# SKIP owned by another user: needs root to chown")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
