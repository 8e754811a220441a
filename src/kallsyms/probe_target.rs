//! Whether a kernel symbol can carry a kprobe, and wildcard expansion to those that can.

use std::fmt;

use super::error::KallsymsError;
use super::glob::Glob;
use super::ksym_index::Ksym;
use super::ksym_index::KsymIndex;
use super::ksym_index::SymType;
use super::probe_context::BlacklistEntry;
use super::probe_context::ProbeContext;
use super::probe_context::SkippedCheck;
use super::suggest::bounded_distance;
use super::suggest::max_distance;
use crate::spec::KernelAddr;
use crate::spec::Place;

/// How many close names a [`RefusalKind::NotFound`] offers at most.
const MAX_SUGGESTIONS: usize = 3;

/// Name prefixes of the padding the compiler puts before functions (not entries).
const PADDING_PREFIXES: [&str; 2] = ["__pfx_", "__cfi_"];

/// The calling convention a syscall wrapper receives its `struct pt_regs *` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyscallAbi {
    /// `__x64_sys_*`: x86_64 syscalls (arguments di, si, dx, r10, r8, r9).
    X64,
    /// `__ia32_sys_*`: 32-bit syscalls on an x86_64 kernel (bx, cx, dx, si, di, bp).
    Ia32,
    /// `__arm64_sys_*`: arm64 syscalls (x0..x5, `regs[n]` at `8 * n`).
    Arm64,
}

impl SyscallAbi {
    /// The register that holds the `struct pt_regs *`, as a fetch-arg.
    pub fn regs_register(self) -> &'static str {
        match self {
            Self::X64 | Self::Ia32 => "%di",
            Self::Arm64 => "%x0",
        }
    }

    /// Offsets in `struct pt_regs` of syscall arguments 1..=6.
    fn arg_offsets(self) -> [u8; 6] {
        match self {
            // di, si, dx, r10, r8, r9
            Self::X64 => [0x70, 0x68, 0x60, 0x38, 0x48, 0x40],
            // bx, cx, dx, si, di, bp
            Self::Ia32 => [0x28, 0x58, 0x60, 0x68, 0x70, 0x20],
            // regs[0..6]
            Self::Arm64 => [0x00, 0x08, 0x10, 0x18, 0x20, 0x28],
        }
    }
}

/// A syscall entry point whose arguments are not in the usual registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallWrapper {
    symbol: String,
    syscall: String,
    /// `None` for the inner `__do_sys_*`/`__se_sys_*` functions, which take ordinary
    /// arguments.
    abi: Option<SyscallAbi>,
    compat: bool,
}

/// Wrapper prefixes: (prefix, ABI, compat).
const WRAPPERS: [(&str, Option<SyscallAbi>, bool); 10] = [
    ("__x64_sys_", Some(SyscallAbi::X64), false),
    ("__x64_compat_sys_", Some(SyscallAbi::X64), true),
    ("__ia32_sys_", Some(SyscallAbi::Ia32), false),
    ("__ia32_compat_sys_", Some(SyscallAbi::Ia32), true),
    ("__arm64_sys_", Some(SyscallAbi::Arm64), false),
    ("__arm64_compat_sys_", Some(SyscallAbi::Arm64), true),
    ("__do_sys_", None, false),
    ("__se_sys_", None, false),
    ("__do_compat_sys_", None, true),
    ("__se_compat_sys_", None, true),
];

impl SyscallWrapper {
    /// Recognizes `symbol` as a syscall wrapper or body by its prefix.
    pub fn detect(symbol: &str) -> Option<Self> {
        WRAPPERS.iter().find_map(|(prefix, abi, compat)| {
            let syscall = symbol.strip_prefix(prefix)?;
            (!syscall.is_empty()).then(|| Self {
                symbol: symbol.to_owned(),
                syscall: syscall.to_owned(),
                abi: *abi,
                compat: *compat,
            })
        })
    }

    /// The syscall's name (`openat`).
    pub fn syscall(&self) -> &str {
        &self.syscall
    }

    /// The ABI whose `struct pt_regs *` the wrapper takes, or `None` for a syscall body
    /// that takes its arguments directly.
    pub fn abi(&self) -> Option<SyscallAbi> {
        self.abi
    }

