//! `tprobe clean`: reclaim what runs killed with SIGKILL (or lost power) left: groups and
//! instances named for a tprobe process that is gone. A live run's, and any other tool's,
//! are never touched.

use std::io;
use std::io::Write;

use super::error::CliError;
use super::exit_code::TprobeExitCode;
use super::lowargs::CleanArgs;
use super::trace::open_tracefs;
use crate::tracefs::stale_sessions;
use crate::tracefs::teardown;

pub(super) fn run(args: &CleanArgs) -> Result<i32, CliError> {
    let tracefs = open_tracefs(&args.tracefs)?;
    let stale = stale_sessions(&tracefs)?;
    let mut out = io::stdout().lock();
    if stale.is_empty() {
        writeln!(out, "nothing to clean").map_err(CliError::Output)?;
        return Ok(TprobeExitCode::OK);
    }
    let mut failed = None;
    for name in stale {
        let name = name.to_string();
        if args.dry_run {
            writeln!(out, "would remove {name}").map_err(CliError::Output)?;
            continue;
        }
        match teardown(&tracefs, &name, &[]) {
            Ok(report) => writeln!(
                out,
                "removed {name}: {}{} probe(s)",
                if report.instance_removed {
                    "instance, "
                } else {
                    ""
                },
                report.probes_deleted
            )
            .map_err(CliError::Output)?,
            Err(e) => {
                writeln!(out, "could not remove all of {name}: {e}").map_err(CliError::Output)?;
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(TprobeExitCode::OK),
    }
}
