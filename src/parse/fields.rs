//! Splits an event's printed text into typed `name=value` fields.
//!
//! With the event's format known, the compiled print fmt ([`Template`]) says which field
//! comes next and what it looks like, and a value runs up to the next literal; where a
//! string could end in several places the matcher tries each, shortest first, until the
//! rest of the line matches too. Without a format the text is split on ` name=` and each
//! value typed by its look ([`split_guessed`]); callers report that it guessed.

use memchr::memmem;

use super::bytes::digit_run;
use super::bytes::digits_value;
use super::bytes::find_literal;
use super::bytes::has_prefix;

use super::print_fmt::Segment;
use super::print_fmt::Template;
use super::print_fmt::TemplateField;
use super::print_fmt::ValueKind;
use super::recycle::clear_fields;
use super::recycle::new_array;
use super::steps::Found;
use super::steps::NoFields;
use super::steps::StepsEnd;

/// A decoded value. Strings are the exact bytes the kernel printed, quotes removed.
///
/// `repr(u8)`: a tag byte of its own, which the output formats read for every value;
/// folded into the array's capacity, it was worked out from that.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(u8)]
pub enum Value<'a> {
    /// A signed decimal (`%d`).
    Signed(i64),
    /// An unsigned decimal (`%u`).
    Unsigned(u64),
    /// Hex as printed, with its `0x` when the kernel printed one (`x8`..`x64` types).
    Hex(&'a [u8]),
    /// A string's bytes.
    Str(&'a [u8]),
    /// One byte (`char` type).
    Char(u8),
    /// A kernel symbol: `do_sys_openat2+0x0/0x100`.
    Symbol(&'a [u8]),
    /// Printed text tprobe does not type further.
    Text(&'a [u8]),
    /// `(fault)`: the kernel could not read the value.
    Fault,
    /// `{1,2,3}`.
    Array(Vec<Value<'a>>),
}

/// One decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field's name (the format file's name, or the text before `=` when guessed).
    pub name: &'a [u8],
    /// Its value.
    pub value: Value<'a>,
}

/// How many places to try for where strings end before giving up on the template; keeps
/// adversarial lines linear-ish.
const BACKTRACK_BUDGET: usize = 256;

/// How a record's text fits its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The text matches the template completely.
    Complete,
    /// The text ends inside a string or char value: a newline in the value split the
    /// record, and the next line holds the rest.
    NeedsMore,
    /// The text does not match the template.
    Mismatch,
}

/// Splits `body` by `template`. `None` when the text does not fit the template (another
/// kernel's layout, a truncated line); callers then fall back to [`split_guessed`].
pub fn split_with_template<'a>(template: &'a Template, body: &'a [u8]) -> Option<Vec<Field<'a>>> {
    let mut fields = Vec::new();
    split_with_template_into(template, body, &mut fields).then_some(fields)
}

/// [`split_with_template`] into a vector the caller reuses: clears `fields`, fills it and
/// returns `true` when `body` fits.
pub fn split_with_template_into<'a>(
    template: &'a Template,
    body: &'a [u8],
    fields: &mut Vec<Field<'a>>,
) -> bool {
    clear_fields(fields);
    fields.reserve(template.fields.len());
    match template.steps.run(&template.fields, body, fields) {
        StepsEnd::Fits => return true,
        StepsEnd::NoSplitFits => {
            clear_fields(fields);
            return false;
        }
        StepsEnd::RanOut | StepsEnd::Mismatch => {}
    }
    // A string held the text of its delimiter: search every split, in the same order. The
    // steps are the general greedy path (the `fields` fuzz target and
    // `steps_agree_with_the_general_greedy_path` hold them to it), so that path would fail
    // too and is not tried again.
    clear_fields(fields);
    Matcher::new(template, Some(fields)).match_from(0, body)
}

/// Whether the planned steps that [`split_with_template`] and [`fit_template`] try first
/// give what the general matcher's greedy path gives for `body`: the same fields, and
/// running out of text inside a value exactly when it does. `Err` says how they differ.
/// For tests and the `fields` fuzz target.
#[doc(hidden)]
pub fn steps_agree_with_greedy(template: &Template, body: &[u8]) -> Result<(), String> {
    let mut by_steps = Vec::new();
    let stepped = template.steps.run(&template.fields, body, &mut by_steps);
    let mut by_greedy = Vec::new();
    let mut matcher = Matcher::new(template, Some(&mut by_greedy));
    let greedy = matcher.match_greedy(body);
    let ran_out = matcher.needs_more;
    let same = match stepped {
        StepsEnd::Fits => greedy && by_steps == by_greedy,
        StepsEnd::RanOut => !greedy && ran_out,
        StepsEnd::Mismatch => !greedy && !ran_out,
        // The claim that no split fits is checked by the full search.
        StepsEnd::NoSplitFits => {
            !greedy && !ran_out && !Matcher::new(template, None).match_from(0, body)
        }
    };
    if same {
        Ok(())
    } else {
        Err(format!(
            "steps {stepped:?} {by_steps:?}, greedy {greedy} (ran out: {ran_out}) {by_greedy:?} \
             for {:?}",
            String::from_utf8_lossy(body)
        ))
    }
}

/// Whether `body` fits `template`, and if not, whether more text could make it fit.
pub fn fit_template<'a>(template: &'a Template, body: &'a [u8]) -> Fit {
    match template.steps.run(&template.fields, body, &mut NoFields) {
        StepsEnd::Fits => return Fit::Complete,
        // The greedy path ran out of text inside a string; longer strings earlier on would
        // start that one later still, so no split completes the record.
        StepsEnd::RanOut => return Fit::NeedsMore,
        // One path only, and it neither fit nor ran out of text.
        StepsEnd::NoSplitFits => return Fit::Mismatch,
        StepsEnd::Mismatch => {}
    }
    let mut matcher = Matcher::new(template, None);
    if matcher.match_from(0, body) {
        Fit::Complete
    } else if matcher.needs_more {
        Fit::NeedsMore
    } else {
        Fit::Mismatch
    }
}

