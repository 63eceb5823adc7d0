/*
 * The commands of examples/resp.c and the RESP2 replies they write: no
 * I/O, so the whole request-to-reply path can be tested without a socket.
 */
#ifndef WEFT_EXAMPLES_RESP_CMD_H
#define WEFT_EXAMPLES_RESP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp_parse.h"
#include "resp_store.h"

/* Replies to send, grown as needed.  All-zero is an empty buffer. */
struct resp_out {
	char *p;
	size_t len, cap;
	bool failed;	/* out of memory: part of a reply is missing */
};

/* Append "-" msg CRLF, with CR and LF in msg turned into spaces. */
void resp_out_error(struct resp_out *o, const char *msg);
void resp_out_free(struct resp_out *o);

/* resp_exec's return for QUIT: close once the reply is sent. */
#define RESP_EXEC_CLOSE 1

/*
 * Run the command argv[0..argc) against s at time now (ns) and append its
 * reply to out; argc 0 does nothing.  Command names are case-insensitive:
 * PING, ECHO, SET (EX, PX, NX, XX, KEEPTTL), GET, DEL, EXISTS, INCR,
 * DECR, INCRBY, DECRBY, MGET, MSET, TTL, PTTL, SELECT (0 only), COMMAND
 * (an empty array) and CONFIG GET ("save" and "appendonly" only), enough
 * for redis-cli and redis-benchmark, QUIT.  Returns 0, or RESP_EXEC_CLOSE
 * after QUIT.
 */
int resp_exec(struct store *s, const struct resp_arg *argv, size_t argc,
	      struct resp_out *out, uint64_t now);

#endif /* WEFT_EXAMPLES_RESP_CMD_H */
