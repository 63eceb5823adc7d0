/*
 * weft-bench: weft's side of the workloads of ../shared/WORKLOADS.md, with
 * the command line and result line of the peers (peers/run.sh):
 *
 *	weft-bench <workload> [--quick] [--workers N] [--file F]
 *	weft-bench serve_echo|serve_sink|serve_http --port P [--workers N]
 *
 * Exit status: 0 when the line says check=ok (or check=n/a for a workload
 * not written yet), 1 when it says check=FAIL, 2 for a bad command line
 * (or a file workload's missing file, a server's port that cannot be bound).
 * meson's bench suite runs every workload with --quick and sees only that
 * status, so a failed check fails the test; timing is never asserted.
 *
 * File workloads (file.c): --file F names the file to read; run.sh passes
 * its 1 GiB file.  Without --file, a --quick run reads a temporary 64 MiB
 * file it writes itself (in $TMPDIR, else /tmp, unlinked once open), so the
 * bench suite runs file_read and file_rand4k with no 1 GiB file; a
 * full-size run without --file reads /tmp/peers-1g.bin, as the peers do.
 * Servers (net.c) listen on 127.0.0.1:P until SIGTERM or SIGINT and print
 * "listening on 127.0.0.1:P" on stderr; they are not in the bench suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

#include "bench.h"

struct workload {
	const char *name;
	bench_fn fn;	/* NULL: not implemented yet, prints check=n/a */
};

static const struct workload workloads[] = {
	{ "spawn_many", bench_spawn_many },
	{ "chained_spawn", bench_chained_spawn },
	{ "yield_many", bench_yield_many },
	{ "ping_pong", bench_ping_pong },
	{ "skynet", bench_skynet },
	{ "fib", bench_fib },
	{ "channel_mpmc", bench_channel_mpmc },
	{ "mutex", bench_mutex },
	{ "timers", bench_timers },
	{ "blocking", bench_blocking },
	{ "idle_tasks", bench_idle_tasks },
	{ "startup", bench_startup },
	{ "file_read", bench_file_read },
	{ "file_rand4k", bench_file_rand4k },
	{ "serve_echo", bench_serve_echo },
	{ "serve_sink", bench_serve_sink },
	{ "serve_http", bench_serve_http },
	/* hidden: the child process of startup */
	{ "startup_child", bench_startup_child },
};

static void usage(void)
{
	size_t i;

	fprintf(stderr,
		"usage: weft-bench <workload> [--quick] [--workers N] "
		"[--file F] [--port P]\nworkloads:");
	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(workloads[i].name, "startup_child") != 0)
			fprintf(stderr, " %s", workloads[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

/* A decimal number in [min, max], else usage(). */
static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static void parse_opts(int argc, char **argv, struct bench_opts *o)
{
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o->quick = true;
		} else if (i + 1 >= argc) {
			usage();
		} else if (strcmp(argv[i], "--workers") == 0) {
			o->workers = (unsigned)number(argv[++i], 0, 4096);
		} else if (strcmp(argv[i], "--file") == 0) {
			o->file = argv[++i];
		} else if (strcmp(argv[i], "--port") == 0) {
			o->port = (int)number(argv[++i], 1, 65535);
		} else {
			usage();
		}
	}
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .file = NULL };
	size_t i;

	if (argc < 2)
		usage();
	parse_opts(argc, argv, &o);
	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		if (strcmp(argv[1], workloads[i].name) != 0)
			continue;
		if (workloads[i].fn)
			return workloads[i].fn(&o);
		printf("workload=%s runtime=weft n=0 wall_ms=0 ns_per_op=0 "
		       "check=n/a\n", workloads[i].name);
		return 0;
	}
	usage();
	return 2;
}
