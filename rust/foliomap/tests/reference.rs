//! Property tests of the model against an independent, exact reference (issue 2).
//!
//! The reference records, for ONE folio, per MM and per page every PTE mapping and per
//! MM its PMD mapping, plus which pages are PageAnonExclusive, each MM's
//! `MMF_HAS_PINNED`, the pins and the references the harness itself holds. Random
//! operation sequences over 4 MMs (ids 1, 2, 3 and `MM_ID_MAX`), orders {0, 2, 4, 9} and
//! both modes drive the model's call-site operations (`ops`) and `rmap` primitives on two
//! stores built from the same start, the pure core (`FolioMut`) and the stateful layer
//! (`SyncFolio` over `AtomicFolio`), and the reference.
//!
//! The generator only produces what the kernel could do in the current state (spec §3.11,
//! §5, §6, §7: remove only existing mappings, one PTE per page per MM, PAE only on pages
//! no other MM maps, pins only on exclusive pages, fork into a fresh MM, ...). A model
//! refusal of such an operation is a failure, and so is any decision the reference
//! predicts differently (fork copies, -EBUSY, migration entry types, CoW decisions).
//!
//! After every model call the checker verifies (spec §1.4, §1.5, §2.4, §2.5, §4, §7.4):
//! LM == number of entries; EM == number of PMD mappings; [PMC] per-page mapcounts and
//! `_nr_pages_mapped` exact, [NOPMC] untouched; every occupied slot's count + 1 ≤ its
//! owner's true count and an MM without mappings owns no slot; unmapped ⇒ slots free and
//! `S` clear; `maybe_mapped_shared() == false` ⇒ at most one MM maps the folio; refcount
//! == LM + pins + the harness's references (hence ≥ LM); PAE exactly as the reference
//! and never on a page two MMs map; a freed folio passes the free-path checks; core and
//! stateful layer agree on every output and on the full state. CoW REUSE never happens
//! while another MM maps the folio (large) / the page (small).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use foliomap::kernel::{EAGAIN, EBUSY, ENTIRELY_MAPPED, MM_ID_DUMMY, MM_ID_MAX, PMD_NR};
use foliomap::ops;
use foliomap::query;
use foliomap::rmap::{self, Kind};
use foliomap::slots::LargeMapcount;
use foliomap::store::FolioMut;
use foliomap::sync::{AtomicFolio, AtomicPage, SyncFolio};
use foliomap::types::{
    CowDecision, CowFacts, Folio, MigrationEntry, Mode, Page, FOLIO_DEFERRED_LIST,
    FOLIO_PARTIALLY_MAPPED,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

const MMS: [u32; 4] = [1, 2, 3, MM_ID_MAX];
const M: usize = MMS.len();
const ORDERS: [u32; 4] = [0, 2, 4, 9];
const MAX_STEPS: usize = 50;
const DEFAULT_CASES: u32 = 512;

static OPS_RUN: AtomicU64 = AtomicU64::new(0);
static CALLS_RUN: AtomicU64 = AtomicU64::new(0);
static CASES_RUN: AtomicU64 = AtomicU64::new(0);

/// Coverage counters of interesting situations, printed with the totals.
const COVERAGE: [&str; 12] = [
    "fork page copies (pinned)",
    "fork_pmd splits (pinned)",
    "migration -EBUSY aborts",
    "moves to a fresh folio",
    "moves refused (-EAGAIN)",
    "freeze-split restores",
    "REUSE by the large-folio rule",
    "COPY of a large folio",
    "PMD fallbacks",
    "states with an untracked mm",
    "states with a sticky false S",
    "folios freed",
];
static COVER: [AtomicU64; 12] = [const { AtomicU64::new(0) }; 12];

thread_local! {
    /// Only the main property test counts (the mutant runs share the statics).
    static COUNTING: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.with(|c| c.get())
}

fn cover(i: usize) {
    if counting() {
        COVER[i].fetch_add(1, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------
// The model under test: one folio in both layers.

struct Model {
    folio: Folio,
    pages: Vec<Page>,
    afolio: AtomicFolio,
    apages: Vec<AtomicPage>,
}

impl Model {
    fn new(mode: Mode, order: u32) -> Model {
        let folio = Folio::new(mode, order, 0).unwrap();
        let n = 1usize << order;
        Model {
            folio,
            pages: vec![Page::INIT; n],
            afolio: AtomicFolio::new(folio),
            apages: (0..n).map(|_| AtomicPage::new(Page::INIT)).collect(),
        }
    }

    fn core(&mut self) -> FolioMut<'_> {
        FolioMut::new(&mut self.folio, &mut self.pages).unwrap()
    }

    fn sync(&self) -> SyncFolio<'_> {
        SyncFolio::new(&self.afolio, &self.apages).unwrap()
    }

    /// The two layers hold the same state.
    fn agree(&self) -> Result<(), String> {
        let a = self.afolio.load();
        let c = &self.folio;
        let key = |f: &Folio| {
            (
                f.magic,
                f.mode,
                f.order,
                f.options,
                f.flags,
                f.refcount,
                f.pincount,
                f.large_mapcount,
                f.entire_mapcount,
                f.nr_pages_mapped,
                f.mm_id_mapcount,
                f.mm_ids,
            )
        };
        if key(&a) != key(c) {
            return Err(format!(
                "core and sync states differ:\n core {c:?}\n sync {a:?}"
            ));
        }
        for (k, (p, ap)) in self.pages.iter().zip(&self.apages).enumerate() {
            if *p != ap.load() {
                return Err(format!("page {k}: core {p:?} sync {:?}", ap.load()));
            }
        }
        Ok(())
    }
}

/// Runs one operation on both layers; the outputs and the states must agree.
macro_rules! both {
    ($m:expr, |$s:ident| $body:expr) => {{
        let r1 = {
            let mut st = $m.core();
            let $s = &mut st;
            $body
        };
        let r2 = {
            let mut st = $m.sync();
            let $s = &mut st;
            $body
        };
        if r1 != r2 {
            return Err(format!("core and sync outputs differ: {r1:?} vs {r2:?}"));
        }
        $m.agree()?;
        if counting() {
            CALLS_RUN.fetch_add(1, Relaxed);
        }
        r1
    }};
}

// ---------------------------------------------------------------------------------------
// The reference.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// Allocated, never mapped: holds the allocation's reference.
    Fresh,
    Live,
    /// The last reference was dropped.
    Freed,
}

#[derive(Clone, Debug)]
struct Reference {
    order: u32,
    n: usize,
    pte: Vec<Vec<bool>>,
    /// Number of PTEs of each mm (kept with `pte`).
    nr_ptes: [i32; M],
    pmd: [bool; M],
    has_pinned: [bool; M],
    pae: Vec<bool>,
    pins: i32,
    /// References held by the harness (allocation, migration isolation, migration dst).
    other: i32,
    life: Life,
}

impl Reference {
    fn new(order: u32) -> Reference {
        let n = 1usize << order;
        Reference {
            order,
            n,
            pte: vec![vec![false; n]; M],
            nr_ptes: [0; M],
            pmd: [false; M],
            has_pinned: [false; M],
            pae: vec![false; n],
            pins: 0,
            other: 1,
            life: Life::Fresh,
        }
    }

    /// A fresh folio in the same world (MMs keep `MMF_HAS_PINNED`).
    fn refolio(&mut self) {
        let has_pinned = self.has_pinned;
        *self = Reference::new(self.order);
        self.has_pinned = has_pinned;
    }

    fn large(&self) -> bool {
        self.order > 0
    }
    fn pin_unit(&self) -> i32 {
        if self.large() {
            1
        } else {
            1024
        }
    }
    fn set_pte(&mut self, m: usize, k: usize, mapped: bool) {
        if self.pte[m][k] != mapped {
            self.pte[m][k] = mapped;
            self.nr_ptes[m] += if mapped { 1 } else { -1 };
        }
    }
    fn count(&self, m: usize) -> i32 {
        self.nr_ptes[m] + self.pmd[m] as i32
    }
    fn counts(&self) -> [i32; M] {
        core::array::from_fn(|m| self.count(m))
    }
    fn entries(&self) -> i32 {
        (0..M).map(|m| self.count(m)).sum()
    }
    fn mappers(&self) -> usize {
        (0..M).filter(|&m| self.count(m) > 0).count()
    }
    fn maps_page(&self, m: usize, k: usize) -> bool {
        self.pte[m][k] || self.pmd[m]
    }
    fn page_mappers(&self, k: usize) -> usize {
        (0..M).filter(|&m| self.maps_page(m, k)).count()
    }
    /// Page `k` is exclusive: its own PAE, or the head's PAE while PMD-mapped (for a
    /// PMD-mapped THP only the head's bit is meaningful, spec §1.6).
    fn exclusive(&self, k: usize) -> bool {
        self.pae[k] || (self.pae[0] && self.pmd.iter().any(|&b| b))
    }
    fn expected_ref(&self) -> i32 {
        self.entries() + self.pins * self.pin_unit() + self.other
    }
    /// `folio_maybe_dma_pinned` (spec §4): exact pincount for large folios, the
    /// refcount bias for small ones.
    fn maybe_pinned(&self) -> bool {
        if self.large() {
            self.pins > 0
        } else {
            self.expected_ref() >= 1024
        }
    }
    /// Maximal runs of pages PTE-mapped by `m`.
    fn runs(&self, m: usize, mapped: bool) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut k = 0;
        while k < self.n {
            if self.pte[m][k] == mapped {
                let start = k;
                while k < self.n && self.pte[m][k] == mapped {
                    k += 1;
                }
                runs.push((start, k - start));
            } else {
                k += 1;
            }
        }
        runs
    }
    /// After dropping references: the folio is freed at zero.
    fn settle(&mut self) {
        if self.life == Life::Live && self.expected_ref() == 0 {
            self.life = Life::Freed;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The checker.

fn check(r: &Reference, f: &Folio, pages: &[Page]) -> Result<(), String> {
    let counts = r.counts();
    let entries: i32 = counts.iter().sum();
    let pmds = r.pmd.iter().filter(|&&b| b).count() as i32;
    let exp_ref = r.expected_ref();
    if f.refcount != exp_ref {
        return Err(format!(
            "refcount {} != LM {entries} + pins {} x {} + harness refs {}",
            f.refcount,
            r.pins,
            r.pin_unit(),
            r.other
        ));
    }
    let l = LargeMapcount::of(f);
    if r.life == Life::Freed {
        // The free path's checks (spec §1.3) and the deferred list left (§3.10).
        let ok = l.lmc == -1
            && l.mmc == [-1, -1]
            && l.ids == [MM_ID_DUMMY; 2]
            && f.entire_mapcount == -1
            && f.pincount == 0
            && f.nr_pages_mapped == 0
            && f.flags & (FOLIO_DEFERRED_LIST | FOLIO_PARTIALLY_MAPPED) == 0
            && pages.iter().all(|p| p.mapcount == -1);
        return if ok {
            Ok(())
        } else {
            Err(format!("freed folio fails the free-path checks: {f:?}"))
        };
    }
    let mut fc = *f;
    let mut pc = pages.to_vec();
    let s = FolioMut::new(&mut fc, &mut pc).unwrap();
    let mappers = r.mappers();
    if r.large() {
        if query::large_mapcount(&s) != entries {
            return Err(format!(
                "LM {} != entries {entries}",
                query::large_mapcount(&s)
            ));
        }
        if query::entire_mapcount(&s) != pmds {
            return Err(format!(
                "EM {} != PMD mappings {pmds}",
                query::entire_mapcount(&s)
            ));
        }
        if f.pincount != r.pins {
            return Err(format!("pincount {} != pins {}", f.pincount, r.pins));
        }
        match f.mode() {
            Mode::Pmc => {
                let mut with_pte = 0;
                for (k, p) in pages.iter().enumerate() {
                    let ptes = (0..M).filter(|&m| r.pte[m][k]).count() as i32;
                    if p.mapcount + 1 != ptes {
                        return Err(format!("pmc[{k}] + 1 = {} != PTEs {ptes}", p.mapcount + 1));
                    }
                    with_pte += (ptes > 0) as i32;
                }
                let want = if pmds > 0 { ENTIRELY_MAPPED } else { 0 } + with_pte;
                if f.nr_pages_mapped != want {
                    return Err(format!(
                        "nr_pages_mapped {:#x} != {want:#x}",
                        f.nr_pages_mapped
                    ));
                }
            }
            Mode::Nopmc => {
                if f.nr_pages_mapped != 0 || pages.iter().any(|p| p.mapcount != -1) {
                    return Err("[NOPMC] per-page counters touched".into());
                }
            }
        }
        for i in 0..2 {
            if l.ids[i] == MM_ID_DUMMY {
                if l.mmc[i] != -1 {
                    return Err(format!("free slot {i} with count {}", l.mmc[i]));
                }
                continue;
            }
            let Some(owner) = MMS.iter().position(|&m| m == l.ids[i]) else {
                return Err(format!("slot {i} owned by unknown mm {}", l.ids[i]));
            };
            if l.mmc[i] < 0 || l.mmc[i] + 1 > counts[owner] {
                return Err(format!(
                    "slot {i} of mm {} counts {} > its {} mappings (§2.5.1)",
                    l.ids[i],
                    l.mmc[i] + 1,
                    counts[owner]
                ));
            }
        }
        if l.ids[0] != MM_ID_DUMMY && l.ids[0] == l.ids[1] {
            return Err("one mm owns both slots".into());
        }
        if entries == 0 && l != LargeMapcount::UNMAPPED {
            return Err(format!("unmapped folio with slots/S {l:?} (§2.4)"));
        }
        if !l.shared && entries >= 2 && mappers > 1 {
            return Err(format!(
                "false exclusive: S clear, {mappers} mms map (§2.5.2)"
            ));
        }
        if f.flags & FOLIO_PARTIALLY_MAPPED != 0
            && (r.order <= 1 || f.flags & FOLIO_DEFERRED_LIST == 0)
        {
            return Err("partially mapped but not queued".into());
        }
    } else {
        if pages[0].mapcount + 1 != entries {
            return Err(format!(
                "small folio mapcount {} != entries {entries}",
                pages[0].mapcount + 1
            ));
        }
        if f.pincount != 0 {
            return Err("small folio with a pincount".into());
        }
    }
    if !query::maybe_mapped_shared(&s) && mappers > 1 {
        return Err(format!(
            "maybe_mapped_shared() false while {mappers} mms map"
        ));
    }
    if f.refcount < query::mapcount(&s) {
        return Err("refcount < mapcount".into());
    }
    for (k, p) in pages.iter().enumerate() {
        if p.anon_exclusive() != r.pae[k] {
            return Err(format!(
                "PAE of page {k}: model {} reference {}",
                p.anon_exclusive(),
                r.pae[k]
            ));
        }
        if r.exclusive(k) && r.page_mappers(k) > 1 {
            return Err(format!("PAE on page {k} mapped by two mms"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Mutants: a shadow slot state driven by a local copy of the rule, checked instead of
// the model's, to show the checker catches broken rules.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutant {
    /// The spec §2 rule, transcribed: must pass.
    Correct,
    /// `sub` never clears `S`.
    NeverClearShared,
    /// `sub` clears `S` whenever a slot is released.
    ClearOnRelease,
}

/// Spec §2.2, transcribed.
fn rule_add(l: &mut LargeMapcount, d: i32, mm: u32) {
    l.lmc += d;
    if l.ids[0] == mm {
        l.mmc[0] += d;
    } else if l.ids[1] == mm {
        l.mmc[1] += d;
    } else if l.ids[0] == MM_ID_DUMMY {
        l.ids[0] = mm;
        l.mmc[0] = d - 1;
        if l.lmc != d - 1 {
            l.shared = true;
        }
    } else if l.ids[1] == MM_ID_DUMMY {
        l.ids[1] = mm;
        l.mmc[1] = d - 1;
        l.shared = true;
    }
}

/// Spec §2.3, transcribed, with the mutations.
fn rule_sub(mutant: Mutant, l: &mut LargeMapcount, d: i32, mm: u32) {
    l.lmc -= d;
    for i in 0..2 {
        if l.ids[i] == mm {
            l.mmc[i] -= d;
            if l.mmc[i] >= 0 {
                return;
            }
            l.mmc[i] = -1;
            l.ids[i] = MM_ID_DUMMY;
            if mutant == Mutant::ClearOnRelease {
                l.shared = false;
            }
            break;
        }
    }
    if mutant != Mutant::NeverClearShared && (l.mmc[0] == l.lmc || l.mmc[1] == l.lmc) {
        l.shared = false;
    }
}

struct Shadow {
    mutant: Mutant,
    large: LargeMapcount,
    counts: [i32; M],
}

impl Shadow {
    fn sync(&mut self, counts: [i32; M]) {
        for (m, &mm) in MMS.iter().enumerate() {
            let d = counts[m] - self.counts[m];
            if d < 0 {
                rule_sub(self.mutant, &mut self.large, -d, mm);
            }
        }
        for (m, &mm) in MMS.iter().enumerate() {
            let d = counts[m] - self.counts[m];
            if d > 0 {
                rule_add(&mut self.large, d, mm);
            }
        }
        self.counts = counts;
    }
}

// ---------------------------------------------------------------------------------------
// Operations.

#[derive(Clone, Debug)]
enum Op {
    Fault {
        mm: usize,
    },
    MapPtes {
        mm: usize,
        first: usize,
        nr: usize,
        exclusive: bool,
    },
    ZapPtes {
        mm: usize,
        first: usize,
        nr: usize,
    },
    ZapPmd {
        mm: usize,
    },
    /// exit / munmap of everything: every run zapped in whole batches, and the PMD.
    Exit {
        mm: usize,
    },
    ForkPtes {
        parent: usize,
        child: usize,
        batches: Vec<(usize, usize)>,
    },
    ForkPmd {
        parent: usize,
        child: usize,
    },
    WpPte {
        mm: usize,
        k: usize,
        facts: CowFacts,
    },
    WpPmd {
        mm: usize,
        k: usize,
        facts: CowFacts,
    },
    SplitPmd {
        mm: usize,
    },
    Migrate {
        freeze: bool,
        fresh: bool,
        seed: u32,
    },
    Pin {
        mm: usize,
    },
    Unpin,
}

const KINDS: u32 = 13;

/// A tiny deterministic generator for the choices inside one operation.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
}

fn pick<T: Copy>(v: &[T], seed: u32) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[seed as usize % v.len()])
    }
}

fn facts(bits: u32) -> CowFacts {
    CowFacts {
        unshare: (bits & 1) as u8,
        trylock_fails: (bits >> 1 & 3 == 0) as u8,
        lru_drain_drops_ref: 0,
        swap_free_succeeds: (bits >> 3 & 1) as u8,
    }
}

impl Reference {
    /// Builds the operation of kind `raw[0]` (or the next kind that is possible).
    fn gen(&self, raw: &[u32; 6]) -> Op {
        if self.life != Life::Live {
            return Op::Fault {
                mm: raw[1] as usize % M,
            };
        }
        for i in 0..KINDS {
            if let Some(op) = self.gen_kind((raw[0] + i) % KINDS, raw) {
                return op;
            }
        }
        unreachable!("a live folio always allows some operation: {self:?}")
    }

    fn gen_kind(&self, kind: u32, raw: &[u32; 6]) -> Option<Op> {
        let all: Vec<usize> = (0..M).collect();
        let with_ptes: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&m| self.nr_ptes[m] > 0)
            .collect();
        let with_pmd: Vec<usize> = all.iter().copied().filter(|&m| self.pmd[m]).collect();
        let unmapped: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&m| self.count(m) == 0)
            .collect();
        let mut rng = Lcg(((raw[4] as u64) << 32) | raw[5] as u64);
        match kind {
            0 => {
                // Add anon PTEs (swap-in-like, spec §3.2): a batch of pages this mm does
                // not map; exclusive only if no other mm maps any of them.
                let mms: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|&m| !self.pmd[m] && self.pte[m].iter().any(|&b| !b))
                    .collect();
                let mm = pick(&mms, raw[1])?;
                let (start, len) = pick(&self.runs(mm, false), raw[2])?;
                let first = start + rng.below(len);
                let mut nr = 1 + rng.below(start + len - first);
                // A page another mm maps exclusively cannot be mapped here too (its PAE
                // would have been cleared first, e.g. by fork or swap-out).
                let ok = |k: usize| self.page_mappers(k) == 0 || !self.exclusive(k);
                if !ok(first) {
                    return None;
                }
                nr = (first..first + nr).take_while(|&k| ok(k)).count();
                let nobody = (first..first + nr).all(|k| self.page_mappers(k) == 0);
                Some(Op::MapPtes {
                    mm,
                    first,
                    nr,
                    exclusive: nobody && raw[3] & 1 == 1,
                })
            }
            1 | 2 => {
                let mm = pick(&with_ptes, raw[1])?;
                let (start, len) = pick(&self.runs(mm, true), raw[2])?;
                let first = start + rng.below(len);
                // Whole runs are common (exit, munmap): bias towards them.
                let nr = if raw[3] & 3 == 0 {
                    start + len - first
                } else {
                    1 + rng.below(start + len - first)
                };
                Some(Op::ZapPtes { mm, first, nr })
            }
            3 => Some(Op::ZapPmd {
                mm: pick(&with_pmd, raw[1])?,
            }),
            4 => {
                let parent = pick(&with_ptes, raw[1])?;
                let children: Vec<usize> =
                    unmapped.iter().copied().filter(|&m| m != parent).collect();
                let child = pick(&children, raw[2])?;
                // Each run is cut into batches (folio_pte_batch stops at dirty / soft-dirty
                // differences); a few are skipped (MADV_DONTFORK parts).
                let mut batches = Vec::new();
                for (start, len) in self.runs(parent, true) {
                    let mut k = start;
                    while k < start + len {
                        let nr = if rng.next() & 1 == 0 {
                            start + len - k
                        } else {
                            1 + rng.below(start + len - k)
                        };
                        if rng.below(8) != 0 {
                            batches.push((k, nr));
                        }
                        k += nr;
                    }
                }
                Some(Op::ForkPtes {
                    parent,
                    child,
                    batches,
                })
            }
            5 => {
                let parent = pick(&with_pmd, raw[1])?;
                let children: Vec<usize> =
                    unmapped.iter().copied().filter(|&m| m != parent).collect();
                Some(Op::ForkPmd {
                    parent,
                    child: pick(&children, raw[2])?,
                })
            }
            6 | 7 => {
                let mm = pick(&with_ptes, raw[1])?;
                let pages: Vec<usize> = (0..self.n).filter(|&k| self.pte[mm][k]).collect();
                Some(Op::WpPte {
                    mm,
                    k: pick(&pages, raw[2])?,
                    facts: facts(raw[3]),
                })
            }
            8 => Some(Op::WpPmd {
                mm: pick(&with_pmd, raw[1])?,
                k: raw[2] as usize % self.n,
                facts: facts(raw[3]),
            }),
            9 => Some(Op::SplitPmd {
                mm: pick(&with_pmd, raw[1])?,
            }),
            12 => Some(Op::Exit {
                mm: pick(
                    &all.iter()
                        .copied()
                        .filter(|&m| self.count(m) > 0)
                        .collect::<Vec<_>>(),
                    raw[1],
                )?,
            }),
            10 => Some(Op::Migrate {
                freeze: self.order == 9 && !with_pmd.is_empty() && raw[1] & 3 == 0,
                fresh: raw[2] & 1 == 1,
                seed: raw[3],
            }),
            _ => {
                // 11: pin / unpin.
                if raw[1] & 1 == 1 && self.pins > 0 {
                    return Some(Op::Unpin);
                }
                // FOLL_PIN needs an exclusive page (spec §7.7 "GUP-pinned page").
                let mms: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|&m| {
                        (self.pmd[m] && self.pae[0])
                            || (0..self.n).any(|k| self.pte[m][k] && self.pae[k])
                    })
                    .collect();
                match pick(&mms, raw[2]) {
                    Some(mm) => Some(Op::Pin { mm }),
                    None if self.pins > 0 => Some(Op::Unpin),
                    None => None,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The world: reference + model, applying operations.

struct World {
    mode: Mode,
    r: Reference,
    m: Model,
    shadow: Option<Shadow>,
    log: Vec<String>,
}

type Res = Result<(), String>;

fn refused<T: core::fmt::Debug>(what: &str, e: T) -> String {
    format!("model refused a valid {what}: {e:?}")
}

impl World {
    fn new(mode: Mode, order: u32, mutant: Option<Mutant>) -> World {
        World {
            mode,
            r: Reference::new(order),
            m: Model::new(mode, order),
            shadow: mutant.map(|mutant| Shadow {
                mutant,
                large: LargeMapcount::UNMAPPED,
                counts: [0; M],
            }),
            log: Vec::new(),
        }
    }

    fn check(&mut self) -> Res {
        self.r.settle();
        if self.r.life == Life::Freed {
            cover(11);
        }
        let l = LargeMapcount::of(&self.m.folio);
        let mappers = self.r.mappers();
        if l.ids[0] != MM_ID_DUMMY && l.ids[1] != MM_ID_DUMMY && mappers > 2 {
            cover(9);
        }
        if l.shared && mappers == 1 && self.r.entries() >= 2 {
            cover(10);
        }
        let mut f = self.m.folio;
        if let Some(sh) = &mut self.shadow {
            sh.sync(self.r.counts());
            let flag_bits = f.mm_ids & foliomap::kernel::MM_IDS_LOCK_BIT;
            sh.large.store(&mut f);
            f.mm_ids |= flag_bits;
        }
        check(&self.r, &f, &self.m.pages)
    }

    fn new_folio(&mut self) {
        self.m = Model::new(self.mode, self.r.order);
        self.r.refolio();
        if let Some(sh) = &mut self.shadow {
            sh.large = LargeMapcount::UNMAPPED;
            sh.counts = [0; M];
        }
    }

    fn apply(&mut self, op: &Op) -> Res {
        if counting() {
            OPS_RUN.fetch_add(1, Relaxed);
        }
        let n = self.r.n;
        match *op {
            Op::Fault { mm } => {
                if self.r.life == Life::Freed {
                    self.new_folio();
                    self.check()?;
                }
                let id = MMS[mm];
                both!(self.m, |s| ops::fault_anon(s, id)).map_err(|e| refused("fault", e))?;
                self.r.life = Life::Live;
                self.r.other = 0;
                if self.r.order == 9 {
                    self.r.pmd[mm] = true;
                    self.r.pae[0] = true;
                } else {
                    for k in 0..n {
                        self.r.set_pte(mm, k, true);
                    }
                    self.r.pae.iter_mut().for_each(|b| *b = true);
                }
                self.check()
            }
            Op::MapPtes {
                mm,
                first,
                nr,
                exclusive,
            } => {
                // The mapping's references first, then the rmap (spec §3.11 swap-in).
                let (id, f, c) = (MMS[mm], first as u32, nr as u32);
                both!(self.m, |s| ops::get_refs(s, c as i32)).map_err(|e| refused("get", e))?;
                self.r.other += nr as i32;
                self.check()?;
                both!(self.m, |s| rmap::add_ptes(
                    s,
                    Kind::Anon,
                    f,
                    c,
                    id,
                    exclusive
                ))
                .map_err(|e| refused("add_ptes", e))?;
                self.r.other -= nr as i32;
                for k in first..first + nr {
                    self.r.set_pte(mm, k, true);
                    if exclusive {
                        self.r.pae[k] = true;
                    }
                }
                self.check()
            }
            Op::ZapPtes { mm, first, nr } => {
                let (id, f, c) = (MMS[mm], first as u32, nr as u32);
                both!(self.m, |s| ops::zap_ptes(s, f, c, id)).map_err(|e| refused("zap", e))?;
                for k in first..first + nr {
                    self.r.set_pte(mm, k, false);
                }
                self.check()
            }
            Op::Exit { mm } => {
                let id = MMS[mm];
                for (first, nr) in self.r.runs(mm, true) {
                    let (f, c) = (first as u32, nr as u32);
                    both!(self.m, |s| ops::zap_ptes(s, f, c, id)).map_err(|e| refused("zap", e))?;
                    for k in first..first + nr {
                        self.r.set_pte(mm, k, false);
                    }
                    self.check()?;
                }
                if self.r.pmd[mm] {
                    both!(self.m, |s| ops::zap_pmd(s, id)).map_err(|e| refused("zap_pmd", e))?;
                    self.r.pmd[mm] = false;
                    self.check()?;
                }
                Ok(())
            }
            Op::ZapPmd { mm } => {
                let id = MMS[mm];
                both!(self.m, |s| ops::zap_pmd(s, id)).map_err(|e| refused("zap_pmd", e))?;
                self.r.pmd[mm] = false;
                self.check()
            }
            Op::ForkPtes {
                parent,
                child,
                ref batches,
            } => {
                // A new mm: MMF_HAS_PINNED is not inherited (spec §1.7).
                self.r.has_pinned[child] = false;
                let (cid, pinned) = (MMS[child], self.r.has_pinned[parent]);
                for &(first, nr) in batches {
                    let maybe_pinned = pinned && self.r.maybe_pinned();
                    let (f, c) = (first as u32, nr as u32);
                    let out = both!(self.m, |s| ops::fork_ptes(s, f, c, cid, pinned))
                        .map_err(|e| refused("fork_ptes", e))?;
                    for k in first..first + nr {
                        // Spec §5.5: exclusive pages of a maybe-pinned folio are copied.
                        let copy = maybe_pinned && self.r.pae[k];
                        if out.page_copied(k as u32) != copy {
                            return Err(format!(
                                "fork: page {k} copied {} expected {copy} ({out:?})",
                                out.page_copied(k as u32)
                            ));
                        }
                        if copy {
                            cover(0);
                        } else {
                            self.r.set_pte(child, k, true);
                            self.r.pae[k] = false;
                        }
                    }
                    if out.pages_copied + out.pages_shared != c {
                        return Err(format!("fork: pages do not add up: {out:?}"));
                    }
                    self.check()?;
                }
                Ok(())
            }
            Op::ForkPmd { parent, child } => {
                self.r.has_pinned[child] = false;
                let (pid, cid, pinned) = (MMS[parent], MMS[child], self.r.has_pinned[parent]);
                let split = self.r.pae[0] && pinned && self.r.maybe_pinned();
                let out = both!(self.m, |s| ops::fork_pmd(s, pid, cid, pinned))
                    .map_err(|e| refused("fork_pmd", e))?;
                if out.pmd_split != split || out.pmd_shared == split {
                    return Err(format!("fork_pmd: expected split {split}, got {out:?}"));
                }
                if split {
                    cover(1);
                    // Parent's PMD split (all pages exclusive), every page copied.
                    self.split_reference(parent);
                    if out.pages_copied != PMD_NR {
                        return Err(format!("fork_pmd: not every page copied: {out:?}"));
                    }
                } else {
                    self.r.pmd[child] = true;
                    self.r.pae[0] = false;
                }
                self.check()
            }
            Op::WpPte { mm, k, facts } => self.wp_pte(mm, k, facts),
            Op::WpPmd { mm, k, facts } => {
                let id = MMS[mm];
                let expected = if self.r.pae[0] || self.r.expected_ref() == 1 {
                    CowDecision::Reuse
                } else {
                    CowDecision::Fallback
                };
                let out = both!(self.m, |s| ops::wp_fault_pmd(s, id, &facts))
                    .map_err(|e| refused("wp_fault_pmd", e))?;
                if out.decision != expected as u32 {
                    return Err(format!("wp_fault_pmd: expected {expected:?}, got {out:?}"));
                }
                if expected == CowDecision::Reuse {
                    if self.r.mappers() > 1 {
                        return Err("PMD REUSE while another mm maps the folio".into());
                    }
                    self.r.pae[0] = true;
                    return self.check();
                }
                cover(8);
                self.split_reference(mm);
                self.check()?;
                // VM_FAULT_FALLBACK: the fault is retried at PTE level (spec §7.6).
                self.wp_pte(mm, k, facts)
            }
            Op::SplitPmd { mm } => {
                let id = MMS[mm];
                both!(self.m, |s| ops::split_pmd(s, id, false, false))
                    .map_err(|e| refused("split_pmd", e))?;
                self.split_reference(mm);
                self.check()
            }
            Op::Migrate {
                freeze,
                fresh,
                seed,
            } => self.migrate(freeze, fresh, seed),
            Op::Pin { mm } => {
                both!(self.m, |s| ops::pin(s, true)).map_err(|e| refused("pin", e))?;
                self.r.pins += 1;
                self.r.has_pinned[mm] = true;
                self.check()
            }
            Op::Unpin => {
                both!(self.m, |s| ops::pin(s, false)).map_err(|e| refused("unpin", e))?;
                self.r.pins -= 1;
                self.check()
            }
        }
    }

    /// Reference side of a non-freezing PMD split of `mm` (spec §6.1).
    fn split_reference(&mut self, mm: usize) {
        self.r.pmd[mm] = false;
        let exclusive = self.r.pae[0];
        for k in 0..self.r.n {
            self.r.set_pte(mm, k, true);
            if exclusive {
                self.r.pae[k] = true;
            }
        }
    }

    /// Write / unshare fault on `mm`'s PTE of page `k` (spec §7.2-§7.4, §7.7).
    fn wp_pte(&mut self, mm: usize, k: usize, facts: CowFacts) -> Res {
        let id = MMS[mm];
        let lm = self.r.entries();
        let refs = self.r.expected_ref();
        let shared = self.m.folio.shared_bit();
        let expected = if self.r.pae[k] {
            CowDecision::Reuse
        } else if self.r.large() {
            if lm <= 1 || shared || lm != refs {
                CowDecision::Copy
            } else {
                CowDecision::Reuse
            }
        } else if refs == 1 && facts.trylock_fails == 0 {
            CowDecision::Reuse
        } else {
            CowDecision::Copy
        };
        let out = both!(self.m, |s| ops::wp_fault_pte(s, k as u32, id, &facts))
            .map_err(|e| refused("wp_fault_pte", e))?;
        if out.decision != expected as u32 {
            return Err(format!(
                "wp_fault_pte page {k}: expected {expected:?}, got {out:?}"
            ));
        }
        if self.r.large() && !self.r.pae[k] {
            cover(if expected == CowDecision::Reuse { 6 } else { 7 });
        }
        if expected == CowDecision::Reuse {
            // The PAE fast path reuses an exclusive page whatever else maps the folio;
            // the folio-granular rule of large folios must prove that nothing does.
            let others = if self.r.large() && !self.r.pae[k] {
                (0..M).any(|m| m != mm && self.r.count(m) > 0)
            } else {
                self.r.page_mappers(k) > 1
            };
            if others {
                return Err(format!("REUSE of page {k} while another mm maps it"));
            }
            self.r.pae[k] = true;
        } else {
            self.r.set_pte(mm, k, false);
        }
        self.check()
    }

    /// Migration (spec §6.5, §6.6): isolate, replace every mapping by a migration entry
    /// one at a time, then move to a fresh folio or restore into the same one (abort on
    /// -EBUSY, failed move, failed folio split freeze), and drop the isolation reference.
    /// With `freeze` it is the folio-split path: PMDs are freeze-split into 512 PTE
    /// entries and, the split's reference freeze failing, restored into the same folio.
    fn migrate(&mut self, freeze: bool, fresh: bool, seed: u32) -> Res {
        let mut rng = Lcg(seed as u64 | 1 << 40);
        both!(self.m, |s| ops::get_refs(s, 1)).map_err(|e| refused("isolate", e))?;
        self.r.other += 1;
        self.check()?;
        if freeze {
            // §6.4 step 4: only with no extra reference (the caller's is the isolation).
            let ret = both!(self.m, |s| ops::split_check(s, 0, 1))
                .map_err(|e| refused("split_check", e))?;
            let want = if self.r.pins > 0 { EAGAIN } else { 0 };
            if ret != want {
                return Err(format!("split_check: {ret} expected {want}"));
            }
            if ret != 0 {
                return self.put_isolation();
            }
        }
        // (mm, page or None for a PMD entry, entry type)
        let mut entries: Vec<(usize, Option<usize>, MigrationEntry)> = Vec::new();
        let mut order: Vec<usize> = (0..M).collect();
        order.rotate_left(rng.below(M));
        let mut aborted = false;
        'walk: for &mm in &order {
            let id = MMS[mm];
            if self.r.pmd[mm] {
                let pae = self.r.pae[0];
                let writable = pae && rng.next() & 1 == 1;
                let entry = entry_type(writable, pae);
                if freeze {
                    let out = both!(self.m, |s| ops::split_pmd(s, id, true, writable))
                        .map_err(|e| refused("freeze split", e))?;
                    // Pins were excluded by split_check, so the freeze cannot fail.
                    if !out.frozen || out.entry != entry as u32 {
                        return Err(format!("freeze split: {out:?}, expected {entry:?}"));
                    }
                    self.r.pmd[mm] = false;
                    self.r.pae[0] = false;
                    for k in 0..self.r.n {
                        entries.push((mm, Some(k), entry));
                    }
                } else {
                    let out = both!(self.m, |s| ops::migrate_unmap_pmd(s, id, writable))
                        .map_err(|e| refused("migrate_unmap_pmd", e))?;
                    let busy = pae && self.r.maybe_pinned();
                    if busy {
                        if out.ret != EBUSY {
                            return Err(format!("migrate_unmap_pmd: expected -EBUSY: {out:?}"));
                        }
                        aborted = true;
                        cover(2);
                        break 'walk;
                    }
                    if out.ret != 0 || out.entry != entry as u32 {
                        return Err(format!("migrate_unmap_pmd: {out:?}, expected {entry:?}"));
                    }
                    self.r.pmd[mm] = false;
                    self.r.pae[0] = false;
                    entries.push((mm, None, entry));
                }
                self.check()?;
                continue;
            }
            for k in 0..self.r.n {
                if !self.r.pte[mm][k] {
                    continue;
                }
                let pae = self.r.pae[k];
                let writable = pae && rng.next() & 1 == 1;
                let entry = entry_type(writable, pae);
                let busy = pae && self.r.maybe_pinned();
                let out = both!(self.m, |s| ops::migrate_unmap_pte(
                    s, k as u32, id, writable
                ))
                .map_err(|e| refused("migrate_unmap_pte", e))?;
                if busy {
                    if out.ret != EBUSY {
                        return Err(format!("migrate_unmap_pte {k}: expected -EBUSY: {out:?}"));
                    }
                    aborted = true;
                    cover(2);
                    break 'walk;
                }
                if out.ret != 0 || out.entry != entry as u32 {
                    return Err(format!(
                        "migrate_unmap_pte {k}: {out:?}, expected {entry:?}"
                    ));
                }
                self.r.set_pte(mm, k, false);
                self.r.pae[k] = false;
                entries.push((mm, Some(k), entry));
                self.check_sub(entries.len())?;
            }
        }
        if !aborted && fresh && !freeze {
            let mut dst = Model::new(self.mode, self.r.order);
            let r1 = ops::migrate_move(&mut self.m.core(), &mut dst.core());
            let r2 = ops::migrate_move(&mut self.m.sync(), &mut dst.sync());
            if r1 != r2 {
                return Err(format!("migrate_move: core {r1:?} sync {r2:?}"));
            }
            self.m.agree()?;
            dst.agree()?;
            if counting() {
                CALLS_RUN.fetch_add(1, Relaxed);
            }
            let ret = r1.map_err(|e| refused("migrate_move", e))?;
            // The reference freeze needs refcount == expected + 1 (spec §6.6).
            let want = if self.r.expected_ref() == 1 {
                0
            } else {
                EAGAIN
            };
            if ret != want {
                return Err(format!("migrate_move: {ret} expected {want}"));
            }
            self.check()?;
            cover(if ret == 0 { 3 } else { 4 });
            if ret == 0 {
                // The source loses its isolation reference and is freed.
                both!(self.m, |s| ops::put_refs(s, 1)).map_err(|e| refused("put src", e))?;
                self.r.other -= 1;
                self.check()?;
                if self.r.life != Life::Freed {
                    return Err("migrated source not freed".into());
                }
                // The destination: fresh, holding the migration's reference.
                let has_pinned = self.r.has_pinned;
                let order = self.r.order;
                self.r = Reference::new(order);
                self.r.has_pinned = has_pinned;
                self.r.life = Life::Live;
                self.m = dst;
                if let Some(sh) = &mut self.shadow {
                    sh.large = LargeMapcount::UNMAPPED;
                    sh.counts = [0; M];
                }
                self.check()?;
            }
        }
        self.check()?;
        if rng.next() & 1 == 1 {
            entries.reverse();
        }
        let mut restored = 0;
        for (mm, page, entry) in entries {
            let id = MMS[mm];
            let exclusive = entry != MigrationEntry::Readable;
            match page {
                None => {
                    both!(self.m, |s| ops::migrate_restore_pmd(s, id, entry))
                        .map_err(|e| refused("migrate_restore_pmd", e))?;
                    self.r.pmd[mm] = true;
                    if exclusive {
                        self.r.pae[0] = true;
                    }
                }
                Some(k) => {
                    both!(self.m, |s| ops::migrate_restore_pte(s, k as u32, id, entry))
                        .map_err(|e| refused("migrate_restore_pte", e))?;
                    self.r.set_pte(mm, k, true);
                    if exclusive {
                        self.r.pae[k] = true;
                    }
                }
            }
            restored += 1;
            self.check_sub(restored)?;
        }
        if freeze {
            cover(5);
        }
        self.put_isolation()
    }

    /// The full check after every model call, except inside the up to 2048 one-PTE
    /// calls of an order-9 migration, where every 32nd call and the end of each phase are
    /// checked (the core/sync agreement is still checked after every call).
    fn check_sub(&mut self, i: usize) -> Res {
        if self.r.n < 512 || i.is_multiple_of(32) {
            self.check()
        } else {
            self.r.settle();
            Ok(())
        }
    }

    fn put_isolation(&mut self) -> Res {
        both!(self.m, |s| ops::put_refs(s, 1)).map_err(|e| refused("put", e))?;
        self.r.other -= 1;
        self.check()
    }
}

fn entry_type(writable: bool, exclusive: bool) -> MigrationEntry {
    if writable {
        MigrationEntry::Writable
    } else if exclusive {
        MigrationEntry::ReadableExclusive
    } else {
        MigrationEntry::Readable
    }
}

fn run_case(mode: Mode, order: u32, steps: &[[u32; 6]], mutant: Option<Mutant>) -> Res {
    let mut w = World::new(mode, order, mutant);
    w.check()?;
    for raw in steps {
        let op = w.r.gen(raw);
        w.log.push(format!("{op:?}"));
        if let Err(e) = w.apply(&op) {
            return Err(format!(
                "{mode:?} order {order}: {e}\nops:\n  {}\nreference: {:?}\nfolio: {:?}",
                w.log.join("\n  "),
                w.r,
                w.m.folio
            ));
        }
    }
    Ok(())
}

fn strategy() -> impl Strategy<Value = (bool, u32, Vec<[u32; 6]>)> {
    (
        any::<bool>(),
        prop::sample::select(ORDERS.to_vec()),
        prop::collection::vec(any::<[u32; 6]>(), 1..=MAX_STEPS),
    )
}

fn mode_of(pmc: bool) -> Mode {
    if pmc {
        Mode::Pmc
    } else {
        Mode::Nopmc
    }
}

fn runner(cases: u32, deterministic: bool) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    if deterministic {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    } else {
        TestRunner::new(config)
    }
}

#[test]
fn model_matches_reference() {
    let cases = std::env::var("FOLIOMAP_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let t = Instant::now();
    COUNTING.with(|c| c.set(true));
    let mut runner = runner(cases, false);
    let result = runner.run(&strategy(), |(pmc, order, steps)| {
        CASES_RUN.fetch_add(1, Relaxed);
        run_case(mode_of(pmc), order, &steps, None).map_err(TestCaseError::fail)
    });
    eprintln!(
        "reference proptest: {} cases (configured {cases}, up to {MAX_STEPS} ops each), \
         {} operations, {} model calls checked, {:.2?}",
        CASES_RUN.load(Relaxed),
        OPS_RUN.load(Relaxed),
        CALLS_RUN.load(Relaxed),
        t.elapsed()
    );
    for (name, c) in COVERAGE.iter().zip(&COVER) {
        eprintln!("  {name}: {}", c.load(Relaxed));
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn checker_catches_broken_slot_rules() {
    // The correct transcription passes through the same harness...
    let mut ok = runner(64, true);
    let r = ok.run(&strategy(), |(pmc, order, steps)| {
        run_case(mode_of(pmc), order, &steps, Some(Mutant::Correct)).map_err(TestCaseError::fail)
    });
    assert!(r.is_ok(), "correct shadow rule rejected: {r:?}");
    // ... and the broken ones are caught.
    for mutant in [Mutant::NeverClearShared, Mutant::ClearOnRelease] {
        let mut runner = runner(1024, true);
        let r = runner.run(&strategy(), |(pmc, order, steps)| {
            run_case(mode_of(pmc), order, &steps, Some(mutant)).map_err(TestCaseError::fail)
        });
        match r {
            Ok(()) => panic!("broken slot rule {mutant:?} not caught"),
            Err(e) => {
                let msg = e.to_string();
                eprintln!(
                    "broken slot rule {mutant:?} caught: {}",
                    msg.lines().next().unwrap_or("")
                );
            }
        }
    }
}
