//! Prints the layout `_Static_assert`s of `include/foliomap.h` (see `scripts/gen-header`).
fn main() {
    println!("{}", foliomap_abi_layout::static_asserts());
}
