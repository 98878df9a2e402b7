// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Race windows, reference movers, check storage and the common end of a check
 * (foliomap_window.h says what a window attributes).
 *
 * Ordering: a window publishes itself (OPENING), takes its number, then scans the other
 * windows and the movers in flight, then snapshots, then becomes OPEN; a mover publishes
 * itself, takes its number, then scans the windows. Numbers come from one fully ordered
 * counter taken after publishing, so the later-numbered of two always sees the earlier. A mover that finds a window OPEN started after
 * that window's snapshot: if it also ends before the window starts closing, its exact
 * reference change is the window's to account for (added at mover_end, before the mover
 * unpublishes; a window that starts closing while the mover is still published marks
 * its refcount unknown instead).
 *
 * Handlers never sleep and never allocate: every table is preallocated at load, sized
 * from the probes' instance counts, so a table can be full only when a probe already
 * missed a hit; that is counted in missed_events all the same.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>

#include "foliomap_trace.h"
#include "foliomap_window.h"

enum { W_OPENING = 1, W_OPEN, W_CLOSING };

/* Windows: every open check, and one per large folio of every fork in flight. */
#define NR_WINDOWS 16384

/*
 * Windows are grouped by folio: a window on a folio takes a slot in the folio's bucket
 * (a hash of its address) or, with the bucket full, in the overflow. Who looks for the
 * windows on one folio scans its bucket and the overflow only, not every window: a
 * fork keeps one window per large folio open, so scanning them all made a fork of N
 * folios N^2/2 window reads (16 KiB folios: fork 28x slower with the checker loaded).
 * The ordering arguments are unchanged: a window is found by the scans of its folio's
 * bucket and of the overflow, the only places it can be.
 */
#define WINDOW_BUCKET_BITS	8
#define WINDOWS_PER_BUCKET	56
#define WINDOW_OVERFLOW		((1u << WINDOW_BUCKET_BITS) * WINDOWS_PER_BUCKET)
static_assert(WINDOW_OVERFLOW < NR_WINDOWS);

/*
 * The observed change of the foreign operations that ran entirely inside a window (each
 * checked against the model by its own window): counts add up, the rest (slot owners,
 * S, PAE, the deferred-split flags) take the value the foreign operation left.
 */
struct fm_delta {
	int refcount, large_mapcount, entire_mapcount, mmc[2];
	u32 changed;			/* DELTA_* */
	u64 mm_ids;
	u32 flags;
	int mapcount[FOLIOMAP_MAX_PAGES];
	DECLARE_BITMAP(pae_changed, FOLIOMAP_MAX_PAGES);
	DECLARE_BITMAP(pae, FOLIOMAP_MAX_PAGES);
};

#define DELTA_ID0	(1u << 0)
#define DELTA_ID1	(1u << 1)
#define DELTA_SHARED	(1u << 2)
#define DELTA_FLAGS	(1u << 3)
#define DELTA_FOLIO_FLAGS (FM_FOLIO_PARTIALLY_MAPPED | FM_FOLIO_DEFERRED_LIST)

/* Deltas are taken only by windows that foreign operations ran inside of. */
#define NR_DELTAS 1024

struct fm_window {
	raw_spinlock_t lock;		/* pending, pushes, delta against other tasks */
	int pending;			/* newer foreign windows still open */
	const char *pending_op;
	pid_t pending_pid;
	int pushes;			/* foreign changes added to delta */
	struct fm_delta *delta;
	struct fm_snap *mid;		/* one CPU: the folio when the task was switched out */
	bool mid_valid;
	fm_folio *(*rebase)(void *ctx);	/* fmw_set_rebase() */
	enum fmw_progress (*progress)(const void *ctx);
	void *progress_ctx;
	bool rebase_pending;		/* the sleep came before the operation acted */
	bool acted;			/* the sleep came after the operation acted, completely */
	const char *unmeasured;		/* why a sleep's foreign change was not measured */
	struct task_struct *task;	/* NULL: free */
	struct folio *folio;
	const char *op;
	struct fmw_log *log;
	u64 seq;
	u32 flags;
	int state;
	atomic_t foreign;
	atomic_t own;
	atomic_t marks;
	atomic_t own_refs[2];		/* references moved by OWN_LRU_DRAIN, OWN_SWAP_FREED */
	atomic_t ref_delta;
	const char *culprit;
	pid_t culprit_pid;
	const char *refs_culprit;	/* the first mover that made the refcount unknowable */
	const char *accounted;		/* the last mover added to ref_delta, for the record */
	pid_t accounted_pid;
	int accounted_delta;
};

static struct fm_window *windows;
static unsigned long *window_busy;
static atomic64_t fmw_seq;

static struct fm_delta *deltas;
static unsigned long *delta_busy;

/*
 * On one CPU another task can change a window's folio only while the window's task is
 * switched out: the scheduler's sched_switch tracepoint snapshots the folio when the task
 * leaves the CPU and measures the change when it comes back, exactly. Then neither
 * foreign windows nor foreign movers need accounting, and nothing can race.
 */
#define NR_MIDS 2048
static bool one_cpu;
static struct fm_snap *mids;
static unsigned long *mid_busy;
static struct fm_snap __percpu *switch_scratch;
static struct fm_delta __percpu *switch_delta;
static atomic_t windows_open;
static struct tracepoint *sched_switch_tp;

static struct fmw_mover **movers;
static unsigned long *mover_busy;
static unsigned int nr_movers;

static struct fm_check *checks;
static unsigned long *check_busy;
static unsigned int nr_checks;

static struct fm_replay *replays;
static unsigned long *replay_busy;
static unsigned int nr_replays;

static struct fm_scratch __percpu *scratch;

/* A free slot of busy[start, end), taken; -1 when there is none. */
static int slot_get_range(unsigned long *busy, unsigned int start, unsigned int end)
{
	unsigned int i;

	for (i = find_next_zero_bit(busy, end, start); i < end;
	     i = find_next_zero_bit(busy, end, i + 1))
		if (!test_and_set_bit_lock(i, busy))
			return i;
	return -1;
}

static int slot_get(unsigned long *busy, unsigned int size)
{
	int i = slot_get_range(busy, 0, size);

	if (i < 0)
		foliomap_count(FOLIOMAP_STAT_MISSED_EVENTS);
	return i;
}

#define NR_WINDOW_BUCKETS	(1u << WINDOW_BUCKET_BITS)

