// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Reads a live folio into the model's representation (struct fm_snap), field by field,
 * in the kernel's raw encodings (spec §1.3).
 */
#include <linux/mm.h>
#include <linux/page-flags.h>
#include <linux/rmap.h>
#include <linux/string.h>

#include "foliomap_shadow.h"

#ifndef CONFIG_MM_ID
#error "foliomap models CONFIG_MM_ID kernels (selected by CONFIG_TRANSPARENT_HUGEPAGE)"
#endif

/* The kernel's accessors on the copy, which the snapshot's folio fields come from. */
static void kernel_answers(struct folio *copy, struct fm_kernel_answers *a)
{
	bool large = folio_test_large(copy);

	a->mapcount = folio_mapcount(copy);
	a->large_mapcount = large ? folio_large_mapcount(copy) : 0;
	a->entire_mapcount = large ? folio_entire_mapcount(copy) : 0;
	/* A freed page has a type (buddy): the accessor would warn; the model says 0. */
	a->expected_ref_count = page_has_type(&copy->page) ? 0 : folio_expected_ref_count(copy);
	a->mapped = folio_mapped(copy);
	a->maybe_mapped_shared = folio_maybe_mapped_shared(copy);
	a->maybe_dma_pinned = folio_maybe_dma_pinned(copy);
	a->valid = true;
}

/* The copy ends where the folio's struct pages do (a small folio has one). */
static int snapshot(struct folio *folio, fm_folio *f, fm_page *pages, u32 cap,
		    struct fm_kernel_answers *answers)
{
	unsigned int order = folio_order(folio);
	unsigned int k, nr = 1u << order;
	size_t len = min_t(size_t, sizeof(struct folio), nr * sizeof(struct page));
	struct folio copy;
	u32 flags = 0;

	if (order > HPAGE_PMD_ORDER || folio_test_hugetlb(folio))
		return -EINVAL;
	if (nr > cap)
		return -ENOSPC;
	if (fm_folio_init(f, FOLIOMAP_FM_MODE, order, 0, pages, cap) != FM_OK)
		return -EINVAL;

	memset((char *)&copy + len, 0, sizeof(copy) - len);
	if (order > 0) {
		folio_lock_large_mapcount(folio);
		memcpy(&copy, folio, len);
		folio_unlock_large_mapcount(folio);
	} else {
		memcpy(&copy, folio, len);
	}
	if (folio_order(&copy) != order)	/* split or freed and reused meanwhile */
		return -EAGAIN;

	f->refcount = folio_ref_count(&copy);
	if (folio_test_anon(&copy))
		flags |= FM_FOLIO_ANON;
	if (folio_test_ksm(&copy))
		flags |= FM_FOLIO_KSM;
	if (folio_test_swapcache(&copy))
		flags |= FM_FOLIO_SWAPCACHE;
	if (folio_test_lru(&copy))
		flags |= FM_FOLIO_LRU;

	if (order > 0) {
		f->pincount = atomic_read(&copy._pincount);
		f->entire_mapcount = atomic_read(&copy._entire_mapcount);
		/* [NOPMC] leaves _nr_pages_mapped uninitialised (spec §1.3): not read. */
		if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT))
			f->nr_pages_mapped = atomic_read(&copy._nr_pages_mapped);
		f->large_mapcount = atomic_read(&copy._large_mapcount);
		f->mm_id_mapcount[0] = copy._mm_id_mapcount[0];
		f->mm_id_mapcount[1] = copy._mm_id_mapcount[1];
		f->mm_ids = copy._mm_ids & ~FOLIO_MM_IDS_LOCK_BIT;

		/* The deferred-split state exists for order > 1 only (spec §3.10). */
		if (order > 1) {
			if (folio_test_partially_mapped(&copy))
				flags |= FM_FOLIO_PARTIALLY_MAPPED;
			/* The list head's address is the live folio's. */
			if (!list_empty(&folio->_deferred_list))
				flags |= FM_FOLIO_DEFERRED_LIST;
		}
	}
	f->flags = flags;
	if (answers)
		kernel_answers(&copy, answers);

	for (k = 0; k < nr; k++) {
		/*
		 * A small folio's page is its struct folio: read it from the copy, which
		 * the kernel's answers (folio_mapcount) read too. The live page may lose a
		 * mapping to another CPU in between (seen: a concurrent zap of a shared file
		 * page made the checker blame the model for folio_mapcount 4 vs 5).
		 */
		struct page *page = order ? folio_page(folio, k) : &copy.page;

		pages[k].mapcount = atomic_read(&page->_mapcount);
		/* PG_anon_exclusive aliases another flag on non-anon pages. */
		if ((flags & FM_FOLIO_ANON) &&
		    test_bit(PG_anon_exclusive, &page->flags.f))
			pages[k].flags = FM_PAGE_ANON_EXCLUSIVE;
	}
	return 0;
}

