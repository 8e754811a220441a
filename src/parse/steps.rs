//! The greedy match of a template, compiled into steps.
//!
//! Most records fit their template on the first try: each string ends where its delimiter
//! first occurs. [`Steps`] is that first try, planned once per template: literals as
//! words to compare, each string step owning the literal after it, each value knowing
//! its field. It runs on every record, so it does only that; a record it does not fit
//! goes to the general matcher (`fields.rs`), which tries the same path first and then
//! every other split, so the result is the same either way.

use super::bytes::Literal;
use super::fields::push_found;
use super::fields::scan_hex;
use super::fields::scan_signed;
use super::fields::scan_unsigned;
use super::fields::Field;
use super::fields::Value;
use super::print_fmt::Segment;
use super::print_fmt::TemplateField;
use super::print_fmt::ValueKind;

/// A template's greedy match as steps.
#[derive(Debug, Clone)]
pub(crate) struct Steps {
    steps: Vec<Step>,
}

/// One step: the literal before a value, if any, then the value. A literal is checked
/// in the step of the value after it, so that a record takes one dispatch per value
/// rather than two: the jump to each step's code was often mispredicted (`perf annotate`).
#[derive(Debug, Clone)]
struct Step {
    lead: Option<Literal>,
    action: Action,
}

/// A tag byte of its own (`repr(u8)`): with the tag folded into a field's spare values,
/// every step worked the variant out of that field before it could jump to its code.
#[derive(Debug, Clone)]
#[repr(u8)]
enum Action {
    /// Nothing after the literal: the template ends with it.
    Nothing,
    Signed(Option<usize>),
    Unsigned(Option<usize>),
    Hex(Option<usize>),
    /// `'c'`: one byte between quotes.
    QuotedChar(Option<usize>),
    /// One byte.
    Char(Option<usize>),
    /// A string that ends where `delimiter` (its closing quote, if quoted, and the literal
    /// after it) first occurs; the step consumes the delimiter too.
    Until {
        string: StringStep,
        delimiter: Literal,
    },
    /// A string that runs to the end of the text.
    ToEnd(StringStep),
}

/// What a string step makes and where it goes.
#[derive(Debug, Clone, Copy)]
struct StringStep {
    /// Between double quotes, and `(fault)` when the kernel could not read it.
    quoted: bool,
    make: Make,
    field: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Make {
    Str,
    Symbol,
    Text,
}

impl Make {
    fn found(self, bytes: &[u8]) -> Found<'_> {
        match self {
            Make::Str => Found::Str(bytes),
            Make::Symbol => Found::Symbol(bytes),
            Make::Text => Found::Text(bytes),
        }
    }
}

