/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Race windows, reference movers and check storage (foliomap_window.c): what the probe
 * families (rmap, CoW, fork) share. Internal to the module.
 *
 * A check opens a window on exactly one folio before it snapshots it and closes it after
 * it read the result. While a window is open, every event on that folio is attributed:
 *
 *  - another task's hooked operation on the same folio (its own window): when it ran
 *    entirely inside the window, its observed change is added to the prediction (it is
 *    checked against the model by its own window); when it straddles the window's open
 *    (FOREIGN_OLDER) or close, or cannot be replayed, FOREIGN_OP;
 *  - another task's fork whose page-table walk saw the folio: FOREIGN_FORK;
 *  - a reference mover (an unhooked path that only takes or drops references: TLB-batched
 *    frees and LRU drains in folios_put_refs, LRU isolation and putback, reclaim's LRU
 *    scan, swap-cache freeing, a swap-cache lookup until its caller returns) that ran
 *    entirely inside the window: its exact reference change is added
 *    to the prediction; one that straddles the window's snapshots makes the refcount
 *    unknowable for this check (FOREIGN_REFS): the refcount is then not compared, every
 *    other field still is (movers cannot change them);
 *  - the current task's own nested hooked operations are part of the operation.
 *
 * A disagreement counts as raced only when a foreign event other than FOREIGN_REFS was
 * seen on the exact folio, and the raced record names it; any other disagreement is a
 * mismatch.
 */
#ifndef FOLIOMAP_WINDOW_H
#define FOLIOMAP_WINDOW_H

#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/types.h>

#include "foliomap_shadow.h"

#define FOREIGN_OP	(1u << 0)
#define FOREIGN_FORK	(1u << 1)
#define FOREIGN_REFS	(1u << 2)
#define FOREIGN_LOCK	(1u << 3)	/* set by the CoW probes: the folio lock changed hands */
#define FOREIGN_OLDER	(1u << 4)	/* the window opened while an older foreign one was open */

/*
 * The window's own reference movers that its operation's model takes as facts (write
 * faults, spec §7.3): this task's LRU drain dropped the folio's batch reference; its
 * folio_free_swap() of the folio succeeded. In windows without WINDOW_FACTS an own
 * mover's reference change is added to the prediction like a foreign one's.
 */
#define OWN_LRU_DRAIN	(1u << 0)
#define OWN_SWAP_FREED	(1u << 1)

#define WINDOW_FACTS	(1u << 0)
/*
 * The event recorder writes the window's operation as a whole (a write fault, a fork):
 * its task's nested operations on the folio are part of it, not recorded apart.
 */
#define WINDOW_RECORDED	(1u << 1)

struct fm_delta;
struct foliomap_trace_op;

/* What a window saw between its open and its close. */
struct fmw_verdict {
	u32 foreign;		/* FOREIGN_* */
	u32 own;		/* OWN_* (WINDOW_FACTS windows) */
	int own_refs[2];	/* the references those own movers moved, per fact */
	int ref_delta;		/* reference changes of movers that ran inside the window */
	int pushes;		/* foreign operations that ran entirely inside it */
	u32 marks;		/* fmw_mark_own() bits of its own nested operations */
	const char *unmeasured;	/* one CPU: why a sleep's foreign change was not measured */
	bool in_recorded;	/* nested in its task's WINDOW_RECORDED window on the folio */
	struct fm_delta *delta;	/* their observed change (fmw_verdict_release) */
	char culprit[64];	/* the first foreign event: "<function> pid <N>" */
	const char *refs_culprit;	/* the first mover that made the refcount unknowable */
	const char *accounted;	/* ref_delta's last mover (function name), for a record */
	pid_t accounted_pid;
	int accounted_delta;
};

/* Nested operations of the window's own task, replayed through the model as they come. */
enum fmw_nested_op {
	NESTED_MIGRATE_UNMAP_PTE,	/* try_to_migrate_one's folio_remove_rmap_pte */
	NESTED_MIGRATE_UNMAP_PMD,	/* set_pmd_migration_entry */
	NESTED_SPLIT_PMD,		/* split_huge_pmd_locked (arg: freeze | writable << 1) */
	NESTED_RESTORE_PTE,		/* remove_migration_pte (arg: entry type) */
	NESTED_RESTORE_PMD,		/* remove_migration_pmd (arg: entry type) */
	NR_NESTED_OPS
};

