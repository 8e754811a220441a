//! Errors in a probe spec, each with the byte span it points at.

use std::fmt;
use std::ops::Range;

/// What is wrong with one part of a probe spec. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The spec has no tokens at all.
    #[error(
        "the spec is empty: give a probe such as `p:do_sys_openat2` or `u:/bin/bash:readline`"
    )]
    Empty,
    /// A control byte (newline, tab, …) would end or corrupt the tracefs command.
    #[error("control character {0:?} is not allowed (a newline would start a second tracefs command): remove it and separate tokens with spaces")]
    ControlChar(char),
    /// `#` starts a comment in tracefs files, so everything after it would be dropped.
    #[error("`#` is not allowed: the kernel treats it as the start of a comment and drops the rest of the line")]
    Comment,
    /// The definition line is longer than the kernel reads.
    #[error("the definition is {len} bytes long; the kernel accepts at most 4094: use fewer or shorter arguments")]
    LineTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The first token is not a probe type tprobe knows.
    #[error("unknown probe type `{0}`: start with p, r, f, e or t (kernel syntax), or u:, ur:, t:SUBSYS:EVENT, SYM%return")]
    UnknownProbeType(String),
    /// The spec is a deletion command.
    #[error("`-:` deletes probes; tprobe removes the probes it created when it exits, so give a probe to add")]
    Deletion,
    /// The spec names an event but no place to probe.
    #[error("no probe point: add a symbol, address, PATH:OFFSET, SYSTEM.EVENT or tracepoint after the name")]
    MissingTarget,
    /// `p:` or `GRP/` with nothing usable after it.
    #[error(
        "empty name after `:`: write `p:EVENT`, `p:GROUP/EVENT`, `p:GROUP/` or leave the `:` out"
    )]
    EmptyName,
    /// `/EVENT` without a group in front.
    #[error("empty group name before `/`: write GROUP/EVENT or just EVENT")]
    EmptyGroup,
    /// An event name breaks the kernel's naming rule.
    #[error(
        "event name `{0}` is not valid: use letters, digits and `_`, not starting with a digit"
    )]
    BadEventName(String),
    /// A group name breaks the kernel's naming rule.
    #[error("group name `{0}` is not valid: use letters, digits, `_` and `-`, not starting with a digit or `-`")]
    BadGroupName(String),
    /// An argument name breaks the kernel's naming rule.
    #[error(
        "argument name `{0}` is not valid: use letters, digits and `_`, not starting with a digit"
    )]
    BadArgName(String),
    /// A name is longer than the kernel allows.
    #[error("{what} `{name}` is {len} characters long; the limit is {max}: shorten it")]
    NameTooLong {
        /// Which name ("event name", "group name", "argument name").
        what: &'static str,
        /// The name.
        name: String,
        /// Its length.
        len: usize,
        /// The kernel's limit.
        max: usize,
    },
    /// The argument name is one of the fields every event already has.
    #[error("argument name `{0}` is reserved for a field every event has: pick another name")]
    ReservedArgName(String),
    /// Two arguments have the same field name.
    #[error("argument name `{0}` is used twice (unnamed arguments are called argN): rename one")]
    DuplicateArgName(String),
    /// More arguments than the kernel takes.
    #[error("{0} arguments given; the kernel takes at most 128: split the probe")]
    TooManyArgs(usize),
    /// `NAME=` with nothing after it.
    #[error("argument has no value after `=`: write NAME=FETCHARG[:TYPE]")]
    EmptyArg,
    /// A fetch expression (after `NAME=`) longer than the kernel reads.
    #[error("the argument expression is {0} bytes long; the kernel takes at most 63: shorten it")]
    ArgTooLong(usize),
    /// A kernel symbol that is not a symbol.
    #[error("`{0}` is not a valid symbol: write [MODULE:]SYMBOL[+OFFSET], e.g. do_sys_openat2 or ext4:ext4_file_open+4")]
    BadSymbol(String),
    /// A symbol pattern was not expanded to symbols before writing.
    #[error("`{0}` is a pattern: it must be expanded to the symbols it matches (tprobe trace does this from /proc/kallsyms)")]
    UnexpandedPattern(String),
    /// An offset or address that is not a number, or out of range.
    #[error("`{0}` is not a valid number here: write decimal, 0x hex or 0 octal, within range")]
    BadNumber(String),
    /// A `+OFFSET` on a probe kind that only attaches at function entry.
    #[error("fprobes attach at a function's entry or exit: remove `+{0}`")]
    OffsetNotAllowed(String),
    /// `r[MAXACTIVE]` out of range.
    #[error("MAXACTIVE `{0}` is out of range: use 1..4096")]
    BadMaxactive(String),
    /// MAXACTIVE on a probe kind that has none.
    #[error("MAXACTIVE (the number after the probe letter) only applies to kernel return probes: remove it")]
    MaxactiveNotAllowed,
    /// Only `%return` may follow the probe point.
    #[error("unknown suffix `{0}`: only `%return` may follow the probe point")]
    BadSuffix(String),
    /// `%return` on something that cannot return.
    #[error("`%return` only applies to a function symbol or uprobe offset: use r: or remove it")]
    ReturnNotAllowed,
    /// A uprobe target that is neither `PATH:OFFSET` nor `PATH:FUNC[+OFF]`.
    #[error("`{0}` is not a uprobe target: write PATH:0xOFFSET or PATH:FUNCTION[+OFFSET]")]
    BadUprobeTarget(String),
    /// A uprobe path that the kernel will not read as one.
    #[error("uprobe path `{0}` is not usable: give a path containing `/` (e.g. ./prog), not starting with + - % @ $ or \\")]
    BadUprobePath(String),
    /// A reference counter suffix that is not `(OFFSET)` at the end.
    #[error("`{0}` is not a reference counter: write PATH:OFFSET(0xREF_CTR_OFFSET) with the parenthesis last")]
    BadRefCtr(String),
    /// An eprobe target that is not `SYSTEM.EVENT`.
    #[error("`{0}` is not an event: write SYSTEM.EVENT, e.g. syscalls.sys_enter_openat")]
    BadEventRef(String),
    /// A tracepoint name that is not `SUBSYS:EVENT` (or, in a tprobe, a tracepoint name).
    #[error("`{0}` is not a tracepoint: write t:SUBSYSTEM:EVENT, e.g. t:sched:sched_switch")]
    BadTracepoint(String),
    /// Arguments after an existing tracepoint.
    #[error("an existing tracepoint records its own fields and takes no arguments: remove them, or define a tprobe `t:[GRP/]EVENT TRACEPOINT ARGS`")]
    TracepointArgs,
    /// `if FILTER` on a probe that is not an eprobe.
    #[error("`if FILTER` is only part of an eprobe definition: remove it and use --filter")]
    FilterNotAllowed,
    /// `if` with nothing after it.
    #[error("`if` has no filter after it: write `if FIELD == VALUE` or remove it")]
    EmptyFilter,
    /// A fetch argument in no form the kernel knows.
    #[error("`{0}` is not a fetch argument: use %REG, @ADDR, @SYM, $stackN, $retval, $comm, $argN, +OFF(ARG), \\IMM, \\\"str\" or a BTF name")]
    BadFetchArg(String),
    /// A `$` variable the kernel does not know.
    #[error(
        "`{0}` is not a fetch variable: use $stack, $stackN, $retval, $comm or $argN (N from 1)"
    )]
    BadVariable(String),
    /// A register name with characters no register has.
    #[error("`{0}` is not a register name: write e.g. %di, %ax or %x0")]
    BadRegister(String),
    /// `+OFF(` without a closing parenthesis at the end, or with no `(`.
    #[error("`{0}` is not a dereference: write +OFFSET(FETCHARG) with the `)` last")]
    BadDeref(String),
    /// Dereferences nested more deeply than the kernel allows.
    #[error("dereferences are nested too deeply: tprobe allows 13 levels, as the kernel does")]
    TooDeep,
    /// `$comm` or an immediate string inside a dereference.
    #[error("$comm and immediate strings cannot be dereferenced: use them on their own")]
    CannotDeref,
    /// An immediate string whose closing quote is missing (maybe split by a space).
    #[error("immediate string `{0}` is not closed: end it with `\"`, and leave out spaces, `:` and `=` (the kernel splits on them)")]
    ImmStringNotClosed(String),
    /// A type the kernel does not know.
    #[error("unknown type `{0}`: use u8..u64, s8..s64, x8..x64, char, string, ustring, symbol, symstr, %pd, %pD, b<W>@<O>/<C> or TYPE[N]")]
    BadType(String),
    /// A bitfield type out of range.
    #[error("bitfield `{0}` is not valid: write b<WIDTH>@<OFFSET>/<CONTAINER> with WIDTH >= 1, WIDTH+OFFSET <= CONTAINER, CONTAINER one of 8, 16, 32, 64")]
    BadBitfield(String),
    /// An array length outside 1..=64.
    #[error("array length `{0}` is not valid: use TYPE[N] with N from 1 to 64")]
    BadArrayLen(String),
    /// `$retval` on an entry probe.
    #[error("$retval only exists on return probes: use r:, %return, ur: or f:SYM%return")]
    RetvalNotOnReturn,
    /// Registers on a probe kind that has no pt_regs access.
    #[error("registers are not available on {0}: use $argN or BTF argument names")]
    RegisterNotAllowed(&'static str),
    /// `@SYM` on a uprobe.
    #[error("@SYMBOL reads kernel symbols and is not available on uprobes: use @+OFFSET (link-time address) or @ADDR")]
    SymbolOnUprobe,
    /// `@+OFF` on a kernel probe.
    #[error("@+OFFSET is only for uprobes: use @SYMBOL[+OFF] or @ADDR on kernel probes")]
    FileOffsetOnKernel,
    /// `$argN` on a uprobe.
    #[error(
        "$argN is not available on uprobes: use registers (on x86_64 %di, %si, %dx, %cx, %r8, %r9)"
    )]
    ArgOnUprobe,
    /// `$argN` on a kprobe placed inside a function.
    #[error(
        "$argN needs the function's entry: remove +OFFSET from the probe point or use registers"
    )]
    ArgNotAtEntry,
    /// A BTF argument name on a probe kind without BTF.
    #[error(
        "BTF argument names are not available on {0}: use registers, derefs or $FIELD (eprobes)"
    )]
    BtfNotAllowed(&'static str),
    /// An immediate string on a uprobe.
    #[error("immediate strings record (fault) on uprobes (they are copied from user memory): use a value the program holds")]
    ImmStringOnUprobe,
    /// A kernel-only type on a uprobe.
    #[error("type `{0}` reads kernel symbols or dentries and is not available on uprobes: use x64 or string")]
    KernelTypeOnUprobe(String),
    /// `$comm` or an immediate string with a type other than `string`.
    #[error("$comm and immediate strings are strings: write them without a type or with :string (not an array)")]
    NeedsStringType,
    /// A string type on a value that is not an address to read from.
    #[error("a string is read from memory: dereference the pointer, e.g. +0(%si):string")]
    StringNeedsMemory,
    /// `symstr` on a value that cannot hold an address.
    #[error("symstr prints the symbol at an address value: use it on a register, $stackN, $retval, $argN or a dereference")]
    SymstrNeedsValue,
    /// An array of something that is not read from memory.
    #[error("arrays are read from memory: dereference the pointer, e.g. +0(%si):u32[4]")]
    ArrayNeedsMemory,
    /// A uprobe that still names a function where the kernel needs a file offset.
    #[error("uprobe target `{path}:{symbol}` needs the function resolved to a file offset first (ELF symbol lookup); or give PATH:0xOFFSET")]
    UnresolvedSymbol {
        /// The binary.
        path: String,
        /// The function name.
        symbol: String,
    },
    /// A uprobe function offset plus `+OFF` that does not fit 64 bits.
    #[error("file offset overflows: the function's offset plus +{0} does not fit in 64 bits")]
    OffsetOverflow(u64),
}

