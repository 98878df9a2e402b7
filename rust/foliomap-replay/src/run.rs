//! The replay: records grouped into per-folio streams (independent, so they run on
//! several threads); each stream first runs through the 7.3 model (the fidelity check
//! against every recorded outcome) and the exact ground truth, which yields the decoded
//! steps; then every scheme runs over the steps.

use std::collections::HashMap;
use std::time::Instant;

use foliomap::kernel::MAX_ORDER;
use foliomap::query;
use foliomap::store::FolioStore;
use foliomap::trace::{TraceEvent, TraceOp, TraceState, TRACE_SOURCE_KERNEL};
use foliomap::types::{
    CowDecision, Mode, Page, FOLIO_ANON, FOLIO_KSM, FOLIO_PARTIALLY_MAPPED, FOLIO_SWAPCACHE,
    PAGE_ANON_EXCLUSIVE,
};

use crate::delta::{deltas, Delta};
use crate::exact::Exact;
use crate::format::{Rec, Trace};
use crate::model::{differences, Model, Outcome};
use crate::scheme::{Ctx, Facts, Scheme, Verdict};
use crate::schemes;

/// Orders 0..=9.
pub const ORDERS: usize = MAX_ORDER as usize + 1;

/// Counters of one scheme for folios of one order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events replayed.
    pub events: u64,
    /// Events where the ground truth was unknown (mid-life start with mappings, lost
    /// records): not evaluated.
    pub unknown: u64,
    /// Write faults evaluated (large folios only; small folios decide identically).
    pub wp: u64,
    /// Reuses the scheme would make.
    pub reuse: u64,
    /// Copies (PMD: fallbacks) the scheme would make.
    pub copy: u64,
    /// Write faults the scheme cannot express.
    pub undefined: u64,
    /// The scheme reuses where the kernel copied.
    pub more_reuse: u64,
    /// The scheme copies where the kernel reused.
    pub more_copy: u64,
    /// Reuses while another mm maps the folio (exact).
    pub unsafe_folio: u64,
    /// Reuses while another mm maps the very page (PMD: any page): data would be shared.
    pub unsafe_page: u64,
    /// Maybe-shared answers compared (write faults and query points).
    pub ms_points: u64,
    /// "Maybe shared" while exactly one mm maps the folio.
    pub ms_fp: u64,
    /// "Exclusive" while two or more mms map it.
    pub ms_fn: u64,
    /// `PM_MMAP_EXCLUSIVE` answers compared (query points).
    pub pme_points: u64,
    /// Not exclusive although the page is mapped exactly once.
    pub pme_fp: u64,
    /// Exclusive although the page is mapped more than once.
    pub pme_fn: u64,
    /// Folio lives that were truly partially mapped at some point.
    pub partial_truth: u64,
    /// ... flagged at the event that made them partial (or before).
    pub partial_ontime: u64,
    /// ... flagged later.
    pub partial_late: u64,
    /// ... never flagged.
    pub partial_missed: u64,
    /// Flagged although never truly partially mapped.
    pub partial_false: u64,
    /// Folio lives.
    pub folios: u64,
    /// Metadata bytes summed over folio lives.
    pub meta_bytes: u64,
    /// Atomic RMWs (cost model).
    pub atomics: u64,
    /// Lock acquisitions (cost model).
    pub locks: u64,
}

impl Stats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Stats) {
        macro_rules! sum { ($($f:ident),*) => { $( self.$f += o.$f; )* } }
        sum!(
            events,
            unknown,
            wp,
            reuse,
            copy,
            undefined,
            more_reuse,
            more_copy,
            unsafe_folio,
            unsafe_page,
            ms_points,
            ms_fp,
            ms_fn,
            pme_points,
            pme_fp,
            pme_fn,
            partial_truth,
            partial_ontime,
            partial_late,
            partial_missed,
            partial_false,
            folios,
            meta_bytes,
            atomics,
            locks
        );
    }
}

/// One scheme's results.
#[derive(Clone, Debug)]
pub struct SchemeResult {
    /// Name.
    pub name: String,
    /// Per order.
    pub by_order: [Stats; ORDERS],
    /// Seconds spent in this scheme (summed over threads).
    pub secs: f64,
}

