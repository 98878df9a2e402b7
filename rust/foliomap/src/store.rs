//! Access to a folio's fields. Every rule of the model is written once, against the
//! `FolioStore` trait, and runs over two stores:
//!
//! - `FolioMut`: the pure core's exclusive view (`&mut Folio` + `&mut [Page]`), plain loads
//!   and stores, deterministic;
//! - `SyncFolio` (module `sync`): the same fields in caller-owned memory shared between
//!   threads, updated with atomics and the large mapcount + slots under one acquisition of
//!   the `_mm_ids` bit spinlock, as the kernel does (spec §8).

use crate::slots::LargeMapcount;
use crate::types::{Folio, Mode, Page, Status, FOLIO_MAGIC, FOLIO_OPT_CONCURRENT};

/// The fields the model reads and writes. Page indices are checked by the callers (every
/// operation validates its range before touching a page), so implementations may assume
/// `k < nr_pages()`.
pub trait FolioStore {
    /// Modelled configuration.
    fn mode(&self) -> Mode;
    /// Folio order.
    fn order(&self) -> u32;
    /// Number of pages.
    fn nr_pages(&self) -> u32 {
        1 << self.order()
    }
    /// `folio_test_large`.
    fn is_large(&self) -> bool {
        self.order() > 0
    }
    /// `FOLIO_*` flags.
    fn flags(&self) -> u32;
    /// Sets `FOLIO_*` bits.
    fn set_flags(&mut self, bits: u32);
    /// Clears `FOLIO_*` bits.
    fn clear_flags(&mut self, bits: u32);
    /// Tests `FOLIO_*` bits.
    fn test(&self, bits: u32) -> bool {
        self.flags() & bits != 0
    }
    /// `folio_ref_count`.
    fn refcount(&self) -> i32;
    /// `folio_ref_add` (negative: `folio_ref_sub`); returns the new count.
    fn add_refcount(&mut self, delta: i32) -> i32;
    /// `_pincount`.
    fn pincount(&self) -> i32;
    /// Adds to `_pincount`; returns the new value.
    fn add_pincount(&mut self, delta: i32) -> i32;
    /// Raw `_entire_mapcount`.
    fn entire_mapcount(&self) -> i32;
    /// Adds to the raw `_entire_mapcount`; returns the new raw value.
    fn add_entire_mapcount(&mut self, delta: i32) -> i32;
    /// Raw `_nr_pages_mapped`.
    fn nr_pages_mapped(&self) -> i32;
    /// Adds to `_nr_pages_mapped`; returns the new value.
    fn add_nr_pages_mapped(&mut self, delta: i32) -> i32;
    /// Sets `_nr_pages_mapped` (new folios).
    fn set_nr_pages_mapped(&mut self, value: i32);
    /// Raw `_mapcount` of page `k`.
    fn page_mapcount(&self, k: u32) -> i32;
    /// Adds to the raw `_mapcount` of page `k`; returns the new raw value.
    fn add_page_mapcount(&mut self, k: u32, delta: i32) -> i32;
    /// Sets the raw `_mapcount` of page `k` (new folios).
    fn set_page_mapcount(&mut self, k: u32, value: i32);
    /// `PAGE_*` flags of page `k`.
    fn page_flags(&self, k: u32) -> u32;
    /// Sets or clears `PAGE_*` bits of page `k`.
    fn update_page_flags(&mut self, k: u32, bits: u32, set: bool);
    /// Lockless read of the large mapcount and slots (like `folio_mapcount`).
    fn large(&self) -> LargeMapcount;
    /// Runs `f` on the large mapcount and slots under the mapcount lock (spec §8).
    fn with_large<R>(&mut self, f: impl FnOnce(&mut LargeMapcount) -> R) -> R;
}

/// Checks the invariant parts of a folio header: magic, mode, order, options.
pub(crate) fn validate_header(folio: &Folio) -> Result<(), Status> {
    if folio.magic != FOLIO_MAGIC {
        return Err(Status::NotInitialised);
    }
    Mode::from_raw(folio.mode)?;
    if folio.order > crate::kernel::MAX_ORDER {
        return Err(Status::BadOrder);
    }
    if folio.options & !FOLIO_OPT_CONCURRENT != 0 {
        return Err(Status::BadArgument);
    }
    Ok(())
}

/// Exclusive access to a folio and its pages: the pure core's store.
#[derive(Debug)]
pub struct FolioMut<'a> {
    folio: &'a mut Folio,
    pages: &'a mut [Page],
}

