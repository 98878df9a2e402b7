// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * libFuzzer harness over foliomap's C ABI (issue 13: the ABI under hostile input).
 *
 * One input is a sequence of operations over a fixed arena: six folio headers (plain
 * and concurrent, orders 0-9, both modes), two mm-id allocators and their bitmaps, and
 * one pool of pages that every page pointer points into. Besides the library's own
 * calls with random arguments, the input drives what a hostile caller does: copies a
 * header by value (`fm_folio b = a;`), plants a header copy inside page storage, edits
 * any field (fixed ones included), sets the `_mm_ids` lock bit of a concurrent folio,
 * marks a plain folio in use, binds a folio to pages overlapping its own header or
 * another folio's pages, passes the same folio twice, points outputs into the folios,
 * and enlarges an allocator's nr_words after init.
 *
 * Oracles, after every call:
 *  - a refused call (status != FM_OK) changed no byte of the arena;
 *  - a successful call changed only what the caller gave it: the folio headers it was
 *    passed, the pages they were bound to by the last successful fm_folio_init /
 *    fm_folio_rebind (tracked here, never taken from the possibly hostile header), the
 *    allocator's bitmap bound at fm_mm_ids_init, and its output; a call on a header that
 *    was never bound at its address (a copy, a planted or misaligned one) must not
 *    succeed at all;
 *  - the library leaves `in_use` at 0 and a concurrent folio's lock bit clear;
 *  - a folio whose state only the library has changed is internally consistent
 *    (checked independently here: large mapcount = PTE mappings + PMD mappings, the
 *    [PMC] per-page counts and `_nr_pages_mapped`, the [NOPMC] untouched page counts,
 *    slot ids and slot mapcounts, fm_folio_query agreeing); an allocated id is in range
 *    and marked in its bitmap.
 * A violation prints what happened and aborts (a libFuzzer crash, with its input).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foliomap.h"

#define NSLOT 6
#define POOL 1536
#define NIDS 2
#define NBITS 6 /* ids[0]: bits[0]; ids[1]: bits[1..2]; bits[3..5] are spare */
#define GUARD 32
#define MAX_OPS 96

struct arena {
	fm_folio h[NSLOT];
	fm_mm_ids ids[NIDS];
	uint64_t bits[NBITS];
	fm_page pool[POOL];
	uint64_t guard[GUARD]; /* never given to the library */
};

static struct arena A, before;

struct span {
	uintptr_t lo, hi;
};

/* What the harness (the caller) bound each header to; `pristine`: only the library has
 * changed the folio's state since a clean init on storage nothing else is bound to. */
static struct span bound[NSLOT];
static int pristine[NSLOT];
static struct span idbound[NIDS];
static int idbound_valid[NIDS];

/* Outputs that point outside the arena. */
static union {
	fm_rmap_outcome rmap;
	fm_fork_outcome fork;
	fm_split_pmd_outcome split;
	fm_migrate_unmap_outcome unmap;
	fm_cow_outcome cow;
	fm_query query;
	fm_folio_diff diff;
	int32_t ret;
	uint32_t id;
	bool flag;
	uint64_t raw[64];
} outbuf;

static const struct {
	uint32_t mode, order, options, off, len;
} defaults[NSLOT] = {
	{ FM_MODE_PMC, 9, 0, 0, 512 },
	{ FM_MODE_NOPMC, 4, 0, 512, 16 },
	{ FM_MODE_PMC, 2, 0, 528, 16 },
	{ FM_MODE_NOPMC, 9, FM_FOLIO_OPT_CONCURRENT, 1024, 512 },
	{ FM_MODE_PMC, 4, FM_FOLIO_OPT_CONCURRENT, 544, 16 },
	{ FM_MODE_PMC, 0, 0, 560, 464 },
};

/* ---- input ---------------------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint32_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t u16(struct in *in)
{
	return u8(in) | u8(in) << 8;
}

static uint32_t u32(struct in *in)
{
	return u16(in) | u16(in) << 16;
}

/* ---- the oracle ----------------------------------------------------------------- */

static const char *op_name = "?";
static int op_index;

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...);

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfoliomap fuzz: VIOLATION in op #%d (%s): ", op_index, op_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static struct span span_of(const void *p, size_t len)
{
	struct span s = { (uintptr_t)p, (uintptr_t)p + len };
	return s;
}

static int overlaps(struct span a, struct span b)
{
	return a.lo < b.hi && b.lo < a.hi;
}

