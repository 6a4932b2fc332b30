/* SPDX-License-Identifier: MIT */
/*
 * t/topic-node.c - topics on a real node (forked workers, rings, a real
 * SIGKILL): ten static members and two spawned ones (permanent and
 * temporary) in one group and a publisher in another.  The members' worker
 * is killed: the static and the permanent members are still members after
 * the restart without joining again, the temporary one is gone.  A static
 * member that stops leaves.  A member whose ring (4 KiB) is full misses
 * publications: the publisher is told how many were refused, and the
 * topic's counters in the region say the same.
 */
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "tap.h"
#include "harness.h"
#include "topic.h"

#define N_STATIC 10
#define BURST 300

typedef struct { int32_t v; } news_msg;
ACT_MESSAGE_TYPE(news_type, news_msg, "News", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(joined_type, news_msg, "Joined", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(die_type, news_msg, "Die", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(back_type, news_msg, "Back", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(stop_type, news_msg, "StopNow", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(relay_type, news_msg, "Relay", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(block_type, news_msg, "Block", ACT_FIELD(news_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fin_type, news_msg, "Fin", ACT_FIELD(news_msg, v, ACT_I32));

struct area {
	_Atomic int joined, join_errors, rejoined;
	_Atomic int got[16][4];            /* [member][publication 1..3] */
	int reached[4], members[4], refused[4];
	_Atomic int release, blocked, slow_got, fin_seen, crashed, back;
	int burst_reached, burst_refused, burst_bad;
	uint64_t news_published, news_delivered, slow_refused, slow_delivered;
	_Atomic int watchdog;
};
static struct area *A;

static void inspect(struct act_node *n)
{
	int err;
	struct act__topic *tp = act__topic_get(n->shm.xa, "news", false, 0, &err);
	if (tp) {
		A->news_published = atomic_load(&tp->n_published);
		A->news_delivered = atomic_load(&tp->n_delivered);
	}
	tp = act__topic_get(n->shm.xa, "slowtopic", false, 0, &err);
	if (tp) {
		A->slow_refused = atomic_load(&tp->n_refused);
		A->slow_delivered = atomic_load(&tp->n_delivered);
	}
}

/* ---- members --------------------------------------------------------------- */

struct mst { int idx; };

static int member_init(act_ctx *ctx, void *st, const char *args)
{
	((struct mst *)st)->idx = args ? atoi(args) : 0;
	return 0;
}

static void tell_pub(act_ctx *ctx, const act_type *t, int v)
{
	act_ref pub;
	if (act_lookup(ctx, "pub", &pub) == 0)
		act_send(ctx, pub, t, &(news_msg){ v });
}

static void member_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	if (s->restart) {
		A->rejoined++; /* counted, but no join: membership must have survived */
		return;
	}
	if (act_join(ctx, "news"))
		A->join_errors++;
	tell_pub(ctx, &joined_type, ((struct mst *)st)->idx);
}

static void member_news(act_ctx *ctx, void *st, const void *m)
{
	const news_msg *n = m;
	int idx = ((struct mst *)st)->idx;
	if (idx >= 0 && idx < 16 && n->v >= 1 && n->v <= 3)
		A->got[idx][n->v]++;
}

static void member_die(act_ctx *ctx, void *st, const void *m)
{
	if (act_redelivered(ctx) == 0) {
		A->crashed = 1;
		kill(getpid(), SIGKILL);
	}
	tell_pub(ctx, &back_type, 1);
}

static void member_stop(act_ctx *ctx, void *st, const void *m) { act_stop_self(ctx); }
static void member_relay(act_ctx *ctx, void *st, const void *m) { tell_pub(ctx, &back_type, 2); }

static const act_handler member_h[] = {
	{ &act_start_type, member_start }, { &news_type, member_news }, { &die_type, member_die },
	{ &stop_type, member_stop }, { &relay_type, member_relay },
};
static const act_behaviour member_b = {
	.name = "member", .state_size = sizeof(struct mst), .init = member_init,
	.handlers = member_h, .n_handlers = 5,
};
static const act_behaviour perm_b = {
	.name = "perm", .state_size = sizeof(struct mst), .init = member_init,
	.handlers = member_h, .n_handlers = 2, .restart = ACT_PERMANENT,
};
static const act_behaviour temp_b = {
	.name = "temp", .state_size = sizeof(struct mst), .init = member_init,
	.handlers = member_h, .n_handlers = 2, .restart = ACT_TEMPORARY,
};

static void parent_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref r;
	if (s->restart)
		return;
	if (act_spawn(ctx, NULL, "perm", "pm", "10", &r) || act_spawn(ctx, NULL, "temp", "tm", "11", &r))
		A->join_errors++;
}
static const act_handler parent_h[] = { { &act_start_type, parent_start } };
static const act_behaviour parent_b = { .name = "parent", .handlers = parent_h, .n_handlers = 1 };

/* ---- the slow member (a 4 KiB ring) -------------------------------------------- */

static void slow_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	if (s->restart)
		return;
	if (act_join(ctx, "slowtopic"))
		A->join_errors++;
	tell_pub(ctx, &joined_type, 12);
}
static void slow_block(act_ctx *ctx, void *st, const void *m)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	A->blocked = 1;
	/* Hold the ring full until the publisher is done (bounded: 10 s). */
	do {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (!A->release && t.tv_sec - t0.tv_sec < 10);
}
static void slow_news(act_ctx *ctx, void *st, const void *m) { A->slow_got++; }
static void slow_fin(act_ctx *ctx, void *st, const void *m)
{
	A->fin_seen = 1;
	tell_pub(ctx, &fin_type, 0);
}
static const act_handler slow_h[] = {
	{ &act_start_type, slow_start }, { &block_type, slow_block }, { &news_type, slow_news },
	{ &fin_type, slow_fin },
};
static const act_behaviour slow_b = { .name = "slow", .handlers = slow_h, .n_handlers = 4 };

/* ---- the publisher ------------------------------------------------------------- */

static int publish(act_ctx *ctx, int v)
{
	act_publish_result r;
	int n = act_publish_ex(ctx, "news", &news_type, &(news_msg){ v }, &r);
	A->reached[v] = n;
	A->members[v] = (int)r.n_members;
	A->refused[v] = (int)r.n_refused;
	return n;
}

static void pub_joined(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	if (++A->joined != N_STATIC + 3)
		return;
	publish(ctx, 1);
	if (act_lookup(ctx, "sub0", &r) == 0)
		act_send(ctx, r, &die_type, &(news_msg){ 0 });
}

static void pub_back(act_ctx *ctx, void *st, const void *m)
{
	const news_msg *b = m;
	act_ref r;

	A->back++;
	if (b->v == 1) {
		/* the members' worker is back */
		publish(ctx, 2);
		if (act_lookup(ctx, "sub9", &r) == 0)
			act_send(ctx, r, &stop_type, &(news_msg){ 0 });
		if (act_lookup(ctx, "sub8", &r) == 0)
			act_send(ctx, r, &relay_type, &(news_msg){ 0 }); /* after sub9 stopped */
		return;
	}
	publish(ctx, 3);
	/* Fill the slow member's ring while its handler holds it. */
	if (act_lookup(ctx, "slowsub", &r) == 0)
		act_send(ctx, r, &block_type, &(news_msg){ 0 });
	for (int i = 0; i < BURST; i++) {
		act_publish_result pr;
		int n = act_publish_ex(ctx, "slowtopic", &news_type, &(news_msg){ 0 }, &pr);
		A->burst_reached += n;
		A->burst_refused += (int)pr.n_refused;
		A->burst_bad += n < 0 || pr.n_members != 1 || pr.n_reached + pr.n_refused != 1;
	}
	A->release = 1;
	act_timer_periodic(ctx, 10, 1); /* Fin goes when the ring has room */
}

static void pub_timeout(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	if (act_lookup(ctx, "slowsub", &r) == 0 && act_send(ctx, r, &fin_type, &(news_msg){ 0 }) == 0)
		act_timer_cancel(ctx, 1);
}
static void pub_fin(act_ctx *ctx, void *st, const void *m) { act_shutdown(ctx); }

static const act_handler pub_h[] = {
	{ &joined_type, pub_joined }, { &back_type, pub_back }, { &act_timeout_type, pub_timeout },
	{ &fin_type, pub_fin },
};
static const act_behaviour pub_b = { .name = "pub", .handlers = pub_h, .n_handlers = 4 };

int main(void)
{
	char name[16], args[16];

	tap_timeout(120);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 60000;
	act_node_t *node = act_node_new("topics");
	act_node_add_group(node, "pubs");
	act_node_add_group(node, "subs");
	act_node_add_group(node, "slowg");
	act_node_add_actor(node, "pubs", "pub", &pub_b, NULL);
	act_node_add_actor(node, "pubs", "watchdog", &harness_watchdog_b, NULL);
	for (int i = 0; i < N_STATIC; i++) {
		snprintf(name, sizeof name, "sub%d", i);
		snprintf(args, sizeof args, "%d", i);
		act_node_add_actor(node, "subs", name, &member_b, args);
	}
	act_node_add_actor(node, "subs", "parent", &parent_b, NULL);
	act_node_add_behaviour(node, &perm_b);
	act_node_add_behaviour(node, &temp_b);
	act_node_add_actor(node, "slowg", "slowsub", &slow_b, NULL);
	act_node_set_ring_bytes(node, "slowg", 4096);
	act_node_set_max_msg_bytes(node, "slowg", 1024);
	act_node_set_heartbeat(node, "slowg", 100, 30000);
	act_node_set_intensity(node, 5, 10000);
	act__node_inspect_hook = inspect;
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && !A->watchdog, "node stopped cleanly (rc %d, watchdog %d)", rc, A->watchdog);
	ok(A->join_errors == 0, "every join and spawn succeeded (%d errors)", A->join_errors);
	ok(A->reached[1] == N_STATIC + 2 && A->members[1] == N_STATIC + 2 && A->refused[1] == 0,
	   "publication 1 reached the 10 static and 2 spawned members (%d of %d)",
	   A->reached[1], A->members[1]);
	int all1 = 1;
	for (int i = 0; i < N_STATIC + 2; i++)
		all1 &= A->got[i][1] == 1;
	ok(all1, "each member got publication 1 once");
	ok(A->crashed == 1 && A->rejoined == N_STATIC + 1,
	   "the members' worker was SIGKILLed; 11 members restarted without joining (%d)", A->rejoined);
	ok(A->reached[2] == N_STATIC + 1 && A->members[2] == N_STATIC + 1,
	   "after the crash publication 2 reached the static and the permanent members only (%d)",
	   A->reached[2]);
	int all2 = 1;
	for (int i = 0; i < N_STATIC + 1; i++)
		all2 &= A->got[i][2] == 1;
	ok(all2 && A->got[11][2] == 0, "each of them got it once, the temporary member is gone");
	ok(A->reached[3] == N_STATIC && A->got[9][3] == 0 && A->got[8][3] == 1,
	   "a stopped static member left: publication 3 reached %d", A->reached[3]);
	ok(A->burst_bad == 0, "each burst publication: 1 member, reached + refused = 1");
	ok(A->burst_refused > 0 && A->burst_reached > 0 && A->burst_reached + A->burst_refused == BURST,
	   "a full ring refuses: %d reached, %d refused, of %d", A->burst_reached, A->burst_refused, BURST);
	ok(A->slow_got == A->burst_reached && A->fin_seen,
	   "the slow member got exactly the publications that reached it (%d)", A->slow_got);
	ok(A->slow_refused == (uint64_t)A->burst_refused &&
	   A->slow_delivered == (uint64_t)A->burst_reached,
	   "the topic's counters in the region agree (refused %llu, delivered %llu)",
	   (unsigned long long)A->slow_refused, (unsigned long long)A->slow_delivered);
	ok(A->news_published == 3 && A->news_delivered == (uint64_t)(A->reached[1] + A->reached[2] + A->reached[3]),
	   "news: 3 published, %llu delivered", (unsigned long long)A->news_delivered);
	return done_testing();
}
