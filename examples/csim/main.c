// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * csim [--mode pmc|nopmc] FILE.scn
 * csim --generate --procs N --events E [--seed S] [--mode pmc|nopmc] [--quiet]
 * csim --gen-scn [--seed S] [--count N] [--steps K] --out DIR   (random scenario files)
 * --trace FILE (with a scenario or --generate): every model call on a folio is written
 * to FILE in the record-and-replay format (trace.h), for rust/foliomap-replay.
 * --svg FILE (with a scenario): the folio after each `show` drawn into FILE (svg.c).
 * --states (with a scenario): after each step, every large folio in `show`'s notation.
 *
 * Exit status: 0 ok, 1 an expectation failed, 2 bad usage or scenario error,
 * 3 internal error (the simulator and the model disagree, or a refused library call).
 */
#include "csim.h"
#include "trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr,
		"usage: csim [--mode pmc|nopmc] [--trace FILE] [--svg FILE] [--states] FILE.scn\n"
		"       csim --generate --procs N --events E [--seed S] [--mode pmc|nopmc] "
		"[--quiet] [--trace FILE]\n"
		"       csim --gen-scn [--seed S] [--count N] [--steps K] --out DIR\n");
	return 2;
}

static bool number(const char *t, uint64_t *v)
{
	char *end;

	if (!t || !*t || *t == '-')
		return false;
	*v = strtoull(t, &end, 0);
	return !*end;
}

int main(int argc, char **argv)
{
	struct gen_opts g = { .procs = 8, .events = 100000, .seed = 1, .mode = FM_MODE_PMC };
	struct fuzz_opts fz = { .count = 1, .steps = 40 };
	bool generate = false, gen_scn = false, states = false;
	const char *file = NULL, *trace = NULL, *svg = NULL;
	uint64_t v;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--mode") && i + 1 < argc) {
			a = argv[++i];
			if (!strcmp(a, "pmc"))
				g.mode = FM_MODE_PMC;
			else if (!strcmp(a, "nopmc"))
				g.mode = FM_MODE_NOPMC;
			else
				return usage();
		} else if (!strcmp(a, "--generate")) {
			generate = true;
		} else if (!strcmp(a, "--procs") && i + 1 < argc) {
			if (!number(argv[++i], &v) || v < 1 || v > CSIM_MAX_PROCS)
				return usage();
			g.procs = (int)v;
		} else if (!strcmp(a, "--events") && i + 1 < argc) {
			if (!number(argv[++i], &g.events))
				return usage();
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			if (!number(argv[++i], &g.seed))
				return usage();
		} else if (!strcmp(a, "--gen-scn")) {
			gen_scn = true;
		} else if (!strcmp(a, "--count") && i + 1 < argc) {
			if (!number(argv[++i], &fz.count))
				return usage();
		} else if (!strcmp(a, "--steps") && i + 1 < argc) {
			if (!number(argv[++i], &fz.steps) || fz.steps < 2 || fz.steps > 10000)
				return usage();
		} else if (!strcmp(a, "--out") && i + 1 < argc) {
			fz.dir = argv[++i];
		} else if (!strcmp(a, "--trace") && i + 1 < argc) {
			trace = argv[++i];
		} else if (!strcmp(a, "--svg") && i + 1 < argc) {
			svg = argv[++i];
		} else if (!strcmp(a, "--states")) {
			states = true;
		} else if (!strcmp(a, "--quiet")) {
			g.quiet = true;
		} else if (a[0] == '-' || file) {
			return usage();
		} else {
			file = a;
		}
	}
	if (gen_scn) {
		if (generate || file || !fz.dir || trace || svg || states)
			return usage();
		fz.seed = g.seed;
		return fuzz_gen(&fz);
	}
	if (generate ? file != NULL || svg || states : !file)
		return usage();
	if (svg && svg_open(svg)) {
		fprintf(stderr, "csim: cannot write the picture %s: %s\n", svg, strerror(errno));
		return 2;
	}
	if (trace && trace_open(trace, g.mode)) {
		fprintf(stderr, "csim: cannot write the trace %s\n", trace);
		return 2;
	}
	rc = generate ? gen_run(&g, stdout) : scenario_run(file, g.mode, states, stdout);
	if (trace_close()) {
		fprintf(stderr, "csim: writing the trace %s failed\n", trace);
		return 3;
	}
	if (svg_close(g.mode)) {
		fprintf(stderr, "csim: writing the picture %s failed: %s\n", svg, strerror(errno));
		return 3;
	}
	return rc;
}
