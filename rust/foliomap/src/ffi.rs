//! The C ABI: every `fm_*` entry point of `include/foliomap.h`.
//!
//! # Pointer contract
//!
//! - A `fm_folio *` must be NULL or point to a `fm_folio` the caller owns; before
//!   `fm_folio_init` its contents may be anything (init overwrites it). After init, its
//!   `pages` / `pages_len` describe caller-owned `fm_page` storage of at least
//!   `1 << order` entries that lives as long as the folio is used.
//! - A folio initialised without `FM_FOLIO_OPT_CONCURRENT` must not be used by two
//!   threads at once (the pure core takes exclusive access). One initialised with it may
//!   be used concurrently, but then only through these functions.
//! - Output pointers may be NULL (the output is discarded); input pointers may not.
//!
//! Every function checks its pointers (NULL, alignment), the folio header (magic, mode,
//! order, page storage) and its arguments, and returns a negative `fm_status` without
//! changing anything when one is wrong. What the modelled kernel function returns (e.g.
//! `-EBUSY`) is part of the output, never a status.

use core::ffi::c_char;
use core::ptr;
use core::slice;

use crate::mmid::MmIdAllocator;
use crate::ops;
use crate::query;
use crate::rmap::{self, Kind};
use crate::store::{validate_header, FolioMut, FolioStore};
use crate::sync::{AtomicFolio, AtomicPage, SyncFolio};
use crate::trace::{
    self, TraceHeader, TracePages, TraceState, TRACE_SOURCE_CSIM, TRACE_SOURCE_KERNEL,
};
use crate::types::{
    CowFacts, CowOutcome, Folio, FolioQuery, ForkOutcome, MigrateUnmapOutcome, MigrationEntry,
    Mode, Page, RmapOutcome, SplitPmdOutcome, Status, FOLIO_FLAGS_ALL, FOLIO_OPT_CONCURRENT,
    RMAP_EXCLUSIVE,
};

/// Library version, a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn fm_version() -> *const c_char {
    c"0.1.0".as_ptr()
}

/// A static, human-readable name for a status code.
#[no_mangle]
pub extern "C" fn fm_status_str(status: i32) -> *const c_char {
    let text = match status {
        0 => c"ok",
        -1 => c"NULL or misaligned pointer",
        -2 => c"folio not initialised",
        -3 => c"unknown mode",
        -4 => c"order out of range or unsuitable for the operation",
        -5 => c"page index or batch outside the folio",
        -6 => c"mm id 0 or above FM_MM_ID_MAX",
        -7 => c"operation impossible in the folio's state",
        -8 => c"page storage smaller than the folio",
        -9 => c"no free mm id",
        -10 => c"invalid argument",
        _ => c"unknown status",
    };
    text.as_ptr()
}

fn aligned_nonnull<T>(p: *const T) -> Result<(), Status> {
    if p.is_null() || !p.is_aligned() {
        Err(Status::NullPointer)
    } else {
        Ok(())
    }
}

