# SPDX-License-Identifier: MIT
"""
t/sk_stream.py - what the t/supervisor-kill*.py tests share: the
producer -> relay -> consumer stream of t/supervisor-kill-mod.c (its
groups, and a checker of the consumer's log), and FdStore, a stand-in for
systemd's file-descriptor store (the notify protocol's FDSTORE=1 /
FDSTOREREMOVE=1 with SCM_RIGHTS, and LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID
for the actorsd it starts).
"""
import array
import os
import socket
import subprocess
import sys

from actorsd_harness import TOP_BUILDDIR, ACTORSD, actor

SENDERS = (1, 2)
MOD = os.path.join(TOP_BUILDDIR, "t", ".libs", "supervisor-kill-mod.so")


def stream_groups(node, count, ring_bytes=262144, spin_ns=0):
    """The three groups, consumer first (it exists before anything is sent).
    spin_ns keeps the consumer busy that long per envelope (a backlog)."""
    per = count // len(SENDERS)
    sink = {"log": node.path("consumer.log")}
    if spin_ns:
        sink["spin_ns"] = spin_ns
    return [
        group("cons", [actor("sink", "sk_consumer", sink)],
              ring_bytes=ring_bytes, max_redeliveries=1000),
        group("relay", [actor("relay", "sk_relay", {"to": "sink"})],
              ring_bytes=ring_bytes, max_redeliveries=1000),
        group("prod", [actor("p%d" % s, "sk_producer",
                             {"to": "relay", "id": s, "count": per,
                              "state": node.path("p%d.state" % s)}) for s in SENDERS]),
    ]


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
        env["FDSTORE"] = "4"    # FileDescriptorStoreMax=, as systemd 254+ says it
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


def check_log(tap, what, lg, per):
    """The zero-loss, flagged-duplicates and order checks of a whole log."""
    if lg.torn:
        tap.diag("lines torn by a kill inside write(): %r" % lg.torn[:3])
    missing = [(s, q) for s in SENDERS for q in range(per) if q not in lg.seen[s]]
    tap.is_(missing[:10], [], "%s: zero loss" % what)
    tap.is_(lg.bad_dups[:10], [], "%s: duplicates only where flagged" % what)
    tap.ok(lg.order_ok, "%s: per-sender order kept (first occurrences increasing)" % what)
    tap.is_(lg.partial, b"", "%s: no torn line at the end" % what)
