//! The shared spec parser: tokens with byte spans, the `p[:[GRP/]EVENT]` head, and
//! assembling a [`ProbeDef`] with every error collected.

use std::collections::HashSet;
use std::ops::Range;

use super::names::check_event_name;
use super::names::check_group_name;
use super::names::is_word;
use super::names::MAX_LINE_LEN;
use super::names::MAX_MAXACTIVE;
use super::names::MAX_TRACE_ARGS;
use super::number::parse_u64_dec;
use super::place::parse_e_place;
use super::place::parse_f_place;
use super::place::parse_p_place;
use super::place::parse_t_place;
use super::place::parse_uprobe_place;
use super::place::ParsedPlace;
use super::probe_arg::parse_probe_arg;
use super::probe_arg::ArgCtx;
use super::Place;
use super::ProbeDef;
use super::ProbeKind;
use super::SpecError;
use super::SpecErrorKind;
use super::SpecParseError;

/// A whitespace-separated token and where it starts in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok<'a> {
    pub(crate) text: &'a str,
    pub(crate) start: usize,
}

impl<'a> Tok<'a> {
    pub(crate) fn span(self) -> Range<usize> {
        self.start..self.start + self.text.len()
    }

    /// The part of this token from byte `from` on.
    pub(crate) fn tail(self, from: usize) -> Tok<'a> {
        Tok {
            text: self.text.get(from..).unwrap_or(""),
            start: self.start + from.min(self.text.len()),
        }
    }
}

/// Splits on spaces, as the kernel's `argv_split` does (other whitespace is rejected
/// as a control character before it matters).
pub(crate) fn tokenize(input: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let mut start = None;
    for (i, b) in input.bytes().enumerate() {
        match (b == b' ', start) {
            (true, Some(s)) => {
                toks.push(Tok {
                    text: &input[s..i],
                    start: s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        toks.push(Tok {
            text: &input[s..],
            start: s,
        });
    }
    toks
}

/// Errors for every control character and `#` in `input`.
pub(crate) fn check_chars(input: &str) -> Vec<SpecError> {
    input
        .char_indices()
        .filter_map(|(i, c)| {
            let kind = if c.is_control() {
                SpecErrorKind::ControlChar(c)
            } else if c == '#' {
                SpecErrorKind::Comment
            } else {
                return None;
            };
            Some(SpecError::new(kind, i..i + c.len_utf8()))
        })
        .collect()
}

/// Turns collected errors into the final result. Errors inside a token that holds a
/// control character or `#` are dropped: the character is the thing to fix.
pub(crate) fn finish<T>(
    input: &str,
    char_errors: Vec<SpecError>,
    mut errors: Vec<SpecError>,
    value: Option<T>,
) -> Result<T, SpecParseError> {
    if !char_errors.is_empty() {
        // Sorted and disjoint, so one binary search per error finds any overlap.
        let tainted: Vec<Range<usize>> = tokenize(input)
            .into_iter()
            .filter(|t| t.text.contains(|c: char| c.is_control() || c == '#'))
            .map(Tok::span)
            .collect();
        errors.retain(|e| {
            let span = e.span();
            let end = span.end.max(span.start + 1);
            let i = tainted.partition_point(|t| t.start < end);
            i.checked_sub(1)
                .and_then(|i| tainted.get(i))
                .is_none_or(|t| t.end <= span.start)
        });
        errors.extend(char_errors);
    }
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => {
            if errors.is_empty() {
                errors.push(SpecError::new(SpecErrorKind::Empty, 0..input.len()));
            }
            errors.sort_by_key(|e| (e.span().start, e.span().end));
            Err(SpecParseError::new(input, errors))
        }
    }
}

/// Whether a token after the head is an argument rather than a probe point: it
/// starts like a fetch arg, is `NAME=…`, or is `if`.
pub(crate) fn looks_like_arg(text: &str) -> bool {
    text.starts_with(['%', '@', '$', '+', '-', '\\'])
        || text == "if"
        || text
            .split_once('=')
            .is_some_and(|(name, _)| is_word(name, b""))
}

/// The head of a kernel line: `LETTER[DIGITS]`, the part before any `:`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) letter: u8,
    pub(crate) digits: Option<Tok<'a>>,
}

/// Reads `[prfet][0-9]*`; `None` if `tok` is anything else.
pub(crate) fn parse_head(tok: Tok<'_>) -> Option<Head<'_>> {
    let (&letter, rest) = tok.text.as_bytes().split_first()?;
    if !b"prfet".contains(&letter) || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(Head {
        letter,
        digits: (!rest.is_empty()).then(|| tok.tail(1)),
    })
}

/// How the place token is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlaceSyntax {
    /// By the head letter, as the kernel does.
    Kernel,
    /// Always a uprobe target (`u:` shorthand).
    Uprobe,
}

/// Everything a definition is made of, as tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DefParts<'a, 'b> {
    pub(crate) head: Head<'a>,
    pub(crate) name: Option<Tok<'a>>,
    pub(crate) place: Tok<'a>,
    pub(crate) args: &'b [Tok<'a>],
    pub(crate) syntax: PlaceSyntax,
}

