// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The simulated machine: processes (mm + mm id), VMAs, x86-64 page tables with PTE and
 * PMD entries, folios. Each operation makes exactly the library calls the kernel's call
 * sites make (spec §3.11), with the kernel's batch sizes (spec §3.7, §5.2, §6.2).
 */
#include "csim.h"
#include "trace.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A library call that must succeed: a refusal means the simulator or the model is wrong. */
#define FM(call) fm_ok((call), #call, __LINE__)

uint64_t csim_fm_calls;

static void fm_ok(fm_status st, const char *what, int line)
{
	csim_fm_calls++;
	if (st == FM_OK)
		return;
	fprintf(stderr, "csim: internal error at sim.c:%d: %s: %s\n", line, what,
		fm_status_str(st));
	exit(3);
}

static int fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return -1;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "csim: out of memory\n");
		exit(3);
	}
	return p;
}

static int slot_of(struct sim *s, const struct proc *p)
{
	return (int)(p - s->procs);
}

static void count_pm(struct sim *s, const fm_rmap_outcome *o)
{
	if (o->newly_partially_mapped)
		s->st.newly_partially_mapped++;
}

/* ---- folios ------------------------------------------------------------------------ */

static struct folio *folio_new(struct sim *s, unsigned int order, int node)
{
	struct folio *f = xcalloc(1, sizeof(*f));
	uint32_t n = 1u << order;

	f->order = order;
	f->node = node;
	f->pages = xcalloc(n, sizeof(fm_page));
	f->nonzero = xcalloc(n, 1);
	FM(t_init(f, s->mode, order, f->pages, n));
	f->next = s->folios;
	if (s->folios)
		s->folios->prev = f;
	s->folios = f;
	s->nr_folios++;
	s->st.folios_by_order[order]++;
	return f;
}

static void folio_free(struct sim *s, struct folio *f)
{
	t_retire(f);
	if (f->prev)
		f->prev->next = f->next;
	else
		s->folios = f->next;
	if (f->next)
		f->next->prev = f->prev;
	s->nr_folios--;
	free(f->pages);
	free(f->nonzero);
	free(f);
}

/* Frees the folio once the library says its last reference is gone. */
static void folio_reap(struct sim *s, struct folio *f)
{
	if (f && f->f.refcount == 0)
		folio_free(s, f);
}

static bool page_pae(const struct folio *f, unsigned int k)
{
	return f->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE;
}

int sim_mms_mapping(const struct folio *f)
{
	int n = 0;

	for (int i = 0; i < CSIM_MAX_PROCS; i++)
		n += f->maps[i] != 0;
	return n;
}

/* ---- page tables ------------------------------------------------------------------- */

static uint64_t pmd_base(uint64_t addr)
{
	return addr & ~(CSIM_PMD_SIZE - 1);
}

/* The PMD entry of `addr`, NULL when its chunk does not exist (nothing populated there):
 * for lookups, which must not allocate. */
static struct pmd *pmd_find(const struct proc *p, uint64_t addr)
{
	uint64_t i = addr / CSIM_PMD_SIZE;
	struct pmd *c = p->pmd_chunk[i / CSIM_PMD_CHUNK];

	return c ? &c[i % CSIM_PMD_CHUNK] : NULL;
}

const struct pmd *sim_pmd(const struct proc *p, uint64_t addr)
{
	return pmd_find(p, addr);
}

/* The PMD entry of `addr`, its chunk allocated if needed: for the paths that populate it.
 * Chunks are never moved, so a pointer to an entry stays valid until free_pgtables. */
static struct pmd *pmd_at(struct proc *p, uint64_t addr)
{
	uint64_t i = addr / CSIM_PMD_SIZE;
	unsigned int c = (unsigned int)(i / CSIM_PMD_CHUNK);

	if (!p->pmd_chunk[c]) {
		p->pmd_chunk[c] = xcalloc(CSIM_PMD_CHUNK, sizeof(struct pmd));
		p->chunk_list[p->nr_chunks++] = (uint16_t)c;
	}
	return &p->pmd_chunk[c][i % CSIM_PMD_CHUNK];
}

static bool pmd_none(const struct pmd *d)
{
	return !d->table && !d->huge && !d->flags;
}

/* Frees chunk `c` when no entry of it is populated any more. */
static void chunk_reclaim(struct proc *p, unsigned int c)
{
	struct pmd *d = p->pmd_chunk[c];

	if (!d)
		return;
	for (unsigned int k = 0; k < CSIM_PMD_CHUNK; k++)
		if (!pmd_none(&d[k]))
			return;
	free(d);
	p->pmd_chunk[c] = NULL;
	for (int i = 0; i < p->nr_chunks; i++)
		if (p->chunk_list[i] == c) {
			p->chunk_list[i] = p->chunk_list[--p->nr_chunks];
			break;
		}
}

/* Freed PTE tables are kept for reuse (up to CSIM_PT_POOL): fork and exit allocate and
 * free them by the thousand, and malloc/free of 8 KiB blocks cost more than the memset. */
static void pt_free(struct sim *s, struct pte *table)
{
	if (!table)
		return;
	if (s->nr_pt_pool < CSIM_PT_POOL)
		s->pt_pool[s->nr_pt_pool++] = table;
	else
		free(table);
}

static void pt_alloc(struct sim *s, struct pmd *d)
{
	if (d->table)
		return;
	if (s->nr_pt_pool) {
		d->table = s->pt_pool[--s->nr_pt_pool];
		memset(d->table, 0, CSIM_PTRS_PER_PT * sizeof(struct pte));
	} else {
		d->table = xcalloc(CSIM_PTRS_PER_PT, sizeof(struct pte));
	}
}

/* Every page table and chunk of `p` (exit, teardown): only the allocated chunks. */
static void free_all_pgtables(struct sim *s, struct proc *p)
{
	for (int i = 0; i < p->nr_chunks; i++) {
		struct pmd *d = p->pmd_chunk[p->chunk_list[i]];

		for (unsigned int k = 0; k < CSIM_PMD_CHUNK; k++)
			pt_free(s, d[k].table);
		free(d);
		p->pmd_chunk[p->chunk_list[i]] = NULL;
	}
	p->nr_chunks = 0;
}

static unsigned int pte_index(uint64_t addr)
{
	return (unsigned int)((addr / CSIM_PAGE_SIZE) % CSIM_PTRS_PER_PT);
}

static struct pte *pte_at(const struct proc *p, uint64_t addr)
{
	struct pmd *d = pmd_find(p, addr);

	return d && d->table ? &d->table[pte_index(addr)] : NULL;
}

static bool pmd_is_huge(const struct pmd *d)
{
	return d->huge || (d->flags & PTE_ZERO);
}

static void map_pte(struct sim *s, struct proc *p, struct pte *pte, struct folio *f,
		    unsigned int page, uint8_t flags)
{
	pte->folio = f;
	pte->page = (uint16_t)page;
	pte->flags = PTE_PRESENT | flags;
	pte->entry = 0;
	if (f)
		f->maps[slot_of(s, p)]++;
}

static void clear_pte(struct sim *s, struct proc *p, struct pte *pte)
{
	if ((pte->flags & PTE_PRESENT) && pte->folio)
		pte->folio->maps[slot_of(s, p)]--;
	memset(pte, 0, sizeof(*pte));
}

/* ---- processes and VMAs ------------------------------------------------------------ */

struct proc *sim_proc(struct sim *s, const char *name)
{
	for (int i = 0; i < CSIM_MAX_PROCS; i++)
		if (s->procs[i].live && !strcmp(s->procs[i].name, name))
			return &s->procs[i];
	return NULL;
}

const char *sim_id_name(struct sim *s, uint32_t id)
{
	if (id == FM_MM_ID_DUMMY)
		return "0";
	for (int i = 0; i < CSIM_MAX_PROCS; i++)
		if (s->procs[i].live && s->procs[i].mm_id == id)
			return s->procs[i].name;
	return "?"; /* a slot outliving its mm: impossible (spec §2.5.1) */
}

static struct proc *proc_new(struct sim *s, const char *name)
{
	struct proc *p = NULL;

