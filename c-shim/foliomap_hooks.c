// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The shadow checker's probes. Each hooked kernel function is bracketed by a kretprobe:
 * at entry the folio is snapshotted and the model computes the operation with the real
 * arguments; at return the folio is snapshotted again and compared with the prediction,
 * on the fields the operation defines. Fork duplication and PAE clearing are inline in
 * the kernel (spec §9.3), so fork is checked by bracketing copy_page_range; CoW decisions
 * are checked by bracketing do_wp_page / do_huge_pmd_wp_page and observing the result.
 *
 * Concurrency: with several CPUs another task may change the folio between the two
 * snapshots. Every probe entry and return bumps a per-folio generation (hashed). A check
 * counts the bumps its own task made meanwhile (the rmap calls nested in a PMD split, a
 * CoW copy, a migration, a fork are part of the outer operation); any other bump, another
 * task's window on the folio still open when the check starts or ends (an operation that
 * straddles the check bumps only outside it), an overlapping fork of another task
 * (fork's duplications are not hooked), or, for CoW,
 * a reference count that moved by more than the fault itself explains, marks the check
 * as raced, and only a raced check counts a disagreement as transitions_raced instead of
 * a mismatch. On one CPU nothing can interleave with a checked window that is not
 * itself hooked, so nothing is ever raced there.
 *
 * Handlers never sleep and never allocate: check state comes from pools preallocated at
 * load; a hit that finds a pool empty is counted in missed_events, like a probe's nmissed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/leafops.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "foliomap_shadow.h"

/* ------------------------------------------------------------------------------------ */
/* Pools                                                                                 */

/* One transition check: the folio before and the model's prediction. */
struct fm_check {
	struct fm_snap before;
	struct fm_snap predicted;
};

#define CHECK_POOL_SIZE		64
#define FORK_POOL_SIZE		2
#define FORK_MAX_FOLIOS		16

/* A fork of one VMA: the large anon folios it maps, as they were before the copy. */
struct fork_check {
	unsigned int nr;
	struct folio *folio[FORK_MAX_FOLIOS];
	DECLARE_BITMAP(pte_pages[FORK_MAX_FOLIOS], FOLIOMAP_MAX_PAGES);
	bool pmd[FORK_MAX_FOLIOS];
	u64 gen[FORK_MAX_FOLIOS];
	int slot[FORK_MAX_FOLIOS];	/* in active[]: this task's own bumps on the folio */
	bool overlapped[FORK_MAX_FOLIOS];
	struct fm_snap before[FORK_MAX_FOLIOS];
};

static struct fm_check *check_pool;
static unsigned long check_pool_busy[BITS_TO_LONGS(CHECK_POOL_SIZE)];
static struct fork_check *fork_pool;
static unsigned long fork_pool_busy[BITS_TO_LONGS(FORK_POOL_SIZE)];

/*
 * Return handlers do not nest on a CPU (kprobes refuse recursion): per-CPU scratch,
 * allocated at load (too large for a module's static per-CPU area).
 */
struct scratch {
	struct fm_snap actual;
};
static struct scratch __percpu *scratch;

static atomic64_t pool_exhausted;

static int pool_get(unsigned long *busy, unsigned int size)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		if (!test_and_set_bit_lock(i, busy))
			return i;
	atomic64_inc(&pool_exhausted);
	return -1;
}

static void pool_put(unsigned long *busy, int i)
{
	if (i >= 0)
		clear_bit_unlock(i, busy);
}

/* ------------------------------------------------------------------------------------ */
/* Race detection                                                                        */

#define GEN_BITS 8
static atomic64_t folio_gen[1 << GEN_BITS];
/*
 * Windows open per bucket: an operation that began before a window and ends after it
 * bumps the generation outside of it, but is in flight when it opens or closes.
 */
static atomic_t folio_inflight[1 << GEN_BITS];
static atomic_t forks_in_flight;
static atomic64_t fork_seq;

/*
 * Which task is inside a hooked operation on which folio (NULL: any folio, for fork),
 * and how many generation bumps that task made on the folio since the window opened.
 */
#define ACTIVE_SLOTS 128
static struct {
	struct task_struct *task;
	struct folio *folio;
	atomic_t own_bumps;
} active[ACTIVE_SLOTS];
static unsigned long active_busy[BITS_TO_LONGS(ACTIVE_SLOTS)];

static atomic64_t *gen_of(struct folio *folio)
{
	return &folio_gen[hash_ptr(folio, GEN_BITS)];
}

static bool active_match(unsigned int i, struct folio *folio)
{
	struct folio *f = READ_ONCE(active[i].folio);

	return READ_ONCE(active[i].task) == current && (!f || f == folio);
}

/* One probe hit on @folio: visible to every other task's window on it. */
static void gen_bump(struct folio *folio)
{
	unsigned int i;

	atomic64_inc(gen_of(folio));
	for_each_set_bit(i, active_busy, ACTIVE_SLOTS)
		if (active_match(i, folio))
			atomic_inc(&active[i].own_bumps);
}

static atomic_t *inflight_of(struct folio *folio)
{
	return &folio_inflight[hash_ptr(folio, GEN_BITS)];
}

/* The current task's open windows on exactly @folio (each counted in its bucket). */
static int own_windows(struct folio *folio)
{
	unsigned int i;
	int n = 0;

	for_each_set_bit(i, active_busy, ACTIVE_SLOTS)
		if (READ_ONCE(active[i].task) == current && READ_ONCE(active[i].folio) == folio)
			n++;
	return n;
}

/* Opens the in-flight part of a window on @folio; true if another task's is open. */
static bool inflight_enter(struct folio *folio)
{
	return atomic_inc_return(inflight_of(folio)) - 1 > own_windows(folio);
}

/* Closes it (after unregistering); true if another task's window is still open. */
static bool inflight_leave(struct folio *folio)
{
	bool others = atomic_read(inflight_of(folio)) - 1 > own_windows(folio);

	atomic_dec(inflight_of(folio));
	return others;
}

