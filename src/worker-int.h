/* SPDX-License-Identifier: MIT */
/*
 * worker-int.h - private to the worker's modules: the state one worker
 * process keeps, shared by worker.c (loop and lifecycle), dispatch.c
 * (handling records), ops.c (what handlers call), ask.c (the table of
 * outstanding asks), dynamic.c and children.c (spawned actors and their
 * supervision); and testkit.c, which runs one such worker in the test's
 * process.  Nothing else includes it.
 */
#ifndef ACT_WORKER_INT_H
#define ACT_WORKER_INT_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include <actors.h>

#include "doorbell.h"
#include "envelope.h"
#include "registry.h"
#include "ring.h"
#include "shm.h"
#include "timer.h"

#define BATCH 64u
#define ASK_SLOTS 4096u          /* power of two */
#define ASK_MAX (ASK_SLOTS * 3u / 4u)
#define ASK_OWNER_BIT 0x80000000u
#define MAX_REMOTES 1024u

struct remote {
	char name[ACT__REMOTE_NAME_MAX + 1];
	char endpoint[ACT__ENDPOINT_MAX + 1];
};

/*
 * A local actor.  w->actors[] holds the group's static actors (0..n_local-1)
 * and then one entry per spawn slot (n_local + slot); a slot's entry is
 * `stopped` while no actor lives in it.
 */
struct actor {
	uint32_t id;
	const struct act__actor_def *def;
	void *state;
	act_handler_fn *by_type;     /* [n_types + 1], O(1) dispatch by type id */
	bool stopping;               /* act_stop_self(), act_stop() or act_fail() called */
	bool stopped;
	bool dynamic;                /* a spawn slot (by_type is shared, per behaviour) */
	bool lost;                   /* its last tenant was lost with the last worker */
	bool xmon;                   /* it monitored an actor of another group (this tenant) */
	bool lmon;                   /* it monitored an actor of its own group (this tenant) */
	/* Spawned by another group and started before its SPAWN record was
	 * read (by an envelope to it, or by a restarted worker's restore):
	 * a word from its parent's group to stop the parent's children came
	 * before that record, so not for it. */
	bool spawn_unread;
	uint32_t gen;                /* spawn slot: generation of the (last) tenant */
	uint32_t running;            /* handlers of it on the stack (act_spawn nests) */
	uint32_t n_children;         /* live spawned actors whose parent it is */
	const char *stop_reason;     /* with stopping: the Down reason, NULL = "normal" */
	char *fail_reason;           /* act_fail(): "failed: ..." (malloc'd) */
	struct act__spawn_rec *rec;  /* spawned: its record in the region; static: NULL */
	struct act__spawn_mon *mon;  /* [ACT__SPAWN_MONITORS]: spawned, in the slot's ext
	                                block in the region; static, on the heap or NULL */
	uint32_t mon_cap;            /* static: entries of mon[] (it grows) */
	uint32_t *mon_pgen;          /* static: per entry, the generation of the watcher's
	                                group's worker when taken (0: our own group) */
	struct act__actor_def ddef;  /* spawned: what def points to */
	/* supervision of children (children.c) */
	bool escalated;              /* its failure came up from a child */
	bool init_failed;            /* init failed on a restart: no fini to run */
	uint32_t n_restarts;         /* times its parent's policy restarted it */
	uint32_t sup_n;              /* restarts counted in the current window */
	uint64_t sup_since_ns;       /* start of that window, 0 = none yet */
	uint64_t spawn_seq;          /* spawn order among its siblings */
};

struct ask {
	uint64_t corr;               /* 0 = free */
	uint32_t slot;
	act_ask_fn cb;
	uint64_t cookie;
	uint64_t sent_ns;            /* when it was asked (act__ask_timed) */
};

