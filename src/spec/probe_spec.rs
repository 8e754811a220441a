//! `ProbeSpec`: what the user wrote, in shorthand or in the kernel's own syntax.

use std::collections::HashSet;
use std::fmt;

use super::names::is_word;
use super::names::sanitize_event_name;
use super::names::MAX_EVENT_NAME_LEN;
use super::parser::build_def;
use super::parser::check_chars;
use super::parser::finish;
use super::parser::kernel_form;
use super::parser::looks_like_arg;
use super::parser::parse_head;
use super::parser::tokenize;
use super::parser::DefParts;
use super::parser::Head;
use super::parser::PlaceSyntax;
use super::parser::Tok;
use super::ProbeDef;
use super::SpecError;
use super::SpecErrorKind;
use super::SpecParseError;

/// An existing tracepoint (`events/SYSTEM/EVENT`) to enable; nothing is defined.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TracepointRef {
    system: String,
    event: String,
}

impl TracepointRef {
    /// The subsystem, e.g. `sched` (safe as a path component: `[A-Za-z0-9_-]`).
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The event, e.g. `sched_switch` (safe as a path component: `[A-Za-z0-9_]`).
    pub fn event(&self) -> &str {
        &self.event
    }
}

impl fmt::Display for TracepointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.event)
    }
}

/// One probe as the user asked for it.
///
/// Accepted forms (everything the kernel takes also passes through unchanged):
///
/// | spec | kernel line |
/// |---|---|
/// | `p:do_sys_openat2 path=+0(%si):string` | `p do_sys_openat2 path=+0(%si):string` |
/// | `r:vfs_read $retval:s64`, `r16:vfs_read` | `r vfs_read $retval:s64`, `r16 vfs_read` |
/// | `vfs_read%return`, `p:vfs_read%return` | `r vfs_read` |
/// | `u:/bin/bash:readline+4` | `p /bin/bash:0x…` once resolved |
/// | `ur:/bin/bash:0x1168`, `uretprobe:…` | `r /bin/bash:0x1168` |
/// | `f:vfs_read`, `f:vfs_read%return` | `f vfs_read`, `f vfs_read%return` |
/// | `e:syscalls.sys_enter_openat` | `e syscalls.sys_enter_openat` |
/// | `t:sched:sched_switch`, `tracepoint:sched:sched_switch` | none: enables the tracepoint |
///
/// After a shorthand target, a first argument that is a bare BTF name would read as
/// a probe point (`p:EVENT SYM`), as in the kernel's syntax: name it (`f=file`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeSpec {
    /// A dynamic probe to define.
    Probe(ProbeDef),
    /// An existing tracepoint to enable.
    Tracepoint(TracepointRef),
}

impl ProbeSpec {
    /// Parses one spec, reporting every error found in it.
    ///
    /// ```
    /// use tprobe::spec::ProbeSpec;
    /// let spec = ProbeSpec::parse("u:/bin/bash:0x1168 a=%di:s32")?.with_group("tprobe_1_0")?;
    /// let def = spec.def().expect("a definition");
    /// assert_eq!(def.to_kernel_line()?, "p:tprobe_1_0/u_bash_0x1168 /bin/bash:0x1168 a=%di:s32");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, SpecParseError> {
        let char_errors = check_chars(input);
        let toks = tokenize(input);
        let mut errors = Vec::new();
        let spec = parse_tokens(input, &toks, &mut errors);
        finish(input, char_errors, errors, spec)
    }

    /// The definition, unless this is an existing tracepoint.
    pub fn def(&self) -> Option<&ProbeDef> {
        match self {
            Self::Probe(def) => Some(def),
            Self::Tracepoint(_) => None,
        }
    }

    /// Puts a definition without `GRP/` in `group` and gives it an event name derived
    /// from its target if it has none (see [`ProbeDef::default_event_name`]); names
    /// are not made unique here, [`assign_names`] does that for a set of specs.
    pub fn with_group(self, group: &str) -> Result<Self, SpecError> {
        match self {
            Self::Probe(def) => {
                let mut def = def.with_group(group)?;
                if def.event.is_none() {
                    def.event = Some(def.default_event_name());
                }
                Ok(Self::Probe(def))
            }
            tp @ Self::Tracepoint(_) => Ok(tp),
        }
    }
}

