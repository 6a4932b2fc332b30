/* SPDX-License-Identifier: MIT */
/*
 * examples/thumbnail - a pool of workers parsing untrusted input, with a
 * parser that crashes on some of it.
 *
 * This is the reason people want process isolation: a decoder with a bug
 * that a crafted input turns into a segfault.  Here the "images" are text,
 * "P<w>x<h>:" followed by w*h hex digits (the pixels), and the parser has a
 * deliberate bug: an image whose header says "P<w>x<h>!" (a palette image)
 * makes it follow a palette pointer that was never set - a NULL
 * dereference, SIGSEGV.  Run as a pool (thumbnail.json: "pool": 4), such an
 * input kills one member, which is restarted alone while the others keep
 * working; the input is redelivered to it and, after max_redeliveries
 * crashes, moved to the dead letters (actorsctl dead-letters).
 *
 * Behaviours:
 *   thumbnailer  Image{id, data} -> Thumb{id, w, h, sum, member} to
 *                args.sink: the image scaled down 2x2 -> 1 (sum = the sum
 *                of the thumbnail's pixels); a malformed image gets
 *                Thumb{id, w = -1} (refused, no crash).
 *   loadgen      on Start sends args.count Images to args.to, every
 *                args.poison_every-th one (0: none) a palette image,
 *                backing off 1 ms whenever the pool's rings are full.
 *   collector    counts Thumbs; Stats{} (ask) -> StatsReply{done, refused,
 *                duplicates, elapsed_ms, per_second, by_member (JSON)}.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include <actors.h>

#define MAX_SIDE 64
#define MAX_IDS  (1u << 20)

typedef struct { int64_t id; act_buf data; } image_t;
typedef struct { int64_t id; int32_t w, h; int64_t sum; int32_t member; } thumb_t;
typedef struct { int32_t unused; } stats_t;
typedef struct {
	int64_t done, refused, duplicates, elapsed_ms;
	double per_second;
	act_buf by_member;
} stats_reply_t;

ACT_MESSAGE_TYPE(image_type, image_t, "Image", ACT_FIELD(image_t, id, ACT_I64),
                 ACT_FIELD(image_t, data, ACT_VSTR));
ACT_MESSAGE_TYPE(thumb_type, thumb_t, "Thumb", ACT_FIELD(thumb_t, id, ACT_I64),
                 ACT_FIELD(thumb_t, w, ACT_I32), ACT_FIELD(thumb_t, h, ACT_I32),
                 ACT_FIELD(thumb_t, sum, ACT_I64), ACT_FIELD(thumb_t, member, ACT_I32));
ACT_MESSAGE_TYPE(stats_type, stats_t, "Stats", ACT_FIELD(stats_t, unused, ACT_I32));
ACT_MESSAGE_TYPE(stats_reply_type, stats_reply_t, "StatsReply",
                 ACT_FIELD(stats_reply_t, done, ACT_I64),
                 ACT_FIELD(stats_reply_t, refused, ACT_I64),
                 ACT_FIELD(stats_reply_t, duplicates, ACT_I64),
                 ACT_FIELD(stats_reply_t, elapsed_ms, ACT_I64),
                 ACT_FIELD(stats_reply_t, per_second, ACT_DOUBLE),
                 ACT_FIELD(stats_reply_t, by_member, ACT_JSON));

static int64_t arg_int(const char *args, const char *key, int64_t def)
{
	cJSON *o = args ? cJSON_Parse(args) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	int64_t r = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
	cJSON_Delete(o);
	return r;
}

static int arg_ref(act_ctx *ctx, const char *args, const char *key, act_ref *out)
{
	cJSON *o = args ? cJSON_Parse(args) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	int err = cJSON_IsString(v) ? act_lookup(ctx, v->valuestring, out) : -22;
	cJSON_Delete(o);
	return err;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the parser (with its bug) ------------------------------------------------ */