/* Registers the current task on @folio (NULL: any folio); -1 when the table is full. */
static int active_add(struct folio *folio)
{
	int slot = pool_get(active_busy, ACTIVE_SLOTS);

	if (slot >= 0) {
		atomic_set(&active[slot].own_bumps, 0);
		WRITE_ONCE(active[slot].folio, folio);
		WRITE_ONCE(active[slot].task, current);
	}
	return slot;
}

/* Unregisters; returns the bumps the task made on the folio meanwhile. */
static int active_del(int slot)
{
	int own;

	if (slot < 0)
		return 0;
	WRITE_ONCE(active[slot].task, NULL);
	own = atomic_read(&active[slot].own_bumps);
	pool_put(active_busy, slot);
	return own;
}

/* Whether the current task is inside a fork (its duplications are its own). */
static bool current_forking(void)
{
	unsigned int i;

	for_each_set_bit(i, active_busy, ACTIVE_SLOTS)
		if (READ_ONCE(active[i].task) == current && !READ_ONCE(active[i].folio))
			return true;
	return false;
}

struct race_window {
	int slot;		/* in active[], or -1: then every change looks foreign */
	bool own_fork;		/* this task is forking (its own fork is not a race) */
	bool overlapped;	/* another task's window on the folio was open at the start */
	u64 gen;
	int forks;
	u64 fork_seq;
};

static void window_open(struct race_window *w, struct folio *folio)
{
	w->overlapped = inflight_enter(folio);
	gen_bump(folio);
	w->own_fork = current_forking();
	w->gen = atomic64_read(gen_of(folio));
	w->forks = atomic_read(&forks_in_flight);
	w->fork_seq = atomic64_read(&fork_seq);
	w->slot = active_add(folio);
}

/* Closes the window; true if another task may have changed the folio meanwhile. */
static bool window_close(struct race_window *w, struct folio *folio)
{
	int own_fork = w->own_fork ? 1 : 0;
	int own = active_del(w->slot);
	u64 foreign = atomic64_read(gen_of(folio)) - w->gen - own;
	bool overlapped = inflight_leave(folio) || w->overlapped;
	bool raced = foreign || overlapped || w->slot < 0 || w->forks > own_fork ||
		     atomic_read(&forks_in_flight) > own_fork ||
		     atomic64_read(&fork_seq) != w->fork_seq;

	gen_bump(folio);
	return raced;
}

/* ------------------------------------------------------------------------------------ */
/* Comparing and counting                                                                */

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
 * The end of a transition check: compare, count, record. @actual was read before the
 * check's race window closed. @model_status is the model's answer at entry (a refusal
 * means it considered the operation impossible).
 */
static void finish_transition(const char *op, enum foliomap_stat op_stat, const char *args,
			      const struct fm_snap *before, const struct fm_snap *predicted,
			      const struct fm_snap *actual, int model_status, u32 fields,
			      bool raced)
{
	struct foliomap_check_report r = {
		.op = op, .before = before, .predicted = predicted,
		.actual = actual, .fields = fields, .model_status = model_status,
	};

	if (fm_folio_compare(&predicted->folio, &actual->folio, 0, FOLIOMAP_MAX_PAGES,
			     fields, &r.diff) != FM_OK) {
		/* The folio changed order: freed and reused while the call ran. */
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
		return;
	}
	if (model_status == FM_OK && !r.diff.fields) {
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
		foliomap_count(op_stat);
		return;
	}
	strscpy(r.args, args, sizeof(r.args));
	if (raced) {
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_RACED);
		foliomap_record(&r, true);
		return;
	}
	foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
	foliomap_count(op_stat);
	foliomap_count(FOLIOMAP_STAT_TRANSITION_MISMATCHES);
	foliomap_record(&r, false);
}

/* ------------------------------------------------------------------------------------ */
/* rmap primitives: folio_add_*_rmap_*, folio_remove_rmap_*, deferred_split_folio         */

enum rmap_op {
	OP_ADD_NEW_ANON, OP_ADD_ANON_PTES, OP_ADD_ANON_PMD, OP_ADD_FILE_PTES,
	OP_ADD_FILE_PMD, OP_REMOVE_PTES, OP_REMOVE_PMD, OP_DEFERRED_SPLIT,
	OP_SPLIT_PMD, OP_MIGRATE_UNMAP_PMD, OP_MIGRATE_RESTORE_PMD,
};

static const struct {
	const char *name;
	enum foliomap_stat stat;
	u32 fields;
} rmap_ops[] = {
	[OP_ADD_NEW_ANON] = { "folio_add_new_anon_rmap", FOLIOMAP_STAT_OP_ADD_NEW_ANON, RMAP_FIELDS },
	[OP_ADD_ANON_PTES] = { "folio_add_anon_rmap_ptes", FOLIOMAP_STAT_OP_ADD_ANON_PTES, RMAP_FIELDS },
	[OP_ADD_ANON_PMD] = { "folio_add_anon_rmap_pmd", FOLIOMAP_STAT_OP_ADD_ANON_PMD, RMAP_FIELDS },
	[OP_ADD_FILE_PTES] = { "folio_add_file_rmap_ptes", FOLIOMAP_STAT_OP_ADD_FILE_PTES, RMAP_FIELDS },
	[OP_ADD_FILE_PMD] = { "folio_add_file_rmap_pmd", FOLIOMAP_STAT_OP_ADD_FILE_PMD, RMAP_FIELDS },
	[OP_REMOVE_PTES] = { "folio_remove_rmap_ptes", FOLIOMAP_STAT_OP_REMOVE_PTES, RMAP_FIELDS },
	[OP_REMOVE_PMD] = { "folio_remove_rmap_pmd", FOLIOMAP_STAT_OP_REMOVE_PMD, RMAP_FIELDS },
	[OP_DEFERRED_SPLIT] = { "deferred_split_folio", FOLIOMAP_STAT_OP_DEFERRED_SPLIT,
				FM_FIELD_PARTIALLY_MAPPED | FM_FIELD_DEFERRED_LIST },
	[OP_SPLIT_PMD] = { "__split_huge_pmd", FOLIOMAP_STAT_OP_SPLIT_PMD, OP_FIELDS },
	[OP_MIGRATE_UNMAP_PMD] = { "set_pmd_migration_entry", FOLIOMAP_STAT_OP_MIGRATE_PMD, OP_FIELDS },
	[OP_MIGRATE_RESTORE_PMD] = { "remove_migration_pmd", FOLIOMAP_STAT_OP_MIGRATE_PMD, OP_FIELDS },
};