impl fmt::Display for ProbeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Probe(def) => def.fmt(f),
            Self::Tracepoint(tp) => write!(f, "t:{tp}"),
        }
    }
}

/// Gives every definition in `specs` a group and an event name: those without `GRP/`
/// go to `group`, and those without an event name get
/// [`ProbeDef::default_event_name`], with `_2`, `_3`… added when that name is already
/// taken in the same group. Names the user gave are kept, even when repeated (the
/// kernel appends such probes to one event).
pub fn assign_names(specs: &mut [ProbeSpec], group: &str) -> Result<(), SpecError> {
    let mut taken: HashSet<(String, String)> = HashSet::new();
    for spec in specs.iter_mut() {
        if let ProbeSpec::Probe(def) = spec {
            *def = def.clone().with_group(group)?;
            if let (Some(g), Some(e)) = (&def.group, &def.event) {
                taken.insert((g.clone(), e.clone()));
            }
        }
    }
    for spec in specs.iter_mut() {
        let ProbeSpec::Probe(def) = spec else {
            continue;
        };
        if def.event.is_some() {
            continue;
        }
        let group = def.group.clone().unwrap_or_default();
        let base = def.default_event_name();
        let mut name = base.clone();
        let mut n: u64 = 1;
        while taken.contains(&(group.clone(), name.clone())) {
            n += 1;
            let suffix = format!("_{n}");
            let keep = MAX_EVENT_NAME_LEN.saturating_sub(suffix.len());
            name = format!("{}{suffix}", sanitize_event_name(&base, keep));
        }
        taken.insert((group, name.clone()));
        def.event = Some(name);
    }
    Ok(())
}

fn parse_tokens(input: &str, toks: &[Tok<'_>], errors: &mut Vec<SpecError>) -> Option<ProbeSpec> {
    let Some(&first) = toks.first() else {
        errors.push(SpecError::new(SpecErrorKind::Empty, 0..input.len()));
        return None;
    };
    let rest_toks = toks.get(1..).unwrap_or(&[]);
    let (prefix, rest) = match first.text.split_once(':') {
        Some((prefix, _)) => (prefix, Some(first.tail(prefix.len() + 1))),
        None => (first.text, None),
    };
    let prefix_tok = Tok {
        text: prefix,
        start: first.start,
    };
    let shorthand = |letter: u8, place: Tok<'_>, syntax, errors: &mut Vec<SpecError>| {
        let parts = DefParts {
            head: Head {
                letter,
                digits: None,
            },
            name: None,
            place,
            args: rest_toks,
            syntax,
        };
        build_def(input, parts, errors).map(|mut def| {
            // Shorthand return probes use `r`, which every kernel since 3.5 reads.
            def.return_suffix = false;
            ProbeSpec::Probe(def)
        })
    };
    match (prefix, rest) {
        ("u" | "uprobe", Some(place)) => {
            return shorthand(b'p', place, PlaceSyntax::Uprobe, errors);
        }
        ("ur" | "uretprobe", Some(place)) => {
            return shorthand(b'r', place, PlaceSyntax::Uprobe, errors);
        }
        ("t", Some(rest)) if rest.text.contains(':') && !rest.text.contains('/') => {
            return tracepoint(rest, rest_toks, errors);
        }
        ("tracepoint", Some(rest)) => return tracepoint(rest, rest_toks, errors),
        _ => {}
    }
    if first.text.starts_with(['-', '!']) {
        errors.push(SpecError::new(SpecErrorKind::Deletion, first.span()));
        return None;
    }
    let Some(head) = parse_head(prefix_tok) else {
        if first.text.ends_with("%return") {
            return shorthand(b'p', first, PlaceSyntax::Kernel, errors);
        }
        errors.push(SpecError::new(
            SpecErrorKind::UnknownProbeType(prefix.to_owned()),
            prefix_tok.span(),
        ));
        return None;
    };
    let Some(name) = rest else {
        return kernel_form(input, toks, errors).map(ProbeSpec::Probe);
    };
    if rest_toks.first().is_some_and(|t| !looks_like_arg(t.text)) {
        return kernel_form(input, toks, errors).map(ProbeSpec::Probe);
    }
    // `p:TARGET [ARGS]`: the name is the probe point.
    if head.letter == b't' {
        errors.push(SpecError::new(
            SpecErrorKind::BadTracepoint(name.text.to_owned()),
            name.span(),
        ));
        return None;
    }
    if name.text.is_empty() || (name.text.contains('/') && !name.text.contains(':')) {
        errors.push(SpecError::new(SpecErrorKind::MissingTarget, name.span()));
        return None;
    }
    let parts = DefParts {
        head,
        name: None,
        place: name,
        args: rest_toks,
        syntax: PlaceSyntax::Kernel,
    };
    build_def(input, parts, errors).map(|mut def| {
        def.return_suffix = false;
        ProbeSpec::Probe(def)
    })
}

