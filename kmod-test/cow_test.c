// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Copy-on-Write of private anonymous memory after fork, for each folio size the
 * foliomap model covers: a 4 KiB small folio, a 64 KiB mTHP (PTE-mapped) and a
 * PMD-mapped THP. Every expectation is checked against what the kernel itself reports:
 * PFNs from /proc/self/pagemap, the THP and compound-head bits from /proc/kpageflags,
 * pgreuse from /proc/vmstat and AnonHugePages from /proc/self/smaps.
 *
 * Modelled on tools/testing/selftests/mm/cow.c: the cases are a table, each case runs
 * for every folio size, and a size the kernel cannot provide is skipped, not failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>

#include "kselftest.h"
#include "mm_probe.h"


/* Child exit codes of the fork scenarios (anything else is a harness error). */
enum child_result {
	CHILD_COPIED = 0,	/* the write gave the child a new small page */
	CHILD_REUSED = 1,	/* the write kept the shared page: CoW is broken */
	CHILD_ERROR = 2,	/* could not observe the outcome */
	CHILD_COPIED_LARGE = 3,	/* a copy, but into a large folio: unexpected in 7.3 */
};

static size_t page_size;
static size_t pmd_size;

/* The folio sizes under test; "size 0" stands for the PMD size found at run time. */
static const struct folio_kind {
	const char *name;
	size_t size;
	bool pmd_mapped;
} folio_kinds[] = {
	{ "4 KiB page", 4096, false },
	{ "64 KiB mTHP", 65536, false },
	{ "PMD THP", 0, true },
};

#define NR_FOLIO_KINDS (sizeof(folio_kinds) / sizeof(folio_kinds[0]))

static size_t kind_size(const struct folio_kind *kind)
{
	return kind->size ? kind->size : pmd_size;
}

/*
 * Map a private anonymous VMA of exactly the folio's size, aligned to it, and
 * populate it. The VMA's size and alignment leave the kernel one choice: a folio of
 * that size (when the size is enabled) or smaller ones. Returns NULL (with the reason)
 * when the kernel did not give us a folio of the wanted kind.
 */
static char *map_folio(const struct folio_kind *kind, char *why, size_t why_len)
{
	size_t size = kind_size(kind), nr_pages = size / page_size, i;
	char *area, *addr;
	uint64_t first;
	long huge_kb;

	area = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		snprintf(why, why_len, "mmap: %s", strerror(errno));
		return NULL;
	}
	addr = (char *)(((uintptr_t)area + size - 1) & ~(uintptr_t)(size - 1));
	if (addr > area)
		munmap(area, addr - area);
	munmap(addr + size, area + 2 * size - (addr + size));

	if (madvise(addr, size, size == page_size ? MADV_NOHUGEPAGE : MADV_HUGEPAGE)) {
		snprintf(why, why_len, "madvise: %s", strerror(errno));
		goto fail;
	}
	memset(addr, 0x5a, size);

	first = pfn_of(addr);
	if (!first) {
		snprintf(why, why_len, "no PFN in pagemap (not root?)");
		goto fail;
	}
	if (nr_pages == 1) {
		if (pfn_is_thp(first)) {
			snprintf(why, why_len, "got a THP for a 4 KiB VMA");
			goto fail;
		}
		return addr;
	}
	/* One naturally aligned folio: contiguous PFNs, a head page, THP bits everywhere. */
	if (first % nr_pages || !(kpageflags_of(first) & (1ULL << KPF_COMPOUND_HEAD))) {
		snprintf(why, why_len, "no %zu KiB folio at the start (pfn %#" PRIx64 ")",
			 size / 1024, first);
		goto fail;
	}
	for (i = 0; i < nr_pages; i++) {
		uint64_t pfn = pfn_of(addr + i * page_size);

		if (pfn != first + i || !pfn_is_thp(pfn)) {
			snprintf(why, why_len, "page %zu is not part of one %zu KiB THP", i, size / 1024);
			goto fail;
		}
	}
	huge_kb = smaps_anon_huge_kb(addr);
	if (kind->pmd_mapped ? huge_kb < (long)(size / 1024) : huge_kb != 0) {
		snprintf(why, why_len, "AnonHugePages %ld kB: %s PMD-mapped", huge_kb,
			 kind->pmd_mapped ? "not" : "unexpectedly");
		goto fail;
	}
	return addr;
fail:
	munmap(addr, size);
	return NULL;
}

/* In a forked child: write the first page and report what the kernel did. */
static enum child_result child_write_and_classify(char *addr, uint64_t parent_pfn)
{
	uint64_t before, after;

	/* The inherited descriptor still reads the parent's page tables: reopen. */
	if (mm_probe_reopen_pagemap())
		return CHILD_ERROR;
	before = pfn_of(addr);
	if (before != parent_pfn)
		return CHILD_ERROR;	/* fork did not share the page */
	addr[0] = 'c';
	after = pfn_of(addr);
	if (!after)
		return CHILD_ERROR;
	if (after == before)
		return CHILD_REUSED;
	return pfn_is_thp(after) ? CHILD_COPIED_LARGE : CHILD_COPIED;
}

