/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * csim: a userspace simulator of Linux 7.3 anonymous large-folio mappings on top of
 * libfoliomap (include/foliomap.h only). Processes, VMAs, page tables (PTE and PMD)
 * and folios are modelled here; every rmap / fork / CoW / split / migration call the
 * kernel would make is made on the library, with the kernel's batch sizes.
 *
 * The spec referred to as "spec §N" is shared/spec/linux-7.3-folio-accounting.md.
 */
#ifndef CSIM_H
#define CSIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "foliomap.h"
#include "scn.h"

#define CSIM_PAGE_SIZE 4096ull
#define CSIM_PTRS_PER_PT 512u			       /* PTEs per page table */
#define CSIM_PMD_SIZE (CSIM_PAGE_SIZE * CSIM_PTRS_PER_PT) /* 2 MiB */
#define CSIM_VA_PMDS 8192u			       /* simulated address space: 16 GiB */
#define CSIM_PMD_CHUNK 64u			       /* PMD entries per directory chunk */
#define CSIM_PMD_CHUNKS (CSIM_VA_PMDS / CSIM_PMD_CHUNK)
#define CSIM_MAX_PROCS 64			       /* live processes at a time; <= 64 */
#define CSIM_NAME_LEN SCN_NAME_LEN
#define CSIM_MAX_REGIONS 64			       /* named regions per process */
#define CSIM_PT_POOL 64				       /* freed PTE tables kept for reuse */
#define CSIM_MIGRATE_PASSES 10			       /* NR_MAX_MIGRATE_PAGES_RETRY */

/* A simulated folio: the library's accounting state plus what the simulator needs. */
struct folio {
	fm_folio f;
	uint64_t serial;		 /* identity in a trace (trace.c), never reused */
	fm_page *pages;
	unsigned int order;
	int node;
	uint8_t *nonzero;		 /* page holds non-zero data (spec §6.4 step 7) */
	bool clean;			 /* no dirty PTE/PMD, no PG_dirty: an unshare copy
					  * never written (smaps *_Clean) */
	uint16_t maps[CSIM_MAX_PROCS];	 /* exact PTE+PMD entries per process slot */
	struct folio *prev, *next;	 /* list of live folios */
};

/* A page-table entry (PTE) of the simulated x86-64 page tables. */
enum {
	PTE_PRESENT = 1 << 0,
	PTE_WRITE = 1 << 1,
	PTE_ZERO = 1 << 2,	/* maps the shared zeropage (folio == NULL) */
	PTE_MIGRATION = 1 << 3, /* a migration entry (not present); type in `entry` */
};

struct pte {
	struct folio *folio;
	uint16_t page;	/* index of the mapped page within the folio */
	uint8_t flags;
	uint8_t entry;	/* fm_migration_entry of a migration entry */
};

/* A PMD: none, a PTE table, a huge PMD mapping an order-9 folio, or the huge zeropage. */
struct pmd {
	struct pte *table;
	struct folio *huge;
	uint8_t flags; /* PTE_* bits for the huge mapping */
	uint8_t entry;
};

struct vma {
	uint64_t start, end;
	uint64_t pgoff;	  /* vm_pgoff: page index of `start` (mmap address >> 12, kept by mremap) */
	bool writable;	  /* PROT_READ|PROT_WRITE, else PROT_READ */
	bool account;	  /* VM_ACCOUNT (mm/mprotect.c mprotect_fixup changes it) */
	uint32_t anon_vma; /* identity of its anon_vma, 0 = none: fork copies page tables only
			    * with one; VMAs with different ones never merge */
	bool fork_child;  /* anon_vma_chain cloned by fork (not singular, mm/vma.c
			   * vma_is_fork_child): it merges only with VMAs of its own anon_vma */
	uint64_t avc_seq; /* when its anon_vma_chain entries were last (re)inserted into the
			   * anon_vma interval trees: the rmap walk order among equal pgoff */
	int region;	  /* index of the region it was created for; VMAs merge only within one */
};

/* A name for an address range, as the scenario refers to it (R+off). */
struct region {
	char name[CSIM_NAME_LEN];
	uint64_t base, size;
	bool live;
};

struct pin {
	struct folio *folio;
	uint64_t addr;	/* user address at pin time (unpin selects by range) */
};

struct proc {
	char name[CSIM_NAME_LEN];
	bool live;
	uint32_t mm_id;
	bool has_pinned;	/* MMF_HAS_PINNED (spec §1.7) */
	struct vma *vmas;	/* sorted by address */
	int nr_vmas, cap_vmas;
	struct region regions[CSIM_MAX_REGIONS];
	int nr_regions;
	/* The PMD level, sparse: chunks of CSIM_PMD_CHUNK entries (128 MiB), allocated when
	 * an entry in them is first populated, freed when free_pgtables empties them; so
	 * fork, exit and munmap cost what is mapped, not the size of the address space. */
	struct pmd *pmd_chunk[CSIM_PMD_CHUNKS];
	uint16_t chunk_list[CSIM_PMD_CHUNKS]; /* indices of the allocated chunks */
	int nr_chunks;
	struct pin *pins;
	int nr_pins, cap_pins;
};

