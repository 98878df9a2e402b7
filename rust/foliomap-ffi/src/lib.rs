//! The C ABI of the foliomap model: every `fm_*` entry point of `include/foliomap.h`,
//! the only code with `unsafe` (the model crate forbids it). `rust/foliomap-c` links this
//! into `libfoliomap.a`; Rust callers (the ABI tests, the benchmark) use it directly.
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
//!
//! # What a hostile caller cannot do (issue 13)
//!
//! Beyond the pointers the caller vouches for (that `pages` really is `pages_len`
//! entries of its memory), a header is trusted for nothing the library can check:
//!
//! - Only the fields fixed at init are read before the folio's kind is known, one by one
//!   with atomic loads: a concurrent folio's counters are never read plainly.
//! - `seal` binds the header to its own address, `pages`, mode, order and options: a
//!   header copied or moved by value, or with one of those edited, is refused
//!   (`FM_ERR_MOVED`) until `fm_folio_rebind` adopts it with its own page storage.
//! - A header overlapping its own pages, two folios of one call (or the same folio
//!   twice) overlapping each other or each other's pages, and an output overlapping what
//!   the call reads or writes are refused (`FM_ERR_ALIAS`).
//! - A plain folio is marked `in_use` for the length of a mutating call (two plain,
//!   non-atomic stores: no atomic read-modify-write on the single-threaded hot path); a
//!   call that finds the mark set is refused (`FM_ERR_BUSY`). This catches a second
//!   thread on a plain folio whenever the calls overlap in time at the check; it is a
//!   detector, not a lock (two calls that check at the same instant both proceed).
//! - A concurrent folio counts its calls in flight in `in_use`; its `_mm_ids` lock bit set
//!   while no other call is in flight (a raw kernel value copied in) is refused
//!   (`FM_ERR_CORRUPT`), and a lock that stays held past a bounded spin gives
//!   `FM_ERR_BUSY`, never an endless spin at entry.
//! - An mm-id allocator's `seal` binds `nr_words` and `bitmap`: an allocator enlarged after
//!   init is refused (`FM_ERR_CORRUPT`) before its bitmap is touched.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

