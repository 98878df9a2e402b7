//! `thp-2015`: the THP refcounting redesign (Linux 4.5, Kirill Shutemov): PMD-size THPs
//! only, a compound mapcount for PMD mappings, per-page `_mapcount` for PTE mappings and
//! `PageDoubleMap` when a THP is mapped by PMD and PTEs at once (then every subpage
//! carries one extra count, which `page_mapcount()` subtracts: the count it reports is
//! the page's exact number of mappings). No `PageAnonExclusive`, no MM ids: a write
//! fault reuses a page iff `page_mapcount(page) == 1` (PMD: of the head page), with no
//! refcount check. Partially mapped: `deferred_split_huge_page()` whenever a subpage's
//! last PTE goes while the THP is still mapped.
//!
//! Cannot express: mTHP (orders 1-8: counted as undefined), "maybe mapped shared"
//! (no such query then). Metadata: 4 B per page + 4 B. Cost: PTE `nr` atomics; PMD 1,
//! plus one per subpage while `PageDoubleMap` is set, and 512 when it gets set.

use foliomap::kernel::PMD_ORDER;

use crate::delta::Delta;
use crate::scheme::{Ctx, Scheme, Verdict};
use crate::schemes::pages::PageCounts;

/// The per-page THP state of 2015/2016.
#[derive(Default)]
pub struct Compound {
    /// The counts.
    pub c: PageCounts,
    /// `PageDoubleMap`.
    pub double_map: bool,
    /// Queued for deferred split while still mapped.
    pub flagged: bool,
    /// The last change set `PageDoubleMap`.
    pub just_doubled: bool,
}

impl Compound {
    /// A fresh THP of `order`.
    pub fn new(order: u32) -> Compound {
        Compound {
            c: PageCounts::new(1 << order),
            ..Compound::default()
        }
    }
    /// Applies a change.
    pub fn map(&mut self, d: &Delta) {
        let emptied = self.c.apply(d);
        self.just_doubled = false;
        if self.c.pmd > 0 && self.c.pte_pages > 0 && !self.double_map {
            self.double_map = true;
            self.just_doubled = true;
        }
        if self.c.pmd == 0 {
            self.double_map = false;
        }
        if emptied > 0 && self.c.mapped() {
            self.flagged = true;
        }
    }
    /// The cost of a change.
    pub fn cost(&self, d: &Delta) -> (u64, u64) {
        let extra = if self.just_doubled { 512 } else { 0 };
        match d {
            Delta::Pte { nr, .. } => (*nr as u64 + extra, 0),
            Delta::Pmd { .. } => (1 + if self.double_map { 512 } else { 0 } + extra, 0),
        }
    }
}

/// The 2015 scheme.
#[derive(Default)]
pub struct Thp2015 {
    s: Compound,
}

impl Scheme for Thp2015 {
    fn name(&self) -> String {
        "thp-2015".into()
    }
    fn reset(&mut self, order: u32) {
        self.s = Compound::new(order);
    }
    fn map(&mut self, d: &Delta) {
        self.s.map(d);
    }
    fn wp_pte(&mut self, page: u32, _mm: u32, ctx: &Ctx) -> Verdict {
        if !ctx.facts.anon || ctx.facts.ksm {
            Verdict::Copy
        } else if self.s.c.page(page) == 1 {
            Verdict::Reuse
        } else {
            Verdict::Copy
        }
    }
    fn wp_pmd(&mut self, _mm: u32, _ctx: &Ctx) -> Verdict {
        if self.s.c.page(0) == 1 {
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
