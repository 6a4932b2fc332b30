/* SPDX-License-Identifier: MIT */
/*
 * actors/actor.h - behaviours, refs and the operations a handler can call.
 *
 * A behaviour is what an actor does: its state size, init/fini hooks and a
 * table of handlers keyed by message type.  Handlers run to completion on
 * the group's single thread and reach the runtime through act_ctx, which is
 * valid only during the call that received it.
 */
#ifndef ACTORS_ACTOR_H
#define ACTORS_ACTOR_H

#include <actors/common.h>
#include <actors/message.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A reference to an actor, passed by value.  Local refs name an actor of
 * this node by its node-wide id; remote refs (issue: gateway) name an actor
 * on another node.  The zero value is "nobody".  A spawned actor's ref also
 * carries its slot's generation: once that actor stopped, the ref is stale
 * for good (sends fail with -ENOENT or become dead letters), even after a
 * new actor took the slot.  Static actors have generation 0.
 */
typedef struct act_ref {
	uint32_t id;    /* local: actor id + 1; 0 = nobody */
	uint32_t peer;  /* 0 = local; otherwise a remote-peer slot + 1 */
	uint32_t gen;   /* local spawned actors: the slot's generation, else 0 */
} act_ref;

#ifdef __cplusplus
#define ACT_NOBODY (act_ref{0, 0, 0}) /* C++11 has no compound literals */
#else
#define ACT_NOBODY ((act_ref){0, 0, 0})
#endif

static inline bool act_ref_is_nobody(act_ref r) { return r.id == 0 && r.peer == 0; }
static inline bool act_ref_eq(act_ref a, act_ref b)
{
	return a.id == b.id && a.peer == b.peer && a.gen == b.gen;
}

/* Restart types: of groups (act_node_set_restart) and of spawned actors
 * (act_behaviour.restart). */
typedef enum act_restart_type {
	ACT_PERMANENT = 0,   /* always restarted */
	ACT_TRANSIENT,       /* restarted only after an abnormal exit */
	ACT_TEMPORARY,       /* never restarted */
} act_restart_type;

/*
 * Supervision strategies: of the node over its groups
 * (act_node_set_strategy, see actorsd(8)), and of a spawning actor over
 * its children (act_child_policy below), where "group" reads "child".
 */
typedef enum act_strategy {
	ACT_ONE_FOR_ONE = 0, /* restart only the group that died */
	ACT_ONE_FOR_ALL,     /* stop all other groups, restart all */
	ACT_REST_FOR_ONE,    /* restart the dead group and those started after it */
} act_strategy;

/* What a parent does about a child that failed (act_child_policy). */
typedef enum act_directive {
	ACT_CHILD_STOP = 0, /* the child stops; its monitors get Down "failed: ..." */
	ACT_CHILD_RESTART,  /* fini, then fresh (zeroed) state, init and Start again */
	ACT_CHILD_RESUME,   /* the child keeps its state; the failing message is dropped */
	ACT_CHILD_ESCALATE, /* the child stops, and the parent fails in turn */
} act_directive;

typedef struct act_ctx act_ctx;

