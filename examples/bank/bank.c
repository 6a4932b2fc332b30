/* SPDX-License-Identifier: MIT */
/*
 * examples/bank/bank.c - a bank whose ledger may be killed at any
 * instruction and still applies every transfer exactly once, as a group
 * module for actorsd (the DomoActors bank idea: tellers, a ledger of
 * accounts and an auditor, each group in its own worker process).
 *
 * Behaviours:
 *   teller   on Start sends its share of transfers to the ledger:
 *            Transfer{teller, seq, from, to, amount} for seq = 0..N-1, the
 *            accounts and amount derived from (seed, teller, seq) by
 *            bank_gen() below, so that anyone can recompute them.  Backs
 *            off on a full ring; remembers how far it got in a file.
 *   ledger   holds the balances and applies transfers.  Its durable state,
 *            "the books", is a file mapped MAP_SHARED; see the long comment
 *            before struct books for why a crash at any point followed by
 *            redelivery applies each transfer once.  Answers Audit{} with
 *            AuditReport{total, expected_total, applied, duplicates,
 *            recoveries, rejected, restarts, accounts[], tellers[]}.  The
 *            crash switch (args.crash_probability > 0) makes it
 *            raise(SIGSEGV) while handling a Transfer, with that
 *            probability per delivery, at one of the points of enum
 *            crash_point, between the debit and the credit among them.
 *   auditor  asks the ledger for an audit every period and checks that the
 *            money is conserved at every audit; once every transfer is
 *            applied it recomputes each balance from bank_gen() and
 *            compares, and logs VERIFIED or FAILED.  Answers Report{} with
 *            AuditorReport{audits, timeouts, violations, applied, expected,
 *            total, ledger_restarts, mismatches, complete, verified}.
 *
 * Arguments (app file; keep the shared ones equal across actors):
 *   shared   accounts 2..1000, tellers 1..64, transfers (per teller)
 *            0..4194304, seed [1], max_amount 1..10^9 [1000],
 *            initial_balance [100000]
 *   teller   id (0..tellers-1), progress (file, optional), batch [256]
 *            sends per turn, pause_ms [0] between turns, ledger ["ledger"];
 *            uses accounts, tellers, transfers, seed, max_amount
 *   ledger   books (file, required), crash_probability 0..1 [0];
 *            uses accounts, tellers, transfers, initial_balance
 *   auditor  ledger ["ledger"], period_ms [20], timeout_ms [2000],
 *            shutdown_when_done [false] (stop the node once verified);
 *            uses all the shared ones
 * Relative file names are relative to actorsd's working directory.
 *
 * Transfer ids are the pair (teller, seq).  Balances may go negative (the
 * bank grants unlimited overdraft): refusing a transfer for lack of funds
 * would make the outcome depend on how the tellers' streams interleave,
 * and the point here is exactly-once, not credit policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

/* ---- messages ------------------------------------------------------------------ */

typedef struct {
	int32_t teller;   /* 0..tellers-1 */
	int32_t from;     /* account debited, 0..accounts-1 */
	int32_t to;       /* account credited, != from */
	int64_t seq;      /* the teller's sequence number, 0..transfers-1 */
	int64_t amount;   /* > 0 */
} transfer_msg;

typedef struct { char _unused; } audit_msg;

typedef struct {
	int64_t total;          /* sum of the balances */
	int64_t expected_total; /* accounts * initial_balance */
	int64_t applied;        /* transfers applied (each once) */
	int64_t duplicates;     /* deliveries of transfers already applied */
	int64_t recoveries;     /* interrupted transfers finished from the journal */
	int64_t rejected;       /* malformed transfers refused */
	int32_t restarts;       /* of the ledger's group, as its last Start said */
	act_buf accounts;       /* JSON array: the balances */
	act_buf tellers;        /* JSON array: transfers applied per teller */
} audit_report_msg;

typedef struct { char _unused; } report_msg;

typedef struct {
	int64_t audits;         /* audits answered */
	int64_t timeouts;       /* audits not answered in time */
	int64_t violations;     /* audits that broke an invariant */
	int64_t applied;        /* as the last audit said */
	int64_t expected;       /* transfers the tellers make in all */
	int64_t total;          /* as the last audit said */
	int32_t ledger_restarts;
	int32_t mismatches;     /* balances that differ from the recomputed ones */
	bool complete;          /* every transfer was applied */
	bool verified;          /* complete, and no violation and no mismatch */
} auditor_report_msg;

ACT_MESSAGE_TYPE(transfer_type, transfer_msg, "Transfer",
                 ACT_FIELD(transfer_msg, teller, ACT_I32),
                 ACT_FIELD(transfer_msg, from, ACT_I32),
                 ACT_FIELD(transfer_msg, to, ACT_I32),
                 ACT_FIELD(transfer_msg, seq, ACT_I64),
                 ACT_FIELD(transfer_msg, amount, ACT_I64));
ACT_MESSAGE_TYPE_EMPTY(audit_type, audit_msg, "Audit");
ACT_MESSAGE_TYPE(audit_report_type, audit_report_msg, "AuditReport",
                 ACT_FIELD(audit_report_msg, total, ACT_I64),
                 ACT_FIELD(audit_report_msg, expected_total, ACT_I64),
                 ACT_FIELD(audit_report_msg, applied, ACT_I64),
                 ACT_FIELD(audit_report_msg, duplicates, ACT_I64),
                 ACT_FIELD(audit_report_msg, recoveries, ACT_I64),
                 ACT_FIELD(audit_report_msg, rejected, ACT_I64),
                 ACT_FIELD(audit_report_msg, restarts, ACT_I32),
                 ACT_FIELD(audit_report_msg, accounts, ACT_JSON),
                 ACT_FIELD(audit_report_msg, tellers, ACT_JSON));
