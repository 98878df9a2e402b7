// SPDX-License-Identifier: MIT OR Apache-2.0
/* See mm_probe.h. */
#include "mm_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <linux/kernel-page-flags.h>

#include "foliomap_debugfs.h"

static int pagemap_fd = -1, kpageflags_fd = -1;

static uint64_t read_u64_at(int fd, uint64_t index)
{
	uint64_t value;

	if (pread(fd, &value, sizeof(value), index * sizeof(value)) != sizeof(value))
		return 0;
	return value;
}

int mm_probe_reopen_pagemap(void)
{
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	return pagemap_fd < 0 ? -errno : 0;
}

int mm_probe_open(void)
{
	int err = mm_probe_reopen_pagemap();

	if (err)
		return err;
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	return kpageflags_fd < 0 ? -errno : 0;
}

int pagemap_read(pid_t pid, uint64_t addr, uint64_t *entries, size_t n)
{
	size_t len = n * sizeof(*entries);
	off_t off = (off_t)(addr / sysconf(_SC_PAGESIZE) * sizeof(*entries));
	int fd = pagemap_fd, err = 0;
	ssize_t got;

	if (pid) {
		char path[32];

		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -errno;
	}
	got = pread(fd, entries, len, off);
	if (got < 0)
		err = -errno;
	else if ((size_t)got != len)
		err = -EIO;	/* the range ran past the end of the address space */
	if (pid)
		close(fd);
	return err;
}

uint64_t pagemap_entry(const void *addr)
{
	uint64_t entry;

	return pagemap_read(0, (uintptr_t)addr, &entry, 1) ? 0 : entry;
}

uint64_t pfn_of(const void *addr)
{
	uint64_t entry = pagemap_entry(addr);

	return (entry & PM_PRESENT) ? entry & PM_PFN_MASK : 0;
}

uint64_t kpageflags_of(uint64_t pfn)
{
	return read_u64_at(kpageflags_fd, pfn);
}

bool pfn_is_thp(uint64_t pfn)
{
	return kpageflags_of(pfn) & (1ULL << KPF_THP);
}

long long vmstat_read(const char *name)
{
	char key[64];
	long long value, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &value) == 2) {
		if (!strcmp(key, name)) {
			found = value;
			break;
		}
	}
	fclose(f);
	return found;
}

long smaps_anon_huge_kb(const void *addr)
{
	char line[256];
	bool in_vma = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in_vma = start <= (uintptr_t)addr && (uintptr_t)addr < end;
			continue;
		}
		if (in_vma && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

const char *const foliomap_stat_names[FOLIOMAP_NR_STATS] = FOLIOMAP_STAT_NAMES;

int foliomap_read_counters(const char *path, uint64_t *v)
{
	char key[64];
	unsigned long long value;
	unsigned int i, found = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %llu", key, &value) == 2)
		for (i = 0; i < FOLIOMAP_NR_STATS; i++)
			if (!strcmp(key, foliomap_stat_names[i])) {
				v[i] = value;
				found++;
			}
	fclose(f);
	return found == FOLIOMAP_NR_STATS ? 0 : -1;
}

int lru_drain_all(void)
{
	int node = 0;

	return syscall(SYS_move_pages, 0, 0UL, NULL, &node, NULL, 0) ? -errno : 0;
}

int page_node(const void *addr)
{
	void *pages[1] = { (void *)addr };
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, pages, NULL, &status, 0))
		return -errno;
	return status;
}

void setting_read(const char *path, char *val, size_t len)
{
	char buf[256] = "", *open_br, *close_br;
	FILE *f = fopen(path, "r");

	val[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		open_br = strchr(buf, '[');
		close_br = open_br ? strchr(open_br, ']') : NULL;
		if (close_br) {
			*close_br = '\0';
			snprintf(val, len, "%s", open_br + 1);
		} else {
			buf[strcspn(buf, " \n")] = '\0';
			snprintf(val, len, "%s", buf);
		}
	}
	fclose(f);
}
