#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/supervise-lifecycle.py - the node's life seen from outside.

status --json against reality; the control socket refuses another uid;
sd_notify READY=1 / STOPPING=1 on $NOTIFY_SOCKET; SIGTERM, SIGINT and
`actorsctl stop` stop the node cleanly (exit 0, no worker left); SIGKILL
of actorsd takes every worker and the zygote with it.
"""
import errno
import json
import os
import signal
import socket
import subprocess
import sys

from actorsd_harness import ACTORSCTL, Tap, Node, group, actor, wait_gone, wait_for, children

NOBODY = 65534
tap = Tap(timeout=60)


def three_groups(name, env=None):
    return Node(tap, {"strategy": "one_for_one", "max_restarts": 10, "period_ms": 5000,
                      "groups": [group(g, [actor("a_" + g, "pid")], max_redeliveries=1)
                                 for g in ("alpha", "beta", "gamma")]},
                name=name, env=env)


def ppid(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        s = f.read()
    return int(s[s.rfind(b")") + 2:].split()[1])


def all_processes(node):
    """The worker pids (from status), and the zygote and the prefork
    (actorsd's other children, once the prefork was made: it is forked
    1 ms after the last start)."""
    st = node.status()
    workers = node.worker_pids(st)
    zyg = wait_for(lambda: [p for p in children(node.proc.pid) if p not in workers]
                   if len(children(node.proc.pid)) == len(workers) + 2 else None,
                   10, "the zygote and the prefork")
    return workers, sorted(zyg)


# A client run as another user: prints what it got as JSON.
PEER = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(json.dumps({"connect_errno": e.errno})); sys.exit(0)
try:
    s.sendall(b'{"cmd":"status"}\n')
except OSError:
    pass  # the node may answer and close before it reads the request
buf = b""
while not buf.endswith(b"\n"):
    c = s.recv(65536)
    if not c: break
    buf += c
print(json.dumps({"answer": buf.decode(errors="replace")}))
"""


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def peer_as_nobody(sock):
    r = subprocess.run([sys.executable, "-c", PEER, sock], capture_output=True, text=True,
                       timeout=20, preexec_fn=as_nobody)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": r.stdout + r.stderr}


