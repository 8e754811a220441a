//! Event counts per probe and key (`tprobe count`, like perf-tools' `funccount`).

use std::collections::HashMap;

use serde_json::json;

/// Counts by event, then key; the key is empty when counting per probe only.
#[derive(Debug, Default)]
pub struct Counter {
    // Nested maps so a hit looks up by borrowed `&str`: allocation only for a new pair.
    counts: HashMap<String, HashMap<String, u64>>,
}

impl Counter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one event.
    pub fn add(&mut self, event: &str, key: &str) {
        let by_key = match self.counts.get_mut(event) {
            Some(by_key) => by_key,
            None => self.counts.entry(event.to_owned()).or_default(),
        };
        match by_key.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                by_key.insert(key.to_owned(), 1);
            }
        }
    }

    /// The counts, largest first (ties by event, then key), and empties the counter.
    pub fn take_sorted(&mut self) -> Vec<(String, String, u64)> {
        let mut rows: Vec<_> = self
            .counts
            .drain()
            .flat_map(|(event, by_key)| {
                by_key
                    .into_iter()
                    .map(move |(key, n)| (event.clone(), key, n))
            })
            .collect();
        rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        rows
    }
}

/// The rows as a text table: `EVENT [KEY] COUNT`, columns sized to fit.
pub fn render_table(rows: &[(String, String, u64)], key_title: Option<&str>) -> String {
    let event_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(5);
    let key_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(3);
    let mut out = String::new();
    match key_title {
        Some(title) => out.push_str(&format!(
            "{:<event_width$}  {:<key_width$}  {:>10}\n",
            "EVENT", title, "COUNT"
        )),
        None => out.push_str(&format!("{:<event_width$}  {:>10}\n", "EVENT", "COUNT")),
    }
    for (event, key, n) in rows {
        match key_title {
            Some(_) => out.push_str(&format!(
                "{event:<event_width$}  {key:<key_width$}  {n:>10}\n"
            )),
            None => out.push_str(&format!("{event:<event_width$}  {n:>10}\n")),
        }
    }
    out
}

/// One JSON object per row: `{"event","key","count"}` (no `key` when not split).
pub fn json_rows(rows: &[(String, String, u64)], keyed: bool) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|(event, key, n)| {
            if keyed {
                json!({"event": event, "key": key, "count": n})
            } else {
                json!({"event": event, "count": n})
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sort_largest_first() {
        let mut c = Counter::new();
        for (e, k) in [
            ("a", "x"),
            ("b", "y"),
            ("a", "x"),
            ("a", "z"),
            ("b", "y"),
            ("b", "y"),
        ] {
            c.add(e, k);
        }
        let rows = c.take_sorted();
        assert_eq!(
            rows,
            vec![
                ("b".into(), "y".into(), 3),
                ("a".into(), "x".into(), 2),
                ("a".into(), "z".into(), 1)
            ]
        );
        assert!(c.take_sorted().is_empty());
        let table = render_table(&rows, Some("COMM"));
        assert_eq!(table.lines().count(), 4);
        assert!(
            table.lines().nth(1).unwrap().ends_with("         3"),
            "{table}"
        );
        assert_eq!(
            json_rows(&rows[..1], true)[0],
            json!({"event":"b","key":"y","count":3})
        );
        assert_eq!(
            json_rows(&rows[..1], false)[0],
            json!({"event":"b","count":3})
        );
    }
}
