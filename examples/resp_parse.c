/*
 * RESP2 request parser, for examples/resp.c; it follows Redis's
 * processInlineBuffer and processMultibulkBuffer (networking.c), messages
 * included.
 *
 * It keeps no state between calls: a server that has received part of a
 * command calls it again, from the start of the command, once more bytes
 * are in.  The rescan is cheap, since bulk data is skipped, not read, and
 * it makes the parser a pure function that a fuzzer can check against
 * itself: a prefix of a command needs more, a longer buffer gives the same
 * command.  For that, every limit is applied to a window that does not
 * depend on how much was read: a length line must end within
 * RESP_MAX_INLINE bytes of its start, where Redis looks at the whole
 * buffer.
 *
 * Where Redis is lenient and a stricter reading costs nothing, it is
 * strict: the CR of a length line must be followed by LF, and bulk data by
 * CRLF (Redis skips those two bytes unread).  A NUL in an inline command
 * is an ordinary byte (Redis's C-string splitter stops there).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "resp_parse.h"

static ssize_t fail(struct resp_cmd *cmd, const char *what)
{
	snprintf(cmd->err, sizeof(cmd->err), "Protocol error: %s", what);
	return -EPROTO;
}

/* Need more, unless the command has outgrown its bound already. */
static ssize_t need_more(size_t len, struct resp_cmd *cmd)
{
	if (len >= RESP_MAX_REQUEST)
		return fail(cmd, "request larger than 64 MiB");
	return 0;
}

bool resp_parse_int(const char *p, size_t n, long long *out)
{
	unsigned long long v = 0, max = LLONG_MAX;
	size_t i = 0;

	/* As Redis's string2ll: no sign but '-', no leading zero, no space. */
	if (n == 1 && p[0] == '0') {
		*out = 0;
		return true;
	}
	if (n > 0 && p[0] == '-') {
		max = (unsigned long long)LLONG_MAX + 1;
		i = 1;
	}
	if (i == n || p[i] < '1' || p[i] > '9')
		return false;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' ||
		    v > (max - (unsigned)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	/* -v computed in unsigned, so LLONG_MIN does not overflow. */
	*out = p[0] == '-' ? (long long)(0 - v) : (long long)v;
	return true;
}

/*
 * The number on the line that starts at buf[pos] and ends with CRLF: 1
 * with *x set and *next past the LF; 0 when the line is not complete; -1
 * when no CR comes within RESP_MAX_INLINE bytes; -2 when it is not a
 * number or the CR is not followed by LF.
 */
static int number_line(const char *buf, size_t len, size_t pos, long long *x,
		       size_t *next)
{
	size_t window = len - pos < RESP_MAX_INLINE ? len - pos :
						      RESP_MAX_INLINE;
	const char *cr = memchr(buf + pos, '\r', window);

	if (!cr)
		return len - pos >= RESP_MAX_INLINE ? -1 : 0;
	if ((size_t)(cr - buf) + 1 == len)
		return 0;	/* the LF is still to come */
	if (cr[1] != '\n' ||
	    !resp_parse_int(buf + pos, (size_t)(cr - buf) - pos, x))
		return -2;
	*next = (size_t)(cr - buf) + 2;
	return 1;
}

/* One bulk string at buf[*pos]: 1 with arg set and *pos past it, or what
 * resp_parse returns for need-more (0) and errors. */
static ssize_t parse_bulk(const char *buf, size_t len, size_t *pos,
			  struct resp_arg *arg, struct resp_cmd *cmd)
{
	long long n;
	size_t p;
	char got;
	int r;

	if (*pos == len)
		return need_more(len, cmd);
	if (buf[*pos] != '$') {
		/* Redis's reply turns CR and LF into spaces; so do we, for
		 * every byte that would garble the line. */
		got = buf[*pos] >= ' ' && buf[*pos] < 0x7f ? buf[*pos] : ' ';
		snprintf(cmd->err, sizeof(cmd->err),
			 "Protocol error: expected '$', got '%c'", got);
		return -EPROTO;
	}
	r = number_line(buf, len, *pos + 1, &n, &p);
	if (r == 0)
		return need_more(len, cmd);
	if (r == -1)
		return fail(cmd, "too big bulk count string");
	if (r < 0 || n < 0 || n > RESP_MAX_BULK)
		return fail(cmd, "invalid bulk length");
	if (p + (size_t)n + 2 > RESP_MAX_REQUEST)
		return fail(cmd, "request larger than 64 MiB");
	if (len - p < (size_t)n + 2)
		return need_more(len, cmd);
	p += (size_t)n;
	if (buf[p] != '\r' || buf[p + 1] != '\n')
		return fail(cmd, "expected CRLF after bulk data");
	arg->p = buf + p - (size_t)n;
	arg->len = (size_t)n;
	*pos = p + 2;
	return 1;
}

static ssize_t parse_multibulk(const char *buf, size_t len,
			       struct resp_cmd *cmd)
{
	struct resp_arg dummy;
	long long count, i;
	size_t pos;
	ssize_t r;

	r = number_line(buf, len, 1, &count, &pos);
	if (r == 0)
		return need_more(len, cmd);
	if (r == -1)
		return fail(cmd, "too big mbulk count string");
	if (r < 0 || count > RESP_MAX_ARGS)
		return fail(cmd, "invalid multibulk length");
	for (i = 0; i < count; i++) {
		r = parse_bulk(buf, len, &pos,
			       (size_t)i < cmd->cap ? &cmd->argv[i] : &dummy,
			       cmd);
		if (r <= 0)
			return r;
	}
	/* "*0" and "*-1" are empty commands, skipped as Redis does. */
	cmd->argc = count > 0 ? (size_t)count : 0;
	return cmd->argc > cmd->cap ? -ENOBUFS : (ssize_t)pos;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte a backslash escape inside "double quotes" stands for. */
static char unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'b':
		return '\b';
	case 'a':
		return '\a';
	default:
		return c;
	}
}

