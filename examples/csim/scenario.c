// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The scenario language (examples/csim/FORMAT.md) and the canonical transcript: one line
 * per step, the same for this simulator and for the kernel executor. Pass 1 parses the
 * whole file (syntax errors: file:line, exit 2), pass 2 runs it.
 */
#include "csim.h"
#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct run {
	const char *path;
	struct sim s;
	FILE *out;
	bool states;			/* csim --states: every large folio after each step */
	int checked, failures;		/* expectations evaluated, failed */
	/* the last access (for expect reuse/copy/...) and the last show (for expect field) */
	enum access_outcome last_acc[512];
	int nr_last_acc;
	const char *last_word;		/* outcome word of the last split / migrate */
	char show_proc[CSIM_NAME_LEN];
	char show_region[CSIM_NAME_LEN];
	uint64_t show_addr, show_off;	/* where the show starts, and as REGION+OFF */
	uint64_t show_end;		/* 0 after a single-address show */
	bool have_show;
	/* the mapped counters at the start and before the last step that changes something
	 * (for expect total / expect stat) */
	struct t_mapped_stats at_start, before_change;
	bool have_change;
};

/* ---- rendering ----------------------------------------------------------------------- */

/* {0-15}, {3,7-8}, {} */
static void render_pae(struct buf *b, const struct folio *f)
{
	unsigned int n = 1u << f->order;
	bool first = true;

	scn_put(b, "{");
	for (unsigned int k = 0; k < n;) {
		unsigned int j = k;

		if (!(f->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE)) {
			k++;
			continue;
		}
		while (j + 1 < n && (f->pages[j + 1].flags & FM_PAGE_ANON_EXCLUSIVE))
			j++;
		scn_put(b, first ? "" : ",");
		first = false;
		if (j == k)
			scn_put(b, "%u", k);
		else
			scn_put(b, "%u-%u", k, j);
		k = j + 1;
	}
	scn_put(b, "}");
}

/* [1*8,0*8]: runs of per-page raw _mapcount values */
static void render_pmc(struct buf *b, const struct folio *f)
{
	unsigned int n = 1u << f->order;

	scn_put(b, "[");
	for (unsigned int k = 0; k < n;) {
		unsigned int j = k;

		while (j + 1 < n && f->pages[j + 1].mapcount == f->pages[k].mapcount)
			j++;
		scn_put(b, k ? "," : "");
		if (j == k)
			scn_put(b, "%d", f->pages[k].mapcount);
		else
			scn_put(b, "%d*%u", f->pages[k].mapcount, j - k + 1);
		k = j + 1;
	}
	scn_put(b, "]");
}

/* The value of one field of the folio (FORMAT.md "show"); false if unknown here. */
static bool render_field(struct sim *s, const struct folio *f, const char *name, struct buf *b)
{
	const fm_folio *x = &f->f;
	uint32_t id0 = (uint32_t)(x->mm_ids & FM_MM_ID_MASK);
	uint32_t id1 = (uint32_t)((x->mm_ids >> 32) & FM_MM_ID_MASK);
	bool pmc = s->mode == FM_MODE_PMC;

	if (!strcmp(name, "order"))
		scn_put(b, "%u", f->order);
	else if (!strcmp(name, "ref"))
		scn_put(b, "%d", x->refcount);
	else if (!strcmp(name, "mapcount") && f->order == 0)
		scn_put(b, "%d", f->pages[0].mapcount);
	else if (!strcmp(name, "pae"))
		render_pae(b, f);
	else if (f->order == 0)
		return false;
	else if (!strcmp(name, "lmc"))
		scn_put(b, "%d", x->large_mapcount);
	else if (!strcmp(name, "emc"))
		scn_put(b, "%d", x->entire_mapcount);
	else if (!strcmp(name, "nrpm") && pmc)
		scn_put(b, x->nr_pages_mapped >= FM_ENTIRELY_MAPPED ? "%#x" : "%d",
		    x->nr_pages_mapped);
	else if (!strcmp(name, "ids"))
		scn_put(b, "[%s,%s]", sim_id_name(s, id0), sim_id_name(s, id1));
	else if (!strcmp(name, "mmc"))
		scn_put(b, "[%d,%d]", x->mm_id_mapcount[0], x->mm_id_mapcount[1]);
	else if (!strcmp(name, "S"))
		scn_put(b, "%d", (int)(x->mm_ids >> 63));
	else if (!strcmp(name, "pincount"))
		scn_put(b, "%d", x->pincount);
	else if (!strcmp(name, "pmap"))
		scn_put(b, "%d", !!(x->flags & FM_FOLIO_PARTIALLY_MAPPED));
	else if (!strcmp(name, "dq"))
		scn_put(b, "%d", !!(x->flags & FM_FOLIO_DEFERRED_LIST));
	else if (!strcmp(name, "pmc") && pmc)
		render_pmc(b, f);
	else
		return false;
	return true;
}

