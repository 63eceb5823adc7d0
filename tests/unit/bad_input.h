/*
 * Shared by the bad_input_* suites: checks whose failure message names the
 * call, and a child-process check for misuse that aborts.
 */
#ifndef WEFT_TESTS_UNIT_BAD_INPUT_H
#define WEFT_TESTS_UNIT_BAD_INPUT_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

/* expr (a call) must return want. */
#define EXPECT_RET(expr, want)                                            \
	do {                                                              \
		long long r_ = (long long)(expr);                         \
		cr_assert_eq(r_, (long long)(want),                       \
			     "%s returned %lld (%s), want %lld", #expr, r_, \
			     r_ < 0 ? strerror((int)-r_) : "-",           \
			     (long long)(want));                          \
	} while (0)

/* expr must return want1 or want2 (the kernel or backend decides). */
#define EXPECT_RET2(expr, want1, want2)                                   \
	do {                                                              \
		long long r_ = (long long)(expr);                         \
		cr_assert(r_ == (long long)(want1) ||                     \
				  r_ == (long long)(want2),               \
			  "%s returned %lld (%s), want %lld or %lld",     \
			  #expr, r_, r_ < 0 ? strerror((int)-r_) : "-",   \
			  (long long)(want1), (long long)(want2));        \
	} while (0)

/* A constructor must return NULL with errno e. */
#define EXPECT_NULL_ERRNO(expr, e)                                        \
	do {                                                              \
		void *p_;                                                 \
		t_errno_clear();                                          \
		p_ = (void *)(expr);                                      \
		cr_assert(p_ == NULL && t_errno() == (e),                 \
			  "%s returned %p with errno %d, want NULL and %d", \
			  #expr, p_, t_errno(), (e));                     \
	} while (0)

struct bad_scene {
	int (*fn)(void *);	/* the main task of the child's runtime */
	unsigned workers;
};

static inline int bad_scene_run(void *arg)
{
	struct bad_scene *s = arg;

	return t_run(s->fn, NULL, s->workers);
}

/*
 * Under ASan freed task blocks are not cached (worker.h): a handle used
 * after its release is a use after free that ASan reports first, with the
 * call on top of the stack.  That is the check working too.
 */
static inline bool asan_caught(int st, const char *out, const char *needle)
{
	char frame[64];
	size_t n = strcspn(needle, ":");

	if (n >= sizeof(frame) - 4 || st < 0)
		return false;
	snprintf(frame, sizeof(frame), "in %.*s ", (int)n, needle);
	return strstr(out, "AddressSanitizer: heap-use-after-free") &&
	       strstr(out, frame) &&
	       ((WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) ||
		(WIFEXITED(st) && WEXITSTATUS(st) != 0));
}

/*
 * Run fn as the main task of a fresh runtime in a child process: it must
 * die of SIGABRT having said needle (which names the call) on stderr.
 */
static inline void expect_abort_named(int (*fn)(void *), const char *needle,
				      const char *what)
{
	struct bad_scene s = { fn, 2 };
	char out[8192];
	int st = t_child(bad_scene_run, &s, 30, out, sizeof(out));

	if (asan_caught(st, out, needle))
		return;

	cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		  "%s: the child did not abort (status 0x%x: %s %d); "
		  "stderr: \"%s\"",
		  what, st, WIFSIGNALED(st) ? "signal" : "exit",
		  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), out);
	cr_assert_not_null(strstr(out, needle),
			   "%s: stderr \"%s\" does not say \"%s\"", what, out,
			   needle);
}

#define EXPECT_ABORT(fn, needle) expect_abort_named(fn, needle, #fn)

#endif /* WEFT_TESTS_UNIT_BAD_INPUT_H */