static struct span header_span(int i)
{
	return span_of(&A.h[i], sizeof(A.h[i]));
}

static void snap(const char *name)
{
	op_name = name;
	memcpy(&before, &A, sizeof(A));
}

static int trace = -1, strict = -1;
static unsigned long partial_bad_state;
static char partial_first[64];

static void report_partial(void)
{
	if (partial_bad_state)
		fprintf(stderr, "foliomap fuzz: %lu FM_ERR_BAD_STATE refusals changed their own "
				"folio (first: %s); FOLIOMAP_FUZZ_STRICT=1 makes them failures\n",
			partial_bad_state, partial_first);
}

/*
 * Checks the call's effect: nothing when refused; only `allowed` when it succeeded.
 * FM_ERR_BAD_STATE (the model's own "impossible in this state") is held to that too
 * under FOLIOMAP_FUZZ_STRICT=1; by default such a refusal may have changed what the call
 * was given (a model operation that fails half-way, counted and reported at exit), never
 * anything else. Returns whether the arena changed.
 */
static int verify(fm_status st, const struct span *allowed, int n)
{
	const unsigned char *now = (const unsigned char *)&A, *was = (const unsigned char *)&before;
	size_t k;

	if (trace < 0) {
		trace = getenv("FOLIOMAP_FUZZ_TRACE") != NULL;
		strict = getenv("FOLIOMAP_FUZZ_STRICT") != NULL;
		atexit(report_partial);
	}
	if (trace)
		fprintf(stderr, "op #%d %s: %d (%s)\n", op_index, op_name, (int)st,
			fm_status_str(st));
	if (st == FM_ERR_BAD_STATE && !strict && memcmp(&A, &before, sizeof(A)) != 0) {
		if (!partial_bad_state++)
			snprintf(partial_first, sizeof(partial_first), "%s", op_name);
		st = FM_OK; /* held to what a successful call may change */
	}
	if (st != FM_OK) {
		if (memcmp(&A, &before, sizeof(A)) != 0) {
			for (k = 0; k < sizeof(A) && now[k] == was[k]; k++)
				;
			fail("refused call (status %d) changed arena byte %zu", (int)st, k);
		}
		return 0;
	}
	for (k = 0; k < sizeof(A); k += 8) {
		uintptr_t addr = (uintptr_t)now + k;
		int ok = 0;

		if (!memcmp(now + k, was + k, 8))
			continue;
		for (int j = 0; j < n && !ok; j++)
			ok = overlaps(allowed[j], span_of((void *)addr, 8));
		if (!ok)
			fail("successful call wrote arena bytes %zu..%zu, outside what it was given", k,
			     k + 7);
	}
	return memcmp(&A, &before, sizeof(A)) != 0;
}

/* The header pointer of an op: usually a slot; sometimes a copy planted in the page pool,
 * a misaligned or a NULL pointer. Returns the slot, or -1 for a header never bound there. */
static int pick_folio(struct in *in, fm_folio **f)
{
	uint32_t b = u8(in), i = b % NSLOT;

	switch (b >> 5) {
	case 7: { /* a copy planted in the pool (done before the snapshot) */
		uint32_t at = u16(in) % (POOL - 16);

		memcpy(&A.pool[at], &A.h[i], sizeof(fm_folio));
		for (int j = 0; j < NSLOT; j++)
			if (overlaps(bound[j], span_of(&A.pool[at], sizeof(fm_folio))))
				pristine[j] = 0;
		*f = (fm_folio *)(void *)&A.pool[at];
		return -1;
	}
	case 6:
		if (b & 1) {
			*f = (fm_folio *)(void *)((char *)&A.h[i] + 4);
			return -1;
		}
		if (b & 2) {
			*f = NULL;
			return -1;
		}
		/* fallthrough */
	default:
		*f = &A.h[i];
		return (int)i;
	}
}

/* An output of `size` bytes: outside the arena, NULL, or inside it (a hostile one). */
static void *pick_out(struct in *in, size_t size, struct span *sp)
{
	uint32_t b = u8(in);
	void *p;

	switch (b % 16) {
	case 0:
		p = NULL;
		break;
	case 1: /* inside a header */
		p = (char *)&A.h[(b >> 4) % NSLOT] + 8 * (u8(in) % 10);
		break;
	case 2: /* inside the pool */
		p = &A.pool[u16(in) % (POOL - 128)];
		break;
	case 3: /* an allocator or a bitmap */
		p = (b >> 4) & 1 ? (void *)&A.ids[(b >> 5) & 1] : (void *)&A.bits[(b >> 5) % NBITS];
		break;
	case 4: /* misaligned */
		p = (char *)&outbuf + 1;
		break;
	default:
		p = &outbuf;
		break;
	}
	(void)size;
	*sp = p ? span_of(p, size) : span_of(NULL, 0);
	return p;
}

