// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The event recorder (issue 10): every transition the shadow checker compares, written
 * as the trace records of include/foliomap.h (fm_trace_event, fm_trace_state,
 * fm_trace_pages; the format and what a kernel trace observes: the doc comment of
 * rust/foliomap/src/trace.rs) into per-CPU rings that userspace drains.
 *
 * Its debugfs files (trace_ctl, trace, trace_header): foliomap_debugfs.h.
 *
 * A folio's stream must say everything that changed it. The recorder keeps, per folio
 * (a direct-mapped table by PFN), the state its stream last described; when a check's
 * state before differs from it, the difference comes first: references and flags that
 * moved outside any checked operation as Get/Put and UpdateFlags events, anything else
 * as a new fm_trace_state under a new epoch. References other paths moved inside the
 * window (the check's "movers", and any the model does not define for an rmap
 * primitive), and the flags no check compares (LRU, swap cache, KSM), arrive as an
 * UpdateFlags and a Get/Put right after the operation's events, whose digest is then
 * that of the kernel's state after it without them: the order the checker gives them
 * (a write fault decides on the references and flags it found at entry).
 *
 * Probe context: no sleeping, no allocation; one raw spinlock per table bucket (probe
 * handlers run where a sleeping lock is not allowed: lockdep says so) orders a
 * folio's records (each takes its seq under it), so sorting by seq restores each
 * folio's order across CPUs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "foliomap_shadow.h"
#include "foliomap_trace.h"

static unsigned int trace_ring_kb = 16384;
module_param(trace_ring_kb, uint, 0400);
MODULE_PARM_DESC(trace_ring_kb, "per-CPU trace ring size in KiB (default 16384)");

#define REC_SIZE	FM_TRACE_RECORD_SIZE
/* Folio flags no check compares: other paths move them inside a window. */
#define OTHERS_FLAGS	(FM_FOLIO_LRU | FM_FOLIO_SWAPCACHE | FM_FOLIO_KSM)
#define TABLE_BITS	16
#define LOCK_BITS	10

/* One CPU's ring: that CPU writes at head, the reader consumes at tail. */
struct trace_ring {
	u64 head;
	u64 tail;
	u64 nr;			/* slots */
	u8 (*slot)[REC_SIZE];
};

/* What a folio's stream last said of it. */
struct folio_last {
	u64 pfn;
	u32 epoch;		/* the bucket's generation: bumped at every new state */
	bool valid;		/* st is the state after the stream's last record */
	u32 pages_hash;		/* of its pages' mapcounts and flags (not in st) */
	fm_trace_state st;
};

static struct trace_ring *rings;
static struct folio_last *table;
static fm_trace_event *scratch;	/* FOLIOMAP_TRACE_SCRATCH per CPU */
static raw_spinlock_t table_locks[1 << LOCK_BITS];
static bool recording;		/* smp_load_acquire: rings and table are ready */
static DEFINE_MUTEX(trace_mutex);	/* start, stop, reads */

static atomic64_t trace_seq;
static atomic64_t nr_records, nr_events, nr_states, nr_dropped, nr_unordered;

bool foliomap_tracing(void)
{
	/* Pairs with trace_start()'s release: the rings and the table are initialised. */
	return smp_load_acquire(&recording);
}

fm_trace_event *foliomap_trace_scratch(void)
{
	if (!foliomap_tracing())
		return NULL;
	return scratch + (size_t)smp_processor_id() * FOLIOMAP_TRACE_SCRATCH;
}

static raw_spinlock_t *bucket_lock(unsigned long slot)
{
	return &table_locks[slot & (ARRAY_SIZE(table_locks) - 1)];
}

/* Claims the next seq for @rec (its first field) and puts it in this CPU's ring. */
static bool ring_put(void *rec, u64 *seq, u16 *cpu)
{
	unsigned int this_cpu = smp_processor_id();
	struct trace_ring *r = &rings[this_cpu];
	u64 head = r->head;

	*seq = atomic64_inc_return(&trace_seq);
	*cpu = this_cpu;
	/* Pairs with the reader's release of tail: it is done with those slots. */
	if (head - smp_load_acquire(&r->tail) >= r->nr) {
		atomic64_inc(&nr_dropped);	/* the gap in seq tells the reader too */
		return false;
	}
	memcpy(r->slot[head % r->nr], rec, REC_SIZE);
	/* The slot is written before the reader sees it (its acquire of head). */
	smp_store_release(&r->head, head + 1);
	atomic64_inc(&nr_records);
	return true;
}