struct act_ctx {
	struct worker *w;
	struct actor *actor;
	const struct act__env *env;  /* NULL outside ring delivery */
	const act_type *type;
	const void *msg;
	uint32_t redelivered;
	const struct act__jview *jv; /* sender outside the node (JSON envelope) */
};

struct behaviour_table {
	const act_behaviour *b;
	act_handler_fn *by_type;
};

struct worker {
	const struct act__registry *reg;
	/* spawned actors (dynamic.c) */
	uint32_t n_slots;            /* entries of actors[]: n_local + dyn_cap */
	size_t actors_bytes;         /* actors[] came from act__w_zalloc(), this long */
	uint32_t dyn_cap;            /* this group's spawn slots (max_spawned) */
	struct act__dyn_hdr *dyn;    /* this group's spawn area */
	uint32_t *free_slots;        /* stack of freed slots below hi: the next spawn
	                                pops the top, else takes slot hi */
	uint32_t n_free;
	uint32_t *names;             /* open addressing: actors[] index + 1, 0 = empty */
	uint32_t names_mask;         /* entries of names[] - 1 (a power of two - 1) */
	uint64_t mon_seq;
	struct act__pwatch *pw;      /* monitors of remote refs taken here (remote-mon.c) */
	uint32_t n_pw, cap_pw;
	uint64_t spawn_seq;          /* the last actor spawned here (children.c's order) */
	uint64_t start_seq;          /* spawned up to here when the Start round began */
	char lost_reason[64];        /* why the last worker's temporary actors are gone */
	bool restoring;              /* act__dyn_restore() applies policies: no Start yet */
	struct behaviour_table *btab;
	uint32_t n_btab;
	uint32_t dyn_seen;           /* spawn slots below it have formatted entries */
	struct act__dynx *dynx;      /* cross-group spawns (dyn-remote.c), or NULL */
	/* Downs that found their watcher's ring full, oldest first: sent by
	 * act__dyn_downs_flush() as room comes (dynamic.c) */
	struct act__down_wait *dw;
	uint32_t n_dw, cap_dw, dw_head; /* waiting: dw[dw_head .. dw_head + n_dw) */
	uint64_t dw_groups[ACT__READY_WORDS]; /* participants that Downs wait for */
	uint64_t dw_retry_ns;        /* a sleep with Downs waiting ends after this */
	bool dw_flushing;            /* act__dyn_downs_flush() is sending them */
	size_t dw_env_bytes;         /* of the envelopes among them (act__dyn_env_wait) */
	act__shm shm;
	uint32_t self, n_parts;
	struct act__part *part;
	struct act__part **parts;
	act__ring_h *in, *out;
	const int *efd;
	struct io_uring uring;
	bool uring_ok, read_armed;
	bool uring_tried;        /* the ring is made at the first timed sleep */
	bool prepared;           /* act__worker_prepare() ran (in a prefork) */
	uint64_t efd_buf;
	pid_t pid;                   /* this worker process (beat(): a copy of it is not) */
	act__timers timers;
	struct actor *actors;
	uint32_t n_local;
	int32_t *slot_of;            /* actor id -> local slot, -1 elsewhere */
	uint64_t pending[ACT__READY_WORDS];
	uint64_t quarantined[ACT__READY_WORDS]; /* inbound rings found corrupt: never read */
	uint64_t dirty[ACT__READY_WORDS];  /* other participants we sent to, not yet notified */
	uint32_t n_dirty_sends;             /* envelopes sent since the last flush */
	struct ask *asks;
	uint32_t n_asks;
	/* Average time an ask of this worker took to complete (1/8 weight
	 * per ask; a timeout counts as its whole wait).  While asks are
	 * outstanding and this is short, the idle loop spins for twice it
	 * rather than sleeping (worker.c, spin_window()). */
	uint64_t ask_avg_ns;
	/* Average idle gap ended by work (1/8 weight), for the same. */
	uint64_t gap_avg_ns;
	uint64_t next_corr;          /* the last ask's id (low 48 bits): corr_seed() */
	bool corr_seeded;
	bool stopping;
	bool draining;               /* STOP received: empty the rings, then stop */
	bool handoff;                /* STOP for a reload: export state, no drain */
	uint64_t heartbeat_ns;       /* the group's heartbeat period */
	bool in_fini;
	int exit_code;
	struct act_ctx ctx;
	uint64_t last_beat_ns;
	uint32_t named_type;         /* type id whose name is in part->handling_name */
	struct remote *remotes;
	uint32_t n_remotes;
	unsigned char *scratch;      /* decoded JSON payloads */
	size_t scratch_cap;
	char *jbuf;                  /* encoded JSON payloads */
	size_t jbuf_cap;
	/* (actor, type) pairs whose failed use was logged: once each */
	struct { uint32_t actor; const act_type *type; } warned[32];
	uint32_t n_warned;
	/* A testkit's in-process worker (testkit.c): envelopes go to its
	 * FIFO and time is vnow_ns.  NULL in every real worker. */
	struct act_test *tk;
	uint64_t vnow_ns;
};

