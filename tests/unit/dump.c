/*
 * weft_dump: every started task with its name, its state and what it waits
 * in, including I/O operations with their descriptor.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(dump, .timeout = 60);

static const unsigned workers_set[] = { 1, 2, 8 };

struct scene {
	weft_event ev;
	int sv[2];
	atomic_int parked;
};

static int event_waiter(void *arg)
{
	struct scene *s = arg;

	weft_task_set_name(weft_self(), "waiter");
	atomic_fetch_add(&s->parked, 1);
	return weft_event_wait(&s->ev);
}

static int sleeper(void *arg)
{
	struct scene *s = arg;

	weft_task_set_name(weft_self(), "sleeper");
	atomic_fetch_add(&s->parked, 1);
	return weft_sleep(WEFT_FOREVER / 2);
}

static int reader(void *arg)
{
	struct scene *s = arg;
	char c;

	weft_task_set_name(weft_self(), "reader");
	atomic_fetch_add(&s->parked, 1);
	return (int)weft_recv(s->sv[0], &c, 1, 0);
}

/* The dump's line for the task named name, or NULL. */
static const char *line_of(const char *dump, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "\"%s\": ", name);
	return strstr(dump, key);
}

/* Does the line starting at p contain what (before its newline)? */
static bool line_has(const char *p, const char *what)
{
	const char *end = strchr(p, '\n');
	const char *hit = strstr(p, what);

	return hit && (!end || hit < end);
}

static int dump_main(void *arg)
{
	struct scene s;
	weft_task *t[3];
	char *buf = NULL, fdtxt[32];
	size_t len = 0;
	FILE *out;
	const char *l;
	int i;

	(void)arg;
	memset(&s, 0, sizeof(s));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.sv),
		     0);
	t[0] = weft_spawn(event_waiter, &s);
	t[1] = weft_spawn(sleeper, &s);
	t[2] = weft_spawn(reader, &s);
	while (atomic_load(&s.parked) < 3)
		weft_yield();
	/* Let each reach its suspension (a yield is not enough on 8
	 * workers: poll the dump until all three wait). */
	for (i = 0; i < 2000; i++) {
		free(buf);
		buf = NULL;
		out = open_memstream(&buf, &len);
		cr_assert_not_null(out);
		cr_assert_eq(weft_dump(NULL, out), 0);
		fclose(out);
		if ((l = line_of(buf, "waiter")) && line_has(l, "waiting") &&
		    (l = line_of(buf, "sleeper")) && line_has(l, "waiting") &&
		    (l = line_of(buf, "reader")) && line_has(l, "waiting"))
			break;
		weft_sleep(1000000);
	}
	l = line_of(buf, "waiter");
	cr_assert_not_null(l, "no waiter in:\n%s", buf);
	cr_assert(line_has(l, "waiting in weft_event_wait"), "%s", buf);
	l = line_of(buf, "sleeper");
	cr_assert_not_null(l, "no sleeper in:\n%s", buf);
	cr_assert(line_has(l, "waiting in") && line_has(l, "scope.c"), "%s",
		  buf);
	l = line_of(buf, "reader");
	cr_assert_not_null(l, "no reader in:\n%s", buf);
	snprintf(fdtxt, sizeof(fdtxt), "fd %d", s.sv[0]);
	cr_assert(line_has(l, fdtxt), "reader line lacks %s:\n%s", fdtxt, buf);
	cr_assert(line_has(l, "in recv") || line_has(l, "in readable"), "%s",
		  buf);
	cr_assert(strstr(buf, "running (the dumping task)"), "%s", buf);
	/* Cancellation shows, then everyone ends. */
	weft_cancel(t[1]);
	weft_event_set(&s.ev);
	cr_assert_eq(write(s.sv[1], "x", 1), 1);
	cr_assert_eq(weft_join(t[0]), 0);
	cr_assert_eq(weft_join(t[1]), -ECANCELED);
	cr_assert_eq(weft_join(t[2]), 1);
	free(buf);
	close(s.sv[0]);
	close(s.sv[1]);
	return 0;
}

Test(dump, lists_started_tasks_with_state_and_what_they_wait_in)
{
	for (size_t i = 0; i < sizeof(workers_set) / sizeof(workers_set[0]);
	     i++)
		cr_assert_eq(t_run(dump_main, NULL, workers_set[i]), 0);
}

Test(dump, outside_a_runtime_is_einval)
{
	cr_assert_eq(weft_dump(NULL, stderr), -EINVAL);
}
