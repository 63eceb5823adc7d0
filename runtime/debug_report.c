/*
 * Debug mode: the task registry, the reports at shutdown, and the list of
 * runtimes.
 *
 * Registry.  In debug mode a task is registered when it first comes off a
 * queue (first_run in worker.c: every task does, before shutdown can end,
 * even one cancelled before it ran), in its worker's shard, and the
 * registry takes one more reference on it.  So its block outlives both the
 * task and its handle until a sweep of the watchdog finds the registry's
 * reference the only one left (the task ended and its handle was released;
 * nobody can take a reference then) and drops it.  That gives:
 *   - the watchdog may read the id and name of a task it sees running: it
 *     is the one that sweeps, so a task it sampled is not freed under it;
 *   - at shutdown, once the workers are joined, a registered task still
 *     holding two references (ours and its handle's) that is not detached
 *     is a handle never joined nor detached (nor released by its group);
 *   - a detached task that failed while no on_task_error was set is noted
 *     when swept, and listed at shutdown.
 * The price of debug mode: a mutex per task start, task blocks freed by
 * the watchdog a sweep late instead of going back to the worker caches.
 *
 * Shutdown that takes long.  Shutdown cancels every task and waits for
 * them all; a task inside weft_blocking waits for its job, which cannot be
 * interrupted, and a task that never suspends never sees its cancellation.
 * If the tasks have not ended within a second, every registered task not
 * yet ended is listed, with what it waits in, and the blocking pool's
 * threads and queue are counted: the blocking jobs still running are the
 * ones whose tasks wait in weft_blocking.
 *
 * Not covered, because nothing records them or not reliably: descriptors,
 * channels, futures, generators and local keys left open (there is no
 * registry of them: a generator never closed shows only as its producer
 * task's leaked handle); a handle that another thread releases while
 * weft_runtime_free runs (it may be listed as leaked); blocking jobs
 * queued or running outside of shutdown; tasks whose registration found no
 * memory (untracked).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/blocking.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/sanitizer.h"
#include "runtime/task.h"
#include "runtime/timer.h"
#include "runtime/watchdog.h"
#include "runtime/worker.h"

/* How long shutdown waits for the tasks before it says which are left:
 * far above any cancellation's unwinding, short enough to be seen before
 * someone kills the process. */
#define STUCK_NS 1000000000ull
/* First size of a registry shard: a burst of spawns grows it rarely. */
#define SHARD_MIN 256

struct weft__rt_node *weft__rt_list;
static pthread_mutex_t rt_list_lock = PTHREAD_MUTEX_INITIALIZER;

#ifdef WEFT_TSAN
/* The tsan runtime's dynamic annotations. */
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#endif

/*
 * Copy t's name for a report.  A task may rename itself while we read (a
 * benign race, as in weft_dump): the copy may then mix the two names, and
 * is always terminated.  TSan is told to ignore these reads.
 */
void weft__dbg_copy_name(char *dst, size_t cap, const struct weft_task *t)
{
	const volatile char *s = t->name;
	size_t i;

#ifdef WEFT_TSAN
	AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
#endif
	for (i = 0; i + 1 < cap && i < sizeof(t->name); i++)
		dst[i] = s[i];
#ifdef WEFT_TSAN
	AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
	dst[i] = '\0';
	if (!dst[0] && cap > 1) {
		dst[0] = '-';
		dst[1] = '\0';
	}
}

static struct weft__debug *dbg_of(struct weft_runtime *rt)
{
	if (!rt->workers || !rt->nworkers || !rt->workers[0] ||
	    !rt->workers[0]->dbg)
		return NULL;
	return rt->workers[0]->dbg->d;
}

/*
 * What is written while we hold shard locks goes to a memory stream first,
 * and to stderr once they are dropped: a task that held stderr's lock
 * (flockfile) while starting a task would otherwise wait on our shard
 * lock while we waited on its stderr lock.
 */
struct out {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *out_open(struct out *o)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	return o->f ? o->f : stderr;	/* no memory: straight out */
}

static void out_flush(struct out *o)
{
	if (!o->f)
		return;
	if (fclose(o->f) == 0 && o->len)
		fwrite(o->buf, 1, o->len, stderr);
	free(o->buf);	/* open_memstream's, from libc */
}

/* ------------------------------------------------------- runtime list */

static void list_add(struct weft_runtime *rt)
{
	struct weft__rt_node *n = weft__malloc(sizeof(*n));

	if (!n)
		return;	/* unlisted: no SIGQUIT dump, unseen by gdb */
	n->rt = rt;
	pthread_mutex_lock(&rt_list_lock);
	n->next = weft__rt_list;
	weft__rt_list = n;
	pthread_mutex_unlock(&rt_list_lock);
}

