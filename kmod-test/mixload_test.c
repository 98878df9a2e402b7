// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * mixload_test: a seeded random multi-process workload on private anonymous memory,
 * with data-integrity checking, to run under the foliomap shadow checker.
 *
 *   mixload_test [--seed N] [--procs N] [--seconds N] [--region-mib N] [--keep-thp]
 *
 * Defaults come from MIXLOAD_SEED (else time-based; always printed), MIXLOAD_PROCS (8),
 * MIXLOAD_SECONDS (10), MIXLOAD_REGION_MIB (4) and MIXLOAD_KEEP_THP (unset).
 *
 * Nothing here is tuned to the checker: worker processes all start together and loop
 * over randomly chosen operations on a few regions each (some 2 MiB aligned, some not,
 * MADV_HUGEPAGE / MADV_NOHUGEPAGE / neither): writes of random page ranges (full and
 * partial folios, misaligned starts, whole pages or only a few words of a page),
 * read-verify, fork (the child goes on with random operations for a short random time,
 * then verifies everything and exits; the number of live processes is bounded), munmap
 * of sub-ranges and later re-mapping of the hole, mremap (move, grow, shrink),
 * MADV_DONTNEED, MADV_FREE, mprotect read-only and back, MADV_COLLAPSE, move_pages() and
 * mbind() to the other NUMA node, MADV_PAGEOUT, reads of never-written memory (the zero
 * page), and unmapping and re-creating a whole region.
 *
 * Data integrity: each process keeps, in its own heap (copied by fork like everything
 * else), what every page of every region must contain: a 64-bit stamp made of the
 * writer's process number, its operation counter and the page index. A full-page write
 * fills every word of the page with a function of the stamp; a partial ("sparse") write
 * stamps the first two and the last word only, over whatever the page held. A page
 * never written, dropped by MADV_DONTNEED or newly mapped must read as zero; a page
 * given to MADV_FREE may read as before or as zero. Every process checks its pages at
 * random moments and all of them when it exits: after fork a page showing another
 * process's stamp is a CoW bug. A corruption is reported with the process, region, page,
 * word, the expected and found values and what the found value decodes to.
 *
 * The THP settings (global enabled/defrag/use_zero_page and each mTHP size's enabled)
 * are saved, set to a mix chosen from the seed, and restored at exit, also on failure
 * and on SIGINT/SIGTERM/SIGHUP (--keep-thp leaves them alone).
 *
 * A seed reproduces each process's sequence of operation choices; what the kernel does
 * with them (a fork refused by the live-process bound, which depends on the other
 * processes, a refused mremap) can still steer a run elsewhere.
 *
 * TAP 13 (kselftest.h): 1) the workload ran, 2) data integrity, 3) no worker failed;
 * '#' lines with per-operation counts, /proc/vmstat deltas and the foliomap module's
 * totals over the run. Exit status 0 pass, 1 fail. Operations the kernel does not
 * support are skipped and reported, never failed. A global watchdog kills workers that
 * overrun the deadline; they count as failures.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "foliomap_debugfs.h"
#include "kselftest.h"
#include "mm_probe.h"

#ifndef MADV_FREE
#define MADV_FREE		8
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE		1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED		2
#endif

#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"
#define NR_REGIONS	4		/* regions per process */
#define MAX_PROCS	64		/* --procs limit */
#define MAX_KIDS	16		/* live children per process */
#define MAX_DEPTH	4		/* fork generations below a worker */
#define MAX_MSGS	16		/* failure messages kept for the report */
#define MSG_LEN		3072
#define NR_UIDS		65536		/* process numbers fit the stamp's 16 bits */
#define HIST		12		/* recent operations quoted in a failure */
#define MEM_BUDGET	(600ULL << 20)	/* bound on the regions of all live processes */
#define MAX_MOVE	64		/* pages per move_pages() call */

#define GOLD		0x9e3779b97f4a7c15ULL
#define OV_CHECK	0x5a5a0f0fc3c3a5a5ULL

/* ------------------------------------------------------------------------------------ */
/* Operations and counters                                                              */

enum op {
	OP_WRITE, OP_WRITE_SPARSE, OP_VERIFY, OP_VERIFY_ALL, OP_ZERO_READ, OP_FORK,
	OP_MUNMAP, OP_REMAP_HOLE, OP_MREMAP_MOVE, OP_MREMAP_GROW, OP_MREMAP_SHRINK,
	OP_DONTNEED, OP_FREE, OP_MPROTECT, OP_COLLAPSE, OP_MOVE_PAGES, OP_MBIND,
	OP_PAGEOUT, OP_RECREATE, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	[OP_WRITE] = "write", [OP_WRITE_SPARSE] = "write_sparse", [OP_VERIFY] = "verify",
	[OP_VERIFY_ALL] = "verify_all", [OP_ZERO_READ] = "zero_read", [OP_FORK] = "fork",
	[OP_MUNMAP] = "munmap", [OP_REMAP_HOLE] = "remap_hole",
	[OP_MREMAP_MOVE] = "mremap_move", [OP_MREMAP_GROW] = "mremap_grow",
	[OP_MREMAP_SHRINK] = "mremap_shrink", [OP_DONTNEED] = "dontneed",
	[OP_FREE] = "madv_free", [OP_MPROTECT] = "mprotect", [OP_COLLAPSE] = "collapse",
	[OP_MOVE_PAGES] = "move_pages", [OP_MBIND] = "mbind", [OP_PAGEOUT] = "pageout",
	[OP_RECREATE] = "recreate",
};

static const unsigned int op_weights[NR_OPS] = {
	[OP_WRITE] = 24, [OP_WRITE_SPARSE] = 8, [OP_VERIFY] = 12, [OP_VERIFY_ALL] = 1,
	[OP_ZERO_READ] = 3, [OP_FORK] = 4, [OP_MUNMAP] = 4, [OP_REMAP_HOLE] = 4,
	[OP_MREMAP_MOVE] = 3, [OP_MREMAP_GROW] = 2, [OP_MREMAP_SHRINK] = 2,
	[OP_DONTNEED] = 5, [OP_FREE] = 2, [OP_MPROTECT] = 5, [OP_COLLAPSE] = 2,
	[OP_MOVE_PAGES] = 4, [OP_MBIND] = 1, [OP_PAGEOUT] = 2, [OP_RECREATE] = 1,
};

/* Per operation: tried, done, refused by the kernel (an errno we accept), nothing to do. */
enum res { RES_TRIED, RES_OK, RES_REFUSED, RES_NA, NR_RESULTS };

enum extra {
	X_PAGES_WRITTEN, X_PAGES_SPARSE, X_PAGES_ZERO_READ, X_PAGES_UNMAPPED,
	X_PAGES_DONTNEED, X_PAGES_FREED, X_PAGES_PAGEOUT, X_LAZYFREE_ZERO,
	X_FORK_LIMIT, X_KIDS_REAPED, X_MREMAP_EFAULT, X_MREMAP_ABANDONED,
	X_MIG_PAGES, X_MIG_MOVED, X_MIG_EBUSY, X_MIG_ENOENT, X_MIG_EACCES, X_MIG_EFAULT,
	X_MIG_ENOMEM, X_MIG_OTHER_NODE, X_MIG_UNPROCESSED, X_MIG_OTHER, X_MIG_CALL_FAILED, X_MBIND_MOVED_PAGES, NR_EXTRA
};

static const char *const extra_names[NR_EXTRA] = {
	[X_PAGES_WRITTEN] = "pages_written", [X_PAGES_SPARSE] = "pages_sparse_written",
	[X_PAGES_ZERO_READ] = "pages_zero_read", [X_PAGES_UNMAPPED] = "pages_unmapped",
	[X_PAGES_DONTNEED] = "pages_dontneed", [X_PAGES_FREED] = "pages_madv_free",
	[X_PAGES_PAGEOUT] = "pages_pageout", [X_LAZYFREE_ZERO] = "lazyfree_read_zero",
	[X_FORK_LIMIT] = "fork_refused_by_bound", [X_KIDS_REAPED] = "children_reaped",
	[X_MREMAP_EFAULT] = "mremap_efault", [X_MREMAP_ABANDONED] = "mremap_abandoned",
	[X_MIG_PAGES] = "migrate_pages_tried", [X_MIG_MOVED] = "migrate_pages_moved",
	[X_MIG_EBUSY] = "migrate_ebusy", [X_MIG_ENOENT] = "migrate_enoent",
	[X_MIG_EACCES] = "migrate_eacces", [X_MIG_EFAULT] = "migrate_efault",
	[X_MIG_ENOMEM] = "migrate_enomem", [X_MIG_OTHER_NODE] = "migrate_left_on_source_node",
	[X_MIG_UNPROCESSED] = "migrate_not_reached", [X_MIG_OTHER] = "migrate_other_status",
	[X_MIG_CALL_FAILED] = "move_pages_call_failed",
	[X_MBIND_MOVED_PAGES] = "mbind_pages_on_target",
};

/* Who a process number (the stamp's top 16 bits) was. */
struct uid_info {
	int32_t pid;
	uint16_t worker;
	uint8_t depth;
	uint8_t used;
	uint32_t parent;
	uint32_t pad;
};

/* MAP_SHARED between every process of the run. */
struct shared {
	uint64_t ops[NR_OPS][NR_RESULTS];
	uint64_t extra[NR_EXTRA];
	uint64_t pages_verified, procs_verified, procs_started, procs_finished;
	uint64_t corruptions, failures;
	uint64_t t_start, t_end;
	uint32_t next_uid;
	int32_t live, live_max;
	int32_t mig_other_status;	/* the last unexpected move_pages() status */
	uint32_t nr_msgs;
	uint32_t disabled[NR_OPS];
	int32_t disabled_errno[NR_OPS];
	char msgs[MAX_MSGS][MSG_LEN];
	struct uid_info uids[NR_UIDS];
};