/* Page storage for init / rebind, with a truthful length (entries up to the end of the
 * arena's given memory, or fewer). */
static fm_page *pick_pages(struct in *in, int slot, uint32_t *len)
{
	uint32_t b = u8(in);
	fm_page *p;
	uintptr_t end = (uintptr_t)&A.guard[0];

	switch (b % 10) {
	case 0: case 1: case 2: case 3:
		p = &A.pool[defaults[slot].off];
		break;
	case 4:
		p = &A.pool[defaults[(b >> 4) % NSLOT].off];
		break;
	case 5:
		p = &A.pool[u16(in) % POOL];
		break;
	case 6: /* the header itself, or into it */
		p = (fm_page *)(void *)((char *)&A.h[slot] + 8 * (u8(in) % 10));
		break;
	case 7: /* another header */
		p = (fm_page *)(void *)&A.h[(b >> 4) % NSLOT];
		break;
	case 8:
		p = (fm_page *)(void *)((char *)&A.pool[u16(in) % POOL] + 1 + (b >> 6));
		break;
	default:
		p = NULL;
		break;
	}
	*len = p ? (uint32_t)((end - (uintptr_t)p) / sizeof(fm_page)) : 512;
	switch (u8(in) % 6) {
	case 0:
		*len /= 2;
		break;
	case 1:
		*len = u8(in);
		break;
	default:
		break;
	}
	return p;
}

static uint32_t pick_mm(struct in *in)
{
	uint32_t b = u8(in);

	if (b < 200)
		return 1 + b % 5;
	switch (b % 4) {
	case 0: return 0;
	case 1: return FM_MM_ID_MAX;
	case 2: return (uint32_t)FM_MM_ID_MAX + 1;
	default: return u32(in);
	}
}

static uint32_t pick_page(struct in *in)
{
	uint32_t b = u8(in);

	if (b < 240)
		return (b | u8(in) << 8) % 520;
	return u32(in);
}

static int32_t pick_refs(struct in *in)
{
	uint32_t b = u8(in);

	if (b < 240)
		return (int32_t)(b % 20) - 4;
	return (int32_t)u32(in);
}

/* ---- consistency ---------------------------------------------------------------- */

static void consistent(int i, int fresh)
{
	const fm_folio *f = &A.h[i];
	const fm_page *pg;
	uint32_t nr, mapped = 0;
	int64_t sum = 0, slots = 0;
	fm_query q;

	/* A plain folio marked in use is refused; a concurrent one counts back. */
	if (f->in_use != before.h[i].in_use && !fresh)
		fail("slot %d: in_use %u after the call, %u before", i, f->in_use,
		     before.h[i].in_use);
	if (fresh && f->in_use)
		fail("slot %d: in_use %u after init", i, f->in_use);
	if ((f->options & FM_FOLIO_OPT_CONCURRENT) && (f->mm_ids & FM_MM_IDS_LOCK_BIT))
		fail("slot %d: mapcount lock left held", i);
	if (!pristine[i] || f->order == 0)
		return;
	pg = f->pages;
	nr = 1u << f->order;
	for (uint32_t k = 0; k < nr; k++) {
		sum += (int64_t)pg[k].mapcount + 1;
		mapped += pg[k].mapcount >= 0;
		if (pg[k].mapcount < -1)
			fail("slot %d: page %u mapcount %d", i, k, pg[k].mapcount);
	}
	if (f->mode == FM_MODE_PMC) {
		if ((int64_t)f->large_mapcount + 1 != sum + f->entire_mapcount + 1)
			fail("slot %d: large mapcount %d, PTE mappings %lld + PMD mappings %d", i,
			     f->large_mapcount + 1, (long long)sum, f->entire_mapcount + 1);
		if ((uint32_t)(f->nr_pages_mapped & FM_FOLIO_PAGES_MAPPED) != mapped)
			fail("slot %d: nr_pages_mapped %#x, %u pages mapped", i, f->nr_pages_mapped,
			     mapped);
		if ((f->nr_pages_mapped >= FM_ENTIRELY_MAPPED) != (f->entire_mapcount >= 0))
			fail("slot %d: nr_pages_mapped %#x, entire mapcount %d", i,
			     f->nr_pages_mapped, f->entire_mapcount);
	} else if (sum != 0 || f->nr_pages_mapped != 0) {
		fail("slot %d: [NOPMC] page mapcounts or nr_pages_mapped touched", i);
	}
	for (int s = 0; s < 2; s++) {
		uint32_t id = (uint32_t)(f->mm_ids >> (32 * s)) & FM_MM_ID_MASK;

		if ((id == 0) != (f->mm_id_mapcount[s] == -1) || f->mm_id_mapcount[s] < -1)
			fail("slot %d: slot %d id %u mapcount %d", i, s, id, f->mm_id_mapcount[s]);
		slots += (int64_t)f->mm_id_mapcount[s] + 1;
	}
	/*
	 * Not checked: slot mapcounts <= the large mapcount. The model lets an mm remove a
	 * mapping it cannot have (an mm in no slot, when every mapping is a slot holder's),
	 * as the kernel would only warn about; see the README's hardening section.
	 */
	(void)slots;
	if (fm_folio_query(&A.h[i], 0, &q) != FM_OK || q.mapcount != f->large_mapcount + 1)
		fail("slot %d: fm_folio_query disagrees", i);
}

