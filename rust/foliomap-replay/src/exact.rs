//! Exact per-mm, per-page mapping counts: the ground truth every scheme is measured
//! against (and the `exact` scheme's state).

use crate::delta::Delta;

#[derive(Clone, Debug)]
struct MmMaps {
    mm: u32,
    /// PTE mappings of each page by this mm.
    pte: Vec<u16>,
    /// PMD mappings by this mm.
    pmd: u32,
    /// All mappings (PTEs + PMDs) by this mm.
    total: u32,
}

/// The exact mappings of one folio.
#[derive(Clone, Debug, Default)]
pub struct Exact {
    nr: u32,
    mms: Vec<MmMaps>,
    /// PTE mappings of each page, all mms.
    pte_total: Vec<u32>,
    /// PMD mappings, all mms.
    pmd_total: u32,
    /// Pages with at least one PTE mapping.
    pte_mapped_pages: u32,
    /// Most mms that mapped the folio at once.
    pub peak_mms: u32,
    /// A delta that unmapped something not mapped (the stream started mid-life or the
    /// trace is inconsistent): the truth is unknown from then on.
    pub broken: bool,
}

impl Exact {
    /// An unmapped folio of `nr` pages.
    pub fn new(nr: u32) -> Exact {
        Exact {
            nr,
            pte_total: vec![0; nr as usize],
            ..Exact::default()
        }
    }

    fn slot(&mut self, mm: u32) -> usize {
        if let Some(i) = self.mms.iter().position(|m| m.mm == mm) {
            return i;
        }
        self.mms.push(MmMaps {
            mm,
            pte: vec![0; self.nr as usize],
            pmd: 0,
            total: 0,
        });
        self.mms.len() - 1
    }

    /// Applies one mapping change.
    pub fn apply(&mut self, d: &Delta) {
        match *d {
            Delta::Pte { mm, first, nr, add } => {
                let i = self.slot(mm);
                let end = (first + nr).min(self.nr);
                for k in first as usize..end as usize {
                    let m = &mut self.mms[i];
                    if add {
                        m.pte[k] += 1;
                        m.total += 1;
                        self.pte_total[k] += 1;
                        if self.pte_total[k] == 1 {
                            self.pte_mapped_pages += 1;
                        }
                    } else if m.pte[k] == 0 {
                        self.broken = true;
                    } else {
                        m.pte[k] -= 1;
                        m.total -= 1;
                        self.pte_total[k] -= 1;
                        if self.pte_total[k] == 0 {
                            self.pte_mapped_pages -= 1;
                        }
                    }
                }
            }
            Delta::Pmd { mm, add } => {
                let i = self.slot(mm);
                let m = &mut self.mms[i];
                if add {
                    m.pmd += 1;
                    m.total += 1;
                    self.pmd_total += 1;
                } else if m.pmd == 0 {
                    self.broken = true;
                } else {
                    m.pmd -= 1;
                    m.total -= 1;
                    self.pmd_total -= 1;
                }
            }
        }
        let mapping = self.mms.iter().filter(|m| m.total > 0).count() as u32;
        self.peak_mms = self.peak_mms.max(mapping);
    }

    /// Mms with at least one mapping.
    pub fn mms_mapping(&self) -> u32 {
        self.mms.iter().filter(|m| m.total > 0).count() as u32
    }

    /// Some mm other than `mm` maps a page of the folio.
    pub fn other_maps(&self, mm: u32) -> bool {
        self.mms.iter().any(|m| m.mm != mm && m.total > 0)
    }

    /// Some mm other than `mm` maps page `k`.
    pub fn other_maps_page(&self, k: u32, mm: u32) -> bool {
        self.mms
            .iter()
            .any(|m| m.mm != mm && (m.pmd > 0 || m.pte.get(k as usize).is_some_and(|&c| c > 0)))
    }

    /// All mappings (PTEs + PMDs): the logical large mapcount.
    pub fn mappings(&self) -> u32 {
        self.mms.iter().map(|m| m.total).sum()
    }

    /// Mappings of page `k` (PTEs + PMDs).
    pub fn page_mapcount(&self, k: u32) -> u32 {
        self.pte_total.get(k as usize).copied().unwrap_or(0) + self.pmd_total
    }

    /// PTE mappings of page `k`.
    pub fn page_pte(&self, k: u32) -> u32 {
        self.pte_total.get(k as usize).copied().unwrap_or(0)
    }

    /// PMD mappings.
    pub fn pmd_mappings(&self) -> u32 {
        self.pmd_total
    }

    /// Mapped at all.
    pub fn mapped(&self) -> bool {
        self.pmd_total > 0 || self.pte_mapped_pages > 0
    }

    /// Truly partially mapped: mapped, and some page mapped by nobody.
    pub fn partially_mapped(&self) -> bool {
        self.pmd_total == 0 && self.pte_mapped_pages > 0 && self.pte_mapped_pages < self.nr
    }

    /// Pages of the folio.
    pub fn nr(&self) -> u32 {
        self.nr
    }
}
