//! `linux-7.3`: the model itself. In the trace's mode its answers are the model's (which
//! the fidelity check holds to the recorded outcomes); `linux-7.3-<other mode>` runs a
//! second model in the other configuration on the same events.
//!
//! Metadata: pmc 4 B per page (`_mapcount`) + 28 B (`_large_mapcount`,
//! `_entire_mapcount`, `_nr_pages_mapped`, `_mm_ids`, `_mm_id_mapcount[2]`); nopmc 24 B.
//! Cost per change of a large folio: pmc PTE `nr` (page) + 2 (`_nr_pages_mapped`,
//! `_large_mapcount`) atomics, PMD 3; nopmc PTE 1, PMD 2; one `_mm_ids` lock each.

use foliomap::query;
use foliomap::trace::{TraceEvent, TraceOp};
use foliomap::types::{CowDecision, Mode, FOLIO_PARTIALLY_MAPPED};

use crate::delta::Delta;
use crate::model::{Model, Outcome};
use crate::scheme::{Ctx, Scheme, Verdict};

/// The 7.3 model as a scheme.
pub struct Linux73 {
    mode: Mode,
    own: Option<Model>,
    /// The own model refused an event (the other configuration cannot follow).
    pub diverged: bool,
}

impl Linux73 {
    /// `own`: run a model of `mode` of its own (the other configuration).
    pub fn new(mode: Mode, own: bool) -> Linux73 {
        Linux73 {
            mode,
            own: own.then(|| Model::new(mode, 0)),
            diverged: false,
        }
    }

    fn own_verdict(&self, ev: TraceEvent, ctx: &Ctx) -> Verdict {
        let Some(m) = &self.own else {
            return ctx.kernel;
        };
        if self.diverged {
            return Verdict::Undefined;
        }
        let mut m = m.clone();
        let mut out = Outcome::None;
        match (m.apply(&ev, &mut out), out) {
            (Ok(()), Outcome::Cow(c)) if c.decision == CowDecision::Reuse as u32 => Verdict::Reuse,
            (Ok(()), Outcome::Cow(_)) => Verdict::Copy,
            _ => Verdict::Undefined,
        }
    }
}

impl Scheme for Linux73 {
    fn name(&self) -> String {
        match (&self.own, self.mode) {
            (None, _) => "linux-7.3".into(),
            (Some(_), Mode::Pmc) => "linux-7.3-pmc".into(),
            (Some(_), Mode::Nopmc) => "linux-7.3-nopmc".into(),
        }
    }
    fn reset(&mut self, order: u32) {
        if let Some(m) = &mut self.own {
            *m = Model::new(self.mode, order);
        }
        self.diverged = false;
    }
    fn restore(&mut self, refcount: i32, pincount: i32, flags: u32) {
        if let Some(m) = &mut self.own {
            m.folio.refcount = refcount;
            m.folio.pincount = pincount;
            m.folio.flags = flags;
        }
    }
    fn map(&mut self, _d: &Delta) {}
    fn after_event(&mut self, ev: &TraceEvent) {
        if let Some(m) = &mut self.own {
            let mut out = Outcome::None;
            if !self.diverged && ev.op != TraceOp::Init as u16 && m.apply(ev, &mut out).is_err() {
                self.diverged = true;
            }
        }
    }
    fn wp_pte(&mut self, page: u32, mm: u32, ctx: &Ctx) -> Verdict {
        let ev = TraceEvent {
            op: TraceOp::WpFaultPte as u16,
            first: page as u16,
            nr: 1,
            mm,
            facts: ctx.facts.cow,
            ..TraceEvent::default()
        };
        self.own_verdict(ev, ctx)
    }
    fn wp_pmd(&mut self, mm: u32, ctx: &Ctx) -> Verdict {
        let ev = TraceEvent {
            op: TraceOp::WpFaultPmd as u16,
            mm,
            facts: ctx.facts.cow,
            ..TraceEvent::default()
        };
        self.own_verdict(ev, ctx)
    }
    fn maybe_shared(&mut self, ctx: &Ctx) -> Option<bool> {
        Some(match &mut self.own {
            Some(m) => query::maybe_mapped_shared(&m.store()),
            None => ctx.base_maybe_shared,
        })
    }
    fn pm_exclusive(&mut self, page: u32, ctx: &Ctx) -> Option<bool> {
        Some(match &mut self.own {
            Some(m) if page < m.folio.nr_pages() => query::pm_mmap_exclusive(&m.store(), page),
            Some(_) => false,
            None => ctx.base_pm_exclusive,
        })
    }
    fn partially_mapped(&self, base_flag: bool) -> Option<bool> {
        Some(match &self.own {
            Some(m) => m.folio.flags & FOLIO_PARTIALLY_MAPPED != 0,
            None => base_flag,
        })
    }
    fn metadata_bytes(&self, order: u32) -> u64 {
        match self.mode {
            Mode::Pmc => 28 + 4 * (1u64 << order),
            Mode::Nopmc => 24,
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
