//! Bytes kept to compare the start of later inputs with, sixteen at a time.
//!
//! The context memo compares the start of nearly every line with the last record line's
//! context (about 40 bytes) and event name. Comparing eight bytes at a time took five
//! turns of a loop and the mask of the last word worked out each time; a
//! [`KeptPrefix`] keeps its bytes in 16-byte blocks with the mask of the last one
//! ready, and compares a block per instruction.

/// Up to `N` bytes (a multiple of 16), compared in whole 16-byte blocks whose bytes past
/// the kept ones are masked out.
#[derive(Debug, Clone)]
pub(crate) struct KeptPrefix<const N: usize> {
    bytes: [u8; N],
    len: usize,
    /// 16-byte blocks the kept bytes take.
    blocks: usize,
    /// Of the last block's bytes, those kept: one bit each.
    last_mask: u32,
}

impl<const N: usize> Default for KeptPrefix<N> {
    fn default() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            blocks: 0,
            last_mask: 0,
        }
    }
}

impl<const N: usize> KeptPrefix<N> {
    /// How many bytes are kept; 0 when none.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes kept.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Keeps the bytes of `parts` one after another; `false`, with nothing kept, when
    /// they are longer than `N`.
    pub(crate) fn keep(&mut self, parts: &[&[u8]]) -> bool {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if len > N {
            *self = Self::default();
            return false;
        }
        let mut at = 0;
        for part in parts {
            self.bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        self.len = len;
        self.blocks = len.div_ceil(16);
        let in_last = len - self.blocks.saturating_sub(1) * 16;
        self.last_mask = if len == 0 { 0 } else { (1u32 << in_last) - 1 };
        true
    }

    /// Whether `input` starts with the kept bytes (always, when none are kept).
    #[inline(always)]
    pub(crate) fn starts(&self, input: &[u8]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if input.len() >= self.blocks * 16 {
            use std::arch::x86_64::_mm_cmpeq_epi8;
            use std::arch::x86_64::_mm_loadu_si128;
            use std::arch::x86_64::_mm_movemask_epi8;
            for block in 0..self.blocks {
                let at = block * 16;
                // SAFETY: SSE2 is part of every x86_64 CPU; `input` has `blocks * 16`
                // bytes (checked above) and `bytes` has `N >= blocks * 16`.
                let same = unsafe {
                    let a = _mm_loadu_si128(input.as_ptr().add(at).cast());
                    let b = _mm_loadu_si128(self.bytes.as_ptr().add(at).cast());
                    _mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) as u32
                };
                let wanted = if block + 1 == self.blocks {
                    self.last_mask
                } else {
                    0xffff
                };
                if same & wanted != wanted {
                    return false;
                }
            }
            return true;
        }
        input.starts_with(self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agrees with `starts_with` for every kept length, every input length, and a change
    /// at every byte; keeping too much keeps nothing.
    #[test]
    fn agrees_with_starts_with() {
        let text = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ!";
        for len in 0..=32 {
            let mut kept = KeptPrefix::<32>::default();
            // Stale bytes from a longer one before.
            assert!(kept.keep(&[&text[1..33]]));
            assert!(kept.keep(&[&text[..len / 2], &text[len / 2..len]]));
            assert_eq!(kept.bytes(), &text[..len]);
            for cut in 0..=text.len() {
                for flip in 0..=cut {
                    let mut input = text[..cut].to_vec();
                    if let Some(b) = input.get_mut(flip) {
                        *b ^= 1;
                    }
                    assert_eq!(
                        kept.starts(&input),
                        input.starts_with(&text[..len]),
                        "len {len} cut {cut} flip {flip}"
                    );
                }
            }
        }
        let mut kept = KeptPrefix::<16>::default();
        assert!(!kept.keep(&[&text[..17]]));
        assert_eq!(kept.len(), 0);
    }
}
