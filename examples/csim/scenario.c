// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The scenario language (examples/csim/FORMAT.md) and the canonical transcript: one line
 * per step, the same for this simulator and for the kernel executor. Pass 1 parses the
 * whole file (syntax errors: file:line, exit 2), pass 2 runs it.
 */
#include "csim.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKENS 24
#define MAX_LINE 512

enum verb {
	V_THP, V_SPAWN, V_MMAP, V_WRITE, V_READ, V_FORK, V_EXIT, V_MUNMAP, V_MADVISE,
	V_MPROTECT, V_MREMAP, V_PIN, V_UNPIN, V_MIGRATE, V_SPLIT, V_SHOW, V_EXPECT,
};

/* An address operand REGION[+OFF] and an optional length. */
struct addr {
	char region[CSIM_NAME_LEN];
	uint64_t off;
	uint64_t len;		/* 0: the command's default */
};

struct step {
	int line;
	enum verb verb;
	char actor[CSIM_NAME_LEN];
	char name[CSIM_NAME_LEN];	/* region / child / spawned process */
	struct addr a;
	uint64_t size, align, misalign;	/* mmap / mremap / thp */
	bool flag;			/* thp always; mprotect rw; pin write */
	int node;
	char *expect[MAX_TOKENS];	/* expect arguments */
	int nr_expect;
	uint32_t expect_mode;		/* 0, or the only mode the expectation applies to */
};

struct run {
	const char *path;
	struct sim s;
	FILE *out;
	int failures;
	/* the last access (for expect reuse/copy/...) and the last show (for expect field) */
	enum access_outcome last_acc[512];
	int nr_last_acc;
	const char *last_word;		/* outcome word of the last split / migrate */
	char show_proc[CSIM_NAME_LEN];
	uint64_t show_addr;
	bool have_show;
};

static void die(const char *path, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

const char *outcome_name(enum access_outcome o)
{
	static const char *const names[ACC_NR] = { "NOFAULT", "NEW", "ZERO", "REUSE", "COPY" };

	return names[o];
}

/* 4096, 0x1000, 4K, 2M, 1G */
static bool parse_num(const char *t, uint64_t *v)
{
	char *end;
	unsigned long long n;

	if (!*t || *t == '-')
		return false;
	errno = 0;
	n = strtoull(t, &end, 0);
	if (errno)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 'K': n <<= 10; end++; break;
	case 'M': n <<= 20; end++; break;
	case 'G': n <<= 30; end++; break;
	default: break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	*v = n;
	return !*end;
}

static void fmt_size(char *buf, size_t len, uint64_t v)
{
	if (v && v % (1ull << 20) == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(v >> 20));
	else if (v && v % 1024 == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(v >> 10));
	else
		snprintf(buf, len, "%#llx", (unsigned long long)v);
}

static bool valid_name(const char *t)
{
	if (!isalpha((unsigned char)*t) || strlen(t) >= CSIM_NAME_LEN)
		return false;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '_')
			return false;
	return true;
}

/* REGION or REGION+OFF */
static void parse_addr(const char *path, int line, const char *t, struct addr *a)
{
	const char *plus = strchr(t, '+');
	size_t n = plus ? (size_t)(plus - t) : strlen(t);

	if (n == 0 || n >= CSIM_NAME_LEN)
		die(path, line, "bad address '%s' (expected REGION or REGION+OFFSET)", t);
	memcpy(a->region, t, n);
	a->region[n] = 0;
	if (!valid_name(a->region))
		die(path, line, "bad region name in '%s'", t);
	a->off = 0;
	if (plus && !parse_num(plus + 1, &a->off))
		die(path, line, "bad offset in '%s'", t);
}

