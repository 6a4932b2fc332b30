/* SPDX-License-Identifier: MIT */
/*
 * t/mod/reloadmod.c - the group module that t/reload-*.py rebuild and
 * reload under a stream.
 *
 * The module's version is the text after "RELOADMOD-VERSION=" in
 * version_tag below; the tests make each "new build" by copying the .so
 * and overwriting those 12 characters (same length), which gives a file
 * with other bytes and another version without running a compiler 20
 * times.
 *
 * Behaviours:
 *   sink    counts Seq{sender, seq} from testmod's producers, per sender:
 *           seq == expected: in order; below: a duplicate; above: a gap
 *           (lost envelopes).  GetStats -> Stats{total, lost, dup, imports,
 *           max_gap_us (longest time between two Seq), version}.  Its whole state is handed over on a reload
 *           (export_state / import_state), so the counts go on across
 *           reloads; without the handoff the next Seq would be a gap.
 *   tally   (spawn it) Ping -> Pong{count = Pings so far}, handed over too.
 *   nohand  as tally, without handoff hooks (starts from zero each time).
 *   badexp  as tally, but its export_state fails (-EIO).
 *   crashexp as tally, but its export_state crashes the worker (SIGSEGV).
 *           On Shutdown it sends its Stats to "recorder", if the node has
 *           one (t/reload-groups.py: what a removed group handled).
 *   recorder keeps the last Stats it was sent; GetStats answers it
 *           (imports = how many it got).
 *   caller  Call{name}: act_lookup(name), then a Ping to it; answers
 *           Sent{count = 1 if sent, refused = the error}.  Keep{name}
 *           keeps a looked-up ref, Poke pings it.
 *   watcher Watch{name} monitors an actor, SpawnIn{"GROUP/NAME"} spawns a
 *           tally there, GetDowns lists the Downs it got (see below).
 *   source  streams Seq{args.id, 0, 1, ...} to "sink" (backing off on a
 *           full ring, retrying a refusal ACT_ESTOPPED every ms: the
 *           sink's group was removed) until Halt, which it answers with
 *           Sent{count, refused}: a stream that lasts as long as the test
 *           needs.  GetStats answers Sent without halting.
 *   burster Ping{count}: count Seqs to "sink" in one handler that then
 *           stays args.pause_ms (see below).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <actors.h>

#define MAX_SENDERS 8

/* volatile: the compiler must read the bytes the tests patch. */
static const volatile char version_tag[] = "RELOADMOD-VERSION=v00000000000";

typedef struct { int32_t sender; int64_t seq; } seq_t;
typedef struct { int64_t count; } ping_t;
typedef struct { int64_t count; } pong_t;
typedef struct { int32_t unused; } getstats_t;
typedef struct {
	int64_t total, lost, dup, imports, max_gap_us;
	char version[16];
} stats_t;

ACT_MESSAGE_TYPE(seq_type, seq_t, "Seq", ACT_FIELD(seq_t, sender, ACT_I32),
                 ACT_FIELD(seq_t, seq, ACT_I64));
ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, pong_t, "Pong", ACT_FIELD(pong_t, count, ACT_I64));
ACT_MESSAGE_TYPE_EMPTY(getstats_type, getstats_t, "GetStats");
ACT_MESSAGE_TYPE(stats_type, stats_t, "Stats", ACT_FIELD(stats_t, total, ACT_I64),
                 ACT_FIELD(stats_t, lost, ACT_I64), ACT_FIELD(stats_t, dup, ACT_I64),
                 ACT_FIELD(stats_t, imports, ACT_I64), ACT_FIELD(stats_t, max_gap_us, ACT_I64),
                 ACT_FIELD(stats_t, version, ACT_STR));

static void version(char *out, size_t cap)
{
	size_t pre = strlen("RELOADMOD-VERSION="), i = 0;
	for (; i + 1 < cap && version_tag[pre + i]; i++)
		out[i] = version_tag[pre + i];
	out[i] = '\0';
}

/* ---- sink ---------------------------------------------------------------------- */

struct sink {
	int64_t expected[MAX_SENDERS];
	int64_t total, lost, dup, imports;
	/* The longest time between two Seq handled (across reloads too: the
	 * last time is handed over), for bench/bench-reload.py. */
	uint64_t last_ns, max_gap_ns;
};

