//! Property test: any event built from arbitrary comm, pid, tgid, cpu, flags, timestamp and
//! typed fields, printed in the kernel's layout (`trace_print_context` and the probe print
//! functions, kernel-notes.md §3) with the matching format file, decodes back to itself.

use proptest::collection::vec;
use proptest::prelude::*;
use tprobe::decode::Decoder;
use tprobe::decode::EventCatalog;
use tprobe::decode::Record;
use tprobe::parse::parse_event_format;
use tprobe::parse::Tgid;
use tprobe::parse::Value;

#[derive(Debug, Clone)]
enum FieldGen {
    S32(i32),
    S64(i64),
    U8(u8),
    U64(u64),
    X32(u32),
    Str(Vec<u8>),
    StrFault,
    Char(u8),
    S16Array(Vec<i16>),
}

impl FieldGen {
    /// The probe type, the format's C type and size, the print fmt piece and its argument.
    fn layout(&self, name: &str) -> (String, String, String) {
        let (c_type, fmt, arg) = match self {
            FieldGen::S32(_) => ("s32", "%d".to_owned(), format!("REC->{name}")),
            FieldGen::S64(_) => ("s64", "%Ld".to_owned(), format!("REC->{name}")),
            FieldGen::U8(_) => ("u8", "%u".to_owned(), format!("REC->{name}")),
            FieldGen::U64(_) => ("u64", "%Lu".to_owned(), format!("REC->{name}")),
            FieldGen::X32(_) => ("u32", "0x%x".to_owned(), format!("REC->{name}")),
            FieldGen::Str(_) | FieldGen::StrFault => (
                "__data_loc char[]",
                "\\\"%s\\\"".to_owned(),
                format!("__get_str({name})"),
            ),
            FieldGen::Char(_) => ("u8", "'%c'".to_owned(), format!("REC->{name}")),
            FieldGen::S16Array(items) => (
                "s16",
                format!("{{{}}}", vec!["%d"; items.len()].join(",")),
                (0..items.len())
                    .map(|i| format!("REC->{name}[{i}]"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let decl = match self {
            FieldGen::S16Array(_) => format!("{c_type} {name}[]"),
            _ => format!("{c_type} {name}"),
        };
        (decl, fmt, arg)
    }

    /// What the kernel prints for the value.
    fn printed(&self) -> Vec<u8> {
        match self {
            FieldGen::S32(v) => v.to_string().into_bytes(),
            FieldGen::S64(v) => v.to_string().into_bytes(),
            FieldGen::U8(v) => v.to_string().into_bytes(),
            FieldGen::U64(v) => v.to_string().into_bytes(),
            FieldGen::X32(v) => format!("0x{v:x}").into_bytes(),
            FieldGen::Str(s) => [&b"\""[..], s, b"\""].concat(),
            FieldGen::StrFault => b"(fault)".to_vec(),
            FieldGen::Char(c) => vec![b'\'', *c, b'\''],
            FieldGen::S16Array(items) => format!(
                "{{{}}}",
                items
                    .iter()
                    .map(i16::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
            .into_bytes(),
        }
    }

    fn expected(&self) -> Value<'_> {
        match self {
            FieldGen::S32(v) => Value::Signed(i64::from(*v)),
            FieldGen::S64(v) => Value::Signed(*v),
            FieldGen::U8(v) => Value::Unsigned(u64::from(*v)),
            FieldGen::U64(v) => Value::Unsigned(*v),
            FieldGen::X32(_) => unreachable!("compared as text"),
            FieldGen::Str(s) => Value::Str(s),
            FieldGen::StrFault => Value::Fault,
            FieldGen::Char(c) => Value::Char(*c),
            FieldGen::S16Array(items) => {
                Value::Array(items.iter().map(|v| Value::Signed(i64::from(*v))).collect())
            }
        }
    }
}

#[derive(Debug, Clone)]
struct EventGen {
    comm: Vec<u8>,
    pid: u32,
    tgid: Option<Option<u32>>,
    cpu: u16,
    flags: Option<String>,
    ts: (u64, Option<u32>),
    name: String,
    ip: u64,
    fields: Vec<FieldGen>,
}

/// Bytes a comm may hold that make parsing hard: spaces, dashes, digits, brackets,
/// colons, quotes, UTF-8 and invalid UTF-8.
fn comm_byte() -> impl Strategy<Value = u8> {
    prop::sample::select(b"ab z09-[]:<>.\"=()\xc3\xa9\xff_".to_vec())
}

/// Bytes a probed string may hold, including a newline (which splits the record).
fn string_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => prop::sample::select(b"abxyz019 -=\"'\\:[](){},/\t".to_vec()),
        1 => Just(b'\n'),
        1 => 0x80u8..=0xff,
    ]
}

fn field_gen() -> impl Strategy<Value = FieldGen> {
    prop_oneof![
        any::<i32>().prop_map(FieldGen::S32),
        any::<i64>().prop_map(FieldGen::S64),
        any::<u8>().prop_map(FieldGen::U8),
        any::<u64>().prop_map(FieldGen::U64),
        any::<u32>().prop_map(FieldGen::X32),
        vec(string_byte(), 0..40).prop_map(FieldGen::Str),
        Just(FieldGen::StrFault),
        (1u8..=255).prop_map(FieldGen::Char),
        vec(any::<i16>(), 1..5).prop_map(FieldGen::S16Array),
    ]
}

fn event_gen() -> impl Strategy<Value = EventGen> {
    (
        (
            vec(comm_byte(), 1..=15).prop_filter("comm starts with text", |c| c[0] != b' '),
            0u32..4_194_304,
            prop::option::of(prop::option::of(0u32..4_194_304)),
            0u16..512,
            prop::option::of("[.dDbX][.nNpBLbl][.zZhHs][.1-9a-f][.1-9a-f]"),
        ),
        (
            (0u64..100_000_000, prop::option::of(0u32..1_000_000)),
            "e[a-z0-9_]{0,12}",
            any::<u64>(),
            vec(field_gen(), 0..7),
        ),
    )
        .prop_map(
            |((comm, pid, tgid, cpu, flags), (ts, name, ip, fields))| EventGen {
                comm,
                pid,
                tgid,
                cpu,
                flags,
                ts,
                name,
                ip,
                fields,
            },
        )
}

impl EventGen {
    fn format_file(&self) -> String {
        let mut text = format!("name: {}\nID: 1234\nformat:\n", self.name);
        text.push_str("\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n");
        text.push_str("\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n");
        text.push_str("\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n");
        let mut fmt = String::from("(%lx)");
        let mut args = vec!["REC->__probe_ip".to_owned()];
        for (i, field) in self.fields.iter().enumerate() {
            let name = format!("f{i}");
            let (decl, piece, arg) = field.layout(&name);
            text.push_str(&format!(
                "\tfield:{decl};\toffset:16;\tsize:4;\tsigned:0;\n"
            ));
            fmt.push_str(&format!(" {name}={piece}"));
            args.push(arg);
        }
        text.push_str(&format!("\nprint fmt: \"{fmt}\", {}\n", args.join(", ")));
        text
    }

    fn trace_text(&self) -> Vec<u8> {
        let mut line = Vec::new();
        line.resize(16usize.saturating_sub(self.comm.len()), b' ');
        line.extend_from_slice(&self.comm);
        line.extend_from_slice(format!("-{:<7} ", self.pid).as_bytes());
        match self.tgid {
            Some(Some(tgid)) => line.extend_from_slice(format!("({tgid:>7}) ").as_bytes()),
            Some(None) => line.extend_from_slice(b"(-------) "),
            None => {}
        }
        line.extend_from_slice(format!("[{:03}] ", self.cpu).as_bytes());
        if let Some(flags) = &self.flags {
            line.extend_from_slice(format!("{flags} ").as_bytes());
        }
        match self.ts {
            (sec, Some(usec)) => line.extend_from_slice(format!("{sec:>5}.{usec:06}").as_bytes()),
            (count, None) => line.extend_from_slice(format!("{count:>12}").as_bytes()),
        }
        line.extend_from_slice(format!(": {}: (0x{:x})", self.name, self.ip).as_bytes());
        for (i, field) in self.fields.iter().enumerate() {
            line.extend_from_slice(format!(" f{i}=").as_bytes());
            line.extend_from_slice(&field.printed());
        }
        line.push(b'\n');
        line
    }
}

proptest! {
    // PROPTEST_CASES=100000 for a longer search by hand.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn printed_event_decodes_to_itself(event in event_gen()) {
        let mut catalog = EventCatalog::new();
        catalog.insert("g", parse_event_format(event.format_file().as_bytes()).unwrap());
        let text = event.trace_text();
        let mut decoder = Decoder::new(&catalog);
        let mut seen = 0;
        let mut sink = |record: &Record<'_>| -> Result<(), TestCaseError> {
            let Record::Event(decoded) = record else {
                return Err(TestCaseError::fail(format!("not an event: {record:?}")));
            };
            seen += 1;
            let h = &decoded.header;
            prop_assert_eq!(h.comm, &event.comm[..]);
            prop_assert_eq!(h.pid, event.pid as i32);
            prop_assert_eq!(h.tgid, event.tgid.map(|t| t.map_or(Tgid::Unknown, |t| Tgid::Known(t as i32))));
            prop_assert_eq!(h.cpu, u32::from(event.cpu));
            prop_assert_eq!(h.flags, event.flags.as_deref().map(str::as_bytes));
            let ts = match event.ts {
                (sec, Some(usec)) => format!("{sec}.{usec:06}"),
                (count, None) => count.to_string(),
            };
            prop_assert_eq!(h.ts, ts.as_bytes());
            prop_assert_eq!(&decoded.name[..], event.name.as_bytes());
            prop_assert_eq!(decoded.group, Some("g"));
            prop_assert!(!decoded.guessed, "fields were guessed");
            prop_assert_eq!(decoded.fields.len(), event.fields.len() + 1);
            let ip = format!("0x{:x}", event.ip);
            prop_assert_eq!(&decoded.fields[0].value, &Value::Text(ip.as_bytes()));
            for (i, (got, want)) in decoded.fields[1..].iter().zip(&event.fields).enumerate() {
                let name = format!("f{i}");
                prop_assert_eq!(got.name, name.as_bytes());
                let hex = format!("0x{:x}", match want { FieldGen::X32(v) => *v, _ => 0 });
                match want {
                    FieldGen::X32(_) => prop_assert_eq!(&got.value, &Value::Hex(hex.as_bytes())),
                    _ => prop_assert_eq!(&got.value, &want.expected()),
                }
            }
            Ok(())
        };
        for line in text.strip_suffix(b"\n").unwrap().split(|b| *b == b'\n') {
            decoder.push_line(line, &mut sink)?;
        }
        decoder.finish(&mut sink)?;
        prop_assert_eq!(seen, 1);
    }
}
