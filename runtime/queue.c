/*
 * The run queue deque.
 *
 * Indices are free-running u16 counters; slot = index % WEFT__RQ_CAP, and
 * 0 <= tail - head <= CAP.  Only the owner writes slots, and only outside
 * [head, tail) (one below head, or at tail), before the CAS that makes the
 * slot part of the queue.  A thief reads [head, head + n) and then CASes
 * the whole word; if anything moved meanwhile (a pop, a push, another
 * steal: every change bumps the version) its CAS fails and its copies are
 * dropped, so reading a slot the owner is rewriting is harmless (slots are
 * atomics: no data race, just a stale value that is never used).
 *
 * Orderings: a successful CAS is seq_cst (see cas()).  Its release half
 * publishes the slot (and the task's fields) written before it; its acquire
 * half makes our slot reads and overwrites come after the other side's.
 */
#include "runtime/queue.h"
#include "runtime/task.h"

#define MASK (WEFT__RQ_CAP - 1)
_Static_assert((WEFT__RQ_CAP & MASK) == 0, "capacity is a power of two");
_Static_assert(WEFT__RQ_CAP <= 32768, "indices are 16 bits");

#define HEAD(v) ((uint16_t)(v))
#define TAIL(v) ((uint16_t)((v) >> 16))
#define LEN(v) ((uint16_t)(TAIL(v) - HEAD(v)))

static inline uint64_t pack(uint64_t old, uint16_t h, uint16_t t)
{
	return (((old >> 32) + 1) << 32) | ((uint64_t)t << 16) | h;
}

static inline bool cas(struct weft__rq *q, uint64_t *old, uint64_t v)
{
	/* seq_cst, not just acq_rel: a push followed by the idle check in
	 * weft__idle_notify must not be reordered (the store-load pair of
	 * the no-lost-wake-up argument in idle.c).  On x86 it is the same
	 * lock cmpxchg either way. */
	return atomic_compare_exchange_weak_explicit(
		&q->ht, old, v, memory_order_seq_cst, memory_order_acquire);
}

static inline struct weft_task *slot_get(struct weft__rq *q, uint16_t i)
{
	return atomic_load_explicit(&q->buf[i & MASK], memory_order_relaxed);
}

static inline void slot_set(struct weft__rq *q, uint16_t i,
			    struct weft_task *t)
{
	atomic_store_explicit(&q->buf[i & MASK], t, memory_order_relaxed);
}

void weft__rq_init(struct weft__rq *q)
{
	unsigned i;

	atomic_init(&q->ht, 0);
	for (i = 0; i < WEFT__RQ_CAP; i++)
		atomic_init(&q->buf[i], NULL);
}

/* The second block prefetched by a pop: far enough ahead that its lines
 * arrive before it runs, near enough that it is still queued then.
 * spawn_many, blocks queued cold (median of 9 runs): 74-77 ns with one
 * block ahead, 44-45 with this one too; 1-4 ahead and 4+8 measured no
 * better. */
#define PREFETCH_FAR 4u

/* The lines of a control block that a switch and a first run touch (the
 * context and state, then fn, arg, joiner and rt: task.h). */
static inline void prefetch_block(const void *t)
{
	const char *p = t;

	__builtin_prefetch(p);
	__builtin_prefetch(p + 64);
	__builtin_prefetch(p + 128);
}

bool weft__rq_push_tail(struct weft__rq *q, struct weft_task *t)
{
	uint64_t v = atomic_load_explicit(&q->ht, memory_order_acquire);

	do {
		if (LEN(v) >= WEFT__RQ_CAP)
			return false;
		slot_set(q, TAIL(v), t);
	} while (!cas(q, &v, pack(v, HEAD(v), TAIL(v) + 1)));
	return true;
}

bool weft__rq_push_head(struct weft__rq *q, struct weft_task *t)
{
	uint64_t v = atomic_load_explicit(&q->ht, memory_order_acquire);

	do {
		if (LEN(v) >= WEFT__RQ_CAP)
			return false;
		slot_set(q, HEAD(v) - 1, t);
	} while (!cas(q, &v, pack(v, HEAD(v) - 1, TAIL(v))));
	return true;
}

struct weft_task *weft__rq_pop_tail(struct weft__rq *q)
{
	uint64_t v = atomic_load_explicit(&q->ht, memory_order_acquire);
	struct weft_task *t;

	do {
		if (LEN(v) == 0)
			return NULL;
		t = slot_get(q, TAIL(v) - 1);
	} while (!cas(q, &v, pack(v, HEAD(v), TAIL(v) - 1)));
	/* The owner will most likely pop the next ones soon: start pulling
	 * their control blocks in, the next one's and the one four further
	 * (a cold block, spawned long ago or on another core, was a miss on
	 * each line a first run touches; one block ahead hid too little of
	 * it).  A thief may take them first; a prefetch is only a hint. */
	if (LEN(v) > 1)
		prefetch_block(slot_get(q, TAIL(v) - 2));
	if (LEN(v) > PREFETCH_FAR)
		prefetch_block(slot_get(q, TAIL(v) - 1 - PREFETCH_FAR));
	return t;
}

struct weft_task *weft__rq_pop_head(struct weft__rq *q)
{
	uint64_t v = atomic_load_explicit(&q->ht, memory_order_acquire);
	struct weft_task *t;

	do {
		if (LEN(v) == 0)
			return NULL;
		t = slot_get(q, HEAD(v));
	} while (!cas(q, &v, pack(v, HEAD(v) + 1, TAIL(v))));
	return t;
}

/* Copy n slots from the head of src into out[]; then claim them. */
static bool claim_head(struct weft__rq *src, uint64_t *v, unsigned n,
		       struct weft_task **out)
{
	unsigned i;

	for (i = 0; i < n; i++)
		out[i] = slot_get(src, HEAD(*v) + i);
	return cas(src, v, pack(*v, HEAD(*v) + n, TAIL(*v)));
}

unsigned weft__rq_take_half(struct weft__rq *q, struct weft_task **out)
{
	uint64_t v = atomic_load_explicit(&q->ht, memory_order_acquire);
	unsigned n;

	do {
		if (LEN(v) < WEFT__RQ_CAP / 2)
			return 0;
		n = LEN(v) / 2;
	} while (!claim_head(q, &v, n, out));
	return n;
}

struct weft_task *weft__rq_steal_into(struct weft__rq *src,
				      struct weft__rq *dst, unsigned *n_out)
{
	struct weft_task *got[WEFT__RQ_CAP / 2 + 1];
	uint64_t v = atomic_load_explicit(&src->ht, memory_order_acquire);
	unsigned n, i, cap = WEFT__RQ_CAP / 2;

	/* Each failed claim halves what the next one copies: copying half
	 * of a long queue reads dozens of lines the owner wrote, and an
	 * owner that pushes every few tens of nanoseconds (a spawn loop) can
	 * change the word before every such copy is done, so a thief that
	 * kept asking for half could fail for as long as the loop runs. */
	for (;;) {
		n = LEN(v) - LEN(v) / 2;
		if (n == 0)
			return NULL;
		if (n > cap)
			n = cap;
		if (claim_head(src, &v, n, got))
			break;
		if (cap > 8)
			cap /= 2;
	}
	/* dst is ours and empty: one CAS publishes the rest. */
	v = atomic_load_explicit(&dst->ht, memory_order_acquire);
	do {
		for (i = 1; i < n; i++)
			slot_set(dst, TAIL(v) + i - 1, got[i]);
	} while (!cas(dst, &v, pack(v, HEAD(v), TAIL(v) + n - 1)));
	*n_out = n;
	return got[0];
}
