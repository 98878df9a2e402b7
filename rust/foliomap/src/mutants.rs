//! Mutation points: deliberately wrong rules ("mutants"), compiled in at build time only,
//! that measure whether the shadow checker (and the tests) can tell a wrong model from the
//! right one (`scripts/mutants`).
//!
//! `mutant!("NAME", mutated, original)` is `original`, unless the crate is built with
//! `--cfg foliomap_mutant="NAME"` in `RUSTFLAGS`; then it is `mutated`. Both are ordinary
//! expressions of the same type (a statement is a `()` expression: `mutant!("x", (),
//! s.f())` leaves the call out). The two arms are `#[cfg]`-selected blocks, so a build
//! without the cfg contains only `{ { original } }`: the kernel object of a normal build
//! is byte-identical to one made before the mutation points existed (measured; an earlier
//! form with `let value = ...; value` was not: LLVM lowered one `a && b` condition into a
//! different, equivalent compare). `scripts/mutants --list --check` and the `mutants`
//! test keep the list and the planted names in step.
//!
//! Every mutant is ONE plausible mistake at ONE place (one, `cow-s-ignored`, needs both
//! of the two S tests of spec §7.4 to be skipped at all). The list of all mutants, one a
//! line as `NAME<TAB>description<TAB>spec §`, is `scripts/mutants.list`; a name is planted
//! in the sources exactly where the mistake is, and nowhere else.
//!
//! A mutant changes what the model computes, never whether it can panic: the kernel-object
//! checker (no `core::panicking` symbol) runs on mutant objects too.

/// `mutant!("NAME", mutated, original)`: see the module documentation.
macro_rules! mutant {
    ($name:literal, $mutated:expr, $original:expr $(,)?) => {{
        #[cfg(foliomap_mutant = $name)]
        {
            $mutated
        }
        #[cfg(not(foliomap_mutant = $name))]
        {
            $original
        }
    }};
}
