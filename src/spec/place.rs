//! Where a probe attaches: a kernel symbol or address, a file offset, an event, a
//! tracepoint.

use super::fetch_arg::is_symbol;
use super::names::is_word;
use super::number::parse_u64_base0;
use super::FileOffset;
use super::KernelAddr;
use super::SpecErrorKind;

/// Where in a binary a uprobe attaches: a file offset, or a function name that an ELF
/// symbol resolver still has to turn into one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UprobeLocation {
    /// A file offset, ready for the kernel.
    Offset(FileOffset),
    /// A function name plus a byte offset into it; not yet a kernel target.
    Symbol {
        /// The ELF symbol name.
        name: String,
        /// Bytes after the function's start.
        offset: u64,
    },
}

/// The probe point of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Place {
    /// `[MOD:]SYM[+OFF]`: a kernel symbol (kprobes, kretprobes and fprobes; fprobes
    /// have no offset).
    Symbol {
        /// The module, for `MOD:SYM`.
        module: Option<String>,
        /// The symbol.
        symbol: String,
        /// Bytes after the symbol, 0..=u32::MAX.
        offset: u64,
    },
    /// `MEMADDR`: a kernel address.
    Address(KernelAddr),
    /// `PATH:OFFSET[(REF_CTR)]`: a place in a binary (uprobes).
    File {
        /// The binary's path (contains `/`).
        path: String,
        /// The offset, or the function still to be resolved.
        location: UprobeLocation,
        /// The SDT semaphore's file offset, for `(REF_CTR_OFFSET)`.
        ref_ctr: Option<FileOffset>,
    },
    /// `SYSTEM.EVENT`: the trace event an eprobe attaches to.
    Event {
        /// The event's system (group).
        system: String,
        /// The event's name.
        event: String,
    },
    /// `TRACEPOINT`: the tracepoint a tprobe attaches to.
    Tracepoint(String),
}

/// A place as parsed, with whether it carried `%return`.
pub(crate) struct ParsedPlace {
    pub(crate) place: Place,
    pub(crate) ret: bool,
}

/// Splits a trailing `%return` off; any other `%…` suffix is an error.
fn split_return(text: &str) -> Result<(&str, bool), SpecErrorKind> {
    match text.find('%') {
        Some(i) if &text[i..] == "%return" => Ok((&text[..i], true)),
        Some(i) => Err(SpecErrorKind::BadSuffix(text[i..].to_owned())),
        None => Ok((text, false)),
    }
}

