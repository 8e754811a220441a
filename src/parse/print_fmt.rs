//! Turns an event's `print fmt` into a template of literals and typed values, so the text
//! the kernel printed can be split by the known field names in order.
//!
//! The kernel prints probe strings without escaping (`path="/tmp/a" b=1" how=0x0` is one
//! `path`), so a value is delimited by the *literal that follows it in the template*, and
//! the matcher backtracks over the places that literal occurs (`fields.rs`).

use super::event_format::EventFormat;
use super::steps::Steps;

/// How a printed value looks, and so how it is matched and typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `%d`, `%ld`, `%Ld`: optional `-` and digits.
    Signed,
    /// `%u`, `%lu`: digits.
    Unsigned,
    /// `0x%x`, `%lx`: hex digits, with the `0x` the format printed before them.
    Hex,
    /// `%s` with no quotes around it: any bytes up to the next literal.
    Str,
    /// `\"%s\"`: a quoted string, or `(fault)` with no quotes when the read failed.
    QuotedStr,
    /// `'%c'`: one raw byte between quotes.
    QuotedChar,
    /// `%c` without quotes.
    Char,
    /// `%pS` and friends: `sym+0x10/0x40`, possibly ` [module]`.
    Symbol,
    /// Anything tprobe does not type (`__print_flags`, `%pI4`, the probe address column):
    /// kept as text.
    Text,
}

/// A piece of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes printed as they are.
    Literal(Vec<u8>),
    /// A printed value.
    Value {
        /// Its shape.
        kind: ValueKind,
        /// Index into [`Template::fields`], or `None` when the argument names no field.
        field: Option<usize>,
    },
}

/// A field as the template prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateField {
    /// The format file's field name.
    pub name: String,
    /// Whether several values (`REC->arr[0]`, `REC->arr[1]`…) make up this field.
    pub is_array: bool,
    /// How many values the template prints for it.
    pub values: usize,
}

/// The print fmt of one event, compiled.
#[derive(Debug, Clone)]
pub struct Template {
    /// Literals and values in print order, adjacent literals merged.
    pub segments: Vec<Segment>,
    /// The fields the values belong to, in order of first appearance.
    pub fields: Vec<TemplateField>,
    /// For each segment, when it is a string-like value followed by a literal: what marks
    /// where the value may end (its closing quote and that literal), built once.
    pub(crate) delimiters: Vec<Option<Vec<u8>>>,
    /// The greedy match planned as steps.
    pub(crate) steps: Steps,
    /// Whether a field of it is an array, whose value owns memory.
    pub(crate) has_arrays: bool,
}

impl Template {
    fn new(segments: Vec<Segment>, fields: Vec<TemplateField>) -> Self {
        let delimiters = (0..segments.len())
            .map(|i| match (&segments[i], segments.get(i + 1)) {
                (Segment::Value { kind, .. }, Some(Segment::Literal(next))) => {
                    let mut delimiter = if *kind == ValueKind::QuotedStr {
                        b"\"".to_vec()
                    } else {
                        Vec::new()
                    };
                    delimiter.extend_from_slice(next);
                    Some(delimiter)
                }
                _ => None,
            })
            .collect();
        let steps = Steps::compile(&segments);
        let has_arrays = fields.iter().any(|field| field.is_array);
        Self {
            segments,
            fields,
            delimiters,
            steps,
            has_arrays,
        }
    }

    /// Recomputes the searchers after the segments changed.
    fn rebuild(self) -> Self {
        Self::new(self.segments, self.fields)
    }
}

/// Compiles the print fmt of `format`. `None` when it is not a quoted C format followed by
/// arguments that tprobe understands; callers then split best-effort.
pub fn compile_template(format: &EventFormat) -> Option<Template> {
    let (fmt, args) = split_print_fmt(&format.print_fmt)?;
    let mut args = args.into_iter();
    let mut builder = Builder::default();
    let mut rest = &fmt[..];
    while let Some(pct) = rest.iter().position(|b| *b == b'%') {
        builder.literal(&rest[..pct]);
        rest = &rest[pct + 1..];
        if rest.first() == Some(&b'%') {
            builder.literal(b"%");
            rest = &rest[1..];
            continue;
        }
        let (spec, used) = conversion(rest)?;
        rest = &rest[used..];
        for _ in 0..spec.star_args {
            args.next()?;
        }
        let arg = args.next()?;
        builder.value(spec.kind, &arg);
    }
    builder.literal(rest);
    let mut template = builder.finish();
    fix_probe_prefix(format, &mut template);
    Some(template.rebuild())
}

