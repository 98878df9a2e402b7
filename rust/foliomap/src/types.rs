//! The shared data types: the modelled `struct folio` / `struct page` fields (spec §1), the
//! status codes and the outputs of every operation.
//!
//! Every type here is `#[repr(C)]` and appears unchanged in `include/foliomap.h`; raw
//! counters keep the kernel's encodings (−1 offsets, `ENTIRELY_MAPPED`, the packed
//! `_mm_ids` word) so a kernel module can compare them with a live folio field by field.

use crate::kernel::{MAX_ORDER, MM_IDS_LOCK_BIT, MM_IDS_SHARED_BIT, MM_ID_BITS, MM_ID_MASK};

/// `FM_FOLIO_MAGIC`: marks a `Folio` initialised by `Folio::init` / `fm_folio_init`.
pub const FOLIO_MAGIC: u32 = 0x666f_6c69;

/// `PageAnonExclusive` (spec §1.6), bit of `Page::flags`.
pub const PAGE_ANON_EXCLUSIVE: u32 = 1 << 0;

/// The folio is anonymous (`folio->mapping & FOLIO_MAPPING_ANON`).
pub const FOLIO_ANON: u32 = 1 << 0;
/// A KSM folio: never exclusive, never reused (spec §7.7).
pub const FOLIO_KSM: u32 = 1 << 1;
/// In the swap cache (`folio_test_swapcache`); the swap cache holds `N` references.
pub const FOLIO_SWAPCACHE: u32 = 1 << 2;
/// `PG_partially_mapped` (spec §1.6).
pub const FOLIO_PARTIALLY_MAPPED: u32 = 1 << 3;
/// On the deferred-split list (`!list_empty(&folio->_deferred_list)`, spec §3.10).
pub const FOLIO_DEFERRED_LIST: u32 = 1 << 4;
/// `PG_lru`: on an LRU list, not merely in a per-CPU batch (spec §7.3).
pub const FOLIO_LRU: u32 = 1 << 5;
/// Every flag bit the model knows.
pub const FOLIO_FLAGS_ALL: u32 = (1 << 6) - 1;

/// `Folio::options` bit: the folio is shared between threads and must only be accessed
/// through the library, which then uses atomics and the `_mm_ids` bit spinlock
/// (spec §8) instead of plain loads and stores.
pub const FOLIO_OPT_CONCURRENT: u32 = 1 << 0;

/// Which kernel configuration is modelled.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `CONFIG_PAGE_MAPCOUNT`: per-page `_mapcount` and `_nr_pages_mapped` maintained.
    Pmc = 1,
    /// `CONFIG_NO_PAGE_MAPCOUNT`: only folio-level counters (spec [NOPMC]).
    Nopmc = 2,
}

impl Mode {
    /// Decodes a raw mode value (`FM_MODE_*`).
    pub fn from_raw(raw: u32) -> Result<Mode, Status> {
        match raw {
            1 => Ok(Mode::Pmc),
            2 => Ok(Mode::Nopmc),
            _ => Err(Status::BadMode),
        }
    }
}

/// Result of every C entry point: `FM_OK` or why the call was refused. A refused call
/// changes nothing. (What the modelled *kernel* function returns, e.g. `-EBUSY` from a
/// fork dup, is an output field, not a status.)
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullPointer = -1,
    /// The folio was not initialised (`magic` is wrong).
    NotInitialised = -2,
    /// Unknown mode.
    BadMode = -3,
    /// Order outside 0..=9, or an operation that needs another order (PMD ops need 9).
    BadOrder = -4,
    /// Page index or batch outside the folio, or an empty batch.
    BadRange = -5,
    /// mm id 0 or above `MM_ID_MAX`.
    BadMmId = -6,
    /// The operation is impossible in the folio's current state (it would drive a counter
    /// below its "unmapped" value, map an already-mapped page as new, ...).
    BadState = -7,
    /// The caller's page storage is smaller than the folio.
    PagesTooSmall = -8,
    /// The mm-id allocator has no free id (or no free storage) left.
    Exhausted = -9,
    /// Another argument was invalid (unknown flag bits, unknown enum value).
    BadArgument = -10,
    /// The folio header is not where `fm_folio_init` / `fm_folio_rebind` left it: it was
    /// copied or moved by value (`fm_folio b = a;`), or its `pages`, mode, order or
    /// options were edited (its `seal` no longer matches). `fm_folio_rebind` adopts a
    /// copy that has its own page storage.
    Moved = -11,
    /// Memory that must be distinct overlaps: a folio header and its own pages, the two
    /// folios of a two-folio call (the same folio twice included) or their pages, or an
    /// output and what the call reads or writes.
    Alias = -12,
    /// The object is in use: a plain folio another call is using right now (its `in_use`
    /// marker is set: two threads on a folio without `FM_FOLIO_OPT_CONCURRENT`), or a
    /// concurrent folio whose mapcount lock stayed held past the spin bound.
    Busy = -13,
    /// The object's state can only come from an edit behind the library's back: a
    /// concurrent folio whose `_mm_ids` lock bit is set while no call holds it (a raw
    /// kernel value copied in), or an mm-id allocator whose `nr_words` / `bitmap` was
    /// changed after `fm_mm_ids_init` (its `seal` no longer matches).
    Corrupt = -14,
}

