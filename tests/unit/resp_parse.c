/*
 * examples/resp_parse.c: one RESP2 command (multibulk or inline) from the
 * start of a buffer, "need more" for a prefix, Redis's protocol errors.
 *
 * Two more suites cover what the RESP example builds on the parser, with
 * no socket: resp_store (the sharded map, expiry, INCR, several threads at
 * once) and resp_cmd (commands and their exact replies).
 *
 * The example sources are compiled into this test rather than linked:
 * they are pure files with no dependency, and each unit test builds from
 * its own source (tests/meson.build).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crit.h"

#include "examples/resp_cmd.c"
#include "examples/resp_parse.c"
#include "examples/resp_store.c"

TestSuite(resp_parse, .timeout = 30);
TestSuite(resp_store, .timeout = 60);
TestSuite(resp_cmd, .timeout = 30);

#define MAXARGS 8

struct parsed {
	struct resp_arg argv[MAXARGS];
	struct resp_cmd cmd;
	char buf[512];
};

/* Parse a copy of s[0..n) (the parser may decode in place). */
static ssize_t parse_n(struct parsed *p, const char *s, size_t n)
{
	cr_assert_leq(n, sizeof(p->buf), "test input too long");
	memcpy(p->buf, s, n);
	p->cmd.argv = p->argv;
	p->cmd.cap = MAXARGS;
	return resp_parse(p->buf, n, &p->cmd);
}

static ssize_t parse(struct parsed *p, const char *s)
{
	return parse_n(p, s, strlen(s));
}

static bool arg_is(const struct resp_arg *a, const char *lit, size_t n)
{
	return a->len == n && memcmp(a->p, lit, n) == 0;
}

#define ARG_IS(a, lit) arg_is(a, lit, sizeof(lit) - 1)

Test(resp_parse, multibulk_command_gives_every_argument)
{
	const char *s = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
	struct parsed p;

	cr_assert_eq(parse(&p, s), (ssize_t)strlen(s), "length");
	cr_assert_eq(p.cmd.argc, 3, "argc %zu", p.cmd.argc);
	cr_assert(ARG_IS(&p.argv[0], "SET"), "argv[0]");
	cr_assert(ARG_IS(&p.argv[1], "k"), "argv[1]");
	cr_assert(ARG_IS(&p.argv[2], "hello"), "argv[2]");
}

Test(resp_parse, truncated_bulk_needs_more)
{
	const char *s = "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
	struct parsed p;
	size_t k, n = strlen(s);

	for (k = 0; k < n; k++)
		cr_assert_eq(parse_n(&p, s, k), 0, "prefix of %zu bytes", k);
	cr_assert_eq(parse_n(&p, s, n), (ssize_t)n, "whole command");
}

Test(resp_parse, bulk_data_is_binary_safe)
{
	const char s[] = "*1\r\n$6\r\na\r\n\0*$\r\n";
	struct parsed p;

	cr_assert_eq(parse_n(&p, s, sizeof(s) - 1), (ssize_t)sizeof(s) - 1,
		     "length");
	cr_assert(arg_is(&p.argv[0], "a\r\n\0*$", 6), "CR, LF, NUL kept");
}

Test(resp_parse, inline_command_splits_at_spaces)
{
	struct parsed p;

	cr_assert_eq(parse(&p, "PING\r\n"), 6, "PING CRLF");
	cr_assert_eq(p.cmd.argc, 1, "one argument");
	cr_assert(ARG_IS(&p.argv[0], "PING"), "PING");
	cr_assert_eq(parse(&p, "  set\tk   v \n"), 13, "LF alone ends it");
	cr_assert_eq(p.cmd.argc, 3, "argc %zu", p.cmd.argc);
	cr_assert(ARG_IS(&p.argv[0], "set") && ARG_IS(&p.argv[1], "k") &&
		  ARG_IS(&p.argv[2], "v"), "set k v");
	cr_assert_eq(parse(&p, "PING"), 0, "no line end: need more");
}

Test(resp_parse, inline_quotes_are_decoded_as_redis_cli_writes_them)
{
	struct parsed p;

	cr_assert_gt(parse(&p, "SET \"a b\\x41\\n\\\"\" 'it\\'s' x\"y z\"\r\n"),
		     0, "parses");
	cr_assert_eq(p.cmd.argc, 4, "argc %zu", p.cmd.argc);
	cr_assert(ARG_IS(&p.argv[1], "a bA\n\""), "double quotes, escapes");
	cr_assert(ARG_IS(&p.argv[2], "it's"), "single quotes");
	cr_assert(ARG_IS(&p.argv[3], "xy z"), "a quote inside a word");
	cr_assert_gt(parse(&p, "ECHO \"\"\r\n"), 0, "parses");
	cr_assert(ARG_IS(&p.argv[1], ""), "an empty quoted argument");
}

