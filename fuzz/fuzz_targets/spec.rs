//! Any text as a probe spec: parsed without a panic; an accepted spec prints a kernel line
//! (or refuses to) without a panic, and its Display parses back to the same spec.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tprobe::spec::ProbeSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ProbeSpec::parse(text) {
        Ok(spec) => {
            let printed = spec.to_string();
            let again = ProbeSpec::parse(&printed).expect("a printed spec parses");
            assert_eq!(again, spec, "round trip of {printed:?}");
            if let Some(def) = spec.def() {
                let _ = def.to_kernel_line();
            }
            let _ = spec.with_group("tprobe_1_2_3");
        }
        Err(e) => {
            let _ = e.render();
        }
    }
});
