//! Inputs that once crashed a fuzz target (`fuzz/regressions/TARGET/`), run again through
//! the same parser calls as that target.

use std::fs;

use crate::util::repo_root;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = repo_root().join("fuzz/regressions").join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn event_format_regressions_parse_without_panic() {
    let inputs = inputs("event_format");
    assert!(
        !inputs.is_empty(),
        "fuzz/regressions/event_format holds the crash inputs"
    );
    for data in inputs {
        if let Ok(format) = tprobe::parse::parse_event_format(&data) {
            let _ = tprobe::parse::compile_template(&format);
        }
    }
}
