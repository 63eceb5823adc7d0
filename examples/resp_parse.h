/*
 * A RESP2 request parser (the Redis protocol, client to server): one
 * command from the start of a buffer, with no I/O and no allocation, so
 * that it can be unit-tested and fuzzed on its own
 * (tests/unit/resp_parse.c, examples/fuzz/resp_parse_fuzz.c).
 */
#ifndef WEFT_EXAMPLES_RESP_PARSE_H
#define WEFT_EXAMPLES_RESP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Redis's limits: PROTO_INLINE_MAX_SIZE (an inline command, and the length
 * lines of a multibulk one), the most arguments of a multibulk command, and
 * proto-max-bulk-len's default.  Then ours: one whole command, so that a
 * connection's buffer stays bounded.  The fuzz targets build with small
 * ones (-D) so that they reach them.
 */
#ifndef RESP_MAX_INLINE
#define RESP_MAX_INLINE (64 * 1024)
#endif
#ifndef RESP_MAX_ARGS
#define RESP_MAX_ARGS (1024 * 1024)
#endif
#ifndef RESP_MAX_BULK
#define RESP_MAX_BULK (512LL * 1024 * 1024)
#endif
#ifndef RESP_MAX_REQUEST
#define RESP_MAX_REQUEST (64 * 1024 * 1024)
#endif

/* One argument; p points into the parsed buffer. */
struct resp_arg {
	const char *p;
	size_t len;
};

struct resp_cmd {
	struct resp_arg *argv;	/* in: the caller's array of cap entries */
	size_t cap;
	size_t argc;		/* out: the number of arguments */
	char err[96];		/* out, on -EPROTO: "Protocol error: ..." */
};

/*
 * Parse the command at the start of buf[0..len): multibulk when it starts
 * with '*' (*N CRLF, then N times $LEN CRLF DATA CRLF), else inline (one
 * line of arguments split at spaces, with "double" and 'single' quotes as
 * redis-cli writes them).
 *
 * Returns the length of the command (the next one starts there), with
 * cmd->argc arguments in cmd->argv (argc 0 for an empty command, which
 * Redis skips: "*0", "*-1", a blank line); 0 when buf holds only the start
 * of a command ("need more"); -ENOBUFS when the command is complete but
 * has more than cmd->cap arguments: cmd->argc says how many, and the call
 * is to be made again with a larger array; -EPROTO for a protocol error,
 * with Redis's message in cmd->err, after which the connection cannot be
 * read any further.
 *
 * Quoted inline arguments are decoded in place, in the bytes of the
 * command itself, and only once the command is complete and fits in argv:
 * no call that returns 0 or -ENOBUFS writes to buf.
 */
ssize_t resp_parse(char *buf, size_t len, struct resp_cmd *cmd);

/*
 * p[0..n) as a 64-bit integer, by Redis's rules (string2ll): an optional
 * '-', then digits without a leading zero, nothing else, in range.  For
 * lengths here, and for integer arguments and values in the commands.
 */
bool resp_parse_int(const char *p, size_t n, long long *out);

#endif /* WEFT_EXAMPLES_RESP_PARSE_H */
