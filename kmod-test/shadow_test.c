// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The shadow checker at work: scenarios of spec §11 (and the issue's list) run on the
 * real kernel while foliomap.ko recomputes every rmap transition, fork, PMD split,
 * migration and CoW decision with the model. Each case
 *
 *  1. zeroes the module's counters (debugfs stats "reset");
 *  2. runs the scenario in helper processes (P, C1, C2) that obey commands sent through
 *     pipes, one step at a time, so every process is quiescent while another acts;
 *  3. asserts the kernel's real outcome against the spec: REUSE vs COPY from the PFNs in
 *     /proc/self/pagemap (read by the process that faults), THP-ness from
 *     /proc/kpageflags, PMD mapping from smaps, pgreuse from /proc/vmstat, node from
 *     move_pages();
 *  4. once every helper has exited, asserts that the module checked the kinds of
 *     transitions the scenario must produce, with no mismatch and no missed event (and,
 *     on one CPU, no race). A failure prints the module's mismatch records.
 *
 * Modelled on tools/testing/selftests/mm/cow.c: the cases are a table, one row per
 * scenario; rows marked "each size" run for 4 KiB pages, every enabled mTHP size from
 * 16 KiB to 1 MiB and the PMD size. A size the kernel does not offer is skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>
#include <linux/types.h>

#include "foliomap_debugfs.h"
#include "kselftest.h"
#include "mm_probe.h"

#define MAX_PAGES		512
#define MAX_PROCS		3
#define THP_DIR			"/sys/kernel/mm/transparent_hugepage"
#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED	(1 << 1)
#endif
#define FILTER_ENV		"SHADOW_TEST_FILTER"
#define REEXEC_ENV		"FOLIOMAP_SHADOW_TEST_REEXEC"
#define GUP_TEST_PATH		"/sys/kernel/debug/gup_test"
#define SPLIT_PATH		"/sys/kernel/debug/split_huge_pages"

/*
 * The long-term pin interface of the kernel's GUP_TEST debugfs file (mm/gup_test.h is
 * not uapi): START pins [addr, addr + size) with FOLL_PIN | FOLL_LONGTERM (| FOLL_WRITE
 * with the USE_WRITE flag) and keeps the pins until STOP or until the file is closed.
 */
struct gup_pin_longterm {
	__u64 addr;
	__u64 size;
	__u32 flags;
};
#define GUP_PIN_FLAG_WRITE	1
#define GUP_PIN_START		_IOW('g', 7, struct gup_pin_longterm)
#define GUP_PIN_STOP		_IO('g', 8)

/* ------------------------------------------------------------------------------------ */
/* The scenario language                                                                */

enum op {
	OP_END,
	OP_MAP,		/* P maps + populates one folio of the row's size */
	OP_MAP_FIRST,	/* ... writing only the first @nr pages (the rest stays zero) */
	OP_FORK,	/* the process forks; the child becomes process @arg */
	OP_WRITE,	/* write pages [first, first+nr), each with outcome @expect */
	OP_DONTNEED,	/* MADV_DONTNEED pages [first, first+nr) */
	OP_MUNMAP,	/* munmap pages [first, first+nr) */
	OP_MPROTECT,	/* mprotect pages [first, first+nr) read-only, then read-write */
	OP_PROTECT,	/* mprotect pages [first, first+nr) to PROT_READ (@arg 0) or RW (1) */
	OP_PIN,		/* long-term pin pages [first, first+nr); @arg: with FOLL_WRITE */
	OP_UNPIN,	/* drop the pins */
	OP_MOVE_PAGES,	/* move_pages() to the other node; @arg: MPOL_MF_* ; @expect */
	OP_MBIND,	/* mbind(MPOL_BIND other node, MPOL_MF_MOVE) of the range */
	OP_SPLIT,	/* debugfs split_huge_pages over pages [first, first+nr) */
	OP_MREMAP,	/* mremap the region; @arg: 0 PMD-aligned target, 1 misaligned */
	OP_ORIG,	/* pages map the folio's original PFNs (@expect 1) or none (0) */
	OP_PMD,		/* the region is PMD-mapped (@expect 1) or not (0); 2: iff PMD-sized */
	OP_THP,		/* pages are in a large folio (@expect 1) or small ones (0) */
	OP_ZEROPAGE,	/* pages map the shared zeropage (present, all one PFN, no THP) */
	OP_ABSENT,	/* pages are not mapped */
	OP_SHM,		/* P creates the shared file (a memfd) of the row's size, written */
	OP_SHM_MAP,	/* map file pages [first, first+nr) MAP_SHARED (a VMA of its own), read */
	OP_SHM_UNMAP,	/* munmap the file VMA that starts at file page @first */
	OP_PRIVATE_FILE, /* the region: the whole memfd mapped MAP_PRIVATE, every page written */
	OP_EXIT,	/* the process exits (the next step runs once its mm is gone) */
};

enum outcome {
	E_NONE,
	E_COPY,		/* the write replaced the page with a new small folio */
	E_REUSE,	/* the write kept the page (PTE level: pgreuse moves) */
	E_NOFAULT,	/* the page was writable already: same PFN */
	E_MOVED,	/* move_pages: every page now on the other node */
	E_EACCES,	/* move_pages: refused, "maybe mapped shared" (status -EACCES) */
	E_STAYED,	/* move_pages: the migration failed, every page where it was */
};

/* Page numbers: literal, or relative to the folio of the row's size. */
#define ALL	0x10000		/* as a count: every page of the folio */
#define HALF	0x10001		/* half the folio's pages (as first or count) */
#define LAST	0x10002		/* the last page */

struct step {
	unsigned char proc;	/* 0 = P, 1 = C1, 2 = C2 */
	unsigned char op;
	unsigned int first, nr;
	int arg;
	int expect;
};

#define MAP(p)			{ p, OP_MAP, 0, 0, 0, 0 }
#define MAP_FIRST(p, n)		{ p, OP_MAP_FIRST, 0, n, 0, 0 }
#define FORK(p, c)		{ p, OP_FORK, 0, 0, c, 0 }
#define WRITE(p, f, n, e)	{ p, OP_WRITE, f, n, 0, e }
#define DONTNEED(p, f, n)	{ p, OP_DONTNEED, f, n, 0, 0 }
#define MUNMAP(p, f, n)		{ p, OP_MUNMAP, f, n, 0, 0 }
#define MPROTECT(p, f, n)	{ p, OP_MPROTECT, f, n, 0, 0 }
#define RDONLY(p)		{ p, OP_PROTECT, 0, ALL, 0, 0 }
#define RDWR(p)			{ p, OP_PROTECT, 0, ALL, 1, 0 }
#define PIN(p, f, n, w)		{ p, OP_PIN, f, n, w, 0 }
#define UNPIN(p)		{ p, OP_UNPIN, 0, 0, 0, 0 }
#define MOVE(p, fl, e)		{ p, OP_MOVE_PAGES, 0, ALL, fl, e }
#define MBIND(p)		{ p, OP_MBIND, 0, ALL, 0, 0 }
#define SPLIT(p)		{ p, OP_SPLIT, 0, ALL, 0, 0 }
#define MREMAP(p, misaligned)	{ p, OP_MREMAP, 0, 0, misaligned, 0 }
#define ORIG(p, f, n, yes)	{ p, OP_ORIG, f, n, 0, yes }
#define PMD_MAPPED(p, yes)	{ p, OP_PMD, 0, 0, 0, yes }
#define THP(p, f, n, yes)	{ p, OP_THP, f, n, 0, yes }
#define ZEROPAGE(p, f, n)	{ p, OP_ZEROPAGE, f, n, 0, 0 }
#define ABSENT(p, f, n)		{ p, OP_ABSENT, f, n, 0, 0 }
#define SHM(p)			{ p, OP_SHM, 0, 0, 0, 0 }
#define SHM_MAP(p, f, n)	{ p, OP_SHM_MAP, f, n, 0, 0 }
#define SHM_UNMAP(p, f)		{ p, OP_SHM_UNMAP, f, 0, 0, 0 }
#define PRIVATE_FILE(p)		{ p, OP_PRIVATE_FILE, 0, 0, 0, 0 }
#define EXIT(p)			{ p, OP_EXIT, 0, 0, 0, 0 }

#define P	0
#define C1	1
#define C2	2

#define EACH_SIZE	0	/* row size: run for every folio size */
#define SZ_64K		(64 << 10)
#define SZ_PMD		1	/* the PMD size found at run time */

#define STAT(name)	(1ull << FOLIOMAP_STAT_OP_##name)
#define COW		(1ull << FOLIOMAP_STAT_COW_CHECKED)

_Static_assert(FOLIOMAP_NR_STATS <= 64, "need masks are 64-bit");

struct scenario {
	const char *name;
	size_t size;		/* EACH_SIZE, SZ_PMD or a size in bytes */
	uint64_t need;		/* stats that must be > 0 after the case */
	uint64_t need_large;	/* ... when the folio is large */
	uint64_t need_pmd;	/* ... when it is PMD-sized */
	bool need_numa, need_gup;
	struct step steps[40];
};