/* What an rmap-level kretprobe carries from entry to return (kept under 4 KiB). */
struct rmap_probe {
	int pool;			/* check_pool index, -1: not checked */
	enum rmap_op op;
	struct folio *folio;
	int model_status;
	int model_ret;			/* what the model says the function returns */
	struct race_window window;
	char args[96];
};

static u32 vma_mm_id(struct vm_area_struct *vma)
{
	return vma && vma->vm_mm ? vma->vm_mm->mm_id : 0;
}

static u32 rmap_flags(unsigned long flags)
{
	return (flags & (__force unsigned long)RMAP_EXCLUSIVE) ? FM_RMAP_EXCLUSIVE : FM_RMAP_NONE;
}

/* Snapshots @folio and opens the window; the caller then runs the model on ->predicted. */
static struct fm_check *rmap_begin(struct rmap_probe *p, enum rmap_op op, struct folio *folio)
{
	struct fm_check *c;

	p->pool = -1;
	p->op = op;
	p->folio = folio;
	p->model_ret = 0;
	p->args[0] = '\0';
	if (!folio)
		return NULL;
	p->pool = pool_get(check_pool_busy, CHECK_POOL_SIZE);
	if (p->pool < 0)
		return NULL;
	c = &check_pool[p->pool];
	/* The window opens before the snapshot, so no change slips in between. */
	window_open(&p->window, folio);
	if (foliomap_snapshot(folio, &c->before)) {
		window_close(&p->window, folio);
		pool_put(check_pool_busy, p->pool);
		p->pool = -1;
		return NULL;
	}
	foliomap_snap_copy(&c->predicted, &c->before);
	return c;
}

static int rmap_end(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct fm_snap *actual = &this_cpu_ptr(scratch)->actual;
	struct fm_check *c;
	bool raced, read;

	if (p->pool < 0)
		return 0;
	c = &check_pool[p->pool];
	/* Read the result inside the window: a change after it closes is not this call's. */
	read = !foliomap_snapshot(p->folio, actual);
	raced = window_close(&p->window, p->folio);
	/* Functions that return a value: the model must agree on it too. */
	if ((p->op == OP_MIGRATE_UNMAP_PMD) && (int)regs_return_value(regs) != p->model_ret &&
	    p->model_status == FM_OK)
		p->model_status = -100;
	if (!read)
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
	else
		finish_transition(rmap_ops[p->op].name, rmap_ops[p->op].stat, p->args,
				  &c->before, &c->predicted, actual, p->model_status,
				  rmap_ops[p->op].fields, raced);
	pool_put(check_pool_busy, p->pool);
	p->pool = -1;
	return 0;
}

static u32 page_index_in(struct folio *folio, struct page *page)
{
	return (u32)folio_page_idx(folio, page);
}

/*
 * Entry of the rmap functions whose first argument is the folio: decode the arguments
 * (x86-64 calling convention) of the function this hook is on, and let the model
 * perform the same call on the copy of the folio.
 */
static int folio_rmap_entry(struct kretprobe_instance *ri, struct pt_regs *regs,
			    enum rmap_op op)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct folio *folio = (struct folio *)regs->di;
	struct fm_check *c = rmap_begin(p, op, folio);
	fm_folio *pred;
	u32 first = 0, nr = 0, mm = 0, flags = 0;
	bool ptes = op == OP_ADD_ANON_PTES || op == OP_ADD_FILE_PTES || op == OP_REMOVE_PTES;

	if (!c)
		return 0;
	pred = &c->predicted.folio;
	if (ptes) {	/* (folio, page, nr, vma[, addr, flags]) */
		first = page_index_in(folio, (struct page *)regs->si);
		nr = (u32)regs->dx;
		mm = vma_mm_id((struct vm_area_struct *)regs->cx);
		flags = rmap_flags(regs->r9);
	} else if (op == OP_ADD_NEW_ANON) {	/* (folio, vma, addr, flags) */
		mm = vma_mm_id((struct vm_area_struct *)regs->si);
		flags = rmap_flags(regs->cx);
	} else if (op != OP_DEFERRED_SPLIT) {	/* (folio, page, vma[, addr, flags]) */
		mm = vma_mm_id((struct vm_area_struct *)regs->dx);
		flags = rmap_flags(regs->r8);
	}
	if (ptes)
		snprintf(p->args, sizeof(p->args), "page=%u nr=%u mm=%u", first, nr, mm);
	else
		snprintf(p->args, sizeof(p->args), "mm=%u", mm);

	switch (op) {
	case OP_ADD_NEW_ANON:
		p->model_status = fm_folio_add_new_anon(pred, mm, flags, NULL);
		break;
	case OP_ADD_ANON_PTES:
		p->model_status = fm_folio_add_anon_ptes(pred, first, nr, mm, flags, NULL);
		break;
	case OP_ADD_ANON_PMD:
		p->model_status = fm_folio_add_anon_pmd(pred, mm, flags, NULL);
		break;
	case OP_ADD_FILE_PTES:
		p->model_status = fm_folio_add_file_ptes(pred, first, nr, mm, NULL);
		break;
	case OP_ADD_FILE_PMD:
		p->model_status = fm_folio_add_file_pmd(pred, mm, NULL);
		break;
	case OP_REMOVE_PTES:
		p->model_status = fm_folio_remove_ptes(pred, first, nr, mm, NULL);
		break;
	case OP_REMOVE_PMD:
		p->model_status = fm_folio_remove_pmd(pred, mm, NULL);
		break;
	case OP_DEFERRED_SPLIT:	/* (folio, partially_mapped) */
		snprintf(p->args, sizeof(p->args), "partially_mapped=%d", (int)(regs->si & 1));
		p->model_status = fm_folio_deferred_split(pred, regs->si & 1, NULL);
		break;
	default:
		break;
	}
	if (op == OP_ADD_NEW_ANON || op == OP_ADD_ANON_PTES || op == OP_ADD_ANON_PMD)
		snprintf(p->args + strlen(p->args), sizeof(p->args) - strlen(p->args),
			 " flags=%u", flags);
	return 0;
}