/* "A" or "A+B": alignment A, B bytes past it */
static void parse_align(const char *path, int line, const char *t, struct step *st)
{
	char buf[64];
	char *plus;

	snprintf(buf, sizeof(buf), "%s", t);
	plus = strchr(buf, '+');
	if (plus)
		*plus++ = 0;
	st->misalign = 0;
	if (!parse_num(buf, &st->align) || !st->align || (st->align & (st->align - 1)) ||
	    st->align % CSIM_PAGE_SIZE || st->align > CSIM_PMD_SIZE)
		die(path, line, "alignment must be a power of two from 4K to 2M, got '%s'", t);
	if (plus && (!parse_num(plus, &st->misalign) || st->misalign % CSIM_PAGE_SIZE ||
		     st->misalign >= st->align))
		die(path, line, "misalignment must be a multiple of 4K below the alignment");
}

static int tokenize(char *s, char **tok)
{
	int n = 0;
	char *hash = strchr(s, '#');

	if (hash)
		*hash = 0;
	for (char *t = strtok(s, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
		if (n == MAX_TOKENS)
			return -1;
		tok[n++] = t;
	}
	return n;
}

static const struct {
	const char *word;
	enum verb verb;
	bool actor;
} verbs[] = {
	{ "thp", V_THP, false },	  { "spawn", V_SPAWN, false },	 { "expect", V_EXPECT, false },
	{ "mmap", V_MMAP, true },	  { "write", V_WRITE, true },	 { "read", V_READ, true },
	{ "fork", V_FORK, true },	  { "exit", V_EXIT, true },	 { "munmap", V_MUNMAP, true },
	{ "madvise", V_MADVISE, true },	  { "mprotect", V_MPROTECT, true },
	{ "mremap", V_MREMAP, true },	  { "pin", V_PIN, true },	 { "unpin", V_UNPIN, true },
	{ "migrate", V_MIGRATE, true },	  { "split", V_SPLIT, true },	 { "show", V_SHOW, true },
};

static void parse_line(const char *path, int line, char **tok, int n, struct step *st)
{
	int i = 0, v;

	memset(st, 0, sizeof(*st));
	st->line = line;
	if (tok[0][strlen(tok[0]) - 1] == ':') {
		tok[0][strlen(tok[0]) - 1] = 0;
		if (!valid_name(tok[0]))
			die(path, line, "bad process name '%s'", tok[0]);
		snprintf(st->actor, sizeof(st->actor), "%s", tok[0]);
		i = 1;
	}
	if (i >= n)
		die(path, line, "missing command after '%s:'", st->actor);
	for (v = 0; v < (int)(sizeof(verbs) / sizeof(verbs[0])); v++)
		if (!strcmp(tok[i], verbs[v].word))
			break;
	if (v == (int)(sizeof(verbs) / sizeof(verbs[0])))
		die(path, line, "unknown command '%s'", tok[i]);
	if (verbs[v].actor != !!st->actor[0])
		die(path, line, verbs[v].actor ? "'%s' needs a process: 'P: %s ...'"
					       : "'%s' takes no process prefix%s", tok[i],
		    verbs[v].actor ? tok[i] : "");
	st->verb = verbs[v].verb;
	tok += i + 1;
	n -= i + 1;

#define NARGS(lo, hi, usage)                                                       \
	do {                                                                       \
		if (n < (lo) || n > (hi))                                          \
			die(path, line, "usage: %s", usage);                       \
	} while (0)

	switch (st->verb) {
	case V_THP:
		NARGS(2, 2, "thp SIZE|all always|never");
		if (strcmp(tok[1], "always") && strcmp(tok[1], "never"))
			die(path, line, "thp policy must be 'always' or 'never', got '%s'", tok[1]);
		st->flag = !strcmp(tok[1], "always");
		if (!strcmp(tok[0], "all")) {
			st->size = 0;
			break;
		}
		if (!parse_num(tok[0], &st->size) || (st->size & (st->size - 1)) ||
		    st->size < 16384 || st->size > CSIM_PMD_SIZE)
			die(path, line, "thp size must be a power of two from 16K to 2M (anon "
					"mTHP orders 2..9), got '%s'", tok[0]);
		break;
	case V_SPAWN:
		NARGS(1, 1, "spawn NAME");
		if (!valid_name(tok[0]))
			die(path, line, "bad process name '%s'", tok[0]);
		snprintf(st->name, sizeof(st->name), "%s", tok[0]);
		break;
	case V_MMAP:
		NARGS(2, 4, "P: mmap REGION SIZE [align A[+B]]");
		if (!valid_name(tok[0]))
			die(path, line, "bad region name '%s'", tok[0]);
		snprintf(st->name, sizeof(st->name), "%s", tok[0]);
		if (!parse_num(tok[1], &st->size) || !st->size || st->size % CSIM_PAGE_SIZE)
			die(path, line, "size must be a non-zero multiple of 4K, got '%s'", tok[1]);
		st->align = CSIM_PAGE_SIZE;
		if (n == 3 || (n == 4 && strcmp(tok[2], "align")))
			die(path, line, "usage: P: mmap REGION SIZE [align A[+B]]");
		if (n == 4)
			parse_align(path, line, tok[3], st);
		break;
	case V_WRITE: case V_READ: case V_PIN: case V_UNPIN: case V_MUNMAP: case V_MADVISE:
	case V_MPROTECT: case V_MIGRATE: {
		static const char *const usage[] = {
			[V_WRITE] = "P: write ADDR [LEN]", [V_READ] = "P: read ADDR [LEN]",
			[V_PIN] = "P: pin ADDR [LEN] [ro]", [V_UNPIN] = "P: unpin ADDR [LEN]",
			[V_MUNMAP] = "P: munmap ADDR [LEN]",
			[V_MADVISE] = "P: madvise ADDR [LEN] dontneed",
			[V_MPROTECT] = "P: mprotect ADDR [LEN] ro|rw",
			[V_MIGRATE] = "P: migrate ADDR [LEN] node N",
		};
		int rest = n;

		if (n < 1)
			die(path, line, "usage: %s", usage[st->verb]);
		parse_addr(path, line, tok[0], &st->a);
		/* trailing keywords */
		if (st->verb == V_MADVISE) {
			if (strcmp(tok[rest - 1], "dontneed"))
				die(path, line, "only 'madvise ADDR [LEN] dontneed' is modelled");
			rest--;
		} else if (st->verb == V_MPROTECT) {
			if (strcmp(tok[rest - 1], "ro") && strcmp(tok[rest - 1], "rw"))
				die(path, line, "usage: %s", usage[st->verb]);
			st->flag = !strcmp(tok[rest - 1], "rw");
			rest--;
		} else if (st->verb == V_MIGRATE) {
			uint64_t node;

			if (rest < 3 || strcmp(tok[rest - 2], "node") ||
			    !parse_num(tok[rest - 1], &node) || node > 1)
				die(path, line, "usage: %s (node 0 or 1)", usage[st->verb]);
			st->node = (int)node;
			rest -= 2;
		} else if (st->verb == V_PIN) {
			st->flag = true;
			if (rest > 1 && !strcmp(tok[rest - 1], "ro")) {
				st->flag = false;
				rest--;
			}
		}
		if (rest > 2 || rest < 1)
			die(path, line, "usage: %s", usage[st->verb]);
		if (rest == 2 && (!parse_num(tok[1], &st->a.len) || !st->a.len ||
				  st->a.len % CSIM_PAGE_SIZE))
			die(path, line, "length must be a non-zero multiple of 4K, got '%s'", tok[1]);
		break;
	}
	case V_FORK:
		NARGS(1, 1, "P: fork CHILD");
		if (!valid_name(tok[0]))
			die(path, line, "bad process name '%s'", tok[0]);
		snprintf(st->name, sizeof(st->name), "%s", tok[0]);
		break;
	case V_EXIT:
		NARGS(0, 0, "P: exit");
		break;
	case V_MREMAP:
		NARGS(3, 3, "P: mremap REGION align A[+B]");
		if (!valid_name(tok[0]) || strcmp(tok[1], "align"))
			die(path, line, "usage: P: mremap REGION align A[+B]");
		snprintf(st->a.region, sizeof(st->a.region), "%s", tok[0]);
		parse_align(path, line, tok[2], st);
		break;
	case V_SPLIT: case V_SHOW:
		NARGS(1, 1, st->verb == V_SPLIT ? "P: split ADDR" : "P: show ADDR");
		parse_addr(path, line, tok[0], &st->a);
		break;
	case V_EXPECT:
		/* expect pmc ... / expect nopmc ...: only in that kernel configuration */
		if (n > 1 && (!strcmp(tok[0], "pmc") || !strcmp(tok[0], "nopmc"))) {
			st->expect_mode = !strcmp(tok[0], "pmc") ? FM_MODE_PMC : FM_MODE_NOPMC;
			tok++;
			n--;
		}
		if (n < 1)
			die(path, line, "usage: expect WORD | expect shared|exclusive | "
					"expect field NAME=VALUE...");
		if (!strcmp(tok[0], "field") && n < 2)
			die(path, line, "usage: expect field NAME=VALUE...");
		for (int k = 0; k < n; k++)
			st->expect[k] = strdup(tok[k]);
		st->nr_expect = n;
		break;
	}
}

/* ---- rendering ----------------------------------------------------------------------- */

struct buf {
	char s[8192];
	size_t n;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->n >= sizeof(b->s))
		return;
	va_start(ap, fmt);
	k = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->n += (size_t)k;
	if (b->n >= sizeof(b->s))
		b->n = sizeof(b->s) - 1;
}

