// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The foliomap module's debugfs files as an attacker sees them
 * (c-shim/foliomap_debugfs.h):
 *
 *  - an unprivileged process (a child that dropped to nobody/nogroup with no
 *    supplementary groups) can open nothing under /sys/kernel/debug/foliomap, neither
 *    behind the debugfs mount's own 0700 nor with the mount's root opened up to 0755
 *    for the length of the test (so each file's own mode is what refuses it); the
 *    module's parameters are not writable by it either;
 *  - garbage, oversized, partial and bad-pointer writes to "inspect" and "stats" fail
 *    with EINVAL, ESRCH or EFAULT and change nothing: the request an inspect file
 *    holds, and the counters (they only grow: nothing reset them);
 *  - the read-only files refuse writes, also from root;
 *  - concurrent writers and readers on one open inspect file never see a request
 *    torn between two writes, and concurrent "reset" / garbage writes to stats leave
 *    it well-formed;
 *  - no text file prints a kernel address (0xffff... or a bare ffff... word of 16
 *    hex digits);
 *  - the event recorder: garbage writes to trace_ctl fail with EINVAL and change
 *    nothing; a recording of some transitions drains as whole records whose seq
 *    numbers are exactly 1..records (nothing dropped), every op a known one, and
 *    trace_header describes them; a read shorter than one record returns nothing.
 *
 * Without the module (vm-run --no-module) the whole program is skipped (exit 4).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "foliomap.h"
#include "foliomap_debugfs.h"
#include "kselftest.h"

#define DEBUGFS_ROOT	"/sys/kernel/debug"
#define DIR_PATH	DEBUGFS_ROOT "/" FOLIOMAP_DEBUGFS_DIR
#define PARAMS_DIR	"/sys/module/foliomap/parameters"
#define NOBODY		65534
#define MAX_FILES	32
#define READ_MAX	(1 << 20)

/* Report a failure and leave the (void) test function. */
#define FAIL_RET(...) do { ksft_test_result_fail(__VA_ARGS__); return; } while (0)

static const char *const counter_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

/* A write's bytes: sizeof keeps embedded NULs (and drops the terminating one). */
struct bytes {
	const char *s;
	size_t len;
};
#define BYTES(lit) { lit, sizeof(lit) - 1 }

static char files[MAX_FILES][64];
static unsigned int nr_files;

/* The names of the files in the module's directory, as root sees them. */
static int list_files(void)
{
	struct dirent *de;
	DIR *d = opendir(DIR_PATH);

	if (!d)
		return -1;
	nr_files = 0;
	while ((de = readdir(d)) && nr_files < MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(files[nr_files++], sizeof(files[0]), "%.63s", de->d_name);
	}
	closedir(d);
	return nr_files ? 0 : -1;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", DIR_PATH, name);
}

/* Read a whole file into a malloc'd NUL-terminated buffer; NULL with errno on failure. */
static char *slurp(const char *path, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap + 1);
	ssize_t r;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap && cap < READ_MAX) {
			char *p = realloc(buf, cap * 2 + 1);

			if (!p)
				break;
			buf = p;
			cap *= 2;
		} else if (n == cap) {
			break;
		}
	}
	if (r < 0) {
		int e = errno;

		close(fd);
		free(buf);
		errno = e;
		return NULL;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Drop every privilege: nobody, nogroup, no supplementary groups, no capabilities. */
static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return -1;
	if (getuid() != NOBODY || geteuid() != NOBODY || getegid() != NOBODY)
		return -1;
	return setuid(0) == 0 ? -1 : 0;	/* no way back */
}

/*
 * In a child running as nobody: try to open every file (and each module parameter)
 * for reading and for writing, and to list the directory's files. Exit status: 0 when
 * everything was refused, 1 when something opened (printed), 2 when the privileges
 * could not be dropped.
 */
static int probe_as_nobody(bool dir_listable)
{
	static const int modes[] = { O_RDONLY, O_WRONLY, O_RDWR };
	char path[256];
	unsigned int i, m;
	int opened = 0;
	DIR *d;

	if (drop_to_nobody())
		return 2;
	for (i = 0; i < nr_files; i++) {
		path_of(path, sizeof(path), files[i]);
		for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			int fd = open(path, modes[m]);

			if (fd >= 0) {
				printf("# nobody opened %s (mode %d)\n", path, modes[m]);
				close(fd);
				opened = 1;
			} else if (errno != EACCES && errno != EPERM) {
				printf("# nobody: open %s (mode %d): %s (expected EACCES)\n",
				       path, modes[m], strerror(errno));
				opened = 1;
			}
		}
	}
	d = opendir(DIR_PATH);
	if (d && !dir_listable) {
		printf("# nobody listed %s behind a 0700 debugfs\n", DIR_PATH);
		opened = 1;
	}
	if (d)
		closedir(d);
	d = opendir(PARAMS_DIR);
	if (d) {
		struct dirent *de;

		while ((de = readdir(d))) {
			int fd;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%.200s", PARAMS_DIR, de->d_name);
			fd = open(path, O_WRONLY);
			if (fd >= 0) {
				printf("# nobody opened %s for writing\n", path);
				close(fd);
				opened = 1;
			}
		}
		closedir(d);
	}
	fflush(stdout);
	return opened;
}

