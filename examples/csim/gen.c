// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Generator mode: N processes doing random fork / exit / write / munmap / mremap /
 * madvise / mprotect over mixed folio sizes (16K, 64K mTHP, 2M THP, order 0), then
 * statistics: outcomes, partially-mapped folios and maybe-shared false positives
 * against the exact number of mms mapping each folio (kept by the page tables).
 */
#include "csim.h"
#include "trace.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rng {
	uint64_t x;
};

static uint64_t next(struct rng *r) /* xorshift64* */
{
	r->x ^= r->x >> 12;
	r->x ^= r->x << 25;
	r->x ^= r->x >> 27;
	return r->x * 0x2545F4914F6CDD1Dull;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? next(r) % n : 0;
}

/* The k-th live process in slot order, k uniform (sim->live_mask: no scan of the slots). */
static struct proc *random_proc(struct sim *s, struct rng *r, int live)
{
	uint64_t m = s->live_mask;

	for (int k = (int)below(r, (uint64_t)live); k > 0; k--)
		m &= m - 1;
	return m ? &s->procs[__builtin_ctzll(m)] : NULL;
}

static int live_procs(struct sim *s)
{
	return __builtin_popcountll(s->live_mask);
}

/* A random page-aligned range of 1..max_pages pages inside a random VMA of p. */
static bool random_range(struct proc *p, struct rng *r, uint64_t max_pages, uint64_t *start,
			 uint64_t *end, bool *writable)
{
	struct vma *v;
	uint64_t pages, first, nr;

	if (!p->nr_vmas)
		return false;
	v = &p->vmas[below(r, (uint64_t)p->nr_vmas)];
	pages = (v->end - v->start) / CSIM_PAGE_SIZE;
	first = below(r, pages);
	nr = 1 + below(r, max_pages < pages - first ? max_pages : pages - first);
	*start = v->start + first * CSIM_PAGE_SIZE;
	*end = *start + nr * CSIM_PAGE_SIZE;
	*writable = v->writable;
	return true;
}

static void must(struct sim *s, int rc)
{
	if (rc) {
		fprintf(stderr, "csim: generator: %s\n", s->err);
		exit(3);
	}
}

static const uint64_t region_sizes[] = { 64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20 };
static const unsigned int toggled_orders[] = { 2, 3, 4, 5, 9 };

static bool new_region(struct sim *s, struct proc *p, struct rng *r, uint64_t *counter)
{
	char name[CSIM_NAME_LEN];
	uint64_t size = region_sizes[below(r, sizeof(region_sizes) / sizeof(*region_sizes))];

	if (p->nr_regions == CSIM_MAX_REGIONS)
		return false;
	snprintf(name, sizeof(name), "r%llu", (unsigned long long)(*counter)++);
	/* mostly 2 MiB aligned; sometimes 4K past it, so folios straddle page tables */
	must(s, sim_mmap(s, p, name, size, below(r, 4) ? 0 : CSIM_PAGE_SIZE));
	return true;
}

/* What an event asked the simulator to do; EV_NONE: nothing (no VMA to pick, the process
 * limit, the last process, ...). The report gives count, model calls and time per type. */
enum ev_kind {
	EV_READ, EV_WRITE, EV_FORK, EV_EXIT, EV_MADVISE, EV_MUNMAP, EV_MREMAP, EV_MREMAP_EFAULT,
	EV_MPROTECT, EV_MMAP, EV_NONE, EV_CHECK, EV_NR
};

static const char *const ev_names[EV_NR] = {
	"read", "write", "fork", "exit", "madvise", "munmap", "mremap", "mremap-efault",
	"mprotect", "mmap", "nothing", "sim_check",
};

struct ev_stat {
	uint64_t events, calls, ns;
};

static uint64_t ns_since(struct timespec *t)
{
	struct timespec now;
	uint64_t d;

	clock_gettime(CLOCK_MONOTONIC, &now);
	d = (uint64_t)(now.tv_sec - t->tv_sec) * 1000000000u + (uint64_t)now.tv_nsec -
	    (uint64_t)t->tv_nsec;
	*t = now;
	return d;
}