/// A folio reached through C: either store, chosen by `FOLIO_OPT_CONCURRENT` at init.
enum Store<'a> {
    Plain(FolioMut<'a>),
    Shared(SyncFolio<'a>),
}

/// Validates `folio` and builds the store for it.
///
/// # Safety
/// `folio` must follow the pointer contract of this module.
unsafe fn store<'a>(folio: *mut Folio) -> Result<Store<'a>, Status> {
    aligned_nonnull(folio)?;
    // SAFETY: non-null and aligned; the caller guarantees it points to a fm_folio. Only
    // fields fixed at init are read non-atomically; a concurrent folio is otherwise only
    // accessed through atomics below.
    let header = unsafe { ptr::read(folio) };
    validate_header(&header)?;
    let nr = header.nr_pages() as usize;
    if (header.pages_len as usize) < nr {
        return Err(Status::PagesTooSmall);
    }
    aligned_nonnull(header.pages)?;
    if header.options & FOLIO_OPT_CONCURRENT != 0 {
        // SAFETY: AtomicFolio/AtomicPage have the layout of Folio/Page (asserted in
        // sync.rs); the contract says a concurrent folio and its pages are only accessed
        // through this library, i.e. atomically; `pages` holds at least `nr` entries.
        let (shared, pages) = unsafe {
            (
                &*(folio as *const AtomicFolio),
                slice::from_raw_parts(header.pages as *const AtomicPage, nr),
            )
        };
        return SyncFolio::new(shared, pages).map(Store::Shared);
    }
    // SAFETY: the contract gives this call exclusive access to the folio and its pages,
    // which hold at least `nr` entries and do not overlap the header.
    let (folio, pages) = unsafe { (&mut *folio, slice::from_raw_parts_mut(header.pages, nr)) };
    FolioMut::new(folio, pages).map(Store::Plain)
}

/// Writes `value` to an optional output.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
unsafe fn put<T>(out: *mut T, value: T) -> Result<(), Status> {
    if out.is_null() {
        return Ok(());
    }
    if !out.is_aligned() {
        return Err(Status::NullPointer);
    }
    // SAFETY: non-null, aligned, and the caller guarantees it is valid for writes.
    unsafe { ptr::write(out, value) };
    Ok(())
}

fn status(result: Result<(), Status>) -> Status {
    match result {
        Ok(()) => Status::Ok,
        Err(e) => e,
    }
}

/// Runs `$body` with `$s` bound to the folio's store (either kind), writes the result to
/// the optional output, and converts to `fm_status`. Output pointers are checked for
/// alignment before the operation runs, so a bad one never leaves a half-reported change.
macro_rules! folio_op {
    ($folio:expr, $out:expr, |$s:ident| $body:expr) => {{
        let out = $out;
        if !out.is_null() && !out.is_aligned() {
            return Status::NullPointer;
        }
        // SAFETY: the caller follows the module's pointer contract for the folio.
        let result = match unsafe { store($folio) } {
            Err(e) => Err(e),
            // Read-only queries do not need `mut`.
            #[allow(unused_mut)]
            Ok(Store::Plain(mut $s)) => $body,
            #[allow(unused_mut)]
            Ok(Store::Shared(mut $s)) => $body,
        };
        // SAFETY: `out` is NULL or, per the contract, valid for a write.
        status(result.and_then(|value| unsafe { put(out, value) }))
    }};
}

fn rmap_flags(flags: u32) -> Result<bool, Status> {
    match flags {
        0 => Ok(false),
        RMAP_EXCLUSIVE => Ok(true),
        _ => Err(Status::BadArgument),
    }
}

/// Initialises `folio` as a fresh folio of `order` (0..=9) in `mode` (`FM_MODE_PMC` /
/// `FM_MODE_NOPMC`): one reference (the allocation's), unmapped, no flags, as
/// `prep_compound_head` leaves it; `pages[0 .. 1 << order]` are reset too. `options`:
/// `FM_FOLIO_OPT_CONCURRENT` for a folio shared between threads.
///
/// # Safety
/// `folio` must be NULL or valid for writes of a `fm_folio`; `pages` must be NULL or
/// valid for writes of `pages_len` entries, not overlapping `folio`.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_init(
    folio: *mut Folio,
    mode: u32,
    order: u32,
    options: u32,
    pages: *mut Page,
    pages_len: u32,
) -> Status {
    status((|| {
        aligned_nonnull(folio)?;
        aligned_nonnull(pages)?;
        let mut fresh = Folio::new(Mode::from_raw(mode)?, order, options)?;
        let nr = fresh.nr_pages();
        if pages_len < nr {
            return Err(Status::PagesTooSmall);
        }
        fresh.pages = pages;
        fresh.pages_len = pages_len;
        // SAFETY: both pointers are non-null and aligned, and the caller guarantees they
        // are valid for these writes and do not overlap.
        unsafe {
            slice::from_raw_parts_mut(pages, nr as usize).fill(Page::INIT);
            ptr::write(folio, fresh);
        }
        Ok(())
    })())
}

