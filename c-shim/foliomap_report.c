// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Mismatch records: the last FOLIOMAP_MISMATCH_RECORDS disagreements between the model
 * and the kernel, readable by a person from debugfs "mismatches": the operation and its
 * arguments, the state before, the model's prediction, the kernel's state after, and the
 * differing fields.
 */
#include <linux/cleanup.h>
#include <linux/debugfs.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "foliomap_shadow.h"

#define FOLIOMAP_MISMATCH_RECORDS 32

struct page_view {
	s32 mapcount;
	u32 flags;
};

struct mismatch_record {
	u64 seq;
	char op[32];
	char args[128];
	char note[96];
	char culprit[64];
	int model_status;
	char comm[TASK_COMM_LEN];	/* the task the check ran in */
	pid_t pid;
	u64 uptime_ns;
	bool has_folio;		/* before / predicted / actual are set */
	u32 page_shown;		/* the page of the page_* views, U32_MAX: none */
	u32 fields;
	fm_folio_diff diff;
	fm_folio before, predicted, actual;
	struct page_view page_before, page_predicted, page_actual;
};

/* The last records of one kind: mismatches, or disagreements classified as races. */
struct record_ring {
	spinlock_t lock;
	u64 total;
	const char *what;
	const char *name;	/* of one record */
	struct mismatch_record records[FOLIOMAP_MISMATCH_RECORDS];
};

static struct record_ring rings[] = {
	[RECORD_MISMATCH] = { .lock = __SPIN_LOCK_UNLOCKED(rings[0].lock),
			      .what = "mismatches", .name = "mismatch" },
	[RECORD_RACED] = { .lock = __SPIN_LOCK_UNLOCKED(rings[1].lock),
			   .what = "raced disagreements", .name = "raced" },
	[RECORD_UNCHECKED] = { .lock = __SPIN_LOCK_UNLOCKED(rings[2].lock),
			       .what = "unchecked transitions", .name = "unchecked" },
};

/*
 * Checks since load by operation and foreign event (its function, the pid dropped), for
 * a whole test run: the raced disagreements, what explains them (debugfs "raced_by");
 * the checks whose refcount a reference mover made unknowable and would have differed,
 * what hid it (debugfs "excluded_by").
 */
#define FOLIOMAP_KINDS 64

struct check_kind {
	char op[32];
	char culprit[48];
	u64 count;
};

struct kind_table {
	spinlock_t lock;
	struct check_kind kinds[FOLIOMAP_KINDS];
	u64 other;	/* past the table's kinds */
};

static struct kind_table raced_by = { .lock = __SPIN_LOCK_UNLOCKED(raced_by.lock) };
static struct kind_table excluded_by = { .lock = __SPIN_LOCK_UNLOCKED(excluded_by.lock) };

static void count_kind(struct kind_table *t, const char *op, const char *culprit)
{
	char name[sizeof(t->kinds[0].culprit)];
	unsigned long flags;
	char *pid;
	int i;

	strscpy(name, culprit ? culprit : "", sizeof(name));
	pid = strstr(name, " pid ");
	if (pid)
		*pid = '\0';
	spin_lock_irqsave(&t->lock, flags);
	for (i = 0; i < FOLIOMAP_KINDS && t->kinds[i].count; i++)
		if (!strcmp(t->kinds[i].op, op) && !strcmp(t->kinds[i].culprit, name))
			break;
	if (i == FOLIOMAP_KINDS) {
		t->other++;
	} else {
		if (!t->kinds[i].count) {
			strscpy(t->kinds[i].op, op, sizeof(t->kinds[i].op));
			strscpy(t->kinds[i].culprit, name, sizeof(t->kinds[i].culprit));
		}
		t->kinds[i].count++;
	}
	spin_unlock_irqrestore(&t->lock, flags);
}

void foliomap_count_excluded(const char *op, const char *culprit)
{
	count_kind(&excluded_by, op, culprit);
}

static struct page_view view(const fm_folio *f, u32 k)
{
	struct page_view v = { -1, 0 };

	if (f && f->pages && k < (1u << f->order) && k < f->pages_len) {
		v.mapcount = f->pages[k].mapcount;
		v.flags = f->pages[k].flags;
	}
	return v;
}

/*
 * Called from probe handlers: no sleeping, no allocation. Raced disagreements and
 * unchecked transitions are kept apart, for diagnosing the classification itself.
 */
