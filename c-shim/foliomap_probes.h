/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The probe families and their hook descriptions (foliomap_hooks.c registers them).
 */
#ifndef FOLIOMAP_PROBES_H
#define FOLIOMAP_PROBES_H

#include <linux/kprobes.h>

/* How many instances a hook needs: by whether its function can sleep. */
enum hook_concurrency {
	HOOK_ATOMIC,	/* runs without sleeping: a few instances per CPU */
	HOOK_SLEEPS,	/* may sleep: one instance per task inside it */
};

/* What a hook's instances hold from entry to return (for sizing the tables). */
#define HOOK_USES_CHECK		(1u << 0)
#define HOOK_USES_REPLAY	(1u << 1)
#define HOOK_USES_MOVER		(1u << 2)
#define HOOK_USES_FORK		(1u << 3)
#define HOOK_USES_CHECK2	(1u << 4)	/* a second check entry */
#define HOOK_USES_TAIL		(1u << 5)	/* a migration's destination put (rmap) */

struct foliomap_hook_desc {
	const char *symbol;
	kretprobe_handler_t entry;
	kretprobe_handler_t ret;
	size_t data_size;
	enum hook_concurrency concurrency;
	u32 uses;
	int arg;		/* for handlers shared by several hooks: which one */
};

#define HOOK_DESC_ARG(sym, e, r, data, conc, u, a) \
	{ .symbol = sym, .entry = e, .ret = r, .data_size = sizeof(data), \
	  .concurrency = conc, .uses = u, .arg = a }
#define HOOK_DESC(sym, e, r, data, conc, u) HOOK_DESC_ARG(sym, e, r, data, conc, u, 0)

/* The description of the hook a handler runs for (foliomap_hooks.c). */
const struct foliomap_hook_desc *foliomap_hook_of(struct kretprobe_instance *ri);

extern const struct foliomap_hook_desc foliomap_rmap_hooks[];
extern const unsigned int foliomap_nr_rmap_hooks;
extern const struct foliomap_hook_desc foliomap_cow_hooks[];
extern const unsigned int foliomap_nr_cow_hooks;
extern const struct foliomap_hook_desc foliomap_fork_hooks[];
extern const unsigned int foliomap_nr_fork_hooks;
extern const struct foliomap_hook_desc foliomap_mover_hooks[];
extern const unsigned int foliomap_nr_mover_hooks;
extern const struct foliomap_hook_desc foliomap_split_hooks[];
extern const unsigned int foliomap_nr_split_hooks;

/*
 * The deferred-split requeue of a migration destination the model's migrate_move
 * predicted (foliomap_split_probes.c): taken by the destination's deferred_split_folio
 * check (the partially-mapped value, or -1 when none is expected); one never taken is a
 * mismatch, reported when the migration adds the destination to the LRU (which it does
 * whether or not the folio was mapped; an expectation left for a later restore leaked
 * when there was none: an unmapped swap-cache folio's migration).
 */
int foliomap_migrate_requeue_take(struct folio *dst);
void foliomap_migrate_requeue_missed(struct folio *dst);

/* The fork family's snapshot arenas, one per copy_page_range instance. */
int foliomap_fork_init(unsigned int instances);
void foliomap_fork_exit(void);
/* The pending destination puts of migrations (foliomap_rmap_probes.c). */
int foliomap_rmap_init(unsigned int instances);
void foliomap_rmap_exit(void);
/* migrate_folio_done(): the migration's destination put, if one is pending, is done. */
void foliomap_migrate_tail_end(void);

#endif /* FOLIOMAP_PROBES_H */
