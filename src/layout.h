/* SPDX-License-Identifier: MIT */
/*
 * layout.h - private: the frozen shared-memory format (layout version 8).
 *
 * The region is one memfd created by the supervisor before any worker
 * starts.  It holds, in order: the region header, one control block per
 * participant (participant 0 is the supervisor, 1..n the groups), the ring
 * table, and the rings themselves, one single-producer ring per
 * (sender participant -> receiver participant) pair.  Everything a worker
 * reads from here is validated before it is followed.  Changing anything in
 * this file (or the packed message form of message.h) means bumping
 * ACT__LAYOUT_VERSION.
 *
 * Version 2: act__ring.quarantined (was reserved1).
 * Version 3: act__ring.inflight_forgiven (after done_pos).
 * Version 4: dynamic actors: act__env.to_gen/from_gen (the envelope grows
 *            from 32 to 40 bytes); the spawn areas (one per group, after
 *            the rings: struct act__dyn_hdr then ACT__DYN_SLOTS records of
 *            struct act__spawn_rec); act__region.dyn_off/dyn_area_bytes/
 *            dyn_slots/spawn_rec_bytes.
 * Version 5: act__env.sent_ns (the envelope grows from 40 to 48 bytes),
 *            for the time-in-mailbox histograms.  The per-actor
 *            statistics area (struct act__stats_hdr) sits in the region's
 *            last page and carries its own magic and version
 *            (ACT__STATS_VERSION): it changes without bumping this one.
 * Version 6: cross-group spawns (ACT__REC_SYS records between workers,
 *            ACT__SYS_*; slot states PENDING and RESERVED; act__dyn_hdr
 *            grows name_lock; any participant may raise act__dyn_hdr.hi;
 *            the header block holds a name index, struct act__name_ent,
 *            sized per group, act__dyn_hdr_bytes(); act__spawn_rec.flags)
 *            and per-group spawn capacity (act__region.dyn[], dyn_shift
 *            replace dyn_area_bytes/dyn_slots; the spawn record is 192
 *            bytes, its monitors and long args in a per-slot struct
 *            act__spawn_ext block after the records).
 * Version 7: the region outlives its supervisor (supervisor/recover.c):
 *            act__region.epoch, sup_start, n_adoptions after dyn_checksum.
 * Version 8: rings are no longer formatted when the region is made: an
 *            all-zero ring is a valid empty one, written (and its header
 *            formatted) first by its producer, which then sets the ring's
 *            bit in the touched bitmap (act__region.touched_off, one bit
 *            per ring of the table).  Nobody reads a ring whose bit is
 *            clear, so a ring never used costs address space only
 *            (issue 14: 255 groups are 65,536 rings, a page each).
 */
#ifndef ACT_LAYOUT_H
#define ACT_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <actors/common.h>

#define ACT__CACHELINE 64

#define ACT__REGION_MAGIC   0x4d48535352544341ull /* "ACTRSSHM" little-endian */
#define ACT__RING_MAGIC     0x474e495252544341ull /* "ACTRRING" */
#define ACT__POISON_MAGIC   0xdeaddeaddeaddeadull /* written at teardown */
#define ACT__LAYOUT_VERSION 8u

#define ACT__MAX_PARTS   256u  /* supervisor + up to 255 groups */
#define ACT__READY_WORDS (ACT__MAX_PARTS / 64u)
#define ACT__SUPERVISOR  0u    /* participant index of the supervisor */
#define ACT__SCAN_ALL_MAX 16u  /* up to this many participants, consumers scan */

/* Record kinds (act__rec.kind). */
enum {
	ACT__REC_PAD  = 1, /* filler up to the end of the ring; skip */
	ACT__REC_MSG  = 2, /* an envelope for an actor */
	ACT__REC_CTRL = 3, /* runtime control between worker and supervisor */
	ACT__REC_SYS  = 4, /* dynamic actors across groups (ACT__SYS_*), see dyn-remote.c */
};

/*
 * System records (kind ACT__REC_SYS): a struct act__env with type = the
 * code, to/to_gen = the actor concerned (in the receiving group),
 * from/from_gen = the actor asking (id + 1, 0 = the supervisor), corr = a
 * monitor id where one is involved.  No payload.
 */
enum {
	ACT__SYS_SPAWN = 1,     /* start the PENDING record of slot `to` (gen to_gen) */
	ACT__SYS_STOP,          /* act_stop(to) */
	ACT__SYS_MONITOR,       /* watch `to` for (from, from_gen), monitor id corr */
	ACT__SYS_DEMONITOR,     /* forget monitor corr of `to` (any gen) */
	ACT__SYS_STOP_CHILDREN, /* stop every actor whose parent is (from, from_gen) */
	ACT__SYS_GROUP_GONE,    /* supervisor: participant `to` will not run again */
};
/* ACT__SYS_GROUP_GONE came without a layout bump: a reader that does not
 * know a code skips the record (counted as corrupt, logged), and the
 * supervisor and its workers run one library build anyway. */
/* act__env.rec.flags of ACT__SYS_MONITOR: the sender took a monitor
 * entry of the record (act__spawn_rec.mon_claims) for it. */
#define ACT__SYS_CLAIMED 1u
/*
 * act__env.rec.flags of ACT__SYS_GROUP_GONE: participant `to`'s worker
 * ended and the group runs again (a crash, a restart), so the watches its
 * static actors held died with it: each receiver makes the Downs of its
 * monitors into `to` taken while that worker ran (act__part.generation,
 * low 32 bits, <= to_gen), once it has read what that worker sent it (its
 * ring from `to` up to position corr).  from = the signal that killed it
 * (0: none), from_gen = its exit code (as int32_t; -1: none).
 */
#define ACT__GONE_RESTART 1u
/* ... of a group gone for good: from and from_gen say how its last worker
 * ended, as for a restart (without it: "group stopped", e.g. a removal). */
#define ACT__GONE_CAUSE 2u

/*
 * Rings: capacities (act__ring.cap) are powers of two in [MIN_CAP,
 * MAX_CAP]; a ring's largest record (max_rec) is a multiple of 8 in
 * [64, cap / 4].
 */
