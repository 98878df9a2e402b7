//! rmap primitives (spec §3): what `folio_add_*_rmap_*`, `folio_remove_rmap_*`, the fork
//! dup helpers, `folio_try_share_anon_rmap_*` and `deferred_split_folio` do to a folio.
//!
//! None of them touches the refcount: the kernel's callers do that (spec §3.11), and so
//! do the call-site operations in `ops`. Every function validates its arguments and the
//! folio's state first and changes nothing when it refuses.

use crate::kernel::{EBUSY, ENTIRELY_MAPPED, FOLIO_PAGES_MAPPED, PMD_ORDER};
use crate::query;
use crate::slots::valid_mm_id;
use crate::store::FolioStore;
use crate::types::{
    Mode, RmapOutcome, Status, FOLIO_ANON, FOLIO_DEFERRED_LIST, FOLIO_PARTIALLY_MAPPED,
    FOLIO_SWAPCACHE, PAGE_ANON_EXCLUSIVE,
};

/// Anonymous or file-backed rmap call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `folio_add_anon_rmap_*`.
    Anon,
    /// `folio_add_file_rmap_*`.
    File,
}

pub(crate) fn check_mm(mm: u32) -> Result<(), Status> {
    if valid_mm_id(mm) {
        Ok(())
    } else {
        Err(Status::BadMmId)
    }
}

/// `[first, first + nr)` must be a non-empty range inside the folio.
pub(crate) fn check_range<S: FolioStore>(s: &S, first: u32, nr: u32) -> Result<(), Status> {
    let end = first.checked_add(nr).ok_or(Status::BadRange)?;
    if nr == 0 || end > s.nr_pages() {
        return Err(Status::BadRange);
    }
    Ok(())
}

/// PMD-level operations need a PMD-order folio.
pub(crate) fn check_pmd<S: FolioStore>(s: &S) -> Result<(), Status> {
    if s.order() == PMD_ORDER {
        Ok(())
    } else {
        Err(Status::BadOrder)
    }
}

fn check_kind<S: FolioStore>(s: &S, kind: Kind) -> Result<(), Status> {
    if s.test(FOLIO_ANON) == (kind == Kind::Anon) {
        Ok(())
    } else {
        Err(Status::BadState)
    }
}

/// Every page of the range is PTE-mapped at least once, as far as the state can tell:
/// [PMC] each page's `_mapcount >= 0`; always `LM >= nr` (a removal or dup of `nr` PTEs
/// needs `nr` existing mappings).
fn check_ptes_mapped<S: FolioStore>(s: &S, first: u32, nr: u32) -> Result<(), Status> {
    if !s.is_large() {
        return if s.page_mapcount(0) >= 0 {
            Ok(())
        } else {
            Err(Status::BadState)
        };
    }
    if query::large_mapcount(s) < nr as i32 {
        return Err(Status::BadState);
    }
    if s.mode() == Mode::Pmc && (first..first + nr).any(|k| s.page_mapcount(k) < 0) {
        return Err(Status::BadState);
    }
    Ok(())
}

fn check_pmd_mapped<S: FolioStore>(s: &S) -> Result<(), Status> {
    if s.entire_mapcount() >= 0 && query::large_mapcount(s) >= 1 {
        Ok(())
    } else {
        Err(Status::BadState)
    }
}

fn set_pae<S: FolioStore>(s: &mut S, k: u32, set: bool) {
    s.update_page_flags(k, PAGE_ANON_EXCLUSIVE, set);
}

/// `__folio_add_rmap` at PTE level (spec §3.1). Returns `nr_mapped`.
fn add_ptes_core<S: FolioStore>(s: &mut S, first: u32, nr: u32, mm: u32) -> i32 {
    if !s.is_large() {
        return (s.add_page_mapcount(0, 1) == 0) as i32;
    }
    let n = s.nr_pages() as i32;
    match s.mode() {
        Mode::Nopmc => {
            let new = s.with_large(|l| l.add(nr as i32, mm));
            // The folio was completely unmapped before: all of it becomes mapped.
            if new == nr as i32 {
                n
            } else {
                0
            }
        }
        Mode::Pmc => {
            let mut first_mapped = 0;
            for k in first..first + nr {
                if mutant!(
                    "nrpm-counts-remapped",
                    s.add_page_mapcount(k, 1) >= 0,
                    s.add_page_mapcount(k, 1) == 0
                ) {
                    first_mapped += 1;
                }
            }
            let mut nr_mapped = 0;
            if first_mapped > 0 {
                let v = s.add_nr_pages_mapped(first_mapped);
                // Pages already covered by an entire mapping were counted then.
                if v < ENTIRELY_MAPPED {
                    nr_mapped = first_mapped;
                }
            }
            s.with_large(|l| l.add(nr as i32, mm));
            nr_mapped
        }
    }
}