static int run_as_nobody(bool dir_listable)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid)
		_exit(probe_as_nobody(dir_listable));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_unprivileged(void)
{
	const char *desc = "an unprivileged user can open no file, also with debugfs opened up";
	struct stat root;
	int r1, r2;

	if (stat(DEBUGFS_ROOT, &root)) {
		ksft_test_result_fail("%s: stat %s: %s\n", desc, DEBUGFS_ROOT, strerror(errno));
		return;
	}
	/* 1: as mounted (0700 unless the mount said otherwise) */
	r1 = run_as_nobody((root.st_mode & 0005) == 0005);
	/* 2: the mount's root opened to 0755: each file's own mode must refuse */
	if (chmod(DEBUGFS_ROOT, 0755)) {
		ksft_test_result_fail("%s: chmod 0755 %s: %s\n", desc, DEBUGFS_ROOT,
				      strerror(errno));
		return;
	}
	r2 = run_as_nobody(true);
	if (chmod(DEBUGFS_ROOT, root.st_mode & 07777))
		ksft_print_msg("could not restore the mode of %s: %s\n", DEBUGFS_ROOT,
			       strerror(errno));
	if (r1 == 2 || r2 == 2 || r1 < 0 || r2 < 0) {
		ksft_test_result_fail("%s: could not run a child as nobody\n", desc);
		return;
	}
	if (r1 || r2) {
		ksft_test_result_fail("%s: %s%s\n", desc, r1 ? "refused only by the mount, " : "",
				      r2 ? "a file's own mode lets nobody in" : "");
		return;
	}
	ksft_test_result_pass("%s\n", desc);
}

