//! The Linux 7.3 model (the `foliomap` crate itself) driven by trace events: each event
//! runs the same `foliomap::ops` / `rmap` / `query` function the recorder's call site
//! ran, and the outcome is encoded the way the recorder encodes it, for the fidelity
//! check.

use foliomap::kernel::PMD_ORDER;
use foliomap::ops;
use foliomap::query;
use foliomap::rmap::{self, Kind};
use foliomap::store::{FolioMut, FolioStore};
use foliomap::trace::{
    self, TraceEvent, TraceOp, TraceState, TRACE_ARG_EXCLUSIVE, TRACE_ARG_FREEZE,
    TRACE_ARG_PARTIALLY_MAPPED, TRACE_ARG_SRC_HAS_PINNED, TRACE_ARG_WRITABLE,
    TRACE_OUT_ANON_EXCLUSIVE, TRACE_OUT_DEFERRED_SPLIT, TRACE_OUT_DUP_BUSY,
    TRACE_OUT_FREEZE_FAILED, TRACE_OUT_FROZEN, TRACE_OUT_LRU_DRAINED, TRACE_OUT_MAYBE_SHARED,
    TRACE_OUT_NEWLY_PARTIALLY_MAPPED, TRACE_OUT_PARTIALLY_MAPPED, TRACE_OUT_PMD_SHARED,
    TRACE_OUT_PMD_SPLIT, TRACE_OUT_PM_MMAP_EXCLUSIVE, TRACE_OUT_SWAPCACHE_FREED,
    TRACE_OUT_UNOBSERVED,
};
use foliomap::types::{
    CowDecision, CowOutcome, Folio, ForkOutcome, MigrateUnmapOutcome, MigrationEntry, Mode, Page,
    RmapOutcome, SplitPmdOutcome, Status,
};

/// What the model computed for one event (the full outcome, before encoding).
#[derive(Clone, Copy, Debug, Default)]
pub enum Outcome {
    /// No outcome (flags, references, identity events).
    #[default]
    None,
    /// An rmap primitive, fault, zap, restore.
    Rmap(RmapOutcome),
    /// A fork batch.
    Fork(ForkOutcome),
    /// A PMD split.
    Split(SplitPmdOutcome),
    /// A migration unmap.
    Migrate(MigrateUnmapOutcome),
    /// A write fault.
    Cow(CowOutcome),
    /// A kernel return value (dup/share, split check/freeze, migrate move).
    Ret(i32),
    /// `deferred_split_folio`: newly partially mapped.
    Deferred(bool),
}

/// One folio's state in the model.
#[derive(Clone, Debug)]
pub struct Model {
    /// The header.
    pub folio: Folio,
    /// The pages (`1 << order`).
    pub pages: Vec<Page>,
}

impl Model {
    /// A fresh folio as `fm_folio_init` leaves it.
    pub fn new(mode: Mode, order: u32) -> Model {
        let folio = Folio::new(mode, order.min(PMD_ORDER), 0).expect("order clamped to 0..=9");
        Model {
            pages: vec![Page::INIT; folio.nr_pages() as usize],
            folio,
        }
    }

    /// This model as `Model::new(mode, order)` leaves it, keeping the page storage.
    pub fn reset(&mut self, mode: Mode, order: u32) {
        self.folio = Folio::new(mode, order.min(PMD_ORDER), 0).expect("order clamped to 0..=9");
        self.pages.clear();
        self.pages
            .resize(self.folio.nr_pages() as usize, Page::INIT);
    }

    /// This model in a recorded state's header (`pages` as `reset` leaves them: the
    /// caller fills them from the state's page records).
    pub fn set_state(&mut self, mode: Mode, st: &TraceState) {
        self.reset(mode, st.order as u32);
        let f = &mut self.folio;
        f.flags = st.flags as u32;
        f.refcount = st.refcount;
        f.pincount = st.pincount;
        f.large_mapcount = st.large_mapcount;
        f.entire_mapcount = st.entire_mapcount;
        f.nr_pages_mapped = st.nr_pages_mapped;
        f.mm_id_mapcount = st.mm_id_mapcount;
        f.mm_ids = st.mm_ids;
    }

