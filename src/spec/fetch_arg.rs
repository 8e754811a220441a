//! Fetch-arg expressions: what a probe argument reads (kernel-notes §1.7).

use std::fmt;

use super::names::is_ident;
use super::names::is_word;
use super::number::parse_i64_base0;
use super::number::parse_u64_base0;
use super::number::parse_u64_dec;
use super::number::signed;
use super::SpecErrorKind;

/// Deepest nesting of `+OFF(…)` tprobe accepts; the kernel's 16-instruction budget
/// allows about this many.
const MAX_DEREF_DEPTH: usize = 13;

/// One step of a BTF member access: `->field` or `.field`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BtfStep {
    /// `true` for `->` (through a pointer), `false` for `.` (inside a struct).
    pub arrow: bool,
    /// The member name.
    pub field: String,
}

/// What an argument fetches, as a small expression tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchArg {
    /// `%REG`: a register from pt_regs (kprobes and uprobes only).
    Register(String),
    /// `@ADDR`: memory at an absolute address.
    Memory(u64),
    /// `@SYM[+|-OFF]`: memory at a kernel symbol (kernel probes only).
    Symbol {
        /// The symbol.
        name: String,
        /// Byte offset from it.
        offset: i64,
    },
    /// `@+OFF`: memory at the probed file's load base plus OFF (uprobes only; OFF is a
    /// link-time address when the segment's file offset differs from its address).
    FileRelative(u64),
    /// `$stack`: the stack pointer.
    Stack,
    /// `$stackN`: the Nth word on the stack.
    StackN(u32),
    /// `$retval`: the return value (return probes only).
    Retval,
    /// `$comm`: the current task's name (always a string).
    Comm,
    /// `$argN`: the Nth function argument, from 1 (function entry of kernel probes).
    Arg(u32),
    /// `$FIELD`: a field of the event an eprobe is attached to.
    EventField(String),
    /// `name`, `name->f.g`: a BTF argument name and member accesses (kernel probes, 6.5+).
    Btf {
        /// The argument name.
        name: String,
        /// Member accesses after it.
        steps: Vec<BtfStep>,
    },
    /// `+|-[u]OFF(FETCHARG)`: memory at `inner + offset`; `user` reads user memory.
    Deref {
        /// `+u`/`-u`: read user-space memory.
        user: bool,
        /// Byte offset added to the inner value.
        offset: i64,
        /// The address to read from.
        inner: Box<FetchArg>,
    },
    /// `\IMM`: an immediate value (negative values are stored as their 64-bit pattern).
    Immediate(u64),
    /// `\"str"`: an immediate string.
    ImmString(String),
}

impl FetchArg {
    /// The innermost fetch under any dereferences.
    pub fn root(&self) -> &FetchArg {
        let mut node = self;
        while let Self::Deref { inner, .. } = node {
            node = inner;
        }
        node
    }

    /// Whether the value is read from memory (a dereference or an `@` form), so that
    /// strings and arrays can be taken from it.
    pub fn is_memory(&self) -> bool {
        matches!(
            self,
            Self::Deref { .. } | Self::Memory(_) | Self::Symbol { .. } | Self::FileRelative(_)
        )
    }

    fn walk(&self, f: &mut impl FnMut(&FetchArg)) {
        f(self);
        if let Self::Deref { inner, .. } = self {
            inner.walk(f);
        }
    }

    /// Calls `f` on this node and every node nested in it.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&FetchArg)) {
        self.walk(&mut f);
    }
}

