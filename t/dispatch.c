/* SPDX-License-Identifier: MIT */
/*
 * t/dispatch.c - handler-table dispatch through whole nodes: Start once per
 * actor; a message with every field kind checked byte for byte across
 * processes and within a group; act_sender()/act_reply(); act_forward()
 * keeping the original sender; the error returns of act_lookup, act_send
 * and act_forward; a type without a handler (dead letter) and on_unhandled;
 * act_stop_self(); per-sender FIFO order of 10,000 messages inside a group
 * and across groups; and a full ring refusing with ACT_EFULL while the
 * receiver is blocked, after which exactly the accepted messages arrive.
 *
 * Workers are forked processes: everything they observe is written to the
 * shared area A and asserted here after act_node_run() returned.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_FIFO 10000
#define N_FULL_MAX 100000  /* the full-ring sender gives up after this many */
#define FULL_RETRIES 4     /* sends tried after the first ACT_EFULL */
#define SPIN_LIMIT_NS (10ull * 1000000000ull)
#define WATCHDOG_MS 15000  /* a node still running after this is stopped */

/* ---- message types ------------------------------------------------------- */

typedef struct {
	int64_t i64;
	double dbl;
	bool flag;
	char str[16];
	act_buf vstr;
	act_buf bytes;
	act_buf json;
	int32_t tag;
} rich_msg;
ACT_MESSAGE_TYPE(rich_type, rich_msg, "Rich",
                 ACT_FIELD(rich_msg, vstr, ACT_VSTR),
                 ACT_FIELD(rich_msg, bytes, ACT_BYTES),
                 ACT_FIELD(rich_msg, json, ACT_JSON),
                 ACT_FIELD(rich_msg, str, ACT_STR),
                 ACT_FIELD(rich_msg, dbl, ACT_DOUBLE),
                 ACT_FIELD(rich_msg, flag, ACT_BOOL),
                 ACT_FIELD(rich_msg, i64, ACT_I64),
                 ACT_FIELD(rich_msg, tag, ACT_I32));

