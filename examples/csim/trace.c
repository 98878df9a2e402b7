// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * csim --trace: see trace.h. A folio's identity in the trace is its serial number
 * (struct folio.serial, pfn field) with epoch 0; the simulator never reuses a serial.
 */
#include "csim.h"
#include "trace.h"

#include <string.h>

static struct {
	FILE *f;
	fm_trace_header h;
	uint64_t seq;
	bool error;
} tr;

#define RECORD_BUF 4096 /* records buffered before one fwrite */
static unsigned char buf[RECORD_BUF * FM_TRACE_RECORD_SIZE];
static size_t buf_n;

static void flush(void)
{
	if (buf_n && fwrite(buf, FM_TRACE_RECORD_SIZE, buf_n, tr.f) != buf_n)
		tr.error = true;
	buf_n = 0;
}

static void put_record(const void *rec)
{
	memcpy(buf + buf_n * FM_TRACE_RECORD_SIZE, rec, FM_TRACE_RECORD_SIZE);
	if (++buf_n == RECORD_BUF)
		flush();
	tr.h.records++;
}

int trace_open(const char *path, uint32_t mode)
{
	tr.f = fopen(path, "wb");
	if (!tr.f)
		return -1;
	if (fm_trace_header_init(&tr.h, mode, FM_TRACE_SOURCE_CSIM, 1) != FM_OK)
		return -1;
	tr.seq = 0;
	tr.error = fwrite(&tr.h, sizeof(tr.h), 1, tr.f) != 1;
	return tr.error ? -1 : 0;
}

int trace_close(void)
{
	int rc;

	if (!tr.f)
		return 0;
	flush();
	if (fseek(tr.f, 0, SEEK_SET) || fwrite(&tr.h, sizeof(tr.h), 1, tr.f) != 1)
		tr.error = true;
	rc = fclose(tr.f) || tr.error ? -1 : 0;
	tr.f = NULL;
	return rc;
}

uint64_t trace_records(void)
{
	return tr.f ? tr.h.records : 0;
}

static void ev_begin(fm_trace_event *e, const struct folio *f, fm_trace_op op)
{
	memset(e, 0, sizeof(*e));
	e->seq = ++tr.seq;
	e->pfn = f->serial;
	e->op = op;
	e->order = (uint8_t)f->order;
}

static void ev_end(fm_trace_event *e, struct folio *f, fm_status st)
{
	fm_query q;

	e->status = (int8_t)st;
	if (fm_folio_query(&f->f, 0, &q) == FM_OK) /* folio_mapcount after the event */
		e->mapcount_after = q.mapcount;
	fm_folio_trace_digest(&f->f, &e->digest);
	put_record(e);
	tr.h.events++;
}

static void ev_rmap(fm_trace_event *e, const fm_rmap_outcome *o)
{
	e->ret = o->ret;
	e->nr_pages = (int16_t)o->nr_pages;
	e->nr_other = (int16_t)o->nr_pmdmapped;
	if (o->partially_mapped)
		e->out_flags |= FM_TRACE_OUT_PARTIALLY_MAPPED;
	if (o->deferred_split)
		e->out_flags |= FM_TRACE_OUT_DEFERRED_SPLIT;
	if (o->newly_partially_mapped)
		e->out_flags |= FM_TRACE_OUT_NEWLY_PARTIALLY_MAPPED;
}

/* The full state of `f` (fm_trace_state + fm_trace_pages records). */
static void state(struct folio *f)
{
	fm_trace_state st;
	fm_trace_pages pg;
	uint32_t cursor = 0;
	uint16_t part = 0;
	bool more;

	if (fm_folio_trace_state(&f->f, &st) != FM_OK)
		return;
	st.seq = ++tr.seq;
	st.pfn = f->serial;
	put_record(&st);
	tr.h.states++;
	for (;;) {
		if (fm_folio_trace_pages(&f->f, &cursor, &pg, &more) != FM_OK || !more)
			break;
		pg.seq = ++tr.seq;
		pg.pfn = f->serial;
		pg.part = part++;
		put_record(&pg);
	}
}

/*
 * NR_ANON_MAPPED / NR_ANON_THPS as the model's rmap outcomes move them (spec §3.6), in
 * pages, since the process started: a scenario's `expect stat` / `expect total` read
 * them. The simulator's folios are anonymous (a file folio would move NR_FILE_*).
 */