	if (strlen(name) >= CSIM_NAME_LEN) {
		fail(s, "process name '%s' is too long", name);
		return NULL;
	}
	if (sim_proc(s, name)) {
		fail(s, "process '%s' already exists", name);
		return NULL;
	}
	for (int i = 0; i < CSIM_MAX_PROCS && !p; i++)
		if (!s->procs[i].live)
			p = &s->procs[i];
	if (!p) {
		fail(s, "more than %d live processes", CSIM_MAX_PROCS);
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->live = true;
	s->live_mask |= 1ull << slot_of(s, p);
	/* mm_init() -> mm_alloc_id(): the smallest free id (spec §1.7) */
	FM(fm_mm_ids_alloc(&s->ids, &p->mm_id));
	return p;
}

int sim_spawn(struct sim *s, const char *name)
{
	return proc_new(s, name) ? 0 : -1;
}

int sim_region(struct sim *s, struct proc *p, const char *name)
{
	(void)s;
	for (int i = 0; i < p->nr_regions; i++)
		if (p->regions[i].live && !strcmp(p->regions[i].name, name))
			return i;
	return -1;
}

static int find_vma(const struct proc *p, uint64_t addr)
{
	for (int i = 0; i < p->nr_vmas; i++)
		if (addr >= p->vmas[i].start && addr < p->vmas[i].end)
			return i;
	return -1;
}

static bool range_has_vma(const struct proc *p, uint64_t start, uint64_t end)
{
	for (int i = 0; i < p->nr_vmas; i++)
		if (p->vmas[i].start < end && p->vmas[i].end > start)
			return true;
	return false;
}

static void vma_insert(struct proc *p, const struct vma *v)
{
	int i;

	if (p->nr_vmas == p->cap_vmas) {
		p->cap_vmas = p->cap_vmas ? 2 * p->cap_vmas : 8;
		p->vmas = realloc(p->vmas, (size_t)p->cap_vmas * sizeof(*p->vmas));
		if (!p->vmas) {
			fprintf(stderr, "csim: out of memory\n");
			exit(3);
		}
	}
	for (i = p->nr_vmas; i > 0 && p->vmas[i - 1].start > v->start; i--)
		p->vmas[i] = p->vmas[i - 1];
	p->vmas[i] = *v;
	p->nr_vmas++;
}

static void vma_remove(struct proc *p, int i)
{
	memmove(&p->vmas[i], &p->vmas[i + 1], (size_t)(p->nr_vmas - i - 1) * sizeof(*p->vmas));
	p->nr_vmas--;
}

/* The VMA's anon_vma_chain entries are (re)inserted into the anon_vma interval trees
 * now (mm/rmap.c anon_vma_chain_link; mm/vma.c vma_complete re-inserts a VMA that
 * vma_prepare removed to adjust it): among VMAs of equal pgoff the rmap walk visits it
 * after every VMA inserted before (mm/interval_tree.c: equal keys go right). */
static void avc_insert(struct sim *s, struct vma *v)
{
	if (v->anon_vma)
		v->avc_seq = ++s->next_avc_seq;
}

/* Adjacent, contiguous pgoff, flags equal apart from the protection (mm/vma.c
 * anon_vma_compatible). Pieces of one region are contiguous; regions never touch. */
static bool vma_compatible(const struct vma *a, const struct vma *b)
{
	return a->end == b->start && a->region == b->region && a->account == b->account;
}

/* The first fault of a VMA gives it an anon_vma (mm/rmap.c __anon_vma_prepare): a
 * compatible neighbour's whose anon_vma_chain is singular (mm/vma.c
 * find_mergeable_anon_vma: next first, then prev), else a new one. */
static void anon_vma_prepare(struct sim *s, struct proc *p, struct vma *v)
{
	int i = (int)(v - p->vmas);
	const struct vma *next = i + 1 < p->nr_vmas ? &p->vmas[i + 1] : NULL;
	const struct vma *prev = i > 0 ? &p->vmas[i - 1] : NULL;

	if (v->anon_vma)
		return;
	if (next && vma_compatible(v, next) && next->anon_vma && !next->fork_child)
		v->anon_vma = next->anon_vma;
	else if (prev && vma_compatible(prev, v) && prev->anon_vma && !prev->fork_child)
		v->anon_vma = prev->anon_vma;
	else
		v->anon_vma = ++s->next_anon_vma;
	avc_insert(s, v);
}

/* mm/vma.c is_mergeable_vma and is_mergeable_anon_vma: the same flags, and the same
 * anon_vma, or only one of them has one and it is not a fork child's. */
static bool vma_mergeable(const struct vma *a, const struct vma *b)
{
	if (!vma_compatible(a, b) || a->writable != b->writable)
		return false;
	if (a->anon_vma && b->anon_vma)
		return a->anon_vma == b->anon_vma;
	return !(a->anon_vma ? a->fork_child : b->fork_child);
}

/* mprotect's merge (mm/vma.c vma_merge_existing_range): a VMA of [start, end) merges
 * with its mergeable neighbours; the expanded VMA is re-inserted into the trees. */
static void vma_merge(struct sim *s, struct proc *p, uint64_t start, uint64_t end)
{
	for (int i = 0; i + 1 < p->nr_vmas;) {
		struct vma *a = &p->vmas[i], *b = &p->vmas[i + 1];
		bool touched = (a->start < end && a->end > start) ||
			       (b->start < end && b->end > start);

		if (touched && vma_mergeable(a, b)) {
			a->end = b->end;
			if (!a->anon_vma) { /* dup_anon_vma */
				a->anon_vma = b->anon_vma;
				a->fork_child = b->fork_child;
			}
			vma_remove(p, i + 1);
			avc_insert(s, a);
		} else {
			i++;
		}
	}
}

/* ---- PMD level ----------------------------------------------------------------------- */

/* __split_huge_pmd (non-freeze, spec §6.1): 512 PTEs with the PMD's write bit. */
static void split_huge_pmd(struct sim *s, struct proc *p, struct pmd *d)
{
	bool writable = d->flags & PTE_WRITE;
	struct folio *f = d->huge;
	fm_split_pmd_outcome o;

	if (!pmd_is_huge(d))
		return;
	pt_alloc(s, d);
	d->flags = 0;
	d->huge = NULL;
	if (!f) { /* huge zeropage: zeropage PTEs, no rmap (spec §6.1) */
		for (unsigned int k = 0; k < CSIM_PTRS_PER_PT; k++)
			map_pte(s, p, &d->table[k], NULL, 0, PTE_ZERO);
		return;
	}
	FM(t_split_pmd(f, p->mm_id, false, writable, &o));
	count_pm(s, &o.add);
	count_pm(s, &o.remove);
	f->maps[slot_of(s, p)]--;
	for (unsigned int k = 0; k < CSIM_PTRS_PER_PT; k++)
		map_pte(s, p, &d->table[k], f, k, writable ? PTE_WRITE : 0);
	s->st.pmd_splits++;
}

/* __split_vma; vma_adjust_trans_huge: a VMA boundary inside a huge PMD splits it (spec
 * §6.1). The new VMA's chain is inserted into the trees (anon_vma_clone), then the old
 * one is re-inserted (vma_prepare / vma_complete): both come after every other VMA. */
static void split_vma_at(struct sim *s, struct proc *p, uint64_t addr)
{
	int i = find_vma(p, addr);
	struct vma hi;

	if (i < 0 || p->vmas[i].start == addr)
		return;
	if (addr % CSIM_PMD_SIZE && pmd_find(p, addr))
		split_huge_pmd(s, p, pmd_find(p, addr));
	hi = p->vmas[i];
	hi.start = addr;
	hi.pgoff += (addr - p->vmas[i].start) / CSIM_PAGE_SIZE;
	avc_insert(s, &hi);
	p->vmas[i].end = addr;
	avc_insert(s, &p->vmas[i]);
	vma_insert(p, &hi);
}

/* zap_huge_pmd (spec §6.2). */
static void zap_huge_pmd(struct sim *s, struct proc *p, struct pmd *d)
{
	struct folio *f = d->huge;
	fm_rmap_outcome o;

	if (f) {
		FM(t_zap_pmd(f, p->mm_id, &o));
		count_pm(s, &o);
		f->maps[slot_of(s, p)]--;
	}
	d->huge = NULL;
	d->flags = 0;
	folio_reap(s, f);
}

/* zap_pte_range: one folio_remove_rmap_ptes per run of consecutive pages of one folio
 * within the range and this page table (folio_pte_batch, spec §6.2). */
static void zap_ptes(struct sim *s, struct proc *p, struct pmd *d, unsigned int k, unsigned int end)
{
	while (k < end) {
		struct pte *pte = &d->table[k];
		struct folio *f = pte->folio;
		unsigned int j = k + 1;
		fm_rmap_outcome o;

		if (!(pte->flags & PTE_PRESENT) || !f) {
			memset(pte, 0, sizeof(*pte));
			k++;
			continue;
		}
		while (j < end && (d->table[j].flags & PTE_PRESENT) && d->table[j].folio == f &&
		       d->table[j].page == d->table[j - 1].page + 1)
			j++;
		FM(t_zap_ptes(f, pte->page, j - k, p->mm_id, &o));
		count_pm(s, &o);
		for (; k < j; k++)
			clear_pte(s, p, &d->table[k]);
		folio_reap(s, f);
	}
}

/* unmap_page_range over [lo, hi) of one VMA: whole huge PMDs are zapped, partial ones
 * split first (zap_pmd_range, spec §6.2). With `reclaim_pt` (MADV_DONTNEED), a PTE table
 * zapped whole is freed: the next fault there can map a PMD (mm/memory.c zap_pte_range,
 * pte_table_reclaim_possible; CONFIG_PT_RECLAIM=y on x86-64; nothing is skipped: no
 * uffd-wp, and csim has no migration entries at rest). */
static void zap_vma_range(struct sim *s, struct proc *p, uint64_t lo, uint64_t hi,
			  bool reclaim_pt)
{
	for (uint64_t addr = lo; addr < hi;) {
		uint64_t end = pmd_base(addr) + CSIM_PMD_SIZE;
		struct pmd *d = pmd_find(p, addr);

		if (end > hi)
			end = hi;
		if (!d) {
			addr = end;
			continue;
		}
		if (pmd_is_huge(d)) {
			if (addr == pmd_base(addr) && end - addr == CSIM_PMD_SIZE) {
				zap_huge_pmd(s, p, d);
				addr = end;
				continue;
			}
			split_huge_pmd(s, p, d);
		}
		if (d->table) {
			zap_ptes(s, p, d, pte_index(addr), pte_index(end - 1) + 1);
			if (reclaim_pt && end - addr == CSIM_PMD_SIZE) {
				pt_free(s, d->table);
				d->table = NULL;
			}
		}
		addr = end;
	}
	s->st.zaps++;
}

/* Zap [start, end) VMA by VMA (batches never cross a VMA). */
static void zap_range(struct sim *s, struct proc *p, uint64_t start, uint64_t end,
		      bool reclaim_pt)
{
	for (int i = 0; i < p->nr_vmas; i++) {
		uint64_t lo = p->vmas[i].start > start ? p->vmas[i].start : start;
		uint64_t hi = p->vmas[i].end < end ? p->vmas[i].end : end;

		if (lo < hi)
			zap_vma_range(s, p, lo, hi, reclaim_pt);
	}
}

/* free_pgtables: page tables of 2 MiB ranges no VMA touches any more, then the chunks
 * of the range that hold nothing any more. */
static void free_pgtables(struct sim *s, struct proc *p, uint64_t start, uint64_t end)
{
	for (uint64_t a = pmd_base(start); a < end; a += CSIM_PMD_SIZE) {
		struct pmd *d = pmd_find(p, a);

		if (!d || pmd_none(d) || range_has_vma(p, a, a + CSIM_PMD_SIZE))
			continue;
		pt_free(s, d->table);
		memset(d, 0, sizeof(*d));
	}
	for (uint64_t c = start / CSIM_PMD_SIZE / CSIM_PMD_CHUNK;
	     c <= (end - 1) / CSIM_PMD_SIZE / CSIM_PMD_CHUNK; c++)
		chunk_reclaim(p, (unsigned int)c);
}

/* ---- address space ------------------------------------------------------------------- */

/* A free range for `size` bytes at an address that is `misalign` past a 2 MiB boundary,
 * with at least one empty 2 MiB range on each side (so regions never merge). */
static int va_alloc(struct sim *s, struct proc *p, uint64_t size, uint64_t misalign,
		    uint64_t *base)
{
	uint64_t span = (misalign + size + CSIM_PMD_SIZE - 1) / CSIM_PMD_SIZE;

	for (uint64_t tries = 0; tries < CSIM_VA_PMDS; tries++) {
		uint64_t idx = s->va_cursor;
		uint64_t lo = (idx - 1) * CSIM_PMD_SIZE, hi = (idx + span + 1) * CSIM_PMD_SIZE;
		bool used = idx + span + 1 > CSIM_VA_PMDS || range_has_vma(p, lo, hi);

		for (uint64_t i = idx - 1; !used && i < idx + span + 1; i++) {
			const struct pmd *d = pmd_find(p, i * CSIM_PMD_SIZE);

			used = d && (d->table || pmd_is_huge(d));
		}
		s->va_cursor = idx + span + 1 >= CSIM_VA_PMDS ? 1 : idx + 1;
		if (!used) {
			*base = idx * CSIM_PMD_SIZE + misalign;
			s->va_cursor = idx + span + 1 >= CSIM_VA_PMDS ? 1 : idx + span + 1;
			return 0;
		}
	}
	return fail(s, "simulated address space exhausted");
}

int sim_mmap(struct sim *s, struct proc *p, const char *name, uint64_t size, uint64_t misalign)
{
	struct region *r;
	struct vma v = { 0 };
	uint64_t base;

	if (sim_region(s, p, name) >= 0)
		return fail(s, "%s already has a region '%s'", p->name, name);
	if (p->nr_regions == CSIM_MAX_REGIONS)
		return fail(s, "too many regions in %s", p->name);
	if (strlen(name) >= CSIM_NAME_LEN)
		return fail(s, "region name '%s' is too long", name);
	if (!size || size % CSIM_PAGE_SIZE || misalign % CSIM_PAGE_SIZE || misalign >= CSIM_PMD_SIZE)
		return fail(s, "size and alignment must be multiples of 4K");
	if (va_alloc(s, p, size, misalign, &base))
		return -1;
	r = &p->regions[p->nr_regions];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->base = base;
	r->size = size;
	r->live = true;
	v.start = base;
	v.end = base + size;
	v.pgoff = base / CSIM_PAGE_SIZE;
	v.writable = true;
	v.account = true; /* private writable: mm/vma.c accountable_mapping */
	v.region = p->nr_regions++;
	vma_insert(p, &v);
	return 0;
}

/* ---- faults -------------------------------------------------------------------------- */

/* A write (or, with `unshare`, FAULT_FLAG_UNSHARE) fault on a read-only present PTE:
 * do_wp_page (spec §7.2-7.5). */
static void wp_pte(struct sim *s, struct proc *p, struct pte *pte, bool unshare,
		   enum access_outcome *out)
{
	struct folio *f = pte->folio, *n;
	fm_cow_facts facts = { 0 };
	fm_cow_outcome co;
	int mms;

