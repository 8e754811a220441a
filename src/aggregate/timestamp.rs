//! Event timestamps as printed (`147.606363`, `147.606363123`, or a counter clock's `204`)
//! into integer nanoseconds, without going through floating point.

/// Nanoseconds from `sec.frac` (up to 9 fraction digits, shorter ones are scaled); a
/// plain integer (counter clocks) is taken as it is. `None` for anything else.
pub fn ts_nanos(ts: &[u8]) -> Option<u64> {
    let (secs, frac) = match ts.iter().position(|&b| b == b'.') {
        Some(dot) => (&ts[..dot], Some(&ts[dot + 1..])),
        None => (ts, None),
    };
    let secs = digits(secs)?;
    let Some(frac) = frac else {
        return Some(secs);
    };
    if frac.is_empty() || frac.len() > 9 {
        return None;
    }
    let scale = 10u64.pow(9 - frac.len() as u32);
    secs.checked_mul(1_000_000_000)?
        .checked_add(digits(frac)? * scale)
}

fn digits(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_forms() {
        assert_eq!(ts_nanos(b"147.606363"), Some(147_606_363_000));
        assert_eq!(ts_nanos(b"147.606363123"), Some(147_606_363_123));
        assert_eq!(ts_nanos(b"0.000001"), Some(1_000));
        assert_eq!(ts_nanos(b"204"), Some(204));
        for bad in [
            &b""[..],
            b".",
            b"1.",
            b"1.2.3",
            b"-1.0",
            b"1.0000000001",
            b"x",
        ] {
            assert_eq!(ts_nanos(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(ts_nanos(b"99999999999999999999"), None);
    }
}
