/*
 * libFuzzer target for examples/http_parse.c.  Not built by meson; from
 * the source root:
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iexamples \
 *		examples/fuzz/http_parse_fuzz.c examples/http_parse.c \
 *		-o http_parse_fuzz
 *	./http_parse_fuzz -max_total_time=60 examples/fuzz/corpus/http
 *
 * Add -DHTTP_MAX_HEADER=256 -DHTTP_MAX_BODY=64 to reach the bounds with
 * inputs of libFuzzer's default size.
 *
 * The input is a stream of pipelined requests, parsed one after the
 * other.  The input is copied to a buffer of its exact size, so that
 * AddressSanitizer sees any read past the end.  Besides memory errors, the
 * target traps when the parser breaks its contract (http_parse.h):
 *  - a result is need-more, a length within the buffer, or one of the four
 *    error codes;
 *  - a request's method and target lie inside the request, its body at
 *    its end;
 *  - a request parses the same without the bytes that follow it, and
 *    every shorter prefix of it needs more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                          \
	do {                              \
		if (!(x))                 \
			__builtin_trap(); \
	} while (0)

static int is_error(ssize_t r)
{
	return r == HTTP_PARSE_BAD_REQUEST || r == HTTP_PARSE_TOO_LARGE ||
	       r == HTTP_PARSE_HEADERS_TOO_LARGE ||
	       r == HTTP_PARSE_NOT_IMPLEMENTED;
}

static void check_request(const char *p, size_t n, const struct http_request *q)
{
	struct http_request again;

	CHECK(q->method >= p && q->method + q->method_len <= p + n);
	CHECK(q->target >= p && q->target + q->target_len <= p + n);
	CHECK(q->method_len > 0 && q->target_len > 0);
	CHECK(q->minor >= 0 && q->minor <= 9);
	CHECK(q->body_len <= n && q->body_len <= HTTP_MAX_BODY);
	CHECK(http_parse(p, n, &again) == (ssize_t)n);
	CHECK(again.keep_alive == q->keep_alive);
	CHECK(http_parse(p, n - 1, &again) == 0);
	CHECK(http_parse(p, n / 2, &again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct http_request req;
	size_t off = 0;
	ssize_t r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (off < size) {
		r = http_parse(buf + off, size - off, &req);
		CHECK(r == 0 || is_error(r) ||
		      (r > 0 && (size_t)r <= size - off));
		if (r <= 0)
			break;
		check_request(buf + off, (size_t)r, &req);
		off += (size_t)r;
	}
	free(buf);
	return 0;
}
