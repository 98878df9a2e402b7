//! `pre-6.15`: before MM-id owner tracking (Linux 6.11-6.14): per-page `_mapcount`,
//! `_large_mapcount`, `_entire_mapcount`, `_nr_pages_mapped`; no owner slots. A write
//! fault on a page of a PTE-mapped large anon folio copies unless the page is
//! `PageAnonExclusive`; PMD faults as 7.3 (refcount). "Maybe shared" is
//! `folio_likely_mapped_shared()`: mapcount <= 1 exclusive; a PMD or more mappings than
//! pages shared; else the first page's mapcount decides. Partially mapped: detected on
//! removal by `_nr_pages_mapped` (as 7.3 pmc).
//!
//! Metadata: 4 B per page + 12 B. Cost: PTE `nr` + 2 atomics, PMD 3, no lock.

use crate::delta::Delta;
use crate::scheme::{Ctx, Scheme, Verdict};
use crate::schemes::pages::PageCounts;

/// The pre-6.15 scheme.
#[derive(Default)]
pub struct Pre615 {
    c: PageCounts,
    flagged: bool,
}

impl Scheme for Pre615 {
    fn name(&self) -> String {
        "pre-6.15".into()
    }
    fn reset(&mut self, order: u32) {
        *self = Pre615 {
            c: PageCounts::new(1 << order),
            flagged: false,
        };
    }
    fn map(&mut self, d: &Delta) {
        let removal = matches!(
            d,
            Delta::Pte { add: false, .. } | Delta::Pmd { add: false, .. }
        );
        self.c.apply(d);
        if removal && self.c.partial() {
            self.flagged = true;
        }
    }
    fn wp_pte(&mut self, _page: u32, _mm: u32, ctx: &Ctx) -> Verdict {
        let f = &ctx.facts;
        if f.anon && !f.ksm && f.pae {
            Verdict::Reuse
        } else {
            Verdict::Copy
        }
    }
    fn wp_pmd(&mut self, _mm: u32, ctx: &Ctx) -> Verdict {
        ctx.kernel
    }
    fn maybe_shared(&mut self, _ctx: &Ctx) -> Option<bool> {
        let c = &self.c;
        Some(if c.lm <= 1 {
            false
        } else if c.pmd > 0 || c.lm > c.pte.len() as i64 {
            true
        } else {
            c.pte.first().copied().unwrap_or(0) > 1
        })
    }
    fn pm_exclusive(&mut self, page: u32, _ctx: &Ctx) -> Option<bool> {
        Some(self.c.page(page) == 1)
    }
    fn partially_mapped(&self, _base_flag: bool) -> Option<bool> {
        Some(self.flagged)
    }
    fn metadata_bytes(&self, order: u32) -> u64 {
        12 + 4 * (1u64 << order)
    }
    fn cost(&self, d: &Delta, _order: u32) -> (u64, u64) {
        match d {
            Delta::Pte { nr, .. } => (*nr as u64 + 2, 0),
            Delta::Pmd { .. } => (3, 0),
        }
    }
}
