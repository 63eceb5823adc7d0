/*
 * Files through the public API: weft_open/close/read/write/readv/writev/
 * fsync/stat in a mkdtemp directory, at offsets and at the file position
 * (WEFT_OFF_CURRENT), large files, and many tasks reading or writing one
 * file at once.  Backend-neutral: the epoll fallback does file I/O on the
 * blocking pool, and CI runs this file again with WEFT_IO_BACKEND=epoll.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "tests/unit/io_helpers.h"

TestSuite(io_file, .timeout = 180);

#define MS 1000000ull
#define SEC (1000 * MS)

static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_EACH_WORKERS(w)                                                  \
	for (unsigned wi_ = 0, w;                                            \
	     wi_ < sizeof(workers_set) / sizeof(workers_set[0]) &&           \
	     (w = workers_set[wi_], 1);                                      \
	     wi_++)

/* A fresh directory per run, removed with what is in it afterwards. */
struct dir {
	char path[64];
};

static void dir_make(struct dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/weft-io-file-XXXXXX");
	cr_assert_not_null(mkdtemp(d->path), "mkdtemp: errno %d", errno);
}

static void dir_file(const struct dir *d, const char *name, char *out,
		     size_t n)
{
	snprintf(out, n, "%s/%s", d->path, name);
}

static void dir_remove(struct dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

#define RUN_EACH(fn)                                                         \
	FOR_EACH_WORKERS(w_)                                                 \
	{                                                                    \
		struct dir d_;                                               \
		int r_;                                                      \
		dir_make(&d_);                                               \
		r_ = t_run(fn, &d_, w_);                                     \
		cr_assert_eq(r_, 0, "weft_run returned %d with %u workers",  \
			     r_, w_);                                        \
		dir_remove(&d_);                                             \
	}

static int open_ok(const char *path, int flags, mode_t mode)
{
	int fd = weft_open(path, flags, mode);

	cr_assert_geq(fd, 0, "weft_open(%s) returned %d", path, fd);
	return fd;
}

static void write_at(int fd, const void *p, size_t n, off_t off)
{
	ssize_t r = weft_write(fd, p, n, off);

	cr_assert_eq(r, (ssize_t)n, "weft_write of %zu at %lld returned %zd",
		     n, (long long)off, r);
}

static void read_expect(int fd, const char *want, size_t n, off_t off)
{
	char buf[256];
	ssize_t r;

	cr_assert_leq(n, sizeof(buf));
	memset(buf, 0x7f, sizeof(buf));
	r = weft_read(fd, buf, n, off);
	cr_assert_eq(r, (ssize_t)n, "weft_read of %zu at %lld returned %zd", n,
		     (long long)off, r);
	cr_assert_eq(memcmp(buf, want, n), 0, "at %lld: got \"%.*s\", want "
		     "\"%.*s\"", (long long)off, (int)n, buf, (int)n, want);
}

/* The byte at offset i of the big files. */
static unsigned char fbyte(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull;

	return (unsigned char)((x >> 29) ^ (x >> 47) ^ i);
}

/* Write or read all n bytes at off, looping over short counts. */
static void write_full(int fd, const unsigned char *p, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = weft_write(fd, p + done, n - done,
				       off + (off_t)done);

		cr_assert_gt(r, 0, "weft_write at %lld returned %zd",
			     (long long)(off + (off_t)done), r);
		done += (size_t)r;
	}
}

static ssize_t read_full(int fd, unsigned char *p, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = weft_read(fd, p + done, n - done,
				      off + (off_t)done);

		if (r < 0)
			return r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* ------------------------------------------------------------ open/close */

static int open_create_main(void *arg)
{
	struct dir *d = arg;
	char path[128];
	struct stat st;
	int fd, r;

	dir_file(d, "new", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_EXCL | O_RDWR, 0640);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "O_CLOEXEC not added");
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR, "access mode");
	r = weft_stat(path, &st);
	cr_assert_eq(r, 0, "weft_stat returned %d", r);
	cr_assert(S_ISREG(st.st_mode), "not a regular file");
	cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
	cr_assert_eq(st.st_size, 0, "size %lld", (long long)st.st_size);
	close_ok(fd);
	/* O_EXCL on an existing file. */
	r = weft_open(path, O_CREAT | O_EXCL | O_RDWR, 0640);
	cr_assert_eq(r, -EEXIST, "O_EXCL of an existing file returned %d", r);
	/* A plain open of the file that is now there. */
	fd = open_ok(path, O_RDONLY, 0);
	close_ok(fd);
	return 0;
}

