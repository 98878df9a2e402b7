// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * scn_run: the kernel executor of the csim scenario language (examples/csim/FORMAT.md).
 * Runs in the test VM as root with foliomap.ko loaded:
 *
 *   scn_run FILE.scn...
 *
 * Every step is performed with real syscalls by real processes: one worker process per
 * scenario process name, driven by this controller over pipes. Workers are created by
 * a real fork (clone(CLONE_PARENT), so the controller can reap every one); `spawn`
 * forks the controller, whose address space holds no scenario mapping. The transcript
 * is the simulator's canonical one (the parser and the echo are scn/scn.c, compiled
 * in), with the outcomes measured on the kernel (pagemap through mm_probe.c):
 *
 *  - write/read/pin: per page, /proc/self/pagemap (present bit, PFN) just before and
 *    after the access, and the worker's fault count (getrusage minflt+majflt) around
 *    it: NEW/ZERO (not present before), NOFAULT (no fault), REUSE (fault, same PFN),
 *    COPY (fault, another PFN);
 *  - show: debugfs foliomap/inspect after draining the per-CPU LRU batches (an empty
 *    move_pages), mm ids named by the processes whose mm has that id;
 *  - split: /sys/kernel/debug/split_huge_pages, SPLIT when the large folio at ADDR is
 *    order 0 or the shared zeropage afterwards; migrate: move_pages(MPOL_MF_MOVE_ALL,
 *    or MPOL_MF_MOVE with `move`) and the pages' nodes before and after; both done by the worker itself, so that
 *    they are its own operations (--scope);
 *  - query: the controller reads the worker's /proc/PID/pagemap, /proc/kpagecount and
 *    /proc/PID/smaps (page-table walks under the mmap lock: no GUP, no fault, no state
 *    change of the worker).
 *
 * Expectations (`expect ...`) print nothing and are not evaluated here: the host
 * compares this transcript with the simulator's, which evaluates them.
 *
 * With --scope (first argument), each file starts with an empty debugfs foliomap/scope
 * (foliomap_debugfs.h) and every spawned worker joins it (a forked one joins by its fork),
 * so the shadow checker counts the checks of this file's processes apart; after the file
 * its scope counters follow the transcript as "@@scn SCOPE NAME VALUE" lines, then the
 * file's `expect checked COUNTER>=N` declarations that apply to this kernel, each word
 * as "@@scn CHECKED FILE:LINE COUNTER>=N VALUE" or "@@scn UNMET FILE:LINE: expected
 * COUNTER>=N, got VALUE"; an unmet one, or a transition or CoW mismatch in the scope,
 * makes the file's status 1 (the checker's verdict).
 *
 * The settings it changes for the model's assumptions (mTHP sizes, khugepaged, the huge
 * zeropage, swap) are put back when it exits: later tests of the same boot need them.
 *
 * Output per file: "@@scn BEGIN FILE", the transcript, "@@scn END FILE STATUS" (0 ok,
 * 2 a scenario error: syntax, unknown names, a madvise/mprotect range with a hole (the
 * kernel's ENOMEM), where csim exits 2; 3 a step the kernel refused or a runner failure).
 * A non-zero status is reported before as "@@scn ERROR FILE:LINE: message" and ends
 * that file at that step; every file is independent, the next one still runs. Exit
 * status: the largest STATUS.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "foliomap.h"
#include "foliomap_debugfs.h"
#include "mm_probe.h"
#include "scn.h"

/* mm/gup_test.h (not a uapi header) */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_TEST_START		_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP		_IO('g', 8)
#define PIN_LONGTERM_TEST_FLAG_USE_WRITE 1
#define GUP_TEST_PATH			"/sys/kernel/debug/gup_test"
#define SPLIT_PATH			"/sys/kernel/debug/split_huge_pages"
#define THP_DIR				"/sys/kernel/mm/transparent_hugepage"
#define MPOL_MF_MOVE			(1 << 1)
#define MPOL_MF_MOVE_ALL		(1 << 2)

#define PAGE				4096ull
#define MAX_PROCS			64
#define MAX_REGIONS			64
#define MAX_PAGES			(1 << 16)	/* per access step */
#define VA_BASE				0x200000000000ull /* 32 TiB: far from everything */

#define KPAGECOUNT_PATH			"/proc/kpagecount"

enum op { OP_MMAP, OP_ACCESS, OP_PIN, OP_UNPIN, OP_FORK, OP_EXIT, OP_MUNMAP, OP_MADVISE,
	  OP_MPROTECT, OP_MREMAP, OP_MIGRATE, OP_SPLIT };

struct cmd {
	int op;
	int flag;		/* write / rw / migrate: MPOL_MF_MOVE */
	int child;		/* fork: the child's channel */
	uint64_t a, b, c;
};

struct resp {
	int err;		/* 0 or an errno */
	int n;			/* outcomes following */
	int pid;
};

struct chan {
	int cmd[2], resp[2];
};

struct region {
	char name[SCN_NAME_LEN];
	uint64_t base, size;
};

struct proc {
	char name[SCN_NAME_LEN];
	bool live;
	pid_t pid;
	unsigned int mm_id;
	int chan;
	struct region regions[MAX_REGIONS];
	int nr_regions;
};

static struct chan *chans;
static int nr_chans;
static struct proc procs[MAX_PROCS];
static uint64_t va_cursor;
static const char *cur_path;
static int cur_line;

/* A global the worker writes at start: a present anon page to ask inspect for mm_id. */
static volatile int probe_var;

/* ---- small helpers ----------------------------------------------------------------- */

static int run_status;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	/* on stdout, where the host reads it between the transcript's markers */
	printf("@@scn ERROR %s:%d: ", cur_path, cur_line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	run_status = 3;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* ---- the worker ---------------------------------------------------------------------- */

static int migrate_self(uint64_t start, uint64_t end, int node, int flags,
			unsigned long *ncand, unsigned long *nmoved, const char **what);
static int split_self(uint64_t addr);

struct pinned {
	int fd;
	uint64_t addr;
};

static struct pinned *pins;
static int nr_pins, cap_pins;
static int my_chan;

static long faults(void)
{
	struct rusage ru;

	memset(&ru, 0, sizeof(ru));
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* One access or pin of the page at addr; the outcome from pagemap and the fault count. */
static int access_page(uint64_t addr, bool write, bool pin, uint8_t *out)
{
	struct pin_longterm_test t = { .addr = addr & ~(PAGE - 1), .size = PAGE };
	uint64_t before, after;
	long f0, f1;
	int fd = -1;

	if (pin) {
		fd = open(GUP_TEST_PATH, O_RDWR);
		if (fd < 0)
			return errno;
		t.flags = write ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0;
		if (nr_pins == cap_pins) {
			cap_pins = cap_pins ? 2 * cap_pins : 64;
			pins = realloc(pins, (size_t)cap_pins * sizeof(*pins));
			if (!pins)
				return ENOMEM;
		}
	}
	/* Everything this function writes is written before the first count: a stack page
	 * that fork made read-only must not fault between the two counts. */
	before = after = 0;
	f1 = 0;
	before = pagemap_entry((void *)(uintptr_t)addr);
	f0 = faults();
	if (pin) {
		if (ioctl(fd, PIN_LONGTERM_TEST_START, &t)) {
			int e = errno;

			close(fd);
			return e;
		}
	} else if (write) {
		*(volatile char *)(uintptr_t)addr = 1;
	} else {
		(void)*(volatile char *)(uintptr_t)addr;
	}
	f1 = faults();
	after = pagemap_entry((void *)(uintptr_t)addr);
	if (pin)
		pins[nr_pins++] = (struct pinned){ .fd = fd, .addr = t.addr };

	if (!(before & PM_PRESENT))
		*out = write ? ACC_NEW : ACC_ZERO;
	else if (f1 == f0)
		*out = ACC_NOFAULT;
	else if ((before & PM_PFN_MASK) == (after & PM_PFN_MASK))
		*out = ACC_REUSE;
	else
		*out = ACC_COPY;
	return 0;
}

static void worker_reply(int err, int pid, const uint8_t *out, int n)
{
	struct resp r = { .err = err, .n = n, .pid = pid };

	if (write_full(chans[my_chan].resp[1], &r, sizeof(r)) ||
	    (n && write_full(chans[my_chan].resp[1], out, (size_t)n)))
		_exit(111);
}

/* 0 or the errno of opening this worker's own pagemap (bound to the mm of the opener). */
static int worker_setup(void)
{
	probe_var++;
	return -mm_probe_reopen_pagemap();
}

static void __attribute__((noreturn)) worker(int chan)
{
	static uint8_t out[MAX_PAGES];

	my_chan = chan;
	worker_reply(worker_setup(), getpid(), NULL, 0);
	for (;;) {
		struct cmd c;
		int err = 0, n = 0, pid = 0;
		void *p;

		if (read_full(chans[my_chan].cmd[0], &c, sizeof(c)))
			_exit(112);
		switch (c.op) {
		case OP_MMAP:
			p = mmap((void *)(uintptr_t)c.a, c.b, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (p == MAP_FAILED)
				err = errno;
			else if ((uintptr_t)p != c.a)
				err = EEXIST;
			break;
		case OP_ACCESS:
		case OP_PIN:
			for (uint64_t a = c.a; a < c.b && !err && n < MAX_PAGES; a = (a | (PAGE - 1)) + 1)
				err = access_page(a, c.flag, c.op == OP_PIN, &out[n++]);
			break;
		case OP_UNPIN:
			for (int i = 0; i < nr_pins;) {
				if (pins[i].addr >= c.a && pins[i].addr < c.b) {
					if (ioctl(pins[i].fd, PIN_LONGTERM_TEST_STOP))
						err = errno;
					close(pins[i].fd);
					pins[i] = pins[--nr_pins];
				} else {
					i++;
				}
			}
			break;
		case OP_FORK:
			pid = (int)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
			if (pid == 0) {
				/* The parent's pins are the parent's: drop the inherited handles
				 * (the pins stay), so the parent's exit releases them. */
				for (int i = 0; i < nr_pins; i++)
					close(pins[i].fd);
				nr_pins = 0;
				my_chan = c.child;
				worker_reply(worker_setup(), getpid(), NULL, 0);
				continue;
			}
			if (pid < 0)
				err = errno;
			break;
		case OP_EXIT:
			_exit(0);
		case OP_MUNMAP:
			if (munmap((void *)(uintptr_t)c.a, c.b - c.a))
				err = errno;
			break;
		case OP_MADVISE:
			if (madvise((void *)(uintptr_t)c.a, c.b - c.a, MADV_DONTNEED))
				err = errno;
			break;
		case OP_MPROTECT:
			if (mprotect((void *)(uintptr_t)c.a, c.b - c.a,
				     c.flag ? PROT_READ | PROT_WRITE : PROT_READ))
				err = errno;
			break;
		case OP_MREMAP:
			p = mremap((void *)(uintptr_t)c.a, c.b, c.b, MREMAP_MAYMOVE | MREMAP_FIXED,
				   (void *)(uintptr_t)c.c);
			if (p == MAP_FAILED)
				err = errno;
			break;
		case OP_MIGRATE: {
			unsigned long nc, moved;
			const char *what;

			err = migrate_self(c.a, c.b, (int)c.c,
					   c.flag ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL, &nc, &moved,
					   &what);
			/* the word: MIGRATED 0, PARTIAL 1, FAILED 2; or the failing call */
			out[0] = moved == nc ? 0 : moved ? 1 : 2;
			n = 1;
			if (err) {
				n = (int)strlen(what) + 1;
				memcpy(out, what, (size_t)n);
			}
			break;
		}
		case OP_SPLIT:
			err = split_self(c.a);
			break;
		default:
			err = EINVAL;
		}
		worker_reply(err, pid, out, err && c.op != OP_MIGRATE ? 0 : n);
	}
}

/* ---- the controller ------------------------------------------------------------------ */

static struct proc *proc_by_name(const char *name)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].live && !strcmp(procs[i].name, name))
			return &procs[i];
	return NULL;
}

static struct proc *proc_new(const char *name)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		if (!procs[i].live && !procs[i].pid) {
			memset(&procs[i], 0, sizeof(procs[i]));
			snprintf(procs[i].name, sizeof(procs[i].name), "%s", name);
			return &procs[i];
		}
	}
	return NULL;
}