static const char *const large_fields[] = { "order", "ref", "lmc", "emc", "nrpm", "ids", "mmc",
					    "S", "pincount", "pmap", "dq", "pae", "pmc" };
static const char *const small_fields[] = { "order", "ref", "mapcount", "pae" };

/* The fields of a folio as `show` prints them. */
static void render_folio(struct sim *s, const struct folio *f, struct buf *b)
{
	const char *const *fields = f->order ? large_fields : small_fields;
	size_t n = f->order ? sizeof(large_fields) / sizeof(*fields) : sizeof(small_fields) / sizeof(*fields);

	for (size_t i = 0; i < n; i++) {
		size_t mark = b->n;

		scn_put(b, "%s%s=", i ? " " : "", fields[i]);
		if (!render_field(s, f, fields[i], b)) {
			b->n = mark;
			b->s[b->n] = 0;
		}
	}
}

/*
 * One frame of a range `show` (FORMAT.md): from addr on, the pages that map consecutive
 * pages of one folio, one zeropage mapping, the pages of one huge-zeropage PMD, or a hole.
 */
struct frame {
	uint64_t addr, len;
	enum lookup_kind kind;
	struct folio *f;
	unsigned int page;	/* of f, mapped at addr */
};

static void frame_at(struct sim *s, struct proc *p, uint64_t addr, uint64_t end,
		     struct frame *fr)
{
	struct folio *f;
	unsigned int page;

	fr->addr = addr;
	fr->len = CSIM_PAGE_SIZE;
	fr->kind = sim_lookup(s, p, addr, &fr->f, &fr->page);
	if (fr->kind == LOOK_ZERO)
		return;
	for (uint64_t a = addr + CSIM_PAGE_SIZE; a < end;
	     a += CSIM_PAGE_SIZE, fr->len += CSIM_PAGE_SIZE) {
		enum lookup_kind k = sim_lookup(s, p, a, &f, &page);

		if (k != fr->kind || (k == LOOK_HUGE_ZERO && a % CSIM_PMD_SIZE == 0))
			break;
		if (k == LOOK_FOLIO && (f != fr->f || page != fr->page + fr->len / CSIM_PAGE_SIZE))
			break;
	}
}

static void render_frame(struct sim *s, const struct frame *fr, struct buf *b)
{
	switch (fr->kind) {
	case LOOK_NONE: scn_put(b, "none"); return;
	case LOOK_ZERO: scn_put(b, "zero"); return;
	case LOOK_HUGE_ZERO: scn_put(b, "hugezero"); return;
	case LOOK_FOLIO: break;
	}
	render_folio(s, fr->f, b);
}

/* csim --states: after a step, every live large folio as `show` prints it (order-0
 * folios, the CoW copies, are left out as in spec §11). */
static void print_states(struct run *r)
{
	for (const struct folio *f = r->s.folios; f; f = f->next) {
		struct buf b = { .n = 0 };

		if (!f->order)
			continue;
		render_folio(&r->s, f, &b);
		fprintf(r->out, "    = %s\n", b.s);
	}
}

/* A frame of the `show` of line `st` as a picture (csim --svg): title names the step (and
 * the frame of a range), text holds its fields. */
static void show_picture(struct run *r, const struct step *st, const struct frame *fr,
			 const char *title, const char *text)
{
	char step[512];

	snprintf(step, sizeof(step), "%s:%d  %s", r->path, st->line, title);
	svg_frame(&r->s, fr->kind == LOOK_FOLIO ? fr->f : NULL, fr->page, step, text);
}

/*
 * `show ADDR LEN`: the frames of [start, end), one picture per frame whose text differs
 * from the frame before it (csim --svg).
 */
