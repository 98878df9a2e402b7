//! The one list of foliomap's C-ABI surface: every shared `#[repr(C)]` struct with all its
//! fields, every C enum with all its values, every constant, each with its C name.
//!
//! Two consumers expand the lists with their own macro (callback style):
//! - `layout-asserts` (this crate's binary) prints the `_Static_assert`s that
//!   `scripts/gen-header` appends to `include/foliomap.h` (sizes, alignments, offsets
//!   computed here, on the Rust side);
//! - `rust/abi-tests` checks bindgen's view of the header against the Rust definitions.
//!
//! The lists cannot silently miss a field or a variant: [`for_each_abi_struct!`] entries
//! are destructured exhaustively (no `..`) and [`for_each_abi_enum!`] entries are matched
//! exhaustively, both on the Rust type, so a new field / variant is a compile error here
//! until it is listed; `rust/abi-tests` also fails on any `FM_*` name or C type of the
//! header that no list mentions.
//!
//! Adding a type = one line in the right list (and its rename in `cbindgen.toml`).

use core::fmt::Write as _;

#[doc(hidden)]
pub use foliomap;
pub use foliomap_ffi;

/// Calls `$m!(RustPath => c_name { field, ... });` for every shared struct.
#[macro_export]
macro_rules! for_each_abi_struct {
    ($m:ident) => {
        $m!($crate::foliomap::types::Page => fm_page { mapcount, flags });
        $m!($crate::foliomap::types::Folio => fm_folio { magic, mode, order, options, flags, refcount, pincount, large_mapcount, entire_mapcount, nr_pages_mapped, mm_id_mapcount, mm_ids, pages, pages_len, in_use, seal });
        $m!($crate::foliomap::types::RmapOutcome => fm_rmap_outcome { ret, nr_pages, nr_pmdmapped, mapped_stat_delta, pmdmapped_stat_delta, mapcount_after, partially_mapped, deferred_split, newly_partially_mapped, reserved });
        $m!($crate::foliomap::types::CowFacts => fm_cow_facts { unshare, trylock_fails, lru_drain_drops_ref, swap_free_succeeds });
        $m!($crate::foliomap::types::CowOutcome => fm_cow_outcome { decision, reason, swapcache_freed, lru_drained, pmd_split, reserved, rmap });
        $m!($crate::foliomap::types::ForkOutcome => fm_fork_outcome { pages_shared, pages_copied, dup_calls, dup_busy, pmd_shared, pmd_split, reserved, copied, split });
        $m!($crate::foliomap::types::SplitPmdOutcome => fm_split_pmd_outcome { frozen, freeze_failed, reserved, entry, add, remove });
        $m!($crate::foliomap::types::MigrateUnmapOutcome => fm_migrate_unmap_outcome { ret, entry, rmap });
        $m!($crate::foliomap::types::FolioQuery => fm_query { mapcount, large_mapcount, entire_mapcount, nr_pages_mapped, average_page_mapcount, expected_ref_count, precise_page_mapcount, kpagecount, mapped, maybe_mapped_shared, maybe_dma_pinned, pm_mmap_exclusive, anon_exclusive, reserved });
        $m!($crate::foliomap_ffi::MmIds => fm_mm_ids { magic, nr_words, bitmap, seal });
        $m!($crate::foliomap::diff::FolioDiff => fm_folio_diff { fields, first_page });
        $m!($crate::foliomap::trace::TraceHeader => fm_trace_header { magic, version, header_size, record_size, mode, source, nr_cpus, reserved, records, dropped, events, states });
        $m!($crate::foliomap::trace::TraceEvent => fm_trace_event { seq, pfn, epoch, cpu, op, order, flags, status, decision, mm, first, nr, arg, ret, reason, reserved, out_flags, facts, nr_pages, nr_other, mapcount_after, digest });
        $m!($crate::foliomap::trace::TraceState => fm_trace_state { seq, pfn, epoch, cpu, op, mm_ids, mm_id_mapcount, refcount, pincount, large_mapcount, entire_mapcount, nr_pages_mapped, flags, order, nr_runs });
        $m!($crate::foliomap::trace::TracePageRun => fm_trace_page_run { first, nr, mapcount, flags });
        $m!($crate::foliomap::trace::TracePages => fm_trace_pages { seq, pfn, epoch, cpu, op, part, nr, reserved, runs });
    };
}

