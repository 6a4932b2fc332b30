/* SPDX-License-Identifier: MIT */
/*
 * export.h - private: marks the few internal (act__*) functions that
 * actorsd and actorsctl, built from the same tree, call in libactors.so.
 * They are exported under the ACTORS_PRIVATE symbol version
 * (src/libactors.sym), which no program outside this tree may use: their
 * signatures change without notice.
 */
#ifndef ACT_EXPORT_H
#define ACT_EXPORT_H

#define ACT__SHARED __attribute__((visibility("default")))

#endif
