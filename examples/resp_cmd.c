/*
 * Commands of the RESP example server, and the replies they write.
 *
 * Each command checks its arguments, calls the store and appends one
 * RESP2 reply; the messages are Redis's, so that clients and tests written
 * against Redis read them the same.  A command table in Redis's style
 * (lower-case name, arity: n exactly, -n at least n) does the lookup and
 * the argument count.
 *
 * What differs from Redis: MSET sets its keys one by one, so a reader may
 * see some of them set before the others (each key lives in its own
 * shard); there is one database (SELECT 0 only); COMMAND answers with an
 * empty array, CONFIG GET knows only "save" and "appendonly".
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp_cmd.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
/* Redis quotes at most 128 bytes of a name in an error. */
#define QUOTE_MAX 128

struct call {
	struct store *s;
	const struct resp_arg *argv;
	size_t argc;
	struct resp_out *out;
	uint64_t now;
};

static bool reserve(struct resp_out *o, size_t n)
{
	size_t cap = o->cap ? o->cap : 4096;
	char *p;

	if (o->failed)
		return false;
	if (o->cap - o->len >= n)
		return true;
	while (cap - o->len < n)
		cap *= 2;
	p = realloc(o->p, cap);
	if (!p) {
		o->failed = true;
		return false;
	}
	o->p = p;
	o->cap = cap;
	return true;
}

static void put(struct resp_out *o, const void *p, size_t n)
{
	if (n && reserve(o, n)) {
		memcpy(o->p + o->len, p, n);
		o->len += n;
	}
}

#define PUT_LIT(o, s) put(o, s, sizeof(s) - 1)

static __attribute__((format(printf, 2, 3))) void
put_fmt(struct resp_out *o, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(o, buf, (size_t)n);
}

static void put_bulk(struct resp_out *o, const char *p, size_t n)
{
	put_fmt(o, "$%zu\r\n", n);
	put(o, p, n);
	PUT_LIT(o, "\r\n");
}

static void put_value(struct resp_out *o, struct store_val *v)
{
	if (!v) {
		PUT_LIT(o, "$-1\r\n");
		return;
	}
	put_bulk(o, v->data, v->len);
	store_val_put(v);
}

void resp_out_error(struct resp_out *o, const char *msg)
{
	size_t n = strlen(msg), i;

	PUT_LIT(o, "-");
	if (!reserve(o, n))
		return;
	/* CR or LF would end the line early (Redis does the same). */
	for (i = 0; i < n; i++) {
		bool eol = msg[i] == '\r' || msg[i] == '\n';

		o->p[o->len++] = eol ? ' ' : msg[i];
	}
	PUT_LIT(o, "\r\n");
}

void resp_out_free(struct resp_out *o)
{
	free(o->p);
	memset(o, 0, sizeof(*o));
}

static int err_int(struct call *c)
{
	resp_out_error(c->out, "ERR value is not an integer or out of range");
	return 0;
}

static int err_syntax(struct call *c)
{
	resp_out_error(c->out, "ERR syntax error");
	return 0;
}

static int err_arity(struct call *c, const char *name)
{
	char msg[96];

	snprintf(msg, sizeof(msg),
		 "ERR wrong number of arguments for '%s' command", name);
	resp_out_error(c->out, msg);
	return 0;
}

static int err_oom(struct call *c)
{
	resp_out_error(c->out, "ERR out of memory");
	return 0;
}

static bool is(const struct resp_arg *a, const char *lit)
{
	size_t n = strlen(lit);

	return a->len == n && strncasecmp(a->p, lit, n) == 0;
}

static int cmd_ping(struct call *c)
{
	if (c->argc > 2)
		return err_arity(c, "ping");
	if (c->argc == 2)
		put_bulk(c->out, c->argv[1].p, c->argv[1].len);
	else
		PUT_LIT(c->out, "+PONG\r\n");
	return 0;
}

static int cmd_echo(struct call *c)
{
	put_bulk(c->out, c->argv[1].p, c->argv[1].len);
	return 0;
}

/* EX or PX's argument as an absolute time: 0, or -1 with the error
 * written. */
static int expire_arg(struct call *c, const struct resp_arg *a,
		      uint64_t unit, uint64_t *at)
{
	long long x;

	if (!resp_parse_int(a->p, a->len, &x)) {
		err_int(c);
		return -1;
	}
	if (x <= 0 || (uint64_t)x > (UINT64_MAX - c->now) / unit) {
		resp_out_error(c->out,
			       "ERR invalid expire time in 'set' command");
		return -1;
	}
	*at = c->now + (uint64_t)x * unit;
	return 0;
}