/// Parses the place of a `p`/`r` line: a uprobe target if it has both `/` and `:`
/// (the kernel's own rule), else an address or `[MOD:]SYM[+OFF][%return]`.
pub(crate) fn parse_p_place(text: &str) -> Result<ParsedPlace, SpecErrorKind> {
    if text.contains('/') && text.contains(':') {
        return parse_uprobe_place(text);
    }
    // As in the kernel: a number is an address, anything else a symbol (a module
    // name such as `9p` may start with a digit).
    if let Some(addr) = parse_u64_base0(text) {
        return Ok(ParsedPlace {
            place: Place::Address(KernelAddr(addr)),
            ret: false,
        });
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && !text.contains(':') {
        if parse_u64_base0(text.trim_end_matches("%return")).is_some() {
            return Err(SpecErrorKind::ReturnNotAllowed);
        }
        return Err(SpecErrorKind::BadNumber(text.to_owned()));
    }
    let (body, ret) = split_return(text)?;
    let (module, rest) = split_module(body)?;
    let (symbol, offset) = match rest.split_once('+') {
        Some((symbol, off)) => {
            let offset = parse_u64_base0(off)
                .filter(|o| *o <= u64::from(u32::MAX))
                .ok_or_else(|| SpecErrorKind::BadNumber(off.to_owned()))?;
            (symbol, offset)
        }
        None => (rest, 0),
    };
    if !(is_symbol(symbol) || is_symbol_glob(symbol) && offset == 0) {
        return Err(SpecErrorKind::BadSymbol(body.to_owned()));
    }
    Ok(ParsedPlace {
        place: Place::Symbol {
            module,
            symbol: symbol.to_owned(),
            offset,
        },
        ret,
    })
}

/// A symbol pattern with `*` or `?` (`vfs_*`), which the caller expands to the matching
/// symbols before writing (one event, many probe points).
pub(crate) fn is_symbol_glob(s: &str) -> bool {
    s.contains(['*', '?'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*' | b'?'))
}

fn split_module(text: &str) -> Result<(Option<String>, &str), SpecErrorKind> {
    match text.split_once(':') {
        Some((module, rest)) if is_word(module, b"") => Ok((Some(module.to_owned()), rest)),
        Some(_) => Err(SpecErrorKind::BadSymbol(text.to_owned())),
        None => Ok((None, text)),
    }
}

/// Parses `[MOD:]SYM[%return]` for an fprobe.
pub(crate) fn parse_f_place(text: &str) -> Result<ParsedPlace, SpecErrorKind> {
    let (body, ret) = split_return(text)?;
    let (module, symbol) = split_module(body)?;
    if let Some((_, off)) = symbol.split_once('+') {
        return Err(SpecErrorKind::OffsetNotAllowed(off.to_owned()));
    }
    if !(is_symbol(symbol) || is_symbol_glob(symbol)) {
        return Err(SpecErrorKind::BadSymbol(body.to_owned()));
    }
    Ok(ParsedPlace {
        place: Place::Symbol {
            module,
            symbol: symbol.to_owned(),
            offset: 0,
        },
        ret,
    })
}

/// Parses `SYSTEM.EVENT` for an eprobe.
pub(crate) fn parse_e_place(text: &str) -> Result<ParsedPlace, SpecErrorKind> {
    match text.split_once('.') {
        Some((system, event))
            if is_word(system, b"-") && !system.starts_with('-') && is_word(event, b"") =>
        {
            Ok(ParsedPlace {
                place: Place::Event {
                    system: system.to_owned(),
                    event: event.to_owned(),
                },
                ret: false,
            })
        }
        _ => Err(SpecErrorKind::BadEventRef(text.to_owned())),
    }
}

/// Parses `TRACEPOINT` for a tprobe.
pub(crate) fn parse_t_place(text: &str) -> Result<ParsedPlace, SpecErrorKind> {
    if is_word(text, b"") {
        Ok(ParsedPlace {
            place: Place::Tracepoint(text.to_owned()),
            ret: false,
        })
    } else {
        Err(SpecErrorKind::BadTracepoint(text.to_owned()))
    }
}

/// Parses `PATH:LOCATION[%return][(REF_CTR)]`, where LOCATION is a number (a file
/// offset) or `FUNC[+OFF]` (to be resolved). The path ends at the last `:`.
pub(crate) fn parse_uprobe_place(text: &str) -> Result<ParsedPlace, SpecErrorKind> {
    let (path, loc) = text
        .rsplit_once(':')
        .ok_or_else(|| SpecErrorKind::BadUprobeTarget(text.to_owned()))?;
    check_uprobe_path(path)?;
    let (loc, ref_ctr) = match loc.split_once('(') {
        Some((loc, rest)) => {
            let bad = || SpecErrorKind::BadRefCtr(format!("({rest}"));
            let value = rest
                .strip_suffix(')')
                .and_then(parse_u64_base0)
                .ok_or_else(bad)?;
            (loc, Some(FileOffset(value)))
        }
        None => (loc, None),
    };
    let (loc, ret) = split_return(loc)?;
    let location = if loc.starts_with(|c: char| c.is_ascii_digit()) {
        let offset =
            parse_u64_base0(loc).ok_or_else(|| SpecErrorKind::BadNumber(loc.to_owned()))?;
        UprobeLocation::Offset(FileOffset(offset))
    } else {
        let (name, offset) = match loc.split_once('+') {
            Some((name, off)) => (
                name,
                parse_u64_base0(off).ok_or_else(|| SpecErrorKind::BadNumber(off.to_owned()))?,
            ),
            None => (loc, 0),
        };
        if !is_symbol(name) {
            return Err(SpecErrorKind::BadUprobeTarget(text.to_owned()));
        }
        UprobeLocation::Symbol {
            name: name.to_owned(),
            offset,
        }
    };
    Ok(ParsedPlace {
        place: Place::File {
            path: path.to_owned(),
            location,
            ref_ctr,
        },
        ret,
    })
}

/// A uprobe path must contain `/` (the kernel's test for a uprobe line) and must not
/// look like a fetch arg, so that `p:EVENT PATH:OFF` always reads back the same way.
pub(crate) fn check_uprobe_path(path: &str) -> Result<(), SpecErrorKind> {
    let looks_like_arg = path.starts_with(['+', '-', '%', '@', '$', '\\']);
    if !path.contains('/') || looks_like_arg || path.contains(char::is_whitespace) {
        return Err(SpecErrorKind::BadUprobePath(path.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kprobe_places() {
        let p = parse_p_place("ext4:ext4_file_open+0x10%return")
            .ok()
            .map(|p| (p.place, p.ret));
        assert_eq!(
            p,
            Some((
                Place::Symbol {
                    module: Some("ext4".into()),
                    symbol: "ext4_file_open".into(),
                    offset: 16
                },
                true
            ))
        );
        assert!(matches!(
            parse_p_place("0xffffffff81000000").map(|p| p.place),
            Ok(Place::Address(KernelAddr(0xffff_ffff_8100_0000)))
        ));
        assert!(parse_p_place("9p:p9_client_rpc").is_ok());
        for bad in [
            "do_sys_open%ret",
            "a:b:c",
            "sym+x",
            "sym-4",
            "0xzz",
            "0x10%return",
            "sym+4294967296",
            "",
        ] {
            assert!(parse_p_place(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uprobe_places() {
        let p = parse_p_place("/usr/lib/a:b/libc.so.6:0x1168%return(0x20)")
            .ok()
            .map(|p| (p.place, p.ret));
        assert_eq!(
            p,
            Some((
                Place::File {
                    path: "/usr/lib/a:b/libc.so.6".into(),
                    location: UprobeLocation::Offset(FileOffset(0x1168)),
                    ref_ctr: Some(FileOffset(0x20)),
                },
                true
            ))
        );
        assert!(matches!(
            parse_uprobe_place("./prog:main+4").map(|p| p.place),
            Ok(Place::File {
                location: UprobeLocation::Symbol { offset: 4, .. },
                ..
            })
        ));
        for bad in [
            "prog:0x10",
            "/p:",
            "/p:0x10(1",
            "/p:0x10(1)x",
            "/p:0x10%x",
            "/p:9x",
            "-/p:0x1",
            "/p:ma in",
        ] {
            assert!(parse_uprobe_place(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_places() {
        assert!(parse_f_place("vfs_read%return").is_ok_and(|p| p.ret));
        assert!(matches!(
            parse_f_place("vfs_read+4"),
            Err(SpecErrorKind::OffsetNotAllowed(_))
        ));
        assert!(parse_e_place("syscalls.sys_enter_openat").is_ok());
        assert!(parse_e_place("9p.9p_client_req").is_ok());
        assert!(parse_e_place("syscalls").is_err());
        assert!(parse_e_place("../x.y").is_err());
        assert!(parse_t_place("sched_switch").is_ok());
        assert!(parse_t_place("sched/x").is_err());
    }
}