void foliomap_record(const struct foliomap_check_report *r, enum foliomap_record_kind kind)
{
	struct record_ring *ring = &rings[kind];
	struct mismatch_record *rec;
	unsigned long flags;

	if (foliomap_warn_on_mismatch && kind == RECORD_MISMATCH)
		WARN_ONCE(1, "foliomap: model and kernel disagree on %s %s\n", r->op, r->args);

	if (kind == RECORD_RACED)
		count_kind(&raced_by, r->op, r->culprit);
	spin_lock_irqsave(&ring->lock, flags);
	rec = &ring->records[ring->total % FOLIOMAP_MISMATCH_RECORDS];
	memset(rec, 0, sizeof(*rec));
	rec->seq = ++ring->total;
	strscpy(rec->op, r->op, sizeof(rec->op));
	strscpy(rec->args, r->args, sizeof(rec->args));
	if (r->note)
		strscpy(rec->note, r->note, sizeof(rec->note));
	if (r->culprit)
		strscpy(rec->culprit, r->culprit, sizeof(rec->culprit));
	rec->model_status = r->model_status;
	get_task_comm(rec->comm, current);
	rec->pid = task_pid_nr(current);
	rec->uptime_ns = ktime_get_boottime_ns();
	rec->fields = r->fields;
	rec->diff = r->diff;
	rec->has_folio = r->before;
	rec->page_shown = U32_MAX;
	if (r->before) {
		/* The differing page; an order-0 folio's only page in any case. */
		u32 k = r->diff.first_page != U32_MAX || r->before->order ? r->diff.first_page : 0;

		rec->before = *r->before;
		rec->predicted = *r->predicted;
		rec->actual = *r->actual;
		rec->page_shown = k;
		rec->page_before = view(r->before, k);
		rec->page_predicted = view(r->predicted, k);
		rec->page_actual = view(r->actual, k);
	}
	spin_unlock_irqrestore(&ring->lock, flags);
}

static void show_field(struct seq_file *m, const char *name, u32 field, u32 diff,
		       long long before, long long predicted, long long actual)
{
	seq_printf(m, "  %c %-20s %12lld %12lld %12lld\n", (diff & field) ? '*' : ' ', name,
		   before, predicted, actual);
}

/* The value of one FM_FIELD_* folio-level field, as shown in a record. */
static long long field_value(const fm_folio *f, u32 field)
{
	switch (field) {
	case FM_FIELD_REFCOUNT:		return f->refcount;
	case FM_FIELD_PINCOUNT:		return f->pincount;
	case FM_FIELD_LARGE_MAPCOUNT:	return f->large_mapcount;
	case FM_FIELD_ENTIRE_MAPCOUNT:	return f->entire_mapcount;
	case FM_FIELD_NR_PAGES_MAPPED:	return f->nr_pages_mapped;
	case FM_FIELD_MM_ID0:		return f->mm_ids & FM_MM_ID_MASK;
	case FM_FIELD_MM_ID1:		return (f->mm_ids >> 32) & FM_MM_ID_MASK;
	case FM_FIELD_MM_ID_MAPCOUNT0:	return f->mm_id_mapcount[0];
	case FM_FIELD_MM_ID_MAPCOUNT1:	return f->mm_id_mapcount[1];
	case FM_FIELD_SHARED:		return f->mm_ids >> 63;
	case FM_FIELD_PARTIALLY_MAPPED:	return !!(f->flags & FM_FOLIO_PARTIALLY_MAPPED);
	case FM_FIELD_DEFERRED_LIST:	return !!(f->flags & FM_FOLIO_DEFERRED_LIST);
	case FM_FIELD_ANON:		return !!(f->flags & FM_FOLIO_ANON);
	}
	return 0;
}

static void show_folio_table(struct seq_file *m, const struct mismatch_record *r)
{
	u32 d = r->diff.fields;
	u32 field;

	seq_printf(m, "    %-20s %12s %12s %12s\n", "field", "before", "model", "kernel");
	for (field = FM_FIELD_REFCOUNT; field <= FM_FIELD_ANON; field <<= 1)
		show_field(m, fm_field_name(field), field, d, field_value(&r->before, field),
			   field_value(&r->predicted, field), field_value(&r->actual, field));
	if (r->page_shown != U32_MAX) {
		char name[32];

		snprintf(name, sizeof(name), "page[%u] mapcount", r->page_shown);
		show_field(m, name, FM_FIELD_PAGE_MAPCOUNT, d, r->page_before.mapcount,
			   r->page_predicted.mapcount, r->page_actual.mapcount);
		snprintf(name, sizeof(name), "page[%u] exclusive", r->page_shown);
		show_field(m, name, FM_FIELD_PAGE_ANON_EXCLUSIVE, d,
			   !!(r->page_before.flags & FM_PAGE_ANON_EXCLUSIVE),
			   !!(r->page_predicted.flags & FM_PAGE_ANON_EXCLUSIVE),
			   !!(r->page_actual.flags & FM_PAGE_ANON_EXCLUSIVE));
	}
}