#define ACT__RING_MIN_CAP (4u * 1024u)
#define ACT__RING_MAX_CAP (1u << 30)
#define ACT__REC_ALIGN    8u

/*
 * Every ring record starts with this 8-byte header; records are padded to
 * a multiple of ACT__REC_ALIGN bytes and never wrap around the end of the
 * ring (a PAD record fills the tail instead).
 */
struct act__rec {
	uint32_t len;   /* bytes, header included, before rounding up to 8 */
	uint16_t kind;  /* ACT__REC_* */
	uint16_t flags; /* kind-specific */
};

/* Envelope flags (act__env.rec.flags for ACT__REC_MSG). */
enum {
	ACT__ENV_ASK    = 1u << 0, /* corr identifies a request awaiting a reply */
	ACT__ENV_REPLY  = 1u << 1, /* corr identifies the request this answers */
	ACT__ENV_REMOTE = 1u << 2, /* sender is remote: name/endpoint trailer (gateway) */
	ACT__ENV_JSON   = 1u << 3, /* payload is JSON text, decoded by the receiver */
};

/* Control codes (act__env.type for ACT__REC_CTRL). */
enum {
	ACT__CTRL_STOP = 1,       /* supervisor -> worker: stop cleanly */
	ACT__CTRL_READY,          /* worker -> supervisor: Start delivered, serving */
	ACT__CTRL_SHUTDOWN_NODE,  /* worker -> supervisor: act_shutdown() */
	ACT__CTRL_DEAD_LETTER,    /* worker -> supervisor: payload = the dead envelope */
	ACT__CTRL_PEER_WATCH,     /* worker -> supervisor: act_monitor() of a remote ref */
	ACT__CTRL_PEER_UNWATCH,   /* worker -> supervisor: act_demonitor() of one */
};

/*
 * An envelope: the ring record header followed by routing fields, then the
 * payload at offset sizeof(act__env).  The payload is part of this format
 * too: for ACT__REC_MSG without ACT__ENV_JSON it is the packed message
 * described in message.h (the struct, then variable-length data at
 * 8-byte offsets, act_buf.off naming them); with ACT__ENV_JSON it is the
 * trailer below; for ACT__CTRL_DEAD_LETTER it is JSON text.
 * Written only by act__env_write() / act__jenv_write() (envelope.h).
 */
struct act__env {
	struct act__rec rec;
	uint32_t type;      /* message type id, or control code */
	uint32_t to;        /* receiver actor id, or ACT__TO_OUTSIDE */
	uint32_t from;      /* sender actor id + 1; 0 = nobody */
	uint32_t from_peer; /* 0 = local sender, else ACT__PEER_* */
	uint64_t corr;      /* ask correlation id (ASK/REPLY) */
	/* Generations of the receiver and sender refs: 0 for static actors,
	 * the slot's generation for spawned ones (ids >= ACT__DYN_BASE).  The
	 * receiver drops (dead-letters) an envelope whose to_gen is not the
	 * generation of the slot's current tenant. */
	uint32_t to_gen;
	uint32_t from_gen;
	/* CLOCK_MONOTONIC when the envelope was written (system-wide, so
	 * comparable across processes), on one envelope in a sample period
	 * (stats.h), else 0: the receiver times the stamped ones. */
	uint64_t sent_ns;
};

/* Special values of the routing fields. */
#define ACT__TO_OUTSIDE  0xffffffffu /* act__env.to: outbound, for the supervisor's gateway */
#define ACT__PEER_REMOTE 1u          /* act__env.from_peer: from the network (gateway) */
#define ACT__PEER_CLIENT 0xfffffffeu /* act__env.from_peer: from a control-socket client */

/*
 * Envelopes with ACT__ENV_JSON carry, after struct act__env and in place
 * of a packed payload, a trailer naming the party outside the node, the
 * type by name, and the message as JSON text:
 *
 *   struct act__jt | peer name \0 | endpoint \0 | type name \0 | json \0
 *
 * Inbound (supervisor -> worker) `peer` is the sender; outbound (worker ->
 * supervisor, act__env.to == ACT__TO_OUTSIDE) it is the receiver.  An
 * empty endpoint means "a local client" (actorsctl), matched by corr.
 * Names of parties outside the node are not this node's names: a peer of
 * the family may use up to ACT__REMOTE_NAME_MAX bytes (the wire limit),
 * while everything this node names itself is at most ACT_NAME_MAX.
 */
#define ACT__REMOTE_NAME_MAX 255u /* peer and type names in a trailer */
#define ACT__ENDPOINT_MAX    255u /* endpoint in a trailer */

struct act__jt {
	uint16_t peer_len;      /* bytes, without the NUL; <= ACT__REMOTE_NAME_MAX */
	uint16_t endpoint_len;  /* <= ACT__ENDPOINT_MAX */
	uint16_t type_len;      /* 1..ACT__REMOTE_NAME_MAX */
	uint16_t reserved;
	uint32_t json_len;
	uint32_t reserved2;
};

/*
 * Participant states as published in act__part.state, written by the
 * supervisor (and by the worker for READY/DRAINING).
 */
enum act__part_state {
	ACT__PS_DOWN = 0,
	ACT__PS_STARTING,
	ACT__PS_READY,
	ACT__PS_DRAINING,
	ACT__PS_STOPPING,
	ACT__PS_DEAD,
	ACT__PS_BACKOFF,
};

/*
 * Per-participant control block.  The first line is constant after
 * creation; the wake line is written by every producer and the consumer;
 * the liveness and counter lines are written by the owning worker and read
 * by the supervisor.
 */