impl SchemeResult {
    /// All orders.
    pub fn total(&self) -> Stats {
        let mut t = Stats::default();
        for s in &self.by_order {
            t.add(s);
        }
        t
    }
}

/// A difference between the model and a recorded outcome.
#[derive(Clone, Debug)]
pub struct Difference {
    /// Record sequence number.
    pub seq: u64,
    /// Folio `(pfn, epoch)`.
    pub folio: (u64, u32),
    /// The op.
    pub op: String,
    /// What differs.
    pub what: String,
}

/// The whole result.
#[derive(Clone, Debug)]
pub struct Report {
    /// Trace mode.
    pub mode: Mode,
    /// Records.
    pub records: u64,
    /// Events.
    pub events: u64,
    /// Folio streams.
    pub streams: u64,
    /// Records dropped by the recorder (header).
    pub dropped: u64,
    /// Gaps in `seq`.
    pub seq_gaps: u64,
    /// Events of folios that appeared without init or state (not replayable).
    pub orphan_events: u64,
    /// Outcomes checked against the model.
    pub checked: u64,
    /// Differences found (all of them counted; the first ones kept).
    pub differences: u64,
    /// The first differences.
    pub examples: Vec<Difference>,
    /// Seconds of the base pass (7.3 model + fidelity + ground truth), summed.
    pub base_secs: f64,
    /// Seconds grouping records into streams.
    pub group_secs: f64,
    /// Wall-clock seconds of the replay.
    pub wall_secs: f64,
    /// Threads used.
    pub threads: usize,
    /// Only the fidelity pass ran (`replay_with(.., true)`): `base_secs` is its time.
    pub fidelity_only: bool,
    /// Events also run on the stateful layer and compared (`replay_opts(.., true)`).
    pub concurrent_compared: u64,
    /// Per scheme.
    pub schemes: Vec<SchemeResult>,
}

#[derive(Clone, Copy, Debug)]
enum Point {
    None,
    Init(u32),
    WpPte { page: u32, mm: u32 },
    WpPmd { mm: u32 },
    Query { page: u32 },
}

/// One event as the schemes see it.
#[derive(Clone, Copy, Debug)]
struct Step {
    point: Point,
    ev: TraceEvent,
    order: u32,
    known: bool,
    ctx: Ctx,
    truth_mms: u32,
    truth_other: bool,
    truth_other_page: bool,
    truth_page_count: u32,
    partial_after: bool,
    base_pm_after: bool,
    deltas: (u32, u32),
}

const MAX_EXAMPLES: usize = 20;

struct Partial {
    truth_at: Option<u64>,
    flag_at: Option<u64>,
}

fn verdict(decision: u32) -> Verdict {
    if decision == CowDecision::Reuse as u32 {
        Verdict::Reuse
    } else {
        Verdict::Copy
    }
}

fn facts_of(m: &mut Model, page: u32, cow: foliomap::types::CowFacts) -> Facts {
    let s = m.store();
    let flags = s.flags();
    Facts {
        order: s.order(),
        anon: flags & FOLIO_ANON != 0,
        ksm: flags & FOLIO_KSM != 0,
        swapcache: flags & FOLIO_SWAPCACHE != 0,
        refcount: s.refcount(),
        pae: page < s.nr_pages() && s.page_flags(page) & PAGE_ANON_EXCLUSIVE != 0,
        cow,
    }
}

/// Per-thread output.
struct Part {
    checked: u64,
    differences: u64,
    examples: Vec<Difference>,
    events: u64,
    orphans: u64,
    concurrent_compared: u64,
    base_secs: f64,
    schemes: Vec<SchemeResult>,
}

/// `m` in the state `st` with its page runs `recs` decoded; `false` (and `m` is not to
/// be used) when some of its page records are missing.
fn load_state(m: &mut Model, mode: Mode, st: &TraceState, recs: &[Rec]) -> bool {
    m.set_state(mode, st);
    let nr = m.pages.len();
    let mut covered = 0usize;
    let mut part = 0u16;
    for r in recs {
        let Rec::Pages(p) = r else { break };
        if p.part != part {
            return false;
        }
        part += 1;
        for run in p.runs.iter().take(p.nr as usize) {
            let (a, b) = (run.first as usize, run.first as usize + run.nr as usize);
            if b > nr || a != covered {
                return false;
            }
            m.pages[a..b].fill(Page {
                mapcount: run.mapcount,
                flags: run.flags,
            });
            covered = b;
        }
    }
    covered == nr && part as usize == st.nr_runs.div_ceil(3) as usize
}

