/*
 * Injected faults (runtime/fault.h): each acquisition that can fail for
 * want of a resource is made to fail, and the public API must report it as
 * an error value (a negative errno, or NULL with errno) and go on working:
 * no crash, no hang, nothing leaked (the ASan build checks leaks; the tests
 * here check threads and descriptors).  Each test also checks that its
 * fault was injected at all, so a site that loses its hook fails the test.
 *
 * Built only when fault injection is compiled in (tests/meson.build).
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "io/io.h"
#include "runtime/alloc.h"
#include "runtime/fault.h"
#include "runtime/runtime.h"

TestSuite(fault, .timeout = 120);

#define MS 1000000ull

/* ---------------------------------------------------------------- helpers */

/* Entries of a /proc directory (threads of, or descriptors open in, us). */
static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d, "opendir %s", path);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0); /* the DIR's own */
}

static int threads_now(void)
{
	return count_dir("/proc/self/task");
}

static int fds_now(void)
{
	return count_dir("/proc/self/fd");
}

static int forty_two(void *arg)
{
	(void)arg;
	return 42;
}

/*
 * Threads and descriptors now, for a later check that nothing was left
 * behind.  A runtime's life first: what a process starts once (TSan's
 * background thread, SIGQUIT's eventfd) is then counted in.
 */
static void baseline(int *threads, int *fds)
{
	weft_config c;

	memset(&c, 0, sizeof(c));
	c.workers = 2;
	c.debug = 1;
	cr_assert_eq(weft_run(forty_two, NULL, &c), 42, "warm-up runtime");
	*threads = threads_now();
	*fds = fds_now();
}

/*
 * No more threads than `want`.  A joined thread can still be listed for a
 * moment (the kernel clears the tid the join waits for before the thread
 * is fully gone): wait up to 5 s for the count to come down.  (One of the
 * baseline's could have been such a thread: fewer is fine.)
 */
static void expect_threads(int want)
{
	int i, n = threads_now();

	for (i = 0; n > want && i < 5000; i++) {
		usleep(1000);
		n = threads_now();
	}
	cr_assert_leq(n, want, "threads: %d, expected %d", n, want);
}

static weft_config cfg_of(unsigned workers, int backend)
{
	weft_config c;

	memset(&c, 0, sizeof(c));
	c.workers = workers;
	c.io_backend = backend;
	return c;
}

/* Would a runtime left to choose take io_uring here?  Not where the kernel
 * or seccomp refuse it, nor under Valgrind (see io/driver.c). */
static bool auto_picks_uring(void)
{
	weft_config c = cfg_of(1, WEFT_IO_AUTO);
	weft_runtime *rt;
	bool uring;

	/* The epoll test setup must not decide for us. */
	unsetenv("WEFT_IO_BACKEND");
	rt = weft_runtime_new(&c);
	cr_assert_not_null(rt, "weft_runtime_new: errno %d", errno);
	uring = rt->io_backend == WEFT__IO_URING;
	weft_runtime_free(rt);
	if (!uring)
		cr_log_info("io_uring not chosen here: nothing to inject");
	return uring;
}

/* A pipe round trip through the runtime's I/O: 0 or a negative errno. */
static int pipe_round_trip(void *arg)
{
	char out[8] = "weft!", in[8] = { 0 };
	int p[2], r;
	ssize_t n;

	(void)arg;
	if (pipe(p) < 0)
		return -errno;
	n = weft_write(p[1], out, sizeof(out), WEFT_OFF_CURRENT);
	r = n == (ssize_t)sizeof(out) ? 0 : n < 0 ? (int)n : -EIO;
	if (r == 0) {
		n = weft_read(p[0], in, sizeof(in), WEFT_OFF_CURRENT);
		r = n == (ssize_t)sizeof(in) ? 0 : n < 0 ? (int)n : -EIO;
	}
	if (r == 0 && memcmp(in, out, sizeof(in)))
		r = -EIO;
	weft_close(p[0]);
	weft_close(p[1]);
	return r;
}

/* ------------------------------------------------------------ ring set-up */