    /// The pure core's store over this folio.
    pub fn store(&mut self) -> FolioMut<'_> {
        // The header is valid by construction (Folio::new); page storage matches order.
        FolioMut::new(&mut self.folio, &mut self.pages).expect("a Model is a valid folio")
    }

    /// Runs the event's operation on the model; `out` = its outcome. (An out-parameter:
    /// returning the 152-byte outcome cost two memcpy calls per event.)
    pub fn apply(&mut self, ev: &TraceEvent, out: &mut Outcome) -> Result<(), Status> {
        let op = TraceOp::from_raw(ev.op).ok_or(Status::BadArgument)?;
        let (first, nr, mm) = (ev.first as u32, ev.nr as u32, ev.mm);
        let excl = ev.flags & TRACE_ARG_EXCLUSIVE != 0;
        let pinned = ev.flags & TRACE_ARG_SRC_HAS_PINNED != 0;
        let writable = ev.flags & TRACE_ARG_WRITABLE != 0;
        let entry = || MigrationEntry::from_raw(ev.arg);
        let mode = self.folio.mode();
        let order = self.folio.order;
        if op == TraceOp::Init {
            self.reset(mode, ev.order as u32);
            *out = Outcome::None;
            return Ok(());
        }
        let mut s = self.store();
        use Outcome as O;
        match op {
            TraceOp::Init => {} // reset above: it replaces the whole model
            TraceOp::UpdateFlags => {
                s.set_flags(ev.arg);
                s.clear_flags(ev.mm);
                *out = O::None;
            }
            TraceOp::AddNewAnon => *out = O::Rmap(rmap::add_new_anon(&mut s, mm, excl)?),
            TraceOp::AddAnonPtes => {
                *out = O::Rmap(rmap::add_ptes(&mut s, Kind::Anon, first, nr, mm, excl)?)
            }
            TraceOp::AddAnonPmd => *out = O::Rmap(rmap::add_pmd(&mut s, Kind::Anon, mm, excl)?),
            TraceOp::AddFilePtes => {
                *out = O::Rmap(rmap::add_ptes(&mut s, Kind::File, first, nr, mm, false)?)
            }
            TraceOp::AddFilePmd => *out = O::Rmap(rmap::add_pmd(&mut s, Kind::File, mm, false)?),
            TraceOp::RemovePtes => *out = O::Rmap(rmap::remove_ptes(&mut s, first, nr, mm)?),
            TraceOp::RemovePmd => *out = O::Rmap(rmap::remove_pmd(&mut s, mm)?),
            TraceOp::TryDupAnonPtes => {
                *out = O::Rmap(rmap::try_dup_anon_ptes(&mut s, first, nr, mm, pinned)?)
            }
            TraceOp::TryDupAnonPmd => *out = O::Rmap(rmap::try_dup_anon_pmd(&mut s, mm, pinned)?),
            TraceOp::DupFilePtes => *out = O::Rmap(rmap::dup_file_ptes(&mut s, first, nr, mm)?),
            TraceOp::TryShareAnon => *out = O::Ret(rmap::try_share_anon(&mut s, first)?),
            TraceOp::DeferredSplit => {
                *out = O::Deferred(rmap::deferred_split(
                    &mut s,
                    ev.flags & TRACE_ARG_PARTIALLY_MAPPED != 0,
                ))
            }
            TraceOp::FaultAnon => *out = O::Rmap(ops::fault_anon(&mut s, mm)?),
            TraceOp::ForkPtes => *out = O::Fork(ops::fork_ptes(&mut s, first, nr, mm, pinned)?),
            TraceOp::ForkPmd => *out = O::Fork(ops::fork_pmd(&mut s, ev.arg, mm, pinned)?),
            TraceOp::ZapPtes => *out = O::Rmap(ops::zap_ptes(&mut s, first, nr, mm)?),
            TraceOp::ZapPmd => *out = O::Rmap(ops::zap_pmd(&mut s, mm)?),
            TraceOp::SplitPmd => {
                *out = O::Split(ops::split_pmd(
                    &mut s,
                    mm,
                    ev.flags & TRACE_ARG_FREEZE != 0,
                    writable,
                )?)
            }
            TraceOp::MigrateUnmapPte => {
                *out = O::Migrate(ops::migrate_unmap_pte(&mut s, first, mm, writable)?)
            }
            TraceOp::MigrateUnmapPmd => {
                *out = O::Migrate(ops::migrate_unmap_pmd(&mut s, mm, writable)?)
            }
            TraceOp::MigrateRestorePte => {
                *out = O::Rmap(ops::migrate_restore_pte(&mut s, first, mm, entry()?)?)
            }
            TraceOp::MigrateRestorePmd => {
                *out = O::Rmap(ops::migrate_restore_pmd(&mut s, mm, entry()?)?)
            }
            TraceOp::MigrateMove => {
                // The destination is another folio's stream (it starts with MIGRATE_MOVE_IN
                // and its state); here a scratch one receives the move.
                let mut dst = Model::new(mode, order);
                *out = O::Ret(ops::migrate_move(&mut s, &mut dst.store())?)
            }
            TraceOp::SplitCheck => *out = O::Ret(ops::split_check(&s, ev.arg, ev.nr as i32)?),
            TraceOp::SplitFreeze => *out = O::Ret(ops::split_freeze(&mut s)?),
            TraceOp::WpFaultPte => *out = O::Cow(ops::wp_fault_pte(&mut s, first, mm, &ev.facts)?),
            TraceOp::WpFaultPmd => *out = O::Cow(ops::wp_fault_pmd(&mut s, mm, &ev.facts)?),
            TraceOp::Pin | TraceOp::Unpin => {
                ops::pin(&mut s, op == TraceOp::Pin)?;
                *out = O::None;
            }
            TraceOp::Get => {
                ops::get_refs(&mut s, ev.arg as i32)?;
                *out = O::None;
            }
            TraceOp::Put => {
                ops::put_refs(&mut s, ev.arg as i32)?;
                *out = O::None;
            }
            TraceOp::SwapcacheAdd => {
                ops::swapcache_add(&mut s)?;
                *out = O::None;
            }
            TraceOp::Query
            | TraceOp::Retire
            | TraceOp::FolioSplit
            | TraceOp::MigrateMoveIn
            | TraceOp::State
            | TraceOp::StatePages => *out = O::None,
        }
        Ok(())
    }

    /// The event as the recorder would have written it for this outcome: the recorded
    /// arguments with the outcome fields of the model (`digest` as a trace of `version`
    /// carries it).
    pub fn expected(&mut self, version: u32, rec: &TraceEvent, out: &Outcome) -> TraceEvent {
        let mut e = TraceEvent {
            ret: 0,
            decision: 0,
            reason: 0,
            out_flags: 0,
            nr_pages: 0,
            nr_other: 0,
            ..*rec
        };
        e.status = 0;
        e.out_flags = rec.out_flags & TRACE_OUT_UNOBSERVED;
        let rmap = |e: &mut TraceEvent, o: &RmapOutcome| {
            e.ret = o.ret;
            e.nr_pages = o.nr_pages as i16;
            e.nr_other = o.nr_pmdmapped as i16;
            e.out_flags |= bits(o);
        };
        match out {
            Outcome::None | Outcome::Deferred(_) => {}
            Outcome::Rmap(o) => rmap(&mut e, o),
            Outcome::Ret(r) => e.ret = *r,
            Outcome::Fork(o) => {
                e.nr_pages = o.pages_shared as i16;
                e.nr_other = o.pages_copied as i16;
                e.out_flags |= flag(o.pmd_shared, TRACE_OUT_PMD_SHARED)
                    | flag(o.pmd_split, TRACE_OUT_PMD_SPLIT)
                    | flag(o.dup_busy != 0, TRACE_OUT_DUP_BUSY);
            }
            Outcome::Split(o) => {
                rmap(&mut e, &o.remove);
                e.nr_other = o.add.nr_pages as i16;
                e.out_flags |= flag(o.add.partially_mapped, TRACE_OUT_PARTIALLY_MAPPED)
                    | flag(o.frozen, TRACE_OUT_FROZEN)
                    | flag(o.freeze_failed, TRACE_OUT_FREEZE_FAILED);
                if o.frozen {
                    e.decision = o.entry as u8;
                }
            }
            Outcome::Migrate(o) => {
                rmap(&mut e, &o.rmap);
                e.ret = o.ret;
                e.decision = o.entry as u8;
            }
            Outcome::Cow(o) => {
                e.decision = o.decision as u8;
                e.reason = o.reason as u8;
                if o.decision == CowDecision::Copy as u32
                    || o.decision == CowDecision::Fallback as u32
                {
                    rmap(&mut e, &o.rmap);
                }
                e.out_flags |= flag(o.swapcache_freed, TRACE_OUT_SWAPCACHE_FREED)
                    | flag(o.lru_drained, TRACE_OUT_LRU_DRAINED)
                    | flag(o.pmd_split, TRACE_OUT_PMD_SPLIT);
            }
        }
        let s = self.store();
        if rec.op == TraceOp::Query as u16 {
            let k = rec.first as u32;
            if k < s.nr_pages() {
                e.out_flags |= flag(query::maybe_mapped_shared(&s), TRACE_OUT_MAYBE_SHARED)
                    | flag(query::pm_mmap_exclusive(&s, k), TRACE_OUT_PM_MMAP_EXCLUSIVE)
                    | flag(s.page_flags(k) & 1 != 0, TRACE_OUT_ANON_EXCLUSIVE);
            }
        }
        e.mapcount_after = query::mapcount(&s);
        e.digest = trace::digest_of_version(version, &s);
        e
    }
}

