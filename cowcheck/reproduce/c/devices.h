/*
 * cowcheck reproducer devices: the user-space ends of the GUP references and
 * device accesses a schedule needs. Pasted into the generated program after
 * runtime.h (which defines _GNU_SOURCE before any system header), so it uses no
 * other project header and relies only on these, defined before it:
 *
 *   repro_skip()   this kernel or machine cannot run the schedule (noreturn)
 *   repro_error()  setup failed unexpectedly (noreturn)
 *   repro_note()   an informational line
 *   repro_token(t) the 8-byte token t (0 for t == 0)
 *
 * Build: gcc -std=gnu11 -O1 -Wall -Wextra -Werror -static ... -luring -lpthread
 *
 * Every function is static and marked unused: a schedule calls only the
 * mechanisms it needs. Each mechanism belongs to the process that initialised
 * it (an AIO context, a VFIO container mapping and the io_uring registration
 * are tied to that process's mm).
 *
 * Kernel paths below were read in the sources of Linux 5.10.13 and 5.10.198
 * (Debian's 5.10 is a later 5.10.y), Debian's 6.1.192 (linux-source-6.1) and
 * Debian's 6.12.118 (linux-source-6.12), and for the block layer's FOLL_GET ->
 * FOLL_PIN switch in 6.2.12, 6.3.8, 6.4.6 and 6.5.0. All four mechanisms were
 * run on Debian's 5.10.0-46 (5.10.262), 6.1.0-50 and 6.12.113 under QEMU 7.2.
 * "gup-fast" below means: get_user_pages_fast() / pin_user_pages_fast(), which
 * walk the page tables locklessly first and fall back to slow GUP (a fault,
 * e.g. a COW or unshare fault, under mmap_lock) for the pages gup-fast could
 * not take, e.g. a PTE that is not writable for a FOLL_WRITE request.
 */
#ifndef COWCHECK_DEVICES_H
#define COWCHECK_DEVICES_H

#ifndef _GNU_SOURCE
#error "devices.h needs _GNU_SOURCE defined before the first system header"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/aio_abi.h>
#include <linux/vfio.h>
#include <liburing.h>

#define DEV_FN static __attribute__((unused))
#define DEV_PAGE 4096u

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef BLKGETSIZE64
#define BLKGETSIZE64 _IOR(0x12, 114, size_t)
#endif

/* Monotonic time in nanoseconds. */
static int64_t dev_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void dev_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void dev_fill_token(void *buf, size_t len, int token)
{
	uint64_t v = repro_token(token);
	for (size_t i = 0; i + sizeof(v) <= len; i += sizeof(v))
		memcpy((char *)buf + i, &v, sizeof(v));
}

/* ======================================================================
 * 1. O_DIRECT read in flight: GUP with FOLL_WRITE, short-term.
 *
 * Linux AIO (raw io_setup/io_submit/io_getevents) on the raw data disk
 * (env COWCHECK_DATA_DISK, default /dev/vdb), opened O_RDONLY|O_DIRECT. The
 * disk's block t (4096 bytes at t * 4096) holds repro_token(t) repeated.
 *
 * Kernel path, all inside io_submit(): io_submit_one() -> __io_submit_one()
 * -> aio_read() -> file->f_op->read_iter = blkdev_read_iter() -> (IOCB_DIRECT)
 *   5.10: generic_file_read_iter() -> a_ops->direct_IO = blkdev_direct_IO()
 *         -> __blkdev_direct_IO() (an AIO kiocb is not sync)
 *   6.1, 6.12: blkdev_direct_IO() -> __blkdev_direct_IO_async() (one bio,
 *         at most BIO_MAX_VECS pages)
 * -> bio_iov_iter_get_pages() -> __bio_iov_iter_get_pages(), then submit_bio(),
 * and the call returns -EIOCBQUEUED: the page references are taken before
 * io_submit() returns; the data lands and the references go at completion
 * (blkdev_bio_end_io{,_async}() -> bio_check_pages_dirty()/bio_release_pages()).
 *   5.10: iov_iter_get_pages() -> get_user_pages_fast(FOLL_WRITE), which adds
 *         FOLL_GET: a FOLL_GET|FOLL_WRITE reference, gup-fast.
 *   6.1:  iov_iter_get_pages2() -> __iov_iter_get_pages_alloc() ->
 *         get_user_pages_fast(FOLL_WRITE): FOLL_GET|FOLL_WRITE, gup-fast;
 *         released by __bio_release_pages() -> folio_put_refs().
 *   6.12: iov_iter_extract_pages() -> iov_iter_extract_user_pages() ->
 *         pin_user_pages_fast(FOLL_WRITE): FOLL_PIN|FOLL_WRITE, gup-fast;
 *         the bio is BIO_PAGE_PINNED and released with unpin_user_page().
 * The block layer switched from FOLL_GET to FOLL_PIN in 6.5, not 6.2 (David
 * Howells' conversion of __bio_iov_iter_get_pages() to iov_iter_extract_pages(),
 * which appeared in 6.3): 6.2.12, 6.3.8 and 6.4.6 still call
 * iov_iter_get_pages() -> get_user_pages_fast(); 6.5.0 calls
 * iov_iter_extract_pages() and sets BIO_PAGE_PINNED.
 *
 * The data disk sits behind a QEMU throttle filter, which delays a request
 * before its data is copied into guest memory. A priming read fills the
 * throttle's bucket so that the next read waits in QEMU: it stays in flight
 * (pages referenced, data not yet written) for the length of the throttle
 * delay. odirect_init() primes, and odirect_submit() primes again when no
 * read is in flight and the throttle last let a read through (the priming
 * read, or a read odirect_wait() saw complete) more than 20 ms ago, so the
 * window does not depend on how long the schedule took since init. (Priming
 * blocks while the throttle is still full: up to its delay.)
 * ====================================================================== */

