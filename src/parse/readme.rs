//! The tracefs `README` ("tracing mini-HOWTO"): which dynamic-probe features this kernel
//! offers.
//!
//! The kernel builds the text with config `#ifdef`s, so a line is present exactly when the
//! feature is compiled in. Each flag below is set by an exact substring of the README
//! (kernel-notes.md §2); nothing is inferred from version numbers.

/// What the `README` says this kernel supports. Every flag is `false` on an empty input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadmeFeatures {
    /// `kprobe_events\t\t- …`: kernel probes (CONFIG_KPROBE_EVENTS).
    pub kprobe_events: bool,
    /// `uprobe_events\t\t- …`: user-space probes (CONFIG_UPROBE_EVENTS).
    pub uprobe_events: bool,
    /// `dynamic_events\t\t- …`: the generic dynamic-events file (5.0).
    pub dynamic_events: bool,
    /// `Create/append/`: several probe points can be appended to one event (≈5.3).
    pub multi_probe: bool,
    /// `p[:[<group>/][<event>]]`: the event name may be left out (`p:GRP/ …`, ≈5.18).
    pub optional_event_name: bool,
    /// `r[maxactive]`: kretprobe MAXACTIVE (printed on uprobe-only kernels too).
    pub maxactive: bool,
    /// `f[:[<group>/]…`: fprobe events (6.5).
    pub fprobe: bool,
    /// `t[:[<group>/]…`: tracepoint probes (6.5).
    pub tprobe: bool,
    /// `e[:[<group>/]…`: event probes (5.15).
    pub eprobe: bool,
    /// `s:[synthetic/]`: synthetic events.
    pub synthetic: bool,
    /// `place: [<module>:]<symbol>`: the kprobe place syntax.
    pub kprobe_place: bool,
    /// `place (kretprobe): …%return`: `SYM%return` return probes (5.11).
    pub kprobe_return_suffix: bool,
    /// `place (uprobe): …%return`: `PATH:OFF%return` return probes (5.11).
    pub uprobe_return_suffix: bool,
    /// `(ref_ctr_offset)`: the uprobe SDT semaphore (4.20).
    pub ref_ctr_offset: bool,
    /// `$arg<N>` in the fetcharg list: function arguments by position (x86 4.20).
    pub arg_n: bool,
    /// `return probes support: … $arg<N>`: `$argN` on return probes (≈6.9).
    pub return_arg_n: bool,
    /// `$comm` in the fetcharg list.
    pub comm: bool,
    /// `<argname>`: BTF argument names (6.5, CONFIG_PROBE_EVENTS_BTF_ARGS).
    pub btf_args: bool,
    /// `->field`: BTF struct member access (≈6.6).
    pub btf_fields: bool,
    /// `[u]<offset>`: user-space dereference `+u` (5.5).
    pub user_deref: bool,
    /// `\imm-value`: immediate values (≈5.3).
    pub immediate: bool,
    /// `\"imm-string"`: immediate strings (≈5.3).
    pub immediate_string: bool,
    /// `x8/16/32/64`: hexadecimal types (≈4.17).
    pub hex_types: bool,
    /// `char,`: the `char` type (≈6.5).
    pub char_type: bool,
    /// `symbol,`: the `symbol` type.
    pub symbol_type: bool,
    /// `ustring`: the user-space string type (5.5).
    pub ustring: bool,
    /// `symstr`: the symbol-as-string type (≈6.2).
    pub symstr: bool,
    /// `%pd/%pD`: dentry and file name types (≈6.10).
    pub dentry_types: bool,
    /// `b<bit-width>@`: bitfield types.
    pub bitfield: bool,
    /// `<type>\[<array-size>\]`: array types (≈4.17).
    pub arrays: bool,
    /// `instances\t`: `mkdir instances/NAME` sub-buffers.
    pub instances: bool,
    /// `error_log\t`: the error log for failed commands (5.1).
    pub error_log: bool,
}

