//! foliomap: an executable model of how Linux 7.3 accounts the mappings of large folios
//! (per-page / entire / large mapcounts, MM-id owner slots, rmap, fork, CoW, splits,
//! migration). The reference is `shared/spec/linux-7.3-folio-accounting.md`; every rule
//! cites its section.
//!
//! Layers, one-way dependencies:
//! - `types`, `kernel`: the shared `#[repr(C)]` data and the kernel's constants;
//! - `slots` (spec §2), `rmap` (§3), `query` (§4), `ops` (§5-§7): the rules, written once
//!   against the `store::FolioStore` trait;
//! - `store::FolioMut`: the pure core's store (exclusive access, deterministic);
//! - `sync::SyncFolio`: the stateful layer over caller-owned shared memory (atomics and
//!   the `_mm_ids` bit spinlock, spec §8);
//! - `mmid`: the mm-id allocator (§1.7);
//! - `mutants`: build-time mutation points (`mutant!`), for `scripts/mutants`.
//!
//! No `unsafe` here: the C ABI over this API is the `foliomap-ffi` crate.
#![no_std]
#![forbid(unsafe_code)]

// First: `mutant!` is used by the modules below.
#[macro_use]
mod mutants;

pub mod diff;
pub mod kernel;
pub mod mmid;
pub mod ops;
pub mod query;
pub mod rmap;
pub mod slots;
pub mod store;
pub mod sync;
pub mod trace;
pub mod types;
