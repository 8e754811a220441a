//! One probe argument, `[NAME=]FETCHARG[:TYPE]`, and the rules for each probe kind.

use std::fmt;

use super::fetch_arg::parse_fetch_arg;
use super::fetch_arg::FetchCtx;
use super::fetch_type::parse_fetch_type;
use super::names::check_arg_name;
use super::names::MAX_ARGSTR_LEN;
use super::BaseType;
use super::FetchArg;
use super::FetchType;
use super::ProbeKind;
use super::SpecError;
use super::SpecErrorKind;

/// One argument of a probe: an optional field name, what to fetch, and its type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeArg {
    pub(crate) name: Option<String>,
    pub(crate) fetch: FetchArg,
    pub(crate) ty: Option<FetchType>,
}

impl ProbeArg {
    /// The field name given with `NAME=`, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What the argument fetches.
    pub fn fetch(&self) -> &FetchArg {
        &self.fetch
    }

    /// The type given with `:TYPE`; `None` means the kernel default (`x64`, or `x32` on
    /// 32-bit kernels; `string` for `$comm` and immediate strings).
    pub fn fetch_type(&self) -> Option<FetchType> {
        self.ty
    }

    /// The field name the kernel gives this argument at 1-based `position`: its
    /// `NAME=`, a bare BTF name, or `argN`. `None` when the kernel derives it in a way
    /// tprobe does not model (BTF member accesses).
    pub fn field_name(&self, position: usize) -> Option<String> {
        match (&self.name, &self.fetch) {
            (Some(name), _) => Some(name.clone()),
            (None, FetchArg::Btf { name, steps }) if steps.is_empty() => Some(name.clone()),
            (None, FetchArg::Btf { .. }) => None,
            (None, _) => Some(format!("arg{position}")),
        }
    }
}

impl fmt::Display for ProbeArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name}=")?;
        }
        self.fetch.fmt(f)?;
        if let Some(ty) = &self.ty {
            write!(f, ":{ty}")?;
        }
        Ok(())
    }
}

/// What the arguments of one probe may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArgCtx {
    pub(crate) kind: ProbeKind,
    /// The probe sits on a function entry (a kprobe without `+OFF`), so `$argN` works.
    pub(crate) at_entry: bool,
}

/// Parses the argument token `text`, which starts at byte `start` of the spec, and
/// checks it against `ctx`. Every problem found goes to `errors`.
pub(crate) fn parse_probe_arg(
    text: &str,
    start: usize,
    ctx: ArgCtx,
    errors: &mut Vec<SpecError>,
) -> Option<ProbeArg> {
    let before = errors.len();
    let mut push = |kind, from: usize, len: usize| {
        errors.push(SpecError::new(kind, start + from..start + from + len));
    };
    let (name, body, body_at) = match text.split_once('=') {
        Some((name, body)) => {
            if let Err(kind) = check_arg_name(name) {
                push(kind, 0, name.len());
            }
            (Some(name), body, name.len() + 1)
        }
        None => (None, text, 0),
    };
    if body.is_empty() {
        push(SpecErrorKind::EmptyArg, 0, text.len());
        return None;
    }
    if body.len() > MAX_ARGSTR_LEN {
        push(SpecErrorKind::ArgTooLong(body.len()), body_at, body.len());
    }
    let (fetch_text, ty_text) = match body.split_once(':') {
        Some((fetch, ty)) => (fetch, Some(ty)),
        None => (body, None),
    };
    let ty_at = body_at + fetch_text.len() + 1;
    let ty = ty_text.and_then(|t| match parse_fetch_type(t) {
        Ok(ty) => Some(ty),
        Err(kind) => {
            push(kind, ty_at, t.len());
            None
        }
    });
    let fetch_ctx = FetchCtx {
        event_fields: ctx.kind == ProbeKind::Eprobe,
    };
    let fetch = match parse_fetch_arg(fetch_text, fetch_ctx) {
        Ok(fetch) => Some(fetch),
        Err((kind, at)) => {
            push(
                kind,
                body_at + at,
                fetch_text.len().saturating_sub(at).max(1),
            );
            None
        }
    };
    let fetch = fetch?;
    if ty_text.is_some() && ty.is_none() {
        return None;
    }
    for (kind, on_type) in check_arg(&fetch, ty, ctx) {
        match (on_type, ty_text) {
            (true, Some(t)) => push(kind, ty_at, t.len()),
            _ => push(kind, body_at, fetch_text.len()),
        }
    }
    (errors.len() == before).then(|| ProbeArg {
        name: name.map(str::to_owned),
        fetch,
        ty,
    })
}

