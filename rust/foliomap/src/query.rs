//! Queries (spec §4): what the kernel's inline accessors answer for a folio state.
//!
//! The counters are raw kernel values a caller may hand in corrupt (the C ABI); the
//! arithmetic wraps as the kernel's does (built with `-fno-strict-overflow`), never
//! panics (found by scripts/fuzz: `_large_mapcount` = `i32::MAX` in a query).

use crate::kernel::{FOLIO_PAGES_MAPPED, GUP_PIN_COUNTING_BIAS};
use crate::store::FolioStore;
use crate::types::{FolioQuery, Mode, Status, FOLIO_ANON, FOLIO_SWAPCACHE, PAGE_ANON_EXCLUSIVE};

/// `page_mapcount_is_type`: raw values at or below this are page types, not mapcounts.
const PAGE_TYPE_LIMIT: i32 = -16_777_217;

/// `folio_large_mapcount` (0 for small folios, where the kernel would warn) (spec §4).
pub fn large_mapcount<S: FolioStore>(s: &S) -> i32 {
    if s.is_large() {
        s.large().mapcount()
    } else {
        0
    }
}

/// `folio_entire_mapcount` (0 for small folios, where the kernel would BUG) (spec §4).
pub fn entire_mapcount<S: FolioStore>(s: &S) -> i32 {
    if s.is_large() {
        mutant!(
            "emc-raw-as-logical",
            s.entire_mapcount(),
            s.entire_mapcount().wrapping_add(1)
        )
    } else {
        0
    }
}

/// `folio_mapcount`: small folio `_mapcount + 1` (0 for a typed page), large folio the
/// large mapcount (spec §4).
pub fn mapcount<S: FolioStore>(s: &S) -> i32 {
    if s.is_large() {
        return large_mapcount(s);
    }
    let raw = s.page_mapcount(0);
    if raw <= PAGE_TYPE_LIMIT {
        0
    } else {
        raw.wrapping_add(1)
    }
}

/// `folio_mapped` (spec §4).
pub fn mapped<S: FolioStore>(s: &S) -> bool {
    mapcount(s) >= 1
}

/// `folio_maybe_mapped_shared` with `CONFIG_MM_ID`: small folios `mapcount > 1`; large
/// folios `false` when mapped at most once, else the `S` bit (spec §4, §2.5.2).
pub fn maybe_mapped_shared<S: FolioStore>(s: &S) -> bool {
    let m = mapcount(s);
    if !s.is_large() {
        return m > 1;
    }
    m > 1 && s.large().shared
}

/// `folio_maybe_dma_pinned`: exact pincount for large folios, the refcount bias
/// heuristic for small ones (spec §4).
pub fn maybe_dma_pinned<S: FolioStore>(s: &S) -> bool {
    if s.is_large() {
        s.pincount() > 0
    } else {
        s.refcount() as u32 >= GUP_PIN_COUNTING_BIAS as u32
    }
}

/// `folio_expected_ref_count`: swap cache `N`, page cache `N` for file folios (the
/// model assumes a file folio is in the page cache, without `PG_private`), plus
/// `folio_mapcount` (spec §1.5, §4).
pub fn expected_ref_count<S: FolioStore>(s: &S) -> i32 {
    let n = s.nr_pages() as i32;
    let mut refs = mapcount(s);
    if s.test(FOLIO_SWAPCACHE) {
        refs = refs.wrapping_add(n);
    }
    if !s.test(FOLIO_ANON) {
        refs = refs.wrapping_add(n);
    }
    refs
}

/// `folio_nr_pages_mapped`: [PMC] pages with a PTE mapping; [NOPMC] −1 (spec §1.4, §4).
pub fn nr_pages_mapped<S: FolioStore>(s: &S) -> i32 {
    match (s.mode(), s.is_large()) {
        (Mode::Nopmc, _) => -1,
        (Mode::Pmc, false) => 0,
        (Mode::Pmc, true) => s.nr_pages_mapped() & FOLIO_PAGES_MAPPED,
    }
}

/// `folio_average_page_mapcount` (spec §4).
pub fn average_page_mapcount<S: FolioStore>(s: &S) -> i32 {
    if !s.is_large() {
        return mapcount(s);
    }
    let m = large_mapcount(s);
    if m <= 0 {
        return 0;
    }
    let e = entire_mapcount(s);
    if m <= e {
        return e;
    }
    let n = s.nr_pages();
    let avg = ((m.wrapping_sub(e) as u32).wrapping_add(n / 2) >> s.order()) as i32;
    avg.wrapping_add(e).max(1)
}

/// [PMC] `folio_precise_page_mapcount` of page `k`: its PTE mappings plus the PMD
/// mappings. [NOPMC] does not have it (−1) (spec §4).
pub fn precise_page_mapcount<S: FolioStore>(s: &S, k: u32) -> i32 {
    if s.mode() == Mode::Nopmc {
        return -1;
    }
    let raw = s.page_mapcount(k);
    let own = if raw <= PAGE_TYPE_LIMIT {
        0
    } else {
        raw.wrapping_add(1)
    };
    if s.is_large() {
        own.wrapping_add(entire_mapcount(s))
    } else {
        own
    }
}

/// `/proc/kpagecount` of page `k`: [PMC] precise, [NOPMC] the folio's average (small
/// folios: their mapcount in both modes) (spec §4).
pub fn kpagecount<S: FolioStore>(s: &S, k: u32) -> i32 {
    match (s.mode(), s.is_large()) {
        (_, false) => mapcount(s),
        (Mode::Pmc, true) => precise_page_mapcount(s, k),
        (Mode::Nopmc, true) => average_page_mapcount(s),
    }
}

/// pagemap `PM_MMAP_EXCLUSIVE` for a present mapping of page `k`: [PMC] precise page
/// mapcount 1; [NOPMC] not maybe mapped shared (spec §4).
pub fn pm_mmap_exclusive<S: FolioStore>(s: &S, k: u32) -> bool {
    match s.mode() {
        Mode::Pmc => precise_page_mapcount(s, k) == 1,
        Mode::Nopmc => !maybe_mapped_shared(s),
    }
}

/// All queries of spec §4 at once, for page `k`.
pub fn query<S: FolioStore>(s: &S, k: u32) -> Result<FolioQuery, Status> {
    if k >= s.nr_pages() {
        return Err(Status::BadRange);
    }
    Ok(FolioQuery {
        mapcount: mapcount(s),
        large_mapcount: large_mapcount(s),
        entire_mapcount: entire_mapcount(s),
        nr_pages_mapped: nr_pages_mapped(s),
        average_page_mapcount: average_page_mapcount(s),
        expected_ref_count: expected_ref_count(s),
        precise_page_mapcount: precise_page_mapcount(s, k),
        kpagecount: kpagecount(s, k),
        mapped: mapped(s),
        maybe_mapped_shared: maybe_mapped_shared(s),
        maybe_dma_pinned: maybe_dma_pinned(s),
        pm_mmap_exclusive: pm_mmap_exclusive(s, k),
        anon_exclusive: s.page_flags(k) & PAGE_ANON_EXCLUSIVE != 0,
        reserved: [0; 3],
    })
}
