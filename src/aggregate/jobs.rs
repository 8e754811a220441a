//! Decoded records into aggregates: which event is an entry and which a return, what
//! the `--by` key of an event is, and the counts the summary needs.

use std::collections::BTreeMap;

use crate::decode::Event;
use crate::decode::Record;
use crate::output::write_value;

use super::count::Counter;
use super::latency::LatencyTracker;
use super::timestamp::ts_nanos;

/// What an event is split by (`--by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitBy {
    /// Nothing: one histogram or count per probe.
    Nothing,
    /// The command name.
    Comm,
    /// The thread id (`common_pid`).
    Pid,
    /// The value of this field of the event.
    Field(String),
}

impl SplitBy {
    /// The column title in tables.
    pub fn title(&self) -> Option<&str> {
        match self {
            SplitBy::Nothing => None,
            SplitBy::Comm => Some("COMM"),
            SplitBy::Pid => Some("PID"),
            SplitBy::Field(name) => Some(name),
        }
    }

    /// `event`'s key. A field the event lacks gives `?`, so nothing is dropped.
    pub fn key(&self, event: &Event<'_>) -> String {
        match self {
            SplitBy::Nothing => String::new(),
            SplitBy::Comm => String::from_utf8_lossy(event.header.comm).into_owned(),
            SplitBy::Pid => event.header.pid.to_string(),
            SplitBy::Field(name) => event
                .fields
                .iter()
                .find(|f| f.name == name.as_bytes())
                .map(|f| {
                    let mut text = Vec::new();
                    // Writing to a Vec cannot fail.
                    let _ = write_value(&mut text, &f.value);
                    String::from_utf8_lossy(&text).into_owned()
                })
                .unwrap_or_else(|| "?".to_owned()),
        }
    }
}

/// Records that are not events: the lost counts and the unreadable lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Losses {
    /// Lost events per CPU, as the kernel reported them.
    pub lost: BTreeMap<u32, u64>,
    /// Lost reports without a count.
    pub lost_unknown: u64,
    /// Lines that could not be decoded.
    pub unparsed: u64,
    /// Events with a timestamp tprobe could not read (not paired).
    pub bad_timestamps: u64,
}

impl Losses {
    /// Takes a non-event record into account; `true` if it was one.
    fn note(&mut self, record: &Record<'_>) -> bool {
        match record {
            Record::Event(_) => false,
            Record::Lost { cpu, count } => {
                match count {
                    Some(n) => *self.lost.entry(*cpu).or_default() += n,
                    None => self.lost_unknown += 1,
                }
                true
            }
            Record::Unparsed { .. } => {
                self.unparsed += 1;
                true
            }
        }
    }

    /// Whether the kernel dropped anything (the histograms then undercount).
    pub fn any_lost(&self) -> bool {
        !self.lost.is_empty() || self.lost_unknown > 0
    }
}

/// `tprobe latency`: entries and returns of one function, paired per thread.
#[derive(Debug)]
pub struct LatencyJob {
    /// The pairing and the histograms.
    pub tracker: LatencyTracker,
    /// The entry probe's event name.
    pub entry_event: String,
    /// The return probe's event name.
    pub return_event: String,
    /// The key of each call (taken at entry).
    pub by: SplitBy,
    /// What was not an event.
    pub losses: Losses,
}

impl LatencyJob {
    /// Feeds one record.
    pub fn on_record(&mut self, record: &Record<'_>) {
        if self.losses.note(record) {
            return;
        }
        let Record::Event(event) = record else {
            return;
        };
        let Some(ts) = ts_nanos(event.header.ts) else {
            self.losses.bad_timestamps += 1;
            return;
        };
        if *event.name == *self.entry_event.as_bytes() {
            let key = self.by.key(event);
            self.tracker.on_entry(event.header.pid, ts, key);
        } else if *event.name == *self.return_event.as_bytes() {
            self.tracker.on_return(event.header.pid, ts);
        }
    }
}

/// `tprobe count`: events per probe and key.
#[derive(Debug)]
pub struct CountJob {
    /// The counts.
    pub counter: Counter,
    /// The key of each event.
    pub by: SplitBy,
    /// What was not an event.
    pub losses: Losses,
}

