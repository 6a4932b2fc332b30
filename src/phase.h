/* SPDX-License-Identifier: MIT */
/*
 * phase.h - private: timestamps of the phases of one restart, for
 * bench-restart (and anyone explaining a restart figure).
 *
 * Off unless a program points act__phase_ns at an array of ACT__PH_N
 * stamps in memory shared with every process of the node (a MAP_SHARED
 * area mapped before act_node_run(), which the zygote and the workers
 * inherit).  Each stamp keeps the first CLOCK_MONOTONIC time written
 * after the program zeroed it, so a bench clears the array, kills a
 * worker, and reads which phase took how long.  When off, a stamp is one
 * load and a predictable branch; nothing in a message's path stamps.
 */
#ifndef ACT_PHASE_H
#define ACT_PHASE_H

#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"

enum act__phase {
	ACT__PH_KILL,          /* the program sent SIGKILL (written by it) */
	ACT__PH_PIDFD,         /* supervisor: the dead worker's pidfd completion seen */
	ACT__PH_REAPED,        /* supervisor: waitid() reaped it, restart plan next */
	ACT__PH_SPAWN_REQ,     /* supervisor: fork request sent to the zygote, or the
	                          standby told to take over */
	ACT__PH_ZYGOTE,        /* zygote: request read */
	ACT__PH_CHILD,         /* new worker: first instruction after its fork */
	ACT__PH_ASSIGNED,      /* a prefork read its assignment (spawn.h) */
	ACT__PH_ADOPTED,       /* new worker: re-parented, past PDEATHSIG */
	ACT__PH_SPAWN_REP,     /* supervisor: the zygote's answer read (pid known) */
	ACT__PH_SETUP,         /* worker: region attached, actors allocated */
	ACT__PH_STANDBY_WAKE,  /* standby: woken (by the death, or by the supervisor) */
	ACT__PH_STANDBY_GO,    /* standby: told to take over */
	ACT__PH_STARTED,       /* worker: init and Start ran, READY sent */
	ACT__PH_READY_SEEN,    /* supervisor: READY read */
	ACT__PH_HANDLED,       /* the program: first message handled (written by it) */
	ACT__PH_N
};

/* NULL (off), or ACT__PH_N stamps shared by the node's processes. */
extern _Atomic uint64_t *act__phase_ns;

static inline void act__phase(enum act__phase p)
{
	_Atomic uint64_t *s = act__phase_ns;
	uint64_t zero = 0;
	if (__builtin_expect(s != NULL, 0))
		/* Relaxed: the stamps are read after the run's handshakes,
		 * which order them; only the first writer wins. */
		atomic_compare_exchange_strong_explicit(&s[p], &zero, act__now_ns(),
		                                        memory_order_relaxed,
		                                        memory_order_relaxed);
}

#endif