typedef struct { int32_t v; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(pong_type, ping_msg, "Pong", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(stray_type, ping_msg, "Stray", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(note_type, ping_msg, "Note", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(done_type, ping_msg, "Done", ACT_FIELD(ping_msg, v, ACT_I32));
/* Built by hand and never declared: no node knows it. */
static const act_field unreg_fields[] = { ACT_FIELD(ping_msg, v, ACT_I32) };
static const act_type unreg_type = { "Unregistered", sizeof(ping_msg), _Alignof(ping_msg), unreg_fields, 1 };

typedef struct { int32_t src; int32_t pad; int64_t seq; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "Seq",
                 ACT_FIELD(seq_msg, src, ACT_I32), ACT_FIELD(seq_msg, seq, ACT_I64));

typedef struct { act_buf data; } blob_msg;
ACT_MESSAGE_TYPE(blob_type, blob_msg, "Blob", ACT_FIELD(blob_msg, data, ACT_VSTR));

/* ---- reference payloads (built before the node forks) -------------------- */

#define VSTR_LEN 777
#define BYTES_LEN 1500
static char vstr_data[VSTR_LEN + 1];
static unsigned char bytes_data[BYTES_LEN];
static const char json_text[] = "{\"a\":[1,2.5,-3],\"s\":\"caf\\u00e9\",\"n\":null,\"t\":true}";
static const char json_empty[] = "[]";
static const char str_value[] = "fifteen-chars!!";
static char big_data[70000];

static const double DBL_VALUE = -1.2345678901234567e-300;
static const int64_t I64_VALUE = INT64_MIN + 12345;

static void make_payloads(void)
{
	/* UTF-8 text: ASCII runs and two-byte sequences, no NUL. */
	static const char *pieces[] = { "h\xc3\xa9llo ", "w\xc3\xb6rld ", "0123456789 ", "\xe2\x82\xac " };
	size_t n = 0;
	for (unsigned i = 0; n < VSTR_LEN; i++) {
		const char *p = pieces[i % 4];
		for (size_t k = 0; p[k] && n < VSTR_LEN; k++)
			vstr_data[n++] = p[k];
	}
	vstr_data[VSTR_LEN] = '\0';
	for (unsigned i = 0; i < BYTES_LEN; i++)
		bytes_data[i] = (unsigned char)(i * 7u + 3u); /* every value, NULs included */
	memset(big_data, 'b', sizeof big_data);
}

/* Variant 0: full payloads; variant 1: empty VSTR and BYTES (NULL pointers). */
static rich_msg rich_make(int32_t tag, int variant)
{
	rich_msg m;
	memset(&m, 0, sizeof m);
	m.i64 = I64_VALUE;
	m.dbl = DBL_VALUE;
	m.flag = true;
	memcpy(m.str, str_value, sizeof str_value);
	if (variant == 0) {
		m.vstr.ptr = vstr_data;
		m.vstr.len = VSTR_LEN;
		m.bytes.ptr = bytes_data;
		m.bytes.len = BYTES_LEN;
		m.json.ptr = json_text;
		m.json.len = (uint32_t)strlen(json_text);
	} else {
		m.json.ptr = json_empty;
		m.json.len = (uint32_t)strlen(json_empty);
	}
	m.tag = tag;
	return m;
}

/* Returns 0 if m is exactly what rich_make(tag, variant) sent, else a bitmask. */
static int rich_check(const rich_msg *m, int32_t tag, int variant)
{
	int bad = 0;
	double want = DBL_VALUE;
	const char *js = variant == 0 ? json_text : json_empty;
	uint32_t vlen = variant == 0 ? VSTR_LEN : 0, blen = variant == 0 ? BYTES_LEN : 0;

	if (m->i64 != I64_VALUE) bad |= 1 << 0;
	if (memcmp(&m->dbl, &want, sizeof want)) bad |= 1 << 1;
	if (m->flag != true) bad |= 1 << 2;
	if (memcmp(m->str, str_value, sizeof str_value)) bad |= 1 << 3;
	if (m->vstr.len != vlen || !m->vstr.ptr ||
	    (vlen && memcmp(m->vstr.ptr, vstr_data, vlen)) ||
	    ((const char *)m->vstr.ptr)[vlen] != '\0')
		bad |= 1 << 4;
	if (m->bytes.len != blen || (blen && (!m->bytes.ptr ||
	                                      memcmp(m->bytes.ptr, bytes_data, blen))))
		bad |= 1 << 5;
	if (m->json.len != strlen(js) || !m->json.ptr || memcmp(m->json.ptr, js, strlen(js)) ||
	    ((const char *)m->json.ptr)[m->json.len] != '\0')
		bad |= 1 << 6;
	if (m->tag != tag) bad |= 1 << 7;
	/* The receiver must see the envelope's copy, never the sender's buffers. */
	if ((vlen && m->vstr.ptr == (const void *)vstr_data) ||
	    (blen && m->bytes.ptr == (const void *)bytes_data) || m->json.ptr == (const void *)js)
		bad |= 1 << 8;
	return bad;
}

/* ---- the shared area ------------------------------------------------------- */

#define N_START 6
#define N_TAGS 8
#define UNSET 0x7eadbeef

struct area {
	_Atomic int watchdog;
	/* start */
	_Atomic int starts[N_START], start_bad[N_START], start_pongs;
	/* types */
	_Atomic int rc_lookup, rc_bogus, rc_nobody, rc_unreg, rc_big, rc_reply_start,
	            rc_fwd_start, rc_fwd_bogus, rc_lookup_ok, rc_null_len,
	            rc_lookup_null;
	_Atomic int start_sender_nobody, names_ok;
	_Atomic int recv_bad[N_TAGS];       /* UNSET until received */
	_Atomic int reply_bad[N_TAGS];      /* UNSET until the reply came back */
	_Atomic int rc_send[N_TAGS], rc_fwd[N_TAGS], rc_reply[N_TAGS];
	_Atomic int n_replies;
	/* dead letters */
	_Atomic int pings, caught, caught_bad, unhandled_start, unhandled_other;
	/* stop_self */
	_Atomic int quitter_msgs, quitter_last, fini_runs, fini_send_rc, stopped;
	_Atomic int rc_send_after_stop, timeouts_before, timeouts_after, quitter_shutdowns;
	_Atomic int buddy_notes, buddy_done, buddy_shutdowns, rc_buddy_send;
	/* fifo */
	_Atomic int64_t next[2];
	_Atomic int order_err, wrong_src, fifo_efull[2], fifo_err;
	/* full ring */
	_Atomic int rc_first, rx_blocked, release, rx_gave_up, tx_gave_up, rc_blob;
	_Atomic int n_ok, n_efull, other_err, first_full, received;
	_Atomic unsigned char sent_ok[N_FULL_MAX], got[N_FULL_MAX];
};
static struct area *A;

static void area_reset(void)
{
	memset(A, 0, sizeof *A);
	for (int i = 0; i < N_TAGS; i++) {
		A->recv_bad[i] = A->reply_bad[i] = UNSET;
		A->rc_send[i] = A->rc_fwd[i] = A->rc_reply[i] = UNSET;
	}
	A->rc_lookup = A->rc_bogus = A->rc_nobody = A->rc_unreg = A->rc_big = UNSET;
	A->rc_reply_start = A->rc_fwd_start = A->rc_fwd_bogus = A->rc_lookup_ok = UNSET;
	A->rc_lookup_null = UNSET;
	A->rc_null_len = A->fini_send_rc = A->rc_send_after_stop = A->rc_buddy_send = UNSET;
	A->rc_first = A->rc_blob = A->first_full = UNSET;
}

static act_ref lookup(act_ctx *ctx, const char *name)
{
	act_ref r = ACT_NOBODY;
	act_lookup(ctx, name, &r);
	return r;
}

/*
 * The watchdog: an extra actor in every node that stops it if a scenario
 * got stuck, so that its assertions fail instead of the whole test timing
 * out.
 */
/* The shared watchdog of t/harness.h. */
#define watchdog_b harness_watchdog_b

/* Adds the watchdog to group, runs node n to completion with counters collected, frees it. */
static int run_node(act_node_t *n, int decl_err, const char *what, const char *group)
{
	if (!decl_err)
		decl_err = act_node_add_actor(n, group, "watchdog", &watchdog_b, NULL);
	if (decl_err)
		bail("%s: declaring the node failed: %s", what, act_strerror(decl_err));
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);
	if (A->watchdog)
		diag("%s: the watchdog stopped the node after %d ms", what, WATCHDOG_MS);
	return A->watchdog ? -ETIMEDOUT : rc;
}

/* ==== 1. Start: once per actor, restart=false, right actor and state ======= */

static const char *start_names[N_START] = { "s0", "s1", "s2", "s3", "s4", "s5" };

struct start_state { int idx; int inited; act_ref last; int pongs; };

static int start_init(act_ctx *ctx, void *st, const char *args)
{
	struct start_state *s = st;
	const char *p = args ? strstr(args, "\"idx\":") : NULL;
	if (!p || sscanf(p + 6, "%d", &s->idx) != 1 || s->idx < 0 || s->idx >= N_START)
		return -EINVAL;
	s->inited = 0xA5;
	return 0;
}

static void start_on_start(act_ctx *ctx, void *st, const void *m)
{
	struct start_state *s = st;
	const act_start *sm = m;
	int bad = 0;

	if (s->inited != 0xA5) bad |= 1;
	if (sm->restart || sm->n_restarts != 0 || sm->last_signal != 0 || sm->last_exit != -1)
		bad |= 2;
	if (strcmp(act_self_name(ctx), start_names[s->idx])) bad |= 4;
	if (!act_ref_eq(act_self(ctx), lookup(ctx, start_names[s->idx]))) bad |= 8;
	if (!act_ref_is_nobody(act_sender(ctx)) || act_msg_type(ctx) != &act_start_type ||
	    act_redelivered(ctx) != 0)
		bad |= 16;
	atomic_fetch_or(&A->start_bad[s->idx], bad);
	atomic_fetch_add(&A->starts[s->idx], 1);

	/* The last actor of the last group pings everyone (itself included),
	 * so Start had its chance to be delivered twice before we stop. */
	if (s->idx == N_START - 1)
		for (int i = 0; i < N_START; i++) {
			ping_msg p = { i };
			if (act_send(ctx, lookup(ctx, start_names[i]), &ping_type, &p))
				act_shutdown(ctx);
		}
}

static void start_on_ping(act_ctx *ctx, void *st, const void *m)
{
	const ping_msg *p = m;
	ping_msg r = { p->v };
	if (act_reply(ctx, &pong_type, &r))
		act_shutdown(ctx);
}

static void start_on_pong(act_ctx *ctx, void *st, const void *m)
{
	struct start_state *s = st;
	atomic_fetch_add(&A->start_pongs, 1);
	if (++s->pongs == N_START)
		act_shutdown(ctx);
}

static const act_handler start_h[] = {
	{ &act_start_type, start_on_start },
	{ &ping_type, start_on_ping },
	{ &pong_type, start_on_pong },
};
static const act_behaviour start_b = {
	.name = "starter", .state_size = sizeof(struct start_state), .init = start_init,
	.handlers = start_h, .n_handlers = 3,
};

static void test_start(void)
{
	static const char *groups[N_START] = { "g1", "g1", "g2", "g3", "g3", "g3" };
	char args[32];
	int err = 0;

	area_reset();
	act_node_t *n = act_node_new("start");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "g1");
	if (!err) err = act_node_add_group(n, "g2");
	if (!err) err = act_node_add_group(n, "g3");
	for (int i = 0; i < N_START && !err; i++) {
		snprintf(args, sizeof args, "{\"idx\":%d}", i);
		err = act_node_add_actor(n, groups[i], start_names[i], &start_b, args);
	}
	int rc = run_node(n, err, "start", "g3");
	ok(rc == 0, "start: node ran and stopped cleanly (rc %d)", rc);
	int once = 1, good = 1;
	for (int i = 0; i < N_START; i++) {
		if (A->starts[i] != 1) {
			once = 0;
			diag("actor %s got Start %d times", start_names[i], A->starts[i]);
		}
		if (A->start_bad[i]) {
			good = 0;
			diag("actor %s: Start check bits 0x%x", start_names[i], A->start_bad[i]);
		}
	}
	ok(once, "start: Start delivered exactly once to each of %d actors in 3 groups", N_START);
	ok(good, "start: restart=false, no restarts, init ran first, right actor and state");
	ok(A->start_pongs == N_START, "start: every actor then answered a Ping (%d)", A->start_pongs);
}

/* ==== 2. types, reply, forward, error returns ================================ */

/*
 * client (g1) sends Rich to far (g2) and near (g1), both echo it back with
 * act_reply; to relay (g2), which forwards to sink (g3) and sink2 (g2),
 * which check the sender is still client and reply to it.
 *   tag 1: far, full    tag 2: far, empty    tag 3: near, full (sender
 *   scribbles over its buffer after sending)   tag 4: near, empty
 *   tag 5: relay -> sink    tag 6: relay -> sink2
 */
#define N_RICH 6
static const int tag_variant[N_TAGS] = { 0, 0, 1, 0, 1, 0, 0, 0 };
static const char *tag_replier[N_TAGS] = { NULL, "far", "far", "near", "near", "sink", "sink2", NULL };

static void client_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref far = lookup(ctx, "far"), near = lookup(ctx, "near"), relay = lookup(ctx, "relay");
	act_ref out = ACT_NOBODY;
	ping_msg p = { 1 };

	A->rc_lookup = act_lookup(ctx, "no-such-actor", &out);
	A->rc_lookup_null = act_lookup(ctx, NULL, &out);
	A->rc_lookup_ok = act_lookup(ctx, "far", &out);
	A->names_ok = !strcmp(act_self_name(ctx), "client") &&
	              act_ref_name(ctx, far) && !strcmp(act_ref_name(ctx, far), "far") &&
	              act_ref_name(ctx, (act_ref){ 9999, 0, 0 }) == NULL &&
	              act_ref_eq(out, far) && !act_ref_eq(far, near);
	A->rc_bogus = act_send(ctx, (act_ref){ 9999, 0, 0 }, &ping_type, &p);
	A->rc_nobody = act_send(ctx, ACT_NOBODY, &ping_type, &p);
	A->rc_unreg = act_send(ctx, far, &unreg_type, &p);
	rich_msg big = rich_make(0, 0);
	big.vstr.ptr = big_data;
	big.vstr.len = sizeof big_data;
	A->rc_big = act_send(ctx, far, &rich_type, &big);
	/* A variable-length field with len but no data cannot be sent. */
	rich_msg nul = rich_make(0, 1);
	nul.bytes.len = 10;
	A->rc_null_len = act_send(ctx, far, &rich_type, &nul);
	A->rc_reply_start = act_reply(ctx, &ping_type, &p);
	A->rc_fwd_start = act_forward(ctx, far);
	A->start_sender_nobody = act_ref_is_nobody(act_sender(ctx));

	rich_msg r;
	r = rich_make(1, 0);
	A->rc_send[1] = act_send(ctx, far, &rich_type, &r);
	r = rich_make(2, 1);
	A->rc_send[2] = act_send(ctx, far, &rich_type, &r);

	/* Tag 3 from a private copy that is scribbled over right after the
	 * send: the runtime must have copied the data into the envelope. */
	char *copy = malloc(VSTR_LEN + 1);
	unsigned char *bcopy = malloc(BYTES_LEN);
	if (copy && bcopy) {
		memcpy(copy, vstr_data, VSTR_LEN + 1);
		memcpy(bcopy, bytes_data, BYTES_LEN);
		r = rich_make(3, 0);
		r.vstr.ptr = copy;
		r.bytes.ptr = bcopy;
		A->rc_send[3] = act_send(ctx, near, &rich_type, &r);
		memset(copy, 'X', VSTR_LEN);
		memset(bcopy, 0xee, BYTES_LEN);
	}
	free(copy);
	free(bcopy);
	r = rich_make(4, 1);
	A->rc_send[4] = act_send(ctx, near, &rich_type, &r);
	r = rich_make(5, 0);
	A->rc_send[5] = act_send(ctx, relay, &rich_type, &r);
	r = rich_make(6, 0);
	A->rc_send[6] = act_send(ctx, relay, &rich_type, &r);
}

static void client_rich(act_ctx *ctx, void *st, const void *m)
{
	const rich_msg *r = m;
	int32_t tag = r->tag - 100;

	if (tag < 1 || tag > N_RICH) {
		act_shutdown(ctx);
		return;
	}
	rich_msg want = *r;
	want.tag = tag; /* the reply carries tag + 100; check the rest as sent */
	int bad = rich_check(&want, tag, tag_variant[tag]);
	const char *from = act_ref_name(ctx, act_sender(ctx));
	if (!from || strcmp(from, tag_replier[tag]))
		bad |= 1 << 9;
	if (act_msg_type(ctx) != &rich_type)
		bad |= 1 << 10;
	A->reply_bad[tag] = bad;
	if (atomic_fetch_add(&A->n_replies, 1) + 1 == N_RICH)
		act_shutdown(ctx);
}

/* far, near, sink, sink2: check what came, then echo it back with tag + 100. */
static void echo_rich(act_ctx *ctx, void *st, const void *m)
{
	const rich_msg *r = m;
	int32_t tag = r->tag;

	if (tag < 1 || tag > N_RICH)
		return;
	int bad = rich_check(r, tag, tag_variant[tag]);
	const char *from = act_ref_name(ctx, act_sender(ctx));
	if (!from || strcmp(from, "client"))
		bad |= 1 << 9;
	if (act_msg_type(ctx) != &rich_type || act_redelivered(ctx) != 0)
		bad |= 1 << 10;
	if (strcmp(act_self_name(ctx), tag_replier[tag]))
		bad |= 1 << 11;
	A->recv_bad[tag] = bad;
	rich_msg back = *r;
	back.tag = tag + 100;
	A->rc_reply[tag] = act_reply(ctx, &rich_type, &back);
}

static void relay_rich(act_ctx *ctx, void *st, const void *m)
{
	const rich_msg *r = m;
	if (r->tag == 5) {
		A->rc_fwd_bogus = act_forward(ctx, (act_ref){ 9999, 0, 0 });
		A->rc_fwd[5] = act_forward(ctx, lookup(ctx, "sink"));
	} else if (r->tag == 6) {
		A->rc_fwd[6] = act_forward(ctx, lookup(ctx, "sink2"));
	}
}

static const act_handler client_h[] = {
	{ &act_start_type, client_start }, { &rich_type, client_rich },
};
static const act_handler echo_h[] = { { &rich_type, echo_rich } };
static const act_handler relay_h[] = { { &rich_type, relay_rich } };
static const act_behaviour client_b = { .name = "client", .handlers = client_h, .n_handlers = 2 };
static const act_behaviour echo_b = { .name = "echo", .handlers = echo_h, .n_handlers = 1 };
static const act_behaviour relay_b = { .name = "relay", .handlers = relay_h, .n_handlers = 1 };

static void test_types(void)
{
	int err;

	area_reset();
	act_node_t *n = act_node_new("types");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "g1");
	if (!err) err = act_node_add_group(n, "g2");
	if (!err) err = act_node_add_group(n, "g3");
	if (!err) err = act_node_add_actor(n, "g1", "client", &client_b, NULL);
	if (!err) err = act_node_add_actor(n, "g1", "near", &echo_b, NULL);
	if (!err) err = act_node_add_actor(n, "g2", "far", &echo_b, NULL);
	if (!err) err = act_node_add_actor(n, "g2", "relay", &relay_b, NULL);
	if (!err) err = act_node_add_actor(n, "g2", "sink2", &echo_b, NULL);
	if (!err) err = act_node_add_actor(n, "g3", "sink", &echo_b, NULL);
	if (!err) err = act_node_add_type(n, &ping_type);
	int rc = run_node(n, err, "types", "g3");
	ok(rc == 0, "types: node ran and stopped cleanly (rc %d)", rc);

	ok(A->rc_lookup == -ENOENT && A->rc_lookup_null == -ENOENT,
	   "act_lookup of an unknown name (or NULL) is -ENOENT (%d, %d)", A->rc_lookup,
	   A->rc_lookup_null);
	ok(A->rc_lookup_ok == 0 && A->names_ok,
	   "act_lookup, act_self_name and act_ref_name agree (unknown ref -> NULL)");
	ok(A->rc_bogus == -ENOENT, "act_send to a bogus ref is -ENOENT (%d)", A->rc_bogus);
	ok(A->rc_nobody == -ENOENT, "act_send to ACT_NOBODY is -ENOENT (%d)", A->rc_nobody);
	ok(A->rc_unreg == -EINVAL, "act_send of an unregistered type is -EINVAL (%d)", A->rc_unreg);
	ok(A->rc_big == -EMSGSIZE, "act_send of a 70,000-byte message is -EMSGSIZE (%d)", A->rc_big);
	ok(A->rc_null_len < 0, "act_send of a field with len but a NULL pointer fails (%d)",
	   A->rc_null_len);
	ok(A->rc_reply_start == -ENOENT, "act_reply in Start (no sender) is -ENOENT (%d)",
	   A->rc_reply_start);
	ok(A->rc_fwd_start == -EINVAL, "act_forward outside a message is -EINVAL (%d)",
	   A->rc_fwd_start);
	ok(A->start_sender_nobody, "act_sender() in Start is ACT_NOBODY");

	int sends = 1;
	for (int t = 1; t <= N_RICH; t++)
		sends &= A->rc_send[t] == 0;
	ok(sends, "all six Rich sends returned 0");
	ok(A->recv_bad[1] == 0, "cross-group: all field kinds arrive byte for byte (0x%x)",
	   A->recv_bad[1]);
	ok(A->recv_bad[2] == 0, "cross-group: empty VSTR/BYTES arrive as len 0, VSTR as \"\" (0x%x)",
	   A->recv_bad[2]);
	ok(A->recv_bad[3] == 0,
	   "same group: fields arrive byte for byte though the sender scribbled its buffers (0x%x)",
	   A->recv_bad[3]);
	ok(A->recv_bad[4] == 0, "same group: empty fields arrive intact (0x%x)", A->recv_bad[4]);
	ok(A->rc_fwd[5] == 0 && A->recv_bad[5] == 0,
	   "act_forward across groups keeps the payload and the original sender (rc %d, 0x%x)",
	   A->rc_fwd[5], A->recv_bad[5]);
	ok(A->rc_fwd[6] == 0 && A->recv_bad[6] == 0,
	   "act_forward within a group keeps the payload and the original sender (rc %d, 0x%x)",
	   A->rc_fwd[6], A->recv_bad[6]);
	ok(A->rc_fwd_bogus == -ENOENT, "act_forward to a bogus ref is -ENOENT (%d)", A->rc_fwd_bogus);
	int replies = 1, rcs = 1;
	for (int t = 1; t <= N_RICH; t++) {
		replies &= A->reply_bad[t] == 0;
		rcs &= A->rc_reply[t] == 0;
		if (A->reply_bad[t])
			diag("reply for tag %d: 0x%x", t, A->reply_bad[t]);
	}
	ok(rcs && replies && A->n_replies == N_RICH,
	   "act_reply reaches the (original) sender, from the replier, intact (%d replies)",
	   A->n_replies);
	uint64_t dl = 0, ut = 0, co = 0;
	for (uint32_t i = 0; i < n_counted; i++) {
		dl += counters[i].dead_letters;
		ut += counters[i].unknown_type;
		co += counters[i].corrupt;
	}
	ok(n_counted == 4 && dl == 0 && ut == 0 && co == 0,
	   "types: no dead letters, unknown types or corrupt envelopes (%llu/%llu/%llu)",
	   (unsigned long long)dl, (unsigned long long)ut, (unsigned long long)co);
}

