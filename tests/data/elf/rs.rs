// Rust test program for the ELF resolver tests: rs::probed_rust is probed by its
// demangled name. Usage: rs CALLS PAUSE_US.
use std::io::Write;

#[inline(never)]
#[no_mangle]
pub extern "C" fn tp_unused() {}

#[inline(never)]
fn probed_rust(x: u64) -> u64 {
    std::hint::black_box(x * 3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let pause_us: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    for i in 0..calls {
        let r = probed_rust(std::hint::black_box(i));
        let _ = writeln!(std::io::stdout(), "{i} {r}");
        let _ = std::io::stdout().flush();
        std::thread::sleep(std::time::Duration::from_micros(pause_us));
    }
}