/*
 * How an actor supervises the actors it spawned (its children), like
 * Akka's OneForOneStrategy/AllForOneStrategy and an OTP supervisor's
 * flags.  A child *fails* when a handler of it (or an ask callback, or
 * its Start) calls act_fail(), or when its init returns non-zero while it
 * is being restarted; a crash of the worker is not a failure of a child
 * (the group's restart covers it).
 * The parent's policy then applies:
 *   directive  what to do (decide, if set, chooses per failure instead);
 *   strategy   to whom: ACT_ONE_FOR_ONE the failed child only;
 *              ACT_ONE_FOR_ALL every child of the parent (restart all,
 *              or stop all); ACT_REST_FOR_ONE the failed child and the
 *              children spawned after it.  RESUME and ESCALATE concern
 *              the failed child only.
 *   intensity  more than max_restarts (0: 1, OTP's default; at most 1024)
 *              restarts within period_ms (0: 5000) - counted per child
 *              with ACT_ONE_FOR_ONE, per parent otherwise - turn the
 *              restart into ESCALATE.  RESUME after a failed init is STOP.
 * A restarted child keeps its ref, name, args and monitors (no Down is
 * sent) and gets Start with restart = true and n_restarts = how many
 * times its parent restarted it; its own children are stopped first.
 * A parent that fails by escalation is handled by its own parent's policy;
 * if it has no parent with a policy (a static actor, or a spawned one whose
 * parent declares none), the whole group fails: its worker stops its
 * actors and exits ACT_EXIT_TEMPORARY (111), and the node restarts the
 * group as its restart type and strategy say.
 * Without a policy (act_behaviour.children == NULL), a failed child stops
 * with Down "failed: <reason>", as ACT_CHILD_STOP.
 * An init that fails inside act_spawn() is not a failure: act_spawn()
 * returns its code and nothing is created (OTP's start_child does the
 * same).  Nor is one when a crashed worker re-creates the child: that
 * child stops with Down "failed: init returned N on restart".
 */
typedef struct act_child_policy {
	act_strategy strategy;
	act_directive directive;
	uint32_t max_restarts;
	uint32_t period_ms;
	/*
	 * Optional: the directive for this failure, chosen by the parent.  It
	 * runs in the parent's context (ctx and state are the parent's; it may
	 * send), with the child's ref and the reason ("failed: ...").  A value
	 * out of range counts as ACT_CHILD_STOP.
	 */
	act_directive (*decide)(act_ctx *ctx, void *state, act_ref child, const char *reason);
} act_child_policy;

/* A handler: msg is the message's struct, valid until the handler returns. */
typedef void (*act_handler_fn)(act_ctx *ctx, void *state, const void *msg);

typedef struct act_handler {
	const act_type *type;
	act_handler_fn fn;
} act_handler;

/*
 * init runs in the worker before Start is delivered, with the actor's JSON
 * arguments (NULL if none) and zeroed state; a non-zero return is a
 * permanent error: the worker exits with ACT_EXIT_PERMANENT.  fini runs
 * when the actor stops (Shutdown, act_stop_self); it may not send.
 */
typedef struct act_behaviour {
	const char *name;
	size_t state_size;
	int (*init)(act_ctx *ctx, void *state, const char *args_json);
	void (*fini)(act_ctx *ctx, void *state);
	const act_handler *handlers;
	size_t n_handlers;
	/* Optional: called for a message type with no handler (else: dead letter). */
	act_handler_fn on_unhandled;
	/*
	 * Actors of this behaviour created with act_spawn(): permanent and
	 * transient ones that are running when their worker crashes are
	 * re-created (same name, ref, parent and args) before the restarted
	 * worker delivers any envelope; temporary ones are lost with it.
	 */
	act_restart_type restart;
	/*
	 * Spawned actors of this behaviour may be addressed by name from other
	 * nodes through the gateway (what act_node_set_remote() says for a
	 * declared actor).  actorsctl send reaches every named actor either way.
	 */
	bool remote;
	/* Optional: how actors of this behaviour supervise the actors they
	 * spawn (see act_child_policy); NULL: a failed child just stops. */
	const act_child_policy *children;
	/*
	 * Optional state handoff for a reload (actorsctl reload, SIGHUP) that
	 * restarts this actor's group with new code -- Erlang's code_change.
	 * export_state runs in the old worker after its last handler returned
	 * (no envelope is handled after it) and appends whatever it wants to
	 * keep to *out (bytes or JSON text, its own format: out->ptr is
	 * malloc()ed by the callee, out->len its length; the runtime frees
	 * it).  It returns 0, or a negative code to hand nothing over.
	 * import_state runs in the new worker right after init (spawned
	 * actors: after they were re-created) and before any envelope, with
	 * the bytes the old instance exported; a negative return is logged and
	 * the actor keeps what init gave it.  Neither runs on a crash restart.
	 * Both NULL: the new instance starts from init alone.
	 */
	int (*export_state)(act_ctx *ctx, void *state, act_buf *out);
	int (*import_state)(act_ctx *ctx, void *state, const void *data, size_t len);
} act_behaviour;

