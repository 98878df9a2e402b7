//! The record-and-replay trace format (issue 10): what a recorder (the kernel module,
//! `csim --trace`) writes for every accounting event on a folio, and what
//! `rust/foliomap-replay` reads back.
//!
//! # File layout (version 1)
//!
//! One [`TraceHeader`] (64 bytes), then records of exactly `record_size` (= 64) bytes, in
//! native byte order (x86-64: little-endian; a byte-swapped [`TRACE_MAGIC`] tells a
//! reader it has the wrong order). Each record starts with the same 24-byte prefix
//! (`seq`, `pfn`, `epoch`, `cpu`, `op`); `op` says which of the three record types it is:
//!
//! - [`TraceEvent`]: one model operation (`TraceOp` below `TraceOp::State`) with its
//!   arguments and the outcome the kernel (or the simulator) produced;
//! - [`TraceState`] (`op == TraceOp::State`): the folio's full header state, emitted the
//!   first time the recorder sees a folio that did not start in the stream (the kernel
//!   module attaching to a running system, a migration target after the move, a folio
//!   whose stream was broken by dropped records), so a replay can start mid-life;
//! - [`TracePages`] (`op == TraceOp::StatePages`): the per-page state belonging to the
//!   preceding `TraceState` of the same folio, as runs of pages with equal raw
//!   `_mapcount` and page flags, [`TRACE_PAGE_RUNS`] runs per record.
//!
//! # Why a sequence of fixed-size records and not a variable tail
//!
//! A full state of up to 512 pages is carried by one `TraceState` plus
//! `ceil(runs / 3)` `TracePages` records (1 for a uniformly mapped folio, at most 171 for
//! 512 alternating pages). Fixed-size records because: the kernel recorder writes into
//! per-CPU rings of fixed slots, where a record is claimed with one index increment and
//! never straddles the wrap; a drop loses whole records and is counted as such
//! (`TraceHeader::dropped`, plus the gap in `seq`); a reader can seek, count and merge
//! per-CPU streams by `seq` without parsing lengths; and this `no_std` crate can build
//! every record in a fixed-size value without allocating. A state whose parts are not
//! all present (`TracePages::part` not consecutive, runs not covering `1 << order`
//! pages) is detected and discarded by the reader.
//!
//! # Identity, order, drops
//!
//! A folio is identified by `(pfn, epoch)`: the head PFN and a generation that the
//! recorder bumps whenever the folio at that PFN is freed and the memory reused (csim:
//! `pfn` is the simulator's folio serial number and `epoch` 0). `seq` is one global
//! counter, taken under the lock that orders the event against others on the same folio,
//! so sorting by `seq` restores each folio's order across CPUs. After a gap in `seq` a
//! replay cannot know which folios lost events: it stops trusting every live folio until
//! that folio's next `TraceState` (so a recorder that dropped records emits a state for
//! each folio at its next event).
//!
//! What a kernel trace (`TraceHeader::source == TRACE_SOURCE_KERNEL`) observed of each
//! outcome: `digest` and `mapcount_after` (the folio read after the operation), `ret`
//! where the kernel function returns a value, `decision` (write faults: read back from
//! the page table; PMD migration: the entry installed). The other outcome fields
//! (`reason`, `out_flags`, `nr_pages`, `nr_other`) are the kernel's internal values
//! nothing exposes: they are zero, and a replay compares only the observed ones.
//! References the kernel moved outside any recorded operation (LRU, GUP, page cache,
//! TLB-batched frees) arrive as `Get`/`Put` events before the operation that found them;
//! those other tasks moved inside an operation's window, and the flags no check compares
//! (LRU, swap cache, KSM), as an `UpdateFlags` and a `Get`/`Put` right after it (whose
//! `digest` is then the state after it without them: a write fault decides on the
//! references and flags it found). Any other change the recorder could not order gets the
//! folio a new `TraceState` (and a new `epoch`).
//!
//! Event fields not used by an operation are zero. `digest` is [`digest`] of the folio
//! header after the event (pages not included: they would cost a 512-page walk per event
//! in the kernel), so a replay checks the whole folio-level state at every step.

use crate::store::FolioStore;
use crate::types::{mm_ids_pack, CowFacts};

