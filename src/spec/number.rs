//! Numbers as the kernel's `kstrto*` functions read them, so that what we accept the
//! kernel accepts with the same value.

/// Reads an unsigned number the way `kstrtoul(s, 0, …)` does: `0x` hex, a leading `0`
/// octal, otherwise decimal; no sign, no surrounding text. `None` if it is not a number
/// or does not fit in 64 bits.
pub(crate) fn parse_u64_base0(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let (radix, digits) = match b {
        [b'0', b'x' | b'X', rest @ ..] if rest.first().is_some_and(u8::is_ascii_hexdigit) => {
            (16, rest)
        }
        [b'0', ..] => (8, b),
        _ => (10, b),
    };
    parse_digits(digits, radix)
}

/// Reads an unsigned decimal number, as `kstrtoul(s, 10, …)` does.
pub(crate) fn parse_u64_dec(s: &str) -> Option<u64> {
    parse_digits(s.as_bytes(), 10)
}

/// Reads a signed number the way `kstrtol(s, 0, …)` does: an optional `-`, then
/// [`parse_u64_base0`]'s forms; the result must fit in an `i64`.
pub(crate) fn parse_i64_base0(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(rest) => {
            let magnitude = parse_u64_base0(rest)?;
            0i64.checked_sub_unsigned(magnitude)
        }
        None => i64::try_from(parse_u64_base0(s)?).ok(),
    }
}

fn parse_digits(digits: &[u8], radix: u32) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        let digit = char::from(d).to_digit(radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Formats a signed offset with an explicit sign, as `+16` or `-8`.
pub(crate) fn signed(value: i64) -> String {
    if value < 0 {
        format!("-{}", value.unsigned_abs())
    } else {
        format!("+{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base0_follows_kstrtoul() {
        assert_eq!(parse_u64_base0("0x10"), Some(16));
        assert_eq!(parse_u64_base0("0X1f"), Some(31));
        assert_eq!(parse_u64_base0("010"), Some(8));
        assert_eq!(parse_u64_base0("0"), Some(0));
        assert_eq!(parse_u64_base0("10"), Some(10));
        assert_eq!(parse_u64_base0("08"), None);
        assert_eq!(parse_u64_base0("0x"), None);
        assert_eq!(parse_u64_base0(""), None);
        assert_eq!(parse_u64_base0("+1"), None);
        assert_eq!(parse_u64_base0("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_base0("18446744073709551616"), None);
    }

    #[test]
    fn signed_follows_kstrtol() {
        assert_eq!(parse_i64_base0("-8"), Some(-8));
        assert_eq!(parse_i64_base0("-0x10"), Some(-16));
        assert_eq!(parse_i64_base0("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64_base0("9223372036854775808"), None);
        assert_eq!(parse_i64_base0("--1"), None);
        assert_eq!(signed(i64::MIN), "-9223372036854775808");
        assert_eq!(signed(0), "+0");
    }
}