static void render_range(struct run *r, const struct step *st, struct proc *p, uint64_t start,
			 uint64_t end, struct buf *b)
{
	struct scn_frames fs;
	struct frame fr;
	struct buf *text = malloc(sizeof(*text));
	size_t echo = b->n;

	if (!text) {
		fprintf(stderr, "csim: out of memory\n");
		exit(3);
	}
	scn_frames_begin(&fs, b, st->a.region);
	for (uint64_t a = start; a < end; a += fr.len) {
		frame_at(&r->s, p, a, end, &fr);
		scn_buf_clear(text);
		render_frame(&r->s, &fr, text);
		/* the pending run holds the text of the frame before this one */
		if (svg_enabled() && (!fs.count || strcmp(text->s, fs.text))) {
			char title[256];

			snprintf(title, sizeof(title), "%.*s at %s+0x%llx", (int)echo, b->s,
				 st->a.region, (unsigned long long)(st->a.off + (a - start)));
			show_picture(r, st, &fr, title, text->s);
		}
		scn_frame_add(&fs, st->a.off + (a - start), fr.len, text->s);
	}
	scn_frames_end(&fs);
	free(text);
}

/* ---- query: what userspace reads (pagemap, kpagecount, smaps) ----------------------- */

/* smaps in PSS_SHIFT fixed point, per VMA (fs/proc/task_mmu.c struct mem_size_stats) */
#define PSS_SHIFT 12
struct smaps_acc {
	uint64_t rss, pss, anonhuge;	/* bytes; pss << PSS_SHIFT */
	uint64_t shared[2], private_[2]; /* bytes: [0] clean, [1] dirty */
};

static fm_query query_page(struct run *r, struct folio *f, unsigned int page)
{
	fm_query q;

	if (t_query(f, page, &q) != FM_OK) {
		fprintf(stderr, "%s: internal error: fm_folio_query\n", r->path);
		exit(3);
	}
	return q;
}

/* task_mmu.c:smaps_account for `nr` present pages of `f` from `page` (nr > 1: a PMD);
 * smaps_page_accumulate: dirty when the entry or the folio is (pte_dirty ||
 * folio_test_dirty), which the simulator keeps per folio (struct folio `clean`). */
static void smaps_account(struct run *r, struct smaps_acc *a, struct folio *f,
			  unsigned int page, unsigned int nr)
{
	bool pmc = r->s.mode == FM_MODE_PMC;
	int mapcount = 0, dirty = !f->clean;
	bool exclusive = false;

	a->rss += nr * CSIM_PAGE_SIZE;
	/* refcount 1: mapped exactly once, the whole size is private. The kernel's refcount
	 * may be higher (a per-CPU LRU batch reference, not modelled; no drain here): the
	 * mapcount path below then gives the same answer, as mapcount <= refcount. */
	if (f->f.refcount == 1) {
		a->pss += (nr * CSIM_PAGE_SIZE) << PSS_SHIFT;
		a->private_[dirty] += nr * CSIM_PAGE_SIZE;
		return;
	}
	if (!pmc) { /* CONFIG_NO_PAGE_MAPCOUNT: one answer for the whole folio */
		fm_query q = query_page(r, f, page);

		mapcount = q.average_page_mapcount;
		exclusive = !q.maybe_mapped_shared;
	}
	for (unsigned int i = 0; i < nr; i++) {
		uint64_t pss = CSIM_PAGE_SIZE << PSS_SHIFT;

		if (pmc) {
			mapcount = query_page(r, f, page + i).precise_page_mapcount;
			exclusive = mapcount < 2;
		}
		if (mapcount >= 2)
			pss /= (uint64_t)mapcount;
		a->pss += pss;
		if (exclusive)
			a->private_[dirty] += CSIM_PAGE_SIZE;
		else
			a->shared[dirty] += CSIM_PAGE_SIZE;
	}
}

/* smaps of one VMA (show_smap -> smap_gather_stats): a huge PMD through smaps_pmd_entry
 * (AnonHugePages, all 512 pages at once), a present PTE through smaps_pte_entry; the
 * (huge) zeropage is not a "normal" page (vm_normal_page) and counts nowhere. */
static void smaps_vma(struct run *r, struct proc *p, const struct vma *v, struct smaps_acc *a)
{
	for (uint64_t addr = v->start; addr < v->end;) {
		const struct pmd *d = sim_pmd(p, addr);
		struct pte *pte;

		if (!d) { /* nothing populated in this PMD */
			addr = (addr / CSIM_PMD_SIZE + 1) * CSIM_PMD_SIZE;
			continue;
		}
		if (d->huge) { /* a VMA boundary inside a PMD would have split it */
			a->anonhuge += CSIM_PMD_SIZE;
			smaps_account(r, a, d->huge, 0, CSIM_PTRS_PER_PT);
			addr += CSIM_PMD_SIZE;
			continue;
		}
		pte = d->table ? &d->table[(addr / CSIM_PAGE_SIZE) % CSIM_PTRS_PER_PT] : NULL;
		if (pte && (pte->flags & PTE_PRESENT) && pte->folio)
			smaps_account(r, a, pte->folio, pte->page, 1);
		addr += CSIM_PAGE_SIZE;
	}
}

