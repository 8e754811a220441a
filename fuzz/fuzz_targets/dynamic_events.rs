//! Any bytes as `dynamic_events` lines and as a tracefs README: parsed without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|b| *b == b'\n') {
        if let Some(event) = tprobe::parse::parse_dynamic_event(line) {
            let _ = event.place();
        }
    }
    let _ = tprobe::parse::parse_readme(data);
});
