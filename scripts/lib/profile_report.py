#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""The report of scripts/profile-checker: perf script text per cell -> tables.

profile_report.py [--top N] [--out DIR] [--title T] RAW_DIR

RAW_DIR holds, per cell PHASE-OP-SIZE (PHASE unloaded or loaded), PHASE-OP-SIZE.script
(`perf script -F comm,period,ip,sym,dso` with call chains, leaf first) and
PHASE-OP-SIZE.bench (mm_bench's lines: tag op size run ns); kallsyms.modules (the
guest's /proc/kallsyms lines of module space) and symbol-files.tsv (module function ->
object file). Prints the tables (see scripts/profile-checker) and writes DIR/samples.tsv.
"""
import argparse
import bisect
import collections
import os
import re
import statistics
import sys

CATEGORIES = ["kernel", "kprobes", "probes", "snapshot", "window", "model", "profiler"]
MACHINERY = re.compile(
    r"^(__)?(kprobe|kretprobe|pre_handler_kretprobe|rethook|arch_rethook|ftrace|arch_ftrace|"
    r"objpool|get_kprobe|aggr_|opt_pre_handler|kprobe_ftrace_handler|trampoline_handler|"
    r"__traceiter_|ftrace_trampoline)")
FILE_CATEGORY = {
    "foliomap_model": "model",
    "foliomap_snapshot": "snapshot",
    "foliomap_window": "window",
}


def base_name(sym):
    """A compiler copy's name without its suffix (snapshot.constprop.0 -> snapshot)."""
    return sym.split(".", 1)[0] if not sym.startswith(".") else sym


class Symbols:
    """Module-space addresses -> (name, module), from the guest's kallsyms."""

    def __init__(self, path):
        rows = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 4 or parts[2].startswith(".L"):
                        continue
                    rows.append((int(parts[0], 16), parts[2], parts[3].strip("[]")))
        rows.sort()
        self.addr = [r[0] for r in rows]
        self.rows = rows

    def lookup(self, a):
        i = bisect.bisect_right(self.addr, a) - 1
        if i < 0 or a - self.addr[i] > 1 << 16:
            return None
        return self.rows[i][1], self.rows[i][2]


def parse_script(path, syms):
    """Yields (comm, period, frames) with frames leaf first as (name, where)."""
    frame_re = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")
    with open(path, errors="replace") as f:
        comm, period, frames = None, 0, []
        for line in f:
            if not line.strip():
                if comm is not None:
                    yield comm, period, frames
                comm, period, frames = None, 0, []
                continue
            if not line[0].isspace():
                parts = line.split()
                comm, period = " ".join(parts[:-1]) or "?", int(parts[-1])
                continue
            m = frame_re.match(line)
            if not m:
                continue
            addr, sym, dso = int(m.group(1), 16), m.group(2), m.group(3)
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            if addr >= 0xFFFFFFFF80000000 and (dso.startswith("[") and dso != "[kernel.kallsyms]"
                                               or sym == "[unknown]"):
                hit = syms.lookup(addr)
                if hit:
                    sym, mod = hit
                    dso = "[%s]" % mod
            frames.append((sym, dso))
        if comm is not None:
            yield comm, period, frames


def classify(comm, frames, files):
    """(category, leaf, module function or None) of one sample."""
    leaf = frames[0][0] + " " + frames[0][1] if frames else "?"
    if comm == "perf":
        return "profiler", leaf, None
    for sym, dso in frames:
        if dso == "[foliomap]":
            f = files.get(base_name(sym), "")
            cat = FILE_CATEGORY.get(f)
            if cat is None:
                cat = "model" if re.match(r"^(fm_|foliomap_|_ZN|_R)", sym) and not f else "probes"
            return cat, leaf, (sym, f or "?")
    for sym, dso in frames:
        if dso in ("[__builtin__ftrace]", "[__builtin__kprobes]") or MACHINERY.match(sym):
            return "kprobes", leaf, None
    return "kernel", leaf, None


def median_ns(path):
    vals = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 5 and not line.startswith("#"):
                    vals.append(int(p[4]))
    return statistics.median(vals) if vals else None


