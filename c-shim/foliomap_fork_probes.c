// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The fork family: copy_page_range(dst_vma, src_vma) (spec §5).
 *
 * Fork duplication and PAE clearing are inline in the kernel (spec §9.3), so a fork of
 * one VMA is checked as a whole: at entry the parent's page tables are walked (the parent
 * holds mmap_lock for writing, so they stay in place) and every large anon folio they map
 * is snapshotted, with which pages by PTE and whether by PMD, into this instance's arena;
 * at return each is compared with the model's fork of those mappings. Every folio the
 * walk saw (small ones too) goes into a Bloom filter published as a mover, so another
 * task's check on one of them knows that this fork duplicated it meanwhile.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/hash.h>
#include <linux/hugetlb.h>
#include <linux/kprobes.h>
#include <linux/leafops.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/vmalloc.h>

#include "foliomap_probes.h"
#include "foliomap_trace.h"
#include "foliomap_window.h"

/* One large folio of the forking VMA, as it was before the copy. */
struct fork_folio {
	struct folio *folio;
	int window;
	bool pmd;
	/* 1 + offset of the next entry in its bucket, 0: none (in pmd's padding) */
	u32 hash_next : 24;
	unsigned long addr;		/* the first address that maps it */
	unsigned long last_addr;	/* ... and the last */
	struct mm_struct *dst_mm;	/* the child's, for fork_progress() */
	DECLARE_BITMAP(pte_pages, FOLIOMAP_MAX_PAGES);
	fm_folio before;
	fm_page pages[];	/* 1 << order */
};

/*
 * Snapshot storage of one copy_page_range instance. 256 KiB hold e.g. 1,000 64 KiB
 * folios or 60 PMD-sized ones; a folio that does not fit is counted in
 * fork_folios_skipped, which fails a test run.
 */
#define FORK_ARENA_BYTES	(256u << 10)
static_assert(FORK_ARENA_BYTES < (1u << 24), "fork_folio.hash_next holds an offset + 1");

struct fork_arena {
	unsigned int used;	/* bytes of data[] in use */
	unsigned int last;	/* offset of the entry added last */
	unsigned int nr;
	unsigned int index;	/* its place in arenas[]: its buckets in arena_heads[] */
	DECLARE_BITMAP(bloom, FORK_BLOOM_BITS);
	u8 data[] __aligned(8);
};

/*
 * The entries of an arena by folio: FORK_HASH_SIZE buckets per arena (1 + the offset
 * of the first entry, 0: empty), chained through fork_folio.hash_next, kept beside the
 * arenas so that an arena holds as many snapshots as before. The walk looks a folio up
 * for every PTE that maps it; a scan of the whole arena for each new folio made a fork
 * of N folios cost N^2/2 entry reads (seen: 80 % of a fork of 4,096 16 KiB folios).
 */
#define FORK_HASH_BITS	9
#define FORK_HASH_SIZE	(1u << FORK_HASH_BITS)

static struct fork_arena *arenas;
static u32 *arena_heads;
static unsigned long *arena_busy;
static unsigned int nr_arenas;

static size_t arena_stride(void)
{
	return FORK_ARENA_BYTES;
}

static struct fork_arena *arena_at(unsigned int i)
{
	return (struct fork_arena *)((u8 *)arenas + i * arena_stride());
}

static size_t entry_size(unsigned int order)
{
	return ALIGN(sizeof(struct fork_folio) + (sizeof(fm_page) << order), 8);
}

static struct fork_folio *entry_at(struct fork_arena *a, unsigned int off)
{
	return (struct fork_folio *)(a->data + off);
}

#define for_each_fork_folio(a, e, off)						\
	for (off = 0; off < (a)->used &&					\
	     ((e) = entry_at(a, off), true); off += entry_size((e)->before.order))

struct fork_probe {
	struct fork_arena *a;	/* NULL: not checked */
	int idx;
	u32 dst_mm, src_mm;
	bool src_pinned;
	struct fmw_mover mover;
};

static u32 *arena_bucket(struct fork_arena *a, struct folio *folio)
{
	return &arena_heads[(a->index << FORK_HASH_BITS) + hash_ptr(folio, FORK_HASH_BITS)];
}

/* @folio's entry: the one added last (the PTEs of a folio come in a row), or in @bucket. */
static struct fork_folio *fork_find(struct fork_arena *a, struct folio *folio, u32 *bucket)
{
	struct fork_folio *e;
	u32 off;

	if (a->nr && entry_at(a, a->last)->folio == folio)
		return entry_at(a, a->last);
	for (off = *bucket; off; off = e->hash_next) {
		e = entry_at(a, off - 1);
		if (e->folio == folio)
			return e;
	}
	return NULL;
}