ACT_MESSAGE_TYPE_EMPTY(report_type, report_msg, "Report");
ACT_MESSAGE_TYPE(auditor_report_type, auditor_report_msg, "AuditorReport",
                 ACT_FIELD(auditor_report_msg, audits, ACT_I64),
                 ACT_FIELD(auditor_report_msg, timeouts, ACT_I64),
                 ACT_FIELD(auditor_report_msg, violations, ACT_I64),
                 ACT_FIELD(auditor_report_msg, applied, ACT_I64),
                 ACT_FIELD(auditor_report_msg, expected, ACT_I64),
                 ACT_FIELD(auditor_report_msg, total, ACT_I64),
                 ACT_FIELD(auditor_report_msg, ledger_restarts, ACT_I32),
                 ACT_FIELD(auditor_report_msg, mismatches, ACT_I32),
                 ACT_FIELD(auditor_report_msg, complete, ACT_BOOL),
                 ACT_FIELD(auditor_report_msg, verified, ACT_BOOL));

/* Limits on the arguments, so that every sum below fits an int64_t and
 * every number in a report is exact in JSON (below 2^53). */
#define MAX_ACCOUNTS      1000
#define MAX_TELLERS       64
#define MAX_TRANSFERS     (1 << 22)        /* per teller */
#define MAX_AMOUNT        1000000000LL
#define MAX_INITIAL       1000000000000LL  /* |initial_balance| */

#define TIMER_PUMP  1
#define TIMER_AUDIT 2

/* ---- the transfers: one pure function of (seed, teller, seq) ---------------------- */

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Fills *t with transfer seq of teller `teller`: from is uniform over the
 * accounts, to is uniform over the others, amount uniform in 1..max_amount.
 * t/bank.py recomputes the same numbers in Python; change both together.
 */
static void bank_gen(uint64_t seed, int32_t teller, int64_t seq, uint32_t accounts,
                     int64_t max_amount, transfer_msg *t)
{
	uint64_t r1 = splitmix64(seed ^ ((uint64_t)teller << 40) ^ (uint64_t)seq);
	uint64_t r2 = splitmix64(r1);
	uint64_t r3 = splitmix64(r2);

	t->teller = teller;
	t->seq = seq;
	t->from = (int32_t)(r1 % accounts);
	t->to = (int32_t)(((uint64_t)t->from + 1 + r2 % (accounts - 1)) % accounts);
	t->amount = 1 + (int64_t)(r3 % (uint64_t)max_amount);
}

/* ---- arguments ------------------------------------------------------------------- */

/* Common bank parameters: every behaviour takes those it needs. */
struct params {
	int64_t accounts, tellers, transfers, seed, max_amount, initial_balance;
};

static void say(const act_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const act_ctx *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "bank: %s: %s\n", act_self_name(ctx), line);
}

/*
 * *out = integer args[key] in lo..hi, or def when the key is absent (an
 * absent key with required set is an error).  0 or -EINVAL (said).
 */
static int arg_int(const act_ctx *ctx, const cJSON *args, const char *key, int64_t lo,
                   int64_t hi, int64_t def, bool required, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	if (!v) {
		if (required) {
			say(ctx, "args.%s is required", key);
			return -EINVAL;
		}
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
	    v->valuedouble != (double)(int64_t)v->valuedouble) {
		say(ctx, "args.%s must be an integer in %" PRId64 "..%" PRId64, key, lo, hi);
		return -EINVAL;
	}
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* args[key] as a string (NULL when absent); -EINVAL if it is not a string. */
static int arg_str(const act_ctx *ctx, const cJSON *args, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		say(ctx, "args.%s must be a non-empty string", key);
		return -EINVAL;
	}
	*out = v->valuestring;
	return 0;
}

