//! What an event did to the mappings, per mm: the input every alternative scheme
//! accounts (they replace only the mapcount / ownership metadata; references, pins,
//! `PageAnonExclusive` and flags come from the 7.3 model, which reproduces the kernel).

use foliomap::kernel::PMD_NR as PMD_NR_PAGES;
use foliomap::trace::{TraceEvent, TraceOp};
use foliomap::types::CowDecision;

use crate::model::Outcome;

/// One mapping change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delta {
    /// `mm` maps (`add`) or unmaps pages `[first, first + nr)` by PTEs.
    Pte {
        /// The mm.
        mm: u32,
        /// First page.
        first: u32,
        /// Pages.
        nr: u32,
        /// Map or unmap.
        add: bool,
    },
    /// `mm` maps or unmaps the whole (order-9) folio by one PMD.
    Pmd {
        /// The mm.
        mm: u32,
        /// Map or unmap.
        add: bool,
    },
}

/// The mapping changes of `ev` given the model's outcome (`nr_pages`: the folio's).
pub fn deltas(ev: &TraceEvent, out: &Outcome, nr_pages: u32, out_vec: &mut Vec<Delta>) {
    out_vec.clear();
    let Some(op) = TraceOp::from_raw(ev.op) else {
        return;
    };
    let (first, nr, mm) = (ev.first as u32, ev.nr as u32, ev.mm);
    let pte = |v: &mut Vec<Delta>, mm, first, nr, add| {
        if nr > 0 {
            v.push(Delta::Pte { mm, first, nr, add })
        }
    };
    let ok = |o: &Outcome| match o {
        Outcome::Rmap(r) => r.ret == 0,
        Outcome::Migrate(m) => m.ret == 0,
        _ => true,
    };
    use TraceOp as T;
    match op {
        T::AddNewAnon | T::FaultAnon => {
            if nr_pages == PMD_NR_PAGES {
                out_vec.push(Delta::Pmd { mm, add: true });
            } else {
                pte(out_vec, mm, 0, nr_pages, true);
            }
        }
        T::AddAnonPtes | T::AddFilePtes | T::DupFilePtes | T::MigrateRestorePte => {
            pte(out_vec, mm, first, nr.max(1), true)
        }
        T::TryDupAnonPtes if ok(out) => pte(out_vec, mm, first, nr, true),
        T::AddAnonPmd | T::AddFilePmd | T::MigrateRestorePmd => {
            out_vec.push(Delta::Pmd { mm, add: true })
        }
        T::TryDupAnonPmd if ok(out) => out_vec.push(Delta::Pmd { mm, add: true }),
        T::RemovePtes | T::ZapPtes => pte(out_vec, mm, first, nr, false),
        T::MigrateUnmapPte if ok(out) => pte(out_vec, mm, first, 1, false),
        T::RemovePmd | T::ZapPmd => out_vec.push(Delta::Pmd { mm, add: false }),
        T::MigrateUnmapPmd if ok(out) => out_vec.push(Delta::Pmd { mm, add: false }),
        T::ForkPtes => {
            if let Outcome::Fork(f) = out {
                // runs of pages shared with the child (copied pages went to new folios)
                let mut k = first;
                while k < first + nr {
                    if f.page_copied(k) {
                        k += 1;
                        continue;
                    }
                    let start = k;
                    while k < first + nr && !f.page_copied(k) {
                        k += 1;
                    }
                    pte(out_vec, mm, start, k - start, true);
                }
            }
        }
        T::ForkPmd => {
            if let Outcome::Fork(f) = out {
                if f.pmd_shared {
                    out_vec.push(Delta::Pmd { mm, add: true });
                } else if f.pmd_split {
                    out_vec.push(Delta::Pmd {
                        mm: ev.arg,
                        add: false,
                    });
                    if !f.split.frozen {
                        pte(out_vec, ev.arg, 0, nr_pages, true);
                    }
                }
            }
        }
        T::SplitPmd => {
            // __split_huge_pmd_locked adds the PTE mappings before it removes the PMD's
            if let Outcome::Split(s) = out {
                if !s.frozen {
                    pte(out_vec, mm, 0, nr_pages, true);
                }
            }
            out_vec.push(Delta::Pmd { mm, add: false });
        }
        T::WpFaultPte => {
            if let Outcome::Cow(c) = out {
                if c.decision == CowDecision::Copy as u32 {
                    pte(out_vec, mm, first, 1, false);
                }
            }
        }
        T::WpFaultPmd => {
            if let Outcome::Cow(c) = out {
                if c.decision == CowDecision::Fallback as u32 {
                    pte(out_vec, mm, 0, nr_pages, true);
                    out_vec.push(Delta::Pmd { mm, add: false });
                }
            }
        }
        _ => {}
    }
}
