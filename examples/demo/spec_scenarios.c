// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Spec scenarios S06, S24, S10 and S11 (shared/spec §11) driven through the C API only
 * (include/foliomap.h), in both modes. Each step applies the operations the kernel
 * performs and compares every raw field the spec lists for that step.
 *
 * Used twice: by the C ABI test (rust/abi-tests, through fm_run_spec_scenarios with
 * out == NULL) and by the demo (examples/demo/main.c, which prints every step).
 */
#include "spec_scenarios.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "foliomap.h"

#define ANY INT32_MIN /* a field this step of the spec does not state */

struct world {
	const char *scenario;
	uint32_t mode;
	fm_folio folio;
	fm_page pages[512];
	fm_mm_ids ids;
	uint64_t id_bits[1];
	FILE *out;
	char *msg;
	size_t msglen;
	int step;
	int checks;
};

/* The state line of the spec (§11.0): ref lmc emc ids mmc S pmap dq; ANY = unstated. */
struct expect {
	int32_t ref, lmc, emc, id0, id1, mmc0, mmc1, shared, pmap, dq;
};

static int fail(struct world *w, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(w->msg, w->msglen, "%s [%s] step %d: ", w->scenario,
			 w->mode == FM_MODE_PMC ? "pmc" : "nopmc", w->step);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < w->msglen)
		vsnprintf(w->msg + n, w->msglen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int ok(struct world *w, fm_status st, const char *what)
{
	if (st != FM_OK)
		return fail(w, "%s returned %d (%s)", what, st, fm_status_str(st));
	return 0;
}

static void show(struct world *w, const char *what)
{
	const fm_folio *f = &w->folio;

	if (!w->out)
		return;
	fprintf(w->out, "  %-34s ref=%d lmc=%d emc=%d ids=[%u,%u] mmc=[%d,%d] S=%d pmap=%d dq=%d",
		what, f->refcount, f->large_mapcount, f->entire_mapcount,
		(unsigned)(f->mm_ids & FM_MM_ID_MASK),
		(unsigned)((f->mm_ids >> 32) & FM_MM_ID_MASK), f->mm_id_mapcount[0],
		f->mm_id_mapcount[1], (int)(f->mm_ids >> 63),
		!!(f->flags & FM_FOLIO_PARTIALLY_MAPPED), !!(f->flags & FM_FOLIO_DEFERRED_LIST));
	if (w->mode == FM_MODE_PMC)
		fprintf(w->out, " nrpm=%#x", (unsigned)f->nr_pages_mapped);
	fputc('\n', w->out);
}

static int field(struct world *w, const char *name, int32_t want, int32_t got)
{
	if (want == ANY)
		return 0;
	w->checks++;
	if (want != got)
		return fail(w, "%s: expected %d, got %d", name, want, got);
	return 0;
}

static int check(struct world *w, const char *what, struct expect e)
{
	const fm_folio *f = &w->folio;
	int err = 0;

	w->step++;
	show(w, what);
	err |= field(w, "ref", e.ref, f->refcount);
	err |= field(w, "lmc", e.lmc, f->large_mapcount);
	err |= field(w, "emc", e.emc, f->entire_mapcount);
	err |= field(w, "ids[0]", e.id0, (int32_t)(f->mm_ids & FM_MM_ID_MASK));
	err |= field(w, "ids[1]", e.id1, (int32_t)((f->mm_ids >> 32) & FM_MM_ID_MASK));
	err |= field(w, "mmc[0]", e.mmc0, f->mm_id_mapcount[0]);
	err |= field(w, "mmc[1]", e.mmc1, f->mm_id_mapcount[1]);
	err |= field(w, "S", e.shared, (int32_t)(f->mm_ids >> 63));
	err |= field(w, "pmap", e.pmap, !!(f->flags & FM_FOLIO_PARTIALLY_MAPPED));
	err |= field(w, "dq", e.dq, !!(f->flags & FM_FOLIO_DEFERRED_LIST));
	return err ? -1 : 0;
}

/* [PMC] pmc[first..last] == value; [NOPMC] every page stays -1. */
static int pmc(struct world *w, uint32_t first, uint32_t last, int32_t value)
{
	for (uint32_t k = first; k <= last; k++) {
		int32_t want = w->mode == FM_MODE_PMC ? value : -1;

		w->checks++;
		if (w->pages[k].mapcount != want)
			return fail(w, "pmc[%u]: expected %d, got %d", k, want,
				    w->pages[k].mapcount);
	}
	return 0;
}

static int nrpm(struct world *w, int32_t value)
{
	if (w->mode != FM_MODE_PMC)
		return 0;
	return field(w, "nrpm", value, w->folio.nr_pages_mapped);
}

/* PAE set exactly on pages first..last (first > last: on none). */
static int pae(struct world *w, uint32_t first, uint32_t last)
{
	uint32_t n = 1u << w->folio.order;

	for (uint32_t k = 0; k < n; k++) {
		int want = k >= first && k <= last;
		int got = !!(w->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE);

		w->checks++;
		if (want != got)
			return fail(w, "pae[%u]: expected %d, got %d", k, want, got);
	}
	return 0;
}

static int setup(struct world *w, const char *scenario, uint32_t order)
{
	w->scenario = scenario;
	w->step = 0;
	if (w->out)
		fprintf(w->out, "%s (%s, order %u)\n", scenario,
			w->mode == FM_MODE_PMC ? "CONFIG_PAGE_MAPCOUNT" : "CONFIG_NO_PAGE_MAPCOUNT",
			order);
	if (ok(w, fm_folio_init(&w->folio, w->mode, order, 0, w->pages, 512), "fm_folio_init"))
		return -1;
	return ok(w, fm_mm_ids_init(&w->ids, w->id_bits, 1), "fm_mm_ids_init");
}

static int new_mm(struct world *w, uint32_t *id)
{
	return ok(w, fm_mm_ids_alloc(&w->ids, id), "fm_mm_ids_alloc");
}

/* A write fault on a read-only PTE; the expected outcome is part of the scenario. */
static int write_fault(struct world *w, uint32_t page, uint32_t mm, fm_cow_decision want)
{
	const fm_cow_facts facts = { 0 };
	fm_cow_outcome out;

	if (ok(w, fm_folio_wp_fault_pte(&w->folio, page, mm, &facts, &out), "wp_fault_pte"))
		return -1;
	w->checks++;
	if (out.decision != (uint32_t)want)
		return fail(w, "write page %u: expected %s, got decision %u (reason %u)", page,
			    want == FM_COW_DECISION_REUSE ? "REUSE" : "COPY", out.decision,
			    out.reason);
	return 0;
}

/* S01 + S02: first write fault on a 64 KiB mTHP, then fork. */
static int mthp_fault_and_fork(struct world *w, uint32_t *p, uint32_t *c)
{
	if (new_mm(w, p) || ok(w, fm_folio_fault_anon(&w->folio, *p, NULL), "fault_anon"))
		return -1;
	if (check(w, "P writes page 0 (S01)",
		  (struct expect){ 16, 15, -1, (int32_t)*p, 0, 15, -1, 0, 0, 0 }) ||
	    pmc(w, 0, 15, 0) || nrpm(w, 16) || pae(w, 0, 15))
		return -1;
	if (new_mm(w, c) ||
	    ok(w, fm_folio_fork_ptes(&w->folio, 0, 16, *c, false, NULL), "fork_ptes"))
		return -1;
	return check(w, "P forks C (S02)",
		     (struct expect){ 32, 31, -1, (int32_t)*p, (int32_t)*c, 15, 15, 1, 0, 0 }) ||
	       pmc(w, 0, 15, 1) || nrpm(w, 16) || pae(w, 1, 0);
}

/* S06: the classic "split halves" trap: every page mapped once, yet both sides COPY. */
static int s06(struct world *w)
{
	uint32_t p, c;

	if (setup(w, "S06 mTHP split halves", 4) || mthp_fault_and_fork(w, &p, &c))
		return -1;
	if (ok(w, fm_folio_zap_ptes(&w->folio, 8, 8, c, NULL), "zap") ||
	    check(w, "C MADV_DONTNEED pages 8..15",
		  (struct expect){ 24, 23, ANY, ANY, ANY, 15, 7, 1, 0, ANY }) ||
	    pmc(w, 0, 7, 1) || pmc(w, 8, 15, 0) || nrpm(w, 16))
		return -1;
	if (ok(w, fm_folio_zap_ptes(&w->folio, 0, 8, p, NULL), "zap") ||
	    check(w, "P MADV_DONTNEED pages 0..7",
		  (struct expect){ 16, 15, ANY, (int32_t)p, (int32_t)c, 7, 7, 1, 0, ANY }) ||
	    pmc(w, 0, 15, 0) || nrpm(w, 16))
		return -1;
	if (write_fault(w, 10, p, FM_COW_DECISION_COPY) ||
	    check(w, "P writes page 10: COPY",
		  (struct expect){ 15, 14, ANY, ANY, ANY, 6, 7, ANY, 1, 1 }) ||
	    pmc(w, 10, 10, -1) || nrpm(w, 15))
		return -1;
	if (write_fault(w, 2, c, FM_COW_DECISION_COPY) ||
	    check(w, "C writes page 2: COPY",
		  (struct expect){ 14, 13, ANY, ANY, ANY, 6, 6, 1, ANY, ANY }) ||
	    pmc(w, 2, 2, -1) || nrpm(w, 14))
		return -1;
	for (uint32_t k = 8; k <= 15; k++)
		if (k != 10 && write_fault(w, k, p, FM_COW_DECISION_COPY))
			return -1;
	if (check(w, "P writes 8,9,11..15: 7x COPY",
		  (struct expect){ 7, 6, ANY, 0, (int32_t)c, -1, 6, 0, ANY, ANY }) ||
	    pmc(w, 8, 15, -1) || pmc(w, 2, 2, -1) || pmc(w, 0, 1, 0) || pmc(w, 3, 7, 0) ||
	    nrpm(w, 7))
		return -1;
	if (write_fault(w, 3, c, FM_COW_DECISION_REUSE) ||
	    check(w, "C writes page 3: REUSE", (struct expect){ 7, 6, ANY, ANY, ANY, ANY, ANY,
								   0, ANY, ANY }))
		return -1;
	return pae(w, 3, 3);
}

/* S24: the 2 MiB version: PTE-mapped THP, fork, halves unmapped, COPY on both sides. */
static int s24(struct world *w)
{
	uint32_t p, c;
	fm_split_pmd_outcome split;

	if (setup(w, "S24 THP split halves", 9) || new_mm(w, &p) ||
	    ok(w, fm_folio_fault_anon(&w->folio, p, NULL), "fault_anon"))
		return -1;
	if (check(w, "P writes page 0 (S16)",
		  (struct expect){ 1, 0, 0, (int32_t)p, 0, 0, -1, 0, 0, 1 }) ||
	    nrpm(w, FM_ENTIRELY_MAPPED) || pmc(w, 0, 511, -1) || pae(w, 0, 0))
		return -1;
	if (ok(w, fm_folio_split_pmd(&w->folio, p, false, true, &split), "split_pmd") ||
	    check(w, "mprotect splits P's PMD",
		  (struct expect){ 512, 511, -1, (int32_t)p, 0, 511, -1, 0, 0, 1 }) ||
	    pmc(w, 0, 511, 0) || nrpm(w, 512) || pae(w, 0, 511))
		return -1;
	if (new_mm(w, &c) ||
	    ok(w, fm_folio_fork_ptes(&w->folio, 0, 512, c, false, NULL), "fork_ptes") ||
	    check(w, "P forks C",
		  (struct expect){ 1024, 1023, ANY, (int32_t)p, (int32_t)c, 511, 511, 1, ANY,
				   ANY }) ||
	    pmc(w, 0, 511, 1) || pae(w, 1, 0))
		return -1;
	if (ok(w, fm_folio_zap_ptes(&w->folio, 256, 256, c, NULL), "zap") ||
	    check(w, "C MADV_DONTNEED pages 256..511",
		  (struct expect){ 768, 767, ANY, ANY, ANY, 511, 255, ANY, ANY, ANY }) ||
	    pmc(w, 256, 511, 0))
		return -1;
	if (ok(w, fm_folio_zap_ptes(&w->folio, 0, 256, p, NULL), "zap") ||
	    check(w, "P MADV_DONTNEED pages 0..255",
		  (struct expect){ 512, 511, ANY, ANY, ANY, 255, 255, 1, 0, ANY }) ||
	    pmc(w, 0, 511, 0) || nrpm(w, 512))
		return -1;
	if (write_fault(w, 300, p, FM_COW_DECISION_COPY) ||
	    check(w, "P writes page 300: COPY",
		  (struct expect){ 511, 510, ANY, ANY, ANY, 254, 255, ANY, 1, ANY }) ||
	    pmc(w, 300, 300, -1) || nrpm(w, 511))
		return -1;
	return write_fault(w, 10, c, FM_COW_DECISION_COPY) ||
	       check(w, "C writes page 10: COPY",
		     (struct expect){ 510, 509, ANY, ANY, ANY, 254, 254, 1, ANY, ANY });
}

/* S10 steps 1-2 and S11 steps 1-2: P, C1 and an untracked C2 map the mTHP. */
static int three_mms(struct world *w, const char *name, uint32_t *p, uint32_t *c1,
		     uint32_t *c2)
{
	if (setup(w, name, 4) || mthp_fault_and_fork(w, p, c1) || new_mm(w, c2) ||
	    ok(w, fm_folio_fork_ptes(&w->folio, 0, 16, *c2, false, NULL), "fork_ptes"))
		return -1;
	return check(w, "P forks C2: untracked",
		     (struct expect){ 48, 47, ANY, (int32_t)*p, (int32_t)*c1, 15, 15, 1, ANY,
				      ANY }) ||
	       pmc(w, 0, 15, 2);
}

/* S10: the untracked mm exits first, S clears when C1 exits, P reuses. */
static int s10(struct world *w)
{
	uint32_t p, c1, c2;

	if (three_mms(w, "S10 three mms, untracked exits first", &p, &c1, &c2) ||
	    ok(w, fm_folio_zap_ptes(&w->folio, 0, 16, c2, NULL), "zap") ||
	    check(w, "C2 exits", (struct expect){ 32, 31, ANY, ANY, ANY, ANY, ANY, 1, ANY, ANY }) ||
	    pmc(w, 0, 15, 1) ||
	    ok(w, fm_folio_zap_ptes(&w->folio, 0, 16, c1, NULL), "zap") ||
	    check(w, "C1 exits: S clears",
		  (struct expect){ 16, 15, ANY, (int32_t)p, 0, 15, -1, 0, ANY, ANY }) ||
	    write_fault(w, 0, p, FM_COW_DECISION_REUSE))
		return -1;
	return check(w, "P writes page 0: REUSE",
		     (struct expect){ 16, 15, ANY, ANY, ANY, ANY, ANY, 0, ANY, ANY }) ||
	       pae(w, 0, 0);
}

/* S11: both tracked mms exit; only C2 maps the folio but S sticks: COPY. */
static int s11(struct world *w)
{
	uint32_t p, c1, c2;
	fm_query q;

	if (three_mms(w, "S11 three mms, sticky shared", &p, &c1, &c2) ||
	    ok(w, fm_folio_zap_ptes(&w->folio, 0, 16, p, NULL), "zap") ||
	    check(w, "P exits",
		  (struct expect){ 32, 31, ANY, 0, (int32_t)c1, -1, 15, 1, ANY, ANY }) ||
	    ok(w, fm_folio_zap_ptes(&w->folio, 0, 16, c1, NULL), "zap") ||
	    check(w, "C1 exits: S stays",
		  (struct expect){ 16, 15, ANY, 0, 0, -1, -1, 1, 0, 0 }) ||
	    ok(w, fm_folio_query(&w->folio, 0, &q), "query"))
		return -1;
	w->checks++;
	if (!q.maybe_mapped_shared)
		return fail(w, "folio_maybe_mapped_shared: expected true (false positive)");
	if (write_fault(w, 0, c2, FM_COW_DECISION_COPY) ||
	    check(w, "C2 writes page 0: COPY",
		  (struct expect){ 15, 14, ANY, ANY, ANY, ANY, ANY, 1, 1, 1 }) ||
	    pmc(w, 0, 0, -1) || nrpm(w, 15))
		return -1;
	return 0;
}

int fm_run_spec_scenarios(FILE *out, char *msg, size_t msglen, int *checks)
{
	static const uint32_t modes[] = { FM_MODE_PMC, FM_MODE_NOPMC };
	int (*const scenarios[])(struct world *) = { s06, s24, s10, s11 };
	static struct world w;

	*checks = 0;
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
			memset(&w, 0, sizeof(w));
			w.mode = modes[m];
			w.out = out;
			w.msg = msg;
			w.msglen = msglen;
			if (scenarios[s](&w))
				return -1;
			*checks += w.checks;
		}
	}
	return 0;
}