#define ODIRECT_SLOTS 4
#define ODIRECT_PRIME_DEFAULT (64u * 1024)
#define ODIRECT_REPRIME_NS (20 * 1000000LL)
#define ODIRECT_TIMEOUT_S 10

struct dev_odirect_slot {
	int busy;      /* submitted and not yet waited for */
	int done;      /* its completion event has been reaped */
	size_t len;
	int64_t res;
	struct iocb cb;
};

static int dev_odirect_fd = -1;
static aio_context_t dev_odirect_ctx;
static uint64_t dev_odirect_size;
static char *dev_odirect_prime_buf;
static size_t dev_odirect_prime_len;
static int64_t dev_odirect_primed_at; /* when the throttle last let a read through, as far as we saw */
static struct dev_odirect_slot dev_odirect[ODIRECT_SLOTS];

static const char *dev_odirect_path(void)
{
	const char *p = getenv("COWCHECK_DATA_DISK");
	return p && *p ? p : "/dev/vdb";
}

/* One synchronous O_DIRECT read of the first prime_len bytes of the disk. */
static void dev_odirect_prime(void)
{
	ssize_t n = pread(dev_odirect_fd, dev_odirect_prime_buf, dev_odirect_prime_len, 0);
	if (n != (ssize_t)dev_odirect_prime_len)
		repro_error("priming O_DIRECT read of %s: %zd of %zu bytes: %s", dev_odirect_path(), n,
			    dev_odirect_prime_len, n < 0 ? strerror(errno) : "short read");
	dev_odirect_primed_at = dev_now_ns();
}

/* Reap completion events: at least min_nr, waiting at most *timeout (NULL: forever). */
static int dev_odirect_reap(long min_nr, struct timespec *timeout)
{
	struct io_event ev[ODIRECT_SLOTS];
	long n;
	do
		n = syscall(SYS_io_getevents, dev_odirect_ctx, min_nr, (long)ODIRECT_SLOTS, ev, timeout);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		repro_error("io_getevents: %s", strerror(errno));
	for (long i = 0; i < n; i++) {
		uint64_t slot = ev[i].data - 1;
		if (slot >= ODIRECT_SLOTS || !dev_odirect[slot].busy)
			repro_error("io_getevents: an event for no read in flight (data %llu)",
				    (unsigned long long)ev[i].data);
		dev_odirect[slot].done = 1;
		dev_odirect[slot].res = ev[i].res;
	}
	return (int)n;
}

static void dev_odirect_check_slot(int slot, const char *who)
{
	if (dev_odirect_fd < 0)
		repro_error("%s: odirect_init() was not called", who);
	if (slot < 0 || slot >= ODIRECT_SLOTS)
		repro_error("%s: slot %d out of range", who, slot);
}

DEV_FN void odirect_init(void)
{
	const char *path = dev_odirect_path();
	struct stat st;
	if (dev_odirect_fd >= 0)
		return;
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV || errno == EINVAL)
			repro_skip("no data disk for O_DIRECT reads: open %s: %s", path, strerror(errno));
		repro_error("open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st))
		repro_error("fstat %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &dev_odirect_size))
			repro_error("BLKGETSIZE64 %s: %s", path, strerror(errno));
	} else {
		dev_odirect_size = (uint64_t)st.st_size;
	}
	if (dev_odirect_size < 2 * DEV_PAGE)
		repro_error("data disk %s holds %" PRIu64 " bytes: too small", path, dev_odirect_size);
	dev_odirect_fd = fd;

	if (syscall(SYS_io_setup, 2 * ODIRECT_SLOTS, &dev_odirect_ctx)) {
		if (errno == ENOSYS)
			repro_skip("io_setup: %s (a kernel without CONFIG_AIO)", strerror(errno));
		repro_error("io_setup: %s", strerror(errno));
	}

	/* The priming buffer: our own pages, never the children's. */
	const char *env = getenv("COWCHECK_PRIME_BYTES");
	size_t prime = env && *env ? (size_t)strtoull(env, NULL, 0) : ODIRECT_PRIME_DEFAULT;
	prime = (prime + DEV_PAGE - 1) / DEV_PAGE * DEV_PAGE;
	if (prime < DEV_PAGE)
		prime = DEV_PAGE;
	if (prime > dev_odirect_size / DEV_PAGE * DEV_PAGE)
		prime = dev_odirect_size / DEV_PAGE * DEV_PAGE;
	dev_odirect_prime_len = prime;
	dev_odirect_prime_buf = mmap(NULL, prime, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dev_odirect_prime_buf == MAP_FAILED)
		repro_error("mmap: %s", strerror(errno));
	madvise(dev_odirect_prime_buf, prime, MADV_DONTFORK);
	memset(dev_odirect_prime_buf, 0xa5, prime);
	dev_odirect_prime();

	/* The priming read saw the first blocks: check that this is the data disk. */
	for (size_t t = 0; t < prime / DEV_PAGE; t++) {
		uint64_t v;
		memcpy(&v, dev_odirect_prime_buf + t * DEV_PAGE, sizeof(v));
		if (v != repro_token((int)t))
			repro_error("data disk %s: block %zu starts with %#" PRIx64 ", not token %zu", path, t, v, t);
	}
}