static void list_del(struct weft_runtime *rt)
{
	struct weft__rt_node **p, *n = NULL;

	pthread_mutex_lock(&rt_list_lock);
	for (p = &weft__rt_list; *p; p = &(*p)->next) {
		if ((*p)->rt == rt) {
			n = *p;
			*p = n->next;
			break;
		}
	}
	pthread_mutex_unlock(&rt_list_lock);
	weft__free(n);
}

/*
 * Debug mode: the task each worker runs now, which weft_dump only counts
 * when it has not switched out yet (a task stuck in a loop from its start).
 * Every shard is locked so that no sweep frees a task we read (the sweeps
 * take one shard lock at a time: no lock order to break).
 */
static void dump_running(struct weft__debug *d)
{
	struct weft_task *t;
	struct out o;
	char name[32];
	unsigned i;
	FILE *f = out_open(&o);

	for (i = 0; i < d->nworkers; i++)
		pthread_mutex_lock(&d->w[i].lock);
	for (i = 0; i < d->nworkers; i++) {
		/* acquire: pairs with the release in weft__dbg_switch. */
		t = atomic_load_explicit(&d->w[i].current,
					 memory_order_acquire);
		if (!t)
			continue;
		weft__dbg_copy_name(name, sizeof(name), t);
		fprintf(f, "  worker %u runs task %" PRIu64 " \"%s\"\n", i,
			t->id, name);
	}
	for (i = 0; i < d->nworkers; i++)
		pthread_mutex_unlock(&d->w[i].lock);
	out_flush(&o);
}

void weft__debug_dump_all(void)
{
	struct weft__rt_node *n;
	struct weft__debug *d;

	/* Held throughout: a runtime is unlisted before it is freed. */
	pthread_mutex_lock(&rt_list_lock);
	for (n = weft__rt_list; n; n = n->next) {
		fprintf(stderr, "weft: SIGQUIT: runtime %p\n", (void *)n->rt);
		weft_dump(n->rt, stderr);
		d = dbg_of(n->rt);
		if (d)
			dump_running(d);
	}
	pthread_mutex_unlock(&rt_list_lock);
}

/* ----------------------------------------------------------- registry */

static bool shard_grow(struct weft__dbg_worker *x)
{
	size_t cap = x->cap ? 2 * x->cap : SHARD_MIN;
	struct weft_task **a = weft__malloc(cap * sizeof(*a));

	if (!a)
		return false;
	if (x->n)
		memcpy(a, x->tasks, x->n * sizeof(*a));
	weft__free(x->tasks);
	x->tasks = a;
	x->cap = cap;
	return true;
}

void weft__dbg_register(struct weft__dbg_worker *x, struct weft_task *t)
{
	pthread_mutex_lock(&x->lock);
	if (x->n < x->cap || shard_grow(x)) {
		/* Relaxed: the caller holds a reference (the scheduler's). */
		atomic_fetch_add_explicit(&t->state, T_REF_ONE,
					  memory_order_relaxed);
		x->tasks[x->n++] = t;
	}
	pthread_mutex_unlock(&x->lock);
}

/* A detached task that failed with nobody told: keep it for the report.
 * s was loaded with acquire and has T_COMPLETE: t->status is final. */
static void note_failed(struct weft__debug *d, struct weft_task *t,
			uint64_t s)
{
	struct weft__dbg_failed *f;

	if (!(s & T_DETACHED) || !(s & T_COMPLETE) || t->status >= 0 ||
	    t->status == -ECANCELED || d->rt->cfg.on_task_error)
		return;
	if (d->nfailed < WEFT__DBG_FAILED_MAX) {
		f = &d->failed[d->nfailed];
		f->id = t->id;
		f->status = t->status;
		weft__dbg_copy_name(f->name, sizeof(f->name), t);
	}
	d->nfailed++;
}

/* The registry's reference is the only one left: t is finished and its
 * handle released. */
static bool only_ours(struct weft_task *t, uint64_t *s)
{
	/* acquire: pairs with the acq_rel of the other releases. */
	*s = atomic_load_explicit(&t->state, memory_order_acquire);
	return T_REFS(*s) == 1;
}

void weft__debug_sweep(struct weft__debug *d)
{
	struct weft_task *t;
	unsigned i;
	size_t j, k;
	uint64_t s;

	for (i = 0; i < d->nworkers; i++) {
		struct weft__dbg_worker *x = &d->w[i];

		pthread_mutex_lock(&x->lock);
		for (j = k = 0; j < x->n; j++) {
			t = x->tasks[j];
			if (only_ours(t, &s)) {
				note_failed(d, t, s);
				weft__task_unref(t);
			} else {
				x->tasks[k++] = t;
			}
		}
		x->n = k;
		pthread_mutex_unlock(&x->lock);
	}
}