static void report_types(FILE *out, const struct ev_stat *st, uint64_t calls, bool quiet)
{
	uint64_t ns = 0;

	for (int k = 0; k < EV_NR; k++)
		ns += st[k].ns;
	fprintf(out, "model calls (fm_*): %llu\n", (unsigned long long)calls);
	fprintf(out, "by event type: events, model calls%s\n",
		quiet ? "" : ", share of the time, ns per event, events/s");
	for (int k = 0; k < EV_NR; k++) {
		if (!st[k].events)
			continue;
		fprintf(out, "  %-13s %9llu %10llu", ev_names[k], (unsigned long long)st[k].events,
			(unsigned long long)st[k].calls);
		if (!quiet)
			fprintf(out, "  %5.1f %%  %8.0f ns  %10.0f/s",
				ns ? 100.0 * (double)st[k].ns / (double)ns : 0.0,
				(double)st[k].ns / (double)st[k].events,
				st[k].ns ? 1e9 * (double)st[k].events / (double)st[k].ns : 0.0);
		fputc('\n', out);
	}
}

int gen_run(const struct gen_opts *o, FILE *out)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct rng r = { o->seed * 0x9E3779B97F4A7C15ull + 1 };
	uint64_t region_counter = 0, proc_counter = 1, live_by_order[FM_MAX_ORDER + 1] = { 0 };
	uint64_t pm_live = 0, maybe_shared = 0, false_shared = 0, multi_mm = 0, large = 0;
	uint64_t ev_digest = 0, calls0 = csim_fm_calls, calls = calls0;
	struct ev_stat st[EV_NR] = { { 0 } };
	struct timespec t0, t1, t;
	double secs;
	char name[CSIM_NAME_LEN];

	if (!s) {
		fprintf(stderr, "csim: out of memory\n");
		return 3;
	}
	sim_init(s, o->mode);
	s->thp[2] = s->thp[4] = s->thp[9] = true;
	must(s, sim_spawn(s, "p0"));
	for (int i = 0; i < 4; i++)
		new_region(s, sim_proc(s, "p0"), &r, &region_counter);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	t = t0;
	for (uint64_t ev = 0; ev < o->events; ev++) {
		int live = live_procs(s);
		struct proc *p = random_proc(s, &r, live);
		uint64_t dice = below(&r, 100), start = 0, end = 0;
		bool writable;
		enum access_outcome acc;
		enum ev_kind kind = EV_NONE;

		if (ev % 5000 == 4999) { /* change the mTHP policy now and then */
			unsigned int k = toggled_orders[below(&r, 5)];

			s->thp[k] = !s->thp[k];
		}
		if (dice < 55) {
			if (random_range(p, &r, 1, &start, &end, &writable)) {
				must(s, sim_access(s, p, start, writable, &acc));
				kind = writable ? EV_WRITE : EV_READ;
			}
		} else if (dice < 65) {
			if (live < o->procs) {
				snprintf(name, sizeof(name), "p%llu",
					 (unsigned long long)proc_counter++);
				must(s, sim_fork(s, p, name));
				kind = EV_FORK;
			}
		} else if (dice < 71) {
			if (live > 1) {
				must(s, sim_exit(s, p));
				kind = EV_EXIT;
			}
		} else if (dice < 79) {
			if (random_range(p, &r, 64, &start, &end, &writable)) {
				must(s, sim_madv_dontneed(s, p, start, end));
				kind = EV_MADVISE;
			}
		} else if (dice < 85) {
			if (random_range(p, &r, 64, &start, &end, &writable)) {
				must(s, sim_munmap(s, p, start, end));
				kind = EV_MUNMAP;
			}
		} else if (dice < 89) {
			int ri = p->nr_regions ? (int)below(&r, (uint64_t)p->nr_regions) : -1;

			if (ri >= 0 && p->regions[ri].live) {
				kind = EV_MREMAP;
				/* a region whose first page is unmapped is refused (EFAULT) */
				if (sim_mremap(s, p, ri, below(&r, 2) ? 0 : 16 * CSIM_PAGE_SIZE)) {
					s->err[0] = 0;
					kind = EV_MREMAP_EFAULT;
				}
			}
		} else if (dice < 94) {
			if (random_range(p, &r, 32, &start, &end, &writable)) {
				must(s, sim_mprotect(s, p, start, end, below(&r, 2)));
				kind = EV_MPROTECT;
			}
		} else {
			if (p->nr_vmas < 8 && new_region(s, p, &r, &region_counter))
				kind = EV_MMAP;
		}
		/* what was drawn and where: equal digests, equal event streams */
		ev_digest = sim_mix(sim_mix(ev_digest, (uint64_t)(p - s->procs) << 8 | dice),
				    sim_mix(sim_mix(r.x, start), end));
		/* one clock read per event: the time since the previous one is this event's */
		st[kind].events++;
		st[kind].calls += csim_fm_calls - calls;
		st[kind].ns += ns_since(&t);
		calls = csim_fm_calls;
		if (ev % 4096 == 0) {
			if (sim_check(s)) {
				fprintf(stderr, "csim: generator: event %llu: %s\n",
					(unsigned long long)ev, s->err);
				exit(3);
			}
			st[EV_CHECK].events++;
			st[EV_CHECK].ns += ns_since(&t);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (sim_check(s)) {
		fprintf(stderr, "csim: generator: at the end: %s\n", s->err);
		exit(3);
	}

	for (struct folio *f = s->folios; f; f = f->next) {
		fm_query q;
		int mms = sim_mms_mapping(f);

		live_by_order[f->order]++;
		if (!f->order)
			continue;
		large++;
		if (t_query(f, 0, &q) != FM_OK) {
			fprintf(stderr, "csim: internal error: fm_folio_query\n");
			exit(3);
		}
		pm_live += !!(f->f.flags & FM_FOLIO_PARTIALLY_MAPPED);
		multi_mm += mms >= 2;
		if (q.maybe_mapped_shared) {
			maybe_shared++;
			false_shared += mms <= 1;
		}
	}

	fprintf(out, "csim generator: mode %s, %d processes max, %llu events, seed %llu\n",
		o->mode == FM_MODE_PMC ? "pmc" : "nopmc", o->procs,
		(unsigned long long)o->events, (unsigned long long)o->seed);
	if (!o->quiet)
		fprintf(out, "time: %.3f s, %.0f events/s, %.2f M model calls/s\n", secs,
			secs > 0 ? (double)o->events / secs : 0.0,
			secs > 0 ? (double)(calls - calls0) / secs / 1e6 : 0.0);
	fprintf(out, "processes: %d live, %llu forks, %llu exits\n", live_procs(s),
		(unsigned long long)s->st.forks, (unsigned long long)s->st.exits);
	fprintf(out, "accesses: new %llu, nofault %llu, zero %llu, reuse %llu, copy %llu\n",
		(unsigned long long)s->st.outcomes[ACC_NEW],
		(unsigned long long)s->st.outcomes[ACC_NOFAULT],
		(unsigned long long)s->st.outcomes[ACC_ZERO],
		(unsigned long long)s->st.outcomes[ACC_REUSE],
		(unsigned long long)s->st.outcomes[ACC_COPY]);
	fprintf(out, "copies because S was set: %llu, of which false positives (one mm "
		     "mapped the folio): %llu\n",
		(unsigned long long)s->st.copies_maybe_shared,
		(unsigned long long)s->st.copies_false_shared);
	fprintf(out, "folios allocated by order:");
	for (unsigned int k = 0; k <= FM_MAX_ORDER; k++)
		if (s->st.folios_by_order[k])
			fprintf(out, " %u:%llu", k, (unsigned long long)s->st.folios_by_order[k]);
	fprintf(out, "\nlive folios by order:");
	for (unsigned int k = 0; k <= FM_MAX_ORDER; k++)
		if (live_by_order[k])
			fprintf(out, " %u:%llu", k, (unsigned long long)live_by_order[k]);
	fprintf(out, "\npartially mapped: %llu marked during the run, %llu live large folios "
		     "marked now\n",
		(unsigned long long)s->st.newly_partially_mapped, (unsigned long long)pm_live);
	fprintf(out, "live large folios: %llu, mapped by >= 2 mms: %llu, maybe shared: %llu, "
		     "maybe-shared false positives: %llu\n",
		(unsigned long long)large, (unsigned long long)multi_mm,
		(unsigned long long)maybe_shared, (unsigned long long)false_shared);
	fprintf(out, "pmd splits: %llu, zaps: %llu, mremaps: %llu\n",
		(unsigned long long)s->st.pmd_splits, (unsigned long long)s->st.zaps,
		(unsigned long long)s->st.mremaps);
	report_types(out, st, calls - calls0, o->quiet);
	fprintf(out, "digest: events %016llx, final state %016llx\n",
		(unsigned long long)ev_digest, (unsigned long long)sim_digest(s));
	sim_destroy(s);
	free(s);
	return 0;
}
