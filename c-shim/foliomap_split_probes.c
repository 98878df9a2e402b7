// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The folio split and migration-move family: what the kernel decides from a folio's
 * references when it splits or migrates it, against the model's call-site operations.
 *
 *  - __folio_split(folio, new_order, ...): the precondition (spec §6.4 steps 2 and 4:
 *    -EINVAL for an order that cannot be split to, -EAGAIN for extra references);
 *  - __folio_freeze_and_split_unmapped(folio, ...): the reference freeze (§6.4 step 6);
 *  - migrate_folio(mapping, dst, src, mode): the move of an unmapped anon source (§6.6:
 *    -EAGAIN for extra references, the source off the deferred-split list, the swap cache
 *    handed over) and the destination's requeue with the source's recorded
 *    partially-mapped state, which the model predicts and the destination's
 *    deferred_split_folio check then uses instead of the kernel's argument.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>

#include "foliomap_probes.h"
#include "foliomap_window.h"

static const char folio_split_op[] = "__folio_split";

/* The freeze of a split ran: an -EAGAIN after it is the freeze's, not the precondition's. */
#define MARK_FROZE	(1u << 0)

struct ret_probe {
	struct fm_check *c;	/* NULL: not checked */
	int idx;
	int window;
	struct folio *folio;
	int model_status;
	int model_ret;
	struct fm_check *dst;	/* migrate_folio: the destination, before and predicted */
	int dst_idx;
	struct folio *dst_folio;
	u32 new_order;
	char args[64];
};

/*
 * A return value the model allows: a refusal must be the kernel's; the kernel may still
 * fail later, where the model consented, for reasons outside the accounting.
 */
static bool ret_consistent(int kret, int model_ret)
{
	return kret ? !model_ret || kret == model_ret : !model_ret;
}

/*
 * On one CPU the decision may come after a sleep in which other tasks' measured change
 * (@v's delta) arrived: the model's answer on the folio with it applied, in @alt.
 */
static struct fm_snap *with_sleep_delta(const struct fm_snap *before, struct fmw_verdict *v)
{
	struct fm_snap *alt = &fm_scratch()->fresh;

	if (!v->delta)
		return NULL;
	foliomap_snap_copy(alt, before);
	fmw_apply_delta(v, &alt->folio);
	return alt;
}

static bool modelled_large_anon(struct folio *folio)
{
	return folio_test_large(folio) && folio_test_anon(folio) && !folio_test_hugetlb(folio) &&
	       folio_order(folio) <= HPAGE_PMD_ORDER;
}

static struct fm_check *ret_begin(struct ret_probe *p, struct folio *folio, const char *op)
{
	struct fm_check *c = fm_check_get(&p->idx);

	p->c = NULL;
	p->dst = NULL;
	if (!c)
		return NULL;
	p->window = fmw_open(folio, op, 0, NULL);
	if (p->window < 0 || foliomap_snapshot(folio, &c->before)) {
		fmw_abandon(p->window);
		fm_check_put(p->idx);
		return NULL;
	}
	fmw_opened(p->window);
	foliomap_snap_copy(&c->predicted, &c->before);
	p->folio = folio;
	p->c = c;
	return c;
}

/*
 * The end of a return-value check: @agree says whether the kernel's return value is one
 * the model allows. A disagreement another task may have caused is raced.
 */
static void ret_finish(struct ret_probe *p, const char *op, enum foliomap_stat stat, int kret,
		       bool agree, struct fmw_verdict *v)
{
	struct foliomap_check_report r = { .op = op };
	char note[96];

	if (agree && p->model_status == FM_OK) {
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
		foliomap_count(stat);
		return;
	}
	strscpy(r.args, p->args, sizeof(r.args));
	snprintf(note, sizeof(note), "kernel returns %d; model %d (status %d)", kret,
		 p->model_ret, p->model_status);
	r.note = note;
	r.culprit = v->culprit[0] ? v->culprit : NULL;
	if (fmw_may_race(v) && (v->foreign || v->ref_delta || v->pushes)) {
		foliomap_count(FOLIOMAP_STAT_TRANSITIONS_RACED);
		foliomap_record(&r, RECORD_RACED);
		return;
	}
	foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
	foliomap_count(stat);
	foliomap_count(FOLIOMAP_STAT_TRANSITION_MISMATCHES);
	foliomap_record(&r, RECORD_MISMATCH);
}

/* The window closes without a result snapshot: only the return value is compared. */
static void ret_close(struct ret_probe *p, struct fmw_verdict *v)
{
	fmw_close_begin(p->window);
	fmw_close_end(p->window, v, NULL, NULL);
}

/* ------------------------------------------------------------------------------------ */
/* __folio_split(folio, new_order, split_at, lock_at, list, split_type)                  */