/// Builds a definition from its parts, pushing every problem to `errors`.
pub(crate) fn build_def(
    input: &str,
    parts: DefParts<'_, '_>,
    errors: &mut Vec<SpecError>,
) -> Option<ProbeDef> {
    let before = errors.len();
    let push = |errors: &mut Vec<SpecError>, kind, span: Range<usize>| {
        errors.push(SpecError::new(kind, span));
    };

    let (group, event) = match parts.name {
        Some(name) => parse_name(name, errors),
        None => (None, None),
    };

    let letter = parts.head.letter;
    let parsed = match (parts.syntax, letter) {
        (PlaceSyntax::Uprobe, _) => parse_uprobe_place(parts.place.text),
        (_, b'p' | b'r') => parse_p_place(parts.place.text),
        (_, b'f') => parse_f_place(parts.place.text),
        (_, b'e') => parse_e_place(parts.place.text),
        (_, _) => parse_t_place(parts.place.text),
    };
    let (place, ret) = match parsed {
        Ok(ParsedPlace { place, ret }) => (Some(place), ret),
        Err(kind) => {
            push(errors, kind, parts.place.span());
            (None, false)
        }
    };
    let is_return = ret || letter == b'r';
    let kind = match (letter, &place) {
        (b'p' | b'r', Some(Place::File { .. })) if is_return => ProbeKind::Uretprobe,
        (b'p' | b'r', Some(Place::File { .. })) => ProbeKind::Uprobe,
        (b'p' | b'r', _) if is_return => ProbeKind::Kretprobe,
        (b'p' | b'r', _) => ProbeKind::Kprobe,
        (b'f', _) if ret => ProbeKind::Fexit,
        (b'f', _) => ProbeKind::Fentry,
        (b'e', _) => ProbeKind::Eprobe,
        _ => ProbeKind::Tprobe,
    };

    let mut maxactive = None;
    if let Some(digits) = parts.head.digits {
        let allowed = (letter == b'r' && kind == ProbeKind::Kretprobe) || kind == ProbeKind::Fexit;
        let value = parse_u64_dec(digits.text)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| (1..=MAX_MAXACTIVE).contains(v));
        match (allowed, value) {
            (false, _) => push(errors, SpecErrorKind::MaxactiveNotAllowed, digits.span()),
            (true, None) => push(
                errors,
                SpecErrorKind::BadMaxactive(digits.text.to_owned()),
                digits.span(),
            ),
            (true, Some(v)) => maxactive = Some(v),
        }
    }

    let at_entry = !matches!(place, Some(Place::Symbol { offset, .. }) if offset != 0);
    let ctx = ArgCtx { kind, at_entry };
    let mut args = Vec::new();
    let mut filter = None;
    let mut arg_toks = Vec::new();
    for (i, tok) in parts.args.iter().enumerate() {
        if tok.text == "if" {
            let rest = parts.args.get(i + 1..).unwrap_or(&[]);
            let end = parts.args.last().map_or(tok.start, |t| t.span().end);
            if kind != ProbeKind::Eprobe {
                push(errors, SpecErrorKind::FilterNotAllowed, tok.start..end);
            } else if rest.is_empty() {
                push(errors, SpecErrorKind::EmptyFilter, tok.span());
            } else {
                let words: Vec<&str> = rest.iter().map(|t| t.text).collect();
                filter = Some(words.join(" "));
            }
            break;
        }
        arg_toks.push(*tok);
        if let Some(arg) = parse_probe_arg(tok.text, tok.start, ctx, errors) {
            args.push(arg);
        }
    }
    if let Some(first) = arg_toks.get(MAX_TRACE_ARGS) {
        let end = arg_toks.last().map_or(first.start, |t| t.span().end);
        push(
            errors,
            SpecErrorKind::TooManyArgs(arg_toks.len()),
            first.start..end,
        );
    }
    if args.len() == arg_toks.len() {
        let mut seen: HashSet<String> = HashSet::new();
        for (i, (arg, tok)) in args.iter().zip(&arg_toks).enumerate() {
            if let Some(name) = arg.field_name(i + 1) {
                if seen.contains(&name) {
                    push(errors, SpecErrorKind::DuplicateArgName(name), tok.span());
                } else {
                    seen.insert(name);
                }
            }
        }
    }
    let place = place?;
    if errors.len() != before {
        return None;
    }
    let def = ProbeDef {
        kind,
        maxactive,
        return_suffix: letter == b'p' && ret && kind != ProbeKind::Fexit,
        group,
        event,
        place,
        args,
        filter,
    };
    let len = def.to_string().len();
    if len > MAX_LINE_LEN {
        push(errors, SpecErrorKind::LineTooLong { len }, 0..input.len());
        return None;
    }
    Some(def)
}

