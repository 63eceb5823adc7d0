/*
 * The floating-point control state is the ABI's callee-saved kind: a task
 * that changes its rounding mode (MXCSR and, through fesetround, the x87
 * control word) or only the x87 precision keeps it across its switches,
 * and the other tasks of the worker never see it.
 *
 * Valgrind computes in round-to-nearest, double precision whatever the
 * control words say (its documented limits), so under it these tests check
 * nothing and return at once; every other build runs them.
 */
#include <fenv.h>
#include <stdint.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "runtime/sanitizer.h"

#if defined(__x86_64__)
#include <fpu_control.h>
#endif

TestSuite(fpenv, .timeout = 60);

#define ROUNDS 200

/* Rounds 1/3 up or to nearest, as the current mode says; volatile so the
 * division happens at run time, in the current mode. */
static double third(void)
{
	volatile double one = 1.0, three = 3.0;

	return one / three;
}

static int upward_task(void *arg)
{
	double up, near;
	int i;

	(void)arg;
	fesetround(FE_TONEAREST);
	near = third();
	cr_assert_eq(fesetround(FE_UPWARD), 0);
	up = third();
	cr_assert_neq(up, near, "FE_UPWARD made no difference");
	for (i = 0; i < ROUNDS; i++) {
		weft_yield();
		cr_assert_eq(fegetround(), FE_UPWARD,
			     "round %d: the task's rounding mode was lost", i);
		cr_assert_eq(third(), up, "round %d: computed in another mode",
			     i);
	}
	fesetround(FE_TONEAREST);
	return 0;
}

static int nearest_task(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		cr_assert_eq(fegetround(), FE_TONEAREST,
			     "round %d: another task's rounding mode leaked in",
			     i);
		weft_yield();
	}
	return 0;
}

/* Spawn one task per function, then join each: all must return 0. */
static void spawn_and_join(int (*const fns[])(void *), size_t n)
{
	weft_task *ts[4];
	size_t i;

	cr_assert_leq(n, sizeof(ts) / sizeof(ts[0]));
	for (i = 0; i < n; i++) {
		ts[i] = weft_spawn(fns[i], NULL);
		cr_assert_not_null(ts[i], "spawn %zu", i);
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(weft_join(ts[i]), 0, "task %zu", i);
}

static int rounding_main(void *arg)
{
	static int (*const fns[])(void *) = { upward_task, nearest_task,
					      nearest_task };

	(void)arg;
	spawn_and_join(fns, 3);
	return 0;
}

Test(fpenv, a_tasks_rounding_mode_stays_its_own_across_switches)
{
	if (weft__under_valgrind())
		return;
	/* One worker: the three tasks take turns on one thread. */
	cr_assert_eq(t_run(rounding_main, NULL, 1), 0);
	cr_assert_eq(t_run(rounding_main, NULL, 2), 0);
}

#if defined(__x86_64__)
/* The x87 precision control alone (no MXCSR change): single precision. */
static int x87_task(void *arg)
{
	fpu_control_t cw, mine;
	int i;

	(void)arg;
	_FPU_GETCW(cw);
	mine = (fpu_control_t)((cw & ~_FPU_EXTENDED) | _FPU_SINGLE);
	_FPU_SETCW(mine);
	for (i = 0; i < ROUNDS; i++) {
		weft_yield();
		_FPU_GETCW(cw);
		cr_assert_eq(cw, mine, "round %d: x87 control word %#x, set %#x",
			     i, (unsigned)cw, (unsigned)mine);
	}
	return 0;
}

static int x87_other(void *arg)
{
	fpu_control_t cw;
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		_FPU_GETCW(cw);
		cr_assert_eq(cw & _FPU_EXTENDED, _FPU_EXTENDED,
			     "round %d: another task's x87 precision leaked in",
			     i);
		weft_yield();
	}
	return 0;
}

static int x87_main(void *arg)
{
	static int (*const fns[])(void *) = { x87_task, x87_other };

	(void)arg;
	spawn_and_join(fns, 2);
	return 0;
}

Test(fpenv, a_tasks_x87_precision_stays_its_own_across_switches)
{
	if (weft__under_valgrind())
		return;
	cr_assert_eq(t_run(x87_main, NULL, 1), 0);
}
#endif