static int folio_split_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ret_probe *p = (struct ret_probe *)ri->data;
	struct folio *folio = (struct folio *)regs->di;
	u32 new_order = (u32)regs->si;
	struct fm_check *c;

	if (!modelled_large_anon(folio) || !ret_begin(p, folio, folio_split_op))
		return 1;
	c = p->c;
	snprintf(p->args, sizeof(p->args), "new_order=%u", new_order);
	p->new_order = new_order;
	/* The caller holds one reference (and the folio lock). */
	p->model_status = fm_folio_split_check(&c->predicted.folio, new_order, 1, &p->model_ret);
	return 0;
}

static int folio_split_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ret_probe *p = (struct ret_probe *)ri->data;
	int kret = (int)regs_return_value(regs);
	struct fmw_verdict v;
	struct fm_snap *alt;
	int alt_ret = 1;	/* no answer */
	bool agree;

	if (!p->c)
		return 0;
	ret_close(p, &v);
	/* Writeback, a lost freeze (checked by its own hook): later failures are allowed. */
	agree = ret_consistent(kret, p->model_ret);
	alt = with_sleep_delta(&p->c->before, &v);
	if (alt && fm_folio_split_check(&alt->folio, p->new_order, 1, &alt_ret) != FM_OK)
		alt_ret = 1;
	if (!agree && alt_ret != 1)
		agree = ret_consistent(kret, alt_ret);
	/* An anon folio's -EAGAIN before the freeze is the reference precondition's. */
	if (agree && kret == -EAGAIN && !(v.marks & MARK_FROZE))
		agree = p->model_ret == -EAGAIN || alt_ret == -EAGAIN;
	ret_finish(p, folio_split_op, FOLIOMAP_STAT_OP_FOLIO_SPLIT, kret, agree, &v);
	fmw_verdict_release(&v);
	fm_check_put(p->idx);
	p->c = NULL;
	return 0;
}

/* __folio_freeze_and_split_unmapped(folio, new_order, ...): interrupts off, unmapped. */
static int split_freeze_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ret_probe *p = (struct ret_probe *)ri->data;
	struct folio *folio = (struct folio *)regs->di;

	if (!modelled_large_anon(folio))
		return 1;
	fmw_mark_own(folio, folio_split_op, MARK_FROZE);
	if (!ret_begin(p, folio, "__folio_freeze_and_split_unmapped"))
		return 1;
	snprintf(p->args, sizeof(p->args), "new_order=%u", (u32)regs->si);
	p->model_status = fm_folio_split_freeze(&p->c->predicted.folio, &p->model_ret);
	return 0;
}

static int split_freeze_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ret_probe *p = (struct ret_probe *)ri->data;
	int kret = (int)regs_return_value(regs);
	struct fmw_verdict v;

	if (!p->c)
		return 0;
	ret_close(p, &v);
	/* -EINVAL: a split the kernel refuses before freezing (not the accounting's). */
	if (kret == 0 || kret == p->model_ret || kret == -EAGAIN)
		ret_finish(p, "__folio_freeze_and_split_unmapped", FOLIOMAP_STAT_OP_SPLIT_FREEZE,
			   kret, kret == p->model_ret, &v);
	fmw_verdict_release(&v);
	fm_check_put(p->idx);
	p->c = NULL;
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* migrate_folio(mapping, dst, src, mode) and the destination's requeue                  */

#define NR_REQUEUES	64
#define REQUEUE_NONE	2	/* the model does not requeue the destination */

static struct {
	struct task_struct *task;
	struct folio *dst;
	int pm;			/* 0, 1: requeue with that partially-mapped value */
} requeues[NR_REQUEUES];
static unsigned long requeue_busy[BITS_TO_LONGS(NR_REQUEUES)];

static int requeue_find(struct folio *dst)
{
	unsigned int i;

	for_each_set_bit(i, requeue_busy, NR_REQUEUES)
		if (READ_ONCE(requeues[i].task) == current && requeues[i].dst == dst)
			return i;
	return -1;
}

static void requeue_drop(int i)
{
	WRITE_ONCE(requeues[i].task, NULL);
	clear_bit_unlock(i, requeue_busy);
}

static void requeue_mismatch(struct folio *dst, const char *what)
{
	struct foliomap_check_report r = { .op = "migrate_folio_move", .note = what };

	snprintf(r.args, sizeof(r.args), "destination order %u", folio_order(dst));
	foliomap_count(FOLIOMAP_STAT_TRANSITIONS_CHECKED);
	foliomap_count(FOLIOMAP_STAT_OP_MIGRATE_MOVE);
	foliomap_count(FOLIOMAP_STAT_TRANSITION_MISMATCHES);
	foliomap_record(&r, RECORD_MISMATCH);
}

int foliomap_migrate_requeue_take(struct folio *dst)
{
	int i = requeue_find(dst), pm;

	if (i < 0)
		return -1;
	pm = requeues[i].pm;
	requeue_drop(i);
	if (pm == REQUEUE_NONE) {
		requeue_mismatch(dst, "the kernel requeues the destination, the model does not");
		return -1;
	}
	return pm;
}