/* The files without a write handler refuse writes even from root, and stay readable. */
static void test_readonly_files(void)
{
	const char *desc = "the read-only files refuse writes, also from root";
	char path[256];
	unsigned int i;

	for (i = 0; i < nr_files; i++) {
		ssize_t r;
		int fd;

		if (!strcmp(files[i], FOLIOMAP_STATS_FILE) ||
		    !strcmp(files[i], FOLIOMAP_INSPECT_FILE) ||
		    !strcmp(files[i], FOLIOMAP_SCOPE_FILE) ||
		    !strcmp(files[i], FOLIOMAP_TRACE_CTL_FILE))
			continue;
		path_of(path, sizeof(path), files[i]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;	/* refused at open: fine */
		r = write(fd, "reset\n", 6);
		close(fd);
		if (r >= 0) {
			ksft_test_result_fail("%s: writing %s succeeded\n", desc, path);
			return;
		}
	}
	ksft_test_result_pass("%s\n", desc);
}

/* ---- inspect ---- */

static char *page;		/* one locked page of this process */
/* An address in the never-mapped NULL page, hidden from the compiler's checks. */
static void *volatile null_page_ptr = (void *)16;

static int inspect_write(int fd, const void *buf, size_t len)
{
	ssize_t r = write(fd, buf, len);

	if (r < 0)
		return errno;
	return (size_t)r == len ? 0 : EIO;
}

/* Read the answer of fd's request from offset 0; 0 or the errno. */
static int inspect_read(int fd, char *buf, size_t len)
{
	ssize_t r = pread(fd, buf, len - 1, 0);

	if (r < 0)
		return errno;
	buf[r] = '\0';
	return 0;
}

/* The first line of an answer: pid, mm_id, addr, pfn, node, page, folio kind. */
static void first_line(char *dst, size_t len, const char *answer)
{
	size_t n = strcspn(answer, "\n");

	snprintf(dst, len, "%.*s", (int)n, answer);
}

static const struct bytes garbage[] = {
	BYTES("\n"), BYTES(" "), BYTES("abc"), BYTES("1234"), BYTES("1 "), BYTES(" 0x1000"),
	BYTES("0 0x1000"), BYTES("-1 0x1000"), BYTES("99999999999999999999 0x1000"),
	BYTES("1 0xzz"), BYTES("1 0x1000 junk"), BYTES("1\t0x1000"), BYTES("0x1 0x1000"),
	BYTES("1 -"), BYTES("1 99999999999999999999999"), BYTES("1\0 0x1000"),
	BYTES("1 0x1000\0junk"), BYTES("1 0x1000\n\0"), BYTES("\xff\xfe\xfd 0x1000"),
};

static void test_inspect_garbage(void)
{
	const char *desc = "inspect: garbage, huge, partial and bad-pointer writes fail and change nothing";
	char req[64], want[256], got[4096], line[256];
	char *big = NULL, *hole;
	int fd, err, fresh;
	pid_t gone;
	size_t i;

	fd = open(FOLIOMAP_INSPECT_PATH, O_RDWR);
	if (fd < 0) {
		ksft_test_result_fail("%s: open: %s\n", desc, strerror(errno));
		return;
	}
	/* nothing written yet: EINVAL */
	err = inspect_read(fd, got, sizeof(got));
	if (err != EINVAL) {
		ksft_test_result_fail("%s: a read before any write gave %s, expected EINVAL\n",
				      desc, err ? strerror(err) : "data");
		goto out;
	}
	snprintf(req, sizeof(req), "%d %p\n", getpid(), (void *)page);
	err = inspect_write(fd, req, strlen(req));
	if (!err)
		err = inspect_read(fd, got, sizeof(got));
	if (err) {
		ksft_test_result_fail("%s: the valid request '%.40s' failed: %s\n", desc, req,
				      strerror(err));
		goto out;
	}
	first_line(want, sizeof(want), got);

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		err = inspect_write(fd, garbage[i].s, garbage[i].len);
		if (err != EINVAL) {
			ksft_test_result_fail("%s: garbage #%zu ('%.*s', %zu bytes) gave %s, expected EINVAL\n",
					      desc, i, (int)strcspn(garbage[i].s, "\n"), garbage[i].s,
					      garbage[i].len, err ? strerror(err) : "success");
			goto out;
		}
	}
	/* oversized: 64 bytes and up (one request is far shorter) */
	big = malloc(1 << 20);
	if (!big) {
		ksft_test_result_fail("%s: malloc\n", desc);
		goto out;
	}
	memset(big, ' ', 1 << 20);
	memcpy(big, req, strlen(req) - 1);
	for (i = 64; i <= (1 << 20); i *= 4) {
		err = inspect_write(fd, big, i);
		if (err != EINVAL) {
			ksft_test_result_fail("%s: a %zu-byte write gave %s, expected EINVAL\n",
					      desc, i, err ? strerror(err) : "success");
			goto out;
		}
	}
	/* partial: a request split over two writes is two malformed requests */
	snprintf(line, sizeof(line), "%d", getpid());
	err = inspect_write(fd, line, strlen(line));
	if (err != EINVAL) {
		ksft_test_result_fail("%s: the pid alone gave %s, expected EINVAL\n", desc,
				      err ? strerror(err) : "success");
		goto out;
	}
	snprintf(line, sizeof(line), " %p", (void *)page);
	err = inspect_write(fd, line, strlen(line));
	if (err != EINVAL) {
		ksft_test_result_fail("%s: the address alone gave %s, expected EINVAL\n", desc,
				      err ? strerror(err) : "success");
		goto out;
	}
	/* bad pointers: unmapped, and a buffer that runs into a hole */
	err = inspect_write(fd, null_page_ptr, 10);
	if (err != EFAULT) {
		ksft_test_result_fail("%s: a NULL-page buffer gave %s, expected EFAULT\n", desc,
				      err ? strerror(err) : "success");
		goto out;
	}
	hole = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED || munmap(hole + 4096, 4096)) {
		ksft_test_result_fail("%s: mmap: %s\n", desc, strerror(errno));
		goto out;
	}
	memcpy(hole + 4096 - 4, req, 4);
	err = inspect_write(fd, hole + 4096 - 4, strlen(req));
	munmap(hole, 4096);
	if (err != EFAULT) {
		ksft_test_result_fail("%s: a buffer running into a hole gave %s, expected EFAULT\n",
				      desc, err ? strerror(err) : "success");
		goto out;
	}
	/* a process that does not exist (any more): ESRCH */
	gone = fork();
	if (gone == 0)
		_exit(0);
	if (gone < 0 || waitpid(gone, NULL, 0) != gone) {
		ksft_test_result_fail("%s: fork: %s\n", desc, strerror(errno));
		goto out;
	}
	snprintf(line, sizeof(line), "%d %p", gone, (void *)page);
	err = inspect_write(fd, line, strlen(line));
	if (err != ESRCH) {
		ksft_test_result_fail("%s: the pid of a reaped child gave %s, expected ESRCH\n",
				      desc, err ? strerror(err) : "success");
		goto out;
	}

	/* none of that changed the request this file holds */
	err = inspect_read(fd, got, sizeof(got));
	if (err) {
		ksft_test_result_fail("%s: after the refused writes the held request reads as %s\n",
				      desc, strerror(err));
		goto out;
	}
	first_line(line, sizeof(line), got);
	if (strcmp(line, want)) {
		ksft_test_result_fail("%s: the answer changed from '%s' to '%s'\n", desc, want,
				      line);
		goto out;
	}
	/* a fresh file given only garbage still has nothing to answer */
	fresh = open(FOLIOMAP_INSPECT_PATH, O_RDWR);
	if (fresh < 0) {
		ksft_test_result_fail("%s: open: %s\n", desc, strerror(errno));
		goto out;
	}
	inspect_write(fresh, "1 0xzz", 6);
	err = inspect_read(fresh, got, sizeof(got));
	close(fresh);
	if (err != EINVAL) {
		ksft_test_result_fail("%s: a file given only garbage answered %s, expected EINVAL\n", desc,
				      err ? strerror(err) : "with data");
		goto out;
	}
	ksft_test_result_pass("%s\n", desc);