/// Probe events print their address column differently from their print fmt: a uprobe
/// prints `(0x55…)`, a kprobe `(sym+0x0/0x20)`, and return probes print the return address
/// *before* the function (`(ret <- func)`) although the print fmt lists `__probe_func`
/// first. So the address columns are untyped text, and the two return columns swap.
fn fix_probe_prefix(format: &EventFormat, template: &mut Template) {
    let probe_columns: Vec<usize> = template
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name.starts_with("__probe_"))
        .map(|(i, _)| i)
        .collect();
    if probe_columns.is_empty()
        || format.field("__probe_ip").is_none() && format.field("__probe_func").is_none()
    {
        return;
    }
    let mut seen = Vec::new();
    for segment in &mut template.segments {
        if let Segment::Value {
            kind,
            field: Some(f),
        } = segment
        {
            if probe_columns.contains(f) {
                *kind = ValueKind::Text;
                seen.push(*f);
            }
        }
    }
    if let [first, second] = seen[..] {
        if template.fields[first].name == "__probe_func"
            && template.fields[second].name == "__probe_ret_ip"
        {
            for segment in &mut template.segments {
                if let Segment::Value { field: Some(f), .. } = segment {
                    if *f == first {
                        *f = second;
                    } else if *f == second {
                        *f = first;
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Builder {
    segments: Vec<Segment>,
    fields: Vec<TemplateField>,
}

impl Builder {
    fn literal(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Segment::Literal(prev)) = self.segments.last_mut() {
            prev.extend_from_slice(bytes);
        } else {
            self.segments.push(Segment::Literal(bytes.to_vec()));
        }
    }

    fn value(&mut self, kind: ValueKind, arg: &str) {
        let (name, element, plain) = field_of_argument(arg);
        let kind = if plain { kind } else { ValueKind::Text };
        let field = name.and_then(|name| {
            match self.fields.iter().position(|f| f.name == name) {
                // The next element of an array field.
                Some(i) if element && self.fields[i].is_array => {
                    self.fields[i].values += 1;
                    Some(i)
                }
                // A field printed twice: the first names it, the second is only matched.
                Some(_) => None,
                None => {
                    self.fields.push(TemplateField {
                        name: name.to_owned(),
                        is_array: element,
                        values: 1,
                    });
                    Some(self.fields.len() - 1)
                }
            }
        });
        let kind = self.absorb_delimiters(kind);
        self.segments.push(Segment::Value { kind, field });
    }

    /// Moves the `0x` before a hex value, or the quotes around a string or char, out of
    /// the previous literal, so the value carries them (and `(fault)` can replace a quoted
    /// string entirely). The closing quote is removed in `finish`.
    fn absorb_delimiters(&mut self, kind: ValueKind) -> ValueKind {
        let Some(Segment::Literal(prev)) = self.segments.last_mut() else {
            return kind;
        };
        let (strip, kind) = match kind {
            ValueKind::Hex if prev.ends_with(b"0x") => (2, ValueKind::Hex),
            ValueKind::Str if prev.ends_with(b"\"") => (1, ValueKind::QuotedStr),
            ValueKind::Char if prev.ends_with(b"'") => (1, ValueKind::QuotedChar),
            other => (0, other),
        };
        prev.truncate(prev.len() - strip);
        if prev.is_empty() {
            self.segments.pop();
        }
        kind
    }

    fn finish(self) -> Template {
        let mut segments: Vec<Segment> = Vec::with_capacity(self.segments.len());
        let mut pending_close: Option<u8> = None;
        for segment in self.segments {
            match segment {
                Segment::Literal(mut bytes) => {
                    if let Some(close) = pending_close.take() {
                        if bytes.first() == Some(&close) {
                            bytes.remove(0);
                        } else {
                            // No closing quote: the value was not really quoted.
                            demote_last_quoted(&mut segments);
                        }
                    }
                    if !bytes.is_empty() {
                        segments.push(Segment::Literal(bytes));
                    }
                }
                Segment::Value { kind, field } => {
                    if pending_close.take().is_some() {
                        demote_last_quoted(&mut segments);
                    }
                    pending_close = match kind {
                        ValueKind::QuotedStr => Some(b'"'),
                        ValueKind::QuotedChar => Some(b'\''),
                        _ => None,
                    };
                    segments.push(Segment::Value { kind, field });
                }
            }
        }
        if pending_close.is_some() {
            demote_last_quoted(&mut segments);
        }
        Template::new(segments, self.fields)
    }
}

/// A quoted value whose closing quote is missing: give the opening quote back to the
/// literal before it and type the value as plain.
fn demote_last_quoted(segments: &mut Vec<Segment>) {
    let Some(Segment::Value { kind, field }) = segments.pop() else {
        return;
    };
    let (quote, plain) = match kind {
        ValueKind::QuotedStr => (b'"', ValueKind::Str),
        ValueKind::QuotedChar => (b'\'', ValueKind::Char),
        other => {
            segments.push(Segment::Value { kind: other, field });
            return;
        }
    };
    match segments.last_mut() {
        Some(Segment::Literal(prev)) => prev.push(quote),
        _ => segments.push(Segment::Literal(vec![quote])),
    }
    segments.push(Segment::Value { kind: plain, field });
}

struct Conversion {
    kind: ValueKind,
    /// `*` width or precision: each takes an argument of its own.
    star_args: usize,
}

/// Parses a conversion after `%`: flags, width, precision, length, specifier. Returns it
/// and how many bytes it used.
fn conversion(input: &[u8]) -> Option<(Conversion, usize)> {
    let mut i = 0;
    let mut star_args = 0;
    while matches!(input.get(i), Some(b'-' | b'+' | b' ' | b'#' | b'0')) {
        i += 1;
    }
    if input.get(i) == Some(&b'*') {
        star_args += 1;
        i += 1;
    }
    while input.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if input.get(i) == Some(&b'.') {
        i += 1;
        if input.get(i) == Some(&b'*') {
            star_args += 1;
            i += 1;
        }
        while input.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    while matches!(
        input.get(i),
        Some(b'h' | b'l' | b'L' | b'q' | b'z' | b'j' | b't')
    ) {
        i += 1;
    }
    let spec = *input.get(i)?;
    i += 1;
    let kind = match spec {
        b'd' | b'i' => ValueKind::Signed,
        b'u' => ValueKind::Unsigned,
        b'x' | b'X' => ValueKind::Hex,
        b's' => ValueKind::Str,
        b'c' => ValueKind::Char,
        b'p' => {
            let ext = input[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let kind = match input.get(i) {
                Some(b'S' | b's' | b'B' | b'F' | b'f') => ValueKind::Symbol,
                _ => ValueKind::Text,
            };
            i += ext;
            kind
        }
        b'o' | b'e' | b'f' | b'g' | b'E' | b'G' => ValueKind::Text,
        _ => return None,
    };
    Some((Conversion { kind, star_args }, i))
}

/// Splits `"fmt", arg1, arg2` into the unescaped format bytes and the argument texts.
fn split_print_fmt(print_fmt: &str) -> Option<(Vec<u8>, Vec<String>)> {
    let bytes = print_fmt.trim().as_bytes();
    let body = bytes.strip_prefix(b"\"")?;
    let mut fmt = Vec::with_capacity(body.len());
    let mut i = 0;
    loop {
        match *body.get(i)? {
            b'"' => break,
            b'\\' => {
                let escaped = *body.get(i + 1)?;
                fmt.push(match escaped {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                });
                i += 2;
            }
            other => {
                fmt.push(other);
                i += 1;
            }
        }
    }
    let rest = std::str::from_utf8(&body[i + 1..]).ok()?.trim_start();
    let args = match rest.strip_prefix(',') {
        Some(args) => split_top_level_commas(args),
        None if rest.is_empty() => Vec::new(),
        None => return None,
    };
    Some((fmt, args))
}

fn split_top_level_commas(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let mut current = String::new();
    for c in args.chars() {
        if in_string {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// Which field an argument prints: `REC->n`, `REC->arr[1]`, `__get_str(p)`,
/// `((unsigned long)(REC->dfd))`. Returns the name, whether it is an array element, and
/// whether the value is printed plainly (not through a helper such as `__print_flags`).
fn field_of_argument(arg: &str) -> (Option<&str>, bool, bool) {
    for getter in ["__get_str(", "__get_rel_str("] {
        if let Some(inner) = arg.trim().strip_prefix(getter) {
            let inner = inner.trim_end_matches(')').trim();
            // `__get_str(names[1])`: an element of a `string[N]` field.
            return match inner.split_once('[') {
                Some((name, _)) => (Some(name), true, is_identifier(name)),
                None => (Some(inner), false, is_identifier(inner)),
            };
        }
    }
    let Some(at) = arg.find("REC->") else {
        return (None, false, false);
    };
    let after = &arg[at + 5..];
    // Old kernels name an unnamed argument after its expression: `REC->$retval`.
    let len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(after.len());
    let name = &after[..len];
    let element = after[len..].starts_with('[');
    let plain = !has_helper_call(arg) && !arg.contains('?') && arg.matches("REC->").count() == 1;
    (Some(name), element, plain)
}

/// Whether the expression calls a function (an identifier followed by `(`), as
/// `__print_symbolic(REC->x, …)` does; a cast such as `(unsigned long)` is not a call.
fn has_helper_call(arg: &str) -> bool {
    let bytes = arg.as_bytes();
    bytes.iter().enumerate().any(|(i, b)| {
        *b == b'(' && i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
    })
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A template from a print fmt and u64 fields of these names, for tests.
#[cfg(test)]
pub(crate) fn test_template(print_fmt: &str, fields: &[&str]) -> Template {
    use super::event_format::parse_event_format;
    let mut text = String::from("name: e\nID: 1\nformat:\n");
    for f in fields {
        text.push_str(&format!(
            "\tfield:u64 {f};\toffset:8;\tsize:8;\tsigned:0;\n"
        ));
    }
    text.push_str(&format!("\nprint fmt: {print_fmt}\n"));
    compile_template(&parse_event_format(text.as_bytes()).expect("a valid test format"))
        .expect("a template tprobe understands")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::event_format::parse_event_format;
    use test_template as template;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.as_bytes().to_vec())
    }

    fn val(kind: ValueKind, field: usize) -> Segment {
        Segment::Value {
            kind,
            field: Some(field),
        }
    }

    #[test]
    fn uprobe_print_fmt_real_6_18() {
        let t = template(
            r#""(%lx) p=\"%s\" n=%d x=0x%x arr={%Ld,%Ld} ch='%c' u=%u", REC->__probe_ip, __get_str(p), REC->n, REC->x, REC->arr[0], REC->arr[1], REC->ch, REC->u"#,
            &["__probe_ip", "n", "x", "arr", "ch", "u"],
        );
        use ValueKind::*;
        assert_eq!(
            t.segments,
            vec![
                lit("("),
                val(Text, 0),
                lit(") p="),
                val(QuotedStr, 1),
                lit(" n="),
                val(Signed, 2),
                lit(" x="),
                val(Hex, 3),
                lit(" arr={"),
                val(Signed, 4),
                lit(","),
                val(Signed, 4),
                lit("} ch="),
                val(QuotedChar, 5),
                lit(" u="),
                val(Unsigned, 6),
            ]
        );
        assert!(t.fields[4].is_array);
        assert_eq!(t.fields[1].name, "p");
    }

    #[test]
    fn uretprobe_columns_swap_to_printed_order() {
        let t = template(
            r#""(%lx <- %lx) rv=%d", REC->__probe_func, REC->__probe_ret_ip, REC->rv"#,
            &["__probe_func", "__probe_ret_ip", "rv"],
        );
        assert_eq!(t.segments[1], val(ValueKind::Text, 1));
        assert_eq!(t.segments[3], val(ValueKind::Text, 0));
        assert_eq!(t.fields[1].name, "__probe_ret_ip");
    }

    #[test]
    fn helpers_make_text_and_casts_do_not() {
        let t = template(
            r#""dfd: 0x%08lx, flags: %s", ((unsigned long)(REC->dfd)), __print_flags(REC->flags, "|", { 1, "A" })"#,
            &["dfd", "flags"],
        );
        assert_eq!(t.segments[1], val(ValueKind::Hex, 0));
        assert_eq!(t.segments[3], val(ValueKind::Text, 1));
    }

    #[test]
    fn unsupported_print_fmt_is_none() {
        let f = parse_event_format(b"name: e\nID: 1\nformat:\n\nprint fmt: not quoted\n").unwrap();
        assert!(compile_template(&f).is_none());
        let f = parse_event_format(b"name: e\nID: 1\nformat:\n\nprint fmt: \"%d %d\", REC->a\n")
            .unwrap();
        assert!(compile_template(&f).is_none());
    }
}