/*
 * Submit an O_DIRECT read of len bytes (a multiple of 512, at most 4096) of
 * block `token` into buf (512-aligned). On return the kernel holds its page
 * references (taken inside io_submit(), see above); the data is written at
 * completion.
 */
DEV_FN void odirect_submit(int slot, void *buf, size_t len, int token)
{
	dev_odirect_check_slot(slot, "odirect_submit");
	if (dev_odirect[slot].busy)
		repro_error("odirect_submit: slot %d already has a read in flight", slot);
	if (len == 0 || len % 512 || len > DEV_PAGE || (uintptr_t)buf % 512)
		repro_error("odirect_submit: buffer %p, %zu bytes: not 512-aligned or over 4096", buf, len);
	if (token < 0 || (uint64_t)token * DEV_PAGE + len > dev_odirect_size)
		repro_error("odirect_submit: block %d is beyond the data disk", token);

	/* Re-prime unless a read ahead of this one already keeps the throttle busy. */
	struct timespec zero = {0, 0};
	dev_odirect_reap(0, &zero);
	int pending = 0;
	for (int s = 0; s < ODIRECT_SLOTS; s++)
		pending |= dev_odirect[s].busy && !dev_odirect[s].done;
	if (!pending && dev_now_ns() - dev_odirect_primed_at > ODIRECT_REPRIME_NS)
		dev_odirect_prime();

	struct dev_odirect_slot *sl = &dev_odirect[slot];
	struct iocb *cbp = &sl->cb;
	memset(&sl->cb, 0, sizeof(sl->cb));
	sl->cb.aio_data = (uint64_t)slot + 1;
	sl->cb.aio_lio_opcode = IOCB_CMD_PREAD;
	sl->cb.aio_fildes = (uint32_t)dev_odirect_fd;
	sl->cb.aio_buf = (uint64_t)(uintptr_t)buf;
	sl->cb.aio_nbytes = len;
	sl->cb.aio_offset = (int64_t)token * DEV_PAGE;
	sl->len = len;
	sl->done = 0;
	sl->res = 0;
	sl->busy = 1;
	long n = syscall(SYS_io_submit, dev_odirect_ctx, 1L, &cbp);
	if (n != 1) {
		sl->busy = 0;
		repro_error("io_submit: %ld: %s", n, n < 0 ? strerror(errno) : "not submitted");
	}
}

/* Nonzero if the read in `slot` has already completed (its data has landed). */
DEV_FN int odirect_completed(int slot)
{
	struct timespec zero = {0, 0};
	dev_odirect_check_slot(slot, "odirect_completed");
	if (!dev_odirect[slot].busy)
		repro_error("odirect_completed: slot %d has no read in flight", slot);
	if (!dev_odirect[slot].done)
		dev_odirect_reap(0, &zero);
	return dev_odirect[slot].done;
}

/* Wait for the read in `slot` to complete (at most 10 s) and check its length. */
DEV_FN void odirect_wait(int slot)
{
	dev_odirect_check_slot(slot, "odirect_wait");
	struct dev_odirect_slot *sl = &dev_odirect[slot];
	if (!sl->busy)
		repro_error("odirect_wait: slot %d has no read in flight", slot);
	int64_t deadline = dev_now_ns() + (int64_t)ODIRECT_TIMEOUT_S * 1000000000;
	while (!sl->done) {
		int64_t left = deadline - dev_now_ns();
		if (left <= 0)
			repro_error("O_DIRECT read in slot %d did not complete in %d s", slot, ODIRECT_TIMEOUT_S);
		struct timespec ts = {left / 1000000000, left % 1000000000};
		dev_odirect_reap(1, &ts);
		if (sl->done) /* it completed while we waited: the throttle just let it through */
			dev_odirect_primed_at = dev_now_ns();
	}
	sl->busy = 0;
	sl->done = 0;
	/*
	 * The completion event is posted (ki_complete()) before the bio's pages are
	 * released (bio_release_pages() / bio_check_pages_dirty() in the same
	 * end_io path, possibly on the other vCPU): let it finish, so that the
	 * reference is gone before the next step, as the model's release says.
	 */
	dev_sleep_ms(20);
	if (sl->res != (int64_t)sl->len)
		repro_error("O_DIRECT read in slot %d: result %" PRId64 " (%s), expected %zu", slot, sl->res,
			    sl->res < 0 ? strerror((int)-sl->res) : "short", sl->len);
}

