//! Bad kernel object: indexing an array can panic (core::panicking::panic_bounds_check).
#![no_std]

#[no_mangle]
pub extern "C" fn fm_bad_index(i: usize) -> u8 {
    let a = [1u8, 2, 3];
    a[i]
}
