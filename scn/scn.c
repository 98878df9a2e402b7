// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The scenario language (examples/csim/FORMAT.md): pass 1 of both executors parses the
 * whole file (syntax errors: file:line, exit 2); the canonical echo of each step.
 */
#include "scn.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "foliomap.h"
/* the checker's counter names (expect checked), a plain header of the module */
#include "../c-shim/foliomap_debugfs.h"

static void (*die_hook)(const char *path, int line, const char *msg);

void scn_set_die_hook(void (*hook)(const char *path, int line, const char *msg))
{
	die_hook = hook;
}

void scn_die(const char *path, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (die_hook)
		die_hook(path, line, msg);
	fprintf(stderr, "%s:%d: %s\n", path, line, msg);
	exit(2);
}

const char *outcome_name(enum access_outcome o)
{
	static const char *const names[ACC_NR] = { "NOFAULT", "NEW", "ZERO", "REUSE", "COPY" };

	return names[o];
}

/* 4096, 0x1000, 4K, 2M, 1G */
bool scn_parse_num(const char *t, uint64_t *v)
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

bool scn_parse_count(const char *t, long long *v)
{
	char *end;
	bool neg = *t == '-';
	unsigned long long n;

	if (*t == '+' || *t == '-')
		t++;
	if (!isdigit((unsigned char)*t))
		return false;
	errno = 0;
	n = strtoull(t, &end, 0);
	if (errno || *end || n > (unsigned long long)LLONG_MAX)
		return false;
	*v = neg ? -(long long)n : (long long)n;
	return true;
}

void scn_fmt_size(char *buf, size_t len, uint64_t v)
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
	if (!isalpha((unsigned char)*t) || strlen(t) >= SCN_NAME_LEN)
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

	if (n == 0 || n >= SCN_NAME_LEN)
		scn_die(path, line, "bad address '%s' (expected REGION or REGION+OFFSET)", t);
	memcpy(a->region, t, n);
	a->region[n] = 0;
	if (!valid_name(a->region))
		scn_die(path, line, "bad region name in '%s'", t);
	a->off = 0;
	if (plus && !scn_parse_num(plus + 1, &a->off))
		scn_die(path, line, "bad offset in '%s'", t);
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
	if (!scn_parse_num(buf, &st->align) || !st->align || (st->align & (st->align - 1)) ||
	    st->align % SCN_PAGE_SIZE || st->align > SCN_PMD_SIZE)
		scn_die(path, line, "alignment must be a power of two from 4K to 2M, got '%s'", t);
	if (plus && (!scn_parse_num(plus, &st->misalign) || st->misalign % SCN_PAGE_SIZE ||
		     st->misalign >= st->align))
		scn_die(path, line, "misalignment must be a multiple of 4K below the alignment");
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
	{ "query", V_QUERY, true },
};

/* expect stat|total anon=N thp=N: signed page counts, each counter at most once */
static void parse_expect_stats(const char *path, int line, char **tok, int n)
{
	bool seen[2] = { false, false };

	if (n < 2)
		scn_die(path, line, "usage: expect %s anon=N [thp=N]", tok[0]);
	for (int k = 1; k < n; k++) {
		const char *t = tok[k];
		int which = !strncmp(t, "anon=", 5) ? 0 : !strncmp(t, "thp=", 4) ? 1 : -1;
		long long num;

		if (which < 0)
			scn_die(path, line, "expect %s: '%s' is not anon=N or thp=N", tok[0], t);
		if (seen[which])
			scn_die(path, line, "expect %s: '%s' given twice", tok[0], t);
		seen[which] = true;
		if (!scn_parse_count(strchr(t, '=') + 1, &num))
			scn_die(path, line, "expect %s: bad number in '%s'", tok[0], t);
	}
}

static const char *const stat_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

bool scn_parse_checked(const char *t, int *stat, unsigned long long *min)
{
	const char *ge = strstr(t, ">=");
	char *end;

	if (!ge || ge == t || !isdigit((unsigned char)ge[2]))
		return false;
	for (int i = 0; i < FOLIOMAP_NR_STATS; i++) {
		if (strlen(stat_names[i]) != (size_t)(ge - t) ||
		    strncmp(stat_names[i], t, (size_t)(ge - t)))
			continue;
		errno = 0;
		*min = strtoull(ge + 2, &end, 10);
		if (errno || *end)
			return false;
		*stat = i;
		return true;
	}
	return false;
}

const char *scn_stat_name(int stat)
{
	return stat >= 0 && stat < FOLIOMAP_NR_STATS ? stat_names[stat] : NULL;
}

