//! Reading and writing trace files (the format of `foliomap::trace`), without `unsafe`:
//! every record is decoded field by field in declaration order; `layout_matches` (a test)
//! checks that the order and sizes are exactly the `#[repr(C)]` offsets.

use foliomap::trace::{
    TraceEvent, TraceHeader, TraceOp, TracePageRun, TracePages, TraceState, TRACE_MAGIC,
    TRACE_RECORD_SIZE, TRACE_VERSION, TRACE_VERSION_MIN,
};
use foliomap::types::CowFacts;

/// A fixed-width little-endian field.
pub trait Field: Sized {
    /// Reads at `*at`, advancing it.
    fn get(b: &[u8], at: &mut usize) -> Self;
    /// Writes at `*at`, advancing it.
    fn put(&self, b: &mut [u8], at: &mut usize);
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn get(b: &[u8], at: &mut usize) -> Self {
                const N: usize = core::mem::size_of::<$t>();
                let mut raw = [0u8; N];
                raw.copy_from_slice(&b[*at..*at + N]);
                *at += N;
                <$t>::from_le_bytes(raw)
            }
            fn put(&self, b: &mut [u8], at: &mut usize) {
                const N: usize = core::mem::size_of::<$t>();
                b[*at..*at + N].copy_from_slice(&self.to_le_bytes());
                *at += N;
            }
        }
    )*};
}
int_field!(u8, i8, u16, i16, u32, i32, u64);

impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    fn get(b: &[u8], at: &mut usize) -> Self {
        let mut out = [T::default(); N];
        for v in out.iter_mut() {
            *v = T::get(b, at);
        }
        out
    }
    fn put(&self, b: &mut [u8], at: &mut usize) {
        for v in self {
            v.put(b, at);
        }
    }
}

/// A `#[repr(C)]` record coded field by field: `(name, offset while coding, size)` for
/// the layout test, and the codec.
pub trait Record: Sized + Default {
    /// Decodes from `b` (at least the record's size).
    fn decode(b: &[u8]) -> Self;
    /// Encodes into `b`.
    fn encode(&self, b: &mut [u8]);
    /// `(field, offset the codec uses, offset in the Rust type)`.
    fn offsets() -> Vec<(&'static str, usize, usize)>;
}

macro_rules! record {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl Field for $t {
            fn get(b: &[u8], at: &mut usize) -> Self {
                let mut v = <$t>::default();
                $( v.$f = Field::get(b, at); )*
                v
            }
            fn put(&self, b: &mut [u8], at: &mut usize) {
                $( self.$f.put(b, at); )*
            }
        }
        impl Record for $t {
            fn decode(b: &[u8]) -> Self {
                let mut at = 0;
                <$t as Field>::get(b, &mut at)
            }
            fn encode(&self, b: &mut [u8]) {
                let mut at = 0;
                self.put(b, &mut at);
            }
            fn offsets() -> Vec<(&'static str, usize, usize)> {
                let v = <$t>::default();
                let mut b = vec![0u8; core::mem::size_of::<$t>() + 64];
                let mut at = 0;
                let mut out = Vec::new();
                $(
                    out.push((stringify!($f), at, core::mem::offset_of!($t, $f)));
                    v.$f.put(&mut b, &mut at);
                )*
                out.push(("<end>", at, core::mem::size_of::<$t>()));
                out
            }
        }
    };
}

record!(CowFacts {
    unshare,
    trylock_fails,
    lru_drain_drops_ref,
    swap_free_succeeds
});
record!(TracePageRun {
    first,
    nr,
    mapcount,
    flags
});
record!(TraceHeader {
    magic,
    version,
    header_size,
    record_size,
    mode,
    source,
    nr_cpus,
    reserved,
    records,
    dropped,
    events,
    states
});
record!(TraceEvent {
    seq,
    pfn,
    epoch,
    cpu,
    op,
    order,
    flags,
    status,
    decision,
    mm,
    first,
    nr,
    arg,
    ret,
    reason,
    reserved,
    out_flags,
    facts,
    nr_pages,
    nr_other,
    mapcount_after,
    digest
});
record!(TraceState {
    seq,
    pfn,
    epoch,
    cpu,
    op,
    mm_ids,
    mm_id_mapcount,
    refcount,
    pincount,
    large_mapcount,
    entire_mapcount,
    nr_pages_mapped,
    flags,
    order,
    nr_runs
});
record!(TracePages {
    seq,
    pfn,
    epoch,
    cpu,
    op,
    part,
    nr,
    reserved,
    runs
});

