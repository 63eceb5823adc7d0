/*
 * Shared test helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/helpers.h"
#include "runtime/park.h"
#include "runtime/task.h"

int t_run_cfg(int (*fn)(void *), void *arg, unsigned workers,
	      const weft_config *cfg)
{
	weft_config c;

	if (cfg)
		c = *cfg;
	else
		memset(&c, 0, sizeof(c));
	if (workers)
		c.workers = workers;
	return weft_run(fn, arg, &c);
}

int t_run(int (*fn)(void *), void *arg, unsigned workers)
{
	return t_run_cfg(fn, arg, workers, NULL);
}

/* Parse WEFT_STRESS_SCALE into a multiplier and a divisor. */
static void stress_parse(unsigned *mul, unsigned *div)
{
	const char *s = getenv("WEFT_STRESS_SCALE");
	unsigned long v;
	char *end;

	*mul = 1;
	*div = 1;
	if (!s || !*s)
		return;
	if (!strncmp(s, "1/", 2))
		s += 2;
	else if (*s == '/')
		s += 1;
	else {
		v = strtoul(s, &end, 10);
		if (!*end && v >= 1 && v <= 1000000)
			*mul = (unsigned)v;
		return;
	}
	v = strtoul(s, &end, 10);
	if (!*end && v >= 1 && v <= 1000000)
		*div = (unsigned)v;
}

unsigned t_stress_scale(void)
{
	unsigned mul, div;

	stress_parse(&mul, &div);
	return mul;
}

unsigned t_stress_div(void)
{
	unsigned mul, div;

	stress_parse(&mul, &div);
	return div;
}

uint64_t t_scaled(uint64_t n)
{
	unsigned mul, div;
	uint64_t r;

	stress_parse(&mul, &div);
	r = n * mul / div;
	return r ? r : 1;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t t_seed(void)
{
	const char *s = getenv("WEFT_TEST_SEED");
	struct timespec ts;
	uint64_t x;

	if (s && *s)
		return strtoull(s, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
	    ((uint64_t)getpid() << 32);
	return splitmix64(&x);
}

void t_rng_init(t_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	r->s = splitmix64(&x);
	if (!r->s)
		r->s = 1;
}

uint64_t t_rand(t_rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t t_rand_below(t_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)t_rand(r) * n) >> 64);
}

double t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) int t_errno(void)
{
	return errno;
}

__attribute__((noinline)) void t_errno_clear(void)
{
	errno = 0;
}

bool t_wait_parked(weft_task *t)
{
	uint64_t until = weft_now() + 20000000000ull;

	while (strcmp(weft__park_state(t), "waiting") != 0) {
		if (weft__task_done(t) || weft_now() > until)
			return false;
		weft_yield();
	}
	return true;
}

bool t_wait_done(weft_task *t)
{
	uint64_t until = weft_now() + 20000000000ull;

	while (!weft__task_done(t)) {
		if (weft_now() > until)
			return false;
		weft_yield();
	}
	return true;
}

int t_child(int (*fn)(void *), void *arg, unsigned timeout_s, char *out,
	    size_t cap)
{
	char scratch[512];
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		alarm(timeout_s);
		_exit(fn(arg) & 0xff);
	}
	close(fds[1]);
	while (len + 1 < cap &&
	       (n = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	if (cap)
		out[len] = '\0';
	/* Drain the rest, so a chatty child never blocks on the pipe. */
	while ((n = read(fds[0], scratch, sizeof(scratch))) > 0)
		;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}
