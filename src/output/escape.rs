//! Byte-exact string writing for JSON and for human text.

use std::io;
use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::cursor::Cursor;

/// Writes `bytes` as a JSON string when they are valid UTF-8, and as
/// `{"bytes":"<base64>"}` otherwise, so no byte is lost or replaced.
#[inline]
pub(crate) fn json_bytes<'b>(mut out: Cursor<'b>, bytes: &[u8]) -> Cursor<'b> {
    // Plain ASCII (the common case: comms, names, paths) is written as is, in one scan.
    if is_plain_ascii(bytes) {
        out.put_quoted(bytes);
        out
    } else {
        json_not_plain(out, bytes)
    }
}

/// [`json_bytes`] for bytes that need escaping, or are not UTF-8.
#[cold]
fn json_not_plain<'b>(mut out: Cursor<'b>, bytes: &[u8]) -> Cursor<'b> {
    if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
        json_escaped(out, bytes)
    } else {
        out.put_literal(b"{\"bytes\":\"");
        // Encoded in place; `None` only for a length no memory holds.
        let encoded_len = base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX);
        out.put_filled(encoded_len, |room| {
            // Cannot fail: the room is the encoded length.
            let _ = STANDARD.encode_slice(bytes, room);
        });
        out.put_literal(b"\"}");
        out
    }
}

/// Writes `name` (a field, event or flags column) as a JSON string: the same as
/// [`json_bytes`], whose quick path takes plain names.
#[inline]
pub(crate) fn json_name<'b>(out: Cursor<'b>, name: &[u8]) -> Cursor<'b> {
    json_bytes(out, name)
}

/// Writes `name` as an object key: `"name":`.
pub(crate) fn json_key<'b>(out: Cursor<'b>, name: &[u8]) -> Cursor<'b> {
    let mut out = json_bytes(out, name);
    out.put_byte(b':');
    out
}

/// Writes a JSON string literal, escaping only what JSON requires.
pub(crate) fn json_str<'b>(out: Cursor<'b>, s: &str) -> Cursor<'b> {
    json_bytes(out, s.as_bytes())
}

/// Which bytes JSON needs escaped: control bytes, `"` and `\` (and DEL, for readers that
/// choke on it).
#[cfg(any(test, not(target_arch = "x86_64")))]
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// Whether every byte is printable ASCII other than `"` and `\\` (what neither JSON nor
/// text escapes). It runs on most names and strings of every event, most shorter than 32
/// bytes: those are checked as one or two 16-byte blocks, overlapping when the length is
/// not a multiple of sixteen (a short one repeats some of its bytes to fill a block).
#[inline(always)]
fn is_plain_ascii(bytes: &[u8]) -> bool {
    let len = bytes.len();
    let word = |at: usize| word_at(bytes, at);
    if len >= 16 {
        if len > 32 {
            return long_is_plain_ascii(bytes);
        }
        return block_is_plain(word(0), word(8)) & block_is_plain(word(len - 16), word(len - 8));
    }
    let (low, high) = match len {
        8.. => (word(0), word(len - 8)),
        4.. => {
            let half = |at: usize| {
                let mut half = [0u8; 4];
                half.copy_from_slice(&bytes[at..at + 4]);
                u64::from(u32::from_le_bytes(half))
            };
            let both = half(0) | half(len - 4) << 32;
            (both, both)
        }
        1.. => {
            // The first, middle and last byte are all of them; the first fills the rest.
            let byte = |at: usize| u64::from(bytes[at]);
            let all = (byte(0) * 0x0101_0101_0100_0000)
                | (byte(len - 1) << 16)
                | (byte(len / 2) << 8)
                | byte(0);
            (all, all)
        }
        0 => return true,
    };
    block_is_plain(low, high)
}

/// [`is_plain_ascii`] for more than 32 bytes.
#[inline(never)]
fn long_is_plain_ascii(bytes: &[u8]) -> bool {
    let word = |at: usize| word_at(bytes, at);
    let block_at = |at: usize| block_is_plain(word(at), word(at + 8));
    let len = bytes.len();
    let mut at = 0;
    while at + 16 < len {
        if !block_at(at) {
            return false;
        }
        at += 16;
    }
    block_at(len - 16)
}

/// The eight bytes of `bytes` from `at`, as one word.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Whether all sixteen bytes of `low` and `high` are printable ASCII other than `"` and
/// `\\`: no high bit set, and nothing [`escape_mask`] flags.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_is_plain(low: u64, high: u64) -> bool {
    // `&`, not `&&`: both halves are a few instructions, cheaper than a branch.
    ((low | high) & 0x8080_8080_8080_8080 == 0) & (escape_mask(low, high) == 0)
}

