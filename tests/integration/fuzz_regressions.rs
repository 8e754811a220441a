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

/// The decoder target: the line-by-line and in-place paths give the same records, with no
/// panic (the crash was an overflow in the line parser, caught by checked arithmetic).
#[test]
fn decoder_regressions_decode_the_same_both_ways() {
    let inputs = inputs("decoder");
    assert!(
        !inputs.is_empty(),
        "fuzz/regressions/decoder holds the crash inputs"
    );
    let catalog = tprobe::decode::EventCatalog::new();
    for data in inputs {
        let mut by_line = Vec::new();
        let mut decoder = tprobe::decode::Decoder::new(&catalog);
        let mut sink = |r: &tprobe::decode::Record<'_>| -> Result<(), ()> {
            by_line.push(format!("{r:?}"));
            Ok(())
        };
        decoder.push_lines(&data, &mut sink).unwrap();
        decoder.finish(&mut sink).unwrap();
        let mut in_place = Vec::new();
        let mut other = tprobe::decode::Decoder::new(&catalog);
        let mut sink = |r: &tprobe::decode::Record<'_>| -> Result<(), ()> {
            in_place.push(format!("{r:?}"));
            Ok(())
        };
        other.push_text(&data, &mut sink).unwrap();
        other.finish(&mut sink).unwrap();
        assert_eq!(by_line, in_place);
        assert_eq!(decoder.summary(), other.summary());
    }
}