/// A stream's model, its storage kept from stream to stream (most streams are a few
/// events long: an allocation per stream was a fifth of the fidelity pass).
struct Slot {
    m: Model,
    live: bool,
}

impl Slot {
    fn new(mode: Mode, concurrent: bool) -> Slot {
        Slot {
            m: if concurrent {
                Model::with_mirror(mode, 0)
            } else {
                Model::new(mode, 0)
            },
            live: false,
        }
    }
    fn get(&mut self) -> Option<&mut Model> {
        self.live.then_some(&mut self.m)
    }
}

/// What a stream is replayed against: the trace's accounting mode, and whether it is a
/// kernel trace (only the observed outcome fields are compared, `foliomap::trace`).
#[derive(Clone, Copy)]
struct Source {
    mode: Mode,
    observed_only: bool,
    /// The trace's version (its digest function).
    version: u32,
}

/// One step of a stream: an event, or a state with its page records.
enum Item<'a> {
    State(&'a TraceState, &'a [Rec]),
    Event(&'a TraceEvent),
}

/// A stream's items in order, each with whether a gap in `seq` (lost records) lies
/// between it and the one before: the model state is then unknown.
fn walk<'a>(recs: &'a [Rec], gaps: &'a [u64]) -> impl Iterator<Item = (bool, Item<'a>)> + 'a {
    let mut i = 0;
    let mut last_seq = 0u64;
    std::iter::from_fn(move || loop {
        let rec = recs.get(i)?;
        i += 1;
        let gap = gaps.iter().any(|&g| g > last_seq && g < rec.seq());
        last_seq = rec.seq();
        match rec {
            Rec::State(st) => {
                let n = recs[i..]
                    .iter()
                    .take_while(|r| matches!(r, Rec::Pages(_)))
                    .count();
                let pages = &recs[i..i + n];
                i += n;
                last_seq = recs[i - 1].seq();
                return Some((gap, Item::State(st, pages)));
            }
            Rec::Pages(_) => continue,
            Rec::Event(ev) => return Some((gap, Item::Event(ev))),
        }
    })
}