/// The kind-specific rules of kernel-notes §1.7 and §1.8. Each error says whether it
/// is about the type (`true`) or the fetch expression.
pub(crate) fn check_arg(
    fetch: &FetchArg,
    ty: Option<FetchType>,
    ctx: ArgCtx,
) -> Vec<(SpecErrorKind, bool)> {
    let kind = ctx.kind;
    let mut out = Vec::new();
    fetch.for_each(|node| {
        let error = match node {
            FetchArg::Register(_) if !kind.has_regs() => {
                Some(SpecErrorKind::RegisterNotAllowed(kind.plural()))
            }
            FetchArg::Symbol { .. } if kind.is_user() => Some(SpecErrorKind::SymbolOnUprobe),
            FetchArg::FileRelative(_) if !kind.is_user() => Some(SpecErrorKind::FileOffsetOnKernel),
            FetchArg::Retval if !kind.is_return() => Some(SpecErrorKind::RetvalNotOnReturn),
            FetchArg::Arg(_) if kind.is_user() => Some(SpecErrorKind::ArgOnUprobe),
            FetchArg::Arg(_) if kind == ProbeKind::Kprobe && !ctx.at_entry => {
                Some(SpecErrorKind::ArgNotAtEntry)
            }
            FetchArg::Btf { .. } if kind.is_user() || kind == ProbeKind::Eprobe => {
                Some(SpecErrorKind::BtfNotAllowed(kind.plural()))
            }
            FetchArg::ImmString(_) if kind.is_user() => Some(SpecErrorKind::ImmStringOnUprobe),
            _ => None,
        };
        out.extend(error.map(|e| (e, false)));
    });
    let root = fetch.root();
    if matches!(fetch, FetchArg::Comm | FetchArg::ImmString(_)) {
        let plain_string = ty.is_none_or(|t| t.base == BaseType::String && t.array.is_none());
        if !plain_string {
            out.push((SpecErrorKind::NeedsStringType, true));
        }
        return out;
    }
    let Some(ty) = ty else {
        return out;
    };
    if kind.is_user() && ty.base.is_kernel_only() {
        out.push((SpecErrorKind::KernelTypeOnUprobe(ty.base.to_string()), true));
    }
    let btf = matches!(root, FetchArg::Btf { .. });
    match ty.base {
        BaseType::String | BaseType::Ustring => {
            let from_value = match fetch {
                FetchArg::Register(_) | FetchArg::Stack | FetchArg::StackN(_) => true,
                // BTF-typed kernels may turn these into string reads; uprobes never do.
                FetchArg::Retval | FetchArg::Arg(_) => kind.is_user(),
                _ => false,
            };
            if from_value {
                out.push((SpecErrorKind::StringNeedsMemory, true));
            }
        }
        BaseType::Symstr => {
            if matches!(
                fetch,
                FetchArg::Stack | FetchArg::Immediate(_) | FetchArg::FileRelative(_)
            ) {
                out.push((SpecErrorKind::SymstrNeedsValue, true));
            }
        }
        _ => {}
    }
    if ty.array.is_some() && !fetch.is_memory() && !btf {
        out.push((SpecErrorKind::ArrayNeedsMemory, true));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(kind: ProbeKind) -> ArgCtx {
        ArgCtx {
            kind,
            at_entry: true,
        }
    }

    fn check(text: &str, kind: ProbeKind) -> Result<ProbeArg, Vec<SpecErrorKind>> {
        let mut errors = Vec::new();
        match parse_probe_arg(text, 0, ctx(kind), &mut errors) {
            Some(arg) if errors.is_empty() => Ok(arg),
            _ => Err(errors.into_iter().map(|e| e.kind().clone()).collect()),
        }
    }

    #[test]
    fn args_print_back() {
        for s in [
            "path=+0(%si):string",
            "%di",
            "a=%di:s32",
            "x=+0(%si):u32[4]",
            "c=$comm",
            "c=$comm:string",
            "bf=+0(%di):b4@4/8",
        ] {
            assert_eq!(
                check(s, ProbeKind::Uprobe).map(|a| a.to_string()),
                Ok(s.into())
            );
        }
    }

    #[test]
    fn kind_rules_follow_kernel_notes() {
        use ProbeKind::*;
        use SpecErrorKind as E;
        let cases: &[(&str, ProbeKind, SpecErrorKind)] = &[
            ("$retval", Kprobe, E::RetvalNotOnReturn),
            ("$retval", Uprobe, E::RetvalNotOnReturn),
            ("$retval", Fentry, E::RetvalNotOnReturn),
            ("@jiffies", Uprobe, E::SymbolOnUprobe),
            ("+0(@jiffies)", Uretprobe, E::SymbolOnUprobe),
            ("@+0x10", Kprobe, E::FileOffsetOnKernel),
            ("%di", Fentry, E::RegisterNotAllowed("fprobes")),
            ("%di", Eprobe, E::RegisterNotAllowed("eprobes")),
            (
                "+0(%di)",
                Tprobe,
                E::RegisterNotAllowed("tracepoint probes"),
            ),
            ("$arg1", Uprobe, E::ArgOnUprobe),
            ("filename", Uprobe, E::BtfNotAllowed("uprobes")),
            ("filename", Eprobe, E::BtfNotAllowed("eprobes")),
            ("$comm:u32", Kprobe, E::NeedsStringType),
            ("$comm:string[2]", Kprobe, E::NeedsStringType),
            ("\\\"x\":u8", Kprobe, E::NeedsStringType),
            ("\\\"x\"", Uprobe, E::ImmStringOnUprobe),
            ("%di:symbol", Uprobe, E::KernelTypeOnUprobe("symbol".into())),
            ("+0(%di):%pd", Uprobe, E::KernelTypeOnUprobe("%pd".into())),
            ("%si:string", Kprobe, E::StringNeedsMemory),
            ("$stack2:ustring", Uprobe, E::StringNeedsMemory),
            ("$retval:string", Uretprobe, E::StringNeedsMemory),
            ("$stack:symstr", Kprobe, E::SymstrNeedsValue),
            ("%di:u32[4]", Kprobe, E::ArrayNeedsMemory),
            (
                "common_pid=%di",
                Kprobe,
                E::ReservedArgName("common_pid".into()),
            ),
            ("9a=%di", Kprobe, E::BadArgName("9a".into())),
            ("a=", Kprobe, E::EmptyArg),
        ];
        for (text, kind, want) in cases {
            let got = check(text, *kind);
            assert_eq!(got, Err(vec![want.clone()]), "{text} on {kind}");
        }
    }

    #[test]
    fn allowed_forms_pass() {
        use ProbeKind::*;
        let cases: &[(&str, ProbeKind)] = &[
            ("$retval", Kretprobe),
            ("$retval:s32", Uretprobe),
            ("$retval", Fexit),
            ("$arg2:u32", Kprobe),
            ("$arg2", Fentry),
            ("$arg1", Kretprobe),
            ("filename", Fentry),
            ("f=file->f_path.dentry:%pd", Fexit),
            ("@jiffies:u64", Kprobe),
            ("@+0x4020:u32", Uprobe),
            ("$comm", Uprobe),
            ("$filename:string", Eprobe),
            ("+0($filename):u8", Eprobe),
            ("+u0(%si):string", Uprobe),
            ("\\42", Uprobe),
            ("%di:symstr", Kprobe),
            ("+0(%si):string[2]", Uprobe),
            ("@0x1000:x8[64]", Kprobe),
        ];
        for (text, kind) in cases {
            assert!(
                check(text, *kind).is_ok(),
                "{text} on {kind}: {:?}",
                check(text, *kind)
            );
        }
    }

    #[test]
    fn arg_at_offset_needs_entry() {
        let mut errors = Vec::new();
        let ctx = ArgCtx {
            kind: ProbeKind::Kprobe,
            at_entry: false,
        };
        assert!(parse_probe_arg("$arg1", 10, ctx, &mut errors).is_none());
        assert_eq!(errors[0].kind(), &SpecErrorKind::ArgNotAtEntry);
        assert_eq!(errors[0].span(), 10..15);
    }

    #[test]
    fn long_expression_is_rejected() {
        // The body after `x=` may be 63 bytes, not 64.
        let ok = format!("x=+0({}):u8", "a".repeat(56));
        assert!(check(&ok, ProbeKind::Kprobe).is_ok());
        let long = format!("x=+0({}):u8", "a".repeat(57));
        assert_eq!(
            check(&long, ProbeKind::Kprobe),
            Err(vec![SpecErrorKind::ArgTooLong(64)])
        );
    }
}
