#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/bank.py - the bank example (examples/bank) under actorsd with a crashing
ledger: every transfer is applied exactly once and the balances add up.

The app file is the shipped examples/bank/bank.json (module and state paths
made absolute, fewer transfers).  Three runs:
  1. the ledger's crash switch on (it raise()s SIGSEGV at random points
     inside applying a transfer, between debit and credit among them);
  2. fresh books, the switch off, 64 tellers, and the test SIGKILLs the
     ledger's worker from outside eight times at random points of the run
     instead, so that crashes also land at instructions the switch does not
     choose, while the ledger is busy (the tellers keep its ring full);
  3. run 1's books again with the tellers' progress files removed: every
     teller sends all of its transfers again, under the switch.
After runs 1 and 2:
  - status shows the ledger restarted (SIGSEGVs, resp. SIGKILLs), and
    nothing else was;
  - the ledger applied every transfer of every teller, once;
  - the money is conserved, at the end and at every audit the auditor made
    during the run;
  - every balance equals the one this script recomputes from the tellers'
    pseudo-random transfers (its own splitmix64, not the module's code);
  - no dead letters (bank.json sets max_redeliveries 50).
Run 1 also shows the journal at work (interrupted transfers finished on
recovery, redelivered ones recognised).  After run 3 every resent transfer
was recognised as a duplicate and no balance changed.  Waits poll against
deadlines; nothing sleeps for synchronisation.
"""
import json
import os
import random
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, wait_for, seed_random, TOP_BUILDDIR, TOP_SRCDIR  # noqa: E402

BANK_SO = os.path.join(TOP_BUILDDIR, "examples", "bank", ".libs", "bank.so")
BANK_JSON = os.path.join(TOP_SRCDIR, "examples", "bank", "bank.json")
TRANSFERS = 5000          # per teller
CRASH_PROBABILITY = 0.01  # per delivered transfer: a few hundred crashes
KILLS = 8                 # SIGKILLs from outside in run 2
TELLERS_KILL = 64         # tellers in run 2 (bank.c's most), most spawned by the test
TRANSFERS_KILL = 25000    # per teller in run 2
AHEAD = 4 * TRANSFERS_KILL  # spawned and not yet applied, in run 2

M64 = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def expected_balances(p):
    """The balances after every teller's transfers (bank_gen() in bank.c)."""
    k = p["accounts"]
    bal = [p["initial_balance"]] * k
    for teller in range(p["tellers"]):
        for seq in range(p["transfers"]):
            r1 = splitmix64(p["seed"] ^ (teller << 40) ^ seq)
            r2 = splitmix64(r1)
            r3 = splitmix64(r2)
            src = r1 % k
            dst = (src + 1 + r2 % (k - 1)) % k
            amount = 1 + r3 % p["max_amount"]
            bal[src] -= amount
            bal[dst] += amount
    return bal


class Books:
    """Reads the ledger's progress straight from its books (struct books in
    bank.c): a file read, cheaper than asking an actor, and exact while the
    ledger is frozen."""
    MAGIC, VERSION, APPLIED_AT = 0x314b4f4f424b4e42, 1, 56

    def __init__(self, path):
        self.path = path

    def applied(self):
        try:
            with open(self.path, "rb") as f:
                head = f.read(self.APPLIED_AT + 8)
        except FileNotFoundError:
            return 0
        if len(head) < self.APPLIED_AT + 8 or struct.unpack_from("<Q", head)[0] == 0:
            return 0  # the first ledger is still making the file
        if struct.unpack_from("<QI", head) != (self.MAGIC, self.VERSION):
            raise ValueError("%s: not books of the layout this test knows" % self.path)
        return struct.unpack_from("<q", head, self.APPLIED_AT)[0]


def actor_args(app, behaviour):
    return [a["args"] for g in app["groups"] for a in g["actors"] if a["behaviour"] == behaviour]


class Bank:
    """One actorsd running bank.json in its own temporary directory."""

    def __init__(self, tap, name, crash_probability, transfers=TRANSFERS, tellers=None):
        with open(BANK_JSON) as f:
            app = json.load(f)
        self.node = node = Node(tap, app, name=name)
        os.makedirs(node.state_dir, exist_ok=True)
        for g in node.app["groups"]:
            g["module"] = BANK_SO
            for a in g["actors"]:
                args = a["args"]
                if "transfers" in args:
                    args["transfers"] = transfers
                if tellers and "tellers" in args:
                    args["tellers"] = tellers
                for key in ("books", "progress"):
                    if key in args:
                        args[key] = os.path.join(node.state_dir, os.path.basename(args[key]))
                if a["behaviour"] == "ledger":
                    args["crash_probability"] = crash_probability
                if a["behaviour"] == "auditor":
                    args["period_ms"] = 5
        self.ledger_args = actor_args(node.app, "ledger")[0]
        self.teller_args = actor_args(node.app, "teller")
        self.auditor_args = actor_args(node.app, "auditor")[0]
        self.params = {"accounts": self.ledger_args["accounts"],
                       "tellers": self.ledger_args["tellers"], "transfers": transfers,
                       "seed": self.auditor_args["seed"],
                       "max_amount": self.auditor_args["max_amount"],
                       "initial_balance": self.ledger_args["initial_balance"]}
        self.total_transfers = self.params["tellers"] * transfers
        self.spawned = len(self.teller_args)  # tellers running, ids 0..spawned-1

    def spawn_tellers(self, n):
        """Spawns the next n tellers (ones the app file does not list) into
        the tellers group: their transfers join the run."""
        for _ in range(n):
            tid = self.spawned
            args = dict(self.teller_args[0], id=tid,
                        progress=os.path.join(self.node.state_dir, "teller-%d.next" % tid))
            r = self.node.request({"cmd": "spawn", "group": "tellers", "behaviour": "teller",
                                   "name": "teller-%d" % tid, "args": args})
            if not r.get("ok"):
                raise ValueError("spawn of teller %d: %r" % (tid, r))
            self.spawned += 1

    def start(self):
        # Not start()'s wait for every group to be ready at once: a crashing
        # ledger seldom is.
        self.node.start(wait_ready=False)
        wait_for(lambda: self.node.group("auditor")["state"] == "ready", 20,
                 "the auditor to be ready")

    def report(self):
        a = self.node.ask("auditor", "Report", {})
        if not a.get("ok"):
            raise ValueError("auditor: %r" % (a,))
        return a["message"]

    def audit(self):
        # The ledger stays silent on an Audit redelivered after a crash (a
        # reply cannot be taken back): then this ask times out; retry.
        def once():
            a = self.node.ask("ledger", "Audit", {}, timeout_ms=2000)
            return a["message"] if a.get("ok") else None
        return wait_for(once, 20, "an audit from the ledger")

    def wait_complete(self):
        return wait_for(lambda: (lambda r: r if r["complete"] else None)(self.report()), 40,
                        "the auditor to see all %d transfers applied" % self.total_transfers)


def check_books(tap, bank, want, run):
    """The checks common to runs 1 and 2; returns the ledger's audit."""
    node, p = bank.node, bank.params
    st = node.status()
    led = node.group("ledger", st)
    tap.is_((led["dead_letters"], st["dead_letters"]), (0, 0), "%s: no dead letters" % run)
    tap.is_([g["name"] for g in st["groups"] if g["restarts"]], ["ledger"],
            "%s: only the ledger was restarted (%d times)" % (run, led["restarts"]))
    a = bank.audit()
    tap.is_(a["applied"], bank.total_transfers,
            "%s: ledger applied %d transfers" % (run, bank.total_transfers))
    tap.is_(a["tellers"], [p["transfers"]] * p["tellers"],
            "%s: every teller's transfers, once" % run)
    tap.is_(a["total"], p["accounts"] * p["initial_balance"], "%s: the money is conserved" % run)
    tap.is_(sum(a["accounts"]), a["total"], "%s: the balances add up to the total" % run)
    tap.is_(a["accounts"], want, "%s: every balance equals the one recomputed here" % run)
    tap.is_(a["rejected"], 0, "%s: no transfer rejected as malformed" % run)
    r = bank.report()
    tap.ok(r["verified"] and r["mismatches"] == 0, "%s: the auditor verified the books" % run)
    tap.ok(r["audits"] >= 3 and r["violations"] == 0,
           "%s: no violation in %d audits during the run (money conserved at each)"
           % (run, r["audits"]))
    return st, a


if not os.path.exists(BANK_SO):
    print("1..0 # SKIP %s not built" % BANK_SO, flush=True)
    sys.exit(0)

tap = Tap(timeout=55)
with tap:
    seed_random(tap)
    t0 = time.monotonic()

    # ---- run 1: the crash switch
    bank = Bank(tap, "bank", CRASH_PROBABILITY)
    p = bank.params
    # The shipped file must be self-consistent, or the example lies.
    tap.is_(sorted(a["id"] for a in bank.teller_args), list(range(p["tellers"])),
            "bank.json: one teller per id 0..tellers-1")
    tap.ok(all(a[k] == p[k] for a in bank.teller_args + [bank.auditor_args]
               for k in ("accounts", "tellers", "seed", "max_amount") if k in a),
           "bank.json: tellers and auditor agree on the bank's parameters")
    want = expected_balances(p)

    bank.start()
    bank.wait_complete()
    tap.diag("run 1: all transfers applied after %.1f s" % (time.monotonic() - t0))
    st, a = check_books(tap, bank, want, "run 1")
    led = bank.node.group("ledger", st)
    tap.ok(led["restarts"] >= 10, "run 1: status shows %d ledger restarts" % led["restarts"])
    # quick_reap (on by default) restarts a group before its dead worker's
    # address space is torn down, but not the ledger's: its books are a
    # mapped file it flock()s, so each restart waited for the teardown.
    tap.is_(led["teardown_waits"], led["restarts"],
            "run 1: every ledger restart waited for the dead worker's teardown (its lock)")
    tap.ok(signal.SIGSEGV in {c["signal"] for c in st["crashes"] if c["group"] == "ledger"},
           "run 1: crash records show the switch's SIGSEGVs")
    tap.ok(led["redelivered"] > 0, "run 1: %d envelopes redelivered to the ledger"
           % led["redelivered"])
    tap.ok(a["recoveries"] > 0, "run 1: %d interrupted transfers finished from the journal"
           % a["recoveries"])
    tap.ok(a["duplicates"] > 0, "run 1: %d redelivered transfers recognised as applied"
           % a["duplicates"])
    tap.is_(bank.node.terminate(), 0, "run 1: actorsd stops cleanly (exit 0)")
    books1, dup1 = bank, a["duplicates"]

    # ---- run 2: SIGKILL from outside at random points, switch off.  The
    # test, not the clock, decides how far the run may go before each kill,
    # so that the ledger can never finish the run before the eighth kill
    # however slow the test is on a loaded machine: the app file starts
    # four of the 64 tellers, and the test spawns the others, always
    # enough to keep AHEAD transfers not yet applied (it never needs more
    # than 49 before the eighth kill).  It aims each kill at a random
    # number of transfers past the last, at most half of AHEAD, read from
    # the books, so that the ledger is still busy with the rest when the
    # test gets there unless the test was held up for that long; freezes
    # the ledger there (SIGSTOP: it stops at whatever instruction it was
    # executing), reads what it had applied, spawns tellers (nothing
    # progresses meanwhile), and SIGKILLs it.
    bank = Bank(tap, "bank-kill", 0, TRANSFERS_KILL, TELLERS_KILL)
    want_kill = expected_balances(bank.params)
    books = Books(bank.ledger_args["books"])
    bank.start()

    def spawn_ahead(applied):
        short = AHEAD - (bank.spawned * TRANSFERS_KILL - applied)
        if short > 0:
            bank.spawn_tellers(min(-(-short // TRANSFERS_KILL), TELLERS_KILL - bank.spawned))

    def next_instance(old):
        # Polled at a steady 1 ms (not wait_for's growing interval): the
        # new instance works on while the test sleeps.
        return wait_for(lambda: (lambda pid: pid if pid not in (None, old) else None)(
            bank.node.group("ledger")["pid"]), 20, "the ledger to be restarted after kill %d"
            % kills, interval=0.001, max_interval=0.001)

    kills, at_kill, released = 0, [], []
    deadline = time.monotonic() + 30
    victim = wait_for(lambda: bank.node.group("ledger")["pid"], 20, "the ledger's pid")
    applied, frozen = books.applied(), None
    spawn_ahead(applied)
    try:
        while kills < KILLS:
            target = applied + random.randint(1, AHEAD // 2)
            while books.applied() < target and time.monotonic() < deadline:
                time.sleep(0.001)
            if time.monotonic() >= deadline:
                break
            os.kill(victim, signal.SIGSTOP)
            frozen = victim
            applied = books.applied()  # exact: nothing writes the books now
            at_kill.append(applied)
            released.append(bank.spawned * TRANSFERS_KILL)
            spawn_ahead(applied)
            os.kill(victim, signal.SIGKILL)
            frozen = None
            kills += 1
            victim = next_instance(victim)
    finally:
        if frozen:
            os.kill(frozen, signal.SIGCONT)
    tap.is_(kills, KILLS, "run 2: SIGKILLed the ledger %d times from outside" % kills)
    tap.ok(kills and bank.spawned < TELLERS_KILL
           and all(n < bank.total_transfers for n in at_kill),
           "run 2: every kill landed with transfers outstanding (%d tellers of %d spawned)"
           % (bank.spawned, TELLERS_KILL))
    tap.diag("run 2: kills at %s transfers applied, of %s spawned; %d with some of them "
             "still to apply" % (", ".join(map(str, at_kill)), ", ".join(map(str, released)),
                                 sum(1 for n, w in zip(at_kill, released) if n < w)))
    bank.spawn_tellers(TELLERS_KILL - bank.spawned)
    bank.wait_complete()
    st, a = check_books(tap, bank, want_kill, "run 2")
    # Not "hung": the supervisor SIGKILLs a ledger frozen too long itself.
    sig9 = [c for c in st["crashes"]
            if c["group"] == "ledger" and c["signal"] == 9 and not c["hung"]]
    tap.is_(len(sig9), kills, "run 2: crash records show the %d SIGKILLs" % kills)
    # handling_type, not handling_from: a crash record keeps the sender of
    # the last envelope even when the worker died between two of them.
    tap.diag("run 2: %d of the kills landed inside a handler; %d transfers finished from the "
             "journal, %d redelivered ones recognised"
             % (sum(1 for c in sig9 if c["handling_type"]), a["recoveries"], a["duplicates"]))
    tap.is_(bank.node.terminate(), 0, "run 2: actorsd stops cleanly (exit 0)")

    # ---- run 3: run 1's books, the tellers start over from seq 0
    bank = books1
    for args in bank.teller_args:
        os.unlink(args["progress"])
    bank.start()
    want_dups = dup1 + bank.total_transfers
    a = wait_for(lambda: (lambda r: r if r["duplicates"] >= want_dups else None)(bank.audit()),
                 40, "the ledger to see every transfer again")
    st = bank.node.status()
    restarts = bank.node.group("ledger", st)["restarts"]
    tap.ok(restarts >= 1, "run 3: the ledger crashed again (%d restarts)" % restarts)
    tap.is_(a["applied"], bank.total_transfers, "run 3: nothing applied twice")
    tap.is_(a["accounts"], want, "run 3: no balance changed")
    tap.is_(st["dead_letters"], 0, "run 3: no dead letters")
    tap.is_(bank.node.terminate(), 0, "run 3: actorsd stops cleanly (exit 0)")
    tap.diag("%.1f s in all" % (time.monotonic() - t0))
