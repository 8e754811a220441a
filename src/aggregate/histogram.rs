//! Power-of-two histograms of durations, printed the way bcc's `funclatency` does, so
//! that people who know those tools read them at a glance.

use std::fmt::Write as _;

use serde_json::json;

/// The unit durations are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Nanoseconds.
    Nanos,
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
}

impl TimeUnit {
    /// Nanoseconds in one unit.
    pub fn nanos(self) -> u64 {
        match self {
            TimeUnit::Nanos => 1,
            TimeUnit::Micros => 1_000,
            TimeUnit::Millis => 1_000_000,
        }
    }

    /// The column title: `nsecs`, `usecs`, `msecs`.
    pub fn title(self) -> &'static str {
        match self {
            TimeUnit::Nanos => "nsecs",
            TimeUnit::Micros => "usecs",
            TimeUnit::Millis => "msecs",
        }
    }

    /// The short name used in JSON: `ns`, `us`, `ms`.
    pub fn short(self) -> &'static str {
        match self {
            TimeUnit::Nanos => "ns",
            TimeUnit::Micros => "us",
            TimeUnit::Millis => "ms",
        }
    }
}

/// Counts of values by power of two: bucket 0 holds 0, bucket `i > 0` holds
/// `2^(i-1) ..= 2^i - 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log2Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: u128,
}

impl Log2Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket `value` falls in.
    pub fn bucket_of(value: u64) -> usize {
        (u64::BITS - value.leading_zeros()) as usize
    }

    /// The smallest and largest value of bucket `index`.
    pub fn bounds(index: usize) -> (u64, u64) {
        match index {
            0 => (0, 0),
            64 => (1 << 63, u64::MAX),
            _ => (1 << (index - 1), (1 << index) - 1),
        }
    }

    /// Adds one value.
    pub fn add(&mut self, value: u64) {
        let index = Self::bucket_of(value);
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, 0);
        }
        self.buckets[index] += 1;
        self.count += 1;
        self.sum += u128::from(value);
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their sum.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// The count in bucket `index`.
    pub fn bucket(&self, index: usize) -> u64 {
        self.buckets.get(index).copied().unwrap_or(0)
    }

    /// Non-empty range of buckets: from the first to the last with a count.
    fn used(&self) -> Option<(usize, usize)> {
        let first = self.buckets.iter().position(|&c| c > 0)?;
        let last = self.buckets.iter().rposition(|&c| c > 0)?;
        Some((first, last))
    }

    /// The bcc-style table: one line per bucket from the first used one to the last,
    /// with a bar of up to 40 stars scaled to the largest bucket.
    pub fn render(&self, unit: TimeUnit) -> String {
        let mut out = String::new();
        let Some((first, last)) = self.used() else {
            return out;
        };
        let max = self.buckets.iter().copied().max().unwrap_or(1).max(1);
        let _ = writeln!(out, "{:>20} : {:<8} distribution", unit.title(), "count");
        for index in first..=last {
            let (low, high) = Self::bounds(index);
            let count = self.bucket(index);
            let stars = (count * 40).div_ceil(max) as usize;
            let stars = if count > 0 { stars.max(1) } else { 0 };
            let _ = writeln!(
                out,
                "{:>9} -> {:<9} : {:<8} |{:<40}|",
                low,
                high,
                count,
                "*".repeat(stars)
            );
        }
        out
    }

    /// The buckets that hold values, as JSON objects `{"low","high","count"}`.
    pub fn json_buckets(&self) -> serde_json::Value {
        let Some((first, last)) = self.used() else {
            return json!([]);
        };
        (first..=last)
            .filter(|&i| self.bucket(i) > 0)
            .map(|i| {
                let (low, high) = Self::bounds(i);
                json!({"low": low, "high": high, "count": self.bucket(i)})
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(Log2Histogram::bucket_of(0), 0);
        assert_eq!(Log2Histogram::bucket_of(1), 1);
        assert_eq!(Log2Histogram::bucket_of(2), 2);
        assert_eq!(Log2Histogram::bucket_of(3), 2);
        assert_eq!(Log2Histogram::bucket_of(4), 3);
        assert_eq!(Log2Histogram::bucket_of(1023), 10);
        assert_eq!(Log2Histogram::bucket_of(1024), 11);
        assert_eq!(Log2Histogram::bucket_of(u64::MAX), 64);
        for value in [0, 1, 2, 3, 7, 8, 1000, 4096, u64::MAX / 3, u64::MAX] {
            let (low, high) = Log2Histogram::bounds(Log2Histogram::bucket_of(value));
            assert!(
                low <= value && value <= high,
                "{value} not in {low}..={high}"
            );
        }
    }

    #[test]
    fn renders_like_funclatency() {
        let mut h = Log2Histogram::new();
        for v in [1, 4, 4, 5, 16] {
            h.add(v);
        }
        assert_eq!((h.count(), h.sum()), (5, 30));
        let text = h.render(TimeUnit::Millis);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].trim_start(), "msecs : count    distribution");
        assert_eq!(lines.len(), 1 + 5, "{text}");
        assert!(
            lines[1].contains("1 -> 1") && lines[1].contains(": 1 "),
            "{text}"
        );
        assert!(
            lines[3].contains("4 -> 7") && lines[3].contains(": 3 "),
            "{text}"
        );
        assert!(
            lines[3].contains(&format!("|{}|", "*".repeat(40))),
            "{text}"
        );
        assert!(lines[5].contains("16 -> 31"), "{text}");
        assert_eq!(
            h.json_buckets(),
            json!([
                {"low": 1, "high": 1, "count": 1},
                {"low": 4, "high": 7, "count": 3},
                {"low": 16, "high": 31, "count": 1}
            ])
        );
    }

    #[test]
    fn empty_renders_nothing() {
        let h = Log2Histogram::new();
        assert_eq!(h.render(TimeUnit::Nanos), "");
        assert_eq!(h.json_buckets(), json!([]));
    }
}