static struct shared *sh;

static void count(enum op op, enum res r)
{
	__atomic_fetch_add(&sh->ops[op][r], 1, __ATOMIC_RELAXED);
}

static void xcount(enum extra x, uint64_t n)
{
	if (n)
		__atomic_fetch_add(&sh->extra[x], n, __ATOMIC_RELAXED);
}

static void disable_op(enum op op, int err)
{
	if (!__atomic_exchange_n(&sh->disabled[op], 1, __ATOMIC_RELAXED))
		sh->disabled_errno[op] = err;
}

/* ------------------------------------------------------------------------------------ */
/* Configuration                                                                        */

static uint64_t seed;
static unsigned int nr_procs = 8, seconds = 10, region_mib = 4;
static bool keep_thp;
static size_t ps, words, pmd_bytes, pmd_pages;
static size_t region_pages, region_cap;
static bool numa2;
static pid_t main_pid;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += GOLD);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = a;

	s = splitmix64(&s) ^ b;
	s = splitmix64(&s) ^ c;
	return splitmix64(&s);
}

/* ------------------------------------------------------------------------------------ */
/* Per-process state                                                                    */

#define F_HOLE		0x01	/* unmapped by us: never touch */
#define F_MZ_ALL	0x02	/* MADV_FREE'd: the whole page may read as zero instead */
#define F_MZ_BODY	0x04	/* MADV_FREE'd, then sparse-written: the body may be zero */

struct region {
	char *base;
	size_t n, cap;		/* pages now, pages the shadow can hold */
	uint64_t *tbase;	/* stamp of the last full-page write (0: zero) */
	uint64_t *tover;	/* stamp of a later sparse write (0: none) */
	uint8_t *flags;
	int advice;		/* MADV_HUGEPAGE, MADV_NOHUGEPAGE or 0 */
	size_t misalign;	/* pages past 2 MiB alignment at creation / last move */
	unsigned int gen;	/* re-creations */
};

struct hist {
	uint8_t op, region;
	uint32_t first, len;
	int32_t result;
	uint32_t opctr;
};

struct proc {
	unsigned int worker, depth;
	uint32_t uid, parent_uid;
	uint64_t path;		/* fork path from the worker: seeds the PRNG */
	uint64_t rng;
	uint64_t opctr;
	uint64_t deadline;
	pid_t kids[MAX_KIDS];
	unsigned int nr_kids;
	uint64_t forks;
	uint64_t verified;
	bool failed, stop;
	struct region reg[NR_REGIONS];
	struct hist hist[HIST];
	unsigned int hist_pos;
};

static struct proc me;

static uint64_t rnd(void)
{
	return splitmix64(&me.rng);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void hist_add(enum op op, int region, size_t first, size_t len, int result)
{
	struct hist *h = &me.hist[me.hist_pos++ % HIST];

	h->op = op;
	h->region = region;
	h->first = first;
	h->len = len;
	h->result = result;
	h->opctr = me.opctr;
}

static uint32_t new_uid(void)
{
	uint32_t n = __atomic_fetch_add(&sh->next_uid, 1, __ATOMIC_RELAXED);
	uint32_t uid = n % (NR_UIDS - 1) + 1;
	struct uid_info *u = &sh->uids[uid];

	u->pid = getpid();
	u->worker = me.worker;
	u->depth = me.depth;
	u->parent = me.parent_uid;
	u->used = 1;
	return uid;
}

/* ------------------------------------------------------------------------------------ */
/* Failure messages                                                                     */

static size_t hist_format(char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	off += snprintf(buf + off, len - off, "; recent ops (oldest first):");
	for (i = 0; i < HIST && off < len; i++) {
		const struct hist *h = &me.hist[(me.hist_pos + i) % HIST];

		if (me.hist_pos + i < HIST)
			continue;
		off += snprintf(buf + off, len - off, " [#%u %s r%u %u+%u -> %d]", h->opctr,
				op_names[h->op], h->region, h->first, h->len, h->result);
	}
	return off;
}

static void record_msg(bool with_hist, const char *fmt, va_list ap)
{
	char buf[MSG_LEN];
	size_t off;
	uint32_t slot;

	off = snprintf(buf, sizeof(buf), "process %u (pid %d, worker %u, depth %u, parent %u): ",
		       me.uid, getpid(), me.worker, me.depth, me.parent_uid);
	if (off < sizeof(buf))
		off += vsnprintf(buf + off, sizeof(buf) - off, fmt, ap);
	if (with_hist && off < sizeof(buf))
		hist_format(buf + off, sizeof(buf) - off);
	slot = __atomic_fetch_add(&sh->nr_msgs, 1, __ATOMIC_RELAXED);
	if (slot < MAX_MSGS)
		memcpy(sh->msgs[slot], buf, sizeof(buf));
}

/* A failure that is not a corruption (unexpected errno, a child killed): go on. */
static void __printf(1, 2) fail_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_msg(true, fmt, ap);
	va_end(ap);
	__atomic_fetch_add(&sh->failures, 1, __ATOMIC_RELAXED);
	me.failed = true;
}

/* What a found word could be: a page stamp of some process. */
static size_t decode_word(char *buf, size_t len, uint64_t w, size_t widx)
{
	uint64_t cand[4];
	const char *what[4];
	unsigned int nc = 0, i;
	size_t off = 0;
	uint32_t max_uid = __atomic_load_n(&sh->next_uid, __ATOMIC_RELAXED);

	if (!w)
		return snprintf(buf, len, "zero");
	cand[nc] = w ^ (widx * GOLD);
	what[nc++] = "full-page stamp";
	if (widx == 0) {
		cand[nc] = w;
		what[nc++] = "sparse stamp";
	} else if (widx == 1) {
		cand[nc] = w ^ OV_CHECK;
		what[nc++] = "sparse stamp";
	} else if (widx == words - 1) {
		cand[nc] = ~w;
		what[nc++] = "sparse stamp";
	}
	for (i = 0; i < nc && off < len; i++) {
		uint32_t uid = cand[i] >> 48;
		const struct uid_info *u = &sh->uids[uid];

		if (!uid || uid > max_uid || !u->used)
			continue;
		off += snprintf(buf + off, len - off,
				"%s%s of process %u (pid %d, worker %u, depth %u, parent %u), op #%" PRIu64
				", page %" PRIu64, off ? "; or " : "", what[i], uid, u->pid,
				u->worker, u->depth, u->parent, (cand[i] >> 24) & 0xffffff,
				cand[i] & 0xffffff);
	}
	if (!off)
		off = snprintf(buf, len, "no stamp of this run");
	return off;
}

static const char *advice_name(int advice)
{
	return advice == MADV_HUGEPAGE ? "MADV_HUGEPAGE" :
	       advice == MADV_NOHUGEPAGE ? "MADV_NOHUGEPAGE" : "no advice";
}

