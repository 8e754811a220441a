//! Close names for a symbol that is not there.

/// Levenshtein distance between `a` and `b`, or `None` if it exceeds `max`.
pub(crate) fn bounded_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().filter(|d| *d <= max)
}

/// The largest distance worth suggesting for a name of `len` bytes.
pub(crate) fn max_distance(len: usize) -> usize {
    (len / 4).clamp(1, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(bounded_distance("vfs_read", "vfs_read", 2), Some(0));
        assert_eq!(bounded_distance("vfs_raed", "vfs_read", 2), Some(2));
        assert_eq!(
            bounded_distance("do_sys_openat", "do_sys_openat2", 2),
            Some(1)
        );
        assert_eq!(bounded_distance("abc", "xyz", 2), None);
        assert_eq!(bounded_distance("", "ab", 2), Some(2));
        assert_eq!(bounded_distance("a", "abcdef", 2), None);
    }
}