fn replay_stream(
    src: Source,
    recs: &[Rec],
    gaps: &[u64],
    schemes: &mut [Box<dyn Scheme>],
    part: &mut Part,
    (steps, dv): (&mut Vec<Step>, &mut Vec<Delta>),
    slot: &mut Slot,
) {
    let t0 = Instant::now();
    steps.clear();
    dv.clear();
    let mut out = Outcome::None;
    let mut truth = Exact::new(1);
    let mut known = false;
    let mut ds = Vec::new();
    slot.live = false;
    for (gap, item) in walk(recs, gaps) {
        if gap {
            slot.live = false;
        }
        match item {
            Item::State(st, pages) => {
                slot.live = load_state(&mut slot.m, src.mode, st, pages);
                if slot.live {
                    let m = &slot.m;
                    // the ground truth can start only from an unmapped state (a small
                    // folio's mapcount is its page's)
                    known = st.large_mapcount < 0
                        && st.entire_mapcount < 0
                        && m.pages.iter().all(|p| p.mapcount < 0);
                    let order = m.folio.order;
                    truth = Exact::new(1 << order);
                    steps.push(Step {
                        point: Point::Init(order),
                        // what a scheme with a model of its own starts from (restore)
                        ev: TraceEvent {
                            op: TraceOp::State as u16,
                            order: st.order,
                            flags: st.flags,
                            arg: st.refcount as u32,
                            mm: st.pincount as u32,
                            ..TraceEvent::default()
                        },
                        order,
                        known,
                        ctx: empty_ctx(),
                        truth_mms: 0,
                        truth_other: false,
                        truth_other_page: false,
                        truth_page_count: 0,
                        partial_after: false,
                        base_pm_after: false,
                        deltas: (dv.len() as u32, 0),
                    });
                }
                continue;
            }
            Item::Event(_) => {}
        }
        let Item::Event(ev) = item else { continue };
        part.events += 1;
        let op = TraceOp::from_raw(ev.op);
        if op == Some(TraceOp::Init) {
            slot.m.reset(src.mode, ev.order as u32);
            slot.live = true;
            truth = Exact::new(1 << ev.order.min(9));
            known = true;
            steps.push(Step {
                point: Point::Init(ev.order as u32),
                ev: *ev,
                order: ev.order as u32,
                known,
                ctx: empty_ctx(),
                truth_mms: 0,
                truth_other: false,
                truth_other_page: false,
                truth_page_count: 0,
                partial_after: false,
                base_pm_after: false,
                deltas: (dv.len() as u32, 0),
            });
        }
        let Some(m) = slot.get() else {
            part.orphans += 1;
            continue;
        };
        let order = m.folio.order;
        let page = ev.first as u32;
        let point = match op {
            Some(TraceOp::WpFaultPte) if order > 0 => Point::WpPte { page, mm: ev.mm },
            Some(TraceOp::WpFaultPmd) => Point::WpPmd { mm: ev.mm },
            Some(TraceOp::Query) if order > 0 => Point::Query { page },
            _ => Point::None,
        };
        let mut ctx = empty_ctx();
        if !matches!(point, Point::None) {
            let fpage = if matches!(point, Point::WpPmd { .. }) {
                0
            } else {
                page
            };
            ctx.facts = facts_of(m, fpage, ev.facts);
            let s = m.store();
            ctx.base_maybe_shared = query::maybe_mapped_shared(&s);
            ctx.base_pm_exclusive = fpage < s.nr_pages() && query::pm_mmap_exclusive(&s, fpage);
        }
        let (truth_mms, truth_other, truth_other_page, truth_page_count) = match point {
            Point::WpPte { page, mm } => (
                truth.mms_mapping(),
                truth.other_maps(mm),
                truth.other_maps_page(page, mm),
                truth.page_mapcount(page),
            ),
            Point::WpPmd { mm } => (
                truth.mms_mapping(),
                truth.other_maps(mm),
                truth.other_maps(mm),
                0,
            ),
            Point::Query { page } => (truth.mms_mapping(), false, false, truth.page_mapcount(page)),
            _ => (0, false, false, 0),
        };
        // the 7.3 model: must reproduce the recorded outcome
        if !check_event(m, ev, op, src, part, &mut out) {
            slot.live = false;
            continue;
        }
        if let Outcome::Cow(c) = &out {
            ctx.kernel = verdict(c.decision);
        }
        let nr = m.folio.nr_pages();
        deltas(ev, &out, nr, &mut ds);
        let start = dv.len() as u32;
        for d in &ds {
            truth.apply(d);
            dv.push(*d);
        }
        if truth.broken {
            known = false;
        }
        steps.push(Step {
            point,
            ev: *ev,
            order,
            known,
            ctx,
            truth_mms,
            truth_other,
            truth_other_page,
            truth_page_count,
            partial_after: truth.partially_mapped(),
            base_pm_after: m.folio.flags & FOLIO_PARTIALLY_MAPPED != 0,
            deltas: (start, ds.len() as u32),
        });
    }
    part.base_secs += t0.elapsed().as_secs_f64();
    for (si, s) in schemes.iter_mut().enumerate() {
        let t = Instant::now();
        run_scheme(s.as_mut(), steps, dv, &mut part.schemes[si]);
        part.schemes[si].secs += t.elapsed().as_secs_f64();
    }
}

/// The 7.3 model's step on one recorded event: applied (`out` = its outcome), the
/// outcome compared with the recorded one (every difference counted, the first ones
/// kept). `false`: the model refused the call (a difference unless the recorder saw it
/// refused too).
fn check_event(
    m: &mut Model,
    ev: &TraceEvent,
    op: Option<TraceOp>,
    src: Source,
    part: &mut Part,
    out: &mut Outcome,
) -> bool {
    part.checked += 1;
    let mut differ = |what: String| {
        part.differences += 1;
        if part.examples.len() < MAX_EXAMPLES {
            part.examples.push(Difference {
                seq: ev.seq,
                folio: (ev.pfn, ev.epoch),
                op: format!("{op:?}"),
                what,
            });
        }
    };
    let applied = m.apply(ev, out);
    if let Some(d) = m.mirror_difference() {
        differ(format!(
            "the stateful layer differs from the pure core: {d}"
        ));
    }
    if let Err(st) = applied {
        if ev.status == 0 {
            differ(format!("the model refused the call: {st:?}"));
        }
        return false;
    }
    if !matches!(op, Some(TraceOp::MigrateMoveIn)) {
        let exp = m.expected(src.version, ev, out);
        let d = differences(ev, &exp, src.observed_only);
        if !d.is_empty() {
            differ(d.join("; "));
        }
    }
    true
}

