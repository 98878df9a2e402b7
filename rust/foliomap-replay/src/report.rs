//! Output: the terminal table, CSV, JSON and SVG plots (hand-written SVG).

use std::fmt::Write as _;

use crate::run::{Report, SchemeResult, Stats, ORDERS};

fn per_event(n: u64, events: u64) -> f64 {
    if events == 0 {
        0.0
    } else {
        n as f64 / events as f64
    }
}

/// Events per second of a scheme (the base pass for linux-7.3 in the trace's mode).
pub fn events_per_sec(rep: &Report, s: &SchemeResult) -> f64 {
    let secs = if s.name == "linux-7.3" {
        rep.base_secs + s.secs
    } else {
        s.secs
    };
    if secs > 0.0 {
        rep.events as f64 / secs
    } else {
        0.0
    }
}

fn na(v: u64, points: u64) -> String {
    if points == 0 {
        "-".into()
    } else {
        v.to_string()
    }
}

/// The terminal table.
pub fn table(rep: &Report) -> String {
    let mut o = String::new();
    let mode = match rep.mode {
        foliomap::types::Mode::Pmc => "pmc",
        foliomap::types::Mode::Nopmc => "nopmc",
    };
    let _ = writeln!(
        o,
        "trace: mode {mode}, {} records, {} events, {} folio streams, {} dropped, {} seq gaps, {} orphan events",
        rep.records, rep.events, rep.streams, rep.dropped, rep.seq_gaps, rep.orphan_events
    );
    let _ = writeln!(
        o,
        "fidelity (linux-7.3 vs recorded outcomes): {} checked, {} differences",
        rep.checked, rep.differences
    );
    for e in &rep.examples {
        let _ = writeln!(
            o,
            "  seq {} folio {:?} {}: {}",
            e.seq, e.folio, e.op, e.what
        );
    }
    let _ = writeln!(
        o,
        "\nwrite faults of large folios (reuse/copy), vs linux-7.3 (+reuse: the scheme reuses where the kernel copied), unsafe reuses (folio: another mm maps the folio; page: another mm maps that page), maybe-shared FP/FN vs exact at write faults + query points, PM_MMAP_EXCLUSIVE FP/FN, partially-mapped lives detected on time/late/missed/false, metadata per folio, cost per event"
    );
    let _ = writeln!(
        o,
        "{:<16} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>8} {:>7} {:>6} {:>7}",
        "scheme", "wp", "reuse", "copy", "+reuse", "-reuse", "unsF", "unsP", "msFP", "msFN", "pmeFP", "pmeFN", "pm", "ontm", "late", "miss", "false", "B/folio", "atom/ev", "lk/ev", "Mev/s"
    );
    for s in &rep.schemes {
        let t = s.total();
        let _ = writeln!(
            o,
            "{:<16} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>8.1} {:>7.2} {:>6.2} {:>7.2}",
            s.name,
            t.wp,
            t.reuse,
            t.copy,
            t.more_reuse,
            t.more_copy,
            t.unsafe_folio,
            t.unsafe_page,
            na(t.ms_fp, t.ms_points),
            na(t.ms_fn, t.ms_points),
            na(t.pme_fp, t.pme_points),
            na(t.pme_fn, t.pme_points),
            t.partial_truth,
            t.partial_ontime,
            t.partial_late,
            t.partial_missed,
            t.partial_false,
            t.meta_bytes as f64 / t.folios.max(1) as f64,
            per_event(t.atomics, t.events),
            per_event(t.locks, t.events),
            events_per_sec(rep, s) / 1e6,
        );
    }
    let und: Vec<String> = rep
        .schemes
        .iter()
        .filter_map(|s| {
            let t = s.total();
            (t.undefined > 0).then(|| format!("{} {}", s.name, t.undefined))
        })
        .collect();
    if !und.is_empty() {
        let _ = writeln!(
            o,
            "write faults a scheme cannot express (mTHP in the 2015/2016 designs): {}",
            und.join(", ")
        );
    }
    let _ = writeln!(
        o,
        "\nby folio order (write faults reuse/copy, +reuse/-reuse, unsafe folio, partial missed):"
    );
    let _ = write!(o, "{:<16}", "scheme");
    for ord in 0..ORDERS {
        let _ = write!(o, " {:>18}", format!("order {ord}"));
    }
    let _ = writeln!(o);
    for s in &rep.schemes {
        let _ = write!(o, "{:<16}", s.name);
        for st in &s.by_order {
            let cell = if st.events == 0 {
                "-".to_string()
            } else {
                format!(
                    "{}/{} +{}-{} u{} m{}",
                    st.reuse,
                    st.copy,
                    st.more_reuse,
                    st.more_copy,
                    st.unsafe_folio,
                    st.partial_missed
                )
            };
            let _ = write!(o, " {cell:>18}");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "\nspeed: {} {:.2} M events/s, grouping {:.3} s, wall {:.3} s on {} thread(s)",
        if rep.fidelity_only {
            "fidelity pass (7.3 model, every outcome compared)"
        } else {
            "base pass (7.3 model + fidelity + ground truth)"
        },
        rep.events as f64 / rep.base_secs.max(1e-9) / 1e6,
        rep.group_secs,
        rep.wall_secs,
        rep.threads
    );
    o
}

const FIELDS: [&str; 25] = [
    "events",
    "unknown",
    "wp",
    "reuse",
    "copy",
    "undefined",
    "more_reuse",
    "more_copy",
    "unsafe_folio",
    "unsafe_page",
    "ms_points",
    "ms_fp",
    "ms_fn",
    "pme_points",
    "pme_fp",
    "pme_fn",
    "partial_truth",
    "partial_ontime",
    "partial_late",
    "partial_missed",
    "partial_false",
    "folios",
    "meta_bytes",
    "atomics",
    "locks",
];

fn values(s: &Stats) -> [u64; 25] {
    [
        s.events,
        s.unknown,
        s.wp,
        s.reuse,
        s.copy,
        s.undefined,
        s.more_reuse,
        s.more_copy,
        s.unsafe_folio,
        s.unsafe_page,
        s.ms_points,
        s.ms_fp,
        s.ms_fn,
        s.pme_points,
        s.pme_fp,
        s.pme_fn,
        s.partial_truth,
        s.partial_ontime,
        s.partial_late,
        s.partial_missed,
        s.partial_false,
        s.folios,
        s.meta_bytes,
        s.atomics,
        s.locks,
    ]
}

/// CSV: one row per scheme and order (and `all`).
pub fn csv(rep: &Report) -> String {
    let mut o = format!("scheme,order,{},events_per_sec\n", FIELDS.join(","));
    for s in &rep.schemes {
        let eps = events_per_sec(rep, s);
        let mut row = |ord: String, st: &Stats| {
            let v: Vec<String> = values(st).iter().map(u64::to_string).collect();
            let _ = writeln!(o, "{},{ord},{},{eps:.0}", s.name, v.join(","));
        };
        for (ord, st) in s.by_order.iter().enumerate() {
            row(ord.to_string(), st);
        }
        row("all".into(), &s.total());
    }
    o
}

fn json_stats(s: &Stats) -> String {
    let v = values(s);
    let f: Vec<String> = FIELDS
        .iter()
        .zip(v)
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!("{{{}}}", f.join(","))
}

/// JSON: the report.
pub fn json(rep: &Report) -> String {
    let mut o = String::from("{");
    let _ = write!(
        o,
        "\"mode\":\"{:?}\",\"records\":{},\"events\":{},\"streams\":{},\"dropped\":{},\"seq_gaps\":{},\"orphan_events\":{},\"checked\":{},\"differences\":{},",
        rep.mode, rep.records, rep.events, rep.streams, rep.dropped, rep.seq_gaps, rep.orphan_events, rep.checked, rep.differences
    );
    let ex: Vec<String> = rep
        .examples
        .iter()
        .map(|e| {
            format!(
                "{{\"seq\":{},\"pfn\":{},\"epoch\":{},\"op\":\"{}\",\"what\":\"{}\"}}",
                e.seq,
                e.folio.0,
                e.folio.1,
                e.op,
                e.what.replace('"', "'")
            )
        })
        .collect();
    let _ = write!(o, "\"examples\":[{}],\"schemes\":[", ex.join(","));
    let sc: Vec<String> = rep
        .schemes
        .iter()
        .map(|s| {
            let by: Vec<String> = s.by_order.iter().map(json_stats).collect();
            format!(
                "{{\"name\":\"{}\",\"events_per_sec\":{:.0},\"total\":{},\"by_order\":[{}]}}",
                s.name,
                events_per_sec(rep, s),
                json_stats(&s.total()),
                by.join(",")
            )
        })
        .collect();
    let _ = write!(o, "{}]}}", sc.join(","));
    o
}

/// A horizontal bar chart (hand-written SVG).
pub fn bar_svg(title: &str, unit: &str, rows: &[(String, f64)]) -> String {
    let (w, bar, left) = (720.0, 22.0, 140.0);
    let h = 50.0 + bar * rows.len() as f64;
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
        esc(title)
    );
    for (i, (name, v)) in rows.iter().enumerate() {
        let y = 35.0 + bar * i as f64;
        let len = (w - left - 90.0) * v / max;
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{len:.1}\" height=\"{}\" fill=\"#4a7ab0\"/><text x=\"{:.1}\" y=\"{}\">{} {}</text>",
            left - 6.0,
            y + 15.0,
            esc(name),
            bar - 6.0,
            left + len + 4.0,
            y + 15.0,
            fmt_num(*v),
            esc(unit)
        );
    }
    o.push_str("</svg>\n");
    o
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The plots: `(file name, svg)`.
pub fn svgs(rep: &Report) -> Vec<(String, String)> {
    let rows = |f: &dyn Fn(&SchemeResult) -> f64| -> Vec<(String, f64)> {
        rep.schemes.iter().map(|s| (s.name.clone(), f(s))).collect()
    };
    vec![
        (
            "reuse.svg".into(),
            bar_svg(
                "Write faults of large folios reused",
                "reuses",
                &rows(&|s| s.total().reuse as f64),
            ),
        ),
        (
            "unsafe.svg".into(),
            bar_svg(
                "Unsafe reuses (another mm maps the folio)",
                "",
                &rows(&|s| s.total().unsafe_folio as f64),
            ),
        ),
        (
            "partial-missed.svg".into(),
            bar_svg(
                "Partially-mapped folio lives missed",
                "",
                &rows(&|s| s.total().partial_missed as f64),
            ),
        ),
        (
            "atomics.svg".into(),
            bar_svg(
                "Atomic RMWs per event (cost model)",
                "",
                &rows(&|s| per_event(s.total().atomics, s.total().events)),
            ),
        ),
        (
            "metadata.svg".into(),
            bar_svg(
                "Metadata bytes per folio",
                "B",
                &rows(&|s| s.total().meta_bytes as f64 / s.total().folios.max(1) as f64),
            ),
        ),
        (
            "speed.svg".into(),
            bar_svg(
                "Replay speed",
                "M events/s",
                &rows(&|s| events_per_sec(rep, s) / 1e6),
            ),
        ),
    ]
}