out:
	free(big);
	close(fd);
}

/* Read errors: an unmapped address is EFAULT, a process that went away ESRCH. */
static void test_inspect_read_errors(void)
{
	const char *desc = "inspect: reading an unmapped address gives EFAULT, a gone process ESRCH";
	char req[64], got[4096];
	int fd, err, pfd[2];
	char *hole;
	pid_t child;

	fd = open(FOLIOMAP_INSPECT_PATH, O_RDWR);
	if (fd < 0) {
		ksft_test_result_fail("%s: open: %s\n", desc, strerror(errno));
		return;
	}
	hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED) {
		ksft_test_result_fail("%s: mmap: %s\n", desc, strerror(errno));
		goto out;
	}
	munmap(hole, 4096);
	snprintf(req, sizeof(req), "%d %p", getpid(), (void *)hole);
	err = inspect_write(fd, req, strlen(req));
	if (!err)
		err = inspect_read(fd, got, sizeof(got));
	if (err != EFAULT) {
		ksft_test_result_fail("%s: an unmapped address gave %s, expected EFAULT\n", desc,
				      err ? strerror(err) : "data");
		goto out;
	}
	snprintf(req, sizeof(req), "%d 0xffffffffff600000", getpid());
	err = inspect_write(fd, req, strlen(req));
	if (!err)
		err = inspect_read(fd, got, sizeof(got));
	if (err != EFAULT) {
		ksft_test_result_fail("%s: the vsyscall address gave %s, expected EFAULT\n", desc,
				      err ? strerror(err) : "data");
		goto out;
	}
	if (pipe(pfd)) {
		ksft_test_result_fail("%s: pipe: %s\n", desc, strerror(errno));
		goto out;
	}
	child = fork();
	if (child == 0) {
		char c;

		close(pfd[1]);
		_exit(read(pfd[0], &c, 1) < 0);
	}
	close(pfd[0]);
	snprintf(req, sizeof(req), "%d %p", child, (void *)page);
	err = inspect_write(fd, req, strlen(req));
	close(pfd[1]);
	waitpid(child, NULL, 0);
	if (err) {
		ksft_test_result_fail("%s: a live child's request gave %s\n", desc, strerror(err));
		goto out;
	}
	err = inspect_read(fd, got, sizeof(got));
	if (err != ESRCH) {
		ksft_test_result_fail("%s: a reaped child gave %s, expected ESRCH\n", desc,
				      err ? strerror(err) : "data");
		goto out;
	}
	ksft_test_result_pass("%s\n", desc);
out:
	close(fd);
}

/*
 * Two writers alternate two valid requests (this process's page, and the same page
 * one byte further: same first line but for addr=) and a third writes garbage, on one
 * shared open file, while this process reads: every answer must be one of the two
 * requests, never a mix, and every read must succeed.
 */
static void test_inspect_concurrent(void)
{
	const char *desc = "inspect: concurrent writers and a reader on one file see whole requests";
	char req[2][64], got[4096], a[2][32];
	pid_t kids[3];
	int fd, i, bad = 0, reads = 0, status;

	fd = open(FOLIOMAP_INSPECT_PATH, O_RDWR);
	if (fd < 0) {
		ksft_test_result_fail("%s: open: %s\n", desc, strerror(errno));
		return;
	}
	for (i = 0; i < 2; i++) {
		snprintf(req[i], sizeof(req[i]), "%d %p", getpid(), (void *)(page + i * 123));
		snprintf(a[i], sizeof(a[i]), "addr=%p ", (void *)(page + i * 123));
	}
	if (inspect_write(fd, req[0], strlen(req[0]))) {
		ksft_test_result_fail("%s: the first request failed\n", desc);
		close(fd);
		return;
	}
	fflush(stdout);
	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int n, e = 0;

			for (n = 0; n < 3000; n++) {
				int err = i < 2 ? inspect_write(fd, req[i], strlen(req[i])) :
					  inspect_write(fd, "1 0xzz", 6);

				if (err != (i < 2 ? 0 : EINVAL))
					e = 1;
			}
			_exit(e);
		}
	}
	for (i = 0; i < 3000; i++) {
		int err = inspect_read(fd, got, sizeof(got));

		reads++;
		if (err) {
			ksft_print_msg("read %d: %s\n", i, strerror(err));
			bad = 1;
			break;
		}
		if (!strstr(got, a[0]) && !strstr(got, a[1])) {
			ksft_print_msg("torn answer: %.200s\n", got);
			bad = 1;
			break;
		}
	}
	for (i = 0; i < 3; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			bad = 1;
	}
	close(fd);
	if (bad) {
		ksft_test_result_fail("%s (%d reads)\n", desc, reads);
		return;
	}
	ksft_test_result_pass("%s\n", desc);
}

