#!/usr/bin/env python3
"""scripts/bench's report: merges the TSVs of bench/bench.c and the bench_abi example,
checks that every configuration is there with finite positive numbers, prints the tables
(ratios to one atomic read-modify-write first, ns second) and the targets, and writes
results.tsv, targets.txt and cost.svg into the output directory.

    bench-report.py OUTDIR C.TSV RUST.TSV [--label TEXT]

Exit status 1 when a row is missing or a number is not finite and positive (never for
speed: the targets are reported, not enforced)."""
import math
import sys

BATCHED = ["add", "remove", "dup", "fork", "zap"]
SINGLE = ["query", "cow_copy", "cow_reuse", "fault_cycle"]
MODES = ["pmc", "nopmc"]
LAYERS = ["plain", "concurrent"]
ORDERS = {4: [1, 8], 9: [1, 8, 64, 512]}
NUMERIC = ["ns_med", "ns_min", "ns_max", "atomic_ns_med", "ratio_med", "ratio_min", "ratio_max"]


def expected():
    keys = set()
    for m in MODES:
        for l in LAYERS:
            for o, batches in ORDERS.items():
                for b in batches:
                    for op in BATCHED:
                        keys.add(("c", op, m, l, o, b))
                for op in SINGLE:
                    keys.add(("c", op, m, l, o, (1 << o) if op == "fault_cycle" else 1))
                keys.add(("rust_api", "maybe_mapped_shared", m, l, o, 1))
            for b in ORDERS[9]:
                for src in ["rust_api", "rust_api_store", "ffi"]:
                    for op in ["add", "remove"]:
                        keys.add((src, op, m, l, 9, b))
        for b in ORDERS[9]:
            keys.add(("c", "contended_add_remove", m, "concurrent", 9, b))
    return keys


def load(paths):
    rows, header = {}, None
    for path in paths:
        with open(path) as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if cols[0] == "source":
                    header = cols
                    continue
                if not line.strip():
                    continue
                r = dict(zip(header, cols))
                for k in ["order", "batch", "reps"]:
                    r[k] = int(r[k])
                for k in NUMERIC:
                    r[k] = float(r[k])
                rows[(r["source"], r["op"], r["mode"], r["layer"], r["order"], r["batch"])] = r
    return header, rows


def check(rows):
    errors = []
    for key in sorted(expected() - set(rows), key=str):
        errors.append("missing: " + " ".join(map(str, key)))
    for key, r in rows.items():
        for k in NUMERIC:
            if not (math.isfinite(r[k]) and r[k] > 0):
                errors.append("not finite and positive: %s %s=%r" % (" ".join(map(str, key)), k, r[k]))
    return errors


def cell(r):
    if r is None:
        return "-"
    return "%.1f (%.1f-%.1f) %.0fns" % (r["ratio_med"], r["ratio_min"], r["ratio_max"], r["ns_med"])