static void ring_fails_in_auto_mode(uint32_t skip)
{
	weft_config c = cfg_of(2, WEFT_IO_AUTO);
	weft_runtime *rt;
	int r;

	weft__fault_arm(WEFT__FAULT_RING, skip, 1);
	rt = weft_runtime_new(&c);
	cr_assert_not_null(rt, "ring %u failed: weft_runtime_new gave errno %d "
			   "instead of falling back", skip, errno);
	cr_assert_eq(weft__fault_failed(WEFT__FAULT_RING), 1,
		     "the ring fault was not injected");
	cr_assert_eq(rt->io_backend, WEFT__IO_EPOLL,
		     "ring %u failed: the runtime should run on epoll", skip);
	r = weft_runtime_block_on(rt, pipe_round_trip, NULL);
	cr_assert_eq(r, 0, "I/O on the fallback backend: %d", r);
	weft_runtime_free(rt);
}

Test(fault, ring_setup_failure_falls_back_to_epoll_when_the_backend_is_auto)
{
	if (!auto_picks_uring())
		return;
	/* The first worker's ring, then the second's after the first one
	 * was made (that one is torn down again). */
	ring_fails_in_auto_mode(0);
	ring_fails_in_auto_mode(1);
}

Test(fault, ring_setup_failure_makes_runtime_new_fail_with_enomem_when_io_uring_is_forced)
{
	weft_config c = cfg_of(3, WEFT_IO_URING);
	int fds, threads;
	uint32_t skip;

	if (!auto_picks_uring())
		return;
	baseline(&threads, &fds);
	for (skip = 0; skip < 3; skip++) {
		weft__fault_arm(WEFT__FAULT_RING, skip, 1);
		errno = 0;
		cr_assert_null(weft_runtime_new(&c),
			       "ring %u failed: weft_runtime_new succeeded",
			       skip);
		cr_assert_eq(errno, ENOMEM, "ring %u: errno %d", skip, errno);
		cr_assert_eq(weft__fault_failed(WEFT__FAULT_RING), 1,
			     "the ring fault was not injected");
		cr_assert_eq(fds_now(), fds, "ring %u: descriptors leaked "
			     "(rings and eventfds of the other workers)", skip);
		expect_threads(threads);
	}
	weft__fault_arm(WEFT__FAULT_RING, 0, 0);
	cr_assert_eq(t_run_cfg(pipe_round_trip, NULL, 3, &c), 0,
		     "a runtime made after the faults does I/O on io_uring");
}

/* ----------------------------------------------------------- SQ exhaustion */

static int read_forever(void *arg)
{
	char b;

	return (int)weft_read(*(int *)arg, &b, 1, WEFT_OFF_CURRENT);
}

static int sqe_main(void *arg)
{
	weft_task *t;
	int p[2], i, r;

	(void)arg;
	for (i = 0; i < 64; i++) {
		r = pipe_round_trip(NULL);
		if (r)
			return r;
	}
	/* A cancel request takes an SQE as well. */
	if (pipe(p) < 0)
		return -errno;
	t = weft_spawn(read_forever, &p[0]);
	if (!t || !t_wait_parked(t))
		return -EIO;
	weft_cancel(t);
	r = weft_join(t);
	close(p[0]);
	close(p[1]);
	return r == -ECANCELED ? 0 : -EIO;
}

Test(fault, sqe_exhaustion_submits_the_queue_and_every_op_still_completes)
{
	weft_config c = cfg_of(2, WEFT_IO_URING);
	int r;

	if (!auto_picks_uring())
		return;
	/* Every SQE asked for finds the SQ full first. */
	weft__fault_arm(WEFT__FAULT_SQE, 0, WEFT__FAULT_FOREVER);
	r = t_run_cfg(sqe_main, NULL, 2, &c);
	cr_assert_eq(r, 0, "ops with a full SQ: %d", r);
	/* 64 writes and reads, the read and its cancel, the eventfd reads. */
	cr_assert_geq(weft__fault_failed(WEFT__FAULT_SQE), 130,
		      "SQE faults injected: %llu",
		      (unsigned long long)weft__fault_failed(WEFT__FAULT_SQE));
}

