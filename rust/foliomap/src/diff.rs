//! Field-by-field comparison of two folio states: how the kernel module reports a model
//! prediction that differs from the live folio, and how simulators compare transcripts.

use crate::types::{
    Folio, Mode, Page, FOLIO_ANON, FOLIO_DEFERRED_LIST, FOLIO_PARTIALLY_MAPPED, PAGE_ANON_EXCLUSIVE,
};

/// `_refcount`.
pub const FIELD_REFCOUNT: u32 = 1 << 0;
/// `_pincount`.
pub const FIELD_PINCOUNT: u32 = 1 << 1;
/// `_large_mapcount`.
pub const FIELD_LARGE_MAPCOUNT: u32 = 1 << 2;
/// `_entire_mapcount`.
pub const FIELD_ENTIRE_MAPCOUNT: u32 = 1 << 3;
/// `_nr_pages_mapped` (compared in [PMC] only: [NOPMC] leaves it uninitialised, §1.3).
pub const FIELD_NR_PAGES_MAPPED: u32 = 1 << 4;
/// `_mm_id[0]`.
pub const FIELD_MM_ID0: u32 = 1 << 5;
/// `_mm_id[1]`.
pub const FIELD_MM_ID1: u32 = 1 << 6;
/// `_mm_id_mapcount[0]`.
pub const FIELD_MM_ID_MAPCOUNT0: u32 = 1 << 7;
/// `_mm_id_mapcount[1]`.
pub const FIELD_MM_ID_MAPCOUNT1: u32 = 1 << 8;
/// The "maybe mapped shared" bit.
pub const FIELD_SHARED: u32 = 1 << 9;
/// `PG_partially_mapped`.
pub const FIELD_PARTIALLY_MAPPED: u32 = 1 << 10;
/// On the deferred-split list.
pub const FIELD_DEFERRED_LIST: u32 = 1 << 11;
/// Anonymous.
pub const FIELD_ANON: u32 = 1 << 12;
/// A per-page `_mapcount` in the compared range.
pub const FIELD_PAGE_MAPCOUNT: u32 = 1 << 13;
/// A per-page `PageAnonExclusive` in the compared range.
pub const FIELD_PAGE_ANON_EXCLUSIVE: u32 = 1 << 14;
/// Every field.
pub const FIELDS_ALL: u32 = (1 << 15) - 1;

const FIELD_NAMES: [&core::ffi::CStr; 15] = [
    c"refcount",
    c"pincount",
    c"large_mapcount",
    c"entire_mapcount",
    c"nr_pages_mapped",
    c"mm_id[0]",
    c"mm_id[1]",
    c"mm_id_mapcount[0]",
    c"mm_id_mapcount[1]",
    c"shared",
    c"partially_mapped",
    c"deferred_list",
    c"anon",
    c"page_mapcount",
    c"page_anon_exclusive",
];

/// The name of the lowest field bit set in `field`, if it is a known one.
pub fn field_name(field: u32) -> Option<&'static core::ffi::CStr> {
    if field == 0 {
        return None;
    }
    FIELD_NAMES.get(field.trailing_zeros() as usize).copied()
}

/// Which fields differ (`FIELD_*` bits) and the first differing page of the range.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolioDiff {
    /// `FIELD_*` bits of the fields that differ.
    pub fields: u32,
    /// First page of the compared range whose `_mapcount` or PAE differs, or `u32::MAX`.
    pub first_page: u32,
}

/// Compares the `fields` of `a` and `b` (same mode and order), per-page fields over
/// pages `[first, first + nr)` clipped to the folio.
pub fn compare(
    a: &Folio,
    a_pages: &[Page],
    b: &Folio,
    b_pages: &[Page],
    first: u32,
    nr: u32,
    fields: u32,
) -> FolioDiff {
    let mut diff = 0;
    let mut check = |bit: u32, differs: bool| {
        if fields & bit != 0 && differs {
            diff |= bit;
        }
    };
    let flag = |f: &Folio, bit: u32| f.flags & bit != 0;
    check(FIELD_REFCOUNT, a.refcount != b.refcount);
    check(FIELD_PINCOUNT, a.pincount != b.pincount);
    check(FIELD_LARGE_MAPCOUNT, a.large_mapcount != b.large_mapcount);
    check(
        FIELD_ENTIRE_MAPCOUNT,
        a.entire_mapcount != b.entire_mapcount,
    );
    check(
        FIELD_NR_PAGES_MAPPED,
        a.mode() == Mode::Pmc && a.nr_pages_mapped != b.nr_pages_mapped,
    );
    check(FIELD_MM_ID0, a.mm_id(0) != b.mm_id(0));
    check(FIELD_MM_ID1, a.mm_id(1) != b.mm_id(1));
    check(
        FIELD_MM_ID_MAPCOUNT0,
        a.mm_id_mapcount[0] != b.mm_id_mapcount[0],
    );
    check(
        FIELD_MM_ID_MAPCOUNT1,
        a.mm_id_mapcount[1] != b.mm_id_mapcount[1],
    );
    check(FIELD_SHARED, a.shared_bit() != b.shared_bit());
    check(
        FIELD_PARTIALLY_MAPPED,
        flag(a, FOLIO_PARTIALLY_MAPPED) != flag(b, FOLIO_PARTIALLY_MAPPED),
    );
    check(
        FIELD_DEFERRED_LIST,
        flag(a, FOLIO_DEFERRED_LIST) != flag(b, FOLIO_DEFERRED_LIST),
    );
    check(FIELD_ANON, flag(a, FOLIO_ANON) != flag(b, FOLIO_ANON));
    let mut first_page = u32::MAX;
    let end = first.saturating_add(nr).min(a.nr_pages());
    for k in first..end {
        let (Some(pa), Some(pb)) = (a_pages.get(k as usize), b_pages.get(k as usize)) else {
            break;
        };
        let mut page_diff = 0;
        if fields & FIELD_PAGE_MAPCOUNT != 0 && pa.mapcount != pb.mapcount {
            page_diff |= FIELD_PAGE_MAPCOUNT;
        }
        let pae = |p: &Page| p.flags & PAGE_ANON_EXCLUSIVE != 0;
        if fields & FIELD_PAGE_ANON_EXCLUSIVE != 0 && pae(pa) != pae(pb) {
            page_diff |= FIELD_PAGE_ANON_EXCLUSIVE;
        }
        if page_diff != 0 && first_page == u32::MAX {
            first_page = k;
        }
        diff |= page_diff;
    }
    FolioDiff {
        fields: diff,
        first_page,
    }
}