impl CountJob {
    /// Feeds one record.
    pub fn on_record(&mut self, record: &Record<'_>) {
        if self.losses.note(record) {
            return;
        }
        if let Record::Event(event) = record {
            let key = self.by.key(event);
            self.counter
                .add(&String::from_utf8_lossy(&event.name), &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::histogram::Log2Histogram;
    use crate::aggregate::histogram::TimeUnit;
    use crate::decode::decode_reader;
    use crate::decode::Decoder;
    use crate::decode::EventCatalog;

    fn decode_text(mut sink: impl FnMut(&Record<'_>)) {
        let catalog = EventCatalog::new();
        let mut decoder = Decoder::new(&catalog);
        decode_reader(TEXT.as_bytes(), &mut decoder, &mut |record: &Record<'_>| {
            sink(record);
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    }

    /// Hand-made trace_pipe text in the kernel's uprobe layout (entry: `NAME: (0x…)`,
    /// return: `NAME: (0x… <- 0x…)`), two threads, one recursion, one LOST line.
    const TEXT: &str = "\
           sleep-100     [000] DBZff   10.000000: lat_entry: (0x401000) n=1
           sleep-101     [001] DBZff   10.000500: lat_entry: (0x401000) n=4
           sleep-100     [000] DBZff   10.001100: lat_return: (0x401100 <- 0x401000)
           sleep-100     [000] DBZff   10.002000: lat_entry: (0x401000) n=16
           sleep-100     [000] DBZff   10.002001: lat_entry: (0x401000) n=2
           sleep-100     [000] DBZff   10.002004: lat_return: (0x401100 <- 0x401000)
CPU:1 [LOST 3 EVENTS]
           sleep-101     [001] DBZff   10.004600: lat_return: (0x401100 <- 0x401000)
           sleep-100     [000] DBZff   10.018100: lat_return: (0x401100 <- 0x401000)
           sleep-102     [000] DBZff   10.019000: lat_return: (0x401100 <- 0x401000)
";

    fn run(by: SplitBy, unit: TimeUnit) -> LatencyJob {
        let mut job = LatencyJob {
            tracker: LatencyTracker::new(unit),
            entry_event: "lat_entry".into(),
            return_event: "lat_return".into(),
            by,
            losses: Losses::default(),
        };
        decode_text(|record| job.on_record(record));
        job
    }

    #[test]
    fn pairs_decoded_records_and_counts_losses() {
        let mut job = run(SplitBy::Nothing, TimeUnit::Micros);
        let hs = job.tracker.take_histograms();
        let h = &hs[""];
        // 1100 us, 4100 us, 3 us (inner recursion), 16100 us (outer).
        assert_eq!(h.count(), 4);
        for us in [1100, 4100, 3, 16100] {
            assert_eq!(h.bucket(Log2Histogram::bucket_of(us)), 1, "{us}");
        }
        assert_eq!(job.losses.lost.get(&1), Some(&3));
        assert!(job.losses.any_lost());
        let unpaired = job.tracker.finish(|_| true);
        assert_eq!(unpaired.returns, 1, "pid 102 returned without an entry");
    }

    #[test]
    fn splits_by_field_taken_at_entry() {
        let mut job = run(SplitBy::Field("n".into()), TimeUnit::Micros);
        let hs = job.tracker.take_histograms();
        assert_eq!(hs.keys().collect::<Vec<_>>(), ["1", "16", "2", "4"]);
        assert_eq!(hs["16"].sum(), 16100);
        assert_eq!(hs["2"].sum(), 3);
        let mut by_comm = run(SplitBy::Comm, TimeUnit::Micros);
        assert_eq!(by_comm.tracker.take_histograms()["sleep"].count(), 4);
    }

    #[test]
    fn counts_per_event_and_key() {
        let mut job = CountJob {
            counter: Counter::new(),
            by: SplitBy::Pid,
            losses: Losses::default(),
        };
        decode_text(|record| job.on_record(record));
        let rows = job.counter.take_sorted();
        assert_eq!(rows[0], ("lat_entry".into(), "100".into(), 3));
        assert_eq!(rows[1], ("lat_return".into(), "100".into(), 3));
        assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), 9);
    }
}