/*
 * The folio-wide fields (refcount, mapcounts, both slots and S, flags) come from one
 * copy taken under the folio's mapcount bit spinlock, as the kernel updates the large
 * mapcount and the slots (spec §8), so they are consistent with each other and with
 * the kernel's answers for them. The per-page counters are not covered by that lock;
 * callers detect concurrent changes themselves. Never called with the lock held (the
 * rmap entry and return points are outside it).
 *
 * Returns 0, -EINVAL for folios the model does not cover (hugetlb, above PMD order), or
 * -EAGAIN when the folio changed order while being read.
 */
int foliomap_snapshot(struct folio *folio, struct fm_snap *s)
{
	s->answers.valid = false;
	return snapshot(folio, &s->folio, s->pages, FOLIOMAP_MAX_PAGES, NULL);
}

int foliomap_snapshot_after(struct folio *folio, struct fm_snap *s)
{
	return snapshot(folio, &s->folio, s->pages, FOLIOMAP_MAX_PAGES, &s->answers);
}

/* The same into caller storage of @cap pages (-ENOSPC when the folio has more). */
int foliomap_snapshot_into(struct folio *folio, fm_folio *f, fm_page *pages, u32 cap)
{
	return snapshot(folio, f, pages, cap, NULL);
}

/*
 * dst := src (a snapshot), with dst's own page storage; only the folio's pages. The
 * header copied by value is adopted at its new address (fm_folio_rebind): the library
 * refuses a copied header that still names the original's pages. A src the library
 * would refuse leaves dst refused as well (its calls fail with the status).
 */
void foliomap_snap_copy(struct fm_snap *dst, const struct fm_snap *src)
{
	dst->folio = src->folio;
	dst->answers = src->answers;
	memcpy(dst->pages, src->pages, sizeof(fm_page) << src->folio.order);
	fm_folio_rebind(&dst->folio, dst->pages, FOLIOMAP_MAX_PAGES);
}

static bool answer_differs(const char *name, int model, int kernel, char *note, size_t len)
{
	if (model == kernel)
		return false;
	snprintf(note, len, "%s: model %d, kernel %d", name, model, kernel);
	return true;
}

/*
 * spec §4. The model's queries read the snapshot's state; the kernel's accessors read
 * the same state (the copy it was taken from). folio_expected_ref_count of a file folio
 * also counts folio->mapping and PG_private, which the model does not see: compared for
 * anonymous folios only.
 */
int foliomap_compare_answers(const struct fm_snap *snap, char *note, size_t len)
{
	const struct fm_kernel_answers *k = &snap->answers;
	fm_query q;

	if (!k->valid) {
		snprintf(note, len, "no kernel answers (a snapshot taken before the operation)");
		return -1;
	}
	/*
	 * The snapshot itself, not a copy of its header (the library refuses a copied header
	 * that names the original's pages). fm_folio_query only reads a plain folio; its
	 * parameter is not const for the concurrent kind.
	 */
	if (fm_folio_query((fm_folio *)&snap->folio, 0, &q) != FM_OK) {
		snprintf(note, len, "the model cannot query the folio");
		return -1;
	}
	return answer_differs("folio_mapcount", q.mapcount, k->mapcount, note, len) ||
	       answer_differs("folio_large_mapcount", q.large_mapcount, k->large_mapcount,
			      note, len) ||
	       answer_differs("folio_entire_mapcount", q.entire_mapcount, k->entire_mapcount,
			      note, len) ||
	       answer_differs("folio_mapped", q.mapped, k->mapped, note, len) ||
	       answer_differs("folio_maybe_mapped_shared", q.maybe_mapped_shared,
			      k->maybe_mapped_shared, note, len) ||
	       answer_differs("folio_maybe_dma_pinned", q.maybe_dma_pinned,
			      k->maybe_dma_pinned, note, len) ||
	       ((snap->folio.flags & FM_FOLIO_ANON) &&
		answer_differs("folio_expected_ref_count", q.expected_ref_count,
			       k->expected_ref_count, note, len)) ? -1 : 0;
}
