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

/*
 * The large mapcount, both slots and S are read under the folio's mapcount bit spinlock,
 * as the kernel updates them (spec §8), so they are consistent with each other. The
 * per-page counters and _nr_pages_mapped are not covered by that lock ([PMC]); callers
 * detect concurrent changes themselves. Never called with the lock held (the rmap
 * entry and return points are outside it).
 *
 * Returns 0, or -EINVAL for folios the model does not cover (hugetlb, above PMD order).
 */
int foliomap_snapshot(struct folio *folio, struct fm_snap *s)
{
	return foliomap_snapshot_into(folio, &s->folio, s->pages, FOLIOMAP_MAX_PAGES);
}

/* The same into caller storage of @cap pages (-ENOSPC when the folio has more). */
int foliomap_snapshot_into(struct folio *folio, fm_folio *f, fm_page *pages, u32 cap)
{
	unsigned int order = folio_order(folio);
	unsigned int k, nr = 1u << order;
	u32 flags = 0;

	if (order > HPAGE_PMD_ORDER || folio_test_hugetlb(folio))
		return -EINVAL;
	if (nr > cap)
		return -ENOSPC;
	if (fm_folio_init(f, FOLIOMAP_FM_MODE, order, 0, pages, cap) != FM_OK)
		return -EINVAL;

	f->refcount = folio_ref_count(folio);
	if (folio_test_anon(folio))
		flags |= FM_FOLIO_ANON;
	if (folio_test_ksm(folio))
		flags |= FM_FOLIO_KSM;
	if (folio_test_swapcache(folio))
		flags |= FM_FOLIO_SWAPCACHE;
	if (folio_test_lru(folio))
		flags |= FM_FOLIO_LRU;

	if (order > 0) {
		f->pincount = atomic_read(&folio->_pincount);
		f->entire_mapcount = atomic_read(&folio->_entire_mapcount);
		/* [NOPMC] leaves _nr_pages_mapped uninitialised (spec §1.3): not read. */
		if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT))
			f->nr_pages_mapped = atomic_read(&folio->_nr_pages_mapped);

		folio_lock_large_mapcount(folio);
		f->large_mapcount = atomic_read(&folio->_large_mapcount);
		f->mm_id_mapcount[0] = folio->_mm_id_mapcount[0];
		f->mm_id_mapcount[1] = folio->_mm_id_mapcount[1];
		f->mm_ids = folio->_mm_ids & ~FOLIO_MM_IDS_LOCK_BIT;
		folio_unlock_large_mapcount(folio);

		/* The deferred-split state exists for order > 1 only (spec §3.10). */
		if (order > 1) {
			if (folio_test_partially_mapped(folio))
				flags |= FM_FOLIO_PARTIALLY_MAPPED;
			if (!list_empty(&folio->_deferred_list))
				flags |= FM_FOLIO_DEFERRED_LIST;
		}
	}
	f->flags = flags;

	for (k = 0; k < nr; k++) {
		struct page *page = folio_page(folio, k);

		pages[k].mapcount = atomic_read(&page->_mapcount);
		/* PG_anon_exclusive aliases another flag on non-anon pages. */
		if ((flags & FM_FOLIO_ANON) &&
		    test_bit(PG_anon_exclusive, &page->flags.f))
			pages[k].flags = FM_PAGE_ANON_EXCLUSIVE;
	}
	return 0;
}

/* dst := src (a snapshot), with dst's own page storage; only the folio's pages. */
void foliomap_snap_copy(struct fm_snap *dst, const struct fm_snap *src)
{
	dst->folio = src->folio;
	dst->folio.pages = dst->pages;
	dst->folio.pages_len = FOLIOMAP_MAX_PAGES;
	memcpy(dst->pages, src->pages, sizeof(fm_page) << src->folio.order);
}