struct image {
	int w, h;
	const unsigned char *palette; /* palette images only; never set: the bug */
	unsigned char px[MAX_SIDE * MAX_SIDE];
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 0, or -1 for a malformed image. */
static int parse(const char *s, size_t len, struct image *im)
{
	char *end;
	memset(im, 0, sizeof *im);
	if (len < 5 || s[0] != 'P')
		return -1;
	im->w = (int)strtol(s + 1, &end, 10);
	if (*end != 'x')
		return -1;
	im->h = (int)strtol(end + 1, &end, 10);
	if (im->w < 2 || im->h < 2 || im->w > MAX_SIDE || im->h > MAX_SIDE ||
	    (*end != ':' && *end != '!'))
		return -1;
	bool indexed = *end == '!';
	const char *p = end + 1;
	if ((size_t)(p - s) + (size_t)im->w * (size_t)im->h != len)
		return -1;
	for (int i = 0; i < im->w * im->h; i++) {
		int v = hexval(p[i]);
		if (v < 0)
			return -1;
		/* THE BUG: a palette image maps pixels through a palette that
		 * this parser never reads from the input - NULL. */
		im->px[i] = indexed ? im->palette[v] : (unsigned char)v;
	}
	return 0;
}

/* ---- thumbnailer ---------------------------------------------------------------- */

struct thumbnailer { act_ref sink; };

static int thumbnailer_init(act_ctx *ctx, void *st, const char *args)
{
	struct thumbnailer *t = st;
	return arg_ref(ctx, args, "sink", &t->sink);
}

static void thumbnailer_image(act_ctx *ctx, void *st, const void *m)
{
	struct thumbnailer *t = st;
	const image_t *img = m;
	struct image im;
	thumb_t th = { .id = img->id, .w = -1, .member = act_pool_member(ctx) };

	if (parse(img->data.ptr, img->data.len, &im) == 0) {
		th.w = im.w / 2;
		th.h = im.h / 2;
		for (int y = 0; y < th.h; y++)
			for (int x = 0; x < th.w; x++) {
				int a = im.px[2 * y * im.w + 2 * x], b = im.px[2 * y * im.w + 2 * x + 1];
				int c = im.px[(2 * y + 1) * im.w + 2 * x];
				int d = im.px[(2 * y + 1) * im.w + 2 * x + 1];
				th.sum += (a + b + c + d) / 4;
			}
	}
	/* The sink's rings are sized for the load (thumbnail.json): a refusal
	 * here (ACT_EFULL) would lose this thumbnail, which Stats would show
	 * as missing. */
	act_send(ctx, t->sink, &thumb_type, &th);
}

static const act_handler thumbnailer_h[] = { { &image_type, thumbnailer_image } };
static const act_behaviour thumbnailer_b = {
	.name = "thumbnailer", .state_size = sizeof(struct thumbnailer),
	.init = thumbnailer_init, .handlers = thumbnailer_h, .n_handlers = 1,
};

/* ---- loadgen -------------------------------------------------------------------- */

struct loadgen { act_ref to; int64_t count, poison_every, next; char buf[8 + MAX_SIDE * MAX_SIDE]; };

static int loadgen_init(act_ctx *ctx, void *st, const char *args)
{
	struct loadgen *g = st;
	g->count = arg_int(args, "count", 1000);
	g->poison_every = arg_int(args, "poison_every", 0);
	return arg_ref(ctx, args, "to", &g->to);
}

static void loadgen_pump(act_ctx *ctx, struct loadgen *g)
{
	while (g->next < g->count) {
		int side = 16 + (int)(g->next % 3) * 8; /* 16, 24, 32 */
		bool poison = g->poison_every && g->next % g->poison_every == g->poison_every - 1;
		int n = snprintf(g->buf, sizeof g->buf, "P%dx%d%c", side, side, poison ? '!' : ':');
		for (int i = 0; i < side * side; i++)
			g->buf[n + i] = "0123456789abcdef"[(g->next + (uint64_t)i * 7) % 16];
		image_t img = { g->next, { g->buf, (uint32_t)(n + side * side), 0 } };
		int err = act_send(ctx, g->to, &image_type, &img);
		if (err == ACT_EFULL) {
			act_timer_once(ctx, 1, 1);
			return;
		}
		if (err)
			return;
		g->next++;
	}
}

static void loadgen_start(act_ctx *ctx, void *st, const void *m) { (void)m; loadgen_pump(ctx, st); }
static void loadgen_timeout(act_ctx *ctx, void *st, const void *m) { (void)m; loadgen_pump(ctx, st); }

static const act_handler loadgen_h[] = { { &act_start_type, loadgen_start },
                                         { &act_timeout_type, loadgen_timeout } };
static const act_behaviour loadgen_b = {
	.name = "loadgen", .state_size = sizeof(struct loadgen), .init = loadgen_init,
	.handlers = loadgen_h, .n_handlers = 2,
};

/* ---- collector ------------------------------------------------------------------ */

struct collector {
	int64_t done, refused, duplicates;
	uint64_t first_ms, last_ms;
	int64_t by_member[ACT_POOL_MAX];
	unsigned char *seen; /* a bit per id */
};

static int collector_init(act_ctx *ctx, void *st, const char *args)
{
	struct collector *c = st;
	(void)ctx;
	(void)args;
	c->seen = calloc(MAX_IDS / 8, 1);
	return c->seen ? 0 : -12;
}

static void collector_fini(act_ctx *ctx, void *st)
{
	(void)ctx;
	free(((struct collector *)st)->seen);
}

static void collector_thumb(act_ctx *ctx, void *st, const void *m)
{
	struct collector *c = st;
	const thumb_t *t = m;
	(void)ctx;
	uint64_t now = now_ms();
	if (!c->first_ms)
		c->first_ms = now;
	c->last_ms = now;
	if (t->id >= 0 && t->id < (int64_t)MAX_IDS) {
		unsigned char bit = (unsigned char)(1u << (t->id % 8));
		if (c->seen[t->id / 8] & bit) {
			c->duplicates++;
			return;
		}
		c->seen[t->id / 8] |= bit;
	}
	if (t->w < 0)
		c->refused++;
	else
		c->done++;
	if (t->member >= 0 && t->member < (int32_t)ACT_POOL_MAX)
		c->by_member[t->member]++;
}

static void collector_stats(act_ctx *ctx, void *st, const void *m)
{
	struct collector *c = st;
	char json[ACT_POOL_MAX * 24];
	size_t n = 0;
	int top = 0;
	(void)m;
	for (int i = 0; i < (int)ACT_POOL_MAX; i++)
		if (c->by_member[i])
			top = i + 1;
	n += (size_t)snprintf(json + n, sizeof json - n, "[");
	for (int i = 0; i < top; i++)
		n += (size_t)snprintf(json + n, sizeof json - n, "%s%lld", i ? "," : "",
		                      (long long)c->by_member[i]);
	snprintf(json + n, sizeof json - n, "]");
	int64_t ms = (int64_t)(c->last_ms - c->first_ms);
	stats_reply_t r = { c->done, c->refused, c->duplicates, ms,
	                    ms > 0 ? (double)(c->done + c->refused) * 1000.0 / (double)ms : 0.0,
	                    { json, (uint32_t)strlen(json), 0 } };
	act_reply(ctx, &stats_reply_type, &r);
}

static const act_handler collector_h[] = { { &thumb_type, collector_thumb },
                                           { &stats_type, collector_stats } };
static const act_behaviour collector_b = {
	.name = "collector", .state_size = sizeof(struct collector), .init = collector_init,
	.fini = collector_fini, .handlers = collector_h, .n_handlers = 2,
};

ACT_MODULE_INIT(m)
{
	int err = 0;
	if (!err) err = act_module_add_behaviour(m, &thumbnailer_b);
	if (!err) err = act_module_add_behaviour(m, &loadgen_b);
	if (!err) err = act_module_add_behaviour(m, &collector_b);
	if (!err) err = act_module_add_type(m, &stats_reply_type);
	return err;
}
