#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervisor-kill.py - the supervisor dies, nothing is lost (issue 10).

Three groups, producer -> relay -> consumer (t/supervisor-kill-mod.c),
stream SK_COUNT (default 1,000,000) envelopes from two senders while the
test SIGKILLs actorsd SK_KILLS (10) times at random points of the stream
and starts it again each time, as systemd would:
  (a) the region kept as a file in the runtime directory;
  (b) the region kept in an fd store: this test plays systemd (a
      NOTIFY_SOCKET datagram server keeping FDSTORE fds, then
      LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID for the next actorsd), with
      "runtime_dir": "" so that no file exists.
Each run: every seq of every sender in the consumer's log (0 lost), a
duplicate only where flagged (redelivered, or re-sent by a producer that
could not know whether its predecessor sent it), first occurrences in
order per sender; status says recovered with the epoch and what it took
over; a clean stop removes the region.
"""
import array
import os
import random
import signal
import socket
import subprocess
import sys
import time

from actorsd_harness import Tap, Node, actor, wait_for, seed_random, TOP_BUILDDIR, ACTORSD

COUNT = int(os.environ.get("SK_COUNT", "1000000"))
KILLS = int(os.environ.get("SK_KILLS", "10"))
SENDERS = (1, 2)
MOD = os.path.join(TOP_BUILDDIR, "t", ".libs", "supervisor-kill-mod.so")


def group(name, actors, **kw):
    g = {"name": name, "module": MOD, "actors": actors}
    g.update(kw)
    return g


class FdStore:
    """systemd's side of the notify protocol, as far as the fd store goes."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.fds = {}      # name -> fd
        self.removed = 0

    def pump(self):
        while True:
            fds = array.array("i")
            try:
                msg, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(16 * fds.itemsize))
            except BlockingIOError:
                return
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
            kv = dict(l.split("=", 1) for l in msg.decode().splitlines() if "=" in l)
            name = kv.get("FDNAME", "stored")
            if kv.get("FDSTORE") == "1":
                for fd in fds:
                    old = self.fds.get(name)
                    if old is not None and os.fstat(old).st_ino == os.fstat(fd).st_ino:
                        os.close(fd)      # the same file again: systemd keeps one
                        continue
                    if old is not None:
                        os.close(old)
                    self.fds[name] = fd
            else:
                for fd in fds:
                    os.close(fd)
            if kv.get("FDSTOREREMOVE") == "1" and name in self.fds:
                os.close(self.fds.pop(name))
                self.removed += 1

    def start(self, node):
        """Starts actorsd with what the store holds, LISTEN_PID its own pid."""
        self.pump()
        names = sorted(self.fds)
        env = dict(node.env)
        env["NOTIFY_SOCKET"] = self.path
        wrapper = ("import os, sys\n"
                   "fds = [int(x) for x in sys.argv[1].split(',') if x]\n"
                   "tmp = [os.dup(f) for f in fds]\n"
                   "for i, f in enumerate(tmp):\n"
                   "    os.dup2(f, 3 + i)\n"
                   "    os.set_inheritable(3 + i, True)\n"
                   "os.environ['LISTEN_PID'] = str(os.getpid())\n"
                   "os.environ['LISTEN_FDS'] = str(len(fds))\n"
                   "os.environ['LISTEN_FDNAMES'] = sys.argv[2]\n"
                   "os.execv(sys.argv[3], sys.argv[3:])\n")
        fds = [self.fds[n] for n in names]
        if node.proc is not None:
            node.log.close()
        node.write_app()
        node.log = open(node.log_path, "ab")
        node.proc = subprocess.Popen(
            [sys.executable, "-c", wrapper, ",".join(map(str, fds)), ":".join(names),
             ACTORSD, node.app_path],
            stdin=subprocess.DEVNULL, stdout=node.log, stderr=subprocess.STDOUT,
            env=env, cwd=node.dir, start_new_session=True, pass_fds=fds)
        return node.wait_ready(30)


