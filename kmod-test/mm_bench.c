// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * mm_bench: the rmap-heavy micro-benchmarks of the MM-owner-tracking series, in the VM.
 *
 *   mm_bench [--mib N] [--runs N] [--sizes KB,KB,...] [--ops OP,OP,...] [--tag T]
 *            [--perf-ctl CTL_FIFO,ACK_FIFO]
 *
 * For each run, folio size and operation: maps N MiB (default 1024) of anonymous
 * memory backed by PTE-mapped folios of that size (16 KiB ... 2 MiB: one mTHP size
 * enabled at a time; a PMD THP is split to PTEs by an mprotect flip of its first page),
 * checks that the kernel really allocated folios of that size, then times one of
 *
 *   munmap      unmapping the whole region
 *   fork        fork() as the parent sees it (the child waits, then exits untimed)
 *   cow-byte    after fork, with the child alive: writing one byte of every page (CoW
 *               copies every page, since every folio is maybe shared)
 *   reuse-byte  after fork and the child's exit: writing one byte of every page (the
 *               folios are exclusive again: CoW reuses them)
 *
 * Before the first run it touches twice the region once, untimed (see warm_up()).
 * Output: one line per measurement, "tag op size_kb run ns" (tab-separated), after
 * "# "-comment lines that describe the setup (clocksource, sizes). scripts/bench-kernel
 * collects them from both kernels and prints medians and spreads. Runs are interleaved
 * (run 1 of every size and operation, then run 2, ...) so that a slow phase of the host
 * spreads over all cells instead of biasing one.
 *
 * --perf-ctl: the two fifos of `perf record -D -1 --control fifo:CTL,ACK` (scripts/
 * profile-checker): "enable" is written to CTL (and its "ack" awaited on ACK) just before
 * each timed section, "disable" just after it, so that a profile holds the timed
 * operation only, not the region's set-up, the child's exit or the munmap after it.
 *
 * Exit: 0, 1 on a failed measurement (a folio of the wrong size is a failure: the numbers
 * would describe something else), 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mm_probe.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"
#define KHUGEPAGED_SLEEP THP_DIR "/khugepaged/scan_sleep_millisecs"
#define PAGE 4096UL
#define PMD_KB 2048UL
#define MAX_SIZES 16
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

enum op { OP_MUNMAP, OP_FORK, OP_COW_BYTE, OP_REUSE_BYTE, NR_OPS };
static const char *const op_names[NR_OPS] = { "munmap", "fork", "cow-byte", "reuse-byte" };

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mm_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, (int)len, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The kernel's mTHP sizes (KiB), ascending; how many. */
static int thp_sizes(unsigned long *kb, int max)
{
	static const unsigned long candidates[] = { 16, 32, 64, 128, 256, 512, 1024, 2048 };
	char path[128];
	int i, n = 0;

	for (i = 0; i < (int)(sizeof(candidates) / sizeof(candidates[0])) && n < max; i++) {
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", candidates[i]);
		if (access(path, W_OK) == 0)
			kb[n++] = candidates[i];
	}
	return n;
}

/* Only @kb enabled ("always"), every other size "never". */
static void enable_only(const unsigned long *all, int n, unsigned long kb)
{
	char path[128];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", all[i]);
		if (write_str(path, all[i] == kb ? "always" : "never"))
			die(1, "cannot write %s", path);
	}
}

/* Whether the folio at @addr is @kb KiB: a compound head with tails up to its end. */
static bool folio_is(const char *addr, unsigned long kb)
{
	uint64_t head = pfn_of(addr), last, next;

	if (!head || !(kpageflags_of(head) & (1ULL << KPF_COMPOUND_HEAD)))
		return false;
	last = pfn_of(addr + kb * 1024 - PAGE);
	next = pfn_of(addr + kb * 1024);
	return last == head + kb / 4 - 1 &&
	       (kpageflags_of(last) & (1ULL << KPF_COMPOUND_TAIL)) &&
	       (!next || next != last + 1 || !(kpageflags_of(next) & (1ULL << KPF_COMPOUND_TAIL)));
}

struct region {
	char *base;	/* aligned to the folio size */
	size_t len;
	char *raw;	/* what mmap returned */
	size_t raw_len;
};