Test(resp_parse, unbalanced_quotes_are_a_protocol_error)
{
	static const char *bad[] = {
		"GET \"k\r\n",
		"GET 'k\r\n",
		"GET \"a\"b\r\n",
		"GET \"a\\\"\r\n",
	};
	struct parsed p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(&p, bad[i]), -EPROTO, "case %zu", i);
		cr_assert_str_eq(p.cmd.err,
				 "Protocol error: unbalanced quotes in request",
				 "case %zu", i);
	}
}

Test(resp_parse, pipelined_commands_parse_one_at_a_time)
{
	const char *s = "PING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n"
			"$2\r\nhi\r\nGET k\r\n*1\r\n$3\r\nGE";
	const char *first[] = { "PING", "PING", "ECHO", "GET" };
	struct parsed p;
	size_t off = 0, len = strlen(s), i;
	ssize_t n;

	for (i = 0; i < 4; i++) {
		n = parse_n(&p, s + off, len - off);
		cr_assert_gt(n, 0, "command %zu: %zd", i, n);
		cr_assert(arg_is(&p.argv[0], first[i], strlen(first[i])),
			  "command %zu", i);
		off += (size_t)n;
	}
	cr_assert_eq(parse_n(&p, s + off, len - off), 0, "the last is partial");
}

Test(resp_parse, empty_commands_are_skipped)
{
	struct parsed p;

	cr_assert_eq(parse(&p, "*0\r\n"), 4, "*0");
	cr_assert_eq(p.cmd.argc, 0, "no argument");
	cr_assert_eq(parse(&p, "*-1\r\n"), 5, "*-1");
	cr_assert_eq(p.cmd.argc, 0, "no argument");
	cr_assert_eq(parse(&p, "\r\n"), 2, "an empty line");
	cr_assert_eq(p.cmd.argc, 0, "no argument");
	cr_assert_eq(parse(&p, "   \n"), 4, "a blank line");
	cr_assert_eq(p.cmd.argc, 0, "no argument");
}

static void assert_error(const char *s, const char *want)
{
	struct parsed p;

	cr_assert_eq(parse(&p, s), -EPROTO, "%s", want);
	cr_assert_str_eq(p.cmd.err, want, "message");
}