struct Matcher<'t, 'a> {
    segments: &'a [Segment],
    delimiters: &'a [Option<Vec<u8>>],
    fields: &'a [TemplateField],
    /// Where decoded fields go; `None` when only checking the fit.
    out: Option<&'t mut Vec<Field<'a>>>,
    budget: usize,
    /// Set when some path through the template ran out of text inside a string or char.
    needs_more: bool,
}

impl<'t, 'a> Matcher<'t, 'a> {
    fn new(template: &'a Template, out: Option<&'t mut Vec<Field<'a>>>) -> Self {
        Self {
            segments: &template.segments,
            delimiters: &template.delimiters,
            fields: &template.fields,
            out,
            budget: BACKTRACK_BUDGET,
            needs_more: false,
        }
    }

    fn match_from(&mut self, index: usize, input: &'a [u8]) -> bool {
        let Some(segment) = self.segments.get(index) else {
            return input.is_empty();
        };
        match segment {
            Segment::Literal(lit) => match strip_literal(input, lit) {
                Some(rest) => self.match_from(index + 1, rest),
                None => false,
            },
            Segment::Value { kind, field } => self.match_value(index, *kind, *field, input),
        }
    }

    /// The common case without recursion: every string ends at the first place its
    /// delimiter occurs. This is the first path the backtracking search would try, so when
    /// it fits, the result is the same. Leaves partial output behind when it fails.
    fn match_greedy(&mut self, body: &'a [u8]) -> bool {
        let mut input = body;
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(lit) => match strip_literal(input, lit) {
                    Some(rest) => input = rest,
                    None => return false,
                },
                Segment::Value { kind, field } => {
                    let (value, rest) = if let Some((value, used)) = fixed_shape(*kind, input) {
                        (value, &input[used..])
                    } else if *kind == ValueKind::QuotedChar
                        && input.len() < 3
                        && input.first() == Some(&b'\'')
                    {
                        self.needs_more = true;
                        return false;
                    } else {
                        let quoted = *kind == ValueKind::QuotedStr;
                        let make = match kind {
                            ValueKind::Symbol => Value::Symbol,
                            ValueKind::Text => Value::Text,
                            ValueKind::Str | ValueKind::QuotedStr => Value::Str,
                            _ => return false,
                        };
                        let inner = if quoted {
                            match input.strip_prefix(b"\"") {
                                Some(inner) => inner,
                                None => return false,
                            }
                        } else {
                            input
                        };
                        let close = usize::from(quoted);
                        match self.delimiters.get(index).and_then(Option::as_ref) {
                            Some(delimiter) => match find_all(delimiter, inner).next() {
                                Some(end) => (make(&inner[..end]), &inner[end + close..]),
                                None => {
                                    // No split can end this string: the text ends inside it.
                                    self.needs_more = true;
                                    return false;
                                }
                            },
                            None => {
                                let Some(end) = inner.len().checked_sub(close) else {
                                    self.needs_more = true;
                                    return false;
                                };
                                if quoted && inner.get(end) != Some(&b'"') {
                                    self.needs_more = true;
                                    return false;
                                }
                                (make(&inner[..end]), &inner[inner.len()..])
                            }
                        }
                    };
                    self.push(*field, value);
                    input = rest;
                }
            }
        }
        input.is_empty()
    }

    fn match_value(
        &mut self,
        index: usize,
        kind: ValueKind,
        field: Option<usize>,
        input: &'a [u8],
    ) -> bool {
        // Fixed shapes: exactly one way to match.
        if let Some((value, used)) = fixed_shape(kind, input) {
            return self.push_and_continue(index, field, value, &input[used..]);
        }
        if kind == ValueKind::QuotedChar && input.len() < 3 && input.first() == Some(&b'\'') {
            // `'` then the end: the char is a newline that cut the record.
            self.needs_more = true;
            return false;
        }
        if !matches!(
            kind,
            ValueKind::Str | ValueKind::QuotedStr | ValueKind::Symbol | ValueKind::Text
        ) {
            return false;
        }
        let (open, close): (&[u8], &[u8]) = if kind == ValueKind::QuotedStr {
            (b"\"", b"\"")
        } else {
            (b"", b"")
        };
        let Some(inner) = input.strip_prefix(open) else {
            return false;
        };
        let make = |bytes: &'a [u8]| match kind {
            ValueKind::Symbol => Value::Symbol(bytes),
            ValueKind::Text => Value::Text(bytes),
            _ => Value::Str(bytes),
        };
        let Some(finder) = self.delimiters.get(index).and_then(Option::as_ref) else {
            // Last value, or followed by another value: take all that is left.
            let Some(end) = inner.len().checked_sub(close.len()) else {
                self.needs_more = true;
                return false;
            };
            if !inner[end..].starts_with(close) {
                self.needs_more = true;
                return false;
            }
            let value = make(&inner[..end]);
            return self.push_and_continue(index, field, value, b"");
        };
        let mut found = false;
        for end in find_all(finder, inner) {
            found = true;
            if self.budget == 0 {
                return false;
            }
            self.budget -= 1;
            let value = make(&inner[..end]);
            if self.push_and_continue(index, field, value, &inner[end + close.len()..]) {
                return true;
            }
        }
        if !found {
            // The text ended inside this value: a newline in it cut the record.
            self.needs_more = true;
        }
        false
    }

    fn push_and_continue(
        &mut self,
        index: usize,
        field: Option<usize>,
        value: Value<'a>,
        rest: &'a [u8],
    ) -> bool {
        let pushed = self.push(field, value);
        if self.match_from(index + 1, rest) {
            return true;
        }
        self.undo(pushed);
        false
    }

    /// Adds a value to the output: a field of its own, or the next element of the array
    /// field it belongs to.
    #[inline(always)]
    fn push(&mut self, field: Option<usize>, value: Value<'a>) -> Pushed {
        match self.out.as_deref_mut() {
            Some(out) => push_field(out, self.fields, field, value),
            None => Pushed::Nothing,
        }
    }

    fn undo(&mut self, pushed: Pushed) {
        let Some(out) = self.out.as_deref_mut() else {
            return;
        };
        match pushed {
            Pushed::Nothing => {}
            Pushed::Field => {
                out.pop();
            }
            Pushed::Element => {
                if let Some(Field {
                    value: Value::Array(items),
                    ..
                }) = out.last_mut()
                {
                    items.pop();
                }
            }
        }
    }
}