struct fmw_nested {
	u8 op;
	u8 arg;
	u16 page;
	u32 mm;
};

/*
 * A replayed check's model state: the folio before, then each nested operation applied
 * by the model when the kernel performs it, and on one CPU each measured foreign change
 * applied when the task comes back to the CPU: the kernel's own order, exactly.
 */
struct fmw_log {
	struct fm_snap state;
	int status;			/* the first model refusal, or FM_OK */
	unsigned int nr;
	unsigned int counts[NR_NESTED_OPS];
	struct fmw_nested first, last;
};

/*
 * Opens a window of the current task on @folio for the operation @op (a static string);
 * returns its handle, or -1 when the window table is full (counted in missed_events:
 * the caller must not check) or the checker is not armed yet (fmw_arm). The caller
 * snapshots the folio, then calls fmw_opened().
 */
int fmw_open(struct folio *folio, const char *op, u32 flags, struct fmw_log *log);
/*
 * Arms the checker (windows may open) once every hook is registered, or disarms it
 * before they go: a check that began while a reference mover was not hooked yet would
 * miss that mover's change (a reload under load: do_wp_page checked, the swap-cache
 * removal that freed the old page not yet hooked).
 */
void fmw_arm(bool on);
/* Whether windows may open now (every hook in place). */
bool fmw_armed_now(void);
void fmw_opened(int w);
/* How far a window's operation got on its folio when its task left the CPU. */
enum fmw_progress {
	FMW_NOT_YET,	/* it has not acted on the folio yet */
	FMW_DONE,	/* it has acted, completely: nothing of it is left to order */
	FMW_UNKNOWN,	/* partly, or cannot tell */
};

/*
 * One CPU: a foreign change measured across a sleep that came before the operation acted
 * on the folio (@progress FMW_NOT_YET when the task left the CPU) is applied to the state
 * the model then starts from, which @rebase returns (asked only then, in the scheduler's
 * context: it must not sleep); one after it (FMW_DONE) joins the prediction, whatever it
 * changed; otherwise a change of the slot owners cannot be ordered.
 */
void fmw_set_rebase(int w, fm_folio *(*rebase)(void *ctx),
		    enum fmw_progress (*progress)(const void *ctx), void *ctx);
/* Before the caller reads the result. */
void fmw_close_begin(int w);
/*
 * After it: unregisters and reports what the window saw; tells the older foreign windows
 * on the folio what this operation changed (@before and @actual, when the caller has
 * them: NULL otherwise). The caller adds the verdict's foreign changes to its prediction
 * (fmw_apply_delta, done by fm_finish_check) and releases the verdict.
 */
void fmw_close_end(int w, struct fmw_verdict *v, const fm_folio *before,
		   const fm_folio *actual);
/*
 * fmw_close_begin(), the result of the check read into @actual inside the window, then
 * fmw_close_end(); false when @folio no longer reads as a modelled folio.
 */
bool fmw_close_read(int w, struct folio *folio, const fm_folio *before,
		    struct fm_snap *actual, struct fmw_verdict *v);
void fmw_apply_delta(const struct fmw_verdict *v, fm_folio *f);
bool fmw_may_race(const struct fmw_verdict *v);
/*
 * Nothing but reference movers acted on the folio inside the window: the operation has
 * a place in the folio's order (the event recorder writes it, foliomap_trace.h).
 */
bool fmw_ordered(const struct fmw_verdict *v);
void fmw_verdict_release(struct fmw_verdict *v);
/* Closes a window whose check was abandoned. */
void fmw_abandon(int w);

/* Marks the current task's innermost open window on @folio for @op with @bit. */
void fmw_mark_own(struct folio *folio, const char *op, u32 bit);

/* The current task's innermost open window on @folio with a log, or NULL. */
struct fmw_log *fmw_own_log(struct folio *folio, const char *op);

/* A reference mover in flight (kept in its probe's instance data). */
#define MOVER_BATCH	32	/* >= PAGEVEC_SIZE */
#define FORK_BLOOM_BITS	4096