    /// The fetch-arg that reaches syscall argument `n` (1-based, up to 6) through the
    /// `pt_regs` pointer, e.g. `+0x70(%di)` for argument 1 of `__x64_sys_*`.
    pub fn fetch_arg(&self, n: usize) -> Option<String> {
        let abi = self.abi?;
        let offset = abi.arg_offsets().get(n.checked_sub(1)?).copied()?;
        Some(format!("+0x{offset:x}({})", abi.regs_register()))
    }

    /// The tracepoint that records this syscall's arguments already decoded.
    pub fn tracepoint(&self) -> String {
        if self.compat {
            "raw_syscalls:sys_enter".to_owned()
        } else {
            format!("syscalls:sys_enter_{}", self.syscall)
        }
    }
}

impl fmt::Display for SyscallWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.abi {
            Some(abi) => {
                write!(
                    f,
                    "`{}` takes a `struct pt_regs *` in {}, not the arguments of `{}`: reach them with",
                    self.symbol,
                    abi.regs_register(),
                    self.syscall
                )?;
                for n in 1..=6 {
                    if let Some(arg) = self.fetch_arg(n) {
                        let sep = if n == 1 { "" } else { "," };
                        write!(f, "{sep} arg{n}={arg}")?;
                    }
                }
                write!(
                    f,
                    " (add a type, e.g. `:u64`); or trace `{}`",
                    self.tracepoint()
                )
            }
            None => write!(
                f,
                "`{}` is the body of syscall `{}` and is often inlined; `{}` records the \
                 arguments on every kernel",
                self.symbol,
                self.syscall,
                self.tracepoint()
            ),
        }
    }
}

/// Something to know about a target that does not stop it being probed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetWarning {
    /// A syscall wrapper: its arguments sit behind a `pt_regs` pointer.
    SyscallWrapper(SyscallWrapper),
    /// A check could not be made.
    CheckSkipped(SkippedCheck),
}

impl fmt::Display for TargetWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SyscallWrapper(w) => w.fmt(f),
            Self::CheckSkipped(s) => s.fmt(f),
        }
    }
}

/// A kernel function a kprobe can attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    name: String,
    module: Option<String>,
    addr: Option<KernelAddr>,
    size: Option<u64>,
    by_address: bool,
    warnings: Vec<TargetWarning>,
}

impl Target {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its module, or `None` for vmlinux.
    pub fn module(&self) -> Option<&str> {
        self.module.as_deref()
    }

    /// Its address, or `None` when the kernel hides addresses.
    pub fn addr(&self) -> Option<KernelAddr> {
        self.addr
    }

    /// Its size (distance to the next symbol), when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// What to know before probing it.
    pub fn warnings(&self) -> &[TargetWarning] {
        &self.warnings
    }

    /// Where a kprobe definition should point: the address if the target was chosen by
    /// address, else `[MOD:]SYM`.
    pub fn place(&self) -> Place {
        match (self.by_address, self.addr) {
            (true, Some(addr)) => Place::Address(addr),
            _ => Place::Symbol {
                module: self.module.clone(),
                symbol: self.name.clone(),
                offset: 0,
            },
        }
    }
}

/// One of several symbols that share a name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// The address, or `None` when hidden.
    pub addr: Option<KernelAddr>,
    /// The module, or `None` for vmlinux.
    pub module: Option<String>,
    /// The type letter.
    pub sym_type: SymType,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(addr) => write!(f, "{addr}")?,
            None => f.write_str("(address hidden)")?,
        }
        write!(
            f,
            " {} [{}]",
            self.sym_type,
            self.module.as_deref().unwrap_or("vmlinux")
        )
    }
}

/// Why a symbol cannot be probed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// No symbol of that name (in that module).
    NotFound {
        /// Close names, best first (at most three).
        suggestions: Vec<String>,
    },
    /// The symbol is data, not code.
    NotText {
        /// Its type letter.
        sym_type: SymType,
    },
    /// Compiler padding (`__pfx_`, `__cfi_`) or a cold part (`.cold`), not an entry.
    NotFunctionEntry {
        /// The function it belongs to.
        function: String,
    },
    /// On the kprobe blacklist.
    Blacklisted {
        /// The blacklist line.
        entry: BlacklistEntry,
    },
    /// Not in `available_filter_functions`.
    NotTraceable,
    /// Several symbols share the name.
    Ambiguous {
        /// All of them, in address order.
        candidates: Vec<Candidate>,
    },
    /// An address was given, but the kernel hides addresses.
    AddressesHidden,
    /// An address was given that is not where a function starts.
    NotSymbolStart {
        /// What the address is, as `sym+off/size`, if anything.
        inside: Option<String>,
    },
}