struct act__part {
	/* constant */
	char name[ACT_NAME_MAX + 1];
	uint32_t index;
	uint32_t ring_bytes;        /* capacity of each ring into this participant */
	uint32_t max_msg;           /* largest record accepted into those rings */
	uint32_t spin_us;
	uint32_t max_redeliveries;
	uint32_t n_actors;
	/*
	 * 1: this consumer, while awake, looks at every ring into it (few
	 * participants make that cheap), so producers ring it only when it
	 * sleeps and never touch the ready bitmap: no cache line is shared
	 * between producer and consumer but the rings' own.  0: producers
	 * mark the ready bitmap and the consumer reads only marked rings.
	 */
	uint32_t scan_all;
	/*
	 * 1 while a reload has removed this group (supervisor/reload.c): the
	 * only field of this line that changes after creation, written by the
	 * supervisor alone (release), rarely.  Every sender reads it (acquire)
	 * before it reserves room in a ring into this participant and refuses
	 * with ACT_ESTOPPED instead (act__part_removed()), so that nothing is
	 * queued for a group nobody will run.  What was reserved0: a region
	 * of an older build reads 0, "not removed".
	 */
	_Atomic uint32_t removed;
	/*
	 * Non-zero while the group will not run again until an operator
	 * restarts it: ACT__GONE_DONE, it finished (temporary, or transient
	 * after a normal exit), or ACT__GONE_FAILED (exit 100).  Written by the
	 * supervisor alone (release) when the group enters or leaves those
	 * states; senders read it beside `removed` and refuse the same way
	 * (act__part_refuses()), so that nothing waits in a ring no worker
	 * reads; a supervisor that adopts the region keeps the group so.  In
	 * what was this line's padding: a region of an older build reads 0,
	 * and an older build ignores it.
	 */
	_Atomic uint32_t gone;

	/* wake line: the consumer's sleep flag and the producers' ready bitmap */
	alignas(ACT__CACHELINE) _Atomic uint32_t sleeping;
	_Atomic uint64_t ready[ACT__READY_WORDS];
	_Atomic uint64_t n_wakeups;         /* eventfd writes by producers */
	/* Sends refused because the group was removed (any sender, atomic
	 * add, on the refusal path only); in this line's padding. */
	_Atomic uint64_t n_refused_removed;
	/* Sends refused because the group was gone (done or failed); the same
	 * way, in the rest of the padding. */
	_Atomic uint64_t n_refused_gone;

	/* liveness, written by the worker */
	alignas(ACT__CACHELINE) _Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC */
	_Atomic int32_t pid;
	_Atomic uint32_t state;             /* enum act__part_state */
	_Atomic uint64_t generation;        /* bumped on every (re)start */
	_Atomic uint32_t handling_type;     /* type id being handled, 0 = idle */
	_Atomic uint32_t handling_from;     /* sender actor id + 1, 0 = none */
	_Atomic uint32_t handling_json;     /* 1: a JSON envelope from outside */
	char handling_name[ACT_NAME_MAX + 1]; /* its type name (cut to fit: a remote
	                                       * type name may be longer) */
	/* Written by the supervisor before it wakes a hot standby: what the
	 * standby's Start message says. */
	int32_t standby_n_restarts, standby_last_signal, standby_last_exit;
	/* 1 once this group's worker monitors a static actor of another group
	 * (dyn-remote.c, rmon_add()); 0 again when a new worker starts.  The
	 * supervisor tells only such groups of another group's end or
	 * restart: a doorbell rung at every restart for nothing would wake
	 * every sleeping worker then (restart_p50 +60 us on a 2-CPU VM).  In
	 * what was this line's padding. */
	_Atomic uint32_t watches_others;
	/* The worker's address-space holder (worker.c, quick_reap), 0: none.
	 * Written by the worker before it says it runs (with pid), taken
	 * and cleared by the supervisor at its death: a restart waits for the
	 * holder's teardown when the dead worker's file locks may still be
	 * held through it (group.c).  In what was this line's padding. */
	_Atomic int32_t holder_pid;
	/* 1 while the supervisor has not yet seen what the last worker's
	 * address space (kept by its holder) maps, or waits for its teardown:
	 * a new worker or standby runs no actor code before it reads 0
	 * (worker.c, gate_wait(); group.c, act__group_check_teardowns()).
	 * A futex word, written by the supervisor alone. */
	_Atomic uint32_t gate;
	/* The last holder the closed gate waits for, so that a supervisor
	 * that adopts the region (an upgrade mid-wait) waits for it too. */
	_Atomic int32_t gate_holder;

	/* counters, written by the consumer (this participant) */
	alignas(ACT__CACHELINE) _Atomic uint64_t n_handled;
	_Atomic uint64_t n_redelivered;
	_Atomic uint64_t n_dead_letters;
	_Atomic uint64_t n_unknown_type;
	_Atomic uint64_t n_corrupt;
	_Atomic uint64_t n_sleeps;
	/* Performance counters (perfcount.h), in what was this line's padding:
	 * no offset moves, and a region of an older build reads them as 0. */
	_Atomic uint64_t n_notifies;        /* doorbells rung by this worker as a producer */
	_Atomic uint64_t n_yields;          /* sched_yield() calls while spinning idle */
};

/* gone and n_refused_gone took padding: nothing after them moved. */
_Static_assert(offsetof(struct act__part, gone) == 96 &&
               offsetof(struct act__part, sleeping) == 128 &&
               offsetof(struct act__part, n_refused_gone) == 184 &&
               offsetof(struct act__part, heartbeat_ns) == 192 &&
               offsetof(struct act__part, watches_others) == 304 &&
               offsetof(struct act__part, holder_pid) == 308 &&
               offsetof(struct act__part, gate) == 312 &&
               offsetof(struct act__part, gate_holder) == 316 &&
               offsetof(struct act__part, n_handled) == 320, "act__part layout 8");

/* True if a reload removed participant p (act__part.removed).  Acquire:
 * pairs with the supervisor's release store when it removes or adds the
 * group back, so a sender that sees 0 after an add sees the group's
 * constants of that add too. */
static inline int act__part_removed(const struct act__part *p)
{
	return atomic_load_explicit(&p->removed, memory_order_acquire) != 0;
}

/* Values of act__part.gone. */
#define ACT__GONE_DONE   1u
#define ACT__GONE_FAILED 2u

/* 1 if the group is gone until an operator restarts it (act__part.gone);
 * acquire, as act__part_removed(). */
