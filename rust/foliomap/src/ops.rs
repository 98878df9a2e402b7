//! Call-site operations: what the kernel's callers do around the rmap primitives,
//! including the references they take and drop (spec §3.11): faults, fork (§5), zap
//! (§6.2), PMD split (§6.1), folio split precondition (§6.4), migration (§6.5, §6.6),
//! write faults (§7), pins and the swap cache.

use crate::kernel::{EAGAIN, EBUSY, PMD_NR, PMD_ORDER};
use crate::query;
use crate::rmap::{self, check_mm, check_pmd, check_range, Kind};
use crate::store::FolioStore;
use crate::types::{
    CowDecision, CowFacts, CowOutcome, CowReason, ForkOutcome, MigrateUnmapOutcome, MigrationEntry,
    RmapOutcome, SplitPmdOutcome, Status, FOLIO_ANON, FOLIO_DEFERRED_LIST, FOLIO_KSM, FOLIO_LRU,
    FOLIO_PARTIALLY_MAPPED, FOLIO_SWAPCACHE, PAGE_ANON_EXCLUSIVE,
};

fn page_exclusive<S: FolioStore>(s: &S, k: u32) -> bool {
    s.page_flags(k) & PAGE_ANON_EXCLUSIVE != 0
}

/// Drops `nr` references; the last one frees the folio, which leaves the deferred-split
/// list and loses `PG_partially_mapped` (spec §1.3 free path, §3.10).
pub fn put_refs<S: FolioStore>(s: &mut S, nr: i32) -> Result<(), Status> {
    if nr < 0 || s.refcount() < nr {
        return Err(Status::BadState);
    }
    if s.add_refcount(-nr) == 0 {
        rmap::unqueue_deferred_split(s);
    }
    Ok(())
}

/// `folio_get` × `nr`: references are taken before mappings (spec §1.5, §3.11).
pub fn get_refs<S: FolioStore>(s: &mut S, nr: i32) -> Result<(), Status> {
    if nr < 0 || s.refcount() <= 0 {
        return Err(Status::BadState);
    }
    s.add_refcount(nr);
    Ok(())
}

/// First anonymous fault on a fresh folio (spec §3.11): `map_anon_folio_pte_nopf`
/// (references raised to `N` first, then `folio_add_new_anon_rmap(RMAP_EXCLUSIVE)`) for
/// orders below 9; `map_anon_folio_pmd_nopf` (one reference, PMD form, then
/// `deferred_split_folio(folio, false)`) for order 9.
pub fn fault_anon<S: FolioStore>(s: &mut S, mm: u32) -> Result<RmapOutcome, Status> {
    check_mm(mm)?;
    if s.refcount() != 1 || query::mapcount(s) != 0 {
        return Err(Status::BadState);
    }
    if s.order() < PMD_ORDER {
        let n = s.nr_pages() as i32;
        s.add_refcount(mutant!("fault-anon-extra-ref", n, n - 1));
        match rmap::add_new_anon(s, mm, true) {
            Ok(out) => Ok(out),
            Err(e) => {
                s.add_refcount(1 - n);
                Err(e)
            }
        }
    } else {
        let out = rmap::add_new_anon(s, mm, true)?;
        rmap::deferred_split(s, false);
        Ok(out)
    }
}

