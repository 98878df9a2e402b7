/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * csim --trace FILE: every library call the simulator makes on a folio, written in the
 * record-and-replay format of include/foliomap.h (fm_trace_header, fm_trace_event,
 * fm_trace_state, fm_trace_pages; rust/foliomap/src/trace.rs documents it). The t_*
 * wrappers make the fm_folio_* call and, when a trace is open, record it with its
 * outcome; with no trace open they cost one branch.
 */
#ifndef CSIM_TRACE_H
#define CSIM_TRACE_H

#include "foliomap.h"

struct folio;

/* Opens FILE (a regular file: the header's counters are written at close). 0 or -1. */
int trace_open(const char *path, uint32_t mode);
/* Writes the final header and closes; 0 or -1 (write error). */
int trace_close(void);
/* Records written so far (0 when no trace is open). */
uint64_t trace_records(void);

/* The mapped-page counters the model's outcomes moved (trace.c account()). */
struct t_mapped_stats {
	int64_t anon_mapped, anon_thps;
};
struct t_mapped_stats t_mapped_stats(void);

fm_status t_init(struct folio *f, uint32_t mode, uint32_t order, fm_page *pages, uint32_t n);
fm_status t_update_flags(struct folio *f, uint32_t set, uint32_t clear);
fm_status t_fault_anon(struct folio *f, uint32_t mm, fm_rmap_outcome *out);
fm_status t_wp_fault_pte(struct folio *f, uint32_t page, uint32_t mm, const fm_cow_facts *facts,
			 fm_cow_outcome *out);
fm_status t_wp_fault_pmd(struct folio *f, uint32_t mm, const fm_cow_facts *facts,
			 fm_cow_outcome *out);
fm_status t_fork_ptes(struct folio *f, uint32_t first, uint32_t nr, uint32_t dst_mm,
		      bool src_has_pinned, fm_fork_outcome *out);
fm_status t_fork_pmd(struct folio *f, uint32_t src_mm, uint32_t dst_mm, bool src_has_pinned,
		     fm_fork_outcome *out);
fm_status t_zap_ptes(struct folio *f, uint32_t first, uint32_t nr, uint32_t mm,
		     fm_rmap_outcome *out);
fm_status t_zap_pmd(struct folio *f, uint32_t mm, fm_rmap_outcome *out);
fm_status t_split_pmd(struct folio *f, uint32_t mm, bool freeze, bool writable,
		      fm_split_pmd_outcome *out);
fm_status t_migrate_unmap_pte(struct folio *f, uint32_t page, uint32_t mm, bool writable,
			      fm_migrate_unmap_outcome *out);
fm_status t_migrate_unmap_pmd(struct folio *f, uint32_t mm, bool writable,
			      fm_migrate_unmap_outcome *out);
fm_status t_migrate_restore_pte(struct folio *f, uint32_t page, uint32_t mm, uint32_t entry,
				fm_rmap_outcome *out);
fm_status t_migrate_restore_pmd(struct folio *f, uint32_t mm, uint32_t entry,
				fm_rmap_outcome *out);
fm_status t_migrate_move(struct folio *src, struct folio *dst, int32_t *ret);
fm_status t_split_check(struct folio *f, uint32_t new_order, int32_t caller_refs, int32_t *ret);
fm_status t_pin(struct folio *f);
fm_status t_unpin(struct folio *f);
fm_status t_get(struct folio *f, int32_t nr);
fm_status t_put(struct folio *f, int32_t nr);
fm_status t_query(struct folio *f, uint32_t page, fm_query *out);
/* The folio was replaced by the pieces of a split to `new_order`. */
void t_folio_split(struct folio *f, uint32_t new_order);
/* The simulator frees its struct folio: the stream of this folio ends. */
void t_retire(struct folio *f);

#endif /* CSIM_TRACE_H */