/* The first slot of @folio's bucket of windows. */
static unsigned int window_bucket(const struct folio *folio)
{
	return hash_ptr(folio, WINDOW_BUCKET_BITS) * WINDOWS_PER_BUCKET;
}

static int window_get(struct folio *folio)
{
	unsigned int b = window_bucket(folio);
	int i = slot_get_range(window_busy, b, b + WINDOWS_PER_BUCKET);

	if (i < 0)
		i = slot_get_range(window_busy, WINDOW_OVERFLOW, NR_WINDOWS);
	if (i < 0)
		foliomap_count(FOLIOMAP_STAT_MISSED_EVENTS);
	return i;
}

/* The next busy window in [@j, @end) of @folio's bucket, then of the overflow. */
static unsigned int next_window_of(const struct folio *folio, unsigned int j)
{
	unsigned int b = window_bucket(folio), end = b + WINDOWS_PER_BUCKET;

	if (j < end) {
		j = find_next_bit(window_busy, end, max(j, b));
		if (j < end)
			return j;
		j = WINDOW_OVERFLOW;
	}
	return find_next_bit(window_busy, NR_WINDOWS, max(j, WINDOW_OVERFLOW));
}

/* Every busy window that may be on @folio (and others of its bucket): @j its index. */
#define for_each_window_of(j, folio)					\
	for ((j) = next_window_of(folio, 0); (j) < NR_WINDOWS;		\
	     (j) = next_window_of(folio, (j) + 1))

static void slot_put(unsigned long *busy, int i)
{
	if (i >= 0)
		clear_bit_unlock(i, busy);
}

struct fm_check *fm_check_get(int *idx)
{
	*idx = slot_get(check_busy, nr_checks);
	return *idx < 0 ? NULL : &checks[*idx];
}

void fm_check_put(int idx)
{
	slot_put(check_busy, idx);
}

struct fm_replay *fm_replay_get(int *idx)
{
	*idx = slot_get(replay_busy, nr_replays);
	return *idx < 0 ? NULL : &replays[*idx];
}

void fm_replay_put(int idx)
{
	slot_put(replay_busy, idx);
}

struct fm_scratch *fm_scratch(void)
{
	return this_cpu_ptr(scratch);
}

static struct task_struct *mover_task(void)
{
	return in_task() ? current : NULL;
}

static void mark(struct fm_window *w, u32 what, const char *name, pid_t pid)
{
	atomic_or(what, &w->foreign);
	if (!READ_ONCE(w->culprit) && !cmpxchg(&w->culprit, NULL, name))
		WRITE_ONCE(w->culprit_pid, pid);
	if ((what & FOREIGN_REFS) && !READ_ONCE(w->refs_culprit))
		cmpxchg(&w->refs_culprit, NULL, name);
}

static bool bloom_test(const unsigned long *bloom, struct folio *folio)
{
	unsigned long v = (unsigned long)folio;

	return test_bit(hash_long(v, 12), bloom) && test_bit(hash_long(v ^ 0x5bd1e995UL, 12), bloom);
}

void fmw_bloom_add(unsigned long *bloom, struct folio *folio)
{
	unsigned long v = (unsigned long)folio;

	/* Atomic: fmw_fork_touch() may add to a published filter while the walk fills it. */
	set_bit(hash_long(v, 12), bloom);
	set_bit(hash_long(v ^ 0x5bd1e995UL, 12), bloom);
}

/*
 * A mover whose task unlocks @settled_by only after it acted (a migration's destination
 * put, before folio_unlock(src)): seen unlocked, its change is in any snapshot taken
 * after this read (the unlock is a release, the put a fully ordered atomic before it).
 */
static bool mover_acted(const struct fmw_mover *m)
{
	struct folio *settled_by = READ_ONCE(m->settled_by);
	bool acted = settled_by && !folio_test_locked(settled_by);

	smp_rmb();	/* the lock bit before the snapshot's reads */
	return acted;
}

/* The reference change @m makes to @folio; false when it does not touch it. */
static bool mover_touches(const struct fmw_mover *m, struct folio *folio, int *delta)
{
	unsigned int i;
	bool hit = false;

	*delta = 0;
	/* A scanner may become exact once it knows its folios (isolate_lru_folios). */
	if (READ_ONCE(m->all))
		return true;
	smp_rmb();	/* its list was written before the switch */
	if (m->bloom)
		return bloom_test(m->bloom, folio);
	for (i = 0; i < READ_ONCE(m->nr); i++)
		if (READ_ONCE(m->folio[i]) == folio) {
			*delta += READ_ONCE(m->delta[i]);
			hit = true;
		}
	return hit;
}

/*
 * Windows open only once every hook is in place (fmw_arm()). Disarmed before the hooks
 * go, nothing reads another task's window or mover any more: a hook unregistered while
 * its function runs never calls its return handler, so that call's window and mover stay
 * behind, pointing into kretprobe instance memory the kernel frees once the call returns
 * (a reload loop on one vCPU met a freed mover in fmw_close_begin at the 19th rmmod).
 */
static bool fmw_armed;

void fmw_arm(bool on)
{
	WRITE_ONCE(fmw_armed, on);
}

bool fmw_armed_now(void)
{
	return READ_ONCE(fmw_armed);
}

/*
 * A test aid (scripts/stress --stall-us): every 64th window or mover of a CPU pauses
 * this long between publishing itself and taking its number, as a vCPU whose host thread
 * is descheduled there does; the ordering below must hold all the same.
 */
static uint stall_us;
module_param(stall_us, uint, 0400);
MODULE_PARM_DESC(stall_us, "test aid: pause every 64th window/mover this long (<= 1000 us) between publishing and numbering");
static DEFINE_PER_CPU(unsigned int, stall_tick);

static void publish_stall(void)
{
	if (unlikely(stall_us) && !(this_cpu_inc_return(stall_tick) & 63))
		udelay(min_t(uint, stall_us, 1000));
}

/*
 * Whether a window numbered @seq, seen published by the window numbered @mine as it
 * opened, may have opened first. 0: it has not stored its number yet, which may be
 * lower than ours (taken before ours, its store not visible yet) or higher: taken as
 * older, the conservative answer (both windows then count each other as foreign).
 */
static bool seq_older(u64 seq, u64 mine)
{
	return !seq || seq < mine;
}

