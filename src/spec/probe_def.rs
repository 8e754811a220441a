//! `ProbeDef`: one definition line as the kernel accepts it.

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

use super::names::check_event_name;
use super::names::check_group_name;
use super::names::sanitize_event_name;
use super::names::MAX_EVENT_NAME_LEN;
use super::names::MAX_LINE_LEN;
use super::parser::check_chars;
use super::parser::parse_kernel_line;
use super::FileOffset;
use super::Place;
use super::ProbeArg;
use super::ProbeKind;
use super::SpecError;
use super::SpecErrorKind;
use super::SpecParseError;
use super::UprobeLocation;

/// A dynamic probe definition: kind, `GROUP/EVENT`, probe point, arguments.
///
/// Only [`ProbeDef::parse`] and [`ProbeSpec::parse`](super::ProbeSpec::parse) make one,
/// so every value has passed validation. `Display` prints the definition line; for a
/// resolved definition that is exactly the line the kernel accepts, and
/// [`ProbeDef::parse`] reads it back to an equal value. A uprobe that still names a
/// function prints as `PATH:FUNC[+OFF]`, which no kernel accepts: write definitions
/// with [`ProbeDef::to_kernel_line`], which refuses that.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeDef {
    pub(crate) kind: ProbeKind,
    pub(crate) maxactive: Option<u32>,
    /// A return probe written as `p … %return` rather than `r …`.
    pub(crate) return_suffix: bool,
    pub(crate) group: Option<String>,
    pub(crate) event: Option<String>,
    pub(crate) place: Place,
    pub(crate) args: Vec<ProbeArg>,
    pub(crate) filter: Option<String>,
}

impl ProbeDef {
    /// Parses a definition in the kernel's own syntax (`p:GRP/EVENT SYM ARGS…`), as
    /// printed by `Display`. Shorthands are [`ProbeSpec::parse`](super::ProbeSpec::parse)'s job.
    ///
    /// ```
    /// use tprobe::spec::ProbeDef;
    /// let def = ProbeDef::parse("p:tp/open do_sys_openat2 path=+0(%si):string")?;
    /// assert_eq!(def.to_kernel_line()?, "p:tp/open do_sys_openat2 path=+0(%si):string");
    /// # Ok::<(), tprobe::spec::SpecParseError>(())
    /// ```
    pub fn parse(line: &str) -> Result<Self, SpecParseError> {
        parse_kernel_line(line)
    }

    /// The kind of probe.
    pub fn kind(&self) -> ProbeKind {
        self.kind
    }

    /// The group, if one is set (the kernel's default depends on the kind).
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// The event name, if one is set (the kernel derives one otherwise).
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The probe point.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// The arguments, in order.
    pub fn args(&self) -> &[ProbeArg] {
        &self.args
    }

    /// An eprobe's `if FILTER`, with its words joined by single spaces.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// A kretprobe's or fprobe exit's MAXACTIVE (`r16:`).
    pub fn maxactive(&self) -> Option<u32> {
        self.maxactive
    }

    /// The uprobe's binary and function name while the function still needs resolving
    /// to a file offset; `None` when the definition is ready for the kernel.
    pub fn unresolved_symbol(&self) -> Option<(&str, &str)> {
        match &self.place {
            Place::File {
                path,
                location: UprobeLocation::Symbol { name, .. },
                ..
            } => Some((path, name)),
            _ => None,
        }
    }

    /// Whether every part is ready for the kernel (no function left to resolve).
    pub fn is_resolved(&self) -> bool {
        self.unresolved_symbol().is_none()
    }

    /// Fills in the file offset of the function named by a `PATH:FUNC[+OFF]` uprobe:
    /// the target becomes `symbol_offset + OFF`. Does nothing to a resolved definition.
    pub fn resolve(mut self, symbol_offset: FileOffset) -> Result<Self, SpecError> {
        if let Place::File { location, .. } = &mut self.place {
            if let UprobeLocation::Symbol { offset, .. } = location {
                let total = symbol_offset
                    .0
                    .checked_add(*offset)
                    .ok_or_else(|| SpecError::new(SpecErrorKind::OffsetOverflow(*offset), 0..0))?;
                *location = UprobeLocation::Offset(FileOffset(total));
            }
        }
        Ok(self)
    }