/// Copies the accounting state of `src` (header and pages) into `dst`, which must have
/// been initialised with the same mode and order; `dst` keeps its own page storage and
/// options. For snapshots taken before an operation.
///
/// # Safety
/// Both must follow the pointer contract; neither may be used concurrently.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_copy(dst: *mut Folio, src: *const Folio) -> Status {
    status((|| {
        // SAFETY: the caller follows the contract for both; `src` is only read.
        let src = match unsafe { store(src as *mut Folio) }? {
            Store::Plain(s) => s,
            Store::Shared(_) => return Err(Status::BadArgument),
        };
        // SAFETY: as above; dst is a different folio with its own storage.
        let mut dst = match unsafe { store(dst) }? {
            Store::Plain(s) => s,
            Store::Shared(_) => return Err(Status::BadArgument),
        };
        dst.copy_from(&src)
    })())
}

/// Sets and clears `FM_FOLIO_*` flag bits (anon, KSM, LRU, ...) of a folio, for callers
/// that create folios in states the model's operations do not reach by themselves.
///
/// # Safety
/// `folio` must follow the pointer contract.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_update_flags(folio: *mut Folio, set: u32, clear: u32) -> Status {
    folio_op!(folio, ptr::null_mut::<()>(), |s| {
        if (set | clear) & !FOLIO_FLAGS_ALL != 0 || set & clear != 0 {
            Err(Status::BadArgument)
        } else {
            s.set_flags(set);
            s.clear_flags(clear);
            Ok(())
        }
    })
}

/// `folio_add_new_anon_rmap(folio, vma of mm, addr, flags)` (spec §3.3). `flags`:
/// `FM_RMAP_NONE` or `FM_RMAP_EXCLUSIVE`. No reference is taken (see
/// `fm_folio_fault_anon` for the fault's references).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_add_new_anon(
    folio: *mut Folio,
    mm: u32,
    flags: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap_flags(flags)
        .and_then(|excl| rmap::add_new_anon(&mut s, mm, excl)))
}

/// `folio_add_anon_rmap_ptes(folio, page first, nr, vma of mm, addr, flags)` (spec §3.2).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_add_anon_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    mm: u32,
    flags: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap_flags(flags).and_then(|excl| {
        rmap::add_ptes(&mut s, Kind::Anon, first, nr, mm, excl)
    }))
}

/// `folio_add_anon_rmap_pmd(folio, head, vma of mm, addr, flags)` (spec §3.2).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_add_anon_pmd(
    folio: *mut Folio,
    mm: u32,
    flags: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap_flags(flags)
        .and_then(|excl| rmap::add_pmd(&mut s, Kind::Anon, mm, excl)))
}

/// `folio_add_file_rmap_ptes` (spec §3.4).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_add_file_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::add_ptes(
        &mut s,
        Kind::File,
        first,
        nr,
        mm,
        false
    ))
}

/// `folio_add_file_rmap_pmd` (spec §3.4).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_add_file_pmd(
    folio: *mut Folio,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::add_pmd(&mut s, Kind::File, mm, false))
}

/// `folio_remove_rmap_ptes(folio, page first, nr, vma of mm)` (spec §3.5), including
/// the deferred split it may trigger. No reference is dropped (see `fm_folio_zap_ptes`).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_remove_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::remove_ptes(&mut s, first, nr, mm))
}

/// `folio_remove_rmap_pmd(folio, head, vma of mm)` (spec §3.5).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_remove_pmd(
    folio: *mut Folio,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::remove_pmd(&mut s, mm))
}