/* ---- operations ------------------------------------------------------------------ */

static void bind_slot(int i, fm_page *pages)
{
	int clean = pages == &A.pool[defaults[i].off];

	bound[i] = span_of(pages, sizeof(fm_page) << A.h[i].order);
	for (int j = 0; j < NSLOT; j++) {
		if (j == i)
			continue;
		if (overlaps(bound[i], bound[j]) || overlaps(bound[i], header_span(j)) ||
		    overlaps(bound[j], header_span(i))) {
			pristine[j] = 0;
			clean = 0;
		}
	}
	for (int a = 0; a < NIDS; a++)
		if (overlaps(bound[i], span_of(&A.ids[a], sizeof(A.ids[a]))) ||
		    (idbound_valid[a] && overlaps(bound[i], idbound[a])))
			clean = 0;
	pristine[i] = clean;
}

/* A successful call wrote `out`: whatever it overlaps is no longer the library's state. */
static void taint(struct span out)
{
	for (int j = 0; j < NSLOT; j++)
		if (overlaps(out, bound[j]) || overlaps(out, header_span(j)))
			pristine[j] = 0;
}

/* One folio op: snapshot, call, verify, consistency. */
#define FOLIO_OP(name, slot, f, out_span, call)                                          \
	do {                                                                              \
		fm_status st_;                                                            \
		struct span allow_[3];                                                    \
		snap(name);                                                               \
		st_ = (call);                                                             \
		if (st_ == FM_OK && (slot) < 0)                                           \
			fail("a call on a header never bound at %p succeeded", (void *)(f)); \
		if ((slot) >= 0) {                                                        \
			allow_[0] = header_span(slot);                                    \
			allow_[1] = bound[slot];                                          \
		} else {                                                                  \
			allow_[0] = allow_[1] = span_of(NULL, 0);                         \
		}                                                                         \
		allow_[2] = (out_span);                                                   \
		if (verify(st_, allow_, 3) && st_ == FM_ERR_BAD_STATE) \
			pristine[slot] = 0; \
		if (st_ == FM_OK) {                                                       \
			taint(out_span);                                                  \
			consistent(slot, 0);                                                 \
		}                                                                         \
	} while (0)