	if (!f) { /* the zeropage: wp_page_copy into a zeroed order-0 folio */
		n = folio_new(s, 0, 0);
		FM(t_fault_anon(n, p->mm_id, NULL));
		n->clean = unshare; /* wp_page_copy: pte_mkdirty only for a write */
		clear_pte(s, p, pte);
		map_pte(s, p, pte, n, 0, unshare ? 0 : PTE_WRITE);
		*out = ACC_COPY;
		return;
	}
	mms = sim_mms_mapping(f);
	facts.unshare = unshare;
	FM(t_wp_fault_pte(f, pte->page, p->mm_id, &facts, &co));
	if (co.decision == FM_COW_DECISION_REUSE) {
		if (!unshare)
			pte->flags |= PTE_WRITE;
		*out = ACC_REUSE;
		return;
	}
	/* COPY: wp_page_copy maps a new exclusive order-0 folio; the library removed the
	 * old mapping and dropped its reference (spec §7.5) */
	count_pm(s, &co.rmap);
	if (co.reason == FM_COW_REASON_MAYBE_SHARED) {
		s->st.copies_maybe_shared++;
		if (mms <= 1)
			s->st.copies_false_shared++;
	}
	n = folio_new(s, 0, 0);
	FM(t_fault_anon(n, p->mm_id, NULL));
	n->nonzero[0] = f->nonzero[pte->page];
	n->clean = unshare;
	f->maps[slot_of(s, p)]--;
	pte->flags = 0;
	map_pte(s, p, pte, n, 0, unshare ? 0 : PTE_WRITE);
	folio_reap(s, f);
	*out = ACC_COPY;
}

/* A write / unshare fault on a read-only huge PMD (spec §7.1, §7.6). */
static void wp_huge(struct sim *s, struct proc *p, struct pmd *d, uint64_t addr, bool unshare,
		    enum access_outcome *out)
{
	struct folio *f = d->huge;
	fm_cow_facts facts = { 0 };
	fm_cow_outcome co;