/// `__folio_add_rmap` at PMD level (spec §3.1). Returns `(nr_mapped, nr_pmdmapped)`.
fn add_pmd_core<S: FolioStore>(s: &mut S, mm: u32) -> (i32, i32) {
    let n = s.nr_pages() as i32;
    let first = s.add_entire_mapcount(1) == 0;
    match s.mode() {
        Mode::Nopmc => {
            let nr_pmdmapped = if first { n } else { 0 };
            let new = s.with_large(|l| l.add(1, mm));
            (if new == 1 { n } else { 0 }, nr_pmdmapped)
        }
        Mode::Pmc => {
            let mut nr_mapped = 0;
            let mut nr_pmdmapped = 0;
            if mutant!("nrpm-emap-every-pmd", true, first) {
                let v = s.add_nr_pages_mapped(ENTIRELY_MAPPED);
                if v < 2 * ENTIRELY_MAPPED {
                    nr_pmdmapped = n;
                    // Pages not already PTE-mapped become mapped.
                    nr_mapped = (n - (v & FOLIO_PAGES_MAPPED)).max(0);
                }
            }
            s.with_large(|l| l.add(1, mm));
            (nr_mapped, nr_pmdmapped)
        }
    }
}

fn add_outcome<S: FolioStore>(s: &S, nr_mapped: i32, nr_pmdmapped: i32) -> RmapOutcome {
    RmapOutcome {
        nr_pages: nr_mapped,
        nr_pmdmapped,
        mapped_stat_delta: nr_mapped,
        pmdmapped_stat_delta: nr_pmdmapped,
        mapcount_after: query::mapcount(s),
        ..RmapOutcome::default()
    }
}

/// Argument and state checks of `add_ptes`.
pub(crate) fn check_add_ptes<S: FolioStore>(
    s: &S,
    kind: Kind,
    first: u32,
    nr: u32,
    mm: u32,
    exclusive: bool,
) -> Result<(), Status> {
    check_mm(mm)?;
    check_range(s, first, nr)?;
    check_kind(s, kind)?;
    if exclusive && kind == Kind::File {
        return Err(Status::BadArgument);
    }
    Ok(())
}

/// `folio_add_anon_rmap_ptes` / `folio_add_file_rmap_ptes` (spec §3.2, §3.4). With
/// `exclusive` (`RMAP_EXCLUSIVE`, anon only) every page of the range gets PAE.
pub fn add_ptes<S: FolioStore>(
    s: &mut S,
    kind: Kind,
    first: u32,
    nr: u32,
    mm: u32,
    exclusive: bool,
) -> Result<RmapOutcome, Status> {
    check_add_ptes(s, kind, first, nr, mm, exclusive)?;
    let nr_mapped = add_ptes_core(s, first, nr, mm);
    if exclusive {
        for k in first..first + nr {
            set_pae(s, k, true);
        }
    }
    Ok(add_outcome(s, nr_mapped, 0))
}

/// Argument and state checks of `add_pmd`.
pub(crate) fn check_add_pmd<S: FolioStore>(
    s: &S,
    kind: Kind,
    mm: u32,
    exclusive: bool,
) -> Result<(), Status> {
    check_mm(mm)?;
    check_pmd(s)?;
    check_kind(s, kind)?;
    if exclusive && kind == Kind::File {
        return Err(Status::BadArgument);
    }
    Ok(())
}

/// `folio_add_anon_rmap_pmd` / `folio_add_file_rmap_pmd` (spec §3.2, §3.4). With
/// `exclusive` the head page gets PAE.
pub fn add_pmd<S: FolioStore>(
    s: &mut S,
    kind: Kind,
    mm: u32,
    exclusive: bool,
) -> Result<RmapOutcome, Status> {
    check_add_pmd(s, kind, mm, exclusive)?;
    let (nr_mapped, nr_pmdmapped) = add_pmd_core(s, mm);
    if exclusive {
        set_pae(s, 0, true);
    }
    Ok(add_outcome(s, nr_mapped, nr_pmdmapped))
}

