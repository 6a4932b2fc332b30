/* SPDX-License-Identifier: MIT */
/*
 * bench-core.c - the runtime benchmark: what a message costs through the
 * actors runtime, next to what the bare machine does in the same run.
 *
 * Every figure comes from a real node run inside this process with
 * act_node_run() (supervisor, zygote, one forked worker per group), driven
 * by actors written against the public API only; the workers hand their
 * measurements back through a shared anonymous mapping made before the
 * first node starts, which every worker inherits.  Each figure is printed
 * next to its bare reference from baseline.h, measured in the same run
 * with the same placement and the same statistic:
 *
 *   pingpong_spin_rtt            median of 64-round-trip batch means,
 *                                spinning workers on two CPUs;
 *                                baseline bare_ring_rtt_ns
 *   pingpong_sleep_{same,cross}cpu_rtt
 *                                mean round trip with spin_us 0 (every
 *                                message wakes its receiver);
 *                                baseline bare_eventfd_rtt_ns
 *   throughput_1to1, _2to1       median rate of 65536-message stretches
 *                                of 64-byte payloads seen by the consumer;
 *                                baseline bare_ring_stream_rate (both)
 *   throughput_1to1_16b          the same with 16-byte payloads: records
 *                                of one cache line, as the bare ring's
 *                                slots (the 64-byte ones take two)
 *   pingpong_spin_rtt_16b        pingpong_spin_rtt with 16-byte payloads:
 *                                one line per hop, as the bare ring
 *   intragroup_rate              send + dispatch between two actors of one
 *                                group (no bare equivalent: own value)
 *   worker_idle_rss              VmRSS of an idle worker (own value)
 *
 * Repeated measurements (REPS, or $BENCH_CORE_REPS up to MAX_REPS) are
 * reduced to their median, runtime and baseline alike; the individual runs
 * are printed as '#' comment lines, runtime and baseline runs alternate,
 * and the ratio of each runtime run to the baseline run beside it is
 * printed too (on a shared machine the load moves within seconds).
 *
 *     bench-core [SCALE [FIGURE...]]
 *
 * SCALE (default 1) multiplies every iteration count, e.g. 0.05 for a smoke
 * run under sanitizers.  At 1 the whole run takes about half a minute.
 * FIGUREs (names as printed, e.g. pingpong_spin_rtt) restrict the run to
 * those figures, e.g. to profile one of them with `perf record -g`.
 * Other processes competing for the CPUs distort every figure, the
 * baselines included: the load average is printed first for that reason.
 * Exits 0 if every figure was measured, 1 otherwise.  A node that stops
 * making progress is shut down by its driving actor's watchdog timer, and
 * alarm() bounds the whole program.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

#include "baseline.h"
#include "bench-util.h"
#include "perfcount.h"
#include "ring.h"

#define REPS 3                   /* runs per figure, median taken (default) */
#define MAX_REPS 15              /* $BENCH_CORE_REPS may ask for up to this many */
#define RTT_BATCH 64             /* round trips per timed batch, as baseline.c */
#define STREAM_CHUNK 65536       /* messages per timed stretch, as baseline.c */
#define MAX_SAMPLES 65536        /* batches or stretch stamps per run */
#define WINDOW_NS 1000000000ull  /* a stream or intragroup run stops after ~1 s */
#define PUMP_BURST 4096          /* sends per producer handler call, at most */
#define WATCHDOG_MS 30000u       /* a driving actor gives up after this */
#define WATCHDOG_ID 0x7761746368 /* timer id of the watchdog */
#define IDLE_SETTLE_MS 200u      /* idle time before the RSS is read */
#define ALARM_S 300u             /* the whole program, last resort */

/* ---- what the workers report ------------------------------------------------ */

/*
 * One node run's result, in the shared mapping.  Only the driving actor of
 * a run writes value/samples and sets done; any actor may record err.
 */
struct result {
	_Atomic int done;     /* the measurement completed */
	_Atomic int err;      /* first failure seen by an actor (negative errno) */
	double value;         /* a single figure (rates, RSS) */
	long n_samples;
	long rss_kib[4];      /* VmRSS, RssAnon, RssFile, RssShmem */
	/* The node's wake-up counters when timing started and when it ended,
	 * and the messages (one-way) carried in between. */
	struct act__perf perf0, perf1;
	uint64_t n_msgs;
	double sample[MAX_SAMPLES];
	uint64_t stamp_ns[MAX_SAMPLES + 1];
};

static struct result *R;

/*
 * Parameters of the run about to start.  Set before act_node_run(): the
 * zygote is forked from this process when the node starts, so every worker
 * sees the values of its run.
 */
static struct run_cfg {
	long warm;            /* round trips / messages before timing starts */
	long n;               /* timed round trips / messages (upper bound) */
	int n_prod;           /* stream: producers feeding the consumer */
	int depth;            /* intragroup: messages in flight */
	int small;            /* stream, ping-pong: 16-byte payloads (blob16) */
} cfg;

/* Records the first failure and stops the node. */
static void fail(act_ctx *ctx, int err)
{
	int zero = 0;

	atomic_compare_exchange_strong(&R->err, &zero, err < 0 ? err : -EIO);
	act_shutdown(ctx);
}

/* ---- message types ---------------------------------------------------------- */

/* 64 bytes like the bare ring's slot: a sequence number and 7 derived words. */
typedef struct {
	uint64_t seq, w1, w2, w3, w4, w5, w6, w7;
} blob;