Test(resp_parse, bad_lengths_are_protocol_errors_with_redis_messages)
{
	assert_error("*x\r\n", "Protocol error: invalid multibulk length");
	assert_error("*01\r\n", "Protocol error: invalid multibulk length");
	assert_error("*1048577\r\n",
		     "Protocol error: invalid multibulk length");
	assert_error("*1\rx", "Protocol error: invalid multibulk length");
	assert_error("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
	assert_error("*1\r\n$+1\r\n", "Protocol error: invalid bulk length");
	assert_error("*1\r\n$536870913\r\n",
		     "Protocol error: invalid bulk length");
	assert_error("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'");
	assert_error("*1\r\n\r\n", "Protocol error: expected '$', got ' '");
	assert_error("*1\r\n$1\r\nab\r\n",
		     "Protocol error: expected CRLF after bulk data");
}

Test(resp_parse, long_lines_without_an_end_are_protocol_errors)
{
	char *s = malloc(RESP_MAX_INLINE + 16);
	struct resp_arg argv[4];
	struct resp_cmd cmd = { .argv = argv, .cap = 4 };

	memset(s, 'a', RESP_MAX_INLINE + 16);
	cr_assert_eq(resp_parse(s, RESP_MAX_INLINE - 1, &cmd), 0, "under");
	cr_assert_eq(resp_parse(s, RESP_MAX_INLINE, &cmd), -EPROTO, "at");
	cr_assert_str_eq(cmd.err, "Protocol error: too big inline request",
			 "inline");
	memcpy(s, "*1", 2);
	cr_assert_eq(resp_parse(s, RESP_MAX_INLINE + 1, &cmd), -EPROTO,
		     "count");
	cr_assert_str_eq(cmd.err, "Protocol error: too big mbulk count string",
			 "count");
	memcpy(s, "*1\r\n$", 5);
	cr_assert_eq(resp_parse(s, RESP_MAX_INLINE + 5, &cmd), -EPROTO,
		     "length");
	cr_assert_str_eq(cmd.err, "Protocol error: too big bulk count string",
			 "length");
	free(s);
}

Test(resp_parse, a_request_over_64_mib_is_refused_before_it_arrives)
{
	struct parsed p;

	/* 15 bytes of header, the data, CRLF: 64 MiB exactly fits. */
	cr_assert_eq(parse(&p, "*1\r\n$67108847\r\n"), 0,
		     "64 MiB in all: need more");
	assert_error("*1\r\n$67108848\r\n",
		     "Protocol error: request larger than 64 MiB");
}

Test(resp_parse, more_arguments_than_argv_asks_for_a_bigger_array)
{
	const char *mb = "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n";
	const char *in = "a \"b\\x41\" c\r\n";
	struct resp_arg argv[3];
	struct resp_cmd cmd = { .argv = argv, .cap = 2 };
	char buf[64];

	strcpy(buf, mb);
	cr_assert_eq(resp_parse(buf, strlen(buf), &cmd), -ENOBUFS, "multibulk");
	cr_assert_eq(cmd.argc, 3, "asks for 3");
	strcpy(buf, in);
	cr_assert_eq(resp_parse(buf, strlen(buf), &cmd), -ENOBUFS, "inline");
	cr_assert_eq(cmd.argc, 3, "asks for 3");
	cr_assert_str_eq(buf, in, "the buffer is untouched");
	cmd.cap = 3;
	cr_assert_eq(resp_parse(buf, strlen(in), &cmd), (ssize_t)strlen(in),
		     "then parses");
	cr_assert(ARG_IS(&argv[1], "bA"), "decoded");
}

Test(resp_parse, need_more_never_writes_to_the_buffer)
{
	const char *s = "SET \"a\\x41\" b";
	struct parsed p;

	cr_assert_eq(parse(&p, s), 0, "no line end yet");
	cr_assert(memcmp(p.buf, s, strlen(s)) == 0, "untouched");
}

Test(resp_parse, integers_follow_redis_rules)
{
	static const struct {
		const char *s;
		bool ok;
		long long v;
	} cases[] = {
		{ "0", true, 0 },
		{ "-1", true, -1 },
		{ "9223372036854775807", true, LLONG_MAX },
		{ "-9223372036854775808", true, LLONG_MIN },
		{ "9223372036854775808", false, 0 },
		{ "-9223372036854775809", false, 0 },
		{ "01", false, 0 },
		{ "-0", false, 0 },
		{ "+1", false, 0 },
		{ "", false, 0 },
		{ "-", false, 0 },
		{ "1 ", false, 0 },
		{ "1.5", false, 0 },
	};
	long long v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		cr_assert_eq(resp_parse_int(cases[i].s, strlen(cases[i].s), &v),
			     cases[i].ok, "\"%s\"", cases[i].s);
		if (cases[i].ok)
			cr_assert_eq(v, cases[i].v, "\"%s\" = %lld", cases[i].s,
				     v);
	}
}

/* ------------------------------------------------------------ resp_store */

static struct store_val *val(const char *s)
{
	return store_val_new(s, strlen(s));
}

static bool get_is(struct store *s, const char *k, const char *want,
		   uint64_t now)
{
	struct store_val *v = store_get(s, k, strlen(k), now);
	bool ok;

	if (!v || !want)
		return !v && !want;
	ok = v->len == strlen(want) && memcmp(v->data, want, v->len) == 0;
	store_val_put(v);
	return ok;
}

Test(resp_store, set_then_get_returns_the_value_and_del_removes_it)
{
	struct store *s = store_new(1);

	cr_assert_eq(store_set(s, "k", 1, val("v1"), 0, 0, 0), 1, "set");
	cr_assert(get_is(s, "k", "v1", 0), "get");
	cr_assert_eq(store_set(s, "k", 1, val("v2"), 0, 0, 0), 1, "again");
	cr_assert(get_is(s, "k", "v2", 0), "replaced");
	cr_assert_eq(store_exists(s, "k", 1, 0), 1, "exists");
	cr_assert_eq(store_del(s, "k", 1, 0), 1, "del");
	cr_assert_eq(store_del(s, "k", 1, 0), 0, "del again");
	cr_assert(get_is(s, "k", NULL, 0), "gone");
	store_free(s);
}

