// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The Copy-on-Write family: do_wp_page and do_huge_pmd_wp_page (spec §7).
 *
 * The decision (reuse / copy / PMD fallback) is read back from the page table after the
 * fault; the model decides over the same folio with the facts the accounting cannot know
 * observed instead of guessed: whether the folio was locked when the fault looked at it
 * (folio_trylock, spec §7.3), whether this task's LRU drain dropped the folio's batch
 * reference (its folios_put_refs on the folio inside the window), and whether its
 * folio_free_swap() of the folio succeeded (both reported by the reference movers,
 * foliomap_hooks.c). One model run; the decision and then the folio's state after the
 * fault (PAE on reuse, the old folio's mapping and reference on copy, the split on
 * fallback) must both agree.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pgtable.h>

#include "foliomap_probes.h"
#include "foliomap_trace.h"
#include "foliomap_window.h"

struct cow_probe {
	struct fm_check *c;	/* NULL: not checked */
	int idx;
	int window;
	bool pmd;
	bool unshare;
	bool locked;		/* the folio lock was held when the fault began */
	bool rebased;		/* c->predicted holds the state its act starts from */
	struct vm_fault *vmf;
	struct folio *folio;
	unsigned long pfn;
	u32 page;
	u32 mm;
};

static const char *const decision_names[] = { "none", "REUSE", "COPY", "FALLBACK" };

/*
 * What the fault did so far, read from the page table (it stays under the fault's mmap
 * or VMA lock): the PTE maps a new page (COPY), or the same page writable, or exclusive
 * for an unshare fault (REUSE); else nothing yet.
 */
static u32 pte_decision(const struct cow_probe *p)
{
	pmd_t pmdval = pmdp_get_lockless(p->vmf->pmd);
	pte_t pte;

	if (!pmd_present(pmdval) || pmd_leaf(pmdval))
		return FM_COW_DECISION_NONE;
	pte = ptep_get(pte_offset_kernel(p->vmf->pmd, p->vmf->address));
	if (!pte_present(pte))
		return FM_COW_DECISION_NONE;
	if (pte_pfn(pte) != p->pfn)
		return FM_COW_DECISION_COPY;
	if (pte_write(pte) || (p->unshare && PageAnonExclusive(pfn_to_page(p->pfn))))
		return FM_COW_DECISION_REUSE;
	return FM_COW_DECISION_NONE;
}

/* The PMD still maps the folio huge: FM_COW_DECISION_REUSE once writable (or exclusive). */
static u32 pmd_decision(const struct cow_probe *p)
{
	pmd_t pmdval = pmdp_get_lockless(p->vmf->pmd);

	if (!pmd_present(pmdval) || !pmd_trans_huge(pmdval) ||
	    page_folio(pmd_page(pmdval)) != p->folio)
		return FM_COW_DECISION_FALLBACK;
	if (pmd_write(pmdval) || (p->unshare && PageAnonExclusive(&p->folio->page)))
		return FM_COW_DECISION_REUSE;
	return FM_COW_DECISION_NONE;
}

/*
 * One CPU, as the task leaves it: has the fault acted on the folio yet? do_wp_page
 * decides under the PTE lock at entry but copies only after allocating the new page,
 * which may sleep (spec §7.5); do_huge_pmd_wp_page may sleep on the folio lock before it
 * decides (spec §7.6). What other tasks change meanwhile comes before the act.
 */
static enum fmw_progress cow_progress(const void *ctx)
{
	const struct cow_probe *p = ctx;

	/* The PTE switch and the old folio's rmap removal happen under one PTE lock. */
	return (p->pmd ? pmd_decision(p) : pte_decision(p)) != FM_COW_DECISION_NONE ?
	       FMW_DONE : FMW_NOT_YET;
}

/*
 * One CPU, the first time others changed the folio while the fault slept before acting:
 * the state its act will start from, a copy of the entry state (->predicted is free in
 * a CoW check), kept apart because a PTE fault decided on the entry state itself.
 */
static fm_folio *cow_rebase(void *ctx)
{
	struct cow_probe *p = ctx;

	if (!p->rebased) {
		foliomap_snap_copy(&p->c->predicted, &p->c->before);
		p->rebased = true;
	}
	return &p->c->predicted.folio;
}

static void cow_begin(struct cow_probe *p, const char *op, struct folio *folio, u32 page,
		      u32 mm)
{
	struct fm_check *c = fm_check_get(&p->idx);

	p->c = NULL;
	if (!c)
		return;
	p->window = fmw_open(folio, op, WINDOW_FACTS | WINDOW_RECORDED, NULL);
	if (p->window < 0 || foliomap_snapshot(folio, &c->before)) {
		fmw_abandon(p->window);
		fm_check_put(p->idx);
		return;
	}
	/* Under the PTE (or PMD) lock: what the fault's folio_trylock will find. */
	p->locked = folio_test_locked(folio);
	p->folio = folio;
	p->page = page;
	p->mm = mm;
	p->rebased = false;
	p->c = c;
	fmw_set_rebase(p->window, cow_rebase, cow_progress, p);
	fmw_opened(p->window);
}