/// Whether all sixteen bytes of `low` and `high` are printable ASCII other than `"` and
/// `\\`: eight bytes at a time in a register.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_is_plain(low: u64, high: u64) -> bool {
    word_is_plain(low) & word_is_plain(high)
}

/// Whether all eight bytes of `v` are printable ASCII other than `"` and `\\`. Exact: a
/// byte with its high bit set is caught before the other tests could misjudge it.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn word_is_plain(v: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
    let special = has_zero(v ^ (ONES * u64::from(b'"')))
        | has_zero(v ^ (ONES * u64::from(b'\\')))
        | has_zero(v ^ (ONES * 0x7f));
    (v & HIGHS) | below_space | special == 0
}

/// `bytes` must be valid UTF-8.
fn json_escaped<'b>(mut out: Cursor<'b>, bytes: &[u8]) -> Cursor<'b> {
    out.put_byte(b'"');
    let len = bytes.len();
    // Bytes before `written` are out.
    let mut written = 0;
    let mut at = 0;
    while at < len {
        // The bytes that need escaping among the sixteen from `base`, those before `at`
        // (seen already, when the last block overlaps the one before) left out.
        let (base, mut mask) = if at + 16 <= len {
            (at, escape_mask_at(bytes, at))
        } else if len >= 16 {
            let base = len - 16;
            (
                base,
                escape_mask_at(bytes, base) >> (at - base) << (at - base),
            )
        } else {
            let mut block = [0; 16];
            block[..len].copy_from_slice(bytes);
            let padding = u32::MAX << len;
            (0, escape_mask_at(&block, 0) & !padding)
        };
        while mask != 0 {
            let i = base + mask.trailing_zeros() as usize;
            out.put(&bytes[written..i]);
            write_escape(&mut out, bytes[i]);
            written = i + 1;
            mask &= mask - 1;
        }
        at += 16;
    }
    out.put(&bytes[written..]);
    out.put_byte(b'"');
    out
}

/// The escape of one byte that needs it.
fn write_escape(out: &mut Cursor<'_>, byte: u8) {
    match byte {
        b'"' => out.put_literal(b"\\\""),
        b'\\' => out.put_literal(b"\\\\"),
        b'\n' => out.put_literal(b"\\n"),
        b'\r' => out.put_literal(b"\\r"),
        b'\t' => out.put_literal(b"\\t"),
        other => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.put_literal(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(other >> 4)],
                HEX[usize::from(other & 0xf)],
            ]);
        }
    }
}

/// One bit for each of the sixteen bytes from `at`, set when JSON needs it escaped.
#[inline(always)]
fn escape_mask_at(bytes: &[u8], at: usize) -> u32 {
    let word = |at: usize| word_at(bytes, at);
    escape_mask(word(at), word(at + 8))
}

/// One bit for each byte of `low`, then `high`, set when JSON needs it escaped: SSE2
/// compares all sixteen at once.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn escape_mask(low: u64, high: u64) -> u32 {
    use std::arch::x86_64::_mm_cmpeq_epi8;
    use std::arch::x86_64::_mm_min_epu8;
    use std::arch::x86_64::_mm_movemask_epi8;
    use std::arch::x86_64::_mm_or_si128;
    use std::arch::x86_64::_mm_set1_epi8;
    use std::arch::x86_64::_mm_set_epi64x;
    // SAFETY: SSE2 is part of every x86_64 CPU, and these intrinsics only compute on
    // values in registers.
    let mask = unsafe {
        let v = _mm_set_epi64x(high as i64, low as i64);
        // Unsigned `byte <= 0x1f` (the smaller of the two is the byte), so that the
        // bytes of UTF-8 characters are not taken for control bytes.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_movemask_epi8(_mm_or_si128(
            _mm_or_si128(control, quote),
            _mm_or_si128(backslash, del),
        ))
    };
    mask as u32
}

/// One bit for each byte of `low`, then `high`, set when JSON needs it escaped.
#[cfg(not(target_arch = "x86_64"))]
fn escape_mask(low: u64, high: u64) -> u32 {
    portable_escape_mask(low, high)
}

