//! Test-side world for the spec §11 scenarios: one folio (occasionally more: a migration
//! destination, the order-0 results of a folio split), named mms with ids from the model's
//! `MmIdAllocator`, each mm's page-table view of the folio's region, `MMF_HAS_PINNED` per
//! mm and which pages hold non-zero data.
//!
//! Steps are data (`Step`); each step is turned into the call-site operations of
//! `foliomap::ops` the kernel would perform (spec §3.11, §5, §6, §7), run on the pure core
//! (`FolioMut`) and logged. Expected states are written in the spec's own notation
//! (`"ref=16 lmc=15 ... [PMC] nrpm=16 pmc[0..15]=0 [NOPMC] Δanon=+16"`) and parsed here.
//! The log is then replayed on the stateful layer (`SyncFolio` over `AtomicFolio` /
//! `AtomicPage` built from the same initial states) and every outcome and the final state
//! must be identical.

use foliomap::kernel::PMD_ORDER;
use foliomap::mmid::MmIdAllocator;
use foliomap::ops;
use foliomap::query;
use foliomap::rmap::{self, Kind};
use foliomap::store::{FolioMut, FolioStore};
use foliomap::sync::{AtomicFolio, AtomicPage, SyncFolio};
use foliomap::types::{
    CowDecision, CowFacts, CowOutcome, Folio, ForkOutcome, MigrateUnmapOutcome, MigrationEntry,
    Mode, Page, RmapOutcome, SplitPmdOutcome, Status, FOLIO_ANON, FOLIO_DEFERRED_LIST,
    FOLIO_PARTIALLY_MAPPED, PAGE_ANON_EXCLUSIVE,
};
use std::fmt::Write as _;

/// Index of the scenario's folio `F` in `World::folios`.
pub const F: usize = 0;

/// Outcome of a write / unshare fault as the spec states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The PTE/PMD is writable: no fault at all.
    NoFault,
    /// `do_wp_page` / `do_huge_pmd_wp_page` reused the page (or PMD).
    Reuse,
    /// The page was copied into a new order-0 folio.
    Copy,
    /// PMD fault only: the faulting mm's PMD was split (`VM_FAULT_FALLBACK`); the PTE
    /// retry is a separate step.
    Fallback,
}