def pct(x, total):
    return 100.0 * x / total if total else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", default=None)
    ap.add_argument("--title", default="")
    ap.add_argument("raw")
    a = ap.parse_args()
    syms = Symbols(os.path.join(a.raw, "kallsyms.modules"))
    files = {}
    sf = os.path.join(a.raw, "symbol-files.tsv")
    if os.path.exists(sf):
        with open(sf) as f:
            for line in f:
                s, o = line.rstrip("\n").split("\t")
                files.setdefault(base_name(s), o)

    cells = collections.OrderedDict()
    for name in sorted(os.listdir(a.raw)):
        m = re.match(r"^(unloaded|loaded)-([a-z-]+)-(\d+)\.script$", name)
        if m:
            cells.setdefault((m.group(2), int(m.group(3))), {})[m.group(1)] = name
    op_order = {"munmap": 0, "fork": 1, "cow-byte": 2, "reuse-byte": 3}
    tsv = []
    if a.title:
        print("# " + a.title)
    print("# categories: kernel (its own work), kprobes (kprobe/kretprobe/rethook/ftrace "
          "machinery), probes (c-shim probe handlers and glue), snapshot "
          "(foliomap_snapshot.c), window (foliomap_window.c), model (Rust), profiler (perf)")
    print("# 'x unl': time as a multiple of the whole unloaded run (the loaded column adds "
          "up to loaded / unloaded)")
    for (op, size) in sorted(cells, key=lambda k: (op_order.get(k[0], 9), k[1])):
        phases = cells[(op, size)]
        prof = {}
        for phase, name in phases.items():
            cat = collections.Counter()
            leaf = collections.Counter()
            leafcat = {}
            modf = collections.Counter()
            modhelp = collections.defaultdict(collections.Counter)
            n = 0
            for comm, period, frames in parse_script(os.path.join(a.raw, name), syms):
                c, lf, mf = classify(comm, frames, files)
                n += 1
                cat[c] += period
                leaf[lf] += period
                leafcat[lf] = c
                if mf:
                    modf[mf] += period
                    if not lf.endswith("[foliomap]"):
                        modhelp[mf][lf.split(" ")[0]] += period
                tsv.append("\t".join([phase, op, str(size), c, lf, mf[0] if mf else "-",
                                      str(period)]))
            prof[phase] = dict(cat=cat, leaf=leaf, leafcat=leafcat, modf=modf,
                               modhelp=modhelp, n=n, total=sum(cat.values()))
        base = prof.get("unloaded", {}).get("total") or None
        med = {p: median_ns(os.path.join(a.raw, "%s-%s-%d.bench" % (p, op, size))) for p in phases}
        print()
        print("== %s %d KiB ==" % (op, size))
        line = []
        for p in ("unloaded", "loaded"):
            if p in prof:
                line.append("%s: median %.2f ms, %d samples (%.1f ms sampled)" % (
                    p, (med[p] or 0) / 1e6, prof[p]["n"], prof[p]["total"] / 1e6))
        print("   " + "; ".join(line))
        if base and "loaded" in prof:
            print("   loaded / unloaded: %.2fx by mm_bench's medians, %.2fx by the samples" % (
                (med["loaded"] or 0) / (med["unloaded"] or 1), prof["loaded"]["total"] / base))
        if "loaded" in prof:
            L = prof["loaded"]
            print("   %-10s %7s %7s %7s" % ("category", "share", "x unl", "unl x"))
            for c in CATEGORIES:
                u = prof.get("unloaded", {}).get("cat", {}).get(c, 0)
                if not L["cat"][c] and not u:
                    continue
                print("   %-10s %6.1f%% %7s %7s" % (
                    c, pct(L["cat"][c], L["total"]),
                    "%.2f" % (L["cat"][c] / base) if base else "-",
                    "%.2f" % (u / base) if base else "-"))
            print("   top symbols, self time (loaded):")
            print("   %6s %6s  %-9s %s" % ("share", "x unl", "category", "symbol"))
            for lf, v in L["leaf"].most_common(a.top):
                print("   %5.1f%% %6s  %-9s %s" % (pct(v, L["total"]),
                                                 "%.2f" % (v / base) if base else "-",
                                                 L["leafcat"][lf], lf))
            print("   module functions, time in them and in the kernel helpers they call "
                  "(innermost module frame):")
            for (fn, f), v in L["modf"].most_common(a.top):
                helpers = L["modhelp"][(fn, f)]
                h = ", ".join("%s %.0f%%" % (k, pct(hv, v)) for k, hv in helpers.most_common(3))
                print("   %5.1f%% %6s  %-22s %s%s" % (pct(v, L["total"]),
                                                    "%.2f" % (v / base) if base else "-",
                                                    f, fn, "  [helpers: %s]" % h if h else ""))
        if "unloaded" in prof:
            U = prof["unloaded"]
            print("   top symbols, self time (unloaded):")
            for lf, v in U["leaf"].most_common(min(a.top, 10)):
                print("   %5.1f%%  %s" % (pct(v, U["total"]), lf))
            if "loaded" in prof:
                L = prof["loaded"]
                d = collections.Counter()
                for lf, v in L["leaf"].items():
                    if L["leafcat"][lf] == "kernel":
                        d[lf] += v
                for lf, v in U["leaf"].items():
                    d[lf] -= v
                print("   the kernel's own work, loaded minus unloaded (x unl), largest growth:")
                for lf, v in d.most_common(8):
                    if v > 0:
                        print("   %+6.2f  %s" % (v / base, lf))
    if a.out:
        with open(os.path.join(a.out, "samples.tsv"), "w") as f:
            f.write("phase\top\tsize_kb\tcategory\tleaf\tmodule_function\tperiod_ns\n")
            f.write("\n".join(tsv) + "\n")


if __name__ == "__main__":
    sys.exit(main())
