/*
 * cowcheck reproducer runtime: pasted into every generated program, before the
 * device mechanisms (devices.h) and the schedule.
 *
 * The schedule is a list of steps, each run by one executor: a thread of one of
 * the processes the trace names. Executors take turns through a counter in a
 * MAP_SHARED page, which fork() hands to the children as the same memory, so the
 * steps run in the trace's order whichever process or thread runs them. Between
 * two steps nothing else of the program runs.
 *
 * The generated part defines, before this file is included:
 *   REPRO_NAME, REPRO_NSTEPS, REPRO_NPROCS, REPRO_NVPAGES, REPRO_CELLS
 * and after it: run_step(), setup(), the executors and the verdict table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
/* Cells are 512-byte sectors of a page, as the model draws them (vaddr+0, vaddr+512). */
#define CELL 512
#define STEP_TIMEOUT_S 20

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

enum verdict { V_HOLDS, V_MISSED, V_WRONG, V_SKIPPED, V_ERROR };
static const char *const verdict_name[] = {"holds", "missed-cow", "wrong-cow", "skipped", "error"};
static const int verdict_exit[] = {0, 1, 1, 77, 2};

struct shared {
	volatile int turn;
	volatile int abort_claimed; /* the first abort's: it alone writes verdict and detail */
	volatile int aborted;       /* set once verdict and detail are written */
	volatile int finished;      /* one thread prints the result */
	volatile int ready[REPRO_NPROCS]; /* a forked child has set up its executors */
	volatile int verdict;
	volatile int observed_set;
	volatile uint64_t observed;
	volatile int swapouts_refused;
	volatile int token; /* the token the final read returned, -1: none */
	volatile pid_t pids[REPRO_NPROCS];
	char detail[512];
	char notes[1024];
};

static struct shared *sh;
static char *area;      /* the mm under test: REPRO_NVPAGES private anonymous pages */
static char *lru_dummy; /* a page of our own, to drain the per-CPU LRU batches through */
static int my_proc;     /* the model's process number of this process */

static uint64_t repro_token(int t)
{
	return t == 0 ? 0 : (0x636F776368000000ull | (uint64_t)t);
}

static char *page_addr(int v)
{
	return area + (size_t)v * PAGE;
}

static volatile uint64_t *cell_addr(int v, int c)
{
	return (volatile uint64_t *)(area + (size_t)v * PAGE + (size_t)c * CELL);
}


static void kill_children(void)
{
	for (int p = 1; p < REPRO_NPROCS; p++)
		if (sh->pids[p] > 0)
			kill(sh->pids[p], SIGKILL);
}

/* One result line, from process 0, then exit: the conformance harness reads it. */
static void __attribute__((noreturn)) finish(void)
{
	if (!__sync_bool_compare_and_swap(&sh->finished, 0, 1))
		for (;;)
			pause(); /* another thread prints and exits the process */
	int v = sh->verdict;
	kill_children();
	printf("COWCHECK-RESULT %s observed=%s token=%d", REPRO_NAME, verdict_name[v], sh->token);
	if (sh->swapouts_refused)
		printf(" swapouts-refused=%d", sh->swapouts_refused);
	printf(" detail=\"%s\"\n", sh->detail);
	fflush(stdout);
	_exit(verdict_exit[v]);
}

/* The first abort wins; process 0 reports it, any other process just leaves. */
static void __attribute__((noreturn)) abort_with(int v, const char *fmt, va_list ap)
{
	if (__sync_bool_compare_and_swap(&sh->abort_claimed, 0, 1)) {
		sh->verdict = v;
		vsnprintf(sh->detail, sizeof(sh->detail), fmt, ap);
		__sync_synchronize();
		sh->aborted = 1;
	} else {
		while (!sh->aborted)
			sched_yield();
	}
	syscall(SYS_futex, &sh->turn, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	if (my_proc == 0)
		finish();
	_exit(0);
}

static void __attribute__((noreturn, format(printf, 1, 2))) repro_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	abort_with(V_SKIPPED, fmt, ap);
}

static void __attribute__((noreturn, format(printf, 1, 2))) repro_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	abort_with(V_ERROR, fmt, ap);
}

static void __attribute__((format(printf, 1, 2))) repro_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("COWCHECK-NOTE %s P%d: ", REPRO_NAME, my_proc);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