/// Adds a value to `out`: a field of its own, or the next element of the array field it
/// belongs to (`fields` is the template's, `field` an index into it).
#[inline(always)]
pub(crate) fn push_field<'a>(
    out: &mut Vec<Field<'a>>,
    fields: &'a [TemplateField],
    field: Option<usize>,
    value: Value<'a>,
) -> Pushed {
    let Some(def) = field.and_then(|index| fields.get(index)) else {
        return Pushed::Nothing;
    };
    let name = def.name.as_bytes();
    if def.is_array {
        if let Some(Field {
            name: last,
            value: Value::Array(items),
        }) = out.last_mut()
        {
            if std::ptr::eq(*last, name) {
                items.push(value);
                return Pushed::Element;
            }
        }
        let mut items = new_array(def.values);
        items.push(value);
        out.push(Field {
            name,
            value: Value::Array(items),
        });
        return Pushed::Field;
    }
    out.push(Field { name, value });
    Pushed::Field
}

/// [`push_field`] for a value the steps found. A plain field (not an array's element) is
/// built where it stays, one arm per kind, so no `Value` is built on the stack and copied.
#[inline(always)]
pub(crate) fn push_found<'a>(
    out: &mut Vec<Field<'a>>,
    fields: &'a [TemplateField],
    field: Option<usize>,
    found: Found<'a>,
) {
    let Some(def) = field.and_then(|index| fields.get(index)) else {
        return;
    };
    if def.is_array {
        push_field(out, fields, field, found.value());
        return;
    }
    let name = def.name.as_bytes();
    if out.len() == out.capacity() {
        grow_fields(out);
    }
    // The slot is taken before the field is built, and each arm writes its own field
    // there: arms that end in a shared `push` get their fields built on the stack and
    // copied over in wider pieces than they were stored in, which stalls every field.
    let Some(slot) = out.spare_capacity_mut().first_mut() else {
        return;
    };
    // One arm per kind, each building its own constant variant in the slot.
    macro_rules! write {
        ($variant:ident $(($value:expr))?) => {
            slot.write(Field {
                name,
                value: Value::$variant$(($value))?,
            })
        };
    }
    match found {
        Found::Signed(n) => write!(Signed(n)),
        Found::Unsigned(n) => write!(Unsigned(n)),
        Found::Hex(bytes) => write!(Hex(bytes)),
        Found::Str(bytes) => write!(Str(bytes)),
        Found::Symbol(bytes) => write!(Symbol(bytes)),
        Found::Text(bytes) => write!(Text(bytes)),
        Found::Char(c) => write!(Char(c)),
        Found::Fault => write!(Fault),
    };
    // SAFETY: the slot just past the length is written above.
    unsafe { out.set_len(out.len() + 1) };
}

