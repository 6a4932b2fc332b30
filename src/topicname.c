/* SPDX-License-Identifier: MIT */
/*
 * topicname.c - what makes a topic name usable, on its own so that code
 * that only checks names (the app file's parser, its fuzz target) needs
 * none of the topic table's runtime.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "layout.h"
#include "topic.h"

bool act__topic_name_ok(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, ACT__TOPIC_NAME_MAX + 1);
	if (n == 0 || n > ACT__TOPIC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}