static inline int act__part_gone(const struct act__part *p)
{
	return atomic_load_explicit(&p->gone, memory_order_acquire) != 0;
}

/*
 * What a sender asks before it reserves room in a ring into p: 0 to go on,
 * else ACT_ESTOPPED, with the refusal counted (removed by a reload, or gone
 * until an operator restarts it).  Two loads of one line no other process
 * writes but at a reload or a group's end.
 */
static inline int act__part_refuses(struct act__part *p)
{
	if (__builtin_expect(act__part_removed(p), 0)) {
		atomic_fetch_add_explicit(&p->n_refused_removed, 1, memory_order_relaxed);
		return ACT_ESTOPPED;
	}
	if (__builtin_expect(act__part_gone(p), 0)) {
		atomic_fetch_add_explicit(&p->n_refused_gone, 1, memory_order_relaxed);
		return ACT_ESTOPPED;
	}
	return 0;
}

/*
 * One ring.  Positions are monotonically increasing byte counts; the byte
 * offset of a position is pos & (cap - 1).  head <= tail <= head + cap.
 */
struct act__ring {
	/* constant */
	uint64_t magic;
	uint32_t version;
	uint32_t cap;      /* data bytes, a power of two */
	uint32_t max_rec;  /* largest record, header included */
	uint16_t from;     /* producer participant */
	uint16_t to;       /* consumer participant */
	uint64_t generation;

	/*
	 * The positions each sit alone on a 128-byte block (the adjacent-line
	 * prefetcher pulls lines in pairs): the other side reads them on every
	 * hop, and any counter sharing their line would bounce with them.
	 */
	/* producer-written */
	alignas(128) _Atomic uint64_t tail; /* published write position */
	alignas(128) _Atomic uint64_t n_sent;
	_Atomic uint64_t n_refused_full;
	_Atomic uint64_t n_refused_size;
	_Atomic uint64_t depth_hwm;        /* high-water mark of tail - head */
	/*
	 * Everything the producer committed, published or not: within a
	 * handler's burst a worker publishes tail in steps (ring.h,
	 * act__ring_commit_batched()).  If it dies before the rest is
	 * published, the supervisor publishes it (act__ring_promote()), so an
	 * envelope act_send() accepted is not lost with its sender.  In the
	 * padding of this block: a region of an older build reads 0 here.
	 */
	_Atomic uint64_t tail_committed;

	/* consumer-written */
	alignas(128) _Atomic uint64_t head; /* committed read position */
	/*
	 * Crash bookkeeping: the position of the record whose handler is
	 * running (or last ran) and how many times it was started.  If a
	 * consumer finds inflight_pos == head at start, the previous consumer
	 * died while handling that record.
	 */
	alignas(128) _Atomic uint64_t inflight_pos;
	_Atomic uint32_t inflight_count;
	/*
	 * 1 once the consumer found this ring corrupt: it no longer reads it
	 * (nor does any later instance of it), and producers that find the
	 * ring full are told ACT_ESTOPPED instead of ACT_EFULL.  Never reset
	 * while the region lives.
	 */
	_Atomic uint32_t quarantined;
	_Atomic uint64_t n_delivered;
	/*
	 * The consumer's real progress: everything before done_pos was handled.
	 * It is written after every handler, on this consumer-only line; head
	 * (which the producer polls) is published from it in steps of at most
	 * cap/8 bytes and whenever the consumer runs out of records.  A
	 * restarted consumer resumes at done_pos, not at head.
	 */
	_Atomic uint64_t done_pos;
	/*
	 * How many of the starts in inflight_count ended in a death that does
	 * not count toward max_redeliveries (a SIGKILL or SIGTERM from outside:
	 * the envelope cannot have caused it).  Zeroed by the consumer with each
	 * new inflight_pos; raised only by the supervisor, while no consumer of
	 * this ring is alive (between a death and the next start).
	 */
	_Atomic uint32_t inflight_forgiven;

	alignas(128) unsigned char data[];
};

/* One entry of the ring table: where the ring of (from -> to) lives. */
struct act__ring_ent {
	uint64_t offset; /* from the start of the region */
	uint64_t bytes;  /* header + data */
};

/*
 * Dynamic actors (spawned at run time).  Group g owns n_slots slots (its
 * "max_spawned", ACT__DYN_SLOTS_DEFAULT unless configured); a spawned
 * actor's node-wide id is
 *     ACT__DYN_BASE + act__region.dyn[g].base + slot
 * where base = (g - 1) << dyn_shift, the stride being the smallest power
 * of two (at least ACT__DYN_SLOTS_DEFAULT) that holds every group's
 * capacity.  Use act__dyn_id() / act__dyn_group_of() / act__dyn_slot_of()
 * (shm.h), never the arithmetic.  Static actors have the dense ids
 * 0..n_actors-1, and refs to spawned ones carry the slot's generation, so
 * a ref to a stopped actor never reaches a later tenant of the slot.
 * A slot's record is written by whoever claimed it (CAS of its word from
 * FREE to RESERVED: the group's own worker, or another participant
 * spawning into the group); once committed (LIVE or PENDING) only the
 * group's own worker writes it.  A restarted worker re-creates its actors
 * from the records, and other processes read records only through the
 * commit word (acquire).
 *
 * A group's area: struct act__dyn_hdr and its name index
 * (act__dyn_hdr_bytes(n_slots)), then n_slots records of struct
 * act__spawn_rec (192 bytes: what every live actor needs), then, page
 * aligned, n_slots blocks of struct act__spawn_ext (1 KiB: monitors and
 * args longer than the record holds).  The memfd allocates a page only
 * when it is first touched, so an unused slot costs no memory, and an
 * actor that is never monitored and has short args never touches its ext
 * block (the record's n_mon and has_args say whether to look there).
 */
