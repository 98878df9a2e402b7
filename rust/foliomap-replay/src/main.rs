//! `foliomap-replay TRACE [--scheme NAME]... [--fidelity-only] [--concurrent] [--threads N]
//! [--csv FILE] [--json FILE] [--svg DIR] [--quiet]`: replays a trace; exit 1 when linux-7.3 differs
//! from any recorded outcome, 2 on bad usage or an unreadable trace.
use std::process::ExitCode;

use foliomap_replay::{format, report, run};

fn usage() -> ExitCode {
    eprintln!(
        "usage: foliomap-replay TRACE [--scheme NAME]... [--fidelity-only] [--concurrent] [--threads N] [--csv FILE] [--json FILE] [--svg DIR] [--quiet]\n\
         schemes (all when none is named): linux-7.3, linux-7.3-<other mode>, exact, slots-N, pre-6.15, rfc-2026, thp-2015, precise-2016\n\
         --fidelity-only: only the 7.3 model's check of every recorded outcome (no ground truth, no schemes)\n\
         --concurrent: every event also on the stateful layer (FM_FOLIO_OPT_CONCURRENT's), outcome and state compared"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut trace, mut schemes, mut csv, mut json, mut svg) = (None, Vec::new(), None, None, None);
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut quiet = false;
    let mut fidelity_only = false;
    let mut concurrent = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scheme" => match args.next() {
                Some(n) => schemes.push(n),
                None => return usage(),
            },
            "--threads" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => threads = n,
                _ => return usage(),
            },
            "--csv" => csv = args.next(),
            "--json" => json = args.next(),
            "--svg" => svg = args.next(),
            "--quiet" => quiet = true,
            "--fidelity-only" => fidelity_only = true,
            "--concurrent" => concurrent = true,
            s if s.starts_with('-') => return usage(),
            _ if trace.is_some() => return usage(),
            _ => trace = Some(a),
        }
    }
    let Some(path) = trace else { return usage() };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("foliomap-replay: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let t = std::time::Instant::now();
    let trace = match format::parse(&bytes) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("foliomap-replay: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let parse_secs = t.elapsed().as_secs_f64();
    if fidelity_only && !schemes.is_empty() {
        eprintln!("foliomap-replay: --fidelity-only replays no schemes: drop --scheme");
        return ExitCode::from(2);
    }
    let rep = match run::replay_opts(&trace, &schemes, threads, fidelity_only, concurrent) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("foliomap-replay: {e}");
            return ExitCode::from(2);
        }
    };
    if !quiet {
        print!("{}", report::table(&rep));
    }
    println!(
        "events/s: {:.2} M (all schemes, wall, {} thread(s)); parse {:.3} s ({:.0} MB/s)",
        rep.events as f64 / rep.wall_secs.max(1e-9) / 1e6,
        rep.threads,
        parse_secs,
        bytes.len() as f64 / parse_secs.max(1e-9) / 1e6
    );
    if concurrent {
        println!(
            "stateful layer: {} events run on it too and compared with the pure core",
            rep.concurrent_compared
        );
    }
    let write = |p: &str, s: String| {
        if let Err(e) = std::fs::write(p, s) {
            eprintln!("foliomap-replay: {p}: {e}");
        }
    };
    if let Some(p) = csv {
        write(&p, report::csv(&rep));
    }
    if let Some(p) = json {
        write(&p, report::json(&rep));
    }
    if let Some(dir) = svg {
        let _ = std::fs::create_dir_all(&dir);
        for (name, s) in report::svgs(&rep) {
            write(&format!("{dir}/{name}"), s);
        }
    }
    if rep.differences > 0 {
        eprintln!(
            "foliomap-replay: linux-7.3 differs from {} recorded outcome(s)",
            rep.differences
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