static const struct scenario scenarios[] = {
	/* S01-S03/S17/S28: after fork the child's write copies; the parent keeps its page. */
	{ "fork, child writes page 0: COPY", EACH_SIZE,
	  COW | STAT(ADD_NEW_ANON), STAT(FORK), STAT(SPLIT_PMD),
	  false, false, {
		MAP(P), FORK(P, C1), ORIG(C1, 0, ALL, 1), PMD_MAPPED(C1, 2),
		WRITE(C1, 0, 1, E_COPY), ORIG(P, 0, ALL, 1), ORIG(C1, 1, LAST, 1),
		PMD_MAPPED(C1, 0), PMD_MAPPED(P, 2), EXIT(C1), EXIT(P) } },
	/* S03 step 1 / S18: the parent's write after fork copies too (PMD: split + COPY). */
	{ "fork, parent writes page 0: COPY", EACH_SIZE,
	  COW | STAT(ADD_NEW_ANON), STAT(FORK), STAT(SPLIT_PMD),
	  false, false, {
		MAP(P), FORK(P, C1), WRITE(P, 0, 1, E_COPY), ORIG(C1, 0, ALL, 1),
		PMD_MAPPED(P, 0), PMD_MAPPED(C1, 2), EXIT(C1), EXIT(P) } },
	/* S04/S20: once the child is gone the parent's write reuses (PMD: at PMD level). */
	{ "fork, child exits, parent writes: REUSE", EACH_SIZE,
	  COW, STAT(FORK) | STAT(REMOVE_PTES), STAT(REMOVE_PMD),
	  false, false, {
		MAP(P), FORK(P, C1), EXIT(C1), WRITE(P, 0, 1, E_REUSE), ORIG(P, 0, ALL, 1),
		PMD_MAPPED(P, 2), EXIT(P) } },
	/* S05: the parent unmaps everything; the child alone reuses. */
	{ "fork, parent unmaps all, child writes: REUSE", EACH_SIZE,
	  COW | STAT(REMOVE_PTES), STAT(FORK), STAT(REMOVE_PMD),
	  false, false, {
		MAP(P), FORK(P, C1), MUNMAP(P, 0, ALL), WRITE(C1, HALF, 1, E_REUSE),
		PMD_MAPPED(C1, 2), EXIT(C1), EXIT(P) } },
	/* S03: both sides copy the same page ([NOPMC] misses the partial mapping). */
	{ "S03 mTHP: parent and child copy page 3", SZ_64K,
	  COW | STAT(FORK) | STAT(ADD_NEW_ANON) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), FORK(P, C1), WRITE(P, 3, 1, E_COPY), WRITE(C1, 3, 1, E_COPY),
		ORIG(P, 4, 12, 1), ORIG(C1, 4, 12, 1), EXIT(C1), EXIT(P) } },
	/* S06: the "split halves" trap: every page mapped once, yet COPY until S clears. */
	{ "S06 mTHP: split halves, COPY until the parent's slot is released", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES) | STAT(ADD_NEW_ANON), 0, 0, false, false, {
		MAP(P), FORK(P, C1), DONTNEED(C1, 8, 8), DONTNEED(P, 0, 8),
		WRITE(P, 10, 1, E_COPY), WRITE(C1, 2, 1, E_COPY),
		WRITE(P, 8, 2, E_COPY), WRITE(P, 11, 5, E_COPY),
		WRITE(C1, 3, 1, E_REUSE), ORIG(C1, 4, 4, 1), EXIT(C1), EXIT(P) } },
	/* S07: the child copies all 16 pages; the 16th releases its slot; parent reuses. */
	{ "S07 mTHP: child copies every page, then the parent reuses", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), FORK(P, C1), WRITE(C1, 0, 16, E_COPY), WRITE(P, 9, 1, E_REUSE),
		ORIG(P, 0, 16, 1), EXIT(C1), EXIT(P) } },
	/* S08: exclusive again, but only one page left mapped: LM == 1 -> COPY. */
	{ "S08 mTHP: child exits, parent keeps one page: COPY", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), FORK(P, C1), EXIT(C1), DONTNEED(P, 1, 15), WRITE(P, 0, 1, E_COPY),
		EXIT(P) } },
	/* S09: both MMs unmap pages 0..3; the parent's write still copies (S=1). */
	{ "S09 mTHP: both unmap pages 0-3, parent writes: COPY", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), FORK(P, C1), DONTNEED(P, 0, 4), DONTNEED(C1, 0, 4),
		ABSENT(P, 0, 4), WRITE(P, 5, 1, E_COPY), EXIT(C1), EXIT(P) } },
	/* S10: third MM untracked; it exits, then C1: S clears, the parent reuses. */
	{ "S10 mTHP: three MMs, untracked and tracked child exit, parent: REUSE", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), FORK(P, C1), FORK(P, C2), ORIG(C2, 0, 16, 1), EXIT(C2), EXIT(C1),
		WRITE(P, 0, 1, E_REUSE), EXIT(P) } },
	/* S11: both tracked MMs exit; the untracked C2 keeps a sticky false "shared": COPY. */
	{ "S11 mTHP: three MMs, both tracked exit, untracked C2 writes: COPY", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES) | STAT(ADD_NEW_ANON), 0, 0, false, false, {
		MAP(P), FORK(P, C1), FORK(P, C2), EXIT(P), EXIT(C1), ORIG(C2, 0, 16, 1),
		WRITE(C2, 0, 1, E_COPY), WRITE(C2, 1, 1, E_COPY), EXIT(C2) } },
	/*
	 * The parent exits: its slot 0 is free, the child owns every mapping (S clear). The
	 * child forks: the grandchild takes slot 0 while mappings exist, so S is set (spec
	 * §2.2) and its write copies.
	 */
	{ "slot 0 taken again while mapped: S set, COPY", SZ_64K,
	  COW | STAT(FORK), 0, 0, false, false, {
		MAP(P), FORK(P, C1), EXIT(P), FORK(C1, C2), WRITE(C2, 0, 1, E_COPY),
		WRITE(C1, 1, 1, E_COPY), EXIT(C2), EXIT(C1) } },
	/*
	 * S12: from S11 step 4. move_pages() refuses the sticky-shared folio (status -EACCES,
	 * "maybe mapped shared") unless MPOL_MF_MOVE_ALL; migration heals S and C2 reuses.
	 */
	{ "S12 mTHP: sticky shared healed by move_pages MOVE_ALL, then REUSE", SZ_64K,
	  COW | STAT(FORK) | STAT(REMOVE_PTES) | STAT(TRY_TO_MIGRATE) |
	  STAT(REMOVE_MIGRATION_PTES) | STAT(RESTORE_PTE), 0, 0, true, false, {
		MAP(P), FORK(P, C1), FORK(P, C2), EXIT(P), EXIT(C1),
		MOVE(C2, MPOL_MF_MOVE, E_EACCES), ORIG(C2, 0, 16, 1),
		MOVE(C2, MPOL_MF_MOVE_ALL, E_MOVED), THP(C2, 0, 16, 1),
		WRITE(C2, 0, 1, E_REUSE), EXIT(C2) } },
	/* S13: a pinned mTHP at fork: the child gets copies, the folio is untouched. */
	{ "S13 mTHP: pinned at fork, child gets 16 copies", SZ_64K,
	  STAT(FORK) | STAT(ADD_NEW_ANON), 0, 0, false, true, {
		MAP(P), PIN(P, 0, 1, 1), FORK(P, C1), ORIG(C1, 0, 16, 0), THP(C1, 0, 16, 0),
		ORIG(P, 0, 16, 1), WRITE(P, 0, 16, E_NOFAULT), WRITE(C1, 0, 16, E_NOFAULT),
		UNPIN(P), EXIT(C1), EXIT(P) } },
	/* S14: pinned PAE page 0 + already-shared pages 1..15 at fork. */
	{ "S14 mTHP: pinned PAE page and shared pages at fork", SZ_64K,
	  COW | STAT(FORK) | STAT(ADD_NEW_ANON), 0, 0, false, true, {
		MAP(P), FORK(P, C1), EXIT(C1), WRITE(P, 0, 1, E_REUSE), PIN(P, 0, 1, 1),
		FORK(P, C2), ORIG(C2, 0, 1, 0), ORIG(C2, 1, 15, 1),
		WRITE(P, 5, 1, E_COPY), WRITE(P, 0, 1, E_NOFAULT), UNPIN(P),
		EXIT(C2), EXIT(P) } },
	/* S15: a read-only pin of a shared page unshares it: COPY in the pinning MM. */
	{ "S15 mTHP: read-only pin after fork: unshare COPY", SZ_64K,
	  COW | STAT(FORK) | STAT(ADD_NEW_ANON), 0, 0, false, true, {
		MAP(P), FORK(P, C1), PIN(P, 4, 1, 0), ORIG(P, 4, 1, 0), ORIG(P, 5, 11, 1),
		ORIG(C1, 0, 16, 1), UNPIN(P), EXIT(C1), EXIT(P) } },
	/* S15 variant: the child exited first, so the read-only pin's unshare REUSEs. */
	{ "S15 mTHP: child exits, read-only pin: unshare REUSE", SZ_64K,
	  COW | STAT(FORK), 0, 0, false, true, {
		MAP(P), FORK(P, C1), EXIT(C1), PIN(P, 4, 1, 0), ORIG(P, 0, 16, 1), UNPIN(P),
		EXIT(P) } },
	/* S18 + S19: parent splits its PMD and copies page 0; child exits; parent reuses. */
	{ "S18/S19 THP: parent copies after fork, child exits, parent: REUSE", SZ_PMD,
	  COW | STAT(FORK) | STAT(SPLIT_PMD) | STAT(REMOVE_PMD) | STAT(ADD_ANON_PTES),
	  0, 0, false, false, {
		MAP(P), FORK(P, C1), WRITE(P, 0, 1, E_COPY), PMD_MAPPED(P, 0),
		PMD_MAPPED(C1, 1), EXIT(C1), WRITE(P, 5, 1, E_REUSE), ORIG(P, 1, 511, 1),
		EXIT(P) } },
	/* S21 + S22: partial MADV_DONTNEED splits the PMD; debugfs splits the folio. */
	{ "S21/S22 THP: partial MADV_DONTNEED, then split_huge_pages", SZ_PMD,
	  STAT(SPLIT_PMD) | STAT(REMOVE_PTES) | STAT(DEFERRED_SPLIT) |
	  STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES) | STAT(RESTORE_PTE),
	  0, 0, false, false, {
		MAP(P), DONTNEED(P, 256, 256), PMD_MAPPED(P, 0), THP(P, 0, 256, 1),
		ABSENT(P, 256, 256), WRITE(P, 10, 1, E_NOFAULT), SPLIT(P),
		THP(P, 0, 256, 0), ORIG(P, 0, 256, 1), WRITE(P, 0, 256, E_NOFAULT),
		EXIT(P) } },
	/* S23: the split maps never-written subpages to the shared zeropage. */
	{ "S23 THP: split maps zero-filled subpages to the zeropage", SZ_PMD,
	  STAT(SPLIT_PMD) | STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES),
	  0, 0, false, false, {
		MAP_FIRST(P, 10), DONTNEED(P, 256, 256), SPLIT(P), ORIG(P, 0, 10, 1),
		THP(P, 0, 10, 0), ZEROPAGE(P, 10, 246), WRITE(P, 20, 1, E_COPY), EXIT(P) } },
	/*
	 * A THP split while still PMD-mapped: unmap_folio's try_to_migrate splits the PMD
	 * freezing it (split_huge_pmd_locked, freeze: the PMD mapping's reference goes,
	 * spec §6.1), every page then restored from its migration entry.
	 */
	{ "THP: split_huge_pages of a PMD-mapped THP (freezing PMD split)", SZ_PMD,
	  STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES), 0, 0, false, false, {
		MAP(P), PMD_MAPPED(P, 1), SPLIT(P), PMD_MAPPED(P, 0), THP(P, 0, ALL, 0),
		ORIG(P, 0, ALL, 1), WRITE(P, 0, ALL, E_NOFAULT), EXIT(P) } },
	/* S24: PTE-mapped THP (mprotect), fork, split halves: COPY on both sides. */
	{ "S24 THP: PTE-mapped by mprotect, fork, split halves: COPY", SZ_PMD,
	  COW | STAT(SPLIT_PMD) | STAT(FORK) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), MPROTECT(P, 1, 1), PMD_MAPPED(P, 0), THP(P, 0, 512, 1),
		ORIG(P, 0, 512, 1), FORK(P, C1), DONTNEED(C1, 256, 256), DONTNEED(P, 0, 256),
		WRITE(P, 300, 1, E_COPY), WRITE(C1, 10, 1, E_COPY), EXIT(C1), EXIT(P) } },
	/* S25: a pinned page makes the folio split fail; nothing changes. */
	{ "S25 THP: split_huge_pages fails while a page is pinned", SZ_PMD,
	  STAT(SPLIT_PMD) | STAT(REMOVE_PTES), 0, 0, false, true, {
		MAP(P), DONTNEED(P, 256, 256), PIN(P, 3, 1, 1), SPLIT(P), THP(P, 0, 256, 1),
		ORIG(P, 0, 256, 1), UNPIN(P), EXIT(P) } },
	/* S26: pinned PMD-mapped THP at fork: parent PMD split, child gets 512 copies. */
	{ "S26 THP: pinned at fork, parent's PMD split, child copies", SZ_PMD,
	  STAT(FORK) | STAT(SPLIT_PMD) | STAT(ADD_NEW_ANON), 0, 0, false, true, {
		MAP(P), PIN(P, 0, 1, 1), FORK(P, C1), PMD_MAPPED(P, 0), ORIG(P, 0, 512, 1),
		ORIG(C1, 0, 512, 0), THP(C1, 0, 512, 0), WRITE(P, 0, 512, E_NOFAULT),
		UNPIN(P), EXIT(C1), EXIT(P) } },
	/* S27: move_pages of a PMD-mapped THP goes through a PMD migration entry. */
	{ "S27 THP: move_pages to the other node (PMD migration entry)", SZ_PMD,
	  STAT(MIGRATE_PMD) | STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES),
	  0, 0, true, false, {
		MAP(P), MOVE(P, MPOL_MF_MOVE, E_MOVED), PMD_MAPPED(P, 1), THP(P, 0, 512, 1),
		WRITE(P, 0, 1, E_NOFAULT), EXIT(P) } },
	/* A read-only exclusive THP migrates through a readable-exclusive PMD entry. */
	{ "read-only THP: move_pages (readable-exclusive PMD entry), PAE restored", SZ_PMD,
	  STAT(MIGRATE_PMD) | STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES),
	  0, 0, true, false, {
		MAP(P), RDONLY(P), MOVE(P, MPOL_MF_MOVE, E_MOVED), PMD_MAPPED(P, 1),
		THP(P, 0, 512, 1), RDWR(P), EXIT(P) } },
	/* A pinned exclusive folio cannot be unmapped for migration (spec §3.9, §6.5). */
	{ "pinned folio: move_pages fails, nothing changes", EACH_SIZE,
	  STAT(ADD_NEW_ANON), 0, STAT(MIGRATE_PMD), true, true, {
		MAP(P), PIN(P, 0, 1, 1), MOVE(P, MPOL_MF_MOVE, E_STAYED), ORIG(P, 0, ALL, 1),
		UNPIN(P), EXIT(P) } },
	/* S27 note: a PTE-mapped, partially mapped THP is split by migrate_pages_batch. */
	{ "S21+move_pages: a partially mapped THP is split, then migrated", SZ_PMD,
	  STAT(SPLIT_PMD) | STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES),
	  0, 0, true, false, {
		MAP(P), DONTNEED(P, 256, 256), { P, OP_MOVE_PAGES, 0, 256, MPOL_MF_MOVE, E_MOVED },
		THP(P, 0, 1, 0), WRITE(P, 0, 1, E_NOFAULT), EXIT(P) } },
	/* Pinned: the split migrate_pages_batch tries first fails (-EAGAIN, spec §6.4). */
	{ "pinned, partially mapped THP: move_pages cannot split it, nothing moves", SZ_PMD,
	  STAT(SPLIT_PMD) | STAT(FOLIO_SPLIT), 0, 0, true, true, {
		MAP(P), DONTNEED(P, 256, 256), PIN(P, 3, 1, 1),
		{ P, OP_MOVE_PAGES, 0, 256, MPOL_MF_MOVE, E_STAYED }, THP(P, 0, 256, 1),
		ORIG(P, 0, 256, 1), UNPIN(P), EXIT(P) } },
	/* Both MMs' PMD migration entries are restored: the second adds no ENTIRELY_MAPPED. */
	{ "forked THP: move_pages MOVE_ALL restores both PMD mappings", SZ_PMD,
	  STAT(FORK) | STAT(MIGRATE_PMD) | STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES),
	  0, 0, true, false, {
		MAP(P), FORK(P, C1), MOVE(P, MPOL_MF_MOVE_ALL, E_MOVED), PMD_MAPPED(P, 1),
		PMD_MAPPED(C1, 1), THP(C1, 0, 512, 1), EXIT(C1), WRITE(P, 0, 1, E_REUSE),
		EXIT(P) } },
	/* S28: the child copies first, then the parent (split of both PMDs). */
	{ "S28 THP: child writes, then parent: COPY twice", SZ_PMD,
	  COW | STAT(FORK) | STAT(SPLIT_PMD), 0, 0, false, false, {
		MAP(P), FORK(P, C1), WRITE(C1, 0, 1, E_COPY), WRITE(P, 0, 1, E_COPY),
		ORIG(C1, 1, 511, 1), ORIG(P, 1, 511, 1), EXIT(C1), EXIT(P) } },
	/* S29 (b): munmap the last page, then the rest: partially mapped in between. */
	{ "S29 mTHP: munmap page 15, then pages 0-14", SZ_64K,
	  STAT(REMOVE_PTES) | STAT(DEFERRED_SPLIT), 0, 0, false, false, {
		MAP(P), MUNMAP(P, 15, 1), ABSENT(P, 15, 1), MUNMAP(P, 0, 15), EXIT(P) } },
	/* S30: fork a PTE-mapped THP, parent unmaps half, child exits, parent reuses. */
	{ "S30 THP: fork, parent unmaps half, child exits, parent: REUSE", SZ_PMD,
	  COW | STAT(FORK) | STAT(SPLIT_PMD) | STAT(REMOVE_PTES), 0, 0, false, false, {
		MAP(P), MPROTECT(P, 1, 1), FORK(P, C1), MUNMAP(P, 256, 256), EXIT(C1),
		WRITE(P, 7, 1, E_REUSE), EXIT(P) } },
	/* S31: mremap to a PMD-aligned address keeps the PMD; a misaligned one splits it. */
	{ "S31 THP: mremap aligned keeps the PMD, misaligned splits it", SZ_PMD,
	  STAT(SPLIT_PMD), 0, 0, false, false, {
		MAP(P), MREMAP(P, 0), PMD_MAPPED(P, 1), ORIG(P, 0, 512, 1), MREMAP(P, 1),
		PMD_MAPPED(P, 0), ORIG(P, 0, 512, 1), THP(P, 0, 512, 1),
		WRITE(P, 0, 512, E_NOFAULT), EXIT(P) } },
	/* mremap of a (forked) mTHP changes nothing; CoW after the move behaves the same. */
	{ "mremap of a forked mTHP, child writes: COPY", SZ_64K,
	  COW | STAT(FORK), 0, 0, false, false, {
		MAP(P), FORK(P, C1), MREMAP(C1, 1), ORIG(C1, 0, 16, 1),
		WRITE(C1, 2, 1, E_COPY), EXIT(C1), WRITE(P, 2, 1, E_REUSE), EXIT(P) } },
	/* Partial MADV_DONTNEED of an mTHP: partially mapped, the rest stays writable. */
	{ "partial MADV_DONTNEED of an mTHP", SZ_64K,
	  STAT(REMOVE_PTES) | STAT(DEFERRED_SPLIT), 0, 0, false, false, {
		MAP(P), DONTNEED(P, 4, 4), ABSENT(P, 4, 4), THP(P, 0, 4, 1),
		WRITE(P, 0, 4, E_NOFAULT), WRITE(P, 8, 8, E_NOFAULT), EXIT(P) } },
	/* mbind(MPOL_MF_MOVE) migrates an exclusive mTHP whole. */
	{ "mbind MPOL_MF_MOVE of an mTHP to the other node", SZ_64K,
	  STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES) | STAT(RESTORE_PTE),
	  0, 0, true, false, {
		MAP(P), MBIND(P), THP(P, 0, 16, 1), ORIG(P, 0, 16, 0),
		WRITE(P, 0, 16, E_NOFAULT), EXIT(P) } },
	/*
	 * A shared file folio: C2 maps half of it while P and C1 own both slots (untracked),
	 * C1 exits, C2 maps one more page and takes the free slot with a count of 0, then
	 * unmaps its 8 untracked pages in one batch: the slot underflows to -8 and is
	 * released like any underflow (spec §2.3).
	 */
	{ "shared file mTHP: a slot taken late underflows by 8 and is released", SZ_64K,
	  STAT(ADD_FILE_PTES) | STAT(REMOVE_PTES), 0, 0, false, false, {
		SHM(P), FORK(P, C1), FORK(P, C2), SHM_MAP(P, 0, 16), SHM_MAP(C1, 0, 16),
		SHM_MAP(C2, 0, 8), EXIT(C1), SHM_MAP(C2, 8, 1), SHM_UNMAP(C2, 0),
		SHM_UNMAP(C2, 8), EXIT(C2), SHM_UNMAP(P, 0), EXIT(P) } },
	/* move_pages of a forked mTHP with MOVE_ALL: both MMs follow the folio. */
	{ "move_pages MOVE_ALL of a forked mTHP, then CoW", SZ_64K,
	  COW | STAT(FORK) | STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES),
	  0, 0, true, false, {
		MAP(P), FORK(P, C1), MOVE(P, MPOL_MF_MOVE_ALL, E_MOVED), THP(C1, 0, 16, 1),
		WRITE(C1, 0, 1, E_COPY), EXIT(C1), WRITE(P, 1, 1, E_REUSE), EXIT(P) } },
	/*
	 * Anon folios of a MAP_PRIVATE file mapping are found by the VMA's anonymous page
	 * offset, not by its file offset (vm_pgoff): the migration entries try_to_migrate
	 * installs are where the rmap walk finds the pages.
	 */
	{ "MAP_PRIVATE file pages written (anon copies), mbind MPOL_MF_MOVE", SZ_64K,
	  STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES) | STAT(RESTORE_PTE),
	  0, 0, true, false, {
		SHM(P), PRIVATE_FILE(P), THP(P, 0, 16, 0),
		MBIND(P), ORIG(P, 0, 16, 0), WRITE(P, 0, 16, E_NOFAULT), EXIT(P) } },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ------------------------------------------------------------------------------------ */
