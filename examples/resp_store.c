/*
 * A sharded hash map for examples/resp.c.
 *
 * 64 shards, chosen by the top 6 bits of a key's hash, each a chained hash
 * table behind its own spinlock: two commands contend only when their keys
 * share a shard.  A spinlock rather than a weft_mutex because nothing is
 * done under it but pointer work on one shard (values are neither copied
 * nor freed there, and nothing suspends): a waiter would spin for less
 * time than parking a task takes, and the store works outside tasks (unit
 * tests).  The one long hold is a shard doubling its buckets, once per
 * doubling of its size.
 *
 * Values are reference-counted and immutable, so a reader takes a
 * reference under the lock and copies the value after releasing it;
 * entries and values to free are collected under the lock and freed after.
 *
 * Expiry is lazy, as Redis's is for keys it reads: an entry past its
 * deadline is unlinked when a walk of its chain passes it (any operation on
 * a key of the same bucket) or when its shard grows.  Keys that are never
 * looked at again stay until then; Redis also samples keys in the
 * background (activeExpireCycle), which this example leaves out.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp_parse.h"
#include "resp_store.h"

#define SHARD_BITS 6
#define NSHARDS (1u << SHARD_BITS)
#define BUCKETS_INIT 16

struct entry {
	struct entry *next;
	uint64_t hash;
	uint64_t expire_at;	/* 0: never */
	struct store_val *val;
	size_t klen;
	char key[];
};

/* Every field but lock is read and written under lock only. */
struct shard {
	atomic_int lock;	/* 1: held */
	struct entry **buckets;
	size_t mask;		/* buckets - 1, a power of two minus one */
	size_t n;		/* entries, expired ones included */
} __attribute__((aligned(64)));	/* one cache line per lock */

