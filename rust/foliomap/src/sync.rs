//! The stateful layer: a folio in memory shared between threads, updated the way the
//! kernel does it (spec §8): per-page `_mapcount`, `_entire_mapcount`, `_nr_pages_mapped`,
//! refcount and pincount by atomic read-modify-write; the large mapcount, both slots and
//! `S` read and written under one acquisition of the bit spinlock in `_mm_ids` (bit 31),
//! released with a store that also clears the lock bit (`__bit_spin_unlock`).
//!
//! `AtomicFolio` / `AtomicPage` have exactly the layout of `Folio` / `Page` (asserted
//! below), so C callers use one struct for both layers and choose at init
//! (`FOLIO_OPT_CONCURRENT`).

use core::hint::spin_loop;
use core::mem::{align_of, offset_of, size_of};
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64};

use crate::kernel::MM_IDS_LOCK_BIT;
use crate::kernel::MM_IDS_SHARED_BIT;
use crate::slots::LargeMapcount;
use crate::store::{validate_header, FolioStore};
use crate::types::{mm_ids_pack, mm_ids_slot, Folio, Mode, Page, Status};

/// `Page` with atomic fields.
#[repr(C)]
#[derive(Debug)]
pub struct AtomicPage {
    /// Raw `_mapcount`.
    pub mapcount: AtomicI32,
    /// `PAGE_*` bits.
    pub flags: AtomicU32,
}

impl AtomicPage {
    /// An atomic copy of `page`.
    pub fn new(page: Page) -> AtomicPage {
        AtomicPage {
            mapcount: AtomicI32::new(page.mapcount),
            flags: AtomicU32::new(page.flags),
        }
    }

    /// A plain snapshot.
    pub fn load(&self) -> Page {
        Page {
            mapcount: self.mapcount.load(Acquire),
            flags: self.flags.load(Acquire),
        }
    }
}

/// `Folio` with atomic fields.
#[repr(C)]
#[derive(Debug)]
pub struct AtomicFolio {
    /// See `Folio::magic`.
    pub magic: AtomicU32,
    /// See `Folio::mode`.
    pub mode: AtomicU32,
    /// See `Folio::order`.
    pub order: AtomicU32,
    /// See `Folio::options`.
    pub options: AtomicU32,
    /// See `Folio::flags`.
    pub flags: AtomicU32,
    /// See `Folio::refcount`.
    pub refcount: AtomicI32,
    /// See `Folio::pincount`.
    pub pincount: AtomicI32,
    /// See `Folio::large_mapcount`.
    pub large_mapcount: AtomicI32,
    /// See `Folio::entire_mapcount`.
    pub entire_mapcount: AtomicI32,
    /// See `Folio::nr_pages_mapped`.
    pub nr_pages_mapped: AtomicI32,
    /// See `Folio::mm_id_mapcount`.
    pub mm_id_mapcount: [AtomicI32; 2],
    /// See `Folio::mm_ids`; bit 31 is the mapcount lock.
    pub mm_ids: AtomicU64,
    /// See `Folio::pages`.
    pub pages: AtomicPtr<Page>,
    /// See `Folio::pages_len`.
    pub pages_len: AtomicU32,
    /// See `Folio::in_use`: calls in flight.
    pub in_use: AtomicU32,
    /// See `Folio::seal`.
    pub seal: AtomicU64,
}

macro_rules! same_layout {
    ($a:ty, $b:ty, $($field:ident),*) => {
        const _: () = assert!(size_of::<$a>() == size_of::<$b>());
        const _: () = assert!(align_of::<$a>() == align_of::<$b>());
        $(const _: () = assert!(offset_of!($a, $field) == offset_of!($b, $field));)*
    };
}
same_layout!(AtomicPage, Page, mapcount, flags);
same_layout!(
    AtomicFolio,
    Folio,
    magic,
    mode,
    order,
    options,
    flags,
    refcount,
    pincount,
    large_mapcount,
    entire_mapcount,
    nr_pages_mapped,
    mm_id_mapcount,
    mm_ids,
    pages,
    pages_len,
    in_use,
    seal
);

