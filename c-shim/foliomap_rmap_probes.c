// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The rmap family: the rmap primitives (folio_add_*_rmap_*, folio_remove_rmap_*,
 * deferred_split_folio), PMD split, PMD migration entries, try_to_migrate and
 * remove_migration_ptes, and the reference a zap queues for the TLB flush.
 *
 * Each primitive is bracketed by a kretprobe: at entry the folio is snapshotted and the
 * model performs the same call with the real arguments; at return the folio is read again
 * and compared on the fields the operation defines (spec §3). try_to_migrate and
 * remove_migration_ptes are checked as a whole too: the nested per-mapping operations of
 * the same task are logged and replayed through the model's call-site operations
 * (spec §6.5), whose references and PAE changes the primitives' checks do not see.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/leafops.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/vmalloc.h>

#include "foliomap_probes.h"
#include "foliomap_trace.h"
#include "foliomap_window.h"

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
	[OP_SPLIT_PMD] = { "split_huge_pmd_locked", FOLIOMAP_STAT_OP_SPLIT_PMD, OP_FIELDS },
	[OP_MIGRATE_UNMAP_PMD] = { "set_pmd_migration_entry", FOLIOMAP_STAT_OP_MIGRATE_PMD, OP_FIELDS },
	[OP_MIGRATE_RESTORE_PMD] = { "remove_migration_pmd", FOLIOMAP_STAT_OP_MIGRATE_PMD, OP_FIELDS },
};

/* A model status meaning: the model chose another migration entry than the kernel. */
#define REPLAY_OTHER_ENTRY	-101

static const char try_to_migrate_op[] = "try_to_migrate";
static const char remove_migration_ptes_op[] = "remove_migration_ptes";

/* What an rmap-level kretprobe carries from entry to return. */
struct rmap_probe {
	struct fm_check *c;		/* NULL: not checked */
	int check;			/* its index */
	int window;
	enum rmap_op op;
	struct folio *folio;
	int model_status;
	int model_ret;			/* what the model says the function returns */
	enum foliomap_stat stat;	/* the op's counter (a restore counts apart) */
	u32 mm;
	u32 first, nr;			/* the pages a removal unmaps, for the zap check */
	pmd_t *pmdp;			/* set_pmd_migration_entry: where the entry goes */
	u32 model_entry;		/* ... and the one the model chooses */
	fm_trace_event ev;		/* the operation for the event recorder */
	char args[96];
};

u32 foliomap_vma_mm_id(struct vm_area_struct *vma)
{
	return vma && vma->vm_mm ? vma->vm_mm->mm_id : 0;
}

/* The anon THP a present PMD maps, or NULL. */
struct folio *foliomap_anon_pmd_folio(pmd_t pmdval)
{
	struct folio *folio;

	if (!pmd_present(pmdval) || !pmd_trans_huge(pmdval))
		return NULL;
	folio = page_folio(pmd_page(pmdval));
	return folio_test_anon(folio) ? folio : NULL;
}

/*
 * The operation as the event recorder writes it (fields an op does not use stay 0);
 * nothing when no recording runs (ev.op stays 0: not recorded).
 */
static void rmap_event(struct rmap_probe *p, u16 op, u32 first, u32 nr, u32 mm, u8 flags,
		       u32 arg)
{
	if (foliomap_tracing())
		p->ev = (fm_trace_event){ .op = op, .first = first, .nr = nr, .mm = mm,
					  .flags = flags, .arg = arg };
}

static u32 rmap_flags(unsigned long flags)
{
	return (flags & (__force unsigned long)RMAP_EXCLUSIVE) ? FM_RMAP_EXCLUSIVE : FM_RMAP_NONE;
}

static u32 page_index_in(struct folio *folio, struct page *page)
{
	return (u32)folio_page_idx(folio, page);
}

static u32 migration_entry_type(softleaf_t entry)
{
	if (softleaf_is_migration_write(entry))
		return FM_MIGRATION_ENTRY_WRITABLE;
	if (softleaf_is_migration_read_exclusive(entry))
		return FM_MIGRATION_ENTRY_READABLE_EXCLUSIVE;
	return FM_MIGRATION_ENTRY_READABLE;
}

/* Opens the window, snapshots @folio; the caller then runs the model on ->predicted. */
static struct fm_check *rmap_begin(struct rmap_probe *p, enum rmap_op op, struct folio *folio)
{
	struct fm_check *c;

