//! Byte scans shared by the line and field parsers: they run on every byte of every
//! record, so the common runs (digits, padding) are measured eight bytes at a time.

/// How many bytes at the start of `input` are in a class, eight at a time: `outside`
/// gives the high bit of each byte of a little-endian word that is not (exact for the
/// lowest such byte, which is all that is read), `inside` says it of one byte for the tail
/// of fewer than eight.
#[inline(always)]
fn class_run(input: &[u8], outside: impl Fn(u64) -> u64, inside: impl Fn(u8) -> bool) -> usize {
    let mut at = 0;
    while let Some(chunk) = input.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let flagged = outside(u64::from_le_bytes(word));
        if flagged != 0 {
            return at + (flagged.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + input[at..].iter().take_while(|b| inside(**b)).count()
}

/// The high bit of each byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// How many ASCII digits `input` starts with.
#[inline]
pub(crate) fn digit_run(input: &[u8]) -> usize {
    const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;
    const TO_HIGH_BIT: u64 = 0x7676_7676_7676_7676;
    // A digit becomes 0..=9; adding 0x76 sets the high bit of any byte above 9, and `| x`
    // catches bytes whose high bit was set. A carry out of a byte happens only when that
    // byte is already flagged, and only moves up, so the lowest flagged byte is exact.
    let outside = |word: u64| {
        let x = word ^ ASCII_ZEROS;
        (x.wrapping_add(TO_HIGH_BIT) | x) & HIGHS
    };
    class_run(input, outside, |b| b.is_ascii_digit())
}

/// How many ASCII hex digits (`0-9a-fA-F`) `input` starts with, eight bytes at a time:
/// user stack frames are sixteen of them.
#[inline]
pub(crate) fn hex_digit_run(input: &[u8]) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const LOWER: u64 = 0x2020_2020_2020_2020;
    // Per byte `v` (high bit cleared, so no sum below carries out of its byte): the high
    // bit of `v + (0x80 - lo)` says `v >= lo`.
    const AT_LEAST_0: u64 = 0x5050_5050_5050_5050; // 0x80 - b'0'
    const AT_LEAST_COLON: u64 = 0x4646_4646_4646_4646; // 0x80 - (b'9' + 1)
    const AT_LEAST_A: u64 = 0x1f1f_1f1f_1f1f_1f1f; // 0x80 - b'a'
    const AT_LEAST_G: u64 = 0x1919_1919_1919_1919; // 0x80 - (b'f' + 1)
    let outside = |x: u64| {
        let v = x & LOW7;
        let digit = (v + AT_LEAST_0) & !(v + AT_LEAST_COLON);
        let folded = v | LOWER;
        let letter = (folded + AT_LEAST_A) & !(folded + AT_LEAST_G);
        !((digit | letter) & !x) & HIGHS
    };
    class_run(input, outside, |b| b.is_ascii_hexdigit())
}

/// How many spaces and tabs `input` starts with.
#[inline]
pub(crate) fn blank_run(input: &[u8]) -> usize {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const TABS: u64 = 0x0909_0909_0909_0909;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte of `x` that is zero; exact per byte, as `(x & 0x7f) +
    // 0x7f` cannot carry out of its byte.
    let zero_bytes = |x: u64| !(((x & LOWS) + LOWS) | x) & HIGHS;
    let outside = |v: u64| !(zero_bytes(v ^ SPACES) | zero_bytes(v ^ TABS)) & HIGHS;
    class_run(input, outside, |b| b == b' ' || b == b'\t')
}

/// The value of `digits` (all ASCII digits, as [`digit_run`] measured them); `None` when
/// it does not fit a `u64`.
#[inline]
pub(crate) fn digits_value(digits: &[u8]) -> Option<u64> {
    // Nineteen digits always fit; only longer runs need the checked arithmetic.
    if digits.len() <= 19 {
        let mut value: u64 = 0;
        for &b in digits {
            value = value * 10 + u64::from(b - b'0');
        }
        return Some(value);
    }
    digits.iter().try_fold(0u64, |value, &b| {
        value.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// `lit` as a little-endian word and the mask of its bytes, when it has one to eight, so
/// that [`starts_with_word`] checks it with one compare.
pub(crate) fn literal_word(lit: &[u8]) -> Option<(u64, u64)> {
    if lit.is_empty() || lit.len() > 8 {
        return None;
    }
    let mut word = [0u8; 8];
    word[..lit.len()].copy_from_slice(lit);
    let mask = if lit.len() == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * lit.len())) - 1
    };
    Some((u64::from_le_bytes(word), mask))
}

/// Whether `input` starts with the `len`-byte literal given by [`literal_word`]: one
/// compare when eight bytes of `input` can be read.
#[inline(always)]
pub(crate) fn starts_with_word(input: &[u8], word: u64, mask: u64, len: usize) -> bool {
    match input.get(..8) {
        Some(head) => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(head);
            (u64::from_le_bytes(bytes) ^ word) & mask == 0
        }
        None => input.len() >= len && input[..len] == word.to_le_bytes()[..len],
    }
}

