/* SPDX-License-Identifier: MIT */
/*
 * handoff.h - private: a worker's state handoff across a reload restart
 * (handoff.c).  Used by the worker loop and, to configure it, by actorsd
 * in a freshly forked worker.
 */
#ifndef ACT_HANDOFF_H
#define ACT_HANDOFF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "export.h"

/* The largest handoff file of one group: beyond it nothing is handed over
 * and the new worker starts from init alone (logged, counted). */
#define ACT__HANDOFF_MAX_BYTES (64ull * 1024u * 1024u)
#define ACT__HANDOFF_MAX_TEXT  "64 MiB"

struct worker;

/*
 * Where this worker's group keeps its handoff file, and the flag the
 * supervisor sets (before it sends STOP) to ask for an export instead of
 * a drain.  path NULL or "": no handoff.  Call in the worker process
 * before act__worker_main(); the strings are copied, export_flag must
 * stay mapped (shared memory made before the zygote forked).
 */
ACT__SHARED void act__worker_set_handoff(const char *path, const _Atomic uint32_t *export_flag);

/* True when the supervisor asked this worker to export and stop. */
bool act__handoff_wanted(void);

/* Old worker, after its last handler: every live actor's export_state to
 * the handoff file.  0, or a negative code (nothing usable was written). */
int act__handoff_export(struct worker *w);

/* New worker, after init and the re-creation of spawned actors, before
 * any envelope: import_state from the handoff file if there is one (it is
 * unlinked first).  0 (also: no file), or a negative code, logged. */
int act__handoff_import(struct worker *w);

#endif