/* Whether the child has an entry at @addr yet (copy_page_range fills it in). */
static bool dst_copied(struct mm_struct *dst_mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(dst_mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, pmdval;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return false;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return false;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || !pud_present(*pud))
		return false;
	pmd = pmd_offset(pud, addr);
	pmdval = pmdp_get_lockless(pmd);
	if (pmd_none(pmdval))
		return false;
	if (pmd_leaf(pmdval) || !pmd_present(pmdval))
		return true;
	return !pte_none(ptep_get(pte_offset_kernel(pmd, addr)));
}

/*
 * How far the fork got with the folio as its task leaves the CPU (one CPU, from the
 * sched_switch tracepoint), read from the child's page table: the copy goes up the
 * addresses of the VMA, one PTE batch (a run of the folio's pages) at a time, and may
 * reschedule between batches: nothing copied while its first address has no entry in
 * the child, all of it once its last has one, else part of it.
 */
static enum fmw_progress fork_progress(const void *ctx)
{
	const struct fork_folio *e = ctx;

	if (!dst_copied(e->dst_mm, e->addr))
		return FMW_NOT_YET;
	if (e->last_addr == e->addr || dst_copied(e->dst_mm, e->last_addr))
		return FMW_DONE;
	return FMW_UNKNOWN;	/* part copied: what is left of it does not commute */
}

/* The state a fork that has not copied the folio yet starts from: its snapshot. */
static fm_folio *fork_rebase(void *ctx)
{
	return &((struct fork_folio *)ctx)->before;
}

/* The arena entry of @folio, added (window opened, snapshot taken) the first time. */
static struct fork_folio *fork_entry(struct fork_arena *a, struct folio *folio,
				     unsigned long addr, struct mm_struct *dst_mm)
{
	unsigned int order = folio_order(folio);
	size_t size = entry_size(order);
	u32 *bucket = arena_bucket(a, folio);
	struct fork_folio *e = fork_find(a, folio, bucket);

	if (e) {
		e->last_addr = max(e->last_addr, addr);
		return e;
	}
	if (a->used + size > FORK_ARENA_BYTES - sizeof(*a)) {
		foliomap_count(FOLIOMAP_STAT_FORK_FOLIOS_SKIPPED);
		return NULL;
	}
	e = entry_at(a, a->used);
	/* Open the folio's window before reading it, so no change slips in between. */
	e->window = fmw_open(folio, "copy_page_range", WINDOW_RECORDED, NULL);
	if (e->window < 0 ||
	    foliomap_snapshot_into(folio, &e->before, e->pages, 1u << order)) {
		fmw_abandon(e->window);
		return NULL;
	}
	e->folio = folio;
	e->pmd = false;
	e->addr = addr;
	e->last_addr = addr;
	e->dst_mm = dst_mm;
	fmw_set_rebase(e->window, fork_rebase, fork_progress, e);
	fmw_opened(e->window);
	bitmap_zero(e->pte_pages, FOLIOMAP_MAX_PAGES);
	e->hash_next = *bucket;
	*bucket = a->used + 1;
	a->last = a->used;
	a->used += size;
	a->nr++;
	return e;
}

/* Large anon folios are checked; small ones only enter the Bloom filter. */
static struct folio *fork_candidate(struct fork_arena *a, struct page *page)
{
	struct folio *folio = page_folio(page);

	fmw_bloom_add(a->bloom, folio);
	if (!folio_test_large(folio) || !folio_test_anon(folio) || folio_test_hugetlb(folio) ||
	    folio_order(folio) > HPAGE_PMD_ORDER)
		return NULL;
	return folio;
}

/*
 * A migration entry the walk meets may be restored before the copy takes the page table
 * lock: read once more under that lock. A restore done by then shows its folio here; one
 * still to come takes the lock after us, and finds this fork published
 * (fmw_fork_touch()).
 */
static pte_t pte_settled(struct mm_struct *mm, pmd_t *pmd, pte_t *ptep, pte_t pte)
{
	spinlock_t *ptl;

	if (pte_present(pte) || !softleaf_is_migration(softleaf_from_pte(pte)))
		return pte;
	ptl = pte_lockptr(mm, pmd);
	spin_lock(ptl);
	pte = ptep_get(ptep);
	spin_unlock(ptl);
	return pte;
}