/// A value the steps found, before it becomes a [`Value`] in its field.
///
/// It owns nothing and is `Copy`, so the compiler keeps it in registers even where the
/// steps' arms share one push; a `Value` there (it may own an array) was kept on the
/// stack, stored in words and read back in wider pieces, which stalled every field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found<'a> {
    Signed(i64),
    Unsigned(u64),
    Hex(&'a [u8]),
    Str(&'a [u8]),
    Symbol(&'a [u8]),
    Text(&'a [u8]),
    Char(u8),
    Fault,
}

impl<'a> Found<'a> {
    /// The field's value.
    #[inline(always)]
    pub(crate) fn value(self) -> Value<'a> {
        match self {
            Found::Signed(n) => Value::Signed(n),
            Found::Unsigned(n) => Value::Unsigned(n),
            Found::Hex(bytes) => Value::Hex(bytes),
            Found::Str(bytes) => Value::Str(bytes),
            Found::Symbol(bytes) => Value::Symbol(bytes),
            Found::Text(bytes) => Value::Text(bytes),
            Found::Char(c) => Value::Char(c),
            Found::Fault => Value::Fault,
        }
    }
}

impl Steps {
    /// Plans the greedy match of `segments`.
    pub(crate) fn compile(segments: &[Segment]) -> Self {
        let mut steps = Vec::with_capacity(segments.len());
        let mut lead: Option<Literal> = None;
        let mut push = |lead: &mut Option<Literal>, action| {
            steps.push(Step {
                lead: lead.take(),
                action,
            });
        };
        let mut index = 0;
        while let Some(segment) = segments.get(index) {
            index += 1;
            let (kind, field) = match segment {
                Segment::Literal(lit) => {
                    // Adjacent literals are merged, but a step of its own keeps them apart
                    // should two come.
                    if lead.is_some() {
                        push(&mut lead, Action::Nothing);
                    }
                    lead = Some(Literal::new(lit));
                    continue;
                }
                Segment::Value { kind, field } => (*kind, *field),
            };
            // A string and what it makes, or (`Err`) a value of a fixed shape: one step.
            let make = match kind {
                ValueKind::Signed => Err(Action::Signed(field)),
                ValueKind::Unsigned => Err(Action::Unsigned(field)),
                ValueKind::Hex => Err(Action::Hex(field)),
                ValueKind::QuotedChar => Err(Action::QuotedChar(field)),
                ValueKind::Char => Err(Action::Char(field)),
                ValueKind::Str | ValueKind::QuotedStr => Ok(Make::Str),
                ValueKind::Symbol => Ok(Make::Symbol),
                ValueKind::Text => Ok(Make::Text),
            };
            let make = match make {
                Ok(make) => make,
                Err(fixed) => {
                    push(&mut lead, fixed);
                    continue;
                }
            };
            let quoted = kind == ValueKind::QuotedStr;
            let string = StringStep {
                quoted,
                make,
                field,
            };
            match segments.get(index) {
                Some(Segment::Literal(next)) => {
                    let mut delimiter = Vec::with_capacity(next.len() + 1);
                    if quoted {
                        delimiter.push(b'"');
                    }
                    delimiter.extend_from_slice(next);
                    push(
                        &mut lead,
                        Action::Until {
                            string,
                            delimiter: Literal::new(&delimiter),
                        },
                    );
                    index += 1;
                }
                _ => push(&mut lead, Action::ToEnd(string)),
            }
        }
        if lead.is_some() {
            push(&mut lead, Action::Nothing);
        }
        Self { steps }
    }

    /// Runs the greedy match of `body`, pushing its fields to `out` when there is one.
    /// When it does not fit, `out` holds part of the fields.
    #[inline(always)]
    pub(crate) fn run<'a>(
        &self,
        fields: &'a [TemplateField],
        body: &'a [u8],
        out: &mut impl FieldsOut<'a>,
    ) -> StepsEnd {
        let mut push = |field: Option<usize>, found: Found<'a>| out.push(fields, field, found);
        let mut input = body;
        // Whether a string was ended at the first of its delimiters: only there could
        // another split fit when this one does not.
        let mut branched = false;
        for step in &self.steps {
            if let Some(lead) = &step.lead {
                if !lead.is_prefix_of(input) {
                    return mismatch(branched);
                }
                input = &input[lead.len()..];
            }
            match &step.action {
                Action::Nothing => {}
                Action::Signed(field) => {
                    let Some((value, used)) = scan_signed(input) else {
                        return mismatch(branched);
                    };
                    push(*field, Found::Signed(value));
                    input = &input[used..];
                }
                Action::Unsigned(field) => {
                    let Some((value, used)) = scan_unsigned(input) else {
                        return mismatch(branched);
                    };
                    push(*field, Found::Unsigned(value));
                    input = &input[used..];
                }
                Action::Hex(field) => {
                    let Some((start, end)) = scan_hex(input) else {
                        return mismatch(branched);
                    };
                    push(*field, Found::Hex(&input[start..end]));
                    input = &input[end..];
                }
                Action::QuotedChar(field) => match input {
                    [b'\'', c, b'\'', rest @ ..] => {
                        push(*field, Found::Char(*c));
                        input = rest;
                    }
                    // `'` then the end: the char is a newline that cut the record.
                    [b'\''] | [b'\'', _] => return StepsEnd::RanOut,
                    _ => return mismatch(branched),
                },
                Action::Char(field) => match input.split_first() {
                    Some((c, rest)) => {
                        push(*field, Found::Char(*c));
                        input = rest;
                    }
                    None => return mismatch(branched),
                },
                Action::Until { string, delimiter } => {
                    if string.quoted {
                        if let Some(rest) = input.strip_prefix(b"(fault)") {
                            // No quotes then: the literal after the value comes next.
                            push(string.field, Found::Fault);
                            match rest.strip_prefix(&delimiter.bytes()[1..]) {
                                Some(rest) => input = rest,
                                None => return mismatch(branched),
                            }
                            continue;
                        }
                    }
                    let Some(inner) = open_quote(input, string.quoted) else {
                        return mismatch(branched);
                    };
                    let Some(end) = delimiter.find_in(inner) else {
                        // No split can end this string: the text ends inside it.
                        return StepsEnd::RanOut;
                    };
                    push(string.field, string.make.found(&inner[..end]));
                    input = &inner[end + delimiter.len()..];
                    branched = true;
                }
                Action::ToEnd(string) => {
                    if string.quoted {
                        if let Some(rest) = input.strip_prefix(b"(fault)") {
                            push(string.field, Found::Fault);
                            input = rest;
                            continue;
                        }
                    }
                    let Some(inner) = open_quote(input, string.quoted) else {
                        return mismatch(branched);
                    };
                    let end = if string.quoted {
                        match inner.split_last() {
                            Some((b'"', _)) => inner.len() - 1,
                            // The closing quote is not there yet.
                            _ => return StepsEnd::RanOut,
                        }
                    } else {
                        inner.len()
                    };
                    push(string.field, string.make.found(&inner[..end]));
                    input = &[];
                }
            }
        }
        if input.is_empty() {
            StepsEnd::Fits
        } else {
            mismatch(branched)
        }
    }
}

/// Where [`Steps::run`] puts the fields: a vector, or nowhere when only the fit is asked.
pub(crate) trait FieldsOut<'a> {
    fn push(&mut self, fields: &'a [TemplateField], field: Option<usize>, found: Found<'a>);
}

