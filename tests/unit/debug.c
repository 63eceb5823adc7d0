/*
 * Debug mode (weft_config.debug, WEFT_DEBUG=1): the slow-task watchdog,
 * the reports at shutdown and SIGQUIT dumps.  Each scene runs in a forked
 * child whose stderr goes to a pipe; the parent checks what it said.
 * Nothing here rests on tight timing: a task that must be reported runs
 * until the watchdog has spoken (or a 30 s cap, which fails the test), and
 * the threshold of the quiet scenes is several times their longest run
 * between two suspensions.
 */
#include <errno.h>
#include <inttypes.h>
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
#include "runtime/watchdog.h"

TestSuite(debug, .timeout = 120);

#define MS 1000000ull
/* How long a scene waits for something the runtime must do before it
 * gives up (and the test fails): far above any build's slowness. */
#define CAP_NS (30000 * MS)

struct child_out {
	char buf[1 << 16];
	size_t len;
	int status;
};

struct child_body {
	int (*body)(void);
};

static int call_body(void *arg)
{
	return ((struct child_body *)arg)->body();
}

/* Run body() in a child with stderr on a pipe; collect its output.  (The
 * scenes wait up to CAP_NS for a report: the child's alarm is well past.) */
static void run_child(int (*body)(void), struct child_out *o)
{
	struct child_body b = { body };

	o->status = t_child(call_body, &b, 4 * CAP_NS / (1000 * MS), o->buf,
			    sizeof(o->buf));
	cr_assert_geq(o->status, 0, "t_child: %d", o->status);
	o->len = strlen(o->buf);
}

static void assert_exit0(const struct child_out *o)
{
	cr_assert(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0,
		  "child status 0x%x (exit %d, signal %d); stderr:\n%s",
		  o->status, WIFEXITED(o->status) ? WEXITSTATUS(o->status) : -1,
		  WIFSIGNALED(o->status) ? WTERMSIG(o->status) : 0, o->buf);
}