static int add_new_anon_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_ADD_NEW_ANON);
}

static int add_anon_ptes_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_ADD_ANON_PTES);
}

static int add_anon_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_ADD_ANON_PMD);
}

static int add_file_ptes_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_ADD_FILE_PTES);
}

static int add_file_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_ADD_FILE_PMD);
}

static int remove_ptes_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_REMOVE_PTES);
}

static int remove_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_REMOVE_PMD);
}

static int deferred_split_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return folio_rmap_entry(ri, regs, OP_DEFERRED_SPLIT);
}

/* The anon THP mapped by the PMD at @pmdp, or NULL. */
static struct folio *anon_pmd_folio(pmd_t pmdval)
{
	struct folio *folio;

	if (!pmd_present(pmdval) || !pmd_trans_huge(pmdval))
		return NULL;
	folio = page_folio(pmd_page(pmdval));
	return folio_test_anon(folio) ? folio : NULL;
}

/* __split_huge_pmd(vma, pmd, address, freeze) (spec §6.1) */
static int split_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct vm_area_struct *vma = (struct vm_area_struct *)regs->di;
	pmd_t pmdval = pmdp_get_lockless((pmd_t *)regs->si);
	bool freeze = regs->cx & 1;
	struct folio *folio = vma_is_anonymous(vma) ? anon_pmd_folio(pmdval) : NULL;
	struct fm_check *c = rmap_begin(p, OP_SPLIT_PMD, folio);
	u32 mm = vma_mm_id(vma);

	if (!c)
		return 0;
	snprintf(p->args, sizeof(p->args), "mm=%u freeze=%d writable=%d", mm, freeze,
		 !!pmd_write(pmdval));
	p->model_status = fm_folio_split_pmd(&c->predicted.folio, mm, freeze,
					     pmd_write(pmdval), NULL);
	return 0;
}

/* set_pmd_migration_entry(pvmw, page) (spec §6.5) */
static int migrate_unmap_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct page_vma_mapped_walk *pvmw = (struct page_vma_mapped_walk *)regs->di;
	pmd_t pmdval = pmdp_get_lockless(pvmw->pmd);
	struct folio *folio = anon_pmd_folio(pmdval);
	struct fm_check *c = rmap_begin(p, OP_MIGRATE_UNMAP_PMD, folio);
	fm_migrate_unmap_outcome out = { 0 };
	u32 mm = vma_mm_id(pvmw->vma);

	if (!c)
		return 0;
	snprintf(p->args, sizeof(p->args), "mm=%u writable=%d", mm, !!pmd_write(pmdval));
	p->model_status = fm_folio_migrate_unmap_pmd(&c->predicted.folio, mm,
						     pmd_write(pmdval), &out);
	p->model_ret = out.ret;
	return 0;
}

/* remove_migration_pmd(pvmw, folio) (spec §6.5) */
static int migrate_restore_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct page_vma_mapped_walk *pvmw = (struct page_vma_mapped_walk *)regs->di;
	struct folio *folio = (struct folio *)regs->si;
	softleaf_t entry = softleaf_from_pmd(pmdp_get_lockless(pvmw->pmd));
	u32 mm = vma_mm_id(pvmw->vma), type;
	struct fm_check *c;

	if (!folio_test_anon(folio) || !softleaf_is_migration(entry))
		folio = NULL;
	c = rmap_begin(p, OP_MIGRATE_RESTORE_PMD, folio);
	if (!c)
		return 0;
	if (softleaf_is_migration_write(entry))
		type = FM_MIGRATION_ENTRY_WRITABLE;
	else if (softleaf_is_migration_read_exclusive(entry))
		type = FM_MIGRATION_ENTRY_READABLE_EXCLUSIVE;
	else
		type = FM_MIGRATION_ENTRY_READABLE;
	snprintf(p->args, sizeof(p->args), "mm=%u entry=%u", mm, type);
	p->model_status = fm_folio_migrate_restore_pmd(&c->predicted.folio, mm, type, NULL);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* try_to_migrate / remove_migration_ptes: the per-PTE rmap calls inside are checked    */
/* individually; here the end state of a complete unmap is checked against the model's  */
/* fresh, unmapped folio.                                                                */

struct unmap_probe {
	struct folio *folio;
	struct race_window window;
	bool active;
};

static int try_to_migrate_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct unmap_probe *p = (struct unmap_probe *)ri->data;

	p->folio = (struct folio *)regs->di;
	p->active = folio_test_anon(p->folio) && !folio_test_hugetlb(p->folio) &&
		    folio_order(p->folio) <= HPAGE_PMD_ORDER;
	if (p->active)
		window_open(&p->window, p->folio);
	return 0;
}

static int try_to_migrate_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct unmap_probe *p = (struct unmap_probe *)ri->data;
	struct fm_snap *actual = &this_cpu_ptr(scratch)->actual;
	bool raced, read, mapped;
	struct fm_check *c;
	u32 fields = FM_FIELD_PAGE_MAPCOUNT;
	unsigned int k;
	fm_folio *f;
	int pool;

	if (!p->active)
		return 0;
	read = !foliomap_snapshot(p->folio, actual);
	mapped = folio_mapped(p->folio);
	raced = window_close(&p->window, p->folio);
	if (!read)
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
	/* A failed unmap (pinned, busy) leaves mappings: nothing to compare. */
	if (!read || mapped)
		return 0;
	pool = pool_get(check_pool_busy, CHECK_POOL_SIZE);
	if (pool < 0)
		return 0;
	c = &check_pool[pool];
	/* Unmapped: the large mapcount, slots, S and per-page counts as at allocation. */
	foliomap_snap_copy(&c->predicted, actual);
	f = &c->predicted.folio;
	if (f->order) {
		f->large_mapcount = -1;
		f->entire_mapcount = -1;
		f->mm_id_mapcount[0] = -1;
		f->mm_id_mapcount[1] = -1;
		f->mm_ids = 0;
		f->nr_pages_mapped = 0;
		fields |= FM_FIELD_LARGE_MAPCOUNT | FM_FIELD_ENTIRE_MAPCOUNT |
			  FM_FIELD_NR_PAGES_MAPPED | FM_FIELD_MM_ID0 | FM_FIELD_MM_ID1 |
			  FM_FIELD_MM_ID_MAPCOUNT0 | FM_FIELD_MM_ID_MAPCOUNT1 |
			  FM_FIELD_SHARED;
	}
	for (k = 0; k < (1u << f->order); k++)
		c->predicted.pages[k].mapcount = -1;
	finish_transition("try_to_migrate", FOLIOMAP_STAT_OP_TRY_TO_MIGRATE, "", actual,
			  &c->predicted, actual, FM_OK, fields, raced);
	pool_put(check_pool_busy, pool);
	return 0;
}

