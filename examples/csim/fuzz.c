// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * csim --gen-scn --seed S --count N --out DIR [--steps K]: random scenario files in the
 * documented format (FORMAT.md) for differential testing against the kernel executor
 * (scripts/scn-fuzz). File I of seed S depends only on (S, I), not on N.
 *
 * Validity without narrowing: the generator keeps the scenario's own state (live
 * processes, their regions with a mapped and a writable bit per page, pin lines) to
 * choose operands, and runs every chosen step on a simulator (pmc) before emitting it,
 * only to learn what the format forbids (a read-only pin of an unpopulated page, an
 * mremap of a region that is not one VMA). Nothing is dropped for its outcome. No
 * `expect` lines: only transcripts are compared.
 *
 * A new line kind is one entry in ops[] (a weight and a function that fills a step) and,
 * if it changes state, a case in apply().
 */
#include "csim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FZ_PROCS 8	  /* live processes at a time */
#define FZ_NAMES 16	  /* processes created per scenario (spawn + fork) */
#define FZ_REGIONS 12	  /* regions created per scenario */
#define FZ_MAX_PAGES 1024 /* largest region (4 MiB) */
#define FZ_PINS 64	  /* pin lines per process */

struct rng {
	uint64_t x;
};

static uint64_t rnext(struct rng *r) /* splitmix64: any seed, including 0, is good */
{
	uint64_t z = (r->x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnext(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int percent)
{
	return below(r, 100) < percent;
}

/* The generator's view of one region of one process. */
struct fz_region {
	char name[SCN_NAME_LEN];
	uint64_t pages;
	uint8_t mapped[FZ_MAX_PAGES];
	uint8_t writable[FZ_MAX_PAGES];
};

struct fz_pin {
	char region[SCN_NAME_LEN];
	uint64_t off, len; /* len 0: one page */
};

struct fz_proc {
	char name[SCN_NAME_LEN];
	bool live;
	struct fz_region reg[FZ_REGIONS];
	int nr_reg;
	struct fz_pin pins[FZ_PINS];
	int nr_pins;
};

struct fz {
	struct rng r;
	struct sim s;
	struct fz_proc procs[FZ_NAMES];
	int nr_procs;		/* created so far (names P0, P1, ...) */
	int nr_regions;		/* created so far (names R0, R1, ...) */
	FILE *out;
	int emitted;
	/* the last range touched, so that a following `show` often looks at it */
	int last_proc;
	int last_reg;
	uint64_t last_off;
};

/* ---- choosing operands --------------------------------------------------------------- */

static int live_count(const struct fz *z)
{
	int n = 0;

	for (int i = 0; i < z->nr_procs; i++)
		n += z->procs[i].live;
	return n;
}

static struct fz_proc *pick_proc(struct fz *z, bool with_region)
{
	int cand[FZ_NAMES], n = 0;

	for (int i = 0; i < z->nr_procs; i++)
		if (z->procs[i].live && (!with_region || z->procs[i].nr_reg))
			cand[n++] = i;
	return n ? &z->procs[cand[below(&z->r, (uint64_t)n)]] : NULL;
}

static struct fz_region *pick_region(struct fz *z, struct fz_proc *p)
{
	return &p->reg[below(&z->r, (uint64_t)p->nr_reg)];
}

/* Folio-ish boundaries: ranges that start a few pages before one cross it. */
static const uint64_t bounds[] = { 4, 8, 16, 32, 64, 128, 256, 512 };

/* A page range [first, first + nr) inside a region: one page, a run across a folio
 * boundary, a misaligned run, or the whole region. */
static void pick_pages(struct fz *z, const struct fz_region *g, uint64_t *first, uint64_t *nr)
{
	uint64_t n = g->pages;

	switch (below(&z->r, 4)) {
	case 0:
		*first = below(&z->r, n);
		*nr = 1;
		break;
	case 1: { /* straddle a boundary of 4..512 pages */
		uint64_t b = bounds[below(&z->r, sizeof(bounds) / sizeof(bounds[0]))];
		uint64_t at = b * (1 + below(&z->r, n / b + 1));

		at = at < n ? at : n / 2;
		*first = at > 0 ? at - 1 - below(&z->r, at < 8 ? at : 8) : 0;
		*nr = 1 + below(&z->r, 16);
		break;
	}
	case 2:
		*first = below(&z->r, n);
		*nr = 1 + below(&z->r, n);
		break;
	default:
		*first = 0;
		*nr = n;
		break;
	}
	if (*first >= n)
		*first = n - 1;
	if (*first + *nr > n)
		*nr = n - *first;
}

static bool all_set(const uint8_t *bits, uint64_t first, uint64_t nr)
{
	for (uint64_t i = first; i < first + nr; i++)
		if (!bits[i])
			return false;
	return true;
}

static bool any_set(const uint8_t *bits, uint64_t first, uint64_t nr)
{
	for (uint64_t i = first; i < first + nr; i++)
		if (bits[i])
			return true;
	return false;
}

/* Fills st->actor and st->a for a range of region g of p; `whole` = the line's default
 * length is the rest of the region (munmap/madvise/mprotect/migrate). */
static void set_range(struct fz *z, struct step *st, const struct fz_proc *p,
		      const struct fz_region *g, uint64_t first, uint64_t nr, bool whole)
{
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	snprintf(st->a.region, sizeof(st->a.region), "%s", g->name);
	st->a.off = first * SCN_PAGE_SIZE;
	st->a.len = nr * SCN_PAGE_SIZE;
	/* the default length, when it means the same, now and then */
	if ((whole ? first + nr == g->pages : nr == 1) && chance(&z->r, 40))
		st->a.len = 0;
}

/* ---- the operations ------------------------------------------------------------------ */

static bool gen_thp(struct fz *z, struct step *st)
{
	st->verb = V_THP;
	if (chance(&z->r, 8)) {
		st->size = 0;
		st->flag = false;	/* thp all never */
		return true;
	}
	st->size = SCN_PAGE_SIZE << (2 + below(&z->r, 8));
	st->flag = chance(&z->r, 70);
	return true;
}

static bool gen_spawn(struct fz *z, struct step *st)
{
	if (z->nr_procs == FZ_NAMES || live_count(z) >= FZ_PROCS)
		return false;
	st->verb = V_SPAWN;
	snprintf(st->name, sizeof(st->name), "P%d", z->nr_procs);
	return true;
}

static const uint64_t align_choices[] = { 16384, 65536, 65536, 262144, SCN_PMD_SIZE,
					  SCN_PMD_SIZE, SCN_PMD_SIZE };

static bool gen_mmap(struct fz *z, struct step *st)
{
	struct fz_proc *p = pick_proc(z, false);
	uint64_t pages;

	if (!p || z->nr_regions == 100 || p->nr_reg == FZ_REGIONS)
		return false;
	switch (below(&z->r, 5)) {
	case 0: pages = 1 + below(&z->r, 24); break;			/* small, odd */
	case 1: pages = 16 * (1 + below(&z->r, 8)); break;		/* 64K multiples */
	case 2: pages = 512; break;					/* one PMD */
	case 3: pages = 512 + 1 + below(&z->r, 64); break;		/* PMD and a tail */
	default: pages = 1024 - below(&z->r, 3) * 16; break;		/* two PMDs */
	}
	st->verb = V_MMAP;
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	snprintf(st->name, sizeof(st->name), "R%d", z->nr_regions);
	st->size = pages * SCN_PAGE_SIZE;
	st->align = SCN_PAGE_SIZE;
	if (chance(&z->r, 80)) {
		st->align = align_choices[below(&z->r, sizeof(align_choices) / sizeof(uint64_t))];
		if (chance(&z->r, 35))
			st->misalign = SCN_PAGE_SIZE * (1 + below(&z->r, st->align / SCN_PAGE_SIZE - 1));
	}
	return true;
}

/*
 * With @percent % chance, the range the last step touched, when its process still lives:
 * its process, region and first page in *p, *g, *first.
 */
static bool recent_range(struct fz *z, unsigned int percent, struct fz_proc **p,
			 struct fz_region **g, uint64_t *first)
{
	struct fz_proc *last;

	if (z->last_proc < 0 || !z->procs[z->last_proc].live ||
	    z->last_reg >= z->procs[z->last_proc].nr_reg || !chance(&z->r, percent))
		return false;
	last = &z->procs[z->last_proc];
	*p = last;
	*g = &last->reg[z->last_reg];
	*first = z->last_off / SCN_PAGE_SIZE;
	return true;
}

/* Pages of a region of a live process (false: no process left). */
static bool pick_range(struct fz *z, struct fz_proc **p, struct fz_region **g, uint64_t *first,
		       uint64_t *nr)
{
	*p = pick_proc(z, true);
	if (!*p)
		return false;
	*g = pick_region(z, *p);
	pick_pages(z, *g, first, nr);
	return true;
}

static bool gen_access(struct fz *z, struct step *st, enum verb verb)
{
	struct fz_proc *p;
	struct fz_region *g;
	uint64_t first, nr;

	if (!pick_range(z, &p, &g, &first, &nr))
		return false;
	if (recent_range(z, 30, &p, &g, &first))
		nr = first + nr <= g->pages ? nr : g->pages - first;
	if (nr > 64 && verb == V_PIN)
		nr = 1 + below(&z->r, 16);
	if (!all_set(g->mapped, first, nr))
		return false;
	if ((verb == V_WRITE || (verb == V_PIN && st->flag)) && !all_set(g->writable, first, nr))
		return false;
	st->verb = verb;
	set_range(z, st, p, g, first, nr, false);
	/* one page at an unaligned offset: the format allows it for a single access */
	if (verb != V_PIN && !st->a.len && chance(&z->r, 30))
		st->a.off += 8 * (1 + below(&z->r, 500));
	return true;
}

static bool gen_write(struct fz *z, struct step *st) { return gen_access(z, st, V_WRITE); }
static bool gen_read(struct fz *z, struct step *st) { return gen_access(z, st, V_READ); }

static bool gen_pin(struct fz *z, struct step *st)
{
	st->flag = !chance(&z->r, 35); /* 35%: ro */
	return gen_access(z, st, V_PIN);
}

static bool gen_unpin(struct fz *z, struct step *st)
{
	int cand[FZ_NAMES], n = 0;
	struct fz_proc *p;

	for (int i = 0; i < z->nr_procs; i++)
		if (z->procs[i].live && z->procs[i].nr_pins)
			cand[n++] = i;
	if (!n)
		return false;
	p = &z->procs[cand[below(&z->r, (uint64_t)n)]];
	st->verb = V_UNPIN;
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	if (chance(&z->r, 25)) { /* a whole region: every pin line in it */
		struct fz_region *g = pick_region(z, p);

		snprintf(st->a.region, sizeof(st->a.region), "%s", g->name);
		st->a.off = 0;
		st->a.len = g->pages * SCN_PAGE_SIZE;
	} else {
		const struct fz_pin *pn = &p->pins[below(&z->r, (uint64_t)p->nr_pins)];

		snprintf(st->a.region, sizeof(st->a.region), "%s", pn->region);
		st->a.off = pn->off;
		st->a.len = pn->len;
	}
	return true;
}

static bool gen_fork(struct fz *z, struct step *st)
{
	/* mostly a process with mappings: forking an empty one tests little */
	struct fz_proc *p = pick_proc(z, chance(&z->r, 85));

	if (!p || z->nr_procs == FZ_NAMES || live_count(z) >= FZ_PROCS)
		return false;
	st->verb = V_FORK;
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	snprintf(st->name, sizeof(st->name), "P%d", z->nr_procs);
	return true;
}

static bool gen_exit(struct fz *z, struct step *st)
{
	struct fz_proc *p = pick_proc(z, false);

	if (!p || live_count(z) < 2)
		return false;
	st->verb = V_EXIT;
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	return true;
}

/* munmap (holes allowed), madvise / mprotect (fully mapped: the kernel's ENOMEM) */
static bool gen_ranged(struct fz *z, struct step *st, enum verb verb)
{
	struct fz_proc *p;
	struct fz_region *g;
	uint64_t first, nr;

	if (!pick_range(z, &p, &g, &first, &nr))
		return false;
	if (verb != V_MUNMAP && verb != V_MIGRATE && verb != V_QUERY &&
	    !all_set(g->mapped, first, nr))
		return false;
	/* a query needs a VMA somewhere in its range; holes are fine */
	if (verb == V_QUERY && !any_set(g->mapped, first, nr))
		return false;
	st->verb = verb;
	set_range(z, st, p, g, first, nr, true);
	if (verb == V_MPROTECT)
		st->flag = chance(&z->r, 50);
	if (verb == V_MIGRATE)
		st->node = (int)below(&z->r, 2);
	return true;
}

static bool gen_munmap(struct fz *z, struct step *st) { return gen_ranged(z, st, V_MUNMAP); }
static bool gen_madvise(struct fz *z, struct step *st) { return gen_ranged(z, st, V_MADVISE); }
static bool gen_mprotect(struct fz *z, struct step *st) { return gen_ranged(z, st, V_MPROTECT); }
static bool gen_migrate(struct fz *z, struct step *st) { return gen_ranged(z, st, V_MIGRATE); }
static bool gen_query(struct fz *z, struct step *st) { return gen_ranged(z, st, V_QUERY); }

static bool gen_mremap(struct fz *z, struct step *st)
{
	struct fz_proc *p = pick_proc(z, true);
	struct fz_region *g;

	if (!p)
		return false;
	g = pick_region(z, p);
	if (!all_set(g->mapped, 0, g->pages))
		return false;
	st->verb = V_MREMAP;
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	snprintf(st->a.region, sizeof(st->a.region), "%s", g->name);
	st->align = align_choices[below(&z->r, sizeof(align_choices) / sizeof(uint64_t))];
	if (chance(&z->r, 50))
		st->misalign = SCN_PAGE_SIZE * below(&z->r, st->align / SCN_PAGE_SIZE);
	return true;
}

/* split / show: any page of a region, mapped or not, at any byte offset; or a range show */
static bool gen_point(struct fz *z, struct step *st, enum verb verb)
{
	struct fz_proc *p = pick_proc(z, true);
	struct fz_region *g;
	uint64_t first, nr;

	if (!p)
		return false;
	st->verb = verb;
	if (verb != V_SHOW || !recent_range(z, 50, &p, &g, &first)) {
		g = pick_region(z, p);
		pick_pages(z, g, &first, &nr);
	}
	snprintf(st->actor, sizeof(st->actor), "%s", p->name);
	snprintf(st->a.region, sizeof(st->a.region), "%s", g->name);
	st->a.off = first * SCN_PAGE_SIZE;
	/* a range show: every folio of up to 2M from here (a range starts on a page) */
	if (verb == V_SHOW && chance(&z->r, 30)) {
		uint64_t left = g->pages - first, want = 1 + below(&z->r, 512);

		st->a.len = (want < left ? want : left) * SCN_PAGE_SIZE;
		return true;
	}
	if (chance(&z->r, 15))
		st->a.off += 16 * below(&z->r, 256);
	return true;
}

static bool gen_split(struct fz *z, struct step *st) { return gen_point(z, st, V_SPLIT); }
static bool gen_show(struct fz *z, struct step *st) { return gen_point(z, st, V_SHOW); }

/* The table of line kinds: relative weights. */
static const struct fz_op {
	const char *name;
	unsigned int weight;
	bool (*gen)(struct fz *z, struct step *st);
} ops[] = {
	{ "thp", 2, gen_thp },		{ "spawn", 1, gen_spawn },
	{ "mmap", 4, gen_mmap },	{ "write", 18, gen_write },
	{ "read", 8, gen_read },	{ "fork", 5, gen_fork },
	{ "exit", 2, gen_exit },	{ "munmap", 3, gen_munmap },
	{ "madvise", 5, gen_madvise },	{ "mprotect", 5, gen_mprotect },
	{ "mremap", 3, gen_mremap },	{ "pin", 6, gen_pin },
	{ "unpin", 4, gen_unpin },	{ "migrate", 4, gen_migrate },
	{ "split", 4, gen_split },	{ "show", 10, gen_show },
	{ "query", 5, gen_query },
};

/* ---- running a chosen step on the simulator and on the generator's state -------------- */

static struct fz_proc *fz_proc(struct fz *z, const char *name)
{
	for (int i = 0; i < z->nr_procs; i++)
		if (z->procs[i].live && !strcmp(z->procs[i].name, name))
			return &z->procs[i];
	return NULL;
}

static struct fz_region *fz_region(struct fz_proc *p, const char *name)
{
	for (int i = 0; i < p->nr_reg; i++)
		if (!strcmp(p->reg[i].name, name))
			return &p->reg[i];
	return NULL;
}

static void set_bits(uint8_t *bits, uint64_t first, uint64_t nr, uint8_t v)
{
	memset(bits + first, v, nr);
}

/*
 * Runs st on the simulator (as scenario.c would) and updates the generator's state.
 * 0: done; 1: refused before any change (the step is not emitted); -1: refused part way
 * (the simulator's state is no longer the file's: the scenario ends here).
 */
static int apply(struct fz *z, const struct step *st)
{
	struct sim *s = &z->s;
	struct proc *p = st->actor[0] ? sim_proc(s, st->actor) : NULL;
	struct fz_proc *fp = st->actor[0] ? fz_proc(z, st->actor) : NULL;
	struct fz_region *g = NULL;
	uint64_t base = 0, start, end, first = 0, nr = 0;
	enum access_outcome o;
	int ri = -1, rc = 0, n1, n2;
	bool b;

	if (st->actor[0] && (!p || !fp))
		return 1;
	if (st->a.region[0]) {
		ri = sim_region(s, p, st->a.region);
		g = fz_region(fp, st->a.region);
		if (ri < 0 || !g)
			return 1;
		base = p->regions[ri].base;
		first = st->a.off / SCN_PAGE_SIZE;
		nr = st->a.len ? st->a.len / SCN_PAGE_SIZE : 1;
		if (!st->a.len && (st->verb == V_MUNMAP || st->verb == V_MADVISE ||
				   st->verb == V_MPROTECT || st->verb == V_MIGRATE))
			nr = g->pages - first;
	}
	start = base + first * SCN_PAGE_SIZE;
	end = start + nr * SCN_PAGE_SIZE;
	switch (st->verb) {
	case V_THP:
		for (unsigned int o2 = 2; o2 <= FM_MAX_ORDER; o2++)
			if (!st->size || st->size == SCN_PAGE_SIZE << o2)
				s->thp[o2] = st->flag;
		return 0;
	case V_SPAWN:
	case V_FORK:
		if (st->verb == V_SPAWN ? sim_spawn(s, st->name) : sim_fork(s, p, st->name))
			return 1;
		fp = &z->procs[z->nr_procs];
		if (st->verb == V_FORK)
			*fp = *fz_proc(z, st->actor);
		else
			memset(fp, 0, sizeof(*fp));
		fp->nr_pins = 0; /* pins stay the pinner's */
		snprintf(fp->name, sizeof(fp->name), "%s", st->name);
		fp->live = true;
		z->nr_procs++;
		return 0;
	case V_MMAP:
		if (sim_mmap(s, p, st->name, st->size, st->misalign))
			return 1;
		g = &fp->reg[fp->nr_reg++];
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "%s", st->name);
		g->pages = st->size / SCN_PAGE_SIZE;
		set_bits(g->mapped, 0, g->pages, 1);
		set_bits(g->writable, 0, g->pages, 1);
		z->nr_regions++;
		z->last_proc = (int)(fp - z->procs);
		z->last_reg = fp->nr_reg - 1;
		z->last_off = 0;
		return 0;
	case V_WRITE: case V_READ: case V_PIN:
		/* a read-only pin needs a folio at every page (FORMAT.md: not modelled else) */
		if (st->verb == V_PIN && !st->flag)
			for (uint64_t a = start; a < end; a += SCN_PAGE_SIZE) {
				struct folio *f;
				unsigned int pg;

				if (sim_lookup(s, p, a, &f, &pg) != LOOK_FOLIO)
					return 1;
			}
		if (st->verb == V_PIN && fp->nr_pins == FZ_PINS)
			return 1;
		for (uint64_t a = start; a < end; a += SCN_PAGE_SIZE) {
			if (st->verb == V_PIN)
				rc = sim_pin(s, p, a, st->flag, &o);
			else
				rc = sim_access(s, p, a + (st->a.off % SCN_PAGE_SIZE),
						st->verb == V_WRITE, &o);
			if (rc)
				return a == start ? 1 : -1;
		}
		if (st->verb == V_PIN)
			fp->pins[fp->nr_pins++] = (struct fz_pin){ .off = st->a.off, .len = st->a.len };
		if (st->verb == V_PIN)
			snprintf(fp->pins[fp->nr_pins - 1].region, SCN_NAME_LEN, "%s", g->name);
		break;
	case V_UNPIN:
		sim_unpin(s, p, start, end, &n1);
		for (int i = 0; i < fp->nr_pins;) {
			struct fz_pin *pn = &fp->pins[i];
			uint64_t po = pn->off / SCN_PAGE_SIZE;

			if (!strcmp(pn->region, g->name) && po >= first && po < first + nr)
				*pn = fp->pins[--fp->nr_pins];
			else
				i++;
		}
		break;
	case V_EXIT:
		if (sim_exit(s, p))
			return -1;
		fp->live = false;
		return 0;
	case V_MUNMAP:
		if (sim_munmap(s, p, start, end))
			return -1;
		set_bits(g->mapped, first, nr, 0);
		break;
	case V_MADVISE:
		if (sim_madv_dontneed(s, p, start, end))
			return 1;
		break;
	case V_MPROTECT:
		if (sim_mprotect(s, p, start, end, st->flag))
			return 1;
		set_bits(g->writable, first, nr, st->flag);
		break;
	case V_MREMAP:
		/* refused before any change when the region is not one VMA */
		if (sim_mremap(s, p, ri, st->misalign))
			return 1;
		break;
	case V_MIGRATE:
		if (sim_migrate(s, p, start, end, st->node, !st->flag, &n1, &n2))
			return -1;
		break;
	case V_SPLIT:
		if (sim_split(s, p, start, &b))
			return -1;
		break;
	default: /* show and other lines that only look */
		break;
	}
	if (g) {
		z->last_proc = (int)(fp - z->procs);
		z->last_reg = (int)(g - fp->reg);
		z->last_off = st->a.off;
	}
	return 0;
}

static void emit(struct fz *z, const struct step *st)
{
	struct buf b = { .n = 0 };

	scn_echo(st, &b);
	fprintf(z->out, "%s\n", b.s);
	z->emitted++;
}

/* One scenario of `steps` lines (about) into out. */
static void gen_one(struct fz *z, int steps)
{
	unsigned int total = 0;
	int nr_thp = 1 + (int)below(&z->r, 3), tries = 0;

	z->last_proc = -1;
	/* several mTHP sizes at once, mixed with always/never */
	for (int i = 0; i < nr_thp; i++) {
		struct step st = { .verb = V_THP };

		gen_thp(z, &st);
		st.flag = st.size ? st.flag : false;
		if (!st.size)
			continue;
		apply(z, &st);
		emit(z, &st);
	}
	{
		struct step st = { .verb = V_SPAWN };

		gen_spawn(z, &st);
		apply(z, &st);
		emit(z, &st);
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		total += ops[i].weight;
	while (z->emitted < steps && tries < 50 * steps) {
		struct step st;
		unsigned int w = (unsigned int)below(&z->r, total);
		size_t k = 0;
		int rc;

		tries++;
		while (w >= ops[k].weight)
			w -= ops[k++].weight;
		memset(&st, 0, sizeof(st));
		if (!ops[k].gen(z, &st))
			continue;
		rc = apply(z, &st);
		if (rc > 0)
			continue;
		if (rc < 0)
			break;
		emit(z, &st);
		/* a look at what changed, often: shows everywhere */
		if (st.verb != V_SHOW && st.verb != V_THP && st.verb != V_EXIT && chance(&z->r, 35)) {
			memset(&st, 0, sizeof(st));
			if (gen_show(z, &st) && apply(z, &st) == 0)
				emit(z, &st);
		}
	}
}

int fuzz_gen(const struct fuzz_opts *o)
{
	struct fz *z = calloc(1, sizeof(*z));
	char path[4096];

	if (!z) {
		fprintf(stderr, "csim: out of memory\n");
		return 3;
	}
	if (mkdir(o->dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "csim: %s: %s\n", o->dir, strerror(errno));
		free(z);
		return 2;
	}
	for (uint64_t i = 0; i < o->count; i++) {
		struct rng pick = { .x = o->seed * 0x100000001B3ull + i };
		int steps;

		memset(z, 0, sizeof(*z));
		z->r.x = rnext(&pick) ^ i; /* each file from (seed, index) alone */
		steps = (int)(o->steps / 2 + below(&z->r, o->steps));
		snprintf(path, sizeof(path), "%s/fz-%llu-%04llu.scn", o->dir,
			 (unsigned long long)o->seed, (unsigned long long)i);
		z->out = fopen(path, "w");
		if (!z->out) {
			fprintf(stderr, "csim: %s: %s\n", path, strerror(errno));
			free(z);
			return 2;
		}
		fprintf(z->out, "# csim --gen-scn --seed %llu: scenario %llu\n",
			(unsigned long long)o->seed, (unsigned long long)i);
		sim_init(&z->s, FM_MODE_PMC);
		gen_one(z, steps);
		sim_destroy(&z->s);
		if (fclose(z->out)) {
			fprintf(stderr, "csim: %s: %s\n", path, strerror(errno));
			free(z);
			return 2;
		}
	}
	free(z);
	return 0;
}