/* The id a scene printed as "test: NAME id N", or 0. */
static uint64_t id_of(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "test: %s id ", name);
	p = strstr(out, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static unsigned count_of(const char *out, const char *what)
{
	unsigned n = 0;

	for (const char *p = out; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void busy_for(uint64_t ns)
{
	uint64_t until = weft_now() + ns;

	while (weft_now() < until)
		;
}

static int run_debug(int (*fn)(void *), unsigned workers, const char *slow)
{
	weft_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.debug = 1;
	setenv("WEFT_DEBUG_SLOW_MS", slow, 1);
	return t_run_cfg(fn, NULL, workers, &cfg);
}

/* ------------------------------------------------------- slow task */

/* Runs without suspending for 300 ms at least, and on until the watchdog
 * has reported it. */
static int spinner(void *arg)
{
	weft_runtime *rt = weft_runtime_current();
	uint64_t start = weft_now(), d;

	(void)arg;
	do {
		busy_for(MS);
		d = weft_now() - start;
	} while (d < 300 * MS ||
		 (weft__debug_slow_reports(rt) == 0 && d < CAP_NS));
	return 0;
}

static int slow_main(void *arg)
{
	weft_task *t = weft_spawn(spinner, NULL);

	(void)arg;
	weft_task_set_name(t, "spinner");
	fprintf(stderr, "test: spinner id %" PRIu64 "\n", weft_task_id(t));
	return weft_join(t);
}

static int slow_child(void)
{
	return run_debug(slow_main, 2, "100") == 0 ? 0 : 1;
}

Test(debug, watchdog_reports_a_task_that_runs_300_ms_without_suspending)
{
	static struct child_out o;
	char want[128];
	uint64_t id;
	const char *p;

	run_child(slow_child, &o);
	assert_exit0(&o);
	id = id_of(o.buf, "spinner");
	cr_assert_neq(id, 0, "no id line:\n%s", o.buf);
	snprintf(want, sizeof(want),
		 "weft: task %" PRIu64 " \"spinner\" has been running on "
		 "worker ", id);
	p = strstr(o.buf, want);
	cr_assert_not_null(p, "no report naming the spinner:\n%s", o.buf);
	p += strlen(want);
	cr_assert(p[0] == '0' || p[0] == '1', "worker: %s", p);
	cr_assert(strstr(p, "without suspending"), "%s", o.buf);
	cr_assert_eq(count_of(o.buf, "has been running"), 1,
		     "one report per long run:\n%s", o.buf);
	cr_assert_null(strstr(o.buf, "debug report at shutdown"),
		       "nothing leaked:\n%s", o.buf);
}

/* ------------------------------------------- tasks that suspend often */

#define QUIET_NS (1200 * MS)	/* each scene; the threshold is 400 ms */
#define CHUNK_NS (MS / 2)	/* longest run between two suspensions */

static int yielder(void *arg)
{
	uint64_t until = weft_now() + QUIET_NS;

	(void)arg;
	while (weft_now() < until) {
		busy_for(CHUNK_NS);
		if (weft_yield() < 0)
			return -1;
	}
	return 0;
}

static int sleeper(void *arg)
{
	uint64_t until = weft_now() + QUIET_NS;

	(void)arg;
	while (weft_now() < until) {
		busy_for(CHUNK_NS);
		if (weft_sleep(MS) < 0)
			return -1;
	}
	return 0;
}

static int pinger(void *arg)
{
	weft_chan *ch = arg;
	uint64_t until = weft_now() + QUIET_NS;
	int i = 1;

	while (weft_now() < until) {
		busy_for(CHUNK_NS / 4);
		if (weft_chan_send(ch, &i) < 0)
			return -1;
	}
	i = 0;
	return weft_chan_send(ch, &i);
}

static int ponger(void *arg)
{
	weft_chan *ch = arg;
	int i;

	do {
		busy_for(CHUNK_NS / 4);
		if (weft_chan_recv(ch, &i) < 0)
			return -1;
	} while (i);
	return 0;
}

static weft_task *spawn_named(int (*fn)(void *), void *arg, const char *name)
{
	weft_task *t = weft_spawn(fn, arg);

	cr_assert_not_null(t);
	weft_task_set_name(t, name);
	return t;
}

/* One worker: the yielder is alone, so its yields find nothing else to
 * run and return at once; they still count as suspension points. */
static int alone_main(void *arg)
{
	(void)arg;
	return weft_join(spawn_named(yielder, NULL, "yielder"));
}

static int quiet_main(void *arg)
{
	weft_chan *ch = weft_chan_new(sizeof(int), 1);
	weft_task *t[4];
	int r = 0, i;

	(void)arg;
	cr_assert_not_null(ch);
	t[0] = spawn_named(sleeper, NULL, "sleeper");
	t[1] = spawn_named(pinger, ch, "pinger");
	t[2] = spawn_named(ponger, ch, "ponger");
	t[3] = spawn_named(yielder, NULL, "yielder");
	for (i = 0; i < 4; i++)
		r |= weft_join(t[i]);
	weft_chan_free(ch);
	/* The control: this one the watchdog must see. */
	r |= weft_join(spawn_named(spinner, NULL, "control"));
	return r;
}

static int quiet_child(void)
{
	if (run_debug(alone_main, 1, "400") != 0)
		return 1;
	return run_debug(quiet_main, 2, "400") == 0 ? 0 : 2;
}

Test(debug, watchdog_does_not_report_tasks_that_suspend_often)
{
	static struct child_out o;
	static const char *const quiet[] = { "\"yielder\" has",
					     "\"sleeper\" has",
					     "\"pinger\" has",
					     "\"ponger\" has" };

	run_child(quiet_child, &o);
	assert_exit0(&o);
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		cr_assert_null(strstr(o.buf, quiet[i]),
			       "%s reported:\n%s", quiet[i], o.buf);
	cr_assert(strstr(o.buf, "\"control\" has been running on worker"),
		  "the control spinner was not reported:\n%s", o.buf);
	cr_assert_eq(count_of(o.buf, "has been running"), 1, "%s", o.buf);
	cr_assert_null(strstr(o.buf, "debug report at shutdown"),
		       "nothing leaked:\n%s", o.buf);
}

/* ----------------------------------------------------- shutdown report */

/* Reachable, so that Valgrind and LSan see no leak in the child. */
static weft_task *leaked;
static atomic_int ran;

static int leaky(void *arg)
{
	(void)arg;
	return 7;
}

static int fine(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int failing(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return -EIO;
}

static int leak_main(void *arg)
{
	uint64_t start = weft_now();
	weft_task *j, *t;

	(void)arg;
	leaked = spawn_named(leaky, NULL, "leaky");
	j = spawn_named(fine, NULL, "joined");
	t = spawn_named(fine, NULL, "detached-ok");
	weft_detach(t);
	t = spawn_named(failing, NULL, "detached-failing");
	fprintf(stderr, "test: detached-failing id %" PRIu64 "\n",
		weft_task_id(t));
	weft_detach(t);
	fprintf(stderr, "test: leaky id %" PRIu64 "\n", weft_task_id(leaked));
	/* weft_wait releases no handle: leaked stays leaked. */
	cr_assert_eq(weft_wait(&leaked, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER,
			       NULL), 0);
	cr_assert_eq(weft_join(j), 0);
	while (atomic_load(&ran) < 3 && weft_now() - start < CAP_NS)
		weft_sleep(MS);
	return atomic_load(&ran) == 3 ? 0 : 1;
}

static int leak_child(void)
{
	return run_debug(leak_main, 2, "100") == 0 ? 0 : 1;
}

Test(debug, shutdown_report_names_a_never_joined_task)
{
	static struct child_out o;
	char want[160];
	uint64_t id;

	run_child(leak_child, &o);
	assert_exit0(&o);
	id = id_of(o.buf, "leaky");
	cr_assert_neq(id, 0, "%s", o.buf);
	snprintf(want, sizeof(want),
		 "task %" PRIu64 " \"leaky\" ended (status 7) but its handle "
		 "was never joined or detached", id);
	cr_assert(strstr(o.buf, want), "no line \"%s\" in:\n%s", want,
		  o.buf);
	id = id_of(o.buf, "detached-failing");
	snprintf(want, sizeof(want),
		 "detached task %" PRIu64 " \"detached-failing\" failed with "
		 "status -5", id);
	cr_assert(strstr(o.buf, want), "no line \"%s\" in:\n%s", want,
		  o.buf);
	cr_assert_null(strstr(o.buf, "\"joined\""), "%s", o.buf);
	cr_assert_null(strstr(o.buf, "\"detached-ok\""), "%s", o.buf);
	cr_assert(strstr(o.buf, "weft: task handles leaked: 1, failed "
				"detached tasks unheard: 1"),
		  "%s", o.buf);
}

/* Not in debug mode: no report, even for the same leak. */
static int leak_child_quiet(void)
{
	unsetenv("WEFT_DEBUG");
	return t_run(leak_main, NULL, 2) == 0 ? 0 : 1;
}

Test(debug, without_debug_mode_nothing_is_reported)
{
	static struct child_out o;

	atomic_store(&ran, 0);
	run_child(leak_child_quiet, &o);
	assert_exit0(&o);
	cr_assert_null(strstr(o.buf, "weft:"), "%s", o.buf);
}

/* ---------------------------------------- shutdown held by a blocking job */

static weft_runtime *stuck_rt;
static atomic_int job_started;

static int slow_job(void *arg)
{
	uint64_t start = weft_now();

	(void)arg;
	atomic_store(&job_started, 1);
	while (weft__debug_stuck_reports(stuck_rt) == 0 &&
	       weft_now() - start < CAP_NS)
		usleep(10000);
	return 0;
}

static int offloader(void *arg)
{
	(void)arg;
	return weft_blocking(slow_job, NULL);
}

static int stuck_main(void *arg)
{
	uint64_t start = weft_now();
	weft_task *t;

	(void)arg;
	stuck_rt = weft_runtime_current();
	t = spawn_named(offloader, NULL, "offloader");
	fprintf(stderr, "test: offloader id %" PRIu64 "\n", weft_task_id(t));
	weft_detach(t);
	while (!atomic_load(&job_started) && weft_now() - start < CAP_NS)
		weft_sleep(MS);
	return 0;
}

static int stuck_child(void)
{
	return run_debug(stuck_main, 2, "100") == 0 ? 0 : 1;
}

Test(debug, slow_shutdown_names_the_task_whose_blocking_job_still_runs)
{
	static struct child_out o;
	char want[96];
	uint64_t id;
	const char *p;

	run_child(stuck_child, &o);
	assert_exit0(&o);
	cr_assert(strstr(o.buf, "weft: shutdown has waited"), "%s", o.buf);
	id = id_of(o.buf, "offloader");
	snprintf(want, sizeof(want), "task %" PRIu64 " \"offloader\": ", id);
	p = strstr(o.buf, want);
	cr_assert_not_null(p, "no line for the offloader:\n%s", o.buf);
	cr_assert(strstr(p, "its weft_blocking job is still running"), "%s",
		  o.buf);
	cr_assert(strstr(o.buf, "weft:   blocking pool: "), "%s", o.buf);
}

/* ------------------------------------------------------------- SIGQUIT */

static weft_event quit_ev;

static int parked(void *arg)
{
	(void)arg;
	return weft_event_wait(&quit_ev);
}

static int quit_main(void *arg)
{
	uint64_t start = weft_now();
	weft_task *t;
	int r;

	(void)arg;
	t = spawn_named(parked, NULL, "parked");
	/* Parked on its event before the dump, so the dump shows a task in
	 * its steady state (waited for, not slept for). */
	if (!t_wait_parked(t))
		return 2;
	/* raise: to this thread, where TSan runs the handler at once (it
	 * defers a signal for a thread blocked in a raw syscall, as the
	 * thread in weft_run is). */
	raise(SIGQUIT);
	while (weft__debug_quit_dumps() == 0 && weft_now() - start < CAP_NS)
		weft_sleep(MS);
	weft_event_set(&quit_ev);
	r = weft_join(t);
	return r == 0 && weft__debug_quit_dumps() > 0 ? 0 : 1;
}

static int quit_child(void)
{
	struct sigaction sa;

	if (run_debug(quit_main, 2, "100") != 0)
		return 1;
	/* The default action is back once the runtime is gone. */
	if (sigaction(SIGQUIT, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		return 3;
	return 0;
}

Test(debug, sigquit_prints_the_dump_of_the_runtime)
{
	static struct child_out o;
	const char *p;

	run_child(quit_child, &o);
	assert_exit0(&o);
	p = strstr(o.buf, "weft: SIGQUIT: runtime");
	cr_assert_not_null(p, "%s", o.buf);
	cr_assert(strstr(p, "\"parked\": "), "the dump lacks the task:\n%s",
		  o.buf);
}

static atomic_int own_handler_ran;	/* lock-free: fine in a handler */

static void own_handler(int sig)
{
	(void)sig;
	atomic_store(&own_handler_ran, 1);
}

static int own_main(void *arg)
{
	uint64_t start = weft_now();
	struct sigaction sa;

	(void)arg;
	/* raise: to this thread, where TSan runs the handler at once (it
	 * defers a signal for a thread blocked in a raw syscall, as the
	 * thread in weft_run is). */
	raise(SIGQUIT);
	while (!atomic_load(&own_handler_ran) && weft_now() - start < CAP_NS)
		weft_sleep(MS);
	/* A dump comes only through the runtime's own handler (it wakes the
	 * watchdog): with the program's handler still in place while the
	 * runtime runs, none can follow, so there is nothing to wait for. */
	if (sigaction(SIGQUIT, NULL, &sa) < 0 || sa.sa_handler != own_handler)
		return 2;
	return atomic_load(&own_handler_ran) && weft__debug_quit_dumps() == 0
		       ? 0
		       : 1;
}

static int own_child(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = own_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGQUIT, &sa, NULL) < 0)
		return 4;
	if (run_debug(own_main, 2, "100") != 0)
		return 1;
	if (sigaction(SIGQUIT, NULL, &sa) < 0 || sa.sa_handler != own_handler)
		return 3;
	return 0;
}

Test(debug, sigquit_handler_of_the_program_is_left_alone)
{
	static struct child_out o;

	run_child(own_child, &o);
	assert_exit0(&o);
	cr_assert_null(strstr(o.buf, "SIGQUIT"), "%s", o.buf);
}

/* ------------------------------------------------------------ config */

Test(debug, a_bad_slow_threshold_is_einval)
{
	weft_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.debug = 1;
	setenv("WEFT_DEBUG_SLOW_MS", "soon", 1);
	cr_assert_eq(t_run_cfg(leaky, NULL, 1, &cfg), -EINVAL);
	setenv("WEFT_DEBUG_SLOW_MS", "0x10", 1);
	cr_assert_eq(t_run_cfg(leaky, NULL, 1, &cfg), 7);
	unsetenv("WEFT_DEBUG_SLOW_MS");
}