/* ==== 3. no handler: dead letter; on_unhandled gets it instead ============== */

#define N_STRAY 5

static void dl_sender_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref plain = lookup(ctx, "plain"), catcher = lookup(ctx, "catcher");
	for (int i = 0; i < N_STRAY; i++) {
		ping_msg s = { i };
		if (act_send(ctx, plain, &stray_type, &s) || act_send(ctx, catcher, &stray_type, &s))
			act_shutdown(ctx);
	}
	/* Same rings, so each Ping arrives after the strays. */
	ping_msg p = { 0 };
	if (act_send(ctx, plain, &ping_type, &p) || act_send(ctx, catcher, &ping_type, &p))
		act_shutdown(ctx);
}

static void dl_on_ping(act_ctx *ctx, void *st, const void *m)
{
	if (atomic_fetch_add(&A->pings, 1) + 1 == 2)
		act_shutdown(ctx);
}

static void catcher_unhandled(act_ctx *ctx, void *st, const void *m)
{
	const act_type *t = act_msg_type(ctx);
	if (t == &stray_type) {
		const ping_msg *s = m;
		int k = atomic_fetch_add(&A->caught, 1);
		const char *from = act_ref_name(ctx, act_sender(ctx));
		if (s->v != k || !from || strcmp(from, "sender"))
			atomic_fetch_add(&A->caught_bad, 1);
	} else if (t == &act_start_type) {
		atomic_fetch_add(&A->unhandled_start, 1);
	} else if (t != &act_shutdown_type) {
		atomic_fetch_add(&A->unhandled_other, 1);
	}
}

