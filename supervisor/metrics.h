/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - private: the node's counters as Prometheus/OpenMetrics text.
 */
#ifndef ACT_METRICS_H
#define ACT_METRICS_H

#include <cjson/cJSON.h>

/*
 * Renders a status answer (control.c's status JSON, schema_version 1) as
 * OpenMetrics 1.0 text, ending in "# EOF\n".  With an "actors" array
 * (act__actorlist()) added to the object, the per-actor families and the
 * handling-time histograms are rendered too.  Rendering from the status
 * object keeps the two views of the counters from ever disagreeing.
 * Returns a malloc'd string the caller frees, or NULL on OOM.  Never
 * blocks; called from the supervisor's loop.
 */
char *act__metrics_render(const cJSON *status);

#endif