/* ---- names ---------------------------------------------------------------- */

/* Resolves an actor name of this node.  -ENOENT if there is none. */
ACT_API int act_lookup(act_ctx *ctx, const char *name, act_ref *out);
/* This actor's ref, and its name. */
ACT_API act_ref act_self(const act_ctx *ctx);
ACT_API const char *act_self_name(const act_ctx *ctx);
/* The calling actor's member number (0..n-1) if its group is a pool
 * (act_node_set_pool(), app file "pool"), else -1. */
ACT_API int act_pool_member(const act_ctx *ctx);
/* Name of any local or remote actor ref, or NULL. */
ACT_API const char *act_ref_name(const act_ctx *ctx, act_ref ref);

/*
 * A ref to actor `name` on another node whose PULL socket is at endpoint
 * (e.g. "tcp://host:5002"; a bind address such as tcp:// + "*:5002" is
 * normalised to localhost).  Sending to it goes through the supervisor's
 * gateway as JSON (the message type's descriptor is the codec).  Returns
 * ACT_NOBODY if the name or endpoint is unusable or the table is full
 * (1024 remote refs per group).  endpoint "@NAME" names a peer of the app
 * file ("peers"): its endpoint, and - if the app file gives its
 * "server_key" - CURVE on the way there (as act_lookup("actor@NAME")).
 */
ACT_API act_ref act_ref_remote(act_ctx *ctx, const char *name, const char *endpoint);

/* ---- the envelope being handled ------------------------------------------- */

/* Sender of the current message (ACT_NOBODY for timers, Start, clients). */
ACT_API act_ref act_sender(const act_ctx *ctx);
/* The current message's type. */
ACT_API const act_type *act_msg_type(const act_ctx *ctx);
/*
 * 0 on first delivery; otherwise how many times this envelope was delivered
 * before and never finished (its handler's worker died).
 */
ACT_API uint32_t act_redelivered(const act_ctx *ctx);

/* ---- operations ----------------------------------------------------------- */

/*
 * Sends msg (of type t) to `to`, fire-and-forget.  Returns 0 once the
 * envelope is in the receiver's ring; ACT_EFULL if the ring is full (nothing
 * was sent, the refusal is counted); ACT_ESTOPPED if it is full because the
 * receiver quarantined it as corrupt and reads it no more, or if the
 * receiver's group will not run until restarted (removed by a reload, or
 * done or failed: counted in its status); -EMSGSIZE if it
 * exceeds the ring's record limit; -ENOENT for an unknown ref; -EINVAL if
 * the node does not know t (declare types with ACT_MESSAGE_TYPE, which
 * registers them before the node starts; a descriptor built by hand needs
 * act_type_declare() or act_node_add_type()) - logged once per actor and
 * type.  Never blocks.  From handlers, init and Start only.
 */
ACT_API int act_send(act_ctx *ctx, act_ref to, const act_type *t, const void *msg);

/* Sends to the sender of the current message (local or remote).  The
 * answer to a local act_ask() that finds the ring full waits in this
 * worker and goes when there is room (0 is returned): see act_ask(3). */
ACT_API int act_reply(act_ctx *ctx, const act_type *t, const void *msg);

/* Forwards the current message unchanged to `to`, keeping its sender. */
ACT_API int act_forward(act_ctx *ctx, act_ref to);

/*
 * The completion of an ask: status is 0 with the reply's type and message,
 * or ACT_ETIMEDOUT (type and reply NULL).  For an ask to a remote ref also
 * ACT_EREJECTED, with reply_type &act_reject_type and the act_reject (the
 * remote node, or our gateway, could not deliver the request: reason says
 * why), or ACT_EPROTO (type and reply NULL) for a reply this node cannot
 * decode.  Runs on the asking actor's thread, like a handler, with the
 * asking actor's state.
 */