/* remove_migration_ptes(src, dst, flags): the restores inside are checked one by one. */
static int remove_migration_ptes_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct unmap_probe *p = (struct unmap_probe *)ri->data;

	p->folio = (struct folio *)regs->si;
	p->active = true;
	window_open(&p->window, p->folio);
	return 0;
}

static int remove_migration_ptes_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct unmap_probe *p = (struct unmap_probe *)ri->data;

	if (p->active)
		window_close(&p->window, p->folio);
	foliomap_count(FOLIOMAP_STAT_OP_REMOVE_MIGRATION_PTES);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Copy-on-Write: do_wp_page, do_huge_pmd_wp_page (spec §7)                               */

#define DECIDED(d) (1u << (d))

struct cow_probe {
	bool active;
	bool pmd;
	bool unshare;
	struct vm_fault *vmf;
	struct folio *folio;
	unsigned long pfn;
	u32 page;
	u32 mm;
	u32 decisions;		/* DECIDED(fm_cow_decision) over the unknown facts */
	u32 nominal_reason;
	struct race_window window;
	fm_folio before;	/* header only, for the mismatch record */
	bool before_pae;
};

/*
 * The model's decisions over the facts it cannot know (spec §7.3-7.6): whether the folio
 * trylock fails, whether draining this CPU's LRU batch drops a reference, whether the
 * swap cache can be freed. Only facts that can matter for this folio are varied.
 */
static void cow_decide(struct cow_probe *p, struct fm_check *c)
{
	const fm_folio *f = &c->before.folio;
	bool small = f->order == 0;
	unsigned int combo;

	p->decisions = 0;
	for (combo = 0; combo < 8; combo++) {
		fm_cow_facts facts = {
			.unshare = p->unshare,
			.trylock_fails = combo & 1,
			.lru_drain_drops_ref = !!(combo & 2),
			.swap_free_succeeds = !!(combo & 4),
		};
		fm_cow_outcome out;
		int st;

		if (!small && !(f->flags & FM_FOLIO_SWAPCACHE) && (combo & 1))
			continue;	/* large folios take the lock only for the swap cache */
		if ((!small || (f->flags & FM_FOLIO_LRU)) && (combo & 2))
			continue;
		if (!(f->flags & FM_FOLIO_SWAPCACHE) && (combo & 4))
			continue;
		foliomap_snap_copy(&c->predicted, &c->before);
		st = p->pmd ? fm_folio_wp_fault_pmd(&c->predicted.folio, p->mm, &facts, &out)
			    : fm_folio_wp_fault_pte(&c->predicted.folio, p->page, p->mm, &facts,
						    &out);
		if (st != FM_OK)
			continue;
		p->decisions |= DECIDED(out.decision);
		if (!combo)
			p->nominal_reason = out.reason;
	}
}

static void cow_begin(struct cow_probe *p, struct folio *folio, u32 page, u32 mm)
{
	int pool = pool_get(check_pool_busy, CHECK_POOL_SIZE);
	struct fm_check *c;

	if (pool < 0)
		return;
	c = &check_pool[pool];
	window_open(&p->window, folio);
	if (foliomap_snapshot(folio, &c->before)) {
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
	} else {
		p->folio = folio;
		p->page = page;
		p->mm = mm;
		p->before = c->before.folio;
		p->before.pages = NULL;
		p->before_pae = c->before.pages[page].flags & FM_PAGE_ANON_EXCLUSIVE;
		cow_decide(p, c);
		p->active = p->decisions != 0;
		if (!p->active)
			foliomap_count(FOLIOMAP_STAT_UNCHECKED);
	}
	if (!p->active)
		window_close(&p->window, folio);
	pool_put(check_pool_busy, pool);
}

/*
 * Whether the folio's reference count after the fault is what the kernel's observed
 * decision does to it, under some value of the facts the model cannot know. Anything
 * else means another task took or dropped references meanwhile (a TLB-gather flush,
 * GUP-fast, an LRU drain on another CPU), which the decision may have seen: a race.
 */
static bool cow_refs_explained(struct cow_probe *p, u32 observed, int now)
{
	const fm_folio *b = &p->before;
	int n = 1 << b->order;
	int base = b->refcount, drain, swap;

	switch (observed) {
	case FM_COW_DECISION_REUSE:
		break;			/* no reference changes */
	case FM_COW_DECISION_COPY:
		base -= 1;		/* the replaced mapping's */
		break;
	case FM_COW_DECISION_FALLBACK:
		base += HPAGE_PMD_NR - 1;	/* the PMD split's */
		break;
	default:
		return false;
	}
	for (drain = 0; drain <= 1; drain++) {
		if (drain && (b->order || (b->flags & FM_FOLIO_LRU)))
			continue;	/* only a small folio off the LRU sits in a batch */
		for (swap = 0; swap <= 1; swap++) {
			if (swap && !(b->flags & FM_FOLIO_SWAPCACHE))
				continue;
			if (now == base - drain - swap * n)
				return true;
		}
	}
	return false;
}