/// One error in a spec: what is wrong and where (a byte range in the spec text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecError {
    kind: SpecErrorKind,
    span: Range<usize>,
}

impl SpecError {
    /// An error of `kind` at the bytes `span` of the input.
    pub fn new(kind: SpecErrorKind, span: Range<usize>) -> Self {
        Self { kind, span }
    }

    /// What is wrong.
    pub fn kind(&self) -> &SpecErrorKind {
        &self.kind
    }

    /// The byte range of the input it points at (may be empty, at the end).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for SpecError {}

/// A spec that could not be parsed: the input and every error found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecParseError {
    input: String,
    errors: Vec<SpecError>,
}

impl SpecParseError {
    /// Errors found in `input`; at least one is expected.
    pub fn new(input: &str, errors: Vec<SpecError>) -> Self {
        Self {
            input: input.to_owned(),
            errors,
        }
    }

    /// The spec as given.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Every error found, in input order.
    pub fn errors(&self) -> &[SpecError] {
        &self.errors
    }

    /// Each error's message, then the input with control characters made visible and
    /// a caret line under the bad bytes, like the kernel's `error_log`.
    pub fn render(&self) -> String {
        let (shown, columns) = visible(&self.input);
        let mut out = String::new();
        for error in &self.errors {
            let start = column_at(&columns, error.span.start);
            let end = column_at(&columns, error.span.end).max(start + 1);
            out.push_str("error: ");
            out.push_str(&error.kind.to_string());
            out.push_str("\n  ");
            out.push_str(&shown);
            out.push_str("\n  ");
            out.push_str(&" ".repeat(start));
            out.push_str(&"^".repeat(end - start));
            out.push('\n');
        }
        out
    }
}