/// The fidelity pass alone (`--fidelity-only`): each stream through the 7.3 model, every
/// recorded outcome compared; no ground truth, no schemes.
fn verify_stream(src: Source, recs: &[Rec], gaps: &[u64], part: &mut Part, slot: &mut Slot) {
    let mut out = Outcome::None;
    slot.live = false;
    for (gap, item) in walk(recs, gaps) {
        if gap {
            slot.live = false;
        }
        let ev = match item {
            Item::State(st, pages) => {
                slot.live = load_state(&mut slot.m, src.mode, st, pages);
                continue;
            }
            Item::Event(ev) => ev,
        };
        part.events += 1;
        let op = TraceOp::from_raw(ev.op);
        if op == Some(TraceOp::Init) {
            slot.m.reset(src.mode, ev.order as u32);
            slot.live = true;
        }
        let Some(m) = slot.get() else {
            part.orphans += 1;
            continue;
        };
        if !check_event(m, ev, op, src, part, &mut out) {
            slot.live = false;
        }
    }
}

fn empty_ctx() -> Ctx {
    Ctx {
        facts: Facts::default(),
        kernel: Verdict::Undefined,
        base_maybe_shared: false,
        base_pm_exclusive: false,
    }
}

fn close_life(s: &dyn Scheme, order: u32, p: &Partial, st: &mut Stats, meta: bool) {
    st.folios += 1;
    if meta {
        st.meta_bytes += s.metadata_bytes(order);
    }
    match (p.truth_at, p.flag_at) {
        (Some(t), Some(f)) if f <= t => st.partial_ontime += 1,
        (Some(_), Some(_)) => st.partial_late += 1,
        (Some(_), None) => st.partial_missed += 1,
        (None, Some(_)) => st.partial_false += 1,
        (None, None) => {}
    }
    if p.truth_at.is_some() {
        st.partial_truth += 1;
    }
}

