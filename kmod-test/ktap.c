// SPDX-License-Identifier: MIT OR Apache-2.0
/* The TAP 13 harness described in ktap.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktap.h"

static unsigned int ktap_planned;
static unsigned int ktap_pass, ktap_fail, ktap_skip;

static unsigned int ktap_next_number(void)
{
	return ktap_pass + ktap_fail + ktap_skip + 1;
}

void ktap_print_header(unsigned int nr_tests)
{
	ktap_planned = nr_tests;
	printf("TAP version 13\n1..%u\n", nr_tests);
	fflush(stdout);
}

static void ktap_vprint_msg(const char *fmt, va_list ap)
{
	size_t len = strlen(fmt);

	fputs("# ", stdout);
	vprintf(fmt, ap);
	if (len == 0 || fmt[len - 1] != '\n')
		putchar('\n');
	fflush(stdout);
}

void ktap_print_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_vprint_msg(fmt, ap);
	va_end(ap);
}

static void ktap_result(const char *status, const char *directive, const char *fmt, va_list ap)
{
	printf("%s %u ", status, ktap_next_number());
	vprintf(fmt, ap);
	if (directive)
		printf(" # SKIP %s", directive);
	putchar('\n');
	fflush(stdout);
}

void ktap_test_pass(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_result("ok", NULL, fmt, ap);
	va_end(ap);
	ktap_pass++;
}

void ktap_test_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_result("not ok", NULL, fmt, ap);
	va_end(ap);
	ktap_fail++;
}

void ktap_test_skip(const char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_result("ok", why, fmt, ap);
	va_end(ap);
	ktap_skip++;
}

void ktap_finished(void)
{
	unsigned int ran = ktap_pass + ktap_fail + ktap_skip;

	if (ran != ktap_planned) {
		ktap_print_msg("planned %u tests but ran %u", ktap_planned, ran);
		ktap_fail++;
	}
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       ktap_pass, ktap_fail, ktap_skip);
	fflush(stdout);
	if (ktap_fail)
		exit(KTAP_EXIT_FAIL);
	if (ktap_pass == 0 && ktap_skip)
		exit(KTAP_EXIT_SKIP);
	exit(KTAP_EXIT_PASS);
}

void ktap_exit_fail_msg(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	while (ktap_next_number() <= ktap_planned)
		ktap_fail++;
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       ktap_pass, ktap_fail, ktap_skip);
	fflush(stdout);
	exit(KTAP_EXIT_FAIL);
}
