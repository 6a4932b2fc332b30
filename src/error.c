/* SPDX-License-Identifier: MIT */
/*
 * error.c - act_strerror() and act_version(): the one error contract.
 *
 * Every library function reports failure as a negative errno value; this
 * module gives those values the meaning they have in libactors.
 */
#include "config.h"

#include <string.h>

#include <actors.h>

ACT_API const char *act_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case 0:              return "success";
	case ACT_EFULL:      return "receiver's ring is full (message not sent)";
	case ACT_ETIMEDOUT:  return "timed out waiting for a reply";
	case ACT_ENOENT:     return "no such actor, group or type";
	case ACT_EMSGSIZE:   return "message too large";
	case ACT_EPROTO:     return "malformed envelope, JSON or shared memory";
	case ACT_ERANGE:     return "number out of range for its field";
	case ACT_EINVAL:     return "invalid argument";
	case ACT_ESTOPPED:   return "receiver stopped or node shutting down";
	case ACT_EREJECTED:  return "rejected by the remote node";
	case -ENOSPC:        return "too many outstanding requests or timers";
	case -EEXIST:        return "name already in use";
	case -ENOMEM:        return "out of memory";
	default:             return strerror(-err);
	}
}

ACT_API const char *act_version(void)
{
	return PACKAGE_VERSION;
}