/// A refusal to probe `query`, with the reason and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot probe `{query}`: {kind}")]
pub struct Refusal {
    query: String,
    kind: RefusalKind,
}

impl Refusal {
    /// What was asked for.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Why it was refused.
    pub fn kind(&self) -> &RefusalKind {
        &self.kind
    }
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { suggestions } => {
                f.write_str(
                    "no such kernel function in /proc/kallsyms (inlined at every call site, \
                     or in a module that is not loaded)",
                )?;
                if !suggestions.is_empty() {
                    let list: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
                    write!(f, " (hint: did you mean {}?)", list.join(", "))?;
                }
                Ok(())
            }
            Self::NotText { sym_type } => write!(
                f,
                "it is a data symbol (type `{sym_type}`), not a function (hint: only `t`/`T`/`w`/`W` symbols can be probed)"
            ),
            Self::NotFunctionEntry { function } => write!(
                f,
                "it is compiler padding or a cold part, not a function entry (hint: probe `{function}`)"
            ),
            Self::Blacklisted { entry } => write!(
                f,
                "it is on the kprobe blacklist ({}-{}): a probe there could recurse or crash \
                 the kernel (hint: probe its caller, or a tracepoint)",
                entry.start, entry.end
            ),
            Self::NotTraceable => f.write_str(
                "it is not in available_filter_functions: it is likely `notrace` (or noinstr/init \
                 code), or inlined into its callers so this copy is not what runs \
                 (hint: probe a caller, or a tracepoint)",
            ),
            Self::Ambiguous { candidates } => {
                write!(f, "{} symbols have this name:", candidates.len())?;
                for (i, c) in candidates.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{c}")?;
                }
                f.write_str(" (hint: pick one as `MODULE:SYM` if it is in a module, or by its address")?;
                if candidates.iter().any(|c| c.addr.is_none()) {
                    f.write_str(
                        ", which needs real addresses: run as root, and if that is not enough \
                         `sysctl kernel.kptr_restrict=0`",
                    )?;
                }
                f.write_str(")")
            }
            Self::AddressesHidden => f.write_str(
                "kernel addresses are hidden (all zero in /proc/kallsyms) (hint: run as root, and if \
                 that is not enough `sysctl kernel.kptr_restrict=0`; or probe by name)",
            ),
            Self::NotSymbolStart { inside } => {
                f.write_str("no function starts at this address")?;
                if let Some(inside) = inside {
                    write!(f, " (it is inside `{inside}`)")?;
                }
                Ok(())
            }
        }
    }
}

/// What a probe-target query names.
enum Query<'a> {
    Address(KernelAddr),
    Symbol {
        module: Option<&'a str>,
        name: &'a str,
    },
}

fn parse_query(query: &str) -> Query<'_> {
    if let Some(hex) = query
        .strip_prefix("0x")
        .or_else(|| query.strip_prefix("0X"))
    {
        if let Ok(addr) = u64::from_str_radix(hex, 16) {
            return Query::Address(KernelAddr(addr));
        }
    }
    match query.split_once(':') {
        Some((module, name)) if !module.is_empty() => Query::Symbol {
            module: Some(module),
            name,
        },
        _ => Query::Symbol {
            module: None,
            name: query,
        },
    }
}

/// The function a padding or cold-part name belongs to.
fn entry_of(name: &str) -> Option<&str> {
    PADDING_PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .or_else(|| name.strip_suffix(".cold"))
        .or_else(|| name.split_once(".cold.").map(|(f, _)| f))
}

