/*
 * examples/http_parse.c: one HTTP/1.x request from the start of a buffer,
 * "need more" for a prefix, and 400 / 413 / 431 / 501 for what the server
 * refuses.
 *
 * The parser is compiled into this test rather than linked: it is one
 * pure file with no dependency, and each unit test builds from its own
 * source (tests/meson.build).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/crit.h"

#include "examples/http_parse.c"

TestSuite(http_parse, .timeout = 30);

static ssize_t parse_str(const char *s, struct http_request *r)
{
	return http_parse(s, strlen(s), r);
}

static bool span_is(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

Test(http_parse, simple_get_gives_method_target_version_and_length)
{
	const char *s = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request r;
	ssize_t n = parse_str(s, &r);

	cr_assert_eq(n, (ssize_t)strlen(s), "length %zd", n);
	cr_assert(span_is(r.method, r.method_len, "GET"), "method");
	cr_assert(span_is(r.target, r.target_len, "/index.html"), "target");
	cr_assert_eq(r.minor, 1, "minor %d", r.minor);
	cr_assert(r.keep_alive, "HTTP/1.1 keeps the connection");
	cr_assert_eq(r.body_len, 0, "no body");
}

Test(http_parse, every_prefix_of_a_request_needs_more)
{
	const char *s = "POST /p HTTP/1.1\r\nA: b\r\n"
			"Content-Length: 3\r\n\r\nxyz";
	struct http_request r;
	size_t k, n = strlen(s);

	for (k = 0; k < n; k++)
		cr_assert_eq(http_parse(s, k, &r), 0, "prefix of %zu bytes", k);
	cr_assert_eq(http_parse(s, n, &r), (ssize_t)n, "whole request");
}

Test(http_parse, pipelined_requests_parse_one_at_a_time)
{
	const char *s = "GET /a HTTP/1.1\r\n\r\n"
			"GET /bb HTTP/1.1\r\nX: y\r\n\r\n"
			"GET /ccc HTTP/1.1\r\n\r\n"
			"GET /d";
	const char *want[] = { "/a", "/bb", "/ccc" };
	struct http_request r;
	size_t off = 0, len = strlen(s), i;
	ssize_t n;

	for (i = 0; i < 3; i++) {
		n = http_parse(s + off, len - off, &r);
		cr_assert_gt(n, 0, "request %zu: %zd", i, n);
		cr_assert(span_is(r.target, r.target_len, want[i]),
			  "request %zu target %.*s", i, (int)r.target_len,
			  r.target);
		off += (size_t)n;
	}
	cr_assert_eq(http_parse(s + off, len - off, &r), 0,
		     "the partial fourth request needs more");
	cr_assert_eq(off, len - strlen("GET /d"), "consumed %zu", off);
}

/* A head of exactly `size` bytes: request line, one padding header, and
 * the final empty line. */
static char *head_of(size_t size)
{
	const char *line = "GET / HTTP/1.1\r\nX: ";
	char *s = malloc(size + 1);
	size_t pad = size - strlen(line) - 4;

	strcpy(s, line);
	memset(s + strlen(line), 'a', pad);
	strcpy(s + strlen(line) + pad, "\r\n\r\n");
	return s;
}

Test(http_parse, headers_of_exactly_the_bound_parse)
{
	char *s = head_of(HTTP_MAX_HEADER);
	struct http_request r;

	cr_assert_eq(http_parse(s, HTTP_MAX_HEADER, &r),
		     (ssize_t)HTTP_MAX_HEADER, "8 KiB head");
	free(s);
}

