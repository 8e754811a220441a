//! Any bytes as one trace line: classified without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tprobe::parse::parse_line(data);
});
