// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The shadow checker's hooks: every probe family's kretprobes (foliomap_rmap_probes.c,
 * foliomap_cow_probes.c, foliomap_fork_probes.c, foliomap_split_probes.c) and the
 * reference movers, registered at
 * load with instance counts and check storage sized from the CPU count, so that nothing
 * is lost at nominal load (a probe that still misses a hit counts in missed_events).
 *
 * Reference movers are kernel paths that take or drop folio references without any rmap
 * change: the TLB-batched frees and LRU-batch drains (folios_put_refs), LRU isolation and
 * putback (one folio, or reclaim's scan of a list), swap-cache freeing and lookups,
 * LRU-batch additions, GUP. Their probes tell the race
 * windows (foliomap_window.h) by how much they moved which folio's references.
 *
 * A hook that cannot be registered (a symbol this kernel inlined or renamed) makes the
 * load fail, unless allow_missing_hooks=1: then the checks it carries are off, debugfs
 * "hooks" says so, and hooks_missing counts it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/migrate_mode.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/folio_batch.h>
#include <linux/rcupdate.h>
#include <linux/rethook.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "foliomap_probes.h"
#include "foliomap_window.h"

static bool allow_missing_hooks;
module_param(allow_missing_hooks, bool, 0400);
MODULE_PARM_DESC(allow_missing_hooks,
		 "load even when a hook cannot be registered (its checks are then off)");

/* ------------------------------------------------------------------------------------ */
/* Reference movers                                                                       */

/*
 * lru_add_drain() runs with this CPU's batches locked (no migration): while it runs, a
 * folios_put_refs of this CPU is the drain a write fault's decision asks for (spec
 * §7.3), a fact of that decision rather than a stray reference move.
 */
static DEFINE_PER_CPU(bool, in_lru_add_drain);

static int lru_add_drain_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	this_cpu_write(in_lru_add_drain, true);
	return 0;
}

static int lru_add_drain_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	this_cpu_write(in_lru_add_drain, false);
	return 0;
}

static int mover_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	fmw_mover_end((struct fmw_mover *)ri->data);
	return 0;
}

/*
 * folio_batch_move_lru(fbatch, move_fn) frees, from an LRU-add batch, a folio whose only
 * reference is the batch's (folio_ref_freeze(folio, 1), mm/folio.c) and takes it out of
 * the batch (NULL) before the batch's folios_put: that last reference goes in no
 * folios_put_refs. Its mover spans the whole move: its folios are the batch's, each
 * moving by 0 until the nested folios_put_refs finds its entry emptied, -1 then. Seen
 * before it was hooked: a busybox shell's write fault copying an order-0 folio whose
 * other sharer had exited, pmc on 2 vCPUs, the kernel at 0 references and the model at
 * 1: the batch of another CPU was drained meanwhile (3 of 8 corpus_test runs).
 */
struct batch_move {
	struct fmw_mover m;	/* first: mover_ret() */
	struct folio_batch *fbatch;
	struct batch_move *outer;	/* a move this one interrupted on this CPU */
};

static DEFINE_PER_CPU(struct batch_move *, batch_move_running);

static int batch_move_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct batch_move *bm = (struct batch_move *)ri->data;
	struct folio_batch *fb = (struct folio_batch *)regs->di;
	unsigned int i;

	bm->m = (struct fmw_mover){ .name = "folio_batch_move_lru" };
	bm->fbatch = fb;
	bm->m.nr = min_t(unsigned int, fb->nr, MOVER_BATCH);
	for (i = 0; i < bm->m.nr; i++)
		bm->m.folio[i] = fb->folios[i];
	/* Under the batches' local lock (no migration); an interrupt may nest one. */
	bm->outer = this_cpu_read(batch_move_running);
	this_cpu_write(batch_move_running, bm);
	fmw_mover_begin(&bm->m);
	return 0;
}

static int batch_move_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct batch_move *bm = (struct batch_move *)ri->data;

	this_cpu_write(batch_move_running, bm->outer);
	return mover_ret(ri, regs);
}