use core::ffi::c_char;
use core::hint::spin_loop;
use core::mem::size_of;
use core::ptr;
use core::slice;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use foliomap::kernel::{MAX_ORDER, MM_IDS_LOCK_BIT};
use foliomap::mmid::MmIdAllocator;
use foliomap::ops;
use foliomap::query;
use foliomap::rmap::{self, Kind};
use foliomap::store::{FolioMut, FolioStore};
use foliomap::sync::{AtomicFolio, AtomicPage, SyncFolio};
use foliomap::trace::{
    self, TraceHeader, TracePages, TraceState, TRACE_SOURCE_CSIM, TRACE_SOURCE_KERNEL,
};
use foliomap::types::{
    folio_seal, mm_ids_seal, CowFacts, CowOutcome, Folio, FolioQuery, ForkOutcome,
    MigrateUnmapOutcome, MigrationEntry, Mode, Page, RmapOutcome, SplitPmdOutcome, Status,
    FOLIO_FLAGS_ALL, FOLIO_MAGIC, FOLIO_OPT_CONCURRENT, RMAP_EXCLUSIVE,
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
        -11 => c"folio header copied, moved or edited after init (see fm_folio_rebind)",
        -12 => c"arguments overlap in memory (same folio twice, header and pages, output)",
        -13 => c"in use by another call (plain folio used by two threads, or lock held)",
        -14 => c"corrupted state (lock bit set by no call, allocator edited after init)",
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

/// The bytes `[start, end)` an argument occupies.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// `n` objects of `T` at `p`; refused when the range wraps around the address space.
    fn of<T>(p: *const T, n: usize) -> Result<Span, Status> {
        let start = p.addr();
        n.checked_mul(size_of::<T>())
            .and_then(|len| start.checked_add(len))
            .map(|end| Span { start, end })
            .ok_or(Status::BadArgument)
    }

    fn overlaps(self, other: Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

fn disjoint(a: Span, b: Span) -> Result<(), Status> {
    if a.overlaps(b) {
        Err(Status::Alias)
    } else {
        Ok(())
    }
}

/// An output pointer: NULL, or aligned and overlapping none of `spans`.
fn check_out<T>(out: *const T, spans: &[Span]) -> Result<(), Status> {
    if out.is_null() {
        return Ok(());
    }
    if !out.is_aligned() {
        return Err(Status::NullPointer);
    }
    let span = Span::of(out, 1)?;
    spans.iter().try_for_each(|s| disjoint(span, *s))
}

/// A folio header that passed every check that needs no access to its counters.
#[derive(Clone, Copy, Debug)]
struct Checked {
    folio: *mut Folio,
    pages: *mut Page,
    nr: usize,
    concurrent: bool,
    header: Span,
    page_span: Span,
}

/// Reads the fields of `folio` fixed at init one by one with atomic loads (a concurrent
/// folio's other fields are being updated by other threads) and checks them: magic,
/// mode, order, options, page storage, seal, header/pages overlap.
///
/// # Safety
/// `folio` must follow the pointer contract of this module.
unsafe fn check(folio: *const Folio) -> Result<Checked, Status> {
    aligned_nonnull(folio)?;
    // SAFETY: non-null and aligned; the caller guarantees it points to a fm_folio.
    // AtomicFolio has Folio's layout (asserted in sync.rs); only atomic loads are made
    // through it, which race with nothing: a concurrent folio is only ever accessed
    // atomically, and a plain one is not shared. The reference is dropped before any
    // exclusive view of the folio is made.
    let a = unsafe { &*(folio as *const AtomicFolio) };
    if a.magic.load(SeqCst) != FOLIO_MAGIC {
        return Err(Status::NotInitialised);
    }
    let mode = a.mode.load(SeqCst);
    Mode::from_raw(mode)?;
    let order = a.order.load(SeqCst);
    if order > MAX_ORDER {
        return Err(Status::BadOrder);
    }
    let options = a.options.load(SeqCst);
    if options & !FOLIO_OPT_CONCURRENT != 0 {
        return Err(Status::BadArgument);
    }
    let nr = 1usize << order;
    if (a.pages_len.load(SeqCst) as usize) < nr {
        return Err(Status::PagesTooSmall);
    }
    let pages = a.pages.load(SeqCst);
    aligned_nonnull(pages)?;
    if a.seal.load(SeqCst) != folio_seal(folio.addr(), pages.addr(), mode, order, options) {
        return Err(Status::Moved);
    }
    let header = Span::of(folio, 1)?;
    let page_span = Span::of(pages, nr)?;
    disjoint(header, page_span)?;
    Ok(Checked {
        folio: folio as *mut Folio,
        pages,
        nr,
        concurrent: options & FOLIO_OPT_CONCURRENT != 0,
        header,
        page_span,
    })
}

/// Polls of a held `_mm_ids` lock at entry before `FM_ERR_BUSY` (far longer than any
/// critical section of the library, which never blocks inside one).
const LOCK_SPIN_BOUND: u32 = 1 << 24;
/// Consecutive polls that find the lock held while this call is the only one in flight
/// before the lock bit is declared set by nobody (`FM_ERR_CORRUPT`). A holder counts
/// itself in `in_use` before it takes the lock and until after it released it.
const LOCK_ORPHAN_POLLS: u32 = 1 << 10;

/// How a call uses a folio.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Access {
    /// The call may change it: a plain folio is marked `in_use`.
    Write,
    /// The call only reads it (`const` in C): the mark is checked, not written.
    Read,
}

/// The `in_use` word of a checked folio.
///
/// # Safety
/// `c` must come from `check`.
unsafe fn in_use<'a>(c: &Checked) -> &'a AtomicU32 {
    // SAFETY: `c.folio` is non-null, aligned and points to a fm_folio (check).
    unsafe { AtomicU32::from_ptr(ptr::addr_of_mut!((*c.folio).in_use)) }
}

/// Starts a call on a checked folio: plain: refuses a folio marked `in_use` and marks it
/// for a `Write` call; concurrent: counts the call in `in_use` and refuses a lock bit that
/// no call holds, or one held past the spin bound.
///
/// # Safety
/// `c` must come from `check`; `leave` must follow with the same `access`.
unsafe fn enter(c: &Checked, access: Access) -> Result<(), Status> {
    if !c.concurrent {
        // SAFETY: valid and aligned (check); a plain folio is not shared (contract), so
        // plain volatile accesses suffice: volatile keeps the compiler from dropping the
        // mark as a dead store before the operation's exclusive view exists.
        unsafe {
            let marker = ptr::addr_of_mut!((*c.folio).in_use);
            if ptr::read_volatile(marker) != 0 {
                return Err(Status::Busy);
            }
            if access == Access::Write {
                ptr::write_volatile(marker, 1);
            }
        }
        return Ok(());
    }
    // SAFETY: see `check`: a concurrent folio is only accessed atomically.
    let (count, shared) = unsafe { (in_use(c), &*(c.folio as *const AtomicFolio)) };
    count.fetch_add(1, SeqCst);
    let mut alone = 0;
    for _ in 0..LOCK_SPIN_BOUND {
        if shared.mm_ids.load(SeqCst) & MM_IDS_LOCK_BIT == 0 {
            return Ok(());
        }
        alone = if count.load(SeqCst) == 1 {
            alone + 1
        } else {
            0
        };
        if alone == LOCK_ORPHAN_POLLS {
            count.fetch_sub(1, SeqCst);
            return Err(Status::Corrupt);
        }
        spin_loop();
    }
    count.fetch_sub(1, SeqCst);
    Err(Status::Busy)
}

/// Ends a call started by `enter`.
///
/// # Safety
/// As `enter`; no view of the folio made in between may be alive.
unsafe fn leave(c: &Checked, access: Access) {
    if c.concurrent {
        // SAFETY: as in `enter`.
        unsafe { in_use(c) }.fetch_sub(1, SeqCst);
    } else if access == Access::Write {
        // SAFETY: as in `enter`; the operation's exclusive view is gone.
        unsafe { ptr::write_volatile(ptr::addr_of_mut!((*c.folio).in_use), 0) };
    }
}

/// A folio reached through C: either store, chosen by `FOLIO_OPT_CONCURRENT` at init.
enum Store<'a> {
    Plain(FolioMut<'a>),
    Shared(SyncFolio<'a>),
}

/// Builds the store of a checked, entered folio.
///
/// # Safety
/// `c` must come from `check` and `enter`; the store must be dropped before `leave`.
unsafe fn store<'a>(c: &Checked) -> Result<Store<'a>, Status> {
    if c.concurrent {
        // SAFETY: AtomicFolio/AtomicPage have the layout of Folio/Page (asserted in
        // sync.rs); the contract says a concurrent folio and its pages are only accessed
        // through this library, i.e. atomically; `pages` holds at least `nr` entries.
        let (shared, pages) = unsafe {
            (
                &*(c.folio as *const AtomicFolio),
                slice::from_raw_parts(c.pages as *const AtomicPage, c.nr),
            )
        };
        return SyncFolio::new(shared, pages).map(Store::Shared);
    }
    // SAFETY: the contract gives this call exclusive access to the plain folio and its
    // pages, which hold at least `nr` entries and do not overlap the header (check).
    let (folio, pages) = unsafe { (&mut *c.folio, slice::from_raw_parts_mut(c.pages, c.nr)) };
    FolioMut::new(folio, pages).map(Store::Plain)
}

/// Runs `f` on the store of `folio` between `enter` and `leave`.
///
/// # Safety
/// `folio` must follow the pointer contract; `out` (checked against the folio's memory)
/// must be NULL or valid for a write of `T`.
unsafe fn with_folio<T>(
    folio: *const Folio,
    access: Access,
    out: *mut T,
    f: impl FnOnce(Store<'_>) -> Result<T, Status>,
) -> Status {
    status((|| {
        // SAFETY: the caller follows the contract for `folio`.
        let c = unsafe { check(folio) }?;
        check_out(out, &[c.header, c.page_span])?;
        // SAFETY: `c` comes from check; leave follows below.
        unsafe { enter(&c, access) }?;
        // SAFETY: entered; the store lives only inside this expression.
        let result = unsafe { store(&c) }.and_then(f);
        // SAFETY: entered above; the store was consumed by `f`.
        unsafe { leave(&c, access) };
        // SAFETY: `out` is NULL or valid for a write (contract), disjoint from the folio.
        result.and_then(|value| unsafe { put(out, value) })
    })())
}

/// Runs `f` on the stores of two folios that do not overlap each other or each other's
/// pages.
///
/// # Safety
/// As `with_folio`, for both folios.
unsafe fn with_two<T>(
    (a, a_access): (*const Folio, Access),
    (b, b_access): (*const Folio, Access),
    out: *mut T,
    f: impl FnOnce(Store<'_>, Store<'_>) -> Result<T, Status>,
) -> Status {
    status((|| {
        // SAFETY: the caller follows the contract for both.
        let (ca, cb) = unsafe { (check(a)?, check(b)?) };
        for x in [ca.header, ca.page_span] {
            for y in [cb.header, cb.page_span] {
                disjoint(x, y)?;
            }
        }
        check_out(out, &[ca.header, ca.page_span, cb.header, cb.page_span])?;
        // SAFETY: both checked; leave follows below.
        unsafe { enter(&ca, a_access) }?;
        // SAFETY: as above; on failure `a` is left again.
        if let Err(e) = unsafe { enter(&cb, b_access) } {
            // SAFETY: entered above, no view made.
            unsafe { leave(&ca, a_access) };
            return Err(e);
        }
        // SAFETY: both entered and disjoint; the stores live only inside this expression.
        let result = unsafe { store(&ca) }
            .and_then(|sa| unsafe { store(&cb) }.map(|sb| (sa, sb)))
            .and_then(|(sa, sb)| f(sa, sb));
        // SAFETY: both entered; the stores were consumed.
        unsafe {
            leave(&cb, b_access);
            leave(&ca, a_access);
        }
        // SAFETY: NULL or valid for a write (contract), disjoint from both folios.
        result.and_then(|value| unsafe { put(out, value) })
    })())
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
/// alignment and overlap before the operation runs, so a bad one never leaves a
/// half-reported change.
macro_rules! folio_op {
    ($folio:expr, $out:expr, |$s:ident| $body:expr) => {
        folio_op!($folio, Access::Write, $out, |$s| $body)
    };
    ($folio:expr, $access:expr, $out:expr, |$s:ident| $body:expr) => {{
        // SAFETY: the caller follows the module's pointer contract for the folio and the
        // output.
        unsafe {
            with_folio($folio, $access, $out, |store| match store {
                // Read-only queries do not need `mut`.
                #[allow(unused_mut)]
                Store::Plain(mut $s) => $body,
                #[allow(unused_mut)]
                Store::Shared(mut $s) => $body,
            })
        }
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
/// `FM_FOLIO_OPT_CONCURRENT` for a folio shared between threads. The header is sealed to
/// its address: use it in place (a copy needs `fm_folio_rebind`).
///
/// # Safety
/// `folio` must be NULL or valid for writes of a `fm_folio`; `pages` must be NULL or
/// valid for writes of `pages_len` entries. Nobody else may use `folio` during the call.
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
        disjoint(Span::of(folio, 1)?, Span::of(pages, nr as usize)?)?;
        fresh.pages = pages;
        fresh.pages_len = pages_len;
        fresh.seal = folio_seal(folio.addr(), pages.addr(), fresh.mode, order, options);
        // SAFETY: both pointers are non-null and aligned, the caller guarantees they
        // are valid for these writes, and they do not overlap (checked).
        unsafe {
            slice::from_raw_parts_mut(pages, nr as usize).fill(Page::INIT);
            ptr::write(folio, fresh);
        }
        Ok(())
    })())
}

/// Adopts a header that was copied or moved by value (`fm_folio b = a;`, `memcpy`): its
/// state is kept as it is, `pages` / `pages_len` become the given storage (which must
/// already hold the state's pages: copy them first) and the header is sealed to its new
/// address. The header's magic, mode, order and options must be valid; its seal is not
/// checked (that is the point). Nobody holds the adopted header's mapcount lock, so a lock
/// bit copied with it (a header copied while the lock was held) is cleared; its `in_use`
/// is reset. The adopted copy is then independent of the original when `pages` is its
/// own.
///
/// # Safety
/// `folio` must be NULL or valid for reads and writes of a `fm_folio`; `pages` NULL or
/// valid for reads and writes of `pages_len` entries; nobody else may use `folio` during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_rebind(
    folio: *mut Folio,
    pages: *mut Page,
    pages_len: u32,
) -> Status {
    status((|| {
        aligned_nonnull(folio)?;
        aligned_nonnull(pages)?;
        // SAFETY: non-null, aligned, valid for reads; nobody else uses it (contract).
        let header = unsafe { ptr::read(folio) };
        if header.magic != FOLIO_MAGIC {
            return Err(Status::NotInitialised);
        }
        Mode::from_raw(header.mode)?;
        if header.order > MAX_ORDER {
            return Err(Status::BadOrder);
        }
        if header.options & !FOLIO_OPT_CONCURRENT != 0 {
            return Err(Status::BadArgument);
        }
        let nr = header.nr_pages();
        if pages_len < nr {
            return Err(Status::PagesTooSmall);
        }
        disjoint(Span::of(folio, 1)?, Span::of(pages, nr as usize)?)?;
        let seal = folio_seal(
            folio.addr(),
            pages.addr(),
            header.mode,
            header.order,
            header.options,
        );
        // SAFETY: non-null, aligned, writable and not shared during the call (contract).
        unsafe {
            ptr::write(
                folio,
                Folio {
                    pages,
                    pages_len,
                    in_use: 0,
                    mm_ids: header.mm_ids & !MM_IDS_LOCK_BIT,
                    seal,
                    ..header
                },
            )
        };
        Ok(())
    })())
}

/// Copies the accounting state of `src` (header and pages) into `dst`, which must have
/// been initialised with the same mode and order; `dst` keeps its own page storage and
/// options. For snapshots taken before an operation. The two folios and their pages must
/// not overlap (`FM_ERR_ALIAS`, `dst == src` included).
///
/// # Safety
/// Both must follow the pointer contract; neither may be used concurrently.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_copy(dst: *mut Folio, src: *const Folio) -> Status {
    // SAFETY: the caller follows the contract for both; `src` is only read.
    unsafe {
        with_two(
            (dst, Access::Write),
            (src, Access::Read),
            ptr::null_mut::<()>(),
            |d, s| match (d, s) {
                (Store::Plain(mut d), Store::Plain(s)) => d.copy_from(&s),
                _ => Err(Status::BadArgument),
            },
        )
    }
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
/// folio locks. The two folios and their pages must not overlap (`FM_ERR_ALIAS`,
/// `src == dst` included).
///
/// # Safety
/// Both folios must follow the pointer contract; `ret` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_folio_migrate_move(
    src: *mut Folio,
    dst: *mut Folio,
    ret: *mut i32,
) -> Status {
    // SAFETY: the caller follows the contract for both folios and `ret`.
    unsafe {
        with_two(
            (src, Access::Write),
            (dst, Access::Write),
            ret,
            |s, d| match (s, d) {
                (Store::Plain(mut s), Store::Plain(mut d)) => ops::migrate_move(&mut s, &mut d),
                _ => Err(Status::BadArgument),
            },
        )
    }
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
    folio_op!(folio, Access::Read, ret, |s| ops::split_check(
        &s,
        new_order,
        caller_refs
    ))
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
    folio_op!(folio, Access::Read, out, |s| query::query(&s, page))
}

/// A mm-id allocator over caller storage (spec §1.7).
#[repr(C)]
#[derive(Debug)]
pub struct MmIds {
    /// `MMIDS_MAGIC` once initialised.
    pub magic: u32,
    /// Number of 64-bit words at `bitmap`; fixed at init.
    pub nr_words: u32,
    /// Caller-owned bitmap; bit `i` set = id `i` in use (bit 0 = `MM_ID_DUMMY`); fixed at
    /// init.
    pub bitmap: *mut u64,
    /// Set by `fm_mm_ids_init` from `bitmap` and `nr_words`: an allocator whose storage
    /// was edited afterwards (say `nr_words` enlarged past the real bitmap) is refused
    /// (`FM_ERR_CORRUPT`) before its bitmap is touched.
    pub seal: u64,
}

/// `FM_MMIDS_MAGIC`.
pub const MMIDS_MAGIC: u32 = 0x6d6d_6964;

/// Checks an allocator (magic, storage, seal, overlap with its own bitmap) and the
/// optional output `out` (overlapping neither), then resumes it.
///
/// # Safety
/// `ids` must be NULL or point to a `fm_mm_ids` whose bitmap follows the contract; `out`
/// NULL or valid for a write.
unsafe fn mm_ids<'a>(ids: *mut MmIds, out: *const u32) -> Result<MmIdAllocator<'a>, Status> {
    aligned_nonnull(ids)?;
    // SAFETY: non-null, aligned, caller-owned and not used concurrently.
    let (magic, nr_words, bitmap, seal) =
        unsafe { ((*ids).magic, (*ids).nr_words, (*ids).bitmap, (*ids).seal) };
    if magic != MMIDS_MAGIC {
        return Err(Status::NotInitialised);
    }
    aligned_nonnull(bitmap)?;
    if nr_words == 0 || seal != mm_ids_seal(bitmap.addr(), nr_words) {
        return Err(Status::Corrupt);
    }
    let own = Span::of(ids, 1)?;
    let words = Span::of(bitmap, nr_words as usize)?;
    disjoint(own, words)?;
    check_out(out, &[own, words])?;
    // SAFETY: `bitmap` was given to fm_mm_ids_init with `nr_words` entries (the seal
    // says neither changed since), disjoint from the allocator itself.
    let words = unsafe { slice::from_raw_parts_mut(bitmap, nr_words as usize) };
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
        disjoint(Span::of(ids, 1)?, Span::of(bitmap, nr_words as usize)?)?;
        // SAFETY: per the contract, valid for nr_words words; disjoint from `ids`.
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
                    seal: mm_ids_seal(bitmap.addr(), nr_words),
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
        // SAFETY: per the contract; `id` is checked against the allocator's memory.
        let value = unsafe { mm_ids(ids, id) }?.alloc()?;
        // SAFETY: checked non-null, aligned and disjoint above; writable per the contract.
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
    status(unsafe { mm_ids(ids, ptr::null()) }.and_then(|mut a| a.free(id)))
}

/// Compares the `fields` (`FM_FIELD_*`) of two folio states of the same mode and order,
/// per-page fields over pages `[first, first + nr)` (clipped to the folio). Neither
/// folio may be concurrent or used concurrently. Two distinct folios must not overlap
/// each other or each other's pages (`FM_ERR_ALIAS`); `a == b` compares equal.
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
    out: *mut foliomap::diff::FolioDiff,
) -> Status {
    if fields & !foliomap::diff::FIELDS_ALL != 0 {
        return Status::BadArgument;
    }
    if ptr::eq(a, b) {
        // One folio, only read: validate it, then it equals itself.
        return folio_op!(a, Access::Read, out, |_s| Ok(foliomap::diff::FolioDiff {
            fields: 0,
            first_page: u32::MAX,
        }));
    }
    // SAFETY: per the contract; both are only read.
    unsafe {
        with_two((a, Access::Read), (b, Access::Read), out, |a, b| {
            let (Store::Plain(a), Store::Plain(b)) = (a, b) else {
                return Err(Status::BadArgument);
            };
            if a.folio().mode != b.folio().mode || a.folio().order != b.folio().order {
                return Err(Status::BadArgument);
            }
            Ok(foliomap::diff::compare(
                a.folio(),
                a.pages(),
                b.folio(),
                b.pages(),
                first,
                nr,
                fields,
            ))
        })
    }
}