def table(rows, out):
    w = 26
    heads = ["b=%d" % b for b in ORDERS[9]]
    out.append("ratio to one atomic RMW: median (min-max over the repetitions), then ns per call (median)")
    out.append("")
    out.append("%-21s %-6s %-10s %-5s " % ("op", "mode", "layer", "order") + "".join("%-*s" % (w, h) for h in heads))
    def line(label, src, op, m, l, o, batches):
        cells = [cell(rows.get((src, op, m, l, o, b))) for b in batches]
        return "%-21s %-6s %-10s %-5d " % (label, m, l, o) + "".join("%-*s" % (w, c) for c in cells)
    for op in BATCHED:
        for m in MODES:
            for l in LAYERS:
                for o, batches in ORDERS.items():
                    out.append(line(op, "c", op, m, l, o, batches))
    out.append("")
    out.append("%-21s %-6s %-10s %-5s %s" % ("op (per folio)", "mode", "layer", "order", "b=1 (fault_cycle: b=N)"))
    for op in SINGLE:
        for m in MODES:
            for l in LAYERS:
                for o in ORDERS:
                    b = (1 << o) if op == "fault_cycle" else 1
                    out.append("%-21s %-6s %-10s %-5d %s" % (op, m, l, o, cell(rows.get(("c", op, m, l, o, b)))))
    for m in MODES:
        for l in LAYERS:
            for o in ORDERS:
                out.append("%-21s %-6s %-10s %-5d %s" % ("maybe_mapped_shared", m, l, o,
                                                        cell(rows.get(("rust_api", "maybe_mapped_shared", m, l, o, 1)))))
    out.append("")
    out.append("C ABI overhead (order 9): rust_api = generic Rust call on a store built once; "
               "+store = store built and validated per call; ffi = fm_* through a function pointer")
    out.append("%-21s %-6s %-10s %-5s " % ("op", "mode", "layer", "order") + "".join("%-*s" % (w, h) for h in heads))
    for op in ["add", "remove"]:
        for m in MODES:
            for l in LAYERS:
                for src, label in [("rust_api", op + " rust_api"), ("rust_api_store", op + " +store"), ("ffi", op + " ffi")]:
                    out.append(line(label, src, op, m, l, 9, ORDERS[9]))
    out.append("")
    out.append("contended: 2 threads add + remove the same batch of one concurrent order-9 folio "
               "(ns per call per thread), ratio to 2 threads adding to one shared line")
    out.append("%-21s %-6s %-10s %-5s " % ("op", "mode", "layer", "order") + "".join("%-*s" % (w, h) for h in heads))
    for m in MODES:
        out.append(line("contended_add_remove", "c", "contended_add_remove", m, "concurrent", 9, ORDERS[9]))


def targets(rows):
    out = ["targets (benchmarks only, never asserted):"]
    def verdict(ok):
        return "met" if ok else "NOT met"
    # nopmc add/remove/dup <= 2 atomic equivalents per call, any batch.
    for l in LAYERS:
        for op in ["add", "remove", "dup"]:
            rs = [rows[k] for k in rows if k[0] == "c" and k[1] == op and k[2] == "nopmc" and k[3] == l]
            if rs:
                worst = max(r["ratio_med"] for r in rs)
                out.append("  nopmc %-10s %-6s <= 2 atomics/call, any batch: worst %.1f  %s"
                           % (l, op, worst, verdict(worst <= 2)))
    # pmc concurrent <= 1 atomic per page (at the largest batch, where per-call costs vanish).
    for op in ["add", "remove", "dup"]:
        for b in [64, 512]:
            r = rows.get(("c", op, "pmc", "concurrent", 9, b))
            if r:
                pp = r["ratio_med"] / b
                out.append("  pmc concurrent %-6s <= 1 atomic/page at batch %3d: %.2f  %s" % (op, b, pp, verdict(pp <= 1)))
    # O(1) in the folio size: order 9 vs order 4 within 25 % (noise).
    for src, op in [("c", "cow_copy"), ("c", "cow_reuse"), ("c", "query"), ("rust_api", "maybe_mapped_shared")]:
        for m in MODES:
            for l in LAYERS:
                a, b = rows.get((src, op, m, l, 4, 1)), rows.get((src, op, m, l, 9, 1))
                if a and b:
                    q = b["ratio_med"] / a["ratio_med"]
                    out.append("  O(1) %-19s %-5s %-10s order 9 / order 4 = %.2f  %s"
                               % (op, m, l, q, verdict(q <= 1.25)))
    # C ABI overhead at batch 1, in atomic equivalents.
    for op in ["add", "remove"]:
        for m in MODES:
            for l in LAYERS:
                a, f = rows.get(("rust_api", op, m, l, 9, 1)), rows.get(("ffi", op, m, l, 9, 1))
                if a and f:
                    out.append("  C ABI overhead %-6s %-5s %-10s batch 1: %+.1f atomics (%+.1f ns)"
                               % (op, m, l, f["ratio_med"] - a["ratio_med"], f["ns_med"] - a["ns_med"]))
    return out


COLORS = {"add": "#1f77b4", "remove": "#d62728", "dup": "#2ca02c", "fork": "#9467bd", "zap": "#ff7f0e"}


