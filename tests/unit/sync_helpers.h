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

/*
 * Run fn as the main task in a child process and check that the child
 * died of SIGABRT with needle in what it wrote to stderr.
 */
static inline void expect_abort(int (*fn)(void *), const char *needle)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0, "pipe");
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		t_run(fn, NULL, 2);
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 &&
	       (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		;
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "the child did not abort (status 0x%x, stderr \"%s\")",
		  status, buf);
	cr_assert_not_null(strstr(buf, needle),
			   "stderr \"%s\" does not name %s", buf, needle);
}

#endif /* WEFT_TESTS_UNIT_SYNC_HELPERS_H */