impl fmt::Display for FetchArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Register(r) => write!(f, "%{r}"),
            Self::Memory(a) => write!(f, "@0x{a:x}"),
            Self::Symbol { name, offset: 0 } => write!(f, "@{name}"),
            Self::Symbol { name, offset } => write!(f, "@{name}{}", signed(*offset)),
            Self::FileRelative(off) => write!(f, "@+0x{off:x}"),
            Self::Stack => f.write_str("$stack"),
            Self::StackN(n) => write!(f, "$stack{n}"),
            Self::Retval => f.write_str("$retval"),
            Self::Comm => f.write_str("$comm"),
            Self::Arg(n) => write!(f, "$arg{n}"),
            Self::EventField(name) => write!(f, "${name}"),
            Self::Btf { name, steps } => {
                f.write_str(name)?;
                for step in steps {
                    f.write_str(if step.arrow { "->" } else { "." })?;
                    f.write_str(&step.field)?;
                }
                Ok(())
            }
            Self::Deref {
                user,
                offset,
                inner,
            } => {
                let text = signed(*offset);
                let (sign, digits) = text.split_at(1);
                let u = if *user { "u" } else { "" };
                write!(f, "{sign}{u}{digits}({inner})")
            }
            Self::Immediate(v) => match i64::try_from(*v) {
                Ok(v) => write!(f, "\\{v}"),
                // Above i64::MAX: print the same bits as a negative number, as kstrtol reads it.
                Err(_) => write!(f, "\\{}", signed(i64::from_ne_bytes(v.to_ne_bytes()))),
            },
            Self::ImmString(s) => write!(f, "\\\"{s}\""),
        }
    }
}

/// Where a fetch arg is parsed: eprobes read `$NAME` as an event field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchCtx {
    /// `$NAME` other than `$comm` means a field of the attached event.
    pub(crate) event_fields: bool,
}

/// Parses a fetch expression (the part before `:TYPE`). Errors carry the byte offset
/// within `text` where the bad part starts.
pub(crate) fn parse_fetch_arg(
    text: &str,
    ctx: FetchCtx,
) -> Result<FetchArg, (SpecErrorKind, usize)> {
    parse_at(text, ctx, 0, 0)
}

fn parse_at(
    text: &str,
    ctx: FetchCtx,
    base: usize,
    depth: usize,
) -> Result<FetchArg, (SpecErrorKind, usize)> {
    let bad = |kind: SpecErrorKind| Err((kind, base));
    let Some(first) = text.chars().next() else {
        return bad(SpecErrorKind::BadFetchArg(text.to_owned()));
    };
    match first {
        '%' => {
            let name = &text[1..];
            if is_word(name, &[]) {
                Ok(FetchArg::Register(name.to_owned()))
            } else {
                bad(SpecErrorKind::BadRegister(text.to_owned()))
            }
        }
        '@' => parse_at_sign(&text[1..])
            .ok_or(())
            .or_else(|()| bad(SpecErrorKind::BadFetchArg(text.to_owned()))),
        '$' => parse_var(&text[1..], ctx).or_else(bad),
        '+' | '-' => {
            if depth >= MAX_DEREF_DEPTH {
                return bad(SpecErrorKind::TooDeep);
            }
            let bad_deref = || (SpecErrorKind::BadDeref(text.to_owned()), base);
            let (negative, rest) = (first == '-', &text[1..]);
            let (user, rest) = match rest.strip_prefix('u') {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let open = rest.find('(').ok_or_else(bad_deref)?;
            let inner = rest[open + 1..].strip_suffix(')').ok_or_else(bad_deref)?;
            let number = &rest[..open];
            let offset = if negative {
                parse_i64_base0(&format!("-{number}"))
            } else {
                parse_i64_base0(number).filter(|_| !number.starts_with('-'))
            };
            let Some(offset) = offset else {
                return bad(SpecErrorKind::BadNumber(number.to_owned()));
            };
            let inner_base = base + (text.len() - rest.len()) + open + 1;
            let inner = parse_at(inner, ctx, inner_base, depth + 1)?;
            if matches!(inner, FetchArg::Comm | FetchArg::ImmString(_)) {
                return Err((SpecErrorKind::CannotDeref, inner_base));
            }
            Ok(FetchArg::Deref {
                user,
                offset,
                inner: Box::new(inner),
            })
        }
        '\\' => {
            let rest = &text[1..];
            if let Some(body) = rest.strip_prefix('"') {
                match body.strip_suffix('"') {
                    Some(s) if !s.contains(['=', ':']) => Ok(FetchArg::ImmString(s.to_owned())),
                    _ => bad(SpecErrorKind::ImmStringNotClosed(text.to_owned())),
                }
            } else {
                parse_immediate(rest)
                    .map(FetchArg::Immediate)
                    .ok_or(())
                    .or_else(|()| bad(SpecErrorKind::BadNumber(rest.to_owned())))
            }
        }
        c if c.is_ascii_alphabetic() || c == '_' => parse_btf(text)
            .ok_or(())
            .or_else(|()| bad(SpecErrorKind::BadFetchArg(text.to_owned()))),
        _ => bad(SpecErrorKind::BadFetchArg(text.to_owned())),
    }
}

fn parse_at_sign(rest: &str) -> Option<FetchArg> {
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_u64_base0(rest).map(FetchArg::Memory);
    }
    if let Some(off) = rest.strip_prefix('+') {
        let off = parse_u64_base0(off)?;
        return (i64::try_from(off).is_ok()).then_some(FetchArg::FileRelative(off));
    }
    let (name, offset) = match rest.find(['+', '-']) {
        Some(i) => {
            let (name, off) = rest.split_at(i);
            let offset = match off.strip_prefix('+') {
                Some(pos) if !pos.starts_with('-') => parse_i64_base0(pos)?,
                Some(_) => return None,
                None => parse_i64_base0(off)?,
            };
            (name, offset)
        }
        None => (rest, 0),
    };
    is_symbol(name).then(|| FetchArg::Symbol {
        name: name.to_owned(),
        offset,
    })
}

