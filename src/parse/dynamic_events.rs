//! Lines of `dynamic_events`, `kprobe_events` and `uprobe_events`, as the kernel lists them
//! and as tprobe writes them:
//!
//! ```text
//! p:tprobe_41_9_0/open /usr/bin/true:0x0000000000001140 path=+0(%si):string
//! r16:kprobes/r_vfs_read_0 vfs_read
//! f:fprobes/vfs_open__entry vfs_open
//! e:eprobes/openat syscalls.sys_enter_openat
//! -:tprobe_41_9_0/
//! ```
//! The head is `KIND[MAXACTIVE][:[GROUP/][EVENT]]` (the kernel also accepts `.` between
//! group and event); the rest of the line is kept as it is.

/// What kind of dynamic event a line defines (the head's first character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DynEventKind {
    /// `p`: a kprobe or uprobe (a uprobe's place holds a path, see
    /// [`DynamicEvent::is_uprobe`]).
    Probe,
    /// `r`: a kretprobe or uretprobe; a `SYM%return` kprobe is listed this way too.
    ReturnProbe,
    /// `f`: an fprobe (entry, or exit when the place ends in `%return`).
    Fprobe,
    /// `t`: a tracepoint probe.
    Tprobe,
    /// `e`: an event probe.
    Eprobe,
    /// `s`: a synthetic event.
    Synthetic,
    /// `-`: a deletion command.
    Delete,
}

/// One parsed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicEvent<'a> {
    /// The kind.
    pub kind: DynEventKind,
    /// `16` in `r16:`: a kretprobe's MAXACTIVE, when given.
    pub maxactive: Option<&'a [u8]>,
    /// The group, when the head names one (`GROUP/` or `GROUP.`).
    pub group: Option<&'a [u8]>,
    /// The event name, when the head names one (`p:GROUP/` leaves it out).
    pub event: Option<&'a [u8]>,
    /// Everything after the head and its separating whitespace: place, then arguments.
    pub rest: &'a [u8],
}

impl<'a> DynamicEvent<'a> {
    /// The first token of [`rest`](Self::rest): `PATH:0xOFF`, `SYM+off`, `grp.event`…
    pub fn place(&self) -> &'a [u8] {
        let end = self
            .rest
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(self.rest.len());
        self.rest.get(..end).unwrap_or_default()
    }

    /// A uprobe (or uretprobe): its place is `PATH:OFFSET` with a `/` in the path.
    pub fn is_uprobe(&self) -> bool {
        matches!(self.kind, DynEventKind::Probe | DynEventKind::ReturnProbe)
            && self.place().contains(&b'/')
            && self.place().contains(&b':')
    }
}

/// Parses one line (without its newline). `None` for blank lines, comments and text whose
/// head is not a dynamic-event head.
pub fn parse_dynamic_event(line: &[u8]) -> Option<DynamicEvent<'_>> {
    let line = trim(line);
    let kind = match line.first()? {
        b'p' => DynEventKind::Probe,
        b'r' => DynEventKind::ReturnProbe,
        b'f' => DynEventKind::Fprobe,
        b't' => DynEventKind::Tprobe,
        b'e' => DynEventKind::Eprobe,
        b's' => DynEventKind::Synthetic,
        b'-' => DynEventKind::Delete,
        _ => return None,
    };
    let head_len = line
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let head = line.get(..head_len)?;
    let rest = trim(line.get(head_len..).unwrap_or_default());
    let after_kind = head.get(1..).unwrap_or_default();
    let digits = after_kind.iter().take_while(|b| b.is_ascii_digit()).count();
    let maxactive = (digits > 0).then(|| &after_kind[..digits]);
    if maxactive.is_some() && !matches!(kind, DynEventKind::ReturnProbe | DynEventKind::Fprobe) {
        return None;
    }
    let after_max = after_kind.get(digits..).unwrap_or_default();
    let (group, event) = match after_max.split_first() {
        None => (None, None),
        Some((b':', name)) => split_name(name)?,
        Some(_) => return None,
    };
    if kind == DynEventKind::Delete && group.is_none() && event.is_none() {
        return None;
    }
    Some(DynamicEvent {
        kind,
        maxactive,
        group,
        event,
        rest,
    })
}

/// Every line of a listing that parses; other lines are skipped.
pub fn parse_dynamic_events(input: &[u8]) -> Vec<DynamicEvent<'_>> {
    input
        .split(|b| *b == b'\n')
        .filter_map(parse_dynamic_event)
        .collect()
}

