//! The Linux 7.3 model (the `foliomap` crate itself) driven by trace events: each event
//! runs the same `foliomap::ops` / `rmap` / `query` function the recorder's call site
//! ran, and the outcome is encoded the way the recorder encodes it, for the fidelity
//! check.

use foliomap::kernel::PMD_ORDER;
use foliomap::ops;
use foliomap::query;
use foliomap::rmap::{self, Kind};
use foliomap::store::{FolioMut, FolioStore};
use foliomap::sync::{AtomicFolio, AtomicPage, SyncFolio};
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
#[derive(Debug)]
pub struct Model {
    /// The header.
    pub folio: Folio,
    /// The pages (`1 << order`).
    pub pages: Vec<Page>,
    /// `--concurrent`: the same folio on the stateful layer, every event applied to it too.
    mirror: Option<Mirror>,
}

/// A copy of the plain state only (the schemes ask a clone what-if questions; the
/// stateful layer checks the replay's own model).
impl Clone for Model {
    fn clone(&self) -> Model {
        Model {
            folio: self.folio,
            pages: self.pages.clone(),
            mirror: None,
        }
    }
}

/// The stateful layer's copy of a model (`SyncFolio` over atomics, what a
/// `FM_FOLIO_OPT_CONCURRENT` folio runs on), rebuilt from the plain folio whenever
/// that one is reset or loaded from a recorded state.
#[derive(Debug)]
struct Mirror {
    folio: AtomicFolio,
    pages: Vec<AtomicPage>,
    stale: bool,
    /// Events compared so far, and the first difference of the last one.
    compared: u64,
    difference: Option<String>,
}

impl Model {
    /// A fresh folio as `fm_folio_init` leaves it.
    pub fn new(mode: Mode, order: u32) -> Model {
        let folio = Folio::new(mode, order.min(PMD_ORDER), 0).expect("order clamped to 0..=9");
        Model {
            pages: vec![Page::INIT; folio.nr_pages() as usize],
            folio,
            mirror: None,
        }
    }

    /// `Model::new`, with every event also run on the stateful layer and compared
    /// (`mirror_difference`).
    pub fn with_mirror(mode: Mode, order: u32) -> Model {
        let mut m = Model::new(mode, order);
        m.mirror = Some(Mirror {
            folio: AtomicFolio::new(m.folio),
            pages: Vec::new(),
            stale: true,
            compared: 0,
            difference: None,
        });
        m
    }

    /// Events the stateful layer ran and was compared on.
    pub fn mirror_compared(&self) -> u64 {
        self.mirror.as_ref().map_or(0, |m| m.compared)
    }

    /// How the stateful layer's outcome or state differed from the plain one's after the
    /// last event, if it did.
    pub fn mirror_difference(&mut self) -> Option<String> {
        self.mirror.as_mut().and_then(|m| m.difference.take())
    }