	if (!f) { /* huge zeropage: do_huge_zero_wp_pmd maps a new THP (spec §7.6 step 1) */
		f = folio_new(s, FM_PMD_ORDER, 0);
		FM(t_fault_anon(f, p->mm_id, NULL));
		d->huge = f;
		d->flags = PTE_PRESENT | PTE_WRITE;
		f->maps[slot_of(s, p)]++;
		*out = ACC_COPY;
		return;
	}
	facts.unshare = unshare;
	FM(t_wp_fault_pmd(f, p->mm_id, &facts, &co));
	if (co.decision == FM_COW_DECISION_REUSE) {
		if (!unshare)
			d->flags |= PTE_WRITE;
		*out = ACC_REUSE;
		return;
	}
	/* FALLBACK: the library split this mm's PMD (read-only PTEs); retry at PTE level */
	count_pm(s, &co.rmap);
	pt_alloc(s, d);
	d->huge = NULL;
	d->flags = 0;
	f->maps[slot_of(s, p)]--;
	for (unsigned int k = 0; k < CSIM_PTRS_PER_PT; k++)
		map_pte(s, p, &d->table[k], f, k, 0);
	s->st.pmd_splits++;
	wp_pte(s, p, &d->table[pte_index(addr)], unshare, out);
}

/* The largest enabled mTHP order whose naturally aligned range fits the VMA and has no
 * populated PTE (alloc_anon_folio; PMD order only through the PMD fault). */
static unsigned int anon_fault_order(struct sim *s, struct proc *p, const struct vma *v,
				     uint64_t addr)
{
	struct pmd *d = pmd_find(p, addr);

	for (unsigned int order = FM_PMD_ORDER - 1; order >= 2; order--) {
		uint64_t size = CSIM_PAGE_SIZE << order, start = addr & ~(size - 1);
		bool none = true;

		if (!s->thp[order] || start < v->start || start + size > v->end)
			continue;
		for (uint64_t a = start; d && d->table && none && a < start + size;
		     a += CSIM_PAGE_SIZE)
			none = !d->table[pte_index(a)].flags;
		if (none)
			return order;
	}
	return 0;
}

/* A fault on a page that is not mapped (do_anonymous_page / do_huge_pmd_anonymous_page). */
static void fault_missing(struct sim *s, struct proc *p, struct vma *v, uint64_t addr,
			  bool write, enum access_outcome *out)
{
	struct pmd *d = pmd_at(p, addr);
	uint64_t haddr = pmd_base(addr), start;
	unsigned int order;
	struct folio *f;

	if (!d->table && s->thp[FM_PMD_ORDER] && haddr >= v->start &&
	    haddr + CSIM_PMD_SIZE <= v->end) {
		anon_vma_prepare(s, p, v); /* vmf_anon_prepare before the zero-page check */
		if (!write) {
			d->flags = PTE_PRESENT | PTE_ZERO; /* huge zeropage */
			*out = ACC_ZERO;
			return;
		}
		f = folio_new(s, FM_PMD_ORDER, 0);
		FM(t_fault_anon(f, p->mm_id, NULL)); /* spec §3.11, S16 */
		d->huge = f;
		d->flags = PTE_PRESENT | PTE_WRITE;
		f->maps[slot_of(s, p)]++;
		*out = ACC_NEW;
		return;
	}
	pt_alloc(s, d);
	if (!write) { /* the shared zeropage; no anon_vma is prepared */
		map_pte(s, p, &d->table[pte_index(addr)], NULL, 0, PTE_ZERO);
		*out = ACC_ZERO;
		return;
	}
	anon_vma_prepare(s, p, v);
	order = anon_fault_order(s, p, v, addr);
	start = addr & ~((CSIM_PAGE_SIZE << order) - 1);
	f = folio_new(s, order, 0);
	FM(t_fault_anon(f, p->mm_id, NULL)); /* map_anon_folio_pte_nopf */
	for (unsigned int k = 0; k < 1u << order; k++)
		map_pte(s, p, &d->table[pte_index(start) + k], f, k, PTE_WRITE);
	*out = ACC_NEW;
}

/* One access; `store` says whether data is written (a GUP write fault writes nothing). */
static int access(struct sim *s, struct proc *p, uint64_t addr, bool write, bool store,
		  enum access_outcome *out)
{
	int i = find_vma(p, addr);
	struct pmd *d;
	struct pte *pte;
	struct folio *f;
	unsigned int page;

	if (i < 0)
		return fail(s, "%s: address is not mapped (SIGSEGV)", p->name);
	if (write && !p->vmas[i].writable)
		return fail(s, "%s: write to a read-only mapping (SIGSEGV)", p->name);
	d = pmd_at(p, addr); /* any fault populates it */
	*out = ACC_NOFAULT;
	pte = pte_at(p, addr);
	if (pmd_is_huge(d)) {
		if (write && !(d->flags & PTE_WRITE))
			wp_huge(s, p, d, addr, false, out);
	} else if (pte && (pte->flags & PTE_PRESENT)) {
		/* the zeropage's CoW prepares an anon_vma (do_wp_page -> wp_page_copy ->
		 * vmf_anon_prepare): from now on fork copies this VMA's page tables */
		if (write && !pte->folio)
			anon_vma_prepare(s, p, &p->vmas[i]);
		if (write && !(pte->flags & PTE_WRITE))
			wp_pte(s, p, pte, false, out);
	} else {
		fault_missing(s, p, &p->vmas[i], addr, write, out);
	}
	/* A store dirties the entry (the CPU's dirty bit), so does a write fault
	 * (pte_mkdirty). A write pin that needs no fault does not: pin_user_pages lacks
	 * FOLL_TOUCH, so follow_page_pte leaves the folio clean. Only a page mapped once
	 * (exclusive) is written in place, so the folio-wide flag stays exact. */
	if (write && sim_lookup(s, p, addr, &f, &page) == LOOK_FOLIO) {
		if (store || *out != ACC_NOFAULT)
			f->clean = false;
		if (store)
			f->nonzero[page] = 1;
	}
	s->st.outcomes[*out]++;
	return 0;
}

int sim_access(struct sim *s, struct proc *p, uint64_t addr, bool write, enum access_outcome *out)
{
	return access(s, p, addr, write, true, out);
}

enum lookup_kind sim_lookup(struct sim *s, struct proc *p, uint64_t addr, struct folio **f,
			    unsigned int *page)
{
	struct pmd *d;
	struct pte *pte;

	(void)s;
	*f = NULL;
	*page = 0;
	if (find_vma(p, addr) < 0)
		return LOOK_NONE;
	d = pmd_find(p, addr);
	if (!d)
		return LOOK_NONE;
	pte = pte_at(p, addr);
	if (d->huge) {
		*f = d->huge;
		*page = pte_index(addr);
		return LOOK_FOLIO;
	}
	if (d->flags & PTE_ZERO)
		return LOOK_HUGE_ZERO;
	if (!pte || !(pte->flags & PTE_PRESENT))
		return LOOK_NONE;
	if (!pte->folio)
		return LOOK_ZERO;
	*f = pte->folio;
	*page = pte->page;
	return LOOK_FOLIO;
}

/*
 * What one page-table entry holds, as a scenario's `expect pte` / `expect pmd` names it:
 * none, zero (the shared or huge zeropage), migration, table (a PMD pointing to a PTE
 * table), or a present mapping: rw / ro of `shown` (the folio of the last `show`), copy
 * (any other folio).
 */
static const char *mapping_view(const struct folio *mapped, uint8_t flags,
				const struct folio *shown)
{
	if (mapped != shown)
		return "copy";
	return flags & PTE_WRITE ? "rw" : "ro";
}

const char *sim_pte_view(const struct proc *p, uint64_t addr, const struct folio *shown)
{
	const struct pmd *d;
	const struct pte *pte;

	if (find_vma(p, addr) < 0 || !(d = pmd_find(p, addr)))
		return "none";
	if (d->flags & PTE_MIGRATION)
		return "migration";
	if (d->huge)
		return mapping_view(d->huge, d->flags, shown);
	if (d->flags & PTE_ZERO)
		return "zero";
	pte = pte_at(p, addr);
	if (!pte || !(pte->flags & (PTE_PRESENT | PTE_MIGRATION)))
		return "none";
	if (pte->flags & PTE_MIGRATION)
		return "migration";
	if (!pte->folio)
		return "zero";
	return mapping_view(pte->folio, pte->flags, shown);
}

const char *sim_pmd_view(const struct proc *p, uint64_t addr, const struct folio *shown)
{
	const struct pmd *d;

	if (find_vma(p, addr) < 0 || !(d = pmd_find(p, addr)) || pmd_none(d))
		return "none";
	if (d->table)
		return "table";
	if (d->flags & PTE_MIGRATION)
		return "migration";
	if (d->flags & PTE_ZERO)
		return "zero";
	return mapping_view(d->huge, d->flags, shown);
}

/* ---- fork ---------------------------------------------------------------------------- */

/* copy_present_page: the child gets its own exclusive order-0 copy (spec §5.2). */
static void child_copy(struct sim *s, struct proc *c, struct pte *cpte, struct folio *f,
		       unsigned int page, bool writable)
{
	struct folio *n = folio_new(s, 0, 0);

	FM(t_fault_anon(n, c->mm_id, NULL));
	n->nonzero[0] = f->nonzero[page];
	map_pte(s, c, cpte, n, 0, writable ? PTE_WRITE : 0);
}

static bool copied_bit(const fm_fork_outcome *fo, unsigned int page)
{
	return fo->copied[page / 64] >> (page % 64) & 1;
}

/* copy_pte_range over PTE indices [k, end) of one page table of one VMA. */
static void fork_ptes(struct sim *s, struct proc *par, struct proc *c, struct pmd *d,
		      struct pmd *cd, unsigned int k, unsigned int end, bool writable)
{
	pt_alloc(s, cd);
	while (k < end) {
		struct pte *pte = &d->table[k];
		struct folio *f = pte->folio;
		unsigned int j = k + 1;
		fm_fork_outcome fo;

		if (!(pte->flags & PTE_PRESENT)) {
			k++;
			continue;
		}
		if (!f) { /* zeropage PTE: copied, no rmap */
			cd->table[k] = *pte;
			k++;
			continue;
		}
		/* folio_pte_batch: consecutive pages of one folio in this table and VMA */
		while (j < end && (d->table[j].flags & PTE_PRESENT) && d->table[j].folio == f &&
		       d->table[j].page == d->table[j - 1].page + 1)
			j++;
		FM(t_fork_ptes(f, pte->page, j - k, c->mm_id, par->has_pinned, &fo));
		for (; k < j; k++) {
			pte = &d->table[k];
			if (copied_bit(&fo, pte->page)) {
				child_copy(s, c, &cd->table[k], f, pte->page, writable);
			} else {
				pte->flags &= (uint8_t)~PTE_WRITE; /* __copy_present_ptes */
				map_pte(s, c, &cd->table[k], f, pte->page, 0);
			}
		}
	}
}

/* copy_huge_pmd (spec §5.3). */
static void fork_huge(struct sim *s, struct proc *par, struct proc *c, struct pmd *d,
		      struct pmd *cd, bool writable)
{
	struct folio *f = d->huge;
	bool was_writable = d->flags & PTE_WRITE;
	fm_fork_outcome fo;