/// Calls `$m!(RustPath: repr => c_name { Variant = C_NAME, ... });` for every C enum.
#[macro_export]
macro_rules! for_each_abi_enum {
    ($m:ident) => {
        $m!($crate::foliomap::types::Mode: u32 => fm_mode { Pmc = FM_MODE_PMC, Nopmc = FM_MODE_NOPMC });
        $m!($crate::foliomap::types::Status: i32 => fm_status { Ok = FM_OK, NullPointer = FM_ERR_NULL_POINTER, NotInitialised = FM_ERR_NOT_INITIALISED, BadMode = FM_ERR_BAD_MODE, BadOrder = FM_ERR_BAD_ORDER, BadRange = FM_ERR_BAD_RANGE, BadMmId = FM_ERR_BAD_MM_ID, BadState = FM_ERR_BAD_STATE, PagesTooSmall = FM_ERR_PAGES_TOO_SMALL, Exhausted = FM_ERR_EXHAUSTED, BadArgument = FM_ERR_BAD_ARGUMENT, Moved = FM_ERR_MOVED, Alias = FM_ERR_ALIAS, Busy = FM_ERR_BUSY, Corrupt = FM_ERR_CORRUPT });
        $m!($crate::foliomap::types::Level: u32 => fm_level { Pte = FM_LEVEL_PTE, Pmd = FM_LEVEL_PMD });
        $m!($crate::foliomap::types::MigrationEntry: u32 => fm_migration_entry { Readable = FM_MIGRATION_ENTRY_READABLE, ReadableExclusive = FM_MIGRATION_ENTRY_READABLE_EXCLUSIVE, Writable = FM_MIGRATION_ENTRY_WRITABLE });
        $m!($crate::foliomap::types::CowDecision: u32 => fm_cow_decision { None = FM_COW_DECISION_NONE, Reuse = FM_COW_DECISION_REUSE, Copy = FM_COW_DECISION_COPY, Fallback = FM_COW_DECISION_FALLBACK });
        $m!($crate::foliomap::types::CowReason: u32 => fm_cow_reason { None = FM_COW_REASON_NONE, AnonExclusive = FM_COW_REASON_ANON_EXCLUSIVE, NotAnon = FM_COW_REASON_NOT_ANON, Ksm = FM_COW_REASON_KSM, SmallRefcountOne = FM_COW_REASON_SMALL_REFCOUNT_ONE, SmallRefcountHigh = FM_COW_REASON_SMALL_REFCOUNT_HIGH, TrylockFailed = FM_COW_REASON_TRYLOCK_FAILED, LargeMapcountOne = FM_COW_REASON_LARGE_MAPCOUNT_ONE, MaybeShared = FM_COW_REASON_MAYBE_SHARED, RefcountNotMapcount = FM_COW_REASON_REFCOUNT_NOT_MAPCOUNT, LargeExclusive = FM_COW_REASON_LARGE_EXCLUSIVE, PmdRefcountOne = FM_COW_REASON_PMD_REFCOUNT_ONE, PmdRefcountHigh = FM_COW_REASON_PMD_REFCOUNT_HIGH });
        $m!($crate::foliomap::trace::TraceOp: u16 => fm_trace_op { Init = FM_TRACE_OP_INIT, UpdateFlags = FM_TRACE_OP_UPDATE_FLAGS, AddNewAnon = FM_TRACE_OP_ADD_NEW_ANON, AddAnonPtes = FM_TRACE_OP_ADD_ANON_PTES, AddAnonPmd = FM_TRACE_OP_ADD_ANON_PMD, AddFilePtes = FM_TRACE_OP_ADD_FILE_PTES, AddFilePmd = FM_TRACE_OP_ADD_FILE_PMD, RemovePtes = FM_TRACE_OP_REMOVE_PTES, RemovePmd = FM_TRACE_OP_REMOVE_PMD, TryDupAnonPtes = FM_TRACE_OP_TRY_DUP_ANON_PTES, TryDupAnonPmd = FM_TRACE_OP_TRY_DUP_ANON_PMD, DupFilePtes = FM_TRACE_OP_DUP_FILE_PTES, TryShareAnon = FM_TRACE_OP_TRY_SHARE_ANON, DeferredSplit = FM_TRACE_OP_DEFERRED_SPLIT, FaultAnon = FM_TRACE_OP_FAULT_ANON, ForkPtes = FM_TRACE_OP_FORK_PTES, ForkPmd = FM_TRACE_OP_FORK_PMD, ZapPtes = FM_TRACE_OP_ZAP_PTES, ZapPmd = FM_TRACE_OP_ZAP_PMD, SplitPmd = FM_TRACE_OP_SPLIT_PMD, MigrateUnmapPte = FM_TRACE_OP_MIGRATE_UNMAP_PTE, MigrateUnmapPmd = FM_TRACE_OP_MIGRATE_UNMAP_PMD, MigrateRestorePte = FM_TRACE_OP_MIGRATE_RESTORE_PTE, MigrateRestorePmd = FM_TRACE_OP_MIGRATE_RESTORE_PMD, MigrateMove = FM_TRACE_OP_MIGRATE_MOVE, MigrateMoveIn = FM_TRACE_OP_MIGRATE_MOVE_IN, SplitCheck = FM_TRACE_OP_SPLIT_CHECK, SplitFreeze = FM_TRACE_OP_SPLIT_FREEZE, WpFaultPte = FM_TRACE_OP_WP_FAULT_PTE, WpFaultPmd = FM_TRACE_OP_WP_FAULT_PMD, Pin = FM_TRACE_OP_PIN, Unpin = FM_TRACE_OP_UNPIN, Get = FM_TRACE_OP_GET, Put = FM_TRACE_OP_PUT, SwapcacheAdd = FM_TRACE_OP_SWAPCACHE_ADD, Query = FM_TRACE_OP_QUERY, Retire = FM_TRACE_OP_RETIRE, FolioSplit = FM_TRACE_OP_FOLIO_SPLIT, State = FM_TRACE_OP_STATE, StatePages = FM_TRACE_OP_STATE_PAGES });
    };
}