static void sink_seq(act_ctx *ctx, void *st, const void *m)
{
	struct sink *s = st;
	const seq_t *q = m;
	(void)ctx;
	if (q->sender < 0 || q->sender >= MAX_SENDERS)
		return;
	int64_t *e = &s->expected[q->sender];
	uint64_t now = act_now_ns();
	if (s->last_ns && now - s->last_ns > s->max_gap_ns)
		s->max_gap_ns = now - s->last_ns;
	s->last_ns = now;
	s->total++;
	if (q->seq == *e) {
		(*e)++;
	} else if (q->seq < *e) {
		s->dup++;
	} else {
		s->lost += q->seq - *e;
		*e = q->seq + 1;
	}
}

static void sink_stats(act_ctx *ctx, void *st, const void *m)
{
	const struct sink *s = st;
	stats_t r = { s->total, s->lost, s->dup, s->imports, (int64_t)(s->max_gap_ns / 1000u), "" };
	(void)m;
	version(r.version, sizeof r.version);
	act_reply(ctx, &stats_type, &r);
}

/* The whole struct, as bytes: the next build has the same layout. */
static int export_bytes(act_ctx *ctx, void *st, size_t len, act_buf *out)
{
	void *p = malloc(len);
	(void)ctx;
	if (!p)
		return -ENOMEM;
	memcpy(p, st, len);
	out->ptr = p;
	out->len = (uint32_t)len;
	return 0;
}

static int sink_export(act_ctx *ctx, void *st, act_buf *out)
{
	return export_bytes(ctx, st, sizeof(struct sink), out);
}

static int sink_import(act_ctx *ctx, void *st, const void *data, size_t len)
{
	struct sink *s = st;
	(void)ctx;
	if (len != sizeof *s)
		return -EPROTO;
	memcpy(s, data, len);
	s->imports++;
	return 0;
}

static void sink_shutdown(act_ctx *ctx, void *st, const void *m)
{
	const struct sink *s = st;
	stats_t r = { s->total, s->lost, s->dup, s->imports, (int64_t)(s->max_gap_ns / 1000u), "" };
	act_ref rec;
	(void)m;
	version(r.version, sizeof r.version);
	if (act_lookup(ctx, "recorder", &rec) == 0)
		act_send(ctx, rec, &stats_type, &r);
}

static const act_handler sink_h[] = {
	{ &seq_type, sink_seq }, { &getstats_type, sink_stats },
	{ &act_shutdown_type, sink_shutdown },
};
static const act_behaviour sink_b = {
	.name = "sink", .state_size = sizeof(struct sink), .handlers = sink_h, .n_handlers = 3,
	.export_state = sink_export, .import_state = sink_import,
};

/* ---- recorder ----------------------------------------------------------------------- */

struct recorder { stats_t last; int64_t n; };

static void recorder_stats(act_ctx *ctx, void *st, const void *m)
{
	struct recorder *r = st;
	(void)ctx;
	memcpy(&r->last, m, sizeof r->last);
	r->n++;
}

static void recorder_get(act_ctx *ctx, void *st, const void *m)
{
	struct recorder *r = st;
	stats_t out = r->last;
	(void)m;
	out.imports = r->n;
	act_reply(ctx, &stats_type, &out);
}

static const act_handler recorder_h[] = {
	{ &stats_type, recorder_stats }, { &getstats_type, recorder_get },
};
static const act_behaviour recorder_b = {
	.name = "recorder", .state_size = sizeof(struct recorder), .handlers = recorder_h,
	.n_handlers = 2,
};

/* ---- tally / nohand ----------------------------------------------------------------- */

struct tally { int64_t count; };

static void tally_ping(act_ctx *ctx, void *st, const void *m)
{
	struct tally *t = st;
	pong_t r = { ++t->count };
	(void)m;
	act_reply(ctx, &pong_type, &r);
}

static int tally_export(act_ctx *ctx, void *st, act_buf *out)
{
	return export_bytes(ctx, st, sizeof(struct tally), out);
}

static int tally_import(act_ctx *ctx, void *st, const void *data, size_t len)
{
	(void)ctx;
	if (len != sizeof(struct tally))
		return -EPROTO;
	memcpy(st, data, len);
	return 0;
}

