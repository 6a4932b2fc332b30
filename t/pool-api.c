/* SPDX-License-Identifier: MIT */
/*
 * t/pool-api.c - act_node_set_pool() and act_node_set_pool_routing():
 * their errors, and how a registry's pools become member groups
 * (act__pool_expand()): names, order, renumbered actors, settings copied.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <actors.h>

#include "../src/pool.h"
#include "../src/registry.h"
#include "../supervisor/node.h"
#include "tap.h"

static void on_ping(act_ctx *ctx, void *st, const void *m) { (void)ctx; (void)st; (void)m; }
typedef struct { char key[16]; int64_t n; } job_t;
ACT_MESSAGE_TYPE(job_type, job_t, "PoolApiJob", ACT_FIELD(job_t, key, ACT_STR),
                 ACT_FIELD(job_t, n, ACT_I64));
static const act_handler h[] = { { &job_type, on_ping } };
static const act_behaviour b = { .name = "b", .handlers = h, .n_handlers = 1 };

int main(void)
{
	char why[160] = "";
	tap_timeout(30);

	act_node_t *n = act_node_new("p");
	ok(n && act_node_add_group(n, "a") == 0 && act_node_add_group(n, "w") == 0 &&
	   act_node_add_group(n, "z") == 0, "three groups");
	ok(act_node_add_actor(n, "a", "a1", &b, NULL) == 0 &&
	   act_node_add_actor(n, "w", "w1", &b, NULL) == 0 &&
	   act_node_add_actor(n, "w", "w2", &b, "{\"x\":1}") == 0 &&
	   act_node_add_actor(n, "z", "z1", &b, NULL) == 0, "actors in each");
	ok(act_node_set_pool(n, "nope", 2) == -ENOENT, "pool of an unknown group: -ENOENT");
	ok(act_node_set_pool(n, "w", 0) == -EINVAL, "pool 0: -EINVAL");
	ok(act_node_set_pool(n, "w", ACT_POOL_MAX + 1) == -EINVAL, "pool over ACT_POOL_MAX: -EINVAL");
	ok(act_node_set_pool_routing(n, "w", ACT_POOL_KEY_HASH, NULL) == -EINVAL,
	   "key_hash without a key: -EINVAL");
	ok(act_node_set_pool_routing(n, "w", ACT_POOL_ROUND_ROBIN, "key") == -EINVAL,
	   "a key with round_robin: -EINVAL");
	ok(act_node_set_pool_routing(n, "w", (act_pool_routing)7, NULL) == -EINVAL,
	   "unknown routing: -EINVAL");
	ok(act_node_set_pool(n, "w", 3) == 0 &&
	   act_node_set_pool_routing(n, "w", ACT_POOL_KEY_HASH, "key") == 0 &&
	   act_node_set_ring_bytes(n, "w", 8192) == 0, "pool w of 3 members, key_hash on key");

	struct act__registry *r = &n->reg;
	ok(act__pool_expand(r, why, sizeof why) == 0, "expanded (%s)", why);
	ok(r->n_groups == 5, "five groups now (%u)", r->n_groups);
	const char *want[] = { "a", "w#0", "w#1", "w#2", "z" };
	int names_ok = 1;
	for (unsigned i = 0; i < 5 && r->n_groups == 5; i++)
		names_ok &= !strcmp(r->groups[i].name, want[i]) && r->groups[i].index == i + 1;
	ok(names_ok, "members in place of the pool, in order, indices renumbered");
	ok(r->actors[0].group == 1 && r->actors[1].group == 2 && r->actors[2].group == 2 &&
	   r->actors[3].group == 5, "actors: the pool's name member 0; z1 follows z to 5");
	int same = 1;
	for (unsigned k = 0; k < 3; k++) {
		const struct act__group_def *m = &r->groups[1 + k];
		same &= m->n_actors == 2 && m->actors[0] == 1 && m->actors[1] == 2 &&
		        m->pool_first == 2 && m->pool_member == k && m->pool_n == 3 &&
		        m->ring_bytes == 8192 && m->pool_routing == ACT_POOL_KEY_HASH &&
		        m->pool_key && !strcmp(m->pool_key, "key") && !strcmp(m->pool_name, "w");
	}
	ok(same, "every member hosts w1 and w2 and carries the pool's settings");
	ok(!r->groups[0].pool_first && !r->groups[4].pool_first, "a and z are no pool");
	ok(act__pool_find(r, "w") == &r->groups[1] && !act__pool_find(r, "a") &&
	   !act__pool_find(r, "w#1"), "act__pool_find() by the pool's name only");
	ok(act__pool_expand(r, why, sizeof why) == 0 && r->n_groups == 5,
	   "a second expansion changes nothing");

	/* Keys: the same text whatever the form. */
	job_t j1 = { "abc", 1 }, j2 = { "abc", 2 };
	uint64_t h1 = 0, h2 = 0, hj = 0;
	ok(act__pool_key_hash(&job_type, &j1, "key", &h1) &&
	   act__pool_key_hash(&job_type, &j2, "key", &h2) && h1 == h2,
	   "a string key hashes alike in two messages");
	ok(act__pool_key_hash_json("{\"key\":\"abc\",\"n\":5}", 19, "key", &hj) && hj == h1,
	   "the same key as JSON hashes alike");
	ok(act__pool_key_hash(&job_type, &j1, "n", &h1) &&
	   act__pool_key_hash_json("{\"n\":1}", 7, "n", &hj) && h1 == hj,
	   "an integer key hashes alike as C and as JSON");
	ok(!act__pool_key_hash(&job_type, &j1, "nope", &h1) &&
	   !act__pool_key_hash_json("{\"n\":1.5}", 9, "n", &hj) &&
	   !act__pool_key_hash_json("[1]", 3, "n", &hj), "no such field, or no usable value: no key");
	act_node_free(n);

	/* Too many groups, and a taken member name. */
	n = act_node_new("q");
	int err = 0;
	for (int i = 0; i < 5 && !err; i++) {
		char g[8];
		snprintf(g, sizeof g, "g%d", i);
		err = act_node_add_group(n, g) || act_node_set_pool(n, g, ACT_POOL_MAX);
	}
	ok(!err, "five pools of %u", ACT_POOL_MAX);
	ok(act__pool_expand(&n->reg, why, sizeof why) == -ENOSPC && strstr(why, "255"),
	   "expansion beyond 255 groups: -ENOSPC (%s)", why);
	act_node_free(n);
	n = act_node_new("r");
	ok(act_node_add_group(n, "w") == 0 && act_node_add_group(n, "w#1") == 0 &&
	   act_node_set_pool(n, "w", 2) == 0 &&
	   act__pool_expand(&n->reg, why, sizeof why) == -EEXIST,
	   "a group named like a member: -EEXIST (%s)", why);
	act_node_free(n);
	return done_testing();
}
