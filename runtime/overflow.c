/*
 * Stack-overflow reports.
 *
 * A guarded task stack has an inaccessible page below it; running into it
 * raises SIGSEGV on the task's own (full) stack, so the handler runs on a
 * per-worker alternate signal stack.  If the fault address is in the guard
 * page of the task running on this worker, the handler writes one line
 * (write(2) only: async-signal-safe) naming the task, its stack size and
 * how to raise it, and aborts.  Any other fault goes to the handler that
 * was installed before ours, or to the default action, unchanged.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/overflow.h"
#include "runtime/stack.h"
#include "runtime/task.h"
#include "runtime/worker.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction prev_segv, prev_bus;

/* Append decimal v to buf at *n (no printf in a signal handler). */
static void put_u64(char *buf, size_t *n, uint64_t v)
{
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		buf[(*n)++] = tmp[--i];
}

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
	while (*s && *n < cap)
		buf[(*n)++] = *s++;
}

static void report(struct weft_task *t)
{
	char buf[512];
	size_t n = 0;

	put_str(buf, &n, 200, "weft: task ");
	put_u64(buf, &n, t->id);
	put_str(buf, &n, 200, " '");
	put_str(buf, &n, 240, t->name);
	put_str(buf, &n, 260, "' overflowed its ");
	put_u64(buf, &n, t->stack->size);
	put_str(buf, &n, 400, "-byte stack; raise weft_config.stack_size "
		"(default 64 KiB) or use less stack in the task\n");
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing to do: we abort next */
	}
}

/* Is addr in the guard page (or just below the lowest byte) of t? */
static bool in_guard(struct weft_task *t, uintptr_t addr)
{
	uintptr_t lo;
	long ps = sysconf(_SC_PAGESIZE);

	if (!t || !t->stack || !t->stack->guarded)
		return false;
	lo = (uintptr_t)t->stack->lo;
	return addr < lo && addr >= lo - (uintptr_t)ps;
}

static void chain(const struct sigaction *prev, int sig, siginfo_t *si,
		  void *uc)
{
	if (prev->sa_flags & SA_SIGINFO && prev->sa_sigaction) {
		prev->sa_sigaction(sig, si, uc);
		return;
	}
	if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN &&
	    prev->sa_handler) {
		prev->sa_handler(sig);
		return;
	}
	/* Default action: re-raise it once the handler returns. */
	signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct worker *w = weft__tls_worker;
	struct weft_task *t = w ? w->current : NULL;

	if (in_guard(t, (uintptr_t)si->si_addr)) {
		report(t);
		abort();
	}
	chain(sig == SIGSEGV ? &prev_segv : &prev_bus, sig, si, uc);
}

void weft__overflow_install(void)
{
	static atomic_flag done = ATOMIC_FLAG_INIT;
	struct sigaction sa;

	if (atomic_flag_test_and_set(&done))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &prev_segv);
	sigaction(SIGBUS, &sa, &prev_bus);
}

int weft__overflow_thread_init(struct worker *w)
{
	stack_t ss;

	ss.ss_sp = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return -ENOMEM;
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	/* The old one is put back at fini: weft_run's thread is a worker
	 * for a while and may have had its own. */
	if (sigaltstack(&ss, &w->old_altstack) != 0) {
		munmap(ss.ss_sp, ALTSTACK_SIZE);
		return -errno;
	}
	w->altstack = ss.ss_sp;
	return 0;
}

void weft__overflow_thread_fini(struct worker *w)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!w->altstack)
		return;
	if (w->old_altstack.ss_flags & SS_DISABLE)
		sigaltstack(&ss, NULL);
	else
		sigaltstack(&w->old_altstack, NULL);
	munmap(w->altstack, ALTSTACK_SIZE);
	w->altstack = NULL;
}