/* Page inspection (in the process that owns the mapping)                               */

static size_t page_size, pmd_size;

static int write_file(const char *path, const char *buf)
{
	int fd = open(path, O_WRONLY), err = 0;
	ssize_t len = strlen(buf);

	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != len)
		err = -errno;
	close(fd);
	return err;
}

static long read_long_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* ------------------------------------------------------------------------------------ */
/* The helper processes                                                                 */

/* The region of the scenario, as this process sees it (copied into children at fork). */
static struct {
	char *base;
	size_t size;
	unsigned int nr;
	uint64_t orig[MAX_PAGES];
} region;
/* The scenario's shared file and this process's VMAs of it (copied at fork, too). */
#define MAX_SHM_VMAS	4
static int shm_fd = -1;
static size_t shm_size;
static struct shm_vma {
	char *addr;
	unsigned int first, nr;
} shm_vmas[MAX_SHM_VMAS];
static int gup_fd = -1;
static int cmd_fd[MAX_PROCS][2], resp_fd[MAX_PROCS][2];

struct cmd {
	struct step step;
	size_t size;
};

struct resp {
	int status;		/* 0 ok, 1 failed, 2 skip (the kernel could not set it up) */
	pid_t pid;
	char msg[200];
};

static unsigned int resolve(unsigned int v)
{
	switch (v) {
	case ALL: return region.nr;
	case HALF: return region.nr / 2;
	case LAST: return region.nr - 1;
	default: return v;
	}
}