/// The name of the lowest `FM_FIELD_*` bit in `field` ("refcount", "mm_id[0]", ...), or
/// "unknown".
#[no_mangle]
pub extern "C" fn fm_field_name(field: u32) -> *const c_char {
    foliomap::diff::field_name(field)
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

/// `*out` = the trace digest of the folio `*state` describes (the same value as
/// `fm_folio_trace_digest` of that folio).
///
/// # Safety
/// `state` NULL or readable; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn fm_trace_state_digest(state: *const TraceState, out: *mut u32) -> Status {
    status((|| {
        aligned_nonnull(state)?;
        aligned_nonnull(out)?;
        // SAFETY: non-null and aligned; the caller guarantees `state` is readable.
        let st = unsafe { ptr::read(state) };
        // SAFETY: non-null and aligned; the caller guarantees `out` is writable.
        unsafe { put(out, trace::state_digest(&st)) }
    })())
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
        // SAFETY: the caller follows the contract for `folio`.
        let c = unsafe { check(folio) }?;
        let spans = [c.header, c.page_span];
        check_out(cursor, &spans)?;
        check_out(out, &spans)?;
        check_out(more, &spans)?;
        // SAFETY: non-null and aligned; the caller guarantees validity.
        let mut at = unsafe { ptr::read(cursor) };
        let mut rec = TracePages::default();
        // SAFETY: `c` comes from check; leave follows below.
        unsafe { enter(&c, Access::Read) }?;
        // SAFETY: entered; the store lives only inside this expression.
        let got = unsafe { store(&c) }.map(|st| match st {
            Store::Plain(s) => trace::pages(&s, &mut at, &mut rec),
            Store::Shared(s) => trace::pages(&s, &mut at, &mut rec),
        });
        // SAFETY: entered above; the store was consumed.
        unsafe { leave(&c, Access::Read) };
        let got = got?;
        // SAFETY: all three are non-null, aligned and writable per the contract.
        unsafe {
            ptr::write(cursor, at);
            ptr::write(out, rec);
            ptr::write(more, got);
        }
        Ok(())
    })())
}
