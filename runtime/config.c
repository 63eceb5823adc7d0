/*
 * Configuration: defaults, then the environment for fields the caller left
 * zero, then validation.  A bad value is -EINVAL, never a silent clamp.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/watchdog.h"

#define STACK_DEFAULT (64u * 1024)
#define STACK_MIN (16u * 1024)
#define WORKERS_MAX 1024u
/* Batched io_uring wake-ups (weft_config.io_batch_us): 10 us saves most
 * wake-ups of a loaded server (redis-benchmark -P 16: 14,000 to 4,000 per
 * worker per 0.5 s) and is a small part of any network round trip. */
#define IO_BATCH_US_DEFAULT 10
#define IO_BATCH_US_MAX 1000

/* Parse env NAME as an unsigned number; 0 when unset, -EINVAL if bad. */
static int env_u64(const char *name, uint64_t *out)
{
	const char *s = getenv(name);
	char *end;

	*out = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end || s[0] == '-')
		return -EINVAL;
	return 0;
}

/*
 * The CPUs this process may run on, as Go's GOMAXPROCS and Tokio's
 * num_cpus count them (a process started under taskset gets that many
 * workers, not one per CPU of the machine): one system call, where
 * sysconf's online count reads /sys (startup: 10-30 us).  Read once: the
 * count is fixed for our purposes once a runtime has started.
 */
long weft__cpu_count(void)
{
	static _Atomic long cached;
	long n = atomic_load_explicit(&cached, memory_order_relaxed);
	cpu_set_t set;

	if (n)
		return n;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	atomic_store_explicit(&cached, n, memory_order_relaxed);
	return n;
}

/* Debug mode's slow-task threshold: 1 ms to 1 hour; by default 100 ms,
 * asyncio's slow_callback_duration. */
int64_t weft__config_debug_slow_ms(void)
{
	uint64_t v;

	if (env_u64("WEFT_DEBUG_SLOW_MS", &v) < 0 || v > 3600u * 1000)
		return -EINVAL;
	return v ? (int64_t)v : 100;
}

int weft__config_resolve(const weft_config *cfg, weft_config *out)
{
	uint64_t v;
	long ncpu;

	if (cfg)
		*out = *cfg;
	else
		memset(out, 0, sizeof(*out));
	if (!out->workers) {
		if (env_u64("WEFT_WORKERS", &v) < 0 || v > WORKERS_MAX)
			return -EINVAL;
		out->workers = (unsigned)v;
	}
	if (!out->workers) {
		ncpu = weft__cpu_count();
		out->workers = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (out->workers > WORKERS_MAX)
		return -EINVAL;
	if (!out->debug) {
		if (env_u64("WEFT_DEBUG", &v) < 0)
			return -EINVAL;
		out->debug = v != 0;
	}
	if (out->debug && weft__config_debug_slow_ms() < 0)
		return -EINVAL;
	if (!out->sched_seed && env_u64("WEFT_SCHED_SEED", &out->sched_seed) < 0)
		return -EINVAL;
	if (!out->io_batch_us) {
		/* Set and 0 means off; unset means the default. */
		const char *e = getenv("WEFT_IO_BATCH_US");

		if (env_u64("WEFT_IO_BATCH_US", &v) < 0 || v > IO_BATCH_US_MAX)
			return -EINVAL;
		if (!e || !*e)
			out->io_batch_us = IO_BATCH_US_DEFAULT;
		else
			out->io_batch_us = v ? (int)v : -1;
	}
	if (out->io_batch_us > IO_BATCH_US_MAX)
		return -EINVAL;
	if (!out->stack_size)
		out->stack_size = STACK_DEFAULT;
	if (out->stack_size < STACK_MIN || out->stack_size > (1ull << 30))
		return -EINVAL;
	if (!out->blocking_max_threads)
		out->blocking_max_threads = 512;
	if (!out->blocking_keepalive_ns)
		out->blocking_keepalive_ns = 10ull * 1000 * 1000 * 1000;
	if (!out->blocking_queue_max)
		out->blocking_queue_max = 65536;
	return 0;
}
