//! The header agrees with the Rust definitions: for every shared struct, bindgen's size,
//! alignment and every field's offset and size equal the Rust type's; for every C enum,
//! the size and every value; for every constant, the value.
//!
//! The lists live in rust/abi-layout (`for_each_abi_*!`); adding a type is one line there.
//! Field and variant lists are exhaustive on both sides (compile errors otherwise).
use core::mem::{align_of, offset_of, size_of};
use foliomap_abi_layout::{for_each_abi_const, for_each_abi_enum, for_each_abi_struct};
use foliomap_abi_tests::{c, field_size};

macro_rules! struct_layout {
    ($rust:path => $c:ident { $($field:ident),* $(,)? }) => {
        #[allow(non_snake_case)]
        mod $c {
            use super::*;
            type R = $rust;
            type C = c::$c;

            // Both destructurings are exhaustive: a field that one side has and the list
            // lacks does not compile.
            #[allow(dead_code)]
            fn complete(r: R, c: C) {
                let R { $($field: _),* } = r;
                let C { $($field: _),* } = c;
            }

            #[test]
            fn layout() {
                let name = stringify!($c);
                assert_eq!(size_of::<C>(), size_of::<R>(), "{name}: size (C vs Rust)");
                assert_eq!(align_of::<C>(), align_of::<R>(), "{name}: alignment (C vs Rust)");
                $(
                    assert_eq!(
                        offset_of!(C, $field), offset_of!(R, $field),
                        "{name}.{}: offset (C vs Rust)", stringify!($field)
                    );
                    assert_eq!(
                        field_size(|s: &C| &s.$field), field_size(|s: &R| &s.$field),
                        "{name}.{}: size (C vs Rust)", stringify!($field)
                    );
                )*
            }
        }
    };
}
for_each_abi_struct!(struct_layout);

macro_rules! enum_values {
    ($rust:path: $repr:ty => $c:ident { $($variant:ident = $cname:ident),* $(,)? }) => {
        #[allow(non_snake_case)]
        mod $c {
            use super::*;
            type R = $rust;

            // Exhaustive: a Rust variant missing from the list does not compile.
            #[allow(dead_code)]
            fn complete(r: R) {
                match r {
                    $(R::$variant => {}),*
                }
            }

            #[test]
            fn values() {
                let name = stringify!($c);
                assert_eq!(size_of::<c::$c>(), size_of::<R>(), "{name}: size (C vs Rust)");
                assert_eq!(size_of::<$repr>(), size_of::<R>(), "{name}: repr");
                $(
                    assert_eq!(
                        c::$cname as i64, R::$variant as $repr as i64,
                        "{}: C value vs Rust {name}::{}", stringify!($cname), stringify!($variant)
                    );
                )*
            }
        }
    };
}
for_each_abi_enum!(enum_values);

#[test]
fn constants() {
    let mut wrong = Vec::new();
    macro_rules! constant {
        ($cname:ident = $rust:path) => {
            // Compared as 64-bit patterns: bindgen types a macro like 1ull << 63 as i64.
            let (in_c, in_rust) = (c::$cname as i64 as u64, $rust as i64 as u64);
            if in_c != in_rust {
                wrong.push(format!(
                    "{} = {in_c:#x} in the header, {in_rust:#x} in Rust",
                    stringify!($cname)
                ));
            }
        };
    }
    for_each_abi_const!(constant);
    assert!(
        wrong.is_empty(),
        "constants differ between include/foliomap.h and Rust (a C expression that \
         overflows `int` needs a typed literal, e.g. `1u64 << n`, in the Rust source):\n{}",
        wrong.join("\n")
    );
}