/* args[key] as a bool, def when absent. */
static int arg_bool(const act_ctx *ctx, const cJSON *args, const char *key, bool def, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);

	*out = def;
	if (!v)
		return 0;
	if (!cJSON_IsBool(v)) {
		say(ctx, "args.%s must be true or false", key);
		return -EINVAL;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

/* Looks up the actor named by args[key] (default "ledger"). */
static int arg_ref(act_ctx *ctx, const cJSON *args, const char *key, act_ref *out)
{
	const char *name;
	int err = arg_str(ctx, args, key, &name);

	if (err)
		return err;
	err = act_lookup(ctx, name ? name : "ledger", out);
	if (err)
		say(ctx, "no actor '%s' (args.%s) in this node", name ? name : "ledger", key);
	return err;
}

/* Reads the parameters named in `which` (a string of letters:
 * a accounts, t tellers, n transfers, s seed, m max_amount, i initial). */
static int arg_params(const act_ctx *ctx, const cJSON *args, const char *which, struct params *p)
{
	int err = 0;

	memset(p, 0, sizeof *p);
	for (; *which && !err; which++) {
		switch (*which) {
		case 'a':
			err = arg_int(ctx, args, "accounts", 2, MAX_ACCOUNTS, 0, true, &p->accounts);
			break;
		case 't':
			err = arg_int(ctx, args, "tellers", 1, MAX_TELLERS, 0, true, &p->tellers);
			break;
		case 'n':
			err = arg_int(ctx, args, "transfers", 0, MAX_TRANSFERS, 0, true, &p->transfers);
			break;
		case 's':
			err = arg_int(ctx, args, "seed", 0, (1LL << 53) - 1, 1, false, &p->seed);
			break;
		case 'm':
			err = arg_int(ctx, args, "max_amount", 1, MAX_AMOUNT, 1000, false, &p->max_amount);
			break;
		case 'i':
			err = arg_int(ctx, args, "initial_balance", -MAX_INITIAL, MAX_INITIAL, 100000,
			              false, &p->initial_balance);
			break;
		default: err = -EINVAL;
		}
	}
	return err;
}

/* Parses args_json into an object (NULL args are an empty object). */
static cJSON *parse_args(const act_ctx *ctx, const char *args_json)
{
	cJSON *o = args_json ? cJSON_Parse(args_json) : cJSON_CreateObject();

	if (o && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	if (!o)
		say(ctx, "args must be a JSON object");
	return o;
}

/* ---- teller ------------------------------------------------------------------------ */

struct teller {
	act_ref ledger;
	struct params p;
	int32_t id;
	int64_t next;         /* next seq to send */
	int64_t batch;        /* sends per turn of the worker's loop */
	int64_t pause_ms;     /* between two turns (0: as fast as the ring takes) */
	int64_t refused;      /* sends refused because the ledger's ring was full */
	int progress_fd;      /* holds `next` (8 bytes), or -1 */
	bool announced;
};

static int teller_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct teller *t = state;
	cJSON *args = parse_args(ctx, args_json);
	const char *progress = NULL;
	int64_t id = 0;
	int err;

	t->progress_fd = -1;
	if (!args)
		return -EINVAL;
	err = arg_params(ctx, args, "atnsm", &t->p);
	if (!err) err = arg_int(ctx, args, "id", 0, MAX_TELLERS - 1, 0, true, &id);
	if (!err) err = arg_int(ctx, args, "batch", 1, 65536, 256, false, &t->batch);
	if (!err) err = arg_int(ctx, args, "pause_ms", 0, 60000, 0, false, &t->pause_ms);
	if (!err) err = arg_str(ctx, args, "progress", &progress);
	if (!err) err = arg_ref(ctx, args, "ledger", &t->ledger);
	if (!err && id >= t->p.tellers) {
		say(ctx, "args.id %" PRId64 " is not below args.tellers %" PRId64, id, t->p.tellers);
		err = -EINVAL;
	}
	t->id = (int32_t)id;
	if (!err && progress) {
		/* Where the last instance got to.  It is written after the sends
		 * (see teller_pump), so a restarted teller may send a few
		 * transfers again: the ledger recognises them by their id. */
		t->progress_fd = open(progress, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (t->progress_fd < 0) {
			err = -errno;
			say(ctx, "cannot open %s: %s", progress, strerror(errno));
		} else if (pread(t->progress_fd, &t->next, sizeof t->next, 0) != sizeof t->next ||
		           t->next < 0 || t->next > t->p.transfers) {
			t->next = 0;
		}
	}
	cJSON_Delete(args);
	return err;
}

static void teller_fini(act_ctx *ctx, void *state)
{
	struct teller *t = state;

	if (t->progress_fd >= 0)
		close(t->progress_fd);
	t->progress_fd = -1;
}

/* Sends up to `batch` transfers, then gives the loop back to the runtime. */
static void teller_pump(act_ctx *ctx, struct teller *t)
{
	uint64_t delay_ms = (uint64_t)t->pause_ms;
	int64_t sent = 0;

	while (t->next < t->p.transfers && sent < t->batch) {
		transfer_msg m;
		bank_gen((uint64_t)t->p.seed, t->id, t->next, (uint32_t)t->p.accounts,
		         t->p.max_amount, &m);
		int err = act_send(ctx, t->ledger, &transfer_type, &m);
		if (err == ACT_EFULL) {
			/* The ledger is behind (or being restarted): try again soon. */
			t->refused++;
			delay_ms = delay_ms ? delay_ms : 1;
			break;
		}
		if (err) {
			say(ctx, "send of transfer %" PRId32 ":%" PRId64 " failed: %s", t->id, t->next,
			    act_strerror(err));
			delay_ms = 100;
			break;
		}
		t->next++;
		sent++;
	}
	if (sent && t->progress_fd >= 0 &&
	    pwrite(t->progress_fd, &t->next, sizeof t->next, 0) != sizeof t->next)
		say(ctx, "cannot record progress: %s", strerror(errno));
	if (t->next < t->p.transfers) {
		act_timer_once(ctx, delay_ms, TIMER_PUMP);
	} else if (!t->announced) {
		t->announced = true;
		say(ctx, "all %" PRId64 " transfers sent (%" PRId64 " refusals by a full ring)",
		    t->p.transfers, t->refused);
	}
}

static void teller_start(act_ctx *ctx, void *state, const void *msg) { teller_pump(ctx, state); }
static void teller_timeout(act_ctx *ctx, void *state, const void *msg) { teller_pump(ctx, state); }

static const act_handler teller_handlers[] = {
	{ &act_start_type, teller_start },
	{ &act_timeout_type, teller_timeout },
};
static const act_behaviour teller_behaviour = {
	.name = "teller", .state_size = sizeof(struct teller),
	.init = teller_init, .fini = teller_fini,
	.handlers = teller_handlers, .n_handlers = 2,
};

/* ---- ledger: the books ------------------------------------------------------------- */

/*
 * The books: one file, mapped MAP_SHARED, so that every store the ledger
 * makes is in the page cache the moment it executes and survives the
 * ledger's process (not a power cut: that would need msync at the two
 * commit points below).
 *
 *     struct books                   header, counters and the journal
 *     int64_t balance[accounts]
 *     int64_t per_teller[tellers]    transfers applied per teller
 *     uint64_t applied_bits[tellers][words]   bit seq: (teller, seq) applied
 *
 * Why a crash anywhere, then redelivery, applies each transfer once.  The
 * ledger is one thread, and a crash (our raise, or SIGKILL from outside)
 * stops it between two instructions: every store before that point is in
 * the file, none after.  The next instance runs after the supervisor
 * reaped this one, so it sees exactly that prefix.  A transfer changes
 * four things (two balances, its applied bit, two counters), which cannot
 * be done in one store; the journal makes them one:
 *
 *   1. dedupe   if the applied bit of (teller, seq) is set, stop here.
 *   2. prepare  write into the journal the transfer and the values the
 *               four things will have afterwards (absolute values, not
 *               deltas), computed from the current balances.
 *   3. commit   journal.state = PENDING, one 8-byte atomic store.
 *   4. apply    store the new values: debit, credit, bit, counters.
 *   5. close    journal.state = IDLE.
 *
 * And before step 1 of every handler (recovery): if journal.state is
 * PENDING, redo step 4 from the journal, then step 5.
 *
 * A crash before 3 leaves the books as they were (the journal's contents
 * are ignored while it is IDLE), and the redelivered transfer starts over.
 * A crash after 3 leaves the journal PENDING; the next handler redoes 4,
 * which is idempotent because it stores absolute values that were computed
 * before any of them was stored, and no other transfer ran in between:
 * recovery is the first thing any handler does.  A crash inside recovery
 * is the same case again.  After 5 the bit is set, so the redelivered
 * transfer stops at step 1 (a "duplicate").  The applied bit (not a
 * per-teller high-water mark) makes this independent of order: a teller
 * that resends after its own restart, or a dead letter replayed by an
 * operator, is recognised too.
 *
 * The compiler must not move stores across the commit points, or step 4's
 * stores could land before the PENDING store.  A crash is an interruption
 * of this thread at an instruction boundary, which is exactly what a
 * signal fence orders against (set_state below); no hardware fence is
 * needed since nobody reads the books concurrently.
 */
#define BOOKS_MAGIC   0x314b4f4f424b4e42ull  /* "BNKBOOK1" */
#define BOOKS_VERSION 1u

enum { J_IDLE = 0, J_PENDING = 0x50454e44 /* "PEND" */ };

struct journal {
	_Atomic uint64_t state;  /* J_IDLE or J_PENDING: the commit word */
	int64_t teller, seq, from, to;
	int64_t new_from, new_to;           /* the two balances afterwards */
	int64_t new_applied, new_per_teller; /* the two counters afterwards */
};

struct books {
	_Atomic uint64_t magic;  /* stored last when the file is made */
	uint32_t version;
	uint32_t header_bytes;
	uint64_t file_bytes;
	int64_t accounts, tellers, transfers, initial_balance;
	int64_t applied;         /* transfers applied: changed only by step 4 */
	/* Statistics: plain increments, not part of the exactly-once state. */
	int64_t duplicates, recoveries, rejected;
	struct journal j __attribute__((aligned(64)));
};

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the commit word must be lock-free");
_Static_assert(sizeof(struct books) % 64 == 0, "the arrays start on a cache line");

/* Crash points of the crash switch, in the order they are reached: one
 * between every two stores of the apply phase (steps 3 to 5), where the
 * order matters, and samples of the phases where it does not. */
enum crash_point {
	CP_NONE = 0,
	CP_BEFORE_DEDUPE,    /* recovery done; duplicates crash here too */
	CP_BEFORE_PREPARE,   /* dedupe passed, nothing written */
	CP_MID_PREPARE,      /* journal half written, still IDLE */
	CP_AFTER_COMMIT,     /* PENDING, nothing applied */
	CP_AFTER_DEBIT,      /* money left `from` and is not in `to` yet */
	CP_AFTER_CREDIT,     /* both balances done, not marked applied */
	CP_AFTER_MARK,       /* marked applied, the counters not yet updated */
	CP_AFTER_TELLER,     /* the teller's counter done, not the total */
	CP_AFTER_COUNT,      /* everything done, journal still PENDING */
	CP_AFTER_CLOSE,      /* done, the envelope not yet released */
	CP_COUNT_PLUS_ONE,
};
#define CP_COUNT (CP_COUNT_PLUS_ONE - 1)

struct ledger {
	struct params p;
	struct books *b;
	size_t map_bytes;
	int fd;
	int64_t *balance;
	int64_t *per_teller;
	uint64_t *bits;
	uint64_t words;          /* bitmap words per teller */
	double crash_probability;
	uint64_t rng;            /* xorshift64 state, seeded per process */
	enum crash_point crash_at;  /* for the transfer being handled */
	int32_t restarts;
	char *json;              /* the report's text buffer */
	size_t json_cap;
};

static void ledger_layout(struct ledger *l)
{
	char *base = (char *)l->b;

	l->balance = (int64_t *)(base + sizeof(struct books));
	l->per_teller = l->balance + l->p.accounts;
	l->bits = (uint64_t *)(l->per_teller + l->p.tellers);
}

static size_t books_bytes(const struct params *p, uint64_t words)
{
	return sizeof(struct books) + (size_t)(p->accounts + p->tellers) * sizeof(int64_t) +
	       (size_t)p->tellers * words * sizeof(uint64_t);
}

/* The commit points: see the comment before struct books. */
static void set_state(struct journal *j, uint64_t v)
{
	/* The release store keeps the journal's fields (prepare) and the
	 * applied values (apply) before it; the fence after it keeps the
	 * following stores (apply, after a PENDING) after it.  Without them
	 * the compiler may reorder, and a crash would see a balance changed
	 * while the journal is IDLE. */
	atomic_store_explicit(&j->state, v, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
}

static void maybe_crash(const struct ledger *l, enum crash_point at)
{
	if (l->crash_at == at) {
		fprintf(stderr, "bank: ledger: crash switch: SIGSEGV at point %d\n", (int)at);
		raise(SIGSEGV);
	}
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Draws whether (and where) to crash while handling this transfer.  The
 * seed differs per process, so a redelivered transfer does not crash at
 * the same point again (else it would be a poison message). */
static void roll_crash(struct ledger *l)
{
	l->crash_at = CP_NONE;
	if (l->crash_probability <= 0)
		return;
	double u = (double)(xorshift64(&l->rng) >> 11) * 0x1p-53;
	if (u < l->crash_probability)
		l->crash_at = (enum crash_point)(1 + xorshift64(&l->rng) % CP_COUNT);
}

/* Step 4 (and its close, step 5) from the journal; also the recovery. */
static void apply_journal(struct ledger *l)
{
	struct journal *j = &l->b->j;

	l->balance[j->from] = j->new_from;
	maybe_crash(l, CP_AFTER_DEBIT);
	l->balance[j->to] = j->new_to;
	maybe_crash(l, CP_AFTER_CREDIT);
	l->bits[(uint64_t)j->teller * l->words + (uint64_t)j->seq / 64] |= 1ull << (j->seq % 64);
	maybe_crash(l, CP_AFTER_MARK);
	l->per_teller[j->teller] = j->new_per_teller;
	maybe_crash(l, CP_AFTER_TELLER);
	l->b->applied = j->new_applied;
	maybe_crash(l, CP_AFTER_COUNT);
	set_state(j, J_IDLE);
}

/* Finishes a transfer a previous instance was killed in (step 4 after 3). */
static void recover(struct ledger *l)
{
	if (atomic_load_explicit(&l->b->j.state, memory_order_acquire) != J_PENDING)
		return;
	l->b->recoveries++;
	apply_journal(l);
}

static bool transfer_valid(const struct ledger *l, const transfer_msg *t)
{
	return t->teller >= 0 && t->teller < l->p.tellers && t->seq >= 0 &&
	       t->seq < l->p.transfers && t->from >= 0 && t->from < l->p.accounts &&
	       t->to >= 0 && t->to < l->p.accounts && t->from != t->to && t->amount > 0 &&
	       t->amount <= MAX_AMOUNT;
}

static bool applied(const struct ledger *l, int64_t teller, int64_t seq)
{
	return l->bits[(uint64_t)teller * l->words + (uint64_t)seq / 64] >> (seq % 64) & 1;
}

static void ledger_transfer(act_ctx *ctx, void *state, const void *msg)
{
	struct ledger *l = state;
	const transfer_msg *t = msg;
	struct journal *j = &l->b->j;

	roll_crash(l);
	recover(l);
	if (!transfer_valid(l, t)) {
		l->b->rejected++;
		say(ctx, "rejected malformed transfer %" PRId32 ":%" PRId64 " (%" PRId32 " -> %" PRId32
		    ", amount %" PRId64 ")", t->teller, t->seq, t->from, t->to, t->amount);
		return;
	}
	/* 1. dedupe */
	maybe_crash(l, CP_BEFORE_DEDUPE);
	if (applied(l, t->teller, t->seq)) {
		l->b->duplicates++;
		return;
	}
	maybe_crash(l, CP_BEFORE_PREPARE);
	/* 2. prepare (ignored while the journal is IDLE) */
	j->teller = t->teller;
	j->seq = t->seq;
	j->from = t->from;
	j->to = t->to;
	maybe_crash(l, CP_MID_PREPARE);
	j->new_from = l->balance[t->from] - t->amount;
	j->new_to = l->balance[t->to] + t->amount;
	j->new_per_teller = l->per_teller[t->teller] + 1;
	j->new_applied = l->b->applied + 1;
	/* 3. commit */
	set_state(j, J_PENDING);
	maybe_crash(l, CP_AFTER_COMMIT);
	/* 4. apply, 5. close */
	apply_journal(l);
	maybe_crash(l, CP_AFTER_CLOSE);
}

/* Appends the text of fmt to buf (cap bytes) at *off.  -EMSGSIZE if full. */
static int append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= cap - *off)
		return -EMSGSIZE;
	*off += (size_t)k;
	return 0;
}

/* Writes "[v0,v1,...]" (n values) as a C string into buf at *off, and
 * advances *off past its NUL.  0 or -EMSGSIZE. */
static int put_array(char *buf, size_t cap, size_t *off, const int64_t *v, int64_t n)
{
	int err = append(buf, cap, off, "[");

	for (int64_t i = 0; i < n && !err; i++)
		err = append(buf, cap, off, "%s%" PRId64, i ? "," : "", v[i]);
	if (!err)
		err = append(buf, cap, off, "]");
	if (!err)
		(*off)++; /* append() left room for the NUL */
	return err;
}

static void ledger_audit(act_ctx *ctx, void *state, const void *msg)
{
	struct ledger *l = state;
	audit_report_msg r = { 0 };
	size_t off = 0, tellers_off;

	recover(l);
	/* A reply cannot be taken back: if the ledger died after answering
	 * this request, answering it again would reach an ask that is over
	 * (a dead letter).  Stay silent on redelivery; the asker times out
	 * and asks again. */
	if (act_redelivered(ctx))
		return;
	for (int64_t i = 0; i < l->p.accounts; i++)
		r.total += l->balance[i];
	r.expected_total = l->p.accounts * l->p.initial_balance;
	r.applied = l->b->applied;
	r.duplicates = l->b->duplicates;
	r.recoveries = l->b->recoveries;
	r.rejected = l->b->rejected;
	r.restarts = l->restarts;
	int err = put_array(l->json, l->json_cap, &off, l->balance, l->p.accounts);
	tellers_off = off;
	if (!err)
		err = put_array(l->json, l->json_cap, &off, l->per_teller, l->p.tellers);
	if (err) {
		say(ctx, "cannot answer an audit: the report does not fit");
		return;
	}
	r.accounts = (act_buf){ .ptr = l->json, .len = (uint32_t)strlen(l->json) };
	r.tellers = (act_buf){ .ptr = l->json + tellers_off,
	                       .len = (uint32_t)strlen(l->json + tellers_off) };
	err = act_reply(ctx, &audit_report_type, &r);
	if (err)
		say(ctx, "cannot answer an audit: %s", act_strerror(err));
}

static void ledger_start(act_ctx *ctx, void *state, const void *msg)
{
	struct ledger *l = state;
	const act_start *s = msg;
	const struct journal *j = &l->b->j;

	l->restarts = s->n_restarts;
	if (!s->restart && l->crash_probability > 0)
		say(ctx, "crash switch on: SIGSEGV with probability %g per transfer",
		    l->crash_probability);
	if (atomic_load_explicit(&j->state, memory_order_relaxed) == J_PENDING)
		say(ctx, "transfer %" PRId64 ":%" PRId64 " was interrupted; the next message "
		    "finishes it from the journal", j->teller, j->seq);
}

/* Checks that the mapped books were made for these parameters and are
 * intact.  0 or -EPROTO (said). */
static int books_check(act_ctx *ctx, const struct ledger *l, const char *path)
{
	const struct books *b = l->b;
	const struct journal *j = &b->j;

	if (b->version != BOOKS_VERSION || b->header_bytes != sizeof *b ||
	    b->file_bytes != l->map_bytes || b->accounts != l->p.accounts ||
	    b->tellers != l->p.tellers || b->transfers != l->p.transfers ||
	    b->initial_balance != l->p.initial_balance) {
		say(ctx, "%s: books of another bank (version, accounts, tellers, transfers or "
		    "initial_balance differ); remove the file to start afresh", path);
		return -EPROTO;
	}
	uint64_t st = atomic_load_explicit(&j->state, memory_order_relaxed);
	if (st != J_IDLE && (st != J_PENDING || j->teller < 0 || j->teller >= b->tellers ||
	                     j->seq < 0 || j->seq >= b->transfers || j->from < 0 ||
	                     j->from >= b->accounts || j->to < 0 || j->to >= b->accounts)) {
		say(ctx, "%s: corrupt journal; refusing to follow it", path);
		return -EPROTO;
	}
	return 0;
}

/* Opens (or makes) the books at path and maps them.  0 or -errno (said). */
static int books_open(act_ctx *ctx, struct ledger *l, const char *path)
{
	struct stat st;
	uint64_t magic = 0;
	bool fresh;
	int err;

	l->words = ((uint64_t)l->p.transfers + 63) / 64;
	l->map_bytes = books_bytes(&l->p, l->words);
	l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd < 0) {
		err = -errno;
		say(ctx, "cannot open the books %s: %s", path, strerror(errno));
		return err;
	}
	/* Two ledgers on one file would corrupt it.  The previous instance is
	 * dead (reaped) before a restarted one runs init, so its lock is gone;
	 * any holder is a foreign process. */
	if (flock(l->fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		say(ctx, "the books %s are in use by another process: %s", path, strerror(errno));
		goto fail_close;
	}
	if (fstat(l->fd, &st)) {
		err = -errno;
		goto fail_close;
	}
	/* A file without the magic was never completed: make it again. */
	fresh = st.st_size < (off_t)sizeof(struct books) ||
	        pread(l->fd, &magic, sizeof magic, 0) != sizeof magic || magic != BOOKS_MAGIC;
	if (fresh && (ftruncate(l->fd, 0) || ftruncate(l->fd, (off_t)l->map_bytes))) {
		err = -errno;
		say(ctx, "cannot size the books %s: %s", path, strerror(errno));
		goto fail_close;
	}
	if (!fresh && st.st_size != (off_t)l->map_bytes) {
		say(ctx, "%s: books of another bank (size differs); remove the file to start "
		    "afresh", path);
		err = -EPROTO;
		goto fail_close;
	}
	void *p = mmap(NULL, l->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, l->fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		say(ctx, "cannot map the books %s: %s", path, strerror(errno));
		goto fail_close;
	}
	l->b = p;
	ledger_layout(l);
	if (fresh) {
		struct books *b = l->b;
		b->version = BOOKS_VERSION;
		b->header_bytes = sizeof *b;
		b->file_bytes = l->map_bytes;
		b->accounts = l->p.accounts;
		b->tellers = l->p.tellers;
		b->transfers = l->p.transfers;
		b->initial_balance = l->p.initial_balance;
		for (int64_t i = 0; i < l->p.accounts; i++)
			l->balance[i] = l->p.initial_balance;
		/* Last: the file is valid from this store on (release: after
		 * everything above, which a crash would otherwise leave half
		 * done behind a valid magic). */
		atomic_store_explicit(&b->magic, BOOKS_MAGIC, memory_order_release);
		say(ctx, "opened new books %s: %" PRId64 " accounts of %" PRId64, path,
		    l->p.accounts, l->p.initial_balance);
	}
	err = books_check(ctx, l, path);
	if (err)
		goto fail_unmap;
	return 0;

fail_unmap:
	munmap(l->b, l->map_bytes);
	l->b = NULL;
fail_close:
	close(l->fd);
	l->fd = -1;
	return err;
}

static int ledger_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct ledger *l = state;
	cJSON *args = parse_args(ctx, args_json);
	const cJSON *cp;
	const char *path = NULL;
	int err;

	l->fd = -1;
	if (!args)
		return -EINVAL;
	err = arg_params(ctx, args, "atni", &l->p);
	if (!err) err = arg_str(ctx, args, "books", &path);
	if (!err && !path) {
		say(ctx, "args.books (the path of the books file) is required");
		err = -EINVAL;
	}
	cp = cJSON_GetObjectItemCaseSensitive(args, "crash_probability");
	if (!err && cp && (!cJSON_IsNumber(cp) || !(cp->valuedouble >= 0 && cp->valuedouble <= 1))) {
		say(ctx, "args.crash_probability must be a number in 0..1");
		err = -EINVAL;
	}
	l->crash_probability = cp ? cp->valuedouble : 0;
	l->rng = splitmix64((uint64_t)getpid() ^ act_now_ns()) | 1;
	if (!err) {
		/* Room for both arrays at 21 characters a number, plus brackets. */
		l->json_cap = (size_t)(l->p.accounts + l->p.tellers) * 21 + 8;
		l->json = malloc(l->json_cap);
		if (!l->json)
			err = -ENOMEM;
	}
	if (!err)
		err = books_open(ctx, l, path);
	cJSON_Delete(args);
	return err;
}

static void ledger_fini(act_ctx *ctx, void *state)
{
	struct ledger *l = state;

	if (l->b)
		munmap(l->b, l->map_bytes);
	if (l->fd >= 0)
		close(l->fd);
	free(l->json);
	l->b = NULL;
	l->fd = -1;
	l->json = NULL;
}

static const act_handler ledger_handlers[] = {
	{ &act_start_type, ledger_start },
	{ &transfer_type, ledger_transfer },
	{ &audit_type, ledger_audit },
};
static const act_behaviour ledger_behaviour = {
	.name = "ledger", .state_size = sizeof(struct ledger),
	.init = ledger_init, .fini = ledger_fini,
	.handlers = ledger_handlers, .n_handlers = 3,
};

/* ---- auditor ----------------------------------------------------------------------- */

struct auditor {
	act_ref ledger;
	struct params p;
	int64_t period_ms, timeout_ms;
	bool shutdown_when_done;
	bool asking;              /* an Audit is outstanding */
	int64_t *expected;        /* balances recomputed from bank_gen() ... */
	int64_t gen_done;         /* ... from this many transfers so far */
	int64_t *seen;            /* balances of the last audit */
	auditor_report_msg r;     /* what Report answers */
};

/* Transfers recomputed per tick: init and every handler must stay well
 * within the heartbeat timeout, however large the bank. */
#define GEN_PER_TICK 200000

static int auditor_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct auditor *a = state;
	cJSON *args = parse_args(ctx, args_json);
	int err;

	if (!args)
		return -EINVAL;
	err = arg_params(ctx, args, "atnsmi", &a->p);
	if (!err) err = arg_int(ctx, args, "period_ms", 1, 60000, 20, false, &a->period_ms);
	if (!err) err = arg_int(ctx, args, "timeout_ms", 1, 600000, 2000, false, &a->timeout_ms);
	if (!err) err = arg_bool(ctx, args, "shutdown_when_done", false, &a->shutdown_when_done);
	if (!err) err = arg_ref(ctx, args, "ledger", &a->ledger);
	cJSON_Delete(args);
	if (err)
		return err;
	a->expected = malloc((size_t)a->p.accounts * sizeof *a->expected);
	a->seen = malloc((size_t)a->p.accounts * sizeof *a->seen);
	if (!a->expected || !a->seen)
		return -ENOMEM; /* the worker exits; nothing to unwind */
	for (int64_t i = 0; i < a->p.accounts; i++)
		a->expected[i] = a->p.initial_balance;
	a->r.expected = a->p.tellers * a->p.transfers;
	return 0;
}