int fmw_open(struct folio *folio, const char *op, u32 flags, struct fmw_log *log)
{
	struct fm_window *w;
	unsigned int j;
	int delta, i;

	if (!READ_ONCE(fmw_armed))
		return -1;
	i = window_get(folio);
	if (i < 0)
		return -1;
	w = &windows[i];
	w->folio = folio;
	w->op = op;
	w->flags = flags;
	w->log = log;
	w->culprit = NULL;
	w->culprit_pid = 0;
	w->refs_culprit = NULL;
	w->accounted = NULL;
	atomic_set(&w->foreign, 0);
	atomic_set(&w->own, 0);
	atomic_set(&w->marks, 0);
	atomic_set(&w->own_refs[0], 0);
	atomic_set(&w->own_refs[1], 0);
	atomic_set(&w->ref_delta, 0);
	w->pending = 0;
	w->pushes = 0;
	w->delta = NULL;
	w->mid = NULL;
	w->mid_valid = false;
	w->rebase = NULL;
	w->rebase_pending = false;
	w->acted = false;
	w->unmeasured = NULL;
	atomic_inc(&windows_open);
	w->seq = 0;	/* not sequenced yet: see seq_older() */
	WRITE_ONCE(w->state, W_OPENING);
	/* Published with its fields set; then seen by movers before we look at them. */
	smp_store_release(&w->task, current);
	publish_stall();
	/*
	 * Sequenced only once published, by a fully ordered increment: whoever takes a
	 * later number sees us published (with our number, or with 0 while we have not
	 * stored it yet), so of two overlapping windows, or a window and a mover, the later
	 * one always finds the earlier. (Numbered before publishing, a window whose vCPU
	 * stalled between the two was found by nobody: a later window on the folio skipped
	 * it as newer, and its add went into neither check; nopmc on 4 vCPUs, two refcount
	 * and mapcount mismatches with no foreign event.)
	 */
	WRITE_ONCE(w->seq, atomic64_inc_return(&fmw_seq));
	/*
	 * Another task's window on the folio that opened before ours: its operation may act
	 * before or after our snapshot (ours straddles it); it will hear from us when we
	 * close. One that opens after ours finds us here the same way.
	 */
	for_each_window_of(j, folio) {
		struct fm_window *o = &windows[j];
		/* Its fields are set before it publishes its task (smp_store_release above). */
		struct task_struct *t = smp_load_acquire(&o->task);
		unsigned long irqflags;

		if (j == i || !t || t == current || READ_ONCE(o->folio) != folio ||
		    !seq_older(READ_ONCE(o->seq), w->seq))
			continue;
		mark(w, FOREIGN_OLDER, READ_ONCE(o->op), task_pid_nr(t));
		raw_spin_lock_irqsave(&o->lock, irqflags);
		if (o->task == t && seq_older(o->seq, w->seq)) {
			o->pending++;
			o->pending_op = op;
			o->pending_pid = task_pid_nr(current);
		}
		raw_spin_unlock_irqrestore(&o->lock, irqflags);
	}
	/* A mover in flight may act before or after our snapshot, unless it has acted. */
	for_each_set_bit(j, mover_busy, nr_movers) {
		struct fmw_mover *m = READ_ONCE(movers[j]);

		if (m && m->task != current && mover_touches(m, folio, &delta) &&
		    !mover_acted(m))
			mark(w, m->bloom ? FOREIGN_FORK : FOREIGN_REFS, m->name, m->pid);
	}
	return i;
}

void fmw_set_rebase(int i, fm_folio *(*rebase)(void *ctx),
		    enum fmw_progress (*progress)(const void *ctx), void *ctx)
{
	if (i < 0 || !one_cpu)
		return;
	windows[i].progress = progress;
	windows[i].progress_ctx = ctx;
	windows[i].rebase = rebase;
}

void fmw_opened(int i)
{
	if (i >= 0)	/* after the snapshot: a mover that sees OPEN acts after it */
		smp_store_release(&windows[i].state, W_OPEN);
}

void fmw_close_begin(int i)
{
	struct fm_window *w;
	unsigned int j;
	int delta;

	if (i < 0)
		return;
	w = &windows[i];
	WRITE_ONCE(w->state, W_CLOSING);
	if (!READ_ONCE(fmw_armed)) {
		/* Movers may be left behind by unregistered hooks: unknowable, not read. */
		mark(w, FOREIGN_OP, "the module unloading", 0);
		return;
	}
	smp_mb();	/* pairs with fmw_mover_end(): its delta is in, or we see it in flight */
	/* A mover still in flight may act after the result is read. */
	for_each_set_bit(j, mover_busy, nr_movers) {
		struct fmw_mover *m = READ_ONCE(movers[j]);

		if (m && m->task != current && !m->bloom && mover_touches(m, w->folio, &delta))
			mark(w, FOREIGN_REFS, m->name, m->pid);
	}
}

static void delta_clear(struct fm_delta *d)
{
	memset(d, 0, offsetof(struct fm_delta, mapcount));
	memset(d->mapcount, 0, sizeof(d->mapcount));
	bitmap_zero(d->pae_changed, FOLIOMAP_MAX_PAGES);
}

static struct fm_delta *delta_get(void)
{
	int i = slot_get(delta_busy, NR_DELTAS);

	if (i < 0)
		return NULL;
	delta_clear(&deltas[i]);
	return &deltas[i];
}

void fmw_verdict_release(struct fmw_verdict *v)
{
	if (v->delta)
		slot_put(delta_busy, v->delta - deltas);
	v->delta = NULL;
}

static u64 slot_id(u64 ids, int s)
{
	return (ids >> (32 * s)) & FM_MM_ID_MASK;
}

/* Adds the change from @b to @a (less @mover_refs references accounted elsewhere) to @d. */
static void delta_add(struct fm_delta *d, const fm_folio *b, const fm_folio *a, int mover_refs)
{
	unsigned int k, n = 1u << b->order;
	int s;

	d->refcount += a->refcount - b->refcount - mover_refs;
	d->large_mapcount += a->large_mapcount - b->large_mapcount;
	d->entire_mapcount += a->entire_mapcount - b->entire_mapcount;
	for (s = 0; s < 2; s++) {
		d->mmc[s] += a->mm_id_mapcount[s] - b->mm_id_mapcount[s];
		if (slot_id(a->mm_ids, s) != slot_id(b->mm_ids, s)) {
			d->changed |= s ? DELTA_ID1 : DELTA_ID0;
			d->mm_ids &= ~((u64)FM_MM_ID_MASK << (32 * s));
			d->mm_ids |= slot_id(a->mm_ids, s) << (32 * s);
		}
	}
	if ((a->mm_ids ^ b->mm_ids) >> 63) {
		d->changed |= DELTA_SHARED;
		d->mm_ids = (d->mm_ids & ~(1ull << 63)) | (a->mm_ids & (1ull << 63));
	}
	if ((a->flags ^ b->flags) & DELTA_FOLIO_FLAGS) {
		d->changed |= DELTA_FLAGS;
		d->flags = a->flags & DELTA_FOLIO_FLAGS;
	}
	for (k = 0; k < n; k++) {
		d->mapcount[k] += a->pages[k].mapcount - b->pages[k].mapcount;
		if ((a->pages[k].flags ^ b->pages[k].flags) & FM_PAGE_ANON_EXCLUSIVE) {
			__set_bit(k, d->pae_changed);
			__assign_bit(k, d->pae, a->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE);
		}
	}
}