/// Reads the feature flags out of a `README`'s bytes. Never fails: unknown text is ignored.
pub fn parse_readme(input: &[u8]) -> ReadmeFeatures {
    let mut f = ReadmeFeatures::default();
    for raw in input.split(|b| *b == b'\n') {
        let line = trim_start(raw);
        let has = |needle: &[u8]| contains(line, needle);
        let starts = |needle: &[u8]| line.starts_with(needle);

        if starts(b"kprobe_events") && is_file_entry(line, b"kprobe_events") {
            f.kprobe_events = true;
        }
        if starts(b"uprobe_events") && is_file_entry(line, b"uprobe_events") {
            f.uprobe_events = true;
        }
        if starts(b"dynamic_events") && is_file_entry(line, b"dynamic_events") {
            f.dynamic_events = true;
        }
        if starts(b"instances") && is_file_entry(line, b"instances") {
            f.instances = true;
        }
        if starts(b"error_log") && is_file_entry(line, b"error_log") {
            f.error_log = true;
        }
        if has(b"Create/append/") {
            f.multi_probe = true;
        }
        if has_token(line, b"p[:[<group>/][<event>]]") {
            f.optional_event_name = true;
        }
        if has_token(line, b"r[maxactive]") {
            f.maxactive = true;
        }
        if has_token(line, b"f[:[") {
            f.fprobe = true;
        }
        if has_token(line, b"t[:[") {
            f.tprobe = true;
        }
        if has_token(line, b"e[:[") {
            f.eprobe = true;
        }
        if has_token(line, b"s:[synthetic/]") {
            f.synthetic = true;
        }
        if starts(b"place:") {
            f.kprobe_place = true;
        }
        if starts(b"place (kretprobe):") && has(b"%return") {
            f.kprobe_return_suffix = true;
        }
        if starts(b"place (uprobe):") {
            if has(b"%return") {
                f.uprobe_return_suffix = true;
            }
            if has(b"(ref_ctr_offset)") {
                f.ref_ctr_offset = true;
            }
        }
        if has(b"return probes support:") {
            if has(b"$arg<N>") {
                f.return_arg_n = true;
            }
        } else {
            if has(b"$arg<N>") {
                f.arg_n = true;
            }
            if has(b"$comm") {
                f.comm = true;
            }
        }
        if has(b"<argname>") {
            f.btf_args = true;
            if has(b"->field") {
                f.btf_fields = true;
            }
        }
        if has(b"[u]<offset>") {
            f.user_deref = true;
        }
        if has(b"\\imm-value") {
            f.immediate = true;
        }
        if has(b"\\\"imm-string\"") {
            f.immediate_string = true;
        }
        if has(b"x8/16/32/64") {
            f.hex_types = true;
        }
        if has_token(line, b"char,") {
            f.char_type = true;
        }
        if has_token(line, b"symbol,") {
            f.symbol_type = true;
        }
        if has_token(line, b"ustring") {
            f.ustring = true;
        }
        if has_token(line, b"symstr") {
            f.symstr = true;
        }
        if has(b"%pd/%pD") {
            f.dentry_types = true;
        }
        if has(b"b<bit-width>@") {
            f.bitfield = true;
        }
        if has(b"<type>\\[<array-size>\\]") {
            f.arrays = true;
        }
    }
    f
}

fn trim_start(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    line.get(n..).unwrap_or_default()
}

