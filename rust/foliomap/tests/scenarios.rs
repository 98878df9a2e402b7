//! The 32 scenarios of spec §11 (shared/spec/linux-7.3-folio-accounting.md) as data
//! tables, run in both modes ([PMC] and [NOPMC]), asserting every raw field the spec lists
//! after every step and every reuse/copy outcome, then replayed on the stateful layer.
//!
//! Expected states are written in the spec's notation (see `common::World::check`):
//! `ref lmc emc ids mmc S pae pmap dq pincount nrpm pmc[..] pmc{..} Δanon Δthp`, plus
//! `Σanon` (cumulative since the scenario's first step), `mapcount` / `shared` /
//! `expected_ref` (the §4 queries), `F:` / `G:` / `f[a..b]:` to select the folio (the
//! scenario's folio, the migration destination, order-0 split results) and `MM.pte[..]` /
//! `MM.pmd` for an mm's page-table view. `[PMC]` / `[NOPMC]` restrict the following
//! fields to one mode, `[BOTH]` ends the restriction. Ranges `a..b` are inclusive, as in
//! the spec. An empty expectation asserts nothing but the step's outcome.
//!
//! Scenarios that start "From Sxx step k" replay that prefix (with its assertions).

mod common;

use common::{run, Counts, Expect, Row, Scenario, Step};
use foliomap::types::Mode;

use Expect::{Copy, Fallback, NoFault, Reuse};

const P: &str = "P";
const C: &str = "C";
const C1: &str = "C1";
const C2: &str = "C2";

fn r(step: Step, expect: &str) -> Row {
    Row {
        step,
        expect: expect.into(),
        note: None,
    }
}

fn fault(mm: &'static str) -> Step {
    Step::Fault { mm, written: None }
}
fn fork(parent: &'static str, child: &'static str) -> Step {
    Step::Fork { parent, child }
}
/// munmap / MADV_DONTNEED of pages `first..=last` (inclusive, as the spec writes
/// ranges): both zap the range (spec §6.2).
fn zap(mm: &'static str, first: u32, last: u32) -> Step {
    Step::Zap {
        mm,
        first,
        nr: last - first + 1,
    }
}
fn dontneed(mm: &'static str, first: u32, last: u32) -> Step {
    zap(mm, first, last)
}
fn munmap(mm: &'static str, first: u32, last: u32) -> Step {
    zap(mm, first, last)
}
fn exit(mm: &'static str) -> Step {
    Step::Exit { mm }
}
fn write(mm: &'static str, page: u32, expect: Expect) -> Step {
    Step::Write { mm, page, expect }
}
fn pin(mm: &'static str, page: u32) -> Step {
    Step::Pin { mm, page }
}
fn split_pmd(mm: &'static str) -> Step {
    Step::SplitPmd { mm }
}

fn sc(name: &'static str, order: u32, rows: Vec<Row>) -> Scenario {
    Scenario {
        name,
        order,
        file: false,
        rows,
    }
}

fn cat(mut a: Vec<Row>, b: Vec<Row>) -> Vec<Row> {
    a.extend(b);
    a
}

// ---- mTHP (order 4, N = 16) prefixes ----

/// S01 step 1.
fn s01() -> Vec<Row> {
    vec![r(
        fault(P),
        "ref=16 lmc=15 emc=-1 ids=[P,0] mmc=[15,-1] S=0 pae={0..15} pmap=0 dq=0 \
         [PMC] nrpm=16 pmc[0..15]=0 Δanon=+16 [NOPMC] Δanon=+16 \
         [BOTH] mapcount=16 shared=false",
    )]
}

/// S02.
fn s02() -> Vec<Row> {
    cat(
        s01(),
        vec![r(
            fork(P, C),
            "ref=32 lmc=31 ids=[P,C] mmc=[15,15] S=1 pae={} pmap=0 dq=0 \
             [PMC] pmc[0..15]=1 nrpm=16 [BOTH] Δanon=0 shared=true",
        )],
    )
}

/// S04 step 1.
fn s04_1() -> Vec<Row> {
    cat(
        s02(),
        vec![r(
            exit(C),
            "ref=16 lmc=15 ids=[P,0] mmc=[15,-1] S=0 pae={} pmap=0 [PMC] pmc[*]=0 nrpm=16",
        )],
    )
}