	if (!f) { /* huge zeropage */
		*cd = *d;
		return;
	}
	FM(t_fork_pmd(f, par->mm_id, c->mm_id, par->has_pinned, &fo));
	if (fo.pmd_shared) {
		d->flags &= (uint8_t)~PTE_WRITE;
		cd->huge = f;
		cd->flags = PTE_PRESENT;
		f->maps[slot_of(s, c)]++;
		return;
	}
	/* maybe pinned: the library split the parent's PMD, then copied at PTE level */
	pt_alloc(s, d);
	pt_alloc(s, cd);
	d->huge = NULL;
	d->flags = 0;
	f->maps[slot_of(s, par)]--;
	s->st.pmd_splits++;
	for (unsigned int k = 0; k < CSIM_PTRS_PER_PT; k++) {
		map_pte(s, par, &d->table[k], f, k, was_writable ? PTE_WRITE : 0);
		if (copied_bit(&fo, k)) {
			child_copy(s, c, &cd->table[k], f, k, writable);
		} else {
			d->table[k].flags &= (uint8_t)~PTE_WRITE;
			map_pte(s, c, &cd->table[k], f, k, 0);
		}
	}
}

int sim_fork(struct sim *s, struct proc *par, const char *name)
{
	struct proc *c = proc_new(s, name);

	if (!c)
		return -1;
	memcpy(c->regions, par->regions, sizeof(c->regions));
	c->nr_regions = par->nr_regions;
	/* the child gets every VMA, in the parent's (sorted) order: one allocation, and
	 * each VMA copied in place */
	c->cap_vmas = par->nr_vmas > 8 ? par->nr_vmas : 8;
	c->vmas = xcalloc((size_t)c->cap_vmas, sizeof(*c->vmas));
	if (par->nr_vmas) /* par->vmas may be NULL */
		memcpy(c->vmas, par->vmas, (size_t)par->nr_vmas * sizeof(*c->vmas));
	c->nr_vmas = par->nr_vmas;
	/* dup_mmap: every VMA; page tables only where the VMA has an anon_vma (spec §5.1) */
	for (int i = 0; i < par->nr_vmas; i++) {
		struct vma *v = &par->vmas[i], *cv = &c->vmas[i];

		/* anon_vma_fork: the child's VMA gets its own anon_vma and a chain cloned from
		 * the parent's, inserted into the trees now (mm/rmap.c anon_vma_clone) */
		if (v->anon_vma) {
			cv->anon_vma = ++s->next_anon_vma;
			cv->fork_child = true;
			avc_insert(s, cv);
		}
		if (!v->anon_vma)
			continue;
		for (uint64_t addr = v->start; addr < v->end;) {
			uint64_t end = pmd_base(addr) + CSIM_PMD_SIZE;
			struct pmd *d = pmd_find(par, addr);

			if (end > v->end)
				end = v->end;
			/* the child's entry is allocated only where the parent has one */
			if (d && pmd_is_huge(d))
				fork_huge(s, par, c, d, pmd_at(c, addr), v->writable);
			else if (d && d->table)
				fork_ptes(s, par, c, d, pmd_at(c, addr), pte_index(addr),
					  pte_index(end - 1) + 1, v->writable);
			addr = end;
		}
	}
	s->st.forks++;
	return 0;
}

/* ---- pins ---------------------------------------------------------------------------- */

static void unpin_one(struct sim *s, struct proc *p, int i)
{
	struct folio *f = p->pins[i].folio;

	FM(t_unpin(f));
	p->pins[i] = p->pins[--p->nr_pins];
	folio_reap(s, f);
}

/* pin_user_pages(FOLL_PIN | FOLL_LONGTERM [| FOLL_WRITE]) of one page (GUP_TEST). */
int sim_pin(struct sim *s, struct proc *p, uint64_t addr, bool write, enum access_outcome *out)
{
	struct folio *f;
	unsigned int page;
	enum lookup_kind kind;

	p->has_pinned = true; /* MMF_HAS_PINNED, set before faulting (spec §1.7) */
	if (write) {
		if (access(s, p, addr, true, false, out))
			return -1;
	} else {
		kind = sim_lookup(s, p, addr, &f, &page);
		if (kind != LOOK_FOLIO)
			return fail(s, "%s: a read-only pin needs a populated page (not modelled)",
				    p->name);
		*out = ACC_NOFAULT;
		/* gup_must_unshare: anon page without PAE -> FAULT_FLAG_UNSHARE (spec §7.1) */
		if (pmd_at(p, addr)->huge) {
			if (!page_pae(f, 0))
				wp_huge(s, p, pmd_at(p, addr), addr, true, out);
		} else if (!page_pae(f, page)) {
			wp_pte(s, p, pte_at(p, addr), true, out);
		}
		s->st.outcomes[*out]++;
	}
	if (sim_lookup(s, p, addr, &f, &page) != LOOK_FOLIO)
		return fail(s, "%s: nothing to pin", p->name);
	FM(t_pin(f));
	if (p->nr_pins == p->cap_pins) {
		p->cap_pins = p->cap_pins ? 2 * p->cap_pins : 16;
		p->pins = realloc(p->pins, (size_t)p->cap_pins * sizeof(*p->pins));
		if (!p->pins) {
			fprintf(stderr, "csim: out of memory\n");
			exit(3);
		}
	}
	p->pins[p->nr_pins++] = (struct pin){ .folio = f, .addr = addr };
	return 0;
}

int sim_unpin(struct sim *s, struct proc *p, uint64_t start, uint64_t end, int *nr)
{
	*nr = 0;
	for (int i = 0; i < p->nr_pins;) {
		if (p->pins[i].addr >= start && p->pins[i].addr < end) {
			unpin_one(s, p, i);
			++*nr;
		} else {
			i++;
		}
	}
	return 0;
}

/* ---- exit, munmap, madvise, mprotect, mremap ----------------------------------------- */

int sim_exit(struct sim *s, struct proc *p)
{
	/* exit_mmap: unmap_vmas in address order, then free_pgtables */
	zap_range(s, p, 0, CSIM_VA_PMDS * CSIM_PMD_SIZE, false); /* VMA by VMA */
	p->nr_vmas = 0;
	free_all_pgtables(s, p);
	/* the pinning file (GUP_TEST) is closed after exit_mm */
	while (p->nr_pins)
		unpin_one(s, p, p->nr_pins - 1);
	FM(fm_mm_ids_free(&s->ids, p->mm_id)); /* __mmdrop -> mm_free_id */
	free(p->vmas);
	free(p->pins);
	p->vmas = NULL;
	p->pins = NULL;
	p->live = false;
	s->live_mask &= ~(1ull << slot_of(s, p));
	s->st.exits++;
	return 0;
}

static int check_range(struct sim *s, uint64_t start, uint64_t end)
{
	if (start % CSIM_PAGE_SIZE || end % CSIM_PAGE_SIZE || end <= start)
		return fail(s, "range must be page aligned and not empty");
	return 0;
}

int sim_munmap(struct sim *s, struct proc *p, uint64_t start, uint64_t end)
{
	if (check_range(s, start, end))
		return -1;
	split_vma_at(s, p, start);
	split_vma_at(s, p, end);
	zap_range(s, p, start, end, false); /* free_pgtables below */
	for (int i = 0; i < p->nr_vmas;) {
		if (p->vmas[i].start >= start && p->vmas[i].end <= end)
			vma_remove(p, i);
		else
			i++;
	}
	free_pgtables(s, p, start, end);
	return 0;
}

static bool range_covered(const struct proc *p, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end;) {
		int i = find_vma(p, a);

		if (i < 0)
			return false;
		a = p->vmas[i].end;
	}
	return true;
}

/* A hole in the range is a scenario error (FORMAT.md): the kernel zaps the mapped parts
 * but fails with ENOMEM, which the executor cannot report as a transcript. */
int sim_madv_dontneed(struct sim *s, struct proc *p, uint64_t start, uint64_t end)
{
	if (check_range(s, start, end))
		return -1;
	if (!range_covered(p, start, end))
		return fail(s, "%s: madvise range is not fully mapped (ENOMEM)", p->name);
	zap_range(s, p, start, end, true); /* VMAs stay; page tables zapped whole go */
	return 0;
}

