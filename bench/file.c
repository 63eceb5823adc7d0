/*
 * File workloads (WORKLOADS.md, "I/O workloads"), written as the Go peer's
 * fileRead and fileRand4k (peers/go/main.go): a fixed number of tasks,
 * each with its own buffer, issue one weft_read at a time.
 *
 * file_read: 64 KiB chunks, 32 tasks; each takes the next chunk index from
 * a shared atomic counter until every chunk of the file (--quick: of its
 * first tenth) is read.  Every read must return its full length.
 * file_rand4k: 64 tasks, 1,000,000 reads (--quick: 100,000) of 4 KiB at
 * 4 KiB-aligned offsets drawn from the workload LCG, seeded with the task
 * index + 1 as in every peer.  Every read must return 4 KiB.
 *
 * The file is --file F.  Without --file, a --quick run makes its own: a
 * 64 MiB file in $TMPDIR (else /tmp), unlinked as soon as it is open and
 * written before the runtime starts, so that meson's bench suite needs no
 * 1 GiB file; each 8-byte word of it holds a function of its own offset,
 * so each read's first and last words are also compared (content=checked).
 * A full-size run without --file reads the peers' default file,
 * /tmp/peers-1g.bin (peers/run.sh creates it).
 *
 * The timed region is the reads only: the file is open and the buffers
 * allocated before the clock starts.
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

#include "weft.h"

#include "bench.h"

#define CHUNK (64 << 10)	/* file_read: WORKLOADS.md */
#define READ_IN_FLIGHT 32
#define BS 4096			/* file_rand4k */
#define RAND_IN_FLIGHT 64
#define TEMP_SIZE ((int64_t)64 << 20)
#define DEFAULT_FILE "/tmp/peers-1g.bin"

struct file_bench {
	int fd;			/* opened before weft_run; main task closes */
	bool pattern;		/* the file is our temporary one */
	int64_t size;		/* file size */
	int64_t total;		/* file_read: bytes to read */
	int64_t n;		/* chunks or reads */
	_Atomic int64_t next;	/* the next chunk / read to claim */
	_Atomic int64_t got;	/* bytes (file_read) or reads done */
	_Atomic int64_t bad;	/* short or failed reads, wrong content */
	_Atomic int err;	/* first negative errno of a read */
	uint64_t wall_ns;
	uint64_t io_ops;
};

struct reader {
	struct file_bench *f;
	unsigned char *buf;
	uint64_t seed;		/* file_rand4k: LCG state */
};

/* The word the temporary file holds at byte offset off (a multiple of 8). */
static uint64_t pattern_word(uint64_t off)
{
	return (off + 1) * 0x9e3779b97f4a7c15u;
}

/* True if buf, read at off (8-aligned, len >= 8), holds the temporary
 * file's words in its first and its last whole word. */
static bool pattern_ok(const unsigned char *buf, int64_t off, size_t len)
{
	uint64_t last = ((uint64_t)off + len) / 8 * 8 - 8, a, b;

	memcpy(&a, buf, 8);
	memcpy(&b, buf + (last - (uint64_t)off), 8);
	return a == pattern_word((uint64_t)off) && b == pattern_word(last);
}

/* A temporary file of TEMP_SIZE bytes of pattern_word()s, already
 * unlinked: its descriptor, or -1 with a message. */
