// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * File-backed large folios under the shadow checker: the cases the scenario corpus
 * (examples/csim/scenarios, run in the VM by corpus_test) cannot hold, because the
 * corpus and its simulator model anonymous memory only. Each case
 *
 *  1. zeroes the module's counters (debugfs stats "reset");
 *  2. runs its steps in helper processes (P, C1, C2) that obey commands sent through
 *     pipes, one step at a time, so every process is quiescent while another acts;
 *  3. asserts the kernel's real outcome: PFNs from /proc/self/pagemap (read by the
 *     process that maps them), large-folio-ness from /proc/kpageflags, nodes after
 *     mbind();
 *  4. once every helper has exited, asserts that the module checked the kinds of
 *     transitions the case must produce, with no mismatch and no missed event (and, on
 *     one CPU, no race). A failure prints the module's mismatch records.
 *
 * Modelled on tools/testing/selftests/mm/cow.c: the cases are a table, one row each.
 * The shared file is a memfd written in one go, which shmem ("within_size") makes one
 * folio of the row's size; a kernel that does not is a skip.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "foliomap_debugfs.h"
#include "kselftest.h"
#include "mm_probe.h"

#define MAX_PAGES		512
#define MAX_PROCS		3
#define THP_DIR			"/sys/kernel/mm/transparent_hugepage"
#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED	(1 << 1)
#endif
#define FILTER_ENV		"FILEMAP_TEST_FILTER"
#define REEXEC_ENV		"FOLIOMAP_FILEMAP_TEST_REEXEC"

/* ------------------------------------------------------------------------------------ */
/* The case language                                                                    */

enum op {
	OP_END,
	OP_FORK,	/* the process forks; the child becomes process @arg */
	OP_WRITE,	/* write pages [first, first+nr) of the region: none may fault */
	OP_MBIND,	/* mbind(MPOL_BIND other node, MPOL_MF_MOVE) of the region */
	OP_ORIG,	/* pages map the region's original PFNs (@expect 1) or others (0) */
	OP_SMALL,	/* pages of the region are in small folios */
	OP_SHM,		/* P creates the shared file (a memfd) of the row's size, written */
	OP_SHM_MAP,	/* map file pages [first, first+nr) MAP_SHARED (a VMA of its own), read */
	OP_SHM_UNMAP,	/* munmap the file VMA that starts at file page @first */
	OP_PRIVATE_FILE, /* the region: the whole memfd mapped MAP_PRIVATE, every page written */
	OP_EXIT,	/* the process exits (the next step runs once its mm is gone) */
};

struct step {
	unsigned char proc;	/* 0 = P, 1 = C1, 2 = C2 */
	unsigned char op;
	unsigned int first, nr;
	int arg;
};

#define FORK(p, c)		{ p, OP_FORK, 0, 0, c }
#define WRITE(p, f, n)		{ p, OP_WRITE, f, n, 0 }
#define MBIND(p)		{ p, OP_MBIND, 0, 0, 0 }
#define ORIG(p, f, n, yes)	{ p, OP_ORIG, f, n, yes }
#define SMALL(p, f, n)		{ p, OP_SMALL, f, n, 0 }
#define SHM(p)			{ p, OP_SHM, 0, 0, 0 }
#define SHM_MAP(p, f, n)	{ p, OP_SHM_MAP, f, n, 0 }
#define SHM_UNMAP(p, f)		{ p, OP_SHM_UNMAP, f, 0, 0 }
#define PRIVATE_FILE(p)		{ p, OP_PRIVATE_FILE, 0, 0, 0 }
#define EXIT(p)			{ p, OP_EXIT, 0, 0, 0 }

#define P	0
#define C1	1
#define C2	2

#define STAT(name)	(1ull << FOLIOMAP_STAT_OP_##name)

_Static_assert(FOLIOMAP_NR_STATS <= 64, "need masks are 64-bit");

struct scenario {
	const char *name;
	size_t size;		/* the file's size: one folio of it */
	uint64_t need;		/* stats that must be > 0 after the case */
	bool need_numa;
	struct step steps[20];
};