/* The batch move @fb belongs to: its emptied entries were freed by it (-1 each). */
static void batch_move_freed(const struct folio_batch *fb)
{
	struct batch_move *bm = this_cpu_read(batch_move_running);
	unsigned int i;

	if (!bm || bm->fbatch != fb)
		return;
	for (i = 0; i < bm->m.nr; i++)
		if (!fb->folios[i])
			WRITE_ONCE(bm->m.delta[i], -1);
}

/* folios_put_refs(folios, refs): each folio loses refs[i] references (1 without refs). */
static int put_refs_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;
	struct folio_batch *fb = (struct folio_batch *)regs->di;
	unsigned int *refs = (unsigned int *)regs->si;
	unsigned int i;

	batch_move_freed(fb);

	*m = (struct fmw_mover){
		.name = "folios_put_refs",
		.own_fact = in_task() && this_cpu_read(in_lru_add_drain) ? OWN_LRU_DRAIN : 0,
	};
	m->nr = min_t(unsigned int, fb->nr, MOVER_BATCH);
	for (i = 0; i < m->nr; i++) {
		m->folio[i] = fb->folios[i];
		m->delta[i] = refs ? -(int)refs[i] : -1;
	}
	fmw_mover_begin(m);
	return 0;
}

/* One folio, first argument; the reference change is set at return. */
static void single_mover_begin(struct kretprobe_instance *ri, struct pt_regs *regs,
			       const char *name, u32 own_fact, int delta, bool uncertain)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;

	*m = (struct fmw_mover){ .name = name, .own_fact = own_fact, .uncertain = uncertain,
				 .nr = 1 };
	m->folio[0] = (struct folio *)regs->di;
	m->delta[0] = delta;
	fmw_mover_begin(m);
}

static int isolate_lru_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	single_mover_begin(ri, regs, "folio_isolate_lru", 0, 0, false);
	return 0;
}

/* true: the folio was isolated, with a reference of its own. */
static int isolate_lru_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;

	WRITE_ONCE(m->delta[0], regs_return_value(regs) & 1 ? 1 : 0);
	return mover_ret(ri, regs);
}

/*
 * folio_putback_lru = folio_add_lru + folio_put: the isolation's reference goes out here;
 * the batch's comes in by folio_add_lru, a mover of its own (nested; counting it here
 * as well made a window's prediction one reference high), as does a drain on the way.
 */
static int putback_lru_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	single_mover_begin(ri, regs, "folio_putback_lru", 0, -1, false);
	return 0;
}

/*
 * folio_add_lru: the batch takes one reference (a drain on the way is its own mover).
 * A migration adds its destination here right after the deferred-split requeue would
 * have happened (mm/migrate.c migrate_folio_move), whether the folio was mapped or not:
 * the requeue the model expects is settled now.
 */
static int add_lru_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	foliomap_migrate_requeue_missed((struct folio *)regs->di);
	single_mover_begin(ri, regs, "folio_add_lru", 0, 1, false);
	return 0;
}

/*
 * folio_free_swap() (no sleeping inside): true when the swap cache and its references
 * (one per page) are gone; its swap_cache_del_folio() is part of it.
 */
static DEFINE_PER_CPU(bool, in_folio_free_swap);

static int free_swap_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	single_mover_begin(ri, regs, "folio_free_swap", OWN_SWAP_FREED, 0, false);
	this_cpu_write(in_folio_free_swap, true);
	return 0;
}

static int free_swap_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;

	this_cpu_write(in_folio_free_swap, false);
	if (regs_return_value(regs) & 1)
		WRITE_ONCE(m->delta[0], -(int)folio_nr_pages(m->folio[0]));
	return mover_ret(ri, regs);
}

/* swap_cache_del_folio(folio) elsewhere (swap-in, swap reclaim): the cache's N go. */
static int swap_cache_del_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct folio *folio = (struct folio *)regs->di;

	if (this_cpu_read(in_folio_free_swap))
		return 1;
	single_mover_begin(ri, regs, "swap_cache_del_folio", 0, -(int)folio_nr_pages(folio),
			   false);
	return 0;
}