static const act_handler dl_sender_h[] = { { &act_start_type, dl_sender_start } };
static const act_handler dl_ping_h[] = { { &ping_type, dl_on_ping } };
static const act_behaviour dl_sender_b = { .name = "sender", .handlers = dl_sender_h, .n_handlers = 1 };
static const act_behaviour plain_b = { .name = "plain", .handlers = dl_ping_h, .n_handlers = 1 };
static const act_behaviour catcher_b = {
	.name = "catcher", .handlers = dl_ping_h, .n_handlers = 1, .on_unhandled = catcher_unhandled,
};

static void test_dead_letters(void)
{
	int err;

	area_reset();
	act_node_t *n = act_node_new("dead");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "a");
	if (!err) err = act_node_add_group(n, "b");
	if (!err) err = act_node_add_group(n, "c");
	if (!err) err = act_node_add_actor(n, "a", "sender", &dl_sender_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "plain", &plain_b, NULL);
	if (!err) err = act_node_add_actor(n, "c", "catcher", &catcher_b, NULL);
	if (!err) err = act_node_add_type(n, &stray_type);
	int rc = run_node(n, err, "dead", "c");
	ok(rc == 0, "dead: node ran and stopped cleanly (rc %d)", rc);
	ok(A->pings == 2, "dead: both receivers still handle their own type (%d)", A->pings);
	ok(n_counted == 4 && counters[2].unknown_type == N_STRAY && counters[2].dead_letters == N_STRAY,
	   "a type with no handler is a dead letter: unknown_type %llu, dead_letters %llu (want %d)",
	   (unsigned long long)counters[2].unknown_type,
	   (unsigned long long)counters[2].dead_letters, N_STRAY);
	ok(A->caught == N_STRAY && A->caught_bad == 0,
	   "on_unhandled receives those messages instead, in order, with sender and type (%d)",
	   A->caught);
	ok(counters[3].unknown_type == 0 && counters[3].dead_letters == 0,
	   "with on_unhandled nothing is dead-lettered (%llu/%llu)",
	   (unsigned long long)counters[3].unknown_type, (unsigned long long)counters[3].dead_letters);
	ok(A->unhandled_other == 0, "on_unhandled got nothing unexpected");
	diag("on_unhandled also received Start %d time(s) (no Start handler)", A->unhandled_start);
	ok(counters[1].dead_letters == 0 && counters[1].unknown_type == 0,
	   "the sender's group counted nothing");
}

