//! The MM-id owner slots and the large mapcount (spec §2): the part of a folio's state
//! the kernel updates under the `_mm_ids` bit spinlock.

use crate::kernel::{MM_ID_DUMMY, MM_ID_MAX, MM_ID_MIN};
use crate::types::{mm_ids_pack, mm_ids_slot, Folio};

/// `_large_mapcount`, `_mm_id[2]`, `_mm_id_mapcount[2]` and `S`, raw (spec §1.3, §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LargeMapcount {
    /// Raw `_large_mapcount` (logical − 1).
    pub lmc: i32,
    /// Slot owners (`MM_ID_DUMMY` = free).
    pub ids: [u32; 2],
    /// Raw per-slot mapcounts (−1 when free).
    pub mmc: [i32; 2],
    /// "Maybe mapped shared".
    pub shared: bool,
}

impl LargeMapcount {
    /// The state `prep_compound_head` leaves.
    pub const UNMAPPED: LargeMapcount = LargeMapcount {
        lmc: -1,
        ids: [MM_ID_DUMMY; 2],
        mmc: [-1; 2],
        shared: false,
    };

    /// Reads the fields out of a folio.
    pub fn of(folio: &Folio) -> LargeMapcount {
        LargeMapcount {
            lmc: folio.large_mapcount,
            ids: [mm_ids_slot(folio.mm_ids, 0), mm_ids_slot(folio.mm_ids, 1)],
            mmc: folio.mm_id_mapcount,
            shared: folio.shared_bit(),
        }
    }

    /// Writes the fields into a folio (the lock bit is left clear).
    pub fn store(&self, folio: &mut Folio) {
        folio.large_mapcount = self.lmc;
        folio.mm_ids = mm_ids_pack(self.ids, self.shared);
        folio.mm_id_mapcount = self.mmc;
    }

    /// Logical large mapcount.
    pub fn mapcount(&self) -> i32 {
        // wraps like the kernel's atomic_read() + 1 (a corrupt raw value must not panic)
        self.lmc.wrapping_add(1)
    }

    /// Slot index owned by `mm`, if any.
    pub fn slot_of(&self, mm: u32) -> Option<usize> {
        (0..2).find(|&i| self.ids[i] == mm && mm != MM_ID_DUMMY)
    }

    /// `folio_set_large_mapcount(folio, n, vma)` — new folios only, both slots free
    /// (spec §2.1).
    pub fn set(&mut self, n: i32, mm: u32) {
        self.lmc = n - 1;
        self.ids[0] = mm;
        self.mmc[0] = n - 1;
    }

    /// `folio_add_return_large_mapcount(folio, diff, vma)` on 64-bit (spec §2.2).
    /// Returns the new logical large mapcount.
    pub fn add(&mut self, diff: i32, mm: u32) -> i32 {
        self.lmc += diff;
        if self.ids[0] == mm {
            self.mmc[0] += diff;
        } else if self.ids[1] == mm {
            self.mmc[1] += diff;
        } else if mutant!(
            "slot-prefer-second",
            self.ids[0] == MM_ID_DUMMY && self.ids[1] != MM_ID_DUMMY,
            self.ids[0] == MM_ID_DUMMY
        ) {
            self.ids[0] = mm;
            self.mmc[0] = diff - 1;
            // Other mappings may already exist (those of an untracked mm).
            if mutant!("slot0-no-shared", false, self.lmc != diff - 1) {
                self.shared = true;
            }
        } else if mutant!("untracked-steals-slot1", true, self.ids[1] == MM_ID_DUMMY) {
            self.ids[1] = mm;
            self.mmc[1] = diff - 1;
            // Slot 0 certainly has mappings too.
            self.shared = mutant!("slot1-no-shared", self.shared, true);
        }
        // Else: both slots owned by other mms; this mm stays untracked (S is already set,
        // spec §2.5.2).
        self.lmc + 1
    }

    /// `folio_sub_return_large_mapcount(folio, diff, vma)` (spec §2.3). Returns the new
    /// logical large mapcount.
    pub fn sub(&mut self, diff: i32, mm: u32) -> i32 {
        self.lmc -= diff;
        if let Some(slot) = self.slot_of(mm) {
            self.mmc[slot] -= diff;
            if mutant!(
                "slot-release-at-zero",
                self.mmc[slot] > 0,
                mutant!(
                    "slot-underflow-kept",
                    self.mmc[slot] != -1,
                    self.mmc[slot] >= 0
                )
            ) {
                // The mm keeps mappings: S is not re-evaluated.
                return self.lmc + 1;
            }
            // Released, also on underflow (mappings added while untracked).
            self.mmc[slot] = -1;
            self.ids[slot] = MM_ID_DUMMY;
        } else if mutant!("s-untracked-no-reeval", true, false) {
            return self.lmc + 1;
        }
        // One slot accounting for every mapping means exclusive; a fully unmapped folio
        // has both slots free (−1 == −1) and is exclusive too.
        if mutant!(
            "s-cleared-when-slot-free",
            self.mmc[0] == self.lmc || self.mmc[1] == self.lmc || self.ids.contains(&MM_ID_DUMMY),
            self.mmc[0] == self.lmc || self.mmc[1] == self.lmc
        ) {
            self.shared = mutant!("s-never-cleared", self.shared, false);
        }
        self.lmc + 1
    }
}

/// Whether `mm` is a usable mm id (`MM_ID_MIN..=MM_ID_MAX`, spec §2.4).
pub fn valid_mm_id(mm: u32) -> bool {
    (MM_ID_MIN..=MM_ID_MAX).contains(&mm)
}
