//! `tprobe replay`: decode captured trace text with the live path's decoder.

use std::fs::File;
use std::io;
use std::io::Write;
use std::path::Path;

use super::error::CliError;
use super::exit_code::TprobeExitCode;
use super::lowargs::OutputFormat;
use super::lowargs::ReplayArgs;
use crate::decode::decode_mapped;
use crate::decode::decode_parallel;
use crate::decode::DecodeError;
use crate::decode::DecodeSummary;
use crate::decode::EventCatalog;
use crate::decode::MappedInput;
use crate::output::RecordFormat;

pub(super) fn run(args: &ReplayArgs) -> Result<i32, CliError> {
    let catalog = match &args.events_dir {
        Some(dir) => EventCatalog::from_dir(dir)?,
        None => EventCatalog::new(),
    };
    let format = match args.output_format() {
        OutputFormat::Json => RecordFormat::Json,
        OutputFormat::Text => super::colour::text_format(true),
        OutputFormat::None => RecordFormat::None,
    };
    let threads = match args.threads {
        Some(n) => n.max(1),
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let stdin_path = Path::new("-");
    let files: Vec<&Path> = if args.files.is_empty() {
        vec![stdin_path]
    } else {
        args.files.iter().map(|p| p.as_path()).collect()
    };
    let mut out = io::stdout().lock();
    let mut summary = DecodeSummary::default();
    for path in files {
        let part = if path == stdin_path {
            let input = super::progress::wrap(Box::new(io::stdin()), "-".to_owned(), None);
            decode_parallel(input, &catalog, format, &mut out, threads)
        } else {
            let file = File::open(path).map_err(|source| CliError::Input {
                path: path.to_owned(),
                source,
            })?;
            // The total, for a regular file; a pipe or device shows bytes and rate only.
            let total = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let label = path.display().to_string();
            // A regular file is decoded in place in a map, without copies; anything else,
            // or a file that cannot be mapped, is read.
            let on_truncation = format!(
                "tprobe replay: {label} shrank while it was read (truncated by another \
                 process?); output so far is incomplete\n"
            );
            match MappedInput::new(file, &on_truncation, TprobeExitCode::INPUT_UNREADABLE) {
                Ok(map) => {
                    let mut progress = super::progress::Progress::start(label, total);
                    let mut advance = |n| {
                        if let Some(progress) = progress.as_mut() {
                            progress.advance(n);
                        }
                    };
                    decode_mapped(&map, &catalog, format, &mut out, threads, &mut advance)
                }
                Err(file) => {
                    let input = super::progress::wrap(Box::new(file), label, total);
                    decode_parallel(input, &catalog, format, &mut out, threads)
                }
            }
        };
        let part = part.map_err(|err| match err {
            DecodeError::Read(source) => CliError::Input {
                path: path.to_owned(),
                source,
            },
            DecodeError::Sink(e) => CliError::Output(e),
        })?;
        summary.add(&part);
    }
    let _ = writeln!(io::stderr().lock(), "tprobe replay: {summary}");
    Ok(TprobeExitCode::OK)
}
