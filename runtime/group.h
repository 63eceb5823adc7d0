/*
 * Task groups (asyncio.TaskGroup, Trio nurseries): the runtime's side.
 */
#ifndef WEFT_RUNTIME_GROUP_H
#define WEFT_RUNTIME_GROUP_H

struct weft_task;

/* A child of a group completed with status (called by weft__task_complete
 * before the task is marked complete). */
void weft__group_child_done(struct weft_task *t, int status);

#endif /* WEFT_RUNTIME_GROUP_H */