Test(io_file, open_with_o_creat_makes_the_file_with_mode_and_cloexec)
{
	umask(022);
	RUN_EACH(open_create_main);
}

static int open_errors_main(void *arg)
{
	struct dir *d = arg;
	char path[128];
	struct stat st;
	int r;

	dir_file(d, "missing", path, sizeof(path));
	r = weft_open(path, O_RDONLY, 0);
	cr_assert_eq(r, -ENOENT, "open of a missing path returned %d", r);
	r = weft_stat(path, &st);
	cr_assert_eq(r, -ENOENT, "stat of a missing path returned %d", r);
	dir_file(d, "missing/below", path, sizeof(path));
	r = weft_open(path, O_CREAT | O_RDWR, 0600);
	cr_assert_eq(r, -ENOENT, "O_CREAT under a missing dir returned %d", r);
	r = weft_open(d->path, O_WRONLY, 0);
	cr_assert_eq(r, -EISDIR, "open of a directory for writing returned %d",
		     r);
	r = weft_stat(d->path, &st);
	cr_assert_eq(r, 0, "stat of the directory returned %d", r);
	cr_assert(S_ISDIR(st.st_mode), "the directory is not S_ISDIR");
	return 0;
}

Test(io_file, open_and_stat_of_a_missing_path_return_enoent)
{
	RUN_EACH(open_errors_main);
}

static int close_main(void *arg)
{
	struct dir *d = arg;
	char path[128];
	int fd, r;

	dir_file(d, "c", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR, 0600);
	close_ok(fd);
	cr_assert(fcntl(fd, F_GETFD) < 0 && t_errno() == EBADF,
		  "descriptor %d still open after weft_close", fd);
	r = weft_close(fd);
	cr_assert_eq(r, -EBADF, "a second weft_close returned %d", r);
	return 0;
}

Test(io_file, close_returns_0_and_the_descriptor_is_gone)
{
	RUN_EACH(close_main);
}

/* ------------------------------------------------------ reads and writes */

static int offsets_main(void *arg)
{
	struct dir *d = arg;
	char path[128], zeros[95], buf[16];
	struct stat st;
	int fd;
	ssize_t r;

	dir_file(d, "off", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	write_at(fd, "world", 5, 100);
	write_at(fd, "hello", 5, 0);
	cr_assert_eq(weft_stat(path, &st), 0);
	cr_assert_eq(st.st_size, 105, "size %lld", (long long)st.st_size);
	read_expect(fd, "hello", 5, 0);
	read_expect(fd, "world", 5, 100);
	read_expect(fd, "llo", 3, 2);
	memset(zeros, 0, sizeof(zeros));
	read_expect(fd, zeros, sizeof(zeros), 5);	/* the hole */
	/* At and across the end. */
	r = weft_read(fd, buf, sizeof(buf), 105);
	cr_assert_eq(r, 0, "read at the end returned %zd", r);
	r = weft_read(fd, buf, sizeof(buf), 1000);
	cr_assert_eq(r, 0, "read past the end returned %zd", r);
	memset(buf, 0, sizeof(buf));
	r = weft_read(fd, buf, sizeof(buf), 102);
	cr_assert_eq(r, 3, "read across the end returned %zd", r);
	cr_assert_eq(memcmp(buf, "rld", 3), 0, "got %.3s", buf);
	/* Overwrite in the middle. */
	write_at(fd, "J", 1, 0);
	read_expect(fd, "Jello", 5, 0);
	/* pread/pwrite leave the file position alone. */
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 0, "the position moved to %lld",
		     (long long)lseek(fd, 0, SEEK_CUR));
	close_ok(fd);
	return 0;
}

