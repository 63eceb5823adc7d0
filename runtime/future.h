/*
 * weft_future internals shared with the tests and weft_dump.
 */
#ifndef WEFT_RUNTIME_FUTURE_H
#define WEFT_RUNTIME_FUTURE_H

#include "weft.h"

/* How many tasks and threads await f now: a snapshot under its lock. */
unsigned weft__future_waiters(weft_future *f);

#endif /* WEFT_RUNTIME_FUTURE_H */
