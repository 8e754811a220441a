//! Fetch-arg types (`:u32`, `:string`, `:b4@4/8`, `:x8[16]`; kernel-notes §1.8).

use std::fmt;

use super::names::MAX_ARRAY_LEN;
use super::number::parse_u64_base0;
use super::number::parse_u64_dec;
use super::SpecErrorKind;

/// The width of an integer type or bitfield container, in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntWidth {
    /// 8 bits.
    W8,
    /// 16 bits.
    W16,
    /// 32 bits.
    W32,
    /// 64 bits.
    W64,
}

impl IntWidth {
    /// The width in bits.
    pub fn bits(self) -> u8 {
        match self {
            Self::W8 => 8,
            Self::W16 => 16,
            Self::W32 => 32,
            Self::W64 => 64,
        }
    }

    fn from_bits(bits: &str) -> Option<Self> {
        match bits {
            "8" => Some(Self::W8),
            "16" => Some(Self::W16),
            "32" => Some(Self::W32),
            "64" => Some(Self::W64),
            _ => None,
        }
    }
}

/// A scalar type, before any `[N]` array suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BaseType {
    /// `u8`..`u64`: unsigned decimal.
    Unsigned(IntWidth),
    /// `s8`..`s64`: signed decimal.
    Signed(IntWidth),
    /// `x8`..`x64`: hexadecimal (the kernel's default is `x64`).
    Hex(IntWidth),
    /// `char`: one raw byte.
    Char,
    /// `string`: a NUL-terminated string read from memory.
    String,
    /// `ustring`: a string read from user memory.
    Ustring,
    /// `symbol`: a kernel address printed as `sym+off/size`.
    Symbol,
    /// `symstr`: a kernel address stored as the string `sym+off/size`.
    Symstr,
    /// `%pd`: the name of a `struct dentry *`.
    Dentry,
    /// `%pD`: the name of a `struct file *`.
    File,
    /// `b<W>@<O>/<C>`: `width` bits at bit `offset` of a `container`-bit word.
    Bitfield {
        /// Width in bits (at least 1).
        width: u8,
        /// Offset in bits from the least significant bit.
        offset: u8,
        /// The word it is read from.
        container: IntWidth,
    },
}

impl BaseType {
    /// Whether the value is stored as a string (`__data_loc char[]`).
    pub fn is_string(self) -> bool {
        matches!(
            self,
            Self::String | Self::Ustring | Self::Symstr | Self::Dentry | Self::File
        )
    }

    /// Whether only kernel probes can use it.
    pub fn is_kernel_only(self) -> bool {
        matches!(
            self,
            Self::Symbol | Self::Symstr | Self::Dentry | Self::File
        )
    }
}

impl fmt::Display for BaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned(w) => write!(f, "u{}", w.bits()),
            Self::Signed(w) => write!(f, "s{}", w.bits()),
            Self::Hex(w) => write!(f, "x{}", w.bits()),
            Self::Char => f.write_str("char"),
            Self::String => f.write_str("string"),
            Self::Ustring => f.write_str("ustring"),
            Self::Symbol => f.write_str("symbol"),
            Self::Symstr => f.write_str("symstr"),
            Self::Dentry => f.write_str("%pd"),
            Self::File => f.write_str("%pD"),
            Self::Bitfield {
                width,
                offset,
                container,
            } => write!(f, "b{width}@{offset}/{}", container.bits()),
        }
    }
}

/// The type after `:` in a fetch arg: a base type, maybe an array of 1..=64 of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FetchType {
    /// The element type.
    pub base: BaseType,
    /// `[N]`: the array length, 1..=64.
    pub array: Option<u8>,
}

impl fmt::Display for FetchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.base.fmt(f)?;
        if let Some(n) = self.array {
            write!(f, "[{n}]")?;
        }
        Ok(())
    }
}

/// Parses a type as written after the `:`.
pub(crate) fn parse_fetch_type(text: &str) -> Result<FetchType, SpecErrorKind> {
    let (base_text, array) = match text.split_once('[') {
        Some((base, rest)) => {
            let n = rest
                .strip_suffix(']')
                .and_then(|n| u32::try_from(parse_u64_base0(n)?).ok())
                .filter(|n| (1..=MAX_ARRAY_LEN).contains(n))
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| SpecErrorKind::BadArrayLen(rest.trim_end_matches(']').to_owned()))?;
            (base, Some(n))
        }
        None => (text, None),
    };
    let base = parse_base_type(base_text)?;
    Ok(FetchType { base, array })
}

fn parse_base_type(text: &str) -> Result<BaseType, SpecErrorKind> {
    let bad = || SpecErrorKind::BadType(text.to_owned());
    Ok(match text {
        "char" => BaseType::Char,
        "string" => BaseType::String,
        "ustring" => BaseType::Ustring,
        "symbol" => BaseType::Symbol,
        "symstr" => BaseType::Symstr,
        "%pd" => BaseType::Dentry,
        "%pD" => BaseType::File,
        _ => {
            if let Some(bf) = text.strip_prefix('b') {
                return parse_bitfield(bf)
                    .ok_or_else(|| SpecErrorKind::BadBitfield(text.to_owned()));
            }
            let (sign, bits) = text.split_at_checked(1).ok_or_else(bad)?;
            let width = IntWidth::from_bits(bits).ok_or_else(bad)?;
            match sign {
                "u" => BaseType::Unsigned(width),
                "s" => BaseType::Signed(width),
                "x" => BaseType::Hex(width),
                _ => return Err(bad()),
            }
        }
    })
}

fn parse_bitfield(text: &str) -> Option<BaseType> {
    let (width, rest) = text.split_once('@')?;
    let (offset, container) = rest.split_once('/')?;
    let width = u8::try_from(parse_u64_dec(width)?).ok()?;
    let offset = u8::try_from(parse_u64_dec(offset)?).ok()?;
    let container = IntWidth::from_bits(container)?;
    let fits = u16::from(width) + u16::from(offset) <= u16::from(container.bits());
    (width >= 1 && fits).then_some(BaseType::Bitfield {
        width,
        offset,
        container,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_print_back() {
        for t in [
            "u8",
            "u16",
            "u32",
            "u64",
            "s8",
            "s64",
            "x8",
            "x32",
            "char",
            "string",
            "ustring",
            "symbol",
            "symstr",
            "%pd",
            "%pD",
            "b4@4/8",
            "b1@0/64",
            "u32[4]",
            "string[2]",
            "x8[64]",
        ] {
            let parsed = parse_fetch_type(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(parsed.to_string(), t);
        }
    }

    #[test]
    fn bad_types_are_rejected() {
        for t in [
            "", "u", "u7", "u128", "int", "b0@0/8", "b5@4/8", "b4@4/12", "b4/8", "u8[0]", "u8[65]",
            "u8[", "u8[2", "u8[x]", "x64[1]]", "String",
        ] {
            assert!(parse_fetch_type(t).is_err(), "{t}");
        }
        assert_eq!(parse_fetch_type("u8[0x10]").map(|t| t.array), Ok(Some(16)));
    }
}
