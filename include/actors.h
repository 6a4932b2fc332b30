/* SPDX-License-Identifier: MIT */
/*
 * actors.h - the public interface of libactors.
 *
 * Crash-isolated, multi-process actors for C on Linux.  An actor is private
 * state plus handlers that run one message at a time; a group is a set of
 * actors that share one forked worker process; groups exchange envelopes
 * through shared-memory rings that outlive any worker, and a supervisor
 * restarts crashed workers.  See README.md for the concepts and examples.
 *
 * Every function returns 0 or a negative errno-style code unless its
 * contract says otherwise; act_strerror() turns a code into text.
 */
#ifndef ACTORS_H
#define ACTORS_H

#include <actors/common.h>
#include <actors/message.h>
#include <actors/actor.h>
#include <actors/node.h>
#include <actors/module.h>
#include <actors/topic.h>
#include <actors/intercept.h>

#endif /* ACTORS_H */