/* ======================================================================
 * 2. io_uring fixed buffers: FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM.
 *
 * io_uring_register(IORING_REGISTER_BUFFERS) -> __io_uring_register():
 *   5.10: io_sqe_buffer_register() -> pin_user_pages(FOLL_WRITE |
 *         FOLL_LONGTERM) under mmap_read_lock: slow GUP. (fs/io_uring.c in
 *         5.10.13; io_uring/io_uring.c, via io_sqe_buffers_register(), after
 *         5.10.y's backport of 5.15's io_uring, as in 5.10.198.)
 *   6.1:  io_sqe_buffers_register() -> io_sqe_buffer_register() ->
 *         io_pin_pages() (io_uring/rsrc.c) -> pin_user_pages(FOLL_WRITE |
 *         FOLL_LONGTERM) under mmap_read_lock: slow GUP.
 *   6.12: io_sqe_buffers_register() -> io_sqe_buffer_register() ->
 *         io_pin_pages() (io_uring/memmap.c) -> pin_user_pages_fast(
 *         FOLL_WRITE | FOLL_LONGTERM): gup-fast.
 * The pages go into a bvec table (io_mapped_ubuf); IORING_OP_{READ,WRITE}_FIXED
 * use that table, not the page tables: the "device" reads (WRITE_FIXED: the
 * buffer is written to a file) and writes (READ_FIXED: the buffer is filled
 * from a file) the pinned pages. IORING_UNREGISTER_BUFFERS unpins them:
 *   5.10.13: io_sqe_buffer_unregister() -> unpin_user_page();
 *   5.10.198, 6.1, 6.12: io_sqe_buffers_unregister() -> io_rsrc_ref_quiesce(),
 *         then io_buffer_unmap() -> unpin_user_page() / unpin_user_folio().
 * The file is a memfd (or an unlinked file in /tmp): bytes [0, len) receive the
 * device reads; bytes from 1 MiB on are the source of the device writes.
 * ====================================================================== */

#define URING_SRC_OFF (1u << 20)

static struct io_uring dev_uring;
static int dev_uring_ready;
static int dev_uring_fd = -1;
static char *dev_uring_buf;
static size_t dev_uring_len;

DEV_FN void uring_init(void)
{
	if (dev_uring_ready)
		return;
	int ret = io_uring_queue_init(8, &dev_uring, 0);
	if (ret < 0) {
		if (ret == -ENOSYS || ret == -EPERM)
			repro_skip("io_uring_setup: %s", strerror(-ret));
		repro_error("io_uring_setup: %s", strerror(-ret));
	}
	int fd = (int)syscall(SYS_memfd_create, "cowcheck-uring", 0);
	if (fd < 0) {
		char path[] = "/tmp/cowcheck-uring-XXXXXX";
		fd = mkstemp(path);
		if (fd < 0)
			repro_error("memfd_create and mkstemp: %s", strerror(errno));
		unlink(path);
	}
	if (ftruncate(fd, URING_SRC_OFF + URING_SRC_OFF))
		repro_error("ftruncate: %s", strerror(errno));
	dev_uring_fd = fd;
	dev_uring_ready = 1;
}

/* Register [buf, buf + len) as fixed buffer 0: the kernel pins its pages. */
DEV_FN void uring_register(void *buf, size_t len)
{
	struct iovec iov = {buf, len};
	if (!dev_uring_ready)
		repro_error("uring_register: uring_init() was not called");
	if (dev_uring_buf)
		repro_error("uring_register: a buffer is already registered");
	if (len == 0 || len > URING_SRC_OFF)
		repro_error("uring_register: %zu bytes: 0 or over 1 MiB", len);
	int ret = io_uring_register_buffers(&dev_uring, &iov, 1);
	if (ret < 0)
		repro_error("IORING_REGISTER_BUFFERS: %s", strerror(-ret));
	dev_uring_buf = buf;
	dev_uring_len = len;
}

/* Submit one prepared SQE and wait for its completion; returns cqe->res. */
static int dev_uring_run(const char *what)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_submit(&dev_uring);
	if (ret != 1)
		repro_error("io_uring_submit (%s): %s", what, ret < 0 ? strerror(-ret) : "nothing submitted");
	do
		ret = io_uring_wait_cqe(&dev_uring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		repro_error("io_uring_wait_cqe (%s): %s", what, strerror(-ret));
	int res = cqe->res;
	io_uring_cqe_seen(&dev_uring, cqe);
	return res;
}

static struct io_uring_sqe *dev_uring_sqe(const char *who, size_t off, size_t len)
{
	if (!dev_uring_buf)
		repro_error("%s: no buffer registered", who);
	if (len < sizeof(uint64_t) || off > dev_uring_len || len > dev_uring_len - off)
		repro_error("%s: [%zu, +%zu) is not inside the %zu-byte fixed buffer", who, off, len, dev_uring_len);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&dev_uring);
	if (!sqe)
		repro_error("%s: no free SQE", who);
	return sqe;
}

/*
 * The device reads [buf + off, len): IORING_OP_WRITE_FIXED of it into the file,
 * then the file is read back. Returns the first 8 bytes the device read.
 */
