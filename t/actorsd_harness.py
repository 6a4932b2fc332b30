# SPDX-License-Identifier: MIT
"""
t/actorsd_harness.py - shared helpers for the end-to-end actorsd tests.

The t/*.py supervision tests start a real actorsd on an app file generated
into a fresh temporary directory (its own state_dir and control socket),
drive it through the control socket (directly, with socket+json, and
through the real actorsctl binary), wait for conditions by polling status
against a deadline (never by sleeping a fixed time), and kill everything
they started in a finally.  Output is TAP.

Paths come from the environment as automake sets them: $top_builddir/actorsd,
$top_builddir/actorsctl and $top_builddir/t/mod/.libs/testmod.so (both
default to ".").  Python 3 standard library only.

Typical use:

    tap = Tap(timeout=60)
    with tap:
        node = Node(tap, app_dict)          # app_dict without "node" etc. is fine
        node.start()
        st = node.status()
        ...
    # Tap.__exit__ printed the plan, cleaned up, and exits with the result.
"""
import ctypes
import errno
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or ".")

# Every actorsd a test starts keeps its region (recover.c) under this
# test's own directory, not /run/actors/NODE shared by tests running at
# the same time with the same node name.
if not os.environ.get("ACTORS_RUNTIME_DIR"):
    os.environ["ACTORS_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="actors-run-")
    import atexit
    atexit.register(shutil.rmtree, os.environ["ACTORS_RUNTIME_DIR"], True)
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir") or ".")


def _program(name):
    """
    The real binary of an in-tree program.  actorsd and actorsctl link the
    uninstalled libactors.so, so $top_builddir/NAME is a libtool wrapper
    script (a shell start for every call); run .libs/NAME with the library
    on LD_LIBRARY_PATH instead, as the wrapper would.
    """
    real = os.path.join(TOP_BUILDDIR, ".libs", name)
    if os.path.exists(real):
        libs = os.path.join(TOP_BUILDDIR, ".libs")
        old = os.environ.get("LD_LIBRARY_PATH")
        if libs not in (old or "").split(":"):
            os.environ["LD_LIBRARY_PATH"] = libs + (":" + old if old else "")
        return real
    return os.path.join(TOP_BUILDDIR, name)


ACTORSD = _program("actorsd")
ACTORSCTL = _program("actorsctl")
TESTMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "testmod.so")

EXIT_OK = 0
EXIT_PERMANENT = 100
EXIT_TEMPORARY = 111
EXIT_INTENSITY = 112

PR_SET_CHILD_SUBREAPER = 36


class Timeout(Exception):
    """A wait_for() deadline passed, or the per-script alarm fired."""


# ---- TAP ----------------------------------------------------------------------