/* {0-15}, {3,7-8}, {} */
static void render_pae(struct buf *b, const struct folio *f)
{
	unsigned int n = 1u << f->order;
	bool first = true;

	put(b, "{");
	for (unsigned int k = 0; k < n;) {
		unsigned int j = k;

		if (!(f->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE)) {
			k++;
			continue;
		}
		while (j + 1 < n && (f->pages[j + 1].flags & FM_PAGE_ANON_EXCLUSIVE))
			j++;
		put(b, first ? "" : ",");
		first = false;
		if (j == k)
			put(b, "%u", k);
		else
			put(b, "%u-%u", k, j);
		k = j + 1;
	}
	put(b, "}");
}

/* [1*8,0*8]: runs of per-page raw _mapcount values */
static void render_pmc(struct buf *b, const struct folio *f)
{
	unsigned int n = 1u << f->order;

	put(b, "[");
	for (unsigned int k = 0; k < n;) {
		unsigned int j = k;

		while (j + 1 < n && f->pages[j + 1].mapcount == f->pages[k].mapcount)
			j++;
		put(b, k ? "," : "");
		if (j == k)
			put(b, "%d", f->pages[k].mapcount);
		else
			put(b, "%d*%u", f->pages[k].mapcount, j - k + 1);
		k = j + 1;
	}
	put(b, "]");
}