impl AtomicFolio {
    /// An atomic copy of `folio` (its `pages` pointer is copied as is).
    pub fn new(folio: Folio) -> AtomicFolio {
        AtomicFolio {
            magic: AtomicU32::new(folio.magic),
            mode: AtomicU32::new(folio.mode),
            order: AtomicU32::new(folio.order),
            options: AtomicU32::new(folio.options),
            flags: AtomicU32::new(folio.flags),
            refcount: AtomicI32::new(folio.refcount),
            pincount: AtomicI32::new(folio.pincount),
            large_mapcount: AtomicI32::new(folio.large_mapcount),
            entire_mapcount: AtomicI32::new(folio.entire_mapcount),
            nr_pages_mapped: AtomicI32::new(folio.nr_pages_mapped),
            mm_id_mapcount: [
                AtomicI32::new(folio.mm_id_mapcount[0]),
                AtomicI32::new(folio.mm_id_mapcount[1]),
            ],
            mm_ids: AtomicU64::new(folio.mm_ids),
            pages: AtomicPtr::new(folio.pages),
            pages_len: AtomicU32::new(folio.pages_len),
            in_use: AtomicU32::new(folio.in_use),
            seal: AtomicU64::new(folio.seal),
        }
    }

    /// A plain snapshot; the large mapcount and slots are read under the mapcount lock so
    /// they are consistent with each other.
    pub fn load(&self) -> Folio {
        let large = lock_large(self);
        let folio = Folio {
            magic: self.magic.load(Acquire),
            mode: self.mode.load(Acquire),
            order: self.order.load(Acquire),
            options: self.options.load(Acquire),
            flags: self.flags.load(Acquire),
            refcount: self.refcount.load(Acquire),
            pincount: self.pincount.load(Acquire),
            large_mapcount: large.lmc,
            entire_mapcount: self.entire_mapcount.load(Acquire),
            nr_pages_mapped: self.nr_pages_mapped.load(Acquire),
            mm_id_mapcount: large.mmc,
            mm_ids: mm_ids_pack(large.ids, large.shared),
            pages: self.pages.load(Acquire),
            pages_len: self.pages_len.load(Acquire),
            in_use: self.in_use.load(Acquire),
            seal: self.seal.load(Acquire),
        };
        unlock_large(self, &large);
        folio
    }
}

/// `folio_lock_large_mapcount`: spin on the lock bit, then read the guarded fields.
fn lock_large(folio: &AtomicFolio) -> LargeMapcount {
    loop {
        let old = folio.mm_ids.fetch_or(MM_IDS_LOCK_BIT, Acquire);
        if old & MM_IDS_LOCK_BIT == 0 {
            return LargeMapcount {
                lmc: folio.large_mapcount.load(Relaxed),
                ids: [mm_ids_slot(old, 0), mm_ids_slot(old, 1)],
                mmc: [
                    folio.mm_id_mapcount[0].load(Relaxed),
                    folio.mm_id_mapcount[1].load(Relaxed),
                ],
                shared: old & MM_IDS_SHARED_BIT != 0,
            };
        }
        while folio.mm_ids.load(Relaxed) & MM_IDS_LOCK_BIT != 0 {
            spin_loop();
        }
    }
}

/// Writes the guarded fields back, then `folio_unlock_large_mapcount` by storing the
/// new ids and `S` with the lock bit clear (release).
fn unlock_large(folio: &AtomicFolio, large: &LargeMapcount) {
    folio.large_mapcount.store(large.lmc, Relaxed);
    folio.mm_id_mapcount[0].store(large.mmc[0], Relaxed);
    folio.mm_id_mapcount[1].store(large.mmc[1], Relaxed);
    folio
        .mm_ids
        .store(mm_ids_pack(large.ids, large.shared), Release);
}

/// A shared folio and its pages, as a `FolioStore`.
#[derive(Debug)]
pub struct SyncFolio<'a> {
    folio: &'a AtomicFolio,
    pages: &'a [AtomicPage],
    mode: Mode,
    order: u32,
}