fn run_scheme(s: &mut dyn Scheme, steps: &[Step], dv: &[Delta], res: &mut SchemeResult) {
    let mut life: Option<(u32, Partial)> = None;
    for (idx, step) in steps.iter().enumerate() {
        let idx = idx as u64;
        let o = step.order.min(MAX_ORDER) as usize;
        if let Point::Init(order) = step.point {
            if let Some((lo, p)) = life.take() {
                close_life(s, lo, &p, &mut res.by_order[lo as usize], true);
            }
            s.reset(order);
            if step.ev.op == TraceOp::State as u16 && step.known {
                s.restore(step.ev.arg as i32, step.ev.mm as i32, step.ev.flags as u32);
            }
            life = Some((
                order,
                Partial {
                    truth_at: None,
                    flag_at: None,
                },
            ));
            continue; // a life starts here; the INIT event itself follows as a step
        }
        let st = &mut res.by_order[o];
        st.events += 1;
        let large = step.order > 0;
        let evaluate = large && step.known && s.expresses(step.order);
        if !step.known {
            st.unknown += 1;
        }
        if evaluate {
            let verdict = match step.point {
                Point::WpPte { page, mm } => Some((s.wp_pte(page, mm, &step.ctx), false)),
                Point::WpPmd { mm } => Some((s.wp_pmd(mm, &step.ctx), true)),
                _ => None,
            };
            if let Some((v, _pmd)) = verdict {
                st.wp += 1;
                match v {
                    Verdict::Reuse => {
                        st.reuse += 1;
                        if step.ctx.kernel == Verdict::Copy {
                            st.more_reuse += 1;
                        }
                        st.unsafe_folio += step.truth_other as u64;
                        st.unsafe_page += step.truth_other_page as u64;
                    }
                    Verdict::Copy => {
                        st.copy += 1;
                        if step.ctx.kernel == Verdict::Reuse {
                            if std::env::var_os("FM_REPLAY_DEBUG").is_some() {
                                eprintln!(
                                    "{} copies, kernel reused: {:?} truth_mms {}",
                                    s.name(),
                                    step,
                                    step.truth_mms
                                );
                            }
                            st.more_copy += 1;
                        }
                    }
                    Verdict::Undefined => st.undefined += 1,
                }
            }
            if !matches!(step.point, Point::None | Point::Init(_)) {
                if let Some(ms) = s.maybe_shared(&step.ctx) {
                    st.ms_points += 1;
                    let truth = step.truth_mms > 1;
                    st.ms_fp += (ms && !truth && step.truth_mms == 1) as u64;
                    st.ms_fn += (!ms && truth) as u64;
                }
            }
            if let Point::Query { page } = step.point {
                if step.truth_page_count > 0 {
                    if let Some(pe) = s.pm_exclusive(page, &step.ctx) {
                        st.pme_points += 1;
                        let truth = step.truth_page_count == 1;
                        st.pme_fp += (!pe && truth) as u64;
                        st.pme_fn += (pe && !truth) as u64;
                    }
                }
            }
        } else if large
            && matches!(step.point, Point::WpPte { .. } | Point::WpPmd { .. })
            && step.known
        {
            st.undefined += 1;
        }
        let (a, n) = step.deltas;
        for d in &dv[a as usize..(a + n) as usize] {
            if large {
                let (at, lk) = s.cost(d, step.order);
                st.atomics += at;
                st.locks += lk;
            } else {
                st.atomics += 1;
            }
            s.map(d);
        }
        s.after_event(&step.ev);
        if let Some((_, p)) = life.as_mut() {
            if large && step.known && s.expresses(step.order) {
                if step.partial_after && p.truth_at.is_none() {
                    p.truth_at = Some(idx);
                }
                if s.partially_mapped(step.base_pm_after) == Some(true) && p.flag_at.is_none() {
                    p.flag_at = Some(idx);
                }
            }
        }
    }
    if let Some((lo, p)) = life.take() {
        close_life(s, lo, &p, &mut res.by_order[lo as usize], true);
    }
}

/// A multiplicative hash for folio keys (SipHash was a third of the grouping time).
#[derive(Default, Clone, Copy)]
struct BuildKeyHasher;

/// See [`BuildKeyHasher`].
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
}

impl std::hash::BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// Replays `trace` through the schemes `names` (all when empty) on `threads` threads.
pub fn replay(trace: &Trace, names: &[String], threads: usize) -> Result<Report, String> {
    replay_with(trace, names, threads, false)
}

/// `replay`, or with `fidelity_only` the 7.3 model's check of every recorded outcome and
/// nothing else (no ground truth, no scheme results).
pub fn replay_with(
    trace: &Trace,
    names: &[String],
    threads: usize,
    fidelity_only: bool,
) -> Result<Report, String> {
    replay_opts(trace, names, threads, fidelity_only, false)
}

