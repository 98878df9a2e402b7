/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shadow checking: every hooked transition of a real folio is recomputed by the foliomap
 * model and compared field by field (foliomap_hooks.c). Internal to the module.
 */
#ifndef FOLIOMAP_SHADOW_H
#define FOLIOMAP_SHADOW_H

#include <linux/mm_types.h>

struct dentry;
#include <linux/types.h>

#include "foliomap.h"
#include "foliomap_debugfs.h"

/* The model's configuration is this kernel's (one module build per kernel). */
#define FOLIOMAP_FM_MODE \
	(IS_ENABLED(CONFIG_NO_PAGE_MAPCOUNT) ? FM_MODE_NOPMC : FM_MODE_PMC)

#define FOLIOMAP_MAX_PAGES FM_MAX_PAGES

/*
 * The kernel's own accessors (include/linux/mm.h) applied to the state a snapshot read:
 * what the model's queries (spec §4) must answer for it.
 */
struct fm_kernel_answers {
	int mapcount;			/* folio_mapcount */
	int large_mapcount;		/* folio_large_mapcount (large folios) */
	int entire_mapcount;		/* folio_entire_mapcount (large folios) */
	int expected_ref_count;		/* folio_expected_ref_count */
	bool mapped;			/* folio_mapped */
	bool maybe_mapped_shared;	/* folio_maybe_mapped_shared */
	bool maybe_dma_pinned;		/* folio_maybe_dma_pinned */
	bool valid;			/* taken by foliomap_snapshot_after() */
};

/* A folio state in the model's representation, with its own page storage. */
struct fm_snap {
	fm_folio folio;
	struct fm_kernel_answers answers;
	fm_page pages[FOLIOMAP_MAX_PAGES];
};

/* Counters (foliomap_main.c): every one also in the scope's (foliomap_scope.c). */
void foliomap_count(enum foliomap_stat stat);

/* foliomap_scope.c */
void foliomap_scope_count(enum foliomap_stat stat);
void foliomap_scope_fork(struct mm_struct *parent, struct mm_struct *child);
int foliomap_scope_init(struct dentry *dir);
void foliomap_scope_exit(void);

/* foliomap_snapshot.c */
int foliomap_snapshot(struct folio *folio, struct fm_snap *snap);
/* The same, with the kernel's answers: for a check's state after the operation. */
int foliomap_snapshot_after(struct folio *folio, struct fm_snap *snap);
int foliomap_snapshot_into(struct folio *folio, fm_folio *f, fm_page *pages, u32 cap);
void foliomap_snap_copy(struct fm_snap *dst, const struct fm_snap *src);

/*
 * The model's queries of @snap's state against the kernel's answers for it; 0 when they
 * agree, else -1 with the first difference described in @note.
 */
int foliomap_compare_answers(const struct fm_snap *snap, char *note, size_t len);

/* What one check compared, for a mismatch record. */
struct foliomap_check_report {
	const char *op;
	char args[128];
	const fm_folio *before;		/* each with its pages; NULL: none */
	const fm_folio *predicted;
	const fm_folio *actual;
	u32 fields;		/* FM_FIELD_* compared */
	fm_folio_diff diff;
	int model_status;	/* fm_status of the model call */
	const char *note;	/* e.g. a write fault's decisions */
	const char *culprit;	/* for a raced record: the foreign event that explains it */
};

/* foliomap_report.c */
enum foliomap_record_kind { RECORD_MISMATCH, RECORD_RACED, RECORD_UNCHECKED };
void foliomap_record(const struct foliomap_check_report *r, enum foliomap_record_kind kind);
/* A check whose refcount was not compared and would have differed (debugfs excluded_by). */
void foliomap_count_excluded(const char *op, const char *culprit);
int foliomap_report_init(struct dentry *dir);

/* foliomap_inspect.c */
int foliomap_inspect_init(struct dentry *dir);

/* foliomap_hooks.c */
int foliomap_hooks_init(struct dentry *dir);
void foliomap_hooks_exit(void);
u64 foliomap_hooks_missed(void);

extern bool foliomap_warn_on_mismatch;

#endif /* FOLIOMAP_SHADOW_H */