static void render_query(struct run *r, const struct step *st, struct proc *p, uint64_t start,
			 uint64_t end, struct buf *b)
{
	struct scn_query q = { .n = (int)((end - start) / CSIM_PAGE_SIZE) };
	int nr_vmas = 0;

	q.excl = calloc((size_t)q.n, sizeof(*q.excl));
	q.kpc = calloc((size_t)q.n, sizeof(*q.kpc));
	if (!q.excl || !q.kpc) {
		fprintf(stderr, "csim: out of memory\n");
		exit(3);
	}
	for (int k = 0; k < q.n; k++) {
		uint64_t addr = start + (uint64_t)k * CSIM_PAGE_SIZE;
		struct folio *f;
		unsigned int page;

		switch (sim_lookup(&r->s, p, addr, &f, &page)) {
		case LOOK_NONE:
			q.excl[k] = q.kpc[k] = SCN_Q_NONE;
			break;
		case LOOK_ZERO: case LOOK_HUGE_ZERO:
			/* present, not a normal page: no PM_MMAP_EXCLUSIVE; the zero pages are
			 * never rmapped, their kpagecount is 0 */
			q.excl[k] = q.kpc[k] = 0;
			break;
		case LOOK_FOLIO:
			q.kpc[k] = query_page(r, f, page).kpagecount;
			/* pagemap_pmd_range_thp asks about the PMD's head page for all 512
			 * entries, pte_to_pagemap_entry about the page itself */
			if (sim_pmd(p, addr)->huge == f)
				page = 0;
			q.excl[k] = query_page(r, f, page).pm_mmap_exclusive;
			break;
		}
	}
	/* show_smap of every VMA the range touches; each prints kB, Pss >> PSS_SHIFT */
	for (int i = 0; i < p->nr_vmas; i++) {
		struct smaps_acc a = { 0 };

		if (p->vmas[i].end <= start || p->vmas[i].start >= end)
			continue;
		nr_vmas++;
		smaps_vma(r, p, &p->vmas[i], &a);
		q.rss += a.rss >> 10;
		q.pss += (a.pss >> PSS_SHIFT) >> 10;
		for (int d = 0; d < 2; d++) {
			q.shared[d] += a.shared[d] >> 10;
			q.private_[d] += a.private_[d] >> 10;
		}
		q.anonhuge += a.anonhuge >> 10;
	}
	if (!nr_vmas)
		scn_die(r->path, st->line, "%s: query of a range without a VMA", p->name);
	scn_render_query(b, &q);
	free(q.excl);
	free(q.kpc);
}

/* ---- running --------------------------------------------------------------------------- */

static struct proc *actor(struct run *r, const struct step *st)
{
	struct proc *p = sim_proc(&r->s, st->actor);

	if (!p)
		scn_die(r->path, st->line, "no live process '%s'", st->actor);
	return p;
}

/* Resolves REGION+OFF [LEN] in p; `whole` = default length is the rest of the region. */
static void resolve(struct run *r, const struct step *st, struct proc *p, bool whole,
		    uint64_t *start, uint64_t *end)
{
	int ri = sim_region(&r->s, p, st->a.region);
	struct region *reg;

	if (ri < 0)
		scn_die(r->path, st->line, "%s has no region '%s'", p->name, st->a.region);
	reg = &p->regions[ri];
	if (st->a.off >= reg->size)
		scn_die(r->path, st->line, "offset %#llx is outside region %s (%#llx bytes)",
		    (unsigned long long)st->a.off, reg->name, (unsigned long long)reg->size);
	*start = reg->base + st->a.off;
	*end = *start + (st->a.len ? st->a.len : whole ? reg->size - st->a.off : 1);
	if (*end > reg->base + reg->size)
		scn_die(r->path, st->line, "range runs past the end of region %s", reg->name);
	if ((whole || st->a.len) && st->a.off % CSIM_PAGE_SIZE)
		scn_die(r->path, st->line, "a range must start on a page boundary");
}