/// One page of a folio: the per-page fields of `struct page` the model needs (spec §1.2).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Raw `page->_mapcount`: −1 when no PTE maps the page. Small folio: PTE mappings − 1.
    /// Large folio: [PMC] PTE mappings of this page − 1; [NOPMC] always −1.
    pub mapcount: i32,
    /// `PAGE_*` bits (`PAGE_ANON_EXCLUSIVE`).
    pub flags: u32,
}

impl Page {
    /// A page as `prep_compound_page` leaves it: unmapped, no flags.
    pub const INIT: Page = Page {
        mapcount: -1,
        flags: 0,
    };

    /// `PageAnonExclusive(page)`.
    pub fn anon_exclusive(&self) -> bool {
        self.flags & PAGE_ANON_EXCLUSIVE != 0
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::INIT
    }
}

/// The accounting state of one folio (spec §1.3), in the kernel's raw encodings.
///
/// The per-page state lives in caller-owned storage that `pages` points to (at least
/// `1 << order` entries); the library never allocates.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Folio {
    /// `FOLIO_MAGIC` once initialised.
    pub magic: u32,
    /// `FM_MODE_PMC` or `FM_MODE_NOPMC`; fixed at init.
    pub mode: u32,
    /// Folio order, 0..=9; fixed at init.
    pub order: u32,
    /// `FOLIO_OPT_*`; fixed at init.
    pub options: u32,
    /// `FOLIO_*` flag bits.
    pub flags: u32,
    /// `folio->_refcount`.
    pub refcount: i32,
    /// `folio->_pincount` (large folios; small folios count pins in `refcount`).
    pub pincount: i32,
    /// Raw `folio->_large_mapcount` (logical value + 1 = all PTE and PMD mappings).
    pub large_mapcount: i32,
    /// Raw `folio->_entire_mapcount` (logical value + 1 = PMD mappings).
    pub entire_mapcount: i32,
    /// Raw `folio->_nr_pages_mapped` ([PMC]; 0 and untouched in [NOPMC]).
    pub nr_pages_mapped: i32,
    /// Raw `folio->_mm_id_mapcount[0..2]` (−1 when the slot is free).
    pub mm_id_mapcount: [i32; 2],
    /// Raw `folio->_mm_ids`: id of slot 0 in bits 0..31, the mapcount lock in bit 31,
    /// id of slot 1 in bits 32..63, "maybe mapped shared" in bit 63 (x86-64 layout).
    pub mm_ids: u64,
    /// Caller-owned per-page storage, `pages_len` entries.
    pub pages: *mut Page,
    /// Number of entries at `pages`.
    pub pages_len: u32,
    /// Written by the library only, zero between calls. Plain folio: 1 while a call uses
    /// it, so a second thread's call on it is refused (`FM_ERR_BUSY`); concurrent folio:
    /// the number of calls in flight.
    pub in_use: u32,
    /// Set by `fm_folio_init` / `fm_folio_rebind` from the header's own address, `pages`,
    /// mode, order and options; a header copied or moved by value, or with one of those
    /// edited, is refused (`FM_ERR_MOVED`).
    pub seal: u64,
}

impl Folio {
    /// A folio as `prep_compound_head` leaves it, holding the allocation's reference and
    /// no mapping (spec §1.3 "init" column). `pages` must then be attached by the caller.
    pub fn new(mode: Mode, order: u32, options: u32) -> Result<Folio, Status> {
        if order > MAX_ORDER {
            return Err(Status::BadOrder);
        }
        if options & !FOLIO_OPT_CONCURRENT != 0 {
            return Err(Status::BadArgument);
        }
        Ok(Folio {
            magic: FOLIO_MAGIC,
            mode: mode as u32,
            order,
            options,
            flags: 0,
            refcount: 1,
            pincount: 0,
            large_mapcount: -1,
            entire_mapcount: -1,
            nr_pages_mapped: 0,
            mm_id_mapcount: [-1, -1],
            mm_ids: 0,
            pages: core::ptr::null_mut(),
            pages_len: 0,
            in_use: 0,
            seal: 0,
        })
    }