static void op_folio(struct in *in, uint32_t op)
{
	fm_folio *f;
	int i = pick_folio(in, &f);
	struct span os;
	fm_cow_facts facts;

	switch (op) {
	case 0: {
		uint32_t mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("fault_anon", i, f, os, fm_folio_fault_anon(f, mm, o));
		break;
	}
	case 1: {
		uint32_t mm = pick_mm(in), fl = u8(in) % 3;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("add_new_anon", i, f, os, fm_folio_add_new_anon(f, mm, fl, o));
		break;
	}
	case 2: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in), fl = u8(in) % 3;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("add_anon_ptes", i, f, os, fm_folio_add_anon_ptes(f, first, nr, mm, fl, o));
		break;
	}
	case 3: {
		uint32_t mm = pick_mm(in), fl = u8(in) % 3;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("add_anon_pmd", i, f, os, fm_folio_add_anon_pmd(f, mm, fl, o));
		break;
	}
	case 4: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("add_file_ptes", i, f, os, fm_folio_add_file_ptes(f, first, nr, mm, o));
		break;
	}
	case 5: {
		uint32_t mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("add_file_pmd", i, f, os, fm_folio_add_file_pmd(f, mm, o));
		break;
	}
	case 6: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("remove_ptes", i, f, os, fm_folio_remove_ptes(f, first, nr, mm, o));
		break;
	}
	case 7: {
		uint32_t mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("remove_pmd", i, f, os, fm_folio_remove_pmd(f, mm, o));
		break;
	}
	case 8: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in);
		bool pinned = u8(in) & 1;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("try_dup_anon_ptes", i, f, os,
			 fm_folio_try_dup_anon_ptes(f, first, nr, mm, pinned, o));
		break;
	}
	case 9: {
		uint32_t mm = pick_mm(in);
		bool pinned = u8(in) & 1;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("try_dup_anon_pmd", i, f, os, fm_folio_try_dup_anon_pmd(f, mm, pinned, o));
		break;
	}
	case 10: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("dup_file_ptes", i, f, os, fm_folio_dup_file_ptes(f, first, nr, mm, o));
		break;
	}
	case 11: {
		uint32_t page = pick_page(in);
		int32_t *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("try_share_anon", i, f, os, fm_folio_try_share_anon(f, page, o));
		break;
	}
	case 12: {
		bool pm = u8(in) & 1;
		bool *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("deferred_split", i, f, os, fm_folio_deferred_split(f, pm, o));
		break;
	}
	case 13: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in);
		bool pinned = u8(in) & 1;
		fm_fork_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("fork_ptes", i, f, os, fm_folio_fork_ptes(f, first, nr, mm, pinned, o));
		break;
	}
	case 14: {
		uint32_t src = pick_mm(in), dst = pick_mm(in);
		bool pinned = u8(in) & 1;
		fm_fork_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("fork_pmd", i, f, os, fm_folio_fork_pmd(f, src, dst, pinned, o));
		break;
	}
	case 15: {
		uint32_t first = pick_page(in), nr = pick_page(in), mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("zap_ptes", i, f, os, fm_folio_zap_ptes(f, first, nr, mm, o));
		break;
	}
	case 16: {
		uint32_t mm = pick_mm(in);
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("zap_pmd", i, f, os, fm_folio_zap_pmd(f, mm, o));
		break;
	}
	case 17: {
		uint32_t mm = pick_mm(in), b = u8(in);
		fm_split_pmd_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("split_pmd", i, f, os, fm_folio_split_pmd(f, mm, b & 1, b & 2, o));
		break;
	}
	case 18: {
		uint32_t page = pick_page(in), mm = pick_mm(in);
		bool w = u8(in) & 1;
		fm_migrate_unmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("migrate_unmap_pte", i, f, os, fm_folio_migrate_unmap_pte(f, page, mm, w, o));
		break;
	}
	case 19: {
		uint32_t mm = pick_mm(in);
		bool w = u8(in) & 1;
		fm_migrate_unmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("migrate_unmap_pmd", i, f, os, fm_folio_migrate_unmap_pmd(f, mm, w, o));
		break;
	}
	case 20: {
		uint32_t page = pick_page(in), mm = pick_mm(in), e = u8(in) % 5;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("migrate_restore_pte", i, f, os,
			 fm_folio_migrate_restore_pte(f, page, mm, e, o));
		break;
	}
	case 21: {
		uint32_t mm = pick_mm(in), e = u8(in) % 5;
		fm_rmap_outcome *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("migrate_restore_pmd", i, f, os, fm_folio_migrate_restore_pmd(f, mm, e, o));
		break;
	}
	case 22: {
		uint32_t order = u8(in) % 12;
		int32_t refs = pick_refs(in);
		int32_t *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("split_check", i, f, os, fm_folio_split_check(f, order, refs, o));
		break;
	}
	case 23: {
		int32_t *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("split_freeze", i, f, os, fm_folio_split_freeze(f, o));
		break;
	}
	case 24:
	case 25: {
		uint32_t page = pick_page(in), mm = pick_mm(in), b = u8(in);
		fm_cow_outcome *o;

		facts.unshare = b & 1;
		facts.trylock_fails = (b >> 1) & 1;
		facts.lru_drain_drops_ref = (b >> 2) & 1;
		facts.swap_free_succeeds = (b >> 3) & 1;
		if (b >= 0xf0)
			facts.unshare = 2; /* not a bool */
		o = pick_out(in, sizeof(*o), &os);
		if (op == 24)
			FOLIO_OP("wp_fault_pte", i, f, os, fm_folio_wp_fault_pte(f, page, mm, &facts, o));
		else
			FOLIO_OP("wp_fault_pmd", i, f, os, fm_folio_wp_fault_pmd(f, mm, &facts, o));
		break;
	}
	case 26:
		FOLIO_OP("pin", i, f, span_of(NULL, 0), fm_folio_pin(f));
		break;
	case 27:
		FOLIO_OP("unpin", i, f, span_of(NULL, 0), fm_folio_unpin(f));
		break;
	case 28: {
		int32_t nr = pick_refs(in);
		FOLIO_OP("get", i, f, span_of(NULL, 0), fm_folio_get(f, nr));
		break;
	}
	case 29: {
		int32_t nr = pick_refs(in);
		FOLIO_OP("put", i, f, span_of(NULL, 0), fm_folio_put(f, nr));
		break;
	}
	case 30:
		FOLIO_OP("swapcache_add", i, f, span_of(NULL, 0), fm_folio_swapcache_add(f));
		break;
	case 31: {
		uint32_t page = pick_page(in);
		fm_query *o = pick_out(in, sizeof(*o), &os);
		FOLIO_OP("query", i, f, os, fm_folio_query(f, page, o));
		break;
	}
	default: {
		uint32_t b = u8(in), set = 0, clear = 0;

		if (b < 200) {
			set = u8(in) & FM_FOLIO_FLAGS_ALL;
			clear = u8(in) & FM_FOLIO_FLAGS_ALL & ~set;
		} else {
			set = u32(in);
			clear = u32(in);
		}
		FOLIO_OP("update_flags", i, f, span_of(NULL, 0), fm_folio_update_flags(f, set, clear));
		break;
	}
	}
}

