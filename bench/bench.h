/*
 * Shared declarations of weft-bench: options, clock, result line and the
 * entry point of every workload (see ../shared/WORKLOADS.md).
 *
 * A workload entry point runs outside the runtime: it starts weft through
 * bench_run(), does its timed work inside the main task, and prints one
 * result line with bench_report() once the runtime has shut down, so that
 * peak_rss_kib covers the whole run.  It returns the process exit status:
 * 0 for check=ok (or n/a), 1 for check=FAIL.
 */
#ifndef WEFT_BENCH_BENCH_H
#define WEFT_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "weft.h"

struct bench_opts {
	bool quick;		/* --quick: sizes divided by 10 */
	unsigned workers;	/* --workers N; 0 = weft's default */
	const char *file;	/* --file F (file workloads); NULL: see file.c */
	int port;		/* --port P (servers); 0: not given */
};

/* The result of one workload, filled by the workload, printed by main. */
struct bench_result {
	const char *name;
	int64_t n;
	uint64_t wall_ns;
	bool ok;
	char extra[384];	/* " key=value ..." printed before peak_rss */
};

/*
 * Read a task-written atomic once weft_run has returned: the runtime's
 * shutdown joined every worker thread, which orders their writes before
 * this read, so relaxed is enough.
 */
#define BENCH_LOAD(p) atomic_load_explicit((p), memory_order_relaxed)

typedef int (*bench_fn)(const struct bench_opts *o);

/* util.c */
uint64_t bench_now_ns(void);
int64_t bench_scale(const struct bench_opts *o, int64_t n);
int bench_run(const struct bench_opts *o, int (*fn)(void *), void *arg);
int bench_report(const struct bench_result *r);
void bench_extra(struct bench_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
long bench_vmrss_kib(void);
void *bench_calloc(size_t n, size_t size);

/* tasks.c */
int bench_spawn_many(const struct bench_opts *o);
int bench_chained_spawn(const struct bench_opts *o);
int bench_yield_many(const struct bench_opts *o);
int bench_ping_pong(const struct bench_opts *o);

/* tree.c */
int bench_skynet(const struct bench_opts *o);
int bench_fib(const struct bench_opts *o);

/* timers.c */
int bench_timers(const struct bench_opts *o);

/* sync.c */
int bench_channel_mpmc(const struct bench_opts *o);
int bench_mutex(const struct bench_opts *o);

/* blocking.c */
int bench_blocking(const struct bench_opts *o);

/* file.c */
int bench_file_read(const struct bench_opts *o);
int bench_file_rand4k(const struct bench_opts *o);

/* net.c: servers, run until SIGTERM or SIGINT; they print no result line */
int bench_serve_echo(const struct bench_opts *o);
int bench_serve_sink(const struct bench_opts *o);
int bench_serve_http(const struct bench_opts *o);

/* memory.c */
int bench_idle_tasks(const struct bench_opts *o);
int bench_startup(const struct bench_opts *o);
int bench_startup_child(const struct bench_opts *o);

#endif /* WEFT_BENCH_BENCH_H */
