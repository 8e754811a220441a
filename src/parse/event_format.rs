//! `events/GROUP/EVENT/format` files: name, id, fields with their C types and layout, and
//! the `print fmt` line kept as text. (The kernel indents field lines with a tab and
//! separates their attributes with tabs; the example shows spaces.)
//!
//! ```text
//! name: ent
//! ID: 2326
//! format:
//!     field:unsigned short common_type;    offset:0;    size:2;    signed:0;
//!     field:__data_loc char[] p;    offset:16;    size:4;    signed:1;
//!     field:s64 arr[];    offset:26;    size:24;    signed:1;
//!
//! print fmt: "(%lx) p=\"%s\"", REC->__probe_ip, __get_str(p)
//! ```

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::bytes::complete::take_till;
use nom::bytes::complete::take_while;
use nom::bytes::complete::take_while1;
use nom::character::complete::digit1;
use nom::combinator::map_res;
use nom::combinator::opt;
use nom::IResult;
use nom::Parser;

/// One `field:` line of a format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatField {
    /// The C type without the name and array suffix: `unsigned short`, `__data_loc char[]`,
    /// `s64`, `const char *`.
    pub c_type: String,
    /// Field name: `common_pid`, `path`.
    pub name: String,
    /// `Some(n)` for `name[n]`, `Some(0)` for a flexible `name[]`.
    pub array_len: Option<u32>,
    /// Whether the field is a `__data_loc` (dynamic string or array) reference.
    pub data_loc: bool,
    /// Byte offset in the record.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Whether the kernel marks the field signed.
    pub signed: bool,
}

impl FormatField {
    /// Whether this is one of the common header fields every event has.
    pub fn is_common(&self) -> bool {
        self.name.starts_with("common_")
    }
}

/// A parsed format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFormat {
    /// The event name (`name:` line).
    pub name: String,
    /// The event id (`ID:` line), the `common_type` of its records.
    pub id: u32,
    /// Every field in file order, the common ones first.
    pub fields: Vec<FormatField>,
    /// The `print fmt:` text after the colon, as written.
    pub print_fmt: String,
}

impl EventFormat {
    /// The fields after the common header, in order.
    pub fn own_fields(&self) -> impl Iterator<Item = &FormatField> {
        self.fields.iter().filter(|f| !f.is_common())
    }

    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FormatField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Why a format file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatParseError {
    /// A line that must be present is missing or malformed.
    #[error("line {line}: expected {expected}")]
    Expected {
        /// 1-based line number.
        line: usize,
        /// What the parser looked for.
        expected: &'static str,
    },
}

/// Parses a whole format file.
pub fn parse_event_format(input: &[u8]) -> Result<EventFormat, FormatParseError> {
    let text = String::from_utf8_lossy(input);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));

    let (n, line) = lines.next().unwrap_or((1, ""));
    let name = line
        .strip_prefix("name: ")
        .ok_or(FormatParseError::Expected {
            line: n,
            expected: "`name: EVENT`",
        })?
        .to_owned();
    let (n, line) = lines.next().unwrap_or((2, ""));
    let id = line
        .strip_prefix("ID: ")
        .and_then(|v| v.trim().parse().ok())
        .ok_or(FormatParseError::Expected {
            line: n,
            expected: "`ID: NUMBER`",
        })?;
    let (n, line) = lines.next().unwrap_or((3, ""));
    if line.trim_end() != "format:" {
        return Err(FormatParseError::Expected {
            line: n,
            expected: "`format:`",
        });
    }

    let mut fields = Vec::new();
    let mut print_fmt = None;
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(fmt) = line.strip_prefix("print fmt: ") {
            print_fmt = Some(fmt.to_owned());
            break;
        }
        match field_line(line.trim_start()) {
            Ok((_, field)) => fields.push(field),
            Err(_) => {
                return Err(FormatParseError::Expected {
                    line: n,
                    expected: "`field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;`",
                })
            }
        }
    }
    Ok(EventFormat {
        name,
        id,
        fields,
        print_fmt: print_fmt.unwrap_or_default(),
    })
}