/* An event record of @e's folio; false when it was dropped. */
static bool put_event(struct folio_last *e, fm_trace_event *ev)
{
	ev->pfn = e->pfn;
	ev->epoch = e->epoch;
	ev->order = e->st.order;
	atomic64_inc(&nr_events);
	return ring_put(ev, &ev->seq, &ev->cpu);
}

/* @e's folio is in state @st: a new epoch, its state record and its page runs. */
static bool put_state(struct folio_last *e, u64 pfn, const fm_trace_state *st,
		      const fm_folio *folio)
{
	fm_trace_pages pg;
	u32 cursor = 0;
	u16 part = 0;
	bool more, ok;

	e->pfn = pfn;
	e->epoch++;
	e->st = *st;
	e->st.pfn = pfn;
	e->st.epoch = e->epoch;
	atomic64_inc(&nr_states);
	ok = ring_put(&e->st, &e->st.seq, &e->st.cpu);
	/* The model only reads the folio here (Access::Read). */
	while (fm_folio_trace_pages((fm_folio *)folio, &cursor, &pg, &more) == FM_OK && more) {
		pg.pfn = pfn;
		pg.epoch = e->epoch;
		pg.part = part++;
		ok &= ring_put(&pg, &pg.seq, &pg.cpu);
	}
	return ok;
}

/* Everything but the references and the flags is the same in @a and @b. */
static bool same_but_refs_and_flags(const fm_trace_state *a, const fm_trace_state *b)
{
	return a->mm_ids == b->mm_ids && a->mm_id_mapcount[0] == b->mm_id_mapcount[0] &&
	       a->mm_id_mapcount[1] == b->mm_id_mapcount[1] && a->pincount == b->pincount &&
	       a->large_mapcount == b->large_mapcount &&
	       a->entire_mapcount == b->entire_mapcount &&
	       a->nr_pages_mapped == b->nr_pages_mapped && a->order == b->order &&
	       a->nr_runs == b->nr_runs;
}

/* A Get/Put of @delta references on @e's folio (whose mapcount is @mapcount). */
static bool put_refs(struct folio_last *e, int delta, int mapcount)
{
	fm_trace_event ev = {
		.op = delta > 0 ? FM_TRACE_OP_GET : FM_TRACE_OP_PUT,
		.arg = delta > 0 ? delta : -delta,
		.mapcount_after = mapcount,
	};

	e->st.refcount += delta;
	fm_trace_state_digest(&e->st, &ev.digest);
	return put_event(e, &ev);
}

/* Flags that changed outside any checked operation: one UpdateFlags event. */
static bool put_flags(struct folio_last *e, u8 flags, int mapcount)
{
	fm_trace_event ev = {
		.op = FM_TRACE_OP_UPDATE_FLAGS,
		.arg = flags & ~e->st.flags,	/* set */
		.mm = e->st.flags & ~flags,	/* cleared */
		.mapcount_after = mapcount,
	};

	e->st.flags = flags;
	fm_trace_state_digest(&e->st, &ev.digest);
	return put_event(e, &ev);
}

/* The per-page state (a small folio's mapcount is its page's): what st does not hold. */
static u32 pages_hash(const fm_folio *f)
{
	BUILD_BUG_ON(sizeof(fm_page) != 2 * sizeof(u32));
	return jhash2((const u32 *)f->pages, 2u << f->order, 0);
}

static int mapcount_of(const fm_folio *f)
{
	fm_query q;

	/* The model only reads the folio here (Access::Read). */
	return fm_folio_query((fm_folio *)f, 0, &q) == FM_OK ? q.mapcount : 0;
}

