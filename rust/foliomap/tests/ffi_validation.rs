//! The C entry points refuse bad input with a status and leave the folio untouched.

use core::ptr;
use std::sync::Arc;
use std::thread;

use foliomap::ffi::*;
use foliomap::kernel::{MM_ID_MAX, PMD_NR};
use foliomap::types::*;

struct Owned {
    folio: Box<Folio>,
    pages: Box<[Page; 512]>,
}

impl Owned {
    fn new(mode: Mode, order: u32, options: u32) -> Owned {
        let mut o = Owned {
            folio: Box::new(Folio::new(Mode::Pmc, 0, 0).unwrap()),
            pages: Box::new([Page::INIT; 512]),
        };
        let st = unsafe {
            fm_folio_init(
                &mut *o.folio,
                mode as u32,
                order,
                options,
                o.pages.as_mut_ptr(),
                512,
            )
        };
        assert_eq!(st, Status::Ok);
        o
    }

    fn f(&mut self) -> *mut Folio {
        &mut *self.folio
    }

    fn state(&self) -> (Folio, Vec<Page>) {
        (*self.folio, self.pages.to_vec())
    }
}

fn same(a: &(Folio, Vec<Page>), b: &(Folio, Vec<Page>)) -> bool {
    let (fa, pa) = a;
    let (fb, pb) = b;
    format!("{fa:?}") == format!("{fb:?}") && pa == pb
}

/// A mapped mTHP (order 4) forked into a second mm: every operation has work to do.
fn forked_mthp(mode: Mode) -> Owned {
    let mut o = Owned::new(mode, 4, 0);
    unsafe {
        assert_eq!(fm_folio_fault_anon(o.f(), 1, ptr::null_mut()), Status::Ok);
        assert_eq!(
            fm_folio_fork_ptes(o.f(), 0, 16, 2, false, ptr::null_mut()),
            Status::Ok
        );
    }
    o
}

#[test]
fn init_rejects_bad_arguments() {
    let mut folio = Folio::new(Mode::Pmc, 0, 0).unwrap();
    let mut pages = [Page::INIT; 512];
    let p = pages.as_mut_ptr();
    unsafe {
        assert_eq!(
            fm_folio_init(ptr::null_mut(), 1, 4, 0, p, 512),
            Status::NullPointer
        );
        assert_eq!(
            fm_folio_init(&mut folio, 1, 4, 0, ptr::null_mut(), 512),
            Status::NullPointer
        );
        assert_eq!(fm_folio_init(&mut folio, 0, 4, 0, p, 512), Status::BadMode);
        assert_eq!(fm_folio_init(&mut folio, 3, 4, 0, p, 512), Status::BadMode);
        assert_eq!(
            fm_folio_init(&mut folio, 1, 10, 0, p, 512),
            Status::BadOrder
        );
        assert_eq!(
            fm_folio_init(&mut folio, 1, 4, 0, p, 15),
            Status::PagesTooSmall
        );
        assert_eq!(
            fm_folio_init(&mut folio, 1, 4, 2, p, 512),
            Status::BadArgument
        );
        // A misaligned page pointer.
        let odd = (p as *mut u8).wrapping_add(1) as *mut Page;
        assert_eq!(
            fm_folio_init(&mut folio, 1, 4, 0, odd, 16),
            Status::NullPointer
        );
    }
}

#[test]
fn uninitialised_or_corrupted_header_is_refused() {
    let mut pages = [Page::INIT; 16];
    let mut folio = Folio::new(Mode::Pmc, 4, 0).unwrap();
    folio.pages = pages.as_mut_ptr();
    folio.pages_len = 16;
    folio.magic = 0;
    unsafe {
        assert_eq!(
            fm_folio_fault_anon(&mut folio, 1, ptr::null_mut()),
            Status::NotInitialised
        );
        folio.magic = FOLIO_MAGIC;
        folio.pages_len = 8;
        assert_eq!(
            fm_folio_fault_anon(&mut folio, 1, ptr::null_mut()),
            Status::PagesTooSmall
        );
        folio.pages_len = 16;
        folio.pages = ptr::null_mut();
        assert_eq!(
            fm_folio_fault_anon(&mut folio, 1, ptr::null_mut()),
            Status::NullPointer
        );
        folio.pages = pages.as_mut_ptr();
        folio.order = 11;
        assert_eq!(
            fm_folio_fault_anon(&mut folio, 1, ptr::null_mut()),
            Status::BadOrder
        );
        folio.order = 4;
        folio.mode = 9;
        assert_eq!(
            fm_folio_fault_anon(&mut folio, 1, ptr::null_mut()),
            Status::BadMode
        );
        assert_eq!(
            fm_folio_fault_anon(ptr::null_mut(), 1, ptr::null_mut()),
            Status::NullPointer
        );
    }
}