/* Adds what @w's operation changed (@before to @actual) to @o's delta; under o->lock. */
static void push_change(struct fm_window *o, const struct fm_window *w,
			const fm_folio *b, const fm_folio *a, int mover_refs)
{
	if (!o->delta)
		o->delta = delta_get();
	if (!o->delta) {
		mark(o, FOREIGN_OP, w->op, task_pid_nr(current));
		return;
	}
	delta_add(o->delta, b, a, mover_refs);
	o->pushes++;
	if (!o->culprit) {
		o->culprit = w->op;
		o->culprit_pid = task_pid_nr(current);
	}
}

/* One CPU: @w's task slept and what others did meanwhile is unknown; the first reason. */
static void set_unmeasured(struct fm_window *w, const char *why)
{
	if (w->unmeasured)
		return;
	foliomap_count(FOLIOMAP_STAT_SLEEPS_UNMEASURED);
	w->unmeasured = why;
}

/* sched_switch (one CPU only): @prev leaves the CPU, @next comes back to it. */
static void switch_probe(void *data, bool preempt, struct task_struct *prev,
			 struct task_struct *next, unsigned int prev_state)
{
	struct fm_snap *now = this_cpu_ptr(switch_scratch);
	enum fmw_progress progress;
	unsigned int j;

	if (!atomic_read(&windows_open) || !READ_ONCE(fmw_armed))
		return;
	for_each_set_bit(j, window_busy, NR_WINDOWS) {
		struct fm_window *w = &windows[j];
		struct task_struct *t = READ_ONCE(w->task);

		if (t == prev && READ_ONCE(w->state) == W_OPEN) {
			if (!w->mid) {
				int m = slot_get(mid_busy, NR_MIDS);

				w->mid = m < 0 ? NULL : &mids[m];
			}
			w->mid_valid = w->mid && !foliomap_snapshot(w->folio, w->mid);
			if (!w->mid_valid)
				set_unmeasured(w, w->mid ? "sleep not measured: the folio was not readable as the task left the CPU"
							 : "sleep not measured: no free switch snapshot");
			progress = w->rebase ? w->progress(w->progress_ctx) : FMW_UNKNOWN;
			w->rebase_pending = progress == FMW_NOT_YET;
			w->acted = progress == FMW_DONE;
		} else if (t == next && w->mid_valid) {
			w->mid_valid = false;
			if (foliomap_snapshot(w->folio, now) || now->folio.order != w->mid->folio.order) {
				set_unmeasured(w, "sleep not measured: the folio changed order while the task slept");
				continue;
			}
			foliomap_count(FOLIOMAP_STAT_SLEEPS_MEASURED);
			w->pushes++;
			if (w->log || w->rebase_pending) {
				/* A replay, or an operation yet to act, takes it where it happened. */
				struct fmw_verdict v = { .delta = this_cpu_ptr(switch_delta) };

				delta_clear(v.delta);
				delta_add(v.delta, &w->mid->folio, &now->folio, 0);
				fmw_apply_delta(&v, w->log ? &w->log->state.folio
							   : w->rebase(w->progress_ctx));
				continue;
			}
			if (!w->delta)
				w->delta = delta_get();
			if (!w->delta) {
				set_unmeasured(w, "sleep not measured: no free delta");
				continue;
			}
			delta_add(w->delta, &w->mid->folio, &now->folio, 0);
			/*
			 * A change of the slot owners or S does not commute with what is left of
			 * the operation, unless nothing is.
			 */
			if (!w->acted && (w->delta->changed & (DELTA_ID0 | DELTA_ID1 | DELTA_SHARED))) {
				set_unmeasured(w, "sleep not measured: slot owners changed meanwhile");
				mark(w, FOREIGN_OP, "slot owners changed while the task slept", 0);
			}
		}
	}
}

static void find_sched_switch(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_switch"))
		sched_switch_tp = tp;
}

/*
 * Whether a disagreement may be another task's doing: with several CPUs when a foreign
 * event was seen; on one CPU, where every foreign change is measured (switch_probe), only
 * when a sleep could not be measured.
 */
bool fmw_ordered(const struct fmw_verdict *v)
{
	return !v->delta && !v->pushes && !(v->foreign & ~FOREIGN_REFS);
}

bool fmw_may_race(const struct fmw_verdict *v)
{
	return !one_cpu || v->unmeasured;
}

void fmw_apply_delta(const struct fmw_verdict *v, fm_folio *f)
{
	const struct fm_delta *d = v->delta;
	unsigned int k, n = 1u << f->order;
	int s;

	if (!d)
		return;
	/*
	 * [PMC] _nr_pages_mapped counts the pages mapped by PTE and ENTIRELY_MAPPED (spec
	 * §1.4): derived at the merge from the per-page and entire counts, not added (both
	 * operations may have unmapped the same page).
	 */
	if (f->mode == FM_MODE_PMC)
		f->nr_pages_mapped += ((f->entire_mapcount + d->entire_mapcount >= 0) -
				       (f->entire_mapcount >= 0)) * FM_ENTIRELY_MAPPED;
	f->refcount += d->refcount;
	f->large_mapcount += d->large_mapcount;
	f->entire_mapcount += d->entire_mapcount;
	for (s = 0; s < 2; s++) {
		f->mm_id_mapcount[s] += d->mmc[s];
		if (d->changed & (s ? DELTA_ID1 : DELTA_ID0)) {
			f->mm_ids &= ~((u64)FM_MM_ID_MASK << (32 * s));
			f->mm_ids |= slot_id(d->mm_ids, s) << (32 * s);
		}
	}
	if (d->changed & DELTA_SHARED)
		f->mm_ids = (f->mm_ids & ~(1ull << 63)) | (d->mm_ids & (1ull << 63));
	if (d->changed & DELTA_FLAGS)
		f->flags = (f->flags & ~DELTA_FOLIO_FLAGS) | d->flags;
	for (k = 0; k < n && k < f->pages_len; k++) {
		if (f->mode == FM_MODE_PMC && f->order)
			f->nr_pages_mapped += (f->pages[k].mapcount + d->mapcount[k] >= 0) -
					      (f->pages[k].mapcount >= 0);
		f->pages[k].mapcount += d->mapcount[k];
		if (test_bit(k, d->pae_changed)) {
			if (test_bit(k, d->pae))
				f->pages[k].flags |= FM_PAGE_ANON_EXCLUSIVE;
			else
				f->pages[k].flags &= ~FM_PAGE_ANON_EXCLUSIVE;
		}
	}
}