Test(resp_store, keys_past_their_expiry_read_as_absent)
{
	struct store *s = store_new(1);

	cr_assert_eq(store_set(s, "k", 1, val("v"), 100, 0, 10), 1, "set");
	cr_assert_eq(store_ttl(s, "k", 1, 40), 60, "ttl");
	cr_assert(get_is(s, "k", "v", 99), "alive before");
	cr_assert(get_is(s, "k", NULL, 100), "gone at the deadline");
	cr_assert_eq(store_exists(s, "k", 1, 100), 0, "exists");
	cr_assert_eq(store_ttl(s, "k", 1, 100), -2, "ttl of absent");
	cr_assert_eq(store_set(s, "p", 1, val("v"), 0, 0, 10), 1, "set");
	cr_assert_eq(store_ttl(s, "p", 1, 40), -1, "ttl of persistent");
	store_free(s);
}

Test(resp_store, nx_xx_and_keepttl_follow_presence_and_expiry)
{
	struct store *s = store_new(1);

	cr_assert_eq(store_set(s, "k", 1, val("a"), 0, STORE_XX, 0), 0, "XX");
	cr_assert(get_is(s, "k", NULL, 0), "not set by XX");
	cr_assert_eq(store_set(s, "k", 1, val("b"), 50, STORE_NX, 0), 1, "NX");
	cr_assert_eq(store_set(s, "k", 1, val("c"), 0, STORE_NX, 0), 0, "NX");
	cr_assert(get_is(s, "k", "b", 0), "kept by NX");
	cr_assert_eq(store_set(s, "k", 1, val("d"), 0, STORE_KEEPTTL, 0), 1,
		     "KEEPTTL");
	cr_assert_eq(store_ttl(s, "k", 1, 0), 50, "ttl kept");
	cr_assert_eq(store_set(s, "k", 1, val("e"), 0, 0, 0), 1, "plain set");
	cr_assert_eq(store_ttl(s, "k", 1, 0), -1, "ttl cleared");
	cr_assert_eq(store_set(s, "k", 1, val("f"), 0, STORE_NX, 60), 0,
		     "NX on a live key");
	store_free(s);
}

Test(resp_store, incr_counts_from_zero_and_refuses_non_integers)
{
	struct store *s = store_new(1);
	long long x = 0;

	cr_assert_eq(store_incr(s, "n", 1, 1, &x, 0), 0, "incr absent");
	cr_assert_eq(x, 1, "from zero");
	cr_assert_eq(store_incr(s, "n", 1, -5, &x, 0), 0, "by -5");
	cr_assert_eq(x, -4, "x %lld", x);
	cr_assert(get_is(s, "n", "-4", 0), "stored as text");
	store_set(s, "t", 1, val("abc"), 0, 0, 0);
	cr_assert_eq(store_incr(s, "t", 1, 1, &x, 0), -EINVAL, "text");
	cr_assert(get_is(s, "t", "abc", 0), "left alone");
	store_set(s, "m", 1, val("9223372036854775807"), 90, 0, 0);
	cr_assert_eq(store_incr(s, "m", 1, 1, &x, 0), -ERANGE, "overflow");
	cr_assert_eq(store_incr(s, "m", 1, -1, &x, 0), 0, "down is fine");
	cr_assert_eq(store_ttl(s, "m", 1, 0), 90, "INCR keeps the expiry");
	store_free(s);
}

Test(resp_store, many_keys_survive_the_shards_growing)
{
	struct store *s = store_new(7);
	char k[32], v[32];
	int i, n = 100000;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key:%d", i);
		snprintf(v, sizeof(v), "%d", i * 3);
		cr_assert_eq(store_set(s, k, strlen(k), val(v), 0, 0, 0), 1,
			     "set %d", i);
	}
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key:%d", i);
		snprintf(v, sizeof(v), "%d", i * 3);
		cr_assert(get_is(s, k, v, 0), "get %d", i);
	}
	for (i = 0; i < n; i += 2) {
		snprintf(k, sizeof(k), "key:%d", i);
		cr_assert_eq(store_del(s, k, strlen(k), 0), 1, "del %d", i);
	}
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key:%d", i);
		cr_assert_eq(store_exists(s, k, strlen(k), 0), i % 2, "%d", i);
	}
	store_free(s);
}

#define THREADS 4
#define INCRS 50000

static void *incr_thread(void *arg)
{
	struct store *s = arg;
	long long x;
	char k[16];
	int i;

	for (i = 0; i < INCRS; i++) {
		/* One key shared by all, and keys that move between shards. */
		store_incr(s, "shared", 6, 1, &x, 0);
		snprintf(k, sizeof(k), "k%d", i % 64);
		store_incr(s, k, strlen(k), 1, &x, 0);
	}
	return NULL;
}