static void op_two(struct in *in, uint32_t op)
{
	fm_folio *a, *b;
	int i = pick_folio(in, &a), j = pick_folio(in, &b);
	struct span os, allow[5];
	fm_status st;
	int n = 0;

	if (op == 0) {
		snap("copy");
		st = fm_folio_copy(a, b);
		if (st == FM_OK && (i < 0 || j < 0))
			fail("copy between headers never bound there succeeded");
		if (st == FM_OK || st == FM_ERR_BAD_STATE) {
			allow[n++] = header_span(i);
			allow[n++] = bound[i];
		}
		if (verify(st, allow, n) && st == FM_ERR_BAD_STATE)
			pristine[i] = 0;
		if (st == FM_OK) {
			pristine[i] = pristine[i] && pristine[j];
			consistent(i, 0);
			consistent(j, 0);
		}
	} else if (op == 1) {
		uint32_t first = pick_page(in), nr = pick_page(in), fields = u8(in) < 240 ? FM_FIELDS_ALL : u32(in);
		fm_folio_diff *o = pick_out(in, sizeof(*o), &os);

		snap("compare");
		st = fm_folio_compare(a, b, first, nr, fields, o);
		if (st == FM_OK && (i < 0 || j < 0))
			fail("compare of headers never bound there succeeded");
		allow[n++] = os;
		verify(st, allow, n);
		if (st == FM_OK)
			taint(os);
	} else {
		int32_t *o = pick_out(in, sizeof(*o), &os);

		snap("migrate_move");
		st = fm_folio_migrate_move(a, b, o);
		if (st == FM_OK && (i < 0 || j < 0))
			fail("migrate between headers never bound there succeeded");
		if (st == FM_OK || st == FM_ERR_BAD_STATE) {
			allow[n++] = header_span(i);
			allow[n++] = bound[i];
			allow[n++] = header_span(j);
			allow[n++] = bound[j];
		}
		allow[n++] = os;
		if (verify(st, allow, n) && st == FM_ERR_BAD_STATE)
			pristine[i] = pristine[j] = 0;
		if (st == FM_OK) {
			taint(os);
			consistent(i, 0);
			consistent(j, 0);
		}
	}
}

