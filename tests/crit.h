/*
 * Every test file includes this instead of <criterion/criterion.h>.
 *
 * Normally it is Criterion.  Under ThreadSanitizer Criterion cannot start
 * (libcriterion aborts with "Could not initialize inheritable arena",
 * Snaipe/Criterion#274), so this header then provides a small shim with the
 * same spelling for the subset the suites use:
 *
 *   TestSuite(suite, .timeout = N);
 *   Test(suite, name, .timeout = N, .init = f, .fini = f, .disabled = b)
 *   cr_assert(cond, [fmt, ...])        cr_assert_not(cond, ...)
 *   cr_assert_eq/neq/lt/gt/leq/geq(a, b, [fmt, ...])
 *   cr_assert_null(p, ...)             cr_assert_not_null(p, ...)
 *   cr_assert_str_eq(a, b, ...)        cr_assert_fail([fmt, ...])
 *   cr_log_info(fmt, ...)              cr_log_error(fmt, ...)
 *
 * The shim registers tests with constructors and brings its own main(): it
 * runs every test in a forked child with an alarm() timeout, prints one
 * line per test and a last line "N passed, N failed", and exits non-zero
 * when a test failed.  Options: --filter=GLOB (on "suite/name"), --list;
 * --jobs=N and other Criterion options are accepted and ignored (tests run
 * one at a time).  meson leaves Criterion out of these executables.
 */
#ifndef WEFT_TESTS_CRIT_H
#define WEFT_TESTS_CRIT_H

#if defined(__SANITIZE_THREAD__)
#define WEFT_CRIT_SHIM 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_CRIT_SHIM 1
#endif
#endif

#ifndef WEFT_CRIT_SHIM

#include <criterion/criterion.h>
#include <criterion/logging.h>

#else /* the shim */

#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct crs_opts {
	int crs_dummy_;
	double timeout;
	void (*init)(void);
	void (*fini)(void);
	bool disabled;
	const char *description;
};

struct crs_test {
	const char *suite;
	const char *name;
	void (*fn)(void);
	const struct crs_opts *opts;
	struct crs_test *next;
};

struct crs_suite {
	const char *name;
	const struct crs_opts *opts;
	struct crs_suite *next;
};

/* Lists built by constructors; one set per executable (static). */
static struct crs_test *crs_tests_, **crs_tests_tail_ = &crs_tests_;
static struct crs_suite *crs_suites_;

static inline void crs_register_test_(struct crs_test *t)
{
	*crs_tests_tail_ = t;
	crs_tests_tail_ = &t->next;
}

static inline void crs_register_suite_(struct crs_suite *s)
{
	s->next = crs_suites_;
	crs_suites_ = s;
}