/// Room for more fields, out of the hot path.
#[cold]
#[inline(never)]
fn grow_fields(out: &mut Vec<Field<'_>>) {
    out.reserve(8);
}

/// What [`Matcher::push`] did, so a failed branch can undo it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pushed {
    Nothing,
    Field,
    Element,
}

/// Where `needle` occurs in `haystack`, in order.
pub(crate) fn find_all<'h>(
    needle: &'h [u8],
    haystack: &'h [u8],
) -> impl Iterator<Item = usize> + 'h {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = find_literal(haystack, needle, from)?;
        from = at + 1;
        Some(at)
    })
}

/// `input` without the literal `lit` at its start. Literals are a few bytes, where a
/// plain loop beats a call to `memcmp`.
#[inline]
fn strip_literal<'a>(input: &'a [u8], lit: &[u8]) -> Option<&'a [u8]> {
    let head = input.get(..lit.len())?;
    if head.iter().zip(lit).all(|(a, b)| a == b) {
        Some(&input[lit.len()..])
    } else {
        None
    }
}

/// Values whose extent is fixed by their shape: numbers, hex, chars, and `(fault)` in
/// place of a quoted string. Returns the value and the bytes it used.
fn fixed_shape(kind: ValueKind, input: &[u8]) -> Option<(Value<'_>, usize)> {
    match kind {
        ValueKind::Signed => scan_signed(input).map(|(v, used)| (Value::Signed(v), used)),
        ValueKind::Unsigned => scan_unsigned(input).map(|(v, used)| (Value::Unsigned(v), used)),
        ValueKind::Hex => scan_hex(input).map(|(start, end)| (Value::Hex(&input[start..end]), end)),
        ValueKind::QuotedChar => match input {
            [b'\'', c, b'\'', ..] => Some((Value::Char(*c), 3)),
            _ => None,
        },
        ValueKind::Char => input.first().map(|c| (Value::Char(*c), 1)),
        ValueKind::QuotedStr if input.starts_with(b"(fault)") => Some((Value::Fault, 7)),
        _ => None,
    }
}