/* Maps and populates @len bytes of PTE-mapped @kb KiB folios; checks a sample. */
static void region_make(struct region *r, size_t len, unsigned long kb)
{
	size_t align = kb * 1024, off;
	int i;

	r->raw_len = len + align;
	r->raw = mmap(NULL, r->raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->raw == MAP_FAILED)
		die(1, "mmap %zu bytes: %s", r->raw_len, strerror(errno));
	r->base = (char *)(((uintptr_t)r->raw + align - 1) & ~(uintptr_t)(align - 1));
	r->len = len;
	/* Only the aligned part: the rest would be other VMAs after the flips below. */
	if (r->base != r->raw)
		munmap(r->raw, r->base - r->raw);
	if (r->base + len != r->raw + r->raw_len)
		munmap(r->base + len, r->raw + r->raw_len - (r->base + len));
	for (off = 0; off < len; off += PAGE)
		r->base[off] = 1;
	if (kb == PMD_KB) {
		/* PTE-map every PMD THP: a protection change of one page splits the PMD. */
		for (off = 0; off < len; off += align) {
			if (mprotect(r->base + off, PAGE, PROT_READ) ||
			    mprotect(r->base + off, PAGE, PROT_READ | PROT_WRITE))
				die(1, "mprotect: %s", strerror(errno));
		}
		if (smaps_anon_huge_kb(r->base) != 0)
			die(1, "2 MiB folios still PMD-mapped after the mprotect flip");
	}
	for (i = 0; i < 8; i++) {
		off = (len / align) * i / 8 * align;
		if (!folio_is(r->base + off, kb))
			die(1, "the folio at offset %zu is not %lu KiB (fragmented memory, or the size is not enabled?)",
			    off, kb);
	}
}

static void region_drop(struct region *r)
{
	if (r->base && munmap(r->base, r->len))
		die(1, "munmap: %s", strerror(errno));
	r->base = NULL;
}

static void touch_every_page(struct region *r)
{
	size_t off;

	for (off = 0; off < r->len; off += PAGE)
		((volatile char *)r->base)[off] = 2;
}

