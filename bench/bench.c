// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * foliomap's C benchmark (scripts/bench builds and runs it): the model's operations
 * through the C ABI, by mode (pmc, nopmc) x layer (plain, concurrent) x folio order x
 * batch, each as ns per call and as a ratio to one uncontended atomic read-modify-write
 * (`lock xadd` on a cache-hot line) measured in the same repetition; and two threads
 * hammering one concurrent folio against two threads adding to one shared line.
 *
 *   bench [--reps R] [--calls K] [--threads-only | --no-threads] > results.tsv
 *
 * Every operation is timed over K back-to-back calls that keep the folio in a steady
 * state (adds, then the removes that undo them; see each op below), R times; one TSV
 * row per configuration with the median, min and max over the R repetitions. Every
 * call's status (and CoW decision) is checked: a benchmark of refused calls would
 * measure nothing. Progress goes to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foliomap.h"

#define MAX_REPS 101
#define MM1 1u
#define MM2 2u

static int reps = 7;
static int calls = 2000;	/* K: calls per timed loop */
static int atomic_calls = 200000;

static void fail(const char *what, fm_status st, int line)
{
	fprintf(stderr, "bench.c:%d: %s: %s\n", line, what, fm_status_str(st));
	exit(1);
}
#define CK(call) do { fm_status st_ = (call); if (st_ != FM_OK) fail(#call, st_, __LINE__); } while (0)

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The unit: one atomic read-modify-write on a line that stays in this core's cache. */
static struct { _Alignas(64) uint64_t v; char pad[56]; } line;

static double atomic_ns(void)
{
	double t0 = now_ns();
	for (int i = 0; i < atomic_calls; i++)
		__atomic_fetch_add(&line.v, 1, __ATOMIC_SEQ_CST);
	return (now_ns() - t0) / atomic_calls;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct samples {
	double ns[MAX_REPS], atom[MAX_REPS], ratio[MAX_REPS];
	int n;
};

static void add_sample(struct samples *s, double ns, double atom)
{
	s->ns[s->n] = ns;
	s->atom[s->n] = atom;
	s->ratio[s->n] = ns / atom;
	s->n++;
}

static void emit(const char *op, const char *mode, const char *layer, unsigned order,
		 unsigned batch, struct samples *s)
{
	double ns_med = median(s->ns, s->n), atom_med = median(s->atom, s->n);
	double r_med = median(s->ratio, s->n);
	/* median() sorted the arrays: [0] is the minimum, [n-1] the maximum. */
	printf("c\t%s\t%s\t%s\t%u\t%u\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.4f\t%.4f\t%.4f\n", op, mode,
	       layer, order, batch, s->n, ns_med, s->ns[0], s->ns[s->n - 1], atom_med, r_med,
	       s->ratio[0], s->ratio[s->n - 1]);
	fflush(stdout);
}

struct bench_folio {
	fm_folio f;
	fm_page pages[FM_MAX_PAGES];
	unsigned mode, order, opts, nr;
};

/* A folio fully PTE-mapped by mm 1 (every page PAE), as after its first write fault
 * (order 9: the PMD fault, then mm 1's PMD split); `shared`: then forked into mm 2. */
static void setup(struct bench_folio *b, bool shared)
{
	b->nr = 1u << b->order;
	CK(fm_folio_init(&b->f, b->mode, b->order, b->opts, b->pages, FM_MAX_PAGES));
	CK(fm_folio_fault_anon(&b->f, MM1, NULL));
	if (b->order == FM_PMD_ORDER)
		CK(fm_folio_split_pmd(&b->f, MM1, false, false, NULL));
	if (shared)
		CK(fm_folio_fork_ptes(&b->f, 0, b->nr, MM2, false, NULL));
}

#define TIMED(total_ns, body) do {                      \
		double t0_ = now_ns();                  \
		for (int i_ = 0; i_ < calls; i_++) {    \
			body;                           \
		}                                       \
		total_ns = now_ns() - t0_;              \
	} while (0)

static const char *mode_name(unsigned mode) { return mode == FM_MODE_PMC ? "pmc" : "nopmc"; }
static const char *layer_name(unsigned opts) { return opts ? "concurrent" : "plain"; }