/* ------------------------------------------------------------- allocation */

static int spawn_main(void *arg)
{
	weft_task *t;

	(void)arg;
	/* No task has ended on this worker: its task-block cache is empty,
	 * so the spawn allocates. */
	weft__fault_arm(WEFT__FAULT_ALLOC, 0, 1);
	t_errno_clear();
	t = weft_spawn(forty_two, NULL);
	cr_assert_null(t, "weft_spawn succeeded with no memory");
	cr_assert_eq(t_errno(), ENOMEM, "weft_spawn: errno %d", t_errno());
	cr_assert_eq(weft__fault_failed(WEFT__FAULT_ALLOC), 1,
		     "the allocation fault was not injected");
	t = weft_spawn(forty_two, NULL);
	cr_assert_not_null(t, "weft_spawn after the fault: errno %d",
			   t_errno());
	return weft_join(t);
}

Test(fault, spawn_returns_enomem_when_the_task_block_cannot_be_allocated)
{
	weft_config c = cfg_of(1, WEFT_IO_AUTO);
	weft_runtime *rt;
	int r;

	r = t_run_cfg(spawn_main, NULL, 1, &c);
	cr_assert_eq(r, 42, "the spawn after the failed one: %d", r);

	/* From outside the runtime: weft_spawn_on and block_on. */
	rt = weft_runtime_new(&c);
	cr_assert_not_null(rt, "weft_runtime_new: errno %d", errno);
	weft__fault_arm(WEFT__FAULT_ALLOC, 0, 1);
	errno = 0;
	cr_assert_null(weft_spawn_on(rt, forty_two, NULL),
		       "weft_spawn_on succeeded with no memory");
	cr_assert_eq(errno, ENOMEM, "weft_spawn_on: errno %d", errno);
	weft__fault_arm(WEFT__FAULT_ALLOC, 0, 1);
	r = weft_runtime_block_on(rt, forty_two, NULL);
	cr_assert_eq(r, -ENOMEM, "block_on with no memory: %d", r);
	cr_assert_eq(weft__fault_failed(WEFT__FAULT_ALLOC), 1,
		     "the allocation fault was not injected");
	r = weft_runtime_block_on(rt, forty_two, NULL);
	cr_assert_eq(r, 42, "block_on after the fault: %d", r);
	weft_runtime_free(rt);
}

/*
 * Waking more tasks than a run queue holds moves half of it to the inject
 * queue in a batch that must be allocated; with no memory for it, each
 * task that does not fit goes there alone instead (it was a panic).
 */
#define WOKEN 1500	/* more than WEFT__RQ_CAP (1024) */

static weft_event wake_all;

static int woken(void *arg)
{
	int r = weft_event_wait(&wake_all);

	return r ? r : (int)(intptr_t)arg;
}

static int overflow_main(void *arg)
{
	static weft_task *t[WOKEN];
	int i, r;

	(void)arg;
	weft_event_init(&wake_all);
	for (i = 0; i < WOKEN; i++) {
		t[i] = weft_spawn(woken, (void *)(intptr_t)i);
		cr_assert_not_null(t[i], "spawn %d: errno %d", i, t_errno());
	}
	/* Every child parked on the event before it is set. */
	for (i = 0; i < WOKEN; i++)
		cr_assert(t_wait_parked(t[i]), "task %d never parked", i);
	weft__fault_arm(WEFT__FAULT_ALLOC, 0, WEFT__FAULT_FOREVER);
	weft_event_set(&wake_all);
	for (i = 0; i < WOKEN; i++) {
		r = weft_join(t[i]);
		cr_assert_eq(r, i, "task %d after the wake: %d", i, r);
	}
	cr_assert_gt(weft__fault_failed(WEFT__FAULT_ALLOC), 0,
		     "no overflow batch was refused");
	weft__fault_arm(WEFT__FAULT_ALLOC, 0, 0);
	return 0;
}

Test(fault, a_full_run_queue_with_no_memory_for_its_overflow_batch_keeps_every_task)
{
	cr_assert_eq(t_run(overflow_main, NULL, 1), 0, "run");
}

