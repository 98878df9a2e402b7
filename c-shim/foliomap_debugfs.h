/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The debugfs interface of the foliomap module, shared by the module (c-shim/) and
 * the tests that read it (kmod-test/), as mm/gup_test.h is for gup_test.
 *
 * /sys/kernel/debug/foliomap/stats (root only) reads as one "name value" pair per
 * line: first every counter of enum foliomap_stat in that order (decimal u64),
 * then "version <library version>" and "mode pmc|nopmc" (the kernel configuration the
 * module was built for: CONFIG_PAGE_MAPCOUNT or CONFIG_NO_PAGE_MAPCOUNT).
 * Writing "reset" (a trailing newline is allowed) zeroes the counters; any other
 * write fails with EINVAL.
 */
#ifndef FOLIOMAP_DEBUGFS_H
#define FOLIOMAP_DEBUGFS_H

#define FOLIOMAP_DEBUGFS_DIR		"foliomap"
#define FOLIOMAP_STATS_FILE		"stats"
#define FOLIOMAP_STATS_PATH		"/sys/kernel/debug/" FOLIOMAP_DEBUGFS_DIR "/" FOLIOMAP_STATS_FILE
#define FOLIOMAP_STATS_RESET		"reset"
#define FOLIOMAP_STATS_VERSION_KEY	"version"
#define FOLIOMAP_STATS_MODE_KEY		"mode"
#define FOLIOMAP_MODE_PMC		"pmc"
#define FOLIOMAP_MODE_NOPMC		"nopmc"

/*
 * The counters, in the order of their lines in stats:
 *  transitions_checked    rmap/fork/unmap transitions compared with the model
 *  transition_mismatches  ... where the model disagreed with the kernel
 *  transitions_raced      ... skipped because the folio changed under us
 *  cow_checked            write faults whose reuse/copy decision was compared
 *  cow_mismatches         ... where the model decided differently
 *  missed_events          probe hits lost (kprobe nmissed, kretprobe maxactive,
 *                         preallocated check storage exhausted)
 *  cow_fact_dependent     CoW decisions that depended on facts the model cannot
 *                         know (trylock, LRU batch, swap cache); counted as checked
 *                         when the kernel's decision is one the model allows
 *  fork_folios_skipped    large folios of a forking VMA beyond the per-fork limit
 *  op_*                   checked transitions per hooked kernel function
 */
enum foliomap_stat {
	FOLIOMAP_STAT_TRANSITIONS_CHECKED,
	FOLIOMAP_STAT_TRANSITION_MISMATCHES,
	FOLIOMAP_STAT_TRANSITIONS_RACED,
	FOLIOMAP_STAT_COW_CHECKED,
	FOLIOMAP_STAT_COW_MISMATCHES,
	FOLIOMAP_STAT_MISSED_EVENTS,
	FOLIOMAP_STAT_COW_FACT_DEPENDENT,
	FOLIOMAP_STAT_FORK_FOLIOS_SKIPPED,
	FOLIOMAP_STAT_OP_ADD_NEW_ANON,
	FOLIOMAP_STAT_OP_ADD_ANON_PTES,
	FOLIOMAP_STAT_OP_ADD_ANON_PMD,
	FOLIOMAP_STAT_OP_ADD_FILE_PTES,
	FOLIOMAP_STAT_OP_ADD_FILE_PMD,
	FOLIOMAP_STAT_OP_REMOVE_PTES,
	FOLIOMAP_STAT_OP_REMOVE_PMD,
	FOLIOMAP_STAT_OP_DEFERRED_SPLIT,
	FOLIOMAP_STAT_OP_SPLIT_PMD,
	FOLIOMAP_STAT_OP_MIGRATE_PMD,
	FOLIOMAP_STAT_OP_TRY_TO_MIGRATE,
	FOLIOMAP_STAT_OP_REMOVE_MIGRATION_PTES,
	FOLIOMAP_STAT_OP_FORK,
	FOLIOMAP_NR_STATS
};

/* Initializer for a "const char *names[FOLIOMAP_NR_STATS]" table of the line names. */
#define FOLIOMAP_STAT_NAMES {						\
	[FOLIOMAP_STAT_TRANSITIONS_CHECKED]	= "transitions_checked",	\
	[FOLIOMAP_STAT_TRANSITION_MISMATCHES]	= "transition_mismatches",	\
	[FOLIOMAP_STAT_TRANSITIONS_RACED]	= "transitions_raced",		\
	[FOLIOMAP_STAT_COW_CHECKED]		= "cow_checked",		\
	[FOLIOMAP_STAT_COW_MISMATCHES]		= "cow_mismatches",		\
	[FOLIOMAP_STAT_MISSED_EVENTS]		= "missed_events",		\
	[FOLIOMAP_STAT_COW_FACT_DEPENDENT]	= "cow_fact_dependent",		\
	[FOLIOMAP_STAT_FORK_FOLIOS_SKIPPED]	= "fork_folios_skipped",	\
	[FOLIOMAP_STAT_OP_ADD_NEW_ANON]		= "op_add_new_anon",		\
	[FOLIOMAP_STAT_OP_ADD_ANON_PTES]	= "op_add_anon_ptes",		\
	[FOLIOMAP_STAT_OP_ADD_ANON_PMD]		= "op_add_anon_pmd",		\
	[FOLIOMAP_STAT_OP_ADD_FILE_PTES]	= "op_add_file_ptes",		\
	[FOLIOMAP_STAT_OP_ADD_FILE_PMD]		= "op_add_file_pmd",		\
	[FOLIOMAP_STAT_OP_REMOVE_PTES]		= "op_remove_ptes",		\
	[FOLIOMAP_STAT_OP_REMOVE_PMD]		= "op_remove_pmd",		\
	[FOLIOMAP_STAT_OP_DEFERRED_SPLIT]	= "op_deferred_split",		\
	[FOLIOMAP_STAT_OP_SPLIT_PMD]		= "op_split_pmd",		\
	[FOLIOMAP_STAT_OP_MIGRATE_PMD]		= "op_migrate_pmd",		\
	[FOLIOMAP_STAT_OP_TRY_TO_MIGRATE]	= "op_try_to_migrate",		\
	[FOLIOMAP_STAT_OP_REMOVE_MIGRATION_PTES] = "op_remove_migration_ptes",	\
	[FOLIOMAP_STAT_OP_FORK]			= "op_fork",			\
}

/*
 * /sys/kernel/debug/foliomap/mismatches (root only, read-only): the last recorded
 * disagreements between the model and the kernel, each with the operation and its
 * arguments, the folio before, the model's prediction, the kernel's folio after, and
 * the differing fields (marked '*'). Writing "reset" to stats also clears it.
 */
#define FOLIOMAP_MISMATCHES_FILE	"mismatches"

#endif /* FOLIOMAP_DEBUGFS_H */