Test(http_parse, oversized_headers_give_431)
{
	char *s = head_of(HTTP_MAX_HEADER + 1);
	struct http_request r;

	cr_assert_eq(http_parse(s, HTTP_MAX_HEADER + 1, &r),
		     HTTP_PARSE_HEADERS_TOO_LARGE, "complete but too large");
	/* Without its end: need more up to the bound, 431 from there. */
	cr_assert_eq(http_parse(s, HTTP_MAX_HEADER - 1, &r), 0, "under");
	cr_assert_eq(http_parse(s, HTTP_MAX_HEADER, &r),
		     HTTP_PARSE_HEADERS_TOO_LARGE, "at the bound");
	free(s);
}

Test(http_parse, malformed_request_lines_give_400)
{
	static const char *bad[] = {
		"GET /\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.x\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET /a\x01 HTTP/1.1\r\n\r\n",
		"GET\r\n\r\n",
	};
	struct http_request r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse_str(bad[i], &r), HTTP_PARSE_BAD_REQUEST,
			     "case %zu", i);
}

Test(http_parse, another_protocol_gets_400_before_a_line_ends)
{
	const char hello[] = "\x16\x03\x01\x02\x00";	/* a TLS record */
	struct http_request r;

	cr_assert_eq(http_parse(hello, sizeof(hello) - 1, &r),
		     HTTP_PARSE_BAD_REQUEST, "TLS hello");
	cr_assert_eq(parse_str("*1\r\n$4\r\n", &r), HTTP_PARSE_BAD_REQUEST,
		     "RESP");
	cr_assert_eq(parse_str("PING\"", &r), HTTP_PARSE_BAD_REQUEST,
		     "not a token");
	cr_assert_eq(parse_str("GE", &r), 0, "a method's start needs more");
}

Test(http_parse, malformed_header_fields_give_400)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",	/* space before : */
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",	/* obs-fold */
		"GET / HTTP/1.1\r\n: x\r\n\r\n",	/* empty name */
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",	/* control char */
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",	/* bare CR */
		"GET / HTTP/1.1\r\nA: b\r\r\n\r\n",
	};
	struct http_request r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse_str(bad[i], &r), HTTP_PARSE_BAD_REQUEST,
			     "case %zu", i);
}

Test(http_parse, a_bad_line_fails_before_the_head_is_complete)
{
	struct http_request r;

	cr_assert_eq(parse_str("GET / HTTP/1.1\r\nBad Field\r\n", &r),
		     HTTP_PARSE_BAD_REQUEST, "no need to wait for the end");
}

Test(http_parse, connection_close_ends_keep_alive)
{
	struct http_request r;

	cr_assert_gt(parse_str("GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
			       &r), 0, "parses");
	cr_assert_not(r.keep_alive, "close");
	cr_assert_gt(parse_str("GET / HTTP/1.1\r\n"
			       "connection:  Upgrade, CLOSE  \r\n\r\n", &r),
		     0, "parses");
	cr_assert_not(r.keep_alive, "close in a list, any case");
	cr_assert_gt(parse_str("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n",
			       &r), 0, "parses");
	cr_assert(r.keep_alive, "closed is not close");
}

Test(http_parse, http_1_0_closes_unless_keep_alive)
{
	struct http_request r;

	cr_assert_gt(parse_str("GET / HTTP/1.0\r\n\r\n", &r), 0, "parses");
	cr_assert_eq(r.minor, 0, "minor");
	cr_assert_not(r.keep_alive, "1.0 closes by default");
	cr_assert_gt(parse_str("GET / HTTP/1.0\r\n"
			       "Connection: Keep-Alive\r\n\r\n", &r), 0, "");
	cr_assert(r.keep_alive, "1.0 with keep-alive keeps");
}