fn flag(b: bool, bit: u16) -> u16 {
    if b {
        bit
    } else {
        0
    }
}

fn bits(o: &RmapOutcome) -> u16 {
    flag(o.partially_mapped, TRACE_OUT_PARTIALLY_MAPPED)
        | flag(o.deferred_split, TRACE_OUT_DEFERRED_SPLIT)
        | flag(o.newly_partially_mapped, TRACE_OUT_NEWLY_PARTIALLY_MAPPED)
}

/// The fields of a recorded event that differ from the expected one. A kernel trace
/// (`observed_only`) carries only what the kernel exposes (see `foliomap::trace`);
/// an event marked `TRACE_OUT_UNOBSERVED` has no state after it.
pub fn differences(rec: &TraceEvent, exp: &TraceEvent, observed_only: bool) -> Vec<String> {
    let mut d = Vec::new();
    macro_rules! cmp {
        ($($f:ident),*) => {$(
            if rec.$f != exp.$f {
                d.push(format!("{} recorded {:?}, model {:?}", stringify!($f), rec.$f, exp.$f));
            }
        )*};
    }
    cmp!(status, ret);
    // a kernel trace observes the decision of write faults and PMD migration only
    let decided = [
        TraceOp::WpFaultPte,
        TraceOp::WpFaultPmd,
        TraceOp::MigrateUnmapPmd,
    ]
    .iter()
    .any(|&op| op as u16 == rec.op);
    if !observed_only || decided {
        cmp!(decision);
    }
    if !observed_only {
        cmp!(reason, out_flags, nr_pages, nr_other);
    }
    if rec.out_flags & TRACE_OUT_UNOBSERVED == 0 {
        cmp!(mapcount_after, digest);
    }
    d
}
