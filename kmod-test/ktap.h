/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A small TAP 13 harness for foliomap's VM tests, in the spirit of the kernel's
 * kselftest.h: a plan line, one "ok N desc" / "not ok N desc" / "ok N desc # SKIP why"
 * per test, diagnostics as "# ..." lines, and a closing
 * "# Totals: pass:P fail:F xfail:0 xpass:0 skip:S error:0" line.
 *
 * Exit status (ktap_finished): 0 when nothing failed and something passed, 1 when a
 * test failed or the number of results does not match the plan, 4 when everything
 * was skipped (kselftest's KSFT_SKIP).
 */
#ifndef FOLIOMAP_KTAP_H
#define FOLIOMAP_KTAP_H

#define KTAP_EXIT_PASS	0
#define KTAP_EXIT_FAIL	1
#define KTAP_EXIT_SKIP	4

#define KTAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* "TAP version 13" and the plan line "1..nr_tests". */
void ktap_print_header(unsigned int nr_tests);
/* A "# ..." diagnostic line (a newline is added when missing). */
void ktap_print_msg(const char *fmt, ...) KTAP_PRINTF(1, 2);
void ktap_test_pass(const char *fmt, ...) KTAP_PRINTF(1, 2);
void ktap_test_fail(const char *fmt, ...) KTAP_PRINTF(1, 2);
/* Reports "ok N <desc> # SKIP <why>". */
void ktap_test_skip(const char *why, const char *fmt, ...) KTAP_PRINTF(2, 3);
/* Prints the Totals line and exits with the status described above. */
void ktap_finished(void) __attribute__((noreturn));
/* Every remaining planned test is reported failed ("Bail out!") and the program exits 1. */
void ktap_exit_fail_msg(const char *fmt, ...) KTAP_PRINTF(1, 2) __attribute__((noreturn));

#endif /* FOLIOMAP_KTAP_H */