/// Fork of one run of present PTEs that map pages `[first, first + nr)` of this folio
/// consecutively (`copy_present_ptes` in `copy_pte_range`'s loop, spec §5.2, §5.5).
///
/// A large folio is first tried as one batch; `-EBUSY` (maybe pinned and some page
/// exclusive) makes `copy_pte_range` preallocate a page and retry, and the retry takes
/// the single-PTE path: a non-exclusive page is dup'ed alone, an exclusive one is copied
/// into the preallocated order-0 folio for the child. The loop then continues with a
/// batch from the next page, exactly as the kernel does. A small folio always takes the
/// single path.
pub fn fork_ptes<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    dst_mm: u32,
    src_has_pinned: bool,
) -> Result<ForkOutcome, Status> {
    check_mm(dst_mm)?;
    check_range(s, first, nr)?;
    if !s.test(FOLIO_ANON) {
        // File folios: `folio_dup_file_rmap_ptes` in one batch, never fails.
        let n = nr as i32;
        s.add_refcount(n);
        if let Err(e) = rmap::dup_file_ptes(s, first, nr, dst_mm) {
            s.add_refcount(-n);
            return Err(e);
        }
        return Ok(ForkOutcome {
            pages_shared: nr,
            dup_calls: 1,
            ..ForkOutcome::default()
        });
    }
    // Validate the whole run once, so a refusal leaves the folio untouched (and the
    // batches below need no check of their own).
    rmap::check_dup_anon_ptes(s, first, nr, dst_mm)?;
    // Counted in locals and built once at the end: the outcome is not assembled on the
    // stack and then copied into the result.
    let (mut dup_calls, mut dup_busy, mut pages_shared, mut pages_copied) = (0, 0, 0, 0);
    let mut copied = [0u64; 8];
    let end = first + nr;
    let mut addr = first;
    let mut prealloc = false;
    while addr < end {
        let remaining = end - addr;
        if !prealloc && s.is_large() && remaining != 1 {
            s.add_refcount(remaining as i32);
            let r = rmap::try_dup_anon_ptes_checked(s, addr, remaining, dst_mm, src_has_pinned);
            if r.ret == EBUSY {
                s.add_refcount(-(remaining as i32));
                dup_busy += 1;
                prealloc = true;
                continue;
            }
            dup_calls += 1;
            pages_shared += remaining;
            addr = end;
        } else {
            s.add_refcount(1);
            let r = rmap::try_dup_anon_ptes_checked(s, addr, 1, dst_mm, src_has_pinned);
            if r.ret == EBUSY {
                s.add_refcount(-1);
                dup_busy += 1;
                if !prealloc {
                    // copy_present_page without a preallocated page: -EAGAIN, retry.
                    prealloc = true;
                    continue;
                }
                pages_copied += 1;
                let k = addr as usize;
                if let Some(word) = copied.get_mut(k / 64) {
                    *word |= 1 << (k % 64);
                }
            } else {
                dup_calls += 1;
                pages_shared += 1;
            }
            // A preallocation not consumed here is freed, never carried over.
            prealloc = false;
            addr += 1;
        }
    }
    Ok(ForkOutcome {
        pages_shared,
        pages_copied,
        dup_calls,
        dup_busy,
        copied,
        ..ForkOutcome::default()
    })
}

/// Fork of a PMD mapping (`copy_huge_pmd`, spec §5.3): dup the PMD; for a maybe-pinned
/// folio with an exclusive head, split the parent's (`src_mm`) PMD instead and copy at PTE
/// level (every page is then exclusive, so every page is copied for the child).
pub fn fork_pmd<S: FolioStore>(
    s: &mut S,
    src_mm: u32,
    dst_mm: u32,
    src_has_pinned: bool,
) -> Result<ForkOutcome, Status> {
    check_mm(src_mm)?;
    check_mm(dst_mm)?;
    check_pmd(s)?;
    s.add_refcount(1);
    let r = match rmap::try_dup_anon_pmd(s, dst_mm, src_has_pinned) {
        Ok(r) => r,
        Err(e) => {
            s.add_refcount(-1);
            return Err(e);
        }
    };
    if r.ret == 0 {
        return Ok(ForkOutcome {
            pages_shared: PMD_NR,
            dup_calls: 1,
            pmd_shared: true,
            ..ForkOutcome::default()
        });
    }
    s.add_refcount(-1);
    let split = split_pmd(s, src_mm, false, false)?;
    let mut out = fork_ptes(s, 0, PMD_NR, dst_mm, src_has_pinned)?;
    out.dup_busy += 1;
    out.pmd_split = true;
    out.split = split;
    Ok(out)
}

/// Zap of `nr` PTEs of one mm (munmap, `MADV_DONTNEED`, exit; spec §6.2): one
/// `folio_remove_rmap_ptes` for the batch, then the TLB flush drops the references.
pub fn zap_ptes<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    mm: u32,
) -> Result<RmapOutcome, Status> {
    if s.refcount() < nr as i32 {
        return Err(Status::BadState);
    }
    let out = rmap::remove_ptes(s, first, nr, mm)?;
    put_refs(s, mutant!("zap-ptes-ref-short", nr as i32 - 1, nr as i32))?;
    Ok(out)
}