/* A child that waits for one byte on @fd (or EOF), then exits without touching memory. */
static pid_t fork_waiting_child(int fds[2])
{
	pid_t pid;
	char c;

	if (pipe(fds))
		die(1, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die(1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[1]);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(fds[0]);
	return pid;
}

static void release_child(pid_t pid, int fds[2])
{
	int status;

	close(fds[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die(1, "child %d did not exit cleanly", pid);
}

/* perf's control fifos (--perf-ctl), -1 when not profiling. */
static int perf_ctl = -1, perf_ack = -1;

/* Sends @cmd ("enable"/"disable") to perf and waits for its "ack". */
static void perf_send(const char *cmd)
{
	char buf[16];
	ssize_t n;

	if (perf_ctl < 0)
		return;
	if (write(perf_ctl, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		die(1, "--perf-ctl: write: %s", strerror(errno));
	do
		n = read(perf_ack, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		die(1, "--perf-ctl: no ack from perf");
}

static void perf_open(const char *spec)
{
	char ctl[128], *ack;

	if (strlen(spec) >= sizeof(ctl))
		die(2, "--perf-ctl: '%s' is too long", spec);
	strcpy(ctl, spec);
	ack = strchr(ctl, ',');
	if (!ack)
		die(2, "--perf-ctl: '%s' (CTL_FIFO,ACK_FIFO)", spec);
	*ack++ = 0;
	perf_ctl = open(ctl, O_WRONLY);
	perf_ack = open(ack, O_RDONLY);
	if (perf_ctl < 0 || perf_ack < 0)
		die(1, "--perf-ctl: cannot open %s / %s: %s", ctl, ack, strerror(errno));
}

static uint64_t measure(enum op op, size_t len, unsigned long kb)
{
	struct region r;
	uint64_t t0, t1;
	int fds[2];
	pid_t pid;

	region_make(&r, len, kb);
	switch (op) {
	case OP_MUNMAP:
		perf_send("enable");
		t0 = now_ns();
		region_drop(&r);
		t1 = now_ns();
		perf_send("disable");
		break;
	case OP_FORK:
		perf_send("enable");
		t0 = now_ns();
		pid = fork_waiting_child(fds);
		t1 = now_ns();
		perf_send("disable");
		release_child(pid, fds);
		region_drop(&r);
		break;
	case OP_COW_BYTE:
		pid = fork_waiting_child(fds);
		perf_send("enable");
		t0 = now_ns();
		touch_every_page(&r);
		t1 = now_ns();
		perf_send("disable");
		release_child(pid, fds);
		region_drop(&r);
		break;
	default:
		pid = fork_waiting_child(fds);
		release_child(pid, fds);
		perf_send("enable");
		t0 = now_ns();
		touch_every_page(&r);
		t1 = now_ns();
		perf_send("disable");
		region_drop(&r);
		break;
	}
	return t1 - t0;
}

/*
 * Under emulation the host backs guest memory lazily: the first run would pay the host's
 * page faults. Touch what the runs will use (the region and its CoW copies) once.
 */
static void warm_up(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		die(1, "mmap %zu bytes for the warm-up: %s", len, strerror(errno));
	for (off = 0; off < len; off += PAGE)
		p[off] = 1;
	munmap(p, len);
}

/* Parses "a,b,c" of unsigned numbers; how many. */
static int parse_list(const char *s, unsigned long *v, int max)
{
	char *end;
	int n = 0;

	while (*s) {
		if (n == max)
			return -1;
		errno = 0;
		v[n] = strtoul(s, &end, 10);
		if (errno || end == s || (*end && *end != ','))
			return -1;
		n++;
		s = *end ? end + 1 : end;
	}
	return n;
}

static int parse_ops(const char *s, bool *want)
{
	char buf[128], *tok, *save;
	int o, n = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (o = 0; o < NR_OPS && strcmp(tok, op_names[o]); o++)
			;
		if (o == NR_OPS)
			return -1;
		want[o] = true;
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned long all[MAX_SIZES], sizes[MAX_SIZES], mib = 1024, runs = 10;
	int n_all, n_sizes = 0, i, j, run, o, k;
	bool want[NR_OPS] = { false }, any_op = false;
	const char *tag = "-";
	char clock[64] = "?", saved[MAX_SIZES][64], path[128], khugepaged_sleep[32];

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(argv[i], "--mib") && v) {
			mib = strtoul(v, &end, 10);
			if (*end || !mib || mib > 1UL << 20)
				die(2, "--mib: '%s'", v);
		} else if (!strcmp(argv[i], "--runs") && v) {
			runs = strtoul(v, &end, 10);
			if (*end || !runs || runs > 1000)
				die(2, "--runs: '%s'", v);
		} else if (!strcmp(argv[i], "--sizes") && v) {
			n_sizes = parse_list(v, sizes, MAX_SIZES);
			if (n_sizes <= 0)
				die(2, "--sizes: '%s' (KiB, comma-separated)", v);
		} else if (!strcmp(argv[i], "--ops") && v) {
			if (parse_ops(v, want) <= 0)
				die(2, "--ops: '%s' (munmap,fork,cow-byte,reuse-byte)", v);
			any_op = true;
		} else if (!strcmp(argv[i], "--tag") && v) {
			tag = v;
		} else if (!strcmp(argv[i], "--perf-ctl") && v) {
			perf_open(v);
		} else {
			die(2, "usage: mm_bench [--mib N] [--runs N] [--sizes KB,...] [--ops OP,...] [--tag T] [--perf-ctl CTL,ACK]");
		}
		i++;
	}
	if (!any_op)
		for (o = 0; o < NR_OPS; o++)
			want[o] = true;
	if (mm_probe_open())
		die(1, "cannot open pagemap/kpageflags");
	n_all = thp_sizes(all, MAX_SIZES);
	if (!n_sizes) {
		memcpy(sizes, all, sizeof(all));
		n_sizes = n_all;
	}
	for (i = 0; i < n_sizes; i++) {
		for (j = 0; j < n_all && all[j] != sizes[i]; j++)
			;
		if (j == n_all)
			die(2, "no mTHP size %lu KiB on this kernel", sizes[i]);
		if (mib * 1024 % sizes[i])
			die(2, "%lu MiB is not a multiple of %lu KiB", mib, sizes[i]);
	}
	for (j = 0; j < n_all; j++) {
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", all[j]);
		if (read_line(path, saved[j], sizeof(saved[j])))
			die(1, "cannot read %s", path);
		/* "always [inherit] madvise never": keep the bracketed choice. */
		if (strchr(saved[j], '[')) {
			char *b = strchr(saved[j], '[') + 1;
			size_t n = strcspn(b, "]");

			memmove(saved[j], b, n);
			saved[j][n] = 0;
		}
	}
	/*
	 * khugepaged would collapse the PTE-mapped 2 MiB folios back into PMD mappings
	 * while the runs look at them (seen: a flip undone before its check): it sleeps
	 * for a day between scans while the benchmark runs.
	 */
	if (read_line(KHUGEPAGED_SLEEP, khugepaged_sleep, sizeof(khugepaged_sleep)) ||
	    write_str(KHUGEPAGED_SLEEP, "86400000"))
		die(1, "cannot set %s", KHUGEPAGED_SLEEP);
	warm_up(2 * (mib << 20));
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", clock, sizeof(clock));
	printf("# clocksource %s\n# region %lu MiB, %lu runs, sizes", clock, mib, runs);
	for (i = 0; i < n_sizes; i++)
		printf(" %lu", sizes[i]);
	printf(" KiB\n");
	fflush(stdout);

	for (run = 1; run <= (int)runs; run++) {
		for (k = 0; k < n_sizes; k++) {
			enable_only(all, n_all, sizes[k]);
			for (o = 0; o < NR_OPS; o++) {
				if (!want[o])
					continue;
				printf("%s\t%s\t%lu\t%d\t%llu\n", tag, op_names[o], sizes[k], run,
				       (unsigned long long)measure(o, mib << 20, sizes[k]));
				fflush(stdout);
			}
		}
	}
	for (j = 0; j < n_all; j++) {
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", all[j]);
		write_str(path, saved[j]);
	}
	write_str(KHUGEPAGED_SLEEP, khugepaged_sleep);
	return 0;
}
