/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-spawn.c - actors spawned at run time, in one group: clear
 * errors for bad behaviours, names, groups and args; act_stop, act_fail,
 * act_stop_self each giving exactly one Down with its reason; monitors of
 * an actor already gone (noproc) and act_demonitor; and refs that never
 * alias: 100,000 spawn/stop cycles through the same slot, then every stale
 * ref refused (-ENOENT in the group, a dead letter from another group) and
 * never delivered to the slot's current tenant.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_CYCLES 100000

typedef struct { int32_t v; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, v, ACT_I32));
typedef struct { int32_t id, gen, n; } stale_msg;
ACT_MESSAGE_TYPE(stale_type, stale_msg, "Stale", ACT_FIELD(stale_msg, id, ACT_I32),
                 ACT_FIELD(stale_msg, gen, ACT_I32), ACT_FIELD(stale_msg, n, ACT_I32));

enum { E_UNKNOWN_B, E_EMPTY_NAME, E_DOLLAR, E_BAD_ARGS, E_LONG_ARGS, E_NO_GROUP, E_STATIC_DUP,
       E_DUP, E_INIT, E_OTHER_GROUP, E_STOP_AGAIN, E_SEND_STOPPED, E_FIRST_OK, E_LOOKUP,
       E_NAME, E_DEMON, E_DEMON_AGAIN, E_N };

struct area {
	_Atomic int rc[E_N];
	_Atomic int downs_stopped, downs_failed, downs_normal, downs_noproc, downs_other,
	            downs_w4, down_from_ok;
	char down_order[64];
	_Atomic int chain_ok;
	_Atomic int inits, starts, shutdowns, pings_to_tenant, stale_enoent, stale_sent,
	            distinct_gens, same_slot, probe_done, args_ok;
};
static struct area *A;

/* ---- the spawnable behaviour ----------------------------------------------- */

struct wstate { int pings; };

static int w_init(act_ctx *ctx, void *st, const char *args)
{
	atomic_fetch_add(&A->inits, 1);
	if (args && !strcmp(args, "\"fail\""))
		return -EINVAL;
	if (args && !strcmp(args, "{\"k\":1}"))
		atomic_store(&A->args_ok, 1);
	if (args && args[0] >= '1' && args[0] <= '9') {
		/* a chain of descendants: name + "k", depth - 1 */
		char name[80], depth[16];
		act_ref r;
		snprintf(name, sizeof name, "%sk", act_self_name(ctx));
		snprintf(depth, sizeof depth, "%d", atoi(args) - 1);
		return act_spawn(ctx, NULL, "worker", name, depth, &r);
	}
	return 0;
}
static void w_start(act_ctx *ctx, void *st, const void *m) { atomic_fetch_add(&A->starts, 1); }
static void w_shutdown(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->shutdowns, 1);
}
static void w_ping(act_ctx *ctx, void *st, const void *m)
{
	const ping_msg *p = m;
	if (p->v == 1)
		act_fail(ctx, "boom");
	else if (p->v == 2)
		act_stop_self(ctx);
	else
		atomic_fetch_add(&A->pings_to_tenant, 1);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &act_shutdown_type, w_shutdown }, { &ping_type, w_ping },
};
static const act_behaviour w_b = {
	.name = "worker", .state_size = sizeof(struct wstate), .init = w_init,
	.handlers = w_h, .n_handlers = 3,
};

/* ---- the boss ---------------------------------------------------------------- */