Test(io_file, write_and_read_at_offsets_move_exact_bytes)
{
	RUN_EACH(offsets_main);
}

/*
 * A positional read tries the page cache first (io_uring backend,
 * file_ops.c): a range cached only in part, or not at all, must still
 * come back whole, as the ring's read would.  The second half of the file
 * is dropped from the cache (clean pages, after fsync) before one read
 * spans both halves; then the whole file is dropped and read again.
 */
#define PARTLY (4u << 20)

static void fill_pattern(unsigned char *p, size_t n, unsigned salt)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131 + salt) ^ (i >> 12));
}

static int partly_cached_main(void *arg)
{
	struct dir *d = arg;
	unsigned char *want = malloc(PARTLY), *got = malloc(PARTLY);
	char path[128];
	ssize_t r;
	int fd, pass;

	cr_assert(want && got);
	fill_pattern(want, PARTLY, 7);
	dir_file(d, "partly", path, sizeof(path));
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "open: errno %d", errno);
	cr_assert_eq(pwrite(fd, want, PARTLY, 0), (ssize_t)PARTLY);
	cr_assert_eq(fsync(fd), 0);
	for (pass = 0; pass < 3; pass++) {
		/* 0: second half dropped; 1: all of it; 2: all cached. */
		if (pass < 2)
			cr_assert_eq(posix_fadvise(fd, pass ? 0 : PARTLY / 2,
						   pass ? 0 : PARTLY / 2,
						   POSIX_FADV_DONTNEED), 0);
		memset(got, 0, PARTLY);
		r = weft_read(fd, got, PARTLY, 0);
		cr_assert_eq(r, (ssize_t)PARTLY, "pass %d: read returned %zd",
			     pass, r);
		cr_assert_eq(memcmp(got, want, PARTLY), 0, "pass %d: wrong "
			     "bytes", pass);
	}
	close(fd);
	free(want);
	free(got);
	return 0;
}

Test(io_file, a_read_over_a_partly_cached_range_returns_every_byte)
{
	RUN_EACH(partly_cached_main);
}

static int position_main(void *arg)
{
	struct dir *d = arg;
	char path[128], buf[16];
	int fd;
	ssize_t r;

	dir_file(d, "pos", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	write_at(fd, "abc", 3, WEFT_OFF_CURRENT);
	write_at(fd, "def", 3, WEFT_OFF_CURRENT);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 6, "position after two writes");
	r = weft_read(fd, buf, sizeof(buf), WEFT_OFF_CURRENT);
	cr_assert_eq(r, 0, "read at the position (the end) returned %zd", r);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	read_expect(fd, "ab", 2, WEFT_OFF_CURRENT);
	/* A read at an offset does not move the position... */
	read_expect(fd, "f", 1, 5);
	/* ...so this one goes on from 2. */
	read_expect(fd, "cde", 3, WEFT_OFF_CURRENT);
	read_expect(fd, "f", 1, WEFT_OFF_CURRENT);
	r = weft_read(fd, buf, sizeof(buf), WEFT_OFF_CURRENT);
	cr_assert_eq(r, 0, "read at the end returned %zd", r);
	close_ok(fd);
	/* O_APPEND writes go to the end, whatever the position. */
	fd = open_ok(path, O_WRONLY | O_APPEND, 0);
	write_at(fd, "gh", 2, WEFT_OFF_CURRENT);
	close_ok(fd);
	fd = open_ok(path, O_RDONLY, 0);
	read_expect(fd, "abcdefgh", 8, WEFT_OFF_CURRENT);
	close_ok(fd);
	return 0;
}

Test(io_file, off_current_reads_and_writes_follow_the_file_position)
{
	RUN_EACH(position_main);
}

