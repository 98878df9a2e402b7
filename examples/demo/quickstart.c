// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The README's example: a 64 KiB mTHP faulted in by mm 1, forked into mm 2, then written
 * by mm 1. Build: cc -std=c11 -Iinclude examples/demo/quickstart.c -Ltarget/release -lfoliomap
 */
#include <stdio.h>

#include "foliomap.h"

int main(void)
{
	fm_folio folio;
	fm_page pages[16];
	fm_cow_facts facts = { 0 };
	fm_cow_outcome cow;

	if (fm_folio_init(&folio, FM_MODE_PMC, 4, 0, pages, 16) != FM_OK ||
	    fm_folio_fault_anon(&folio, 1, NULL) != FM_OK ||		/* mm 1 faults it in */
	    fm_folio_fork_ptes(&folio, 0, 16, 2, false, NULL) != FM_OK ||	/* fork: mm 2 */
	    fm_folio_wp_fault_pte(&folio, 3, 1, &facts, &cow) != FM_OK)	/* mm 1 writes page 3 */
		return 2;
	/* COPY: after the fork both mms own a slot, so the folio is maybe shared (S). */
	printf("write after fork: %s, large mapcount %d, shared %d\n",
	       cow.decision == FM_COW_DECISION_COPY ? "COPY" : "REUSE",
	       folio.large_mapcount + 1, (int)(folio.mm_ids >> 63));
	return cow.decision == FM_COW_DECISION_COPY ? 0 : 1;
}