/// Whether `input` starts with `prefix`, compared eight bytes at a time, inline: literals
/// and delimiters are a few bytes, where a call to `memcmp` costs more than the compare.
#[inline(always)]
pub(crate) fn has_prefix(input: &[u8], prefix: &[u8]) -> bool {
    let Some(head) = input.get(..prefix.len()) else {
        return false;
    };
    let len = prefix.len();
    if len < 8 {
        return head.iter().zip(prefix).all(|(x, y)| x == y);
    }
    let mut at = 0;
    while at + 8 <= len {
        if word_at(&head[at..at + 8]) != word_at(&prefix[at..at + 8]) {
            return false;
        }
        at += 8;
    }
    // The bytes past the last whole word: the last eight, overlapping the word before.
    at == len || word_at(&head[len - 8..]) == word_at(&prefix[len - 8..])
}

/// Where `part`, a sub-slice of `whole`, starts in it: parsed columns are kept as offsets
/// into their line or block. (For a `part` outside `whole` the offset means nothing.)
#[inline(always)]
pub(crate) fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize)
}

/// The eight bytes of a chunk as one word, for one compare instead of eight.
#[inline(always)]
fn word_at(chunk: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

/// Where the next `\n` at or after `from` is. Trace lines are about a hundred bytes, where
/// `memchr`'s setup for long inputs cost more than the scan: sixteen bytes at a time,
/// inline.
#[inline]
pub(crate) fn find_newline(text: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = text.get(at..at + 16) {
        use std::arch::x86_64::_mm_cmpeq_epi8;
        use std::arch::x86_64::_mm_loadu_si128;
        use std::arch::x86_64::_mm_movemask_epi8;
        use std::arch::x86_64::_mm_set1_epi8;
        // SAFETY: SSE2 is part of every x86_64 CPU, and `block` is 16 readable bytes (an
        // unaligned load is allowed).
        let newlines = unsafe {
            let bytes = _mm_loadu_si128(block.as_ptr().cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8)))
        };
        if newlines != 0 {
            return Some(at + newlines.trailing_zeros() as usize);
        }
        at += 16;
    }
    memchr::memchr(b'\n', text.get(at..)?).map(|offset| at + offset)
}

/// Where `needle` (not empty) first occurs in `haystack` at or after `from`. Values are
/// short and their delimiters rarely occur inside them, so the delimiter's first byte is
/// looked for sixteen bytes at a time and each candidate compared in place: no call into
/// `memchr` or `memcmp`, whose setup cost more than the scan on strings this short.
#[inline]
pub(crate) fn find_literal(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    find_candidates(haystack, first, from, |at| {
        has_prefix(&haystack[at..], needle)
    })
}

/// A literal of a template, with its first eight bytes as a word when it has no more, so
/// that checking or finding it compares one word per place.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    bytes: Box<[u8]>,
    word: Option<(u64, u64)>,
}

impl Literal {
    /// `bytes` must not be empty.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.into(),
            word: literal_word(bytes),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether `input` starts with it.
    #[inline(always)]
    pub(crate) fn is_prefix_of(&self, input: &[u8]) -> bool {
        match self.word {
            Some((word, mask)) => starts_with_word(input, word, mask, self.bytes.len()),
            None => has_prefix(input, &self.bytes),
        }
    }