/* ---- notifying receivers (inline: on every send) ------------------------- */

/* Publishes the rest of a batched burst into g and rings g's doorbell. */
static inline void act__w_ring(struct worker *w, uint32_t g)
{
	act__ring_show(&w->out[g]); /* the rest of a batched burst */
	act__doorbell_notify(w->parts[g], w->self, w->efd[g]);
	/* Single writer (this worker), own counter line: no locked
	 * instruction (perfcount.h). */
	atomic_store_explicit(&w->part->n_notifies,
	    atomic_load_explicit(&w->part->n_notifies, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

/*
 * Rings the doorbell of every participant we sent to since the last flush:
 * once per receiver, not once per envelope (see act__w_notify()).
 */
static inline void act__w_flush_notify(struct worker *w)
{
	/* Nothing sent since the last flush (act__w_notify() counts every
	 * dirty bit it sets): one load, not a look at every word. */
	if (!w->n_dirty_sends)
		return;
	w->n_dirty_sends = 0;
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		while (w->dirty[i]) {
			uint32_t g = i * 64u + (uint32_t)__builtin_ctzll(w->dirty[i]);
			w->dirty[i] &= w->dirty[i] - 1;
			act__w_ring(w, g);
		}
	}
}

/*
 * Publishes what this worker committed into participant g's ring and, if
 * it sent to g since the last flush, rings g's doorbell now: for a send
 * that found the ring full, whose sender may retry inside its handler
 * until g makes room, which a g asleep on its doorbell never would.
 */
void act__w_flush_one(struct worker *w, uint32_t g);

/*
 * Records that participant g has new work from us.  The doorbell itself
 * (a full fence, maybe an eventfd write) is rung once per receiver by
 * act__w_flush_notify() when the handler returns (or after every
 * ACT__W_FLUSH_SENDS envelopes of a long burst), not once per envelope: a
 * handler that sends a burst pays for one fence per receiver.  The price:
 * a receiver may see a handler's envelopes only when that handler returns
 * (the first one at once, ring.h, act__ring_commit_batched()).
 */
#define ACT__W_FLUSH_SENDS 256u
static inline void act__w_notify(struct worker *w, uint32_t g)
{
	if (g == w->self) {
		w->pending[g / 64u] |= 1ull << (g % 64u);
		return;
	}
	w->dirty[g / 64u] |= 1ull << (g % 64u);
	if (++w->n_dirty_sends >= ACT__W_FLUSH_SENDS)
		act__w_flush_notify(w);
}

/* ---- actor ids ------------------------------------------------------------ */

/* ---- a handler that forks ------------------------------------------------ */

/*
 * Set in the child of a fork() made in this worker (pthread_atfork, in a
 * real worker only).  A handler's child that returns into the worker
 * instead of exec'ing or exiting would run the loop on the same rings as
 * its parent and handle every envelope a second time: dispatch and the
 * loop look at the flag (one load) and end such a copy at once.
 */
extern bool act__w_forked;
__attribute__((noreturn, cold)) void act__w_forked_exit(const struct actor *a);

static inline bool act__is_dyn_id(uint32_t id) { return id >= ACT__DYN_BASE; }

/* Participant of the group of actor `id`, or 0 if no actor can have that id. */
static inline uint32_t act__w_group_of(const struct worker *w, uint32_t id)
{
	if (id < w->reg->n_actors)
		return w->reg->actors[id].group;
	return act__dyn_group_of(&w->shm, id);
}

/* Formats the entry of a spawn slot on its first use (dynamic.c): the
 * entries are zero pages until then, so an idle worker pays no memory for
 * its unused slots. */
void act__dyn_touch(struct worker *w, struct actor *a);

/* This group's entry for actor `id`, or NULL if it is not of this group. */
static inline struct actor *act__w_local(struct worker *w, uint32_t id)
{
	if (id < w->reg->n_actors)
		return w->slot_of[id] >= 0 ? &w->actors[w->slot_of[id]] : NULL;
	if (act__w_group_of(w, id) != w->self)
		return NULL;
	struct actor *a = &w->actors[w->n_local + act__dyn_slot_of(&w->shm, id)];
	if (__builtin_expect(!a->def, 0))
		act__dyn_touch(w, a); /* first use of this slot by this worker */
	return a;
}

/* actors[] entries in use: the static ones and the spawn slots below the
 * area's high-water mark (the others were never touched). */
static inline uint32_t act__w_n_used(const struct worker *w)
{
	/* Not the area's hi: other groups raise that (cross-group spawns)
	 * before this worker formatted the entries below it. */
	return w->n_local + w->dyn_seen;
}

/* ---- ops.c: sending ------------------------------------------------------- */

/* Copies whole envelope e into the ring to participant g: 0 or the
 * ring's error (ACT_EFULL, ACT_ESTOPPED for a group removed or gone). */
int act__w_send_copy(struct worker *w, uint32_t g, const struct act__env *e);
/* Sends (t, msg) to actor `to` (generation to_gen) from `from` (id + 1). */
int act__w_send_env(struct worker *w, uint32_t to, uint32_t to_gen, const act_type *t,
                    const void *msg, uint32_t from, uint32_t from_gen, uint16_t flags,
                    uint64_t corr);

/* Sends a control record to the supervisor.  0, ACT_EFULL or -EMSGSIZE. */
int act__w_send_ctrl(struct worker *w, uint32_t code, const void *payload, uint32_t len);
/* The same with a correlation id: a dead letter of an envelope from an
 * actorsctl client carries the client's corr, so that its waiting send or
 * ask is answered at once (supervisor/control.c). */
int act__w_send_ctrl_corr(struct worker *w, uint32_t code, uint64_t corr, const void *payload,
                          uint32_t len);

/*
 * Zeroed memory for a table sized for capacity (the spawn slots, the name
 * table): straight from mmap, so that a page costs neither memory nor
 * time until it is written.  calloc() gives that only above malloc's mmap
 * threshold, which glibc raises after large frees (a zygote forked from a
 * program that freed large blocks): then it cleared the whole table on
 * every worker start (a 128 KiB name table: ~45 us of page faults, most
 * of a restart's setup).  NULL on failure; act__w_zfree() takes the len.
 */
void *act__w_zalloc(size_t len);
void act__w_zfree(void *p, size_t len);
/* Answers an undeliverable envelope from outside with a Reject (PROTOCOL.md). */
void act__w_send_reject(struct worker *w, const struct act__env *e, const struct act__jview *jv,
                        const char *reason);

/*
 * Sends msg as if from actor id + 1 `from` (0: nobody); a names the actor
 * the checks log about.  act_send() without a context, for the testkit.
 */
int act__w_send_as(struct worker *w, const struct actor *a, uint32_t from, act_ref to,
                   const act_type *t, const void *msg);

/* ---- testkit.c: where a testkit's worker sends (see ops.c) -------------- */

struct act_test;
/* Room for one envelope of len bytes in the FIFO: like act__ring_reserve(). */
struct act__env *act__tk_reserve(struct act_test *tk, uint32_t len, int *err);
/* Appends the envelope written at e to the FIFO: like act__ring_commit(). */
void act__tk_commit(struct act_test *tk, struct act__env *e);
/* True if act__dyn_restore() handles spawn slot `slot` in this crash. */
bool act__tk_restores(struct act_test *tk, uint32_t slot);

/* ---- ask.c: outstanding asks ---------------------------------------------- */

struct ask *act__ask_find(struct worker *w, uint64_t corr);
struct ask *act__ask_insert(struct worker *w, uint64_t corr);
void act__ask_remove(struct worker *w, struct ask *a);
/* Forgets every ask of local actor `slot` (it stopped). */
void act__ask_drop_owner(struct worker *w, uint32_t slot);
/* Delivers reply (t, msg) to ask k of actor a, and forgets the ask. */
void act__ask_deliver(struct worker *w, struct actor *a, struct ask *k, const act_type *t,
                      const void *msg, const struct act__env *env);
/* A JSON reply (flagged REPLY by the gateway) to a remote ask of actor a. */
void act__ask_remote_reply(struct worker *w, struct actor *a, const struct act__env *e,
                           const struct act__jview *jv);
/* The ask timer `corr` fired: runs its callback with ACT_ETIMEDOUT. */
void act__ask_expire(struct worker *w, uint64_t corr);

/* ---- dispatch.c ----------------------------------------------------------- */

/* Counts a dead letter (and says why at debug level). */
void act__w_dead_letter(struct worker *w, const char *why, uint32_t type, uint32_t to);
/* Points the context at actor a and the message being delivered. */
void act__w_set_ctx(struct worker *w, struct actor *a, const act_type *t, const void *msg,
                    const struct act__env *env, uint32_t redelivered,
                    const struct act__jview *jv);
/* Runs a's fini, cancels its timers and asks; idempotent. */
void act__w_stop_actor(struct worker *w, struct actor *a);
/* Ends actor a for good: fini, Down{reason} to its monitors, and (spawned)
 * its record freed.  Idempotent. */
void act__w_end_actor(struct worker *w, struct actor *a, const char *reason);
/* An envelope for a spawned actor that is not (or no longer) in its slot:
 * a dead letter, stored with the reason if its actor was lost in a crash. */
void act__w_stale_letter(struct worker *w, const struct actor *a, const struct act__env *e);
/* Calls actor a's handler for (t, msg), t's id being tid; env may be NULL
 * (local events). */
void act__w_invoke_id(struct worker *w, struct actor *a, const act_type *t, uint32_t tid,
                      const void *msg, const struct act__env *env, uint32_t redelivered,
                      const struct act__jview *jv);

/* act__w_invoke_id() for a caller that does not know t's id. */
static inline void act__w_invoke(struct worker *w, struct actor *a, const act_type *t,
                                 const void *msg, const struct act__env *env,
                                 uint32_t redelivered, const struct act__jview *jv)
{
	act__w_invoke_id(w, a, t, act__reg_type_id(w->reg, t), msg, env, redelivered, jv);
}
/*
 * Stops reading inbound ring s for good: counts the corruption once, logs
 * one line, and flags the ring in shared memory so that later instances
 * and its producer know.  r may be NULL when the ring never validated.
 */
void act__w_quarantine(struct worker *w, uint32_t s, struct act__ring *r, const char *why);
/* Drains the rings that have work, BATCH records each.  Returns records handled. */
unsigned act__w_poll_rings(struct worker *w);
/* True if any inbound ring holds a record. */
bool act__w_any_ring_nonempty(struct worker *w);
/* True if act__w_poll_rings() would find something: a cheap look for a
 * spinning worker (no clearing, no handling). */
bool act__w_work_waiting(struct worker *w);
/* Fires due timers and ask timeouts.  Returns how many fired. */
unsigned act__w_run_timers(struct worker *w, uint64_t now);

/* ---- dynamic.c: spawned actors --------------------------------------------- */

/* Allocates the spawn bookkeeping (worker setup).  0 or -ENOMEM. */
int act__dyn_setup(struct worker *w);
/*
 * Re-creates this group's spawned actors from their records (a restarted
 * worker, before any envelope is delivered): permanent and transient ones
 * come back (init runs again), temporary ones are freed and their monitors
 * told Down{why}.  Start is delivered by the caller.  0, or a fatal error.
 */
int act__dyn_restore(struct worker *w, const act_start *start);
/* Looks up a spawned actor by name on the whole node.  0 or -ENOENT. */
int act__dyn_lookup(struct worker *w, const char *name, act_ref *out);
/* Name of spawned actor ref (any group), or NULL. */
const char *act__dyn_ref_name(struct worker *w, act_ref ref);
/* Frees what act__dyn_setup() and the spawns allocated. */
void act__dyn_teardown(struct worker *w);
/*
 * Sends the Downs that wait for room in their watchers' rings (w->n_dw),
 * in order per watcher's group, as far as the rings take them; the rest
 * wait for the next call (every turn of the loop, act__w_poll_rings()).
 * Returns how many were sent.
 */
unsigned act__dyn_downs_flush(struct worker *w);
/*
 * True if Downs or withdrawals of ours still wait for room in the ring to
 * participant g after one more try at sending them: an actor's send to g
 * is then refused (ACT_EFULL), so that they go first.  Without that a
 * sender that keeps the ring full would take every bit of room the
 * receiver makes before the worker's loop comes back to them.
 */
bool act__dyn_downs_ahead(struct worker *w, uint32_t g);
/*
 * Keeps envelope e (a whole record, malloc'd; ours from now on) for
 * participant g, to go with the waiting Downs when its ring has room:
 * an answer to an ask that found the ring full (act_reply()), which
 * cannot be sent again after its handler.  0, or ACT_EFULL (as many
 * records or ACT__ENV_WAIT_BYTES of envelopes already wait, or no
 * memory: e is freed).
 */
int act__dyn_env_wait(struct worker *w, uint32_t g, struct act__env *e);
/* How long a worker with Downs waiting may sleep: longer each time
 * (until a flush sends one), so that a stuck watcher costs few wakeups. */
uint64_t act__dyn_downs_retry_ns(struct worker *w);
/* The worker ends: sends the waiting Downs that fit now; the others are
 * dead letters, logged. */
void act__dyn_downs_at_exit(struct worker *w);
/* The group stops for good (a reload removed it): Down{name, reason} to
 * every monitor of its static actors in other groups; their spawned
 * actors' monitors are told by the supervisor. */
void act__dyn_down_static(struct worker *w, const char *reason);

/* ---- children.c: supervision of spawned actors by their parents ----------- */

/*
 * Actor a was asked to stop or failed (a->stopping) and no handler of it is
 * on the stack any more: ends it (Down with its reason), or, if it failed
 * (act_fail(), a child's escalation, init failing on restart), applies its
 * parent's act_child_policy - restart, resume, stop, escalate - or, if the
 * failure was escalated to it and no parent supervises it, fails the group.
 * May run handlers.  A no-op for an actor that is not stopping.
 */
void act__sup_settle(struct worker *w, struct actor *a);
/* Resets the supervision bookkeeping of a new tenant of a spawn slot. */
void act__sup_reset(struct worker *w, struct actor *a);

#endif