#define FAIL(r, ...) ({ snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__); (r)->status = 1; })
#define SKIP(r, ...) ({ snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__); (r)->status = 2; })

static unsigned char fill_byte(unsigned int page)
{
	return 0x80 | (page % 127);
}

static void do_map(size_t size, unsigned int nr_written, struct resp *r)
{
	unsigned int nr = size / page_size, i;
	char *area, *addr;
	long huge_kb;

	if (nr > MAX_PAGES)
		return (void)SKIP(r, "folio of %zu KiB is larger than the test supports", size >> 10);
	area = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return (void)FAIL(r, "mmap: %s", strerror(errno));
	addr = (char *)(((uintptr_t)area + size - 1) & ~(uintptr_t)(size - 1));
	if (addr > area)
		munmap(area, addr - area);
	munmap(addr + size, area + 2 * size - (addr + size));
	if (madvise(addr, size, nr == 1 ? MADV_NOHUGEPAGE : MADV_HUGEPAGE))
		return (void)FAIL(r, "madvise: %s", strerror(errno));
	region.base = addr;
	region.size = size;
	region.nr = nr;
	/* The first touch is a write to page 0 (spec §11.0); then fill without faults. */
	for (i = 0; i < nr && i < nr_written; i++)
		memset(addr + i * page_size, fill_byte(i), page_size);
	if (nr_written < nr)	/* touch the rest by reading: stays zero-filled */
		for (i = nr_written; i < nr; i++)
			(void)*(volatile char *)(addr + i * page_size);
	for (i = 0; i < nr; i++) {
		region.orig[i] = pfn_of(addr + i * page_size);
		if (!region.orig[i])
			return (void)FAIL(r, "page %u not mapped after populating (not root?)", i);
	}
	if (nr == 1)
		return pfn_is_thp(region.orig[0]) ? (void)SKIP(r, "got a THP for a 4 KiB VMA") : (void)0;
	if (region.orig[0] % nr || !(kpageflags_of(region.orig[0]) & (1ULL << KPF_COMPOUND_HEAD)))
		return (void)SKIP(r, "no %zu KiB folio (pfn %#" PRIx64 ")", size >> 10, region.orig[0]);
	for (i = 0; i < nr; i++)
		if (region.orig[i] != region.orig[0] + i || !pfn_is_thp(region.orig[i]))
			return (void)SKIP(r, "page %u is not part of one %zu KiB folio", i, size >> 10);
	huge_kb = smaps_anon_huge_kb(addr);
	if (size == pmd_size ? huge_kb < (long)(size >> 10) : huge_kb != 0)
		return (void)SKIP(r, "AnonHugePages %ld kB for a %zu KiB folio", huge_kb, size >> 10);
}