/// `TraceHeader::magic`: `"FMTR"` in a little-endian file.
pub const TRACE_MAGIC: u32 = 0x5254_4d46;
/// `TraceHeader::version` of this layout. Version 2 changed only the digest (it hashes
/// 64-bit words, [`digest`]); version 1's hashed bytes ([`digest_v1`]).
pub const TRACE_VERSION: u32 = 2;
/// The oldest version a reader accepts: the layout is the same since version 1.
pub const TRACE_VERSION_MIN: u32 = 1;
/// Size of every record (`TraceEvent`, `TraceState`, `TracePages`).
pub const TRACE_RECORD_SIZE: u32 = 64;

/// `TraceHeader::source`: written by `csim --trace`.
pub const TRACE_SOURCE_CSIM: u32 = 1;
/// `TraceHeader::source`: recorded by the kernel module from a live kernel.
pub const TRACE_SOURCE_KERNEL: u32 = 2;

/// The file header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceHeader {
    /// `TRACE_MAGIC`.
    pub magic: u32,
    /// `TRACE_VERSION`.
    pub version: u32,
    /// Size of this header (64).
    pub header_size: u32,
    /// Size of each record (`TRACE_RECORD_SIZE`).
    pub record_size: u32,
    /// The kernel configuration recorded: `FM_MODE_PMC` or `FM_MODE_NOPMC`.
    pub mode: u32,
    /// `TRACE_SOURCE_*`.
    pub source: u32,
    /// CPUs that recorded (per-CPU buffers merged by `seq`).
    pub nr_cpus: u32,
    /// Zero.
    pub reserved: u32,
    /// Records that follow the header.
    pub records: u64,
    /// Records the recorder had to drop (full buffer, failed allocation); 0 for csim.
    pub dropped: u64,
    /// Events (not state records) written.
    pub events: u64,
    /// `TraceState` records written.
    pub states: u64,
}

/// Operation codes: `TraceEvent::op`, and the record type of every record.
///
/// Each names the `fm_folio_*` entry point (or kernel call site) it mirrors; its
/// arguments go into the fields documented per variant. Fields an operation does not use
/// are zero.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceOp {
    /// `fm_folio_init`: a fresh folio (`order`; `arg` = mode). Starts a stream.
    Init = 1,
    /// `fm_folio_update_flags` (`arg` = set bits, `mm` = clear bits).
    UpdateFlags = 2,
    /// `folio_add_new_anon_rmap` (`mm`, `flags` & `TRACE_ARG_EXCLUSIVE`).
    AddNewAnon = 3,
    /// `folio_add_anon_rmap_ptes` (`first`, `nr`, `mm`, exclusive flag).
    AddAnonPtes = 4,
    /// `folio_add_anon_rmap_pmd` (`mm`, exclusive flag).
    AddAnonPmd = 5,
    /// `folio_add_file_rmap_ptes` (`first`, `nr`, `mm`).
    AddFilePtes = 6,
    /// `folio_add_file_rmap_pmd` (`mm`).
    AddFilePmd = 7,
    /// `folio_remove_rmap_ptes` (`first`, `nr`, `mm`).
    RemovePtes = 8,
    /// `folio_remove_rmap_pmd` (`mm`).
    RemovePmd = 9,
    /// `folio_try_dup_anon_rmap_ptes` (`first`, `nr`, `mm` = child, src-has-pinned flag).
    TryDupAnonPtes = 10,
    /// `folio_try_dup_anon_rmap_pmd` (`mm` = child, src-has-pinned flag).
    TryDupAnonPmd = 11,
    /// `folio_dup_file_rmap_ptes` (`first`, `nr`, `mm` = child).
    DupFilePtes = 12,
    /// `folio_try_share_anon_rmap_pte/_pmd` (`first` = page).
    TryShareAnon = 13,
    /// `deferred_split_folio` (partially-mapped flag).
    DeferredSplit = 14,
    /// The first anon fault of a fresh folio (`mm`).
    FaultAnon = 15,
    /// Fork of a PTE run (`first`, `nr`, `mm` = child, src-has-pinned flag).
    ForkPtes = 16,
    /// Fork of a PMD (`arg` = parent mm, `mm` = child, src-has-pinned flag).
    ForkPmd = 17,
    /// Zap of PTEs (`first`, `nr`, `mm`).
    ZapPtes = 18,
    /// Zap of a PMD (`mm`).
    ZapPmd = 19,
    /// `__split_huge_pmd_locked` (`mm`, freeze and writable flags).
    SplitPmd = 20,
    /// `try_to_migrate_one`, PTE (`first` = page, `mm`, writable flag).
    MigrateUnmapPte = 21,
    /// `set_pmd_migration_entry` (`mm`, writable flag).
    MigrateUnmapPmd = 22,
    /// `remove_migration_pte` (`first` = page, `mm`, `arg` = entry type).
    MigrateRestorePte = 23,
    /// `remove_migration_pmd` (`mm`, `arg` = entry type).
    MigrateRestorePmd = 24,
    /// `migrate_folio_move`, recorded on the source (`ret`; `arg` = low 32 bits of the
    /// destination's pfn).
    MigrateMove = 25,
    /// `migrate_folio_move`, recorded on the destination after the move; a `TraceState`
    /// of the destination follows (the state moved with the data).
    MigrateMoveIn = 26,
    /// The refcount precondition of a folio split (`arg` = new order, `nr` = caller refs).
    SplitCheck = 27,
    /// The freeze step of a folio split (`ret`).
    SplitFreeze = 28,
    /// Write / unshare fault on a PTE (`first` = page, `mm`, `facts`; outcome in
    /// `decision`, `reason`, `out_flags`, `nr_pages`, `mapcount_after`).
    WpFaultPte = 29,
    /// Write / unshare fault on a PMD (`mm`, `facts`; outcome as for the PTE fault).
    WpFaultPmd = 30,
    /// `FOLL_PIN`.
    Pin = 31,
    /// Unpin.
    Unpin = 32,
    /// References taken (`arg` = nr).
    Get = 33,
    /// References dropped (`arg` = nr); the last one frees the folio.
    Put = 34,
    /// Added to the swap cache.
    SwapcacheAdd = 35,
    /// A query point (`first` = page; `mm` = the asking mm or 0): the answers of
    /// `folio_maybe_mapped_shared` and `PM_MMAP_EXCLUSIVE` in `out_flags`,
    /// `folio_mapcount` in `mapcount_after`.
    Query = 36,
    /// The recorder stops following the folio (its struct was freed or replaced by the
    /// pieces of a folio split): ends the stream of `(pfn, epoch)`.
    Retire = 37,
    /// The folio split replaced this folio by order-0 pieces (`arg` = new order); the
    /// pieces start their own streams.
    FolioSplit = 38,
    /// A [`TraceState`] record.
    State = 64,
    /// A [`TracePages`] record.
    StatePages = 65,
}