/* (major, minor) of the running kernel, for the notes on what it takes. */
static int kernel_version(void)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) == 0)
		sscanf(u.release, "%d.%d", &major, &minor);
	return major * 1000 + minor;
}

/* Wait until step k's turn; a step that takes more than STEP_TIMEOUT_S is an error. */
static void wait_turn(int k)
{
	struct timespec start = {0, 0}, now, tick = {1, 0};
	int seen = -1;
	for (;;) {
		int t = sh->turn;
		if (sh->aborted) {
			if (my_proc == 0)
				finish();
			_exit(0);
		}
		if (t == k)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (t != seen) {
			seen = t;
			start = now;
		}
		if (now.tv_sec - start.tv_sec > STEP_TIMEOUT_S)
			repro_error("step %d never came: step %d did not end in %d s", k + 1, t + 1, STEP_TIMEOUT_S);
		syscall(SYS_futex, &sh->turn, FUTEX_WAIT, t, &tick, NULL, 0);
	}
}

/*
 * A process of the model lives until the run ends unless a step ends it: a child
 * with no steps of its own still maps its pages (its mapcount and references are
 * what fork's and do_wp_page()'s decisions read). It leaves early only when the
 * process that forked it is gone.
 */
static void wait_end(pid_t parent)
{
	struct timespec tick = {1, 0};
	for (;;) {
		int t = sh->turn;
		if (t >= REPRO_NSTEPS || sh->aborted || getppid() != parent)
			return;
		syscall(SYS_futex, &sh->turn, FUTEX_WAIT, t, &tick, NULL, 0);
	}
}

static void advance(int k)
{
	__sync_synchronize();
	sh->turn = k + 1;
	syscall(SYS_futex, &sh->turn, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/*
 * A page the kernel just faulted in or copied sits in a per-CPU LRU batch, which
 * holds a reference: page_count() is one more than the model's until the batch is
 * drained. Every process runs on CPU 0 only, and madvise(MADV_COLD) calls
 * lru_add_drain() for the current CPU, so after each step the reference counts
 * are the model's again. (Which batch a page is in is outside the model.)
 */
static void drain_lru(void)
{
	if (madvise(lru_dummy, PAGE, MADV_COLD))
		repro_skip("madvise(MADV_COLD): %s: cannot drain the LRU batches (a kernel before 5.4)", strerror(errno));
}

static void run_step(int k);
static void process_init(int p);

struct executor {
	int proc;
	const char *name;
	int nsteps;
	const int *steps;
};

extern const struct executor executors[];
extern const int nexecutors;

static void *executor_main(void *arg)
{
	const struct executor *e = arg;
	for (int i = 0; i < e->nsteps; i++) {
		int k = e->steps[i];
		wait_turn(k);
		run_step(k);
		drain_lru();
		advance(k);
	}
	return NULL;
}

#define MAX_THREADS 64
static pthread_t threads[MAX_THREADS];

/* Start the executors of process p; returns how many threads it started. */
static int start_executors(int p)
{
	int n = 0;
	for (int i = 0; i < nexecutors; i++) {
		if (executors[i].proc != p)
			continue;
		if (n == MAX_THREADS)
			repro_error("more than %d executors in process %d", MAX_THREADS, p);
		int e = pthread_create(&threads[n], NULL, executor_main, (void *)&executors[i]);
		if (e)
			repro_error("pthread_create: %s", strerror(e));
		n++;
	}
	return n;
}

/* fork(): the child becomes model process `child` and runs its own executors. */
static void do_fork(int child)
{
	pid_t parent = getpid();
	fflush(stdout);
	pid_t c = fork();
	if (c < 0)
		repro_error("fork: %s", strerror(errno));
	if (c == 0) {
		my_proc = child;
		process_init(child);
		int n = start_executors(child);
		sh->ready[child] = 1;
		syscall(SYS_futex, &sh->ready[child], FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
		for (int i = 0; i < n; i++)
			pthread_join(threads[i], NULL);
		wait_end(parent);
		_exit(0);
	}
	sh->pids[child] = c;
	/* The child's set-up (its mechanisms, its threads) is part of fork's step:
	 * the next step starts only once it is done. */
	struct timespec tick = {1, 0}, start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!sh->ready[child] && !sh->aborted) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > STEP_TIMEOUT_S)
			repro_error("the child P%d did not start in %d s", child, STEP_TIMEOUT_S);
		syscall(SYS_futex, &sh->ready[child], FUTEX_WAIT, 0, &tick, NULL, 0);
	}
}