typedef void (*act_ask_fn)(act_ctx *ctx, void *state, int status,
                           const act_type *reply_type, const void *reply,
                           uint64_t cookie);

/*
 * Sends msg as a request.  The first act_reply() to it comes back to cb
 * (not to the handler table) with `cookie`; if none comes within
 * timeout_ms, cb runs with ACT_ETIMEDOUT, and a late reply is counted as a
 * dead letter.  Never blocks.  Same errors as act_send, plus -ENOSPC if the
 * worker has 3072 asks outstanding (a limit per group, shared by all its
 * actors).
 *
 * `to` may be a remote ref (act_ref_remote(), act_lookup("a@peer")): the
 * request leaves with sender_actor "<asker>~ask-<n>.<token>", a name of
 * its own that the peer answers like any sender (no new wire field), and
 * the first envelope that comes back to that name completes the ask -
 * a Reject as ACT_EREJECTED.  The name is retired on the reply or at
 * timeout_ms; what comes to it later is a dead letter (gateway "asks").
 */
ACT_API int act_ask(act_ctx *ctx, act_ref to, const act_type *t, const void *msg,
                    uint32_t timeout_ms, act_ask_fn cb, uint64_t cookie);

/* ---- timers: deliver Timeout{id} to this actor ---------------------------- */

/* One Timeout{id} after delay_ms.  Setting an id that is pending replaces it. */
ACT_API int act_timer_once(act_ctx *ctx, uint64_t delay_ms, int64_t id);
/* Timeout{id} every period_ms (> 0) until cancelled. */
ACT_API int act_timer_periodic(act_ctx *ctx, uint64_t period_ms, int64_t id);
/* Cancels timer id of this actor: 0, or -ENOENT if it was not pending. */
ACT_API int act_timer_cancel(act_ctx *ctx, int64_t id);

/* ---- logging -------------------------------------------------------------- */

/* Levels of act_log(): syslog priorities, as journald reads them. */
typedef enum act_log_level {
	ACT_LOG_ERR = 3,
	ACT_LOG_WARN = 4,
	ACT_LOG_INFO = 6,
	ACT_LOG_DEBUG = 7
} act_log_level;

/*
 * Writes one log line for the calling actor to the node's log stream
 * (stderr, which journald or the terminal takes), tagged with the node,
 * the group, the actor's name and the worker's pid; dropped if level is
 * above $ACTORS_LOG_LEVEL (default info).  The line is cut at about 1 KiB
 * and written with one write(2); control characters in the text are
 * escaped, so a line cannot forge another.  With ACTORS_LOG_FORMAT=json
 * the line is one JSON object.  ctx may be NULL (then no actor is named).
 * Only in the worker that runs the actor; does not block beyond the write.
 */
__attribute__((format(printf, 3, 4)))
ACT_API void act_log(const act_ctx *ctx, int level, const char *fmt, ...);

/* ---- lifecycle ------------------------------------------------------------ */

/*
 * Stops this actor after the current handler: its fini runs, its timers are
 * cancelled, and later messages to it are dead letters.
 */
ACT_API void act_stop_self(act_ctx *ctx);

/* Asks the node to shut down cleanly (Shutdown to every actor, then exit 0). */
ACT_API int act_shutdown(act_ctx *ctx);

/* ---- actors at run time -------------------------------------------------- */