static void render_outcomes(struct run *r, struct buf *b)
{
	for (int k = 0; k < r->nr_last_acc;) {
		int j = k;

		while (j + 1 < r->nr_last_acc && r->last_acc[j + 1] == r->last_acc[k])
			j++;
		scn_put(b, "%s%s", k ? " " : "", outcome_name(r->last_acc[k]));
		if (j > k)
			scn_put(b, "*%d", j - k + 1);
		k = j + 1;
	}
}

static void expect_failed(struct run *r, const struct step *st, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", r->path, st->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->failures++;
}

static struct proc *show_proc(struct run *r, const struct step *st)
{
	if (!r->have_show)
		scn_die(r->path, st->line, "'expect %s' needs a preceding 'show'", st->expect[0]);
	return sim_proc(&r->s, r->show_proc);
}

/* The folio the last `show` looks at for address addr (a range show: the one at addr,
 * which must be in the range; else the one at its address), or NULL. */
static struct folio *shown_folio(struct run *r, const struct step *st, uint64_t addr,
				 unsigned int *page)
{
	struct proc *p = show_proc(r, st);
	struct folio *f;

	if (!r->show_end)
		addr = r->show_addr;
	else if (addr < r->show_addr || addr >= r->show_end)
		scn_die(r->path, st->line, "'expect %s': %#llx is outside the range of the last 'show'",
			st->expect[0], (unsigned long long)addr);
	if (!p || sim_lookup(&r->s, p, addr, &f, page) != LOOK_FOLIO)
		return NULL;
	return f;
}

/*
 * The frames of the last `show` as they are now (a single-address show: one, the folio at
 * its address). Returns the number of frames, at most CSIM_PMD_SIZE / CSIM_PAGE_SIZE.
 */
static int shown_frames(struct run *r, const struct step *st, struct frame *fr)
{
	struct proc *p = show_proc(r, st);
	int n = 0;

	if (!p) {
		fr[0] = (struct frame){ .addr = r->show_addr, .kind = LOOK_NONE };
		return 1;
	}
	if (!r->show_end) {
		frame_at(&r->s, p, r->show_addr, r->show_addr + CSIM_PAGE_SIZE, &fr[0]);
		return 1;
	}
	for (uint64_t a = r->show_addr; a < r->show_end; a += fr[n++].len)
		frame_at(&r->s, p, a, r->show_end, &fr[n]);
	return n;
}

/* " at R+0x1000" for frame fr of a range show, "" for a single-address show */
static const char *frame_where(struct run *r, const struct frame *fr, char *buf, size_t len)
{
	if (!r->show_end)
		return "";
	snprintf(buf, len, " at %s+0x%llx", r->show_region,
		 (unsigned long long)(r->show_off + (fr->addr - r->show_addr)));
	return buf;
}

/*
 * expect stat NAME=N...: the change of NR_ANON_MAPPED (anon) / NR_ANON_THPS (thp), in
 * pages, over the last step that changes something; expect total: since the first line.
 */
static void expect_stats(struct run *r, const struct step *st)
{
	bool total = !strcmp(st->expect[0], "total");
	struct t_mapped_stats now = t_mapped_stats();
	const struct t_mapped_stats *base = total ? &r->at_start : &r->before_change;

	if (!total && !r->have_change)
		scn_die(r->path, st->line, "'expect stat' needs a preceding step");
	for (int i = 1; i < st->nr_expect; i++) {
		const char *t = st->expect[i];
		bool thp = !strncmp(t, "thp=", 4);
		long long want = 0, got;

		scn_parse_count(strchr(t, '=') + 1, &want); /* checked by the parser */
		got = thp ? now.anon_thps - base->anon_thps : now.anon_mapped - base->anon_mapped;
		r->checked++;
		if (got != want)
			expect_failed(r, st, "expected %s %s=%+lld, got %+lld", st->expect[0],
				      thp ? "thp" : "anon", want, got);
	}
}

/*
 * expect pte PROC ADDR [LEN] ENTRY / expect pmd PROC ADDR ENTRY: every entry of the range
 * (rw / ro / copy: relative to the folio of the last `show`, which they need).
 */