static pmd_t pmd_settled(struct mm_struct *mm, pmd_t *pmd, pmd_t pmdval)
{
	spinlock_t *ptl;

	if (pmd_present(pmdval) || !softleaf_is_migration(softleaf_from_pmd(pmdval)))
		return pmdval;
	ptl = pmd_lock(mm, pmd);
	pmdval = pmdp_get(pmd);
	spin_unlock(ptl);
	return pmdval;
}

/* The folios @vma maps, with which pages by PTE and whether by PMD. */
static void fork_walk(struct fork_arena *a, struct vm_area_struct *vma,
		      struct mm_struct *dst_mm)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr, next;

	for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
		pgd_t *pgd = pgd_offset(mm, addr);
		struct fork_folio *e;
		struct folio *folio;
		p4d_t *p4d;
		pud_t *pud;
		pmd_t *pmd, pmdval;
		pte_t *ptep;
		unsigned long va;

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
		pmdval = pmd_settled(mm, pmd, pmdp_get_lockless(pmd));
		if (pmd_none(pmdval) || !pmd_present(pmdval))
			continue;
		if (pmd_trans_huge(pmdval)) {
			folio = fork_candidate(a, pmd_page(pmdval));
			e = folio ? fork_entry(a, folio, addr, dst_mm) : NULL;
			if (e)
				e->pmd = true;
			continue;
		}
		ptep = pte_offset_kernel(pmd, addr);
		for (va = addr; va < next; va += PAGE_SIZE, ptep++) {
			pte_t pte = pte_settled(mm, pmd, ptep, ptep_get(ptep));
			struct page *page;

			if (!pte_present(pte) || !pfn_valid(pte_pfn(pte)))
				continue;
			page = pfn_to_page(pte_pfn(pte));
			folio = fork_candidate(a, page);
			e = folio ? fork_entry(a, folio, va, dst_mm) : NULL;
			if (e)
				__set_bit(folio_page_idx(folio, page), e->pte_pages);
		}
	}
}

static int copy_page_range_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fork_probe *p = (struct fork_probe *)ri->data;
	struct vm_area_struct *dst = (struct vm_area_struct *)regs->di;
	struct vm_area_struct *src = (struct vm_area_struct *)regs->si;
	int i;

	p->a = NULL;
	/* Called for every VMA of the fork: the first puts a scoped parent's child in. */
	foliomap_scope_fork(src->vm_mm, dst->vm_mm);
	/*
	 * copy_page_range copies only VMAs with an anon_vma or a VM_COPY_ON_FORK flag (the
	 * child's, which may carry uffd-wp alone) (spec §5.1); hugetlb is not modelled.
	 */
	if ((!src->anon_vma && !(dst->vm_flags & VM_COPY_ON_FORK)) || is_vm_hugetlb_page(src))
		return 1;
	i = find_first_zero_bit(arena_busy, nr_arenas);
	for (; i < nr_arenas; i = find_next_zero_bit(arena_busy, nr_arenas, i + 1))
		if (!test_and_set_bit_lock(i, arena_busy))
			break;
	if (i >= nr_arenas) {
		foliomap_count(FOLIOMAP_STAT_MISSED_EVENTS);
		return 1;
	}
	p->idx = i;
	p->a = arena_at(i);
	p->a->used = 0;
	p->a->nr = 0;
	bitmap_zero(p->a->bloom, FORK_BLOOM_BITS);
	memset(&arena_heads[i << FORK_HASH_BITS], 0, FORK_HASH_SIZE * sizeof(u32));
	p->dst_mm = foliomap_vma_mm_id(dst);
	p->src_mm = foliomap_vma_mm_id(src);
	p->src_pinned = mm_flags_test(MMF_HAS_PINNED, src->vm_mm);
	/* Published before the walk (fmw_fork_touch()), started before anything is copied. */
	p->mover = (struct fmw_mover){ .name = "copy_page_range", .bloom = p->a->bloom,
				       .fork_src = src };
	fmw_mover_publish(&p->mover);
	fork_walk(p->a, src, dst->vm_mm);
	fmw_mover_start(&p->mover);
	return 0;
}

/* The event recorder's view of one folio's fork: a ForkPtes per run, then a ForkPmd. */
static void fork_event(struct foliomap_trace_op *rec, u16 op, u32 first, u32 nr, u32 arg,
		       u32 dst_mm, bool pinned)
{
	fm_trace_event *ev;

	if (rec->nr >= FOLIOMAP_TRACE_SCRATCH)
		return;
	ev = &rec->ev[rec->nr++];
	memset(ev, 0, sizeof(*ev));
	ev->op = op;
	ev->first = first;
	ev->nr = nr;
	ev->arg = arg;
	ev->mm = dst_mm;
	ev->flags = pinned ? FM_TRACE_ARG_SRC_HAS_PINNED : 0;
}