impl KsymIndex {
    /// Decides whether `query` can carry a kprobe: `SYM`, `MODULE:SYM` (`vmlinux:SYM` for
    /// the core kernel) or a `0x…` address where a function starts. The checks that
    /// `ctx` cannot make are listed as warnings of the target.
    pub fn probe_target(&self, query: &str, ctx: &ProbeContext) -> Result<Target, Refusal> {
        let refuse = |kind| Refusal {
            query: query.to_owned(),
            kind,
        };
        let (sym, by_address) = match parse_query(query) {
            Query::Address(addr) => {
                if self.addresses_hidden() {
                    return Err(refuse(RefusalKind::AddressesHidden));
                }
                let at = self.resolve(addr);
                // Of aliases at this address, prefer a text symbol.
                let aliases = self.at(addr);
                let sym = aliases
                    .iter()
                    .find(|s| s.sym_type.is_text())
                    .or(aliases.first())
                    .copied();
                let Some(sym) = sym else {
                    return Err(refuse(RefusalKind::NotSymbolStart {
                        inside: at.map(|at| at.to_string()),
                    }));
                };
                (sym, true)
            }
            Query::Symbol { module, name } => {
                let found = match module {
                    Some(module) => self.find_in_module(module, name),
                    None => self.find_all(name),
                };
                let candidates = self.distinct(&found);
                match candidates.as_slice() {
                    [] => {
                        return Err(refuse(RefusalKind::NotFound {
                            suggestions: self.suggest(module, name),
                        }))
                    }
                    [one] => (*one, false),
                    many => {
                        return Err(refuse(RefusalKind::Ambiguous {
                            candidates: many
                                .iter()
                                .map(|s| Candidate {
                                    addr: (!self.addresses_hidden()).then_some(s.addr),
                                    module: s.module.map(str::to_owned),
                                    sym_type: s.sym_type,
                                })
                                .collect(),
                        }))
                    }
                }
            }
        };
        self.check(sym, ctx).map_err(refuse)?;
        let mut warnings: Vec<TargetWarning> = SyscallWrapper::detect(sym.name)
            .map(TargetWarning::SyscallWrapper)
            .into_iter()
            .collect();
        warnings.extend(
            ctx.skipped_checks()
                .into_iter()
                .map(TargetWarning::CheckSkipped),
        );
        Ok(Target {
            name: sym.name.to_owned(),
            module: sym.module.map(str::to_owned),
            addr: (!self.addresses_hidden()).then_some(sym.addr),
            size: sym.size,
            by_address,
            warnings,
        })
    }