#[test]
fn bad_operations_change_nothing() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut o = forked_mthp(mode);
        let before = o.state();
        let f = o.f();
        let facts = CowFacts::default();
        let bad_facts = CowFacts {
            unshare: 2,
            ..CowFacts::default()
        };
        let n = ptr::null_mut();
        let cases: Vec<(&str, Status, Status)> = unsafe {
            vec![
                ("mm 0", fm_folio_remove_ptes(f, 0, 1, 0, n), Status::BadMmId),
                (
                    "mm too big",
                    fm_folio_remove_ptes(f, 0, 1, MM_ID_MAX + 1, n),
                    Status::BadMmId,
                ),
                (
                    "empty batch",
                    fm_folio_remove_ptes(f, 0, 0, 1, n),
                    Status::BadRange,
                ),
                (
                    "batch past end",
                    fm_folio_remove_ptes(f, 8, 9, 1, n),
                    Status::BadRange,
                ),
                (
                    "batch overflows",
                    fm_folio_remove_ptes(f, u32::MAX, 2, 1, n),
                    Status::BadRange,
                ),
                (
                    "pmd op on order 4",
                    fm_folio_remove_pmd(f, 1, n),
                    Status::BadOrder,
                ),
                (
                    "add pmd on order 4",
                    fm_folio_add_anon_pmd(f, 1, 0, n),
                    Status::BadOrder,
                ),
                (
                    "unknown rmap flag",
                    fm_folio_add_anon_ptes(f, 0, 1, 1, 2, n),
                    Status::BadArgument,
                ),
                (
                    "file add on anon",
                    fm_folio_add_file_ptes(f, 0, 1, 1, n),
                    Status::BadState,
                ),
                (
                    "new anon on mapped",
                    fm_folio_add_new_anon(f, 1, 1, n),
                    Status::BadState,
                ),
                (
                    "page out of range",
                    fm_folio_wp_fault_pte(f, 16, 1, &facts, ptr::null_mut()),
                    Status::BadRange,
                ),
                (
                    "null facts",
                    fm_folio_wp_fault_pte(f, 0, 1, ptr::null(), ptr::null_mut()),
                    Status::NullPointer,
                ),
                (
                    "bad fact value",
                    fm_folio_wp_fault_pte(f, 0, 1, &bad_facts, ptr::null_mut()),
                    Status::BadArgument,
                ),
                (
                    "migration entry 0",
                    fm_folio_migrate_restore_pte(f, 0, 1, 0, n),
                    Status::BadArgument,
                ),
                (
                    "query page 16",
                    fm_folio_query(f, 16, ptr::null_mut()),
                    Status::BadRange,
                ),
                (
                    "flags unknown bit",
                    fm_folio_update_flags(f, 1 << 20, 0),
                    Status::BadArgument,
                ),
                (
                    "flags set and clear",
                    fm_folio_update_flags(f, FOLIO_LRU, FOLIO_LRU),
                    Status::BadArgument,
                ),
                ("unpin unpinned", fm_folio_unpin(f), Status::BadState),
                ("put too many", fm_folio_put(f, 1000), Status::BadState),
                (
                    "split check only reports",
                    fm_folio_split_check(f, 4, 1, ptr::null_mut()),
                    Status::Ok,
                ),
                (
                    "migrate into itself",
                    fm_folio_migrate_move(f, f, ptr::null_mut()),
                    Status::BadArgument,
                ),
            ]
        };
        for (what, got, want) in cases {
            assert_eq!(got, want, "{mode:?}: {what}");
            assert!(
                same(&before, &o.state()),
                "{mode:?}: {what} changed the folio"
            );
        }
        // Removing more PTE mappings of a page than exist is refused (PMC: per page;
        // both modes: more than LM).
        unsafe {
            assert_eq!(
                fm_folio_zap_ptes(o.f(), 0, 16, 1, ptr::null_mut()),
                Status::Ok
            );
            assert_eq!(
                fm_folio_zap_ptes(o.f(), 0, 16, 2, ptr::null_mut()),
                Status::Ok
            );
            let gone = o.state();
            assert_eq!(
                fm_folio_remove_ptes(o.f(), 0, 1, 1, ptr::null_mut()),
                Status::BadState
            );
            assert!(same(&gone, &o.state()));
        }
    }
}

#[test]
fn misaligned_output_is_refused_before_the_operation() {
    let mut o = forked_mthp(Mode::Pmc);
    let before = o.state();
    let mut buf = [0u8; 64];
    let odd = buf.as_mut_ptr().wrapping_add(1) as *mut RmapOutcome;
    unsafe {
        assert_eq!(fm_folio_zap_ptes(o.f(), 0, 4, 1, odd), Status::NullPointer);
    }
    assert!(same(&before, &o.state()));
}