DEV_FN uint64_t uring_device_read(size_t off, size_t len)
{
	static const uint64_t poison = 0xdeadbeefdeadbeefull;
	uint64_t v;
	struct io_uring_sqe *sqe = dev_uring_sqe("uring_device_read", off, len);
	if (pwrite(dev_uring_fd, &poison, sizeof(poison), 0) != sizeof(poison))
		repro_error("pwrite: %s", strerror(errno));
	io_uring_prep_write_fixed(sqe, dev_uring_fd, dev_uring_buf + off, (unsigned)len, 0, 0);
	int res = dev_uring_run("WRITE_FIXED");
	if (res != (int)len)
		repro_error("IORING_OP_WRITE_FIXED: %d (%s), expected %zu", res, res < 0 ? strerror(-res) : "short",
			    len);
	if (pread(dev_uring_fd, &v, sizeof(v), 0) != sizeof(v))
		repro_error("pread: %s", strerror(errno));
	return v;
}

/* The device writes repro_token(token) over [buf + off, len): IORING_OP_READ_FIXED. */
DEV_FN void uring_device_write(size_t off, size_t len, int token)
{
	static char src[DEV_PAGE];
	struct io_uring_sqe *sqe = dev_uring_sqe("uring_device_write", off, len);
	dev_fill_token(src, sizeof(src), token);
	for (size_t done = 0; done < len; done += sizeof(src)) {
		size_t n = len - done < sizeof(src) ? len - done : sizeof(src);
		if (pwrite(dev_uring_fd, src, n, (off_t)(URING_SRC_OFF + done)) != (ssize_t)n)
			repro_error("pwrite: %s", strerror(errno));
	}
	io_uring_prep_read_fixed(sqe, dev_uring_fd, dev_uring_buf + off, (unsigned)len, URING_SRC_OFF, 0);
	int res = dev_uring_run("READ_FIXED");
	if (res != (int)len)
		repro_error("IORING_OP_READ_FIXED: %d (%s), expected %zu", res, res < 0 ? strerror(-res) : "short",
			    len);
}

/* IORING_UNREGISTER_BUFFERS: the kernel unpins the pages. */
DEV_FN void uring_unregister(void)
{
	if (!dev_uring_buf)
		repro_error("uring_unregister: no buffer registered");
	int ret = io_uring_unregister_buffers(&dev_uring);
	if (ret < 0)
		repro_error("IORING_UNREGISTER_BUFFERS: %s", strerror(-ret));
	dev_uring_buf = NULL;
	dev_uring_len = 0;
}

/* ======================================================================
 * 3. vfio + QEMU's edu device behind the emulated Intel IOMMU:
 *    R/O FOLL_PIN|FOLL_LONGTERM.
 *
 * VFIO_IOMMU_MAP_DMA with VFIO_DMA_MAP_FLAG_READ only (prot = IOMMU_READ):
 * vfio_iommu_type1_ioctl() -> vfio_iommu_type1_map_dma() -> vfio_dma_do_map()
 * -> vfio_pin_map_dma() -> vfio_pin_pages_remote() ->
 *   5.10.13: vaddr_get_pfn() -> pin_user_pages_remote(mm, vaddr, 1,
 *         FOLL_LONGTERM, ...) one page at a time;
 *   5.10.198, 6.1, 6.12: vaddr_get_pfns() -> pin_user_pages_remote(mm, vaddr,
 *         npages, FOLL_LONGTERM, ...) in batches;
 * no FOLL_WRITE because prot lacks IOMMU_WRITE; slow GUP (remote, under
 * mmap_read_lock), then vfio_iommu_map() into the IOMMU domain. So the
 * device's DMA reads whatever page the PTE mapped at MAP_DMA time (on 6.1
 * that may be the shared zero page; 6.2+ unshares it, FAULT_FLAG_UNSHARE).
 * VFIO_IOMMU_UNMAP_DMA: vfio_dma_do_unmap() -> vfio_remove_dma() ->
 * vfio_unmap_unpin() -> put_pfn() -> unpin_user_pages_dirty_lock().
 *
 * edu (QEMU hw/misc/edu.c), BAR0 registers: 0x00 id 0x010000ed, 0x04 liveness
 * (reads back ~value), 0x80 DMA source, 0x88 DMA destination, 0x90 count,
 * 0x98 command: bit 0 start (cleared when done), bit 1 direction (0: RAM ->
 * device buffer, 1: device buffer -> RAM), bit 2 raise an IRQ. The device
 * buffer is 4 KiB at address 0x40000; DMA addresses are masked to 28 bits, so
 * IOVAs stay below 256 MiB. The DMA runs from a timer 100 ms (virtual clock)
 * after the start. QEMU 7.2 aborts on a transfer that ends exactly at the end
 * of the buffer: transfers here are at most 2 KiB from 0x40000. Registers from
 * 0x80 take 4- or 8-byte accesses; 4-byte writes set the whole field.
 * ====================================================================== */

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_REG_ID 0x00
#define EDU_REG_LIVE 0x04
#define EDU_REG_SRC 0x80
#define EDU_REG_DST 0x88
#define EDU_REG_CNT 0x90
#define EDU_REG_CMD 0x98
#define EDU_CMD_RUN 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000u
#define EDU_MAX_XFER 2048u
#define EDU_SCRATCH_IOVA 0x1000000ull /* 16 MiB: clear of the buffer's IOVA range */
#define EDU_MAX_MAP (EDU_SCRATCH_IOVA)
#define EDU_TIMEOUT_S 5