static const struct scenario scenarios[] = {
	/*
	 * A shared file folio: C2 maps half of it while P and C1 own both slots (untracked),
	 * C1 exits, C2 maps one more page and takes the free slot with a count of 0, then
	 * unmaps its 8 untracked pages in one batch: the slot underflows to -8 and is
	 * released like any underflow (spec §2.3).
	 */
	{ "shared file mTHP: a slot taken late underflows by 8 and is released", 64 << 10,
	  STAT(ADD_FILE_PTES) | STAT(REMOVE_PTES), false, {
		SHM(P), FORK(P, C1), FORK(P, C2), SHM_MAP(P, 0, 16), SHM_MAP(C1, 0, 16),
		SHM_MAP(C2, 0, 8), EXIT(C1), SHM_MAP(C2, 8, 1), SHM_UNMAP(C2, 0),
		SHM_UNMAP(C2, 8), EXIT(C2), SHM_UNMAP(P, 0), EXIT(P) } },
	/*
	 * Anon folios of a MAP_PRIVATE file mapping are found by the VMA's anonymous page
	 * offset, not by its file offset (vm_pgoff): the migration entries try_to_migrate
	 * installs are where the rmap walk finds the pages.
	 */
	{ "MAP_PRIVATE file pages written (anon copies), mbind MPOL_MF_MOVE", 64 << 10,
	  STAT(TRY_TO_MIGRATE) | STAT(REMOVE_MIGRATION_PTES) | STAT(RESTORE_PTE), true, {
		SHM(P), PRIVATE_FILE(P), SMALL(P, 0, 16), MBIND(P), ORIG(P, 0, 16, 0),
		WRITE(P, 0, 16), EXIT(P) } },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ------------------------------------------------------------------------------------ */
/* Files                                                                                */

static size_t page_size;

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

/* ------------------------------------------------------------------------------------ */
/* The helper processes                                                                 */

/* The region of the case, as this process sees it (copied into children at fork). */
static struct {
	char *base;
	size_t size;
	unsigned int nr;
	uint64_t orig[MAX_PAGES];
} region;
/* The case's shared file and this process's VMAs of it (copied at fork, too). */
#define MAX_SHM_VMAS	4
static int shm_fd = -1;
static size_t shm_size;
static struct shm_vma {
	char *addr;
	unsigned int first, nr;
} shm_vmas[MAX_SHM_VMAS];
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

#define FAIL(r, ...) ({ snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__); (r)->status = 1; })
#define SKIP(r, ...) ({ snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__); (r)->status = 2; })

static unsigned char fill_byte(unsigned int page)
{
	return 0x80 | (page % 127);
}

/* Writes pages [first, first + nr) of the region: each was writable, none faults. */
static void do_write(unsigned int first, unsigned int nr, struct resp *r)
{
	unsigned int i;

	for (i = first; i < first + nr; i++) {
		char *p = region.base + i * page_size;
		uint64_t before = pfn_of(p), after;
		unsigned char keep = p[1];

		p[0] = 0x11;
		after = pfn_of(p);
		if (!before || after != before)
			return (void)FAIL(r, "page %u: pfn %#" PRIx64 " -> %#" PRIx64
					  ": expected no fault", i, before, after);
		if ((unsigned char)p[1] != keep)
			return (void)FAIL(r, "page %u: contents changed by the write", i);
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

/* mbind(MPOL_BIND, MPOL_MF_MOVE) of the region to the other node: every page moves. */
static void do_mbind(struct resp *r)
{
	int from = page_node(region.base), to;
	unsigned long mask;
	unsigned int i;

	if (from < 0)
		return (void)FAIL(r, "move_pages query: %s", strerror(-from));
	to = !from;
	mask = 1UL << to;
	if (syscall(SYS_mbind, region.base, region.size, MPOL_BIND, &mask, sizeof(mask) * 8,
		    MPOL_MF_MOVE | MPOL_MF_STRICT))
		return (void)FAIL(r, "mbind to node %d: %s", to, strerror(errno));
	for (i = 0; i < region.nr; i++) {
		char *p = region.base + i * page_size;
		int node = page_node(p);

		if (node != to || pfn_of(p) == region.orig[i])
			return (void)FAIL(r, "page %u: on node %d, wanted node %d with a new pfn",
					  i, node, to);
	}
}

static void do_shm_create(size_t size, struct resp *r)
{
	unsigned int i, nr = size / page_size;
	char *buf;

	shm_fd = memfd_create("filemap_test", 0);
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

static void do_check(const struct step *s, unsigned int first, unsigned int nr, struct resp *r)
{
	unsigned int i;

	for (i = first; i < first + nr; i++) {
		uint64_t pfn = pfn_of(region.base + i * page_size);

		switch (s->op) {
		case OP_ORIG:
			if (s->arg ? pfn != region.orig[i] : pfn == region.orig[i] || !pfn)
				return (void)FAIL(r, "page %u: pfn %#" PRIx64 ", region's %#" PRIx64
						  ": expected %s", i, pfn, region.orig[i],
						  s->arg ? "the original" : "another present page");
			if (region.base[i * page_size + 1] != (char)fill_byte(i))
				return (void)FAIL(r, "page %u: contents lost", i);
			break;
		case OP_SMALL:
			if (!pfn || pfn_is_thp(pfn))
				return (void)FAIL(r, "page %u (pfn %#" PRIx64 "): %s", i, pfn,
						  pfn ? "in a large folio" : "not mapped");
			break;
		}
	}
}

static void serve(unsigned int slot) __attribute__((noreturn));

/* Runs one command; a fork returns in the child with *child_slot set. */
static void run_cmd(const struct cmd *c, struct resp *r, int *child_slot)
{
	const struct step *s = &c->step;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	switch (s->op) {
	case OP_FORK:
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return (void)FAIL(r, "fork: %s", strerror(errno));
		if (pid == 0)
			*child_slot = s->arg;
		return;
	case OP_SHM:
		return do_shm_create(c->size, r);
	case OP_SHM_MAP:
		return do_shm_map(s->first, s->nr, r);
	case OP_SHM_UNMAP:
		return do_shm_unmap(s->first, r);
	case OP_PRIVATE_FILE:
		return do_private_file(r);
	case OP_MBIND:
		return do_mbind(r);
	}
	if (!range_ok(s->first, s->nr, r))
		return;
	if (s->op == OP_WRITE)
		return do_write(s->first, s->nr, r);
	do_check(s, s->first, s->nr, r);
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
	[OP_FORK] = "fork", [OP_WRITE] = "write", [OP_MBIND] = "mbind",
	[OP_ORIG] = "check pfns", [OP_SMALL] = "check small folios",
	[OP_SHM] = "create shared file", [OP_SHM_MAP] = "map file", [OP_SHM_UNMAP] = "unmap file",
	[OP_PRIVATE_FILE] = "map file MAP_PRIVATE, write",
	[OP_EXIT] = "exit",
};
static const char *const proc_names[] = { "P", "C1", "C2" };

/* Runs the steps; returns 0, or 1 (failed) / 2 (skip) with the reason in why. */
static int run_steps(const struct scenario *sc, char *why, size_t why_len)
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
		send_cmd(s->proc, s, sc->size);
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

static void run_case(const struct scenario *sc, const char *desc)
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

	if (sc->need_numa && access("/sys/devices/system/node/node1", F_OK))
		return ksft_test_result_code(KSFT_SKIP, desc, "needs NUMA nodes 0 and 1");

	if (write_file(FOLIOMAP_STATS_PATH, FOLIOMAP_STATS_RESET))
		ksft_exit_fail_msg("cannot reset %s\n", FOLIOMAP_STATS_PATH);
	status = run_steps(sc, why, sizeof(why));
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
/* Background noise                                                                     */

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
		setting_read(knobs[i].path, saved_knobs[i], KNOB_LEN);
		if (saved_knobs[i][0] && write_file(knobs[i].path, knobs[i].quiet))
			ksft_print_msg("cannot set %s\n", knobs[i].path);
	}
	atexit(restore_knobs);
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
	const char *filter;
	unsigned int i;
	int err;

	(void)argc;
	thp_only_where_advised(argv);

	page_size = sysconf(_SC_PAGESIZE);
	one_cpu = sysconf(_SC_NPROCESSORS_ONLN) == 1;
	filter = getenv(FILTER_ENV);	/* run only the cases whose name contains it */

	ksft_print_header();
	ksft_set_plan(NR_SCENARIOS);
	if (access(FOLIOMAP_STATS_PATH, R_OK))
		ksft_exit_fail_msg("%s: %s (is foliomap.ko loaded?)\n", FOLIOMAP_STATS_PATH,
				   strerror(errno));
	err = mm_probe_open();
	if (err)
		ksft_exit_fail_msg("cannot open /proc/self/pagemap or /proc/kpageflags: %s\n",
				   strerror(-err));
	/* Helpers whose parent helper exited are reparented to us, and reaped here. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	quiet_knobs();
	for (i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *sc = &scenarios[i];

		if (filter && !strstr(sc->name, filter)) {
			ksft_test_result_code(KSFT_SKIP, sc->name, "not selected by " FILTER_ENV);
			continue;
		}
		run_case(sc, sc->name);
	}
	ksft_finished();
}
