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
        out.put(STANDARD.encode(bytes).as_bytes());
        out.put_literal(b"\"}");
        out
    }
}

/// Writes `name` (a field, event or flags column) as a JSON string: the same as
/// [`json_bytes`], whose quick path takes plain names.
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

/// Index of the first byte at or after `from` that JSON needs escaped. Looks at eight
/// bytes at a time: most strings have none.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    let from = sse2_clean_prefix(bytes, from);
    next_escape_swar(bytes, from)
}

/// Skips 16-byte blocks that need no escaping, with SSE2 (part of every x86_64 CPU).
/// Returns where the first block that may need escaping starts.
#[cfg(target_arch = "x86_64")]
fn sse2_clean_prefix(bytes: &[u8], from: usize) -> usize {
    use std::arch::x86_64::_mm_cmpeq_epi8;
    use std::arch::x86_64::_mm_cmplt_epi8;
    use std::arch::x86_64::_mm_loadu_si128;
    use std::arch::x86_64::_mm_movemask_epi8;
    use std::arch::x86_64::_mm_or_si128;
    use std::arch::x86_64::_mm_set1_epi8;
    let mut i = from;
    while let Some(block) = bytes.get(i..i + 16) {
        // SAFETY: SSE2 is always available on x86_64, and `block` is 16 readable bytes
        // (an unaligned load is allowed).
        let flagged = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            // Signed compare: bytes below 0x20 and every byte >= 0x80 (a false alarm for
            // UTF-8, which the byte loop then clears).
            let low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
            _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(low, quote),
                _mm_or_si128(backslash, del),
            ))
        };
        if flagged != 0 {
            break;
        }
        i += 16;
    }
    i
}

/// The portable scan: eight bytes at a time, then byte by byte.
fn next_escape_swar(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        // A byte below 0x20, or equal to `"`, `\` or DEL. (Exact for ASCII bytes; a high
        // byte may raise a false alarm, which only sends the chunk to the byte loop.)
        let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
        let special = has_zero(v ^ (ONES * u64::from(b'"')))
            | has_zero(v ^ (ONES * u64::from(b'\\')))
            | has_zero(v ^ (ONES * 0x7f));
        if below_space | special != 0 {
            break;
        }
        i += 8;
    }
    bytes
        .get(i..)?
        .iter()
        .position(|b| NEEDS_ESCAPE[usize::from(*b)])
        .map(|p| i + p)
}

/// Whether every byte is printable ASCII other than `"` and `\\` (what neither JSON nor
/// text escapes). It runs on most names and strings of every event, most shorter than 32
/// bytes: those are checked as one or two 16-byte blocks, overlapping when the length is
/// not a multiple of sixteen (a short one repeats some of its bytes to fill a block).
#[inline(always)]
fn is_plain_ascii(bytes: &[u8]) -> bool {
    let len = bytes.len();
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
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
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
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

/// Whether all sixteen bytes of `low` and `high` are printable ASCII other than `"` and
/// `\\`: SSE2 compares all sixteen at once.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_is_plain(low: u64, high: u64) -> bool {
    use std::arch::x86_64::_mm_cmpeq_epi8;
    use std::arch::x86_64::_mm_cmplt_epi8;
    use std::arch::x86_64::_mm_movemask_epi8;
    use std::arch::x86_64::_mm_or_si128;
    use std::arch::x86_64::_mm_set1_epi8;
    use std::arch::x86_64::_mm_set_epi64x;
    // SAFETY: SSE2 is part of every x86_64 CPU, and these intrinsics only compute on
    // values in registers.
    let flagged = unsafe {
        let v = _mm_set_epi64x(high as i64, low as i64);
        // Signed compare: bytes below 0x20 and every byte >= 0x80.
        let control_or_high = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_movemask_epi8(_mm_or_si128(
            _mm_or_si128(control_or_high, quote),
            _mm_or_si128(backslash, del),
        ))
    };
    flagged == 0
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
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        out.put(&bytes[start..i]);
        match bytes[i] {
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
        start = i + 1;
    }
    out.put(&bytes[start..]);
    out.put_byte(b'"');
    out
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
    fn every_byte_that_needs_escaping_is_found_at_every_position() {
        for special in (0u8..0x20).chain([b'"', b'\\', 0x7f]) {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[at] = special;
                assert_eq!(
                    next_escape(&bytes, 0),
                    Some(at),
                    "byte {special:#x} at {at}"
                );
            }
        }
        assert_eq!(next_escape(b"plain ascii text, no escapes at all", 0), None);
        for at in 0..40 {
            let mut bytes = vec![b'a'; 40];
            bytes[at] = b'"';
            assert_eq!(next_escape(&bytes, 0), Some(at));
            assert_eq!(next_escape_swar(&bytes, 0), Some(at));
        }
        assert_eq!(
            next_escape("h\u{e9}llo w\u{f6}rld \u{1f600}".as_bytes(), 0),
            None
        );
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
    }

    #[test]
    fn text_escapes_keep_one_line() {
        let mut out = Vec::new();
        text_bytes(&mut out, b"a\n\"b\xff\x01").unwrap();
        assert_eq!(out, br#"a\n\"b\xff\x01"#);
    }
}