/* ==== 4. act_stop_self ======================================================== */

static void quitter_start(act_ctx *ctx, void *st, const void *m)
{
	if (act_timer_periodic(ctx, 1, 9))
		act_shutdown(ctx);
}

static void quitter_msg(act_ctx *ctx, void *st, const void *m)
{
	const ping_msg *p = m;
	atomic_fetch_add(&A->quitter_msgs, 1);
	A->quitter_last = p->v;
	act_stop_self(ctx);
	/* Still running until this handler returns. */
	ping_msg note = { 1 };
	A->rc_send_after_stop = act_send(ctx, lookup(ctx, "buddy"), &note_type, &note);
}

static void quitter_timeout(act_ctx *ctx, void *st, const void *m)
{
	if (A->stopped)
		atomic_fetch_add(&A->timeouts_after, 1);
	else
		atomic_fetch_add(&A->timeouts_before, 1);
}

static void quitter_shutdown(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->quitter_shutdowns, 1);
}

static void quitter_fini(act_ctx *ctx, void *st)
{
	ping_msg note = { 2 };
	atomic_fetch_add(&A->fini_runs, 1);
	A->fini_send_rc = act_send(ctx, lookup(ctx, "buddy"), &note_type, &note);
	A->stopped = 1;
}

static void stop_sender_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref q = lookup(ctx, "quitter");
	for (int i = 1; i <= 4; i++) {
		ping_msg p = { i };
		if (act_send(ctx, q, &ping_type, &p))
			act_shutdown(ctx);
	}
	ping_msg d = { 0 };
	if (act_send(ctx, lookup(ctx, "buddy"), &done_type, &d))
		act_shutdown(ctx);
}

