//! Bounded exhaustive search of the MM-id slot algorithm alone (spec §2, `slots`).
//!
//! Every sequence of `add(d)` / `sub(d)` (d ∈ {1, 2}) by three MMs up to `DEPTH` steps is
//! explored, subs only of mappings the MM really has (true per-MM counts are tracked).
//! States are deduplicated per depth (state → number of sequences reaching it), so every
//! sequence is covered while each (state, operation) pair is expanded once per depth.
//! After every step: the spec §2.4 sanity rules, §2.5 property 1 (slot count + 1 ≤ the
//! owner's true count; no slot without mappings), property 2 (no false "exclusive"),
//! unmapped ⇒ both slots free and `S` clear. For every distinct state reached: property 4
//! (batch-invariance, d ∈ 2..=4) and property 5 (a PMD mapping is `add(1)`/`sub(1)`:
//! `rmap::add_pmd` / `remove_pmd` change the slots exactly as `add_ptes(1)` /
//! `remove_ptes(1)` and as the bare slot rule, in both modes).
//!
//! The same search is run on deliberately broken copies of the rule and must fail.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use foliomap::kernel::{ENTIRELY_MAPPED, MM_ID_DUMMY, MM_ID_MAX};
use foliomap::rmap::{self, Kind};
use foliomap::slots::LargeMapcount;
use foliomap::store::FolioMut;
use foliomap::types::{Folio, Mode, Page, FOLIO_ANON};

/// Three MMs; one of them has the largest id, to exercise the masking.
const MMS: [u32; 3] = [1, 2, MM_ID_MAX];
/// Depth of the search (number of operations in a sequence).
const DEPTH: usize = 12;
/// Batch sizes of the explored operations.
const DIFFS: [i32; 2] = [1, 2];

type Counts = [i32; 3];
type State = (LargeMapcount, Counts);

/// A slot rule: the model's, or a broken copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Model,
    /// `sub` never clears `S`.
    NeverClearShared,
    /// `sub` clears `S` whenever a slot is released, without checking the other slot.
    ClearOnRelease,
    /// Taking slot 1 does not set `S`.
    Slot1NoShared,
    /// A slot is not released on underflow (count stays negative, id kept).
    NoReleaseOnUnderflow,
}

fn add(rule: Rule, l: &mut LargeMapcount, d: i32, mm: u32) {
    match rule {
        Rule::Model
        | Rule::NeverClearShared
        | Rule::ClearOnRelease
        | Rule::NoReleaseOnUnderflow => {
            l.add(d, mm);
        }
        Rule::Slot1NoShared => {
            let had_slot = l.slot_of(mm).is_some();
            let slot0_free = l.ids[0] == MM_ID_DUMMY;
            let shared = l.shared;
            l.add(d, mm);
            if !had_slot && !slot0_free && l.ids[1] == mm {
                l.shared = shared;
            }
        }
    }
}

fn sub(rule: Rule, l: &mut LargeMapcount, d: i32, mm: u32) {
    match rule {
        Rule::Model | Rule::Slot1NoShared => {
            l.sub(d, mm);
        }
        Rule::NeverClearShared => {
            let shared = l.shared;
            l.sub(d, mm);
            l.shared = shared;
        }
        Rule::ClearOnRelease => {
            let had_slot = l.slot_of(mm).is_some();
            l.sub(d, mm);
            if had_slot && l.slot_of(mm).is_none() {
                l.shared = false;
            }
        }
        Rule::NoReleaseOnUnderflow => {
            // Spec §2.3 pseudo-code with the release limited to an exact zero.
            l.lmc -= d;
            if let Some(i) = l.slot_of(mm) {
                l.mmc[i] -= d;
                if l.mmc[i] >= 0 || l.mmc[i] < -1 {
                    return;
                }
                l.ids[i] = MM_ID_DUMMY;
            }
            if l.mmc[0] == l.lmc || l.mmc[1] == l.lmc {
                l.shared = false;
            }
        }
    }
}

fn describe(state: &State) -> String {
    let (l, c) = state;
    format!(
        "lmc={} ids={:?} mmc={:?} S={} true counts {:?} (mms {:?})",
        l.lmc, l.ids, l.mmc, l.shared, c, MMS
    )
}

