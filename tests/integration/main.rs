//! Integration tests: they drive the `tprobe` binary (replay, errors, output formats) and
//! the library's decoder (property round trip, real fixtures against their ground truth).

mod aggregate_cli;
mod docs_cli;
mod elf_targets;
mod fixtures;
mod fuzz_regressions;
mod library_api;
mod live_trace;
mod perftools_cli;
mod raw_capture;
mod recipes;
mod replay_cli;
mod roundtrip;
mod trace_cli;
mod util;
mod vm_captures;
