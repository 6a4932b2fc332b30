/* SPDX-License-Identifier: MIT */
/*
 * grow.h - private: the one way an array of ours grows.
 */
#ifndef ACT_GROW_H
#define ACT_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Makes room for `need` elements of `elem` bytes in *arr (capacity *cap),
 * doubling from 8: 0, or -ENOMEM with *arr and *cap untouched.
 */
static inline int act__grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

#endif