/// `folio_add_new_anon_rmap` (spec §3.3): the first mapping of a never-mapped folio,
/// by `N` PTEs (order < 9) or one PMD (order 9), decided by the order alone.
pub fn add_new_anon<S: FolioStore>(
    s: &mut S,
    mm: u32,
    exclusive: bool,
) -> Result<RmapOutcome, Status> {
    check_mm(mm)?;
    let n = s.nr_pages();
    if query::mapcount(s) != 0 || (0..n).any(|k| s.page_mapcount(k) != -1) {
        return Err(Status::BadState);
    }
    s.set_flags(FOLIO_ANON);
    if !s.is_large() {
        s.set_page_mapcount(0, 0);
        set_pae(s, 0, exclusive);
        return Ok(add_outcome(s, 1, 0));
    }
    let pmc = s.mode() == Mode::Pmc;
    if s.order() < PMD_ORDER {
        for k in 0..n {
            if pmc {
                s.set_page_mapcount(k, 0);
            }
            set_pae(s, k, exclusive);
        }
        s.with_large(|l| l.set(n as i32, mm));
        if pmc {
            s.set_nr_pages_mapped(n as i32);
        }
        Ok(add_outcome(s, n as i32, 0))
    } else {
        s.add_entire_mapcount(1);
        s.with_large(|l| l.set(1, mm));
        if pmc {
            s.set_nr_pages_mapped(ENTIRELY_MAPPED);
        }
        set_pae(s, 0, exclusive);
        Ok(add_outcome(s, n as i32, n as i32))
    }
}

/// The tail of `__folio_remove_rmap` (spec §3.5): queue a partially mapped anon folio.
fn remove_tail<S: FolioStore>(
    s: &mut S,
    nr_unmapped: i32,
    nr_pmdmapped: i32,
    partially_mapped: bool,
) -> RmapOutcome {
    let mut out = RmapOutcome {
        nr_pages: nr_unmapped,
        nr_pmdmapped,
        mapped_stat_delta: -nr_unmapped,
        pmdmapped_stat_delta: -nr_pmdmapped,
        partially_mapped,
        ..RmapOutcome::default()
    };
    if mutant!(
        "dsplit-unmapped-queued",
        partially_mapped || !query::mapped(s),
        partially_mapped
    ) && s.test(FOLIO_ANON)
        && !s.test(mutant!(
            "dsplit-skip-if-queued",
            FOLIO_PARTIALLY_MAPPED | FOLIO_DEFERRED_LIST,
            FOLIO_PARTIALLY_MAPPED
        ))
    {
        out.deferred_split = true;
        out.newly_partially_mapped = deferred_split(s, true);
    }
    out.mapcount_after = query::mapcount(s);
    out
}

/// Argument and state checks of `remove_ptes`.
pub(crate) fn check_remove_ptes<S: FolioStore>(
    s: &S,
    first: u32,
    nr: u32,
    mm: u32,
) -> Result<(), Status> {
    check_mm(mm)?;
    check_range(s, first, nr)?;
    check_ptes_mapped(s, first, nr)
}

/// `folio_remove_rmap_ptes` (spec §3.5, PTE level).
pub fn remove_ptes<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    mm: u32,
) -> Result<RmapOutcome, Status> {
    check_remove_ptes(s, first, nr, mm)?;
    Ok(remove_ptes_unchecked(s, first, nr, mm))
}

/// `remove_ptes` after `check_remove_ptes` accepted the range in the current state: for
/// callers that validate before deciding (the write fault, migration), so the pages are
/// not checked twice. Out of line: inlined, it made the write fault's COPY about 30 %
/// slower (measured with scripts/bench).
#[inline(never)]
pub(crate) fn remove_ptes_checked<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    mm: u32,
) -> RmapOutcome {
    remove_ptes_unchecked(s, first, nr, mm)
}

// The body of both. Inlined into `remove_ptes`, which then compiles as before the split
// (as a separate call it made the zap of 512 PTEs 13 % slower, measured).
#[inline(always)]
fn remove_ptes_unchecked<S: FolioStore>(s: &mut S, first: u32, nr: u32, mm: u32) -> RmapOutcome {
    if !s.is_large() {
        let unmapped = (s.add_page_mapcount(0, -1) < 0) as i32;
        return remove_tail(s, unmapped, 0, false);
    }
    let n = s.nr_pages() as i32;
    match s.mode() {
        Mode::Nopmc => {
            let new = s.with_large(|l| l.sub(nr as i32, mm));
            if new == 0 {
                remove_tail(s, n, 0, false)
            } else {
                // Average page mapcount below 1 without a PMD mapping: certainly partial.
                let partial =
                    mutant!("pmap-nopmc-le", new <= n, new < n) && query::entire_mapcount(s) == 0;
                remove_tail(s, 0, 0, partial)
            }
        }
        Mode::Pmc => {
            // The large mapcount drops before the per-page counts (spec §8).
            s.with_large(|l| l.sub(nr as i32, mm));
            let mut last = 0;
            for k in first..first + nr {
                if mutant!(
                    "nrpm-last-off-by-one",
                    s.add_page_mapcount(k, -1) <= 0,
                    s.add_page_mapcount(k, -1) < 0
                ) {
                    last += 1;
                }
            }
            let mut nr_unmapped = 0;
            if last > 0 {
                let v = s.add_nr_pages_mapped(-last);
                if v < ENTIRELY_MAPPED {
                    nr_unmapped = last;
                }
            }
            let partial = mutant!(
                "pmap-per-page",
                nr_unmapped != 0 && (s.nr_pages_mapped() != 0 || nr_unmapped > 1),
                nr_unmapped != 0 && s.nr_pages_mapped() != 0
            );
            remove_tail(s, nr_unmapped, 0, partial)
        }
    }
}