	p->c = NULL;
	p->op = op;
	p->stat = rmap_ops[op].stat;
	p->folio = folio;
	p->model_ret = 0;
	p->mm = 0;
	p->nr = 0;
	p->ev.op = 0;
	p->args[0] = '\0';
	if (!folio)
		return NULL;
	c = fm_check_get(&p->check);
	if (!c)
		return NULL;
	/* The window opens before the snapshot, so no change slips in between. */
	p->window = fmw_open(folio, rmap_ops[op].name, 0, NULL);
	if (p->window < 0 || foliomap_snapshot(folio, &c->before)) {
		fmw_abandon(p->window);
		fm_check_put(p->check);
		return NULL;
	}
	fmw_opened(p->window);
	foliomap_snap_copy(&c->predicted, &c->before);
	p->c = c;
	return c;
}

/*
 * The reference pairing of a zap (spec §6.2): the references the model's zap of the pages
 * a removal unmapped drops, kept per CPU until the same task, under the same page-table
 * lock, queues those pages for the TLB flush (which drops that many references).
 */
struct zap_expect {
	struct folio *folio;
	u32 first, nr;
	int model_drop;
};
static DEFINE_PER_CPU(struct zap_expect, zap_expect);

static void zap_expect_set(struct rmap_probe *p)
{
	struct zap_expect *z = this_cpu_ptr(&zap_expect);
	fm_folio *f = &p->c->before.folio;
	int refs = f->refcount;
	int st;

	/* The check is done with its "before": the model zaps it in place. */
	st = p->op == OP_REMOVE_PTES ? fm_folio_zap_ptes(f, p->first, p->nr, p->mm, NULL)
				     : fm_folio_zap_pmd(f, p->mm, NULL);
	z->folio = st == FM_OK ? p->folio : NULL;
	z->first = p->first;
	z->nr = p->nr;
	z->model_drop = refs - f->refcount;
}

static int rmap_end(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct fm_snap *actual = &fm_scratch()->actual;
	struct fmw_verdict v;
	bool read;

	if (!p->c)
		return 0;
	/* Read the result inside the window: a change after it closes is not this call's. */
	read = fmw_close_read(p->window, p->folio, &p->c->before.folio, actual, &v);
	/* Functions that return a value: the model must agree on it too. */
	if (p->op == OP_MIGRATE_UNMAP_PMD && p->model_status == FM_OK) {
		/* Under the PMD lock still: the entry the kernel installed. */
		softleaf_t entry = softleaf_from_pmd(pmdp_get_lockless(p->pmdp));

		/* The recorder's outcome: what the kernel returned and installed. */
		p->ev.ret = (int)regs_return_value(regs);
		p->ev.decision = softleaf_is_migration(entry) ? migration_entry_type(entry) : 0;
		if ((int)regs_return_value(regs) != p->model_ret)
			p->model_status = -100;
		else if (!p->model_ret && (!softleaf_is_migration(entry) ||
					   migration_entry_type(entry) != p->model_entry))
			p->model_status = REPLAY_OTHER_ENTRY;
	}
	if (!read) {
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
		foliomap_count(FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED);
		fmw_verdict_release(&v);
	} else {
		struct foliomap_trace_op rec = { .folio = p->folio, .nr = !!p->ev.op,
						 .ev = &p->ev };

		fm_finish_check(rmap_ops[p->op].name, p->stat, p->args, &p->c->before.folio,
				&p->c->predicted, actual, p->model_status,
				rmap_ops[p->op].fields, &v, &rec);
	}
	if (p->op == OP_REMOVE_PTES || p->op == OP_REMOVE_PMD)
		zap_expect_set(p);
	fm_check_put(p->check);
	p->c = NULL;
	return 0;
}

/*
 * The migration entry in @vma's page table at @addr, as FM_MIGRATION_ENTRY_*, or 0. A
 * restore from a PTE migration entry (remove_migration_pte, spec §6.5) adds the mapping
 * with an exclusivity the kernel derives from the entry; the model derives it itself
 * from the entry still there. try_to_migrate_one installs the entry before it removes
 * the mapping: the model must choose the same one. The caller holds the PTE lock.
 */
static u32 pte_migration_entry(struct vm_area_struct *vma, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, pmdval;
	softleaf_t entry;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return 0;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return 0;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || !pud_present(*pud) || pud_leaf(*pud))
		return 0;
	pmd = pmd_offset(pud, addr);
	pmdval = pmdp_get_lockless(pmd);
	if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		return 0;
	/* The caller holds this PTE's lock: the entry cannot change under us. */
	entry = softleaf_from_pte(ptep_get(pte_offset_kernel(pmd, addr)));
	return softleaf_is_migration(entry) ? migration_entry_type(entry) : 0;
}