/* ---- stats ---- */

static int read_counters(const char *path, uint64_t *v)
{
	char line[256], key[64];
	unsigned long long val;
	unsigned int i = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (i < FOLIOMAP_NR_STATS && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %llu", key, &val) != 2 || strcmp(key, counter_names[i]))
			break;
		v[i++] = val;
	}
	fclose(f);
	return i == FOLIOMAP_NR_STATS ? 0 : -1;
}

static int stats_write(const void *buf, size_t len)
{
	int fd = open(FOLIOMAP_STATS_PATH, O_WRONLY), err = 0;
	ssize_t r;

	if (fd < 0)
		return errno;
	r = write(fd, buf, len);
	if (r < 0)
		err = errno;
	else if ((size_t)r != len)
		err = EIO;
	close(fd);
	return err;
}

/* Some checked transitions, so a reset would show: fault, fork, CoW, unmap. */
static void make_transitions(void)
{
	size_t len = 2 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t c;

	if (p == MAP_FAILED)
		return;
	memset(p, 1, len);
	c = fork();
	if (c == 0) {
		p[0] = 2;
		_exit(0);
	}
	if (c > 0)
		waitpid(c, NULL, 0);
	munmap(p, len);
}

static void test_stats_garbage(void)
{
	const char *desc = "stats: garbage, huge, partial and bad-pointer writes fail and reset nothing";
	static const struct bytes bad[] = {
		BYTES("\n"), BYTES("rese"), BYTES("resetx"), BYTES("reset\n\n"), BYTES(" reset"),
		BYTES("RESET"), BYTES("0"), BYTES("reset all"), BYTES("reset\0"),
		BYTES("reset\n\0"), BYTES("\xff"),
	};
	uint64_t before[FOLIOMAP_NR_STATS], after[FOLIOMAP_NR_STATS];
	uint64_t tbefore[FOLIOMAP_NR_STATS], tafter[FOLIOMAP_NR_STATS];
	char *big, *hole;
	size_t i, len;
	int err;

	make_transitions();
	if (read_counters(FOLIOMAP_STATS_PATH, before) ||
	    read_counters(FOLIOMAP_TOTALS_PATH, tbefore)) {
		ksft_test_result_fail("%s: cannot read the counters\n", desc);
		return;
	}
	if (!before[0]) {
		ksft_test_result_fail("%s: transitions_checked is 0 after a fault, fork and CoW\n",
				      desc);
		return;
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = stats_write(bad[i].s, bad[i].len);
		if (err != EINVAL)
			FAIL_RET("%s: bad command #%zu ('%.*s', %zu bytes) gave %s, expected EINVAL\n",
				 desc, i, (int)strcspn(bad[i].s, "\n"), bad[i].s, bad[i].len,
				 err ? strerror(err) : "success");
	}
	big = malloc(1 << 20);
	if (!big)
		FAIL_RET("%s: malloc\n", desc);
	memset(big, '\n', 1 << 20);
	memcpy(big, "reset", 5);
	for (len = 7; len <= (1 << 20); len *= 8) {
		err = stats_write(big, len);
		if (err != EINVAL) {
			free(big);
			ksft_test_result_fail("%s: a %zu-byte write gave %s, expected EINVAL\n",
					      desc, len, err ? strerror(err) : "success");
			return;
		}
	}
	free(big);
	/* partial: "res" then "et" on one open file are two malformed commands */
	{
		int fd = open(FOLIOMAP_STATS_PATH, O_WRONLY);
		ssize_t r1, r2;

		if (fd < 0)
			FAIL_RET("%s: open: %s\n", desc, strerror(errno));
		r1 = write(fd, "res", 3);
		r2 = write(fd, "et", 2);
		close(fd);
		if (r1 >= 0 || r2 >= 0)
			FAIL_RET("%s: 'res' + 'et' was accepted\n", desc);
	}
	err = stats_write(null_page_ptr, 5);
	if (err != EFAULT)
		FAIL_RET("%s: a NULL-page buffer gave %s, expected EFAULT\n", desc,
				      err ? strerror(err) : "success");
	hole = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED || munmap(hole + 4096, 4096))
		FAIL_RET("%s: mmap: %s\n", desc, strerror(errno));
	memcpy(hole + 4096 - 3, "res", 3);
	err = stats_write(hole + 4096 - 3, 5);
	munmap(hole, 4096);
	if (err != EFAULT)
		FAIL_RET("%s: 'res' running into a hole gave %s, expected EFAULT\n",
				      desc, err ? strerror(err) : "success");

	if (read_counters(FOLIOMAP_STATS_PATH, after) ||
	    read_counters(FOLIOMAP_TOTALS_PATH, tafter))
		FAIL_RET("%s: cannot read the counters again\n", desc);
	/* Counters only grow (the system keeps running); a reset would drop them. */
	for (i = 0; i < FOLIOMAP_NR_STATS; i++) {
		if (after[i] < before[i] || tafter[i] < tbefore[i])
			FAIL_RET("%s: %s went from %" PRIu64 " to %" PRIu64
					      " (totals %" PRIu64 " to %" PRIu64 ")\n", desc,
					      counter_names[i], before[i], after[i], tbefore[i],
					      tafter[i]);
	}
	ksft_test_result_pass("%s\n", desc);
}