Test(resp_store, concurrent_increments_are_all_counted)
{
	struct store *s = store_new(3);
	pthread_t t[THREADS];
	char k[16], want[32];
	int i;

	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, incr_thread, s);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	snprintf(want, sizeof(want), "%d", THREADS * INCRS);
	cr_assert(get_is(s, "shared", want, 0), "shared counter");
	for (i = 0; i < 64; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		/* 50000 = 781 * 64 + 16: the first 16 keys got one more. */
		snprintf(want, sizeof(want), "%d",
			 THREADS * (INCRS / 64 + (i < INCRS % 64)));
		cr_assert(get_is(s, k, want, 0), "counter %s", k);
	}
	store_free(s);
}

/* -------------------------------------------------------------- resp_cmd */

/* Run one inline command line (at time now, ms) and return its reply, in
 * a static buffer. */
static const char *run_at(struct store *s, const char *line, uint64_t ms)
{
	static char reply[1024];
	struct resp_out out = { 0 };
	struct parsed p;
	ssize_t n;

	n = parse(&p, line);
	cr_assert_gt(n, 0, "parse %s", line);
	resp_exec(s, p.cmd.argv, p.cmd.argc, &out, ms * NS_PER_MS);
	cr_assert_lt(out.len, sizeof(reply), "reply fits");
	memcpy(reply, out.p, out.len);
	reply[out.len] = '\0';
	resp_out_free(&out);
	return reply;
}

static const char *run(struct store *s, const char *line)
{
	return run_at(s, line, 1000);
}

Test(resp_cmd, ping_echo_and_case_insensitive_names)
{
	struct store *s = store_new(1);

	cr_assert_str_eq(run(s, "PING\r\n"), "+PONG\r\n", "PING");
	cr_assert_str_eq(run(s, "ping hi\r\n"), "$2\r\nhi\r\n", "ping hi");
	cr_assert_str_eq(run(s, "eChO \"a b\"\r\n"), "$3\r\na b\r\n", "echo");
	store_free(s);
}

Test(resp_cmd, unknown_commands_and_wrong_arity_get_redis_errors)
{
	struct store *s = store_new(1);

	cr_assert_str_eq(run(s, "FOO bar\r\n"),
			 "-ERR unknown command 'FOO'\r\n", "unknown");
	cr_assert_str_eq(run(s, "\"x\\r\\ny\"\r\n"),
			 "-ERR unknown command 'x  y'\r\n",
			 "CR LF in a name cannot break the reply");
	cr_assert_str_eq(run(s, "GET\r\n"),
			 "-ERR wrong number of arguments for 'get' command\r\n",
			 "GET");
	cr_assert_str_eq(run(s, "ping a b\r\n"),
			 "-ERR wrong number of arguments for 'ping' command"
			 "\r\n", "PING");
	cr_assert_str_eq(run(s, "MSET a 1 b\r\n"),
			 "-ERR wrong number of arguments for 'mset' command"
			 "\r\n", "MSET");
	store_free(s);
}

Test(resp_cmd, set_get_del_exists_mget_mset)
{
	struct store *s = store_new(1);

	cr_assert_str_eq(run(s, "GET k\r\n"), "$-1\r\n", "nil");
	cr_assert_str_eq(run(s, "SET k hello\r\n"), "+OK\r\n", "set");
	cr_assert_str_eq(run(s, "GET k\r\n"), "$5\r\nhello\r\n", "get");
	cr_assert_str_eq(run(s, "MSET a 1 b 2\r\n"), "+OK\r\n", "mset");
	cr_assert_str_eq(run(s, "MGET a x b\r\n"),
			 "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n", "mget");
	cr_assert_str_eq(run(s, "EXISTS a a x k\r\n"), ":3\r\n", "exists");
	cr_assert_str_eq(run(s, "DEL a x k\r\n"), ":2\r\n", "del");
	cr_assert_str_eq(run(s, "EXISTS a k\r\n"), ":0\r\n", "deleted");
	store_free(s);
}

