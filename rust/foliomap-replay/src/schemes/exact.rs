//! `exact`: per-mm, per-page exact mapcounts, the ideal. It reuses whenever no other mm
//! maps the folio and no reference other than the mappings exists (7.3's policy with
//! perfect knowledge).
//!
//! Metadata: per mm that ever mapped the folio at once (peak), a 4-byte count per page
//! plus 8 bytes (mm id, total). Cost: PTE `nr` atomics, PMD 1, one lock (the per-folio
//! table) per change.

use crate::delta::Delta;
use crate::exact::Exact;
use crate::scheme::{reuse_large_pte, Ctx, Scheme, Verdict};

/// The exact scheme.
#[derive(Default)]
pub struct ExactScheme {
    x: Exact,
}

impl Scheme for ExactScheme {
    fn name(&self) -> String {
        "exact".into()
    }
    fn reset(&mut self, order: u32) {
        self.x = Exact::new(1 << order);
    }
    fn map(&mut self, d: &Delta) {
        self.x.apply(d);
    }
    fn wp_pte(&mut self, _page: u32, mm: u32, ctx: &Ctx) -> Verdict {
        reuse_large_pte(&ctx.facts, self.x.mappings() as i64, self.x.other_maps(mm))
    }
    fn wp_pmd(&mut self, mm: u32, ctx: &Ctx) -> Verdict {
        let f = &ctx.facts;
        if f.pae {
            return Verdict::Reuse;
        }
        let mut refs = f.refcount as i64;
        if f.swapcache && f.cow.swap_free_succeeds != 0 {
            refs -= 1 << f.order;
        }
        if self.x.other_maps(mm) || refs != self.x.mappings() as i64 {
            Verdict::Copy
        } else {
            Verdict::Reuse
        }
    }
    fn maybe_shared(&mut self, _ctx: &Ctx) -> Option<bool> {
        Some(self.x.mms_mapping() > 1)
    }
    fn pm_exclusive(&mut self, page: u32, _ctx: &Ctx) -> Option<bool> {
        Some(self.x.page_mapcount(page) == 1)
    }
    fn partially_mapped(&self, _base_flag: bool) -> Option<bool> {
        Some(self.x.partially_mapped())
    }
    fn metadata_bytes(&self, order: u32) -> u64 {
        self.x.peak_mms.max(1) as u64 * (4 * (1u64 << order) + 8)
    }
    fn cost(&self, d: &Delta, _order: u32) -> (u64, u64) {
        (crate::scheme::delta_pages(d), 1)
    }
}
