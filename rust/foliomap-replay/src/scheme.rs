//! The one trait every scheme implements, evaluated at the kernel's own decision points
//! (write faults, query points) on the kernel's own event stream.
//!
//! Trace-driven: a scheme answers at a decision point from its own metadata; then the
//! kernel's actual outcome is applied to every scheme (a COPY the kernel made removes
//! the mapping in every scheme, whatever the scheme would have decided). Nothing is
//! invented about the future a different decision would have caused.
//!
//! The schemes replace only the mapcount / ownership metadata. What is not mapcount
//! (references, pins, `PageAnonExclusive`, swap cache, KSM, flags, the fault's facts)
//! comes from the 7.3 model, which reproduces the kernel, through [`Facts`].
//!
//! # Cost model (atomic RMWs and lock acquisitions)
//!
//! Per mapping change of `nr` PTEs or one PMD of a large folio; small folios cost one
//! atomic (`page->_mapcount`) in every scheme. Locks are the `_mm_ids` bit spinlock
//! (7.3, slots-N, rfc-2026) or the exact table's per-folio lock. Counted by each
//! scheme's [`Scheme::cost`]; the numbers per scheme are documented there.

use foliomap::types::CowFacts;

use crate::delta::Delta;
use crate::exact::Exact;

/// A scheme's verdict at a write fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Reuse the page (PMD: the whole folio).
    Reuse,
    /// Copy (PMD: fall back to PTEs, i.e. not reused).
    Copy,
    /// The scheme cannot express this folio (e.g. a 2015 design and an mTHP).
    Undefined,
}

/// The non-mapcount facts at a decision point, from the 7.3 model before the event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    /// Folio order.
    pub order: u32,
    /// Anonymous.
    pub anon: bool,
    /// KSM.
    pub ksm: bool,
    /// In the swap cache.
    pub swapcache: bool,
    /// `_refcount`.
    pub refcount: i32,
    /// `PageAnonExclusive` of the faulting page (PMD: head).
    pub pae: bool,
    /// The fault's facts.
    pub cow: CowFacts,
}

/// Everything a scheme may look at besides its own metadata.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    /// The 7.3 model's facts before the event.
    pub facts: Facts,
    /// What the kernel decided (recorded, and reproduced by the model).
    pub kernel: Verdict,
    /// The model's `folio_maybe_mapped_shared` before the event.
    pub base_maybe_shared: bool,
    /// The model's `PM_MMAP_EXCLUSIVE` of the event's page before the event.
    pub base_pm_exclusive: bool,
}

/// A mapcount scheme.
pub trait Scheme {
    /// Name on the command line and in reports.
    fn name(&self) -> String;
    /// A fresh, unmapped folio of `order`.
    fn reset(&mut self, order: u32);
    /// After `reset`: the life starts mid-way from a recorded unmapped state with these
    /// references, pins and `FOLIO_*` flags (schemes that run a model of their own).
    fn restore(&mut self, _refcount: i32, _pincount: i32, _flags: u32) {}
    /// One mapping change (applied after the kernel's outcome).
    fn map(&mut self, d: &Delta);
    /// Every event with the model's state after it (schemes that run a model).
    fn after_event(&mut self, _ev: &foliomap::trace::TraceEvent) {}
    /// Write fault on a PTE mapping `page` by `mm` of a large folio.
    fn wp_pte(&mut self, page: u32, mm: u32, ctx: &Ctx) -> Verdict;
    /// Write fault on `mm`'s PMD.
    fn wp_pmd(&mut self, mm: u32, ctx: &Ctx) -> Verdict;
    /// "Maybe mapped shared" (`None`: not expressible).
    fn maybe_shared(&mut self, ctx: &Ctx) -> Option<bool>;
    /// `PM_MMAP_EXCLUSIVE` of a mapped page.
    fn pm_exclusive(&mut self, page: u32, ctx: &Ctx) -> Option<bool>;
    /// The scheme has flagged the folio partially mapped (sticky until it is freed).
    /// `base_flag`: the 7.3 model's `PG_partially_mapped` after the event.
    fn partially_mapped(&self, base_flag: bool) -> Option<bool>;
    /// Metadata bytes for a folio of `order` (after its stream: `exact` grows).
    fn metadata_bytes(&self, order: u32) -> u64;
    /// `(atomic RMWs, lock acquisitions)` of one mapping change.
    fn cost(&self, d: &Delta, order: u32) -> (u64, u64);
    /// Whether the scheme is defined for folios of `order`.
    fn expresses(&self, _order: u32) -> bool {
        true
    }
}

/// Pages of a delta.
pub fn delta_pages(d: &Delta) -> u64 {
    match d {
        Delta::Pte { nr, .. } => *nr as u64,
        Delta::Pmd { .. } => 1,
    }
}

/// The 7.3 large-folio PTE reuse rule (`__wp_can_reuse_large_anon_folio`, spec §7.4)
/// with the ownership answer and the mapping count supplied by a scheme: the policy is
/// 7.3's, only the knowledge differs.
pub fn reuse_large_pte(f: &Facts, mappings: i64, maybe_shared: bool) -> Verdict {
    if !f.anon || f.ksm {
        return Verdict::Copy;
    }
    if f.pae {
        return Verdict::Reuse;
    }
    if mappings <= 1 || maybe_shared {
        return Verdict::Copy;
    }
    let mut refs = f.refcount as i64;
    if f.swapcache {
        if f.cow.trylock_fails != 0 {
            return Verdict::Copy;
        }
        if f.cow.swap_free_succeeds != 0 {
            refs -= 1 << f.order;
        }
    }
    if mappings != refs {
        return Verdict::Copy;
    }
    Verdict::Reuse
}

/// Exact ground truth helpers for reports.
pub fn truth_shared(x: &Exact) -> bool {
    x.mms_mapping() > 1
}