impl TraceOp {
    /// Decodes a raw `op` field.
    pub fn from_raw(raw: u16) -> Option<TraceOp> {
        use TraceOp::*;
        const ALL: [TraceOp; 40] = [
            Init,
            UpdateFlags,
            AddNewAnon,
            AddAnonPtes,
            AddAnonPmd,
            AddFilePtes,
            AddFilePmd,
            RemovePtes,
            RemovePmd,
            TryDupAnonPtes,
            TryDupAnonPmd,
            DupFilePtes,
            TryShareAnon,
            DeferredSplit,
            FaultAnon,
            ForkPtes,
            ForkPmd,
            ZapPtes,
            ZapPmd,
            SplitPmd,
            MigrateUnmapPte,
            MigrateUnmapPmd,
            MigrateRestorePte,
            MigrateRestorePmd,
            MigrateMove,
            MigrateMoveIn,
            SplitCheck,
            SplitFreeze,
            WpFaultPte,
            WpFaultPmd,
            Pin,
            Unpin,
            Get,
            Put,
            SwapcacheAdd,
            Query,
            Retire,
            FolioSplit,
            State,
            StatePages,
        ];
        ALL.into_iter().find(|op| *op as u16 == raw)
    }
}

/// `TraceEvent::flags`: `RMAP_EXCLUSIVE` (adds).
pub const TRACE_ARG_EXCLUSIVE: u8 = 1 << 0;
/// `TraceEvent::flags`: the parent mm has `MMF_HAS_PINNED` (dup, fork).
pub const TRACE_ARG_SRC_HAS_PINNED: u8 = 1 << 1;
/// `TraceEvent::flags`: split with freeze (migration entries).
pub const TRACE_ARG_FREEZE: u8 = 1 << 2;
/// `TraceEvent::flags`: the PTE/PMD was writable (split, migrate unmap).
pub const TRACE_ARG_WRITABLE: u8 = 1 << 3;
/// `TraceEvent::flags`: `deferred_split_folio(folio, partially_mapped = true)`.
pub const TRACE_ARG_PARTIALLY_MAPPED: u8 = 1 << 4;