static void expect_view(struct run *r, const struct step *st)
{
	bool pte = !strcmp(st->expect[0], "pte");
	const char *want = st->expect[st->nr_expect - 1];
	bool relative = !strcmp(want, "rw") || !strcmp(want, "ro") || !strcmp(want, "copy");
	struct proc *p = sim_proc(&r->s, st->name);
	uint64_t start, end, step = pte ? CSIM_PAGE_SIZE : CSIM_PMD_SIZE;
	unsigned int page;

	if (!p)
		scn_die(r->path, st->line, "no live process '%s'", st->name);
	resolve(r, st, p, false, &start, &end);
	r->checked++;
	for (uint64_t a = start; a < end; a += step) {
		struct folio *shown = relative ? shown_folio(r, st, a, &page) : NULL;
		const char *got;

		if (relative && !shown) {
			expect_failed(r, st, "expected %s %s at %#llx, got no folio at the last show",
				      st->expect[0], want, (unsigned long long)(a - start + st->a.off));
			return;
		}
		got = pte ? sim_pte_view(p, a, shown) : sim_pmd_view(p, a, shown);
		if (strcmp(got, want)) {
			expect_failed(r, st, "expected %s %s at %#llx, got %s", st->expect[0], want,
				      (unsigned long long)(a - start + st->a.off), got);
			return;
		}
	}
}

/* expect field NAME=VALUE...: of one folio of the last show, where: "" or " at R+0x..." */
static void expect_fields(struct run *r, const struct step *st, struct folio *f,
			  unsigned int page, const char *where)
{
	for (int i = 1; i < st->nr_expect; i++) {
		char name[32];
		const char *eq = strchr(st->expect[i], '=');
		static struct buf got_buf, want_buf; /* 64K each: not on the stack per field */
		struct buf *got = &got_buf, *want = &want_buf;
		size_t nl = eq ? (size_t)(eq - st->expect[i]) : 0;
		unsigned long k;
		bool unused;
		char *end;

		if (!eq || !nl || nl >= sizeof(name))
			scn_die(r->path, st->line, "expect field: '%s' is not NAME=VALUE",
				st->expect[i]);
		memcpy(name, st->expect[i], nl);
		name[nl] = 0;
		if (!f) {
			expect_failed(r, st, "expected %s%s, got no folio", st->expect[i], where);
			continue;
		}
		scn_buf_clear(got);
		scn_buf_clear(want);
		/* pmc[K] / pae[K]: one page */
		if (sscanf(name, "pmc[%lu", &k) == 1 || sscanf(name, "pae[%lu", &k) == 1) {
			end = strchr(name, ']');
			if (!end || end[1] || k >= (1ul << f->order))
				scn_die(r->path, st->line, "bad page index in '%s'%s", name, where);
			if (name[1] == 'm') {
				if (r->s.mode != FM_MODE_PMC && !f->order)
					continue; /* [PMC]-only, as `pmc` (order 0: `mapcount`) */
				scn_put(got, "%d", f->pages[k].mapcount);
			} else {
				scn_put(got, "%d", !!(f->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE));
			}
		} else if (!strcmp(name, "folio_mapcount") || !strcmp(name, "expected_ref")) {
			fm_query q; /* spec §4: the queries, not shown by `show` */

			if (t_query(f, page, &q) != FM_OK)
				scn_die(r->path, st->line, "internal error: fm_folio_query");
			scn_put(got, "%d", name[0] == 'f' ? q.mapcount : q.expected_ref_count);
		} else if (!strcmp(name, "pmc") && r->s.mode != FM_MODE_PMC && f->order) {
			render_pmc(got, f);
		} else if (!render_field(&r->s, f, name, got)) {
			if ((!strcmp(name, "nrpm") || !strcmp(name, "pmc")) &&
			    r->s.mode != FM_MODE_PMC)
				continue; /* [PMC]-only fields are skipped in nopmc */
			scn_die(r->path, st->line, "unknown field '%s' for an order-%u folio%s",
				name, f->order, where);
		}
		unused = r->s.mode != FM_MODE_PMC && f->order && !strncmp(name, "pmc", 3);
		if (unused) /* [NOPMC] the per-page _mapcount is unused: it stays -1 (spec
			     * §11.0) on every page named, whatever [PMC] value is written */
			scn_put(want, name[3] ? "-1" : "[-1*%u]", 1u << f->order);
		else
			scn_put(want, "%s", eq + 1);
		r->checked++;
		if (strcmp(got->s, want->s))
			expect_failed(r, st, "expected %s=%s%s%s, got %s=%s", name, want->s,
				      unused ? " (nopmc: unused, -1)" : "", where, name, got->s);
	}
}