/* The model's call-site operation for one nested operation. */
static int replay_one(fm_folio *f, const struct fmw_nested *e)
{
	fm_migrate_unmap_outcome out;

	switch (e->op) {
	case NESTED_MIGRATE_UNMAP_PTE: {
		/* The kernel's entry says whether the PTE was writable; the model chooses it. */
		int st = fm_folio_migrate_unmap_pte(f, e->page, e->mm,
						    e->arg == FM_MIGRATION_ENTRY_WRITABLE, &out);

		return st == FM_OK && out.entry != e->arg ? REPLAY_OTHER_ENTRY : st;
	}
	case NESTED_MIGRATE_UNMAP_PMD:
		return fm_folio_migrate_unmap_pmd(f, e->mm, e->arg & 1, &out);
	case NESTED_SPLIT_PMD:
		return fm_folio_split_pmd(f, e->mm, e->arg & 1, e->arg >> 1, NULL);
	case NESTED_RESTORE_PTE:
		return fm_folio_migrate_restore_pte(f, e->page, e->mm, e->arg, NULL);
	case NESTED_RESTORE_PMD:
		return fm_folio_migrate_restore_pmd(f, e->mm, e->arg, NULL);
	}
	return FM_ERR_BAD_ARGUMENT;
}

/* Applies a nested operation of the window's task to its replay, as the kernel does it. */
static void replay_step(struct fmw_log *log, enum fmw_nested_op op, u32 page, u32 mm, u8 arg)
{
	struct fmw_nested e = { .op = op, .arg = arg, .page = page, .mm = mm };

	if (!log->nr)
		log->first = e;
	log->last = e;
	log->nr++;
	log->counts[op]++;
	if (log->status == FM_OK)
		log->status = replay_one(&log->state.folio, &e);
}

/*
 * The references a fault takes on a fresh folio before it maps it (spec §3.11): the
 * model's fault of a folio as the allocator gives it (one reference) must end with the
 * references the kernel's folio has when folio_add_new_anon_rmap maps it. Faults, the
 * copy of a CoW, userfaultfd and collapse all hand it such a folio; a swap-in's (in the
 * swap cache) carries the cache's references and is not a fault of a fresh folio.
 */
static void fault_refs_check(struct folio *folio, const fm_folio *before, u32 mm)
{
	struct fm_snap *fresh = &fm_scratch()->fresh;
	struct foliomap_check_report r = { .op = "fault (references)" };
	char note[96];

	if (before->flags & FM_FOLIO_SWAPCACHE || before->pincount > 0)
		return;
	if (fm_folio_init(&fresh->folio, before->mode, before->order, 0, fresh->pages,
			  FOLIOMAP_MAX_PAGES) != FM_OK ||
	    fm_folio_fault_anon(&fresh->folio, mm, NULL) != FM_OK)
		return;
	foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
	foliomap_count(FOLIOMAP_STAT_OP_FAULT_REFS);
	if (fresh->folio.refcount == before->refcount)
		return;
	snprintf(r.args, sizeof(r.args), "order=%u mm=%u", before->order, mm);
	snprintf(note, sizeof(note), "kernel maps it holding %d references; model %d",
		 before->refcount, fresh->folio.refcount);
	r.note = note;
	foliomap_count(FOLIOMAP_STAT_TRANSITION_MISMATCHES);
	foliomap_record(&r, RECORD_MISMATCH);
}

/*
 * Entry of the rmap functions whose first argument is the folio: decode the arguments
 * (x86-64 calling convention) of the function this hook is on, and let the model
 * perform the same call on the copy of the folio.
 */