/// `TraceEvent::out_flags`: `RmapOutcome::partially_mapped`.
pub const TRACE_OUT_PARTIALLY_MAPPED: u16 = 1 << 0;
/// `TraceEvent::out_flags`: `RmapOutcome::deferred_split`.
pub const TRACE_OUT_DEFERRED_SPLIT: u16 = 1 << 1;
/// `TraceEvent::out_flags`: `RmapOutcome::newly_partially_mapped`.
pub const TRACE_OUT_NEWLY_PARTIALLY_MAPPED: u16 = 1 << 2;
/// `TraceEvent::out_flags`: a write fault freed the swap cache.
pub const TRACE_OUT_SWAPCACHE_FREED: u16 = 1 << 3;
/// `TraceEvent::out_flags`: a write fault drained a per-CPU LRU batch reference.
pub const TRACE_OUT_LRU_DRAINED: u16 = 1 << 4;
/// `TraceEvent::out_flags`: a PMD was split (write-fault fallback, fork of a pinned PMD).
pub const TRACE_OUT_PMD_SPLIT: u16 = 1 << 5;
/// `TraceEvent::out_flags`: fork: the child got the PMD mapping.
pub const TRACE_OUT_PMD_SHARED: u16 = 1 << 6;
/// `TraceEvent::out_flags`: the split froze the mapping into migration entries.
pub const TRACE_OUT_FROZEN: u16 = 1 << 7;
/// `TraceEvent::out_flags`: a freeze was refused (maybe pinned).
pub const TRACE_OUT_FREEZE_FAILED: u16 = 1 << 8;
/// `TraceEvent::out_flags`: fork: at least one dup returned `-EBUSY`.
pub const TRACE_OUT_DUP_BUSY: u16 = 1 << 9;
/// `TraceEvent::out_flags` (query): `folio_maybe_mapped_shared`.
pub const TRACE_OUT_MAYBE_SHARED: u16 = 1 << 10;
/// `TraceEvent::out_flags` (query): `PM_MMAP_EXCLUSIVE` of the page.
pub const TRACE_OUT_PM_MMAP_EXCLUSIVE: u16 = 1 << 11;
/// `TraceEvent::out_flags` (query): `PageAnonExclusive` of the page.
pub const TRACE_OUT_ANON_EXCLUSIVE: u16 = 1 << 12;
/// `TraceEvent::out_flags`: a step inside one kernel operation whose state after it the
/// recorder did not observe (fork of a folio in several page runs: only the last step's
/// state is read); `digest` and `mapcount_after` are 0 and a replay does not compare them.
pub const TRACE_OUT_UNOBSERVED: u16 = 1 << 13;

/// One event: a model operation on one folio, its arguments and the recorded outcome.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceEvent {
    /// Global sequence number (one counter for all CPUs).
    pub seq: u64,
    /// Head PFN of the folio (csim: folio serial number).
    pub pfn: u64,
    /// Generation of the folio at `pfn` (bumped when it is freed and reused).
    pub epoch: u32,
    /// CPU that recorded the event.
    pub cpu: u16,
    /// `TraceOp` value (below `TraceOp::State`).
    pub op: u16,
    /// Folio order.
    pub order: u8,
    /// `TRACE_ARG_*` bits.
    pub flags: u8,
    /// The `fm_status` of the model call (the kernel: always 0; only accepted calls are
    /// recorded by csim).
    pub status: i8,
    /// Write faults: `CowDecision`; migration unmap and freezing split: the
    /// `MigrationEntry` type installed.
    pub decision: u8,
    /// The mm id (`dst_mm` for dup and fork; clear bits for `UPDATE_FLAGS`).
    pub mm: u32,
    /// First page (or the page) of the operation.
    pub first: u16,
    /// Number of pages (PTE batches); split check: caller references.
    pub nr: u16,
    /// Operation-specific argument (see `TraceOp`).
    pub arg: u32,
    /// The kernel function's return value (0, `-EBUSY`, `-EAGAIN`, `-EINVAL`).
    pub ret: i32,
    /// Write faults: `CowReason`.
    pub reason: u8,
    /// Zero.
    pub reserved: u8,
    /// `TRACE_OUT_*` bits.
    pub out_flags: u16,
    /// Write faults: the facts the kernel observed (spec §7.3-7.6).
    pub facts: CowFacts,
    /// `RmapOutcome::nr_pages` (of the COPY's or FALLBACK's rmap for a write fault);
    /// fork: pages shared with the child.
    pub nr_pages: i16,
    /// `RmapOutcome::nr_pmdmapped`; fork: pages copied for the child.
    pub nr_other: i16,
    /// `folio_mapcount` after the event.
    pub mapcount_after: i32,
    /// [`digest`] of the folio header after the event.
    pub digest: u32,
}