static void buddy_note(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->buddy_notes, 1);
}

static void buddy_done(act_ctx *ctx, void *st, const void *m)
{
	ping_msg p = { 5 };
	A->buddy_done = 1;
	/* The send itself succeeds; the message dies at delivery. */
	A->rc_buddy_send = act_send(ctx, lookup(ctx, "quitter"), &ping_type, &p);
	/* Give the stopped actor's 1 ms periodic timer ample chances to fire. */
	if (act_timer_once(ctx, 50, 1))
		act_shutdown(ctx);
}

static void buddy_timeout(act_ctx *ctx, void *st, const void *m)
{
	act_shutdown(ctx);
}

static void buddy_shutdown(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->buddy_shutdowns, 1);
}

static const act_handler quitter_h[] = {
	{ &act_start_type, quitter_start }, { &ping_type, quitter_msg },
	{ &act_timeout_type, quitter_timeout }, { &act_shutdown_type, quitter_shutdown },
};
static const act_handler buddy_h[] = {
	{ &note_type, buddy_note }, { &done_type, buddy_done },
	{ &act_timeout_type, buddy_timeout }, { &act_shutdown_type, buddy_shutdown },
};
static const act_handler stop_sender_h[] = { { &act_start_type, stop_sender_start } };
static const act_behaviour quitter_b = {
	.name = "quitter", .fini = quitter_fini, .handlers = quitter_h, .n_handlers = 4,
};
static const act_behaviour buddy_b = { .name = "buddy", .handlers = buddy_h, .n_handlers = 4 };
static const act_behaviour stop_sender_b = {
	.name = "stop-sender", .handlers = stop_sender_h, .n_handlers = 1,
};

static void test_stop_self(void)
{
	int err;

	area_reset();
	act_node_t *n = act_node_new("stop");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "a");
	if (!err) err = act_node_add_group(n, "b");
	if (!err) err = act_node_add_actor(n, "a", "sender", &stop_sender_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "quitter", &quitter_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "buddy", &buddy_b, NULL);
	int rc = run_node(n, err, "stop", "a");
	ok(rc == 0, "stop: node ran and stopped cleanly (rc %d)", rc);
	ok(A->quitter_msgs == 1 && A->quitter_last == 1,
	   "act_stop_self: the actor handled only the message that stopped it (%d)",
	   A->quitter_msgs);
	ok(A->rc_send_after_stop == 0,
	   "act_stop_self: the actor may still send until its handler returns (%d)",
	   A->rc_send_after_stop);
	ok(A->fini_runs == 1, "act_stop_self: fini ran exactly once (%d)", A->fini_runs);
	ok(A->fini_send_rc == ACT_ESTOPPED, "act_send from fini is ACT_ESTOPPED (%d)",
	   A->fini_send_rc);
	ok(A->buddy_done && A->rc_buddy_send == 0 && counters[2].dead_letters == 4,
	   "later messages to it (3 from another group, 1 from its own) are dead letters (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	ok(counters[2].unknown_type == 0, "those are not counted as unknown types");
	ok(A->timeouts_after == 0, "its periodic timer never fired after the stop (%d before)",
	   A->timeouts_before);
	ok(A->quitter_shutdowns == 0 && A->buddy_shutdowns == 1,
	   "Shutdown went to the live actor only (%d/%d)", A->quitter_shutdowns, A->buddy_shutdowns);
	ok(A->buddy_notes == 1, "the note sent before the handler returned arrived (%d)",
	   A->buddy_notes);
}