struct fmw_mover {
	struct task_struct *task;	/* NULL: interrupt context */
	pid_t pid;
	const char *name;
	u64 seq;
	int slot;
	u32 own_fact;			/* OWN_* this mover is to a WINDOW_FACTS window */
	bool uncertain;			/* its reference change is not known exactly */
	bool all;			/* a scanner: may touch any folio (uncertain), until it knows which */
	unsigned int nr;
	struct folio *folio[MOVER_BATCH];
	int delta[MOVER_BATCH];		/* reference change per folio, final at mover_end */
	/* Its task unlocks this folio only once the mover acted (window opens: settled). */
	struct folio *settled_by;
	unsigned long *bloom;		/* a fork: the folios its walk saw (no delta) */
	const struct vm_area_struct *fork_src;	/* ... and the VMA it copies */
};

/* Publish and start: a mover that knows what it touches when it begins. */
void fmw_mover_begin(struct fmw_mover *m);
/*
 * The same in two steps, for a fork: published before its walk fills the filter (so an
 * rmap walk restoring a mapping into the VMA meanwhile finds it, fmw_fork_touch()),
 * started once the walk is done.
 */
void fmw_mover_publish(struct fmw_mover *m);
void fmw_mover_start(struct fmw_mover *m);
void fmw_mover_end(struct fmw_mover *m);
void fmw_bloom_add(unsigned long *bloom, struct folio *folio);

/*
 * An rmap add of @folio in @vma: if a fork is copying @vma, the mapping was restored
 * from a migration entry (nothing else maps into a VMA whose mm is being forked), and
 * the copy will duplicate it.
 */
void fmw_fork_touch(const struct vm_area_struct *vma, struct folio *folio);

/* Preallocated check storage: a snapshot before and the model's prediction. */
struct fm_check {
	struct fm_snap before;
	struct fm_snap predicted;
};

/* A check whose nested operations are replayed: the folio before and the running model. */
struct fm_replay {
	struct fm_snap before;
	struct fmw_log log;
};

struct fm_check *fm_check_get(int *idx);
void fm_check_put(int idx);
struct fm_replay *fm_replay_get(int *idx);
void fm_replay_put(int idx);

/* Per-CPU scratch for return handlers (they do not nest on a CPU). */
struct fm_scratch {
	struct fm_snap actual;
	struct fm_snap predicted;
	struct fm_snap fresh;		/* entry handlers: a folio as the allocator gives it */
};
struct fm_scratch *fm_scratch(void);

int fmw_init(unsigned int check_slots, unsigned int replay_slots, unsigned int mover_slots);
void fmw_exit(void);

/* Fields an rmap primitive defines: everything but the references and pins. */
#define RMAP_FIELDS (FM_FIELD_LARGE_MAPCOUNT | FM_FIELD_ENTIRE_MAPCOUNT |		\
		     FM_FIELD_NR_PAGES_MAPPED | FM_FIELD_MM_ID0 | FM_FIELD_MM_ID1 |	\
		     FM_FIELD_MM_ID_MAPCOUNT0 | FM_FIELD_MM_ID_MAPCOUNT1 |		\
		     FM_FIELD_SHARED | FM_FIELD_PARTIALLY_MAPPED |			\
		     FM_FIELD_DEFERRED_LIST | FM_FIELD_ANON | FM_FIELD_PAGE_MAPCOUNT |	\
		     FM_FIELD_PAGE_ANON_EXCLUSIVE)
/* Call-site operations also define the references they take and drop. */
#define OP_FIELDS (RMAP_FIELDS | FM_FIELD_REFCOUNT)

/*
 * The end of a transition check: adjust the prediction by the window's movers and
 * foreign changes, compare @fields, count, record, release the verdict. @model_status is the model's answer (a refusal means it
 * considered the operation impossible). @rec (NULL: none) is the operation for the event
 * recorder (foliomap_trace.h).
 */
void fm_finish_check(const char *op, enum foliomap_stat op_stat, const char *args,
		     const fm_folio *before, struct fm_snap *predicted,
		     const struct fm_snap *actual, int model_status, u32 fields,
		     struct fmw_verdict *v, const struct foliomap_trace_op *rec);

/* The probe families (foliomap_{rmap,cow,fork}_probes.c). */
struct kretprobe_instance;
struct pt_regs;
u32 foliomap_vma_mm_id(struct vm_area_struct *vma);
struct folio *foliomap_anon_pmd_folio(pmd_t pmdval);

#endif /* FOLIOMAP_WINDOW_H */