static const act_handler tally_h[] = { { &ping_type, tally_ping } };
static const act_behaviour tally_b = {
	.name = "tally", .state_size = sizeof(struct tally), .handlers = tally_h, .n_handlers = 1,
	.export_state = tally_export, .import_state = tally_import,
};
static const act_behaviour nohand_b = {
	.name = "nohand", .state_size = sizeof(struct tally), .handlers = tally_h,
	.n_handlers = 1,
};

/* ---- source --------------------------------------------------------------------- */

struct source {
	act_ref to;
	int32_t id;
	int64_t next, refused;
	bool halted;
};

typedef struct { char unused; } halt_t;
typedef struct { int64_t count, refused; } sent_t;
ACT_MESSAGE_TYPE_EMPTY(halt_type, halt_t, "Halt");
ACT_MESSAGE_TYPE(sent_type, sent_t, "Sent", ACT_FIELD(sent_t, count, ACT_I64),
                 ACT_FIELD(sent_t, refused, ACT_I64));

static int source_init(act_ctx *ctx, void *st, const char *args)
{
	struct source *s = st;
	const char *p = args ? strstr(args, "\"id\":") : NULL;
	s->id = p ? (int32_t)atoi(p + 5) : 0;
	return act_lookup(ctx, "sink", &s->to);
}

static void source_pump(act_ctx *ctx, void *st, const void *m)
{
	struct source *s = st;
	int n = 0;
	(void)m;
	while (!s->halted && n++ < 4096) {
		seq_t q = { s->id, s->next };
		int err = act_send(ctx, s->to, &seq_type, &q);
		if (err == ACT_EFULL)
			break;
		if (err == ACT_ESTOPPED) {
			s->refused++; /* the sink's group is removed: try again in a ms */
			n = 4096;
			break;
		}
		if (err)
			return;
		s->next++;
	}
	if (!s->halted)
		act_timer_once(ctx, n > 4096 ? 0 : 1, 1);
}

static void source_halt(act_ctx *ctx, void *st, const void *m)
{
	struct source *s = st;
	sent_t r = { s->next, s->refused };
	(void)m;
	s->halted = true;
	act_timer_cancel(ctx, 1);
	act_reply(ctx, &sent_type, &r);
}

static void source_count(act_ctx *ctx, void *st, const void *m)
{
	struct source *s = st;
	sent_t r = { s->next, s->refused };
	(void)m;
	act_reply(ctx, &sent_type, &r);
}

static const act_handler source_h[] = {
	{ &act_start_type, source_pump }, { &act_timeout_type, source_pump },
	{ &halt_type, source_halt }, { &getstats_type, source_count },
};
static const act_behaviour source_b = {
	.name = "source", .state_size = sizeof(struct source), .init = source_init,
	.handlers = source_h, .n_handlers = 4,
};

/* ---- caller ------------------------------------------------------------------------- */

/* Call{name}: looks name up (act_lookup: static or spawned, any group)
 * and sends it a Ping; answers Sent{count = 1 if sent, refused = the
 * error code}.  t/reload-groups.py: an old group reaches a new one. */
typedef struct { char name[32]; } call_t;
ACT_MESSAGE_TYPE(call_type, call_t, "Call", ACT_FIELD(call_t, name, ACT_STR));

static void caller_call(act_ctx *ctx, void *st, const void *m)
{
	const call_t *c = m;
	ping_t p = { 0 };
	act_ref to;
	(void)st;
	int err = act_lookup(ctx, c->name, &to);
	if (!err)
		err = act_send(ctx, to, &ping_type, &p);
	sent_t r = { err ? 0 : 1, err };
	act_reply(ctx, &sent_type, &r);
}

/* Keep{name}: looks name up and keeps the ref (Sent{count = 1 if found,
 * refused = the error}); Poke: a Ping to the kept ref, answered as Call.
 * t/reload-groups.py: a ref kept across a group's removal and the reuse
 * of its participant. */
typedef struct { char name[32]; } keep_t;
typedef struct { int32_t unused; } poke_t;
ACT_MESSAGE_TYPE(keep_type, keep_t, "Keep", ACT_FIELD(keep_t, name, ACT_STR));
ACT_MESSAGE_TYPE_EMPTY(poke_type, poke_t, "Poke");

