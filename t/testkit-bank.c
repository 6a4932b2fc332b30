/* SPDX-License-Identifier: MIT */
/*
 * t/testkit-bank.c - the bank example's actors under the testkit: two
 * tellers, the ledger (its books in a temporary file) and the auditor,
 * with the ledger crashed and restarted between transfers; the auditor
 * must still verify every transfer applied exactly once.  The example's
 * source is compiled in as is; its timers run on the virtual clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"

#include "../examples/bank/bank.c"

#define SHARED "\"accounts\": 4, \"tellers\": 2, \"transfers\": 100, \"seed\": 7"

static int take_report(act_test_t *t, act_ref probe, act_ref auditor, auditor_report_msg *out)
{
	const act_type *ty;
	const void *m;

	act_test_send(t, probe, auditor, &report_type, &(report_msg){ 0 });
	act_test_run(t);
	if (act_test_take(t, probe, &ty, &m, NULL) || ty != &auditor_report_type)
		return -1;
	*out = *(const auditor_report_msg *)m;
	return 0;
}

/*
 * What the kernel does for a dead ledger process: its mapping, its file
 * descriptor (and so its lock on the books) and its heap go.  In one
 * process the testkit cannot know about them; the test does it.
 */
static void ledger_dies(act_test_t *t, act_ref ledger)
{
	struct ledger *l = act_test_state(t, ledger);

	if (l->b)
		munmap(l->b, l->map_bytes);
	if (l->fd >= 0)
		close(l->fd);
	free(l->json);
	act_test_crash(t, ledger);
}

int main(void)
{
	char dir[] = "/tmp/act-testkit-bank.XXXXXX", books[128], args[512];
	act_test_t *t;
	act_ref ledger, auditor, probe, x;
	auditor_report_msg r = { 0 };

	tap_timeout(60);
	if (!mkdtemp(dir))
		bail("mkdtemp failed");
	snprintf(books, sizeof books, "%s/books", dir);
	t = act_test_new();
	if (!t)
		bail("act_test_new failed");

	snprintf(args, sizeof args, "{\"books\": \"%s\", " SHARED "}", books);
	ok(act_test_spawn(t, &ledger_behaviour, "ledger", args, &ledger) == 0, "bank: ledger");
	ok(act_test_spawn(t, &auditor_behaviour, "auditor", "{\"period_ms\": 20, " SHARED "}",
	                  &auditor) == 0, "bank: auditor");
	ok(act_test_spawn(t, &teller_behaviour, "teller0",
	                  "{\"id\": 0, \"batch\": 10, \"pause_ms\": 5, " SHARED "}", &x) == 0 &&
	   act_test_spawn(t, &teller_behaviour, "teller1",
	                  "{\"id\": 1, \"batch\": 10, \"pause_ms\": 5, " SHARED "}", &x) == 0,
	   "bank: two tellers");
	act_test_probe(t, "probe", &probe);
	act_test_run(t);

	act_test_advance(t, 12);        /* three batches of each teller */
	ok(take_report(t, probe, auditor, &r) == 0 && !r.complete && r.violations == 0,
	   "bank: under way at 12 ms, no violation (applied %lld)", (long long)r.applied);
	ledger_dies(t, ledger);
	ok(act_test_run(t) >= 1, "bank: the ledger crashed between transfers and restarted");
	act_test_advance(t, 100);
	ledger_dies(t, ledger);
	act_test_advance(t, 1000);
	ok(take_report(t, probe, auditor, &r) == 0, "bank: the auditor reports");
	ok(r.complete && r.verified && r.applied == 200 && r.expected == 200,
	   "bank: VERIFIED, 200 transfers applied once each (applied %lld, verified %d)",
	   (long long)r.applied, r.verified);
	ok(r.ledger_restarts == 2 && r.violations == 0 && r.mismatches == 0,
	   "bank: two ledger restarts seen, no violation, no mismatch (%d, %lld, %d)",
	   r.ledger_restarts, (long long)r.violations, r.mismatches);
	ok(act_test_dead_letters(t) == 0, "bank: no dead letters");
	act_test_free(t);
	unlink(books);
	rmdir(dir);
	return done_testing();
}
