//! The C entry points refuse bad input with a status and leave the folio untouched.

use core::ptr;
use std::sync::Arc;
use std::thread;

use foliomap::kernel::{MM_ID_MAX, PMD_NR};
use foliomap::types::*;
use foliomap_ffi::*;

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
                    Status::Alias,
                ),
                ("copy onto itself", fm_folio_copy(f, f), Status::Alias),
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
    for code in 0..=14 {
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
        seal: 0,
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

// ---- Issue 13: the C ABI under hostile input. Every case is a broken input the call must
// refuse with its status, and the refused call must change no byte of what it was given.

/// The bytes of a header and of its 512 pages of storage.
fn bytes(o: &Owned) -> Vec<u8> {
    fn raw<T>(v: &T) -> &[u8] {
        // SAFETY: plain old data, read as bytes.
        unsafe { core::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }
    }
    let mut v = raw(&*o.folio).to_vec();
    v.extend_from_slice(raw(&*o.pages));
    v
}

use core::mem::size_of;
use foliomap::kernel::MM_IDS_LOCK_BIT;

/// Runs `call` on `o` (and `others`), which must refuse it with `want` and leave every
/// byte of all of them as it was.
fn refused(what: &str, want: Status, o: &mut Owned, call: impl FnOnce(*mut Folio) -> Status) {
    let before = bytes(o);
    let got = call(o.f());
    assert_eq!(got, want, "{what}");
    assert_eq!(
        before,
        bytes(o),
        "{what}: the refused call changed the folio"
    );
}

#[test]
fn a_header_copied_by_value_is_refused_until_rebound() {
    for options in [0, FOLIO_OPT_CONCURRENT] {
        let a = forked_mthp_with(Mode::Pmc, options);
        // `fm_folio b = a;`: same magic, same `pages` as a.
        let mut b = Owned::new(Mode::Pmc, 4, 0);
        *b.folio = *a.folio;
        let a_before = bytes(&a);
        for (what, call) in hostile_calls() {
            refused(
                &format!("copied header: {what}"),
                Status::Moved,
                &mut b,
                call,
            );
            assert_eq!(a_before, bytes(&a), "{what}: the original changed");
        }
        // Adopted with its own pages (copied first), the copy is a folio of its own.
        b.pages.copy_from_slice(&a.pages[..]);
        let pages = b.pages.as_mut_ptr();
        unsafe {
            assert_eq!(fm_folio_rebind(b.f(), pages, 512), Status::Ok);
            assert_eq!(
                fm_folio_zap_ptes(b.f(), 0, 16, 2, ptr::null_mut()),
                Status::Ok
            );
        }
        assert_eq!(
            a_before,
            bytes(&a),
            "ops on the rebound copy change the original"
        );
        assert_eq!(b.folio.refcount, a.folio.refcount - 16);
    }
}

#[test]
fn edited_fixed_fields_are_refused() {
    let mut other = [Page::INIT; 512];
    let mut o = forked_mthp(Mode::Pmc);
    type Edit = fn(&mut Folio, *mut Page);
    let edits: Vec<(&str, Edit)> = vec![
        ("pages re-pointed", |f, p| f.pages = p),
        ("order shrunk", |f, _| f.order = 3),
        ("mode switched", |f, _| f.mode = Mode::Nopmc as u32),
        ("options switched", |f, _| f.options = FOLIO_OPT_CONCURRENT),
        ("seal forged to 0", |f, _| f.seal = 0),
    ];
    for (what, edit) in edits {
        let saved = *o.folio;
        edit(&mut o.folio, other.as_mut_ptr());
        refused(what, Status::Moved, &mut o, |f| unsafe {
            fm_folio_fault_anon(f, 3, ptr::null_mut())
        });
        refused(what, Status::Moved, &mut o, |f| unsafe {
            fm_folio_query(f, 0, ptr::null_mut())
        });
        *o.folio = saved;
    }
    assert!(
        other.iter().all(|p| *p == Page::INIT),
        "the other storage was written"
    );
}

#[test]
fn two_folio_calls_refuse_overlapping_folios() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut a = forked_mthp(mode);
        // b: its own header at its own address, but a's pages (a "rebound" alias).
        let mut b = Owned::new(mode, 4, 0);
        let shared = a.pages.as_mut_ptr();
        let b_before = bytes(&b);
        unsafe {
            assert_eq!(fm_folio_rebind(b.f(), shared, 512), Status::Ok);
        }
        let a_before = bytes(&a);
        let (fa, fb) = (a.f(), b.f());
        let mut ret = 0;
        let mut diff = foliomap::diff::FolioDiff::default();
        unsafe {
            assert_eq!(fm_folio_copy(fb, fa), Status::Alias, "{mode:?} copy");
            assert_eq!(fm_folio_copy(fa, fb), Status::Alias, "{mode:?} copy back");
            assert_eq!(
                fm_folio_compare(fa, fb, 0, 16, foliomap::diff::FIELDS_ALL, &mut diff),
                Status::Alias,
                "{mode:?} compare"
            );
            assert_eq!(
                fm_folio_migrate_move(fa, fb, &mut ret),
                Status::Alias,
                "{mode:?} migrate"
            );
        }
        assert_eq!(ret, 0);
        assert_eq!(a_before, bytes(&a), "{mode:?}: a refused call changed a");
        // Back to b's own pages: the calls go through again.
        let own = b.pages.as_mut_ptr();
        unsafe {
            assert_eq!(fm_folio_rebind(b.f(), own, 512), Status::Ok);
            assert_eq!(fm_folio_copy(b.f(), a.f()), Status::Ok);
        }
        assert_ne!(b_before, bytes(&b));
    }
}