static void cow_finish(struct cow_probe *p, u32 observed)
{
	struct foliomap_check_report r = { .op = p->pmd ? "do_huge_pmd_wp_page" : "do_wp_page" };
	static const char *const names[] = { "none", "REUSE", "COPY", "FALLBACK" };
	/* The reference count is read before the window closes, like every result. */
	int refs_now = folio_ref_count(p->folio);
	bool refs_explained = cow_refs_explained(p, observed, refs_now);
	bool raced = window_close(&p->window, p->folio);
	char note[96];

	if (!observed)
		return;	/* backed out (PTE changed, OOM): no decision was taken */
	if (p->decisions & DECIDED(observed)) {
		foliomap_count(FOLIOMAP_STAT_COW_CHECKED);
		if (p->decisions != DECIDED(observed))
			foliomap_count(FOLIOMAP_STAT_COW_FACT_DEPENDENT);
		return;
	}
	raced = raced || !refs_explained;
	snprintf(r.args, sizeof(r.args), "page=%u mm=%u unshare=%d pae=%d", p->page, p->mm,
		 p->unshare, p->before_pae);
	snprintf(note, sizeof(note), "kernel %s; model %s%s%s (reason %u); refcount now %d",
		 names[observed & 3],
		 p->decisions & DECIDED(FM_COW_DECISION_REUSE) ? "REUSE " : "",
		 p->decisions & DECIDED(FM_COW_DECISION_COPY) ? "COPY " : "",
		 p->decisions & DECIDED(FM_COW_DECISION_FALLBACK) ? "FALLBACK " : "",
		 p->nominal_reason, refs_now);
	r.note = note;
	r.cow_before = &p->before;
	if (raced) {
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_RACED);
		foliomap_record(&r, true);
		return;
	}
	foliomap_count(FOLIOMAP_STAT_COW_CHECKED);
	foliomap_count(FOLIOMAP_STAT_COW_MISMATCHES);
	foliomap_record(&r, false);
}

static int wp_page_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	struct vm_fault *vmf = (struct vm_fault *)regs->di;
	struct vm_area_struct *vma = vmf->vma;
	pte_t pte = vmf->orig_pte;
	struct folio *folio;
	struct page *page;

	p->active = false;
	p->pmd = false;
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE) || !pte_present(pte) ||
	    !pfn_valid(pte_pfn(pte)))
		return 0;
	page = pfn_to_page(pte_pfn(pte));
	folio = page_folio(page);
	/* Anonymous CoW only; the zero page and file pages are not anon. */
	if (!folio_test_anon(folio) || folio_test_hugetlb(folio))
		return 0;
	p->vmf = vmf;
	p->pfn = pte_pfn(pte);
	p->unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	cow_begin(p, folio, page_index_in(folio, page), vma_mm_id(vma));
	return 0;
}

/* What do_wp_page did, read back from the PTE (the page table stays under the fault's
 * mmap or VMA lock): a new page is a COPY; the same page made writable, or exclusive for
 * an unshare fault, is a REUSE; anything else means the fault backed out.
 */
static int wp_page_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	struct vm_fault *vmf = p->vmf;
	u32 observed = FM_COW_DECISION_NONE;
	pmd_t pmdval;
	pte_t pte;

	if (!p->active)
		return 0;
	pmdval = pmdp_get_lockless(vmf->pmd);
	if (!(regs_return_value(regs) & VM_FAULT_ERROR) && pmd_present(pmdval) &&
	    !pmd_leaf(pmdval)) {
		pte = ptep_get(pte_offset_kernel(vmf->pmd, vmf->address));
		if (pte_present(pte) && pte_pfn(pte) != p->pfn)
			observed = FM_COW_DECISION_COPY;
		else if (pte_present(pte) &&
			 (pte_write(pte) ||
			  (p->unshare && PageAnonExclusive(pfn_to_page(p->pfn)))))
			observed = FM_COW_DECISION_REUSE;
	}
	cow_finish(p, observed);
	return 0;
}

static int huge_pmd_wp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	struct vm_fault *vmf = (struct vm_fault *)regs->di;
	struct folio *folio = anon_pmd_folio(vmf->orig_pmd);

	p->active = false;
	p->pmd = true;
	if (!folio)
		return 0;
	p->vmf = vmf;
	p->unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	cow_begin(p, folio, 0, vma_mm_id(vmf->vma));
	return 0;
}

/* VM_FAULT_FALLBACK: the PMD was split; 0 with a writable (or, unsharing, exclusive)
 * PMD: reused; 0 otherwise: the PMD changed under the fault and nothing was decided.
 */
static int huge_pmd_wp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	vm_fault_t ret = regs_return_value(regs);
	u32 observed = FM_COW_DECISION_NONE;

	if (!p->active)
		return 0;
	if (ret == VM_FAULT_FALLBACK) {
		observed = FM_COW_DECISION_FALLBACK;
	} else if (!ret) {
		pmd_t pmdval = pmdp_get_lockless(p->vmf->pmd);

		if (pmd_present(pmdval) && pmd_trans_huge(pmdval) &&
		    page_folio(pmd_page(pmdval)) == p->folio &&
		    (pmd_write(pmdval) || (p->unshare && PageAnonExclusive(&p->folio->page))))
			observed = FM_COW_DECISION_REUSE;
	}
	cow_finish(p, observed);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* fork: copy_page_range(dst_vma, src_vma) (spec §5)                                     */

struct fork_probe {
	int pool;		/* fork_pool index, -1: not checked */
	int slot;		/* in active[] */
	u32 dst_mm, src_mm;
	bool src_pinned;
	bool other_forks;
	u64 fork_seq;
};

static int fork_slot(struct fork_check *fc, struct folio *folio)
{
	unsigned int i;

	for (i = 0; i < fc->nr; i++)
		if (fc->folio[i] == folio)
			return i;
	if (fc->nr == FORK_MAX_FOLIOS) {
		foliomap_count(FOLIOMAP_STAT_FORK_FOLIOS_SKIPPED);
		return -1;
	}
	/* Open the folio's window before reading it, so no change slips in between. */
	fc->overlapped[fc->nr] = inflight_enter(folio);
	gen_bump(folio);
	fc->gen[fc->nr] = atomic64_read(gen_of(folio));
	fc->slot[fc->nr] = active_add(folio);
	if (foliomap_snapshot(folio, &fc->before[fc->nr])) {
		active_del(fc->slot[fc->nr]);
		inflight_leave(folio);
		return -1;
	}
	fc->folio[fc->nr] = folio;
	fc->pmd[fc->nr] = false;
	bitmap_zero(fc->pte_pages[fc->nr], FOLIOMAP_MAX_PAGES);
	return fc->nr++;
}