/* mprotect (mm/mprotect.c mprotect_fixup), VMA by VMA: a VMA that has the protection
 * already is left alone (newflags == oldflags: no split, so no PMD split at the range
 * ends); another is split at the range ends (spec §6.1), changed (change_protection),
 * and merged with its neighbours. Making a private mapping writable again upgrades the
 * PTEs/PMDs of exclusive anon pages without a fault (can_change_pte_writable). */
int sim_mprotect(struct sim *s, struct proc *p, uint64_t start, uint64_t end, bool writable)
{
	if (check_range(s, start, end))
		return -1;
	if (!range_covered(p, start, end))
		return fail(s, "%s: mprotect range is not fully mapped (ENOMEM)", p->name);
	for (uint64_t lo = start; lo < end;) {
		struct vma *v = &p->vmas[find_vma(p, lo)];
		uint64_t hi = v->end < end ? v->end : end;
		bool account = v->account;

		if (v->writable == writable) {
			lo = hi;
			continue;
		}
		/* VM_ACCOUNT: charged when a private mapping becomes writable, given back when
		 * it becomes read-only before it has an anon_vma */
		if (writable)
			account = true;
		else if (!v->anon_vma)
			account = false;
		split_vma_at(s, p, lo);
		split_vma_at(s, p, hi);
		v = &p->vmas[find_vma(p, lo)];
		v->writable = writable;
		v->account = account;
		for (uint64_t a = lo; a < hi; a += CSIM_PAGE_SIZE) {
			struct pmd *d = pmd_find(p, a);
			struct pte *pte = pte_at(p, a);

			if (!d || !(d->table || pmd_is_huge(d))) { /* nothing in this PMD */
				a = pmd_base(a) + CSIM_PMD_SIZE - CSIM_PAGE_SIZE;
				continue;
			}
			if (pmd_is_huge(d)) {
				d->flags &= (uint8_t)~PTE_WRITE;
				if (writable && d->huge && page_pae(d->huge, 0))
					d->flags |= PTE_WRITE;
				a = pmd_base(a) + CSIM_PMD_SIZE - CSIM_PAGE_SIZE;
				continue;
			}
			if (!pte || !(pte->flags & PTE_PRESENT))
				continue;
			pte->flags &= (uint8_t)~PTE_WRITE;
			if (writable && pte->folio && page_pae(pte->folio, pte->page))
				pte->flags |= PTE_WRITE;
		}
		lo = hi;
	}
	vma_merge(s, p, start, end);
	return 0;
}

/* The page tables of [lo, hi) move by `delta` (mm/mremap.c move_page_tables): PTEs move
 * without rmap calls; a huge PMD moves whole only when the old and new addresses are
 * congruent modulo 2 MiB, else it is split first (spec §6.3). */
static void move_page_tables(struct sim *s, struct proc *p, uint64_t lo, uint64_t hi,
			     uint64_t delta)
{
	for (uint64_t a = lo; a < hi;) {
		struct pmd *d = pmd_find(p, a);
		uint64_t next = pmd_base(a) + CSIM_PMD_SIZE;

		if (!d || pmd_none(d)) { /* nothing to move in this PMD */
			a = next;
			continue;
		}
		if (pmd_is_huge(d)) {
			if (delta % CSIM_PMD_SIZE == 0) { /* move_huge_pmd */
				*pmd_at(p, a + delta) = *d;
				memset(d, 0, sizeof(*d));
				a = next;
				continue;
			}
			split_huge_pmd(s, p, d);
		}
		/* an old PMD with a table, even an empty one, gets the new range a table
		 * (get_old_pmd, then pte_alloc or move_normal_pmd): a later fault there is a
		 * PTE fault */
		if (d->table) {
			struct pmd *nd = pmd_at(p, a + delta);

			pt_alloc(s, nd);
			nd->table[pte_index(a + delta)] = d->table[pte_index(a)];
			memset(&d->table[pte_index(a)], 0, sizeof(struct pte));
		}
		a += CSIM_PAGE_SIZE;
	}
}

/* mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of a whole region to a new address `misalign`
 * past a 2 MiB boundary. A move of the same length moves every VMA of the range, one by
 * one in address order, keeping the gaps between them; a gap at the start fails with
 * EFAULT (mm/mremap.c remap_move). Each moved VMA is a new one, inserted into the trees
 * (mm/vma.c copy_vma: anon_vma_clone) and merged with the one moved before it when
 * they are mergeable (vma_merge_new_range). */
int sim_mremap(struct sim *s, struct proc *p, int ri, uint64_t misalign)
{
	struct region *r = &p->regions[ri];
	uint64_t nbase, old = r->base, end = r->base + r->size, delta;
	int first = find_vma(p, old), last;

	if (first < 0)
		return fail(s, "%s: mremap of region %s: its first page is not mapped (EFAULT)",
			    p->name, r->name);
	if (misalign % CSIM_PAGE_SIZE || misalign >= CSIM_PMD_SIZE)
		return fail(s, "bad alignment");
	if (va_alloc(s, p, r->size, misalign, &nbase))
		return -1;
	delta = nbase - old;
	for (last = first; last < p->nr_vmas && p->vmas[last].start < end; last++) {
		struct vma *v = &p->vmas[last];

		move_page_tables(s, p, v->start, v->end, delta);
		v->start += delta;
		v->end += delta;
		avc_insert(s, v);
	}
	/* the moved VMAs keep their order: only their place in the sorted array changes */
	{
		int n = last - first;
		struct vma *moved = xcalloc((size_t)n, sizeof(*moved));

		memcpy(moved, &p->vmas[first], (size_t)n * sizeof(*moved));
		memmove(&p->vmas[first], &p->vmas[last],
			(size_t)(p->nr_vmas - last) * sizeof(*p->vmas));
		p->nr_vmas -= n;
		for (int i = 0; i < n; i++)
			vma_insert(p, &moved[i]);
		free(moved);
	}
	vma_merge(s, p, nbase, nbase + r->size);
	free_pgtables(s, p, old, end);
	r->base = nbase;
	s->st.mremaps++;
	return 0;
}

/* ---- rmap walks: folio split and migration -------------------------------------------- */

/* One entry (present or migration entry) that maps the folio being walked. */
struct rmap_entry {
	struct proc *p;
	struct pmd *d;	 /* a PMD entry when pte == NULL */
	struct pte *pte;
	uint64_t addr, pgoff, avc_seq; /* the walk order: see rmap_walk */
};

