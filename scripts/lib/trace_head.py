#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""A smaller foliomap trace from a recorded one, for a test fixture.

    scripts/lib/trace_head.py TRACE N OUT [--with-large]

Keeps the first N records by seq and, with --with-large, every record of the streams
(pfn, epoch) of large folios too; writes them in seq order, renumbered 1.. densely, with
the header's counters recomputed. The result is a valid trace: streams are independent
(a reader groups records by stream), a stream cut at some record just ends there, and a
state whose page records were cut off is discarded by the reader
(rust/foliomap/src/trace.rs). Dense numbering keeps the cut from reading as lost records.
"""
import struct
import sys

HEADER = struct.Struct("<8I4Q")  # rust/foliomap/src/trace.rs TraceHeader
RECORD = 64
MAGIC = 0x52544D46
STATE, STATE_PAGES = 64, 65


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--with-large"]
    with_large = len(args) != len(sys.argv) - 1
    if len(args) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, n, out = args[0], int(args[1]), args[2]
    data = open(src, "rb").read()
    if len(data) < HEADER.size:
        sys.exit(f"{src}: too short for a trace header")
    h = list(HEADER.unpack_from(data))
    if h[0] != MAGIC or h[3] != RECORD:
        sys.exit(f"{src}: not a foliomap trace of {RECORD}-byte records")
    recs = [data[o:o + RECORD] for o in range(HEADER.size, len(data) - RECORD + 1, RECORD)]
    recs.sort(key=lambda r: struct.unpack_from("<Q", r)[0])
    stream = lambda r: struct.unpack_from("<QI", r, 8)
    op = lambda r: struct.unpack_from("<H", r, 22)[0]
    # an event's order byte (offset 24; a state's order is at 61)
    large = {stream(r) for r in recs if (op(r) < STATE and r[24] > 0) or (op(r) == STATE and r[61] > 0)}
    kept = [r for i, r in enumerate(recs) if i < n or (with_large and stream(r) in large)]
    states = sum(op(r) == STATE for r in kept)
    events = sum(op(r) not in (STATE, STATE_PAGES) for r in kept)
    h[8], h[10], h[11] = len(kept), events, states  # records, events, states; dropped kept
    with open(out, "wb") as f:
        f.write(HEADER.pack(*h))
        for seq, r in enumerate(kept, 1):
            f.write(struct.pack("<Q", seq) + r[8:])
    print(f"{out}: {len(kept)} records ({events} events, {states} states)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