static void unregister(struct fm_window *w, int i)
{
	unsigned long irqflags;

	raw_spin_lock_irqsave(&w->lock, irqflags);
	w->task = NULL;
	raw_spin_unlock_irqrestore(&w->lock, irqflags);
	if (w->mid)
		slot_put(mid_busy, w->mid - mids);
	w->mid = NULL;
	w->mid_valid = false;
	atomic_dec(&windows_open);
	slot_put(window_busy, i);
}

/* An older window of @w's task on the folio records its operation as a whole. */
#define OLDER_OWN	(1u << 0)	/* the task has an older window on the folio */
#define OLDER_RECORDED	(1u << 1)	/* ... one of them WINDOW_RECORDED */

/* @w's task's older windows on its folio (OLDER_*): one scan for both questions. */
static u32 own_older(const struct fm_window *w)
{
	unsigned int j;
	u32 found = 0;

	for_each_window_of(j, w->folio) {
		const struct fm_window *o = &windows[j];

		if (o != w && READ_ONCE(o->task) == current && o->folio == w->folio &&
		    o->seq < w->seq)
			found |= OLDER_OWN | (o->flags & WINDOW_RECORDED ? OLDER_RECORDED : 0);
	}
	return found;
}

/*
 * Tells the older foreign windows on the folio what this one's operation did: its
 * observed change, when it can be replayed onto theirs (both snapshots of the same
 * folio, no foreign event of its own), else that an operation they cannot account for
 * ran inside them. A nested window leaves that to its task's outermost one.
 */
static void tell_older(struct fm_window *w, bool outermost, u32 foreign, int mover_refs,
		       const fm_folio *before, const fm_folio *actual)
{
	bool replayable;
	unsigned int j;

	/* Straddling the older windows it reports to does not spoil what it saw. */
	replayable = before && actual && before->order == actual->order &&
		     !(foreign & ~(FOREIGN_REFS | FOREIGN_OLDER)) && !w->pushes;
	for_each_window_of(j, w->folio) {
		struct fm_window *o = &windows[j];
		struct task_struct *t = READ_ONCE(o->task);
		unsigned long irqflags;
		u64 seq;

		if (!t || t == current || READ_ONCE(o->folio) != w->folio)
			continue;
		/*
		 * Not numbered yet (0): it has not snapshotted, so our change, complete now,
		 * is in its snapshot; a pending count we gave it stays (FOREIGN_OP there).
		 */
		seq = READ_ONCE(o->seq);
		if (!seq || seq > w->seq)
			continue;
		raw_spin_lock_irqsave(&o->lock, irqflags);
		if (o->task == t && o->seq == seq) {
			if (one_cpu) {
				/* Measured by the older window's sleep delta. */
			} else if (outermost && replayable) {
				push_change(o, w, before, actual, mover_refs);
				if (foreign & FOREIGN_REFS)
					mark(o, FOREIGN_REFS, w->op, task_pid_nr(current));
			} else if (outermost) {
				mark(o, FOREIGN_OP, w->op, task_pid_nr(current));
			}
			o->pending--;
		}
		raw_spin_unlock_irqrestore(&o->lock, irqflags);
	}
}

void fmw_close_end(int i, struct fmw_verdict *v, const fm_folio *before, const fm_folio *actual)
{
	unsigned long irqflags;
	u32 older;
	struct fm_window *w;
	const char *culprit;

	memset(v, 0, sizeof(*v));
	if (i < 0)
		return;
	w = &windows[i];
	smp_mb();	/* the result was read before the counters below */
	raw_spin_lock_irqsave(&w->lock, irqflags);
	/* A newer foreign operation still running may act after our result was read. */
	if (w->pending)
		mark(w, FOREIGN_OP, w->pending_op, w->pending_pid);
	v->pushes = w->pushes;
	v->unmeasured = w->unmeasured;
	v->delta = w->delta;
	w->delta = NULL;
	raw_spin_unlock_irqrestore(&w->lock, irqflags);
	v->foreign = atomic_read(&w->foreign);
	v->own = atomic_read(&w->own);
	v->marks = atomic_read(&w->marks);
	v->own_refs[0] = atomic_read(&w->own_refs[0]);
	v->own_refs[1] = atomic_read(&w->own_refs[1]);
	v->ref_delta = atomic_read(&w->ref_delta);
	/*
	 * Named only with the foreign event read above: a mover that begins once the result
	 * is read still marks a closing window, too late to matter, and must not be named.
	 */
	v->refs_culprit = READ_ONCE(w->refs_culprit);
	culprit = v->foreign || v->pushes ? READ_ONCE(w->culprit) : NULL;
	if (culprit)
		snprintf(v->culprit, sizeof(v->culprit), "%s pid %d", culprit,
			 READ_ONCE(w->culprit_pid));
	/* Kept raw: formatted only if the check ends in a record (accounted_note()). */
	if (v->ref_delta) {
		v->accounted = READ_ONCE(w->accounted);
		v->accounted_pid = READ_ONCE(w->accounted_pid);
		v->accounted_delta = READ_ONCE(w->accounted_delta);
	}
	older = own_older(w);
	v->in_recorded = older & OLDER_RECORDED;
	tell_older(w, !(older & OLDER_OWN), v->foreign, v->ref_delta, before, actual);
	unregister(w, i);
}

bool fmw_close_read(int i, struct folio *folio, const fm_folio *before,
		    struct fm_snap *actual, struct fmw_verdict *v)
{
	bool read;

	fmw_close_begin(i);
	read = !foliomap_snapshot_after(folio, actual);
	fmw_close_end(i, v, before, read ? &actual->folio : NULL);
	return read;
}

void fmw_abandon(int i)
{
	struct fmw_verdict v;

	if (i < 0)
		return;
	fmw_close_end(i, &v, NULL, NULL);
	fmw_verdict_release(&v);
}

