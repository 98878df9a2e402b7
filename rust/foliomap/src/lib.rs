//! foliomap: an executable model of how Linux 7.3 accounts the mappings of large folios.
#![no_std]

pub mod ffi;
pub mod kernel;
pub mod types;
