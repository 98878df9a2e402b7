//! `libfoliomap.a`: links the C ABI crate `foliomap-ffi` (whose `fm_*` entry points are
//! `#[no_mangle]`) and the model under it into one C static library, and supplies the
//! panic handler a `no_std` staticlib needs.
//!
//! The model has no panic path; `scripts/check-kernel-object` proves it on every build by
//! finding no panic symbol after fat LTO. The handler below exists only to satisfy the
//! language and is removed by LTO because nothing can reach it.
#![cfg_attr(not(test), no_std)]

pub use foliomap_ffi as ffi;

// Not under `cfg(test)` (only `clippy --all-targets` builds that): std has its own.
#[cfg(all(not(test), not(foliomap_fuzz)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

// The fuzz build (scripts/fuzz: `--cfg foliomap_fuzz`, overflow checks and debug
// assertions on) links with libc, and a panic there is a finding: abort, so that the
// fuzzer reports it as a crash with the input that caused it.
#[cfg(all(not(test), foliomap_fuzz))]
extern "C" {
    fn abort() -> !;
}

#[cfg(all(not(test), foliomap_fuzz))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: libc's abort takes no arguments and never returns; the fuzz harness links
    // libc.
    unsafe { abort() }
}