/* The current task's innermost open window on @folio for @op (NULL: any), or NULL. */
static struct fm_window *own_window(struct folio *folio, const char *op)
{
	struct fm_window *own = NULL;
	unsigned int j;

	if (!READ_ONCE(fmw_armed))
		return NULL;
	for_each_window_of(j, folio) {
		struct fm_window *w = &windows[j];

		if (READ_ONCE(w->task) == current && w->folio == folio && (!op || w->op == op) &&
		    (!own || w->seq > own->seq))
			own = w;
	}
	return own;
}

void fmw_mark_own(struct folio *folio, const char *op, u32 bit)
{
	struct fm_window *w = own_window(folio, op);

	if (w)
		atomic_or(bit, &w->marks);
}

struct fmw_log *fmw_own_log(struct folio *folio, const char *op)
{
	struct fmw_log *log = NULL;
	u64 seq = 0;
	unsigned int j;

	if (!READ_ONCE(fmw_armed))
		return NULL;
	for_each_window_of(j, folio) {
		struct fm_window *w = &windows[j];

		if (READ_ONCE(w->task) == current && w->folio == folio && w->log &&
		    (!op || w->op == op) && w->seq > seq) {
			log = w->log;
			seq = w->seq;
		}
	}
	return log;
}


/* Forks published (fmw_fork_touch() looks for them only while there are some). */
static atomic_t forks_in_flight;

void fmw_mover_publish(struct fmw_mover *m)
{
	m->task = mover_task();
	m->pid = m->task ? task_pid_nr(m->task) : 0;
	m->slot = READ_ONCE(fmw_armed) ? slot_get(mover_busy, nr_movers) : -1;
	if (m->slot >= 0)
		WRITE_ONCE(movers[m->slot], m);
	if (m->slot >= 0 && m->fork_src) {
		atomic_inc(&forks_in_flight);
		smp_mb__after_atomic();	/* published before the walk reads an entry */
	}
}

void fmw_mover_begin(struct fmw_mover *m)
{
	fmw_mover_publish(m);
	fmw_mover_start(m);
}

/*
 * The buckets of the windows @m may touch: false when that is any window (a scanner
 * that does not know its folios yet, a fork's filter), else @buckets holds the buckets
 * of its folios, each once, so a window is visited once (its delta added once).
 */
static bool mover_buckets(const struct fmw_mover *m, unsigned long *buckets)
{
	unsigned int i, nr;

	if (READ_ONCE(m->all) || m->bloom)
		return false;
	smp_rmb();	/* its list was written before the switch (mover_touches()) */
	bitmap_zero(buckets, NR_WINDOW_BUCKETS);
	nr = min_t(unsigned int, READ_ONCE(m->nr), MOVER_BATCH);
	for (i = 0; i < nr; i++)
		__set_bit(hash_ptr(READ_ONCE(m->folio[i]), WINDOW_BUCKET_BITS), buckets);
	return true;
}

/* The next busy window from @j in the marked @buckets, then in the overflow. */
static unsigned int next_window_in(const unsigned long *buckets, unsigned int j)
{
	unsigned int b, end;

	while (j < WINDOW_OVERFLOW) {
		b = j / WINDOWS_PER_BUCKET;
		if (!test_bit(b, buckets)) {
			b = find_next_bit(buckets, NR_WINDOW_BUCKETS, b + 1);
			if (b >= NR_WINDOW_BUCKETS)
				break;
			j = b * WINDOWS_PER_BUCKET;
		}
		end = (b + 1) * WINDOWS_PER_BUCKET;
		j = find_next_bit(window_busy, end, j);
		if (j < end)
			return j;
	}
	return find_next_bit(window_busy, NR_WINDOWS, max(j, WINDOW_OVERFLOW));
}

/* Every busy window @m may touch (mover_buckets()), or every one when @every. */
#define for_each_mover_window(j, every, buckets)				\
	for ((j) = (every) ? find_next_bit(window_busy, NR_WINDOWS, 0)	\
			   : next_window_in(buckets, 0);			\
	     (j) < NR_WINDOWS;							\
	     (j) = (every) ? find_next_bit(window_busy, NR_WINDOWS, (j) + 1)	\
			   : next_window_in(buckets, (j) + 1))

void fmw_mover_start(struct fmw_mover *m)
{
	DECLARE_BITMAP(buckets, NR_WINDOW_BUCKETS);
	unsigned int j;
	bool every;
	int delta;

	publish_stall();
	/*
	 * Numbered once published, by the fully ordered increment windows take theirs from
	 * (fmw_open): a window numbered before us is seen by our scan; one numbered after
	 * us sees us in flight.
	 */
	m->seq = atomic64_inc_return(&fmw_seq);
	every = !mover_buckets(m, buckets);
	for_each_mover_window(j, every, buckets) {
		struct fm_window *w = &windows[j];
		struct task_struct *t = READ_ONCE(w->task);

		if (!t || t == m->task || !mover_touches(m, READ_ONCE(w->folio), &delta))
			continue;
		/*
		 * Opening, or closing (its scan of the movers in flight may have missed us):
		 * the window's snapshot, or its result, may come before or after this mover
		 * acts. (Counting a mover that began as a window closed and ended before its
		 * verdict was read, with the result read before the mover acted, gave the
		 * recorder a reference drop twice: a real pmc trace, 23 differences.)
		 */
		if (m->bloom || m->slot < 0 || smp_load_acquire(&w->state) != W_OPEN)
			mark(w, m->bloom ? FOREIGN_FORK : FOREIGN_REFS, m->name, m->pid);
	}
}

/*
 * Whether the window numbered @seq opened before the mover numbered @mover. 0: not
 * numbered yet, so after the mover, whose change its snapshot holds or whose flight
 * its scan sees (FOREIGN_REFS).
 */
static bool seq_before_mover(u64 seq, u64 mover)
{
	return seq && seq < mover;
}

