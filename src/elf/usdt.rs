//! USDT probes: SystemTap `.note.stapsdt` notes (what `<sys/sdt.h>` emits), and their
//! arguments as uprobe fetch-args.
//!
//! Each note (owner `stapsdt`, type 3) has three addresses of the file's word size
//! (pc, the link-time address of `.stapsdt.base`, the semaphore or 0), then
//! `provider\0name\0args\0`. If the file was prelinked, `.stapsdt.base` moved and pc
//! moves with it: `pc += base_section_addr − base`. Args are `[-]SIZE@OPERAND` separated
//! by spaces (`-4@%eax 8@-8(%rbp) 4@$5`). Pure over bytes; never panics.

/// The note type of a SystemTap SDT probe.
const NT_STAPSDT: u32 = 3;

/// One USDT probe site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtNote {
    /// The provider (`myapp`).
    pub provider: String,
    /// The probe name (`request_start`).
    pub name: String,
    /// The probe's address as linked (before any `.stapsdt.base` adjustment).
    pub pc: u64,
    /// The link-time address of `.stapsdt.base` the note recorded.
    pub base: u64,
    /// The semaphore's address, 0 when the probe has none.
    pub semaphore: u64,
    /// The argument string, e.g. `-4@%eax 8@-8(%rbp)`.
    pub args: String,
}

impl UsdtNote {
    /// The pc adjusted for prelinking, given where `.stapsdt.base` really is (if the
    /// file has that section).
    pub fn adjusted_pc(&self, base_section_addr: Option<u64>) -> u64 {
        match base_section_addr {
            Some(actual) if self.base != 0 => self.pc.wrapping_add(actual.wrapping_sub(self.base)),
            _ => self.pc,
        }
    }

    /// The parsed arguments.
    pub fn parsed_args(&self) -> Result<Vec<UsdtArg>, String> {
        self.args.split_whitespace().map(UsdtArg::parse).collect()
    }
}

/// Parses the bytes of a `.note.stapsdt` section. `is_64` is the ELF class; notes of
/// other owners or types are skipped; a malformed tail ends the list.
pub fn parse_stapsdt_notes(data: &[u8], is_64: bool, big_endian: bool) -> Vec<UsdtNote> {
    let word = if is_64 { 8 } else { 4 };
    let u32_at = |at: usize| -> Option<u32> {
        let raw: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    };
    let word_at = |desc: &[u8], at: usize| -> Option<u64> {
        let raw = desc.get(at..at + word)?;
        let mut buf = [0u8; 8];
        if big_endian {
            buf[8 - word..].copy_from_slice(raw);
            Some(u64::from_be_bytes(buf))
        } else {
            buf[..word].copy_from_slice(raw);
            Some(u64::from_le_bytes(buf))
        }
    };
    let mut notes = Vec::new();
    let mut at = 0usize;
    while let (Some(namesz), Some(descsz), Some(kind)) =
        (u32_at(at), u32_at(at + 4), u32_at(at + 8))
    {
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        let name_start = at + 12;
        let Some(desc_start) = name_start.checked_add(namesz.next_multiple_of(4)) else {
            break;
        };
        let Some(next) = desc_start.checked_add(descsz.next_multiple_of(4)) else {
            break;
        };
        let (Some(owner), Some(desc)) = (
            data.get(name_start..name_start + namesz),
            desc_start
                .checked_add(descsz)
                .and_then(|end| data.get(desc_start..end)),
        ) else {
            break;
        };
        if owner == b"stapsdt\0" && kind == NT_STAPSDT {
            if let Some(note) = parse_desc(desc, word, &word_at) {
                notes.push(note);
            }
        }
        at = next;
    }
    notes
}

fn parse_desc(
    desc: &[u8],
    word: usize,
    word_at: &dyn Fn(&[u8], usize) -> Option<u64>,
) -> Option<UsdtNote> {
    let pc = word_at(desc, 0)?;
    let base = word_at(desc, word)?;
    let semaphore = word_at(desc, 2 * word)?;
    let mut strings = desc.get(3 * word..)?.split(|b| *b == 0);
    let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
    let provider = text(strings.next()?);
    let name = text(strings.next()?);
    let args = text(strings.next().unwrap_or(b""));
    Some(UsdtNote {
        provider,
        name,
        pc,
        base,
        semaphore,
        args,
    })
}