/// Argument and state checks of `remove_pmd`.
pub(crate) fn check_remove_pmd<S: FolioStore>(s: &S, mm: u32) -> Result<(), Status> {
    check_mm(mm)?;
    check_pmd(s)?;
    check_pmd_mapped(s)
}

/// `folio_remove_rmap_pmd` (spec §3.5, PMD level).
pub fn remove_pmd<S: FolioStore>(s: &mut S, mm: u32) -> Result<RmapOutcome, Status> {
    check_remove_pmd(s, mm)?;
    let n = s.nr_pages() as i32;
    match s.mode() {
        Mode::Nopmc => {
            let last = s.add_entire_mapcount(-1) < 0;
            let nr_pmdmapped = if last { n } else { 0 };
            let new = s.with_large(|l| l.sub(1, mm));
            if new == 0 {
                Ok(remove_tail(s, n, nr_pmdmapped, false))
            } else {
                Ok(remove_tail(s, 0, nr_pmdmapped, last && new < n))
            }
        }
        Mode::Pmc => {
            s.with_large(|l| l.sub(1, mm));
            let last = s.add_entire_mapcount(-1) < 0;
            let mut nr_unmapped = 0;
            let mut nr_pmdmapped = 0;
            if last {
                let v = s.add_nr_pages_mapped(-ENTIRELY_MAPPED);
                if v < ENTIRELY_MAPPED {
                    nr_pmdmapped = n;
                    // Pages still PTE-mapped stay mapped.
                    nr_unmapped = (n - v).max(0);
                }
            }
            let partial = nr_unmapped != 0 && nr_unmapped < nr_pmdmapped;
            Ok(remove_tail(s, nr_unmapped, nr_pmdmapped, partial))
        }
    }
}

/// `folio_needs_cow_for_dma` for the source of a fork: the parent mm has
/// `MMF_HAS_PINNED` and the folio is maybe pinned (spec §3.8 step 1).
fn fork_maybe_pinned<S: FolioStore>(s: &S, src_has_pinned: bool) -> bool {
    src_has_pinned && query::maybe_dma_pinned(s)
}

/// Argument and state checks of `try_dup_anon_ptes`.
pub(crate) fn check_dup_anon_ptes<S: FolioStore>(
    s: &S,
    first: u32,
    nr: u32,
    dst_mm: u32,
) -> Result<(), Status> {
    check_mm(dst_mm)?;
    check_range(s, first, nr)?;
    check_kind(s, Kind::Anon)?;
    check_ptes_mapped(s, first, nr)
}

/// `folio_try_dup_anon_rmap_ptes` (spec §3.8): returns `ret == -EBUSY` and changes
/// nothing when the folio is maybe pinned and any page of the range is exclusive.
pub fn try_dup_anon_ptes<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    dst_mm: u32,
    src_has_pinned: bool,
) -> Result<RmapOutcome, Status> {
    check_dup_anon_ptes(s, first, nr, dst_mm)?;
    Ok(try_dup_anon_ptes_checked(
        s,
        first,
        nr,
        dst_mm,
        src_has_pinned,
    ))
}

/// `try_dup_anon_ptes` after `check_dup_anon_ptes` accepted the range (or a range that
/// contains it, in a state that only gained mappings since): `fork_ptes` validates its
/// whole run once, not once per batch.
pub(crate) fn try_dup_anon_ptes_checked<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    dst_mm: u32,
    src_has_pinned: bool,
) -> RmapOutcome {
    // The pages are looked at only when the folio is maybe pinned (spec §3.8 step 2).
    if mutant!(
        "fork-pinned-no-ebusy",
        false,
        fork_maybe_pinned(s, src_has_pinned)
            && mutant!(
                "fork-ebusy-all-exclusive",
                (first..first + nr).all(|k| s.page_flags(k) & PAGE_ANON_EXCLUSIVE != 0),
                (first..first + nr).any(|k| s.page_flags(k) & PAGE_ANON_EXCLUSIVE != 0)
            )
    ) {
        return RmapOutcome {
            ret: EBUSY,
            mapcount_after: query::mapcount(s),
            ..RmapOutcome::default()
        };
    }
    dup_ptes_core(s, first, nr, dst_mm, true);
    add_outcome(s, 0, 0)
}

