/* SPDX-License-Identifier: MIT */
/*
 * doorbell.c - the sleep/wake protocol described in doorbell.h.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "doorbell.h"

int act__doorbell_new(bool nonblocking)
{
	int fd = eventfd(0, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0));
	return fd < 0 ? -errno : fd;
}

/*
 * Rings a consumer seen asleep, once: the first producer to move its flag
 * from 1 (asleep) to 2 (rung) writes the eventfd; producers that find 2
 * know a write is on its way and that the consumer looks at every ring
 * (bitmap or scan) once it wakes, so they skip the system call.  Without
 * this, every batch committed during the tens of microseconds a cross-CPU
 * wake takes paid one more write (bench-gateway: ~10 writes per sleep),
 * and the leftover count cut the consumer's next sleep short.  Still
 * correct by F1: a producer that read 2 read a value older than the
 * consumer's next `sleeping = 1`, so that sleep's re-check sees its
 * record.  2 reads as asleep to the supervisor's hang check, as before.
 */
static void ring_sleeper(struct act__part *p, int efd)
{
	uint32_t one_asleep = 1;
	if (!atomic_compare_exchange_strong_explicit(&p->sleeping, &one_asleep, 2,
	                                             memory_order_seq_cst,
	                                             memory_order_relaxed))
		return;
	uint64_t one = 1;
	/* Counted before the write: a consumer that reads its counter after
	 * this wake sees it. */
	atomic_fetch_add_explicit(&p->n_wakeups, 1, memory_order_relaxed);
	ssize_t r = write(efd, &one, sizeof one);
	(void)r; /* EAGAIN: counter saturated, the consumer is waking anyway */
}

void act__doorbell_notify(struct act__part *p, uint32_t from, int efd)
{
	_Atomic uint64_t *w = &p->ready[from / 64u];
	uint64_t bit = 1ull << (from % 64u);

	/* F1 (producer half): orders the tail store of the record we just
	 * committed before the loads of the ready bit and of `sleeping`
	 * below.  Pairs with the consumer's fence in prepare_sleep() and
	 * with the full barrier of its exchange in take().  Without it the
	 * loads could be satisfied before the tail is visible, and a consumer
	 * checking concurrently could miss the record and sleep on it. */
	atomic_thread_fence(memory_order_seq_cst);
	if (p->scan_all) {
		/* The consumer scans every ring while awake, and again after
		 * advertising sleep (behind its own fence): only a sleeper
		 * needs us, and it needs no bit. */
		if (atomic_load_explicit(&p->sleeping, memory_order_seq_cst) == 1)
			ring_sleeper(p, efd);
		return;
	}
	if (!(atomic_load_explicit(w, memory_order_relaxed) & bit))
		atomic_fetch_or_explicit(w, bit, memory_order_seq_cst);
	/* seq_cst: on machines where fetch_or is not a full barrier (arm64
	 * without LSE), this keeps the bit store ordered before this load. */
	if (atomic_load_explicit(&p->sleeping, memory_order_seq_cst) == 1)
		ring_sleeper(p, efd);
}

int act__doorbell_take(struct act__part *p, uint64_t *bits)
{
	int any = 0;
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		/* A plain load first keeps idle words off the bus; the exchange
		 * is a full barrier that pairs with the producer's F1: a
		 * producer that saw its bit still set (and skipped setting it)
		 * published its tail before we cleared the bit, so the ring
		 * scan that follows this exchange sees the record. */
		if (atomic_load_explicit(&p->ready[i], memory_order_relaxed)) {
			bits[i] = atomic_exchange_explicit(&p->ready[i], 0, memory_order_seq_cst);
			any |= bits[i] != 0;
		} else {
			bits[i] = 0;
		}
	}
	return any;
}

int act__doorbell_prepare_sleep(struct act__part *p)
{
	atomic_store_explicit(&p->sleeping, 1, memory_order_relaxed);
	/* F1 (consumer half): orders the store of `sleeping` before the loads
	 * of the ready bitmap.  Pairs with the producer's fence in notify():
	 * either the producer sees sleeping == 1 and rings, or we see its
	 * ready bit here. */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		if (atomic_load_explicit(&p->ready[i], memory_order_relaxed)) {
			atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
			return 0;
		}
	}
	atomic_fetch_add_explicit(&p->n_sleeps, 1, memory_order_relaxed);
	return 1;
}

void act__doorbell_awake(struct act__part *p)
{
	atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
}

void act__doorbell_drain(int efd)
{
	uint64_t v;
	while (read(efd, &v, sizeof v) == (ssize_t)sizeof v)
		;
}
