// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Fork while another process migrates the pages the forking one maps: a migration
 * entry restored into the parent's VMA between the fork's look at its page tables and
 * its copy of them, the copy then duplicating the folio the entry was restored to.
 * The shadow checker must know that fork touched that folio (c-shim fmw_fork_touch(),
 * the module's fork_restores counter); before it did, the other checks on the folio
 * met a mapping nobody had announced (an exit's removal of a file page mapped 13 times
 * with the kernel one above the model, pmc on 2 vCPUs).
 *
 * The parent maps small pages and THP-advised memory, then forks children that check a
 * sample of it and exit, while a migrator child it forked first shares every page and
 * moves them all (MPOL_MF_MOVE_ALL) between the two NUMA nodes, over and over. The
 * data must survive; run_tests fails the binary on any disagreement of the checker.
 *
 * Skipped as a whole (exit 4) with one NUMA node or without move_pages().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "foliomap_debugfs.h"
#include "kselftest.h"
#include "mm_probe.h"

#define REGION_BYTES	(4u << 20)	/* each of: small pages, THP-advised */
#define RUN_SECONDS	10
#define MOVE_BATCH	512		/* pages per move_pages() call */
#define MAX_CHILDREN	6		/* forked children alive at once */
#define CHILD_LIFE_US	30000

static size_t ps;

struct shared {
	int stop;			/* set by the parent (atomic accesses) */
	uint64_t moved, calls, failed_calls;
	int last_errno;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The value page @i of the run holds: its number, so a page moved or copied wrongly shows. */
static uint64_t pattern(size_t i)
{
	return 0x9e3779b97f4a7c15ull * (i + 1);
}

static void fill(char *base, size_t len)
{
	size_t i;

	for (i = 0; i < len / ps; i++)
		*(uint64_t *)(base + i * ps) = pattern(i);
}

/* Pages whose value is wrong, every @step-th page checked. */
static size_t corrupt_pages(const char *base, size_t len, size_t step)
{
	size_t i, bad = 0;

	for (i = 0; i < len / ps; i += step)
		bad += *(const uint64_t *)(base + i * ps) != pattern(i);
	return bad;
}

/* The migrator: every page of [base, base + len) to the other node, until told to stop. */
static void __attribute__((noreturn)) migrate_loop(char *base, size_t len, struct shared *sh)
{
	static void *pages[MOVE_BATCH];
	static int nodes[MOVE_BATCH], status[MOVE_BATCH];
	size_t n = len / ps, first, i, nr;
	int target = 1;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		for (first = 0; first < n && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
		     first += nr) {
			nr = n - first < MOVE_BATCH ? n - first : MOVE_BATCH;
			for (i = 0; i < nr; i++) {
				pages[i] = base + (first + i) * ps;
				nodes[i] = target;
			}
			__atomic_fetch_add(&sh->calls, 1, __ATOMIC_RELAXED);
			if (syscall(SYS_move_pages, 0, (unsigned long)nr, pages, nodes, status,
				    MPOL_MF_MOVE_ALL) < 0) {
				__atomic_fetch_add(&sh->failed_calls, 1, __ATOMIC_RELAXED);
				sh->last_errno = errno;
				continue;
			}
			for (i = 0; i < nr; i++)
				if (status[i] == target)
					__atomic_fetch_add(&sh->moved, 1, __ATOMIC_RELAXED);
		}
		target = !target;
	}
	_exit(0);
}

static uint64_t fork_restores(void)
{
	uint64_t v[FOLIOMAP_NR_STATS];

	if (foliomap_read_counters(FOLIOMAP_TOTALS_PATH, v))
		return UINT64_MAX;
	return v[FOLIOMAP_STAT_FORK_RESTORES];
}

int main(void)
{
	size_t len = 2 * REGION_BYTES, bad_children = 0, bad;
	unsigned int live = 0;
	uint64_t forks = 0, deadline, restores_before, restores_after;
	struct shared *sh;
	pid_t migrator;
	char *base;
	int st;

	ps = (size_t)sysconf(_SC_PAGESIZE);
	ksft_print_header();
	/* Before the plan: kselftest's skip of a whole program ("1..0 # SKIP why", exit 4). */
	if (access("/sys/devices/system/node/node1", F_OK))
		ksft_exit_skip("one NUMA node: nothing to migrate to\n");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || base == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	/* Small pages in the first half; the second may become THPs, PTE- or PMD-mapped. */
	madvise(base, REGION_BYTES, MADV_NOHUGEPAGE);
	madvise(base + REGION_BYTES, REGION_BYTES, MADV_HUGEPAGE);
	fill(base, len);
	if (page_node(base) == -ENOSYS)
		ksft_exit_skip("move_pages: ENOSYS (no CONFIG_MIGRATION/NUMA)\n");
	ksft_set_plan(2);
	restores_before = fork_restores();

	migrator = fork();
	if (migrator < 0)
		ksft_exit_fail_msg("fork of the migrator: %s\n", strerror(errno));
	if (migrator == 0)
		migrate_loop(base, len, sh);

	deadline = now_ns() + RUN_SECONDS * 1000000000ull;
	while (now_ns() < deadline || live) {
		pid_t pid;

		if (live == MAX_CHILDREN || (live && now_ns() >= deadline)) {
			pid = wait(&st);
			if (pid < 0)
				ksft_exit_fail_msg("wait: %s\n", strerror(errno));
			if (pid == migrator)
				ksft_exit_fail_msg("the migrator exited early\n");
			bad_children += !WIFEXITED(st) || WEXITSTATUS(st);
			live--;
			continue;
		}
		pid = fork();
		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (pid == 0) {
			/* Mapped a while, so that restores walk many VMAs and exits overlap forks. */
			usleep(CHILD_LIFE_US);
			_exit(corrupt_pages(base, len, 61) ? 1 : 0);
		}
		live++;
		forks++;
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	if (waitpid(migrator, &st, 0) != migrator || !WIFEXITED(st) || WEXITSTATUS(st))
		ksft_exit_fail_msg("the migrator did not exit cleanly\n");
	restores_after = fork_restores();
	bad = corrupt_pages(base, len, 1);

	ksft_print_msg("%" PRIu64 " move_pages() calls (%" PRIu64 " failed, last errno %d), %" PRIu64
		       " pages moved\n", sh->calls, sh->failed_calls, sh->last_errno, sh->moved);
	if (restores_before == UINT64_MAX || restores_after == UINT64_MAX)
		ksft_print_msg("foliomap module not loaded: no fork_restores count\n");
	else
		ksft_print_msg("fork_restores (migration entries restored into a VMA being forked): %"
			       PRIu64 "\n", restores_after - restores_before);
	if (forks && sh->moved && !bad_children)
		ksft_test_result_pass("%" PRIu64 " forks while %" PRIu64 " pages migrated, every "
				      "child saw its data\n", forks, sh->moved);
	else
		ksft_test_result_fail("%" PRIu64 " forks, %" PRIu64 " pages migrated, %zu children "
				      "saw wrong data\n", forks, sh->moved, bad_children);
	if (!bad)
		ksft_test_result_pass("the parent's %zu pages are intact\n", len / ps);
	else
		ksft_test_result_fail("the parent's data: %zu of %zu pages wrong\n", bad, len / ps);
	ksft_finished();
}
