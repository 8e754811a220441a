//! Writing a record piece by piece into room set aside for it.
//!
//! Appending each piece to a `Vec<u8>` costs more than the piece: after every byte stored
//! the compiler reloads the vector's length and capacity (a `u8` store may alias them),
//! and `extend_from_slice` of a length known only at run time calls `memcpy`, which for
//! the handful of bytes of a number or a name costs more than the copy. A [`Cursor`] is a
//! slice and a position, both kept in registers, and copies short pieces with a few
//! fixed-size moves.

/// The longest piece copied with fixed-size moves; longer ones go through `memcpy`.
pub(crate) const SHORT: usize = 32;

/// Two decimal digits for each number below 100, for writing integers two digits at a
/// time.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes into a byte slice from its start: holds the part not yet written. When a piece
/// does not fit, nothing more is written and [`Cursor::room_left`] is zero; the caller
/// then tries again with more room.
///
/// Functions that write more than a piece take the cursor and hand it back: passed by
/// value, it stays in two registers, where a cursor behind a reference would be reloaded
/// from memory after every byte stored.
#[derive(Debug)]
#[must_use]
pub(crate) struct Cursor<'b> {
    rest: &'b mut [u8],
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { rest: buf }
    }

    /// The room not written: zero when a piece did not fit (or the room is used up
    /// exactly, which callers treat alike).
    pub(crate) fn room_left(&self) -> usize {
        self.rest.len()
    }

    /// The next `n` bytes, which the caller fills; `None` (and no room left) when they do
    /// not fit.
    #[inline(always)]
    fn take(&mut self, n: usize) -> Option<&'b mut [u8]> {
        let rest = std::mem::take(&mut self.rest);
        if n > rest.len() {
            return None;
        }
        let (taken, rest) = rest.split_at_mut(n);
        self.rest = rest;
        Some(taken)
    }

    /// The `N` bytes at the start of the room, when there are that many: for copies of
    /// fixed size, after which [`Cursor::skip`] moves past the bytes that count.
    #[inline(always)]
    fn block<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        self.rest.first_chunk_mut::<N>()
    }

    /// Moves past `n` bytes written through [`Cursor::block`].
    #[inline(always)]
    fn skip(&mut self, n: usize) {
        let rest = std::mem::take(&mut self.rest);
        self.rest = rest.get_mut(n..).unwrap_or_default();
    }

    #[inline(always)]
    pub(crate) fn put_byte(&mut self, byte: u8) {
        if let Some([dst]) = self.take(1) {
            *dst = byte;
        }
    }

    /// A piece whose length is known when compiling: fixed-size moves.
    #[inline(always)]
    pub(crate) fn put_literal<const N: usize>(&mut self, literal: &[u8; N]) {
        let rest = std::mem::take(&mut self.rest);
        if let Some((dst, rest)) = rest.split_first_chunk_mut::<N>() {
            *dst = *literal;
            self.rest = rest;
        }
    }

    /// `n` bytes that `fill` writes.
    pub(crate) fn put_filled(&mut self, n: usize, fill: impl FnOnce(&mut [u8])) {
        if let Some(room) = self.take(n) {
            fill(room);
        }
    }

    /// Any piece.
    #[inline(always)]
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        if len <= SHORT {
            if let Some(block) = self.block::<SHORT>() {
                copy_short(block, bytes);
                self.skip(len);
                return;
            }
        }
        if let Some(dst) = self.take(len) {
            dst.copy_from_slice(bytes);
        }
    }

    /// The first `len` bytes of `block` (`len` at most `N`), copied whole.
    #[inline(always)]
    pub(crate) fn put_padded<const N: usize>(&mut self, block: &[u8; N], len: usize) {
        let len = len.min(N);
        match self.block::<N>() {
            Some(dst) => {
                *dst = *block;
                self.skip(len);
            }
            None => self.put(&block[..len]),
        }
    }

    /// `bytes` between double quotes; the caller has checked that they need no escaping.
    #[inline(always)]
    pub(crate) fn put_quoted(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        if len <= SHORT {
            if let Some(block) = self.block::<{ SHORT + 2 }>() {
                block[0] = b'"';
                if let Some(inner) = block[1..].first_chunk_mut::<SHORT>() {
                    copy_short(inner, bytes);
                }
                block[len + 1] = b'"';
                self.skip(len + 2);
                return;
            }
        }
        self.put_byte(b'"');
        self.put(bytes);
        self.put_byte(b'"');
    }

    /// `n` in decimal.
    #[inline(always)]
    pub(crate) fn put_unsigned(&mut self, mut n: u64) {
        let digit_pair = |n: u64| {
            let at = n as usize * 2;
            [DIGIT_PAIRS[at], DIGIT_PAIRS[at + 1]]
        };
        // Most numbers (CPUs, small counts and values) are short: no digits to count.
        if n < 10 {
            return self.put_byte(b'0' + n as u8);
        }
        if n < 100 {
            return self.put_literal(&digit_pair(n));
        }
        let len = decimal_len(n);
        let Some(digits) = self.take(len) else {
            return;
        };
        // From the last digit back, two at a time.
        let mut end = len;
        while n >= 100 && end >= 2 {
            digits[end - 2..end].copy_from_slice(&digit_pair(n % 100));
            n /= 100;
            end -= 2;
        }
        if n >= 10 && end >= 2 {
            digits[end - 2..end].copy_from_slice(&digit_pair(n));
        } else if let Some(last) = digits.get_mut(end.wrapping_sub(1)) {
            *last = b'0' + n as u8;
        }
    }

    /// `n` in decimal.
    #[inline(always)]
    pub(crate) fn put_signed(&mut self, n: i64) {
        if n < 0 {
            self.put_byte(b'-');
        }
        self.put_unsigned(n.unsigned_abs());
    }
}