/// The full header state of one folio (`op == TraceOp::State`); the pages follow in
/// `nr_runs` runs carried by `TracePages` records.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceState {
    /// As `TraceEvent::seq`.
    pub seq: u64,
    /// As `TraceEvent::pfn`.
    pub pfn: u64,
    /// As `TraceEvent::epoch`.
    pub epoch: u32,
    /// As `TraceEvent::cpu`.
    pub cpu: u16,
    /// `TraceOp::State`.
    pub op: u16,
    /// Raw `_mm_ids` (lock bit clear).
    pub mm_ids: u64,
    /// Raw `_mm_id_mapcount[0..2]`.
    pub mm_id_mapcount: [i32; 2],
    /// `_refcount`.
    pub refcount: i32,
    /// `_pincount`.
    pub pincount: i32,
    /// Raw `_large_mapcount`.
    pub large_mapcount: i32,
    /// Raw `_entire_mapcount`.
    pub entire_mapcount: i32,
    /// Raw `_nr_pages_mapped`.
    pub nr_pages_mapped: i32,
    /// `FOLIO_*` flags.
    pub flags: u8,
    /// Folio order.
    pub order: u8,
    /// Page runs that follow (in `ceil(nr_runs / TRACE_PAGE_RUNS)` `TracePages`).
    pub nr_runs: u16,
}

/// Pages `[first, first + nr)` all have raw `_mapcount` == `mapcount` and page flags
/// == `flags`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracePageRun {
    /// First page of the run.
    pub first: u16,
    /// Pages in the run (0: unused slot).
    pub nr: u16,
    /// Raw `_mapcount`.
    pub mapcount: i32,
    /// `PAGE_*` flags.
    pub flags: u32,
}

/// Runs per `TracePages` record.
pub const TRACE_PAGE_RUNS: usize = 3;

/// Per-page state of the preceding `TraceState` (`op == TraceOp::StatePages`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracePages {
    /// As `TraceEvent::seq`.
    pub seq: u64,
    /// As `TraceEvent::pfn`.
    pub pfn: u64,
    /// As `TraceEvent::epoch`.
    pub epoch: u32,
    /// As `TraceEvent::cpu`.
    pub cpu: u16,
    /// `TraceOp::StatePages`.
    pub op: u16,
    /// Index of this record among the state's page records (0, 1, ...).
    pub part: u16,
    /// Runs used in `runs` (1..=3).
    pub nr: u8,
    /// Zero.
    pub reserved: u8,
    /// The runs.
    pub runs: [TracePageRun; TRACE_PAGE_RUNS],
}

const _: () = assert!(core::mem::size_of::<TraceHeader>() == 64);
const _: () = assert!(core::mem::size_of::<TraceEvent>() == TRACE_RECORD_SIZE as usize);
const _: () = assert!(core::mem::size_of::<TraceState>() == TRACE_RECORD_SIZE as usize);
const _: () = assert!(core::mem::size_of::<TracePages>() == TRACE_RECORD_SIZE as usize);

impl TraceHeader {
    /// A header for a trace of `mode` from `source`, with no records yet.
    pub fn new(mode: u32, source: u32, nr_cpus: u32) -> TraceHeader {
        TraceHeader {
            magic: TRACE_MAGIC,
            version: TRACE_VERSION,
            header_size: core::mem::size_of::<TraceHeader>() as u32,
            record_size: TRACE_RECORD_SIZE,
            mode,
            source,
            nr_cpus,
            ..TraceHeader::default()
        }
    }
}

/// The check value of `TraceEvent::digest` (version 2): a hash of the folio-level state
/// (`flags`, refcount, pincount, the raw large, entire and pages-mapped counters, the
/// slot mapcounts and `_mm_ids` without the lock bit, the order).
pub fn digest<S: FolioStore>(s: &S) -> u32 {
    digest_words(state_words(s))
}

/// The digest of version-1 traces: FNV-1a over the same words' 44 bytes (44 serial
/// multiplies against [`digest`]'s 6).
pub fn digest_v1<S: FolioStore>(s: &S) -> u32 {
    digest_bytes(state_words(s))
}