#define ACT__DYN_BASE          0x40000000u
#define ACT__DYN_SLOTS_DEFAULT 16384u       /* per group */
#define ACT__DYN_SLOTS_MAX     (1u << 22)   /* per group: 4 Mi */
#define ACT__SPAWN_MONITORS    8u           /* monitors per spawned actor */
#define ACT__SPAWN_INLINE_ARGS 40u          /* args bytes in the record, NUL included */
#define ACT__SPAWN_EXT_BYTES   1024u
#define ACT__SPAWN_ARGS_MAX    (ACT__SPAWN_EXT_BYTES - ACT__SPAWN_MONITORS * 16u - 1u)

/*
 * act__spawn_rec.word = generation << 32 | state.  PENDING: a whole record
 * written by another participant (cross-group spawn), not started yet; the
 * group starts it (CAS PENDING -> LIVE) on its spawn record, on the first
 * envelope for it, or when it restarts.  RESERVED | participant << 8: the
 * slot was claimed by that participant (CAS from FREE), which is writing
 * the record; only that participant (or its restarted worker, which frees
 * it) touches it.  Readers compare generations, not whole words, around a
 * copy of a record: a record is rewritten only after a claim, and a claim
 * always raises the generation.
 */
enum { ACT__SLOT_FREE = 0, ACT__SLOT_LIVE = 1, ACT__SLOT_PENDING = 2, ACT__SLOT_RESERVED = 3 };
#define ACT__SLOT_RESERVED_BY(part) (ACT__SLOT_RESERVED | ((uint32_t)(part) << 8))
#define ACT__SLOT_IS_RESERVED(st)   (((st) & 0x7fu) == ACT__SLOT_RESERVED)
#define ACT__SLOT_RESERVER(st)      (((st) >> 8) & 0xffu)
/* With RESERVED: the record's name is written (under the node-wide name
 * lock) and already counts as taken. */
#define ACT__SLOT_NAMED             0x80u
#define ACT__SLOT_WORD(gen, st) (((uint64_t)(gen) << 32) | (uint32_t)(st))
#define ACT__SLOT_GEN(word)     ((uint32_t)((word) >> 32))
#define ACT__SLOT_STATE(word)   ((uint32_t)(word))

/* act__spawn_rec.has_args */
enum { ACT__ARGS_NONE = 0, ACT__ARGS_INLINE = 1, ACT__ARGS_EXT = 2 };

/*
 * The id of a monitor of an actor in another group (act_monitor()): bit 63,
 * the watcher's participant (8 bits: a pool's Downs go to the member that
 * took the monitor, not to the pool's pick), a sequence number (23 bits),
 * and the watched actor's id (32 bits).  The watched group keeps it and
 * sends it back as the Down's corr.
 */
#define ACT__MID_PART_SHIFT 55
static inline uint64_t act__mid_make(uint32_t part, uint64_t seq, uint32_t low)
{
	return (1ull << 63) | ((uint64_t)(part & 0xffu) << ACT__MID_PART_SHIFT) |
	       ((seq & 0x7fffffull) << 32) | low;
}
/* The participant that took monitor mid, if mid says (bit 63), else 0. */
static inline uint32_t act__mid_part(uint64_t mid)
{
	return mid >> 63 ? (uint32_t)(mid >> ACT__MID_PART_SHIFT) & 0xffu : 0;
}

/* A monitor: the watcher's ref (id + 1, 0 = entry unused) and the id
 * act_monitor() returned.  In a spawned actor's entry, the id of a
 * monitor from another group (bit 63 set: a sequence number, then the
 * watched actor's id, which the entry's place says) keeps in its low 32
 * bits the generation of the watcher's worker instead, so that the entry
 * can be freed once that worker has ended (act__mon_entry_*()). */
struct act__spawn_mon {
	uint32_t watcher;
	uint32_t watcher_gen;
	uint64_t id;
};

/* The id to store for monitor mid of actor target, taken by a watcher
 * whose worker has generation pgen (0: not said). */
static inline uint64_t act__mon_entry_pack(uint64_t mid, uint32_t target, uint32_t pgen)
{
	if (!(mid >> 63) || (uint32_t)mid != target || !pgen)
		return mid;
	return (mid & ~(uint64_t)0xffffffffu) | pgen;
}

/* The monitor id act_monitor() returned, of entry m of actor target. */
static inline uint64_t act__mon_entry_id(const struct act__spawn_mon *m, uint32_t target)
{
	if (!(m->id >> 63))
		return m->id;
	return (m->id & ~(uint64_t)0xffffffffu) | target;
}

/* The generation of the worker that took entry m of actor target, or 0
 * if not known (a monitor of this group, or one that did not say).  A
 * generation equal to the target's id reads as "not known": the entry is
 * then kept, never freed early. */
static inline uint32_t act__mon_entry_pgen(const struct act__spawn_mon *m, uint32_t target)
{
	if (!(m->id >> 63) || (uint32_t)m->id == target)
		return 0;
	return (uint32_t)m->id;
}

/*
 * One slot's spawn record.  A spawn first moves the word to (gen + 1,
 * FREE) - so no ref handed out from here on can alias an earlier tenant -
 * writes every other field (and the ext block's args if long), and commits
 * with one release store of (gen + 1, LIVE): a worker killed at any point
 * leaves a free slot or a whole record.  A stop stores (gen, FREE).
 * Monitors (in the slot's ext block) are added and removed by the owning
 * worker only, with a single store of `watcher` each; n_mon is raised
 * before a watcher at or above it is stored, and reset by each spawn.
 */