static struct t_mapped_stats mapped_stats;

static void account(const struct folio *f, const fm_rmap_outcome *o, fm_status st)
{
	if (st != FM_OK || !(f->f.flags & FM_FOLIO_ANON))
		return;
	mapped_stats.anon_mapped += o->mapped_stat_delta;
	mapped_stats.anon_thps += o->pmdmapped_stat_delta;
}

struct t_mapped_stats t_mapped_stats(void)
{
	return mapped_stats;
}

static uint64_t next_serial;

fm_status t_init(struct folio *f, uint32_t mode, uint32_t order, fm_page *pages, uint32_t n)
{
	fm_status st = fm_folio_init(&f->f, mode, order, 0, pages, n);
	fm_trace_event e;

	f->serial = ++next_serial;
	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_INIT);
	e.arg = mode;
	ev_end(&e, f, st);
	return st;
}

fm_status t_update_flags(struct folio *f, uint32_t set, uint32_t clear)
{
	fm_status st = fm_folio_update_flags(&f->f, set, clear);
	fm_trace_event e;

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_UPDATE_FLAGS);
	e.arg = set;
	e.mm = clear;
	ev_end(&e, f, st);
	return st;
}

fm_status t_fault_anon(struct folio *f, uint32_t mm, fm_rmap_outcome *out)
{
	fm_rmap_outcome o;
	fm_status st = fm_folio_fault_anon(&f->f, mm, &o);
	fm_trace_event e;

	account(f, &o, st);

	if (out)
		*out = o;
	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_FAULT_ANON);
	e.mm = mm;
	ev_rmap(&e, &o);
	ev_end(&e, f, st);
	return st;
}

static void ev_cow(fm_trace_event *e, const fm_cow_facts *facts, const fm_cow_outcome *o)
{
	e->facts = *facts;
	e->decision = (uint8_t)o->decision;
	e->reason = (uint8_t)o->reason;
	if (o->decision == FM_COW_DECISION_COPY || o->decision == FM_COW_DECISION_FALLBACK)
		ev_rmap(e, &o->rmap);
	if (o->swapcache_freed)
		e->out_flags |= FM_TRACE_OUT_SWAPCACHE_FREED;
	if (o->lru_drained)
		e->out_flags |= FM_TRACE_OUT_LRU_DRAINED;
	if (o->pmd_split)
		e->out_flags |= FM_TRACE_OUT_PMD_SPLIT;
}

/* a PMD split: the folio_remove_rmap_pmd, then the add of its PTEs (spec §6.1) */
static void account_split(const struct folio *f, const fm_split_pmd_outcome *o, fm_status st)
{
	account(f, &o->remove, st);
	account(f, &o->add, st);
}

/* A CoW moves the mapped counters only when it replaces the mapping (spec §7.5, §7.6). */
static void account_cow(const struct folio *f, const fm_cow_outcome *o, fm_status st)
{
	if (o->decision == FM_COW_DECISION_COPY || o->decision == FM_COW_DECISION_FALLBACK)
		account(f, &o->rmap, st);
}

