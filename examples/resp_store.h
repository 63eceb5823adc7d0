/*
 * The in-memory key-value store of examples/resp.c: binary-safe string
 * keys and values, optional expiry, safe to use from every worker at once.
 * It does no I/O and never suspends; time is passed in (weft_now() in the
 * server, any clock in tests), and keys past their expiry are treated as
 * absent and dropped when they are next met.
 */
#ifndef WEFT_EXAMPLES_RESP_STORE_H
#define WEFT_EXAMPLES_RESP_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * A value: immutable once stored, shared by reference count, so that a
 * reader copies it into its reply after the store's lock is released.
 */
struct store_val {
	atomic_size_t refs;
	size_t len;
	char data[];
};

/* A value holding a copy of p[0..len) (p may be NULL: uninitialised), with
 * one reference; NULL when out of memory. */
struct store_val *store_val_new(const char *p, size_t len);
/* Drop a reference; the last one frees.  NULL does nothing. */
void store_val_put(struct store_val *v);

/* An empty store; seed keys its hash.  NULL when out of memory. */
struct store *store_new(uint64_t seed);
/* Free the store and every value it still holds.  NULL does nothing. */
void store_free(struct store *s);

/* store_set flags (SET's NX, XX and KEEPTTL). */
#define STORE_NX 1u		/* only if the key is absent */
#define STORE_XX 2u		/* only if the key is present */
#define STORE_KEEPTTL 4u	/* keep the key's expiry */

/*
 * Set key to v, taking over the caller's reference to v whatever happens.
 * expire_at is an absolute time on now's clock (0: never), ignored with
 * STORE_KEEPTTL.  1 when set, 0 when NX or XX refused, -ENOMEM.
 */
int store_set(struct store *s, const char *key, size_t klen,
	      struct store_val *v, uint64_t expire_at, unsigned flags,
	      uint64_t now);

/* key's value with a new reference for the caller, or NULL when absent. */
struct store_val *store_get(struct store *s, const char *key, size_t klen,
			    uint64_t now);

/* Remove key: 1 if it was there, else 0. */
int store_del(struct store *s, const char *key, size_t klen, uint64_t now);

/* 1 if key is there, else 0. */
int store_exists(struct store *s, const char *key, size_t klen,
		 uint64_t now);

/*
 * Add by to key's value read as a 64-bit integer (absent: 0), keeping its
 * expiry, and store the sum in *out.  0; -EINVAL when the value is not an
 * integer (resp_parse_int's rules); -ERANGE when the sum overflows;
 * -ENOMEM.  The value is left alone on error.
 */
int store_incr(struct store *s, const char *key, size_t klen, long long by,
	       long long *out, uint64_t now);

/* Time left before key expires, in now's units; -1 when it never does,
 * -2 when it is absent (Redis's TTL answers). */
int64_t store_ttl(struct store *s, const char *key, size_t klen,
		  uint64_t now);

#endif /* WEFT_EXAMPLES_RESP_STORE_H */