/* The value of one field of the folio (FORMAT.md "show"); false if unknown here. */
static bool render_field(struct sim *s, const struct folio *f, const char *name, struct buf *b)
{
	const fm_folio *x = &f->f;
	uint32_t id0 = (uint32_t)(x->mm_ids & FM_MM_ID_MASK);
	uint32_t id1 = (uint32_t)((x->mm_ids >> 32) & FM_MM_ID_MASK);
	bool pmc = s->mode == FM_MODE_PMC;

	if (!strcmp(name, "order"))
		put(b, "%u", f->order);
	else if (!strcmp(name, "ref"))
		put(b, "%d", x->refcount);
	else if (!strcmp(name, "mapcount") && f->order == 0)
		put(b, "%d", f->pages[0].mapcount);
	else if (!strcmp(name, "pae"))
		render_pae(b, f);
	else if (f->order == 0)
		return false;
	else if (!strcmp(name, "lmc"))
		put(b, "%d", x->large_mapcount);
	else if (!strcmp(name, "emc"))
		put(b, "%d", x->entire_mapcount);
	else if (!strcmp(name, "nrpm") && pmc)
		put(b, x->nr_pages_mapped >= FM_ENTIRELY_MAPPED ? "%#x" : "%d",
		    x->nr_pages_mapped);
	else if (!strcmp(name, "ids"))
		put(b, "[%s,%s]", sim_id_name(s, id0), sim_id_name(s, id1));
	else if (!strcmp(name, "mmc"))
		put(b, "[%d,%d]", x->mm_id_mapcount[0], x->mm_id_mapcount[1]);
	else if (!strcmp(name, "S"))
		put(b, "%d", (int)(x->mm_ids >> 63));
	else if (!strcmp(name, "pincount"))
		put(b, "%d", x->pincount);
	else if (!strcmp(name, "pmap"))
		put(b, "%d", !!(x->flags & FM_FOLIO_PARTIALLY_MAPPED));
	else if (!strcmp(name, "dq"))
		put(b, "%d", !!(x->flags & FM_FOLIO_DEFERRED_LIST));
	else if (!strcmp(name, "pmc") && pmc)
		render_pmc(b, f);
	else
		return false;
	return true;
}