/// A kernel or ELF symbol name: `[A-Za-z_.][A-Za-z0-9_.]*`.
pub(crate) fn is_symbol(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'.')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

fn parse_var(name: &str, ctx: FetchCtx) -> Result<FetchArg, SpecErrorKind> {
    let bad = || SpecErrorKind::BadVariable(format!("${name}"));
    if name == "comm" || name == "COMM" {
        return Ok(FetchArg::Comm);
    }
    if ctx.event_fields {
        return if is_ident(name) {
            Ok(FetchArg::EventField(name.to_owned()))
        } else {
            Err(bad())
        };
    }
    if name == "retval" {
        return Ok(FetchArg::Retval);
    }
    if name == "stack" {
        return Ok(FetchArg::Stack);
    }
    let number = |digits: &str| {
        parse_u64_dec(digits)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad)
    };
    if let Some(n) = name.strip_prefix("stack") {
        return number(n).map(FetchArg::StackN);
    }
    if let Some(n) = name.strip_prefix("arg") {
        return number(n).and_then(|n| {
            if n == 0 {
                Err(bad())
            } else {
                Ok(FetchArg::Arg(n))
            }
        });
    }
    Err(bad())
}

fn parse_immediate(text: &str) -> Option<u64> {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_u64_base0(text);
    }
    if let Some(neg) = text.strip_prefix('-') {
        let v = parse_i64_base0(&format!("-{neg}")).filter(|_| !neg.starts_with('-'))?;
        return Some(u64::from_ne_bytes(v.to_ne_bytes()));
    }
    if let Some(pos) = text.strip_prefix('+') {
        if pos.starts_with('-') {
            return None;
        }
        return parse_i64_base0(pos).and_then(|v| u64::try_from(v).ok());
    }
    None
}