Test(http_parse, a_content_length_body_belongs_to_the_request)
{
	const char *s = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
			"GET / HTTP/1.1\r\n\r\n";
	size_t head = strlen("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
	struct http_request r;
	ssize_t n = parse_str(s, &r);

	cr_assert_eq(n, (ssize_t)head + 5, "length %zd", n);
	cr_assert_eq(r.body_len, 5, "body %zu", r.body_len);
	cr_assert_eq(http_parse(s, head + 4, &r), 0, "body incomplete");
	cr_assert_eq(parse_str(s + n, &r), (ssize_t)strlen(s + n),
		     "the next request starts after the body");
}

Test(http_parse, bad_or_conflicting_content_lengths_give_400)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
		 "Content-Length: 2\r\n\r\nab"),
	};
	struct http_request r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse_str(bad[i], &r), HTTP_PARSE_BAD_REQUEST,
			     "case %zu", i);
	cr_assert_gt(parse_str("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
			       "Content-Length: 1\r\n\r\na", &r), 0,
		     "a repeated equal value is fine");
}

Test(http_parse, oversized_body_gives_413)
{
	struct http_request r;

	cr_assert_eq(parse_str("POST / HTTP/1.1\r\n"
			       "Content-Length: 65537\r\n\r\n", &r),
		     HTTP_PARSE_TOO_LARGE, "64 KiB + 1");
	cr_assert_eq(parse_str("POST / HTTP/1.1\r\nContent-Length: "
			       "99999999999999999999999999\r\n\r\n", &r),
		     HTTP_PARSE_TOO_LARGE, "no overflow");
	cr_assert_eq(parse_str("POST / HTTP/1.1\r\n"
			       "Content-Length: 65536\r\n\r\n", &r),
		     0, "64 KiB is allowed: its body needs more");
}

Test(http_parse, transfer_encoding_gives_501)
{
	struct http_request r;

	cr_assert_eq(parse_str("POST / HTTP/1.1\r\nTransfer-Encoding: "
			       "chunked\r\n\r\n0\r\n\r\n", &r),
		     HTTP_PARSE_NOT_IMPLEMENTED, "chunked");
}

Test(http_parse, empty_lines_before_the_request_line_are_skipped)
{
	const char *s = "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
	struct http_request r;

	cr_assert_eq(parse_str(s, &r), (ssize_t)strlen(s), "whole");
	cr_assert(span_is(r.method, r.method_len, "GET"), "method");
	cr_assert_eq(parse_str("\r\n\r\n", &r), 0, "only empty lines");
	cr_assert_eq(parse_str("\r\n\r", &r), 0,
		     "half an empty line (fuzzer, first run)");
}

Test(http_parse, bare_lf_line_ends_are_accepted)
{
	const char *s = "GET / HTTP/1.1\nConnection: close\n\n";
	struct http_request r;

	cr_assert_eq(parse_str(s, &r), (ssize_t)strlen(s), "length");
	cr_assert_not(r.keep_alive, "the header was read");
}

Test(http_parse, obs_text_in_a_field_value_is_accepted)
{
	struct http_request r;

	cr_assert_gt(parse_str("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", &r),
		     0, "UTF-8 bytes in a value");
}

Test(http_parse, more_bytes_after_a_result_do_not_change_it)
{
	static const char *cases[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nA : b\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
		"GET / HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n",
	};
	struct http_request r;
	char buf[256];
	ssize_t a, b;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i]);
		memcpy(buf, cases[i], n);
		memset(buf + n, '\x01', sizeof(buf) - n);
		a = http_parse(buf, n, &r);
		b = http_parse(buf, sizeof(buf), &r);
		cr_assert_neq(a, 0, "case %zu is complete", i);
		cr_assert_eq(a, b, "case %zu: %zd then %zd", i, a, b);
	}
}

Test(http_parse, a_failed_parse_leaves_the_request_alone)
{
	struct http_request r = { .minor = 7 };

	cr_assert_eq(parse_str("GET / HTTP/1.1\r\nA b\r\n\r\n", &r),
		     HTTP_PARSE_BAD_REQUEST, "bad");
	cr_assert_eq(r.minor, 7, "untouched on error");
	cr_assert_eq(parse_str("GET / HTTP/1.1\r\n", &r), 0, "need more");
	cr_assert_eq(r.minor, 7, "untouched on need more");
}