static int folio_rmap_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	enum rmap_op op = foliomap_hook_of(ri)->arg;
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct folio *folio = (struct folio *)regs->di;
	bool ptes = op == OP_ADD_ANON_PTES || op == OP_ADD_FILE_PTES || op == OP_REMOVE_PTES;
	struct vm_area_struct *vma = NULL;
	u32 first = 0, nr = 0, mm = 0, flags = 0, restore = 0;
	struct fm_check *c;
	u8 excl;
	struct fmw_log *log;
	fm_folio *pred;
	unsigned int k;

	if (ptes)	/* (folio, page, nr, vma[, addr, flags]) */
		vma = (struct vm_area_struct *)regs->cx;
	else if (op == OP_ADD_NEW_ANON)	/* (folio, vma, addr, flags) */
		vma = (struct vm_area_struct *)regs->si;
	else if (op != OP_DEFERRED_SPLIT)	/* (folio, page, vma[, addr, flags]) */
		vma = (struct vm_area_struct *)regs->dx;
	/* Whether checked or not, a fork copying the VMA is to know (spec §5.1). */
	if (op == OP_ADD_ANON_PTES || op == OP_ADD_FILE_PTES || op == OP_ADD_ANON_PMD ||
	    op == OP_ADD_FILE_PMD)
		fmw_fork_touch(vma, folio);
	c = rmap_begin(p, op, folio);
	if (!c)
		return 0;
	pred = &c->predicted.folio;
	if (ptes) {
		first = page_index_in(folio, (struct page *)regs->si);
		nr = (u32)regs->dx;
		flags = rmap_flags(regs->r9);
	} else if (op == OP_ADD_NEW_ANON) {
		flags = rmap_flags(regs->cx);
	} else if (op != OP_DEFERRED_SPLIT) {
		flags = rmap_flags(regs->r8);
	}
	if (vma)
		mm = foliomap_vma_mm_id(vma);
	p->mm = mm;
	if (ptes)
		snprintf(p->args, sizeof(p->args), "page=%u nr=%u mm=%u", first, nr, mm);
	else
		snprintf(p->args, sizeof(p->args), "mm=%u", mm);

	if (op == OP_ADD_ANON_PTES && nr == 1) {
		log = fmw_own_log(folio, remove_migration_ptes_op);
		restore = pte_migration_entry(vma, regs->r8);
		/*
		 * A restore no hooked remove_migration_ptes wraps: that function was inlined
		 * into this caller. Say so, and check it as the plain add it also is.
		 */
		if (restore && !log) {
			foliomap_count(FOLIOMAP_STAT_RESTORES_UNWRAPPED);
			restore = 0;
		}
		if (restore) {
			replay_step(log, NESTED_RESTORE_PTE, first, mm, restore);
			p->stat = FOLIOMAP_STAT_OP_RESTORE_PTE;
			snprintf(p->args, sizeof(p->args), "page=%u mm=%u entry=%u (restore)",
				 first, mm, restore);
			p->model_status = fm_folio_migrate_restore_pte(pred, first, mm, restore,
								       NULL);
			rmap_event(p, FM_TRACE_OP_MIGRATE_RESTORE_PTE, first, 0, mm, 0, restore);
			return 0;
		}
	}

	excl = flags & FM_RMAP_EXCLUSIVE ? FM_TRACE_ARG_EXCLUSIVE : 0;
	switch (op) {
	case OP_ADD_NEW_ANON:
		rmap_event(p, FM_TRACE_OP_ADD_NEW_ANON, 0, 0, mm, excl, 0);
		p->model_status = fm_folio_add_new_anon(pred, mm, flags, NULL);
		fault_refs_check(folio, &c->before.folio, mm);
		break;
	case OP_ADD_ANON_PTES:
		rmap_event(p, FM_TRACE_OP_ADD_ANON_PTES, first, nr, mm, excl, 0);
		p->model_status = fm_folio_add_anon_ptes(pred, first, nr, mm, flags, NULL);
		break;
	case OP_ADD_ANON_PMD:
		rmap_event(p, FM_TRACE_OP_ADD_ANON_PMD, 0, 0, mm, excl, 0);
		p->model_status = fm_folio_add_anon_pmd(pred, mm, flags, NULL);
		break;
	case OP_ADD_FILE_PTES:
		rmap_event(p, FM_TRACE_OP_ADD_FILE_PTES, first, nr, mm, 0, 0);
		p->model_status = fm_folio_add_file_ptes(pred, first, nr, mm, NULL);
		break;
	case OP_ADD_FILE_PMD:
		rmap_event(p, FM_TRACE_OP_ADD_FILE_PMD, 0, 0, mm, 0, 0);
		p->model_status = fm_folio_add_file_pmd(pred, mm, NULL);
		break;
	case OP_REMOVE_PTES:
		rmap_event(p, FM_TRACE_OP_REMOVE_PTES, first, nr, mm, 0, 0);
		p->first = first;
		p->nr = nr;
		p->model_status = fm_folio_remove_ptes(pred, first, nr, mm, NULL);
		log = fmw_own_log(folio, try_to_migrate_op);
		for (k = first; log && k < first + nr; k++) {
			/*
			 * Where the rmap walk found the page: an anon folio's index counts in
			 * the VMA's anonymous page offset, which for a MAP_PRIVATE file VMA
			 * is not its file offset (vm_pgoff).
			 */
			unsigned long addr = vma->vm_start +
				((folio->index + k - vma_start_anon_pgoff(vma)) << PAGE_SHIFT);

			replay_step(log, NESTED_MIGRATE_UNMAP_PTE, k, mm,
				       pte_migration_entry(vma, addr));
		}
		break;
	case OP_REMOVE_PMD:
		rmap_event(p, FM_TRACE_OP_REMOVE_PMD, 0, 0, mm, 0, 0);
		p->model_status = fm_folio_remove_pmd(pred, mm, NULL);
		break;
	case OP_DEFERRED_SPLIT: {	/* (folio, partially_mapped) */
		/* A migration destination is requeued as the model's migrate_move says. */
		int pm = foliomap_migrate_requeue_take(folio);

		if (pm < 0)
			pm = regs->si & 1;
		snprintf(p->args, sizeof(p->args), "partially_mapped=%d (model %d)",
			 (int)(regs->si & 1), pm);
		rmap_event(p, FM_TRACE_OP_DEFERRED_SPLIT, 0, 0, 0,
			   pm ? FM_TRACE_ARG_PARTIALLY_MAPPED : 0, 0);
		p->model_status = fm_folio_deferred_split(pred, pm, NULL);
		break;
	}
	default:
		break;
	}
	if (op == OP_ADD_NEW_ANON || op == OP_ADD_ANON_PTES || op == OP_ADD_ANON_PMD)
		snprintf(p->args + strlen(p->args), sizeof(p->args) - strlen(p->args),
			 " flags=%u", flags);
	return 0;
}

