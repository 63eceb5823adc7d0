/*
 * weft_signal_wait: a signalfd for the set, waited on like any descriptor.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "io/io.h"
#include "weft.h"

/* No signal a signalfd can report: SIGKILL and SIGSTOP cannot be
 * caught, and signalfd silently drops them, so a set of only those would
 * wait forever (issue 7). */
static bool set_empty(const sigset_t *set)
{
	int s;

	for (s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP && sigismember(set, s) == 1)
			return false;
	return true;
}

int weft_signal_wait(const sigset_t *set)
{
	struct signalfd_siginfo si;
	int fd, r;

	if (!set || set_empty(set))
		return -EINVAL;
	if (!weft_in_task())
		return -EPERM;
	/* Blocked here too, so a signal meant for us is not handled (or
	 * fatal) on this worker meanwhile; see weft.h for the others. */
	pthread_sigmask(SIG_BLOCK, set, NULL);
	fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	weft__epoll_forget(fd);
	for (;;) {
		r = weft_poll(fd, POLLIN);
		if (r < 0)
			break;
		if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			r = (int)si.ssi_signo;
			break;
		}
		if (errno != EAGAIN && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	weft__epoll_forget(fd);
	close(fd);
	return r;
}