/* ------------------------------------------------ shutdown that waits */

/* What t waits in, for the stuck report (relaxed: as weft_dump). */
static void print_stuck(FILE *f, struct weft__debug *d,
			struct weft_task *t)
{
	const char *file = __atomic_load_n(&t->wait_file, __ATOMIC_RELAXED);
	const char *func = __atomic_load_n(&t->wait_func, __ATOMIC_RELAXED);
	const char *state = weft__park_state(t);
	char name[32];
	unsigned i;

	weft__dbg_copy_name(name, sizeof(name), t);
	fprintf(f, "weft:   task %" PRIu64 " \"%s\": ", t->id, name);
	for (i = 0; i < d->nworkers; i++) {
		if (atomic_load_explicit(&d->w[i].current,
					 memory_order_relaxed) == t) {
			fprintf(f,
				"running on worker %u (it sees its "
				"cancellation only when it suspends)\n", i);
			return;
		}
	}
	if (state[0] != 'w' || !func) {
		fprintf(f, "%s (queued)\n", state);
		return;
	}
	fprintf(f, "waiting in %s (%s)", func, file ? file : "?");
	/* weft_blocking parks in the pool's files (runtime/blocking*.c). */
	if (file && strstr(file, "blocking"))
		fprintf(f, ": its weft_blocking job is still running; "
				"a job cannot be interrupted, shutdown waits "
				"for it to return");
	fputc('\n', f);
}

static void report_stuck(struct weft__debug *d)
{
	struct weft_runtime *rt = d->rt;
	uint64_t live = weft__runtime_live(rt), listed = 0;
	struct out o;
	unsigned i;
	size_t j;
	FILE *f = out_open(&o);

	fprintf(f,
		"weft: shutdown has waited %llu ms for the tasks to end, "
		"%" PRIu64 " left (WEFT_DEBUG):\n",
		STUCK_NS / 1000000, live);
	for (i = 0; i < d->nworkers; i++) {
		struct weft__dbg_worker *x = &d->w[i];

		pthread_mutex_lock(&x->lock);
		for (j = 0; j < x->n; j++) {
			if (weft__task_done(x->tasks[j]))
				continue;
			print_stuck(f, d, x->tasks[j]);
			listed++;
		}
		pthread_mutex_unlock(&x->lock);
	}
	if (live > listed)
		fprintf(f,
			"weft:   (%" PRIu64 " more not started yet: queued "
			"behind the tasks above)\n",
			live - listed);
	fprintf(f,
		"weft:   blocking pool: %u threads, %zu jobs queued\n",
		weft__blocking_threads(rt->blocking),
		weft__blocking_queued(rt->blocking));
	out_flush(&o);
	atomic_fetch_add_explicit(&d->stuck_reports, 1, memory_order_relaxed);
}

void weft__debug_slow_shutdown(struct weft_runtime *rt)
{
	struct weft__debug *d = dbg_of(rt);
	uint64_t until = weft__now() + STUCK_NS, now;
	struct timespec ts;

	if (!d)
		return;
	/* acquire: pairs with the CAS in weft__runtime_check_quiescent. */
	while (!atomic_load_explicit(&rt->quiescent, memory_order_acquire)) {
		now = weft__now();
		if (now >= until) {
			report_stuck(d);
			return;
		}
		ts.tv_sec = (time_t)((until - now) / 1000000000);
		ts.tv_nsec = (long)((until - now) % 1000000000);
		syscall(SYS_futex, &rt->quiescent, FUTEX_WAIT_PRIVATE, 0, &ts,
			NULL, 0);
	}
}

/* ------------------------------------------------------- final report */

static void report_header(bool *said)
{
	if (!*said)
		fprintf(stderr, "weft: debug report at shutdown (WEFT_DEBUG):\n");
	*said = true;
}

/* A registered task at the end: list it if its handle leaked, then drop
 * the registry's reference (a leaked handle keeps the block). */
static bool leaked_handle(struct weft_task *t, bool *said)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
	bool leaked = !(s & T_DETACHED) && (s & T_COMPLETE);
	char name[32];

	if (leaked) {
		report_header(said);
		weft__dbg_copy_name(name, sizeof(name), t);
		fprintf(stderr,
			"weft:   task %" PRIu64 " \"%s\" ended (status %d) but "
			"its handle was never joined or detached%s\n",
			t->id, name, t->status,
			t->group ? " (spawned in a group never waited or freed)"
				 : "");
	}
	weft__task_unref(t);
	return leaked;
}

