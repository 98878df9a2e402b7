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
 * write (a NUL byte in it too) fails with EINVAL, a bad buffer with EFAULT, and
 * neither changes anything.
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
 *  cow_fact_dependent     CoW decisions taken with one of the facts the accounting
 *                         cannot know observed set (the folio was locked, this task's
 *                         LRU drain dropped its batch reference, its swap cache was
 *                         freed); the model decides with the observed facts
 *  fork_folios_skipped    large folios of a forking VMA that did not fit the fork's
 *                         snapshot storage (not checked: a failure of the run)
 *  unchecked              hooked transitions that could not be compared (the sum of
 *                         the unchecked_* reasons below)
 *  op_*                   checked transitions per hooked kernel function; op_zap_refs:
 *                         the references a zap queued for the TLB flush; op_restore_pte:
 *                         restores from a PTE migration entry; op_cow: the folio's state
 *                         after a write fault's decision; op_folio_split, op_split_freeze:
 *                         a folio split's precondition and reference freeze (return
 *                         values); op_migrate_move: a migration's move (return value, the
 *                         source after it, the destination's deferred-split requeue);
 *                         op_fault_refs: the references a fault maps a fresh folio with
 *  cow_backed_out         write faults that decided nothing (the PTE changed, OOM)
 *  cow_small_checked      CoW decisions on order-0 folios (part of cow_checked)
 *  refcount_excluded      checks whose refcount was not compared: a reference mover
 *                         (TLB-batched free, LRU drain, isolation, a swap-cache lookup's
 *                         holder) straddled them
 *  refs_accounted         checks whose prediction included the exact reference change
 *                         of movers that ran inside them
 *  unchecked_folio_changed  the folio changed order (split, or freed and reused)
 *                         between the two snapshots, or the operation freed it and
 *                         another task had it allocated again before the second one
 *  unchecked_cow_swayed   one CPU: a copy fault slept before acting, and what other tasks
 *                         changed meanwhile would have made the model decide otherwise:
 *                         the decision is checked, the act on the later state is not
 *  hooks_missing          hooks that failed to register (load refuses unless
 *                         allow_missing_hooks=1)
 *  answers_checked        checked transitions whose state the model's queries (spec §4)
 *                         also read as the kernel's accessors do (folio_mapcount,
 *                         folio_entire_mapcount, folio_maybe_mapped_shared, ...); a
 *                         different answer is a transition mismatch
 *  sleeps_measured        one CPU: what other tasks changed on a window's folio while its
 *                         task was off the CPU, measured exactly (sched_switch)
 *  sleeps_unmeasured      one CPU: windows whose task slept and the change meanwhile
 *                         could not be measured or ordered; only these may race there
 *  restores_unwrapped     restores from a migration entry (PTE or PMD) that ran outside
 *                         any hooked remove_migration_ptes: the kernel's compiler inlined
 *                         that function into the caller (Debian's gcc 14 into
 *                         mm/migrate.c). Each is checked as a plain rmap add with the
 *                         kernel's own flags; the restore's exclusivity derived from the
 *                         entry (spec §6.5) and the walk as a whole are not checked
 *  fork_restores          mappings an rmap walk restored from a migration entry into a
 *                         VMA a fork was about to copy (the fork's walk saw the entry, or
 *                         the folio before it migrated): the copy duplicates the restored
 *                         folio, so it joins the fork's filter and its windows learn of it
 *  swap_lookups_unheld    swap-cache lookups outside every caller the checker knows to
 *                         drop or hand on the reference before it returns (shmem's
 *                         swap-in, userfaultfd's move): that reference's drop is unseen,
 *                         so each one counts in missed_events too
 *  refcount_excluded_differed  checks of refcount_excluded whose refcount would have
 *                         differed from the prediction: how much the exclusion hid
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
	FOLIOMAP_STAT_UNCHECKED,
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
	FOLIOMAP_STAT_OP_ZAP_REFS,
	FOLIOMAP_STAT_OP_RESTORE_PTE,
	FOLIOMAP_STAT_OP_COW,
	FOLIOMAP_STAT_OP_FOLIO_SPLIT,
	FOLIOMAP_STAT_OP_SPLIT_FREEZE,
	FOLIOMAP_STAT_OP_MIGRATE_MOVE,
	FOLIOMAP_STAT_OP_FAULT_REFS,
	FOLIOMAP_STAT_COW_BACKED_OUT,
	FOLIOMAP_STAT_COW_SMALL_CHECKED,
	FOLIOMAP_STAT_REFCOUNT_EXCLUDED,
	FOLIOMAP_STAT_REFS_ACCOUNTED,
	FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED,
	FOLIOMAP_STAT_HOOKS_MISSING,
	FOLIOMAP_STAT_ANSWERS_CHECKED,
	FOLIOMAP_STAT_SLEEPS_MEASURED,
	FOLIOMAP_STAT_SLEEPS_UNMEASURED,
	FOLIOMAP_STAT_UNCHECKED_COW_SWAYED,
	FOLIOMAP_STAT_RESTORES_UNWRAPPED,
	FOLIOMAP_STAT_FORK_RESTORES,
	FOLIOMAP_STAT_SWAP_LOOKUPS_UNHELD,
	FOLIOMAP_STAT_REFCOUNT_EXCLUDED_DIFFERED,
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
	[FOLIOMAP_STAT_UNCHECKED]		= "unchecked",			\
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
	[FOLIOMAP_STAT_OP_ZAP_REFS]		= "op_zap_refs",		\
	[FOLIOMAP_STAT_OP_RESTORE_PTE]		= "op_restore_pte",		\
	[FOLIOMAP_STAT_OP_COW]			= "op_cow",			\
	[FOLIOMAP_STAT_OP_FOLIO_SPLIT]		= "op_folio_split",		\
	[FOLIOMAP_STAT_OP_SPLIT_FREEZE]		= "op_split_freeze",		\
	[FOLIOMAP_STAT_OP_MIGRATE_MOVE]		= "op_migrate_move",		\
	[FOLIOMAP_STAT_OP_FAULT_REFS]		= "op_fault_refs",		\
	[FOLIOMAP_STAT_COW_BACKED_OUT]		= "cow_backed_out",		\
	[FOLIOMAP_STAT_COW_SMALL_CHECKED]	= "cow_small_checked",		\
	[FOLIOMAP_STAT_REFCOUNT_EXCLUDED]	= "refcount_excluded",		\
	[FOLIOMAP_STAT_REFS_ACCOUNTED]		= "refs_accounted",		\
	[FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED]	= "unchecked_folio_changed",	\
	[FOLIOMAP_STAT_HOOKS_MISSING]		= "hooks_missing",		\
	[FOLIOMAP_STAT_ANSWERS_CHECKED]		= "answers_checked",		\
	[FOLIOMAP_STAT_SLEEPS_MEASURED]		= "sleeps_measured",		\
	[FOLIOMAP_STAT_SLEEPS_UNMEASURED]	= "sleeps_unmeasured",		\
	[FOLIOMAP_STAT_UNCHECKED_COW_SWAYED]	= "unchecked_cow_swayed",	\
	[FOLIOMAP_STAT_RESTORES_UNWRAPPED]	= "restores_unwrapped",		\
	[FOLIOMAP_STAT_FORK_RESTORES]		= "fork_restores",		\
	[FOLIOMAP_STAT_SWAP_LOOKUPS_UNHELD]	= "swap_lookups_unheld",	\
	[FOLIOMAP_STAT_REFCOUNT_EXCLUDED_DIFFERED] = "refcount_excluded_differed", \
}

