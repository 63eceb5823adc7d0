/*
 * Helpers shared by the unit suites of the sync primitives: running a main
 * task with 1, 2 and 8 workers, yielding until a condition holds, and
 * checking that a misuse aborts with the right message.
 */
#ifndef WEFT_TESTS_UNIT_SYNC_HELPERS_H
#define WEFT_TESTS_UNIT_SYNC_HELPERS_H

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

static const unsigned sync_workers[] = { 1, 2, 8 };

/* Run fn(arg) as the main task with 1, 2 and 8 workers; each must give 0. */
static inline void run_on_1_2_8(int (*fn)(void *), void *arg)
{
	unsigned i;

	for (i = 0; i < sizeof(sync_workers) / sizeof(sync_workers[0]); i++) {
		int r = t_run(fn, arg, sync_workers[i]);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r,
			     sync_workers[i]);
	}
}

/* In a task: let others run until expr holds (never sleeps). */
#define YIELD_UNTIL(expr)                 \
	do {                              \
		while (!(expr))           \
			weft_yield();     \
	} while (0)

struct sync_scene {
	int (*main)(void *);
};

static inline int sync_scene_run(void *arg)
{
	return t_run(((struct sync_scene *)arg)->main, NULL, 2);
}

/*
 * Run fn as the main task in a child process and check that the child
 * died of SIGABRT with needle in what it wrote to stderr.
 */
static inline void expect_abort(int (*fn)(void *), const char *needle)
{
	struct sync_scene scene = { fn };
	char buf[4096];
	int status = t_child(sync_scene_run, &scene, 60, buf, sizeof(buf));

	cr_assert(status >= 0 && WIFSIGNALED(status) &&
			  WTERMSIG(status) == SIGABRT,
		  "the child did not abort (status 0x%x, stderr \"%s\")",
		  status, buf);
	cr_assert_not_null(strstr(buf, needle),
			   "stderr \"%s\" does not name %s", buf, needle);
}

#endif /* WEFT_TESTS_UNIT_SYNC_HELPERS_H */