static void write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		repro_skip("open %s: %s", path, strerror(errno));
	if (write(fd, text, strlen(text)) < 0)
		repro_skip("write %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- vmsplice: FOLL_GET, read-only, held by a pipe buffer ---- */
#define MAX_PIPES 4
static int pipes[MAX_PIPES][2];

static void vmsplice_setup(int ref)
{
	if (pipe(pipes[ref]))
		repro_error("pipe: %s", strerror(errno));
}

static void vmsplice_take(int ref, void *addr)
{
	struct iovec iov = {addr, PAGE};
	ssize_t n = vmsplice(pipes[ref][1], &iov, 1, 0);
	if (n != PAGE)
		repro_error("vmsplice: %zd: %s", n, strerror(errno));
}

/*
 * The device reading the pipe: tee() duplicates the pipe buffer (and its page
 * reference) into a scratch pipe, which is read, so that the reference the model
 * still holds stays in the first pipe. A plain read() would drop it.
 */
static uint64_t vmsplice_device_read(int ref, size_t off)
{
	int scratch[2];
	static char buf[PAGE];
	uint64_t v;
	if (pipe(scratch))
		repro_error("pipe: %s", strerror(errno));
	ssize_t n = tee(pipes[ref][0], scratch[1], PAGE, SPLICE_F_NONBLOCK);
	if (n != PAGE)
		repro_error("tee: %zd: %s", n, strerror(errno));
	if (read(scratch[0], buf, PAGE) != PAGE)
		repro_error("read(pipe): %s", strerror(errno));
	close(scratch[0]);
	close(scratch[1]);
	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static void vmsplice_release(int ref)
{
	static char buf[PAGE];
	if (fcntl(pipes[ref][0], F_SETFL, O_NONBLOCK) || read(pipes[ref][0], buf, PAGE) != PAGE)
		repro_error("read(pipe): %s", strerror(errno));
}

/* ---- the observation at the end, judged by the verdict table ---- */
struct verdict_entry {
	int token;
	int verdict;
};

static void observe(uint64_t value)
{
	sh->observed = value;
	sh->observed_set = 1;
}

static int judge(const struct verdict_entry *table, int n, uint64_t value, int *token)
{
	for (int i = 0; i < n; i++) {
		if (repro_token(table[i].token) == value) {
			*token = table[i].token;
			return table[i].verdict;
		}
	}
	*token = -1;
	return V_ERROR;
}

/*
 * A file-backed vpage: a one-page file holding the model's tokens for the file's
 * data, mapped over page v. shmem: a memfd (a tmpfs file); otherwise an unnamed
 * regular file in /tmp (O_TMPFILE: in the conformance VM that is the initramfs,
 * whose pages are not anonymous either, which is all a private mapping sees).
 */
static void map_file(int v, int shmem, int shared, int writable, const uint64_t *data, int ncells)
{
	static char page[PAGE];
	int fd = shmem ? (int)syscall(SYS_memfd_create, "cowcheck", 0) : open("/tmp", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0)
		repro_error("%s: %s", shmem ? "memfd_create" : "open(O_TMPFILE)", strerror(errno));
	memset(page, 0, sizeof(page));
	for (int c = 0; c < ncells; c++)
		memcpy(page + (size_t)c * CELL, &data[c], sizeof(data[c]));
	if (pwrite(fd, page, PAGE, 0) != PAGE)
		repro_error("pwrite: %s", strerror(errno));
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	if (mmap(page_addr(v), PAGE, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, 0) == MAP_FAILED)
		repro_error("mmap of the file: %s", strerror(errno));
	close(fd); /* the mapping keeps the file */
}

static void setup(void);
static void repro_main_init(void)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		repro_error("sched_setaffinity: %s", strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("COWCHECK-RESULT %s observed=error token=-1 detail=\"mmap: %s\"\n", REPRO_NAME, strerror(errno));
		exit(2);
	}
	sh->token = -1;
	lru_dummy = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	area = mmap(NULL, (size_t)REPRO_NVPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (lru_dummy == MAP_FAILED || area == MAP_FAILED)
		repro_error("mmap: %s", strerror(errno));
	lru_dummy[0] = 1;
	/* Order-0 pages only: the model has no THP (6.1 and 6.12 default to "always"). */
	if (madvise(area, (size_t)REPRO_NVPAGES * PAGE, MADV_NOHUGEPAGE))
		repro_error("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
}