/*
 * split_huge_pmd_locked(vma, address, pmd, freeze) (spec §6.1), called with the PMD lock
 * held (by __split_huge_pmd, and by try_to_migrate_one / try_to_unmap_one directly).
 */
static int split_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct vm_area_struct *vma = (struct vm_area_struct *)regs->di;
	pmd_t pmdval = pmdp_get_lockless((pmd_t *)regs->dx);
	bool freeze = regs->cx & 1;
	struct folio *folio = vma_is_anonymous(vma) ? foliomap_anon_pmd_folio(pmdval) : NULL;
	struct fm_check *c = rmap_begin(p, OP_SPLIT_PMD, folio);
	u32 mm = foliomap_vma_mm_id(vma);
	struct fmw_log *log;

	if (!c)
		return 0;
	snprintf(p->args, sizeof(p->args), "mm=%u freeze=%d writable=%d", mm, freeze,
		 !!pmd_write(pmdval));
	rmap_event(p, FM_TRACE_OP_SPLIT_PMD, 0, 0, mm,
		   (freeze ? FM_TRACE_ARG_FREEZE : 0) |
		   (pmd_write(pmdval) ? FM_TRACE_ARG_WRITABLE : 0), 0);
	p->model_status = fm_folio_split_pmd(&c->predicted.folio, mm, freeze,
					     pmd_write(pmdval), NULL);
	log = fmw_own_log(folio, try_to_migrate_op);
	if (log)
		replay_step(log, NESTED_SPLIT_PMD, 0, mm, freeze | (!!pmd_write(pmdval) << 1));
	return 0;
}

/* set_pmd_migration_entry(pvmw, page) (spec §6.5) */
static int migrate_unmap_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct page_vma_mapped_walk *pvmw = (struct page_vma_mapped_walk *)regs->di;
	pmd_t pmdval = pmdp_get_lockless(pvmw->pmd);
	struct folio *folio = foliomap_anon_pmd_folio(pmdval);
	struct fm_check *c = rmap_begin(p, OP_MIGRATE_UNMAP_PMD, folio);
	fm_migrate_unmap_outcome out = { 0 };
	u32 mm = foliomap_vma_mm_id(pvmw->vma);
	struct fmw_log *log;

	if (!c)
		return 0;
	snprintf(p->args, sizeof(p->args), "mm=%u writable=%d", mm, !!pmd_write(pmdval));
	rmap_event(p, FM_TRACE_OP_MIGRATE_UNMAP_PMD, 0, 0, mm,
		   pmd_write(pmdval) ? FM_TRACE_ARG_WRITABLE : 0, 0);
	p->model_status = fm_folio_migrate_unmap_pmd(&c->predicted.folio, mm,
						     pmd_write(pmdval), &out);
	p->model_ret = out.ret;
	p->model_entry = out.entry;
	p->pmdp = pvmw->pmd;
	log = fmw_own_log(folio, try_to_migrate_op);
	if (log)
		replay_step(log, NESTED_MIGRATE_UNMAP_PMD, 0, mm, !!pmd_write(pmdval));
	return 0;
}