static struct folio *fork_candidate(struct page *page)
{
	struct folio *folio = page_folio(page);

	/* Large anon folios; small ones are plain refcount + mapcount + 1. */
	if (!folio_test_large(folio) || !folio_test_anon(folio) || folio_test_hugetlb(folio) ||
	    folio_order(folio) > HPAGE_PMD_ORDER)
		return NULL;
	return folio;
}

/*
 * The large anon folios @vma maps, with which pages by PTE and whether by PMD. The
 * parent holds mmap_lock for writing during fork, so its page tables stay in place.
 */
static void fork_walk(struct fork_check *fc, struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr, next;

	for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
		pgd_t *pgd = pgd_offset(mm, addr);
		p4d_t *p4d;
		pud_t *pud;
		pmd_t *pmd, pmdval;
		pte_t *ptep;
		unsigned long a;
		int i;

		next = pmd_addr_end(addr, vma->vm_end);
		if (pgd_none(*pgd) || pgd_bad(*pgd))
			continue;
		p4d = p4d_offset(pgd, addr);
		if (p4d_none(*p4d) || p4d_bad(*p4d))
			continue;
		pud = pud_offset(p4d, addr);
		if (pud_none(*pud) || !pud_present(*pud) || pud_leaf(*pud))
			continue;
		pmd = pmd_offset(pud, addr);
		pmdval = pmdp_get_lockless(pmd);
		if (pmd_none(pmdval) || !pmd_present(pmdval))
			continue;
		if (pmd_trans_huge(pmdval)) {
			struct folio *folio = fork_candidate(pmd_page(pmdval));

			i = folio ? fork_slot(fc, folio) : -1;
			if (i >= 0)
				fc->pmd[i] = true;
			continue;
		}
		ptep = pte_offset_kernel(pmd, addr);
		for (a = addr; a < next; a += PAGE_SIZE, ptep++) {
			pte_t pte = ptep_get(ptep);
			struct folio *folio;
			struct page *page;

			if (!pte_present(pte) || !pfn_valid(pte_pfn(pte)))
				continue;
			page = pfn_to_page(pte_pfn(pte));
			folio = fork_candidate(page);
			i = folio ? fork_slot(fc, folio) : -1;
			if (i >= 0)
				__set_bit(page_index_in(folio, page), fc->pte_pages[i]);
		}
	}
}

static int copy_page_range_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fork_probe *p = (struct fork_probe *)ri->data;
	struct vm_area_struct *dst = (struct vm_area_struct *)regs->di;
	struct vm_area_struct *src = (struct vm_area_struct *)regs->si;

	/* Other forks in flight duplicate folios without any hook firing: a race. */
	p->other_forks = atomic_inc_return(&forks_in_flight) > 1;
	p->fork_seq = atomic64_inc_return(&fork_seq);
	p->pool = -1;
	/* Every hook this task hits until the return is part of this fork. */
	p->slot = active_add(NULL);
	/* copy_page_range returns at once for VMAs without anon pages (spec §5.1). */
	if (!src->anon_vma || is_vm_hugetlb_page(src))
		return 0;
	p->pool = pool_get(fork_pool_busy, FORK_POOL_SIZE);
	if (p->pool < 0)
		return 0;
	fork_pool[p->pool].nr = 0;
	p->dst_mm = vma_mm_id(dst);
	p->src_mm = vma_mm_id(src);
	p->src_pinned = mm_flags_test(MMF_HAS_PINNED, src->vm_mm);
	fork_walk(&fork_pool[p->pool], src);
	return 0;
}

/* The model's fork of one folio: each run of PTE-mapped pages, then the PMD. The final
 * state does not depend on how the kernel cut the runs into batches (spec §2.5.4, §5.5).
 */
static int fork_predict(struct fork_probe *p, struct fork_check *fc, unsigned int i,
			struct fm_snap *pred)
{
	unsigned int start, end, n = 1u << fc->before[i].folio.order;
	int st = FM_OK;

	foliomap_snap_copy(pred, &fc->before[i]);
	for (start = find_first_bit(fc->pte_pages[i], n); start < n && st == FM_OK;
	     start = find_next_bit(fc->pte_pages[i], n, end)) {
		end = find_next_zero_bit(fc->pte_pages[i], n, start);
		st = fm_folio_fork_ptes(&pred->folio, start, end - start, p->dst_mm,
					p->src_pinned, NULL);
	}
	if (st == FM_OK && fc->pmd[i])
		st = fm_folio_fork_pmd(&pred->folio, p->src_mm, p->dst_mm, p->src_pinned, NULL);
	return st;
}

/* Compares folio @i of a fork with the model's prediction; @actual is its state now. */
static void fork_check_folio(struct fork_probe *p, struct fork_check *fc, unsigned int i,
			     const struct fm_snap *actual, bool raced)
{
	int pool = pool_get(check_pool_busy, CHECK_POOL_SIZE);
	struct fm_check *c;
	char args[96];
	int st;

	if (pool < 0)
		return;
	c = &check_pool[pool];
	st = fork_predict(p, fc, i, &c->predicted);
	snprintf(args, sizeof(args), "src_mm=%u dst_mm=%u pinned=%d pmd=%d ptes=%u",
		 p->src_mm, p->dst_mm, p->src_pinned, fc->pmd[i],
		 bitmap_weight(fc->pte_pages[i], FOLIOMAP_MAX_PAGES));
	finish_transition("copy_page_range", FOLIOMAP_STAT_OP_FORK, args, &fc->before[i],
			  &c->predicted, actual, st, OP_FIELDS, raced);
	pool_put(check_pool_busy, pool);
}