/// How many spaces `input` starts with: the kernel pads numbers printed with a width.
#[inline(always)]
fn padding(input: &[u8]) -> usize {
    input.iter().take_while(|b| **b == b' ').count()
}

/// Decimal digits from `at`: their value (`None` when there are none or it overflows) and
/// where they end.
#[inline(always)]
fn scan_digits(input: &[u8], at: usize) -> (Option<u64>, usize) {
    let digits = &input[at.min(input.len())..];
    let len = digit_run(digits);
    let value = if len == 0 {
        None
    } else {
        digits_value(&digits[..len])
    };
    (value, at + len)
}

/// `%d`: padding, an optional `-`, digits. The value and the bytes used.
#[inline(always)]
pub(crate) fn scan_signed(input: &[u8]) -> Option<(i64, usize)> {
    let pad = padding(input);
    let negative = input.get(pad) == Some(&b'-');
    let (magnitude, end) = scan_digits(input, pad + usize::from(negative));
    let magnitude = magnitude?;
    let value = if !negative {
        i64::try_from(magnitude).ok()?
    } else if magnitude == 1u64 << 63 {
        i64::MIN
    } else {
        -i64::try_from(magnitude).ok()?
    };
    Some((value, end))
}

/// `%u`: padding, digits. The value and the bytes used.
#[inline(always)]
pub(crate) fn scan_unsigned(input: &[u8]) -> Option<(u64, usize)> {
    let (value, end) = scan_digits(input, padding(input));
    Some((value?, end))
}

/// `%x`/`%lx`: padding, an optional `0x`, hex digits (never none). Where the printed value
/// starts and ends. The kernel prints a zero `0x%lx` as `0` in some places (syscalls), so a
/// bare run of hex digits is accepted too.
#[inline(always)]
pub(crate) fn scan_hex(input: &[u8]) -> Option<(usize, usize)> {
    let start = padding(input);
    let prefix = if input[start..].starts_with(b"0x") {
        2
    } else {
        0
    };
    let digits = input[start + prefix..]
        .iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    (digits > 0).then_some((start, start + prefix + digits))
}

/// Splits `name=value name=value…` without a format: at each ` name=` where `name` looks
/// like an identifier, and types each value by its look. A string holding ` x=` is split
/// there: the price of guessing.
pub fn split_guessed(body: &[u8]) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if (i == 0 || body[i - 1] == b' ') && is_ident_start(body[i]) {
            let name_len = body[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if body.get(i + name_len) == Some(&b'=') {
                starts.push((i, i + name_len));
                i += name_len + 1;
                continue;
            }
        }
        i += 1;
    }
    for (k, (name_start, name_end)) in starts.iter().enumerate() {
        let value_end = starts
            .get(k + 1)
            .map_or(body.len(), |(next, _)| next.saturating_sub(1));
        let raw = &body[name_end + 1..value_end.max(name_end + 1)];
        fields.push(Field {
            name: &body[*name_start..*name_end],
            value: guess_value(raw),
        });
    }
    fields
}

/// Types one printed value by its look.
pub fn guess_value(raw: &[u8]) -> Value<'_> {
    if raw == b"(fault)" {
        return Value::Fault;
    }
    if raw.len() >= 2 && raw[0] == b'"' && raw[raw.len() - 1] == b'"' {
        return Value::Str(&raw[1..raw.len() - 1]);
    }
    if raw.len() == 3 && raw[0] == b'\'' && raw[2] == b'\'' {
        return Value::Char(raw[1]);
    }
    if raw.len() >= 2 && raw[0] == b'{' && raw[raw.len() - 1] == b'}' {
        let inner = &raw[1..raw.len() - 1];
        if inner.is_empty() {
            return Value::Array(Vec::new());
        }
        return Value::Array(inner.split(|b| *b == b',').map(guess_value).collect());
    }
    if raw.starts_with(b"0x") && raw.len() > 2 && raw[2..].iter().all(u8::is_ascii_hexdigit) {
        return Value::Hex(raw);
    }
    if let Some(v) = parse_u64(raw) {
        return Value::Unsigned(v);
    }
    if let Some(v) = parse_i64(raw) {
        return Value::Signed(v);
    }
    if is_symbol_offset(raw) {
        return Value::Symbol(raw);
    }
    Value::Text(raw)
}

