/* SPDX-License-Identifier: MIT */
/*
 * t/topic-testkit.c - topics under the testkit: join/leave idempotence,
 * publish to 1, 10 and 100 members (counts returned and received), the
 * publisher among the members, bad names, a temporary spawned member lost
 * in a crash while a permanent one keeps its membership, a stopped
 * member leaving, and the table limits (-ENOSPC).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"

typedef struct { int32_t v; } news_msg;
ACT_MESSAGE_TYPE(news_type, news_msg, "News", ACT_FIELD(news_msg, v, ACT_I32));
typedef struct { char topic[100]; int32_t what; } cmd_msg;
ACT_MESSAGE_TYPE(cmd_type, cmd_msg, "Cmd", ACT_FIELD(cmd_msg, topic, ACT_STR),
                 ACT_FIELD(cmd_msg, what, ACT_I32));

enum { JOIN = 1, LEAVE, PUBLISH, STOP, SPAWN_PERM, SPAWN_TEMP, JOIN_MANY, NEWS_AS_JSON };

static int last_rc;
static act_publish_result last_res;
static int got_news[256];
static int n_news;

struct mstate { int idx; };

static int member_init(act_ctx *ctx, void *st, const char *args)
{
	((struct mstate *)st)->idx = args ? atoi(args) : 0;
	return 0;
}

static void member_news(act_ctx *ctx, void *st, const void *m)
{
	struct mstate *s = st;
	if (s->idx >= 0 && s->idx < 256)
		got_news[s->idx]++;
	n_news++;
}

static act_ref spawned;

static void member_cmd(act_ctx *ctx, void *st, const void *m)
{
	const cmd_msg *c = m;
	switch (c->what) {
	case JOIN: last_rc = act_join(ctx, c->topic); break;
	case LEAVE: last_rc = act_leave(ctx, c->topic); break;
	case PUBLISH:
		last_rc = act_publish_ex(ctx, c->topic, &news_type, &(news_msg){ 7 }, &last_res);
		break;
	case STOP: act_stop_self(ctx); break;
	case SPAWN_PERM: last_rc = act_spawn(ctx, NULL, "perm", NULL, "200", &spawned); break;
	case SPAWN_TEMP: last_rc = act_spawn(ctx, NULL, "temp", NULL, "201", &spawned); break;
	case JOIN_MANY: {
		char name[64];
		last_rc = 0;
		for (int i = 0; i < 300 && !last_rc; i++) {
			snprintf(name, sizeof name, "many-%d", i);
			last_rc = act_join(ctx, name);
		}
		break;
	}
	}
}

/* Spawned members join "news" in their first Start. */
static void spawned_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	if (!s->restart)
		act_join(ctx, "news");
}

static const act_handler member_h[] = { { &news_type, member_news }, { &cmd_type, member_cmd } };
static const act_behaviour member_b = {
	.name = "member", .state_size = sizeof(struct mstate), .init = member_init,
	.handlers = member_h, .n_handlers = 2,
};
static const act_handler spawned_h[] = {
	{ &news_type, member_news }, { &cmd_type, member_cmd }, { &act_start_type, spawned_start },
};
static const act_behaviour perm_b = {
	.name = "perm", .state_size = sizeof(struct mstate), .init = member_init,
	.handlers = spawned_h, .n_handlers = 3, .restart = ACT_PERMANENT,
};
static const act_behaviour temp_b = {
	.name = "temp", .state_size = sizeof(struct mstate), .init = member_init,
	.handlers = spawned_h, .n_handlers = 3, .restart = ACT_TEMPORARY,
};

static int cmd(act_test_t *t, act_ref to, const char *topic, int what)
{
	cmd_msg c = { .what = what };
	snprintf(c.topic, sizeof c.topic, "%s", topic);
	last_rc = -12345;
	if (act_test_send(t, ACT_NOBODY, to, &cmd_type, &c) || act_test_run(t) < 0)
		return -9999;
	return last_rc;
}