/*
 * A small folio still sitting in another CPU's LRU batch holds one more reference, and
 * do_wp_page() drains only the local batch: the write would COPY (spec §7.3; the model
 * allows both, cow_fact_dependent). Writing drop_caches drains every CPU's batch
 * (lru_add_drain_all), so a REUSE the spec expects is the kernel's only choice.
 */
static void drain_lru_all(void)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		write_file("/proc/sys/vm/drop_caches", "1");
}

static void do_write(unsigned int first, unsigned int nr, int expect, struct resp *r)
{
	unsigned int i;

	for (i = first; i < first + nr; i++) {
		char *p = region.base + i * page_size;
		uint64_t before, after;
		long long reuse = 0;
		unsigned char keep = p[1];

		if (expect == E_REUSE) {
			drain_lru_all();
			reuse = vmstat_read("pgreuse");
		}
		before = pfn_of(p);

		p[0] = 0x11;
		after = pfn_of(p);
		if (!before || !after)
			return (void)FAIL(r, "page %u not mapped (pfn %#" PRIx64 " -> %#" PRIx64 ")",
					  i, before, after);
		if ((unsigned char)p[1] != keep)
			return (void)FAIL(r, "page %u: contents changed by the write fault", i);
		switch (expect) {
		case E_COPY:
			if (after == before)
				return (void)FAIL(r, "page %u: expected COPY, kernel REUSED pfn %#" PRIx64,
						  i, before);
			if (pfn_is_thp(after))
				return (void)FAIL(r, "page %u: COPY into a large folio", i);
			break;
		case E_REUSE:
		case E_NOFAULT:
			if (after != before)
				return (void)FAIL(r, "page %u: expected %s, kernel COPIED (pfn %#" PRIx64
						  " -> %#" PRIx64 ")", i,
						  expect == E_REUSE ? "REUSE" : "no fault", before, after);
			/* A PTE-level reuse is counted; do_huge_pmd_wp_page's is not. */
			if (expect == E_REUSE && smaps_anon_huge_kb(p) <= 0 &&
			    vmstat_read("pgreuse") <= reuse)
				return (void)FAIL(r, "page %u: same pfn but pgreuse did not move", i);
			break;
		}
	}
}

static bool range_ok(unsigned int first, unsigned int nr, struct resp *r)
{
	if (!region.base || first + nr > region.nr || !nr) {
		FAIL(r, "bad page range %u+%u (region of %u pages)", first, nr, region.nr);
		return false;
	}
	return true;
}

static void do_move(unsigned int first, unsigned int nr, int flags, int expect, bool mbind,
		    struct resp *r)
{
	void *pages[MAX_PAGES];
	int nodes[MAX_PAGES], status[MAX_PAGES];
	int from = page_node(region.base + first * page_size), to;
	unsigned int i;

	if (from < 0)
		return (void)FAIL(r, "move_pages query: %s", strerror(-from));
	to = !from;
	for (i = 0; i < nr; i++) {
		pages[i] = region.base + (first + i) * page_size;
		nodes[i] = to;
		status[i] = -1;
	}
	if (mbind) {
		unsigned long mask = 1UL << to;

		if (syscall(SYS_mbind, pages[0], nr * page_size, MPOL_BIND, &mask,
			    sizeof(mask) * 8, MPOL_MF_MOVE | MPOL_MF_STRICT))
			return (void)FAIL(r, "mbind to node %d: %s", to, strerror(errno));
	} else if (syscall(SYS_move_pages, 0, 1UL, pages, nodes, status, flags) < 0) {
		/* One address per folio: the whole folio moves (or none of it). */
		return (void)FAIL(r, "move_pages: %s", strerror(errno));
	}
	for (i = 0; i < nr; i++) {
		int node = page_node(pages[i]);

		if (expect == E_EACCES && !mbind) {
			if (status[0] != -EACCES || node != from)
				return (void)FAIL(r, "page %u: move_pages status %d, node %d; expected "
						  "-EACCES (maybe mapped shared), node %d",
						  first + i, status[0], node, from);
		} else if (expect == E_STAYED) {
			if (status[0] >= 0 || node != from ||
			    pfn_of(pages[i]) != region.orig[first + i])
				return (void)FAIL(r, "page %u: move_pages status %d, node %d; expected "
						  "a failed migration, node %d, same pfn",
						  first + i, status[0], node, from);
		} else if (node != to || pfn_of(pages[i]) == region.orig[first + i]) {
			return (void)FAIL(r, "page %u: on node %d (status %d), wanted node %d with a "
					  "new pfn", first + i, node, mbind ? 0 : status[0], to);
		}
	}
}

static void do_mremap(bool misaligned, struct resp *r)
{
	size_t size = region.size, span = 3 * size + pmd_size;
	char *area, *target, *moved;

	area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return (void)FAIL(r, "mmap: %s", strerror(errno));
	target = (char *)(((uintptr_t)area + pmd_size - 1) & ~(uintptr_t)(pmd_size - 1));
	if (misaligned)
		target += page_size;
	moved = mremap(region.base, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (moved == MAP_FAILED)
		return (void)FAIL(r, "mremap: %s", strerror(errno));
	if (target > area)
		munmap(area, target - area);
	munmap(target + size, area + span - (target + size));
	region.base = moved;
}

static void do_split(unsigned int first, unsigned int nr, struct resp *r)
{
	char buf[96];
	int err;

	snprintf(buf, sizeof(buf), "%d,%#lx,%#lx", getpid(),
		 (unsigned long)(region.base + first * page_size),
		 (unsigned long)(region.base + (first + nr) * page_size));
	err = write_file(SPLIT_PATH, buf);
	if (err)
		FAIL(r, "write '%s' to %s: %s", buf, SPLIT_PATH, strerror(-err));
}

static void do_shm_create(size_t size, struct resp *r)
{
	unsigned int i, nr = size / page_size;
	char *buf;

	shm_fd = memfd_create("shadow_test", 0);
	if (shm_fd < 0)
		return (void)FAIL(r, "memfd_create: %s", strerror(errno));
	if (ftruncate(shm_fd, size))
		return (void)FAIL(r, "ftruncate: %s", strerror(errno));
	buf = malloc(size);
	if (!buf)
		return (void)FAIL(r, "out of memory");
	for (i = 0; i < nr; i++)
		memset(buf + i * page_size, fill_byte(i), page_size);
	/* One write of the whole file: one folio of its size ("within_size", main()). */
	if (pwrite(shm_fd, buf, size, 0) != (ssize_t)size)
		FAIL(r, "write to the memfd: %s", strerror(errno));
	free(buf);
	shm_size = size;
}

/* Maps file pages [first, first + nr) in a VMA of their own and reads them. */
static void do_shm_map(unsigned int first, unsigned int nr, struct resp *r)
{
	unsigned int i, slot;
	uint64_t pfn0;
	char *addr;

	if (shm_fd < 0 || !nr || (first + nr) * page_size > shm_size)
		return (void)FAIL(r, "bad file range %u+%u", first, nr);
	for (slot = 0; slot < MAX_SHM_VMAS && shm_vmas[slot].addr; slot++)
		;
	if (slot == MAX_SHM_VMAS)
		return (void)FAIL(r, "more than %d file VMAs", MAX_SHM_VMAS);
	addr = mmap(NULL, nr * page_size, PROT_READ, MAP_SHARED, shm_fd, first * page_size);
	if (addr == MAP_FAILED)
		return (void)FAIL(r, "mmap of the memfd: %s", strerror(errno));
	shm_vmas[slot] = (struct shm_vma){ addr, first, nr };
	for (i = 0; i < nr; i++)
		if (addr[i * page_size + 1] != (char)fill_byte(first + i))
			return (void)FAIL(r, "file page %u: wrong contents", first + i);
	pfn0 = pfn_of(addr) - first;	/* the folio's first pfn, if it is one folio */
	if (pfn0 + first == 0 || pfn0 % (shm_size / page_size))
		return (void)SKIP(r, "file page %u: pfn %#" PRIx64 " not in a %zu KiB folio", first,
				  pfn0 + first, shm_size >> 10);
	for (i = 0; i < nr; i++)
		if (pfn_of(addr + i * page_size) != pfn0 + first + i ||
		    !pfn_is_thp(pfn0 + first + i))
			return (void)SKIP(r, "file page %u is not part of one %zu KiB folio",
					  first + i, shm_size >> 10);
}

/* The region is the whole memfd mapped MAP_PRIVATE; each write copies a file page. */
static void do_private_file(struct resp *r)
{
	unsigned int i, nr = shm_size / page_size;
	char *addr;

	if (shm_fd < 0 || nr > MAX_PAGES)
		return (void)FAIL(r, "no memfd of a supported size");
	addr = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, shm_fd, 0);
	if (addr == MAP_FAILED)
		return (void)FAIL(r, "mmap of the memfd: %s", strerror(errno));
	region.base = addr;
	region.size = shm_size;
	region.nr = nr;
	for (i = 0; i < nr; i++) {
		memset(addr + i * page_size, fill_byte(i), page_size);
		region.orig[i] = pfn_of(addr + i * page_size);
		if (!region.orig[i])
			return (void)FAIL(r, "page %u not mapped after the write", i);
	}
}