/* The batched rmap/call-site ops at one (mode, layer, order, batch). */
static void bench_batched(struct bench_folio *b, unsigned batch)
{
	struct samples add = { 0 }, rm = { 0 }, dup = { 0 }, fork = { 0 }, zap = { 0 };
	fm_rmap_outcome ro;
	fm_fork_outcome fo;
	double t;
	unsigned first;

	setup(b, false);
	first = (b->nr - batch) / 2;
	for (int r = 0; r < reps; r++) {
		double a = atomic_ns();
		/* add: mm 1 maps the batch once more (RMAP_NONE); remove: mm 1 unmaps it. */
		TIMED(t, CK(fm_folio_add_anon_ptes(&b->f, first, batch, MM1, FM_RMAP_NONE, &ro)));
		add_sample(&add, t / calls, a);
		TIMED(t, CK(fm_folio_remove_ptes(&b->f, first, batch, MM1, &ro)));
		add_sample(&rm, t / calls, a);
		/* dup: folio_try_dup_anon_rmap_ptes for child mm 2 (parent not pinned); the
		 * removes by mm 2 that undo it are not reported. */
		TIMED(t, CK(fm_folio_try_dup_anon_ptes(&b->f, first, batch, MM2, false, &ro)));
		add_sample(&dup, t / calls, a);
		for (int i = 0; i < calls; i++)
			CK(fm_folio_remove_ptes(&b->f, first, batch, MM2, &ro));
		/* fork: copy_present_ptes (references + dup); zap: mm 2's zap of the batch. */
		TIMED(t, CK(fm_folio_fork_ptes(&b->f, first, batch, MM2, false, &fo)));
		add_sample(&fork, t / calls, a);
		TIMED(t, CK(fm_folio_zap_ptes(&b->f, first, batch, MM2, &ro)));
		add_sample(&zap, t / calls, a);
	}
	const char *m = mode_name(b->mode), *l = layer_name(b->opts);
	emit("add", m, l, b->order, batch, &add);
	emit("remove", m, l, b->order, batch, &rm);
	emit("dup", m, l, b->order, batch, &dup);
	emit("fork", m, l, b->order, batch, &fork);
	emit("zap", m, l, b->order, batch, &zap);
}

/* The per-folio ops: queries, the CoW decision, the first fault. */
static void bench_single(struct bench_folio *b)
{
	struct samples query = { 0 }, copy = { 0 }, reuse = { 0 }, fault = { 0 };
	fm_query q;
	fm_cow_facts facts = { 0 };
	fm_cow_outcome co;
	fm_rmap_outcome ro;
	int32_t ret;
	double t;
	unsigned k = (1u << b->order) / 2;

	for (int r = 0; r < reps; r++) {
		double a = atomic_ns();
		/* query: every query of spec §4 on a folio mapped by two mms. */
		setup(b, true);
		TIMED(t, CK(fm_folio_query(&b->f, k, &q)));
		add_sample(&query, t / calls, a);
		/* cow_copy: mm 1 writes page k of the maybe-shared folio: the decision (S set)
		 * and the COPY's removal of one PTE and its reference. mm 1 first maps page k
		 * K more times (with references) so that every call finds it mapped. */
		for (int i = 0; i < calls; i++)
			CK(fm_folio_add_anon_ptes(&b->f, k, 1, MM1, FM_RMAP_NONE, &ro));
		CK(fm_folio_get(&b->f, calls));
		TIMED(t, CK(fm_folio_wp_fault_pte(&b->f, k, MM1, &facts, &co));
		      if (co.decision != FM_COW_DECISION_COPY) fail("cow_copy: not COPY", 0, __LINE__));
		add_sample(&copy, t / calls, a);
		/* cow_reuse: after the child's exit, mm 1 writes page k (no PAE): the full
		 * large-folio reuse check (LM == refcount, S clear, re-check under the lock);
		 * each REUSE sets PAE, which folio_try_share_anon_rmap_pte clears again (its
		 * cost is included). */
		CK(fm_folio_zap_ptes(&b->f, 0, b->nr, MM2, &ro));
		TIMED(t, CK(fm_folio_wp_fault_pte(&b->f, k, MM1, &facts, &co));
		      if (co.reason != FM_COW_REASON_LARGE_EXCLUSIVE) fail("cow_reuse: not LargeExclusive", 0, __LINE__);
		      CK(fm_folio_try_share_anon(&b->f, k, &ret)));
		add_sample(&reuse, t / calls, a);
		/* fault: fm_folio_init + the first anonymous fault + the zap of the whole
		 * folio (order 9: PMD fault and PMD zap), as one cycle. */
		TIMED(t, CK(fm_folio_init(&b->f, b->mode, b->order, b->opts, b->pages, FM_MAX_PAGES));
		      CK(fm_folio_fault_anon(&b->f, MM1, &ro));
		      if (b->order == FM_PMD_ORDER) CK(fm_folio_zap_pmd(&b->f, MM1, &ro));
		      else CK(fm_folio_zap_ptes(&b->f, 0, b->nr, MM1, &ro)));
		add_sample(&fault, t / calls, a);
	}
	const char *m = mode_name(b->mode), *l = layer_name(b->opts);
	emit("query", m, l, b->order, 1, &query);
	emit("cow_copy", m, l, b->order, 1, &copy);
	emit("cow_reuse", m, l, b->order, 1, &reuse);
	emit("fault_cycle", m, l, b->order, b->nr, &fault);
}