static DEFINE_MUTEX(show_lock);	/* one reader at a time: the copy below is static */

static int records_show(struct seq_file *m, void *unused)
{
	static struct mismatch_record r;	/* too large for the stack */
	struct record_ring *ring = m->private;
	unsigned long flags;
	u64 total, first, seq;
	u32 bit;

	guard(mutex)(&show_lock);
	spin_lock_irqsave(&ring->lock, flags);
	total = ring->total;
	spin_unlock_irqrestore(&ring->lock, flags);
	first = total > FOLIOMAP_MISMATCH_RECORDS ? total - FOLIOMAP_MISMATCH_RECORDS + 1 : 1;
	seq_printf(m, "%llu %s recorded (the last %d are kept)\n", total, ring->what,
		   FOLIOMAP_MISMATCH_RECORDS);
	for (seq = first; seq <= total; seq++) {
		spin_lock_irqsave(&ring->lock, flags);
		r = ring->records[(seq - 1) % FOLIOMAP_MISMATCH_RECORDS];
		spin_unlock_irqrestore(&ring->lock, flags);
		if (r.seq != seq)
			continue;	/* overwritten meanwhile */
		seq_printf(m, "\n%s %llu: %s %s\n", ring->name, r.seq, r.op, r.args);
		seq_printf(m, "  in %s (pid %d) at %llu.%06llu s uptime\n", r.comm, r.pid,
			   r.uptime_ns / NSEC_PER_SEC, (r.uptime_ns % NSEC_PER_SEC) / NSEC_PER_USEC);
		if (r.culprit[0])
			seq_printf(m, "  foreign event on the folio: %s\n", r.culprit);
		if (r.note[0])
			seq_printf(m, "  %s\n", r.note);
		if (!r.has_folio)
			continue;
		seq_printf(m, "  folio: order %u, mode %s\n", r.before.order,
			   r.before.mode == FM_MODE_PMC ? "pmc" : "nopmc");
		if (r.model_status)
			seq_printf(m, "  the model refused the operation: %s (%d)\n",
				   r.model_status == -101 ? "different migration entry" :
				   r.model_status < -10 ? "different return value" :
				   fm_status_str(r.model_status), r.model_status);
		seq_puts(m, "  differing:");
		for (bit = 1; bit && bit <= r.diff.fields; bit <<= 1)
			if (r.diff.fields & bit)
				seq_printf(m, " %s", fm_field_name(bit));
		seq_puts(m, "\n");
		show_folio_table(m, &r);
		seq_printf(m, "    %-20s %12u %12u %12u  (anon 1 ksm 2 swapcache 4 pm 8 dq 16 lru 32)\n",
			   "flags", r.before.flags, r.predicted.flags, r.actual.flags);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(records);

static int kinds_show(struct seq_file *m, void *unused)
{
	static struct check_kind copy[FOLIOMAP_KINDS];	/* under show_lock */
	struct kind_table *t = m->private;
	unsigned long flags;
	u64 other;
	int i;

	guard(mutex)(&show_lock);
	spin_lock_irqsave(&t->lock, flags);
	memcpy(copy, t->kinds, sizeof(copy));
	other = t->other;
	spin_unlock_irqrestore(&t->lock, flags);
	for (i = 0; i < FOLIOMAP_KINDS && copy[i].count; i++)
		seq_printf(m, "%llu %s <- %s\n", copy[i].count, copy[i].op,
			   copy[i].culprit[0] ? copy[i].culprit : "(none named)");
	if (other)
		seq_printf(m, "%llu (more kinds than the table holds)\n", other);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kinds);

int foliomap_report_init(struct dentry *dir)
{
	static const char *const files[] = {
		[RECORD_MISMATCH] = FOLIOMAP_MISMATCHES_FILE,
		[RECORD_RACED] = FOLIOMAP_RACED_FILE,
		[RECORD_UNCHECKED] = FOLIOMAP_UNCHECKED_FILE,
	};
	struct dentry *d = NULL;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(files) && !IS_ERR(d); i++)
		d = debugfs_create_file(files[i], 0400, dir, &rings[i], &records_fops);
	if (!IS_ERR(d))
		d = debugfs_create_file(FOLIOMAP_RACED_BY_FILE, 0400, dir, &raced_by, &kinds_fops);
	if (!IS_ERR(d))
		d = debugfs_create_file(FOLIOMAP_EXCLUDED_BY_FILE, 0400, dir, &excluded_by,
					&kinds_fops);
	return PTR_ERR_OR_ZERO(d);
}