static void op_init(struct in *in, int rebind)
{
	int i = (int)(u8(in) % NSLOT);
	uint32_t len, mode, order, options, b = u8(in);
	fm_page *pages = pick_pages(in, i, &len);
	struct span allow[2];
	fm_status st;

	mode = b < 220 ? defaults[i].mode : u8(in) % 4;
	order = b < 220 ? defaults[i].order : u8(in) % 12;
	options = b < 220 ? defaults[i].options : u8(in) % 4;
	if (u8(in) < 64) {
		order = u8(in) % 10;
		mode = 1 + (order & 1);
	}
	snap(rebind ? "rebind" : "init");
	st = rebind ? fm_folio_rebind(&A.h[i], pages, len)
		    : fm_folio_init(&A.h[i], mode, order, options, pages, len);
	allow[0] = header_span(i);
	allow[1] = st == FM_OK ? span_of(pages, rebind ? 0 : sizeof(fm_page) << order) : span_of(NULL, 0);
	verify(st, allow, 2);
	if (st == FM_OK) {
		bind_slot(i, pages);
		if (rebind) /* the pages hold whatever was there: not the header's state */
			pristine[i] = 0;
		consistent(i, 1);
	}
}

/* The hostile caller edits a header behind the library's back. */
static void op_hostile(struct in *in, uint32_t op)
{
	int i = (int)(u8(in) % NSLOT);
	fm_folio *f = &A.h[i];
	int conc = (f->options & FM_FOLIO_OPT_CONCURRENT) != 0;
	uint32_t v = u32(in);

	pristine[i] = 0;
	switch (op) {
	case 0: { /* fm_folio b = a; */
		int j = (int)(v % NSLOT);

		A.h[i] = A.h[j];
		break;
	}
	case 1: /* the mapcount lock bit of a raw kernel value */
		f->mm_ids |= FM_MM_IDS_LOCK_BIT;
		if (f->options & FM_FOLIO_OPT_CONCURRENT)
			f->in_use = 0;
		break;
	case 2: /* another call's in-use mark, or calls in flight */
		f->in_use = v & 0xff;
		if (conc)
			f->mm_ids &= ~(uint64_t)FM_MM_IDS_LOCK_BIT;
		break;
	default: { /* any field */
		uint32_t w = u8(in);

		switch (v % 16) {
		case 0: f->magic = w < 128 ? FM_FOLIO_MAGIC : v; break;
		case 1: f->mode = w % 4; break;
		case 2: f->order = w % 12; break;
		case 3: f->options = w % 4; break;
		case 4: f->flags = v >> 4; break;
		case 5: f->refcount = (int32_t)(w - 128); break;
		case 6: f->pincount = (int32_t)(w - 128); break;
		case 7: f->large_mapcount = (int32_t)(w - 128); break;
		case 8: f->entire_mapcount = (int32_t)(w - 128); break;
		case 9: f->nr_pages_mapped = (int32_t)(w - 128); break;
		case 10: f->mm_id_mapcount[w & 1] = (int32_t)(w - 128); break;
		case 11:
			f->mm_ids = (uint64_t)v << (w & 32) | w;
			if (conc)
				f->mm_ids &= ~(uint64_t)FM_MM_IDS_LOCK_BIT;
			break;
		case 12: {
			uint32_t len;

			f->pages = pick_pages(in, i, &len);
			break;
		}
		case 13: f->pages_len = w < 128 ? w : v; break;
		case 14: f->seal ^= (uint64_t)v << (w % 33) | 1; break;
		default: { /* a page of its storage */
			fm_page *p = &A.pool[(v >> 4) % POOL];

			p->mapcount = (int32_t)(w - 128);
			p->flags = w & 1;
			for (int j = 0; j < NSLOT; j++)
				if (overlaps(bound[j], span_of(p, sizeof(*p))))
					pristine[j] = 0;
			break;
		}
		}
		break;
	}
	}
}