/// How many decimal digits `n` (at least 100) has: a few compares for the common lengths.
#[inline(always)]
fn decimal_len(n: u64) -> usize {
    if n < 1_000 {
        3
    } else if n < 10_000 {
        4
    } else if n < 100_000 {
        5
    } else if n < 1_000_000 {
        6
    } else {
        n.ilog10() as usize + 1
    }
}

/// Copies `src` (at most [`SHORT`] bytes) to the start of `dst`: the first and the last
/// power-of-two-sized part of it, overlapping in the middle.
#[inline(always)]
fn copy_short(dst: &mut [u8; SHORT], src: &[u8]) {
    let len = src.len();
    match len {
        16..=SHORT => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[len - 16..len].copy_from_slice(&src[len - 16..]);
        }
        8..=15 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[len - 8..len].copy_from_slice(&src[len - 8..]);
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[len - 4..len].copy_from_slice(&src[len - 4..]);
        }
        1..=3 => {
            // The first, middle and last byte are all of them.
            dst[0] = src[0];
            dst[len / 2] = src[len / 2];
            dst[len - 1] = src[len - 1];
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `write` puts into a cursor over `room` bytes, or `None` when it does not fit.
    fn written(room: usize, write: impl Fn(&mut Cursor<'_>)) -> Option<Vec<u8>> {
        // One byte more, which stays free when everything fits.
        let mut buf = vec![0; room + 1];
        let mut cursor = Cursor::new(&mut buf);
        write(&mut cursor);
        let left = cursor.room_left();
        (left > 0).then(|| buf[..room + 1 - left].to_vec())
    }

    #[test]
    fn every_length_is_copied_exactly_with_or_without_slack() {
        let source: Vec<u8> = (0..80u8).map(|b| b'!' + b).collect();
        for len in 0..=source.len() {
            let bytes = &source[..len];
            let plain = [&b"<"[..], bytes].concat();
            let quoted = [&b"<\""[..], bytes, b"\""].concat();
            let mut block = [b'x'; SHORT];
            let padded_len = len.min(SHORT);
            block[..padded_len].copy_from_slice(&bytes[..padded_len]);
            let padded = [&b"<"[..], &bytes[..padded_len]].concat();
            // Exactly enough room, a little more, and plenty.
            for slack in [0, 1, SHORT + 2, 100] {
                let put = |c: &mut Cursor<'_>| {
                    c.put_byte(b'<');
                    c.put(bytes);
                };
                assert_eq!(written(plain.len() + slack, put).unwrap(), plain);
                let put_quoted = |c: &mut Cursor<'_>| {
                    c.put_byte(b'<');
                    c.put_quoted(bytes);
                };
                assert_eq!(written(quoted.len() + slack, put_quoted).unwrap(), quoted);
                let put_padded = |c: &mut Cursor<'_>| {
                    c.put_byte(b'<');
                    c.put_padded(&block, len);
                };
                assert_eq!(written(padded.len() + slack, put_padded).unwrap(), padded);
            }
            if len > 0 {
                assert_eq!(written(len - 1, |c| c.put(bytes)), None);
            }
        }
    }

    #[test]
    fn a_cursor_that_ran_out_of_room_stays_out() {
        let mut buf = [0; 4];
        let mut cursor = Cursor::new(&mut buf);
        cursor.put_literal(b"abc");
        assert_eq!(cursor.room_left(), 1);
        cursor.put_literal(b"de");
        cursor.put_byte(b'f');
        assert_eq!(cursor.room_left(), 0);
        assert_eq!(buf, *b"abc\0");
        assert_eq!(written(0, |c| c.put(b"")), Some(Vec::new()));
    }

    #[test]
    fn integers_match_the_standard_formatting() {
        let mut numbers: Vec<u64> = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, u64::MAX];
        for shift in 0..64 {
            numbers.push(1 << shift);
            numbers.push((1 << shift) - 1);
        }
        for power in 0..20 {
            let p = 10u64.pow(power);
            numbers.extend([p - 1, p, p + 1]);
        }
        for n in numbers {
            assert_eq!(
                written(20, |c| c.put_unsigned(n)).unwrap(),
                n.to_string().as_bytes()
            );
            let signed = n as i64;
            assert_eq!(
                written(20, |c| c.put_signed(signed)).unwrap(),
                signed.to_string().as_bytes()
            );
        }
        assert_eq!(
            written(20, |c| c.put_signed(i64::MIN)).unwrap(),
            i64::MIN.to_string().as_bytes()
        );
        assert_eq!(written(2, |c| c.put_unsigned(100)), None);
    }
}
