/*
 * A task that runs off its stack: the process prints which task overflowed
 * and how to raise the size, then aborts.  Checked in a child process.
 * Sanitizer builds keep their own fault handling (and ASan needs far more
 * stack per frame): there the child must still die of a signal, not hang
 * or exit normally.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "runtime/sanitizer.h"

TestSuite(overflow, .timeout = 60);

static int depth(int n)
{
	volatile char frame[1024];

	frame[0] = (char)n;
	frame[sizeof(frame) - 1] = (char)n;
	if (n == 0)
		return frame[0];
	return depth(n - 1) + frame[sizeof(frame) - 1];
}

static int recurse_task(void *arg)
{
	return depth(100000);
}

static int overflow_main(void *arg)
{
	weft_task *t = weft_spawn(recurse_task, NULL);

	weft_task_set_name(t, "deep-recursion");
	return weft_join(t);
}

Test(overflow, a_task_running_off_its_stack_is_named_and_the_process_aborts)
{
	int fds[2], status;
	char out[1024] = { 0 };
	ssize_t n, got = 0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0, "pipe");
	pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		t_run(overflow_main, NULL, 2);
		_exit(0); /* not reached when the overflow is caught */
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += n;
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid");
	cr_assert(WIFSIGNALED(status), "child exited normally (status %d)",
		  status);
#if !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
	cr_assert_eq(WTERMSIG(status), SIGABRT, "signal %d", WTERMSIG(status));
	cr_assert(strstr(out, "'deep-recursion' overflowed its"),
		  "stderr was: %s", out);
	cr_assert(strstr(out, "stack_size"), "no hint: %s", out);
#endif
}