struct sim_stats {
	uint64_t outcomes[ACC_NR];
	uint64_t folios_by_order[FM_MAX_ORDER + 1];
	uint64_t newly_partially_mapped;  /* PG_partially_mapped set (any operation) */
	uint64_t copies_maybe_shared;	  /* COPY because S was set (spec §7.4 step 2) */
	uint64_t copies_false_shared;	  /* ... while one mm mapped the folio (exact count) */
	uint64_t forks, exits, zaps, mremaps, pmd_splits;
};

struct sim {
	uint32_t mode;		/* FM_MODE_PMC / FM_MODE_NOPMC */
	bool thp[FM_MAX_ORDER + 1];	/* hugepages-<size>/enabled == always, by order */
	fm_mm_ids ids;
	uint64_t id_bits[4];
	struct proc procs[CSIM_MAX_PROCS];
	uint64_t live_mask;	/* bit i: procs[i].live (CSIM_MAX_PROCS <= 64) */
	uint32_t next_anon_vma;	/* last anon_vma identity given out */
	uint64_t next_avc_seq;	/* last struct vma.avc_seq given out */
	uint64_t va_cursor;	/* next PMD index tried for a new region */
	struct folio *folios;	/* live folios */
	uint64_t nr_folios;
	struct sim_stats st;
	struct pte *pt_pool[CSIM_PT_POOL]; /* freed PTE tables, for reuse */
	int nr_pt_pool;
	char err[256];		/* why the last operation was refused */
};

_Static_assert(CSIM_MAX_PROCS <= 64, "sim.live_mask has one bit per process slot");

/* Library calls made so far (every fm_* call of sim.c): the generator's model-call rate. */
extern uint64_t csim_fm_calls;

/* sim.c: the machine. Functions returning int give 0, or -1 with sim->err set. */
void sim_init(struct sim *s, uint32_t mode);
void sim_destroy(struct sim *s);
struct proc *sim_proc(struct sim *s, const char *name);
int sim_spawn(struct sim *s, const char *name);
int sim_region(struct sim *s, struct proc *p, const char *name);
int sim_mmap(struct sim *s, struct proc *p, const char *region, uint64_t size,
	     uint64_t misalign);
int sim_access(struct sim *s, struct proc *p, uint64_t addr, bool write,
	       enum access_outcome *out);
int sim_fork(struct sim *s, struct proc *parent, const char *child);
int sim_exit(struct sim *s, struct proc *p);
int sim_munmap(struct sim *s, struct proc *p, uint64_t start, uint64_t end);
int sim_madv_dontneed(struct sim *s, struct proc *p, uint64_t start, uint64_t end);
int sim_mprotect(struct sim *s, struct proc *p, uint64_t start, uint64_t end, bool writable);
int sim_mremap(struct sim *s, struct proc *p, int region, uint64_t misalign);
int sim_pin(struct sim *s, struct proc *p, uint64_t addr, bool write,
	    enum access_outcome *out);
int sim_unpin(struct sim *s, struct proc *p, uint64_t start, uint64_t end, int *nr);
int sim_migrate(struct sim *s, struct proc *p, uint64_t start, uint64_t end, int node,
		bool move_all, int *moved, int *failed);
int sim_split(struct sim *s, struct proc *p, uint64_t addr, bool *split);
/* The PMD entry of `addr` in `p`, NULL when none is populated there (not allocated). */
const struct pmd *sim_pmd(const struct proc *p, uint64_t addr);
/* What maps `addr` in `p`: a folio and page, the zeropage, or nothing. */
enum lookup_kind { LOOK_NONE, LOOK_ZERO, LOOK_HUGE_ZERO, LOOK_FOLIO };
enum lookup_kind sim_lookup(struct sim *s, struct proc *p, uint64_t addr, struct folio **f,
			    unsigned int *page);
/* `expect pte` / `expect pmd` (FORMAT.md): the entry at addr, relative to `shown`. */
const char *sim_pte_view(const struct proc *p, uint64_t addr, const struct folio *shown);
const char *sim_pmd_view(const struct proc *p, uint64_t addr, const struct folio *shown);
int sim_mms_mapping(const struct folio *f);
const char *sim_id_name(struct sim *s, uint32_t id);
/* Cross-checks every live folio against the exact page-table count; -1 on mismatch. */
int sim_check(struct sim *s);
/* A digest of the whole simulated state, independent of allocation addresses. */
uint64_t sim_digest(struct sim *s);
uint64_t sim_mix(uint64_t h, uint64_t v);

/* scenario.c: the scenario language and the transcript. */
/* Runs a scenario file; `states`: after every step that can change something (not `show`,
 * `query`, `expect`), every live large folio as `show` prints it, and at the end how many
 * expectations were checked (csim --states). */
int scenario_run(const char *path, uint32_t mode, bool states, FILE *out);

/* svg.c: csim --svg FILE, a picture of the folio at each `show` (f NULL: none there). */
int svg_open(const char *path);
bool svg_enabled(void);
void svg_frame(struct sim *s, const struct folio *f, unsigned int page, const char *step,
	       const char *fields);
int svg_close(uint32_t mode);

/* gen.c: the random workload generator. */
struct gen_opts {
	int procs;
	uint64_t events;
	uint64_t seed;
	uint32_t mode;
	bool quiet;
};
int gen_run(const struct gen_opts *o, FILE *out);

/* fuzz.c: random valid scenario files (csim --gen-scn). */
struct fuzz_opts {
	uint64_t seed, count, steps;
	const char *dir;
};
int fuzz_gen(const struct fuzz_opts *o);


#endif /* CSIM_H */