/// `folio_try_dup_anon_rmap_ptes(folio, page first, nr, dst vma of dst_mm, src vma)`
/// (spec §3.8); `src_has_pinned`: the parent mm has `MMF_HAS_PINNED`. `out->ret` is 0 or
/// `-EBUSY`.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_try_dup_anon_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    dst_mm: u32,
    src_has_pinned: bool,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::try_dup_anon_ptes(
        &mut s,
        first,
        nr,
        dst_mm,
        src_has_pinned
    ))
}

/// `folio_try_dup_anon_rmap_pmd` (spec §3.8).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_try_dup_anon_pmd(
    folio: *mut Folio,
    dst_mm: u32,
    src_has_pinned: bool,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::try_dup_anon_pmd(
        &mut s,
        dst_mm,
        src_has_pinned
    ))
}

/// `folio_dup_file_rmap_ptes` (spec §3.8).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_dup_file_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    dst_mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| rmap::dup_file_ptes(
        &mut s, first, nr, dst_mm
    ))
}

/// `folio_try_share_anon_rmap_pte` (page `page`) / `_pmd` (`page == 0` of an order-9
/// folio) (spec §3.9). `*ret`: 0 or `-EBUSY`.
///
/// # Safety
/// `folio` must follow the pointer contract; `ret` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_try_share_anon(
    folio: *mut Folio,
    page: u32,
    ret: *mut i32,
) -> Status {
    folio_op!(folio, ret, |s| rmap::try_share_anon(&mut s, page))
}

/// `deferred_split_folio(folio, partially_mapped)` (spec §3.10). `*newly_partially_mapped`
/// tells whether `PG_partially_mapped` was set by this call.
///
/// # Safety
/// `folio` must follow the pointer contract; the output NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_deferred_split(
    folio: *mut Folio,
    partially_mapped: bool,
    newly_partially_mapped: *mut bool,
) -> Status {
    folio_op!(folio, newly_partially_mapped, |s| Ok(rmap::deferred_split(
        &mut s,
        partially_mapped
    )))
}

/// The first anonymous fault on a fresh folio (spec §3.11): references raised to `N`,
/// `folio_add_new_anon_rmap(RMAP_EXCLUSIVE)`; order 9: PMD form and
/// `deferred_split_folio(folio, false)`.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_fault_anon(
    folio: *mut Folio,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::fault_anon(&mut s, mm))
}

/// Fork of a run of present PTEs mapping pages `[first, first + nr)` consecutively
/// (`copy_present_ptes` in `copy_pte_range`, spec §5.2): references, dups with the
/// kernel's batch-then-single retries, eager copies of exclusive pages of a maybe-pinned
/// folio (listed in `out->copied`).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_fork_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    dst_mm: u32,
    src_has_pinned: bool,
    out: *mut ForkOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::fork_ptes(
        &mut s,
        first,
        nr,
        dst_mm,
        src_has_pinned
    ))
}

/// Fork of `src_mm`'s PMD mapping (`copy_huge_pmd`, spec §5.3): a maybe-pinned exclusive
/// folio has the parent's PMD split and every page copied for the child.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_fork_pmd(
    folio: *mut Folio,
    src_mm: u32,
    dst_mm: u32,
    src_has_pinned: bool,
    out: *mut ForkOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::fork_pmd(
        &mut s,
        src_mm,
        dst_mm,
        src_has_pinned
    ))
}

/// Zap of `nr` PTEs of `mm` (munmap / MADV_DONTNEED / exit, spec §6.2): one
/// `folio_remove_rmap_ptes`, then the TLB flush's `nr` references dropped.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_zap_ptes(
    folio: *mut Folio,
    first: u32,
    nr: u32,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::zap_ptes(&mut s, first, nr, mm))
}

/// Zap of `mm`'s PMD mapping (`zap_huge_pmd`, spec §6.2).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_zap_pmd(
    folio: *mut Folio,
    mm: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::zap_pmd(&mut s, mm))
}