static void report_failed(struct weft__debug *d, bool *said)
{
	uint64_t i;

	for (i = 0; i < d->nfailed && i < WEFT__DBG_FAILED_MAX; i++) {
		struct weft__dbg_failed *f = &d->failed[i];

		report_header(said);
		fprintf(stderr,
			"weft:   detached task %" PRIu64 " \"%s\" failed "
			"with status %d (%s) and nobody was told (no "
			"weft_config.on_task_error)\n",
			f->id, f->name, f->status, strerror(-f->status));
	}
	if (d->nfailed > WEFT__DBG_FAILED_MAX)
		fprintf(stderr,
			"weft:   ... and %" PRIu64 " more failed detached "
			"tasks\n",
			d->nfailed - WEFT__DBG_FAILED_MAX);
}

/* After the workers are joined and the watchdog stopped: every task has
 * ended and left its stack.  List leaked handles and unheard failures,
 * drop the registry's references. */
static void final_report(struct weft__debug *d)
{
	uint64_t leaked = 0;
	bool said = false;
	unsigned w;
	size_t j;

	weft__debug_sweep(d);
	flockfile(stderr);
	for (w = 0; w < d->nworkers; w++) {
		struct weft__dbg_worker *x = &d->w[w];

		for (j = 0; j < x->n; j++)
			leaked += leaked_handle(x->tasks[j], &said);
		x->n = 0;
	}
	report_failed(d, &said);
	if (said)
		fprintf(stderr,
			"weft: task handles leaked: %" PRIu64
			", failed detached tasks unheard: %" PRIu64 "\n",
			leaked, d->nfailed);
	funlockfile(stderr);
}

/* ------------------------------------------------------------ set-up */

static void debug_free(struct weft__debug *d)
{
	unsigned i;

	for (i = 0; i < d->nworkers; i++) {
		pthread_mutex_destroy(&d->w[i].lock);
		weft__free(d->w[i].tasks);
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	weft__free(d->w);
	weft__free(d);
}

static struct weft__debug *debug_new(struct weft_runtime *rt)
{
	struct weft__debug *d = weft__calloc(1, sizeof(*d));
	int64_t ms = weft__config_debug_slow_ms();
	unsigned i;

	if (!d)
		return NULL;
	d->rt = rt;
	d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->w = weft__aligned_alloc(WEFT__CACHELINE,
				   rt->nworkers * sizeof(*d->w));
	if (d->stop_fd < 0 || !d->w) {
		d->nworkers = 0;
		debug_free(d);
		return NULL;
	}
	memset(d->w, 0, rt->nworkers * sizeof(*d->w));
	d->nworkers = rt->nworkers;
	/* Validated by weft__config_resolve. */
	d->slow_ns = (uint64_t)(ms > 0 ? ms : 100) * 1000000;
	for (i = 0; i < d->nworkers; i++) {
		d->w[i].d = d;
		d->w[i].index = i;
		pthread_mutex_init(&d->w[i].lock, NULL);
	}
	return d;
}

int weft__debug_init(struct weft_runtime *rt)
{
	struct weft__debug *d;
	unsigned i;
	int r;

	list_add(rt);
	if (!rt->cfg.debug)
		return 0;
	d = debug_new(rt);
	if (!d) {
		list_del(rt);
		return -ENOMEM;
	}
	r = weft__watchdog_start(d);
	if (r < 0) {
		debug_free(d);
		list_del(rt);
		return r;
	}
	weft__sigquit_acquire();
	/* The workers have not started: they see these from their start. */
	for (i = 0; i < rt->nworkers; i++)
		rt->workers[i]->dbg = &d->w[i];
	return 0;
}

void weft__debug_fini(struct weft_runtime *rt)
{
	struct weft__debug *d = dbg_of(rt);
	unsigned i;

	list_del(rt);
	if (!d)
		return;
	weft__watchdog_stop(d);
	weft__sigquit_release();
	final_report(d);
	for (i = 0; i < rt->nworkers; i++)
		rt->workers[i]->dbg = NULL;
	debug_free(d);
}

uint64_t weft__debug_slow_reports(struct weft_runtime *rt)
{
	struct weft__debug *d = rt ? dbg_of(rt) : NULL;

	return d ? atomic_load_explicit(&d->slow_reports,
					memory_order_relaxed)
		 : 0;
}

uint64_t weft__debug_stuck_reports(struct weft_runtime *rt)
{
	struct weft__debug *d = rt ? dbg_of(rt) : NULL;

	return d ? atomic_load_explicit(&d->stuck_reports,
					memory_order_relaxed)
		 : 0;
}