static int dev_vfio_container = -1;
static int dev_vfio_group = -1;
static int dev_edu_fd = -1;
static volatile uint8_t *dev_edu_bar; /* BAR0 mmap, or NULL: pread/pwrite at dev_edu_bar_off */
static uint64_t dev_edu_bar_off;
static volatile uint64_t *dev_edu_scratch;
static size_t dev_edu_mapped; /* bytes mapped at IOVA 0, 0 if none */

static uint32_t dev_edu_rd32(uint32_t reg)
{
	uint32_t v;
	if (dev_edu_bar)
		return *(volatile uint32_t *)(dev_edu_bar + reg);
	if (pread(dev_edu_fd, &v, 4, (off_t)(dev_edu_bar_off + reg)) != 4)
		repro_error("edu: read register %#x: %s", reg, strerror(errno));
	return v;
}

static void dev_edu_wr32(uint32_t reg, uint32_t v)
{
	if (dev_edu_bar) {
		*(volatile uint32_t *)(dev_edu_bar + reg) = v;
		return;
	}
	if (pwrite(dev_edu_fd, &v, 4, (off_t)(dev_edu_bar_off + reg)) != 4)
		repro_error("edu: write register %#x: %s", reg, strerror(errno));
}

static unsigned long dev_read_hex_file(const char *path)
{
	char buf[32] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ~0ul;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoul(buf, NULL, 0) : ~0ul;
}

/* The last component of a sysfs symlink, or "" if there is none. */
static void dev_link_name(const char *path, char *out, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	out[0] = 0;
	if (n <= 0)
		return;
	target[n] = 0;
	const char *base = strrchr(target, '/');
	snprintf(out, size, "%s", base ? base + 1 : target);
}

static void dev_vfio_map(uint64_t iova, void *vaddr, size_t len, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map;
	memset(&map, 0, sizeof(map));
	map.argsz = sizeof(map);
	map.flags = flags;
	map.vaddr = (uint64_t)(uintptr_t)vaddr;
	map.iova = iova;
	map.size = len;
	if (ioctl(dev_vfio_container, VFIO_IOMMU_MAP_DMA, &map))
		repro_error("VFIO_IOMMU_MAP_DMA iova %#" PRIx64 " %zu bytes: %s", iova, len, strerror(errno));
}

/* Run one edu DMA and wait for it to finish. */
static void dev_edu_dma(uint64_t src, uint64_t dst, uint32_t count, uint32_t cmd)
{
	dev_edu_wr32(EDU_REG_SRC, (uint32_t)src);
	dev_edu_wr32(EDU_REG_DST, (uint32_t)dst);
	dev_edu_wr32(EDU_REG_CNT, count);
	dev_edu_wr32(EDU_REG_CMD, cmd | EDU_CMD_RUN);
	int64_t deadline = dev_now_ns() + (int64_t)EDU_TIMEOUT_S * 1000000000;
	while (dev_edu_rd32(EDU_REG_CMD) & EDU_CMD_RUN) {
		if (dev_now_ns() > deadline)
			repro_error("edu: DMA %#" PRIx64 " -> %#" PRIx64 " did not finish in %d s", src, dst,
				    EDU_TIMEOUT_S);
		dev_sleep_ms(1);
	}
}