Test(resp_cmd, set_options_expire_and_condition)
{
	struct store *s = store_new(1);

	cr_assert_str_eq(run_at(s, "SET k v PX 100\r\n", 1000), "+OK\r\n", "");
	cr_assert_str_eq(run_at(s, "PTTL k\r\n", 1040), ":60\r\n", "pttl");
	cr_assert_str_eq(run_at(s, "GET k\r\n", 1099), "$1\r\nv\r\n", "alive");
	cr_assert_str_eq(run_at(s, "GET k\r\n", 1100), "$-1\r\n", "expired");
	cr_assert_str_eq(run(s, "SET k v ex 10\r\n"), "+OK\r\n", "ex");
	cr_assert_str_eq(run(s, "TTL k\r\n"), ":10\r\n", "ttl");
	cr_assert_str_eq(run(s, "SET r v PX 1500\r\n"), "+OK\r\n", "px");
	cr_assert_str_eq(run(s, "TTL r\r\n"), ":2\r\n", "1.5 s rounds to 2");
	cr_assert_str_eq(run(s, "SET k w NX\r\n"), "$-1\r\n", "nx refused");
	cr_assert_str_eq(run(s, "SET j w XX\r\n"), "$-1\r\n", "xx refused");
	cr_assert_str_eq(run(s, "SET k w XX KEEPTTL\r\n"), "+OK\r\n", "xx");
	cr_assert_str_eq(run(s, "TTL k\r\n"), ":10\r\n", "kept");
	cr_assert_str_eq(run(s, "SET k v EX 0\r\n"),
			 "-ERR invalid expire time in 'set' command\r\n", "0");
	cr_assert_str_eq(run(s, "SET k v EX x\r\n"),
			 "-ERR value is not an integer or out of range\r\n",
			 "x");
	cr_assert_str_eq(run(s, "SET k v NX XX\r\n"), "-ERR syntax error\r\n",
			 "NX XX");
	cr_assert_str_eq(run(s, "SET k v EX 1 PX 1\r\n"),
			 "-ERR syntax error\r\n", "EX PX");
	cr_assert_str_eq(run(s, "SET k v EX\r\n"), "-ERR syntax error\r\n",
			 "EX without a value");
	store_free(s);
}

Test(resp_cmd, incr_family_and_its_errors)
{
	struct store *s = store_new(1);

	cr_assert_str_eq(run(s, "INCR n\r\n"), ":1\r\n", "incr");
	cr_assert_str_eq(run(s, "INCRBY n 10\r\n"), ":11\r\n", "incrby");
	cr_assert_str_eq(run(s, "DECR n\r\n"), ":10\r\n", "decr");
	cr_assert_str_eq(run(s, "DECRBY n 20\r\n"), ":-10\r\n", "decrby");
	cr_assert_str_eq(run(s, "SET t abc\r\n"), "+OK\r\n", "set");
	cr_assert_str_eq(run(s, "INCR t\r\n"),
			 "-ERR value is not an integer or out of range\r\n",
			 "not an integer");
	cr_assert_str_eq(run(s, "SET m 9223372036854775807\r\n"), "+OK\r\n",
			 "set");
	cr_assert_str_eq(run(s, "INCR m\r\n"),
			 "-ERR increment or decrement would overflow\r\n",
			 "overflow");
	store_free(s);
}

Test(resp_cmd, handshake_commands_of_redis_tools)
{
	struct store *s = store_new(1);
	struct resp_out out = { 0 };
	struct parsed p;

	cr_assert_str_eq(run(s, "COMMAND DOCS\r\n"), "*0\r\n", "COMMAND");
	cr_assert_str_eq(run(s, "CONFIG GET save\r\n"),
			 "*2\r\n$4\r\nsave\r\n$0\r\n\r\n", "save");
	cr_assert_str_eq(run(s, "config get APPENDONLY maxmemory\r\n"),
			 "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
			 "appendonly, and an unknown one");
	cr_assert_str_eq(run(s, "CONFIG GET x*\r\n"), "*0\r\n", "unknown");
	cr_assert_str_eq(run(s, "CONFIG SET a b\r\n"),
			 "-ERR unknown subcommand 'SET'. Try CONFIG HELP.\r\n",
			 "CONFIG SET");
	cr_assert_str_eq(run(s, "SELECT 0\r\n"), "+OK\r\n", "SELECT 0");
	cr_assert_str_eq(run(s, "SELECT 1\r\n"),
			 "-ERR DB index is out of range\r\n", "SELECT 1");
	parse(&p, "QUIT\r\n");
	cr_assert_eq(resp_exec(s, p.argv, p.cmd.argc, &out, 0),
		     RESP_EXEC_CLOSE, "QUIT closes");
	cr_assert(out.len == 5 && memcmp(out.p, "+OK\r\n", 5) == 0, "+OK");
	resp_out_free(&out);
	store_free(s);
}