    /// Number of pages, `1 << order`.
    pub fn nr_pages(&self) -> u32 {
        1 << self.order
    }

    /// `folio_test_large`.
    pub fn is_large(&self) -> bool {
        self.order > 0
    }

    /// The modelled configuration (the value was validated at init).
    pub fn mode(&self) -> Mode {
        if self.mode == Mode::Nopmc as u32 {
            Mode::Nopmc
        } else {
            Mode::Pmc
        }
    }

    /// `folio_mm_id(folio, slot)`: the id in slot 0 or 1, without its flag bit.
    pub fn mm_id(&self, slot: usize) -> u32 {
        mm_ids_slot(self.mm_ids, slot)
    }

    /// The "maybe mapped shared" bit `S`.
    pub fn shared_bit(&self) -> bool {
        self.mm_ids & MM_IDS_SHARED_BIT != 0
    }

    /// Tests `FOLIO_*` flag bits.
    pub fn test(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// The `seal` of a folio header at address `addr` with page storage `pages` and the
/// given mode, order and options: a bijective mix (splitmix64's finaliser) of their
/// combination, so a change of any single one of them always changes the seal.
pub fn folio_seal(addr: usize, pages: usize, mode: u32, order: u32, options: u32) -> u64 {
    let fixed = mode as u64 | (order as u64) << 8 | (options as u64) << 16;
    mix64(addr as u64 ^ (pages as u64).rotate_left(32) ^ fixed.rotate_left(48) ^ SEAL_KEY)
}

/// The `seal` of an mm-id allocator over `bitmap[nr_words]`.
pub fn mm_ids_seal(bitmap: usize, nr_words: u32) -> u64 {
    mix64(bitmap as u64 ^ (nr_words as u64).rotate_left(32) ^ SEAL_KEY.rotate_left(7))
}

const SEAL_KEY: u64 = 0x666f_6c69_6f6d_6170;

fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Extracts the id of `slot` from a raw `_mm_ids` word.
pub fn mm_ids_slot(mm_ids: u64, slot: usize) -> u32 {
    ((mm_ids >> (32 * (slot & 1))) as u32) & MM_ID_MASK
}

/// Builds a raw `_mm_ids` word from the two ids and `S` (lock bit clear).
pub fn mm_ids_pack(ids: [u32; 2], shared: bool) -> u64 {
    let mut raw = (ids[0] & MM_ID_MASK) as u64 | (((ids[1] & MM_ID_MASK) as u64) << 32);
    if shared {
        raw |= MM_IDS_SHARED_BIT;
    }
    raw
}

const _: () = assert!(MM_IDS_LOCK_BIT == 1 << MM_ID_BITS);

/// What one rmap primitive computed (spec §3.1, §3.5, §3.6).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RmapOutcome {
    /// The kernel function's return value: 0, or `-EBUSY` from a dup / share.
    pub ret: i32,
    /// `nr_mapped` of an add or `nr_unmapped` of a remove: pages that became (un)mapped.
    pub nr_pages: i32,
    /// `nr_pmdmapped`.
    pub nr_pmdmapped: i32,
    /// Change of `NR_ANON_MAPPED` (anon) or `NR_FILE_MAPPED` (file), in pages (§3.6).
    pub mapped_stat_delta: i32,
    /// Change of `NR_ANON_THPS` / `NR_*_PMDMAPPED`, in pages (§3.6).
    pub pmdmapped_stat_delta: i32,
    /// The new logical large mapcount (`folio_mapcount` after the call).
    pub mapcount_after: i32,
    /// The per-call `partially_mapped` decision of a remove (§3.5, §3.7).
    pub partially_mapped: bool,
    /// `deferred_split_folio(folio, true)` was called by this operation.
    pub deferred_split: bool,
    /// `PG_partially_mapped` was newly set by this operation.
    pub newly_partially_mapped: bool,
    /// Zero.
    pub reserved: u8,
}

/// PAE handling of an anon add (`RMAP_EXCLUSIVE` or `RMAP_NONE`).
pub const RMAP_NONE: u32 = 0;
/// `RMAP_EXCLUSIVE`: set `PageAnonExclusive` on the mapped pages (PMD: head only).
pub const RMAP_EXCLUSIVE: u32 = 1;

/// Mapping level of an rmap operation.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Page-table entries (`RMAP_LEVEL_PTE`).
    Pte = 1,
    /// One PMD mapping the whole order-9 folio (`RMAP_LEVEL_PMD`).
    Pmd = 2,
}

