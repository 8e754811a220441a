//! A small shell-style wildcard matcher for symbol names: `*`, `?` and `[set]`
//! (`[a-z]`, `[!x]` or `[^x]`), and `\` to take the next character literally.

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    Star,
    /// Inclusive ranges, negated or not.
    Set(Vec<(u8, u8)>, bool),
}

/// A compiled wildcard.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles `pattern`, or says what is wrong with it.
    pub(crate) fn new(pattern: &str) -> Result<Self, &'static str> {
        let bytes = pattern.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            match b {
                b'*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                b'?' => tokens.push(Token::Any),
                b'\\' => {
                    let &next = bytes.get(i).ok_or("trailing `\\`")?;
                    i += 1;
                    tokens.push(Token::Byte(next));
                }
                b'[' => {
                    let negated = matches!(bytes.get(i), Some(b'!' | b'^'));
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let &c = bytes.get(i).ok_or("unclosed `[`")?;
                        i += 1;
                        if c == b']' && !first {
                            break;
                        }
                        first = false;
                        if bytes.get(i) == Some(&b'-')
                            && bytes.get(i + 1).is_some_and(|n| *n != b']')
                        {
                            let &hi = bytes.get(i + 1).ok_or("unclosed `[`")?;
                            if hi < c {
                                return Err("range out of order in `[…]`");
                            }
                            ranges.push((c, hi));
                            i += 2;
                        } else {
                            ranges.push((c, c));
                        }
                    }
                    tokens.push(Token::Set(ranges, negated));
                }
                _ => tokens.push(Token::Byte(b)),
            }
        }
        Ok(Self { tokens })
    }

    /// The literal bytes every match starts with.
    pub(crate) fn literal_prefix(&self) -> String {
        let bytes: Vec<u8> = self
            .tokens
            .iter()
            .map_while(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Whether `text` matches the whole pattern (iterative, with one backtrack point).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let text = text.as_bytes();
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        loop {
            if let Some(tok) = self.tokens.get(p) {
                if *tok == Token::Star {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                if let Some(&c) = text.get(t) {
                    let ok = match tok {
                        Token::Byte(b) => *b == c,
                        Token::Any => true,
                        Token::Set(ranges, negated) => {
                            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
                        }
                        Token::Star => false,
                    };
                    if ok {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            } else if t == text.len() {
                return true;
            }
            match star {
                Some((sp, st)) if st < text.len() => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().is_match(t)
    }

    #[test]
    fn wildcard_matching() {
        assert!(m("vfs_*", "vfs_read"));
        assert!(m("vfs_*", "vfs_"));
        assert!(!m("vfs_*", "do_vfs_read"));
        assert!(m("*read*", "vfs_readv"));
        assert!(m("vfs_rea?", "vfs_read"));
        assert!(!m("vfs_rea?", "vfs_readv"));
        assert!(m("vfs_[rw]*", "vfs_write"));
        assert!(!m("vfs_[!rw]*", "vfs_write"));
        assert!(m("x[a-c]", "xb"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxbxx"));
        assert!(m("[]]", "]"));
        assert!(m("**", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn bad_patterns() {
        assert!(Glob::new("vfs_[rw").is_err());
        assert!(Glob::new("a\\").is_err());
        assert!(Glob::new("[z-a]").is_err());
        assert!(Glob::new("vfs_*").unwrap().literal_prefix() == "vfs_");
    }
}
