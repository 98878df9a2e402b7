//! foliomap-replay: replays a recorded trace (the kernel module's, or `csim --trace`)
//! through the Linux 7.3 model — an offline fidelity check that fails on any difference
//! from a recorded outcome — and through alternative mapcount schemes behind one trait
//! ([`scheme::Scheme`]), evaluated at the kernel's own decision points on the kernel's
//! own stream. See README.md ("Record and replay").
pub mod delta;
pub mod exact;
pub mod format;
pub mod model;
pub mod report;
pub mod run;
pub mod scheme;
pub mod schemes;