/// Where a USDT argument's value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsdtOperand {
    /// In a register (the uprobe tracer's name: `ax`, `r8`…).
    Register(&'static str),
    /// In memory at register + displacement.
    Memory {
        /// The base register (tracer name).
        base: &'static str,
        /// The displacement.
        disp: i64,
    },
    /// A constant.
    Immediate(i64),
    /// In memory at a symbol (`sym+disp(%rip)`).
    Symbol {
        /// The symbol name.
        name: String,
        /// The displacement after it.
        disp: i64,
    },
}

/// One USDT argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtArg {
    /// Size in bytes (1, 2, 4, 8).
    pub size: u8,
    /// Whether it is signed (`-4@…`).
    pub signed: bool,
    /// Where the value is.
    pub operand: UsdtOperand,
}

/// The uprobe tracer's name for an x86-64 register, any width (`%eax` -> `ax`).
fn x86_64_register(name: &str) -> Option<&'static str> {
    const REGS: [(&str, [&str; 4]); 16] = [
        ("ax", ["rax", "eax", "ax", "al"]),
        ("bx", ["rbx", "ebx", "bx", "bl"]),
        ("cx", ["rcx", "ecx", "cx", "cl"]),
        ("dx", ["rdx", "edx", "dx", "dl"]),
        ("si", ["rsi", "esi", "si", "sil"]),
        ("di", ["rdi", "edi", "di", "dil"]),
        ("bp", ["rbp", "ebp", "bp", "bpl"]),
        ("sp", ["rsp", "esp", "sp", "spl"]),
        ("r8", ["r8", "r8d", "r8w", "r8b"]),
        ("r9", ["r9", "r9d", "r9w", "r9b"]),
        ("r10", ["r10", "r10d", "r10w", "r10b"]),
        ("r11", ["r11", "r11d", "r11w", "r11b"]),
        ("r12", ["r12", "r12d", "r12w", "r12b"]),
        ("r13", ["r13", "r13d", "r13w", "r13b"]),
        ("r14", ["r14", "r14d", "r14w", "r14b"]),
        ("r15", ["r15", "r15d", "r15w", "r15b"]),
    ];
    if name == "rip" {
        return Some("ip");
    }
    REGS.iter()
        .find(|(_, forms)| forms.contains(&name))
        .map(|(tracer, _)| *tracer)
}

fn parse_i64(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(if neg { value.checked_neg()? } else { value })
}

