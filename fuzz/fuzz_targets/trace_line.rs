//! Any bytes as trace lines: each classified without a panic, and read the same through
//! the decoder's memo of the last record's context columns as on its own.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tprobe::parse::parse_line(data);
    if let Err(differ) = tprobe::parse::memo_agrees_with_parse_line(data) {
        panic!("{differ}");
    }
});