static const char *const large_fields[] = { "order", "ref", "lmc", "emc", "nrpm", "ids", "mmc",
					    "S", "pincount", "pmap", "dq", "pae", "pmc" };
static const char *const small_fields[] = { "order", "ref", "mapcount", "pae" };

static void render_show(struct sim *s, struct proc *p, uint64_t addr, struct buf *b)
{
	struct folio *f;
	unsigned int page;
	const char *const *fields;
	size_t n;

	switch (sim_lookup(s, p, addr, &f, &page)) {
	case LOOK_NONE: put(b, "none"); return;
	case LOOK_ZERO: put(b, "zero"); return;
	case LOOK_HUGE_ZERO: put(b, "hugezero"); return;
	case LOOK_FOLIO: break;
	}
	fields = f->order ? large_fields : small_fields;
	n = f->order ? sizeof(large_fields) / sizeof(*fields) : sizeof(small_fields) / sizeof(*fields);
	for (size_t i = 0; i < n; i++) {
		size_t mark = b->n;

		put(b, "%s%s=", i ? " " : "", fields[i]);
		if (!render_field(s, f, fields[i], b)) {
			b->n = mark;
			b->s[b->n] = 0;
		}
	}
}

/* ---- running --------------------------------------------------------------------------- */

static struct proc *actor(struct run *r, const struct step *st)
{
	struct proc *p = sim_proc(&r->s, st->actor);

	if (!p)
		die(r->path, st->line, "no live process '%s'", st->actor);
	return p;
}

/* Resolves REGION+OFF [LEN] in p; `whole` = default length is the rest of the region. */
static void resolve(struct run *r, const struct step *st, struct proc *p, bool whole,
		    uint64_t *start, uint64_t *end)
{
	int ri = sim_region(&r->s, p, st->a.region);
	struct region *reg;

	if (ri < 0)
		die(r->path, st->line, "%s has no region '%s'", p->name, st->a.region);
	reg = &p->regions[ri];
	if (st->a.off >= reg->size)
		die(r->path, st->line, "offset %#llx is outside region %s (%#llx bytes)",
		    (unsigned long long)st->a.off, reg->name, (unsigned long long)reg->size);
	*start = reg->base + st->a.off;
	*end = *start + (st->a.len ? st->a.len : whole ? reg->size - st->a.off : 1);
	if (*end > reg->base + reg->size)
		die(r->path, st->line, "range runs past the end of region %s", reg->name);
	if ((whole || st->a.len) && st->a.off % CSIM_PAGE_SIZE)
		die(r->path, st->line, "a range must start on a page boundary");
}