#[test]
fn status_strings_exist_for_every_status() {
    for code in 0..=10 {
        let text = unsafe { core::ffi::CStr::from_ptr(fm_status_str(-code)) };
        assert_ne!(text.to_str().unwrap(), "unknown status", "status {}", -code);
    }
    let text = unsafe { core::ffi::CStr::from_ptr(fm_version()) };
    assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn mm_ids_lowest_free_first() {
    let mut ids = MmIds {
        magic: 0,
        nr_words: 0,
        bitmap: ptr::null_mut(),
    };
    let mut bits = [0u64; 2];
    let mut id = 0;
    unsafe {
        assert_eq!(fm_mm_ids_alloc(&mut ids, &mut id), Status::NotInitialised);
        assert_eq!(
            fm_mm_ids_init(&mut ids, bits.as_mut_ptr(), 0),
            Status::BadArgument
        );
        assert_eq!(fm_mm_ids_init(&mut ids, bits.as_mut_ptr(), 2), Status::Ok);
        for want in 1..=127 {
            assert_eq!(fm_mm_ids_alloc(&mut ids, &mut id), Status::Ok);
            assert_eq!(id, want);
        }
        assert_eq!(fm_mm_ids_alloc(&mut ids, &mut id), Status::Exhausted);
        assert_eq!(fm_mm_ids_free(&mut ids, 5), Status::Ok);
        assert_eq!(fm_mm_ids_free(&mut ids, 5), Status::BadState);
        assert_eq!(fm_mm_ids_free(&mut ids, 0), Status::BadMmId);
        assert_eq!(fm_mm_ids_free(&mut ids, 90), Status::Ok);
        assert_eq!(fm_mm_ids_alloc(&mut ids, &mut id), Status::Ok);
        assert_eq!(id, 5, "the smallest free id is reused first (spec §1.7)");
        assert_eq!(
            fm_mm_ids_alloc(&mut ids, ptr::null_mut()),
            Status::NullPointer
        );
    }
}

/// The concurrent layer keeps the large mapcount and slots consistent under contention:
/// threads of several mms map and unmap the same THP at PTE level at the same time.
#[test]
fn concurrent_folio_stays_consistent() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut o = Owned::new(mode, 9, FOLIO_OPT_CONCURRENT);
        unsafe {
            assert_eq!(fm_folio_fault_anon(o.f(), 1, ptr::null_mut()), Status::Ok);
            assert_eq!(
                fm_folio_split_pmd(o.f(), 1, false, true, ptr::null_mut()),
                Status::Ok
            );
        }
        let base = o.state();
        let addr = o.f() as usize;
        let done = Arc::new(());
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let _keep = Arc::clone(&done);
                thread::spawn(move || {
                    let f = addr as *mut Folio;
                    let mm = 10 + t;
                    for round in 0..2000u32 {
                        let first = (t * 128 + round) % PMD_NR;
                        let nr = 1 + round % 8;
                        let nr = nr.min(PMD_NR - first);
                        unsafe {
                            assert_eq!(
                                fm_folio_fork_ptes(f, first, nr, mm, false, ptr::null_mut()),
                                Status::Ok
                            );
                            assert_eq!(
                                fm_folio_zap_ptes(f, first, nr, mm, ptr::null_mut()),
                                Status::Ok
                            );
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (after, pages) = o.state();
        let (before, before_pages) = &base;
        assert_eq!(after.large_mapcount, before.large_mapcount, "{mode:?}");
        assert_eq!(after.refcount, before.refcount, "{mode:?}");
        assert_eq!(
            after.mm_id_mapcount,
            [511, -1],
            "{mode:?}: only mm 1 keeps a slot"
        );
        assert_eq!(after.mm_ids & 0x7fff_ffff, 1, "{mode:?}");
        assert_eq!(after.mm_ids & (1 << 31), 0, "{mode:?}: lock released");
        assert_eq!(
            pages.iter().map(|p| p.mapcount).collect::<Vec<_>>(),
            before_pages.iter().map(|p| p.mapcount).collect::<Vec<_>>(),
            "{mode:?}"
        );
    }
}

#[test]
fn compare_reports_the_fields_an_operation_changed() {
    use foliomap::diff::*;
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut a = forked_mthp(mode);
        let mut b = Owned::new(mode, 4, 0);
        let mut diff = FolioDiff::default();
        unsafe {
            assert_eq!(fm_folio_copy(b.f(), a.f()), Status::Ok);
            assert_eq!(
                fm_folio_compare(a.f(), b.f(), 0, 16, FIELDS_ALL, &mut diff),
                Status::Ok
            );
            assert_eq!(
                diff,
                FolioDiff {
                    fields: 0,
                    first_page: u32::MAX
                },
                "{mode:?}"
            );
            // C unmaps pages 8..15: its slot count, LM, refcount and [PMC] those pages.
            assert_eq!(
                fm_folio_zap_ptes(b.f(), 8, 8, 2, ptr::null_mut()),
                Status::Ok
            );
            assert_eq!(
                fm_folio_compare(a.f(), b.f(), 0, 16, FIELDS_ALL, &mut diff),
                Status::Ok
            );
            let mut want = FIELD_REFCOUNT | FIELD_LARGE_MAPCOUNT | FIELD_MM_ID_MAPCOUNT1;
            if mode == Mode::Pmc {
                want |= FIELD_PAGE_MAPCOUNT;
            }
            assert_eq!(diff.fields, want, "{mode:?}");
            assert_eq!(
                diff.first_page,
                if mode == Mode::Pmc { 8 } else { u32::MAX }
            );
            // A narrower selection and range.
            assert_eq!(
                fm_folio_compare(a.f(), b.f(), 0, 8, FIELD_PAGE_MAPCOUNT, &mut diff),
                Status::Ok
            );
            assert_eq!(diff.fields, 0);
            assert_eq!(
                fm_folio_compare(a.f(), a.f(), 0, 16, FIELDS_ALL, &mut diff),
                Status::Ok
            );
            assert_eq!(diff.fields, 0);
            assert_eq!(
                fm_folio_compare(a.f(), b.f(), 0, 16, 1 << 30, &mut diff),
                Status::BadArgument
            );
            let mut other_order = Owned::new(mode, 2, 0);
            assert_eq!(
                fm_folio_compare(a.f(), other_order.f(), 0, 4, FIELDS_ALL, &mut diff),
                Status::BadArgument
            );
            let name = core::ffi::CStr::from_ptr(fm_field_name(FIELD_MM_ID_MAPCOUNT1));
            assert_eq!(name.to_str().unwrap(), "mm_id_mapcount[1]");
        }
    }
}

#[test]
fn migration_moves_the_swap_cache_to_the_destination() {
    let mut src = Owned::new(Mode::Pmc, 4, 0);
    let mut dst = Owned::new(Mode::Pmc, 4, 0);
    let mut ret = 1;
    let mut out = MigrateUnmapOutcome::default();
    unsafe {
        assert_eq!(fm_folio_fault_anon(src.f(), 1, ptr::null_mut()), Status::Ok);
        assert_eq!(fm_folio_swapcache_add(src.f()), Status::Ok);
        assert_eq!(fm_folio_get(src.f(), 1), Status::Ok); // the migration's isolation ref
        for k in 0..16 {
            assert_eq!(
                fm_folio_migrate_unmap_pte(src.f(), k, 1, true, &mut out),
                Status::Ok
            );
            assert_eq!(out.ret, 0);
        }
        assert_eq!(src.folio.refcount, 16 + 1, "swap cache N + isolation");
        assert_eq!(
            fm_folio_migrate_move(src.f(), dst.f(), &mut ret),
            Status::Ok
        );
        assert_eq!(ret, 0);
    }
    assert!(dst.folio.test(FOLIO_SWAPCACHE) && !src.folio.test(FOLIO_SWAPCACHE));
    assert_eq!((src.folio.refcount, dst.folio.refcount), (1, 1 + 16));
}

#[test]
fn split_freeze_needs_an_unmapped_folio_and_only_the_callers_reference() {
    let mut o = Owned::new(Mode::Pmc, 4, 0);
    let mut ret = 1;
    let mut out = MigrateUnmapOutcome::default();
    unsafe {
        assert_eq!(fm_folio_fault_anon(o.f(), 1, ptr::null_mut()), Status::Ok);
        assert_eq!(
            fm_folio_split_freeze(o.f(), &mut ret),
            Status::BadState,
            "still mapped"
        );
        assert_eq!(fm_folio_get(o.f(), 1), Status::Ok); // the splitter's reference
        for k in 0..16 {
            assert_eq!(
                fm_folio_migrate_unmap_pte(o.f(), k, 1, true, &mut out),
                Status::Ok
            );
        }
        assert!(
            o.folio.test(FOLIO_PARTIALLY_MAPPED),
            "per-PTE unmap marks it (spec §3.7)"
        );
        assert_eq!(fm_folio_pin(o.f()), Status::Ok);
        assert_eq!(fm_folio_split_freeze(o.f(), &mut ret), Status::Ok);
        assert_eq!(ret, -11, "a pin makes the freeze fail");
        assert!(o.folio.test(FOLIO_PARTIALLY_MAPPED));
        assert_eq!(fm_folio_unpin(o.f()), Status::Ok);
        assert_eq!(fm_folio_split_freeze(o.f(), &mut ret), Status::Ok);
        assert_eq!(ret, 0);
    }
    assert!(!o.folio.test(FOLIO_PARTIALLY_MAPPED) && !o.folio.test(FOLIO_DEFERRED_LIST));
}