/// `NAME<whitespace>- description`: the "Important files" entry for `name`.
fn is_file_entry(line: &[u8], name: &[u8]) -> bool {
    let rest = line.get(name.len()..).unwrap_or_default();
    let ws = rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    ws > 0 && rest.get(ws) == Some(&b'-')
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// `needle` occurs at the start of a word (line start, or after whitespace, `,` or `:`).
fn has_token(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find_iter(haystack, needle)
        .any(|at| at == 0 || matches!(haystack.get(at - 1), Some(b' ' | b'\t' | b',' | b':')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live README of this project's 6.18 machine (uprobes only, no kprobes/fprobe).
    const README_6_18: &[u8] = include_bytes!("../../fixtures/readme/6.18.txt");

    /// The dynamic-events part of 6.12's `readme_msg` with kprobes, fprobes and BTF args
    /// compiled in (kernel-notes.md §2), tabs as in trace.c.
    const README_6_12_FULL: &[u8] =
        b"  dynamic_events\t\t- Create/append/remove/show the generic dynamic events\n\
\t\t\t  Write into this file to define/undefine new trace events.\n\
  kprobe_events\t\t- Create/append/remove/show the kernel dynamic events\n\
\t\t\t  Write into this file to define/undefine new trace events.\n\
  uprobe_events\t\t- Create/append/remove/show the userspace dynamic events\n\
\t\t\t  Write into this file to define/undefine new trace events.\n\
\t  accepts: event-definitions (one definition per line)\n\
\t   Format: p[:[<group>/][<event>]] <place> [<args>]\n\
\t           r[maxactive][:[<group>/][<event>]] <place> [<args>]\n\
\t           f[:[<group>/][<event>]] <func-name>[%return] [<args>]\n\
\t           t[:[<group>/][<event>]] <tracepoint> [<args>]\n\
\t           e[:[<group>/][<event>]] <attached-group>.<attached-event> [<args>] [if <filter>]\n\
\t           s:[synthetic/]<event> <field> [<field>]\n\
\t           -:[<group>/][<event>]\n\
\t    place: [<module>:]<symbol>[+<offset>]|<memaddr>\n\
place (kretprobe): [<module>:]<symbol>[+<offset>]%return|<memaddr>\n\
   place (uprobe): <path>:<offset>[%return][(ref_ctr_offset)]\n\
\t     args: <name>=fetcharg[:type]\n\
\t fetcharg: (%<register>|$<efield>), @<address>, @<symbol>[+|-<offset>],\n\
\t           $stack<index>, $stack, $retval, $comm, $arg<N>,\n\
\t           <argname>[->field[->field|.field...]],\n\
\t           +|-[u]<offset>(<fetcharg>), \\imm-value, \\\"imm-string\"\n\
\t     kernel return probes support: $retval, $arg<N>, $comm\n\
\t     type: s8/16/32/64, u8/16/32/64, x8/16/32/64, char, string, symbol,\n\
\t           b<bit-width>@<bit-offset>/<container-size>, ustring,\n\
\t           symstr, %pd/%pD, <type>\\[<array-size>\\]\n";

    /// A 4.19-era README: fixed event names, no %return, no ustring, no dynamic_events.
    const README_OLD: &[u8] = b"  kprobe_events\t\t- Add/remove/show the kernel dynamic events\n\
\t\t\t  Write into this file to define/undefine new trace events.\n\
  uprobe_events\t\t- Add/remove/show the userspace dynamic events\n\
\t  accepts: event-definitions (one definition per line)\n\
\t   Format: p[:[<group>/]<event>] <place> [<args>]\n\
\t           r[maxactive][:[<group>/]<event>] <place> [<args>]\n\
\t           -:[<group>/]<event>\n\
\t    place: [<module>:]<symbol>[+<offset>]|<memaddr>\n\
   place (uprobe): <path>:<offset>\n\
\t     args: <name>=fetcharg[:type]\n\
\t fetcharg: %<register>, @<address>, @<symbol>[+|-<offset>],\n\
\t           $stack<index>, $stack, $retval, $comm\n\
\t     type: s8/16/32/64, u8/16/32/64, x8/16/32/64, string, symbol,\n\
\t           b<bit-width>@<bit-offset>/<container-size>,\n\
\t           <type>\\[<array-size>\\]\n";

    #[test]
    fn live_6_18_uprobes_only() {
        let f = parse_readme(README_6_18);
        assert!(f.uprobe_events && f.dynamic_events && f.multi_probe);
        assert!(!f.kprobe_events, "6.18 machine has no kprobes");
        assert!(!f.fprobe && !f.tprobe && !f.kprobe_place && !f.kprobe_return_suffix);
        assert!(f.eprobe, "e[:[ is printed on 6.18");
        assert!(f.optional_event_name && f.maxactive);
        assert!(f.uprobe_return_suffix && f.ref_ctr_offset);
        assert!(f.arg_n && f.return_arg_n && f.comm);
        assert!(!f.btf_args && !f.btf_fields);
        assert!(f.user_deref && f.immediate && f.immediate_string);
        assert!(f.hex_types && f.char_type && f.symbol_type && f.ustring && f.symstr);
        assert!(f.dentry_types && f.bitfield && f.arrays);
        assert!(f.instances && f.error_log);
        assert!(!f.synthetic);
    }

    #[test]
    fn full_6_12_sample() {
        let f = parse_readme(README_6_12_FULL);
        assert!(f.kprobe_events && f.uprobe_events && f.dynamic_events);
        assert!(f.fprobe && f.tprobe && f.eprobe && f.synthetic);
        assert!(f.kprobe_place && f.kprobe_return_suffix && f.uprobe_return_suffix);
        assert!(f.btf_args && f.btf_fields && f.arg_n && f.return_arg_n);
        assert!(!f.instances, "this sample has no instances line");
    }

    #[test]
    fn old_kernel_sample() {
        let f = parse_readme(README_OLD);
        assert!(f.kprobe_events && f.uprobe_events);
        assert!(!f.dynamic_events && !f.multi_probe && !f.optional_event_name);
        assert!(f.maxactive && f.kprobe_place && f.comm && f.hex_types && f.arrays);
        assert!(!f.kprobe_return_suffix && !f.uprobe_return_suffix && !f.ref_ctr_offset);
        assert!(!f.arg_n && !f.return_arg_n && !f.ustring && !f.symstr && !f.char_type);
        assert!(!f.user_deref && !f.immediate && !f.eprobe && !f.fprobe);
    }

    #[test]
    fn nothing_from_empty_or_junk() {
        assert_eq!(parse_readme(b""), ReadmeFeatures::default());
        assert_eq!(parse_readme(b"\xff\xfe\n\t\t\n"), ReadmeFeatures::default());
        // A word merely ending in a token's text is not the token.
        let f = parse_readme(b"  unichar, nosymstr, xustring, pref[:[x\n");
        assert!(!f.symstr && !f.ustring && !f.fprobe && !f.char_type);
    }
}
