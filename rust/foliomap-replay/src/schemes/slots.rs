//! `slots-N`: 7.3's MM-id owner tracking (spec §2) generalised to `N` slots; N = 2 is
//! 7.3 (the runner's tests hold slots-2 to the model's decisions). A mm takes the first
//! free slot; taking one while other mappings exist sets "maybe shared" (S); a mm with
//! no free slot stays untracked; on a removal that releases a slot or is untracked, S is
//! cleared when one slot accounts for every mapping.
//!
//! Partially-mapped detection and PMD faults are 7.3's (slots do not change them).
//! Metadata: 8 B (`_large_mapcount`, `_entire_mapcount`) + 8 B per slot (id, count), plus
//! pmc's 4 B per page + `_nr_pages_mapped`. Cost: as linux-7.3 in the trace's mode.

use foliomap::types::Mode;

use crate::delta::Delta;
use crate::scheme::{reuse_large_pte, Ctx, Scheme, Verdict};

/// N owner slots.
pub struct Slots {
    n: usize,
    mode: Mode,
    ids: Vec<u32>,
    cnt: Vec<i64>,
    lm: i64,
    shared: bool,
}

impl Slots {
    /// `n` slots, partially-mapped detection of `mode`.
    pub fn new(n: usize, mode: Mode) -> Slots {
        Slots {
            n,
            mode,
            ids: vec![0; n],
            cnt: vec![0; n],
            lm: 0,
            shared: false,
        }
    }

    /// Adds (`diff > 0`) or removes mappings of `mm`.
    pub fn change(&mut self, diff: i64, mm: u32) {
        let owned = self.ids.iter().position(|&id| id == mm);
        if diff > 0 {
            self.lm += diff;
            if let Some(i) = owned {
                self.cnt[i] += diff;
            } else if let Some(i) = self.ids.iter().position(|&id| id == 0) {
                self.ids[i] = mm;
                self.cnt[i] = diff;
                if self.lm != diff {
                    self.shared = true;
                }
            } else {
                // no free slot: other mms certainly map it (with N = 2, S is already set)
                self.shared = true;
            }
            return;
        }
        self.lm += diff;
        if let Some(i) = owned {
            self.cnt[i] += diff;
            if self.cnt[i] > 0 {
                return; // the mm keeps mappings: S is not re-evaluated
            }
            // released, also on underflow (mappings added while untracked)
            self.cnt[i] = 0;
            self.ids[i] = 0;
        }
        // an untracked mm's removal re-evaluates S too (spec §2.3)
        if self
            .cnt
            .iter()
            .zip(&self.ids)
            .any(|(&c, &id)| id != 0 && c == self.lm)
            || self.lm == 0
        {
            self.shared = false;
        }
    }

    /// `folio_maybe_mapped_shared`: mapped more than once and S set.
    pub fn shared(&self) -> bool {
        self.lm > 1 && self.shared
    }

    /// Logical mapcount (all mappings).
    pub fn mappings(&self) -> i64 {
        self.lm
    }
}

/// Mappings a delta adds (+) or removes (−), and its mm.
pub fn signed(d: &Delta) -> (i64, u32) {
    match *d {
        Delta::Pte { mm, nr, add, .. } => (if add { nr as i64 } else { -(nr as i64) }, mm),
        Delta::Pmd { mm, add } => (if add { 1 } else { -1 }, mm),
    }
}

impl Scheme for Slots {
    fn name(&self) -> String {
        format!("slots-{}", self.n)
    }
    fn reset(&mut self, _order: u32) {
        *self = Slots::new(self.n, self.mode);
    }
    fn map(&mut self, d: &Delta) {
        let (diff, mm) = signed(d);
        self.change(diff, mm);
    }
    fn wp_pte(&mut self, _page: u32, _mm: u32, ctx: &Ctx) -> Verdict {
        reuse_large_pte(&ctx.facts, self.lm, self.shared)
    }
    fn wp_pmd(&mut self, _mm: u32, ctx: &Ctx) -> Verdict {
        ctx.kernel
    }
    fn maybe_shared(&mut self, _ctx: &Ctx) -> Option<bool> {
        Some(self.shared())
    }
    fn pm_exclusive(&mut self, _page: u32, ctx: &Ctx) -> Option<bool> {
        Some(match self.mode {
            Mode::Pmc => ctx.base_pm_exclusive,
            Mode::Nopmc => !self.shared(),
        })
    }
    fn partially_mapped(&self, base_flag: bool) -> Option<bool> {
        Some(base_flag)
    }
    fn metadata_bytes(&self, order: u32) -> u64 {
        let base = 8 + 8 * self.n as u64;
        match self.mode {
            Mode::Pmc => base + 4 + 4 * (1u64 << order),
            Mode::Nopmc => base,
        }
    }
    fn cost(&self, d: &Delta, _order: u32) -> (u64, u64) {
        match (self.mode, d) {
            (Mode::Pmc, Delta::Pte { nr, .. }) => (*nr as u64 + 2, 1),
            (Mode::Pmc, Delta::Pmd { .. }) => (3, 1),
            (Mode::Nopmc, Delta::Pte { .. }) => (1, 1),
            (Mode::Nopmc, Delta::Pmd { .. }) => (2, 1),
        }
    }
}
