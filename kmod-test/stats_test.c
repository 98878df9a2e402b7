// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The foliomap module's statistics file (c-shim/foliomap_debugfs.h): present when the
 * module is loaded, root only, every counter listed in order, "reset" zeroes them,
 * anything else is refused, and the mode matches the kernel the VM booted.
 *
 * Without the module (vm-run --no-module) the whole program is skipped (exit 4).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "foliomap_debugfs.h"
#include "kselftest.h"

static const char *const counter_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

#define NR_COUNTERS FOLIOMAP_NR_STATS

struct stats {
	uint64_t counters[NR_COUNTERS];
	char version[128];
	char mode[16];
};

/*
 * Parse the stats file strictly: counters first, in header order, then version and
 * mode, nothing else. Returns 0, or -1 with the reason in why.
 */
static int read_stats(struct stats *st, char *why, size_t why_len)
{
	char line[256], key[64], value[128];
	unsigned int lineno = 0;
	FILE *f;

	f = fopen(FOLIOMAP_STATS_PATH, "r");
	if (!f) {
		snprintf(why, why_len, "open %s: %s", FOLIOMAP_STATS_PATH, strerror(errno));
		return -1;
	}
	memset(st, 0, sizeof(*st));
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (sscanf(line, "%63s %127s", key, value) != 2) {
			snprintf(why, why_len, "line %u is not 'name value': %.100s", lineno + 1, line);
			goto fail;
		}
		if (lineno < NR_COUNTERS) {
			if (strcmp(key, counter_names[lineno])) {
				snprintf(why, why_len, "line %u is '%.40s', expected counter '%s'",
					 lineno + 1, key, counter_names[lineno]);
				goto fail;
			}
			errno = 0;
			st->counters[lineno] = strtoull(value, &end, 10);
			if (errno || *end || value[0] == '-') {
				snprintf(why, why_len, "counter %.40s has value '%.40s'", key, value);
				goto fail;
			}
		} else if (lineno == NR_COUNTERS && !strcmp(key, FOLIOMAP_STATS_VERSION_KEY)) {
			snprintf(st->version, sizeof(st->version), "%s", value);
		} else if (lineno == NR_COUNTERS + 1 && !strcmp(key, FOLIOMAP_STATS_MODE_KEY)) {
			snprintf(st->mode, sizeof(st->mode), "%.15s", value);
		} else {
			snprintf(why, why_len, "unexpected line %u: %.100s", lineno + 1, line);
			goto fail;
		}
		lineno++;
	}
	fclose(f);
	if (lineno != NR_COUNTERS + 2) {
		snprintf(why, why_len, "%u lines, expected %u", lineno, NR_COUNTERS + 2);
		return -1;
	}
	return 0;
fail:
	fclose(f);
	return -1;
}

/* Write buf to the stats file; returns 0 or the errno of the failed write. */
static int write_stats(const char *buf, size_t len)
{
	ssize_t ret;
	int fd, err = 0;

	fd = open(FOLIOMAP_STATS_PATH, O_WRONLY);
	if (fd < 0)
		return errno;
	ret = write(fd, buf, len);
	if (ret < 0)
		err = errno;
	else if ((size_t)ret != len)
		err = EIO;
	close(fd);
	return err;
}

/* Only root may read or reset the counters: they describe other processes' memory. */
static void test_root_only(void)
{
	struct stat sb;

	if (stat(FOLIOMAP_STATS_PATH, &sb)) {
		ksft_test_result_fail("stats file is root only: stat: %s\n", strerror(errno));
		return;
	}
	if ((sb.st_mode & 07777) != 0600 || sb.st_uid != 0) {
		ksft_test_result_fail("stats file is root only: mode %04o uid %u\n",
				      sb.st_mode & 07777, sb.st_uid);
		return;
	}
	ksft_test_result_pass("stats file is root only\n");
}

/* The format of foliomap_debugfs.h, line by line. */
static void test_format(void)
{
	char why[256];
	struct stats st;

	if (read_stats(&st, why, sizeof(why))) {
		ksft_test_result_fail("stats lists every counter, then version and mode: %s\n",
				      why);
		return;
	}
	ksft_test_result_pass("stats lists every counter, then version and mode\n");
}

