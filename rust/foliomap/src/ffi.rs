//! The C ABI (placeholder while the model lands).

/// Library version as a NUL-terminated string.
#[no_mangle]
pub extern "C" fn fm_version() -> *const core::ffi::c_char {
    c"0.1.0".as_ptr()
}