/* The canonical echo of a step (without the outcome). */
static void echo(const struct step *st, struct buf *b)
{
	char size[32], len[32];

	if (st->actor[0])
		put(b, "%s: ", st->actor);
	fmt_size(len, sizeof(len), st->a.len);
	switch (st->verb) {
	case V_THP:
		if (st->size)
			fmt_size(size, sizeof(size), st->size);
		put(b, "thp %s %s", st->size ? size : "all", st->flag ? "always" : "never");
		return;
	case V_SPAWN: put(b, "spawn %s", st->name); return;
	case V_MMAP:
		fmt_size(size, sizeof(size), st->size);
		put(b, "mmap %s %s", st->name, size);
		if (st->align > CSIM_PAGE_SIZE || st->misalign) {
			fmt_size(size, sizeof(size), st->align);
			put(b, " align %s", size);
			if (st->misalign)
				put(b, "+%#llx", (unsigned long long)st->misalign);
		}
		return;
	case V_FORK: put(b, "fork %s", st->name); return;
	case V_EXIT: put(b, "exit"); return;
	case V_MREMAP:
		fmt_size(size, sizeof(size), st->align);
		put(b, "mremap %s align %s", st->a.region, size);
		if (st->misalign)
			put(b, "+%#llx", (unsigned long long)st->misalign);
		return;
	case V_EXPECT: return;
	default: break;
	}
	{
		static const char *const words[] = {
			[V_WRITE] = "write", [V_READ] = "read", [V_PIN] = "pin", [V_UNPIN] = "unpin",
			[V_MUNMAP] = "munmap", [V_MADVISE] = "madvise", [V_MPROTECT] = "mprotect",
			[V_MIGRATE] = "migrate", [V_SPLIT] = "split", [V_SHOW] = "show",
		};
		put(b, "%s %s+0x%llx", words[st->verb], st->a.region, (unsigned long long)st->a.off);
		if (st->a.len)
			put(b, " %s", len);
	}
	switch (st->verb) {
	case V_MADVISE: put(b, " dontneed"); break;
	case V_MPROTECT: put(b, st->flag ? " rw" : " ro"); break;
	case V_MIGRATE: put(b, " node %d", st->node); break;
	case V_PIN: if (!st->flag) put(b, " ro"); break;
	default: break;
	}
}

static void render_outcomes(struct run *r, struct buf *b)
{
	for (int k = 0; k < r->nr_last_acc;) {
		int j = k;

		while (j + 1 < r->nr_last_acc && r->last_acc[j + 1] == r->last_acc[k])
			j++;
		put(b, "%s%s", k ? " " : "", outcome_name(r->last_acc[k]));
		if (j > k)
			put(b, "*%d", j - k + 1);
		k = j + 1;
	}
}

static void expect_failed(struct run *r, const struct step *st, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", r->path, st->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->failures++;
}

static struct folio *shown_folio(struct run *r, const struct step *st, unsigned int *page)
{
	struct proc *p;
	struct folio *f;

	if (!r->have_show)
		die(r->path, st->line, "'expect %s' needs a preceding 'show'", st->expect[0]);
	p = sim_proc(&r->s, r->show_proc);
	if (!p || sim_lookup(&r->s, p, r->show_addr, &f, page) != LOOK_FOLIO)
		return NULL;
	return f;
}

