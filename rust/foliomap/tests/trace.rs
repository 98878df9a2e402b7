//! The trace format's helpers: a folio's state encoded as `TraceState` + `TracePages`
//! runs covers every page exactly once and decodes back to the same pages; the digest
//! sees every folio-level field; the op codes decode.

use foliomap::ops;
use foliomap::store::FolioMut;
use foliomap::trace::{self, TraceOp, TracePages, TraceState, TRACE_PAGE_RUNS};
use foliomap::types::{Folio, Mode, Page};

fn decode(f: &mut FolioMut<'_>) -> (Vec<Page>, usize) {
    let mut pages = vec![
        Page {
            mapcount: 99,
            flags: 99
        };
        f.pages().len()
    ];
    let mut cursor = 0;
    let mut rec = TracePages::default();
    let mut records = 0;
    while trace::pages(f, &mut cursor, &mut rec) {
        records += 1;
        assert!(rec.nr as usize <= TRACE_PAGE_RUNS && rec.nr > 0);
        for run in &rec.runs[..rec.nr as usize] {
            for k in run.first..run.first + run.nr {
                assert_eq!(pages[k as usize].mapcount, 99, "page {k} covered twice");
                pages[k as usize] = Page {
                    mapcount: run.mapcount,
                    flags: run.flags,
                };
            }
        }
    }
    (pages, records)
}

#[test]
fn state_pages_round_trip() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut folio = Folio::new(mode, 9, 0).unwrap();
        let mut pages = [Page::INIT; 512];
        let mut f = FolioMut::new(&mut folio, &mut pages).unwrap();
        ops::fault_anon(&mut f, 1).unwrap();
        ops::split_pmd(&mut f, 1, false, true).unwrap();
        // every other page zapped: the worst case of 512 runs in pmc
        for k in (0..512).step_by(2) {
            ops::zap_ptes(&mut f, k, 1, 1).unwrap();
        }
        let st = trace::state(&f);
        let (decoded, records) = decode(&mut f);
        assert_eq!(decoded, f.pages());
        assert_eq!(st.nr_runs as usize, if mode == Mode::Pmc { 512 } else { 1 });
        assert_eq!(records, (st.nr_runs as usize).div_ceil(TRACE_PAGE_RUNS));
        assert_eq!(st.refcount, f.folio().refcount);
        assert_eq!(st.large_mapcount, f.folio().large_mapcount);
    }
}

#[test]
fn digest_changes_with_every_header_field() {
    let mut folio = Folio::new(Mode::Pmc, 4, 0).unwrap();
    let mut pages = [Page::INIT; 16];
    let mut f = FolioMut::new(&mut folio, &mut pages).unwrap();
    let d0 = trace::digest(&f);
    ops::get_refs(&mut f, 1).unwrap();
    let d1 = trace::digest(&f);
    assert_ne!(d0, d1, "refcount");
    ops::put_refs(&mut f, 1).unwrap();
    assert_eq!(trace::digest(&f), d0);
    ops::fault_anon(&mut f, 1).unwrap();
    let d2 = trace::digest(&f);
    ops::fork_ptes(&mut f, 0, 16, 2, false).unwrap();
    assert_ne!(trace::digest(&f), d2, "slots / mapcount");
}

