/* SPDX-License-Identifier: MIT */
/*
 * pingpong - two actors in two groups (so two worker processes) bounce a
 * counter through shared-memory rings; ping prints every round trip it
 * makes and a latency summary, then shuts the node down.
 *
 *     pingpong [-n ROUNDS] [-q] [--spin-us N]
 *
 * Start it, watch `ps --forest`: one supervisor, a zygote, two workers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

typedef struct { int32_t count; } ping_msg;
typedef struct { int32_t count; } pong_msg;

ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, count, ACT_I32));
ACT_MESSAGE_TYPE(pong_type, pong_msg, "Pong", ACT_FIELD(pong_msg, count, ACT_I32));

static long rounds = 10;
static int quiet;

/* ---- pong: answers every Ping with a Pong of the same count ---------------- */

static void pong_on_ping(act_ctx *ctx, void *state, const void *m)
{
	const ping_msg *ping = m;
	pong_msg reply = { ping->count };
	int err = act_reply(ctx, &pong_type, &reply);
	if (err)
		fprintf(stderr, "pong: reply failed: %s\n", act_strerror(err));
}

static const act_handler pong_handlers[] = { { &ping_type, pong_on_ping } };
static const act_behaviour pong_behaviour = {
	.name = "pong", .handlers = pong_handlers, .n_handlers = 1,
};

/* ---- ping: sends Ping{1}, and the next one when the Pong comes back -------- */

struct ping_state {
	act_ref pong;
	uint64_t sent_ns;
	uint64_t *rtt_ns;
	long done;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void send_ping(act_ctx *ctx, struct ping_state *s, int32_t count)
{
	ping_msg p = { count };
	s->sent_ns = act_now_ns();
	int err = act_send(ctx, s->pong, &ping_type, &p);
	if (err) {
		fprintf(stderr, "ping: send failed: %s\n", act_strerror(err));
		act_shutdown(ctx);
	}
}

static void ping_on_start(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	const act_start *st = m;

	if (st->restart)
		printf("ping: restarted (%d), starting over\n", st->n_restarts);
	if (act_lookup(ctx, "pong", &s->pong)) {
		act_shutdown(ctx);
		return;
	}
	s->rtt_ns = calloc((size_t)rounds, sizeof *s->rtt_ns);
	if (!s->rtt_ns) {
		act_shutdown(ctx);
		return;
	}
	send_ping(ctx, s, 1);
}

static void ping_on_pong(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	const pong_msg *pong = m;
	uint64_t rtt = act_now_ns() - s->sent_ns;

	s->rtt_ns[s->done++] = rtt;
	if (!quiet)
		printf("ping: round trip %d: pong from %s in %.1f us\n", pong->count,
		       act_ref_name(ctx, act_sender(ctx)), rtt / 1e3);
	if (s->done < rounds) {
		send_ping(ctx, s, pong->count + 1);
		return;
	}
	qsort(s->rtt_ns, (size_t)s->done, sizeof *s->rtt_ns, cmp_u64);
	printf("ping: %ld round trips between two processes: min %.2f us, "
	       "p50 %.2f us, p99 %.2f us, max %.2f us\n", s->done,
	       s->rtt_ns[0] / 1e3, s->rtt_ns[s->done / 2] / 1e3,
	       s->rtt_ns[(s->done * 99) / 100] / 1e3, s->rtt_ns[s->done - 1] / 1e3);
	fflush(stdout);
	act_shutdown(ctx);
}

static void ping_fini(act_ctx *ctx, void *state)
{
	free(((struct ping_state *)state)->rtt_ns);
}

static const act_handler ping_handlers[] = {
	{ &act_start_type, ping_on_start },
	{ &pong_type, ping_on_pong },
};
static const act_behaviour ping_behaviour = {
	.name = "ping", .state_size = sizeof(struct ping_state), .fini = ping_fini,
	.handlers = ping_handlers, .n_handlers = 2,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "spin-us", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	long spin_us = -1;
	int c;

	while ((c = getopt_long(argc, argv, "n:qs:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': rounds = strtol(optarg, NULL, 10); break;
		case 'q': quiet = 1; break;
		case 's': spin_us = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: %s [-n ROUNDS] [-q] [--spin-us N]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	act_node_t *node = act_node_new("pingpong");
	if (!node)
		return 1;
	int err = act_node_add_group(node, "pingers");
	if (!err) err = act_node_add_group(node, "pongers");
	if (!err) err = act_node_add_actor(node, "pingers", "ping", &ping_behaviour, NULL);
	if (!err) err = act_node_add_actor(node, "pongers", "pong", &pong_behaviour, NULL);
	if (!err) err = act_node_add_type(node, &ping_type);
	if (!err && spin_us >= 0) err = act_node_set_spin_us(node, "pingers", (uint32_t)spin_us);
	if (!err && spin_us >= 0) err = act_node_set_spin_us(node, "pongers", (uint32_t)spin_us);
	if (err) {
		fprintf(stderr, "pingpong: %s\n", act_strerror(err));
		act_node_free(node);
		return 1;
	}
	int rc = act_node_run(node);
	act_node_free(node);
	if (rc < 0) {
		fprintf(stderr, "pingpong: %s\n", act_strerror(rc));
		return 1;
	}
	return rc;
}