static void run_expect(struct run *r, const struct step *st)
{
	static struct frame frames[CSIM_PMD_SIZE / CSIM_PAGE_SIZE];
	const char *w = st->expect[0];
	char where[64];
	int n;

	/* What the shadow checker must have checked: only the kernel executor counts. */
	if (!strcmp(w, "checked"))
		return;

	/* expect shared / exclusive / field: of every folio the last show printed */
	if (!strcmp(w, "shared") || !strcmp(w, "exclusive")) {
		n = shown_frames(r, st, frames);
		for (int i = 0; i < n; i++) {
			const struct frame *fr = &frames[i];
			fm_query q;

			frame_where(r, fr, where, sizeof(where));
			if (fr->kind != LOOK_FOLIO) {
				expect_failed(r, st, "expected %s%s, got no folio", w, where);
				continue;
			}
			if (t_query(fr->f, fr->page, &q) != FM_OK)
				scn_die(r->path, st->line, "internal error: fm_folio_query");
			r->checked++;
			if (q.maybe_mapped_shared != !strcmp(w, "shared"))
				expect_failed(r, st, "expected %s%s, got %s", w, where,
					      q.maybe_mapped_shared ? "shared" : "exclusive");
		}
		return;
	}
	if (!strcmp(w, "stat") || !strcmp(w, "total")) {
		expect_stats(r, st);
		return;
	}
	if (!strcmp(w, "pte") || !strcmp(w, "pmd")) {
		expect_view(r, st);
		return;
	}
	if (!strcmp(w, "field")) {
		n = shown_frames(r, st, frames);
		for (int i = 0; i < n; i++)
			expect_fields(r, st, frames[i].kind == LOOK_FOLIO ? frames[i].f : NULL,
				      frames[i].page, frame_where(r, &frames[i], where, sizeof(where)));
		return;
	}
	if (st->nr_expect != 1)
		scn_die(r->path, st->line, "usage: expect WORD");
	for (int i = 0; i < ACC_NR; i++) {
		if (strcasecmp(w, outcome_name((enum access_outcome)i)))
			continue;
		if (!r->nr_last_acc)
			scn_die(r->path, st->line, "'expect %s' needs a preceding access", w);
		r->checked++;
		for (int k = 0; k < r->nr_last_acc; k++) {
			if (r->last_acc[k] != (enum access_outcome)i) {
				struct buf got = { .n = 0 };

				render_outcomes(r, &got);
				expect_failed(r, st, "expected %s, got %s", w, got.s);
				break;
			}
		}
		return;
	}
	if (!strcasecmp(w, "split") || !strcasecmp(w, "skipped") || !strcasecmp(w, "migrated") ||
	    !strcasecmp(w, "partial") || !strcasecmp(w, "failed")) {
		if (!r->last_word)
			scn_die(r->path, st->line, "'expect %s' needs a preceding split or migrate", w);
		r->checked++;
		if (strcasecmp(w, r->last_word))
			expect_failed(r, st, "expected %s, got %s", w, r->last_word);
		return;
	}
	scn_die(r->path, st->line, "unknown expectation '%s'", w);
}