/* expect checked NAME>=N...: the checker's counters of the scenario's processes */
static void parse_expect_checked(const char *path, int line, char **tok, int n)
{
	bool seen[FOLIOMAP_NR_STATS] = { false };

	if (n < 2)
		scn_die(path, line, "usage: expect checked COUNTER>=N...");
	for (int k = 1; k < n; k++) {
		unsigned long long min;
		int stat;

		if (!scn_parse_checked(tok[k], &stat, &min))
			scn_die(path, line, "expect checked: '%s' is not COUNTER>=N (a counter "
				"of the module's debugfs stats, N decimal)", tok[k]);
		if (seen[stat])
			scn_die(path, line, "expect checked: '%s' given twice", stat_names[stat]);
		seen[stat] = true;
	}
}

/* The entries `expect pte PROC ADDR [LEN] VIEW` / `expect pmd PROC ADDR VIEW` may name. */
static const char *const pte_views[] = { "none", "zero", "migration", "rw", "ro", "copy" };
static const char *const pmd_views[] = { "none", "table", "zero", "migration", "rw", "ro",
					 "copy" };

static bool one_of(const char *t, const char *const *words, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(t, words[i]))
			return true;
	return false;
}

/* The process goes to st->name and the range to st->a. */
static void parse_expect_view(const char *path, int line, char **tok, int n, struct step *st)
{
	bool pte = !strcmp(tok[0], "pte");
	const char *view = tok[n - 1];

	if (pte ? (n < 4 || n > 5) : n != 4)
		scn_die(path, line, pte ? "usage: expect pte PROC ADDR [LEN] "
					  "none|zero|migration|rw|ro|copy"
					: "usage: expect pmd PROC ADDR none|table|zero|migration|rw|ro|copy");
	if (!valid_name(tok[1]))
		scn_die(path, line, "bad process name '%s'", tok[1]);
	snprintf(st->name, sizeof(st->name), "%s", tok[1]);
	parse_addr(path, line, tok[2], &st->a);
	if (n == 5 && (!scn_parse_num(tok[3], &st->a.len) || !st->a.len ||
		       st->a.len % SCN_PAGE_SIZE))
		scn_die(path, line, "length must be a non-zero multiple of 4K, got '%s'", tok[3]);
	if (pte ? !one_of(view, pte_views, sizeof(pte_views) / sizeof(*pte_views))
		: !one_of(view, pmd_views, sizeof(pmd_views) / sizeof(*pmd_views)))
		scn_die(path, line, "expect %s: unknown entry '%s'", tok[0], view);
}