static void run_expect(struct run *r, const struct step *st)
{
	const char *w = st->expect[0];
	unsigned int page;
	struct folio *f;

	if (!strcmp(w, "shared") || !strcmp(w, "exclusive")) {
		fm_query q;

		f = shown_folio(r, st, &page);
		if (!f) {
			expect_failed(r, st, "expected %s, got no folio", w);
			return;
		}
		if (fm_folio_query(&f->f, page, &q) != FM_OK)
			die(r->path, st->line, "internal error: fm_folio_query");
		if (q.maybe_mapped_shared != !strcmp(w, "shared"))
			expect_failed(r, st, "expected %s, got %s", w,
				      q.maybe_mapped_shared ? "shared" : "exclusive");
		return;
	}
	if (!strcmp(w, "field")) {
		f = shown_folio(r, st, &page);
		for (int i = 1; i < st->nr_expect; i++) {
			char name[32];
			const char *eq = strchr(st->expect[i], '=');
			struct buf got = { .n = 0 };
			size_t nl = eq ? (size_t)(eq - st->expect[i]) : 0;
			unsigned long k;
			char *end;

			if (!eq || !nl || nl >= sizeof(name))
				die(r->path, st->line, "expect field: '%s' is not NAME=VALUE",
				    st->expect[i]);
			memcpy(name, st->expect[i], nl);
			name[nl] = 0;
			if (!f) {
				expect_failed(r, st, "expected %s, got no folio", st->expect[i]);
				continue;
			}
			/* pmc[K] / pae[K]: one page */
			if (sscanf(name, "pmc[%lu", &k) == 1 || sscanf(name, "pae[%lu", &k) == 1) {
				end = strchr(name, ']');
				if (!end || end[1] || k >= (1ul << f->order))
					die(r->path, st->line, "bad page index in '%s'", name);
				if (name[1] == 'm') {
					if (r->s.mode != FM_MODE_PMC) /* per-page counts: pmc only */
						continue;
					put(&got, "%d", f->pages[k].mapcount);
				} else {
					put(&got, "%d", !!(f->pages[k].flags & FM_PAGE_ANON_EXCLUSIVE));
				}
			} else if (!render_field(&r->s, f, name, &got)) {
				if ((!strcmp(name, "nrpm") || !strcmp(name, "pmc")) &&
				    r->s.mode != FM_MODE_PMC)
					continue; /* [PMC]-only fields are skipped in nopmc */
				die(r->path, st->line, "unknown field '%s' for an order-%u folio",
				    name, f->order);
			}
			if (strcmp(got.s, eq + 1))
				expect_failed(r, st, "expected %s, got %s=%s", st->expect[i], name,
					      got.s);
		}
		return;
	}
	if (st->nr_expect != 1)
		die(r->path, st->line, "usage: expect WORD");
	for (int i = 0; i < ACC_NR; i++) {
		if (strcasecmp(w, outcome_name((enum access_outcome)i)))
			continue;
		if (!r->nr_last_acc)
			die(r->path, st->line, "'expect %s' needs a preceding access", w);
		for (int k = 0; k < r->nr_last_acc; k++) {
			if (r->last_acc[k] != (enum access_outcome)i) {
				struct buf got = { .n = 0 };

				render_outcomes(r, &got);
				expect_failed(r, st, "expected %s, got %s", w, got.s);
				break;
			}
		}
		return;
	}
	if (!strcasecmp(w, "split") || !strcasecmp(w, "skipped") || !strcasecmp(w, "migrated") ||
	    !strcasecmp(w, "partial") || !strcasecmp(w, "failed")) {
		if (!r->last_word)
			die(r->path, st->line, "'expect %s' needs a preceding split or migrate", w);
		if (strcasecmp(w, r->last_word))
			expect_failed(r, st, "expected %s, got %s", w, r->last_word);
		return;
	}
	die(r->path, st->line, "unknown expectation '%s'", w);
}