/// Storage for a header and its pages in one buffer, to place them as a hostile caller
/// would.
#[repr(C, align(8))]
struct Arena([u64; 1024]);

#[test]
fn a_header_overlapping_pages_is_refused() {
    let mut arena = Box::new(Arena([0x5a5a_5a5a_5a5a_5a5a; 1024]));
    let base = arena.0.as_mut_ptr();
    let folio = base as *mut Folio;
    // Pages starting inside the header, and a header inside another folio's pages.
    let pages = unsafe { base.add(2) } as *mut Page;
    let before = arena.0.to_vec();
    unsafe {
        assert_eq!(
            fm_folio_init(folio, 1, 4, 0, pages, 16),
            Status::Alias,
            "init over its own header"
        );
    }
    assert_eq!(before, arena.0.to_vec(), "the refused init wrote");
    let mut a = forked_mthp(Mode::Pmc);
    let header = bytes(&a);
    unsafe {
        assert_eq!(
            fm_folio_rebind(a.f(), a.f().cast::<Page>().add(4), 512),
            Status::Alias,
            "rebind with pages inside the header"
        );
    }
    assert_eq!(header, bytes(&a));
    // A header moved into its pages' memory by hand is refused as moved, before the
    // overlap is even looked at; both refuse.
    let mut b = Owned::new(Mode::Pmc, 2, 0);
    let slot = unsafe { b.pages.as_mut_ptr().add(64) } as *mut Folio;
    if slot.is_aligned() {
        unsafe {
            ptr::write(slot, *b.folio);
            let st = fm_folio_fault_anon(slot, 1, ptr::null_mut());
            assert!(st == Status::Moved || st == Status::Alias, "{st:?}");
        }
    }
}

#[test]
fn outputs_overlapping_the_folio_are_refused() {
    let mut o = forked_mthp(Mode::Pmc);
    refused("query into the pages", Status::Alias, &mut o, |f| unsafe {
        let into = (*f).pages.add(2) as *mut FolioQuery;
        fm_folio_query(f, 0, into)
    });
    refused(
        "zap outcome into the header",
        Status::Alias,
        &mut o,
        |f| unsafe { fm_folio_zap_ptes(f, 0, 1, 1, f as *mut RmapOutcome) },
    );
    refused("ret into the header", Status::Alias, &mut o, |f| unsafe {
        fm_folio_split_freeze(f, ptr::addr_of_mut!((*f).refcount))
    });
    let mut dst = Owned::new(Mode::Pmc, 4, 0);
    let dst_before = bytes(&dst);
    refused("migrate ret into dst", Status::Alias, &mut o, |f| unsafe {
        fm_folio_migrate_move(f, dst.f(), ptr::addr_of_mut!((*dst.f()).refcount))
    });
    assert_eq!(dst_before, bytes(&dst));
}