class Log:
    """Reads the consumer's log as it grows and checks it."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.partial = b""
        self.seen = {s: set() for s in SENDERS}
        self.last_first = {s: -1 for s in SENDERS}
        self.order_ok = True
        self.bad_dups = []
        self.dups = self.flagged = self.lines = 0
        self.torn = []

    def read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return 0
        self.pos += len(data)
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        for ln in data[:cut].splitlines():
            fields = ln.split()
            if len(fields) != 3:
                # A kill inside the consumer's write(): the torn prefix, then
                # the whole line of the envelope that came back (flagged).
                self.torn.append(ln)
                fields = [fields[-3][-1:]] + fields[-2:]
            sender, seq, flag = (int(x) for x in fields)
            self.lines += 1
            self.flagged += flag
            if seq in self.seen[sender]:
                self.dups += 1
                if not flag:
                    self.bad_dups.append((sender, seq))
                continue
            self.seen[sender].add(seq)
            if seq <= self.last_first[sender]:
                self.order_ok = False
            self.last_first[sender] = seq
        return sum(len(v) for v in self.seen.values())


def run(tap, mode):
    per = COUNT // len(SENDERS)
    total = per * len(SENDERS)
    app = {"strategy": "one_for_one", "max_restarts": 100, "period_ms": 1000,
           "backoff": {"initial_ms": 1, "factor": 2.0, "max_ms": 20, "reset_after_ms": 50}}
    if mode == "fdstore":
        app["runtime_dir"] = ""
    node = Node(tap, app, name="sk" + mode[:2])
    log = node.path("consumer.log")
    node.app["groups"] = [
        group("cons", [actor("sink", "sk_consumer", {"log": log})],
              ring_bytes=262144, max_redeliveries=1000),
        group("relay", [actor("relay", "sk_relay", {"to": "sink"})],
              ring_bytes=262144, max_redeliveries=1000),
        group("prod", [actor("p%d" % s, "sk_producer",
                             {"to": "relay", "id": s, "count": per,
                              "state": node.path("p%d.state" % s)}) for s in SENDERS]),
    ]
    store = FdStore(node.path("notify")) if mode == "fdstore" else None
    start = (lambda: store.start(node)) if store else (lambda: node.start(timeout=30))
    region = node.path("run", "region")
    lg = Log(log)

    t0 = time.monotonic()
    st = start()
    tap.ok(not st.get("recovered"), "%s: first start makes a new region" % mode)
    if mode == "file":
        tap.ok(os.path.exists(region), "file: the region is %s" % region)
    else:
        store.pump()
        tap.ok("region" in store.fds and not os.path.exists(region),
               "fdstore: the region is in the fd store (FDSTORE=1, FDNAME=region), no file")

    points = sorted(random.randint(total // 40, total * 9 // 10) for _ in range(KILLS))
    epochs, took, recovered = [], 0, 0
    for k, target in enumerate(points):
        wait_for(lambda: (store and store.pump()) or lg.read() >= target, 60,
                 "the consumer to log %d seqs" % target)
        # A random moment between two log reads, not only right after one.
        time.sleep(random.random() * 0.02)
        pid = node.proc.pid
        os.kill(pid, signal.SIGKILL)
        node.proc.wait()
        st = start()
        recovered += bool(st.get("recovered"))
        epochs.append(st.get("epoch"))
        took += st.get("taken_over", 0)
    tap.is_(recovered, KILLS, "%s: every one of %d restarts recovered the region" % (mode, KILLS))
    tap.is_(epochs, list(range(2, KILLS + 2)), "%s: the epoch goes up by one per adoption" % mode)
    tap.is_(st.get("previous_epoch"), KILLS, "%s: status shows the previous epoch" % mode)
    tap.ok(took > 0, "%s: %d envelopes were in the rings at the adoptions" % (mode, took))

    wait_for(lambda: (store and store.pump()) or lg.read() >= total, 120,
             "all %d seqs in the consumer's log" % total)
    elapsed = time.monotonic() - t0
    lg.read()
    if lg.torn:
        tap.diag("lines torn by a kill inside write(): %r" % lg.torn[:3])
    tap.diag("%s: %d lines, %d duplicates, %d flagged, %d taken over, %.1f s" %
             (mode, lg.lines, lg.dups, lg.flagged, took, elapsed))
    missing = [(s, q) for s in SENDERS for q in range(per) if q not in lg.seen[s]]
    tap.is_(missing[:10], [], "%s: zero loss over %d supervisor kills" % (mode, KILLS))
    tap.is_(lg.bad_dups[:10], [], "%s: duplicates only where flagged" % mode)
    tap.ok(lg.order_ok, "%s: per-sender order kept (first occurrences increasing)" % mode)
    tap.is_(lg.partial, b"", "%s: no torn line at the end" % mode)
    st = node.status()
    tap.is_(st["dead_letters"], 0, "%s: no dead letters" % mode)

    if store:
        node.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: store.pump() or node.proc.poll() is not None, 20, "actorsd to exit")
        tap.is_(node.proc.returncode, 0, "%s: actorsd stops cleanly on SIGTERM" % mode)
    else:
        tap.is_(node.terminate(), 0, "%s: actorsd stops cleanly on SIGTERM" % mode)
    if store:
        store.pump()
        tap.ok("region" not in store.fds and store.removed >= 1,
               "fdstore: a clean stop removed the region from the store (FDSTOREREMOVE=1)")
        for fd in store.fds.values():
            os.close(fd)
    else:
        tap.ok(not os.path.exists(region), "file: a clean stop removed the region file")


tap = Tap(timeout=int(os.environ.get("SK_TIMEOUT", "170")))
with tap:
    seed_random(tap)
    for mode in os.environ.get("SK_MODES", "file fdstore").split():
        run(tap, mode)
