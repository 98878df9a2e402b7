//! C tests: C code that reaches the library only through `include/foliomap.h`.
//!
//! # The harness
//! - Put a `.c` file in `rust/abi-tests/c/`. Each test is a function
//!   `int fm_ctest_<name>(char *msg, size_t msglen)` written on one line exactly so (the
//!   build script finds tests by that line; other signatures fail the build). It returns 0
//!   on success; on failure it writes a NUL-terminated message into `msg` (at most
//!   `msglen` bytes) and returns non-zero.
//! - `c/ctest.h` has `FM_CHECK(cond, fmt, ...)`, `FM_CHECK_EQ(a, b)` and
//!   `FM_CHECK_OK(call)`, which fill `msg` with file:line, the condition and the values.
//! - build.rs compiles every `c/*.c` with `-std=c11 -Wall -Wextra -Werror` into
//!   `libfm_ctests.a` and generates one `#[test]` named `<name>` per C test; it calls the
//!   function and panics with its message.
//! - The C code links against the model's `#[no_mangle]` `fm_*` functions of the
//!   `foliomap` rlib (a dependency of this crate).
//! - Run one: `cargo test -p foliomap-abi-tests --test c_tests <name>`.
use core::ffi::{c_char, c_int, CStr};

// Links the rlib with the fm_* symbols the C tests call.
use foliomap_abi_tests::foliomap_ffi as _;

fn run_ctest(name: &str, test: unsafe extern "C" fn(*mut c_char, usize) -> c_int) {
    let mut msg = [0 as c_char; 1024];
    // SAFETY: the C test writes at most msg.len() bytes, NUL-terminated, into msg.
    let rc = unsafe { test(msg.as_mut_ptr(), msg.len()) };
    *msg.last_mut().unwrap() = 0;
    // SAFETY: NUL-terminated above.
    let text = unsafe { CStr::from_ptr(msg.as_ptr()) }.to_string_lossy();
    assert!(
        rc == 0,
        "C test fm_ctest_{name} failed (returned {rc}): {text}"
    );
}

include!(concat!(env!("OUT_DIR"), "/ctests.rs"));
