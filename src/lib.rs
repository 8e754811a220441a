//! tprobe manages raw tracefs/ftrace probes without eBPF and decodes what the kernel
//! prints.
//!
//! # Overview
//! - [`parse`]: pure parsers over bytes — `trace_pipe` lines, `events/*/format` files,
//!   print fmt templates, field values, `error_log`.
//! - [`aggregate`]: latency histograms from entry/return pairs, and event counts.
//! - [`decode`]: the streaming decoder that joins multi-line records, attaches stacks,
//!   counts lost events and splits fields by format; [`decode::decode_reader`] runs it over
//!   any `BufRead` (this is `tprobe replay`).
//! - [`elf`]: function names to uprobe file offsets.
//! - [`output`]: JSON Lines and text writers.
//! - [`stream`]: the live loop over a trace pipe, and the signals that stop it.
//! - [`spec`]: probe specs (shorthand and kernel syntax) into kernel definitions.
//! - [`tracefs`]: the tracefs mount, features, definitions, instances, error_log.

pub mod aggregate;
pub mod decode;
pub mod elf;
pub mod kallsyms;
pub mod output;
pub mod parse;
pub mod spec;
pub mod stream;
pub mod tracefs;

#[doc(hidden)]
pub mod cli;