/*
 * The model's fork of one folio: each run of PTE-mapped pages, then the PMD. The final
 * state does not depend on how the kernel cut the runs into batches (spec §2.5.4, §5.5).
 * With a recording running, @rec gets the same steps as events.
 */
static int fork_predict(struct fork_probe *p, struct fork_folio *e, struct fm_snap *pred,
			struct foliomap_trace_op *rec)
{
	unsigned int start, end, n = 1u << e->before.order;
	int st;

	/* The header copied by value is adopted with pred's own pages (fm_folio_rebind). */
	pred->folio = e->before;
	memcpy(pred->pages, e->pages, sizeof(fm_page) * n);
	st = fm_folio_rebind(&pred->folio, pred->pages, FOLIOMAP_MAX_PAGES);
	for (start = find_first_bit(e->pte_pages, n); start < n && st == FM_OK;
	     start = find_next_bit(e->pte_pages, n, end)) {
		end = find_next_zero_bit(e->pte_pages, n, start);
		st = fm_folio_fork_ptes(&pred->folio, start, end - start, p->dst_mm,
					p->src_pinned, NULL);
		if (rec)
			fork_event(rec, FM_TRACE_OP_FORK_PTES, start, end - start, 0, p->dst_mm,
				   p->src_pinned);
	}
	if (st == FM_OK && e->pmd) {
		st = fm_folio_fork_pmd(&pred->folio, p->src_mm, p->dst_mm, p->src_pinned, NULL);
		if (rec)
			fork_event(rec, FM_TRACE_OP_FORK_PMD, 0, 0, p->src_mm, p->dst_mm,
				   p->src_pinned);
	}
	return st;
}

static int copy_page_range_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fork_probe *p = (struct fork_probe *)ri->data;
	struct fm_scratch *s = fm_scratch();
	/* A failed fork (-ENOMEM) leaves partial copies: nothing to predict. */
	bool failed = regs_return_value(regs);
	struct fork_folio *e;
	struct fmw_verdict v;
	unsigned int off;
	char args[96];
	int st;

	if (!p->a)
		return 0;
	for_each_fork_folio(p->a, e, off) {
		struct foliomap_trace_op rec = { .folio = e->folio,
						 .ev = foliomap_trace_scratch() };
		bool read;

		fmw_close_begin(e->window);
		/* Each folio is read before its window closes. */
		read = !failed && !foliomap_snapshot_after(e->folio, &s->actual);
		fmw_close_end(e->window, &v, &e->before, read ? &s->actual.folio : NULL);
		if (!read) {
			fmw_verdict_release(&v);
			if (!failed) {
				foliomap_count(FOLIOMAP_STAT_UNCHECKED);
				foliomap_count(FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED);
			}
			continue;
		}
		st = fork_predict(p, e, &s->predicted, rec.ev ? &rec : NULL);
		snprintf(args, sizeof(args), "src_mm=%u dst_mm=%u pinned=%d pmd=%d ptes=%u",
			 p->src_mm, p->dst_mm, p->src_pinned, e->pmd,
			 bitmap_weight(e->pte_pages, FOLIOMAP_MAX_PAGES));
		fm_finish_check("copy_page_range", FOLIOMAP_STAT_OP_FORK, args, &e->before,
				&s->predicted, &s->actual, st, OP_FIELDS, &v, &rec);
	}
	fmw_mover_end(&p->mover);
	clear_bit_unlock(p->idx, arena_busy);
	p->a = NULL;
	return 0;
}

int foliomap_fork_init(unsigned int instances)
{
	nr_arenas = instances;
	arenas = vzalloc((size_t)instances * arena_stride());
	arena_heads = vzalloc((size_t)instances * FORK_HASH_SIZE * sizeof(u32));
	arena_busy = vzalloc(BITS_TO_LONGS(instances) * sizeof(long));
	if (!arenas || !arena_heads || !arena_busy) {
		foliomap_fork_exit();
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < instances; i++)
		arena_at(i)->index = i;
	return 0;
}

void foliomap_fork_exit(void)
{
	vfree(arenas);
	vfree(arena_heads);
	vfree(arena_busy);
	arenas = NULL;
	arena_heads = NULL;
	arena_busy = NULL;
}

const struct foliomap_hook_desc foliomap_fork_hooks[] = {
	HOOK_DESC("copy_page_range", copy_page_range_entry, copy_page_range_ret,
		  struct fork_probe, HOOK_SLEEPS, HOOK_USES_FORK),
};
const unsigned int foliomap_nr_fork_hooks = ARRAY_SIZE(foliomap_fork_hooks);