/*
 * /sys/kernel/debug/foliomap/totals (root only, read-only): the counters of stats, same
 * names and order, counted since the module was loaded ("reset" does not touch them):
 * what a whole test run checked, whatever its tests reset in between.
 */
#define FOLIOMAP_TOTALS_FILE		"totals"
#define FOLIOMAP_TOTALS_PATH		"/sys/kernel/debug/" FOLIOMAP_DEBUGFS_DIR "/" FOLIOMAP_TOTALS_FILE

/*
 * /sys/kernel/debug/foliomap/scope (root only): the checks of a few processes, counted
 * apart from the rest of the system. A set of at most FOLIOMAP_SCOPE_MMS mms:
 *  - writing a decimal pid (a trailing newline allowed) adds that process's mm (ESRCH:
 *    no such process, or it has no mm; ENOSPC: the set is full, counted in
 *    scope_overflows; adding an mm already in the set changes nothing);
 *  - a fork of a process whose mm is in the set puts the child's mm in it (the fork's
 *    copy_page_range, before the child can run);
 *  - writing "clear" empties the set and zeroes the scope's counters;
 *  any other write (a NUL byte in it too) fails with EINVAL, a bad buffer with EFAULT.
 * Reads as "name value" lines: every counter of enum foliomap_stat (the names of
 * stats, in that order), counting only the checks of operations in the scope since the
 * last "clear", then "scope_mms N" (the mms in the set) and "scope_overflows N".
 *
 * An operation is in the scope when the task performing it has a scoped mm (every check
 * runs in that task's context): its faults, CoW decisions, munmaps and madvises, forks
 * (the parent's), its exit's teardown (the mm it still uses after exit_mm()), and the
 * rmap walks and splits it starts itself (move_pages(), a split_huge_pages write),
 * which act on every mm mapping its folios. A check of a kernel thread (reclaim, the
 * deferred-split shrinker, khugepaged) or of another process is not, even on the
 * scope's folios. missed_events counts only the module's own lost events of scoped
 * tasks (kprobe misses are not attributable to a process). The set holds a reference
 * on each mm (mmgrab) until "clear", which delays freeing its mm id.
 */
