//! In-process aggregation of decoded events, the jobs people otherwise do with BPF maps:
//! latency histograms from entry/return pairs, and counts per probe and key.

pub mod count;
pub mod histogram;
pub mod jobs;
pub mod latency;
pub mod timestamp;

pub use count::Counter;
pub use histogram::Log2Histogram;
pub use histogram::TimeUnit;
pub use latency::LatencyTracker;
pub use latency::Unpaired;
pub use timestamp::ts_nanos;