DEV_FN void edu_init(void)
{
	char bdf[NAME_MAX + 1] = "", path[PATH_MAX], name[NAME_MAX + 1];
	if (dev_edu_fd >= 0)
		return;

	DIR *d = opendir("/sys/bus/pci/devices");
	if (!d)
		repro_skip("no PCI bus in sysfs: %s", strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", de->d_name);
		if (dev_read_hex_file(path) != EDU_VENDOR)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", de->d_name);
		if (dev_read_hex_file(path) != EDU_DEVICE)
			continue;
		snprintf(bdf, sizeof(bdf), "%s", de->d_name);
		break;
	}
	closedir(d);
	if (!bdf[0])
		repro_skip("no edu PCI device (%04x:%04x)", EDU_VENDOR, EDU_DEVICE);

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	dev_link_name(path, name, sizeof(name));
	if (strcmp(name, "vfio-pci"))
		repro_skip("edu device %s is bound to \"%s\", not vfio-pci", bdf, name);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	dev_link_name(path, name, sizeof(name));
	if (!name[0])
		repro_skip("edu device %s has no IOMMU group (is the IOMMU on?)", bdf);

	int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		repro_skip("open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		repro_skip("VFIO API version %d, not %d", ioctl(container, VFIO_GET_API_VERSION), VFIO_API_VERSION);
	int type = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1 ? VFIO_TYPE1v2_IOMMU
		   : ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1 ? VFIO_TYPE1_IOMMU
										 : -1;
	if (type < 0)
		repro_skip("vfio has no type1 IOMMU backend (vfio_iommu_type1 not loaded?)");

	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	int group = open(path, O_RDWR | O_CLOEXEC);
	if (group < 0)
		repro_skip("open %s: %s", path, strerror(errno));
	struct vfio_group_status status = {.argsz = sizeof(status)};
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status))
		repro_error("VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		repro_skip("IOMMU group %s is not viable (a device in it is not bound to vfio)", name);
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		repro_error("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(container, VFIO_SET_IOMMU, type)) {
		if (errno == EPERM)
			repro_skip("VFIO_SET_IOMMU: %s (no interrupt remapping: load vfio_iommu_type1 with "
				   "allow_unsafe_interrupts=1)",
				   strerror(errno));
		repro_error("VFIO_SET_IOMMU: %s", strerror(errno));
	}
	int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0)
		repro_error("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
	dev_vfio_container = container;
	dev_vfio_group = group;
	dev_edu_fd = dev;

	/* Memory decoding and bus mastering on, through the virtualised config space. */
	struct vfio_region_info cfg = {.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		repro_error("VFIO_DEVICE_GET_REGION_INFO (config): %s", strerror(errno));
	uint16_t cmd;
	if (pread(dev, &cmd, 2, (off_t)(cfg.offset + 0x04)) != 2)
		repro_error("edu: read PCI_COMMAND: %s", strerror(errno));
	cmd |= 0x2 | 0x4; /* PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER */
	if (pwrite(dev, &cmd, 2, (off_t)(cfg.offset + 0x04)) != 2)
		repro_error("edu: write PCI_COMMAND: %s", strerror(errno));

	struct vfio_region_info bar = {.argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX};
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar))
		repro_error("VFIO_DEVICE_GET_REGION_INFO (BAR0): %s", strerror(errno));
	if (bar.size < 0x100)
		repro_error("edu: BAR0 is %llu bytes", (unsigned long long)bar.size);
	dev_edu_bar_off = bar.offset;
	dev_edu_bar = NULL;
	if (bar.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		void *p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)bar.offset);
		if (p != MAP_FAILED)
			dev_edu_bar = p;
	}
	uint32_t id = dev_edu_rd32(EDU_REG_ID);
	dev_edu_wr32(EDU_REG_LIVE, 0x12345678);
	uint32_t live = dev_edu_rd32(EDU_REG_LIVE);
	if ((id & 0xff) != 0xed || live != ~0x12345678u)
		repro_error("edu: BAR0 id %#x, liveness %#x: not an edu device", id, live);

	/*
	 * The read-back page: ours, written by the device, not inherited by
	 * children. MAP_SHARED, so that no CPU write (the poison) or clear_refs
	 * can ever COW it away from the page the IOMMU maps; not the mm under test.
	 */
	void *s = mmap(NULL, DEV_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		repro_error("mmap: %s", strerror(errno));
	madvise(s, DEV_PAGE, MADV_DONTFORK);
	memset(s, 0x5a, DEV_PAGE);
	dev_edu_scratch = s;
	dev_vfio_map(EDU_SCRATCH_IOVA, s, DEV_PAGE, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

/* Map [buf, buf + len) at IOVA 0 for the device to read: the kernel pins it R/O, long-term. */
DEV_FN void edu_map_ro(void *buf, size_t len)
{
	if (dev_edu_fd < 0)
		repro_error("edu_map_ro: edu_init() was not called");
	if (dev_edu_mapped)
		repro_error("edu_map_ro: a buffer is already mapped");
	if ((uintptr_t)buf % DEV_PAGE || len == 0 || len % DEV_PAGE || len > EDU_MAX_MAP)
		repro_error("edu_map_ro: %p, %zu bytes: not whole pages, or over 16 MiB", buf, len);
	dev_vfio_map(0, buf, len, VFIO_DMA_MAP_FLAG_READ);
	dev_edu_mapped = len;
}

/*
 * The device reads [IOVA off, len) (at most 2 KiB) into its buffer; a second
 * DMA copies the buffer into the read-back page. Returns the first 8 bytes the
 * device read. Before that, the read-back page is poisoned by the CPU and its
 * poison copied into the device buffer, so a DMA that did not happen shows as
 * the poison instead of as the previous read's data. (A DMA whose IOMMU
 * translation fails is not reported by QEMU's edu; what it leaves is QEMU's.)
 */
#define EDU_POISON 0x5a5a5a5a5a5a5a5aull
DEV_FN uint64_t edu_device_read(size_t off, size_t len)
{
	if (!dev_edu_mapped)
		repro_error("edu_device_read: nothing mapped");
	if (len < sizeof(uint64_t) || len > EDU_MAX_XFER || off > dev_edu_mapped || len > dev_edu_mapped - off)
		repro_error("edu_device_read: [%zu, +%zu): not inside the mapping, or over %u bytes", off, len,
			    EDU_MAX_XFER);
	for (size_t i = 0; i < EDU_MAX_XFER / sizeof(uint64_t); i++)
		dev_edu_scratch[i] = EDU_POISON;
	__sync_synchronize();
	dev_edu_dma(EDU_SCRATCH_IOVA, EDU_BUF, EDU_MAX_XFER, 0); /* poison the device buffer */
	dev_edu_dma(off, EDU_BUF, (uint32_t)len, 0);            /* the device read */
	dev_edu_dma(EDU_BUF, EDU_SCRATCH_IOVA, (uint32_t)len, EDU_CMD_TO_RAM);
	__sync_synchronize();
	uint64_t v = dev_edu_scratch[0];
	if (v == EDU_POISON)
		repro_error("edu: the DMA of IOVA %#zx did not reach the read-back page", off);
	return v;
}

/* VFIO_IOMMU_UNMAP_DMA of IOVA 0: the kernel unpins the pages. */
DEV_FN void edu_unmap(void)
{
	struct vfio_iommu_type1_dma_unmap unmap;
	if (!dev_edu_mapped)
		repro_error("edu_unmap: nothing mapped");
	memset(&unmap, 0, sizeof(unmap));
	unmap.argsz = sizeof(unmap);
	unmap.iova = 0;
	unmap.size = dev_edu_mapped;
	if (ioctl(dev_vfio_container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		repro_error("VFIO_IOMMU_UNMAP_DMA: %s", strerror(errno));
	if (unmap.size != dev_edu_mapped)
		repro_error("VFIO_IOMMU_UNMAP_DMA unmapped %llu of %zu bytes", (unsigned long long)unmap.size,
			    dev_edu_mapped);
	dev_edu_mapped = 0;
}

/* ======================================================================
 * 4. Swap-out of one page: MADV_PAGEOUT, checked through /proc/self/pagemap.
 *
 * madvise(MADV_PAGEOUT) -> madvise_pageout(): lru_add_drain() (this CPU's
 * batches only) -> madvise_pageout_page_range() ->
 * madvise_cold_or_pageout_pte_range(): skips a page mapped more than once
 * (5.10, 6.1: page_mapcount() != 1; 6.12: folio_likely_mapped_shared()),
 * isolates it from the LRU (5.10, 6.1: isolate_lru_page(); 6.12:
 * folio_isolate_lru(); fails while the page sits in some CPU's LRU-add batch),
 * then reclaim_pages() -> shrink_page_list() (5.10) / reclaim_folio_list() ->
 * shrink_folio_list() (6.1, 6.12): add_to_swap(), try_to_unmap()
 * (the PTE becomes a swap entry), pageout(), and freeing if no one else holds
 * a reference. The kernel selftests do this once and check pagemap
 * (tools/testing/selftests/mm/cow.c: MADV_PAGEOUT, then pagemap_is_swapped()).
 * Here a page still in another CPU's batch is reached by retrying on each CPU
 * in turn: madvise_pageout() drains the batch of the CPU it runs on. (No
 * mlock()/munlock() trick: 5.10's mm/mlock.c does not drain at all, and 6.x's
 * mlock_fixup() calls lru_add_drain(), this CPU only.) On all three kernels a
 * page faulted in by this thread went out at the first attempt (20 of 20).
 * ====================================================================== */

/* 1 if the PTE of addr holds a swap entry (pagemap bit 62), 0 otherwise. */
DEV_FN int pte_swapped(void *addr)
{
	uint64_t e;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		repro_error("open /proc/self/pagemap: %s", strerror(errno));
	off_t at = (off_t)((uintptr_t)addr / DEV_PAGE * sizeof(e));
	ssize_t n = pread(fd, &e, sizeof(e), at);
	close(fd);
	if (n != sizeof(e))
		repro_error("read /proc/self/pagemap: %zd: %s", n, strerror(errno));
	return (int)((e >> 62) & 1);
}

/* 1 if the page is present in the PTE (pagemap bit 63). */
DEV_FN int pte_present(void *addr)
{
	uint64_t e;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		repro_error("open /proc/self/pagemap: %s", strerror(errno));
	ssize_t n = pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr / DEV_PAGE * sizeof(e)));
	close(fd);
	if (n != sizeof(e))
		repro_error("read /proc/self/pagemap: %zd: %s", n, strerror(errno));
	return (int)((e >> 63) & 1);
}

/* Whether any swap area is active (/proc/swaps has a line after its header). */
static int dev_have_swap(void)
{
	char line[256];
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "re");
	if (!f)
		return 1; /* cannot tell: try */
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1;
}

/*
 * Swap out the page at addr: MADV_PAGEOUT, at most twice. Every process of a
 * reproducer runs on CPU 0 and drains that CPU's LRU batches after each step, so
 * the page is on the LRU and the first attempt reclaims it unless the kernel
 * refuses: shared (mapcount != 1) or, from 5.19, a pinned PageAnonExclusive page
 * that try_to_unmap() will not unmap. The model predicts those refusals, so they
 * must not be retried into something else (nor outlast an O_DIRECT read in
 * flight). Returns 1 once its PTE holds a swap entry, 0 if it stayed mapped.
 */
DEV_FN int pageout(void *addr)
{
	void *p = (void *)((uintptr_t)addr & ~(uintptr_t)(DEV_PAGE - 1));
	static int warned;
	if (pte_swapped(p))
		return 1;
	if (!dev_have_swap()) {
		if (!warned++)
			repro_note("no active swap area: MADV_PAGEOUT cannot swap out");
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (madvise(p, DEV_PAGE, MADV_PAGEOUT)) {
			if (errno == EINVAL)
				repro_skip("madvise(MADV_PAGEOUT): %s (a kernel before 5.4, or a locked mapping)",
					   strerror(errno));
			repro_error("madvise(MADV_PAGEOUT): %s", strerror(errno));
		}
		if (pte_swapped(p)) {
			if (i)
				repro_note("pageout %p: swapped out at the second attempt", p);
			return 1;
		}
	}
	repro_note("pageout %p: still mapped after 2 attempts", p);
	return 0;
}

#endif /* COWCHECK_DEVICES_H */