static void run_step(struct run *r, const struct step *st)
{
	struct sim *s = &r->s;
	struct buf b = { .n = 0 };
	struct proc *p = NULL;
	uint64_t start, end;
	int rc = 0;

	if (st->verb == V_EXPECT) {
		if (!st->expect_mode || st->expect_mode == s->mode)
			run_expect(r, st);
		return;
	}
	if (st->verb != V_SHOW && st->verb != V_QUERY) {
		r->before_change = t_mapped_stats();
		r->have_change = true;
	}
	if (st->actor[0])
		p = actor(r, st);
	scn_echo(st, &b);
	switch (st->verb) {
	case V_THP:
		for (unsigned int o = 2; o <= FM_MAX_ORDER; o++)
			if (!st->size || st->size == CSIM_PAGE_SIZE << o)
				s->thp[o] = st->flag;
		break;
	case V_SPAWN:
		rc = sim_spawn(s, st->name);
		break;
	case V_MMAP:
		rc = sim_mmap(s, p, st->name, st->size, st->misalign);
		break;
	case V_WRITE: case V_READ: case V_PIN:
		resolve(r, st, p, false, &start, &end);
		r->nr_last_acc = 0;
		for (uint64_t a = start; a < end && !rc; a = (a | (CSIM_PAGE_SIZE - 1)) + 1) {
			enum access_outcome o;

			if (st->verb == V_PIN)
				rc = sim_pin(s, p, a & ~(CSIM_PAGE_SIZE - 1), st->flag, &o);
			else
				rc = sim_access(s, p, a, st->verb == V_WRITE, &o);
			if (!rc && r->nr_last_acc < 512)
				r->last_acc[r->nr_last_acc++] = o;
		}
		if (!rc) {
			scn_put(&b, ": ");
			render_outcomes(r, &b);
		}
		break;
	case V_UNPIN: {
		int nr;

		resolve(r, st, p, false, &start, &end);
		rc = sim_unpin(s, p, start, end, &nr);
		break;
	}
	case V_FORK:
		rc = sim_fork(s, p, st->name);
		break;
	case V_EXIT:
		rc = sim_exit(s, p);
		break;
	case V_MUNMAP:
		resolve(r, st, p, true, &start, &end);
		rc = sim_munmap(s, p, start, end);
		break;
	case V_MADVISE:
		resolve(r, st, p, true, &start, &end);
		rc = sim_madv_dontneed(s, p, start, end);
		break;
	case V_MPROTECT:
		resolve(r, st, p, true, &start, &end);
		rc = sim_mprotect(s, p, start, end, st->flag);
		break;
	case V_MREMAP: {
		int ri = sim_region(s, p, st->a.region);

		if (ri < 0)
			scn_die(r->path, st->line, "%s has no region '%s'", p->name, st->a.region);
		rc = sim_mremap(s, p, ri, st->misalign);
		break;
	}
	case V_MIGRATE: {
		int moved, failed;

		resolve(r, st, p, true, &start, &end);
		rc = sim_migrate(s, p, start, end, st->node, !st->flag, &moved, &failed);
		r->last_word = failed == 0 ? "MIGRATED" : moved ? "PARTIAL" : "FAILED";
		scn_put(&b, ": %s", r->last_word);
		break;
	}
	case V_SPLIT: {
		bool split;

		resolve(r, st, p, false, &start, &end);
		rc = sim_split(s, p, start, &split);
		r->last_word = split ? "SPLIT" : "SKIPPED";
		scn_put(&b, ": %s", r->last_word);
		break;
	}
	case V_SHOW:
		resolve(r, st, p, false, &start, &end);
		if (st->a.len) {
			render_range(r, st, p, start, end, &b);
		} else {
			struct frame fr;
			size_t echo = b.n;

			frame_at(s, p, start, start + CSIM_PAGE_SIZE, &fr);
			scn_put(&b, ": ");
			render_frame(s, &fr, &b);
			if (svg_enabled()) {
				char title[256];

				snprintf(title, sizeof(title), "%.*s", (int)echo, b.s);
				show_picture(r, st, &fr, title, b.s + echo + 2);
			}
		}
		snprintf(r->show_proc, sizeof(r->show_proc), "%s", p->name);
		snprintf(r->show_region, sizeof(r->show_region), "%s", st->a.region);
		r->show_addr = start;
		r->show_off = st->a.off;
		r->show_end = st->a.len ? end : 0;
		r->have_show = true;
		break;
	case V_QUERY:
		resolve(r, st, p, true, &start, &end);
		render_query(r, st, p, start, end, &b);
		break;
	case V_EXPECT:
		break;
	}
	if (rc)
		scn_die(r->path, st->line, "%s", s->err);
	if (b.overflow)
		scn_die(r->path, st->line, "internal error: the transcript line is longer than %zu bytes",
			sizeof(b.s) - 1);
	fprintf(r->out, "%s\n", b.s);
	if (r->states && st->verb != V_SHOW && st->verb != V_QUERY)
		print_states(r);
	if (sim_check(s)) {
		fprintf(stderr, "%s:%d: internal inconsistency: %s\n", r->path, st->line, s->err);
		exit(3);
	}
}

int scenario_run(const char *path, uint32_t mode, bool states, FILE *out)
{
	struct step *steps;
	int nr, failures;
	struct run *r;

	scn_parse_file(path, &steps, &nr);

	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "csim: out of memory\n");
		exit(3);
	}
	r->path = path;
	r->out = out;
	r->states = states;
	sim_init(&r->s, mode);
	r->at_start = t_mapped_stats();
	for (int i = 0; i < nr; i++)
		run_step(r, &steps[i]);
	failures = r->failures;
	if (states)
		fprintf(out, "%s: %d expectations checked, %d failed\n", path, r->checked,
			failures);
	sim_destroy(&r->s);
	scn_free_steps(steps, nr);
	free(r);
	return failures ? 1 : 0;
}