/* __swap_cache_add_folio(ci, folio, entry): the cache takes one reference per page. */
static int swap_cache_add_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;
	struct folio *folio = (struct folio *)regs->si;

	*m = (struct fmw_mover){ .name = "__swap_cache_add_folio", .nr = 1 };
	m->folio[0] = folio;
	m->delta[0] = folio_nr_pages(folio);
	fmw_mover_begin(m);
	return 0;
}

/*
 * Scanners that take and drop speculative references on whatever folios they meet
 * (compaction's pfn walk, the deferred-split shrinker, reclaim, MADV_COLLAPSE): while
 * one runs, no window's refcount can be trusted; every other field still is.
 */
static int scanner_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;

	*m = (struct fmw_mover){ .name = foliomap_hook_of(ri)->symbol, .all = true,
				 .uncertain = true };
	fmw_mover_begin(m);
	return 0;
}

/*
 * migrate_folio_done(src, reason): the isolation's reference on a migration's source
 * goes (a memory failure keeps it for page_handle_poison()); the destination's put
 * before it has happened by now (foliomap_rmap_probes.c).
 */
static int migrate_folio_done_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	foliomap_migrate_tail_end();
	single_mover_begin(ri, regs, "migrate_folio_done", 0,
			   (int)regs->si == MR_MEMORY_FAILURE ? 0 : -1, false);
	return 0;
}

/*
 * Reclaim's LRU scan moves references outside shrink_folio_list: isolate_lru_folios()
 * takes one on each folio it moves to its private list (and a transient one it drops
 * again on a folio another task isolates first); move_folios_to_lru() drops one per
 * folio it returns to the LRU (an unevictable one goes through folio_putback_lru, a
 * mover of its own). The active-list scan of kswapd and of direct reclaim never calls
 * shrink_folio_list at all. Seen before these were hooked: a fork of a PMD-mapped THP,
 * pmc on 2 vCPUs, the kernel one reference below the model, no foreign event.
 */
struct lru_scan_mover {
	struct fmw_mover m;	/* first: mover_ret() */
	struct list_head *dst;
};

/*
 * The folios on a reclaim task's private list (only that task changes it) into @m, each
 * moving by @delta; false when they do not fit. Written while @m is still a scanner
 * (all): nobody reads its list before the switch.
 */
static bool list_mover(struct fmw_mover *m, struct list_head *list, int delta)
{
	struct folio *folio;
	unsigned int n = 0;

	rcu_read_lock();	/* keeps a folio's mapping alive, as folio_evictable() does */
	list_for_each_entry(folio, list, lru) {
		if (n == MOVER_BATCH)
			break;
		m->folio[n] = folio;
		/* An unevictable folio's reference goes in folio_putback_lru(). */
		m->delta[n++] = delta < 0 && (folio_test_mlocked(folio) ||
					      mapping_unevictable(folio_mapping(folio))) ? 0
										  : delta;
	}
	rcu_read_unlock();
	if (!list_is_head(&folio->lru, list))
		return false;
	WRITE_ONCE(m->nr, n);
	smp_wmb();	/* the list before the switch (pairs with mover_touches()) */
	WRITE_ONCE(m->uncertain, false);
	WRITE_ONCE(m->all, false);
	return true;
}

/*
 * isolate_lru_folios(nr_to_scan, lruvec, dst, ...): while it runs, any folio's count may
 * move (a scanner); at return its folios are known, each with one reference more, and
 * the mover becomes exact for the windows that were open all along.
 */
static int isolate_lru_folios_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct lru_scan_mover *p = (struct lru_scan_mover *)ri->data;

	p->dst = (struct list_head *)regs->dx;
	p->m = (struct fmw_mover){ .name = "isolate_lru_folios", .all = true,
				   .uncertain = true };
	fmw_mover_begin(&p->m);
	return 0;
}

static int isolate_lru_folios_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct lru_scan_mover *p = (struct lru_scan_mover *)ri->data;

	list_mover(&p->m, p->dst, 1);
	return mover_ret(ri, regs);
}