/// Zap of a PMD mapping (`zap_huge_pmd`, spec §6.2).
pub fn zap_pmd<S: FolioStore>(s: &mut S, mm: u32) -> Result<RmapOutcome, Status> {
    if s.refcount() < 1 {
        return Err(Status::BadState);
    }
    let out = rmap::remove_pmd(s, mm)?;
    put_refs(s, 1)?;
    Ok(out)
}

/// PMD split of `mm`'s mapping (`__split_huge_pmd_locked`, spec §6.1). Never fails.
/// Without `freeze`: 511 references, 512 PTEs added (all exclusive iff the head was),
/// then the PMD mapping removed. With `freeze` (migration / folio split): the PMD becomes
/// 512 PTE migration entries, which hold no mapping and no reference; a maybe-pinned
/// exclusive folio cannot be frozen and is split normally instead.
pub fn split_pmd<S: FolioStore>(
    s: &mut S,
    mm: u32,
    freeze: bool,
    pmd_writable: bool,
) -> Result<SplitPmdOutcome, Status> {
    check_mm(mm)?;
    check_pmd(s)?;
    if !s.test(FOLIO_ANON) || s.entire_mapcount() < 0 || query::mapcount(s) < 1 {
        return Err(Status::BadState);
    }
    // What the removal of the PMD mapping and a freeze's put need, checked before
    // anything changes (a refused call changes nothing; found by scripts/fuzz).
    rmap::check_remove_pmd(s, mm)?;
    if freeze && s.refcount() < 1 {
        return Err(Status::BadState);
    }
    let exclusive = page_exclusive(s, 0);
    let mut out = SplitPmdOutcome::default();
    let mut freeze = freeze;
    if freeze && exclusive && rmap::try_share_anon(s, 0)? == EBUSY {
        freeze = false;
        out.freeze_failed = true;
    }
    if freeze {
        out.frozen = true;
        out.entry = migration_entry(pmd_writable, exclusive) as u32;
        out.remove = rmap::remove_pmd(s, mm)?;
        put_refs(s, mutant!("split-pmd-freeze-keeps-ref", 0, 1))?;
        return Ok(out);
    }
    s.add_refcount(mutant!(
        "split-pmd-512-refs",
        PMD_NR as i32,
        PMD_NR as i32 - 1
    ));
    let pae = mutant!("split-pmd-exclusive-lost", false, exclusive);
    out.add = rmap::add_ptes(s, Kind::Anon, 0, PMD_NR, mm, pae)?;
    out.remove = rmap::remove_pmd(s, mm)?;
    Ok(out)
}

fn migration_entry(writable: bool, exclusive: bool) -> MigrationEntry {
    if mutant!("migrate-entry-type", writable && !exclusive, writable) {
        MigrationEntry::Writable
    } else if exclusive {
        MigrationEntry::ReadableExclusive
    } else {
        MigrationEntry::Readable
    }
}

/// `try_to_migrate_one` for one PTE mapping page `k` (spec §6.5): share an exclusive
/// page (abort with `-EBUSY` if maybe pinned), install the migration entry, remove the
/// mapping (one PTE per call, never batched), drop its reference.
pub fn migrate_unmap_pte<S: FolioStore>(
    s: &mut S,
    k: u32,
    mm: u32,
    pte_writable: bool,
) -> Result<MigrateUnmapOutcome, Status> {
    check_mm(mm)?;
    check_range(s, k, 1)?;
    rmap::check_remove_ptes(s, k, 1, mm)?;
    // The reference dropped below must exist before anything changes (a refused call
    // changes nothing; found by scripts/fuzz).
    if s.refcount() < 1 {
        return Err(Status::BadState);
    }
    let exclusive = page_exclusive(s, k);
    if exclusive && rmap::try_share_anon(s, k)? == EBUSY {
        return Ok(MigrateUnmapOutcome {
            ret: EBUSY,
            ..MigrateUnmapOutcome::default()
        });
    }
    // Validated above; sharing the page changed only its PAE.
    let rmap = rmap::remove_ptes_checked(s, k, 1, mm);
    put_refs(s, 1)?;
    Ok(MigrateUnmapOutcome {
        ret: 0,
        entry: migration_entry(pte_writable, exclusive) as u32,
        rmap,
    })
}

