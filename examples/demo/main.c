// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * foliomap demo: runs spec scenarios through libfoliomap.a and prints every step.
 * Build: cc -std=c11 -Iinclude examples/demo/main.c examples/demo/spec_scenarios.c \
 *        -Ltarget/release -lfoliomap
 */
#include <stdio.h>

#include "foliomap.h"
#include "spec_scenarios.h"

int main(void)
{
	char msg[512];
	int checks;

	printf("foliomap %s: Linux 7.3 large-folio accounting, spec scenarios via the C API\n",
	       fm_version());
	if (fm_run_spec_scenarios(stdout, msg, sizeof(msg), &checks)) {
		fprintf(stderr, "MISMATCH: %s\n", msg);
		return 1;
	}
	printf("all steps match the spec (%d field checks)\n", checks);
	return 0;
}