/* One command: 0, -1 (the worker is gone; reported), or the errno of the worker. */
static int call_err(struct proc *p, const struct cmd *c, struct resp *r, uint8_t *out)
{
	if (write_full(chans[p->chan].cmd[1], c, sizeof(*c)) ||
	    read_full(chans[p->chan].resp[0], r, sizeof(*r)) ||
	    (r->n && read_full(chans[p->chan].resp[0], out, (size_t)r->n))) {
		fail("worker %s (pid %d) died", p->name, p->pid);
		return -1;
	}
	return r->err;
}

static int call(struct proc *p, const struct cmd *c, struct resp *r, uint8_t *out)
{
	int err = call_err(p, c, r, out);

	if (err < 0)
		return -1;
	if (err) {
		fail("%s: %s", p->name, strerror(r->err));
		return -1;
	}
	return 0;
}

/* Reads debugfs inspect for addr in pid: 0 and the text, or -errno. */
static int inspect(pid_t pid, uint64_t addr, char *text, size_t len)
{
	char req[64];
	ssize_t n;
	int fd = open(FOLIOMAP_INSPECT_PATH, O_RDWR);

	if (fd < 0)
		return -errno;
	snprintf(req, sizeof(req), "%d %#llx\n", pid, (unsigned long long)addr);
	if (write(fd, req, strlen(req)) < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	n = read(fd, text, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	text[n] = 0;
	close(fd);
	return 0;
}

/* The value after "key=" in text (up to a space or newline), or NULL. */
static const char *field(const char *text, const char *key, char *val, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = text; (p = strstr(p, key)); p++) {
		if ((p == text || p[-1] == ' ' || p[-1] == '\n') && p[kl] == '=') {
			size_t i = 0;

			p += kl + 1;
			while (p[i] && p[i] != ' ' && p[i] != '\n' && i + 1 < len) {
				val[i] = p[i];
				i++;
			}
			val[i] = 0;
			return val;
		}
	}
	return NULL;
}

/* --scope: the checker's counts of this file's processes (foliomap_debugfs.h "scope"). */
static bool use_scope;

static int scope_write(const char *what)
{
	int err = write_file(FOLIOMAP_SCOPE_PATH, what);

	if (err)
		fail("%s: writing %s: %s", FOLIOMAP_SCOPE_PATH, what, strerror(-err));
	return err;
}

/* A spawned worker joins the scope (a forked one joins by its fork, in the module). */
static int scope_add(const struct proc *p)
{
	char pid[16];

	if (!use_scope)
		return 0;
	snprintf(pid, sizeof(pid), "%d", p->pid);
	return scope_write(pid);
}

static int worker_ready(struct proc *p)
{
	struct resp r;
	char text[8192], v[32];

	if (read_full(chans[p->chan].resp[0], &r, sizeof(r)) || r.err) {
		fail("worker %s did not start", p->name);
		return -1;
	}
	p->pid = r.pid;
	p->live = true;
	if (inspect(p->pid, (uintptr_t)&probe_var, text, sizeof(text)) ||
	    !field(text, "mm_id", v, sizeof(v))) {
		fail("cannot read the mm id of %s (debugfs %s)", p->name, FOLIOMAP_INSPECT_PATH);
		return -1;
	}
	p->mm_id = (unsigned int)strtoul(v, NULL, 10);
	return 0;
}

static const char *id_name(unsigned long id, char *buf, size_t len)
{
	if (!id)
		return "0";
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].live && procs[i].mm_id == id)
			return procs[i].name;
	snprintf(buf, len, "?%lu", id);
	return buf;
}

