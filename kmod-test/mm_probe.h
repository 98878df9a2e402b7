/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the kernel itself says about a process's memory, for the kmod-tests and scn_run:
 * pagemap entries and PFNs from /proc/{self,PID}/pagemap, page flags from
 * /proc/kpageflags, counters from /proc/vmstat and AnonHugePages from /proc/self/smaps.
 */
#ifndef KMOD_TEST_MM_PROBE_H
#define KMOD_TEST_MM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT		(1ULL << 63)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_PFN_MASK		((1ULL << 55) - 1)

/* Opens pagemap and kpageflags; 0 or -errno. */
int mm_probe_open(void);
/* After fork: /proc/self/pagemap is bound to the opener's mm, so the child reopens it. */
int mm_probe_reopen_pagemap(void);

/*
 * The pagemap entries of the @n pages from @addr of process @pid into @entries, in one
 * read: @pid 0 is this process, through the file mm_probe_open/_reopen_pagemap keep
 * open; another pid's file is opened for this read (its PFNs show to root). 0 or -errno.
 */
int pagemap_read(pid_t pid, uint64_t addr, uint64_t *entries, size_t n);
/* This process's pagemap entry of addr, 0 when unreadable (as if not present). */
uint64_t pagemap_entry(const void *addr);
/* The PFN mapping addr, or 0 when nothing is mapped (or PFNs are hidden). */
uint64_t pfn_of(const void *addr);
/* The /proc/kpageflags word of a PFN (0 if unreadable). */
uint64_t kpageflags_of(uint64_t pfn);
/* Whether the PFN belongs to a transparent huge page (KPF_THP: any large anon folio). */
bool pfn_is_thp(uint64_t pfn);

/* The line names of the foliomap module's counter files, by enum foliomap_stat. */
extern const char *const foliomap_stat_names[];

/*
 * Reads the foliomap module's counter file @path (FOLIOMAP_STATS_PATH or
 * FOLIOMAP_TOTALS_PATH) into @v, indexed by enum foliomap_stat. Returns 0 when every
 * counter was found, -1 otherwise (no module, an unreadable file, a missing name).
 */
int foliomap_read_counters(const char *path, uint64_t *v);
/* A "name value" counter of /proc/vmstat, or -1. */
long long vmstat_read(const char *name);
/*
 * Drains every CPU's per-CPU LRU batches (move_pages() of no pages runs
 * lru_cache_disable()): a page a batch on another CPU still holds has one reference
 * more, which turns the kernel's 4 KiB reuse into a copy. 0 or -errno.
 */
int lru_drain_all(void);
/* The NUMA node of the page mapped at addr (move_pages() without nodes), or -errno. */
int page_node(const void *addr);
/*
 * A sysfs/procfs setting's value into val (len bytes): a number, or the bracketed word
 * of a choice ("always [inherit] never" -> "inherit"); "" when unreadable.
 */
void setting_read(const char *path, char *val, size_t len);
/* AnonHugePages (kB) of the VMA containing addr, from /proc/self/smaps, or -1. */
long smaps_anon_huge_kb(const void *addr);

#endif /* KMOD_TEST_MM_PROBE_H */