/// The invariants after every step (spec §2.4, §2.5.1, §2.5.2).
fn check_state(state: &State) -> Result<(), String> {
    let (l, c) = state;
    let total: i32 = c.iter().sum();
    let fail = |what: &str| Err(format!("{what}: {}", describe(state)));
    if l.lmc + 1 != total {
        return fail("LM != number of mappings");
    }
    for i in 0..2 {
        if l.ids[i] == MM_ID_DUMMY {
            if l.mmc[i] != -1 {
                return fail("free slot with count != -1");
            }
            continue;
        }
        let Some(owner) = MMS.iter().position(|&m| m == l.ids[i]) else {
            return fail("slot owned by an unknown mm");
        };
        if l.mmc[i] < 0 {
            return fail("occupied slot with negative count");
        }
        if l.mmc[i] + 1 > c[owner] {
            return fail("slot count + 1 > owner's true count (§2.5.1)");
        }
    }
    if l.ids[0] != MM_ID_DUMMY && l.ids[0] == l.ids[1] {
        return fail("one mm owns both slots");
    }
    for (m, &count) in MMS.iter().zip(c.iter()) {
        if count == 0 && l.slot_of(*m).is_some() {
            return fail("mm without mappings holds a slot (§2.5.1)");
        }
    }
    if total == 0 && (*l != LargeMapcount::UNMAPPED) {
        return fail("unmapped but slots not free or S set (§2.4)");
    }
    let mappers = c.iter().filter(|&&x| x > 0).count();
    if !l.shared && total >= 2 && mappers > 1 {
        return fail("false exclusive: S clear with mappings of two mms (§2.5.2)");
    }
    Ok(())
}