/*
 * What debugfs inspect said of one page: its frame's kind, and where the page sits in
 * its folio (a folio or the huge zeropage) so that a range show can group pages.
 */
struct inspected {
	enum { SHOWN_NONE, SHOWN_ZERO, SHOWN_HUGEZERO, SHOWN_FOLIO } kind;
	uint64_t pfn;
	unsigned long page, nr_pages;	/* page index in the folio, the folio's size */
};

/*
 * The `show` text of the page at addr (FORMAT.md) into b; the caller drains the LRU
 * caches first (their references would count in ref).
 */
static void render_show(struct proc *p, uint64_t addr, struct buf *b, struct inspected *in)
{
	char text[16384], kind[16], val[24], *line2;
	int err;

	*in = (struct inspected){ .kind = SHOWN_NONE, .nr_pages = 1 };
	err = inspect(p->pid, addr, text, sizeof(text));
	if (err == -EFAULT) {
		scn_put(b, "none");
		return;
	}
	if (err || !field(text, "folio", kind, sizeof(kind)) || !field(text, "pfn", val, sizeof(val))) {
		fail("inspect %s %#llx: %s", p->name, (unsigned long long)addr, strerror(-err));
		return;
	}
	in->pfn = strtoull(val, NULL, 0);
	in->page = field(text, "page", val, sizeof(val)) ? strtoul(val, NULL, 0) : 0;
	if (!strcmp(kind, "zero") || !strcmp(kind, "hugezero")) {
		in->kind = kind[0] == 'z' ? SHOWN_ZERO : SHOWN_HUGEZERO;
		in->nr_pages = kind[0] == 'z' ? 1 : SCN_PMD_SIZE / PAGE;
		scn_put(b, "%s", kind);
		return;
	}
	line2 = strchr(text, '\n');
	if (!line2 || !line2[1] || !field(line2, "order", val, sizeof(val))) {
		fail("inspect: no fields for a %s folio", kind);
		return;
	}
	in->kind = SHOWN_FOLIO;
	in->nr_pages = 1ul << strtoul(val, NULL, 10);
	line2++;
	line2[strcspn(line2, "\n")] = 0;
	/* ids=[A,B]: the raw mm ids, named */
	for (char *tok = strtok(line2, " "); tok; tok = strtok(NULL, " ")) {
		unsigned long a, bb;
		char n1[24], n2[24];

		if (b->n && b->s[b->n - 1] != ' ')
			scn_put(b, " ");
		if (sscanf(tok, "ids=[%lu,%lu]", &a, &bb) == 2)
			scn_put(b, "ids=[%s,%s]", id_name(a, n1, sizeof(n1)), id_name(bb, n2, sizeof(n2)));
		else
			scn_put(b, "%s", tok);
	}
}