fm_status t_wp_fault_pte(struct folio *f, uint32_t page, uint32_t mm, const fm_cow_facts *facts,
			 fm_cow_outcome *out)
{
	fm_status st = fm_folio_wp_fault_pte(&f->f, page, mm, facts, out);
	fm_trace_event e;

	account_cow(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_WP_FAULT_PTE);
	e.first = (uint16_t)page;
	e.nr = 1;
	e.mm = mm;
	ev_cow(&e, facts, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_wp_fault_pmd(struct folio *f, uint32_t mm, const fm_cow_facts *facts,
			 fm_cow_outcome *out)
{
	fm_status st = fm_folio_wp_fault_pmd(&f->f, mm, facts, out);
	fm_trace_event e;

	account_cow(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_WP_FAULT_PMD);
	e.mm = mm;
	ev_cow(&e, facts, out);
	ev_end(&e, f, st);
	return st;
}

static void ev_fork(fm_trace_event *e, const fm_fork_outcome *o)
{
	e->nr_pages = (int16_t)o->pages_shared;
	e->nr_other = (int16_t)o->pages_copied;
	if (o->pmd_shared)
		e->out_flags |= FM_TRACE_OUT_PMD_SHARED;
	if (o->pmd_split)
		e->out_flags |= FM_TRACE_OUT_PMD_SPLIT;
	if (o->dup_busy)
		e->out_flags |= FM_TRACE_OUT_DUP_BUSY;
}

fm_status t_fork_ptes(struct folio *f, uint32_t first, uint32_t nr, uint32_t dst_mm,
		      bool src_has_pinned, fm_fork_outcome *out)
{
	fm_status st = fm_folio_fork_ptes(&f->f, first, nr, dst_mm, src_has_pinned, out);
	fm_trace_event e;

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_FORK_PTES);
	e.first = (uint16_t)first;
	e.nr = (uint16_t)nr;
	e.mm = dst_mm;
	e.flags = src_has_pinned ? FM_TRACE_ARG_SRC_HAS_PINNED : 0;
	ev_fork(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_fork_pmd(struct folio *f, uint32_t src_mm, uint32_t dst_mm, bool src_has_pinned,
		     fm_fork_outcome *out)
{
	fm_status st = fm_folio_fork_pmd(&f->f, src_mm, dst_mm, src_has_pinned, out);
	fm_trace_event e;

	if (st == FM_OK && out->pmd_split) /* a maybe-pinned folio: spec §5.3 */
		account_split(f, &out->split, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_FORK_PMD);
	e.mm = dst_mm;
	e.arg = src_mm;
	e.flags = src_has_pinned ? FM_TRACE_ARG_SRC_HAS_PINNED : 0;
	ev_fork(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_zap_ptes(struct folio *f, uint32_t first, uint32_t nr, uint32_t mm,
		     fm_rmap_outcome *out)
{
	fm_status st = fm_folio_zap_ptes(&f->f, first, nr, mm, out);
	fm_trace_event e;

	account(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_ZAP_PTES);
	e.first = (uint16_t)first;
	e.nr = (uint16_t)nr;
	e.mm = mm;
	ev_rmap(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_zap_pmd(struct folio *f, uint32_t mm, fm_rmap_outcome *out)
{
	fm_status st = fm_folio_zap_pmd(&f->f, mm, out);
	fm_trace_event e;

	account(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_ZAP_PMD);
	e.mm = mm;
	ev_rmap(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_split_pmd(struct folio *f, uint32_t mm, bool freeze, bool writable,
		      fm_split_pmd_outcome *out)
{
	fm_status st = fm_folio_split_pmd(&f->f, mm, freeze, writable, out);
	fm_trace_event e;

	account_split(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_SPLIT_PMD);
	e.mm = mm;
	e.flags = (freeze ? FM_TRACE_ARG_FREEZE : 0) | (writable ? FM_TRACE_ARG_WRITABLE : 0);
	ev_rmap(&e, &out->remove);
	e.nr_other = (int16_t)out->add.nr_pages;
	if (out->add.partially_mapped)
		e.out_flags |= FM_TRACE_OUT_PARTIALLY_MAPPED;
	if (out->frozen) {
		e.out_flags |= FM_TRACE_OUT_FROZEN;
		e.decision = (uint8_t)out->entry;
	}
	if (out->freeze_failed)
		e.out_flags |= FM_TRACE_OUT_FREEZE_FAILED;
	ev_end(&e, f, st);
	return st;
}

static void ev_migrate(fm_trace_event *e, const fm_migrate_unmap_outcome *o)
{
	ev_rmap(e, &o->rmap);
	e->ret = o->ret;
	e->decision = (uint8_t)o->entry;
}

fm_status t_migrate_unmap_pte(struct folio *f, uint32_t page, uint32_t mm, bool writable,
			      fm_migrate_unmap_outcome *out)
{
	fm_status st = fm_folio_migrate_unmap_pte(&f->f, page, mm, writable, out);
	fm_trace_event e;

	account(f, &out->rmap, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_MIGRATE_UNMAP_PTE);
	e.first = (uint16_t)page;
	e.nr = 1;
	e.mm = mm;
	e.flags = writable ? FM_TRACE_ARG_WRITABLE : 0;
	ev_migrate(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_migrate_unmap_pmd(struct folio *f, uint32_t mm, bool writable,
			      fm_migrate_unmap_outcome *out)
{
	fm_status st = fm_folio_migrate_unmap_pmd(&f->f, mm, writable, out);
	fm_trace_event e;

	account(f, &out->rmap, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_MIGRATE_UNMAP_PMD);
	e.mm = mm;
	e.flags = writable ? FM_TRACE_ARG_WRITABLE : 0;
	ev_migrate(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_migrate_restore_pte(struct folio *f, uint32_t page, uint32_t mm, uint32_t entry,
				fm_rmap_outcome *out)
{
	fm_status st = fm_folio_migrate_restore_pte(&f->f, page, mm, entry, out);
	fm_trace_event e;

	account(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_MIGRATE_RESTORE_PTE);
	e.first = (uint16_t)page;
	e.nr = 1;
	e.mm = mm;
	e.arg = entry;
	ev_rmap(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_migrate_restore_pmd(struct folio *f, uint32_t mm, uint32_t entry,
				fm_rmap_outcome *out)
{
	fm_status st = fm_folio_migrate_restore_pmd(&f->f, mm, entry, out);
	fm_trace_event e;

	account(f, out, st);

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_MIGRATE_RESTORE_PMD);
	e.mm = mm;
	e.arg = entry;
	ev_rmap(&e, out);
	ev_end(&e, f, st);
	return st;
}

fm_status t_migrate_move(struct folio *src, struct folio *dst, int32_t *ret)
{
	fm_status st = fm_folio_migrate_move(&src->f, &dst->f, ret);
	fm_trace_event e;

	if (!tr.f)
		return st;
	ev_begin(&e, src, FM_TRACE_OP_MIGRATE_MOVE);
	e.ret = *ret;
	e.arg = (uint32_t)dst->serial;
	ev_end(&e, src, st);
	if (*ret == 0) {
		ev_begin(&e, dst, FM_TRACE_OP_MIGRATE_MOVE_IN);
		e.arg = (uint32_t)src->serial;
		ev_end(&e, dst, st);
		state(dst);
	}
	return st;
}

fm_status t_split_check(struct folio *f, uint32_t new_order, int32_t caller_refs, int32_t *ret)
{
	fm_status st = fm_folio_split_check(&f->f, new_order, caller_refs, ret);
	fm_trace_event e;

	if (!tr.f)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_SPLIT_CHECK);
	e.arg = new_order;
	e.nr = (uint16_t)caller_refs;
	e.ret = *ret;
	ev_end(&e, f, st);
	return st;
}

static fm_status simple(struct folio *f, fm_trace_op op, fm_status st, int32_t arg)
{
	fm_trace_event e;

	if (!tr.f)
		return st;
	ev_begin(&e, f, op);
	e.arg = (uint32_t)arg;
	ev_end(&e, f, st);
	return st;
}

fm_status t_pin(struct folio *f)
{
	return simple(f, FM_TRACE_OP_PIN, fm_folio_pin(&f->f), 0);
}

fm_status t_unpin(struct folio *f)
{
	return simple(f, FM_TRACE_OP_UNPIN, fm_folio_unpin(&f->f), 0);
}

fm_status t_get(struct folio *f, int32_t nr)
{
	return simple(f, FM_TRACE_OP_GET, fm_folio_get(&f->f, nr), nr);
}

fm_status t_put(struct folio *f, int32_t nr)
{
	return simple(f, FM_TRACE_OP_PUT, fm_folio_put(&f->f, nr), nr);
}

fm_status t_query(struct folio *f, uint32_t page, fm_query *out)
{
	fm_status st = fm_folio_query(&f->f, page, out);
	fm_trace_event e;

	if (!tr.f || st != FM_OK)
		return st;
	ev_begin(&e, f, FM_TRACE_OP_QUERY);
	e.first = (uint16_t)page;
	e.mapcount_after = out->mapcount;
	if (out->maybe_mapped_shared)
		e.out_flags |= FM_TRACE_OUT_MAYBE_SHARED;
	if (out->pm_mmap_exclusive)
		e.out_flags |= FM_TRACE_OUT_PM_MMAP_EXCLUSIVE;
	if (out->anon_exclusive)
		e.out_flags |= FM_TRACE_OUT_ANON_EXCLUSIVE;
	ev_end(&e, f, st);
	return st;
}

void t_folio_split(struct folio *f, uint32_t new_order)
{
	simple(f, FM_TRACE_OP_FOLIO_SPLIT, FM_OK, (int32_t)new_order);
}

void t_retire(struct folio *f)
{
	simple(f, FM_TRACE_OP_RETIRE, FM_OK, 0);
}