#define FOLIOMAP_SCOPE_FILE		"scope"
#define FOLIOMAP_SCOPE_PATH		"/sys/kernel/debug/" FOLIOMAP_DEBUGFS_DIR "/" FOLIOMAP_SCOPE_FILE
#define FOLIOMAP_SCOPE_CLEAR		"clear"
#define FOLIOMAP_SCOPE_MMS		32
#define FOLIOMAP_SCOPE_MMS_KEY		"scope_mms"
#define FOLIOMAP_SCOPE_OVERFLOWS_KEY	"scope_overflows"

/*
 * /sys/kernel/debug/foliomap/mismatches (root only, read-only): the last recorded
 * disagreements between the model and the kernel, each with the operation and its
 * arguments, the folio before, the model's prediction, the kernel's folio after, and
 * the differing fields (marked '*'). Kept since the module was loaded: "reset" zeroes
 * the counters only, so a test run can still show what an earlier test found.
 */
#define FOLIOMAP_MISMATCHES_FILE	"mismatches"

/*
 * /sys/kernel/debug/foliomap/raced (root only, read-only): the same records for the
 * disagreements that were classified as races (transitions_raced), so that the
 * classification itself can be reviewed.
 */
#define FOLIOMAP_RACED_FILE		"raced"

/*
 * /sys/kernel/debug/foliomap/raced_by (root only, read-only): every raced disagreement
 * since the module was loaded, counted by operation and the foreign event that explains
 * it, one "COUNT OP <- EVENT" line per kind (the event's function, without its pid).
 */
#define FOLIOMAP_RACED_BY_FILE		"raced_by"

/*
 * /sys/kernel/debug/foliomap/excluded_by (root only, read-only): the checks of
 * refcount_excluded_differed since the module was loaded (the refcount not compared, a
 * reference mover straddling the window, and the kernel's differing from the
 * prediction), counted by operation and the first mover that straddled the window.
 */
#define FOLIOMAP_EXCLUDED_BY_FILE	"excluded_by"

/*
 * /sys/kernel/debug/foliomap/unchecked (root only, read-only): the same records for the
 * transitions that could not be compared (unchecked), with what explains each.
 */
#define FOLIOMAP_UNCHECKED_FILE		"unchecked"