/* The module reports the configuration it was built for, which must be the booted one. */
static void test_mode(void)
{
	/* the mode of the booted flavour (the debug kernel is a pmc one) */
	const char *expected = getenv("FOLIOMAP_MODE") ?: getenv("FOLIOMAP_KERNEL");
	char why[256];
	struct stats st;

	if (read_stats(&st, why, sizeof(why))) {
		ksft_test_result_fail("mode matches the booted kernel: %s\n", why);
		return;
	}
	ksft_print_msg("version %s, mode %s\n", st.version, st.mode);
	if (strcmp(st.mode, FOLIOMAP_MODE_PMC) && strcmp(st.mode, FOLIOMAP_MODE_NOPMC)) {
		ksft_test_result_fail("mode matches the booted kernel: unknown mode '%s'\n",
				      st.mode);
		return;
	}
	if (expected && strcmp(st.mode, expected)) {
		ksft_test_result_fail("mode matches the booted kernel: '%s', kernel is '%s'\n",
				      st.mode, expected);
		return;
	}
	if (!st.version[0]) {
		ksft_test_result_fail("mode matches the booted kernel: empty version\n");
		return;
	}
	ksft_test_result_pass("mode matches the booted kernel%s\n",
			      expected ? "" : " (kernel unknown)");
}

/* "reset", with or without a newline (echo adds one), zeroes every counter. */
static void test_reset(void)
{
	static const char *const commands[] = { FOLIOMAP_STATS_RESET "\n", FOLIOMAP_STATS_RESET };
	char why[256];
	struct stats st;
	size_t i, c;
	int err;

	/*
	 * The module counts every rmap transition in the system, this process's page faults
	 * included: map everything now so nothing here faults between reset and read.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		ksft_test_result_fail("writing reset zeroes the counters: mlockall: %s\n",
				      strerror(errno));
		return;
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		err = write_stats(commands[c], strlen(commands[c]));
		if (err) {
			ksft_test_result_fail("writing reset zeroes the counters: write: %s\n",
					      strerror(err));
			return;
		}
		if (read_stats(&st, why, sizeof(why))) {
			ksft_test_result_fail("writing reset zeroes the counters: %s\n", why);
			return;
		}
		for (i = 0; i < NR_COUNTERS; i++) {
			if (st.counters[i]) {
				ksft_test_result_fail("writing reset zeroes the counters: %s is %" PRIu64 "\n",
						      counter_names[i], st.counters[i]);
				return;
			}
		}
	}
	munlockall();
	ksft_test_result_pass("writing reset zeroes the counters\n");
}

/* Anything but "reset" is refused with EINVAL, so typos are not silently ignored. */
static void test_malformed_writes(void)
{
	static const char *const bad[] = { "", "\n", "rese", "resetx", "reset\n\n", "0", "reset all" };
	size_t i;
	int err;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* write(fd, "", 0) never reaches the module: only check non-empty input. */
		if (!bad[i][0])
			continue;
		err = write_stats(bad[i], strlen(bad[i]));
		if (err != EINVAL) {
			ksft_test_result_fail("malformed writes fail with EINVAL: '%s' gave %s\n",
					      bad[i], err ? strerror(err) : "success");
			return;
		}
	}
	ksft_test_result_pass("malformed writes fail with EINVAL\n");
}

static const struct {
	const char *desc;
	void (*fn)(void);
} tests[] = {
	{ "stats file is root only", test_root_only },
	{ "stats lists every counter, then version and mode", test_format },
	{ "mode matches the booted kernel", test_mode },
	{ "writing reset zeroes the counters", test_reset },
	{ "malformed writes fail with EINVAL", test_malformed_writes },
};

int main(void)
{
	size_t i, nr = sizeof(tests) / sizeof(tests[0]);

	ksft_print_header();
	/* kselftest's skip of a whole program: "1..0 # SKIP why", exit KSFT_SKIP. */
	if (access(FOLIOMAP_STATS_PATH, F_OK))
		ksft_exit_skip("foliomap module not loaded\n");
	ksft_set_plan(nr);
	for (i = 0; i < nr; i++)
		tests[i].fn();
	ksft_finished();
}