fn tracepoint(rest: Tok<'_>, args: &[Tok<'_>], errors: &mut Vec<SpecError>) -> Option<ProbeSpec> {
    let good = |s: &str, extra: &[u8]| is_word(s, extra) && s.len() <= MAX_EVENT_NAME_LEN;
    let value = match rest.text.split_once(':') {
        Some((system, event))
            if good(system, b"-") && !system.starts_with('-') && good(event, b"") =>
        {
            Some(TracepointRef {
                system: system.to_owned(),
                event: event.to_owned(),
            })
        }
        _ => {
            errors.push(SpecError::new(
                SpecErrorKind::BadTracepoint(rest.text.to_owned()),
                rest.span(),
            ));
            None
        }
    };
    if let (Some(first), Some(last)) = (args.first(), args.last()) {
        errors.push(SpecError::new(
            SpecErrorKind::TracepointArgs,
            first.start..last.span().end,
        ));
        return None;
    }
    value.map(ProbeSpec::Tracepoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::FileOffset;
    use crate::spec::ProbeKind;

    fn line(spec: &str) -> String {
        match ProbeSpec::parse(spec) {
            Ok(ProbeSpec::Probe(def)) => def.to_string(),
            Ok(other) => panic!("{spec}: not a definition: {other:?}"),
            Err(e) => panic!("{spec}:\n{}", e.render()),
        }
    }

    fn kinds(spec: &str) -> Vec<SpecErrorKind> {
        match ProbeSpec::parse(spec) {
            Ok(s) => panic!("{spec}: accepted as {s}"),
            Err(e) => e.errors().iter().map(|e| e.kind().clone()).collect(),
        }
    }

    /// The shorthand table: each spec and the exact kernel line it expands to (before
    /// a group is assigned), then with the session group.
    #[test]
    fn shorthands_expand_to_kernel_lines() {
        let table = [
            ("p:do_sys_openat2", "p do_sys_openat2", "p:g/p_do_sys_openat2_0 do_sys_openat2"),
            (
                "p:do_sys_openat2 path=+0(%si):string",
                "p do_sys_openat2 path=+0(%si):string",
                "p:g/p_do_sys_openat2_0 do_sys_openat2 path=+0(%si):string",
            ),
            ("p:vfs_read+0x10 %di", "p vfs_read+16 %di", "p:g/p_vfs_read_16 vfs_read+16 %di"),
            ("p:ext4:ext4_file_open", "p ext4:ext4_file_open", "p:g/p_ext4_ext4_file_open_0 ext4:ext4_file_open"),
            ("p:0xffffffff81000000", "p 0xffffffff81000000", "p:g/p_0xffffffff81000000 0xffffffff81000000"),
            ("r:vfs_read $retval:s64", "r vfs_read $retval:s64", "r:g/r_vfs_read_0 vfs_read $retval:s64"),
            ("r16:vfs_read", "r16 vfs_read", "r16:g/r_vfs_read_0 vfs_read"),
            ("vfs_read%return", "r vfs_read", "r:g/r_vfs_read_0 vfs_read"),
            ("ext4:ext4_sync_fs%return $retval", "r ext4:ext4_sync_fs $retval", "r:g/r_ext4_ext4_sync_fs_0 ext4:ext4_sync_fs $retval"),
            ("p:vfs_read%return", "r vfs_read", "r:g/r_vfs_read_0 vfs_read"),
            ("u:/bin/bash:0x1168 a=%di:s32", "p /bin/bash:0x1168 a=%di:s32", "p:g/u_bash_0x1168 /bin/bash:0x1168 a=%di:s32"),
            ("uprobe:/bin/bash:4456", "p /bin/bash:0x1168", "p:g/u_bash_0x1168 /bin/bash:0x1168"),
            ("ur:/bin/bash:0x1168 $retval", "r /bin/bash:0x1168 $retval", "r:g/ur_bash_0x1168 /bin/bash:0x1168 $retval"),
            ("uretprobe:/bin/bash:0x1168", "r /bin/bash:0x1168", "r:g/ur_bash_0x1168 /bin/bash:0x1168"),
            ("u:/bin/bash:0x1168%return", "r /bin/bash:0x1168", "r:g/ur_bash_0x1168 /bin/bash:0x1168"),
            ("u:/lib/libc.so.6:0x9a0(0x3010)", "p /lib/libc.so.6:0x9a0(0x3010)", "p:g/u_libc_so_6_0x9a0 /lib/libc.so.6:0x9a0(0x3010)"),
            ("u:/bin/bash:readline", "p /bin/bash:readline", "p:g/u_bash_readline /bin/bash:readline"),
            ("u:./prog:main+4", "p ./prog:main+4", "p:g/u_prog_main_4 ./prog:main+4"),
            ("ur:/bin/bash:readline", "r /bin/bash:readline", "r:g/ur_bash_readline /bin/bash:readline"),
            ("p:/bin/bash:0x10", "p /bin/bash:0x10", "p:g/u_bash_0x10 /bin/bash:0x10"),
            ("f:vfs_read", "f vfs_read", "f:g/f_vfs_read vfs_read"),
            ("f:vfs_read%return $retval", "f vfs_read%return $retval", "f:g/fr_vfs_read vfs_read%return $retval"),
            ("f:vfs_read count=$arg3:u64", "f vfs_read count=$arg3:u64", "f:g/f_vfs_read vfs_read count=$arg3:u64"),
            ("e:syscalls.sys_enter_openat", "e syscalls.sys_enter_openat", "e:g/e_syscalls_sys_enter_openat syscalls.sys_enter_openat"),
            (
                "e:syscalls.sys_enter_openat f=+0($filename):ustring if  flags == 0",
                "e syscalls.sys_enter_openat f=+0($filename):ustring if flags == 0",
                "e:g/e_syscalls_sys_enter_openat syscalls.sys_enter_openat f=+0($filename):ustring if flags == 0",
            ),
        ];
        for (spec, kernel, grouped) in table {
            assert_eq!(line(spec), kernel, "{spec}");
            let spec_value = ProbeSpec::parse(spec).and_then(|s| {
                s.with_group("g")
                    .map_err(|e| SpecParseError::new(spec, vec![e]))
            });
            assert_eq!(
                spec_value.map(|s| s.to_string()).as_deref(),
                Ok(grouped),
                "{spec}"
            );
        }
    }

    #[test]
    fn kernel_syntax_passes_through() {
        for l in [
            "p:tp/open do_sys_openat2 dfd=%di:s32 path=+0(%si):string",
            "p:open do_sys_openat2",
            "p:tp/ do_sys_openat2",
            "p do_sys_openat2",
            "p:tp/ret do_sys_openat2%return $retval:s32",
            "r:tp/ret do_sys_openat2 $retval:s32",
            "r128:tp/ret do_sys_openat2",
            "p:tp/u /bin/bash:0x1168%return(0x10) $retval",
            "r:tp/u /bin/bash:0x1168 $retval:u32",
            "p:tp/a 0xffffffff81000000 %ax",
            "f:tp/f vfs_read file",
            "f8:tp/fx vfs_read%return $retval",
            "e:tp/e sched.sched_switch $prev_pid:u32 if prev_pid == 1",
            "t:tp/t sched_switch prev",
            "t sched_switch",
            "p:tp/c do_sys_open c=$comm s=\\\"hi\" i=\\-1 m=@jiffies:u64",
        ] {
            assert_eq!(line(l), l);
            assert_eq!(ProbeDef::parse(l).map(|d| d.to_string()).as_deref(), Ok(l));
        }
        // The kernel's `.` separator and listing forms read back in the canonical form.
        assert_eq!(line("p:kfacts.dot do_sys_open"), "p:kfacts/dot do_sys_open");
        assert_eq!(line("r:g/e do_sys_open+0"), "r:g/e do_sys_open");
        assert_eq!(
            line("p:g/e /tmp/t:0x0000000000001168"),
            "p:g/e /tmp/t:0x1168"
        );
        assert_eq!(line("r:g/e vfs_read%return"), "r:g/e vfs_read");
    }

    #[test]
    fn tracepoints_are_references() {
        for s in ["t:sched:sched_switch", "tracepoint:sched:sched_switch"] {
            let spec = ProbeSpec::parse(s).unwrap_or_else(|e| panic!("{}", e.render()));
            let ProbeSpec::Tracepoint(tp) = &spec else {
                panic!("{s}: {spec:?}");
            };
            assert_eq!((tp.system(), tp.event()), ("sched", "sched_switch"));
            assert_eq!(spec.to_string(), "t:sched:sched_switch");
            assert_eq!(spec.clone().with_group("g"), Ok(spec));
        }
        assert_eq!(
            kinds("t:sched:sched_switch prev=$prev"),
            [SpecErrorKind::TracepointArgs]
        );
        assert_eq!(
            kinds("t:../x:y"),
            [SpecErrorKind::BadTracepoint("../x:y".into())]
        );
        assert_eq!(
            kinds("t:sched_switch"),
            [SpecErrorKind::BadTracepoint("sched_switch".into())]
        );
    }

    #[test]
    fn uprobe_symbols_wait_for_resolution() {
        let spec =
            ProbeSpec::parse("u:/bin/bash:readline+4 a=%di").unwrap_or_else(|e| panic!("{e}"));
        let ProbeSpec::Probe(def) = spec.with_group("g").unwrap_or_else(|e| panic!("{e}")) else {
            panic!("not a probe");
        };
        assert_eq!(def.unresolved_symbol(), Some(("/bin/bash", "readline")));
        let err = def.to_kernel_line().unwrap_err();
        assert_eq!(
            err.errors()[0].kind(),
            &SpecErrorKind::UnresolvedSymbol {
                path: "/bin/bash".into(),
                symbol: "readline".into()
            }
        );
        assert!(err
            .render()
            .ends_with(&format!("\n  {}{}\n", " ".repeat(22), "^".repeat(20))));
        let def = def
            .resolve(FileOffset(0x1000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            def.to_kernel_line().as_deref(),
            Ok("p:g/u_bash_readline_4 /bin/bash:0x1004 a=%di")
        );
        assert_eq!(def.delete_line().as_deref(), Some("-:g/u_bash_readline_4"));
        let huge = ProbeDef::parse("p:g/e /b:f+1").unwrap_or_else(|e| panic!("{e}"));
        assert!(huge.resolve(FileOffset(u64::MAX)).is_err());
    }

    #[test]
    fn kind_rules_reach_the_spec() {
        assert_eq!(
            kinds("p:do_sys_open $retval"),
            [SpecErrorKind::RetvalNotOnReturn]
        );
        assert_eq!(
            kinds("u:/bin/x:0x10 @jiffies"),
            [SpecErrorKind::SymbolOnUprobe]
        );
        assert_eq!(kinds("u:/bin/x:0x10 $arg1"), [SpecErrorKind::ArgOnUprobe]);
        assert_eq!(kinds("p:vfs_read+4 $arg1"), [SpecErrorKind::ArgNotAtEntry]);
        assert_eq!(
            kinds("f:vfs_read %di"),
            [SpecErrorKind::RegisterNotAllowed("fprobes")]
        );
        assert_eq!(
            kinds("p:do_sys_open c=$comm:u8"),
            [SpecErrorKind::NeedsStringType]
        );
        assert_eq!(
            kinds("p:do_sys_open if x"),
            [SpecErrorKind::FilterNotAllowed]
        );
        assert_eq!(kinds("e:a.b if"), [SpecErrorKind::EmptyFilter]);
        assert_eq!(
            kinds("p8:do_sys_open"),
            [SpecErrorKind::MaxactiveNotAllowed]
        );
        assert_eq!(
            kinds("r8:/bin/x:0x10"),
            [SpecErrorKind::MaxactiveNotAllowed]
        );
        assert_eq!(
            kinds("r0:vfs_read"),
            [SpecErrorKind::BadMaxactive("0".into())]
        );
        assert_eq!(
            kinds("r4097:vfs_read"),
            [SpecErrorKind::BadMaxactive("4097".into())]
        );
        assert_eq!(kinds("f8:vfs_read"), [SpecErrorKind::MaxactiveNotAllowed]);
    }

    #[test]
    fn names_and_limits_are_checked() {
        let long = "e".repeat(64);
        assert!(matches!(
            kinds(&format!("p:g/{long} vfs_read"))[..],
            [SpecErrorKind::NameTooLong {
                len: 64,
                max: 63,
                ..
            }]
        ));
        assert!(ProbeSpec::parse(&format!("p:g/{} vfs_read", &long[..63])).is_ok());
        assert_eq!(
            kinds("p:9x vfs_read"),
            [SpecErrorKind::BadEventName("9x".into())]
        );
        assert_eq!(
            kinds("p:g-1/x-y vfs_read"),
            [SpecErrorKind::BadEventName("x-y".into())]
        );
        assert_eq!(kinds("p:/x vfs_read"), [SpecErrorKind::EmptyGroup]);
        assert_eq!(kinds("p: vfs_read"), [SpecErrorKind::EmptyName]);
        assert_eq!(
            kinds("p:vfs_read a=%di a=%si"),
            [SpecErrorKind::DuplicateArgName("a".into())]
        );
        assert_eq!(
            kinds("p:vfs_read arg2=%di %si"),
            [SpecErrorKind::DuplicateArgName("arg2".into())]
        );
        let many: Vec<String> = (0..129).map(|i| format!("a{i}=%di")).collect();
        assert_eq!(
            kinds(&format!("p:vfs_read {}", many.join(" "))),
            [SpecErrorKind::TooManyArgs(129)]
        );
        let ok: Vec<String> = (0..128).map(|i| format!("a{i}=%di")).collect();
        assert!(ProbeSpec::parse(&format!("p:vfs_read {}", ok.join(" "))).is_ok());
        let wide: Vec<String> = (0..100)
            .map(|i| format!("a_long_argument_name_{i:03}=+0(+0(+0(%di))):u64"))
            .collect();
        assert!(matches!(
            kinds(&format!("p:vfs_read {}", wide.join(" ")))[..],
            [SpecErrorKind::LineTooLong { .. }]
        ));
    }

    #[test]
    fn control_bytes_and_comments_never_pass() {
        for s in [
            "p:a\nb vfs_read",
            "p:ev vfs_read\n-:other/ev",
            "p:ev\tvfs_read",
            "p:ev vfs_read a=%di\r",
            "u:/bin/ba\u{0}sh:0x10",
            "p:ev vfs_read # comment",
            "u:/tmp/a#b:0x10",
            "p:ev vfs_read\u{85}",
        ] {
            let err = ProbeSpec::parse(s).unwrap_err();
            assert!(
                err.errors().iter().all(|e| matches!(
                    e.kind(),
                    SpecErrorKind::ControlChar(_) | SpecErrorKind::Comment
                )),
                "{s:?}: {:?}",
                err.errors()
            );
            assert!(!err.render().contains('\n') || err.render().lines().count() % 3 == 0);
        }
    }

    #[test]
    fn all_errors_of_a_spec_are_reported_with_carets() {
        let err =
            ProbeSpec::parse("p:9ev do_sys_open x=%di:u7 $retval common_pid=%si").unwrap_err();
        let got: Vec<_> = err
            .errors()
            .iter()
            .map(|e| (e.kind().clone(), e.span()))
            .collect();
        assert_eq!(
            got,
            [
                (SpecErrorKind::BadEventName("9ev".into()), 2..5),
                (SpecErrorKind::BadType("u7".into()), 24..26),
                (SpecErrorKind::RetvalNotOnReturn, 27..34),
                (SpecErrorKind::ReservedArgName("common_pid".into()), 35..45),
            ]
        );
        let text = err.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "  p:9ev do_sys_open x=%di:u7 $retval common_pid=%si"
        );
        assert_eq!(lines[2], "    ^^^");
        assert_eq!(lines[5], "                          ^^");
    }

    #[test]
    fn odd_inputs_are_errors() {
        assert_eq!(kinds(""), [SpecErrorKind::Empty]);
        assert_eq!(kinds("   "), [SpecErrorKind::Empty]);
        assert_eq!(kinds("-:g/e"), [SpecErrorKind::Deletion]);
        assert_eq!(
            kinds("x:foo"),
            [SpecErrorKind::UnknownProbeType("x".into())]
        );
        assert_eq!(kinds("p"), [SpecErrorKind::MissingTarget]);
        assert_eq!(kinds("p:g/e"), [SpecErrorKind::MissingTarget]);
        assert_eq!(kinds("p:g/e %di"), [SpecErrorKind::MissingTarget]);
        assert_eq!(
            kinds("u:bash:readline"),
            [SpecErrorKind::BadUprobePath("bash".into())]
        );
        assert_eq!(
            kinds("f:vfs_read+4"),
            [SpecErrorKind::OffsetNotAllowed("4".into())]
        );
        assert_eq!(
            kinds("p:vfs_read%retur"),
            [SpecErrorKind::BadSuffix("%retur".into())]
        );
        assert!(ProbeDef::parse("u:/bin/x:0x10").is_err());
        assert!(ProbeDef::parse("t:sched:sched_switch").is_err());
    }

    #[test]
    fn assign_names_makes_unique_names() {
        let mut specs: Vec<ProbeSpec> = [
            "p:vfs_read",
            "p:vfs_read %di",
            "p:mine vfs_read",
            "p:mine vfs_write",
            "p:other/p_vfs_read_0 vfs_read",
            "t:sched:sched_switch",
        ]
        .iter()
        .map(|s| ProbeSpec::parse(s).unwrap_or_else(|e| panic!("{e}")))
        .collect();
        specs.push(
            ProbeSpec::parse(&format!("p:{}", "x".repeat(70))).unwrap_or_else(|e| panic!("{e}")),
        );
        specs.push(
            ProbeSpec::parse(&format!("p:{}", "x".repeat(70))).unwrap_or_else(|e| panic!("{e}")),
        );
        assign_names(&mut specs, "tprobe_1_0").unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = specs
            .iter()
            .filter_map(ProbeSpec::def)
            .map(|d| format!("{}/{}", d.group().unwrap_or("-"), d.event().unwrap_or("-")))
            .collect();
        let long = format!("p_{}", "x".repeat(61));
        let long2 = format!("p_{}_2", "x".repeat(59));
        assert_eq!(
            names,
            [
                "tprobe_1_0/p_vfs_read_0",
                "tprobe_1_0/p_vfs_read_0_2",
                "tprobe_1_0/mine",
                "tprobe_1_0/mine",
                "other/p_vfs_read_0",
                &format!("tprobe_1_0/{long}"),
                &format!("tprobe_1_0/{long2}"),
            ]
        );
        assert!(assign_names(&mut specs, "bad group").is_err());
        assert_eq!(specs[0].def().map(ProbeDef::kind), Some(ProbeKind::Kprobe));
    }

    /// No input makes the parser panic; whatever it accepts prints a line without
    /// control characters that parses back to the same spec.
    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces = [
            "p",
            "r",
            "f",
            "e",
            "t",
            "u",
            "ur",
            ":",
            "/",
            " ",
            "  ",
            "%",
            "%return",
            "@",
            "$",
            "+",
            "-",
            "u",
            "(",
            ")",
            "\\",
            "\"",
            "=",
            "#",
            "\n",
            "\t",
            "0x",
            "0",
            "9",
            "18446744073709551616",
            "do_sys_open",
            "/bin/sh",
            ".",
            "->",
            "[",
            "]",
            "64",
            "65",
            "string",
            "u8",
            "b4@4/8",
            "$retval",
            "$comm",
            "$arg",
            "$stack",
            "if",
            "é",
            "\u{0}",
            "\u{7f}",
            "a",
            "_",
            "x64",
            "symbol",
            "%di",
            "tracepoint",
            "uprobe",
        ];
        for _ in 0..3000 {
            let len = usize::try_from(next() % 12).unwrap_or(0);
            let mut s = String::new();
            for _ in 0..len {
                let i = usize::try_from(next() % pieces.len() as u64).unwrap_or(0);
                s.push_str(pieces[i]);
            }
            check_no_panic(&s);
        }
        for _ in 0..500 {
            let len = usize::try_from(next() % 40).unwrap_or(0);
            let bytes: Vec<u8> = (0..len).map(|_| (next() % 128) as u8).collect();
            check_no_panic(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn huge_inputs_stay_fast() {
        let many = "a\n ".repeat(50_000);
        let err = ProbeSpec::parse(&many).unwrap_err();
        assert_eq!(err.errors().len(), 50_000);
        let long = format!("p:vfs_read {}", "%di ".repeat(100_000));
        assert!(ProbeSpec::parse(&long).is_err());
        let deep = format!(
            "p:vfs_read {}%di{}",
            "+0(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert!(ProbeSpec::parse(&deep).is_err());
    }

    fn check_no_panic(s: &str) {
        match ProbeSpec::parse(s) {
            Ok(spec) => {
                let shown = spec.to_string();
                assert!(
                    !shown.contains(|c: char| c.is_control() || c == '#'),
                    "{s:?}"
                );
                assert_eq!(
                    ProbeSpec::parse(&shown).as_ref(),
                    Ok(&spec),
                    "{s:?} -> {shown:?}"
                );
                if let ProbeSpec::Probe(def) = &spec {
                    let _ = def.to_kernel_line();
                    let _ = def.clone().with_group("g");
                }
            }
            Err(e) => {
                assert!(!e.errors().is_empty());
                let _ = e.render();
                let _ = e.to_string();
            }
        }
        let _ = ProbeDef::parse(s).map(|d| d.to_string());
    }
}