static void do_shm_unmap(unsigned int first, struct resp *r)
{
	unsigned int slot;

	for (slot = 0; slot < MAX_SHM_VMAS; slot++) {
		struct shm_vma *v = &shm_vmas[slot];

		if (v->addr && v->first == first) {
			if (munmap(v->addr, v->nr * page_size))
				FAIL(r, "munmap: %s", strerror(errno));
			v->addr = NULL;
			return;
		}
	}
	FAIL(r, "no file VMA at file page %u", first);
}

static void do_pin(unsigned int first, unsigned int nr, bool write, struct resp *r)
{
	struct gup_pin_longterm args = {
		.addr = (uintptr_t)(region.base + first * page_size),
		.size = nr * page_size,
		.flags = write ? GUP_PIN_FLAG_WRITE : 0,
	};

	if (gup_fd < 0)
		gup_fd = open(GUP_TEST_PATH, O_RDWR);
	if (gup_fd < 0)
		return (void)FAIL(r, "open %s: %s", GUP_TEST_PATH, strerror(errno));
	if (ioctl(gup_fd, GUP_PIN_START, &args))
		FAIL(r, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
}

static void do_check(const struct step *s, unsigned int first, unsigned int nr, struct resp *r)
{
	unsigned int i;
	uint64_t zero_pfn = 0;
	long kb;

	switch (s->op) {
	case OP_PMD: {
		bool pmd = s->expect == 2 ? region.size == pmd_size : s->expect;

		kb = smaps_anon_huge_kb(region.base);
		if (pmd ? kb < (long)(pmd_size >> 10) : kb != 0)
			FAIL(r, "AnonHugePages %ld kB: expected %s", kb,
			     pmd ? "PMD-mapped" : "PTE-mapped");
		return;
	}
	}
	for (i = first; i < first + nr; i++) {
		uint64_t pfn = pfn_of(region.base + i * page_size);

		switch (s->op) {
		case OP_ORIG:
			if (s->expect ? pfn != region.orig[i] : pfn == region.orig[i] || !pfn)
				return (void)FAIL(r, "page %u: pfn %#" PRIx64 ", folio's %#" PRIx64
						  ": expected %s", i, pfn, region.orig[i],
						  s->expect ? "the original" : "another present page");
			if (region.base[i * page_size + 1] != (char)fill_byte(i))
				return (void)FAIL(r, "page %u: contents lost", i);
			break;
		case OP_THP:
			if (!pfn || pfn_is_thp(pfn) != !!s->expect)
				return (void)FAIL(r, "page %u (pfn %#" PRIx64 "): %s a large folio", i,
						  pfn, s->expect ? "not in" : "still in");
			break;
		case OP_ZEROPAGE:
			if (!zero_pfn)
				zero_pfn = pfn;
			if (!pfn || pfn != zero_pfn || pfn_is_thp(pfn) ||
			    !(kpageflags_of(pfn) & (1ULL << KPF_ZERO_PAGE)))
				return (void)FAIL(r, "page %u (pfn %#" PRIx64 ", flags %#" PRIx64
						  "): not the zeropage", i, pfn,
						  pfn ? kpageflags_of(pfn) : 0);
			break;
		case OP_ABSENT:
			if (pfn)
				return (void)FAIL(r, "page %u still mapped (pfn %#" PRIx64 ")", i, pfn);
			break;
		}
	}
}

static void serve(unsigned int slot) __attribute__((noreturn));

/* Runs one command; a fork returns in the child with *child_slot set. */
static void run_cmd(const struct cmd *c, struct resp *r, int *child_slot)
{
	const struct step *s = &c->step;
	unsigned int first = resolve(s->first), nr = resolve(s->nr);
	char *p = region.base + first * page_size;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	switch (s->op) {
	case OP_MAP:
		return do_map(c->size, ~0u, r);
	case OP_MAP_FIRST:
		return do_map(c->size, nr, r);
	case OP_FORK:
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return (void)FAIL(r, "fork: %s", strerror(errno));
		if (pid == 0)
			*child_slot = s->arg;
		return;
	case OP_UNPIN:
		if (gup_fd < 0 || ioctl(gup_fd, GUP_PIN_STOP))
			FAIL(r, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
		return;
	case OP_MREMAP:
		return do_mremap(s->arg, r);
	case OP_PMD:
		return do_check(s, 0, 0, r);
	case OP_SHM:
		return do_shm_create(c->size, r);
	case OP_SHM_MAP:
		return do_shm_map(first, nr, r);
	case OP_SHM_UNMAP:
		return do_shm_unmap(first, r);
	case OP_PRIVATE_FILE:
		return do_private_file(r);
	}
	if (!nr)	/* an empty range (e.g. "pages 1..LAST" of a 4 KiB folio) */
		return;
	if (!range_ok(first, nr, r))
		return;
	switch (s->op) {
	case OP_WRITE:
		return do_write(first, nr, s->expect, r);
	case OP_DONTNEED:
		if (madvise(p, nr * page_size, MADV_DONTNEED))
			FAIL(r, "MADV_DONTNEED: %s", strerror(errno));
		return;
	case OP_MUNMAP:
		if (munmap(p, nr * page_size))
			FAIL(r, "munmap: %s", strerror(errno));
		return;
	case OP_MPROTECT:
		if (mprotect(p, nr * page_size, PROT_READ) ||
		    mprotect(p, nr * page_size, PROT_READ | PROT_WRITE))
			FAIL(r, "mprotect: %s", strerror(errno));
		return;
	case OP_PROTECT:
		if (mprotect(p, nr * page_size, s->arg ? PROT_READ | PROT_WRITE : PROT_READ))
			FAIL(r, "mprotect: %s", strerror(errno));
		return;
	case OP_PIN:
		return do_pin(first, nr, s->arg, r);
	case OP_MOVE_PAGES:
		return do_move(first, nr, s->arg, s->expect, false, r);
	case OP_MBIND:
		return do_move(first, nr, 0, E_MOVED, true, r);
	case OP_SPLIT:
		return do_split(first, nr, r);
	default:
		return do_check(s, first, nr, r);
	}
}

/* A helper process: obeys commands on its pipe until OP_EXIT (or the harness dies). */
static void serve(unsigned int slot)
{
	struct resp r = { .pid = getpid() };
	struct cmd c;
	int err;

	signal(SIGCHLD, SIG_IGN);	/* children this helper forks reap themselves */
	alarm(300);			/* never outlive a hung harness for long */
	/* The inherited pagemap descriptor reads the parent's tables: reopen. */
	err = mm_probe_reopen_pagemap();
	if (err)
		FAIL(&r, "open /proc/self/pagemap: %s", strerror(-err));
	if (write(resp_fd[slot][1], &r, sizeof(r)) != sizeof(r))
		_exit(3);
	for (;;) {
		int child_slot = -1;

		if (read(cmd_fd[slot][0], &c, sizeof(c)) != sizeof(c))
			_exit(3);
		if (c.step.op == OP_EXIT)
			_exit(0);
		run_cmd(&c, &r, &child_slot);
		if (child_slot >= 0)
			serve(child_slot);
		r.pid = getpid();
		if (write(resp_fd[slot][1], &r, sizeof(r)) != sizeof(r))
			_exit(3);
	}
}

/* ------------------------------------------------------------------------------------ */
/* The harness side                                                                     */


static int read_stats(uint64_t *v)
{
	return foliomap_read_counters(FOLIOMAP_STATS_PATH, v);
}

static void print_mismatches(void)
{
	char line[512];
	FILE *f = fopen("/sys/kernel/debug/" FOLIOMAP_DEBUGFS_DIR "/" FOLIOMAP_MISMATCHES_FILE, "r");

	if (!f) {
		ksft_print_msg("cannot read the mismatches file: %s\n", strerror(errno));
		return;
	}
	ksft_print_msg("---- %s ----\n", FOLIOMAP_MISMATCHES_FILE);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		ksft_print_msg("%s\n", line);
	}
	fclose(f);
}

static void print_stats(const uint64_t *v)
{
	char buf[1024];
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		if (v[i])
			len += snprintf(buf + len, sizeof(buf) - len, " %s=%llu", foliomap_stat_names[i],
					(unsigned long long)v[i]);
	ksft_print_msg("stats:%s\n", len ? buf : " (all zero)");
}

struct procs {
	pid_t pid[MAX_PROCS];
	int pidfd[MAX_PROCS];
	bool alive[MAX_PROCS];
};

static int wait_gone(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, 60000) == 1 ? 0 : -1;
}

