# SPDX-License-Identifier: MIT OR Apache-2.0
"""Report of scripts/bench-kernel: mm_bench lines from the VM into tables and plots.

    python3 bench_kernel_report.py seed|checker OUTDIR FILE...

Each FILE holds mm_bench output ("tag op size_kb run ns" lines, "# " comments) of one
kernel; its name is <kernel>.tsv. seed: nopmc against pmc (both without the module),
side by side with the published numbers of the MM-owner-tracking series and the atomic
operations the 7.3 rules perform per folio. checker: the module loaded against not
loaded, in the same boot. Writes OUTDIR/summary.tsv and OUTDIR/*.svg, prints the table.
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

OPS = ["munmap", "fork", "cow-byte", "reuse-byte"]

# The MM-owner-tracking series, v1 cover letter (Xeon), the series with
# CONFIG_NO_PAGE_MAPCOUNT against the kernel before it (no MM ids), over 16 KiB ... 2 MiB
# PTE-mapped folios: the range of the published changes per operation (%).
PUBLISHED = {"munmap": (-31, -8), "fork": (-21, -9), "cow-byte": (0, 0), "reuse-byte": (-66, -64)}


def model_atomics(op, kb, mode):
    """Atomic read-modify-writes on the folio's own words per folio of kb KiB.

    From the spec's rules, for a folio mapped by PTEs in full-folio batches: a large
    mapcount update is lock + add/sub + unlock of the _mm_ids bit spinlock (§2.2, §2.3,
    §8); [PMC] adds one atomic per page, and one on _nr_pages_mapped when pages cross
    -1/0 (§3.1, §3.5). munmap: one remove per folio, its references dropped by one put of
    the TLB batch (§3.11). fork: PAE cleared on every (exclusive) page, the references
    taken by one folio_ref_add (§3.8, §5.2). cow-byte, per page: do_wp_page's temporary
    reference, a one-page remove (the child still maps the page: no _nr_pages_mapped
    change), two puts (§7.2, §7.5). reuse-byte, per page: the re-check under the mapcount
    lock and PAE set, the same in both modes (§7.3, §7.4).
    """
    n = kb // 4
    pmc = mode == "pmc"
    lock = 3  # lock, large mapcount add/sub, unlock
    if op == "munmap":
        return lock + 1 + (n + 1 if pmc else 0)
    if op == "fork":
        return 1 + n + lock + (n if pmc else 0)
    if op == "cow-byte":
        return n * (1 + lock + (1 if pmc else 0) + 2)
    return n * 3


def read(path):
    """{(tag, op, kb): {run: ns}} and the comment lines."""
    cells, comments = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# "):
                comments.append(line[2:])
                continue
            parts = line.split("\t")
            if len(parts) != 5:
                continue
            tag, op, kb, run, ns = parts
            cells.setdefault((tag, op, int(kb)), {})[int(run)] = int(ns)
    return cells, comments


def pct(a, b):
    return 100.0 * (a - b) / b


def spread(values):
    """Median and the min/max as % of it."""
    m = statistics.median(values)
    return m, pct(min(values), m), pct(max(values), m)


def pairwise(a, b, f):
    """f over the runs both have (run i of one against run i of the other)."""
    runs = sorted(set(a) & set(b))
    return [f(a[r], b[r]) for r in runs]


def seed(outdir, files):
    data = {}
    for path in files:
        kernel = os.path.basename(path).split(".")[0]
        data[kernel], comments = read(path)
        for c in comments:
            print(f"# {kernel}: {c}")
    if not {"pmc", "nopmc"} <= set(data):
        sys.exit("bench-kernel report: need both pmc.tsv and nopmc.tsv")
    keys = sorted({(op, kb) for k in data.values() for (_, op, kb) in k}, key=lambda t: (OPS.index(t[0]), t[1]))
    rows, plot = [], {op: [] for op in OPS}
    print()
    print(f"{'op':<11}{'folio':>7}  {'pmc ms':>9} {'spread %':>13}  {'nopmc ms':>9} {'spread %':>13}"
          f"  {'nopmc vs pmc':>13} {'pairwise %':>15}  {'published %':>12}  {'atomics/folio pmc→nopmc':>24}")
    for op, kb in keys:
        p = data["pmc"].get(("-", op, kb))
        n = data["nopmc"].get(("-", op, kb))
        if not p or not n:
            continue
        pm, plo, phi = spread(list(p.values()))
        nm, nlo, nhi = spread(list(n.values()))
        delta = pct(nm, pm)
        pair = pairwise(n, p, pct)
        lo, hi = PUBLISHED[op]
        ap, an = model_atomics(op, kb, "pmc"), model_atomics(op, kb, "nopmc")
        predicted = "faster" if an < ap else ("same" if an == ap else "slower")
        print(f"{op:<11}{kb:>5}K  {pm / 1e6:9.2f} {plo:+6.1f}/{phi:+5.1f}  {nm / 1e6:9.2f} {nlo:+6.1f}/{nhi:+5.1f}"
              f"  {delta:+12.1f}% {min(pair):+7.1f}/{max(pair):+6.1f}  {lo:+5d}…{hi:+d}"
              f"  {ap:>10} → {an:<6} {predicted}")
        rows.append((op, kb, pm, plo, phi, nm, nlo, nhi, delta, min(pair), max(pair), lo, hi, ap, an, predicted))
        plot[op].append((kb, delta, min(pair), max(pair)))
    if not rows:
        sys.exit("bench-kernel report: no measurement found in both kernels' output")
    with open(os.path.join(outdir, "summary.tsv"), "w", encoding="utf-8") as f:
        f.write("op\tfolio_kb\tpmc_ns\tpmc_min_pct\tpmc_max_pct\tnopmc_ns\tnopmc_min_pct\tnopmc_max_pct"
                "\tdelta_pct\tpair_min_pct\tpair_max_pct\tpublished_lo\tpublished_hi"
                "\tatomics_pmc\tatomics_nopmc\tpredicted\n")
        for r in rows:
            f.write("\t".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r) + "\n")
    sizes = sorted({r[1] for r in rows})
    svgplot.line_chart(
        os.path.join(outdir, "nopmc-vs-pmc.svg"),
        "CONFIG_NO_PAGE_MAPCOUNT against CONFIG_PAGE_MAPCOUNT (7.3.4, PTE-mapped folios)",
        "folio size", "nopmc vs pmc, % (median; bars: pairwise min..max)",
        [(op, pts) for op, pts in plot.items() if pts], log2_x=True,
        x_names={s: (f"{s // 1024}M" if s >= 1024 else f"{s}K") for s in sizes})
    print(f"\nwrote {outdir}/summary.tsv and {outdir}/nopmc-vs-pmc.svg")
    sane(rows, lambda r: (r[2], r[5]))


def checker(outdir, files):
    rows, plots = [], {}
    print(f"\n{'kernel':<7}{'op':<11}{'folio':>7}  {'unloaded ms':>11} {'loaded ms':>10}  {'loaded/unloaded':>15} "
          f"{'pairwise':>13}")
    for path in files:
        kernel = os.path.basename(path).split(".")[0]
        cells, comments = read(path)
        for c in comments:
            if not c.startswith("totals:") or c.split()[1] in ("transitions_checked", "cow_checked"):
                print(f"# {kernel}: {c}")
        keys = sorted({(op, kb) for (_, op, kb) in cells}, key=lambda t: (OPS.index(t[0]), t[1]))
        for op, kb in keys:
            on, off = cells.get(("loaded", op, kb)), cells.get(("unloaded", op, kb))
            if not on or not off:
                continue
            ratio = statistics.median(on.values()) / statistics.median(off.values())
            pair = pairwise(on, off, lambda a, b: a / b)
            print(f"{kernel:<7}{op:<11}{kb:>5}K  {statistics.median(off.values()) / 1e6:11.2f} "
                  f"{statistics.median(on.values()) / 1e6:10.2f}  {ratio:14.2f}x {min(pair):5.2f}..{max(pair):.2f}x")
            rows.append((kernel, op, kb, statistics.median(off.values()), statistics.median(on.values()),
                         ratio, min(pair), max(pair)))
            plots.setdefault(f"{kernel} {op}", []).append((kb, ratio, min(pair), max(pair)))
    if not rows:
        sys.exit("bench-kernel report: no loaded/unloaded pair found")
    with open(os.path.join(outdir, "summary.tsv"), "w", encoding="utf-8") as f:
        f.write("kernel\top\tfolio_kb\tunloaded_ns\tloaded_ns\tratio\tpair_min\tpair_max\n")
        for r in rows:
            f.write("\t".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + "\n")
    sizes = sorted({r[2] for r in rows})
    svgplot.line_chart(
        os.path.join(outdir, "checker-cost.svg"),
        "The shadow checker's cost: foliomap.ko loaded / not loaded, same boot",
        "folio size", "loaded / unloaded (median; bars: pairwise min..max)",
        sorted(plots.items()), log2_x=True,
        x_names={s: (f"{s // 1024}M" if s >= 1024 else f"{s}K") for s in sizes},
        hlines=[(1.5, "target 1.5x")])
    print(f"\nwrote {outdir}/summary.tsv and {outdir}/checker-cost.svg")
    sane(rows, lambda r: (r[3], r[4]))


def sane(rows, times):
    """Every cell measured something: positive, finite times."""
    bad = [r for r in rows if min(times(r)) <= 0]
    if bad:
        sys.exit(f"bench-kernel report: non-positive times in {len(bad)} cells, e.g. {bad[0]}")


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("seed", "checker"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    (seed if sys.argv[1] == "seed" else checker)(sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    main()
