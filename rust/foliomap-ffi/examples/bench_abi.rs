//! The Rust side of `scripts/bench`: what the C ABI costs on top of the Rust API.
//!
//! ```sh
//! cargo run --release -p foliomap-ffi --example bench_abi -- [--reps R] [--calls K]
//! ```
//!
//! For add and remove of a batch of an order-9 folio (both modes, both layers) it times
//! the same call three ways: `rust_api` (the generic `rmap::add_ptes` on a store built
//! once), `rust_api_store` (the store built and validated on every call, as the C entry
//! points do), and `ffi` (the `fm_*` extern "C" function through a function pointer the
//! compiler cannot see through, as a C caller of `libfoliomap.a` calls it). It also times
//! `folio_maybe_mapped_shared` by folio order. Output: TSV rows in the format of
//! `bench/bench.c` (ns per call and the ratio to one atomic add measured in the same
//! repetition), on stdout. Stable Rust only: `std::time::Instant` and `black_box`.
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use foliomap::ops;
use foliomap::query;
use foliomap::rmap::{self, Kind};
use foliomap::store::FolioMut;
use foliomap::sync::{AtomicFolio, AtomicPage, SyncFolio};
use foliomap::types::{Folio, Mode, Page, RmapOutcome, Status, FOLIO_OPT_CONCURRENT};
use foliomap_ffi as ffi;

const MM1: u32 = 1;
const MM2: u32 = 2;

#[repr(align(64))]
struct Line(AtomicU64);
static LINE: Line = Line(AtomicU64::new(0));

struct Cfg {
    reps: usize,
    calls: usize,
}

