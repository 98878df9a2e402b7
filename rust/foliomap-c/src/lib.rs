//! `libfoliomap.a`: links the model crate (whose `fm_*` entry points are `#[no_mangle]`)
//! into one C static library, and supplies the panic handler a `no_std` staticlib needs.
//!
//! The model has no panic path; `scripts/check-kernel-object` proves it on every build by
//! finding no panic symbol after fat LTO. The handler below exists only to satisfy the
//! language and is removed by LTO because nothing can reach it.
#![cfg_attr(not(test), no_std)]

pub use foliomap::ffi;

// Not under `cfg(test)` (only `clippy --all-targets` builds that): std has its own.
#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
