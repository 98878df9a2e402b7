//! `precise-2016`: the 2016 fix of the 2015 design (Andrea Arcangeli, "calculate the
//! mapcount correctly for THP pages during WP faults"): `page_trans_huge_mapcount()`
//! returns the largest mapcount of any subpage, and a write fault reuses (PTE: the page;
//! PMD: the THP) only when it is at most 1 (PMD: exactly 1). Everything else, and what it
//! cannot express, as `thp-2015`.

use foliomap::kernel::PMD_ORDER;

use crate::delta::Delta;
use crate::scheme::{Ctx, Scheme, Verdict};
use crate::schemes::thp2015::Compound;

/// The 2016 scheme.
#[derive(Default)]
pub struct Precise2016 {
    s: Compound,
}

impl Scheme for Precise2016 {
    fn name(&self) -> String {
        "precise-2016".into()
    }
    fn reset(&mut self, order: u32) {
        self.s = Compound::new(order);
    }
    fn map(&mut self, d: &Delta) {
        self.s.map(d);
    }
    fn wp_pte(&mut self, _page: u32, _mm: u32, ctx: &Ctx) -> Verdict {
        if !ctx.facts.anon || ctx.facts.ksm {
            Verdict::Copy
        } else if self.s.c.max_page() <= 1 {
            Verdict::Reuse
        } else {
            Verdict::Copy
        }
    }
    fn wp_pmd(&mut self, _mm: u32, _ctx: &Ctx) -> Verdict {
        if self.s.c.max_page() == 1 {
            Verdict::Reuse
        } else {
            Verdict::Copy
        }
    }
    fn maybe_shared(&mut self, _ctx: &Ctx) -> Option<bool> {
        None
    }
    fn pm_exclusive(&mut self, page: u32, _ctx: &Ctx) -> Option<bool> {
        Some(self.s.c.page(page) == 1)
    }
    fn partially_mapped(&self, _base_flag: bool) -> Option<bool> {
        Some(self.s.flagged)
    }
    fn metadata_bytes(&self, order: u32) -> u64 {
        4 + 4 * (1u64 << order)
    }
    fn cost(&self, d: &Delta, _order: u32) -> (u64, u64) {
        self.s.cost(d)
    }
    fn expresses(&self, order: u32) -> bool {
        order == PMD_ORDER
    }
}