static void auditor_fini(act_ctx *ctx, void *state)
{
	struct auditor *a = state;

	free(a->expected);
	free(a->seen);
	a->expected = a->seen = NULL;
}

/* Recomputes up to GEN_PER_TICK more transfers.  True when all are done. */
static bool recompute(struct auditor *a)
{
	int64_t end = a->gen_done + GEN_PER_TICK;

	if (end > a->r.expected)
		end = a->r.expected;
	for (; a->gen_done < end; a->gen_done++) {
		transfer_msg m;
		bank_gen((uint64_t)a->p.seed, (int32_t)(a->gen_done / a->p.transfers),
		         a->gen_done % a->p.transfers, (uint32_t)a->p.accounts, a->p.max_amount, &m);
		a->expected[m.from] -= m.amount;
		a->expected[m.to] += m.amount;
	}
	return a->gen_done == a->r.expected;
}

static void violation(act_ctx *ctx, struct auditor *a, const char *what)
{
	a->r.violations++;
	say(ctx, "VIOLATION: %s", what);
}

/* Reads the report's "[b0,b1,...]" into a->seen (exactly: no detour
 * through a double).  Returns the number of balances, or -1. */
static int64_t read_balances(struct auditor *a, const act_buf *json)
{
	const char *p = json->ptr, *end = p + json->len;
	char num[24];
	int64_t n = 0;

	if (p == end || *p++ != '[')
		return -1;
	while (p < end && *p != ']') {
		size_t k = 0;
		while (p + k < end && k < sizeof num - 1 && (p[k] == '-' || (p[k] >= '0' && p[k] <= '9')))
			k++;
		if (k == 0 || n >= a->p.accounts)
			return -1;
		memcpy(num, p, k);
		num[k] = '\0';
		errno = 0;
		a->seen[n++] = strtoll(num, NULL, 10);
		if (errno)
			return -1;
		p += k;
		if (p < end && *p == ',')
			p++;
	}
	return p < end ? n : -1;
}