impl<'a> SyncFolio<'a> {
    /// Pairs an initialised shared folio with its pages (at least `1 << order`).
    pub fn new(folio: &'a AtomicFolio, pages: &'a [AtomicPage]) -> Result<SyncFolio<'a>, Status> {
        let header = Folio {
            magic: folio.magic.load(Acquire),
            mode: folio.mode.load(Acquire),
            order: folio.order.load(Acquire),
            options: folio.options.load(Acquire),
            ..Folio::new(Mode::Pmc, 0, 0)?
        };
        validate_header(&header)?;
        let pages = pages
            .get(..header.nr_pages() as usize)
            .ok_or(Status::PagesTooSmall)?;
        Ok(SyncFolio {
            folio,
            pages,
            mode: header.mode(),
            order: header.order,
        })
    }

    fn page(&self, k: u32) -> Option<&AtomicPage> {
        self.pages.get(k as usize)
    }
}

impl FolioStore for SyncFolio<'_> {
    fn mode(&self) -> Mode {
        self.mode
    }
    fn order(&self) -> u32 {
        self.order
    }
    fn flags(&self) -> u32 {
        self.folio.flags.load(Acquire)
    }
    fn set_flags(&mut self, bits: u32) {
        self.folio.flags.fetch_or(bits, AcqRel);
    }
    fn clear_flags(&mut self, bits: u32) {
        self.folio.flags.fetch_and(!bits, AcqRel);
    }
    fn refcount(&self) -> i32 {
        self.folio.refcount.load(Acquire)
    }
    fn add_refcount(&mut self, delta: i32) -> i32 {
        self.folio
            .refcount
            .fetch_add(delta, AcqRel)
            .wrapping_add(delta)
    }
    fn pincount(&self) -> i32 {
        self.folio.pincount.load(Acquire)
    }
    fn add_pincount(&mut self, delta: i32) -> i32 {
        self.folio
            .pincount
            .fetch_add(delta, AcqRel)
            .wrapping_add(delta)
    }
    fn entire_mapcount(&self) -> i32 {
        self.folio.entire_mapcount.load(Acquire)
    }
    fn add_entire_mapcount(&mut self, delta: i32) -> i32 {
        self.folio
            .entire_mapcount
            .fetch_add(delta, AcqRel)
            .wrapping_add(delta)
    }
    fn nr_pages_mapped(&self) -> i32 {
        self.folio.nr_pages_mapped.load(Relaxed)
    }
    fn add_nr_pages_mapped(&mut self, delta: i32) -> i32 {
        // The kernel uses relaxed add/sub-return here and tolerates the races (spec §8).
        self.folio
            .nr_pages_mapped
            .fetch_add(delta, Relaxed)
            .wrapping_add(delta)
    }
    fn set_nr_pages_mapped(&mut self, value: i32) {
        self.folio.nr_pages_mapped.store(value, Release);
    }
    fn page_mapcount(&self, k: u32) -> i32 {
        self.page(k).map_or(-1, |p| p.mapcount.load(Acquire))
    }
    fn add_page_mapcount(&mut self, k: u32, delta: i32) -> i32 {
        self.page(k).map_or(-1, |p| {
            p.mapcount.fetch_add(delta, AcqRel).wrapping_add(delta)
        })
    }
    fn set_page_mapcount(&mut self, k: u32, value: i32) {
        if let Some(p) = self.page(k) {
            p.mapcount.store(value, Release);
        }
    }
    fn page_flags(&self, k: u32) -> u32 {
        self.page(k).map_or(0, |p| p.flags.load(Acquire))
    }
    fn update_page_flags(&mut self, k: u32, bits: u32, set: bool) {
        if let Some(p) = self.page(k) {
            if set {
                p.flags.fetch_or(bits, AcqRel);
            } else {
                p.flags.fetch_and(!bits, AcqRel);
            }
        }
    }
    fn large(&self) -> LargeMapcount {
        let ids = self.folio.mm_ids.load(Acquire);
        LargeMapcount {
            lmc: self.folio.large_mapcount.load(Acquire),
            ids: [mm_ids_slot(ids, 0), mm_ids_slot(ids, 1)],
            mmc: [
                self.folio.mm_id_mapcount[0].load(Acquire),
                self.folio.mm_id_mapcount[1].load(Acquire),
            ],
            shared: ids & MM_IDS_SHARED_BIT != 0,
        }
    }
    fn with_large<R>(&mut self, f: impl FnOnce(&mut LargeMapcount) -> R) -> R {
        let mut large = lock_large(self.folio);
        let result = f(&mut large);
        unlock_large(self.folio, &large);
        result
    }
}
