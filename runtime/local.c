/*
 * Task-local values.  (Being written: today no values exist, so a spawn
 * inherits nothing and a completion has nothing to release.)
 */
#include <stddef.h>

#include "runtime/local.h"
#include "runtime/task.h"

int weft__locals_inherit(struct weft_task *child, struct weft_task *parent)
{
	(void)parent;
	child->locals = NULL;
	return 0;
}

void weft__locals_release(struct weft_task *t)
{
	t->locals = NULL;
}