static void report_corruption(const struct region *r, size_t idx, size_t widx, uint64_t want,
			      uint64_t got, size_t nbad)
{
	char dec_want[400], dec_got[400];
	const char *addr = r->base + idx * ps;
	uint64_t pfn = 0;
	char thp[8] = "?";

	decode_word(dec_want, sizeof(dec_want), want, widx);
	decode_word(dec_got, sizeof(dec_got), got, widx);
	if (!mm_probe_reopen_pagemap()) {
		pfn = pfn_of(addr);
		if (pfn)
			snprintf(thp, sizeof(thp), "%s", pfn_is_thp(pfn) ? "yes" : "no");
	}
	__atomic_fetch_add(&sh->corruptions, 1, __ATOMIC_RELAXED);
	me.failed = true;
	me.stop = true;
	fail_msg("CORRUPTION region %td page %zu (addr %p; region at %p, %zu pages, %s, "
		 "%zu pages past 2 MiB alignment, generation %u) word %zu of %zu (%zu bad words "
		 "in the page): expected %#018" PRIx64 " (%s; page stamps full %#" PRIx64
		 " sparse %#" PRIx64 " flags %#x), found %#018" PRIx64 " (%s); pfn %#" PRIx64
		 " thp %s", r - me.reg, idx, (const void *)addr, (void *)r->base, r->n,
		 advice_name(r->advice), r->misalign, r->gen, widx, words, nbad, want, dec_want,
		 r->tbase[idx], r->tover[idx], r->flags[idx], got, dec_got, pfn, thp);
	/* fail_msg counted a failure too: a corruption is counted apart. */
	__atomic_fetch_sub(&sh->failures, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------------------ */
/* Page contents                                                                        */

static uint64_t make_tag(size_t idx)
{
	return (uint64_t)me.uid << 48 | (me.opctr & 0xffffff) << 24 | (idx & 0xffffff);
}

static inline uint64_t body_word(uint64_t tag, size_t i)
{
	return tag ? tag ^ (i * GOLD) : 0;
}

static inline uint64_t want_word(uint64_t base, uint64_t over, size_t i)
{
	if (over) {
		if (i == 0)
			return over;
		if (i == 1)
			return over ^ OV_CHECK;
		if (i == words - 1)
			return ~over;
	}
	return body_word(base, i);
}

static __attribute__((noinline)) void fill_page(uint64_t *p, uint64_t tag)
{
	size_t i;

	for (i = 0; i < words; i++)
		p[i] = tag ^ (i * GOLD);
}

static __attribute__((noinline)) void sparse_page(uint64_t *p, uint64_t tag)
{
	p[0] = tag;
	p[1] = tag ^ OV_CHECK;
	p[words - 1] = ~tag;
}

/* The first word that differs from the expectation, or -1. */
static __attribute__((noinline)) long check_page(const uint64_t *p, uint64_t base, uint64_t over)
{
	size_t i;

	if (!over) {
		if (!base) {
			for (i = 0; i < words; i++)
				if (p[i])
					return i;
			return -1;
		}
		for (i = 0; i < words; i++)
			if (p[i] != (base ^ (i * GOLD)))
				return i;
		return -1;
	}
	for (i = 0; i < words; i++)
		if (p[i] != want_word(base, over, i))
			return i;
	return -1;
}

static size_t count_bad(const uint64_t *p, uint64_t base, uint64_t over)
{
	size_t i, n = 0;

	for (i = 0; i < words; i++)
		n += p[i] != want_word(base, over, i);
	return n;
}

/* Check one mapped page against the shadow; false (and reported) on corruption. */
static bool verify_page(struct region *r, size_t idx)
{
	const uint64_t *p = (const uint64_t *)(r->base + idx * ps);
	uint64_t base = r->tbase[idx], over = r->tover[idx];
	uint8_t fl = r->flags[idx];
	unsigned int tries;
	long bad;

	me.verified++;
	bad = check_page(p, base, over);
	if (bad < 0) {
		/* Written after MADV_FREE: dirty now, kept as it is. */
		r->flags[idx] &= ~F_MZ_BODY;
		return true;
	}
	/*
	 * A lazily freed page may be discarded at any time, even while we read it: read
	 * again; once discarded it stays zero (until written).
	 */
	for (tries = 0; (fl & (F_MZ_ALL | F_MZ_BODY)) && tries < 3; tries++) {
		if ((fl & F_MZ_ALL) && check_page(p, 0, 0) < 0) {
			r->tbase[idx] = r->tover[idx] = 0;
			r->flags[idx] &= ~F_MZ_ALL;
			xcount(X_LAZYFREE_ZERO, 1);
			return true;
		}
		if ((fl & F_MZ_BODY) && check_page(p, 0, over) < 0) {
			r->tbase[idx] = 0;
			r->flags[idx] &= ~F_MZ_BODY;
			xcount(X_LAZYFREE_ZERO, 1);
			return true;
		}
		if (check_page(p, base, over) < 0) {
			r->flags[idx] &= ~F_MZ_BODY;
			return true;
		}
	}
	bad = check_page(p, base, over);
	if (bad < 0)
		return true;
	report_corruption(r, idx, bad, want_word(base, over, bad), p[bad],
			  count_bad(p, base, over));
	return false;
}

/* ------------------------------------------------------------------------------------ */
/* Regions                                                                              */

/* The next run [*s, *e) of mapped pages in [*pos, end); false when there is none. */
static bool next_run(const struct region *r, size_t *pos, size_t end, size_t *s, size_t *e)
{
	size_t i = *pos;

	while (i < end && (r->flags[i] & F_HOLE))
		i++;
	if (i >= end)
		return false;
	*s = i;
	while (i < end && !(r->flags[i] & F_HOLE))
		i++;
	*e = i;
	*pos = i;
	return true;
}

static bool has_holes(const struct region *r, size_t first, size_t end)
{
	size_t i;

	for (i = first; i < end; i++)
		if (r->flags[i] & F_HOLE)
			return true;
	return false;
}

static void reset_shadow(struct region *r, size_t first, size_t end, uint8_t flags)
{
	memset(r->tbase + first, 0, (end - first) * sizeof(uint64_t));
	memset(r->tover + first, 0, (end - first) * sizeof(uint64_t));
	memset(r->flags + first, flags, end - first);
}

/* A placement: 2 MiB aligned, or some pages past it, or a multiple of 64 KiB past it. */
static size_t pick_misalign(void)
{
	unsigned int a = rnd_below(10);

	if (a < 4 || pmd_pages < 32)
		return 0;
	if (a < 7)
		return 1 + rnd_below(pmd_pages - 1);
	return (1 + rnd_below(pmd_pages / 16 - 1)) * 16;
}

static char *place(char *area, size_t misalign)
{
	uintptr_t a = ((uintptr_t)area + pmd_bytes - 1) & ~(uintptr_t)(pmd_bytes - 1);

	return (char *)a + misalign * ps;
}

static bool region_create(struct region *r)
{
	size_t n = region_pages, len = n * ps, total = len + 2 * pmd_bytes;
	size_t misalign = pick_misalign();
	unsigned int a = rnd_below(10);
	int advice = a < 4 ? MADV_HUGEPAGE : a < 6 ? MADV_NOHUGEPAGE : 0;
	bool populate = rnd_below(10) == 0;
	char *area, *start;

	area = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		fail_msg("mmap of a %zu KiB region: %s", total >> 10, strerror(errno));
		r->base = NULL;
		r->n = 0;
		return false;
	}
	start = place(area, misalign);
	if (start > area)
		munmap(area, start - area);
	if (area + total > start + len)
		munmap(start + len, area + total - (start + len));
	if (advice)
		madvise(start, len, advice);	/* EINVAL without THP: fine */
	if (populate)
		madvise(start, len, MADV_POPULATE_WRITE);	/* may be unsupported */
	r->base = start;
	r->n = n;
	r->advice = advice;
	r->misalign = misalign;
	r->gen++;
	reset_shadow(r, 0, r->cap, 0);
	return true;
}

static void region_unmap(struct region *r)
{
	size_t pos = 0, s, e;

	while (next_run(r, &pos, r->n, &s, &e))
		if (munmap(r->base + s * ps, (e - s) * ps))
			fail_msg("munmap %p+%zu: %s", (void *)(r->base + s * ps), (e - s) * ps,
				 strerror(errno));
	r->n = 0;
}

static struct region *pick_region(void)
{
	struct region *r = &me.reg[rnd_below(NR_REGIONS)];

	return r->n ? r : NULL;
}

/* A page range of @r: single pages, short runs, whole or partial folios by VA, large. */
static void pick_range(const struct region *r, size_t *first, size_t *len)
{
	size_t n = r->n, f, l;
	unsigned int kind = rnd_below(10);

	if (kind <= 1) {
		f = rnd_below(n);
		l = 1;
	} else if (kind <= 4) {
		f = rnd_below(n);
		l = 1 + rnd_below(32);
	} else if (kind <= 7) {
		size_t fp = (size_t)1 << (2 + rnd_below(8));	/* 16 KiB .. 2 MiB */
		uintptr_t b = (uintptr_t)r->base;
		uintptr_t va = b + rnd_below(n) * ps;
		uintptr_t al = va & ~(uintptr_t)(fp * ps - 1);
		size_t off = rnd_below(fp);

		if (al < b)
			al += fp * ps;
		f = (al - b) / ps;
		l = fp;
		if (kind == 7) {	/* part of a folio */
			f += off;
			l = 1 + rnd_below(fp - off);
		}
	} else if (kind == 8) {
		f = rnd_below(n);
		l = 1 + rnd_below(n / 2);
	} else {
		f = 0;
		l = n;
	}
	if (f >= n)
		f = n - 1;
	if (l > n - f)
		l = n - f;
	*first = f;
	*len = l;
}

static bool verify_range(struct region *r, size_t first, size_t end)
{
	size_t pos = first, s, e, i;

	while (next_run(r, &pos, end, &s, &e))
		for (i = s; i < e; i++)
			if (!verify_page(r, i))
				return false;
	return true;
}

static bool verify_all(void)
{
	unsigned int k;

	for (k = 0; k < NR_REGIONS; k++)
		if (me.reg[k].n && !verify_range(&me.reg[k], 0, me.reg[k].n))
			return false;
	return true;
}

/* ------------------------------------------------------------------------------------ */
/* The operations                                                                       */

static size_t write_range(struct region *r, size_t first, size_t end, bool sparse)
{
	size_t pos = first, s, e, i, nr = 0;

	me.opctr++;
	while (next_run(r, &pos, end, &s, &e)) {
		for (i = s; i < e; i++) {
			uint64_t *p = (uint64_t *)(r->base + i * ps);
			uint64_t tag = make_tag(i);

			if (!sparse) {
				fill_page(p, tag);
				r->tbase[i] = tag;
				r->tover[i] = 0;
				r->flags[i] &= ~(F_MZ_ALL | F_MZ_BODY);
			} else {
				sparse_page(p, tag);
				r->tover[i] = tag;
				if (r->flags[i] & F_MZ_ALL)
					r->flags[i] = (r->flags[i] & ~F_MZ_ALL) | F_MZ_BODY;
			}
			nr++;
		}
	}
	xcount(sparse ? X_PAGES_SPARSE : X_PAGES_WRITTEN, nr);
	return nr;
}

static void op_write(bool sparse)
{
	enum op op = sparse ? OP_WRITE_SPARSE : OP_WRITE;
	struct region *r = pick_region();
	size_t f, l, nr;

	if (!r)
		return count(op, RES_NA);
	pick_range(r, &f, &l);
	nr = write_range(r, f, f + l, sparse);
	hist_add(op, r - me.reg, f, l, nr);
	count(op, nr ? RES_OK : RES_NA);
}

static void op_verify(void)
{
	struct region *r = pick_region();
	size_t f, l;

	if (!r)
		return count(OP_VERIFY, RES_NA);
	pick_range(r, &f, &l);
	hist_add(OP_VERIFY, r - me.reg, f, l, 0);
	if (verify_range(r, f, f + l))
		count(OP_VERIFY, RES_OK);
}

static void op_zero_read(void)
{
	struct region *r = pick_region();
	size_t i, start, nr = 0;

	if (!r)
		return count(OP_ZERO_READ, RES_NA);
	start = rnd_below(r->n);
	for (i = start; i < r->n && nr < 64; i++) {
		if (r->flags[i] || r->tbase[i] || r->tover[i]) {
			if (nr)
				break;
			continue;
		}
		if (!verify_page(r, i))
			return;
		nr++;
	}
	hist_add(OP_ZERO_READ, r - me.reg, start, nr, 0);
	xcount(X_PAGES_ZERO_READ, nr);
	count(OP_ZERO_READ, nr ? RES_OK : RES_NA);
}

static void become_child(uint64_t forkno, uint64_t ms, pid_t parent)
{
	uint64_t t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(2);
	me.path = mix3(me.path, forkno, 0x6b1d);
	me.rng = mix3(seed, me.worker, me.path);
	me.depth++;
	me.parent_uid = me.uid;
	me.uid = new_uid();
	me.opctr = 0;
	me.nr_kids = 0;
	me.forks = 0;
	me.verified = 0;
	me.hist_pos = 0;
	t = now_ns() + ms * 1000000ULL;
	if (t < me.deadline)
		me.deadline = t;
	__atomic_fetch_add(&sh->procs_started, 1, __ATOMIC_RELAXED);
}

static void op_fork(void)
{
	uint64_t ms = 20 + rnd_below(300), forkno = me.forks++;
	bool child_verify = rnd_below(2), parent_verify = rnd_below(2);
	int32_t live = __atomic_load_n(&sh->live, __ATOMIC_RELAXED);
	pid_t parent = getpid(), pid;

	if (me.depth >= MAX_DEPTH || me.nr_kids >= MAX_KIDS)
		return count(OP_FORK, RES_NA);
	count(OP_FORK, RES_TRIED);
	for (;;) {
		if (live >= sh->live_max) {
			xcount(X_FORK_LIMIT, 1);
			return count(OP_FORK, RES_REFUSED);
		}
		if (__atomic_compare_exchange_n(&sh->live, &live, live + 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
	}
	pid = fork();
	if (pid < 0) {
		int err = errno;

		__atomic_fetch_sub(&sh->live, 1, __ATOMIC_RELAXED);
		if (err == EAGAIN || err == ENOMEM)
			return count(OP_FORK, RES_REFUSED);
		return fail_msg("fork: %s", strerror(err));
	}
	if (pid == 0) {
		become_child(forkno, ms, parent);
		hist_add(OP_FORK, 0, 0, 0, 0);
		if (child_verify)
			verify_all();
		return;
	}
	me.kids[me.nr_kids++] = pid;
	hist_add(OP_FORK, 0, 0, 0, pid);
	count(OP_FORK, RES_OK);
	if (parent_verify)
		verify_all();
}

static void reap_kids(bool block)
{
	unsigned int i = 0;

	while (i < me.nr_kids) {
		int st;
		pid_t p = waitpid(me.kids[i], &st, block ? 0 : WNOHANG);

		if (p == 0) {
			i++;
			continue;
		}
		if (p < 0) {
			if (errno == EINTR)
				continue;
			fail_msg("waitpid %d: %s", me.kids[i], strerror(errno));
		} else {
			xcount(X_KIDS_REAPED, 1);
			if (WIFSIGNALED(st))
				fail_msg("child pid %d was killed by signal %d (%s)", p, WTERMSIG(st),
					 strsignal(WTERMSIG(st)));
			else if (WIFEXITED(st) && WEXITSTATUS(st) > 1)
				fail_msg("child pid %d exited with status %d", p, WEXITSTATUS(st));
			/* status 1: the child recorded its own failure */
		}
		__atomic_fetch_sub(&sh->live, 1, __ATOMIC_RELAXED);
		me.kids[i] = me.kids[--me.nr_kids];
	}
}

static void op_munmap(void)
{
	struct region *r = pick_region();
	size_t f, l, pos, s, e, nr = 0;

	if (!r)
		return count(OP_MUNMAP, RES_NA);
	pick_range(r, &f, &l);
	if (l > r->n / 4)
		l = 1 + r->n / 4;
	count(OP_MUNMAP, RES_TRIED);
	pos = f;
	while (next_run(r, &pos, f + l, &s, &e)) {
		if (munmap(r->base + s * ps, (e - s) * ps))
			return fail_msg("munmap %p+%zu: %s", (void *)(r->base + s * ps),
					(e - s) * ps, strerror(errno));
		reset_shadow(r, s, e, F_HOLE);
		nr += e - s;
	}
	hist_add(OP_MUNMAP, r - me.reg, f, l, nr);
	xcount(X_PAGES_UNMAPPED, nr);
	count(OP_MUNMAP, nr ? RES_OK : RES_NA);
}

static void op_remap_hole(void)
{
	struct region *r = pick_region();
	size_t start, i, s, e;
	char *want, *got;

	if (!r)
		return count(OP_REMAP_HOLE, RES_NA);
	start = rnd_below(r->n);
	for (i = 0; i < r->n; i++)
		if (r->flags[(start + i) % r->n] & F_HOLE)
			break;
	if (i == r->n)
		return count(OP_REMAP_HOLE, RES_NA);
	s = (start + i) % r->n;
	while (s > 0 && (r->flags[s - 1] & F_HOLE))
		s--;
	for (e = s; e < r->n && (r->flags[e] & F_HOLE); e++)
		;
	count(OP_REMAP_HOLE, RES_TRIED);
	want = r->base + s * ps;
	got = mmap(want, (e - s) * ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	hist_add(OP_REMAP_HOLE, r - me.reg, s, e - s, got == want ? 0 : -errno);
	if (got == MAP_FAILED) {
		if (errno == EEXIST || errno == ENOMEM)	/* something else lives there now */
			return count(OP_REMAP_HOLE, RES_REFUSED);
		return fail_msg("mmap MAP_FIXED_NOREPLACE %p+%zu: %s", (void *)want,
				(e - s) * ps, strerror(errno));
	}
	if (got != want) {	/* a kernel that took the address as a hint */
		munmap(got, (e - s) * ps);
		return count(OP_REMAP_HOLE, RES_REFUSED);
	}
	if (r->advice)
		madvise(got, (e - s) * ps, r->advice);
	reset_shadow(r, s, e, 0);
	count(OP_REMAP_HOLE, RES_OK);
}

/* After an mremap failed in a way that may have moved part of the region: start anew. */
static void abandon_region(struct region *r, char *resv, size_t resv_len)
{
	xcount(X_MREMAP_ABANDONED, 1);
	munmap(r->base, r->n * ps);
	if (resv)
		munmap(resv, resv_len);
	r->n = 0;
	region_create(r);
}

static void op_mremap_move(void)
{
	struct region *r = pick_region();
	size_t len, total, misalign = pick_misalign();
	char *resv, *dest, *got;

	if (!r || has_holes(r, 0, r->n))
		return count(OP_MREMAP_MOVE, RES_NA);
	len = r->n * ps;
	total = len + 2 * pmd_bytes;
	count(OP_MREMAP_MOVE, RES_TRIED);
	resv = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		return fail_msg("mmap reservation of %zu KiB: %s", total >> 10, strerror(errno));
	dest = place(resv, misalign);
	got = mremap(r->base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
	hist_add(OP_MREMAP_MOVE, r - me.reg, 0, r->n, got == dest ? 0 : -errno);
	if (got == MAP_FAILED) {
		int err = errno;

		if (err == EFAULT || err == EINVAL) {	/* several VMAs, on older kernels */
			munmap(resv, total);
			xcount(X_MREMAP_EFAULT, err == EFAULT);
			return count(OP_MREMAP_MOVE, RES_REFUSED);
		}
		abandon_region(r, resv, total);
		return count(OP_MREMAP_MOVE, RES_REFUSED);
	}
	if (dest > resv)
		munmap(resv, dest - resv);
	if (resv + total > dest + len)
		munmap(dest + len, resv + total - (dest + len));
	r->base = dest;
	r->misalign = misalign;
	count(OP_MREMAP_MOVE, RES_OK);
}

static void op_mremap_grow(void)
{
	struct region *r = pick_region();
	size_t newn;
	char *got;

	if (!r || r->n >= r->cap || has_holes(r, 0, r->n))
		return count(OP_MREMAP_GROW, RES_NA);
	newn = r->n + 1 + rnd_below(r->cap - r->n);
	count(OP_MREMAP_GROW, RES_TRIED);
	got = mremap(r->base, r->n * ps, newn * ps, MREMAP_MAYMOVE);
	hist_add(OP_MREMAP_GROW, r - me.reg, r->n, newn - r->n, got == MAP_FAILED ? -errno : 0);
	if (got == MAP_FAILED) {
		int err = errno;

		if (err == EFAULT || err == EINVAL || err == ENOMEM) {
			xcount(X_MREMAP_EFAULT, err == EFAULT);
			return count(OP_MREMAP_GROW, RES_REFUSED);
		}
		abandon_region(r, NULL, 0);
		return count(OP_MREMAP_GROW, RES_REFUSED);
	}
	if (got != r->base)
		r->misalign = (((uintptr_t)got) & (pmd_bytes - 1)) / ps;
	r->base = got;
	reset_shadow(r, r->n, newn, 0);
	r->n = newn;
	count(OP_MREMAP_GROW, RES_OK);
}

static void op_mremap_shrink(void)
{
	struct region *r = pick_region();
	size_t newn;
	char *got;

	if (!r || r->n < 32 || has_holes(r, 0, r->n))
		return count(OP_MREMAP_SHRINK, RES_NA);
	newn = r->n / 2 + rnd_below(r->n / 2);
	count(OP_MREMAP_SHRINK, RES_TRIED);
	got = mremap(r->base, r->n * ps, newn * ps, 0);
	hist_add(OP_MREMAP_SHRINK, r - me.reg, newn, r->n - newn, got == MAP_FAILED ? -errno : 0);
	if (got == MAP_FAILED) {
		if (errno == EFAULT || errno == EINVAL) {
			xcount(X_MREMAP_EFAULT, errno == EFAULT);
			return count(OP_MREMAP_SHRINK, RES_REFUSED);
		}
		abandon_region(r, NULL, 0);
		return count(OP_MREMAP_SHRINK, RES_REFUSED);
	}
	if (got != r->base)
		return fail_msg("mremap shrink moved %p to %p", (void *)r->base, (void *)got);
	r->n = newn;
	count(OP_MREMAP_SHRINK, RES_OK);
}

/* madvise() every mapped run of a random range; the pages it covered, or -errno. */
static long advise_range(struct region *r, int advice, size_t *first, size_t *len)
{
	size_t f, l, pos, s, e, nr = 0;

	pick_range(r, &f, &l);
	*first = f;
	*len = l;
	pos = f;
	while (next_run(r, &pos, f + l, &s, &e)) {
		if (madvise(r->base + s * ps, (e - s) * ps, advice))
			return -errno;
		nr += e - s;
	}
	return nr;
}

static void op_dontneed(void)
{
	struct region *r = pick_region();
	size_t f, l, pos, s, e;
	long nr;

	if (!r)
		return count(OP_DONTNEED, RES_NA);
	count(OP_DONTNEED, RES_TRIED);
	nr = advise_range(r, MADV_DONTNEED, &f, &l);
	hist_add(OP_DONTNEED, r - me.reg, f, l, nr);
	if (nr < 0)
		return fail_msg("MADV_DONTNEED: %s", strerror(-nr));
	pos = f;
	while (next_run(r, &pos, f + l, &s, &e))
		reset_shadow(r, s, e, 0);
	xcount(X_PAGES_DONTNEED, nr);
	count(OP_DONTNEED, nr ? RES_OK : RES_NA);
}

static void op_free(void)
{
	struct region *r = pick_region();
	size_t f, l, pos, s, e, i;
	long nr;

	if (!r)
		return count(OP_FREE, RES_NA);
	pick_range(r, &f, &l);
	/* Settle what earlier MADV_FREEs left open before this one. */
	if (!verify_range(r, f, f + l))
		return;
	count(OP_FREE, RES_TRIED);
	nr = 0;
	pos = f;
	while (next_run(r, &pos, f + l, &s, &e)) {
		if (madvise(r->base + s * ps, (e - s) * ps, MADV_FREE)) {
			int err = errno;

			hist_add(OP_FREE, r - me.reg, f, l, -err);
			if (err == EINVAL) {
				disable_op(OP_FREE, err);
				/* nothing was freed lazily by a refused call */
				return count(OP_FREE, RES_REFUSED);
			}
			return fail_msg("MADV_FREE: %s", strerror(err));
		}
		for (i = s; i < e; i++)
			if (r->tbase[i] || r->tover[i])
				r->flags[i] = (r->flags[i] & ~F_MZ_BODY) | F_MZ_ALL;
		nr += e - s;
	}
	hist_add(OP_FREE, r - me.reg, f, l, nr);
	xcount(X_PAGES_FREED, nr);
	count(OP_FREE, nr ? RES_OK : RES_NA);
}

static void op_mprotect(void)
{
	struct region *r = pick_region();
	size_t f, l, pos, s, e, wf, wl;
	bool write = rnd_below(4) != 0, sparse = rnd_below(3) == 0;

	if (!r)
		return count(OP_MPROTECT, RES_NA);
	pick_range(r, &f, &l);
	wf = f + rnd_below(l);
	wl = 1 + rnd_below(f + l - wf);
	count(OP_MPROTECT, RES_TRIED);
	hist_add(OP_MPROTECT, r - me.reg, f, l, 0);
	pos = f;
	while (next_run(r, &pos, f + l, &s, &e))
		if (mprotect(r->base + s * ps, (e - s) * ps, PROT_READ))
			return fail_msg("mprotect RO %p+%zu: %s", (void *)(r->base + s * ps),
					(e - s) * ps, strerror(errno));
	if (!verify_range(r, f, f + l))
		return;
	pos = f;
	while (next_run(r, &pos, f + l, &s, &e))
		if (mprotect(r->base + s * ps, (e - s) * ps, PROT_READ | PROT_WRITE)) {
			me.stop = true;	/* a later write would fault */
			return fail_msg("mprotect RW %p+%zu: %s", (void *)(r->base + s * ps),
					(e - s) * ps, strerror(errno));
		}
	if (write)
		write_range(r, wf, wf + wl, sparse);
	count(OP_MPROTECT, RES_OK);
}

static void op_collapse(void)
{
	struct region *r = pick_region();
	uintptr_t b, a, end;
	size_t nwin, first;

	if (!r || !pmd_bytes)
		return count(OP_COLLAPSE, RES_NA);
	b = (uintptr_t)r->base;
	end = b + r->n * ps;
	a = (b + pmd_bytes - 1) & ~(uintptr_t)(pmd_bytes - 1);
	nwin = a < end ? (end - a) / pmd_bytes : 0;
	if (!nwin)
		return count(OP_COLLAPSE, RES_NA);
	a += rnd_below(nwin) * pmd_bytes;
	first = (a - b) / ps;
	if (has_holes(r, first, first + pmd_pages))
		return count(OP_COLLAPSE, RES_NA);
	count(OP_COLLAPSE, RES_TRIED);
	if (madvise((void *)a, pmd_bytes, MADV_COLLAPSE)) {
		int err = errno;

		hist_add(OP_COLLAPSE, r - me.reg, first, pmd_pages, -err);
		/* EINVAL: unsupported or NOHUGEPAGE; EAGAIN/ENOMEM/EBUSY: transient. */
		return count(OP_COLLAPSE, RES_REFUSED);
	}
	hist_add(OP_COLLAPSE, r - me.reg, first, pmd_pages, 0);
	count(OP_COLLAPSE, RES_OK);
}

static void op_move_pages(void)
{
	struct region *r = pick_region();
	void *pages[MAX_MOVE];
	int nodes[MAX_MOVE], status[MAX_MOVE];
	size_t f, l, pos, s, e, i, nr = 0, moved = 0;
	int target, from, flags = rnd_below(4) ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL;
	unsigned int coin = rnd_below(2);
	long ret;

	if (!r)
		return count(OP_MOVE_PAGES, RES_NA);
	pick_range(r, &f, &l);
	pos = f;
	while (nr < MAX_MOVE && next_run(r, &pos, f + l, &s, &e))
		for (i = s; i < e && nr < MAX_MOVE; i++)
			pages[nr++] = r->base + i * ps;
	if (!nr)
		return count(OP_MOVE_PAGES, RES_NA);
	from = page_node(pages[0]);
	target = from == 0 ? 1 : from == 1 ? 0 : (int)coin;
	for (i = 0; i < nr; i++) {
		nodes[i] = target;
		status[i] = INT32_MIN;
	}
	count(OP_MOVE_PAGES, RES_TRIED);
	ret = syscall(SYS_move_pages, 0, (unsigned long)nr, pages, nodes, status, flags);
	hist_add(OP_MOVE_PAGES, r - me.reg, f, l, ret < 0 ? -errno : ret);
	if (ret < 0) {
		int err = errno;

		if (err == ENOSYS)
			disable_op(OP_MOVE_PAGES, err);
		xcount(X_MIG_CALL_FAILED, 1);
		return count(OP_MOVE_PAGES, RES_REFUSED);
	}
	xcount(X_MIG_PAGES, nr);
	for (i = 0; i < nr; i++) {
		int st = status[i];

		if (st == target)
			moved++;
		else if (st == -EBUSY)
			xcount(X_MIG_EBUSY, 1);
		else if (st == -ENOENT)
			xcount(X_MIG_ENOENT, 1);
		else if (st == -EACCES)
			xcount(X_MIG_EACCES, 1);
		else if (st == -EFAULT)
			xcount(X_MIG_EFAULT, 1);
		else if (st == -ENOMEM)
			xcount(X_MIG_ENOMEM, 1);
		else if (st >= 0)	/* queued but not migrated (the call's return counts it) */
			xcount(X_MIG_OTHER_NODE, 1);
		else if (st == INT32_MIN)	/* the call stopped after a failed batch */
			xcount(X_MIG_UNPROCESSED, 1);
		else {
			xcount(X_MIG_OTHER, 1);
			sh->mig_other_status = st;
		}
	}
	xcount(X_MIG_MOVED, moved);
	count(OP_MOVE_PAGES, moved ? RES_OK : RES_REFUSED);
}

static void op_mbind(void)
{
	struct region *r = pick_region();
	size_t f, l, pos, s, e;
	unsigned long mask;
	int from, target;
	long ret;

	if (!r)
		return count(OP_MBIND, RES_NA);
	pick_range(r, &f, &l);
	pos = f;
	if (!next_run(r, &pos, f + l, &s, &e))
		return count(OP_MBIND, RES_NA);
	from = page_node(r->base + s * ps);
	target = from == 1 ? 0 : 1;
	mask = 1UL << target;
	count(OP_MBIND, RES_TRIED);
	ret = syscall(SYS_mbind, r->base + s * ps, (e - s) * ps, MPOL_BIND, &mask,
		      sizeof(mask) * 8, MPOL_MF_MOVE);
	hist_add(OP_MBIND, r - me.reg, s, e - s, ret ? -errno : 0);
	if (ret) {
		if (errno == ENOSYS)
			disable_op(OP_MBIND, errno);
		return count(OP_MBIND, RES_REFUSED);
	}
	if (page_node(r->base + s * ps) == target)
		xcount(X_MBIND_MOVED_PAGES, 1);
	/* Back to the default policy: the VMA can merge with its neighbours again. */
	if (syscall(SYS_mbind, r->base + s * ps, (e - s) * ps, MPOL_DEFAULT, NULL, 0UL, 0))
		return fail_msg("mbind MPOL_DEFAULT %p+%zu: %s", (void *)(r->base + s * ps),
				(e - s) * ps, strerror(errno));
	count(OP_MBIND, RES_OK);
}

static void op_pageout(void)
{
	struct region *r = pick_region();
	size_t f, l;
	long nr;

	if (!r)
		return count(OP_PAGEOUT, RES_NA);
	count(OP_PAGEOUT, RES_TRIED);
	nr = advise_range(r, MADV_PAGEOUT, &f, &l);
	hist_add(OP_PAGEOUT, r - me.reg, f, l, nr);
	if (nr < 0) {
		if (nr == -EINVAL)
			disable_op(OP_PAGEOUT, EINVAL);
		return count(OP_PAGEOUT, RES_REFUSED);
	}
	xcount(X_PAGES_PAGEOUT, nr);
	count(OP_PAGEOUT, nr ? RES_OK : RES_NA);
}

static void op_recreate(void)
{
	struct region *r = &me.reg[rnd_below(NR_REGIONS)];

	count(OP_RECREATE, RES_TRIED);
	if (r->n && !verify_range(r, 0, r->n))
		return;
	region_unmap(r);
	hist_add(OP_RECREATE, r - me.reg, 0, region_pages, 0);
	if (region_create(r))
		count(OP_RECREATE, RES_OK);
}

static unsigned int total_weight;

static enum op pick_op(void)
{
	uint64_t w = rnd_below(total_weight);
	unsigned int op;

	for (op = 0; op < NR_OPS - 1; op++) {
		if (w < op_weights[op])
			break;
		w -= op_weights[op];
	}
	return op;
}

static void run_op(enum op op)
{
	switch (op) {
	case OP_WRITE: op_write(false); break;
	case OP_WRITE_SPARSE: op_write(true); break;
	case OP_VERIFY: op_verify(); break;
	case OP_VERIFY_ALL:
		count(OP_VERIFY_ALL, RES_TRIED);
		hist_add(OP_VERIFY_ALL, 0, 0, 0, 0);
		if (verify_all())
			count(OP_VERIFY_ALL, RES_OK);
		break;
	case OP_ZERO_READ: op_zero_read(); break;
	case OP_FORK: op_fork(); break;
	case OP_MUNMAP: op_munmap(); break;
	case OP_REMAP_HOLE: op_remap_hole(); break;
	case OP_MREMAP_MOVE: op_mremap_move(); break;
	case OP_MREMAP_GROW: op_mremap_grow(); break;
	case OP_MREMAP_SHRINK: op_mremap_shrink(); break;
	case OP_DONTNEED: op_dontneed(); break;
	case OP_FREE: op_free(); break;
	case OP_MPROTECT: op_mprotect(); break;
	case OP_COLLAPSE: op_collapse(); break;
	case OP_MOVE_PAGES: op_move_pages(); break;
	case OP_MBIND: op_mbind(); break;
	case OP_PAGEOUT: op_pageout(); break;
	case OP_RECREATE: op_recreate(); break;
	case NR_OPS: break;
	}
}

/* The loop of every process, worker or forked child; never returns. */
static void __attribute__((noreturn)) proc_loop(void)
{
	uint64_t iter = 0;

	while (!me.stop && now_ns() < me.deadline) {
		enum op op = pick_op();

		if (!__atomic_load_n(&sh->disabled[op], __ATOMIC_RELAXED))
			run_op(op);
		if ((++iter & 7) == 0)
			reap_kids(false);
	}
	if (!me.stop)
		verify_all();
	reap_kids(true);
	__atomic_fetch_add(&sh->pages_verified, me.verified, __ATOMIC_RELAXED);
	if (me.verified)
		__atomic_fetch_add(&sh->procs_verified, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->procs_finished, 1, __ATOMIC_RELAXED);
	_exit(me.failed ? 1 : 0);
}

static void __attribute__((noreturn)) worker_main(unsigned int index, int barrier_fd)
{
	unsigned int k;
	char c;

	me.worker = index;
	me.depth = 0;
	me.path = 0;
	me.rng = mix3(seed, index, 0);
	me.parent_uid = 0;
	me.uid = new_uid();
	__atomic_fetch_add(&sh->procs_started, 1, __ATOMIC_RELAXED);
	for (k = 0; k < NR_REGIONS; k++) {
		struct region *r = &me.reg[k];

		r->cap = region_cap;
		r->tbase = calloc(r->cap, sizeof(uint64_t));
		r->tover = calloc(r->cap, sizeof(uint64_t));
		r->flags = calloc(r->cap, 1);
		if (!r->tbase || !r->tover || !r->flags) {
			fail_msg("out of memory for the shadow");
			_exit(1);
		}
		region_create(r);
	}
	/* All workers start together: the barrier pipe reads EOF when main closes it. */
	while (read(barrier_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(barrier_fd);
	me.deadline = sh->t_end;
	proc_loop();
}

/* ------------------------------------------------------------------------------------ */
/* THP settings                                                                         */

struct knob {
	char path[160];
	char saved[32];
	bool changed;
};

#define MAX_KNOBS 24
static struct knob knobs[MAX_KNOBS];
static unsigned int nr_knobs;
static volatile sig_atomic_t knobs_restored;

/* The selected word of a sysfs choice file ("always [madvise] never"), or a number. */
static int read_choice(const char *path, char *out, size_t len)
{
	char buf[256], *lb, *rb;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	lb = strchr(buf, '[');
	rb = lb ? strchr(lb, ']') : NULL;
	if (lb && rb) {
		n = rb - lb - 1;
		if (n >= len)
			return -1;
		memcpy(out, lb + 1, n);
		out[n] = '\0';
		return 0;
	}
	n = strcspn(buf, "\n");
	if (n >= len)
		return -1;
	memcpy(out, buf, n);
	out[n] = '\0';
	return 0;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* Async-signal-safe: open/write/close only. */
static void restore_knobs(void)
{
	unsigned int i;

	if (getpid() != main_pid || knobs_restored)
		return;
	knobs_restored = 1;
	for (i = 0; i < nr_knobs; i++)
		if (knobs[i].changed) {
			int fd = open(knobs[i].path, O_WRONLY);

			if (fd >= 0) {
				if (write(fd, knobs[i].saved, strlen(knobs[i].saved)) < 0)
					knobs[i].changed = true;	/* nothing more to do */
				close(fd);
			}
		}
}

static void set_knob(const char *path, const char *val)
{
	struct knob *k;
	char cur[32];

	if (nr_knobs >= MAX_KNOBS || read_choice(path, cur, sizeof(cur)))
		return;
	k = &knobs[nr_knobs++];
	snprintf(k->path, sizeof(k->path), "%s", path);
	snprintf(k->saved, sizeof(k->saved), "%s", cur);
	if (!strcmp(cur, val))
		return;
	k->changed = true;
	if (write_str(path, val))
		ksft_print_msg("cannot set %s to %s: %s\n", path, val, strerror(errno));
}

static bool owner_writable(const char *path)
{
	struct stat st;

	return !stat(path, &st) && (st.st_mode & S_IWUSR) && !access(path, W_OK);
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Choose, from the seed, which folio sizes anonymous faults may use; print the result. */
static void configure_thp(void)
{
	static const char *const mthp_modes[] = { "always", "always", "madvise", "madvise",
						  "inherit", "never", "never" };
	static const char *const defrag_modes[] = { "madvise", "defer+madvise", "never" };
	unsigned long sizes[32];
	unsigned int nr_sizes = 0, i, enabled = 0;
	uint64_t s = seed ^ 0x7417c0ffee;
	const char *choice[32];
	char path[200], line[1024], cur[32];
	size_t off;
	struct dirent *d;
	DIR *dir;

	if (access(THP_DIR "/enabled", F_OK)) {
		ksft_print_msg("no THP in this kernel (%s missing): small folios only\n",
			       THP_DIR "/enabled");
		return;
	}
	dir = opendir(THP_DIR);
	while (dir && (d = readdir(dir)) && nr_sizes < 32) {
		unsigned long kb;

		if (sscanf(d->d_name, "hugepages-%lukB", &kb) != 1)
			continue;
		snprintf(path, sizeof(path), THP_DIR "/%.64s/enabled", d->d_name);
		if (owner_writable(path) || (keep_thp && !access(path, RES_OK)))
			sizes[nr_sizes++] = kb;
	}
	if (dir)
		closedir(dir);
	qsort(sizes, nr_sizes, sizeof(sizes[0]), cmp_ulong);

	if (!keep_thp && !owner_writable(THP_DIR "/enabled")) {
		ksft_print_msg("THP settings are not writable (not root?): keeping them\n");
		keep_thp = true;
	}
	if (!keep_thp) {
		const char *global = splitmix64(&s) & 1 ? "always" : "madvise";

		set_knob(THP_DIR "/enabled", global);
		set_knob(THP_DIR "/defrag", defrag_modes[splitmix64(&s) % 3]);
		if (owner_writable(THP_DIR "/use_zero_page"))
			set_knob(THP_DIR "/use_zero_page", splitmix64(&s) % 4 ? "1" : "0");
		for (i = 0; i < nr_sizes; i++) {
			choice[i] = mthp_modes[splitmix64(&s) % 7];
			if (sizes[i] << 10 == pmd_bytes)	/* PMD: follow the global mode */
				choice[i] = splitmix64(&s) % 3 ? "inherit" : global;
			if (strcmp(choice[i], "never"))
				enabled++;
		}
		/* At least two large sizes, so that folios of different orders meet. */
		for (i = 0; enabled < 2 && i < nr_sizes; i++)
			if (!strcmp(choice[i], "never")) {
				choice[i] = splitmix64(&s) & 1 ? "always" : "madvise";
				enabled++;
			}
		for (i = 0; i < nr_sizes; i++) {
			snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", sizes[i]);
			set_knob(path, choice[i]);
		}
	}
	off = 0;
	line[0] = '\0';
	if (!read_choice(THP_DIR "/enabled", cur, sizeof(cur)))
		off += snprintf(line + off, sizeof(line) - off, " enabled=%s", cur);
	if (!read_choice(THP_DIR "/defrag", cur, sizeof(cur)))
		off += snprintf(line + off, sizeof(line) - off, " defrag=%s", cur);
	if (!read_choice(THP_DIR "/use_zero_page", cur, sizeof(cur)))
		off += snprintf(line + off, sizeof(line) - off, " use_zero_page=%s", cur);
	for (i = 0; i < nr_sizes && off < sizeof(line); i++) {
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", sizes[i]);
		if (!read_choice(path, cur, sizeof(cur)))
			off += snprintf(line + off, sizeof(line) - off, " %lukB=%s", sizes[i], cur);
	}
	ksft_print_msg("THP%s%s\n", keep_thp ? " (kept as found):" : ":", line);
}

/* ------------------------------------------------------------------------------------ */
/* Reporting                                                                            */

static const char *const vmstat_names[] = {
	"thp_fault_alloc", "thp_fault_fallback", "thp_collapse_alloc",
	"thp_collapse_alloc_failed", "thp_split_page", "thp_split_page_failed",
	"thp_deferred_split_page", "thp_split_pmd", "thp_zero_page_alloc",
	"thp_migration_success", "thp_migration_fail", "thp_migration_split",
	"pgmigrate_success", "pgmigrate_fail", "pswpin", "pswpout", "thp_swpout",
	"pgreuse", "pglazyfree", "pglazyfreed", "numa_pages_migrated",
};
#define NR_VMSTAT (sizeof(vmstat_names) / sizeof(vmstat_names[0]))

static void vmstat_snapshot(long long *v)
{
	unsigned int i;

	for (i = 0; i < NR_VMSTAT; i++)
		v[i] = vmstat_read(vmstat_names[i]);
}


static int read_totals(uint64_t *v)
{
	return foliomap_read_counters(FOLIOMAP_TOTALS_PATH, v);
}

/* The module's records of model/kernel disagreements, when this run added some. */
static void print_mismatches(void)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen("/sys/kernel/debug/" FOLIOMAP_DEBUGFS_DIR "/" FOLIOMAP_MISMATCHES_FILE, "r");

	if (!f) {
		ksft_print_msg("cannot read the module's %s file: %s\n", FOLIOMAP_MISMATCHES_FILE,
			       strerror(errno));
		return;
	}
	ksft_print_msg("---- foliomap %s (the checker's records, not this test's) ----\n",
		       FOLIOMAP_MISMATCHES_FILE);
	while (fgets(line, sizeof(line), f) && n++ < 1000) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			ksft_print_msg("%s\n", line);
	}
	fclose(f);
}

static void print_ops(void)
{
	char line[2048];
	size_t off = 0;
	unsigned int op, x;
	const uint64_t (*o)[NR_RESULTS] = sh->ops;

	/* One line with what was done, then the details. */
	off += snprintf(line + off, sizeof(line) - off,
			"ops done: forks=%" PRIu64 " writes=%" PRIu64 " sparse_writes=%" PRIu64
			" verifies=%" PRIu64 " zero_reads=%" PRIu64 " munmaps=%" PRIu64
			" remaps=%" PRIu64 " mremaps=%" PRIu64 "/%" PRIu64 "/%" PRIu64
			" (move/grow/shrink) dontneeds=%" PRIu64 " frees=%" PRIu64
			" mprotects=%" PRIu64 " collapses=%" PRIu64 "/%" PRIu64
			" migrations=%" PRIu64 "/%" PRIu64 " (calls ok/tried; pages %" PRIu64
			"/%" PRIu64 ") mbinds=%" PRIu64 " pageouts=%" PRIu64 " recreates=%" PRIu64,
			o[OP_FORK][RES_OK], o[OP_WRITE][RES_OK], o[OP_WRITE_SPARSE][RES_OK],
			o[OP_VERIFY][RES_OK] + o[OP_VERIFY_ALL][RES_OK], o[OP_ZERO_READ][RES_OK],
			o[OP_MUNMAP][RES_OK], o[OP_REMAP_HOLE][RES_OK], o[OP_MREMAP_MOVE][RES_OK],
			o[OP_MREMAP_GROW][RES_OK], o[OP_MREMAP_SHRINK][RES_OK], o[OP_DONTNEED][RES_OK],
			o[OP_FREE][RES_OK], o[OP_MPROTECT][RES_OK], o[OP_COLLAPSE][RES_OK],
			o[OP_COLLAPSE][RES_TRIED], o[OP_MOVE_PAGES][RES_OK], o[OP_MOVE_PAGES][RES_TRIED],
			sh->extra[X_MIG_MOVED], sh->extra[X_MIG_PAGES], o[OP_MBIND][RES_OK],
			o[OP_PAGEOUT][RES_OK], o[OP_RECREATE][RES_OK]);
	ksft_print_msg("%s\n", line);
	for (op = 0; op < NR_OPS; op++) {
		ksft_print_msg("  %-14s ok %8" PRIu64 "  tried %8" PRIu64 "  refused %6" PRIu64
			       "  nothing-to-do %6" PRIu64 "%s\n", op_names[op], o[op][RES_OK],
			       o[op][RES_TRIED] ? o[op][RES_TRIED] : o[op][RES_OK], o[op][RES_REFUSED],
			       o[op][RES_NA], sh->disabled[op] ? "  (unsupported, skipped)" : "");
		if (sh->disabled[op] && sh->disabled_errno[op])
			ksft_print_msg("%s is not supported by this kernel (%s): skipped\n",
				       op_names[op], strerror(sh->disabled_errno[op]));
	}
	off = 0;
	for (x = 0; x < NR_EXTRA && off < sizeof(line); x++)
		off += snprintf(line + off, sizeof(line) - off, " %s=%" PRIu64, extra_names[x],
				sh->extra[x]);
	ksft_print_msg("details:%s\n", line);
	if (sh->extra[X_MIG_OTHER])
		ksft_print_msg("move_pages: last other status %d (%s)\n", sh->mig_other_status,
			       sh->mig_other_status < 0 ? strerror(-sh->mig_other_status) : "a node");
}

/* ------------------------------------------------------------------------------------ */
/* The harness                                                                          */

static pid_t workers[MAX_PROCS];
static unsigned int nr_workers;

static void on_signal(int sig)
{
	unsigned int i;

	if (getpid() == main_pid) {
		for (i = 0; i < nr_workers; i++)
			if (workers[i] > 0)
				kill(-workers[i], SIGKILL);
		restore_knobs();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mixload_test [--seed N] [--procs N] [--seconds N] [--region-mib N] "
		   "[--keep-thp]\n"
		   "  defaults: MIXLOAD_SEED (time-based), MIXLOAD_PROCS (8), MIXLOAD_SECONDS (10),\n"
		   "  MIXLOAD_REGION_MIB (4), MIXLOAD_KEEP_THP (unset: set THP sizes from the seed)\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && !*end;
}

static void parse_uint(const char *name, const char *s, unsigned int *out, unsigned int lo,
		       unsigned int hi)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v < lo || v > hi) {
		fprintf(stderr, "mixload_test: %s must be %u..%u, got '%s'\n", name, lo, hi,
			s ? s : "");
		usage(stderr);
		exit(KSFT_FAIL);
	}
	*out = v;
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (!strcmp(argv[*i], name)) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "mixload_test: %s needs a value\n", name);
			exit(KSFT_FAIL);
		}
		return argv[++*i];
	}
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	const char *v;
	bool have_seed = false;
	int i;

	if ((v = getenv("MIXLOAD_SEED")) && *v) {
		if (!parse_u64(v, &seed)) {
			fprintf(stderr, "mixload_test: bad MIXLOAD_SEED '%s'\n", v);
			exit(KSFT_FAIL);
		}
		have_seed = true;
	}
	if ((v = getenv("MIXLOAD_PROCS")) && *v)
		parse_uint("MIXLOAD_PROCS", v, &nr_procs, 1, MAX_PROCS);
	if ((v = getenv("MIXLOAD_SECONDS")) && *v)
		parse_uint("MIXLOAD_SECONDS", v, &seconds, 1, 3600);
	if ((v = getenv("MIXLOAD_REGION_MIB")) && *v)
		parse_uint("MIXLOAD_REGION_MIB", v, &region_mib, 1, 64);
	if ((v = getenv("MIXLOAD_KEEP_THP")) && *v && strcmp(v, "0"))
		keep_thp = true;
	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--seed"))) {
			if (!parse_u64(v, &seed)) {
				fprintf(stderr, "mixload_test: bad --seed '%s'\n", v);
				exit(KSFT_FAIL);
			}
			have_seed = true;
		} else if ((v = opt_value(argc, argv, &i, "--procs"))) {
			parse_uint("--procs", v, &nr_procs, 1, MAX_PROCS);
		} else if ((v = opt_value(argc, argv, &i, "--seconds"))) {
			parse_uint("--seconds", v, &seconds, 1, 3600);
		} else if ((v = opt_value(argc, argv, &i, "--region-mib"))) {
			parse_uint("--region-mib", v, &region_mib, 1, 64);
		} else if (!strcmp(argv[i], "--keep-thp")) {
			keep_thp = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(0);
		} else {
			fprintf(stderr, "mixload_test: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			exit(KSFT_FAIL);
		}
	}
	if (!have_seed) {
		struct timespec ts;
		uint64_t s;

		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		s = mix3(s, getpid(), 0);
		seed = s & 0xffffffffffffULL;	/* short enough to type */
	}
}

int main(int argc, char **argv)
{
	long long vm_before[NR_VMSTAT], vm_after[NR_VMSTAT];
	uint64_t fm_before[FOLIOMAP_NR_STATS] = { 0 }, fm_after[FOLIOMAP_NR_STATS] = { 0 };
	bool have_fm, overran[MAX_PROCS] = { false };
	int worker_status[MAX_PROCS], barrier[2], err;
	unsigned int i, alive, nr_overran = 0, nr_bad_workers = 0;
	uint64_t footprint, limit, t_done;
	char line[2048];
	size_t off;
	long hps;
	FILE *f;

	parse_args(argc, argv);
	main_pid = getpid();
	ps = sysconf(_SC_PAGESIZE);
	words = ps / sizeof(uint64_t);
	hps = 0;
	f = fopen(THP_DIR "/hpage_pmd_size", "r");
	if (f) {
		if (fscanf(f, "%ld", &hps) != 1)
			hps = 0;
		fclose(f);
	}
	pmd_bytes = hps > 0 ? (size_t)hps : 2UL << 20;	/* alignment even without THP */
	pmd_pages = pmd_bytes / ps;
	region_pages = ((size_t)region_mib << 20) / ps;
	region_cap = region_pages + region_pages / 2;
	for (i = 0; i < NR_OPS; i++)
		total_weight += op_weights[i];

	ksft_print_header();
	ksft_set_plan(3);
	ksft_print_msg("seed %" PRIu64 " (reproduce: MIXLOAD_SEED=%" PRIu64 " mixload_test --procs %u "
		       "--seconds %u --region-mib %u)\n", seed, seed, nr_procs, seconds, region_mib);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap of the shared area: %s\n", strerror(errno));

	/* Memory: the regions of every live process (each may grow by half). */
	footprint = (uint64_t)NR_REGIONS * region_cap * ps;
	sh->live_max = 2 * nr_procs;
	if ((uint64_t)sh->live_max * footprint > MEM_BUDGET) {
		uint64_t fit = MEM_BUDGET / footprint;

		sh->live_max = fit > nr_procs ? fit : nr_procs;
	}
	if ((uint64_t)nr_procs * footprint > MEM_BUDGET)
		ksft_print_msg("warning: %u processes x %" PRIu64 " MiB of regions exceed the %llu "
			       "MiB budget\n", nr_procs, footprint >> 20, MEM_BUDGET >> 20);
	sh->live = nr_procs;
	ksft_print_msg("%u workers, %u regions of %u MiB each (up to %zu MiB by mremap), at most %d "
		       "live processes: regions <= %" PRIu64 " MiB; %ld CPU(s)\n", nr_procs,
		       NR_REGIONS, region_mib, (region_cap * ps) >> 20, sh->live_max,
		       (uint64_t)sh->live_max * footprint >> 20, sysconf(_SC_NPROCESSORS_ONLN));

	err = mm_probe_open();
	if (err)
		ksft_print_msg("pagemap/kpageflags not readable (%s): failure reports give no PFN\n",
			       strerror(-err));

	numa2 = !access("/sys/devices/system/node/node1", F_OK);
	if (!numa2) {
		ksft_print_msg("only one NUMA node: move_pages and mbind skipped\n");
		sh->disabled[OP_MOVE_PAGES] = sh->disabled[OP_MBIND] = 1;
	} else if (page_node(&main_pid) == -ENOSYS) {
		ksft_print_msg("move_pages: ENOSYS (no CONFIG_MIGRATION/NUMA): move_pages and mbind "
			       "skipped\n");
		sh->disabled[OP_MOVE_PAGES] = sh->disabled[OP_MBIND] = 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGQUIT, on_signal);
	atexit(restore_knobs);
	configure_thp();

	have_fm = !read_totals(fm_before);
	vmstat_snapshot(vm_before);

	if (pipe(barrier))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	for (i = 0; i < nr_procs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			for (alive = 0; alive < i; alive++)
				kill(-workers[alive], SIGKILL);
			ksft_exit_fail_msg("fork of worker %u: %s\n", i, strerror(errno));
		}
		if (pid == 0) {
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			signal(SIGQUIT, SIG_DFL);
			setpgid(0, 0);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != main_pid)
				_exit(2);
			close(barrier[1]);
			worker_main(i, barrier[0]);
		}
		setpgid(pid, pid);
		workers[i] = pid;
		worker_status[i] = -1;
		nr_workers++;
	}
	close(barrier[0]);
	sh->t_start = now_ns();
	sh->t_end = sh->t_start + (uint64_t)seconds * 1000000000ULL;
	close(barrier[1]);	/* go */

	/* Watchdog: workers get the run plus a grace period to verify and reap. */
	limit = sh->t_end + (30ULL + seconds / 2) * 1000000000ULL;
	alive = nr_procs;
	while (alive) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0) {
			for (i = 0; i < nr_procs; i++)
				if (workers[i] == p && worker_status[i] < 0) {
					worker_status[i] = st;
					alive--;
				}
			continue;
		}
		if (p < 0 && errno != EINTR)
			break;
		if (now_ns() > limit) {
			for (i = 0; i < nr_procs; i++)
				if (worker_status[i] < 0) {
					kill(-workers[i], SIGKILL);
					overran[i] = true;
					nr_overran++;
				}
			for (i = 0; i < nr_procs; i++)
				if (worker_status[i] < 0) {
					waitpid(workers[i], &worker_status[i], 0);
					alive--;
				}
			break;
		}
		usleep(20000);
	}
	t_done = now_ns();

	vmstat_snapshot(vm_after);
	if (have_fm)
		have_fm = !read_totals(fm_after);

	for (i = 0; i < nr_procs; i++) {
		int st = worker_status[i];

		if (overran[i]) {
			ksft_print_msg("FAIL: worker %u (pid %d) still ran %" PRIu64 " s after the deadline: "
				       "killed\n", i, workers[i], (uint64_t)((limit - sh->t_end) / 1000000000ULL));
			nr_bad_workers++;
		} else if (st < 0) {
			ksft_print_msg("FAIL: worker %u (pid %d) was never reaped\n", i,
				       workers[i]);
			nr_bad_workers++;
		} else if (WIFSIGNALED(st)) {
			ksft_print_msg("FAIL: worker %u (pid %d) killed by signal %d (%s)\n", i,
				       workers[i], WTERMSIG(st), strsignal(WTERMSIG(st)));
			nr_bad_workers++;
		} else if (WEXITSTATUS(st)) {
			nr_bad_workers++;
		}
	}
	for (i = 0; i < sh->nr_msgs && i < MAX_MSGS; i++)
		ksft_print_msg("FAIL: %s\n", sh->msgs[i]);
	if (sh->nr_msgs > MAX_MSGS)
		ksft_print_msg("... and %u more failure messages\n", sh->nr_msgs - MAX_MSGS);

	print_ops();
	off = 0;
	for (i = 0; i < NR_VMSTAT && off < sizeof(line); i++)
		if (vm_before[i] >= 0 && vm_after[i] >= 0)
			off += snprintf(line + off, sizeof(line) - off, " %s=%lld", vmstat_names[i],
					vm_after[i] - vm_before[i]);
	ksft_print_msg("vmstat during the run:%s\n", off ? line : " (unreadable)");
	if (have_fm) {
		off = 0;
		for (i = 0; i < FOLIOMAP_NR_STATS && off < sizeof(line); i++)
			off += snprintf(line + off, sizeof(line) - off, " %s=%llu", foliomap_stat_names[i],
					(unsigned long long)(fm_after[i] - fm_before[i]));
		ksft_print_msg("foliomap totals during the run:%s\n", line);
		if (fm_after[FOLIOMAP_STAT_TRANSITION_MISMATCHES] >
		    fm_before[FOLIOMAP_STAT_TRANSITION_MISMATCHES] ||
		    fm_after[FOLIOMAP_STAT_COW_MISMATCHES] > fm_before[FOLIOMAP_STAT_COW_MISMATCHES])
			print_mismatches();
	} else {
		ksft_print_msg("foliomap module not loaded (%s unreadable): no shadow-check counts\n",
			       FOLIOMAP_TOTALS_PATH);
	}

	if (nr_overran)
		ksft_test_result_fail("workload ran %.1f s with %u processes (seed %" PRIu64 "): %u worker(s) "
				      "overran the deadline\n", (t_done - sh->t_start) / 1e9, nr_procs, seed,
				      nr_overran);
	else
		ksft_test_result_pass("workload ran %.1f s with %u processes + %" PRIu64 " forked (seed %"
				      PRIu64 ")\n", (t_done - sh->t_start) / 1e9, nr_procs,
				      sh->procs_started - nr_procs, seed);
	if (sh->corruptions || !sh->pages_verified)
		ksft_test_result_fail("data integrity: %" PRIu64 " corruption(s); %" PRIu64 " pages verified "
				      "in %" PRIu64 " processes\n", sh->corruptions, sh->pages_verified,
				      sh->procs_verified);
	else
		ksft_test_result_pass("data integrity: %" PRIu64 " pages verified in %" PRIu64 " processes\n",
				      sh->pages_verified, sh->procs_verified);
	if (nr_bad_workers || sh->failures || sh->corruptions)
		ksft_test_result_fail("no worker failed: %u worker(s) failed, %" PRIu64 " failure(s) in %"
				      PRIu64 " processes (seed %" PRIu64 ")\n", nr_bad_workers,
				      sh->failures + sh->corruptions, sh->procs_started, seed);
	else
		ksft_test_result_pass("no worker failed (%" PRIu64 " processes finished)\n",
				      sh->procs_finished);
	restore_knobs();
	ksft_finished();
}