/// `name+0x10/0x40` (optionally followed by ` [module]`).
fn is_symbol_offset(raw: &[u8]) -> bool {
    let Some(plus) = raw.iter().position(|b| *b == b'+') else {
        return false;
    };
    plus > 0 && raw[plus + 1..].starts_with(b"0x") && raw[plus..].contains(&b'/')
}

/// Splits the syscall enter text `dfd: 0xffffff9c, filename: 0x7ffd…, mode: 0` by the
/// format's field names in order (`names`), or by `, ` and `: ` when none are known.
pub fn split_syscall_args<'a>(names: &[&'a [u8]], args: &'a [u8]) -> Vec<Field<'a>> {
    let mut fields = Vec::with_capacity(names.len());
    split_syscall_args_into(names.iter().copied(), args, &mut fields);
    fields
}

/// [`split_syscall_args`] into `fields`, which it empties first, with the names as they
/// come: the decoder passes them straight from the format, with nothing collected.
pub(crate) fn split_syscall_args_into<'a>(
    names: impl IntoIterator<Item = &'a [u8]>,
    args: &'a [u8],
    fields: &mut Vec<Field<'a>>,
) {
    clear_fields(fields);
    if split_by_names(names, args, fields).is_none() {
        clear_fields(fields);
        fields.extend(split_syscall_guessed(args));
    }
}

/// Pushes the arguments of `args` named `names`, in order; `None` when there are no names
/// or the text does not follow them.
fn split_by_names<'a>(
    names: impl IntoIterator<Item = &'a [u8]>,
    args: &'a [u8],
    fields: &mut Vec<Field<'a>>,
) -> Option<()> {
    let mut names = names.into_iter().peekable();
    names.peek()?;
    let mut rest = args;
    while let Some(name) = names.next() {
        let after_name = strip_name(rest, name)?;
        let end = match names.peek() {
            Some(next) => find_next_arg(after_name, next)?,
            None => after_name.len(),
        };
        fields.push(Field {
            name,
            value: syscall_value(&after_name[..end]),
        });
        rest = after_name.get(end + 2..).unwrap_or_default();
    }
    Some(())
}

/// What follows `NAME: ` at the start of `text`. Compared inline: a syscall record has a
/// few names, and a `memcmp` call for each cost more than the compare.
#[inline(always)]
fn strip_name<'a>(text: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if !has_prefix(text, name) {
        return None;
    }
    text[name.len()..].strip_prefix(b": ")
}

/// Where `, NEXT: ` starts in `text`.
fn find_next_arg(text: &[u8], next: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let comma = find_literal(text, b", ", from)?;
        if strip_name(&text[comma + 2..], next).is_some() {
            return Some(comma);
        }
        from = comma + 1;
    }
}

/// Syscall arguments are printed in hex (`0x%lx`), a zero as a bare `0`.
fn syscall_value(raw: &[u8]) -> Value<'_> {
    let digits = raw.strip_prefix(b"0x").unwrap_or(raw);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_hexdigit) {
        Value::Hex(raw)
    } else {
        guess_value(raw)
    }
}

fn split_syscall_guessed(args: &[u8]) -> Vec<Field<'_>> {
    args.split(|b| *b == b',')
        .filter_map(|part| {
            let part = super::trace_line::trim(part);
            let colon = memmem::find(part, b": ")?;
            Some(Field {
                name: &part[..colon],
                value: syscall_value(&part[colon + 2..]),
            })
        })
        .collect()
}

/// Names start with a letter or `_`; old kernels also name an argument after its
/// expression (`$retval=`).
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    super::trace_line::parse_u64(text)
}