void foliomap_trace_record(const struct foliomap_trace_op *op, const fm_folio *before,
			   const fm_folio *after, int model_refs, u32 model_flags, bool ordered)
{
	fm_trace_state sb, sa;
	u32 hash_before, hash_after;
	struct folio_last *e;
	unsigned long flags, slot;
	int mapcount_before, mapcount_after, drift;
	u8 moved_flags;
	unsigned int i;
	bool ok = true;
	u64 pfn;

	if (!op->nr)
		return;
	rcu_read_lock_sched();	/* trace_stop() waits for us before it frees anything */
	if (!foliomap_tracing())
		goto out_rcu;
	pfn = folio_pfn(op->folio);
	slot = hash_64(pfn, TABLE_BITS);
	e = &table[slot];
	if (!ordered || op->unordered) {
		atomic64_inc(&nr_unordered);
		raw_spin_lock_irqsave(bucket_lock(slot), flags);
		if (e->pfn == pfn)
			e->valid = false;
		goto out_unlock;
	}
	/* The page runs are counted here, outside the lock: O(pages). */
	if (fm_folio_trace_state((fm_folio *)before, &sb) != FM_OK ||
	    fm_folio_trace_state((fm_folio *)after, &sa) != FM_OK)
		goto out_rcu;
	mapcount_before = mapcount_of(before);
	mapcount_after = mapcount_of(after);
	hash_before = pages_hash(before);
	hash_after = pages_hash(after);

	raw_spin_lock_irqsave(bucket_lock(slot), flags);
	/* First what changed since the stream last described the folio. */
	if (e->pfn != pfn || !e->valid || e->pages_hash != hash_before ||
	    !same_but_refs_and_flags(&e->st, &sb)) {
		ok = put_state(e, pfn, &sb, before);
	} else {
		if (e->st.flags != sb.flags)
			ok &= put_flags(e, sb.flags, mapcount_before);
		if (e->st.refcount != sb.refcount)
			ok &= put_refs(e, sb.refcount - e->st.refcount, mapcount_before);
	}
	/*
	 * The operation, on the references it found (a write fault decides on them);
	 * those others moved inside the window follow it, as the checker orders them.
	 */
	drift = sa.refcount - model_refs;
	sa.refcount = model_refs;
	/* Flags no check compares (an LRU drain's, a swap-cache free's): the same. */
	moved_flags = (sa.flags ^ model_flags) & OTHERS_FLAGS;
	sa.flags ^= moved_flags;
	for (i = 0; i < op->nr; i++) {
		fm_trace_event *ev = &op->ev[i];

		if (i + 1 < op->nr) {
			ev->out_flags |= FM_TRACE_OUT_UNOBSERVED;
		} else {
			fm_trace_state_digest(&sa, &ev->digest);
			ev->mapcount_after = mapcount_after;
		}
		ok &= put_event(e, ev);
	}
	e->st = sa;
	if (moved_flags)
		ok &= put_flags(e, sa.flags ^ moved_flags, mapcount_after);
	if (drift)
		ok &= put_refs(e, drift, mapcount_after);
	e->pages_hash = hash_after;
	/* A dropped record broke the stream: the next event restates the folio. */
	e->valid = ok;
out_unlock:
	raw_spin_unlock_irqrestore(bucket_lock(slot), flags);
out_rcu:
	rcu_read_unlock_sched();
}

/* ---------------------------------------------------------------------------------- */

static void trace_free(void)
{
	unsigned int cpu;

	if (rings) {
		for_each_possible_cpu(cpu)
			vfree(rings[cpu].slot);
		kfree(rings);
	}
	vfree(table);
	vfree(scratch);
	rings = NULL;
	table = NULL;
	scratch = NULL;
}

static void trace_stop(void)
{
	WRITE_ONCE(recording, false);
	/* Every recorder that saw recording set is done with the rings and the table. */
	synchronize_rcu();
}

static int trace_start(void)
{
	u64 nr = max_t(u64, (u64)trace_ring_kb * 1024 / REC_SIZE, 64);
	unsigned int cpu;

	trace_stop();
	trace_free();
	rings = kcalloc(nr_cpu_ids, sizeof(*rings), GFP_KERNEL);
	table = vzalloc(sizeof(*table) << TABLE_BITS);
	scratch = vmalloc(array3_size(nr_cpu_ids, FOLIOMAP_TRACE_SCRATCH, sizeof(*scratch)));
	if (!rings || !table || !scratch)
		goto nomem;
	for_each_possible_cpu(cpu) {
		rings[cpu].nr = nr;
		rings[cpu].slot = vmalloc(nr * REC_SIZE);
		if (!rings[cpu].slot)
			goto nomem;
	}
	atomic64_set(&trace_seq, 0);
	atomic64_set(&nr_records, 0);
	atomic64_set(&nr_events, 0);
	atomic64_set(&nr_states, 0);
	atomic64_set(&nr_dropped, 0);
	atomic64_set(&nr_unordered, 0);
	/* Everything above before a recorder sees recording set (foliomap_tracing). */
	smp_store_release(&recording, true);
	return 0;
nomem:
	trace_free();
	return -ENOMEM;
}

