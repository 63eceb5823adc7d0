/*
 * Task-local values (contextvars).
 *
 * A task's values are a snapshot: an array of bindings (key, value) with a
 * reference count, shared copy-on-write.  A spawn shares the parent's
 * snapshot (one atomic increment, nothing at all when the parent has no
 * values).  A set on a snapshot that only its task holds edits it in place;
 * on a shared one it copies the array first, so neither task ever sees the
 * other's later sets.  A shared snapshot is never written, which is what
 * lets a child read it on another worker at once.
 *
 * Ownership (documented in weft.h): a binding is itself reference counted,
 * because copies share it; the key's destructor runs on its value when the
 * last snapshot holding that binding goes away: when the last task holding
 * it ends, or when a set in that task replaces or clears it.  Bindings hold
 * a reference on their key, so freeing a key while tasks hold values of it
 * is safe: those values are still destroyed, and the key's memory goes with
 * the last of them.
 *
 * Only the task itself touches t->locals (its own reads, sets and release;
 * the spawn that inherits runs in it too).  The reference counts are the
 * only shared words: decrements release, the decrement that reaches zero
 * and the "am I alone" check acquire, so every reader of a snapshot or
 * binding is done with it before it is edited or freed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/local.h"
#include "runtime/task.h"
#include "runtime/worker.h"

struct weft_local_key {
	_Atomic uint64_t refs;		/* the user's + one per binding */
	void (*dtor)(void *);		/* fixed at creation */
};

struct binding {
	_Atomic uint64_t refs;		/* snapshots holding it */
	struct weft_local_key *key;	/* fixed */
	void *value;			/* fixed, never NULL */
};

struct weft__locals {
	_Atomic uint64_t refs;		/* tasks holding it */
	uint32_t n;			/* written only while refs == 1 */
	uint32_t cap;
	struct binding *b[];
};

static struct weft_task *current(void)
{
	struct worker *w = weft__tls_worker;

	return w ? w->current : NULL;
}

weft_local_key *weft_local_key_new(void (*dtor)(void *))
{
	struct weft_local_key *k = weft__malloc(sizeof(*k));

	if (!k) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&k->refs, 1);
	k->dtor = dtor;
	return k;
}

static void key_put(struct weft_local_key *k)
{
	/* acq_rel: the last one sees every other holder's accesses */
	if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) == 1)
		weft__free(k);
}

void weft_local_key_free(weft_local_key *k)
{
	if (k)
		key_put(k);
}

static void binding_put(struct binding *b)
{
	struct weft_local_key *k = b->key;

	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (k->dtor)
		k->dtor(b->value);
	weft__free(b);
	key_put(k);
}

static void locals_put(struct weft__locals *l)
{
	uint32_t i;

	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < l->n; i++)
		binding_put(l->b[i]);
	weft__free(l);
}

static struct weft__locals *locals_alloc(uint32_t cap)
{
	struct weft__locals *l;

	l = weft__malloc(sizeof(*l) + cap * sizeof(l->b[0]));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->n = 0;
	l->cap = cap;
	return l;
}

/* Index of k in l, or -1. */
static int find(const struct weft__locals *l, const weft_local_key *k)
{
	uint32_t i;

	for (i = 0; l && i < l->n; i++)
		if (l->b[i]->key == k)
			return (int)i;
	return -1;
}

void *weft_local_get(weft_local_key *k)
{
	struct weft_task *t = current();
	int i;

	if (!t || !k)
		return NULL;
	i = find(t->locals, k);
	return i < 0 ? NULL : t->locals->b[i]->value;
}

/*
 * A copy of l (NULL: empty) without index `drop` (-1: none) and with nb
 * appended (NULL: none); each kept binding gains a reference.
 */
static struct weft__locals *copy(const struct weft__locals *l, int drop,
				 struct binding *nb)
{
	uint32_t n = l ? l->n : 0, i;
	struct weft__locals *c = locals_alloc(n + 1);

