//! Constants of the modelled kernel: Linux 7.3, x86-64, 4 KiB pages, `CONFIG_MM_ID`.
//!
//! Values are the kernel's, so raw fields can be compared with a live `struct folio`.

/// `MM_ID_DUMMY`: a free slot / an mm without an id (spec §1.3).
pub const MM_ID_DUMMY: u32 = 0;
/// `MM_ID_MIN` (spec §1.3).
pub const MM_ID_MIN: u32 = 1;
/// `MM_ID_BITS` on 64-bit: `8 * sizeof(unsigned int) - 1` (spec §1.3).
pub const MM_ID_BITS: u32 = 31;
/// `MM_ID_MASK` = `MM_ID_MAX` = `0x7fff_ffff` (spec §1.3).
pub const MM_ID_MASK: u32 = 0x7fff_ffff;
/// Largest valid mm id.
pub const MM_ID_MAX: u32 = MM_ID_MASK;

/// Bit of `_mm_ids` holding the large-mapcount bit spinlock (`FOLIO_MM_IDS_LOCK_BITNUM`,
/// spec §1.3): the top bit of `_mm_id[0]` on little-endian.
pub const MM_IDS_LOCK_BIT: u64 = 0x8000_0000;
/// Bit of `_mm_ids` holding "maybe mapped shared" (`FOLIO_MM_IDS_SHARED_BITNUM` = 63,
/// spec §1.3): the top bit of `_mm_id[1]` on little-endian.
pub const MM_IDS_SHARED_BIT: u64 = 0x8000_0000_0000_0000;

/// `ENTIRELY_MAPPED`: the entire-mapping term of `_nr_pages_mapped` (spec §1.4).
pub const ENTIRELY_MAPPED: i32 = 0x80_0000;
/// `FOLIO_PAGES_MAPPED`: mask of the per-page term of `_nr_pages_mapped` (spec §1.4).
pub const FOLIO_PAGES_MAPPED: i32 = ENTIRELY_MAPPED - 1;

/// `HPAGE_PMD_ORDER` on x86-64 with 4 KiB pages.
pub const PMD_ORDER: u32 = 9;
/// `HPAGE_PMD_NR`.
pub const PMD_NR: u32 = 1 << PMD_ORDER;
/// Largest folio order the model covers (PMD order; PUD folios are out of scope).
pub const MAX_ORDER: u32 = PMD_ORDER;
/// Most pages a modelled folio can have.
pub const MAX_PAGES: usize = 1 << MAX_ORDER;

/// `GUP_PIN_COUNTING_BIAS`: what one `FOLL_PIN` adds to the refcount of a small folio
/// (spec §4, `folio_maybe_dma_pinned`).
pub const GUP_PIN_COUNTING_BIAS: i32 = 1024;

/// `-EBUSY` as the kernel returns it.
pub const EBUSY: i32 = -16;
/// `-EAGAIN` as the kernel returns it.
pub const EAGAIN: i32 = -11;

const _: () = assert!(MM_ID_MASK == (1 << MM_ID_BITS) - 1);
// Literals above keep the C macros free of shifts that C (or bindgen) evaluates as int.
const _: () = assert!(MM_IDS_LOCK_BIT == 1 << MM_ID_BITS);
const _: () = assert!(MM_IDS_SHARED_BIT == 1 << (2 * MM_ID_BITS + 1));
