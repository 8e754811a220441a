//! Errors of the kallsyms loaders and of wildcard expansion.

use std::io;
use std::path::PathBuf;

/// Why kernel symbols could not be loaded or a wildcard not expanded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KallsymsError {
    /// The symbol table could not be read.
    #[error("cannot read {} (hint: is /proc mounted?)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Every address in `/proc/kallsyms` is zero: the kernel hides them from this user.
    #[error(
        "kernel symbol addresses are hidden (all zero) (hint: run as root, and if that is not \
         enough `sysctl kernel.kptr_restrict=0`; probing by name still works)"
    )]
    AddressesHidden,
    /// The wildcard pattern is malformed.
    #[error(
        "bad wildcard `{glob}`: {reason} (hint: `*` any run, `?` one character, `[a-z]` a set)"
    )]
    BadGlob {
        /// The pattern.
        glob: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The wildcard matches more functions than the cap allows.
    #[error(
        "`{glob}` matches {count} probe-able functions, more than the limit of {cap} \
         (hint: narrow the pattern, or raise the limit to at least {count} if you mean it)"
    )]
    TooManyMatches {
        /// The pattern.
        glob: String,
        /// How many functions it matched.
        count: usize,
        /// The limit in force.
        cap: usize,
    },
}