#[test]
fn an_allocator_edited_after_init_is_refused() {
    let mut bits = [0u64; 4];
    let mut ids = MmIds {
        magic: 0,
        nr_words: 0,
        bitmap: ptr::null_mut(),
        seal: 0,
    };
    let mut id = 0;
    unsafe {
        assert_eq!(fm_mm_ids_init(&mut ids, bits.as_mut_ptr(), 2), Status::Ok);
        assert_eq!(fm_mm_ids_alloc(&mut ids, &mut id), Status::Ok);
        assert_eq!(id, 1);
    }
    let saved = (ids.nr_words, ids.bitmap);
    type Edit = fn(&mut MmIds, *mut u64);
    let edits: Vec<(&str, Edit)> = vec![
        ("nr_words enlarged", |ids, _| ids.nr_words = 1000),
        ("nr_words shrunk", |ids, _| ids.nr_words = 1),
        ("bitmap re-pointed", |ids, p| ids.bitmap = p),
    ];
    for (what, edit) in edits {
        edit(&mut ids, unsafe { bits.as_mut_ptr().add(2) });
        let before = bits;
        unsafe {
            assert_eq!(
                fm_mm_ids_alloc(&mut ids, &mut id),
                Status::Corrupt,
                "{what}"
            );
            assert_eq!(fm_mm_ids_free(&mut ids, 1), Status::Corrupt, "{what}");
        }
        assert_eq!(before, bits, "{what}: the refused call wrote the bitmap");
        assert_eq!(id, 1, "{what}: the refused call wrote the id");
        (ids.nr_words, ids.bitmap) = saved;
    }
    // An id output inside the bitmap or the allocator itself.
    let before = bits;
    unsafe {
        let inside = bits.as_mut_ptr() as *mut u32;
        assert_eq!(fm_mm_ids_alloc(&mut ids, inside), Status::Alias);
        let own = ptr::addr_of_mut!(ids.nr_words);
        assert_eq!(fm_mm_ids_alloc(&mut ids, own), Status::Alias);
        // A bitmap overlapping the allocator at init.
        let mut arena = Arena([0; 1024]);
        let at = arena.0.as_mut_ptr();
        assert_eq!(
            fm_mm_ids_init(at as *mut MmIds, at.add(1), 8),
            Status::Alias
        );
        assert!(arena.0.iter().all(|w| *w == 0));
    }
    assert_eq!(before, bits);
    unsafe {
        assert_eq!(fm_mm_ids_alloc(&mut ids, &mut id), Status::Ok);
    }
    assert_eq!(id, 2);
}

#[test]
fn a_lock_bit_nobody_holds_is_refused_not_spun_on() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut o = forked_mthp_with(mode, FOLIO_OPT_CONCURRENT);
        // A raw kernel `_mm_ids` read while the kernel held the mapcount lock.
        o.folio.mm_ids |= MM_IDS_LOCK_BIT;
        let start = std::time::Instant::now();
        for (what, call) in hostile_calls() {
            refused(
                &format!("{mode:?} lock bit: {what}"),
                Status::Corrupt,
                &mut o,
                call,
            );
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "refusing took {:?}",
            start.elapsed()
        );
        o.folio.mm_ids &= !MM_IDS_LOCK_BIT;
        unsafe {
            assert_eq!(
                fm_folio_zap_ptes(o.f(), 0, 4, 2, ptr::null_mut()),
                Status::Ok
            );
        }
        assert_eq!(o.folio.in_use, 0, "calls in flight counted back to 0");
    }
    // A plain folio never spins: the stale bit is simply not part of the state.
    let mut o = forked_mthp(Mode::Pmc);
    o.folio.mm_ids |= MM_IDS_LOCK_BIT;
    unsafe {
        assert_eq!(
            fm_folio_zap_ptes(o.f(), 0, 4, 2, ptr::null_mut()),
            Status::Ok
        );
    }
    assert_eq!(o.folio.mm_ids & MM_IDS_LOCK_BIT, 0);
}

#[test]
fn a_lock_held_past_the_bound_gives_busy() {
    let mut o = forked_mthp_with(Mode::Pmc, FOLIO_OPT_CONCURRENT);
    // As if another call were in flight and held the lock for ever.
    o.folio.mm_ids |= MM_IDS_LOCK_BIT;
    o.folio.in_use = 1;
    refused(
        "lock held by a call in flight",
        Status::Busy,
        &mut o,
        |f| unsafe { fm_folio_query(f, 0, ptr::null_mut()) },
    );
}

#[test]
fn a_plain_folio_in_use_by_another_call_is_refused() {
    let mut o = forked_mthp(Mode::Pmc);
    let mut dst = Owned::new(Mode::Pmc, 4, 0);
    // What a call on another thread leaves set while it runs.
    o.folio.in_use = 1;
    for (what, call) in hostile_calls() {
        refused(&format!("in use: {what}"), Status::Busy, &mut o, call);
    }
    let dst_before = bytes(&dst);
    refused(
        "copy from a folio in use",
        Status::Busy,
        &mut o,
        |f| unsafe { fm_folio_copy(dst.f(), f) },
    );
    assert_eq!(dst_before, bytes(&dst));
    o.folio.in_use = 0;
    unsafe {
        assert_eq!(
            fm_folio_zap_ptes(o.f(), 0, 4, 2, ptr::null_mut()),
            Status::Ok
        );
        assert_eq!(fm_folio_copy(dst.f(), o.f()), Status::Ok);
        assert_eq!(fm_folio_query(o.f(), 0, ptr::null_mut()), Status::Ok);
    }
    assert_eq!(
        (o.folio.in_use, dst.folio.in_use),
        (0, 0),
        "marks cleared after the calls"
    );
}

