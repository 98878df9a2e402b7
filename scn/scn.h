/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The scenario language (examples/csim/FORMAT.md): parsing and the canonical echo of a
 * step, shared by the simulator (examples/csim/scenario.c) and the kernel executor
 * (kmod-test/scn_run.c), which both compile scn.c in. Needs nothing of the library but
 * the FM_MODE_* constants of include/foliomap.h.
 */
#ifndef FOLIOMAP_SCN_H
#define FOLIOMAP_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SCN_NAME_LEN 24
#define SCN_PAGE_SIZE 4096ull
#define SCN_PMD_SIZE (SCN_PAGE_SIZE * 512)
#define MAX_TOKENS 24
#define MAX_LINE 512

/* What one page access (or the fault GUP takes for a pin) did; printed in transcripts. */
enum access_outcome {
	ACC_NOFAULT, /* present and sufficient: no fault */
	ACC_NEW,     /* not present: a new folio was allocated (first write) */
	ACC_ZERO,    /* not present, read: the shared zeropage was mapped */
	ACC_REUSE,   /* write fault on a read-only mapping, same page made writable */
	ACC_COPY,    /* write fault copied the page into a new order-0 folio */
	ACC_NR
};

enum verb {
	V_THP, V_SPAWN, V_MMAP, V_WRITE, V_READ, V_FORK, V_EXIT, V_MUNMAP, V_MADVISE,
	V_MPROTECT, V_MREMAP, V_PIN, V_UNPIN, V_MIGRATE, V_SPLIT, V_SHOW, V_EXPECT,
	V_QUERY,
};

/* An address operand REGION[+OFF] and an optional length. */
struct addr {
	char region[SCN_NAME_LEN];
	uint64_t off;
	uint64_t len;		/* 0: the command's default */
};

struct step {
	int line;
	enum verb verb;
	char actor[SCN_NAME_LEN];
	char name[SCN_NAME_LEN];	/* region / child / spawned process */
	struct addr a;
	uint64_t size, align, misalign;	/* mmap / mremap / thp */
	bool flag;			/* thp always; mprotect rw; pin write; migrate move */
	int node;
	char *expect[MAX_TOKENS];	/* expect arguments */
	int nr_expect;
	uint32_t expect_mode;		/* 0, or the only mode the expectation applies to */
};


/* A transcript line under construction; overflow: something did not fit (an error,
 * never a silently shortened line). */
struct buf {
	char s[65536];
	size_t n;
	bool overflow;
};

void scn_put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty again, for the next line. */
static inline void scn_buf_clear(struct buf *b)
{
	b->n = 0;
	b->s[0] = 0;
	b->overflow = false;
}
/* "file:line: message" on stderr, exit status 2; or, with a hook set, the hook's (which
 * must not return: the kernel executor reports the error and goes on with the next file) */
void scn_die(const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void scn_set_die_hook(void (*hook)(const char *path, int line, const char *msg));
const char *outcome_name(enum access_outcome o);
bool scn_parse_num(const char *t, uint64_t *v);
/* A signed count: [+|-]N, decimal or 0x hex, no size suffix (expect stat / total). */
bool scn_parse_count(const char *t, long long *v);
void scn_fmt_size(char *buf, size_t len, uint64_t v);
/*
 * One word of `expect checked`: COUNTER>=N, COUNTER a name of the module's debugfs
 * stats (c-shim/foliomap_debugfs.h); its enum foliomap_stat index and N.
 */
bool scn_parse_checked(const char *t, int *stat, unsigned long long *min);
/* The counter name of an enum foliomap_stat index, or NULL. */
const char *scn_stat_name(int stat);
/* Parses a whole scenario file (syntax errors: scn_die); *steps is malloc'ed. */
void scn_parse_file(const char *path, struct step **steps, int *nr);
void scn_free_steps(struct step *steps, int nr);
/* The canonical echo of a step (without the outcome). */
void scn_echo(const struct step *st, struct buf *b);
/*
 * The frames of a range `show` (FORMAT.md): one per run of pages that map consecutive
 * pages of one folio, per zeropage mapping, per hole; each on its own line
 * "  REGION+0xOFF LEN: TEXT", adjacent frames of equal length and text as one line
 * "  REGION+0xOFF LEN*N: TEXT". Frames are added in address order.
 */
struct scn_frames {
	struct buf *b;
	const char *region;
	uint64_t off, len;	/* the pending run: its first frame, and how many */
	int count;
	char text[4096];
};
void scn_frames_begin(struct scn_frames *fs, struct buf *b, const char *region);
void scn_frame_add(struct scn_frames *fs, uint64_t off, uint64_t len, const char *text);
void scn_frames_end(struct scn_frames *fs);
/* NEW NOFAULT*15: run-length encoded outcomes */
void scn_render_outcomes(struct buf *b, const enum access_outcome *o, int n);

/*
 * What userspace reads about a range (the `query` line, FORMAT.md): per page the
 * pagemap PM_MMAP_EXCLUSIVE bit and /proc/kpagecount (SCN_Q_NONE: pagemap says not
 * present), and smaps of the VMAs the range touches, in kB as smaps prints them.
 */
#define SCN_Q_NONE (-1)
struct scn_query {
	int n;			/* pages */
	long long *excl;	/* 0 / 1 / SCN_Q_NONE */
	long long *kpc;		/* kpagecount / SCN_Q_NONE */
	/* kB, summed over the VMAs; shared/private: [0] Clean, [1] Dirty */
	uint64_t rss, pss, shared[2], private_[2], anonhuge;
};
/* ": excl=[1*16] kpc=[1*16] rss=64K pss=64K shared=0+0 private=0+64K anonhuge=0" */
void scn_render_query(struct buf *b, const struct scn_query *q);

#endif /* FOLIOMAP_SCN_H */