struct store {
	uint64_t seed;
	struct shard shards[NSHARDS];
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/*
 * 64 spins (a few hundred ns: several critical sections) before yielding
 * the CPU: if the holder's thread was preempted, spinning on cannot help,
 * and on an oversubscribed machine the yield lets it run.
 */
#define SPINS 64

static void lock(struct shard *sh)
{
	unsigned n;

	/* Acquire pairs with the release in unlock(). */
	while (atomic_exchange_explicit(&sh->lock, 1, memory_order_acquire)) {
		for (n = 0; atomic_load_explicit(&sh->lock,
						 memory_order_relaxed); n++) {
			if (n < SPINS) {
				cpu_relax();
			} else {
				sched_yield();
				n = 0;
			}
		}
	}
}

static void unlock(struct shard *sh)
{
	atomic_store_explicit(&sh->lock, 0, memory_order_release);
}

/* FNV-1a, seeded, then MurmurHash3's finaliser so that the top bits (the
 * shard) and the low bits (the bucket) both depend on every byte.  Not a
 * keyed hash such as SipHash: flooding one chain stays possible. */
static uint64_t hash(const struct store *s, const char *key, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ s->seed;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static struct shard *shard_of(struct store *s, uint64_t h)
{
	return &s->shards[h >> (64 - SHARD_BITS)];
}

struct store_val *store_val_new(const char *p, size_t len)
{
	struct store_val *v = malloc(sizeof(*v) + len);

	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	v->len = len;
	if (p && len)
		memcpy(v->data, p, len);
	return v;
}

void store_val_put(struct store_val *v)
{
	/* acq_rel: the last put sees every other holder's reads done. */
	if (v && atomic_fetch_sub_explicit(&v->refs, 1,
					   memory_order_acq_rel) == 1)
		free(v);
}

static void free_entries(struct entry *e)
{
	struct entry *next;

	for (; e; e = next) {
		next = e->next;
		store_val_put(e->val);
		free(e);
	}
}

static bool expired(const struct entry *e, uint64_t now)
{
	return e->expire_at && e->expire_at <= now;
}

/*
 * The link that points at key's entry, or at the NULL that ends its chain
 * when the key is absent.  Expired entries met on the way move to *dead.
 * Under sh->lock.
 */
static struct entry **find_locked(struct shard *sh, uint64_t h,
				  const char *key, size_t klen, uint64_t now,
				  struct entry **dead)
{
	struct entry **pp = &sh->buckets[h & sh->mask], *e;

	while ((e = *pp)) {
		if (expired(e, now)) {
			*pp = e->next;
			e->next = *dead;
			*dead = e;
			sh->n--;
		} else if (e->hash == h && e->klen == klen &&
			   memcmp(e->key, key, klen) == 0) {
			return pp;
		} else {
			pp = &e->next;
		}
	}
	return pp;
}

/* Double the buckets once there are more entries than buckets.  A failed
 * allocation leaves the table as it is: chains get longer, that is all.
 * Under sh->lock. */
static void grow_locked(struct shard *sh, uint64_t now, struct entry **dead)
{
	size_t nb = (sh->mask + 1) * 2, i;
	struct entry **b, *e, *next;

	if (sh->n <= sh->mask + 1 || !(b = calloc(nb, sizeof(*b))))
		return;
	for (i = 0; i <= sh->mask; i++) {
		for (e = sh->buckets[i]; e; e = next) {
			next = e->next;
			if (expired(e, now)) {
				e->next = *dead;
				*dead = e;
				sh->n--;
				continue;
			}
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(sh->buckets);
	sh->buckets = b;
	sh->mask = nb - 1;
}

struct store *store_new(uint64_t seed)
{
	struct store *s = aligned_alloc(64, sizeof(*s));
	unsigned i;

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	for (i = 0; i < NSHARDS; i++) {
		s->shards[i].buckets = calloc(BUCKETS_INIT, sizeof(void *));
		s->shards[i].mask = BUCKETS_INIT - 1;
		if (!s->shards[i].buckets) {
			store_free(s);
			return NULL;
		}
	}
	return s;
}

void store_free(struct store *s)
{
	size_t i, b;

	if (!s)
		return;
	for (i = 0; i < NSHARDS; i++) {
		if (!s->shards[i].buckets)
			continue;
		for (b = 0; b <= s->shards[i].mask; b++)
			free_entries(s->shards[i].buckets[b]);
		free(s->shards[i].buckets);
	}
	free(s);
}

static struct entry *entry_new(uint64_t h, const char *key, size_t klen)
{
	struct entry *e = malloc(sizeof(*e) + klen);

	if (!e)
		return NULL;
	e->next = NULL;
	e->hash = h;
	e->expire_at = 0;
	e->val = NULL;
	e->klen = klen;
	memcpy(e->key, key, klen);
	return e;
}

/* Link fresh, holding v, at *pp (the end of its chain).  Under lock. */
static void insert_locked(struct shard *sh, struct entry **pp,
			  struct entry *fresh, struct store_val *v,
			  uint64_t expire_at)
{
	fresh->val = v;
	fresh->expire_at = expire_at;
	*pp = fresh;
	sh->n++;
}

int store_set(struct store *s, const char *key, size_t klen,
	      struct store_val *v, uint64_t expire_at, unsigned flags,
	      uint64_t now)
{
	uint64_t h = hash(s, key, klen);
	struct shard *sh = shard_of(s, h);
	struct entry *dead = NULL, **pp, *e;
	/* Allocated before the lock; freed unused when the key exists. */
	struct entry *fresh = entry_new(h, key, klen);
	struct store_val *old = NULL;
	int r = 1;

	if (flags & STORE_KEEPTTL)
		expire_at = 0;	/* for a new key; an old one keeps its own */
	lock(sh);
	pp = find_locked(sh, h, key, klen, now, &dead);
	e = *pp;
	if ((e && (flags & STORE_NX)) || (!e && (flags & STORE_XX))) {
		r = 0;
	} else if (e) {
		old = e->val;
		e->val = v;
		if (!(flags & STORE_KEEPTTL))
			e->expire_at = expire_at;
		v = NULL;
	} else if (fresh) {
		insert_locked(sh, pp, fresh, v, expire_at);
		grow_locked(sh, now, &dead);
		fresh = NULL;
		v = NULL;
	} else {
		r = -ENOMEM;
	}
	unlock(sh);
	free(fresh);
	store_val_put(old);
	store_val_put(v);
	free_entries(dead);
	return r;
}

struct store_val *store_get(struct store *s, const char *key, size_t klen,
			    uint64_t now)
{
	uint64_t h = hash(s, key, klen);
	struct shard *sh = shard_of(s, h);
	struct entry *dead = NULL, *e;
	struct store_val *v = NULL;

	lock(sh);
	e = *find_locked(sh, h, key, klen, now, &dead);
	if (e) {
		v = e->val;
		/* Relaxed: the lock orders it before any put of ours. */
		atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
	}
	unlock(sh);
	free_entries(dead);
	return v;
}

int store_del(struct store *s, const char *key, size_t klen, uint64_t now)
{
	uint64_t h = hash(s, key, klen);
	struct shard *sh = shard_of(s, h);
	struct entry *dead = NULL, **pp, *e;

	lock(sh);
	pp = find_locked(sh, h, key, klen, now, &dead);
	e = *pp;
	if (e) {
		*pp = e->next;
		e->next = dead;
		dead = e;
		sh->n--;
	}
	unlock(sh);
	free_entries(dead);
	return e != NULL;
}

int store_exists(struct store *s, const char *key, size_t klen,
		 uint64_t now)
{
	uint64_t h = hash(s, key, klen);
	struct shard *sh = shard_of(s, h);
	struct entry *dead = NULL, *e;

	lock(sh);
	e = *find_locked(sh, h, key, klen, now, &dead);
	unlock(sh);
	free_entries(dead);
	return e != NULL;
}

/* cur + by into *sum: 0, or -ERANGE when it overflows. */
static int add(long long cur, long long by, long long *sum)
{
	return __builtin_add_overflow(cur, by, sum) ? -ERANGE : 0;
}

int store_incr(struct store *s, const char *key, size_t klen, long long by,
	       long long *out, uint64_t now)
{
	uint64_t h = hash(s, key, klen);
	struct shard *sh = shard_of(s, h);
	struct entry *dead = NULL, **pp, *e;
	/* Both allocated before the lock: room for any 64-bit integer. */
	struct entry *fresh = entry_new(h, key, klen);
	struct store_val *nv = store_val_new(NULL, 21), *old = NULL;
	long long cur = 0;
	int r = 0;

	if (!fresh || !nv) {
		free(fresh);
		store_val_put(nv);
		return -ENOMEM;
	}
	lock(sh);
	pp = find_locked(sh, h, key, klen, now, &dead);
	e = *pp;
	if (e && !resp_parse_int(e->val->data, e->val->len, &cur))
		r = -EINVAL;
	if (!r)
		r = add(cur, by, out);
	if (!r) {
		/* 20 characters and the NUL hold LLONG_MIN; len leaves the
		 * NUL out. */
		nv->len = (size_t)snprintf(nv->data, 21, "%lld", *out);
		if (e) {
			old = e->val;
			e->val = nv;
		} else {
			insert_locked(sh, pp, fresh, nv, 0);
			grow_locked(sh, now, &dead);
			fresh = NULL;
		}
		nv = NULL;
	}
	unlock(sh);
	free(fresh);
	store_val_put(nv);
	store_val_put(old);
	free_entries(dead);
	return r;
}

int64_t store_ttl(struct store *s, const char *key, size_t klen,
		  uint64_t now)
{
	uint64_t h = hash(s, key, klen);
	struct shard *sh = shard_of(s, h);
	struct entry *dead = NULL, *e;
	int64_t ttl;

	lock(sh);
	e = *find_locked(sh, h, key, klen, now, &dead);
	ttl = !e ? -2 : !e->expire_at ? -1 : (int64_t)(e->expire_at - now);
	unlock(sh);
	free_entries(dead);
	return ttl;
}