static int get_resp(struct procs *ps, unsigned int slot, struct resp *r)
{
	struct pollfd pfd = { .fd = resp_fd[slot][0], .events = POLLIN };

	if (poll(&pfd, 1, 120000) != 1 || read(resp_fd[slot][0], r, sizeof(*r)) != sizeof(*r)) {
		snprintf(r->msg, sizeof(r->msg), "helper %u does not answer", slot);
		r->status = 1;
		return -1;
	}
	if (!ps->alive[slot]) {
		ps->pid[slot] = r->pid;
		ps->pidfd[slot] = syscall(SYS_pidfd_open, r->pid, 0);
		ps->alive[slot] = true;
	}
	return 0;
}

static void send_cmd(unsigned int slot, const struct step *s, size_t size)
{
	struct cmd c = { .step = *s, .size = size };

	if (write(cmd_fd[slot][1], &c, sizeof(c)) != sizeof(c))
		ksft_exit_fail_msg("cannot command helper %u: %s\n", slot, strerror(errno));
}

static void exit_proc(struct procs *ps, unsigned int slot)
{
	struct step s = { .proc = slot, .op = OP_EXIT };

	send_cmd(slot, &s, 0);
	if (ps->pidfd[slot] >= 0) {
		wait_gone(ps->pidfd[slot]);
		close(ps->pidfd[slot]);
	}
	ps->alive[slot] = false;
}

static const char *const step_names[] = {
	[OP_MAP] = "map", [OP_MAP_FIRST] = "map", [OP_FORK] = "fork", [OP_WRITE] = "write",
	[OP_DONTNEED] = "MADV_DONTNEED", [OP_MUNMAP] = "munmap", [OP_MPROTECT] = "mprotect", [OP_PROTECT] = "mprotect to",
	[OP_PIN] = "pin", [OP_UNPIN] = "unpin", [OP_MOVE_PAGES] = "move_pages",
	[OP_MBIND] = "mbind", [OP_SPLIT] = "split_huge_pages", [OP_MREMAP] = "mremap",
	[OP_ORIG] = "check pfns", [OP_PMD] = "check PMD mapping", [OP_THP] = "check THP",
	[OP_ZEROPAGE] = "check zeropage", [OP_ABSENT] = "check unmapped",
	[OP_SHM] = "create shared file", [OP_SHM_MAP] = "map file", [OP_SHM_UNMAP] = "unmap file",
	[OP_PRIVATE_FILE] = "map file MAP_PRIVATE, write",
	[OP_EXIT] = "exit",
};
static const char *const proc_names[] = { "P", "C1", "C2" };

/* Runs the steps; returns 0, or 1 (failed) / 2 (skip) with the reason in why. */
static int run_steps(const struct scenario *sc, size_t size, char *why, size_t why_len)
{
	struct procs ps = { .pidfd = { -1, -1, -1 } };
	const struct step *s = sc->steps;
	struct resp r = { 0 };
	unsigned int i, n = 0;
	int status = 0;

	for (i = 0; i < MAX_PROCS; i++)
		if (pipe(cmd_fd[i]) || pipe(resp_fd[i]))
			ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(NULL);
	if (fork() == 0)
		serve(P);
	if (get_resp(&ps, P, &r) || r.status)
		goto out;

	for (; s->op != OP_END; s++, n++) {
		if (!ps.alive[s->proc]) {
			snprintf(r.msg, sizeof(r.msg), "process %s is not running", proc_names[s->proc]);
			r.status = 1;
			break;
		}
		if (s->op == OP_EXIT) {
			exit_proc(&ps, s->proc);
			continue;
		}
		send_cmd(s->proc, s, size);
		if (get_resp(&ps, s->proc, &r) || r.status)
			break;
		/* The new child announces itself on its own pipe. */
		if (s->op == OP_FORK && (get_resp(&ps, s->arg, &r) || r.status))
			break;
	}
out:
	if (r.status) {
		status = r.status;
		snprintf(why, why_len, "step %u (%s %s): %s", n, proc_names[s->proc],
			 step_names[s->op] ? step_names[s->op] : "?", r.msg);
	}
	for (i = 0; i < MAX_PROCS; i++)
		if (ps.alive[i])
			exit_proc(&ps, i);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (i = 0; i < MAX_PROCS; i++) {
		close(cmd_fd[i][0]);
		close(cmd_fd[i][1]);
		close(resp_fd[i][0]);
		close(resp_fd[i][1]);
	}
	return status;
}

static bool one_cpu;
/* Every case's counters, summed: the run's totals (printed last, read by vm-suite). */
static uint64_t totals[FOLIOMAP_NR_STATS];

static void run_case(const struct scenario *sc, size_t size, const char *desc)
{
	const uint64_t walk_ops = (1ull << FOLIOMAP_STAT_OP_REMOVE_MIGRATION_PTES) |
				  (1ull << FOLIOMAP_STAT_OP_RESTORE_PTE);
	uint64_t need = sc->need;
	bool unwrapped = false;
	unsigned int i;
	uint64_t v[FOLIOMAP_NR_STATS] = { 0 };
	char why[300] = "", bad[400] = "";
	size_t len = 0;
	int status;

	if (sc->need_gup && access(GUP_TEST_PATH, R_OK | W_OK))
		return ksft_test_result_code(KSFT_SKIP, desc,
					     "no " GUP_TEST_PATH " (CONFIG_GUP_TEST)");
	if (sc->need_numa && access("/sys/devices/system/node/node1", F_OK))
		return ksft_test_result_code(KSFT_SKIP, desc, "needs NUMA nodes 0 and 1");
	if (size > page_size)
		need |= sc->need_large;
	if (size == pmd_size)
		need |= sc->need_pmd;

	if (write_file(FOLIOMAP_STATS_PATH, FOLIOMAP_STATS_RESET))
		ksft_exit_fail_msg("cannot reset %s\n", FOLIOMAP_STATS_PATH);
	status = run_steps(sc, size, why, sizeof(why));
	if (status == 2)
		return ksft_test_result_code(KSFT_SKIP, desc, "%s", why);
	if (read_stats(v))
		ksft_exit_fail_msg("cannot read %s\n", FOLIOMAP_STATS_PATH);

	/*
	 * A kernel whose compiler inlined remove_migration_ptes into mm/migrate.c runs the
	 * restores of a migration outside the hook (restores_unwrapped): the case cannot
	 * check the walk it is about. It says so and skips, unless anything else failed.
	 */
	if (v[FOLIOMAP_STAT_RESTORES_UNWRAPPED] && !status && (need & walk_ops) &&
	    !v[FOLIOMAP_STAT_OP_REMOVE_MIGRATION_PTES]) {
		unwrapped = true;
		need &= ~walk_ops;
	}
	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		if ((need & (1ull << i)) && !v[i])
			len += snprintf(bad + len, sizeof(bad) - len, " %s=0", foliomap_stat_names[i]);
	if (v[FOLIOMAP_STAT_TRANSITION_MISMATCHES] || v[FOLIOMAP_STAT_COW_MISMATCHES] ||
	    v[FOLIOMAP_STAT_MISSED_EVENTS])
		len += snprintf(bad + len, sizeof(bad) - len, " mismatches=%llu/%llu missed=%llu",
				(unsigned long long)v[FOLIOMAP_STAT_TRANSITION_MISMATCHES],
				(unsigned long long)v[FOLIOMAP_STAT_COW_MISMATCHES],
				(unsigned long long)v[FOLIOMAP_STAT_MISSED_EVENTS]);
	if (one_cpu && v[FOLIOMAP_STAT_TRANSITIONS_RACED])
		len += snprintf(bad + len, sizeof(bad) - len, " raced=%llu on one CPU",
				(unsigned long long)v[FOLIOMAP_STAT_TRANSITIONS_RACED]);

	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		totals[i] += v[i];
	print_stats(v);
	if (status || len) {
		if (v[FOLIOMAP_STAT_TRANSITION_MISMATCHES] || v[FOLIOMAP_STAT_COW_MISMATCHES])
			print_mismatches();
		ksft_test_result_fail("%s:%s%s%s\n", desc, status ? " kernel: " : "", why,
				      len ? " module:" : "");
		if (len)
			ksft_print_msg("module:%s\n", bad);
		return;
	}
	if (unwrapped) {
		snprintf(why, sizeof(why),
			 "remove_migration_ptes inlined into its caller on this kernel: %llu restores checked as plain rmap adds, the walk not checked (restores_unwrapped)",
			 (unsigned long long)v[FOLIOMAP_STAT_RESTORES_UNWRAPPED]);
		return ksft_test_result_code(KSFT_SKIP, desc, "%s", why);
	}
	ksft_test_result_pass("%s\n", desc);
}