/// Calls `$m!(C_NAME = rust::PATH);` for every `pub const` of the header.
#[macro_export]
macro_rules! for_each_abi_const {
    ($m:ident) => {
        $m!(FM_MM_ID_DUMMY = $crate::foliomap::kernel::MM_ID_DUMMY);
        $m!(FM_MM_ID_MIN = $crate::foliomap::kernel::MM_ID_MIN);
        $m!(FM_MM_ID_BITS = $crate::foliomap::kernel::MM_ID_BITS);
        $m!(FM_MM_ID_MASK = $crate::foliomap::kernel::MM_ID_MASK);
        $m!(FM_MM_ID_MAX = $crate::foliomap::kernel::MM_ID_MAX);
        $m!(FM_MM_IDS_LOCK_BIT = $crate::foliomap::kernel::MM_IDS_LOCK_BIT);
        $m!(FM_MM_IDS_SHARED_BIT = $crate::foliomap::kernel::MM_IDS_SHARED_BIT);
        $m!(FM_ENTIRELY_MAPPED = $crate::foliomap::kernel::ENTIRELY_MAPPED);
        $m!(FM_FOLIO_PAGES_MAPPED = $crate::foliomap::kernel::FOLIO_PAGES_MAPPED);
        $m!(FM_PMD_ORDER = $crate::foliomap::kernel::PMD_ORDER);
        $m!(FM_PMD_NR = $crate::foliomap::kernel::PMD_NR);
        $m!(FM_MAX_ORDER = $crate::foliomap::kernel::MAX_ORDER);
        $m!(FM_MAX_PAGES = $crate::foliomap::kernel::MAX_PAGES);
        $m!(FM_GUP_PIN_COUNTING_BIAS = $crate::foliomap::kernel::GUP_PIN_COUNTING_BIAS);
        $m!(FM_EBUSY = $crate::foliomap::kernel::EBUSY);
        $m!(FM_EAGAIN = $crate::foliomap::kernel::EAGAIN);
        $m!(FM_FOLIO_MAGIC = $crate::foliomap::types::FOLIO_MAGIC);
        $m!(FM_PAGE_ANON_EXCLUSIVE = $crate::foliomap::types::PAGE_ANON_EXCLUSIVE);
        $m!(FM_FOLIO_ANON = $crate::foliomap::types::FOLIO_ANON);
        $m!(FM_FOLIO_KSM = $crate::foliomap::types::FOLIO_KSM);
        $m!(FM_FOLIO_SWAPCACHE = $crate::foliomap::types::FOLIO_SWAPCACHE);
        $m!(FM_FOLIO_PARTIALLY_MAPPED = $crate::foliomap::types::FOLIO_PARTIALLY_MAPPED);
        $m!(FM_FOLIO_DEFERRED_LIST = $crate::foliomap::types::FOLIO_DEFERRED_LIST);
        $m!(FM_FOLIO_LRU = $crate::foliomap::types::FOLIO_LRU);
        $m!(FM_FOLIO_FLAGS_ALL = $crate::foliomap::types::FOLIO_FLAGS_ALL);
        $m!(FM_FOLIO_OPT_CONCURRENT = $crate::foliomap::types::FOLIO_OPT_CONCURRENT);
        $m!(FM_RMAP_NONE = $crate::foliomap::types::RMAP_NONE);
        $m!(FM_RMAP_EXCLUSIVE = $crate::foliomap::types::RMAP_EXCLUSIVE);
        $m!(FM_MMIDS_MAGIC = $crate::foliomap_ffi::MMIDS_MAGIC);
        $m!(FM_FIELD_REFCOUNT = $crate::foliomap::diff::FIELD_REFCOUNT);
        $m!(FM_FIELD_PINCOUNT = $crate::foliomap::diff::FIELD_PINCOUNT);
        $m!(FM_FIELD_LARGE_MAPCOUNT = $crate::foliomap::diff::FIELD_LARGE_MAPCOUNT);
        $m!(FM_FIELD_ENTIRE_MAPCOUNT = $crate::foliomap::diff::FIELD_ENTIRE_MAPCOUNT);
        $m!(FM_FIELD_NR_PAGES_MAPPED = $crate::foliomap::diff::FIELD_NR_PAGES_MAPPED);
        $m!(FM_FIELD_MM_ID0 = $crate::foliomap::diff::FIELD_MM_ID0);
        $m!(FM_FIELD_MM_ID1 = $crate::foliomap::diff::FIELD_MM_ID1);
        $m!(FM_FIELD_MM_ID_MAPCOUNT0 = $crate::foliomap::diff::FIELD_MM_ID_MAPCOUNT0);
        $m!(FM_FIELD_MM_ID_MAPCOUNT1 = $crate::foliomap::diff::FIELD_MM_ID_MAPCOUNT1);
        $m!(FM_FIELD_SHARED = $crate::foliomap::diff::FIELD_SHARED);
        $m!(FM_FIELD_PARTIALLY_MAPPED = $crate::foliomap::diff::FIELD_PARTIALLY_MAPPED);
        $m!(FM_FIELD_DEFERRED_LIST = $crate::foliomap::diff::FIELD_DEFERRED_LIST);
        $m!(FM_FIELD_ANON = $crate::foliomap::diff::FIELD_ANON);
        $m!(FM_FIELD_PAGE_MAPCOUNT = $crate::foliomap::diff::FIELD_PAGE_MAPCOUNT);
        $m!(FM_FIELD_PAGE_ANON_EXCLUSIVE = $crate::foliomap::diff::FIELD_PAGE_ANON_EXCLUSIVE);
        $m!(FM_FIELDS_ALL = $crate::foliomap::diff::FIELDS_ALL);
        $m!(FM_TRACE_MAGIC = $crate::foliomap::trace::TRACE_MAGIC);
        $m!(FM_TRACE_VERSION = $crate::foliomap::trace::TRACE_VERSION);
        $m!(FM_TRACE_VERSION_MIN = $crate::foliomap::trace::TRACE_VERSION_MIN);
        $m!(FM_TRACE_RECORD_SIZE = $crate::foliomap::trace::TRACE_RECORD_SIZE);
        $m!(FM_TRACE_SOURCE_CSIM = $crate::foliomap::trace::TRACE_SOURCE_CSIM);
        $m!(FM_TRACE_SOURCE_KERNEL = $crate::foliomap::trace::TRACE_SOURCE_KERNEL);
        $m!(FM_TRACE_ARG_EXCLUSIVE = $crate::foliomap::trace::TRACE_ARG_EXCLUSIVE);
        $m!(FM_TRACE_ARG_SRC_HAS_PINNED = $crate::foliomap::trace::TRACE_ARG_SRC_HAS_PINNED);
        $m!(FM_TRACE_ARG_FREEZE = $crate::foliomap::trace::TRACE_ARG_FREEZE);
        $m!(FM_TRACE_ARG_WRITABLE = $crate::foliomap::trace::TRACE_ARG_WRITABLE);
        $m!(FM_TRACE_ARG_PARTIALLY_MAPPED = $crate::foliomap::trace::TRACE_ARG_PARTIALLY_MAPPED);
        $m!(FM_TRACE_OUT_PARTIALLY_MAPPED = $crate::foliomap::trace::TRACE_OUT_PARTIALLY_MAPPED);
        $m!(FM_TRACE_OUT_DEFERRED_SPLIT = $crate::foliomap::trace::TRACE_OUT_DEFERRED_SPLIT);
        $m!(FM_TRACE_OUT_NEWLY_PARTIALLY_MAPPED =
            $crate::foliomap::trace::TRACE_OUT_NEWLY_PARTIALLY_MAPPED);
        $m!(FM_TRACE_OUT_SWAPCACHE_FREED = $crate::foliomap::trace::TRACE_OUT_SWAPCACHE_FREED);
        $m!(FM_TRACE_OUT_LRU_DRAINED = $crate::foliomap::trace::TRACE_OUT_LRU_DRAINED);
        $m!(FM_TRACE_OUT_PMD_SPLIT = $crate::foliomap::trace::TRACE_OUT_PMD_SPLIT);
        $m!(FM_TRACE_OUT_PMD_SHARED = $crate::foliomap::trace::TRACE_OUT_PMD_SHARED);
        $m!(FM_TRACE_OUT_FROZEN = $crate::foliomap::trace::TRACE_OUT_FROZEN);
        $m!(FM_TRACE_OUT_FREEZE_FAILED = $crate::foliomap::trace::TRACE_OUT_FREEZE_FAILED);
        $m!(FM_TRACE_OUT_DUP_BUSY = $crate::foliomap::trace::TRACE_OUT_DUP_BUSY);
        $m!(FM_TRACE_OUT_MAYBE_SHARED = $crate::foliomap::trace::TRACE_OUT_MAYBE_SHARED);
        $m!(FM_TRACE_OUT_PM_MMAP_EXCLUSIVE = $crate::foliomap::trace::TRACE_OUT_PM_MMAP_EXCLUSIVE);
        $m!(FM_TRACE_OUT_ANON_EXCLUSIVE = $crate::foliomap::trace::TRACE_OUT_ANON_EXCLUSIVE);
        $m!(FM_TRACE_OUT_UNOBSERVED = $crate::foliomap::trace::TRACE_OUT_UNOBSERVED);
        $m!(FM_TRACE_PAGE_RUNS = $crate::foliomap::trace::TRACE_PAGE_RUNS);
    };
}