/* Contended: two threads, each add + remove of the same batch of one concurrent folio
 * (thread t as mm t + 1), against two threads adding to one shared line. */
struct thread_arg {
	struct bench_folio *b;
	unsigned batch, mm;
	bool atomic;
	double ns;
};
static pthread_barrier_t barrier;
static struct { _Alignas(64) uint64_t v; char pad[56]; } shared_line;

static void *hammer(void *p)
{
	struct thread_arg *a = p;
	unsigned first = (a->b->nr - a->batch) / 2;
	fm_rmap_outcome ro;

	pthread_barrier_wait(&barrier);
	double t0 = now_ns();
	if (a->atomic) {
		for (int i = 0; i < atomic_calls; i++)
			__atomic_fetch_add(&shared_line.v, 1, __ATOMIC_SEQ_CST);
		a->ns = (now_ns() - t0) / atomic_calls;
		return NULL;
	}
	for (int i = 0; i < calls; i++) {
		CK(fm_folio_add_anon_ptes(&a->b->f, first, a->batch, a->mm, FM_RMAP_NONE, &ro));
		CK(fm_folio_remove_ptes(&a->b->f, first, a->batch, a->mm, &ro));
	}
	a->ns = (now_ns() - t0) / (2.0 * calls);
	return NULL;
}

static double run_pair(struct bench_folio *b, unsigned batch, bool atomic)
{
	pthread_t th[2];
	struct thread_arg args[2];

	pthread_barrier_init(&barrier, NULL, 2);
	for (int t = 0; t < 2; t++) {
		args[t] = (struct thread_arg){ .b = b, .batch = batch, .mm = MM1 + (unsigned)t, .atomic = atomic };
		if (pthread_create(&th[t], NULL, hammer, &args[t]) != 0) {
			fprintf(stderr, "bench.c: pthread_create failed\n");
			exit(1);
		}
	}
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&barrier);
	return args[0].ns > args[1].ns ? args[0].ns : args[1].ns;
}

static void bench_contended(struct bench_folio *b, unsigned batch)
{
	struct samples s = { 0 };

	setup(b, false);
	for (int r = 0; r < reps; r++) {
		double a = run_pair(b, batch, true);
		add_sample(&s, run_pair(b, batch, false), a);
	}
	emit("contended_add_remove", mode_name(b->mode), "concurrent", b->order, batch, &s);
}

static int arg_int(const char *opt, const char *v, int lo, int hi)
{
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || *end || n < lo || n > hi) {
		fprintf(stderr, "bench: %s needs an integer in %d..%d\n", opt, lo, hi);
		exit(2);
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	static struct bench_folio b;
	static const unsigned modes[] = { FM_MODE_PMC, FM_MODE_NOPMC };
	static const unsigned orders[] = { 4, 9 };
	static const unsigned batches[] = { 1, 8, 64, 512 };
	bool threads = true, single = true;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps"))
			reps = arg_int("--reps", argv[++i < argc ? i : 0], 1, MAX_REPS);
		else if (!strcmp(argv[i], "--calls"))
			calls = arg_int("--calls", argv[++i < argc ? i : 0], 1, 100000);
		else if (!strcmp(argv[i], "--threads-only"))
			single = false;
		else if (!strcmp(argv[i], "--no-threads"))
			threads = false;
		else {
			fprintf(stderr, "bench: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	atomic_calls = calls * 100;

	printf("source\top\tmode\tlayer\torder\tbatch\treps\tns_med\tns_min\tns_max\tatomic_ns_med"
	       "\tratio_med\tratio_min\tratio_max\n");
	for (size_t mi = 0; single && mi < 2; mi++)
		for (unsigned opts = 0; opts <= FM_FOLIO_OPT_CONCURRENT; opts++)
			for (size_t oi = 0; oi < 2; oi++) {
				b.mode = modes[mi];
				b.order = orders[oi];
				b.opts = opts;
				fprintf(stderr, "  %s %s order %u\n", mode_name(b.mode), layer_name(opts), b.order);
				for (size_t bi = 0; bi < 4 && batches[bi] <= 1u << b.order; bi++)
					bench_batched(&b, batches[bi]);
				bench_single(&b);
			}
	for (size_t mi = 0; threads && mi < 2; mi++) {
		b.mode = modes[mi];
		b.order = 9;
		b.opts = FM_FOLIO_OPT_CONCURRENT;
		fprintf(stderr, "  %s contended (2 threads) order 9\n", mode_name(b.mode));
		for (size_t bi = 0; bi < 4; bi++)
			bench_contended(&b, batches[bi]);
	}
	return 0;
}