/// [`escape_mask`] a byte at a time, for other targets.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn portable_escape_mask(low: u64, high: u64) -> u32 {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&low.to_le_bytes());
    block[8..].copy_from_slice(&high.to_le_bytes());
    block
        .iter()
        .enumerate()
        .filter(|(_, b)| NEEDS_ESCAPE[usize::from(**b)])
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// Writes bytes for a human reader on one line: printable UTF-8 as is, `\n`, `\t`, `\"`,
/// `\\` escaped, other control bytes and invalid UTF-8 as `\xNN`.
pub(crate) fn text_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    // Most values are plain printable ASCII: one scan, one write.
    if is_plain_ascii(bytes) {
        return out.write_all(bytes);
    }
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut start = 0;
        for (i, c) in valid.char_indices() {
            let escaped: Option<&[u8]> = match c {
                '\n' => Some(b"\\n"),
                '\t' => Some(b"\\t"),
                '\r' => Some(b"\\r"),
                '"' => Some(b"\\\""),
                '\\' => Some(b"\\\\"),
                c if c.is_control() => None,
                _ => continue,
            };
            out.write_all(&valid.as_bytes()[start..i])?;
            match escaped {
                Some(e) => out.write_all(e)?,
                None => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        write!(out, "\\x{b:02x}")?;
                    }
                }
            }
            start = i + c.len_utf8();
        }
        out.write_all(&valid.as_bytes()[start..])?;
        for b in chunk.invalid() {
            write!(out, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(bytes: &[u8]) -> String {
        let mut room = vec![0; 6 * bytes.len() + 16];
        let left = json_bytes(Cursor::new(&mut room), bytes).room_left();
        let used = room.len() - left;
        String::from_utf8(room[..used].to_vec()).unwrap()
    }

    #[test]
    fn json_round_trips_through_serde() {
        for s in [
            "a\"b",
            "tab\there",
            "nl\nx",
            "\u{1}\u{7f}",
            "héllo wörld",
            "back\\slash",
        ] {
            let v: serde_json::Value = serde_json::from_str(&json(s.as_bytes())).unwrap();
            assert_eq!(v.as_str().unwrap(), s);
        }
    }

    #[test]
    fn every_byte_that_needs_escaping_is_escaped_at_every_position() {
        let specials = (0u8..=0x7f).filter(|b| NEEDS_ESCAPE[usize::from(*b)]);
        for special in specials.chain([b'a']) {
            for len in 1..50 {
                for at in 0..len {
                    // UTF-8 around it, whose bytes need no escaping.
                    let mut text = "\u{e9}".repeat(len);
                    text.replace_range(2 * at..2 * at + 2, &char::from(special).to_string());
                    let v: serde_json::Value =
                        serde_json::from_str(&json(text.as_bytes())).unwrap();
                    assert_eq!(
                        v.as_str().unwrap(),
                        text,
                        "byte {special:#x} at {at} of {len}"
                    );
                    let plain = "a".repeat(len);
                    let mut bytes = plain.into_bytes();
                    bytes[at] = special;
                    let v: serde_json::Value =
                        serde_json::from_slice(json(&bytes).as_bytes()).unwrap();
                    assert_eq!(v.as_str().unwrap().as_bytes(), bytes);
                }
            }
        }
    }

    #[test]
    fn portable_escape_mask_agrees() {
        for b in 0..=255u8 {
            for at in 0..16 {
                let mut block = [b'a'; 16];
                block[at] = b;
                let low = u64::from_le_bytes(block[..8].try_into().unwrap());
                let high = u64::from_le_bytes(block[8..].try_into().unwrap());
                let expected = if NEEDS_ESCAPE[usize::from(b)] {
                    1 << at
                } else {
                    0
                };
                assert_eq!(escape_mask(low, high), expected);
                assert_eq!(portable_escape_mask(low, high), expected);
            }
        }
    }

    #[test]
    fn plain_ascii_is_exactly_what_needs_no_escape() {
        for b in 0..=255u8 {
            let plain = (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\';
            for len in 1..70 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(
                        is_plain_ascii(&bytes),
                        plain,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(is_plain_ascii(b""));
    }

    /// The portable check, which other targets use, agrees with the SIMD one.
    #[test]
    fn portable_word_check_is_exact() {
        for b in 0..=255u8 {
            let plain = (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\';
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                assert_eq!(word_is_plain(u64::from_le_bytes(word)), plain);
            }
        }
    }

    #[test]
    fn invalid_utf8_becomes_base64() {
        assert_eq!(json(b"a\xffb"), r#"{"bytes":"Yf9i"}"#);
        assert_eq!(json(b"\xff"), r#"{"bytes":"/w=="}"#);
    }

    #[test]
    fn text_escapes_keep_one_line() {
        let mut out = Vec::new();
        text_bytes(&mut out, b"a\n\"b\xff\x01").unwrap();
        assert_eq!(out, br#"a\n\"b\xff\x01"#);
    }
}