impl<'a> FieldsOut<'a> for Vec<Field<'a>> {
    #[inline(always)]
    fn push(&mut self, fields: &'a [TemplateField], field: Option<usize>, found: Found<'a>) {
        push_found(self, fields, field, found);
    }
}

/// No fields kept: checking the fit only.
pub(crate) struct NoFields;

impl<'a> FieldsOut<'a> for NoFields {
    #[inline(always)]
    fn push(&mut self, _: &'a [TemplateField], _: Option<usize>, _: Found<'a>) {}
}

/// How the greedy match of a record's text ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepsEnd {
    /// The text fits the template.
    Fits,
    /// The text ends inside a string or char value (a newline in it cut the record); the
    /// general matcher's greedy path says so by `needs_more`.
    RanOut,
    /// The text does not fit this way; another split of its strings might.
    Mismatch,
    /// The text does not fit, and no other split could: no string before the mismatch
    /// was ended at a delimiter that may also occur further on, so the general matcher's
    /// search would walk this same path and fail.
    NoSplitFits,
}

/// How a mismatch ends the steps: whether a string was ended at a delimiter on the way.
fn mismatch(branched: bool) -> StepsEnd {
    if branched {
        StepsEnd::Mismatch
    } else {
        StepsEnd::NoSplitFits
    }
}

/// The text after the opening quote of a quoted string, or all of it.
fn open_quote(input: &[u8], quoted: bool) -> Option<&[u8]> {
    if quoted {
        input.strip_prefix(b"\"")
    } else {
        Some(input)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::parse::fields::steps_agree_with_greedy;
    use crate::parse::parse_line;
    use crate::parse::EventText;
    use crate::parse::TraceLine;

    /// The steps and the general matcher's greedy path (fields, and whether the text ran
    /// out inside a value) agree on every record of every
    /// capture in the repository, and on each record cut short and with a quote, a space,
    /// a digit or a brace put in at every third place (where strings end differently).
    #[test]
    fn steps_agree_with_the_general_greedy_path() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut compared = 0;
        for dir in ["fixtures", "tests/vm/captures"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let Ok(catalog) = crate::decode::EventCatalog::from_dir(&path.join("events"))
                else {
                    continue;
                };
                for name in ["trace_pipe.txt", "trace.txt"] {
                    let Ok(text) = std::fs::read(path.join(name)) else {
                        continue;
                    };
                    for line in text.split(|b| *b == b'\n') {
                        let TraceLine::Event(_, EventText::Named { name, body }) = parse_line(line)
                        else {
                            continue;
                        };
                        for entry in catalog.lookup(name) {
                            let Some(template) = &entry.template else {
                                continue;
                            };
                            let mut variants = vec![body.to_vec()];
                            for at in (0..body.len()).step_by(3) {
                                variants.push(body[..at].to_vec());
                                for insert in [b'"', b' ', b'\'', b'0', b'}'] {
                                    let mut v = body.to_vec();
                                    v.insert(at, insert);
                                    variants.push(v);
                                }
                            }
                            for body in &variants {
                                if let Err(differ) = steps_agree_with_greedy(template, body) {
                                    panic!("{}: {differ}", path.display());
                                }
                                compared += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(compared > 10_000, "only {compared} bodies compared");
    }
}