/*
 * /sys/kernel/debug/foliomap/inspect (root only): the raw accounting fields of the folio
 * mapped at one address of one process, like page-types for large-folio mapcounts.
 * Write "PID ADDR" (decimal pid; address in hex with 0x, or decimal; a trailing newline
 * is allowed), then read from offset 0 (lseek back to 0 to re-read or after another
 * write). The lookup neither faults nor pins nor touches: it only takes (and drops) a
 * folio reference, which is subtracted from ref. The read gives two lines:
 *
 *   pid=P mm_id=M addr=0xA pfn=0xF node=N page=K folio=anon|zero|hugezero|file
 *   order=4 ref=16 lmc=15 emc=-1 nrpm=16 ids=[3,4] mmc=[7,7] S=1 pincount=0 pmap=0 dq=0 pae={} pmc=[0*16]
 *
 * mm_id is the process's own mm id (mm->mm_id); page the index of ADDR's page in the
 * folio. The second line (absent for the zeropage and the huge zeropage) names the
 * fields as the model and the scenario transcripts do (examples/csim/FORMAT.md), in
 * the same order: a large folio gives order ref lmc emc nrpm ids mmc S pincount pmap
 * dq pae pmc, with nrpm and pmc only on CONFIG_PAGE_MAPCOUNT kernels (nrpm in hex at
 * or above ENTIRELY_MAPPED) and ids as the raw mm ids of the two slots (0: free); an
 * order-0 folio gives order ref mapcount pae. pae={0-3,7} lists the pages with
 * PageAnonExclusive, pmc=[1*8,0,-1*7] run-length encodes the raw per-page _mapcount.
 *
 * The per-CPU LRU batches hold an extra reference on order-0 folios that were just
 * added; the module cannot drain them (lru_add_drain_all() is not exported): drain from
 * userspace first, e.g. move_pages(0, 0, NULL, nodes, NULL, 0) with a non-NULL nodes
 * (it runs lru_cache_disable(), which drains every CPU).
 *
 * Errors: write EINVAL (malformed, 64 bytes or more, a NUL byte in it), EFAULT (bad
 * buffer), ESRCH (no such process); a refused write changes nothing (the file keeps
 * its last request). Read EINVAL (no request accepted yet), ESRCH (the process is gone
 * or has no mm), EFAULT (nothing mapped at ADDR: no VMA, no page, a migration entry).
 * Writers and readers of one open file may run concurrently: a read answers one
 * whole request.
 */
#define FOLIOMAP_INSPECT_FILE		"inspect"
#define FOLIOMAP_INSPECT_PATH		"/sys/kernel/debug/" FOLIOMAP_DEBUGFS_DIR "/" FOLIOMAP_INSPECT_FILE

/*
 * /sys/kernel/debug/foliomap/hooks (root only, read-only): one line per hooked kernel
 * function: "<symbol> active instances N missed M", or "<symbol> MISSING (err): its
 * checks are off" when it could not be registered (the module then loaded only because
 * of allow_missing_hooks=1).
 */
#define FOLIOMAP_HOOKS_FILE		"hooks"

/*
 * The event recorder (c-shim/foliomap_trace.c; the record format: fm_trace_* in
 * include/foliomap.h), root only:
 *  trace_ctl     write "start" (fresh rings, counters and folio table; a previous
 *                recording's undrained records are discarded) or "stop" (a trailing
 *                newline allowed; anything else: EINVAL, nothing changes); reads as
 *                "name value" lines: recording, records, events, states, dropped,
 *                unordered (operations that overlapped others on their folio: not
 *                recorded, the folio restated at its next event), cpus, ring_records
 *  trace         binary: reads and consumes the records recorded so far, whole
 *                fm_trace_* records only (a read shorter than one record returns 0),
 *                per CPU in order (sort by seq to merge); 0 bytes: nothing pending
 *  trace_header  binary: a fm_trace_header with the counters so far; in front of the
 *                drained records it makes a trace file (scripts/record)
 */
#define FOLIOMAP_TRACE_CTL_FILE		"trace_ctl"
#define FOLIOMAP_TRACE_FILE		"trace"
#define FOLIOMAP_TRACE_HEADER_FILE	"trace_header"
#define FOLIOMAP_TRACE_START		"start"
#define FOLIOMAP_TRACE_STOP		"stop"

#endif /* FOLIOMAP_DEBUGFS_H */