ACT_MESSAGE_TYPE(blob_type, blob, "BenchBlob",
                 ACT_FIELD(blob, seq, ACT_U64), ACT_FIELD(blob, w1, ACT_U64),
                 ACT_FIELD(blob, w2, ACT_U64), ACT_FIELD(blob, w3, ACT_U64),
                 ACT_FIELD(blob, w4, ACT_U64), ACT_FIELD(blob, w5, ACT_U64),
                 ACT_FIELD(blob, w6, ACT_U64), ACT_FIELD(blob, w7, ACT_U64));

/* 16 bytes: with the envelope's header, a record of one cache line. */
typedef struct {
	uint64_t seq, w1;
} blob16;

ACT_MESSAGE_TYPE(blob16_type, blob16, "BenchBlob16", ACT_FIELD(blob16, seq, ACT_U64),
                 ACT_FIELD(blob16, w1, ACT_U64));

/* The producer's "keep pumping" note to itself. */
typedef struct { uint8_t unused; } kick;
ACT_MESSAGE_TYPE_EMPTY(kick_type, kick, "BenchKick");

/* Intragroup traffic: small on purpose, the figure is per-message overhead. */
typedef struct { uint64_t seq; } hop;
ACT_MESSAGE_TYPE(hop_type, hop, "BenchHop", ACT_FIELD(hop, seq, ACT_U64));

static void blob_fill(blob *b, uint64_t seq)
{
	b->seq = seq;
	b->w1 = seq + 1;
	b->w2 = seq + 2;
	b->w3 = seq + 3;
	b->w4 = seq + 4;
	b->w5 = seq + 5;
	b->w6 = seq + 6;
	b->w7 = seq + 7;
}

/* Checks the sequence number and the payload derived from it. */
static int blob_ok(const blob *b, uint64_t seq)
{
	uint64_t sum = (b->w1 - 1) + (b->w2 - 2) + (b->w3 - 3) + (b->w4 - 4) +
	               (b->w5 - 5) + (b->w6 - 6) + (b->w7 - 7);
	return b->seq == seq && sum == 7 * seq;
}

/* ---- what every benchmark actor shares ---------------------------------------- */

/*
 * The first member of every state below.  Filled by role_init() from the
 * actor's JSON arguments: {"cpu": N, "peer": "name", "id": N}, each optional.
 */
struct role {
	int cpu;              /* -1: leave the worker unpinned */
	int id;
	char peer[64];
};

static int role_init(act_ctx *ctx, void *state, const char *args)
{
	struct role *r = state;
	cJSON *o, *v;

	r->cpu = -1;
	if (!args)
		return 0;
	o = cJSON_Parse(args);
	if (!o)
		return -EINVAL;
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(o, "cpu")))
		r->cpu = v->valueint;
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(o, "id")))
		r->id = v->valueint;
	if (cJSON_IsString(v = cJSON_GetObjectItem(o, "peer")))
		snprintf(r->peer, sizeof r->peer, "%s", v->valuestring);
	cJSON_Delete(o);
	return 0;
}

/*
 * Pins this worker (the whole group: it is one thread) and resolves the
 * peer.  0, or the error after fail() was called.
 */
static int role_start(act_ctx *ctx, struct role *r, act_ref *peer)
{
	int err = pin_cpu(r->cpu);

	if (!err && peer)
		err = act_lookup(ctx, r->peer, peer);
	if (err)
		fail(ctx, err);
	return err;
}

static void on_watchdog(act_ctx *ctx, void *state, const void *m)
{
	if (((const act_timeout *)m)->id == WATCHDOG_ID)
		fail(ctx, -ETIMEDOUT);
}

/* ---- ping-pong ------------------------------------------------------------------ */

/*
 * ping sends blob seq 0; every reply must carry the seq just sent, and
 * triggers the next.  After cfg.warm round trips it timestamps every
 * RTT_BATCH replies and records each batch's mean; the parent takes the
 * median (spinning) or the mean (sleeping), as the matching baseline does.
 */
struct ping_state {
	struct role role;
	act_ref pong;
	uint64_t seq;
	uint64_t t0_ns;
};

static void ping_send(act_ctx *ctx, struct ping_state *s)
{
	blob b;
	blob16 b16;
	int err;

	if (cfg.small) {
		b16 = (blob16){ s->seq, s->seq + 1 };
		err = act_send(ctx, s->pong, &blob16_type, &b16);
	} else {
		blob_fill(&b, s->seq);
		err = act_send(ctx, s->pong, &blob_type, &b);
	}
	if (err)
		fail(ctx, err);
}

static void ping_on_start(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	int err;

	if (role_start(ctx, &s->role, &s->pong))
		return;
	if ((err = act_timer_once(ctx, WATCHDOG_MS, WATCHDOG_ID))) {
		fail(ctx, err);
		return;
	}
	ping_send(ctx, s);
}

static void ping_on_reply(act_ctx *ctx, struct ping_state *s);

static void ping_on_blob(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;

	if (atomic_load(&R->done))
		return;
	if (!blob_ok(m, s->seq)) {
		fail(ctx, -EPROTO);
		return;
	}
	ping_on_reply(ctx, s);
}

static void ping_on_blob16(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	const blob16 *b = m;

	if (atomic_load(&R->done))
		return;
	if (b->seq != s->seq || b->w1 != s->seq + 1) {
		fail(ctx, -EPROTO);
		return;
	}
	ping_on_reply(ctx, s);
}