/* SET key value [NX|XX] [EX s|PX ms|KEEPTTL] */
static int cmd_set(struct call *c)
{
	const struct resp_arg *a = c->argv;
	unsigned flags = 0;
	uint64_t at = 0;
	bool ttl = false;	/* EX, PX or KEEPTTL seen */
	struct store_val *v;
	size_t i;
	int r;

	for (i = 3; i < c->argc; i++) {
		if (is(&a[i], "nx") && !(flags & STORE_XX)) {
			flags |= STORE_NX;
		} else if (is(&a[i], "xx") && !(flags & STORE_NX)) {
			flags |= STORE_XX;
		} else if (is(&a[i], "keepttl") && !ttl) {
			flags |= STORE_KEEPTTL;
			ttl = true;
		} else if ((is(&a[i], "ex") || is(&a[i], "px")) && !ttl &&
			   i + 1 < c->argc) {
			if (expire_arg(c, &a[i + 1],
				       is(&a[i], "ex") ? NS_PER_S : NS_PER_MS,
				       &at) < 0)
				return 0;
			ttl = true;
			i++;
		} else {
			return err_syntax(c);
		}
	}
	v = store_val_new(a[2].p, a[2].len);
	if (!v)
		return err_oom(c);
	r = store_set(c->s, a[1].p, a[1].len, v, at, flags, c->now);
	if (r < 0)
		return err_oom(c);
	if (r == 0)
		PUT_LIT(c->out, "$-1\r\n");
	else
		PUT_LIT(c->out, "+OK\r\n");
	return 0;
}

static int cmd_get(struct call *c)
{
	put_value(c->out, store_get(c->s, c->argv[1].p, c->argv[1].len,
				    c->now));
	return 0;
}

static int cmd_mget(struct call *c)
{
	size_t i;

	put_fmt(c->out, "*%zu\r\n", c->argc - 1);
	for (i = 1; i < c->argc; i++)
		put_value(c->out, store_get(c->s, c->argv[i].p,
					    c->argv[i].len, c->now));
	return 0;
}

static int cmd_mset(struct call *c)
{
	struct store_val *v;
	size_t i;

	if (c->argc % 2 == 0)
		return err_arity(c, "mset");
	for (i = 1; i < c->argc; i += 2) {
		v = store_val_new(c->argv[i + 1].p, c->argv[i + 1].len);
		if (!v || store_set(c->s, c->argv[i].p, c->argv[i].len, v, 0,
				    0, c->now) < 0)
			return err_oom(c);
	}
	PUT_LIT(c->out, "+OK\r\n");
	return 0;
}

/* DEL and EXISTS: the number of keys for which fn said 1. */
static int count_keys(struct call *c,
		      int (*fn)(struct store *, const char *, size_t,
				uint64_t))
{
	long long n = 0;
	size_t i;

	for (i = 1; i < c->argc; i++)
		n += fn(c->s, c->argv[i].p, c->argv[i].len, c->now);
	put_fmt(c->out, ":%lld\r\n", n);
	return 0;
}

static int cmd_del(struct call *c)
{
	return count_keys(c, store_del);
}

static int cmd_exists(struct call *c)
{
	return count_keys(c, store_exists);
}

static int incr_by(struct call *c, long long by)
{
	long long x;
	int r;

	r = store_incr(c->s, c->argv[1].p, c->argv[1].len, by, &x, c->now);
	if (r == -EINVAL)
		return err_int(c);
	if (r == -ERANGE)
		resp_out_error(c->out,
			       "ERR increment or decrement would overflow");
	else if (r < 0)
		return err_oom(c);
	else
		put_fmt(c->out, ":%lld\r\n", x);
	return 0;
}

static int cmd_incr(struct call *c)
{
	return incr_by(c, 1);
}

static int cmd_decr(struct call *c)
{
	return incr_by(c, -1);
}

static int cmd_incrby(struct call *c)
{
	long long by;

	if (!resp_parse_int(c->argv[2].p, c->argv[2].len, &by))
		return err_int(c);
	return incr_by(c, by);
}

static int cmd_decrby(struct call *c)
{
	long long by;

	if (!resp_parse_int(c->argv[2].p, c->argv[2].len, &by))
		return err_int(c);
	if (by == LLONG_MIN) {
		resp_out_error(c->out, "ERR decrement would overflow");
		return 0;
	}
	return incr_by(c, -by);
}

