//! Any bytes as an error_log file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for entry in tprobe::parse::parse_error_log(data) {
        if let Some(at) = entry.caret {
            let _ = entry.command.get(at..);
        }
        let _ = entry.timestamp_micros();
    }
});