void fmw_mover_end(struct fmw_mover *m)
{
	DECLARE_BITMAP(buckets, NR_WINDOW_BUCKETS);
	unsigned int j;
	bool every;
	int delta;

	/* A fork's effect is not a reference count: its windows were marked already. */
	if (m->bloom)
		goto unpublish;
	every = !mover_buckets(m, buckets);
	for_each_mover_window(j, every, buckets) {
		struct fm_window *w = &windows[j];
		struct task_struct *t = READ_ONCE(w->task);

		if (!t || !mover_touches(m, READ_ONCE(w->folio), &delta))
			continue;
		if (t == m->task && (w->flags & WINDOW_FACTS) && m->own_fact) {
			/* A fact of the window's own operation (spec §7.3). */
			if (delta) {
				atomic_or(m->own_fact, &w->own);
				atomic_add(delta, &w->own_refs[m->own_fact == OWN_SWAP_FREED]);
			}
		} else if (m->slot < 0 || m->uncertain) {
			/* Unpublished (no window could see it) or of unknown size. */
			mark(w, FOREIGN_REFS, m->name, m->pid);
		} else if (one_cpu && m->task && t != m->task) {
			/* Ran while the window's task was switched out: in its sleep delta. */
		} else if (seq_before_mover(READ_ONCE(w->seq), m->seq)) {
			/* Opened before this mover began, so OPEN by then (else marked). */
			atomic_add(delta, &w->ref_delta);
			WRITE_ONCE(w->accounted_pid, m->pid);
			WRITE_ONCE(w->accounted_delta, delta);
			WRITE_ONCE(w->accounted, m->name);
		}
	}
unpublish:
	if (m->slot < 0)
		return;
	smp_mb();	/* deltas added before we vanish (pairs with fmw_close_begin()) */
	WRITE_ONCE(movers[m->slot], NULL);
	if (m->fork_src)
		atomic_dec(&forks_in_flight);
	slot_put(mover_busy, m->slot);
}

/*
 * The fork's walk read each entry of the VMA before the copy: one that was a migration
 * entry then (or the folio before it migrated) may be restored, by another task's rmap
 * walk under the page table lock, before the copy takes that lock, and the copy then
 * duplicates a folio the filter does not hold. Seen as a mismatch: an exit's removal
 * of a file page mapped 13 times, pmc on 2 vCPUs, with no foreign event. The restore
 * runs here before it unlocks: the filter gets the folio, then the windows open on it
 * are marked; a window opening later finds it in the filter (the fully ordered
 * increment of fmw_open() against the barrier here: one of the two sees the other).
 */
void fmw_fork_touch(const struct vm_area_struct *vma, struct folio *folio)
{
	unsigned int j, k;

	if (!atomic_read(&forks_in_flight) || !READ_ONCE(fmw_armed))
		return;
	for_each_set_bit(j, mover_busy, nr_movers) {
		struct fmw_mover *m = READ_ONCE(movers[j]);

		if (!m || READ_ONCE(m->fork_src) != vma)
			continue;
		foliomap_count(FOLIOMAP_STAT_FORK_RESTORES);
		fmw_bloom_add(m->bloom, folio);
		smp_mb__after_atomic();	/* in the filter, then the scan (pairs with fmw_open()) */
		for_each_window_of(k, folio) {
			struct fm_window *w = &windows[k];
			struct task_struct *t = READ_ONCE(w->task);

			if (t && t != m->task && READ_ONCE(w->folio) == folio)
				mark(w, FOREIGN_FORK, m->name, m->pid);
		}
	}
}

/* ------------------------------------------------------------------------------------ */

/* For a record: the reference changes of movers added to the prediction, or NULL. */
static const char *accounted_note(const struct fmw_verdict *v, char *buf, size_t len)
{
	if (!v->accounted)
		return NULL;
	snprintf(buf, len, "refs of movers %+d, last %s pid %d (%+d)", v->ref_delta,
		 v->accounted, v->accounted_pid, v->accounted_delta);
	return buf;
}

void fm_finish_check(const char *op, enum foliomap_stat op_stat, const char *args,
		     const fm_folio *before, struct fm_snap *predicted,
		     const struct fm_snap *actual, int model_status, u32 fields,
		     struct fmw_verdict *v, const struct foliomap_trace_op *rec)
{
	struct foliomap_check_report r = {
		.op = op, .before = before, .predicted = &predicted->folio,
		.actual = &actual->folio, .model_status = model_status,
	};
	/* What the model's operation alone leaves; the recorder's references (below). */
	int model_refs = predicted->folio.refcount;
	bool ordered = fmw_ordered(v);
	char note[96];	/* the record keeps 96 */