struct act__spawn_rec {
	_Atomic uint64_t word;
	uint32_t parent;      /* parent's ref id (actor id + 1), 0 = none */
	uint32_t parent_gen;
	uint8_t restart;      /* act_restart_type */
	uint8_t has_args;     /* ACT__ARGS_*: NULL, in args[] or in the ext block */
	uint16_t args_len;    /* bytes, NUL excluded */
	uint8_t n_mon;        /* ext mon[] entries below this may be in use */
	uint8_t flags;        /* ACT__SPAWN_* */
	/* Monitor entries taken: in use, or promised to a monitor request
	 * from another group still in flight (ACT__SYS_MONITOR with
	 * ACT__SYS_CLAIMED), so that a monitor beyond ACT__SPAWN_MONITORS
	 * fails at its call, wherever it comes from.  ACT__MON_CLAIMS(gen,
	 * n): the tenant's generation (low 8 bits) tags the count, so that a
	 * claim racing with a new spawn into the slot fails its CAS.  Reset
	 * by each spawn; raised by CAS by any participant holding a ref,
	 * lowered only by the owning worker when an entry is freed. */
	_Atomic uint16_t mon_claims;
	char behaviour[ACT_NAME_MAX + 1];
	char name[ACT_NAME_MAX + 1]; /* "$group.slot.gen" for an anonymous actor */
	char args[ACT__SPAWN_INLINE_ARGS]; /* NUL-terminated JSON text (ACT__ARGS_INLINE) */
};
_Static_assert(sizeof(struct act__spawn_rec) == 192, "spawn record size");
#define ACT__MON_CLAIMS(gen, n) ((uint16_t)((((gen) & 0xffu) << 8) | (n)))
/* act__spawn_rec.flags: reachable from the network (its behaviour says
 * remote: true); written by whoever writes the record, and again by the
 * group when it starts the actor (a spawner may not know the behaviour:
 * actorsctl's supervisor does not see modules). */
#define ACT__SPAWN_REMOTE 1u

/* A slot's overflow block: touched only when the actor has monitors or
 * args longer than ACT__SPAWN_INLINE_ARGS - 1 bytes. */
struct act__spawn_ext {
	struct act__spawn_mon mon[ACT__SPAWN_MONITORS];
	char args[ACT__SPAWN_ARGS_MAX + 1]; /* NUL-terminated JSON text (ACT__ARGS_EXT) */
};
_Static_assert(sizeof(struct act__spawn_ext) == ACT__SPAWN_EXT_BYTES, "spawn ext size");

/* The head of a group's spawn area (one page), then its records. */
struct act__dyn_hdr {
	/* Slots at and above hi were never used: readers scan below it.  Any
	 * participant claims a fresh slot by raising hi by one (CAS, release)
	 * before it writes the slot's record. */
	_Atomic uint32_t hi;
	uint32_t reserved0;
	/* Group 1's only: the node-wide lock over named spawns (0 = free,
	 * else (participant + 1) << 32 | low bits of the holder's
	 * act__part.generation), so that two groups cannot create the same
	 * name.  A dead holder's lock is taken over (dyn-remote.c). */
	_Atomic uint64_t name_lock;
	/* Counters of the group's worker (single writer, relaxed): restarts
	 * of its spawned actors by their parents' policies, and failures of
	 * them that escalated to their parent (children.c). */
	_Atomic uint64_t n_child_restarts;
	_Atomic uint64_t n_child_escalations;
	/* Under the name lock: entries of the name index ever filled since
	 * its last rebuild (live or dead), and 1 while a rebuild runs (a
	 * holder that dies in one leaves it set: whoever takes its lock over
	 * rebuilds again, from the records).  See dyn-remote.c. */
	uint32_t name_used;
	uint32_t name_rebuilding;
	uint32_t reserved[6];
};
_Static_assert(sizeof(struct act__dyn_hdr) == 64, "act__dyn_known follows at 64");
/*
 * In the head page, after struct act__dyn_hdr: the behaviours the group's
 * worker can spawn, published by each worker as it starts (64-bit FNV-1a
 * hashes of their names, act__fnv1a with ACT__FNV_SEED), so that a spawner
 * in another process - another group, or the supervisor for actorsctl,
 * which does not see the modules' behaviours - tells an unknown behaviour
 * at the call (-ENOENT) without asking the group.  n: 0 = not published
 * yet (a group never started: the spawn goes ahead and the group checks
 * on start), above ACT__DYN_KNOWN_MAX = too many to list (not checked).
 * Written with relaxed stores then n with a release store; read n
 * (acquire) then the hashes.  Added in layout 6's spare bytes: a region
 * without it reads n = 0.
 */
#define ACT__DYN_KNOWN_MAX 500u
struct act__dyn_known {
	_Atomic uint32_t n;
	uint32_t reserved;
	_Atomic uint64_t hash[ACT__DYN_KNOWN_MAX];
};
_Static_assert(64 + sizeof(struct act__dyn_known) <= 4096, "known behaviours fit the head page");

/*
 * After the head, in the same header block: the group's name index, an
 * open-addressing table of act__dyn_name_idx(n_slots) entries over the named
 * records of its area.  Read and written only under the node-wide name
 * lock.  An entry counts while its record's word still has its gen (and
 * is not FREE); dead entries are reused by inserts and not emptied one by
 * one, so probe chains stay whole without deletion; when filled entries
 * (act__dyn_hdr.name_used) pass 3/4 of the table, the next insert
 * rebuilds it from the records, so probes stay short however many names
 * come and go.
 */
struct act__name_ent {
	uint32_t hash;       /* of the name */
	uint32_t slot1;      /* slot + 1, 0 = never used */
	uint32_t gen;        /* the tenant's generation */
	uint32_t reserved;
};
/* A group of n_slots slots: its name index has the smallest power of two
 * of entries at least 2 * n_slots (so an insert always finds a dead or
 * empty entry), and its header block is the head page plus the index. */
static inline uint32_t act__dyn_name_idx(uint32_t n_slots)
{
	uint32_t n = 1;
	while (n < 2u * n_slots)
		n <<= 1;
	return n;
}
static inline uint64_t act__dyn_hdr_bytes(uint32_t n_slots)
{
	return 4096u + (uint64_t)act__dyn_name_idx(n_slots) * sizeof(struct act__name_ent);
}

/* Where group g's spawn area lives (act__region.dyn[g]; [0] is unused). */
struct act__dyn_group {
	uint64_t off;      /* the area (its act__dyn_hdr), from the region start */
	uint64_t ext_off;  /* its ext blocks, from the region start */
	uint32_t base;     /* first id: ACT__DYN_BASE + base */
	uint32_t n_slots;  /* capacity, 1..ACT__DYN_SLOTS_MAX */
};

