//! Any bytes as a format file; when it parses, its print fmt compiles without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(format) = tprobe::parse::parse_event_format(data) {
        let _ = tprobe::parse::compile_template(&format);
    }
});