	fmw_apply_delta(v, &predicted->folio);
	if (fields & FM_FIELD_REFCOUNT) {
		if (v->foreign & FOREIGN_REFS) {
			fields &= ~FM_FIELD_REFCOUNT;
			foliomap_count(FOLIOMAP_STAT_REFCOUNT_EXCLUDED);
			if (predicted->folio.refcount + v->ref_delta != actual->folio.refcount) {
				foliomap_count(FOLIOMAP_STAT_REFCOUNT_EXCLUDED_DIFFERED);
				foliomap_count_excluded(op, v->refs_culprit);
			}
		} else {
			if (v->ref_delta) {
				predicted->folio.refcount += v->ref_delta;
				foliomap_count(FOLIOMAP_STAT_REFS_ACCOUNTED);
			}
			/*
			 * The operation defines its references: only the movers' are others'
			 * (a disagreement on the rest shows in the replay as in this check).
			 */
			model_refs = actual->folio.refcount - v->ref_delta;
		}
		/*
		 * Freed by the operation: what is left of the folio is the allocator's (a
		 * large one is no longer compound); its reference count must be 0, unless it
		 * was allocated again already: then another task used it inside the window
		 * (seen on one CPU: do_wp_page's copy freed the old folio and was preempted;
		 * a fault of another mm got the memory and a GUP took references on it).
		 */
		if (fields & FM_FIELD_REFCOUNT && predicted->folio.refcount == 0) {
			ordered = false;	/* the allocator's now */
			if (actual->folio.refcount == 0) {
				foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
				foliomap_count(op_stat);
				goto out;
			}
			/*
			 * On one CPU the other task ran while ours was off the CPU: measured
			 * (pushes), or not measurable, the folio being free by then (a soak: a
			 * copy fault freed an order-9 folio, was preempted, and another mm's
			 * PMD fault had it again before the window closed).
			 */
			if (v->foreign || v->pushes || v->delta || v->unmeasured) {
				foliomap_count(FOLIOMAP_STAT_UNCHECKED);
				foliomap_count(FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED);
				strscpy(r.args, args, sizeof(r.args));
				r.culprit = v->culprit[0] ? v->culprit : NULL;
				r.note = "freed by the operation, then allocated again by another task";
				r.fields = fields;
				fm_folio_compare(&predicted->folio, &actual->folio, 0,
						 FOLIOMAP_MAX_PAGES, fields, &r.diff);
				foliomap_record(&r, RECORD_UNCHECKED);
				goto out;
			}
			fields = FM_FIELD_REFCOUNT;
		}
	}
	/*
	 * Freed under the check by a reference mover it could not account (the refcount is
	 * not compared): fine if the model leaves the folio unmapped too; the rest of it is
	 * the allocator's.
	 */
	if ((v->foreign & FOREIGN_REFS) && actual->folio.refcount == 0) {
		fm_query q;

		if (fm_folio_query(&predicted->folio, 0, &q) == FM_OK && q.mapcount == 0) {
			foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
			foliomap_count(op_stat);
			ordered = false;
			goto out;
		}
	}
	r.fields = fields;
	if (fm_folio_compare(&predicted->folio, &actual->folio, 0, FOLIOMAP_MAX_PAGES,
			     fields, &r.diff) != FM_OK) {
		/* The folio changed order: freed and reused, or split, meanwhile. */
		foliomap_count(FOLIOMAP_STAT_UNCHECKED);
		foliomap_count(FOLIOMAP_STAT_UNCHECKED_FOLIO_CHANGED);
		strscpy(r.args, args, sizeof(r.args));
		r.culprit = v->culprit[0] ? v->culprit : NULL;
		snprintf(note, sizeof(note), "the folio changed from order %u to %u",
			 predicted->folio.order, actual->folio.order);
		r.note = note;
		r.diff.first_page = U32_MAX;
		foliomap_record(&r, RECORD_UNCHECKED);
		ordered = false;
		goto out;
	}
	if (model_status == FM_OK && !r.diff.fields) {
		if (!foliomap_compare_answers(actual, note, sizeof(note))) {
			foliomap_count(FOLIOMAP_STAT_ANSWERS_CHECKED);
			foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
			foliomap_count(op_stat);
			goto out;
		}
		/* The model reads the kernel's own state wrong: no race explains that. */
		r.note = note;
	}
	strscpy(r.args, args, sizeof(r.args));
	r.culprit = v->culprit;
	/* Foreign changes replayed onto the prediction may not commute with ours. */
	if (!r.note && fmw_may_race(v) && ((v->foreign & ~FOREIGN_REFS) || v->pushes)) {
		r.note = v->unmeasured;	/* on one CPU, the reason it may have raced */
		if (!r.note)
			r.note = accounted_note(v, note, sizeof(note));
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_RACED);
		foliomap_record(&r, RECORD_RACED);
		ordered = false;
		goto out;
	}
	foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
	foliomap_count(op_stat);
	foliomap_count(FOLIOMAP_STAT_TRANSITION_MISMATCHES);
	if (!r.note)
		r.note = accounted_note(v, note, sizeof(note));
	foliomap_record(&r, RECORD_MISMATCH);
out:
	if (rec && !v->in_recorded)
		foliomap_trace_record(rec, before, &actual->folio, model_refs,
				      predicted->folio.flags, ordered);
	fmw_verdict_release(v);
}

/* ------------------------------------------------------------------------------------ */

static unsigned long *bitmap_vzalloc(unsigned int bits)
{
	return vzalloc(BITS_TO_LONGS(bits) * sizeof(long));
}

int fmw_init(unsigned int check_slots, unsigned int replay_slots, unsigned int mover_slots)
{
	unsigned int i;

	nr_checks = check_slots;
	nr_replays = replay_slots;
	nr_movers = mover_slots;
	windows = vzalloc(sizeof(*windows) * NR_WINDOWS);
	deltas = vzalloc(sizeof(*deltas) * NR_DELTAS);
	delta_busy = bitmap_vzalloc(NR_DELTAS);
	one_cpu = num_possible_cpus() == 1;
	if (one_cpu) {
		mids = vzalloc(sizeof(*mids) * NR_MIDS);
		mid_busy = bitmap_vzalloc(NR_MIDS);
		switch_scratch = alloc_percpu(struct fm_snap);
		switch_delta = alloc_percpu(struct fm_delta);
	}
	window_busy = bitmap_vzalloc(NR_WINDOWS);
	movers = vzalloc(sizeof(*movers) * nr_movers);
	mover_busy = bitmap_vzalloc(nr_movers);
	checks = vzalloc(sizeof(*checks) * nr_checks);
	check_busy = bitmap_vzalloc(nr_checks);
	replays = vzalloc(sizeof(*replays) * nr_replays);
	replay_busy = bitmap_vzalloc(nr_replays);
	scratch = alloc_percpu(struct fm_scratch);
	if (!windows || !deltas || !delta_busy || !window_busy || !movers ||
	    (one_cpu && (!mids || !mid_busy || !switch_scratch || !switch_delta)) || !mover_busy || !checks || !check_busy ||
	    !replays || !replay_busy || !scratch) {
		fmw_exit();
		return -ENOMEM;
	}
	for (i = 0; i < NR_WINDOWS; i++)
		raw_spin_lock_init(&windows[i].lock);
	if (one_cpu) {
		int err;

		for_each_kernel_tracepoint(find_sched_switch, NULL);
		err = sched_switch_tp ? tracepoint_probe_register(sched_switch_tp,
								  switch_probe, NULL) : -ENOENT;
		if (err) {
			pr_err("cannot hook the sched_switch tracepoint (%d)\n", err);
			sched_switch_tp = NULL;
			fmw_exit();
			return err;
		}
	}
	pr_info("check storage: %u checks, %u replays, %u movers, %u windows (%lu KiB)\n",
		nr_checks, nr_replays, nr_movers, NR_WINDOWS,
		(sizeof(*checks) * nr_checks + sizeof(*replays) * nr_replays +
		 sizeof(*windows) * NR_WINDOWS) >> 10);
	return 0;
}

void fmw_exit(void)
{
	if (sched_switch_tp) {
		tracepoint_probe_unregister(sched_switch_tp, switch_probe, NULL);
		tracepoint_synchronize_unregister();
		sched_switch_tp = NULL;
	}
	vfree(mids);
	vfree(mid_busy);
	free_percpu(switch_scratch);
	free_percpu(switch_delta);
	mids = NULL;
	switch_scratch = NULL;
	switch_delta = NULL;
	vfree(windows);
	vfree(deltas);
	vfree(delta_busy);
	vfree(window_busy);
	vfree(movers);
	vfree(mover_busy);
	vfree(checks);
	vfree(check_busy);
	vfree(replays);
	vfree(replay_busy);
	free_percpu(scratch);
	windows = NULL;
	scratch = NULL;
}