/* Resets and garbage from several processes at once, readers alongside. */
static void test_stats_concurrent(void)
{
	const char *desc = "stats: concurrent resets, garbage and reads keep it well-formed";
	uint64_t v[FOLIOMAP_NR_STATS], t0[FOLIOMAP_NR_STATS], t1[FOLIOMAP_NR_STATS];
	pid_t kids[4];
	int i, status, bad = 0;

	if (read_counters(FOLIOMAP_TOTALS_PATH, t0))
		FAIL_RET("%s: cannot read totals\n", desc);
	fflush(stdout);
	for (i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int n, e = 0;

			for (n = 0; n < 500; n++) {
				switch (i) {
				case 0:
					e |= stats_write("reset\n", 6) != 0;
					break;
				case 1:
					e |= stats_write("resex\n", 6) != EINVAL;
					break;
				default:
					e |= read_counters(FOLIOMAP_STATS_PATH, v) != 0;
					e |= read_counters(FOLIOMAP_TOTALS_PATH, v) != 0;
					break;
				}
			}
			_exit(e);
		}
	}
	for (i = 0; i < 4; i++)
		if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			bad = 1;
	if (bad)
		FAIL_RET("%s: a writer or reader failed\n", desc);
	if (read_counters(FOLIOMAP_TOTALS_PATH, t1))
		FAIL_RET("%s: cannot read totals afterwards\n", desc);
	for (i = 0; i < FOLIOMAP_NR_STATS; i++)
		if (t1[i] < t0[i])
			FAIL_RET("%s: totals %s went down (%" PRIu64 " to %" PRIu64
					      "): resets must not touch totals\n", desc,
					      counter_names[i], t0[i], t1[i]);
	ksft_test_result_pass("%s\n", desc);
}

/* ---- kernel addresses ---- */

/* A kernel address: 0xffff followed by 12 hex digits, or a 16-digit word ffff.... */
static const char *find_kernel_address(const char *s)
{
	const char *p;

	for (p = s; (p = strstr(p, "ffff")); p++) {
		size_t n = strspn(p, "0123456789abcdefABCDEF");
		bool prefixed = p >= s + 2 && p[-2] == '0' && (p[-1] == 'x' || p[-1] == 'X');
		bool word = (p == s || !strchr("0123456789abcdefABCDEFxX", p[-1]));

		if (n >= 16 && (prefixed || word))
			return prefixed ? p - 2 : p;
	}
	return NULL;
}

static void test_no_kernel_addresses(void)
{
	const char *desc = "no debugfs file prints a kernel address";
	char req[64], path[256];
	unsigned int i;
	int fd;

	/* give inspect something to show: a request of this process's page */
	fd = open(FOLIOMAP_INSPECT_PATH, O_RDWR);
	if (fd >= 0) {
		snprintf(req, sizeof(req), "%d %p", getpid(), (void *)page);
		if (write(fd, req, strlen(req)) < 0)
			ksft_print_msg("inspect request: %s\n", strerror(errno));
	}
	for (i = 0; i < nr_files; i++) {
		const char *hit;
		char *text;
		size_t len;

		/* Binary records of PFNs and counters (test_trace) */
		if (!strcmp(files[i], FOLIOMAP_TRACE_FILE) ||
		    !strcmp(files[i], FOLIOMAP_TRACE_HEADER_FILE))
			continue;
		if (!strcmp(files[i], FOLIOMAP_INSPECT_FILE)) {
			char buf[4096];

			if (fd < 0 || inspect_read(fd, buf, sizeof(buf)))
				continue;
			text = strdup(buf);
			len = strlen(buf);
		} else {
			path_of(path, sizeof(path), files[i]);
			text = slurp(path, &len);
		}
		if (!text)
			continue;
		if (strlen(text) != len) {
			free(text);
			ksft_test_result_fail("%s: %s contains a NUL byte\n", desc, files[i]);
			goto out;
		}
		hit = find_kernel_address(text);
		if (hit) {
			ksft_test_result_fail("%s: %s prints '%.24s'\n", desc, files[i], hit);
			free(text);
			goto out;
		}
		free(text);
	}
	ksft_test_result_pass("%s (%u files)\n", desc, nr_files);
out:
	if (fd >= 0)
		close(fd);
}

