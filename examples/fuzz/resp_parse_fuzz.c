/*
 * libFuzzer target for examples/resp_parse.c.  Not built by meson; from
 * the source root:
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iexamples \
 *		examples/fuzz/resp_parse_fuzz.c examples/resp_parse.c \
 *		-o resp_parse_fuzz
 *	./resp_parse_fuzz -max_total_time=60 examples/fuzz/corpus/resp
 *
 * Add -DRESP_MAX_INLINE=64 -DRESP_MAX_ARGS=16 -DRESP_MAX_BULK=300
 * -DRESP_MAX_REQUEST=512 to reach the bounds with inputs of libFuzzer's
 * default size.
 *
 * The input is a stream of pipelined commands, parsed one after the other
 * as the server does, growing argv on -ENOBUFS.  Every parse works on a
 * copy of exactly the bytes it is given (the parser decodes inline
 * arguments in place), so AddressSanitizer sees any access past them.
 * Besides memory errors, the target traps when the parser breaks its
 * contract (resp_parse.h):
 *  - a result is need-more, a length within the buffer, -ENOBUFS with more
 *    arguments than argv holds, or -EPROTO with a one-line message;
 *  - every argument lies inside its command;
 *  - a command parses the same without the bytes that follow it, and every
 *    shorter prefix of it needs more.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                          \
	do {                              \
		if (!(x))                 \
			__builtin_trap(); \
	} while (0)

struct args {
	struct resp_arg *v;
	size_t cap;
};

/* Parse a fresh copy of p[0..n), growing a->v as asked. */
static ssize_t parse_copy(const char *p, size_t n, struct args *a,
			  struct resp_cmd *cmd, char **copy)
{
	struct resp_arg *v;
	ssize_t r;

	*copy = malloc(n ? n : 1);
	if (!*copy)
		abort();
	for (;;) {
		memcpy(*copy, p, n);
		cmd->argv = a->v;
		cmd->cap = a->cap;
		r = resp_parse(*copy, n, cmd);
		if (r != -ENOBUFS)
			return r;
		/* Inline commands are bounded by their line only. */
		CHECK(cmd->argc > a->cap &&
		      (cmd->argc <= RESP_MAX_ARGS ||
		       cmd->argc <= RESP_MAX_INLINE / 2));
		CHECK(memcmp(*copy, p, n) == 0);	/* nothing written */
		v = realloc(a->v, cmd->argc * sizeof(*v));
		if (!v)
			abort();
		a->v = v;
		a->cap = cmd->argc;
	}
}

static void check_command(const char *p, size_t n, struct args *a,
			  const struct resp_cmd *cmd, const char *copy)
{
	struct resp_cmd again;
	size_t i, argc = cmd->argc;
	char *c2;

	for (i = 0; i < argc; i++)
		CHECK(cmd->argv[i].p >= copy &&
		      cmd->argv[i].p + cmd->argv[i].len <= copy + n);
	CHECK(parse_copy(p, n, a, &again, &c2) == (ssize_t)n);
	CHECK(again.argc == argc);
	free(c2);
	CHECK(parse_copy(p, n - 1, a, &again, &c2) == 0);
	free(c2);
	CHECK(parse_copy(p, n / 2, a, &again, &c2) == 0);
	free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct args a = { NULL, 0 };
	struct resp_cmd cmd;
	size_t off = 0;
	char *copy;
	ssize_t r;

	while (off < size) {
		r = parse_copy(in + off, size - off, &a, &cmd, &copy);
		CHECK(r == 0 || r == -EPROTO ||
		      (r > 0 && (size_t)r <= size - off));
		if (r == -EPROTO)
			CHECK(strncmp(cmd.err, "Protocol error: ", 16) == 0 &&
			      !strpbrk(cmd.err, "\r\n"));
		if (r > 0)
			check_command(in + off, (size_t)r, &a, &cmd, copy);
		free(copy);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	free(a.v);
	return 0;
}