    /// Puts the definition in `group` unless it names its own. The error's span points
    /// into `group`.
    pub fn with_group(mut self, group: &str) -> Result<Self, SpecError> {
        check_group_name(group).map_err(|kind| SpecError::new(kind, 0..group.len()))?;
        if self.group.is_none() {
            self.group = Some(group.to_owned());
        }
        Ok(self)
    }

    /// Sets the event name, replacing any. The error's span points into `event`.
    pub fn with_event(mut self, event: &str) -> Result<Self, SpecError> {
        check_event_name(event).map_err(|kind| SpecError::new(kind, 0..event.len()))?;
        self.event = Some(event.to_owned());
        Ok(self)
    }

    /// A valid event name derived from the probe point: `p_do_sys_openat2_0`,
    /// `r_vfs_read_0`, `p_0xffffffff81000000`, `u_bash_readline`, `ur_bash_0x1168`,
    /// `f_vfs_read`, `fr_vfs_read`, `e_syscalls_sys_enter_openat`, `t_sched_switch`;
    /// sanitised to `[A-Za-z0-9_]` and at most 63 characters.
    pub fn default_event_name(&self) -> String {
        sanitize_event_name(&self.raw_event_name(), MAX_EVENT_NAME_LEN)
    }

    fn raw_event_name(&self) -> String {
        let prefix = match self.kind {
            ProbeKind::Kprobe => "p",
            ProbeKind::Kretprobe => "r",
            ProbeKind::Uprobe => "u",
            ProbeKind::Uretprobe => "ur",
            ProbeKind::Fentry => "f",
            ProbeKind::Fexit => "fr",
            ProbeKind::Eprobe => "e",
            ProbeKind::Tprobe => "t",
        };
        match &self.place {
            Place::Symbol {
                module,
                symbol,
                offset,
            } => {
                let module = module
                    .as_deref()
                    .map(|m| format!("{m}_"))
                    .unwrap_or_default();
                if self.kind.needs_dynamic_events() {
                    format!("{prefix}_{module}{symbol}")
                } else {
                    format!("{prefix}_{module}{symbol}_{offset}")
                }
            }
            Place::Address(addr) => format!("{prefix}_{addr}"),
            Place::File { path, location, .. } => {
                let binary = path.rsplit('/').next().unwrap_or(path);
                match location {
                    UprobeLocation::Offset(off) => format!("{prefix}_{binary}_{off}"),
                    UprobeLocation::Symbol { name, offset: 0 } => {
                        format!("{prefix}_{binary}_{name}")
                    }
                    UprobeLocation::Symbol { name, offset } => {
                        format!("{prefix}_{binary}_{name}_{offset}")
                    }
                }
            }
            Place::Event { system, event } => format!("{prefix}_{system}_{event}"),
            Place::Tracepoint(tp) => format!("{prefix}_{tp}"),
        }
    }

    /// The line to append to `kprobe_events`, `uprobe_events` or `dynamic_events`,
    /// checked once more: it fails while a uprobe function is unresolved, or if the line
    /// is too long or holds a control character or `#`.
    pub fn to_kernel_line(&self) -> Result<String, SpecParseError> {
        let (line, place_span) = self.render();
        let mut errors = check_chars(&line);
        if let Some((path, symbol)) = self.unresolved_symbol() {
            errors.push(SpecError::new(
                SpecErrorKind::UnresolvedSymbol {
                    path: path.to_owned(),
                    symbol: symbol.to_owned(),
                },
                place_span.clone(),
            ));
        }
        if let Some(pattern) = self.symbol_pattern() {
            errors.push(SpecError::new(
                SpecErrorKind::UnexpandedPattern(pattern.to_owned()),
                place_span,
            ));
        }
        if line.len() > MAX_LINE_LEN {
            let len = line.len();
            errors.push(SpecError::new(SpecErrorKind::LineTooLong { len }, 0..len));
        }
        if errors.is_empty() {
            Ok(line)
        } else {
            Err(SpecParseError::new(&line, errors))
        }
    }