impl Level {
    /// Decodes `FM_LEVEL_*`.
    pub fn from_raw(raw: u32) -> Result<Level, Status> {
        match raw {
            1 => Ok(Level::Pte),
            2 => Ok(Level::Pmd),
            _ => Err(Status::BadArgument),
        }
    }
}

/// Type of a migration entry (spec §6.5): what the mapping was before it was replaced.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationEntry {
    /// `readable`: the page was not exclusive; restored without `RMAP_EXCLUSIVE`.
    Readable = 1,
    /// `readable-exclusive`: PAE was set, the PTE/PMD was read-only.
    ReadableExclusive = 2,
    /// `writable`: the PTE/PMD was writable (hence exclusive).
    Writable = 3,
}

impl MigrationEntry {
    /// Decodes `FM_MIGRATION_*`.
    pub fn from_raw(raw: u32) -> Result<MigrationEntry, Status> {
        match raw {
            1 => Ok(MigrationEntry::Readable),
            2 => Ok(MigrationEntry::ReadableExclusive),
            3 => Ok(MigrationEntry::Writable),
            _ => Err(Status::BadArgument),
        }
    }
}

/// What a write (or unshare) fault decided (spec §7.7).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CowDecision {
    /// Not decided (output not filled).
    #[default]
    None = 0,
    /// The page (or PMD) is reused: made exclusive (and writable for a write fault).
    Reuse = 1,
    /// The page is copied into a new order-0 folio; the old mapping is removed.
    Copy = 2,
    /// PMD fault only: the faulting mm's PMD was split; retry at PTE level.
    Fallback = 3,
}

/// Why the fault decided as it did (the first rule of spec §7 that applied).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CowReason {
    /// Not decided.
    #[default]
    None = 0,
    /// The faulting page (PMD: head page) has `PageAnonExclusive`.
    AnonExclusive = 1,
    /// Not an anonymous folio: always copied (private file mapping).
    NotAnon = 2,
    /// KSM folio.
    Ksm = 3,
    /// Small folio: `refcount` is 1 after draining / freeing the swap cache.
    SmallRefcountOne = 4,
    /// Small folio: extra references (`refcount > 1`).
    SmallRefcountHigh = 5,
    /// `folio_trylock` failed (an input fact).
    TrylockFailed = 6,
    /// Large folio with `LM <= 1`: copied so that the folio can be freed.
    LargeMapcountOne = 7,
    /// Large folio with `S` set: maybe mapped by another mm.
    MaybeShared = 8,
    /// Large folio with `LM != refcount`: references other than mappings exist.
    RefcountNotMapcount = 9,
    /// Large folio: `LM >= 2`, `S` clear, `LM == refcount`: exclusive to this mm.
    LargeExclusive = 10,
    /// PMD: `refcount == 1` (after freeing the swap cache).
    PmdRefcountOne = 11,
    /// PMD: `refcount > 1`: split this mm's PMD and retry at PTE level.
    PmdRefcountHigh = 12,
}

/// Facts a write fault depends on that the accounting state cannot know (spec §7.3-7.6).
/// Each is a plain input so a simulator decides them and the kernel module reads them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CowFacts {
    /// `FAULT_FLAG_UNSHARE` rather than a write: a reuse leaves the PTE read-only.
    pub unshare: u8,
    /// `folio_trylock` fails (small folios, swap-cache freeing of large folios).
    pub trylock_fails: u8,
    /// Small folio not on the LRU: `lru_add_drain()` on this CPU drops the one reference
    /// a per-CPU LRU batch holds (and the folio becomes `PG_lru`).
    pub lru_drain_drops_ref: u8,
    /// `folio_free_swap` succeeds (no swap entry still refers to the folio).
    pub swap_free_succeeds: u8,
}

