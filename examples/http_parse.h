/*
 * An HTTP/1.x request parser: a pure function over a byte buffer, with no
 * I/O and no allocation, so that it can be unit-tested and fuzzed on its
 * own (tests/unit/http_parse.c, examples/fuzz/http_parse_fuzz.c).
 */
#ifndef WEFT_EXAMPLES_HTTP_PARSE_H
#define WEFT_EXAMPLES_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Bounds.  8 KiB of request line and headers is the default of nginx
 * (large_client_header_buffers) and Node.js (--max-http-header-size
 * before v14); a body larger than 64 KiB is refused, which is plenty for a
 * server that only answers GET.  The fuzz targets build with small ones
 * (-D) so that they reach them.
 */
#ifndef HTTP_MAX_HEADER
#define HTTP_MAX_HEADER (8 * 1024)
#endif
#ifndef HTTP_MAX_BODY
#define HTTP_MAX_BODY (64 * 1024)
#endif

/* Negative returns of http_parse: the status to answer with, negated. */
#define HTTP_PARSE_BAD_REQUEST (-400)
#define HTTP_PARSE_TOO_LARGE (-413)		/* body over the bound */
#define HTTP_PARSE_HEADERS_TOO_LARGE (-431)	/* head over the bound */
#define HTTP_PARSE_NOT_IMPLEMENTED (-501)	/* Transfer-Encoding */

/* One request; the pointers point into the parsed buffer. */
struct http_request {
	const char *method;
	size_t method_len;
	const char *target;	/* the request-target, e.g. "/" */
	size_t target_len;
	int minor;		/* HTTP/1.minor: 0 or 1 */
	bool keep_alive;	/* the connection may serve another request */
	size_t body_len;	/* the body is the last body_len bytes */
};

/*
 * Parse the request at the start of buf[0..len).
 *
 * Returns the length of the complete request (line, headers and body: the
 * next request starts there) and fills *req; 0 when buf holds only the
 * start of a request ("need more"); or HTTP_PARSE_BAD_REQUEST,
 * HTTP_PARSE_HEADERS_TOO_LARGE, HTTP_PARSE_TOO_LARGE or
 * HTTP_PARSE_NOT_IMPLEMENTED, after which the connection cannot be read
 * any further and is to be answered and closed.  Every complete line is
 * checked as soon as it is there, so bad input fails without waiting for
 * the end of the header section; a result never changes as more bytes
 * arrive after a complete request.  *req is only written on success.
 */
ssize_t http_parse(const char *buf, size_t len, struct http_request *req);

#endif /* WEFT_EXAMPLES_HTTP_PARSE_H */