/* Once every transfer is applied and recomputed: compares and says so. */
static void try_verify(act_ctx *ctx, struct auditor *a, const audit_report_msg *rep)
{
	int64_t total = a->p.accounts * a->p.initial_balance;

	if (a->r.complete || a->r.applied != a->r.expected || a->gen_done != a->r.expected)
		return;
	a->r.complete = true;
	for (int64_t i = 0; i < a->p.accounts; i++) {
		if (a->seen[i] != a->expected[i]) {
			a->r.mismatches++;
			say(ctx, "MISMATCH: account %" PRId64 " holds %" PRId64 ", expected %" PRId64,
			    i, a->seen[i], a->expected[i]);
		}
	}
	a->r.verified = a->r.mismatches == 0 && a->r.violations == 0;
	say(ctx, "%s: %" PRId64 " transfers applied once each, total %" PRId64 " %s, %" PRId32
	    " of %" PRId64 " balances differ from the recomputed ones; ledger restarts %" PRId32
	    "%s", a->r.verified ? "VERIFIED" : "FAILED", a->r.applied, a->r.total,
	    a->r.total == total ? "conserved" : "NOT conserved", a->r.mismatches, a->p.accounts,
	    a->r.ledger_restarts, a->r.violations ? "; there were violations" : "");
	if (rep)
		say(ctx, "the books: %" PRId64 " duplicate deliveries ignored, %" PRId64
		    " interrupted transfers finished from the journal (since they were opened)",
		    rep->duplicates, rep->recoveries);
	if (a->shutdown_when_done)
		act_shutdown(ctx);
}

