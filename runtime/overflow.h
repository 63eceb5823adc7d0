/*
 * Stack-overflow reports: a task that runs into the guard page below its
 * stack gets a message naming it, instead of a bare segmentation fault.
 */
#ifndef WEFT_RUNTIME_OVERFLOW_H
#define WEFT_RUNTIME_OVERFLOW_H

struct worker;

/* Once per process: the SIGSEGV/SIGBUS handler (chaining to any other). */
void weft__overflow_install(void);

/* On each worker thread: the alternate signal stack the handler runs on
 * (the faulting stack has no room left).  0 or -ENOMEM. */
int weft__overflow_thread_init(struct worker *w);
void weft__overflow_thread_fini(struct worker *w);

#endif /* WEFT_RUNTIME_OVERFLOW_H */