/// Calls of every kind (mutating, read-only, PTE, fork) that would succeed on a sound
/// forked mTHP.
#[allow(clippy::type_complexity)]
fn hostile_calls() -> Vec<(&'static str, Box<dyn FnOnce(*mut Folio) -> Status>)> {
    vec![
        (
            "zap",
            Box::new(|f| unsafe { fm_folio_zap_ptes(f, 0, 4, 2, ptr::null_mut()) }),
        ),
        (
            "fork",
            Box::new(|f| unsafe { fm_folio_fork_ptes(f, 0, 16, 3, false, ptr::null_mut()) }),
        ),
        ("get", Box::new(|f| unsafe { fm_folio_get(f, 1) })),
        (
            "query",
            Box::new(|f| unsafe { fm_folio_query(f, 0, ptr::null_mut()) }),
        ),
        (
            "split check",
            Box::new(|f| unsafe { fm_folio_split_check(f, 0, 1, ptr::null_mut()) }),
        ),
        (
            "flags",
            Box::new(|f| unsafe { fm_folio_update_flags(f, FOLIO_LRU, 0) }),
        ),
    ]
}

fn forked_mthp_with(mode: Mode, options: u32) -> Owned {
    let mut o = Owned::new(mode, 4, options);
    unsafe {
        assert_eq!(fm_folio_fault_anon(o.f(), 1, ptr::null_mut()), Status::Ok);
        assert_eq!(
            fm_folio_fork_ptes(o.f(), 0, 16, 2, false, ptr::null_mut()),
            Status::Ok
        );
    }
    o
}

/// Model operations that used to change the folio before refusing (found by
/// scripts/fuzz): each now refuses first.
#[test]
fn model_refusals_found_by_the_fuzzer_change_nothing() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        // A file-mapped mTHP whose references were all dropped.
        let mut o = Owned::new(mode, 4, 0);
        unsafe {
            assert_eq!(
                fm_folio_add_file_ptes(o.f(), 0, 4, 1, ptr::null_mut()),
                Status::Ok
            );
            assert_eq!(fm_folio_put(o.f(), 1), Status::Ok);
        }
        refused(
            "migrate unmap without a reference",
            Status::BadState,
            &mut o,
            |f| unsafe { fm_folio_migrate_unmap_pte(f, 0, 1, false, ptr::null_mut()) },
        );
        // A pinned folio whose references were dropped behind the pin.
        let mut o = forked_mthp(mode);
        unsafe {
            assert_eq!(fm_folio_pin(o.f()), Status::Ok);
            let refs = o.folio.refcount;
            assert_eq!(fm_folio_put(o.f(), refs), Status::Ok);
        }
        refused(
            "unpin without the pin's reference",
            Status::BadState,
            &mut o,
            |f| unsafe { fm_folio_unpin(f) },
        );
        // A COPY that would drop a reference that is not there.
        let mut o = forked_mthp(mode);
        let refs = o.folio.refcount;
        unsafe {
            assert_eq!(fm_folio_put(o.f(), refs), Status::Ok);
        }
        let facts = CowFacts::default();
        refused(
            "write fault without references",
            Status::BadState,
            &mut o,
            |f| unsafe { fm_folio_wp_fault_pte(f, 0, 1, &facts, ptr::null_mut()) },
        );
        // A PMD-mapped THP whose references were dropped: a freeze has none to drop.
        let mut o = Owned::new(mode, 9, 0);
        unsafe {
            assert_eq!(fm_folio_fault_anon(o.f(), 1, ptr::null_mut()), Status::Ok);
            assert_eq!(fm_folio_put(o.f(), 1), Status::Ok);
        }
        refused(
            "freeze without a reference",
            Status::BadState,
            &mut o,
            |f| unsafe { fm_folio_split_pmd(f, 1, true, true, ptr::null_mut()) },
        );
    }
}

/// A hostile refcount and caller_refs far apart (found by scripts/fuzz): no overflow (a
/// panic in a build with overflow checks), an answer, nothing changed.
#[test]
fn split_check_survives_extreme_reference_counts() {
    let mut o = forked_mthp(Mode::Pmc);
    o.folio.refcount = i32::MIN + 3;
    let before = bytes(&o);
    let mut ret = 0;
    unsafe {
        assert_eq!(
            fm_folio_split_check(o.f(), 0, i32::MAX, &mut ret),
            Status::Ok
        );
    }
    assert_eq!(ret, -11, "-EAGAIN: the references do not add up");
    assert_eq!(before, bytes(&o));
}
