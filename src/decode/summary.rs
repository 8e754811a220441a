//! Counts kept while decoding, reported at the end.

use std::collections::BTreeMap;
use std::fmt;

/// What a decode run saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Events decoded.
    pub events: u64,
    /// Events the kernel reported lost (sum of the `LOST M` counts).
    pub lost: u64,
    /// `LOST` lines, including those without a count.
    pub lost_lines: u64,
    /// `LOST` lines that gave no count (`[LOST EVENTS]`).
    pub lost_unknown: u64,
    /// Lost events per CPU.
    pub lost_per_cpu: BTreeMap<u32, u64>,
    /// Lines that could not be read.
    pub unparsed: u64,
    /// Events whose fields were split without a format file.
    pub guessed: u64,
}

impl DecodeSummary {
    /// Adds the counts of `other` (another part of the same input).
    pub fn add(&mut self, other: &DecodeSummary) {
        self.events += other.events;
        self.lost = self.lost.saturating_add(other.lost);
        self.lost_lines += other.lost_lines;
        self.lost_unknown += other.lost_unknown;
        for (cpu, n) in &other.lost_per_cpu {
            let total = self.lost_per_cpu.entry(*cpu).or_default();
            *total = total.saturating_add(*n);
        }
        self.unparsed += other.unparsed;
        self.guessed += other.guessed;
    }
}

impl fmt::Display for DecodeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} events, {} lost", self.events, self.lost)?;
        if self.lost_unknown > 0 {
            write!(f, " (+{} LOST lines without a count)", self.lost_unknown)?;
        }
        if !self.lost_per_cpu.is_empty() {
            let per_cpu: Vec<String> = self
                .lost_per_cpu
                .iter()
                .map(|(cpu, n)| format!("cpu{cpu}:{n}"))
                .collect();
            write!(f, " [{}]", per_cpu.join(" "))?;
        }
        write!(f, ", {} unparsed, {} guessed", self.unparsed, self.guessed)?;
        if self.guessed > 0 {
            write!(
                f,
                " (fields split without a format file; pass --events-dir)"
            )?;
        }
        Ok(())
    }
}
