/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#ifndef FOLIOMAP_SPEC_SCENARIOS_H
#define FOLIOMAP_SPEC_SCENARIOS_H

#include <stddef.h>
#include <stdio.h>

/*
 * Runs spec scenarios S06, S24, S10 and S11 in both modes through the C API. Prints each
 * step to `out` unless it is NULL. Returns 0, or -1 with a message in msg[msglen].
 * *checks receives the number of field comparisons made.
 */
int fm_run_spec_scenarios(FILE *out, char *msg, size_t msglen, int *checks);

#endif