/*
 * show ADDR LEN: the frames of [start, end) (FORMAT.md), as the simulator groups them: a
 * frame is a run of pages whose PFNs follow the first one's inside its folio (the same
 * folio, consecutive pages), a hole (pagemap: not present), or one zeropage page. One
 * pagemap read, one inspect per frame.
 */
static void render_range(const struct step *st, struct proc *p, uint64_t start, uint64_t end,
			 struct buf *b)
{
	size_t n = (size_t)((end - start) / PAGE);
	uint64_t *pm = calloc(n, sizeof(*pm));
	struct buf *text = malloc(sizeof(*text));
	struct scn_frames fs;
	struct inspected in;
	size_t len;
	int err;

	if (!pm || !text) {
		fail("out of memory");
		goto out;
	}
	err = pagemap_read(p->pid, start, pm, n);
	if (err) {
		fail("/proc/%d/pagemap: %s", p->pid, strerror(-err));
		goto out;
	}
	scn_frames_begin(&fs, b, st->a.region);
	for (size_t i = 0; i < n && !run_status; i += len) {
		scn_buf_clear(text);
		len = 1;
		if (!(pm[i] & PM_PRESENT)) {
			while (i + len < n && !(pm[i + len] & PM_PRESENT))
				len++;
			scn_put(text, "none");
		} else {
			render_show(p, start + i * PAGE, text, &in);
			if (in.kind == SHOWN_NONE)
				fail("show %s: pagemap says present, inspect says not mapped at %#llx",
				     p->name, (unsigned long long)(start + i * PAGE));
			if (in.kind != SHOWN_ZERO)
				while (i + len < n && in.page + len < in.nr_pages &&
				       (pm[i + len] & PM_PRESENT) &&
				       (pm[i + len] & PM_PFN_MASK) == in.pfn + len)
					len++;
		}
		if (text->overflow)
			b->overflow = true;
		scn_frame_add(&fs, st->a.off + i * PAGE, len * PAGE, text->s);
	}
	scn_frames_end(&fs);
out:
	free(text);
	free(pm);
}

/* The smaps fields the transcript prints (kB), summed over the VMAs overlapping
 * [start, end); false when no VMA overlaps. */
static bool read_smaps(struct proc *p, uint64_t start, uint64_t end, struct scn_query *q)
{
	char path[64], line[4096], key[64];
	unsigned long long lo, hi, kb;
	bool in = false, any = false;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/smaps", p->pid);
	fp = fopen(path, "r");
	if (!fp) {
		fail("%s: %s", path, strerror(errno));
		return true;
	}
	while (fgets(line, sizeof(line), fp)) {
		/* a VMA's header "start-end perms ..."; no field line parses as two numbers */
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			in = lo < end && hi > start;
			any |= in;
			continue;
		}
		if (!in || sscanf(line, "%63[^:]: %llu kB", key, &kb) != 2)
			continue;
		if (!strcmp(key, "Rss"))
			q->rss += kb;
		else if (!strcmp(key, "Pss"))
			q->pss += kb;
		else if (!strcmp(key, "Shared_Clean") || !strcmp(key, "Shared_Dirty"))
			q->shared[key[7] == 'D'] += kb;
		else if (!strcmp(key, "Private_Clean") || !strcmp(key, "Private_Dirty"))
			q->private_[key[8] == 'D'] += kb;
		else if (!strcmp(key, "AnonHugePages"))
			q->anonhuge += kb;
	}
	fclose(fp);
	return any;
}

/* query: per page pagemap (present, PM_MMAP_EXCLUSIVE, PFN) and kpagecount of the PFN,
 * then smaps. The controller reads the worker's files (root: PFNs are shown). */
static void render_query(const struct step *st, struct proc *p, uint64_t start, uint64_t end,
			 struct buf *b)
{
	struct scn_query q = { .n = (int)((end - start) / PAGE) };
	uint64_t *pm;
	int kc = -1, err;