/// Any one state word differing in any bit changes the digest of both versions (each
/// hash step is a bijection; the 32-bit fold of version 2 could collide, and must not
/// on these single-bit changes).
#[test]
fn digest_sees_every_bit_of_every_state_word() {
    let mut folio = Folio::new(Mode::Pmc, 9, 0).unwrap();
    let mut pages = [Page::INIT; 512];
    let mut f = FolioMut::new(&mut folio, &mut pages).unwrap();
    ops::fault_anon(&mut f, 1).unwrap();
    ops::fork_pmd(&mut f, 1, 2, false).unwrap();
    let base = trace::state(&f);
    let (d2, d1) = (trace::state_digest(&base), trace::digest_v1(&f));
    assert_eq!(d2, trace::digest(&f));
    assert_eq!(d1, trace::digest_of_version(1, &f));
    assert_eq!(d2, trace::digest_of_version(trace::TRACE_VERSION, &f));
    assert_ne!(d1, d2, "the versions are different functions");
    let mut seen = std::collections::HashSet::new();
    for bit in 0..64 {
        let b32 = 1u32 << (bit % 32);
        let flips: [&dyn Fn(&mut TraceState); 11] = [
            &|s| s.flags ^= b32 as u8,
            &|s| s.refcount ^= b32 as i32,
            &|s| s.pincount ^= b32 as i32,
            &|s| s.large_mapcount ^= b32 as i32,
            &|s| s.entire_mapcount ^= b32 as i32,
            &|s| s.nr_pages_mapped ^= b32 as i32,
            &|s| s.mm_id_mapcount[0] ^= b32 as i32,
            &|s| s.mm_id_mapcount[1] ^= b32 as i32,
            &|s| s.mm_ids ^= 1u64 << bit,
            &|s| s.order ^= b32 as u8,
            &|s| s.mm_ids ^= 1u64 << (63 - bit),
        ];
        for flip in flips {
            let mut st = base;
            flip(&mut st);
            if st == base {
                continue; // the bit is outside the field
            }
            let d = trace::state_digest(&st);
            assert_ne!(d, d2, "bit {bit}");
            seen.insert(d);
        }
    }
    assert!(seen.len() > 300, "{} distinct digests", seen.len());
}

#[test]
fn op_codes_decode() {
    for raw in 0..=100u16 {
        if let Some(op) = TraceOp::from_raw(raw) {
            assert_eq!(op as u16, raw);
        }
    }
    assert_eq!(TraceOp::from_raw(0), None);
    assert_eq!(TraceOp::from_raw(39), None);
    assert_eq!(TraceOp::from_raw(64), Some(TraceOp::State));
    assert_eq!((1..=38).filter_map(TraceOp::from_raw).count(), 38);
}

#[test]
fn state_digest_is_the_folio_digest() {
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut folio = Folio::new(mode, 9, 0).unwrap();
        let mut pages = [Page::INIT; 512];
        let mut f = FolioMut::new(&mut folio, &mut pages).unwrap();
        ops::fault_anon(&mut f, 1).unwrap();
        ops::fork_pmd(&mut f, 1, 2, false).unwrap();
        ops::split_pmd(&mut f, 2, false, true).unwrap();
        let mut st = trace::state(&f);
        assert_eq!(trace::state_digest(&st), trace::digest(&f));
        // a recorder's adjusted state: the digest of the folio with that change
        st.refcount += 3;
        ops::get_refs(&mut f, 3).unwrap();
        assert_eq!(trace::state_digest(&st), trace::digest(&f));
        st.large_mapcount += 1;
        assert_ne!(trace::state_digest(&st), trace::digest(&f));
    }
}

#[test]
fn queries_of_corrupt_counters_wrap_like_the_kernel() {
    // Found by scripts/fuzz (fuzz/corpus/crash-e9bf...): a query of a folio whose raw
    // counters are at i32::MAX overflowed (a panic with overflow checks, a silent wrap
    // without). The kernel's accessors wrap (-fno-strict-overflow): so does the model.
    use foliomap::query;
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut folio = Folio::new(mode, 4, 0).unwrap();
        folio.large_mapcount = i32::MAX;
        folio.entire_mapcount = i32::MAX;
        let mut pages = [Page {
            mapcount: i32::MAX,
            flags: 0,
        }; 16];
        let f = FolioMut::new(&mut folio, &mut pages).unwrap();
        assert_eq!(query::mapcount(&f), i32::MIN);
        let _ = (
            query::expected_ref_count(&f),
            query::average_page_mapcount(&f),
            query::precise_page_mapcount(&f, 3),
            query::kpagecount(&f, 3),
            query::maybe_mapped_shared(&f),
        );
    }
}