with tap:
    # ---- status --json against reality ----------------------------------------------
    node = three_groups("status")
    node.start()
    rc, out, err = node.ctl("send", "a_beta", "Crash", '{"how":"segv"}')
    node.wait_group("beta", lambda g, st: g["restarts"] == 1 and g["state"] == "ready" and
                    st["dead_letters"] >= 1, 10, "beta restarted once")
    rc, a, err = node.ctl_json("status")
    tap.is_(rc, 0, "actorsctl --json status: exit 0")
    # The same node found through its app file instead of its socket path.
    r = subprocess.run([ACTORSCTL, "--json", "-a", node.app_path, "status"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                       cwd="/", env=node.env)
    tap.ok(r.returncode == 0 and json.loads(r.stdout or "{}").get("node") == "status",
           "actorsctl -a APP.json finds the node's socket from its app file (exit %d)"
           % r.returncode)
    tap.ok(a is not None and a.get("ok") is True, "status --json parses, ok true")
    a = a or {"groups": []}
    tap.is_((a.get("node"), a.get("pid"), a.get("state"), a.get("strategy"), a.get("restarts")),
            ("status", node.proc.pid, "running", "one_for_one", 1),
            "node: name, actorsd's pid, running, strategy, 1 restart")
    gs = a["groups"]
    tap.is_([g["name"] for g in gs], ["alpha", "beta", "gamma"], "groups in declared order")
    tap.is_([g["state"] for g in gs], ["ready"] * 3, "every group ready")
    tap.is_([g["restarts"] for g in gs], [0, 1, 0], "restarts per group")
    alive = []
    for g in gs:
        try:
            os.kill(g["pid"], 0)
            alive.append(ppid(g["pid"]) == node.proc.pid)
        except OSError:
            alive.append(False)
    tap.is_(alive, [True] * 3, "every pid is alive and a child of actorsd")
    asked = [node.ask("a_" + g["name"], "Ping", {"count": 0}).get("message", {}).get("count")
             for g in gs]
    tap.is_(asked, [g["pid"] for g in gs], "each actor answers Ping from the pid status shows")
    tap.is_(a.get("problem"), False, "no problem reported")
    rc, out, err = node.ctl("status")
    tap.ok(rc == 0 and all(n in out for n in ("alpha", "beta", "gamma")),
           "actorsctl status (text): exit 0 and lists the groups")

    # ---- a peer of another uid is refused --------------------------------------------
    os.chmod(node.dir, 0o755)
    os.chmod(node.state_dir, 0o755)
    r = peer_as_nobody(node.sock)
    tap.ok(r.get("connect_errno") == errno.EACCES or
           '"permission denied"' in r.get("answer", ""),
           "uid nobody vs the 0600 socket: refused (%r)" % (r,))
    rc, out, err = node.ctl("status", user=as_nobody)
    tap.ok(rc in (1, 3) and not out and ("ermission denied" in err),
           "actorsctl as nobody: refused, exit %d (%s)" % (rc, err.strip()))
    # Open the file up, so that only SO_PEERCRED stands in the way.
    os.chmod(node.sock, 0o666)
    r = peer_as_nobody(node.sock)
    ans = {}
    try:
        ans = json.loads(r.get("answer", ""))
    except ValueError:
        pass
    if not tap.is_((ans.get("ok"), ans.get("code"), ans.get("error")),
                   (False, "denied", "permission denied"),
                   "uid nobody through a 0666 socket: the node answers permission denied"):
        tap.diag("the peer got %r" % (r,))
    tap.ok("groups" not in ans, "... and tells it nothing else")
    rc, out, err = node.ctl("status", user=as_nobody)
    tap.ok(rc == 1 and "permission denied" in err,
           "actorsctl as nobody through a 0666 socket: exit 1 (%s)" % err.strip())
    tap.is_(node.status()["state"], "running", "root is still served")

    # ---- SIGKILL of actorsd: every worker, the zygote and the prefork die with it ---------
    workers, zyg = all_processes(node)
    tap.ok(len(workers) == 3 and len(zyg) == 2,
           "found 3 workers %s, the zygote and the prefork %s" % (workers, zyg))
    node.proc.send_signal(signal.SIGKILL)
    tap.is_(node.wait_exit(10), -signal.SIGKILL, "actorsd killed by SIGKILL")
    tap.is_(wait_gone(workers + zyg, 10), [], "every worker, the zygote and the prefork are gone")

    # ---- NOTIFY_SOCKET; SIGTERM stops cleanly ------------------------------------------
    node = three_groups("notify")
    nsock_path = node.path("notify.sock")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    tap.cleanups.append(nsock.close)
    node.env["NOTIFY_SOCKET"] = nsock_path
    node.start(wait_ready=False)
    nsock.settimeout(20)

    def next_state():
        """The next notification that is not a STATUS= line (t/ops-sdnotify.py checks those)."""
        while True:
            m = nsock.recv(4096).decode(errors="replace")
            if not m.startswith("STATUS="):
                return m
    msg = next_state()
    tap.is_(msg, "READY=1", "sd_notify: READY=1")
    st = node.status()
    tap.is_([g["state"] for g in st["groups"]], ["ready"] * 3,
            "every group was ready when READY=1 came")
    workers, zyg = all_processes(node)
    node.proc.send_signal(signal.SIGTERM)
    msg = next_state()
    tap.is_(msg, "STOPPING=1", "sd_notify: STOPPING=1 after SIGTERM")
    tap.is_(node.wait_exit(20), 0, "SIGTERM: actorsd exits 0")
    tap.is_(wait_gone(workers + zyg, 10), [], "SIGTERM: no worker, no zygote, no prefork left")
    nsock.settimeout(0)
    more = []
    try:
        while True:
            m = nsock.recv(4096).decode(errors="replace")
            if not m.startswith("STATUS="):
                more.append(m)
    except BlockingIOError:
        pass
    tap.is_(more, [], "sd_notify: nothing after the one STOPPING=1")
    tap.ok(not os.path.exists(node.sock), "the control socket was removed")

    # ---- SIGINT and actorsctl stop --------------------------------------------------------
    node = three_groups("sigint")
    node.start()
    workers, zyg = all_processes(node)
    node.proc.send_signal(signal.SIGINT)
    tap.is_(node.wait_exit(20), 0, "SIGINT: actorsd exits 0")
    tap.is_(wait_gone(workers + zyg, 10), [], "SIGINT: nothing left")

    node = three_groups("stop")
    node.start()
    workers, zyg = all_processes(node)
    rc, out, err = node.ctl("stop")
    tap.is_(rc, 0, "actorsctl stop: exit 0")
    tap.is_(node.wait_exit(20), 0, "actorsctl stop: actorsd exits 0")
    tap.is_(wait_gone(workers + zyg, 10), [], "actorsctl stop: nothing left")
    rc, out, err = node.ctl("status")
    tap.is_(rc, 3, "actorsctl status after the stop: exit 3 (%s)" % err.strip())