/// Result of a write / unshare fault (spec §7).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CowOutcome {
    /// `CowDecision` value.
    pub decision: u32,
    /// `CowReason` value.
    pub reason: u32,
    /// The swap cache was freed on the way (`folio_free_swap`).
    pub swapcache_freed: bool,
    /// A per-CPU LRU batch reference was drained on the way.
    pub lru_drained: bool,
    /// PMD fallback: the faulting mm's PMD was split (see `split`).
    pub pmd_split: bool,
    /// Zero.
    pub reserved: u8,
    /// The old folio's removal for a COPY (`folio_remove_rmap_pte`), or the PMD split's
    /// `folio_remove_rmap_pmd` for a FALLBACK.
    pub rmap: RmapOutcome,
}

/// Result of copying one batch of a folio's mappings at fork (spec §5.2-§5.5).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForkOutcome {
    /// Pages the child now maps from this folio (shared, write-protected in both).
    pub pages_shared: u32,
    /// Pages copied eagerly into new order-0 folios for the child (maybe-pinned folio).
    pub pages_copied: u32,
    /// `folio_try_dup_anon_rmap_*` / `folio_dup_file_rmap_*` calls that succeeded.
    pub dup_calls: u32,
    /// Calls that returned `-EBUSY` (each followed by a retry, as `copy_pte_range` does).
    pub dup_busy: u32,
    /// PMD fork: the child got the PMD mapping (`copy_huge_pmd` succeeded).
    pub pmd_shared: bool,
    /// PMD fork of a maybe-pinned folio: the parent's PMD was split first.
    pub pmd_split: bool,
    /// Zero.
    pub reserved: [u8; 2],
    /// Bit `k` set: page `k` was copied for the child (its parent PTE stays writable).
    pub copied: [u64; 8],
    /// `pmd_split`: what splitting the parent's PMD did (spec §5.3, §6.1).
    pub split: SplitPmdOutcome,
}

impl ForkOutcome {
    /// Whether page `k` was copied for the child.
    pub fn page_copied(&self, k: u32) -> bool {
        let k = k as usize;
        k < 512 && self.copied[k / 64] & (1 << (k % 64)) != 0
    }
}

/// Result of a PMD split (spec §6.1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SplitPmdOutcome {
    /// The split froze the mapping into 512 PTE migration entries.
    pub frozen: bool,
    /// A freeze was requested but the folio was maybe pinned: split without freezing.
    pub freeze_failed: bool,
    /// Zero.
    pub reserved: [u8; 2],
    /// Freeze: the entry type of the 512 PTE migration entries.
    pub entry: u32,
    /// The `folio_add_anon_rmap_ptes(512)` of a non-freezing split.
    pub add: RmapOutcome,
    /// The `folio_remove_rmap_pmd`.
    pub remove: RmapOutcome,
}

/// Result of replacing one mapping by a migration entry (spec §6.5).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrateUnmapOutcome {
    /// 0, or `-EBUSY`: the page is exclusive and the folio maybe pinned; nothing changed
    /// and the caller aborts the migration.
    pub ret: i32,
    /// `MigrationEntry` value installed (0 when `ret != 0`).
    pub entry: u32,
    /// The `folio_remove_rmap_pte/_pmd`.
    pub rmap: RmapOutcome,
}

/// Summary of the queries of spec §4 for one folio (and one page of it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolioQuery {
    /// `folio_mapcount`.
    pub mapcount: i32,
    /// `folio_large_mapcount` (0 for small folios).
    pub large_mapcount: i32,
    /// `folio_entire_mapcount` (0 for small folios).
    pub entire_mapcount: i32,
    /// `folio_nr_pages_mapped` ([NOPMC]: −1; small folios: 0).
    pub nr_pages_mapped: i32,
    /// `folio_average_page_mapcount`.
    pub average_page_mapcount: i32,
    /// `folio_expected_ref_count`.
    pub expected_ref_count: i32,
    /// [PMC] `folio_precise_page_mapcount` of the queried page; [NOPMC] −1.
    pub precise_page_mapcount: i32,
    /// `/proc/kpagecount` of the queried page ([PMC] precise, [NOPMC] average).
    pub kpagecount: i32,
    /// `folio_mapped`.
    pub mapped: bool,
    /// `folio_maybe_mapped_shared`.
    pub maybe_mapped_shared: bool,
    /// `folio_maybe_dma_pinned`.
    pub maybe_dma_pinned: bool,
    /// pagemap `PM_MMAP_EXCLUSIVE` of the queried page, if it is mapped.
    pub pm_mmap_exclusive: bool,
    /// `PageAnonExclusive` of the queried page.
    pub anon_exclusive: bool,
    /// Zero.
    pub reserved: [u8; 3],
}