/// `set_pmd_migration_entry` (spec §6.5).
pub fn migrate_unmap_pmd<S: FolioStore>(
    s: &mut S,
    mm: u32,
    pmd_writable: bool,
) -> Result<MigrateUnmapOutcome, Status> {
    check_mm(mm)?;
    check_pmd(s)?;
    rmap::check_remove_pmd(s, mm)?;
    // As in migrate_unmap_pte: the reference must exist before anything changes.
    if s.refcount() < 1 {
        return Err(Status::BadState);
    }
    let exclusive = page_exclusive(s, 0);
    if exclusive && rmap::try_share_anon(s, 0)? == EBUSY {
        return Ok(MigrateUnmapOutcome {
            ret: EBUSY,
            ..MigrateUnmapOutcome::default()
        });
    }
    let rmap = rmap::remove_pmd(s, mm)?;
    put_refs(s, 1)?;
    Ok(MigrateUnmapOutcome {
        ret: 0,
        entry: migration_entry(pmd_writable, exclusive) as u32,
        rmap,
    })
}

fn restore_kind<S: FolioStore>(s: &S) -> Kind {
    if s.test(FOLIO_ANON) {
        Kind::Anon
    } else {
        Kind::File
    }
}

/// `remove_migration_pte` for page `k` (spec §6.5): a reference, then one PTE mapping,
/// exclusive unless the entry was plain readable.
pub fn migrate_restore_pte<S: FolioStore>(
    s: &mut S,
    k: u32,
    mm: u32,
    entry: MigrationEntry,
) -> Result<RmapOutcome, Status> {
    let kind = restore_kind(s);
    let exclusive = kind == Kind::Anon && entry != MigrationEntry::Readable;
    rmap::check_add_ptes(s, kind, k, 1, mm, exclusive)?;
    get_refs(s, 1)?;
    rmap::add_ptes(s, kind, k, 1, mm, exclusive)
}

/// `remove_migration_pmd` (spec §6.5).
pub fn migrate_restore_pmd<S: FolioStore>(
    s: &mut S,
    mm: u32,
    entry: MigrationEntry,
) -> Result<RmapOutcome, Status> {
    let kind = restore_kind(s);
    let exclusive = kind == Kind::Anon
        && mutant!(
            "migrate-restore-pmd-rdexcl",
            entry == MigrationEntry::Writable,
            entry != MigrationEntry::Readable
        );
    rmap::check_add_pmd(s, kind, mm, exclusive)?;
    get_refs(s, 1)?;
    rmap::add_pmd(s, kind, mm, exclusive)
}

/// `migrate_folio_move` for an unmapped source (spec §6.6): the reference freeze needs
/// `refcount == expected + 1` (the migration's own reference), else `-EAGAIN` and nothing
/// changes. On success the source leaves the deferred-split list (PM cleared) and the
/// destination, a fresh folio of the same order holding one reference, becomes anon and
/// is re-queued with the source's recorded PM value; a swap-cache source hands its swap
/// cache (and its `N` references) to the destination. Returns the kernel's 0 / `-EAGAIN`.
pub fn migrate_move<S: FolioStore, D: FolioStore>(src: &mut S, dst: &mut D) -> Result<i32, Status> {
    if dst.order() != src.order() || dst.mode() != src.mode() {
        return Err(Status::BadArgument);
    }
    if query::mapcount(src) != 0 || query::mapcount(dst) != 0 || dst.refcount() != 1 {
        return Err(Status::BadState);
    }
    if src.refcount() != query::expected_ref_count(src) + 1 {
        return Ok(EAGAIN);
    }
    let was_queued = src.order() > 1 && src.test(FOLIO_DEFERRED_LIST);
    let was_partial = src.test(FOLIO_PARTIALLY_MAPPED);
    rmap::unqueue_deferred_split(src);
    dst.set_flags(src.flags() & (FOLIO_ANON | FOLIO_KSM));
    if src.test(FOLIO_SWAPCACHE) {
        // __folio_migrate_mapping moves the swap cache entry and its N references.
        let n = src.nr_pages() as i32;
        src.clear_flags(FOLIO_SWAPCACHE);
        src.add_refcount(-n);
        dst.set_flags(FOLIO_SWAPCACHE);
        dst.add_refcount(n);
    }
    if was_queued {
        let partial = mutant!(
            "migrate-move-pm-reread",
            src.test(FOLIO_PARTIALLY_MAPPED),
            was_partial
        );
        rmap::deferred_split(dst, partial);
    }
    Ok(0)
}