static void op_ids(struct in *in, uint32_t op)
{
	int a = (int)(u8(in) & 1);
	fm_mm_ids *ids = &A.ids[a];
	struct span allow[2], os;
	fm_status st;

	switch (op) {
	case 0: { /* init over a truthful bitmap */
		uint32_t b = u8(in), k = b % 8, nr;
		uint64_t *bm;

		if (k < 3) {
			bm = a ? &A.bits[1] : &A.bits[0];
			nr = a ? 2 : 1;
		} else if (k < 6) {
			uint32_t at = u8(in) % NBITS;

			bm = &A.bits[at];
			nr = u8(in) % (NBITS - at + 1);
		} else if (k == 6) {
			bm = (uint64_t *)(void *)ids; /* over the allocator itself */
			nr = 1 + b % 3;
		} else {
			bm = (uint64_t *)(void *)((char *)&A.bits[0] + 4);
			nr = 1;
		}
		snap("mm_ids_init");
		st = fm_mm_ids_init(ids, bm, nr);
		allow[0] = span_of(ids, sizeof(*ids));
		allow[1] = span_of(bm, st == FM_OK ? nr * sizeof(uint64_t) : 0);
		verify(st, allow, 2);
		if (st == FM_OK) {
			idbound[a] = allow[1];
			idbound_valid[a] = 1;
			for (int j = 0; j < NSLOT; j++)
				if (overlaps(idbound[a], bound[j]) || overlaps(idbound[a], header_span(j)))
					pristine[j] = 0;
		}
		break;
	}
	case 1: { /* alloc, up to 70 times (a 1-word bitmap is full after 63) */
		uint32_t times = 1 + u8(in) % 70;
		uint32_t *o = pick_out(in, sizeof(uint32_t), &os);

		for (uint32_t t = 0; t < times; t++) {
			uint32_t *out = o;

			snap("mm_ids_alloc");
			st = fm_mm_ids_alloc(ids, out);
			allow[0] = idbound_valid[a] ? idbound[a] : span_of(NULL, 0);
			allow[1] = os;
			verify(st, allow, 2);
			if (st != FM_OK)
				break;
			taint(os);
			if (out && (void *)out == (void *)&outbuf) {
				uint32_t id = outbuf.id;
				const uint64_t *bm = (const uint64_t *)idbound[a].lo;
				uint64_t words = (idbound[a].hi - idbound[a].lo) / 8;

				if (!idbound_valid[a] || id < 1 || id / 64 >= words ||
				    !(bm[id / 64] >> (id % 64) & 1))
					fail("mm_ids_alloc: id %u outside its bitmap of %llu words", id,
					     (unsigned long long)words);
			}
		}
		break;
	}
	case 2: {
		uint32_t id = u8(in) < 240 ? u8(in) % 140 : u32(in);

		snap("mm_ids_free");
		st = fm_mm_ids_free(ids, id);
		allow[0] = idbound_valid[a] ? idbound[a] : span_of(NULL, 0);
		verify(st, allow, 1);
		break;
	}
	case 3: { /* edits behind the library's back */
		uint32_t v = u32(in);

		switch (v % 5) {
		case 0: ids->nr_words = (v >> 3) % 4 ? ids->nr_words + 1 + (v >> 5) % 64 : v >> 3; break;
		case 1: ids->nr_words = ids->nr_words > 1 ? ids->nr_words - 1 : 0; break;
		case 2: ids->bitmap = &A.bits[(v >> 3) % NBITS]; break;
		case 3: ids->magic = (v >> 3) % 2 ? FM_MMIDS_MAGIC : v; break;
		default: ids->seal ^= (uint64_t)v << 3 | 1; break;
		}
		break;
	}
	default: /* fm_mm_ids b = a; */
		A.ids[a] = A.ids[!a];
		idbound[a] = idbound[!a];
		idbound_valid[a] = idbound_valid[!a];
		break;
	}
}

static void reset(void)
{
	memset(&A, 0, sizeof(A));
	memset(bound, 0, sizeof(bound));
	for (int i = 0; i < NSLOT; i++) {
		fm_page *p = &A.pool[defaults[i].off];

		if (fm_folio_init(&A.h[i], defaults[i].mode, defaults[i].order, defaults[i].options,
				  p, defaults[i].len) != FM_OK)
			fail("default init of slot %d", i);
		bound[i] = span_of(p, sizeof(fm_page) << defaults[i].order);
		pristine[i] = 1;
	}
	if (fm_mm_ids_init(&A.ids[0], &A.bits[0], 1) != FM_OK ||
	    fm_mm_ids_init(&A.ids[1], &A.bits[1], 2) != FM_OK)
		fail("default mm_ids init");
	idbound[0] = span_of(&A.bits[0], 8);
	idbound[1] = span_of(&A.bits[1], 16);
	idbound_valid[0] = idbound_valid[1] = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	reset();
	for (op_index = 0; op_index < MAX_OPS && in.n; op_index++) {
		uint32_t op = u8(&in) % 50;

		if (op < 33)
			op_folio(&in, op);
		else if (op < 36)
			op_two(&in, op - 33);
		else if (op < 38)
			op_init(&in, op == 37);
		else if (op < 44)
			op_hostile(&in, op - 38);
		else
			op_ids(&in, op - 44);
	}
	return 0;
}