    /// The symbol pattern (`vfs_*`) of a kernel probe that still has to be expanded to
    /// the symbols it matches.
    pub fn symbol_pattern(&self) -> Option<&str> {
        match &self.place {
            Place::Symbol { symbol, .. } if super::place::is_symbol_glob(symbol) => Some(symbol),
            _ => None,
        }
    }

    /// This definition at another symbol (one probe point of an expanded pattern); the
    /// group, event name and arguments stay, so the kernel appends it to the same event.
    pub fn at_symbol(&self, symbol: &str) -> Self {
        let mut def = self.clone();
        if let Place::Symbol { symbol: s, .. } = &mut def.place {
            *s = symbol.to_owned();
        }
        def
    }

    /// The line that deletes this event (`-:GROUP/EVENT`), once both names are set.
    pub fn delete_line(&self) -> Option<String> {
        Some(format!(
            "-:{}/{}",
            self.group.as_deref()?,
            self.event.as_deref()?
        ))
    }

    /// Whether the probe point is written with `%return`.
    fn place_has_return(&self) -> bool {
        self.kind == ProbeKind::Fexit || (self.return_suffix && self.kind.is_return())
    }

    /// The line and the byte span of its probe point.
    fn render(&self) -> (String, Range<usize>) {
        let mut line = String::new();
        let letter = match self.kind {
            ProbeKind::Kprobe | ProbeKind::Uprobe => 'p',
            ProbeKind::Kretprobe | ProbeKind::Uretprobe if self.return_suffix => 'p',
            ProbeKind::Kretprobe | ProbeKind::Uretprobe => 'r',
            ProbeKind::Fentry | ProbeKind::Fexit => 'f',
            ProbeKind::Eprobe => 'e',
            ProbeKind::Tprobe => 't',
        };
        line.push(letter);
        if let Some(n) = self.maxactive {
            let _ = write!(line, "{n}");
        }
        if self.group.is_some() || self.event.is_some() {
            line.push(':');
            if let Some(group) = &self.group {
                line.push_str(group);
                line.push('/');
            }
            if let Some(event) = &self.event {
                line.push_str(event);
            }
        }
        line.push(' ');
        let place_start = line.len();
        let ret = if self.place_has_return() {
            "%return"
        } else {
            ""
        };
        let _ = match &self.place {
            Place::Symbol {
                module,
                symbol,
                offset,
            } => {
                if let Some(module) = module {
                    line.push_str(module);
                    line.push(':');
                }
                line.push_str(symbol);
                if *offset != 0 {
                    let _ = write!(line, "+{offset}");
                }
                write!(line, "{ret}")
            }
            Place::Address(addr) => write!(line, "{addr}"),
            Place::File {
                path,
                location,
                ref_ctr,
            } => {
                line.push_str(path);
                line.push(':');
                let _ = match location {
                    UprobeLocation::Offset(off) => write!(line, "{off}"),
                    UprobeLocation::Symbol { name, offset: 0 } => write!(line, "{name}"),
                    UprobeLocation::Symbol { name, offset } => write!(line, "{name}+{offset}"),
                };
                line.push_str(ret);
                match ref_ctr {
                    Some(r) => write!(line, "({r})"),
                    None => Ok(()),
                }
            }
            Place::Event { system, event } => write!(line, "{system}.{event}"),
            Place::Tracepoint(tp) => write!(line, "{tp}"),
        };
        let place_end = line.len();
        for arg in &self.args {
            let _ = write!(line, " {arg}");
        }
        if let Some(filter) = &self.filter {
            line.push_str(" if ");
            line.push_str(filter);
        }
        (line, place_start..place_end)
    }
}