/* ---- the event recorder ---- */

#define TRACE_CTL	DIR_PATH "/" FOLIOMAP_TRACE_CTL_FILE

/* The value of @key in trace_ctl, or -1. */
static long long trace_stat(const char *key)
{
	size_t len, klen = strlen(key);
	long long v = -1;
	char *text = slurp(TRACE_CTL, &len), *line;

	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = strtoll(line + klen + 1, NULL, 10);
	free(text);
	return v;
}

static int trace_ctl(const char *s, size_t len)
{
	int fd = open(TRACE_CTL, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static void test_trace(void)
{
	const char *desc = "trace: garbage refused; a recording drains whole, numbered records";
	static const struct bytes bad[] = {
		BYTES("\n"), BYTES("go"), BYTES("start!"), BYTES("stop\n\n"), BYTES("START"),
		BYTES("start\0"), BYTES("startstartstart"),
	};
	fm_trace_header h;
	unsigned char *rec;
	size_t len, n, k;
	char path[256];
	ssize_t r;
	int fd;

	if (trace_stat("recording") != 0) {
		ksft_test_result_code(KSFT_SKIP, desc,
				      "a recording is running (scripts/record?): not disturbing it");
		return;
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int err = trace_ctl(bad[k].s, bad[k].len);

		if (err != -EINVAL)
			FAIL_RET("%s: writing %zu bytes '%.*s' to trace_ctl: %s\n", desc, bad[k].len,
				 (int)bad[k].len, bad[k].s, err ? strerror(-err) : "accepted");
		if (trace_stat("recording") != 0)
			FAIL_RET("%s: a refused write started a recording\n", desc);
	}
	if (trace_ctl(FOLIOMAP_TRACE_START "\n", 6))
		FAIL_RET("%s: start: %s\n", desc, strerror(errno));
	make_transitions();
	if (trace_ctl(FOLIOMAP_TRACE_STOP, 4) || trace_stat("recording") != 0)
		FAIL_RET("%s: stop failed\n", desc);

	path_of(path, sizeof(path), FOLIOMAP_TRACE_FILE);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		FAIL_RET("%s: open %s: %s\n", desc, path, strerror(errno));
	/* Shorter than a record: nothing, and nothing consumed. */
	r = read(fd, &h, FM_TRACE_RECORD_SIZE - 1);
	close(fd);
	if (r != 0)
		FAIL_RET("%s: a %d-byte read returned %zd\n", desc, FM_TRACE_RECORD_SIZE - 1, r);
	rec = (unsigned char *)slurp(path, &len);
	if (!rec)
		FAIL_RET("%s: reading %s: %s\n", desc, path, strerror(errno));
	path_of(path, sizeof(path), FOLIOMAP_TRACE_HEADER_FILE);
	fd = open(path, O_RDONLY);
	r = fd < 0 ? -1 : read(fd, &h, sizeof(h));
	if (fd >= 0)
		close(fd);
	n = len / FM_TRACE_RECORD_SIZE;
	if (r != sizeof(h) || h.magic != FM_TRACE_MAGIC || h.version != FM_TRACE_VERSION ||
	    h.record_size != FM_TRACE_RECORD_SIZE || h.source != FM_TRACE_SOURCE_KERNEL) {
		free(rec);
		FAIL_RET("%s: trace_header is not a kernel trace header (read %zd)\n", desc, r);
	}
	if (len % FM_TRACE_RECORD_SIZE || !n || h.records != n || h.dropped ||
	    h.events + h.states > n) {
		free(rec);
		FAIL_RET("%s: %zu bytes drained; header: %" PRIu64 " records, %" PRIu64
			 " events, %" PRIu64 " states, %" PRIu64 " dropped\n", desc, len,
			 h.records, h.events, h.states, h.dropped);
	}
	/* Per CPU in order: every seq 1..n exactly once, every op known. */
	{
		unsigned char *seen = calloc(n + 1, 1);

		for (k = 0; seen && k < n; k++) {
			const fm_trace_event *e = (const void *)(rec + k * FM_TRACE_RECORD_SIZE);
			bool known = (e->op >= FM_TRACE_OP_INIT && e->op <= FM_TRACE_OP_FOLIO_SPLIT) ||
				     e->op == FM_TRACE_OP_STATE || e->op == FM_TRACE_OP_STATE_PAGES;

			if (!e->seq || e->seq > n || seen[e->seq]++ || !known) {
				ksft_test_result_fail("%s: record %zu: seq %" PRIu64 " op %u\n",
						      desc, k, e->seq, e->op);
				free(seen);
				free(rec);
				return;
			}
		}
		free(seen);
	}
	free(rec);
	ksft_test_result_pass("%s (%zu records, %" PRIu64 " events)\n", desc, n, h.events);
}

/* The value of "name" in a scope read, or -1. */
static long long scope_value(const char *name)
{
	size_t len, nl = strlen(name);
	char *text = slurp(FOLIOMAP_SCOPE_PATH, &len), *p;
	long long v = -1;

	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (!strncmp(p, name, nl) && p[nl] == ' ') {
			v = atoll(p + nl + 1);
			break;
		}
	free(text);
	return v;
}

static int scope_write(const char *s, size_t len)
{
	int fd = open(FOLIOMAP_SCOPE_PATH, O_WRONLY), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, len) < 0)
		err = errno;
	close(fd);
	return err;
}