/*
 * The sweep: a runtime's whole life (creation, spawns, a group, a channel,
 * a future's callbacks, deadline scopes, task-locals, the blocking pool,
 * I/O, shutdown) with its k-th allocation failing, for every k.  Each step
 * must succeed or report ENOMEM (EAGAIN from the blocking pool, whose
 * thread could not be set up); a task that was spawned runs or ends with
 * -ENOMEM (no stack).
 */
#define SWEEP_CHILDREN 8
#define SWEEP_ITEMS 100

static _Atomic unsigned sweep_bad;	/* steps that broke the rule */
static _Atomic int sweep_last_bad;

static void bad(int what)
{
	atomic_fetch_add(&sweep_bad, 1);
	atomic_store(&sweep_last_bad, what);
}

static void expect_ok_or_nomem(int r, int ok, int what)
{
	if (r != ok && r != -ENOMEM)
		bad(what * 1000 + (r < 0 ? -r : r));
}

static int child(void *arg)
{
	return (int)(intptr_t)arg;
}

static void count_cb(weft_future *f, void *arg)
{
	(void)f;
	atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

static int blocking_fn(void *arg)
{
	(void)arg;
	return 7;
}

static void sweep_tasks(void)
{
	weft_task *t[SWEEP_CHILDREN];
	weft_group *g;
	int i, r;

	for (i = 0; i < SWEEP_CHILDREN; i++) {
		t[i] = weft_spawn(child, (void *)(intptr_t)i);
		if (!t[i] && t_errno() != ENOMEM)
			bad(1000 + t_errno());
	}
	for (i = 0; i < SWEEP_CHILDREN; i++)
		if (t[i])
			expect_ok_or_nomem(weft_join(t[i]), i, 2);
	g = weft_group_new();
	if (!g) {
		if (t_errno() != ENOMEM)
			bad(3000 + t_errno());
		return;
	}
	for (i = 0; i < 3; i++)
		if (!weft_group_spawn(g, child, NULL) && t_errno() != ENOMEM)
			bad(4000 + t_errno());
	r = weft_group_wait(g);
	expect_ok_or_nomem(r, 0, 5);
	weft_group_free(g);
}

static void sweep_values(void)
{
	_Atomic unsigned calls = 0;
	weft_future *f;
	weft_chan *ch;
	unsigned got = 0;
	int i, v, r;

	ch = weft_chan_new(sizeof(int), 0);
	if (ch) {
		for (i = 0; i < SWEEP_ITEMS; i++) {
			r = weft_chan_send(ch, &i);
			expect_ok_or_nomem(r, 0, 6);
			got += r == 0;
		}
		for (; got; got--) {
			r = weft_chan_recv(ch, &v);
			expect_ok_or_nomem(r, 0, 7);
		}
		weft_chan_free(ch);
	} else if (t_errno() != ENOMEM) {
		bad(8000 + t_errno());
	}
	f = weft_future_new();
	if (f) {
		for (i = 0, got = 0; i < 3; i++) {
			r = weft_future_on_done(f, count_cb, &calls);
			expect_ok_or_nomem(r, 0, 9);
			got += r == 0;
		}
		weft_future_set(f, NULL, 0);
		if (atomic_load(&calls) != got)
			bad(10000);
		weft_future_free(f);
	} else if (t_errno() != ENOMEM) {
		bad(11000 + t_errno());
	}
}

static void sweep_scopes(void)
{
	weft_local_key *k;
	weft_task *t;
	int i, n = 0, r;

	for (i = 0; i < 6; i++) {
		r = weft_deadline_push(3600ull * 1000 * MS);
		expect_ok_or_nomem(r, 0, 12);
		n += r == 0;
	}
	while (n--)
		weft_deadline_pop();
	k = weft_local_key_new(NULL);
	if (!k) {
		if (t_errno() != ENOMEM)
			bad(13000 + t_errno());
		return;
	}
	expect_ok_or_nomem(weft_local_set(k, &n), 0, 14);
	t = weft_spawn(child, (void *)(intptr_t)5);
	if (t)
		expect_ok_or_nomem(weft_join(t), 5, 15);
	weft_local_set(k, NULL);
	weft_local_key_free(k);
}

static int sweep_main(void *arg)
{
	int r;

	(void)arg;
	sweep_tasks();
	sweep_values();
	sweep_scopes();
	r = weft_blocking(blocking_fn, NULL);
	if (r != 7 && r != -ENOMEM && r != -EAGAIN)
		bad(16000 + (r < 0 ? -r : r));
	expect_ok_or_nomem(pipe_round_trip(NULL), 0, 17);
	return 0;
}

/* One life of a runtime; sweep_bad counts what broke the rule. */
static void sweep_once(unsigned workers, int debug)
{
	weft_config c = cfg_of(workers, WEFT_IO_AUTO);
	weft_runtime *rt;
	int r;

	c.debug = debug;
	rt = weft_runtime_new(&c);
	if (!rt) {
		if (errno != ENOMEM && errno != EAGAIN)
			bad(18000 + errno);
		return;
	}
	r = weft_runtime_block_on(rt, sweep_main, NULL);
	expect_ok_or_nomem(r, 0, 19);
	weft_runtime_free(rt);
}

/* Fail the k-th acquisition of kind in a life, for every k. */
static void sweep(enum weft__fault kind, unsigned workers, int debug)
{
	uint64_t total, k, missed = 0;

	/* How many acquisitions one life makes (about: threads race). */
	weft__fault_arm(kind, WEFT__FAULT_FOREVER - 1, 1);
	sweep_once(workers, debug);
	total = weft__fault_seen(kind);
	cr_assert_eq(atomic_load(&sweep_bad), 0,
		     "a life without faults broke the rule (%d)",
		     atomic_load(&sweep_last_bad));
	cr_assert_gt(total, 0, "no acquisition of kind %d seen", kind);
	for (k = 0; k < total + 4; k++) {
		weft__fault_arm(kind, (uint32_t)k, 1);
		sweep_once(workers, debug);
		cr_assert_eq(atomic_load(&sweep_bad), 0,
			     "kind %d, acquisition %llu failed: step %d broke "
			     "the rule", kind, (unsigned long long)k,
			     atomic_load(&sweep_last_bad));
		missed += weft__fault_failed(kind) == 0;
	}
	weft__fault_arm(kind, 0, 0);
	/* The ones past the end of a life, and a few a racing life skips
	 * (rounded up: with 3 acquisitions in a life, one may be skipped). */
	cr_assert_leq(missed, 4 + (total + 3) / 4,
		      "%llu of %llu lives saw no fault",
		     (unsigned long long)missed, (unsigned long long)total);
}

Test(fault, allocation_failure_anywhere_in_a_runtime_life_is_an_error_value)
{
	sweep(WEFT__FAULT_ALLOC, 2, 0);
	sweep(WEFT__FAULT_ALLOC, 1, 1);		/* debug mode's own */
}

Test(fault, thread_or_stack_map_failure_anywhere_in_a_runtime_life_is_an_error_value)
{
	sweep(WEFT__FAULT_THREAD, 2, 0);
	sweep(WEFT__FAULT_THREAD, 1, 1);
	sweep(WEFT__FAULT_MMAP, 2, 0);
}

/* ------------------------------------------------------------ stack mmap */

#define STACK_CHILDREN 8

static weft_event hold;
static _Atomic unsigned started;
static _Atomic unsigned reported;	/* on_task_error with -ENOMEM */

static int holder(void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	return weft_event_wait(&hold);
}

static void on_error(weft_task *t, int status, void *arg)
{
	(void)t;
	(void)arg;
	if (status == -ENOMEM)
		atomic_fetch_add(&reported, 1);
}

static int stack_main(void *arg)
{
	weft_task *t[STACK_CHILDREN];
	weft_stats st;
	unsigned i, nomem = 0;
	int r;

	(void)arg;
	weft_event_init(&hold);
	/* No more stack regions: children get the stacks already mapped
	 * (this task has the first of them), then none. */
	weft__fault_arm(WEFT__FAULT_MMAP, 0, WEFT__FAULT_FOREVER);
	for (i = 0; i < STACK_CHILDREN; i++) {
		t[i] = weft_spawn(holder, NULL);
		cr_assert_not_null(t[i], "spawn %u: errno %d", i, t_errno());
	}
	/* Until every child has either started (and holds its stack) or
	 * ended without running: the live ones are the started ones. */
	for (i = 0; i < 100000; i++) {
		weft_stats_get(NULL, &st);
		if (st.tasks_live - 1 == atomic_load(&started))
			break;
		weft_yield();
	}
	weft_event_set(&hold);
	for (i = 0; i < STACK_CHILDREN; i++) {
		r = weft_join(t[i]);
		cr_assert(r == 0 || r == -ENOMEM, "child %u: %d", i, r);
		nomem += r == -ENOMEM;
	}
	cr_assert_gt(nomem, 0, "every child got a stack with mmap failing");
	cr_assert_eq(nomem + atomic_load(&started), STACK_CHILDREN,
		     "a child both ran and failed, or neither");
	cr_assert_gt(weft__fault_failed(WEFT__FAULT_MMAP), 0,
		     "the mmap fault was not injected");

	/* A detached task that gets no stack is reported like any failed
	 * detached task. */
	weft_detach(weft_spawn(holder, NULL));
	weft_detach(weft_spawn(holder, NULL));
	weft_detach(weft_spawn(holder, NULL));
	for (i = 0; i < 100000 && !atomic_load(&reported); i++)
		weft_yield();
	cr_assert_gt(atomic_load(&reported), 0,
		     "no on_task_error for a task without a stack");

	/* Memory back: tasks run again. */
	weft__fault_arm(WEFT__FAULT_MMAP, 0, 0);
	t[0] = weft_spawn(forty_two, NULL);
	cr_assert_not_null(t[0], "spawn after the fault: errno %d", t_errno());
	return weft_join(t[0]);
}

Test(fault, stack_mmap_failure_fails_the_task_with_enomem_not_the_process)
{
	weft_config c = cfg_of(1, WEFT_IO_AUTO);
	int r;

	c.on_task_error = on_error;
	r = t_run_cfg(stack_main, NULL, 1, &c);
	cr_assert_eq(r, 42, "after the stack faults: %d", r);
}

/* weft_run's main task runs as worker 0's first task: if it gets no stack,
 * weft_run says so instead of waiting for a main that never ends. */
Test(fault, weft_run_returns_enomem_when_its_main_task_gets_no_stack)
{
	weft_config c = cfg_of(2, WEFT_IO_AUTO);
	int r;

	weft__fault_arm(WEFT__FAULT_MMAP, 0, WEFT__FAULT_FOREVER);
	r = weft_run(forty_two, NULL, &c);
	weft__fault_arm(WEFT__FAULT_MMAP, 0, 0);
	cr_assert_eq(r, -ENOMEM, "weft_run: %d", r);
}

/* --------------------------------------------------------- thread creation */

Test(fault, worker_thread_creation_failure_makes_runtime_new_fail_with_eagain_and_free_everything)
{
	weft_config c = cfg_of(4, WEFT_IO_AUTO);
	int fds, threads;
	uint32_t skip;

	baseline(&threads, &fds);
	/* The first worker's thread, then the third's with two running. */
	for (skip = 0; skip < 4; skip += 2) {
		weft__fault_arm(WEFT__FAULT_THREAD, skip, 1);
		errno = 0;
		cr_assert_null(weft_runtime_new(&c),
			       "worker %u had no thread: runtime_new succeeded",
			       skip);
		cr_assert_eq(errno, EAGAIN, "worker %u: errno %d", skip,
			     errno);
		cr_assert_eq(weft__fault_failed(WEFT__FAULT_THREAD), 1,
			     "the thread fault was not injected");
		expect_threads(threads);
		cr_assert_eq(fds_now(), fds, "worker %u: descriptors leaked",
			     skip);
	}
	weft__fault_arm(WEFT__FAULT_THREAD, 0, 0);
	cr_assert_eq(t_run_cfg(forty_two, NULL, 4, &c), 42,
		     "a runtime made after the faults");
}

Test(fault, watchdog_thread_creation_failure_makes_a_debug_runtime_fail_with_eagain)
{
	weft_config c = cfg_of(2, WEFT_IO_AUTO);
	int fds, threads;

	baseline(&threads, &fds);
	c.debug = 1;
	/* The watchdog starts before the workers. */
	weft__fault_arm(WEFT__FAULT_THREAD, 0, 1);
	errno = 0;
	cr_assert_null(weft_runtime_new(&c), "no watchdog: runtime_new "
		       "succeeded");
	cr_assert_eq(errno, EAGAIN, "errno %d", errno);
	cr_assert_eq(weft__fault_failed(WEFT__FAULT_THREAD), 1,
		     "the thread fault was not injected");
	expect_threads(threads);
	cr_assert_eq(fds_now(), fds, "descriptors leaked");
	cr_assert_eq(t_run_cfg(forty_two, NULL, 2, &c), 42,
		     "a debug runtime made after the fault");
}

static _Atomic unsigned blocking_ran;

static int blocking_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&blocking_ran, 1);
	return 7;
}