/// S10 steps 1-2: three mms, C2 untracked.
fn s10_2() -> Vec<Row> {
    cat(
        s01(),
        vec![
            r(fork(P, C1), "ref=32 lmc=31 ids=[P,C1] mmc=[15,15] S=1"),
            r(
                fork(P, C2),
                "ref=48 lmc=47 ids=[P,C1] mmc=[15,15] S=1 [PMC] pmc[*]=2",
            ),
        ],
    )
}

/// S11 steps 1-4: only the untracked C2 maps, S sticky.
fn s11_4() -> Vec<Row> {
    cat(
        s10_2(),
        vec![
            r(exit(P), "ref=32 lmc=31 ids=[0,C1] mmc=[-1,15] S=1"),
            r(
                exit(C1),
                "ref=16 lmc=15 ids=[0,0] mmc=[-1,-1] S=1 pae={} pmap=0 dq=0 \
                 mapcount=16 shared=true",
            ),
        ],
    )
}

// ---- THP (order 9, N = 512) prefixes ----

/// S16.
fn s16() -> Vec<Row> {
    vec![r(
        fault(P),
        "ref=1 emc=0 lmc=0 ids=[P,0] mmc=[0,-1] S=0 pae={0} pmap=0 dq=1 \
         [PMC] nrpm=0x800000 pmc[*]=-1 [BOTH] Δanon=+512 Δthp=+512",
    )]
}

/// S17.
fn s17() -> Vec<Row> {
    cat(
        s16(),
        vec![r(
            fork(P, C),
            "ref=2 emc=1 lmc=1 ids=[P,C] mmc=[0,0] S=1 pae={} pmap=0 dq=1 \
             [PMC] nrpm=0x800000 [BOTH] Δanon=0 Δthp=0 P.pmd=ro C.pmd=ro",
        )],
    )
}

/// S18.
fn s18() -> Vec<Row> {
    cat(
        s17(),
        vec![
            // nrpm=0x800000+512 in the spec's notation.
            r(
                write(P, 0, Fallback),
                "ref=513 emc=0 lmc=512 ids=[P,C] mmc=[511,0] S=1 \
                 [PMC] pmc[*]=0 nrpm=0x800200 [BOTH] Δanon=0 Δthp=0 C.pmd=ro",
            ),
            r(
                write(P, 0, Copy),
                "ref=512 emc=0 lmc=511 mmc=[510,0] S=1 pae={} \
                 [PMC] pmc[0]=-1 pmc[1..511]=0 nrpm=0x8001FF pmap=0 \
                 [NOPMC] pmap=0 [BOTH] Δanon=+1",
            ),
        ],
    )
}

/// S21 steps 1-2 (MADV_DONTNEED of pages 256..511: PMD split, then the PTE zap).
fn s21_2() -> Vec<Row> {
    cat(
        s16(),
        vec![
            r(
                split_pmd(P),
                "ref=512 emc=-1 lmc=511 ids=[P,0] mmc=[511,-1] S=0 pae={0..511} \
                 [PMC] pmc[*]=0 nrpm=512 [BOTH] Δthp=-512 Δanon=0",
            ),
            r(
                dontneed(P, 256, 511),
                "ref=256 lmc=255 mmc=[255,-1] dq=1 pae={0..511} \
                 [PMC] pmc[256..511]=-1 nrpm=256 Δanon=-256 pmap=1 \
                 [NOPMC] pmap=1 Δanon=0",
            ),
        ],
    )
}

/// S24 steps 1-2: PTE-mapped THP (mprotect split), forked.
fn s24_2() -> Vec<Row> {
    cat(
        s16(),
        vec![
            r(
                split_pmd(P),
                "ref=512 emc=-1 lmc=511 ids=[P,0] mmc=[511,-1] S=0 pae={0..511} pmap=0 dq=1 \
                 [PMC] pmc[*]=0 nrpm=512 [BOTH] Δthp=-512",
            ),
            r(
                fork(P, C),
                "ref=1024 lmc=1023 ids=[P,C] mmc=[511,511] S=1 pae={} [PMC] pmc[*]=1",
            ),
        ],
    )
}

/// S22/S23 split steps (debugfs `split_huge_pages` to order 0).
fn split_steps(remap: &str) -> Vec<Row> {
    vec![
        r(
            Step::SplitUnmap,
            "ref=1 lmc=-1 ids=[0,0] mmc=[-1,-1] S=0 [PMC] Δanon=-256 [NOPMC] Δanon=-512",
        ),
        r(Step::SplitFreeze, "ref=0 pmap=0 dq=0"),
        r(Step::SplitRemap, remap),
    ]
}

pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();

    // S01 — mTHP: first write fault.
    let mut rows = s01();
    for k in 1..16 {
        rows.push(r(write(P, k, NoFault), ""));
    }
    rows.push(r(
        Step::ForcedWrite {
            mm: P,
            page: 9,
            expect: Reuse,
        },
        "ref=16 lmc=15 pae={0..15} Δanon=0",
    ));
    v.push(sc("S01", 4, rows));

    // S02 — mTHP: fork.
    v.push(sc("S02", 4, s02()));

    // S03 — both sides CoW the same page ([NOPMC] partial-map false negative).
    v.push(sc(
        "S03",
        4,
        cat(
            s02(),
            vec![
                r(
                    write(P, 3, Copy),
                    "ref=31 lmc=30 ids=[P,C] mmc=[14,15] S=1 pae={} \
                     [PMC] pmc[3]=0 pmc{0..2,4..15}=1 nrpm=16 Δanon=+1 \
                     [NOPMC] Δanon=+1 [BOTH] pmap=0",
                ),
                r(
                    write(C, 3, Copy),
                    "ref=30 lmc=29 mmc=[14,14] S=1 \
                     [PMC] pmc[3]=-1 nrpm=15 Δanon=0 pmap=1 dq=1 \
                     [NOPMC] pmap=0 dq=0 Δanon=+1",
                ),
            ],
        ),
    ));

    // S04 — fork, child exits, parent writes → REUSE.
    v.push(sc(
        "S04",
        4,
        cat(
            s04_1(),
            vec![
                r(write(P, 7, Reuse), "pae={7} ref=16 lmc=15 Δanon=0"),
                r(write(P, 8, Reuse), "pae={7,8}"),
            ],
        ),
    ));

    // S05 — fork, parent unmaps everything, child writes → REUSE.
    v.push(sc(
        "S05",
        4,
        cat(
            s02(),
            vec![
                r(
                    munmap(P, 0, 15),
                    "ref=16 lmc=15 ids=[0,C] mmc=[-1,15] S=0 [PMC] pmc[*]=0",
                ),
                r(write(C, 2, Reuse), "pae={2}"),
            ],
        ),
    ));

    // S06 — the classic "split halves" trap.
    let mut rows = cat(
        s02(),
        vec![
            r(
                dontneed(C, 8, 15),
                "ref=24 lmc=23 mmc=[15,7] S=1 pmap=0 \
                 [PMC] pmc[0..7]=1 pmc[8..15]=0 nrpm=16",
            ),
            r(
                dontneed(P, 0, 7),
                "ref=16 lmc=15 ids=[P,C] mmc=[7,7] S=1 pmap=0 [PMC] pmc[*]=0 nrpm=16",
            ),
            r(
                write(P, 10, Copy),
                "ref=15 lmc=14 mmc=[6,7] \
                 [PMC] pmc[10]=-1 nrpm=15 Δanon=0 pmap=1 dq=1 \
                 [NOPMC] emc=-1 pmap=1 dq=1 Δanon=+1",
            ),
            r(
                write(C, 2, Copy),
                "ref=14 lmc=13 mmc=[6,6] S=1 [PMC] pmc[2]=-1 nrpm=14 Δanon=0 \
                 [NOPMC] Δanon=+1",
            ),
        ],
    );
    for k in [8, 9, 11, 12, 13, 14] {
        rows.push(r(write(P, k, Copy), "S=1"));
    }
    rows.push(r(
        write(P, 15, Copy),
        "ref=7 lmc=6 ids=[0,C] mmc=[-1,6] S=0 \
         [PMC] pmc[8..15]=-1 pmc[2]=-1 pmc{0,1,3..7}=0 nrpm=7",
    ));
    rows.push(r(write(C, 3, Reuse), "pae={3} ref=7 lmc=6"));
    v.push(sc("S06", 4, rows));

    // S07 — child copies every page, then parent reuses.
    let mut rows = s02();
    for k in 1..=15u32 {
        rows.push(r(
            write(C, k - 1, Copy),
            &format!(
                "lmc={} mmc=[15,{}] ref={} S=1 Δanon=+1",
                31 - k,
                15 - k,
                32 - k
            ),
        ));
    }
    rows.push(r(
        write(C, 15, Copy),
        "ref=16 lmc=15 ids=[P,0] mmc=[15,-1] S=0 pae={} Δanon=+1 \
         [PMC] pmc[*]=0 nrpm=16 pmap=0 [NOPMC] pmap=0",
    ));
    rows.push(r(write(P, 9, Reuse), "pae={9}"));
    v.push(sc("S07", 4, rows));
    // S07, "(a parent write at this point would COPY)": after C's 15th copy.
    let mut rows = s02();
    for k in 0..15 {
        rows.push(r(write(C, k, Copy), ""));
    }
    rows.push(r(
        write(P, 9, Copy),
        // Derived (the spec states only COPY): C already copied page 9, so in [PMC]
        // P's removal unmaps it (−1, +1 for the copy) and marks PM; [NOPMC] LM=16.
        "ref=16 lmc=15 ids=[P,C] mmc=[14,0] S=1 pae={} \
         [PMC] pmc[9]=-1 nrpm=15 Δanon=0 pmap=1 [NOPMC] Δanon=+1 pmap=0",
    ));
    v.push(sc("S07b", 4, rows));

    // S08 — exclusive but LM == 1 → COPY.
    v.push(sc(
        "S08",
        4,
        cat(
            s04_1(),
            vec![
                r(
                    dontneed(P, 1, 15),
                    "ref=1 lmc=0 mmc=[0,-1] S=0 \
                     [PMC] pmc[1..15]=-1 nrpm=1 Δanon=-15 pmap=1 dq=1 \
                     [NOPMC] pmap=1 dq=1 Δanon=0",
                ),
                r(
                    write(P, 0, Copy),
                    "lmc=-1 ids=[0,0] mmc=[-1,-1] S=0 ref=0 pmap=0 dq=0 \
                     [PMC] pmc[0]=-1 nrpm=0 Δanon=0 [NOPMC] Δanon=-15",
                ),
            ],
        ),
    ));

    // S09 — two mms unmap the same pages ([NOPMC] false negative).
    v.push(sc(
        "S09",
        4,
        cat(
            s02(),
            vec![
                r(
                    dontneed(P, 0, 3),
                    "ref=28 lmc=27 mmc=[11,15] S=1 pmap=0 \
                     [PMC] pmc[0..3]=0 pmc[4..15]=1 nrpm=16",
                ),
                r(
                    dontneed(C, 0, 3),
                    "ref=24 lmc=23 mmc=[11,11] S=1 \
                     [PMC] pmc[0..3]=-1 nrpm=12 Δanon=-4 pmap=1 dq=1 \
                     [NOPMC] pmap=0 dq=0 Δanon=0",
                ),
                r(write(P, 5, Copy), ""),
            ],
        ),
    ));

    // S10 — three mms, the untracked one exits first → S clears → REUSE.
    v.push(sc(
        "S10",
        4,
        cat(
            s10_2(),
            vec![
                r(exit(C2), "ref=32 lmc=31 S=1 [PMC] pmc[*]=1"),
                r(exit(C1), "ref=16 lmc=15 ids=[P,0] mmc=[15,-1] S=0"),
                r(write(P, 0, Reuse), "pae={0}"),
            ],
        ),
    ));

    // S11 — three mms, both tracked mms exit → sticky false "shared".
    v.push(sc(
        "S11",
        4,
        cat(
            s11_4(),
            vec![
                r(
                    write(C2, 0, Copy),
                    "ref=15 lmc=14 S=1 \
                     [PMC] pmc[0]=-1 nrpm=15 Δanon=0 pmap=1 dq=1 \
                     [NOPMC] pmap=1 dq=1 Δanon=+1",
                ),
                // "Every further C2 write also COPYs".
                r(write(C2, 1, Copy), "ref=14 lmc=13 S=1"),
            ],
        ),
    ));

    // S12 — migration heals the sticky S (and marks the destination PM).
    v.push(sc(
        "S12",
        4,
        cat(
            s11_4(),
            vec![
                r(
                    Step::MigrateUnmap,
                    "lmc=-1 ids=[0,0] mmc=[-1,-1] S=0 pmap=1 dq=1 \
                     [PMC] Δanon=-16 [NOPMC] Δanon=-16",
                ),
                r(Step::MigrateMove, "G: pmap=1 dq=1 F: pmap=0 dq=0 ref=0"),
                r(
                    Step::MigrateRemap,
                    "G: ref=16 lmc=15 emc=-1 ids=[C2,0] mmc=[15,-1] S=0 pae={} pmap=1 dq=1 \
                     [PMC] pmc[*]=0 nrpm=16 Δanon=+16 [NOPMC] Δanon=+16",
                ),
                r(write(C2, 0, Reuse), "G: pae={0} ref=16 lmc=15"),
            ],
        ),
    ));

    // S13 — pinned folio at fork → child gets 16 copies.
    v.push(sc(
        "S13",
        4,
        cat(
            s01(),
            vec![
                r(pin(P, 0), "ref=17 pincount=1"),
                r(
                    fork(P, C),
                    "ref=17 lmc=15 ids=[P,0] mmc=[15,-1] S=0 pae={0..15} pincount=1 \
                     [PMC] pmc[*]=0 nrpm=16 [BOTH] Δanon=+16 P.pte[*]=rw C.pte[*]=copy",
                ),
                r(write(P, 4, NoFault), ""),
                r(write(C, 4, NoFault), ""),
                r(Step::Unpin { mm: P, page: 0 }, "ref=16 pincount=0"),
            ],
        ),
    ));

    // S13, "(Pinning all 16 pages gives ref=32 pincount=16; the fork outcome below is
    // the same.)"
    let mut rows = s01();
    for k in 0..16 {
        rows.push(r(pin(P, k), ""));
    }
    rows.last_mut().expect("pin rows").expect = "ref=32 pincount=16".into();
    rows.push(r(
        fork(P, C),
        "ref=32 lmc=15 ids=[P,0] mmc=[15,-1] S=0 pae={0..15} pincount=16 \
         [PMC] pmc[*]=0 nrpm=16 [BOTH] Δanon=+16 P.pte[*]=rw C.pte[*]=copy",
    ));
    v.push(sc("S13b", 4, rows));

    // S14 — pinned PAE page + already-shared pages at fork.
    v.push(sc(
        "S14",
        4,
        cat(
            s04_1(),
            vec![
                r(write(P, 0, Reuse), "pae={0} P.pte[0]=rw"),
                r(pin(P, 0), "ref=17 pincount=1"),
                r(
                    fork(P, C2),
                    "ref=32 lmc=30 ids=[P,C2] mmc=[15,14] S=1 pae={0} pincount=1 \
                     [PMC] pmc[0]=0 pmc[1..15]=1 nrpm=16 [BOTH] C2.pte[0]=copy P.pte[0]=rw",
                ),
                r(
                    write(P, 5, Copy),
                    "ref=31 lmc=29 mmc=[14,14] [PMC] pmc[5]=0",
                ),
                r(write(P, 0, NoFault), ""),
            ],
        ),
    ));

    // S15 — read-only pin after fork → unshare COPY.
    v.push(sc(
        "S15",
        4,
        cat(
            s02(),
            vec![r(
                Step::PinReadOnly {
                    mm: P,
                    page: 4,
                    expect: Copy,
                },
                "ref=31 lmc=30 ids=[P,C] mmc=[14,15] S=1 pae={} pmap=0 \
                 [PMC] pmc[4]=0 nrpm=16 [BOTH] Δanon=+1",
            )],
        ),
    ));
    // S15, parenthesised variant: C exited first → the unshare REUSEs (PTE stays R/O).
    v.push(sc(
        "S15b",
        4,
        cat(
            s04_1(),
            vec![r(
                Step::PinReadOnly {
                    mm: P,
                    page: 4,
                    expect: Reuse,
                },
                "pae={4} ref=17 pincount=1 P.pte[4]=ro",
            )],
        ),
    ));

    // S16 — THP: PMD fault.
    v.push(sc("S16", 9, s16()));

    // S17 — THP: fork with a PMD mapping.
    v.push(sc("S17", 9, s17()));

    // S18 — parent write after fork → split own PMD + COPY one page.
    v.push(sc("S18", 9, s18()));

    // S19 — … then the child exits, parent reuses.
    v.push(sc(
        "S19",
        9,
        cat(
            s18(),
            vec![
                r(
                    exit(C),
                    "ref=511 emc=-1 lmc=510 ids=[P,0] mmc=[510,-1] S=0 pae={} dq=1 \
                     [PMC] nrpm=511 Δanon=-1 Δthp=-512 pmap=1 \
                     [NOPMC] Δthp=-512 Δanon=0 pmap=1",
                ),
                r(write(P, 5, Reuse), "pae={5} ref=511 lmc=510"),
            ],
        ),
    ));

    // S20 — fork, child exits, parent write → PMD-level REUSE.
    let s20_tail = |leave: Step| {
        vec![
            r(
                leave,
                "ref=1 emc=0 lmc=0 ids=[P,0] mmc=[0,-1] S=0 pae={} dq=1 pmap=0 \
                 Δanon=0 Δthp=0 [PMC] nrpm=0x800000",
            ),
            r(write(P, 0, Reuse), "pae={0} ref=1 emc=0 P.pmd=rw"),
        ]
    };
    v.push(sc("S20", 9, cat(s17(), s20_tail(exit(C)))));
    // "(Same if the child did MADV_DONTNEED on the full 2 MiB instead of exiting.)"
    v.push(sc("S20b", 9, cat(s17(), s20_tail(dontneed(C, 0, 511)))));

    // S21 — partial MADV_DONTNEED in a single process.
    v.push(sc(
        "S21",
        9,
        cat(s21_2(), vec![r(write(P, 10, NoFault), "ref=256")]),
    ));

    // S21 as the one MADV_DONTNEED call it is: the zap of a partially covered PMD splits
    // it first (zap_pmd_range), then zaps the PTEs.
    v.push(sc(
        "S21c",
        9,
        cat(
            s16(),
            vec![r(
                dontneed(P, 256, 511),
                "ref=256 emc=-1 lmc=255 ids=[P,0] mmc=[255,-1] S=0 pae={0..511} dq=1 \
                 [PMC] pmc[0..255]=0 pmc[256..511]=-1 nrpm=256 Δanon=-256 pmap=1 \
                 [NOPMC] pmap=1 Δanon=0 [BOTH] Δthp=-512 P.pte[0..255]=rw P.pte[256..511]=none",
            )],
        ),
    ));

    // S22 — split the partially mapped folio.
    v.push(sc(
        "S22",
        9,
        cat(
            s21_2(),
            split_steps(
                "f[0..255]: ref=1 _mapcount=0 pae={0} f[256..511]: ref=0 \
                 F: [PMC] Δanon=+256 [NOPMC] Δanon=+256 [BOTH] Σanon=+256 \
                 P.pte[0..255]=rw P.pte[256..511]=none",
            ),
        ),
    ));

    // S23 — split maps zero-filled subpages to the shared zeropage.
    let mut rows = vec![r(
        Step::Fault {
            mm: P,
            written: Some((0, 10)),
        },
        "ref=1 emc=0 lmc=0 Δanon=+512 Δthp=+512",
    )];
    rows.extend(s21_2().into_iter().skip(1));
    rows.extend(split_steps(
        "f[0..9]: ref=1 _mapcount=0 pae={0} f[10..511]: ref=0 \
         F: Δanon=+10 Σanon=+10 P.pte[0..9]=rw P.pte[10..255]=zero P.pte[256..511]=none",
    ));
    rows.push(r(write(P, 20, Copy), "Δanon=+1 P.pte[20]=copy"));
    v.push(sc("S23", 9, rows));

    // S24 — PTE-mapped THP, fork, "split halves".
    v.push(sc(
        "S24",
        9,
        cat(
            s24_2(),
            vec![
                r(
                    dontneed(C, 256, 511),
                    "ref=768 lmc=767 mmc=[511,255] [PMC] pmc[256..511]=0",
                ),
                r(
                    dontneed(P, 0, 255),
                    "ref=512 lmc=511 mmc=[255,255] S=1 pmap=0 [PMC] pmc[*]=0 nrpm=512",
                ),
                r(
                    write(P, 300, Copy),
                    "ref=511 lmc=510 mmc=[254,255] \
                     [PMC] pmc[300]=-1 nrpm=511 Δanon=0 pmap=1 [NOPMC] pmap=1 Δanon=+1",
                ),
                r(write(C, 10, Copy), "ref=510 lmc=509 mmc=[254,254] S=1"),
            ],
        ),
    ));

    // S25 — split fails while pinned; PMD split never fails.
    v.push(sc(
        "S25",
        9,
        cat(
            s21_2(),
            vec![
                r(pin(P, 3), "ref=257 pincount=1"),
                r(
                    Step::ShrinkerSplit { ret: -11 },
                    "ref=257 pincount=1 lmc=255 pmap=1 dq=1",
                ),
                r(
                    Step::DebugfsPrecheck { skipped: true },
                    "ref=257 pincount=1 lmc=255 pmap=1 dq=1",
                ),
            ],
        ),
    ));

    // S26 — pinned PMD-mapped THP at fork.
    v.push(sc(
        "S26",
        9,
        cat(
            s16(),
            vec![
                r(pin(P, 0), "ref=2 pincount=1"),
                r(
                    fork(P, C),
                    "ref=513 emc=-1 lmc=511 ids=[P,0] mmc=[511,-1] S=0 pae={0..511} \
                     pincount=1 dq=1 pmap=0 [PMC] pmc[*]=0 nrpm=512 \
                     [BOTH] Δthp=-512 Δanon=+512 P.pte[*]=rw C.pte[*]=copy",
                ),
            ],
        ),
    ));

    // S27 — migrating a PMD-mapped THP (PMD migration entry).
    v.push(sc(
        "S27",
        9,
        cat(
            s16(),
            vec![
                r(
                    Step::MigrateUnmap,
                    "lmc=-1 emc=-1 ids=[0,0] mmc=[-1,-1] S=0 pmap=0 \
                     [PMC] nrpm=0 [BOTH] Δanon=-512 Δthp=-512",
                ),
                r(Step::MigrateMove, "G: dq=1 pmap=0"),
                r(
                    Step::MigrateRemap,
                    "G: ref=1 emc=0 lmc=0 ids=[P,0] mmc=[0,-1] S=0 pae={0} dq=1 pmap=0 \
                     [PMC] nrpm=0x800000 [BOTH] Δanon=+512 Δthp=+512 P.pmd=rw",
                ),
            ],
        ),
    ));

    // S28 — child writes first, then parent ([NOPMC] false negative again).
    v.push(sc(
        "S28",
        9,
        cat(
            s17(),
            vec![
                r(
                    write(C, 0, Copy),
                    "ref=512 emc=0 lmc=511 ids=[P,C] mmc=[0,510] S=1 pmap=0 \
                     [PMC] pmc[0]=-1 pmc[1..511]=0 nrpm=0x8001FF [BOTH] Δanon=+1 Δthp=0",
                ),
                r(
                    write(P, 0, Fallback),
                    "ref=1023 lmc=1022 emc=-1 mmc=[511,510] Δthp=-512 \
                     [PMC] pmc[0]=0 pmc[1..511]=1 nrpm=512 Δanon=0",
                ),
                r(
                    write(P, 0, Copy),
                    "ref=1022 lmc=1021 mmc=[510,510] S=1 pae={} \
                     [PMC] pmc[0]=-1 nrpm=511 Δanon=0 pmap=1 [NOPMC] pmap=0 Δanon=+1",
                ),
            ],
        ),
    ));

    // S29 — batching decides "partially mapped".
    v.push(sc(
        "S29a",
        4,
        cat(
            s04_1(),
            vec![r(munmap(P, 0, 15), "lmc=-1 ref=0 pmap=0 dq=0 Δanon=-16")],
        ),
    ));
    v.push(sc(
        "S29b",
        4,
        cat(
            s04_1(),
            vec![
                r(
                    munmap(P, 15, 15),
                    "lmc=14 mmc=[14,-1] \
                     [PMC] pmc[15]=-1 nrpm=15 Δanon=-1 pmap=1 dq=1 \
                     [NOPMC] pmap=1 dq=1",
                ),
                r(munmap(P, 0, 14), "lmc=-1 ref=0 pmap=0 dq=0"),
            ],
        ),
    ));

    // S30 — fork, parent unmaps half, child exits → S clears, partial detected.
    v.push(sc(
        "S30",
        9,
        cat(
            s24_2(),
            vec![
                r(
                    munmap(P, 256, 511),
                    "ref=768 lmc=767 mmc=[255,511] pmap=0 [PMC] pmc[256..511]=0",
                ),
                r(
                    exit(C),
                    "ref=256 lmc=255 ids=[P,0] mmc=[255,-1] S=0 \
                     [PMC] pmc[0..255]=0 pmc[256..511]=-1 nrpm=256 Δanon=-256 pmap=1 \
                     [NOPMC] pmap=1 Δanon=0",
                ),
                r(write(P, 7, Reuse), "pae={7}"),
            ],
        ),
    ));

    // S31 — THP: mremap.
    v.push(sc(
        "S31",
        9,
        cat(
            s16(),
            vec![
                r(
                    Step::MremapAligned { mm: P },
                    "ref=1 emc=0 lmc=0 ids=[P,0] mmc=[0,-1] S=0 pae={0} pmap=0 dq=1 \
                     Δanon=0 Δthp=0 [PMC] nrpm=0x800000 pmc[*]=-1",
                ),
                r(
                    split_pmd(P),
                    "ref=512 emc=-1 lmc=511 mmc=[511,-1] pae={0..511} \
                     [PMC] pmc[*]=0 nrpm=512 [BOTH] Δthp=-512",
                ),
                r(write(P, 100, NoFault), ""),
            ],
        ),
    ));
    // "(mremap of an mTHP region never changes anything.)"
    v.push(sc(
        "S31b",
        4,
        cat(
            s01(),
            vec![r(
                Step::MremapAligned { mm: P },
                "ref=16 lmc=15 emc=-1 ids=[P,0] mmc=[15,-1] S=0 pae={0..15} pmap=0 dq=0 \
                 Δanon=0 [PMC] nrpm=16 pmc[*]=0",
            )],
        ),
    ));

    // S32 — informational: shared file large folio (order 4). The page cache holds N
    // references; PG_private is not modelled (0), so expected = N + LM.
    v.push(Scenario {
        name: "S32",
        order: 4,
        file: true,
        rows: vec![
            r(
                Step::FileMap {
                    mm: P,
                    first: 0,
                    nr: 16,
                },
                "ref=32 lmc=15 ids=[P,0] mmc=[15,-1] S=0 pae={} expected_ref=32 \
                 [PMC] nrpm=16 pmc[*]=0",
            ),
            r(
                fork(P, C),
                "ref=32 lmc=15 ids=[P,0] mmc=[15,-1] S=0 C.pte[*]=none",
            ),
            r(
                Step::FileMap {
                    mm: C,
                    first: 0,
                    nr: 16,
                },
                "ref=48 lmc=31 ids=[P,C] mmc=[15,15] S=1 expected_ref=48 shared=true \
                 [PMC] nrpm=16 pmc[*]=1",
            ),
            r(write(C, 2, NoFault), "ref=48"),
        ],
    });

    v
}