class Tap:
    """
    A TAP emitter that is also the script's guard: `with Tap(timeout=S):`
    arms an alarm of S seconds, makes this process a child subreaper (so
    that workers orphaned by a killed actorsd are re-parented to us, and we
    can reap them and see them gone), and on leaving runs every registered
    cleanup, prints the plan and exits 0 or 1.  An exception inside the
    block is a failed test plus diagnostics, never a hang.
    """

    def __init__(self, timeout=120):
        self.n = 0
        self.failed = 0
        self.timeout = timeout
        self.cleanups = []
        self.keep_dirs = False

    # -- results
    def ok(self, cond, name, todo=None):
        """One result; with todo (a reason), a failure is expected (TAP TODO)."""
        self.n += 1
        print("%sok %d - %s%s" % ("" if cond else "not ", self.n, name,
                                  " # TODO " + todo if todo else ""), flush=True)
        if not cond and not todo:
            self.failed += 1
            self.keep_dirs = True
        return bool(cond)

    def is_(self, got, want, name, todo=None):
        r = self.ok(got == want, name, todo)
        if not r:
            self.diag("     got: %r" % (got,))
            self.diag("expected: %r" % (want,))
        return r

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    # -- guard
    def __enter__(self):
        def on_alarm(sig, frame):
            raise Timeout("the script ran longer than %d s" % self.timeout)

        def on_term(sig, frame):
            raise Timeout("terminated by signal %d" % sig)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.signal(signal.SIGTERM, on_term)
        signal.alarm(self.timeout)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        for p in (ACTORSD, ACTORSCTL, TESTMOD):
            if not os.path.exists(p):
                print("1..0 # SKIP %s not built" % p, flush=True)
                sys.exit(0)
        return self

    def __exit__(self, et, ev, tb):
        failed = et is not None and not issubclass(et, SystemExit)
        try:
            if failed:
                self.ok(False, "the script ran to its end without an exception")
                self.diag("".join(traceback.format_exception(et, ev, tb)).rstrip())
        except Exception:
            pass  # e.g. stdout is gone: clean up all the same
        finally:
            signal.alarm(30)  # bounds the cleanup too
            for fn in reversed(self.cleanups):
                try:
                    fn()
                except Exception as e:  # cleanup must go on
                    try:
                        self.diag("cleanup: %r" % (e,))
                    except Exception:
                        pass
            signal.alarm(0)
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed or failed else 0)


# ---- processes --------------------------------------------------------------------