	if (!c)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((int)i == drop)
			continue;
		atomic_fetch_add_explicit(&l->b[i]->refs, 1,
					  memory_order_relaxed);
		c->b[c->n++] = l->b[i];
	}
	if (nb)
		c->b[c->n++] = nb;
	return c;
}

/* Edit t's own snapshot l in place (room made): slot i (-1: append)
 * becomes nb (NULL: removed).  Returns the binding that left, or NULL. */
static struct binding *edit(struct weft_task *t, struct weft__locals *l,
			    int i, struct binding *nb)
{
	struct binding *old = i >= 0 ? l->b[i] : NULL;

	if (i < 0) {
		l->b[l->n++] = nb;
	} else if (nb) {
		l->b[i] = nb;
	} else {
		l->b[i] = l->b[--l->n];
		if (!l->n) {
			/* Empty again: spawns are free again. */
			weft__free(l);
			t->locals = NULL;
		}
	}
	return old;
}

/* Make room for one more binding in t's own snapshot. */
static int grow(struct weft_task *t)
{
	struct weft__locals *l = t->locals, *c;

	if (l->n < l->cap)
		return 0;
	c = locals_alloc(l->cap * 2);
	if (!c)
		return -ENOMEM;
	memcpy(c->b, l->b, l->n * sizeof(l->b[0]));
	c->n = l->n;
	weft__free(l);
	t->locals = c;
	return 0;
}

static struct binding *binding_new(struct weft_local_key *k, void *value)
{
	struct binding *b = weft__malloc(sizeof(*b));

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
	b->key = k;
	b->value = value;
	return b;
}

/* Undo binding_new after a failure: the value stays the caller's. */
static void binding_unmake(struct binding *b)
{
	key_put(b->key);
	weft__free(b);
}

/* Put nb (NULL: nothing) in place of slot i (-1: none) of t's snapshot. */
static int replace(struct weft_task *t, int i, struct binding *nb)
{
	struct weft__locals *l = t->locals, *c = NULL;
	struct binding *old;

	/* acquire: pairs with the release of the other holders' puts;
	 * only this task can add holders, so 1 stays 1. */
	if (l && atomic_load_explicit(&l->refs, memory_order_acquire) == 1) {
		if (i < 0 && grow(t) < 0)
			return -ENOMEM;
		old = edit(t, t->locals, i, nb);
		if (old)
			binding_put(old);
		return 0;
	}
	if (nb || l->n > 1) {
		c = copy(l, i, nb);
		if (!c)
			return -ENOMEM;
	}
	t->locals = c;
	if (l)
		locals_put(l);
	return 0;
}

int weft_local_set(weft_local_key *k, void *value)
{
	struct weft_task *t = current();
	struct binding *nb = NULL;
	int i, r;

	WEFT__CHECK(k, -EINVAL);
	if (!t)
		return -EPERM;
	i = find(t->locals, k);
	if (i >= 0 ? t->locals->b[i]->value == value : !value)
		return 0;	/* no change: the binding (and value) stays */
	if (value) {
		nb = binding_new(k, value);
		if (!nb)
			return -ENOMEM;
	}
	r = replace(t, i, nb);
	if (r < 0)
		binding_unmake(nb);
	return r;
}

int weft__locals_inherit(struct weft_task *child, struct weft_task *parent)
{
	struct weft__locals *l = parent ? parent->locals : NULL;

	/* relaxed: the parent's own reference keeps l alive meanwhile, and
	 * the spawn's queue hand-off publishes child->locals. */
	if (l)
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
	child->locals = l;
	return 0;
}

void weft__locals_release(struct weft_task *t)
{
	struct weft__locals *l;

	/* A destructor may set values again in the ending task: loop until
	 * nothing is left. */
	while ((l = t->locals)) {
		t->locals = NULL;
		locals_put(l);
	}
}