def svg(rows, label):
    pw, ph, ml, mt, gap = 380, 260, 60, 50, 70
    width, height = ml + 2 * (pw + gap), mt + 2 * (ph + gap) + 40
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (width, height),
             '<rect width="100%" height="100%" fill="white"/>',
             '<text x="%d" y="20" font-size="14">foliomap: cost in atomic RMW equivalents vs batch size (order-9 folio, C ABI, median)%s</text>'
             % (ml, (" - " + label) if label else "")]
    batches = ORDERS[9]
    for pi, per_page in enumerate([False, True]):
        for li, layer in enumerate(LAYERS):
            x0, y0 = ml + li * (pw + gap), mt + pi * (ph + gap)
            series = {}
            for op in BATCHED:
                for m in MODES:
                    pts = []
                    for b in batches:
                        r = rows.get(("c", op, m, layer, 9, b))
                        if r:
                            pts.append((b, r["ratio_med"] / (b if per_page else 1)))
                    series[(op, m)] = pts
            vals = [v for pts in series.values() for _, v in pts] or [1]
            lo = 10 ** math.floor(math.log10(min(vals)))
            hi = 10 ** math.ceil(math.log10(max(vals)))
            if hi <= lo:
                hi = lo * 10
            def px(b):
                return x0 + (math.log2(b) / math.log2(batches[-1])) * pw
            def py(v):
                return y0 + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
            parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (x0, y0, pw, ph))
            parts.append('<text x="%d" y="%d" font-size="12">%s layer, per %s</text>' % (x0, y0 - 8, layer, "page" if per_page else "call"))
            for b in batches:
                parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (px(b), y0, px(b), y0 + ph))
                parts.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (px(b), y0 + ph + 14, b))
            d = lo
            while d <= hi * 1.0001:
                parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (x0, py(d), x0 + pw, py(d)))
                parts.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (x0 - 4, py(d) + 4, d))
                d *= 10
            if per_page:
                parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#000" stroke-dasharray="2,2"/>' % (x0, py(1), x0 + pw, py(1)) if lo <= 1 <= hi else "")
            parts.append('<text x="%d" y="%d" text-anchor="middle">batch (pages)</text>' % (x0 + pw / 2, y0 + ph + 30))
            for (op, m), pts in series.items():
                if not pts:
                    continue
                dash = "" if m == "pmc" else ' stroke-dasharray="6,3"'
                path = " ".join("%.1f,%.1f" % (px(b), py(v)) for b, v in pts)
                parts.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>' % (path, COLORS[op], dash))
                for b, v in pts:
                    parts.append('<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s"/>' % (px(b), py(v), COLORS[op]))
    ly = height - 25
    x = ml
    for op in BATCHED:
        parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (x, ly, x + 20, ly, COLORS[op]))
        parts.append('<text x="%d" y="%d">%s</text>' % (x + 24, ly + 4, op))
        x += 80
    parts.append('<text x="%d" y="%d">solid: pmc, dashed: nopmc; dotted line: 1 atomic per page</text>' % (x + 10, ly + 4))
    parts.append("</svg>")
    return "\n".join(p for p in parts if p) + "\n"


def main(argv):
    args = [a for a in argv[1:]]
    label = ""
    if "--label" in args:
        i = args.index("--label")
        label = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir, paths = args[0], args[1:]
    header, rows = load(paths)
    errors = check(rows)
    with open(outdir + "/results.tsv", "w") as f:
        f.write("\t".join(header + ["ratio_per_page_med"]) + "\n")
        for key in sorted(rows, key=str):
            r = rows[key]
            f.write("\t".join(str(r[h]) for h in header) + "\t%.4f\n" % (r["ratio_med"] / r["batch"]))
    out = []
    table(rows, out)
    tg = targets(rows)
    with open(outdir + "/targets.txt", "w") as f:
        f.write("\n".join(tg) + "\n")
    with open(outdir + "/cost.svg", "w") as f:
        f.write(svg(rows, label))
    atoms = [r["atomic_ns_med"] for r in rows.values() if not r["op"].startswith("contended")]
    if atoms:
        atoms.sort()
        out.insert(0, "one atomic RMW (uncontended lock xadd, cache-hot): %.2f ns median over all rows (%.2f-%.2f)"
                   % (atoms[len(atoms) // 2], atoms[0], atoms[-1]))
        out.insert(1, "")
    print("\n".join(out + [""] + tg))
    if errors:
        for e in errors:
            print("bench-report: " + e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
