/*
 * HTTP/1.x request parser (RFC 9112), for examples/http.c.
 *
 * It parses one request from the start of a buffer and keeps no state
 * between calls: a server that has received part of a request calls it
 * again, from the same start, once more bytes are in.  That costs a
 * rescan of at most HTTP_MAX_HEADER bytes per read, and makes the parser a
 * pure function that a fuzzer can check against itself (a prefix of a
 * request needs more, a longer buffer gives the same request).
 *
 * The head is parsed line by line.  A line ends at LF; a CR before it is
 * dropped, and any other CR is a control character and refused, as RFC
 * 9112 section 2.2 allows.  Rules, strictest where a lenient reading would
 * let two parsers disagree about where a request ends (request smuggling):
 *
 *  - empty lines before the request line are skipped (section 2.2);
 *  - request line: token SP target SP "HTTP/1." DIGIT, single spaces;
 *  - header field: token ":" OWS value OWS; whitespace before the colon
 *    and obsolete line folding are refused (sections 5.1 and 5.2);
 *  - Content-Length: digits only; a second one must repeat the value;
 *  - Transfer-Encoding: not implemented (501), so chunked bodies are never
 *    mistaken for the next request;
 *  - Host is not required: benchmarks and hand-typed requests omit it.
 *
 * The request line and the headers together, the final empty line
 * included, must fit in HTTP_MAX_HEADER bytes, whatever the reads were.
 */
#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* Parsing state for the header fields that matter to the server. */
struct head {
	long content_length;	/* -1: none */
	bool close;		/* Connection: close */
	bool keep_alive;	/* Connection: keep-alive */
	bool chunked;		/* Transfer-Encoding present */
};

/* RFC 9110 section 5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field-value byte: HTAB, SP, VCHAR or obs-text (no CTL, no DEL). */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool token_eq(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}

/*
 * Method bytes of a request line that is not complete yet: any byte before
 * the first SP must be a tchar, but for a last CR, which may be the start
 * of an empty line's CRLF.  Lets a client that speaks another protocol (a
 * TLS hello, a RESP command) get its 400 at once.
 */
static bool method_prefix_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i] != ' '; i++)
		if (!is_tchar((unsigned char)p[i]) &&
		    !(p[i] == '\r' && i == n - 1))
			return false;
	return true;
}

static ssize_t parse_request_line(const char *p, size_t n,
				  struct http_request *r)
{
	size_t i = 0, t;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ' ')
		return HTTP_PARSE_BAD_REQUEST;
	r->method = p;
	r->method_len = i;
	t = ++i;
	/* The request-target: visible ASCII, no spaces. */
	while (i < n && p[i] > ' ' && p[i] < 0x7f)
		i++;
	if (i == t || i == n || p[i] != ' ')
		return HTTP_PARSE_BAD_REQUEST;
	r->target = p + t;
	r->target_len = i - t;
	i++;
	if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 ||
	    p[i + 7] < '0' || p[i + 7] > '9')
		return HTTP_PARSE_BAD_REQUEST;
	r->minor = p[i + 7] - '0';
	return 0;
}

/* Connection: a comma-separated list of options. */
static void parse_connection(const char *v, size_t n, struct head *h)
{
	size_t i = 0, s, e;

	while (i < n) {
		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (token_eq(v + s, e - s, "close"))
			h->close = true;
		else if (token_eq(v + s, e - s, "keep-alive"))
			h->keep_alive = true;
	}
}

static ssize_t parse_content_length(const char *v, size_t n, struct head *h)
{
	long x = 0;
	size_t i;

	if (n == 0)
		return HTTP_PARSE_BAD_REQUEST;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return HTTP_PARSE_BAD_REQUEST;
		/* Saturate: anything past the bound is refused anyway. */
		if (x <= HTTP_MAX_BODY)
			x = x * 10 + (v[i] - '0');
	}
	if (h->content_length >= 0 && h->content_length != x)
		return HTTP_PARSE_BAD_REQUEST;
	if (x > HTTP_MAX_BODY)
		return HTTP_PARSE_TOO_LARGE;
	h->content_length = x;
	return 0;
}

static ssize_t parse_field(const char *p, size_t n, struct head *h)
{
	size_t i = 0, e;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	/* Also refuses obs-fold (a leading SP or HTAB) and "name :". */
	if (i == 0 || i == n || p[i] != ':')
		return HTTP_PARSE_BAD_REQUEST;
	for (e = i + 1; e < n; e++)
		if (!is_field_char((unsigned char)p[e]))
			return HTTP_PARSE_BAD_REQUEST;
	e = i + 1;
	while (e < n && is_ows(p[e]))
		e++;
	while (n > e && is_ows(p[n - 1]))
		n--;
	if (token_eq(p, i, "content-length"))
		return parse_content_length(p + e, n - e, h);
	if (token_eq(p, i, "transfer-encoding"))
		h->chunked = true;
	else if (token_eq(p, i, "connection"))
		parse_connection(p + e, n - e, h);
	return 0;
}

/* The request is complete: settle keep-alive and the body. */
static ssize_t finish(size_t head_len, size_t len, struct head *h,
		      struct http_request *r, struct http_request *out)
{
	size_t body = h->content_length > 0 ? (size_t)h->content_length : 0;

	if (h->chunked)
		return HTTP_PARSE_NOT_IMPLEMENTED;
	if (len - head_len < body)
		return 0;
	/* HTTP/1.1 keeps the connection by default, HTTP/1.0 closes it. */
	r->keep_alive = !h->close && (r->minor >= 1 || h->keep_alive);
	r->body_len = body;
	*out = *r;
	return (ssize_t)(head_len + body);
}

ssize_t http_parse(const char *buf, size_t len, struct http_request *req)
{
	struct head h = { .content_length = -1 };
	struct http_request r = { 0 };
	size_t limit = len < HTTP_MAX_HEADER ? len : HTTP_MAX_HEADER;
	size_t pos = 0, n;
	bool seen_line = false;
	const char *lf;
	ssize_t e;

	for (;;) {
		lf = memchr(buf + pos, '\n', limit - pos);
		if (!lf) {
			if (!seen_line &&
			    !method_prefix_ok(buf + pos, limit - pos))
				return HTTP_PARSE_BAD_REQUEST;
			return len >= HTTP_MAX_HEADER ?
				       HTTP_PARSE_HEADERS_TOO_LARGE : 0;
		}
		n = (size_t)(lf - (buf + pos));
		if (n > 0 && buf[pos + n - 1] == '\r')
			n--;
		if (!seen_line) {
			/* Empty lines before the request line are skipped. */
			if (n > 0) {
				e = parse_request_line(buf + pos, n, &r);
				if (e < 0)
					return e;
				seen_line = true;
			}
		} else if (n == 0) {
			return finish((size_t)(lf - buf) + 1, len, &h, &r, req);
		} else {
			e = parse_field(buf + pos, n, &h);
			if (e < 0)
				return e;
		}
		pos = (size_t)(lf - buf) + 1;
	}
}