/* remove_migration_pmd(pvmw, folio) (spec §6.5) */
static int migrate_restore_pmd_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct rmap_probe *p = (struct rmap_probe *)ri->data;
	struct page_vma_mapped_walk *pvmw = (struct page_vma_mapped_walk *)regs->di;
	struct folio *folio = (struct folio *)regs->si;
	softleaf_t entry = softleaf_from_pmd(pmdp_get_lockless(pvmw->pmd));
	u32 mm = foliomap_vma_mm_id(pvmw->vma), type;
	struct fmw_log *log;
	struct fm_check *c;

	if (!folio_test_anon(folio) || !softleaf_is_migration(entry))
		folio = NULL;
	c = rmap_begin(p, OP_MIGRATE_RESTORE_PMD, folio);
	if (!c)
		return 0;
	type = migration_entry_type(entry);
	snprintf(p->args, sizeof(p->args), "mm=%u entry=%u", mm, type);
	rmap_event(p, FM_TRACE_OP_MIGRATE_RESTORE_PMD, 0, 0, mm, 0, type);
	p->model_status = fm_folio_migrate_restore_pmd(&c->predicted.folio, mm, type, NULL);
	log = fmw_own_log(folio, remove_migration_ptes_op);
	if (log)
		replay_step(log, NESTED_RESTORE_PMD, 0, mm, type);
	else
		foliomap_count(FOLIOMAP_STAT_RESTORES_UNWRAPPED);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* The reference a zap queues: __tlb_remove_folio_pages(tlb, page, nr, delay_rmap) and  */
/* __tlb_remove_page_size(tlb, page, page_size) right after the removal (spec §6.2).    */

static void zap_refs_check(struct page *page, u32 nr, bool pmd)
{
	struct zap_expect *z = this_cpu_ptr(&zap_expect);
	struct folio *folio = page_folio(page);
	struct foliomap_check_report r = { .op = "zap" };
	char note[96];

	if (z->folio != folio || (pmd ? z->nr != 0 : (z->nr != nr ||
	    z->first != page_index_in(folio, page)))) {
		z->folio = NULL;	/* not the removal just checked (delayed rmap, file) */
		return;
	}
	z->folio = NULL;
	foliomap_count(FOLIOMAP_STAT_OP_ZAP_REFS);
	foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
	/* The TLB flush drops one reference per queued page (one for a PMD). */
	if (z->model_drop == (pmd ? 1 : (int)nr))
		return;
	snprintf(r.args, sizeof(r.args), "page=%u nr=%u pmd=%d", z->first, nr, pmd);
	snprintf(note, sizeof(note), "kernel queues %u reference(s) for the TLB flush; model drops %d",
		 pmd ? 1 : nr, z->model_drop);
	r.note = note;
	foliomap_count(FOLIOMAP_STAT_TRANSITION_MISMATCHES);
	foliomap_record(&r, RECORD_MISMATCH);
}

static int tlb_remove_folio_pages_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (!(regs->cx & 1))	/* delay_rmap: the removal comes after the flush */
		zap_refs_check((struct page *)regs->si, (u32)regs->dx, false);
	return 1;		/* nothing to do at return */
}

static int tlb_remove_page_size_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if ((int)regs->dx == HPAGE_PMD_SIZE)
		zap_refs_check((struct page *)regs->si, 0, true);
	return 1;
}

/* ------------------------------------------------------------------------------------ */
/* try_to_migrate(folio, flags) and remove_migration_ptes(src, dst, flags): the nested    */
/* per-mapping operations of this task are replayed through the model (spec §6.5).      */

struct replay_probe {
	struct fm_replay *r;	/* NULL: not checked */
	struct folio *tail_dst;	/* a migration's destination: its put follows (below) */
	struct folio *tail_src;	/* ... which comes before the source is unlocked */
	int idx;
	int window;
	struct folio *folio;
	const char *op;
	enum foliomap_stat stat;
};

