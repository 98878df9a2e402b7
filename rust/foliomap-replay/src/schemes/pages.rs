//! Per-page mapcounts (PTE) plus whole-folio PMD mappings: the state the per-page
//! designs (pre-6.15, thp-2015, precise-2016) keep. Not a scheme.

use crate::delta::Delta;

/// Per-page counts.
#[derive(Clone, Debug, Default)]
pub struct PageCounts {
    /// PTE mappings per page.
    pub pte: Vec<u32>,
    /// PMD mappings (`_entire_mapcount` / `compound_mapcount`).
    pub pmd: u32,
    /// All mappings (`_large_mapcount`).
    pub lm: i64,
    /// Pages with a PTE mapping (`_nr_pages_mapped`).
    pub pte_pages: u32,
}

impl PageCounts {
    /// `nr` unmapped pages.
    pub fn new(nr: u32) -> PageCounts {
        PageCounts {
            pte: vec![0; nr as usize],
            ..PageCounts::default()
        }
    }

    /// Applies a change; returns the pages whose PTE count dropped to 0.
    pub fn apply(&mut self, d: &Delta) -> u32 {
        let mut emptied = 0;
        match *d {
            Delta::Pte { first, nr, add, .. } => {
                let end = ((first + nr) as usize).min(self.pte.len());
                for c in &mut self.pte[(first as usize).min(end)..end] {
                    if add {
                        *c += 1;
                        self.lm += 1;
                        if *c == 1 {
                            self.pte_pages += 1;
                        }
                    } else if *c > 0 {
                        *c -= 1;
                        self.lm -= 1;
                        if *c == 0 {
                            self.pte_pages -= 1;
                            emptied += 1;
                        }
                    }
                }
            }
            Delta::Pmd { add, .. } => {
                if add {
                    self.pmd += 1;
                    self.lm += 1;
                } else if self.pmd > 0 {
                    self.pmd -= 1;
                    self.lm -= 1;
                }
            }
        }
        emptied
    }

    /// Mappings of page `k`.
    pub fn page(&self, k: u32) -> u32 {
        self.pte.get(k as usize).copied().unwrap_or(0) + self.pmd
    }

    /// Most mappings of any page (`page_trans_huge_mapcount`).
    pub fn max_page(&self) -> u32 {
        self.pte.iter().copied().max().unwrap_or(0) + self.pmd
    }

    /// Mapped at all.
    pub fn mapped(&self) -> bool {
        self.pmd > 0 || self.pte_pages > 0
    }

    /// Some page is unmapped while the folio is mapped (PTEs only).
    pub fn partial(&self) -> bool {
        self.pmd == 0 && self.pte_pages > 0 && (self.pte_pages as usize) < self.pte.len()
    }
}