type Name<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// `[GROUP/][EVENT]` (or `GROUP.EVENT`); both parts must be name characters.
fn split_name(name: &[u8]) -> Option<Name<'_>> {
    let (group, event) = match name.iter().position(|b| *b == b'/' || *b == b'.') {
        Some(at) => (Some(&name[..at]), &name[at + 1..]),
        None => (None, name),
    };
    if let Some(g) = group {
        if g.is_empty() || !g.iter().all(|b| is_name_byte(*b) || *b == b'-') {
            return None;
        }
    }
    if !event.iter().all(|b| is_name_byte(*b)) {
        return None;
    }
    Some((group, (!event.is_empty()).then_some(event)))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As listed by 6.18 (`trace_uprobe_show` pads the offset to 16 digits).
    const LISTING: &[u8] =
        b"p:tprobe_41_9_0/open /usr/bin/true:0x0000000000001140 path=+0(%si):string\n\
r:tprobe_41_9_0/open_ret /usr/bin/true:0x0000000000001140 ret=$retval\n\
p:kprobes/p_do_sys_open_0 do_sys_open+0\n\
r16:kprobes/r_vfs_read_0 vfs_read\n\
f:fprobes/vfs_open__entry vfs_open\n\
f:fprobes/vfs_open__exit vfs_open%return\n\
t:tracepoints/sched_switch sched_switch\n\
e:eprobes/openat syscalls.sys_enter_openat file=+0($filename):ustring\n\
s:synthetic/wakeup_lat pid_t pid; u64 lat\n\
\n\
garbage line\n";

    #[test]
    fn listing_lines() {
        let all = parse_dynamic_events(LISTING);
        assert_eq!(all.len(), 9);
        let u = all[0];
        assert_eq!(u.kind, DynEventKind::Probe);
        assert_eq!(u.group, Some(&b"tprobe_41_9_0"[..]));
        assert_eq!(u.event, Some(&b"open"[..]));
        assert_eq!(u.place(), b"/usr/bin/true:0x0000000000001140");
        assert_eq!(
            u.rest,
            b"/usr/bin/true:0x0000000000001140 path=+0(%si):string"
        );
        assert!(u.is_uprobe());
        assert_eq!(all[1].kind, DynEventKind::ReturnProbe);
        assert!(all[1].is_uprobe());
        assert!(!all[2].is_uprobe());
        assert_eq!(all[3].maxactive, Some(&b"16"[..]));
        assert_eq!(all[3].event, Some(&b"r_vfs_read_0"[..]));
        assert_eq!(all[4].kind, DynEventKind::Fprobe);
        assert_eq!(all[5].place(), b"vfs_open%return");
        assert_eq!(all[6].kind, DynEventKind::Tprobe);
        assert_eq!(all[7].kind, DynEventKind::Eprobe);
        assert_eq!(all[7].group, Some(&b"eprobes"[..]));
        assert_eq!(all[8].kind, DynEventKind::Synthetic);
        assert_eq!(all[8].group, Some(&b"synthetic"[..]));
    }

    #[test]
    fn written_forms() {
        let d = parse_dynamic_event(b"-:tprobe_1_2_3/").unwrap();
        assert_eq!(d.kind, DynEventKind::Delete);
        assert_eq!(d.group, Some(&b"tprobe_1_2_3"[..]));
        assert_eq!(d.event, None);
        assert_eq!(d.rest, b"");
        let d = parse_dynamic_event(b"p /bin/true:0x10").unwrap();
        assert_eq!((d.group, d.event), (None, None));
        assert_eq!(d.place(), b"/bin/true:0x10");
        let d = parse_dynamic_event(b"p:grp.ev /bin/true:0x10").unwrap();
        assert_eq!(d.group, Some(&b"grp"[..]));
        assert_eq!(d.event, Some(&b"ev"[..]));
        let d = parse_dynamic_event(b"p:ev sym").unwrap();
        assert_eq!((d.group, d.event), (None, Some(&b"ev"[..])));
        let d = parse_dynamic_event(b"p:my-grp/ev sym").unwrap();
        assert_eq!(d.group, Some(&b"my-grp"[..]));
    }

    #[test]
    fn rejects_non_heads() {
        for bad in [
            &b""[..],
            b"   ",
            b"# comment",
            b"x:g/e a",
            b"p5:g/e a",
            b"p:g/e/f a",
            b"p:/e a",
            b"p:g/e\xff a",
            b"-",
            b"-:",
            b"pq:g/e a",
            b"pp",
        ] {
            assert_eq!(
                parse_dynamic_event(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn never_panics_on_prefixes() {
        for n in 0..=LISTING.len() {
            let _ = parse_dynamic_events(&LISTING[..n]);
        }
    }
}