/// Reads `[GRP/][EVENT]` (the kernel also takes `.` as the separator).
fn parse_name(name: Tok<'_>, errors: &mut Vec<SpecError>) -> (Option<String>, Option<String>) {
    let text = name.text;
    let split = text.find('/').or_else(|| text.find('.'));
    let (group, event, event_at) = match split {
        Some(i) => (Some(&text[..i]), &text[i + 1..], i + 1),
        None => (None, text, 0),
    };
    let mut group_out = None;
    if let Some(group) = group {
        if group.is_empty() {
            errors.push(SpecError::new(
                SpecErrorKind::EmptyGroup,
                name.start..name.start + 1,
            ));
        } else if let Err(kind) = check_group_name(group) {
            errors.push(SpecError::new(kind, name.start..name.start + group.len()));
        } else {
            group_out = Some(group.to_owned());
        }
    }
    let event_span = name.start + event_at..name.start + text.len();
    if event.is_empty() {
        if group.is_none() {
            errors.push(SpecError::new(SpecErrorKind::EmptyName, event_span));
        }
        return (group_out, None);
    }
    match check_event_name(event) {
        Ok(()) => (group_out, Some(event.to_owned())),
        Err(kind) => {
            errors.push(SpecError::new(kind, event_span));
            (group_out, None)
        }
    }
}

/// Parses a line in the kernel's own syntax (no shorthands).
pub(crate) fn parse_kernel_line(input: &str) -> Result<ProbeDef, SpecParseError> {
    let char_errors = check_chars(input);
    let toks = tokenize(input);
    let mut errors = Vec::new();
    let def = kernel_form(input, &toks, &mut errors);
    finish(input, char_errors, errors, def)
}

/// Reads `toks` as `HEAD[:NAME] PLACE ARGS…`.
pub(crate) fn kernel_form(
    input: &str,
    toks: &[Tok<'_>],
    errors: &mut Vec<SpecError>,
) -> Option<ProbeDef> {
    let Some(&first) = toks.first() else {
        errors.push(SpecError::new(SpecErrorKind::Empty, 0..input.len()));
        return None;
    };
    if first.text.starts_with(['-', '!']) {
        errors.push(SpecError::new(SpecErrorKind::Deletion, first.span()));
        return None;
    }
    let (head_text, name) = match first.text.split_once(':') {
        Some((head, _)) => (head, Some(first.tail(head.len() + 1))),
        None => (first.text, None),
    };
    let head_tok = Tok {
        text: head_text,
        start: first.start,
    };
    let Some(head) = parse_head(head_tok) else {
        errors.push(SpecError::new(
            SpecErrorKind::UnknownProbeType(head_text.to_owned()),
            head_tok.span(),
        ));
        return None;
    };
    let Some(&place) = toks.get(1) else {
        let end = input.len();
        errors.push(SpecError::new(SpecErrorKind::MissingTarget, end..end));
        return None;
    };
    let parts = DefParts {
        head,
        name,
        place,
        args: toks.get(2..).unwrap_or(&[]),
        syntax: PlaceSyntax::Kernel,
    };
    build_def(input, parts, errors)
}