/// One decoded record.
#[derive(Clone, Copy, Debug)]
pub enum Rec {
    /// A model operation.
    Event(TraceEvent),
    /// A folio's header state.
    State(TraceState),
    /// Page runs of the preceding state.
    Pages(TracePages),
}

impl Rec {
    /// Global sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Rec::Event(e) => e.seq,
            Rec::State(s) => s.seq,
            Rec::Pages(p) => p.seq,
        }
    }
    /// The folio identity `(pfn, epoch)`.
    pub fn key(&self) -> (u64, u32) {
        match self {
            Rec::Event(e) => (e.pfn, e.epoch),
            Rec::State(s) => (s.pfn, s.epoch),
            Rec::Pages(p) => (p.pfn, p.epoch),
        }
    }
}

/// A whole trace in memory.
#[derive(Debug, Default)]
pub struct Trace {
    /// The file header.
    pub header: TraceHeader,
    /// The records, sorted by `seq`.
    pub records: Vec<Rec>,
}

/// Why a trace file was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum FormatError {
    /// Shorter than a header.
    Truncated,
    /// Not `TRACE_MAGIC` (byte-swapped: wrong endianness).
    BadMagic(u32),
    /// Another version.
    BadVersion(u32),
    /// Header or record size not this version's.
    BadSize(u32, u32),
    /// The file length is not header + a whole number of records.
    PartialRecord(usize),
    /// A record with an unknown `op` (index, op).
    BadOp(usize, u16),
    /// Fewer or more records than the header says.
    RecordCount(u64, u64),
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FormatError::Truncated => write!(f, "shorter than the 64-byte trace header"),
            FormatError::BadMagic(m) if m.swap_bytes() == TRACE_MAGIC => {
                write!(f, "byte-swapped magic: a trace of the other endianness")
            }
            FormatError::BadMagic(m) => write!(f, "bad magic {m:#x} (not a foliomap trace)"),
            FormatError::BadVersion(v) => {
                write!(
                    f,
                    "trace version {v}, this reader knows {TRACE_VERSION_MIN} to {TRACE_VERSION}"
                )
            }
            FormatError::BadSize(h, r) => write!(f, "header size {h} / record size {r}"),
            FormatError::PartialRecord(n) => write!(f, "{n} trailing bytes (a torn record)"),
            FormatError::BadOp(i, op) => write!(f, "record {i}: unknown op {op}"),
            FormatError::RecordCount(h, n) => {
                write!(f, "the header announces {h} records, the file holds {n}")
            }
        }
    }
}

const HEADER_SIZE: usize = 64;

/// Parses a trace file; records are sorted by `seq` (merging per-CPU streams).
pub fn parse(bytes: &[u8]) -> Result<Trace, FormatError> {
    if bytes.len() < HEADER_SIZE {
        return Err(FormatError::Truncated);
    }
    let header = TraceHeader::decode(bytes);
    if header.magic != TRACE_MAGIC {
        return Err(FormatError::BadMagic(header.magic));
    }
    if !(TRACE_VERSION_MIN..=TRACE_VERSION).contains(&header.version) {
        return Err(FormatError::BadVersion(header.version));
    }
    if header.header_size as usize != HEADER_SIZE || header.record_size != TRACE_RECORD_SIZE {
        return Err(FormatError::BadSize(header.header_size, header.record_size));
    }
    let body = &bytes[HEADER_SIZE..];
    let rs = TRACE_RECORD_SIZE as usize;
    if !body.len().is_multiple_of(rs) {
        return Err(FormatError::PartialRecord(body.len() % rs));
    }
    let n = body.len() / rs;
    if header.records != n as u64 {
        return Err(FormatError::RecordCount(header.records, n as u64));
    }
    let mut records = Vec::with_capacity(n);
    let mut sorted = true;
    let mut last = 0;
    for (i, chunk) in body.chunks_exact(rs).enumerate() {
        let op = u16::from_le_bytes([chunk[22], chunk[23]]);
        let rec = match TraceOp::from_raw(op) {
            Some(TraceOp::State) => Rec::State(TraceState::decode(chunk)),
            Some(TraceOp::StatePages) => Rec::Pages(TracePages::decode(chunk)),
            Some(_) => Rec::Event(TraceEvent::decode(chunk)),
            None => return Err(FormatError::BadOp(i, op)),
        };
        sorted &= rec.seq() >= last;
        last = rec.seq();
        records.push(rec);
    }
    if !sorted {
        records.sort_by_key(Rec::seq);
    }
    Ok(Trace { header, records })
}

