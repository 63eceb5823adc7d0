/*
 * What other primitives of sync/ need from weft_mutex beyond the API:
 * weft_cond_wait must take its mutex back even when it was cancelled.
 */
#ifndef WEFT_SYNC_MUTEX_INTERNAL_H
#define WEFT_SYNC_MUTEX_INTERNAL_H

#include <stdbool.h>

#include "weft.h"

/*
 * (S) Lock m, ignoring cancellation and deadlines: 0, or -EPERM outside a
 * task.  Still FIFO with the other takers.
 */
int weft__mutex_lock_uncancellable(weft_mutex *m);

/* Does the calling task own m? */
bool weft__mutex_held(weft_mutex *m);

#endif /* WEFT_SYNC_MUTEX_INTERNAL_H */