impl fmt::Display for ProbeDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render().0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::spec::probe_arg::check_arg;
    use crate::spec::probe_arg::ArgCtx;
    use crate::spec::BaseType;
    use crate::spec::BtfStep;
    use crate::spec::FetchArg;
    use crate::spec::FetchType;
    use crate::spec::IntWidth;
    use crate::spec::KernelAddr;
    use crate::spec::ProbeSpec;

    const KINDS: [ProbeKind; 8] = [
        ProbeKind::Kprobe,
        ProbeKind::Kretprobe,
        ProbeKind::Uprobe,
        ProbeKind::Uretprobe,
        ProbeKind::Fentry,
        ProbeKind::Fexit,
        ProbeKind::Eprobe,
        ProbeKind::Tprobe,
    ];

    fn symbol() -> impl Strategy<Value = String> {
        "[A-Za-z_.][A-Za-z0-9_.]{0,16}"
    }

    fn module() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[a-z0-9_]{1,8}")
    }

    fn place(kind: ProbeKind) -> BoxedStrategy<Place> {
        let ksym =
            (module(), symbol(), 0..=u64::from(u32::MAX)).prop_map(|(module, symbol, offset)| {
                Place::Symbol {
                    module,
                    symbol,
                    offset,
                }
            });
        match kind {
            ProbeKind::Kprobe | ProbeKind::Kretprobe => prop_oneof![
                ksym,
                any::<u64>().prop_map(|a| Place::Address(KernelAddr(a))),
            ]
            .boxed(),
            ProbeKind::Uprobe | ProbeKind::Uretprobe => {
                let location = prop_oneof![
                    any::<u64>().prop_map(|o| UprobeLocation::Offset(FileOffset(o))),
                    (symbol(), any::<u64>())
                        .prop_map(|(name, offset)| UprobeLocation::Symbol { name, offset }),
                ];
                (
                    "[./]?/[A-Za-z0-9_.:/+-]{0,20}",
                    location,
                    proptest::option::of(any::<u64>().prop_map(FileOffset)),
                )
                    .prop_map(|(path, location, ref_ctr)| Place::File {
                        path,
                        location,
                        ref_ctr,
                    })
                    .boxed()
            }
            ProbeKind::Fentry | ProbeKind::Fexit => (module(), symbol())
                .prop_map(|(module, symbol)| Place::Symbol {
                    module,
                    symbol,
                    offset: 0,
                })
                .boxed(),
            ProbeKind::Eprobe => ("[A-Za-z0-9_][A-Za-z0-9_-]{0,9}", "[A-Za-z0-9_]{1,10}")
                .prop_map(|(system, event)| Place::Event { system, event })
                .boxed(),
            ProbeKind::Tprobe => "[A-Za-z0-9_]{1,12}"
                .prop_filter("`if` reads as a filter", |t| t != "if")
                .prop_map(Place::Tracepoint)
                .boxed(),
        }
    }

    fn width() -> impl Strategy<Value = IntWidth> {
        prop_oneof![
            Just(IntWidth::W8),
            Just(IntWidth::W16),
            Just(IntWidth::W32),
            Just(IntWidth::W64)
        ]
    }

    fn fetch_type() -> impl Strategy<Value = FetchType> {
        let base = prop_oneof![
            width().prop_map(BaseType::Unsigned),
            width().prop_map(BaseType::Signed),
            width().prop_map(BaseType::Hex),
            Just(BaseType::Char),
            Just(BaseType::String),
            Just(BaseType::Ustring),
            Just(BaseType::Symbol),
            Just(BaseType::Symstr),
            Just(BaseType::Dentry),
            Just(BaseType::File),
            (width(), 1u8..=64, 0u8..64).prop_filter_map("fits", |(container, width, offset)| {
                (u16::from(width) + u16::from(offset) <= u16::from(container.bits())).then_some(
                    BaseType::Bitfield {
                        width,
                        offset,
                        container,
                    },
                )
            }),
        ];
        (base, proptest::option::of(1u8..=64)).prop_map(|(base, array)| FetchType { base, array })
    }

    fn leaf(kind: ProbeKind) -> BoxedStrategy<FetchArg> {
        let mut options: Vec<BoxedStrategy<FetchArg>> = vec![
            any::<u64>().prop_map(FetchArg::Memory).boxed(),
            any::<u64>().prop_map(FetchArg::Immediate).boxed(),
        ];
        if kind.has_regs() {
            options.push("[a-z][a-z0-9]{0,3}".prop_map(FetchArg::Register).boxed());
        }
        if kind.is_user() {
            options.push(
                (0..=i64::MAX as u64)
                    .prop_map(FetchArg::FileRelative)
                    .boxed(),
            );
        } else {
            options.push(
                (symbol(), any::<i64>())
                    .prop_map(|(name, offset)| FetchArg::Symbol { name, offset })
                    .boxed(),
            );
        }
        if kind == ProbeKind::Eprobe {
            options.push(
                "[A-Za-z_][A-Za-z0-9_]{0,10}"
                    .prop_filter("comm is $comm", |f| f != "comm" && f != "COMM")
                    .prop_map(FetchArg::EventField)
                    .boxed(),
            );
        } else {
            options.push(Just(FetchArg::Stack).boxed());
            options.push(any::<u32>().prop_map(FetchArg::StackN).boxed());
            if kind.is_return() {
                options.push(Just(FetchArg::Retval).boxed());
            }
            if !kind.is_user() {
                let step = (any::<bool>(), "[A-Za-z_][A-Za-z0-9_]{0,6}")
                    .prop_map(|(arrow, field)| BtfStep { arrow, field });
                options.push(
                    ("btf[a-z]{0,6}", proptest::collection::vec(step, 0..3))
                        .prop_map(|(name, steps)| FetchArg::Btf { name, steps })
                        .boxed(),
                );
                if kind != ProbeKind::Kprobe {
                    options.push((1..=u32::MAX).prop_map(FetchArg::Arg).boxed());
                }
            }
        }
        proptest::strategy::Union::new(options).boxed()
    }

    fn fetch(kind: ProbeKind) -> BoxedStrategy<FetchArg> {
        let nested = leaf(kind).prop_recursive(3, 4, 1, |inner| {
            (any::<bool>(), any::<i64>(), inner).prop_map(|(user, offset, inner)| FetchArg::Deref {
                user,
                offset,
                inner: Box::new(inner),
            })
        });
        let mut top = vec![nested.boxed(), Just(FetchArg::Comm).boxed()];
        if !kind.is_user() {
            top.push(
                "[A-Za-z0-9_\"./]{0,10}"
                    .prop_map(FetchArg::ImmString)
                    .boxed(),
            );
        }
        proptest::strategy::Union::new(top).boxed()
    }

    fn arg(
        kind: ProbeKind,
        at_entry: bool,
    ) -> BoxedStrategy<(Option<String>, FetchArg, Option<FetchType>)> {
        (
            proptest::option::of("[A-Za-z_][A-Za-z0-9_]{0,12}"),
            fetch(kind),
            proptest::option::of(fetch_type()),
        )
            .prop_filter("valid for the kind", move |(_, fetch, ty)| {
                let body = match ty {
                    Some(ty) => format!("{fetch}:{ty}"),
                    None => fetch.to_string(),
                };
                body.len() <= 63 && check_arg(fetch, *ty, ArgCtx { kind, at_entry }).is_empty()
            })
            .boxed()
    }

    fn probe_def() -> impl Strategy<Value = ProbeDef> {
        proptest::sample::select(KINDS.to_vec()).prop_flat_map(|kind| {
            let maxactive = match kind {
                ProbeKind::Kretprobe | ProbeKind::Fexit => {
                    proptest::option::of(1u32..=4096).boxed()
                }
                _ => Just(None).boxed(),
            };
            (
                Just(kind),
                place(kind),
                proptest::option::of("[A-Za-z_][A-Za-z0-9_-]{0,20}"),
                proptest::option::of("[A-Za-z_][A-Za-z0-9_]{0,20}"),
                maxactive,
                any::<bool>(),
                proptest::collection::vec(arg(kind, false), 0..5),
                proptest::option::of("[a-z_]{1,6}( [a-z0-9=<>!&|_]{1,4}){0,3}"),
            )
                .prop_map(
                    |(kind, place, group, event, maxactive, suffix, raw_args, filter)| {
                        let return_suffix = suffix
                            && maxactive.is_none()
                            && matches!(kind, ProbeKind::Kretprobe | ProbeKind::Uretprobe)
                            && !matches!(place, Place::Address(_));
                        let args = raw_args
                            .into_iter()
                            .enumerate()
                            .map(|(i, (name, fetch, ty))| ProbeArg {
                                name: name.map(|n| format!("{n}_{i}")),
                                fetch,
                                ty,
                            })
                            .collect();
                        ProbeDef {
                            kind,
                            maxactive,
                            return_suffix,
                            group,
                            event,
                            place,
                            args,
                            filter: filter.filter(|_| kind == ProbeKind::Eprobe),
                        }
                    },
                )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Display -> parse gives back the same definition, through both parsers.
        #[test]
        fn probe_def_round_trips(def in probe_def()) {
            let line = def.to_string();
            prop_assert_eq!(ProbeDef::parse(&line).map_err(|e| e.render()), Ok(def.clone()), "{}", line);
            prop_assert_eq!(ProbeSpec::parse(&line).ok(), Some(ProbeSpec::Probe(def.clone())), "{}", line);
            prop_assert_eq!(def.to_kernel_line().is_ok(), def.is_resolved(), "{}", line);
        }
    }

    #[test]
    fn default_event_names() {
        let name = |s: &str| {
            ProbeDef::parse(s)
                .map(|d| d.default_event_name())
                .unwrap_or_else(|e| panic!("{}", e.render()))
        };
        assert_eq!(name("p do_sys_openat2"), "p_do_sys_openat2_0");
        assert_eq!(name("r vfs_read+0"), "r_vfs_read_0");
        assert_eq!(name("p ext4:ext4_file_open+8"), "p_ext4_ext4_file_open_8");
        assert_eq!(name("p 0xffffffff81000000"), "p_0xffffffff81000000");
        assert_eq!(name("p /usr/bin/bash:0x1168"), "u_bash_0x1168");
        assert_eq!(name("r /lib/libc.so.6:malloc"), "ur_libc_so_6_malloc");
        assert_eq!(name("f vfs_read%return"), "fr_vfs_read");
        assert_eq!(
            name("e syscalls.sys_enter_openat"),
            "e_syscalls_sys_enter_openat"
        );
        assert_eq!(name("t sched_switch"), "t_sched_switch");
        let long = name(&format!("p /x/{}:0x10", "é".repeat(40)));
        assert!(long.len() <= 63 && long.starts_with("u_"), "{long}");
    }

    #[test]
    fn with_group_keeps_an_explicit_group() {
        let def = ProbeDef::parse("p:mine/ev vfs_read").unwrap_or_else(|e| panic!("{e}"));
        let def = def
            .with_group("tprobe_1_0")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(def.group(), Some("mine"));
        let def = ProbeDef::parse("p vfs_read").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            def.clone()
                .with_group("tprobe_1_0")
                .ok()
                .and_then(|d| d.group().map(str::to_owned))
                .as_deref(),
            Some("tprobe_1_0")
        );
        assert!(def.clone().with_group("a\nb").is_err());
        assert!(def.clone().with_event("x y").is_err());
        assert_eq!(def.delete_line(), None);
    }
}