    /// Where it first occurs in `haystack`, as [`find_literal`].
    #[inline(always)]
    pub(crate) fn find_in(&self, haystack: &[u8]) -> Option<usize> {
        let first = *self.bytes.first()?;
        find_candidates(haystack, first, 0, |at| self.is_prefix_of(&haystack[at..]))
    }
}

/// The first place at or after `from` where `haystack` holds `first` and `matches_at` says
/// yes; the places with `first` are found sixteen bytes at a time, then eight.
#[inline(always)]
fn find_candidates(
    haystack: &[u8],
    first: u8,
    from: usize,
    matches_at: impl Fn(usize) -> bool,
) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut at = from;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::_mm_cmpeq_epi8;
        use std::arch::x86_64::_mm_loadu_si128;
        use std::arch::x86_64::_mm_movemask_epi8;
        use std::arch::x86_64::_mm_set1_epi8;
        // Made once: in the loop, it was made again after every call to `matches_at`.
        // SAFETY: SSE2 is part of every x86_64 CPU.
        let wanted = unsafe { _mm_set1_epi8(first as i8) };
        while let Some(block) = haystack.get(at..at + 16) {
            // SAFETY: SSE2 is part of every x86_64 CPU, and `block` is 16 readable bytes
            // (an unaligned load is allowed).
            let mut candidates = unsafe {
                let bytes = _mm_loadu_si128(block.as_ptr().cast());
                _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, wanted)) as u32
            };
            while candidates != 0 {
                let candidate = at + candidates.trailing_zeros() as usize;
                if matches_at(candidate) {
                    return Some(candidate);
                }
                candidates &= candidates - 1;
            }
            at += 16;
        }
    }
    let pattern = u64::from(first) * ONES;
    while let Some(chunk) = haystack.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // High bits of the bytes equal to `first`: none missed, and a false one only above
        // a true one (a borrow moves up), which `matches_at` rejects.
        let mut candidates = x.wrapping_sub(ONES) & !x & HIGHS;
        while candidates != 0 {
            let candidate = at + (candidates.trailing_zeros() / 8) as usize;
            if matches_at(candidate) {
                return Some(candidate);
            }
            candidates &= candidates - 1;
        }
        at += 8;
    }
    (at..haystack.len()).find(|&candidate| haystack[candidate] == first && matches_at(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_prefix_agrees_with_starts_with() {
        let text = b"0123456789abcdefghijklmnopqrstuvwxyz";
        for len in 0..text.len() {
            for cut in 0..=text.len() {
                let prefix = &text[..len];
                assert_eq!(
                    has_prefix(&text[..cut], prefix),
                    text[..cut].starts_with(prefix)
                );
                let mut other = prefix.to_vec();
                if let Some(last) = other.last_mut() {
                    *last ^= 1;
                    assert!(!has_prefix(text, &other));
                }
            }
        }
    }

    #[test]
    fn literals_find_and_match_as_the_byte_functions_do() {
        let hay = b"xx\" b=1\" b=2 a_long_delimiter=3 a_long_delimiter";
        for needle in [&b"\" b="[..], b" ", b"a_long_delimiter=", b"zz", b"2"] {
            let literal = Literal::new(needle);
            for start in 0..hay.len() {
                let hay = &hay[start..];
                assert_eq!(
                    literal.find_in(hay),
                    find_literal(hay, needle, 0),
                    "{needle:?}"
                );
                assert_eq!(literal.is_prefix_of(hay), hay.starts_with(needle));
            }
        }
    }

    #[test]
    fn hex_digit_runs_agree_with_the_byte_test_for_every_byte() {
        for stop in 0..=255u8 {
            for len in 0..20 {
                let mut text: Vec<u8> = b"0123456789abcdefABCDEF"
                    .iter()
                    .copied()
                    .cycle()
                    .take(len)
                    .collect();
                text.push(stop);
                text.extend_from_slice(b"ff");
                let want = len + usize::from(stop.is_ascii_hexdigit()) * 3;
                assert_eq!(hex_digit_run(&text), want, "len {len} stop {stop:#x}");
            }
        }
    }

    #[test]
    fn find_newline_at_every_offset_and_start() {
        for len in 0..70 {
            for newline in 0..=len {
                let mut text = vec![b'x'; len];
                if newline < len {
                    text[newline] = b'\n';
                }
                for from in 0..=len + 1 {
                    let want = (newline < len && from <= newline).then_some(newline);
                    assert_eq!(find_newline(&text, from), want, "{len} {newline} {from}");
                }
            }
        }
    }

    #[test]
    fn find_literal_finds_the_first_occurrence_at_every_offset() {
        let needles: [&[u8]; 4] = [b"\"", b"\" b=", b" x=", b"\x80\x80"];
        for len in 0..40 {
            for at in 0..len {
                for needle in needles {
                    let mut hay = vec![b'a'; len];
                    // Near misses before it: the first byte alone, and the needle cut short.
                    hay[at / 2] = needle[0];
                    if at + needle.len() > len {
                        continue;
                    }
                    hay[at..at + needle.len()].copy_from_slice(needle);
                    let want = hay.windows(needle.len()).position(|w| w == needle);
                    assert_eq!(find_literal(&hay, needle, 0), want, "{hay:?} {needle:?}");
                    let from = want.map_or(0, |w| w + 1);
                    let again = hay[from..]
                        .windows(needle.len())
                        .position(|w| w == needle)
                        .map(|p| p + from);
                    assert_eq!(find_literal(&hay, needle, from), again);
                }
            }
        }
        assert_eq!(find_literal(b"abc", b"", 0), None);
        assert_eq!(find_literal(b"", b"a", 0), None);
        assert_eq!(find_literal(b"abc", b"c", 3), None);
    }

    #[test]
    fn digit_runs_at_every_length_and_stop_byte() {
        for len in 0..40 {
            for stop in [b' ', b'/', b':', b'a', 0x80, 0xff, 0xb0, b'\n'] {
                let mut text = vec![b'7'; len];
                text.push(stop);
                text.extend_from_slice(b"123456789");
                assert_eq!(digit_run(&text), len, "len {len} stop {stop:#x}");
                assert_eq!(digit_run(&text[..len]), len);
            }
        }
        // Bytes around the digits' range: '/' (0x2f) and ':' (0x3a) are not digits.
        assert_eq!(digit_run(b"0123456789/"), 10);
        assert_eq!(digit_run(b"9:"), 1);
    }

    #[test]
    fn blank_runs_at_every_length_and_stop_byte() {
        for len in 0..40 {
            for stop in [b'a', b'!', 0x00, 0x08, 0x0a, 0x1f, 0x21, 0x80, 0xa0, 0xff] {
                let mut text: Vec<u8> = (0..len)
                    .map(|i| if i % 3 == 0 { b'\t' } else { b' ' })
                    .collect();
                text.push(stop);
                text.extend_from_slice(b"  \t ");
                assert_eq!(blank_run(&text), len, "len {len} stop {stop:#x}");
                assert_eq!(blank_run(&text[..len]), len);
            }
        }
    }

    #[test]
    fn literal_words_match_exactly_their_literal() {
        for lit in [&b"("[..], b") i=", b"\" path=\"", b"12345678"] {
            let (word, mask) = literal_word(lit).unwrap();
            for tail in [&b""[..], b"x", b"xxxxxxxxxx"] {
                let mut text = lit.to_vec();
                text.extend_from_slice(tail);
                assert!(starts_with_word(&text, word, mask, lit.len()));
                let mut other = text.clone();
                other[lit.len() - 1] ^= 1;
                assert!(!starts_with_word(&other, word, mask, lit.len()));
                assert!(!starts_with_word(
                    &text[..lit.len() - 1],
                    word,
                    mask,
                    lit.len()
                ));
            }
        }
        assert_eq!(literal_word(b""), None);
        assert_eq!(literal_word(b"123456789"), None);
    }

    #[test]
    fn digit_values_and_overflow() {
        assert_eq!(digits_value(b"0"), Some(0));
        assert_eq!(digits_value(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(digits_value(b"18446744073709551616"), None);
        assert_eq!(
            digits_value(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(digits_value(b"000000000000000000000042"), Some(42));
    }
}