struct boss { act_ref w1, w2, w3, tenant; int downs; };

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	act_ref r, w4;
	uint64_t mid, mid4;
	char longargs[ACT_SPAWN_ARGS_MAX + 8];

	memset(longargs, ' ', sizeof longargs);
	longargs[0] = '1';
	longargs[sizeof longargs - 1] = '\0';
	A->rc[E_UNKNOWN_B] = act_spawn(ctx, NULL, "nope", NULL, NULL, &r);
	A->rc[E_EMPTY_NAME] = act_spawn(ctx, NULL, "worker", "", NULL, &r);
	A->rc[E_DOLLAR] = act_spawn(ctx, NULL, "worker", "$1.2.3", NULL, &r);
	A->rc[E_BAD_ARGS] = act_spawn(ctx, NULL, "worker", NULL, "{", &r);
	A->rc[E_LONG_ARGS] = act_spawn(ctx, NULL, "worker", NULL, longargs, &r);
	A->rc[E_NO_GROUP] = act_spawn(ctx, "nogroup", "worker", NULL, NULL, &r);
	A->rc[E_STATIC_DUP] = act_spawn(ctx, NULL, "worker", "probe", NULL, &r);
	A->rc[E_OTHER_GROUP] = act_spawn(ctx, "other", "worker", NULL, NULL, &r);
	A->rc[E_INIT] = act_spawn(ctx, "main", "worker", "bad", "\"fail\"", &r);
	A->rc[E_FIRST_OK] = act_spawn(ctx, NULL, "worker", "w1", "{\"k\":1}", &b->w1);
	A->rc[E_DUP] = act_spawn(ctx, NULL, "worker", "w1", NULL, &r);
	A->rc[E_LOOKUP] = act_lookup(ctx, "w1", &r) == 0 && act_ref_eq(r, b->w1) ? 0 : -1;
	A->rc[E_NAME] = act_ref_name(ctx, b->w1) && !strcmp(act_ref_name(ctx, b->w1), "w1") ? 0 : -1;

	/* stop: Down "stopped", once */
	act_monitor(ctx, b->w1, &mid);
	act_stop(ctx, b->w1);
	A->rc[E_STOP_AGAIN] = act_stop(ctx, b->w1);
	ping_msg p = { 0 };
	A->rc[E_SEND_STOPPED] = act_send(ctx, b->w1, &ping_type, &p);
	/* an actor already gone: Down "noproc" at once */
	act_monitor(ctx, b->w1, &mid);
	/* fail and normal stop */
	act_spawn(ctx, NULL, "worker", "w2", NULL, &b->w2);
	act_spawn(ctx, NULL, "worker", NULL, NULL, &b->w3);
	act_monitor(ctx, b->w2, &mid);
	act_monitor(ctx, b->w3, &mid);
	p.v = 1;
	act_send(ctx, b->w2, &ping_type, &p);
	p.v = 2;
	act_send(ctx, b->w3, &ping_type, &p);
	/* demonitor: no Down */
	act_spawn(ctx, NULL, "worker", "w4", NULL, &w4);
	act_monitor(ctx, w4, &mid4);
	A->rc[E_DEMON] = act_demonitor(ctx, mid4);
	A->rc[E_DEMON_AGAIN] = act_demonitor(ctx, mid4);
	act_stop(ctx, w4);

	/* a stopped parent stops its children first, depth first */
	act_ref pa, pak, pakk;
	A->chain_ok = act_spawn(ctx, NULL, "worker", "pa", "2", &pa) == 0 &&
	              act_lookup(ctx, "pak", &pak) == 0 && act_lookup(ctx, "pakk", &pakk) == 0 &&
	              act_monitor(ctx, pa, &mid) == 0 && act_monitor(ctx, pak, &mid) == 0 &&
	              act_monitor(ctx, pakk, &mid) == 0 && act_stop(ctx, pa) == 0 &&
	              act_lookup(ctx, "pakk", &r) == -ENOENT;

	/* 100k cycles through one slot: every ref distinct, every one stale */
	act_ref first = ACT_NOBODY, last = ACT_NOBODY;
	int distinct = 1, same = 1, enoent = 0;
	for (int i = 0; i < N_CYCLES; i++) {
		if (act_spawn(ctx, NULL, "worker", NULL, NULL, &r))
			break;
		if (i == 0)
			first = r;
		else if (r.gen == last.gen)
			distinct = 0;
		if (r.id != first.id)
			same = 0;
		last = r;
		act_stop(ctx, r);
	}
	act_spawn(ctx, NULL, "worker", "tenant", NULL, &b->tenant);
	same &= b->tenant.id == first.id;
	for (uint32_t g = first.gen; g <= last.gen; g++)
		enoent += act_send(ctx, (act_ref){ first.id, 0, g }, &ping_type, &p) == -ENOENT;
	A->distinct_gens = distinct;
	A->same_slot = same;
	A->stale_enoent = enoent;
	/* the tenant is reachable; stale refs from another group are dead letters */
	p.v = 0;
	act_send(ctx, b->tenant, &ping_type, &p);
	act_ref probe;
	act_lookup(ctx, "probe", &probe);
	stale_msg sm = { (int32_t)first.id, (int32_t)first.gen, 1000 };
	act_send(ctx, probe, &stale_type, &sm);
}

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	const act_down *d = m;
	if (!strcmp(d->reason, "stopped") && !strcmp(d->actor, "w1"))
		A->downs_stopped++;
	else if (!strcmp(d->reason, "failed: boom") && !strcmp(d->actor, "w2"))
		A->downs_failed++;
	else if (!strcmp(d->reason, "normal") && d->actor[0] == '$')
		A->downs_normal++;
	else if (!strcmp(d->reason, "noproc"))
		A->downs_noproc++;
	else if (!strncmp(d->actor, "pa", 2) && !strcmp(d->reason, "stopped")) {
		size_t n = strlen(A->down_order);
		snprintf(A->down_order + n, sizeof A->down_order - n, "%s%s", n ? "," : "", d->actor);
	} else if (!strcmp(d->actor, "w4"))
		A->downs_w4++;
	else
		A->downs_other++;
	if (!strcmp(d->actor, "w2") && act_ref_eq(act_sender(ctx), b->w2))
		A->down_from_ok = 1;
	b->downs++;
}

static void boss_ping(act_ctx *ctx, void *st, const void *m)
{
	/* the probe is done: let the Downs in flight arrive, then stop */
	act_shutdown(ctx);
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &act_down_type, boss_down }, { &ping_type, boss_ping },
};
static const act_behaviour boss_b = {
	.name = "boss", .state_size = sizeof(struct boss), .handlers = boss_h, .n_handlers = 3,
};