static void auditor_on_report(act_ctx *ctx, void *state, int status, const act_type *type,
                              const void *reply, uint64_t cookie)
{
	struct auditor *a = state;
	const audit_report_msg *rep = reply;
	int64_t total = a->p.accounts * a->p.initial_balance;
	int64_t sum = 0, n;
	char what[160];

	a->asking = false;
	if (status) {
		a->r.timeouts++;
		return;
	}
	a->r.audits++;
	n = read_balances(a, &rep->accounts);
	if (n != a->p.accounts) {
		/* a->seen may be half overwritten: forget the last audit. */
		a->r.applied = -1;
		violation(ctx, a, "the report does not list every account");
		return;
	}
	if (rep->applied < a->r.applied) {
		snprintf(what, sizeof what, "applied went back from %" PRId64 " to %" PRId64,
		         a->r.applied, rep->applied);
		violation(ctx, a, what);
	}
	a->r.applied = rep->applied;
	a->r.total = rep->total;
	a->r.ledger_restarts = rep->restarts;
	for (int64_t i = 0; i < n; i++)
		sum += a->seen[i];
	/* The money is conserved at every audit, mid-run included: the ledger
	 * finishes an interrupted transfer before it answers. */
	if (sum != rep->total || sum != total) {
		snprintf(what, sizeof what, "total %" PRId64 " (reported %" PRId64 "), expected %" PRId64,
		         sum, rep->total, total);
		violation(ctx, a, what);
	}
	if (rep->applied > a->r.expected) {
		snprintf(what, sizeof what, "%" PRId64 " transfers applied, only %" PRId64 " exist",
		         rep->applied, a->r.expected);
		violation(ctx, a, what);
	}
	try_verify(ctx, a, rep);
}