/// Split of `mm`'s PMD mapping (`__split_huge_pmd_locked`, spec §6.1); `freeze` turns it
/// into PTE migration entries (`pmd_writable` decides their type).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_split_pmd(
    folio: *mut Folio,
    mm: u32,
    freeze: bool,
    pmd_writable: bool,
    out: *mut SplitPmdOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::split_pmd(
        &mut s,
        mm,
        freeze,
        pmd_writable
    ))
}

/// `try_to_migrate_one` for `mm`'s PTE mapping `page` (spec §6.5).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_migrate_unmap_pte(
    folio: *mut Folio,
    page: u32,
    mm: u32,
    pte_writable: bool,
    out: *mut MigrateUnmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::migrate_unmap_pte(
        &mut s,
        page,
        mm,
        pte_writable
    ))
}

/// `set_pmd_migration_entry` for `mm`'s PMD mapping (spec §6.5).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_migrate_unmap_pmd(
    folio: *mut Folio,
    mm: u32,
    pmd_writable: bool,
    out: *mut MigrateUnmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| ops::migrate_unmap_pmd(
        &mut s,
        mm,
        pmd_writable
    ))
}

/// `remove_migration_pte` restoring `page` for `mm` from an entry of type `entry`
/// (`FM_MIGRATION_*`, spec §6.5).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_migrate_restore_pte(
    folio: *mut Folio,
    page: u32,
    mm: u32,
    entry: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| MigrationEntry::from_raw(entry)
        .and_then(|e| ops::migrate_restore_pte(&mut s, page, mm, e)))
}

/// `remove_migration_pmd` (spec §6.5).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_migrate_restore_pmd(
    folio: *mut Folio,
    mm: u32,
    entry: u32,
    out: *mut RmapOutcome,
) -> Status {
    folio_op!(folio, out, |s| MigrationEntry::from_raw(entry)
        .and_then(|e| ops::migrate_restore_pmd(&mut s, mm, e)))
}

/// `migrate_folio_move` from the unmapped `src` to the fresh `dst` (spec §6.6).
/// `*ret`: 0, or `-EAGAIN` when `src` has references beyond the migration's own.
/// Both folios must be plain (not `FM_FOLIO_OPT_CONCURRENT`): migration holds both
/// folio locks.
///
/// # Safety
/// Both folios must follow the pointer contract and be distinct; `ret` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_migrate_move(
    src: *mut Folio,
    dst: *mut Folio,
    ret: *mut i32,
) -> Status {
    if ptr::eq(src, dst) {
        return Status::BadArgument;
    }
    if !ret.is_null() && !ret.is_aligned() {
        return Status::NullPointer;
    }
    status((|| {
        // SAFETY: the caller follows the contract for both distinct folios.
        let (src, dst) = unsafe { (store(src)?, store(dst)?) };
        let value = match (src, dst) {
            (Store::Plain(mut s), Store::Plain(mut d)) => ops::migrate_move(&mut s, &mut d)?,
            _ => return Err(Status::BadArgument),
        };
        // SAFETY: NULL or valid for a write, per the contract.
        unsafe { put(ret, value) }
    })())
}

/// The refcount precondition of a folio split to `new_order` with `caller_refs`
/// references held by the caller (spec §6.4). `*ret`: 0, `-EINVAL` or `-EAGAIN`.
///
/// # Safety
/// `folio` must follow the pointer contract; `ret` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_split_check(
    folio: *mut Folio,
    new_order: u32,
    caller_refs: i32,
    ret: *mut i32,
) -> Status {
    folio_op!(folio, ret, |s| ops::split_check(&s, new_order, caller_refs))
}

/// The freeze step of a folio split (spec §6.4 step 6) on an unmapped folio: `*ret` is 0
/// (frozen: off the deferred-split list, `PG_partially_mapped` cleared; the caller now
/// replaces it by the split folios) or `-EAGAIN` (references beyond the caller's).
///
/// # Safety
/// `folio` must follow the pointer contract; `ret` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_split_freeze(folio: *mut Folio, ret: *mut i32) -> Status {
    folio_op!(folio, ret, |s| ops::split_freeze(&mut s))
}

