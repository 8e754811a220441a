//! Any bytes as /etc/ld.so.cache: parsed without a panic, and every entry looked up.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = tprobe::elf::LdSoCache::parse(data) {
        for entry in cache.entries() {
            let _ = cache.lookup(&entry.name);
            let _ = entry.abi_label();
        }
        let _ = cache.candidates("libc");
    }
});