/// Calls `$m!(C_NAME = RustPath => c_type { integer_field, ... });` for every associated
/// `const` of a shared struct (cbindgen emits them as compound-literal macros).
#[macro_export]
macro_rules! for_each_abi_struct_const {
    ($m:ident) => {
        $m!(FM_PAGE_INIT = $crate::foliomap::types::Page::INIT => fm_page { mapcount, flags });
    };
}

/// The C text `scripts/gen-header` appends to the header: for every shared struct, a
/// `_Static_assert` on its size, its alignment and the offset of every field; for every C
/// enum, on the size of its typedef. Values are the Rust side's.
pub fn static_asserts() -> String {
    let mut out = String::new();
    out.push_str("/* Layout of the shared types as the Rust side defines it (computed by\n");
    out.push_str(
        " * rust/abi-layout when scripts/gen-header ran); a compiler that lays them out\n",
    );
    out.push_str(" * differently refuses to build. */\n");
    out.push_str("#ifndef __cplusplus\n");
    macro_rules! emit_struct {
        ($rust:path => $c:ident { $($field:ident),* $(,)? }) => {{
            // Exhaustive: a field missing from the list is a compile error.
            #[allow(dead_code)]
            fn complete(v: $rust) {
                let $rust { $($field: _),* } = v;
            }
            let c = stringify!($c);
            let _ = writeln!(out, "_Static_assert(sizeof(struct {c}) == {}, \"struct {c}: size\");",
                core::mem::size_of::<$rust>());
            let _ = writeln!(out, "_Static_assert(_Alignof(struct {c}) == {}, \"struct {c}: alignment\");",
                core::mem::align_of::<$rust>());
            $(
                let f = stringify!($field);
                let _ = writeln!(out, "_Static_assert(offsetof(struct {c}, {f}) == {}, \"struct {c}: offset of {f}\");",
                    core::mem::offset_of!($rust, $field));
            )*
        }};
    }
    for_each_abi_struct!(emit_struct);
    macro_rules! emit_enum {
        ($rust:path: $repr:ty => $c:ident { $($variant:ident = $cname:ident),* $(,)? }) => {{
            let c = stringify!($c);
            let _ = writeln!(
                out,
                "_Static_assert(sizeof({c}) == {}, \"{c}: size\");",
                core::mem::size_of::<$rust>()
            );
        }};
    }
    for_each_abi_enum!(emit_enum);
    out.push_str("#endif /* !__cplusplus */");
    out
}