static int vectored_main(void *arg)
{
	struct dir *d = arg;
	char path[128], a[3], b[4], c[5];
	struct iovec out[3] = { { "one", 3 }, { "two_", 4 }, { "three", 5 } };
	struct iovec in[3] = { { a, 3 }, { b, 4 }, { c, 5 } };
	int fd;
	ssize_t r;

	dir_file(d, "vec", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	r = weft_writev(fd, out, 3, 10);
	cr_assert_eq(r, 12, "writev at 10 returned %zd", r);
	read_expect(fd, "onetwo_three", 12, 10);
	r = weft_readv(fd, in, 3, 10);
	cr_assert_eq(r, 12, "readv at 10 returned %zd", r);
	cr_assert_eq(memcmp(a, "one", 3), 0, "a: %.3s", a);
	cr_assert_eq(memcmp(b, "two_", 4), 0, "b: %.4s", b);
	cr_assert_eq(memcmp(c, "three", 5), 0, "c: %.5s", c);
	/* At the position. */
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	r = weft_writev(fd, out, 2, WEFT_OFF_CURRENT);
	cr_assert_eq(r, 7, "writev at the position returned %zd", r);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 7, "position after writev");
	cr_assert_eq(lseek(fd, 3, SEEK_SET), 3);
	memset(a, 0, 3);
	memset(b, 0, 4);
	r = weft_readv(fd, in, 2, WEFT_OFF_CURRENT);
	cr_assert_eq(r, 7, "readv at the position returned %zd", r);
	cr_assert_eq(memcmp(a, "two", 3), 0, "a: %.3s", a);
	cr_assert_eq(memcmp(b, "_\0\0\0", 4), 0, "b: %.4s", b);	/* the hole */
	close_ok(fd);
	return 0;
}

Test(io_file, readv_and_writev_scatter_and_gather_at_offsets_and_the_position)
{
	RUN_EACH(vectored_main);
}