/*
 * One argument of an inline line, as Redis's sdssplitargs reads it,
 * from line[*r] on: written at line[*w] on when write is set.  Each byte
 * written consumes at least one byte read, so the write position never
 * passes the read position.  0, or -1 for unbalanced quotes.
 */
static int split_one(char *line, size_t n, size_t *r, size_t *w, bool write)
{
	char q = 0, c;	/* q: the open quote, if any */

	while (*r < n) {
		c = line[(*r)++];
		if (!q && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			break;
		if (!q && (c == '"' || c == '\'')) {
			q = c;
			continue;
		}
		if (q && c == q) {
			/* A closing quote must end the argument. */
			if (*r < n && !is_space(line[*r]))
				return -1;
			q = 0;
			break;
		}
		if (q == '"' && c == '\\' && *r + 2 < n && line[*r] == 'x' &&
		    hex(line[*r + 1]) >= 0 && hex(line[*r + 2]) >= 0) {
			c = (char)(hex(line[*r + 1]) * 16 + hex(line[*r + 2]));
			*r += 3;
		} else if (q == '"' && c == '\\' && *r < n) {
			c = unescape(line[(*r)++]);
		} else if (q == '\'' && c == '\\' && *r < n &&
			   line[*r] == '\'') {
			c = line[(*r)++];
		}
		if (write)
			line[*w] = c;
		(*w)++;
	}
	return q ? -1 : 0;
}

/* Split line[0..n) into arguments; with argv NULL only count them (and
 * write nothing).  The count, or -1 for unbalanced quotes. */
static long split_inline(char *line, size_t n, struct resp_arg *argv)
{
	size_t r = 0, w = 0, start;
	long argc = 0;

	for (;;) {
		while (r < n && is_space(line[r]))
			r++;
		if (r == n)
			return argc;
		start = w;
		if (split_one(line, n, &r, &w, argv != NULL) < 0)
			return -1;
		if (argv) {
			argv[argc].p = line + start;
			argv[argc].len = w - start;
		}
		argc++;
	}
}

static ssize_t parse_inline(char *buf, size_t len, struct resp_cmd *cmd)
{
	size_t window = len < RESP_MAX_INLINE ? len : RESP_MAX_INLINE;
	char *lf = memchr(buf, '\n', window);
	size_t n;
	long argc;

	if (!lf)
		return len >= RESP_MAX_INLINE ?
			       fail(cmd, "too big inline request") : 0;
	n = (size_t)(lf - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	argc = split_inline(buf, n, NULL);
	if (argc < 0)
		return fail(cmd, "unbalanced quotes in request");
	cmd->argc = (size_t)argc;
	if (cmd->argc > cmd->cap)
		return -ENOBUFS;
	split_inline(buf, n, cmd->argv);
	return lf - buf + 1;
}

ssize_t resp_parse(char *buf, size_t len, struct resp_cmd *cmd)
{
	cmd->argc = 0;
	cmd->err[0] = '\0';
	if (len == 0)
		return 0;
	if (buf[0] == '*')
		return parse_multibulk(buf, len, cmd);
	return parse_inline(buf, len, cmd);
}