/* A checked reply: counts it, stamps every RTT_BATCH, sends the next. */
static void ping_on_reply(act_ctx *ctx, struct ping_state *s)
{
	uint64_t done = ++s->seq;

	if (done >= (uint64_t)cfg.warm && (done - (uint64_t)cfg.warm) % RTT_BATCH == 0) {
		uint64_t now = now_ns();
		if (done > (uint64_t)cfg.warm)
			R->sample[R->n_samples++] = (double)(now - s->t0_ns) / RTT_BATCH;
		else
			act__perf_read(ctx, &R->perf0);
		s->t0_ns = now;
		if (R->n_samples * RTT_BATCH >= cfg.n || R->n_samples == MAX_SAMPLES) {
			act__perf_read(ctx, &R->perf1);
			R->n_msgs = 2u * (uint64_t)R->n_samples * RTT_BATCH;
			atomic_store(&R->done, 1);
			act_shutdown(ctx);
			return;
		}
	}
	ping_send(ctx, s);
}

static const act_handler ping_handlers[] = {
	{ &act_start_type, ping_on_start },
	{ &blob_type, ping_on_blob },
	{ &blob16_type, ping_on_blob16 },
	{ &act_timeout_type, on_watchdog },
};
static const act_behaviour ping_behaviour = {
	.name = "bench-ping", .state_size = sizeof(struct ping_state), .init = role_init,
	.handlers = ping_handlers, .n_handlers = 4,
};

static void pong_on_start(act_ctx *ctx, void *state, const void *m)
{
	role_start(ctx, state, NULL);
}

static void pong_on_blob(act_ctx *ctx, void *state, const void *m)
{
	int err = act_reply(ctx, &blob_type, m);
	if (err)
		fail(ctx, err);
}

static void pong_on_blob16(act_ctx *ctx, void *state, const void *m)
{
	int err = act_reply(ctx, &blob16_type, m);
	if (err)
		fail(ctx, err);
}

static const act_handler pong_handlers[] = {
	{ &act_start_type, pong_on_start },
	{ &blob_type, pong_on_blob },
	{ &blob16_type, pong_on_blob16 },
};
static const act_behaviour pong_behaviour = {
	.name = "bench-pong", .state_size = sizeof(struct role), .init = role_init,
	.handlers = pong_handlers, .n_handlers = 3,
};

/* ---- streaming ------------------------------------------------------------------ */

/*
 * A producer sends blobs with consecutive seqs as long as the consumer's
 * ring takes them.  On ACT_EFULL (nothing was sent) it sends itself a kick
 * and returns; the kick comes back on the next turn of the worker loop and
 * the pumping resumes with the same seq, so nothing is lost.  The kick
 * travels through the group's own ring (sender and receiver are the same
 * group), which never fills: at most one kick is in flight.  A burst is
 * also capped at PUMP_BURST sends, so that the worker loop keeps turning
 * (heartbeats, the supervisor's STOP) even when the ring never fills.
 * Measured alternatives: a 0 ms act_timer_once() instead of the kick gives
 * the same rate (it also comes back on the next turn of the loop); a 1 ms
 * timer starves the consumer once the producer is faster than it (the
 * ring drains in about 0.1 ms), and smaller bursts only add kicks.
 */
struct prod_state {
	struct role role;
	act_ref cons;
	uint64_t seq;
};

static void prod_pump(act_ctx *ctx, struct prod_state *s)
{
	kick k = { 0 };
	blob b;
	blob16 b16;
	int err = 0;

	for (int i = 0; i < PUMP_BURST; i++) {
		if (cfg.small) {
			b16 = (blob16){ s->seq, s->seq + 1 };
			err = act_send(ctx, s->cons, &blob16_type, &b16);
		} else {
			blob_fill(&b, s->seq);
			err = act_send(ctx, s->cons, &blob_type, &b);
		}
		if (err)
			break;
		s->seq++;
	}
	if (err && err != ACT_EFULL) {
		fail(ctx, err);
		return;
	}
	if ((err = act_send(ctx, act_self(ctx), &kick_type, &k)))
		fail(ctx, err);
}

static void prod_on_start(act_ctx *ctx, void *state, const void *m)
{
	struct prod_state *s = state;

	if (!role_start(ctx, &s->role, &s->cons))
		prod_pump(ctx, s);
}

static void prod_on_kick(act_ctx *ctx, void *state, const void *m)
{
	if (!atomic_load_explicit(&R->done, memory_order_relaxed))
		prod_pump(ctx, state);
}

static const act_handler prod_handlers[] = {
	{ &act_start_type, prod_on_start },
	{ &kick_type, prod_on_kick },
};
static const act_behaviour prod_behaviour = {
	.name = "bench-producer", .state_size = sizeof(struct prod_state), .init = role_init,
	.handlers = prod_handlers, .n_handlers = 2,
};

/*
 * The consumer checks every blob against its producer's next seq.  After
 * cfg.warm messages it stamps every STREAM_CHUNK messages; it stops after
 * cfg.n messages or about WINDOW_NS, whichever comes first (at least 10
 * stretches).  The producers are "prod0", "prod1", ...
 */
struct cons_state {
	struct role role;
	act_ref prod[2];
	uint64_t next_seq[2];
	uint64_t total;
	uint64_t next_stamp;
};

