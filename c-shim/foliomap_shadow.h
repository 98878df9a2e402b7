/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shadow checking: every hooked transition of a real folio is recomputed by the foliomap
 * model and compared field by field (foliomap_hooks.c). Internal to the module.
 */
#ifndef FOLIOMAP_SHADOW_H
#define FOLIOMAP_SHADOW_H

#include <linux/mm_types.h>
#include <linux/types.h>

#include "foliomap.h"
#include "foliomap_debugfs.h"

/* The model's configuration is this kernel's (one module build per kernel). */
#define FOLIOMAP_FM_MODE \
	(IS_ENABLED(CONFIG_NO_PAGE_MAPCOUNT) ? FM_MODE_NOPMC : FM_MODE_PMC)

#define FOLIOMAP_MAX_PAGES FM_MAX_PAGES

/* A folio state in the model's representation, with its own page storage. */
struct fm_snap {
	fm_folio folio;
	fm_page pages[FOLIOMAP_MAX_PAGES];
};

/* Counters (foliomap_main.c). */
void foliomap_count(enum foliomap_stat stat);

/* foliomap_snapshot.c */
int foliomap_snapshot(struct folio *folio, struct fm_snap *snap);
void foliomap_snap_copy(struct fm_snap *dst, const struct fm_snap *src);

/* What one check compared, for a mismatch record. */
struct foliomap_check_report {
	const char *op;
	char args[96];
	const struct fm_snap *before;
	const struct fm_snap *predicted;
	const struct fm_snap *actual;
	u32 fields;		/* FM_FIELD_* compared */
	fm_folio_diff diff;
	int model_status;	/* fm_status of the model call */
	const char *note;	/* for CoW: the decisions */
	const fm_folio *cow_before;	/* for CoW: the folio header before the fault */
};

/* foliomap_report.c */
void foliomap_record(const struct foliomap_check_report *r, bool raced);
int foliomap_report_init(struct dentry *dir);

/* foliomap_inspect.c */
int foliomap_inspect_init(struct dentry *dir);

/* foliomap_hooks.c */
int foliomap_hooks_init(void);
void foliomap_hooks_exit(void);
u64 foliomap_hooks_missed(void);

extern bool foliomap_warn_on_mismatch;

#endif /* FOLIOMAP_SHADOW_H */