static int rmap_entry_cmp(const void *x, const void *y)
{
	const struct rmap_entry *a = x, *b = y;

	if (a->pgoff != b->pgoff)
		return a->pgoff < b->pgoff ? -1 : 1;
	if (a->avc_seq != b->avc_seq)
		return a->avc_seq < b->avc_seq ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The rmap walk order (mm/rmap.c rmap_walk_anon): the VMAs of the folio's anon_vma in
 * interval-tree order, by vm_pgoff and, for equal vm_pgoff, in (re)insertion order
 * (struct vma.avc_seq); within a VMA, addresses ascending (page_vma_mapped_walk). */
static int rmap_walk(struct sim *s, struct folio *f, struct rmap_entry **out)
{
	int n = 0, cap = 16;
	struct rmap_entry *e = xcalloc((size_t)cap, sizeof(*e));

	/* every entry lies in a VMA (free_pgtables frees the rest): walk the VMAs' populated
	 * PMDs, in address order per process */
	for (int i = 0; i < CSIM_MAX_PROCS; i++) {
		struct proc *p = &s->procs[i];

		if (!p->live)
			continue;
		for (int vi = 0; vi < p->nr_vmas; vi++) {
			const struct vma *v = &p->vmas[vi];

			for (uint64_t a = v->start; a < v->end;) {
				uint64_t base = pmd_base(a), end = base + CSIM_PMD_SIZE;
				struct pmd *d = pmd_find(p, a);

				if (end > v->end)
					end = v->end;
				if (n + (int)CSIM_PTRS_PER_PT + 1 > cap) {
					cap = 2 * cap + (int)CSIM_PTRS_PER_PT;
					e = realloc(e, (size_t)cap * sizeof(*e));
					if (!e) {
						fprintf(stderr, "csim: out of memory\n");
						exit(3);
					}
				}
				/* a PMD entry belongs to the VMA holding its base address */
				if (d && d->huge == f && base >= v->start)
					e[n++] = (struct rmap_entry){ .p = p, .d = d, .addr = base,
								      .pgoff = v->pgoff,
								      .avc_seq = v->avc_seq };
				for (uint64_t x = a; d && d->table && x < end; x += CSIM_PAGE_SIZE) {
					struct pte *pte = &d->table[pte_index(x)];

					if (pte->folio == f && pte->flags)
						e[n++] = (struct rmap_entry){
							.p = p, .d = d, .pte = pte, .addr = x,
							.pgoff = v->pgoff, .avc_seq = v->avc_seq };
				}
				a = end;
			}
		}
	}
	qsort(e, (size_t)n, sizeof(*e), rmap_entry_cmp);
	*out = e;
	return n;
}

/* try_to_migrate_one / set_pmd_migration_entry for every mapping, in walk order, until
 * one refuses (-EBUSY: exclusive page of a maybe-pinned folio). With `split_pmd`
 * (TTU_SPLIT_HUGE_PMD), PMDs are freeze-split into PTE migration entries. */
static bool unmap_to_migration_entries(struct sim *s, struct folio *f, bool split_pmd)
{
	struct rmap_entry *e;
	int n = rmap_walk(s, f, &e);
	bool ok = true;

	for (int i = 0; i < n && ok; i++) {
		struct proc *p = e[i].p;
		fm_migrate_unmap_outcome mo;

		if (!e[i].pte) {
			struct pmd *d = e[i].d;
			bool w = d->flags & PTE_WRITE;

			if (!(d->flags & PTE_PRESENT))
				continue;
			if (split_pmd) {
				fm_split_pmd_outcome so;

				FM(t_split_pmd(f, p->mm_id, true, w, &so));
				count_pm(s, &so.remove);
				if (!so.frozen) { /* maybe pinned: split normally, fail below */
					f->maps[slot_of(s, p)]--;
					pt_alloc(s, d);
					for (unsigned int k = 0; k < CSIM_PTRS_PER_PT; k++)
						map_pte(s, p, &d->table[k], f, k, w ? PTE_WRITE : 0);
					d->huge = NULL;
					d->flags = 0;
					ok = false;
					continue;
				}
				f->maps[slot_of(s, p)]--;
				pt_alloc(s, d);
				for (unsigned int k = 0; k < CSIM_PTRS_PER_PT; k++)
					d->table[k] = (struct pte){ f, (uint16_t)k, PTE_MIGRATION,
								    (uint8_t)so.entry };
				d->huge = NULL;
				d->flags = 0;
				continue;
			}
			FM(t_migrate_unmap_pmd(f, p->mm_id, w, &mo));
			if (mo.ret) {
				ok = false;
				continue;
			}
			count_pm(s, &mo.rmap);
			f->maps[slot_of(s, p)]--;
			d->flags = PTE_MIGRATION;
			d->entry = (uint8_t)mo.entry;
			continue;
		}
		if (!(e[i].pte->flags & PTE_PRESENT))
			continue;
		FM(t_migrate_unmap_pte(f, e[i].pte->page, p->mm_id,
					      e[i].pte->flags & PTE_WRITE, &mo));
		if (mo.ret) {
			ok = false;
			continue;
		}
		count_pm(s, &mo.rmap);
		f->maps[slot_of(s, p)]--;
		e[i].pte->flags = PTE_MIGRATION;
		e[i].pte->entry = (uint8_t)mo.entry;
	}
	free(e);
	return ok;
}

/* remove_migration_ptes(src, dst): every migration entry of `src`, in walk order, maps
 * `dst[page]` again (one PTE per call). With `to_zeropage`, a split's all-zero order-0
 * page is mapped to the shared zeropage instead (TTU_USE_SHARED_ZEROPAGE, spec §6.4). */
static void remove_migration_entries(struct sim *s, struct folio *src, struct folio *dst,
				     struct folio **split_dst, bool to_zeropage)
{
	struct rmap_entry *e;
	int n = rmap_walk(s, src, &e);

	for (int i = 0; i < n; i++) {
		struct proc *p = e[i].p;
		fm_rmap_outcome o;

		if (!e[i].pte) {
			struct pmd *d = e[i].d;
			uint8_t entry = d->entry;

			if (!(d->flags & PTE_MIGRATION))
				continue;
			FM(t_migrate_restore_pmd(dst, p->mm_id, entry, &o));
			d->huge = dst;
			d->flags = PTE_PRESENT |
				   (entry == FM_MIGRATION_ENTRY_WRITABLE ? PTE_WRITE : 0);
			d->entry = 0;
			dst->maps[slot_of(s, p)]++;
			continue;
		}
		if (!(e[i].pte->flags & PTE_MIGRATION))
			continue;
		{
			struct pte *pte = e[i].pte;
			unsigned int page = pte->page;
			uint8_t entry = pte->entry;
			struct folio *t = split_dst ? split_dst[page] : dst;
			unsigned int tpage = split_dst ? 0 : page;

			if (to_zeropage && !src->nonzero[page]) {
				memset(pte, 0, sizeof(*pte));
				map_pte(s, p, pte, NULL, 0, PTE_ZERO);
				continue;
			}
			FM(t_migrate_restore_pte(t, tpage, p->mm_id, entry, &o));
			memset(pte, 0, sizeof(*pte));
			map_pte(s, p, pte, t, tpage,
				entry == FM_MIGRATION_ENTRY_WRITABLE ? PTE_WRITE : 0);
		}
	}
	free(e);
}

/* __folio_split to order 0 (spec §6.4) with the caller's reference held. Returns true
 * when split; `pieces` (if not NULL) receives the surviving order-0 folios. */
static bool split_folio(struct sim *s, struct folio *f, struct folio ***pieces, int *nr_pieces)
{
	unsigned int n = 1u << f->order;
	struct folio **newf;
	int32_t ret;

	FM(t_get(f, 1)); /* the caller's reference */
	FM(t_split_check(f, 0, 1, &ret));
	if (ret) {
		FM(t_put(f, 1));
		return false;
	}
	if (!unmap_to_migration_entries(s, f, true) || f->f.refcount != 1) {
		fprintf(stderr, "csim: internal error: split of a folio that passed the "
				"refcount precondition could not freeze it\n");
		exit(3);
	}
	/* __split_unmapped_folio: fresh order-0 folios with one reference each */
	newf = xcalloc(n, sizeof(*newf));
	for (unsigned int k = 0; k < n; k++) {
		newf[k] = folio_new(s, 0, f->node);
		s->st.folios_by_order[0]--; /* not an allocation */
		FM(t_update_flags(newf[k], FM_FOLIO_ANON, 0));
		newf[k]->nonzero[0] = f->nonzero[k];
		newf[k]->clean = f->clean;
	}
	remove_migration_entries(s, f, NULL, newf, true);
	t_folio_split(f, 0);
	folio_free(s, f); /* the old struct folio is now newf[0]'s head */
	if (nr_pieces)
		*nr_pieces = 0;
	for (unsigned int k = 0; k < n; k++) {
		FM(t_put(newf[k], 1)); /* free_folio_and_swap_cache / caller */
		if (newf[k]->f.refcount == 0) {
			folio_free(s, newf[k]);
			continue;
		}
		if (pieces)
			newf[(*nr_pieces)++] = newf[k];
	}
	if (pieces)
		*pieces = newf;
	else
		free(newf);
	return true;
}

int sim_split(struct sim *s, struct proc *p, uint64_t addr, bool *split)
{
	struct folio *f;
	unsigned int page;
	int32_t ret;

	*split = false;
	if (sim_lookup(s, p, addr, &f, &page) != LOOK_FOLIO || f->order == 0)
		return 0;
	/* split_huge_pages_pid skips folios with extra references silently (spec §9, S25) */
	FM(t_split_check(f, 0, 0, &ret));
	if (ret)
		return 0;
	*split = split_folio(s, f, NULL, NULL);
	return 0;
}

/* Migration of one isolated folio in `passes` attempts (spec §6.5, §6.6); true when it
 * moved. */
static bool migrate_folio(struct sim *s, struct folio *f, int node, int passes)
{
	FM(t_get(f, 1)); /* isolation */
	for (int pass = 0; pass < passes; pass++) {
		if (unmap_to_migration_entries(s, f, false)) {
			struct folio *dst = folio_new(s, f->order, node);
			int32_t ret;

			s->st.folios_by_order[f->order]--; /* not a fault */
			FM(t_migrate_move(f, dst, &ret));
			if (ret == 0) {
				memcpy(dst->nonzero, f->nonzero, 1u << f->order);
				/* clean entries stay clean (try_to_migrate_one marks the folio
				 * dirty only for a dirty PTE) */
				dst->clean = f->clean;
				remove_migration_entries(s, f, dst, NULL, false);
				FM(t_put(dst, 1)); /* migrate_folio_move */
				FM(t_put(f, 1));	/* the isolation reference */
				folio_reap(s, dst);
				folio_reap(s, f);
				return true;
			}
			folio_free(s, dst);
		}
		remove_migration_entries(s, f, f, NULL, false); /* migration undone */
	}
	FM(t_put(f, 1));
	folio_reap(s, f);
	return false;
}

/* migrate_pages of one batch of isolated folios (mm/migrate.c migrate_pages); true when
 * every folio of it moved. A partially mapped large folio on the deferred split queue is
 * split instead (try_split_folio, spec §6.6): its zero-filled pages become the shared
 * zeropage, the other pieces are migrated after the rest of the batch, in one
 * MIGRATE_ASYNC pass. When the split fails (extra references), migrate_pages_batch
 * goes on to migrate the folio whole. */
static bool migrate_batch(struct sim *s, struct folio **list, int n, int node)
{
	struct folio **split = xcalloc((size_t)n << FM_PMD_ORDER, sizeof(*split));
	int nsplit = 0;
	bool ok = true;

	for (int i = 0; i < n; i++) {
		struct folio *f = list[i], **pieces;
		int nr;

		if (f->order > 0 && (f->f.flags & FM_FOLIO_DEFERRED_LIST) &&
		    (f->f.flags & FM_FOLIO_PARTIALLY_MAPPED)) {
			if (split_folio(s, f, &pieces, &nr)) {
				memcpy(&split[nsplit], pieces, (size_t)nr * sizeof(*pieces));
				nsplit += nr;
				free(pieces);
				continue;
			}
		}
		ok &= migrate_folio(s, f, node, CSIM_MIGRATE_PASSES);
	}
	for (int i = 0; i < nsplit; i++)
		ok &= migrate_folio(s, split[i], node, 1);
	free(split);
	return ok;
}

/* move_pages() of the pages of [start, end) that map a folio on another node (what the
 * kernel executor passes), as mm/migrate.c do_pages_move batches them: pages are queued
 * (folio isolated) until one cannot be: its folio is queued already (folio_isolate_lru
 * fails: the next page of a large folio), on the node already, no folio, or, without
 * `move_all` (MPOL_MF_MOVE), maybe mapped shared (__add_folio_for_migration: -EACCES,
 * the folio stays); that flushes the batch. A batch that does not migrate completely ends the call: the pages after it
 * are not tried. `moved` / `failed` count the pages that map a folio on `node` afterwards
 * or not; a page remapped to the shared zeropage by a split counts as moved (its data is
 * zero, nothing of it stays behind; move_pages reports it migrated). */
int sim_migrate(struct sim *s, struct proc *p, uint64_t start, uint64_t end, int node,
		bool move_all, int *moved, int *failed)
{
	uint64_t *cand;
	struct folio **batch;
	int nc = 0, nb = 0;
	bool stop = false;

	if (check_range(s, start, end))
		return -1;
	*moved = *failed = 0;
	cand = xcalloc((end - start) / CSIM_PAGE_SIZE, sizeof(*cand));
	batch = xcalloc((end - start) / CSIM_PAGE_SIZE, sizeof(*batch));
	for (uint64_t a = start; a < end; a += CSIM_PAGE_SIZE) {
		struct folio *f;
		unsigned int page;

		if (sim_lookup(s, p, a, &f, &page) == LOOK_FOLIO && f->node != node)
			cand[nc++] = a;
	}
	for (int i = 0; i < nc && !stop; i++) {
		struct folio *f;
		unsigned int page;
		bool queued = sim_lookup(s, p, cand[i], &f, &page) == LOOK_FOLIO &&
			      f->node != node;
		fm_query q;

		if (queued && !move_all) {
			FM(t_query(f, page, &q));
			queued = !q.maybe_mapped_shared;
		}

		for (int k = 0; k < nb && queued; k++)
			queued = batch[k] != f;
		if (queued) {
			batch[nb++] = f;
			continue;
		}
		stop = !migrate_batch(s, batch, nb, node);
		nb = 0;
	}
	if (!stop)
		migrate_batch(s, batch, nb, node);
	for (int i = 0; i < nc; i++) {
		struct folio *f;
		unsigned int page;
		enum lookup_kind kind = sim_lookup(s, p, cand[i], &f, &page);

		if ((kind == LOOK_FOLIO && f->node == node) || kind == LOOK_ZERO)
			++*moved;
		else
			++*failed;
	}
	free(cand);
	free(batch);
	return 0;
}

/* ---- consistency --------------------------------------------------------------------- */

int sim_check(struct sim *s)
{
	for (struct folio *f = s->folios; f; f = f->next) {
		int total = 0, mms = sim_mms_mapping(f);
		int lm = f->order ? f->f.large_mapcount + 1 : f->pages[0].mapcount + 1;

		for (int i = 0; i < CSIM_MAX_PROCS; i++)
			total += f->maps[i];
		if (total != lm)
			return fail(s, "folio of order %u: page tables hold %d mappings, the model %d",
				    f->order, total, lm);
		if (f->f.refcount < lm)
			return fail(s, "folio of order %u: refcount %d below mapcount %d", f->order,
				    f->f.refcount, lm);
		if (f->order && mms >= 2 && !(f->f.mm_ids >> 63))
			return fail(s, "folio of order %u mapped by %d mms but S clear (spec §2.5.2)",
				    f->order, mms);
		/* [NOPMC] a large folio's per-page _mapcount is never touched (spec §11.0) */
		for (unsigned int k = 0; s->mode == FM_MODE_NOPMC && f->order && k < 1u << f->order;
		     k++)
			if (f->pages[k].mapcount != -1)
				return fail(s, "nopmc folio of order %u: page %u has _mapcount %d, not -1",
					    f->order, k, f->pages[k].mapcount);
	}
	return 0;
}

uint64_t sim_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0x100000001B3ull;
}