static ssize_t trace_ctl_write(struct file *file, const char __user *ubuf, size_t len,
			       loff_t *ppos)
{
	char buf[8] = "";
	int err = -EINVAL;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	if (memchr(buf, '\0', len))
		return -EINVAL;
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	mutex_lock(&trace_mutex);
	if (!strcmp(buf, FOLIOMAP_TRACE_START)) {
		err = trace_start();
	} else if (!strcmp(buf, FOLIOMAP_TRACE_STOP)) {
		trace_stop();
		err = 0;
	}
	mutex_unlock(&trace_mutex);
	return err ? err : len;
}

static int trace_ctl_show(struct seq_file *m, void *v)
{
	/* rings may be replaced by a concurrent "start" */
	mutex_lock(&trace_mutex);
	seq_printf(m, "recording %d\n", foliomap_tracing());
	seq_printf(m, "records %lld\n", atomic64_read(&nr_records));
	seq_printf(m, "events %lld\n", atomic64_read(&nr_events));
	seq_printf(m, "states %lld\n", atomic64_read(&nr_states));
	seq_printf(m, "dropped %lld\n", atomic64_read(&nr_dropped));
	seq_printf(m, "unordered %lld\n", atomic64_read(&nr_unordered));
	seq_printf(m, "cpus %u\n", num_possible_cpus());
	seq_printf(m, "ring_records %llu\n", rings ? rings[0].nr : 0);
	mutex_unlock(&trace_mutex);
	return 0;
}

static int trace_ctl_open(struct inode *inode, struct file *file)
{
	return single_open(file, trace_ctl_show, NULL);
}

static const struct file_operations trace_ctl_fops = {
	.owner = THIS_MODULE,
	.open = trace_ctl_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.write = trace_ctl_write,
	.release = single_release,
};

static ssize_t trace_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	size_t want = len / REC_SIZE, done = 0;
	unsigned int cpu;
	ssize_t err = 0;

	mutex_lock(&trace_mutex);
	for_each_possible_cpu(cpu) {
		struct trace_ring *r = rings ? &rings[cpu] : NULL;
		u64 head, tail;

		if (!r)
			break;
		/* Pairs with the recorder's release of head: those slots are written. */
		head = smp_load_acquire(&r->head);
		tail = r->tail;
		while (tail < head && done < want) {
			if (copy_to_user(buf + done * REC_SIZE, r->slot[tail % r->nr], REC_SIZE)) {
				err = -EFAULT;
				break;
			}
			tail++;
			done++;
		}
		/* Those slots are copied before the recorder may reuse them. */
		smp_store_release(&r->tail, tail);
		if (err || done == want)
			break;
	}
	mutex_unlock(&trace_mutex);
	if (err && !done)
		return err;
	*ppos += done * REC_SIZE;
	return done * REC_SIZE;
}

static const struct file_operations trace_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.read = trace_read,
};

static ssize_t trace_header_read(struct file *file, char __user *buf, size_t len,
				 loff_t *ppos)
{
	fm_trace_header h;

	if (fm_trace_header_init(&h, FOLIOMAP_FM_MODE, FM_TRACE_SOURCE_KERNEL,
				 num_possible_cpus()) != FM_OK)
		return -EIO;
	h.records = atomic64_read(&nr_records);
	h.dropped = atomic64_read(&nr_dropped);
	h.events = atomic64_read(&nr_events);
	h.states = atomic64_read(&nr_states);
	return simple_read_from_buffer(buf, len, ppos, &h, sizeof(h));
}

static const struct file_operations trace_header_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = trace_header_read,
	.llseek = default_llseek,
};

int foliomap_trace_init(struct dentry *dir)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(table_locks); i++)
		raw_spin_lock_init(&table_locks[i]);
	if (IS_ERR(debugfs_create_file(FOLIOMAP_TRACE_CTL_FILE, 0600, dir, NULL,
				       &trace_ctl_fops)) ||
	    IS_ERR(debugfs_create_file(FOLIOMAP_TRACE_FILE, 0400, dir, NULL, &trace_fops)) ||
	    IS_ERR(debugfs_create_file(FOLIOMAP_TRACE_HEADER_FILE, 0400, dir, NULL,
				       &trace_header_fops)))
		return -ENOMEM;
	return 0;
}

/* After the probes are gone. */
void foliomap_trace_exit(void)
{
	mutex_lock(&trace_mutex);
	trace_stop();
	trace_free();
	mutex_unlock(&trace_mutex);
}