/* Fork; the child writes the first page and exits with its classification. */
static int fork_child_writer(char *addr, uint64_t parent_pfn)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(child_write_and_classify(addr, parent_pfn));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static const char *child_result_name(int result)
{
	switch (result) {
	case CHILD_COPIED: return "copied";
	case CHILD_REUSED: return "reused the shared page";
	case CHILD_COPIED_LARGE: return "copied into a large folio";
	default: return "could not observe the outcome";
	}
}

/*
 * After fork the folio is mapped by two processes: the child's write must COPY the
 * page (spec §7.7, scenarios S02/S17), into a new small folio, and the parent keeps
 * the original page and contents.
 */
static void test_child_write_copies(const struct folio_kind *kind, const char *desc)
{
	size_t size = kind_size(kind);
	uint64_t pfn;
	char why[160];
	char *addr;
	int result;

	addr = map_folio(kind, why, sizeof(why));
	if (!addr) {
		ksft_test_result_code(KSFT_SKIP, desc, "%s", why);
		return;
	}
	pfn = pfn_of(addr);
	result = fork_child_writer(addr, pfn);
	if (result != CHILD_COPIED)
		ksft_test_result_fail("%s: child %s\n", desc, child_result_name(result));
	else if (pfn_of(addr) != pfn || addr[0] != 0x5a)
		ksft_test_result_fail("%s: the parent's page changed under it\n", desc);
	else
		ksft_test_result_pass("%s\n", desc);
	munmap(addr, size);
}

/*
 * Once the child that shared (and partly copied) the folio has exited, the parent maps
 * it alone: its write must REUSE the page in place (same PFN; spec S04 for the mTHP,
 * S20 for the THP, here after the child split its own PMD mapping to copy).
 * PTE-mapped folios go through wp_page_reuse(), which counts pgreuse; a PMD-mapped THP
 * is reused by do_huge_pmd_wp_page() at PMD level (spec §7.6), which counts nothing and
 * keeps the PMD mapping.
 */
static void test_parent_write_reuses(const struct folio_kind *kind, const char *desc)
{
	size_t size = kind_size(kind);
	long long reuse_before, reuse_after;
	uint64_t pfn;
	char why[160];
	char *addr;
	int result;

	addr = map_folio(kind, why, sizeof(why));
	if (!addr) {
		ksft_test_result_code(KSFT_SKIP, desc, "%s", why);
		return;
	}
	pfn = pfn_of(addr);
	result = fork_child_writer(addr, pfn);
	if (result != CHILD_COPIED) {
		ksft_test_result_fail("%s: child %s first\n", desc, child_result_name(result));
		goto out;
	}

	/* The parent alone maps it now, but a batch on another CPU may still hold it. */
	if (lru_drain_all())
		ksft_print_msg("%s: cannot drain the LRU batches: %s\n", kind->name,
			       strerror(errno));
	reuse_before = vmstat_read("pgreuse");
	addr[0] = 'p';
	reuse_after = vmstat_read("pgreuse");
	ksft_print_msg("%s: pgreuse +%lld\n", kind->name, reuse_after - reuse_before);

	if (pfn_of(addr) != pfn) {
		ksft_test_result_fail("%s: parent copied (pfn %#" PRIx64 " -> %#" PRIx64 ")\n",
				      desc, pfn, pfn_of(addr));
	} else if (kind->pmd_mapped && smaps_anon_huge_kb(addr) < (long)(size / 1024)) {
		ksft_test_result_fail("%s: the PMD mapping was split\n", desc);
	} else if (!kind->pmd_mapped && reuse_after <= reuse_before) {
		ksft_test_result_fail("%s: same page but pgreuse did not move\n", desc);
	} else {
		ksft_test_result_pass("%s\n", desc);
	}
out:
	munmap(addr, size);
}

static const struct {
	const char *desc;
	void (*fn)(const struct folio_kind *kind, const char *desc);
} tests[] = {
	/* fork shares the folio; the first write in the child must copy. */
	{ "write in the child after fork copies", test_child_write_copies },
	/* once the child is gone the parent is the only user: its write must reuse. */
	{ "write in the parent after the child exited reuses", test_parent_write_reuses },
};

#define NR_TESTS (sizeof(tests) / sizeof(tests[0]))

static size_t read_pmd_size(void)
{
	unsigned long long size = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");

	if (f) {
		if (fscanf(f, "%llu", &size) != 1)
			size = 0;
		fclose(f);
	}
	return size;
}

int main(void)
{
	char desc[160];
	size_t t, k;
	int err;

	page_size = sysconf(_SC_PAGESIZE);
	pmd_size = read_pmd_size();

	ksft_print_header();
	ksft_set_plan(NR_TESTS * NR_FOLIO_KINDS);
	err = mm_probe_open();
	if (err)
		ksft_exit_fail_msg("cannot open /proc/self/pagemap or /proc/kpageflags: %s\n",
				   strerror(-err));
	if (vmstat_read("pgreuse") < 0)
		ksft_exit_fail_msg("no pgreuse in /proc/vmstat\n");

	for (t = 0; t < NR_TESTS; t++) {
		for (k = 0; k < NR_FOLIO_KINDS; k++) {
			snprintf(desc, sizeof(desc), "%s (%s)", tests[t].desc, folio_kinds[k].name);
			if (!kind_size(&folio_kinds[k])) {
				ksft_test_result_code(KSFT_SKIP, desc, "THP not available");
				continue;
			}
			tests[t].fn(&folio_kinds[k], desc);
		}
	}
	ksft_finished();
}