    /// This model as `Model::new(mode, order)` leaves it, keeping the page storage.
    pub fn reset(&mut self, mode: Mode, order: u32) {
        self.folio = Folio::new(mode, order.min(PMD_ORDER), 0).expect("order clamped to 0..=9");
        self.pages.clear();
        self.pages
            .resize(self.folio.nr_pages() as usize, Page::INIT);
        if let Some(m) = &mut self.mirror {
            m.stale = true;
        }
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
    /// returning the 152-byte outcome cost two memcpy calls per event.) With a mirror,
    /// the same operation runs on the stateful layer too and both are compared.
    pub fn apply(&mut self, ev: &TraceEvent, out: &mut Outcome) -> Result<(), Status> {
        let op = TraceOp::from_raw(ev.op).ok_or(Status::BadArgument)?;
        if op == TraceOp::Init {
            self.reset(self.folio.mode(), ev.order as u32);
            *out = Outcome::None;
            return Ok(());
        }
        if let Some(m) = &mut self.mirror {
            if m.stale {
                m.folio = AtomicFolio::new(self.folio);
                m.pages = self.pages.iter().map(|&p| AtomicPage::new(p)).collect();
                m.stale = false;
            }
        }
        let result = apply_op(&mut self.store(), op, ev, out);
        if let Some(m) = &mut self.mirror {
            let mut mirror_out = Outcome::None;
            let mirror_result = match SyncFolio::new(&m.folio, &m.pages) {
                Ok(mut s) => apply_op(&mut s, op, ev, &mut mirror_out),
                Err(e) => Err(e),
            };
            m.compared += 1;
            m.difference = mirror_differs(
                (&result, out),
                (&mirror_result, &mirror_out),
                (&self.folio, &self.pages),
                m,
            );
        }
        result
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

/// The event's operation on either store (the pure core's, or the stateful layer's).
fn apply_op<S: FolioStore>(
    s: &mut S,
    op: TraceOp,
    ev: &TraceEvent,
    out: &mut Outcome,
) -> Result<(), Status> {
    let (first, nr, mm) = (ev.first as u32, ev.nr as u32, ev.mm);
    let excl = ev.flags & TRACE_ARG_EXCLUSIVE != 0;
    let pinned = ev.flags & TRACE_ARG_SRC_HAS_PINNED != 0;
    let writable = ev.flags & TRACE_ARG_WRITABLE != 0;
    let entry = || MigrationEntry::from_raw(ev.arg);
    let (mode, order) = (s.mode(), s.order());
    use Outcome as O;
    match op {
        TraceOp::Init => {} // Model::apply resets the whole model
        TraceOp::UpdateFlags => {
            s.set_flags(ev.arg);
            s.clear_flags(ev.mm);
            *out = O::None;
        }
        TraceOp::AddNewAnon => *out = O::Rmap(rmap::add_new_anon(s, mm, excl)?),
        TraceOp::AddAnonPtes => *out = O::Rmap(rmap::add_ptes(s, Kind::Anon, first, nr, mm, excl)?),
        TraceOp::AddAnonPmd => *out = O::Rmap(rmap::add_pmd(s, Kind::Anon, mm, excl)?),
        TraceOp::AddFilePtes => {
            *out = O::Rmap(rmap::add_ptes(s, Kind::File, first, nr, mm, false)?)
        }
        TraceOp::AddFilePmd => *out = O::Rmap(rmap::add_pmd(s, Kind::File, mm, false)?),
        TraceOp::RemovePtes => *out = O::Rmap(rmap::remove_ptes(s, first, nr, mm)?),
        TraceOp::RemovePmd => *out = O::Rmap(rmap::remove_pmd(s, mm)?),
        TraceOp::TryDupAnonPtes => {
            *out = O::Rmap(rmap::try_dup_anon_ptes(s, first, nr, mm, pinned)?)
        }
        TraceOp::TryDupAnonPmd => *out = O::Rmap(rmap::try_dup_anon_pmd(s, mm, pinned)?),
        TraceOp::DupFilePtes => *out = O::Rmap(rmap::dup_file_ptes(s, first, nr, mm)?),
        TraceOp::TryShareAnon => *out = O::Ret(rmap::try_share_anon(s, first)?),
        TraceOp::DeferredSplit => {
            *out = O::Deferred(rmap::deferred_split(
                s,
                ev.flags & TRACE_ARG_PARTIALLY_MAPPED != 0,
            ))
        }
        TraceOp::FaultAnon => *out = O::Rmap(ops::fault_anon(s, mm)?),
        TraceOp::ForkPtes => *out = O::Fork(ops::fork_ptes(s, first, nr, mm, pinned)?),
        TraceOp::ForkPmd => *out = O::Fork(ops::fork_pmd(s, ev.arg, mm, pinned)?),
        TraceOp::ZapPtes => *out = O::Rmap(ops::zap_ptes(s, first, nr, mm)?),
        TraceOp::ZapPmd => *out = O::Rmap(ops::zap_pmd(s, mm)?),
        TraceOp::SplitPmd => {
            *out = O::Split(ops::split_pmd(
                s,
                mm,
                ev.flags & TRACE_ARG_FREEZE != 0,
                writable,
            )?)
        }
        TraceOp::MigrateUnmapPte => {
            *out = O::Migrate(ops::migrate_unmap_pte(s, first, mm, writable)?)
        }
        TraceOp::MigrateUnmapPmd => *out = O::Migrate(ops::migrate_unmap_pmd(s, mm, writable)?),
        TraceOp::MigrateRestorePte => {
            *out = O::Rmap(ops::migrate_restore_pte(s, first, mm, entry()?)?)
        }
        TraceOp::MigrateRestorePmd => *out = O::Rmap(ops::migrate_restore_pmd(s, mm, entry()?)?),
        TraceOp::MigrateMove => {
            // The destination is another folio's stream (it starts with MIGRATE_MOVE_IN
            // and its state); here a scratch one receives the move.
            let mut dst = Model::new(mode, order);
            *out = O::Ret(ops::migrate_move(s, &mut dst.store())?)
        }
        TraceOp::SplitCheck => *out = O::Ret(ops::split_check(s, ev.arg, ev.nr as i32)?),
        TraceOp::SplitFreeze => *out = O::Ret(ops::split_freeze(s)?),
        TraceOp::WpFaultPte => *out = O::Cow(ops::wp_fault_pte(s, first, mm, &ev.facts)?),
        TraceOp::WpFaultPmd => *out = O::Cow(ops::wp_fault_pmd(s, mm, &ev.facts)?),
        TraceOp::Pin | TraceOp::Unpin => {
            ops::pin(s, op == TraceOp::Pin)?;
            *out = O::None;
        }
        TraceOp::Get => {
            ops::get_refs(s, ev.arg as i32)?;
            *out = O::None;
        }
        TraceOp::Put => {
            ops::put_refs(s, ev.arg as i32)?;
            *out = O::None;
        }
        TraceOp::SwapcacheAdd => {
            ops::swapcache_add(s)?;
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

/// The first difference between the plain core's result of an event and the stateful
/// layer's: the status, the outcome, then every field of the state after it.
fn mirror_differs(
    (result, out): (&Result<(), Status>, &Outcome),
    (mirror_result, mirror_out): (&Result<(), Status>, &Outcome),
    (folio, pages): (&Folio, &[Page]),
    m: &Mirror,
) -> Option<String> {
    if result != mirror_result {
        return Some(format!(
            "status {result:?}, stateful layer {mirror_result:?}"
        ));
    }
    let (a, b) = (format!("{out:?}"), format!("{mirror_out:?}"));
    if a != b {
        return Some(format!("outcome {a}, stateful layer {b}"));
    }
    let f = m.folio.load();
    let fields = [
        ("refcount", folio.refcount, f.refcount),
        ("pincount", folio.pincount, f.pincount),
        ("large_mapcount", folio.large_mapcount, f.large_mapcount),
        ("entire_mapcount", folio.entire_mapcount, f.entire_mapcount),
        ("nr_pages_mapped", folio.nr_pages_mapped, f.nr_pages_mapped),
        (
            "mm_id_mapcount[0]",
            folio.mm_id_mapcount[0],
            f.mm_id_mapcount[0],
        ),
        (
            "mm_id_mapcount[1]",
            folio.mm_id_mapcount[1],
            f.mm_id_mapcount[1],
        ),
        ("flags", folio.flags as i32, f.flags as i32),
        ("order", folio.order as i32, f.order as i32),
    ];
    if let Some((name, x, y)) = fields.iter().find(|(_, x, y)| x != y) {
        return Some(format!("{name} {x}, stateful layer {y}"));
    }
    if folio.mm_ids != f.mm_ids {
        return Some(format!(
            "mm_ids {:#x}, stateful layer {:#x}",
            folio.mm_ids, f.mm_ids
        ));
    }
    pages
        .iter()
        .zip(&m.pages)
        .enumerate()
        .find_map(|(k, (p, q))| {
            let q = q.load();
            (*p != q).then(|| format!("page {k}: {p:?}, stateful layer {q:?}"))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(op: TraceOp, mm: u32) -> TraceEvent {
        TraceEvent {
            op: op as u16,
            order: 4,
            mm,
            ..TraceEvent::default()
        }
    }

    /// The stateful layer's comparison can fail: a plain state edited behind the
    /// mirror's back (as a divergence of the two layers would leave it) is reported at
    /// the next event, and an unedited run reports nothing.
    #[test]
    fn the_stateful_layer_comparison_reports_a_divergence() {
        for mode in [Mode::Pmc, Mode::Nopmc] {
            let mut m = Model::with_mirror(mode, 4);
            let mut out = Outcome::None;
            m.apply(&event(TraceOp::Init, 0), &mut out).unwrap();
            m.apply(&event(TraceOp::FaultAnon, 7), &mut out).unwrap();
            assert_eq!(m.mirror_difference(), None);
            m.folio.refcount += 1;
            m.apply(&event(TraceOp::Get, 0), &mut out).unwrap();
            let d = m.mirror_difference().expect("a divergence is reported");
            assert!(d.starts_with("refcount "), "{d}");
            assert_eq!(m.mirror_compared(), 2);
        }
    }
}