/// A write (`facts->unshare == 0`) or unshare fault on `mm`'s read-only PTE mapping
/// `page` (spec §7.2-7.5), with its effects applied to the folio.
///
/// # Safety
/// `folio` must follow the pointer contract; `facts` must be valid for reads; `out` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_wp_fault_pte(
    folio: *mut Folio,
    page: u32,
    mm: u32,
    facts: *const CowFacts,
    out: *mut CowOutcome,
) -> Status {
    if aligned_nonnull(facts).is_err() {
        return Status::NullPointer;
    }
    // SAFETY: non-null, aligned, valid for reads per the contract; plain old data.
    let facts = unsafe { ptr::read(facts) };
    folio_op!(folio, out, |s| ops::wp_fault_pte(&mut s, page, mm, &facts))
}

/// A write or unshare fault on `mm`'s read-only PMD (`do_huge_pmd_wp_page`, spec §7.6).
///
/// # Safety
/// As `fm_folio_wp_fault_pte`.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_wp_fault_pmd(
    folio: *mut Folio,
    mm: u32,
    facts: *const CowFacts,
    out: *mut CowOutcome,
) -> Status {
    if aligned_nonnull(facts).is_err() {
        return Status::NullPointer;
    }
    // SAFETY: non-null, aligned, valid for reads per the contract; plain old data.
    let facts = unsafe { ptr::read(facts) };
    folio_op!(folio, out, |s| ops::wp_fault_pmd(&mut s, mm, &facts))
}

/// `FOLL_PIN` of a page of the folio (large: `_pincount` + one reference; small:
/// `GUP_PIN_COUNTING_BIAS` references).
///
/// # Safety
/// `folio` must follow the pointer contract.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_pin(folio: *mut Folio) -> Status {
    folio_op!(folio, ptr::null_mut::<()>(), |s| ops::pin(&mut s, true))
}

/// Releases one `FOLL_PIN`.
///
/// # Safety
/// `folio` must follow the pointer contract.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_unpin(folio: *mut Folio) -> Status {
    folio_op!(folio, ptr::null_mut::<()>(), |s| ops::pin(&mut s, false))
}

/// Takes `nr` references (`folio_get`, `FOLL_GET`, isolation, ...).
///
/// # Safety
/// `folio` must follow the pointer contract.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_get(folio: *mut Folio, nr: i32) -> Status {
    folio_op!(folio, ptr::null_mut::<()>(), |s| ops::get_refs(&mut s, nr))
}

/// Drops `nr` references; the last one frees the folio (leaving the deferred-split list).
///
/// # Safety
/// `folio` must follow the pointer contract.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_put(folio: *mut Folio, nr: i32) -> Status {
    folio_op!(folio, ptr::null_mut::<()>(), |s| ops::put_refs(&mut s, nr))
}

/// Adds an anon folio to the swap cache (`N` references).
///
/// # Safety
/// `folio` must follow the pointer contract.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_swapcache_add(folio: *mut Folio) -> Status {
    folio_op!(folio, ptr::null_mut::<()>(), |s| ops::swapcache_add(&mut s))
}

/// Every query of spec §4 for the folio and its page `page`.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_query(
    folio: *mut Folio,
    page: u32,
    out: *mut FolioQuery,
) -> Status {
    folio_op!(folio, out, |s| query::query(&s, page))
}

/// A mm-id allocator over caller storage (spec §1.7).
#[repr(C)]
#[derive(Debug)]
pub struct MmIds {
    /// `MMIDS_MAGIC` once initialised.
    pub magic: u32,
    /// Number of 64-bit words at `bitmap`.
    pub nr_words: u32,
    /// Caller-owned bitmap; bit `i` set = id `i` in use (bit 0 = `MM_ID_DUMMY`).
    pub bitmap: *mut u64,
}

/// `FM_MMIDS_MAGIC`.
pub const MMIDS_MAGIC: u32 = 0x6d6d_6964;