int main(void)
{
	tap_timeout(60);
	act_test_t *t = act_test_new();
	act_ref m[101];
	char name[16], args[16];

	act_test_add_behaviour(t, &perm_b);
	act_test_add_behaviour(t, &temp_b);
	for (int i = 0; i <= 100; i++) {
		snprintf(name, sizeof name, "m%d", i);
		snprintf(args, sizeof args, "%d", i);
		if (act_test_spawn(t, &member_b, name, args, &m[i]))
			bail("spawn %s", name);
	}
	act_test_run(t);

	/* join/leave idempotence */
	ok(cmd(t, m[1], "one", JOIN) == 0, "join: 0");
	ok(cmd(t, m[1], "one", JOIN) == 0, "join again: 0 (idempotent)");
	ok(cmd(t, m[0], "one", PUBLISH) == 1 && last_res.n_members == 1 && last_res.n_reached == 1 &&
	   last_res.n_refused == 0, "publish to a topic joined twice reaches its member once (%d)", last_rc);
	ok(got_news[1] == 1, "the member got it once (%d)", got_news[1]);
	ok(cmd(t, m[1], "one", LEAVE) == 0, "leave: 0");
	ok(cmd(t, m[1], "one", LEAVE) == 0, "leave again: 0 (idempotent)");
	ok(cmd(t, m[1], "never-joined", LEAVE) == 0, "leave a topic that does not exist: 0");
	ok(cmd(t, m[0], "one", PUBLISH) == 0 && last_res.n_members == 0,
	   "publish after the last member left reaches nobody");
	ok(cmd(t, m[0], "nobody-here", PUBLISH) == 0, "publish to an unknown topic: 0 reached");
	ok(got_news[1] == 1, "the member that left got nothing more");

	/* 1, 10, 100 members */
	memset(got_news, 0, sizeof got_news);
	cmd(t, m[1], "t1", JOIN);
	for (int i = 1; i <= 10; i++)
		cmd(t, m[i], "t10", JOIN);
	for (int i = 1; i <= 100; i++)
		cmd(t, m[i], "t100", JOIN);
	ok(cmd(t, m[0], "t1", PUBLISH) == 1, "publish to 1 member: 1 reached");
	ok(cmd(t, m[0], "t10", PUBLISH) == 10 && last_res.n_members == 10, "publish to 10 members: 10 reached");
	ok(cmd(t, m[0], "t100", PUBLISH) == 100 && last_res.n_reached == 100 && last_res.n_refused == 0,
	   "publish to 100 members: 100 reached (%d)", last_rc);
	int once = 1;
	for (int i = 1; i <= 100; i++)
		once &= got_news[i] == 1 + (i <= 10) + (i == 1);
	ok(once && got_news[0] == 0, "each member got each publication of its topics once");
	ok(cmd(t, m[5], "t10", PUBLISH) == 10 && got_news[5] == 3,
	   "a publishing member receives its own publication");

	/* bad names */
	char big[80];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ok(cmd(t, m[1], big, JOIN) == -EINVAL, "a 79-byte topic name: -EINVAL");
	big[63] = '\0';
	ok(cmd(t, m[1], big, JOIN) == 0, "a 63-byte topic name: 0");
	ok(cmd(t, m[1], "", JOIN) == -EINVAL, "an empty topic name: -EINVAL");
	ok(cmd(t, m[1], "a\nb", PUBLISH) == -EINVAL, "a topic name with a newline: -EINVAL");

	/* spawned members across a crash: the permanent one stays, the
	 * temporary one is gone */
	memset(got_news, 0, sizeof got_news);
	act_ref perm, temp;
	ok(cmd(t, m[50], "", SPAWN_PERM) == 0, "spawned a permanent member");
	perm = spawned;
	ok(cmd(t, m[50], "", SPAWN_TEMP) == 0, "spawned a temporary member");
	temp = spawned;
	(void)perm;
	(void)temp;
	ok(cmd(t, m[0], "news", PUBLISH) == 2 && got_news[200] == 1 && got_news[201] == 1,
	   "both spawned members joined (%d reached)", last_rc);
	ok(act_test_crash(t, m[50]) == 0 && act_test_run(t) >= 0, "crashed their group");
	ok(cmd(t, m[0], "news", PUBLISH) == 1 && last_res.n_members == 1,
	   "after the crash only the permanent member is reached (%d)", last_rc);
	ok(got_news[200] == 2 && got_news[201] == 1, "the re-created permanent member got it, "
	   "without joining again (%d %d)", got_news[200], got_news[201]);
	/* a static member crashed keeps its membership */
	ok(act_test_crash(t, m[7]) == 0 && act_test_run(t) >= 0, "crashed a static member's group");
	ok(cmd(t, m[0], "t10", PUBLISH) == 10, "the crashed static member is still reached");

	/* a stopped member leaves */
	cmd(t, m[3], "", STOP);
	ok(cmd(t, m[0], "t10", PUBLISH) == 9 && last_res.n_members == 9,
	   "a stopped static member left its topics (%d)", last_rc);

	/* limits */
	ok(cmd(t, m[60], "", JOIN_MANY) == -ENOSPC, "the 256-topic table fills: -ENOSPC");
	ok(cmd(t, m[0], "t100", PUBLISH) == 99, "publishing still works with the table full (%d)", last_rc);

	ok(act_test_dead_letters(t) == 0, "no dead letters (%zu)", act_test_dead_letters(t));
	act_test_free(t);
	return done_testing();
}