static void cons_on_start(act_ctx *ctx, void *state, const void *m)
{
	struct cons_state *s = state;
	char name[16];
	int err;

	if (role_start(ctx, &s->role, NULL))
		return;
	for (int i = 0; i < cfg.n_prod; i++) {
		snprintf(name, sizeof name, "prod%d", i);
		if ((err = act_lookup(ctx, name, &s->prod[i]))) {
			fail(ctx, err);
			return;
		}
	}
	s->next_stamp = (uint64_t)cfg.warm;
	if ((err = act_timer_once(ctx, WATCHDOG_MS, WATCHDOG_ID)))
		fail(ctx, err);
}

static void cons_count(act_ctx *ctx, struct cons_state *s, int i);

static void cons_on_blob(act_ctx *ctx, void *state, const void *m)
{
	struct cons_state *s = state;
	act_ref from = act_sender(ctx);
	int i = act_ref_eq(from, s->prod[0]) ? 0 : 1;

	if (atomic_load_explicit(&R->done, memory_order_relaxed))
		return;
	if (i >= cfg.n_prod || !act_ref_eq(from, s->prod[i]) ||
	    !blob_ok(m, s->next_seq[i])) {
		fail(ctx, -EPROTO);
		return;
	}
	cons_count(ctx, s, i);
}

static void cons_on_blob16(act_ctx *ctx, void *state, const void *m)
{
	struct cons_state *s = state;
	const blob16 *b = m;
	act_ref from = act_sender(ctx);
	int i = act_ref_eq(from, s->prod[0]) ? 0 : 1;

	if (atomic_load_explicit(&R->done, memory_order_relaxed))
		return;
	if (i >= cfg.n_prod || !act_ref_eq(from, s->prod[i]) || b->seq != s->next_seq[i] ||
	    b->w1 != b->seq + 1) {
		fail(ctx, -EPROTO);
		return;
	}
	cons_count(ctx, s, i);
}

/* A checked message from producer i: counts it, stamps every stretch. */
static void cons_count(act_ctx *ctx, struct cons_state *s, int i)
{
	s->next_seq[i]++;
	if (++s->total != s->next_stamp)
		return;
	uint64_t now = now_ns();
	long k = R->n_samples++;
	R->stamp_ns[k] = now;
	s->next_stamp += STREAM_CHUNK;
	if (k == 0)
		act__perf_read(ctx, &R->perf0);
	if (k >= MAX_SAMPLES || (uint64_t)cfg.warm + (uint64_t)k * STREAM_CHUNK >= (uint64_t)cfg.n ||
	    (k >= 10 && now - R->stamp_ns[0] >= WINDOW_NS)) {
		act__perf_read(ctx, &R->perf1);
		R->n_msgs = (uint64_t)k * STREAM_CHUNK;
		atomic_store(&R->done, 1);
		act_shutdown(ctx);
	}
}

static const act_handler cons_handlers[] = {
	{ &act_start_type, cons_on_start },
	{ &blob_type, cons_on_blob },
	{ &blob16_type, cons_on_blob16 },
	{ &act_timeout_type, on_watchdog },
};
static const act_behaviour cons_behaviour = {
	.name = "bench-consumer", .state_size = sizeof(struct cons_state), .init = role_init,
	.handlers = cons_handlers, .n_handlers = 4,
};

/* ---- intragroup ----------------------------------------------------------------- */

/*
 * Two actors of one group bounce cfg.depth hops between them: every hop
 * handled sends one hop to the other actor.  Both live in one process, so
 * the count is a plain static.  The rate is hops handled per second after
 * cfg.warm, over cfg.n hops or about WINDOW_NS.
 */
static uint64_t hop_count, hop_t0_ns;

struct hop_state {
	struct role role;
	act_ref peer;
};

static void hop_on_start(act_ctx *ctx, void *state, const void *m)
{
	struct hop_state *s = state;
	int err = 0;

	if (role_start(ctx, &s->role, &s->peer) || s->role.id != 0)
		return;
	if ((err = act_timer_once(ctx, WATCHDOG_MS, WATCHDOG_ID))) {
		fail(ctx, err);
		return;
	}
	for (int i = 0; i < cfg.depth && !err; i++) {
		hop h = { (uint64_t)i };
		err = act_send(ctx, s->peer, &hop_type, &h);
	}
	if (err)
		fail(ctx, err);
}

static void hop_on_hop(act_ctx *ctx, void *state, const void *m)
{
	struct hop_state *s = state;
	uint64_t n = ++hop_count;
	int err;

	if (atomic_load_explicit(&R->done, memory_order_relaxed))
		return;
	if (n == (uint64_t)cfg.warm) {
		hop_t0_ns = now_ns();
		act__perf_read(ctx, &R->perf0);
	} else if (n > (uint64_t)cfg.warm && (n - (uint64_t)cfg.warm) % STREAM_CHUNK == 0) {
		uint64_t dt = now_ns() - hop_t0_ns;
		if (n - (uint64_t)cfg.warm >= (uint64_t)cfg.n || dt >= WINDOW_NS) {
			R->value = (double)(n - (uint64_t)cfg.warm) * 1e9 / (double)dt;
			act__perf_read(ctx, &R->perf1);
			R->n_msgs = n - (uint64_t)cfg.warm;
			atomic_store(&R->done, 1);
			act_shutdown(ctx);
			return;
		}
	}
	if ((err = act_send(ctx, s->peer, &hop_type, m)))
		fail(ctx, err);
}