/*
 * The end of a successful migration (mm/migrate.c migrate_folio_move(), inlined into
 * migrate_pages_batch()): once remove_migration_ptes(src, dst) has mapped the
 * destination, its allocation reference goes (a plain folio_put(dst)), then
 * migrate_folio_done(src) drops the isolation's reference on the source (also where a
 * folio was freed under the migration). No hook sees those puts: the first is a mover
 * of its own from that restore's return to migrate_folio_done's entry in the same task,
 * the second one around migrate_folio_done (foliomap_hooks.c). Seen before: two forks
 * of a PMD-mapped THP just migrated, the kernel one reference below the model (pmc,
 * 2 vCPUs, forkmig_test).
 */
static struct fmw_mover *tails;
static unsigned long *tail_busy;
static unsigned int nr_tails;

/* Ends the current task's pending destination put, if any. */
void foliomap_migrate_tail_end(void)
{
	unsigned int i;

	for_each_set_bit(i, tail_busy, nr_tails) {
		if (READ_ONCE(tails[i].task) != current)
			continue;
		fmw_mover_end(&tails[i]);
		WRITE_ONCE(tails[i].task, NULL);
		clear_bit_unlock(i, tail_busy);
	}
}

static void tail_begin(struct folio *dst, struct folio *src)
{
	struct fmw_mover *m;
	unsigned int i;

	foliomap_migrate_tail_end();	/* one per task: a stale one goes first */
	for (i = find_first_zero_bit(tail_busy, nr_tails); i < nr_tails;
	     i = find_next_zero_bit(tail_busy, nr_tails, i + 1))
		if (!test_and_set_bit_lock(i, tail_busy))
			break;
	if (i >= nr_tails) {
		foliomap_count(FOLIOMAP_STAT_MISSED_EVENTS);
		return;
	}
	m = &tails[i];
	/*
	 * Tasks that waited on the source's migration entries wake when it is unlocked,
	 * after the put: their windows on the destination then know it is done.
	 */
	*m = (struct fmw_mover){ .name = "migrate_folio_move", .nr = 1, .settled_by = src };
	m->folio[0] = dst;
	m->delta[0] = -1;
	fmw_mover_begin(m);	/* sets m->task: current */
}

int foliomap_rmap_init(unsigned int instances)
{
	nr_tails = instances;
	tails = vzalloc(sizeof(*tails) * instances);
	tail_busy = bitmap_zalloc(instances, GFP_KERNEL);
	if (!tails || !tail_busy) {
		foliomap_rmap_exit();
		return -ENOMEM;
	}
	return 0;
}

void foliomap_rmap_exit(void)
{
	vfree(tails);
	bitmap_free(tail_busy);
	tails = NULL;
	tail_busy = NULL;
}

static void replay_begin(struct replay_probe *p, struct folio *folio, const char *op,
			 enum foliomap_stat stat)
{
	struct fm_replay *r;

	p->r = NULL;
	if (!folio_test_anon(folio) || folio_test_hugetlb(folio) ||
	    folio_order(folio) > HPAGE_PMD_ORDER)
		return;
	r = fm_replay_get(&p->idx);
	if (!r)
		return;
	/* The replay state is the snapshot's copy (below): only the bookkeeping is reset. */
	r->log.nr = 0;
	memset(r->log.counts, 0, sizeof(r->log.counts));
	p->window = fmw_open(folio, op, 0, &r->log);
	if (p->window < 0 || foliomap_snapshot(folio, &r->before)) {
		fmw_abandon(p->window);
		fm_replay_put(p->idx);
		return;
	}
	foliomap_snap_copy(&r->log.state, &r->before);
	r->log.status = FM_OK;
	fmw_opened(p->window);
	p->folio = folio;
	p->op = op;
	p->stat = stat;
	p->r = r;
}

/* "N nested: U a P b S c R d M e; first U k=.. mm=.., last ..." for a record. */
static void replay_describe(const struct fmw_log *log, char *buf, size_t len)
{
	static const char names[] = "UPSRM";
	const unsigned int *n = log->counts;
	const struct fmw_nested *f = &log->first, *l = &log->last;

	if (!log->nr) {
		snprintf(buf, len, "no nested operations");
		return;
	}
	snprintf(buf, len, "%u nested: U%u P%u S%u R%u M%u; first %c k=%u mm=%u a=%u, last %c k=%u mm=%u a=%u",
		 log->nr, n[0], n[1], n[2], n[3], n[4], names[f->op], f->page, f->mm, f->arg,
		 names[l->op], l->page, l->mm, l->arg);
}

