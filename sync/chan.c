/*
 * weft_chan: an MPMC FIFO channel of fixed-size elements, bounded or (with
 * capacity 0) unbounded.
 *
 * One spinlock guards the ring and both waiter queues.  Hand-offs are
 * direct where they can be: a sender that finds a receiver waiting copies
 * into the receiver's buffer and wakes it; a receiver that frees a slot
 * moves the oldest waiting sender's element into the ring and wakes it.
 * So a woken task never has to retry, and FIFO order holds for waiters.
 *
 * Invariants (under lock): receivers wait only while the ring is empty;
 * senders wait only while it is full (never when unbounded).
 */
#include <errno.h>
#include <string.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/worker.h"
#include "runtime/waitq.h"

struct weft_chan {
	weft__spin lock;
	bool closed;
	size_t elem_size;
	size_t cap;		/* 0: unbounded */
	size_t ring_cap;	/* slots allocated */
	size_t head;		/* index of the oldest element */
	size_t count;
	unsigned char *ring;
	struct weft__waitq senders;
	struct weft__waitq receivers;
};

weft_chan *weft_chan_new(size_t elem_size, size_t capacity)
{
	struct weft_chan *ch;
	size_t slots = capacity ? capacity : 16;

	if (!elem_size || elem_size > (1u << 20) ||
	    capacity > ((size_t)1 << 40) / elem_size) {
		errno = EINVAL;
		return NULL;
	}
	ch = weft__calloc(1, sizeof(*ch));
	if (ch)
		ch->ring = weft__malloc(slots * elem_size);
	if (!ch || !ch->ring) {
		weft__free(ch);
		errno = ENOMEM;
		return NULL;
	}
	ch->elem_size = elem_size;
	ch->cap = capacity;
	ch->ring_cap = slots;
	return ch;
}

void weft_chan_free(weft_chan *ch)
{
	if (!ch)
		return;
	if (!weft__waitq_empty(&ch->senders) ||
	    !weft__waitq_empty(&ch->receivers))
		weft__panic("weft_chan_free: tasks are still waiting on it");
	weft__free(ch->ring);
	weft__free(ch);
}

/* The i-th queued element (i < ring_cap).  No division: a 64-bit modulo
 * was three divides per message, a fifth of channel_mpmc's time. */
static void *slot(struct weft_chan *ch, size_t i)
{
	size_t k = ch->head + i;

	if (k >= ch->ring_cap)
		k -= ch->ring_cap;
	return ch->ring + k * ch->elem_size;
}

/* Copy one element; the common sizes inline, without a call. */
static inline void copy_elem(void *dst, const void *src, size_t size)
{
	switch (size) {
	case 4:
		memcpy(dst, src, 4);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, size);
	}
}

/* Unbounded channels double their ring when full; under lock. */
static int grow_locked(struct weft_chan *ch)
{
	size_t n = ch->ring_cap * 2, i;
	unsigned char *ring = weft__malloc(n * ch->elem_size);

	if (!ring)
		return -ENOMEM;
	for (i = 0; i < ch->count; i++)
		memcpy(ring + i * ch->elem_size, slot(ch, i), ch->elem_size);
	weft__free(ch->ring);
	ch->ring = ring;
	ch->ring_cap = n;
	ch->head = 0;
	return 0;
}

static void put_locked(struct weft_chan *ch, const void *elem)
{
	copy_elem(slot(ch, ch->count), elem, ch->elem_size);
	ch->count++;
}

static void take_locked(struct weft_chan *ch, void *elem)
{
	copy_elem(elem, slot(ch, 0), ch->elem_size);
	if (++ch->head == ch->ring_cap)
		ch->head = 0;
	ch->count--;
}