/*
 * Creates an actor of a behaviour known to the node (act_node_add_behaviour()
 * or a module's act_module_add_behaviour()) in `group` (NULL: the caller's
 * group).  name: NULL for an anonymous actor (it gets a generated name,
 * "$G.S.N"), else unique on the node (-EEXIST); names starting with '$' are
 * reserved (-EINVAL).  args_json: passed to init (may be NULL; must be valid
 * JSON of at most ACT_SPAWN_ARGS_MAX bytes: -EINVAL, -EMSGSIZE).  The new
 * actor's parent is the caller.  In the caller's group its init and then
 * Start run before act_spawn() returns.  In another group they run when
 * that group reads the spawn (an init error is logged there); the ref is
 * usable at once all the same, and envelopes sent to it - by the caller,
 * in order, or by anyone it passed the ref to - are delivered after its
 * Start.  A non-zero return of a local init is returned (as a negative
 * code) and nothing is created.  The spawn record is in shared memory
 * before the ref is returned, so the actor outlives a crash of its worker
 * (or of the spawner's) if its behaviour is not ACT_TEMPORARY.  Names are
 * unique on the node: two groups spawning one name at the same instant get
 * 0 and -EEXIST.  Never blocks (a named spawn may wait microseconds for
 * another group's named spawn).  -ENOENT unknown group or behaviour,
 * -ENOSPC no room, ACT_EFULL the ring to another group is full.
 */
#define ACT_SPAWN_ARGS_MAX 743
ACT_API int act_spawn(act_ctx *ctx, const char *group, const char *behaviour,
                      const char *name, const char *args_json, act_ref *out);
/* Stops another actor (Shutdown to it, then its fini; its children first;
 * its monitors get Down "stopped").  An actor stopping itself this way stops
 * after the current handler; one in another group stops when that group
 * reads the request.  0, -ENOENT (unknown or stale ref), ACT_EFULL. */
ACT_API int act_stop(act_ctx *ctx, act_ref who);
/*
 * One Down{actor, reason} message to the caller when `who` stops, fails, or
 * is lost with its worker (at once, reason "noproc", if it is already gone).
 * Returns 0 and a monitor id.  For `who` in another group the check is
 * made there: an actor already gone gives Down "noproc".  A spawned actor
 * holds ACT_MONITORS_MAX monitors, from any group: one more is -ENOSPC.  A
 * static actor holds 4096: one more gets Down "noproc: too many monitors"
 * (-ENOSPC in its own group).  A target whose group is done or failed
 * gives its "noproc" Down at once, from the caller's own group; ACT_EFULL
 * (no monitor taken) if the caller's own ring has no room for it.
 * Monitors end with the caller: when it stops, and when its worker ends
 * (monitor again in Start) - but a caller in the group of a spawned `who`
 * keeps its monitors of it across that group's restarts (act_spawn(3)).
 */
/*
 * For a remote `who` (act_ref_remote()), the watch is on its node: Down
 * {actor, "peer unreachable"} from `who` once the peer's endpoint has had
 * no ZeroMQ connection for its peer_down_ms (app file "peers", default
 * 3000), at once if it is unreachable already.  The Down consumes the
 * monitor; monitor again to keep watching (there is no Up notice).  After
 * act_demonitor() no Down comes for it, not even one already on its way.
 * The watch ends, without a Down, when the caller stops or its worker ends
 * (a restart of its group, crash or reload: monitor again in Start).
 * -ENOMEM if the worker cannot note the monitor.
 */
#define ACT_MONITORS_MAX 8
ACT_API int act_monitor(act_ctx *ctx, act_ref who, uint64_t *monitor_id);
/* Removes a monitor: no Down will come for it.  0, -ENOENT (unknown, or
 * ended: its Down came, or it was removed), or ACT_EFULL (a monitor of an
 * actor in another group, whose ring is full: the monitor stays, and its
 * Down may still come; try again later). */
ACT_API int act_demonitor(act_ctx *ctx, uint64_t monitor_id);
/* Fails this actor after the current handler.  If its parent declares an
 * act_child_policy, that decides (restart, resume, stop, escalate);
 * otherwise it stops (fini runs) and its monitors get Down
 * "failed: <reason>". */
ACT_API void act_fail(act_ctx *ctx, const char *reason);

/* Monotonic time in nanoseconds, as the runtime's timers see it. */
ACT_API uint64_t act_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_ACTOR_H */
