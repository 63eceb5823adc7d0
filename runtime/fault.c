/*
 * Fault injection (test builds only; see fault.h for the sites' side).
 *
 * Each kind has one word, skip << 32 | count, that every hit updates with
 * a CAS: while skip > 0 a hit takes one off it and succeeds, then each hit
 * takes one off count and fails (count FOREVER is never taken off).  A word
 * of 0 is disarmed.  Hits come from any thread (workers, pool threads, the
 * caller of weft_runtime_new), so the counts are exact however they race.
 *
 * weft__fault_armed has a bit per armed kind so that a site costs one
 * relaxed load of a global that is 0 while nothing is armed.  The bit is
 * cleared by the hit that brings the word to 0, and set back if an arming
 * call came meanwhile (see disarmed()).
 *
 * WEFT_FAULT=kind:skip:count[,kind:skip:count...] arms from the
 * environment, read once per process by the first weft_runtime_new: kinds
 * ring, sqe, alloc, thread, mmap; skip defaults to 0, count to 1, and
 * count "forever" fails every hit from then on.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/fault.h"

#define SKIP_ONE (1ull << 32)
#define SKIP_OF(w) ((uint32_t)((w) >> 32))
#define COUNT_OF(w) ((uint32_t)(w))

struct fault {
	_Atomic uint64_t word;		/* skip << 32 | count; 0: disarmed */
	_Atomic uint64_t failed;	/* hits failed since the last arm */
	_Atomic uint64_t seen;		/* hits while armed, since then */
};

_Atomic unsigned weft__fault_armed;
static struct fault faults[WEFT__FAULT_KINDS];

static const char *const names[WEFT__FAULT_KINDS] = {
	[WEFT__FAULT_RING] = "ring",
	[WEFT__FAULT_SQE] = "sqe",
	[WEFT__FAULT_ALLOC] = "alloc",
	[WEFT__FAULT_THREAD] = "thread",
	[WEFT__FAULT_MMAP] = "mmap",
};

/*
 * The hit that emptied kind's word takes its bit off.  seq_cst here and in
 * weft__fault_arm: if our fetch_and comes after the arming fetch_or, our
 * load comes after the arming store of the word and sees it, and we put
 * the bit back; if it comes before, the arming fetch_or sets it after us.
 */
static void disarmed(enum weft__fault kind)
{
	atomic_fetch_and_explicit(&weft__fault_armed, ~(1u << kind),
				  memory_order_seq_cst);
	if (atomic_load_explicit(&faults[kind].word, memory_order_seq_cst))
		atomic_fetch_or_explicit(&weft__fault_armed, 1u << kind,
					 memory_order_seq_cst);
}

bool weft__fault_hit_slow(enum weft__fault kind)
{
	struct fault *f = &faults[kind];
	uint64_t old, new;
	bool fail;

	old = atomic_load_explicit(&f->word, memory_order_relaxed);
	do {
		if (!old)
			return false;	/* another kind is armed */
		fail = SKIP_OF(old) == 0;
		if (!fail)
			new = old - SKIP_ONE;
		else if (COUNT_OF(old) == WEFT__FAULT_FOREVER)
			new = old;
		else
			new = old - 1;
		/* Relaxed: the word orders nothing but itself. */
	} while (!atomic_compare_exchange_weak_explicit(
		&f->word, &old, new, memory_order_relaxed,
		memory_order_relaxed));
	atomic_fetch_add_explicit(&f->seen, 1, memory_order_relaxed);
	if (fail)
		atomic_fetch_add_explicit(&f->failed, 1, memory_order_relaxed);
	if (!new)
		disarmed(kind);
	return fail;
}

void weft__fault_arm(enum weft__fault kind, uint32_t skip, uint32_t count)
{
	struct fault *f = &faults[kind];
	uint64_t w = count ? (uint64_t)skip << 32 | count : 0;

	atomic_store_explicit(&f->failed, 0, memory_order_relaxed);
	atomic_store_explicit(&f->seen, 0, memory_order_relaxed);
	/* seq_cst: pairs with disarmed(). */
	atomic_store_explicit(&f->word, w, memory_order_seq_cst);
	if (w)
		atomic_fetch_or_explicit(&weft__fault_armed, 1u << kind,
					 memory_order_seq_cst);
	else
		disarmed(kind);
}

uint64_t weft__fault_failed(enum weft__fault kind)
{
	return atomic_load_explicit(&faults[kind].failed,
				    memory_order_relaxed);
}

uint64_t weft__fault_seen(enum weft__fault kind)
{
	return atomic_load_explicit(&faults[kind].seen, memory_order_relaxed);
}

/* "123" into *out (at most UINT32_MAX - 1); false if it is not that. */
static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
	unsigned long long v = 0;
	size_t i;

	if (!len || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v >= WEFT__FAULT_FOREVER)
		return false;
	*out = (uint32_t)v;
	return true;
}

struct spec {
	enum weft__fault kind;
	uint32_t skip, count;
};

/* One "kind[:skip[:count]]" of len bytes into *sp; -EINVAL if bad. */
static int parse_one(const char *s, size_t len, struct spec *sp)
{
	const char *c1 = memchr(s, ':', len), *c2 = NULL, *end = s + len;
	size_t n = c1 ? (size_t)(c1 - s) : len;
	int kind;

	for (kind = 0; kind < WEFT__FAULT_KINDS; kind++)
		if (strlen(names[kind]) == n && !memcmp(s, names[kind], n))
			break;
	if (kind == WEFT__FAULT_KINDS)
		return -EINVAL;
	sp->kind = (enum weft__fault)kind;
	sp->skip = 0;
	sp->count = 1;
	if (c1) {
		c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
		if (!parse_u32(c1 + 1, (size_t)((c2 ? c2 : end) - c1 - 1),
			       &sp->skip))
			return -EINVAL;
	}
	if (c2) {
		n = (size_t)(end - c2 - 1);
		if (n == 7 && !memcmp(c2 + 1, "forever", 7))
			sp->count = WEFT__FAULT_FOREVER;
		else if (!parse_u32(c2 + 1, n, &sp->count))
			return -EINVAL;
	}
	return 0;
}

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_result;

/* Every spec is parsed before any is armed: a bad one arms nothing. */
static int parse_env(const char *s)
{
	struct spec sp[2 * WEFT__FAULT_KINDS];
	const char *comma;
	unsigned n = 0, i;
	size_t len;
	int r;

	while (*s) {
		comma = strchr(s, ',');
		len = comma ? (size_t)(comma - s) : strlen(s);
		if (n == sizeof(sp) / sizeof(sp[0]))
			return -EINVAL;
		r = parse_one(s, len, &sp[n++]);
		if (r < 0)
			return r;
		s += len + (comma ? 1 : 0);
	}
	/* A kind named twice: the last one wins. */
	for (i = 0; i < n; i++)
		weft__fault_arm(sp[i].kind, sp[i].skip, sp[i].count);
	return 0;
}

static void read_env(void)
{
	const char *spec = getenv("WEFT_FAULT");

	if (spec && *spec)
		env_result = parse_env(spec);
}

int weft__fault_env(void)
{
	pthread_once(&env_once, read_env);
	return env_result;
}