/* move_folios_to_lru(list): one reference less on each evictable folio of @list. */
static int move_folios_to_lru_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fmw_mover *m = (struct fmw_mover *)ri->data;

	/* A scanner until its list is read, which needs no other task: before it begins. */
	*m = (struct fmw_mover){ .name = "move_folios_to_lru", .all = true, .uncertain = true };
	list_mover(m, (struct list_head *)regs->di, -1);
	fmw_mover_begin(m);
	return 0;
}

/*
 * LRU-batch additions whose reference depends on the folio's LRU state, and GUP's
 * slow-path grab: their reference change is not known exactly.
 */
static int uncertain_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	single_mover_begin(ri, regs, foliomap_hook_of(ri)->symbol, 0, 0, true);
	return 0;
}

/*
 * Swap-cache lookups: swap_cache_get_folio() takes a reference on the folio it finds in
 * a swap slot, and its caller drops it, or hands it to the mapping it installs, before
 * the caller returns; do_swap_page() holds it across the folio lock, which may sleep.
 * Nothing else in between moves a reference the checker could see. (Seen before these
 * were hooked: a write fault's copy of an order-0 swap-cache folio, pmc on 4 vCPUs,
 * the kernel one reference above the model, no foreign event: another mm's swap-in of
 * the same slot had found it.) So each caller that bounds the reference is a holder: a
 * mover in its probe's instance data, published when its task's lookup begins (a scanner
 * then: it may find any folio), narrowed at the lookup's return to the folios found, and
 * ended when the holder returns; its reference change is uncertain (dropped or handed
 * on), so the refcount of a window on those folios is not compared meanwhile.
 */
struct lookup_holder {
	struct fmw_mover m;
	bool published;		/* m is in flight: its task's first lookup began */
};

static int holder_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct lookup_holder *h = (struct lookup_holder *)ri->data;

	h->m.name = foliomap_hook_of(ri)->symbol;
	h->published = false;
	return 0;
}

static int holder_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct lookup_holder *h = (struct lookup_holder *)ri->data;

	if (h->published)
		fmw_mover_end(&h->m);
	return 0;
}

static bool is_holder_probe(const void *rp);

/*
 * The current task's innermost holder: its own list of pending return hooks, which
 * only it changes, on entry and return of a probed function, and it runs this handler.
 */
static struct lookup_holder *current_holder(void)
{
	struct llist_node *node;

#ifdef CONFIG_KRETPROBE_ON_RETHOOK
	llist_for_each(node, current->rethooks.first) {
		struct rethook_node *rn = llist_entry(node, struct rethook_node, llist);

		/* Another rethook user's node is not a kretprobe instance: compare first. */
		if (is_holder_probe(READ_ONCE(rn->rethook)->data))
			return (struct lookup_holder *)container_of(rn, struct kretprobe_instance,
								    node)->data;
	}
#else
	llist_for_each(node, current->kretprobe_instances.first) {
		struct kretprobe_instance *ri = llist_entry(node, struct kretprobe_instance,
							    llist);

		if (is_holder_probe(get_kretprobe(ri)))
			return (struct lookup_holder *)ri->data;
	}
#endif
	return NULL;
}

/* swap_cache_get_folio(entry): the holder's mover is in flight before the folio_try_get. */
static int swap_lookup_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct lookup_holder **holder = (struct lookup_holder **)ri->data;
	struct lookup_holder *h = in_task() ? current_holder() : NULL;

	*holder = h;
	if (!h) {
		/*
		 * Its reference goes at a time no hook sees: every check may miss it. (Not
		 * while the hooks go in: a holder that began before its hook is not listed.)
		 */
		if (fmw_armed_now()) {
			foliomap_count(FOLIOMAP_STAT_MISSED_EVENTS);
			foliomap_count(FOLIOMAP_STAT_SWAP_LOOKUPS_UNHELD);
		}
		return 1;
	}
	if (!h->published) {
		h->m = (struct fmw_mover){ .name = h->m.name, .all = true, .uncertain = true };
		fmw_mover_begin(&h->m);
		h->published = true;
	} else {
		WRITE_ONCE(h->m.all, true);
		smp_mb();	/* a scanner again before the lookup (pairs with fmw_close_begin()) */
	}
	return 0;
}