/* ------------------------------------------------------------------------------------ */
/* Folio sizes and background noise                                                     */

#define MAX_SIZES 16
static size_t sizes[MAX_SIZES];
static unsigned int nr_sizes;

/* Whether anonymous faults may use folios of @kb KiB in a MADV_HUGEPAGE VMA. */
static bool size_enabled(unsigned long kb)
{
	char path[128], buf[128] = "", global[128] = "";
	FILE *f;

	snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", kb);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (strstr(buf, "[always]") || strstr(buf, "[madvise]"))
		return true;
	if (!strstr(buf, "[inherit]"))
		return false;
	f = fopen(THP_DIR "/enabled", "r");
	if (!f)
		return false;
	if (!fgets(global, sizeof(global), f))
		global[0] = '\0';
	fclose(f);
	return strstr(global, "[always]") || strstr(global, "[madvise]");
}

static void find_sizes(void)
{
	unsigned long kb;

	sizes[nr_sizes++] = page_size;
	for (kb = 16; kb <= 1024; kb *= 2)
		if (kb * 1024 != pmd_size && size_enabled(kb))
			sizes[nr_sizes++] = kb * 1024;
	if (pmd_size && size_enabled(pmd_size >> 10))
		sizes[nr_sizes++] = pmd_size;
}

/*
 * Knobs that keep khugepaged and proactive compaction away from the tests' folios, and
 * let one write of a shared file make one folio of the file's size (OP_SHM).
 */
static const struct knob {
	const char *path;
	const char *quiet;
} knobs[] = {
	{ THP_DIR "/khugepaged/scan_sleep_millisecs", "3600000" },
	{ THP_DIR "/khugepaged/alloc_sleep_millisecs", "3600000" },
	{ "/proc/sys/vm/compaction_proactiveness", "0" },
	{ THP_DIR "/shmem_enabled", "within_size" },
};
#define NR_KNOBS (sizeof(knobs) / sizeof(knobs[0]))
#define KNOB_LEN 32
static char saved_knobs[NR_KNOBS][KNOB_LEN];	/* "": not readable */
static pid_t harness_pid;

/* A knob's value: a number, or the bracketed word of a choice ("a [b] c"). */
static void read_knob(const char *path, char *val)
{
	char buf[256] = "", *open_br, *close_br;
	FILE *f = fopen(path, "r");

	val[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		open_br = strchr(buf, '[');
		close_br = open_br ? strchr(open_br, ']') : NULL;
		if (close_br) {
			*close_br = '\0';
			snprintf(val, KNOB_LEN, "%s", open_br + 1);
		} else {
			buf[strcspn(buf, " \n")] = '\0';
			snprintf(val, KNOB_LEN, "%s", buf);
		}
	}
	fclose(f);
}

static void restore_knobs(void)
{
	unsigned int i;

	if (getpid() != harness_pid)
		return;
	for (i = 0; i < NR_KNOBS; i++)
		if (saved_knobs[i][0])
			write_file(knobs[i].path, saved_knobs[i]);
}

static void quiet_knobs(void)
{
	unsigned int i;

	harness_pid = getpid();
	for (i = 0; i < NR_KNOBS; i++) {
		read_knob(knobs[i].path, saved_knobs[i]);
		if (saved_knobs[i][0] && write_file(knobs[i].path, knobs[i].quiet))
			ksft_print_msg("cannot set %s\n", knobs[i].path);
	}
	atexit(restore_knobs);
}

static size_t row_size(const struct scenario *sc, unsigned int k)
{
	if (sc->size == EACH_SIZE)
		return sizes[k];
	return sc->size == SZ_PMD ? pmd_size : sc->size;
}

static bool row_size_offered(size_t size)
{
	unsigned int k;

	for (k = 0; k < nr_sizes; k++)
		if (sizes[k] == size)
			return true;
	return false;
}

static void size_name(size_t size, char *buf, size_t len)
{
	if (size == page_size)
		snprintf(buf, len, "4 KiB page");
	else if (size == pmd_size)
		snprintf(buf, len, "PMD THP");
	else
		snprintf(buf, len, "%zu KiB mTHP", size >> 10);
}

/*
 * THP only where MADV_HUGEPAGE asks for it: the helpers' own heap, stack and data then
 * stay in small folios, so the large-folio transitions the module counts (fork, PMD
 * split, migration) come from the scenario's folio alone. The flag survives execve();
 * re-executing once gives a process whose memory was all faulted under it.
 */
static void thp_only_where_advised(char **argv)
{
	if (getenv(REEXEC_ENV))
		return;
	if (prctl(PR_SET_THP_DISABLE, 1, PR_THP_DISABLE_EXCEPT_ADVISED, 0, 0)) {
		printf("# PR_SET_THP_DISABLE(EXCEPT_ADVISED): %s; helpers may use large folios\n",
		       strerror(errno));
		return;
	}
	setenv(REEXEC_ENV, "1", 1);
	execv("/proc/self/exe", argv);
	printf("# re-exec: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
	unsigned int i, k, nr_tests = 0;
	char desc[200], name[32];
	const char *filter;
	int err;

	(void)argc;
	thp_only_where_advised(argv);

	page_size = sysconf(_SC_PAGESIZE);
	pmd_size = read_long_file(THP_DIR "/hpage_pmd_size");
	if ((long)pmd_size < 0)
		pmd_size = 0;
	one_cpu = sysconf(_SC_NPROCESSORS_ONLN) == 1;
	filter = getenv(FILTER_ENV);	/* run only the cases whose name contains it */
	find_sizes();
	for (i = 0; i < NR_SCENARIOS; i++)
		nr_tests += scenarios[i].size == EACH_SIZE ? nr_sizes : 1;

	ksft_print_header();
	ksft_set_plan(nr_tests);
	if (access(FOLIOMAP_STATS_PATH, R_OK))
		ksft_exit_fail_msg("%s: %s (is foliomap.ko loaded?)\n", FOLIOMAP_STATS_PATH,
				   strerror(errno));
	err = mm_probe_open();
	if (err)
		ksft_exit_fail_msg("cannot open /proc/self/pagemap or /proc/kpageflags: %s\n",
				   strerror(-err));
	if (vmstat_read("pgreuse") < 0)
		ksft_exit_fail_msg("no pgreuse in /proc/vmstat\n");
	/* Helpers whose parent helper exited are reparented to us, and reaped here. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	quiet_knobs();
	ksft_print_msg("%u CPU(s); folio sizes:\n",
		       one_cpu ? 1 : (unsigned int)sysconf(_SC_NPROCESSORS_ONLN));
	for (k = 0; k < nr_sizes; k++) {
		size_name(sizes[k], name, sizeof(name));
		ksft_print_msg("  %s\n", name);
	}

	for (i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *sc = &scenarios[i];
		unsigned int n = sc->size == EACH_SIZE ? nr_sizes : 1;

		for (k = 0; k < n; k++) {
			size_t size = row_size(sc, k);

			size_name(size, name, sizeof(name));
			snprintf(desc, sizeof(desc), "%s (%s)", sc->name, name);
			if (filter && !strstr(desc, filter)) {
				ksft_test_result_code(KSFT_SKIP, desc,
						      "not selected by " FILTER_ENV);
				continue;
			}
			if (!size || !row_size_offered(size)) {
				ksft_test_result_code(KSFT_SKIP, desc, "folio size not enabled");
				continue;
			}
			run_case(sc, size, desc);
		}
	}
	/* One line scripts/vm-suite picks up for its per-kernel summary. */
	ksft_print_msg("shadow totals: transitions_checked=%llu transition_mismatches=%llu "
		       "transitions_raced=%llu cow_checked=%llu cow_mismatches=%llu "
		       "missed_events=%llu cow_fact_dependent=%llu\n",
		       (unsigned long long)totals[FOLIOMAP_STAT_TRANSITIONS_CHECKED],
		       (unsigned long long)totals[FOLIOMAP_STAT_TRANSITION_MISMATCHES],
		       (unsigned long long)totals[FOLIOMAP_STAT_TRANSITIONS_RACED],
		       (unsigned long long)totals[FOLIOMAP_STAT_COW_CHECKED],
		       (unsigned long long)totals[FOLIOMAP_STAT_COW_MISMATCHES],
		       (unsigned long long)totals[FOLIOMAP_STAT_MISSED_EVENTS],
		       (unsigned long long)totals[FOLIOMAP_STAT_COW_FACT_DEPENDENT]);
	ksft_finished();
}
