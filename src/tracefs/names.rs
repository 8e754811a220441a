//! Checks on names that become tracefs paths or definition heads (kernel-notes.md §1.5).

use super::error::TracefsErrorKind;

/// The longest group, event or instance name the kernel takes (MAX_EVENT_NAME_LEN − 1).
pub const MAX_NAME_LEN: usize = 63;

/// An event name: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes (the spec grammar's rule,
/// checked again here because these names become paths and definition heads).
pub(crate) fn check_event_name(name: &str) -> Result<(), TracefsErrorKind> {
    crate::spec::check_event_name(name).map_err(|_| invalid(name))
}

/// A group name: like an event name, and `-` is allowed after the first character.
pub(crate) fn check_group_name(name: &str) -> Result<(), TracefsErrorKind> {
    crate::spec::check_group_name(name).map_err(|_| invalid(name))
}

/// An instance name: tprobe only makes instances named like groups.
pub(crate) fn check_instance_name(name: &str) -> Result<(), TracefsErrorKind> {
    check_group_name(name)
}

fn invalid(name: &str) -> TracefsErrorKind {
    TracefsErrorKind::InvalidName {
        name: name.escape_debug().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_event_name("open_1").is_ok());
        assert!(check_event_name("_x").is_ok());
        assert!(check_group_name("tprobe_1_2_3").is_ok());
        assert!(check_group_name("my-grp").is_ok());
        assert!(check_event_name("my-ev").is_err());
        for bad in ["", "1abc", "a/b", "a.b", "..", "a\nb", "a b", "é"] {
            assert!(check_group_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_group_name(&"a".repeat(63)).is_ok());
        assert!(check_group_name(&"a".repeat(64)).is_err());
    }
}