	pm = calloc((size_t)q.n, sizeof(*pm));
	q.excl = calloc((size_t)q.n, sizeof(*q.excl));
	q.kpc = calloc((size_t)q.n, sizeof(*q.kpc));
	if (!pm || !q.excl || !q.kpc) {
		fail("out of memory");
		goto out;
	}
	err = pagemap_read(p->pid, start, pm, (size_t)q.n);
	if (err) {
		fail("/proc/%d/pagemap: %s", p->pid, strerror(-err));
		goto out;
	}
	kc = open(KPAGECOUNT_PATH, O_RDONLY);
	if (kc < 0) {
		fail("%s: %s", KPAGECOUNT_PATH, strerror(errno));
		goto out;
	}
	for (int k = 0; k < q.n; k++) {
		uint64_t e = pm[k], count = 0;

		if (!(e & PM_PRESENT)) {
			q.excl[k] = q.kpc[k] = SCN_Q_NONE;
			continue;
		}
		if (!(e & PM_PFN_MASK) ||
		    pread(kc, &count, sizeof(count), (off_t)((e & PM_PFN_MASK) * 8)) != sizeof(count)) {
			fail("%s of pfn %#llx: %s", KPAGECOUNT_PATH,
			     (unsigned long long)(e & PM_PFN_MASK), strerror(errno));
			goto out;
		}
		q.excl[k] = !!(e & PM_MMAP_EXCLUSIVE);
		q.kpc[k] = (long long)count;
	}
	if (!read_smaps(p, start, end, &q))
		scn_die(cur_path, st->line, "%s: query of a range without a VMA", p->name);
	if (!run_status)
		scn_render_query(b, &q);
out:
	if (kc >= 0)
		close(kc);
	free(pm);
	free(q.excl);
	free(q.kpc);
}

/* The order of the folio at addr: 0 for the shared zeropage (a split remaps a
 * zero-filled page of the folio to it: mm/huge_memory.c remap_page ->
 * mm/migrate.c try_to_map_unused_to_zeropage), -1 for none or the huge zeropage. */
static int folio_order_at(struct proc *p, uint64_t addr)
{
	char text[16384], v[16];

	if (inspect(p->pid, addr, text, sizeof(text)))
		return -1;
	if (field(text, "folio", v, sizeof(v)) && !strcmp(v, "zero"))
		return 0;
	if (!field(text, "order", v, sizeof(v)))
		return -1;
	return atoi(v);
}

static int region_of(struct proc *p, const char *name)
{
	for (int i = 0; i < p->nr_regions; i++)
		if (!strcmp(p->regions[i].name, name))
			return i;
	return -1;
}

/* As the simulator's resolve(): REGION+OFF [LEN]. */
static void resolve(const struct step *st, struct proc *p, bool whole, uint64_t *start,
		    uint64_t *end)
{
	int ri = region_of(p, st->a.region);
	struct region *r;

	if (ri < 0)
		scn_die(cur_path, st->line, "%s has no region '%s'", p->name, st->a.region);
	r = &p->regions[ri];
	if (st->a.off >= r->size)
		scn_die(cur_path, st->line, "offset %#llx is outside region %s",
			(unsigned long long)st->a.off, r->name);
	*start = r->base + st->a.off;
	*end = *start + (st->a.len ? st->a.len : whole ? r->size - st->a.off : 1);
	if (*end > r->base + r->size)
		scn_die(cur_path, st->line, "range runs past the end of region %s", r->name);
}

/* The placement rule: 2 MiB-aligned plus misalign, 2 MiB unmapped on both sides. */
static uint64_t va_alloc(uint64_t size, uint64_t misalign)
{
	uint64_t span = (misalign + size + SCN_PMD_SIZE - 1) / SCN_PMD_SIZE;
	uint64_t base = VA_BASE + va_cursor * SCN_PMD_SIZE + misalign;

	va_cursor += span + 1;
	return base;
}

static void set_thp(uint64_t size, bool always)
{
	char path[128];

	for (unsigned int order = 2; order <= 9; order++) {
		uint64_t sz = PAGE << order;

		if (size && size != sz)
			continue;
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%llukB/enabled",
			 (unsigned long long)(sz >> 10));
		if (write_file(path, always ? "always" : "never"))
			fail("cannot write %s", path);
	}
}

/*
 * move_pages() of the pages of [start, end) of the calling process (a worker: the
 * migration and its rmap walks are then the scenario process's own operations, counted in
 * its scope) that map a folio on another node, to @node: 0 and the number of candidates
 * and of pages that moved, or an errno (*what: the failing call).
 */
static int migrate_self(uint64_t start, uint64_t end, int node, int flags,
			unsigned long *ncand, unsigned long *nmoved, const char **what)
{
	unsigned long n = (end - start) / PAGE, nc = 0, moved = 0;
	void **pages = calloc(n, sizeof(*pages)), **cand = calloc(n, sizeof(*cand));
	int *status = calloc(n, sizeof(int)), *nodes = calloc(n, sizeof(int));
	int err = 0;

	*what = "move_pages (query)";
	if (!pages || !cand || !status || !nodes) {
		*what = "calloc";
		err = ENOMEM;
		goto out;
	}
	for (unsigned long i = 0; i < n; i++)
		pages[i] = (void *)(uintptr_t)(start + i * PAGE);
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0)) {
		err = errno;
		goto out;
	}
	for (unsigned long i = 0; i < n; i++)
		if (status[i] >= 0 && status[i] != node)
			cand[nc++] = pages[i];
	if (nc) {
		for (unsigned long i = 0; i < nc; i++)
			nodes[i] = node;
		/* > 0: pages not migrated; their status tells, as the query below does */
		if (syscall(SYS_move_pages, 0, nc, cand, nodes, status, flags) < 0) {
			*what = "move_pages";
			err = errno;
			goto out;
		}
		if (syscall(SYS_move_pages, 0, nc, cand, NULL, status, 0)) {
			err = errno;
			goto out;
		}
		/* -EFAULT: the page maps the shared zeropage now, remapped by the split of
		 * its partially mapped folio (mm/migrate.c migrate_pages_batch ->
		 * try_split_folio); move_pages reported it migrated */
		for (unsigned long i = 0; i < nc; i++)
			moved += status[i] == node || status[i] == -EFAULT;
	}
out:
	*ncand = nc;
	*nmoved = moved;
	free(pages);
	free(cand);
	free(status);
	free(nodes);
	return err;
}