impl<'a> FolioMut<'a> {
    /// Pairs an initialised folio with its page storage (at least `1 << order` pages).
    pub fn new(folio: &'a mut Folio, pages: &'a mut [Page]) -> Result<FolioMut<'a>, Status> {
        validate_header(folio)?;
        let nr = folio.nr_pages() as usize;
        let pages = pages.get_mut(..nr).ok_or(Status::PagesTooSmall)?;
        Ok(FolioMut { folio, pages })
    }

    /// The folio header.
    pub fn folio(&self) -> &Folio {
        self.folio
    }

    /// The pages.
    pub fn pages(&self) -> &[Page] {
        self.pages
    }

    // Callers validate k < nr_pages, so the `None` arms below are unreachable; `get`
    // instead of indexing keeps the model free of panic paths (the kernel-object check
    // proves it).
    fn page_mut(&mut self, k: u32) -> Option<&mut Page> {
        self.pages.get_mut(k as usize)
    }

    /// Copies the accounting state (header fields and pages) of `src`, which must have
    /// this folio's mode and order; storage pointer, options, `in_use` and `seal` stay this folio's.
    pub fn copy_from(&mut self, src: &FolioMut<'_>) -> Result<(), Status> {
        if src.folio.mode != self.folio.mode || src.folio.order != self.folio.order {
            return Err(Status::BadArgument);
        }
        *self.folio = Folio {
            pages: self.folio.pages,
            pages_len: self.folio.pages_len,
            options: self.folio.options,
            in_use: self.folio.in_use,
            seal: self.folio.seal,
            ..*src.folio
        };
        for (dst, src) in self.pages.iter_mut().zip(src.pages.iter()) {
            *dst = *src;
        }
        Ok(())
    }

    fn page(&self, k: u32) -> Page {
        self.pages.get(k as usize).copied().unwrap_or(Page::INIT)
    }
}

impl FolioStore for FolioMut<'_> {
    fn mode(&self) -> Mode {
        self.folio.mode()
    }
    fn order(&self) -> u32 {
        self.folio.order
    }
    fn flags(&self) -> u32 {
        self.folio.flags
    }
    fn set_flags(&mut self, bits: u32) {
        self.folio.flags |= bits;
    }
    fn clear_flags(&mut self, bits: u32) {
        self.folio.flags &= !bits;
    }
    fn refcount(&self) -> i32 {
        self.folio.refcount
    }
    fn add_refcount(&mut self, delta: i32) -> i32 {
        self.folio.refcount = self.folio.refcount.wrapping_add(delta);
        self.folio.refcount
    }
    fn pincount(&self) -> i32 {
        self.folio.pincount
    }
    fn add_pincount(&mut self, delta: i32) -> i32 {
        self.folio.pincount = self.folio.pincount.wrapping_add(delta);
        self.folio.pincount
    }
    fn entire_mapcount(&self) -> i32 {
        self.folio.entire_mapcount
    }
    fn add_entire_mapcount(&mut self, delta: i32) -> i32 {
        self.folio.entire_mapcount = self.folio.entire_mapcount.wrapping_add(delta);
        self.folio.entire_mapcount
    }
    fn nr_pages_mapped(&self) -> i32 {
        self.folio.nr_pages_mapped
    }
    fn add_nr_pages_mapped(&mut self, delta: i32) -> i32 {
        self.folio.nr_pages_mapped = self.folio.nr_pages_mapped.wrapping_add(delta);
        self.folio.nr_pages_mapped
    }
    fn set_nr_pages_mapped(&mut self, value: i32) {
        self.folio.nr_pages_mapped = value;
    }
    fn page_mapcount(&self, k: u32) -> i32 {
        self.page(k).mapcount
    }
    fn add_page_mapcount(&mut self, k: u32, delta: i32) -> i32 {
        match self.page_mut(k) {
            Some(page) => {
                page.mapcount = page.mapcount.wrapping_add(delta);
                page.mapcount
            }
            None => Page::INIT.mapcount,
        }
    }
    fn set_page_mapcount(&mut self, k: u32, value: i32) {
        if let Some(page) = self.page_mut(k) {
            page.mapcount = value;
        }
    }
    fn page_flags(&self, k: u32) -> u32 {
        self.page(k).flags
    }
    fn update_page_flags(&mut self, k: u32, bits: u32, set: bool) {
        if let Some(page) = self.page_mut(k) {
            if set {
                page.flags |= bits;
            } else {
                page.flags &= !bits;
            }
        }
    }
    fn large(&self) -> LargeMapcount {
        LargeMapcount::of(self.folio)
    }
    fn with_large<R>(&mut self, f: impl FnOnce(&mut LargeMapcount) -> R) -> R {
        let mut large = LargeMapcount::of(self.folio);
        let result = f(&mut large);
        large.store(self.folio);
        result
    }
}
