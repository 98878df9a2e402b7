/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The entry points of the Rust model object (built by scripts/build-kernel-object)
 * that the module uses. Declared here rather than through include/foliomap.h, which
 * is written for userspace C (stdint.h, stdbool.h) and cannot be included in kernel
 * code as is.
 */
#ifndef FOLIOMAP_RUST_H
#define FOLIOMAP_RUST_H

/* The library version as a NUL-terminated string with static lifetime. */
const char *fm_version(void);

#endif /* FOLIOMAP_RUST_H */