/*
 * Per-actor statistics (stats.c).  A self-describing area in the last
 * pages of the region, outside the region header's checksummed fields so
 * that the spawn areas can change size without moving it: the region's
 * final ACT__STATS_HDR_BYTES hold struct act__stats_hdr, which says where
 * its entries are.  A region without it (no magic there) simply has no
 * per-actor statistics; readers and writers then skip them.
 *
 * One entry per static actor (by id), then per group ACT__STATS_DYN_SLOTS
 * entries for its spawn slots (by slot).  Every field of an entry is
 * written by one process only - the worker of the actor's group - with
 * plain relaxed stores (no locked instructions), except n_refused and
 * n_keyless, which senders in any process bump with an atomic add (in the
 * entry's last line, apart from the worker's).
 * The supervisor reads with relaxed loads: a scrape may see a handled
 * count one ahead of its histogram, never a torn word.
 *
 * Handling time (handler start to return) and time in the mailbox (the
 * envelope written to its handler started, act__env.sent_ns) go into log2
 * buckets, for the envelopes that carry a send time (a sample, stats.h):
 * bucket i (< ACT__STATS_BUCKETS - 1)
 * counts handlers that took less than 2^(ACT__STATS_B0_SHIFT + i) ns and
 * at least the previous bound; the last bucket is +Inf.
 */
#define ACT__STATS_MAGIC     0x5354415453544341ull /* "ACTSTATS" */
#define ACT__STATS_VERSION   1u
#define ACT__STATS_HDR_BYTES 4096u
#define ACT__STATS_BUCKETS   24u
#define ACT__STATS_B0_SHIFT  10u    /* first bound 1024 ns; the last finite ~4.3 s */
/* Per-actor statistics cover the first 16384 slots of each group (a
 * group with a larger max_spawned has no per-actor figures above it). */
#define ACT__STATS_DYN_SLOTS ACT__DYN_SLOTS_DEFAULT

struct act__astat {
	/* Spawn slots: the generation these counters belong to.  The worker
	 * zeroes the entry when a new tenant handles its first envelope; a
	 * reader shows zeros for a live record whose gen differs. */
	_Atomic uint32_t gen;
	uint32_t reserved;
	_Atomic uint64_t n_handled;
	_Atomic uint64_t n_redelivered;
	_Atomic uint64_t n_dead_letters;  /* addressed to it, dropped */
	/* Was n_refused, until senders' atomic adds on this line (the line of
	 * n_handled) were seen taking it from the worker on every refusal:
	 * now in the last line, with the other counters any sender bumps.
	 * Reads 0 in a region of an older build. */
	uint64_t reserved_was_refused;
	_Atomic uint64_t handling_ns_sum;
	_Atomic uint64_t mailbox_ns_sum;  /* written -> its handler began */
	uint64_t reserved2;
	_Atomic uint64_t handling_hist[ACT__STATS_BUCKETS];
	_Atomic uint64_t mailbox_hist[ACT__STATS_BUCKETS];
	/* Spawned actors: restarts by its parent's policy, and its failures
	 * that escalated to its parent (children.c). */
	_Atomic uint64_t n_policy_restarts;
	_Atomic uint64_t n_escalations;
	/* Sends to it (an actor of a key_hash pool) whose message had no
	 * usable key: routed to member 0 (pool.c).  Any sender adds (atomic
	 * add); what was reserved space, so a region of an older build reads 0. */
	_Atomic uint64_t n_keyless;
	_Atomic uint64_t n_refused;       /* sends to it refused (ring full): any sender adds */
	uint64_t reserved3[4];
};
/* The counters every sender may bump sit on a line of their own (and in
 * a 128-byte pair apart from the worker's hot counters), so that a
 * refused send does not take the receiving worker's line from it. */
_Static_assert(offsetof(struct act__astat, n_keyless) >= 384 &&
               offsetof(struct act__astat, n_refused) >= 384, "senders' counters apart");
_Static_assert(sizeof(struct act__astat) == 512, "act__astat is 512 bytes");

struct act__stats_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t entry_bytes;   /* sizeof(struct act__astat) */
	uint32_t n_static;      /* entries for static actors, by id */
	uint32_t n_groups;      /* groups with a range of spawn-slot entries */
	uint32_t dyn_slots;     /* entries per group */
	uint32_t n_buckets;     /* ACT__STATS_BUCKETS */
	uint32_t b0_shift;      /* ACT__STATS_B0_SHIFT */
	uint32_t reserved;
	uint64_t entries_off;   /* first entry, from the start of the region */
	uint64_t checksum;      /* of the fields above */
};

/* The region header, at offset 0. */
struct act__region {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_bytes;        /* sizeof(struct act__region) */
	uint64_t size;             /* total bytes of the region */
	uint64_t generation;       /* random per creation */
	uint32_t n_parts;          /* supervisor + groups */
	uint32_t n_actors;
	uint32_t n_types;
	uint32_t part_bytes;       /* sizeof(struct act__part) */
	uint64_t parts_off;
	uint64_t rings_off;        /* the ring table: n_parts * n_parts entries */
	/*
	 * Layout 8: the touched bitmap, n_parts * n_parts bits in 64-bit
	 * words, bit (from * n_parts + to), right after the ring table.  A
	 * ring's bit is set (fetch_or, release) by its producer once it has
	 * formatted the ring's header, before it commits the first record;
	 * it is never cleared while the region lives.  A clear bit says the
	 * ring's pages were never written: it is empty, its constants are
	 * implied by the ring table (capacity) and its consumer's
	 * act__part (max_msg), and reading it would only allocate a page.
	 * Read it with acquire before any field of the ring.
	 */
	uint64_t touched_off;
	uint64_t directory_hash;   /* hash of all group, actor and type names */
	uint64_t checksum;         /* of everything above, see act__region_checksum */
	_Atomic uint32_t stopping; /* set by the supervisor when the node stops */
	int32_t supervisor_pid;
	/* spawn areas (layout 5): see struct act__dyn_group */
	uint64_t dyn_off;          /* the first area */
	uint32_t dyn_shift;        /* log2 of the id stride between groups */
	uint32_t spawn_rec_bytes;  /* sizeof(struct act__spawn_rec) */
	uint32_t spawn_ext_bytes;  /* sizeof(struct act__spawn_ext) */
	uint32_t reserved_dyn;
	struct act__dyn_group dyn[ACT__MAX_PARTS];
	uint64_t dyn_checksum;     /* of the fields above, from dyn_off */
	/*
	 * Layout 7: the supervisor's incarnation, for a restarted (or
	 * re-executed) supervisor that adopts the region (supervisor/recover.c).
	 * Written by the supervisor only, before any worker starts or after
	 * every worker of the last incarnation is dead, so outside the
	 * checksums (which cover only what never changes).
	 */
	_Atomic uint64_t epoch;       /* 1 at creation, +1 per adoption */
	_Atomic uint64_t sup_start;   /* supervisor_pid's start time, clock ticks
	                               * since boot (/proc/PID/stat field 22) */
	_Atomic uint64_t n_adoptions; /* how many supervisors adopted this region */
	uint64_t reserved_sup[5];
};

