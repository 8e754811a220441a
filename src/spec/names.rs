//! Kernel naming rules and limits for events, groups and arguments (kernel-notes §1.5).

use super::error::SpecErrorKind;

/// Longest event or group name the kernel takes (MAX_EVENT_NAME_LEN - 1).
pub(crate) const MAX_EVENT_NAME_LEN: usize = 63;
/// Longest argument name (MAX_ARG_NAME_LEN).
pub(crate) const MAX_ARG_NAME_LEN: usize = 32;
/// Longest fetch expression after `NAME=` (MAX_ARGSTR_LEN).
pub(crate) const MAX_ARGSTR_LEN: usize = 63;
/// Most arguments per probe (MAX_TRACE_ARGS).
pub(crate) const MAX_TRACE_ARGS: usize = 128;
/// Longest definition line (WRITE_BUFSIZE - 2).
pub(crate) const MAX_LINE_LEN: usize = 4094;
/// Largest array length (MAX_ARRAY_LEN).
pub(crate) const MAX_ARRAY_LEN: u32 = 64;
/// Largest kretprobe MAXACTIVE (KRETPROBE_MAXACTIVE_MAX).
pub(crate) const MAX_MAXACTIVE: u32 = 4096;

/// Field names every probe event already has.
pub(crate) const RESERVED_ARG_NAMES: [&str; 8] = [
    "common_type",
    "common_flags",
    "common_preempt_count",
    "common_pid",
    "common_tgid",
    "__probe_ip",
    "__probe_ret_ip",
    "__probe_func",
];

/// `[A-Za-z_][A-Za-z0-9_]*`, non-empty.
pub(crate) fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A name made only of `[A-Za-z0-9_]` and the bytes in `extra`, non-empty (for names
/// of existing events and modules, which may start with a digit).
pub(crate) fn is_word(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || extra.contains(&b))
}

/// Checks an event name: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 characters.
pub(crate) fn check_event_name(name: &str) -> Result<(), SpecErrorKind> {
    if !is_ident(name) {
        return Err(SpecErrorKind::BadEventName(name.to_owned()));
    }
    check_len("event name", name, MAX_EVENT_NAME_LEN)
}

/// Checks a group name: like an event name, but `-` is allowed after the first character.
pub(crate) fn check_group_name(name: &str) -> Result<(), SpecErrorKind> {
    let mut bytes = name.bytes();
    let good = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !good {
        return Err(SpecErrorKind::BadGroupName(name.to_owned()));
    }
    check_len("group name", name, MAX_EVENT_NAME_LEN)
}

/// Checks an argument name: identifier, at most 32 characters, not reserved.
pub(crate) fn check_arg_name(name: &str) -> Result<(), SpecErrorKind> {
    if !is_ident(name) {
        return Err(SpecErrorKind::BadArgName(name.to_owned()));
    }
    check_len("argument name", name, MAX_ARG_NAME_LEN)?;
    if RESERVED_ARG_NAMES.contains(&name) {
        return Err(SpecErrorKind::ReservedArgName(name.to_owned()));
    }
    Ok(())
}

fn check_len(what: &'static str, name: &str, max: usize) -> Result<(), SpecErrorKind> {
    let len = name.chars().count();
    if len > max {
        return Err(SpecErrorKind::NameTooLong {
            what,
            name: name.to_owned(),
            len,
            max,
        });
    }
    Ok(())
}

/// Turns any text into a valid event name: every character outside `[A-Za-z0-9_]`
/// becomes `_`, a leading digit gets a `_` in front, and the result is cut to `max`
/// characters (at most 63). Empty input gives `_`.
pub(crate) fn sanitize_event_name(raw: &str, max: usize) -> String {
    let max = max.clamp(1, MAX_EVENT_NAME_LEN);
    let mut out = String::with_capacity(raw.len().min(max) + 1);
    if raw.starts_with(|c: char| c.is_ascii_digit()) || raw.is_empty() {
        out.push('_');
    }
    out.extend(raw.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kernel_rules() {
        assert!(check_event_name("do_sys_open").is_ok());
        assert!(check_event_name("_x9").is_ok());
        assert!(check_event_name("9x").is_err());
        assert!(check_event_name("a-b").is_err());
        assert!(check_event_name("").is_err());
        assert!(check_event_name(&"a".repeat(63)).is_ok());
        assert!(matches!(
            check_event_name(&"a".repeat(64)),
            Err(SpecErrorKind::NameTooLong {
                len: 64,
                max: 63,
                ..
            })
        ));
        assert!(check_group_name("tprobe_42_0").is_ok());
        assert!(check_group_name("kfacts-x").is_ok());
        assert!(check_group_name("-x").is_err());
        assert!(check_arg_name(&"a".repeat(32)).is_ok());
        assert!(check_arg_name(&"a".repeat(33)).is_err());
        assert_eq!(
            check_arg_name("common_pid"),
            Err(SpecErrorKind::ReservedArgName("common_pid".into()))
        );
    }

    #[test]
    fn sanitize_makes_valid_names() {
        assert_eq!(
            sanitize_event_name("u_libc.so.6_malloc", 63),
            "u_libc_so_6_malloc"
        );
        assert_eq!(sanitize_event_name("9p", 63), "_9p");
        assert_eq!(sanitize_event_name("", 63), "_");
        assert_eq!(sanitize_event_name("é", 63), "_");
        let long = sanitize_event_name(&"x".repeat(200), 63);
        assert_eq!(long.len(), 63);
        for raw in ["a b", "\n", "::", "ü9", "9"] {
            assert!(
                check_event_name(&sanitize_event_name(raw, 63)).is_ok(),
                "{raw}"
            );
        }
    }
}