/// `field:TYPE NAME[LEN];\toffset:N;\tsize:N;\tsigned:N;` (`signed` absent on very old
/// kernels).
fn field_line(input: &str) -> IResult<&str, FormatField> {
    let (input, _) = tag("field:").parse(input)?;
    let (input, decl) = take_till(|c| c == ';').parse(input)?;
    let (input, _) = tag(";").parse(input)?;
    let (input, offset) = attribute("offset").parse(input)?;
    let (input, size) = attribute("size").parse(input)?;
    let (input, signed) = opt(attribute("signed")).parse(input)?;
    let (c_type, name, array_len) = split_declaration(decl).ok_or_else(|| {
        nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Verify))
    })?;
    Ok((
        input,
        FormatField {
            data_loc: c_type.starts_with("__data_loc"),
            c_type,
            name,
            array_len,
            offset,
            size,
            signed: signed == Some(1),
        },
    ))
}

/// `\tNAME:DIGITS;`
fn attribute<'a>(
    name: &'static str,
) -> impl Parser<&'a str, Output = u32, Error = nom::error::Error<&'a str>> {
    (
        take_while(|c: char| c.is_whitespace()),
        tag(name),
        tag(":"),
        map_res(digit1, str::parse::<u32>),
        alt((tag(";"), tag(""))),
    )
        .map(|(_, _, _, value, _)| value)
}

/// Splits `unsigned long __probe_ip`, `s64 arr[3]`, `__data_loc char[] p` into the C type,
/// the field name and the array length.
fn split_declaration(decl: &str) -> Option<(String, String, Option<u32>)> {
    let decl = decl.trim();
    let (mut head, array_len) = match decl.strip_suffix(']') {
        Some(without) => {
            let open = without.rfind('[')?;
            let len_text = &without[open + 1..];
            let len = if len_text.is_empty() {
                0
            } else {
                len_text.parse().ok()?
            };
            (&without[..open], Some(len))
        }
        None => (decl, None),
    };
    head = head.trim_end();
    let name_start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &head[name_start..];
    let (_, name_ok) = take_while1::<_, _, nom::error::Error<&str>>(|c: char| {
        c.is_ascii_alphanumeric() || c == '_'
    })
    .parse(name)
    .ok()?;
    if name_ok.is_empty() {
        return None;
    }
    let c_type = head[..name_start].trim_end().to_owned();
    Some((c_type, name.to_owned(), array_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPROBE_FORMAT: &[u8] = b"name: ent\nID: 2326\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\
\tfield:__data_loc char[] p;\toffset:16;\tsize:4;\tsigned:1;\n\
\tfield:s32 n;\toffset:20;\tsize:4;\tsigned:1;\n\
\tfield:s64 arr[];\toffset:26;\tsize:24;\tsigned:1;\n\
\n\
print fmt: \"(%lx) p=\\\"%s\\\" n=%d arr={%Ld,%Ld,%Ld}\", REC->__probe_ip, __get_str(p), REC->n, REC->arr[0], REC->arr[1], REC->arr[2]\n";

    #[test]
    fn uprobe_format_real_6_18() {
        let f = parse_event_format(UPROBE_FORMAT).unwrap();
        assert_eq!(f.name, "ent");
        assert_eq!(f.id, 2326);
        assert_eq!(f.fields.len(), 8);
        let p = f.field("p").unwrap();
        assert!(p.data_loc);
        assert_eq!(p.c_type, "__data_loc char[]");
        assert_eq!((p.offset, p.size, p.signed), (16, 4, true));
        let arr = f.field("arr").unwrap();
        assert_eq!(arr.array_len, Some(0));
        assert_eq!(arr.c_type, "s64");
        assert_eq!(f.own_fields().count(), 4);
        assert!(f.print_fmt.starts_with("\"(%lx) p=\\\"%s\\\""));
    }

    #[test]
    fn declarations() {
        assert_eq!(
            split_declaration("const char * filename"),
            Some(("const char *".into(), "filename".into(), None))
        );
        assert_eq!(
            split_declaration("char comm[16]"),
            Some(("char".into(), "comm".into(), Some(16)))
        );
        assert_eq!(
            split_declaration("int"),
            Some(("".into(), "int".into(), None))
        );
        assert_eq!(split_declaration("x[zz]"), None);
        // Found by fuzz/event_format: a multi-byte char right before the name.
        assert_eq!(
            split_declaration("unsigned short common_t\u{fffd}pe"),
            Some(("unsigned short common_t\u{fffd}".into(), "pe".into(), None))
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse_event_format(b"name: x\nID: q\n"),
            Err(FormatParseError::Expected {
                line: 2,
                expected: "`ID: NUMBER`"
            })
        );
        let bad = b"name: x\nID: 1\nformat:\n\tfield:int a;\toffset:zz;\n";
        assert!(matches!(
            parse_event_format(bad),
            Err(FormatParseError::Expected { line: 4, .. })
        ));
    }
}