static int replay_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct replay_probe *p = (struct replay_probe *)ri->data;
	struct fm_scratch *s = fm_scratch();
	struct fm_replay *r = p->r;
	struct fmw_verdict v;
	char args[128];
	bool read;

	if (!r)
		goto tail;
	read = fmw_close_read(p->window, p->folio, &r->before.folio, &s->actual, &v);
	if (!read) {
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
		foliomap_count(FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED);
		fmw_verdict_release(&v);
	} else {
		foliomap_snap_copy(&s->predicted, &r->log.state);
		replay_describe(&r->log, args, sizeof(args));
		/* Not recorded: its nested operations are, and the rest arrives as drift. */
		fm_finish_check(p->op, p->stat, args, &r->before.folio, &s->predicted, &s->actual,
				r->log.status, OP_FIELDS, &v, NULL);
	}
	fm_replay_put(p->idx);
	p->r = NULL;
tail:
	if (p->tail_dst)
		tail_begin(p->tail_dst, p->tail_src);
	return 0;
}

static int try_to_migrate_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	((struct replay_probe *)ri->data)->tail_dst = NULL;
	replay_begin((struct replay_probe *)ri->data, (struct folio *)regs->di,
		     try_to_migrate_op, FOLIOMAP_STAT_OP_TRY_TO_MIGRATE);
	return 0;
}

static int remove_migration_ptes_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct folio *src = (struct folio *)regs->di, *dst = (struct folio *)regs->si;

	/* (src, dst) apart only where a migration succeeded; hugetlb is not modelled. */
	((struct replay_probe *)ri->data)->tail_dst =
		src != dst && !folio_test_hugetlb(dst) && !folio_is_zone_device(src) &&
		!folio_is_zone_device(dst) ? dst : NULL;
	((struct replay_probe *)ri->data)->tail_src = src;
	replay_begin((struct replay_probe *)ri->data, (struct folio *)regs->si,
		     remove_migration_ptes_op, FOLIOMAP_STAT_OP_REMOVE_MIGRATION_PTES);
	return 0;
}

const struct foliomap_hook_desc foliomap_rmap_hooks[] = {
	HOOK_DESC_ARG("folio_add_new_anon_rmap", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_ADD_NEW_ANON),
	HOOK_DESC_ARG("folio_add_anon_rmap_ptes", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_ADD_ANON_PTES),
	HOOK_DESC_ARG("folio_add_anon_rmap_pmd", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_ADD_ANON_PMD),
	HOOK_DESC_ARG("folio_add_file_rmap_ptes", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_ADD_FILE_PTES),
	HOOK_DESC_ARG("folio_add_file_rmap_pmd", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_ADD_FILE_PMD),
	HOOK_DESC_ARG("folio_remove_rmap_ptes", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_REMOVE_PTES),
	HOOK_DESC_ARG("folio_remove_rmap_pmd", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_REMOVE_PMD),
	HOOK_DESC_ARG("deferred_split_folio", folio_rmap_entry, rmap_end, struct rmap_probe,
		      HOOK_ATOMIC, HOOK_USES_CHECK, OP_DEFERRED_SPLIT),
	HOOK_DESC("split_huge_pmd_locked", split_pmd_entry, rmap_end, struct rmap_probe,
		  HOOK_ATOMIC, HOOK_USES_CHECK),
	HOOK_DESC("set_pmd_migration_entry", migrate_unmap_pmd_entry, rmap_end,
		  struct rmap_probe, HOOK_ATOMIC, HOOK_USES_CHECK),
	HOOK_DESC("remove_migration_pmd", migrate_restore_pmd_entry, rmap_end,
		  struct rmap_probe, HOOK_ATOMIC, HOOK_USES_CHECK),
	HOOK_DESC("__tlb_remove_folio_pages", tlb_remove_folio_pages_entry, NULL, int,
		  HOOK_ATOMIC, 0),
	HOOK_DESC("__tlb_remove_page_size", tlb_remove_page_size_entry, NULL, int,
		  HOOK_ATOMIC, 0),
	HOOK_DESC("try_to_migrate", try_to_migrate_entry, replay_ret, struct replay_probe,
		  HOOK_SLEEPS, HOOK_USES_REPLAY),
	HOOK_DESC("remove_migration_ptes", remove_migration_ptes_entry, replay_ret,
		  struct replay_probe, HOOK_SLEEPS, HOOK_USES_REPLAY | HOOK_USES_TAIL),
};
const unsigned int foliomap_nr_rmap_hooks = ARRAY_SIZE(foliomap_rmap_hooks);