#define TestSuite(suite, ...)                                             \
	static const struct crs_opts crs_suite_opts_##suite = {           \
		.crs_dummy_ = 0, __VA_ARGS__                              \
	};                                                                \
	static struct crs_suite crs_suite_##suite = {                     \
		#suite, &crs_suite_opts_##suite, NULL                     \
	};                                                                \
	__attribute__((constructor)) static void crs_suite_reg_##suite(   \
		void)                                                     \
	{                                                                 \
		crs_register_suite_(&crs_suite_##suite);                  \
	}                                                                 \
	struct crs_semicolon_##suite

#define Test(suite, name, ...)                                            \
	static void crs_fn_##suite##_##name(void);                        \
	static const struct crs_opts crs_opts_##suite##_##name = {        \
		.crs_dummy_ = 0, __VA_ARGS__                              \
	};                                                                \
	static struct crs_test crs_test_##suite##_##name = {              \
		#suite, #name, crs_fn_##suite##_##name,                   \
		&crs_opts_##suite##_##name, NULL                          \
	};                                                                \
	__attribute__((constructor)) static void                          \
		crs_reg_##suite##_##name(void)                            \
	{                                                                 \
		crs_register_test_(&crs_test_##suite##_##name);           \
	}                                                                 \
	static void crs_fn_##suite##_##name(void)

static const struct crs_test *crs_current_;

__attribute__((format(printf, 4, 5), noreturn, unused)) static void
crs_fail_(const char *file, int line, const char *what, const char *fmt,
	  ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* fmt always starts with the one space the macros add. */
	fprintf(stderr, "%s:%d: %s::%s: assertion failed: %s%s%s\n", file,
		line, crs_current_ ? crs_current_->suite : "?",
		crs_current_ ? crs_current_->name : "?", what,
		msg[1] ? ":" : "", msg[1] ? msg : "");
	fflush(stderr);
	/* Other threads may be running: do not run exit handlers. */
	_exit(1);
}

__attribute__((format(printf, 2, 3), unused)) static void
crs_log_(const char *level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%s] ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

#define crs_check_(cond, what, ...)                                       \
	do {                                                              \
		if (!(cond))                                              \
			crs_fail_(__FILE__, __LINE__, what, " " __VA_ARGS__); \
	} while (0)

#define cr_assert(cond, ...) crs_check_(cond, "cr_assert(" #cond ")", __VA_ARGS__)
#define cr_assert_not(cond, ...) \
	crs_check_(!(cond), "cr_assert_not(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) \
	crs_check_((a) == (b), "cr_assert_eq(" #a ", " #b ")", __VA_ARGS__)
#define cr_assert_neq(a, b, ...) \
	crs_check_((a) != (b), "cr_assert_neq(" #a ", " #b ")", __VA_ARGS__)
#define cr_assert_lt(a, b, ...) \
	crs_check_((a) < (b), "cr_assert_lt(" #a ", " #b ")", __VA_ARGS__)
#define cr_assert_gt(a, b, ...) \
	crs_check_((a) > (b), "cr_assert_gt(" #a ", " #b ")", __VA_ARGS__)
#define cr_assert_leq(a, b, ...) \
	crs_check_((a) <= (b), "cr_assert_leq(" #a ", " #b ")", __VA_ARGS__)
#define cr_assert_geq(a, b, ...) \
	crs_check_((a) >= (b), "cr_assert_geq(" #a ", " #b ")", __VA_ARGS__)
#define cr_assert_null(p, ...) \
	crs_check_((p) == NULL, "cr_assert_null(" #p ")", __VA_ARGS__)
#define cr_assert_not_null(p, ...) \
	crs_check_((p) != NULL, "cr_assert_not_null(" #p ")", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                     \
	crs_check_(strcmp((a), (b)) == 0, "cr_assert_str_eq(" #a ", " #b ")", \
		   __VA_ARGS__)
#define cr_assert_fail(...) crs_check_(0, "cr_assert_fail()", __VA_ARGS__)
#define cr_log_info(...) crs_log_("INFO", __VA_ARGS__)
#define cr_log_warn(...) crs_log_("WARN", __VA_ARGS__)
#define cr_log_error(...) crs_log_("ERROR", __VA_ARGS__)

static double crs_timeout_(const struct crs_test *t)
{
	const struct crs_suite *s;

	if (t->opts->timeout > 0)
		return t->opts->timeout;
	for (s = crs_suites_; s; s = s->next)
		if (!strcmp(s->name, t->suite) && s->opts->timeout > 0)
			return s->opts->timeout;
	return 0;
}

static double crs_now_(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run t in a child; 0 when it passed. */
static int crs_run_one_(const struct crs_test *t, const char **why)
{
	double timeout = crs_timeout_(t);
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		*why = "fork failed";
		return -1;
	}
	if (pid == 0) {
		crs_current_ = t;
		signal(SIGALRM, SIG_DFL);
		if (timeout > 0)
			alarm((unsigned)timeout + (timeout > (unsigned)timeout));
		if (t->opts->init)
			t->opts->init();
		t->fn();
		if (t->opts->fini)
			t->opts->fini();
		fflush(NULL);
		/* exit, not _exit: the sanitizer's exit hook may turn a
		 * clean run with reports into a failure (exitcode=66). */
		exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		*why = "timed out";
	else if (WIFSIGNALED(status))
		*why = strsignal(WTERMSIG(status));
	else if (WEXITSTATUS(status) == 1)
		*why = "assertion failed";
	else if (WEXITSTATUS(status) == 66)
		*why = "ThreadSanitizer reported an error (exit status 66)";
	else
		*why = "exited non-zero";
	return -1;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	unsigned passed = 0, failed = 0;
	bool list = false;
	struct crs_test *t;
	char id[256];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--filter=", 9))
			filter = argv[i] + 9;
		else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strcmp(argv[i], "--list") || !strcmp(argv[i], "-l"))
			list = true;
	}
	for (t = crs_tests_; t; t = t->next) {
		const char *why = "";
		double t0;

		snprintf(id, sizeof(id), "%s/%s", t->suite, t->name);
		if (filter && fnmatch(filter, id, 0) != 0)
			continue;
		if (list) {
			printf("%s\n", id);
			continue;
		}
		if (t->opts->disabled) {
			printf("[SKIP] %s::%s\n", t->suite, t->name);
			continue;
		}
		t0 = crs_now_();
		if (crs_run_one_(t, &why) == 0) {
			passed++;
			printf("[PASS] %s::%s (%.2fs)\n", t->suite, t->name,
			       crs_now_() - t0);
		} else {
			failed++;
			printf("[FAIL] %s::%s: %s (%.2fs)\n", t->suite, t->name,
			       why, crs_now_() - t0);
		}
		fflush(stdout);
	}
	if (!list)
		printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif /* WEFT_CRIT_SHIM */

#endif /* WEFT_TESTS_CRIT_H */