impl UsdtArg {
    /// Parses `[-]SIZE@OPERAND` (x86-64 AT&T operands).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (size_text, operand) = text
            .split_once('@')
            .ok_or_else(|| format!("`{text}` has no SIZE@"))?;
        let (signed, digits) = match size_text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, size_text),
        };
        let size: u8 = digits
            .parse()
            .ok()
            .filter(|s| matches!(s, 1 | 2 | 4 | 8))
            .ok_or_else(|| format!("size `{size_text}` is not 1, 2, 4 or 8"))?;
        let operand = if let Some(reg) = operand.strip_prefix('%') {
            UsdtOperand::Register(
                x86_64_register(reg)
                    .ok_or_else(|| format!("register `%{reg}` is not supported"))?,
            )
        } else if let Some(imm) = operand.strip_prefix('$') {
            UsdtOperand::Immediate(parse_i64(imm).ok_or_else(|| format!("bad constant `{imm}`"))?)
        } else if let Some((disp, rest)) = operand.split_once('(') {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("unclosed `(` in `{operand}`"))?;
            if inner.contains(',') {
                return Err(format!("indexed operand `{operand}` is not supported"));
            }
            let reg = inner
                .strip_prefix('%')
                .and_then(x86_64_register)
                .ok_or_else(|| format!("register `{inner}` is not supported"))?;
            match parse_i64(if disp.is_empty() { "0" } else { disp }) {
                Some(disp) if reg != "ip" => UsdtOperand::Memory { base: reg, disp },
                _ if reg == "ip" => {
                    let (name, disp) = match disp.rfind(['+', '-']) {
                        Some(at) if at > 0 => (
                            &disp[..at],
                            parse_i64(&disp[at..])
                                .ok_or_else(|| format!("bad offset in `{disp}`"))?,
                        ),
                        _ => (disp, 0),
                    };
                    UsdtOperand::Symbol {
                        name: name.to_owned(),
                        disp,
                    }
                }
                _ => return Err(format!("bad displacement `{disp}`")),
            }
        } else {
            return Err(format!("operand `{operand}` is not supported"));
        };
        Ok(Self {
            size,
            signed,
            operand,
        })
    }

    /// The fetch type: `s32`, `u64`…
    pub fn fetch_type(&self) -> String {
        format!(
            "{}{}",
            if self.signed { 's' } else { 'u' },
            u32::from(self.size) * 8
        )
    }

    /// The uprobe fetch-arg, e.g. `%ax:s32`, `-8(%bp):s64`, `\5:s32`. A symbol operand
    /// needs `symbol_offset`: the `@+OFF` the kernel adds to the probed file's base.
    pub fn fetch_arg(&self, symbol_offset: Option<u64>) -> Option<String> {
        let ty = self.fetch_type();
        Some(match &self.operand {
            UsdtOperand::Register(reg) => format!("%{reg}:{ty}"),
            UsdtOperand::Memory { base, disp } => {
                let sign = if *disp < 0 { '-' } else { '+' };
                format!("{sign}{}(%{base}):{ty}", disp.unsigned_abs())
            }
            UsdtOperand::Immediate(v) => format!("\\{v}:{ty}"),
            UsdtOperand::Symbol { .. } => format!("@+0x{:x}:{ty}", symbol_offset?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(desc_words: [u64; 3], strings: &[u8]) -> Vec<u8> {
        let mut desc = Vec::new();
        for w in desc_words {
            desc.extend_from_slice(&w.to_le_bytes());
        }
        desc.extend_from_slice(strings);
        let mut out = Vec::new();
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(b"stapsdt\0");
        out.extend_from_slice(&desc);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    /// Hand-made notes in the layout sdt.h emits.
    #[test]
    fn notes_parse_and_adjust() {
        let mut data = note([0x1130, 0x2004, 0x4010], b"app\0hit\0-4@%eax 8@-8(%rbp)\0");
        data.extend(note([0x1140, 0x2004, 0], b"app\0idle\0\0"));
        let notes = parse_stapsdt_notes(&data, true, false);
        assert_eq!(notes.len(), 2);
        assert_eq!(
            (notes[0].provider.as_str(), notes[0].name.as_str()),
            ("app", "hit")
        );
        assert_eq!(notes[0].semaphore, 0x4010);
        assert_eq!(notes[1].args, "");
        assert_eq!(notes[0].adjusted_pc(Some(0x2004)), 0x1130);
        assert_eq!(notes[0].adjusted_pc(Some(0x3004)), 0x2130);
        assert_eq!(notes[0].adjusted_pc(None), 0x1130);
        for cut in 0..data.len() {
            assert!(parse_stapsdt_notes(&data[..cut], true, false).len() <= 2);
        }
    }

    #[test]
    fn args_become_fetch_args() {
        let table = [
            ("-4@%eax", "%ax:s32"),
            ("8@-8(%rbp)", "-8(%bp):u64"),
            ("-8@-8(%rbp)", "-8(%bp):s64"),
            ("8@(%rdi)", "+0(%di):u64"),
            ("2@16(%rsp)", "+16(%sp):u16"),
            ("-1@%r9b", "%r9:s8"),
            ("4@$5", "\\5:u32"),
            ("-8@$-3", "\\-3:s64"),
            ("8@%r15", "%r15:u64"),
        ];
        for (arg, want) in table {
            let parsed = UsdtArg::parse(arg).unwrap_or_else(|e| panic!("{arg}: {e}"));
            assert_eq!(parsed.fetch_arg(None).as_deref(), Some(want), "{arg}");
        }
        let sym = UsdtArg::parse("4@counter+4(%rip)").unwrap();
        assert_eq!(
            sym.operand,
            UsdtOperand::Symbol {
                name: "counter".into(),
                disp: 4
            }
        );
        assert_eq!(sym.fetch_arg(Some(0x4020)).as_deref(), Some("@+0x4020:u32"));
        for bad in [
            "%eax",
            "3@%eax",
            "4@%ah",
            "8@(%rax,%rbx,2)",
            "4@foo",
            "4@$x",
            "8@1(%rax",
        ] {
            assert!(UsdtArg::parse(bad).is_err(), "{bad}");
        }
    }
}