static void auditor_tick(act_ctx *ctx, void *state, const void *msg)
{
	struct auditor *a = state;
	audit_msg m = { 0 };

	if (a->gen_done < a->r.expected && recompute(a))
		try_verify(ctx, a, NULL);
	if (a->asking)
		return;
	if (act_ask(ctx, a->ledger, &audit_type, &m, (uint32_t)a->timeout_ms, auditor_on_report, 0) == 0)
		a->asking = true;
}

static void auditor_start(act_ctx *ctx, void *state, const void *msg)
{
	struct auditor *a = state;
	int err = act_timer_periodic(ctx, (uint64_t)a->period_ms, TIMER_AUDIT);

	if (err)
		say(ctx, "cannot set the audit timer: %s", act_strerror(err));
}

static void auditor_report(act_ctx *ctx, void *state, const void *msg)
{
	struct auditor *a = state;

	act_reply(ctx, &auditor_report_type, &a->r);
}

static const act_handler auditor_handlers[] = {
	{ &act_start_type, auditor_start },
	{ &act_timeout_type, auditor_tick },
	{ &report_type, auditor_report },
};
static const act_behaviour auditor_behaviour = {
	.name = "auditor", .state_size = sizeof(struct auditor),
	.init = auditor_init, .fini = auditor_fini,
	.handlers = auditor_handlers, .n_handlers = 3,
};

ACT_MODULE_INIT(m)
{
	int err = 0;

	if (!err) err = act_module_add_behaviour(m, &teller_behaviour);
	if (!err) err = act_module_add_behaviour(m, &ledger_behaviour);
	if (!err) err = act_module_add_behaviour(m, &auditor_behaviour);
	/* Types only sent (or only received as replies). */
	if (!err) err = act_module_add_type(m, &audit_report_type);
	if (!err) err = act_module_add_type(m, &auditor_report_type);
	return err;
}
