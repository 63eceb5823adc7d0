/*
 * Start-up and memory workloads: idle_tasks and startup (WORKLOADS.md,
 * "Start-up and memory"), measured the way the Go peer measures them.
 *
 * idle_tasks: RSS from /proc/self/status before spawning and once every
 * task has reached its wait; the difference over n is the cost of a parked
 * task (stack pages touched, task control block, wait record).  Memory the
 * benchmark itself needs (the handle array) is touched before the first
 * reading so that it is not counted.
 *
 * startup: whole processes, this binary re-executed as the hidden
 * startup_child workload, median of 21; the child's work is weft_run of a
 * main that spawns one empty task and joins it.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft.h"

#include "bench.h"

/* ---------------------------------------------------------- idle_tasks */

/* 5 ms: as the Go peer, time for the last tasks to reach their wait after
 * counting themselves as parked; not timed. */
#define IDLE_SETTLE_NS 5000000u

struct idle {
	int64_t n;
	_Atomic int64_t parked;	/* tasks about to wait on go */
	_Atomic int64_t woke;	/* tasks past the wait */
	weft_event go;
	weft_task **h;		/* main task only */
	int64_t spawned, bad;	/* main task only */
	long rss_before, rss_parked;
	uint64_t spawn_ns, wake_ns;
};

static int idle_task(void *arg)
{
	struct idle *d = arg;
	int r;

	atomic_fetch_add_explicit(&d->parked, 1, memory_order_relaxed);
	r = weft_event_wait(&d->go);
	if (r < 0)
		return r;
	atomic_fetch_add_explicit(&d->woke, 1, memory_order_relaxed);
	return 0;
}

/* Spawn every task, then yield until all have counted themselves. */
static void idle_park_all(struct idle *d)
{
	uint64_t t0 = bench_now_ns();

	for (d->spawned = 0; d->spawned < d->n; d->spawned++) {
		d->h[d->spawned] = weft_spawn(idle_task, d);
		if (!d->h[d->spawned])
			break;
	}
	while (atomic_load_explicit(&d->parked, memory_order_relaxed) <
	       d->spawned)
		if (weft_yield() < 0)
			break;
	d->spawn_ns = bench_now_ns() - t0;
	t0 = bench_now_ns();
	while (bench_now_ns() - t0 < IDLE_SETTLE_NS)
		if (weft_yield() < 0)
			break;
}

static int idle_main(void *arg)
{
	struct idle *d = arg;
	uint64_t t0;
	int64_t i;

	d->rss_before = bench_vmrss_kib();
	idle_park_all(d);
	d->rss_parked = bench_vmrss_kib();
	t0 = bench_now_ns();
	weft_event_set(&d->go);
	for (i = 0; i < d->spawned; i++)
		if (weft_join(d->h[i]) != 0)
			d->bad++;
	d->wake_ns = bench_now_ns() - t0;
	d->bad += d->n - d->spawned;
	return 0;
}

int bench_idle_tasks(const struct bench_opts *o)
{
	static struct idle d;
	struct bench_result r = { .name = "idle_tasks" };
	size_t i, bytes;
	int st = -ENOMEM;

	d.n = bench_scale(o, 100000);
	bytes = (size_t)d.n * sizeof(*d.h);
	d.h = bench_calloc((size_t)d.n, sizeof(*d.h));
	if (d.h) {
		/* make the array resident now: calloc may hand out
		 * untouched zero pages */
		for (i = 0; i < bytes; i += 4096)
			((volatile char *)d.h)[i] = 0;
		st = bench_run(o, idle_main, &d);
	}
	r.n = d.n;
	r.wall_ns = d.spawn_ns + d.wake_ns;
	r.ok = st == 0 && d.bad == 0 && BENCH_LOAD(&d.woke) == d.n &&
	       d.rss_before > 0 && d.rss_parked > 0;
	bench_extra(&r, " spawn_ms=%.3f wake_ms=%.3f rss_before_kib=%ld "
		    "rss_parked_kib=%ld kib_per_task=%.3f",
		    d.spawn_ns / 1e6, d.wake_ns / 1e6, d.rss_before,
		    d.rss_parked,
		    d.n ? (double)(d.rss_parked - d.rss_before) / d.n : 0.0);
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	free(d.h);
	return bench_report(&r);
}

/* ------------------------------------------------------------- startup */

#define STARTUP_RUNS 21

extern char **environ;

static int empty_task(void *arg)
{
	return 0;
}

/* The whole in-process work of startup_child; *task_ns (if given) gets the
 * spawn and join of the empty task alone. */
static int startup_main(void *arg)
{
	uint64_t *task_ns = arg, t0 = bench_now_ns();
	weft_task *t;
	int r;

	t = weft_spawn(empty_task, NULL);
	if (!t)
		return -errno;
	r = weft_join(t);
	if (task_ns)
		*task_ns = bench_now_ns() - t0;
	return r;
}

int bench_startup_child(const struct bench_opts *o)
{
	return bench_run(o, startup_main, NULL) == 0 ? 0 : 1;
}

/*
 * One child process, timed from spawn until it has been reaped; -1 when it
 * could not start or did not exit 0.  posix_spawn is glibc's fork+exec
 * (a vfork-style clone), the way Go's os/exec starts a child; stdout goes
 * to /dev/null as there, stderr stays for diagnostics.
 */
static int64_t startup_once(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	uint64_t t0 = bench_now_ns();
	int status, r;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (int64_t)(bench_now_ns() - t0);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Run the children; 0, or -1 if one failed (times[] is then partial). */
static int startup_children(const struct bench_opts *o, int64_t *times)
{
	static char exe[4096], workers[16];
	char *argv[] = { exe, "startup_child", NULL, NULL, NULL };
	ssize_t len;
	int i;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return -1;
	exe[len] = '\0';
	if (o->workers) {
		snprintf(workers, sizeof(workers), "%u", o->workers);
		argv[2] = "--workers";
		argv[3] = workers;
	}
	for (i = 0; i < STARTUP_RUNS; i++) {
		times[i] = startup_once(argv);
		if (times[i] < 0)
			return -1;
	}
	return 0;
}

/*
 * in_process_ms is weft_run of the child's main in this process: worker
 * start, one task, shutdown.  (Go's in_process_ms is the goroutine alone,
 * its runtime being up already; our task_ms is that part.)
 */
int bench_startup(const struct bench_opts *o)
{
	struct bench_result r = { .name = "startup", .n = 1 };
	int64_t times[STARTUP_RUNS];
	uint64_t t0, inproc, task_ns = 0;
	int st;

	r.ok = startup_children(o, times) == 0;
	t0 = bench_now_ns();
	st = bench_run(o, startup_main, &task_ns);
	inproc = bench_now_ns() - t0;
	r.ok = r.ok && st == 0;
	if (!r.ok) {
		bench_extra(&r, " status=%d", st);
		return bench_report(&r);
	}
	qsort(times, STARTUP_RUNS, sizeof(times[0]), cmp_i64);
	r.wall_ns = (uint64_t)times[STARTUP_RUNS / 2];
	bench_extra(&r, " scope=process runs=%d min_ms=%.3f "
		    "in_process_ms=%.4f task_ms=%.4f",
		    STARTUP_RUNS, times[0] / 1e6, inproc / 1e6,
		    task_ns / 1e6);
	return bench_report(&r);
}
