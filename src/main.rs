//! The `tprobe` binary: everything lives in the library's `cli` module.

fn main() {
    std::process::exit(tprobe::cli::main_impl(std::env::args_os()));
}