/// The refcount precondition of `__folio_split` (spec §6.4 steps 2 and 4) for a split to
/// `new_order`, with `caller_refs` references held by the caller (normally 1). Returns
/// the kernel's 0, `-EINVAL` (not splittable to that order) or `-EAGAIN` (extra
/// references: pins, GUP, ...). Nothing changes.
pub fn split_check<S: FolioStore>(s: &S, new_order: u32, caller_refs: i32) -> Result<i32, Status> {
    const EINVAL: i32 = -22;
    if !s.is_large() || caller_refs < 0 {
        return Err(Status::BadArgument);
    }
    if new_order >= s.order()
        || (s.test(FOLIO_ANON) && new_order == 1)
        || (s.test(FOLIO_SWAPCACHE) && new_order != 0)
    {
        return Ok(EINVAL);
    }
    // In i64: a refcount and caller_refs far apart must not overflow (found by
    // scripts/fuzz: a panic with overflow checks on, a wrong answer without them).
    let (refs, callers, expected) = (
        s.refcount() as i64,
        caller_refs as i64,
        query::expected_ref_count(s) as i64,
    );
    if mutant!(
        "split-check-extra-ref",
        refs - callers - expected > 1,
        expected != refs - callers
    ) {
        return Ok(EAGAIN);
    }
    Ok(0)
}

/// The freeze step of a folio split (spec §6.4 step 6), after every mapping was replaced
/// by a migration entry: `folio_ref_freeze(folio, cache_refs + 1)` succeeds only when the
/// caller's reference is the only one beyond the caches (`-EAGAIN` otherwise, nothing
/// changes); then the folio leaves the deferred-split list and loses
/// `PG_partially_mapped`. The caller then replaces it by the new, smaller folios (fresh
/// state, as `prep_compound_page` leaves it) and remaps them from the migration entries.
pub fn split_freeze<S: FolioStore>(s: &mut S) -> Result<i32, Status> {
    if !s.is_large() || query::mapcount(s) != 0 {
        return Err(Status::BadState);
    }
    let cache_refs = query::expected_ref_count(s);
    if s.refcount() != cache_refs + 1 {
        return Ok(EAGAIN);
    }
    rmap::unqueue_deferred_split(s);
    Ok(0)
}

/// `FOLL_PIN` of one page (`pin = true`) or its unpin: a large folio counts it in
/// `_pincount` plus one reference, a small folio adds `GUP_PIN_COUNTING_BIAS` references
/// (spec §1.5; `folio_maybe_dma_pinned`, §4).
pub fn pin<S: FolioStore>(s: &mut S, pin: bool) -> Result<(), Status> {
    let refs = if s.is_large() {
        1
    } else {
        crate::kernel::GUP_PIN_COUNTING_BIAS
    };
    if pin {
        get_refs(s, refs)?;
        if s.is_large() {
            s.add_pincount(1);
        }
        return Ok(());
    }
    let pinned = if s.is_large() {
        s.pincount() > 0
    } else {
        query::maybe_dma_pinned(s)
    };
    // The pin's references must exist before the pincount drops (a refused call changes
    // nothing; found by scripts/fuzz).
    if !pinned || s.refcount() < refs {
        return Err(Status::BadState);
    }
    if s.is_large() {
        s.add_pincount(-1);
    }
    put_refs(s, refs)
}

/// Adds an anon folio to the swap cache, which holds `N` references (spec §1.5).
pub fn swapcache_add<S: FolioStore>(s: &mut S) -> Result<(), Status> {
    if !s.test(FOLIO_ANON) || s.test(FOLIO_SWAPCACHE) {
        return Err(Status::BadState);
    }
    get_refs(s, s.nr_pages() as i32)?;
    s.set_flags(FOLIO_SWAPCACHE);
    Ok(())
}

/// `folio_free_swap` that succeeded: leave the swap cache, drop its `N` references.
fn swapcache_free<S: FolioStore>(s: &mut S) -> Result<(), Status> {
    put_refs(s, s.nr_pages() as i32)?;
    s.clear_flags(FOLIO_SWAPCACHE);
    Ok(())
}

