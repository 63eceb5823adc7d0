/*
 * Helpers shared by the workloads: the monotonic clock, the --quick scale,
 * starting the runtime with the command-line config, and the result line.
 *
 * The result line copies the Go peer's (peers/go/main.go) so that run.sh
 * can put both in one table: the fixed keys first, then the workload's own
 * keys, then peak_rss_kib (getrusage ru_maxrss, KiB on Linux).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t bench_scale(const struct bench_opts *o, int64_t n)
{
	return o->quick ? n / 10 : n;
}

/* Run fn(arg) as weft's main task with the config the command line asked
 * for; every other field stays zero, i.e. weft's default. */
/* The scheduler's counters at the end of the last bench_run, printed on
 * the result line when WEFT_BENCH_STATS is set (to see why a figure moved:
 * steals and parks per op). */
static weft_stats last_stats;
static bool have_stats;

struct stats_call {
	int (*fn)(void *);
	void *arg;
};

static int run_then_count(void *arg)
{
	struct stats_call *c = arg;
	int r = c->fn(c->arg);

	have_stats = weft_stats_get(NULL, &last_stats) == 0;
	return r;
}

int bench_run(const struct bench_opts *o, int (*fn)(void *), void *arg)
{
	struct stats_call c = { fn, arg };
	weft_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = o->workers;
	return weft_run(run_then_count, &c, &cfg);
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

/* Print r's line; the exit status is 1 for check=FAIL so that meson's
 * bench suite (which only sees exit codes) fails with the check. */
int bench_report(const struct bench_result *r)
{
	double ns = (double)r->wall_ns;
	double per = r->n > 0 ? ns / (double)r->n : 0.0;

	printf("workload=%s runtime=weft n=%lld wall_ms=%.3f ns_per_op=%.1f "
	       "check=%s%s peak_rss_kib=%ld",
	       r->name, (long long)r->n, ns / 1e6, per,
	       r->ok ? "ok" : "FAIL", r->extra, peak_rss_kib());
	if (have_stats && getenv("WEFT_BENCH_STATS"))
		printf(" polls=%llu steals=%llu parks=%llu wakeups=%llu "
		       "inject_pops=%llu io_ops=%llu",
		       (unsigned long long)last_stats.polls,
		       (unsigned long long)last_stats.steals,
		       (unsigned long long)last_stats.parks,
		       (unsigned long long)last_stats.wakeups,
		       (unsigned long long)last_stats.inject_pops,
		       (unsigned long long)last_stats.io_ops);
	printf("\n");
	fflush(stdout);
	return r->ok ? 0 : 1;
}

/* Append " key=value ..." to r->extra; a line cut short is still valid. */
void bench_extra(struct bench_result *r, const char *fmt, ...)
{
	size_t len = strlen(r->extra);
	va_list ap;

	if (len + 1 >= sizeof(r->extra))
		return;
	va_start(ap, fmt);
	vsnprintf(r->extra + len, sizeof(r->extra) - len, fmt, ap);
	va_end(ap);
}

/*
 * VmRSS of /proc/self/status in KiB, or -1.  Plain read() into a static
 * buffer rather than stdio: it runs on a task stack and allocates nothing,
 * so it does not move the figure it measures.  Not reentrant; only the main
 * task of idle_tasks calls it.
 */
long bench_vmrss_kib(void)
{
	static char buf[8192];
	const char *p;
	ssize_t len;
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -1;
	return strtol(p + strlen("\nVmRSS:"), NULL, 10);
}

/* calloc that names the size when it fails: the workloads' arrays are
 * large and a silent NULL would look like a runtime failure. */
void *bench_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		fprintf(stderr, "weft-bench: calloc(%zu, %zu): %s\n", n, size,
			strerror(errno));
	return p;
}