static void caller_keep(act_ctx *ctx, void *st, const void *m)
{
	const keep_t *k = m;
	int err = act_lookup(ctx, k->name, (act_ref *)st);
	sent_t r = { err ? 0 : 1, err };
	act_reply(ctx, &sent_type, &r);
}

static void caller_poke(act_ctx *ctx, void *st, const void *m)
{
	ping_t p = { 0 };
	(void)m;
	int err = act_send(ctx, *(act_ref *)st, &ping_type, &p);
	sent_t r = { err ? 0 : 1, err };
	act_reply(ctx, &sent_type, &r);
}

static const act_handler caller_h[] = {
	{ &call_type, caller_call }, { &keep_type, caller_keep }, { &poke_type, caller_poke },
};
static const act_behaviour caller_b = {
	.name = "caller", .state_size = sizeof(act_ref), .handlers = caller_h, .n_handlers = 3,
};

/* ---- watcher ------------------------------------------------------------------------ */

/* Watch{name}: act_lookup(name) and act_monitor() of it; answers Sent{count
 * = 1 if monitored, refused = the error}.  SpawnIn{name = "GROUP/CHILD"}:
 * spawns a tally named CHILD into GROUP (its parent is the watcher);
 * answered as Watch.  GetDowns: Downs{count = Downs so far, last = them
 * all as "actor: reason; ..." (as far as they fit)}.  Unwatch{}: act_demonitor() of
 * the last monitor Watch took, answered as Watch.  t/reload-monitors.py: monitors and children
 * across a group's removal. */
typedef struct { char name[64]; } watch_t;
typedef struct { int32_t unused; } getdowns_t;
typedef struct { int64_t count; char last[200]; } downs_t;
ACT_MESSAGE_TYPE(watch_type, watch_t, "Watch", ACT_FIELD(watch_t, name, ACT_STR));
ACT_MESSAGE_TYPE(spawnin_type, watch_t, "SpawnIn", ACT_FIELD(watch_t, name, ACT_STR));
ACT_MESSAGE_TYPE_EMPTY(getdowns_type, getdowns_t, "GetDowns");
ACT_MESSAGE_TYPE_EMPTY(unwatch_type, getdowns_t, "Unwatch");
ACT_MESSAGE_TYPE(downs_type, downs_t, "Downs", ACT_FIELD(downs_t, count, ACT_I64),
                 ACT_FIELD(downs_t, last, ACT_STR));

struct watcher { int64_t downs; char last[200]; uint64_t mid; };

static void watcher_watch(act_ctx *ctx, void *st, const void *m)
{
	const watch_t *w = m;
	act_ref to;
	uint64_t id;
	int err = act_lookup(ctx, w->name, &to);
	if (!err)
		err = act_monitor(ctx, to, &id);
	if (!err)
		((struct watcher *)st)->mid = id;
	sent_t r = { err ? 0 : 1, err };
	act_reply(ctx, &sent_type, &r);
}

/* Unwatch{}: act_demonitor() of the last monitor Watch took. */
static void watcher_unwatch(act_ctx *ctx, void *st, const void *m)
{
	struct watcher *w = st;
	(void)m;
	int err = act_demonitor(ctx, w->mid);
	sent_t r = { err ? 0 : 1, err };
	act_reply(ctx, &sent_type, &r);
}

static void watcher_spawnin(act_ctx *ctx, void *st, const void *m)
{
	const watch_t *w = m;
	char group[64];
	const char *slash = strchr(w->name, '/');
	act_ref child;
	int err = -EINVAL;
	(void)st;
	if (slash && (size_t)(slash - w->name) < sizeof group) {
		memcpy(group, w->name, (size_t)(slash - w->name));
		group[slash - w->name] = '\0';
		err = act_spawn(ctx, group, "tally", slash + 1, NULL, &child);
	}
	sent_t r = { err ? 0 : 1, err };
	act_reply(ctx, &sent_type, &r);
}

static void watcher_down(act_ctx *ctx, void *st, const void *m)
{
	struct watcher *w = st;
	const act_down *d = m;
	(void)ctx;
	size_t len = strlen(w->last);
	w->downs++;
	snprintf(w->last + len, sizeof w->last - len, "%s%s: %s", len ? "; " : "", d->actor,
	         d->reason);
}