static int fsync_stat_main(void *arg)
{
	struct dir *d = arg;
	char path[128], data[3000];
	struct stat st, st2;
	int fd, r;

	dir_file(d, "sync", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	memset(data, 'x', sizeof(data));
	write_at(fd, data, sizeof(data), 0);
	r = weft_fsync(fd);
	cr_assert_eq(r, 0, "weft_fsync returned %d", r);
	r = weft_stat(path, &st);
	cr_assert_eq(r, 0, "weft_stat returned %d", r);
	cr_assert_eq(st.st_size, (off_t)sizeof(data), "size %lld",
		     (long long)st.st_size);
	cr_assert_eq(fstat(fd, &st2), 0);
	cr_assert_eq(st.st_ino, st2.st_ino, "weft_stat saw another inode");
	write_at(fd, "y", 1, 9999);
	cr_assert_eq(weft_fsync(fd), 0, "second fsync");
	cr_assert_eq(weft_stat(path, &st), 0);
	cr_assert_eq(st.st_size, 10000, "size after a write at 9999: %lld",
		     (long long)st.st_size);
	close_ok(fd);
	return 0;
}

Test(io_file, fsync_returns_0_and_stat_reports_the_size_written)
{
	RUN_EACH(fsync_stat_main);
}

static int bad_mode_main(void *arg)
{
	struct dir *d = arg;
	char path[128], b;
	int fd;
	ssize_t r;

	dir_file(d, "ro", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDONLY, 0600);
	r = weft_write(fd, "x", 1, 0);
	cr_assert_eq(r, -EBADF, "write to a read-only descriptor returned %zd",
		     r);
	close_ok(fd);
	fd = open_ok(path, O_WRONLY, 0);
	r = weft_read(fd, &b, 1, 0);
	cr_assert_eq(r, -EBADF, "read from a write-only descriptor returned "
		     "%zd", r);
	close_ok(fd);
	fd = open_ok(d->path, O_RDONLY | O_DIRECTORY, 0);
	r = weft_read(fd, &b, 1, 0);
	cr_assert_eq(r, -EISDIR, "read of a directory returned %zd", r);
	close_ok(fd);
	return 0;
}

Test(io_file, read_and_write_against_the_access_mode_return_ebadf)
{
	RUN_EACH(bad_mode_main);
}

/* ---------------------------------------------------------- big files */

#define BIG (4u << 20)

static int big_main(void *arg)
{
	struct dir *d = arg;
	unsigned char *src = malloc(BIG), *dst = malloc(BIG);
	char path[128];
	struct stat st;
	size_t chunk = 100000, off;
	int fd;
	ssize_t r;

	cr_assert(src && dst);
	for (off = 0; off < BIG; off++)
		src[off] = fbyte(off);
	dir_file(d, "big", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	/* In odd-sized chunks at offsets, then one read at the position. */
	for (off = 0; off < BIG; off += chunk) {
		size_t n = BIG - off < chunk ? BIG - off : chunk;

		write_full(fd, src + off, n, (off_t)off);
	}
	cr_assert_eq(weft_fsync(fd), 0);
	cr_assert_eq(weft_stat(path, &st), 0);
	cr_assert_eq(st.st_size, (off_t)BIG, "size %lld",
		     (long long)st.st_size);
	memset(dst, 0, BIG);
	off = 0;
	while (off < BIG) {
		r = weft_read(fd, dst + off, BIG - off, WEFT_OFF_CURRENT);
		cr_assert_gt(r, 0, "read at %zu returned %zd", off, r);
		off += (size_t)r;
	}
	for (off = 0; off < BIG; off++)
		cr_assert_eq(dst[off], src[off], "byte %zu differs", off);
	close_ok(fd);
	free(src);
	free(dst);
	return 0;
}

Test(io_file, a_4_mib_file_written_in_chunks_reads_back_intact)
{
	RUN_EACH(big_main);
}

/* ------------------------------------------------- many tasks, one file */

#define FILE_SZ (1u << 20)
#define READERS 64
#define READS 40

struct reader {
	int fd;
	uint64_t seed;
	int bad;	/* 0, or the first failure: -errno, or 1 for content */
	uint64_t bad_off;
};

static int reader_task(void *arg)
{
	struct reader *rd = arg;
	unsigned char *buf = malloc(8192);
	t_rng rng;
	int i;

	if (!buf)
		return -ENOMEM;
	t_rng_init(&rng, rd->seed);
	for (i = 0; i < READS && !rd->bad; i++) {
		uint64_t off = t_rand_below(&rng, FILE_SZ);
		size_t len = (size_t)t_rand_below(&rng, 8192) + 1;
		ssize_t r = read_full(rd->fd, buf, len, (off_t)off);
		size_t want = off + len > FILE_SZ ? FILE_SZ - off : len;

		if (r < 0) {
			rd->bad = (int)r;
		} else if ((size_t)r != want) {
			rd->bad = 2;
			rd->bad_off = off;
		} else {
			for (size_t k = 0; k < want; k++)
				if (buf[k] != fbyte(off + k)) {
					rd->bad = 1;
					rd->bad_off = off + k;
					break;
				}
		}
		if (i % 8 == 0)
			weft_yield();
	}
	free(buf);
	return 0;
}

static int readers_main(void *arg)
{
	struct dir *d = arg;
	static struct reader rd[READERS];
	weft_task *t[READERS];
	unsigned char *src = malloc(FILE_SZ);
	uint64_t seed = t_seed();
	char path[128];
	int fd, i;

	cr_assert_not_null(src);
	for (i = 0; i < (int)FILE_SZ; i++)
		src[i] = fbyte((uint64_t)i);
	dir_file(d, "shared", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	write_full(fd, src, FILE_SZ, 0);
	for (i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ .fd = fd, .seed = seed + (uint64_t)i };
		t[i] = weft_spawn(reader_task, &rd[i]);
		cr_assert_not_null(t[i], "spawn %d", i);
	}
	for (i = 0; i < READERS; i++) {
		cr_assert_eq(weft_join_timeout(t[i], 60 * SEC), 0, "reader %d",
			     i);
		cr_assert_eq(rd[i].bad, 0, "reader %d (seed %llu): %d at offset "
			     "%llu (1: wrong content, 2: short read, <0: "
			     "errno)", i, (unsigned long long)rd[i].seed,
			     rd[i].bad, (unsigned long long)rd[i].bad_off);
	}
	close_ok(fd);
	free(src);
	return 0;
}

Test(io_file, sixty_four_concurrent_readers_at_random_offsets_see_the_content)
{
	RUN_EACH(readers_main);
}

#define WRITERS 64
#define BLOCK 16384

struct writer {
	int fd;
	int id;
};

static int writer_task(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[1024];
	off_t base = (off_t)w->id * BLOCK;
	int k;

	/* Its own block, in 1 KiB pieces in reverse order. */
	for (k = BLOCK / 1024 - 1; k >= 0; k--) {
		off_t off = base + (off_t)k * 1024;
		size_t done = 0;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = fbyte((uint64_t)off + i);
		while (done < sizeof(buf)) {
			ssize_t r = weft_write(w->fd, buf + done,
					       sizeof(buf) - done,
					       off + (off_t)done);

			if (r <= 0)
				return r < 0 ? (int)r : -EIO;
			done += (size_t)r;
		}
	}
	return 0;
}

static int writers_main(void *arg)
{
	struct dir *d = arg;
	static struct writer wr[WRITERS];
	weft_task *t[WRITERS];
	unsigned char *got = malloc((size_t)WRITERS * BLOCK);
	char path[128];
	struct stat st;
	int fd, i;
	ssize_t r;

	cr_assert_not_null(got);
	dir_file(d, "writers", path, sizeof(path));
	fd = open_ok(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	for (i = 0; i < WRITERS; i++) {
		wr[i] = (struct writer){ fd, i };
		t[i] = weft_spawn(writer_task, &wr[i]);
		cr_assert_not_null(t[i], "spawn %d", i);
	}
	for (i = 0; i < WRITERS; i++) {
		r = weft_join_timeout(t[i], 60 * SEC);
		cr_assert_eq(r, 0, "writer %d returned %zd", i, r);
	}
	cr_assert_eq(weft_stat(path, &st), 0);
	cr_assert_eq(st.st_size, (off_t)WRITERS * BLOCK, "size %lld",
		     (long long)st.st_size);
	r = read_full(fd, got, (size_t)WRITERS * BLOCK, 0);
	cr_assert_eq(r, (ssize_t)WRITERS * BLOCK, "read back: %zd", r);
	for (size_t k = 0; k < (size_t)WRITERS * BLOCK; k++)
		cr_assert_eq(got[k], fbyte(k), "byte %zu differs", k);
	close_ok(fd);
	free(got);
	return 0;
}

Test(io_file, sixty_four_concurrent_writers_of_disjoint_blocks_build_the_whole_file)
{
	RUN_EACH(writers_main);
}

/* Many files open at once, each written, read back and closed. */
#define NFILES 100

static int file_task(void *arg)
{
	struct dir *d = ((void **)arg)[0];
	int id = (int)(intptr_t)((void **)arg)[1];
	char path[128], name[32], want[32], got[32];
	int fd;
	ssize_t n, r;

	snprintf(name, sizeof(name), "f%03d", id);
	dir_file(d, name, path, sizeof(path));
	n = snprintf(want, sizeof(want), "file number %d", id);
	fd = weft_open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0)
		return fd;
	r = weft_write(fd, want, (size_t)n, 0);
	if (r != n)
		return r < 0 ? (int)r : -EIO;
	r = weft_fsync(fd);
	if (r)
		return (int)r;
	r = weft_close(fd);
	if (r)
		return (int)r;
	fd = weft_open(path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	memset(got, 0, sizeof(got));
	r = weft_read(fd, got, sizeof(got), WEFT_OFF_CURRENT);
	weft_close(fd);
	if (r != n || memcmp(got, want, (size_t)n))
		return -EILSEQ;
	return 0;
}

static int many_files_main(void *arg)
{
	static void *args[NFILES][2];
	weft_task *t[NFILES];
	int i, r;

	for (i = 0; i < NFILES; i++) {
		args[i][0] = arg;
		args[i][1] = (void *)(intptr_t)i;
		t[i] = weft_spawn(file_task, args[i]);
		cr_assert_not_null(t[i], "spawn %d", i);
	}
	for (i = 0; i < NFILES; i++) {
		r = weft_join_timeout(t[i], 60 * SEC);
		cr_assert_eq(r, 0, "file task %d returned %d", i, r);
	}
	return 0;
}

Test(io_file, a_hundred_tasks_each_open_write_fsync_close_and_read_back_a_file)
{
	RUN_EACH(many_files_main);
}