/// The input with control characters escaped, and the display column of every byte
/// offset (one entry per byte, plus one for the end).
fn visible(input: &str) -> (String, Vec<usize>) {
    let mut shown = String::with_capacity(input.len());
    let mut columns = Vec::with_capacity(input.len() + 1);
    let mut col = 0;
    for c in input.chars() {
        let text: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        for _ in 0..c.len_utf8() {
            columns.push(col);
        }
        col += text.chars().count();
        shown.push_str(&text);
    }
    columns.push(col);
    (shown, columns)
}

fn column_at(columns: &[usize], byte: usize) -> usize {
    columns
        .get(byte)
        .or_else(|| columns.last())
        .copied()
        .unwrap_or(0)
}

impl fmt::Display for SpecParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid probe spec `{}`", self.input.escape_default())?;
        if let Some(first) = self.errors.first() {
            write!(f, ": {first}")?;
        }
        if self.errors.len() > 1 {
            write!(f, " (and {} more)", self.errors.len() - 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_a_caret_at_the_span() {
        let e = SpecParseError::new(
            "p:9bad do_sys_open",
            vec![SpecError::new(
                SpecErrorKind::BadEventName("9bad".into()),
                2..6,
            )],
        );
        let text = e.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  p:9bad do_sys_open");
        assert_eq!(lines[2], "    ^^^^");
    }

    #[test]
    fn render_escapes_a_newline_and_keeps_the_caret_under_it() {
        let e = SpecParseError::new(
            "p:a\nb x",
            vec![SpecError::new(SpecErrorKind::ControlChar('\n'), 3..4)],
        );
        let text = e.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "  p:a\\nb x");
        assert_eq!(lines[2], "     ^^");
    }

    #[test]
    fn render_survives_spans_outside_the_input() {
        let e = SpecParseError::new(
            "x",
            vec![SpecError::new(SpecErrorKind::MissingTarget, 5..9)],
        );
        assert!(e.render().contains('^'));
    }
}