    /// `found` without exact repeats (same address and module); with hidden addresses
    /// every entry counts.
    fn distinct<'a>(&self, found: &[Ksym<'a>]) -> Vec<Ksym<'a>> {
        let mut out: Vec<Ksym<'a>> = Vec::with_capacity(found.len());
        for sym in found {
            let repeat = !self.addresses_hidden()
                && out
                    .iter()
                    .any(|s| s.addr == sym.addr && s.module == sym.module);
            if !repeat {
                out.push(*sym);
            }
        }
        out
    }

    /// The per-symbol checks: a function entry, not blacklisted, hookable.
    fn check(&self, sym: Ksym<'_>, ctx: &ProbeContext) -> Result<(), RefusalKind> {
        if !sym.sym_type.is_text() {
            return Err(RefusalKind::NotText {
                sym_type: sym.sym_type,
            });
        }
        if let Some(function) = entry_of(sym.name) {
            return Err(RefusalKind::NotFunctionEntry {
                function: function.to_owned(),
            });
        }
        let addr = (!self.addresses_hidden()).then_some(sym.addr);
        if let Some(entry) = ctx
            .blacklist()
            .and_then(|bl| bl.find(sym.module, sym.name, addr))
        {
            return Err(RefusalKind::Blacklisted {
                entry: entry.clone(),
            });
        }
        if let Some(ff) = ctx.filter_functions() {
            if !ff.contains(sym.module, sym.name) {
                return Err(RefusalKind::NotTraceable);
            }
        }
        Ok(())
    }

    /// Up to three names close to `name`: compiler clones (`name.constprop.0`,
    /// `name.isra.0`) first, then the nearest by edit distance; for `MODULE:SYM`, where
    /// else `SYM` lives.
    fn suggest(&self, module: Option<&str>, name: &str) -> Vec<String> {
        if let Some(module) = module {
            let elsewhere: Vec<String> = self
                .find_all(name)
                .iter()
                .map(|s| format!("{}:{name}", s.module.unwrap_or("vmlinux")))
                .filter(|q| !q.starts_with(&format!("{module}:")))
                .take(MAX_SUGGESTIONS)
                .collect();
            if !elsewhere.is_empty() {
                return elsewhere;
            }
        }
        let is_text = |run: &[u32]| self.syms_at(run).any(|s| s.sym_type.is_text());
        let clone_prefix = format!("{name}.");
        let mut out: Vec<String> = self
            .names(&clone_prefix)
            .filter(|(n, run)| entry_of(n).is_none() && is_text(run))
            .map(|(n, _)| n.to_owned())
            .take(MAX_SUGGESTIONS)
            .collect();
        let max = max_distance(name.len());
        let mut near: Vec<(usize, &str)> = self
            .names("")
            .filter(|(n, _)| entry_of(n).is_none())
            .filter_map(|(n, run)| Some((bounded_distance(name, n, max)?, n, run)))
            .filter(|(_, _, run)| is_text(run))
            .map(|(d, n, _)| (d, n))
            .collect();
        near.sort();
        for (_, n) in near {
            if out.len() >= MAX_SUGGESTIONS {
                break;
            }
            if !out.iter().any(|o| o == n) {
                out.push(n.to_owned());
            }
        }
        out
    }

    /// The probe-able functions whose names match the wildcard `glob` (`*`, `?`,
    /// `[set]`), sorted by name, each once. A name shared by several symbols is given
    /// as `MODULE:SYM` for each module that has exactly one; its vmlinux copies, which
    /// only an address can pick, are left out. Nothing matching is `Ok(vec![])`; more
    /// than `cap` matches is [`KallsymsError::TooManyMatches`]
    /// ([`DEFAULT_EXPAND_CAP`](super::DEFAULT_EXPAND_CAP) is perf's limit).
    pub fn expand(
        &self,
        glob: &str,
        ctx: &ProbeContext,
        cap: usize,
    ) -> Result<Vec<String>, KallsymsError> {
        let pattern = Glob::new(glob).map_err(|reason| KallsymsError::BadGlob {
            glob: glob.to_owned(),
            reason,
        })?;
        let prefix = pattern.literal_prefix();
        let mut out = Vec::new();
        for (name, run) in self.names(&prefix) {
            if !pattern.is_match(name) {
                continue;
            }
            let syms: Vec<Ksym<'_>> = self.syms_at(run).collect();
            let syms = self.distinct(&syms);
            match syms.as_slice() {
                [one] => {
                    if self.check(*one, ctx).is_ok() {
                        out.push(name.to_owned());
                    }
                }
                many => {
                    let mut modules: Vec<&str> = many.iter().filter_map(|s| s.module).collect();
                    modules.sort_unstable();
                    modules.dedup();
                    for module in &modules {
                        let mut in_module = many.iter().filter(|s| s.module == Some(module));
                        if let (Some(sym), None) = (in_module.next(), in_module.next()) {
                            if self.check(*sym, ctx).is_ok() {
                                out.push(format!("{module}:{name}"));
                            }
                        }
                    }
                }
            }
        }
        if out.len() > cap {
            return Err(KallsymsError::TooManyMatches {
                glob: glob.to_owned(),
                count: out.len(),
                cap,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kallsyms::FilterFunctions;
    use crate::kallsyms::KprobeBlacklist;
    use crate::kallsyms::DEFAULT_EXPAND_CAP;

    const SAMPLE: &[u8] = include_bytes!("testdata/kallsyms");

    /// `available_filter_functions` for the sample: no padding, no cold parts, no
    /// `do_syscall_64` (noinstr), module functions with their module.
    const FILTER_FUNCTIONS: &[u8] = b"srso_alias_untrain_ret\nabort\nparavirt_read_msr\n\
        paravirt_read_msr\nlruvec_stat_mod_folio.constprop.0\nkernel_clone\n__do_sys_clone\n\
        __do_sys_fork\n__ia32_sys_fork\n__x64_sys_fork\nkernel_file_open\ndentry_open_nonotify\n\
        build_open_how\nbuild_open_flags\ndo_sys_openat2\nfile_open_name\nfilp_open\ndo_sys_open\n\
        __x64_sys_open\n__ia32_sys_open\n__x64_sys_openat\n__ia32_sys_openat\n__x64_sys_openat2\n\
        vfs_read\n__kernel_write_iter\nvfs_write\nksys_read\n\
        ext4_has_free_clusters [ext4]\next4_file_open [ext4]\next4_file_read_iter [ext4]\n\
        ext4_file_write_iter [ext4]\ninit_once [ext4]\ncleanup_module [ext4]\n\
        init_once [fat]\ncleanup_module [fat]\n";

    const BLACKLIST: &[u8] = b"0xffffffff821ef620-0xffffffff821ef8a0\tdo_syscall_64\n\
        0xffffffffc0a01030-0xffffffffc0a010c0\tfat_file_fsync [fat]\n";

    /// A blacklist line for an otherwise hookable function.
    const BLACKLIST_VFS_READ: &[u8] = b"0xffffffff816bab70-0xffffffff816baed0\tvfs_read\n";

    fn index() -> KsymIndex {
        KsymIndex::load_from_reader(SAMPLE).unwrap()
    }

    fn full_ctx() -> ProbeContext {
        ProbeContext::new()
            .with_filter_functions(FilterFunctions::parse(FILTER_FUNCTIONS).unwrap())
            .with_blacklist(KprobeBlacklist::parse(BLACKLIST).unwrap())
    }

    fn refusal(index: &KsymIndex, query: &str, ctx: &ProbeContext) -> RefusalKind {
        index.probe_target(query, ctx).unwrap_err().kind().clone()
    }

    #[test]
    fn probe_target_accepts_a_function() {
        let index = index();
        let target = index.probe_target("do_sys_openat2", &full_ctx()).unwrap();
        assert_eq!(target.name(), "do_sys_openat2");
        assert_eq!(target.module(), None);
        assert_eq!(target.addr(), Some(KernelAddr(0xffff_ffff_816b_7430)));
        assert_eq!(target.size(), Some(0xd0));
        assert!(target.warnings().is_empty());
        assert_eq!(
            target.place(),
            Place::Symbol {
                module: None,
                symbol: "do_sys_openat2".into(),
                offset: 0
            }
        );
        let weak = index.probe_target("abort", &full_ctx()).unwrap();
        assert_eq!(weak.name(), "abort");
    }

    #[test]
    fn probe_target_says_which_checks_were_skipped() {
        let target = index()
            .probe_target("do_sys_openat2", &ProbeContext::new())
            .unwrap();
        let text: Vec<String> = target.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].contains("available_filter_functions"), "{text:?}");
        assert!(text[1].contains("blacklist"), "{text:?}");
    }

    #[test]
    fn not_found_suggests_close_names() {
        let index = index();
        let ctx = full_ctx();
        let RefusalKind::NotFound { suggestions } = refusal(&index, "do_sys_openat3", &ctx) else {
            panic!()
        };
        assert_eq!(suggestions[0], "do_sys_openat2");
        assert!(suggestions.len() <= 3);
        assert!(!suggestions.iter().any(|s| s.starts_with("__pfx_")));
        let RefusalKind::NotFound { suggestions } = refusal(&index, "lruvec_stat_mod_folio", &ctx)
        else {
            panic!()
        };
        assert_eq!(suggestions[0], "lruvec_stat_mod_folio.constprop.0");
        let RefusalKind::NotFound { suggestions } = refusal(&index, "xfs:ext4_file_open", &ctx)
        else {
            panic!()
        };
        assert_eq!(suggestions, ["ext4:ext4_file_open"]);
        let err = index
            .probe_target("vfs_raed", &ctx)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `vfs_read`"), "{err}");
    }

    #[test]
    fn refuses_data_padding_and_cold_parts() {
        let index = index();
        let ctx = full_ctx();
        assert!(matches!(
            refusal(&index, "__start_rodata", &ctx),
            RefusalKind::NotText { .. }
        ));
        assert!(matches!(
            refusal(&index, "ext4:ext4_fs_type", &ctx),
            RefusalKind::NotText { .. }
        ));
        assert_eq!(
            refusal(&index, "__pfx_do_sys_openat2", &ctx),
            RefusalKind::NotFunctionEntry {
                function: "do_sys_openat2".into()
            }
        );
        assert_eq!(
            refusal(&index, "do_exit.cold", &ctx),
            RefusalKind::NotFunctionEntry {
                function: "do_exit".into()
            }
        );
    }

    #[test]
    fn refuses_blacklisted_and_untraceable() {
        let index = index();
        let ctx = full_ctx();
        let RefusalKind::Blacklisted { entry } = refusal(&index, "do_syscall_64", &ctx) else {
            panic!()
        };
        assert_eq!(entry.name, "do_syscall_64");
        assert!(matches!(
            refusal(&index, "fat:fat_file_fsync", &ctx),
            RefusalKind::Blacklisted { .. }
        ));
        // Not blacklisted, not hookable: the reason names notrace and inlining.
        let ctx = ProbeContext::new()
            .with_filter_functions(FilterFunctions::parse(FILTER_FUNCTIONS).unwrap());
        let err = index.probe_target("do_syscall_64", &ctx).unwrap_err();
        assert_eq!(*err.kind(), RefusalKind::NotTraceable);
        let text = err.to_string();
        assert!(
            text.contains("notrace") && text.contains("inlined"),
            "{text}"
        );
    }

    #[test]
    fn duplicates_are_ambiguous_with_a_way_out() {
        let index = index();
        let ctx = full_ctx();
        let err = index.probe_target("init_once", &ctx).unwrap_err();
        let RefusalKind::Ambiguous { candidates } = err.kind() else {
            panic!()
        };
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[0].module.as_deref(), Some("ext4"));
        let text = err.to_string();
        assert!(
            text.contains("MODULE:SYM") && text.contains("[fat]"),
            "{text}"
        );
        let ext4 = index.probe_target("ext4:init_once", &ctx).unwrap();
        assert_eq!(ext4.module(), Some("ext4"));
        assert!(matches!(ext4.place(), Place::Symbol { module: Some(m), .. } if m == "ext4"));

        // Two static copies in vmlinux: only the address picks one.
        let RefusalKind::Ambiguous { candidates } = refusal(&index, "paravirt_read_msr", &ctx)
        else {
            panic!()
        };
        assert_eq!(candidates.len(), 2);
        let addr = candidates[1].addr.unwrap();
        let picked = index.probe_target(&addr.to_string(), &ctx).unwrap();
        assert_eq!(picked.name(), "paravirt_read_msr");
        assert_eq!(picked.place(), Place::Address(addr));
    }

    #[test]
    fn address_queries() {
        let index = index();
        let ctx = full_ctx();
        // Aliases: the text one that is a function entry.
        let t = index.probe_target("0xffffffff816b7430", &ctx).unwrap();
        assert_eq!(t.name(), "do_sys_openat2");
        let RefusalKind::NotSymbolStart { inside } = refusal(&index, "0xffffffff816b7435", &ctx)
        else {
            panic!()
        };
        assert_eq!(inside.as_deref(), Some("do_sys_openat2+0x5/0xd0"));
        let hidden =
            KsymIndex::load_from_reader(&b"0000000000000000 t do_sys_openat2\n"[..]).unwrap();
        assert_eq!(
            refusal(&hidden, "0xffffffff816b7430", &ctx),
            RefusalKind::AddressesHidden
        );
        // By name it still works, without an address.
        let t = hidden.probe_target("do_sys_openat2", &ctx).unwrap();
        assert_eq!(t.addr(), None);
    }

    #[test]
    fn syscall_wrappers_warn_with_fetch_args() {
        let index = index();
        let t = index.probe_target("__x64_sys_openat", &full_ctx()).unwrap();
        let [TargetWarning::SyscallWrapper(w)] = t.warnings() else {
            panic!("{:?}", t.warnings())
        };
        assert_eq!(w.syscall(), "openat");
        assert_eq!(w.fetch_arg(1).as_deref(), Some("+0x70(%di)"));
        assert_eq!(w.fetch_arg(2).as_deref(), Some("+0x68(%di)"));
        assert_eq!(w.fetch_arg(3).as_deref(), Some("+0x60(%di)"));
        assert_eq!(w.fetch_arg(4).as_deref(), Some("+0x38(%di)"));
        assert_eq!(w.fetch_arg(5).as_deref(), Some("+0x48(%di)"));
        assert_eq!(w.fetch_arg(6).as_deref(), Some("+0x40(%di)"));
        assert_eq!(w.fetch_arg(0), None);
        assert_eq!(w.fetch_arg(7), None);
        let text = w.to_string();
        assert!(
            text.contains("struct pt_regs *") && text.contains("syscalls:sys_enter_openat"),
            "{text}"
        );
        let arm = SyscallWrapper::detect("__arm64_sys_read").unwrap();
        assert_eq!(arm.fetch_arg(2).as_deref(), Some("+0x8(%x0)"));
        let ia32 = SyscallWrapper::detect("__ia32_sys_open").unwrap();
        assert_eq!(ia32.fetch_arg(1).as_deref(), Some("+0x28(%di)"));
        let body = SyscallWrapper::detect("__do_sys_fork").unwrap();
        assert_eq!(body.abi(), None);
        assert_eq!(body.fetch_arg(1), None);
        assert!(body.to_string().contains("syscalls:sys_enter_fork"));
        assert!(SyscallWrapper::detect("__x64_sys_").is_none());
        assert!(SyscallWrapper::detect("vfs_read").is_none());
    }

    #[test]
    fn expand_wildcards() {
        let index = index();
        let ctx = full_ctx();
        assert_eq!(
            index.expand("vfs_*", &ctx, DEFAULT_EXPAND_CAP).unwrap(),
            ["vfs_read", "vfs_write"]
        );
        // The blacklist applies.
        let all = ProbeContext::new()
            .with_filter_functions(FilterFunctions::parse(FILTER_FUNCTIONS).unwrap())
            .with_blacklist(KprobeBlacklist::parse(BLACKLIST_VFS_READ).unwrap());
        assert_eq!(index.expand("vfs_*", &all, 128).unwrap(), ["vfs_write"]);
        // Duplicates: module copies qualified, vmlinux copies left out.
        assert_eq!(
            index.expand("*init_once", &ctx, 128).unwrap(),
            ["ext4:init_once", "fat:init_once"]
        );
        assert!(index.expand("paravirt_*", &ctx, 128).unwrap().is_empty());
        // Padding and data never match; nothing matching is not an error.
        let open = index.expand("*openat*", &ctx, 128).unwrap();
        assert_eq!(
            open,
            [
                "__ia32_sys_openat",
                "__x64_sys_openat",
                "__x64_sys_openat2",
                "do_sys_openat2"
            ]
        );
        assert!(index.expand("nothing_*", &ctx, 128).unwrap().is_empty());
        // Without available_filter_functions, only kallsyms decides.
        let loose = index.expand("ext4_*", &ProbeContext::new(), 128).unwrap();
        assert_eq!(
            loose,
            [
                "ext4_file_open",
                "ext4_file_read_iter",
                "ext4_file_write_iter",
                "ext4_has_free_clusters"
            ]
        );
    }

    #[test]
    fn expand_caps_and_bad_globs() {
        let index = index();
        let ctx = full_ctx();
        let err = index.expand("*", &ctx, 3).unwrap_err();
        let KallsymsError::TooManyMatches { count, cap, .. } = err else {
            panic!("{err}")
        };
        assert!(count > 3);
        assert_eq!(cap, 3);
        assert!(err_text(&index, "*").contains("raise the limit"));
        assert!(matches!(
            index.expand("vfs_[rw", &ctx, 128),
            Err(KallsymsError::BadGlob { .. })
        ));
    }

    fn err_text(index: &KsymIndex, glob: &str) -> String {
        index
            .expand(glob, &ProbeContext::new(), 1)
            .unwrap_err()
            .to_string()
    }

    /// Every expansion is a query `probe_target` accepts.
    #[test]
    fn expansion_agrees_with_probe_target() {
        let index = index();
        let ctx = full_ctx();
        for q in index.expand("*", &ctx, usize::MAX).unwrap() {
            assert!(index.probe_target(&q, &ctx).is_ok(), "{q}");
        }
    }

    /// This host's tables; skipped where they cannot be read.
    #[test]
    fn live_probe_target() {
        let Ok(index) = KsymIndex::load() else {
            eprintln!("skipping: /proc/kallsyms unreadable");
            return;
        };
        let ctx = ProbeContext::load(
            std::path::Path::new("/sys/kernel/tracing"),
            std::path::Path::new(crate::kallsyms::DEBUGFS),
        );
        for skipped in ctx.skipped_checks() {
            eprintln!("note: {skipped}");
        }
        match index.probe_target("do_sys_openat2", &ctx) {
            Ok(t) => assert_eq!(t.name(), "do_sys_openat2"),
            Err(e) => eprintln!("skipping: {e}"),
        }
        let vfs = index.expand("vfs_*", &ctx, usize::MAX).unwrap();
        assert!(vfs
            .iter()
            .all(|n| n.starts_with("vfs_") || n.contains(":vfs_")));
    }
}