/* The worker's split_huge_pages request for its own page at addr: 0 or an errno. */
static int split_self(uint64_t addr)
{
	char req[96];

	snprintf(req, sizeof(req), "%d,%#llx,%#llx", getpid(), (unsigned long long)addr,
		 (unsigned long long)(addr + PAGE));
	return -write_file(SPLIT_PATH, req);
}

static void kill_all(void)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		if (procs[i].pid) {
			kill(procs[i].pid, SIGKILL);
			waitpid(procs[i].pid, NULL, 0);
		}
		memset(&procs[i], 0, sizeof(procs[i]));
	}
	for (int i = 0; i < nr_chans; i++) {
		close(chans[i].cmd[0]);
		close(chans[i].cmd[1]);
		close(chans[i].resp[0]);
		close(chans[i].resp[1]);
	}
	free(chans);
	chans = NULL;
	nr_chans = 0;
}

static int run_step(const struct step *st, int *next_chan)
{
	static uint8_t out[MAX_PAGES];
	struct buf b = { .n = 0 };
	struct proc *p = NULL, *c;
	struct cmd cmd = { 0 };
	struct resp r;
	uint64_t start, end;

	cur_line = st->line;
	if (st->verb == V_EXPECT)
		return 0;
	if (st->actor[0]) {
		p = proc_by_name(st->actor);
		if (!p)
			scn_die(cur_path, st->line, "no live process '%s'", st->actor);
	}
	scn_echo(st, &b);
	switch (st->verb) {
	case V_THP:
		set_thp(st->size, st->flag);
		break;
	case V_SPAWN: {
		pid_t pid;

		if (proc_by_name(st->name))
			scn_die(cur_path, st->line, "process '%s' already exists", st->name);
		c = proc_new(st->name);
		if (!c) {
			fail("too many processes");
			return -1;
		}
		c->chan = (*next_chan)++;
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fail("fork: %s", strerror(errno));
			return -1;
		}
		if (pid == 0)
			worker(c->chan);
		if (worker_ready(c) || scope_add(c))
			return -1;
		break;
	}
	case V_MMAP:
		if (region_of(p, st->name) >= 0)
			scn_die(cur_path, st->line, "%s already has a region '%s'", p->name, st->name);
		if (p->nr_regions == MAX_REGIONS) {
			fail("too many regions");
			return -1;
		}
		cmd.op = OP_MMAP;
		cmd.a = va_alloc(st->size, st->misalign);
		cmd.b = st->size;
		if (call(p, &cmd, &r, out))
			return -1;
		snprintf(p->regions[p->nr_regions].name, SCN_NAME_LEN, "%s", st->name);
		p->regions[p->nr_regions].base = cmd.a;
		p->regions[p->nr_regions++].size = st->size;
		break;
	case V_WRITE:
	case V_READ:
	case V_PIN: {
		enum access_outcome acc[512];
		int n;

		resolve(st, p, false, &start, &end);
		cmd.op = st->verb == V_PIN ? OP_PIN : OP_ACCESS;
		cmd.flag = st->verb == V_PIN ? st->flag : st->verb == V_WRITE;
		cmd.a = st->verb == V_PIN ? start & ~(PAGE - 1) : start;
		cmd.b = end;
		if (call(p, &cmd, &r, out))
			return -1;
		/* the simulator's transcript holds the first 512 outcomes */
		n = r.n < 512 ? r.n : 512;
		for (int i = 0; i < n; i++)
			acc[i] = (enum access_outcome)out[i];
		scn_put(&b, ": ");
		scn_render_outcomes(&b, acc, n);
		break;
	}
	case V_UNPIN:
		resolve(st, p, false, &start, &end);
		cmd.op = OP_UNPIN;
		cmd.a = start;
		cmd.b = end;
		if (call(p, &cmd, &r, out))
			return -1;
		break;
	case V_FORK:
		if (proc_by_name(st->name))
			scn_die(cur_path, st->line, "process '%s' already exists", st->name);
		c = proc_new(st->name);
		if (!c) {
			fail("too many processes");
			return -1;
		}
		c->chan = (*next_chan)++;
		memcpy(c->regions, p->regions, sizeof(c->regions));
		c->nr_regions = p->nr_regions;
		cmd.op = OP_FORK;
		cmd.child = c->chan;
		if (call(p, &cmd, &r, out) || worker_ready(c))
			return -1;
		break;
	case V_EXIT:
		cmd.op = OP_EXIT;
		if (write_full(chans[p->chan].cmd[1], &cmd, sizeof(cmd)) ||
		    waitpid(p->pid, NULL, 0) != p->pid) {
			fail("exit of %s failed", p->name);
			return -1;
		}
		p->live = false;
		p->pid = 0;
		break;
	case V_MUNMAP:
	case V_MADVISE:
	case V_MPROTECT: {
		int err;

		resolve(st, p, true, &start, &end);
		cmd.op = st->verb == V_MUNMAP ? OP_MUNMAP : st->verb == V_MADVISE ? OP_MADVISE
										: OP_MPROTECT;
		cmd.flag = st->flag;
		cmd.a = start;
		cmd.b = end;
		err = call_err(p, &cmd, &r, out);
		/* a hole in the range: a scenario error in the format, as in csim */
		if (err == ENOMEM && st->verb != V_MUNMAP)
			scn_die(cur_path, st->line, "%s: %s range is not fully mapped (ENOMEM)",
				p->name, st->verb == V_MADVISE ? "madvise" : "mprotect");
		if (err > 0)
			fail("%s: %s", p->name, strerror(err));
		if (err)
			return -1;
		break;
	}
	case V_MREMAP: {
		int ri = region_of(p, st->a.region);

		if (ri < 0)
			scn_die(cur_path, st->line, "%s has no region '%s'", p->name, st->a.region);
		cmd.op = OP_MREMAP;
		cmd.a = p->regions[ri].base;
		cmd.b = p->regions[ri].size;
		cmd.c = va_alloc(cmd.b, st->misalign);
		if (call(p, &cmd, &r, out))
			return -1;
		p->regions[ri].base = cmd.c;
		break;
	}
	case V_MIGRATE: {
		static const char *const words[] = { "MIGRATED", "PARTIAL", "FAILED" };
		int err;

		resolve(st, p, true, &start, &end);
		/* by the worker itself: the migration is its own operation (scope) */
		cmd.op = OP_MIGRATE;
		cmd.a = start;
		cmd.b = end;
		cmd.c = (uint64_t)st->node;
		cmd.flag = st->flag;	/* move: MPOL_MF_MOVE */
		err = call_err(p, &cmd, &r, out);
		if (err) {
			if (err > 0)
				fail("%.*s: %s", r.n, (const char *)out, strerror(err));
			return -1;
		}
		if (r.n != 1 || out[0] > 2) {
			fail("worker %s: a malformed migrate reply", p->name);
			return -1;
		}
		scn_put(&b, ": %s", words[out[0]]);
		break;
	}
	case V_SPLIT: {
		int before, after, err;

		resolve(st, p, false, &start, &end);
		start &= ~(PAGE - 1);
		before = folio_order_at(p, start);
		/* written by the worker itself: the split is its own operation (scope) */
		cmd.op = OP_SPLIT;
		cmd.a = start;
		err = call_err(p, &cmd, &r, out);
		if (err) {
			if (err > 0)
				fail("%s: %s", SPLIT_PATH, strerror(err));
			return -1;
		}
		after = folio_order_at(p, start);
		scn_put(&b, ": %s", before > 0 && after == 0 ? "SPLIT" : "SKIPPED");
		break;
	}
	case V_SHOW:
		resolve(st, p, false, &start, &end);
		lru_drain_all();
		if (st->a.len) {
			render_range(st, p, start, end, &b);
		} else {
			struct inspected in;

			scn_put(&b, ": ");
			render_show(p, start, &b, &in);
		}
		break;
	case V_QUERY:
		resolve(st, p, true, &start, &end);
		render_query(st, p, start, end, &b);
		break;
	case V_EXPECT:
		break;
	}
	if (b.overflow)
		fail("internal error: the transcript line is longer than %zu bytes", sizeof(b.s) - 1);
	printf("%s\n", b.s);
	fflush(stdout);
	return run_status ? -1 : 0;
}

