/*
 * File calls: read, write, readv, writev (at an offset, or at the file
 * position with -1), open, close, fsync, stat.
 *
 * io_uring does them all.  The epoll backend runs them on the blocking
 * pool for regular files (which are never "not ready", so epoll cannot
 * wait for them), and reads and writes pipes, sockets and other pollable
 * descriptors without blocking, waiting on epoll after EAGAIN.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/op.h"
#include "runtime/task.h"
#include "weft.h"

#define RW_MAX 0x7ffff000ul

enum file_call { F_READ, F_WRITE, F_READV, F_WRITEV, F_OPEN, F_CLOSE,
		 F_FSYNC, F_STAT };

/* One call's arguments, for the blocking pool (epoll backend). */
struct file_job {
	enum file_call call;
	int fd;
	void *buf;
	size_t len;
	off_t off;
	const struct iovec *iov;
	int iovcnt;
	const char *path;
	int flags;
	mode_t mode;
	struct stat *st;
	ssize_t res;
};

static ssize_t sys_result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

/* The plain system call (in a pool thread, or non-blocking in a task). */
static ssize_t do_call(struct file_job *j)
{
	bool at = j->off != (off_t)-1;

	switch (j->call) {
	case F_READ:
		return sys_result(at ? pread(j->fd, j->buf, j->len, j->off)
				     : read(j->fd, j->buf, j->len));
	case F_WRITE:
		return sys_result(at ? pwrite(j->fd, j->buf, j->len, j->off)
				     : write(j->fd, j->buf, j->len));
	case F_READV:
		return sys_result(at ? preadv(j->fd, j->iov, j->iovcnt, j->off)
				     : readv(j->fd, j->iov, j->iovcnt));
	case F_WRITEV:
		return sys_result(at ? pwritev(j->fd, j->iov, j->iovcnt,
					       j->off)
				     : writev(j->fd, j->iov, j->iovcnt));
	case F_OPEN:
		return sys_result(open(j->path, j->flags, j->mode));
	case F_CLOSE:
		return sys_result(close(j->fd));
	case F_FSYNC:
		return sys_result(fsync(j->fd));
	case F_STAT:
		return sys_result(stat(j->path, j->st));
	}
	return -EINVAL;
}

static int pool_job(void *arg)
{
	struct file_job *j = arg;

	j->res = do_call(j);
	return 0;
}

/* Run j on the blocking pool; the call's result. */
static ssize_t on_pool(struct file_job *j)
{
	int r = weft_blocking(pool_job, j);

	return r < 0 ? r : j->res;
}

static void prep(struct io_uring_sqe *sqe, struct file_job *j,
		 struct statx *stx)
{
	uint64_t off = (uint64_t)j->off;	/* -1: the file position */

	switch (j->call) {
	case F_READ:
		io_uring_prep_read(sqe, j->fd, j->buf, (unsigned)j->len, off);
		break;
	case F_WRITE:
		io_uring_prep_write(sqe, j->fd, j->buf, (unsigned)j->len, off);
		break;
	case F_READV:
		io_uring_prep_readv(sqe, j->fd, j->iov, (unsigned)j->iovcnt,
				    off);
		break;
	case F_WRITEV:
		io_uring_prep_writev(sqe, j->fd, j->iov, (unsigned)j->iovcnt,
				     off);
		break;
	case F_OPEN:
		io_uring_prep_openat(sqe, AT_FDCWD, j->path, j->flags, j->mode);
		break;
	case F_CLOSE:
		io_uring_prep_close(sqe, j->fd);
		break;
	case F_FSYNC:
		io_uring_prep_fsync(sqe, j->fd, 0);
		break;
	case F_STAT:
		io_uring_prep_statx(sqe, AT_FDCWD, j->path, 0,
				    STATX_BASIC_STATS, stx);
		break;
	}
}