/* Try to send without waiting; -EAGAIN when full.  Under lock. */
static int send_locked(struct weft_chan *ch, const void *elem)
{
	struct weft__waiter *w;

	if (ch->closed)
		return -EPIPE;
	w = weft__waitq_pop(&ch->receivers);
	if (w) {
		copy_elem(w->data, elem, ch->elem_size);
		w->result = 0;
		/* Should the receiver have been interrupted at this moment,
		 * it finds itself popped and reports this success. */
		weft__wake(w->task, w->gen, 0);
		return 0;
	}
	if (ch->cap && ch->count >= ch->cap)
		return -EAGAIN;
	if (!ch->cap && ch->count == ch->ring_cap && grow_locked(ch) < 0)
		return -ENOMEM;
	put_locked(ch, elem);
	return 0;
}

/* Try to receive without waiting; -EAGAIN when empty.  Under lock. */
static int recv_locked(struct weft_chan *ch, void *elem)
{
	struct weft__waiter *w;

	if (ch->count == 0)
		return ch->closed ? -EPIPE : -EAGAIN;
	take_locked(ch, elem);
	w = weft__waitq_pop(&ch->senders);
	if (w) {
		/* Its element takes the slot we freed; it reports success
		 * whether our wake or a racing cancel ends its wait. */
		put_locked(ch, w->data);
		w->result = 0;
		weft__wake(w->task, w->gen, 0);
	}
	return 0;
}

/* Wait on q for the other side to complete our operation. */
static int wait_locked(struct weft_chan *ch, struct weft__waitq *q,
		       void *data)
{
	struct weft__waiter w;
	int r;

	weft__waitq_push(q, &w, data, true);
	weft__spin_unlock(&ch->lock);
	r = weft__park_commit();
	if (weft__interruption(r)) {
		weft__spin_lock(&ch->lock);
		if (!weft__waitq_withdraw(q, &w))
			r = w.result;
		weft__spin_unlock(&ch->lock);
	} else {
		weft__spin_settle(&ch->lock);
	}
	return r;
}

int weft_chan_send(weft_chan *ch, const void *elem)
{
	struct weft_task *self = weft__current_task();
	bool contended;
	int r;

	WEFT__CHECK(ch && elem, -EINVAL);
	if (!self)
		return -EPERM;
	r = weft__interrupted(self);
	if (r)
		return r;
	contended = weft__spin_lock_contended(&ch->lock);
	r = send_locked(ch, elem);
	if (r != -EAGAIN) {
		weft__spin_unlock(&ch->lock);
		weft__coop_tick_contended(weft__tls_worker, contended);
		return r;
	}
	return wait_locked(ch, &ch->senders, (void *)elem);
}

int weft_chan_recv(weft_chan *ch, void *elem)
{
	struct weft_task *self = weft__current_task();
	bool contended;
	int r;

	WEFT__CHECK(ch && elem, -EINVAL);
	if (!self)
		return -EPERM;
	r = weft__interrupted(self);
	if (r)
		return r;
	contended = weft__spin_lock_contended(&ch->lock);
	r = recv_locked(ch, elem);
	if (r != -EAGAIN) {
		weft__spin_unlock(&ch->lock);
		weft__coop_tick_contended(weft__tls_worker, contended);
		return r;
	}
	return wait_locked(ch, &ch->receivers, elem);
}

int weft_chan_try_send(weft_chan *ch, const void *elem)
{
	int r;

	WEFT__CHECK(ch && elem, -EINVAL);
	weft__spin_lock(&ch->lock);
	r = send_locked(ch, elem);
	weft__spin_unlock(&ch->lock);
	return r;
}

int weft_chan_try_recv(weft_chan *ch, void *elem)
{
	int r;

	WEFT__CHECK(ch && elem, -EINVAL);
	weft__spin_lock(&ch->lock);
	r = recv_locked(ch, elem);
	weft__spin_unlock(&ch->lock);
	return r;
}

void weft_chan_close(weft_chan *ch)
{
	if (!ch)
		return;
	weft__spin_lock(&ch->lock);
	ch->closed = true;
	/* Receivers wait only on an empty ring: nothing left to drain. */
	weft__waitq_wake_all(&ch->receivers, -EPIPE);
	weft__waitq_wake_all(&ch->senders, -EPIPE);
	weft__spin_unlock(&ch->lock);
}
