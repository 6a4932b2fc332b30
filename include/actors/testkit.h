/* SPDX-License-Identifier: MIT */
/*
 * actors/testkit.h - unit tests for actors: deterministic, in one process,
 * on a virtual clock, without sleeping.
 *
 *     act_test_t *t = act_test_new();
 *     act_ref probe, counter;
 *     act_test_probe(t, "probe", &probe);
 *     act_test_spawn(t, &counter_behaviour, "counter", NULL, &counter);
 *     act_test_run(t);                              // init ran; Start now
 *     act_test_send(t, probe, counter, &incr_type, &(incr_msg){ 2 });
 *     act_test_advance(t, 1000);                    // timers due in 1 s fire
 *     act_test_take(t, probe, &type, &msg, &sender); // what counter sent
 *     act_test_free(t);
 *
 * The actors run on the runtime's own code: the same operations behind
 * act_ctx (act_send, act_reply, act_forward, act_ask, timers, act_lookup,
 * act_stop_self), the same packed envelopes (variable-length fields are
 * copied and checked as a ring would), the same timer store and ask
 * table, the same dead-letter rules.  Only the transport (a FIFO instead
 * of rings) and the clock (virtual, starting at 0; act_now_ns() reads it)
 * differ.  Handlers may spawn (act_spawn, behaviours registered with
 * act_test_add_behaviour()), stop, monitor and fail actors as in a node:
 * the testkit's one group is named "test", and each actor made by
 * act_test_spawn() or act_test_probe() acts as a group of its own
 * together with the actors spawned under it: act_test_crash() restarts
 * that set.  Envelopes to remote refs reach nobody and count as dead
 * letters.  Up to 16384 actors made by the test and 16384 spawned ones
 * live at once.  Several testkits may be alive in one process if they
 * register the same types in the same order (the types declared with
 * ACT_MESSAGE_TYPE always are); act_now_ns() reads the clock of the one
 * last made or used.  Not thread-safe.
 */
#ifndef ACTORS_TESTKIT_H
#define ACTORS_TESTKIT_H

#include <actors/common.h>
#include <actors/message.h>
#include <actors/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct act_test act_test_t;

/* A new, empty testkit (every declared type registered), or NULL (OOM). */
ACT_API act_test_t *act_test_new(void);
/* Stops every live actor (its fini runs) and frees everything.  NULL-safe. */
ACT_API void act_test_free(act_test_t *t);

/* Registers a type that is only sent (see act_node_add_type()). */
ACT_API int act_test_add_type(act_test_t *t, act_type *type);

/*
 * Makes behaviour b spawnable by name from handlers (act_spawn), as
 * act_node_add_behaviour() does for a node.  0, -EEXIST for another
 * behaviour of that name, -EINVAL, -ENOMEM, -EBUSY from a handler.
 */
ACT_API int act_test_add_behaviour(act_test_t *t, const act_behaviour *b);

/*
 * An actor of behaviour b named `name`, run in this process (no fork);
 * init runs now with args_json (may be NULL); Start{restart = false} is
 * delivered on the next act_test_run().  -EEXIST for a taken name,
 * -EINVAL, -ENOSPC beyond 16384 actors, -ENOMEM; init's non-zero return is
 * returned (negative; the actor then counts as stopped).
 */
ACT_API int act_test_spawn(act_test_t *t, const act_behaviour *b, const char *name,
                           const char *args_json, act_ref *out);

/* A probe: an actor that records every envelope it receives. */
ACT_API int act_test_probe(act_test_t *t, const char *name, act_ref *out);

/*
 * Sends as if `from` had sent it (from may be a probe, any actor of t, or
 * ACT_NOBODY).  The errors of act_send(); -ENOENT for an unknown from.
 */
ACT_API int act_test_send(act_test_t *t, act_ref from, act_ref to, const act_type *type,
                          const void *msg);

/*
 * Delivers envelopes in FIFO order until nothing is pending; returns how
 * many handlers ran (ask callbacks included), or a negative error:
 * -EBUSY when called from a handler, -ELOOP after 10 million deliveries
 * (actors that never go quiet), an init's error after a restart.
 * Deterministic: the same calls give the same deliveries.
 */
ACT_API int act_test_run(act_test_t *t);

/*
 * Advances the virtual clock by ms: runs, then fires due timers and ask
 * timeouts in deadline order, each at its exact time (act_now_ns() then
 * says so), running what they sent before the next fires.  Returns how
 * many handlers ran, or a negative error as act_test_run().
 */
ACT_API int act_test_advance(act_test_t *t, uint64_t ms);

/* The virtual clock, in ms since the testkit was made. */
ACT_API uint64_t act_test_now_ms(const act_test_t *t);

/*
 * Takes the oldest envelope the probe received: 0 and its type, message
 * (valid until the next act_test_take() or act_test_free()) and sender
 * (any pointer may be NULL), or -ENOENT if it has none (-EINVAL: not a probe).
 */
ACT_API int act_test_take(act_test_t *t, act_ref probe, const act_type **type,
                          const void **msg, act_ref *sender);

/*
 * Simulates a crash of the actor's group: the actor made by
 * act_test_spawn() that `who` is or was spawned under, with every actor
 * spawned under it.  State dropped (fini does not run, timers, asks and
 * its monitors die with it), init runs again; spawned permanent and
 * transient actors are re-created (same ref, name and args; init again),
 * temporary ones are gone: their monitors get Down "crashed: signal 9"
 * and envelopes to them are dead letters.  Then Start{restart = true,
 * n_restarts, last_signal = SIGKILL} is delivered to each (the static
 * actor first, then the spawned ones in slot order), then the envelope
 * being handled (if called from a handler of that group) is redelivered
 * with act_redelivered() counting up; after max_redeliveries (3) it is a
 * dead letter instead.  From a handler the crash happens when that
 * handler returns.  0, -ENOENT, or init's error.
 */
ACT_API int act_test_crash(act_test_t *t, act_ref who);

/*
 * The state of actor `who` (its behaviour's state_size bytes), for tests to
 * inspect, or NULL for an unknown ref.  Valid until its next restart.
 * A testkit cannot release what a crashed process would lose to the
 * kernel (file descriptors, locks, mappings, heap): a test that crashes an
 * actor holding such resources releases them through this pointer first.
 */
ACT_API void *act_test_state(act_test_t *t, act_ref who);

/* Dead letters so far (the node's rules: no handler, receiver stopped,
 * late reply, poison envelope; plus sends to remote refs). */
ACT_API size_t act_test_dead_letters(const act_test_t *t);

/* True once an actor called act_shutdown(). */
ACT_API bool act_test_shutdown_requested(const act_test_t *t);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_TESTKIT_H */