/// The digest a trace of `version` carries.
pub fn digest_of_version<S: FolioStore>(version: u32, s: &S) -> u32 {
    if version == 1 {
        digest_v1(s)
    } else {
        digest(s)
    }
}

fn state_words<S: FolioStore>(s: &S) -> [u32; 11] {
    let large = s.large();
    let mm_ids = mm_ids_pack(large.ids, large.shared);
    [
        s.flags(),
        s.refcount() as u32,
        s.pincount() as u32,
        large.lmc as u32,
        s.entire_mapcount() as u32,
        s.nr_pages_mapped() as u32,
        large.mmc[0] as u32,
        large.mmc[1] as u32,
        mm_ids as u32,
        (mm_ids >> 32) as u32,
        s.order(),
    ]
}

/// [`digest`] of the folio a `TraceState` describes (a recorder that adjusts a state's
/// references or flags gets the digest of the adjusted state without a folio).
pub fn state_digest(st: &TraceState) -> u32 {
    digest_words([
        st.flags as u32,
        st.refcount as u32,
        st.pincount as u32,
        st.large_mapcount as u32,
        st.entire_mapcount as u32,
        st.nr_pages_mapped as u32,
        st.mm_id_mapcount[0] as u32,
        st.mm_id_mapcount[1] as u32,
        st.mm_ids as u32,
        (st.mm_ids >> 32) as u32,
        st.order as u32,
    ])
}

/// Six 64-bit steps of xor, odd multiply and xorshift: each step is a bijection of the
/// hash, so states that differ in one word always differ in the 64-bit hash (and in
/// the 32-bit fold but for a 2^-32 chance).
fn digest_words(w: [u32; 11]) -> u32 {
    let lanes = [
        w[0] as u64 | (w[1] as u64) << 32,
        w[2] as u64 | (w[3] as u64) << 32,
        w[4] as u64 | (w[5] as u64) << 32,
        w[6] as u64 | (w[7] as u64) << 32,
        w[8] as u64 | (w[9] as u64) << 32,
        w[10] as u64,
    ];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in lanes {
        h = (h ^ l).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    (h ^ (h >> 32)) as u32
}

fn digest_bytes(words: [u32; 11]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for w in words {
        for b in w.to_le_bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// The `TraceState` of a folio (identity fields left for the caller: `seq`, `pfn`,
/// `epoch`, `cpu`).
pub fn state<S: FolioStore>(s: &S) -> TraceState {
    let large = s.large();
    TraceState {
        op: TraceOp::State as u16,
        mm_ids: mm_ids_pack(large.ids, large.shared),
        mm_id_mapcount: large.mmc,
        refcount: s.refcount(),
        pincount: s.pincount(),
        large_mapcount: large.lmc,
        entire_mapcount: s.entire_mapcount(),
        nr_pages_mapped: s.nr_pages_mapped(),
        flags: s.flags() as u8,
        order: s.order() as u8,
        nr_runs: count_runs(s),
        ..TraceState::default()
    }
}

fn same(s: &impl FolioStore, a: u32, b: u32) -> bool {
    s.page_mapcount(a) == s.page_mapcount(b) && s.page_flags(a) == s.page_flags(b)
}

/// Runs of equal pages (raw `_mapcount` and flags) in the folio.
pub fn count_runs<S: FolioStore>(s: &S) -> u16 {
    let mut runs = 1u16;
    for k in 1..s.nr_pages() {
        if !same(s, k - 1, k) {
            runs += 1;
        }
    }
    runs
}

/// Fills `out` with the next up to `TRACE_PAGE_RUNS` runs starting at page `*cursor`
/// and advances `*cursor`; `out.part` is left to the caller. Returns false (and leaves
/// `out` with `nr == 0`) when `*cursor` is already past the last page.
pub fn pages<S: FolioStore>(s: &S, cursor: &mut u32, out: &mut TracePages) -> bool {
    out.op = TraceOp::StatePages as u16;
    out.nr = 0;
    out.runs = [TracePageRun::default(); TRACE_PAGE_RUNS];
    let n = s.nr_pages();
    for run in out.runs.iter_mut() {
        let first = *cursor;
        if first >= n {
            break;
        }
        let mut end = first + 1;
        while end < n && same(s, first, end) {
            end += 1;
        }
        *run = TracePageRun {
            first: first as u16,
            nr: (end - first) as u16,
            mapcount: s.page_mapcount(first),
            flags: s.page_flags(first),
        };
        out.nr += 1;
        *cursor = end;
    }
    out.nr > 0
}