/// # Safety
/// `ids` must be NULL or point to a `fm_mm_ids` whose bitmap follows the contract.
unsafe fn mm_ids<'a>(ids: *mut MmIds) -> Result<MmIdAllocator<'a>, Status> {
    aligned_nonnull(ids)?;
    // SAFETY: non-null, aligned, caller-owned and not used concurrently.
    let ids = unsafe { &mut *ids };
    if ids.magic != MMIDS_MAGIC {
        return Err(Status::NotInitialised);
    }
    aligned_nonnull(ids.bitmap)?;
    // SAFETY: `bitmap` was given to fm_mm_ids_init with `nr_words` entries.
    let words = unsafe { slice::from_raw_parts_mut(ids.bitmap, ids.nr_words as usize) };
    MmIdAllocator::resume(words)
}

/// Initialises an mm-id allocator over `bitmap[nr_words]` (ids up to `64 * nr_words - 1`).
///
/// # Safety
/// `ids` NULL or writable; `bitmap` NULL or valid for `nr_words` words for as long as the
/// allocator is used, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn fm_mm_ids_init(
    ids: *mut MmIds,
    bitmap: *mut u64,
    nr_words: u32,
) -> Status {
    status((|| {
        aligned_nonnull(ids)?;
        aligned_nonnull(bitmap)?;
        if nr_words == 0 {
            return Err(Status::BadArgument);
        }
        // SAFETY: per the contract, valid for nr_words words.
        let words = unsafe { slice::from_raw_parts_mut(bitmap, nr_words as usize) };
        MmIdAllocator::init(words)?;
        // SAFETY: non-null, aligned, writable per the contract.
        unsafe {
            ptr::write(
                ids,
                MmIds {
                    magic: MMIDS_MAGIC,
                    nr_words,
                    bitmap,
                },
            )
        };
        Ok(())
    })())
}

/// `mm_alloc_id`: the smallest free id ≥ 1 into `*id`.
///
/// # Safety
/// `ids` initialised by `fm_mm_ids_init`; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_mm_ids_alloc(ids: *mut MmIds, id: *mut u32) -> Status {
    if aligned_nonnull(id).is_err() {
        return Status::NullPointer;
    }
    status((|| {
        // SAFETY: per the contract.
        let value = unsafe { mm_ids(ids) }?.alloc()?;
        // SAFETY: checked non-null and aligned above; writable per the contract.
        unsafe { put(id, value) }
    })())
}

/// `mm_free_id`: returns `id`.
///
/// # Safety
/// `ids` initialised by `fm_mm_ids_init`.
#[no_mangle]
pub unsafe extern "C" fn fm_mm_ids_free(ids: *mut MmIds, id: u32) -> Status {
    // SAFETY: per the contract.
    status(unsafe { mm_ids(ids) }.and_then(|mut a| a.free(id)))
}

/// Compares the `fields` (`FM_FIELD_*`) of two folio states of the same mode and order,
/// per-page fields over pages `[first, first + nr)` (clipped to the folio). Neither
/// folio may be concurrent or used concurrently.
///
/// # Safety
/// Both folios must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_compare(
    a: *const Folio,
    b: *const Folio,
    first: u32,
    nr: u32,
    fields: u32,
    out: *mut crate::diff::FolioDiff,
) -> Status {
    if !out.is_null() && !out.is_aligned() {
        return Status::NullPointer;
    }
    status((|| {
        if fields & !crate::diff::FIELDS_ALL != 0 {
            return Err(Status::BadArgument);
        }
        if ptr::eq(a, b) {
            // SAFETY: one folio; validate it, then it equals itself.
            unsafe { store(a as *mut Folio) }?;
            // SAFETY: NULL or writable per the contract; alignment checked above.
            return unsafe {
                put(
                    out,
                    crate::diff::FolioDiff {
                        fields: 0,
                        first_page: u32::MAX,
                    },
                )
            };
        }
        // SAFETY: per the contract; both are only read. `store` needs `*mut` but the
        // plain store is used read-only here.
        let (a, b) = unsafe { (store(a as *mut Folio)?, store(b as *mut Folio)?) };
        let (Store::Plain(a), Store::Plain(b)) = (a, b) else {
            return Err(Status::BadArgument);
        };
        if a.folio().mode != b.folio().mode || a.folio().order != b.folio().order {
            return Err(Status::BadArgument);
        }
        let diff = crate::diff::compare(
            a.folio(),
            a.pages(),
            b.folio(),
            b.pages(),
            first,
            nr,
            fields,
        );
        // SAFETY: NULL or writable per the contract; alignment checked above.
        unsafe { put(out, diff) }
    })())
}