/* ==== 5. per-sender FIFO, within a group and across groups ================== */

struct pump_state { act_ref to; int32_t src; int64_t next; };

static void pump(act_ctx *ctx, struct pump_state *s)
{
	while (s->next < N_FIFO) {
		seq_msg m = { s->src, 0, s->next };
		int err = act_send(ctx, s->to, &seq_type, &m);
		if (err == ACT_EFULL) {
			atomic_fetch_add(&A->fifo_efull[s->src], 1);
			if (act_timer_once(ctx, 1, 1)) /* resume once the receiver drained */
				act_shutdown(ctx);
			return;
		}
		if (err) {
			atomic_fetch_add(&A->fifo_err, 1);
			act_shutdown(ctx);
			return;
		}
		s->next++;
	}
}

static void pump_start(act_ctx *ctx, void *st, const void *m)
{
	struct pump_state *s = st;
	s->to = lookup(ctx, "recv");
	s->src = !strcmp(act_self_name(ctx), "far-sender");
	pump(ctx, s);
}

static void pump_timeout(act_ctx *ctx, void *st, const void *m)
{
	pump(ctx, st);
}

struct recv_state { act_ref from[2]; };

static void recv_start(act_ctx *ctx, void *st, const void *m)
{
	struct recv_state *s = st;
	s->from[0] = lookup(ctx, "near-sender");
	s->from[1] = lookup(ctx, "far-sender");
}

static void recv_seq(act_ctx *ctx, void *st, const void *m)
{
	struct recv_state *s = st;
	const seq_msg *q = m;
	act_ref from = act_sender(ctx);
	int src = act_ref_eq(from, s->from[0]) ? 0 : act_ref_eq(from, s->from[1]) ? 1 : -1;

	if (src < 0 || src != q->src) {
		atomic_fetch_add(&A->wrong_src, 1);
		return;
	}
	if (q->seq != A->next[src])
		atomic_fetch_add(&A->order_err, 1);
	A->next[src] = q->seq + 1;
	if (A->next[0] == N_FIFO && A->next[1] == N_FIFO)
		act_shutdown(ctx);
}

static const act_handler pump_h[] = {
	{ &act_start_type, pump_start }, { &act_timeout_type, pump_timeout },
};
static const act_handler recv_h[] = { { &act_start_type, recv_start }, { &seq_type, recv_seq } };
static const act_behaviour pump_b = {
	.name = "pump", .state_size = sizeof(struct pump_state), .handlers = pump_h, .n_handlers = 2,
};
static const act_behaviour recv_b = {
	.name = "recv", .state_size = sizeof(struct recv_state), .handlers = recv_h, .n_handlers = 2,
};

static void test_fifo(void)
{
	int err;

	area_reset();
	act_node_t *n = act_node_new("fifo");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "a");
	if (!err) err = act_node_add_group(n, "b");
	if (!err) err = act_node_add_actor(n, "a", "recv", &recv_b, NULL);
	if (!err) err = act_node_add_actor(n, "a", "near-sender", &pump_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "far-sender", &pump_b, NULL);
	int rc = run_node(n, err, "fifo", "b");
	ok(rc == 0, "fifo: node ran and stopped cleanly (rc %d)", rc);
	ok(A->next[0] == N_FIFO && A->next[1] == N_FIFO && A->fifo_err == 0,
	   "fifo: %d messages from each sender arrived (%lld same group, %lld other group)",
	   N_FIFO, (long long)A->next[0], (long long)A->next[1]);
	ok(A->order_err == 0 && A->wrong_src == 0,
	   "fifo: per-sender order kept, interleaved senders told apart (%d errors, %d wrong)",
	   A->order_err, A->wrong_src);
	ok(A->fifo_efull[0] > 0,
	   "fifo: the same-group sender filled the ring and resumed after ACT_EFULL (%d times)",
	   A->fifo_efull[0]);
	diag("fifo: the other-group sender saw ACT_EFULL %d times", A->fifo_efull[1]);
	ok(counters[1].dead_letters == 0 && counters[1].corrupt == 0, "fifo: nothing lost");
}

/* ==== 6. a full ring: ACT_EFULL, then exactly the accepted messages ========= */

static uint64_t ring_sent, ring_refused_full, ring_refused_size;

static void inspect_rings(struct act_node *n)
{
	act__ring_h h;
	harness_inspect(n);
	/* Participant 2 (tx) -> participant 1 (rx). */
	if (act__shm_ring(&n->shm, 2, 1, &h) == 0) {
		ring_sent = atomic_load(&h.r->n_sent);
		ring_refused_full = atomic_load(&h.r->n_refused_full);
		ring_refused_size = atomic_load(&h.r->n_refused_size);
	}
}

static void tx_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref rx = lookup(ctx, "rx");

	/* Larger than max_msg (a quarter of the 4 KiB ring) even when empty. */
	blob_msg b = { { big_data, 2000, 0 } };
	A->rc_blob = act_send(ctx, rx, &blob_type, &b);

	seq_msg q = { 0, 0, 0 };
	A->rc_first = act_send(ctx, rx, &seq_type, &q);
	if (A->rc_first == 0)
		A->sent_ok[0] = 1;
	/* Envelopes a handler sends are signalled to their receiver when the
	 * handler returns: fill the ring from the next message. */
	ping_msg k = { 0 };
	act_send(ctx, act_self(ctx), &note_type, &k);
}