static int blocking_main(void *arg)
{
	int r;

	(void)arg;
	weft__fault_arm(WEFT__FAULT_THREAD, 0, WEFT__FAULT_FOREVER);
	r = weft_blocking(blocking_job, NULL);
	cr_assert_eq(r, -EAGAIN, "no pool thread: weft_blocking gave %d", r);
	cr_assert_eq(atomic_load(&blocking_ran), 0, "the job ran anyway");
	/* The job thread, and the pool's monitor before it. */
	cr_assert_eq(weft__fault_failed(WEFT__FAULT_THREAD), 2,
		     "thread faults injected: %llu",
		     (unsigned long long)weft__fault_failed(
			     WEFT__FAULT_THREAD));
	weft__fault_arm(WEFT__FAULT_THREAD, 0, 0);
	r = weft_blocking(blocking_job, NULL);
	cr_assert_eq(r, 7, "weft_blocking after the fault: %d", r);
	return 0;
}

Test(fault, blocking_thread_creation_failure_makes_weft_blocking_return_eagain_and_the_pool_recover)
{
	int fds, threads;

	baseline(&threads, &fds);
	cr_assert_eq(t_run(blocking_main, NULL, 1), 0, "run");
	expect_threads(threads);
	cr_assert_eq(fds_now(), fds, "descriptors leaked");
}

