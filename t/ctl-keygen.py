#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ctl-keygen.py - actorsctl keygen's errors name the path and the reason.

Into a missing directory: exit 1, the message names the directory and
says "No such file or directory" (it used to name DIR/curve.secret, which
read as if the key file were missing); into a path that is a file: "not a
directory"; into a directory: both files, the secret 0600; again: refused,
never overwriting.
"""
import os
import stat
import subprocess
import tempfile

from actorsd_harness import Tap, ACTORSCTL

tap = Tap(timeout=60)


def keygen(*args):
    r = subprocess.run([ACTORSCTL, "keygen"] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


with tap:
    d = tempfile.mkdtemp(prefix="ctl-keygen-")
    missing = os.path.join(d, "no", "such")
    rc, out, err = keygen(missing)
    tap.is_(rc, 1, "a missing directory: exit 1")
    tap.ok("directory %s: No such file or directory" % missing in err and
           "curve.secret" not in err, "it names the directory and the errno text: %r" % err)
    tap.ok(not os.path.exists(missing), "nothing was made")

    afile = os.path.join(d, "afile")
    open(afile, "w").close()
    rc, out, err = keygen(afile)
    tap.ok(rc == 1 and "%s is not a directory" % afile in err,
           "a file instead of a directory: exit 1, said so: %r" % err)

    keys = os.path.join(d, "keys")
    os.mkdir(keys)
    rc, out, err = keygen(keys)
    sec, pub = os.path.join(keys, "curve.secret"), os.path.join(keys, "curve.public")
    tap.ok(rc == 0 and os.path.isfile(sec) and os.path.isfile(pub),
           "a directory: both key files written")
    tap.is_(stat.S_IMODE(os.stat(sec).st_mode), 0o600, "the secret is 0600")
    with open(sec) as f:
        before = f.read()
    rc, out, err = keygen(keys)
    with open(sec) as f:
        tap.ok(rc == 1 and "never overwrites" in err and f.read() == before,
               "again: refused, the secret kept: %r" % err)
    for p in (sec, pub, afile):
        os.unlink(p)
    os.rmdir(keys)
    os.rmdir(d)
