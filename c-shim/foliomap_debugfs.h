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
 *  missed_events          probe hits lost (kprobe nmissed, kretprobe maxactive)
 */
enum foliomap_stat {
	FOLIOMAP_STAT_TRANSITIONS_CHECKED,
	FOLIOMAP_STAT_TRANSITION_MISMATCHES,
	FOLIOMAP_STAT_TRANSITIONS_RACED,
	FOLIOMAP_STAT_COW_CHECKED,
	FOLIOMAP_STAT_COW_MISMATCHES,
	FOLIOMAP_STAT_MISSED_EVENTS,
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
}

#endif /* FOLIOMAP_DEBUGFS_H */