static void parse_line(const char *path, int line, char **tok, int n, struct step *st)
{
	int i = 0, v;

	memset(st, 0, sizeof(*st));
	st->line = line;
	if (tok[0][strlen(tok[0]) - 1] == ':') {
		tok[0][strlen(tok[0]) - 1] = 0;
		if (!valid_name(tok[0]))
			scn_die(path, line, "bad process name '%s'", tok[0]);
		snprintf(st->actor, sizeof(st->actor), "%s", tok[0]);
		i = 1;
	}
	if (i >= n)
		scn_die(path, line, "missing command after '%s:'", st->actor);
	for (v = 0; v < (int)(sizeof(verbs) / sizeof(verbs[0])); v++)
		if (!strcmp(tok[i], verbs[v].word))
			break;
	if (v == (int)(sizeof(verbs) / sizeof(verbs[0])))
		scn_die(path, line, "unknown command '%s'", tok[i]);
	if (verbs[v].actor != !!st->actor[0])
		scn_die(path, line, verbs[v].actor ? "'%s' needs a process: 'P: %s ...'"
					       : "'%s' takes no process prefix%s", tok[i],
		    verbs[v].actor ? tok[i] : "");
	st->verb = verbs[v].verb;
	tok += i + 1;
	n -= i + 1;

#define NARGS(lo, hi, usage)                                                       \
	do {                                                                       \
		if (n < (lo) || n > (hi))                                          \
			scn_die(path, line, "usage: %s", usage);                       \
	} while (0)

	switch (st->verb) {
	case V_THP:
		NARGS(2, 2, "thp SIZE|all always|never");
		if (strcmp(tok[1], "always") && strcmp(tok[1], "never"))
			scn_die(path, line, "thp policy must be 'always' or 'never', got '%s'", tok[1]);
		st->flag = !strcmp(tok[1], "always");
		if (!strcmp(tok[0], "all")) {
			st->size = 0;
			break;
		}
		if (!scn_parse_num(tok[0], &st->size) || (st->size & (st->size - 1)) ||
		    st->size < 16384 || st->size > SCN_PMD_SIZE)
			scn_die(path, line, "thp size must be a power of two from 16K to 2M (anon "
					"mTHP orders 2..9), got '%s'", tok[0]);
		break;
	case V_SPAWN:
		NARGS(1, 1, "spawn NAME");
		if (!valid_name(tok[0]))
			scn_die(path, line, "bad process name '%s'", tok[0]);
		snprintf(st->name, sizeof(st->name), "%s", tok[0]);
		break;
	case V_MMAP:
		NARGS(2, 4, "P: mmap REGION SIZE [align A[+B]]");
		if (!valid_name(tok[0]))
			scn_die(path, line, "bad region name '%s'", tok[0]);
		snprintf(st->name, sizeof(st->name), "%s", tok[0]);
		if (!scn_parse_num(tok[1], &st->size) || !st->size || st->size % SCN_PAGE_SIZE)
			scn_die(path, line, "size must be a non-zero multiple of 4K, got '%s'", tok[1]);
		st->align = SCN_PAGE_SIZE;
		if (n == 3 || (n == 4 && strcmp(tok[2], "align")))
			scn_die(path, line, "usage: P: mmap REGION SIZE [align A[+B]]");
		if (n == 4)
			parse_align(path, line, tok[3], st);
		break;
	case V_WRITE: case V_READ: case V_PIN: case V_UNPIN: case V_MUNMAP: case V_MADVISE:
	case V_MPROTECT: case V_MIGRATE: case V_QUERY: {
		static const char *const usage[] = {
			[V_WRITE] = "P: write ADDR [LEN]", [V_READ] = "P: read ADDR [LEN]",
			[V_PIN] = "P: pin ADDR [LEN] [ro]", [V_UNPIN] = "P: unpin ADDR [LEN]",
			[V_MUNMAP] = "P: munmap ADDR [LEN]",
			[V_MADVISE] = "P: madvise ADDR [LEN] dontneed",
			[V_MPROTECT] = "P: mprotect ADDR [LEN] ro|rw",
			[V_MIGRATE] = "P: migrate ADDR [LEN] node N [move]",
			[V_QUERY] = "P: query ADDR [LEN]",
		};
		int rest = n;

		if (n < 1)
			scn_die(path, line, "usage: %s", usage[st->verb]);
		parse_addr(path, line, tok[0], &st->a);
		/* trailing keywords */
		if (st->verb == V_MADVISE) {
			if (strcmp(tok[rest - 1], "dontneed"))
				scn_die(path, line, "only 'madvise ADDR [LEN] dontneed' is modelled");
			rest--;
		} else if (st->verb == V_MPROTECT) {
			if (strcmp(tok[rest - 1], "ro") && strcmp(tok[rest - 1], "rw"))
				scn_die(path, line, "usage: %s", usage[st->verb]);
			st->flag = !strcmp(tok[rest - 1], "rw");
			rest--;
		} else if (st->verb == V_MIGRATE) {
			uint64_t node;

			/* move: MPOL_MF_MOVE, which refuses a maybe-shared folio (-EACCES) */
			if (rest > 3 && !strcmp(tok[rest - 1], "move")) {
				st->flag = true;
				rest--;
			}
			if (rest < 3 || strcmp(tok[rest - 2], "node") ||
			    !scn_parse_num(tok[rest - 1], &node) || node > 1)
				scn_die(path, line, "usage: %s (node 0 or 1)", usage[st->verb]);
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
			scn_die(path, line, "usage: %s", usage[st->verb]);
		if (rest == 2 && (!scn_parse_num(tok[1], &st->a.len) || !st->a.len ||
				  st->a.len % SCN_PAGE_SIZE))
			scn_die(path, line, "length must be a non-zero multiple of 4K, got '%s'", tok[1]);
		break;
	}
	case V_FORK:
		NARGS(1, 1, "P: fork CHILD");
		if (!valid_name(tok[0]))
			scn_die(path, line, "bad process name '%s'", tok[0]);
		snprintf(st->name, sizeof(st->name), "%s", tok[0]);
		break;
	case V_EXIT:
		NARGS(0, 0, "P: exit");
		break;
	case V_MREMAP:
		NARGS(3, 3, "P: mremap REGION align A[+B]");
		if (!valid_name(tok[0]) || strcmp(tok[1], "align"))
			scn_die(path, line, "usage: P: mremap REGION align A[+B]");
		snprintf(st->a.region, sizeof(st->a.region), "%s", tok[0]);
		parse_align(path, line, tok[2], st);
		break;
	case V_SPLIT:
		NARGS(1, 1, "P: split ADDR");
		parse_addr(path, line, tok[0], &st->a);
		break;
	case V_SHOW:
		NARGS(1, 2, "P: show ADDR [LEN]");
		parse_addr(path, line, tok[0], &st->a);
		/* a range: one frame per folio; at most one PMD, so one line stays readable */
		if (n == 2 && (!scn_parse_num(tok[1], &st->a.len) || !st->a.len ||
			       st->a.len % SCN_PAGE_SIZE || st->a.len > SCN_PMD_SIZE))
			scn_die(path, line, "show: LEN must be a multiple of 4K from 4K to 2M, got '%s'",
				tok[1]);
		break;
	case V_EXPECT:
		/* expect pmc ... / expect nopmc ...: only in that kernel configuration */
		if (n > 1 && (!strcmp(tok[0], "pmc") || !strcmp(tok[0], "nopmc"))) {
			st->expect_mode = !strcmp(tok[0], "pmc") ? FM_MODE_PMC : FM_MODE_NOPMC;
			tok++;
			n--;
		}
		if (n < 1)
			scn_die(path, line, "usage: expect WORD | expect shared|exclusive | "
					"expect field NAME=VALUE... | expect stat|total anon=N [thp=N] | "
					"expect pte|pmd PROC ADDR [LEN] ENTRY | "
					"expect checked COUNTER>=N...");
		if (!strcmp(tok[0], "field") && n < 2)
			scn_die(path, line, "usage: expect field NAME=VALUE...");
		if (!strcmp(tok[0], "stat") || !strcmp(tok[0], "total"))
			parse_expect_stats(path, line, tok, n);
		if (!strcmp(tok[0], "checked"))
			parse_expect_checked(path, line, tok, n);
		if (!strcmp(tok[0], "pte") || !strcmp(tok[0], "pmd"))
			parse_expect_view(path, line, tok, n, st);
		for (int k = 0; k < n; k++)
			st->expect[k] = strdup(tok[k]);
		st->nr_expect = n;
		break;
	}
}



void scn_put(struct buf *b, const char *fmt, ...)
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
	if (b->n >= sizeof(b->s)) {
		b->n = sizeof(b->s) - 1;
		b->overflow = true;
	}
}