/// A write (or unshare) fault on a read-only PTE mapping page `k` in `mm` (spec §7.2-7.5),
/// with its effects applied: REUSE sets PAE on the page; COPY removes this PTE mapping
/// (`folio_remove_rmap_pte`) and drops its reference (`wp_page_copy`'s two puts minus
/// `do_wp_page`'s `folio_get`). The new order-0 folio of a COPY is the caller's.
pub fn wp_fault_pte<S: FolioStore>(
    s: &mut S,
    k: u32,
    mm: u32,
    facts: &CowFacts,
) -> Result<CowOutcome, Status> {
    check_mm(mm)?;
    check_range(s, k, 1)?;
    validate_facts(facts)?;
    rmap::check_remove_ptes(s, k, 1, mm)?;
    // Every reference the fault may drop (the mapping's, a per-CPU LRU batch's, the swap
    // cache's) must exist before anything changes: a refused call changes nothing (found
    // by scripts/fuzz: a COPY removed the mapping, then failed to drop its reference).
    let lru_batch = !s.is_large() && !s.test(FOLIO_LRU) && facts.lru_drain_drops_ref != 0;
    let swap = s.test(FOLIO_SWAPCACHE) && facts.swap_free_succeeds != 0;
    if s.refcount() < 1 + lru_batch as i32 + if swap { s.nr_pages() as i32 } else { 0 } {
        return Err(Status::BadState);
    }
    let mut out = CowOutcome::default();
    let reason = if !s.test(FOLIO_ANON) {
        CowReason::NotAnon
    } else if mutant!("cow-pae-fast-path-off", false, page_exclusive(s, k)) {
        CowReason::AnonExclusive
    } else if s.is_large() {
        can_reuse_large(s, facts, &mut out)?
    } else {
        can_reuse_small(s, facts, &mut out)?
    };
    out.reason = reason as u32;
    let reuse = matches!(
        reason,
        CowReason::AnonExclusive | CowReason::LargeExclusive | CowReason::SmallRefcountOne
    );
    if reuse {
        out.decision = CowDecision::Reuse as u32;
        mutant!(
            "cow-reuse-no-pae",
            (),
            s.update_page_flags(k, PAGE_ANON_EXCLUSIVE, true)
        );
        return Ok(out);
    }
    out.decision = CowDecision::Copy as u32;
    // Validated above; the reuse checks changed only references and flags.
    out.rmap = rmap::remove_ptes_checked(s, k, 1, mm);
    // free_swap_cache(old) before the puts: only an unmapped, lockable folio.
    if s.test(FOLIO_SWAPCACHE)
        && !query::mapped(s)
        && facts.trylock_fails == 0
        && facts.swap_free_succeeds != 0
    {
        swapcache_free(s)?;
        out.swapcache_freed = true;
    }
    put_refs(s, 1)?;
    Ok(out)
}

fn validate_facts(facts: &CowFacts) -> Result<(), Status> {
    let flags = [
        facts.unshare,
        facts.trylock_fails,
        facts.lru_drain_drops_ref,
        facts.swap_free_succeeds,
    ];
    if flags.iter().all(|&f| f <= 1) {
        Ok(())
    } else {
        Err(Status::BadArgument)
    }
}

/// `__wp_can_reuse_large_anon_folio` (spec §7.4); the lockless checks and their re-check
/// under the mapcount lock see the same state in a single-threaded model.
fn can_reuse_large<S: FolioStore>(
    s: &mut S,
    facts: &CowFacts,
    out: &mut CowOutcome,
) -> Result<CowReason, Status> {
    if mutant!(
        "cow-lm1-reuse",
        query::large_mapcount(s) < 1,
        query::large_mapcount(s) <= 1
    ) {
        return Ok(CowReason::LargeMapcountOne);
    }
    if mutant!("cow-s-ignored", false, s.large().shared) {
        return Ok(CowReason::MaybeShared);
    }
    if s.test(FOLIO_KSM) {
        return Err(Status::BadState);
    }
    if s.test(FOLIO_SWAPCACHE) {
        if facts.trylock_fails != 0 {
            return Ok(CowReason::TrylockFailed);
        }
        if facts.swap_free_succeeds != 0 {
            swapcache_free(s)?;
            out.swapcache_freed = true;
        }
    }
    if mutant!(
        "cow-lm-ref-minus-one",
        query::large_mapcount(s) != s.refcount() - 1,
        query::large_mapcount(s) != s.refcount()
    ) {
        return Ok(CowReason::RefcountNotMapcount);
    }
    // Re-check under the mapcount lock, which makes LM stable (spec §7.4 step 6).
    let refs = s.refcount();
    let (shared, mapcount) = s.with_large(|l| (l.shared, l.mapcount()));
    if mutant!("cow-s-ignored", false, shared) {
        return Ok(CowReason::MaybeShared);
    }
    if mapcount != refs {
        return Ok(CowReason::RefcountNotMapcount);
    }
    Ok(CowReason::LargeExclusive)
}

