/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The event recorder (foliomap_trace.c): every checked transition as fm_trace_* records
 * (include/foliomap.h; the format is rust/foliomap/src/trace.rs), in per-CPU rings
 * drained through debugfs "trace". Internal to the module.
 */
#ifndef FOLIOMAP_TRACE_H
#define FOLIOMAP_TRACE_H

#include <linux/mm_types.h>
#include <linux/types.h>

#include "foliomap.h"

struct dentry;

/*
 * One checked kernel operation on one folio, as the recorder takes it: the operation's
 * events (arguments set by the probe; a fork of several page runs has one per run) and
 * what the kernel function returned or decided where it exposes it.
 */
struct foliomap_trace_op {
	struct folio *folio;
	unsigned int nr;		/* events in ev[] (0: nothing to record) */
	fm_trace_event *ev;
	bool unordered;			/* the probe knows it acted on a state others changed */
};

/* Whether a recording is running (probes skip building events otherwise). */
bool foliomap_tracing(void);

/*
 * This CPU's room for the events of one operation (FOLIOMAP_TRACE_SCRATCH of them: a
 * fork of a folio in up to 256 page runs, plus its PMD), or NULL when not recording.
 * Valid until the probe handler returns.
 */
#define FOLIOMAP_TRACE_SCRATCH	(FM_MAX_PAGES / 2 + 1)
fm_trace_event *foliomap_trace_scratch(void);

/*
 * Records @op: @before is the folio as the check read it before the operation, @after
 * as it read it after, @model_refs the reference count the model's operation alone left
 * (the rest of @after's moved by other paths inside the window: a Get/Put after the
 * events), @model_flags the folio flags it left (LRU, swap-cache and KSM flags others
 * changed inside the window: an UpdateFlags after the events). @ordered false: another operation on the folio overlapped this one, so the
 * events cannot be ordered; they are not recorded (counted) and the folio's next event
 * restates it.
 */
void foliomap_trace_record(const struct foliomap_trace_op *op, const fm_folio *before,
			   const fm_folio *after, int model_refs, u32 model_flags, bool ordered);

int foliomap_trace_init(struct dentry *dir);
void foliomap_trace_exit(void);

#endif /* FOLIOMAP_TRACE_H */