static void statx_to_stat(const struct statx *x, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->st_ino = x->stx_ino;
	st->st_mode = x->stx_mode;
	st->st_nlink = x->stx_nlink;
	st->st_uid = x->stx_uid;
	st->st_gid = x->stx_gid;
	st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
	st->st_size = (off_t)x->stx_size;
	st->st_blksize = x->stx_blksize;
	st->st_blocks = (blkcnt_t)x->stx_blocks;
	st->st_atim.tv_sec = x->stx_atime.tv_sec;
	st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
	st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* Reads and writes wait for readiness on a descriptor that says EAGAIN
 * (a non-blocking pipe or socket). */
static bool may_wait(const struct file_job *j)
{
	return j->call <= F_WRITEV;
}

static bool is_input(const struct file_job *j)
{
	return j->call == F_READ || j->call == F_READV;
}

/*
 * io_uring: a positional read first tries preadv2(RWF_NOWAIT), which the
 * kernel serves only from the page cache and never blocks for.  A cached
 * read then costs one system call and no trip through the ring, and the
 * task stays runnable, so any worker may run its next read: with reads
 * parked on a ring, a worker that lost its CPU held its tasks' completions
 * until it ran again (file_read fell from 28 to 16-19 GB/s whenever the
 * two workers shared one CPU).  What the cache cannot serve (EAGAIN), and
 * any other failure, goes to the ring, which gives the real answer; the
 * task then skips the direct try on that descriptor until a ring read on
 * it completes.  A short direct read is finished through the ring, so a
 * read stops short only where the ring's would (end of file).  Returns
 * -EAGAIN when the ring should take the whole call.
 */
static ssize_t read_direct(struct worker *w, struct file_job *j)
{
	struct weft_task *t = w->current;
	struct io_uring_sqe *sqe;
	struct iovec one = { j->buf, j->len };
	ssize_t r, rest;

	if (j->call != F_READ || j->off < 0 || j->len == 0 ||
	    t->io_read_cold_fd == j->fd)
		return -EAGAIN;
	r = preadv2(j->fd, &one, 1, j->off, RWF_NOWAIT);
	if (r < 0) {
		t->io_read_cold_fd = j->fd;
		return -EAGAIN;
	}
	if (r == 0 || (size_t)r == j->len) {
		weft__coop_tick(w);	/* did not suspend */
		return r;
	}
	sqe = weft__io_sqe(w);
	io_uring_prep_read(sqe, j->fd, (char *)j->buf + r,
			   (unsigned)(j->len - (size_t)r),
			   (uint64_t)(j->off + r));
	rest = weft__io_submit_wait(sqe);
	return rest > 0 ? r + rest : r;
}

static ssize_t run(struct file_job *j)
{
	struct worker *w;
	struct statx stx;
	ssize_t r = weft__io_enter(&w);

	if (r)
		return r;
	for (;;) {
		/* After a wait the task may run on another worker. */
		w = weft__worker_self();
		if (weft__io_uring(w)) {
			struct io_uring_sqe *sqe;

			r = read_direct(w, j);
			if (r != -EAGAIN)
				return r;
			sqe = weft__io_sqe(w);
			prep(sqe, j, &stx);
			r = weft__io_submit_wait(sqe);
			if (r == 0 && j->call == F_STAT)
				statx_to_stat(&stx, j->st);
			/* The cache may hold the next read: try again. */
			w = weft__worker_self();
			if (j->call == F_READ && r >= 0 &&
			    w->current->io_read_cold_fd == j->fd)
				w->current->io_read_cold_fd = -1;
		} else if (j->call == F_CLOSE) {
			r = do_call(j);	/* never blocks: no pool round trip */
		} else if (!may_wait(j) || weft__epoll_fd_is_file(j->fd)) {
			r = on_pool(j);
		} else {
			weft__coop_tick(w);
			r = do_call(j);
		}
		if (r != -EAGAIN || !may_wait(j))
			return r;
		w = weft__worker_self();	/* the call above may have waited */
		if (weft__io_uring(w))
			r = weft__uring_poll_fd(w, j->fd,
						is_input(j) ? POLLIN : POLLOUT);
		else
			r = weft__epoll_wait_fd(j->fd, is_input(j) ? EPOLLIN
								  : EPOLLOUT);
		if (r < 0)
			return r;
	}
}

static ssize_t rw(enum file_call call, int fd, void *buf, size_t len,
		  off_t off)
{
	struct file_job j = { .call = call, .fd = fd, .buf = buf,
			      .len = len > RW_MAX ? RW_MAX : len, .off = off };

	if (off < -1)
		return -EINVAL;
	return run(&j);
}

static ssize_t rwv(enum file_call call, int fd, const struct iovec *iov,
		   int iovcnt, off_t off)
{
	struct file_job j = { .call = call, .fd = fd, .iov = iov,
			      .iovcnt = iovcnt, .off = off };

	if (off < -1 || iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	if (!iov && iovcnt)
		return -EFAULT;
	return run(&j);
}

ssize_t weft_read(int fd, void *buf, size_t len, off_t off)
{
	return rw(F_READ, fd, buf, len, off);
}

ssize_t weft_write(int fd, const void *buf, size_t len, off_t off)
{
	return rw(F_WRITE, fd, (void *)buf, len, off);
}

ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return rwv(F_READV, fd, iov, iovcnt, off);
}

ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return rwv(F_WRITEV, fd, iov, iovcnt, off);
}

int weft_open(const char *path, int flags, mode_t mode)
{
	struct file_job j = { .call = F_OPEN, .path = path,
			      .flags = flags | O_CLOEXEC, .mode = mode };
	ssize_t r;

	if (!path)
		return -EFAULT;
	r = run(&j);
	if (r >= 0)
		weft__epoll_forget((int)r);	/* a stale record: see accept */
	return (int)r;
}

int weft_close(int fd)
{
	struct file_job j = { .call = F_CLOSE, .fd = fd };

	if (fd < 0)
		return -EBADF;
	/* Tasks waiting on it through epoll retry and see EBADF. */
	weft__epoll_forget(fd);
	return (int)run(&j);
}

int weft_fsync(int fd)
{
	struct file_job j = { .call = F_FSYNC, .fd = fd };

	return (int)run(&j);
}

int weft_stat(const char *path, struct stat *st)
{
	struct file_job j = { .call = F_STAT, .path = path, .st = st };

	if (!path || !st)
		return -EFAULT;
	return (int)run(&j);
}