fn parse_i64(text: &[u8]) -> Option<i64> {
    match text.strip_prefix(b"-") {
        Some(abs) => {
            let magnitude = parse_u64(abs)?;
            if magnitude == 1u64 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(magnitude).ok().map(|m| -m)
            }
        }
        None => i64::try_from(parse_u64(text)?).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::print_fmt::test_template as template;
    fn get<'a>(fields: &'a [Field<'a>], name: &str) -> &'a Value<'a> {
        &fields
            .iter()
            .find(|f| f.name == name.as_bytes())
            .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
            .value
    }

    #[test]
    fn unescaped_string_split_by_known_names() {
        let t = template(
            r#""(%lx) path=\"%s\" how=0x%lx", REC->__probe_ip, __get_str(path), REC->how"#,
            &["__probe_ip", "how"],
        );
        let body = b"(0x55bb6db58139) path=\"/tmp/a\" b=1\" how=0x0";
        let f = split_with_template(&t, body).unwrap();
        assert_eq!(get(&f, "__probe_ip"), &Value::Text(b"0x55bb6db58139"));
        assert_eq!(get(&f, "path"), &Value::Str(b"/tmp/a\" b=1"));
        assert_eq!(get(&f, "how"), &Value::Hex(b"0x0"));
        // The decoy `" how=0x1` inside the string is skipped because the rest must match.
        let body = b"(0x1) path=\"x\" how=0x1\" how=0x0";
        let f = split_with_template(&t, body).unwrap();
        assert_eq!(get(&f, "path"), &Value::Str(b"x\" how=0x1"));
    }

    #[test]
    fn fault_arrays_chars_and_numbers() {
        let t = template(
            r#""(%lx) s=\"%s\" arr={%Ld,%Ld,%Ld} ch='%c' n=%d u=%u", REC->__probe_ip, __get_str(s), REC->arr[0], REC->arr[1], REC->arr[2], REC->ch, REC->n, REC->u"#,
            &["__probe_ip", "arr", "ch", "n", "u"],
        );
        let f = split_with_template(
            &t,
            b"(0x1) s=(fault) arr={1,-2,-9223372036854775808} ch=''' n=-5 u=18446744073709551615",
        )
        .unwrap();
        assert_eq!(get(&f, "s"), &Value::Fault);
        assert_eq!(
            get(&f, "arr"),
            &Value::Array(vec![
                Value::Signed(1),
                Value::Signed(-2),
                Value::Signed(i64::MIN)
            ])
        );
        assert_eq!(get(&f, "ch"), &Value::Char(b'\''));
        assert_eq!(get(&f, "n"), &Value::Signed(-5));
        assert_eq!(get(&f, "u"), &Value::Unsigned(u64::MAX));
        assert!(split_with_template(&t, b"(0x1) s=\"a\" arr={1,x,3} ch='a' n=1 u=1").is_none());
    }

    #[test]
    fn newline_inside_string_is_part_of_it() {
        let t = template(
            r#""(%lx) p=\"%s\" n=%d", REC->__probe_ip, __get_str(p), REC->n"#,
            &["__probe_ip", "n"],
        );
        let f = split_with_template(&t, b"(0x1) p=\"a\nb\" n=3").unwrap();
        assert_eq!(get(&f, "p"), &Value::Str(b"a\nb"));
    }

    #[test]
    fn guessed_split() {
        let f = split_guessed(
            b"(0x1) a=1 b=\"x y\" c=(fault) d={1,2} e=0x1f f=-3 g='q' h=foo+0x1/0x20",
        );
        assert_eq!(get(&f, "a"), &Value::Unsigned(1));
        assert_eq!(get(&f, "b"), &Value::Str(b"x y"));
        assert_eq!(get(&f, "c"), &Value::Fault);
        assert_eq!(
            get(&f, "d"),
            &Value::Array(vec![Value::Unsigned(1), Value::Unsigned(2)])
        );
        assert_eq!(get(&f, "e"), &Value::Hex(b"0x1f"));
        assert_eq!(get(&f, "f"), &Value::Signed(-3));
        assert_eq!(get(&f, "g"), &Value::Char(b'q'));
        assert_eq!(get(&f, "h"), &Value::Symbol(b"foo+0x1/0x20"));
    }

    #[test]
    fn syscall_args_by_format_names() {
        let names: Vec<&[u8]> = vec![b"dfd", b"filename", b"flags", b"mode"];
        let f = split_syscall_args(
            &names,
            b"dfd: 0xffffff9c, filename: 0x7ff66d3c80b1, flags: 0x80000, mode: 0",
        );
        assert_eq!(f.len(), 4);
        assert_eq!(get(&f, "dfd"), &Value::Hex(b"0xffffff9c"));
        assert_eq!(get(&f, "mode"), &Value::Hex(b"0"));
        let f = split_syscall_args(&[], b"fd: 0x3, buf: 0x1");
        assert_eq!(get(&f, "buf"), &Value::Hex(b"0x1"));
    }
}