/// Spec §2.5.4: one `add(d)` ≡ d × `add(1)`, one `sub(d)` ≡ d × `sub(1)`.
fn check_batch_invariance(rule: Rule, state: &State) -> Result<(), String> {
    let (l, c) = state;
    for (i, &mm) in MMS.iter().enumerate() {
        for d in 2..=4 {
            let mut batch = *l;
            add(rule, &mut batch, d, mm);
            let mut single = *l;
            for _ in 0..d {
                add(rule, &mut single, 1, mm);
            }
            if batch != single {
                return Err(format!(
                    "add({d}) by mm {mm} != {d} x add(1): {batch:?} vs {single:?} from {}",
                    describe(state)
                ));
            }
            if c[i] >= d {
                let mut batch = *l;
                sub(rule, &mut batch, d, mm);
                let mut single = *l;
                for _ in 0..d {
                    sub(rule, &mut single, 1, mm);
                }
                if batch != single {
                    return Err(format!(
                        "sub({d}) by mm {mm} != {d} x sub(1): {batch:?} vs {single:?} from {}",
                        describe(state)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Scratch order-9 folio used for property 5.
struct Scratch {
    folio: Folio,
    pages: Vec<Page>,
}

impl Scratch {
    fn new(mode: Mode) -> Scratch {
        let mut folio = Folio::new(mode, 9, 0).unwrap();
        folio.flags = FOLIO_ANON;
        Scratch {
            folio,
            pages: vec![Page::INIT; 512],
        }
    }

    /// Loads `l` into the folio, with one PMD mapping and page 0 PTE-mapped so that the
    /// removal checks of both levels pass, and runs `f` on it; returns the slots after.
    fn run(
        &mut self,
        l: &LargeMapcount,
        f: impl FnOnce(&mut FolioMut) -> Result<foliomap::types::RmapOutcome, foliomap::types::Status>,
    ) -> Result<LargeMapcount, String> {
        l.store(&mut self.folio);
        self.folio.entire_mapcount = 0;
        self.folio.refcount = l.lmc + 1;
        self.folio.nr_pages_mapped = if self.folio.mode() == Mode::Pmc {
            ENTIRELY_MAPPED + 1
        } else {
            0
        };
        self.pages[0].mapcount = if self.folio.mode() == Mode::Pmc {
            0
        } else {
            -1
        };
        let mut s = FolioMut::new(&mut self.folio, &mut self.pages).unwrap();
        f(&mut s).map_err(|e| format!("rmap call refused: {e:?}"))?;
        Ok(LargeMapcount::of(&self.folio))
    }
}

/// Spec §2.5.5: at the rmap layer a PMD mapping is `add(1)` / `sub(1)`, like one PTE.
fn check_pmd_is_one(scratch: &mut Scratch, state: &State) -> Result<(), String> {
    let (l, c) = state;
    for (i, &mm) in MMS.iter().enumerate() {
        let mut bare = *l;
        bare.add(1, mm);
        let pmd = scratch.run(l, |s| rmap::add_pmd(s, Kind::Anon, mm, false))?;
        let pte = scratch.run(l, |s| rmap::add_ptes(s, Kind::Anon, 1, 1, mm, false))?;
        if pmd != bare || pte != bare {
            return Err(format!(
                "add: PMD {pmd:?} / PTE {pte:?} / slot rule {bare:?} differ for mm {mm} from {}",
                describe(state)
            ));
        }
        if c[i] >= 1 {
            let mut bare = *l;
            bare.sub(1, mm);
            let pmd = scratch.run(l, |s| rmap::remove_pmd(s, mm))?;
            let pte = scratch.run(l, |s| rmap::remove_ptes(s, 0, 1, mm))?;
            if pmd != bare || pte != bare {
                return Err(format!(
                    "sub: PMD {pmd:?} / PTE {pte:?} / slot rule {bare:?} differ for mm {mm} from {}",
                    describe(state)
                ));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Stats {
    distinct_states: usize,
    transitions: u64,
    sequences: u128,
}

/// Explores every sequence up to `depth`; `rmap_checks` also runs property 5.
fn search(rule: Rule, depth: usize, rmap_checks: bool) -> Result<Stats, String> {
    let mut scratch = [Scratch::new(Mode::Pmc), Scratch::new(Mode::Nopmc)];
    let start: State = (LargeMapcount::UNMAPPED, [0; 3]);
    let mut stats = Stats::default();
    let mut seen: HashSet<State> = HashSet::new();
    let mut level: HashMap<State, u128> = HashMap::new();
    check_state(&start)?;
    seen.insert(start);
    level.insert(start, 1);
    for _ in 0..depth {
        let mut next: HashMap<State, u128> = HashMap::new();
        for (state, &paths) in &level {
            for (i, &mm) in MMS.iter().enumerate() {
                for &d in &DIFFS {
                    for is_add in [true, false] {
                        let (mut l, mut c) = *state;
                        if is_add {
                            add(rule, &mut l, d, mm);
                            c[i] += d;
                        } else {
                            if c[i] < d {
                                continue;
                            }
                            sub(rule, &mut l, d, mm);
                            c[i] -= d;
                        }
                        stats.transitions += 1;
                        stats.sequences += paths;
                        let new = (l, c);
                        if seen.insert(new) {
                            check_state(&new).map_err(|e| {
                                format!(
                                    "after {}({d}) by mm {mm} from {}: {e}",
                                    if is_add { "add" } else { "sub" },
                                    describe(state)
                                )
                            })?;
                            check_batch_invariance(rule, &new)?;
                            if rmap_checks {
                                for s in scratch.iter_mut() {
                                    check_pmd_is_one(s, &new)?;
                                }
                            }
                        }
                        *next.entry(new).or_insert(0) += paths;
                    }
                }
            }
        }
        level = next;
    }
    stats.distinct_states = seen.len();
    Ok(stats)
}

#[test]
fn exhaustive_slot_algorithm() {
    let t = Instant::now();
    let stats = search(Rule::Model, DEPTH, true).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "exhaustive slots: depth {DEPTH}, 3 mms, d in {DIFFS:?}: {} distinct states, {} \
         transitions checked, {} operation sequences covered, {:.2?}",
        stats.distinct_states,
        stats.transitions,
        stats.sequences,
        t.elapsed()
    );
    assert!(stats.distinct_states > 1000);
}

#[test]
fn exhaustive_search_catches_broken_rules() {
    for rule in [
        Rule::NeverClearShared,
        Rule::ClearOnRelease,
        Rule::Slot1NoShared,
        Rule::NoReleaseOnUnderflow,
    ] {
        match search(rule, 8, false) {
            Ok(stats) => panic!("broken rule {rule:?} not caught ({stats:?})"),
            Err(e) => eprintln!("broken rule {rule:?} caught: {e}"),
        }
    }
}