/* TTL and PTTL, rounded to the unit as Redis rounds them. */
static int ttl_in(struct call *c, uint64_t unit)
{
	int64_t t = store_ttl(c->s, c->argv[1].p, c->argv[1].len, c->now);

	if (t >= 0)
		t = (int64_t)(((uint64_t)t + unit / 2) / unit);
	put_fmt(c->out, ":%lld\r\n", (long long)t);
	return 0;
}

static int cmd_ttl(struct call *c)
{
	return ttl_in(c, NS_PER_S);
}

static int cmd_pttl(struct call *c)
{
	return ttl_in(c, NS_PER_MS);
}

static int cmd_select(struct call *c)
{
	long long db;

	if (!resp_parse_int(c->argv[1].p, c->argv[1].len, &db))
		return err_int(c);
	if (db != 0)
		resp_out_error(c->out, "ERR DB index is out of range");
	else
		PUT_LIT(c->out, "+OK\r\n");
	return 0;
}

/* COMMAND (redis-cli asks for COMMAND DOCS at start-up): nothing known. */
static int cmd_command(struct call *c)
{
	PUT_LIT(c->out, "*0\r\n");
	return 0;
}

/*
 * CONFIG GET: the two parameters redis-benchmark asks for at start-up, with
 * their true values here (no snapshots, no append-only file); without them
 * it warns "Could not fetch server CONFIG".  Any other parameter is
 * unknown: it adds nothing to the reply (no glob patterns either).
 */
static int config_get(struct call *c)
{
	static const char *const known[][2] = {
		{ "save", "" },
		{ "appendonly", "no" },
	};
	size_t i, k, n = 0;

	for (i = 2; i < c->argc; i++)
		for (k = 0; k < 2; k++)
			n += is(&c->argv[i], known[k][0]);
	put_fmt(c->out, "*%zu\r\n", 2 * n);
	for (i = 2; i < c->argc; i++) {
		for (k = 0; k < 2; k++) {
			if (!is(&c->argv[i], known[k][0]))
				continue;
			put_bulk(c->out, known[k][0], strlen(known[k][0]));
			put_bulk(c->out, known[k][1], strlen(known[k][1]));
		}
	}
	return 0;
}

static int cmd_config(struct call *c)
{
	char msg[QUOTE_MAX + 64];

	if (is(&c->argv[1], "get")) {
		if (c->argc < 3)
			return err_arity(c, "config|get");
		return config_get(c);
	}
	snprintf(msg, sizeof(msg),
		 "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
		 (int)(c->argv[1].len < QUOTE_MAX ? c->argv[1].len : QUOTE_MAX),
		 c->argv[1].p);
	resp_out_error(c->out, msg);
	return 0;
}

static int cmd_quit(struct call *c)
{
	PUT_LIT(c->out, "+OK\r\n");
	return RESP_EXEC_CLOSE;
}

static const struct command {
	const char *name;	/* lower case: Redis's spelling in errors */
	int arity;		/* n: exactly n arguments; -n: n or more */
	int (*fn)(struct call *c);
} commands[] = {
	{ "get", 2, cmd_get },
	{ "set", -3, cmd_set },
	{ "ping", -1, cmd_ping },
	{ "incr", 2, cmd_incr },
	{ "mget", -2, cmd_mget },
	{ "mset", -3, cmd_mset },
	{ "del", -2, cmd_del },
	{ "exists", -2, cmd_exists },
	{ "decr", 2, cmd_decr },
	{ "incrby", 3, cmd_incrby },
	{ "decrby", 3, cmd_decrby },
	{ "echo", 2, cmd_echo },
	{ "ttl", 2, cmd_ttl },
	{ "pttl", 2, cmd_pttl },
	{ "select", 2, cmd_select },
	{ "command", -1, cmd_command },
	{ "config", -2, cmd_config },
	{ "quit", -1, cmd_quit },
};

int resp_exec(struct store *s, const struct resp_arg *argv, size_t argc,
	      struct resp_out *out, uint64_t now)
{
	struct call c = { s, argv, argc, out, now };
	const struct command *cmd = NULL;
	char msg[QUOTE_MAX + 64];
	size_t i;

	if (argc == 0)
		return 0;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]) && !cmd; i++)
		if (is(&argv[0], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		snprintf(msg, sizeof(msg), "ERR unknown command '%.*s'",
			 (int)(argv[0].len < QUOTE_MAX ? argv[0].len :
							  QUOTE_MAX),
			 argv[0].p);
		resp_out_error(out, msg);
		return 0;
	}
	if (cmd->arity > 0 ? argc != (size_t)cmd->arity :
			     argc < (size_t)-cmd->arity)
		return err_arity(&c, cmd->name);
	return cmd->fn(&c);
}