static uint64_t mix_folio(uint64_t h, const struct folio *f, unsigned int page)
{
	const fm_folio *x = &f->f;

	h = sim_mix(h, ((uint64_t)x->order << 32) | x->flags);
	h = sim_mix(h, ((uint64_t)(uint32_t)x->refcount << 32) | (uint32_t)x->pincount);
	h = sim_mix(h, ((uint64_t)(uint32_t)x->large_mapcount << 32) | (uint32_t)x->entire_mapcount);
	h = sim_mix(h, ((uint64_t)(uint32_t)x->nr_pages_mapped << 32) | (uint32_t)x->mm_id_mapcount[0]);
	h = sim_mix(h, ((uint64_t)(uint32_t)x->mm_id_mapcount[1] << 32) | (uint32_t)f->node);
	h = sim_mix(h, x->mm_ids);
	h = sim_mix(h, ((uint64_t)(uint32_t)f->pages[page].mapcount << 32) | f->pages[page].flags);
	return sim_mix(h, ((uint64_t)page << 16) | (uint64_t)f->clean << 8 | f->nonzero[page]);
}

/* Every process's VMAs and page-table entries, every folio's accounting, in an order
 * that does not depend on where anything is allocated: `csim --generate` prints it, so a
 * change of the simulator's data structures can be checked to leave a run the same. */
uint64_t sim_digest(struct sim *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < CSIM_MAX_PROCS; i++) {
		struct proc *p = &s->procs[i];

		if (!p->live)
			continue;
		h = sim_mix(h, ((uint64_t)i << 32) | p->mm_id);
		h = sim_mix(h, ((uint64_t)p->has_pinned << 32) | (uint32_t)p->nr_vmas);
		h = sim_mix(h, ((uint64_t)(uint32_t)p->nr_pins << 32) | (uint32_t)p->nr_regions);
		for (int k = 0; k < p->nr_regions; k++)
			h = sim_mix(sim_mix(h, p->regions[k].base), p->regions[k].size << 1 |
							    p->regions[k].live);
		for (int k = 0; k < p->nr_pins; k++)
			h = mix_folio(sim_mix(h, p->pins[k].addr), p->pins[k].folio, 0);
		for (int k = 0; k < p->nr_vmas; k++) {
			const struct vma *v = &p->vmas[k];

			h = sim_mix(sim_mix(sim_mix(h, v->start), v->end), v->pgoff);
			h = sim_mix(h, (uint64_t)v->writable | (uint64_t)v->account << 1 |
					   (uint64_t)v->fork_child << 2 | (uint64_t)v->anon_vma << 8);
			h = sim_mix(sim_mix(h, v->avc_seq), (uint64_t)v->region);
			for (uint64_t a = v->start; a < v->end; a += CSIM_PAGE_SIZE) {
				const struct pmd *d = pmd_find(p, a);
				const struct pte *pte = pte_at(p, a);

				if (d && pmd_is_huge(d)) {
					h = sim_mix(h, 0x100u | d->flags);
					if (d->huge)
						h = mix_folio(h, d->huge, pte_index(a));
					continue;
				}
				if (!pte) {
					h = sim_mix(h, 0x200);
					continue;
				}
				h = sim_mix(h, (uint64_t)pte->flags << 8 | pte->entry);
				if (pte->folio)
					h = mix_folio(h, pte->folio, pte->page);
			}
		}
	}
	h = sim_mix(h, s->nr_folios);
	for (struct folio *f = s->folios; f; f = f->next)
		h = mix_folio(h, f, 0);
	return h;
}

void sim_init(struct sim *s, uint32_t mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->va_cursor = 1;
	FM(fm_mm_ids_init(&s->ids, s->id_bits, sizeof(s->id_bits) / sizeof(s->id_bits[0])));
}

void sim_destroy(struct sim *s)
{
	for (int i = 0; i < CSIM_MAX_PROCS; i++) {
		struct proc *p = &s->procs[i];

		if (!p->live)
			continue;
		free_all_pgtables(s, p);
		free(p->vmas);
		free(p->pins);
		p->live = false;
	}
	s->live_mask = 0;
	while (s->folios)
		folio_free(s, s->folios);
	while (s->nr_pt_pool)
		free(s->pt_pool[--s->nr_pt_pool]);
}