fn parse_btf(text: &str) -> Option<FetchArg> {
    let end = text.find(['-', '.']).unwrap_or(text.len());
    let (name, mut rest) = text.split_at(end);
    if !is_ident(name) {
        return None;
    }
    let mut steps = Vec::new();
    while !rest.is_empty() {
        let (arrow, after) = if let Some(after) = rest.strip_prefix("->") {
            (true, after)
        } else if let Some(after) = rest.strip_prefix('.') {
            (false, after)
        } else {
            return None;
        };
        let end = after.find(['-', '.']).unwrap_or(after.len());
        let (field, tail) = after.split_at(end);
        if !is_ident(field) {
            return None;
        }
        steps.push(BtfStep {
            arrow,
            field: field.to_owned(),
        });
        rest = tail;
    }
    Some(FetchArg::Btf {
        name: name.to_owned(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: FetchCtx = FetchCtx {
        event_fields: false,
    };

    fn parse(s: &str) -> FetchArg {
        parse_fetch_arg(s, PLAIN).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn forms_parse_and_print_canonically() {
        let cases = [
            ("%di", "%di"),
            ("@0x1000", "@0x1000"),
            ("@4096", "@0x1000"),
            ("@jiffies", "@jiffies"),
            ("@jiffies+8", "@jiffies+8"),
            ("@jiffies-0x8", "@jiffies-8"),
            ("@+0x4020", "@+0x4020"),
            ("$stack", "$stack"),
            ("$stack3", "$stack3"),
            ("$retval", "$retval"),
            ("$comm", "$comm"),
            ("$COMM", "$comm"),
            ("$arg1", "$arg1"),
            ("filename", "filename"),
            ("file->f_path.dentry", "file->f_path.dentry"),
            ("+0(%si)", "+0(%si)"),
            ("+0x10(%si)", "+16(%si)"),
            ("-8(%bp)", "-8(%bp)"),
            ("+u0(%di)", "+u0(%di)"),
            ("-u8(%di)", "-u8(%di)"),
            ("+0(+8(%di))", "+0(+8(%di))"),
            ("\\123", "\\123"),
            ("\\0x10", "\\16"),
            ("\\-5", "\\-5"),
            ("\\+5", "\\5"),
            ("\\18446744073709551615", "\\-1"),
            ("\\\"hello\"", "\\\"hello\""),
            ("\\\"\"", "\\\"\""),
        ];
        for (input, shown) in cases {
            let arg = parse(input);
            assert_eq!(arg.to_string(), shown, "{input}");
            assert_eq!(parse(shown), arg, "{shown}");
        }
    }

    #[test]
    fn bad_forms_are_rejected() {
        for s in [
            "",
            "%",
            "%d-i",
            "@",
            "@+",
            "@x+",
            "@sym+-1",
            "$",
            "$stackx",
            "$arg0",
            "$argx",
            "$foo",
            "+0",
            "+0(%di",
            "+x(%di)",
            "+0()",
            "+0($comm)",
            "-u(%di)",
            "\\",
            "\\x",
            "\\\"abc",
            "\\\"a=b\"",
            "9abc",
            "a->",
            "a..b",
            "a-b",
            "(x)",
            "+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(%di))))))))))))))",
        ] {
            assert!(parse_fetch_arg(s, PLAIN).is_err(), "{s}");
        }
    }

    #[test]
    fn thirteen_nested_derefs_are_accepted() {
        let s = format!("{}%di{}", "+0(".repeat(13), ")".repeat(13));
        assert!(parse_fetch_arg(&s, PLAIN).is_ok());
    }

    #[test]
    fn eprobe_dollar_names_are_fields() {
        let ctx = FetchCtx { event_fields: true };
        assert_eq!(
            parse_fetch_arg("$filename", ctx),
            Ok(FetchArg::EventField("filename".into()))
        );
        assert_eq!(parse_fetch_arg("$comm", ctx), Ok(FetchArg::Comm));
        assert_eq!(
            parse_fetch_arg("$stack", ctx),
            Ok(FetchArg::EventField("stack".into()))
        );
    }

    #[test]
    fn error_offsets_point_into_nested_args() {
        let err = parse_fetch_arg("+0(+8($bad))", PLAIN).unwrap_err();
        assert_eq!(err.1, 6);
    }
}
