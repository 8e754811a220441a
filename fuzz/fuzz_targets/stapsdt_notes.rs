//! Any bytes as a .note.stapsdt section (both classes and byte orders), and any text as
//! USDT arguments and /proc/PID/maps: parsed without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (is_64, big_endian) in [(true, false), (false, false), (true, true)] {
        for note in tprobe::elf::parse_stapsdt_notes(data, is_64, big_endian) {
            let _ = note.adjusted_pc(Some(0x1000));
            if let Ok(args) = note.parsed_args() {
                for arg in args {
                    let _ = arg.fetch_arg(Some(0x10));
                }
            }
        }
    }
    let _ = tprobe::elf::parse_maps(data);
});