static void watcher_get(act_ctx *ctx, void *st, const void *m)
{
	const struct watcher *w = st;
	downs_t r = { w->downs, "" };
	(void)m;
	snprintf(r.last, sizeof r.last, "%s", w->last);
	act_reply(ctx, &downs_type, &r);
}

static const act_handler watcher_h[] = {
	{ &watch_type, watcher_watch }, { &spawnin_type, watcher_spawnin },
	{ &act_down_type, watcher_down }, { &getdowns_type, watcher_get },
	{ &unwatch_type, watcher_unwatch },
};
static const act_behaviour watcher_b = {
	.name = "watcher", .state_size = sizeof(struct watcher), .handlers = watcher_h,
	.n_handlers = 5,
};

static int bad_export(act_ctx *ctx, void *st, act_buf *out)
{
	(void)ctx, (void)st, (void)out;
	return -EIO;
}

static int crash_export(act_ctx *ctx, void *st, act_buf *out)
{
	(void)ctx, (void)st, (void)out;
	raise(SIGSEGV);
	return -EIO;
}

static const act_behaviour badexp_b = {
	.name = "badexp", .state_size = sizeof(struct tally), .handlers = tally_h,
	.n_handlers = 1, .export_state = bad_export, .import_state = tally_import,
};
static const act_behaviour crashexp_b = {
	.name = "crashexp", .state_size = sizeof(struct tally), .handlers = tally_h,
	.n_handlers = 1, .export_state = crash_export, .import_state = tally_import,
};

/* ---- burster ----------------------------------------------------------------------- */

/* Ping{count}: sends count Seq{9, 0..} to "sink" in one handler, creates
 * the file args.mark (a "/"-rooted path) and stays in the handler for
 * args.pause_ms more: its records are committed, not yet all published
 * (the ring publishes a burst in steps; t/reload-remove-burst.py). */
struct burster {
	act_ref to;
	char mark[256];
	int pause_ms;
	int64_t next;
};

static int burster_init(act_ctx *ctx, void *st, const char *args)
{
	struct burster *b = st;
	const char *p = args ? strstr(args, "\"mark\":\"") : NULL;
	const char *q = args ? strstr(args, "\"pause_ms\":") : NULL;
	if (!p)
		return -EINVAL;
	p += 8;
	size_t n = strcspn(p, "\"");
	if (n >= sizeof b->mark)
		return -EINVAL;
	memcpy(b->mark, p, n);
	b->mark[n] = '\0';
	b->pause_ms = q ? atoi(q + 11) : 1000;
	return act_lookup(ctx, "sink", &b->to);
}

static void burster_ping(act_ctx *ctx, void *st, const void *m)
{
	struct burster *b = st;
	int64_t count = ((const ping_t *)m)->count;
	for (int64_t i = 0; i < count; i++) {
		seq_t q = { 9, b->next };
		if (act_send(ctx, b->to, &seq_type, &q) == 0)
			b->next++;
	}
	FILE *f = fopen(b->mark, "w");
	if (f) {
		fprintf(f, "%lld\n", (long long)b->next);
		fclose(f);
	}
	struct timespec ts = { b->pause_ms / 1000, (long)(b->pause_ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const act_handler burster_h[] = { { &ping_type, burster_ping } };
static const act_behaviour burster_b = {
	.name = "burster", .state_size = sizeof(struct burster), .init = burster_init,
	.handlers = burster_h, .n_handlers = 1,
};

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &sink_b);
	if (!err)
		err = act_module_add_behaviour(m, &badexp_b);
	if (!err)
		err = act_module_add_behaviour(m, &source_b);
	if (!err)
		err = act_module_add_type(m, &sent_type);
	if (!err)
		err = act_module_add_behaviour(m, &crashexp_b);
	if (!err)
		err = act_module_add_behaviour(m, &tally_b);
	if (!err)
		err = act_module_add_behaviour(m, &recorder_b);
	if (!err)
		err = act_module_add_behaviour(m, &caller_b);
	if (!err)
		err = act_module_add_behaviour(m, &nohand_b);
	if (!err)
		err = act_module_add_type(m, &stats_type);
	if (!err)
		err = act_module_add_type(m, &pong_type);
	if (!err)
		err = act_module_add_behaviour(m, &watcher_b);
	if (!err)
		err = act_module_add_type(m, &downs_type);
	if (!err)
		err = act_module_add_behaviour(m, &burster_b);
	return err;
}