def children(pid):
    """Pids whose parent is pid (scans /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(b")") + 2:].split()
        if len(rest) > 1 and int(rest[1]) == pid:
            out.append(int(d))
    return out


def gone(pid):
    """
    True if no process pid exists any more.  A zombie that was re-parented
    to us (we are a subreaper) is reaped first, so "gone" means
    os.kill(pid, 0) raises.
    """
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def switches(pid):
    """How often process pid has slept (voluntary context switches of its
    main thread): what the idle tests count as wake-ups."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("voluntary_ctxt_switches:"):
                return int(ln.split()[1])
    return 0


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, what, interval=0.005, max_interval=0.05):
    """
    Polls pred() until it returns a true value (which is returned) or the
    deadline passes (raises Timeout naming `what`).  The interval grows up
    to max_interval (50 ms) so a long wait does not busy-loop.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
        except (OSError, ValueError) as e:  # node briefly unreachable etc.
            v, last = None, e
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %.1f s waiting for %s%s" %
                          (timeout, what, " (last error: %r)" % (last,) if last else ""))
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)



def leftovers():
    """Processes re-parented to us (we are a subreaper) that are still alive."""
    return [p for p in children(os.getpid()) if not gone(p)]


def leftovers_after(seconds=5):
    """The processes still left behind after waiting up to `seconds` for
    every re-parented child to go ([] if none is left)."""
    try:
        wait_for(lambda: not leftovers(), seconds, "no process left")
        return []
    except Timeout:
        return leftovers()

def wait_gone(pids, timeout, what="processes to be gone"):
    """Waits until every pid in pids is gone; returns the ones still alive at the deadline."""
    try:
        wait_for(lambda: all(gone(p) for p in pids), timeout, what)
        return []
    except Timeout:
        return [p for p in pids if not gone(p)]


# ---- the node -----------------------------------------------------------------------

def group(name, actors, **kw):
    """An app-file group using the test module."""
    g = {"name": name, "module": TESTMOD, "actors": actors}
    g.update(kw)
    return g


def actor(name, behaviour, args=None, **kw):
    a = {"name": name, "behaviour": behaviour}
    if args is not None:
        a["args"] = args
    a.update(kw)
    return a


class Node:
    """
    One actorsd under test.  app is the app file as a dict; "node" and
    "state_dir" default to a name and "st" (relative to the temp dir).
    self.app may still be edited (e.g. to name files in self.dir) until
    start() writes it.
    """

    def __init__(self, tap, app, name="t", env=None):
        self.tap = tap
        self.dir = tempfile.mkdtemp(prefix="actorsd-%s-" % name)
        if len(self.dir) > 60:  # keep the socket path well under sun_path's 108
            os.rmdir(self.dir)
            self.dir = tempfile.mkdtemp(prefix="actorsd-%s-" % name, dir="/tmp")
        self.app = dict(app)
        self.app.setdefault("node", name)
        self.app.setdefault("state_dir", "st")
        # The region outlives actorsd (recover.c): each test keeps its own.
        self.app.setdefault("runtime_dir", "run")
        self.state_dir = os.path.join(self.dir, self.app["state_dir"])
        self.sock = os.path.join(self.state_dir, "actorsd.sock")
        if "control_socket" in self.app:
            self.sock = os.path.join(self.dir, self.app["control_socket"])
        self.app_path = os.path.join(self.dir, "app.json")
        self.env = dict(os.environ)
        if env:
            self.env.update(env)
        self.proc = None
        self.log_path = os.path.join(self.dir, "actorsd.log")
        self.seen_pids = set()   # every worker pid status ever showed
        self.zygotes = set()
        tap.cleanups.append(self.cleanup)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    # -- lifecycle
    def write_app(self):
        """Writes self.app (it may be changed until start()) to app.json."""
        with open(self.app_path, "w") as f:
            json.dump(self.app, f, indent=1)

    def start(self, wait_ready=True, timeout=20):
        """Starts actorsd; with wait_ready, waits for all groups and returns the status."""
        self.write_app()
        if self.proc is not None:  # a second run in the same directory
            self.log.close()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([ACTORSD, self.app_path], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.dir, start_new_session=True)
        if wait_ready:
            return self.wait_ready(timeout)
        return None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=20):
        """actorsd's exit code, or raises Timeout."""
        wait_for(lambda: self.proc.poll() is not None, timeout, "actorsd to exit")
        return self.proc.returncode

    def terminate(self, timeout=20):
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def worker_pids(self, st=None):
        st = st or self.status()
        return [g["pid"] for g in st["groups"] if g["pid"]]

    def note_pids(self, st=None):
        """Records the current worker pids and the zygote (any other child)."""
        st = st or self.status()
        w = set(self.worker_pids(st))
        self.seen_pids |= w
        if self.running():
            self.zygotes |= set(children(self.proc.pid)) - w - self.seen_pids
        return st

    def cleanup(self):
        """Kills actorsd and everything it started; removes the temp dir if all passed."""
        if self.proc is not None:
            pids = set(self.seen_pids) | self.zygotes
            if self.proc.poll() is None:
                pids |= set(children(self.proc.pid))
                self.proc.kill()
                self.proc.wait()
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            wait_gone(list(pids), 5)
            self.log.close()
        if self.tap.keep_dirs:
            self.tap.diag("kept %s; actorsd log:" % self.dir)
            try:
                with open(self.log_path, errors="replace") as f:
                    self.tap.diag("".join(f.readlines()[-40:]))
            except OSError:
                pass
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the control socket, directly
    def request(self, req, timeout=10, sock_path=None):
        """One request (a dict) -> the answer (a dict), by socket + json."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(sock_path or self.sock)
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        if not buf:
            raise OSError(errno.ECONNRESET, "no answer from the node")
        return json.loads(buf)

    def status(self):
        st = self.request({"cmd": "status"})
        if not st.get("ok"):
            raise ValueError("status failed: %r" % (st,))
        for g in st["groups"]:
            if g["pid"]:
                self.seen_pids.add(g["pid"])
        return st

    def group(self, name, st=None):
        st = st or self.status()
        for g in st["groups"]:
            if g["name"] == name:
                return g
        raise KeyError(name)

    def pids(self, st=None):
        """{group name: pid or None}"""
        st = st or self.status()
        return {g["name"]: g["pid"] for g in st["groups"]}

    def wait_ready(self, timeout=20, groups=None):
        """Waits until every group (or those named) is ready; returns the status."""
        def pred():
            if not self.running():
                raise Timeout("actorsd exited with %s while waiting for ready groups"
                              % self.proc.returncode)
            st = self.status()
            gs = [g for g in st["groups"] if groups is None or g["name"] in groups]
            return st if all(g["state"] == "ready" and g["pid"] for g in gs) else None
        st = wait_for(pred, timeout, "groups %s ready" % (groups or "all"))
        return self.note_pids(st)

    def wait_group(self, name, pred, timeout=20, what=None):
        """Polls status until pred(group dict, status) holds; returns the status."""
        def p():
            st = self.status()
            return st if pred(self.group(name, st), st) else None
        st = wait_for(p, timeout, what or "group %s condition" % name)
        self.note_pids(st)
        return st

    def ask(self, actor_name, type_, msg, timeout_ms=5000):
        return self.request({"cmd": "ask", "actor": actor_name, "type": type_,
                             "message": msg, "timeout_ms": timeout_ms},
                            timeout=timeout_ms / 1000.0 + 5)

    def ask_ok(self, actor_name, type_, msg):
        """An ask that must be answered: the answer's message."""
        a = self.ask(actor_name, type_, msg)
        assert a.get("ok"), (actor_name, type_, a)
        return a["message"]

    def wait_downs(self, n, what, who="w0"):
        """t/testmod's watcher `who` reports its Downs (GetDowns) once it
        counts n of them, or after 10 s what it has then."""
        def downs():
            return self.ask_ok(who, "GetDowns", {})
        try:
            return wait_for(lambda: (lambda d: d if d["count"] >= n else None)(downs()), 10,
                            what)
        except Timeout:
            return downs()

    def send(self, actor_name, type_, msg):
        return self.request({"cmd": "send", "actor": actor_name, "type": type_,
                             "message": msg})

    # -- the app file and the log
    def rewrite_app(self, app):
        """Replaces the app file at once (rename), as an operator's tool would."""
        with open(self.app_path + ".tmp", "w") as f:
            json.dump(app, f, indent=1)
        os.rename(self.app_path + ".tmp", self.app_path)

    def reload(self, app, timeout=60):
        """rewrite_app(app), then actorsctl reload: (exit code, stdout, stderr)."""
        self.rewrite_app(app)
        return self.ctl("reload", timeout=timeout)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def start_refused(self, timeout=20):
        """Starts actorsd expecting it to refuse and exit by itself:
        (exit code, the log so far, the region files it moved aside)."""
        before = set(glob.glob(self.path("run", "region.refused-*")))
        self.start(wait_ready=False)
        rc = self.wait_exit(timeout)
        self.log.flush()
        aside = sorted(set(glob.glob(self.path("run", "region.refused-*"))) - before)
        return rc, self.log_text(), aside

    # -- through the real actorsctl
    def ctl(self, *args, timeout=30, user=None):
        """Runs actorsctl -s SOCK ARGS; returns (exit code, stdout, stderr)."""
        kw = {}
        if user is not None:
            kw["preexec_fn"] = user
        r = subprocess.run([ACTORSCTL, "-s", self.sock] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, env=self.env, **kw)
        return r.returncode, r.stdout, r.stderr

    def ctl_json(self, *args, timeout=30):
        """actorsctl --json ARGS -> (exit code, parsed answer or None, stderr)."""
        rc, out, err = self.ctl("--json", *args, timeout=timeout)
        try:
            a = json.loads(out)
        except ValueError:
            a = None
        return rc, a, err


def seed_random(tap):
    """Seeds random from $ACTORS_TEST_SEED or the clock, and says which."""
    seed = int(os.environ.get("ACTORS_TEST_SEED") or time.time_ns() % 1000000007)
    random.seed(seed)
    tap.diag("random seed %d (set ACTORS_TEST_SEED to repeat)" % seed)
    return seed
