//! `rfc-2026`: "[PATCH RFC 00/13] mm/rmap: support arbitrary folio mappings" (David
//! Hildenbrand, 12 Apr 2026). Per-page mapcounts, `_nr_pages_mapped` and
//! `CONFIG_PAGE_MAPCOUNT` are gone; `_entire_mapcount` becomes a total of mapped pages
//! (a PMD adds 512, a PTE 1); MM-id owner tracking stays (so CoW decisions are 7.3's).
//! A folio is detected partially mapped on removal when the average per-page mapcount
//! (total / nr_pages) is below 1 (the cover letter: "the kernel now always behaves like
//! CONFIG_NO_PAGE_MAPCOUNT currently does"; replays confirm: its detection equals 7.3
//! nopmc's on every trace so far). `PM_MMAP_EXCLUSIVE` comes from
//! `folio_maybe_mapped_shared()`.
//!
//! The cover letter names two misses of the detection, reproduced by the tests: (A) fork,
//! then both processes unmap (the same) half of the THP: total = 2 × 256 = 512; (B) fork
//! 511 children, every process unmaps all but one page: total = 512 × 1.
//!
//! Metadata: `_large_mapcount`, total, `_mm_ids`, two slot counts: 24 B. Cost: 2 atomics
//! (large mapcount, total) and one `_mm_ids` lock per change.

use crate::delta::Delta;
use crate::scheme::{reuse_large_pte, Ctx, Scheme, Verdict};
use crate::schemes::slots::{signed, Slots};

/// The RFC's accounting.
pub struct Rfc2026 {
    slots: Slots,
    total: i64,
    nr: i64,
    flagged: bool,
}

impl Default for Rfc2026 {
    fn default() -> Self {
        Rfc2026 {
            slots: Slots::new(2, foliomap::types::Mode::Nopmc),
            total: 0,
            nr: 1,
            flagged: false,
        }
    }
}

impl Scheme for Rfc2026 {
    fn name(&self) -> String {
        "rfc-2026".into()
    }
    fn reset(&mut self, order: u32) {
        *self = Rfc2026 {
            nr: 1 << order,
            ..Rfc2026::default()
        };
    }
    fn map(&mut self, d: &Delta) {
        let (diff, mm) = signed(d);
        self.slots.change(diff, mm);
        let pages = match d {
            Delta::Pte { nr, .. } => *nr as i64,
            Delta::Pmd { .. } => 512,
        };
        if diff > 0 {
            self.total += pages;
        } else {
            self.total -= pages;
            // average per-page mapcount < 1 while mapped
            if self.total > 0 && self.total < self.nr {
                self.flagged = true;
            }
        }
    }
    fn wp_pte(&mut self, _page: u32, _mm: u32, ctx: &Ctx) -> Verdict {
        reuse_large_pte(&ctx.facts, self.slots.mappings(), self.slots.shared())
    }
    fn wp_pmd(&mut self, _mm: u32, ctx: &Ctx) -> Verdict {
        ctx.kernel
    }
    fn maybe_shared(&mut self, _ctx: &Ctx) -> Option<bool> {
        Some(self.slots.shared())
    }
    fn pm_exclusive(&mut self, _page: u32, _ctx: &Ctx) -> Option<bool> {
        Some(!self.slots.shared())
    }
    fn partially_mapped(&self, _base_flag: bool) -> Option<bool> {
        Some(self.flagged)
    }
    fn metadata_bytes(&self, _order: u32) -> u64 {
        24
    }
    fn cost(&self, _d: &Delta, _order: u32) -> (u64, u64) {
        (2, 1)
    }
}