static void frames_flush(struct scn_frames *fs)
{
	char size[32];

	if (!fs->count)
		return;
	scn_fmt_size(size, sizeof(size), fs->len);
	scn_put(fs->b, "\n  %s+0x%llx %s", fs->region, (unsigned long long)fs->off, size);
	if (fs->count > 1)
		scn_put(fs->b, "*%d", fs->count);
	scn_put(fs->b, ": %s", fs->text);
	fs->count = 0;
}

void scn_frames_begin(struct scn_frames *fs, struct buf *b, const char *region)
{
	fs->b = b;
	fs->region = region;
	fs->count = 0;
	scn_put(b, ":");
}

void scn_frame_add(struct scn_frames *fs, uint64_t off, uint64_t len, const char *text)
{
	if (fs->count && len == fs->len && off == fs->off + (uint64_t)fs->count * len &&
	    !strcmp(text, fs->text)) {
		fs->count++;
		return;
	}
	frames_flush(fs);
	if (strlen(text) >= sizeof(fs->text)) {
		fs->b->overflow = true;
		return;
	}
	fs->off = off;
	fs->len = len;
	snprintf(fs->text, sizeof(fs->text), "%s", text);
	fs->count = 1;
}

void scn_frames_end(struct scn_frames *fs)
{
	frames_flush(fs);
}