fn run_all(mode: Mode, counts: &mut Counts) -> Vec<String> {
    let mut fails = Vec::new();
    for s in scenarios() {
        fails.extend(run(&s, mode, counts));
    }
    fails
}

#[test]
fn spec_section_11_scenarios_both_modes() {
    let all = scenarios();
    let mut fails = Vec::new();
    for mode in [Mode::Pmc, Mode::Nopmc] {
        let mut c = Counts::default();
        fails.extend(run_all(mode, &mut c));
        eprintln!(
            "scenarios [{mode:?}]: {} scenarios, {} steps, {} field assertions, \
             {} outcome assertions, {} [NOPMC] per-page checks, {} model calls, \
             {} stateful-layer comparisons",
            all.len(),
            c.steps,
            c.fields,
            c.outcomes,
            c.nopmc_page_checks,
            c.calls,
            c.sync_checks
        );
    }
    assert!(
        fails.is_empty(),
        "{} scenario failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
}

/// The harness can fail, and says where: a wrong expected value is reported with
/// scenario, mode, step, field, expected and actual.
#[test]
fn a_wrong_expectation_is_reported() {
    let mut s = scenarios()
        .into_iter()
        .find(|s| s.name == "S06")
        .expect("S06");
    // S06 step 3 (P's COPY of page 10) in fact leaves lmc=14.
    s.rows[4].expect = "lmc=13".into();
    let mut c = Counts::default();
    let fails = run(&s, Mode::Nopmc, &mut c);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(
        fails[0].starts_with(
            "S06 [NOPMC] step 5 (write(P,10) => Copy): field F.lmc: expected 13, actual 14"
        ),
        "{}",
        fails[0]
    );
    // A wrong outcome too.
    s.rows[4].expect = String::new();
    s.rows[4].step = write(P, 10, Reuse);
    let fails = run(&s, Mode::Pmc, &mut c);
    assert!(
        fails.iter().any(|f| f.contains("S06 [PMC] step 5")
            && f.contains("field outcome: expected Reuse, actual Some(Copy)")),
        "{fails:?}"
    );
}