/* The folio found, if any, joins the holder's list; a full list stays a scanner. */
static int swap_lookup_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct lookup_holder *h = *(struct lookup_holder **)ri->data;
	struct folio *folio = (struct folio *)regs_return_value(regs);
	unsigned int i, n = h->m.nr;

	for (i = 0; folio && i < n; i++)
		if (h->m.folio[i] == folio)
			folio = NULL;
	if (folio) {
		if (n == MOVER_BATCH)
			return 0;
		WRITE_ONCE(h->m.folio[n], folio);
		WRITE_ONCE(h->m.delta[n], 0);
		smp_wmb();	/* the entry before the count */
		WRITE_ONCE(h->m.nr, n + 1);
	}
	smp_wmb();	/* the list before the switch (pairs with mover_touches()) */
	WRITE_ONCE(h->m.all, false);
	return 0;
}

#define LOOKUP_HOLDER(sym, conc) \
	HOOK_DESC(sym, holder_entry, holder_ret, struct lookup_holder, conc, HOOK_USES_MOVER)

const struct foliomap_hook_desc foliomap_mover_hooks[] = {
	HOOK_DESC("lru_add_drain", lru_add_drain_entry, lru_add_drain_ret, int, HOOK_ATOMIC, 0),
	HOOK_DESC("folio_batch_move_lru", batch_move_entry, batch_move_ret, struct batch_move,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("folios_put_refs", put_refs_entry, mover_ret, struct fmw_mover, HOOK_ATOMIC,
		  HOOK_USES_MOVER),
	HOOK_DESC("folio_isolate_lru", isolate_lru_entry, isolate_lru_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("folio_putback_lru", putback_lru_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("folio_add_lru", add_lru_entry, mover_ret, struct fmw_mover, HOOK_ATOMIC,
		  HOOK_USES_MOVER),
	HOOK_DESC("folio_free_swap", free_swap_entry, free_swap_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("swap_cache_del_folio", swap_cache_del_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("__swap_cache_add_folio", swap_cache_add_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("isolate_lru_folios", isolate_lru_folios_entry, isolate_lru_folios_ret,
		  struct lru_scan_mover, HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("move_folios_to_lru", move_folios_to_lru_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("migrate_folio_done", migrate_folio_done_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("compact_zone", scanner_entry, mover_ret, struct fmw_mover, HOOK_SLEEPS,
		  HOOK_USES_MOVER),
	HOOK_DESC("deferred_split_scan", scanner_entry, mover_ret, struct fmw_mover,
		  HOOK_SLEEPS, HOOK_USES_MOVER),
	HOOK_DESC("shrink_folio_list", scanner_entry, mover_ret, struct fmw_mover,
		  HOOK_SLEEPS, HOOK_USES_MOVER),
	HOOK_DESC("madvise_collapse", scanner_entry, mover_ret, struct fmw_mover, HOOK_SLEEPS,
		  HOOK_USES_MOVER),
	HOOK_DESC("folio_activate", uncertain_entry, mover_ret, struct fmw_mover, HOOK_ATOMIC,
		  HOOK_USES_MOVER),
	HOOK_DESC("folio_deactivate", uncertain_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("folio_mark_lazyfree", uncertain_entry, mover_ret, struct fmw_mover,
		  HOOK_ATOMIC, HOOK_USES_MOVER),
	HOOK_DESC("try_grab_folio", uncertain_entry, mover_ret, struct fmw_mover, HOOK_ATOMIC,
		  HOOK_USES_MOVER),
	/*
	 * The callers that bound a lookup's reference (shmem's hands it on: not one),
	 * registered before the lookup itself (table order).
	 */
	LOOKUP_HOLDER("do_swap_page", HOOK_SLEEPS),
	LOOKUP_HOLDER("__try_to_reclaim_swap", HOOK_ATOMIC),
	LOOKUP_HOLDER("mincore_swap", HOOK_ATOMIC),
	LOOKUP_HOLDER("swapin_walk_pmd_entry", HOOK_SLEEPS),
	LOOKUP_HOLDER("unuse_pte_range", HOOK_SLEEPS),
	/* swapoff's try_to_unuse(), inlined: a scanner for the rest of it once 32 are found */
	LOOKUP_HOLDER("__x64_sys_swapoff", HOOK_SLEEPS),
	HOOK_DESC("swap_cache_get_folio", swap_lookup_entry, swap_lookup_ret,
		  struct lookup_holder *, HOOK_ATOMIC, 0),
};
const unsigned int foliomap_nr_mover_hooks = ARRAY_SIZE(foliomap_mover_hooks);

/* ------------------------------------------------------------------------------------ */
/* Registration                                                                           */

struct foliomap_hook {
	const struct foliomap_hook_desc *desc;
	struct kretprobe rp;
	int err;		/* of register_kretprobe; 0: registered */
	char symbol[KSYM_NAME_LEN];	/* the name it was found under */
};

const struct foliomap_hook_desc *foliomap_hook_of(struct kretprobe_instance *ri)
{
	return container_of(get_kretprobe(ri), struct foliomap_hook, rp)->desc;
}

static struct foliomap_hook *hooks;
static unsigned int nr_hooks;

/* @rp (only compared, not read) is the kretprobe of one of the lookup holders. */
static bool is_holder_probe(const void *rp)
{
	const struct foliomap_hook *h = container_of(rp, struct foliomap_hook, rp);

	return rp >= (const void *)&hooks[0].rp && rp <= (const void *)&hooks[nr_hooks - 1].rp &&
	       h->desc->ret == holder_ret;
}

static const struct {
	const struct foliomap_hook_desc *descs;
	const unsigned int *nr;
} families[] = {
	/* the reference movers first: a check may start only where they are seen */
	{ foliomap_mover_hooks, &foliomap_nr_mover_hooks },
	{ foliomap_rmap_hooks, &foliomap_nr_rmap_hooks },
	{ foliomap_cow_hooks, &foliomap_nr_cow_hooks },
	{ foliomap_fork_hooks, &foliomap_nr_fork_hooks },
	{ foliomap_split_hooks, &foliomap_nr_split_hooks },
};

/*
 * Instances: a function that does not sleep is inside at most a few times per CPU
 * (nesting, an interrupt); one that sleeps once per task inside it, which the test
 * workloads keep well below this.
 */
static int hook_instances(const struct foliomap_hook_desc *d)
{
	unsigned int cpus = num_possible_cpus();

	return d->concurrency == HOOK_ATOMIC ? 4 * cpus : 64 + 4 * cpus;
}

u64 foliomap_hooks_missed(void)
{
	u64 missed = 0;
	unsigned int i;

	for (i = 0; hooks && i < nr_hooks; i++)
		if (!hooks[i].err)
			missed += hooks[i].rp.nmissed + hooks[i].rp.kp.nmissed;
	return missed;
}

static int hooks_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	for (i = 0; i < nr_hooks; i++) {
		const struct foliomap_hook *h = &hooks[i];

		if (h->err)
			seq_printf(m, "%-28s MISSING (%d): its checks are off\n", h->desc->symbol,
				   h->err);
		else
			seq_printf(m, "%-28s active instances %d missed %lu\n", h->symbol,
				   h->rp.maxactive, h->rp.nmissed + h->rp.kp.nmissed);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hooks);

/*
 * Registers @h under its function's name or, where this kernel's compiler made a
 * specialised copy of a static function, under the copy's (name.constprop.0, .isra.0).
 */
static int register_hook(struct foliomap_hook *h)
{
	static const char *const suffixes[] = { "", ".constprop.0", ".isra.0" };
	const struct foliomap_hook_desc *d = h->desc;
	unsigned int i;
	int err = -ENOENT;

	for (i = 0; i < ARRAY_SIZE(suffixes); i++) {
		memset(&h->rp, 0, sizeof(h->rp));
		snprintf(h->symbol, sizeof(h->symbol), "%s%s", d->symbol, suffixes[i]);
		h->rp.kp.symbol_name = h->symbol;
		h->rp.entry_handler = d->entry;
		h->rp.handler = d->ret;
		h->rp.data_size = d->data_size;
		h->rp.maxactive = hook_instances(d);
		err = register_kretprobe(&h->rp);
		if (err != -ENOENT && err != -EINVAL)
			break;
	}
	return err;
}

static void unregister_all(void)
{
	unsigned int i;

	for (i = 0; i < nr_hooks; i++)
		if (!hooks[i].err)
			unregister_kretprobe(&hooks[i].rp);
}

int foliomap_hooks_init(struct dentry *dir)
{
	unsigned int f, i, k = 0, checks = 0, replays = 0, forks = 0, moves = 0, tails = 0;
	unsigned int registered = 0;
	int err;

	for (f = 0; f < ARRAY_SIZE(families); f++)
		nr_hooks += *families[f].nr;
	hooks = kcalloc(nr_hooks, sizeof(*hooks), GFP_KERNEL);
	if (!hooks)
		return -ENOMEM;
	for (f = 0; f < ARRAY_SIZE(families); f++) {
		for (i = 0; i < *families[f].nr; i++, k++) {
			const struct foliomap_hook_desc *d = &families[f].descs[i];
			int n = hook_instances(d);

			hooks[k].desc = d;
			hooks[k].err = -ENODEV;		/* not registered (yet) */
			if (d->uses & HOOK_USES_CHECK)
				checks += n;
			if (d->uses & HOOK_USES_CHECK2)
				checks += n;
			if (d->uses & HOOK_USES_REPLAY)
				replays += n;
			if (d->uses & HOOK_USES_FORK)
				forks += n;
			if (d->uses & HOOK_USES_MOVER)
				moves += n;
			if (d->uses & HOOK_USES_TAIL)
				tails += n;
		}
	}
	err = fmw_init(checks, replays, moves + forks + tails);
	if (!err)
		err = foliomap_fork_init(forks);
	if (!err)
		err = foliomap_rmap_init(tails);
	if (err)
		goto fail;

	for (k = 0; k < nr_hooks; k++) {
		struct foliomap_hook *h = &hooks[k];
		const struct foliomap_hook_desc *d = h->desc;

		h->err = register_hook(h);
		if (!h->err) {
			registered++;
			continue;
		}
		pr_warn("cannot hook %s (%d)%s\n", d->symbol, h->err,
			allow_missing_hooks ? ": its checks are off" : "");
		foliomap_count(FOLIOMAP_STAT_HOOKS_MISSING);
		if (!allow_missing_hooks) {
			err = h->err;
			goto fail_unregister;
		}
	}
	/*
	 * A mover that was already running as its hook went in is not seen: wait until
	 * every CPU has passed a quiescent state (a non-sleeping mover has returned by
	 * then), then let checks begin. A scanner that sleeps (compaction, reclaim) and
	 * was running before the load stays unseen until it returns.
	 */
	synchronize_rcu();
	fmw_arm(true);
	debugfs_create_file(FOLIOMAP_HOOKS_FILE, 0400, dir, NULL, &hooks_fops);
	pr_info("%u of %u hooks registered\n", registered, nr_hooks);
	return 0;

fail_unregister:
	pr_err("refusing to load with a hook missing (allow_missing_hooks=1 loads anyway)\n");
	unregister_all();
fail:
	foliomap_rmap_exit();
	foliomap_fork_exit();
	fmw_exit();
	kfree(hooks);
	hooks = NULL;
	return err;
}

void foliomap_hooks_exit(void)
{
	unsigned int i;

	fmw_arm(false);
	synchronize_rcu();	/* handlers that saw the checker armed have returned */
	unregister_all();
	for (i = 0; i < nr_hooks; i++)
		if (!hooks[i].err && (hooks[i].rp.nmissed || hooks[i].rp.kp.nmissed))
			pr_info("%s: %d returns and %lu entries missed\n", hooks[i].desc->symbol,
				hooks[i].rp.nmissed, hooks[i].rp.kp.nmissed);
	foliomap_rmap_exit();
	foliomap_fork_exit();
	fmw_exit();
	kfree(hooks);
	hooks = NULL;
}