static int temp_file(void)
{
	static uint64_t block[(1 << 20) / 8];
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int64_t off;
	size_t i;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/weft-bench-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "weft-bench: mkstemp %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	unlink(path);
	for (off = 0; off < TEMP_SIZE; off += sizeof(block)) {
		for (i = 0; i < sizeof(block) / 8; i++)
			block[i] = pattern_word((uint64_t)off + i * 8);
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
			fprintf(stderr, "weft-bench: writing %s: %s\n", path,
				errno ? strerror(errno) : "short write");
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Open the file of o (see the head comment) into f: 0, or -1 with a
 * message.  Plain open(2): the runtime is not up yet. */
static int file_open(const struct bench_opts *o, struct file_bench *f)
{
	const char *path = o->file ? o->file : DEFAULT_FILE;
	struct stat st;

	if (!o->file && o->quick) {
		f->fd = temp_file();
		f->pattern = true;
		f->size = TEMP_SIZE;
		return f->fd < 0 ? -1 : 0;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0 || fstat(f->fd, &st) < 0) {
		fprintf(stderr, "weft-bench: open %s: %s\n", path,
			strerror(errno));
		if (f->fd >= 0)
			close(f->fd);
		return -1;
	}
	f->size = st.st_size;
	return 0;
}

static void read_failed(struct file_bench *f, ssize_t r)
{
	int zero = 0;

	atomic_fetch_add_explicit(&f->bad, 1, memory_order_relaxed);
	if (r < 0)
		atomic_compare_exchange_strong_explicit(&f->err, &zero, (int)r,
			memory_order_relaxed, memory_order_relaxed);
}

static int chunk_reader(void *arg)
{
	struct reader *rd = arg;
	struct file_bench *f = rd->f;
	int64_t c, off, want, got = 0;
	ssize_t r;

	for (;;) {
		c = atomic_fetch_add_explicit(&f->next, 1,
					      memory_order_relaxed);
		if (c >= f->n)
			break;
		off = c * CHUNK;
		want = f->total - off < CHUNK ? f->total - off : CHUNK;
		r = weft_read(f->fd, rd->buf, (size_t)want, off);
		if (r != want ||
		    (f->pattern && want >= 8 &&
		     !pattern_ok(rd->buf, off, (size_t)r)))
			read_failed(f, r);
		if (r > 0)
			got += r;
		if (r == -ECANCELED)
			break;
	}
	atomic_fetch_add_explicit(&f->got, got, memory_order_relaxed);
	return 0;
}

static int rand_reader(void *arg)
{
	struct reader *rd = arg;
	struct file_bench *f = rd->f;
	uint64_t blocks = (uint64_t)(f->size / BS), x = rd->seed;
	int64_t off, done = 0;
	ssize_t r;

	while (atomic_fetch_add_explicit(&f->next, 1, memory_order_relaxed) <
	       f->n) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		off = (int64_t)((x >> 33) % blocks) * BS;
		r = weft_read(f->fd, rd->buf, BS, off);
		if (r != BS || (f->pattern && !pattern_ok(rd->buf, off, BS)))
			read_failed(f, r);
		done++;
		if (r == -ECANCELED)
			break;
	}
	atomic_fetch_add_explicit(&f->got, done, memory_order_relaxed);
	return 0;
}

/* Run `tasks` copies of fn, each with a buffer of bufsize bytes; time them
 * from the first spawn to the last join. */
static int run_readers(struct file_bench *f, int (*fn)(void *), int tasks,
		       size_t bufsize)
{
	struct reader rd[RAND_IN_FLIGHT];
	weft_task *t[RAND_IN_FLIGHT];
	weft_stats st;
	uint64_t t0;
	int i, n, r = 0;

	for (i = 0; i < tasks; i++) {
		rd[i].f = f;
		rd[i].seed = (uint64_t)i + 1;
		rd[i].buf = malloc(bufsize);
		if (!rd[i].buf) {
			while (i-- > 0)
				free(rd[i].buf);
			return -ENOMEM;
		}
		memset(rd[i].buf, 0, bufsize);	/* fault it in, untimed */
	}
	t0 = bench_now_ns();
	for (n = 0; n < tasks; n++) {
		t[n] = weft_spawn(fn, &rd[n]);
		if (!t[n]) {
			r = -errno;
			break;
		}
	}
	for (i = 0; i < n; i++)
		weft_join(t[i]);
	f->wall_ns = bench_now_ns() - t0;
	if (weft_stats_get(NULL, &st) == 0)
		f->io_ops = st.io_ops;
	for (i = 0; i < tasks; i++)
		free(rd[i].buf);
	return r;
}

static int file_read_main(void *arg)
{
	struct file_bench *f = arg;
	int r = run_readers(f, chunk_reader, READ_IN_FLIGHT, CHUNK);

	weft_close(f->fd);
	return r;
}

static int file_rand4k_main(void *arg)
{
	struct file_bench *f = arg;
	int r = run_readers(f, rand_reader, RAND_IN_FLIGHT, BS);

	weft_close(f->fd);
	return r;
}

static void file_extra(struct bench_result *r, struct file_bench *f, int st)
{
	if (BENCH_LOAD(&f->bad))
		bench_extra(r, " bad_reads=%lld",
			    (long long)BENCH_LOAD(&f->bad));
	if (BENCH_LOAD(&f->err))
		bench_extra(r, " first_error=%s",
			    strerror(-BENCH_LOAD(&f->err)));
	if (st != 0)
		bench_extra(r, " status=%d", st);
	bench_extra(r, " io=weft_read io_ops=%llu%s",
		    (unsigned long long)f->io_ops,
		    f->pattern ? " file=temp_64MiB content=checked" : "");
}

int bench_file_read(const struct bench_opts *o)
{
	static struct file_bench f;
	struct bench_result r = { .name = "file_read" };
	int st;

	if (file_open(o, &f) < 0)
		return 2;	/* as the Go peer: no file, no line */
	f.total = o->quick ? f.size / 10 : f.size;
	f.n = (f.total + CHUNK - 1) / CHUNK;
	st = bench_run(o, file_read_main, &f);
	r.n = f.n;
	r.wall_ns = f.wall_ns;
	r.ok = st == 0 && !BENCH_LOAD(&f.bad) &&
	       BENCH_LOAD(&f.got) == f.total;
	if (r.ok && f.wall_ns)
		bench_extra(&r, " MiB_per_s=%.1f",
			    (double)f.total / (1 << 20) /
			    ((double)f.wall_ns / 1e9));
	bench_extra(&r, " bytes=%lld", (long long)BENCH_LOAD(&f.got));
	file_extra(&r, &f, st);
	return bench_report(&r);
}

int bench_file_rand4k(const struct bench_opts *o)
{
	static struct file_bench f;
	struct bench_result r = { .name = "file_rand4k" };
	int st;

	if (file_open(o, &f) < 0)
		return 2;
	if (f.size < BS) {
		fprintf(stderr, "weft-bench: file_rand4k: file under 4 KiB\n");
		close(f.fd);
		return 2;
	}
	f.n = bench_scale(o, 1000000);
	st = bench_run(o, file_rand4k_main, &f);
	r.n = f.n;
	r.wall_ns = f.wall_ns;
	r.ok = st == 0 && !BENCH_LOAD(&f.bad) && BENCH_LOAD(&f.got) == f.n;
	if (r.ok && f.wall_ns)
		bench_extra(&r, " reads_per_s=%.0f",
			    (double)f.n / ((double)f.wall_ns / 1e9));
	file_extra(&r, &f, st);
	return bench_report(&r);
}