/* ---- the probe, in another group: sends to stale refs ------------------------ */

static void probe_stale(act_ctx *ctx, void *st, const void *m)
{
	const stale_msg *s = m;
	ping_msg p = { 0 };
	int sent = 0;
	for (int i = 0; i < s->n; i++)
		sent += act_send(ctx, (act_ref){ (uint32_t)s->id, 0, (uint32_t)s->gen + (uint32_t)i },
		                 &ping_type, &p) == 0;
	A->stale_sent = sent;
	act_reply(ctx, &ping_type, &p);
}
static const act_handler probe_h[] = { { &stale_type, probe_stale } };
static const act_behaviour probe_b = { .name = "probe", .handlers = probe_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	act_node_t *node = act_node_new("dyn");
	act_node_add_group(node, "main");
	act_node_add_group(node, "other");
	act_node_add_actor(node, "main", "boss", &boss_b, NULL);
	act_node_add_actor(node, "other", "probe", &probe_b, NULL);
	ok(act_node_add_behaviour(node, &w_b) == 0, "behaviour registered");
	ok(act_node_add_behaviour(node, &w_b) == 0, "registering it again is a no-op");
	act_behaviour clash = w_b;
	ok(act_node_add_behaviour(node, &clash) == -EEXIST, "another behaviour of that name: -EEXIST");
	/* 100k spawns and stops in one handler: give a busy machine time. */
	act_node_set_heartbeat(node, "main", 100, 20000);
	harness_collect_counters();
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "node stopped cleanly (rc %d)", rc);

	ok(A->rc[E_UNKNOWN_B] == -ENOENT, "unknown behaviour: -ENOENT (%d)", A->rc[E_UNKNOWN_B]);
	ok(A->rc[E_EMPTY_NAME] == -EINVAL, "empty name: -EINVAL");
	ok(A->rc[E_DOLLAR] == -EINVAL, "reserved '$' name: -EINVAL");
	ok(A->rc[E_BAD_ARGS] == -EINVAL, "args that are not JSON: -EINVAL");
	ok(A->rc[E_LONG_ARGS] == -EMSGSIZE, "args too long: -EMSGSIZE (%d)", A->rc[E_LONG_ARGS]);
	ok(A->rc[E_NO_GROUP] == -ENOENT, "unknown group: -ENOENT");
	ok(A->rc[E_OTHER_GROUP] == -EOPNOTSUPP, "another group: -EOPNOTSUPP (not yet)");
	ok(A->rc[E_STATIC_DUP] == -EEXIST, "a static actor's name: -EEXIST");
	ok(A->rc[E_INIT] == -EINVAL, "init's error is returned (%d)", A->rc[E_INIT]);
	ok(A->rc[E_FIRST_OK] == 0 && A->args_ok, "spawn with args (%d)", A->rc[E_FIRST_OK]);
	ok(A->rc[E_DUP] == -EEXIST, "duplicate spawned name: -EEXIST");
	ok(A->rc[E_LOOKUP] == 0 && A->rc[E_NAME] == 0, "act_lookup and act_ref_name find it");
	ok(A->rc[E_STOP_AGAIN] == -ENOENT, "stopping a stopped actor: -ENOENT");
	ok(A->rc[E_SEND_STOPPED] == -ENOENT, "sending to a stopped actor: -ENOENT");
	ok(A->rc[E_DEMON] == 0 && A->rc[E_DEMON_AGAIN] == -ENOENT, "act_demonitor: 0, then -ENOENT");
	ok(A->downs_stopped == 1, "Down 'stopped' exactly once (%d)", A->downs_stopped);
	ok(A->downs_failed == 1 && A->down_from_ok, "Down 'failed: boom' exactly once, from its ref");
	ok(A->downs_normal == 1, "Down 'normal' after act_stop_self, once (%d)", A->downs_normal);
	ok(A->downs_noproc == 1, "monitor of a gone actor: Down 'noproc' (%d)", A->downs_noproc);
	ok(A->downs_w4 == 0 && A->downs_other == 0, "no Down after demonitor, none unexpected (%d %d)",
	   A->downs_w4, A->downs_other);
	ok(A->chain_ok && !strcmp(A->down_order, "pakk,pak,pa"),
	   "stopping a parent stops its descendants first, depth first (%s)", A->down_order);
	ok(A->same_slot && A->distinct_gens, "%d spawns reused one slot, each with its own generation",
	   N_CYCLES);
	ok(A->stale_enoent == N_CYCLES, "every stale ref refused in the group (%d)",
	   A->stale_enoent);
	ok(A->stale_sent == 1000 && counters[1].dead_letters >= 1000,
	   "stale refs from another group: dead letters (%d sent, %llu dead)", A->stale_sent,
	   (unsigned long long)counters[1].dead_letters);
	ok(A->pings_to_tenant == 1, "the slot's tenant got only its own message (%d)",
	   A->pings_to_tenant);
	return done_testing();
}