/// The mapcount part shared by the anon and file dup helpers (spec §3.8): no first/last
/// tracking, no `_nr_pages_mapped`, no statistics. `anon`: each page also loses PAE if
/// it has it, in the same pass over the pages as its [PMC] mapcount.
fn dup_ptes_core<S: FolioStore>(s: &mut S, first: u32, nr: u32, dst_mm: u32, anon: bool) {
    let pmc = !s.is_large() || s.mode() == Mode::Pmc;
    if anon || pmc {
        for k in first..first + nr {
            if anon && s.page_flags(k) & PAGE_ANON_EXCLUSIVE != 0 {
                mutant!("fork-pae-kept", (), set_pae(s, k, false));
            }
            if pmc {
                s.add_page_mapcount(k, 1);
            }
        }
    }
    if s.is_large() {
        s.with_large(|l| l.add(nr as i32, dst_mm));
    }
}

/// `folio_try_dup_anon_rmap_pmd` (spec §3.8 step 3).
pub fn try_dup_anon_pmd<S: FolioStore>(
    s: &mut S,
    dst_mm: u32,
    src_has_pinned: bool,
) -> Result<RmapOutcome, Status> {
    check_mm(dst_mm)?;
    check_pmd(s)?;
    check_kind(s, Kind::Anon)?;
    check_pmd_mapped(s)?;
    if s.page_flags(0) & PAGE_ANON_EXCLUSIVE != 0 {
        if fork_maybe_pinned(s, src_has_pinned) {
            return Ok(RmapOutcome {
                ret: EBUSY,
                mapcount_after: query::mapcount(s),
                ..RmapOutcome::default()
            });
        }
        set_pae(s, 0, false);
    }
    s.add_entire_mapcount(1);
    s.with_large(|l| l.add(1, dst_mm));
    Ok(add_outcome(s, 0, 0))
}

/// `folio_dup_file_rmap_ptes` (spec §3.8).
pub fn dup_file_ptes<S: FolioStore>(
    s: &mut S,
    first: u32,
    nr: u32,
    dst_mm: u32,
) -> Result<RmapOutcome, Status> {
    check_mm(dst_mm)?;
    check_range(s, first, nr)?;
    check_kind(s, Kind::File)?;
    check_ptes_mapped(s, first, nr)?;
    dup_ptes_core(s, first, nr, dst_mm, false);
    Ok(add_outcome(s, 0, 0))
}

/// `folio_try_share_anon_rmap_pte` (page `k`) / `_pmd` (`k == 0`, head) (spec §3.9):
/// clears PAE before a temporary unmap, or returns `-EBUSY` when maybe pinned.
pub fn try_share_anon<S: FolioStore>(s: &mut S, k: u32) -> Result<i32, Status> {
    check_range(s, k, 1)?;
    check_kind(s, Kind::Anon)?;
    if s.page_flags(k) & PAGE_ANON_EXCLUSIVE == 0 {
        return Err(Status::BadState);
    }
    if mutant!("share-pinned-ignored", false, query::maybe_dma_pinned(s)) {
        return Ok(EBUSY);
    }
    set_pae(s, k, false);
    Ok(0)
}

/// `deferred_split_folio(folio, partially_mapped)` (spec §3.10), with the
/// `split_underused_thp` knob at its default (on). Returns whether `PG_partially_mapped`
/// was newly set.
pub fn deferred_split<S: FolioStore>(s: &mut S, partially_mapped: bool) -> bool {
    if s.order() <= 1 || mutant!("dsplit-swapcache-queued", false, s.test(FOLIO_SWAPCACHE)) {
        return false;
    }
    let mut newly = false;
    if partially_mapped && !s.test(FOLIO_PARTIALLY_MAPPED) {
        s.set_flags(FOLIO_PARTIALLY_MAPPED);
        newly = true;
    }
    s.set_flags(FOLIO_DEFERRED_LIST);
    newly
}

/// `__folio_unqueue_deferred_split` (at free, migration, split): leaves the list and
/// clears `PG_partially_mapped` (spec §3.10).
pub fn unqueue_deferred_split<S: FolioStore>(s: &mut S) {
    s.clear_flags(FOLIO_DEFERRED_LIST | FOLIO_PARTIALLY_MAPPED);
}