static int copy_page_range_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fork_probe *p = (struct fork_probe *)ri->data;
	struct fm_snap *actual = &this_cpu_ptr(scratch)->actual;
	/* A failed fork (-ENOMEM) leaves partial copies: nothing to predict. */
	bool failed = regs_return_value(regs);
	struct fork_check *fc;
	bool fork_raced;
	unsigned int i;

	active_del(p->slot);
	fork_raced = p->other_forks || atomic64_read(&fork_seq) != p->fork_seq ||
		     atomic_read(&forks_in_flight) > 1;
	atomic_dec(&forks_in_flight);
	atomic64_inc(&fork_seq);
	if (p->pool < 0)
		return 0;
	fc = &fork_pool[p->pool];
	for (i = 0; i < fc->nr; i++) {
		/* Each folio is read before its window closes. */
		bool read = !failed && !foliomap_snapshot(fc->folio[i], actual);
		int own = active_del(fc->slot[i]);
		bool overlapped = inflight_leave(fc->folio[i]) || fc->overlapped[i];
		bool raced = fork_raced || overlapped || fc->slot[i] < 0 ||
			     atomic64_read(gen_of(fc->folio[i])) - fc->gen[i] != own;

		if (read)
			fork_check_folio(p, fc, i, actual, raced);
		else if (!failed)
			foliomap_count(FOLIOMAP_STAT_UNCHECKED);
	}
	pool_put(fork_pool_busy, p->pool);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* The hook table                                                                        */

struct foliomap_hook {
	const char *symbol;
	kretprobe_handler_t entry;
	kretprobe_handler_t ret;
	size_t data_size;
	int maxactive;		/* instances: functions that may sleep need more */
	struct kretprobe rp;
	bool registered;
};

#define HOOK(sym, e, r, data, active) \
	{ .symbol = sym, .entry = e, .ret = r, .data_size = sizeof(data), .maxactive = active }

static struct foliomap_hook hooks[] = {
	HOOK("folio_add_new_anon_rmap", add_new_anon_entry, rmap_end, struct rmap_probe, 16),
	HOOK("folio_add_anon_rmap_ptes", add_anon_ptes_entry, rmap_end, struct rmap_probe, 16),
	HOOK("folio_add_anon_rmap_pmd", add_anon_pmd_entry, rmap_end, struct rmap_probe, 16),
	HOOK("folio_add_file_rmap_ptes", add_file_ptes_entry, rmap_end, struct rmap_probe, 16),
	HOOK("folio_add_file_rmap_pmd", add_file_pmd_entry, rmap_end, struct rmap_probe, 16),
	HOOK("folio_remove_rmap_ptes", remove_ptes_entry, rmap_end, struct rmap_probe, 16),
	HOOK("folio_remove_rmap_pmd", remove_pmd_entry, rmap_end, struct rmap_probe, 16),
	HOOK("deferred_split_folio", deferred_split_entry, rmap_end, struct rmap_probe, 16),
	HOOK("__split_huge_pmd", split_pmd_entry, rmap_end, struct rmap_probe, 32),
	HOOK("set_pmd_migration_entry", migrate_unmap_pmd_entry, rmap_end, struct rmap_probe, 16),
	HOOK("remove_migration_pmd", migrate_restore_pmd_entry, rmap_end, struct rmap_probe, 16),
	HOOK("try_to_migrate", try_to_migrate_entry, try_to_migrate_ret, struct unmap_probe, 32),
	HOOK("remove_migration_ptes", remove_migration_ptes_entry, remove_migration_ptes_ret,
	     struct unmap_probe, 32),
	HOOK("do_wp_page", wp_page_entry, wp_page_ret, struct cow_probe, 64),
	HOOK("do_huge_pmd_wp_page", huge_pmd_wp_entry, huge_pmd_wp_ret, struct cow_probe, 64),
	HOOK("copy_page_range", copy_page_range_entry, copy_page_range_ret, struct fork_probe, 16),
};

u64 foliomap_hooks_missed(void)
{
	u64 missed = atomic64_read(&pool_exhausted);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++)
		if (hooks[i].registered)
			missed += hooks[i].rp.nmissed + hooks[i].rp.kp.nmissed;
	return missed;
}

int foliomap_hooks_init(void)
{
	unsigned int i, nr_registered = 0;
	int err;

	BUILD_BUG_ON(sizeof(struct rmap_probe) > KRETPROBE_MAX_DATA_SIZE);
	BUILD_BUG_ON(sizeof(struct cow_probe) > KRETPROBE_MAX_DATA_SIZE);
	check_pool = vzalloc(sizeof(*check_pool) * CHECK_POOL_SIZE);
	fork_pool = vzalloc(sizeof(*fork_pool) * FORK_POOL_SIZE);
	scratch = alloc_percpu(struct scratch);
	if (!check_pool || !fork_pool || !scratch) {
		vfree(check_pool);
		vfree(fork_pool);
		free_percpu(scratch);
		return -ENOMEM;
	}

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		struct foliomap_hook *h = &hooks[i];

		h->rp.kp.symbol_name = h->symbol;
		h->rp.entry_handler = h->entry;
		h->rp.handler = h->ret;
		h->rp.data_size = h->data_size;
		h->rp.maxactive = h->maxactive;
		err = register_kretprobe(&h->rp);
		if (err) {
			/* A symbol this kernel inlined or renamed: report it, check the rest. */
			pr_warn("cannot hook %s (%d): its checks are disabled\n", h->symbol, err);
			continue;
		}
		h->registered = true;
		nr_registered++;
	}
	pr_info("%u of %zu hooks registered\n", nr_registered, ARRAY_SIZE(hooks));
	return 0;
}

void foliomap_hooks_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		if (!hooks[i].registered)
			continue;
		unregister_kretprobe(&hooks[i].rp);
		hooks[i].registered = false;
		if (hooks[i].rp.nmissed || hooks[i].rp.kp.nmissed)
			pr_info("%s: %d returns and %lu entries missed\n", hooks[i].symbol,
				hooks[i].rp.nmissed, hooks[i].rp.kp.nmissed);
	}
	vfree(check_pool);
	vfree(fork_pool);
	free_percpu(scratch);
}