/// Every constant of the header with its Rust value converted as C converts the macro to
/// `unsigned long long` (sign-extended for negative values), for C-side value checks.
pub fn constants() -> Vec<(&'static str, u64)> {
    let mut out = Vec::new();
    macro_rules! constant {
        ($cname:ident = $rust:path) => {
            #[allow(clippy::unnecessary_cast)]
            out.push((stringify!($cname), $rust as i128 as u64));
        };
    }
    for_each_abi_const!(constant);
    out
}

/// A struct constant: C name, C type, and its integer fields with their Rust values
/// (converted as C converts them to `unsigned long long`).
pub type StructConst = (&'static str, &'static str, Vec<(&'static str, u64)>);

/// Every associated struct constant of the header (see [`for_each_abi_struct_const!`]).
pub fn struct_constants() -> Vec<StructConst> {
    let mut out = Vec::new();
    macro_rules! constant {
        ($cname:ident = $rust:expr => $c:ident { $($field:ident),* $(,)? }) => {{
            let v = $rust;
            #[allow(clippy::unnecessary_cast)]
            let fields = vec![$((stringify!($field), v.$field as i128 as u64)),*];
            out.push((stringify!($cname), stringify!($c), fields));
        }};
    }
    for_each_abi_struct_const!(constant);
    out
}