/* The format is frozen in bytes, not in names: the limits above must not move it. */
_Static_assert(ACT_NAME_MAX + 1 == 64, "act__part name fields are 64 bytes in layout 2");

/*
 * Topics and per-type figures (topic.c, intercept.c): one self-describing
 * area right after the last spawn area (where act__topic_area_off() finds
 * it from the checksummed spawn table), carrying its own magic and
 * version like the statistics area, so it changes without bumping
 * ACT__LAYOUT_VERSION.  Untouched pages of it cost nothing.
 *
 * The topic table is open addressing over ACT__TOPICS_MAX entries by the
 * name's hash.  An entry's word goes FREE -> BUSY (CAS by the creating
 * participant, which then writes name, hash and flags) -> LIVE (release
 * store); entries are never freed, so a probe passes a LIVE entry of
 * another name and waits (bounded) on a BUSY one: two groups creating one
 * name at once end on the same entry.  Readers (publish) take no lock.
 *
 * Members: members[] holds (id + 1) << 32 | gen words, 0 = empty.  Only the
 * member's own worker adds itself (CAS 0 -> word, at or above no limit but
 * ACT__TOPIC_MEMBERS) and removes itself (CAS word -> 0); publishers may
 * also clear a word whose spawned actor is gone (CAS word -> 0).  n_hi is
 * raised (CAS to a maximum) before a word at or above it is stored, so a
 * publisher scanning [0, n_hi) sees every member that joined before it.
 */
#define ACT__XAREA_MAGIC    0x4349504f54525443ull /* "CTRTOPIC" */
#define ACT__XAREA_VERSION  1u
#define ACT__TOPICS_MAX     256u   /* topics per node, a power of two */
#define ACT__TOPIC_NAME_MAX 63u
#define ACT__TOPIC_MEMBERS  1024u  /* members per topic */
#define ACT__IC_MAX         16u    /* interceptors per worker */
#define ACT__IC_NAME_MAX    31u
#define ACT__TSTAT_TYPES    128u   /* per-type figures for type ids below this */

enum { ACT__TOPIC_FREE = 0, ACT__TOPIC_BUSY = 1, ACT__TOPIC_LIVE = 2 };
/* act__topic.flags */
#define ACT__TOPIC_REMOTE 1u  /* peers may publish to it through the gateway */

struct act__topic {
	_Atomic uint32_t state;     /* ACT__TOPIC_*; BUSY | creator << 8 */
	uint32_t hash;              /* of the name (act__topic_hash) */
	_Atomic uint32_t flags;     /* ACT__TOPIC_REMOTE: set by the supervisor */
	_Atomic uint32_t n_hi;      /* members[] at and above it were never used */
	char name[ACT__TOPIC_NAME_MAX + 1];
	/* counters, bumped by publishers in any process (atomic adds) */
	_Atomic uint64_t n_published;
	_Atomic uint64_t n_delivered;  /* envelopes put into a member's ring */
	_Atomic uint64_t n_refused;    /* members whose ring was full */
	_Atomic uint64_t n_joins;
	_Atomic uint64_t n_leaves;
	uint64_t reserved[5];
	_Atomic uint64_t members[ACT__TOPIC_MEMBERS];
};
_Static_assert(sizeof(struct act__topic) == 160 + 8 * ACT__TOPIC_MEMBERS, "topic entry size");

/*
 * Per-type handling figures of one group (written by its worker only,
 * relaxed stores; the supervisor reads them): handling time of the sampled
 * envelopes (the ones act__stats times, same buckets as act__astat), and
 * messages dropped by interceptors, per interceptor and type.
 */
struct act__tstat {
	_Atomic uint64_t n_timed;
	_Atomic uint64_t ns_sum;
	_Atomic uint64_t n_dropped;    /* by any interceptor */
	uint64_t reserved;
	_Atomic uint64_t hist[ACT__STATS_BUCKETS];
};
struct act__gstat {
	_Atomic uint32_t n_ic;         /* interceptors of the running worker */
	uint32_t reserved[15];
	char ic_name[ACT__IC_MAX][ACT__IC_NAME_MAX + 1];
	char type_name[ACT__TSTAT_TYPES][ACT_NAME_MAX + 1]; /* written on first use */
	struct act__tstat types[ACT__TSTAT_TYPES];
	_Atomic uint64_t ic_drops[ACT__IC_MAX][ACT__TSTAT_TYPES];
};

struct act__xarea {
	uint64_t magic;
	uint32_t version;
	uint32_t n_topics;          /* ACT__TOPICS_MAX */
	uint32_t topic_bytes;       /* sizeof(struct act__topic) */
	uint32_t n_groups;          /* act__gstat blocks, group g at [g - 1] */
	uint32_t gstat_bytes;       /* sizeof(struct act__gstat) */
	uint32_t reserved0;
	uint64_t topics_off;        /* from the start of this area */
	uint64_t gstat_off;
	uint64_t bytes;             /* of the whole area */
	uint64_t reserved[8];
};

#endif