static const act_handler hop_handlers[] = {
	{ &act_start_type, hop_on_start },
	{ &hop_type, hop_on_hop },
	{ &act_timeout_type, on_watchdog },
};
static const act_behaviour hop_behaviour = {
	.name = "bench-hop", .state_size = sizeof(struct hop_state), .init = role_init,
	.handlers = hop_handlers, .n_handlers = 3,
};

/* ---- idle worker ------------------------------------------------------------------ */

/* Value in KiB of "Key:   N kB" in a /proc status text, or -1. */
static long status_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/*
 * Reads VmRSS, RssAnon, RssFile and RssShmem of the calling process into
 * kib[4] with plain read(2) into a stack buffer, so that the reading itself
 * allocates nothing.  0 or a negative errno.
 */
static int read_rss(long kib[4])
{
	char buf[8192];
	ssize_t n, len = 0;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len < (ssize_t)sizeof buf - 1 &&
	       (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	kib[0] = status_kib(buf, "VmRSS:");
	kib[1] = status_kib(buf, "RssAnon:");
	kib[2] = status_kib(buf, "RssFile:");
	kib[3] = status_kib(buf, "RssShmem:");
	return kib[0] < 0 ? -EPROTO : 0;
}

static void idle_on_start(act_ctx *ctx, void *state, const void *m)
{
	int err = act_timer_once(ctx, IDLE_SETTLE_MS, 1);
	if (err)
		fail(ctx, err);
}

static void idle_on_timeout(act_ctx *ctx, void *state, const void *m)
{
	int err = read_rss(R->rss_kib);

	if (err) {
		fail(ctx, err);
		return;
	}
	R->value = (double)R->rss_kib[0];
	atomic_store(&R->done, 1);
	act_shutdown(ctx);
}

static const act_handler idle_handlers[] = {
	{ &act_start_type, idle_on_start },
	{ &act_timeout_type, idle_on_timeout },
};
static const act_behaviour idle_behaviour = {
	.name = "bench-idle", .handlers = idle_handlers, .n_handlers = 2,
};

/* ---- running a node --------------------------------------------------------------- */

struct actor_spec {
	const char *group, *name;
	const act_behaviour *b;
	int cpu, id;
	const char *peer;     /* NULL: none */
};

/* Wake-up counters summed over the runs of the figure being measured. */
static struct act__perf acc;
static uint64_t acc_msgs;

/*
 * Runs one node made of the given actors (a group per distinct name, in
 * order of first appearance, each with spin_us) until an actor shuts it
 * down.  0 if the measurement completed (R->done, no error), else a
 * negative errno.
 */
static int run_node(const struct actor_spec *as, int n, uint32_t spin_us)
{
	act_node_t *node = act_node_new("bench");
	char args[160];
	int err = node ? 0 : -ENOMEM;

	memset(R, 0, offsetof(struct result, sample));
	for (int i = 0; i < n && !err; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= !strcmp(as[j].group, as[i].group);
		if (!seen) {
			err = act_node_add_group(node, as[i].group);
			if (!err)
				err = act_node_set_spin_us(node, as[i].group, spin_us);
		}
		snprintf(args, sizeof args, "{\"cpu\":%d,\"id\":%d,\"peer\":\"%s\"}",
		         as[i].cpu, as[i].id, as[i].peer ? as[i].peer : "");
		if (!err)
			err = act_node_add_actor(node, as[i].group, as[i].name, as[i].b, args);
	}
	if (!err)
		err = act_node_add_type(node, &kick_type);
	if (!err) {
		fflush(NULL); /* the workers must not inherit unwritten output */
		err = act_node_run(node);
		if (err > 0)
			err = -ECHILD; /* an ACT_EXIT_ code: the node failed */
	}
	act_node_free(node);
	if (!err)
		err = atomic_load(&R->err);
	if (!err && !atomic_load(&R->done))
		err = -EIO;
	if (!err && R->n_msgs) {
		struct act__perf d;
		act__perf_diff(&R->perf0, &R->perf1, &d);
		acc.n_notifies += d.n_notifies;
		acc.n_wakeups += d.n_wakeups;
		acc.n_sleeps += d.n_sleeps;
		acc.n_yields += d.n_yields;
		acc_msgs += R->n_msgs;
	}
	return err;
}

/* Wake-up counts per message over the runs since the last call, and a
 * fresh start for the next figure; NULL if no run counted messages. */
static const struct bench_counts *take_counts(void)
{
	static struct bench_counts c;
	double m = (double)acc_msgs;

	if (!acc_msgs)
		return NULL;
	c = (struct bench_counts){ acc.n_notifies / m, acc.n_wakeups / m, acc.n_sleeps / m,
	                           acc.n_yields / m };
	acc = (struct act__perf){ 0 };
	acc_msgs = 0;
	return &c;
}

/* Runtime round trip; median (spinning) or mean (sleeping) of batch means. */
static double rt_pingpong(uint32_t spin_us, int small, int cpu_a, int cpu_b, long iters,
                          int median)
{
	const struct actor_spec as[] = {
		{ "ping", "ping", &ping_behaviour, cpu_a, 0, "pong" },
		{ "pong", "pong", &pong_behaviour, cpu_b, 0, NULL },
	};
	double sum = 0;
	int err;

	cfg.warm = iters / 10 < 20000 ? iters / 10 : 20000;
	cfg.n = iters - cfg.warm;
	cfg.small = small;
	if ((err = run_node(as, 2, spin_us)))
		return err;
	if (R->n_samples < 1)
		return -EIO;
	if (median)
		return bench_percentile(R->sample, (size_t)R->n_samples, 50);
	for (long i = 0; i < R->n_samples; i++)
		sum += R->sample[i];
	return sum / (double)R->n_samples;
}

/*
 * Runtime stream from n_prod producers to one consumer.  Returns the median
 * stretch rate; *window receives the rate over the whole timed window.
 */
static double rt_stream(int n_prod, int small, const int *cpu_prod, int cpu_cons, long n,
                        double *window)
{
	struct actor_spec as[3] = {
		{ "cons", "cons", &cons_behaviour, cpu_cons, 0, NULL },
	};
	static const char *const names[] = { "prod0", "prod1" };
	double *rate, med;
	long k;
	int err;

	*window = -1;
	for (int i = 0; i < n_prod; i++)
		as[1 + i] = (struct actor_spec){ names[i], names[i], &prod_behaviour,
		                                 cpu_prod[i], i, "cons" };
	cfg.n_prod = n_prod;
	cfg.small = small;
	cfg.warm = n / 10;
	cfg.n = n;
	if ((err = run_node(as, 1 + n_prod, 1000000)))
		return err;
	k = R->n_samples - 1; /* stretches between stamps */
	if (k < 1)
		return -EIO;
	rate = malloc((size_t)k * sizeof *rate);
	if (!rate)
		return -ENOMEM;
	for (long i = 0; i < k; i++)
		rate[i] = STREAM_CHUNK * 1e9 / (double)(R->stamp_ns[i + 1] - R->stamp_ns[i]);
	*window = (double)k * STREAM_CHUNK * 1e9 / (double)(R->stamp_ns[k] - R->stamp_ns[0]);
	med = bench_percentile(rate, (size_t)k, 50);
	free(rate);
	return med;
}

static double rt_intragroup(int cpu, int depth, long n)
{
	const struct actor_spec as[] = {
		{ "solo", "a", &hop_behaviour, cpu, 0, "b" },
		{ "solo", "b", &hop_behaviour, cpu, 1, "a" },
	};
	int err;

	cfg.depth = depth;
	cfg.warm = n / 10;
	cfg.n = n;
	if ((err = run_node(as, 2, 1000000)))
		return err;
	return R->value;
}

static double rt_idle_rss(void)
{
	const struct actor_spec as[] = {
		{ "idle", "idle", &idle_behaviour, -1, 0, NULL },
	};
	int err;

	/* The default spin: an idle worker as users get it. */
	if ((err = run_node(as, 1, 50)))
		return err;
	return R->value;
}

/* VmRSS of a plain fork() of this process, for comparison.  KiB or -errno. */
static double plain_fork_rss(void)
{
	pid_t pid;
	int rc;

	R->rss_kib[0] = -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(read_rss(R->rss_kib) ? 1 : 0);
	rc = bench_reap(&pid, 1, 5000000000u);
	return rc ? rc : (double)R->rss_kib[0];
}

/* ---- main ------------------------------------------------------------------------- */

static const char *const figures[] = {
	"worker_idle_rss", "pingpong_spin_rtt", "pingpong_sleep_samecpu_rtt",
	"pingpong_sleep_crosscpu_rtt", "throughput_1to1", "throughput_2to1", "throughput_1to1_16b",
	"intragroup_rate", "pingpong_spin_rtt_16b",
};

static int n_failed;
static int reps = REPS;       /* runs per figure: REPS or $BENCH_CORE_REPS */
static char **only;           /* NULL-terminated figure names, or NULL: all */

/* Whether figure name was asked for. */
static int wanted(const char *name)
{
	if (!only || !*only)
		return 1;
	for (char **p = only; *p; p++)
		if (!strcmp(*p, name))
			return 1;
	return 0;
}

static long scaled(double scale, long n, long min)
{
	double v = (double)n * scale;
	return v < (double)min ? min : (long)v;
}

/* Median of the successful runs in v[n]; negative (the first error) if none. */
static double median_of(double *v, int n)
{
	double ok[MAX_REPS];
	int m = 0;

	for (int i = 0; i < n; i++)
		if (v[i] >= 0)
			ok[m++] = v[i];
	if (m == 0)
		return n ? v[0] : -EINVAL;
	return bench_percentile(ok, (size_t)m, 50);
}

static void print_runs(const char *what, const double *v, int n)
{
	printf("#   %-26s", what);
	for (int i = 0; i < n; i++) {
		printf(" ");
		bench_print_num(v[i]);
	}
	printf("\n");
}

/* Prints a figure with its baseline; a failed measurement is noted and counted. */
static void report(const char *name, double v, const char *unit, double base)
{
	if (v < 0)
		fprintf(stderr, "bench-core: %s failed: %s\n", name, strerror((int)-v));
	if (base < 0)
		fprintf(stderr, "bench-core: baseline of %s failed: %s\n", name,
		        strerror((int)-base));
	n_failed += v < 0 || base < 0;
	bench_line_counts(name, v, unit, base, take_counts());
}

/*
 * What the layout makes a message cost in cache lines, computed, not
 * measured: these only change with the layout, so a figure that moves
 * with them unchanged points at the machine.  A record of a 64-byte
 * payload is the envelope header plus the payload, rounded to
 * ACT__REC_ALIGN; every record starts on a line of its own (ring.h,
 * ACT__RING_LINE_ALIGN), so a stream moves, and a lone record (a
 * ping-pong) touches, the record's size in lines rounded up.  The bare
 * ring moves one 64-byte slot.
 */
static void print_layout(void)
{
	uint32_t rec = act__rec_round((uint32_t)(sizeof(struct act__env) + sizeof(blob)));
	double lines = (double)((rec + ACT__RING_LINE_ALIGN - 1u) / ACT__RING_LINE_ALIGN);

	printf("# layout: envelope header %zu B + payload %zu B = record %u B; "
	       "lines/msg streamed %.2f (bare 1.00), lines touched by a lone record %.2f "
	       "(bare 1.00); prefetch read %u B, write %u B ahead%s\n",
	       sizeof(struct act__env), sizeof(blob), rec, lines, lines,
	       ACT__RING_READ_AHEAD, ACT__RING_WRITE_AHEAD,
	       getenv("ACTORS_RING_PREFETCH") && !strcmp(getenv("ACTORS_RING_PREFETCH"), "0") ?
	       " (off: ACTORS_RING_PREFETCH=0)" : "");
}

/* Round trips: REPS runtime runs and REPS baseline runs, interleaved. */
static void bench_rtt(const char *name, uint32_t spin_us, int small, int cpu_a, int cpu_b,
                      long iters, long base_iters)
{
	double rt[MAX_REPS], base[MAX_REPS], pair[MAX_REPS];
	int spin = spin_us != 0;

	if (!wanted(name))
		return;
	if (cpu_a < 0 || cpu_b < 0) {
		printf("# %s skipped: only one CPU\n", name);
		return;
	}
	for (int i = 0; i < reps; i++) {
		rt[i] = rt_pingpong(spin_us, small, cpu_a, cpu_b, iters, spin);
		base[i] = spin ? bare_ring_rtt_ns(cpu_a, cpu_b, base_iters)
		               : bare_eventfd_rtt_ns(cpu_a, cpu_b, base_iters);
	}
	printf("# %s: cpus %d,%d, %ld round trips a run (baseline %ld)\n", name, cpu_a, cpu_b,
	       iters, base_iters);
	print_runs("runtime runs (ns):", rt, reps);
	print_runs(spin ? "bare_ring_rtt_ns runs:" : "bare_eventfd_rtt_ns runs:", base, reps);
	for (int i = 0; i < reps; i++)
		pair[i] = rt[i] >= 0 && base[i] > 0 ? rt[i] / base[i] : -1;
	print_runs("ratio to the run beside:", pair, reps);
	report(name, median_of(rt, reps), "ns", median_of(base, reps));
}

/* The idle worker's RSS, measured first: see main(). */
static void bench_rss(void)
{
	double v;

	if (!wanted("worker_idle_rss"))
		return;
	v = rt_idle_rss();
	if (v >= 0) {
		printf("# worker_idle_rss: VmRSS %ld kB = anon %ld + file %ld + shmem %ld\n",
		       R->rss_kib[0], R->rss_kib[1], R->rss_kib[2], R->rss_kib[3]);
		if (plain_fork_rss() >= 0)
			printf("# plain fork() of this program: VmRSS %ld kB = anon %ld + "
			       "file %ld + shmem %ld\n", R->rss_kib[0], R->rss_kib[1],
			       R->rss_kib[2], R->rss_kib[3]);
	}
	report("worker_idle_rss", v, "KiB", v);
}

/*
 * Streams.  The 2->1 figure is compared with the same 1->1 bare ring rate:
 * the bare consumer's limit is the reference for the runtime's consumer.
 */
static void bench_stream(double scale, int c0, int c1, int c2)
{
	enum { N_FIG = 3 };
	const char *const names[N_FIG] = { "throughput_1to1", "throughput_2to1",
	                                   "throughput_1to1_16b" };
	const int n_prod[N_FIG] = { 1, 2, 1 }, small[N_FIG] = { 0, 0, 1 };
	long n = scaled(scale, 30000000, 1000000);
	/* With two CPUs both producers share one (they take turns). */
	int prods[2] = { c0, c2 >= 0 ? c2 : c0 };
	double rt[N_FIG][MAX_REPS], window[N_FIG][MAX_REPS], bs[MAX_REPS], pair[MAX_REPS], base;
	/* The counters of each figure's runs: the runs interleave. */
	struct act__perf fig_acc[N_FIG] = { { 0 } };
	uint64_t fig_msgs[N_FIG] = { 0 };
	bool any = false;

	for (int f = 0; f < N_FIG; f++)
		any |= wanted(names[f]);
	if (!any)
		return;
	if (c1 < 0) {
		printf("# throughput_1to1, _2to1, _1to1_16b skipped: only one CPU\n");
		return;
	}
	/* Interleaved, each runtime run next to a baseline run: on a shared
	 * machine the load moves within seconds, and the ratio of neighbours
	 * is what carries over to a quiet one. */
	for (int i = 0; i < reps; i++) {
		bs[i] = bare_ring_stream_rate(c0, c1, scaled(scale, 30000000, 1000));
		for (int f = 0; f < N_FIG; f++) {
			if (!wanted(names[f]))
				continue;
			acc = fig_acc[f];
			acc_msgs = fig_msgs[f];
			rt[f][i] = rt_stream(n_prod[f], small[f], prods, c1, n, &window[f][i]);
			fig_acc[f] = acc;
			fig_msgs[f] = acc_msgs;
		}
	}
	base = median_of(bs, reps);
	for (int f = 0; f < N_FIG; f++) {
		/* What a record takes in the ring: header, payload, then the
		 * rest of its last cache line (ring.h, ACT__RING_LINE_ALIGN). */
		size_t payload = small[f] ? sizeof(blob16) : sizeof(blob);
		size_t rec = sizeof(struct act__env) + payload;
		size_t lines = (rec + ACT__RING_LINE_ALIGN - 1) / ACT__RING_LINE_ALIGN;

		if (!wanted(names[f]))
			continue;
		if (n_prod[f] == 1)
			printf("# %s: producer cpu %d, consumer cpu %d, %zu-byte payloads: records of "
			       "%zu bytes, %zu cache line%s each (the bare ring: 64 bytes, 1 line); at "
			       "most %ld messages or ~1 s a run\n", names[f], c0, c1, payload, rec,
			       lines, lines == 1 ? "" : "s", n);
		else
			printf("# %s: producers cpu %d,%d, consumer cpu %d; "
			       "baseline: the 1->1 bare_ring_stream_rate\n", names[f], prods[0], prods[1],
			       c1);
		print_runs("runtime runs (msgs/s):", rt[f], reps);
		print_runs("runtime whole windows:", window[f], reps);
		print_runs("bare_ring_stream runs:", bs, reps);
		for (int i = 0; i < reps; i++)
			pair[i] = rt[f][i] >= 0 && bs[i] > 0 ? rt[f][i] / bs[i] : -1;
		print_runs("ratio to the run beside:", pair, reps);
		acc = fig_acc[f];
		acc_msgs = fig_msgs[f];
		report(names[f], median_of(rt[f], reps), "msgs/s", base);
	}
}

static void bench_intragroup(double scale, int c0)
{
	double rt[MAX_REPS], v;

	if (!wanted("intragroup_rate"))
		return;
	for (int i = 0; i < reps; i++)
		rt[i] = rt_intragroup(c0, 64, scaled(scale, 50000000, 1000000));
	printf("# intragroup_rate: two actors of one group on cpu %d, 64 hops in flight\n", c0);
	print_runs("runtime runs (msgs/s):", rt, reps);
	v = median_of(rt, reps);
	report("intragroup_rate", v, "msgs/s", v);
}

int main(int argc, char **argv)
{
	double scale = 1.0, load = -1;
	int c0, c1, c2;
	char *end;
	FILE *f;

	bench_handle_ready_child(argc, argv);
	if (argc >= 2 && ((scale = strtod(argv[1], &end)) <= 0 || *end || end == argv[1])) {
		fprintf(stderr, "usage: %s [SCALE [FIGURE...]]\n", argv[0]);
		return 2;
	}
	only = argc > 2 ? argv + 2 : NULL;
	if ((end = getenv("BENCH_CORE_REPS"))) {
		long r = strtol(end, NULL, 10);
		if (r < 1 || r > MAX_REPS) {
			fprintf(stderr, "%s: BENCH_CORE_REPS must be 1..%d\n", argv[0], MAX_REPS);
			return 2;
		}
		reps = (int)r;
	}
	for (char **p = only; p && *p; p++) {
		size_t k = 0;
		while (k < sizeof figures / sizeof *figures && strcmp(figures[k], *p))
			k++;
		if (k == sizeof figures / sizeof *figures) {
			fprintf(stderr, "%s: unknown figure '%s'\n", argv[0], *p);
			return 2;
		}
	}
	/* The runtime logs every worker start at info level. */
	setenv("ACTORS_LOG_LEVEL", "warn", 0);
	alarm(ALARM_S);
	R = bench_shm_alloc(sizeof *R);
	if (!R) {
		fprintf(stderr, "bench-core: cannot map the result area\n");
		return 1;
	}
	if ((f = fopen("/proc/loadavg", "re"))) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	c0 = bench_nth_cpu(0);
	c1 = bench_nth_cpu(1);
	c2 = bench_nth_cpu(2);
	printf("# bench-core %s: %d cpus; pair = cpu %d,%d; scale %g; load average %.2f\n",
	       act_version(), bench_ncpus(), c0, c1, scale, load);
	bench_print_machine("bench-core");
	print_layout();

	/* First, while this process (every worker is forked from it) is as
	 * small as it gets. */
	bench_rss();
	bench_rtt("pingpong_spin_rtt", 1000000, 0, c0, c1, scaled(scale, 200000, 2000),
	          scaled(scale, 200000, 2000));
	bench_rtt("pingpong_spin_rtt_16b", 1000000, 1, c0, c1, scaled(scale, 200000, 2000),
	          scaled(scale, 200000, 2000));
	bench_rtt("pingpong_sleep_samecpu_rtt", 0, 0, c0, c0, scaled(scale, 20000, 200),
	          scaled(scale, 20000, 200));
	bench_rtt("pingpong_sleep_crosscpu_rtt", 0, 0, c0, c1, scaled(scale, 4000, 200),
	          scaled(scale, 4000, 200));
	bench_stream(scale, c0, c1, c2);
	bench_intragroup(scale, c0);
	return n_failed ? 1 : 0;
}