static void run_step(struct run *r, const struct step *st)
{
	struct sim *s = &r->s;
	struct buf b = { .n = 0 };
	struct proc *p = NULL;
	uint64_t start, end;
	int rc = 0;

	if (st->verb == V_EXPECT) {
		if (!st->expect_mode || st->expect_mode == s->mode)
			run_expect(r, st);
		return;
	}
	if (st->actor[0])
		p = actor(r, st);
	echo(st, &b);
	switch (st->verb) {
	case V_THP:
		for (unsigned int o = 2; o <= FM_MAX_ORDER; o++)
			if (!st->size || st->size == CSIM_PAGE_SIZE << o)
				s->thp[o] = st->flag;
		break;
	case V_SPAWN:
		rc = sim_spawn(s, st->name);
		break;
	case V_MMAP:
		rc = sim_mmap(s, p, st->name, st->size, st->misalign);
		break;
	case V_WRITE: case V_READ: case V_PIN:
		resolve(r, st, p, false, &start, &end);
		r->nr_last_acc = 0;
		for (uint64_t a = start; a < end && !rc; a = (a | (CSIM_PAGE_SIZE - 1)) + 1) {
			enum access_outcome o;

			if (st->verb == V_PIN)
				rc = sim_pin(s, p, a & ~(CSIM_PAGE_SIZE - 1), st->flag, &o);
			else
				rc = sim_access(s, p, a, st->verb == V_WRITE, &o);
			if (!rc && r->nr_last_acc < 512)
				r->last_acc[r->nr_last_acc++] = o;
		}
		if (!rc) {
			put(&b, ": ");
			render_outcomes(r, &b);
		}
		break;
	case V_UNPIN: {
		int nr;

		resolve(r, st, p, false, &start, &end);
		rc = sim_unpin(s, p, start, end, &nr);
		break;
	}
	case V_FORK:
		rc = sim_fork(s, p, st->name);
		break;
	case V_EXIT:
		rc = sim_exit(s, p);
		break;
	case V_MUNMAP:
		resolve(r, st, p, true, &start, &end);
		rc = sim_munmap(s, p, start, end);
		break;
	case V_MADVISE:
		resolve(r, st, p, true, &start, &end);
		rc = sim_madv_dontneed(s, p, start, end);
		break;
	case V_MPROTECT:
		resolve(r, st, p, true, &start, &end);
		rc = sim_mprotect(s, p, start, end, st->flag);
		break;
	case V_MREMAP: {
		int ri = sim_region(s, p, st->a.region);

		if (ri < 0)
			die(r->path, st->line, "%s has no region '%s'", p->name, st->a.region);
		rc = sim_mremap(s, p, ri, st->misalign);
		break;
	}
	case V_MIGRATE: {
		int moved, failed;

		resolve(r, st, p, true, &start, &end);
		rc = sim_migrate(s, p, start, end, st->node, &moved, &failed);
		r->last_word = failed == 0 ? "MIGRATED" : moved ? "PARTIAL" : "FAILED";
		put(&b, ": %s", r->last_word);
		break;
	}
	case V_SPLIT: {
		bool split;

		resolve(r, st, p, false, &start, &end);
		rc = sim_split(s, p, start, &split);
		r->last_word = split ? "SPLIT" : "SKIPPED";
		put(&b, ": %s", r->last_word);
		break;
	}
	case V_SHOW:
		resolve(r, st, p, false, &start, &end);
		put(&b, ": ");
		render_show(s, p, start, &b);
		snprintf(r->show_proc, sizeof(r->show_proc), "%s", p->name);
		r->show_addr = start;
		r->have_show = true;
		break;
	case V_EXPECT:
		break;
	}
	if (rc)
		die(r->path, st->line, "%s", s->err);
	fprintf(r->out, "%s\n", b.s);
	if (sim_check(s)) {
		fprintf(stderr, "%s:%d: internal inconsistency: %s\n", r->path, st->line, s->err);
		exit(3);
	}
}

int scenario_run(const char *path, uint32_t mode, FILE *out)
{
	FILE *fp = fopen(path, "r");
	struct step *steps = NULL;
	int nr = 0, cap = 0, line = 0, failures;
	char text[MAX_LINE];
	struct run *r;

	if (!fp) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 2;
	}
	while (fgets(text, sizeof(text), fp)) {
		char *tok[MAX_TOKENS];
		int n;

		line++;
		if (!strchr(text, '\n') && !feof(fp))
			die(path, line, "line longer than %d characters", MAX_LINE - 2);
		n = tokenize(text, tok);
		if (n < 0)
			die(path, line, "more than %d words", MAX_TOKENS);
		if (n == 0)
			continue;
		if (nr == cap) {
			cap = cap ? 2 * cap : 64;
			steps = realloc(steps, (size_t)cap * sizeof(*steps));
			if (!steps) {
				fprintf(stderr, "csim: out of memory\n");
				exit(3);
			}
		}
		parse_line(path, line, tok, n, &steps[nr++]);
	}
	fclose(fp);

	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "csim: out of memory\n");
		exit(3);
	}
	r->path = path;
	r->out = out;
	sim_init(&r->s, mode);
	for (int i = 0; i < nr; i++)
		run_step(r, &steps[i]);
	failures = r->failures;
	sim_destroy(&r->s);
	for (int i = 0; i < nr; i++)
		for (int k = 0; k < steps[i].nr_expect; k++)
			free(steps[i].expect[k]);
	free(steps);
	free(r);
	return failures ? 1 : 0;
}