/* A scenario error ends the file, not the run: scn_die() comes back to run_file(). */
static jmp_buf file_error;
static struct step *steps;
static int nr_steps;

static void __attribute__((noreturn)) scenario_error(const char *path, int line, const char *msg)
{
	printf("@@scn ERROR %s:%d: %s\n", path, line, msg);
	fflush(stdout);
	longjmp(file_error, 1);
}

static uint32_t kernel_mode;	/* FM_MODE_*, from debugfs stats (--scope) */

/*
 * After a file (its workers reaped, so their exits are counted): its scope's counters as
 * "@@scn SCOPE NAME VALUE" lines (not transcript), then each `expect checked` word that
 * applies to this kernel as "@@scn CHECKED FILE:LINE NAME>=N VALUE", or "@@scn UNMET
 * FILE:LINE: expected NAME>=N, got VALUE". 1 when a declaration is unmet or the scope
 * saw a transition or CoW mismatch, 3 when the scope cannot be read, else 0.
 */
static int scope_report(const char *path)
{
	unsigned long long v[FOLIOMAP_NR_STATS];
	bool have[FOLIOMAP_NR_STATS] = { false };
	char line[128], name[64];
	unsigned long long val;
	FILE *f = fopen(FOLIOMAP_SCOPE_PATH, "r");
	int st = 0;

	if (!f) {
		printf("@@scn ERROR %s:0: %s: %s\n", path, FOLIOMAP_SCOPE_PATH, strerror(errno));
		return 3;
	}
	while (fgets(line, sizeof(line), f)) {
		printf("@@scn SCOPE %s", line);
		if (sscanf(line, "%63s %llu", name, &val) != 2)
			continue;
		for (int i = 0; i < FOLIOMAP_NR_STATS; i++)
			if (!strcmp(name, scn_stat_name(i))) {
				v[i] = val;
				have[i] = true;
			}
	}
	fclose(f);
	for (int i = 0; i < FOLIOMAP_NR_STATS; i++)
		if (!have[i]) {
			printf("@@scn ERROR %s:0: %s has no %s\n", path, FOLIOMAP_SCOPE_PATH,
			       scn_stat_name(i));
			return 3;
		}
	if (v[FOLIOMAP_STAT_TRANSITION_MISMATCHES] || v[FOLIOMAP_STAT_COW_MISMATCHES])
		st = 1;
	for (int i = 0; steps && i < nr_steps; i++) {
		const struct step *e = &steps[i];

		if (e->verb != V_EXPECT || strcmp(e->expect[0], "checked") ||
		    (e->expect_mode && e->expect_mode != kernel_mode))
			continue;
		for (int k = 1; k < e->nr_expect; k++) {
			unsigned long long min;
			int stat;

			if (!scn_parse_checked(e->expect[k], &stat, &min))
				continue;	/* the parser refused it already */
			if (v[stat] >= min) {
				printf("@@scn CHECKED %s:%d %s %llu\n", path, e->line, e->expect[k],
				       v[stat]);
			} else {
				printf("@@scn UNMET %s:%d: expected %s, got %llu\n", path, e->line,
				       e->expect[k], v[stat]);
				st = 1;
			}
		}
	}
	fflush(stdout);
	return st;
}

