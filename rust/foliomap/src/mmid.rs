//! The mm-id allocator (spec §1.7): `mm_alloc_id` hands out the smallest free id ≥ 1
//! (`ida_alloc_range(&mm_ida, MM_ID_MIN, MM_ID_MAX)`), `mm_free_id` returns it at
//! `__mmdrop`. Storage is a caller-provided bitmap; bit 0 stands for `MM_ID_DUMMY` and is
//! never handed out.

use crate::kernel::{MM_ID_MAX, MM_ID_MIN};
use crate::types::Status;

/// An id allocator over `bitmap` (bit `i` set = id `i` in use).
#[derive(Debug)]
pub struct MmIdAllocator<'a> {
    bitmap: &'a mut [u64],
}

impl<'a> MmIdAllocator<'a> {
    /// Starts an allocator with every id free. The bitmap must have at least one word.
    pub fn init(bitmap: &'a mut [u64]) -> Result<MmIdAllocator<'a>, Status> {
        if bitmap.is_empty() {
            return Err(Status::BadArgument);
        }
        bitmap.fill(0);
        let mut ids = MmIdAllocator { bitmap };
        ids.set(0, true);
        Ok(ids)
    }

    /// Resumes an allocator whose bitmap was set up by `init`.
    pub fn resume(bitmap: &'a mut [u64]) -> Result<MmIdAllocator<'a>, Status> {
        match bitmap.first() {
            Some(word) if word & 1 == 1 => Ok(MmIdAllocator { bitmap }),
            _ => Err(Status::NotInitialised),
        }
    }

    /// Largest id this storage can hold.
    pub fn capacity(&self) -> u32 {
        let bits = (self.bitmap.len() as u64).saturating_mul(64) - 1;
        bits.min(MM_ID_MAX as u64) as u32
    }

    fn set(&mut self, id: u32, used: bool) {
        if let Some(word) = self.bitmap.get_mut(id as usize / 64) {
            let bit = 1u64 << (id % 64);
            if used {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }

    /// Whether `id` is allocated.
    pub fn is_allocated(&self, id: u32) -> bool {
        id >= MM_ID_MIN
            && self
                .bitmap
                .get(id as usize / 64)
                .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// `mm_alloc_id`: the smallest free id ≥ 1.
    pub fn alloc(&mut self) -> Result<u32, Status> {
        let capacity = self.capacity();
        let found = self
            .bitmap
            .iter()
            .enumerate()
            .find(|(_, word)| **word != u64::MAX)
            .map(|(i, word)| i as u64 * 64 + (!*word).trailing_zeros() as u64);
        match found {
            Some(id) if id <= capacity as u64 => {
                self.set(id as u32, true);
                Ok(id as u32)
            }
            _ => Err(Status::Exhausted),
        }
    }

    /// `mm_free_id`: returns an allocated id.
    pub fn free(&mut self, id: u32) -> Result<(), Status> {
        if !(MM_ID_MIN..=MM_ID_MAX).contains(&id) {
            return Err(Status::BadMmId);
        }
        if !self.is_allocated(id) {
            return Err(Status::BadState);
        }
        self.set(id, false);
        Ok(())
    }
}