static int wp_model(const struct cow_probe *p, fm_folio *f, const fm_cow_facts *facts,
		    fm_cow_outcome *out)
{
	return p->pmd ? fm_folio_wp_fault_pmd(f, p->mm, facts, out)
		      : fm_folio_wp_fault_pte(f, p->page, p->mm, facts, out);
}

static void cow_finish(struct cow_probe *p, u32 observed)
{
	const char *op = p->pmd ? "do_huge_pmd_wp_page" : "do_wp_page";
	struct fm_scratch *s = fm_scratch();
	struct fm_check *c = p->c;
	struct foliomap_check_report r = {
		.op = op, .before = &c->before.folio, .predicted = &s->predicted.folio,
		.actual = &s->actual.folio,
	};
	bool locked_now, read;
	struct fmw_verdict v;
	fm_cow_outcome out = { 0 };
	fm_cow_facts facts;
	fm_trace_event ev;
	/* A fault that slept acted on a state others changed after its entry snapshot. */
	struct foliomap_trace_op rec = { .folio = p->folio, .nr = 1, .ev = &ev,
					 .unordered = p->rebased };
	char note[96];

	fmw_close_begin(p->window);
	read = !foliomap_snapshot_after(p->folio, &s->actual);
	locked_now = folio_test_locked(p->folio);
	fmw_close_end(p->window, &v, &c->before.folio, read ? &s->actual.folio : NULL);
	p->c = NULL;
	if (!observed) {
		/* Backed out (the PTE changed, OOM): nothing was decided. */
		foliomap_count(FOLIOMAP_STAT_COW_BACKED_OUT);
		goto out;
	}
	if (locked_now != p->locked) {
		v.foreign |= FOREIGN_LOCK;
		if (!v.culprit[0])
			strscpy(v.culprit, "the folio lock changed hands", sizeof(v.culprit));
	}
	facts = (fm_cow_facts){
		.unshare = p->unshare,
		.trylock_fails = p->locked,
		.lru_drain_drops_ref = !!(v.own & OWN_LRU_DRAIN),
		.swap_free_succeeds = !!(v.own & OWN_SWAP_FREED),
	};
	snprintf(r.args, sizeof(r.args),
		 "page=%u mm=%u unshare=%d locked=%d drained=%d swapfreed=%d%s",
		 p->page, p->mm, p->unshare, facts.trylock_fails, facts.lru_drain_drops_ref,
		 facts.swap_free_succeeds, p->rebased ? " slept=1" : "");
	ev = (fm_trace_event){
		.op = p->pmd ? FM_TRACE_OP_WP_FAULT_PMD : FM_TRACE_OP_WP_FAULT_PTE,
		.first = p->pmd ? 0 : p->page, .mm = p->mm, .facts = facts,
		.decision = observed,
	};
	/* A PMD fault that slept decides after it; a PTE fault before, and acts after it. */
	foliomap_snap_copy(&s->predicted, p->rebased && p->pmd ? &c->predicted : &c->before);
	r.model_status = wp_model(p, &s->predicted.folio, &facts, &out);
	if (p->rebased && !p->pmd && r.model_status == FM_OK) {
		u32 decided = out.decision;

		foliomap_snap_copy(&s->predicted, &c->predicted);
		r.model_status = wp_model(p, &s->predicted.folio, &facts, &out);
		if (r.model_status == FM_OK && out.decision != decided) {
			/* The act of a decision the later state would not have taken. */
			foliomap_count(FOLIOMAP_STAT_UNCHECKED);
			foliomap_count(FOLIOMAP_STAT_UNCHECKED_COW_SWAYED);
			goto out;
		}
	}
	/* An observed fact the decision did not consume is an ordinary reference move. */
	if (facts.lru_drain_drops_ref && !out.lru_drained)
		v.ref_delta += v.own_refs[0];
	if (facts.swap_free_succeeds && !out.swapcache_freed)
		v.ref_delta += v.own_refs[1];
	if (r.model_status == FM_OK && out.decision == observed) {
		foliomap_count(FOLIOMAP_STAT_COW_CHECKED);
		if (!c->before.folio.order)
			foliomap_count(FOLIOMAP_STAT_COW_SMALL_CHECKED);
		if (facts.trylock_fails || facts.lru_drain_drops_ref || facts.swap_free_succeeds)
			foliomap_count(FOLIOMAP_STAT_COW_FACT_DEPENDENT);
		/* The folio's state after the decision. */
		if (!read) {
			foliomap_count(FOLIOMAP_STAT_UNCHECKED);
			foliomap_count(FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED);
		} else {
			fm_finish_check(op, FOLIOMAP_STAT_OP_COW, r.args, &c->before.folio,
					&s->predicted, &s->actual, FM_OK, OP_FIELDS, &v, &rec);
		}
		goto out;
	}
	snprintf(note, sizeof(note), "kernel %s; model %s (reason %u, status %d)",
		 decision_names[observed & 3], decision_names[out.decision & 3], out.reason,
		 r.model_status);
	r.note = note;
	r.fields = OP_FIELDS;
	if (read)
		fm_folio_compare(&s->predicted.folio, &s->actual.folio, 0, FOLIOMAP_MAX_PAGES,
				 OP_FIELDS, &r.diff);
	else
		r.actual = &c->before.folio;
	/*
	 * The decision is taken under the page-table lock right after entry: on one CPU
	 * nothing else runs before it, elsewhere any foreign event or reference move in the
	 * window may have swayed it.
	 */
	if (num_online_cpus() > 1 && (v.foreign || v.ref_delta || v.pushes)) {
		r.culprit = v.culprit[0] ? v.culprit : "a reference mover inside the window";
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_RACED);
		foliomap_record(&r, RECORD_RACED);
		goto out;
	}
	foliomap_count(FOLIOMAP_STAT_COW_CHECKED);
	foliomap_count(FOLIOMAP_STAT_COW_MISMATCHES);
	foliomap_record(&r, RECORD_MISMATCH);
	/* The kernel's decision on the record too: a replay of the trace disagrees as well. */
	if (read)
		foliomap_trace_record(&rec, &c->before.folio, &s->actual.folio,
				      s->predicted.folio.refcount, s->predicted.folio.flags,
				      fmw_ordered(&v));