/// One step of a scenario, written like the spec.
#[derive(Clone, Debug)]
pub enum Step {
    /// First write fault on page 0 of the fresh anon folio (mTHP: N PTEs; THP: a PMD);
    /// then pages `written` are filled with non-zero data through the writable mapping.
    Fault {
        mm: &'static str,
        written: Option<(u32, u32)>,
    },
    /// A shared file mapping faults pages `[first, first + nr)` in one fault-around batch.
    FileMap {
        mm: &'static str,
        first: u32,
        nr: u32,
    },
    /// fork(2): the child gets the next free mm id.
    Fork {
        parent: &'static str,
        child: &'static str,
    },
    /// munmap / MADV_DONTNEED of region pages `[first, first + nr)`.
    Zap {
        mm: &'static str,
        first: u32,
        nr: u32,
    },
    /// exit(2) (all mappings zapped, then the id freed at `__mmdrop`).
    Exit { mm: &'static str },
    /// A write to region page `page`.
    Write {
        mm: &'static str,
        page: u32,
        expect: Expect,
    },
    /// A write fault forced on a writable PTE (the spec's "a forced write fault would ...").
    ForcedWrite {
        mm: &'static str,
        page: u32,
        expect: Expect,
    },
    /// `FOLL_PIN` without `FOLL_WRITE`: `FAULT_FLAG_UNSHARE` when the page is not PAE, then
    /// the pin of whatever the PTE maps afterwards.
    PinReadOnly {
        mm: &'static str,
        page: u32,
        expect: Expect,
    },
    /// `FOLL_PIN|FOLL_WRITE` on an exclusive page: sets `MMF_HAS_PINNED`.
    Pin { mm: &'static str, page: u32 },
    /// `unpin_user_page`.
    Unpin { mm: &'static str, page: u32 },
    /// VMA split at a non-aligned address (mprotect, mremap to an unaligned address):
    /// `__split_huge_pmd` of this mm's PMD.
    SplitPmd { mm: &'static str },
    /// mremap to a 2 MiB-aligned address: `move_huge_pmd`, no rmap change.
    MremapAligned { mm: &'static str },
    /// Migration of `F` to a new folio `G`, step 1: isolate (+1 ref), `try_to_migrate`.
    MigrateUnmap,
    /// Migration step 2: allocate `G`, `migrate_folio_move`, drop `F`'s isolation ref.
    MigrateMove,
    /// Migration step 3: `remove_migration_ptes(F, G)`, then `folio_put(G)`.
    MigrateRemap,
    /// Folio split to order 0, step 1: `folio_get`, the refcount precondition,
    /// `unmap_folio` (PTEs → migration entries one by one; PMD → freeze split).
    SplitUnmap,
    /// Split step 2: refcount freeze at 1 (dequeued, PM cleared), 2^order order-0 folios.
    SplitFreeze,
    /// Split step 3: `remap_page` (`TTU_USE_SHARED_ZEROPAGE`), then the split's references
    /// are dropped (unmapped results are freed).
    SplitRemap,
    /// Deferred-split shrinker: `folio_try_get`, `split_folio` precondition; on failure
    /// re-queued and `folio_put`. `ret` is the expected return.
    ShrinkerSplit { ret: i32 },
    /// debugfs `split_huge_pages` pre-check `expected == ref`; `skipped` expected.
    DebugfsPrecheck { skipped: bool },
}

impl Step {
    fn label(&self) -> String {
        match self {
            Step::Fault { mm, .. } => format!("fault({mm})"),
            Step::FileMap { mm, first, nr } => format!("filemap({mm},{first},{nr})"),
            Step::Fork { parent, child } => format!("fork({parent},{child})"),
            Step::Zap { mm, first, nr } => format!("zap({mm},{first}..{})", first + nr - 1),
            Step::Exit { mm } => format!("exit({mm})"),
            Step::Write { mm, page, expect } => format!("write({mm},{page}) => {expect:?}"),
            Step::ForcedWrite { mm, page, expect } => {
                format!("forced-write({mm},{page}) => {expect:?}")
            }
            Step::PinReadOnly { mm, page, expect } => {
                format!("pin-ro({mm},{page}) => {expect:?}")
            }
            Step::Pin { mm, page } => format!("pin({mm},{page})"),
            Step::Unpin { mm, page } => format!("unpin({mm},{page})"),
            Step::SplitPmd { mm } => format!("split-pmd({mm})"),
            Step::MremapAligned { mm } => format!("mremap-aligned({mm})"),
            Step::MigrateUnmap => "migrate: unmap".into(),
            Step::MigrateMove => "migrate: move".into(),
            Step::MigrateRemap => "migrate: remap".into(),
            Step::SplitUnmap => "split: unmap".into(),
            Step::SplitFreeze => "split: freeze".into(),
            Step::SplitRemap => "split: remap".into(),
            Step::ShrinkerSplit { ret } => format!("shrinker-split => {ret}"),
            Step::DebugfsPrecheck { skipped } => format!("debugfs-precheck skipped={skipped}"),
        }
    }
}

/// A page-table entry of an mm for one page of the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ent {
    None,
    /// Maps page `k` of folio `f`.
    Pte {
        f: usize,
        k: u32,
        w: bool,
    },
    /// Replaced by a private order-0 copy (not tracked).
    Copy {
        w: bool,
    },
    /// The shared zeropage.
    Zero,
    /// A migration entry for page `k` of folio `f`.
    Migr {
        f: usize,
        k: u32,
        e: MigrationEntry,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmdEnt {
    None,
    Map { f: usize, w: bool },
    Migr { f: usize, e: MigrationEntry },
}

#[derive(Debug)]
pub struct Mm {
    pub name: &'static str,
    pub id: u32,
    pub alive: bool,
    pub has_pinned: bool,
    pub pte: Vec<Ent>,
    pub pmd: PmdEnt,
}

/// One folio and its pages (pure core state).
#[derive(Debug)]
pub struct Cell {
    pub label: String,
    pub folio: Folio,
    pub pages: Vec<Page>,
}

/// An operation on folio `f` (`dst` for `MigrateMove`), as logged for the sync replay.
#[derive(Clone, Debug)]
pub enum Op {
    Create(Folio, Vec<Page>),
    Fault {
        mm: u32,
    },
    FileMap {
        first: u32,
        nr: u32,
        mm: u32,
    },
    ForkPtes {
        first: u32,
        nr: u32,
        dst: u32,
        pinned: bool,
    },
    ForkPmd {
        src: u32,
        dst: u32,
        pinned: bool,
    },
    ZapPtes {
        first: u32,
        nr: u32,
        mm: u32,
    },
    ZapPmd {
        mm: u32,
    },
    SplitPmd {
        mm: u32,
        freeze: bool,
        w: bool,
    },
    MigUnmapPte {
        k: u32,
        mm: u32,
        w: bool,
    },
    MigUnmapPmd {
        mm: u32,
        w: bool,
    },
    MigRestorePte {
        k: u32,
        mm: u32,
        e: MigrationEntry,
    },
    MigRestorePmd {
        mm: u32,
        e: MigrationEntry,
    },
    WpPte {
        k: u32,
        mm: u32,
        unshare: bool,
    },
    WpPmd {
        mm: u32,
    },
    Pin(bool),
    Get(i32),
    Put(i32),
    SplitCheck {
        order: u32,
        caller: i32,
    },
    MigrateMove {
        dst: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    Unit,
    Ret(i32),
    Rmap(RmapOutcome),
    Fork(ForkOutcome),
    Split(SplitPmdOutcome),
    Mig(MigrateUnmapOutcome),
    Cow(CowOutcome),
}

/// Runs one logged operation on any store (pure core or stateful layer).
fn exec<S: FolioStore>(op: &Op, s: &mut S, d: Option<&mut S>) -> Result<Out, Status> {
    Ok(match *op {
        Op::Create(..) => Out::Unit,
        Op::Fault { mm } => Out::Rmap(ops::fault_anon(s, mm)?),
        Op::FileMap { first, nr, mm } => {
            // filemap_map_pages: folio_ref_add(nr), folio_add_file_rmap_ptes(nr).
            ops::get_refs(s, nr as i32)?;
            Out::Rmap(rmap::add_ptes(s, Kind::File, first, nr, mm, false)?)
        }
        Op::ForkPtes {
            first,
            nr,
            dst,
            pinned,
        } => Out::Fork(ops::fork_ptes(s, first, nr, dst, pinned)?),
        Op::ForkPmd { src, dst, pinned } => Out::Fork(ops::fork_pmd(s, src, dst, pinned)?),
        Op::ZapPtes { first, nr, mm } => Out::Rmap(ops::zap_ptes(s, first, nr, mm)?),
        Op::ZapPmd { mm } => Out::Rmap(ops::zap_pmd(s, mm)?),
        Op::SplitPmd { mm, freeze, w } => Out::Split(ops::split_pmd(s, mm, freeze, w)?),
        Op::MigUnmapPte { k, mm, w } => Out::Mig(ops::migrate_unmap_pte(s, k, mm, w)?),
        Op::MigUnmapPmd { mm, w } => Out::Mig(ops::migrate_unmap_pmd(s, mm, w)?),
        Op::MigRestorePte { k, mm, e } => Out::Rmap(ops::migrate_restore_pte(s, k, mm, e)?),
        Op::MigRestorePmd { mm, e } => Out::Rmap(ops::migrate_restore_pmd(s, mm, e)?),
        Op::WpPte { k, mm, unshare } => {
            let facts = CowFacts {
                unshare: unshare as u8,
                ..CowFacts::default()
            };
            Out::Cow(ops::wp_fault_pte(s, k, mm, &facts)?)
        }
        Op::WpPmd { mm } => Out::Cow(ops::wp_fault_pmd(s, mm, &CowFacts::default())?),
        Op::Pin(pin) => {
            ops::pin(s, pin)?;
            Out::Unit
        }
        Op::Get(n) => {
            ops::get_refs(s, n)?;
            Out::Unit
        }
        Op::Put(n) => {
            ops::put_refs(s, n)?;
            Out::Unit
        }
        Op::SplitCheck { order, caller } => Out::Ret(ops::split_check(s, order, caller)?),
        Op::MigrateMove { .. } => Out::Ret(ops::migrate_move(s, d.ok_or(Status::BadArgument)?)?),
    })
}

/// A mismatch: which field, what the spec says, what the model has.
#[derive(Debug)]
pub struct Mismatch {
    pub field: String,
    pub expected: String,
    pub actual: String,
}

/// Counters for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub steps: usize,
    pub fields: usize,
    pub outcomes: usize,
    pub nopmc_page_checks: usize,
    pub sync_checks: usize,
    pub calls: usize,
}

pub struct World {
    pub mode: Mode,
    pub order: u32,
    pub n: u32,
    idmap: [u64; 2],
    pub mms: Vec<Mm>,
    pub folios: Vec<Cell>,
    pub data: Vec<bool>,
    pub log: Vec<(usize, Op, Out)>,
    /// Index of the split result folio for each page (after `SplitFreeze`).
    pub split: Vec<usize>,
    pub g: Option<usize>,
    pub d_anon: i64,
    pub d_thp: i64,
    pub sum_anon: i64,
    pub sum_thp: i64,
    pub counts: Counts,
}

fn err<T>(msg: String) -> Result<T, String> {
    Err(msg)
}

impl World {
    /// A world with mm `first_mm` and one fresh folio of `order` (anon, or a page-cache
    /// file folio holding its `N` page-cache references when `file`).
    pub fn new(mode: Mode, order: u32, file: bool, first_mm: &'static str) -> World {
        let n = 1u32 << order;
        let mut w = World {
            mode,
            order,
            n,
            idmap: [0; 2],
            mms: Vec::new(),
            folios: Vec::new(),
            data: vec![false; n as usize],
            log: Vec::new(),
            split: Vec::new(),
            g: None,
            d_anon: 0,
            d_thp: 0,
            sum_anon: 0,
            sum_thp: 0,
            counts: Counts::default(),
        };
        MmIdAllocator::init(&mut w.idmap).expect("id allocator");
        let mut folio = Folio::new(mode, order, 0).expect("folio");
        if file {
            // In the page cache: N references (spec §1.5), no PG_private (not modelled).
            folio.refcount = n as i32;
        }
        w.create("F", folio, vec![Page::INIT; n as usize]);
        w.add_mm(first_mm).expect("first mm");
        w
    }

    fn create(&mut self, label: &str, folio: Folio, pages: Vec<Page>) -> usize {
        let idx = self.folios.len();
        self.log
            .push((idx, Op::Create(folio, pages.clone()), Out::Unit));
        self.folios.push(Cell {
            label: label.into(),
            folio,
            pages,
        });
        idx
    }

    fn add_mm(&mut self, name: &'static str) -> Result<u32, String> {
        let id = MmIdAllocator::resume(&mut self.idmap)
            .and_then(|mut a| a.alloc())
            .map_err(|e| format!("mm id allocation failed: {e:?}"))?;
        self.mms.push(Mm {
            name,
            id,
            alive: true,
            has_pinned: false,
            pte: vec![Ent::None; self.n as usize],
            pmd: PmdEnt::None,
        });
        Ok(id)
    }

    fn mm_idx(&self, name: &str) -> Result<usize, String> {
        self.mms
            .iter()
            .rposition(|m| m.name == name && m.alive)
            .ok_or_else(|| format!("no live mm {name}"))
    }

    /// The id of `name` (latest mm of that name, live or not), for `ids=[...]`.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.mms.iter().rev().find(|m| m.name == name).map(|m| m.id)
    }

    fn is_anon(&self, f: usize) -> bool {
        self.folios[f].folio.flags & FOLIO_ANON != 0
    }

    /// Runs `op` on folio `f` in the pure core, logs it and accounts its statistics.
    fn call(&mut self, f: usize, op: Op) -> Result<Out, String> {
        let anon_before = self.is_anon(f);
        let res = if let Op::MigrateMove { dst } = op {
            let (a, b) = if f < dst {
                let (lo, hi) = self.folios.split_at_mut(dst);
                (&mut lo[f], &mut hi[0])
            } else {
                let (lo, hi) = self.folios.split_at_mut(f);
                (&mut hi[0], &mut lo[dst])
            };
            let mut s = FolioMut::new(&mut a.folio, &mut a.pages).map_err(|e| format!("{e:?}"))?;
            let mut d = FolioMut::new(&mut b.folio, &mut b.pages).map_err(|e| format!("{e:?}"))?;
            exec(&op, &mut s, Some(&mut d))
        } else {
            let c = &mut self.folios[f];
            let mut s = FolioMut::new(&mut c.folio, &mut c.pages).map_err(|e| format!("{e:?}"))?;
            exec(&op, &mut s, None)
        };
        self.counts.calls += 1;
        let out = res.map_err(|e| format!("model refused {op:?} on folio {f}: {e:?}"))?;
        // Statistics (spec §3.6): NR_ANON_MAPPED / NR_ANON_THPS of anon folios.
        if anon_before || self.is_anon(f) {
            let rm: Vec<RmapOutcome> = match out {
                Out::Rmap(r) => vec![r],
                Out::Split(s) => vec![s.add, s.remove],
                Out::Mig(m) => vec![m.rmap],
                Out::Cow(c) => vec![c.rmap],
                _ => vec![],
            };
            for r in rm {
                self.stat(r.mapped_stat_delta as i64, r.pmdmapped_stat_delta as i64);
            }
        }
        self.log.push((f, op, out));
        Ok(out)
    }

    fn stat(&mut self, anon: i64, thp: i64) {
        self.d_anon += anon;
        self.d_thp += thp;
        self.sum_anon += anon;
        self.sum_thp += thp;
    }

    /// A new order-0 anon folio (CoW copy, fork copy) mapped once: `Δanon +1` (§7.5).
    fn new_small_copy(&mut self) {
        self.stat(1, 0);
    }

    fn folio_of(&self, m: usize, page: u32) -> Result<(usize, u32), String> {
        match self.mms[m].pmd {
            PmdEnt::Map { f, .. } => return Ok((f, page)),
            PmdEnt::None => {}
            PmdEnt::Migr { .. } => return err("page under PMD migration".into()),
        }
        match self.mms[m].pte[page as usize] {
            Ent::Pte { f, k, .. } => Ok((f, k)),
            e => err(format!("page {page} of {} is {e:?}", self.mms[m].name)),
        }
    }

    /// Executes one step. Returns the write-fault outcome where there is one.
    pub fn step(&mut self, step: &Step) -> Result<Option<Expect>, String> {
        self.d_anon = 0;
        self.d_thp = 0;
        match *step {
            Step::Fault { mm, written } => {
                let m = self.mm_idx(mm)?;
                let id = self.mms[m].id;
                self.call(F, Op::Fault { mm: id })?;
                if self.order >= PMD_ORDER {
                    self.mms[m].pmd = PmdEnt::Map { f: F, w: true };
                } else {
                    for k in 0..self.n {
                        self.mms[m].pte[k as usize] = Ent::Pte { f: F, k, w: true };
                    }
                }
                let (first, nr) = written.unwrap_or((0, self.n));
                for k in first..first + nr {
                    self.data[k as usize] = true;
                }
                Ok(None)
            }
            Step::FileMap { mm, first, nr } => {
                let m = self.mm_idx(mm)?;
                let id = self.mms[m].id;
                self.call(F, Op::FileMap { first, nr, mm: id })?;
                for k in first..first + nr {
                    // MAP_SHARED: writable PTEs, never CoW.
                    self.mms[m].pte[k as usize] = Ent::Pte { f: F, k, w: true };
                }
                Ok(None)
            }
            Step::Fork { parent, child } => self.fork(parent, child).map(|_| None),
            Step::Zap { mm, first, nr } => {
                let m = self.mm_idx(mm)?;
                self.zap(m, first, nr).map(|_| None)
            }
            Step::Exit { mm } => {
                let m = self.mm_idx(mm)?;
                self.zap(m, 0, self.n)?;
                self.mms[m].alive = false;
                let id = self.mms[m].id;
                MmIdAllocator::resume(&mut self.idmap)
                    .and_then(|mut a| a.free(id))
                    .map_err(|e| format!("mm id free failed: {e:?}"))?;
                Ok(None)
            }
            Step::Write { mm, page, expect } => {
                let m = self.mm_idx(mm)?;
                self.write(m, page, expect == Expect::Fallback, false, false)
                    .map(Some)
            }
            Step::ForcedWrite { mm, page, .. } => {
                let m = self.mm_idx(mm)?;
                self.write(m, page, false, false, true).map(Some)
            }
            Step::PinReadOnly { mm, page, .. } => {
                let m = self.mm_idx(mm)?;
                let out = self.write(m, page, false, true, false)?;
                self.mms[m].has_pinned = true;
                if out != Expect::Copy {
                    // The pin lands on F; a copy's pin lands on the new order-0 folio
                    // (ref += GUP_PIN_COUNTING_BIAS there), which is not tracked.
                    let (f, _) = self.folio_of(m, page)?;
                    self.call(f, Op::Pin(true))?;
                }
                Ok(Some(out))
            }
            Step::Pin { mm, page } => {
                let m = self.mm_idx(mm)?;
                let (f, k) = self.folio_of(m, page)?;
                if self.folios[f].pages[k as usize].flags & PAGE_ANON_EXCLUSIVE == 0
                    && matches!(self.mms[m].pmd, PmdEnt::None)
                {
                    return err("FOLL_PIN|FOLL_WRITE on a non-exclusive page".into());
                }
                self.call(f, Op::Pin(true))?;
                self.mms[m].has_pinned = true;
                Ok(None)
            }
            Step::Unpin { mm, page } => {
                let m = self.mm_idx(mm)?;
                let (f, _) = self.folio_of(m, page)?;
                self.call(f, Op::Pin(false))?;
                Ok(None)
            }
            Step::SplitPmd { mm } => {
                let m = self.mm_idx(mm)?;
                self.split_pmd(m).map(|_| None)
            }
            Step::MremapAligned { mm } => {
                // move_huge_pmd: the PMD moves whole, nothing changes (spec §6.3).
                self.mm_idx(mm)?;
                Ok(None)
            }
            Step::MigrateUnmap => self.migrate_unmap().map(|_| None),
            Step::MigrateMove => self.migrate_move().map(|_| None),
            Step::MigrateRemap => self.migrate_remap().map(|_| None),
            Step::SplitUnmap => self.split_unmap().map(|_| None),
            Step::SplitFreeze => self.split_freeze().map(|_| None),
            Step::SplitRemap => self.split_remap().map(|_| None),
            Step::ShrinkerSplit { ret } => {
                self.call(F, Op::Get(1))?;
                let got = match self.call(
                    F,
                    Op::SplitCheck {
                        order: 0,
                        caller: 1,
                    },
                )? {
                    Out::Ret(r) => r,
                    o => return err(format!("split check returned {o:?}")),
                };
                if got != ret {
                    return err(format!("split_folio: expected {ret}, model {got}"));
                }
                self.counts.outcomes += 1;
                if got != 0 {
                    // Re-queued (still on the list, PM kept), then folio_put.
                    self.call(F, Op::Put(1))?;
                }
                Ok(None)
            }
            Step::DebugfsPrecheck { skipped } => {
                let got = match self.call(
                    F,
                    Op::SplitCheck {
                        order: 0,
                        caller: 0,
                    },
                )? {
                    Out::Ret(r) => r != 0,
                    o => return err(format!("split check returned {o:?}")),
                };
                if got != skipped {
                    return err(format!("debugfs pre-check: expected skipped={skipped}"));
                }
                self.counts.outcomes += 1;
                Ok(None)
            }
        }
    }

    fn fork(&mut self, parent: &'static str, child: &'static str) -> Result<(), String> {
        let p = self.mm_idx(parent)?;
        let cid = self.add_mm(child)?;
        let c = self.mms.len() - 1;
        let pid = self.mms[p].id;
        let pinned = self.mms[p].has_pinned;
        if !self.is_anon(F) {
            // MAP_SHARED file VMA without anon_vma: vma_needs_copy() is false (§5.1).
            return Ok(());
        }
        if let PmdEnt::Map { f, w } = self.mms[p].pmd {
            let emc_before = self.folios[f].folio.entire_mapcount;
            let out = match self.call(
                f,
                Op::ForkPmd {
                    src: pid,
                    dst: cid,
                    pinned,
                },
            )? {
                Out::Fork(o) => o,
                o => return err(format!("fork_pmd returned {o:?}")),
            };
            if out.pmd_shared {
                self.mms[p].pmd = PmdEnt::Map { f, w: false };
                self.mms[c].pmd = PmdEnt::Map { f, w: false };
                return Ok(());
            }
            // The parent's PMD was split (pinned, §5.3), then copied at PTE level.
            // ForkOutcome does not carry the split's RmapOutcome: Δthp of the PMD removal
            // is derived from the entire mapcount going 0 → −1.
            if emc_before >= 0 && self.folios[f].folio.entire_mapcount < 0 {
                self.stat(0, -(self.n as i64));
            }
            self.mms[p].pmd = PmdEnt::None;
            for k in 0..self.n {
                self.mms[p].pte[k as usize] = Ent::Pte { f, k, w };
            }
            self.apply_fork_ptes(p, c, 0, self.n, &out);
            return Ok(());
        }
        // PTEs: one fork_ptes per maximal run of present PTEs mapping consecutive pages of
        // the same large folio (folio_pte_batch, write bit merged).
        let mut i = 0u32;
        while i < self.n {
            match self.mms[p].pte[i as usize] {
                Ent::Pte { f, k, .. } => {
                    let mut nr = 1;
                    let large = self.folios[f].folio.order > 0;
                    while large && i + nr < self.n {
                        match self.mms[p].pte[(i + nr) as usize] {
                            Ent::Pte { f: f2, k: k2, .. } if f2 == f && k2 == k + nr => nr += 1,
                            _ => break,
                        }
                    }
                    let out = match self.call(
                        f,
                        Op::ForkPtes {
                            first: k,
                            nr,
                            dst: cid,
                            pinned,
                        },
                    )? {
                        Out::Fork(o) => o,
                        o => return err(format!("fork_ptes returned {o:?}")),
                    };
                    self.apply_fork_ptes_at(p, c, i, k, nr, f, &out);
                    i += nr;
                }
                Ent::Copy { .. } => {
                    // Another (untracked) order-0 anon folio: shared read-only.
                    self.mms[p].pte[i as usize] = Ent::Copy { w: false };
                    self.mms[c].pte[i as usize] = Ent::Copy { w: false };
                    i += 1;
                }
                e => {
                    self.mms[c].pte[i as usize] = e;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn apply_fork_ptes(&mut self, p: usize, c: usize, first: u32, nr: u32, out: &ForkOutcome) {
        self.apply_fork_ptes_at(p, c, first, first, nr, F, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_fork_ptes_at(
        &mut self,
        p: usize,
        c: usize,
        vpage: u32,
        first: u32,
        nr: u32,
        f: usize,
        out: &ForkOutcome,
    ) {
        for j in 0..nr {
            let (v, k) = ((vpage + j) as usize, first + j);
            if out.page_copied(k) {
                // copy_present_page: new order-0 PAE folio, child PTE writable; the
                // parent's PTE is left untouched (§5.2).
                self.mms[c].pte[v] = Ent::Copy { w: true };
                self.new_small_copy();
            } else {
                self.mms[p].pte[v] = Ent::Pte { f, k, w: false };
                self.mms[c].pte[v] = Ent::Pte { f, k, w: false };
            }
        }
    }

    /// munmap / MADV_DONTNEED of region pages `[first, first + nr)` in mm `m` (§6.2).
    fn zap(&mut self, m: usize, first: u32, nr: u32) -> Result<(), String> {
        let id = self.mms[m].id;
        match self.mms[m].pmd {
            PmdEnt::Map { f, .. } if first == 0 && nr == self.n => {
                self.call(f, Op::ZapPmd { mm: id })?;
                self.mms[m].pmd = PmdEnt::None;
                return Ok(());
            }
            PmdEnt::Map { .. } => self.split_pmd(m)?,
            PmdEnt::Migr { .. } => return err("zap of a PMD migration entry".into()),
            PmdEnt::None => {}
        }
        let end = first + nr;
        let mut i = first;
        while i < end {
            match self.mms[m].pte[i as usize] {
                Ent::Pte { f, k, .. } => {
                    let mut run = 1;
                    let large = self.folios[f].folio.order > 0;
                    while large && i + run < end {
                        match self.mms[m].pte[(i + run) as usize] {
                            Ent::Pte { f: f2, k: k2, .. } if f2 == f && k2 == k + run => run += 1,
                            _ => break,
                        }
                    }
                    self.call(
                        f,
                        Op::ZapPtes {
                            first: k,
                            nr: run,
                            mm: id,
                        },
                    )?;
                    for v in i..i + run {
                        self.mms[m].pte[v as usize] = Ent::None;
                    }
                    i += run;
                }
                Ent::Migr { .. } => return err("zap of a migration entry".into()),
                _ => {
                    self.mms[m].pte[i as usize] = Ent::None;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn split_pmd(&mut self, m: usize) -> Result<(), String> {
        let PmdEnt::Map { f, w } = self.mms[m].pmd else {
            return err(format!("{} has no PMD mapping", self.mms[m].name));
        };
        let id = self.mms[m].id;
        self.call(
            f,
            Op::SplitPmd {
                mm: id,
                freeze: false,
                w,
            },
        )?;
        self.mms[m].pmd = PmdEnt::None;
        for k in 0..self.n {
            // The PTEs inherit the PMD's write bit (§6.1 step 3).
            self.mms[m].pte[k as usize] = Ent::Pte { f, k, w };
        }
        Ok(())
    }

    /// A write (`unshare`: a read-only pin's unshare fault; `forced`: a fault even on a
    /// writable PTE) to region page `page` in mm `m` (§7).
    fn write(
        &mut self,
        m: usize,
        page: u32,
        stop_at_fallback: bool,
        unshare: bool,
        forced: bool,
    ) -> Result<Expect, String> {
        let id = self.mms[m].id;
        if let PmdEnt::Map { f, w } = self.mms[m].pmd {
            if w && !forced {
                return Ok(Expect::NoFault);
            }
            let out = match self.call(f, Op::WpPmd { mm: id })? {
                Out::Cow(o) => o,
                o => return err(format!("wp_fault_pmd returned {o:?}")),
            };
            if out.decision == CowDecision::Reuse as u32 {
                self.mms[m].pmd = PmdEnt::Map { f, w: !unshare };
                return Ok(Expect::Reuse);
            }
            if out.decision != CowDecision::Fallback as u32 {
                return err(format!("wp_fault_pmd decided {out:?}"));
            }
            self.mms[m].pmd = PmdEnt::None;
            for k in 0..self.n {
                self.mms[m].pte[k as usize] = Ent::Pte { f, k, w };
            }
            if stop_at_fallback {
                return Ok(Expect::Fallback);
            }
        }
        match self.mms[m].pte[page as usize] {
            Ent::Pte { w: true, .. } | Ent::Copy { w: true } if !forced => Ok(Expect::NoFault),
            Ent::Pte { f, k, w } => {
                let out = match self.call(f, Op::WpPte { k, mm: id, unshare })? {
                    Out::Cow(o) => o,
                    o => return err(format!("wp_fault_pte returned {o:?}")),
                };
                if out.decision == CowDecision::Reuse as u32 {
                    self.mms[m].pte[page as usize] = Ent::Pte {
                        f,
                        k,
                        w: w || !unshare,
                    };
                    Ok(Expect::Reuse)
                } else if out.decision == CowDecision::Copy as u32 {
                    self.mms[m].pte[page as usize] = Ent::Copy { w: !unshare };
                    self.new_small_copy();
                    Ok(Expect::Copy)
                } else {
                    err(format!("wp_fault_pte decided {out:?}"))
                }
            }
            Ent::Zero => {
                // Zero-page CoW: a new zeroed order-0 folio (§7.5 step 1).
                self.mms[m].pte[page as usize] = Ent::Copy { w: !unshare };
                self.new_small_copy();
                Ok(Expect::Copy)
            }
            e => err(format!("write to page {page}: entry {e:?} is not tracked")),
        }
    }

    fn migrate_unmap(&mut self) -> Result<(), String> {
        // migrate_pages isolates the folio: one reference held until the move is done.
        self.call(F, Op::Get(1))?;
        self.unmap_to_migration_entries(false)
    }

    /// `try_to_migrate` over every mm, in creation order; PTEs one at a time (§6.5).
    /// `freeze_pmd`: PMDs are freeze-split (`TTU_SPLIT_HUGE_PMD`, folio split) instead of
    /// becoming PMD migration entries.
    fn unmap_to_migration_entries(&mut self, freeze_pmd: bool) -> Result<(), String> {
        for m in 0..self.mms.len() {
            if !self.mms[m].alive {
                continue;
            }
            let id = self.mms[m].id;
            if let PmdEnt::Map { f, w } = self.mms[m].pmd {
                if f != F {
                    continue;
                }
                if freeze_pmd {
                    let out = match self.call(
                        F,
                        Op::SplitPmd {
                            mm: id,
                            freeze: true,
                            w,
                        },
                    )? {
                        Out::Split(o) => o,
                        o => return err(format!("split_pmd returned {o:?}")),
                    };
                    if !out.frozen {
                        return err("freeze split did not freeze".into());
                    }
                    let e = MigrationEntry::from_raw(out.entry).map_err(|e| format!("{e:?}"))?;
                    self.mms[m].pmd = PmdEnt::None;
                    for k in 0..self.n {
                        self.mms[m].pte[k as usize] = Ent::Migr { f: F, k, e };
                    }
                } else {
                    let out = match self.call(F, Op::MigUnmapPmd { mm: id, w })? {
                        Out::Mig(o) => o,
                        o => return err(format!("migrate_unmap_pmd returned {o:?}")),
                    };
                    if out.ret != 0 {
                        return err(format!("set_pmd_migration_entry failed: {}", out.ret));
                    }
                    let e = MigrationEntry::from_raw(out.entry).map_err(|e| format!("{e:?}"))?;
                    self.mms[m].pmd = PmdEnt::Migr { f: F, e };
                }
                continue;
            }
            for v in 0..self.n {
                if let Ent::Pte { f, k, w } = self.mms[m].pte[v as usize] {
                    if f != F {
                        continue;
                    }
                    let out = match self.call(F, Op::MigUnmapPte { k, mm: id, w })? {
                        Out::Mig(o) => o,
                        o => return err(format!("migrate_unmap_pte returned {o:?}")),
                    };
                    if out.ret != 0 {
                        return err(format!("try_to_migrate_one failed: {}", out.ret));
                    }
                    let e = MigrationEntry::from_raw(out.entry).map_err(|e| format!("{e:?}"))?;
                    self.mms[m].pte[v as usize] = Ent::Migr { f: F, k, e };
                }
            }
        }
        Ok(())
    }

    fn migrate_move(&mut self) -> Result<(), String> {
        let folio = Folio::new(self.mode, self.order, 0).map_err(|e| format!("{e:?}"))?;
        let g = self.create("G", folio, vec![Page::INIT; self.n as usize]);
        self.g = Some(g);
        match self.call(F, Op::MigrateMove { dst: g })? {
            Out::Ret(0) => {}
            o => return err(format!("migrate_folio_move returned {o:?}")),
        }
        // migrate_folio_done(src): the isolation reference; F is freed.
        self.call(F, Op::Put(1))?;
        Ok(())
    }

    fn migrate_remap(&mut self) -> Result<(), String> {
        let g = self.g.ok_or("no destination folio")?;
        for m in 0..self.mms.len() {
            if !self.mms[m].alive {
                continue;
            }
            let id = self.mms[m].id;
            if let PmdEnt::Migr { f: F, e } = self.mms[m].pmd {
                self.call(g, Op::MigRestorePmd { mm: id, e })?;
                self.mms[m].pmd = PmdEnt::Map {
                    f: g,
                    w: e == MigrationEntry::Writable,
                };
            }
            for v in 0..self.n as usize {
                if let Ent::Migr { f: F, k, e } = self.mms[m].pte[v] {
                    self.call(g, Op::MigRestorePte { k, mm: id, e })?;
                    self.mms[m].pte[v] = Ent::Pte {
                        f: g,
                        k,
                        w: e == MigrationEntry::Writable,
                    };
                }
            }
        }
        // migrate_folio_move's final folio_put(dst).
        self.call(g, Op::Put(1))?;
        Ok(())
    }

    fn split_unmap(&mut self) -> Result<(), String> {
        // The splitter's reference (debugfs / shrinker folio_get), then §6.4 step 4.
        self.call(F, Op::Get(1))?;
        match self.call(
            F,
            Op::SplitCheck {
                order: 0,
                caller: 1,
            },
        )? {
            Out::Ret(0) => {}
            o => return err(format!("split precondition: {o:?}")),
        }
        self.counts.outcomes += 1;
        self.unmap_to_migration_entries(true)
    }

    fn split_freeze(&mut self) -> Result<(), String> {
        // folio_ref_freeze(folio, 1): only the splitter's reference may be left (§6.4.6).
        let r = self.folios[F].folio.refcount;
        if r != 1 {
            return err(format!("split freeze: refcount {r}, expected 1"));
        }
        self.counts.outcomes += 1;
        // Frozen: off the deferred list, PM cleared; the large folio ceases to exist.
        self.call(F, Op::Put(1))?;
        let flags = self.folios[F].folio.flags & FOLIO_ANON;
        self.split = Vec::with_capacity(self.n as usize);
        for k in 0..self.n {
            let mut folio = Folio::new(self.mode, 0, 0).map_err(|e| format!("{e:?}"))?;
            // Flags copied to the new folios; each holds one (unfrozen) reference.
            folio.flags = flags;
            let idx = self.create(&format!("f[{k}]"), folio, vec![Page::INIT]);
            self.split.push(idx);
        }
        Ok(())
    }

    fn split_remap(&mut self) -> Result<(), String> {
        for m in 0..self.mms.len() {
            if !self.mms[m].alive {
                continue;
            }
            let id = self.mms[m].id;
            for v in 0..self.n as usize {
                if let Ent::Migr { f: F, k, e } = self.mms[m].pte[v] {
                    if !self.data[k as usize] {
                        // TTU_USE_SHARED_ZEROPAGE: an all-zero page maps the zeropage, no
                        // rmap (§6.4.7).
                        self.mms[m].pte[v] = Ent::Zero;
                        continue;
                    }
                    let f = self.split[k as usize];
                    self.call(f, Op::MigRestorePte { k: 0, mm: id, e })?;
                    self.mms[m].pte[v] = Ent::Pte {
                        f,
                        k: 0,
                        w: e == MigrationEntry::Writable,
                    };
                }
            }
        }
        // free_folio_and_swap_cache / the caller's put: each result drops the split's
        // reference; unmapped ones are freed.
        for k in 0..self.n as usize {
            self.call(self.split[k], Op::Put(1))?;
        }
        Ok(())
    }

    /// Replays the log on the stateful layer (`SyncFolio` over atomics built from the same
    /// initial states) and compares every outcome and the final state of every folio.
    pub fn replay_sync(&mut self) -> Vec<Mismatch> {
        let mut bad = Vec::new();
        let mut cells: Vec<(AtomicFolio, Vec<AtomicPage>)> = Vec::new();
        for (i, (f, op, out)) in self.log.iter().enumerate() {
            if let Op::Create(folio, pages) = op {
                cells.push((
                    AtomicFolio::new(*folio),
                    pages.iter().map(|p| AtomicPage::new(*p)).collect(),
                ));
                continue;
            }
            let got = {
                let (af, ap) = &cells[*f];
                let mut s = match SyncFolio::new(af, ap) {
                    Ok(s) => s,
                    Err(e) => {
                        bad.push(Mismatch {
                            field: format!("sync folio {f}"),
                            expected: "a SyncFolio".into(),
                            actual: format!("{e:?}"),
                        });
                        return bad;
                    }
                };
                if let Op::MigrateMove { dst } = op {
                    let (bf, bp) = &cells[*dst];
                    match SyncFolio::new(bf, bp) {
                        Ok(mut d) => exec(op, &mut s, Some(&mut d)),
                        Err(e) => Err(e),
                    }
                } else {
                    exec(op, &mut s, None)
                }
            };
            self.counts.sync_checks += 1;
            if got.as_ref() != Ok(out) {
                bad.push(Mismatch {
                    field: format!("sync outcome of call #{i} {op:?}"),
                    expected: format!("{out:?}"),
                    actual: format!("{got:?}"),
                });
            }
        }
        for (i, (af, ap)) in cells.iter().enumerate() {
            let a = af.load();
            let p = &self.folios[i].folio;
            let fields: [(&str, i64, i64); 11] = [
                ("flags", p.flags as i64, a.flags as i64),
                ("ref", p.refcount as i64, a.refcount as i64),
                ("pincount", p.pincount as i64, a.pincount as i64),
                ("lmc", p.large_mapcount as i64, a.large_mapcount as i64),
                ("emc", p.entire_mapcount as i64, a.entire_mapcount as i64),
                ("nrpm", p.nr_pages_mapped as i64, a.nr_pages_mapped as i64),
                (
                    "mmc[0]",
                    p.mm_id_mapcount[0] as i64,
                    a.mm_id_mapcount[0] as i64,
                ),
                (
                    "mmc[1]",
                    p.mm_id_mapcount[1] as i64,
                    a.mm_id_mapcount[1] as i64,
                ),
                ("mm_ids", p.mm_ids as i64, a.mm_ids as i64),
                ("order", p.order as i64, a.order as i64),
                ("mode", p.mode as i64, a.mode as i64),
            ];
            for (name, pure, sync) in fields {
                self.counts.sync_checks += 1;
                if pure != sync {
                    bad.push(Mismatch {
                        field: format!("sync final {}.{name}", self.folios[i].label),
                        expected: format!("{pure}"),
                        actual: format!("{sync}"),
                    });
                }
            }
            for (k, page) in ap.iter().enumerate() {
                self.counts.sync_checks += 1;
                let (pure, sync) = (self.folios[i].pages[k], page.load());
                if pure != sync {
                    bad.push(Mismatch {
                        field: format!("sync final {}.page[{k}]", self.folios[i].label),
                        expected: format!("{pure:?}"),
                        actual: format!("{sync:?}"),
                    });
                }
            }
        }
        bad
    }

    /// [NOPMC]: every page of every large folio keeps `_mapcount == -1` (spec §1.2).
    pub fn check_nopmc_pages(&mut self) -> Vec<Mismatch> {
        let mut bad = Vec::new();
        if self.mode != Mode::Nopmc {
            return bad;
        }
        for c in &self.folios {
            if c.folio.order == 0 {
                continue;
            }
            self.counts.nopmc_page_checks += 1;
            if let Some(k) = c.pages.iter().position(|p| p.mapcount != -1) {
                bad.push(Mismatch {
                    field: format!("{}.pmc[{k}] ([NOPMC] invariant)", c.label),
                    expected: "-1".into(),
                    actual: format!("{}", c.pages[k].mapcount),
                });
            }
        }
        bad
    }
}

// ---------------------------------------------------------------------------------------
// The expected-state notation.

fn parse_int(s: &str) -> Result<i64, String> {
    let t = s.trim_start_matches('+');
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let v = if let Some(h) = t.strip_prefix("0x") {
        i64::from_str_radix(h, 16)
    } else {
        t.parse::<i64>()
    }
    .map_err(|_| format!("bad number {s:?}"))?;
    Ok(if neg { -v } else { v })
}

/// `0..15` (inclusive, as the spec writes it), `3`, `0,1,3..7`; `*` = all of `0..n`.
fn parse_list(s: &str, n: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    if s == "*" {
        return Ok((0..n).collect());
    }
    for part in s.split(',').filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let (a, b) = (parse_int(a)? as u32, parse_int(b)? as u32);
            out.extend(a..=b);
        } else {
            out.push(parse_int(part)? as u32);
        }
    }
    Ok(out)
}

fn strip_brackets(s: &str) -> Result<&str, String> {
    let b = s.as_bytes();
    if b.len() >= 2
        && ((b[0] == b'[' && b[b.len() - 1] == b']') || (b[0] == b'{' && b[b.len() - 1] == b'}'))
    {
        Ok(&s[1..s.len() - 1])
    } else {
        Err(format!("expected [..] or {{..}}: {s:?}"))
    }
}

fn fmt_set(v: &[u32]) -> String {
    let mut s = String::from("{");
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if !s.ends_with('{') {
            s.push(',');
        }
        if j > i {
            let _ = write!(s, "{}..{}", v[i], v[j]);
        } else {
            let _ = write!(s, "{}", v[i]);
        }
        i = j + 1;
    }
    s.push('}');
    s
}

/// `MM.pte[..]` / `MM.pmd`: a page-table view, not a folio field.
fn is_view(key: &str) -> bool {
    !key.starts_with("pmc") && key.contains('.')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Both,
    Pmc,
    Nopmc,
}

/// Target of the following fields: one folio, or a range of split results.
enum Target {
    Folio(usize),
    Split(Vec<u32>),
}

impl World {
    fn ent_name(e: Ent) -> &'static str {
        match e {
            Ent::None => "none",
            Ent::Pte { w: true, .. } => "rw",
            Ent::Pte { w: false, .. } => "ro",
            Ent::Copy { .. } => "copy",
            Ent::Zero => "zero",
            Ent::Migr { .. } => "migr",
        }
    }

    /// Checks an expected state written in the spec's notation; returns the mismatches
    /// and counts one assertion per field (per folio for a range of split results).
    pub fn check(&mut self, exp: &str) -> Result<Vec<Mismatch>, String> {
        let mut bad = Vec::new();
        let mut section = Section::Both;
        let mut target = Target::Folio(F);
        for raw in exp.split_whitespace() {
            let tok = raw.trim_end_matches(';');
            match tok {
                "[PMC]" => {
                    section = Section::Pmc;
                    continue;
                }
                "[NOPMC]" => {
                    section = Section::Nopmc;
                    continue;
                }
                "[BOTH]" => {
                    section = Section::Both;
                    continue;
                }
                "F:" => {
                    target = Target::Folio(F);
                    continue;
                }
                "G:" => {
                    target = Target::Folio(self.g.ok_or("G: no destination folio")?);
                    continue;
                }
                _ => {}
            }
            if let Some(inner) = tok.strip_prefix("f[").and_then(|t| t.strip_suffix("]:")) {
                target = Target::Split(parse_list(inner, self.n)?);
                continue;
            }
            let applies = match section {
                Section::Both => true,
                Section::Pmc => self.mode == Mode::Pmc,
                Section::Nopmc => self.mode == Mode::Nopmc,
            };
            if !applies {
                continue;
            }
            let (key, val) = tok
                .split_once('=')
                .ok_or_else(|| format!("bad token {tok:?} in {exp:?}"))?;
            match &target {
                Target::Folio(f) => {
                    self.counts.fields += 1;
                    if let Some((e, a)) = self.field(*f, key, val)? {
                        let what = if is_view(key) {
                            key.to_string()
                        } else {
                            format!("{}.{key}", self.folios[*f].label)
                        };
                        bad.push(Mismatch {
                            field: what,
                            expected: e,
                            actual: a,
                        });
                    }
                }
                Target::Split(pages) => {
                    for &k in pages {
                        let f = *self.split.get(k as usize).ok_or("no split results")?;
                        self.counts.fields += 1;
                        if let Some((e, a)) = self.field(f, key, val)? {
                            bad.push(Mismatch {
                                field: format!("{}.{key}", self.folios[f].label),
                                expected: e,
                                actual: a,
                            });
                        }
                    }
                }
            }
        }
        Ok(bad)
    }

    /// One field: `None` when it matches, else `(expected, actual)`.
    fn field(
        &mut self,
        f: usize,
        key: &str,
        val: &str,
    ) -> Result<Option<(String, String)>, String> {
        let num = |actual: i64| -> Result<Option<(String, String)>, String> {
            let e = parse_int(val)?;
            Ok((e != actual).then(|| (val.to_string(), actual.to_string())))
        };
        let flag = |actual: bool| -> Result<Option<(String, String)>, String> {
            let e = match val {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(format!("bad boolean {val:?}")),
            };
            Ok((e != actual).then(|| (val.to_string(), (actual as u8).to_string())))
        };
        // Views: P.pte[a..b]=rw|ro|none|copy|zero, P.pmd=rw|ro|none.
        if let Some((mm, rest)) = key.split_once('.').filter(|_| is_view(key)) {
            let m = self
                .mms
                .iter()
                .rposition(|x| x.name == mm)
                .ok_or_else(|| format!("unknown mm {mm}"))?;
            if rest == "pmd" {
                let a = match self.mms[m].pmd {
                    PmdEnt::None => "none",
                    PmdEnt::Map { w: true, .. } => "rw",
                    PmdEnt::Map { w: false, .. } => "ro",
                    PmdEnt::Migr { .. } => "migr",
                };
                return Ok((a != val).then(|| (val.into(), a.into())));
            }
            let inner = rest
                .strip_prefix("pte")
                .ok_or_else(|| format!("bad view {key}"))?;
            let pages = parse_list(strip_brackets(inner)?, self.n)?;
            for k in pages {
                let a = Self::ent_name(self.mms[m].pte[k as usize]);
                if a != val {
                    return Ok(Some((format!("pte[{k}]={val}"), format!("pte[{k}]={a}"))));
                }
            }
            return Ok(None);
        }
        let c = &self.folios[f];
        let folio = c.folio;
        let n = 1u32 << folio.order;
        if let Some(sel) = key.strip_prefix("pmc") {
            let pages = parse_list(strip_brackets(sel)?, n)?;
            let e = parse_int(val)?;
            for k in pages {
                let a = c.pages[k as usize].mapcount as i64;
                if a != e {
                    return Ok(Some((format!("pmc[{k}]={e}"), format!("pmc[{k}]={a}"))));
                }
            }
            return Ok(None);
        }
        match key {
            "ref" => num(folio.refcount as i64),
            "lmc" => num(folio.large_mapcount as i64),
            "emc" => num(folio.entire_mapcount as i64),
            "nrpm" => num(folio.nr_pages_mapped as i64),
            "pincount" => num(folio.pincount as i64),
            "_mapcount" => num(c.pages[0].mapcount as i64),
            "S" => flag(folio.shared_bit()),
            "pmap" => flag(folio.flags & FOLIO_PARTIALLY_MAPPED != 0),
            "dq" => flag(folio.flags & FOLIO_DEFERRED_LIST != 0),
            "Δanon" => num(self.d_anon),
            "Δthp" => num(self.d_thp),
            "Σanon" => num(self.sum_anon),
            "Σthp" => num(self.sum_thp),
            "ids" => {
                let mut e = Vec::new();
                for name in strip_brackets(val)?.split(',') {
                    e.push(match name {
                        "0" => 0,
                        _ => self
                            .id_of(name)
                            .ok_or_else(|| format!("unknown mm {name}"))?,
                    });
                }
                let a = vec![folio.mm_id(0), folio.mm_id(1)];
                Ok((e != a).then(|| (format!("{val}={e:?}"), format!("{a:?}"))))
            }
            "mmc" => {
                let e: Vec<i64> = strip_brackets(val)?
                    .split(',')
                    .map(parse_int)
                    .collect::<Result<_, _>>()?;
                let a = vec![
                    folio.mm_id_mapcount[0] as i64,
                    folio.mm_id_mapcount[1] as i64,
                ];
                Ok((e != a).then(|| (val.to_string(), format!("{a:?}"))))
            }
            "pae" => {
                let e = parse_list(strip_brackets(val)?, n)?;
                let a: Vec<u32> = (0..n)
                    .filter(|&k| c.pages[k as usize].flags & PAGE_ANON_EXCLUSIVE != 0)
                    .collect();
                Ok((e != a).then(|| (fmt_set(&e), fmt_set(&a))))
            }
            "mapcount" | "shared" | "expected_ref" => {
                let (mut fo, mut pg) = (folio, c.pages.clone());
                let s = FolioMut::new(&mut fo, &mut pg).map_err(|e| format!("{e:?}"))?;
                match key {
                    "mapcount" => num(query::mapcount(&s) as i64),
                    "shared" => flag(query::maybe_mapped_shared(&s)),
                    _ => num(query::expected_ref_count(&s) as i64),
                }
            }
            _ => Err(format!("unknown field {key:?}")),
        }
    }
}

/// One row of a scenario table: a step and the state the spec gives after it.
pub struct Row {
    pub step: Step,
    pub expect: String,
    /// `// spec erratum` notes travel with the row (for the report).
    pub note: Option<&'static str>,
}

pub struct Scenario {
    pub name: &'static str,
    pub order: u32,
    pub file: bool,
    pub rows: Vec<Row>,
}

/// Runs one scenario in one mode; returns formatted failures.
pub fn run(sc: &Scenario, mode: Mode, counts: &mut Counts) -> Vec<String> {
    let mut w = World::new(mode, sc.order, sc.file, "P");
    let mut fails = Vec::new();
    let mode_name = match mode {
        Mode::Pmc => "PMC",
        Mode::Nopmc => "NOPMC",
    };
    for (i, row) in sc.rows.iter().enumerate() {
        let label = row.step.label();
        let at = format!("{} [{mode_name}] step {} ({label})", sc.name, i + 1);
        w.counts.steps += 1;
        match w.step(&row.step) {
            Err(e) => {
                fails.push(format!("{at}: {e}"));
                break;
            }
            Ok(got) => {
                let want = match row.step {
                    Step::Write { expect, .. }
                    | Step::ForcedWrite { expect, .. }
                    | Step::PinReadOnly { expect, .. } => Some(expect),
                    _ => None,
                };
                if let Some(want) = want {
                    w.counts.outcomes += 1;
                    if got != Some(want) {
                        fails.push(format!(
                            "{at}: field outcome: expected {want:?}, actual {got:?}"
                        ));
                    }
                }
            }
        }
        let mut bad = match w.check(&row.expect) {
            Ok(b) => b,
            Err(e) => {
                fails.push(format!("{at}: bad expectation: {e}"));
                break;
            }
        };
        bad.extend(w.check_nopmc_pages());
        for m in bad {
            fails.push(format!(
                "{at}: field {}: expected {}, actual {}",
                m.field, m.expected, m.actual
            ));
        }
    }
    for m in w.replay_sync() {
        fails.push(format!(
            "{} [{mode_name}] stateful layer: field {}: expected {}, actual {}",
            sc.name, m.field, m.expected, m.actual
        ));
    }
    let c = w.counts;
    counts.steps += c.steps;
    counts.fields += c.fields;
    counts.outcomes += c.outcomes;
    counts.nopmc_page_checks += c.nopmc_page_checks;
    counts.sync_checks += c.sync_checks;
    counts.calls += c.calls;
    fails
}