/// The name of the lowest `FM_FIELD_*` bit in `field` ("refcount", "mm_id[0]", ...), or
/// "unknown".
#[no_mangle]
pub extern "C" fn fm_field_name(field: u32) -> *const c_char {
    crate::diff::field_name(field)
        .unwrap_or(c"unknown")
        .as_ptr()
}

/// Fills `*out` with a fresh trace file header (`FM_TRACE_MAGIC`, version, sizes) for a
/// trace of `mode` (`FM_MODE_*`) recorded by `source` (`FM_TRACE_SOURCE_*`) on
/// `nr_cpus` CPUs; the counters start at 0.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_trace_header_init(
    out: *mut TraceHeader,
    mode: u32,
    source: u32,
    nr_cpus: u32,
) -> Status {
    status((|| {
        aligned_nonnull(out)?;
        Mode::from_raw(mode)?;
        if source != TRACE_SOURCE_CSIM && source != TRACE_SOURCE_KERNEL {
            return Err(Status::BadArgument);
        }
        // SAFETY: `out` is non-null and aligned; the caller guarantees it is writable.
        unsafe { put(out, TraceHeader::new(mode, source, nr_cpus)) }
    })())
}

/// `*out` = the trace digest of the folio's header state (`fm_trace_event.digest`).
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_trace_digest(folio: *mut Folio, out: *mut u32) -> Status {
    folio_op!(folio, out, |s| Ok(trace::digest(&s)))
}

/// `*out` = the folio's header state as a `fm_trace_state` record (identity fields
/// `seq`, `pfn`, `epoch`, `cpu` zero: the caller sets them). Its `nr_runs` page runs
/// follow through `fm_folio_trace_pages`.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_trace_state(folio: *mut Folio, out: *mut TraceState) -> Status {
    folio_op!(folio, out, |s| Ok(trace::state(&s)))
}

/// The next `fm_trace_pages` record of the folio's state: runs starting at page
/// `*cursor` (0 for the first call), which is advanced. `*more` is false once the last
/// page was covered by an earlier call (then `*out` has no runs). `part` and the identity
/// fields are the caller's.
///
/// # Safety
/// `folio` must follow the pointer contract; `cursor` valid for reads and writes; `out`
/// and `more` writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_trace_pages(
    folio: *mut Folio,
    cursor: *mut u32,
    out: *mut TracePages,
    more: *mut bool,
) -> Status {
    status((|| {
        aligned_nonnull(cursor)?;
        aligned_nonnull(out)?;
        aligned_nonnull(more)?;
        // SAFETY: non-null and aligned; the caller guarantees validity.
        let mut at = unsafe { ptr::read(cursor) };
        let mut rec = TracePages::default();
        // SAFETY: the caller follows the pointer contract for the folio.
        let got = match unsafe { store(folio) }? {
            Store::Plain(s) => trace::pages(&s, &mut at, &mut rec),
            Store::Shared(s) => trace::pages(&s, &mut at, &mut rec),
        };
        // SAFETY: all three are non-null, aligned and writable per the contract.
        unsafe {
            ptr::write(cursor, at);
            ptr::write(out, rec);
            ptr::write(more, got);
        }
        Ok(())
    })())
}