/// Serialises a trace (header counters taken from `records`).
pub fn write(mut header: TraceHeader, records: &[Rec]) -> Vec<u8> {
    let rs = TRACE_RECORD_SIZE as usize;
    header.records = records.len() as u64;
    header.events = records
        .iter()
        .filter(|r| matches!(r, Rec::Event(_)))
        .count() as u64;
    header.states = records
        .iter()
        .filter(|r| matches!(r, Rec::State(_)))
        .count() as u64;
    let mut out = vec![0u8; HEADER_SIZE + records.len() * rs];
    header.encode(&mut out[..HEADER_SIZE]);
    for (r, chunk) in records.iter().zip(out[HEADER_SIZE..].chunks_exact_mut(rs)) {
        match r {
            Rec::Event(e) => e.encode(chunk),
            Rec::State(s) => s.encode(chunk),
            Rec::Pages(p) => p.encode(chunk),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Record>(name: &str) {
        for (field, coded, real) in T::offsets() {
            assert_eq!(
                coded, real,
                "{name}.{field}: codec offset vs repr(C) offset"
            );
        }
    }

    #[test]
    fn layout_matches() {
        check::<TraceHeader>("fm_trace_header");
        check::<TraceEvent>("fm_trace_event");
        check::<TraceState>("fm_trace_state");
        check::<TracePages>("fm_trace_pages");
        check::<TracePageRun>("fm_trace_page_run");
    }

    fn ev(seq: u64) -> Rec {
        Rec::Event(TraceEvent {
            seq,
            pfn: 7,
            op: TraceOp::Get as u16,
            arg: 1,
            ..Default::default()
        })
    }

    #[test]
    fn round_trip_and_rejections() {
        let h = TraceHeader::new(1, 1, 1);
        let bytes = write(h, &[ev(1), ev(2)]);
        let t = parse(&bytes).unwrap();
        assert_eq!(t.records.len(), 2);
        assert_eq!(t.header.events, 2);
        // each broken input is refused for its reason
        assert_eq!(parse(&bytes[..10]).unwrap_err(), FormatError::Truncated);
        let mut b = bytes.clone();
        b[0] ^= 1;
        assert!(matches!(parse(&b), Err(FormatError::BadMagic(_))));
        let mut b = bytes.clone();
        b[..4].copy_from_slice(&TRACE_MAGIC.swap_bytes().to_le_bytes());
        assert!(parse(&b).unwrap_err().to_string().contains("endianness"));
        let mut b = bytes.clone();
        b[4] = 9;
        assert_eq!(parse(&b).unwrap_err(), FormatError::BadVersion(9));
        assert_eq!(
            parse(&bytes[..bytes.len() - 3]).unwrap_err(),
            FormatError::PartialRecord(61)
        );
        assert_eq!(
            parse(&bytes[..bytes.len() - 64]).unwrap_err(),
            FormatError::RecordCount(2, 1)
        );
        let mut b = bytes.clone();
        b[64 + 22] = 200;
        assert_eq!(parse(&b).unwrap_err(), FormatError::BadOp(0, 200));
        // out of order (per-CPU buffers) is merged by seq
        let t = parse(&write(h, &[ev(5), ev(3)])).unwrap();
        assert_eq!(t.records[0].seq(), 3);
    }
}