static int run_steps(const char *path)
{
	int nr, nprocs = 0, next_chan = 0;

	/* a syntax error leaves the parser's partial array and FILE behind (small) */
	scn_parse_file(path, &steps, &nr);
	nr_steps = nr;
	for (int i = 0; i < nr; i++)
		nprocs += steps[i].verb == V_SPAWN || steps[i].verb == V_FORK;
	/* Every worker inherits every channel: a forked child switches to its own. */
	chans = calloc((size_t)nprocs + 1, sizeof(*chans));
	if (!chans) {
		fail("out of memory");
		return 3;
	}
	for (int i = 0; i < nprocs; i++) {
		if (pipe(chans[i].cmd) || pipe(chans[i].resp)) {
			fail("pipe: %s", strerror(errno));
			kill_all();
			return 3;
		}
		nr_chans++;
	}
	va_cursor = 1;
	set_thp(0, false);	/* thp all never */
	if (use_scope && scope_write(FOLIOMAP_SCOPE_CLEAR)) {
		kill_all();
		return 3;
	}
	for (int i = 0; i < nr; i++)
		if (run_step(&steps[i], &next_chan))
			break;
	kill_all();
	return run_status;
}

static int run_file(const char *path)
{
	volatile int st;

	cur_path = path;
	cur_line = 0;
	run_status = 0;
	steps = NULL;
	nr_steps = 0;
	if (setjmp(file_error)) {
		/* the workers are idle: errors are found before a command is sent */
		kill_all();
		st = 2;
	} else {
		st = run_steps(path);
	}
	if (use_scope) {
		int sst = scope_report(path);

		if (sst > st)
			st = sst;
	}
	if (steps)
		scn_free_steps(steps, nr_steps);
	steps = NULL;
	nr_steps = 0;
	return st;
}

/*
 * The system settings the runner changes, put back when it exits: tests that run after
 * it in the same boot (run_tests) expect the VM's THP sizes, khugepaged and swap.
 */
#define SWAP_DEV	"/dev/zram0"
#define NR_SAVED	(8 + 3)		/* mTHP orders 2..9, then the knobs of setup() */
static struct {
	char path[96];
	char value[32];			/* "": not readable, not restored */
} saved[NR_SAVED];
static bool swap_was_on;
static pid_t runner_pid;

static void restore_settings(void)
{
	if (getpid() != runner_pid)
		return;
	for (unsigned int i = 0; i < NR_SAVED; i++)
		if (saved[i].value[0] && write_file(saved[i].path, saved[i].value))
			fprintf(stderr, "scn_run: cannot restore %s to %s\n", saved[i].path,
				saved[i].value);
	if (swap_was_on && swapon(SWAP_DEV, 0))
		fprintf(stderr, "scn_run: swapon %s: %s\n", SWAP_DEV, strerror(errno));
}

static void save_settings(void)
{
	static const char *const knobs[] = {
		THP_DIR "/khugepaged/scan_sleep_millisecs",
		THP_DIR "/khugepaged/alloc_sleep_millisecs",
		THP_DIR "/use_zero_page",
	};
	unsigned int n = 0;
	char line[256];
	FILE *f;

	for (unsigned int order = 2; order <= 9; order++)
		snprintf(saved[n++].path, sizeof(saved[0].path), THP_DIR "/hugepages-%llukB/enabled",
			 (unsigned long long)((PAGE << order) >> 10));
	for (unsigned int i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		snprintf(saved[n++].path, sizeof(saved[0].path), "%s", knobs[i]);
	for (unsigned int i = 0; i < n; i++)
		setting_read(saved[i].path, saved[i].value, sizeof(saved[i].value));
	f = fopen("/proc/swaps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, SWAP_DEV " ", strlen(SWAP_DEV " ")))
			swap_was_on = true;
	if (f)
		fclose(f);
	runner_pid = getpid();
	atexit(restore_settings);
}

/* The model's assumptions (FORMAT.md): no khugepaged collapse, huge zeropage on, no
 * swap, every worker on one CPU of node 0 (the local LRU drain of a CoW fault then
 * sees every batch; new folios on node 0). */
static void setup(void)
{
	cpu_set_t set;
	char buf[64] = "";
	int cpu = 0, fd;

	save_settings();
	write_file(THP_DIR "/khugepaged/scan_sleep_millisecs", "86400000");
	write_file(THP_DIR "/khugepaged/alloc_sleep_millisecs", "86400000");
	write_file(THP_DIR "/use_zero_page", "1");
	swapoff(SWAP_DEV);
	fd = open("/sys/devices/system/node/node0/cpulist", O_RDONLY);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0 && isdigit((unsigned char)buf[0]))
			cpu = atoi(buf);
		close(fd);
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
	/* let a khugepaged pass woken by the writes above finish before any scenario */
	usleep(100000);
}

int main(int argc, char **argv)
{
	int worst = 0;

	int first = 1;

	if (argc > 1 && !strcmp(argv[1], "--scope")) {
		use_scope = true;
		first = 2;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: scn_run [--scope] FILE.scn...\n");
		return 2;
	}
	setup();
	if (use_scope) {
		char text[4096], *m;
		int fd = open(FOLIOMAP_STATS_PATH, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

		if (fd >= 0)
			close(fd);
		text[n > 0 ? n : 0] = '\0';
		m = strstr(text, "\n" FOLIOMAP_STATS_MODE_KEY " ");
		if (!m) {
			fprintf(stderr, "scn_run: --scope: no mode in %s\n", FOLIOMAP_STATS_PATH);
			return 3;
		}
		m += sizeof(FOLIOMAP_STATS_MODE_KEY) + 1;
		kernel_mode = !strncmp(m, FOLIOMAP_MODE_NOPMC, strlen(FOLIOMAP_MODE_NOPMC)) ?
			      FM_MODE_NOPMC : FM_MODE_PMC;
	}
	scn_set_die_hook(scenario_error);
	for (int i = first; i < argc; i++) {
		int st;

		printf("@@scn BEGIN %s\n", argv[i]);
		fflush(stdout);
		st = run_file(argv[i]);
		printf("@@scn END %s %d\n", argv[i], st);
		fflush(stdout);
		if (st > worst)
			worst = st;
	}
	return worst;
}