fn atomic_ns(cfg: &Cfg) -> f64 {
    let n = cfg.calls * 100;
    let t = Instant::now();
    for _ in 0..n {
        black_box(LINE.0.fetch_add(1, Ordering::SeqCst));
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn time(cfg: &Cfg, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..cfg.calls {
        f();
    }
    t.elapsed().as_nanos() as f64 / cfg.calls as f64
}

#[derive(Default)]
struct Samples {
    ns: Vec<f64>,
    atom: Vec<f64>,
    ratio: Vec<f64>,
}

impl Samples {
    fn add(&mut self, ns: f64, atom: f64) {
        self.ns.push(ns);
        self.atom.push(atom);
        self.ratio.push(ns / atom);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn emit(source: &str, op: &str, mode: Mode, layer: &str, order: u32, batch: u32, s: &mut Samples) {
    let (ns, atom, r) = (median(&mut s.ns), median(&mut s.atom), median(&mut s.ratio));
    let last = s.ns.len() - 1;
    println!(
        "{source}\t{op}\t{}\t{layer}\t{order}\t{batch}\t{}\t{ns:.3}\t{:.3}\t{:.3}\t{atom:.3}\t{r:.4}\t{:.4}\t{:.4}",
        if mode == Mode::Pmc { "pmc" } else { "nopmc" },
        s.ns.len(),
        s.ns[0],
        s.ns[last],
        s.ratio[0],
        s.ratio[last]
    );
}

fn ok<T>(r: Result<T, Status>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("refused: {e:?}"),
    }
}

fn check(st: Status) {
    assert_eq!(st, Status::Ok, "fm_* call refused");
}

/// A folio of `order` fully PTE-mapped by mm 1 (order 9: PMD fault, then PMD split);
/// `shared`: forked into mm 2 too.
fn setup(mode: Mode, order: u32, options: u32, shared: bool) -> (Folio, Vec<Page>) {
    let mut folio = ok(Folio::new(mode, order, options));
    let mut pages = vec![Page::INIT; 1 << order];
    {
        let mut s = ok(FolioMut::new(&mut folio, &mut pages));
        ok(ops::fault_anon(&mut s, MM1));
        if order == 9 {
            ok(ops::split_pmd(&mut s, MM1, false, false));
        }
        if shared {
            ok(ops::fork_ptes(&mut s, 0, 1 << order, MM2, false));
        }
    }
    (folio, pages)
}

/// Seals `folio` (moved out of `setup`) to its final address with its pages, as the C
/// ABI requires of a header that was moved or copied.
fn place(folio: &mut Folio, pages: &mut [Page]) {
    // SAFETY: both are valid, exclusively borrowed, and `pages` holds the folio's state.
    check(unsafe { ffi::fm_folio_rebind(folio, pages.as_mut_ptr(), pages.len() as u32) });
}

type AddFn = unsafe extern "C" fn(*mut Folio, u32, u32, u32, u32, *mut RmapOutcome) -> Status;
type RemoveFn = unsafe extern "C" fn(*mut Folio, u32, u32, u32, *mut RmapOutcome) -> Status;

fn bench_abi(cfg: &Cfg, mode: Mode, concurrent: bool, batch: u32) {
    let order = 9;
    let options = if concurrent { FOLIO_OPT_CONCURRENT } else { 0 };
    let layer = if concurrent { "concurrent" } else { "plain" };
    let first = ((1 << order) - batch) / 2;
    let (mut folio, mut pages) = setup(mode, order, options, false);
    place(&mut folio, &mut pages);
    // The same state as the atomic layer's own copy, for its Rust API.
    let afolio = AtomicFolio::new(folio);
    let apages: Vec<AtomicPage> = pages.iter().map(|&p| AtomicPage::new(p)).collect();
    let add: AddFn = black_box(ffi::fm_folio_add_anon_ptes);
    let remove: RemoveFn = black_box(ffi::fm_folio_remove_ptes);
    let mut out = RmapOutcome::default();
    let (mut api, mut api_rm) = (Samples::default(), Samples::default());
    let (mut st, mut st_rm) = (Samples::default(), Samples::default());
    let (mut abi, mut abi_rm) = (Samples::default(), Samples::default());
    for _ in 0..cfg.reps {
        let a = atomic_ns(cfg);
        let (b, m) = (black_box(batch), black_box(MM1));
        if concurrent {
            let mut s = ok(SyncFolio::new(&afolio, &apages));
            api.add(
                time(cfg, || {
                    black_box(ok(rmap::add_ptes(&mut s, Kind::Anon, first, b, m, false)));
                }),
                a,
            );
            api_rm.add(
                time(cfg, || {
                    black_box(ok(rmap::remove_ptes(&mut s, first, b, m)));
                }),
                a,
            );
            st.add(
                time(cfg, || {
                    let mut s = ok(SyncFolio::new(black_box(&afolio), &apages));
                    black_box(ok(rmap::add_ptes(&mut s, Kind::Anon, first, b, m, false)));
                }),
                a,
            );
            st_rm.add(
                time(cfg, || {
                    let mut s = ok(SyncFolio::new(black_box(&afolio), &apages));
                    black_box(ok(rmap::remove_ptes(&mut s, first, b, m)));
                }),
                a,
            );
        } else {
            {
                let mut s = ok(FolioMut::new(&mut folio, &mut pages));
                api.add(
                    time(cfg, || {
                        black_box(ok(rmap::add_ptes(&mut s, Kind::Anon, first, b, m, false)));
                    }),
                    a,
                );
                api_rm.add(
                    time(cfg, || {
                        black_box(ok(rmap::remove_ptes(&mut s, first, b, m)));
                    }),
                    a,
                );
            }
            st.add(
                time(cfg, || {
                    let mut s = ok(FolioMut::new(black_box(&mut folio), &mut pages));
                    black_box(ok(rmap::add_ptes(&mut s, Kind::Anon, first, b, m, false)));
                }),
                a,
            );
            st_rm.add(
                time(cfg, || {
                    let mut s = ok(FolioMut::new(black_box(&mut folio), &mut pages));
                    black_box(ok(rmap::remove_ptes(&mut s, first, b, m)));
                }),
                a,
            );
        }
        // The C entry points below reach the pages through `folio.pages` again.
        folio.pages = pages.as_mut_ptr();
        // SAFETY: `folio` is initialised and its `pages` points to `pages`, which holds
        // all of its pages and outlives the calls; no other reference to either is used
        // meanwhile; `out` is writable.
        abi.add(
            time(cfg, || {
                check(unsafe { add(&mut folio, first, b, m, 0, &mut out) });
            }),
            a,
        );
        // SAFETY: as above.
        abi_rm.add(
            time(cfg, || {
                check(unsafe { remove(&mut folio, first, b, m, &mut out) });
            }),
            a,
        );
    }
    emit("rust_api", "add", mode, layer, order, batch, &mut api);
    emit("rust_api", "remove", mode, layer, order, batch, &mut api_rm);
    emit("rust_api_store", "add", mode, layer, order, batch, &mut st);
    emit(
        "rust_api_store",
        "remove",
        mode,
        layer,
        order,
        batch,
        &mut st_rm,
    );
    emit("ffi", "add", mode, layer, order, batch, &mut abi);
    emit("ffi", "remove", mode, layer, order, batch, &mut abi_rm);
}

/// `folio_maybe_mapped_shared` through the Rust API on a folio mapped by two mms.
fn bench_mms(cfg: &Cfg, mode: Mode, concurrent: bool, order: u32) {
    let (mut folio, mut pages) = setup(mode, order, 0, true);
    place(&mut folio, &mut pages);
    let afolio = AtomicFolio::new(folio);
    let apages: Vec<AtomicPage> = pages.iter().map(|&p| AtomicPage::new(p)).collect();
    let mut samples = Samples::default();
    for _ in 0..cfg.reps {
        let a = atomic_ns(cfg);
        let ns = if concurrent {
            let s = ok(SyncFolio::new(&afolio, &apages));
            time(cfg, || assert!(query::maybe_mapped_shared(black_box(&s))))
        } else {
            let s = ok(FolioMut::new(&mut folio, &mut pages));
            time(cfg, || assert!(query::maybe_mapped_shared(black_box(&s))))
        };
        samples.add(ns, a);
    }
    let layer = if concurrent { "concurrent" } else { "plain" };
    emit(
        "rust_api",
        "maybe_mapped_shared",
        mode,
        layer,
        order,
        1,
        &mut samples,
    );
}

fn arg(args: &mut impl Iterator<Item = String>, name: &str, max: usize) -> usize {
    match args.next().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) if (1..=max).contains(&n) => n,
        _ => {
            eprintln!("bench_abi: {name} needs an integer in 1..={max}");
            std::process::exit(2)
        }
    }
}

fn main() {
    let mut cfg = Cfg {
        reps: 7,
        calls: 2000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => cfg.reps = arg(&mut args, "--reps", 101),
            "--calls" => cfg.calls = arg(&mut args, "--calls", 100_000),
            _ => {
                eprintln!("bench_abi: unknown argument '{a}'");
                std::process::exit(2)
            }
        }
    }
    println!("source\top\tmode\tlayer\torder\tbatch\treps\tns_med\tns_min\tns_max\tatomic_ns_med\tratio_med\tratio_min\tratio_max");
    for mode in [Mode::Pmc, Mode::Nopmc] {
        for concurrent in [false, true] {
            eprintln!(
                "  rust: {} {} ABI overhead, maybe_mapped_shared",
                if mode == Mode::Pmc { "pmc" } else { "nopmc" },
                if concurrent { "concurrent" } else { "plain" }
            );
            for batch in [1, 8, 64, 512] {
                bench_abi(&cfg, mode, concurrent, batch);
            }
            for order in [4, 9] {
                bench_mms(&cfg, mode, concurrent, order);
            }
        }
    }
}