/* ------------------------------------------------------------ WEFT_FAULT */

Test(fault, env_weft_fault_arms_faults_at_the_first_runtime_new)
{
	weft_config c = cfg_of(2, WEFT_IO_AUTO);

	setenv("WEFT_FAULT", "mmap:0:0,thread:1:forever", 1);
	errno = 0;
	cr_assert_null(weft_runtime_new(&c), "WEFT_FAULT=thread:1:forever "
		       "did not fail the second worker");
	cr_assert_eq(errno, EAGAIN, "errno %d", errno);
	cr_assert_eq(weft__fault_failed(WEFT__FAULT_THREAD), 1,
		     "faults injected: %llu",
		     (unsigned long long)weft__fault_failed(
			     WEFT__FAULT_THREAD));
	/* Read once per process: disarmed, it stays so. */
	weft__fault_arm(WEFT__FAULT_THREAD, 0, 0);
	cr_assert_eq(t_run_cfg(forty_two, NULL, 2, &c), 42, "second runtime");
}

Test(fault, a_bad_weft_fault_spec_makes_runtime_new_fail_with_einval)
{
	weft_config c = cfg_of(1, WEFT_IO_AUTO);

	setenv("WEFT_FAULT", "alloc:1,disk:0:1", 1);
	errno = 0;
	cr_assert_null(weft_runtime_new(&c), "a bad WEFT_FAULT was accepted");
	cr_assert_eq(errno, EINVAL, "errno %d", errno);
	/* Nothing of it was armed, not even the good part. */
	weft__free(weft__malloc(8));
	weft__free(weft__malloc(8));
	cr_assert_eq(weft__fault_seen(WEFT__FAULT_ALLOC), 0,
		     "a spec was armed from a bad WEFT_FAULT");
}
