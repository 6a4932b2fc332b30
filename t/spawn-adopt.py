#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/spawn-adopt.py - a new worker waits for its adoption by the supervisor
without spinning and without a deadline of its own.

The zygote double-forks a worker: the intermediate process exits at once,
and only then is the worker the supervisor's child.  Here that exit is made
slow: strace, attached to the zygote and following its children, holds
every exit_group() for 3 s (fault injection, not a sleep of ours).  A
worker that spins on getppid() meanwhile burns a CPU and, after 2 s, gives
up with exit 111, which the supervisor counts as a crash; a worker that
blocks until the zygote has reaped its intermediate parent uses no CPU,
and the restart succeeds on the first attempt.
The node runs without a prefork (ACTORS_PREFORK=0): a prefork is adopted
ahead of time, and the restart would not go through the held exit.  A
prefork waits for its adoption in the same code before it waits for its
group.
Skipped when strace is missing or cannot attach.
"""
import os
import shutil
import subprocess
import time

from actorsd_harness import Tap, Node, actor, children, group

HOLD_S = 3

tap = Tap(timeout=90)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


with tap:
    strace = shutil.which("strace")
    if not strace:
        print("1..0 # SKIP strace not installed", flush=True)
        raise SystemExit(0)
    node = Node(tap, {"max_restarts": 5, "period_ms": 60000,
                      "groups": [group("g1", [actor("e1", "echo")])]}, name="adopt",
                env={"ACTORS_PREFORK": "0"})
    st = node.start()
    old = node.group("g1", st)
    zygotes = [p for p in children(node.proc.pid) if p != old["pid"]]
    tap.is_(len(zygotes), 1, "actorsd has one child besides the worker: the zygote")
    zygote = zygotes[0]

    log = node.path("strace.log")
    tracer = subprocess.Popen([strace, "-f", "-p", str(zygote), "-e", "trace=exit_group",
                               "-e", "inject=exit_group:delay_enter=%d" % (HOLD_S * 1000000),
                               "-o", log], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tap.cleanups.append(lambda: (tracer.poll() is None and tracer.kill(), tracer.wait()))
    # strace says "Process N attached" on stderr once it holds the zygote.
    first = tracer.stderr.readline().decode()
    if "attached" not in first:
        print("1..0 # SKIP strace cannot attach: %s" % first.strip(), flush=True)
        tracer.kill()
        node.terminate()
        raise SystemExit(0)

    t0 = time.monotonic()
    rc, out, err = node.ctl("restart", "g1", timeout=30)
    took = time.monotonic() - t0
    tap.is_(rc, 0, "actorsctl restart g1 succeeds while exits are held (%r)"
            % (out + err).strip())
    tap.ok(took >= HOLD_S * 0.9, "the exit was really held: the restart took %.1f s" % took)
    st = node.wait_ready()
    g = node.group("g1", st)
    tap.ok(g["pid"] and g["pid"] != old["pid"], "g1 runs a new worker (pid %s)" % g["pid"])
    tap.is_(g["restarts"] - old["restarts"], 1,
            "exactly one restart: the new worker did not give up and die")
    tap.ok(all(c.get("exit_code") != 111 for c in st.get("crashes", [])),
           "no crash record with exit 111 (%r)" % (st.get("crashes"),))
    cpu = cpu_seconds(g["pid"])
    tap.ok(cpu < 0.5 * HOLD_S, "the new worker used %.2f s of CPU while it waited %d s "
           "for its adoption (no spin)" % (cpu, HOLD_S))
    tracer.kill()
    tracer.wait()
    tracer.stderr.close()
    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
