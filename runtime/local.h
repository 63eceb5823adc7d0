/*
 * Task-local values (contextvars): the runtime's side.  A spawned task
 * starts with its parent's values; later sets in either are not seen by
 * the other.
 */
#ifndef WEFT_RUNTIME_LOCAL_H
#define WEFT_RUNTIME_LOCAL_H

struct weft_task;

/* At spawn, on the parent's worker: give child the parent's values.
 * 0, or -ENOMEM. */
int weft__locals_inherit(struct weft_task *child, struct weft_task *parent);

/* When t completes (on its own stack, or on the loop for a task that never
 * ran): drop its values, running destructors as the contract says. */
void weft__locals_release(struct weft_task *t);

#endif /* WEFT_RUNTIME_LOCAL_H */