/// `replay_with`; with `concurrent` every event also runs on the stateful layer (what a
/// `FM_FOLIO_OPT_CONCURRENT` folio runs on) and its outcome and state are compared with
/// the pure core's: a difference counts like one from the recording.
pub fn replay_opts(
    trace: &Trace,
    names: &[String],
    threads: usize,
    fidelity_only: bool,
    concurrent: bool,
) -> Result<Report, String> {
    let wall = Instant::now();
    let mode = Mode::from_raw(trace.header.mode)
        .map_err(|_| format!("trace mode {} unknown", trace.header.mode))?;
    let names: Vec<String> = if fidelity_only {
        Vec::new()
    } else if names.is_empty() {
        schemes::all_names(mode)
    } else {
        names.to_vec()
    };
    for n in &names {
        if schemes::make(n, mode).is_none() {
            return Err(format!(
                "unknown scheme '{n}' (known: {})",
                schemes::all_names(mode).join(", ")
            ));
        }
    }
    let src = Source {
        mode,
        observed_only: trace.header.source == TRACE_SOURCE_KERNEL,
        version: trace.header.version,
    };
    let tg = Instant::now();
    // counting sort of the records by stream (first appearance order), so that each
    // stream is contiguous in memory: replaying a stream then reads sequentially
    let mut index: HashMap<(u64, u32), u32, BuildKeyHasher> = HashMap::default();
    let mut sid = Vec::with_capacity(trace.records.len());
    let mut counts: Vec<usize> = Vec::new();
    let mut gaps = Vec::new();
    let mut last = 0;
    for r in &trace.records {
        if r.seq() > last + 1 && last != 0 {
            gaps.push(last + 1);
        }
        last = r.seq();
        let i = *index.entry(r.key()).or_insert_with(|| {
            counts.push(0);
            counts.len() as u32 - 1
        });
        counts[i as usize] += 1;
        sid.push(i);
    }
    let mut start = Vec::with_capacity(counts.len() + 1);
    let mut acc = 0;
    for c in &counts {
        start.push(acc);
        acc += c;
    }
    start.push(acc);
    let mut fill = start.clone();
    let mut sorted = vec![Rec::Event(TraceEvent::default()); trace.records.len()];
    for (r, &i) in trace.records.iter().zip(&sid) {
        sorted[fill[i as usize]] = *r;
        fill[i as usize] += 1;
    }
    let streams: Vec<&[Rec]> = (0..counts.len())
        .map(|i| &sorted[start[i]..start[i + 1]])
        .collect();
    let group_secs = tg.elapsed().as_secs_f64();
    let threads = threads.max(1).min(streams.len().max(1));
    let chunk = streams.len().div_ceil(threads).max(1);
    let parts: Vec<Part> = std::thread::scope(|sc| {
        let handles: Vec<_> = streams
            .chunks(chunk)
            .map(|ch| {
                let names = &names;
                let gaps = &gaps;
                sc.spawn(move || {
                    let mut schemes: Vec<Box<dyn Scheme>> = names
                        .iter()
                        .filter_map(|n| schemes::make(n, mode))
                        .collect();
                    let mut part = Part {
                        checked: 0,
                        differences: 0,
                        examples: Vec::new(),
                        events: 0,
                        orphans: 0,
                        concurrent_compared: 0,
                        base_secs: 0.0,
                        schemes: schemes
                            .iter()
                            .map(|s| SchemeResult {
                                name: s.name(),
                                by_order: [Stats::default(); ORDERS],
                                secs: 0.0,
                            })
                            .collect(),
                    };
                    let (mut steps, mut dv) = (Vec::new(), Vec::new());
                    let mut slot = Slot::new(mode, concurrent);
                    if fidelity_only {
                        let t = Instant::now();
                        for st in ch {
                            verify_stream(src, st, gaps, &mut part, &mut slot);
                        }
                        part.base_secs = t.elapsed().as_secs_f64();
                    }
                    for st in ch.iter().filter(|_| !fidelity_only) {
                        replay_stream(
                            src,
                            st,
                            gaps,
                            &mut schemes,
                            &mut part,
                            (&mut steps, &mut dv),
                            &mut slot,
                        );
                    }
                    part.concurrent_compared = slot.m.mirror_compared();
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replay thread"))
            .collect()
    });
    let mut rep = Report {
        mode,
        records: trace.records.len() as u64,
        events: 0,
        streams: streams.len() as u64,
        dropped: trace.header.dropped,
        seq_gaps: gaps.len() as u64,
        orphan_events: 0,
        checked: 0,
        differences: 0,
        examples: Vec::new(),
        base_secs: 0.0,
        group_secs,
        wall_secs: 0.0,
        threads,
        fidelity_only,
        concurrent_compared: 0,
        schemes: Vec::new(),
    };
    for p in parts {
        rep.events += p.events;
        rep.orphan_events += p.orphans;
        rep.concurrent_compared += p.concurrent_compared;
        rep.checked += p.checked;
        rep.differences += p.differences;
        rep.base_secs += p.base_secs;
        for e in p.examples {
            if rep.examples.len() < MAX_EXAMPLES {
                rep.examples.push(e);
            }
        }
        if rep.schemes.is_empty() {
            rep.schemes = p.schemes;
        } else {
            for (a, b) in rep.schemes.iter_mut().zip(&p.schemes) {
                for o in 0..ORDERS {
                    a.by_order[o].add(&b.by_order[o]);
                }
                a.secs += b.secs;
            }
        }
    }
    rep.examples.sort_by_key(|e| e.seq);
    rep.wall_secs = wall.elapsed().as_secs_f64();
    Ok(rep)
}
