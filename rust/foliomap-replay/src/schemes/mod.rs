//! The schemes, one module each.
pub mod exact;
pub mod linux73;
pub mod pages;
pub mod pre615;
pub mod precise2016;
pub mod rfc2026;
pub mod slots;
pub mod thp2015;

use foliomap::types::Mode;

use crate::scheme::Scheme;

/// Every scheme name, in report order, for a trace of `mode`.
pub fn all_names(mode: Mode) -> Vec<String> {
    let other = match mode {
        Mode::Pmc => "linux-7.3-nopmc",
        Mode::Nopmc => "linux-7.3-pmc",
    };
    [
        "linux-7.3",
        other,
        "exact",
        "slots-1",
        "slots-2",
        "slots-4",
        "slots-8",
        "pre-6.15",
        "rfc-2026",
        "thp-2015",
        "precise-2016",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The scheme called `name` for a trace of `mode`.
pub fn make(name: &str, mode: Mode) -> Option<Box<dyn Scheme>> {
    Some(match name {
        "linux-7.3" => Box::new(linux73::Linux73::new(mode, false)),
        "linux-7.3-pmc" if mode == Mode::Nopmc => Box::new(linux73::Linux73::new(Mode::Pmc, true)),
        "linux-7.3-nopmc" if mode == Mode::Pmc => {
            Box::new(linux73::Linux73::new(Mode::Nopmc, true))
        }
        "exact" => Box::new(exact::ExactScheme::default()),
        "pre-6.15" => Box::new(pre615::Pre615::default()),
        "rfc-2026" => Box::new(rfc2026::Rfc2026::default()),
        "thp-2015" => Box::new(thp2015::Thp2015::default()),
        "precise-2016" => Box::new(precise2016::Precise2016::default()),
        _ => {
            let n: usize = name.strip_prefix("slots-")?.parse().ok()?;
            if !(1..=64).contains(&n) {
                return None;
            }
            Box::new(slots::Slots::new(n, mode))
        }
    })
}
