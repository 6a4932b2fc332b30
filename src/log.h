/* log.h - private: leveled logging to stderr, journald-friendly. */
#ifndef ACT_LOG_H
#define ACT_LOG_H

#include "export.h"

enum act__log_level { ACT_LOG_ERR = 3, ACT_LOG_WARN = 4, ACT_LOG_INFO = 6, ACT_LOG_DEBUG = 7 };

/* Current threshold; messages above it are dropped.  Default INFO, or
 * ACTORS_LOG_LEVEL=debug|info|warn|err from the environment. */
extern int act__log_level;

/* Sets the name printed in front of every line (e.g. "actorsd", "worker ping"). */
ACT__SHARED void act__log_set_ident(const char *ident);

__attribute__((format(printf, 2, 3)))
ACT__SHARED void act__log(int level, const char *fmt, ...);

#define act__err(...)   act__log(ACT_LOG_ERR, __VA_ARGS__)
#define act__warn(...)  act__log(ACT_LOG_WARN, __VA_ARGS__)
#define act__info(...)  act__log(ACT_LOG_INFO, __VA_ARGS__)
#define act__debug(...) do { if (act__log_level >= ACT_LOG_DEBUG) act__log(ACT_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