/*
 * scope: clear, add this process (and again: no change), a fork's child joins by
 * itself, its page faults count there (the parent only waits meanwhile); garbage and a
 * missing pid are refused.
 */
static void test_scope(void)
{
	const char *desc = "scope: add, fork, count, refuse garbage, clear";
	char pid[16];
	long long before;
	pid_t child;
	int st, err;

	if (scope_write("clear\n", 6) || scope_value(FOLIOMAP_SCOPE_MMS_KEY) != 0 ||
	    scope_value("transitions_checked") != 0) {
		ksft_test_result_fail("%s: clear\n", desc);
		return;
	}
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (scope_write(pid, strlen(pid)) || scope_write(pid, strlen(pid)) ||
	    scope_value(FOLIOMAP_SCOPE_MMS_KEY) != 1) {
		ksft_test_result_fail("%s: adding pid %d\n", desc, getpid());
		return;
	}
	if ((err = scope_write("junk", 4)) != EINVAL || (err = scope_write("0", 1)) != EINVAL ||
	    (err = scope_write("2147483647", 10)) != ESRCH ||
	    (err = scope_write("clear\0x", 7)) != EINVAL) {
		ksft_test_result_fail("%s: a bad write gave %s\n", desc, strerror(err));
		return;
	}
	before = scope_value("op_add_new_anon");
	child = fork();
	if (child == 0) {
		char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		for (int k = 0; m != MAP_FAILED && k < 256; k++)
			m[k * 4096] = 1;
		_exit(0);
	}
	waitpid(child, &st, 0);
	if (scope_value(FOLIOMAP_SCOPE_MMS_KEY) != 2 ||
	    scope_value("op_add_new_anon") <= before) {
		ksft_test_result_fail("%s: the child's mm %s, op_add_new_anon %lld -> %lld\n",
				      desc, scope_value(FOLIOMAP_SCOPE_MMS_KEY) == 2 ?
				      "joined" : "did not join", before,
				      scope_value("op_add_new_anon"));
		return;
	}
	if (scope_write("clear", 5) || scope_value(FOLIOMAP_SCOPE_MMS_KEY) != 0 ||
	    scope_value("op_add_new_anon") != 0) {
		ksft_test_result_fail("%s: the last clear\n", desc);
		return;
	}
	ksft_test_result_pass("%s\n", desc);
}

static const struct {
	const char *desc;
	void (*fn)(void);
} tests[] = {
	{ "unprivileged user", test_unprivileged },
	{ "read-only files", test_readonly_files },
	{ "inspect garbage", test_inspect_garbage },
	{ "inspect read errors", test_inspect_read_errors },
	{ "inspect concurrent", test_inspect_concurrent },
	{ "stats garbage", test_stats_garbage },
	{ "stats concurrent", test_stats_concurrent },
	{ "no kernel addresses", test_no_kernel_addresses },
	{ "event recorder", test_trace },
	{ "scope", test_scope },
};

int main(void)
{
	size_t i, nr = sizeof(tests) / sizeof(tests[0]);

	ksft_print_header();
	/* kselftest's skip of a whole program: "1..0 # SKIP why", exit KSFT_SKIP. */
	if (access(FOLIOMAP_STATS_PATH, F_OK))
		ksft_exit_skip("foliomap module not loaded\n");
	ksft_set_plan(nr);
	if (geteuid() != 0)
		ksft_exit_fail_msg("must run as root (it drops to nobody itself)\n");
	if (list_files())
		ksft_exit_fail_msg("cannot list %s: %s\n", DIR_PATH, strerror(errno));
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	page[0] = 1;
	if (mlock(page, 4096))
		ksft_print_msg("mlock: %s (the page may move)\n", strerror(errno));
	ksft_print_msg("%u files under %s\n", nr_files, DIR_PATH);
	for (i = 0; i < nr; i++)
		tests[i].fn();
	ksft_finished();
}