static void tx_fill(act_ctx *ctx, void *st, const void *m)
{
	act_ref rx = lookup(ctx, "rx");
	int n_ok = A->rc_first == 0, n_full = 0;
	int64_t i;
	seq_msg q = { 0, 0, 0 };

	/* Wait until rx holds seq 0 in its handler: from now on it releases
	 * nothing, so the ring must fill. */
	uint64_t deadline = act_now_ns() + SPIN_LIMIT_NS;
	while (!atomic_load(&A->rx_blocked))
		if (act_now_ns() > deadline) {
			A->tx_gave_up = 1;
			break;
		}
	for (i = 1; i < N_FULL_MAX; i++) {
		q.seq = i;
		int err = act_send(ctx, rx, &seq_type, &q);
		if (err == 0) {
			A->sent_ok[i] = 1;
			n_ok++;
			if (n_full)
				break; /* accepted after a refusal: wrong, stop here */
		} else if (err == ACT_EFULL) {
			if (n_full++ == 0)
				A->first_full = (int)i;
			if (n_full == 1 + FULL_RETRIES)
				break;
		} else {
			A->other_err = err;
			break;
		}
	}
	A->n_ok = n_ok;
	A->n_efull = n_full;
	atomic_store(&A->release, 1);
	if (n_full == 0 || A->other_err)
		act_shutdown(ctx);
}

static void rx_seq(act_ctx *ctx, void *st, const void *m)
{
	const seq_msg *q = m;

	if (!atomic_exchange(&A->rx_blocked, 1)) {
		uint64_t deadline = act_now_ns() + SPIN_LIMIT_NS;
		while (!atomic_load(&A->release))
			if (act_now_ns() > deadline) {
				A->rx_gave_up = 1;
				break;
			}
	}
	if (q->seq >= 0 && q->seq < N_FULL_MAX)
		A->got[q->seq]++;
	if (atomic_fetch_add(&A->received, 1) + 1 == A->n_ok)
		act_shutdown(ctx);
}

static void rx_blob(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->received, 1000000);
}

static const act_handler tx_h[] = { { &act_start_type, tx_start }, { &note_type, tx_fill } };
static const act_handler rx_h[] = { { &seq_type, rx_seq }, { &blob_type, rx_blob } };
static const act_behaviour tx_b = { .name = "tx", .handlers = tx_h, .n_handlers = 2 };
static const act_behaviour rx_b = { .name = "rx", .handlers = rx_h, .n_handlers = 2 };

static void test_full_ring(void)
{
	int err;

	area_reset();
	ring_sent = ring_refused_full = ring_refused_size = 0;
	act_node_t *n = act_node_new("full");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "rxg");
	if (!err) err = act_node_add_group(n, "txg");
	if (!err) err = act_node_add_actor(n, "rxg", "rx", &rx_b, NULL);
	if (!err) err = act_node_add_actor(n, "txg", "tx", &tx_b, NULL);
	if (!err) err = act_node_set_ring_bytes(n, "rxg", 4096);
	if (!err) err = act_node_add_actor(n, "txg", "watchdog", &watchdog_b, NULL);
	if (err)
		bail("full: declaring the node failed: %s", act_strerror(err));
	harness_collect_counters();
	act__node_inspect_hook = inspect_rings;
	int rc = act_node_run(n);
	act_node_free(n);
	if (A->watchdog) {
		diag("full: the watchdog stopped the node after %d ms", WATCHDOG_MS);
		rc = -ETIMEDOUT;
	}

	ok(rc == 0, "full: node ran and stopped cleanly (rc %d)", rc);
	ok(A->rc_blob == -EMSGSIZE, "full: a message over the group's max_msg is -EMSGSIZE (%d)",
	   A->rc_blob);
	ok(A->rc_first == 0 && A->rx_blocked && !A->tx_gave_up && !A->rx_gave_up,
	   "full: the receiver blocked in its first handler");
	ok(A->n_efull == 1 + FULL_RETRIES && A->other_err == 0 && A->n_ok > 10,
	   "full: sends returned 0 until the ring filled, then ACT_EFULL every time "
	   "(%d accepted, first refusal at %d, %d refusals)", A->n_ok, A->first_full, A->n_efull);
	int prefix = A->first_full == A->n_ok;
	for (int i = 0; i < N_FULL_MAX; i++)
		if (A->sent_ok[i] != (i < A->n_ok))
			prefix = 0;
	ok(prefix, "full: exactly the messages before the first refusal were accepted");
	int exact = 1, missing = 0, extra = 0;
	for (int i = 0; i < N_FULL_MAX; i++) {
		if (A->sent_ok[i] && A->got[i] != 1) {
			exact = 0;
			missing++;
		}
		if (!A->sent_ok[i] && A->got[i]) {
			exact = 0;
			extra++;
		}
	}
	ok(exact && A->received == A->n_ok,
	   "full: every accepted message arrived once, no refused one did (%d received, "
	   "%d missing, %d extra)", A->received, missing, extra);
	ok(ring_refused_full == (uint64_t)A->n_efull && ring_sent == (uint64_t)A->n_ok &&
	   ring_refused_size == 1,
	   "full: the ring counted %llu sent, %llu refused full, %llu refused for size",
	   (unsigned long long)ring_sent, (unsigned long long)ring_refused_full,
	   (unsigned long long)ring_refused_size);
	ok(counters[1].dead_letters == 0 && counters[1].corrupt == 0,
	   "full: no dead letters at the receiver");
}

int main(void)
{
	tap_timeout(120);
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_payloads();
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = WATCHDOG_MS;
	test_start();
	test_types();
	test_dead_letters();
	test_stop_self();
	test_fifo();
	test_full_ring();
	return done_testing();
}