void foliomap_migrate_requeue_missed(struct folio *dst)
{
	int i = requeue_find(dst);

	if (i < 0)
		return;
	if (requeues[i].pm != REQUEUE_NONE)
		requeue_mismatch(dst, "the model requeues the destination, the kernel does not");
	requeue_drop(i);
}

static void requeue_expect(struct folio *dst, const fm_folio *pred)
{
	unsigned int i;

	for (i = 0; i < NR_REQUEUES; i++)
		if (!test_and_set_bit_lock(i, requeue_busy))
			break;
	if (i == NR_REQUEUES) {
		foliomap_count(FOLIOMAP_STAT_MISSED_EVENTS);
		return;
	}
	requeues[i].dst = dst;
	requeues[i].pm = !(pred->flags & FM_FOLIO_DEFERRED_LIST) ? REQUEUE_NONE :
			 !!(pred->flags & FM_FOLIO_PARTIALLY_MAPPED);
	WRITE_ONCE(requeues[i].task, current);
}

static int migrate_folio_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ret_probe *p = (struct ret_probe *)ri->data;
	struct address_space *mapping = (struct address_space *)regs->di;
	struct folio *dst = (struct folio *)regs->si;
	struct folio *src = (struct folio *)regs->dx;

	/* Anon sources: no mapping, or the swap cache's. */
	if (!folio_test_anon(src) || folio_test_hugetlb(src) || (mapping && !folio_test_swapcache(src)) ||
	    folio_order(src) > HPAGE_PMD_ORDER || folio_order(dst) != folio_order(src))
		return 1;
	if (!ret_begin(p, src, "migrate_folio"))
		return 1;
	p->dst = fm_check_get(&p->dst_idx);
	if (!p->dst || foliomap_snapshot(dst, &p->dst->before)) {
		fm_check_put(p->dst_idx);
		p->dst = NULL;
		fmw_abandon(p->window);
		fm_check_put(p->idx);
		p->c = NULL;
		return 1;
	}
	p->dst_folio = dst;
	foliomap_snap_copy(&p->dst->predicted, &p->dst->before);
	snprintf(p->args, sizeof(p->args), "order=%u swapcache=%d", folio_order(src),
		 !!folio_test_swapcache(src));
	p->model_status = fm_folio_migrate_move(&p->c->predicted.folio, &p->dst->predicted.folio,
						&p->model_ret);
	return 0;
}

static int migrate_folio_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ret_probe *p = (struct ret_probe *)ri->data;
	struct fm_snap *actual = &fm_scratch()->actual;
	int kret = (int)regs_return_value(regs);
	struct fmw_verdict v;
	bool read;

	if (!p->c)
		return 0;
	read = fmw_close_read(p->window, p->folio, &p->c->before.folio, actual, &v);
	if (kret != p->model_ret && v.delta) {
		/* The move decides after copying the data, which may sleep. */
		struct fm_snap *alt = with_sleep_delta(&p->c->before, &v);
		int alt_ret;

		foliomap_snap_copy(&p->dst->predicted, &p->dst->before);
		if (fm_folio_migrate_move(&alt->folio, &p->dst->predicted.folio, &alt_ret) == FM_OK &&
		    alt_ret == kret) {
			foliomap_snap_copy(&p->c->predicted, alt);
			p->model_ret = alt_ret;
			fmw_verdict_release(&v);	/* applied already */
		}
	}
	if (kret == 0 || kret == -EAGAIN) {
		ret_finish(p, "migrate_folio", FOLIOMAP_STAT_OP_MIGRATE_MOVE, kret,
			   kret == p->model_ret, &v);
		/* The source after the move: off the deferred-split list, caches handed over. */
		if (read && kret == p->model_ret)
			fm_finish_check("migrate_folio (source)", FOLIOMAP_STAT_OP_MIGRATE_MOVE,
					p->args, &p->c->before.folio, &p->c->predicted, actual,
					p->model_status, OP_FIELDS, &v, NULL);
		if (!kret && !p->model_ret)
			requeue_expect(p->dst_folio, &p->dst->predicted.folio);
	}
	fmw_verdict_release(&v);
	fm_check_put(p->dst_idx);
	fm_check_put(p->idx);
	p->c = NULL;
	return 0;
}

const struct foliomap_hook_desc foliomap_split_hooks[] = {
	HOOK_DESC("__folio_split", folio_split_entry, folio_split_ret, struct ret_probe,
		  HOOK_SLEEPS, HOOK_USES_CHECK),
	HOOK_DESC("__folio_freeze_and_split_unmapped", split_freeze_entry, split_freeze_ret,
		  struct ret_probe, HOOK_ATOMIC, HOOK_USES_CHECK),
	HOOK_DESC("migrate_folio", migrate_folio_entry, migrate_folio_ret, struct ret_probe,
		  HOOK_SLEEPS, HOOK_USES_CHECK | HOOK_USES_CHECK2),
};
const unsigned int foliomap_nr_split_hooks = ARRAY_SIZE(foliomap_split_hooks);