out:
	fmw_verdict_release(&v);
	fm_check_put(p->idx);
}

static int wp_page_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	struct vm_fault *vmf = (struct vm_fault *)regs->di;
	struct vm_area_struct *vma = vmf->vma;
	pte_t pte = vmf->orig_pte;
	struct folio *folio;
	struct page *page;

	p->c = NULL;
	p->pmd = false;
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE) || !pte_present(pte) ||
	    !pfn_valid(pte_pfn(pte)))
		return 1;
	page = pfn_to_page(pte_pfn(pte));
	folio = page_folio(page);
	/* Anonymous CoW only; the zero page and file pages are not anon. */
	if (!folio_test_anon(folio) || folio_test_hugetlb(folio))
		return 1;
	p->vmf = vmf;
	p->pfn = pte_pfn(pte);
	p->unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	cow_begin(p, "do_wp_page", folio, (u32)folio_page_idx(folio, page),
		  foliomap_vma_mm_id(vma));
	return p->c ? 0 : 1;
}

/*
 * What do_wp_page did, read back from the PTE (the page table stays under the fault's
 * mmap or VMA lock): a new page is a COPY; the same page made writable, or exclusive for
 * an unshare fault, is a REUSE; anything else means the fault backed out.
 */
static int wp_page_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;

	if (!p->c)
		return 0;
	cow_finish(p, regs_return_value(regs) & VM_FAULT_ERROR ? FM_COW_DECISION_NONE
							     : pte_decision(p));
	return 0;
}

static int huge_pmd_wp_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	struct vm_fault *vmf = (struct vm_fault *)regs->di;
	struct folio *folio = foliomap_anon_pmd_folio(vmf->orig_pmd);

	p->c = NULL;
	p->pmd = true;
	if (!folio)
		return 1;
	p->vmf = vmf;
	p->unshare = vmf->flags & FAULT_FLAG_UNSHARE;
	cow_begin(p, "do_huge_pmd_wp_page", folio, 0, foliomap_vma_mm_id(vmf->vma));
	return p->c ? 0 : 1;
}

/*
 * VM_FAULT_FALLBACK: the PMD was split; 0 with a writable (or, unsharing, exclusive)
 * PMD: reused; 0 otherwise: the PMD changed under the fault and nothing was decided.
 */
static int huge_pmd_wp_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct cow_probe *p = (struct cow_probe *)ri->data;
	vm_fault_t ret = regs_return_value(regs);
	u32 observed = FM_COW_DECISION_NONE;

	if (!p->c)
		return 0;
	if (ret == VM_FAULT_FALLBACK)
		observed = FM_COW_DECISION_FALLBACK;
	else if (!ret && pmd_decision(p) == FM_COW_DECISION_REUSE)
		observed = FM_COW_DECISION_REUSE;
	cow_finish(p, observed);
	return 0;
}

const struct foliomap_hook_desc foliomap_cow_hooks[] = {
	HOOK_DESC("do_wp_page", wp_page_entry, wp_page_ret, struct cow_probe, HOOK_SLEEPS,
		  HOOK_USES_CHECK),
	HOOK_DESC("do_huge_pmd_wp_page", huge_pmd_wp_entry, huge_pmd_wp_ret, struct cow_probe,
		  HOOK_SLEEPS, HOOK_USES_CHECK),
};
const unsigned int foliomap_nr_cow_hooks = ARRAY_SIZE(foliomap_cow_hooks);