/* The canonical echo of a step (without the outcome). */
void scn_echo(const struct step *st, struct buf *b)
{
	char size[32], len[32];

	if (st->actor[0])
		scn_put(b, "%s: ", st->actor);
	scn_fmt_size(len, sizeof(len), st->a.len);
	switch (st->verb) {
	case V_THP:
		if (st->size)
			scn_fmt_size(size, sizeof(size), st->size);
		scn_put(b, "thp %s %s", st->size ? size : "all", st->flag ? "always" : "never");
		return;
	case V_SPAWN: scn_put(b, "spawn %s", st->name); return;
	case V_MMAP:
		scn_fmt_size(size, sizeof(size), st->size);
		scn_put(b, "mmap %s %s", st->name, size);
		if (st->align > SCN_PAGE_SIZE || st->misalign) {
			scn_fmt_size(size, sizeof(size), st->align);
			scn_put(b, " align %s", size);
			if (st->misalign)
				scn_put(b, "+%#llx", (unsigned long long)st->misalign);
		}
		return;
	case V_FORK: scn_put(b, "fork %s", st->name); return;
	case V_EXIT: scn_put(b, "exit"); return;
	case V_MREMAP:
		scn_fmt_size(size, sizeof(size), st->align);
		scn_put(b, "mremap %s align %s", st->a.region, size);
		if (st->misalign)
			scn_put(b, "+%#llx", (unsigned long long)st->misalign);
		return;
	case V_EXPECT: return;
	default: break;
	}
	{
		static const char *const words[] = {
			[V_WRITE] = "write", [V_READ] = "read", [V_PIN] = "pin", [V_UNPIN] = "unpin",
			[V_MUNMAP] = "munmap", [V_MADVISE] = "madvise", [V_MPROTECT] = "mprotect",
			[V_MIGRATE] = "migrate", [V_SPLIT] = "split", [V_SHOW] = "show",
			[V_QUERY] = "query",
		};
		scn_put(b, "%s %s+0x%llx", words[st->verb], st->a.region, (unsigned long long)st->a.off);
		if (st->a.len)
			scn_put(b, " %s", len);
	}
	switch (st->verb) {
	case V_MADVISE: scn_put(b, " dontneed"); break;
	case V_MPROTECT: scn_put(b, st->flag ? " rw" : " ro"); break;
	case V_MIGRATE: scn_put(b, " node %d%s", st->node, st->flag ? " move" : ""); break;
	case V_PIN: if (!st->flag) scn_put(b, " ro"); break;
	default: break;
	}
}

void scn_parse_file(const char *path, struct step **out, int *nr_out)
{
	FILE *fp = fopen(path, "r");
	struct step *steps = NULL;
	int nr = 0, cap = 0, line = 0;
	char text[MAX_LINE];

	if (!fp) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(text, sizeof(text), fp)) {
		char *tok[MAX_TOKENS];
		int n;

		line++;
		if (!strchr(text, '\n') && !feof(fp))
			scn_die(path, line, "line longer than %d characters", MAX_LINE - 2);
		n = tokenize(text, tok);
		if (n < 0)
			scn_die(path, line, "more than %d words", MAX_TOKENS);
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

	*out = steps;
	*nr_out = nr;
}

void scn_free_steps(struct step *steps, int nr)
{
	for (int i = 0; i < nr; i++)
		for (int k = 0; k < steps[i].nr_expect; k++)
			free(steps[i].expect[k]);
	free(steps);
}

void scn_render_outcomes(struct buf *b, const enum access_outcome *o, int n)
{
	for (int k = 0; k < n;) {
		int j = k;

		while (j + 1 < n && o[j + 1] == o[k])
			j++;
		scn_put(b, "%s%s", k ? " " : "", outcome_name(o[k]));
		if (j > k)
			scn_put(b, "*%d", j - k + 1);
		k = j + 1;
	}
}

/* [1*8,0*4,-*4]: runs of per-page values, SCN_Q_NONE as '-' */
static void render_runs(struct buf *b, const char *name, const long long *v, int n)
{
	scn_put(b, " %s=[", name);
	for (int k = 0; k < n;) {
		int j = k;

		while (j + 1 < n && v[j + 1] == v[k])
			j++;
		scn_put(b, k ? "," : "");
		if (v[k] == SCN_Q_NONE)
			scn_put(b, "-");
		else
			scn_put(b, "%lld", v[k]);
		if (j > k)
			scn_put(b, "*%d", j - k + 1);
		k = j + 1;
	}
	scn_put(b, "]");
}

/* a kB count in the canonical size form; 0 as "0" */
static void put_kb(struct buf *b, const char *sep, uint64_t kb)
{
	char s[32];

	scn_fmt_size(s, sizeof(s), kb << 10);
	scn_put(b, "%s%s", sep, kb ? s : "0");
}

void scn_render_query(struct buf *b, const struct scn_query *q)
{
	scn_put(b, ":");
	render_runs(b, "excl", q->excl, q->n);
	render_runs(b, "kpc", q->kpc, q->n);
	put_kb(b, " rss=", q->rss);
	put_kb(b, " pss=", q->pss);
	put_kb(b, " shared=", q->shared[0]);	/* clean+dirty */
	put_kb(b, "+", q->shared[1]);
	put_kb(b, " private=", q->private_[0]);
	put_kb(b, "+", q->private_[1]);
	put_kb(b, " anonhuge=", q->anonhuge);
}