/// `wp_can_reuse_anon_folio` for a small folio (spec §7.3).
fn can_reuse_small<S: FolioStore>(
    s: &mut S,
    facts: &CowFacts,
    out: &mut CowOutcome,
) -> Result<CowReason, Status> {
    if s.test(FOLIO_KSM) {
        return Ok(CowReason::Ksm);
    }
    let maybe_in_lru_cache = !s.test(FOLIO_LRU) as i32;
    let in_swapcache = s.test(FOLIO_SWAPCACHE) as i32;
    if s.refcount() > 1 + maybe_in_lru_cache + in_swapcache {
        return Ok(CowReason::SmallRefcountHigh);
    }
    if maybe_in_lru_cache != 0 && facts.lru_drain_drops_ref != 0 {
        put_refs(s, 1)?;
        s.set_flags(FOLIO_LRU);
        out.lru_drained = true;
    }
    if s.refcount() > 1 + in_swapcache {
        return Ok(CowReason::SmallRefcountHigh);
    }
    if facts.trylock_fails != 0 {
        return Ok(CowReason::TrylockFailed);
    }
    if in_swapcache != 0 && facts.swap_free_succeeds != 0 {
        swapcache_free(s)?;
        out.swapcache_freed = true;
    }
    if mutant!("cow-small-extra-ref", s.refcount() > 2, s.refcount() != 1) {
        return Ok(CowReason::SmallRefcountHigh);
    }
    Ok(CowReason::SmallRefcountOne)
}

/// A write (or unshare) fault on `mm`'s read-only PMD (`do_huge_pmd_wp_page`, spec §7.6):
/// REUSE iff the head is exclusive or, after freeing the swap cache, `refcount == 1`;
/// otherwise FALLBACK: this mm's PMD is split (applied here) and the caller retries the
/// faulting page with `wp_fault_pte`.
pub fn wp_fault_pmd<S: FolioStore>(
    s: &mut S,
    mm: u32,
    facts: &CowFacts,
) -> Result<CowOutcome, Status> {
    check_mm(mm)?;
    check_pmd(s)?;
    validate_facts(facts)?;
    if !s.test(FOLIO_ANON) || s.entire_mapcount() < 0 {
        return Err(Status::BadState);
    }
    // The fallback's PMD split must be possible before the swap cache is freed (a refused
    // call changes nothing).
    rmap::check_remove_pmd(s, mm)?;
    let mut out = CowOutcome::default();
    // The folio lock is waited for here (never a trylock failure).
    let n = s.nr_pages() as i32;
    let reason = if page_exclusive(s, 0) {
        CowReason::AnonExclusive
    } else if mutant!(
        "cow-pmd-ref-threshold",
        s.refcount() >= 1 + if s.test(FOLIO_SWAPCACHE) { n } else { 0 },
        s.refcount() > 1 + if s.test(FOLIO_SWAPCACHE) { n } else { 0 }
    ) {
        CowReason::PmdRefcountHigh
    } else {
        if s.test(FOLIO_SWAPCACHE) && facts.swap_free_succeeds != 0 {
            swapcache_free(s)?;
            out.swapcache_freed = true;
        }
        if s.refcount() == 1 {
            CowReason::PmdRefcountOne
        } else {
            CowReason::PmdRefcountHigh
        }
    };
    out.reason = reason as u32;
    if reason == CowReason::PmdRefcountHigh {
        out.decision = CowDecision::Fallback as u32;
        out.pmd_split = true;
        out.rmap = split_pmd(s, mm, false, false)?.remove;
    } else {
        out.decision = CowDecision::Reuse as u32;
        s.update_page_flags(0, PAGE_ANON_EXCLUSIVE, true);
    }
    Ok(out)
}
